//! A user's own dataset ([`Dataset::open`]): read in any of the formats of [`crate::formats`],
//! checked before any work. Its exact truth is computed for every test query and cached by the
//! files' content hash under `<cache>/datasets/user-<hash>/`; shipped neighbours are compared
//! with it query by query and used only where they agree (or when the user asks to keep them).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::dataset_cache::{
    Dataset, DatasetCache, LoadedFrom, TruthDisagreement, TruthOrigin, TruthUsed, UserSource,
    read_truth, write_truth,
};
use crate::error::{DataError, Result};
use crate::files::write_atomic;
use crate::formats::{Source, convert_train, read_source, train_to_convert};
use crate::generator::{Distribution, Metric};
use crate::groundtruth::{GroundTruth, ground_truth, pair_score};
use crate::progress::progress_bar;
use crate::vectors::{DatasetSpec, Vectors};

/// The k at which the suite reports recall (besides the truth depth a run asks for): shipped
/// neighbours are compared with the exact truth at it.
pub const RECALL_K: usize = 10;

/// Two scores tie when they differ by at most this share of the larger magnitude (scores in
/// f64, "higher is better": cosine, dot product, minus the squared Euclidean distance). Scores
/// computed in float32 over hundreds of dimensions differ by about 1e-6 of their size, so the
/// order of near-equal neighbours in someone else's truth is not held against it.
pub const TIE_TOLERANCE: f64 = 1e-5;

/// The environment variable with which the benches keep a dataset's shipped truth even where it
/// disagrees with the exact truth (`--keep-shipped-truth` in the CLI).
pub const KEEP_SHIPPED_TRUTH_VAR: &str = "QDRANT_PERF_KEEP_SHIPPED_TRUTH";

/// Disagreeing queries named in the report.
const EXAMPLES: usize = 5;

const SOURCE: &str = "source.json";

/// The metric a run wants for a dataset and who says so (`--metric`, a collection profile).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricWanted {
    pub metric: Metric,
    pub from: String,
}

impl MetricWanted {
    pub fn new(metric: Metric, from: impl Into<String>) -> Self {
        Self {
            metric,
            from: from.into(),
        }
    }
}

