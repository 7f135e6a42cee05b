//! Datasets cached on disk, addressed by the hash of their spec.
//!
//! `<root>/datasets/<hash>/` holds `points.fbin`, `queries.fbin`, `truth.ibin` (neighbour ids),
//! `truth.scores.fbin`, `dataset.json` (the spec), `hardness.json` (its LID and RC, see
//! [`crate::Hardness`], written the first time they are asked for) and, for a spec with payloads,
//! `payloads.jsonl` (one JSON object per point, in id order). A dataset directory is built under a
//! temporary name and renamed into place whole, so a directory with the final name is always
//! complete; an interrupted run leaves only a temporary directory, which the next run ignores.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::files::{read_ids, read_vectors, temp_sibling, write_ids, write_vectors};
use crate::generator::{GENERATOR_VERSION, Metric, Part, generate};
use crate::groundtruth::{GroundTruth, ground_truth};
use crate::hardness::{Hardness, hardness, read_cached, write_cached};
use crate::payload::{Payloads, PointPayloads, SourcePayloads};
use crate::progress::progress_bar;
use crate::vectors::{DatasetSpec, Vectors};

const POINTS: &str = "points.fbin";
const QUERIES: &str = "queries.fbin";
const TRUTH_IDS: &str = "truth.ibin";
const TRUTH_SCORES: &str = "truth.scores.fbin";
const META: &str = "dataset.json";
const PAYLOADS: &str = "payloads.jsonl";
const HARDNESS: &str = "hardness.json";

/// Where datasets (and what is built from them, such as indexes) are cached.
#[derive(Clone, Debug)]
pub struct DatasetCache {
    root: PathBuf,
}

impl DatasetCache {
    /// A cache rooted at `root` (datasets go to `root/datasets/`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `QDRANT_PERF_CACHE_DIR` when set, else `default_root`.
    pub fn from_env(default_root: impl Into<PathBuf>) -> Self {
        match std::env::var_os("QDRANT_PERF_CACHE_DIR") {
            Some(dir) if !dir.is_empty() => Self::new(dir),
            _ => Self::new(default_root),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of a dataset, whether or not it exists yet.
    pub fn dataset_dir(&self, spec: &DatasetSpec) -> PathBuf {
        self.root.join("datasets").join(spec.hash())
    }

    /// Makes sure the cache can be written. When it cannot, falls back to a directory under the
    /// system temp dir, with a warning that says how to choose another place; when that fails
    /// too, the error names both and the variable to set.
    pub fn ensure_writable(self) -> Result<Self> {
        match probe_writable(&self.root) {
            Ok(()) => Ok(self),
            Err(source) => {
                let fallback = std::env::temp_dir().join("qdrant-perf");
                if probe_writable(&fallback).is_ok() {
                    eprintln!(
                        "warning: dataset cache {} is not writable ({source}); using {} instead. \
                         Set QDRANT_PERF_CACHE_DIR to choose the cache directory.",
                        self.root.display(),
                        fallback.display()
                    );
                    Ok(Self::new(fallback))
                } else {
                    Err(DataError::CacheNotWritable {
                        path: self.root,
                        source,
                    })
                }
            }
        }
    }
}

fn probe_writable(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let probe = temp_sibling(&dir.join("write-probe"));
    fs::write(&probe, b"ok")?;
    fs::remove_file(&probe)
}

/// How a dataset came to be in memory.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadedFrom {
    /// Read from the cache.
    Cache { seconds: f64 },
    /// Generated (and, when a cache was given, saved to it).
    Generated { seconds: f64 },
    /// A user's dataset read by [`Dataset::open`]: what was read and how its truth was made.
    User(Box<UserSource>),
}

/// Where the ground truth of a user's dataset came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TruthOrigin {
    /// Shipped with the dataset and compared, query by query, with the suite's exact truth (of
    /// every test query) at each k of `ks` (the first k shipped ids of each query against the
    /// exact top-k, ties decided by distance; see [`crate::TIE_TOLERANCE`]).
    Shipped {
        file: PathBuf,
        /// The k at which the shipped lists were compared (ascending): the recall k (10) and
        /// the truth depth the run asked for, each at most the file's width.
        ks: Vec<usize>,
        /// Queries compared: all of the test set.
        queries: usize,
        /// Queries whose first k shipped ids, at some k of `ks`, hold an id that is neither in
        /// the exact top-k nor tied with the exact k-th.
        disagreeing: usize,
        /// The first few of those queries and what differed.
        examples: Vec<TruthDisagreement>,
        /// Which truth the run uses.
        used: TruthUsed,
    },
    /// Computed exactly by the suite (`cached`: read back from an earlier run's cache).
    Computed { cached: bool },
}

