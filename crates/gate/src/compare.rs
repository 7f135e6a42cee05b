//! The regression gate: compares two saved measurements and says, per benchmark, whether the new
//! one regressed, improved or did not change beyond noise.
//!
//! Two kinds of input, compared by one rule:
//! - **criterion baselines** by name (`cargo bench -- --save-baseline NAME`), read from criterion's
//!   own files: `<criterion dir>/<benchmark id as dirs>/<NAME>/estimates.json` (bootstrap point
//!   estimates with confidence intervals, in nanoseconds per iteration) beside `benchmark.json`
//!   (the benchmark's id) and `sample.json` (the raw samples, counted for the sample size);
//! - **run reports** ([`RunReport`], a JSON file): named metrics with a value, a unit, a direction
//!   (lower or higher is better), an optional confidence interval and a sample size. Instruction
//!   counts (`scripts/instructions`) are saved in this shape;
//! - **load, stress and validate runs**: the one [`Report`] (report.json, or the run directory
//!   that holds it), mapped to metrics per (operation, collection) by
//!   [`crate::metrics::report_metrics`]. Two runs of different commands are not comparable.
//!
//! The rule ([`judge`]): a change counts only when `|change| > threshold` (default 10 %) **and**
//! the two confidence intervals do not overlap. The change is `(new - base) / base` of the point
//! estimates, signed so that positive is worse (slower, or less throughput). A value without an
//! interval is taken as exact (instruction counts): then the threshold alone decides.
//! Benchmarks present on one side only are listed, never failed.
//!
//! This module only reads and judges; printing and the exit code belong to the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use qdrant_perf_report::bench::{
    CriterionBenchmarkFile as CriterionBenchmark, CriterionEstimate, CriterionEstimates,
};
use qdrant_perf_report::{Report, ReportError};
use serde::{Deserialize, Serialize};

use crate::metrics::report_metrics;

/// A change smaller than this many percent never counts, however tight the intervals.
pub const DEFAULT_THRESHOLD_PCT: f64 = 10.0;

/// Errors of the comparison: each names the file or directory at fault and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(
        "criterion directory {} does not exist: run the benches first \
         (`cargo bench -- --save-baseline NAME`) or point --criterion-dir at criterion's output",
        dir.display()
    )]
    NoCriterionDir { dir: PathBuf },
    #[error(
        "no benchmark under {} has a baseline named {name:?} (baselines found: {found}); \
         save it with `cargo bench -- --save-baseline {name}`",
        dir.display()
    )]
    NoSuchBaseline {
        dir: PathBuf,
        name: String,
        found: String,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid {what} JSON; {fix}", path.display())]
    Malformed {
        path: PathBuf,
        what: &'static str,
        fix: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "cannot compare {base:?} with {new:?}: one is a run report (.json file or run directory) \
         and the other a criterion baseline name; give two baseline names or two reports"
    )]
    Mixed { base: String, new: String },
    #[error(
        "cannot compare {base:?} with {new:?}: one is a `qdrant-perf {kind}` run and the other a \
         file of metrics (instruction counts); give two of the same kind"
    )]
    RunAndMetrics {
        base: String,
        new: String,
        kind: String,
    },
    #[error(
        "cannot compare {base:?} (a `qdrant-perf {base_command}` run) with {new:?} (a \
         `qdrant-perf {new_command}` run): compare two runs of the same command"
    )]
    DifferentCommands {
        base: String,
        base_command: String,
        new: String,
        new_command: String,
    },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("unknown statistic {0:?}: use mean, median or typical")]
    UnknownStatistic(String),
    #[error("cannot write the step summary {}", path.display())]
    Summary {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = CompareError> = std::result::Result<T, E>;

/// Which way is better for a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Latency, time per iteration, instructions, errors.
    LowerIsBetter,
    /// Throughput, recall.
    HigherIsBetter,
}

/// A confidence interval (criterion's is 95 % by default; a run's are 95 % by batch means):
/// the report crate's one interval type.
pub use qdrant_perf_report::margin::Ci as Interval;

/// One metric of a [`RunReport`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub direction: Direction,
    /// The confidence interval of `value`; absent for exact figures (counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<Interval>,
    /// How many samples `value` summarises (requests, criterion samples, runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
}

/// A saved qdrant-perf result: metrics plus where they came from. The comparison warns when
/// the two reports' provenance differs in anything but the commit and the time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunReport {
    /// Free-form facts about the run: suite version, commit, engine, dataset, machine, time.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, serde_json::Value>,
    pub metrics: Vec<Measurement>,
}

