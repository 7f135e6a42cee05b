//! A collection's state as the server tells it, read once a second by `settle`: the
//! optimizations queued and running (`GET /collections/{name}/optimizations`, Qdrant 1.17.0+)
//! and the collection's own figures (`GET /collections/{name}`: `status`, `optimizer_status`,
//! `points_count`, `indexed_vectors_count`, `segments_count`, `update_queue`). Both come from
//! the REST port, reached as [`super::telemetry::metrics_urls`] reaches it for `/metrics`.
//!
//! Qdrant 1.17.1 answers the optimizations route with
//! `{"result": {"summary": {"queued_optimizations", "queued_segments", "queued_points",
//! "idle_segments"}, "running": [{"uuid", "optimizer", "status", "segments": [..],
//! "progress": {"name", "started_at", "done", "total", "children": [..]}}]}}`
//! (lib/shard/src/operations/optimization.rs at v1.17.1); an older server answers 404, and the
//! state then says so and keeps the collection's own figures.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ApiKey;
use super::telemetry::get_text;
use crate::error::{Result, StoreError};
use crate::guard::Guard;

/// One running optimization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunningOptimization {
    /// The optimizer (`indexing`, `merge`, `vacuum`, ...).
    pub optimizer: String,
    /// Its top-level progress, `done` of `total` (as Qdrant counts it), when it says.
    pub done: Option<u64>,
    pub total: Option<u64>,
    /// Points in the segments it optimizes.
    pub points: Option<u64>,
}

/// What the server said about one collection at one moment. A field is `None` when the
/// server did not say (or the read failed: then `error` says why).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionState {
    /// `green`, `yellow` (optimizing), `grey` (optimizations pending, not started), `red`.
    pub status: Option<String>,
    /// `ok`, or the optimizer's error.
    pub optimizer_status: Option<String>,
    pub points: Option<u64>,
    pub indexed_vectors: Option<u64>,
    pub segments: Option<u64>,
    /// `update_queue.length` (1.17: updates waiting to be applied).
    pub update_queue: Option<u64>,
    /// `update_queue.deferred_points`.
    pub deferred_points: Option<u64>,
    /// The optimizations route's `summary`.
    pub queued_optimizations: Option<u64>,
    pub queued_segments: Option<u64>,
    pub queued_points: Option<u64>,
    pub idle_segments: Option<u64>,
    /// The route's `running[]`; `None` when the route was not read.
    pub running: Option<Vec<RunningOptimization>>,
    /// Why a part could not be read.
    pub error: Option<String>,
}

impl CollectionState {
    /// Nothing queued and nothing running, the status green (needs the optimizations read).
    pub fn optimizer_idle(&self) -> bool {
        self.status.as_deref() == Some("green")
            && self.queued_optimizations == Some(0)
            && self.running.as_ref().is_some_and(Vec::is_empty)
    }
}

/// Parses `GET /collections/{name}`'s body into `state`.
pub fn parse_collection(
    json: &str,
    state: &mut CollectionState,
) -> std::result::Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let r = v.get("result").ok_or("no `result` in the answer")?;
    let u = |key: &str| r.get(key).and_then(serde_json::Value::as_u64);
    state.status = r.get("status").and_then(|s| s.as_str()).map(String::from);
    state.optimizer_status = r.get("optimizer_status").map(|s| match s.as_str() {
        Some(s) => s.to_string(),
        None => s.to_string(),
    });
    state.points = u("points_count");
    state.indexed_vectors = u("indexed_vectors_count");
    state.segments = u("segments_count");
    let q = r.get("update_queue");
    state.update_queue = q.and_then(|q| q.get("length")).and_then(|x| x.as_u64());
    state.deferred_points = q
        .and_then(|q| q.get("deferred_points"))
        .and_then(|x| x.as_u64());
    Ok(())
}

/// Parses `GET /collections/{name}/optimizations`'s body into `state`.
pub fn parse_optimizations(
    json: &str,
    state: &mut CollectionState,
) -> std::result::Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let r = v.get("result").ok_or("no `result` in the answer")?;
    let s = r.get("summary").ok_or("no `summary` in the answer")?;
    let u = |key: &str| s.get(key).and_then(serde_json::Value::as_u64);
    state.queued_optimizations = u("queued_optimizations");
    state.queued_segments = u("queued_segments");
    state.queued_points = u("queued_points");
    state.idle_segments = u("idle_segments");
    let running = r
        .get("running")
        .and_then(|x| x.as_array())
        .ok_or("no `running` list in the answer")?;
    state.running = Some(
        running
            .iter()
            .map(|o| {
                let p = o.get("progress");
                let pu = |k: &str| p.and_then(|p| p.get(k)).and_then(|x| x.as_u64());
                let points = o.get("segments").and_then(|s| s.as_array()).map(|segs| {
                    segs.iter()
                        .filter_map(|s| s.get("points_count").and_then(|x| x.as_u64()))
                        .sum()
                });
                RunningOptimization {
                    optimizer: o
                        .get("optimizer")
                        .and_then(|x| x.as_str())
                        .unwrap_or("?")
                        .to_string(),
                    done: pu("done"),
                    total: pu("total"),
                    points,
                }
            })
            .collect(),
    );
    Ok(())
}

