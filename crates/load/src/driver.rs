//! The load driver: runs a [`Target`] under an open-loop or closed-loop [`LoadPlan`] and returns a
//! [`RunResult`] of HdrHistograms, counts, errors, a per-second timeline and resources.
//!
//! - **Open loop** (`Mode::Open { rate }`): request `i` is due at `t0 + i / rate`; a scheduler
//!   thread spawns it as its own task when due, and its latency is measured **from the due time**,
//!   so a stalled target shows in the percentiles instead of slowing the sender (no coordinated
//!   omission). Nothing but an in-flight cap (large; hitting it is counted and reported) bounds
//!   how many requests are outstanding. How late the scheduler sent each request is recorded too
//!   (`send_lag`), so a driver that cannot keep up says so.
//! - **Closed loop** (`Mode::Closed { concurrency }`): N workers, each sending its next request
//!   when the previous one answered. Latency is from the actual send, as closed-loop tools do.
//!
//! Requests due during the warm-up run but are not recorded. Latencies go into one histogram per
//! (collection, operation) in per-thread shards (an uncontended lock and an array increment:
//! well under a microsecond), which a collector thread harvests once a second into the interval
//! log, the totals and the timeline, and shows as a live progress line on stderr.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder, Tag};
use serde::Serialize;

pub use qdrant_perf_report::run::{
    DEFAULT_IN_FLIGHT_CAP, ErrorTally, LoadPlan, Mix, Mode, NodeStat, OpKind, OpStats, PlanError,
    RecallStat, RunResult, Second,
};

use crate::live::{LiveMetrics, LiveSecond};
use crate::lock;
use crate::monitor::Monitor;
use crate::resources::{ProcessSampler, Resources};
use qdrant_perf_report::intervals::{
    IntervalLog, Line as IntervalLine, RunStart, SlotSecond, TimelineSecond, encode_histogram,
    unix_seconds,
};
use qdrant_perf_report::margin::{Batches, Margins};
use qdrant_perf_report::{LatencySummary, latency_histogram};

/// Errors in a load plan, a target or the setup of a run: each names the input at fault and the
/// fix, and keeps the error that caused it as its `source` (shown under `{e:#}`).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{what} = {value}: {fix}")]
    Invalid {
        what: &'static str,
        value: String,
        fix: String,
    },
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The store (the embedded engine or a Qdrant server) failed outside a measured request.
    #[error(transparent)]
    Store(#[from] qdrant_perf_store::StoreError),
    /// Putting a collection in place failed (create, upload or indexing).
    #[error("setting up collection {collection}")]
    Setup {
        collection: String,
        #[source]
        source: qdrant_perf_store::StoreError,
    },
    /// A dataset could not be generated or read.
    #[error("the dataset of {collection}")]
    Dataset {
        collection: String,
        #[source]
        source: qdrant_perf_data::DataError,
    },
    #[error(transparent)]
    Data(#[from] qdrant_perf_data::DataError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The result cache could not be set up.
    #[error(transparent)]
    Cache(#[from] qdrant_perf_store::CacheError),
    #[error("no collections selected; select at least one of the config's collections")]
    NoCollections,
    /// An HTTP endpoint did not answer the request sent before the run.
    #[error(
        "cannot reach {url} (checked with one request before the run); is the server running \
         and the URL right?"
    )]
    Unreachable {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An HTTP endpoint answered the request sent before the run with an error status.
    #[error(
        "{url} answered the first request with HTTP {status}: {body}; check the URL and the body template"
    )]
    Rejected {
        url: String,
        status: u16,
        body: String,
    },
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// A thread or task of the driver could not start or failed.
    #[error("the driver's {what} failed")]
    Driver {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LoadError {
    /// Putting `collection` in place failed with `source`.
    pub(crate) fn setup(collection: &str, source: qdrant_perf_store::StoreError) -> Self {
        LoadError::Setup {
            collection: collection.into(),
            source,
        }
    }

    fn driver(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        LoadError::Driver {
            what,
            source: source.into(),
        }
    }
}

pub type Result<T, E = LoadError> = std::result::Result<T, E>;

/// The run cannot start: `what` is `value`; `fix` says what to give instead.
pub(crate) fn invalid(
    what: &'static str,
    value: impl fmt::Display,
    fix: impl Into<String>,
) -> LoadError {
    LoadError::Invalid {
        what,
        value: value.to_string(),
        fix: fix.into(),
    }
}

/// One request the driver asks a target to make.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// Index into the target's collections.
    pub collection: usize,
    pub op: OpKind,
    /// The request's number in the run (0-based, warm-up included).
    pub seq: u64,
}

/// What a successful request returned, as far as the driver cares.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Result ids of held-out query `.0`, for recall against ground truth.
    pub hits: Option<(usize, Vec<u64>)>,
    /// The server's own time for the request, when the response said (Qdrant's `time`, a
    /// gateway's `Server-Timing`): recorded beside the client latency.
    pub server: Option<Duration>,
    /// The server node that answered (its URL), for the run's per-node figures.
    pub node: Option<Arc<str>>,
}

impl Outcome {
    /// Done, with nothing to check.
    pub const DONE: Outcome = Outcome {
        hits: None,
        server: None,
        node: None,
    };

    /// The result ids of held-out query `query`.
    pub fn hits(query: usize, ids: Vec<u64>) -> Self {
        Self {
            hits: Some((query, ids)),
            ..Self::DONE
        }
    }

    /// Answered by the server node at `url` (`None`: no node to name).
    pub fn from_node(mut self, url: Option<Arc<str>>) -> Self {
        self.node = url;
        self
    }

    /// The server's time from a response's seconds (`None`, negative or not finite: none).
    pub fn with_server_seconds(mut self, seconds: Option<f64>) -> Self {
        self.server = seconds
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        self
    }
}

/// A failed request: `kind` groups errors in the report, `message` is one example.
#[derive(Debug, Clone)]
pub struct OpError {
    pub kind: Cow<'static, str>,
    pub message: String,
    /// The server node it failed at (its URL), when the error names one.
    pub node: Option<Arc<str>>,
    /// True when the node could not be reached at all (refused, reset, timed out): the node is
    /// then counted as lost from this request's second (see [`NodeStat::lost_at_s`]).
    pub node_lost: bool,
}

impl OpError {
    pub fn new(kind: impl Into<Cow<'static, str>>, message: impl fmt::Display) -> Self {
        Self {
            kind: kind.into(),
            message: message.to_string(),
            node: None,
            node_lost: false,
        }
    }

