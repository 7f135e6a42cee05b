//! `stream --runbook`: a big-ann-benchmarks streaming runbook ([`crate::runbook`]) run against
//! Qdrant with open-loop search beside it.
//!
//! The collection starts empty. The steps run one after another; during every step the load
//! driver searches at `search_rate` (open loop). An `insert`, `delete` or `replace` step sends
//! its points in batches of `batch`, due at open-loop times (`insert_rate`, `delete_rate`,
//! `update_rate` points per second), and ends once every batch has settled. A `search` step
//! searches for `search_step` and is scored: recall@k of every answer against the exact truth
//! over the points present (the tags alive after the steps before it, each with its current
//! vector), ties within 1e-6 (relative) of the k-th score accepted as big-ann-benchmarks does
//! ([`IncrementalTruth::recall_with_ties`]). The run's recall is the mean over search steps, as
//! big-ann scores it. The truth is kept incrementally: after each write step its acknowledged
//! batches are merged, removed or replaced ([`IncrementalTruth`]).
//!
//! **Stale results**: an answer that holds a point deleted, or a point replaced away (its
//! score is not the score of its current vector), whose delete or replace was acknowledged
//! before the search was sent, counts as a wrong result (a miss in the recall) and is counted
//! apart (`stale_results`). Points the running step itself writes are in flight: they are
//! neither stale nor scored (write steps are not scored for recall at all; every write of a
//! step before a search step is acknowledged before it starts).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use qdrant_perf_data::{Dataset, IncrementalTruth, Metric, Vectors};
use qdrant_perf_report::checks::{self, Bound, Check};
use qdrant_perf_report::intervals::{Line, StepLine};
use qdrant_perf_report::report::{Report, TargetInfo, VerdictSummary};
use qdrant_perf_report::run::{ErrorTally, RecallStat, RunResult, Second};
use qdrant_perf_report::server::ServerSide;
use qdrant_perf_report::stream::{StreamSection, StreamStep};
use qdrant_perf_report::{LatencySummary, Provenance, latency_histogram};
use qdrant_perf_store::fixture;
use qdrant_perf_store::{
    CollectionSpec, EncodedQuery, HnswParams, Point, Query, Store, StoreError,
};

use crate::driver::{
    self, Call, LoadError, LoadPlan, OpError, Outcome, StopSignal, Target, TargetCollection,
    invalid,
};
use crate::lock;
use crate::monitor::Monitor;
use crate::runbook::{Op, Runbook, Step};
use crate::target::{search_nth, store_error};

/// Ties within this (relative) of the k-th score count as hits, as in big-ann-benchmarks.
pub const TIE: f32 = 1e-6;

/// What a runbook run does.
#[derive(Clone, Debug, Serialize)]
pub struct ChurnOptions {
    /// The profile name (`deepcoder`): the collection is `perf_churn_<name>_<pid>`.
    pub name: String,
    pub dim: usize,
    pub metric: Metric,
    pub hnsw: HnswParams,
    /// Points per write request.
    pub batch: usize,
    /// Points per second of each write kind, open loop.
    pub insert_rate: f64,
    pub delete_rate: f64,
    pub update_rate: f64,
    /// Searches per second, open loop, through every step.
    pub search_rate: f64,
    /// How long a `search` step searches.
    #[serde(with = "qdrant_perf_report::run::secs")]
    pub search_step: Duration,
    pub queries: usize,
    pub k: usize,
    pub ef: usize,
    /// Write requests outstanding at once.
    pub in_flight: usize,
    #[serde(skip)]
    pub progress: bool,
}

impl ChurnOptions {
    pub fn new(name: &str, dim: usize) -> Self {
        Self {
            name: name.into(),
            dim,
            metric: Metric::Cosine,
            hnsw: HnswParams::default(),
            batch: 100,
            insert_rate: 1_000.0,
            delete_rate: 1_000.0,
            update_rate: 1_000.0,
            search_rate: 100.0,
            search_step: Duration::from_secs(5),
            queries: 1_000,
            k: 10,
            ef: 128,
            in_flight: 16,
            progress: false,
        }
    }

