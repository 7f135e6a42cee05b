//! qdrant-perf's results as data, and nothing else: the one run [`Report`] that `load`,
//! `stress` and `validate` write (serde both ways, versioned: schema in docs/report-schema.md),
//! the run figures it holds ([`run`]), latency summaries ([`LatencySummary`]) and their error
//! margins ([`margin`]), targets and verdicts ([`checks`]), where a result came from
//! ([`Provenance`]), a server host's CPU and memory over a run ([`HostResources`]), what the
//! server's nodes said ([`server`]) and what the result cache did ([`cache`]), the interval log a
//! run appends second by second and the partial report rebuilt from it ([`intervals`]), and
//! `cargo bench`'s quality records beside criterion's estimates ([`bench`]).
//!
//! It renders nothing (qdrant-perf-render draws text, Markdown, Prometheus text and HTML from
//! these types) and does no I/O beyond reading and writing its own files. It depends on no
//! engine: no qdrant-edge, no store or data crate, so reading and judging results (the
//! regression gate, `qdrant-perf compare`) never compiles Qdrant.

pub mod bench;
pub mod cache;
pub mod checks;
pub mod host;
pub mod intervals;
pub mod latency;
pub mod margin;
pub mod provenance;
pub mod report;
pub mod run;
pub mod server;
pub mod settle;
pub mod stream;

pub use host::{HostIo, HostResources, IoSecond};
pub use latency::{LatencySummary, latency_histogram};
pub use provenance::{DatasetInfo, Machine, Provenance};
pub use report::{
    Rebuilt, Report, ReportError, SCHEMA, StressStep, StressSummary, TargetInfo, VerdictSummary,
};
pub use run::{
    ErrorTally, LoadPlan, Mix, Mode, NodeStat, OpKind, OpStats, PlanError, RecallStat, Resources,
    RunResult, Second,
};
