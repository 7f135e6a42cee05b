//! Load drivers, latency histograms, targets and reports for qdrant-perf.
//!
//! Criterion answers "how fast is one operation"; this crate answers the deployment's questions
//! about sustained load. Latencies are recorded into HdrHistograms (bounded memory, 3 significant
//! digits), never into a sorted `Vec`, and every figure is reported beside its sample size.
//!
//! - [`driver`]: the open-loop (no coordinated omission) and closed-loop load driver over a
//!   [`driver::Target`]; [`target`] has the targets (any `Store`, an HTTP endpoint, a no-op);
//!   [`setup`] puts the collections in place the way the benches do.
//! - [`config`]: the deployment's performance-tests.yaml; [`checks`]: targets as data and the
//!   verdicts; [`validate`]: the per-collection and overall checks and the stress ramp.
//! - [`report`]: report.json, summary.md, metrics.prom and interval logs (the one `Report` of
//!   qdrant-perf-report, re-exported); [`merge`] sums the interval logs of several generators;
//!   [`resources`]: this process's CPU and memory over a run.
//!
//! It does not create datasets or talk to Qdrant itself: that is the data and store crates.
//!
//! The regression gate is qdrant-perf-gate ([`compare`] re-exports it). [`instructions`] counts
//! the instructions of the hot paths that need no server (under valgrind's callgrind), the
//! noise-free figure the tight gate uses.
//!
//! The tuning experiments (sweep, scale, plan) are `qdrant-perf-tune`.

pub mod compare;
pub mod config;
pub mod driver;
pub mod instructions;
pub mod machine;
pub mod merge;
pub mod report;
pub mod resources;
pub mod setup;
pub mod target;
pub mod validate;

/// Targets as data and the verdicts (in qdrant-perf-report).
pub use qdrant_perf_report::checks;
pub use qdrant_perf_report::{LatencySummary, latency_histogram};
