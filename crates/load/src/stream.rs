//! `stream`: search while the collection grows.
//!
//! A collection starts from the first `initial` points of a generated dataset (indexed before
//! anything is timed); then the next `total` points are inserted in batches due at open-loop
//! times (`insert_rate` points per second), while the load driver searches at `search_rate`
//! (open loop, no coordinated omission). The inserts are cut into **stages** of `stage` of
//! them; each stage is one driver run, whose searches are scored for recall@k against the
//! exact truth of the points whose insert was acknowledged **before that stage began** (the
//! stage-start snapshot). An answer may hold points inserted during the stage, which are not in
//! that truth; they are left out of its score ([`recall_among`]): recall@k is
//! `|R' ∩ T[..m]| / m`, R' the answer's points acknowledged before the stage (m of them) and T
//! the stage-start truth, so an exact search scores 1.0 however fast the collection grows. That
//! truth is kept incrementally ([`IncrementalTruth`]): each
//! acknowledged batch is merged into every query's exact top-k once, never recomputed over all
//! points.
//!
//! **Freshness**: for every `freshness_every`-th batch, its first point is searched for with its
//! own vector (top-10, every `probe_interval`) from the insert's acknowledgement until a search
//! returns its id (the searchable lag: only a search that returned the id counts, see
//! [`searchable_lag`]); and the collection's indexed vector count is polled until it covers
//! the point's position (the indexed lag). On a Qdrant server the optimizer indexes by itself;
//! the embedded engine has no background optimizer, so the run calls its optimizer (the one
//! `wait_indexed` runs) in a loop, one pass after another, and the indexed lag is the time
//! until a pass that covers the point returns.
//!
//! Deletes and updates beside the inserts: [`crate::stream_churn`]. The result is the suite's
//! one report model: one run per stage (`stage 3`) and the stages in `Report.stream`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use qdrant_perf_data::{Dataset, IncrementalTruth, Vectors, recall_at_k};
use qdrant_perf_report::checks::{Bound, Check};
use qdrant_perf_report::intervals::{Line, StepLine};
use qdrant_perf_report::report::{Report, TargetInfo};
use qdrant_perf_report::run::{ErrorTally, RunResult};
use qdrant_perf_report::stream::{Freshness, StreamSection, StreamStep};
use qdrant_perf_report::{LatencySummary, latency_histogram};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH};
use qdrant_perf_store::{AnyStore, CollectionSpec, HnswParams, Point, Query, Store, StoreError};

use crate::driver::{self, LoadError, LoadPlan, StopSignal, invalid};
use crate::lock;
use crate::monitor::Monitor;
use crate::stream_churn::{ChurnStageTarget, ChurnState, StageChurn};
use crate::target::{StoreCollection, StoreTarget};

/// What a stream run does.
#[derive(Clone, Debug, Serialize)]
pub struct StreamOptions {
    /// The profile name (`deepcoder`): the collection is `perf_stream_<name>_<pid>`.
    pub name: String,
    pub dim: usize,
    pub metric: qdrant_perf_data::Metric,
    pub hnsw: HnswParams,
    /// Points in the dataset (generated): `initial + total` must fit.
    pub dataset_points: usize,
    /// Points indexed before the stream begins.
    pub initial: usize,
    /// Points inserted during the stream.
    pub total: usize,
    /// Points per insert request.
    pub batch: usize,
    /// Points per second, open loop.
    pub insert_rate: f64,
    /// Searches per second, open loop.
    pub search_rate: f64,
    /// A stage is this fraction of the inserts, in (0, 1].
    pub stage: f64,
    pub queries: usize,
    /// Top-k of each search; recall@k is against the exact top-k.
    pub k: usize,
    pub ef: usize,
    /// Every n-th batch has its first point followed for freshness.
    pub freshness_every: usize,
    #[serde(with = "qdrant_perf_report::run::secs")]
    pub probe_interval: Duration,
    #[serde(with = "qdrant_perf_report::run::secs")]
    pub freshness_timeout: Duration,
    /// The indexed vector count is read this often (embedded engine: the pause between
    /// optimizer passes).
    #[serde(with = "qdrant_perf_report::run::secs")]
    pub index_poll: Duration,
    /// Requests to insert outstanding at once; when reached the next batch waits (its lateness
    /// is recorded as the insert send lag).
    pub insert_in_flight: usize,
    /// Points deleted per second beside the inserts (0: none); see [`crate::stream_churn`].
    pub delete_rate: f64,
    /// Points given a new vector per second beside the inserts (0: none).
    pub update_rate: f64,
    /// Seeds the order in which initial points are deleted and updated.
    pub churn_seed: u64,
    #[serde(skip)]
    pub progress: bool,
}

impl StreamOptions {
    /// The defaults for `name` at `dim`: 5,000 initial points, 15,000 inserted at 1,000/s in
    /// batches of 100, 10 % stages, searches at 100/s.
    pub fn new(name: &str, dim: usize) -> Self {
        Self {
            name: name.into(),
            dim,
            metric: qdrant_perf_data::Metric::Cosine,
            hnsw: HnswParams::default(),
            dataset_points: 20_000,
            initial: 5_000,
            total: 15_000,
            batch: 100,
            insert_rate: 1_000.0,
            search_rate: 100.0,
            stage: 0.1,
            queries: 1_000,
            k: 10,
            ef: 128,
            freshness_every: 5,
            probe_interval: Duration::from_millis(10),
            freshness_timeout: Duration::from_secs(60),
            index_poll: Duration::from_millis(100),
            insert_in_flight: 16,
            delete_rate: 0.0,
            update_rate: 0.0,
            churn_seed: 42,
            progress: false,
        }
    }

