//! HNSW and quantization sweeps: a grid over m × ef_construct × ef × quantization (with rescore
//! and oversampling where they apply), measured on one dataset, reported as a table sorted by
//! recall, the Pareto frontier (best QPS for each recall) and an SVG recall-vs-QPS plot: the
//! ann-benchmarks picture for this deployment.
//!
//! Each (m, ef_construct, quantization) is one index build; every search setting (ef, rescore,
//! oversampling) is measured on that build before it is dropped. The report is written
//! (atomically) after every point, so an interrupted sweep keeps what it finished.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use qdrant_perf_data::{Dataset, Metric, mean_recall};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH};
use qdrant_perf_store::{
    AnyStore, CollectionSpec, HnswParams, IndexState, Quantization, Query, Store, StoreError,
};
use serde::{Deserialize, Serialize};

use qdrant_perf_plumbing::{human_bytes, write_atomic};
use qdrant_perf_render::chart;
use qdrant_perf_report::{LatencySummary, Provenance, latency_histogram};

/// Depth of recall: recall@10, as the deployment searches top-10.
pub const DEFAULT_K: usize = 10;

/// The smallest `full_scan_threshold` (KB) the sweep sets when it must lower the deployment's
/// threshold to make Qdrant walk the graph (Qdrant's API accepts 10 and up).
pub const LOWEST_FULL_SCAN_THRESHOLD_KB: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(
        "the grid has problems:\n  - {}\nfix the values named above (example: m = 8,16,32 and ef = 16,32,64,128)",
        problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n  - ")
    )]
    Grid { problems: Vec<GridProblem> },
    #[error(
        "every combination of the grid was rejected:\n  - {}\nwiden the grid",
        rejected.iter().map(|r| format!("{}: {}", r.point, r.reason)).collect::<Vec<_>>().join("\n  - ")
    )]
    NothingToRun { rejected: Vec<Rejected> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Data(#[from] qdrant_perf_data::DataError),
    #[error("writing {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plotting {path}: {message}")]
    Plot { path: PathBuf, message: String },
}

/// Vector quantization of a grid point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantKind {
    None,
    /// int8 scalar quantization (4× smaller than float32).
    Int8,
    /// One bit per dimension (32× smaller).
    Binary,
}

impl QuantKind {
    pub fn name(self) -> &'static str {
        match self {
            QuantKind::None => "none",
            QuantKind::Int8 => "int8",
            QuantKind::Binary => "binary",
        }
    }

    pub fn from_name(s: &str) -> Result<Self, String> {
        match s.trim().to_lowercase().as_str() {
            "none" | "float32" => Ok(QuantKind::None),
            "int8" | "scalar" => Ok(QuantKind::Int8),
            "binary" => Ok(QuantKind::Binary),
            other => Err(format!(
                "unknown quantization {other:?}: expected none, int8 or binary"
            )),
        }
    }

    /// The collection setting: quantized vectors always in RAM, originals where the spec says.
    pub fn quantization(self) -> Quantization {
        match self {
            QuantKind::None => Quantization::None,
            QuantKind::Int8 => Quantization::Scalar {
                quantile: None,
                always_ram: true,
            },
            QuantKind::Binary => Quantization::Binary { always_ram: true },
        }
    }
}

/// The values to sweep; every combination is a grid point.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub m: Vec<usize>,
    pub ef_construct: Vec<usize>,
    pub ef: Vec<usize>,
    pub quantization: Vec<QuantKind>,
    /// Re-score quantized candidates with the original vectors (quantized points only).
    pub rescore: Vec<bool>,
    /// Fetch `k × oversampling` quantized candidates before re-scoring (quantized points only).
    pub oversampling: Vec<f64>,
}

impl Default for Grid {
    /// Around the deployment's m=16 / ef_construct=100: 3 builds per quantization.
    fn default() -> Self {
        Self {
            m: vec![8, 16, 32],
            ef_construct: vec![100],
            ef: vec![10, 20, 40, 80, 160, 320],
            quantization: vec![QuantKind::None, QuantKind::Int8, QuantKind::Binary],
            rescore: vec![true],
            oversampling: vec![1.0, 3.0],
        }
    }
}

/// One index build of the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildSetting {
    pub m: usize,
    pub ef_construct: usize,
    pub quantization: QuantKind,
}

/// One search setting measured on a build.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSetting {
    pub ef: usize,
    /// `None` where quantization is off.
    pub rescore: Option<bool>,
    pub oversampling: Option<f64>,
}

/// A grid point the sweep will not run, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub point: String,
    pub reason: String,
}

/// The runnable part of a grid: builds with their search settings, and what was rejected.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPlan {
    pub builds: Vec<(BuildSetting, Vec<SearchSetting>)>,
    pub rejected: Vec<Rejected>,
}

impl SweepPlan {
    pub fn points(&self) -> usize {
        self.builds.iter().map(|(_, s)| s.len()).sum()
    }
}

