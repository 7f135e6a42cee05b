//! The run report: results are data first ([`Report`], serialised as `report.json`, schema in
//! docs/report-schema.md, read back with [`Report::load`]); the terminal text ([`run_text`]),
//! the Markdown summary and the Prometheus text are renderings of it. Every file is written
//! atomically ([`crate::write_atomic`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::LatencySummary;
use crate::checks::{self, Check, Verdict};
use crate::margin::with_margin;
use crate::provenance::Provenance;
use crate::report_html::{self, REPORT_HTML};
use crate::run::{RecallStat, RunResult};
use crate::time::compact_utc;
use crate::write_atomic;

/// Above this share of its cores, a load generator driving a server may itself be the
/// bottleneck (reports and validate's cpu_usage note warn).
pub const GENERATOR_BUSY_PCT: f64 = 70.0;

/// The `schema` field of report.json; bumped on incompatible changes.
pub const SCHEMA: &str = "qdrant-perf.report/2";

/// Reading or writing a report: each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read the report {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is not a qdrant-perf run report (report.json of `qdrant-perf load`, `stress` or `validate`)",
        path.display()
    )]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{} has schema {found:?}, this qdrant-perf reads {SCHEMA:?}: run it again with this version",
        path.display()
    )]
    Schema { path: PathBuf, found: String },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialise the report")]
    Serialise(#[source] serde_json::Error),
}

/// What a run drove.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `edge`, `grpc`, `rest`, `http` or `noop`.
    pub kind: String,
    /// The server or endpoint URL (never an API key).
    pub url: Option<String>,
    /// `qdrant-edge 0.7.2`, `qdrant 1.17.1`, or the HTTP endpoint's host.
    pub engine_version: Option<String>,
}

/// The stress ramp: each step's figures and the knee.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StressSummary {
    pub steps: Vec<StressStep>,
    /// The highest step rate (or concurrency) that still met the targets; `None` if none did.
    pub knee: Option<f64>,
    /// Throughput achieved at the knee step.
    pub knee_throughput_ops_s: Option<f64>,
    /// What ended the ramp.
    pub stopped_because: String,
}

/// One step of a stress ramp.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StressStep {
    /// Requested rate (open loop) or concurrency (closed loop).
    pub load: f64,
    pub throughput_ops_s: f64,
    /// 95 % interval of the step's throughput (see [`crate::margin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_ci: Option<crate::margin::Ci>,
    pub latency_ms: LatencySummary,
    pub errors: u64,
    pub met_targets: bool,
    pub why_not: Option<String>,
}

/// Counts of the verdicts and the exit code they give.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerdictSummary {
    pub passed: usize,
    pub failed: usize,
    pub not_run: usize,
    pub strict: bool,
    pub exit_code: u8,
}

impl VerdictSummary {
    /// `3 met, 1 missed, 0 not run: exit code 1.`
    pub fn sentence(&self) -> String {
        format!(
            "{} met, {} missed, {} not run{}: exit code {}.",
            self.passed,
            self.failed,
            self.not_run,
            if self.strict {
                " (--strict: not run counts as missed)"
            } else {
                ""
            },
            self.exit_code
        )
    }
}

/// A run report (`report.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    /// `load`, `stress` or `validate`.
    pub command: String,
    /// True when the run was stopped early (Ctrl-C); the figures cover what was measured.
    pub partial: bool,
    /// How `--quick` scaled sizes, rates and durations, when it did.
    pub quick: Option<String>,
    pub target: TargetInfo,
    /// Headline figures: the overall run (validate) or the only run (load).
    pub requested_rate: Option<f64>,
    pub throughput_ops_s: f64,
    /// 95 % interval of the headline throughput (see [`crate::margin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_ci: Option<crate::margin::Ci>,
    pub latency_ms: LatencySummary,
    pub errors: u64,
    pub error_rate: f64,
    pub recall_at_10: Option<RecallStat>,
    pub checks: Vec<Check>,
    pub verdict: Option<VerdictSummary>,
    pub runs: Vec<RunResult>,
    pub stress: Option<StressSummary>,
    /// How each collection was set up (dataset, build or reuse, seconds).
    pub setup: Vec<String>,
    /// The configuration the run used (the YAML file as parsed, and the options).
    pub config: serde_json::Value,
    pub provenance: Provenance,
    /// Set when `qdrant-perf report DIR` rebuilt this report from the run's interval log (the
    /// run ended without writing one); null otherwise.
    #[serde(default)]
    pub rebuilt: Option<Rebuilt>,
}

/// How a report was rebuilt from an interval log (see [`crate::intervals`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rebuilt {
    /// The log's file name in the run directory (`intervals.jsonl`).
    pub from: String,
    /// Completed seconds kept, over all runs.
    pub seconds_kept: usize,
    /// What was left out and why (a torn last line, an unclosed second).
    pub notes: Vec<String>,
}

impl Report {
    /// A report whose headline figures come from `headline` (the last run when `None`).
    pub fn new(
        command: &str,
        target: TargetInfo,
        runs: Vec<RunResult>,
        headline: Option<usize>,
    ) -> Self {
        let mut provenance = Provenance::capture();
        // `qdrant-edge 0.7.2` -> engine `qdrant-edge`, version `0.7.2`.
        match target.engine_version.as_deref().map(|v| v.split_once(' ')) {
            Some(Some((engine, version))) if target.kind != "http" => {
                provenance.engine = Some(engine.into());
                provenance.engine_version = Some(version.into());
            }
            _ => provenance.engine = Some(target.kind.clone()),
        }
        let h = headline
            .or(runs.len().checked_sub(1))
            .and_then(|i| runs.get(i));
        Self {
            schema: SCHEMA.into(),
            command: command.into(),
            partial: runs.iter().any(|r| r.partial),
            quick: None,
            target,
            requested_rate: h.and_then(|r| r.requested_rate),
            throughput_ops_s: h.map_or(0.0, |r| r.throughput_ops_s),
            throughput_ci: h.and_then(|r| r.throughput_ci),
            latency_ms: h.map_or_else(LatencySummary::default, |r| r.latency_ms.clone()),
            errors: h.map_or(0, |r| r.errors),
            error_rate: h.map_or(0.0, |r| r.error_rate),
            recall_at_10: h.and_then(|r| r.recall_at_10),
            checks: Vec::new(),
            verdict: None,
            runs,
            stress: None,
            setup: Vec::new(),
            config: serde_json::Value::Null,
            provenance,
            rebuilt: None,
        }
    }

