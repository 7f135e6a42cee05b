use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
use crate::generator::{Distribution, GENERATOR_VERSION, Metric};
use crate::payload::{PAYLOAD_VERSION, PayloadSpec};

/// The largest dimension the suite accepts. Qdrant itself caps dense vectors at 65,536.
pub const MAX_DIM: usize = 65_536;

/// A dense row-major matrix of `len()` vectors of `dim` floats each.
#[derive(Clone, Debug, PartialEq)]
pub struct Vectors {
    dim: usize,
    data: Vec<f32>,
}

impl Vectors {
    /// Wraps `data` as vectors of `dim` floats; the length must be a multiple of `dim`.
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self> {
        check_dim(dim)?;
        if !data.len().is_multiple_of(dim) {
            return Err(DataError::WrongDimension {
                expected: dim,
                actual: data.len() % dim,
                context: format!(
                    "{} floats is not a whole number of {dim}-dimensional vectors",
                    data.len()
                ),
            });
        }
        Ok(Self { dim, data })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim)
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn into_inner(self) -> Vec<f32> {
        self.data
    }

    /// The first `n` vectors (or all, when there are fewer).
    pub fn head(&self, n: usize) -> Vectors {
        let n = n.min(self.len());
        Vectors {
            dim: self.dim,
            data: self.data[..n * self.dim].to_vec(),
        }
    }
}

/// Rejects a dimension of 0 or above [`MAX_DIM`] with a message that says what is allowed.
pub(crate) fn check_dim(dim: usize) -> Result<()> {
    if dim == 0 || dim > MAX_DIM {
        return Err(DataError::InvalidSpec {
            field: "dim",
            value: dim.to_string(),
            reason: format!("a vector dimension must be between 1 and {MAX_DIM}"),
        });
    }
    Ok(())
}

/// Everything that changes a generated dataset. Two equal specs give byte-identical datasets on
/// any machine; [`DatasetSpec::hash`] addresses the dataset in the cache.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// Vector dimension.
    pub dim: usize,
    /// Number of stored (indexed) vectors.
    pub points: usize,
    /// Number of held-out query vectors, drawn from the same distribution, never stored.
    pub queries: usize,
    /// Depth of the exact ground truth kept per query.
    pub k: usize,
    pub distribution: Distribution,
    pub metric: Metric,
    pub seed: u64,
    /// Payloads generated with the points (`None`: vectors only). Absent from the JSON (and so
    /// from the hash) when `None`, so datasets without payloads keep their addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<PayloadSpec>,
}

impl DatasetSpec {
    /// The suite's default shape for a dimension: clustered, Cosine, 1,000 queries, top-100 truth.
    pub fn new(dim: usize, points: usize) -> Self {
        Self {
            dim,
            points,
            queries: 1_000,
            k: 100,
            distribution: Distribution::default(),
            metric: Metric::Cosine,
            seed: 42,
            payload: None,
        }
    }

    pub fn with_queries(mut self, queries: usize) -> Self {
        self.queries = queries;
        self
    }

    pub fn with_k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn with_metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }

    /// Generates payloads with the points (see [`crate::Payloads`]).
    pub fn with_payload(mut self, payload: PayloadSpec) -> Self {
        self.payload = Some(payload);
        self
    }

    pub fn with_distribution(mut self, distribution: Distribution) -> Self {
        self.distribution = distribution;
        self
    }

    /// Checks every field; errors name the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        check_dim(self.dim)?;
        let invalid = |field, value: usize, reason: &str| DataError::InvalidSpec {
            field,
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if self.points == 0 || self.points > u32::MAX as usize {
            return Err(invalid(
                "points",
                self.points,
                "need between 1 and 4,294,967,295 points",
            ));
        }
        if self.queries == 0 {
            return Err(invalid("queries", self.queries, "need at least one query"));
        }
        if self.k == 0 {
            return Err(invalid(
                "k",
                self.k,
                "ground truth depth must be at least 1",
            ));
        }
        if let Some(p) = &self.payload {
            p.validate()?;
        }
        self.distribution.validate(self.dim)
    }

    /// A short stable hex digest of the spec and the generator version: the dataset's address.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(GENERATOR_VERSION.to_le_bytes());
        if self.payload.is_some() {
            hasher.update(PAYLOAD_VERSION.to_le_bytes());
        }
        hasher.update(serde_json::to_vec(self).expect("a spec always serialises"));
        let digest = hasher.finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A readable name for logs: `clustered-cosine-768d-20000p-1000q`.
    pub fn label(&self) -> String {
        format!(
            "{}-{}-{}d-{}p-{}q{}",
            self.distribution.name(),
            self.metric.name(),
            self.dim,
            self.points,
            self.queries,
            if self.payload.is_some() {
                "-payload"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_changes_with_every_field_and_is_stable() {
        let base = DatasetSpec::new(64, 1000);
        assert_eq!(base.hash(), base.clone().hash());
        assert_eq!(base.hash().len(), 16);
        let variants = [
            DatasetSpec {
                dim: 65,
                ..base.clone()
            },
            DatasetSpec {
                points: 1001,
                ..base.clone()
            },
            base.clone().with_queries(7),
            base.clone().with_k(10),
            base.clone().with_seed(43),
            base.clone().with_metric(Metric::Dot),
            base.clone().with_distribution(Distribution::Normal),
            base.clone().with_payload(PayloadSpec::default()),
            base.clone().with_payload(PayloadSpec {
                keyword_values: 10,
                ..PayloadSpec::default()
            }),
        ];
        for v in &variants {
            assert_ne!(v.hash(), base.hash(), "{v:?}");
        }
        assert_ne!(variants[7].hash(), variants[8].hash());
        // A spec without payloads serialises as before, so existing caches keep their address.
        assert!(!serde_json::to_string(&base).unwrap().contains("payload"));
    }

    #[test]
    fn dimension_zero_and_above_max_are_rejected_with_the_range() {
        for dim in [0, MAX_DIM + 1] {
            let err = DatasetSpec::new(dim, 10)
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains("dim"), "{err}");
            assert!(err.contains("65536"), "{err}");
        }
        DatasetSpec::new(MAX_DIM, 10).validate().unwrap();
    }

    #[test]
    fn vectors_reject_a_ragged_buffer() {
        let err = Vectors::new(4, vec![0.0; 10]).unwrap_err().to_string();
        assert!(err.contains("expected dimension 4"), "{err}");
        let v = Vectors::new(4, vec![0.0; 12]).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v.head(2).len(), 2);
    }
}
