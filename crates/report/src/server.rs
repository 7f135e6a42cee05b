//! What the deployment said about itself during a run, as data: each node's `/metrics` sampled
//! once a second ([`ServerSecond`], aligned with the run's timeline), what changed over the
//! recorded part ([`NodeDelta`]: requests per endpoint as the server counted them, memory,
//! vectors), Qdrant's own per-endpoint statistics from `GET /telemetry` at both ends of the
//! recorded part ([`TelemetryEndpoint`]), and the nodes whose metrics could not be read, by
//! name. The sampling is qdrant-perf-load's `monitor`; the parsing is qdrant-perf-store's
//! `remote::telemetry`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Requests one endpoint answered during a run, as the server counted them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointDelta {
    /// `rest` or `grpc`.
    pub api: String,
    pub endpoint: String,
    pub status: String,
    pub requests: u64,
    /// The server's own mean processing time for these requests.
    pub mean_ms: Option<f64>,
    /// The upper bound of the server's duration bucket holding the 95th percentile (Qdrant's
    /// buckets are coarse: 1, 5, 10, 20, 50, 100 ms...; the per-response times in the
    /// operations' `server_latency_ms` are the precise figures).
    pub p95_at_most_ms: Option<f64>,
}

/// What changed on one node between two snapshots of its `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeDelta {
    pub url: String,
    pub version: Option<String>,
    pub endpoints: Vec<EndpointDelta>,
    pub resident_bytes_before: Option<f64>,
    pub resident_bytes_after: Option<f64>,
    pub allocated_bytes_after: Option<f64>,
    pub vectors_before: Option<f64>,
    pub vectors_after: Option<f64>,
    /// Page faults of the server process over the run (`process_major_page_faults_total`:
    /// disk reads through mmap; minor: no disk access).
    #[serde(default)]
    pub major_page_faults: Option<f64>,
    #[serde(default)]
    pub minor_page_faults: Option<f64>,
}

impl NodeDelta {
    /// Requests of every endpoint whose path contains `needle` (e.g. `points/search`, or
    /// `/qdrant.Points/Search` for gRPC).
    pub fn requests_matching(&self, needle: &str) -> u64 {
        self.endpoints
            .iter()
            .filter(|e| e.endpoint.contains(needle))
            .map(|e| e.requests)
            .sum()
    }

    /// Requests the server answered with an error status (REST 4xx/5xx, gRPC not OK).
    pub fn error_requests(&self) -> u64 {
        self.endpoints
            .iter()
            .filter(|e| is_error_status(&e.api, &e.status))
            .map(|e| e.requests)
            .sum()
    }
}

/// Requests one endpoint answered during a run, from the difference of the node's
/// `GET /telemetry?details_level=1` at the start of the recorded part and after its end
/// (Qdrant's `result.requests.{rest,grpc}.responses`). The suite's own monitoring requests
/// (`GET /metrics`, `GET /telemetry`) are left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelemetryEndpoint {
    /// `rest` or `grpc`.
    pub api: String,
    /// As Qdrant names it: `POST /collections/{collection_name}/points/search`,
    /// `/qdrant.Points/Search`.
    pub endpoint: String,
    /// The HTTP status (`200`) or gRPC code (`0` is OK).
    pub status: String,
    pub requests: u64,
    /// The server's mean time for these requests (difference of its `total_duration_micros`
    /// over `requests`); `None` when the server gave no totals.
    pub mean_ms: Option<f64>,
}

/// True for the endpoints that search or query points (REST `.../points/search`,
/// `.../points/search/batch`, `.../points/query...`; gRPC `/qdrant.Points/Search...`,
/// `/qdrant.Points/Query...`): what the run's `search` and `search_batch` operations send. A
/// cluster's internal `/qdrant.PointsInternal/...` requests between nodes are not these.
pub fn is_search_endpoint(endpoint: &str) -> bool {
    let e = endpoint.to_ascii_lowercase();
    e.contains("points/search") || e.contains("points/query")
}

/// True for a REST status of 400 and above, or a gRPC status other than OK (Qdrant labels gRPC
/// responses with the numeric code: `0` is OK, `14` unavailable...). An absent status (`?`) is
/// not an error.
pub fn is_error_status(api: &str, status: &str) -> bool {
    if matches!(status, "" | "?") {
        return false;
    }
    match (api, status.parse::<u16>()) {
        ("grpc", Ok(code)) => code != 0,
        ("grpc", Err(_)) => !status.eq_ignore_ascii_case("ok"),
        (_, Ok(code)) => code >= 400,
        (_, Err(_)) => false,
    }
}