/// A grid point in words: `m=16 ef_construct=100 ef=64 quantization=int8 rescore=true ...`.
pub fn describe_point(b: &BuildSetting, s: &SearchSetting) -> String {
    let mut d = format!(
        "m={} ef_construct={} ef={} quantization={}",
        b.m,
        b.ef_construct,
        s.ef,
        b.quantization.name()
    );
    if let Some(r) = s.rescore {
        d.push_str(&format!(" rescore={r}"));
    }
    if let Some(o) = s.oversampling {
        d.push_str(&format!(" oversampling={o}"));
    }
    d
}

/// One impossible value of a grid: the grid's field (`m`, `ef_construct`, `ef`, `quantization`,
/// `rescore`, `oversampling`, `points`), the value and why it cannot run. The CLI names its flag.
#[derive(Clone, Debug, PartialEq)]
pub struct GridProblem {
    pub field: &'static str,
    /// Empty when the field has no value at all.
    pub value: String,
    pub reason: String,
}

impl GridProblem {
    fn new(field: &'static str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        Self {
            field,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for GridProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{} is empty: {}", self.field, self.reason)
        } else {
            write!(f, "{} = {}: {}", self.field, self.value, self.reason)
        }
    }
}

impl Grid {
    /// Checks every value (an impossible value is a [`GridProblem`] naming the field and the fix) and
    /// expands the grid; combinations that make no sense are listed as rejected, with a reason.
    pub fn plan(&self, k: usize, metric: Metric, points: usize) -> Result<SweepPlan, SweepError> {
        let problems = self.problems(k, points);
        if !problems.is_empty() {
            return Err(SweepError::Grid { problems });
        }
        let (mut builds, mut rejected) = (Vec::new(), Vec::new());
        for &m in &self.m {
            for &ef_construct in &self.ef_construct {
                for &quantization in &self.quantization {
                    let build = BuildSetting {
                        m,
                        ef_construct,
                        quantization,
                    };
                    let mut runnable = Vec::new();
                    for s in self.search_settings(quantization) {
                        match build.rejection(metric).or_else(|| s.rejection()) {
                            Some(reason) => rejected.push(Rejected {
                                point: describe_point(&build, &s),
                                reason,
                            }),
                            None => runnable.push(s),
                        }
                    }
                    if !runnable.is_empty() {
                        builds.push((build, runnable));
                    }
                }
            }
        }
        if builds.is_empty() {
            return Err(SweepError::NothingToRun { rejected });
        }
        Ok(SweepPlan { builds, rejected })
    }

    /// Every impossible value of the grid for a top-`k` search over `points` stored points: an
    /// empty field, or a value below the least that runs.
    fn problems(&self, k: usize, points: usize) -> Vec<GridProblem> {
        let mut problems = Vec::new();
        let mut check = |field: &'static str, values: Vec<f64>, least: f64, reason: &str| {
            if values.is_empty() {
                problems.push(GridProblem::new(field, "", "give at least one value"));
            }
            for v in values
                .into_iter()
                .filter(|v| !(v.is_finite() && *v >= least))
            {
                problems.push(GridProblem::new(field, v, reason));
            }
        };
        let all = |v: &[usize]| v.iter().map(|&x| x as f64).collect();
        let links = "an HNSW graph needs at least 2 links per node (m >= 2)";
        check("m", all(&self.m), 2.0, links);
        let ef_construct = "Qdrant requires ef_construct >= 4";
        check("ef_construct", all(&self.ef_construct), 4.0, ef_construct);
        let beam =
            format!("below k={k}, the search beam cannot hold the {k} results asked for (ef >= k)");
        check("ef", all(&self.ef), k as f64, &beam);
        // No value of these two is too small: only an empty one is a problem.
        check("quantization", vec![0.0; self.quantization.len()], 0.0, "");
        check("rescore", vec![0.0; self.rescore.len()], 0.0, "");
        let oversampling = "must be a number >= 1 (1 = no oversampling)";
        check("oversampling", self.oversampling.clone(), 1.0, oversampling);
        check(
            "points",
            vec![points as f64],
            k as f64 + 1.0,
            &format!("a top-{k} search needs more than {k} stored points"),
        );
        problems
    }

    /// The search settings of a build with `quantization`: every ef, and with quantization every
    /// rescore and oversampling at each.
    fn search_settings(&self, quantization: QuantKind) -> Vec<SearchSetting> {
        let quantized = self
            .rescore
            .iter()
            .flat_map(|&r| self.oversampling.iter().map(move |&o| (Some(r), Some(o))));
        let variants: Vec<_> = match quantization {
            QuantKind::None => vec![(None, None)],
            _ => quantized.collect(),
        };
        let settings = |ef| {
            variants
                .iter()
                .map(move |&(rescore, oversampling)| SearchSetting {
                    ef,
                    rescore,
                    oversampling,
                })
        };
        self.ef.iter().flat_map(|&ef| settings(ef)).collect()
    }
}

