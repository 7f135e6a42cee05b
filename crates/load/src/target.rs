//! The targets a load run drives: Qdrant through any [`Store`] ([`StoreTarget`], generic so a
//! caching store plugs in unchanged), any JSON HTTP endpoint ([`HttpTarget`], e.g. the
//! deployment's API gateway), and nothing at all ([`NoopTarget`], to measure the driver).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use qdrant_perf_data::{GroundTruth, Vectors, recall_at_k};
use qdrant_perf_store::readonly::ReadOnlyWorkload;
use qdrant_perf_store::{
    CachedStore, EncodedQuery, Point, Query, SearchResponse, Store, StoreError,
};

use crate::driver::{Call, OpError, OpKind, Outcome, Target, TargetCollection};
use crate::stream::recall_among;

/// Query `q` of `queries` on `store`, sent as its prepared request when there is one
/// (`prepared` is empty when the store prepares nothing).
pub(crate) async fn search_nth<S: Store>(
    store: &S,
    collection: &str,
    queries: &[Query],
    prepared: &[EncodedQuery],
    q: usize,
) -> Result<SearchResponse, StoreError> {
    match prepared.get(q) {
        Some(p) => store.search_prepared(collection, &queries[q], p).await,
        None => store.search(collection, &queries[q]).await,
    }
}

/// One collection of a store, with its held-out queries and their exact neighbours.
pub struct StoreCollection<S> {
    /// The profile name (`mixtral`), used in reports.
    pub name: String,
    /// The collection's name in the store (`perf_mixtral`).
    pub collection: String,
    pub store: Arc<S>,
    pub queries: Arc<Vec<Query>>,
    /// Each query's request encoded once for the store's wire, in the order of `queries`
    /// ([`Store::prepare`]); empty when the store sends none (the embedded engine).
    pub prepared: Arc<Vec<EncodedQuery>>,
    pub truth: Arc<GroundTruth>,
    /// Stored vectors, kept only when the mix writes (upserts rewrite point `i` with its own
    /// vector, so the ground truth stays exact).
    pub points: Option<Arc<Vectors>>,
    /// Queries per second this collection gets (its share of a run's rate).
    pub qps: f64,
    /// For a collection the suite did not create (`--read-only`): its queries, the server's
    /// exact answers (ids may exceed u32) and its state; recall is then against these.
    pub read_only: Option<Arc<ReadOnlyWorkload>>,
    next_query: AtomicU64,
}

impl<S: Store> StoreCollection<S> {
    /// A collection of `store` searched with `queries`, each query's request prepared here,
    /// before the run, when the store has a wire to prepare it for.
    pub fn new(
        name: impl Into<String>,
        collection: impl Into<String>,
        store: Arc<S>,
        queries: Vec<Query>,
        truth: GroundTruth,
        qps: f64,
    ) -> Self {
        let prepared: Option<Vec<EncodedQuery>> =
            queries.iter().map(|q| store.prepare(q)).collect();
        Self {
            name: name.into(),
            collection: collection.into(),
            store,
            queries: Arc::new(queries),
            prepared: Arc::new(prepared.unwrap_or_default()),
            truth: Arc::new(truth),
            points: None,
            qps,
            read_only: None,
            next_query: AtomicU64::new(0),
        }
    }

    /// A collection of the server measured read-only: the workload's queries, truth from the
    /// server's exact search, and no stored vectors (so the mix cannot upsert).
    pub fn read_only(
        name: impl Into<String>,
        store: Arc<S>,
        w: ReadOnlyWorkload,
        qps: f64,
    ) -> Self {
        let mut c = Self::new(
            name,
            w.collection.clone(),
            store,
            w.queries.clone(),
            GroundTruth::new(w.k, Vec::new(), Vec::new()).expect("empty truth is valid"),
            qps,
        );
        c.read_only = Some(Arc::new(w));
        c
    }

    pub fn with_points(mut self, points: Arc<Vectors>) -> Self {
        self.points = Some(points);
        self
    }