/// One second of one node, as its `/metrics` said at the end of that second.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSecond {
    /// Seconds since the recorded part of the run began (as the run's timeline).
    pub t: f64,
    /// Responses the server counted in this second (REST and gRPC), and those with an error
    /// status.
    pub requests: u64,
    pub errors: u64,
    pub resident_bytes: Option<f64>,
    pub allocated_bytes: Option<f64>,
    /// Summed over the run's collections (all collections when the run names none).
    pub running_optimizations: Option<f64>,
    pub update_queue_length: Option<f64>,
    pub points: Option<f64>,
    pub vectors: Option<f64>,
    /// Page faults of the server process in this second.
    pub major_page_faults: Option<f64>,
    pub minor_page_faults: Option<f64>,
}

/// One node over a run: its per-second series and what changed, or why it could not be read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeWatch {
    /// The REST URL whose `/metrics` was read.
    pub url: String,
    pub seconds: Vec<ServerSecond>,
    /// From the first to the last snapshot of the recorded part.
    pub delta: Option<NodeDelta>,
    /// Why (some of) its metrics could not be read: the first error, and how many samples
    /// failed.
    pub unreadable: Option<String>,
    #[serde(default)]
    pub failed_samples: u64,
    /// Qdrant's own per-endpoint counts over the recorded part (`GET /telemetry` read at its
    /// start and after its end; see [`TelemetryEndpoint`]), endpoints with no request left
    /// out. `None` in a report.json from before it existed, or when /telemetry could not be
    /// read (then `telemetry_unreadable` says why).
    #[serde(default)]
    pub telemetry: Option<Vec<TelemetryEndpoint>>,
    /// Why `telemetry` is absent: the first failed read of `/telemetry`.
    #[serde(default)]
    pub telemetry_unreadable: Option<String>,
}

impl NodeWatch {
    /// Search and query requests (see [`is_search_endpoint`]) in this node's `/telemetry`
    /// delta, any status, and the server's mean time over those it gave a time for; `None`
    /// when the node's /telemetry was not read.
    pub fn telemetry_searches(&self) -> Option<(u64, Option<f64>)> {
        self.telemetry.as_ref()?;
        Some(searches_and_mean(self.search_endpoints()))
    }

    /// The search and query endpoints of this node's `/telemetry` delta (none when unread).
    fn search_endpoints(&self) -> impl Iterator<Item = &TelemetryEndpoint> {
        self.telemetry
            .iter()
            .flatten()
            .filter(|e| is_search_endpoint(&e.endpoint))
    }
}

/// Requests of `endpoints` and their mean time, weighted by requests.
fn searches_and_mean<'a>(
    endpoints: impl Iterator<Item = &'a TelemetryEndpoint>,
) -> (u64, Option<f64>) {
    let (mut requests, mut timed, mut total_ms) = (0u64, 0u64, 0.0);
    for e in endpoints {
        requests += e.requests;
        if let Some(mean) = e.mean_ms {
            timed += e.requests;
            total_ms += mean * e.requests as f64;
        }
    }
    (requests, (timed > 0).then(|| total_ms / timed as f64))
}

/// What the deployment's side of a run showed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSide {
    /// One entry per node whose `/metrics` the run was to read.
    pub nodes: Vec<NodeWatch>,
    /// Why no node's metrics were read at all (no REST address known for the target, say).
    pub not_collected: Option<String>,
}

