//! The figures of load runs as data: what was planned ([`LoadPlan`]: open or closed loop, the
//! operation mix) and what one run measured ([`RunResult`]: counts, errors by kind, latency per
//! operation, recall, the per-second timeline, resources). The driver that produces them lives
//! in qdrant-perf-load; these are its results, readable back from report.json.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::{LatencySummary, latency_histogram};

/// A load plan or operation mix that cannot run: each names the plan's field at fault (the CLI
/// names its flag) and the fix.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{what} = {value}: {fix}")]
    Invalid {
        what: &'static str,
        value: String,
        fix: String,
    },
    #[error(
        "unknown operation `{name}` in the mix; known operations: {}",
        OpKind::names()
    )]
    UnknownOp { name: String },
}

type Result<T, E = PlanError> = std::result::Result<T, E>;

fn invalid(what: &'static str, value: impl fmt::Display, fix: impl Into<String>) -> PlanError {
    PlanError::Invalid {
        what,
        value: value.to_string(),
        fix: fix.into(),
    }
}

/// The kinds of operation a run can mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Search,
    SearchBatch,
    Upsert,
    CachedSearch,
}

impl OpKind {
    pub const ALL: [OpKind; 4] = [
        OpKind::Search,
        OpKind::SearchBatch,
        OpKind::Upsert,
        OpKind::CachedSearch,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Search => "search",
            OpKind::SearchBatch => "search_batch",
            OpKind::Upsert => "upsert",
            OpKind::CachedSearch => "cached_search",
        }
    }

    pub fn names() -> String {
        Self::ALL.map(|o| o.name()).join(", ")
    }

    /// True for the operations whose latency the query-latency targets are about.
    pub fn is_query(&self) -> bool {
        matches!(self, OpKind::Search | OpKind::CachedSearch)
    }
}

