//! Instruction counts of the suite's hot paths that need no server: the generator, exact ground
//! truth, and HNSW search on the embedded engine. Unlike wall time, an instruction count does not
//! move with a noisy neighbour, a CPU frequency change or a busy runner, so a gate on it can use a
//! tight threshold (see `docs/regression-gate.md`).
//!
//! How it works, with nothing but valgrind installed (no `cargo install`):
//! - `qdrant-perf hot-path NAME` ([`run_hot_path`]) prepares a fixed small workload, then runs the
//!   measured part inside [`measured`], on the calling thread (a one-thread rayon pool that *is*
//!   the calling thread, so parallel code runs there too);
//! - [`count_instructions`] runs that command under `valgrind --tool=callgrind
//!   --collect-atstart=no --toggle-collect=<measured>`, so only the instructions executed inside
//!   [`measured`] are counted: not the setup, not the process start, not the engine's background
//!   threads; it reads the total from callgrind's output file and returns a [`RunReport`]
//!   (unit `instructions`, lower is better, exact: no interval), ready for
//!   [`qdrant_perf_gate::compare::compare_reports`].
//!
//! The search workload needs a built index: it is cached like the benches' (under the dataset's
//! directory), and `scripts/instructions` builds it once outside valgrind, so valgrind only times
//! loading and searching. A count depends on the CPU features the code dispatches on (valgrind
//! reports its own set, up to AVX2), so compare counts from the same machine.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use qdrant_perf_data::{Dataset, DatasetCache, DatasetSpec, Metric, Part, generate, ground_truth};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH};
use qdrant_perf_store::{EdgeStore, Guard, Profiles};

use qdrant_perf_gate::callgrind::{self, CallgrindError};
use qdrant_perf_gate::compare::{Direction, Measurement as ReportMetric, RunReport};

/// The function whose instructions are counted (callgrind matches the demangled name).
pub const MEASURED_SYMBOL: &str = "qdrant_perf_load::instructions::measured";

/// The workloads: small and fixed, so that a count is comparable across commits.
pub const GENERATE_DIM: usize = 768;
pub const GENERATE_POINTS: usize = 2_000;
pub const GT_DIM: usize = 256;
pub const GT_POINTS: usize = 2_000;
pub const GT_QUERIES: usize = 100;
pub const GT_K: usize = 10;
/// The search workload's collection profile (dimension and distance) and sizes.
pub const SEARCH_PROFILE: &str = "deepcoder";
pub const SEARCH_POINTS: usize = 2_000;
pub const SEARCH_QUERIES: usize = 100;
/// Below the collection's size (2,000 x 768 x 4 B = 6,000 KB), so searches use the HNSW graph.
pub const SEARCH_FULL_SCAN_THRESHOLD_KB: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum InstructionsError {
    #[error("unknown hot path {0:?}: use generate, ground_truth or search")]
    UnknownHotPath(String),
    #[error("{0}")]
    Data(#[from] qdrant_perf_data::DataError),
    #[error("{0}")]
    Store(#[from] qdrant_perf_store::StoreError),
    #[error("{0}")]
    Profile(#[from] qdrant_perf_store::ProfileError),
    #[error("cannot make a one-thread rayon pool for the measured part: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
    #[error(
        "cannot run valgrind ({0}): install it (`apt-get install valgrind`) or skip the \
         instruction-count gate"
    )]
    NoValgrind(std::io::Error),
    #[error("hot path {path} failed ({status}); its output:\n{stderr}")]
    Valgrind {
        path: String,
        status: String,
        stderr: String,
    },
    #[error(transparent)]
    Callgrind(#[from] CallgrindError),
    #[error("cannot run or write {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = InstructionsError> = std::result::Result<T, E>;

/// A hot path whose instructions are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotPath {
    /// `generate`: 2,000 clustered 768-d points from the seeded generator.
    Generate,
    /// `ground_truth`: exact top-10 of 100 queries over 2,000 256-d points (GEMM + heaps).
    GroundTruth,
    /// `search`: 100 top-10 HNSW searches (ef=128) on 2,000 768-d cosine points in the embedded
    /// engine (one segment, full-scan threshold lowered so the graph is used), the index loaded
    /// from the cache.
    Search,
}

impl HotPath {
    pub const ALL: [HotPath; 3] = [HotPath::Generate, HotPath::GroundTruth, HotPath::Search];

    pub fn name(self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::GroundTruth => "ground_truth",
            Self::Search => "search",
        }
    }

    /// What the workload is, for the report's provenance.
    pub fn describe(self) -> String {
        match self {
            Self::Generate => format!("{GENERATE_POINTS} clustered points, dim {GENERATE_DIM}"),
            Self::GroundTruth => {
                format!(
                    "exact top-{GT_K} of {GT_QUERIES} queries over {GT_POINTS} points, dim {GT_DIM}, cosine"
                )
            }
            Self::Search => format!(
                "{SEARCH_QUERIES} hnsw top-k searches on {SEARCH_POINTS} points of profile {SEARCH_PROFILE}, \
                 one segment, full_scan_threshold {SEARCH_FULL_SCAN_THRESHOLD_KB} KB"
            ),
        }
    }
}

impl FromStr for HotPath {
    type Err = InstructionsError;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| InstructionsError::UnknownHotPath(s.into()))
    }
}

