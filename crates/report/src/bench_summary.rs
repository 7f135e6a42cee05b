//! `cargo bench`'s quality beside its speed. Criterion measures time only; the suites in
//! `benches/` also know what each benchmark found (recall@10 against exact ground truth, the
//! filter's selectivity, whether Qdrant walked the HNSW graph or scanned, the setup). Each suite
//! saves those figures as data, one [`QualityRecord`] per criterion benchmark id, in
//! `<criterion dir>/qdrant-perf/<suite>.json` (schema [`SCHEMA`]), and rewrites
//! `<criterion dir>/qdrant-perf.html`: one row per benchmark joining criterion's own estimate
//! (`<id>/new/estimates.json`) with the suite's record and a link to criterion's page.
//!
//! Data first ([`SuiteQuality`], [`read_criterion`], [`join`]), the page a pure rendering of it
//! ([`render`]); [`write_summary`] does both and writes the page atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::html::{escape, page};
use crate::margin::{Ci, with_margin};
use crate::units::time_unit;
use crate::write_atomic;

/// The schema name of a suite's quality file.
pub const SCHEMA: &str = "qdrant-perf-bench-quality/1";
/// The directory under the criterion dir that holds the suites' quality files.
pub const QUALITY_DIR: &str = "qdrant-perf";
/// The summary page's file name, in the criterion dir.
pub const PAGE: &str = "qdrant-perf.html";

/// What the summary page says of a benchmark criterion has no estimate of.
pub const NOT_MEASURED: &str = "not measured (test mode)";

#[derive(Debug, thiserror::Error)]
pub enum BenchSummaryError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot write {path}: {source}; check that the directory is writable and the disk has room"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a valid {what}: {source}; it may be from an interrupted or older run: \
         delete it and run the suite again"
    )]
    Malformed {
        path: PathBuf,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error(
        "{path} has schema `{found}`, this build reads `{SCHEMA}`: delete it and run the suite again"
    )]
    Schema { path: PathBuf, found: String },
}

pub type Result<T> = std::result::Result<T, BenchSummaryError>;

/// criterion's output directory, by criterion's own rule (criterion 0.8, `lib.rs`):
/// `$CRITERION_HOME` if set, else `$CARGO_TARGET_DIR/criterion`, else
/// `<workspace>/target/criterion` (where `cargo metadata` puts the target directory of a
/// workspace that does not move it).
pub fn criterion_dir(workspace: &Path) -> PathBuf {
    criterion_dir_from(
        std::env::var_os("CRITERION_HOME"),
        std::env::var_os("CARGO_TARGET_DIR"),
        workspace,
    )
}

fn criterion_dir_from(
    criterion_home: Option<OsString>,
    target_dir: Option<OsString>,
    workspace: &Path,
) -> PathBuf {
    match (criterion_home, target_dir) {
        (Some(home), _) => PathBuf::from(home),
        (None, Some(target)) => PathBuf::from(target).join("criterion"),
        (None, None) => workspace.join("target").join("criterion"),
    }
}

/// `<criterion dir>/qdrant-perf/<suite>.json`.
pub fn suite_path(criterion_dir: &Path, suite: &str) -> PathBuf {
    criterion_dir
        .join(QUALITY_DIR)
        .join(format!("{suite}.json"))
}

// ---- the suites' records --------------------------------------------------------------------

/// One suite's quality records (`<criterion dir>/qdrant-perf/<suite>.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteQuality {
    /// [`SCHEMA`].
    pub schema: String,
    /// The suite (bench target) name: `latency`, `hnsw`, ...
    pub suite: String,
    pub records: Vec<QualityRecord>,
}

/// What a suite knows of one criterion benchmark beside its time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityRecord {
    /// criterion's full id: `group/function/value`, as criterion joins them.
    pub id: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<Recall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selectivity: Option<Selectivity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SearchMode>,
    #[serde(default)]
    pub setup: BenchSetup,
    /// The engine and its version (`qdrant-edge 0.7.2`, or the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Anything else the reader needs to read the figures right.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Mean recall@k of the benchmark's own queries against exact ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recall {
    pub k: usize,
    pub value: f64,
    /// Queries the mean is over (its sample size).
    pub queries: usize,
}

