//! The interval log: what a run measured, on disk while it runs (`intervals.jsonl` in the run
//! directory), so a run killed before it wrote its report (SIGKILL, the OOM killer, a closed
//! terminal, a CI timeout) loses at most the second it was in. Format: docs/report-schema.md.
//!
//! Append-only JSON lines, each written whole with one `write` as its second ends:
//! - a [`Header`] first (the command, target, configuration, setup notes, provenance);
//! - per run, a [`RunStart`] when its recorded part begins (its plan and start time);
//! - per second of a run, one [`SlotSecond`] per (operation, collection) with its counts,
//!   errors by kind, recall sums and the second's latency histograms (HdrHistogram V2, deflated,
//!   base64: the encoding of the run's `histograms/<run>.hlog`), then the second's
//!   [`TimelineSecond`] (the [`Second`] of the run's timeline), which closes it.
//!
//! [`recover`] rebuilds a [`Report`] marked partial from every closed second of a log; a torn
//! last line (the process died while writing it) and a second without its closing line are left
//! out and said so.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::margin::Batches;
use crate::provenance::Provenance;
use crate::report::{Report, TargetInfo};
use crate::run::{ErrorTally, LoadPlan, Mode, OpKind, OpStats, RecallStat, Resources, RunResult};
use crate::run::{Second, rss_growth_mb_per_min};
use crate::{LatencySummary, latency_histogram};

/// The interval log's name in a run directory.
pub const INTERVALS_FILE: &str = "intervals.jsonl";

/// The `schema` of the header line; bumped on incompatible changes.
pub const INTERVALS_SCHEMA: &str = "qdrant-perf.intervals/1";

/// The first line: what ran, where, and with what.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub schema: String,
    /// `load` or `stress`.
    pub command: String,
    pub target: TargetInfo,
    /// How `--quick` scaled the run, when it did.
    #[serde(default)]
    pub quick: Option<String>,
    /// The configuration and options (as report.json's `config`).
    #[serde(default)]
    pub config: serde_json::Value,
    /// How each collection was set up (as report.json's `setup`).
    #[serde(default)]
    pub setup: Vec<String>,
    pub provenance: Provenance,
}

impl Header {
    /// The header of a run that will write `report` (its command, target, configuration,
    /// setup notes and provenance; its runs come later).
    pub fn of(report: &Report) -> Line {
        Line::Header(Box::new(Header {
            schema: INTERVALS_SCHEMA.into(),
            command: report.command.clone(),
            target: report.target.clone(),
            quick: report.quick.clone(),
            config: report.config.clone(),
            setup: report.setup.clone(),
            provenance: report.provenance.clone(),
        }))
    }
}

/// A run's recorded part begins.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunStart {
    pub run: String,
    pub plan: LoadPlan,
    /// Wall clock at the start of the recorded part, seconds since the Unix epoch.
    pub start_unix_s: f64,
}

/// One second of one (operation, collection) of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SlotSecond {
    pub run: String,
    /// The second's number in the run (0, 1, ...).
    pub k: u32,
    /// Length of the second (the last one of a run is shorter).
    pub secs: f64,
    pub op: OpKind,
    pub collection: String,
    pub ok: u64,
    pub errors: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors_by_kind: BTreeMap<String, ErrorTally>,
    /// Sum and number of the recall@10 values of this second's sampled searches.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recall_n: u64,
    #[serde(default, skip_serializing_if = "is_zero_f")]
    pub recall_sum: f64,
    /// Client latency (µs) of the second's successful requests: HdrHistogram V2, deflated,
    /// base64; absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hist: Option<String>,
    /// The server's own time (µs), when the responses said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_hist: Option<String>,
    /// Client minus server time (µs), per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overhead_hist: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

/// A second of a run's timeline; closes the second (its [`SlotSecond`]s come before it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineSecond {
    pub run: String,
    pub k: u32,
    pub second: Second,
    /// Requests in flight when the second ended.
    #[serde(default)]
    pub in_flight: usize,
}

/// One line of the log.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Header(Box<Header>),
    Run(RunStart),
    Slot(SlotSecond),
    Second(TimelineSecond),
    State(StateLine),
    Step(Box<StepLine>),
}

