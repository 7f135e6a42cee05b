//! What every subcommand shares, one of each: the dataset cache, the tokio runtime, the Ctrl-C
//! stop signal, the way a `--target`/`--url` becomes a Qdrant server (or the embedded engine),
//! the performance-tests.yaml, what a run watches on the deployment's side.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use qdrant_perf_data::{Dataset, DatasetCache, Metric, MetricWanted, UserData};
use qdrant_perf_load::config::PerformanceConfig;
use qdrant_perf_load::driver::StopSignal;
use qdrant_perf_plumbing::proc;
use qdrant_perf_store::{AnyStore, Guard, ServerConfig};

pub use crate::args::{DatasetArgs, MonitorArgs};

/// The dataset and index cache: `dir`, else `$QDRANT_PERF_CACHE_DIR`, else ./target/qdrant-perf;
/// an error when it is not writable.
pub fn cache(dir: Option<PathBuf>) -> Result<DatasetCache> {
    Ok(match dir {
        Some(dir) => DatasetCache::new(dir),
        None => DatasetCache::from_env("target/qdrant-perf"),
    }
    .ensure_writable()?)
}

/// Reads `--dataset PATH` under `metric` (the file's own metric wins; a contradiction is an
/// error naming both), with top-`k` truth; `keep_shipped_truth`: `--keep-shipped-truth`.
pub fn user_dataset(
    path: &Path,
    keep_shipped_truth: bool,
    metric: Option<(Metric, &str)>,
    k: usize,
    cache: &DatasetCache,
) -> Result<Dataset> {
    let wanted = metric.map(|(m, from)| MetricWanted::new(m, from));
    let dataset = UserData::read(path, cache)
        .and_then(|u| {
            u.keep_shipped_truth(keep_shipped_truth)
                .dataset(wanted.as_ref(), k)
        })
        .map_err(|e| anyhow::anyhow!("--dataset: {e}"))?;
    Ok(dataset)
}

/// Reads and checks `--dataset PATH` (before any work), when given.
pub fn user_data(
    args: &DatasetArgs,
    cache: &DatasetCache,
) -> Result<Option<std::sync::Arc<UserData>>> {
    args.dataset
        .as_ref()
        .map(|p| {
            UserData::read(p, cache)
                .map(|u| std::sync::Arc::new(u.keep_shipped_truth(args.keep_shipped_truth)))
                .map_err(|e| anyhow::anyhow!("--dataset: {e}"))
        })
        .transpose()
}

/// The deployment's performance-tests.yaml at `path`, or the bundled copy.
pub fn load_config(path: Option<&PathBuf>) -> Result<PerformanceConfig> {
    Ok(match path {
        Some(p) => PerformanceConfig::load(p)?,
        None => PerformanceConfig::bundled(),
    })
}

/// The result cache at `REDIS_URL` in `mode`: its TTL `--cache-ttl` when given, else the
/// file's `optimization.caching.cache_ttl`; its in-process tier as large as the file's
/// `l1_cache_size`.
pub fn cache_config(
    mode: qdrant_perf_store::CacheMode,
    ttl_flag: Option<i64>,
    config: &PerformanceConfig,
) -> Result<qdrant_perf_store::CacheConfig> {
    let base = qdrant_perf_store::CacheConfig::from_env().with_mode(mode);
    Ok(config
        .performance_tests
        .optimization
        .caching
        .apply(base, ttl_flag)?)
}

/// A multi-threaded runtime with a worker per core, at least two (the load driver's requests
/// and the sweep's all-core pass run as its tasks).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    runtime_with(proc::cores().max(2))
}

/// The runtime of a closed-loop run of `concurrency` workers: no more runtime threads than
/// workers (and than `runtime()` has). One request at a time then stays on one thread: on a
/// gRPC server the response no longer wakes the request on the other core, which cost 81-91 µs
/// of client CPU per search with two threads against 58-63 µs with one (Qdrant 1.17.1,
/// 20,000 x 768, README "The gRPC path").
pub fn closed_loop_runtime(concurrency: usize) -> Result<tokio::runtime::Runtime> {
    runtime_with(concurrency.clamp(1, proc::cores().max(2)))
}

fn runtime_with(threads: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

/// A stop signal that the first Ctrl-C sets, printing `message` (what the command does now);
/// a second Ctrl-C exits at once (status 130).
pub fn ctrl_c_stop(rt: &tokio::runtime::Runtime, message: &'static str) -> StopSignal {
    let stop = StopSignal::new();
    let s = stop.clone();
    rt.spawn(async move {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            if s.is_stopped() {
                eprintln!("second Ctrl-C: exiting now");
                std::process::exit(130);
            }
            eprintln!("\nCtrl-C: {message} (Ctrl-C again to quit now)");
            s.stop();
        }
    });
    stop
}

