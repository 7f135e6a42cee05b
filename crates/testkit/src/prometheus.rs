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
//! [`promtool_check`] runs Prometheus' own checker of the text exposition format.
//!
//! On Linux a started process is also killed when the thread that started it ends: start them
//! on the thread that keeps them (not in a `spawn_blocking` task).

use std::path::PathBuf;
use std::time::Duration;

use crate::http::{http_body, http_status};
use crate::process::{Process, StartError, free_ports};

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
fn node_exporter_bin() -> PathBuf {
    bin_from(
        "NODE_EXPORTER_BIN",
        &["prometheus-node-exporter", "node_exporter"],
    )
}

/// The Prometheus to start: `PROMETHEUS_BIN`, else `prometheus` on the PATH.
fn prometheus_bin() -> PathBuf {
    bin_from("PROMETHEUS_BIN", &["prometheus"])
}

/// A node_exporter this process started, listening on 127.0.0.1 with its default collectors.
pub struct PrivateNodeExporter {
    process: Process,
    port: u16,
}

impl PrivateNodeExporter {
    /// Starts [`node_exporter_bin`] on a free loopback port; returns once `/metrics` answers 200
    /// (up to 60 s).
    pub fn start() -> Result<Self, StartError> {
        let [port] = free_ports()?;
        let mut process = Process::new(
            "node_exporter",
            "install it (apt-get install -y prometheus-node-exporter) or set NODE_EXPORTER_BIN",
            node_exporter_bin(),
        )?
        .ready_when(Duration::from_secs(60), move || {
            http_status(port, "/metrics") == Some(200)
        })
        .dying_with_thread();
        process.args = vec![format!("--web.listen-address=127.0.0.1:{port}")];
        process.start()?;
        Ok(Self { process, port })
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
        self.process.log()
    }
}

/// A Prometheus this process started: scrapes its targets (job `node`) every second, keeps
/// its TSDB in its temporary directory.
pub struct PrivatePrometheus {
    process: Process,
    port: u16,
}

impl PrivatePrometheus {
    /// Starts [`prometheus_bin`] on a free loopback port scraping `targets` (`host:port`, path
    /// `/metrics`) every second; returns once `/-/ready` answers 200 and every target has been
    /// scraped at least once (its `up` series exists; Prometheus starts scraping a few seconds
    /// after it is ready), up to 120 s.
    pub fn start(targets: &[String]) -> Result<Self, StartError> {
        let [port] = free_ports()?;
        let limit = Duration::from_secs(120);
        let mut process = Process::new(
            "prometheus",
            "install it (apt-get install -y prometheus) or set PROMETHEUS_BIN",
            prometheus_bin(),
        )?
        .ready_when(limit, move || http_status(port, "/-/ready") == Some(200))
        .dying_with_thread();
        let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [{}]\n",
            quoted.join(", ")
        );
        let config_path = process.path("prometheus.yml");
        std::fs::write(&config_path, config)
            .map_err(|e| StartError::Failed(format!("cannot write {config_path}: {e}")))?;
        process.args = vec![
            format!("--config.file={config_path}"),
            format!("--storage.tsdb.path={}", process.path("data")),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ];
        process.start()?;
        if !targets.is_empty() {
            let scraped = format!("count(up{{job=\"node\"}}) >= {}", targets.len());
            process.wait_until(limit, &|| has_result(port, &scraped))?;
        }
        Ok(Self { process, port })
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
        self.process.log()
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
    pub fn wait_for_samples(&mut self, promql: &str, limit: Duration) -> Result<(), StartError> {
        let port = self.port;
        self.process
            .wait_until(limit, &|| has_result(port, promql))
            .map_err(|e| StartError::Failed(format!("no result for `{promql}`: {e}")))
    }
}

/// The `result` of an instant query on 127.0.0.1:`port`, at `time` (Unix seconds) or now.
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
    query(port, promql, None)
        .and_then(|r| r.as_array().map(|a| !a.is_empty()))
        .unwrap_or(false)
}

/// Why a test that needs promtool is skipped (it then returns without checking).
pub const PROMTOOL_MISSING: &str = "promtool not found (apt-get install -y prometheus)";

/// `promtool check metrics` on `text` (Debian's `prometheus` package): `None` when promtool is
/// not installed; otherwise `Err` with its exit status and output unless it exits 0 and prints
/// nothing (it prints lint problems, such as a counter without `_total`, and exits 3).
pub fn promtool_check(text: &str) -> Option<Result<(), String>> {
    use std::io::Write as _;
    let mut child = match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(text.as_bytes())
        .expect("writing to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(if out.status.success() && printed.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics: {}\n{printed}\non this text:\n{text}",
            out.status
        ))
    })
}
