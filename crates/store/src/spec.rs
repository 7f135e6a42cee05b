use qdrant_perf_data::{MAX_DIM, Metric};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};
use crate::filter::{Filter, PayloadIndexKind};

/// Which engine a store talks to; it names the engine in bench IDs and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The real Qdrant engine in-process (`qdrant-edge`).
    Edge,
    /// A Qdrant server over gRPC.
    Grpc,
    /// A Qdrant server over its REST API.
    Rest,
}

impl Engine {
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Edge => "edge",
            Engine::Grpc => "grpc",
            Engine::Rest => "rest",
        }
    }
}

/// HNSW index parameters, as Qdrant names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnswParams {
    pub m: usize,
    pub ef_construct: usize,
    /// In kilobytes of vectors, as in Qdrant: below it a filtered search scans instead.
    pub full_scan_threshold: usize,
}

impl Default for HnswParams {
    /// The deployment's defaults (performance-tests.yaml: optimization.indexing).
    fn default() -> Self {
        Self {
            m: 16,
            ef_construct: 100,
            full_scan_threshold: 20_000,
        }
    }
}

/// Vector quantization of a collection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Quantization {
    #[default]
    None,
    /// int8 scalar quantization; `quantile` clips outliers (Qdrant's default 0.99 when unset).
    Scalar {
        quantile: Option<f32>,
        always_ram: bool,
    },
    /// One bit per dimension.
    Binary { always_ram: bool },
}

impl Quantization {
    pub fn name(&self) -> &'static str {
        match self {
            Quantization::None => "none",
            Quantization::Scalar { .. } => "int8",
            Quantization::Binary { .. } => "binary",
        }
    }

    /// Qdrant's JSON form (`{"scalar": {...}}`), shared by the embedded engine and REST.
    pub fn to_qdrant_json(&self) -> Option<serde_json::Value> {
        match *self {
            Quantization::None => None,
            Quantization::Scalar {
                quantile,
                always_ram,
            } => Some(serde_json::json!({"scalar": {
                "type": "int8", "quantile": quantile, "always_ram": always_ram
            }})),
            Quantization::Binary { always_ram } => {
                Some(serde_json::json!({"binary": {"always_ram": always_ram}}))
            }
        }
    }
}

/// The indexing threshold (KB of vectors) the suite gives every collection, on every engine, so
/// that whatever it benchmarks is searched through HNSW. Qdrant leaves a segment below it
/// unindexed (searched by a plain scan).
pub const INDEXING_THRESHOLD_KB: usize = 1;

/// True when Qdrant will build an HNSW index for `points` vectors of `dim` floats under
/// [`INDEXING_THRESHOLD_KB`]; a smaller collection is complete without one.
pub fn expects_index(points: usize, dim: usize) -> bool {
    points * dim * 4 >= INDEXING_THRESHOLD_KB * 1024
}

/// Everything needed to create a collection, on any engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSpec {
    pub name: String,
    pub dim: usize,
    pub metric: Metric,
    pub hnsw: HnswParams,
    pub quantization: Quantization,
    /// Keep original vectors on disk (mmap) instead of RAM.
    pub on_disk: bool,
    /// Target number of segments; `None` lets Qdrant choose from the CPU count.
    pub segments: Option<usize>,
    /// Shards of a server collection (`shard_number`); the embedded engine has one.
    pub shards: Option<u32>,
    /// Copies of each shard on a cluster (`replication_factor`); the embedded engine has one.
    pub replication: Option<u32>,
    /// Payload indexes created before upload: (field, type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payload_indexes: Vec<(String, PayloadIndexKind)>,
}

impl CollectionSpec {
    /// A collection of `dim`-dimensional vectors with the deployment's index defaults.
    pub fn new(name: impl Into<String>, dim: usize, metric: Metric) -> Self {
        Self {
            name: name.into(),
            dim,
            metric,
            hnsw: HnswParams::default(),
            quantization: Quantization::None,
            on_disk: false,
            segments: None,
            shards: None,
            replication: None,
            payload_indexes: Vec::new(),
        }
    }

    /// Adds a payload index on `field`, created before any point is uploaded.
    pub fn with_payload_index(mut self, field: impl Into<String>, kind: PayloadIndexKind) -> Self {
        self.payload_indexes.push((field.into(), kind));
        self
    }

    pub fn with_hnsw(mut self, hnsw: HnswParams) -> Self {
        self.hnsw = hnsw;
        self
    }

    pub fn with_quantization(mut self, quantization: Quantization) -> Self {
        self.quantization = quantization;
        self
    }