/// Which truth a run on a dataset with shipped neighbours uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthUsed {
    /// The suite's exact truth, because the shipped truth disagreed with it.
    Exact,
    /// The shipped truth, which agreed with the exact truth (within ties).
    Shipped,
    /// The shipped truth although it disagreed, because the user asked to keep it
    /// (`--keep-shipped-truth`, `QDRANT_PERF_KEEP_SHIPPED_TRUTH=1`): recall against it is
    /// against unverified truth.
    ShippedUnverified,
}

/// One query whose shipped neighbours disagree with the exact truth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthDisagreement {
    /// The test query (row of the test set, from 0).
    pub query: usize,
    /// The smallest k of the comparison at which it disagrees.
    pub k: usize,
    /// How many of its first `k` shipped ids are wrong (not in the exact top-k, not tied).
    pub wrong: usize,
    /// The first wrong shipped id, and its position in the shipped list (from 0).
    pub first_wrong: u32,
    pub position: usize,
}

impl TruthOrigin {
    /// The truth check in words, e.g. `shipped truth (neighbors in x.hdf5): 2 of 20 queries
    /// disagree with the exact top-10 beyond ties (e.g. query 3: 10 of its top-10 ids wrong;
    /// query 17: ...); using the exact truth (--keep-shipped-truth or
    /// QDRANT_PERF_KEEP_SHIPPED_TRUTH=1 to use the file's)`.
    pub fn describe(&self, source: &Path) -> String {
        let TruthOrigin::Shipped {
            file,
            ks,
            queries,
            disagreeing,
            examples,
            used,
        } = self
        else {
            return match self {
                TruthOrigin::Computed { cached: true } => {
                    "exact truth read from the cache".to_string()
                }
                _ => "exact truth computed and cached".to_string(),
            };
        };
        let file = if file == source {
            format!("neighbors in {}", file.display())
        } else {
            file.display().to_string()
        };
        let tops = ks
            .iter()
            .map(|k| format!("top-{k}"))
            .collect::<Vec<_>>()
            .join(" and ");
        if *disagreeing == 0 {
            return format!(
                "shipped truth ({file}): all {queries} queries agree with the exact {tops} \
                 within ties; using the file's truth"
            );
        }
        let eg = examples
            .iter()
            .map(|e| {
                format!(
                    "query {}: {} of its top-{} ids wrong, first id {} at position {}",
                    e.query, e.wrong, e.k, e.first_wrong, e.position
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let what = format!(
            "shipped truth ({file}): {disagreeing} of {queries} queries ({:.1}%) disagree with \
             the exact {tops} beyond ties (e.g. {eg})",
            100.0 * *disagreeing as f64 / (*queries).max(1) as f64
        );
        match used {
            TruthUsed::ShippedUnverified => format!(
                "{what}; using the file's truth as asked (--keep-shipped-truth / \
                 QDRANT_PERF_KEEP_SHIPPED_TRUTH): recall is against unverified truth"
            ),
            _ => format!(
                "{what}; using the exact truth (--keep-shipped-truth or \
                 QDRANT_PERF_KEEP_SHIPPED_TRUTH=1 to use the file's)"
            ),
        }
    }
}

/// The description of a user's dataset, stored as `source.json` in its cache directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserSource {
    pub path: PathBuf,
    pub format: crate::formats::Format,
    /// xxh3-128 of the files' bytes (hex), with the metric and k: the cache key.
    pub content_hash: String,
    pub metric: Metric,
    /// Where the metric came from: the file's `distance` attribute, or the flag / profile.
    pub metric_from: String,
    pub dim: usize,
    pub train: usize,
    pub test: usize,
    pub truth: TruthOrigin,
    /// True when the train vectors are mapped from a `.fbin`, not held in memory.
    pub mapped: bool,
    pub seconds: f64,
}

/// Points, held-out queries and their exact neighbours.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub spec: DatasetSpec,
    pub points: Vectors,
    pub queries: Vectors,
    pub truth: GroundTruth,
    /// The points' payloads, when the spec asks for them (row `i` belongs to point `i`).
    pub payloads: Option<Payloads>,
    /// The dataset's directory in the cache (for files the user gave: the points file's folder).
    pub dir: PathBuf,
    pub loaded_from: LoadedFrom,
    /// A user's dataset's own per-point payloads (Parquet train's scalar columns), row `i`
    /// belonging to point `i`.
    pub source_payloads: Option<SourcePayloads>,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    generator_version: u32,
    hash: String,
    spec: DatasetSpec,
}

impl Dataset {
    /// The payloads that go with the points on upload: the generated ones when the spec asks
    /// for them, else the source's own (a user's Parquet scalar columns), else none.
    pub fn point_payloads(&self) -> Option<PointPayloads<'_>> {
        match (&self.payloads, &self.source_payloads) {
            (Some(p), _) => Some(p.into()),
            (None, Some(p)) => Some(p.into()),
            (None, None) => None,
        }
    }