/// A stage of a plain stream or a step of a runbook, written when it is done (so a killed
/// `stream` keeps it; [`recover`] puts them back in the report's `stream` section).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepLine {
    /// The `stream` section's kind: `stages` or `runbook`.
    pub kind: String,
    pub step: crate::stream::StreamStep,
}

impl StepLine {
    pub fn of(kind: &str, step: &crate::stream::StreamStep) -> Self {
        Self {
            kind: kind.into(),
            step: step.clone(),
        }
    }
}

/// One poll of the server's state during a `settle` run (written as it is read, so a killed
/// run keeps them; [`recover`] puts them back in the report's `settle` section).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateLine {
    /// The settle run's label (its driver run's).
    pub run: String,
    pub poll: crate::settle::StatePoll,
}

/// A latency histogram as the interval log and the `.hlog` files hold it: HdrHistogram V2,
/// deflated, base64.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut raw = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut raw)
        .expect("serialising to memory");
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// The histogram of [`encode_histogram`]'s text (also of a `.hlog` interval).
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut raw.as_slice())
        .map_err(|e| format!("not an HdrHistogram: {e:?}"))
}

/// The open interval log of a run directory: cheap to clone (every run of a `stress` ramp
/// appends to the same file). Each [`IntervalLog::append`] writes its lines with one `write`, so
/// what the operating system has is whole lines (it keeps them when the process is killed).
#[derive(Clone)]
pub struct IntervalLog {
    path: PathBuf,
    file: Arc<Mutex<Option<File>>>,
}

impl std::fmt::Debug for IntervalLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IntervalLog({})", self.path.display())
    }
}

impl IntervalLog {
    /// Creates `dir` (and its parents) and a new, empty `dir/intervals.jsonl` (an older one is
    /// replaced).
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(INTERVALS_FILE);
        let file = File::create(&path)?;
        Ok(Self {
            path,
            file: Arc::new(Mutex::new(Some(file))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `lines`, each as one JSON line, with one write. The first failure (a full disk)
    /// is returned and closes the log: later appends do nothing, so the run goes on and keeps
    /// its figures in memory for the report at the end.
    pub fn append(&self, lines: &[Line]) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(1024);
        for line in lines {
            serde_json::to_writer(&mut buf, line).map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let Some(f) = file.as_mut() else {
            return Ok(());
        };
        let written = f.write_all(&buf).and_then(|()| f.flush());
        if written.is_err() {
            *file = None;
        }
        written
    }

    /// [`IntervalLog::append`], saying its first failure on stderr: the log then stops, and
    /// the run goes on with its figures in memory for the report written at its end.
    pub fn append_or_warn(&self, lines: &[Line]) {
        if let Err(e) = self.append(lines) {
            eprintln!(
                "warning: the interval log {} stops here: {e}; the run goes on and its report is written at the end",
                self.path.display()
            );
        }
    }

    /// Makes what was appended durable (end of a run).
    pub fn sync(&self) -> std::io::Result<()> {
        match self.file.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }
}

/// Reading an interval log: each names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("cannot read the interval log {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} holds no complete line: the run ended before its setup was done, so nothing was measured",
        path.display()
    )]
    Empty { path: PathBuf },
    #[error(
        "{} is not a qdrant-perf interval log (its first line is not a {INTERVALS_SCHEMA} header: {reason})",
        path.display()
    )]
    NotALog { path: PathBuf, reason: String },
}

/// A report rebuilt from an interval log, and what was left out.
pub struct Recovered {
    pub report: Report,
    /// Closed seconds kept, over all runs.
    pub seconds_kept: usize,
    /// What was left out and why (a torn last line, an unclosed second, ...).
    pub notes: Vec<String>,
}

/// One run's closed seconds, in order.
struct RunLines {
    start: RunStart,
    open: Vec<SlotSecond>,
    closed: Vec<(TimelineSecond, Vec<SlotSecond>)>,
}