    /// Refuses what cannot run, naming the option and the fix.
    pub fn validate(&self) -> Result<(), LoadError> {
        for (what, v, flag) in [
            ("insert rate", self.insert_rate, "--insert-rate 1000"),
            ("delete rate", self.delete_rate, "--delete-rate 1000"),
            ("update rate", self.update_rate, "--update-rate 1000"),
            ("rate", self.search_rate, "--rate 100"),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(
                    what,
                    v,
                    format!("a runbook's steps need a rate > 0 (example: {flag})"),
                ));
            }
        }
        if self.batch == 0 {
            return Err(invalid(
                "batch",
                0,
                "a batch holds at least one point (example: --batch 100)",
            ));
        }
        if self.search_step.is_zero() {
            return Err(invalid(
                "search step duration",
                "0s",
                "a search step searches for some time (example: --search-step-duration 5s)",
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

    fn rate_of(&self, op: &Op) -> f64 {
        match op {
            Op::Insert { .. } => self.insert_rate,
            Op::Delete { .. } => self.delete_rate,
            Op::Replace { .. } => self.update_rate,
            Op::Search => 0.0,
        }
    }
}

/// One runbook step as measured: its row of the report's `stream.steps` and its searches.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepResult {
    /// The step (`step 3 delete`, stable across runs of the same runbook), its times from the
    /// start of the first step, the points present after it, its writes (acknowledged, per
    /// second, latency from the due time, errors), recall@10 against the exact truth over the
    /// points present (search steps; ties accepted), stale results and whether Ctrl-C cut it.
    #[serde(flatten)]
    pub stream: StreamStep,
    pub searches_ok: u64,
    pub search_errors: u64,
    pub search_rate: f64,
    pub requested_search_rate: f64,
    pub latency_ms: LatencySummary,
    /// Qdrant's own time of the same searches (a server only).
    pub server_latency_ms: Option<LatencySummary>,
    pub errors_by_kind: BTreeMap<String, ErrorTally>,
    pub timeline: Vec<Second>,
    pub server: Option<ServerSide>,
    /// The driver's run of the step's searches (labelled like the step), for the report model.
    #[serde(skip)]
    pub run: Option<RunResult>,
}

/// The runbook a run followed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunbookInfo {
    pub file: String,
    pub dataset: String,
    pub max_pts: usize,
    pub steps: usize,
    /// The file's `gt_url`, not used: the truth is computed exactly during the run.
    pub gt_url_ignored: Option<String>,
}

/// What a runbook run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChurnReport {
    pub command: String,
    pub partial: bool,
    pub target: TargetInfo,
    pub collection: String,
    pub runbook: RunbookInfo,
    pub options: serde_json::Value,
    pub steps: Vec<StepResult>,
    /// The mean of the search steps' recall@10 (big-ann's score of a runbook).
    pub mean_recall: Option<f64>,
    pub stale_results: u64,
    /// All steps' searches together.
    pub latency_ms: LatencySummary,
    pub server_latency_ms: Option<LatencySummary>,
    pub checks: Vec<Check>,
    pub verdict: Option<VerdictSummary>,
    pub setup: Vec<String>,
    pub provenance: Provenance,
}

impl ChurnReport {
    /// The suite's one report model: one run per step (labelled `step 3 delete`), the steps'
    /// points present, writes, recall and stale results in `stream`, the headline latency over
    /// all steps' searches and the headline recall the mean over search steps.
    pub fn to_report(&self) -> Report {
        let runs: Vec<RunResult> = self.steps.iter().filter_map(|s| s.run.clone()).collect();
        let mut r = Report::new("stream", self.target.clone(), runs, None);
        r.partial = self.partial;
        r.latency_ms = self.latency_ms.clone();
        r.recall_at_10 = self.mean_recall.map(|value| RecallStat {
            value,
            samples: self
                .steps
                .iter()
                .filter_map(|s| s.stream.recall_at_10.map(|r| r.samples))
                .sum(),
        });
        r.checks = self.checks.clone();
        r.verdict = self.verdict.clone();
        r.setup = self.setup.clone();
        r.config = serde_json::json!({
            "collection": self.collection,
            "runbook": self.runbook,
            "options": self.options,
        });
        r.stream = Some(StreamSection {
            kind: "runbook".into(),
            runbook: serde_json::to_value(&self.runbook).ok(),
            steps: self.steps.iter().map(|s| s.stream.clone()).collect(),
            mean_recall: self.mean_recall,
            stale_results: self.stale_results,
            ..StreamSection::default()
        });
        r
    }