impl FromStr for OpKind {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.name() == s.trim())
            .ok_or_else(|| PlanError::UnknownOp { name: s.into() })
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An operation mix: `search=90,upsert=10` (relative weights, whole numbers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mix(pub Vec<(OpKind, u32)>);

impl Default for Mix {
    fn default() -> Self {
        Mix(vec![(OpKind::Search, 100)])
    }
}

impl Mix {
    pub fn contains(&self, op: OpKind) -> bool {
        self.0.iter().any(|&(o, w)| o == op && w > 0)
    }
}

impl FromStr for Mix {
    type Err = PlanError;
    fn from_str(s: &str) -> Result<Self> {
        let mut parts = Vec::new();
        for item in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = item.split_once('=').unwrap_or((item, "1"));
            let op: OpKind = name.trim().parse()?;
            let weight: u32 = weight.trim().parse().map_err(|_| {
                invalid(
                    "mix",
                    item,
                    "each weight is a whole number >= 0 (example: search=90,upsert=10)",
                )
            })?;
            if parts.iter().any(|&(o, _)| o == op) {
                return Err(invalid(
                    "mix",
                    s,
                    format!("`{op}` appears twice; give each operation once"),
                ));
            }
            parts.push((op, weight));
        }
        if parts.iter().map(|p| p.1 as u64).sum::<u64>() == 0 {
            return Err(invalid(
                "mix",
                format!("{s:?}"),
                "the weights add up to 0; give at least one operation a weight (example: search=100)",
            ));
        }
        Ok(Mix(parts))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(o, w)| format!("{o}={w}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// Open or closed loop.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "loop")]
pub enum Mode {
    /// Requests due at a fixed rate (per second), latency from the due time.
    Open { rate: f64 },
    /// N workers back to back.
    Closed { concurrency: usize },
}

/// What to run. Every run stops by itself: give a duration, a number of requests, or both
/// (whichever comes first).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoadPlan {
    pub label: String,
    pub mode: Mode,
    #[serde(with = "opt_secs")]
    pub duration: Option<Duration>,
    /// Recorded requests (after the warm-up).
    pub requests: Option<u64>,
    #[serde(with = "secs")]
    pub warmup: Duration,
    pub mix: Mix,
    /// Open loop: requests outstanding at once before the driver refuses to send more (each
    /// refusal is counted as an error of kind `not sent: in-flight cap`).
    pub in_flight_cap: usize,
    /// After the last request is sent, how long to wait for answers still outstanding; those
    /// still missing then count as errors.
    #[serde(with = "secs")]
    pub drain_timeout: Duration,
    /// Show the live progress line on stderr.
    #[serde(skip)]
    pub progress: bool,
}

/// Durations as seconds (a number) in report.json: `#[serde(with = "...::run::secs")]`.
pub mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

/// Optional durations as seconds or null.
mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|v| Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Default cap on requests in flight in open loop: enough for a 5 s stall at 10,000 ops/s.
pub const DEFAULT_IN_FLIGHT_CAP: usize = 50_000;

impl LoadPlan {
    pub fn open(rate: f64, duration: Duration) -> Self {
        Self::new(Mode::Open { rate }, duration)
    }

    pub fn closed(concurrency: usize, duration: Duration) -> Self {
        Self::new(Mode::Closed { concurrency }, duration)
    }

    fn new(mode: Mode, duration: Duration) -> Self {
        Self {
            label: "load".into(),
            mode,
            duration: Some(duration),
            requests: None,
            warmup: Duration::ZERO,
            mix: Mix::default(),
            in_flight_cap: DEFAULT_IN_FLIGHT_CAP,
            drain_timeout: Duration::from_secs(30),
            progress: false,
        }
    }

    /// Checks the plan; errors name the plan's field (the CLI names its flag) and the fix.
    pub fn validate(&self) -> Result<()> {
        match self.mode {
            Mode::Open { rate } if !(rate.is_finite() && rate > 0.0) => {
                return Err(invalid(
                    "rate",
                    rate,
                    "the request rate must be a positive number of requests per second (example: 2000)",
                ));
            }
            Mode::Open { rate } if rate > 10_000_000.0 => {
                return Err(invalid(
                    "rate",
                    rate,
                    "at most 10,000,000 requests per second",
                ));
            }
            Mode::Closed { concurrency: 0 } => {
                return Err(invalid(
                    "concurrency",
                    0,
                    "at least one worker (example: 8)",
                ));
            }
            _ => {}
        }
        if self.duration.is_none() && self.requests.is_none() {
            return Err(invalid(
                "duration",
                "none",
                "give a duration or a number of requests so the run stops by itself",
            ));
        }
        if self.duration == Some(Duration::ZERO) {
            return Err(invalid(
                "duration",
                "0",
                "the run must last longer than 0 s (example: 10 s)",
            ));
        }
        if self.requests == Some(0) {
            return Err(invalid(
                "requests",
                0,
                "at least one request (example: 10000)",
            ));
        }
        if self.in_flight_cap == 0 {
            return Err(invalid("in-flight cap", 0, "at least 1"));
        }
        Ok(())
    }

    /// How long the recorded part lasts as planned (open loop with `requests`: requests / rate).
    pub fn planned_window(&self) -> Option<Duration> {
        let by_requests = match (self.mode, self.requests) {
            (Mode::Open { rate }, Some(n)) => Some(Duration::from_secs_f64(n as f64 / rate)),
            _ => None,
        };
        match (self.duration, by_requests) {
            (Some(d), Some(r)) => Some(d.min(r)),
            (d, r) => d.or(r),
        }
    }
}

/// Errors of one kind: how many, and the first message seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorTally {
    pub count: u64,
    pub example: String,
}

/// One node of a cluster (one URL of `QDRANT_URL`) over the recorded part of a run: what it
/// answered, what failed there, and when it was lost (could not be reached) and came back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeStat {
    /// The node's URL, as the client reaches it (`http://host:port`).
    pub url: String,
    /// Requests it answered (searches; upserts name no node).
    pub ok: u64,
    /// Requests that failed there, in all and by kind (`unreachable`, `auth`...).
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Seconds into the recorded part of its first connection failure: when it was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_at_s: Option<f64>,
    /// The second of the run (whole seconds into the recorded part) in which it answered again
    /// after its last connection failure; `None` for a node lost and not back by the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub back_at_s: Option<f64>,
}