/// The server a `--target`/`--url` names (`QDRANT_API_KEY` for its key), or `None` for the
/// embedded engine (`edge` or nothing).
pub fn server_config(target: &str) -> Result<Option<ServerConfig>> {
    match target.trim() {
        "edge" | "" => Ok(None),
        url => {
            let config = ServerConfig::parse(url, None)?.with_api_key(
                std::env::var("QDRANT_API_KEY")
                    .ok()
                    .filter(|k| !k.is_empty())
                    .map(qdrant_perf_store::ApiKey::new),
            );
            Ok(Some(config))
        }
    }
}

/// The monitor of a command's runs, and the live endpoint it serves (kept while it runs).
pub struct Watch {
    pub monitor: qdrant_perf_load::monitor::Monitor,
    pub live: Option<qdrant_perf_load::live::LiveServer>,
}

impl MonitorArgs {
    /// The monitor of runs against `server` (for the embedded engine only the live view):
    /// its nodes' `/metrics` (or, when their address is unknown, the reason in the report), the
    /// server host's CPU and memory from --prometheus, --node-exporter, or `/proc` when the
    /// server listens on this machine. An unreachable Prometheus or node_exporter, or an
    /// address --metrics-listen cannot take, is an error here, before any run.
    pub async fn watch(&self, server: Option<&ServerConfig>) -> Result<Watch> {
        use qdrant_perf_load::host::{HostMonitor, HostSource};
        use qdrant_perf_load::live::{LiveView, serve};
        use qdrant_perf_load::monitor::Monitor;
        use qdrant_perf_store::remote::telemetry::{LocalProcess, Telemetry};
        let mut monitor = match server {
            None => {
                if self.prometheus.is_some() || self.node_exporter.is_some() {
                    anyhow::bail!(
                        "--prometheus and --node-exporter judge a server's host; with --target edge the engine is this process, whose CPU and memory every report already has"
                    );
                }
                Monitor::default()
            }
            Some(server) => match Telemetry::for_config(server, self.metrics_url.as_deref()) {
                Ok(t) => Monitor::server(t, Vec::new()),
                Err(why) => Monitor::not_collected(why),
            },
        };
        let source = match (&self.prometheus, &self.node_exporter, server) {
            (Some(url), _, _) => Some((
                HostSource::Prometheus {
                    url: url.clone(),
                    instance: self.server_instance.clone(),
                },
                "--prometheus",
            )),
            (None, Some(url), _) => Some((
                HostSource::NodeExporter { url: url.clone() },
                "--node-exporter",
            )),
            (None, None, Some(server)) => server
                .urls
                .iter()
                .find_map(|u| LocalProcess::for_url(u))
                .map(|p| (HostSource::LocalProcess { pid: p.pid }, "--target")),
            (None, None, None) => None,
        };
        if let Some((source, flag)) = source {
            HostMonitor::start(source.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e} (flag: {flag})"))?;
            monitor = monitor.with_host(source);
        }
        let live = match self.metrics_listen {
            Some(addr) => {
                let view = std::sync::Arc::new(LiveView::new());
                let server = serve(addr, view.clone()).await?;
                eprintln!(
                    "live figures at http://{}/metrics while the runs go on",
                    server.local_addr()
                );
                monitor = monitor.with_live(view);
                Some(server)
            }
            None => None,
        };
        Ok(Watch { monitor, live })
    }
}

/// The server at `url` (see [`server_config`]), or the embedded engine in the scratch
/// directory `edge_root` (deleted with the store, after the engine closed its collections).
pub fn open_store(
    rt: &tokio::runtime::Runtime,
    url: Option<&str>,
    edge_root: &Path,
) -> Result<AnyStore> {
    match server_config(url.unwrap_or(""))? {
        Some(config) => Ok(rt.block_on(AnyStore::connect(&config, Guard::default()))?),
        None => Ok(AnyStore::edge_scratch(edge_root, Guard::default())?),
    }
}

/// A private directory for this run's embedded collections under `cache/<kind>-edge/<pid>`;
/// directories left by runs that no longer exist are removed first.
pub fn private_edge_root(cache: &DatasetCache, kind: &str) -> Result<PathBuf> {
    let parent = cache.root().join(format!("{kind}-edge"));
    if let Ok(entries) = std::fs::read_dir(&parent) {
        for e in entries.flatten() {
            let stale = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|pid| !proc::is_running(pid));
            if stale {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let root = parent.join(std::process::id().to_string());
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_loop_runtime_has_no_more_threads_than_workers_or_than_the_default() {
        let default = runtime().unwrap().metrics().num_workers();
        assert_eq!(default, proc::cores().max(2));
        assert_eq!(closed_loop_runtime(1).unwrap().metrics().num_workers(), 1);
        assert_eq!(closed_loop_runtime(0).unwrap().metrics().num_workers(), 1);
        assert_eq!(
            closed_loop_runtime(2).unwrap().metrics().num_workers(),
            2.min(default)
        );
        assert_eq!(
            closed_loop_runtime(64).unwrap().metrics().num_workers(),
            default
        );
    }
}
