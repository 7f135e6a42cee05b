//! A throwaway monitoring stack, for tests and for trying the suite without one: a private
//! node_exporter ([`PrivateNodeExporter`]) and a private Prometheus ([`PrivatePrometheus`])
//! that scrapes given targets once a second. Each is started on a free loopback port with its
//! own temporary directory (the log, and Prometheus' configuration and TSDB), is ready only
//! when it answers over HTTP (Prometheus: `/-/ready`, and every target scraped once), and is
//! killed when dropped (also when a test panics).
//!
//! The executables are `NODE_EXPORTER_BIN` (else `prometheus-node-exporter` or
//! `node_exporter` on the PATH; Debian package `prometheus-node-exporter`) and
//! `PROMETHEUS_BIN` (else `prometheus`; Debian package `prometheus`).
//!
//! [`promtool_check`] (re-exported from qdrant-perf-plumbing's `prom`) runs Prometheus' own checker of the text exposition format.
//!
//! On Linux a started process is also killed when the thread that started it ends: start them
//! on the thread that keeps them (not in a `spawn_blocking` task).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::qdrant::{http_body, http_status};

/// Prometheus' own checker of the exposition format (one, in the results crate).
pub use qdrant_perf_plumbing::prom::{PROMTOOL_MISSING, promtool_check};

/// Why a private monitoring process did not start.
#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    /// The executable is not installed (a test skips on this one).
    #[error("{message} (install it or set {env})")]
    Missing { env: &'static str, message: String },
    #[error("{message}")]
    Start { message: String },
}

impl MonitoringError {
    /// True when the executable is missing, the one case a test may skip on.
    pub fn is_missing(&self) -> bool {
        matches!(self, MonitoringError::Missing { .. })
    }
}

static STARTED: AtomicU64 = AtomicU64::new(0);

/// The executable named by `env`, else the first of `names` on the PATH, else `names[0]`.
fn bin_from(env: &str, names: &[&str]) -> PathBuf {
    if let Some(b) = std::env::var_os(env).filter(|b| !b.is_empty()) {
        return PathBuf::from(b);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(names[0])
}

/// The node_exporter to start: `NODE_EXPORTER_BIN`, else `prometheus-node-exporter` (Debian's
/// name) or `node_exporter` (upstream's) on the PATH.
pub fn node_exporter_bin() -> PathBuf {
    bin_from(
        "NODE_EXPORTER_BIN",
        &["prometheus-node-exporter", "node_exporter"],
    )
}

/// The Prometheus to start: `PROMETHEUS_BIN`, else `prometheus` on the PATH.
pub fn prometheus_bin() -> PathBuf {
    bin_from("PROMETHEUS_BIN", &["prometheus"])
}

fn temp_dir(what: &str) -> Result<PathBuf, MonitoringError> {
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("qdrant-perf-{what}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| MonitoringError::Start {
        message: format!("cannot create {}: {e}", dir.display()),
    })?;
    Ok(dir)
}

fn free_port() -> Result<u16, MonitoringError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| MonitoringError::Start {
            message: format!("no free loopback port: {e}"),
        })
}

/// Starts `bin args...` with stdout and stderr appended to `log`.
fn spawn(
    bin: &Path,
    env: &'static str,
    args: &[String],
    log: &Path,
) -> Result<Child, MonitoringError> {
    let start_error = |e: std::io::Error| MonitoringError::Start {
        message: format!("cannot run `{}`: {e}", bin.display()),
    };
    let out = fs::File::create(log).map_err(start_error)?;
    let err = out.try_clone().map_err(start_error)?;
    let mut command = Command::new(bin);
    command
        .args(args)
        .current_dir(log.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // Linux: the process dies with the thread that started it, even when the test process exits
    // without dropping it (a panic in a static, `process::exit`).
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and touches only the child being set up.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    command.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            MonitoringError::Missing {
                env,
                message: format!("cannot run `{}`: {e}", bin.display()),
            }
        } else {
            start_error(e)
        }
    })
}

