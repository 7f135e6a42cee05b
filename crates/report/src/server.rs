//! What the deployment said about itself during a run, as data: each node's `/metrics` sampled
//! once a second ([`ServerSecond`], aligned with the run's timeline), what changed over the
//! recorded part ([`NodeDelta`]: requests per endpoint as the server counted them, memory,
//! vectors), and the nodes whose metrics could not be read, by name. The sampling is
//! qdrant-perf-load's `monitor`; the parsing is qdrant-perf-store's `remote::telemetry`.

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
        }
        lines
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
