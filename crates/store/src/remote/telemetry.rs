//! What a Qdrant server says about itself, before and after a run.
//!
//! A run snapshots `GET /metrics` (Prometheus text) on every node before it starts and after it
//! ends, and keeps the differences that matter: requests the server answered per endpoint and
//! status, the server's own mean time for them and a percentile from its duration buckets, and
//! memory (resident and allocated) and vector counts at both ends. So a report can say how much
//! of the load the server actually saw, and how much of a client-side latency was the server.
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

/// Reads `/metrics` from every node.
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
        let mut reads = tokio::task::JoinSet::new();
        for (i, url) in self.urls.iter().enumerate() {
            let (http, url, api_key) = (self.http.clone(), url.clone(), self.api_key.clone());
            reads.spawn(async move { (i, read_node(&http, &url, api_key.as_ref()).await) });
        }
        let mut out: Vec<Option<Result<MetricsSnapshot>>> =
            self.urls.iter().map(|_| None).collect();
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
                        message: "reading /metrics panicked".into(),
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
    let mut request = http.get(format!("{url}/metrics"));
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
        return Err(unreachable(format!("GET /metrics answered HTTP {status}")));
    }
    MetricsSnapshot::parse(&text).map_err(|e| unreachable(format!("GET /metrics: {e}")))
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