/// The filter of a filtered search: the fraction of points it matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Selectivity {
    /// The fraction asked for, in (0, 1].
    pub wanted: f64,
    /// The fraction of the stored points that match, counted on the data.
    pub measured: f64,
    pub matching: usize,
    /// The condition, as `num <= 42` or `kw in ["a", "b"]`.
    pub condition: String,
}

/// How Qdrant answered the benchmark's searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Through the HNSW graph.
    Hnsw,
    /// By a plain scan Qdrant chose: the segments hold fewer vectors than its
    /// full_scan_threshold covers.
    PlainScan,
    /// By the exact full scan the query asked for (the reference).
    ExactScan,
}

impl SearchMode {
    pub fn text(self) -> &'static str {
        match self {
            Self::Hnsw => "HNSW",
            Self::PlainScan => "plain scan (below full_scan_threshold)",
            Self::ExactScan => "exact scan",
        }
    }
}

/// What was set up before measuring: what a suite knows of it, the rest absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchSetup {
    /// Stored points of the collection searched (or built, or written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef_construct: Option<usize>,
    /// The search beam width (hnsw_ef) of the searches whose recall is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ef: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<usize>,
    /// Points per request (the throughput suite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
    /// True when the collection has a payload index on every field (the filtered suite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_indexes: Option<bool>,
    /// Seconds of building the HNSW index (or of confirming a cached one), or of one whole
    /// build for the build benchmarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_seconds: Option<f64>,
    /// Seconds of the whole setup before measuring (dataset, open, upload, index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_seconds: Option<f64>,
}

impl QualityRecord {
    /// The record of criterion's benchmark `group` / `function` / `value` (either may be
    /// absent, as in criterion's `BenchmarkId::from_parameter` or a bare function name).
    pub fn new(group: &str, function: Option<&str>, value: Option<&str>) -> Self {
        let id = [Some(group), function, value]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/");
        Self {
            id,
            group: group.into(),
            function: function.map(Into::into),
            value: value.map(Into::into),
            recall: None,
            selectivity: None,
            mode: None,
            setup: BenchSetup::default(),
            engine: None,
            note: None,
        }
    }

    pub fn with_recall(mut self, k: usize, value: f64, queries: usize) -> Self {
        self.recall = Some(Recall { k, value, queries });
        self
    }

    pub fn with_mode(mut self, mode: SearchMode) -> Self {
        self.mode = Some(mode);
        self
    }

    pub fn with_selectivity(mut self, selectivity: Selectivity) -> Self {
        self.selectivity = Some(selectivity);
        self
    }

    pub fn with_setup(mut self, setup: BenchSetup) -> Self {
        self.setup = setup;
        self
    }