impl BuildSetting {
    /// Why a build cannot run with `metric`, if it cannot.
    fn rejection(&self, metric: Metric) -> Option<String> {
        if self.ef_construct < self.m {
            Some(format!(
                "ef_construct {} < m {}: the build beam is narrower than the links it fills; use \
                 ef_construct >= m",
                self.ef_construct, self.m
            ))
        } else if self.quantization == QuantKind::Binary && metric == Metric::Euclid {
            Some(
                "binary quantization keeps one sign bit per dimension, which cannot rank Euclid \
                 distances between vectors of different norms; use int8 for Euclid, or a \
                 Cosine/Dot collection"
                    .into(),
            )
        } else {
            None
        }
    }
}

impl SearchSetting {
    /// Why a search setting makes no sense, if it does not.
    fn rejection(&self) -> Option<String> {
        (self.rescore == Some(false) && self.oversampling.is_some_and(|o| o > 1.0)).then(|| {
            "oversampling without rescoring returns the same top-k as no oversampling; use \
             rescore = true, or oversampling = 1"
                .into()
        })
    }
}

/// The `full_scan_threshold` (KB) to build with, and a note when it differs from the request:
/// Qdrant searches a segment by plain scan below the threshold, so when the segments would be
/// smaller than the deployment's threshold the sweep lowers it to make Qdrant walk the graph.
pub fn choose_full_scan_threshold(
    deployment_kb: usize,
    points: usize,
    dim: usize,
    segments: usize,
) -> (usize, Option<String>) {
    let threshold_vectors = deployment_kb * 1024 / (dim * 4).max(1);
    let per_segment = points / segments.max(1);
    if per_segment >= threshold_vectors {
        (deployment_kb, None)
    } else {
        (
            LOWEST_FULL_SCAN_THRESHOLD_KB,
            Some(format!(
                "full_scan_threshold lowered from {deployment_kb} KB to \
                 {LOWEST_FULL_SCAN_THRESHOLD_KB} KB: at {dim} dimensions the deployment's \
                 threshold covers {threshold_vectors} vectors, more than the {per_segment} per \
                 segment here, and Qdrant would answer by a plain scan instead of walking HNSW"
            )),
        )
    }
}

/// How Qdrant answered the searches of a build: through the graph, or by a plain scan.
/// `graph_segments` is the number of segments holding an HNSW graph where known (the embedded
/// engine keeps an extra, empty appendable segment beside them, which `state.segments` counts);
/// otherwise every segment is assumed to hold an equal share.
pub fn search_mode(
    state: &IndexState,
    dim: usize,
    full_scan_threshold_kb: usize,
    graph_segments: Option<usize>,
) -> &'static str {
    let threshold_vectors = full_scan_threshold_kb * 1024 / (dim * 4).max(1);
    let segments = graph_segments.unwrap_or(state.segments).max(1);
    let per_segment = state.points / segments;
    if state.indexed_vectors >= state.points && per_segment >= threshold_vectors {
        "hnsw"
    } else {
        "scan"
    }
}

/// Segments of an embedded collection that hold an HNSW graph (`vector_index/graph.bin`).
pub fn graph_segments_in(dir: &Path) -> Option<usize> {
    let entries = std::fs::read_dir(dir.join("segments")).ok()?;
    Some(
        entries
            .flatten()
            .filter(|e| e.path().join("vector_index").join("graph.bin").exists())
            .count(),
    )
}

/// [`graph_segments_in`] of a collection, for the embedded engine; `None` on a server.
pub fn graph_segments(store: &AnyStore, spec: &CollectionSpec) -> Option<usize> {
    match store {
        AnyStore::Edge(edge) => graph_segments_in(&edge.collection_dir(spec)),
        _ => None,
    }
}

/// Latency, throughput and recall of one set of queries.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SearchMeasurement {
    pub recall: f64,
    /// One query at a time, from one task: latency percentiles over every query.
    pub latency: LatencySummary,
    pub qps_single: f64,
    /// `threads` tasks issuing queries back to back.
    pub qps_all: f64,
    pub threads: usize,
    pub queries: usize,
}

/// Bytes of a built collection's files by what they hold. With vectors in RAM (the suite's
/// default), Qdrant keeps vectors, quantized vectors and the graph in memory: their sum is the
/// collection's resident size, the figure capacity planning needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryBreakdown {
    /// Original (float32) vectors.
    pub vectors_bytes: u64,
    /// Quantized vectors (int8 or binary codes).
    pub quantized_bytes: u64,
    /// The HNSW graph (links).
    pub index_bytes: u64,
    /// Everything else: id tracker, payload, write-ahead log.
    pub other_bytes: u64,
    pub disk_bytes: u64,
    /// Growth of this process's resident memory while the collection was built (embedded engine
    /// only; approximate: allocator slack, and memory freed by an earlier build is reused).
    pub rss_growth_bytes: Option<u64>,
}

impl MemoryBreakdown {
    /// Vectors + quantized vectors + graph: what Qdrant holds in RAM with vectors in RAM.
    pub fn resident_bytes(&self) -> u64 {
        self.vectors_bytes + self.quantized_bytes + self.index_bytes
    }