    /// Errors unless a collection of this name found with dimension `dim` and the distance
    /// Qdrant names `distance` is what the spec says.
    pub(crate) fn check_found(&self, dim: usize, distance: &str) -> Result<()> {
        let wanted = self.metric.qdrant_name();
        if (dim, distance) == (self.dim, wanted) {
            return Ok(());
        }
        Err(StoreError::Conflict {
            collection: self.name.clone(),
            found: format!("dimension {dim} and distance {distance}"),
            wanted: format!("dimension {} and distance {wanted}", self.dim),
        })
    }

    /// Checks the spec; errors name the field and what is allowed.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, value: String, reason: &str| StoreError::InvalidSpec {
            field,
            value,
            reason: reason.into(),
        };
        if self.dim == 0 || self.dim > MAX_DIM {
            return Err(invalid(
                "dim",
                self.dim.to_string(),
                &format!("a vector dimension must be between 1 and {MAX_DIM}"),
            ));
        }
        if self.hnsw.m < 2 {
            return Err(invalid(
                "hnsw.m",
                self.hnsw.m.to_string(),
                "m must be at least 2",
            ));
        }
        if self.hnsw.ef_construct < 4 {
            return Err(invalid(
                "hnsw.ef_construct",
                self.hnsw.ef_construct.to_string(),
                "Qdrant requires ef_construct >= 4",
            ));
        }
        if let Quantization::Scalar {
            quantile: Some(q), ..
        } = self.quantization
            && !(0.5..=1.0).contains(&q)
        {
            return Err(invalid(
                "quantization.quantile",
                q.to_string(),
                "must be between 0.5 and 1.0",
            ));
        }
        if self.shards == Some(0) {
            return Err(invalid(
                "shards",
                "0".into(),
                "a collection needs at least one shard",
            ));
        }
        if self.replication == Some(0) {
            return Err(invalid(
                "replication",
                "0".into(),
                "a shard needs at least one copy",
            ));
        }
        if self.segments == Some(0) {
            return Err(invalid("segments", "0".into(), "use None for automatic"));
        }
        for (i, (field, _)) in self.payload_indexes.iter().enumerate() {
            if field.is_empty() {
                return Err(invalid(
                    "payload_indexes",
                    "\"\"".into(),
                    "a payload index needs a field name",
                ));
            }
            if self.payload_indexes[..i].iter().any(|(f, _)| f == field) {
                return Err(invalid(
                    "payload_indexes",
                    field.clone(),
                    "the field is listed twice; give each field one index type",
                ));
            }
        }
        Ok(())
    }

    /// A short digest of every parameter that changes the built index (not the name).
    pub fn index_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut key = serde_json::json!({
            "dim": self.dim, "metric": self.metric, "hnsw": self.hnsw,
            "quantization": self.quantization, "on_disk": self.on_disk, "segments": self.segments,
        });
        // Only when there are any, so collections without payload indexes keep their hash.
        if !self.payload_indexes.is_empty() {
            key["payload_indexes"] = serde_json::json!(self.payload_indexes);
        }
        h.update(key.to_string());
        h.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// One point to store: ids are the row numbers of the dataset, so results compare directly with
/// ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub id: u64,
    pub vector: Vec<f32>,
    pub payload: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A top-k search.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub vector: Vec<f32>,
    pub k: usize,
    /// HNSW beam width; `None` is the engine's default.
    pub ef: Option<usize>,
    /// Exact full scan instead of the index: the reference.
    pub exact: bool,
    pub with_payload: bool,
    /// With quantization: re-score the candidates with the original vectors.
    pub rescore: Option<bool>,
    /// With quantization: fetch `k * oversampling` candidates before re-scoring.
    pub oversampling: Option<f64>,
    /// Only points whose payload matches.
    pub filter: Option<Filter>,
}

impl Query {
    pub fn new(vector: Vec<f32>, k: usize) -> Self {
        Self {
            vector,
            k,
            ef: None,
            exact: false,
            with_payload: false,
            rescore: None,
            oversampling: None,
            filter: None,
        }
    }

    /// Searches only the points whose payload matches `filter`.
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    pub fn with_ef(mut self, ef: usize) -> Self {
        self.ef = Some(ef);
        self
    }

    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    pub fn with_payload(mut self) -> Self {
        self.with_payload = true;
        self
    }
}

/// A search encoded once for a store's wire, before a run, so a load run sends a held-out
/// query without building its request again (as wrk sends one prepared body). What the bytes
/// are is the store's own business: a gRPC store keeps the protobuf `SearchPoints` less its
/// collection name. Made by [`crate::Store::prepare`]; stores without a wire have none.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedQuery {
    pub(crate) wire: bytes::Bytes,
}

