use std::path::PathBuf;

use crate::edge::EdgeStore;
use crate::error::Result;
use crate::guard::Guard;
use crate::remote::{Api, GrpcStore, RestStore, ServerConfig};
use crate::spec::{
    BatchResponse, CollectionSpec, Created, EncodedQuery, Engine, Footprint, IndexState, Point,
    Query, SearchResponse,
};
use crate::store::Store;

/// A store chosen at run time: the embedded engine, or a server over gRPC or REST.
pub enum AnyStore {
    Edge(EdgeStore),
    Grpc(GrpcStore),
    Rest(RestStore),
}

impl AnyStore {
    /// A server store for `config`, connected and version-checked.
    pub async fn connect(config: &ServerConfig, guard: Guard) -> Result<Self> {
        Ok(match config.api {
            Api::Grpc => AnyStore::Grpc(GrpcStore::connect(config, guard).await?),
            Api::Rest => AnyStore::Rest(RestStore::connect(config, guard).await?),
        })
    }

    /// The embedded engine with collections under `root`.
    pub fn edge(root: impl Into<PathBuf>, guard: Guard) -> Result<Self> {
        Ok(AnyStore::Edge(EdgeStore::with_guard(root, guard)?))
    }

    /// The embedded engine in a scratch directory `root`, deleted (after every collection in
    /// it is closed) when the store is dropped.
    pub fn edge_scratch(root: impl Into<PathBuf>, guard: Guard) -> Result<Self> {
        Ok(AnyStore::Edge(
            EdgeStore::with_guard(root, guard)?.remove_root_on_close(),
        ))
    }

    /// `qdrant-edge 0.7.2` for the embedded engine, or the server's own version.
    pub fn engine_version(&self) -> String {
        match self {
            AnyStore::Edge(_) => "qdrant-edge 0.7.2".into(),
            AnyStore::Grpc(s) => format!("qdrant {}", s.server_version()),
            AnyStore::Rest(s) => format!("qdrant {}", s.server_version()),
        }
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Edge($s) => $e,
            AnyStore::Grpc($s) => $e,
            AnyStore::Rest($s) => $e,
        }
    };
}

impl Store for AnyStore {
    fn engine(&self) -> Engine {
        each!(self, s => s.engine())
    }

    async fn create(&self, spec: &CollectionSpec) -> Result<Created> {
        each!(self, s => s.create(spec).await)
    }

    async fn upsert(&self, name: &str, batch: &[Point]) -> Result<()> {
        each!(self, s => s.upsert(name, batch).await)
    }

    async fn delete(&self, name: &str, ids: &[u64]) -> Result<()> {
        each!(self, s => s.delete(name, ids).await)
    }

    async fn wait_indexed(&self, name: &str) -> Result<IndexState> {
        each!(self, s => s.wait_indexed(name).await)
    }

    async fn search(&self, name: &str, query: &Query) -> Result<SearchResponse> {
        each!(self, s => s.search(name, query).await)
    }

    fn prepare(&self, query: &Query) -> Option<EncodedQuery> {
        each!(self, s => s.prepare(query))
    }

    async fn search_prepared(
        &self,
        name: &str,
        query: &Query,
        prepared: &EncodedQuery,
    ) -> Result<SearchResponse> {
        each!(self, s => s.search_prepared(name, query, prepared).await)
    }

    async fn search_batch(&self, name: &str, queries: &[Query]) -> Result<BatchResponse> {
        each!(self, s => s.search_batch(name, queries).await)
    }

    async fn count(&self, name: &str) -> Result<usize> {
        each!(self, s => s.count(name).await)
    }

    async fn footprint(&self, name: &str) -> Result<Footprint> {
        each!(self, s => s.footprint(name).await)
    }

    async fn drop_owned(&self, name: &str) -> Result<()> {
        each!(self, s => s.drop_owned(name).await)
    }
}
