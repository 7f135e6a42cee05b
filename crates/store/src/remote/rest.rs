//! A Qdrant server through its REST API (`reqwest`, JSON).

use std::time::Duration;

use qdrant_perf_plumbing::error_chain;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{
    ApiKey, Nodes, Sampled, Seen, ServerConfig, redact, unnamed_only, unsupported_distance,
    wait_until_indexed,
};
use crate::error::{Result, StoreError};
use crate::guard::Guard;
use crate::spec::{
    BatchResponse, CollectionSpec, Created, Engine, Footprint, Hit, INDEXING_THRESHOLD_KB,
    IndexState, Point, Query, SearchResponse,
};
use crate::store::Store;

/// A Qdrant server (or the nodes of a cluster, used in turn, a node that cannot be reached left
/// out while it backs off: see [`super::Nodes`]) over REST.
pub struct RestStore {
    http: reqwest::Client,
    nodes: Nodes,
    api_key: Option<ApiKey>,
    guard: Guard,
    index_timeout: Duration,
    version: String,
}

/// The body of `PUT /collections/{name}` for a spec: the same JSON the embedded engine's config
/// is built from, so the two engines index alike.
pub(crate) fn create_body(spec: &CollectionSpec) -> Value {
    let mut body = json!({
        "vectors": {"size": spec.dim, "distance": spec.metric.qdrant_name(), "on_disk": spec.on_disk},
        "hnsw_config": {
            "m": spec.hnsw.m,
            "ef_construct": spec.hnsw.ef_construct,
            "full_scan_threshold": spec.hnsw.full_scan_threshold,
        },
        // Index every segment however small: a benchmark of HNSW must search HNSW.
        "optimizers_config": {"indexing_threshold": INDEXING_THRESHOLD_KB},
    });
    if let Some(q) = spec.quantization.to_qdrant_json() {
        body["quantization_config"] = q;
    }
    if let Some(n) = spec.segments {
        body["optimizers_config"]["default_segment_number"] = json!(n);
    }
    if let Some(n) = spec.shards {
        body["shard_number"] = json!(n);
    }
    if let Some(n) = spec.replication {
        body["replication_factor"] = json!(n);
    }
    body
}

pub(crate) fn search_body(query: &Query) -> Value {
    let mut params = json!({"exact": query.exact});
    if let Some(ef) = query.ef {
        params["hnsw_ef"] = json!(ef);
    }
    if query.rescore.is_some() || query.oversampling.is_some() {
        params["quantization"] =
            json!({"rescore": query.rescore, "oversampling": query.oversampling});
    }
    let mut body = json!({
        "vector": query.vector,
        "limit": query.k,
        "params": params,
        "with_payload": query.with_payload,
    });
    if let Some(f) = &query.filter {
        body["filter"] = f.to_qdrant_json();
    }
    body
}

fn hits(result: &Value, with_payload: bool) -> Result<Vec<Hit>> {
    let list = result.as_array().ok_or_else(|| StoreError::Engine {
        engine: "qdrant rest",
        op: "read search results",
        collection: "".into(),
        message: format!("expected a list, got {result}"),
        node: None,
    })?;
    Ok(list
        .iter()
        .map(|p| Hit {
            id: p["id"].as_u64().unwrap_or(u64::MAX),
            score: p["score"].as_f64().unwrap_or(f64::NAN) as f32,
            payload: if with_payload {
                p["payload"].as_object().cloned()
            } else {
                None
            },
        })
        .collect())
}

