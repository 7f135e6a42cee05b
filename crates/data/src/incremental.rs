//! Exact top-k ground truth of a growing collection, kept up to date batch by batch.
//!
//! A streaming run inserts points while it searches, and each search's recall must be judged
//! against the points that were in the collection at the time. Recomputing the exact top-k over
//! every point already there costs `queries x points x dim` per snapshot; [`IncrementalTruth`]
//! instead keeps each query's best k in a bounded heap and merges each acknowledged batch into
//! it: one small GEMM of the batch against all queries (the same kernel and heap as
//! [`crate::ground_truth`]), then a threshold test per score. The result after any sequence of
//! merges is the exact top-k over the union of the merged points (a unit test checks it against
//! [`crate::ground_truth_filtered`] over the same ids; `benches/groundtruth.rs` compares the cost
//! per inserted point).

use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::generator::Metric;
use crate::groundtruth::{
    GroundTruth, POINT_BLOCK, QUERY_BLOCK, TopK, norm2, reported, score_block,
};
use crate::vectors::Vectors;

/// Each query's exact top-k over the points merged so far.
#[derive(Clone)]
pub struct IncrementalTruth {
    k: usize,
    metric: Metric,
    queries: Vectors,
    query_norms: Vec<f32>,
    heaps: Vec<TopK>,
    merged: usize,
    buffer: Vec<f32>,
}

impl IncrementalTruth {
    /// No points yet: every query's top-k is empty.
    pub fn new(queries: Vectors, k: usize, metric: Metric) -> Result<Self> {
        if k == 0 {
            return Err(DataError::InvalidSpec {
                field: "k",
                value: "0".into(),
                reason: "the truth keeps at least 1 neighbour per query".into(),
            });
        }
        Ok(Self {
            k,
            metric,
            query_norms: queries.rows().map(norm2).collect(),
            heaps: (0..queries.len()).map(|_| TopK::new(k)).collect(),
            queries,
            merged: 0,
            buffer: Vec::new(),
        })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// Points merged so far.
    pub fn merged(&self) -> usize {
        self.merged
    }

    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    /// Merges the points `ids[i]` with vectors `vectors.row(i)` (each id once over all merges;
    /// ids need not be contiguous or in order).
    pub fn merge(&mut self, ids: &[u32], vectors: &Vectors) -> Result<()> {
        if vectors.dim() != self.queries.dim() {
            return Err(DataError::WrongDimension {
                expected: self.queries.dim(),
                actual: vectors.dim(),
                context: "points merged into the incremental truth".into(),
            });
        }
        if ids.len() != vectors.len() {
            return Err(DataError::InvalidSpec {
                field: "ids",
                value: format!("{} ids for {} vectors", ids.len(), vectors.len()),
                reason: "one id per merged vector".into(),
            });
        }
        let dim = vectors.dim();
        let euclid = self.metric == Metric::Euclid;
        let nq_all = self.queries.len();
        for p0 in (0..vectors.len()).step_by(POINT_BLOCK) {
            let np = POINT_BLOCK.min(vectors.len() - p0);
            let p_block = &vectors.as_slice()[p0 * dim..(p0 + np) * dim];
            let block_ids = &ids[p0..p0 + np];
            let point_norms: Vec<f32> = if euclid {
                p_block.chunks(dim.max(1)).map(norm2).collect()
            } else {
                Vec::new()
            };
            for q0 in (0..nq_all).step_by(QUERY_BLOCK) {
                let nq = QUERY_BLOCK.min(nq_all - q0);
                let q_block = &self.queries.as_slice()[q0 * dim..(q0 + nq) * dim];
                self.buffer.resize(nq * np, 0.0);
                let out = &mut self.buffer[..nq * np];
                score_block(q_block, nq, p_block, np, dim, out);
                let norms = &point_norms;
                self.heaps[q0..q0 + nq]
                    .par_iter_mut()
                    .zip(out.par_chunks(np))
                    .for_each(|(heap, row)| {
                        if euclid {
                            for ((&s, &x2), &id) in row.iter().zip(norms).zip(block_ids) {
                                heap.push(2.0 * s - x2, id);
                            }
                        } else {
                            for (&s, &id) in row.iter().zip(block_ids) {
                                heap.push(s, id);
                            }
                        }
                    });
            }
        }
        self.merged += ids.len();
        Ok(())
    }

    /// The exact top-k of every query over the points merged so far (ids best first, scores in
    /// Qdrant's units), as a [`GroundTruth`].
    pub fn snapshot(&self) -> GroundTruth {
        let (ids, scores): (Vec<Vec<u32>>, Vec<Vec<f32>>) = self
            .heaps
            .par_iter()
            .zip(self.query_norms.par_iter())
            .map(|(heap, &qn)| {
                let sorted = heap.sorted();
                (
                    sorted.iter().map(|c| c.id).collect(),
                    sorted
                        .iter()
                        .map(|c| reported(self.metric, c.score, qn))
                        .collect(),
                )
            })
            .unzip();
        GroundTruth::new(self.k, ids, scores).expect("ids and scores have the same shape")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groundtruth::ground_truth_filtered;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, dim: usize, rng: &mut ChaCha8Rng, normalise: bool) -> Vectors {
        let mut data: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        if normalise {
            for row in data.chunks_mut(dim) {
                let n = norm2(row).sqrt();
                row.iter_mut().for_each(|x| *x /= n);
            }
        }
        Vectors::new(dim, data).unwrap()
    }

    fn gather(points: &Vectors, ids: &[u32]) -> Vectors {
        let mut data = Vec::with_capacity(ids.len() * points.dim());
        for &i in ids {
            data.extend_from_slice(points.row(i as usize));
        }
        Vectors::new(points.dim(), data).unwrap()
    }

    /// Same ids in the same order; where a float tie (scores within 1e-5) lets the two orders
    /// differ, the scores at each rank still agree.
    fn assert_same(a: &GroundTruth, b: &GroundTruth, what: &str) {
        assert_eq!(a.len(), b.len());
        for q in 0..a.len() {
            assert_eq!(a.ids(q).len(), b.ids(q).len(), "{what}: query {q} length");
            for (r, (x, y)) in a.ids(q).iter().zip(b.ids(q)).enumerate() {
                let (sx, sy) = (a.scores(q)[r], b.scores(q)[r]);
                assert!(
                    (sx - sy).abs() <= 1e-4 * sx.abs().max(1.0),
                    "{what}: query {q} rank {r}: score {sx} vs {sy}"
                );
                if x != y {
                    assert!(
                        (sx - sy).abs() <= 1e-5 * sx.abs().max(1.0),
                        "{what}: query {q} rank {r}: id {x} vs {y} without a tie"
                    );
                }
            }
        }
    }

    #[test]
    fn merged_batches_equal_an_exact_recompute_over_the_acked_points() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (metric, k, dim, n, nq, batch) in [
            (Metric::Cosine, 10, 24, 1500, 37, 100),
            (Metric::Dot, 1, 16, 900, 20, 64),
            (Metric::Euclid, 25, 8, 1200, 15, 250),
            (Metric::Cosine, 100, 32, 700, 9, 33),
        ] {
            let points = random(n, dim, &mut rng, metric == Metric::Cosine);
            let queries = random(nq, dim, &mut rng, metric == Metric::Cosine);
            // Batches acknowledged out of order, as concurrent upserts are.
            let mut batches: Vec<Vec<u32>> = (0..n as u32)
                .collect::<Vec<_>>()
                .chunks(batch)
                .map(|c| c.to_vec())
                .collect();
            batches[1..].shuffle(&mut rng);
            let mut truth = IncrementalTruth::new(queries.clone(), k, metric).unwrap();
            let mut acked: Vec<u32> = Vec::new();
            for (b, ids) in batches.iter().enumerate() {
                truth.merge(ids, &gather(&points, ids)).unwrap();
                acked.extend(ids);
                assert_eq!(truth.merged(), acked.len());
                let mut sorted = acked.clone();
                sorted.sort_unstable();
                let exact =
                    ground_truth_filtered(&points, &queries, k, metric, &sorted, &|_| {}).unwrap();
                let snap = truth.snapshot();
                assert_eq!(snap.k(), k);
                assert_same(&snap, &exact, &format!("{metric:?} k={k} after batch {b}"));
                // The truth holds only acknowledged points.
                for q in 0..nq {
                    assert!(
                        snap.ids(q)
                            .iter()
                            .all(|id| sorted.binary_search(id).is_ok())
                    );
                    assert_eq!(snap.ids(q).len(), k.min(sorted.len()));
                }
            }
        }
    }

