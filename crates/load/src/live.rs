//! A live Prometheus view of a run: the load driver hands [`LiveMetrics`] each second's
//! histograms and counts ([`LiveMetrics::update`]), and [`serve`] answers `GET /metrics` with
//! them in the Prometheus text exposition format, so the deployment's Prometheus can scrape the
//! generator while it runs and a dashboard (dashboards/qdrant-perf.json) can show its series
//! beside Qdrant's own.
//!
//! ```no_run
//! # async fn example() -> Result<(), qdrant_perf_load::live::LiveError> {
//! use std::sync::Arc;
//! use qdrant_perf_load::live::{LiveMetrics, serve};
//!
//! let metrics = Arc::new(LiveMetrics::new(
//!     "load",
//!     vec![("search".into(), "mixtral".into())],
//! ));
//! let server = serve("127.0.0.1:9464".parse().unwrap(), metrics.clone()).await?;
//! // ... once a second: metrics.update(&LiveSecond { .. });
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What `/metrics` holds (every series also has label `run`, the run's label; latencies are
//! client-side microsecond HdrHistograms at 3 significant digits, exposed in seconds):
//!
//! | family | type | labels | what |
//! |---|---|---|---|
//! | `qdrant_perf_requests_total` | counter | `op`, `collection` | successful requests so far |
//! | `qdrant_perf_errors_total` | counter | `op`, `collection` | failed requests so far |
//! | `qdrant_perf_errors_by_kind_total` | counter | `kind` | failed requests so far by kind |
//! | `qdrant_perf_in_flight` | gauge | | requests sent and not yet answered |
//! | `qdrant_perf_throughput_ops_per_second` | gauge | `op`, `collection` | successful requests per second in the last interval |
//! | `qdrant_perf_requested_rate_ops_per_second` | gauge | | open loop only: the rate asked for |
//! | `qdrant_perf_latency_seconds` | summary | `op`, `collection`, `quantile` | client latency of successful requests, cumulative over the run |
//! | `qdrant_perf_server_latency_seconds` | summary | `op`, `collection`, `quantile` | the server's own time of those requests, only for slots that reported any |
//! | `qdrant_perf_elapsed_seconds` | gauge | | seconds of the recorded part so far |
//!
//! Summary quantiles are [`SUMMARY_QUANTILES`] (`NaN` before the first sample, as Prometheus's
//! client libraries do); `_sum` is the histogram's mean times its count (each value at the
//! middle of its bucket, so within the histogram's 0.1 %).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use qdrant_perf_plumbing::prom::{CONTENT_TYPE, Exposition, MetricType, SUMMARY_QUANTILES};
use qdrant_perf_report::latency_histogram;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::lock;

/// One interval's figures, as the driver's collector harvests them once a second. Slices are
/// per slot, in the order of the slots given to [`LiveMetrics::new`]; entries beyond the slots
/// are ignored and slots without an entry are left as they were.
pub struct LiveSecond<'a> {
    /// Client latencies (µs) of the requests that completed successfully in this interval.
    pub interval: &'a [Histogram<u64>],
    /// The server's own time (µs) of those requests; empty histograms (or an empty slice) when
    /// the target does not report it.
    pub server_interval: &'a [Histogram<u64>],
    /// Failed requests so far by kind of error (cumulative).
    pub errors_by_kind: &'a BTreeMap<String, u64>,
    /// Failed requests so far per slot (cumulative).
    pub errors_per_slot: &'a [u64],
    /// Requests sent and not yet answered, now.
    pub in_flight: usize,
    /// Seconds since the recorded part began, at the end of this interval.
    pub elapsed_s: f64,
    /// Length of this interval in seconds (about 1); the throughput gauge is ok / secs.
    pub secs: f64,
    /// Open loop: the requested rate (ops/s); `None` in closed loop.
    pub requested_rate: Option<f64>,
}

/// The live figures of one run: cumulative latency histograms and counters per slot (an
/// (operation, collection) pair), and the last interval's gauges. Share it behind an `Arc`:
/// the driver's collector thread calls [`update`](Self::update), the server
/// [`render`](Self::render)s on each scrape; both take one short lock.
pub struct LiveMetrics {
    run: String,
    /// (operation, collection) per slot.
    slots: Vec<(String, String)>,
    state: Mutex<State>,
}

struct State {
    latency: Vec<Histogram<u64>>,
    server: Vec<Histogram<u64>>,
    throughput: Vec<f64>,
    errors: Vec<u64>,
    errors_by_kind: BTreeMap<String, u64>,
    in_flight: usize,
    elapsed_s: f64,
    requested_rate: Option<f64>,
}

