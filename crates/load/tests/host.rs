//! The server host's CPU and memory from real monitoring: a private node_exporter and a private
//! Prometheus scraping it every second (qdrant_perf_load::monitoring), while this test burns
//! one core. The Prometheus figures are checked against PromQL the test runs itself over the
//! same window; the node_exporter and /proc sources see the burn; unreachable URLs and a wrong
//! instance are named in the errors.
//!
//! A test that needs node_exporter or Prometheus prints `skipped: ...` (fails under CI) when the
//! executable is missing (Debian packages `prometheus-node-exporter` and `prometheus`, or
//! `NODE_EXPORTER_BIN` / `PROMETHEUS_BIN`). No test asserts speed: waits are generous.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use qdrant_perf_load::host::{HostError, HostMonitor, HostSource};
use qdrant_perf_testkit::prometheus::{PrivateNodeExporter, PrivatePrometheus};

/// The private stack, or None after printing why the test is skipped.
fn stack() -> Option<(PrivateNodeExporter, PrivatePrometheus)> {
    let exporter = qdrant_perf_testkit::started(PrivateNodeExporter::start())?;
    let mut prometheus =
        qdrant_perf_testkit::started(PrivatePrometheus::start(&[exporter.target()]))?;
    // Two samples of the instance, so rates have data before the run starts.
    let two = format!(
        "count_over_time(node_memory_MemTotal_bytes{{instance=\"{}\"}}[1m]) >= 2",
        exporter.target()
    );
    prometheus
        .wait_for_samples(&two, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}"));
    Some((exporter, prometheus))
}

/// Held while a test burns a core, so two burns do not overlap (the machine may have only two).
static BURNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Spins one thread until the returned flag is set.
fn burn_one_core() -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut x = 1u64;
        while !flag.load(Ordering::Relaxed) {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
    });
    (stop, handle)
}

/// The one value of an instant query at `time`, run here with reqwest.
async fn promql(url: &str, query: &str, time: f64) -> Option<f64> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/query"))
        .query(&[("query", query.to_string()), ("time", format!("{time:.3}"))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "success", "{query}: {body}");
    body["data"]["result"].as_array()?.first()?["value"][1]
        .as_str()?
        .parse()
        .ok()
}

/// Writes `bytes` to a file in the test's temporary directory (on the target's disk, not a
/// tmpfs), syncs it to the disk and removes it.
fn write_to_disk(bytes: usize) {
    use std::io::Write;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "host-io-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&vec![7u8; bytes]).unwrap();
    f.sync_all().unwrap();
    drop(f);
    std::fs::remove_file(&path).unwrap();
}

/// 16 MiB: what the tests write inside their window.
const WRITTEN: usize = 16 << 20;

/// The host's disk writes over the span of `io`'s series hold [`WRITTEN`].
fn assert_synced_file_seen(io: &qdrant_perf_report::HostIo) {
    let span = io.series.last().map_or(0.0, |s| s.t);
    let bytes = io.disk_written_bytes_per_s.unwrap() * span;
    assert!(
        bytes >= WRITTEN as f64,
        "{bytes} bytes written, {WRITTEN} synced: {io:?}"
    );
    let per_interval: f64 = io.series.iter().filter_map(|s| s.disk_written).sum();
    assert!(per_interval > 0.0, "{io:?}");
}

