//! `cargo bench`'s results as data. Criterion measures time only; the suites in `benches/` also
//! know what each benchmark found (recall@10 against exact ground truth, the filter's
//! selectivity, whether Qdrant walked the HNSW graph or scanned, the setup). Each suite saves
//! those figures, one [`QualityRecord`] per criterion benchmark id, in
//! `<criterion dir>/qdrant-perf/<suite>.json` (schema [`SCHEMA`]); [`read_quality`] and
//! [`read_criterion`] read them back with criterion's own estimates
//! (`<id>/new/estimates.json`). qdrant-perf-render's `bench_summary` draws the page of both.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use qdrant_perf_plumbing::write_atomic;

/// The schema name of a suite's quality file.
pub const SCHEMA: &str = "qdrant-perf-bench-quality/1";
/// The directory under the criterion dir that holds the suites' quality files.
pub const QUALITY_DIR: &str = "qdrant-perf";
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

pub fn criterion_dir_from(
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
            ..Self::default()
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
        let what = "qdrant-perf bench quality file";
        let value: serde_json::Value = load_json(path, what)?;
        let found = value.get("schema").and_then(|s| s.as_str()).unwrap_or("");
        if found != SCHEMA {
            return Err(BenchSummaryError::Schema {
                path: path.to_owned(),
                found: found.into(),
            });
        }
        serde_json::from_value(value).map_err(|source| BenchSummaryError::Malformed {
            path: path.to_owned(),
            what,
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

/// Reads a JSON file (one of criterion's, a suite's records), `what` naming it in its errors.
pub fn load_json<T: serde::de::DeserializeOwned>(path: &Path, what: &'static str) -> Result<T> {
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
    let file: CriterionBenchmarkFile = load_json(benchmark, "criterion benchmark")?;
    let estimates = dir.join("new").join("estimates.json");
    let mean = if estimates.is_file() {
        Some(load_json::<CriterionEstimates>(&estimates, "criterion estimates")?.mean)
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
