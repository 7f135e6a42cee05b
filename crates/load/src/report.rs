//! The run report lives in qdrant-perf-report; these are its paths as this crate's callers
//! know them.

pub use qdrant_perf_report::report::*;
pub use qdrant_perf_report::time::{compact_utc, utc_iso};
