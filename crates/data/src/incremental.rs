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
//!
//! Churn ([`IncrementalTruth::remove`], [`IncrementalTruth::replace`]): the truth keeps the
//! vector of every present point. A delete takes the point out of the present set; a replace
//! gives it a new vector. Only the queries whose kept top-k held one of those points are
//! recomputed, by the same GEMM over the present points (a query's top-k never holds a point it
//! did not rank, so the others stay exact); then a replace merges the new vectors into every
//! query like an insert. Unit tests check each sequence against a brute force over the present
//! points.

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
    /// The vector of every id ever merged (`id * dim ..`), the current one for present ids.
    vectors: Vec<f32>,
    /// `alive[id]`: the point is present.
    alive: Vec<bool>,
    present: usize,
    /// Queries recomputed after deletes and replaces, over all of them.
    recomputed: usize,
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
            vectors: Vec::new(),
            alive: Vec::new(),
            present: 0,
            recomputed: 0,
        })
    }

    /// Points present now (merged and not removed).
    pub fn present(&self) -> usize {
        self.present
    }

    /// Whether point `id` is present.
    pub fn is_present(&self, id: u64) -> bool {
        self.alive.get(id as usize).copied().unwrap_or(false)
    }

    /// Queries recomputed so far because a delete or replace took a member of their top-k.
    pub fn recomputed(&self) -> usize {
        self.recomputed
    }

    /// The present ids, ascending.
    pub fn present_ids(&self) -> Vec<u32> {
        (0..self.alive.len() as u32)
            .filter(|&i| self.alive[i as usize])
            .collect()
    }

    fn vector(&self, id: u32) -> &[f32] {
        let dim = self.queries.dim();
        &self.vectors[id as usize * dim..(id as usize + 1) * dim]
    }

    /// Internal ("higher is better") score of present point `id` for query `q`, as the truth
    /// ranks it.
    fn internal_score(&self, q: usize, id: u32) -> f32 {
        let (qv, x) = (self.queries.row(q), self.vector(id));
        let dot: f32 = qv.iter().zip(x).map(|(a, b)| a * b).sum();
        match self.metric {
            Metric::Euclid => 2.0 * dot - norm2(x),
            _ => dot,
        }
    }

    /// Query `q`'s score of present point `id`'s current vector in Qdrant's units (`None`:
    /// not present). A server's score for the point differs from it when it answered from an
    /// older vector.
    pub fn score(&self, q: usize, id: u64) -> Option<f32> {
        self.is_present(id).then(|| {
            reported(
                self.metric,
                self.internal_score(q, id as u32),
                self.query_norms[q],
            )
        })
    }

    /// Recall@k of an answer to query `q` over the present points, ties accepted as
    /// big-ann-benchmarks does: a returned id counts when it is present and its score is within
    /// `tie` (relative, at least absolute) of the k-th best score, so a point tied with the
    /// k-th is as good as it. Each id counts once; the denominator is `min(k, present)`.
    /// `None` when nothing is present.
    pub fn recall_with_ties(&self, q: usize, found: &[u64], k: usize, tie: f32) -> Option<f64> {
        let kept = self.heaps[q].sorted();
        let want = k.min(self.present).min(kept.len());
        if want == 0 {
            return None;
        }
        let kth = kept[want - 1].score;
        let floor = kth - tie * kth.abs().max(1.0);
        let mut seen = std::collections::HashSet::new();
        let hits = found
            .iter()
            .take(k)
            .filter(|&&id| {
                self.is_present(id) && seen.insert(id) && self.internal_score(q, id as u32) >= floor
            })
            .count();
        Some(hits.min(want) as f64 / want as f64)
    }

    fn store(&mut self, ids: &[u32], vectors: &Vectors) {
        let dim = self.queries.dim();
        let top = ids.iter().map(|&i| i as usize + 1).max().unwrap_or(0);
        if top > self.alive.len() {
            self.alive.resize(top, false);
            self.vectors.resize(top * dim, 0.0);
        }
        for (i, &id) in ids.iter().enumerate() {
            self.vectors[id as usize * dim..(id as usize + 1) * dim]
                .copy_from_slice(vectors.row(i));
            self.alive[id as usize] = true;
        }
        self.present += ids.len();
    }

    fn refuse(&self, ids: &[u32], want_present: bool, what: &'static str) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        if let Some(bad) = ids
            .iter()
            .find(|&&id| self.is_present(u64::from(id)) != want_present || !seen.insert(id))
        {
            return Err(DataError::InvalidSpec {
                field: "ids",
                value: bad.to_string(),
                reason: format!(
                    "{what} takes each id once and only {} points",
                    if want_present { "present" } else { "absent" }
                ),
            });
        }
        Ok(())
    }

    /// Removes the present points `ids` (a delete): they leave every query's candidates; the
    /// queries whose top-k held one are recomputed over the points still present.
    pub fn remove(&mut self, ids: &[u32]) -> Result<()> {
        self.refuse(ids, true, "a delete")?;
        for &id in ids {
            self.alive[id as usize] = false;
        }
        self.present -= ids.len();
        let gone: std::collections::HashSet<u32> = ids.iter().copied().collect();
        let dirty: Vec<usize> = self
            .heaps
            .par_iter()
            .enumerate()
            .filter(|(_, h)| h.sorted().iter().any(|c| gone.contains(&c.id)))
            .map(|(q, _)| q)
            .collect();
        self.recompute(&dirty);
        Ok(())
    }

    /// Gives the present points `ids` the vectors `vectors.row(i)` (a replace): as a delete of
    /// the old vectors, then a merge of the new ones.
    pub fn replace(&mut self, ids: &[u32], vectors: &Vectors) -> Result<()> {
        self.check_batch(ids, vectors)?;
        self.remove(ids)?;
        self.merge(ids, vectors)?;
        self.merged -= ids.len();
        Ok(())
    }

    /// Recomputes the top-k of queries `dirty` over every present point.
    fn recompute(&mut self, dirty: &[usize]) {
        if dirty.is_empty() {
            return;
        }
        self.recomputed += dirty.len();
        let dim = self.queries.dim();
        let euclid = self.metric == Metric::Euclid;
        let present = self.present_ids();
        let mut heaps: Vec<TopK> = dirty.iter().map(|_| TopK::new(self.k)).collect();
        let mut q_rows = Vec::with_capacity(dirty.len() * dim);
        for &q in dirty {
            q_rows.extend_from_slice(self.queries.row(q));
        }
        let nq = dirty.len();
        let mut block = Vec::new();
        let mut out = Vec::new();
        for chunk in present.chunks(POINT_BLOCK) {
            block.clear();
            for &id in chunk {
                block.extend_from_slice(self.vector(id));
            }
            let np = chunk.len();
            let norms: Vec<f32> = if euclid {
                block.chunks(dim.max(1)).map(norm2).collect()
            } else {
                Vec::new()
            };
            out.resize(nq * np, 0.0);
            score_block(&q_rows, nq, &block, np, dim, &mut out);
            heaps
                .par_iter_mut()
                .zip(out.par_chunks(np))
                .for_each(|(heap, row)| {
                    for (j, (&s, &id)) in row.iter().zip(chunk).enumerate() {
                        heap.push(if euclid { 2.0 * s - norms[j] } else { s }, id);
                    }
                });
        }
        for (h, &q) in heaps.into_iter().zip(dirty) {
            self.heaps[q] = h;
        }
    }

    fn check_batch(&self, ids: &[u32], vectors: &Vectors) -> Result<()> {
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
        Ok(())
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

    /// Merges the points `ids[i]` with vectors `vectors.row(i)` (an insert: each id absent
    /// until then, though it may have been present and removed; ids need not be contiguous or
    /// in order).
    pub fn merge(&mut self, ids: &[u32], vectors: &Vectors) -> Result<()> {
        self.check_batch(ids, vectors)?;
        self.refuse(ids, false, "an insert")?;
        self.store(ids, vectors);
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

    /// The runbook of the issue: insert, delete half, replace (tag t takes another row's
    /// vector), with the truth compared after each step with a brute force over the points
    /// present, each with its current vector.
    #[test]
    fn deletes_and_replaces_equal_a_brute_force_over_the_present_points() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (metric, k, dim) in [
            (Metric::Cosine, 10, 16),
            (Metric::Euclid, 5, 8),
            (Metric::Dot, 10, 12),
        ] {
            let (n, nq) = (1200usize, 23usize);
            let rows = random(n, dim, &mut rng, metric == Metric::Cosine);
            let queries = random(nq, dim, &mut rng, metric == Metric::Cosine);
            let mut truth = IncrementalTruth::new(queries.clone(), k, metric).unwrap();
            // tag -> row of its current vector; None: absent.
            let mut tag_row: Vec<Option<usize>> = vec![None; 800];
            let check = |truth: &IncrementalTruth, tag_row: &[Option<usize>], what: &str| {
                let mut cur = vec![0.0f32; tag_row.len() * dim];
                let mut present = Vec::new();
                for (t, r) in tag_row.iter().enumerate() {
                    if let Some(r) = r {
                        cur[t * dim..(t + 1) * dim].copy_from_slice(rows.row(*r));
                        present.push(t as u32);
                    }
                }
                let cur = Vectors::new(dim, cur).unwrap();
                let exact =
                    ground_truth_filtered(&cur, &queries, k, metric, &present, &|_| {}).unwrap();
                assert_eq!(truth.present(), present.len(), "{what}");
                assert_same(&truth.snapshot(), &exact, &format!("{metric:?} {what}"));
                // The exact answer scores 1.0 with ties accepted; an absent id never counts.
                for q in 0..nq {
                    let ids: Vec<u64> = exact.ids(q).iter().map(|&i| u64::from(i)).collect();
                    assert_eq!(truth.recall_with_ties(q, &ids, k, 1e-6), Some(1.0));
                    let absent = (0..800u64).find(|&t| tag_row[t as usize].is_none());
                    if let Some(a) = absent {
                        let mut wrong = ids.clone();
                        wrong[0] = a;
                        let r = truth.recall_with_ties(q, &wrong, k, 1e-6).unwrap();
                        assert!(
                            r <= 1.0 - 1.0 / k as f64 + 1e-9,
                            "{what}: absent id counted"
                        );
                    }
                }
            };
            // 1: insert tags 0..800 with rows 0..800, in batches.
            for b in (0..800u32).collect::<Vec<_>>().chunks(100) {
                truth.merge(b, &gather(&rows, b)).unwrap();
                for &t in b {
                    tag_row[t as usize] = Some(t as usize);
                }
            }
            check(&truth, &tag_row, "after insert");
            // 3: delete half (every other tag, so most queries lose members).
            let gone: Vec<u32> = (0..800u32).filter(|t| t % 2 == 0).collect();
            truth.remove(&gone).unwrap();
            gone.iter().for_each(|&t| tag_row[t as usize] = None);
            check(&truth, &tag_row, "after delete");
            assert!(
                truth.recomputed() > 0,
                "a delete of half recomputes queries"
            );
            // 5: replace tags 1, 3, .. 399 by rows 800..1000.
            let tags: Vec<u32> = (0..400u32).filter(|t| t % 2 == 1).collect();
            let ids: Vec<u32> = (800..1000u32).collect();
            truth.replace(&tags, &gather(&rows, &ids)).unwrap();
            for (&t, &r) in tags.iter().zip(&ids) {
                tag_row[t as usize] = Some(r as usize);
            }
            check(&truth, &tag_row, "after replace");
            // Re-insert some deleted tags with new rows.
            let back: Vec<u32> = (0..200u32).filter(|t| t % 2 == 0).collect();
            let rows_back: Vec<u32> = (1000..1100u32).collect();
            truth.merge(&back, &gather(&rows, &rows_back)).unwrap();
            for (&t, &r) in back.iter().zip(&rows_back) {
                tag_row[t as usize] = Some(r as usize);
            }
            check(&truth, &tag_row, "after re-insert");
            // Refused: inserting a present tag, deleting or replacing an absent one.
            assert!(truth.merge(&[1], &gather(&rows, &[1])).is_err());
            assert!(truth.remove(&[2000]).is_err());
            assert!(truth.replace(&[402], &gather(&rows, &[1])).is_err());
            check(&truth, &tag_row, "after refused changes");
        }
    }

    #[test]
    fn a_tie_with_the_kth_counts_as_a_hit() {
        let queries = Vectors::new(2, vec![1.0, 0.0]).unwrap();
        let mut t = IncrementalTruth::new(queries, 2, Metric::Dot).unwrap();
        // 5 and 6 tie at 0.5; the truth keeps one of them as the 2nd.
        t.merge(
            &[4, 5, 6, 7],
            &Vectors::new(2, vec![0.9, 0.0, 0.5, 0.0, 0.5, 0.0, 0.1, 0.0]).unwrap(),
        )
        .unwrap();
        assert_eq!(t.recall_with_ties(0, &[4, 5], 2, 1e-6), Some(1.0));
        assert_eq!(t.recall_with_ties(0, &[4, 6], 2, 1e-6), Some(1.0));
        assert_eq!(t.recall_with_ties(0, &[4, 7], 2, 1e-6), Some(0.5));
        assert_eq!(t.recall_with_ties(0, &[4, 4], 2, 1e-6), Some(0.5));
        assert_eq!(t.score(0, 4), Some(0.9));
        t.remove(&[4]).unwrap();
        assert_eq!(t.score(0, 4), None);
        assert_eq!(t.recall_with_ties(0, &[4, 5], 2, 1e-6), Some(0.5));
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