impl NodeStat {
    /// `3 (unreachable 3)`, or `0`.
    pub fn errors_text(&self) -> String {
        if self.errors_by_kind.is_empty() {
            return self.errors.to_string();
        }
        let kinds: Vec<String> = self
            .errors_by_kind
            .iter()
            .map(|(k, c)| format!("{k} {c}"))
            .collect();
        format!("{} ({})", self.errors, kinds.join(", "))
    }

    /// `http://h:1 lost at 4.2 s, back at 9 s` or `..., not back by the end`; `None` for a node
    /// never lost.
    pub fn lost_text(&self) -> Option<String> {
        let lost = self.lost_at_s?;
        Some(match self.back_at_s {
            Some(back) => format!("{} lost at {lost:.1} s, back at {back:.0} s", self.url),
            None => format!("{} lost at {lost:.1} s, not back by the end", self.url),
        })
    }
}

/// Figures of one (collection, operation) pair.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpStats {
    pub collection: String,
    pub op: OpKind,
    /// Client latency: from the due time (open loop) or the send (closed loop) to the answer.
    pub latency_ms: LatencySummary,
    /// The server's own time for the same requests, as each response said (Qdrant's `time`,
    /// a gateway's `Server-Timing` or JSON field); `None` when no response carried one (the
    /// embedded engine, where client time is engine time, and upserts).
    #[serde(default)]
    pub server_latency_ms: Option<LatencySummary>,
    /// Per request, client latency minus the server's own time: network, gateway, client and
    /// (open loop) queueing before the send. Its percentiles are those of the differences, not
    /// differences of percentiles.
    #[serde(default)]
    pub overhead_ms: Option<LatencySummary>,
    pub ok: u64,
    pub errors: u64,
    pub throughput_ops_s: f64,
    /// 95 % interval of the throughput (batch means, see [`crate::margin`]); absent when the
    /// run was too short for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_ci: Option<crate::margin::Ci>,
    /// Recall@k of the sampled searches against exact ground truth.
    pub recall_at_10: Option<RecallStat>,
    /// Not in report.json (the interval logs hold the histograms): empty when read back.
    #[serde(skip, default = "latency_histogram")]
    pub histogram: Histogram<u64>,
    /// The server times' histogram (µs); not in report.json.
    #[serde(skip, default = "latency_histogram")]
    pub server_histogram: Histogram<u64>,
    /// The overheads' histogram (µs); not in report.json.
    #[serde(skip, default = "latency_histogram")]
    pub overhead_histogram: Histogram<u64>,
}

/// A mean recall with the number of searches it averages.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecallStat {
    pub value: f64,
    pub samples: u64,
}

/// One second of a run (by completion time).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the recorded part began, at the end of this interval.
    pub t: f64,
    pub ok: u64,
    pub errors: u64,
    pub ops_s: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub cpu_pct: Option<f64>,
    pub rss_mb: Option<f64>,
}