    pub fn set_checks(&mut self, checks: Vec<Check>, strict: bool) {
        let (passed, failed, not_run) = checks::tally(&checks);
        self.verdict = Some(VerdictSummary {
            passed,
            failed,
            not_run,
            strict,
            exit_code: checks::exit_code(&checks, strict),
        });
        self.checks = checks;
    }

    /// `target/qdrant-perf/runs/<UTC timestamp>-<command>/`.
    pub fn default_dir(&self) -> PathBuf {
        Self::default_dir_for(&self.command)
    }

    /// The default run directory of a `command` starting now (see [`Report::default_dir`]).
    pub fn default_dir_for(command: &str) -> PathBuf {
        PathBuf::from("target/qdrant-perf/runs")
            .join(format!("{}-{command}", compact_utc(SystemTime::now())))
    }

    /// Writes report.json, summary.md, report.html ([`crate::report_html`]), metrics.prom and
    /// `histograms/<run>.hlog` (for each run that holds its interval log: a report read back
    /// from report.json holds none, and leaves the .hlog files as they are), each atomically;
    /// returns the files written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let json = serde_json::to_string_pretty(self).map_err(ReportError::Serialise)? + "\n";
        let mut files = vec![
            (dir.join("report.json"), json.into_bytes()),
            (dir.join("summary.md"), self.to_markdown().into_bytes()),
            (
                dir.join(REPORT_HTML),
                report_html::render(self, dir).into_bytes(),
            ),
            (dir.join("metrics.prom"), self.to_prometheus().into_bytes()),
        ];
        for r in self.runs.iter().filter(|r| !r.interval_log.is_empty()) {
            let path = dir
                .join("histograms")
                .join(format!("{}.hlog", file_name(&r.label)));
            files.push((path, r.interval_log.clone()));
        }
        write_files(files)
    }

    /// Rewrites summary.md and report.html from this report (what `qdrant-perf report DIR`
    /// does for a run that has its report.json); returns the files written.
    pub fn write_pages(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        write_files(vec![
            (dir.join("summary.md"), self.to_markdown().into_bytes()),
            (
                dir.join(REPORT_HTML),
                report_html::render(self, dir).into_bytes(),
            ),
        ])
    }

    /// What the run's command printed to the terminal: each run's figures (the ramp's steps
    /// and knee for `stress`), then the verdict table when there are checks.
    pub fn terminal_text(&self) -> String {
        let mut s = String::new();
        if let Some(rebuilt) = &self.rebuilt {
            let _ = writeln!(
                s,
                "PARTIAL: rebuilt from {} ({} complete seconds kept); the run ended without writing its report",
                rebuilt.from, rebuilt.seconds_kept
            );
            for n in &rebuilt.notes {
                let _ = writeln!(s, "  note: {n}");
            }
        }
        match &self.stress {
            Some(st) => s.push_str(&stress_text(st)),
            None => self.runs.iter().for_each(|r| s.push_str(&run_text(r))),
        }
        if !self.checks.is_empty() {
            s.push_str(&checks::table(&self.checks));
        } else if self.rebuilt.is_some() {
            let _ = writeln!(
                s,
                "no verdict: the checks are judged when a run ends, and this one did not"
            );
        }
        s
    }
    /// Reads a report: a report.json file, or a run directory that holds one.
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let file = if path.is_dir() {
            path.join("report.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| ReportError::Read {
            path: file.clone(),
            source,
        })?;
        Self::from_json(&text).map_err(|e| match e {
            ReportError::Parse { source, .. } => ReportError::Parse { path: file, source },
            ReportError::Schema { found, .. } => ReportError::Schema { path: file, found },
            other => other,
        })
    }

    /// Parses report.json text, refusing another schema version by name.
    pub fn from_json(text: &str) -> Result<Self, ReportError> {
        let parse = |source| ReportError::Parse {
            path: PathBuf::from("report.json"),
            source,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(parse)?;
        let found = value
            .get("schema")
            .and_then(|s| s.as_str())
            .unwrap_or("none");
        if found != SCHEMA {
            return Err(ReportError::Schema {
                path: PathBuf::from("report.json"),
                found: found.to_string(),
            });
        }
        serde_json::from_value(value).map_err(parse)
    }

    /// The Markdown summary a person reads.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# qdrant-perf {}{}\n",
            self.command,
            if self.partial {
                " (PARTIAL: stopped early, figures cover what was measured)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "Target: {}{}{}; {} on {} ({} cores), {}.\n",
            self.target.kind,
            self.target
                .url
                .as_ref()
                .map_or(String::new(), |u| format!(" {u}")),
            self.target
                .engine_version
                .as_ref()
                .map_or(String::new(), |v| format!(" ({v})")),
            self.provenance.suite_version,
            self.provenance
                .machine
                .cpu_model
                .as_deref()
                .unwrap_or("unknown CPU"),
            self.provenance.machine.cores,
            self.provenance.started_at
        );
        if let Some(q) = &self.quick {
            let _ = writeln!(s, "**Quick run:** {q}\n");
        }
        if let Some(r) = &self.rebuilt {
            let _ = writeln!(
                s,
                "**Partial, rebuilt from `{}`:** the run ended without writing its report; {} complete seconds kept, totals and percentiles merged from their histograms; no verdict.\n",
                r.from, r.seconds_kept
            );
            for n in &r.notes {
                let _ = writeln!(s, "- {n}");
            }
            if !r.notes.is_empty() {
                s.push('\n');
            }
        }
        if !self.checks.is_empty() {
            let _ = writeln!(s, "## Verdict\n");
            let _ = writeln!(s, "| check | collection | measured | limit | verdict |");
            let _ = writeln!(s, "|---|---|---|---|---|");
            for c in &self.checks {
                let verdict = match (&c.note, c.verdict) {
                    (Some(n), Verdict::NotRun) => format!("not run: {n}"),
                    (Some(n), v) => format!("**{v}** ({n})"),
                    (None, v) => format!("**{v}**"),
                };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    c.name,
                    c.collection,
                    c.measured_text(),
                    c.limit_text(),
                    verdict
                );
            }
            if let Some(v) = &self.verdict {
                let _ = writeln!(s, "\n{}\n", v.sentence());
            }
        }
        let _ = writeln!(s, "## Runs\n");
        let _ = writeln!(
            s,
            "| run | loop | requested | achieved ops/s | ok | errors | mean ms | p50 | p90 | p95 | p99 | p99.9 | max | recall@10 |"
        );
        let _ = writeln!(
            s,
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &self.runs {
            let l = &r.latency_ms;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.3} | {} | {} | {:.3} | {:.3} | {} |",
                r.label,
                match (r.requested_rate, r.concurrency) {
                    (Some(_), _) => "open",
                    _ => "closed",
                },
                match (r.requested_rate, r.concurrency) {
                    (Some(rate), _) => format!("{rate:.0}/s"),
                    (_, Some(c)) => format!("{c} workers"),
                    _ => "-".into(),
                },
                with_margin(r.throughput_ops_s, r.throughput_ci, 1),
                r.ok,
                r.errors,
                with_margin(l.mean_ms, l.ci.map(|c| c.mean_ms), 3),
                with_margin(l.p50_ms, l.ci.map(|c| c.p50_ms), 3),
                l.p90_ms,
                with_margin(l.p95_ms, l.ci.map(|c| c.p95_ms), 3),
                with_margin(l.p99_ms, l.ci.map(|c| c.p99_ms), 3),
                l.p999_ms,
                l.max_ms,
                r.recall_at_10
                    .map_or("-".into(), |x| format!("{:.4} (n={})", x.value, x.samples)),
            );
        }
        if self
            .runs
            .iter()
            .any(|r| r.latency_ms.ci.is_some() || r.throughput_ci.is_some())
        {
            let _ = writeln!(
                s,
                "\n`± x`: the 95 % confidence interval's half-width, by batch means over the run's seconds (docs/report-schema.md, \"Error margins\")."
            );
        }
        if self
            .runs
            .iter()
            .any(|r| r.operations.iter().any(|o| o.server_latency_ms.is_some()))
        {
            let _ = writeln!(
                s,
                "\n### Client and server time\n\nThe server's own time is what each response said (Qdrant's `time`); overhead is client minus server per request (network, gateway, client, and in open loop the wait before the send).\n"
            );
            let _ = writeln!(
                s,
                "| run | operation | n | client p50 / p95 / p99 ms | server p50 / p95 / p99 ms | overhead p50 / p95 / p99 ms |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|");
            let three =
                |l: &LatencySummary| format!("{:.3} / {:.3} / {:.3}", l.p50_ms, l.p95_ms, l.p99_ms);
            for r in &self.runs {
                for o in &r.operations {
                    let (Some(server), Some(overhead)) = (&o.server_latency_ms, &o.overhead_ms)
                    else {
                        continue;
                    };
                    let _ = writeln!(
                        s,
                        "| {} | {}/{} | {} | {} | {} (n={}) | {} |",
                        r.label,
                        o.op,
                        o.collection,
                        o.latency_ms.samples,
                        three(&o.latency_ms),
                        three(server),
                        server.samples,
                        three(overhead)
                    );
                }
            }
        }
        for r in &self.runs {
            if !r.errors_by_kind.is_empty() {
                let _ = writeln!(s, "\nErrors in `{}`:\n", r.label);
                for (k, e) in &r.errors_by_kind {
                    let _ = writeln!(s, "- {k}: {} (e.g. {})", e.count, e.example);
                }
            }
            if show_nodes(r) {
                let _ = writeln!(s, "\nNodes in `{}`:\n", r.label);
                let _ = writeln!(s, "| node | answered | errors | lost at | back at |");
                let _ = writeln!(s, "|---|---|---|---|---|");
                for n in &r.nodes {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} | {} |",
                        n.url,
                        n.ok,
                        n.errors_text(),
                        n.lost_at_s.map_or("-".into(), |t| format!("{t:.1} s")),
                        match (n.lost_at_s, n.back_at_s) {
                            (None, _) => "-".to_string(),
                            (Some(_), None) => "not back by the end".to_string(),
                            (Some(_), Some(t)) => format!("{t:.0} s"),
                        }
                    );
                }
                for lost in r.lost_nodes().filter_map(|n| n.lost_text()) {
                    let _ = writeln!(s, "\n**Node lost**: {lost}.");
                }
            }
            if r.in_flight_cap_hits > 0 {
                let _ = writeln!(
                    s,
                    "\n`{}`: {} requests not sent because {} were already in flight.",
                    r.label, r.in_flight_cap_hits, r.plan.in_flight_cap
                );
            }
            if let (Some(rate), Some(false)) = (r.requested_rate, r.rate_achieved) {
                let _ = writeln!(
                    s,
                    "\n`{}`: requested {rate:.0} ops/s, achieved {:.1} ops/s: not within 1 %.",
                    r.label, r.throughput_ops_s
                );
            }
        }
        if let Some(st) = &self.stress {
            let _ = writeln!(s, "\n## Stress ramp\n");
            let _ = writeln!(
                s,
                "| load | achieved ops/s | mean ms | p95 ms | p99 ms | errors | met |"
            );
            let _ = writeln!(s, "|---|---|---|---|---|---|---|");
            for step in &st.steps {
                let _ = writeln!(
                    s,
                    "| {:.0} | {:.1} | {:.3} | {:.3} | {:.3} | {} | {} |",
                    step.load,
                    step.throughput_ops_s,
                    step.latency_ms.mean_ms,
                    step.latency_ms.p95_ms,
                    step.latency_ms.p99_ms,
                    step.errors,
                    if step.met_targets {
                        "yes".to_string()
                    } else {
                        format!("no: {}", step.why_not.clone().unwrap_or_default())
                    }
                );
            }
            let _ = writeln!(
                s,
                "\nKnee: {}; {}.",
                st.knee
                    .map_or("none (the first step already missed)".into(), |k| format!(
                        "{k:.0}"
                    )),
                st.stopped_because
            );
        }
        if let Some(r) = self.runs.last() {
            let res = &r.resources;
            let _ = writeln!(
                s,
                "\n## Resources ({})\n\nCPU mean {} %, max {} % of {} cores; RSS max {} MB ({} % of memory){}; machine load average {}. Server telemetry: {}.",
                res.scope,
                res.cpu_pct_mean.map_or("-".into(), |v| format!("{v:.1}")),
                res.cpu_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
                res.cores,
                res.rss_bytes_max
                    .map_or("-".into(), |v| format!("{:.0}", v as f64 / 1048576.0)),
                res.memory_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
                rss_growth_text(res),
                res.load_average_1m
                    .map_or("-".into(), |v| format!("{v:.1}")),
                res.server
            );
        }
        if self
            .runs
            .iter()
            .any(|r| r.server.is_some() || r.host.is_some())
        {
            let _ = writeln!(
                s,
                "\n## Server side\n\nEach node's `/metrics`, read once a second during the recorded part (the per-second series are in report.json, `runs[].server`).\n"
            );
            for r in &self.runs {
                let host = r.host.iter().map(|h| h.describe());
                for line in host.chain(r.server.iter().flat_map(|side| side.describe())) {
                    let _ = writeln!(s, "- `{}`: {line}", r.label);
                }
            }
        }
        if self.runs.iter().any(|r| r.cache.is_some()) {
            let _ = writeln!(
                s,
                "\n## Cache\n\nOver the recorded part of each run; Redis's round trip once a second is in report.json (`runs[].cache.redis_latency`).\n"
            );
            for r in &self.runs {
                if let Some(cache) = &r.cache {
                    let _ = writeln!(s, "- `{}`: {}", r.label, cache.describe());
                }
            }
        }
        if !self.setup.is_empty() {
            let _ = writeln!(s, "\n## Setup\n");
            for n in &self.setup {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }

    /// The run's figures in the Prometheus text exposition format (metrics.prom): HELP and
    /// TYPE on every family, base units (`_seconds`, `_bytes`, ratios), `_total` on counters,
    /// label `run` on every series. The families that mean the same as the load generator's
    /// live endpoint (qdrant-perf-load's `live`) have its names: `qdrant_perf_requests_total`,
    /// `qdrant_perf_errors_total`, `qdrant_perf_errors_by_kind_total`,
    /// `qdrant_perf_latency_seconds`, `qdrant_perf_requested_rate_ops_per_second`,
    /// `qdrant_perf_elapsed_seconds`. Names and meanings: docs/report-schema.md.
    pub fn to_prometheus(&self) -> String {
        use crate::prom::{Exposition, MetricType};
        let mut e = Exposition::new();
        e.family(
            "qdrant_perf_query_latency_seconds",
            MetricType::Summary,
            "Latency of one collection's query operations (search, cached_search) over the run's recorded part; quantiles from an HdrHistogram (3 significant digits), _sum is mean x count. monitoring.metrics query_latency_p50/p95/p99 per collection.",
        );
        for r in &self.runs {
            let mut seen: Vec<&str> = Vec::new();
            for o in r.operations.iter().filter(|o| o.op.is_query()) {
                if seen.contains(&o.collection.as_str()) {
                    continue;
                }
                seen.push(&o.collection);
                let l = r.collection_latency(&o.collection);
                summary(
                    &mut e,
                    "qdrant_perf_query_latency_seconds",
                    &[("run", &r.label), ("collection", &o.collection)],
                    &l,
                );
            }
        }
        e.family(
            "qdrant_perf_run_query_latency_seconds",
            MetricType::Summary,
            "Latency of all query operations of the run together, every collection; quantiles from an HdrHistogram (3 significant digits), _sum is mean x count. monitoring.metrics query_latency_p50/p95/p99 of all collections.",
        );
        for r in &self.runs {
            summary(
                &mut e,
                "qdrant_perf_run_query_latency_seconds",
                &[("run", &r.label)],
                &r.latency_ms,
            );
        }
        e.family(
            "qdrant_perf_latency_seconds",
            MetricType::Summary,
            "Client-side latency of successful requests per operation and collection over the run's recorded part; quantiles from an HdrHistogram (3 significant digits), _sum is mean x count.",
        );
        for r in &self.runs {
            for o in &r.operations {
                summary(
                    &mut e,
                    "qdrant_perf_latency_seconds",
                    &[
                        ("run", &r.label),
                        ("op", o.op.name()),
                        ("collection", &o.collection),
                    ],
                    &o.latency_ms,
                );
            }
        }
        e.family(
            "qdrant_perf_requests_total",
            MetricType::Counter,
            "Successful requests per operation and collection in the run's recorded part.",
        );
        for r in &self.runs {
            for o in &r.operations {
                e.count(
                    "qdrant_perf_requests_total",
                    &[
                        ("run", &r.label),
                        ("op", o.op.name()),
                        ("collection", &o.collection),
                    ],
                    o.ok,
                );
            }
        }
        e.family(
            "qdrant_perf_errors_total",
            MetricType::Counter,
            "Failed requests per operation and collection in the run's recorded part.",
        );
        for r in &self.runs {
            for o in &r.operations {
                e.count(
                    "qdrant_perf_errors_total",
                    &[
                        ("run", &r.label),
                        ("op", o.op.name()),
                        ("collection", &o.collection),
                    ],
                    o.errors,
                );
            }
        }
        e.family(
            "qdrant_perf_errors_by_kind_total",
            MetricType::Counter,
            "Failed requests of the run by kind of error (http 500, timeout, connect, not sent: in-flight cap, unanswered, ...).",
        );
        for r in &self.runs {
            for (kind, k) in &r.errors_by_kind {
                e.count(
                    "qdrant_perf_errors_by_kind_total",
                    &[("run", &r.label), ("kind", kind)],
                    k.count,
                );
            }
        }
        e.family(
            "qdrant_perf_run_throughput_ops_per_second",
            MetricType::Gauge,
            "Completed operations per second over the run: successful requests / elapsed seconds (monitoring.metrics throughput_qps).",
        );
        for r in &self.runs {
            e.sample(
                "qdrant_perf_run_throughput_ops_per_second",
                &[("run", &r.label)],
                r.throughput_ops_s,
            );
        }
        e.family(
            "qdrant_perf_requested_rate_ops_per_second",
            MetricType::Gauge,
            "Open loop: the request rate asked for (closed-loop runs have none).",
        );
        for r in &self.runs {
            if let Some(rate) = r.requested_rate {
                e.sample(
                    "qdrant_perf_requested_rate_ops_per_second",
                    &[("run", &r.label)],
                    rate,
                );
            }
        }
        e.family(
            "qdrant_perf_error_ratio",
            MetricType::Gauge,
            "Failed operations as a fraction of all operations of the run (monitoring.metrics error_rate).",
        );
        for r in &self.runs {
            e.sample(
                "qdrant_perf_error_ratio",
                &[("run", &r.label)],
                r.error_rate,
            );
        }
        e.family(
            "qdrant_perf_elapsed_seconds",
            MetricType::Gauge,
            "Seconds measured: from the first recorded request's due time (or start) to the last completion.",
        );
        for r in &self.runs {
            e.sample(
                "qdrant_perf_elapsed_seconds",
                &[("run", &r.label)],
                r.elapsed_s,
            );
        }
        e.family(
            "qdrant_perf_process_cpu_usage_ratio",
            MetricType::Gauge,
            "Mean CPU use of this process over the run as a fraction of the whole machine (all cores; 1 = every core busy): the embedded engine and driver, or against a server the client only (monitoring.metrics cpu_usage, there in percent).",
        );
        for r in &self.runs {
            if let Some(v) = r.resources.cpu_pct_mean {
                e.sample(
                    "qdrant_perf_process_cpu_usage_ratio",
                    &[("run", &r.label)],
                    v / 100.0,
                );
            }
        }
        e.family(
            "qdrant_perf_process_resident_memory_max_bytes",
            MetricType::Gauge,
            "Highest resident memory of this process seen during the run (monitoring.metrics memory_usage).",
        );
        for r in &self.runs {
            if let Some(v) = r.resources.rss_bytes_max {
                e.count(
                    "qdrant_perf_process_resident_memory_max_bytes",
                    &[("run", &r.label)],
                    v,
                );
            }
        }
        e.comment("monitoring.metrics disk_io: not collected");
        e.comment("monitoring.metrics network_io: not collected");
        e.finish()
    }
}