impl fmt::Display for HotPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The counted region: callgrind collects only while this function is on the stack.
#[inline(never)]
pub fn measured<R>(work: impl FnOnce() -> R) -> R {
    std::hint::black_box(work())
}

thread_local! {
    /// A one-thread rayon pool whose only thread is this one (a thread can join one pool, once).
    static THIS_THREAD_POOL: std::cell::OnceCell<rayon::ThreadPool> = const { std::cell::OnceCell::new() };
}

/// Runs `work` inside [`measured`] on the calling thread, rayon's parallel loops included.
fn measured_on_this_thread<R: Send>(work: impl FnOnce() -> R + Send) -> Result<R> {
    THIS_THREAD_POOL.with(|cell| {
        if cell.get().is_none() {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .use_current_thread()
                .build()?;
            let _ = cell.set(pool);
        }
        Ok(cell.get().expect("set above").install(|| measured(work)))
    })
}

/// Prepares and runs one hot path; returns a line saying what ran (a checksum of the result, so
/// a workload that silently did nothing shows).
pub fn run_hot_path(path: HotPath, cache: &DatasetCache) -> Result<String> {
    match path {
        HotPath::Generate => {
            let spec = DatasetSpec::new(GENERATE_DIM, GENERATE_POINTS);
            let v = measured_on_this_thread(|| generate(&spec, Part::Points))??;
            Ok(format!(
                "generate: {} vectors of dim {}, first {:.6}",
                v.len(),
                v.dim(),
                v.row(0)[0]
            ))
        }
        HotPath::GroundTruth => {
            let spec = DatasetSpec::new(GT_DIM, GT_POINTS).with_queries(GT_QUERIES);
            let points = generate(&spec, Part::Points)?;
            let queries = generate(&spec, Part::Queries)?;
            let truth = measured_on_this_thread(|| {
                ground_truth(&points, &queries, GT_K, Metric::Cosine, &|_| {})
            })??;
            Ok(format!(
                "ground_truth: {} queries, first neighbour of query 0: {}",
                truth.len(),
                truth.ids(0)[0]
            ))
        }
        HotPath::Search => {
            let profiles = Profiles::bundled();
            let profile = profiles.get(SEARCH_PROFILE)?;
            let spec = DatasetSpec::new(profile.vector_size, SEARCH_POINTS)
                .with_queries(SEARCH_QUERIES)
                .with_metric(profile.distance);
            let dataset = Dataset::load_or_generate(&spec, cache)?;
            let guard = Guard::default();
            let name = guard.name_for(&format!("instructions_{}", profile.name));
            let store = EdgeStore::with_guard(dataset.dir.join("edge"), guard)?;
            let mut collection = profiles.collection_spec(profile, name.clone());
            // Search through the graph, not by full scan: at the deployment's 20,000 KB a
            // collection this small would be scanned. One segment: the same work on every
            // machine, all of it on the calling thread.
            collection.hnsw.full_scan_threshold = SEARCH_FULL_SCAN_THRESHOLD_KB;
            collection.segments = Some(1);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread tokio runtime");
            let loaded = runtime.block_on(fixture::load_collection(
                &store,
                &collection,
                &dataset.points,
                DEFAULT_BATCH,
            ))?;
            let queries = fixture::queries(
                &dataset.queries,
                profiles.search.k,
                Some(profiles.search.hnsw_ef),
            );
            let hits = measured_on_this_thread(|| {
                queries
                    .iter()
                    .map(|q| store.search_sync(&name, q).map(|hits| hits.len()))
                    .sum::<Result<usize, _>>()
            })??;
            Ok(format!(
                "search: {} queries, {hits} hits, index {}",
                queries.len(),
                if loaded.reused {
                    "loaded from cache"
                } else {
                    "built now (not cached before)"
                }
            ))
        }
    }
}

