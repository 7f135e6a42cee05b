//! What a Qdrant server says about itself, before and after a run.
//!
//! A run snapshots `GET /metrics` (Prometheus text) on every node before it starts and after it
//! ends, and keeps the differences that matter: requests the server answered per endpoint and
//! status, the server's own mean time for them and a percentile from its duration buckets, and
//! memory (resident and allocated) and vector counts at both ends. So a report can say how much
//! of the load the server actually saw, and how much of a client-side latency was the server.
//! It also reads `GET /telemetry?details_level=1` at both ends ([`TelemetrySnapshot`],
//! [`telemetry_delta`]): Qdrant's own count and total time per endpoint and status, which
//! the suite's own `GET /metrics` and `GET /telemetry` reads are taken out of.
//!
//! Qdrant does not publish its CPU use. When the server runs on this machine (a loopback URL),
//! [`LocalProcess`] finds its process by the listening port and reads its CPU time and resident
//! memory from `/proc`, so the CPU target can be judged for a local server too.
//!
//! The metrics come from the REST port. For a gRPC URL that is `QDRANT_METRICS_URL` when set,
//! else the same host on 6333 when the gRPC port is Qdrant's 6334; otherwise telemetry is not
//! collected, and the report says so and why.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Api, ApiKey, ServerConfig, redact};
use crate::error::{Result, StoreError};

/// One metric series: its name and its labels as written (`name{a="b"}`).
pub type Series = String;

/// All series of one node's `/metrics` at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsSnapshot {
    pub values: BTreeMap<Series, f64>,
}

impl MetricsSnapshot {
    /// Parses Prometheus' text format (comments and blank lines skipped; a line that does not
    /// end in a number is an error naming the line).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut values = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The value follows the last space outside the labels; an optional timestamp is
            // not written by Qdrant.
            let split = match line.rfind('}') {
                Some(close) => line[close..].find(' ').map(|i| close + i),
                None => line.find(' '),
            };
            let Some(at) = split else {
                return Err(format!("line {}: no value in {line:?}", n + 1));
            };
            let (series, value) = (line[..at].trim(), line[at..].trim());
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse::<f64>()
                    .map_err(|_| format!("line {}: value {v:?} is not a number", n + 1))?,
            };
            values.insert(series.to_string(), value);
        }
        Ok(Self { values })
    }

    pub fn get(&self, series: &str) -> Option<f64> {
        self.values.get(series).copied()
    }

    /// The series named `name` (any labels), with their label text (`{a="b"}`, or empty).
    pub fn family<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.values.iter().filter_map(move |(series, v)| {
            let labels = series.strip_prefix(name)?;
            if labels.is_empty() {
                Some(("", *v))
            } else if labels.starts_with('{') {
                Some((labels, *v))
            } else {
                None
            }
        })
    }
}

/// The value of one label in a label text such as `{method="POST",status="200"}`.
pub fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{key}=\""))? + key.len() + 2;
    let len = labels[start..].find('"')?;
    Some(&labels[start..start + len])
}

/// Labels without `le` (a histogram bucket's bound), to group buckets by endpoint.
fn without_le(labels: &str) -> String {
    let inner = labels.trim_start_matches('{').trim_end_matches('}');
    let kept: Vec<&str> = inner
        .split(',')
        .filter(|kv| !kv.starts_with("le="))
        .collect();
    format!("{{{}}}", kept.join(","))
}

pub use qdrant_perf_report::server::{EndpointDelta, NodeDelta, ServerSecond};

