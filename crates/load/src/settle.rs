//! `settle`: how the deployment settles after an event, searched open loop.
//!
//! One collection of the suite's own (`perf_settle_<name>_<pid>`) goes through one event:
//! - **bulk-load**: the collection is created and all its points uploaded as fast as the server
//!   takes them (batches, a few requests in flight), without waiting for the index;
//! - **delete=P%**: the points are loaded and indexed (untimed), then P % of them (seeded random
//!   ids) deleted;
//! - **restart**: loaded and indexed, then the server is stopped and asked to start again (a
//!   private server the suite started, or the user's `--restart-command`); the searches begin
//!   the moment it was asked to start;
//! - **none**: loaded and indexed, nothing else (the control).
//!
//! Then one load-driver run searches at the collection's rate (open loop: latency counts from
//! each search's intended start, so a stalled server shows as latency, never as fewer
//! searches) until the optimizer is idle and every second of the settling window had its p95 at
//! most the target, or the time limit. The driver hands each second's histograms to an observer
//! ([`Monitor::with_observer`]) as it harvests them, from which the stop is decided and the
//! per-second series kept; the server's state is polled once a second from the start of the
//! event ([`qdrant_perf_store::remote::state`]). The embedded engine has no background
//! optimizer: its optimizer pass (the one `wait_indexed` runs) is run in a loop, one pass
//! after another, and each pass's result is its state (points, indexed vectors, segments; it
//! has no queue, no running optimizations and no status).
//!
//! Recall@10 is against the exact truth of the points present: the dataset's truth after a
//! bulk load, a restart or none; after a delete, the exact truth over the remaining points
//! (computed once, before anything is timed), so a deleted id is never a true neighbour.

use std::path::{Path, PathBuf};

use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use qdrant_perf_data::{Dataset, GroundTruth, Metric, ground_truth_filtered};
use qdrant_perf_report::intervals::{IntervalLog, Line, StateLine};
use qdrant_perf_report::run::{RecallStat, RunResult};
use qdrant_perf_report::settle::{
    SettleFigures, SettleRun, SettleSecond, StatePoll, back_under, drain_end,
};
use qdrant_perf_report::{LatencySummary, latency_histogram};
use qdrant_perf_store::fixture;
use qdrant_perf_store::remote::state::{CollectionState, StateReader};
use qdrant_perf_store::{AnyStore, CollectionSpec, HnswParams, Store, StoreError};

use crate::driver::{self, Call, LoadError, LoadPlan, OpError, OpKind, Outcome, StopSignal};
use crate::driver::{Target, TargetCollection, invalid};
use crate::lock;
use crate::monitor::Monitor;
use crate::target::{StoreCollection, StoreTarget};

/// The event a settle run measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum After {
    BulkLoad,
    /// The fraction of the points deleted, in (0, 1).
    Delete(f64),
    Restart,
    None,
}

impl FromStr for After {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s {
            "bulk-load" => return Ok(Self::BulkLoad),
            "restart" => return Ok(Self::Restart),
            "none" => return Ok(Self::None),
            _ => {}
        }
        if let Some(p) = s.strip_prefix("delete=") {
            let pct = p.trim_end_matches('%').trim().parse::<f64>().map_err(|_| {
                format!("{s:?}: delete=P% takes a percentage (example: --after delete=25%)")
            })?;
            if !(pct > 0.0 && pct < 100.0) {
                return Err(format!(
                    "{s:?}: the share deleted must be above 0 % and below 100 % (example: --after delete=25%)"
                ));
            }
            return Ok(Self::Delete(pct / 100.0));
        }
        Err(format!(
            "{s:?} is not an event: give bulk-load, delete=P% (e.g. delete=25%), restart or none"
        ))
    }
}

impl After {
    pub fn label(&self) -> String {
        match self {
            Self::BulkLoad => "bulk-load".into(),
            Self::Delete(f) => format!("delete={}%", f * 100.0),
            Self::Restart => "restart".into(),
            Self::None => "none".into(),
        }
    }
}

/// What a settle run does.
#[derive(Clone, Debug)]
pub struct SettleOptions {
    /// The profile name (`deepcoder`): the collection is `perf_settle_<name>_<pid>`.
    pub name: String,
    pub dim: usize,
    pub metric: Metric,
    pub hnsw: HnswParams,
    pub points: usize,
    pub queries: usize,
    pub k: usize,
    pub ef: usize,
    pub after: After,
    /// Searches per second, open loop.
    pub rate: f64,
    pub p95_target_ms: f64,
    /// p95 must stay under the target this long, with the optimizer idle.
    pub window: Duration,
    /// The searches end after this long (from the first search) if not settled before.
    pub max_time: Duration,
    /// Points per upsert request of a bulk load, and ids per delete request.
    pub batch: usize,
    /// Upsert requests in flight during a bulk load.
    pub in_flight: usize,
    /// Seed of the ids a delete picks.
    pub seed: u64,
    /// `optimizers_config.prevent_unoptimized` set on the collection (a server only).
    pub prevent_unoptimized: Option<bool>,
    /// `sync` and drop the page cache before the restart's start (root only).
    pub drop_caches: bool,
    pub progress: bool,
}