impl RunReport {
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_text(path)?;
        let report: RunReport = serde_json::from_str(&text).map_err(|source| CompareError::Malformed {
            path: path.to_owned(),
            what: "qdrant-perf run report",
            fix: "expected {\"metrics\": [{\"name\", \"value\", \"unit\", \"direction\": \
                  \"lower_is_better\" | \"higher_is_better\", \"ci\"?: {\"low\", \"high\"}, \"samples\"?}]}",
            source,
        })?;
        let mut seen = BTreeSet::new();
        for m in &report.metrics {
            if !seen.insert(m.name.as_str()) {
                return Err(invalid(
                    path,
                    format!("metric {:?} appears twice; names must be unique", m.name),
                ));
            }
            check_value(path, &m.name, m.value, m.ci)?;
        }
        Ok(report)
    }

    /// Writes the report atomically.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a report serialises");
        qdrant_perf_plumbing::write_atomic(path, (json + "\n").as_bytes())
    }
}

/// The text of the file `path`.
fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| CompareError::Read {
        path: path.to_owned(),
        source,
    })
}

fn invalid(path: &Path, reason: String) -> CompareError {
    CompareError::Invalid {
        path: path.to_owned(),
        reason,
    }
}

fn check_value(path: &Path, name: &str, value: f64, ci: Option<Interval>) -> Result<()> {
    if !value.is_finite() {
        return Err(invalid(
            path,
            format!("{name}: value {value} is not a finite number"),
        ));
    }
    if let Some(ci) = ci
        && !(ci.low.is_finite() && ci.high.is_finite() && ci.low <= ci.high)
    {
        return Err(invalid(
            path,
            format!(
                "{name}: interval [{}, {}] is not an interval (low must be <= high)",
                ci.low, ci.high
            ),
        ));
    }
    Ok(())
}

/// Which of criterion's estimates a baseline comparison uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// The mean time per iteration: always present, and the statistic criterion's own change
    /// test uses. The default.
    #[default]
    Mean,
    /// The median: robust to a few outliers, wider interval.
    Median,
    /// criterion's "typical": the slope of the linear regression when both sides sampled
    /// linearly (best for fast benchmarks), else the mean.
    Typical,
}

impl FromStr for Statistic {
    type Err = CompareError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mean" => Ok(Self::Mean),
            "median" => Ok(Self::Median),
            "typical" | "slope" => Ok(Self::Typical),
            other => Err(CompareError::UnknownStatistic(other.into())),
        }
    }
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mean => "mean",
            Self::Median => "median",
            Self::Typical => "typical",
        })
    }
}

/// One side of one benchmark: a point estimate with its interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<Interval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// The statistic actually used (criterion: mean, median or slope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<&'static str>,
}

impl Estimate {
    fn interval(&self) -> Interval {
        self.ci.unwrap_or(Interval {
            low: self.value,
            high: self.value,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Regressed,
    Improved,
    Unchanged,
    OnlyInBase,
    OnlyInNew,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Regressed => "regressed",
            Self::Improved => "improved",
            Self::Unchanged => "unchanged",
            Self::OnlyInBase => "only in base",
            Self::OnlyInNew => "only in new",
        })
    }
}

/// The decision for one benchmark present on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Judgement {
    /// `(new - base) / base` in percent; `None` when the base is 0.
    pub change_pct: Option<f64>,
    /// Whether the two confidence intervals overlap (exact values overlap only when equal).
    pub overlap: bool,
    pub verdict: Change,
}

/// The rule: regressed (or improved) only when the change, counted in the metric's bad (good)
/// direction, exceeds `threshold_pct` AND the intervals do not overlap.
pub fn judge(
    base: &Estimate,
    new: &Estimate,
    direction: Direction,
    threshold_pct: f64,
) -> Judgement {
    let (b, n) = (base.interval(), new.interval());
    let overlap = b.low <= n.high && n.low <= b.high;
    let change_pct =
        (base.value != 0.0).then(|| (new.value - base.value) / base.value.abs() * 100.0);
    // Positive `worse` means the new value is worse, whichever way the metric points.
    let worse = match (change_pct, direction) {
        (Some(c), Direction::LowerIsBetter) => c,
        (Some(c), Direction::HigherIsBetter) => -c,
        // From zero any change is beyond every relative threshold.
        (None, Direction::LowerIsBetter) => (new.value - base.value).signum() * f64::INFINITY,
        (None, Direction::HigherIsBetter) => (base.value - new.value).signum() * f64::INFINITY,
    };
    let verdict = if overlap || worse.is_nan() || worse.abs() <= threshold_pct {
        Change::Unchanged
    } else if worse > 0.0 {
        Change::Regressed
    } else {
        Change::Improved
    };
    Judgement {
        change_pct,
        overlap,
        verdict,
    }
}

