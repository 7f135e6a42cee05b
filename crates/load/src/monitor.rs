//! What a run watches besides its own requests: each server node's `/metrics`, read once a
//! second from the start of the recorded part and kept as a per-second series aligned with the
//! run's timeline, with what changed over the recorded part (requests per endpoint as the server
//! counted them, memory, vectors, page faults). Each node's `GET /telemetry` is read twice, at
//! the first tick and after the stop, for Qdrant's own per-endpoint counts and mean times over
//! the same window. A node whose metrics cannot be read is named in the report with the error,
//! never skipped in silence.
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
use qdrant_perf_report::intervals::IntervalLog;
use qdrant_perf_report::latency_histogram;
use qdrant_perf_report::server::{NodeWatch, ServerSide};
use qdrant_perf_store::remote::telemetry::{
    MetricsSnapshot, Telemetry, TelemetrySnapshot, node_delta, server_second, telemetry_delta,
};
use qdrant_perf_store::{CachedStore, Store};

use crate::host::{HostMonitor, HostSource};
use crate::live::LiveView;
use qdrant_perf_report::HostResources;
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
    /// Where each run shows its live figures (`--metrics-listen`).
    live: Option<Arc<LiveView>>,
    /// Where the server host's CPU and memory come from.
    host: Option<HostSource>,
    /// Why the server's metrics are not read (e.g. no REST address for a gRPC target).
    not_collected: Option<String>,
    /// The collections (names on the server) the per-second series sums over.
    collections: Vec<String>,
    /// The run directory's interval log, to which each run appends its seconds as they end.
    intervals: Option<IntervalLog>,
    /// Called with each second's figures as the collector harvests them (`settle` decides
    /// from them when the deployment has settled).
    observer: Option<SecondObserver>,
}

