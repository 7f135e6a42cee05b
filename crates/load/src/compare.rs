//! The regression gate lives in qdrant-perf-gate; this is its path as this crate's callers know
//! it.

pub use qdrant_perf_gate::compare::*;