    /// Generates points, queries and exact ground truth in memory, with progress bars.
    pub fn generate(spec: &DatasetSpec) -> Result<(Vectors, Vectors, GroundTruth)> {
        spec.validate()?;
        let bar = progress_bar(2, &format!("generating {}", spec.label()));
        let points = generate(spec, Part::Points)?;
        bar.inc(1);
        let queries = generate(spec, Part::Queries)?;
        bar.finish_and_clear();
        let bar = progress_bar(
            (spec.points * spec.queries) as u64,
            "exact ground truth (scores)",
        );
        let truth = ground_truth(&points, &queries, spec.k, spec.metric, &|n| bar.inc(n))?;
        bar.finish_and_clear();
        Ok((points, queries, truth))
    }

    /// Loads the dataset of `spec` from the cache, or generates and caches it. A cached copy that
    /// cannot be read is reported, deleted and regenerated: the cache only ever holds data the
    /// suite can make again.
    pub fn load_or_generate(spec: &DatasetSpec, cache: &DatasetCache) -> Result<Dataset> {
        spec.validate()?;
        let dir = cache.dataset_dir(spec);
        if dir.join(META).exists() {
            let started = Instant::now();
            match Self::read_dir(spec, &dir).and_then(|d| Ok((d, Self::read_payloads(spec, &dir)?)))
            {
                Ok(((points, queries, truth), payloads)) => {
                    return Ok(Dataset {
                        spec: spec.clone(),
                        points,
                        queries,
                        truth,
                        payloads,
                        dir,
                        loaded_from: LoadedFrom::Cache {
                            seconds: started.elapsed().as_secs_f64(),
                        },
                        source_payloads: None,
                    });
                }
                Err(e) => {
                    eprintln!(
                        "warning: cached dataset {} is unreadable ({e}); regenerating it",
                        dir.display()
                    );
                    fs::remove_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
                }
            }
        }
        let started = Instant::now();
        let (points, queries, truth) = Self::generate(spec)?;
        let payloads = spec
            .payload
            .as_ref()
            .map(|p| Payloads::generate(p, spec.seed, spec.points))
            .transpose()?;
        let seconds = started.elapsed().as_secs_f64();
        Self::write_dir(spec, &dir, &points, &queries, &truth, payloads.as_ref())?;
        Ok(Dataset {
            spec: spec.clone(),
            points,
            queries,
            truth,
            payloads,
            dir,
            loaded_from: LoadedFrom::Generated { seconds },
            source_payloads: None,
        })
    }

