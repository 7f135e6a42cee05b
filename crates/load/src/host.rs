//! The server host's CPU, memory, disk and network I/O over a run, from the deployment's
//! monitoring.
//!
//! [`resources`](crate::resources) sees only this process. Against a server, the `cpu_usage`
//! and `memory_usage` targets are about the server's host, which this module reads from one of
//! three [`HostSource`]s:
//!
//! - **Prometheus** (the deployment's, HTTP API `/api/v1/query`): at the end of the run, PromQL
//!   over node_exporter's series of the host's `instance`, for the run's window. Prometheus does
//!   the sampling; [`HostMonitor::sample`] does nothing for it.
//! - **node_exporter**, scraped directly: [`HostMonitor::sample`] scrapes it (the run calls it
//!   once a second) and the figures come from the differences of `node_cpu_seconds_total` and
//!   from `node_memory_MemAvailable_bytes` / `node_memory_MemTotal_bytes`.
//! - **a local process** (the server runs on this machine): its CPU time and resident memory
//!   from `/proc`, read at each [`HostMonitor::sample`]. These are the process's figures, not
//!   the whole host's, and the result's `source` says so.
//!
//! CPU is in percent of all the host's cores, from the share of non-idle CPU time (for a
//! process: its CPU seconds over wall time times cores), clamped to 0..=100 (counters read a
//! moment apart can put a rate of idle time slightly above 1). Memory is MemTotal -
//! MemAvailable in percent of MemTotal (for a process: its RSS in percent of MemTotal). Disk
//! and network I/O are bytes per second from node_exporter's `node_disk_*_bytes_total` and
//! `node_network_*_bytes_total` (for a process: `/proc/<pid>/io` and `/proc/<pid>/net/dev`),
//! as a mean over the window and a series (see [`HostIo`] for which devices count).
//!
//! A source that cannot be reached is an error at [`HostMonitor::start`], before the run. What
//! fails later (a scrape, a query) does not stop the run: a failed scrape is counted in
//! `failed_samples`, and absent figures carry the reason in `not_collected`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use qdrant_perf_plumbing::proc::{self, IoCounters};
use qdrant_perf_report::intervals::unix_seconds;
use qdrant_perf_report::{HostIo, HostResources, IoSecond};
use qdrant_perf_store::remote::telemetry::{MetricsSnapshot, label};

use crate::target::error_chain;

/// Where the server host's figures come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostSource {
    /// The deployment's Prometheus (base URL of its HTTP API, e.g. `http://127.0.0.1:9090`) and
    /// the `instance` label of the server host's node_exporter. Without an instance, the one
    /// instance that has `node_cpu_seconds_total` is used (several are an error).
    Prometheus {
        url: String,
        instance: Option<String>,
    },
    /// A node_exporter's metrics URL (`/metrics` when the URL has no path).
    NodeExporter { url: String },
    /// The server's process on this machine (see `qdrant_perf_plumbing::proc::pid_listening_on`).
    LocalProcess { pid: u32 },
}

/// Why a [`HostMonitor`] cannot start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The URL does not parse, or is not http(s).
    #[error("invalid {what} URL {url:?}: {message}")]
    BadUrl {
        what: &'static str,
        url: String,
        message: String,
    },
    /// No answer (connection refused, timeout, DNS).
    #[error(
        "cannot reach {what} at {url} (tried {tried}): {message}; is it running, and is the URL right?"
    )]
    Unreachable {
        what: &'static str,
        url: String,
        tried: String,
        message: String,
    },
    /// An answer, but not the one expected (an HTTP error, not JSON, not metrics).
    #[error("{what} at {url} gave an unexpected answer to {tried}: {message}")]
    BadAnswer {
        what: &'static str,
        url: String,
        tried: String,
        message: String,
    },
    /// Prometheus has no node_exporter series at all.
    #[error(
        "Prometheus at {url} has no node_cpu_seconds_total series (query `group by (instance) \
         (node_cpu_seconds_total)`): it scrapes no node_exporter, or has not scraped one yet"
    )]
    NoNodeExporter { url: String },
    /// No instance was given and Prometheus has several.
    #[error(
        "Prometheus at {url} has node_cpu_seconds_total of {} instances ({}): name the one of \
         the server's host",
        .found.len(),
        .found.join(", ")
    )]
    AmbiguousInstance { url: String, found: Vec<String> },
    /// The instance given is not among those Prometheus has.
    #[error(
        "Prometheus at {url} has no node_cpu_seconds_total of instance {instance:?}; the \
         instances it has: {}",
        list(.found)
    )]
    UnknownInstance {
        url: String,
        instance: String,
        found: Vec<String>,
    },
    /// The URL serves metrics, but no `node_cpu_seconds_total`.
    #[error("{url} is not a node_exporter: its metrics have no node_cpu_seconds_total")]
    NotNodeExporter { url: String },
    /// `/proc` has no such process (or it is not readable).
    #[error("no process {pid} on this machine (cannot read /proc/{pid}/stat)")]
    NoProcess { pid: u32 },
}

/// The PromQL listing the instances that have node_exporter's CPU counters.
pub const INSTANCES_QUERY: &str = "group by (instance) (node_cpu_seconds_total)";

/// How long [`HostMonitor::finish`] waits, for a Prometheus source, for a sample taken at or
/// after the window's end (the last scrape of the run) before it evaluates the queries anyway.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// How long one node_exporter scrape may take (the run samples once a second).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

fn list(found: &[String]) -> String {
    if found.is_empty() {
        "none".into()
    } else {
        found.join(", ")
    }
}

/// A PromQL string literal.
fn promql_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
        .build()
        .expect("a reqwest client with timeouts only")
}