    /// Refuses what cannot run, naming the option and the fix, before any work.
    pub fn validate(&self) -> Result<(), LoadError> {
        if !(self.insert_rate.is_finite() && self.insert_rate > 0.0) {
            return Err(invalid(
                "insert rate",
                self.insert_rate,
                "insert at least a point per second (example: --insert-rate 1000)",
            ));
        }
        if !(self.search_rate.is_finite() && self.search_rate > 0.0) {
            return Err(invalid(
                "rate",
                self.search_rate,
                "search at a rate > 0 (example: --rate 100)",
            ));
        }
        if self.total == 0 {
            return Err(invalid(
                "total",
                0,
                "insert at least one point (example: --total 15000)",
            ));
        }
        if !(self.stage > 0.0 && self.stage <= 1.0) {
            return Err(invalid(
                "stage",
                self.stage,
                "a stage is a fraction of the inserts in (0, 1] (example: --stage 0.1 for 10 %)",
            ));
        }
        if self.initial > self.dataset_points {
            return Err(invalid(
                "initial",
                self.initial,
                format!(
                    "the dataset has {} points; start from at most that many (or make the dataset larger with --points)",
                    self.dataset_points
                ),
            ));
        }
        if self.initial + self.total > self.dataset_points {
            return Err(invalid(
                "total",
                self.total,
                format!(
                    "the dataset has {} points and {} are the initial ones, so at most {} can be inserted; lower --total or make the dataset larger with --points",
                    self.dataset_points,
                    self.initial,
                    self.dataset_points - self.initial
                ),
            ));
        }
        if self.batch == 0 {
            return Err(invalid(
                "batch",
                0,
                "a batch holds at least one point (example: --batch 100)",
            ));
        }
        for (what, v, flag) in [
            ("delete rate", self.delete_rate, "--delete-rate 100"),
            ("update rate", self.update_rate, "--update-rate 100"),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(
                    what,
                    v,
                    format!("points per second >= 0 (example: {flag})"),
                ));
            }
        }
        if self.update_rate > 0.0 && self.dataset_points <= self.initial + self.total {
            return Err(invalid(
                "update rate",
                self.update_rate,
                format!(
                    "an update gives a point the vector of a row past the {} initial and inserted ones, and the dataset has no more; make it larger with --points",
                    self.initial + self.total
                ),
            ));
        }
        if self.freshness_every == 0 {
            return Err(invalid(
                "freshness sample",
                0,
                "follow every n-th batch, n >= 1 (example: --freshness-sample 5)",
            ));
        }
        if self.queries == 0 || self.k == 0 {
            return Err(invalid(
                "queries",
                format!("{} queries, k = {}", self.queries, self.k),
                "both must be at least 1",
            ));
        }
        Ok(())
    }

    /// Batches of the inserts.
    pub fn batches(&self) -> usize {
        self.total.div_ceil(self.batch)
    }

    /// The number of settled inserted points at which each stage ends (the last: `total`).
    pub fn stage_ends(&self) -> Vec<usize> {
        let per = ((self.total as f64 * self.stage).ceil() as usize).max(1);
        let mut ends: Vec<usize> = (1..)
            .map(|i| i * per)
            .take_while(|&e| e < self.total)
            .collect();
        ends.push(self.total);
        ends
    }
}

