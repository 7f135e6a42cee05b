//! The tuning experiments of qdrant-perf: what an index setting costs and buys, how the
//! collection grows, and how many nodes the deployment needs.
//!
//! - [`sweep`]: HNSW (m, ef_construct, ef) and quantization grids on any `Store`, with recall
//!   against exact truth, single- and multi-thread QPS and the recall-vs-QPS Pareto frontier;
//! - [`scale`]: the scalability curve — growing N, a free-memory check before each step, and
//!   fitted growth of latency and memory;
//! - [`plan`]: capacity plans per storage option from Qdrant's sizing rule and the suite's
//!   measurements;
//! - their SVG charts are drawn by `qdrant_perf_render::chart`.
//!
//! It does not drive load or judge the deployment's targets (that is `qdrant-perf-load`), and
//! it does not compare runs (that is the regression gate).

pub mod plan;
pub mod scale;
pub mod sweep;