    /// Failed at the server node `url`; `lost`: because the node could not be reached.
    pub fn at_node(mut self, url: impl Into<Arc<str>>, lost: bool) -> Self {
        self.node = Some(url.into());
        self.node_lost = lost;
        self
    }
}

/// One collection a target serves, with the weight (its queries per second) it gets in a run.
#[derive(Clone, Debug, Serialize)]
pub struct TargetCollection {
    pub name: String,
    pub qps: f64,
}

/// What a load run drives: the embedded engine or a Qdrant server through a store, an HTTP
/// endpoint, or nothing at all (to measure the driver).
pub trait Target: Send + Sync + 'static {
    /// The collections requests are spread over, with their weights.
    fn collections(&self) -> Vec<TargetCollection>;

    /// Operations this target can run.
    fn supports(&self, op: OpKind) -> bool {
        op == OpKind::Search
    }

    fn call(&self, call: Call) -> impl Future<Output = Result<Outcome, OpError>> + Send;

    /// Recall@k of the ids a sampled search returned, against exact ground truth.
    fn recall(&self, _collection: usize, _query: usize, _ids: &[u64]) -> Option<f64> {
        None
    }

    /// True when a request does its work inside its first poll (the embedded engine searches
    /// there): the open-loop scheduler then starts each request due at once as a task of its
    /// own, so they run on all the runtime's workers, instead of polling them one after another
    /// in one task (right for targets whose first poll only sends a request).
    fn works_in_poll(&self) -> bool {
        false
    }
}

/// Set it to end a run early (Ctrl-C); the result is then marked partial.
#[derive(Clone, Debug, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// The flag itself, for code that takes a plain `&AtomicBool` (the sweep and scale runs).
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

/// A (collection, operation) pair with its share of the requests.
#[derive(Clone, Debug)]
struct Slot {
    collection: usize,
    collection_name: String,
    op: OpKind,
    weight: f64,
}

impl Slot {
    fn tag(&self) -> String {
        format!("{}/{}", self.op.name(), self.collection_name)
    }
}

/// The deterministic interleaving of slots: slot `table[i % len]` serves request `i`, each slot
/// in proportion to its weight (smooth weighted round robin).
fn routing_table(slots: &[Slot]) -> Vec<u16> {
    let total: f64 = slots.iter().map(|s| s.weight).sum();
    let len = 1000usize;
    let mut current = vec![0.0f64; slots.len()];
    let mut table = Vec::with_capacity(len);
    for _ in 0..len {
        for (c, s) in current.iter_mut().zip(slots) {
            *c += s.weight;
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("at least one slot");
        current[best] -= total;
        table.push(best as u16);
    }
    table
}

struct Shard {
    hists: Vec<Histogram<u64>>,
    /// The server's own time of the same requests, and client minus server, per slot.
    server_hists: Vec<Histogram<u64>>,
    overhead_hists: Vec<Histogram<u64>>,
    dirty: Vec<bool>,
    errors: Vec<u64>,
    /// Per slot: errors by kind.
    error_kinds: Vec<BTreeMap<String, ErrorTally>>,
    recall_sum: Vec<f64>,
    recall_n: Vec<u64>,
    nodes: BTreeMap<Arc<str>, NodeTally>,
}

/// One node's figures in one shard.
#[derive(Default)]
struct NodeTally {
    ok: u64,
    errors: u64,
    kinds: BTreeMap<String, u64>,
    /// Nanoseconds into the recorded part of the first and the last connection failure.
    first_lost_ns: Option<u64>,
    last_lost_ns: Option<u64>,
    /// Answers per second of the recorded part (by completion), to find when it came back.
    ok_by_second: Vec<u32>,
}

/// Per-thread shards of histograms: a task locks the shard of the thread it runs on, which is
/// uncontended but for the collector's once-a-second harvest. Public so `benches/driver.rs` can
/// measure what recording one latency costs.
pub struct Recorder {
    shards: Vec<Mutex<Shard>>,
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static SHARD_ID: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed);
}

impl Recorder {
    /// A recorder with one histogram per slot in each shard.
    pub fn new(slots: usize) -> Self {
        let n = std::thread::available_parallelism().map_or(4, |n| n.get()) * 2 + 2;
        Self {
            shards: (0..n)
                .map(|_| {
                    Mutex::new(Shard {
                        hists: (0..slots).map(|_| latency_histogram()).collect(),
                        server_hists: (0..slots).map(|_| latency_histogram()).collect(),
                        overhead_hists: (0..slots).map(|_| latency_histogram()).collect(),
                        dirty: vec![false; slots],
                        errors: vec![0; slots],
                        error_kinds: (0..slots).map(|_| BTreeMap::new()).collect(),
                        recall_sum: vec![0.0; slots],
                        recall_n: vec![0; slots],
                        nodes: BTreeMap::new(),
                    })
                })
                .collect(),
        }
    }

    fn shard(&self) -> std::sync::MutexGuard<'_, Shard> {
        let id = SHARD_ID.with(|id| *id);
        lock(&self.shards[id % self.shards.len()])
    }

    /// Records one successful request of `slot`: its client latency and, when the response
    /// said, the server's own time (and so the difference).
    pub fn record_ok(
        &self,
        slot: usize,
        latency: Duration,
        server: Option<Duration>,
        recall: Option<f64>,
    ) {
        self.record_ok_at(slot, latency, server, recall, None);
    }

    /// [`record_ok`](Self::record_ok), answered by `node` at `at_ns` into the recorded part.
    fn record_ok_at(
        &self,
        slot: usize,
        latency: Duration,
        server: Option<Duration>,
        recall: Option<f64>,
        node: Option<(&Arc<str>, u64)>,
    ) {
        let us = (latency.as_nanos() / 1000) as u64;
        let mut s = self.shard();
        if let Some((url, at_ns)) = node {
            let n = node_tally(&mut s.nodes, url);
            n.ok += 1;
            let second = (at_ns / 1_000_000_000) as usize;
            if n.ok_by_second.len() <= second {
                n.ok_by_second.resize(second + 1, 0);
            }
            n.ok_by_second[second] += 1;
        }
        s.hists[slot].saturating_record(us.max(1));
        if let Some(server) = server {
            let server_us = (server.as_nanos() / 1000) as u64;
            s.server_hists[slot].saturating_record(server_us.max(1));
            s.overhead_hists[slot].saturating_record(us.saturating_sub(server_us).max(1));
        }
        s.dirty[slot] = true;
        if let Some(r) = recall {
            s.recall_sum[slot] += r;
            s.recall_n[slot] += 1;
        }
    }

    /// Records a failed request of `slot`, which ended `at_ns` into the recorded part.
    fn record_error(&self, slot: usize, error: &OpError, at_ns: u64) {
        let mut s = self.shard();
        s.errors[slot] += 1;
        tally(&mut s.error_kinds[slot], &error.kind, 1, &error.message);
        if let Some(url) = &error.node {
            let n = node_tally(&mut s.nodes, url);
            n.errors += 1;
            *n.kinds.entry(error.kind.to_string()).or_default() += 1;
            if error.node_lost {
                n.first_lost_ns = Some(n.first_lost_ns.map_or(at_ns, |t| t.min(at_ns)));
                n.last_lost_ns = Some(n.last_lost_ns.map_or(at_ns, |t| t.max(at_ns)));
            }
        }
    }
}