fn a_free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn prometheus_figures_match_the_same_promql_and_node_exporter_sees_the_burn() {
    let Some((exporter, prometheus)) = stack() else {
        return;
    };
    let instance = exporter.target();
    let mut from_prometheus = HostMonitor::start(HostSource::Prometheus {
        url: prometheus.url(),
        instance: None,
    })
    .await
    .unwrap();
    let mut from_exporter = HostMonitor::start(HostSource::NodeExporter {
        url: format!("http://{instance}"),
    })
    .await
    .unwrap();

    let burning = BURNING.lock().await;
    let (stop, burner) = burn_one_core();
    let start = SystemTime::now();
    write_to_disk(WRITTEN);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        from_prometheus.sample().await;
        from_exporter.sample().await;
    }
    let end = SystemTime::now();
    stop.store(true, Ordering::Relaxed);
    burner.join().unwrap();
    drop(burning);

    let p = from_prometheus.finish(start, end).await;
    let n = from_exporter.finish(start, end).await;
    eprintln!("prometheus: {p:#?}\nnode_exporter: {n:#?}");

    // (a) Prometheus: the figures are those of the same window's PromQL, run here.
    assert_eq!(p.kind, "prometheus");
    assert_eq!(p.not_collected, None, "{p:?}");
    assert!(
        p.source.contains(&prometheus.url()) && p.source.contains(&instance),
        "{}",
        p.source
    );
    assert!(!p.queries.is_empty());
    assert!(
        p.queries.iter().all(|q| q.contains(&instance)),
        "{:?}",
        p.queries
    );
    let w = p.window_s;
    assert!(w >= 4.0, "the burn's 4 s or more, in whole seconds: {w}");
    let time = p.evaluated_at_unix_s.unwrap();
    let sel = format!("instance=\"{instance}\"");
    let cpu = promql(
        &prometheus.url(),
        &format!("100 * (1 - avg(rate(node_cpu_seconds_total{{mode=\"idle\",{sel}}}[{w}s])))"),
        time,
    )
    .await
    .unwrap();
    let cpu_mean = p.cpu_pct_mean.unwrap();
    assert!((cpu_mean - cpu).abs() <= 5.0, "{cpu_mean} vs PromQL {cpu}");
    // A subquery over the same window: another way to the same mean memory use.
    let memory = promql(
        &prometheus.url(),
        &format!(
            "avg_over_time((100 * (1 - node_memory_MemAvailable_bytes{{{sel}}} / \
             node_memory_MemTotal_bytes{{{sel}}}))[{w}s:1s])"
        ),
        time,
    )
    .await
    .unwrap();
    let memory_mean = p.memory_pct_mean.unwrap();
    assert!(
        (memory_mean - memory).abs() <= 5.0,
        "{memory_mean} vs PromQL {memory}"
    );
    let cores = p.cores.unwrap();
    assert!(cores >= 1, "{p:?}");
    // One core of `cores` was busy the whole window (at least half of it, to leave room for
    // scheduling); nothing else can make the host less busy.
    let one_core = 100.0 / cores as f64;
    assert!(
        cpu_mean >= one_core / 2.0,
        "{cpu_mean} % with one of {cores} cores burnt"
    );
    let cpu_max = p.cpu_pct_max.unwrap();
    assert!(cpu_max >= cpu_mean - 5.0 && cpu_max <= 100.0, "{p:?}");
    assert!(p.memory_pct_max.unwrap() >= memory_mean - 1e-9, "{p:?}");
    assert!(p.memory_total_bytes.unwrap() > 0);
    assert!(p.samples >= 2, "{p:?}");
    // Disk and network: the file synced in the window was written to a disk, and Prometheus'
    // scrapes of the node_exporter went over lo; the mean is the same window's PromQL.
    assert_eq!(p.io.not_collected, None, "{p:?}");
    assert!(p.io.disk_written_bytes_per_s.unwrap() > 0.0, "{:?}", p.io);
    assert!(p.io.disk_read_bytes_per_s.is_some(), "{:?}", p.io);
    assert!(p.io.network_receive_bytes_per_s.is_some(), "{:?}", p.io);
    // The file synced in the window is in the disk writes of the scrapes bracketing it.
    assert_synced_file_seen(&p.io);
    assert!(
        p.io.series.iter().all(|s| s.t > 0.0 && s.t <= w + 3.0),
        "{:?}",
        p.io.series
    );

    // (b) node_exporter scraped directly over the same burn.
    assert_eq!(n.kind, "node_exporter");
    assert_eq!(n.not_collected, None, "{n:?}");
    assert_eq!(n.source, format!("node_exporter http://{instance}/metrics"));
    let n_cpu = n.cpu_pct_mean.unwrap();
    assert!(n_cpu > 0.0 && n_cpu <= 100.0, "{n:?}");
    assert!(
        n_cpu >= one_core / 2.0,
        "{n_cpu} % with one of {cores} cores burnt"
    );
    let n_memory = n.memory_pct_mean.unwrap();
    assert!(n_memory > 0.0 && n_memory < 100.0, "{n:?}");
    assert!(n.samples >= 2 && n.failed_samples == 0, "{n:?}");
    assert_eq!(n.cores, Some(cores));
    assert_eq!(n.io.not_collected, None, "{n:?}");
    assert_synced_file_seen(&n.io);
    assert!(n.io.network_receive_bytes_per_s.is_some(), "{:?}", n.io);
    assert_eq!(n.io.series.len() as u64, n.samples - 1, "{:?}", n.io);
    assert!(n.queries.is_empty());

    // A window from before Prometheus had any sample of the instance: not collected, saying
    // which instance it looked for and which it found.
    let early = HostMonitor::start(HostSource::Prometheus {
        url: prometheus.url(),
        instance: Some(instance.clone()),
    })
    .await
    .unwrap();
    let long_ago = start - Duration::from_secs(3600);
    let none = early
        .finish(long_ago, long_ago + Duration::from_secs(4))
        .await;
    let why = none.not_collected.clone().unwrap();
    assert!(
        why.contains("fewer than 2 samples")
            && why.contains(&format!("instance \"{instance}\""))
            && why.contains(&format!("node_cpu_seconds_total now: {instance}")),
        "{why}"
    );
    assert_eq!(none.cpu_pct_mean, None);
    assert_eq!(none.memory_pct_mean, None);
}