    /// The checks: p95 over all steps, recall per search step, no stale result.
    pub fn set_checks(&mut self, p95_latency_ms: f64, recall_floor: f64) {
        let mut out = vec![if self.latency_ms.samples > 0 {
            Check::measured(
                "latency_p95_during_churn",
                &self.collection,
                self.latency_ms.p95_ms,
                "ms",
                Bound::Below,
                p95_latency_ms,
                self.latency_ms.samples,
            )
        } else {
            Check::not_run(
                "latency_p95_during_churn",
                &self.collection,
                "ms",
                Bound::Below,
                p95_latency_ms,
                "no search answered",
            )
        }];
        for s in self.steps.iter().filter(|s| s.stream.operation == "search") {
            out.push(match s.stream.recall_at_10 {
                Some(r) => Check::measured(
                    "recall_at_10",
                    &s.stream.label,
                    r.value,
                    "",
                    Bound::AtLeast,
                    recall_floor,
                    r.samples,
                )
                .with_note(format!("truth: {} points present", s.stream.points_present)),
                None => Check::not_run(
                    "recall_at_10",
                    &s.stream.label,
                    "",
                    Bound::AtLeast,
                    recall_floor,
                    "no search answered in this step",
                ),
            });
        }
        let searches: u64 = self.steps.iter().map(|s| s.searches_ok).sum();
        out.push(Check::measured(
            "stale_results",
            &self.collection,
            self.stale_results as f64,
            "",
            Bound::AtMost,
            0.0,
            searches,
        ));
        let (passed, failed, not_run) = checks::tally(&out);
        self.verdict = Some(VerdictSummary {
            passed,
            failed,
            not_run,
            strict: false,
            exit_code: checks::exit_code(&out, false),
        });
        self.checks = out;
    }
}

/// The searches of one step: every answer checked for stale results, and in a search step
/// scored against the truth over the points present.
struct ChurnTarget<S> {
    store: Arc<S>,
    collection: String,
    label: String,
    queries: Arc<Vec<Query>>,
    prepared: Arc<Vec<EncodedQuery>>,
    next_query: AtomicU64,
    /// The truth as of the step's start (every earlier write acknowledged).
    truth: Arc<IncrementalTruth>,
    /// Tags replaced by an earlier step (their score tells an old vector from the current).
    replaced: Arc<Vec<bool>>,
    /// The tags this step writes: in flight, neither stale nor scored.
    touched: std::ops::Range<u64>,
    scored: bool,
    k: usize,
    stale: AtomicU64,
}

impl<S: Store + 'static> Target for ChurnTarget<S> {
    fn collections(&self) -> Vec<TargetCollection> {
        vec![TargetCollection {
            name: self.label.clone(),
            qps: 1.0,
        }]
    }

    fn works_in_poll(&self) -> bool {
        self.store.engine() == qdrant_perf_store::Engine::Edge
    }

    async fn call(&self, call: Call) -> Result<Outcome, OpError> {
        let _ = call;
        let q =
            (self.next_query.fetch_add(1, Ordering::Relaxed) % self.queries.len() as u64) as usize;
        let r = search_nth(
            &*self.store,
            &self.collection,
            &self.queries,
            &self.prepared,
            q,
        )
        .await
        .map_err(store_error)?;
        let mut stale = 0;
        let ids: Vec<u64> = r
            .hits
            .iter()
            .map(|h| {
                if self.touched.contains(&h.id) {
                    return h.id;
                }
                let is_stale = match self.truth.score(q, h.id) {
                    None => true,
                    Some(s) => {
                        self.replaced.get(h.id as usize).copied().unwrap_or(false)
                            && (s - h.score).abs() > 1e-3 * s.abs().max(1.0)
                    }
                };
                if is_stale {
                    stale += 1;
                    u64::MAX
                } else {
                    h.id
                }
            })
            .collect();
        if stale > 0 {
            self.stale.fetch_add(stale, Ordering::Relaxed);
        }
        Ok(Outcome::hits(q, ids)
            .with_server_seconds(r.server_seconds)
            .from_node(r.node))
    }

    fn recall(&self, _collection: usize, query: usize, ids: &[u64]) -> Option<f64> {
        if !self.scored {
            return None;
        }
        self.truth.recall_with_ties(query, ids, self.k, TIE)
    }
}