/// `url`'s tally, made on first use (without cloning `url` on the hot path after that).
fn node_tally<'a>(
    nodes: &'a mut BTreeMap<Arc<str>, NodeTally>,
    url: &Arc<str>,
) -> &'a mut NodeTally {
    if !nodes.contains_key(url) {
        nodes.insert(url.clone(), NodeTally::default());
    }
    nodes.get_mut(url).expect("inserted")
}

/// The shards' per-node figures as one list, by URL: when a node was first lost, and the second
/// it answered again after its last loss.
fn node_stats(recorder: &Recorder) -> Vec<NodeStat> {
    let mut merged: BTreeMap<Arc<str>, NodeTally> = BTreeMap::new();
    for shard in &recorder.shards {
        let s = lock(shard);
        for (url, n) in &s.nodes {
            let m = node_tally(&mut merged, url);
            m.ok += n.ok;
            m.errors += n.errors;
            for (k, c) in &n.kinds {
                *m.kinds.entry(k.clone()).or_default() += c;
            }
            m.first_lost_ns = match (m.first_lost_ns, n.first_lost_ns) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            m.last_lost_ns = m.last_lost_ns.max(n.last_lost_ns);
            if m.ok_by_second.len() < n.ok_by_second.len() {
                m.ok_by_second.resize(n.ok_by_second.len(), 0);
            }
            for (a, b) in m.ok_by_second.iter_mut().zip(&n.ok_by_second) {
                *a += b;
            }
        }
    }
    merged
        .into_iter()
        .map(|(url, n)| {
            // Back: the first second after that of the last failure with an answer.
            let back_at_s = n.last_lost_ns.and_then(|last| {
                let from = (last / 1_000_000_000) as usize + 1;
                (from..n.ok_by_second.len())
                    .find(|&s| n.ok_by_second[s] > 0)
                    .map(|s| s as f64)
            });
            NodeStat {
                url: url.to_string(),
                ok: n.ok,
                errors: n.errors,
                errors_by_kind: n.kinds,
                lost_at_s: n.first_lost_ns.map(|t| t as f64 / 1e9),
                back_at_s,
            }
        })
        .collect()
}

struct Shared<T> {
    target: Arc<T>,
    recorder: Recorder,
    slots: Vec<Slot>,
    table: Vec<u16>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Per slot: recorded requests sent and not yet answered. When the drain period ends each
    /// counter is closed (its [`CLOSED`] bit set): what it holds then is charged to its slot as
    /// unanswered, and answers arriving later are not recorded (they were charged already).
    unanswered: Vec<AtomicU64>,
    /// Nanoseconds after `t0` of the last recorded completion.
    last_done: AtomicU64,
    t0: Instant,
    /// When the recorded part begins (per-node times count from here).
    measure_start: Instant,
    /// Set when the drain period ends: requests not yet started are dropped instead of sent, so
    /// a run's leftovers do not load the target during the next run.
    abandoned: AtomicBool,
}

/// The bit of a slot's [`Shared::unanswered`] counter that says the drain period is over.
const CLOSED: u64 = 1 << 63;

impl<T: Target> Shared<T> {
    fn new(target: Arc<T>, slots: Vec<Slot>, t0: Instant, measure_start: Instant) -> Self {
        Self {
            recorder: Recorder::new(slots.len()),
            target,
            table: routing_table(&slots),
            unanswered: slots.iter().map(|_| AtomicU64::new(0)).collect(),
            slots,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            last_done: AtomicU64::new(0),
            t0,
            measure_start,
            abandoned: AtomicBool::new(false),
        }
    }

    fn slot_of(&self, seq: u64) -> usize {
        self.table[(seq % self.table.len() as u64) as usize] as usize
    }

    /// Counts a recorded request of `slot` as sent and not yet answered.
    fn expect_answer(&self, slot: usize) {
        self.unanswered[slot].fetch_add(1, Ordering::AcqRel);
    }

    /// Takes an answered request of `slot` off its unanswered count; false when the drain
    /// period already ended and charged it as unanswered.
    fn answered(&self, slot: usize) -> bool {
        self.unanswered[slot]
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n & CLOSED == 0).then(|| n - 1)
            })
            .is_ok()
    }

    /// Ends the drain period: charges each slot's requests still unanswered to that slot, as
    /// errors of kind `unanswered`.
    fn charge_unanswered(&self, drain_timeout: Duration) {
        let error = OpError::new(
            "unanswered",
            format!(
                "no answer within the {:.0} s drain period after the last send",
                drain_timeout.as_secs_f64()
            ),
        );
        let at_ns = self.since_measure_start(Instant::now());
        for (slot, counter) in self.unanswered.iter().enumerate() {
            let left = counter.fetch_or(CLOSED, Ordering::AcqRel) & !CLOSED;
            for _ in 0..left {
                self.recorder.record_error(slot, &error, at_ns);
            }
        }
    }

    fn since_measure_start(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.measure_start).as_nanos() as u64
    }

    /// Runs one call and records it (when `record`); `start` is the due time (open loop) or the
    /// send time (closed loop). `counted`: the request is on its slot's unanswered count.
    async fn one(&self, seq: u64, start: Instant, record: bool, counted: bool) {
        let slot = self.slot_of(seq);
        let s = &self.slots[slot];
        let call = Call {
            collection: s.collection,
            op: s.op,
            seq,
        };
        let result = self.target.call(call).await;
        let done = Instant::now();
        if !record || (counted && !self.answered(slot)) {
            return;
        }
        match result {
            Ok(outcome) => {
                let recall = outcome
                    .hits
                    .and_then(|(query, ids)| self.target.recall(call.collection, query, &ids));
                let at = self.since_measure_start(done);
                self.recorder.record_ok_at(
                    slot,
                    done.saturating_duration_since(start),
                    outcome.server,
                    recall,
                    outcome.node.as_ref().map(|n| (n, at)),
                );
            }
            Err(e) => self
                .recorder
                .record_error(slot, &e, self.since_measure_start(done)),
        }
        let ns = done.saturating_duration_since(self.t0).as_nanos() as u64;
        self.last_done.fetch_max(ns, Ordering::Relaxed);
    }
}

