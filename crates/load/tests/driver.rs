//! The load driver end to end: coordinated omission (a stalling HTTP server shows in the
//! open-loop p99 and hides from the closed loop), reports written and read back, errors counted,
//! an unreachable endpoint refused before the run, and a run on the embedded engine with recall
//! and upserts.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use qdrant_perf_data::{DatasetCache, Metric, Vectors};
use qdrant_perf_load::driver::{self, LoadPlan, Mix, StopSignal};
use qdrant_perf_load::merge;
use qdrant_perf_load::setup::{self, CollectionChoice, SetupOptions};
use qdrant_perf_load::target::{HttpTarget, NoopTarget, StoreTarget};
use qdrant_perf_report::report::{Report, TargetInfo};
use qdrant_perf_store::HnswParams;
use qdrant_perf_testkit::http::{Answer, StandIn};
use tokio::net::TcpListener;

/// A stand-in search endpoint that answers at once, except that when its `stall_at`-th request
/// arrives it stops answering anything for `stall` (as a server does in a long GC pause or a
/// compaction), then answers everything held back. `fail_every`: answer every n-th request with
/// HTTP 500. Its search URL is `/api/v1/vectors/search`.
fn stalling_server(stall_at: u64, stall: Duration, fail_every: Option<u64>) -> StandIn {
    let stall_until: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    StandIn::start(move |r| {
        let until = {
            let mut s = stall_until.lock().unwrap();
            if r.n == stall_at && s.is_none() {
                *s = Some(Instant::now() + stall);
            }
            *s
        };
        if let Some(until) = until {
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
        }
        // A success says the server's own time twice, as Qdrant's REST API (`time`, seconds) and
        // as a gateway's Server-Timing header (milliseconds).
        if fail_every.is_some_and(|f| r.n % f == 0) {
            Answer::json("500 Internal Server Error", r#"{"error":"boom"}"#)
        } else {
            Answer {
                status: "200 OK",
                headers: "server-timing: db;dur=0.1, total;dur=0.25\r\n",
                body: r#"{"result":[{"id":0,"score":1.0},{"id":1,"score":0.5}],"time":0.0005}"#
                    .into(),
            }
        }
    })
}

fn query_vectors() -> Vectors {
    Vectors::new(4, (0..400).map(|i| (i % 7) as f32 * 0.1).collect()).unwrap()
}

fn http_target(url: &str) -> Arc<HttpTarget> {
    Arc::new(
        HttpTarget::new(
            url,
            r#"{"vector": {{vector}}, "limit": {{k}}}"#,
            &query_vectors(),
            10,
            Duration::from_secs(10),
        )
        .unwrap(),
    )
}

/// Samples of `r`'s query latencies at or above `ms` milliseconds.
fn samples_at_least(r: &driver::RunResult, ms: u64) -> u64 {
    r.query_histogram().count_between(ms * 1000, u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_stall_shows_in_the_open_loop_p99_and_hides_from_the_closed_loop() {
    // Open loop: 300 requests/s for 3 s; the server stalls 1 s when request 300 arrives, so the
    // requests due during that second all wait for it (a third of the run). A slower machine
    // only adds to every latency, so the lower bounds below hold on any machine.
    let server = stalling_server(300, Duration::from_secs(1), None);
    let url = server.url("/api/v1/vectors/search");
    let mut plan = LoadPlan::open(300.0, Duration::from_secs(3));
    plan.label = "open".into();
    let open = driver::run(http_target(&url), &plan, &StopSignal::new())
        .await
        .unwrap();
    assert_eq!(open.errors, 0, "{:?}", open.errors_by_kind);
    assert_eq!(open.ok, 900);
    assert!(server.seen() >= 900);
    assert!(
        open.latency_ms.p99_ms >= 800.0,
        "open loop must show the 1 s stall in its p99: {:?}",
        open.latency_ms
    );
    assert!(open.latency_ms.p90_ms >= 300.0, "{:?}", open.latency_ms);
    // The requests due in the first half of the stall waited at least half of it.
    assert!(samples_at_least(&open, 500) >= 100, "{:?}", open.latency_ms);
    assert!(
        open.max_in_flight >= 100,
        "the driver kept sending during the stall: {}",
        open.max_in_flight
    );
    // The scheduler itself was never late by anything like the stall: the p99 is the server's.
    let lag = open.send_lag_ms.as_ref().unwrap();
    assert!(lag.p99_ms < 500.0, "{lag:?}");

    // Closed loop, 2 workers for 3 s against the same kind of stall: only the two requests in
    // flight during the stall wait; every other request was sent after it, so the stall is in
    // at most two samples however fast the machine is (coordinated omission).
    let server = stalling_server(50, Duration::from_secs(1), None);
    let url = server.url("/api/v1/vectors/search");
    let mut plan = LoadPlan::closed(2, Duration::from_secs(3));
    plan.label = "closed".into();
    let closed = driver::run(http_target(&url), &plan, &StopSignal::new())
        .await
        .unwrap();
    assert_eq!(closed.errors, 0, "{:?}", closed.errors_by_kind);
    assert!(
        closed.ok > 50,
        "the stall at request 50 happened: {}",
        closed.ok
    );
    assert!(
        closed.latency_ms.max_ms >= 900.0,
        "the stall happened: {:?}",
        closed.latency_ms
    );
    let stalled = samples_at_least(&closed, 900);
    assert!(
        (1..=2).contains(&stalled),
        "closed loop records the stall only in the requests in flight: {stalled} of {}",
        closed.ok
    );
}

/// Two collections: the first answers at once, the second never answers.
struct SecondStalls;

impl driver::Target for SecondStalls {
    fn collections(&self) -> Vec<driver::TargetCollection> {
        ["answers", "stalls"]
            .map(|name| driver::TargetCollection {
                name: name.into(),
                qps: 1.0,
            })
            .into()
    }

    async fn call(&self, call: driver::Call) -> Result<driver::Outcome, driver::OpError> {
        if call.collection == 1 {
            std::future::pending::<()>().await;
        }
        Ok(driver::Outcome::DONE)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_endpoints_own_time_comes_from_server_timing_or_the_json_pointer() {
    let server = stalling_server(u64::MAX, Duration::ZERO, None);
    let url = server.url("/api/v1/vectors/search");
    let plan = LoadPlan::closed(1, Duration::from_millis(300));
    // Without a pointer: the Server-Timing header's `total` (0.25 ms).
    let r = driver::run(http_target(&url), &plan, &StopSignal::new())
        .await
        .unwrap();
    let server = r.operations[0].server_latency_ms.clone().unwrap();
    assert_eq!(server.samples, r.ok);
    assert!((server.p50_ms - 0.25).abs() < 0.001, "{server:?}");
    // With --server-time-pointer /time: the body's seconds (0.5 ms) win over the header.
    let with_pointer = Arc::new(
        HttpTarget::new(
            &url,
            r#"{"vector": {{vector}}}"#,
            &query_vectors(),
            10,
            Duration::from_secs(10),
        )
        .unwrap()
        .with_server_time_pointer("/time"),
    );
    let r = driver::run(with_pointer, &plan, &StopSignal::new())
        .await
        .unwrap();
    let server = r.operations[0].server_latency_ms.clone().unwrap();
    assert!((server.p50_ms - 0.5).abs() < 0.001, "{server:?}");
    let overhead = r.operations[0].overhead_ms.clone().unwrap();
    assert!(
        overhead.samples == r.ok && overhead.p50_ms > 0.0,
        "{overhead:?}"
    );
}

/// Answers after 3 ms and says the server spent 1 ms of it.
struct SaysItsTime;

impl driver::Target for SaysItsTime {
    fn collections(&self) -> Vec<driver::TargetCollection> {
        vec![driver::TargetCollection {
            name: "timed".into(),
            qps: 1.0,
        }]
    }

    async fn call(&self, _call: driver::Call) -> Result<driver::Outcome, driver::OpError> {
        tokio::time::sleep(Duration::from_millis(3)).await;
        Ok(driver::Outcome::DONE.with_server_seconds(Some(0.001)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_time_is_recorded_beside_the_client_latency() {
    let plan = LoadPlan::closed(2, Duration::from_millis(500));
    let r = driver::run(Arc::new(SaysItsTime), &plan, &StopSignal::new())
        .await
        .unwrap();
    let op = r.operations[0].clone();
    let server = op.server_latency_ms.clone().expect("server times recorded");
    let overhead = op.overhead_ms.clone().expect("overheads recorded");
    // Every answered request has its server time, and the server said 1 ms each time.
    assert_eq!(server.samples, op.ok);
    assert!(
        (server.p50_ms - 1.0).abs() < 0.01 && (server.max_ms - 1.0).abs() < 0.01,
        "{server:?}"
    );
    // Client time is at least the 3 ms sleep; the overhead is client minus server per request.
    assert!(op.latency_ms.p50_ms >= 3.0, "{:?}", op.latency_ms);
    assert!(overhead.p50_ms >= 2.0, "{overhead:?}");
    assert!(
        (overhead.mean_ms - (op.latency_ms.mean_ms - 1.0)).abs() < 0.05,
        "{overhead:?} vs {:?}",
        op.latency_ms
    );
    assert_eq!(r.server_latency_ms.as_ref(), Some(&server));
    // Shown in the terminal table, and read back from report.json.
    let text = qdrant_perf_render::run_text(&r);
    assert!(
        text.contains("server's own time") && text.contains("client - server"),
        "{text}"
    );
    let report = Report::new("load", TargetInfo::default(), vec![r], None);
    let back: Report = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(
        back.runs[0].operations[0].server_latency_ms.as_ref(),
        Some(&server)
    );
    // A target that says nothing about the server has no server figures (not zeros).
    let plain = driver::run(
        Arc::new(NoopTarget),
        &LoadPlan::closed(1, Duration::from_millis(100)),
        &StopSignal::new(),
    )
    .await
    .unwrap();
    assert!(plain.operations[0].server_latency_ms.is_none());
    assert!(plain.server_latency_ms.is_none() && plain.server.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_requests_are_charged_to_their_own_collection() {
    // 100 requests/s for 1 s after a 0.2 s warm-up, split evenly: the 50 recorded requests of
    // the second collection never answer, and the drain period ends with them still out.
    let mut plan = LoadPlan::open(100.0, Duration::from_secs(1));
    plan.warmup = Duration::from_millis(200);
    plan.drain_timeout = Duration::from_secs(2);
    let r = driver::run(Arc::new(SecondStalls), &plan, &StopSignal::new())
        .await
        .unwrap();
    let by_collection: Vec<(&str, u64, u64)> = r
        .operations
        .iter()
        .map(|o| (o.collection.as_str(), o.ok, o.errors))
        .collect();
    assert_eq!(by_collection, [("answers", 50, 0), ("stalls", 0, 50)]);
    // Only recorded requests are charged (the warm-up's unanswered ones are not).
    assert_eq!(
        r.errors_by_kind["unanswered"].count, 50,
        "{:?}",
        r.errors_by_kind
    );
    assert_eq!((r.sent, r.ok, r.errors), (100, 50, 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_by_kind_and_never_hidden() {
    let server = stalling_server(u64::MAX, Duration::ZERO, Some(10));
    let url = server.url("/api/v1/vectors/search");
    let plan = LoadPlan::open(200.0, Duration::from_secs(1));
    let r = driver::run(http_target(&url), &plan, &StopSignal::new())
        .await
        .unwrap();
    assert_eq!(r.ok + r.errors, 200);
    assert_eq!(r.errors, 20, "{:?}", r.errors_by_kind);
    let e = &r.errors_by_kind["http 500"];
    assert_eq!(e.count, 20);
    assert!(e.example.contains("boom"), "{e:?}");
    assert!((r.error_rate - 0.1).abs() < 1e-9);
    // Failed requests are not in the latency histogram.
    assert_eq!(r.latency_ms.samples, 180);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_refused_before_the_run_naming_the_url() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/search");
    let t = http_target(&url);
    let err = t.preflight().await.unwrap_err().to_string();
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    let bad = HttpTarget::new(&url, "{}", &query_vectors(), 10, Duration::from_secs(1))
        .err()
        .unwrap()
        .to_string();
    assert!(bad.contains("{{vector}}"), "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_directory_is_written_atomically_and_reads_back() {
    let mut plan = LoadPlan::open(5_000.0, Duration::from_secs(1));
    plan.warmup = Duration::from_millis(200);
    plan.label = "noop".into();
    let r = driver::run(Arc::new(NoopTarget), &plan, &StopSignal::new())
        .await
        .unwrap();
    // Warm-up requests ran but are not recorded.
    assert_eq!(r.ok, 5_000);
    assert_eq!(r.sent, 5_000);
    // Throughput is completions over the measured time, and an open loop never sends ahead of
    // schedule: at most the requested rate (however slow the machine, it can only be lower).
    assert!(
        (r.throughput_ops_s - r.ok as f64 / r.elapsed_s).abs() < 1e-6 * r.throughput_ops_s,
        "{} ops/s over {} s",
        r.throughput_ops_s,
        r.elapsed_s
    );
    assert!(
        r.throughput_ops_s <= 5_000.0 * 1.01,
        "{}",
        r.throughput_ops_s
    );
    let throughput = r.throughput_ops_s;
    assert!(!r.timeline.is_empty());
    assert_eq!(r.timeline.iter().map(|s| s.ok).sum::<u64>(), 5_000);
    let ok = r.ok;
    let mut report = Report::new(
        "load",
        TargetInfo {
            kind: "noop".into(),
            ..Default::default()
        },
        vec![r],
        None,
    );
    report.set_checks(Vec::new(), false);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    qdrant_perf_render::write_run(&report, &out).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["schema"], qdrant_perf_report::report::SCHEMA);
    assert_eq!(json["requested_rate"], 5000.0);
    assert_eq!(json["latency_ms"]["samples"], 5000);
    for key in ["mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"] {
        assert!(json["latency_ms"][key].is_number(), "{key}");
    }
    assert_eq!(json["throughput_ops_s"].as_f64().unwrap(), throughput);
    assert_eq!(json["errors"], 0);
    assert!(json["checks"].is_array());
    assert!(json["provenance"]["machine"]["cores"].as_u64().unwrap() >= 1);
    assert_eq!(json["provenance"]["engine"], "noop");
    // It reads back as the same report (figures kept; histograms live in the interval logs).
    let back = Report::load(&out).unwrap();
    assert_eq!(back.runs[0].ok, ok);
    // Equal to the last digit serde_json writes (it reads floats back to within one ulp).
    let (got, want) = (&back.latency_ms, &report.latency_ms);
    assert_eq!(got.samples, want.samples);
    for (g, w) in [
        (got.mean_ms, want.mean_ms),
        (got.p50_ms, want.p50_ms),
        (got.p99_ms, want.p99_ms),
        (got.max_ms, want.max_ms),
    ] {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
    assert!(!json["runs"][0]["timeline"].as_array().unwrap().is_empty());
    // The driver samples this process; a server's own CPU and memory are not read yet.
    assert_eq!(json["runs"][0]["resources"]["server"], "not collected");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("| noop | open | 5000/s |"), "{md}");
    let prom = std::fs::read_to_string(out.join("metrics.prom")).unwrap();
    // Today's figures under the exposition format's conventions (base units, _total counters),
    // with the live endpoint's names where they mean the same.
    for (family, ty) in [
        ("qdrant_perf_query_latency_seconds", "summary"),
        ("qdrant_perf_run_query_latency_seconds", "summary"),
        ("qdrant_perf_latency_seconds", "summary"),
        ("qdrant_perf_requests_total", "counter"),
        ("qdrant_perf_errors_total", "counter"),
        ("qdrant_perf_errors_by_kind_total", "counter"),
        ("qdrant_perf_run_throughput_ops_per_second", "gauge"),
        ("qdrant_perf_requested_rate_ops_per_second", "gauge"),
        ("qdrant_perf_error_ratio", "gauge"),
        ("qdrant_perf_elapsed_seconds", "gauge"),
        ("qdrant_perf_process_cpu_usage_ratio", "gauge"),
        ("qdrant_perf_process_resident_memory_max_bytes", "gauge"),
    ] {
        assert!(
            prom.contains(&format!("# HELP {family} ")),
            "{family} in {prom}"
        );
        assert!(
            prom.contains(&format!("# TYPE {family} {ty}")),
            "{family} in {prom}"
        );
    }
    let s = common::samples(&prom);
    let get = |series: &str| -> f64 {
        *s.get(series)
            .unwrap_or_else(|| panic!("{series} not in\n{prom}"))
    };
    let slot = r#"run="noop",op="search",collection="noop""#;
    assert_eq!(
        get(&format!("qdrant_perf_requests_total{{{slot}}}")),
        5000.0
    );
    assert_eq!(get(&format!("qdrant_perf_errors_total{{{slot}}}")), 0.0);
    assert_eq!(
        get(r#"qdrant_perf_run_query_latency_seconds_count{run="noop"}"#),
        5000.0
    );
    assert_eq!(
        get(r#"qdrant_perf_query_latency_seconds_count{run="noop",collection="noop"}"#),
        5000.0
    );
    for (q, ms) in [
        ("0.5", report.latency_ms.p50_ms),
        ("0.95", report.latency_ms.p95_ms),
        ("0.99", report.latency_ms.p99_ms),
    ] {
        let got = get(&format!(
            "qdrant_perf_run_query_latency_seconds{{run=\"noop\",quantile=\"{q}\"}}"
        ));
        assert!(
            (got - ms / 1000.0).abs() <= 1e-12,
            "p{q}: {got} s vs {ms} ms"
        );
    }
    assert_eq!(
        get(r#"qdrant_perf_requested_rate_ops_per_second{run="noop"}"#),
        5000.0
    );
    assert_eq!(
        get(r#"qdrant_perf_run_throughput_ops_per_second{run="noop"}"#),
        throughput
    );
    assert_eq!(get(r#"qdrant_perf_error_ratio{run="noop"}"#), 0.0);
    assert!(get(r#"qdrant_perf_elapsed_seconds{run="noop"}"#) > 0.0);
    // Prometheus's own checker accepts the file, lint included.
    match common::promtool_check(&prom) {
        None => qdrant_perf_testkit::skip(common::PROMTOOL_MISSING),
        Some(result) => result.unwrap(),
    }
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The interval log holds every sample; two generators' logs merge into the sum.
    let hlog = out.join("histograms/noop.hlog");
    let merged = merge::merge_logs(&[hlog.clone(), hlog.clone()]).unwrap();
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].tag, "search/noop");
    assert_eq!(merged[0].histogram.len(), 2 * ok);
    assert_eq!(merged[0].files, 2);
    let merged_path = dir.path().join("merged.hlog");
    merge::write_merged(&merged_path, &merged).unwrap();
    assert_eq!(
        merge::merge_logs(&[merged_path]).unwrap()[0]
            .histogram
            .len(),
        2 * ok
    );
    let not_a_log = dir.path().join("x.hlog");
    std::fs::write(&not_a_log, "hello\n").unwrap();
    assert!(merge::merge_logs(&[not_a_log]).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_a_run_early_and_marks_it_partial() {
    let plan = LoadPlan::open(1_000.0, Duration::from_secs(60));
    let stop = StopSignal::new();
    let s = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.stop();
    });
    let started = Instant::now();
    let r = driver::run(Arc::new(NoopTarget), &plan, &stop)
        .await
        .unwrap();
    // Planned: 60 s and 60,000 requests. Stopped after 0.5 s, it ends long before either,
    // leaving room for a machine ten times slower.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(r.partial);
    assert!(r.ok > 0 && r.ok < 30_000, "{}", r.ok);
    assert_eq!(
        r.sent, r.ok,
        "the no-op target answers every request it is sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_the_embedded_engine_measures_recall_and_mixes_upserts() {
    let cache_dir = tempfile::tempdir().unwrap();
    let choice = |name: &str, dim| CollectionChoice {
        name: name.into(),
        vector_size: dim,
        metric: Metric::Cosine,
        hnsw: HnswParams::default(),
        qps: 100.0,
    };
    let opts = SetupOptions {
        points: 1_000,
        queries: 50,
        k: 10,
        ef: 128,
        server: None,
        cache: DatasetCache::new(cache_dir.path()),
        writes: true,
        quiet: true,
        read_only: Vec::new(),
        dataset: None,
    };
    let mut prepared = setup::prepare(&[choice("tiny_a", 16), choice("tiny_b", 32)], &opts)
        .await
        .unwrap();
    // Each dataset's description, in the notes and the report's provenance, carries its LID
    // and RC.
    assert!(
        prepared.notes[0].contains("LID@20 mean"),
        "{:?}",
        prepared.notes
    );
    let h = &prepared.datasets[0].parameters["hardness"];
    assert!(h["rc_mean"].as_f64().is_some_and(|rc| rc > 1.0), "{h}");
    let target = Arc::new(StoreTarget::new(
        prepared
            .collections
            .iter()
            .map(|c| c.with_qps(c.qps))
            .collect(),
        10,
    ));
    let mut plan = LoadPlan::open(200.0, Duration::from_secs(1));
    plan.mix = "search=80,upsert=20".parse::<Mix>().unwrap();
    let r = driver::run(target.clone(), &plan, &StopSignal::new())
        .await
        .unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.errors_by_kind);
    assert_eq!(r.ok, 200);
    let ops: Vec<(String, String, u64)> = r
        .operations
        .iter()
        .map(|o| (o.collection.clone(), o.op.to_string(), o.ok))
        .collect();
    assert_eq!(
        ops,
        [
            ("tiny_a".into(), "search".into(), 80),
            ("tiny_a".into(), "upsert".into(), 20),
            ("tiny_b".into(), "search".into(), 80),
            ("tiny_b".into(), "upsert".into(), 20)
        ]
    );
    let recall = r.recall_at_10.unwrap();
    assert_eq!(recall.samples, 160);
    assert!(recall.value > 0.9, "{recall:?}");
    // A cached search needs a cache: refused before the run, naming the fix.
    let mut plan = LoadPlan::open(10.0, Duration::from_secs(1));
    plan.mix = "cached_search=1".parse::<Mix>().unwrap();
    let err = driver::run(target, &plan, &StopSignal::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs a cache"), "{err}");
    // The writes went to a scratch copy, removed at the end.
    prepared.cleanup().await;
    let scratch: Vec<_> = walk(cache_dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("edge-scratch"))
        .collect();
    assert!(scratch.is_empty(), "{scratch:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
    }
    out
}

/// An HTTP/2-only (prior knowledge, h2c) server on 127.0.0.1 that answers `GET /health` with a
/// fixed JSON when the request carries `x-token: t0k3n`, 401 otherwise; counts the HTTP/2
/// requests it answered with 200.
async fn h2_server() -> (String, Arc<AtomicU64>) {
    use hyper::service::service_fn;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ok = Arc::new(AtomicU64::new(0));
    let seen = ok.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let authorized = req.headers().get("x-token").is_some_and(|v| v == "t0k3n");
                        let good = authorized
                            && req.version() == hyper::Version::HTTP_2
                            && req.uri().path() == "/health";
                        if good {
                            seen.fetch_add(1, Ordering::SeqCst);
                        }
                        let (status, body) = if good {
                            (200, r#"{"status":"ok"}"#)
                        } else {
                            (401, "{}")
                        };
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .status(status)
                                .body(http_body_util::Full::new(bytes::Bytes::from_static(
                                    body.as_bytes(),
                                )))
                                .unwrap(),
                        )
                    }
                });
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), service)
                        .await;
            });
        }
    });
    (base, ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_endpoints_are_driven_over_prior_knowledge_h2c_with_their_headers() {
    use qdrant_perf_load::target::{BodySpec, EndpointSpec, HttpOptions};
    let (base, ok) = h2_server().await;
    let target = |headers| {
        HttpTarget::with_endpoints(
            vec![EndpointSpec {
                name: "health".into(),
                method: qdrant_perf_load::http::Method::GET,
                url: format!("{base}/health"),
                body: BodySpec::None,
                weight: 1.0,
            }],
            None,
            10,
            HttpOptions {
                headers,
                http2: true,
                timeout: Duration::from_secs(10),
            },
        )
        .unwrap()
    };
    let header = qdrant_perf_load::http::parse_header("x-token: t0k3n").unwrap();
    let t = Arc::new(target(vec![header]));
    t.preflight().await.unwrap();
    let r = driver::run(
        t,
        &LoadPlan::closed(8, Duration::from_millis(300)),
        &StopSignal::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.errors_by_kind);
    assert!(r.ok > 10, "{}", r.ok);
    // Every answered request reached the server as HTTP/2 with the header (the preflight too).
    assert!(
        ok.load(Ordering::SeqCst) > r.ok,
        "{} vs {}",
        ok.load(Ordering::SeqCst),
        r.ok
    );
    // Without the header the server says 401, and the preflight names the URL.
    let err = target(Vec::new())
        .preflight()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 401") && err.contains("/health"), "{err}");
}
