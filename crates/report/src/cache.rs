//! What the result cache did during a run, as data (serde both ways): hits by tier, misses,
//! errors by kind, latencies, entry sizes, and Redis's own memory figures. The cache itself is
//! qdrant-perf-store's `cache` (Redis cache-aside with an in-process tier).

use serde::{Deserialize, Serialize};

use crate::LatencySummary;

/// Cache errors by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    pub timeout: u64,
    pub connection: u64,
    pub auth: u64,
    pub server: u64,
    pub other: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.timeout + self.connection + self.auth + self.server + self.other
    }
}

/// What the cache did so far, as data (JSON via serde).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStatsSnapshot {
    /// Searches through the cache (each query of a batch counts once).
    pub requests: u64,
    pub hits_l1: u64,
    pub hits_l2: u64,
    /// Requests the store answered (including those where the cache failed).
    pub misses: u64,
    /// (hits_l1 + hits_l2) / requests.
    pub hit_rate: f64,
    /// Values under our keys that were not ours (counted as misses and overwritten).
    pub foreign_values: u64,
    pub errors: ErrorCounts,
    /// Results written to Redis.
    pub writes: u64,
    /// Mean bytes of key + value per written entry (Redis adds its own per-key overhead, about
    /// 50-100 bytes; `used_memory` in [`CacheMeasurements`] shows the real total).
    pub bytes_per_entry: Option<f64>,
    /// Cache latency: the lookup of every request (L1, then Redis when L1 missed).
    pub lookup: LatencySummary,
    /// Whole requests answered from each tier, and by the store.
    pub hit_l1: LatencySummary,
    pub hit_l2: LatencySummary,
    pub miss: LatencySummary,
    pub write: LatencySummary,
}

/// Everything the load and validate commands report about the cache, as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheMeasurements {
    /// `REDIS_URL` with credentials redacted.
    pub url: String,
    /// False when Redis was unreachable at start in optional mode (the run was uncached).
    pub enabled: bool,
    pub ttl_seconds: u64,
    /// Room of the in-process tier (0: off).
    pub l1_bytes: u64,
    pub stats: CacheStatsSnapshot,
    /// Redis's own figures (`INFO memory`, `INFO stats`), when it answered.
    pub redis: Option<RedisMemory>,
}

/// Redis's memory figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisMemory {
    /// Bytes Redis has allocated for data and overhead (`used_memory`).
    pub used_memory: u64,
    pub used_memory_peak: u64,
    /// The configured limit (0: none).
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    /// Keys Redis evicted to stay under maxmemory: a full cache loses hits.
    pub evicted_keys: u64,
    /// Keys in the selected database (all of them, not only the suite's).
    pub keys: u64,
}

/// One second of Redis's round trip as the client saw it: PINGs sent through the cache's
/// connection every 100 ms (as `redis-cli --latency-history` does), beside the run's timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisSecond {
    /// Seconds since the recorded part of the run began.
    pub t: f64,
    pub pings: u64,
    /// PINGs that failed (Redis down, timed out).
    pub failed: u64,
    pub min_ms: Option<f64>,
    pub avg_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

/// What the cache did during the recorded part of a run (`cached_search` in the mix).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheRun {
    /// Statistics over the recorded part (reset when it began) and Redis's memory at the end.
    pub measurements: CacheMeasurements,
    /// Redis's round trip, once a second.
    pub redis_latency: Vec<RedisSecond>,
}

impl CacheRun {
    /// One line for the terminal and the summary: hit rate, cache latency, errors by kind,
    /// Redis's round trip.
    pub fn describe(&self) -> String {
        let s = &self.measurements.stats;
        let e = &s.errors;
        let pings: Vec<&RedisSecond> = self.redis_latency.iter().filter(|r| r.pings > 0).collect();
        let answered: u64 = pings.iter().map(|r| r.pings - r.failed).sum();
        let failed: u64 = self.redis_latency.iter().map(|r| r.failed).sum();
        let max = pings
            .iter()
            .filter_map(|r| r.max_ms)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let avg = (answered > 0).then(|| {
            pings
                .iter()
                .filter_map(|r| Some(r.avg_ms? * (r.pings - r.failed) as f64))
                .sum::<f64>()
                / answered as f64
        });
        format!(
            "cache {}{}: hit rate {:.1} % of {} lookups (L1 {}, Redis {}, misses {}); cache latency {}; cache errors {} (timeout {}, connection {}, auth {}, server {}, other {}); Redis PING avg {} ms, max {} ms over {} answered, {} failed",
            self.measurements.url,
            if self.measurements.enabled {
                ""
            } else {
                " (NOT USED: unreachable at start)"
            },
            s.hit_rate * 100.0,
            s.requests,
            s.hits_l1,
            s.hits_l2,
            s.misses,
            s.lookup.describe(),
            e.total(),
            e.timeout,
            e.connection,
            e.auth,
            e.server,
            e.other,
            avg.map_or("-".into(), |v| format!("{v:.3}")),
            max.map_or("-".into(), |v| format!("{v:.3}")),
            answered,
            failed
        )
    }
}