/// Runs `plan` against `target`. Needs a multi-threaded tokio runtime (the requests run as its
/// tasks); the open-loop scheduler and the collector run on threads of their own.
pub async fn run<T: Target>(
    target: Arc<T>,
    plan: &LoadPlan,
    stop: &StopSignal,
) -> Result<RunResult> {
    run_monitored(target, plan, stop, &Monitor::default()).await
}

/// [`run`], watching what `monitor` says to watch from the start of the recorded part to the
/// end of the run (the server's `/metrics` once a second); what it saw goes into
/// [`RunResult::server`].
pub async fn run_monitored<T: Target>(
    target: Arc<T>,
    plan: &LoadPlan,
    stop: &StopSignal,
    monitor: &Monitor,
) -> Result<RunResult> {
    check_target(&*target, plan)?;
    let slots = slots_for(&target.collections(), &plan.mix)?;
    let t0 = Instant::now() + Duration::from_millis(5);
    let measure_start = t0 + plan.warmup;
    let shared = Arc::new(Shared::new(target, slots, t0, measure_start));
    let collector_done = Arc::new(AtomicBool::new(false));
    let live = monitor.live().map(|view| {
        let slots = shared
            .slots
            .iter()
            .map(|s| (s.op.name().to_string(), s.collection_name.clone()))
            .collect();
        let metrics = Arc::new(LiveMetrics::new(&plan.label, slots));
        view.show(metrics.clone());
        metrics
    });
    // The collector thread harvests the shards once a second until `collector_done` is set.
    let collector = {
        let intervals = monitor.intervals().cloned();
        let observer = monitor.observer().cloned();
        let (shared, done, stop, plan) = (
            shared.clone(),
            collector_done.clone(),
            stop.clone(),
            plan.clone(),
        );
        std::thread::Builder::new()
            .name("qdrant-perf-collector".into())
            .spawn(move || {
                collect(
                    &shared,
                    measure_start,
                    &done,
                    &stop,
                    &plan,
                    live,
                    intervals,
                    observer,
                )
            })
            .map_err(|e| LoadError::driver("collector thread", e))?
    };
    let watching = monitor.start(measure_start);
    let sent = match plan.mode {
        Mode::Open { rate } => drive_open(&shared, plan, rate, stop).await,
        Mode::Closed { concurrency } => {
            drive_closed(&shared, plan, concurrency, measure_start, stop).await
        }
    };
    collector_done.store(true, Ordering::SeqCst);
    let seen = watching.finish().await;
    let collected = collector.join().map_err(|_| {
        LoadError::driver("collector thread", "it panicked (see the message above)")
    })?;
    let mut result = summarise(&shared, plan, stop, measure_start, sent?, collected);
    result.server = seen.server;
    result.cache = seen.cache;
    if let Some(h) = &seen.host {
        result.resources.server = match &h.not_collected {
            Some(why) => format!("not collected ({}: {why})", h.source),
            None => h.source.clone(),
        };
    }
    result.host = seen.host;
    Ok(result)
}

/// Checks the plan, and that the target can run every operation of its mix.
fn check_target<T: Target>(target: &T, plan: &LoadPlan) -> Result<()> {
    plan.validate()?;
    for (op, w) in &plan.mix.0 {
        if *w > 0 && !target.supports(*op) {
            return Err(invalid(
                "mix",
                plan.mix.to_string(),
                if *op == OpKind::CachedSearch {
                    "cached_search needs a cache in front of the store, and none is configured; drop it from the mix".to_string()
                } else {
                    format!("this target cannot run `{op}`; use search (or a Qdrant target)")
                },
            ));
        }
    }
    Ok(())
}

/// One slot per (collection, operation) with a share of the requests: the collection's share of
/// the summed qps (equal shares when none is given) times the operation's share of the mix.
fn slots_for(collections: &[TargetCollection], mix: &Mix) -> Result<Vec<Slot>> {
    if collections.is_empty() {
        return Err(invalid(
            "target",
            "no collections",
            "a target needs at least one collection",
        ));
    }
    let mix_total: f64 = mix.0.iter().map(|p| p.1 as f64).sum();
    let qps_total: f64 = collections.iter().map(|c| c.qps.max(0.0)).sum();
    let mut slots = Vec::new();
    for (ci, c) in collections.iter().enumerate() {
        let share = if qps_total > 0.0 {
            c.qps.max(0.0) / qps_total
        } else {
            1.0 / collections.len() as f64
        };
        if share <= 0.0 {
            continue;
        }
        for &(op, w) in mix.0.iter().filter(|p| p.1 > 0) {
            slots.push(Slot {
                collection: ci,
                collection_name: c.name.clone(),
                op,
                weight: share * w as f64 / mix_total,
            });
        }
    }
    Ok(slots)
}

/// What the sending side of a run reports besides the recorded latencies.
#[derive(Default)]
struct Sent {
    /// Open loop: how late the scheduler sent requests.
    send_lag: Option<LatencySummary>,
    /// Open loop: requests refused at the in-flight cap.
    cap_hits: u64,
    /// Open loop: requests sent in the recorded part (closed loop: ok + errors).
    sent: Option<u64>,
}

/// Open loop: the scheduler sends every request when due; then the answers still outstanding
/// get `drain_timeout`, and those still missing are charged, each to its own slot.
async fn drive_open<T: Target>(
    shared: &Arc<Shared<T>>,
    plan: &LoadPlan,
    rate: f64,
    stop: &StopSignal,
) -> Result<Sent> {
    let handle = tokio::runtime::Handle::current();
    let (shared2, stop2, plan2) = (shared.clone(), stop.clone(), plan.clone());
    let (lag, cap_hits, sent) =
        tokio::task::spawn_blocking(move || schedule_open(&shared2, &plan2, rate, &handle, &stop2))
            .await
            .map_err(|e| LoadError::driver("scheduler", e))?;
    let drain_until = Instant::now() + plan.drain_timeout;
    while shared.in_flight.load(Ordering::Acquire) > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    shared.abandoned.store(true, Ordering::Relaxed);
    shared.charge_unanswered(plan.drain_timeout);
    Ok(Sent {
        send_lag: Some(LatencySummary::from_histogram(&lag)),
        cap_hits,
        sent: Some(sent),
    })
}