    /// Sums the files under a collection directory of the embedded engine.
    pub fn of_dir(dir: &Path) -> std::io::Result<Self> {
        let mut b = MemoryBreakdown::default();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                let path = entry.path();
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                let len = meta.len();
                b.disk_bytes += len;
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let in_dir = |n: &str| rel.components().any(|c| c.as_os_str() == n);
                let file = path.file_name().map(|f| f.to_string_lossy());
                if in_dir("vector_index") {
                    b.index_bytes += len;
                } else if in_dir("vector_storage")
                    && file.is_some_and(|f| f.starts_with("quantized"))
                {
                    b.quantized_bytes += len;
                } else if in_dir("vector_storage") {
                    b.vectors_bytes += len;
                } else {
                    b.other_bytes += len;
                }
            }
        }
        Ok(b)
    }
}

/// One measured grid point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepPoint {
    pub build: BuildSetting,
    pub search: SearchSetting,
    /// Upload plus index build, seconds (the same for every point of one build).
    pub build_seconds: f64,
    pub index_seconds: f64,
    /// Segments holding the points (HNSW segments on the embedded engine).
    pub segments: usize,
    /// `hnsw` or `scan`: how Qdrant answered (see [`search_mode`]).
    pub mode: String,
    pub memory: Option<MemoryBreakdown>,
    pub recall: f64,
    pub latency: LatencySummary,
    pub qps_single: f64,
    pub qps_all: f64,
    pub threads: usize,
    pub queries: usize,
}

/// Everything a sweep measured, with its provenance.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub kind: &'static str,
    pub provenance: std::collections::BTreeMap<String, serde_json::Value>,
    pub engine: String,
    pub dataset: qdrant_perf_data::DatasetSpec,
    pub dataset_hash: String,
    /// The dataset's LID and RC (see [`qdrant_perf_data::Hardness`]).
    pub dataset_hardness: Option<qdrant_perf_data::Hardness>,
    pub k: usize,
    pub full_scan_threshold_kb: usize,
    pub segments_requested: usize,
    pub notes: Vec<String>,
    pub rejected: Vec<Rejected>,
    /// False while running or when interrupted.
    pub complete: bool,
    pub points: Vec<SweepPoint>,
}

/// What the sweep runs on and where it writes.
pub struct SweepConfig {
    pub k: usize,
    pub full_scan_threshold_kb: usize,
    pub segments: usize,
    pub threads: usize,
    pub json: PathBuf,
    pub prefix: String,
}

impl BuildSetting {
    /// The build's collection of `dataset` on `config`'s segments and full-scan threshold.
    fn collection(&self, config: &SweepConfig, dataset: &Dataset) -> CollectionSpec {
        let name = format!(
            "{}sweep_m{}_efc{}_{}",
            config.prefix,
            self.m,
            self.ef_construct,
            self.quantization.name()
        );
        let hnsw = HnswParams {
            m: self.m,
            ef_construct: self.ef_construct,
            full_scan_threshold: config.full_scan_threshold_kb,
        };
        CollectionSpec {
            segments: Some(config.segments),
            ..CollectionSpec::new(name, dataset.spec.dim, dataset.spec.metric)
                .with_hnsw(hnsw)
                .with_quantization(self.quantization.quantization())
        }
    }
}