/// The differences between `before` and `after` of the node at `url`.
pub fn node_delta(url: &str, before: &MetricsSnapshot, after: &MetricsSnapshot) -> NodeDelta {
    {
        let mut endpoints = Vec::new();
        for api in ["rest", "grpc"] {
            let total = format!("{api}_responses_total");
            for (labels, count_after) in after.family(&total) {
                let count_before = before.get(&format!("{total}{labels}")).unwrap_or(0.0);
                let requests = (count_after - count_before).max(0.0) as u64;
                if requests == 0 {
                    continue;
                }
                let sum = |m: &MetricsSnapshot| {
                    m.get(&format!("{api}_responses_duration_seconds_sum{labels}"))
                };
                let mean_ms = match (sum(after), sum(before).or(Some(0.0))) {
                    (Some(a), Some(b)) => Some((a - b) / requests as f64 * 1e3),
                    _ => None,
                };
                endpoints.push(EndpointDelta {
                    api: api.into(),
                    endpoint: label(labels, "endpoint").unwrap_or("?").into(),
                    status: label(labels, "status").unwrap_or("?").into(),
                    requests,
                    mean_ms,
                    p95_at_most_ms: bucket_quantile(api, labels, before, after, 0.95),
                });
            }
        }
        endpoints.sort_by_key(|e| std::cmp::Reverse(e.requests));
        let version = after
            .values
            .keys()
            .find(|k| k.starts_with("app_info"))
            .and_then(|k| label(k, "version"))
            .map(str::to_string);
        let counter = |name: &str| Some(after.get(name)? - before.get(name).unwrap_or(0.0));
        NodeDelta {
            url: url.into(),
            version,
            endpoints,
            resident_bytes_before: before.get("memory_resident_bytes"),
            resident_bytes_after: after.get("memory_resident_bytes"),
            allocated_bytes_after: after.get("memory_allocated_bytes"),
            vectors_before: before.get("collections_vector_total"),
            vectors_after: after.get("collections_vector_total"),
            major_page_faults: counter("process_major_page_faults_total"),
            minor_page_faults: counter("process_minor_page_faults_total"),
        }
    }
}

/// One second of a node from the snapshots at its start and end: responses counted (and
/// those with an error status), memory, optimizations and update queues, points and vectors
/// summed over `collections` (all when empty), page faults in that second.
pub fn server_second(
    t: f64,
    prev: &MetricsSnapshot,
    cur: &MetricsSnapshot,
    collections: &[String],
) -> ServerSecond {
    let (mut requests, mut errors) = (0u64, 0u64);
    for api in ["rest", "grpc"] {
        let total = format!("{api}_responses_total");
        for (labels, after) in cur.family(&total) {
            let before = prev.get(&format!("{total}{labels}")).unwrap_or(0.0);
            let n = (after - before).max(0.0) as u64;
            requests += n;
            if label(labels, "status")
                .is_some_and(|s| qdrant_perf_report::server::is_error_status(api, s))
            {
                errors += n;
            }
        }
    }
    let per_collection = |name: &str| -> Option<f64> {
        let mut sum = None;
        for (labels, v) in cur.family(name) {
            let id = label(labels, "id").or_else(|| label(labels, "collection"));
            if collections.is_empty() || id.is_some_and(|id| collections.iter().any(|c| c == id)) {
                *sum.get_or_insert(0.0) += v;
            }
        }
        sum
    };
    let counter = |name: &str| Some((cur.get(name)? - prev.get(name).unwrap_or(0.0)).max(0.0));
    ServerSecond {
        t,
        requests,
        errors,
        resident_bytes: cur.get("memory_resident_bytes"),
        allocated_bytes: cur.get("memory_allocated_bytes"),
        running_optimizations: per_collection("collection_running_optimizations"),
        update_queue_length: per_collection("collection_update_queue_length"),
        points: per_collection("collection_points"),
        vectors: per_collection("collection_vectors"),
        major_page_faults: counter("process_major_page_faults_total"),
        minor_page_faults: counter("process_minor_page_faults_total"),
    }
}

