//! How hard a dataset is for nearest-neighbour search, in two standard figures.
//!
//! - **LID**, local intrinsic dimensionality: the maximum-likelihood estimator of Levina & Bickel
//!   (2004) in the form Amsaleg et al. (KDD 2015) use per query, over the distances
//!   `d_1 <= ... <= d_k` from a query to its `k` true neighbours:
//!   `LID = -1 / mean_i ln(d_i / d_k)`. High LID: the neighbours sit at nearly the same distance,
//!   and a graph index has to look further to tell them apart.
//! - **RC**, relative contrast (He, Kumar & Chang, ICML 2012): the mean distance from a query to
//!   the dataset divided by its distance to its nearest neighbour. RC near 1: the nearest
//!   neighbour is hardly nearer than an average point, the hard case.
//!
//! Both are measured on a fixed, evenly spaced sample of [`SAMPLE_QUERIES`] queries; the mean
//! distance of RC on a seeded sample of [`SAMPLE_POINTS`] points. Distances are recomputed from
//! the vectors (a truth file's scores may be missing), as Euclidean distances: for Cosine between
//! the normalised vectors, for Dot and Euclid between the vectors as they are. The neighbours are
//! the truth's first `k` ids (`k` = [`LID_K`], or the truth's depth when it is shallower).

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::generator::{Metric, rng};
use crate::groundtruth::GroundTruth;
use crate::vectors::Vectors;

/// Neighbours per query in the LID estimate.
pub const LID_K: usize = 20;
/// Queries the figures are measured on (all of them when there are fewer).
pub const SAMPLE_QUERIES: usize = 200;
/// Points the mean distance of RC is estimated on (all of them when there are fewer).
pub const SAMPLE_POINTS: usize = 1_000;
/// Version of the estimate; a cached `hardness.json` of another version is recomputed.
pub const HARDNESS_VERSION: u32 = 1;

/// LID and RC of a dataset (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hardness {
    /// Neighbours per query in the LID estimate.
    pub k: usize,
    /// Queries measured (those with a non-zero distance to their k-th neighbour).
    pub queries: usize,
    /// Points sampled for RC's mean distance.
    pub sample_points: usize,
    pub lid_mean: f64,
    pub lid_median: f64,
    /// Mean over the queries of (mean distance to the sampled points) / (distance to the nearest
    /// neighbour).
    pub rc_mean: f64,
}

impl Hardness {
    /// `LID@20 mean 14.2, median 13.9; RC 1.31 (200 queries)`.
    pub fn describe(&self) -> String {
        format!(
            "LID@{} mean {:.1}, median {:.1}; RC {:.2} ({} queries)",
            self.k, self.lid_mean, self.lid_median, self.rc_mean, self.queries
        )
    }
}

/// LID and RC of `queries` against `points` with their exact neighbours `truth` (row `q` of
/// `truth` belongs to query `q`, ids index `points`).
pub fn hardness(
    points: &Vectors,
    queries: &Vectors,
    truth: &GroundTruth,
    metric: Metric,
) -> Result<Hardness> {
    let invalid = |value: String, reason: &str| DataError::InvalidSpec {
        field: "hardness",
        value,
        reason: reason.into(),
    };
    if points.dim() != queries.dim() {
        return Err(DataError::WrongDimension {
            expected: points.dim(),
            actual: queries.dim(),
            context: "queries against points, for LID and RC".into(),
        });
    }
    let n = queries.len().min(truth.len());
    if n == 0 || points.len() < 2 {
        return Err(invalid(
            format!("{} points, {n} queries with truth", points.len()),
            "LID and RC need at least 2 points and 1 query with neighbours",
        ));
    }
    let k = LID_K.min(truth.k()).min(points.len());
    if k < 2 {
        return Err(invalid(
            format!("truth of depth {}", truth.k()),
            "LID needs at least 2 neighbours per query",
        ));
    }
    let cosine = metric == Metric::Cosine;
    let sample = point_sample(points.len());
    let taken = n.min(SAMPLE_QUERIES);
    let per_query: Vec<(Option<f64>, Option<f64>)> = (0..taken)
        .into_par_iter()
        .map(|j| {
            // Evenly spaced over all queries, the same ones every time.
            let q = j * n / taken;
            let query = prepared(queries.row(q), cosine);
            let ids = truth.ids(q);
            if ids.len() < k {
                return (None, None);
            }
            let mut d: Vec<f64> = ids[..k]
                .iter()
                .map(|&id| distance(&query, points.row(id as usize), cosine))
                .collect();
            d.sort_by(f64::total_cmp);
            let (nearest, dk) = (d[0], d[k - 1]);
            let mut lid = None;
            if dk > 0.0 {
                // Neighbours at distance 0 (duplicates of the query) carry no information.
                let logs: Vec<f64> = d
                    .iter()
                    .filter(|&&x| x > 0.0)
                    .map(|x| (x / dk).ln())
                    .collect();
                let mean = logs.iter().sum::<f64>() / logs.len() as f64;
                if mean < 0.0 {
                    lid = Some(-1.0 / mean);
                }
            }
            let rc = (nearest > 0.0).then(|| {
                let mean = sample
                    .iter()
                    .map(|&p| distance(&query, points.row(p), cosine))
                    .sum::<f64>()
                    / sample.len() as f64;
                mean / nearest
            });
            (lid, rc)
        })
        .collect();
    let mut lids: Vec<f64> = per_query.iter().filter_map(|r| r.0).collect();
    let rcs: Vec<f64> = per_query.iter().filter_map(|r| r.1).collect();
    if lids.is_empty() || rcs.is_empty() {
        return Err(invalid(
            format!("{taken} queries"),
            "every sampled query has its neighbours at distance 0 (duplicate points)",
        ));
    }
    let lid_mean = lids.iter().sum::<f64>() / lids.len() as f64;
    lids.sort_by(f64::total_cmp);
    let mid = lids.len() / 2;
    let lid_median = if lids.len().is_multiple_of(2) {
        (lids[mid - 1] + lids[mid]) / 2.0
    } else {
        lids[mid]
    };
    Ok(Hardness {
        k,
        queries: lids.len(),
        sample_points: sample.len(),
        lid_mean,
        lid_median,
        rc_mean: rcs.iter().sum::<f64>() / rcs.len() as f64,
    })
}