impl RestStore {
    /// Connects (checks the server answers and records its version) without creating anything.
    pub async fn connect(config: &ServerConfig, guard: Guard) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| StoreError::Unreachable {
                url: config.urls.join(","),
                message: e.to_string(),
            })?;
        let mut store = Self {
            http,
            nodes: Nodes::new(&config.urls),
            api_key: config.api_key.clone(),
            guard,
            index_timeout: config.index_timeout,
            version: String::new(),
        };
        let first = store.nodes.pick();
        let root: Value = store
            .call_at(first, Method::GET, "/", None, "connect", "")
            .await?;
        store.version = root["version"].as_str().unwrap_or("unknown").to_string();
        // Every node must answer an authenticated call (`/` answers without the key).
        for i in 0..store.nodes.len() {
            store
                .call_at::<Value>(i, Method::GET, "/collections", None, "connect", "")
                .await?;
        }
        Ok(store)
    }

    /// The server's version, as it reports it.
    pub fn server_version(&self) -> &str {
        &self.version
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// `method` on `/collections/{name}{path}` with a JSON `body`: the answer. Errors name `op`
    /// and the collection.
    async fn on(
        &self,
        method: Method,
        name: &str,
        path: &str,
        body: Option<Value>,
        op: &'static str,
    ) -> Result<Value> {
        Ok(self.answered(method, name, path, body, op).await?.0)
    }

    /// [`on`](Self::on), with the URL of the node that answered.
    async fn answered(
        &self,
        method: Method,
        name: &str,
        path: &str,
        body: Option<Value>,
        op: &'static str,
    ) -> Result<(Value, std::sync::Arc<str>)> {
        let node = self.nodes.pick();
        let path = format!("/collections/{name}{path}");
        let v = self
            .call_at(node, method, &path, body.as_ref(), op, name)
            .await?;
        Ok((v, self.nodes.url(node).clone()))
    }

    /// One call to one node; its errors name the node.
    async fn call_at<T: DeserializeOwned>(
        &self,
        node: usize,
        method: Method,
        path: &str,
        body: Option<&Value>,
        op: &'static str,
        collection: &str,
    ) -> Result<T> {
        let url: &str = self.nodes.url(node);
        let answer = async {
            let mut request = self.http.request(method, format!("{url}{path}"));
            if let Some(key) = &self.api_key {
                request = request.header("api-key", key.expose());
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| {
                // No answer: refused, reset or timed out (the node is down or went down meanwhile).
                if e.is_connect() || e.is_timeout() || e.is_request() {
                    self.nodes.failed(node);
                    StoreError::Unreachable {
                        url: url.into(),
                        message: redact(error_chain(&e), self.api_key.as_ref()),
                    }
                } else {
                    engine_error(
                        op,
                        collection,
                        redact(error_chain(&e), self.api_key.as_ref()),
                    )
                }
            })?;
            self.nodes.served(node);
            let status = response.status();
            if status == reqwest::StatusCode::UNAUTHORIZED
                || status == reqwest::StatusCode::FORBIDDEN
            {
                return Err(StoreError::Auth { url: url.into() });
            }
            let text = response
                .text()
                .await
                .map_err(|e| engine_error(op, collection, e))?;
            if !status.is_success() {
                let message = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["status"]["error"].as_str().map(str::to_string))
                    .unwrap_or(text);
                return Err(engine_error(
                    op,
                    collection,
                    format!("HTTP {status}: {}", redact(message, self.api_key.as_ref())),
                ));
            }
            serde_json::from_str(&text)
                .map_err(|e| engine_error(op, collection, format!("{e}: {text}")))
        };
        answer.await.map_err(|e| e.at_node(url))
    }

    async fn info(&self, name: &str) -> Result<Value> {
        let v: Value = self.on(Method::GET, name, "", None, "read info").await?;
        Ok(v["result"].clone())
    }

    /// Creates the spec's payload indexes (`PUT /collections/{name}/index?wait=true`), each
    /// built before the call returns.
    async fn create_payload_indexes(&self, spec: &CollectionSpec) -> Result<()> {
        for (field, kind) in &spec.payload_indexes {
            let body = json!({"field_name": field, "field_schema": kind.name()});
            let op = "create a payload index";
            self.on(Method::PUT, &spec.name, "/index?wait=true", Some(body), op)
                .await?;
        }
        Ok(())
    }

    /// True when the collection exists (read-only; any name).
    pub async fn exists(&self, name: &str) -> Result<bool> {
        let v: Value = self
            .on(Method::GET, name, "/exists", None, "check existence")
            .await?;
        Ok(v["result"]["exists"].as_bool().unwrap_or(false))
    }
}

fn engine_error(op: &'static str, collection: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine {
        engine: "qdrant rest",
        op,
        collection: collection.into(),
        message: e.to_string(),
        node: None,
    }
}

impl Store for RestStore {
    fn engine(&self) -> Engine {
        Engine::Rest
    }

    async fn create(&self, spec: &CollectionSpec) -> Result<Created> {
        self.guard.check(&spec.name, "create")?;
        spec.validate()?;
        let name = &spec.name;
        if self.exists(name).await? {
            let info = self.info(name).await?;
            let vectors = &info["config"]["params"]["vectors"];
            let dim = vectors["size"].as_u64().unwrap_or(0) as usize;
            spec.check_found(dim, vectors["distance"].as_str().unwrap_or("?"))?;
            let points = info["points_count"].as_u64().unwrap_or(0) as usize;
            // Indexes the spec asks for that are missing are added (an existing one is kept).
            self.create_payload_indexes(spec).await?;
            return Ok(Created::Existing { points });
        }
        self.on(Method::PUT, name, "", Some(create_body(spec)), "create")
            .await?;
        self.create_payload_indexes(spec).await?;
        Ok(Created::New)
    }

    async fn upsert(&self, name: &str, batch: &[Point]) -> Result<()> {
        self.guard.check(name, "write to")?;
        let points: Vec<Value> = batch
            .iter()
            .map(|p| json!({"id": p.id, "vector": p.vector, "payload": p.payload.clone().unwrap_or_default()}))
            .collect();
        self.on(
            Method::PUT,
            name,
            "/points?wait=true",
            Some(json!({"points": points})),
            "upsert",
        )
        .await?;
        Ok(())
    }