/// The smallest bucket bound below which `q` of the run's requests of one endpoint fell.
fn bucket_quantile(
    api: &str,
    labels: &str,
    before: &MetricsSnapshot,
    after: &MetricsSnapshot,
    q: f64,
) -> Option<f64> {
    let family = format!("{api}_responses_duration_seconds_bucket");
    let group = without_le(labels);
    let mut buckets: Vec<(f64, f64)> = after
        .family(&family)
        .filter(|(l, _)| without_le(l) == group)
        .filter_map(|(l, v)| {
            let le = match label(l, "le")? {
                "+Inf" => f64::INFINITY,
                x => x.parse().ok()?,
            };
            let b = before.get(&format!("{family}{l}")).unwrap_or(0.0);
            Some((le, v - b))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    buckets
        .iter()
        .find(|(_, n)| *n >= q * total)
        .map(|(le, _)| le * 1e3)
}

/// Where a server's metrics can be read, one URL per node; or why they cannot. `explicit`
/// (the REST addresses, separated by commas: `--metrics-url` or `QDRANT_METRICS_URL`) wins;
/// else a REST target's own URLs; else, for gRPC on Qdrant's port 6334, the same host on 6333.
pub fn metrics_urls(
    config: &ServerConfig,
    explicit: Option<&str>,
) -> std::result::Result<Vec<String>, String> {
    if let Some(explicit) = explicit.filter(|e| !e.trim().is_empty()) {
        return Ok(explicit
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').replace("rest+", ""))
            .collect());
    }
    match config.api {
        Api::Rest => Ok(config.urls.clone()),
        Api::Grpc => config
            .urls
            .iter()
            .map(|u| match u.strip_suffix(":6334") {
                Some(host) => Ok(format!("{host}:6333")),
                None => Err(format!(
                    "{u} is not on Qdrant's gRPC port 6334, so its REST port is unknown: \
                     give it with --metrics-url http://host:<rest port> (or QDRANT_METRICS_URL) \
                     to read the server's /metrics"
                )),
            })
            .collect(),
    }
}

/// Reads `/metrics` (and, at a run's two ends, `/telemetry`) from every node.
pub struct Telemetry {
    http: reqwest::Client,
    urls: Vec<String>,
    api_key: Option<ApiKey>,
}

impl Telemetry {
    pub fn new(urls: Vec<String>, api_key: Option<ApiKey>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            // Read once a second during a run: a node that takes longer is named, not waited on.
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StoreError::Unreachable {
                url: urls.join(","),
                message: e.to_string(),
            })?;
        Ok(Self {
            http,
            urls,
            api_key,
        })
    }

    /// For a server config (see [`metrics_urls`] for where the metrics are read).
    pub fn for_config(
        config: &ServerConfig,
        explicit: Option<&str>,
    ) -> std::result::Result<Self, String> {
        let urls = metrics_urls(config, explicit)?;
        Self::new(urls, config.api_key.clone()).map_err(|e| e.to_string())
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// One snapshot per node, in the order of [`Telemetry::urls`].
    pub async fn snapshot(&self) -> Result<Vec<MetricsSnapshot>> {
        self.snapshot_each().await.into_iter().collect()
    }

    /// One snapshot per node, in the order of [`Telemetry::urls`], each on its own: a node
    /// that cannot be read gives its error and the others are still read (concurrently).
    pub async fn snapshot_each(&self) -> Vec<Result<MetricsSnapshot>> {
        self.read_each("/metrics", |http, url, key| async move {
            read_node(&http, &url, key.as_ref()).await
        })
        .await
    }

    /// Each node's `GET /telemetry?details_level=1` (see [`TelemetrySnapshot`]), like
    /// [`Telemetry::snapshot_each`]: in the order of the URLs, concurrently, each on its own.
    pub async fn telemetry_each(&self) -> Vec<Result<TelemetrySnapshot>> {
        self.read_each("/telemetry", |http, url, key| async move {
            read_telemetry(&http, &url, key.as_ref()).await
        })
        .await
    }

    /// `read` of every node at once, the results in the order of the URLs.
    async fn read_each<T, F, Fut>(&self, what: &str, read: F) -> Vec<Result<T>>
    where
        T: Send + 'static,
        F: Fn(reqwest::Client, String, Option<ApiKey>) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        let mut reads = tokio::task::JoinSet::new();
        for (i, url) in self.urls.iter().enumerate() {
            let done = read(self.http.clone(), url.clone(), self.api_key.clone());
            reads.spawn(async move { (i, done.await) });
        }
        let mut out: Vec<Option<Result<T>>> = self.urls.iter().map(|_| None).collect();
        while let Some(done) = reads.join_next().await {
            if let Ok((i, r)) = done {
                out[i] = Some(r);
            }
        }
        out.into_iter()
            .zip(&self.urls)
            .map(|(r, url)| {
                r.unwrap_or_else(|| {
                    Err(StoreError::Unreachable {
                        url: url.clone(),
                        message: format!("reading {what} panicked"),
                    })
                })
            })
            .collect()
    }

    /// Per node, what changed between two [`Telemetry::snapshot`]s.
    pub fn deltas(&self, before: &[MetricsSnapshot], after: &[MetricsSnapshot]) -> Vec<NodeDelta> {
        self.urls
            .iter()
            .zip(before.iter().zip(after))
            .map(|(url, (b, a))| node_delta(url, b, a))
            .collect()
    }
}

/// GET `url`/metrics, parsed.
async fn read_node(
    http: &reqwest::Client,
    url: &str,
    api_key: Option<&ApiKey>,
) -> Result<MetricsSnapshot> {
    let text = get_text(http, url, "/metrics", api_key).await?;
    MetricsSnapshot::parse(&text).map_err(|e| StoreError::Unreachable {
        url: url.to_string(),
        message: redact(format!("GET /metrics: {e}"), api_key),
    })
}

/// GET `url``path` with the `api-key` header when there is a key; the body of a success, else
/// an error naming the node (401/403: [`StoreError::Auth`]) with the key redacted.
pub(crate) async fn get_text(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    api_key: Option<&ApiKey>,
) -> Result<String> {
    let mut request = http.get(format!("{url}{path}"));
    if let Some(key) = api_key {
        request = request.header("api-key", key.expose());
    }
    let unreachable = |message: String| StoreError::Unreachable {
        url: url.to_string(),
        message: redact(message, api_key),
    };
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(StoreError::Auth {
            url: url.to_string(),
        });
    }
    let text = response
        .text()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !status.is_success() {
        return Err(unreachable(format!("GET {path} answered HTTP {status}")));
    }
    Ok(text)
}