    pub fn with_engine(mut self, engine: impl Into<String>) -> Self {
        self.engine = Some(engine.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

impl SuiteQuality {
    /// Reads a suite's file, refusing another schema by name.
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|source| BenchSummaryError::Read {
            path: path.to_owned(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| BenchSummaryError::Malformed {
                path: path.to_owned(),
                what: "qdrant-perf bench quality file",
                source,
            })?;
        let found = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
        if found != SCHEMA {
            return Err(BenchSummaryError::Schema {
                path: path.to_owned(),
                found: found.into(),
            });
        }
        serde_json::from_value(value).map_err(|source| BenchSummaryError::Malformed {
            path: path.to_owned(),
            what: "qdrant-perf bench quality file",
            source,
        })
    }
}

/// Saves `records` as `suite`'s quality file, atomically. Records of benchmarks this run did
/// not reach (a criterion filter skipped them) are kept from the file already there, so the
/// page keeps showing them beside criterion's estimates of the run that measured them; a record
/// of this run replaces the one of the same id. An unreadable old file is replaced (the error
/// is returned beside the path, for the suite to print).
pub fn save_suite(
    criterion_dir: &Path,
    suite: &str,
    records: Vec<QualityRecord>,
) -> Result<(PathBuf, Option<BenchSummaryError>)> {
    let path = suite_path(criterion_dir, suite);
    let (old, problem) = if path.exists() {
        match SuiteQuality::load(&path) {
            Ok(q) => (q.records, None),
            Err(e) => (Vec::new(), Some(e)),
        }
    } else {
        (Vec::new(), None)
    };
    // An id recorded more than once in a run (a suite that records per iteration): the last
    // record stands, once.
    let mut records = records;
    let mut seen = BTreeSet::new();
    records.reverse();
    records.retain(|r| seen.insert(r.id.clone()));
    records.reverse();
    let new_ids: BTreeSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    let mut merged: Vec<QualityRecord> = old
        .into_iter()
        .filter(|r| !new_ids.contains(r.id.as_str()))
        .collect();
    merged.extend(records);
    let quality = SuiteQuality {
        schema: SCHEMA.into(),
        suite: suite.into(),
        records: merged,
    };
    let json = serde_json::to_vec_pretty(&quality).expect("records serialise");
    write_atomic(&path, &json).map_err(|source| BenchSummaryError::Write {
        path: path.clone(),
        source,
    })?;
    Ok((path, problem))
}

/// Every suite's quality file under `criterion_dir`, by suite name; files that cannot be read
/// are left out and returned as problems (the page names them).
pub fn read_quality(criterion_dir: &Path) -> (Vec<SuiteQuality>, Vec<BenchSummaryError>) {
    let dir = criterion_dir.join(QUALITY_DIR);
    let mut suites = Vec::new();
    let mut problems = Vec::new();
    let Ok(entries) = fs::read_dir(&dir) else {
        return (suites, problems);
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        match SuiteQuality::load(&path) {
            Ok(q) => suites.push(q),
            Err(e) => problems.push(e),
        }
    }
    (suites, problems)
}

// ---- criterion's files ----------------------------------------------------------------------

/// criterion's `estimates.json` (criterion 0.5-0.8): each statistic with its bootstrap
/// interval, in nanoseconds per iteration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CriterionEstimates {
    pub mean: CriterionEstimate,
    pub median: CriterionEstimate,
    #[serde(default)]
    pub slope: Option<CriterionEstimate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct CriterionEstimate {
    pub confidence_interval: CriterionInterval,
    pub point_estimate: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct CriterionInterval {
    pub lower_bound: f64,
    pub upper_bound: f64,
}

/// criterion's `benchmark.json` (the fields read here).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CriterionBenchmarkFile {
    pub full_id: String,
}

/// Reads one of criterion's JSON files.
pub fn load_criterion_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|source| BenchSummaryError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| BenchSummaryError::Malformed {
        path: path.to_owned(),
        what,
        source,
    })
}

/// One benchmark criterion wrote (`<dir>/new/benchmark.json`).
#[derive(Clone, Debug, PartialEq)]
pub struct CriterionBenchmark {
    pub id: String,
    /// The benchmark's directory, relative to the criterion dir, with `/` between parts.
    pub dir: String,
    /// `mean` of `new/estimates.json`, in nanoseconds, with its 95 % interval.
    pub mean: Option<CriterionEstimate>,
    /// `<dir>/report/index.html` when criterion drew it.
    pub report: Option<String>,
}

/// Every benchmark criterion has measured under `criterion_dir` (its latest run, `new`),
/// sorted by id. Benchmarks whose files cannot be read are left out and returned as problems.
pub fn read_criterion(criterion_dir: &Path) -> (Vec<CriterionBenchmark>, Vec<BenchSummaryError>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    walk(criterion_dir, criterion_dir, &mut found, &mut problems);
    found.sort_by(|a: &CriterionBenchmark, b| a.id.cmp(&b.id));
    (found, problems)
}

fn walk(
    root: &Path,
    dir: &Path,
    found: &mut Vec<CriterionBenchmark>,
    problems: &mut Vec<BenchSummaryError>,
) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subs.sort();
    for sub in subs {
        let name = sub.file_name().unwrap_or_default();
        // criterion's own pages and ours, never benchmarks.
        if dir == root && (name == "report" || name == QUALITY_DIR) {
            continue;
        }
        let benchmark = sub.join("new").join("benchmark.json");
        if benchmark.is_file() {
            match read_benchmark(root, &sub, &benchmark) {
                Ok(b) => found.push(b),
                Err(e) => problems.push(e),
            }
            continue;
        }
        walk(root, &sub, found, problems);
    }
}