/// Everything one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    pub label: String,
    pub plan: LoadPlan,
    pub requested_rate: Option<f64>,
    pub concurrency: Option<usize>,
    /// True when the run was stopped early (Ctrl-C); its figures cover what was measured.
    pub partial: bool,
    /// Seconds from the first recorded request's due time (or start) to the last completion.
    pub elapsed_s: f64,
    /// Requests sent in the recorded part.
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub errors_by_kind: BTreeMap<String, ErrorTally>,
    /// Per server node, for targets that name the node of each answer (a Qdrant server or
    /// cluster): answers, errors by kind, and when a node was lost. Empty otherwise (and in a
    /// report.json from before it existed).
    #[serde(default)]
    pub nodes: Vec<NodeStat>,
    /// Completed requests per second: ok / elapsed.
    pub throughput_ops_s: f64,
    /// 95 % interval of the throughput (see [`crate::margin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_ci: Option<crate::margin::Ci>,
    /// Open loop: whether the achieved throughput is within 1 % of the requested rate.
    pub rate_achieved: Option<bool>,
    /// All query operations together (search, cached search).
    pub latency_ms: LatencySummary,
    /// The server's own time of those queries, where the responses said (see [`OpStats`]).
    #[serde(default)]
    pub server_latency_ms: Option<LatencySummary>,
    /// Client minus server time of those queries, per request (see [`OpStats`]).
    #[serde(default)]
    pub overhead_ms: Option<LatencySummary>,
    pub operations: Vec<OpStats>,
    pub recall_at_10: Option<RecallStat>,
    /// Open loop: how late the scheduler sent requests after their due time.
    pub send_lag_ms: Option<LatencySummary>,
    pub max_in_flight: usize,
    /// Open loop: requests not sent because the in-flight cap was reached.
    pub in_flight_cap_hits: u64,
    pub timeline: Vec<Second>,
    pub resources: Resources,
    /// What the server's nodes said during the run (their `/metrics` once a second); `None`
    /// for targets without a server (the embedded engine, an HTTP endpoint, no-op).
    #[serde(default)]
    pub server: Option<crate::server::ServerSide>,
    /// The server host's CPU and memory over the recorded part, from the deployment's
    /// monitoring (`--prometheus`, `--node-exporter`) or `/proc` for a server on this machine.
    #[serde(default)]
    pub host: Option<crate::host::HostResources>,
    /// What the result cache did (runs with `cached_search` in the mix).
    #[serde(default)]
    pub cache: Option<crate::cache::CacheRun>,
    /// The HdrHistogram interval log of the run (one interval per second per operation).
    #[serde(skip)]
    pub interval_log: Vec<u8>,
}

/// Errors as a fraction of all requests answered (0 when there were none).
pub fn error_rate(ok: u64, errors: u64) -> f64 {
    if ok + errors > 0 {
        errors as f64 / (ok + errors) as f64
    } else {
        0.0
    }
}

/// For an open-loop run, whether the achieved throughput is within 1 % of the requested rate.
pub fn rate_achieved(requested_rate: Option<f64>, throughput_ops_s: f64) -> Option<bool> {
    requested_rate.map(|rate| (throughput_ops_s - rate).abs() <= rate * 0.01)
}

impl RunResult {
    /// The nodes lost during the run (see [`NodeStat::lost_at_s`]).
    pub fn lost_nodes(&self) -> impl Iterator<Item = &NodeStat> {
        self.nodes.iter().filter(|n| n.lost_at_s.is_some())
    }

    /// Whether the per-node figures are worth showing: for a cluster (several nodes), or when
    /// a node was lost.
    pub fn shows_nodes(&self) -> bool {
        self.nodes.len() > 1 || self.lost_nodes().next().is_some()
    }

    /// Requests the client sent to the server's search endpoints in the recorded part: ok +
    /// errors of the `search` and `search_batch` operations (one request each; `cached_search`
    /// is left out, its cache hits never reach the server, and upserts are not searches).
    pub fn client_search_requests(&self) -> u64 {
        self.operations
            .iter()
            .filter(|o| matches!(o.op, OpKind::Search | OpKind::SearchBatch))
            .map(|o| o.ok + o.errors)
            .sum()
    }

