//! Run reports: results are data first ([`Report`], serialised as `report.json`, schema in
//! docs/report-schema.md); the Markdown summary, the Prometheus text and the HdrHistogram
//! interval logs are renderings of it. Every file is written to a temporary name and renamed
//! into place.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::LatencySummary;
use crate::checks::{self, Check, Verdict};
use crate::driver::{RecallStat, RunResult};
use crate::resources;

/// The `schema` field of report.json; bump on incompatible changes.
pub const SCHEMA: &str = "qdrant-perf.report/1";

/// What a run drove.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TargetInfo {
    /// `edge`, `grpc`, `rest`, `http` or `noop`.
    pub kind: String,
    /// The server or endpoint URL (never an API key).
    pub url: Option<String>,
    /// `qdrant-edge 0.7.2`, `qdrant 1.17.1`, or the HTTP endpoint's host.
    pub engine_version: Option<String>,
}

/// Where and when a report was made.
#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    pub suite_version: String,
    pub git_commit: Option<String>,
    pub hostname: Option<String>,
    pub os: String,
    pub cpu_model: Option<String>,
    pub cores: usize,
    pub memory_total_bytes: Option<u64>,
    pub started_at: String,
}

impl Environment {
    pub fn capture() -> Self {
        let git_commit = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        });
        Self {
            suite_version: env!("CARGO_PKG_VERSION").into(),
            git_commit,
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpu_model,
            cores: resources::cores(),
            memory_total_bytes: crate::machine::mem_total_bytes(),
            started_at: utc_iso(SystemTime::now()),
        }
    }
}

/// The stress ramp: each step's figures and the knee.
#[derive(Clone, Debug, Serialize)]
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
#[derive(Clone, Debug, Serialize)]
pub struct StressStep {
    /// Requested rate (open loop) or concurrency (closed loop).
    pub load: f64,
    pub throughput_ops_s: f64,
    pub latency_ms: LatencySummary,
    pub errors: u64,
    pub met_targets: bool,
    pub why_not: Option<String>,
}

/// Counts of the verdicts and the exit code they give.
#[derive(Clone, Debug, Serialize)]
pub struct VerdictSummary {
    pub passed: usize,
    pub failed: usize,
    pub not_run: usize,
    pub strict: bool,
    pub exit_code: u8,
}

/// A run report (`report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
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
    pub environment: Environment,
}