/// Closed loop: `concurrency` workers, each sending its next request when the previous one
/// answered, until the duration or the request count is reached (or `stop`).
async fn drive_closed<T: Target>(
    shared: &Arc<Shared<T>>,
    plan: &LoadPlan,
    concurrency: usize,
    measure_start: Instant,
    stop: &StopSignal,
) -> Result<Sent> {
    let end = plan.duration.map(|d| measure_start + d);
    let seq = Arc::new(AtomicU64::new(0));
    let recorded = Arc::new(AtomicU64::new(0));
    let t0 = shared.t0;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (shared, stop, seq, recorded) =
            (shared.clone(), stop.clone(), seq.clone(), recorded.clone());
        let limit = plan.requests;
        workers.push(tokio::spawn(async move {
            tokio::time::sleep_until(t0.into()).await;
            loop {
                let start = Instant::now();
                if stop.is_stopped() || end.is_some_and(|e| start >= e) {
                    break;
                }
                let record = start >= measure_start;
                if record {
                    let n = recorded.fetch_add(1, Ordering::Relaxed);
                    if limit.is_some_and(|l| n >= l) {
                        break;
                    }
                }
                let i = seq.fetch_add(1, Ordering::Relaxed);
                shared.one(i, start, record, false).await;
            }
        }));
    }
    shared.max_in_flight.store(concurrency, Ordering::Relaxed);
    for w in workers {
        w.await.map_err(|e| LoadError::driver("worker", e))?;
    }
    Ok(Sent::default())
}

/// Adds `from` to `into` and empties `from`.
fn move_into(into: &mut Histogram<u64>, from: &mut Histogram<u64>) {
    into.add(&*from).expect("same bounds");
    from.reset();
}

/// Adds `count` errors of `kind` to `tallies`, keeping the first example of each kind.
pub(crate) fn tally(
    tallies: &mut BTreeMap<String, ErrorTally>,
    kind: &str,
    count: u64,
    example: &str,
) {
    let total = tallies.entry(kind.to_string()).or_default();
    total.count += count;
    if total.example.is_empty() {
        example.clone_into(&mut total.example);
    }
}

/// Adds `from`'s counts to `into`, keeping the first example of each kind.
fn add_tallies(into: &mut BTreeMap<String, ErrorTally>, from: &BTreeMap<String, ErrorTally>) {
    for (k, e) in from {
        tally(into, k, e.count, &e.example);
    }
}

fn recall_stat(sum: f64, n: u64) -> Option<RecallStat> {
    (n > 0).then(|| RecallStat {
        value: sum / n as f64,
        samples: n,
    })
}

/// The run's figures: per (collection, operation) and for all queries together.
fn summarise<T: Target>(
    shared: &Shared<T>,
    plan: &LoadPlan,
    stop: &StopSignal,
    measure_start: Instant,
    sent: Sent,
    collected: Collected,
) -> RunResult {
    let last_done = shared.t0 + Duration::from_nanos(shared.last_done.load(Ordering::Relaxed));
    let elapsed = last_done
        .saturating_duration_since(measure_start)
        .as_secs_f64()
        .max(1e-9);
    // Errors and recall summed over the shards, per slot.
    let n = shared.slots.len();
    let mut errors_by_kind = BTreeMap::new();
    let (mut slot_errors, mut recall_sum, mut recall_n) = (vec![0; n], vec![0.0; n], vec![0; n]);
    for shard in &shared.recorder.shards {
        let s = lock(shard);
        for kinds in &s.error_kinds {
            add_tallies(&mut errors_by_kind, kinds);
        }
        for i in 0..n {
            slot_errors[i] += s.errors[i];
            recall_sum[i] += s.recall_sum[i];
            recall_n[i] += s.recall_n[i];
        }
    }
    let mut query_hist = latency_histogram();
    let mut query_server = latency_histogram();
    let mut query_overhead = latency_histogram();
    let summary = |h: &Histogram<u64>| (!h.is_empty()).then(|| LatencySummary::from_histogram(h));
    let operations: Vec<OpStats> = shared
        .slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let h = &collected.totals[i];
            let (server, overhead) = (&collected.server_totals[i], &collected.overhead_totals[i]);
            if slot.op.is_query() {
                query_hist.add(h).expect("same bounds");
                query_server.add(server).expect("same bounds");
                query_overhead.add(overhead).expect("same bounds");
            }
            let margins = &collected.margins[i];
            let throughput = h.len() as f64 / elapsed;
            OpStats {
                collection: slot.collection_name.clone(),
                op: slot.op,
                latency_ms: margins.with_latency_ci(LatencySummary::from_histogram(h)),
                server_latency_ms: summary(server),
                overhead_ms: summary(overhead),
                server_histogram: server.clone(),
                overhead_histogram: overhead.clone(),
                ok: h.len(),
                errors: slot_errors[i],
                throughput_ops_s: throughput,
                throughput_ci: margins.throughput(throughput),
                recall_at_10: recall_stat(recall_sum[i], recall_n[i]),
                histogram: h.clone(),
            }
        })
        .collect();
    let ok: u64 = operations.iter().map(|o| o.ok).sum();
    let errors: u64 = slot_errors.iter().sum();
    let throughput = ok as f64 / elapsed;
    let requested_rate = match plan.mode {
        Mode::Open { rate } => Some(rate),
        Mode::Closed { .. } => None,
    };
    RunResult {
        label: plan.label.clone(),
        plan: plan.clone(),
        requested_rate,
        concurrency: match plan.mode {
            Mode::Closed { concurrency } => Some(concurrency),
            Mode::Open { .. } => None,
        },
        partial: stop.is_stopped(),
        elapsed_s: elapsed,
        sent: sent.sent.unwrap_or(ok + errors),
        ok,
        errors,
        error_rate: qdrant_perf_report::run::error_rate(ok, errors),
        errors_by_kind,
        nodes: node_stats(&shared.recorder),
        throughput_ops_s: throughput,
        throughput_ci: collected.run_margins.throughput(throughput),
        rate_achieved: qdrant_perf_report::run::rate_achieved(requested_rate, throughput),
        latency_ms: collected
            .run_margins
            .with_latency_ci(LatencySummary::from_histogram(&query_hist)),
        server_latency_ms: summary(&query_server),
        overhead_ms: summary(&query_overhead),
        operations,
        recall_at_10: recall_stat(recall_sum.iter().sum(), recall_n.iter().sum()),
        send_lag_ms: sent.send_lag,
        max_in_flight: shared.max_in_flight.load(Ordering::Relaxed),
        in_flight_cap_hits: sent.cap_hits,
        timeline: collected.timeline,
        resources: collected.resources,
        server: None,
        cache: None,
        host: None,
        interval_log: collected.interval_log,
    }
}