    /// The server's `/telemetry` count of search requests beside the client's (see
    /// [`crate::server::ServerSide::compare_searches`]); `None` when the run read no node's
    /// /telemetry.
    pub fn telemetry_comparison(&self) -> Option<String> {
        let mut line = self
            .server
            .as_ref()?
            .compare_searches(self.client_search_requests())?;
        if self.operations.iter().any(|o| o.op == OpKind::CachedSearch) {
            line.push_str(
                "; the client's cached_search requests are not counted (the server sees only the cache's misses)",
            );
        }
        Some(line)
    }

    /// The merged histogram of the query operations.
    pub fn query_histogram(&self) -> Histogram<u64> {
        merged(self.operations.iter().filter(|o| o.op.is_query()))
    }

    /// Figures of one collection's queries. With one query operation on the collection these
    /// are its own figures (so a report read back from JSON, without histograms, gives them
    /// too); with several, their histograms merged.
    pub fn collection_latency(&self, collection: &str) -> LatencySummary {
        let ops: Vec<&OpStats> = self
            .operations
            .iter()
            .filter(|o| o.op.is_query() && o.collection == collection)
            .collect();
        if let [one] = ops.as_slice() {
            return one.latency_ms.clone();
        }
        LatencySummary::from_histogram(&merged(ops))
    }
}

/// The histograms of `ops` summed.
fn merged<'a>(ops: impl IntoIterator<Item = &'a OpStats>) -> Histogram<u64> {
    let mut h = latency_histogram();
    for o in ops {
        h.add(&o.histogram).expect("same bounds");
    }
    h
}

/// CPU and memory of the measuring process over a run (see qdrant-perf-load's `resources`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Whose figures these are: "this process (the embedded engine and the driver)" or
    /// "this process (the client only)".
    pub scope: String,
    /// Mean CPU use over the run, in percent of the whole machine (all cores).
    pub cpu_pct_mean: Option<f64>,
    /// Highest one-second CPU use, in percent of the whole machine.
    pub cpu_pct_max: Option<f64>,
    /// Highest resident set size seen.
    pub rss_bytes_max: Option<u64>,
    /// Resident set size at the first and at the last one-second sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes_first: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes_last: Option<u64>,
    /// How fast the resident set grew, in MB (2^20 bytes) a minute: the least-squares slope of
    /// the one-second samples after the first minute (all of them in a run shorter than three
    /// minutes; none in one shorter than 10 s). A soak that does not leak is near 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_growth_mb_per_min: Option<f64>,
    /// The machine's memory (MemTotal).
    pub memory_total_bytes: Option<u64>,
    /// rss_bytes_max in percent of memory_total_bytes.
    pub memory_pct_max: Option<f64>,
    pub cores: usize,
    /// One-second samples taken.
    pub samples: u64,
    /// The machine's 1-minute load average at the end of the run: above `cores`, other
    /// processes competed for the CPU and the figures above are a share of a busy machine.
    pub load_average_1m: Option<f64>,
    /// Server-side CPU/memory: "not collected" until server telemetry is read.
    pub server: String,
}