/// The columns of the comparison table.
pub const TABLE_HEADER: [&str; 6] = [
    "benchmark",
    "base",
    "new",
    "change",
    "significant",
    "verdict",
];

/// One row of the comparison table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub name: String,
    pub unit: String,
    pub direction: Direction,
    pub base: Option<Estimate>,
    pub new: Option<Estimate>,
    pub change_pct: Option<f64>,
    /// The change's significance: whether the two 95 % intervals lie apart (significant at
    /// roughly the 99.5 % level for intervals of similar width). `None` when a side is missing
    /// or neither side has an interval (exact counts, where the threshold alone decides).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intervals_apart: Option<bool>,
    pub verdict: Change,
}

/// What was compared: criterion baselines or report files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    CriterionBaselines,
    RunReports,
}

/// The whole comparison, ready to render as Markdown or JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub base: String,
    pub new: String,
    pub source: Source,
    pub threshold_pct: f64,
    /// criterion baselines only: the statistic compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<Statistic>,
    pub rows: Vec<Row>,
    /// A second run of the base that every change had to show as well (see
    /// [`Comparison::confirm_with`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    /// Differences between the two sides other than the change (provenance, units).
    pub warnings: Vec<String>,
}

impl Comparison {
    pub fn count(&self, verdict: Change) -> usize {
        self.rows.iter().filter(|r| r.verdict == verdict).count()
    }

    pub fn has_regression(&self) -> bool {
        self.count(Change::Regressed) > 0
    }