/// Polls `ready` every 50 ms until it is true, the child exits, or `limit` passes.
fn wait_until(
    child: &mut Option<Child>,
    what: &str,
    log: &Path,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), MonitoringError> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ready() {
            return Ok(());
        }
        if let Some(c) = child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            *child = None;
            return Err(MonitoringError::Start {
                message: format!(
                    "{what} exited ({status}) before it was ready; its log:\n{}",
                    fs::read_to_string(log).unwrap_or_default()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(MonitoringError::Start {
        message: format!(
            "{what} was not ready within {limit:?}; its log:\n{}",
            fs::read_to_string(log).unwrap_or_default()
        ),
    })
}

fn kill(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
}

/// A node_exporter this process started, listening on 127.0.0.1 with its default collectors.
pub struct PrivateNodeExporter {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
}

impl PrivateNodeExporter {
    /// Starts [`node_exporter_bin`] on a free loopback port; returns once `/metrics` answers 200
    /// (up to 60 s).
    pub fn start() -> Result<Self, MonitoringError> {
        let bin = node_exporter_bin();
        let dir = temp_dir("node-exporter")?;
        let port = free_port()?;
        let log = dir.join("node_exporter.log");
        let child = spawn(
            &bin,
            "NODE_EXPORTER_BIN",
            &[format!("--web.listen-address=127.0.0.1:{port}")],
            &log,
        )?;
        let mut exporter = Self {
            child: Some(child),
            dir,
            port,
        };
        wait_until(
            &mut exporter.child,
            "node_exporter",
            &log,
            Duration::from_secs(60),
            || http_status(port, "/metrics") == Some(200),
        )?;
        Ok(exporter)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`: the scrape target, and the `instance` label Prometheus gives it.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port>/metrics`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("node_exporter.log")).unwrap_or_default()
    }
}

impl Drop for PrivateNodeExporter {
    fn drop(&mut self) {
        kill(&mut self.child);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A Prometheus this process started: scrapes its targets (job `node`) every second, keeps
/// its TSDB in its temporary directory.
pub struct PrivatePrometheus {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
}

impl PrivatePrometheus {
    /// Starts [`prometheus_bin`] on a free loopback port scraping `targets` (`host:port`, path
    /// `/metrics`) every second; returns once `/-/ready` answers 200 and every target has been
    /// scraped at least once (its `up` series exists; Prometheus starts scraping a few seconds
    /// after it is ready), up to 120 s.
    pub fn start(targets: &[String]) -> Result<Self, MonitoringError> {
        let bin = prometheus_bin();
        let dir = temp_dir("prometheus")?;
        let port = free_port()?;
        let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [{}]\n",
            quoted.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        fs::write(&config_path, config).map_err(|e| MonitoringError::Start {
            message: format!("cannot write {}: {e}", config_path.display()),
        })?;
        let log = dir.join("prometheus.log");
        let child = spawn(
            &bin,
            "PROMETHEUS_BIN",
            &[
                format!("--config.file={}", config_path.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ],
            &log,
        )?;
        let mut prometheus = Self {
            child: Some(child),
            dir,
            port,
        };
        let limit = Duration::from_secs(120);
        wait_until(&mut prometheus.child, "prometheus", &log, limit, || {
            http_status(port, "/-/ready") == Some(200)
        })?;
        if !targets.is_empty() {
            let scraped = format!("count(up{{job=\"node\"}}) >= {}", targets.len());
            wait_until(&mut prometheus.child, "prometheus", &log, limit, || {
                has_result(port, &scraped)
            })?;
        }
        Ok(prometheus)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`: the base URL of its HTTP API.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// The `data.result` of an instant query evaluated now, when Prometheus answers with
    /// success.
    pub fn query_now(&self, promql: &str) -> Option<serde_json::Value> {
        query_now(self.port, promql)
    }

    /// The first value of an instant query evaluated at `time` (Unix seconds).
    pub fn value_at(&self, promql: &str, time: f64) -> Option<f64> {
        query(self.port, promql, Some(time))?.as_array()?.first()?["value"][1]
            .as_str()?
            .parse()
            .ok()
    }

    /// Waits until the instant query `promql` has a non-empty result, e.g.
    /// `count_over_time(node_memory_MemTotal_bytes[1m]) >= 3` for three samples of a target.
    pub fn wait_for_samples(&self, promql: &str, limit: Duration) -> Result<(), MonitoringError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if has_result(self.port, promql) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(MonitoringError::Start {
            message: format!(
                "Prometheus at {} had no result for `{promql}` within {limit:?}; its log:\n{}",
                self.url(),
                self.log()
            ),
        })
    }
}

/// `data.result` of `GET /api/v1/query?query=...` on 127.0.0.1:`port`, on success.
fn query_now(port: u16, promql: &str) -> Option<serde_json::Value> {
    query(port, promql, None)
}

/// The `result` of an instant query, at `time` (Unix seconds) or now.
fn query(port: u16, promql: &str, time: Option<f64>) -> Option<serde_json::Value> {
    let mut url = reqwest::Url::parse("http://127.0.0.1/api/v1/query").ok()?;
    url.query_pairs_mut().append_pair("query", promql);
    if let Some(t) = time {
        url.query_pairs_mut()
            .append_pair("time", &format!("{t:.3}"));
    }
    let path = format!("{}?{}", url.path(), url.query()?);
    let body: serde_json::Value = serde_json::from_str(&http_body(port, &path)?).ok()?;
    (body["status"] == "success").then(|| body["data"]["result"].clone())
}

/// True when the instant query has a non-empty result.
fn has_result(port: u16, promql: &str) -> bool {
    query_now(port, promql)
        .and_then(|r| r.as_array().map(|a| !a.is_empty()))
        .unwrap_or(false)
}

impl Drop for PrivatePrometheus {
    fn drop(&mut self) {
        kill(&mut self.child);
        let _ = fs::remove_dir_all(&self.dir);
    }
}