fn parse_http_url(what: &'static str, url: &str) -> Result<reqwest::Url, HostError> {
    let bad = |message: String| HostError::BadUrl {
        what,
        url: url.into(),
        message,
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https".into()));
    }
    Ok(parsed)
}

/// A node_exporter URL with `/metrics` as the path when it has none.
pub fn node_exporter_url(url: &str) -> Result<String, HostError> {
    let mut parsed = parse_http_url("node_exporter", url)?;
    if parsed.path().is_empty() || parsed.path() == "/" {
        parsed.set_path("/metrics");
    }
    Ok(parsed.to_string())
}

/// What one node_exporter scrape says about the host.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeCounters {
    /// `node_cpu_seconds_total{mode="idle"}` summed over CPUs.
    pub idle_s: f64,
    /// `node_cpu_seconds_total` of every mode summed over CPUs.
    pub total_s: f64,
    /// CPUs with an idle counter.
    pub cores: usize,
    pub mem_available_bytes: Option<f64>,
    pub mem_total_bytes: Option<f64>,
    /// Disk bytes summed over the disks (not `dm-*`, `md*`: see [`HostIo`]), network bytes
    /// over every interface but `lo`, and `lo`'s.
    pub io: IoCounters,
}

/// The sum of a counter family over the series whose `device` label passes `keep`; None when
/// no series does.
fn device_sum(metrics: &MetricsSnapshot, family: &str, keep: impl Fn(&str) -> bool) -> Option<f64> {
    metrics
        .family(family)
        .filter(|(labels, _)| keep(label(labels, "device").unwrap_or("")))
        .map(|(_, v)| v)
        .reduce(|a, b| a + b)
}

/// Device-mapper and md devices stack on the disks: their bytes are the disks' bytes again.
fn is_stacked_disk(device: &str) -> bool {
    device.starts_with("dm-") || device.starts_with("md")
}

/// One counter of [`IoCounters`] as node_exporter gives it: the family, the devices summed
/// (as a Rust predicate for a scrape and as a PromQL selector for Prometheus), its name where a
/// gap is reported, and its place in [`IoCounters`].
struct IoCounter {
    name: &'static str,
    family: &'static str,
    keep: fn(&str) -> bool,
    promql: &'static str,
    slot: fn(&mut IoCounters) -> &mut Option<f64>,
}

impl IoCounter {
    fn get(&self, c: &IoCounters) -> Option<f64> {
        let mut c = *c;
        *(self.slot)(&mut c)
    }
}

/// The five, in the order of [`HostIo`]'s fields. Disk bytes leave out stacked devices,
/// network bytes `lo`, which is counted on its own (received only: loopback bytes are sent
/// and received alike).
const IO_COUNTERS: [IoCounter; 5] = [
    IoCounter {
        name: "disk read",
        family: "node_disk_read_bytes_total",
        keep: |d| !is_stacked_disk(d),
        promql: "device!~\"dm-.*|md.*\"",
        slot: |c| &mut c.disk_read_bytes,
    },
    IoCounter {
        name: "disk written",
        family: "node_disk_written_bytes_total",
        keep: |d| !is_stacked_disk(d),
        promql: "device!~\"dm-.*|md.*\"",
        slot: |c| &mut c.disk_written_bytes,
    },
    IoCounter {
        name: "network received",
        family: "node_network_receive_bytes_total",
        keep: |d| d != "lo",
        promql: "device!=\"lo\"",
        slot: |c| &mut c.network_receive_bytes,
    },
    IoCounter {
        name: "network transmitted",
        family: "node_network_transmit_bytes_total",
        keep: |d| d != "lo",
        promql: "device!=\"lo\"",
        slot: |c| &mut c.network_transmit_bytes,
    },
    IoCounter {
        name: "loopback",
        family: "node_network_receive_bytes_total",
        keep: |d| d == "lo",
        promql: "device=\"lo\"",
        slot: |c| &mut c.loopback_bytes,
    },
];

impl NodeCounters {
    /// The counters of a node_exporter's metrics; None without `node_cpu_seconds_total`.
    pub fn of(metrics: &MetricsSnapshot) -> Option<Self> {
        let (mut idle_s, mut total_s, mut cores, mut any) = (0.0, 0.0, 0, false);
        for (labels, v) in metrics.family("node_cpu_seconds_total") {
            any = true;
            total_s += v;
            if label(labels, "mode") == Some("idle") {
                idle_s += v;
                cores += 1;
            }
        }
        any.then(|| Self {
            idle_s,
            total_s,
            cores,
            mem_available_bytes: metrics.get("node_memory_MemAvailable_bytes"),
            mem_total_bytes: metrics.get("node_memory_MemTotal_bytes"),
            io: {
                let mut io = IoCounters::default();
                for c in &IO_COUNTERS {
                    *(c.slot)(&mut io) = device_sum(metrics, c.family, c.keep);
                }
                io
            },
        })
    }

    /// MemTotal - MemAvailable in percent of MemTotal.
    pub fn memory_pct(&self) -> Option<f64> {
        match (self.mem_available_bytes, self.mem_total_bytes) {
            (Some(a), Some(t)) if t > 0.0 => Some(100.0 * (1.0 - a / t)),
            _ => None,
        }
    }
}

/// CPU use between two readings of cumulative counters, in percent: the busy seconds' share
/// of the capacity seconds that passed (for node_exporter busy = all modes - idle and capacity
/// = all modes, summed over CPUs). None when no capacity passed (the same reading twice, or a
/// counter reset); clamped to 0..=100.
pub fn cpu_pct(busy0: f64, capacity0: f64, busy1: f64, capacity1: f64) -> Option<f64> {
    let capacity = capacity1 - capacity0;
    (capacity > 0.0).then(|| (100.0 * (busy1 - busy0) / capacity).clamp(0.0, 100.0))
}