/// Writes `text` to `path` atomically.
fn write_file(path: &Path, text: &str) -> Result<(), SweepError> {
    write_atomic(path, text.as_bytes()).map_err(io_error(path))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    |source| SweepError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Saves a report as pretty JSON, atomically.
pub fn save_json<T: Serialize>(value: &T, path: &Path) -> Result<(), SweepError> {
    write_file(
        path,
        &(serde_json::to_string_pretty(value).expect("a report serialises") + "\n"),
    )
}

/// A collection once built (see [`build`]).
pub(crate) struct Built {
    /// Upload plus index build, and the index build alone, seconds.
    pub seconds: f64,
    pub index_seconds: f64,
    pub memory: Option<MemoryBreakdown>,
    /// Segments holding the points (HNSW segments on the embedded engine).
    pub segments: usize,
    /// See [`search_mode`].
    pub mode: &'static str,
}

/// Builds `spec` from `dataset`'s points, timed from nothing (on a server a leftover of an
/// interrupted run, our prefix, is dropped first), and reads its memory and how Qdrant will
/// search it (see [`Built`]); drops the collection again when that fails.
pub(crate) async fn build(
    store: &Arc<AnyStore>,
    spec: &CollectionSpec,
    dataset: &Dataset,
) -> Result<Built, SweepError> {
    if !matches!(**store, AnyStore::Edge(_)) {
        let _ = store.drop_owned(&spec.name).await;
    }
    let started = Instant::now();
    let built = async {
        let loaded =
            fixture::load_collection(&**store, spec, &dataset.points, DEFAULT_BATCH).await?;
        let seconds = started.elapsed().as_secs_f64();
        // The embedded engine's files: which segments hold a graph, and what the collection
        // holds; a server's are not seen.
        let (graph, memory) = match &**store {
            AnyStore::Edge(edge) => {
                let dir = edge.collection_dir(spec);
                let mut memory = MemoryBreakdown::of_dir(&dir).map_err(io_error(&dir))?;
                memory.rss_growth_bytes = edge.footprint(&spec.name).await?.ram_bytes;
                (graph_segments_in(&dir), Some(memory))
            }
            _ => (None, None),
        };
        let fst = spec.hnsw.full_scan_threshold;
        Ok(Built {
            seconds,
            index_seconds: loaded.index.seconds,
            memory,
            segments: graph.unwrap_or(loaded.index.segments),
            mode: search_mode(&loaded.index, spec.dim, fst, graph),
        })
    }
    .await;
    if built.is_err() {
        let _ = store.drop_owned(&spec.name).await;
    }
    built
}

/// Measures `dataset`'s queries with `setting` on collection `name`: a warm-up pass over up to
/// 100 queries, one single-thread pass (latency into an HdrHistogram, recall@k against exact
/// ground truth, QPS), then one pass with `threads` concurrent tasks (QPS). Needs a
/// multi-threaded tokio runtime for the second pass. Drops the collection when a search fails.
pub async fn measure_search(
    store: &Arc<AnyStore>,
    name: &str,
    dataset: &Dataset,
    setting: SearchSetting,
    k: usize,
    threads: usize,
) -> Result<SearchMeasurement, SweepError> {
    let queries: Arc<Vec<Query>> = Arc::new(
        fixture::queries(&dataset.queries, k, Some(setting.ef))
            .into_iter()
            .map(|q| Query {
                rescore: setting.rescore,
                oversampling: setting.oversampling,
                ..q
            })
            .collect(),
    );
    let measured = async {
        for q in queries.iter().take(100) {
            store.search(name, q).await?;
        }
        let mut hist = latency_histogram();
        let mut found: Vec<Vec<u64>> = Vec::with_capacity(queries.len());
        let started = Instant::now();
        for q in queries.iter() {
            let t = Instant::now();
            let r = store.search(name, q).await?;
            hist.saturating_record(t.elapsed().as_micros().max(1) as u64);
            found.push(r.hits.iter().map(|h| h.id).collect());
        }
        let single = started.elapsed().as_secs_f64();
        let recall = mean_recall(found.iter().map(Vec::as_slice), |i| dataset.truth.ids(i), k);

        let threads = threads.max(1);
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(threads);
        for t in 0..threads {
            let (store, queries, name) = (store.clone(), queries.clone(), name.to_string());
            tasks.push(tokio::spawn(async move {
                for q in queries.iter().skip(t).step_by(threads) {
                    store.search(&name, q).await?;
                }
                Ok::<(), StoreError>(())
            }));
        }
        for task in tasks {
            task.await.expect("search task panicked")?;
        }
        let all = started.elapsed().as_secs_f64();
        let n = queries.len();
        Ok::<_, StoreError>(SearchMeasurement {
            recall,
            latency: LatencySummary::from_histogram(&hist),
            qps_single: n as f64 / single.max(1e-9),
            qps_all: n as f64 / all.max(1e-9),
            threads,
            queries: n,
        })
    }
    .await;
    if measured.is_err() {
        let _ = store.drop_owned(name).await;
    }
    Ok(measured?)
}

/// Runs the plan on `store`: one build per [`BuildSetting`], every search setting on it, the
/// collection dropped after. Writes the report after every point; stops between points when
/// `stop` is set (Ctrl-C), keeping what it finished.
pub async fn run_sweep(
    store: Arc<AnyStore>,
    dataset: &Dataset,
    plan: &SweepPlan,
    config: &SweepConfig,
    notes: Vec<String>,
    stop: &AtomicBool,
    mut progress: impl FnMut(&SweepPoint),
) -> Result<SweepReport, SweepError> {
    let mut report = SweepReport {
        kind: "qdrant-perf sweep",
        provenance: Provenance::capture().to_map(),
        engine: store.engine_version(),
        dataset: dataset.spec.clone(),
        dataset_hash: dataset.spec.hash(),
        dataset_hardness: dataset.hardness().ok(),
        k: config.k,
        full_scan_threshold_kb: config.full_scan_threshold_kb,
        segments_requested: config.segments,
        notes,
        rejected: plan.rejected.clone(),
        complete: false,
        points: Vec::new(),
    };
    save_json(&report, &config.json)?;
    'builds: for (build_setting, settings) in &plan.builds {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let spec = build_setting.collection(config, dataset);
        let built = build(&store, &spec, dataset).await?;
        for &search in settings {
            if stop.load(Ordering::SeqCst) {
                store.drop_owned(&spec.name).await?;
                break 'builds;
            }
            let m = measure_search(
                &store,
                &spec.name,
                dataset,
                search,
                config.k,
                config.threads,
            )
            .await?;
            let point = SweepPoint {
                build: *build_setting,
                search,
                build_seconds: built.seconds,
                index_seconds: built.index_seconds,
                segments: built.segments,
                mode: built.mode.into(),
                memory: built.memory.clone(),
                recall: m.recall,
                latency: m.latency,
                qps_single: m.qps_single,
                qps_all: m.qps_all,
                threads: m.threads,
                queries: m.queries,
            };
            progress(&point);
            report.points.push(point);
            save_json(&report, &config.json)?;
        }
        store.drop_owned(&spec.name).await?;
    }
    report.complete = !stop.load(Ordering::SeqCst);
    save_json(&report, &config.json)?;
    Ok(report)
}