fn read_benchmark(root: &Path, dir: &Path, benchmark: &Path) -> Result<CriterionBenchmark> {
    let file: CriterionBenchmarkFile = load_criterion_json(benchmark, "criterion benchmark")?;
    let estimates = dir.join("new").join("estimates.json");
    let mean = if estimates.is_file() {
        Some(load_criterion_json::<CriterionEstimates>(&estimates, "criterion estimates")?.mean)
    } else {
        None
    };
    let rel = dir
        .strip_prefix(root)
        .unwrap_or(dir)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    let report = dir
        .join("report")
        .join("index.html")
        .is_file()
        .then(|| format!("{rel}/report/index.html"));
    Ok(CriterionBenchmark {
        id: file.full_id,
        dir: rel,
        mean,
        report,
    })
}

// ---- the page -------------------------------------------------------------------------------

/// One row of the summary page: a benchmark with the suite's record, criterion's figures, or
/// both.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub id: String,
    /// The suite that recorded it (none for a benchmark with criterion's files only).
    pub suite: Option<String>,
    pub record: Option<QualityRecord>,
    pub criterion: Option<CriterionBenchmark>,
}

/// Joins the suites' records with criterion's benchmarks by id: the suites' rows first, in
/// suite then record order, then criterion's benchmarks no suite recorded, by id.
pub fn join(suites: &[SuiteQuality], benchmarks: &[CriterionBenchmark]) -> Vec<SummaryRow> {
    let mut by_id: BTreeMap<&str, &CriterionBenchmark> =
        benchmarks.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut rows = Vec::new();
    let mut seen = BTreeSet::new();
    for suite in suites {
        for r in &suite.records {
            if !seen.insert(r.id.clone()) {
                continue;
            }
            rows.push(SummaryRow {
                id: r.id.clone(),
                suite: Some(suite.suite.clone()),
                record: Some(r.clone()),
                criterion: by_id.remove(r.id.as_str()).cloned(),
            });
        }
    }
    rows.extend(by_id.into_values().map(|b| SummaryRow {
        id: b.id.clone(),
        suite: None,
        record: None,
        criterion: Some(b.clone()),
    }));
    rows
}

/// Characters a relative link's path keeps as they are: everything but controls, space and
/// what a URL reads as syntax (`#`, `?`, `%`, quotes, brackets).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn mean_cell(mean: Option<&CriterionEstimate>) -> String {
    let Some(m) = mean else {
        return format!("<td class=\"notrun\">{NOT_MEASURED}</td>");
    };
    let (scale, unit) = time_unit(m.point_estimate);
    let ci = Ci {
        low: m.confidence_interval.lower_bound * scale,
        high: m.confidence_interval.upper_bound * scale,
    };
    format!(
        "<td class=\"mean\" data-mean-ns=\"{}\" data-low-ns=\"{}\" data-high-ns=\"{}\" \
         title=\"95 % interval [{:.3}, {:.3}] {unit}\">{} {unit}</td>",
        m.point_estimate,
        m.confidence_interval.lower_bound,
        m.confidence_interval.upper_bound,
        ci.low,
        ci.high,
        with_margin(m.point_estimate * scale, Some(ci), 3),
    )
}

fn setup_text(r: &QualityRecord) -> String {
    let s = &r.setup;
    let mut parts = Vec::new();
    if let Some(p) = s.points {
        parts.push(format!("{p} points"));
    }
    if let Some(d) = s.dim {
        parts.push(format!("{d} d"));
    }
    for (name, v) in [
        ("m", s.m),
        ("ef_construct", s.ef_construct),
        ("ef", s.ef),
        ("segments", s.segments),
        ("batch", s.batch),
    ] {
        if let Some(v) = v {
            parts.push(format!("{name}={v}"));
        }
    }
    if let Some(i) = s.payload_indexes {
        parts.push(
            if i {
                "payload indexes"
            } else {
                "no payload index"
            }
            .into(),
        );
    }
    if let Some(b) = s.build_seconds {
        parts.push(format!("build {b:.2} s"));
    }
    if let Some(t) = s.setup_seconds {
        parts.push(format!("setup {t:.2} s"));
    }
    if let Some(e) = &r.engine {
        parts.push(e.clone());
    }
    if parts.is_empty() {
        "—".into()
    } else {
        escape(&parts.join(", "))
    }
}