/// Reads the instruction total of [`MEASURED_SYMBOL`] from a callgrind output file.
pub fn callgrind_total(file: &Path) -> Result<u64> {
    Ok(callgrind::callgrind_total(file, MEASURED_SYMBOL)?)
}

/// Runs every hot path of `paths` under callgrind (`exe hot-path NAME --cache-dir DIR`) and
/// returns their instruction counts as a report. Callgrind's files go to `out_dir`.
pub fn count_instructions(
    exe: &Path,
    paths: &[HotPath],
    cache_dir: &Path,
    out_dir: &Path,
) -> Result<RunReport> {
    std::fs::create_dir_all(out_dir).map_err(|source| InstructionsError::Io {
        path: out_dir.to_owned(),
        source,
    })?;
    let mut report = RunReport::default();
    let version = Command::new("valgrind")
        .arg("--version")
        .output()
        .map_err(InstructionsError::NoValgrind)?;
    report.provenance.insert(
        "valgrind".into(),
        String::from_utf8_lossy(&version.stdout)
            .trim()
            .to_string()
            .into(),
    );
    report
        .provenance
        .insert("suite_version".into(), env!("CARGO_PKG_VERSION").into());
    for &path in paths {
        if path == HotPath::Search {
            // Build (or check) the cached index at native speed: valgrind should only load it.
            let warm = Command::new(exe)
                .args(["hot-path", path.name(), "--cache-dir"])
                .arg(cache_dir)
                .output()
                .map_err(|source| InstructionsError::Io {
                    path: exe.to_owned(),
                    source,
                })?;
            if !warm.status.success() {
                return Err(InstructionsError::Valgrind {
                    path: format!("{path} (native warm-up, building the cached index)"),
                    status: warm.status.to_string(),
                    stderr: String::from_utf8_lossy(&warm.stderr).into_owned(),
                });
            }
        }
        let file = out_dir.join(format!("callgrind.{}.out", path.name()));
        let output = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg("--collect-atstart=no")
            .arg(format!("--toggle-collect={MEASURED_SYMBOL}*"))
            .arg(format!("--callgrind-out-file={}", file.display()))
            .arg(exe)
            .args(["hot-path", path.name(), "--cache-dir"])
            .arg(cache_dir)
            .output()
            .map_err(InstructionsError::NoValgrind)?;
        if !output.status.success() {
            return Err(InstructionsError::Valgrind {
                path: path.name().into(),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        let count = callgrind_total(&file)?;
        report
            .provenance
            .insert(format!("workload.{}", path.name()), path.describe().into());
        report.metrics.push(ReportMetric {
            name: format!("instructions/{}", path.name()),
            value: count as f64,
            unit: "instructions".into(),
            direction: Direction::LowerIsBetter,
            ci: None,
            samples: Some(1),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_path_names_round_trip_and_unknown_ones_list_the_choices() {
        for p in HotPath::ALL {
            assert_eq!(p.name().parse::<HotPath>().unwrap(), p);
        }
        let err = "gemm".parse::<HotPath>().unwrap_err().to_string();
        assert!(err.contains("generate, ground_truth or search"), "{err}");
    }

    #[test]
    fn a_zero_count_names_the_measured_symbol() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("zero.out");
        std::fs::write(&f, "events: Ir\ntotals: 0\n").unwrap();
        let err = callgrind_total(&f).unwrap_err().to_string();
        assert!(err.contains(MEASURED_SYMBOL), "{err}");
    }

    #[test]
    fn the_measured_region_runs_parallel_code_on_the_calling_thread() {
        use rayon::prelude::*;
        let me = std::thread::current().id();
        let threads: Vec<_> = measured_on_this_thread(|| {
            (0..64)
                .into_par_iter()
                .map(|_| std::thread::current().id())
                .collect()
        })
        .unwrap();
        assert!(threads.iter().all(|t| *t == me));
    }

    #[test]
    fn the_generate_and_ground_truth_hot_paths_run_and_report_their_result() {
        let cache = DatasetCache::new(tempfile::tempdir().unwrap().path());
        let g = run_hot_path(HotPath::Generate, &cache).unwrap();
        assert!(g.contains(&format!("{GENERATE_POINTS} vectors")), "{g}");
        let t = run_hot_path(HotPath::GroundTruth, &cache).unwrap();
        assert!(t.contains(&format!("{GT_QUERIES} queries")), "{t}");
    }
}