impl EncodedQuery {
    /// The encoded bytes' length (what each request of this query puts on the wire, less
    /// framing).
    pub fn len(&self) -> usize {
        self.wire.len()
    }

    pub fn is_empty(&self) -> bool {
        self.wire.is_empty()
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.wire
    }
}

/// What a search returned, with the engine's own processing time where it reports one (a
/// Qdrant server's `time` field), so reports can show server time beside client latency.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResponse {
    pub hits: Vec<Hit>,
    /// Seconds the server says it spent; `None` for the embedded engine, where client time is
    /// engine time.
    pub server_seconds: Option<f64>,
    /// The URL of the server node that answered (one of `QDRANT_URL`'s); `None` for the
    /// embedded engine and answers from a cache.
    pub node: Option<std::sync::Arc<str>>,
}

/// What a batch search returned.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchResponse {
    /// One result list per query, in query order.
    pub results: Vec<Vec<Hit>>,
    pub server_seconds: Option<f64>,
    /// The node that answered, as in [`SearchResponse::node`].
    pub node: Option<std::sync::Arc<str>>,
}

/// One search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: u64,
    pub score: f32,
    pub payload: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What `create` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// A new, empty collection.
    New,
    /// A collection with this spec already existed (for the embedded engine: a built index
    /// cached on disk) and holds `points` points.
    Existing { points: usize },
}

/// The state of a collection's index once `wait_indexed` returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexState {
    pub points: usize,
    pub indexed_vectors: usize,
    pub segments: usize,
    /// Time spent in `wait_indexed` (building, or confirming an existing index).
    pub seconds: f64,
}

/// How much room a collection takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    /// Bytes of the collection's files (`None` where the engine does not say).
    pub disk_bytes: Option<u64>,
    /// Growth of the process's resident memory while the collection was opened and indexed
    /// (embedded engine; approximate, it includes allocator slack), or the server's own figure.
    pub ram_bytes: Option<u64>,
}

impl Footprint {
    /// Neither figure known: what the server stores report until they read Qdrant's telemetry.
    pub const UNKNOWN: Footprint = Footprint {
        disk_bytes: None,
        ram_bytes: None,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_specs_name_the_field() {
        let ok = CollectionSpec::new("perf_x", 768, Metric::Cosine);
        ok.validate().unwrap();
        let cases = [
            (
                CollectionSpec {
                    dim: 0,
                    ..ok.clone()
                },
                "dim",
            ),
            (
                CollectionSpec {
                    dim: 65_537,
                    ..ok.clone()
                },
                "65536",
            ),
            (
                ok.clone().with_hnsw(HnswParams {
                    m: 1,
                    ..HnswParams::default()
                }),
                "hnsw.m",
            ),
            (
                ok.clone().with_hnsw(HnswParams {
                    ef_construct: 2,
                    ..HnswParams::default()
                }),
                "ef_construct",
            ),
            (
                ok.clone().with_quantization(Quantization::Scalar {
                    quantile: Some(0.2),
                    always_ram: true,
                }),
                "quantile",
            ),
        ];
        for (spec, needle) in cases {
            let err = spec.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn index_hash_ignores_the_name_but_not_the_index_parameters() {
        let a = CollectionSpec::new("perf_a", 768, Metric::Cosine);
        let b = CollectionSpec {
            name: "perf_b".into(),
            ..a.clone()
        };
        assert_eq!(a.index_hash(), b.index_hash());
        let c = a.clone().with_hnsw(HnswParams {
            m: 32,
            ..HnswParams::default()
        });
        assert_ne!(a.index_hash(), c.index_hash());
        let d = a
            .clone()
            .with_quantization(Quantization::Binary { always_ram: true });
        assert_ne!(a.index_hash(), d.index_hash());
        let e = a
            .clone()
            .with_payload_index("kw", PayloadIndexKind::Keyword);
        assert_ne!(a.index_hash(), e.index_hash());
        let f = a
            .clone()
            .with_payload_index("kw", PayloadIndexKind::Integer);
        assert_ne!(e.index_hash(), f.index_hash());
        // Without payload indexes the hash (and the JSON) is what it was before they existed.
        assert!(
            !serde_json::to_string(&a)
                .unwrap()
                .contains("payload_indexes")
        );
        let twice = e.with_payload_index("kw", PayloadIndexKind::Float);
        let err = twice.validate().unwrap_err().to_string();
        assert!(err.contains("listed twice"), "{err}");
    }
}
