//! qdrant-perf's load driver and the deployment verdict.
//!
//! Criterion answers "how fast is one operation"; this crate answers the deployment's questions
//! about sustained load. Latencies are recorded into HdrHistograms (bounded memory, 3 significant
//! digits), never into a sorted `Vec`, and every figure is reported beside its sample size.
//!
//! - [`driver`]: the open-loop (no coordinated omission) and closed-loop load driver over a
//!   [`driver::Target`]; [`target`] has the targets (any `Store`, an HTTP endpoint, a no-op);
//!   [`setup`] puts the collections in place (the one setup path, the benches' too) and drops
//!   what it created; [`stream`] searches while a collection grows (stages, recall against the
//!   acknowledged points, freshness).
//! - [`live`]: a run's figures as a Prometheus `/metrics` endpoint while it runs (fed once a
//!   second by the driver's collector).
//! - [`config`]: the deployment's performance-tests.yaml; [`validate`]: the per-collection and
//!   overall checks and the stress ramp.
//! - [`merge`] sums the interval logs of several generators; [`resources`]: this process's CPU
//!   and memory over a run; [`host`]: the server host's, from the deployment's Prometheus, a
//!   node_exporter or `/proc`; [`instructions`] counts the instructions of the hot paths that need
//!   no server (under valgrind's callgrind), the noise-free figure the tight gate uses.
//!
//! It is not the results model (the `Report`, checks and verdicts, provenance and the atomic
//! writer are qdrant-perf-report and qdrant-perf-plumbing), the regression gate (qdrant-perf-gate) or the tuning
//! experiments (qdrant-perf-tune), and it does not create datasets or talk to Qdrant itself:
//! that is the data and store crates.

pub mod churn;
pub mod config;
pub mod driver;
pub mod host;
pub mod http;
pub mod instructions;
pub mod live;
pub mod merge;
pub mod monitor;
pub mod resources;
pub mod runbook;
pub mod settle;
pub mod setup;
pub mod stream;
pub mod stream_churn;
pub mod target;
pub mod validate;

/// Locks `m`; a lock a panicking thread left poisoned is taken as it is (the figures it guards
/// stay usable).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