    async fn delete(&self, name: &str, ids: &[u64]) -> Result<()> {
        self.guard.check(name, "write to")?;
        self.on(
            Method::POST,
            name,
            "/points/delete?wait=true",
            Some(json!({"points": ids})),
            "delete",
        )
        .await?;
        Ok(())
    }

    async fn wait_indexed(&self, name: &str) -> Result<IndexState> {
        wait_until_indexed(name, self.index_timeout, || async {
            let info = self.info(name).await?;
            let count = |v: &Value| v.as_u64().unwrap_or(0) as usize;
            Ok(Seen {
                status: info["status"].as_str().unwrap_or("?").to_string(),
                points: count(&info["points_count"]),
                indexed: count(&info["indexed_vectors_count"]),
                segments: count(&info["segments_count"]),
                dim: count(&info["config"]["params"]["vectors"]["size"]),
                optimizer: match &info["optimizer_status"] {
                    Value::String(s) => s.clone(),
                    v => v["error"]
                        .as_str()
                        .map_or_else(|| v.to_string(), |e| format!("error: {e}")),
                },
            })
        })
        .await
    }

    async fn search(&self, name: &str, query: &Query) -> Result<SearchResponse> {
        if let Some(f) = &query.filter {
            f.validate()?;
        }
        let (v, node): (Value, _) = self
            .answered(
                Method::POST,
                name,
                "/points/search",
                Some(search_body(query)),
                "search",
            )
            .await?;
        Ok(SearchResponse {
            hits: hits(&v["result"], query.with_payload)?,
            server_seconds: v["time"].as_f64(),
            node: Some(node),
        })
    }

    async fn search_batch(&self, name: &str, queries: &[Query]) -> Result<BatchResponse> {
        for f in queries.iter().filter_map(|q| q.filter.as_ref()) {
            f.validate()?;
        }
        let searches: Vec<Value> = queries.iter().map(search_body).collect();
        let (v, node): (Value, _) = self
            .answered(
                Method::POST,
                name,
                "/points/search/batch",
                Some(json!({"searches": searches})),
                "search a batch",
            )
            .await?;
        let lists = v["result"].as_array().cloned().unwrap_or_default();
        let results = lists
            .iter()
            .zip(queries)
            .map(|(l, q)| hits(l, q.with_payload))
            .collect::<Result<_>>()?;
        Ok(BatchResponse {
            results,
            server_seconds: v["time"].as_f64(),
            node: Some(node),
        })
    }

    async fn count(&self, name: &str) -> Result<usize> {
        let v: Value = self
            .on(
                Method::POST,
                name,
                "/points/count",
                Some(json!({"exact": true})),
                "count",
            )
            .await?;
        Ok(v["result"]["count"].as_u64().unwrap_or(0) as usize)
    }

    async fn footprint(&self, _name: &str) -> Result<Footprint> {
        Ok(Footprint::UNKNOWN)
    }

    async fn drop_owned(&self, name: &str) -> Result<()> {
        self.guard.check(name, "drop")?;
        self.on(Method::DELETE, name, "", None, "drop").await?;
        Ok(())
    }
}

impl RestStore {
    /// Read-only: up to `n` of the collection's own points, drawn at random by the server
    /// (Qdrant's `sample: random` query), with the collection's dimension, distance and size.
    /// Works on any collection; writes nothing.
    pub async fn sample_vectors(&self, name: &str, n: usize) -> Result<Sampled> {
        let info = self.info(name).await?;
        let params = &info["config"]["params"]["vectors"];
        let Some(dim) = params["size"].as_u64() else {
            return Err(unnamed_only(name));
        };
        let metric = match params["distance"].as_str() {
            Some("Cosine") => qdrant_perf_data::Metric::Cosine,
            Some("Dot") => qdrant_perf_data::Metric::Dot,
            Some("Euclid") => qdrant_perf_data::Metric::Euclid,
            other => return Err(unsupported_distance(name, other.unwrap_or("unknown"))),
        };
        let body = json!({
            "query": {"sample": "random"},
            "limit": n,
            "with_vector": true,
            "with_payload": false,
        });
        let v: Value = self
            .on(
                Method::POST,
                name,
                "/points/query",
                Some(body),
                "sample points",
            )
            .await?;
        let vectors = v["result"]["points"]
            .as_array()
            .map(|points| {
                points
                    .iter()
                    .filter_map(|p| {
                        p["vector"].as_array().map(|xs| {
                            xs.iter()
                                .map(|x| x.as_f64().unwrap_or(0.0) as f32)
                                .collect()
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Sampled {
            dim: dim as usize,
            metric,
            points: info["points_count"].as_u64().unwrap_or(0) as usize,
            indexed_vectors: info["indexed_vectors_count"].as_u64().unwrap_or(0) as usize,
            status: info["status"].as_str().unwrap_or("unknown").to_string(),
            vectors,
        })
    }
}