/// Searchable lag of one point: from `acked` until a search whose result contains `id`
/// returned. `search` runs one search for the point's own vector and returns the ids it
/// found; it is called every `interval` (measured from the previous call's start) until the id
/// is among them or `timeout` has passed since `acked` (`None`: never seen). Errors count as
/// "not returned". Returns the lag and the number of searches sent.
pub async fn searchable_lag<F, Fut>(
    id: u64,
    acked: Instant,
    interval: Duration,
    timeout: Duration,
    stop: &AtomicBool,
    mut search: F,
) -> (Option<Duration>, u64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u64>, StoreError>>,
{
    let mut sent = 0u64;
    loop {
        let started = Instant::now();
        sent += 1;
        let found = search().await;
        let answered = Instant::now();
        if found.is_ok_and(|ids| ids.contains(&id)) {
            return (Some(answered.saturating_duration_since(acked)), sent);
        }
        if answered.saturating_duration_since(acked) >= timeout || stop.load(Ordering::Relaxed) {
            return (None, sent);
        }
        tokio::time::sleep_until((started + interval).into()).await;
    }
}

pub use qdrant_perf_report::stream::{FreshSample, Lag};

fn lag_of(samples: &[&FreshSample], pick: impl Fn(&FreshSample) -> Option<f64>) -> Lag {
    let mut h = latency_histogram();
    let mut not_seen = 0;
    for s in samples {
        match pick(s) {
            Some(ms) => h.saturating_record(((ms * 1000.0) as u64).max(1)),
            None => not_seen += 1,
        }
    }
    Lag {
        ms: LatencySummary::from_histogram(&h),
        not_seen,
    }
}

/// One stage of a stream run, as measured; [`Stages::report`] turns it into a step of the
/// report's stream section and its run.
struct Stage {
    /// Its row of the report's `stream.steps` (`stage 3`): times from the start of the stream,
    /// the points acknowledged before it began (the recall truth's), the inserts acknowledged
    /// during it (latency from the due time), recall, its deletes and updates with
    /// --delete-rate or --update-rate; the freshness lags are filled in at the end.
    step: StreamStep,
    /// The driver's run of the stage's searches (labelled `stage 3`): latency, server time,
    /// errors, timeline, each server node's /metrics once a second.
    run: RunResult,
}

/// The limits a stream run is checked against.
#[derive(Clone, Debug)]
pub struct StreamLimits {
    /// p95 search latency during ingest (the config's latency target).
    pub p95_latency_ms: f64,
    pub recall_floor: f64,
    /// Searchable-lag p99, when given.
    pub freshness_ms: Option<f64>,
}

/// The checks of a plain stream's report (`command` stream, `stream.kind` stages): p95 during
/// ingest, recall per stage, freshness p99 when a limit is given, no stale result with churn.
pub fn set_checks(report: &mut Report, limits: &StreamLimits) {
    let collection = report.config["collection"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let latency = report.latency_ms.clone();
    let mut out = vec![if latency.samples > 0 {
        Check::measured(
            "latency_p95_during_ingest",
            &collection,
            latency.p95_ms,
            "ms",
            Bound::Below,
            limits.p95_latency_ms,
            latency.samples,
        )
    } else {
        Check::not_run(
            "latency_p95_during_ingest",
            &collection,
            "ms",
            Bound::Below,
            limits.p95_latency_ms,
            "no search answered",
        )
    }];
    let section = report.stream.clone().unwrap_or_default();
    for s in &section.steps {
        out.push(match s.recall_at_10 {
            Some(r) => Check::measured(
                "recall_at_10",
                &s.label,
                r.value,
                "",
                Bound::AtLeast,
                limits.recall_floor,
                r.samples,
            )
            .with_note(format!(
                "truth: {} points acked before the stage",
                s.points_present
            )),
            None => Check::not_run(
                "recall_at_10",
                &s.label,
                "",
                Bound::AtLeast,
                limits.recall_floor,
                "no search answered in this stage",
            ),
        });
    }
    if let Some(limit) = limits.freshness_ms {
        let searchable = section
            .freshness
            .as_ref()
            .map(|f| f.searchable.clone())
            .unwrap_or_default();
        let n = searchable.ms.samples;
        out.push(if searchable.not_seen > 0 {
            Check::failed_without_value(
                "freshness_p99",
                &collection,
                "ms",
                Bound::AtMost,
                limit,
                &format!(
                    "{} of {} followed points were not returned by a search within the timeout",
                    searchable.not_seen,
                    n + searchable.not_seen
                ),
            )
        } else if n == 0 {
            Check::not_run(
                "freshness_p99",
                &collection,
                "ms",
                Bound::AtMost,
                limit,
                "no point was followed",
            )
        } else {
            Check::measured(
                "freshness_p99",
                &collection,
                searchable.ms.p99_ms,
                "ms",
                Bound::AtMost,
                limit,
                n,
            )
            .with_note("searchable lag")
        });
    }
    if section.steps.iter().any(|s| s.churn.is_some()) {
        out.push(Check::measured(
            "stale_results",
            &collection,
            section.stale_results as f64,
            "",
            Bound::AtMost,
            0.0,
            report.runs.iter().map(|r| r.ok).sum(),
        ));
    }
    report.set_checks(out, false);
}

/// One insert request, once settled.
#[derive(Clone, Debug)]
struct Settled {
    batch: usize,
    at: Instant,
    /// From its due time.
    latency: Duration,
    ok: bool,
}

#[derive(Default)]
struct Inserts {
    settled: Mutex<Vec<Settled>>,
    settled_points: AtomicUsize,
    acked_points: AtomicUsize,
    errors: Mutex<BTreeMap<String, ErrorTally>>,
    send_lag_us: AtomicU64,
    /// Every batch sent has settled (or Ctrl-C stopped the sending).
    finished: AtomicBool,
}

impl Inserts {
    /// Counts a failed insert under its kind of error, keeping the first example.
    fn record_error(&self, e: StoreError) {
        let e = crate::target::store_error(e);
        driver::tally(&mut lock(&self.errors), &e.kind, 1, &e.message);
    }

    /// Records a settled batch of `n` points; returns the points acknowledged so far.
    fn settle(&self, batch: Settled, n: usize) -> usize {
        let mut settled = lock(&self.settled);
        let ok = batch.ok;
        settled.push(batch);
        if ok {
            self.acked_points.fetch_add(n, Ordering::SeqCst);
        }
        self.settled_points.fetch_add(n, Ordering::SeqCst);
        self.acked_points.load(Ordering::SeqCst)
    }
}

/// A followed point waiting for the index to cover it.
struct Pending {
    sample: usize,
    position: usize,
    acked: Instant,
}

/// Runs a stream on `store` (a server, or the embedded engine in a scratch directory) over
/// `dataset` (at least `initial + total` points): creates the collection, loads and indexes the
/// initial points, streams, and drops the collection on every path. After a Ctrl-C (`stop`)
/// the result holds the stages measured so far, the one cut short marked partial.
pub async fn run_stream(
    store: Arc<AnyStore>,
    opts: &StreamOptions,
    dataset: &Dataset,
    monitor: &Monitor,
    stop: &StopSignal,
) -> Result<(Report, Vec<String>), LoadError> {
    opts.validate()?;
    if dataset.points.len() < opts.initial + opts.total {
        return Err(invalid(
            "total",
            opts.total,
            format!(
                "the dataset has {} points, fewer than {} initial + {} inserted",
                dataset.points.len(),
                opts.initial,
                opts.total
            ),
        ));
    }
    let name = qdrant_perf_store::Guard::default().name_for(&format!(
        "stream_{}_{}",
        opts.name,
        std::process::id()
    ));
    let spec = CollectionSpec::new(name.clone(), opts.dim, opts.metric).with_hnsw(opts.hnsw);
    let mut notes = Vec::new();
    let result = stream_on(
        store.clone(),
        opts,
        dataset,
        &spec,
        monitor,
        stop,
        &mut notes,
    )
    .await;
    notes.push(crate::setup::drop_unless_kept(&store, &name).await);
    result.map(|r| (r, notes))
}

#[allow(clippy::too_many_arguments)]
async fn stream_on(
    store: Arc<AnyStore>,
    opts: &StreamOptions,
    dataset: &Dataset,
    spec: &CollectionSpec,
    monitor: &Monitor,
    stop: &StopSignal,
    notes: &mut Vec<String>,
) -> Result<Report, LoadError> {
    let (queries, truth) = load_initial(&store, opts, dataset, spec, notes).await?;
    // Nothing inserted or followed yet; the first batch due in 20 ms.
    let t0 = Instant::now() + Duration::from_millis(20);
    let state = StreamState {
        churn: (opts.delete_rate > 0.0 || opts.update_rate > 0.0).then(|| {
            Arc::new(ChurnState::new(
                opts.initial + opts.total,
                opts.initial,
                opts.initial + opts.total,
                opts.dataset_points.min(dataset.points.len()),
                opts.churn_seed,
                t0,
            ))
        }),
        store,
        name: spec.name.clone(),
        points: Arc::new(dataset.points.head(opts.dataset_points)),
        inserts: Arc::default(),
        samples: Arc::default(),
        pending: Arc::default(),
        current_stage: Arc::new(AtomicUsize::new(1)),
        probes_stop: Arc::default(),
        probes: Arc::default(),
        indexer_done: Arc::default(),
        t0,
    };

    // The inserts: batch j due at t0 + j * batch / insert_rate.
    let inserter = tokio::spawn(insert_all(state.clone(), opts.clone(), stop.clone()));

    // Deletes and updates of initial points beside the inserts, until the stages are done.
    let churn_done = Arc::new(AtomicBool::new(false));
    let churn_writers: Vec<_> = [(true, opts.delete_rate), (false, opts.update_rate)]
        .into_iter()
        .filter(|&(_, rate)| rate > 0.0)
        .filter_map(|(delete, rate)| {
            let churn = state.churn.clone()?;
            Some(tokio::spawn(crate::stream_churn::churn_writes(
                state.store.clone(),
                state.name.clone(),
                churn,
                state.points.clone(),
                delete,
                rate,
                opts.batch,
                churn_done.clone(),
                stop.clone(),
            )))
        })
        .collect();

    // The indexed count: polled on a server; the optimizer run pass after pass on the
    // embedded engine.
    let indexer = tokio::spawn(poll_indexed(state.clone(), opts.index_poll));

    // The stages: the truth covers the initial points at first.
    let mut present = vec![false; opts.initial + opts.total];
    present[..opts.initial].fill(true);
    let mut stages = Stages {
        state: &state,
        opts,
        queries,
        monitor,
        stop,
        truth,
        merged_settled: 0,
        churn_applied: Vec::new(),
        acked_at_start: opts.initial,
        present,
        truth_time: Duration::ZERO,
        search_latency: latency_histogram(),
        done: Vec::new(),
    };
    for (si, &end) in opts.stage_ends().iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        stages.run(si + 1, end).await?;
    }
    // Let the inserts and the followed points finish (or give up at their timeout), wait up to
    // the freshness timeout for the index to cover the followed points, then stop the indexer.
    if stop.is_stopped() {
        state.probes_stop.store(true, Ordering::SeqCst);
    }
    let _ = inserter.await;
    churn_done.store(true, Ordering::SeqCst);
    for w in churn_writers {
        let _ = w.await;
    }
    if let Some(churn) = &state.churn {
        let errors = lock(&churn.errors);
        for (kind, t) in errors.iter() {
            notes.push(format!(
                "{} delete/update requests failed ({kind}): {}",
                t.count, t.example
            ));
        }
        let settled = lock(&churn.settled);
        let count = |d: bool| -> usize {
            settled
                .iter()
                .filter(|s| s.ok && s.delete == d)
                .map(|s| s.ids.len())
                .sum()
        };
        notes.push(format!(
            "churn: {} initial points deleted and {} updated (each at most once, seed {})",
            count(true),
            count(false),
            opts.churn_seed
        ));
    }
    let probes = std::mem::take(&mut *lock(&state.probes));
    for h in probes {
        let _ = h.await;
    }
    let index_deadline = Instant::now() + opts.freshness_timeout;
    while !stop.is_stopped() && Instant::now() < index_deadline && !lock(&state.pending).is_empty()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    state.indexer_done.store(true, Ordering::SeqCst);
    let index_errors = indexer.await.unwrap_or(0);
    if index_errors > 0 {
        notes.push(format!(
            "{index_errors} reads of the indexed vector count failed (those polls were skipped)"
        ));
    }
    notes.push(format!(
        "incremental truth: {:.3} s merging {} inserted points over {} stages",
        stages.truth_time.as_secs_f64(),
        stages.truth.merged() - opts.initial,
        stages.done.len()
    ));
    let lag_us = state.inserts.send_lag_us.load(Ordering::Relaxed);
    notes.push(format!(
        "insert scheduler: latest batch sent {:.1} ms after its due time (at most {} insert requests in flight)",
        lag_us as f64 / 1e3,
        opts.insert_in_flight
    ));
    Ok(stages.report())
}

/// Loads the first `initial` points into a new collection and indexes them, before anything is
/// timed; then the stream's queries and their exact truth over those points, from which it is
/// kept batch by batch. Notes how long each took.
async fn load_initial(
    store: &AnyStore,
    opts: &StreamOptions,
    dataset: &Dataset,
    spec: &CollectionSpec,
    notes: &mut Vec<String>,
) -> Result<(Vec<Query>, IncrementalTruth), LoadError> {
    let name = &spec.name;
    let initial = dataset.points.head(opts.initial);
    let loaded = fixture::load_collection(store, spec, &initial, DEFAULT_BATCH)
        .await
        .map_err(|e| LoadError::setup(name, e))?;
    let note = format!(
        "{name}: {} initial points x {} dims loaded in {:.1} s and indexed in {:.1} s ({} of {} vectors indexed, {} segments)",
        opts.initial,
        opts.dim,
        loaded.upload_seconds,
        loaded.index.seconds,
        loaded.index.indexed_vectors,
        loaded.index.points,
        loaded.index.segments
    );
    if opts.progress {
        eprintln!("{note}");
    }
    notes.push(note);
    let queries_v = dataset
        .queries
        .head(opts.queries.min(dataset.queries.len()));
    let queries = fixture::queries(&queries_v, opts.k, Some(opts.ef));
    let started = Instant::now();
    let mut truth = IncrementalTruth::new(queries_v, opts.k, opts.metric)?;
    let initial_ids: Vec<u32> = (0..opts.initial as u32).collect();
    truth.merge(&initial_ids, &initial)?;
    notes.push(format!(
        "exact truth of the {} initial points for {} queries: {:.2} s (then merged batch by batch)",
        opts.initial,
        truth.queries(),
        started.elapsed().as_secs_f64()
    ));
    Ok((queries, truth))
}

/// What the inserter, the freshness probes, the indexer and the stages share.
#[derive(Clone)]
struct StreamState {
    store: Arc<AnyStore>,
    name: String,
    /// The initial points, then the ones the stream inserts.
    points: Arc<Vectors>,
    inserts: Arc<Inserts>,
    samples: Arc<Mutex<Vec<FreshSample>>>,
    pending: Arc<Mutex<Vec<Pending>>>,
    /// The stage running now: a followed point counts in the stage its insert was acknowledged in.
    current_stage: Arc<AtomicUsize>,
    probes_stop: Arc<AtomicBool>,
    probes: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// Set once the followed points are done with: the indexer reads the count once more and
    /// stops.
    indexer_done: Arc<AtomicBool>,
    /// Deletes and updates beside the inserts (--delete-rate, --update-rate).
    churn: Option<Arc<ChurnState>>,
    /// When the first batch is due; the report's times count from here.
    t0: Instant,
}

/// Sends every batch when due (at most `insert_in_flight` outstanding; a batch that waits for
/// one records its lateness), each as a task of its own that records how it settled and follows
/// its first point when the batch is one of every `freshness_every` and was acknowledged; stops
/// sending on Ctrl-C. Marks the inserts finished once every batch sent has settled.
async fn insert_all(state: StreamState, opts: StreamOptions, stop: StopSignal) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(opts.insert_in_flight.max(1)));
    let mut tasks = Vec::new();
    for j in 0..opts.batches() {
        let due = state.t0 + Duration::from_secs_f64((j * opts.batch) as f64 / opts.insert_rate);
        tokio::time::sleep_until(due.into()).await;
        if stop.is_stopped() {
            break;
        }
        let permit = in_flight.clone().acquire_owned().await.expect("open");
        let lag = Instant::now().saturating_duration_since(due);
        state
            .inserts
            .send_lag_us
            .fetch_max(lag.as_micros() as u64, Ordering::Relaxed);
        let first = opts.initial + j * opts.batch;
        let end = (first + opts.batch).min(opts.initial + opts.total);
        let batch: Vec<Point> = (first..end)
            .map(|i| Point {
                id: i as u64,
                vector: state.points.row(i).to_vec(),
                payload: None,
            })
            .collect();
        let (state, opts) = (state.clone(), opts.clone());
        tasks.push(tokio::spawn(async move {
            let r = state.store.upsert(&state.name, &batch).await;
            let at = Instant::now();
            drop(permit);
            let ok = r.is_ok();
            if let Err(e) = r {
                state.inserts.record_error(e);
            }
            let settled = Settled {
                batch: j,
                at,
                latency: at.saturating_duration_since(due),
                ok,
            };
            let position = opts.initial + state.inserts.settle(settled, batch.len());
            if ok && j.is_multiple_of(opts.freshness_every) {
                follow(state, opts, first, at, position);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    state.inserts.finished.store(true, Ordering::SeqCst);
}

/// Follows point `first`, acknowledged at `at` as the `position`-th point stored: adds its
/// freshness sample, leaves it to the indexer until the index covers it, and spawns the probe
/// that searches for it until a search returns it.
fn follow(state: StreamState, opts: StreamOptions, first: usize, at: Instant, position: usize) {
    let id = first as u64;
    let sample = {
        let mut s = lock(&state.samples);
        s.push(FreshSample {
            id,
            stage: state.current_stage.load(Ordering::SeqCst),
            acked_s: at.saturating_duration_since(state.t0).as_secs_f64(),
            position,
            searchable_ms: None,
            probes: 0,
            indexed_ms: None,
        });
        s.len() - 1
    };
    lock(&state.pending).push(Pending {
        sample,
        position,
        acked: at,
    });
    let query = Query {
        ef: Some(opts.ef),
        ..Query::new(state.points.row(first).to_vec(), 10)
    };
    let probes = state.probes.clone();
    let probe = tokio::spawn(async move {
        let (lag, sent) = searchable_lag(
            id,
            at,
            opts.probe_interval,
            opts.freshness_timeout,
            &state.probes_stop,
            || {
                let (store, name, query) = (&state.store, &state.name, &query);
                async move {
                    store
                        .search(name, query)
                        .await
                        .map(|r| r.hits.iter().map(|h| h.id).collect())
                }
            },
        )
        .await;
        let mut s = lock(&state.samples);
        s[sample].searchable_ms = lag.map(|d| d.as_secs_f64() * 1e3);
        s[sample].probes = sent;
    });
    lock(&probes).push(probe);
}

/// Reads the indexed vector count every `poll` and records the indexed lag of each followed point
/// it covers, until `indexer_done` is set (then reads once more); returns how many reads failed.
async fn poll_indexed(state: StreamState, poll: Duration) -> u64 {
    let mut errors = 0u64;
    loop {
        let finished = state.indexer_done.load(Ordering::SeqCst);
        let indexed = indexed_count(&state.store, &state.name).await;
        let now = Instant::now();
        match indexed {
            Ok(count) => {
                // Deleted points leave the count: add back those acknowledged so far, so a
                // followed point's position is still reached.
                let count = count
                    + state.churn.as_ref().map_or(0, |c| {
                        lock(&c.settled)
                            .iter()
                            .filter(|s| s.ok && s.delete)
                            .map(|s| s.ids.len())
                            .sum()
                    });
                let mut p = lock(&state.pending);
                let mut s = lock(&state.samples);
                p.retain(|w| {
                    if count >= w.position {
                        s[w.sample].indexed_ms =
                            Some(now.saturating_duration_since(w.acked).as_secs_f64() * 1e3);
                        false
                    } else {
                        true
                    }
                });
            }
            Err(_) => errors += 1,
        }
        if finished {
            return errors;
        }
        tokio::time::sleep(poll).await;
    }
}

/// A stage's searches: scored among the points its truth covers, and with churn, stale
/// results caught ([`crate::stream_churn`]).
enum StageTarget {
    Plain(Arc<StoreTarget<AnyStore>>),
    Churn(Arc<ChurnStageTarget<AnyStore>>),
}

/// The stages, run one after another: what each reads, the truth carried from one stage's start
/// to the next, and what they measured.
struct Stages<'a> {
    state: &'a StreamState,
    opts: &'a StreamOptions,
    queries: Vec<Query>,
    monitor: &'a Monitor,
    stop: &'a StopSignal,
    truth: IncrementalTruth,
    /// Settled batches merged into the truth so far.
    merged_settled: usize,
    /// Which settled delete and update batches are applied to the truth.
    churn_applied: Vec<bool>,
    acked_at_start: usize,
    // Which points the stage-start truth covers: the initial ones and every acknowledged batch.
    present: Vec<bool>,
    truth_time: Duration,
    /// Every stage's search latencies.
    search_latency: hdrhistogram::Histogram<u64>,
    done: Vec<Stage>,
}

impl Stages<'_> {
    /// Runs stage `stage_no`: searches at the search rate, scored against the truth at its start,
    /// until `end` inserted points have settled; records it and its searches' latencies.
    async fn run(&mut self, stage_no: usize, end: usize) -> Result<(), LoadError> {
        let (state, opts, stop) = (self.state, self.opts, self.stop);
        state.current_stage.store(stage_no, Ordering::SeqCst);
        let (stage_start, target) = self.start()?;
        // The stage ends when `end` inserted points have settled (or on Ctrl-C, or when the
        // inserter is done: a failed batch never settles as acked).
        let stage_stop = StopSignal::new();
        let watcher = {
            let (stage_stop, stop, inserts) =
                (stage_stop.clone(), stop.clone(), state.inserts.clone());
            tokio::spawn(async move {
                loop {
                    if stop.is_stopped()
                        || inserts.settled_points.load(Ordering::SeqCst) >= end
                        || inserts.finished.load(Ordering::SeqCst)
                    {
                        stage_stop.stop();
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        };
        let mut plan = LoadPlan::open(opts.search_rate, Duration::from_secs(24 * 3600));
        plan.label = format!("stage {stage_no}");
        plan.progress = false;
        let (result, churn_target) = match target {
            StageTarget::Plain(t) => (
                driver::run_monitored(t, &plan, &stage_stop, self.monitor).await,
                None,
            ),
            StageTarget::Churn(t) => (
                driver::run_monitored(t.clone(), &plan, &stage_stop, self.monitor).await,
                Some(t),
            ),
        };
        watcher.abort();
        let result = result?;
        let stage_end = Instant::now();
        let partial = stop.is_stopped();
        // Inserts acknowledged during the stage: their points and latency, and the failed ones.
        let (mut inserted, mut insert_errors, mut insert_hist) = (0, 0, latency_histogram());
        for s in lock(&state.inserts.settled)
            .iter()
            .filter(|s| s.at >= stage_start && s.at < stage_end)
        {
            if s.ok {
                let first = opts.initial + s.batch * opts.batch;
                inserted += (first + opts.batch).min(opts.initial + opts.total) - first;
                insert_hist.saturating_record((s.latency.as_micros() as u64).max(1));
            } else {
                insert_errors += 1;
            }
        }
        let secs = stage_end
            .saturating_duration_since(stage_start)
            .as_secs_f64()
            .max(1e-9);
        let churn = churn_target.map(|t| {
            let churn = state.churn.as_ref().expect("a churn target has churn");
            let settled = lock(&churn.settled);
            let mine: Vec<_> = settled
                .iter()
                .filter(|s| s.at >= stage_start && s.at < stage_end)
                .collect();
            let count = |d: bool| -> usize {
                mine.iter()
                    .filter(|s| s.ok && s.delete == d)
                    .map(|s| s.ids.len())
                    .sum()
            };
            let (deleted, updated) = (count(true), count(false));
            StageChurn {
                deleted,
                delete_rate: deleted as f64 / secs,
                updated,
                update_rate: updated as f64 / secs,
                write_errors: mine.iter().filter(|s| !s.ok).count() as u64,
                stale_results: t.stale.load(Ordering::Relaxed),
                in_flight_results: t.in_flight.load(Ordering::Relaxed),
            }
        });
        let step = StreamStep {
            step: stage_no,
            label: format!("stage {stage_no}"),
            operation: "insert".into(),
            start_s: stage_start
                .saturating_duration_since(state.t0)
                .as_secs_f64(),
            end_s: stage_end.saturating_duration_since(state.t0).as_secs_f64(),
            points_present: self.acked_at_start,
            written: inserted,
            write_rate: inserted as f64 / secs,
            requested_write_rate: Some(opts.insert_rate),
            write_latency_ms: LatencySummary::from_histogram(&insert_hist),
            write_errors: insert_errors,
            write_errors_by_kind: BTreeMap::new(),
            recall_at_10: result.recall_at_10,
            stale_results: churn.as_ref().map_or(0, |c| c.stale_results),
            partial,
            churn,
            searchable: None,
            indexed: None,
        };
        // Into the interval log as soon as it is done, so a killed stream keeps it.
        if let Some(log) = self.monitor.intervals() {
            log.append_or_warn(&[Line::Step(Box::new(StepLine::of("stages", &step)))]);
        }
        self.done.push(Stage {
            step,
            run: result.clone(),
        });
        for o in &result.operations {
            self.search_latency.add(&o.histogram).expect("same bounds");
        }
        if opts.progress {
            eprintln!(
                "stage {stage_no}: {} points at start, {inserted} inserted, {} searches, p95 {:.2} ms, recall@10 {}",
                self.acked_at_start,
                result.ok,
                result.latency_ms.p95_ms,
                result
                    .recall_at_10
                    .map_or("-".into(), |r| format!("{:.4}", r.value))
            );
        }
        Ok(())
    }

    /// Snapshot: merges the batches settled before this instant into the truth; returns the
    /// stage's start and its searches, scored against that truth.
    fn start(&mut self) -> Result<(Instant, StageTarget), LoadError> {
        let (state, opts) = (self.state, self.opts);
        let (stage_start, new): (Instant, Vec<Settled>) = {
            let settled = lock(&state.inserts.settled);
            (Instant::now(), settled[self.merged_settled..].to_vec())
        };
        self.merged_settled += new.len();
        let merge_started = Instant::now();
        for s in new.iter().filter(|s| s.ok) {
            let first = opts.initial + s.batch * opts.batch;
            let last = (first + opts.batch).min(opts.initial + opts.total);
            let ids: Vec<u32> = (first as u32..last as u32).collect();
            let rows = Vectors::new(
                opts.dim,
                state.points.as_slice()[first * opts.dim..last * opts.dim].to_vec(),
            )?;
            self.truth.merge(&ids, &rows)?;
            self.present[first..last].fill(true);
            self.acked_at_start += ids.len();
        }
        // Deletes and updates acknowledged before the stage began.
        if let Some(churn) = &state.churn {
            let settled = lock(&churn.settled).clone();
            self.churn_applied.resize(settled.len(), false);
            for (i, c) in settled.iter().enumerate() {
                if self.churn_applied[i] || c.at >= stage_start {
                    continue;
                }
                self.churn_applied[i] = true;
                if !c.ok {
                    continue;
                }
                if c.delete {
                    self.truth.remove(&c.ids)?;
                    for &id in &c.ids {
                        self.present[id as usize] = false;
                    }
                    self.acked_at_start -= c.ids.len();
                } else {
                    let mut rows = Vec::with_capacity(c.rows.len() * opts.dim);
                    for &r in &c.rows {
                        rows.extend_from_slice(state.points.row(r as usize));
                    }
                    self.truth.replace(&c.ids, &Vectors::new(opts.dim, rows)?)?;
                }
            }
        }
        let snapshot = self.truth.snapshot();
        self.truth_time += merge_started.elapsed();
        if let Some(churn) = &state.churn {
            let prepared: Option<Vec<_>> = self
                .queries
                .iter()
                .map(|q| state.store.prepare(q))
                .collect();
            return Ok((
                stage_start,
                StageTarget::Churn(Arc::new(ChurnStageTarget {
                    store: state.store.clone(),
                    collection: state.name.clone(),
                    label: opts.name.clone(),
                    queries: Arc::new(self.queries.clone()),
                    prepared: Arc::new(prepared.unwrap_or_default()),
                    next_query: AtomicU64::new(0),
                    truth: Arc::new(snapshot),
                    covered: Arc::new(self.present.clone()),
                    churn: churn.clone(),
                    points: state.points.clone(),
                    metric: opts.metric,
                    stage_start_us: stage_start.saturating_duration_since(state.t0).as_micros()
                        as u64,
                    k: opts.k,
                    stale: AtomicU64::new(0),
                    in_flight: AtomicU64::new(0),
                })),
            ));
        }
        let collection = StoreCollection::new(
            opts.name.clone(),
            state.name.clone(),
            state.store.clone(),
            self.queries.clone(),
            snapshot,
            opts.search_rate,
        );
        // Scored against that truth among the points it covers.
        let target = Arc::new(StoreTarget {
            covered: Some(Arc::new(self.present.clone())),
            ..StoreTarget::new(vec![collection], opts.k)
        });
        Ok((stage_start, StageTarget::Plain(target)))
    }

    /// The stream's report in the suite's one model: one run per stage (`stage 3`), the
    /// stages' points, inserts, churn, recall and freshness in `stream` (kind `stages`), the
    /// headline latency over all stages' searches.
    fn report(self) -> Report {
        let (state, mut stages) = (self.state, self.done);
        let samples = std::mem::take(&mut *lock(&state.samples));
        for st in &mut stages {
            let mine: Vec<&FreshSample> =
                samples.iter().filter(|s| s.stage == st.step.step).collect();
            st.step.searchable = Some(lag_of(&mine, |s| s.searchable_ms));
            st.step.indexed = Some(lag_of(&mine, |s| s.indexed_ms));
        }
        let all: Vec<&FreshSample> = samples.iter().collect();
        let freshness = Freshness {
            searchable: lag_of(&all, |s| s.searchable_ms),
            indexed: lag_of(&all, |s| s.indexed_ms),
            samples: samples.clone(),
        };
        let target = TargetInfo {
            kind: state.store.engine().name().to_string(),
            url: None,
            engine_version: Some(state.store.engine_version()),
        };
        let runs: Vec<RunResult> = stages.iter().map(|s| s.run.clone()).collect();
        let mut r = Report::new("stream", target, runs, None);
        r.partial = self.stop.is_stopped();
        r.latency_ms = LatencySummary::from_histogram(&self.search_latency);
        r.config = serde_json::json!({ "collection": state.name, "options": self.opts });
        r.stream = Some(StreamSection {
            kind: "stages".into(),
            runbook: None,
            stale_results: stages.iter().map(|s| s.step.stale_results).sum(),
            steps: stages.into_iter().map(|s| s.step).collect(),
            mean_recall: None,
            freshness: Some(freshness),
            write_errors_by_kind: lock(&state.inserts.errors).clone(),
        });
        r
    }
}

/// Recall@k of an answer against a truth computed over a subset of the collection (`covered`):
/// of the answer's first `k` ids, those the truth covers (m of them, in order) are compared with
/// the truth's first m. Points outside the subset (inserted after the truth was taken) neither
/// count as hits nor as misses; an exact search scores 1.0. `None` when the answer holds no
/// covered point.
pub fn recall_among(
    found: &[u64],
    truth: &[u32],
    k: usize,
    covered: impl Fn(u64) -> bool,
) -> Option<f64> {
    let kept: Vec<u64> = found[..k.min(found.len())]
        .iter()
        .copied()
        .filter(|&id| covered(id))
        .collect();
    (!kept.is_empty()).then(|| recall_at_k(&kept, truth, kept.len()))
}

/// The collection's indexed vector count: read from a server; on the embedded engine one pass
/// of its optimizer (in a blocking thread) and the count it leaves.
async fn indexed_count(store: &Arc<AnyStore>, name: &str) -> Result<usize, StoreError> {
    match &**store {
        AnyStore::Grpc(s) => Ok(s.sample_vectors(name, 1).await?.indexed_vectors),
        AnyStore::Rest(s) => Ok(s.sample_vectors(name, 1).await?.indexed_vectors),
        AnyStore::Edge(_) => {
            let (store, name) = (store.clone(), name.to_string());
            let handle = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || match handle.block_on(store.wait_indexed(&name)) {
                Ok(state) => Ok(state.indexed_vectors),
                // Points inserted while the pass ran are not in it: the error carries the count
                // the pass left.
                Err(StoreError::NotIndexed {
                    indexed_vectors, ..
                }) => Ok(indexed_vectors),
                Err(e) => Err(e),
            })
            .await
            .map_err(|e| StoreError::Engine {
                engine: "edge",
                op: "optimize",
                collection: "".into(),
                message: e.to_string(),
                node: None,
            })?
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_perf_report::run::RecallStat;

    fn ids(hidden: bool, id: u64) -> Vec<u64> {
        let mut v: Vec<u64> = (100..109).collect();
        if !hidden {
            v.push(id);
        }
        v
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_point_counts_findable_only_once_a_search_returned_it() {
        // A store stand-in that hides point 7 from the first 5 searches.
        let calls = AtomicU64::new(0);
        let acked = Instant::now();
        let interval = Duration::from_millis(15);
        let stop = AtomicBool::new(false);
        let (lag, sent) =
            searchable_lag(7, acked, interval, Duration::from_secs(30), &stop, || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move { Ok(ids(n < 5, 7)) }
            })
            .await;
        assert_eq!(sent, 6, "searched until the sixth search returned it");
        assert_eq!(calls.load(Ordering::SeqCst), 6);
        let lag = lag.expect("found");
        // Five searches that did not return it, each followed by the interval's wait.
        assert!(
            lag >= interval * 5,
            "lag {lag:?} counts the searches that missed it"
        );
    }

    #[test]
    fn points_inserted_after_the_truth_are_left_out_of_the_score() {
        // Truth over the points 0..100 (ids 100.. arrived later): the exact top-4 is 7, 3, 9, 1.
        let truth = [7u32, 3, 9, 1];
        let old = |id: u64| id < 100;
        // An exact answer that also found two newer, nearer points: 1.0, not 0.5.
        assert_eq!(recall_among(&[150, 7, 160, 3], &truth, 4, old), Some(1.0));
        // Two old points kept, compared with the truth's first two (7, 3): one hit of two.
        assert_eq!(recall_among(&[150, 7, 160, 9], &truth, 4, old), Some(0.5));
        // Only the first k ids of the answer count: 3 and 9 come after k = 2.
        assert_eq!(recall_among(&[7, 150, 3, 9], &truth, 2, old), Some(1.0));
        // All old and all wrong: 0.
        assert_eq!(recall_among(&[11, 12, 13, 14], &truth, 4, old), Some(0.0));
        // Nothing the truth covers: not scored.
        assert_eq!(recall_among(&[150, 160], &truth, 4, old), None);
        // With every point covered it is recall@k itself.
        assert_eq!(
            recall_among(&[7, 11, 9, 12], &truth, 4, |_| true),
            Some(recall_at_k(&[7, 11, 9, 12], &truth, 4))
        );
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_and_misses_never_count_as_found() {
        let calls = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let (lag, sent) = searchable_lag(
            7,
            Instant::now(),
            Duration::from_millis(5),
            Duration::from_millis(200),
            &stop,
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n.is_multiple_of(2) {
                        Err(StoreError::UnknownCollection {
                            name: "perf_x".into(),
                            known: Vec::new(),
                        })
                    } else {
                        Ok(ids(true, 7))
                    }
                }
            },
        )
        .await;
        assert_eq!(lag, None, "never returned, never found");
        assert!(
            sent >= 2,
            "it kept searching until the timeout ({sent} searches)"
        );
    }

    #[test]
    fn a_stream_report_is_checked_per_stage_with_freshness_and_stale_results() {
        let mut r = Report::new("stream", TargetInfo::default(), Vec::new(), None);
        r.config = serde_json::json!({ "collection": "perf_stream_x_1" });
        r.latency_ms = LatencySummary {
            samples: 10,
            p95_ms: 30.0,
            ..LatencySummary::default()
        };
        let step = |i: usize, recall: Option<f64>| StreamStep {
            step: i,
            label: format!("stage {i}"),
            points_present: 100 * i,
            recall_at_10: recall.map(|value| RecallStat { value, samples: 5 }),
            churn: Some(StageChurn::default()),
            ..StreamStep::default()
        };
        r.stream = Some(StreamSection {
            kind: "stages".into(),
            steps: vec![step(1, Some(0.95)), step(2, None)],
            stale_results: 3,
            freshness: Some(Freshness {
                searchable: Lag {
                    ms: LatencySummary {
                        samples: 4,
                        ..LatencySummary::default()
                    },
                    not_seen: 1,
                },
                ..Freshness::default()
            }),
            ..StreamSection::default()
        });
        let limits = StreamLimits {
            p95_latency_ms: 20.0,
            recall_floor: 0.9,
            freshness_ms: Some(1000.0),
        };
        set_checks(&mut r, &limits);
        let verdicts: Vec<(String, String, String)> = r
            .checks
            .iter()
            .map(|c| (c.name.clone(), c.collection.clone(), c.verdict.to_string()))
            .collect();
        let names: Vec<&str> = verdicts.iter().map(|v| v.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "latency_p95_during_ingest",
                "recall_at_10",
                "recall_at_10",
                "freshness_p99",
                "stale_results"
            ]
        );
        assert_eq!(verdicts[1].1, "stage 1");
        assert_eq!(verdicts[2].1, "stage 2");
        assert!(
            r.checks[1]
                .note
                .as_deref()
                .unwrap_or("")
                .contains("100 points")
        );
        let v = r.verdict.expect("a verdict");
        assert_eq!(v.exit_code, 1, "p95, unseen point and stale results fail");
        assert_eq!(v.not_run, 1, "stage 2 answered nothing");
    }

    #[test]
    fn stages_cut_the_inserts_and_the_last_ends_at_the_total() {
        let mut o = StreamOptions::new("deepcoder", 768);
        o.total = 15_000;
        assert_eq!(
            o.stage_ends(),
            (1..=10).map(|i| i * 1500).collect::<Vec<_>>()
        );
        o.stage = 0.3;
        assert_eq!(o.stage_ends(), vec![4500, 9000, 13500, 15000]);
        o.stage = 1.0;
        assert_eq!(o.stage_ends(), vec![15000]);
        o.total = 7;
        o.stage = 0.1;
        assert_eq!(o.stage_ends(), (1..=7).collect::<Vec<_>>());
        o.batch = 3;
        assert_eq!(o.batches(), 3);
    }

    #[test]
    fn bad_options_name_the_option_and_the_fix() {
        let ok = StreamOptions::new("deepcoder", 768);
        ok.validate().unwrap();
        let cases: Vec<(StreamOptions, &str, &str)> = vec![
            (
                StreamOptions {
                    insert_rate: 0.0,
                    ..ok.clone()
                },
                "insert rate",
                "at least a point per second",
            ),
            (
                StreamOptions {
                    total: 0,
                    ..ok.clone()
                },
                "total",
                "at least one point",
            ),
            (
                StreamOptions {
                    initial: 30_000,
                    ..ok.clone()
                },
                "initial",
                "the dataset has 20000 points",
            ),
            (
                StreamOptions {
                    total: 16_000,
                    ..ok.clone()
                },
                "total",
                "the dataset has 20000 points and 5000 are the initial ones, so at most 15000",
            ),
            (
                StreamOptions {
                    stage: 0.0,
                    ..ok.clone()
                },
                "stage",
                "(0, 1]",
            ),
            (
                StreamOptions {
                    stage: 1.5,
                    ..ok.clone()
                },
                "stage",
                "(0, 1]",
            ),
            (
                StreamOptions {
                    batch: 0,
                    ..ok.clone()
                },
                "batch",
                "at least one point",
            ),
            (
                StreamOptions {
                    freshness_every: 0,
                    ..ok.clone()
                },
                "freshness sample",
                "every n-th batch",
            ),
        ];
        for (o, what_expected, fix_part) in cases {
            match o.validate() {
                Err(LoadError::Invalid { what, fix, .. }) => {
                    assert_eq!(what, what_expected);
                    assert!(fix.contains(fix_part), "{what}: {fix}");
                }
                other => panic!("{what_expected}: expected an error, got {other:?}"),
            }
        }
    }
}