impl SettleOptions {
    /// Refuses what cannot run, naming the option and the fix, before any work.
    pub fn validate(&self) -> Result<(), LoadError> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(invalid(
                "rate",
                self.rate,
                "search at a rate > 0 (example: --rate 100)",
            ));
        }
        if self.points == 0 {
            return Err(invalid(
                "points",
                0,
                "load at least one point (example: --points 20000)",
            ));
        }
        if self.queries == 0 {
            return Err(invalid(
                "queries",
                0,
                "at least one query (example: --queries 1000)",
            ));
        }
        if self.window.is_zero() {
            return Err(invalid(
                "settle window",
                "0s",
                "p95 must stay under the target for a while (example: --settle-window 10s)",
            ));
        }
        if self.max_time < self.window {
            return Err(invalid(
                "max time",
                format!("{:?}", self.max_time),
                format!(
                    "it must be at least the settling window ({:?}); example: --max-time 10m",
                    self.window
                ),
            ));
        }
        if self.batch == 0 || self.in_flight == 0 {
            return Err(invalid(
                "batch",
                format!("batch {}, in flight {}", self.batch, self.in_flight),
                "both at least 1 (example: --batch 256)",
            ));
        }
        Ok(())
    }
}

/// How the server is restarted for `--after restart`.
pub enum Restarter {
    /// A server the suite started (`--qdrant-bin`): SIGTERM, then started again on the same
    /// storage.
    Own(PrivateServer),
    /// The user's command (`--restart-command`), run with `sh -c`; it stops and starts the
    /// server, and the suite polls until it answers.
    Command(String),
}

