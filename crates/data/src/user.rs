//! A user's own dataset ([`Dataset::open`]): read in any of the formats of [`crate::formats`],
//! checked before any work, its shipped truth checked against the suite's exact truth on a
//! sample of queries, or, when there is none, computed exactly and cached by the files' content
//! hash under `<cache>/datasets/user-<hash>/`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cache::{Dataset, DatasetCache, LoadedFrom, TruthOrigin, UserSource};
use crate::error::{DataError, Result};
use crate::files::{read_ids, read_vectors, write_atomic, write_ids, write_vectors};
use crate::formats::{Source, convert_train, read_source, train_to_convert};
use crate::generator::{Distribution, Metric};
use crate::groundtruth::{GroundTruth, ground_truth};
use crate::progress::progress_bar;
use crate::recall::recall_at_k;
use crate::vectors::{DatasetSpec, Vectors};

/// Queries on which shipped neighbours are checked against the exact truth.
pub const TRUTH_CHECK_QUERIES: usize = 100;

const TRUTH_IDS: &str = "truth.ibin";
const TRUTH_SCORES: &str = "truth.scores.fbin";
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

/// Share of the shipped ids, over `checked` evenly spaced queries, not in the exact top-k.
fn truth_mismatch(
    src: &Source,
    k: usize,
    rows: &[Vec<u32>],
    metric: Metric,
) -> Result<(usize, f64)> {
    let nq = src.test.len();
    let s = TRUTH_CHECK_QUERIES.min(nq);
    let sample: Vec<usize> = (0..s).map(|i| i * nq / s).collect();
    let queries = src.test.select(&sample);
    let exact = ground_truth(&src.train, &queries, k, metric, &|_| {})?;
    let found: Vec<Vec<u64>> = sample
        .iter()
        .map(|&q| rows[q].iter().map(|&id| u64::from(id)).collect())
        .collect();
    // Recall of the shipped list against the exact list, per query; 1 - mean is the mismatch.
    let mean: f64 = (0..s)
        .map(|i| recall_at_k(&found[i], exact.ids(i), k.min(rows[sample[i]].len().max(1))))
        .sum::<f64>()
        / s as f64;
    Ok((s, 1.0 - mean))
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
}

impl std::fmt::Debug for UserData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserData")
            .field("path", &self.path)
            .field("format", &self.src.format)
            .field("dim", &self.dim())
            .field("train", &self.len())
            .field("test", &self.src.test.len())
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
        })
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
    /// naming both), with its truth: shipped and checked, or computed and cached.
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
        let k = match &src.neighbors {
            Some((width, _, _)) => *width,
            None => k.min(src.train.len()),
        };
        let hash = content_hash(&src.files, &format!("{}:{k}:{head:?}", metric.name()))?;
        let dir = datasets.join(format!("user-{}", &hash[..16]));
        fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;

        let (truth, origin) = match &src.neighbors {
            Some((width, rows, file)) => {
                let (checked, mismatch_rate) = truth_mismatch(&src, *width, rows, metric)?;
                let scores = rows.iter().map(|r| vec![f32::NAN; r.len()]).collect();
                (
                    GroundTruth::new(*width, rows.clone(), scores)?,
                    TruthOrigin::Shipped {
                        file: file.clone(),
                        checked,
                        mismatch_rate,
                    },
                )
            }
            None => match read_cached_truth(&dir, k, src.test.len()) {
                Some(truth) => (truth, TruthOrigin::Computed { cached: true }),
                None => {
                    let bar = progress_bar(
                        (src.train.len() * src.test.len()) as u64,
                        "exact ground truth (scores)",
                    );
                    let truth = ground_truth(&src.train, &src.test, k, metric, &|n| bar.inc(n))?;
                    bar.finish_and_clear();
                    write_cached_truth(&dir, k, &truth)?;
                    (truth, TruthOrigin::Computed { cached: false })
                }
            },
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
    /// contradiction names both). Shipped neighbours are used as the truth after checking them
    /// on [`TRUTH_CHECK_QUERIES`] queries against the exact truth (the mismatch rate is in
    /// [`UserSource::truth`] and in `source.json`); without them the exact top-`k` is computed
    /// and cached by the files' content hash.
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

fn read_cached_truth(dir: &Path, k: usize, queries: usize) -> Option<GroundTruth> {
    let (width, ids) = read_ids(&dir.join(TRUTH_IDS)).ok()?;
    let scores = read_vectors(&dir.join(TRUTH_SCORES)).ok()?;
    if width != k || ids.len() != queries || scores.len() != queries || scores.dim() != k {
        return None;
    }
    let scores = ids
        .iter()
        .enumerate()
        .map(|(q, row)| scores.row(q)[..row.len()].to_vec())
        .collect();
    GroundTruth::new(k, ids, scores).ok()
}

fn write_cached_truth(dir: &Path, k: usize, truth: &GroundTruth) -> Result<()> {
    write_ids(&dir.join(TRUTH_IDS), k, truth.all_ids())?;
    let mut flat = Vec::with_capacity(truth.len() * k);
    for row in truth.all_scores() {
        flat.extend_from_slice(row);
        flat.extend(std::iter::repeat_n(f32::MIN, k - row.len()));
    }
    write_vectors(&dir.join(TRUTH_SCORES), &Vectors::new(k, flat)?)
}