/// What a node's `GET /telemetry?details_level=1` says about the requests it answered, at one
/// moment: per (api, endpoint, status), the count and the total time since the server started.
///
/// Qdrant 1.17 keeps these under `result.requests.rest.responses` (`"POST
/// /collections/{collection_name}/points/search"` → `"200"` → `{count, avg_duration_micros,
/// min_duration_micros, max_duration_micros, total_duration_micros, last_responded}`) and
/// `result.requests.grpc.responses` (`"/qdrant.Points/Search"` → gRPC code `"0"` → the same).
/// An endpoint whose statistics sit directly under its name (no status level, as older
/// servers wrote gRPC) gets the status `""`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TelemetrySnapshot {
    /// (api: `rest` or `grpc`, endpoint, status) → (count, total duration in µs when given).
    pub responses: BTreeMap<(String, String, String), (u64, Option<u64>)>,
}

impl TelemetrySnapshot {
    /// Parses the JSON answer of `/telemetry`; an answer without `result.requests` is an error
    /// saying so (a server that does not publish its requests, or not a Qdrant server).
    pub fn parse(json: &str) -> std::result::Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
        let requests = v
            .pointer("/result/requests")
            .and_then(|r| r.as_object())
            .ok_or("the answer has no result.requests (per-endpoint statistics)")?;
        let mut responses = BTreeMap::new();
        for api in ["rest", "grpc"] {
            let Some(endpoints) = requests
                .get(api)
                .and_then(|a| a.get("responses"))
                .and_then(|r| r.as_object())
            else {
                continue;
            };
            for (endpoint, by_status) in endpoints {
                let stats: Vec<(&str, &serde_json::Value)> = if by_status.get("count").is_some() {
                    vec![("", by_status)]
                } else {
                    by_status
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(s, v)| (s.as_str(), v))
                        .collect()
                };
                for (status, st) in stats {
                    let count = st.get("count").and_then(|c| c.as_u64()).ok_or_else(|| {
                        format!("{api} {endpoint:?} status {status:?}: no count in {st}")
                    })?;
                    let total = st.get("total_duration_micros").and_then(|t| t.as_u64());
                    responses.insert(
                        (api.to_string(), endpoint.clone(), status.to_string()),
                        (count, total),
                    );
                }
            }
        }
        Ok(Self { responses })
    }
}