/// The query as used for distances: normalised for Cosine.
fn prepared(v: &[f32], cosine: bool) -> Vec<f32> {
    if !cosine {
        return v.to_vec();
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

/// Euclidean distance from `q` (already prepared) to `p`; for Cosine, to `p` normalised.
fn distance(q: &[f32], p: &[f32], cosine: bool) -> f64 {
    // Eight independent lanes, so the sums vectorise.
    const L: usize = 8;
    let (mut a, mut b) = ([0.0f32; L], [0.0f32; L]);
    let (qc, pc) = (q.chunks_exact(L), p.chunks_exact(L));
    let (qr, pr) = (qc.remainder(), pc.remainder());
    for (x, y) in qc.zip(pc) {
        for i in 0..L {
            if cosine {
                a[i] += x[i] * y[i];
                b[i] += y[i] * y[i];
            } else {
                let d = x[i] - y[i];
                a[i] += d * d;
            }
        }
    }
    let (mut s, mut pp) = (a.iter().sum::<f32>(), b.iter().sum::<f32>());
    for (x, y) in qr.iter().zip(pr) {
        if cosine {
            s += x * y;
            pp += y * y;
        } else {
            s += (x - y) * (x - y);
        }
    }
    if !cosine {
        return f64::from(s).sqrt();
    }
    if pp == 0.0 {
        return 1.0;
    }
    // |q - p/|p||^2 = 2 - 2 q.p/|p| for unit q.
    (2.0 - 2.0 * f64::from(s) / f64::from(pp).sqrt())
        .max(0.0)
        .sqrt()
}

/// A seeded sample of distinct point indexes (all of them when there are few).
fn point_sample(points: usize) -> Vec<usize> {
    if points <= SAMPLE_POINTS {
        return (0..points).collect();
    }
    use rand::RngCore;
    let mut rng = rng(0x4c49_445f_5243, 0);
    // Partial Fisher-Yates over the index range.
    let mut idx: Vec<usize> = (0..points).collect();
    for i in 0..SAMPLE_POINTS {
        let j = i + ((rng.next_u64() as u128 * (points - i) as u128) >> 64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(SAMPLE_POINTS);
    idx
}

#[derive(Serialize, Deserialize)]
struct Cached {
    version: u32,
    hardness: Hardness,
}

/// The figures cached at `path`, when it holds them for this version of the estimate.
pub(crate) fn read_cached(path: &Path) -> Option<Hardness> {
    let bytes = std::fs::read(path).ok()?;
    let cached: Cached = serde_json::from_slice(&bytes).ok()?;
    (cached.version == HARDNESS_VERSION).then_some(cached.hardness)
}

/// Writes the figures to `path` atomically (a temporary sibling renamed into place).
pub(crate) fn write_cached(path: &Path, hardness: &Hardness) -> Result<()> {
    let json = serde_json::to_vec_pretty(&Cached {
        version: HARDNESS_VERSION,
        hardness: hardness.clone(),
    })
    .expect("hardness serialises");
    let tmp = crate::files::temp_sibling(path);
    std::fs::write(&tmp, json).map_err(|e| DataError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Distribution, Part, generate};
    use crate::groundtruth::ground_truth;
    use crate::vectors::DatasetSpec;

    /// Points uniform in a `sub`-dimensional cube embedded (by a fixed rotation-free padding) in
    /// `dim` dimensions; queries from the same cube.
    fn subspace(sub: usize, dim: usize, points: usize, queries: usize) -> (Vectors, Vectors) {
        use rand::RngCore;
        let mut r = rng(7, 3);
        let mut make = |n: usize| {
            let mut data = vec![0.0f32; n * dim];
            for row in data.chunks_exact_mut(dim) {
                for x in &mut row[..sub] {
                    *x = (r.next_u64() >> 11) as f32 / (1u64 << 53) as f32;
                }
            }
            Vectors::new(dim, data).unwrap()
        };
        (make(points), make(queries))
    }

    #[test]
    fn lid_of_points_uniform_in_a_subspace_is_near_its_dimension() {
        for sub in [2usize, 4, 8] {
            let (p, q) = subspace(sub, 32, 20_000, 200);
            let truth = ground_truth(&p, &q, 20, Metric::Euclid, &|_| {}).unwrap();
            let h = hardness(&p, &q, &truth, Metric::Euclid).unwrap();
            let s = sub as f64;
            // The MLE over 20 neighbours is biased and noisy per query; the median over 200
            // queries lands well within 30% of the true dimension.
            assert!(
                (h.lid_median - s).abs() < 0.3 * s,
                "subspace of dimension {sub}: {h:?}"
            );
            assert!(h.rc_mean > 1.0, "{h:?}");
            assert_eq!((h.k, h.queries, h.sample_points), (20, 200, 1_000));
        }
    }

    #[test]
    fn a_harder_distribution_has_lower_contrast_and_higher_lid() {
        let measure = |d: Distribution| {
            let spec = DatasetSpec::new(128, 5_000)
                .with_queries(100)
                .with_k(20)
                .with_distribution(d);
            let p = generate(&spec, Part::Points).unwrap();
            let q = generate(&spec, Part::Queries).unwrap();
            let t = ground_truth(&p, &q, 20, spec.metric, &|_| {}).unwrap();
            hardness(&p, &q, &t, spec.metric).unwrap()
        };
        let clustered = measure(Distribution::default());
        let normal = measure(Distribution::Normal);
        assert!(
            normal.rc_mean < clustered.rc_mean,
            "normal {normal:?} vs clustered {clustered:?}"
        );
        assert!(normal.lid_mean > clustered.lid_mean);
        assert!(clustered.rc_mean > 1.0 && normal.rc_mean > 1.0);
    }

    #[test]
    fn truth_scores_are_not_trusted_and_shallow_truth_names_its_k() {
        let (p, q) = subspace(4, 16, 2_000, 50);
        let t = ground_truth(&p, &q, 10, Metric::Euclid, &|_| {}).unwrap();
        let h = hardness(&p, &q, &t, Metric::Euclid).unwrap();
        // The same ids with NaN scores (a truth file) give the same figures.
        let nan = t
            .all_ids()
            .iter()
            .map(|r| vec![f32::NAN; r.len()])
            .collect();
        let t_nan = GroundTruth::new(10, t.all_ids().to_vec(), nan).unwrap();
        assert_eq!(hardness(&p, &q, &t_nan, Metric::Euclid).unwrap(), h);
        assert_eq!(h.k, 10);
        assert!(h.describe().starts_with("LID@10 mean "), "{}", h.describe());
        let one = GroundTruth::new(1, vec![vec![0]; 50], vec![vec![0.0]; 50]).unwrap();
        let err = hardness(&p, &q, &one, Metric::Euclid).unwrap_err();
        assert!(err.to_string().contains("at least 2 neighbours"), "{err}");
    }

    #[test]
    fn the_cache_file_round_trips_and_another_version_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hardness.json");
        let h = Hardness {
            k: 20,
            queries: 200,
            sample_points: 2000,
            lid_mean: 12.5,
            lid_median: 12.0,
            rc_mean: 1.4,
        };
        assert_eq!(read_cached(&path), None);
        write_cached(&path, &h).unwrap();
        assert_eq!(read_cached(&path), Some(h));
        std::fs::write(&path, br#"{"version":0,"hardness":{}}"#).unwrap();
        assert_eq!(read_cached(&path), None);
    }
}
