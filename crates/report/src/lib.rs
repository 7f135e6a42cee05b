//! qdrant-perf's results as data: the one run [`Report`] that `load`, `stress` and `validate`
//! write (serde both ways, schema in docs/report-schema.md), the run figures it holds
//! ([`run`]), latency summaries ([`LatencySummary`]), targets and verdicts ([`checks`]), where a
//! result came from ([`Provenance`]), and its renderings: terminal text, Markdown and
//! Prometheus text ([`prom`] writes the exposition format, for metrics.prom and for
//! qdrant-perf-load's live endpoint). [`HostResources`] holds a server host's CPU and memory
//! over a run, as read from the deployment's monitoring (qdrant-perf-load's `host` fills it);
//! [`server`] what the server's nodes said, [`cache`] what the result cache did, and
//! [`intervals`] the interval log a run appends to its directory second by second (and the
//! partial report rebuilt from it). [`bench_summary`] keeps the `cargo bench` suites' recall and
//! setup beside criterion's estimates and renders the summary page of both.
//!
//! It also owns the two pieces of plumbing every crate shares: the one atomic file writer
//! ([`write_atomic`]) and the one `/proc` reader ([`proc`]: process CPU and RSS, load average,
//! memory, cores).
//!
//! It is not a load driver, a store or a dataset generator, and depends on no engine: no
//! qdrant-edge, no store or data crate. Reading, judging or rendering results (the regression
//! gate, `qdrant-perf compare`) therefore never compiles Qdrant.

pub mod bench_summary;
pub mod cache;
pub mod chart;
pub mod checks;
pub mod host;
pub mod html;
pub mod intervals;
pub mod latency;
pub mod margin;
pub mod proc;
pub mod prom;
pub mod provenance;
pub mod report;
pub mod report_html;
pub mod run;
pub mod server;
pub mod time;
pub mod units;
pub mod write;

pub use host::HostResources;
pub use latency::{LatencySummary, latency_histogram};
pub use provenance::{DatasetInfo, Machine, Provenance};
pub use report::{
    Rebuilt, Report, ReportError, SCHEMA, StressStep, StressSummary, TargetInfo, VerdictSummary,
    run_text, stress_text,
};
pub use run::{
    ErrorKind, LoadPlan, Mix, Mode, NodeStat, OpKind, OpStats, PlanError, RecallStat, Resources,
    RunResult, Second,
};
pub use units::human_bytes;
pub use write::write_atomic;