    /// The rows that regressed, by name (for a one-line message).
    pub fn regressed(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.verdict == Change::Regressed)
            .map(|r| r.name.as_str())
            .collect()
    }

    /// Keeps a change only when `other` (the same new side against a second run of the base,
    /// taken after the new side: A, B, A') shows the same change for the same benchmark. A
    /// change that one base run shows and the other does not came from the machine drifting
    /// between runs, not from the code; it becomes `unchanged`, and a warning names it.
    pub fn confirm_with(&mut self, other: &Comparison) {
        let mut demoted = Vec::new();
        for row in &mut self.rows {
            if !matches!(row.verdict, Change::Regressed | Change::Improved) {
                continue;
            }
            let again = other.rows.iter().find(|r| r.name == row.name);
            if again.map(|r| r.verdict) != Some(row.verdict) {
                let seen = match again.and_then(|r| r.change_pct) {
                    Some(c) => format!("{c:+.2} % against `{}`", other.base),
                    None => format!("absent from `{}`", other.base),
                };
                demoted.push(format!(
                    "{} ({} {}, {seen})",
                    row.name,
                    row.verdict,
                    fmt_pct(row.change_pct)
                ));
                row.verdict = Change::Unchanged;
            }
        }
        self.confirmed_by = Some(other.base.clone());
        if !demoted.is_empty() {
            self.warnings.push(format!(
                "not confirmed by the second base run `{}`, so counted as unchanged: {}",
                other.base,
                demoted.join("; ")
            ));
        }
    }

    /// A Markdown table (GitHub-flavoured), with the rule and a one-line summary.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### {}\n", self.title());
        // Provenance differences first: they qualify every row below.
        for w in &self.warnings {
            let _ = writeln!(s, "> warning: {w}\n");
        }
        let _ = writeln!(s, "| {} |", TABLE_HEADER.join(" | "));
        let _ = writeln!(s, "|---|---:|---:|---:|---|---|");
        for (r, cells) in self.rows.iter().zip(self.table_cells()) {
            let mut cells = cells;
            cells[5] = match r.verdict {
                Change::Regressed => "**regressed** ❌".to_string(),
                Change::Improved => "improved ✅".to_string(),
                _ => cells[5].clone(),
            };
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        let _ = writeln!(s, "\n{}", self.summary_line());
        s
    }

    /// Per row, the cells of the table (see [`TABLE_HEADER`]) as Markdown and the HTML page
    /// (crate::html) show them; the verdict plain.
    pub fn table_cells(&self) -> Vec<[String; 6]> {
        self.rows
            .iter()
            .map(|r| {
                let side = |e: &Option<Estimate>| match e {
                    Some(e) => format_estimate(e, &r.unit),
                    None => "—".to_string(),
                };
                let change = match (r.change_pct, &r.base, &r.new) {
                    (Some(c), _, _) => format!("{c:+.2} %"),
                    (None, Some(_), Some(_)) => "from 0".to_string(),
                    _ => "—".to_string(),
                };
                let name = match r.direction {
                    Direction::LowerIsBetter => r.name.clone(),
                    Direction::HigherIsBetter => format!("{} (higher is better)", r.name),
                };
                let significant = match r.intervals_apart {
                    Some(true) => "yes (intervals apart)",
                    Some(false) => "no (intervals overlap)",
                    None if r.base.is_some() && r.new.is_some() => "exact values",
                    None => "—",
                };
                [
                    name,
                    side(&r.base),
                    side(&r.new),
                    change,
                    significant.to_string(),
                    r.verdict.to_string(),
                ]
            })
            .collect()
    }

    /// `Performance: `A` → `B` (run reports)`.
    pub fn title(&self) -> String {
        let what = match (self.source, self.statistic) {
            (Source::CriterionBaselines, Some(st)) => {
                format!("criterion baselines, {st} time per iteration")
            }
            (Source::CriterionBaselines, None) => "criterion baselines".to_string(),
            (Source::RunReports, _) => "run reports".to_string(),
        };
        format!("Performance: `{}` → `{}` ({what})", self.base, self.new)
    }

    /// The counts of each verdict and the rule, in one sentence.
    pub fn summary_line(&self) -> String {
        format!(
            "{} regressed, {} improved, {} unchanged, {} only in base, {} only in new. \
             A change counts when it exceeds {} % and the confidence intervals (in brackets) do not overlap{}.",
            self.count(Change::Regressed),
            self.count(Change::Improved),
            self.count(Change::Unchanged),
            self.count(Change::OnlyInBase),
            self.count(Change::OnlyInNew),
            self.threshold_pct,
            match &self.confirmed_by {
                Some(b) => format!(
                    ", against both `{}` and `{b}` (base run again after new)",
                    self.base
                ),
                None => String::new(),
            },
        )
    }

    /// Appends the Markdown table to `$GITHUB_STEP_SUMMARY` when it is set; returns the file.
    pub fn append_to_step_summary(&self) -> Result<Option<PathBuf>> {
        let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let path = PathBuf::from(path);
        append(&path, &self.to_markdown()).map_err(|source| CompareError::Summary {
            path: path.clone(),
            source,
        })?;
        Ok(Some(path))
    }
}

fn fmt_pct(p: Option<f64>) -> String {
    p.map_or_else(|| "from 0".to_string(), |c| format!("{c:+.2} %"))
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{text}")
}

/// `412.3 µs [410.1, 415.0]`: criterion times (unit `ns`) in a readable unit, others as given.
fn format_estimate(e: &Estimate, unit: &str) -> String {
    let time = unit == "ns";
    let (scale, unit) = if time {
        qdrant_perf_plumbing::units::time_unit(e.value)
    } else {
        (1.0, unit)
    };
    let num = |x: f64| {
        let x = x * scale;
        if !time && x.fract() == 0.0 && x.abs() < 1e15 {
            format!("{x:.0}")
        } else if x.abs() >= 100.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.3}")
        }
    };
    let mut s = format!("{} {unit}", num(e.value));
    if let Some(ci) = e.ci {
        let _ = write!(s, " [{}, {}]", num(ci.low), num(ci.high));
    }
    s
}

/// A saved result named by a path: a file of metrics, or a run of `load`/`stress`/`validate`.
#[derive(Clone, Debug)]
pub enum Saved {
    Metrics(RunReport),
    Run(Box<Report>),
}

impl Saved {
    /// Reads `path`: a run directory (holding report.json), a report.json (it has a `schema`),
    /// or a file of metrics.
    pub fn load(path: &Path) -> Result<Self> {
        let is_run = path.is_dir()
            || serde_json::from_str::<serde_json::Value>(&read_text(path)?)
                .ok()
                .is_some_and(|v| v.get("schema").is_some());
        if is_run {
            Ok(Self::Run(Box::new(Report::load(path)?)))
        } else {
            Ok(Self::Metrics(RunReport::load(path)?))
        }
    }
}