/// The open-loop scheduler: spawns each request when due. Returns the send lag histogram, the
/// number of requests refused at the in-flight cap and the number sent in the recorded part.
fn schedule_open<T: Target>(
    shared: &Arc<Shared<T>>,
    plan: &LoadPlan,
    rate: f64,
    handle: &tokio::runtime::Handle,
    stop: &StopSignal,
) -> (Histogram<u64>, u64, u64) {
    let mut lag = latency_histogram();
    let warm = (plan.warmup.as_secs_f64() * rate).round() as u64;
    let by_duration = plan
        .duration
        .map(|d| (d.as_secs_f64() * rate).round() as u64);
    let recorded = match (by_duration, plan.requests) {
        (Some(d), Some(r)) => d.min(r),
        (d, r) => d.or(r).unwrap_or(0),
    }
    .max(1);
    let total = warm + recorded;
    let ns_per_request = 1e9 / rate;
    let due = |i: u64| shared.t0 + Duration::from_nanos((i as f64 * ns_per_request) as u64);
    let (mut i, mut cap_hits, mut sent) = (0u64, 0u64, 0u64);
    let cap_error = OpError::new(
        "not sent: in-flight cap",
        format!(
            "{} requests were already outstanding; the target is not keeping up",
            plan.in_flight_cap
        ),
    );
    let mut batch: Vec<(u64, Instant, bool)> = Vec::with_capacity(16);
    while i < total && !stop.is_stopped() {
        let now = Instant::now();
        while i < total {
            let due_at = due(i);
            if due_at > now {
                break;
            }
            let record = i >= warm;
            let seq = i;
            i += 1;
            if record {
                lag.saturating_record(
                    (now.saturating_duration_since(due_at).as_nanos() / 1000) as u64,
                );
            }
            let in_flight = shared.in_flight.load(Ordering::Relaxed);
            if in_flight >= plan.in_flight_cap {
                if record {
                    cap_hits += 1;
                    shared
                        .recorder
                        .record_error(shared.slot_of(seq), &cap_error, 0);
                }
                continue;
            }
            let now_in_flight = shared.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
            shared
                .max_in_flight
                .fetch_max(now_in_flight, Ordering::Relaxed);
            if record {
                sent += 1;
                shared.expect_answer(shared.slot_of(seq));
            }
            batch.push((seq, due_at, record));
        }
        // The requests due by now go to the runtime as one task, which starts each of them
        // at once (see `start_batch`): one spawn from this thread per batch instead of one per
        // request, so the scheduler keeps up at a million requests per second.
        if !batch.is_empty() {
            let s = shared.clone();
            let due_now = std::mem::replace(&mut batch, Vec::with_capacity(16));
            handle.spawn(start_batch(s, due_now));
        }
        if i < total {
            let wait = due(i).saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait.min(Duration::from_millis(5)));
            }
        }
    }
    (lag, cap_hits, sent)
}

/// Starts the requests of a batch, in order: each is polled once here, and one that has not
/// finished then (it waits for its answer) continues as a task of its own. A request that ends
/// at its first poll (the no-op target) so costs no task; a request that waits runs
/// concurrently with the rest, as if it had been spawned alone.
async fn start_batch<T: Target>(shared: Arc<Shared<T>>, batch: Vec<(u64, Instant, bool)>) {
    let inline = !shared.target.works_in_poll();
    for (seq, due_at, record) in batch {
        let s = shared.clone();
        let mut request = Box::pin(async move {
            if !s.abandoned.load(Ordering::Relaxed) {
                s.one(seq, due_at, record, record).await;
            }
            s.in_flight.fetch_sub(1, Ordering::AcqRel);
        });
        if !inline {
            // A spawn from a worker goes to its local queue, from which the others steal.
            tokio::spawn(request);
            continue;
        }
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx)));
        if first.await.is_pending() {
            tokio::spawn(request);
        }
    }
}

/// Appends `lines` to the interval log, if there is one.
fn append(log: &Option<IntervalLog>, lines: &[IntervalLine]) {
    if let Some(log) = log {
        log.append_or_warn(lines);
    }
}

struct Collected {
    totals: Vec<Histogram<u64>>,
    server_totals: Vec<Histogram<u64>>,
    overhead_totals: Vec<Histogram<u64>>,
    timeline: Vec<Second>,
    resources: Resources,
    interval_log: Vec<u8>,
    /// Per slot, and for the whole run (query latency, all operations' throughput): the
    /// batches of seconds the error margins come from.
    margins: Vec<Margins>,
    run_margins: Margins,
}