impl ServerSide {
    /// One line per node (and one for a server not read at all), for the terminal and the
    /// Markdown summary: requests and errors as the server counted them, the server's mean,
    /// memory, page faults, samples; or why the node could not be read.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(why) = &self.not_collected {
            lines.push(format!("server metrics not collected: {why}"));
        }
        let mb = |b: Option<f64>| b.map_or("-".into(), |b| format!("{:.0} MB", b / 1048576.0));
        for n in &self.nodes {
            let mut line = format!("node {}", n.url);
            if let Some(d) = &n.delta {
                let requests: u64 = d.endpoints.iter().map(|e| e.requests).sum();
                let _ = write!(
                    line,
                    "{}: {} responses counted by the server ({} errors), resident {} -> {}, major page faults {}, {} one-second samples",
                    d.version
                        .as_deref()
                        .map_or(String::new(), |v| format!(" (qdrant {v})")),
                    requests,
                    d.error_requests(),
                    mb(d.resident_bytes_before),
                    mb(d.resident_bytes_after),
                    d.major_page_faults
                        .map_or("-".into(), |f| format!("{f:.0}")),
                    n.seconds.len()
                );
            }
            if let Some(why) = &n.unreadable {
                let _ = write!(
                    line,
                    "{}UNREADABLE in {} sample(s): {why}",
                    if n.delta.is_some() { "; " } else { ": " },
                    n.failed_samples
                );
            }
            lines.push(line);
            if let Some(why) = &n.telemetry_unreadable {
                lines.push(format!("node {} /telemetry UNREADABLE: {why}", n.url));
            } else if let Some(endpoints) = &n.telemetry {
                let searches: Vec<String> = endpoints
                    .iter()
                    .filter(|e| is_search_endpoint(&e.endpoint))
                    .map(|e| {
                        format!(
                            "{} {} {}: {}{}",
                            e.api,
                            e.endpoint,
                            e.status,
                            e.requests,
                            e.mean_ms
                                .map_or(String::new(), |m| format!(" (mean {m:.2} ms)"))
                        )
                    })
                    .collect();
                lines.push(format!(
                    "node {} /telemetry: {}",
                    n.url,
                    if searches.is_empty() {
                        "no search or query requests".to_string()
                    } else {
                        searches.join(", ")
                    }
                ));
            }
        }
        lines
    }

    /// The server's count of search and query requests over the run's window (`/telemetry`
    /// of every node, summed: a cluster spreads the requests over its nodes) beside `client`,
    /// the requests the client sent to those endpoints (ok + errors), as one line; `None`
    /// when no node's /telemetry was read.
    ///
    /// In a cluster the node a client's search reaches forwards it to the nodes holding the
    /// collection's shards over internal gRPC; those forwarded requests appear in the other
    /// nodes' `requests.grpc` as `/qdrant.PointsInternal/CoreSearchBatch` (seen on a 3-node
    /// Qdrant 1.17.1 cluster), which [`is_search_endpoint`] does not count, and never in
    /// `requests.rest`. So the sum over nodes counts each client request once, at the node
    /// that received it.
    ///
    /// The window's edges: the start's `/telemetry` is read at the first tick of the recorded
    /// part, so a request answered in the instant before the server answers that read counts
    /// for the client only (one in a run at 100 requests a second; several in a closed loop
    /// at thousands a second). The end's read comes after the run's drain.
    pub fn compare_searches(&self, client: u64) -> Option<String> {
        let (server, mean, read) = self.telemetry_searches()?;
        let mut line = format!(
            "server /telemetry counted {server} search requests{} in the run's window; the client sent {client} (ok+errors): ",
            mean.map_or(String::new(), |m| format!(" (mean {m:.2} ms)"))
        );
        if server == client {
            line.push_str("same");
        } else {
            let _ = write!(
                line,
                "{server} - {client} = {} {}: other clients of the server, retries, or requests in flight at the window's edges",
                server.abs_diff(client),
                if server > client { "more" } else { "fewer" }
            );
        }
        let missing = self.nodes.len() - read;
        if missing > 0 {
            let _ = write!(
                line,
                " ({missing} of {} nodes' /telemetry unreadable, not counted)",
                self.nodes.len()
            );
        }
        Some(line)
    }

    /// The search requests the nodes' `/telemetry` counted over the run, summed over the nodes
    /// read, their mean time, and how many nodes were read; `None` when none was.
    pub fn telemetry_searches(&self) -> Option<(u64, Option<f64>, usize)> {
        let read: Vec<&NodeWatch> = self
            .nodes
            .iter()
            .filter(|n| n.telemetry.is_some())
            .collect();
        if read.is_empty() {
            return None;
        }
        let (server, mean) = searches_and_mean(read.iter().flat_map(|n| n.search_endpoints()));
        Some((server, mean, read.len()))
    }

    /// Nodes that could not be read at all or lost samples, with the reason.
    pub fn unreadable(&self) -> impl Iterator<Item = (&str, &str)> {
        self.nodes
            .iter()
            .filter_map(|n| Some((n.url.as_str(), n.unreadable.as_deref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(
        api: &str,
        endpoint: &str,
        status: &str,
        requests: u64,
        mean_ms: f64,
    ) -> TelemetryEndpoint {
        TelemetryEndpoint {
            api: api.into(),
            endpoint: endpoint.into(),
            status: status.into(),
            requests,
            mean_ms: Some(mean_ms),
        }
    }

    const SEARCH: &str = "POST /collections/{collection_name}/points/search";

    /// Two nodes of a cluster: 60 + 40 REST searches (and one 404), gRPC searches on one,
    /// upserts that are not searches.
    fn cluster() -> ServerSide {
        let node = |url: &str, telemetry: Vec<TelemetryEndpoint>| NodeWatch {
            url: url.into(),
            telemetry: Some(telemetry),
            ..NodeWatch::default()
        };
        ServerSide {
            nodes: vec![
                node(
                    "http://a:6333",
                    vec![
                        endpoint("rest", SEARCH, "200", 60, 1.0),
                        endpoint(
                            "rest",
                            "PUT /collections/{collection_name}/points",
                            "200",
                            500,
                            9.0,
                        ),
                        endpoint("grpc", "/qdrant.Points/SearchBatch", "0", 10, 4.0),
                    ],
                ),
                node(
                    "http://b:6333",
                    vec![
                        endpoint("rest", SEARCH, "200", 29, 2.0),
                        endpoint("rest", SEARCH, "404", 1, 0.7),
                    ],
                ),
            ],
            not_collected: None,
        }
    }

    #[test]
    fn the_servers_search_count_is_compared_with_the_clients() {
        let side = cluster();
        assert!(!is_search_endpoint(
            "/qdrant.PointsInternal/CoreSearchBatch"
        ));
        assert!(is_search_endpoint(
            "POST /collections/{collection_name}/points/query/batch"
        ));
        let (b, b_mean) = side.nodes[1].telemetry_searches().unwrap();
        assert_eq!(b, 30);
        assert!((b_mean.unwrap() - 58.7 / 30.0).abs() < 1e-12, "{b_mean:?}");
        // 60 + 10 + 30 = 100 searches; mean (60*1 + 10*4 + 29*2 + 0.7) / 100 = 1.587 ms.
        assert_eq!(
            side.compare_searches(100).unwrap(),
            "server /telemetry counted 100 search requests (mean 1.59 ms) in the run's window; \
             the client sent 100 (ok+errors): same"
        );
        assert_eq!(
            side.compare_searches(103).unwrap(),
            "server /telemetry counted 100 search requests (mean 1.59 ms) in the run's window; \
             the client sent 103 (ok+errors): 100 - 103 = 3 fewer: other clients of the server, \
             retries, or requests in flight at the window's edges"
        );
        assert!(
            side.compare_searches(98)
                .unwrap()
                .contains(": 100 - 98 = 2 more: "),
            "{:?}",
            side.compare_searches(98)
        );
        // A node whose /telemetry could not be read is said, not counted.
        let mut partial = side.clone();
        partial.nodes[1].telemetry = None;
        partial.nodes[1].telemetry_unreadable = Some("at the end: timed out".into());
        let line = partial.compare_searches(70).unwrap();
        assert!(
            line.contains("counted 70 ")
                && line.ends_with(": same (1 of 2 nodes' /telemetry unreadable, not counted)"),
            "{line}"
        );
        let lines = partial.describe();
        assert!(
            lines.contains(
                &"node http://b:6333 /telemetry UNREADABLE: at the end: timed out".to_string()
            ),
            "{lines:?}"
        );
        assert!(
            lines.contains(&format!(
                "node http://a:6333 /telemetry: rest {SEARCH} 200: 60 (mean 1.00 ms), grpc /qdrant.Points/SearchBatch 0: 10 (mean 4.00 ms)"
            )),
            "{lines:?}"
        );
        // No node read: no comparison, and an old report's node gets no telemetry line.
        let old = ServerSide {
            nodes: vec![NodeWatch::default()],
            not_collected: None,
        };
        assert_eq!(old.compare_searches(5), None);
        assert!(
            old.describe().iter().all(|l| !l.contains("/telemetry")),
            "{:?}",
            old.describe()
        );
    }

    #[test]
    fn a_report_from_before_telemetry_reads_back() {
        let old = r#"{"url": "http://h:6333", "seconds": [], "delta": null, "unreadable": null}"#;
        let n: NodeWatch = serde_json::from_str(old).unwrap();
        assert_eq!((n.telemetry, n.telemetry_unreadable), (None, None));
        let side = cluster();
        let back: ServerSide =
            serde_json::from_str(&serde_json::to_string(&side).unwrap()).unwrap();
        assert_eq!(back, side);
    }

    #[test]
    fn error_statuses_are_rest_4xx_5xx_and_grpc_not_ok() {
        for (api, s) in [
            ("rest", "400"),
            ("rest", "503"),
            ("grpc", "14"),
            ("grpc", "4"),
            ("grpc", "Unavailable"),
        ] {
            assert!(is_error_status(api, s), "{api} {s}");
        }
        for (api, s) in [
            ("rest", "200"),
            ("rest", "204"),
            ("grpc", "0"),
            ("grpc", "OK"),
            ("grpc", "?"),
            ("rest", ""),
        ] {
            assert!(!is_error_status(api, s), "{api} {s}");
        }
    }
}
