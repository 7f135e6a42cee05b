//! What the cache did: hits by tier, misses, errors by kind, latencies and entry sizes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Where a request's result came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheOutcome {
    /// The in-process tier.
    HitL1,
    /// Redis.
    HitL2,
    /// Neither: the store answered and the result was written to the cache.
    Miss,
}

/// Kinds of cache failure. None of them fails a search: the store answers instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No answer within the cache's timeout.
    Timeout,
    /// Connection refused, reset or closed (Redis down or restarting).
    Connection,
    /// Redis refused the credentials.
    Auth,
    /// Redis answered with an error (out of memory, read-only replica, ...).
    Server,
    /// Anything else.
    Other,
}

/// A latency distribution (in milliseconds, with its sample size): the suite's one summary.
pub use qdrant_perf_report::LatencySummary;
/// What a cache did, as data: in the results crate, so reports read it back.
pub use qdrant_perf_report::cache::{CacheStatsSnapshot, ErrorCounts};

/// The latency histograms of a cache, in microseconds (1 us to 60 s, 3 significant digits), for
/// callers that merge or export them.
#[derive(Clone, Debug)]
pub struct CacheHistograms {
    /// The cache lookup of every request (L1, then Redis when L1 missed): "cache latency".
    pub lookup: Histogram<u64>,
    /// Whole requests answered by the in-process tier.
    pub hit_l1: Histogram<u64>,
    /// Whole requests answered by Redis.
    pub hit_l2: Histogram<u64>,
    /// Whole requests the store answered: lookup + search + write.
    pub miss: Histogram<u64>,
    /// Writes to Redis.
    pub write: Histogram<u64>,
}

impl CacheHistograms {
    fn new() -> Self {
        let h = || Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
        Self {
            lookup: h(),
            hit_l1: h(),
            hit_l2: h(),
            miss: h(),
            write: h(),
        }
    }
}

/// Counters and histograms a [`crate::CachedStore`] records into (shared by all its callers).
pub struct CacheStats {
    hits_l1: AtomicU64,
    hits_l2: AtomicU64,
    misses: AtomicU64,
    foreign_values: AtomicU64,
    writes: AtomicU64,
    entry_bytes: AtomicU64,
    errors: [AtomicU64; 5],
    histograms: Mutex<CacheHistograms>,
}

fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, 60_000_000)
}

impl Default for CacheStats {
    fn default() -> Self {
        Self {
            hits_l1: AtomicU64::new(0),
            hits_l2: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            foreign_values: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            entry_bytes: AtomicU64::new(0),
            errors: Default::default(),
            histograms: Mutex::new(CacheHistograms::new()),
        }
    }
}

impl CacheStats {
    pub(crate) fn lookup(&self, took: Duration) {
        let mut h = self.histograms.lock().expect("stats lock");
        let _ = h.lookup.record(us(took));
    }

    pub(crate) fn request(&self, outcome: CacheOutcome, took: Duration) {
        let counter = match outcome {
            CacheOutcome::HitL1 => &self.hits_l1,
            CacheOutcome::HitL2 => &self.hits_l2,
            CacheOutcome::Miss => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut h = self.histograms.lock().expect("stats lock");
        let h = match outcome {
            CacheOutcome::HitL1 => &mut h.hit_l1,
            CacheOutcome::HitL2 => &mut h.hit_l2,
            CacheOutcome::Miss => &mut h.miss,
        };
        let _ = h.record(us(took));
    }

    pub(crate) fn write(&self, key_and_value_bytes: usize, took: Duration) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.entry_bytes
            .fetch_add(key_and_value_bytes as u64, Ordering::Relaxed);
        let _ = self
            .histograms
            .lock()
            .expect("stats lock")
            .write
            .record(us(took));
    }

    pub(crate) fn foreign(&self) {
        self.foreign_values.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn error(&self, kind: ErrorKind) {
        let i = match kind {
            ErrorKind::Timeout => 0,
            ErrorKind::Connection => 1,
            ErrorKind::Auth => 2,
            ErrorKind::Server => 3,
            ErrorKind::Other => 4,
        };
        self.errors[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of the histograms.
    pub fn histograms(&self) -> CacheHistograms {
        self.histograms.lock().expect("stats lock").clone()
    }

    /// Forgets everything recorded so far (e.g. after a warm-up).
    pub fn reset(&self) {
        for c in [
            &self.hits_l1,
            &self.hits_l2,
            &self.misses,
            &self.foreign_values,
            &self.writes,
            &self.entry_bytes,
        ]
        .into_iter()
        .chain(self.errors.iter())
        {
            c.store(0, Ordering::Relaxed);
        }
        *self.histograms.lock().expect("stats lock") = CacheHistograms::new();
    }

    pub fn snapshot(&self) -> CacheStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (hits_l1, hits_l2, misses) =
            (get(&self.hits_l1), get(&self.hits_l2), get(&self.misses));
        let requests = hits_l1 + hits_l2 + misses;
        let writes = get(&self.writes);
        let h = self.histograms.lock().expect("stats lock");
        CacheStatsSnapshot {
            requests,
            hits_l1,
            hits_l2,
            misses,
            hit_rate: if requests == 0 {
                0.0
            } else {
                (hits_l1 + hits_l2) as f64 / requests as f64
            },
            foreign_values: get(&self.foreign_values),
            errors: ErrorCounts {
                timeout: get(&self.errors[0]),
                connection: get(&self.errors[1]),
                auth: get(&self.errors[2]),
                server: get(&self.errors[3]),
                other: get(&self.errors[4]),
            },
            writes,
            bytes_per_entry: (writes > 0).then(|| get(&self.entry_bytes) as f64 / writes as f64),
            lookup: LatencySummary::from_histogram(&h.lookup),
            hit_l1: LatencySummary::from_histogram(&h.hit_l1),
            hit_l2: LatencySummary::from_histogram(&h.hit_l2),
            miss: LatencySummary::from_histogram(&h.miss),
            write: LatencySummary::from_histogram(&h.write),
        }
    }
}