/// A Qdrant server the suite started from an executable, on free loopback ports, with its
/// storage in a temporary directory removed when it is dropped (after the process is stopped).
pub struct PrivateServer {
    bin: PathBuf,
    dir: PathBuf,
    pub http_port: u16,
    pub grpc_port: u16,
    child: Option<Child>,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl PrivateServer {
    /// Starts `bin` and waits (up to `timeout`) until `/readyz` answers.
    pub async fn start(bin: &Path, timeout: Duration) -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "qdrant-perf-settle-{}-{}",
            std::process::id(),
            free_port()?
        ));
        std::fs::create_dir_all(&dir)?;
        let mut s = Self {
            bin: bin.to_path_buf(),
            dir,
            http_port: free_port()?,
            grpc_port: free_port()?,
            child: None,
        };
        s.spawn()?;
        s.wait_ready(timeout).await?;
        Ok(s)
    }

    pub fn grpc_url(&self) -> String {
        format!("grpc://127.0.0.1:{}", self.grpc_port)
    }

    pub fn rest_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Starts the process (returns at once).
    pub fn spawn(&mut self) -> std::io::Result<()> {
        let storage = self.dir.join("storage");
        let child = Command::new(&self.bin)
            .current_dir(&self.dir)
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http_port.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc_port.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", &storage)
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                self.dir.join("snapshots"),
            )
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .env("QDRANT__LOG_LEVEL", "WARN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("qdrant.log"))?)
            .spawn()
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("starting {}: {e}", self.bin.display()))
            })?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until `/readyz` answers 200 (an error after `timeout`, or when the process exited).
    pub async fn wait_ready(&mut self, timeout: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/readyz", self.rest_url());
        loop {
            if ready(&url).await {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(std::io::Error::other(format!(
                    "{} exited ({status}) before it was ready; its log: {}",
                    self.bin.display(),
                    self.dir.join("qdrant.log").display()
                )));
            }
            if Instant::now() >= deadline {
                return Err(std::io::Error::other(format!(
                    "{} did not answer {url} within {timeout:?}",
                    self.bin.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM (Qdrant's graceful shutdown) and waits for the exit (SIGKILL after 60 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of a child this value owns and has not reaped.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// True when `url` (a `/readyz`) answers 200 within 2 s.
async fn ready(url: &str) -> bool {
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return false;
    };
    http.get(url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// `sync`, then 3 into /proc/sys/vm/drop_caches: the page cache, dentries and inodes dropped
/// (root only).
pub fn drop_caches() -> std::io::Result<()> {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3")
}

/// Whether this process may drop the page cache (checked before any work).
pub fn can_drop_caches() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/vm/drop_caches")
        .map(|_| ())
        .map_err(|e| {
            format!(
                "--drop-caches: cannot write /proc/sys/vm/drop_caches ({e}); dropping the page cache needs root: run as root, or leave --drop-caches out (the start is then warm: the segments may still be in the page cache)"
            )
        })
}

/// What a settle run reads and drives.
pub struct SettleEnv<'a> {
    pub store: Arc<AnyStore>,
    /// The server's REST state reads (`None`: the embedded engine).
    pub state: Option<StateReader>,
    pub restart: Option<&'a mut Restarter>,
    pub monitor: Monitor,
    pub stop: StopSignal,
}

/// Runs one settle on `env.store` over `dataset` (at least `opts.points` points), and drops the
/// collection on every path. Returns the driver's result of the searches and the settle run.
pub async fn run_settle(
    env: SettleEnv<'_>,
    opts: &SettleOptions,
    dataset: &Dataset,
    label: &str,
) -> Result<(RunResult, SettleRun), LoadError> {
    opts.validate()?;
    if dataset.points.len() < opts.points {
        return Err(invalid(
            "points",
            opts.points,
            format!("the dataset has {} points", dataset.points.len()),
        ));
    }
    if matches!(&*env.store, AnyStore::Edge(_)) {
        if opts.after == After::Restart {
            return Err(invalid(
                "after",
                "restart",
                "the embedded engine runs in this process and cannot be restarted: give --qdrant-bin PATH (the suite starts its own server) or --target URL with --restart-command CMD",
            ));
        }
        if opts.prevent_unoptimized.is_some() {
            return Err(invalid(
                "prevent unoptimized",
                "set",
                "prevent_unoptimized is an option of a Qdrant server's optimizer; the embedded engine has none: give --qdrant-bin PATH or --target URL",
            ));
        }
    }
    let name = qdrant_perf_store::Guard::default().name_for(&format!(
        "settle_{}_{}",
        opts.name,
        std::process::id()
    ));
    let spec = CollectionSpec::new(name.clone(), opts.dim, opts.metric).with_hnsw(opts.hnsw);
    let store = env.store.clone();
    let mut notes = Vec::new();
    let result = settle_on(env, opts, dataset, &spec, label, &mut notes).await;
    notes.push(crate::setup::drop_unless_kept(&store, &name).await);
    result.map(|(r, mut s)| {
        s.notes.extend(notes);
        (r, s)
    })
}

/// The ids a delete of `fraction` of `n` points removes (seeded, sorted) and the ids that
/// remain (sorted).
pub fn delete_ids(n: usize, fraction: f64, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut ids: Vec<u32> = (0..n as u32).collect();
    let mut x = seed ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // splitmix64
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        ids.swap(i, j);
    }
    let cut = ((n as f64 * fraction).round() as usize).min(n);
    let mut deleted = ids[..cut].to_vec();
    let mut kept = ids[cut..].to_vec();
    deleted.sort_unstable();
    kept.sort_unstable();
    (deleted, kept)
}

/// The ids a delete of `fraction` removes ([`delete_ids`]) and the exact top-`k` truth over the
/// points left (the existing subset truth, [`ground_truth_filtered`]): a deleted id is never a
/// true neighbour. Returns the truth, the deleted ids and the ids left.
pub fn truth_after_delete(
    points: &qdrant_perf_data::Vectors,
    queries: &qdrant_perf_data::Vectors,
    k: usize,
    metric: Metric,
    fraction: f64,
    seed: u64,
) -> Result<(GroundTruth, Vec<u32>, Vec<u32>), LoadError> {
    let (deleted, kept) = delete_ids(points.len(), fraction, seed);
    let truth = ground_truth_filtered(points, queries, k, metric, &kept, &|_| {})?;
    Ok((truth, deleted, kept))
}

/// The per-second figures the driver's observer hands over.
struct RawSecond {
    /// Seconds since the searches began, at the end of the second.
    elapsed_s: f64,
    secs: f64,
    client: Histogram<u64>,
    server: Histogram<u64>,
    errors: u64,
}

/// What the searches, the observer, the poller and the controller share.
struct Shared {
    event: Instant,
    seconds: Mutex<Vec<RawSecond>>,
    states: Mutex<Vec<StatePoll>>,
    /// Per second since the searches began: recall sum and count.
    recall: Mutex<Vec<(f64, u64)>>,
    /// Nanoseconds from the event to the first successful search (u64::MAX: none yet).
    first_answer_ns: AtomicU64,
    search_start: Mutex<Option<Instant>>,
}

/// The store target with the first answer and each second's recall recorded.
struct SettleTarget {
    inner: Arc<StoreTarget<AnyStore>>,
    shared: Arc<Shared>,
}

impl Target for SettleTarget {
    fn collections(&self) -> Vec<TargetCollection> {
        self.inner.collections()
    }
    fn supports(&self, op: OpKind) -> bool {
        self.inner.supports(op)
    }
    async fn call(&self, call: Call) -> Result<Outcome, OpError> {
        let r = self.inner.call(call).await;
        if r.is_ok() {
            let ns = self.shared.event.elapsed().as_nanos() as u64;
            self.shared.first_answer_ns.fetch_min(ns, Ordering::Relaxed);
        }
        r
    }
    fn recall(&self, collection: usize, query: usize, ids: &[u64]) -> Option<f64> {
        let r = self.inner.recall(collection, query, ids)?;
        let start = *lock(&self.shared.search_start);
        if let Some(start) = start {
            let k = start.elapsed().as_secs() as usize;
            let mut rec = lock(&self.shared.recall);
            if rec.len() <= k {
                rec.resize(k + 1, (0.0, 0));
            }
            rec[k].0 += r;
            rec[k].1 += 1;
        }
        Some(r)
    }
    fn works_in_poll(&self) -> bool {
        self.inner.works_in_poll()
    }
}

fn poll_of(t_s: f64, s: CollectionState) -> StatePoll {
    let idle = s.optimizer_idle();
    let running = s.running.as_ref();
    StatePoll {
        t_s,
        status: s.status,
        optimizer_status: s.optimizer_status,
        points: s.points,
        indexed_vectors: s.indexed_vectors,
        segments: s.segments,
        update_queue: s.update_queue,
        deferred_points: s.deferred_points,
        queued_optimizations: s.queued_optimizations,
        queued_segments: s.queued_segments,
        queued_points: s.queued_points,
        running: running.map(|r| r.len() as u64),
        running_optimizers: running
            .map(|r| r.iter().map(|o| o.optimizer.clone()).collect())
            .unwrap_or_default(),
        running_done: running.and_then(|r| sum_present(r.iter().map(|o| o.done))),
        running_total: running.and_then(|r| sum_present(r.iter().map(|o| o.total))),
        idle,
        error: s.error,
    }
}

/// The sum of the values present; `None` when none is (the server did not say).
fn sum_present(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.flatten().fold(None, |a, v| Some(a.unwrap_or(0) + v))
}

/// Polls the server's state once a second (or, on the embedded engine, runs optimizer passes
/// one after another) until `done` is set; each poll also goes to the interval log, labelled
/// with the run, as it is read (so a killed run keeps it).
async fn poll_state(
    store: Arc<AnyStore>,
    reader: Option<StateReader>,
    name: String,
    shared: Arc<Shared>,
    done: StopSignal,
    log: Option<(IntervalLog, String)>,
) {
    let mut tick = 0u64;
    while !done.is_stopped() {
        let poll = match &reader {
            Some(r) => {
                let s = r.read(&name).await;
                poll_of(shared.event.elapsed().as_secs_f64(), s)
            }
            None => edge_pass(&store, &name, &shared).await,
        };
        if let Some((log, run)) = &log {
            log.append_or_warn(&[Line::State(StateLine {
                run: run.clone(),
                poll: poll.clone(),
            })]);
        }
        lock(&shared.states).push(poll);
        tick += 1;
        if reader.is_some() {
            let next = shared.event + Duration::from_secs(tick);
            while Instant::now() < next && !done.is_stopped() {
                tokio::time::sleep(Duration::from_millis(20).min(next - Instant::now())).await;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One pass of the embedded engine's optimizer (in a blocking thread) and the state it leaves.
async fn edge_pass(store: &Arc<AnyStore>, name: &str, shared: &Shared) -> StatePoll {
    let (s, n) = (store.clone(), name.to_string());
    let handle = tokio::runtime::Handle::current();
    let pass = tokio::task::spawn_blocking(move || handle.block_on(s.wait_indexed(&n))).await;
    let t_s = shared.event.elapsed().as_secs_f64();
    let mut p = StatePoll {
        t_s,
        ..Default::default()
    };
    match pass {
        Ok(Ok(state)) => {
            p.points = Some(state.points as u64);
            p.indexed_vectors = Some(state.indexed_vectors as u64);
            p.segments = Some(state.segments as u64);
            p.idle = state.indexed_vectors >= state.points;
        }
        Ok(Err(StoreError::NotIndexed {
            indexed_vectors, ..
        })) => p.indexed_vectors = Some(indexed_vectors as u64),
        Ok(Err(e)) => p.error = Some(e.to_string()),
        Err(e) => p.error = Some(e.to_string()),
    }
    p
}

/// p95 (ms) of a histogram of µs, `None` when empty.
fn pct(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
}

async fn settle_on(
    env: SettleEnv<'_>,
    opts: &SettleOptions,
    dataset: &Dataset,
    spec: &CollectionSpec,
    label: &str,
    notes: &mut Vec<String>,
) -> Result<(RunResult, SettleRun), LoadError> {
    let SettleEnv {
        store,
        state: reader,
        restart,
        monitor,
        stop,
    } = env;
    let name = spec.name.clone();
    let points = dataset.points.head(opts.points);
    let queries_v = dataset
        .queries
        .head(opts.queries.min(dataset.queries.len()));
    let queries = fixture::queries(&queries_v, opts.k, Some(opts.ef));
    let say = |s: &str| {
        if opts.progress {
            eprintln!("{s}");
        }
    };
    let set_policy = async |reader: &Option<StateReader>| -> Result<(), LoadError> {
        if let (Some(on), Some(r)) = (opts.prevent_unoptimized, reader) {
            r.set_prevent_unoptimized(&name, on)
                .await
                .map_err(|e| LoadError::setup(&name, e))?;
        }
        Ok(())
    };

    // Before the event (untimed): the collection loaded and indexed, and the truth.
    let mut truth: GroundTruth = dataset.truth.clone();
    let mut truth_text = format!("the dataset's exact top-k over its {} points", opts.points);
    let mut deleted: Vec<u32> = Vec::new();
    if opts.after != After::BulkLoad {
        let loaded = fixture::load_collection(&*store, spec, &points, opts.batch)
            .await
            .map_err(|e| LoadError::setup(&name, e))?;
        let note = format!(
            "{name}: {} points x {} dims loaded in {:.1} s and indexed in {:.1} s before the event (untimed)",
            opts.points, opts.dim, loaded.upload_seconds, loaded.index.seconds
        );
        say(&note);
        notes.push(note);
        set_policy(&reader).await?;
    }
    if let After::Delete(fraction) = opts.after {
        let started = Instant::now();
        let (t, del, kept) = tokio::task::block_in_place(|| {
            truth_after_delete(
                &points,
                &queries_v,
                opts.k,
                opts.metric,
                fraction,
                opts.seed,
            )
        })?;
        notes.push(format!(
            "exact truth over the {} points left after the delete (of {}), {} queries: {:.2} s, before the event",
            kept.len(),
            opts.points,
            queries_v.len(),
            started.elapsed().as_secs_f64()
        ));
        truth = t;
        truth_text = format!(
            "exact top-k over the {} points left after deleting {} (seed {})",
            kept.len(),
            del.len(),
            opts.seed
        );
        deleted = del;
    }
    if opts.points < dataset.points.len() && deleted.is_empty() {
        // The dataset is larger than the points loaded: the truth over those loaded.
        let all: Vec<u32> = (0..opts.points as u32).collect();
        truth = tokio::task::block_in_place(|| {
            ground_truth_filtered(
                &dataset.points,
                &queries_v,
                opts.k,
                opts.metric,
                &all,
                &|_| {},
            )
        })?;
        truth_text = format!("exact top-k over the {} points loaded", opts.points);
    }
    // A restart stops the server first (for the user's command, the command does both).
    if opts.after == After::Restart {
        match &restart {
            Some(Restarter::Own(_)) | Some(Restarter::Command(_)) => {}
            None => {
                return Err(invalid(
                    "after",
                    "restart",
                    "a restart needs --qdrant-bin PATH (the suite's own server) or --restart-command CMD (yours)",
                ));
            }
        }
    }
    let mut restart = restart;
    if let (After::Restart, Some(Restarter::Own(server))) = (opts.after, restart.as_deref_mut()) {
        let started = Instant::now();
        tokio::task::block_in_place(|| server.stop());
        notes.push(format!(
            "the suite's server stopped (SIGTERM) in {:.2} s",
            started.elapsed().as_secs_f64()
        ));
    }
    if opts.after == After::Restart && opts.drop_caches {
        drop_caches().map_err(|e| {
            invalid(
                "drop caches",
                "/proc/sys/vm/drop_caches",
                format!("{e}: needs root; leave --drop-caches out"),
            )
        })?;
        notes.push(
            "page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before the start".into(),
        );
    }

    // The event.
    let shared = Arc::new(Shared {
        event: Instant::now(),
        seconds: Mutex::default(),
        states: Mutex::default(),
        recall: Mutex::default(),
        first_answer_ns: AtomicU64::new(u64::MAX),
        search_start: Mutex::default(),
    });
    let poll_done = StopSignal::new();
    let poller = tokio::spawn(poll_state(
        store.clone(),
        reader.clone(),
        name.clone(),
        shared.clone(),
        poll_done.clone(),
        monitor
            .intervals()
            .map(|log| (log.clone(), label.to_string())),
    ));
    let event = async {
        let mut event_task: Option<tokio::task::JoinHandle<Result<f64, String>>> = None;
        let event_s = match opts.after {
            After::BulkLoad => {
                store
                    .create(spec)
                    .await
                    .map_err(|e| LoadError::setup(&name, e))?;
                set_policy(&reader).await?;
                fixture::upload_with(&*store, &name, &points, opts.batch, opts.in_flight)
                    .await
                    .map_err(|e| LoadError::setup(&name, e))?;
                shared.event.elapsed().as_secs_f64()
            }
            After::Delete(_) => {
                for chunk in deleted.chunks(opts.batch.max(1000)) {
                    let ids: Vec<u64> = chunk.iter().map(|&i| i as u64).collect();
                    store
                        .delete(&name, &ids)
                        .await
                        .map_err(|e| LoadError::setup(&name, e))?;
                }
                shared.event.elapsed().as_secs_f64()
            }
            After::Restart => {
                let event = shared.event;
                match restart.as_deref_mut() {
                    Some(Restarter::Own(server)) => {
                        server.spawn().map_err(|e| {
                            LoadError::setup(
                                &name,
                                StoreError::Unreachable {
                                    url: server.rest_url(),
                                    message: e.to_string(),
                                },
                            )
                        })?;
                        // Ready is awaited beside the searches (they begin now).
                        let url = format!("{}/readyz", server.rest_url());
                        event_task = Some(tokio::spawn(async move {
                            while event.elapsed() < Duration::from_secs(3600) {
                                if ready(&url).await {
                                    return Ok(event.elapsed().as_secs_f64());
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            Err(format!("{url} did not answer within an hour"))
                        }));
                    }
                    Some(Restarter::Command(cmd)) => {
                        let cmd = cmd.clone();
                        event_task = Some(tokio::task::spawn_blocking(move || {
                            let status = Command::new("sh")
                                .arg("-c")
                                .arg(&cmd)
                                .stdin(Stdio::null())
                                .status()
                                .map_err(|e| format!("--restart-command: cannot run sh -c: {e}"))?;
                            if !status.success() {
                                return Err(format!(
                                    "--restart-command {cmd:?} exited with {status}"
                                ));
                            }
                            Ok(event.elapsed().as_secs_f64())
                        }));
                    }
                    None => unreachable!("checked above"),
                }
                0.0
            }
            After::None => 0.0,
        };
        Ok::<_, LoadError>((event_s, event_task))
    };
    let event_result = event.await;
    let (mut event_s, event_task) = match event_result {
        Ok(v) => v,
        Err(e) => {
            poll_done.stop();
            let _ = poller.await;
            return Err(e);
        }
    };
    say(&format!(
        "{name}: event {} done at {event_s:.2} s; searching at {} /s",
        opts.after.label(),
        opts.rate
    ));

    // The searches: one open-loop driver run, stopped by the controller.
    let collection = StoreCollection::new(
        opts.name.clone(),
        name.clone(),
        store.clone(),
        queries,
        truth,
        opts.rate,
    );
    let target = Arc::new(SettleTarget {
        inner: Arc::new(StoreTarget::new(vec![collection], opts.k)),
        shared: shared.clone(),
    });
    let observer = {
        let shared = shared.clone();
        Arc::new(move |s: &crate::live::LiveSecond<'_>| {
            let mut client = latency_histogram();
            let mut server = latency_histogram();
            for h in s.interval {
                let _ = client.add(h);
            }
            for h in s.server_interval {
                let _ = server.add(h);
            }
            lock(&shared.seconds).push(RawSecond {
                elapsed_s: s.elapsed_s,
                secs: s.secs,
                client,
                server,
                errors: s.errors_per_slot.iter().sum(),
            });
        })
    };
    let monitor = monitor
        .with_observer(observer)
        .with_collections(vec![name.clone()]);
    let run_stop = StopSignal::new();
    let search_offset = shared.event.elapsed().as_secs_f64();
    *lock(&shared.search_start) = Some(Instant::now());
    // The time limit counts from the first search, so an event that takes long (a throttled
    // upload) still gets its searches.
    let mut plan = LoadPlan::open(opts.rate, opts.max_time);
    plan.label = label.to_string();
    plan.progress = opts.progress;
    let controller = {
        let (shared, run_stop, stop) = (shared.clone(), run_stop.clone(), stop.clone());
        let (target_ms, window, max_time) = (opts.p95_target_ms, opts.window, opts.max_time);
        let needs_answer = opts.after == After::Restart;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stop.is_stopped() {
                    run_stop.stop();
                    return "stopped by Ctrl-C".to_string();
                }
                let searching = lock(&shared.search_start).map_or(Duration::ZERO, |t| t.elapsed());
                if searching >= max_time {
                    run_stop.stop();
                    return format!("the time limit (--max-time {max_time:?}) came first");
                }
                // Idle for good for the whole window, so the window's seconds are after the
                // drain (a p95 under the target while still draining does not settle it).
                let idle = drain_end(&lock(&shared.states)).is_some_and(|d| {
                    shared.event.elapsed().as_secs_f64() - d >= window.as_secs_f64()
                });
                let answered = shared.first_answer_ns.load(Ordering::Relaxed) != u64::MAX;
                let w = window.as_secs_f64().ceil() as usize;
                let good = {
                    let secs = lock(&shared.seconds);
                    secs.len() >= w
                        && secs[secs.len() - w..].iter().enumerate().all(|(i, s)| {
                            // A second with a failed search is not back under the target.
                            let before = if i + secs.len() - w == 0 {
                                0
                            } else {
                                secs[i + secs.len() - w - 1].errors
                            };
                            s.errors == before
                                && !s.client.is_empty()
                                && pct(&s.client, 0.95).is_some_and(|p| p <= target_ms)
                        })
                };
                if idle && good && (answered || !needs_answer) {
                    run_stop.stop();
                    return format!(
                        "settled: the optimizer idle and p95 <= {target_ms} ms for {window:?}"
                    );
                }
            }
        })
    };
    let result = driver::run_monitored(target, &plan, &run_stop, &monitor).await;
    run_stop.stop();
    let stopped_because = controller
        .await
        .unwrap_or_else(|_| "the controller failed".into());
    poll_done.stop();
    let _ = poller.await;
    if let Some(t) = event_task {
        match t.await {
            Ok(Ok(s)) => event_s = s,
            Ok(Err(e)) => notes.push(format!("warning: the restart: {e}")),
            Err(e) => notes.push(format!("warning: the restart: {e}")),
        }
    }
    let mut result = result?;
    result.partial = stop.is_stopped();

    // The series and the figures.
    let states = std::mem::take(&mut *lock(&shared.states));
    let raw = std::mem::take(&mut *lock(&shared.seconds));
    let recall = std::mem::take(&mut *lock(&shared.recall));
    let drain = drain_end(&states);
    let mut seconds = Vec::new();
    let (mut lat_d, mut lat_a) = (latency_histogram(), latency_histogram());
    let (mut srv_d, mut srv_a) = (latency_histogram(), latency_histogram());
    let (mut rec_d, mut rec_a) = ((0.0, 0u64), (0.0, 0u64));
    let mut errors_before = 0;
    for (k, r) in raw.iter().enumerate() {
        let t_s = search_offset + r.elapsed_s;
        // Draining: the second began before the optimizer was idle for good.
        let draining = drain.is_none_or(|d| t_s - r.secs < d);
        let (rs, rn) = recall.get(k).copied().unwrap_or((0.0, 0));
        let (lat, srv, rec) = if draining {
            (&mut lat_d, &mut srv_d, &mut rec_d)
        } else {
            (&mut lat_a, &mut srv_a, &mut rec_a)
        };
        let _ = lat.add(&r.client);
        let _ = srv.add(&r.server);
        rec.0 += rs;
        rec.1 += rn;
        seconds.push(SettleSecond {
            t_s,
            ok: r.client.len(),
            errors: r.errors.saturating_sub(errors_before),
            ops_s: r.client.len() as f64 / r.secs.max(1e-9),
            p50_ms: pct(&r.client, 0.50),
            p95_ms: pct(&r.client, 0.95),
            p99_ms: pct(&r.client, 0.99),
            server_p95_ms: pct(&r.server, 0.95),
            recall_at_10: (rn > 0).then(|| rs / rn as f64),
            draining,
        });
        errors_before = r.errors;
    }
    let lengths: Vec<f64> = raw.iter().map(|r| r.secs).collect();
    let (worst, worst_p99) = qdrant_perf_report::settle::worst_seconds(&seconds, &lengths);
    let back = back_under(&seconds, opts.p95_target_ms, opts.window.as_secs_f64());
    let stat = |(sum, n): (f64, u64)| {
        (n > 0).then(|| RecallStat {
            value: sum / n as f64,
            samples: n,
        })
    };
    let srv = |h: &Histogram<u64>| (!h.is_empty()).then(|| LatencySummary::from_histogram(h));
    let first = shared.first_answer_ns.load(Ordering::Relaxed);
    let figures = SettleFigures {
        time_to_first_answer_s: (first != u64::MAX).then(|| first as f64 / 1e9),
        drain_s: drain,
        worst_p95_ms: worst.map(|w| w.0),
        worst_p99_ms: worst_p99,
        worst_second_s: worst.map(|w| w.1),
        back_under_target_s: back,
        settled: stopped_because.starts_with("settled"),
        latency_draining: LatencySummary::from_histogram(&lat_d),
        latency_after: LatencySummary::from_histogram(&lat_a),
        server_latency_draining: srv(&srv_d),
        server_latency_after: srv(&srv_a),
        recall_draining: stat(rec_d),
        recall_after: stat(rec_a),
    };
    let state_source = match &reader {
        Some(r) => format!(
            "GET /collections/{name} and /collections/{name}/optimizations on {} once a second",
            r.url()
        ),
        None => "the embedded engine: its optimizer pass (wait_indexed) run one after another in process; each pass gives points, indexed vectors and segments (no queue, no running optimizations, no status)".into(),
    };
    Ok((
        result,
        SettleRun {
            label: label.to_string(),
            after: opts.after.label(),
            collection: name.clone(),
            points: opts.points,
            dim: opts.dim,
            prevent_unoptimized: opts.prevent_unoptimized,
            rate: opts.rate,
            p95_target_ms: opts.p95_target_ms,
            window_s: opts.window.as_secs_f64(),
            max_time_s: opts.max_time.as_secs_f64(),
            event_s,
            search_start_s: search_offset,
            state_source,
            truth: truth_text,
            seconds,
            states,
            figures,
            stopped_because,
            notes: Vec::new(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_the_server_did_not_give_is_not_a_zero() {
        assert_eq!(sum_present([None, None].into_iter()), None);
        assert_eq!(sum_present([Some(3), None, Some(4)].into_iter()), Some(7));
    }

    #[test]
    fn events_parse_and_bad_shares_are_refused() {
        assert_eq!("bulk-load".parse::<After>(), Ok(After::BulkLoad));
        assert_eq!("delete=25%".parse::<After>(), Ok(After::Delete(0.25)));
        assert_eq!("restart".parse::<After>(), Ok(After::Restart));
        assert!(
            "delete=150%"
                .parse::<After>()
                .unwrap_err()
                .contains("below 100 %")
        );
        assert!("delete=0%".parse::<After>().is_err());
        assert!("reboot".parse::<After>().unwrap_err().contains("bulk-load"));
    }

    #[test]
    fn the_truth_after_a_delete_never_holds_a_deleted_id() {
        let spec = qdrant_perf_data::DatasetSpec::new(16, 400).with_queries(20);
        let cache = qdrant_perf_data::DatasetCache::new(
            std::env::temp_dir().join(format!("qdrant-perf-settle-unit-{}", std::process::id())),
        );
        let d = Dataset::load_or_generate(&spec, &cache).unwrap();
        let (truth, deleted, kept) =
            truth_after_delete(&d.points, &d.queries, 10, Metric::Cosine, 0.25, 3).unwrap();
        assert_eq!((deleted.len(), kept.len()), (100, 300));
        for q in 0..truth.len() {
            assert_eq!(truth.ids(q).len(), 10);
            for id in truth.ids(q) {
                assert!(
                    deleted.binary_search(id).is_err(),
                    "query {q}: deleted {id}"
                );
            }
        }
        // The full truth does hold deleted ids (so the test above can fail).
        assert!((0..d.truth.len()).any(|q| {
            d.truth.ids(q)[..10]
                .iter()
                .any(|id| deleted.binary_search(id).is_ok())
        }));
        let _ = std::fs::remove_dir_all(cache.root());
    }

    #[test]
    fn a_delete_picks_a_seeded_share_and_keeps_the_rest() {
        let (d, k) = delete_ids(1000, 0.25, 7);
        assert_eq!(d.len(), 250);
        assert_eq!(k.len(), 750);
        let mut all: Vec<u32> = d.iter().chain(&k).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(delete_ids(1000, 0.25, 7).0, d, "same seed, same ids");
        assert_ne!(delete_ids(1000, 0.25, 8).0, d);
    }
}