    fn read_dir(spec: &DatasetSpec, dir: &Path) -> Result<(Vectors, Vectors, GroundTruth)> {
        let meta_path = dir.join(META);
        let meta: Meta = serde_json::from_slice(
            &fs::read(&meta_path).map_err(|e| DataError::io(&meta_path, e))?,
        )
        .map_err(|e| DataError::bad_file(&meta_path, e.to_string()))?;
        if meta.spec != *spec || meta.generator_version != GENERATOR_VERSION {
            return Err(DataError::bad_file(
                &meta_path,
                "describes another dataset than its directory name",
            ));
        }
        let points = read_vectors(&dir.join(POINTS))?;
        let queries = read_vectors(&dir.join(QUERIES))?;
        let truth = read_truth(dir, spec.k.min(spec.points), spec.queries, spec.k);
        let shape_ok = points.len() == spec.points
            && points.dim() == spec.dim
            && queries.len() == spec.queries
            && queries.dim() == spec.dim;
        match truth {
            Some(truth) if shape_ok => Ok((points, queries, truth)),
            _ => Err(DataError::bad_file(
                dir,
                "files do not match the dataset spec",
            )),
        }
    }

    fn read_payloads(spec: &DatasetSpec, dir: &Path) -> Result<Option<Payloads>> {
        let Some(p) = &spec.payload else {
            return Ok(None);
        };
        let path = dir.join(PAYLOADS);
        let payloads = Payloads::read_jsonl(&path, p)?;
        if payloads.len() != spec.points {
            return Err(DataError::bad_file(
                &path,
                format!("has {} payloads for {} points", payloads.len(), spec.points),
            ));
        }
        Ok(Some(payloads))
    }