/// True for the requests the suite itself sends to watch a server (`GET /metrics` once a second,
/// `GET /telemetry` at both ends of a run): Qdrant counts them in its telemetry like any other.
pub fn is_monitoring_endpoint(api: &str, endpoint: &str) -> bool {
    api == "rest" && matches!(endpoint, "GET /metrics" | "GET /telemetry")
}

pub use qdrant_perf_report::server::TelemetryEndpoint;

/// Per (api, endpoint, status), what the server answered between `before` and `after`: the
/// count's difference, and the mean time (difference of the totals over that count; `None`
/// when the server gives no totals). Endpoints with no new request, and the suite's own
/// monitoring requests ([`is_monitoring_endpoint`]), are left out; the most requested first.
pub fn telemetry_delta(
    before: &TelemetrySnapshot,
    after: &TelemetrySnapshot,
) -> Vec<TelemetryEndpoint> {
    let mut out: Vec<TelemetryEndpoint> = after
        .responses
        .iter()
        .filter(|((api, endpoint, _), _)| !is_monitoring_endpoint(api, endpoint))
        .filter_map(|(key, &(count, total))| {
            let (count_before, total_before) =
                before.responses.get(key).copied().unwrap_or((0, Some(0)));
            let requests = count.checked_sub(count_before).filter(|&n| n > 0)?;
            let mean_ms = match (total, total_before) {
                (Some(a), Some(b)) => Some(a.saturating_sub(b) as f64 / requests as f64 / 1e3),
                _ => None,
            };
            let (api, endpoint, status) = key.clone();
            Some(TelemetryEndpoint {
                api,
                endpoint,
                status,
                requests,
                mean_ms,
            })
        })
        .collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.requests));
    out
}

/// GET `url`/telemetry?details_level=1, parsed.
async fn read_telemetry(
    http: &reqwest::Client,
    url: &str,
    api_key: Option<&ApiKey>,
) -> Result<TelemetrySnapshot> {
    let text = get_text(http, url, "/telemetry?details_level=1", api_key).await?;
    TelemetrySnapshot::parse(&text).map_err(|e| StoreError::Unreachable {
        url: url.to_string(),
        message: redact(format!("GET /telemetry: {e}"), api_key),
    })
}

/// A server process on this machine, found by the TCP port it listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalProcess {
    pub pid: u32,
}

pub use qdrant_perf_plumbing::proc::ProcessSample;