/// Rebuilds the report of the interval log `path` from every closed second: partial, with
/// totals and percentiles merged from the per-second histograms.
pub fn recover(path: &Path) -> Result<Recovered, RecoverError> {
    let bytes = std::fs::read(path).map_err(|source| RecoverError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut notes = Vec::new();
    let mut complete = &bytes[..];
    if let Some(torn) = bytes
        .rsplit(|&b| b == b'\n')
        .next()
        .filter(|t| !t.is_empty())
    {
        notes.push(format!(
            "the last line of {} is torn ({} bytes without an end: the process stopped while writing it); skipped",
            path.display(),
            torn.len()
        ));
        complete = &bytes[..bytes.len() - torn.len()];
    }
    let mut lines = complete
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty());
    let Some((_, first)) = lines.next() else {
        return Err(RecoverError::Empty {
            path: path.to_path_buf(),
        });
    };
    let not_a_log = |reason: String| RecoverError::NotALog {
        path: path.to_path_buf(),
        reason,
    };
    let header = match serde_json::from_slice::<Line>(first) {
        Ok(Line::Header(h)) if h.schema == INTERVALS_SCHEMA => *h,
        Ok(Line::Header(h)) => return Err(not_a_log(format!("schema {:?}", h.schema))),
        Ok(_) => return Err(not_a_log("another kind of line".into())),
        Err(e) => return Err(not_a_log(e.to_string())),
    };
    let (mut states, mut steps) = (Vec::new(), Vec::new());
    let runs = run_lines(lines, &mut notes, &mut states, &mut steps);
    let seconds_kept = runs.iter().map(|r| r.closed.len()).sum();
    let machine = &header.provenance.machine;
    let results: Vec<RunResult> = runs
        .iter()
        .map(|r| run_result(r, machine.cores, machine.memory_total_bytes))
        .collect();
    let mut report = Report::new(&header.command, header.target.clone(), results, None);
    report.partial = true;
    report.quick = header.quick;
    report.config = header.config;
    report.setup = header.setup;
    report.provenance = header.provenance;
    report.settle = settle_states(states);
    report.stream = stream_steps(steps);
    report.rebuilt = Some(crate::report::Rebuilt {
        from: INTERVALS_FILE.into(),
        seconds_kept,
        notes: notes.clone(),
    });
    Ok(Recovered {
        report,
        seconds_kept,
        notes,
    })
}

/// The runs of the log's lines after its header, each with its closed seconds; what could not
/// be used (an unreadable line, a second never closed) is said in `notes`.
fn run_lines<'a>(
    lines: impl Iterator<Item = (usize, &'a [u8])>,
    notes: &mut Vec<String>,
    states: &mut Vec<StateLine>,
    steps: &mut Vec<StepLine>,
) -> Vec<RunLines> {
    let mut runs: Vec<RunLines> = Vec::new();
    let (mut unreadable, mut first_problem) = (0usize, None);
    for (i, text) in lines {
        let mut skip = |why: String| {
            unreadable += 1;
            if first_problem.is_none() {
                first_problem = Some(format!("line {}: {why}", i + 1));
            }
        };
        match serde_json::from_slice::<Line>(text) {
            Err(e) => skip(format!("does not parse ({e})")),
            Ok(Line::Header(_)) => skip("a second header".into()),
            Ok(Line::Run(start)) => runs.push(RunLines {
                start,
                open: Vec::new(),
                closed: Vec::new(),
            }),
            Ok(Line::Slot(s)) => match runs.iter_mut().rev().find(|r| r.start.run == s.run) {
                Some(r) => r.open.push(s),
                None => skip(format!("a second of run `{}`, which never started", s.run)),
            },
            Ok(Line::Second(t)) => match runs.iter_mut().rev().find(|r| r.start.run == t.run) {
                Some(r) => {
                    let (this, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut r.open)
                        .into_iter()
                        .partition(|s| s.k == t.k);
                    r.open = rest;
                    r.closed.push((t, this));
                }
                None => skip(format!("a second of run `{}`, which never started", t.run)),
            },
            Ok(Line::State(state)) => states.push(state),
            Ok(Line::Step(step)) => steps.push(*step),
        }
    }
    if let Some(first) = first_problem {
        notes.push(format!(
            "{unreadable} line(s) could not be used and were skipped (first: {first})"
        ));
    }
    for r in &runs {
        let mut left: Vec<u32> = r.open.iter().map(|s| s.k).collect();
        left.dedup();
        for k in left {
            notes.push(format!(
                "second {} of run `{}` was not closed (the process stopped while writing it); left out",
                k + 1,
                r.start.run
            ));
        }
    }
    runs
}