    fn write_dir(
        spec: &DatasetSpec,
        dir: &Path,
        points: &Vectors,
        queries: &Vectors,
        truth: &GroundTruth,
        payloads: Option<&Payloads>,
    ) -> Result<()> {
        let tmp = temp_sibling(dir);
        fs::create_dir_all(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        let result = (|| {
            write_vectors(&tmp.join(POINTS), points)?;
            write_vectors(&tmp.join(QUERIES), queries)?;
            if let Some(p) = payloads {
                p.write_jsonl(&tmp.join(PAYLOADS))?;
            }
            write_truth(&tmp, spec.k.min(spec.points), truth)?;
            let meta = Meta {
                generator_version: GENERATOR_VERSION,
                hash: spec.hash(),
                spec: spec.clone(),
            };
            let json = serde_json::to_vec_pretty(&meta).expect("meta serialises");
            fs::write(tmp.join(META), json).map_err(|e| DataError::io(tmp.join(META), e))
        })();
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if let Err(e) = fs::rename(&tmp, dir) {
            let _ = fs::remove_dir_all(&tmp);
            // Another process (or thread) finished the same dataset first: theirs is as good.
            if !dir.join(META).exists() {
                return Err(DataError::io(dir, e));
            }
        }
        Ok(())
    }

    /// How hard the dataset is for nearest-neighbour search: LID and RC on a sample of its
    /// queries (see [`crate::Hardness`]). A cached dataset keeps them in `hardness.json` beside
    /// `dataset.json`, so they are computed once; for the user's own files they are computed
    /// each time (well under a second) and nothing is written beside those files.
    pub fn hardness(&self) -> Result<Hardness> {
        let path = self.dir.join(HARDNESS);
        if let Some(h) = read_cached(&path) {
            return Ok(h);
        }
        let h = hardness(&self.points, &self.queries, &self.truth, self.spec.metric)?;
        if self.dir.join(META).exists()
            && let Err(e) = write_cached(&path, &h)
        {
            eprintln!("warning: could not cache the dataset's LID and RC: {e}");
        }
        Ok(h)
    }

    /// [`Self::hardness`] as text: `LID@20 mean 14.2, median 13.9; RC 1.31 (200 queries)`, or
    /// why it could not be measured.
    pub fn describe_hardness(&self) -> String {
        match self.hardness() {
            Ok(h) => h.describe(),
            Err(e) => format!("LID/RC not measured: {e}"),
        }
    }

    /// One line saying what this dataset is, how hard it is (LID and RC) and where it came from,
    /// for logs and bench output.
    pub fn describe(&self) -> String {
        let what = format!(
            "dataset {} ({} points, {} queries, top-{} truth, {}, hash {})",
            self.spec.label(),
            self.points.len(),
            self.queries.len(),
            self.truth.k(),
            self.describe_hardness(),
            self.spec.hash()
        );
        match &self.loaded_from {
            LoadedFrom::Cache { seconds } => format!(
                "{what}: loaded from cache {} in {}; delete that directory to regenerate",
                self.dir.display(),
                fmt_secs(*seconds)
            ),
            LoadedFrom::Generated { seconds } => format!(
                "{what}: generated with exact ground truth in {}, cached at {}",
                fmt_secs(*seconds),
                self.dir.display()
            ),
            LoadedFrom::User(u) => {
                let truth = u.truth.describe(&u.path);
                format!(
                    "dataset {} ({}, {} train x {}d{}, {} test, {} from {}, top-{} truth): {truth}; cache {}",
                    u.path.display(),
                    u.format.name(),
                    u.train,
                    u.dim,
                    if u.mapped { " mapped" } else { "" },
                    u.test,
                    u.metric.name(),
                    u.metric_from,
                    self.truth.k(),
                    self.dir.display()
                )
            }
        }
    }
}

fn fmt_secs(s: f64) -> String {
    format!("{:.2?}", Duration::from_secs_f64(s))
}

/// The truth files in `dir` as a truth of depth `k`, when they are `width` wide and `queries`
/// long.
pub(crate) fn read_truth(
    dir: &Path,
    width: usize,
    queries: usize,
    k: usize,
) -> Option<GroundTruth> {
    let (found, ids) = read_ids(&dir.join(TRUTH_IDS)).ok()?;
    let scores = read_vectors(&dir.join(TRUTH_SCORES)).ok()?;
    if found != width || ids.len() != queries || scores.len() != queries || scores.dim() != width {
        return None;
    }
    let scores = ids
        .iter()
        .enumerate()
        .map(|(q, row)| scores.row(q)[..row.len()].to_vec())
        .collect();
    GroundTruth::new(k, ids, scores).ok()
}

/// Writes `truth`'s ids and scores (`k` wide, short rows padded) as the truth files in `dir`.
pub(crate) fn write_truth(dir: &Path, k: usize, truth: &GroundTruth) -> Result<()> {
    write_ids(&dir.join(TRUTH_IDS), k, truth.all_ids())?;
    let mut flat = Vec::with_capacity(truth.len() * k);
    for row in truth.all_scores() {
        flat.extend_from_slice(row);
        flat.extend(std::iter::repeat_n(f32::MIN, k - row.len()));
    }
    write_vectors(&dir.join(TRUTH_SCORES), &Vectors::new(k, flat)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DatasetSpec {
        DatasetSpec::new(16, 500).with_queries(20).with_k(10)
    }

    #[test]
    fn a_dataset_is_generated_once_then_read_back_identical() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DatasetCache::new(dir.path());
        let first = Dataset::load_or_generate(&spec(), &cache).unwrap();
        assert!(matches!(first.loaded_from, LoadedFrom::Generated { .. }));
        assert_eq!(first.dir, dir.path().join("datasets").join(spec().hash()));
        let second = Dataset::load_or_generate(&spec(), &cache).unwrap();
        assert!(
            matches!(second.loaded_from, LoadedFrom::Cache { .. }),
            "{}",
            second.describe()
        );
        assert_eq!(first.points, second.points);
        assert_eq!(first.queries, second.queries);
        assert_eq!(first.truth, second.truth);
        assert!(second.describe().contains("loaded from cache"));
        // The description carries LID and RC, computed once and cached beside dataset.json.
        let h = second.hardness().unwrap();
        assert!(
            second.describe().contains(&h.describe()) && second.describe().contains("LID@10 mean"),
            "{}",
            second.describe()
        );
        assert!(h.rc_mean > 1.0 && h.lid_mean > 1.0, "{h:?}");
        let cached = second.dir.join(HARDNESS);
        assert!(cached.exists());
        let mut edited: serde_json::Value =
            serde_json::from_slice(&fs::read(&cached).unwrap()).unwrap();
        edited["hardness"]["rc_mean"] = serde_json::json!(99.0);
        fs::write(&cached, serde_json::to_vec(&edited).unwrap()).unwrap();
        assert_eq!(
            second.hardness().unwrap().rc_mean,
            99.0,
            "read back, not recomputed"
        );
        // Nothing but the dataset directory is left behind.
        let entries: Vec<_> = fs::read_dir(dir.path().join("datasets")).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn payloads_are_cached_beside_the_vectors_and_keyed_by_their_parameters() {
        use crate::payload::PayloadSpec;
        let dir = tempfile::tempdir().unwrap();
        let cache = DatasetCache::new(dir.path());
        let with = spec().with_payload(PayloadSpec::default());
        let first = Dataset::load_or_generate(&with, &cache).unwrap();
        assert!(first.dir.join(PAYLOADS).exists());
        assert_eq!(first.payloads.as_ref().unwrap().len(), 500);
        let second = Dataset::load_or_generate(&with, &cache).unwrap();
        assert!(matches!(second.loaded_from, LoadedFrom::Cache { .. }));
        assert_eq!(first.payloads, second.payloads);
        // Other payload parameters: another dataset, same vectors.
        let other = spec().with_payload(PayloadSpec {
            keyword_values: 7,
            ..PayloadSpec::default()
        });
        let third = Dataset::load_or_generate(&other, &cache).unwrap();
        assert_ne!(third.dir, first.dir);
        assert_eq!(third.points, first.points);
        assert_ne!(third.payloads, first.payloads);
        // Without payloads: none, and no file.
        let plain = Dataset::load_or_generate(&spec(), &cache).unwrap();
        assert!(plain.payloads.is_none() && !plain.dir.join(PAYLOADS).exists());
        // A truncated payload file is regenerated.
        let path = first.dir.join(PAYLOADS);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, &text[..text.len() / 2]).unwrap();
        let again = Dataset::load_or_generate(&with, &cache).unwrap();
        assert!(matches!(again.loaded_from, LoadedFrom::Generated { .. }));
        assert_eq!(again.payloads, first.payloads);
    }

    #[test]
    fn a_corrupt_cached_file_is_regenerated_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DatasetCache::new(dir.path());
        let first = Dataset::load_or_generate(&spec(), &cache).unwrap();
        let points = first.dir.join(POINTS);
        let len = fs::metadata(&points).unwrap().len();
        fs::OpenOptions::new()
            .write(true)
            .open(&points)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
        let again = Dataset::load_or_generate(&spec(), &cache).unwrap();
        assert!(matches!(again.loaded_from, LoadedFrom::Generated { .. }));
        assert_eq!(again.points, first.points);
        assert_eq!(fs::metadata(&points).unwrap().len(), len);
    }

    #[test]
    fn an_unwritable_cache_falls_back_to_the_temp_dir() {
        let dir = tempfile::tempdir().unwrap();
        // A path below a regular file can never be created, even by root.
        let file = dir.path().join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        let cache = DatasetCache::new(file.join("cache"))
            .ensure_writable()
            .unwrap();
        assert_eq!(cache.root(), std::env::temp_dir().join("qdrant-perf"));
        let writable = DatasetCache::new(dir.path().join("ok"))
            .ensure_writable()
            .unwrap();
        assert_eq!(writable.root(), dir.path().join("ok"));
    }
}