/// One scrape or `/proc` read.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Reading {
    at: SystemTime,
    /// Cumulative busy CPU seconds.
    busy_s: f64,
    /// Cumulative CPU seconds available (for a process: monotonic wall time times cores).
    capacity_s: f64,
    memory_pct: Option<f64>,
    io: IoCounters,
}

/// The readings that cover [start, end] as closely as the samples allow: from the last one at
/// or before `start` (else the first one after it) to the first one at or after `end` (else
/// the last one). None when that is fewer than two. `times` must be in ascending order.
fn bracket(times: &[SystemTime], start: SystemTime, end: SystemTime) -> Option<(usize, usize)> {
    let lo = times
        .iter()
        .rposition(|t| *t <= start)
        .or_else(|| times.iter().position(|t| *t > start))?;
    let hi = times
        .iter()
        .position(|t| *t >= end)
        .unwrap_or(times.len().checked_sub(1)?);
    (hi > lo).then_some((lo, hi))
}

/// Figures of consecutive readings.
#[derive(Debug, PartialEq)]
struct Summary {
    cpu_mean: Option<f64>,
    cpu_max: Option<f64>,
    memory_mean: Option<f64>,
    memory_max: Option<f64>,
    window_s: f64,
}

fn summarize(readings: &[Reading]) -> Summary {
    let (first, last) = (readings[0], readings[readings.len() - 1]);
    let cpu_max = readings
        .windows(2)
        .filter_map(|w| cpu_pct(w[0].busy_s, w[0].capacity_s, w[1].busy_s, w[1].capacity_s))
        .reduce(f64::max);
    let memory: Vec<f64> = readings.iter().filter_map(|r| r.memory_pct).collect();
    Summary {
        cpu_mean: cpu_pct(first.busy_s, first.capacity_s, last.busy_s, last.capacity_s),
        cpu_max,
        memory_mean: (!memory.is_empty()).then(|| memory.iter().sum::<f64>() / memory.len() as f64),
        memory_max: memory.iter().copied().reduce(f64::max),
        window_s: last
            .at
            .duration_since(first.at)
            .map_or(0.0, |d| d.as_secs_f64()),
    }
}

enum Inner {
    Prometheus {
        http: reqwest::Client,
        url: String,
        instance: String,
    },
    NodeExporter {
        http: reqwest::Client,
        url: String,
        readings: Vec<Reading>,
        cores: Option<usize>,
        memory_total: Option<u64>,
        last_error: Option<String>,
    },
    Process {
        pid: u32,
        name: Option<String>,
        t0: Instant,
        cores: usize,
        readings: Vec<Reading>,
    },
}

/// Watches the server's host over a run: [`HostMonitor::start`] before it,
/// [`HostMonitor::sample`] once a second during it, [`HostMonitor::finish`] after it.
pub struct HostMonitor {
    inner: Inner,
    failed: u64,
}

impl HostMonitor {
    /// Checks that the source answers (and, for Prometheus, resolves the instance), and takes
    /// the first reading of a node_exporter or process.
    pub async fn start(source: HostSource) -> Result<HostMonitor, HostError> {
        let inner = match source {
            HostSource::Prometheus { url, instance } => {
                let url = parse_http_url("Prometheus", &url)?
                    .to_string()
                    .trim_end_matches('/')
                    .to_string();
                let http = http_client();
                let found = instances(&http, &url).await?;
                let instance = match instance {
                    Some(i) if found.contains(&i) => i,
                    Some(i) => {
                        return Err(HostError::UnknownInstance {
                            url,
                            instance: i,
                            found,
                        });
                    }
                    None if found.len() == 1 => found[0].clone(),
                    None if found.is_empty() => return Err(HostError::NoNodeExporter { url }),
                    None => return Err(HostError::AmbiguousInstance { url, found }),
                };
                Inner::Prometheus {
                    http,
                    url,
                    instance,
                }
            }
            HostSource::NodeExporter { url } => {
                let url = node_exporter_url(&url)?;
                let http = http_client();
                let (at, counters) = scrape(&http, &url).await?;
                Inner::NodeExporter {
                    readings: vec![node_reading(at, &counters)],
                    cores: Some(counters.cores),
                    memory_total: counters.mem_total_bytes.map(|t| t as u64),
                    http,
                    url,
                    last_error: None,
                }
            }
            HostSource::LocalProcess { pid } => {
                let t0 = Instant::now();
                let cores = proc::cores();
                let first = process_reading(pid, t0, cores).ok_or(HostError::NoProcess { pid })?;
                Inner::Process {
                    pid,
                    name: proc::process_name(pid),
                    t0,
                    cores,
                    readings: vec![first],
                }
            }
        };
        Ok(HostMonitor { inner, failed: 0 })
    }

    /// What the figures will be of, as the result's `source` says it.
    pub fn source(&self) -> String {
        match &self.inner {
            Inner::Prometheus { url, instance, .. } => {
                format!("prometheus {url} (instance {instance:?})")
            }
            Inner::NodeExporter { url, .. } => format!("node_exporter {url}"),
            Inner::Process { pid, name, .. } => format!(
                "/proc ({} pid {pid} on this machine: the process, not the whole host)",
                name.as_deref().unwrap_or("process")
            ),
        }
    }