/// The settle runs of the state polls, by label in the order they came; their figures are not
/// rebuilt (the searches' seconds are the report's runs).
fn settle_states(states: Vec<StateLine>) -> Option<crate::settle::SettleSection> {
    let mut runs: Vec<crate::settle::SettleRun> = Vec::new();
    for s in states {
        if runs.last().is_none_or(|r| r.label != s.run) {
            runs.push(crate::settle::SettleRun {
                label: s.run.clone(),
                stopped_because: "killed: the server state rebuilt from the interval log".into(),
                ..Default::default()
            });
        }
        runs.last_mut().expect("pushed").states.push(s.poll);
    }
    (!runs.is_empty()).then_some(crate::settle::SettleSection { runs })
}

/// The `stream` section of the finished stages or steps: their rows as written, the stale
/// results summed and, for a runbook, the mean recall over its search steps (big-ann's score);
/// the freshness of a plain stream is not rebuilt (its lags are reckoned at the end).
fn stream_steps(lines: Vec<StepLine>) -> Option<crate::stream::StreamSection> {
    let kind = lines.first()?.kind.clone();
    let steps: Vec<crate::stream::StreamStep> = lines.into_iter().map(|l| l.step).collect();
    Some(crate::stream::StreamSection {
        mean_recall: (kind == "runbook")
            .then(|| crate::stream::mean_search_recall(&steps))
            .flatten(),
        stale_results: steps.iter().map(|s| s.stale_results).sum(),
        kind,
        steps,
        ..Default::default()
    })
}

/// A closed second's length, as its slot lines say (one second when it has none).
fn second_secs(seconds: &[SlotSecond]) -> f64 {
    seconds.first().map_or(1.0, |s| s.secs)
}

/// Sums the histogram texts of `texts` (undecodable ones are left out).
fn merged<'a>(texts: impl Iterator<Item = &'a Option<String>>) -> Histogram<u64> {
    let mut h = latency_histogram();
    for t in texts.flatten() {
        if let Ok(one) = decode_histogram(t) {
            let _ = h.add(&one);
        }
    }
    h
}

