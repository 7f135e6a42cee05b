//! Exact top-k ground truth by blocked matrix products.
//!
//! Scores of a block of queries against a block of points are one GEMM (`gemm`, on all cores);
//! each query then keeps its best k in a bounded heap, with a threshold test so that almost every
//! score is rejected by one comparison. This is the suite's own heavy compute; its speed is
//! tracked in GFLOP/s by `benches/groundtruth.rs`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::generator::Metric;
use crate::vectors::Vectors;

/// Points scored per GEMM call: big enough to amortise the call, small enough for the cache.
pub(crate) const POINT_BLOCK: usize = 4096;
/// Queries per GEMM call: bounds the score buffer to QUERY_BLOCK x POINT_BLOCK floats (16 MiB).
pub(crate) const QUERY_BLOCK: usize = 1024;

/// The exact k nearest points of every query: ids in rank order and their scores, in the
/// units Qdrant returns (similarity for Cosine and Dot, Euclidean distance for Euclid).
/// A query may have fewer than k entries when fewer points exist.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundTruth {
    k: usize,
    ids: Vec<Vec<u32>>,
    scores: Vec<Vec<f32>>,
}

impl GroundTruth {
    pub fn new(k: usize, ids: Vec<Vec<u32>>, scores: Vec<Vec<f32>>) -> Result<Self> {
        if ids.len() != scores.len() || ids.iter().zip(&scores).any(|(i, s)| i.len() != s.len()) {
            return Err(DataError::InvalidSpec {
                field: "ground_truth",
                value: format!("{} id rows, {} score rows", ids.len(), scores.len()),
                reason: "ids and scores must have the same shape".into(),
            });
        }
        Ok(Self { k, ids, scores })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The true neighbours of query `q`, best first.
    pub fn ids(&self, q: usize) -> &[u32] {
        &self.ids[q]
    }

    pub fn scores(&self, q: usize) -> &[f32] {
        &self.scores[q]
    }

    pub fn all_ids(&self) -> &[Vec<u32>] {
        &self.ids
    }

    pub fn all_scores(&self) -> &[Vec<f32>] {
        &self.scores
    }

    /// Floating-point operations of the score matrix, for GFLOP/s figures.
    pub fn flops(points: usize, queries: usize, dim: usize) -> u64 {
        2 * points as u64 * queries as u64 * dim as u64
    }
}

/// A candidate in a query's heap: ordered so that the heap's top is the worst kept candidate.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) score: f32,
    pub(crate) id: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Higher score is better; on a tie the smaller id is better. "Greater" = worse.
        other
            .score
            .total_cmp(&self.score)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone)]
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Candidate>,
    /// Score of the worst kept candidate once the heap is full.
    threshold: f32,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
            threshold: f32::NEG_INFINITY,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, score: f32, id: u32) {
        if self.heap.len() == self.k && score <= self.threshold {
            return;
        }
        self.heap.push(Candidate { score, id });
        if self.heap.len() > self.k {
            self.heap.pop();
        }
        if self.heap.len() == self.k {
            self.threshold = self.heap.peek().map_or(f32::NEG_INFINITY, |c| c.score);
        }
    }

    fn into_sorted(self) -> Vec<Candidate> {
        // into_sorted_vec is ascending by Ord, i.e. best first.
        self.heap.into_sorted_vec()
    }

    /// The kept candidates, best first, leaving the heap as it is.
    pub(crate) fn sorted(&self) -> Vec<Candidate> {
        self.heap.clone().into_sorted_vec()
    }
}

pub(crate) fn check_same_dim(points: &Vectors, queries: &Vectors) -> Result<()> {
    if points.dim() != queries.dim() {
        return Err(DataError::WrongDimension {
            expected: points.dim(),
            actual: queries.dim(),
            context: "queries against points".into(),
        });
    }
    Ok(())
}

/// Converts an internal "higher is better" score to what Qdrant reports.
pub(crate) fn reported(metric: Metric, score: f32, query_norm2: f32) -> f32 {
    match metric {
        Metric::Cosine | Metric::Dot => score,
        // internal score = 2 q.x - |x|^2, so |q - x|^2 = |q|^2 - score.
        Metric::Euclid => (query_norm2 - score).max(0.0).sqrt(),
    }
}

pub(crate) fn norm2(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum()
}