/// xxh3-128 of the files' bytes, read 8 MiB at a time.
fn content_hash(files: &[PathBuf], extra: &str) -> Result<String> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 8 << 20];
    for path in files {
        let mut f = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        h.update(path.file_name().map_or(&[][..], |n| n.as_encoded_bytes()));
        loop {
            let n = f.read(&mut buf).map_err(|e| DataError::io(path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    h.update(extra.as_bytes());
    Ok(format!("{:032x}", h.digest128()))
}

fn check_vectors(file: &Path, what: &str, v: &Vectors) -> Result<()> {
    if v.is_empty() {
        return Err(DataError::bad_file(
            file,
            format!("the {what} set is empty; a dataset needs at least one {what} vector"),
        ));
    }
    if let Some((row, col)) = v.first_non_finite() {
        return Err(DataError::bad_file(
            file,
            format!(
                "{what} row {row} holds {} at column {col}: every value must be a finite number; \
                 fix or drop that row",
                v.row(row)[col]
            ),
        ));
    }
    Ok(())
}

/// Checks everything about a read dataset that would otherwise fail (or mislead) later.
fn check_source(src: &Source) -> Result<()> {
    check_vectors(&src.train_file, "train", &src.train)?;
    check_vectors(&src.test_file, "test", &src.test)?;
    if src.train.dim() != src.test.dim() {
        return Err(DataError::bad_file(
            &src.test_file,
            format!(
                "test vectors have dimension {}, train vectors ({}) have {}: both must have the same dimension",
                src.test.dim(),
                src.train_file.display(),
                src.train.dim()
            ),
        ));
    }
    if let Some((_, rows, file)) = &src.neighbors {
        if rows.len() != src.test.len() {
            return Err(DataError::bad_file(
                file,
                format!(
                    "has {} rows of neighbours, but there are {} test vectors; they must match one to one",
                    rows.len(),
                    src.test.len()
                ),
            ));
        }
        let n = src.train.len();
        if let Some((q, &id)) = rows
            .iter()
            .enumerate()
            .find_map(|(q, r)| r.iter().find(|&&id| id as usize >= n).map(|id| (q, id)))
        {
            return Err(DataError::bad_file(
                file,
                format!(
                    "neighbour id {id} (test row {q}) points past the train set of {n} vectors; \
                     the neighbours must be row numbers of this train set"
                ),
            ));
        }
    }
    Ok(())
}

/// The metric: the file's when it states one (a `wanted` one that differs is an error naming
/// both), else `wanted`, else an error asking for `--metric`.
fn resolve_metric(
    path: &Path,
    stated: Option<&(Metric, String)>,
    wanted: Option<&MetricWanted>,
) -> Result<(Metric, String)> {
    match (stated, wanted) {
        (Some((m, word)), Some(w)) if *m != w.metric => Err(DataError::bad_file(
            path,
            format!(
                "the file's distance is {word:?} ({}), but {} says {}: run it as a collection \
                 profile of metric {} (or use another dataset)",
                m.name(),
                w.from,
                w.metric.name(),
                m.name()
            ),
        )),
        (Some((m, word)), _) => Ok((*m, format!("the file's distance attribute {word:?}"))),
        (None, Some(w)) => Ok((w.metric, w.from.clone())),
        (None, None) => Err(DataError::bad_file(
            path,
            "does not say its metric; pass --metric cosine|dot|euclid",
        )),
    }
}

/// Compares the shipped neighbours `rows` with the `exact` truth of every query at each k of
/// `ks`: a shipped id among a query's first k is right when it is in the exact top-k or its
/// score ties the exact k-th one's (within [`TIE_TOLERANCE`]). Returns the number of queries
/// with a wrong id at some k, and the first [`EXAMPLES`] of them.
fn compare_shipped(
    src: &Source,
    rows: &[Vec<u32>],
    exact: &GroundTruth,
    ks: &[usize],
    metric: Metric,
) -> (usize, Vec<TruthDisagreement>) {
    let per_query: Vec<Option<TruthDisagreement>> = (0..rows.len())
        .into_par_iter()
        .map(|q| {
            let query = src.test.row(q);
            let score = |id: u32| pair_score(metric, query, src.train.row(id as usize));
            ks.iter().find_map(|&k| {
                let top = &exact.ids(q)[..k.min(exact.ids(q).len())];
                let &kth = top.last()?;
                let kth = score(kth);
                let right = |id: u32| {
                    if top.contains(&id) {
                        return true;
                    }
                    let s = score(id);
                    s >= kth - TIE_TOLERANCE * s.abs().max(kth.abs())
                };
                let shipped = &rows[q][..k.min(rows[q].len())];
                let wrong: Vec<usize> =
                    (0..shipped.len()).filter(|&i| !right(shipped[i])).collect();
                let &position = wrong.first()?;
                Some(TruthDisagreement {
                    query: q,
                    k,
                    wrong: wrong.len(),
                    first_wrong: shipped[position],
                    position,
                })
            })
        })
        .collect();
    let disagreeing: Vec<TruthDisagreement> = per_query.into_iter().flatten().collect();
    let n = disagreeing.len();
    (n, disagreeing.into_iter().take(EXAMPLES).collect())
}

/// The k at which shipped neighbours of width `width` are compared when the run asks for a
/// truth of depth `k` and the exact truth has depth `depth`: [`RECALL_K`] and `k`, each at most
/// `width` and `depth`.
fn compared_ks(k: usize, width: usize, depth: usize) -> Vec<usize> {
    let mut ks: Vec<usize> = [RECALL_K, k]
        .into_iter()
        .map(|k| k.min(width).min(depth))
        .filter(|&k| k > 0)
        .collect();
    ks.sort_unstable();
    ks.dedup();
    ks
}

/// A user's dataset as read and checked, before its metric and truth are settled: what
/// [`Dataset::open`] does in two steps, for callers that need the dimension first (to choose
/// the collection profiles to run it as) and may make several datasets of it (one per metric).
#[derive(Clone)]
pub struct UserData {
    path: PathBuf,
    datasets: PathBuf,
    src: Source,
    started: Instant,
    keep_shipped_truth: bool,
}

impl std::fmt::Debug for UserData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserData")
            .field("path", &self.path)
            .field("format", &self.src.format)
            .field("dim", &self.dim())
            .field("train", &self.len())
            .field("test", &self.src.test.len())
            .field("keep_shipped_truth", &self.keep_shipped_truth)
            .finish()
    }
}

impl UserData {
    /// Reads and checks the dataset at `path` (see [`Dataset::open`]); a train set that cannot
    /// be mapped as it is (anything but a `.fbin` or a little-endian float32 `.npy`) is
    /// converted to a `.fbin` under `cache` first, a block of rows at a time, then mapped.
    pub fn read(path: &Path, cache: &DatasetCache) -> Result<UserData> {
        let started = Instant::now();
        let datasets = cache.root().join("datasets");
        // A train set that cannot be mapped as it is (anything but a .fbin or a float32 .npy) is
        // converted to a .fbin once, a block of rows at a time (keyed by the file's content),
        // then mapped.
        let converted = match train_to_convert(path)? {
            None => None,
            Some(file) => {
                let dst = datasets.join("converted").join(format!(
                    "{}.fbin",
                    content_hash(std::slice::from_ref(&file), "")?
                ));
                if !dst.exists() {
                    fs::create_dir_all(dst.parent().expect("has a parent"))
                        .map_err(|e| DataError::io(&dst, e))?;
                    convert_train(&file, &dst)?;
                }
                Some(dst)
            }
        };
        let src = read_source(path, converted.as_deref())?;
        check_source(&src)?;
        Ok(UserData {
            path: path.to_path_buf(),
            datasets,
            src,
            started,
            keep_shipped_truth: false,
        })
    }

    /// Whether to use the shipped neighbours even where they disagree with the exact truth
    /// (`--keep-shipped-truth`, [`KEEP_SHIPPED_TRUTH_VAR`]); the dataset's description then says
    /// that recall is against unverified truth. By default the exact truth replaces them.
    pub fn keep_shipped_truth(mut self, keep: bool) -> Self {
        self.keep_shipped_truth = keep;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of train vectors.
    pub fn len(&self) -> usize {
        self.src.train.len()
    }

    pub fn is_empty(&self) -> bool {
        self.src.train.is_empty()
    }

    /// The vectors' dimension.
    pub fn dim(&self) -> usize {
        self.src.train.dim()
    }

    /// The filter fields of the source's own payloads (a Parquet train set's scalar columns),
    /// with their kinds; empty when it has none.
    pub fn payload_fields(&self) -> Vec<(String, crate::payload::FieldKind)> {
        self.src
            .payloads
            .as_ref()
            .map(|p| p.fields().to_vec())
            .unwrap_or_default()
    }

    /// The metric the file states (HDF5's `distance` attribute), if any.
    pub fn metric(&self) -> Option<Metric> {
        self.src.metric.as_ref().map(|m| m.0)
    }

    /// The dataset under `wanted`'s metric (the file's own wins; a contradiction is an error
    /// naming both), with its truth: the exact one, computed and cached, unless shipped
    /// neighbours agree with it (or are kept by [`Self::keep_shipped_truth`]).
    pub fn dataset(&self, wanted: Option<&MetricWanted>, k: usize) -> Result<Dataset> {
        self.make(wanted, k, None)
    }

    /// The dataset of the first `n` train vectors (for a run over growing sizes): its exact
    /// top-`k` truth is computed for those `n` (shipped neighbours refer to the whole train
    /// set) and cached like any computed truth. More than the train set is an error.
    pub fn head_dataset(
        &self,
        wanted: Option<&MetricWanted>,
        k: usize,
        n: usize,
    ) -> Result<Dataset> {
        if n == 0 || n > self.len() {
            return Err(DataError::bad_file(
                &self.path,
                format!(
                    "has {} train vectors; a size of {n} needs between 1 and {} of them",
                    self.len(),
                    self.len()
                ),
            ));
        }
        self.make(wanted, k, Some(n))
    }

    fn make(
        &self,
        wanted: Option<&MetricWanted>,
        k: usize,
        head: Option<usize>,
    ) -> Result<Dataset> {
        if k == 0 {
            return Err(DataError::InvalidSpec {
                field: "k",
                value: "0".into(),
                reason: "ground truth depth must be at least 1".into(),
            });
        }
        let (path, datasets, mut src, started) =
            (&self.path, &self.datasets, self.src.clone(), self.started);
        if let Some(n) = head {
            src.train = src.train.head(n);
            src.neighbors = None;
            src.payloads = src.payloads.map(|mut p| {
                p.truncate(n);
                p
            });
        }
        let (metric, metric_from) = resolve_metric(path, src.metric.as_ref(), wanted)?;
        let requested = k;
        let k = match &src.neighbors {
            Some((width, _, _)) => *width,
            None => k.min(src.train.len()),
        };
        let hash = content_hash(&src.files, &format!("{}:{k}:{head:?}", metric.name()))?;
        let dir = datasets.join(format!("user-{}", &hash[..16]));
        fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;

        let (truth, origin) = match &src.neighbors {
            Some((width, rows, file)) => {
                let (exact, _) = exact_truth(&dir, k.min(src.train.len()), &src, metric)?;
                let ks = compared_ks(requested, *width, exact.k());
                let (disagreeing, examples) = compare_shipped(&src, rows, &exact, &ks, metric);
                let used = match (disagreeing, self.keep_shipped_truth) {
                    (0, _) => TruthUsed::Shipped,
                    (_, true) => TruthUsed::ShippedUnverified,
                    (_, false) => TruthUsed::Exact,
                };
                let truth = if used == TruthUsed::Exact {
                    exact
                } else {
                    let scores = rows.iter().map(|r| vec![f32::NAN; r.len()]).collect();
                    GroundTruth::new(*width, rows.clone(), scores)?
                };
                let origin = TruthOrigin::Shipped {
                    file: file.clone(),
                    ks,
                    queries: rows.len(),
                    disagreeing,
                    examples,
                    used,
                };
                (truth, origin)
            }
            None => {
                let (truth, cached) = exact_truth(&dir, k, &src, metric)?;
                (truth, TruthOrigin::Computed { cached })
            }
        };
        let user = UserSource {
            path: path.to_path_buf(),
            format: src.format,
            content_hash: hash.clone(),
            metric,
            metric_from,
            dim: src.train.dim(),
            train: src.train.len(),
            test: src.test.len(),
            truth: origin,
            mapped: src.train.is_mapped(),
            seconds: started.elapsed().as_secs_f64(),
        };
        let json = serde_json::to_vec_pretty(&user).expect("a source serialises");
        write_atomic(&dir.join(SOURCE), |out| out.write_all(&json))?;
        let spec = DatasetSpec {
            dim: src.train.dim(),
            points: src.train.len(),
            queries: src.test.len(),
            k: truth.k(),
            distribution: Distribution::Normal,
            metric,
            // Unused for files; the content hash here keeps spec hashes of datasets apart.
            seed: u64::from_str_radix(&hash[..16], 16).expect("hex"),
            payload: None,
        };
        Ok(Dataset {
            spec,
            points: src.train,
            queries: src.test,
            truth,
            payloads: None,
            dir,
            loaded_from: LoadedFrom::User(Box::new(user)),
            source_payloads: src.payloads,
        })
    }
}

impl Dataset {
    /// A user's dataset at `path` (an ann-benchmarks `.hdf5` file, or a directory of `.npy`,
    /// VectorDBBench Parquet or big-ann-benchmarks / TEXMEX files; see the formats in the
    /// README), read by [`UserData::read`] and made by [`UserData::dataset`].
    ///
    /// Everything is checked before any work, each error naming the file and the fix: the
    /// format, the lengths, equal dimensions, finite values (with the row), non-empty train and
    /// test sets, neighbours inside the train set, the metric (the file's, else `wanted`; a
    /// contradiction names both). The exact truth of every test query is computed once and
    /// cached by the files' content hash (top-`k`, or as deep as shipped neighbours go). Shipped
    /// neighbours are compared with it query by query at [`RECALL_K`] and at `k` (ties decided
    /// by distance) and used only when every query agrees; else the exact truth is used. What
    /// was found and which truth is used is in [`UserSource::truth`] and `source.json`.
    pub fn open(
        path: &Path,
        wanted: Option<&MetricWanted>,
        k: usize,
        cache: &DatasetCache,
    ) -> Result<Dataset> {
        UserData::read(path, cache)?.dataset(wanted, k)
    }

    /// Errors unless this dataset can run as a collection `profile` of dimension `dim`:
    /// the message names both dimensions.
    pub fn check_fits(&self, profile: &str, dim: usize) -> Result<()> {
        if self.points.dim() != dim {
            return Err(DataError::InvalidSpec {
                field: "dataset",
                value: self.source_name(),
                reason: format!(
                    "its vectors have dimension {}, but collection profile `{profile}` has dimension {dim}; \
                     run it as a profile of dimension {} (or use a dataset of dimension {dim})",
                    self.points.dim(),
                    self.points.dim()
                ),
            });
        }
        Ok(())
    }

    /// The user's path for a user dataset, else the dataset's label.
    pub fn source_name(&self) -> String {
        match &self.loaded_from {
            LoadedFrom::User(u) => u.path.display().to_string(),
            _ => self.spec.label(),
        }
    }
}

/// The exact top-`k` truth of every test query: read back from `dir`, or computed (with a
/// progress bar) and cached there; true when it was read back.
fn exact_truth(dir: &Path, k: usize, src: &Source, metric: Metric) -> Result<(GroundTruth, bool)> {
    if let Some(truth) = read_truth(dir, k, src.test.len(), k) {
        return Ok((truth, true));
    }
    let bar = progress_bar(
        (src.train.len() * src.test.len()) as u64,
        "exact ground truth (scores)",
    );
    let truth = ground_truth(&src.train, &src.test, k, metric, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    write_truth(dir, k, &truth)?;
    Ok((truth, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{write_ids, write_vectors};
    use crate::generator::{Part, generate};

    #[test]
    fn shipped_truth_is_compared_at_the_recall_k_and_the_asked_depth() {
        assert_eq!(compared_ks(10, 100, 100), [10]);
        assert_eq!(compared_ks(100, 100, 100), [10, 100]);
        // Never deeper than the file or the exact truth.
        assert_eq!(compared_ks(100, 5, 100), [5]);
        assert_eq!(compared_ks(100, 100, 50), [10, 50]);
        assert_eq!(compared_ks(1, 100, 100), [1, 10]);
    }

    /// A directory of `.fbin`/`.ibin` files in `dir`: 40 random train rows written three times
    /// (rows `i`, `i + 40`, `i + 80` are equal, so every neighbour ties with two others), 10
    /// queries, Euclidean, and the shipped top-10 that `shipped` makes of the exact truth.
    fn triplets(
        dir: &Path,
        shipped: impl Fn(&GroundTruth) -> Vec<Vec<u32>>,
    ) -> (Dataset, GroundTruth) {
        let spec = DatasetSpec::new(8, 40).with_queries(10).with_k(10);
        let once = generate(&spec, Part::Points).unwrap();
        let queries = generate(&spec, Part::Queries).unwrap();
        let train = Vectors::new(8, once.as_slice().repeat(3)).unwrap();
        let exact = ground_truth(&train, &queries, 10, Metric::Euclid, &|_| {}).unwrap();
        let data = dir.join("data");
        fs::create_dir_all(&data).unwrap();
        write_vectors(&data.join("base.fbin"), &train).unwrap();
        write_vectors(&data.join("query.fbin"), &queries).unwrap();
        write_ids(&data.join("groundtruth.ibin"), 10, &shipped(&exact)).unwrap();
        let wanted = MetricWanted::new(Metric::Euclid, "--metric");
        let cache = DatasetCache::new(dir.join("cache"));
        let d = Dataset::open(&data, Some(&wanted), 10, &cache).unwrap();
        (d, exact)
    }

    fn origin(d: &Dataset) -> (usize, Vec<usize>, TruthUsed) {
        let LoadedFrom::User(u) = &d.loaded_from else {
            panic!("a user dataset")
        };
        let TruthOrigin::Shipped {
            disagreeing,
            examples,
            used,
            ..
        } = &u.truth
        else {
            panic!("shipped truth expected: {:?}", u.truth)
        };
        (
            *disagreeing,
            examples.iter().map(|e| e.query).collect(),
            *used,
        )
    }

    #[test]
    fn an_id_tied_with_the_kth_counts_as_right_and_another_does_not() {
        let dir = tempfile::tempdir().unwrap();
        // Each query's 10th exact neighbour swapped for its twin: an equal row outside the
        // exact top-10, at exactly the same distance. Every query agrees; the file's truth is
        // used.
        let (d, exact) = triplets(&dir.path().join("tied"), |exact| {
            (0..exact.len())
                .map(|q| {
                    let mut row = exact.ids(q).to_vec();
                    row[9] = (0..3)
                        .map(|t| row[9] % 40 + 40 * t)
                        .find(|id| !row.contains(id))
                        .expect("a twin outside the top-10");
                    row
                })
                .collect()
        });
        assert_eq!(
            origin(&d),
            (0, vec![], TruthUsed::Shipped),
            "{}",
            d.describe()
        );
        assert_ne!(d.truth.all_ids(), exact.all_ids(), "the file's own truth");
        assert!(
            d.describe()
                .contains("all 10 queries agree with the exact top-10 within ties"),
            "{}",
            d.describe()
        );
        // Queries 2 and 7 with their 10th neighbour swapped for a point tied with none of the
        // top-10 (so strictly farther): they disagree, and the exact truth is used.
        let (d, exact) = triplets(&dir.path().join("untied"), |exact| {
            (0..exact.len())
                .map(|q| {
                    let mut row = exact.ids(q).to_vec();
                    if q == 2 || q == 7 {
                        row[9] = (0..40u32)
                            .find(|id| row.iter().all(|r| r % 40 != *id))
                            .expect("a point outside the top-10's triplets");
                    }
                    row
                })
                .collect()
        });
        assert_eq!(
            origin(&d),
            (2, vec![2, 7], TruthUsed::Exact),
            "{}",
            d.describe()
        );
        assert_eq!(d.truth, exact, "the exact truth (with its scores) is used");
        assert!(
            d.describe().contains(
                "2 of 10 queries (20.0%) disagree with the exact top-10 beyond ties (e.g. query 2: \
                 1 of its top-10 ids wrong"
            ),
            "{}",
            d.describe()
        );
    }
}