/// A run's figures from its closed seconds, by the driver's rules (qdrant-perf-load's
/// `summarise`): what the log does not hold (the scheduler's send lag) is absent.
fn run_result(r: &RunLines, cores: usize, memory_total: Option<u64>) -> RunResult {
    let plan = &r.start.plan;
    let elapsed = r.closed.last().map_or(0.0, |(t, _)| t.second.t).max(1e-9);
    // The (operation, collection) pairs in the order the log has them.
    let mut pairs: Vec<(OpKind, &str)> = Vec::new();
    for s in r.closed.iter().flat_map(|(_, s)| s) {
        if !pairs.contains(&(s.op, s.collection.as_str())) {
            pairs.push((s.op, &s.collection));
        }
    }
    let mut errors_by_kind: BTreeMap<String, ErrorTally> = BTreeMap::new();
    let (mut recall_sum, mut recall_n) = (0.0, 0u64);
    let operations: Vec<OpStats> = pairs
        .into_iter()
        .map(|(op, collection)| {
            let lines: Vec<&SlotSecond> = r
                .closed
                .iter()
                .flat_map(|(_, s)| s)
                .filter(|s| s.op == op && s.collection == collection)
                .collect();
            for s in &lines {
                for (kind, e) in &s.errors_by_kind {
                    let total = errors_by_kind.entry(kind.clone()).or_default();
                    total.count += e.count;
                    if total.example.is_empty() {
                        total.example = e.example.clone();
                    }
                }
            }
            let (rs, rn) = lines
                .iter()
                .fold((0.0, 0u64), |(s, n), l| (s + l.recall_sum, n + l.recall_n));
            recall_sum += rs;
            recall_n += rn;
            OpStats {
                recall_at_10: recall_stat(rs, rn),
                ..op_stats(r, op, collection, &lines, elapsed)
            }
        })
        .collect();
    let (mut query, mut query_server, mut query_overhead) = (
        latency_histogram(),
        latency_histogram(),
        latency_histogram(),
    );
    for o in operations.iter().filter(|o| o.op.is_query()) {
        let _ = query.add(&o.histogram);
        let _ = query_server.add(&o.server_histogram);
        let _ = query_overhead.add(&o.overhead_histogram);
    }
    let ok: u64 = operations.iter().map(|o| o.ok).sum();
    let errors: u64 = operations.iter().map(|o| o.errors).sum();
    let cap_hits = errors_by_kind
        .get("not sent: in-flight cap")
        .map_or(0, |e| e.count);
    let throughput = ok as f64 / elapsed;
    let mut run_batches = Batches::new(plan.planned_window());
    for (t, seconds) in &r.closed {
        let queries = merged(seconds.iter().filter(|s| s.op.is_query()).map(|s| &s.hist));
        run_batches.push(&queries, t.second.ok, second_secs(seconds));
    }
    let run_margins = run_batches.finish();
    let requested_rate = match plan.mode {
        Mode::Open { rate } => Some(rate),
        Mode::Closed { .. } => None,
    };
    let timeline: Vec<Second> = r.closed.iter().map(|(t, _)| t.second.clone()).collect();
    RunResult {
        label: r.start.run.clone(),
        plan: plan.clone(),
        requested_rate,
        concurrency: match plan.mode {
            Mode::Closed { concurrency } => Some(concurrency),
            Mode::Open { .. } => None,
        },
        partial: true,
        elapsed_s: if r.closed.is_empty() { 0.0 } else { elapsed },
        sent: (ok + errors).saturating_sub(cap_hits),
        ok,
        errors,
        error_rate: crate::run::error_rate(ok, errors),
        errors_by_kind,
        throughput_ops_s: throughput,
        throughput_ci: run_margins.throughput(throughput),
        rate_achieved: crate::run::rate_achieved(requested_rate, throughput),
        latency_ms: run_margins.with_latency_ci(LatencySummary::from_histogram(&query)),
        server_latency_ms: summary(&query_server),
        overhead_ms: summary(&query_overhead),
        operations,
        recall_at_10: recall_stat(recall_sum, recall_n),
        send_lag_ms: None,
        max_in_flight: r.closed.iter().map(|(t, _)| t.in_flight).max().unwrap_or(0),
        in_flight_cap_hits: cap_hits,
        resources: resources(&timeline, cores, memory_total),
        timeline,
        server: None,
        host: None,
        cache: None,
        interval_log: hlog(r),
        // The interval log does not carry the per-node figures (yet): a rebuilt report of a
        // cluster run has its errors by kind, not by node.
        nodes: Vec::new(),
    }
}

/// The figures of one (operation, collection) of a run from its `lines` (all but the recall,
/// which the caller sums with the run's).
fn op_stats(
    r: &RunLines,
    op: OpKind,
    collection: &str,
    lines: &[&SlotSecond],
    elapsed: f64,
) -> OpStats {
    // The pair's histogram, decoded once per second: summed for the whole run and cut into the
    // same batches of seconds as the driver's (a second without this pair's line counts as one
    // without answers).
    let mut h = latency_histogram();
    let mut batches = Batches::new(r.start.plan.planned_window());
    for (_, seconds) in &r.closed {
        let mine = || {
            seconds
                .iter()
                .filter(|s| s.op == op && s.collection == collection)
        };
        let second = merged(mine().map(|s| &s.hist));
        let _ = h.add(&second);
        batches.push(&second, mine().map(|s| s.ok).sum(), second_secs(seconds));
    }
    let margins = batches.finish();
    let server = merged(lines.iter().map(|s| &s.server_hist));
    let overhead = merged(lines.iter().map(|s| &s.overhead_hist));
    let ok: u64 = lines.iter().map(|s| s.ok).sum();
    let throughput = ok as f64 / elapsed;
    OpStats {
        collection: collection.into(),
        op,
        latency_ms: margins.with_latency_ci(LatencySummary::from_histogram(&h)),
        server_latency_ms: summary(&server),
        overhead_ms: summary(&overhead),
        ok,
        errors: lines.iter().map(|s| s.errors).sum(),
        throughput_ops_s: throughput,
        throughput_ci: margins.throughput(throughput),
        recall_at_10: None,
        histogram: h,
        server_histogram: server,
        overhead_histogram: overhead,
    }
}

