//! The run report: results as data ([`Report`], serialised as `report.json`, schema in
//! docs/report-schema.md, saved with [`Report::save`] and read back with [`Report::load`]).
//! The terminal text, the Markdown summary, report.html and the Prometheus text are
//! qdrant-perf-render's renderings of it. Every file is written atomically.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use qdrant_perf_plumbing::time::compact_utc;
use qdrant_perf_plumbing::write_atomic;
use serde::{Deserialize, Serialize};

use crate::LatencySummary;
use crate::checks::{self, Check};
use crate::provenance::Provenance;
use crate::run::{RecallStat, RunResult};

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
    /// `settle`: the events, the per-second series with the server's state, the figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<crate::settle::SettleSection>,
    /// How each collection was set up (dataset, build or reuse, seconds).
    pub setup: Vec<String>,
    /// The configuration the run used (the YAML file as parsed, and the options).
    pub config: serde_json::Value,
    pub provenance: Provenance,
    /// Set when `qdrant-perf report DIR` rebuilt this report from the run's interval log (the
    /// run ended without writing one); null otherwise.
    #[serde(default)]
    pub rebuilt: Option<Rebuilt>,
    /// `stream --runbook`: the steps' points present, writes, recall and stale results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<crate::stream::StreamSection>,
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
            settle: None,
            setup: Vec::new(),
            config: serde_json::Value::Null,
            provenance,
            rebuilt: None,
            stream: None,
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

    /// Writes the report's own files, each atomically: report.json and `histograms/<run>.hlog`
    /// for each run that holds its interval log (a report read back from report.json holds none,
    /// and leaves the .hlog files as they are); returns the files written. The pages a person
    /// reads (summary.md, report.html, metrics.prom) are qdrant-perf-render's.
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let json = serde_json::to_string_pretty(self).map_err(ReportError::Serialise)? + "\n";
        let mut files = vec![(dir.join("report.json"), json.into_bytes())];
        for r in self.runs.iter().filter(|r| !r.interval_log.is_empty()) {
            let path = dir
                .join("histograms")
                .join(format!("{}.hlog", file_name(&r.label)));
            files.push((path, r.interval_log.clone()));
        }
        write_files(files)
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
}

/// Writes each (path, bytes) atomically, in order; returns the paths.
pub fn write_files(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<PathBuf>, ReportError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
