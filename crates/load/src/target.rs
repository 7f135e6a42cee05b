//! The targets a load run drives: Qdrant through any [`Store`] ([`StoreTarget`], generic so a
//! caching store plugs in unchanged), any JSON HTTP endpoint ([`HttpTarget`], e.g. the
//! deployment's API gateway), and nothing at all ([`NoopTarget`], to measure the driver).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use qdrant_perf_data::{GroundTruth, Vectors, recall_at_k};
use qdrant_perf_store::readonly::ReadOnlyWorkload;
use qdrant_perf_store::{CachedStore, Point, Query, Store, StoreError};

use crate::driver::{Call, LoadError, OpError, OpKind, Outcome, Target, TargetCollection};

/// One collection of a store, with its held-out queries and their exact neighbours.
pub struct StoreCollection<S> {
    /// The profile name (`mixtral`), used in reports.
    pub name: String,
    /// The collection's name in the store (`perf_mixtral`).
    pub collection: String,
    pub store: Arc<S>,
    pub queries: Arc<Vec<Query>>,
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

impl<S> StoreCollection<S> {
    pub fn new(
        name: impl Into<String>,
        collection: impl Into<String>,
        store: Arc<S>,
        queries: Vec<Query>,
        truth: GroundTruth,
        qps: f64,
    ) -> Self {
        Self {
            name: name.into(),
            collection: collection.into(),
            store,
            queries: Arc::new(queries),
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
}

impl<S> StoreTarget<S> {
    pub fn new(collections: Vec<StoreCollection<S>>, k: usize) -> Self {
        Self {
            collections,
            k,
            cache: None,
        }
    }

    pub fn with_cache(mut self, cache: Arc<CachedStore<Arc<S>>>) -> Self {
        self.cache = Some(cache);
        self
    }
}

/// A store's error as a failed request, grouped by kind (`unreachable`, `engine`...).
pub fn store_error(e: StoreError) -> OpError {
    let kind = match &e {
        StoreError::Unreachable { .. } => "unreachable",
        StoreError::Auth { .. } => "auth",
        StoreError::Engine { .. } => "engine",
        StoreError::UnknownCollection { .. } => "unknown collection",
        _ => "store",
    };
    OpError::new(kind, e)
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
                    _ => c.store.search(&c.collection, &c.queries[q]).await,
                }
                .map_err(store_error)?;
                Ok(Outcome::hits(q, r.hits.iter().map(|h| h.id).collect())
                    .with_server_seconds(r.server_seconds))
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
                Ok(Outcome::hits(q, ids).with_server_seconds(r.server_seconds))
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
        (query < c.truth.len()).then(|| recall_at_k(ids, c.truth.ids(query), self.k))
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

/// Any JSON HTTP endpoint (the deployment's gateway `POST /api/v1/vectors/search`, a GraphQL
/// endpoint, Qdrant's own REST API): each request POSTs the body template with `{{vector}}`
/// replaced by a held-out query vector (a JSON array) and `{{k}}` by k.
pub struct HttpTarget {
    url: String,
    client: reqwest::Client,
    /// One rendered body per held-out query.
    bodies: Vec<bytes::Bytes>,
    truth: Option<GroundTruth>,
    /// JSON pointer to the result list in a response (`/result`), for recall.
    ids_pointer: Option<String>,
    /// JSON pointer to the server's own time in a response, in seconds (`/time`: Qdrant's).
    server_time_pointer: Option<String>,
    k: usize,
    name: String,
    next: AtomicU64,
}

/// The `what` of a [`LoadError::Invalid`] about the body template of an [`HttpTarget`].
pub const BODY_TEMPLATE: &str = "body template";
/// The `what` of a [`LoadError::Invalid`] about the URL of an [`HttpTarget`].
pub const ENDPOINT_URL: &str = "endpoint URL";

/// Default body: Qdrant's REST search request.
pub const DEFAULT_HTTP_BODY: &str = r#"{"vector": {{vector}}, "limit": {{k}}}"#;

impl HttpTarget {
    /// Renders a body per query. The template must contain `{{vector}}`.
    pub fn new(
        url: &str,
        template: &str,
        queries: &Vectors,
        k: usize,
        timeout: Duration,
    ) -> Result<Self, LoadError> {
        if !template.contains("{{vector}}") {
            return Err(LoadError::Invalid {
                what: BODY_TEMPLATE,
                value: template.into(),
                fix: "the body template must contain {{vector}} where the query vector goes \
                      (example: '{\"vector\": {{vector}}, \"limit\": {{k}}}')"
                    .into(),
            });
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| LoadError::Invalid {
            what: ENDPOINT_URL,
            value: url.into(),
            fix: format!("not a URL ({e}); example: http://127.0.0.1:8080/api/v1/vectors/search"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(LoadError::Invalid {
                what: ENDPOINT_URL,
                value: url.into(),
                fix: "use an http:// or https:// URL".into(),
            });
        }
        let bodies = queries
            .rows()
            .map(|v| {
                let vector = serde_json::to_string(v).expect("floats serialise");
                bytes::Bytes::from(
                    template
                        .replace("{{vector}}", &vector)
                        .replace("{{k}}", &k.to_string()),
                )
            })
            .collect();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(4096)
            .build()
            .map_err(LoadError::HttpClient)?;
        Ok(Self {
            name: parsed.host_str().unwrap_or("http").to_string(),
            url: url.into(),
            client,
            bodies,
            truth: None,
            ids_pointer: None,
            server_time_pointer: None,
            k,
            next: AtomicU64::new(0),
        })
    }

    /// Computes recall from the ids at `pointer` in each response (an array of ids, or of
    /// objects with an `id`), against `truth`.
    pub fn with_recall(mut self, pointer: impl Into<String>, truth: GroundTruth) -> Self {
        self.ids_pointer = Some(pointer.into());
        self.truth = Some(truth);
        self
    }

    /// Reads the server's own time (seconds) at `pointer` in each response (Qdrant's REST
    /// answers carry it at `/time`). Without it a `Server-Timing` header is read when present.
    pub fn with_server_time_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.server_time_pointer = Some(pointer.into());
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One request before the run: an endpoint that does not answer, or answers with an error,
    /// stops the run before it starts, with the URL in the message.
    pub async fn preflight(&self) -> Result<(), LoadError> {
        let r = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.bodies[0].clone())
            .send()
            .await
            .map_err(|source| LoadError::Unreachable {
                url: self.url.clone(),
                source,
            })?;
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            return Err(LoadError::Rejected {
                url: self.url.clone(),
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        Ok(())
    }

    /// The result ids and the server's time in a response body, as far as the pointers ask
    /// (no pointer: the body is not parsed).
    fn read_body(&self, body: &[u8]) -> (Option<Vec<u64>>, Option<f64>) {
        if self.ids_pointer.is_none() && self.server_time_pointer.is_none() {
            return (None, None);
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return (None, None);
        };
        let ids = self.ids_pointer.as_ref().and_then(|p| {
            let list = v.pointer(p)?.as_array()?;
            Some(
                list.iter()
                    .filter_map(|h| h.as_u64().or_else(|| h.get("id")?.as_u64()))
                    .collect(),
            )
        });
        let server = self
            .server_time_pointer
            .as_ref()
            .and_then(|p| v.pointer(p)?.as_f64());
        (ids, server)
    }
}

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

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

impl Target for HttpTarget {
    fn collections(&self) -> Vec<TargetCollection> {
        vec![TargetCollection {
            name: self.name.clone(),
            qps: 1.0,
        }]
    }

    async fn call(&self, _call: Call) -> Result<Outcome, OpError> {
        let q = (self.next.fetch_add(1, Ordering::Relaxed) % self.bodies.len() as u64) as usize;
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.bodies[q].clone())
            .send()
            .await
            .map_err(|e| {
                let kind = if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "request"
                };
                OpError::new(kind, error_chain(&e))
            })?;
        let status = response.status();
        let timing = response
            .headers()
            .get("server-timing")
            .and_then(|h| h.to_str().ok())
            .and_then(server_timing_seconds);
        let body = response
            .bytes()
            .await
            .map_err(|e| OpError::new("response body", error_chain(&e)))?;
        if !status.is_success() {
            return Err(OpError::new(
                format!("http {}", status.as_u16()),
                String::from_utf8_lossy(&body[..body.len().min(200)]),
            ));
        }
        let (ids, in_body) = self.read_body(&body);
        let outcome = match ids {
            Some(ids) => Outcome::hits(q, ids),
            None => Outcome::DONE,
        };
        Ok(outcome.with_server_seconds(in_body.or(timing)))
    }

    fn recall(&self, _collection: usize, query: usize, ids: &[u64]) -> Option<f64> {
        let truth = self.truth.as_ref()?;
        (query < truth.len()).then(|| recall_at_k(ids, truth.ids(query), self.k))
    }
}

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