/// The summary of `h`, none of an empty one.
fn summary(h: &Histogram<u64>) -> Option<LatencySummary> {
    (!h.is_empty()).then(|| LatencySummary::from_histogram(h))
}

fn recall_stat(sum: f64, n: u64) -> Option<RecallStat> {
    (n > 0).then(|| RecallStat {
        value: sum / n as f64,
        samples: n,
    })
}

/// This process's CPU and memory from the timeline's one-second samples.
fn resources(timeline: &[Second], cores: usize, memory_total: Option<u64>) -> Resources {
    let cpu: Vec<f64> = timeline.iter().filter_map(|s| s.cpu_pct).collect();
    let rss: Vec<(f64, u64)> = timeline
        .iter()
        .filter_map(|s| s.rss_mb.map(|mb| (s.t, (mb * 1048576.0) as u64)))
        .collect();
    let rss_max = rss.iter().map(|r| r.1).max();
    Resources {
        scope: "this process, from the interval log's one-second samples".into(),
        cpu_pct_mean: (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
        cpu_pct_max: cpu.iter().copied().reduce(f64::max),
        rss_bytes_max: rss_max,
        rss_bytes_first: rss.first().map(|r| r.1),
        rss_bytes_last: rss.last().map(|r| r.1),
        rss_growth_mb_per_min: rss_growth_mb_per_min(&rss),
        memory_total_bytes: memory_total,
        memory_pct_max: match (rss_max, memory_total) {
            (Some(r), Some(t)) if t > 0 => Some(r as f64 / t as f64 * 100.0),
            _ => None,
        },
        cores,
        samples: timeline.len() as u64,
        load_average_1m: None,
        server: "not collected".into(),
    }
}

/// The run's `.hlog` (one interval per second per operation/collection tag), as the driver
/// writes it, from the closed seconds.
fn hlog(r: &RunLines) -> Vec<u8> {
    let start = UNIX_EPOCH + Duration::from_secs_f64(r.start.start_unix_s.max(0.0));
    let mut log = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let Ok(mut writer) = IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "qdrant-perf {} run `{}` rebuilt from {INTERVALS_FILE}: latency in microseconds, one interval per second per operation/collection tag",
            env!("CARGO_PKG_VERSION"),
            r.start.run
        ))
        .with_start_time(start)
        .with_base_time(start)
        .begin_log_with(&mut log, &mut serializer)
    else {
        return Vec::new();
    };
    for (_, slots) in &r.closed {
        for s in slots {
            let Some(h) = s.hist.as_deref().and_then(|t| decode_histogram(t).ok()) else {
                continue;
            };
            let tag = format!("{}/{}", s.op.name(), s.collection);
            let _ = writer.write_histogram(
                &h,
                Duration::from_secs(s.k as u64),
                Duration::from_secs_f64(s.secs.max(0.0)),
                Tag::new(&tag),
            );
        }
    }
    drop(writer);
    log
}