    /// A copy sharing the store, queries and truth, with another weight.
    pub fn with_qps(&self, qps: f64) -> Self {
        Self {
            name: self.name.clone(),
            collection: self.collection.clone(),
            store: self.store.clone(),
            queries: self.queries.clone(),
            prepared: self.prepared.clone(),
            truth: self.truth.clone(),
            points: self.points.clone(),
            qps,
            read_only: self.read_only.clone(),
            next_query: AtomicU64::new(0),
        }
    }
}

/// Queries per `search_batch` request.
pub const BATCH_QUERIES: usize = 8;

/// Qdrant (embedded or server) behind the [`Store`] trait.
pub struct StoreTarget<S> {
    pub collections: Vec<StoreCollection<S>>,
    /// Recall is computed at this depth (the deployment searches top-10).
    pub k: usize,
    /// The result cache in front of the store, for `cached_search` (Redis cache-aside: a hit
    /// answers from the cache, a miss asks the store and fills the cache, and a failing Redis
    /// falls back to the store, its errors counted by kind in the cache's figures).
    pub cache: Option<Arc<CachedStore<Arc<S>>>>,
    /// When the truth covers only part of the collection (a stream's stage-start truth):
    /// `covered[id]`, the point is in it; answers are scored among those points
    /// ([`crate::stream::recall_among`]).
    pub covered: Option<Arc<Vec<bool>>>,
}

impl<S> StoreTarget<S> {
    pub fn new(collections: Vec<StoreCollection<S>>, k: usize) -> Self {
        Self {
            collections,
            k,
            cache: None,
            covered: None,
        }
    }

    pub fn with_cache(mut self, cache: Arc<CachedStore<Arc<S>>>) -> Self {
        self.cache = Some(cache);
        self
    }
}

/// A store's error as a failed request, grouped by kind (`unreachable`, `engine`...), at the
/// server node it names (an unreachable node counts as lost).
pub fn store_error(e: StoreError) -> OpError {
    let (kind, node) = match &e {
        StoreError::Unreachable { url, .. } => ("unreachable", Some((url.clone(), true))),
        StoreError::Auth { url } => ("auth", Some((url.clone(), false))),
        StoreError::Engine { node, .. } => (
            "engine",
            node.as_deref().map(|url| (url.to_string(), false)),
        ),
        StoreError::UnknownCollection { .. } => ("unknown collection", None),
        _ => ("store", None),
    };
    let error = OpError::new(kind, e);
    match node {
        Some((url, lost)) => error.at_node(url, lost),
        None => error,
    }
}

