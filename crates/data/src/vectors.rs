use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
use crate::generator::{Distribution, GENERATOR_VERSION, Metric};
use crate::payload::{PAYLOAD_VERSION, PayloadSpec};

/// The largest dimension the suite accepts. Qdrant itself caps dense vectors at 65,536.
pub const MAX_DIM: usize = 65_536;

/// A dense row-major matrix of `len()` vectors of `dim` floats each: in memory, or mapped from a
/// `.fbin` file ([`Vectors::map_fbin`]) so that a file larger than memory can still be uploaded
/// and searched exhaustively (the kernel pages it in and out as the blocks are read).
#[derive(Clone)]
pub struct Vectors {
    dim: usize,
    data: Storage,
}

#[derive(Clone)]
enum Storage {
    Owned(Vec<f32>),
    /// `len` floats at byte `offset` of a read-only mapping (offset a multiple of 4).
    Mapped {
        map: Arc<memmap2::Mmap>,
        offset: usize,
        len: usize,
    },
}

impl std::fmt::Debug for Vectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vectors")
            .field("dim", &self.dim)
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

impl PartialEq for Vectors {
    fn eq(&self, other: &Self) -> bool {
        self.dim == other.dim && self.as_slice() == other.as_slice()
    }
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
        Ok(Self {
            dim,
            data: Storage::Owned(data),
        })
    }

    /// Maps a `.fbin` file (header `rows, dim` as `u32`, then the rows as little-endian `f32`)
    /// read-only instead of reading it: nothing is copied, and the file may be larger than
    /// memory. The header is checked against the file's length; the values are not looked at
    /// (see [`Vectors::first_non_finite`]).
    pub fn map_fbin(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        // SAFETY: the mapping is read-only; the suite never writes a file it has mapped, and a
        // user's file changed under a run is outside what the suite can guard against (the
        // same holds for any reader).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| DataError::io(path, e))?;
        if !cfg!(target_endian = "little") {
            return Err(DataError::bad_file(
                path,
                "mapping .fbin files needs a little-endian machine",
            ));
        }
        let (rows, dim) = crate::files::bin_header(path, &map, 4)?;
        Ok(Self {
            dim,
            data: Storage::Mapped {
                map: Arc::new(map),
                offset: 8,
                len: rows * dim,
            },
        })
    }

    /// Maps `rows` x `dim` little-endian `f32` at byte `offset` of `path` (a multiple of 4, the
    /// values running to the end of the file), as [`Vectors::map_fbin`] does for a `.fbin`:
    /// how a `.npy` float32 array is used in place.
    pub(crate) fn map_at(path: &Path, offset: usize, rows: usize, dim: usize) -> Result<Self> {
        check_dim(dim)?;
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        // SAFETY: as in map_fbin.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| DataError::io(path, e))?;
        let want = rows as u64 * dim as u64 * 4;
        if !cfg!(target_endian = "little")
            || !offset.is_multiple_of(4)
            || map.len() as u64 != offset as u64 + want
        {
            return Err(DataError::bad_file(
                path,
                format!(
                    "cannot be mapped: {rows} x {dim} float32 values at byte {offset} need {} bytes, \
                     the file has {}",
                    offset as u64 + want,
                    map.len()
                ),
            ));
        }
        Ok(Self {
            dim,
            data: Storage::Mapped {
                map: Arc::new(map),
                offset,
                len: rows * dim,
            },
        })
    }

    /// True when the vectors are a mapped file, not memory of their own.
    pub fn is_mapped(&self) -> bool {
        matches!(self.data, Storage::Mapped { .. })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.as_slice().len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.as_slice()[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        self.as_slice().chunks_exact(self.dim)
    }

    pub fn as_slice(&self) -> &[f32] {
        match &self.data {
            Storage::Owned(v) => v,
            Storage::Mapped { map, offset, len } => {
                let bytes = &map[*offset..*offset + len * 4];
                // SAFETY: a mapping starts on a page boundary and `offset` is a multiple of 4,
                // so the pointer is aligned for f32; the bytes are in bounds (checked above and
                // by map_fbin against the file length) and every bit pattern is a valid f32.
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), *len) }
            }
        }
    }

    /// The values as an owned buffer (a copy when the vectors are mapped).
    pub fn into_inner(self) -> Vec<f32> {
        match self.data {
            Storage::Owned(v) => v,
            Storage::Mapped { .. } => self.as_slice().to_vec(),
        }
    }

    /// The first `n` vectors (or all, when there are fewer): a copy, or for mapped vectors a
    /// shorter view of the same mapping.
    pub fn head(&self, n: usize) -> Vectors {
        let n = n.min(self.len());
        let data = match &self.data {
            Storage::Owned(v) => Storage::Owned(v[..n * self.dim].to_vec()),
            Storage::Mapped { map, offset, .. } => Storage::Mapped {
                map: map.clone(),
                offset: *offset,
                len: n * self.dim,
            },
        };
        Vectors {
            dim: self.dim,
            data,
        }
    }

    /// The rows `ids`, copied, in that order.
    pub fn select(&self, ids: &[usize]) -> Vectors {
        let mut data = Vec::with_capacity(ids.len() * self.dim);
        for &i in ids {
            data.extend_from_slice(self.row(i));
        }
        Vectors {
            dim: self.dim,
            data: Storage::Owned(data),
        }
    }

    /// The first value that is NaN or infinite, as (row, column), scanning in parallel blocks.
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        use rayon::prelude::*;
        const BLOCK: usize = 1 << 16;
        let dim = self.dim;
        let rows_per_block = (BLOCK / dim).max(1);
        self.as_slice()
            .par_chunks(rows_per_block * dim)
            .enumerate()
            .find_map_first(|(b, chunk)| {
                chunk
                    .iter()
                    .position(|x| !x.is_finite())
                    .map(|i| (b * rows_per_block + i / dim, i % dim))
            })
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
