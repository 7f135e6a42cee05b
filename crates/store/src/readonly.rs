//! Benchmarking a collection the suite did not create (production `mixtral`, say) without
//! writing a byte to it.
//!
//! The data is the collection's own: the server draws `2 × queries` of its points at random, and
//! each query is the midpoint of two of them (normalised for Cosine). A midpoint lies where the
//! real data lies, but is not itself a stored point, so a search cannot find the query itself
//! at rank 1 and score a free hit, the way searching with stored vectors would. The ground truth
//! is the server's own exact search (`exact = true`, a full scan) for each query, so recall is
//! against the collection as it is, not against a copy.
//!
//! Only searches are sent, and only to `collection`; the [`crate::Guard`] still refuses any
//! write to a name without the suite's prefix.

use serde::Serialize;

use crate::AnyStore;
use crate::error::{Result, StoreError};
use crate::spec::Query;
use crate::store::Store;
use qdrant_perf_data::Metric;

/// Queries drawn from an existing collection, with exact ground truth from the server.
#[derive(Clone, Debug, Serialize)]
pub struct ReadOnlyWorkload {
    pub collection: String,
    pub dim: usize,
    pub metric: Metric,
    /// Points in the collection when the workload was drawn.
    pub points: usize,
    /// Vectors in its HNSW index then, and its status: a collection still indexing is searched
    /// partly by full scan, and the figures say so.
    pub indexed_vectors: usize,
    pub status: String,
    pub k: usize,
    #[serde(skip)]
    pub queries: Vec<Query>,
    /// The exact top-k ids of each query, in rank order (may be shorter than `k` when the
    /// collection is tiny).
    #[serde(skip)]
    pub truth: Vec<Vec<u64>>,
}

impl ReadOnlyWorkload {
    /// Draws `queries` queries from `collection` and asks the server for their exact top `k`.
    /// `ef` goes into the timed queries (not the exact ones).
    pub async fn prepare(
        store: &AnyStore,
        collection: &str,
        queries: usize,
        k: usize,
        ef: Option<usize>,
    ) -> Result<Self> {
        if queries == 0 || k == 0 {
            return Err(StoreError::InvalidSpec {
                field: "read-only workload",
                value: format!("{queries} queries, k = {k}"),
                reason: "both must be at least 1".into(),
            });
        }
        let sampled = match store {
            AnyStore::Grpc(s) => s.sample_vectors(collection, queries * 2).await?,
            AnyStore::Rest(s) => s.sample_vectors(collection, queries * 2).await?,
            AnyStore::Edge(_) => {
                return Err(StoreError::InvalidSpec {
                    field: "read-only collection",
                    value: collection.into(),
                    reason: "read-only runs measure an existing collection on a Qdrant server; \
                             set QDRANT_URL (or --url)"
                        .into(),
                });
            }
        };
        if sampled.vectors.len() < 2 {
            return Err(StoreError::InvalidSpec {
                field: "read-only collection",
                value: collection.into(),
                reason: format!(
                    "it has {} point(s) with vectors; read-only runs need at least 2",
                    sampled.vectors.len()
                ),
            });
        }
        let vectors = midpoints(&sampled.vectors, queries, sampled.metric);
        let mut truth = Vec::with_capacity(vectors.len());
        let mut timed = Vec::with_capacity(vectors.len());
        for v in vectors {
            let exact = Query::new(v.clone(), k).exact();
            let r = store.search(collection, &exact).await?;
            truth.push(r.hits.iter().map(|h| h.id).collect());
            let mut q = Query::new(v, k);
            q.ef = ef;
            timed.push(q);
        }
        Ok(Self {
            collection: collection.into(),
            dim: sampled.dim,
            metric: sampled.metric,
            points: sampled.points,
            indexed_vectors: sampled.indexed_vectors,
            status: sampled.status,
            k,
            queries: timed,
            truth,
        })
    }

    /// `10000 points, 10000 indexed, green`.
    pub fn describe_state(&self) -> String {
        format!(
            "{} points, {} indexed, {}",
            self.points, self.indexed_vectors, self.status
        )
    }

    /// Mean recall@k of `results` (ids per query, in the order of [`Self::queries`]): the
    /// fraction of each query's exact top-k found in its first k results (ids of a foreign
    /// collection may exceed u32, so this does not use the dataset recall over u32 ids).
    pub fn recall(&self, results: &[Vec<u64>]) -> f64 {
        let per_query = results
            .iter()
            .take(self.truth.len())
            .enumerate()
            .map(|(q, found)| self.recall_of(q, found));
        let (sum, n) = per_query.fold((0.0, 0usize), |(s, n), r| (s + r, n + 1));
        if n == 0 { 0.0 } else { sum / n as f64 }
    }
}

impl ReadOnlyWorkload {
    /// Recall@k of one answer: the fraction of query `query`'s exact top-k among the first k
    /// ids of `found` (1.0 when the collection gave no exact neighbours).
    pub fn recall_of(&self, query: usize, found: &[u64]) -> f64 {
        let truth = &self.truth[query];
        let truth = &truth[..truth.len().min(self.k)];
        if truth.is_empty() {
            return 1.0;
        }
        let found = &found[..found.len().min(self.k)];
        truth.iter().filter(|id| found.contains(id)).count() as f64 / truth.len() as f64
    }

    /// The state as data, for a report: collection, dimension, metric, points, indexed
    /// vectors, status, queries and k.
    pub fn state_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// `n` queries, each the midpoint of two consecutive vectors of `sample` (cycled when the
/// sample is short), normalised for Cosine.
fn midpoints(sample: &[Vec<f32>], n: usize, metric: Metric) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            let a = &sample[(2 * i) % sample.len()];
            let b = &sample[(2 * i + 1) % sample.len()];
            let mut m: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x + y) * 0.5).collect();
            if metric == Metric::Cosine {
                let norm = m.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 {
                    m.iter_mut().for_each(|x| *x /= norm);
                }
            }
            m
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midpoints_lie_between_two_sampled_points_and_are_neither() {
        let sample = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 1.0],
            vec![3.0, 1.0],
        ];
        let q = midpoints(&sample, 3, Metric::Euclid);
        assert_eq!(q[0], vec![0.5, 0.5]);
        assert_eq!(q[1], vec![2.0, 1.0]);
        assert_eq!(q[2], vec![0.5, 0.5], "cycles over a short sample");
        let c = midpoints(&sample, 1, Metric::Cosine);
        let r = std::f32::consts::FRAC_1_SQRT_2;
        assert!(
            (c[0][0] - r).abs() < 1e-6 && (c[0][1] - r).abs() < 1e-6,
            "{c:?}"
        );
        assert!(!sample.contains(&q[0]) && !sample.contains(&q[1]));
    }
}