/// Compares two saved results named by paths: two files of metrics, or two runs of the same
/// command (each a report.json or its run directory).
pub fn compare_saved(base: &str, new: &str, threshold_pct: f64) -> Result<Comparison> {
    let (b, n) = (Saved::load(Path::new(base))?, Saved::load(Path::new(new))?);
    let (b, n) = match (b, n) {
        (Saved::Metrics(b), Saved::Metrics(n)) => (b, n),
        (Saved::Run(b), Saved::Run(n)) => {
            if b.command != n.command {
                return Err(CompareError::DifferentCommands {
                    base: base.into(),
                    base_command: b.command.clone(),
                    new: new.into(),
                    new_command: n.command.clone(),
                });
            }
            (report_metrics(&b), report_metrics(&n))
        }
        (Saved::Run(r), Saved::Metrics(_)) | (Saved::Metrics(_), Saved::Run(r)) => {
            return Err(CompareError::RunAndMetrics {
                base: base.into(),
                new: new.into(),
                kind: r.command.clone(),
            });
        }
    };
    Ok(compare_reports(base, &b, new, &n, threshold_pct))
}

/// Compares `base` with `new`: two criterion baseline names under `criterion_dir`, or two saved
/// results named by paths (see [`compare_saved`] and [`is_report_file`]).
pub fn compare(
    base: &str,
    new: &str,
    criterion_dir: &Path,
    threshold_pct: f64,
    statistic: Statistic,
) -> Result<Comparison> {
    match (is_report_file(base), is_report_file(new)) {
        (true, true) => compare_saved(base, new, threshold_pct),
        (false, false) => {
            let b = read_baseline(criterion_dir, base)?;
            let n = read_baseline(criterion_dir, new)?;
            Ok(compare_baselines(
                base,
                &b,
                new,
                &n,
                threshold_pct,
                statistic,
            ))
        }
        _ => Err(CompareError::Mixed {
            base: base.into(),
            new: new.into(),
        }),
    }
}

/// A report is named by a path: it ends in `.json`, is an existing file, or is a directory
/// holding report.json (a run directory). A baseline is a name.
pub fn is_report_file(arg: &str) -> bool {
    let path = Path::new(arg);
    arg.ends_with(".json") || path.is_file() || path.join("report.json").is_file()
}

/// Compares two run reports metric by metric, with each metric's own direction.
pub fn compare_reports(
    base_label: &str,
    base: &RunReport,
    new_label: &str,
    new: &RunReport,
    threshold_pct: f64,
) -> Comparison {
    let mut warnings = provenance_warnings(&base.provenance, &new.provenance);
    let estimate = |m: &Measurement| Estimate {
        value: m.value,
        ci: m.ci,
        samples: m.samples,
        statistic: None,
    };
    let new_by_name: BTreeMap<&str, &Measurement> =
        new.metrics.iter().map(|m| (m.name.as_str(), m)).collect();
    let base_names: BTreeSet<&str> = base.metrics.iter().map(|m| m.name.as_str()).collect();
    let mut rows = Vec::new();
    for b in &base.metrics {
        let n = new_by_name.get(b.name.as_str());
        if let Some(n) = n
            && (n.unit != b.unit || n.direction != b.direction)
        {
            warnings.push(format!(
                "{}: base is {:?} {:?}, new is {:?} {:?}; compared with the base's",
                b.name, b.unit, b.direction, n.unit, n.direction
            ));
        }
        let (be, ne) = (Some(estimate(b)), n.map(|n| estimate(n)));
        rows.push(row(&b.name, &b.unit, b.direction, be, ne, threshold_pct));
    }
    for n in new
        .metrics
        .iter()
        .filter(|n| !base_names.contains(n.name.as_str()))
    {
        let ne = Some(estimate(n));
        rows.push(row(&n.name, &n.unit, n.direction, None, ne, threshold_pct));
    }
    Comparison {
        base: base_label.into(),
        new: new_label.into(),
        source: Source::RunReports,
        threshold_pct,
        statistic: None,
        rows,
        confirmed_by: None,
        warnings,
    }
}

/// The row of one benchmark or metric: judged when both sides have it, else only in one.
fn row(
    name: &str,
    unit: &str,
    direction: Direction,
    base: Option<Estimate>,
    new: Option<Estimate>,
    threshold_pct: f64,
) -> Row {
    let (verdict, change_pct, intervals_apart) = match (&base, &new) {
        (Some(be), Some(ne)) => {
            let j = judge(be, ne, direction, threshold_pct);
            // Whether the intervals lie apart, when either side has one.
            let apart = (be.ci.is_some() || ne.ci.is_some()).then_some(!j.overlap);
            (j.verdict, j.change_pct, apart)
        }
        (Some(_), None) => (Change::OnlyInBase, None, None),
        _ => (Change::OnlyInNew, None, None),
    };
    Row {
        name: name.into(),
        unit: unit.into(),
        direction,
        verdict,
        base,
        new,
        change_pct,
        intervals_apart,
    }
}