/// Runs `runbook` on `store` over the rows of `dataset` (validated here again, before any
/// work): creates an empty collection, runs the steps, and drops the collection on every path.
/// After a Ctrl-C (`stop`) the report holds the steps measured so far. `file` names the
/// runbook in the report.
pub async fn run_runbook<S: Store + 'static>(
    store: Arc<S>,
    opts: &ChurnOptions,
    runbook: &Runbook,
    file: &str,
    dataset: &Dataset,
    monitor: &Monitor,
    stop: &StopSignal,
) -> Result<ChurnReport, LoadError> {
    opts.validate()?;
    let present = runbook
        .validate(dataset.points.len(), "--points")
        .map_err(|e| invalid("runbook", file, e.0))?;
    let name = qdrant_perf_store::Guard::default().name_for(&format!(
        "churn_{}_{}",
        opts.name,
        std::process::id()
    ));
    let spec = CollectionSpec::new(name.clone(), opts.dim, opts.metric).with_hnsw(opts.hnsw);
    let mut notes = Vec::new();
    let result = match store.create(&spec).await {
        Ok(_) => {
            run_steps(
                store.clone(),
                opts,
                runbook,
                dataset,
                &name,
                &present,
                monitor,
                stop,
                &mut notes,
            )
            .await
        }
        Err(e) => Err(LoadError::setup(&name, e)),
    };
    notes.push(crate::setup::drop_unless_kept(&*store, &name).await);
    let (steps, truth_s, recomputed) = result?;
    notes.push(format!(
        "incremental truth: {truth_s:.3} s applying the steps' writes ({recomputed} query recomputes after deletes and replaces)"
    ));
    let (steps, hists) = steps;
    Ok(ChurnReport {
        command: "stream --runbook".into(),
        partial: stop.is_stopped(),
        target: TargetInfo {
            kind: store.engine().name().to_string(),
            url: None,
            engine_version: None,
        },
        collection: name,
        runbook: RunbookInfo {
            file: file.into(),
            dataset: runbook.dataset.clone(),
            max_pts: runbook.max_pts,
            steps: runbook.steps.len(),
            gt_url_ignored: runbook.gt_url.clone(),
        },
        options: serde_json::to_value(opts).unwrap_or_default(),
        mean_recall: qdrant_perf_report::stream::mean_search_recall(
            steps.iter().map(|s| &s.stream),
        ),
        stale_results: steps.iter().map(|s| s.stream.stale_results).sum(),
        steps,
        latency_ms: LatencySummary::from_histogram(&hists.0),
        server_latency_ms: (!hists.1.is_empty()).then(|| LatencySummary::from_histogram(&hists.1)),
        checks: Vec::new(),
        verdict: None,
        setup: notes,
        provenance: Provenance::capture(),
    })
}

type Hist = hdrhistogram::Histogram<u64>;
type Steps = ((Vec<StepResult>, (Hist, Hist)), f64, usize);

/// One settled write request.
struct Settled {
    first: usize,
    n: usize,
    latency: Duration,
    /// Its kind of error and the message.
    error: Option<(String, String)>,
}

