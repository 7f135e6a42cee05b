//! What a run watches besides its own requests: each server node's `/metrics`, read once a
//! second from the start of the recorded part and kept as a per-second series aligned with the
//! run's timeline, with what changed over the recorded part (requests per endpoint as the server
//! counted them, memory, vectors, page faults). A node whose metrics cannot be read is named in
//! the report with the error, never skipped in silence.
//!
//! With a result cache in the run (`cached_search`), its statistics are reset when the recorded
//! part begins, Redis is PINGed every 100 ms through the cache's own connection (its round trip
//! per second, as `redis-cli --latency-history` shows it), and the cache's figures at the end
//! go into the run's result.
//!
//! [`driver::run_monitored`](crate::driver::run_monitored) starts a [`Monitor`] at the run's
//! measure start and finishes it when the run ends; a `Monitor` is cheap to clone and is used
//! for every run of a `validate` or a `stress` ramp.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use qdrant_perf_report::cache::{CacheMeasurements, CacheRun, RedisSecond};
use qdrant_perf_report::latency_histogram;
use qdrant_perf_report::server::{NodeWatch, ServerSide};
use qdrant_perf_store::remote::telemetry::{MetricsSnapshot, Telemetry, node_delta, server_second};
use qdrant_perf_store::{CachedStore, Store};
use tokio::sync::oneshot;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A result cache a run watches: implemented by [`CachedStore`].
pub trait CacheProbe: Send + Sync {
    /// Forgets the statistics so far (the warm-up's).
    fn reset(&self);
    /// One round trip to Redis; `None` when the cache runs without Redis.
    fn ping(&self) -> Boxed<'_, Option<Result<Duration, String>>>;
    /// The statistics and Redis's own figures now.
    fn measurements(&self) -> Boxed<'_, CacheMeasurements>;
}

impl<S: Store + 'static> CacheProbe for CachedStore<S> {
    fn reset(&self) {
        self.stats().reset();
    }
    fn ping(&self) -> Boxed<'_, Option<Result<Duration, String>>> {
        Box::pin(CachedStore::ping(self))
    }
    fn measurements(&self) -> Boxed<'_, CacheMeasurements> {
        Box::pin(CachedStore::measurements(self))
    }
}

/// What to watch during a run. `Monitor::default()` watches nothing (the embedded engine, an
/// HTTP endpoint, the no-op target).
#[derive(Clone, Default)]
pub struct Monitor {
    telemetry: Option<Arc<Telemetry>>,
    cache: Option<Arc<dyn CacheProbe>>,
    /// Why the server's metrics are not read (e.g. no REST address for a gRPC target).
    not_collected: Option<String>,
    /// The collections (names on the server) the per-second series sums over.
    collections: Vec<String>,
}

impl Monitor {
    /// Reads every node of `telemetry` once a second; series sum over `collections` (all
    /// collections when empty).
    pub fn server(telemetry: Telemetry, collections: Vec<String>) -> Self {
        Self {
            telemetry: Some(Arc::new(telemetry)),
            collections,
            ..Self::default()
        }
    }

    /// A server whose metrics cannot be read, and why: the report says so.
    pub fn not_collected(reason: impl Into<String>) -> Self {
        Self {
            not_collected: Some(reason.into()),
            ..Self::default()
        }
    }

    /// The same monitor, its per-second series summed over `collections` (names on the
    /// server).
    pub fn with_collections(&self, collections: Vec<String>) -> Self {
        Self {
            collections,
            ..self.clone()
        }
    }

    /// The same monitor, also watching the result cache `cache`.
    pub fn with_cache(&self, cache: Arc<dyn CacheProbe>) -> Self {
        Self {
            cache: Some(cache),
            ..self.clone()
        }
    }

    /// True when this monitor reports anything about a server.
    pub fn watches_a_server(&self) -> bool {
        self.telemetry.is_some() || self.not_collected.is_some()
    }

    /// Starts watching at `measure_start` (on the current tokio runtime).
    pub(crate) fn start(&self, measure_start: Instant) -> Watching {
        let (tx, rx) = oneshot::channel();
        let task = self.telemetry.as_ref().map(|t| {
            tokio::spawn(watch(
                t.clone(),
                self.collections.clone(),
                measure_start,
                rx,
            ))
        });
        let (cache_tx, cache_rx) = oneshot::channel();
        let cache = self
            .cache
            .clone()
            .map(|c| tokio::spawn(watch_cache(c, measure_start, cache_rx)));
        Watching {
            stop: Some(tx),
            task,
            not_collected: self.not_collected.clone(),
            cache_stop: Some(cache_tx),
            cache,
        }
    }
}

/// A monitor at work during one run.
pub(crate) struct Watching {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<ServerSide>>,
    not_collected: Option<String>,
    cache_stop: Option<oneshot::Sender<()>>,
    cache: Option<tokio::task::JoinHandle<CacheRun>>,
}