/// The score of one point for one query, in f64 and "higher is better": the cosine of the two
/// vectors as given (a zero vector counts as unit length, as in [`ground_truth`]), their dot
/// product, or minus their squared Euclidean distance. For comparing two points' scores for a
/// query (is a shipped neighbour as near as the exact k-th one?), not for ranking all points:
/// that is [`ground_truth`]'s job.
pub(crate) fn pair_score(metric: Metric, query: &[f32], point: &[f32]) -> f64 {
    let dot = || {
        query
            .iter()
            .zip(point)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum::<f64>()
    };
    match metric {
        Metric::Dot => dot(),
        Metric::Cosine => {
            let norm = |v: &[f32]| match v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() {
                0.0 => 1.0,
                n => n.sqrt(),
            };
            dot() / (norm(query) * norm(point))
        }
        Metric::Euclid => -query
            .iter()
            .zip(point)
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
            .sum::<f64>(),
    }
}

/// `out` (nq x np, row-major) = Q (nq x dim, row-major) * P^T (dim x np): the dot products of
/// a block of queries with a block of points, one GEMM on all cores.
pub(crate) fn score_block(
    q_block: &[f32],
    nq: usize,
    p_block: &[f32],
    np: usize,
    dim: usize,
    out: &mut [f32],
) {
    assert!(q_block.len() == nq * dim && p_block.len() == np * dim && out.len() == nq * np);
    // out (nq x np, row-major) = Q (nq x dim, row-major) * P^T (dim x np).
    // SAFETY: the strides describe exactly the slices passed, which outlive the call.
    unsafe {
        gemm::gemm(
            nq,
            np,
            dim,
            out.as_mut_ptr(),
            1,
            np as isize,
            false,
            q_block.as_ptr(),
            1,
            dim as isize,
            p_block.as_ptr(),
            dim as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

/// Exact top-`k` neighbours of every query among `points`, by blocked GEMM on all cores.
///
/// `progress` is called with the number of points finished after each block.
pub fn ground_truth(
    points: &Vectors,
    queries: &Vectors,
    k: usize,
    metric: Metric,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<GroundTruth> {
    check_same_dim(points, queries)?;
    let dim = points.dim();
    let n = points.len();
    let point_norms: Vec<f32> = match metric {
        Metric::Euclid => points.rows().map(norm2).collect(),
        _ => Vec::new(),
    };
    // Qdrant normalises Cosine vectors on upload. The generator's already are; a user's may
    // not be: then each score is divided by the point's norm (and reported over the query's).
    let inverse_norms: Option<Vec<f32>> = (metric == Metric::Cosine)
        .then(|| {
            points
                .as_slice()
                .par_chunks(dim)
                .map(|r| match norm2(r).sqrt() {
                    0.0 => 1.0,
                    n => 1.0 / n,
                })
                .collect::<Vec<f32>>()
        })
        .filter(|inv| inv.iter().any(|x| (x - 1.0).abs() > 1e-4));
    let mut ids = Vec::with_capacity(queries.len());
    let mut scores = Vec::with_capacity(queries.len());
    let mut buffer = vec![0.0f32; QUERY_BLOCK.min(queries.len().max(1)) * POINT_BLOCK];

    for q0 in (0..queries.len()).step_by(QUERY_BLOCK) {
        let nq = QUERY_BLOCK.min(queries.len() - q0);
        let q_block = &queries.as_slice()[q0 * dim..(q0 + nq) * dim];
        let mut heaps: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
        for p0 in (0..n).step_by(POINT_BLOCK) {
            let np = POINT_BLOCK.min(n - p0);
            let p_block = &points.as_slice()[p0 * dim..(p0 + np) * dim];
            let out = &mut buffer[..nq * np];
            score_block(q_block, nq, p_block, np, dim, out);
            let norms = if metric == Metric::Euclid {
                Some(&point_norms[p0..p0 + np])
            } else {
                None
            };
            let inverse = inverse_norms.as_ref().map(|inv| &inv[p0..p0 + np]);
            heaps
                .par_iter_mut()
                .zip(out.par_chunks(np))
                .for_each(|(heap, row)| match (norms, inverse) {
                    (Some(norms), _) => {
                        for (j, (&s, &x2)) in row.iter().zip(norms).enumerate() {
                            heap.push(2.0 * s - x2, (p0 + j) as u32);
                        }
                    }
                    (None, Some(inverse)) => {
                        for (j, (&s, &inv)) in row.iter().zip(inverse).enumerate() {
                            heap.push(s * inv, (p0 + j) as u32);
                        }
                    }
                    (None, None) => {
                        for (j, &s) in row.iter().enumerate() {
                            heap.push(s, (p0 + j) as u32);
                        }
                    }
                });
            progress((nq * np) as u64);
        }
        for (i, heap) in heaps.into_iter().enumerate() {
            let q_norm2 = norm2(queries.row(q0 + i));
            let sorted = heap.into_sorted();
            let q_scale = match metric {
                Metric::Cosine if (q_norm2 - 1.0).abs() > 1e-4 && q_norm2 > 0.0 => {
                    1.0 / q_norm2.sqrt()
                }
                _ => 1.0,
            };
            ids.push(sorted.iter().map(|c| c.id).collect());
            scores.push(
                sorted
                    .iter()
                    .map(|c| reported(metric, c.score, q_norm2) * q_scale)
                    .collect(),
            );
        }
    }
    GroundTruth::new(k, ids, scores)
}

/// Exact top-`k` neighbours of every query among the points whose ids are in `matching` (the
/// points a filter selects, ascending), by the same blocked GEMM as [`ground_truth`] over that
/// subset only: it does `matching.len() / points.len()` of the unfiltered work. Ids in the
/// result are the points' own ids. When fewer than `k` points match, each query gets all of
/// them (fewer than `k` entries); with none, empty rows.
pub fn ground_truth_filtered(
    points: &Vectors,
    queries: &Vectors,
    k: usize,
    metric: Metric,
    matching: &[u32],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<GroundTruth> {
    check_same_dim(points, queries)?;
    if let Some(bad) = matching.iter().find(|&&i| i as usize >= points.len()) {
        return Err(DataError::InvalidSpec {
            field: "matching",
            value: bad.to_string(),
            reason: format!("a matching id must be below the {} points", points.len()),
        });
    }
    if !matching.windows(2).all(|w| w[0] < w[1]) {
        return Err(DataError::InvalidSpec {
            field: "matching",
            value: format!("{} ids", matching.len()),
            reason: "matching ids must be strictly ascending (each point once)".into(),
        });
    }
    if matching.len() == points.len() {
        return ground_truth(points, queries, k, metric, progress);
    }
    let dim = points.dim();
    let mut gathered = vec![0.0f32; matching.len() * dim];
    gathered
        .par_chunks_mut(dim.max(1))
        .zip(matching.par_iter())
        .for_each(|(row, &id)| row.copy_from_slice(points.row(id as usize)));
    let subset = Vectors::new(dim, gathered)?;
    let truth = ground_truth(&subset, queries, k, metric, progress)?;
    // The subset keeps the points' order, so ties (smaller id first) still break the same way.
    let ids = truth
        .all_ids()
        .iter()
        .map(|row| row.iter().map(|&j| matching[j as usize]).collect())
        .collect();
    GroundTruth::new(k, ids, truth.all_scores().to_vec())
}

/// The obvious quadratic loop, one dot product at a time: the reference the fast path is
/// tested against. Far too slow for real sizes.
pub fn exact_top_k_naive(
    points: &Vectors,
    queries: &Vectors,
    k: usize,
    metric: Metric,
) -> Result<GroundTruth> {
    check_same_dim(points, queries)?;
    let mut ids = Vec::new();
    let mut scores = Vec::new();
    let norm = |v: &[f32]| v.iter().map(|x| *x as f64 * *x as f64).sum::<f64>().sqrt();
    // True cosine when the vectors are not unit length (as Qdrant normalises them).
    let unit = metric != Metric::Cosine
        || points
            .rows()
            .chain(queries.rows())
            .all(|v| (norm(v) - 1.0).abs() <= 1e-4);
    let scale = |v: &[f32]| {
        if unit || norm(v) == 0.0 {
            1.0
        } else {
            1.0 / norm(v)
        }
    };
    for q in queries.rows() {
        let mut all: Vec<(f64, u32)> = points
            .rows()
            .enumerate()
            .map(|(i, p)| {
                let s = match metric {
                    Metric::Cosine | Metric::Dot => {
                        q.iter()
                            .zip(p)
                            .map(|(a, b)| *a as f64 * *b as f64)
                            .sum::<f64>()
                            * scale(p)
                            * scale(q)
                    }
                    Metric::Euclid => -q
                        .iter()
                        .zip(p)
                        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                        .sum::<f64>(),
                };
                (s, i as u32)
            })
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(k);
        ids.push(all.iter().map(|c| c.1).collect());
        scores.push(
            all.iter()
                .map(|c| match metric {
                    Metric::Euclid => (-c.0).sqrt() as f32,
                    _ => c.0 as f32,
                })
                .collect(),
        );
    }
    GroundTruth::new(k, ids, scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Distribution, Part, generate};
    use crate::recall::recall_at_k;
    use crate::vectors::DatasetSpec;

    fn check_against_naive(spec: DatasetSpec, k: usize) {
        let points = generate(&spec, Part::Points).unwrap();
        let queries = generate(&spec, Part::Queries).unwrap();
        let fast = ground_truth(&points, &queries, k, spec.metric, &|_| {}).unwrap();
        let slow = exact_top_k_naive(&points, &queries, k, spec.metric).unwrap();
        assert_eq!(fast.len(), queries.len());
        for q in 0..queries.len() {
            assert_eq!(fast.ids(q).len(), k.min(points.len()));
            // Float sums in another order may swap near-ties, so compare sets by score, and
            // require the id lists to agree almost everywhere.
            let r = recall_at_k(
                &fast.ids(q).iter().map(|&i| i as u64).collect::<Vec<_>>(),
                slow.ids(q),
                k,
            );
            assert!(r >= 0.99 || k < 10, "query {q}: recall {r} vs naive");
            for (a, b) in fast.scores(q).iter().zip(slow.scores(q)) {
                assert!(
                    (a - b).abs() <= 1e-3 * b.abs().max(1.0),
                    "query {q}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn agrees_with_the_naive_reference_for_every_metric() {
        // Sizes that cross the block boundaries (POINT_BLOCK = 4096, QUERY_BLOCK = 1024).
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclid] {
            let spec = DatasetSpec::new(40, 4100 + 37)
                .with_queries(25)
                .with_metric(metric);
            check_against_naive(spec, 10);
        }
        let spec = DatasetSpec::new(17, 900)
            .with_queries(1030)
            .with_distribution(Distribution::Normal);
        check_against_naive(spec, 5);
    }

    #[test]
    fn cosine_truth_of_vectors_not_of_unit_length_is_the_cosine_not_the_dot_product() {
        // Qdrant normalises Cosine vectors on upload; a user's file may hold raw ones. Point 0
        // has the largest dot product with the query but not the largest cosine.
        let points = Vectors::new(2, vec![10.0, 5.0, 1.0, 0.0, 0.0, 3.0]).unwrap();
        let queries = Vectors::new(2, vec![2.0, 0.0]).unwrap();
        let fast = ground_truth(&points, &queries, 3, Metric::Cosine, &|_| {}).unwrap();
        let slow = exact_top_k_naive(&points, &queries, 3, Metric::Cosine).unwrap();
        assert_eq!(fast.ids(0), &[1, 0, 2]);
        assert_eq!(slow.ids(0), &[1, 0, 2]);
        let want = [1.0, 10.0 / 125f32.sqrt(), 0.0];
        for (a, b) in fast.scores(0).iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // Dot keeps the raw products.
        let dot = ground_truth(&points, &queries, 3, Metric::Dot, &|_| {}).unwrap();
        assert_eq!(dot.ids(0), &[0, 1, 2]);
        assert_eq!(dot.scores(0), &[20.0, 2.0, 0.0]);
    }

    /// Filter-then-scan: the obvious reference for filtered ground truth.
    fn naive_filtered(
        points: &Vectors,
        queries: &Vectors,
        k: usize,
        keep: &[u32],
    ) -> Vec<Vec<u32>> {
        queries
            .rows()
            .map(|q| {
                let mut all: Vec<(f64, u32)> = (0..points.len() as u32)
                    .filter(|i| keep.contains(i))
                    .map(|i| {
                        let p = points.row(i as usize);
                        (q.iter().zip(p).map(|(a, b)| *a as f64 * *b as f64).sum(), i)
                    })
                    .collect();
                all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                all.into_iter().take(k).map(|c| c.1).collect()
            })
            .collect()
    }

    #[test]
    fn filtered_truth_agrees_with_filter_then_scan() {
        use crate::payload::{FieldKind, PayloadSpec, Payloads};
        let spec = DatasetSpec::new(24, 4100 + 50).with_queries(30);
        let points = generate(&spec, Part::Points).unwrap();
        let queries = generate(&spec, Part::Queries).unwrap();
        let payloads =
            Payloads::generate(&PayloadSpec::default(), spec.seed, points.len()).unwrap();
        for (kind, s) in [
            (FieldKind::Integer, 0.1),
            (FieldKind::Float, 0.5),
            (FieldKind::Keyword, 0.01),
            (FieldKind::Integer, 0.001), // 5 points: fewer than k
        ] {
            let sel = payloads.select(kind, s).unwrap();
            let fast = ground_truth_filtered(
                &points,
                &queries,
                10,
                Metric::Cosine,
                &sel.matching,
                &|_| {},
            )
            .unwrap();
            let slow = naive_filtered(&points, &queries, 10, &sel.matching);
            for (q, want) in slow.iter().enumerate() {
                assert_eq!(fast.ids(q).len(), want.len().min(10), "{kind:?} {s}");
                assert!(fast.ids(q).iter().all(|id| sel.matching.contains(id)));
                let r = recall_at_k(
                    &fast.ids(q).iter().map(|&i| i as u64).collect::<Vec<_>>(),
                    want,
                    10,
                );
                assert!(
                    r >= 0.9,
                    "{kind:?} {s} query {q}: recall {r} vs filter-then-scan"
                );
            }
        }
        // 5 of 4,150 points match at 0.1 %: every query's truth is exactly those 5.
        let few = payloads.select(FieldKind::Integer, 0.001).unwrap();
        assert_eq!(few.matching.len(), 5);
        let gt = ground_truth_filtered(
            &points,
            &queries,
            10,
            Metric::Cosine,
            &few.matching,
            &|_| {},
        )
        .unwrap();
        for q in 0..queries.len() {
            let mut ids = gt.ids(q).to_vec();
            ids.sort();
            assert_eq!(ids, few.matching);
        }
        // No match: empty rows; all match: the unfiltered truth.
        let none =
            ground_truth_filtered(&points, &queries, 10, Metric::Cosine, &[], &|_| {}).unwrap();
        assert!(none.all_ids().iter().all(Vec::is_empty));
        let all: Vec<u32> = (0..points.len() as u32).collect();
        assert_eq!(
            ground_truth_filtered(&points, &queries, 10, Metric::Cosine, &all, &|_| {}).unwrap(),
            ground_truth(&points, &queries, 10, Metric::Cosine, &|_| {}).unwrap()
        );
        let err = ground_truth_filtered(&points, &queries, 10, Metric::Cosine, &[3, 2], &|_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("ascending"), "{err}");
    }

    #[test]
    fn fewer_points_than_k_gives_every_point_in_order() {
        let spec = DatasetSpec::new(8, 3).with_queries(4);
        let points = generate(&spec, Part::Points).unwrap();
        let queries = generate(&spec, Part::Queries).unwrap();
        let gt = ground_truth(&points, &queries, 10, Metric::Cosine, &|_| {}).unwrap();
        for q in 0..4 {
            let mut ids = gt.ids(q).to_vec();
            assert_eq!(ids.len(), 3);
            assert!(gt.scores(q).windows(2).all(|w| w[0] >= w[1]));
            ids.sort();
            assert_eq!(ids, vec![0, 1, 2]);
        }
    }

    #[test]
    fn a_point_equal_to_the_query_ranks_first() {
        let points = Vectors::new(3, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.6, 0.8, 0.0]).unwrap();
        let queries = Vectors::new(3, vec![0.0, 1.0, 0.0]).unwrap();
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclid] {
            let gt = ground_truth(&points, &queries, 2, metric, &|_| {}).unwrap();
            assert_eq!(gt.ids(0), &[1, 2], "{metric:?}");
        }
        let gt = ground_truth(&points, &queries, 3, Metric::Euclid, &|_| {}).unwrap();
        assert!(gt.scores(0)[0].abs() < 1e-6);
        assert!((gt.scores(0)[2] - 2f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn mismatched_dimensions_are_an_error() {
        let points = Vectors::new(3, vec![0.0; 6]).unwrap();
        let queries = Vectors::new(4, vec![0.0; 4]).unwrap();
        let err = ground_truth(&points, &queries, 1, Metric::Dot, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected dimension 3, got 4"), "{err}");
    }
}