#[tokio::test]
async fn a_wrong_or_missing_instance_is_named_with_the_instances_found() {
    let Some((exporter, prometheus)) = stack() else {
        return;
    };
    let err = HostMonitor::start(HostSource::Prometheus {
        url: prometheus.url(),
        instance: Some("db-host:9100".into()),
    })
    .await
    .err()
    .expect("an instance Prometheus does not have");
    eprintln!("{err}");
    assert!(matches!(err, HostError::UnknownInstance { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("\"db-host:9100\"")
            && text.contains(&exporter.target())
            && text.contains(&prometheus.url()),
        "{text}"
    );

    // Two hosts and no instance named: which one is the server's is not guessed.
    let other = PrivateNodeExporter::start().unwrap_or_else(|e| panic!("{e}"));
    let mut both = PrivatePrometheus::start(&[exporter.target(), other.target()])
        .unwrap_or_else(|e| panic!("{e}"));
    both.wait_for_samples(
        "count(group by (instance) (node_cpu_seconds_total)) >= 2",
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = HostMonitor::start(HostSource::Prometheus {
        url: both.url(),
        instance: None,
    })
    .await
    .err()
    .expect("two instances");
    eprintln!("{err}");
    assert!(
        matches!(err, HostError::AmbiguousInstance { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&exporter.target()) && text.contains(&other.target()),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_prometheus_or_node_exporter_is_an_error_naming_the_url() {
    let port = a_free_port();
    let url = format!("http://127.0.0.1:{port}");
    let err = HostMonitor::start(HostSource::Prometheus {
        url: url.clone(),
        instance: None,
    })
    .await
    .err()
    .expect("nothing listens there");
    assert!(matches!(err, HostError::Unreachable { .. }), "{err:?}");
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        text.contains(&format!("cannot reach Prometheus at {url}"))
            && text.contains("/api/v1/query")
            && text.to_lowercase().contains("refused"),
        "{text}"
    );

    let err = HostMonitor::start(HostSource::NodeExporter { url: url.clone() })
        .await
        .err()
        .expect("nothing listens there");
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        text.contains(&format!("cannot reach node_exporter at {url}/metrics")),
        "{text}"
    );
}

#[tokio::test]
async fn the_local_process_source_sees_this_process_burn_cpu() {
    let pid = std::process::id();
    let mut monitor = HostMonitor::start(HostSource::LocalProcess { pid })
        .await
        .unwrap();
    let burning = BURNING.lock().await;
    let (stop, burner) = burn_one_core();
    let start = SystemTime::now();
    write_to_disk(WRITTEN);
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        monitor.sample().await;
    }
    let end = SystemTime::now();
    stop.store(true, Ordering::Relaxed);
    burner.join().unwrap();
    drop(burning);
    let r = monitor.finish(start, end).await;
    eprintln!("{r:#?}");
    assert_eq!(r.kind, "proc");
    assert_eq!(r.not_collected, None, "{r:?}");
    assert!(
        r.source.contains(&format!("pid {pid}")) && r.source.contains("not the whole host"),
        "{}",
        r.source
    );
    let cpu = r.cpu_pct_mean.unwrap();
    assert!(cpu > 0.0 && cpu <= 100.0, "{r:?}");
    let memory = r.memory_pct_mean.unwrap();
    assert!(memory > 0.0 && memory < 100.0, "{r:?}");
    assert!(r.samples >= 2 && r.window_s > 0.0, "{r:?}");
    // This process wrote (at least) the synced file in the window: /proc/<pid>/io counts it.
    let written = r.io.disk_written_bytes_per_s.unwrap() * r.window_s;
    assert!(written >= WRITTEN as f64, "{written} bytes, {:?}", r.io);
    assert!(r.io.loopback_bytes_per_s.is_some(), "{:?}", r.io);

    let err = HostMonitor::start(HostSource::LocalProcess { pid: u32::MAX })
        .await
        .err()
        .expect("no such process");
    assert!(err.to_string().contains(&u32::MAX.to_string()), "{err}");
}