/// Indices of the Pareto frontier of (recall, qps) pairs: the points no other point beats on
/// both (recall >= and qps >=, one strictly), ordered by recall from high to low. For each
/// recall it is the best QPS the grid reached.
pub fn pareto_frontier(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[b]
            .0
            .total_cmp(&points[a].0)
            .then(points[b].1.total_cmp(&points[a].1))
    });
    let mut best_qps = f64::NEG_INFINITY;
    let mut frontier = Vec::new();
    for i in order {
        if points[i].1 > best_qps {
            best_qps = points[i].1;
            frontier.push(i);
        }
    }
    frontier
}

fn quant_label(p: &SweepPoint) -> String {
    match (p.search.rescore, p.search.oversampling) {
        (Some(r), Some(o)) => format!(
            "{}{} x{o}",
            p.build.quantization.name(),
            if r { "+rescore" } else { "" }
        ),
        _ => p.build.quantization.name().into(),
    }
}

fn row(p: &SweepPoint) -> String {
    format!(
        "| {:>3} | {:>5} | {:>4} | {:<20} | {:.4} | {:>8.3} | {:>8.3} | {:>8.0} | {:>8.0} | {:>7.1} | {:>10} | {} |",
        p.build.m,
        p.build.ef_construct,
        p.search.ef,
        quant_label(p),
        p.recall,
        p.latency.p50_ms,
        p.latency.p99_ms,
        p.qps_single,
        p.qps_all,
        p.build_seconds,
        p.memory
            .as_ref()
            .map_or("n/a".into(), |m| human_bytes(m.resident_bytes() as f64)),
        p.mode,
    )
}

/// `points` as a Markdown table, one row each.
fn table<'a>(points: impl IntoIterator<Item = &'a SweepPoint>) -> String {
    let header = "|   m | ef_c  |  ef  | quantization         | recall |  p50 ms  |  p99 ms  |   QPS 1  | QPS all  | build s | index+vec  | mode |\n|----:|------:|-----:|----------------------|-------:|---------:|---------:|---------:|---------:|--------:|-----------:|------|\n";
    points
        .into_iter()
        .fold(header.to_string(), |s, p| s + &row(p) + "\n")
}

impl SweepReport {
    /// Every point, sorted by recall (high to low), as a Markdown table.
    pub fn table(&self) -> String {
        let mut order: Vec<&SweepPoint> = self.points.iter().collect();
        order.sort_by(|a, b| {
            b.recall
                .total_cmp(&a.recall)
                .then(b.qps_single.total_cmp(&a.qps_single))
        });
        table(order)
    }

    /// The points on the recall/single-thread-QPS frontier, best recall first.
    pub fn frontier(&self) -> Vec<&SweepPoint> {
        let pairs: Vec<(f64, f64)> = self
            .points
            .iter()
            .map(|p| (p.recall, p.qps_single))
            .collect();
        pareto_frontier(&pairs)
            .into_iter()
            .map(|i| &self.points[i])
            .collect()
    }

    pub fn frontier_table(&self) -> String {
        table(self.frontier())
    }

    /// A one-paragraph summary of what the figures are.
    pub fn legend(&self) -> String {
        let q = self.points.first().map_or(0, |p| p.queries);
        let threads = self.points.first().map_or(0, |p| p.threads);
        format!(
            "recall@{k} against exact ground truth over {q} held-out queries per point; p50/p99 \
             from an HdrHistogram of the same {q} queries, one at a time; QPS 1 = one query at a \
             time, QPS all = {threads} concurrent tasks; build = upload + HNSW build; index+vec = \
             bytes of vectors, quantized vectors and graph (resident with vectors in RAM); mode \
             hnsw = Qdrant walked the graph, scan = plain scan below full_scan_threshold. \
             {} points, {} dimensions, {} distribution{}, {} on {}.",
            self.dataset.points,
            self.dataset.dim,
            self.dataset.distribution.name(),
            self.dataset_hardness
                .as_ref()
                .map_or(String::new(), |h| format!(" ({})", h.describe())),
            self.dataset.metric.name(),
            self.engine,
            k = self.k,
        )
    }