/// The least-squares slope of `(seconds, bytes)` samples, in MB a minute, by the rule of
/// [`Resources::rss_growth_mb_per_min`]: `None` below 10 s of samples.
pub fn rss_growth_mb_per_min(samples: &[(f64, u64)]) -> Option<f64> {
    let span = samples.last()?.0 - samples.first()?.0;
    if span < 10.0 {
        return None;
    }
    let start = samples[0].0 + if span >= 180.0 { 60.0 } else { 0.0 };
    let kept: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(t, _)| *t >= start)
        .map(|&(t, b)| (t, b as f64 / 1048576.0))
        .collect();
    let n = kept.len() as f64;
    let (mt, mb) = (
        kept.iter().map(|p| p.0).sum::<f64>() / n,
        kept.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let var: f64 = kept.iter().map(|p| (p.0 - mt).powi(2)).sum();
    let cov: f64 = kept.iter().map(|p| (p.0 - mt) * (p.1 - mb)).sum();
    (var > 0.0).then(|| cov / var * 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_growth_is_the_slope_after_the_first_minute_of_a_long_run() {
        const MB: u64 = 1 << 20;
        // Flat at 80 MB for 10 minutes: no growth.
        let flat: Vec<(f64, u64)> = (0..600).map(|t| (t as f64, 80 * MB)).collect();
        assert_eq!(rss_growth_mb_per_min(&flat), Some(0.0));
        // 1 MB a second is 60 MB a minute.
        let ramp: Vec<(f64, u64)> = (0..120).map(|t| (t as f64, (100 + t) * MB)).collect();
        let g = rss_growth_mb_per_min(&ramp).unwrap();
        assert!((g - 60.0).abs() < 1e-9, "{g}");
        // A warm-up jump in the first minute of a 5-minute run is left out.
        let warm: Vec<(f64, u64)> = (0..300)
            .map(|t| (t as f64, if t < 30 { 50 * MB } else { 90 * MB }))
            .collect();
        assert_eq!(rss_growth_mb_per_min(&warm), Some(0.0));
        // Under 10 s of samples: nothing to say.
        let short: Vec<(f64, u64)> = (0..5).map(|t| (t as f64, t * MB)).collect();
        assert_eq!(rss_growth_mb_per_min(&short), None);
        assert_eq!(rss_growth_mb_per_min(&[]), None);
    }

    #[test]
    fn mixes_parse_and_unknown_operations_are_named() {
        let m: Mix = "search=90, upsert=10".parse().unwrap();
        assert_eq!(m.0, vec![(OpKind::Search, 90), (OpKind::Upsert, 10)]);
        let err = "search=90,delete=10"
            .parse::<Mix>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown operation `delete`"), "{err}");
        assert!(
            err.contains("search, search_batch, upsert, cached_search"),
            "{err}"
        );
        let err = "search=lots".parse::<Mix>().unwrap_err().to_string();
        assert!(err.contains("whole number"), "{err}");
        let err = "search=0".parse::<Mix>().unwrap_err().to_string();
        assert!(err.contains("add up to 0"), "{err}");
        let err = "search=1,search=2".parse::<Mix>().unwrap_err().to_string();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn zero_and_negative_rates_and_durations_are_refused_naming_the_field() {
        for rate in [0.0, -5.0, f64::NAN] {
            let err = LoadPlan::open(rate, Duration::from_secs(1))
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("rate = "), "{err}");
        }
        let err = LoadPlan::open(10.0, Duration::ZERO)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("duration = 0"), "{err}");
        let err = LoadPlan::closed(0, Duration::from_secs(1))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("concurrency = 0"), "{err}");
        let mut p = LoadPlan::open(10.0, Duration::from_secs(1));
        p.duration = None;
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("number of requests")
        );
    }

    #[test]
    fn a_plan_round_trips_through_json_with_durations_in_seconds() {
        let mut p = LoadPlan::closed(4, Duration::from_millis(2500));
        p.warmup = Duration::from_millis(500);
        p.mix = "search=3,upsert=1".parse().unwrap();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["duration"], 2.5);
        assert_eq!(json["warmup"], 0.5);
        assert_eq!(json["mode"]["loop"], "closed");
        let back: LoadPlan = serde_json::from_value(json).unwrap();
        assert_eq!(back.mode, Mode::Closed { concurrency: 4 });
        assert_eq!(back.duration, Some(Duration::from_millis(2500)));
        assert_eq!(back.warmup, Duration::from_millis(500));
        assert_eq!(back.mix, p.mix);
        let bad = serde_json::json!({"label": "x", "mode": {"loop": "open", "rate": 1.0},
            "duration": -1.0, "requests": null, "warmup": 0.0, "mix": [["search", 1]],
            "in_flight_cap": 1, "drain_timeout": 1.0});
        assert!(serde_json::from_value::<LoadPlan>(bad).is_err());
    }
}