    fn kind(&self) -> &'static str {
        match &self.inner {
            Inner::Prometheus { .. } => "prometheus",
            Inner::NodeExporter { .. } => "node_exporter",
            Inner::Process { .. } => "proc",
        }
    }

    /// One reading (the run calls this once a second): a scrape of the node_exporter or a read
    /// of the process's `/proc` entry; nothing for Prometheus, which samples by itself. A scrape
    /// waits at most 5 s; a failed reading is counted, not fatal.
    pub async fn sample(&mut self) {
        match &mut self.inner {
            Inner::Prometheus { .. } => {}
            Inner::NodeExporter {
                http,
                url,
                readings,
                last_error,
                cores,
                memory_total,
            } => match scrape(http, url).await {
                Ok((at, counters)) => {
                    *cores = Some(counters.cores);
                    if let Some(t) = counters.mem_total_bytes {
                        *memory_total = Some(t as u64);
                    }
                    readings.push(node_reading(at, &counters));
                }
                Err(e) => {
                    self.failed += 1;
                    *last_error = Some(e.to_string());
                }
            },
            Inner::Process {
                pid,
                t0,
                cores,
                readings,
                ..
            } => match process_reading(*pid, *t0, *cores) {
                Some(r) => readings.push(r),
                None => self.failed += 1,
            },
        }
    }

    /// The host's figures over [start, end]. For node_exporter and a process this takes one
    /// last reading, then uses the readings that bracket the window. For Prometheus it waits
    /// (up to [`SETTLE_LIMIT`]) until Prometheus holds a sample of the instance taken at or
    /// after `end`, then runs the queries at `time=end`.
    pub async fn finish(mut self, start: SystemTime, end: SystemTime) -> HostResources {
        let mut r = HostResources {
            source: self.source(),
            kind: self.kind().into(),
            ..HostResources::default()
        };
        if !matches!(self.inner, Inner::Prometheus { .. }) {
            self.sample().await;
        }
        r.failed_samples = self.failed;
        let failed = self.failed;
        match &self.inner {
            Inner::Prometheus {
                http,
                url,
                instance,
            } => {
                let prometheus = Prometheus { http, url };
                if let Err(e) = prometheus.figures(instance, start, end, &mut r).await {
                    r.not_collected = Some(format!("{e} (at the end of the run)"));
                }
            }
            Inner::NodeExporter {
                url,
                readings,
                cores,
                memory_total,
                last_error,
                ..
            } => {
                r.cores = *cores;
                r.memory_total_bytes = *memory_total;
                let why = || {
                    format!(
                        "node_exporter at {url}: fewer than 2 successful scrapes around the \
                         window ({failed} failed{})",
                        last_error
                            .as_ref()
                            .map(|e| format!("; the last error: {e}"))
                            .unwrap_or_default()
                    )
                };
                fill(&mut r, readings, start, end, why);
            }
            Inner::Process { pid, readings, .. } => {
                r.cores = Some(proc::cores());
                r.memory_total_bytes = proc::mem_total_bytes();
                let why = || {
                    format!(
                        "fewer than 2 /proc readings of process {pid} around the window \
                         ({failed} failed: did the process exit?)"
                    )
                };
                fill(&mut r, readings, start, end, why);
            }
        }
        r
    }
}

/// The figures of the readings bracketing [start, end], or the reason there are none.
fn fill(
    r: &mut HostResources,
    readings: &[Reading],
    start: SystemTime,
    end: SystemTime,
    why: impl FnOnce() -> String,
) {
    let times: Vec<SystemTime> = readings.iter().map(|r| r.at).collect();
    let Some((lo, hi)) = bracket(&times, start, end) else {
        r.not_collected = Some(why());
        return;
    };
    let s = summarize(&readings[lo..=hi]);
    r.samples = (hi - lo + 1) as u64;
    r.window_s = s.window_s;
    r.cpu_pct_mean = s.cpu_mean;
    r.cpu_pct_max = s.cpu_max;
    r.memory_pct_mean = s.memory_mean;
    r.memory_pct_max = s.memory_max;
    r.io = io_of(&readings[lo..=hi]);
}

/// The I/O figures of consecutive readings: the counters' increase per second over the first to
/// the last, and per interval between two; a counter that is absent, or went down (a reset,
/// a device gone), gives no figure for that span.
fn io_of(readings: &[Reading]) -> HostIo {
    let rate = |a: &Reading, b: &Reading, c: &IoCounter| {
        let dt = b.at.duration_since(a.at).ok()?.as_secs_f64();
        let d = c.get(&b.io)? - c.get(&a.io)?;
        (dt > 0.0 && d >= 0.0).then(|| d / dt)
    };
    let (first, last) = (&readings[0], &readings[readings.len() - 1]);
    let mean: Vec<Option<f64>> = IO_COUNTERS.iter().map(|c| rate(first, last, c)).collect();
    let series = readings
        .windows(2)
        .map(|w| {
            let v: Vec<Option<f64>> = IO_COUNTERS.iter().map(|c| rate(&w[0], &w[1], c)).collect();
            IoSecond {
                t: w[1]
                    .at
                    .duration_since(first.at)
                    .map_or(0.0, |d| d.as_secs_f64()),
                disk_read: v[0],
                disk_written: v[1],
                network_receive: v[2],
                network_transmit: v[3],
                loopback: v[4],
            }
        })
        .collect();
    // Debian's node_exporter leaves lo out by default: no loopback is not a gap.
    let missing: Vec<&str> = IO_COUNTERS
        .iter()
        .zip(&mean)
        .filter(|(c, m)| m.is_none() && c.name != "loopback")
        .map(|(c, _)| c.name)
        .collect();
    HostIo {
        disk_read_bytes_per_s: mean[0],
        disk_written_bytes_per_s: mean[1],
        network_receive_bytes_per_s: mean[2],
        network_transmit_bytes_per_s: mean[3],
        loopback_bytes_per_s: mean[4],
        series,
        not_collected: (!missing.is_empty()).then(|| {
            format!(
                "no {} counters (or they went down) in the readings around the window",
                missing.join(", ")
            )
        }),
    }
}

fn node_reading(at: SystemTime, c: &NodeCounters) -> Reading {
    Reading {
        at,
        busy_s: c.total_s - c.idle_s,
        capacity_s: c.total_s,
        memory_pct: c.memory_pct(),
        io: c.io,
    }
}