/// Harvests the shards once a second from `start`: interval log, totals, timeline, resources,
/// progress line, and (when given) the live endpoint and the run directory's interval log
/// (`intervals`). Ends (with a last, shorter interval) when `done` is set.
#[allow(clippy::too_many_arguments)]
fn collect<T: Target>(
    shared: &Shared<T>,
    start: Instant,
    done: &AtomicBool,
    stop: &StopSignal,
    plan: &LoadPlan,
    live: Option<Arc<LiveMetrics>>,
    intervals: Option<IntervalLog>,
    observer: Option<crate::monitor::SecondObserver>,
) -> Collected {
    let (label, progress) = (plan.label.as_str(), plan.progress);
    let requested_rate = match plan.mode {
        Mode::Open { rate } => Some(rate),
        Mode::Closed { .. } => None,
    };
    let mut c = Collector::new(shared, label, plan.planned_window());
    let mut log = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let wall_start = SystemTime::now() + start.saturating_duration_since(Instant::now());
    let bar = if progress {
        qdrant_perf_data::spinner(&format!("{label}: warming up (not recorded)"))
    } else {
        indicatif::ProgressBar::hidden()
    };
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment(&format!(
                "qdrant-perf {} run `{label}`: latency in microseconds, one interval per second per operation/collection tag",
                env!("CARGO_PKG_VERSION")
            ))
            .with_start_time(wall_start)
            .with_base_time(wall_start)
            .begin_log_with(&mut log, &mut serializer)
            .expect("writing to memory");
        wait_until(start, done);
        c.sampler.reset();
        append(
            &intervals,
            &[IntervalLine::Run(RunStart {
                run: label.to_string(),
                plan: plan.clone(),
                start_unix_s: unix_seconds(wall_start),
            })],
        );
        let mut k = 0u32;
        loop {
            let interval_start = start + Duration::from_secs(k as u64);
            let finished = wait_until(start + Duration::from_secs(k as u64 + 1), done);
            let secs = Instant::now()
                .saturating_duration_since(interval_start)
                .as_secs_f64()
                .max(1e-6);
            let per_slot = live.is_some() || intervals.is_some() || observer.is_some();
            let mut harvest = c.harvest(k, secs, per_slot, intervals.is_some());
            if live.is_some() || observer.is_some() {
                let second = LiveSecond {
                    interval: &c.interval,
                    server_interval: &c.server_interval,
                    errors_by_kind: &harvest.errors_by_kind,
                    errors_per_slot: &harvest.errors_per_slot,
                    in_flight: shared.in_flight.load(Ordering::Relaxed),
                    elapsed_s: k as f64 + secs,
                    secs,
                    requested_rate,
                };
                if let Some(live) = &live {
                    live.update(&second);
                }
                if let Some(observe) = &observer {
                    observe(&second);
                }
            }
            let second = c.fold_interval(&mut writer, k, secs, harvest.errors_now);
            if intervals.is_some() {
                harvest.lines.push(IntervalLine::Second(TimelineSecond {
                    run: label.to_string(),
                    k,
                    second: second.clone(),
                    in_flight: shared.in_flight.load(Ordering::Relaxed),
                }));
                append(&intervals, &harvest.lines);
            }
            let message = c.progress_line(&second, harvest.errors_now, stop.is_stopped());
            c.timeline.push(second);
            bar.set_message(message);
            bar.tick();
            k += 1;
            if finished {
                break;
            }
        }
    }
    bar.finish_and_clear();
    if let Some(log) = &intervals {
        let _ = log.sync();
    }
    c.finish(log)
}

/// Sleeps until `next` (the recorded part's start, an interval's end); true when `done` was set
/// first (the run's last, shorter interval).
fn wait_until(next: Instant, done: &AtomicBool) -> bool {
    loop {
        let now = Instant::now();
        if now >= next {
            return false;
        }
        if done.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep((next - now).min(Duration::from_millis(20)));
    }
}

/// The errors recorded so far, as one harvest of the shards read them.
struct Harvest {
    errors_now: u64,
    /// For the live endpoint and the interval log: per slot, and by kind.
    errors_per_slot: Vec<u64>,
    errors_by_kind: BTreeMap<String, u64>,
    /// The interval log's line of each slot.
    lines: Vec<IntervalLine>,
}

/// What the collector keeps from one second to the next: per slot, the interval being harvested
/// and the run's totals, and what the interval log has had; the margins' batches; the timeline.
struct Collector<'a, T> {
    shared: &'a Shared<T>,
    label: &'a str,
    window: Option<Duration>,
    tags: Vec<String>,
    interval: Vec<Histogram<u64>>,
    server_interval: Vec<Histogram<u64>>,
    overhead_interval: Vec<Histogram<u64>>,
    totals: Vec<Histogram<u64>>,
    server_totals: Vec<Histogram<u64>>,
    overhead_totals: Vec<Histogram<u64>>,
    // Per slot, what the interval log has had so far: errors by kind, recall sum and count.
    kinds_seen: Vec<BTreeMap<String, u64>>,
    recall_seen: Vec<(f64, u64)>,
    /// Every latency so far, for the progress line's p99.
    running: Histogram<u64>,
    /// This second's latencies: of every operation, and of the queries.
    second_hist: Histogram<u64>,
    query_second: Histogram<u64>,
    batches: Vec<Batches>,
    run_batches: Batches,
    timeline: Vec<Second>,
    errors_seen: u64,
    sampler: ProcessSampler,
}

impl<'a, T: Target> Collector<'a, T> {
    /// Empty histograms for each of `shared`'s slots; margins batched over `window`.
    fn new(shared: &'a Shared<T>, label: &'a str, window: Option<Duration>) -> Self {
        let n = shared.slots.len();
        let hists = || -> Vec<Histogram<u64>> { (0..n).map(|_| latency_histogram()).collect() };
        Self {
            shared,
            label,
            window,
            tags: shared.slots.iter().map(Slot::tag).collect(),
            interval: hists(),
            server_interval: hists(),
            overhead_interval: hists(),
            totals: hists(),
            server_totals: hists(),
            overhead_totals: hists(),
            kinds_seen: vec![BTreeMap::new(); n],
            recall_seen: vec![(0.0f64, 0u64); n],
            running: latency_histogram(),
            second_hist: latency_histogram(),
            query_second: latency_histogram(),
            batches: (0..n).map(|_| Batches::new(window)).collect(),
            run_batches: Batches::new(window),
            timeline: Vec::new(),
            errors_seen: 0,
            sampler: ProcessSampler::new(),
        }
    }