/// Writes each (path, bytes) atomically, in order; returns the paths.
fn write_files(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    for (path, bytes) in files {
        write_atomic(&path, &bytes).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// A stress ramp as `qdrant-perf stress` prints it: one line per step, then the knee.
pub fn stress_text(st: &StressSummary) -> String {
    let mut s = String::new();
    for step in &st.steps {
        let _ = writeln!(
            s,
            "step {:>8.0}: achieved {:>9.1} ops/s, mean {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, errors {} -> {}",
            step.load,
            step.throughput_ops_s,
            step.latency_ms.mean_ms,
            step.latency_ms.p95_ms,
            step.latency_ms.p99_ms,
            step.errors,
            if step.met_targets {
                "met".to_string()
            } else {
                format!("missed: {}", step.why_not.clone().unwrap_or_default())
            }
        );
    }
    let _ = writeln!(
        s,
        "knee: {} ({}); {}",
        st.knee.map_or("none".into(), |k| format!("{k:.0}")),
        st.knee_throughput_ops_s
            .map_or("-".into(), |o| format!("{o:.1} ops/s")),
        st.stopped_because
    );
    s
}

/// One summary series of a [`LatencySummary`] (milliseconds) in seconds: the quantiles
/// [`crate::prom::SUMMARY_QUANTILES`], `_sum` = mean x samples, `_count` = samples; `NaN`
/// quantiles without samples.
fn summary(
    e: &mut crate::prom::Exposition,
    name: &str,
    labels: &[(&str, &str)],
    l: &LatencySummary,
) {
    let s = |ms: f64| {
        if l.samples == 0 {
            f64::NAN
        } else {
            ms / 1000.0
        }
    };
    // The figures of crate::prom::SUMMARY_QUANTILES (a unit test keeps the two in step).
    let quantiles = [
        (0.5, s(l.p50_ms)),
        (0.9, s(l.p90_ms)),
        (0.95, s(l.p95_ms)),
        (0.99, s(l.p99_ms)),
        (0.999, s(l.p999_ms)),
    ];
    e.summary(
        name,
        labels,
        &quantiles,
        l.mean_ms * l.samples as f64 / 1000.0,
        l.samples,
    );
}

/// One run as text for a terminal: rates, counts, latency per operation, recall, driver lag,
/// resources.
pub fn run_text(r: &RunResult) -> String {
    let mut s = String::new();
    let mode = match (r.requested_rate, r.concurrency) {
        (Some(rate), _) => format!("open loop at {rate:.0}/s"),
        (_, Some(c)) => format!("closed loop, {c} workers"),
        _ => "-".into(),
    };
    let _ = writeln!(
        s,
        "{}: {mode}, {:.1} s measured{}",
        r.label,
        r.elapsed_s,
        if r.partial {
            " (PARTIAL: stopped early)"
        } else {
            ""
        }
    );
    match (r.requested_rate, r.rate_achieved) {
        (Some(rate), Some(true)) => {
            let _ = writeln!(
                s,
                "  requested {rate:.0} ops/s, achieved {} ops/s: within 1 %",
                with_margin(r.throughput_ops_s, r.throughput_ci, 1)
            );
        }
        (Some(rate), _) => {
            let _ = writeln!(
                s,
                "  requested {rate:.0} ops/s, achieved {} ops/s: COULD NOT sustain the requested rate (off by {:.1} %)",
                with_margin(r.throughput_ops_s, r.throughput_ci, 1),
                (r.throughput_ops_s - rate) / rate * 100.0
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "  throughput {} ops/s",
                with_margin(r.throughput_ops_s, r.throughput_ci, 1)
            );
        }
    }
    let _ = writeln!(
        s,
        "  sent {}, ok {}, errors {} ({:.3} %)",
        r.sent,
        r.ok,
        r.errors,
        r.error_rate * 100.0
    );
    for (k, e) in &r.errors_by_kind {
        let _ = writeln!(s, "    {k}: {} (e.g. {})", e.count, e.example);
    }
    if show_nodes(r) {
        for n in &r.nodes {
            let _ = writeln!(
                s,
                "  node {}: answered {}, errors {}",
                n.url,
                n.ok,
                n.errors_text()
            );
        }
        for lost in r.lost_nodes().filter_map(|n| n.lost_text()) {
            let _ = writeln!(s, "  NODE LOST: {lost}");
        }
    }
    let _ = writeln!(
        s,
        "  {:<26} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "latency ms", "n", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    let line = |s: &mut String, name: &str, l: &LatencySummary| {
        let _ = writeln!(
            s,
            "  {:<26} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.3}",
            name, l.samples, l.mean_ms, l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms
        );
        // The 95 % margins, each under its figure.
        if let Some(ci) = &l.ci {
            let pm = |c: crate::margin::Ci| format!("±{:.3}", c.half_width());
            let _ = writeln!(
                s,
                "  {:<26} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
                format!("  ± 95 % ({}×{:.0} s)", ci.batches, ci.batch_s),
                "",
                pm(ci.mean_ms),
                pm(ci.p50_ms),
                "",
                pm(ci.p95_ms),
                pm(ci.p99_ms),
            );
        }
    };
    for o in &r.operations {
        line(&mut s, &format!("{}/{}", o.op, o.collection), &o.latency_ms);
        if let (Some(server), Some(overhead)) = (&o.server_latency_ms, &o.overhead_ms) {
            line(&mut s, "  server's own time", server);
            line(&mut s, "  client - server", overhead);
        }
    }
    if r.operations.len() > 1 {
        line(&mut s, "all queries", &r.latency_ms);
        if let (Some(server), Some(overhead)) = (&r.server_latency_ms, &r.overhead_ms) {
            line(&mut s, "  server's own time", server);
            line(&mut s, "  client - server", overhead);
        }
    }
    if let Some(rc) = r.recall_at_10 {
        let _ = writeln!(
            s,
            "  recall@10 {:.4} over {} searches (exact ground truth)",
            rc.value, rc.samples
        );
    }
    if let Some(lag) = &r.send_lag_ms {
        let _ = writeln!(
            s,
            "  driver: sends late by p99 {:.3} ms, max {:.3} ms; at most {} in flight{}",
            lag.p99_ms,
            lag.max_ms,
            r.max_in_flight,
            if r.in_flight_cap_hits > 0 {
                format!("; {} NOT SENT at the in-flight cap", r.in_flight_cap_hits)
            } else {
                String::new()
            }
        );
    }
    let res = &r.resources;
    let _ = writeln!(
        s,
        "  resources ({}): CPU mean {} %, max {} % of {} cores; RSS max {} MB{}; machine load average {}; server: {}",
        res.scope,
        res.cpu_pct_mean.map_or("-".into(), |v| format!("{v:.1}")),
        res.cpu_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
        res.cores,
        res.rss_bytes_max
            .map_or("-".into(), |v| format!("{:.0}", v as f64 / 1048576.0)),
        rss_growth_text(res),
        res.load_average_1m
            .map_or("-".into(), |v| format!("{v:.1}")),
        res.server
    );
    if let Some(l) = res.load_average_1m
        && l > res.cores as f64
    {
        let _ = writeln!(
            s,
            "  note: the machine's load average ({l:.1}) exceeds its {} cores: other processes competed for the CPU during this run",
            res.cores
        );
    }
    if let Some(h) = &r.host {
        let _ = writeln!(s, "  {}", h.describe());
    }
    if let (Some(g), true) = (res.cpu_pct_mean, r.server.is_some() || r.host.is_some())
        && g > GENERATOR_BUSY_PCT
    {
        let _ = writeln!(
            s,
            "  WARNING: the load generator used {g:.0} % of its {} cores: it, not the server, may be the bottleneck",
            res.cores
        );
    }
    for line in r.server.iter().flat_map(|side| side.describe()) {
        let _ = writeln!(s, "  {line}");
    }
    if let Some(cache) = &r.cache {
        let _ = writeln!(s, "  {}", cache.describe());
    }
    s
}

/// A run label as a file name.
fn file_name(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `, RSS 70 -> 75 MB, growth +0.42 MB/min` when the run was long enough to say.
fn rss_growth_text(res: &crate::run::Resources) -> String {
    match (
        res.rss_bytes_first,
        res.rss_bytes_last,
        res.rss_growth_mb_per_min,
    ) {
        (Some(a), Some(b), Some(g)) => format!(
            ", RSS {:.0} -> {:.0} MB, growth {g:+.2} MB/min",
            a as f64 / 1048576.0,
            b as f64 / 1048576.0
        ),
        _ => String::new(),
    }
}

/// The per-node figures are shown for a cluster (several nodes), or when a node was lost.
pub(crate) fn show_nodes(r: &RunResult) -> bool {
    r.nodes.len() > 1 || r.lost_nodes().next().is_some()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn run_with_two_operations() -> RunResult {
        use crate::run::{ErrorKind, LoadPlan, OpKind, OpStats, Resources};
        let op = |collection: &str, op, ok, errors, p50_ms| OpStats {
            collection: collection.into(),
            op,
            latency_ms: LatencySummary {
                samples: ok,
                mean_ms: p50_ms,
                p50_ms,
                p90_ms: p50_ms * 1.5,
                p95_ms: p50_ms * 2.0,
                p99_ms: p50_ms * 4.0,
                p999_ms: p50_ms * 8.0,
                max_ms: p50_ms * 10.0,
                ci: None,
            },
            ok,
            errors,
            throughput_ops_s: ok as f64 / 10.0,
            throughput_ci: None,
            recall_at_10: None,
            histogram: crate::latency_histogram(),
            server_latency_ms: None,
            overhead_ms: None,
            server_histogram: crate::latency_histogram(),
            overhead_histogram: crate::latency_histogram(),
        };
        let operations = vec![
            op("odd \"name\"\\\n", OpKind::Search, 1000, 3, 2.0),
            op("c2", OpKind::Upsert, 500, 0, 4.0),
        ];
        let mut errors_by_kind = BTreeMap::new();
        errors_by_kind.insert(
            "http 500".to_string(),
            ErrorKind {
                count: 2,
                example: "boom".into(),
            },
        );
        errors_by_kind.insert(
            "timeout".to_string(),
            ErrorKind {
                count: 1,
                example: "late".into(),
            },
        );
        RunResult {
            label: "r1".into(),
            plan: LoadPlan::open(150.0, std::time::Duration::from_secs(10)),
            requested_rate: Some(150.0),
            concurrency: None,
            partial: false,
            elapsed_s: 10.0,
            sent: 1503,
            ok: 1500,
            errors: 3,
            error_rate: 3.0 / 1503.0,
            errors_by_kind,
            nodes: Vec::new(),
            throughput_ops_s: 150.0,
            throughput_ci: None,
            rate_achieved: Some(true),
            latency_ms: operations[0].latency_ms.clone(),
            operations,
            recall_at_10: None,
            send_lag_ms: None,
            max_in_flight: 4,
            in_flight_cap_hits: 0,
            timeline: Vec::new(),
            resources: Resources {
                cpu_pct_mean: Some(42.5),
                rss_bytes_max: Some(123_456_789),
                ..Resources::default()
            },
            server_latency_ms: None,
            overhead_ms: None,
            server: None,
            cache: None,
            host: None,
            interval_log: Vec::new(),
        }
    }

    #[test]
    fn metrics_prom_follows_the_exposition_format_conventions_and_promtool_accepts_it() {
        let target = TargetInfo {
            kind: "noop".into(),
            url: None,
            engine_version: None,
        };
        let r = Report::new(
            "load",
            target.clone(),
            vec![run_with_two_operations()],
            None,
        );
        let prom = r.to_prometheus();
        // Every family has HELP and TYPE; counters end in _total, nothing is in milliseconds.
        let types: Vec<&str> = prom.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        let helps = prom.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(types.len(), helps, "{prom}");
        for t in &types {
            let (name, ty) = t["# TYPE ".len()..].split_once(' ').unwrap();
            assert!(name.starts_with("qdrant_perf_"), "{t}");
            assert_eq!(ty == "counter", name.ends_with("_total"), "{t}");
            assert!(!name.contains("_ms") && !name.contains("milli"), "{t}");
        }
        // The figures, in base units, with escaped label values.
        let odd = r#"collection="odd \"name\"\\\n""#;
        for line in [
            format!(r#"qdrant_perf_requests_total{{run="r1",op="search",{odd}}} 1000"#),
            format!(r#"qdrant_perf_errors_total{{run="r1",op="search",{odd}}} 3"#),
            r#"qdrant_perf_requests_total{run="r1",op="upsert",collection="c2"} 500"#.into(),
            r#"qdrant_perf_errors_by_kind_total{run="r1",kind="http 500"} 2"#.into(),
            r#"qdrant_perf_errors_by_kind_total{run="r1",kind="timeout"} 1"#.into(),
            format!(r#"qdrant_perf_query_latency_seconds{{run="r1",{odd},quantile="0.5"}} 0.002"#),
            format!(r#"qdrant_perf_query_latency_seconds{{run="r1",{odd},quantile="0.99"}} 0.008"#),
            format!(r#"qdrant_perf_query_latency_seconds_count{{run="r1",{odd}}} 1000"#),
            format!(r#"qdrant_perf_query_latency_seconds_sum{{run="r1",{odd}}} 2"#),
            r#"qdrant_perf_run_query_latency_seconds{run="r1",quantile="0.95"} 0.004"#.into(),
            r#"qdrant_perf_latency_seconds{run="r1",op="upsert",collection="c2",quantile="0.5"} 0.004"#.into(),
            r#"qdrant_perf_latency_seconds_count{run="r1",op="upsert",collection="c2"} 500"#.into(),
            r#"qdrant_perf_run_throughput_ops_per_second{run="r1"} 150"#.into(),
            r#"qdrant_perf_requested_rate_ops_per_second{run="r1"} 150"#.into(),
            r#"qdrant_perf_elapsed_seconds{run="r1"} 10"#.into(),
            r#"qdrant_perf_process_cpu_usage_ratio{run="r1"} 0.425"#.into(),
            r#"qdrant_perf_process_resident_memory_max_bytes{run="r1"} 123456789"#.into(),
        ] {
            assert!(prom.lines().any(|l| l == line), "{line}\nnot in\n{prom}");
        }
        assert!(
            prom.contains(&format!(
                "qdrant_perf_error_ratio{{run=\"r1\"}} {}",
                3.0 / 1503.0
            )),
            "{prom}"
        );
        // Each summary series has the quantiles of prom::SUMMARY_QUANTILES, in order.
        let quantiles: Vec<String> = prom
            .lines()
            .filter(|l| l.starts_with("qdrant_perf_run_query_latency_seconds{"))
            .map(|l| {
                l.split("quantile=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let want: Vec<String> = crate::prom::SUMMARY_QUANTILES
            .iter()
            .map(|q| q.to_string())
            .collect();
        assert_eq!(quantiles, want);
        let empty = Report::new("load", target, Vec::new(), None).to_prometheus();
        for text in [&prom, &empty] {
            match crate::prom::promtool_check(text) {
                None => return println!("skipped: {}", crate::prom::PROMTOOL_MISSING),
                Some(checked) => checked.unwrap(),
            }
        }
    }

    #[test]
    fn a_report_of_another_schema_is_refused_naming_both_versions() {
        let err = Report::from_json(r#"{"schema": "qdrant-perf.report/1", "command": "load"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("qdrant-perf.report/1"), "{err}");
        assert!(err.contains(SCHEMA), "{err}");
        let err = Report::from_json("[1, 2]").unwrap_err().to_string();
        assert!(err.contains("none"), "{err}");
    }

    #[test]
    fn an_empty_report_round_trips_and_renders() {
        let mut r = Report::new(
            "load",
            TargetInfo {
                kind: "edge".into(),
                url: None,
                engine_version: Some("qdrant-edge 0.7.2".into()),
            },
            Vec::new(),
            None,
        );
        assert_eq!(r.provenance.engine.as_deref(), Some("qdrant-edge"));
        assert_eq!(r.provenance.engine_version.as_deref(), Some("0.7.2"));
        r.set_checks(
            vec![Check::measured(
                "latency_p95",
                "overall",
                25.0,
                "ms",
                checks::Bound::Below,
                20.0,
                10,
            )],
            false,
        );
        let dir = tempfile::tempdir().unwrap();
        let written = r.write(dir.path()).unwrap();
        assert_eq!(written.len(), 4);
        assert!(written.contains(&dir.path().join("report.html")));
        let back = Report::load(dir.path()).unwrap();
        assert_eq!(back.verdict.as_ref().map(|v| v.exit_code), Some(1));
        assert_eq!(back.checks, r.checks);
        assert_eq!(back.provenance, r.provenance);
        assert!(back.to_markdown().contains("MISSED"));
        let err = Report::load(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.json"), "{err}");
    }

    #[test]
    fn a_lost_node_is_named_with_its_second_in_text_markdown_and_json_and_missed_in_the_verdict() {
        use crate::run::NodeStat;
        let node = |url: &str, ok, errors: u64, lost| NodeStat {
            url: url.into(),
            ok,
            errors,
            errors_by_kind: if errors > 0 {
                [("unreachable".to_string(), errors)].into()
            } else {
                BTreeMap::new()
            },
            lost_at_s: lost,
            back_at_s: None,
        };
        let mut r = run_with_two_operations();
        r.nodes = vec![
            node("http://a:1", 600, 0, None),
            node("http://b:2", 300, 3, Some(4.3)),
            node("http://c:3", 600, 0, None),
        ];
        let text = run_text(&r);
        assert!(
            text.contains("  node http://b:2: answered 300, errors 3 (unreachable 3)"),
            "{text}"
        );
        assert!(
            text.contains("  node http://a:1: answered 600, errors 0"),
            "{text}"
        );
        assert!(
            text.contains("NODE LOST: http://b:2 lost at 4.3 s, not back by the end"),
            "{text}"
        );
        let served = checks::all_nodes_served(&r).unwrap();
        assert_eq!(
            (served.verdict, served.measured, served.samples),
            (Verdict::Failed, Some(1.0), Some(3))
        );
        assert_eq!(
            served.note.as_deref(),
            Some("http://b:2 lost at 4.3 s, not back by the end")
        );
        assert_eq!(
            checks::errors_by_node_note(&r).as_deref(),
            Some("errors by node: http://b:2 3 (unreachable 3)")
        );
        r.nodes[1].back_at_s = Some(9.0);
        let served = checks::all_nodes_served(&r).unwrap();
        assert_eq!(
            served.note.as_deref(),
            Some("http://b:2 lost at 4.3 s, back at 9 s")
        );
        let mut report = Report::new(
            "load",
            TargetInfo {
                kind: "grpc".into(),
                url: None,
                engine_version: None,
            },
            vec![r.clone()],
            None,
        );
        report.set_checks(vec![served], false);
        assert_eq!(report.verdict.as_ref().unwrap().exit_code, 1);
        let md = report.to_markdown();
        assert!(
            md.contains("| http://b:2 | 300 | 3 (unreachable 3) | 4.3 s | 9 s |"),
            "{md}"
        );
        assert!(md.contains("| http://a:1 | 600 | 0 | - | - |"), "{md}");
        assert!(
            md.contains("**Node lost**: http://b:2 lost at 4.3 s, back at 9 s."),
            "{md}"
        );
        // JSON: the nodes round-trip; a report.json from before they existed still reads.
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["runs"][0]["nodes"][1]["lost_at_s"], 4.3);
        assert!(json["runs"][0]["nodes"][0].get("lost_at_s").is_none());
        let back = Report::from_json(&json.to_string()).unwrap();
        assert_eq!(back.runs[0].nodes, r.nodes);
        let mut old = json.clone();
        old["runs"][0].as_object_mut().unwrap().remove("nodes");
        let back = Report::from_json(&old.to_string()).unwrap();
        assert!(back.runs[0].nodes.is_empty());
        // No node lost: met. One node, or none named: no such check, and no node lines.
        for n in &mut r.nodes {
            n.lost_at_s = None;
        }
        assert_eq!(
            checks::all_nodes_served(&r).unwrap().verdict,
            Verdict::Passed
        );
        r.nodes.truncate(1);
        assert!(checks::all_nodes_served(&r).is_none());
        assert!(!run_text(&r).contains("node http"), "{}", run_text(&r));
        r.nodes.clear();
        assert!(checks::all_nodes_served(&r).is_none());
        assert_eq!(checks::errors_by_node_note(&r), None);
    }
}