    /// Recall vs single-thread QPS: every point, the frontier as a line.
    fn panel(&self) -> chart::Panel {
        let plotted = |label: String, points: Vec<&SweepPoint>, line| chart::Series {
            label,
            points: points.iter().map(|p| (p.recall, p.qps_single)).collect(),
            line,
        };
        let mut series: Vec<chart::Series> = [QuantKind::None, QuantKind::Int8, QuantKind::Binary]
            .into_iter()
            .map(|q| {
                let of_q = self.points.iter().filter(|p| p.build.quantization == q);
                plotted(format!("quantization {}", q.name()), of_q.collect(), false)
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        // The frontier comes best recall first (every recall once): the line goes left to right.
        let frontier = self.frontier().into_iter().rev().collect();
        series.push(plotted("Pareto frontier".into(), frontier, true));
        chart::Panel {
            title: format!(
                "recall@{} vs QPS (1 thread): {} x {}d, {}",
                self.k, self.dataset.points, self.dataset.dim, self.engine
            ),
            x_label: format!("recall@{}", self.k),
            y_label: "queries per second (1 thread, log)".into(),
            series,
            x_axis: chart::Axis::Linear,
            y_axis: chart::Axis::Log,
        }
    }

    /// The recall-vs-QPS chart (see `panel`) as an SVG file.
    pub fn write_svg(&self, path: &Path) -> Result<(), SweepError> {
        write_svg(path, &[self.panel()])
    }

    /// The sweep as a self-contained page: the recall-vs-QPS Pareto chart, the frontier and
    /// every point, the notes and the provenance.
    pub fn write_html(&self, path: &Path) -> Result<(), SweepError> {
        let tables = [
            (
                "Pareto frontier (best single-thread QPS for each recall)",
                self.frontier_table(),
            ),
            ("All points, by recall", self.table()),
        ];
        results_page(
            path,
            "qdrant-perf sweep",
            &self.legend(),
            &[self.panel()],
            &tables,
            &self.notes,
            &self.provenance,
        )
    }
}

/// `panels` as one SVG figure, written atomically to `path`.
pub(crate) fn write_svg(path: &Path, panels: &[chart::Panel]) -> Result<(), SweepError> {
    write_file(path, &chart::figure(panels).map_err(plot_error(path))?)
}

fn plot_error(path: &Path) -> impl FnOnce(String) -> SweepError + '_ {
    |message| SweepError::Plot {
        path: path.to_owned(),
        message,
    }
}

/// A tuning experiment's page (sweep, scale) written atomically to `path`: its charts, its
/// Markdown tables as HTML, its notes and its provenance.
pub(crate) fn results_page(
    path: &Path,
    title: &str,
    intro: &str,
    panels: &[chart::Panel],
    tables: &[(&str, String)],
    notes: &[String],
    provenance: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Result<(), SweepError> {
    use qdrant_perf_render::html;
    let mut body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n",
        html::escape(title),
        html::escape(intro)
    );
    for p in panels {
        body.push_str(&chart::html_chart(p).map_err(plot_error(path))?);
    }
    for (heading, md) in tables {
        body.push_str(&format!("<h2>{}</h2>\n", html::escape(heading)));
        body.push_str(&html::markdown_table(md));
    }
    if !notes.is_empty() {
        body.push_str("<h2>Notes</h2>\n<ul>\n");
        for n in notes {
            body.push_str(&format!("<li>{}</li>\n", html::escape(n)));
        }
        body.push_str("</ul>\n");
    }
    body.push_str("<h2>Provenance</h2>\n");
    body.push_str(&html::facts_table(
        "provenance",
        html::provenance_rows(provenance),
    ));
    write_file(path, &html::page(title, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_values_are_refused_naming_the_field() {
        let grid = Grid {
            m: vec![1, 16],
            ef: vec![5, 64],
            ef_construct: vec![2],
            oversampling: vec![0.5],
            ..Grid::default()
        };
        let err = grid.plan(10, Metric::Cosine, 1000).unwrap_err().to_string();
        for needle in [
            "m = 1: ",
            "m >= 2",
            "ef = 5: ",
            "ef >= k",
            "ef_construct = 2: ",
            "oversampling = 0.5: ",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
        assert!(!err.contains("m = 16"), "{err}");
        let err = Grid {
            ef: vec![],
            ..Grid::default()
        }
        .plan(10, Metric::Cosine, 1000)
        .unwrap_err()
        .to_string();
        assert!(err.contains("ef is empty"), "{err}");
        let err = Grid::default()
            .plan(10, Metric::Cosine, 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("points = 10: "), "{err}");
    }

    #[test]
    fn nonsense_combinations_are_rejected_with_a_reason_and_the_rest_runs() {
        let grid = Grid {
            m: vec![16],
            ef_construct: vec![8, 100],
            ef: vec![10, 40],
            quantization: vec![QuantKind::None, QuantKind::Binary, QuantKind::Int8],
            rescore: vec![true, false],
            oversampling: vec![1.0, 2.0],
        };
        let plan = grid.plan(10, Metric::Euclid, 1000).unwrap();
        // ef_construct 8 < m 16: all of its points rejected.
        assert!(plan.builds.iter().all(|(b, _)| b.ef_construct == 100));
        // Binary under Euclid: rejected; int8 and none run.
        let kinds: Vec<QuantKind> = plan.builds.iter().map(|(b, _)| b.quantization).collect();
        assert_eq!(kinds, vec![QuantKind::None, QuantKind::Int8]);
        assert!(
            plan.rejected
                .iter()
                .any(|r| r.point.contains("binary") && r.reason.contains("Euclid"))
        );
        assert!(
            plan.rejected
                .iter()
                .any(|r| r.reason.contains("ef_construct >= m"))
        );
        // rescore=false with oversampling 2 is rejected; rescore=false at 1 runs.
        let int8 = &plan.builds[1].1;
        assert_eq!(int8.len(), 2 * 3); // ef 2 × (true,1) (true,2) (false,1)
        assert!(
            !int8
                .iter()
                .any(|s| s.rescore == Some(false) && s.oversampling == Some(2.0))
        );
        // Quantization off: one setting per ef, no rescore or oversampling.
        assert_eq!(plan.builds[0].1.len(), 2);
        assert!(plan.builds[0].1.iter().all(|s| s.rescore.is_none()));
        assert_eq!(plan.points(), 8);
    }

    #[test]
    fn a_grid_with_nothing_runnable_is_an_error() {
        let grid = Grid {
            quantization: vec![QuantKind::Binary],
            ..Grid::default()
        };
        let err = grid.plan(10, Metric::Euclid, 1000).unwrap_err().to_string();
        assert!(err.contains("int8 for Euclid"), "{err}");
    }

    #[test]
    fn the_frontier_keeps_the_best_qps_for_each_recall() {
        // (recall, qps)
        let pts = [
            (0.80, 5000.0), // 0: frontier (fastest)
            (0.90, 3000.0), // 1: frontier
            (0.85, 2500.0), // 2: dominated by 1
            (0.99, 800.0),  // 3: frontier (best recall)
            (0.99, 700.0),  // 4: same recall, slower: dominated by 3
            (0.70, 4000.0), // 5: dominated by 0
            (0.95, 1200.0), // 6: frontier
        ];
        assert_eq!(pareto_frontier(&pts), vec![3, 6, 1, 0]);
        assert!(pareto_frontier(&[]).is_empty());
        assert_eq!(pareto_frontier(&[(0.5, 1.0)]), vec![0]);
    }

    #[test]
    fn the_threshold_is_lowered_only_when_segments_are_below_it() {
        // 20,000 KB at 768 d covers 6,666 vectors.
        assert_eq!(
            choose_full_scan_threshold(20_000, 20_000, 768, 1),
            (20_000, None)
        );
        let (kb, note) = choose_full_scan_threshold(20_000, 2_000, 768, 1);
        assert_eq!(kb, LOWEST_FULL_SCAN_THRESHOLD_KB);
        assert!(note.unwrap().contains("6666 vectors"));
        let (kb, _) = choose_full_scan_threshold(20_000, 10_000, 768, 2);
        assert_eq!(kb, LOWEST_FULL_SCAN_THRESHOLD_KB);
        let state = IndexState {
            points: 20_000,
            indexed_vectors: 20_000,
            segments: 1,
            seconds: 1.0,
        };
        assert_eq!(search_mode(&state, 768, 20_000, None), "hnsw");
        let four = IndexState {
            segments: 4,
            ..state.clone()
        };
        assert_eq!(search_mode(&four, 768, 20_000, None), "scan");
        // Two of the four hold graphs: 10,000 points each, above 6,666.
        assert_eq!(search_mode(&four, 768, 20_000, Some(2)), "hnsw");
        let partly = IndexState {
            indexed_vectors: 10_000,
            ..state.clone()
        };
        assert_eq!(search_mode(&partly, 768, 20_000, Some(1)), "scan");
    }

    #[test]
    fn files_are_sorted_into_vectors_quantized_graph_and_other() {
        let dir = tempfile::tempdir().unwrap();
        let seg = dir.path().join("segments/abc");
        std::fs::create_dir_all(seg.join("vector_storage/vectors")).unwrap();
        std::fs::create_dir_all(seg.join("vector_index")).unwrap();
        std::fs::create_dir_all(dir.path().join("wal")).unwrap();
        std::fs::write(seg.join("vector_storage/vectors/chunk_0.mmap"), [0u8; 100]).unwrap();
        std::fs::write(seg.join("vector_storage/quantized.data"), [0u8; 25]).unwrap();
        std::fs::write(seg.join("vector_index/links.bin"), [0u8; 40]).unwrap();
        std::fs::write(dir.path().join("wal/open-1"), [0u8; 7]).unwrap();
        std::fs::create_dir_all(dir.path().join("segments/appendable/vector_storage")).unwrap();
        assert_eq!(graph_segments_in(dir.path()), Some(0));
        std::fs::write(seg.join("vector_index/graph.bin"), [0u8; 0]).unwrap();
        assert_eq!(graph_segments_in(dir.path()), Some(1));
        let b = MemoryBreakdown::of_dir(dir.path()).unwrap();
        assert_eq!(
            (
                b.vectors_bytes,
                b.quantized_bytes,
                b.index_bytes,
                b.other_bytes
            ),
            (100, 25, 40, 7)
        );
        assert_eq!(b.disk_bytes, 172);
        assert_eq!(b.resident_bytes(), 165);
    }
}