    /// Moves what the shards recorded since the last harvest into the interval's histograms and
    /// reads the errors so far: per slot and by kind when `per_slot`; with `with_log`, the
    /// interval log's line of each slot for second `k` (its histograms, and the errors and recall
    /// since its last line).
    fn harvest(&mut self, k: u32, secs: f64, per_slot: bool, with_log: bool) -> Harvest {
        let n = self.shared.slots.len();
        let mut h = Harvest {
            errors_now: 0,
            errors_per_slot: vec![0u64; if per_slot { n } else { 0 }],
            errors_by_kind: BTreeMap::new(),
            lines: Vec::new(),
        };
        // For the interval log. Per slot, cumulative: errors by kind (with an example), recall
        // sum and count.
        let mut kinds_now: Vec<BTreeMap<String, ErrorTally>> =
            vec![BTreeMap::new(); if with_log { n } else { 0 }];
        let mut recall_now = vec![(0.0f64, 0u64); if with_log { n } else { 0 }];
        for shard in &self.shared.recorder.shards {
            let mut guard = lock(shard);
            let s = &mut *guard;
            for i in 0..n {
                if std::mem::take(&mut s.dirty[i]) {
                    move_into(&mut self.interval[i], &mut s.hists[i]);
                    move_into(&mut self.server_interval[i], &mut s.server_hists[i]);
                    move_into(&mut self.overhead_interval[i], &mut s.overhead_hists[i]);
                }
            }
            h.errors_now += s.errors.iter().sum::<u64>();
            if per_slot {
                for (acc, e) in h.errors_per_slot.iter_mut().zip(&s.errors) {
                    *acc += e;
                }
                for (k, e) in s.error_kinds.iter().flatten() {
                    *h.errors_by_kind.entry(k.clone()).or_default() += e.count;
                }
            }
            for (i, kinds) in kinds_now.iter_mut().enumerate() {
                add_tallies(kinds, &s.error_kinds[i]);
                recall_now[i].0 += s.recall_sum[i];
                recall_now[i].1 += s.recall_n[i];
            }
        }
        let encoded = |h: &Histogram<u64>| (!h.is_empty()).then(|| encode_histogram(h));
        for (i, kinds) in kinds_now.iter().enumerate() {
            let mut errors_by_kind = BTreeMap::new();
            for (kind, e) in kinds {
                let seen = self.kinds_seen[i].entry(kind.clone()).or_default();
                if e.count > *seen {
                    let example = e.example.clone();
                    let count = e.count - *seen;
                    errors_by_kind.insert(kind.clone(), ErrorTally { count, example });
                    *seen = e.count;
                }
            }
            let (sum, count) = recall_now[i];
            let (sum0, count0) = std::mem::replace(&mut self.recall_seen[i], (sum, count));
            let slot = &self.shared.slots[i];
            h.lines.push(IntervalLine::Slot(SlotSecond {
                run: self.label.to_string(),
                k,
                secs,
                op: slot.op,
                collection: slot.collection_name.clone(),
                ok: self.interval[i].len(),
                errors: errors_by_kind.values().map(|e| e.count).sum(),
                errors_by_kind,
                recall_n: count - count0,
                recall_sum: sum - sum0,
                hist: encoded(&self.interval[i]),
                server_hist: encoded(&self.server_interval[i]),
                overhead_hist: encoded(&self.overhead_interval[i]),
            }));
        }
        h
    }

    /// Adds second `k`'s interval to the totals, the margins' batches and the histogram log, and
    /// empties it for the next; returns the timeline's entry for it (its answers, the errors
    /// since the last entry, with the process's CPU and memory now).
    fn fold_interval(
        &mut self,
        writer: &mut IntervalLogWriter<'_, '_, Vec<u8>, V2DeflateSerializer>,
        k: u32,
        secs: f64,
        errors_now: u64,
    ) -> Second {
        self.second_hist.reset();
        self.query_second.reset();
        let mut ok = 0;
        for i in 0..self.interval.len() {
            self.batches[i].push(&self.interval[i], self.interval[i].len(), secs);
            // The server's and the overhead histograms only hold answers the client one holds.
            move_into(&mut self.server_totals[i], &mut self.server_interval[i]);
            move_into(&mut self.overhead_totals[i], &mut self.overhead_interval[i]);
            if self.interval[i].is_empty() {
                continue;
            }
            ok += self.interval[i].len();
            self.second_hist
                .add(&self.interval[i])
                .expect("same bounds");
            if self.shared.slots[i].op.is_query() {
                self.query_second
                    .add(&self.interval[i])
                    .expect("same bounds");
            }
            let _ = writer.write_histogram(
                &self.interval[i],
                Duration::from_secs(k as u64),
                Duration::from_secs_f64(secs),
                Tag::new(&self.tags[i]),
            );
            move_into(&mut self.totals[i], &mut self.interval[i]);
        }
        self.running.add(&self.second_hist).expect("same bounds");
        self.run_batches.push(&self.query_second, ok, secs);
        let errors = errors_now - self.errors_seen;
        self.errors_seen = errors_now;
        let (cpu_pct, rss) = self.sampler.sample();
        let ms = |us: u64| us as f64 / 1000.0;
        let nonempty = !self.second_hist.is_empty();
        Second {
            t: k as f64 + secs,
            ok,
            errors,
            ops_s: ok as f64 / secs,
            p50_ms: nonempty.then(|| ms(self.second_hist.value_at_quantile(0.5))),
            p99_ms: nonempty.then(|| ms(self.second_hist.value_at_quantile(0.99))),
            max_ms: nonempty.then(|| ms(self.second_hist.max())),
            cpu_pct,
            rss_mb: rss.map(|b| b as f64 / 1048576.0),
        }
    }

    /// The progress line after `second`: its time and rate, the p99 so far, the errors so far.
    fn progress_line(&self, second: &Second, errors_now: u64, stopping: bool) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "{}: {:.0}{} s  {:.0} ops/s  p99 {:.2} ms so far  errors {}  in flight {}{}",
            self.label,
            second.t,
            self.window
                .map_or(String::new(), |w| format!("/{:.0}", w.as_secs_f64())),
            second.ops_s,
            ms(self.running.value_at_quantile(0.99)),
            errors_now,
            self.shared.in_flight.load(Ordering::Relaxed),
            if stopping {
                "  (stopped: waiting for the answers in flight)"
            } else {
                ""
            }
        )
    }

    /// The run's totals, timeline, resources and margins, with the interval log written.
    fn finish(self, interval_log: Vec<u8>) -> Collected {
        Collected {
            totals: self.totals,
            server_totals: self.server_totals,
            overhead_totals: self.overhead_totals,
            resources: self.sampler.summary(),
            timeline: self.timeline,
            interval_log,
            margins: self.batches.into_iter().map(Batches::finish).collect(),
            run_margins: self.run_batches.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_gives_each_slot_its_share_interleaved() {
        let slot = |c: usize, w: f64| Slot {
            collection: c,
            collection_name: format!("c{c}"),
            op: OpKind::Search,
            weight: w,
        };
        let table = routing_table(&[slot(0, 0.75), slot(1, 0.25)]);
        let ones = table.iter().filter(|&&s| s == 1).count();
        assert_eq!(ones, 250);
        // Interleaved, not in blocks: every 4 consecutive requests hold exactly one of slot 1.
        for w in table.chunks(4) {
            assert_eq!(w.iter().filter(|&&s| s == 1).count(), 1, "{w:?}");
        }
    }
}