impl<S: Store + 'static> Target for StoreTarget<S> {
    fn collections(&self) -> Vec<TargetCollection> {
        self.collections
            .iter()
            .map(|c| TargetCollection {
                name: c.name.clone(),
                qps: c.qps,
            })
            .collect()
    }

    fn works_in_poll(&self) -> bool {
        // The embedded engine searches on the thread that polls the request.
        self.collections
            .iter()
            .any(|c| c.store.engine() == qdrant_perf_store::Engine::Edge)
    }

    fn supports(&self, op: OpKind) -> bool {
        match op {
            OpKind::Search | OpKind::SearchBatch => true,
            OpKind::Upsert => self.collections.iter().all(|c| c.points.is_some()),
            OpKind::CachedSearch => self.cache.is_some(),
        }
    }

    async fn call(&self, call: Call) -> Result<Outcome, OpError> {
        let c = &self.collections[call.collection];
        let n = c.queries.len();
        let q = (c.next_query.fetch_add(1, Ordering::Relaxed) % n as u64) as usize;
        match call.op {
            OpKind::Search | OpKind::CachedSearch => {
                let r = match (&self.cache, call.op) {
                    (Some(cache), OpKind::CachedSearch) => {
                        cache.search(&c.collection, &c.queries[q]).await
                    }
                    _ => search_nth(&*c.store, &c.collection, &c.queries, &c.prepared, q).await,
                }
                .map_err(store_error)?;
                Ok(Outcome::hits(q, r.hits.iter().map(|h| h.id).collect())
                    .with_server_seconds(r.server_seconds)
                    .from_node(r.node))
            }
            OpKind::SearchBatch => {
                let batch: Vec<Query> = (0..BATCH_QUERIES)
                    .map(|j| c.queries[(q + j) % n].clone())
                    .collect();
                let r = c
                    .store
                    .search_batch(&c.collection, &batch)
                    .await
                    .map_err(store_error)?;
                let ids = r
                    .results
                    .first()
                    .map(|h| h.iter().map(|h| h.id).collect())
                    .unwrap_or_default();
                Ok(Outcome::hits(q, ids)
                    .with_server_seconds(r.server_seconds)
                    .from_node(r.node))
            }
            OpKind::Upsert => {
                let points = c.points.as_ref().expect("checked by supports()");
                let i = (call.seq % points.len() as u64) as usize;
                let point = Point {
                    id: i as u64,
                    vector: points.row(i).to_vec(),
                    payload: None,
                };
                c.store
                    .upsert(&c.collection, std::slice::from_ref(&point))
                    .await
                    .map_err(store_error)?;
                Ok(Outcome::DONE)
            }
        }
    }

    fn recall(&self, collection: usize, query: usize, ids: &[u64]) -> Option<f64> {
        let c = &self.collections[collection];
        if let Some(w) = &c.read_only {
            return (query < w.truth.len()).then(|| w.recall_of(query, ids));
        }
        let truth = (query < c.truth.len()).then(|| c.truth.ids(query))?;
        match &self.covered {
            Some(covered) => recall_among(ids, truth, self.k, |id| {
                covered.get(id as usize).copied().unwrap_or(false)
            }),
            None => Some(recall_at_k(ids, truth, self.k)),
        }
    }
}

/// Answers at once: what the driver costs on its own.
pub struct NoopTarget;

impl Target for NoopTarget {
    fn collections(&self) -> Vec<TargetCollection> {
        vec![TargetCollection {
            name: "noop".into(),
            qps: 1.0,
        }]
    }

    fn call(
        &self,
        _call: Call,
    ) -> impl std::future::Future<Output = Result<Outcome, OpError>> + Send {
        std::future::ready(Ok(Outcome::DONE))
    }
}

pub use crate::http::{
    BODIES_FILE, BODY_TEMPLATE, BodySpec, DEFAULT_HTTP_BODY, ENDPOINT, ENDPOINT_URL, EndpointSpec,
    HEADER, HttpOptions, HttpTarget, METHOD,
};

/// The server's time in seconds from a `Server-Timing` header (W3C Server Timing: `dur` in
/// milliseconds): the metric named `total` when there is one, else the first with a `dur`.
pub fn server_timing_seconds(header: &str) -> Option<f64> {
    let mut first = None;
    for metric in header.split(',') {
        let mut parts = metric.split(';').map(str::trim);
        let name = parts.next().unwrap_or("");
        let dur = parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("dur"))
                .then(|| v.trim().trim_matches('"').parse::<f64>().ok())?
        });
        if let Some(ms) = dur {
            if name.eq_ignore_ascii_case("total") {
                return Some(ms / 1e3);
            }
            first.get_or_insert(ms / 1e3);
        }
    }
    first
}

/// An error and its causes on one line (the one walk, in plumbing).
pub use qdrant_perf_plumbing::error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_prefers_total_and_reads_milliseconds() {
        assert_eq!(
            server_timing_seconds("db;dur=2.5, total;dur=12.5;desc=\"all\""),
            Some(0.0125)
        );
        assert_eq!(
            server_timing_seconds("cache;desc=hit, app;dur=4"),
            Some(0.004)
        );
        assert_eq!(server_timing_seconds("miss, db;desc=x"), None);
        assert_eq!(server_timing_seconds("app;dur=abc"), None);
    }
}