impl LiveMetrics {
    /// Metrics of the run labelled `run_label` over `slots`, each `(operation, collection)`
    /// (`("search", "mixtral")`), in the order the driver's per-slot slices use.
    pub fn new(run_label: &str, slots: Vec<(String, String)>) -> Self {
        let n = slots.len();
        Self {
            run: run_label.into(),
            slots,
            state: Mutex::new(State {
                latency: (0..n).map(|_| latency_histogram()).collect(),
                server: (0..n).map(|_| latency_histogram()).collect(),
                throughput: vec![0.0; n],
                errors: vec![0; n],
                errors_by_kind: BTreeMap::new(),
                in_flight: 0,
                elapsed_s: 0.0,
                requested_rate: None,
            }),
        }
    }

    /// Adds one interval: its histograms to the cumulative ones, its counts as the new
    /// cumulative counts (a count below the one already seen is ignored: counters never go
    /// down), and its gauges. A non-positive or non-finite `secs` leaves the throughput gauges
    /// as they were.
    pub fn update(&self, second: &LiveSecond<'_>) {
        let mut s = self.lock();
        let s = &mut *s;
        for (acc, h) in s.latency.iter_mut().zip(second.interval) {
            add(acc, h);
        }
        for (acc, h) in s.server.iter_mut().zip(second.server_interval) {
            add(acc, h);
        }
        if second.secs.is_finite() && second.secs > 0.0 {
            for (t, h) in s.throughput.iter_mut().zip(second.interval) {
                *t = h.len() as f64 / second.secs;
            }
        }
        for (acc, &e) in s.errors.iter_mut().zip(second.errors_per_slot) {
            *acc = (*acc).max(e);
        }
        for (kind, &n) in second.errors_by_kind {
            let acc = s.errors_by_kind.entry(kind.clone()).or_default();
            *acc = (*acc).max(n);
        }
        s.in_flight = second.in_flight;
        s.elapsed_s = second.elapsed_s;
        s.requested_rate = second.requested_rate;
    }