fn row_html(out: &mut String, row: &SummaryRow) {
    let record = row.record.as_ref();
    let criterion = row.criterion.as_ref();
    let _ = write!(out, "<tr data-id=\"{}\"><td>", escape(&row.id));
    match criterion.and_then(|c| c.report.as_deref()) {
        Some(link) => {
            let href = utf8_percent_encode(link, PATH).to_string();
            let _ = write!(
                out,
                "<a href=\"{}\"><code>{}</code></a>",
                escape(&href),
                escape(&row.id)
            );
        }
        None => {
            let _ = write!(out, "<code>{}</code>", escape(&row.id));
        }
    }
    out.push_str("</td>");
    out.push_str(&mean_cell(criterion.and_then(|c| c.mean.as_ref())));
    match record.and_then(|r| r.recall) {
        Some(r) => {
            let _ = write!(
                out,
                "<td class=\"recall\" data-recall=\"{}\" data-k=\"{}\" data-queries=\"{}\">\
                 {:.4} <span class=\"muted\">@{} over {}</span></td>",
                r.value, r.k, r.queries, r.value, r.k, r.queries
            );
        }
        None => out.push_str("<td class=\"recall\">—</td>"),
    }
    match record.and_then(|r| r.selectivity.as_ref()) {
        Some(s) => {
            let _ = write!(
                out,
                "<td data-selectivity=\"{}\">{:.3} % <span class=\"muted\">({} points: {})</span></td>",
                s.measured,
                s.measured * 100.0,
                s.matching,
                escape(&s.condition)
            );
        }
        None => out.push_str("<td>—</td>"),
    }
    let _ = writeln!(
        out,
        "<td>{}</td><td>{}</td><td>{}</td></tr>",
        record.and_then(|r| r.mode).map_or("—", SearchMode::text),
        record.map_or_else(|| "—".to_string(), setup_text),
        record
            .and_then(|r| r.note.as_deref())
            .map_or_else(|| "—".to_string(), escape),
    );
}

/// The summary page of `rows`, naming `problems` (files left out) above the table.
pub fn render(rows: &[SummaryRow], problems: &[BenchSummaryError]) -> String {
    let mut body = String::new();
    body.push_str("<h1>qdrant-perf: criterion's times beside the suites' recall</h1>\n");
    body.push_str(
        "<p class=\"muted\">Mean time per iteration is criterion's estimate of its latest run \
         (<code>new/estimates.json</code>), ± half its 95 % bootstrap interval (the interval \
         itself on hover); recall@k is the suite's, of the same queries against exact ground \
         truth. Each id links to criterion's own page. Rewritten at the end of every suite of \
         <code>cargo bench</code>; the records are in <code>qdrant-perf/&lt;suite&gt;.json</code>.</p>\n",
    );
    for p in problems {
        let _ = writeln!(
            body,
            "<p class=\"missed\">left out: {}</p>",
            escape(&p.to_string())
        );
    }
    if rows.is_empty() {
        body.push_str(
            "<p>No benchmark yet: run <code>cargo bench</code> (or one suite, \
             <code>cargo bench --bench latency</code>).</p>\n",
        );
        return page("qdrant-perf benchmarks", &body);
    }
    let mut section: Option<Option<&str>> = None;
    for row in rows {
        let suite = row.suite.as_deref();
        if section != Some(suite) {
            if section.is_some() {
                body.push_str("</table>\n");
            }
            section = Some(suite);
            let _ = writeln!(
                body,
                "<h2>{}</h2>\n<table>\n<tr><th>benchmark</th><th>mean time</th><th>recall</th>\
                 <th>selectivity</th><th>search</th><th>setup</th><th>note</th></tr>",
                match suite {
                    Some(s) => format!("suite <code>{}</code>", escape(s)),
                    None => "benchmarks without a quality record".into(),
                }
            );
        }
        row_html(&mut body, row);
    }
    body.push_str("</table>\n");
    page("qdrant-perf benchmarks", &body)
}