#[allow(clippy::too_many_arguments)]
async fn run_steps<S: Store + 'static>(
    store: Arc<S>,
    opts: &ChurnOptions,
    runbook: &Runbook,
    dataset: &Dataset,
    name: &str,
    present_after: &[usize],
    monitor: &Monitor,
    stop: &StopSignal,
    notes: &mut Vec<String>,
) -> Result<Steps, LoadError> {
    let queries_v = dataset
        .queries
        .head(opts.queries.min(dataset.queries.len()));
    let queries = Arc::new(fixture::queries(&queries_v, opts.k, Some(opts.ef)));
    let prepared: Option<Vec<EncodedQuery>> = queries.iter().map(|q| store.prepare(q)).collect();
    let prepared = Arc::new(prepared.unwrap_or_default());
    let mut truth = Arc::new(IncrementalTruth::new(queries_v, opts.k, opts.metric)?);
    let mut replaced = Arc::new(Vec::<bool>::new());
    let points = &dataset.points;
    let t0 = Instant::now();
    let mut truth_time = Duration::ZERO;
    let mut out = Vec::new();
    let (mut all_lat, mut all_server) = (latency_histogram(), latency_histogram());
    for (i, step) in runbook.steps.iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        let touched = match step.op {
            Op::Insert { start, end } | Op::Delete { start, end } => start as u64..end as u64,
            Op::Replace {
                tags_start,
                tags_end,
                ..
            } => tags_start as u64..tags_end as u64,
            Op::Search => 0..0,
        };
        let target = Arc::new(ChurnTarget {
            store: store.clone(),
            collection: name.to_string(),
            label: step.label(),
            queries: queries.clone(),
            prepared: prepared.clone(),
            next_query: AtomicU64::new(0),
            truth: truth.clone(),
            replaced: replaced.clone(),
            touched,
            scored: step.op == Op::Search,
            k: opts.k,
            stale: AtomicU64::new(0),
        });
        let step_stop = StopSignal::new();
        let started = Instant::now();
        // The step's writes, open loop, in a task of their own; the step's searches end when
        // they have all settled (a search step: after its duration).
        let writer = (step.op != Op::Search).then(|| {
            let (store, name, step, step_stop, stop) = (
                store.clone(),
                name.to_string(),
                step.clone(),
                step_stop.clone(),
                stop.clone(),
            );
            let rows = points.clone();
            let (batch, rate, in_flight) = (opts.batch, opts.rate_of(&step.op), opts.in_flight);
            tokio::spawn(async move {
                let settled =
                    write_step(store, &name, &step, &rows, batch, rate, in_flight, &stop).await;
                step_stop.stop();
                settled
            })
        });
        let mut plan = LoadPlan::open(
            opts.search_rate,
            if step.op == Op::Search {
                opts.search_step
            } else {
                Duration::from_secs(24 * 3600)
            },
        );
        plan.label = step.label();
        plan.progress = false;
        // A Ctrl-C ends the step's searches too.
        let watcher = {
            let (step_stop, stop) = (step_stop.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    if stop.is_stopped() {
                        step_stop.stop();
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let result = driver::run_monitored(target.clone(), &plan, &step_stop, monitor).await;
        watcher.abort();
        let settled = match writer {
            Some(w) => w.await.unwrap_or_default(),
            None => Vec::new(),
        };
        let result = result?;
        let ended = Instant::now();
        let stale = target.stale.load(Ordering::Relaxed);
        drop(target);
        // The acknowledged writes go into the truth.
        let applied = Instant::now();
        let (mut written, mut hist, mut errors, mut by_kind) =
            (0usize, latency_histogram(), 0u64, BTreeMap::new());
        {
            let t = Arc::make_mut(&mut truth);
            let rep = Arc::make_mut(&mut replaced);
            for s in &settled {
                hist.saturating_record((s.latency.as_micros() as u64).max(1));
                if let Some((kind, message)) = &s.error {
                    errors += 1;
                    driver::tally(&mut by_kind, kind, 1, message);
                    continue;
                }
                written += s.n;
                apply(t, rep, &step.op, s.first, s.n, points)?;
            }
        }
        truth_time += applied.elapsed();
        for o in &result.operations {
            all_lat.add(&o.histogram).expect("same bounds");
            all_server.add(&o.server_histogram).expect("same bounds");
        }
        let secs = ended
            .saturating_duration_since(started)
            .as_secs_f64()
            .max(1e-9);
        let r = StepResult {
            stream: StreamStep {
                step: step.number,
                label: step.label(),
                operation: step.op.name().into(),
                start_s: started.saturating_duration_since(t0).as_secs_f64(),
                end_s: ended.saturating_duration_since(t0).as_secs_f64(),
                points_present: truth.present(),
                written,
                write_rate: written as f64 / secs,
                requested_write_rate: (step.op != Op::Search).then(|| opts.rate_of(&step.op)),
                write_latency_ms: LatencySummary::from_histogram(&hist),
                write_errors: errors,
                write_errors_by_kind: by_kind,
                recall_at_10: result.recall_at_10,
                stale_results: stale,
                partial: stop.is_stopped(),
                ..StreamStep::default()
            },
            searches_ok: result.ok,
            search_errors: result.errors,
            search_rate: result.throughput_ops_s,
            requested_search_rate: opts.search_rate,
            latency_ms: result.latency_ms.clone(),
            server_latency_ms: result.server_latency_ms.clone(),
            errors_by_kind: result.errors_by_kind.clone(),
            timeline: result.timeline.clone(),
            server: result.server.clone(),
            run: Some(result.clone()),
        };
        if opts.progress {
            eprintln!(
                "{}: {} present (runbook: {}), {} written, {} searches, p95 {:.2} ms, recall@10 {}, stale {}",
                r.stream.label,
                r.stream.points_present,
                present_after[i],
                r.stream.written,
                r.searches_ok,
                r.latency_ms.p95_ms,
                r.stream
                    .recall_at_10
                    .map_or("-".into(), |x| format!("{:.4}", x.value)),
                r.stream.stale_results
            );
        }
        // Into the interval log as soon as it is done, so a killed run keeps it.
        if let Some(log) = monitor.intervals() {
            log.append_or_warn(&[Line::Step(Box::new(StepLine::of("runbook", &r.stream)))]);
        }
        out.push(r);
    }
    let _ = notes;
    let recomputed = truth.recomputed();
    Ok((
        (out, (all_lat, all_server)),
        truth_time.as_secs_f64(),
        recomputed,
    ))
}

/// Applies an acknowledged batch (`n` tags from `first`) of `op` to the truth.
fn apply(
    truth: &mut IncrementalTruth,
    replaced: &mut Vec<bool>,
    op: &Op,
    first: usize,
    n: usize,
    points: &Vectors,
) -> Result<(), LoadError> {
    let tags: Vec<u32> = (first as u32..(first + n) as u32).collect();
    let rows = |from: usize| {
        Vectors::new(
            points.dim(),
            points.as_slice()[from * points.dim()..(from + n) * points.dim()].to_vec(),
        )
    };
    match *op {
        Op::Insert { .. } => truth.merge(&tags, &rows(first)?)?,
        Op::Delete { .. } => truth.remove(&tags)?,
        Op::Replace {
            tags_start,
            ids_start,
            ..
        } => {
            truth.replace(&tags, &rows(ids_start + (first - tags_start))?)?;
            if replaced.len() < first + n {
                replaced.resize(first + n, false);
            }
            replaced[first..first + n].fill(true);
        }
        Op::Search => {}
    }
    Ok(())
}

/// Sends a write step's batches when due (at most `in_flight` outstanding), each a task of its
/// own; stops sending on Ctrl-C. Returns every settled batch.
#[allow(clippy::too_many_arguments)]
async fn write_step<S: Store + 'static>(
    store: Arc<S>,
    name: &str,
    step: &Step,
    rows: &Vectors,
    batch: usize,
    rate: f64,
    in_flight: usize,
    stop: &StopSignal,
) -> Vec<Settled> {
    let (tag0, n, row0) = match step.op {
        Op::Insert { start, end } => (start, end - start, start),
        Op::Delete { start, end } => (start, end - start, start),
        Op::Replace {
            tags_start,
            tags_end,
            ids_start,
            ..
        } => (tags_start, tags_end - tags_start, ids_start),
        Op::Search => return Vec::new(),
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
    let settled = Arc::new(Mutex::new(Vec::new()));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (j, off) in (0..n).step_by(batch).enumerate() {
        let due = t0 + Duration::from_secs_f64((j * batch) as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        if stop.is_stopped() {
            break;
        }
        let permit = sem.clone().acquire_owned().await.expect("open");
        let m = batch.min(n - off);
        let first = tag0 + off;
        let points: Vec<Point> = match step.op {
            Op::Delete { .. } => Vec::new(),
            _ => (0..m)
                .map(|i| Point {
                    id: (first + i) as u64,
                    vector: rows.row(row0 + off + i).to_vec(),
                    payload: None,
                })
                .collect(),
        };
        let (store, name, settled, is_delete) = (
            store.clone(),
            name.to_string(),
            settled.clone(),
            matches!(step.op, Op::Delete { .. }),
        );
        tasks.push(tokio::spawn(async move {
            let r = if is_delete {
                let ids: Vec<u64> = (first as u64..(first + m) as u64).collect();
                store.delete(&name, &ids).await
            } else {
                store.upsert(&name, &points).await
            };
            drop(permit);
            lock(&settled).push(Settled {
                first,
                n: m,
                latency: Instant::now().saturating_duration_since(due),
                error: r.err().map(|e: StoreError| {
                    let e = store_error(e);
                    (e.kind.to_string(), e.message.clone())
                }),
            });
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    std::mem::take(&mut *lock(&settled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_perf_data::{DatasetCache, DatasetSpec};
    use qdrant_perf_store::{
        AnyStore, BatchResponse, Created, Engine, Footprint, Guard, Hit, IndexState, SearchResponse,
    };

    const HAND: &str = "
hand:
  max_pts: 600
  1: {operation: insert, start: 0, end: 600}
  2: {operation: search}
  3: {operation: delete, start: 0, end: 300}
  4: {operation: search}
  5: {operation: replace, tags_start: 300, tags_end: 450, ids_start: 600, ids_end: 750}
  6: {operation: search}
";

    /// A real store whose answers, when `inject` is set, end with point `inject` (as a
    /// store that still returned a deleted point would).
    struct Injecting<S> {
        inner: S,
        inject: Option<u64>,
    }

    impl<S: Store> Store for Injecting<S> {
        fn engine(&self) -> Engine {
            self.inner.engine()
        }
        async fn create(&self, spec: &CollectionSpec) -> qdrant_perf_store::Result<Created> {
            self.inner.create(spec).await
        }
        async fn upsert(&self, name: &str, batch: &[Point]) -> qdrant_perf_store::Result<()> {
            self.inner.upsert(name, batch).await
        }
        async fn delete(&self, name: &str, ids: &[u64]) -> qdrant_perf_store::Result<()> {
            self.inner.delete(name, ids).await
        }
        async fn wait_indexed(&self, name: &str) -> qdrant_perf_store::Result<IndexState> {
            self.inner.wait_indexed(name).await
        }
        async fn search(
            &self,
            name: &str,
            query: &Query,
        ) -> qdrant_perf_store::Result<SearchResponse> {
            let mut r = self.inner.search(name, query).await?;
            if let Some(id) = self.inject {
                r.hits.pop();
                // A score no current vector has (cosine <= 1): as if from an old vector.
                r.hits.push(Hit {
                    id,
                    score: 10.0,
                    payload: None,
                });
            }
            Ok(r)
        }
        async fn search_batch(
            &self,
            name: &str,
            queries: &[Query],
        ) -> qdrant_perf_store::Result<BatchResponse> {
            self.inner.search_batch(name, queries).await
        }
        async fn count(&self, name: &str) -> qdrant_perf_store::Result<usize> {
            self.inner.count(name).await
        }
        async fn footprint(&self, name: &str) -> qdrant_perf_store::Result<Footprint> {
            self.inner.footprint(name).await
        }
        async fn drop_owned(&self, name: &str) -> qdrant_perf_store::Result<()> {
            self.inner.drop_owned(name).await
        }
    }

    fn opts() -> ChurnOptions {
        let mut o = ChurnOptions::new("test", 16);
        o.queries = 50;
        o.search_rate = 200.0;
        o.search_step = Duration::from_millis(500);
        o.insert_rate = 20_000.0;
        o.delete_rate = 20_000.0;
        o.update_rate = 20_000.0;
        o.batch = 50;
        o
    }

    async fn run(inject: Option<u64>) -> (ChurnReport, usize) {
        let dir = tempfile::tempdir().unwrap();
        let spec = DatasetSpec::new(16, 800).with_queries(50);
        let dataset =
            Dataset::load_or_generate(&spec, &DatasetCache::new(dir.path().join("cache"))).unwrap();
        let store = Arc::new(Injecting {
            inner: AnyStore::edge_scratch(dir.path().join("edge"), Guard::default()).unwrap(),
            inject,
        });
        let runbook = Runbook::from_yaml(HAND, None, "hand.yaml").unwrap();
        let report = run_runbook(
            store.clone(),
            &opts(),
            &runbook,
            "hand.yaml",
            &dataset,
            &Monitor::default(),
            &StopSignal::new(),
        )
        .await
        .unwrap();
        // The collection is gone.
        let left = store.inner.count(&report.collection).await.is_ok();
        (report, usize::from(left))
    }

    /// The hand-made runbook on the embedded engine (no index is built: exact segment search):
    /// every search step scores 1.0 against the truth over the points present, with no stale
    /// result, and the collection is dropped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hand_made_runbook_scores_each_search_step_on_the_embedded_engine() {
        let (r, left) = run(None).await;
        assert_eq!(left, 0, "the collection was dropped");
        let present: Vec<usize> = r.steps.iter().map(|s| s.stream.points_present).collect();
        assert_eq!(present, vec![600, 600, 300, 300, 300, 300]);
        let written: Vec<usize> = r.steps.iter().map(|s| s.stream.written).collect();
        assert_eq!(written, vec![600, 0, 300, 0, 150, 0]);
        for s in r.steps.iter().filter(|s| s.stream.operation == "search") {
            let rec = s.stream.recall_at_10.expect("scored");
            assert!(rec.samples > 0);
            assert!(rec.value > 0.99, "{}: recall {}", s.stream.label, rec.value);
            assert_eq!(s.stream.stale_results, 0, "{}", s.stream.label);
        }
        assert!(
            r.steps
                .iter()
                .all(|s| s.stream.operation == "search" || s.stream.recall_at_10.is_none())
        );
        assert!(r.mean_recall.unwrap() > 0.99);
        assert_eq!(r.steps[2].stream.label, "step 3 delete");
    }

    /// A store that returns deleted point 7 in every answer: caught as stale once its delete
    /// was acknowledged (steps 4 and 6), not before (step 2, where 7 is present), and scored
    /// as a miss.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_returning_a_deleted_point_is_caught() {
        let (r, left) = run(Some(7)).await;
        assert_eq!(left, 0);
        let by = |n: usize| &r.steps[n - 1];
        assert_eq!(by(2).stream.stale_results, 0, "7 is present in step 2");
        for n in [4, 6] {
            let s = by(n);
            assert!(s.searches_ok > 0);
            assert_eq!(
                s.stream.stale_results, s.searches_ok,
                "{}: one stale result per answer",
                s.stream.label
            );
            let rec = s.stream.recall_at_10.unwrap().value;
            assert!(
                rec <= 0.9 + 1e-9,
                "{}: the stale result is a miss ({rec})",
                s.stream.label
            );
        }
        assert_eq!(
            r.stale_results,
            r.steps.iter().map(|s| s.stream.stale_results).sum::<u64>()
        );
        assert!(r.stale_results > 0);
    }

    /// A store that answers with replaced point 310's old vector (its score is not the current
    /// vector's): stale only once the replace (step 5) was acknowledged, i.e. in step 6.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_returning_a_replaced_away_vector_is_caught() {
        let (r, left) = run(Some(310)).await;
        assert_eq!(left, 0);
        for n in [2, 4] {
            assert_eq!(
                r.steps[n - 1].stream.stale_results,
                0,
                "310 is not replaced yet"
            );
        }
        let s = &r.steps[5];
        assert!(s.searches_ok > 0);
        assert_eq!(
            s.stream.stale_results, s.searches_ok,
            "one stale result per answer"
        );
        assert_eq!(r.stale_results, s.stream.stale_results);
    }
}