fn process_reading(pid: u32, t0: Instant, cores: usize) -> Option<Reading> {
    let s = proc::pid_sample(pid)?;
    let total = proc::mem_total_bytes();
    Some(Reading {
        at: SystemTime::now(),
        busy_s: s.cpu_seconds,
        capacity_s: t0.elapsed().as_secs_f64() * cores as f64,
        memory_pct: total
            .filter(|t| *t > 0)
            .map(|t| 100.0 * s.rss_bytes as f64 / t as f64),
        io: proc::pid_io(pid),
    })
}

/// One node_exporter scrape: its time and counters.
async fn scrape(
    http: &reqwest::Client,
    url: &str,
) -> Result<(SystemTime, NodeCounters), HostError> {
    let tried = format!("GET {url}");
    let unreachable = |message: String| HostError::Unreachable {
        what: "node_exporter",
        url: url.into(),
        tried: tried.clone(),
        message,
    };
    let bad = |message: String| HostError::BadAnswer {
        what: "node_exporter",
        url: url.into(),
        tried: tried.clone(),
        message,
    };
    let response = http
        .get(url)
        .timeout(SCRAPE_TIMEOUT)
        .send()
        .await
        .map_err(|e| unreachable(error_chain(&e.without_url())))?;
    let at = SystemTime::now();
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| unreachable(error_chain(&e.without_url())))?;
    if !status.is_success() {
        return Err(bad(format!("HTTP {status}")));
    }
    let metrics = MetricsSnapshot::parse(&text).map_err(bad)?;
    let counters =
        NodeCounters::of(&metrics).ok_or_else(|| HostError::NotNodeExporter { url: url.into() })?;
    Ok((at, counters))
}

