//! qdrant-perf's regression gate: two saved measurements compared benchmark by benchmark, each
//! judged regressed, improved or unchanged by one rule (a threshold AND confidence intervals
//! apart; without intervals, the threshold alone).
//!
//! - [`compare`]: criterion baselines (criterion's own files), run reports of metrics
//!   ([`compare::RunReport`]: instruction counts and other exact figures), and the one run
//!   [`qdrant_perf_report::Report`] of `qdrant-perf load`/`stress`/`validate` (a report.json or
//!   its run directory), mapped to metrics per (operation, collection) by [`metrics`].
//! - [`callgrind`]: reads the instruction total from a callgrind output file.
//! - its page (`qdrant-perf report DIR_A DIR_B`) is qdrant-perf-render's `compare_page`.
//!
//! It only reads and judges: it runs nothing (the hot paths valgrind counts are run by
//! qdrant-perf-load), prints nothing and picks no exit code (the binary does), and depends on no
//! engine, so the gate builds without Qdrant.

pub mod callgrind;
pub mod compare;
pub mod metrics;

pub use compare::{
    Change, CompareError, Comparison, DEFAULT_THRESHOLD_PCT, Direction, Measurement, RunReport,
    Statistic, compare,
};