/// Rewrites `<criterion dir>/qdrant-perf.html` from every suite's records and criterion's
/// files there; returns its path and the files it left out.
pub fn write_summary(criterion_dir: &Path) -> Result<(PathBuf, Vec<BenchSummaryError>)> {
    let (suites, mut problems) = read_quality(criterion_dir);
    let (benchmarks, more) = read_criterion(criterion_dir);
    problems.extend(more);
    let html = render(&join(&suites, &benchmarks), &problems);
    let path = criterion_dir.join(PAGE);
    write_atomic(&path, html.as_bytes()).map_err(|source| BenchSummaryError::Write {
        path: path.clone(),
        source,
    })?;
    Ok((path, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes criterion's files of one benchmark as criterion 0.8 does (`new/benchmark.json`,
    /// `new/estimates.json`, and its page when `page`).
    fn criterion_files(root: &Path, dir: &str, id: &str, mean: Option<[f64; 3]>, page: bool) {
        let d = root.join(dir);
        fs::create_dir_all(d.join("new")).unwrap();
        let parts: Vec<&str> = id.split('/').collect();
        fs::write(
            d.join("new/benchmark.json"),
            serde_json::json!({
                "group_id": parts[0],
                "function_id": parts.get(1),
                "value_str": parts.get(2),
                "throughput": null,
                "full_id": id,
                "directory_name": dir,
                "title": id,
            })
            .to_string(),
        )
        .unwrap();
        if let Some([low, point, high]) = mean {
            let est = |p: f64| {
                serde_json::json!({
                    "confidence_interval": {"confidence_level": 0.95, "lower_bound": p * low / point, "upper_bound": p * high / point},
                    "point_estimate": p, "standard_error": 1.0
                })
            };
            fs::write(
                d.join("new/estimates.json"),
                serde_json::json!({
                    "mean": est(point), "median": est(point * 0.99), "median_abs_dev": est(3.0),
                    "slope": null, "std_dev": est(5.0)
                })
                .to_string(),
            )
            .unwrap();
        }
        if page {
            fs::create_dir_all(d.join("report")).unwrap();
            fs::write(d.join("report/index.html"), "<html></html>").unwrap();
        }
    }

    fn record(id: &str, recall: Option<f64>) -> QualityRecord {
        let parts: Vec<&str> = id.splitn(3, '/').collect();
        let r = QualityRecord::new(parts[0], parts.get(1).copied(), parts.get(2).copied())
            .with_mode(SearchMode::Hnsw)
            .with_setup(BenchSetup {
                points: Some(2000),
                dim: Some(768),
                ef: Some(128),
                ..Default::default()
            });
        match recall {
            Some(v) => r.with_recall(10, v, 200),
            None => r,
        }
    }

    /// The `<tr>` of `id` in `html`.
    fn row_of<'a>(html: &'a str, id: &str) -> &'a str {
        let start = html
            .find(&format!("<tr data-id=\"{}\">", escape(id)))
            .unwrap_or_else(|| panic!("no row {id} in {html}"));
        let end = start + html[start..].find("</tr>").unwrap();
        &html[start..end]
    }

    #[test]
    fn the_criterion_dir_follows_criterions_own_rule() {
        let ws = Path::new("/ws");
        assert_eq!(
            criterion_dir_from(Some("/home".into()), Some("/t".into()), ws),
            PathBuf::from("/home")
        );
        assert_eq!(
            criterion_dir_from(None, Some("/t".into()), ws),
            PathBuf::from("/t/criterion")
        );
        assert_eq!(
            criterion_dir_from(None, None, ws),
            PathBuf::from("/ws/target/criterion")
        );
    }

    #[test]
    fn a_record_id_joins_group_function_and_value_as_criterion_does() {
        assert_eq!(
            QualityRecord::new("hnsw_build/768d", Some("efc100"), Some("16")).id,
            "hnsw_build/768d/efc100/16"
        );
        assert_eq!(
            QualityRecord::new("hnsw_search/768d", None, Some("64")).id,
            "hnsw_search/768d/64"
        );
        assert_eq!(
            QualityRecord::new("driver", Some("record_latency"), None).id,
            "driver/record_latency"
        );
    }

    #[test]
    fn rows_join_each_record_with_criterions_benchmark_of_the_same_id() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // criterion makes group names with `/` filename-safe: the directory is not the id.
        criterion_files(
            root,
            "search/deepcoder/768",
            "search/deepcoder/768",
            Some([900.0, 1000.0, 1100.0]),
            true,
        );
        criterion_files(
            root,
            "hnsw_search_768d/64",
            "hnsw_search/768d/64",
            Some([2.0e6, 2.5e6, 3.0e6]),
            true,
        );
        criterion_files(
            root,
            "ground_truth/768",
            "ground_truth/768",
            Some([1e9, 2e9, 3e9]),
            false,
        );
        save_suite(
            root,
            "latency",
            vec![
                record("search/deepcoder/768", Some(0.9871)),
                record("search_exact/deepcoder/768", Some(1.0)),
            ],
        )
        .unwrap();
        save_suite(
            root,
            "hnsw",
            vec![record("hnsw_search/768d/64", Some(0.75))],
        )
        .unwrap();
        let (path, problems) = write_summary(root).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let html = fs::read_to_string(path).unwrap();

        let search = row_of(&html, "search/deepcoder/768");
        assert!(search.contains("data-recall=\"0.9871\""), "{search}");
        assert!(search.contains("data-mean-ns=\"1000\""), "{search}");
        assert!(search.contains("data-low-ns=\"900\""), "{search}");
        assert!(search.contains("data-high-ns=\"1100\""), "{search}");
        assert!(search.contains("1.000 ± 0.100 µs"), "{search}");
        assert!(
            search.contains("href=\"search/deepcoder/768/report/index.html\""),
            "{search}"
        );
        assert!(search.contains("HNSW"), "{search}");

        let hnsw = row_of(&html, "hnsw_search/768d/64");
        assert!(hnsw.contains("data-recall=\"0.75\""), "{hnsw}");
        assert!(hnsw.contains("2.500 ± 0.500 ms"), "{hnsw}");
        assert!(
            hnsw.contains("href=\"hnsw_search_768d/64/report/index.html\""),
            "{hnsw}"
        );

        // Recorded but never measured by criterion: test mode.
        let exact = row_of(&html, "search_exact/deepcoder/768");
        assert!(exact.contains(NOT_MEASURED), "{exact}");
        assert!(exact.contains("data-recall=\"1\""), "{exact}");
        assert!(!exact.contains("href="), "{exact}");

        // Measured, with no suite record and no page of criterion's: no recall, no link.
        let gt = row_of(&html, "ground_truth/768");
        assert!(gt.contains("<td class=\"recall\">—</td>"), "{gt}");
        assert!(gt.contains("data-mean-ns=\"2000000000\""), "{gt}");
        assert!(!gt.contains("href="), "{gt}");

        assert_eq!(html.matches("<tr data-id=").count(), 4, "{html}");
        let suites = html.find("suite <code>hnsw</code>").unwrap();
        let latency = html.find("suite <code>latency</code>").unwrap();
        let others = html.find("benchmarks without a quality record").unwrap();
        assert!(suites < latency && latency < others, "{html}");
    }

    #[test]
    fn everything_shown_is_escaped_and_links_are_percent_encoded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let id = "search/<script>\"x\"&/a b#1";
        criterion_files(
            root,
            "search/_script_x&/a b#1",
            id,
            Some([1.0, 2.0, 3.0]),
            true,
        );
        let r = record(id, Some(0.5))
            .with_note("a <b>note</b> & 'quote'")
            .with_selectivity(Selectivity {
                wanted: 0.01,
                measured: 0.0105,
                matching: 21,
                condition: "kw in [\"<a>\"]".into(),
            });
        save_suite(root, "filtered", vec![r]).unwrap();
        let (path, _) = write_summary(root).unwrap();
        let html = fs::read_to_string(path).unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>note"), "{html}");
        assert!(!html.contains("\"<a>\""), "{html}");
        assert!(html.contains("&lt;script&gt;&quot;x&quot;&amp;"), "{html}");
        assert!(
            html.contains("a &lt;b&gt;note&lt;/b&gt; &amp; &#39;quote&#39;"),
            "{html}"
        );
        assert!(
            html.contains("href=\"search/_script_x&amp;/a%20b%231/report/index.html\""),
            "{html}"
        );
        assert!(html.contains("1.050 %"), "{html}");
    }

    #[test]
    fn missing_and_broken_files_leave_a_page_that_names_them() {
        let dir = tempfile::tempdir().unwrap();
        // No criterion dir at all: a page that says how to fill it.
        let root = dir.path().join("criterion");
        let (path, problems) = write_summary(&root).unwrap();
        assert!(problems.is_empty());
        let html = fs::read_to_string(&path).unwrap();
        assert!(html.contains("No benchmark yet"), "{html}");

        // A broken quality file and broken estimates: the rest still shows, each is named.
        save_suite(&root, "latency", vec![record("search/a/768", Some(0.9))]).unwrap();
        fs::write(suite_path(&root, "hnsw"), "{not json").unwrap();
        criterion_files(&root, "search/a/768", "search/a/768", None, false);
        criterion_files(&root, "search/b/768", "search/b/768", None, false);
        fs::write(root.join("search/b/768/new/estimates.json"), "[]").unwrap();
        let (path, problems) = write_summary(&root).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        let html = fs::read_to_string(&path).unwrap();
        assert!(html.contains("hnsw.json is not a valid"), "{html}");
        assert!(
            html.contains("estimates.json is not a valid criterion estimates"),
            "{html}"
        );
        let a = row_of(&html, "search/a/768");
        assert!(
            a.contains(NOT_MEASURED) && a.contains("data-recall=\"0.9\""),
            "{a}"
        );
        assert!(!html.contains("data-id=\"search/b/768\""), "{html}");
    }

    #[test]
    fn a_suite_keeps_records_its_run_did_not_reach_and_replaces_those_it_did() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        save_suite(
            root,
            "hnsw",
            vec![
                record("hnsw_search/768d/16", Some(0.5)),
                record("hnsw_search/768d/64", Some(0.8)),
            ],
        )
        .unwrap();
        let (path, problem) = save_suite(
            root,
            "hnsw",
            vec![record("hnsw_search/768d/64", Some(0.85))],
        )
        .unwrap();
        assert!(problem.is_none());
        let q = SuiteQuality::load(&path).unwrap();
        assert_eq!(q.schema, SCHEMA);
        assert_eq!(q.suite, "hnsw");
        let recalls: Vec<(&str, f64)> = q
            .records
            .iter()
            .map(|r| (r.id.as_str(), r.recall.unwrap().value))
            .collect();
        assert_eq!(
            recalls,
            [("hnsw_search/768d/16", 0.5), ("hnsw_search/768d/64", 0.85)]
        );
        // The file round-trips through the type, absent fields absent.
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("selectivity"), "{text}");
        assert!(text.contains("\"mode\": \"hnsw\""), "{text}");
    }

    #[test]
    fn an_id_recorded_many_times_in_a_run_is_saved_once_as_its_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let records = (0..500)
            .map(|i| record("upsert/deepcoder/1", Some(i as f64 / 1000.0)))
            .chain([record("upsert/deepcoder/16", None)])
            .collect();
        let (path, _) = save_suite(dir.path(), "throughput", records).unwrap();
        let saved = SuiteQuality::load(&path).unwrap().records;
        let ids: Vec<&str> = saved.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["upsert/deepcoder/1", "upsert/deepcoder/16"]);
        assert_eq!(saved[0].recall.as_ref().map(|r| r.value), Some(0.499));
    }

    #[test]
    fn another_schema_is_refused_by_name_and_replaced_on_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = suite_path(dir.path(), "latency");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"schema":"qdrant-perf-bench-quality/0","suite":"latency","records":[]}"#,
        )
        .unwrap();
        let e = SuiteQuality::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("qdrant-perf-bench-quality/0") && e.contains(SCHEMA),
            "{e}"
        );
        let (_, problem) =
            save_suite(dir.path(), "latency", vec![record("search/a/1", None)]).unwrap();
        assert!(problem.is_some());
        assert_eq!(SuiteQuality::load(&path).unwrap().records.len(), 1);
    }
}