/// The instances that have `node_cpu_seconds_total` now, sorted.
async fn instances(http: &reqwest::Client, url: &str) -> Result<Vec<String>, HostError> {
    let data = Prometheus { http, url }
        .query(INSTANCES_QUERY, None)
        .await?;
    let mut found: Vec<String> = data["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["metric"]["instance"].as_str().map(str::to_string))
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// A sample value as Prometheus writes it (`"0.5"`, `"NaN"`, `"+Inf"`); finite values only.
fn sample_value(v: &serde_json::Value) -> Option<f64> {
    v.get(1)?
        .as_str()?
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
}

/// The one value of an instant-vector result (its first series), if any.
fn first_value(data: &serde_json::Value) -> Option<f64> {
    sample_value(&data["result"].as_array()?.first()?["value"])
}

struct Prometheus<'a> {
    http: &'a reqwest::Client,
    url: &'a str,
}

impl Prometheus<'_> {
    /// `GET /api/v1/query` (at `time` when given, else now): the answer's `data`.
    async fn query(&self, promql: &str, time: Option<f64>) -> Result<serde_json::Value, HostError> {
        let endpoint = format!("{}/api/v1/query", self.url);
        let mut params = vec![("query", promql.to_string())];
        if let Some(t) = time {
            params.push(("time", format!("{t:.3}")));
        }
        let tried = format!("GET {endpoint}?query={promql}");
        let response = self
            .http
            .get(&endpoint)
            .query(&params)
            .send()
            .await
            .map_err(|e| HostError::Unreachable {
                what: "Prometheus",
                url: self.url.into(),
                tried: tried.clone(),
                message: error_chain(&e.without_url()),
            })?;
        let status = response.status();
        let bad = |message: String| HostError::BadAnswer {
            what: "Prometheus",
            url: self.url.into(),
            tried: tried.clone(),
            message,
        };
        let text = response
            .text()
            .await
            .map_err(|e| bad(error_chain(&e.without_url())))?;
        let body: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
            let start: String = text.chars().take(120).collect();
            bad(format!(
                "HTTP {status}, not JSON (is this Prometheus' HTTP API?): {start:?}"
            ))
        })?;
        if body["status"] != "success" {
            return Err(bad(format!(
                "HTTP {status}: {} {}",
                body["errorType"].as_str().unwrap_or("error"),
                body["error"].as_str().unwrap_or("(no message)")
            )));
        }
        Ok(body["data"].clone())
    }

    /// The newest sample time of the instance's MemTotal (Unix seconds), now.
    async fn newest_sample(&self, sel: &str) -> Result<Option<f64>, HostError> {
        let q = format!("max(timestamp(node_memory_MemTotal_bytes{{{sel}}}))");
        Ok(first_value(&self.query(&q, None).await?))
    }

    /// Runs the queries for [start, end] and fills `r`: its queries, figures, samples and
    /// `not_collected` when something is missing.
    async fn figures(
        &self,
        instance: &str,
        start: SystemTime,
        end: SystemTime,
        r: &mut HostResources,
    ) -> Result<(), HostError> {
        let (start_s, end_s) = (unix_seconds(start), unix_seconds(end));
        // Whole seconds, rounded down: the range stays inside the run (a longer one would count
        // idle time from before it).
        let w = ((end_s - start_s).floor() as u64).max(1);
        let sel = format!("instance={}", promql_string(instance));
        r.window_s = w as f64;
        r.evaluated_at_unix_s = Some(end_s);

        // The last scrape of the run lands up to one scrape interval after `end`: wait for a
        // sample at or after `end`, so the queries see the whole window (and give the same
        // figures when run again later).
        let waited = Instant::now();
        while waited.elapsed() < SETTLE_LIMIT {
            match self.newest_sample(&sel).await? {
                Some(t) if t >= end_s => break,
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }

        // Samples of the instance in the window (a range selector is inclusive at both ends in
        // Prometheus 2.x), and from them the scrape interval.
        let samples_q = format!("node_memory_MemTotal_bytes{{{sel}}}[{w}s]");
        let data = self.run(&samples_q, end_s, r).await?;
        let times: Vec<f64> = data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|series| {
                series["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.get(0)?.as_f64())
                    .collect::<Vec<f64>>()
            })
            .max_by_key(|t| t.len())
            .unwrap_or_default();
        r.samples = times.len() as u64;
        if times.len() < 2 {
            let found = self.found(r).await;
            r.not_collected = Some(format!(
                "Prometheus at {} has fewer than 2 samples ({}) of instance {instance:?} in the \
                 {w} s window ending at {end_s:.3} (scrape interval longer than the run?); {found}",
                self.url,
                times.len()
            ));
            return Ok(());
        }
        let interval = (times[times.len() - 1] - times[0]) / (times.len() - 1) as f64;
        let step = (interval.ceil() as u64).max(1);

        let idle = format!("node_cpu_seconds_total{{mode=\"idle\",{sel}}}");
        let available = format!("node_memory_MemAvailable_bytes{{{sel}}}");
        let total = format!("node_memory_MemTotal_bytes{{{sel}}}");
        let mut missing = Vec::new();

        // Mean CPU: the idle counters' increase over the window (rate extrapolates to its
        // edges), averaged over CPUs: the idle share of all cores.
        let cpu_mean_q = format!("100 * (1 - avg(rate({idle}[{w}s])))");

        // Highest CPU over one scrape interval: irate uses the last two samples of its range,
        // i.e. exactly one scrape interval, at each step of a subquery stepping by the scrape
        // interval. irate's range (3 intervals) only has to hold two samples. The subquery
        // range is the window less one step, so the earliest pair of samples is not one from
        // before the run (subquery steps are aligned to multiples of the step, and its range is
        // inclusive at both ends in 2.x); for a window of one interval, one step.
        let sub = w.saturating_sub(step).max(step);
        let cpu_max_q = format!(
            "max_over_time((100 * (1 - avg(irate({idle}[{}s]))))[{sub}s:{step}s])",
            3 * step
        );

        // Memory from the raw samples in the window, without a subquery (whose aligned steps
        // would resample, and could take a sample from before the window through the 5-minute
        // lookback). MemTotal is constant, so 1 - mean(available) / total is the mean of
        // 1 - available / total, and 1 - min(available) / total its maximum.
        let memory_mean_q = format!(
            "100 * (1 - avg(avg_over_time({available}[{w}s])) / avg(avg_over_time({total}[{w}s])))"
        );
        let memory_max_q = format!(
            "100 * (1 - min(min_over_time({available}[{w}s])) / max(max_over_time({total}[{w}s])))"
        );
        let total_q = format!("max(max_over_time({total}[{w}s]))");
        let cores_q = format!("count({idle})");
        let mut values = Vec::new();
        for (q, name) in [
            (cpu_mean_q, "cpu mean"),
            (cpu_max_q, "cpu max"),
            (memory_mean_q, "memory mean"),
            (memory_max_q, "memory max"),
            (total_q, "MemTotal"),
            (cores_q, "cores"),
        ] {
            values.push(self.value(&q, end_s, r, name, &mut missing).await?);
        }
        r.cpu_pct_mean = values[0].map(|v| v.clamp(0.0, 100.0));
        r.cpu_pct_max = values[1].map(|v| v.clamp(0.0, 100.0));
        (r.memory_pct_mean, r.memory_pct_max) = (values[2], values[3]);
        r.memory_total_bytes = values[4].map(|v| v as u64);
        r.cores = values[5].map(|v| v as usize);
        r.io = self.io(&sel, (w, step), (start, end), r).await?;

        if !missing.is_empty() {
            let found = self.found(r).await;
            r.not_collected = Some(format!(
                "Prometheus at {} returned nothing for the {} of instance {instance:?} in the \
                 {w} s window ending at {end_s:.3}; {found}",
                self.url,
                missing.join(", ")
            ));
        }
        Ok(())
    }

    /// Disk and network I/O of the instance (selector `sel`) over [start, end]: its raw
    /// counter samples from a little before `start` to the first after `end` (one range query
    /// per family, at `end` + one scrape interval, the `@` modifier in the query saying so),
    /// summed over devices per scrape, then the same figures as from a node_exporter's scrapes
    /// ([`io_of`] of the samples that [`bracket`] the window). `(w, step)`: the window and the
    /// scrape interval, in whole seconds.
    async fn io(
        &self,
        sel: &str,
        (w, step): (u64, u64),
        (start, end): (SystemTime, SystemTime),
        r: &mut HostResources,
    ) -> Result<HostIo, HostError> {
        let at = unix_seconds(end) + step as f64;
        let range = w + 3 * step;
        // Timestamp in ms -> the counters of that scrape, summed over devices.
        let mut scrapes: std::collections::BTreeMap<u64, IoCounters> = Default::default();
        for c in &IO_COUNTERS {
            let q = format!("{}{{{},{sel}}}[{range}s] @ {at:.3}", c.family, c.promql);
            let data = self.run(&q, at, r).await?;
            for series in data["result"].as_array().into_iter().flatten() {
                for v in series["values"].as_array().into_iter().flatten() {
                    let (Some(t), Some(x)) = (v.get(0).and_then(|t| t.as_f64()), sample_value(v))
                    else {
                        continue;
                    };
                    let slot = (c.slot)(scrapes.entry((t * 1e3).round() as u64).or_default());
                    *slot = Some(slot.unwrap_or(0.0) + x);
                }
            }
        }
        let readings: Vec<Reading> = scrapes
            .into_iter()
            .map(|(ms, io)| Reading {
                at: UNIX_EPOCH + Duration::from_millis(ms),
                busy_s: 0.0,
                capacity_s: 0.0,
                memory_pct: None,
                io,
            })
            .collect();
        let times: Vec<SystemTime> = readings.iter().map(|r| r.at).collect();
        Ok(match bracket(&times, start, end) {
            Some((lo, hi)) => {
                let mut io = io_of(&readings[lo..=hi]);
                if let Some(why) = &mut io.not_collected {
                    *why = format!(
                        "Prometheus at {}: {why} (node_exporter's diskstats or netdev collector off?)",
                        self.url
                    );
                }
                io
            }
            None => HostIo {
                not_collected: Some(format!(
                    "Prometheus at {} has fewer than 2 samples of node_exporter's disk and \
                     network counters around the window",
                    self.url
                )),
                ..HostIo::default()
            },
        })
    }

    /// Runs `promql` at `time`, recording it in `r.queries`.
    async fn run(
        &self,
        promql: &str,
        time: f64,
        r: &mut HostResources,
    ) -> Result<serde_json::Value, HostError> {
        r.queries.push(promql.to_string());
        self.query(promql, Some(time)).await
    }

    /// The one value of `promql` at `time`; an empty result adds `name` to `missing`.
    async fn value(
        &self,
        promql: &str,
        time: f64,
        r: &mut HostResources,
        name: &str,
        missing: &mut Vec<String>,
    ) -> Result<Option<f64>, HostError> {
        let v = first_value(&self.run(promql, time, r).await?);
        if v.is_none() {
            missing.push(name.to_string());
        }
        Ok(v)
    }

    /// "instances with node_cpu_seconds_total now: a, b", recording the query.
    async fn found(&self, r: &mut HostResources) -> String {
        r.queries.push(INSTANCES_QUERY.to_string());
        match instances(self.http, self.url).await {
            Ok(found) => format!(
                "instances with node_cpu_seconds_total now: {}",
                list(&found)
            ),
            Err(e) => format!("listing the instances failed too: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE_1: &str = r#"
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 100
node_cpu_seconds_total{cpu="0",mode="system"} 10
node_cpu_seconds_total{cpu="0",mode="user"} 40
node_cpu_seconds_total{cpu="1",mode="idle"} 120
node_cpu_seconds_total{cpu="1",mode="iowait"} 5
node_cpu_seconds_total{cpu="1",mode="user"} 25
node_cpu_guest_seconds_total{cpu="0",mode="user"} 7
node_memory_MemAvailable_bytes 7.5e+09
node_memory_MemTotal_bytes 1e+10
"#;

    // One second later on 2 CPUs (2 CPU seconds passed): cpu0 busy 0.75 s (user), cpu1 busy
    // 0.25 s (iowait), idle 0.25 + 0.75 = 1 s.
    const SCRAPE_2: &str = r#"
node_cpu_seconds_total{cpu="0",mode="idle"} 100.25
node_cpu_seconds_total{cpu="0",mode="system"} 10
node_cpu_seconds_total{cpu="0",mode="user"} 40.75
node_cpu_seconds_total{cpu="1",mode="idle"} 120.75
node_cpu_seconds_total{cpu="1",mode="iowait"} 5.25
node_cpu_seconds_total{cpu="1",mode="user"} 25
node_cpu_guest_seconds_total{cpu="0",mode="user"} 8
node_memory_MemAvailable_bytes 6.5e+09
node_memory_MemTotal_bytes 1e+10
"#;

    fn counters(text: &str) -> NodeCounters {
        NodeCounters::of(&MetricsSnapshot::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn node_exporter_counters_sum_modes_over_cpus() {
        let c = counters(SCRAPE_1);
        assert_eq!(c.idle_s, 220.0);
        // Every mode of node_cpu_seconds_total, not node_cpu_guest_seconds_total.
        assert_eq!(c.total_s, 300.0);
        assert_eq!(c.cores, 2);
        assert_eq!(c.memory_pct(), Some(25.0));
        assert_eq!(
            NodeCounters::of(&MetricsSnapshot::parse("up 1\n").unwrap()),
            None
        );
    }

    #[test]
    fn disk_and_network_bytes_per_second_count_disks_and_interfaces_once() {
        // Two disks and a device-mapper volume on one of them (its bytes are sda's again), lo
        // and two interfaces; three scrapes a second apart.
        let scrape = |disk: f64, net: f64, lo: f64| {
            MetricsSnapshot::parse(&format!(
                "{SCRAPE_1}
node_disk_read_bytes_total{{device=\"sda\"}} {}
node_disk_read_bytes_total{{device=\"nvme0n1\"}} {}
node_disk_read_bytes_total{{device=\"dm-0\"}} {}
node_disk_written_bytes_total{{device=\"sda\"}} {}
node_network_receive_bytes_total{{device=\"eth0\"}} {}
node_network_receive_bytes_total{{device=\"eth1\"}} {}
node_network_receive_bytes_total{{device=\"lo\"}} {lo}
node_network_transmit_bytes_total{{device=\"eth0\"}} {}
node_network_transmit_bytes_total{{device=\"lo\"}} {lo}
",
                disk,
                disk,
                disk,
                2.0 * disk,
                net,
                net,
                3.0 * net,
            ))
            .unwrap()
        };
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let readings: Vec<Reading> = [(1e6, 1e3, 0.0), (3e6, 2e3, 5e5), (4e6, 5e3, 1e6)]
            .iter()
            .enumerate()
            .map(|(i, (d, n, lo))| {
                node_reading(
                    at(i as u64),
                    &NodeCounters::of(&scrape(*d, *n, *lo)).unwrap(),
                )
            })
            .collect();
        let io = io_of(&readings);
        // sda + nvme0n1 (not dm-0): 2 x 3e6 over 2 s; written: 2 x 3e6 over 2 s.
        assert_eq!(io.disk_read_bytes_per_s, Some(3e6));
        assert_eq!(io.disk_written_bytes_per_s, Some(3e6));
        // eth0 + eth1 received 2 x 4e3 in 2 s; transmitted 3 x 4e3; lo 1e6.
        assert_eq!(io.network_receive_bytes_per_s, Some(4e3));
        assert_eq!(io.network_transmit_bytes_per_s, Some(6e3));
        assert_eq!(io.loopback_bytes_per_s, Some(5e5));
        assert_eq!(io.disk_bytes_per_s(), Some(6e6));
        assert_eq!(io.not_collected, None);
        // One figure per interval, at its end.
        let reads: Vec<(f64, Option<f64>)> = io.series.iter().map(|s| (s.t, s.disk_read)).collect();
        assert_eq!(reads, [(1.0, Some(4e6)), (2.0, Some(2e6))]);
        // A counter that went down (a reset) gives no figure; a scrape without the families
        // says which are missing.
        let mut reset = readings.clone();
        reset[2].io.disk_read_bytes = Some(0.0);
        let io = io_of(&reset);
        assert_eq!(
            (io.disk_read_bytes_per_s, io.series[1].disk_read),
            (None, None)
        );
        let bare: Vec<Reading> = (0..2)
            .map(|i| node_reading(at(i), &counters(SCRAPE_1)))
            .collect();
        let why = io_of(&bare).not_collected.unwrap();
        assert!(
            why.contains("disk read, disk written, network received"),
            "{why}"
        );
    }

    #[test]
    fn cpu_percent_is_the_busy_share_of_the_delta() {
        let (a, b) = (counters(SCRAPE_1), counters(SCRAPE_2));
        // 2 CPU seconds passed, 1 of them idle: 50 %.
        let (ra, rb) = (
            node_reading(UNIX_EPOCH, &a),
            node_reading(UNIX_EPOCH + Duration::from_secs(1), &b),
        );
        assert_eq!(
            cpu_pct(ra.busy_s, ra.capacity_s, rb.busy_s, rb.capacity_s),
            Some(50.0)
        );
        assert_eq!(rb.memory_pct, Some(35.0));
        // 3 of 4 CPU seconds busy: 75 %; no time passed: None; a reset: None.
        assert_eq!(cpu_pct(10.0, 100.0, 13.0, 104.0), Some(75.0));
        assert_eq!(cpu_pct(10.0, 100.0, 10.0, 100.0), None);
        assert_eq!(cpu_pct(10.0, 100.0, 1.0, 5.0), None);
        // Counters read a moment apart: clamped.
        assert_eq!(cpu_pct(10.0, 100.0, 10.5, 100.4), Some(100.0));
        assert_eq!(cpu_pct(10.0, 100.0, 9.9, 101.0), Some(0.0));
    }

    #[test]
    fn the_readings_bracketing_the_window_are_used() {
        let t = |s: u64| UNIX_EPOCH + Duration::from_millis(s * 100);
        let times = [t(0), t(10), t(20), t(30), t(40)];
        // Window 1.5 s .. 3.5 s: from the reading at 1 s to the one at 4 s.
        assert_eq!(bracket(&times, t(15), t(35)), Some((1, 4)));
        // Exactly on readings.
        assert_eq!(bracket(&times, t(10), t(30)), Some((1, 3)));
        // Starting before the first and ending after the last reading: all of them.
        assert_eq!(
            bracket(&times, t(0) - Duration::from_secs(1), t(99)),
            Some((0, 4))
        );
        // Inside one interval: its two readings.
        assert_eq!(bracket(&times, t(21), t(22)), Some((2, 3)));
        // After the last reading, or a single reading: nothing to take a difference of.
        assert_eq!(bracket(&times, t(50), t(60)), None);
        assert_eq!(bracket(&times[..1], t(0), t(1)), None);
        assert_eq!(bracket(&[], t(0), t(1)), None);
    }

    #[test]
    fn a_summary_has_the_mean_over_the_span_and_the_busiest_interval() {
        let r = |s: u64, busy: f64, mem: f64| Reading {
            at: UNIX_EPOCH + Duration::from_secs(s),
            busy_s: busy,
            capacity_s: 2.0 * s as f64,
            memory_pct: Some(mem),
            io: IoCounters::default(),
        };
        // 2 cores; busy 0.5, 1.5, 1.0 CPU s in the three seconds: 25 %, 75 %, 50 %; 3 of 6: 50 %.
        let s = summarize(&[
            r(0, 0.0, 10.0),
            r(1, 0.5, 20.0),
            r(2, 2.0, 30.0),
            r(3, 3.0, 20.0),
        ]);
        assert_eq!(
            s,
            Summary {
                cpu_mean: Some(50.0),
                cpu_max: Some(75.0),
                memory_mean: Some(20.0),
                memory_max: Some(30.0),
                window_s: 3.0,
            }
        );
    }

    #[test]
    fn urls_and_promql_strings() {
        assert_eq!(
            node_exporter_url("http://h:9100").unwrap(),
            "http://h:9100/metrics"
        );
        assert_eq!(
            node_exporter_url("http://h:9100/other").unwrap(),
            "http://h:9100/other"
        );
        let err = node_exporter_url("h:9100").unwrap_err().to_string();
        assert!(err.contains("h:9100"), "{err}");
        assert_eq!(promql_string(r#"a"b\c"#), r#""a\"b\\c""#);
        let e = HostError::UnknownInstance {
            url: "http://p:9090".into(),
            instance: "x:9100".into(),
            found: vec!["a:9100".into(), "b:9100".into()],
        }
        .to_string();
        assert!(
            e.contains("\"x:9100\"") && e.contains("a:9100, b:9100"),
            "{e}"
        );
    }
}