    #[test]
    fn a_point_better_than_the_kept_ones_enters_and_a_worse_one_does_not() {
        let queries = Vectors::new(2, vec![1.0, 0.0]).unwrap();
        let mut t = IncrementalTruth::new(queries, 2, Metric::Dot).unwrap();
        t.merge(&[5, 6], &Vectors::new(2, vec![0.5, 0.0, 0.2, 0.0]).unwrap())
            .unwrap();
        assert_eq!(t.snapshot().ids(0), &[5, 6]);
        t.merge(&[9], &Vectors::new(2, vec![0.9, 0.0]).unwrap())
            .unwrap();
        assert_eq!(t.snapshot().ids(0), &[9, 5]);
        t.merge(&[11], &Vectors::new(2, vec![0.1, 0.0]).unwrap())
            .unwrap();
        assert_eq!(t.snapshot().ids(0), &[9, 5]);
        assert_eq!(t.merged(), 4);
    }

    #[test]
    fn bad_merges_are_refused() {
        let queries = Vectors::new(2, vec![1.0, 0.0]).unwrap();
        assert!(IncrementalTruth::new(queries.clone(), 0, Metric::Dot).is_err());
        let mut t = IncrementalTruth::new(queries, 1, Metric::Dot).unwrap();
        assert!(
            t.merge(&[1], &Vectors::new(3, vec![0.0; 3]).unwrap())
                .is_err()
        );
        assert!(
            t.merge(&[1, 2], &Vectors::new(2, vec![0.0; 2]).unwrap())
                .is_err()
        );
        assert_eq!(t.merged(), 0);
    }
}