/// What [`Monitor::with_observer`] calls once a second, on the collector's thread: keep it short.
pub type SecondObserver = Arc<dyn Fn(&crate::live::LiveSecond<'_>) + Send + Sync>;

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

    /// The same monitor, each run showing its live figures in `view` (served by
    /// [`crate::live::serve`]).
    pub fn with_live(&self, view: Arc<LiveView>) -> Self {
        Self {
            live: Some(view),
            ..self.clone()
        }
    }

    /// The same monitor, reading the server host's CPU and memory from `source` over every
    /// run (check it first with [`HostMonitor::start`]: an unreachable source is an error
    /// there; during a run it is the reason the figures are absent).
    pub fn with_host(&self, source: HostSource) -> Self {
        Self {
            host: Some(source),
            ..self.clone()
        }
    }

    /// Where runs show their live figures, if anywhere.
    pub(crate) fn live(&self) -> Option<&Arc<LiveView>> {
        self.live.as_ref()
    }

    /// The same monitor, each run appending its seconds to `log` as they end (see
    /// [`qdrant_perf_report::intervals`]).
    pub fn with_intervals(&self, log: IntervalLog) -> Self {
        Self {
            intervals: Some(log),
            ..self.clone()
        }
    }

    /// The same monitor, each run calling `observe` with each second's figures (the interval
    /// histograms of latency from the intended start, errors so far) as the collector harvests
    /// them.
    pub fn with_observer(&self, observe: SecondObserver) -> Self {
        Self {
            observer: Some(observe),
            ..self.clone()
        }
    }

    pub(crate) fn observer(&self) -> Option<&SecondObserver> {
        self.observer.as_ref()
    }

    pub(crate) fn intervals(&self) -> Option<&IntervalLog> {
        self.intervals.as_ref()
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
        let (host_tx, host_rx) = oneshot::channel();
        let host = self
            .host
            .clone()
            .map(|source| tokio::spawn(watch_host(source, measure_start, host_rx)));
        Watching {
            stop: Some(tx),
            task,
            not_collected: self.not_collected.clone(),
            cache_stop: Some(cache_tx),
            cache,
            host_stop: Some(host_tx),
            host,
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
    host_stop: Option<oneshot::Sender<()>>,
    host: Option<tokio::task::JoinHandle<HostResources>>,
}

/// What a monitor saw during one run.
#[derive(Default)]
pub(crate) struct Seen {
    pub server: Option<ServerSide>,
    pub cache: Option<CacheRun>,
    pub host: Option<HostResources>,
}

impl Watching {
    /// Takes the last samples and returns what was seen of the server and of the cache
    /// (`None` for what was not watched).
    pub(crate) async fn finish(mut self) -> Seen {
        for stop in [self.cache_stop.take(), self.host_stop.take()]
            .into_iter()
            .flatten()
        {
            let _ = stop.send(());
        }
        let cache = match self.cache.take() {
            Some(task) => task.await.ok(),
            None => None,
        };
        let host =
            match self.host.take() {
                Some(task) => Some(task.await.unwrap_or_else(|e| {
                    HostResources::none(format!("the host reader failed: {e}"))
                })),
                None => None,
            };
        Seen {
            server: self.finish_server().await,
            cache,
            host,
        }
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
    // /telemetry at the first tick (read beside that tick's /metrics) and after the stop.
    let mut telemetry_first: Option<Vec<Result<TelemetrySnapshot, String>>> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop, if !stopping => stopping = true,
        }
        let t = Instant::now()
            .saturating_duration_since(measure_start)
            .as_secs_f64();
        let snapshots = if telemetry_first.is_none() {
            let (snapshots, first) =
                tokio::join!(telemetry.snapshot_each(), read_telemetry(&telemetry));
            telemetry_first = Some(first);
            snapshots
        } else {
            telemetry.snapshot_each().await
        };
        for (node, s) in nodes.iter_mut().zip(snapshots) {
            node.take(t, s.map_err(|e| e.to_string()), &collections);
        }
        if stopping {
            break;
        }
    }
    let telemetry_last = read_telemetry(&telemetry).await;
    // The loop runs at least once, so the first read is there; never zip the nodes away.
    let telemetry_first = telemetry_first.unwrap_or_else(|| {
        let missing = || Err("/telemetry was not read at the start".to_string());
        nodes.iter().map(|_| missing()).collect()
    });
    ServerSide {
        nodes: nodes
            .into_iter()
            .zip(telemetry_first.into_iter().zip(telemetry_last))
            .map(|(mut n, ends)| {
                if let (Some(first), Some(last)) = (&n.first, &n.prev) {
                    n.watch.delta = Some(node_delta(&n.watch.url, first, last));
                }
                match ends {
                    (Ok(first), Ok(last)) => {
                        n.watch.telemetry = Some(telemetry_delta(&first, &last));
                    }
                    (Err(e), _) => {
                        n.watch.telemetry_unreadable = Some(format!("at the start: {e}"));
                    }
                    (_, Err(e)) => {
                        n.watch.telemetry_unreadable = Some(format!("at the end: {e}"));
                    }
                }
                n.watch
            })
            .collect(),
        not_collected: None,
    }
}

/// Every node's `/telemetry`, each result on its own (an error as text).
async fn read_telemetry(telemetry: &Telemetry) -> Vec<Result<TelemetrySnapshot, String>> {
    telemetry
        .telemetry_each()
        .await
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
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

/// Reads the server host's figures over the recorded part: from `measure_start`, a sample a
/// second until stopped, then the figures for [start, end].
async fn watch_host(
    source: HostSource,
    measure_start: Instant,
    mut stop: oneshot::Receiver<()>,
) -> HostResources {
    let mut monitor = match HostMonitor::start(source).await {
        Ok(m) => m,
        Err(e) => return HostResources::none(e.to_string()),
    };
    tokio::time::sleep_until(measure_start.into()).await;
    let start = std::time::SystemTime::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let stopped = tokio::select! {
            _ = ticks.tick() => false,
            _ = &mut stop => true,
        };
        monitor.sample().await;
        if stopped {
            break;
        }
    }
    monitor.finish(start, std::time::SystemTime::now()).await
}