    /// The figures in the Prometheus text exposition format (version 0.0.4): the families of
    /// the [module documentation](crate::live), each with `# HELP` and `# TYPE`.
    pub fn render(&self) -> String {
        let s = self.lock();
        let run = self.run.as_str();
        let mut e = Exposition::new();
        let slots: Vec<[(&str, &str); 3]> = self
            .slots
            .iter()
            .map(|(op, collection)| [("run", run), ("op", op), ("collection", collection)])
            .collect();
        e.family(
            "qdrant_perf_requests_total",
            MetricType::Counter,
            "Successful requests so far in the run's recorded part, per operation and collection.",
        );
        for (labels, h) in slots.iter().zip(&s.latency) {
            e.count("qdrant_perf_requests_total", labels, h.len());
        }
        e.family(
            "qdrant_perf_errors_total",
            MetricType::Counter,
            "Failed requests so far in the run's recorded part, per operation and collection.",
        );
        for (labels, &errors) in slots.iter().zip(&s.errors) {
            e.count("qdrant_perf_errors_total", labels, errors);
        }
        e.family(
            "qdrant_perf_errors_by_kind_total",
            MetricType::Counter,
            "Failed requests so far by kind of error (http 500, timeout, connect, not sent: in-flight cap, unanswered, ...).",
        );
        for (kind, &count) in &s.errors_by_kind {
            e.count(
                "qdrant_perf_errors_by_kind_total",
                &[("run", run), ("kind", kind)],
                count,
            );
        }
        e.family(
            "qdrant_perf_in_flight",
            MetricType::Gauge,
            "Requests sent and not yet answered.",
        );
        e.count("qdrant_perf_in_flight", &[("run", run)], s.in_flight as u64);
        e.family(
            "qdrant_perf_throughput_ops_per_second",
            MetricType::Gauge,
            "Successful requests per second in the last interval (about one second), per operation and collection.",
        );
        for (labels, &ops) in slots.iter().zip(&s.throughput) {
            e.sample("qdrant_perf_throughput_ops_per_second", labels, ops);
        }
        e.family(
            "qdrant_perf_requested_rate_ops_per_second",
            MetricType::Gauge,
            "Open loop: the request rate asked for, all operations together (absent in closed loop).",
        );
        if let Some(rate) = s.requested_rate {
            e.sample(
                "qdrant_perf_requested_rate_ops_per_second",
                &[("run", run)],
                rate,
            );
        }
        e.family(
            "qdrant_perf_latency_seconds",
            MetricType::Summary,
            "Client-side latency of successful requests, cumulative over the run's recorded part, per operation and collection; quantiles from an HdrHistogram (3 significant digits).",
        );
        for (labels, h) in slots.iter().zip(&s.latency) {
            summary(&mut e, "qdrant_perf_latency_seconds", labels, h);
        }
        e.family(
            "qdrant_perf_server_latency_seconds",
            MetricType::Summary,
            "The server's own time of those requests, as it reported it, cumulative over the run; only operations and collections whose target reports it.",
        );
        for (labels, h) in slots.iter().zip(&s.server) {
            if !h.is_empty() {
                summary(&mut e, "qdrant_perf_server_latency_seconds", labels, h);
            }
        }
        e.family(
            "qdrant_perf_elapsed_seconds",
            MetricType::Gauge,
            "Seconds since the run's recorded part began, at the end of the last interval.",
        );
        e.sample("qdrant_perf_elapsed_seconds", &[("run", run)], s.elapsed_s);
        e.finish()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// Adds `h` to `acc`; values beyond `acc`'s range are clamped to its highest value.
fn add(acc: &mut Histogram<u64>, h: &Histogram<u64>) {
    if acc.add(h).is_err() {
        for v in h.iter_recorded() {
            acc.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// One summary series of a histogram of microseconds, in seconds.
fn summary(e: &mut Exposition, name: &str, labels: &[(&str, &str)], h: &Histogram<u64>) {
    let quantiles = SUMMARY_QUANTILES.map(|q| {
        let v = if h.is_empty() {
            f64::NAN
        } else {
            h.value_at_quantile(q) as f64 / 1e6
        };
        (q, v)
    });
    let sum = if h.is_empty() {
        0.0
    } else {
        h.mean() * h.len() as f64 / 1e6
    };
    e.summary(name, labels, &quantiles, sum, h.len());
}

/// The metrics endpoint could not start; the message names the address and the fix.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot listen on {addr}: {reason}; {fix}")]
    Listen {
        addr: SocketAddr,
        reason: String,
        fix: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl LiveError {
    fn listen(addr: SocketAddr, source: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let (reason, fix) = match source.kind() {
            K::AddrInUse => (
                "address in use".to_string(),
                "choose another with --metrics-listen (or stop the process that holds it)",
            ),
            K::PermissionDenied => (
                "permission denied".to_string(),
                "ports below 1024 need privileges; choose a port above 1024 with --metrics-listen",
            ),
            K::AddrNotAvailable => (
                "not an address of this machine".to_string(),
                "give one of this machine's addresses with --metrics-listen (0.0.0.0:PORT for all of them, 127.0.0.1:PORT for this machine only)",
            ),
            _ => (
                source.to_string(),
                "choose another address with --metrics-listen",
            ),
        };
        LiveError::Listen {
            addr,
            reason,
            fix,
            source,
        }
    }
}

/// What the endpoint serves: [`LiveMetrics`] of one run, or a [`LiveView`] of whichever run
/// is going on.
pub trait Scrape: Send + Sync + 'static {
    fn render(&self) -> String;
}

impl Scrape for LiveMetrics {
    fn render(&self) -> String {
        LiveMetrics::render(self)
    }
}

/// The metrics of the run going on now, for a command that runs several (a `validate`, a
/// `stress` ramp): each run puts its own [`LiveMetrics`] here, and a scrape renders the
/// latest. Before the first run it renders nothing.
#[derive(Default)]
pub struct LiveView {
    current: Mutex<Option<Arc<LiveMetrics>>>,
}

impl LiveView {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `metrics` the run a scrape shows.
    pub fn show(&self, metrics: Arc<LiveMetrics>) {
        *lock(&self.current) = Some(metrics);
    }
}

impl Scrape for LiveView {
    fn render(&self) -> String {
        let current = lock(&self.current).clone();
        current.map_or_else(String::new, |m| m.render())
    }
}

/// The running metrics endpoint. Dropping it stops the server (the listener closes when its
/// task next runs, and open connections are asked to close after their current response);
/// [`shutdown`](Self::shutdown) does the same and waits until it is done.
pub struct LiveServer {
    local_addr: SocketAddr,
    /// Dropping the sender is the stop signal: every receiver's `changed()` then returns.
    stop: Option<watch::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LiveServer {
    /// The address it listens on (the port the system chose when given port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open connections finish the response they are on (at most 5 s),
    /// and returns when the listener is closed.
    pub async fn shutdown(mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`LiveServer::shutdown`] waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Listens on `addr` and serves `GET /metrics` (and `HEAD`) with [`LiveMetrics::render`] as
/// `Content-Type: text/plain; version=0.0.4; charset=utf-8`; other paths answer 404, other
/// methods on `/metrics` 405. HTTP/1.1 with keep-alive, on the current tokio runtime (call it
/// from within one). Runs until the returned [`LiveServer`] is dropped or shut down.
pub async fn serve<M: Scrape>(addr: SocketAddr, metrics: Arc<M>) -> Result<LiveServer, LiveError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| LiveError::listen(addr, e))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| LiveError::listen(addr, e))?;
    let (stop, stopped) = watch::channel(());
    let task = tokio::spawn(accept(listener, metrics, stopped));
    Ok(LiveServer {
        local_addr,
        stop: Some(stop),
        task: Some(task),
    })
}

async fn accept<M: Scrape>(listener: TcpListener, metrics: Arc<M>, mut stop: watch::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, metrics.clone(), stop.clone()));
                }
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    // Dropping the set aborts connections still open after the grace period.
}

async fn connection<M: Scrape>(stream: TcpStream, metrics: Arc<M>, mut stop: watch::Receiver<()>) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let metrics = metrics.clone();
        async move { Ok::<_, Infallible>(respond(&*metrics, &req)) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn respond<M: Scrape>(metrics: &M, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let plain = |status: StatusCode, body: &str| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a valid response")
    };
    if req.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: GET /metrics\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .body(Full::new(Bytes::from(metrics.render())))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[u64]) -> Histogram<u64> {
        let mut h = latency_histogram();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn counters_accumulate_never_go_down_and_gauges_follow_the_last_second() {
        let m = LiveMetrics::new(
            "r",
            vec![("search".into(), "a".into()), ("upsert".into(), "b".into())],
        );
        let mut kinds = BTreeMap::from([("timeout".to_string(), 2u64)]);
        m.update(&LiveSecond {
            interval: &[hist(&[1000, 2000]), hist(&[5000])],
            server_interval: &[],
            errors_by_kind: &kinds,
            errors_per_slot: &[2, 0],
            in_flight: 7,
            elapsed_s: 1.0,
            secs: 1.0,
            requested_rate: Some(3.0),
        });
        kinds.insert("timeout".into(), 1);
        m.update(&LiveSecond {
            interval: &[hist(&[3000]), hist(&[])],
            server_interval: &[hist(&[500]), hist(&[])],
            errors_by_kind: &kinds,
            errors_per_slot: &[1],
            in_flight: 3,
            elapsed_s: 2.0,
            secs: 0.5,
            requested_rate: None,
        });
        let text = m.render();
        let has = |line: &str| assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        has(r#"qdrant_perf_requests_total{run="r",op="search",collection="a"} 3"#);
        has(r#"qdrant_perf_requests_total{run="r",op="upsert",collection="b"} 1"#);
        has(r#"qdrant_perf_errors_total{run="r",op="search",collection="a"} 2"#);
        has(r#"qdrant_perf_errors_by_kind_total{run="r",kind="timeout"} 2"#);
        has(r#"qdrant_perf_throughput_ops_per_second{run="r",op="search",collection="a"} 2"#);
        has(r#"qdrant_perf_throughput_ops_per_second{run="r",op="upsert",collection="b"} 0"#);
        has(r#"qdrant_perf_in_flight{run="r"} 3"#);
        has(r#"qdrant_perf_elapsed_seconds{run="r"} 2"#);
        has(r#"qdrant_perf_latency_seconds_count{run="r",op="search",collection="a"} 3"#);
        has(r#"qdrant_perf_server_latency_seconds_count{run="r",op="search",collection="a"} 1"#);
        // Closed loop now: no requested rate; no server times for upsert: no server series.
        assert!(
            !text.contains("qdrant_perf_requested_rate_ops_per_second{"),
            "{text}"
        );
        assert!(
            !text.contains(r#"server_latency_seconds_count{run="r",op="upsert""#),
            "{text}"
        );
    }

    #[test]
    fn values_beyond_the_histogram_bounds_are_clamped_not_lost() {
        let m = LiveMetrics::new("r", vec![("search".into(), "a".into())]);
        let mut wide = Histogram::<u64>::new_with_bounds(1, u64::MAX / 4, 3).unwrap();
        wide.record(120_000_000).unwrap();
        m.update(&LiveSecond {
            interval: &[wide],
            server_interval: &[],
            errors_by_kind: &BTreeMap::new(),
            errors_per_slot: &[],
            in_flight: 0,
            elapsed_s: 1.0,
            secs: 1.0,
            requested_rate: None,
        });
        let text = m.render();
        assert!(
            text.contains(
                r#"qdrant_perf_latency_seconds_count{run="r",op="search",collection="a"} 1"#
            ),
            "{text}"
        );
    }
}