/// Seconds since the Unix epoch of `t`.
pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn header() -> Line {
        let mut provenance = Provenance::capture();
        provenance.machine.cores = 2;
        Line::Header(Box::new(Header {
            schema: INTERVALS_SCHEMA.into(),
            command: "load".into(),
            target: TargetInfo {
                kind: "noop".into(),
                url: None,
                engine_version: None,
            },
            quick: None,
            config: serde_json::json!({"points": 2000}),
            setup: vec!["deepcoder: built".into()],
            provenance,
        }))
    }

    /// Second `k` of run `run`: `n` requests of 1..=n ms, one error of kind `timeout`.
    fn second(run: &str, k: u32, n: u64) -> Vec<Line> {
        let mut h = latency_histogram();
        for i in 1..=n {
            h.record(i * 1000).unwrap();
        }
        let mut errors_by_kind = BTreeMap::new();
        errors_by_kind.insert(
            "timeout".to_string(),
            ErrorTally {
                count: 1,
                example: "late".into(),
            },
        );
        vec![
            Line::Slot(SlotSecond {
                run: run.into(),
                k,
                secs: 1.0,
                op: OpKind::Search,
                collection: "deepcoder".into(),
                ok: n,
                errors: 1,
                errors_by_kind,
                recall_n: 2,
                recall_sum: 1.8,
                hist: Some(encode_histogram(&h)),
                server_hist: None,
                overhead_hist: None,
            }),
            Line::Second(TimelineSecond {
                run: run.into(),
                k,
                second: Second {
                    t: k as f64 + 1.0,
                    ok: n,
                    errors: 1,
                    ops_s: n as f64,
                    p50_ms: None,
                    p99_ms: None,
                    max_ms: None,
                    cpu_pct: Some(10.0 + k as f64),
                    rss_mb: Some(100.0),
                },
                in_flight: 3,
            }),
        ]
    }

    fn run_start(run: &str) -> Line {
        Line::Run(RunStart {
            run: run.into(),
            plan: LoadPlan::open(100.0, Duration::from_secs(15)),
            start_unix_s: 1.8e9,
        })
    }

    #[test]
    fn histograms_round_trip_through_their_text() {
        let mut h = latency_histogram();
        for v in [1, 250, 1000, 59_000_000] {
            h.record(v).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back, h);
        assert!(
            decode_histogram("not base64!")
                .unwrap_err()
                .contains("base64")
        );
    }

    #[test]
    fn a_torn_last_line_and_an_unclosed_second_are_skipped_and_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let log = IntervalLog::create(&dir.path().join("run")).unwrap();
        log.append(&[header(), run_start("load")]).unwrap();
        for k in 0..3 {
            log.append(&second("load", k, 10 * (k as u64 + 1))).unwrap();
        }
        // Second 4: its slot line is whole, its closing line torn halfway.
        let fourth = second("load", 3, 100);
        log.append(&fourth[..1]).unwrap();
        let closing = serde_json::to_string(&fourth[1]).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap();
        f.write_all(&closing.as_bytes()[..closing.len() / 2])
            .unwrap();
        drop(f);

        let r = recover(log.path()).unwrap();
        assert_eq!(r.seconds_kept, 3);
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("torn") && n.contains("skipped")),
            "{:?}",
            r.notes
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("second 4") && n.contains("left out")),
            "{:?}",
            r.notes
        );
        let report = r.report;
        assert!(report.partial);
        assert_eq!(report.rebuilt.as_ref().unwrap().seconds_kept, 3);
        assert_eq!(report.setup, ["deepcoder: built"]);
        let run = &report.runs[0];
        assert!(run.partial);
        assert_eq!(run.timeline.len(), 3);
        // 10 + 20 + 30 requests of 1..=n ms: totals and percentiles from the merged histograms.
        assert_eq!(run.ok, 60);
        assert_eq!(run.errors, 3);
        assert_eq!(run.errors_by_kind["timeout"].count, 3);
        assert_eq!(run.latency_ms.samples, 60);
        assert!(
            (run.latency_ms.max_ms - 30.0).abs() < 0.05,
            "{:?}",
            run.latency_ms
        );
        assert!((run.elapsed_s - 3.0).abs() < 1e-9);
        assert!((run.throughput_ops_s - 20.0).abs() < 1e-9);
        assert_eq!(run.recall_at_10.unwrap().samples, 6);
        assert_eq!(run.max_in_flight, 3);
        assert_eq!(run.resources.cpu_pct_max, Some(12.0));
        // The rebuilt .hlog holds the three seconds' histograms.
        let text = String::from_utf8(run.interval_log.clone()).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("Tag=")).count(),
            3,
            "{text}"
        );
    }

    #[test]
    fn a_killed_stream_keeps_the_stages_and_steps_it_finished() {
        let step =
            |n: usize, op: &str, recall: Option<f64>, stale: u64| crate::stream::StreamStep {
                step: n,
                label: format!("step {n} {op}"),
                operation: op.into(),
                recall_at_10: recall.map(|value| RecallStat { value, samples: 10 }),
                stale_results: stale,
                ..Default::default()
            };
        let rebuilt = |kind: &str, steps: &[crate::stream::StreamStep]| {
            let dir = tempfile::tempdir().unwrap();
            let log = IntervalLog::create(dir.path()).unwrap();
            log.append(&[header()]).unwrap();
            for s in steps {
                log.append(&[Line::Step(Box::new(StepLine::of(kind, s)))])
                    .unwrap();
            }
            drop(log);
            recover(&dir.path().join(INTERVALS_FILE))
                .unwrap()
                .report
                .stream
                .expect("the steps make a stream section")
        };
        let runbook = [
            step(1, "insert", None, 0),
            step(2, "search", Some(1.0), 0),
            step(3, "delete", None, 2),
            step(4, "search", Some(0.8), 3),
        ];
        let back = rebuilt("runbook", &runbook);
        assert_eq!(back.kind, "runbook");
        assert_eq!(back.steps, runbook);
        assert_eq!(back.stale_results, 5);
        assert!((back.mean_recall.unwrap() - 0.9).abs() < 1e-12);
        // A plain stream's stages have no mean recall (each stage is checked on its own).
        let stages = [
            step(1, "insert", Some(1.0), 0),
            step(2, "insert", Some(0.5), 1),
        ];
        let back = rebuilt("stages", &stages);
        assert_eq!((back.kind.as_str(), back.steps.len()), ("stages", 2));
        assert_eq!((back.mean_recall, back.stale_results), (None, 1));
    }

    #[test]
    fn a_killed_settle_keeps_the_server_states_it_polled() {
        let dir = tempfile::tempdir().unwrap();
        let log = IntervalLog::create(dir.path()).unwrap();
        let poll = |run: &str, t_s: f64, running: u64| {
            Line::State(StateLine {
                run: run.into(),
                poll: crate::settle::StatePoll {
                    t_s,
                    running: Some(running),
                    idle: running == 0,
                    ..Default::default()
                },
            })
        };
        log.append(&[header(), poll("bulk-load, off", 0.0, 2)])
            .unwrap();
        log.append(&[
            poll("bulk-load, off", 1.0, 1),
            poll("bulk-load, off", 2.0, 0),
        ])
        .unwrap();
        log.append(&[poll("bulk-load, on", 0.0, 1)]).unwrap();
        drop(log);
        let back = recover(&dir.path().join(INTERVALS_FILE)).unwrap();
        let settle = back.report.settle.expect("the polls make a settle section");
        let runs: Vec<(&str, Vec<Option<u64>>)> = settle
            .runs
            .iter()
            .map(|r| {
                (
                    r.label.as_str(),
                    r.states.iter().map(|p| p.running).collect(),
                )
            })
            .collect();
        assert_eq!(
            runs,
            [
                ("bulk-load, off", vec![Some(2), Some(1), Some(0)]),
                ("bulk-load, on", vec![Some(1)])
            ]
        );
        assert!(settle.runs[0].stopped_because.contains("killed"));
        assert!(back.report.partial);
    }

    #[test]
    fn logs_without_a_header_or_a_complete_line_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INTERVALS_FILE);
        std::fs::write(&path, "").unwrap();
        let err = recover(&path).err().unwrap().to_string();
        assert!(
            err.contains("no complete line") && err.contains(INTERVALS_FILE),
            "{err}"
        );
        std::fs::write(&path, "{\"type\":\"run\",\"run\"").unwrap();
        let err = recover(&path).err().unwrap().to_string();
        assert!(err.contains("no complete line"), "{err}");
        std::fs::write(&path, "[1,2]\n").unwrap();
        let err = recover(&path).err().unwrap().to_string();
        assert!(err.contains("not a qdrant-perf interval log"), "{err}");
    }

    #[test]
    fn each_run_of_a_ramp_is_rebuilt_apart() {
        let dir = tempfile::tempdir().unwrap();
        let log = IntervalLog::create(dir.path()).unwrap();
        log.append(&[header(), run_start("stress-100")]).unwrap();
        log.append(&second("stress-100", 0, 5)).unwrap();
        log.append(&second("stress-100", 1, 5)).unwrap();
        log.append(&[run_start("stress-200")]).unwrap();
        log.append(&second("stress-200", 0, 7)).unwrap();
        log.sync().unwrap();
        let r = recover(log.path()).unwrap();
        assert_eq!(r.seconds_kept, 3);
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        let runs: Vec<(&str, u64)> = r
            .report
            .runs
            .iter()
            .map(|r| (r.label.as_str(), r.ok))
            .collect();
        assert_eq!(runs, [("stress-100", 10), ("stress-200", 7)]);
    }
}