/// Keys whose difference is the point of a comparison, not a warning.
const EXPECTED_TO_DIFFER: [&str; 7] = [
    "commit",
    "git_commit",
    "time",
    "timestamp",
    "date",
    "started_at",
    "unix_time",
];

fn provenance_warnings(
    base: &BTreeMap<String, serde_json::Value>,
    new: &BTreeMap<String, serde_json::Value>,
) -> Vec<String> {
    let keys: BTreeSet<&String> = base.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter(|k| !EXPECTED_TO_DIFFER.contains(&k.as_str()))
        .filter(|k| base.get(*k) != new.get(*k))
        .map(|k| {
            let show =
                |v: Option<&serde_json::Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
            format!(
                "the runs differ in {k}: base {}, new {}; the change may not be the code's",
                show(base.get(k)),
                show(new.get(k))
            )
        })
        .collect()
}

// ---- criterion's files ---------------------------------------------------------------------

/// criterion's `sample.json`: one entry per sample.
#[derive(Debug, Deserialize)]
struct CriterionSample {
    iters: Vec<f64>,
}

/// One benchmark of a saved criterion baseline.
#[derive(Clone, Debug)]
pub struct BaselineEntry {
    pub id: String,
    pub mean: Estimate,
    pub median: Estimate,
    pub slope: Option<Estimate>,
}

/// Every benchmark saved under baseline `name` in `criterion_dir`, by benchmark id.
pub fn read_baseline(criterion_dir: &Path, name: &str) -> Result<BTreeMap<String, BaselineEntry>> {
    if !criterion_dir.is_dir() {
        return Err(CompareError::NoCriterionDir {
            dir: criterion_dir.to_owned(),
        });
    }
    let mut found = BTreeSet::new();
    let mut entries = BTreeMap::new();
    walk(criterion_dir, criterion_dir, name, &mut entries, &mut found)?;
    if entries.is_empty() {
        found.remove("new");
        found.remove("change");
        let found = if found.is_empty() {
            "none".to_string()
        } else {
            found.into_iter().collect::<Vec<_>>().join(", ")
        };
        return Err(CompareError::NoSuchBaseline {
            dir: criterion_dir.to_owned(),
            name: name.into(),
            found,
        });
    }
    Ok(entries)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = |source| CompareError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        if entry.file_type().map_err(read)?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Finds `<benchmark dirs>/<name>/estimates.json` below `dir`, skipping criterion's HTML report.
fn walk(
    root: &Path,
    dir: &Path,
    name: &str,
    entries: &mut BTreeMap<String, BaselineEntry>,
    found: &mut BTreeSet<String>,
) -> Result<()> {
    for sub in read_dir(dir)? {
        let file_name = sub
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if dir == root && file_name == "report" {
            continue;
        }
        if sub.join("estimates.json").is_file() || sub.join("benchmark.json").is_file() {
            found.insert(file_name.clone());
            if file_name == name {
                let entry = read_entry(root, &sub)?;
                entries.insert(entry.id.clone(), entry);
            }
            continue;
        }
        walk(root, &sub, name, entries, found)?;
    }
    Ok(())
}

fn load_json<T: serde::de::DeserializeOwned>(path: &Path, what: &'static str) -> Result<T> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|source| CompareError::Malformed {
        path: path.to_owned(),
        what,
        fix: "criterion may have been interrupted while writing it, or it is from an incompatible \
              criterion version: run that baseline again with `cargo bench -- --save-baseline NAME`",
        source,
    })
}