/// Reads collections' state from one server's REST address.
#[derive(Clone)]
pub struct StateReader {
    http: reqwest::Client,
    url: String,
    api_key: Option<ApiKey>,
}

impl StateReader {
    /// `url`: the REST base (`http://host:6333`).
    pub fn new(url: &str, api_key: Option<ApiKey>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StoreError::Unreachable {
                url: url.into(),
                message: e.to_string(),
            })?;
        Ok(Self {
            http,
            url: url.trim_end_matches('/').to_string(),
            api_key,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The collection's state now; a part that cannot be read leaves its fields `None` and
    /// says why in `error` (never an `Err`: a server that is restarting is a state too).
    pub async fn read(&self, name: &str) -> CollectionState {
        let mut state = CollectionState::default();
        let mut errors = Vec::new();
        let key = self.api_key.as_ref();
        match get_text(&self.http, &self.url, &format!("/collections/{name}"), key).await {
            Ok(body) => {
                if let Err(e) = parse_collection(&body, &mut state) {
                    errors.push(format!("GET /collections/{name}: {e}"));
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
        let path = format!("/collections/{name}/optimizations");
        match get_text(&self.http, &self.url, &path, key).await {
            Ok(body) => {
                if let Err(e) = parse_optimizations(&body, &mut state) {
                    errors.push(format!("GET {path}: {e}"));
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
        state.error = (!errors.is_empty()).then(|| errors.join("; "));
        state
    }

    /// Sets `optimizers_config.prevent_unoptimized` of a collection the suite owns
    /// (`PATCH /collections/{name}`; the option is new in Qdrant 1.17, and qdrant-client 1.20's
    /// gRPC types may lack it, so it goes over REST).
    pub async fn set_prevent_unoptimized(&self, name: &str, on: bool) -> Result<()> {
        Guard::default().check(name, "change the optimizer config of")?;
        let mut request = self
            .http
            .patch(format!("{}/collections/{name}", self.url))
            .json(&serde_json::json!({"optimizers_config": {"prevent_unoptimized": on}}));
        if let Some(k) = &self.api_key {
            request = request.header("api-key", k.expose());
        }
        let bad = |message: String| StoreError::Unreachable {
            url: self.url.clone(),
            message: super::redact(message, self.api_key.as_ref()),
        };
        let response = request.send().await.map_err(|e| bad(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(bad(format!(
                "PATCH /collections/{name} (prevent_unoptimized) answered HTTP {status}: {body}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qdrant_1_17_answers_parse() {
        let mut s = CollectionState::default();
        parse_collection(
            r#"{"result":{"status":"yellow","optimizer_status":"ok","indexed_vectors_count":10,"points_count":300,"segments_count":3,"update_queue":{"length":2,"deferred_points":0}},"status":"ok"}"#,
            &mut s,
        )
        .unwrap();
        parse_optimizations(
            r#"{"result":{"summary":{"queued_optimizations":1,"queued_segments":2,"queued_points":200,"idle_segments":1},"running":[{"uuid":"x","optimizer":"indexing","status":"optimizing","segments":[{"uuid":"a","points_count":100}],"progress":{"name":"Segment Optimizing","done":3,"total":7,"children":[]}}]},"status":"ok"}"#,
            &mut s,
        )
        .unwrap();
        assert_eq!(s.status.as_deref(), Some("yellow"));
        assert_eq!(
            (s.points, s.indexed_vectors, s.segments),
            (Some(300), Some(10), Some(3))
        );
        assert_eq!(s.update_queue, Some(2));
        assert_eq!(s.queued_optimizations, Some(1));
        assert_eq!(s.queued_points, Some(200));
        let r = s.running.as_ref().unwrap();
        assert_eq!(r[0].optimizer, "indexing");
        assert_eq!(
            (r[0].done, r[0].total, r[0].points),
            (Some(3), Some(7), Some(100))
        );
        assert!(!s.optimizer_idle());
    }
}