impl LocalProcess {
    /// The process listening on `port` of this machine, when the URL's host is loopback and
    /// `/proc` shows it (same user, or root). `None` otherwise.
    pub fn for_url(url: &str) -> Option<Self> {
        let authority = url.split("://").nth(1)?.trim_end_matches('/');
        let (host, port) = authority.rsplit_once(':')?;
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return None;
        }
        Self::listening_on(port.parse().ok()?)
    }

    /// The process with a listening socket on `port`.
    pub fn listening_on(port: u16) -> Option<Self> {
        qdrant_perf_plumbing::proc::pid_listening_on(port).map(|pid| Self { pid })
    }

    /// The process's CPU time (user + system) and resident memory now.
    pub fn sample(&self) -> Option<ProcessSample> {
        qdrant_perf_plumbing::proc::pid_sample(self.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"
# HELP app_info information about qdrant server
app_info{name="qdrant",version="1.17.1"} 1
collections_vector_total 0
memory_resident_bytes 15060992
rest_responses_total{method="POST",endpoint="/collections/{collection_name}/points/query",status="200"} 3
rest_responses_duration_seconds_sum{method="POST",endpoint="/collections/{collection_name}/points/query",status="200"} 0.002
rest_responses_duration_seconds_bucket{method="POST",endpoint="/collections/{collection_name}/points/query",status="200",le="0.001"} 2
rest_responses_duration_seconds_bucket{method="POST",endpoint="/collections/{collection_name}/points/query",status="200",le="0.005"} 3
rest_responses_duration_seconds_bucket{method="POST",endpoint="/collections/{collection_name}/points/query",status="200",le="+Inf"} 3
"#;

    const AFTER: &str = r#"
app_info{name="qdrant",version="1.17.1"} 1
collections_vector_total 1000
memory_resident_bytes 25060992
memory_allocated_bytes 9064960
rest_responses_total{method="POST",endpoint="/collections/{collection_name}/points/query",status="200"} 103
rest_responses_duration_seconds_sum{method="POST",endpoint="/collections/{collection_name}/points/query",status="200"} 0.202
rest_responses_duration_seconds_bucket{method="POST",endpoint="/collections/{collection_name}/points/query",status="200",le="0.001"} 50
rest_responses_duration_seconds_bucket{method="POST",endpoint="/collections/{collection_name}/points/query",status="200",le="0.005"} 98
rest_responses_duration_seconds_bucket{method="POST",endpoint="/collections/{collection_name}/points/query",status="200",le="+Inf"} 103
rest_responses_total{method="PUT",endpoint="/collections/{collection_name}/points",status="200"} 4
grpc_responses_total{endpoint="/qdrant.Points/Search"} 7
"#;

    #[test]
    fn deltas_count_only_what_happened_between_the_snapshots() {
        let before = MetricsSnapshot::parse(BEFORE).unwrap();
        let after = MetricsSnapshot::parse(AFTER).unwrap();
        let d = node_delta("http://h:6333", &before, &after);
        assert_eq!(d.version.as_deref(), Some("1.17.1"));
        let query = &d.endpoints[0];
        assert_eq!(
            query.endpoint,
            "/collections/{collection_name}/points/query"
        );
        assert_eq!(query.requests, 100);
        // (0.202 - 0.002) s over 100 requests = 2 ms each.
        assert!((query.mean_ms.unwrap() - 2.0).abs() < 1e-9, "{query:?}");
        // 48 of 100 new requests were <= 1 ms, 96 <= 5 ms, all <= +Inf: p95 is in the 5 ms bucket.
        assert_eq!(query.p95_at_most_ms, Some(5.0));
        assert_eq!(d.requests_matching("points/query"), 100);
        assert_eq!(d.requests_matching("/qdrant.Points/Search"), 7);
        assert_eq!(d.requests_matching("/points"), 104);
        assert_eq!(d.vectors_after, Some(1000.0));
        assert_eq!(d.resident_bytes_before, Some(15060992.0));
    }

    /// The shape of Qdrant 1.17.1's `GET /telemetry?details_level=1`, trimmed (a real answer's
    /// `requests` part, other sections emptied).
    fn telemetry_json(search_200: (u64, u64), metrics: u64, grpc_search: (u64, u64)) -> String {
        let stats = |(count, total): (u64, u64)| {
            format!(
                r#"{{"count": {count}, "avg_duration_micros": 1.0, "min_duration_micros": 1.0, "max_duration_micros": 9.0, "total_duration_micros": {total}, "last_responded": "2026-12-07T17:05:07.580Z"}}"#
            )
        };
        format!(
            r#"{{"result": {{"id": "x", "app": {{"name": "qdrant", "version": "1.17.1"}}, "collections": {{}},
              "requests": {{
                "rest": {{"responses": {{
                  "POST /collections/{{collection_name}}/points/search": {{"404": {}, "200": {}}},
                  "GET /metrics": {{"200": {}}},
                  "GET /telemetry": {{"200": {}}},
                  "PUT /collections/{{collection_name}}/points": {{"200": {}}}
                }}}},
                "grpc": {{"responses": {{"/qdrant.Points/Search": {{"0": {}}}}}}}
              }}, "memory": null}}, "status": "ok", "time": 0.0001}}"#,
            stats((1, 89)),
            stats(search_200),
            stats((metrics, metrics * 1000)),
            stats((metrics, metrics * 500)),
            stats((1, 1078)),
            stats(grpc_search),
        )
    }

    #[test]
    fn telemetry_deltas_count_each_endpoint_and_leave_out_the_monitoring() {
        let before = TelemetrySnapshot::parse(&telemetry_json((3, 1444), 2, (5, 1000))).unwrap();
        assert_eq!(
            before.responses[&(
                "rest".to_string(),
                "POST /collections/{collection_name}/points/search".to_string(),
                "200".to_string()
            )],
            (3, Some(1444))
        );
        assert_eq!(
            before.responses[&(
                "grpc".to_string(),
                "/qdrant.Points/Search".to_string(),
                "0".to_string()
            )],
            (5, Some(1000))
        );
        // 100 more searches taking 50,000 µs more in all; 40 more /metrics reads; gRPC idle.
        let after = TelemetrySnapshot::parse(&telemetry_json((103, 51444), 42, (5, 1000))).unwrap();
        let d = telemetry_delta(&before, &after);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            (
                d[0].api.as_str(),
                d[0].endpoint.as_str(),
                d[0].status.as_str()
            ),
            (
                "rest",
                "POST /collections/{collection_name}/points/search",
                "200"
            )
        );
        assert_eq!(d[0].requests, 100);
        assert!((d[0].mean_ms.unwrap() - 0.5).abs() < 1e-12, "{d:?}");
        // An endpoint first seen after the start counts from 0.
        let d = telemetry_delta(&TelemetrySnapshot::default(), &after);
        let grpc = d.iter().find(|e| e.api == "grpc").unwrap();
        assert_eq!((grpc.requests, grpc.mean_ms), (5, Some(0.2)));
        assert!(
            d.iter()
                .all(|e| !is_monitoring_endpoint(&e.api, &e.endpoint)),
            "{d:?}"
        );
        assert_eq!(d.len(), 4, "{d:?}");
    }

    #[test]
    fn telemetry_without_totals_or_requests_is_said() {
        let old = r#"{"result": {"requests": {"rest": {"responses": {}},
            "grpc": {"responses": {"/qdrant.Points/Search": {"count": 7}}}}}}"#;
        let s = TelemetrySnapshot::parse(old).unwrap();
        let d = telemetry_delta(&TelemetrySnapshot::default(), &s);
        assert_eq!(
            (d[0].status.as_str(), d[0].requests, d[0].mean_ms),
            ("", 7, None)
        );
        let err = TelemetrySnapshot::parse(r#"{"result": {"app": {}}}"#).unwrap_err();
        assert!(err.contains("result.requests"), "{err}");
        assert!(
            TelemetrySnapshot::parse("<html>")
                .unwrap_err()
                .contains("not JSON")
        );
    }

    #[test]
    fn a_line_without_a_number_is_named() {
        let err = MetricsSnapshot::parse("ok 1\nbroken{a=\"b\"} x\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("\"x\""), "{err}");
    }

    #[test]
    fn grpc_urls_find_the_rest_port_only_when_it_is_the_convention() {
        let c = ServerConfig::parse("grpc://h:6334,grpc://g:6334", None).unwrap();
        assert_eq!(
            metrics_urls(&c, None).unwrap(),
            vec!["http://h:6333".to_string(), "http://g:6333".to_string()]
        );
        let odd = ServerConfig::parse("grpc://h:7000", None).unwrap();
        let err = metrics_urls(&odd, None).unwrap_err();
        assert!(err.contains("--metrics-url"), "{err}");
        assert_eq!(
            metrics_urls(&odd, Some("http://h:7001/, rest+http://g:7001")).unwrap(),
            vec!["http://h:7001".to_string(), "http://g:7001".to_string()]
        );
        let r = ServerConfig::parse("rest+http://h:9", None).unwrap();
        assert_eq!(
            metrics_urls(&r, None).unwrap(),
            vec!["http://h:9".to_string()]
        );
    }

    #[test]
    fn this_process_is_found_by_its_listening_port_and_sampled() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let found = LocalProcess::for_url(&format!("http://127.0.0.1:{port}")).unwrap();
        assert_eq!(found.pid, std::process::id());
        let first = found.sample().unwrap();
        assert!(first.rss_bytes > 1 << 20, "{first:?}");
        // Work until the kernel has charged some CPU time (it counts in clock ticks).
        let started = std::time::Instant::now();
        let mut x = 1u64;
        let later = loop {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
            let s = found.sample().unwrap();
            if s.cpu_seconds > first.cpu_seconds || started.elapsed().as_secs() > 5 {
                break s;
            }
        };
        assert!(
            later.cpu_seconds > first.cpu_seconds,
            "{first:?} then {later:?}"
        );
        assert_eq!(LocalProcess::for_url("http://10.1.2.3:6333"), None);
        drop(listener);
        assert_eq!(LocalProcess::listening_on(port), None);
    }
}