fn read_entry(root: &Path, baseline_dir: &Path) -> Result<BaselineEntry> {
    let estimates_path = baseline_dir.join("estimates.json");
    let estimates: CriterionEstimates = load_json(&estimates_path, "criterion estimates")?;
    let benchmark_path = baseline_dir.join("benchmark.json");
    let id = if benchmark_path.is_file() {
        load_json::<CriterionBenchmark>(&benchmark_path, "criterion benchmark")?.full_id
    } else {
        // criterion writes benchmark.json last: fall back to the directory path as the id.
        let bench_dir = baseline_dir.parent().unwrap_or(baseline_dir);
        bench_dir
            .strip_prefix(root)
            .unwrap_or(bench_dir)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    };
    let sample_path = baseline_dir.join("sample.json");
    let samples = sample_path
        .is_file()
        .then(|| load_json::<CriterionSample>(&sample_path, "criterion sample"))
        .transpose()?
        .map(|s| s.iters.len() as u64);
    let convert = |e: &CriterionEstimate, statistic: &'static str| -> Result<Estimate> {
        let ci = Interval {
            low: e.confidence_interval.lower_bound,
            high: e.confidence_interval.upper_bound,
        };
        check_value(&estimates_path, statistic, e.point_estimate, Some(ci))?;
        Ok(Estimate {
            value: e.point_estimate,
            ci: Some(ci),
            samples,
            statistic: Some(statistic),
        })
    };
    Ok(BaselineEntry {
        id,
        mean: convert(&estimates.mean, "mean")?,
        median: convert(&estimates.median, "median")?,
        slope: estimates
            .slope
            .as_ref()
            .map(|s| convert(s, "slope"))
            .transpose()?,
    })
}