impl Watching {
    /// Takes the last samples and returns what was seen of the server and of the cache
    /// (`None` for what was not watched).
    pub(crate) async fn finish(mut self) -> (Option<ServerSide>, Option<CacheRun>) {
        if let Some(stop) = self.cache_stop.take() {
            let _ = stop.send(());
        }
        let cache = match self.cache.take() {
            Some(task) => task.await.ok(),
            None => None,
        };
        (self.finish_server().await, cache)
    }

    async fn finish_server(&mut self) -> Option<ServerSide> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => Some(task.await.unwrap_or_else(|e| ServerSide {
                nodes: Vec::new(),
                not_collected: Some(format!("the metrics reader failed: {e}")),
            })),
            None => self.not_collected.take().map(|reason| ServerSide {
                nodes: Vec::new(),
                not_collected: Some(reason),
            }),
        }
    }
}

/// Per node: the first snapshot, the previous one, and what has been seen.
struct NodeState {
    first: Option<MetricsSnapshot>,
    prev: Option<MetricsSnapshot>,
    watch: NodeWatch,
}

impl NodeState {
    fn take(&mut self, t: f64, snapshot: Result<MetricsSnapshot, String>, collections: &[String]) {
        match snapshot {
            Ok(cur) => {
                if let Some(prev) = &self.prev {
                    self.watch
                        .seconds
                        .push(server_second(t, prev, &cur, collections));
                }
                if self.first.is_none() {
                    self.first = Some(cur.clone());
                }
                self.prev = Some(cur);
            }
            Err(e) => {
                self.watch.failed_samples += 1;
                if self.watch.unreadable.is_none() {
                    self.watch.unreadable = Some(e);
                }
            }
        }
    }
}

async fn watch(
    telemetry: Arc<Telemetry>,
    collections: Vec<String>,
    measure_start: Instant,
    mut stop: oneshot::Receiver<()>,
) -> ServerSide {
    let mut nodes: Vec<NodeState> = telemetry
        .urls()
        .iter()
        .map(|url| NodeState {
            first: None,
            prev: None,
            watch: NodeWatch {
                url: url.clone(),
                ..NodeWatch::default()
            },
        })
        .collect();
    let mut ticks = tokio::time::interval_at(measure_start.into(), Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop, if !stopping => stopping = true,
        }
        let t = Instant::now()
            .saturating_duration_since(measure_start)
            .as_secs_f64();
        let snapshots = telemetry.snapshot_each().await;
        for (node, s) in nodes.iter_mut().zip(snapshots) {
            node.take(t, s.map_err(|e| e.to_string()), &collections);
        }
        if stopping {
            break;
        }
    }
    ServerSide {
        nodes: nodes
            .into_iter()
            .map(|mut n| {
                if let (Some(first), Some(last)) = (&n.first, &n.prev) {
                    n.watch.delta = Some(node_delta(&n.watch.url, first, last));
                }
                n.watch
            })
            .collect(),
        not_collected: None,
    }
}

/// PINGs Redis every 100 ms from `measure_start` until stopped, one [`RedisSecond`] per second;
/// then the cache's figures over the recorded part.
async fn watch_cache(
    cache: Arc<dyn CacheProbe>,
    measure_start: Instant,
    mut stop: oneshot::Receiver<()>,
) -> CacheRun {
    tokio::time::sleep_until(measure_start.into()).await;
    cache.reset();
    let mut seconds = Vec::new();
    let mut hist: Histogram<u64> = latency_histogram();
    let (mut pings, mut failed) = (0u64, 0u64);
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut second = 1u64;
    loop {
        let stopped = tokio::select! {
            _ = ticks.tick() => false,
            _ = &mut stop => true,
        };
        let t = Instant::now().saturating_duration_since(measure_start);
        if stopped || t >= Duration::from_secs(second) {
            if pings > 0 {
                let ms = |us: u64| us as f64 / 1000.0;
                let any = !hist.is_empty();
                seconds.push(RedisSecond {
                    t: t.as_secs_f64(),
                    pings,
                    failed,
                    min_ms: any.then(|| ms(hist.min())),
                    avg_ms: any.then(|| hist.mean() / 1000.0),
                    max_ms: any.then(|| ms(hist.max())),
                });
            }
            hist.reset();
            (pings, failed) = (0, 0);
            second = t.as_secs() + 1;
        }
        if stopped {
            break;
        }
        match cache.ping().await {
            Some(Ok(rtt)) => {
                pings += 1;
                hist.saturating_record((rtt.as_micros() as u64).max(1));
            }
            Some(Err(_)) => {
                pings += 1;
                failed += 1;
            }
            None => {}
        }
    }
    CacheRun {
        measurements: cache.measurements().await,
        redis_latency: seconds,
    }
}