impl Report {
    /// A report whose headline figures come from `headline` (the last run when `None`).
    pub fn new(
        command: &str,
        target: TargetInfo,
        runs: Vec<RunResult>,
        headline: Option<usize>,
    ) -> Self {
        let h = headline
            .or(runs.len().checked_sub(1))
            .and_then(|i| runs.get(i));
        Self {
            schema: SCHEMA,
            command: command.into(),
            partial: runs.iter().any(|r| r.partial),
            quick: None,
            target,
            requested_rate: h.and_then(|r| r.requested_rate),
            throughput_ops_s: h.map_or(0.0, |r| r.throughput_ops_s),
            latency_ms: h.map_or_else(
                || LatencySummary::from_histogram(&crate::latency_histogram()),
                |r| r.latency_ms.clone(),
            ),
            errors: h.map_or(0, |r| r.errors),
            error_rate: h.map_or(0.0, |r| r.error_rate),
            recall_at_10: h.and_then(|r| r.recall_at_10),
            checks: Vec::new(),
            verdict: None,
            runs,
            stress: None,
            setup: Vec::new(),
            config: serde_json::Value::Null,
            environment: Environment::capture(),
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
        PathBuf::from("target/qdrant-perf/runs").join(format!(
            "{}-{}",
            compact_utc(SystemTime::now()),
            self.command
        ))
    }

    /// Writes report.json, summary.md, metrics.prom and `histograms/<run>.hlog`, each atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir.join("histograms"))?;
        let mut written = Vec::new();
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n";
        written.push(write_atomic(&dir.join("report.json"), json.as_bytes())?);
        written.push(write_atomic(
            &dir.join("summary.md"),
            self.to_markdown().as_bytes(),
        )?);
        written.push(write_atomic(
            &dir.join("metrics.prom"),
            self.to_prometheus().as_bytes(),
        )?);
        for r in &self.runs {
            let path = dir
                .join("histograms")
                .join(format!("{}.hlog", file_name(&r.label)));
            written.push(write_atomic(&path, &r.interval_log)?);
        }
        Ok(written)
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
            self.environment.suite_version,
            self.environment
                .cpu_model
                .as_deref()
                .unwrap_or("unknown CPU"),
            self.environment.cores,
            self.environment.started_at
        );
        if let Some(q) = &self.quick {
            let _ = writeln!(s, "**Quick run:** {q}\n");
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
                let _ = writeln!(
                    s,
                    "\n{} met, {} missed, {} not run{}: exit code {}.\n",
                    v.passed,
                    v.failed,
                    v.not_run,
                    if v.strict {
                        " (--strict: not run counts as missed)"
                    } else {
                        ""
                    },
                    v.exit_code
                );
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
                "| {} | {} | {} | {:.1} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
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
                r.throughput_ops_s,
                r.ok,
                r.errors,
                l.mean_ms,
                l.p50_ms,
                l.p90_ms,
                l.p95_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms,
                r.recall_at_10
                    .map_or("-".into(), |x| format!("{:.4} (n={})", x.value, x.samples)),
            );
        }
        for r in &self.runs {
            if !r.errors_by_kind.is_empty() {
                let _ = writeln!(s, "\nErrors in `{}`:\n", r.label);
                for (k, e) in &r.errors_by_kind {
                    let _ = writeln!(s, "- {k}: {} (e.g. {})", e.count, e.example);
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
                "\n## Resources ({})\n\nCPU mean {} %, max {} % of {} cores; RSS max {} MB ({} % of memory); machine load average {}. Server telemetry: {}.",
                res.scope,
                res.cpu_pct_mean.map_or("-".into(), |v| format!("{v:.1}")),
                res.cpu_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
                res.cores,
                res.rss_bytes_max
                    .map_or("-".into(), |v| format!("{:.0}", v as f64 / 1048576.0)),
                res.memory_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
                res.load_average_1m
                    .map_or("-".into(), |v| format!("{v:.1}")),
                res.server
            );
        }
        if !self.setup.is_empty() {
            let _ = writeln!(s, "\n## Setup\n");
            for n in &self.setup {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }

    /// Prometheus text exposition of the seed's monitoring metrics, per run and collection.
    pub fn to_prometheus(&self) -> String {
        let mut s = String::new();
        let gauge = |s: &mut String, name: &str, help: &str| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge");
        };
        for (q, name) in [
            (0.5, "query_latency_p50"),
            (0.95, "query_latency_p95"),
            (0.99, "query_latency_p99"),
        ] {
            gauge(
                &mut s,
                name,
                &format!(
                    "Query latency, {:.0}th percentile, milliseconds.",
                    q * 100.0
                ),
            );
            for r in &self.runs {
                let l = &r.latency_ms;
                let v = match name {
                    "query_latency_p50" => l.p50_ms,
                    "query_latency_p95" => l.p95_ms,
                    _ => l.p99_ms,
                };
                let _ = writeln!(s, "{name}{{run=\"{}\",collection=\"all\"}} {v}", r.label);
                let mut seen = Vec::new();
                for o in r.operations.iter().filter(|o| o.op.is_query()) {
                    if seen.contains(&o.collection) {
                        continue;
                    }
                    seen.push(o.collection.clone());
                    let c = r.collection_latency(&o.collection);
                    let v = match name {
                        "query_latency_p50" => c.p50_ms,
                        "query_latency_p95" => c.p95_ms,
                        _ => c.p99_ms,
                    };
                    let _ = writeln!(
                        s,
                        "{name}{{run=\"{}\",collection=\"{}\"}} {v}",
                        r.label, o.collection
                    );
                }
            }
        }
        gauge(&mut s, "throughput_qps", "Completed operations per second.");
        for r in &self.runs {
            let _ = writeln!(
                s,
                "throughput_qps{{run=\"{}\"}} {}",
                r.label, r.throughput_ops_s
            );
        }
        gauge(
            &mut s,
            "error_rate",
            "Failed operations as a fraction of all operations.",
        );
        for r in &self.runs {
            let _ = writeln!(s, "error_rate{{run=\"{}\"}} {}", r.label, r.error_rate);
        }
        gauge(
            &mut s,
            "cpu_usage",
            "Mean CPU use of this process, percent of the machine (the embedded engine and driver; against a server, the client only).",
        );
        for r in &self.runs {
            if let Some(v) = r.resources.cpu_pct_mean {
                let _ = writeln!(s, "cpu_usage{{run=\"{}\"}} {v}", r.label);
            }
        }
        gauge(
            &mut s,
            "memory_usage",
            "Highest resident memory of this process, bytes.",
        );
        for r in &self.runs {
            if let Some(v) = r.resources.rss_bytes_max {
                let _ = writeln!(s, "memory_usage{{run=\"{}\"}} {v}", r.label);
            }
        }
        s.push_str("# disk_io: not collected\n# network_io: not collected\n");
        s
    }
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
                "  requested {rate:.0} ops/s, achieved {:.1} ops/s: within 1 %",
                r.throughput_ops_s
            );
        }
        (Some(rate), _) => {
            let _ = writeln!(
                s,
                "  requested {rate:.0} ops/s, achieved {:.1} ops/s: COULD NOT sustain the requested rate (off by {:.1} %)",
                r.throughput_ops_s,
                (r.throughput_ops_s - rate) / rate * 100.0
            );
        }
        _ => {
            let _ = writeln!(s, "  throughput {:.1} ops/s", r.throughput_ops_s);
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
    };
    for o in &r.operations {
        line(&mut s, &format!("{}/{}", o.op, o.collection), &o.latency_ms);
    }
    if r.operations.len() > 1 {
        line(&mut s, "all queries", &r.latency_ms);
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
        "  resources ({}): CPU mean {} %, max {} % of {} cores; RSS max {} MB; machine load average {}; server: {}",
        res.scope,
        res.cpu_pct_mean.map_or("-".into(), |v| format!("{v:.1}")),
        res.cpu_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
        res.cores,
        res.rss_bytes_max
            .map_or("-".into(), |v| format!("{:.0}", v as f64 / 1048576.0)),
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

/// [`crate::machine::write_atomic`], returning the path written (for the report's file list).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    crate::machine::write_atomic(path, bytes)?;
    Ok(path.to_path_buf())
}

fn civil(t: SystemTime) -> (i64, u32, u32, u64) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem)
}

/// `2026-11-28T03:15:00Z`
pub fn utc_iso(t: SystemTime) -> String {
    let (y, m, d, rem) = civil(t);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `20261128T031500Z`
pub fn compact_utc(t: SystemTime) -> String {
    let (y, m, d, rem) = civil(t);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_dates_are_civil() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_835_700); // 2026-11-28T03:15:00Z
        assert_eq!(utc_iso(t), "2026-11-28T03:15:00Z");
        assert_eq!(compact_utc(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(
            utc_iso(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }
}