/// Compares two criterion baselines, benchmark by benchmark (time per iteration: lower is better).
pub fn compare_baselines(
    base_label: &str,
    base: &BTreeMap<String, BaselineEntry>,
    new_label: &str,
    new: &BTreeMap<String, BaselineEntry>,
    threshold_pct: f64,
    statistic: Statistic,
) -> Comparison {
    // The slope only where every side present has one: both sides compare the same statistic.
    let pick = |e: &BaselineEntry, slope: bool| match (statistic, &e.slope) {
        (Statistic::Median, _) => e.median.clone(),
        (Statistic::Typical, Some(s)) if slope => s.clone(),
        _ => e.mean.clone(),
    };
    let ids: BTreeSet<&String> = base.keys().chain(new.keys()).collect();
    let rows = ids
        .into_iter()
        .map(|id| {
            let (b, n) = (base.get(id), new.get(id));
            let slope = b.into_iter().chain(n).all(|e| e.slope.is_some());
            let (be, ne) = (b.map(|e| pick(e, slope)), n.map(|e| pick(e, slope)));
            row(id, "ns", Direction::LowerIsBetter, be, ne, threshold_pct)
        })
        .collect();
    Comparison {
        base: base_label.into(),
        new: new_label.into(),
        source: Source::CriterionBaselines,
        threshold_pct,
        statistic: Some(statistic),
        rows,
        confirmed_by: None,
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(value: f64, low: f64, high: f64) -> Estimate {
        Estimate {
            value,
            ci: Some(Interval { low, high }),
            samples: Some(100),
            statistic: None,
        }
    }

    fn exact(value: f64) -> Estimate {
        Estimate {
            value,
            ci: None,
            samples: None,
            statistic: None,
        }
    }

    #[test]
    fn each_row_says_whether_its_intervals_lie_apart_and_provenance_warnings_come_first() {
        let metric = |name: &str, value: f64, ci: Option<(f64, f64)>| Measurement {
            name: name.into(),
            value,
            unit: "ms".into(),
            direction: Direction::LowerIsBetter,
            ci: ci.map(|(low, high)| Interval { low, high }),
            samples: Some(1000),
        };
        let side = |machine: &str, p99: f64, p99_ci: (f64, f64)| RunReport {
            provenance: [("machine".to_string(), serde_json::json!(machine))].into(),
            metrics: vec![
                metric("p99_ms", p99, Some(p99_ci)),
                metric("mean_ms", 1.0, Some((0.9, 1.1))),
                metric("count", 7.0, None),
            ],
        };
        let c = compare_reports(
            "a",
            &side("m1", 10.0, (9.5, 10.5)),
            "b",
            &side("m2", 13.0, (12.5, 13.5)),
            10.0,
        );
        let by = |n: &str| c.rows.iter().find(|r| r.name == n).unwrap();
        assert_eq!(by("p99_ms").intervals_apart, Some(true));
        assert_eq!(by("p99_ms").verdict, Change::Regressed);
        assert_eq!(by("mean_ms").intervals_apart, Some(false));
        assert_eq!(by("count").intervals_apart, None);
        let md = c.to_markdown();
        let row = md.lines().find(|l| l.starts_with("| p99_ms ")).unwrap();
        assert!(
            row.contains("| yes (intervals apart) | **regressed**"),
            "{row}"
        );
        let mean = md.lines().find(|l| l.starts_with("| mean_ms ")).unwrap();
        assert!(mean.contains("no (intervals overlap)"), "{mean}");
        assert!(
            md.lines()
                .any(|l| l.starts_with("| count ") && l.contains("exact values"))
        );
        let (warning, table) = (
            md.find("differ in machine").unwrap(),
            md.find("| benchmark").unwrap(),
        );
        assert!(warning < table, "{md}");
    }

    #[test]
    fn a_slowdown_beyond_the_threshold_with_separate_intervals_regresses() {
        let j = judge(
            &est(100.0, 99.0, 101.0),
            &est(120.0, 119.0, 121.0),
            Direction::LowerIsBetter,
            10.0,
        );
        assert_eq!(j.verdict, Change::Regressed);
        assert!((j.change_pct.unwrap() - 20.0).abs() < 1e-9);
        assert!(!j.overlap);
    }

    #[test]
    fn overlapping_intervals_keep_a_large_change_unchanged() {
        let j = judge(
            &est(100.0, 80.0, 125.0),
            &est(120.0, 95.0, 150.0),
            Direction::LowerIsBetter,
            10.0,
        );
        assert_eq!(j.verdict, Change::Unchanged);
        assert!(j.overlap);
    }

    #[test]
    fn a_change_within_the_threshold_is_unchanged_even_when_intervals_are_apart() {
        let j = judge(
            &est(100.0, 99.9, 100.1),
            &est(105.0, 104.9, 105.1),
            Direction::LowerIsBetter,
            10.0,
        );
        assert_eq!(j.verdict, Change::Unchanged);
        assert!(!j.overlap);
    }

    #[test]
    fn zero_change_is_never_flagged_at_any_threshold() {
        for t in [0.0, 0.001, 10.0] {
            let j = judge(&exact(1234.0), &exact(1234.0), Direction::LowerIsBetter, t);
            assert_eq!(j.verdict, Change::Unchanged, "threshold {t}");
            assert_eq!(j.change_pct, Some(0.0));
        }
    }

    #[test]
    fn exact_counts_are_judged_by_the_threshold_alone() {
        let up = judge(
            &exact(1_000_000.0),
            &exact(1_020_000.0),
            Direction::LowerIsBetter,
            1.0,
        );
        assert_eq!(up.verdict, Change::Regressed);
        let small = judge(
            &exact(1_000_000.0),
            &exact(1_005_000.0),
            Direction::LowerIsBetter,
            1.0,
        );
        assert_eq!(small.verdict, Change::Unchanged);
    }

    #[test]
    fn higher_is_better_flips_the_verdict() {
        let fewer = judge(
            &est(1000.0, 990.0, 1010.0),
            &est(800.0, 790.0, 810.0),
            Direction::HigherIsBetter,
            10.0,
        );
        assert_eq!(fewer.verdict, Change::Regressed);
        let more = judge(
            &est(1000.0, 990.0, 1010.0),
            &est(1300.0, 1290.0, 1310.0),
            Direction::HigherIsBetter,
            10.0,
        );
        assert_eq!(more.verdict, Change::Improved);
    }

    #[test]
    fn a_change_from_zero_is_judged_without_a_percentage() {
        let j = judge(&exact(0.0), &exact(3.0), Direction::LowerIsBetter, 10.0);
        assert_eq!((j.change_pct, j.verdict), (None, Change::Regressed));
        let j = judge(&exact(0.0), &exact(0.0), Direction::LowerIsBetter, 10.0);
        assert_eq!((j.change_pct, j.verdict), (None, Change::Unchanged));
    }

    #[test]
    fn statistic_names_parse_and_unknown_ones_say_what_is_allowed() {
        assert_eq!("mean".parse::<Statistic>().unwrap(), Statistic::Mean);
        assert_eq!("slope".parse::<Statistic>().unwrap(), Statistic::Typical);
        assert!(
            "p99"
                .parse::<Statistic>()
                .unwrap_err()
                .to_string()
                .contains("mean, median or typical")
        );
    }

    #[test]
    fn times_are_shown_in_a_readable_unit_with_their_interval() {
        assert_eq!(
            format_estimate(&est(412_300.0, 410_100.0, 415_000.0), "ns"),
            "412.3 µs [410.1, 415.0]"
        );
        assert_eq!(
            format_estimate(&exact(1_234_567.0), "instructions"),
            "1234567 instructions"
        );
    }
}
