//! The deployment's own side of a run, against a real Qdrant server (`QDRANT_BIN`), a real
//! redis-server and a real Prometheus scraping a real node_exporter: the server's time beside
//! the client's, its `/metrics` once a second with an unreadable node named, `cached_search`
//! through Redis that goes on when Redis dies, the server host's CPU and memory judged from
//! Prometheus, and the live endpoint scraped during a run.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{bin, http_json};
use qdrant_perf_testkit::qdrant::LocalServer;
use qdrant_perf_testkit::redis::RedisServer;

/// A server from `QDRANT_BIN`, or `None` (the test skips; under CI it fails).
fn qdrant() -> Option<LocalServer> {
    let qdrant = qdrant_perf_testkit::qdrant_bin()?;
    Some(
        LocalServer::start(Path::new(&qdrant), None)
            .expect("QDRANT_BIN is set but the server did not start"),
    )
}

/// Searches the server has answered, by its own count (gRPC `/qdrant.Points/Search`).
fn searches_counted(port: u16) -> u64 {
    qdrant_perf_testkit::http_body(port, "/metrics")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("grpc_responses_total{") && l.contains("Points/Search"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[test]
fn a_load_run_shows_server_time_server_metrics_and_the_cache_under_load_and_survives_redis_dying() {
    let Some(server) = qdrant() else {
        return;
    };
    let Some(mut redis) = qdrant_perf_testkit::started(RedisServer::start()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // Without the in-process tier (l1_cache_size 0) every cached search asks Redis, so its
    // death shows in the cache's errors.
    let config = dir.path().join("perf.yaml");
    let text = common::BUNDLED.replace("l1_cache_size: \"2GB\"", "l1_cache_size: \"0\"");
    std::fs::write(&config, text).unwrap();
    // A second "node" nobody listens on: it must be named in the report, not skipped.
    let dead = format!(
        "http://127.0.0.1:{}",
        qdrant_perf_testkit::free_ports::<1>().unwrap()[0]
    );
    let mut cmd = bin();
    cmd.args([
        "load",
        "--quiet",
        "--target",
        &server.grpc_url(),
        "--metrics-url",
        &format!("{},{dead}", server.rest_url()),
        "--points",
        "1000",
        "--queries",
        "100",
        "--rate",
        "200",
        "--duration",
        "8s",
        "--warmup",
        "1s",
        "--mix",
        "search=50,cached_search=50",
    ])
    .arg("--config")
    .arg(&config)
    .arg("--cache-dir")
    .arg(dir.path().join("cache"))
    .arg("--out")
    .arg(&out)
    .env("REDIS_URL", redis.url())
    .env_remove("QDRANT_URL")
    .env_remove("QDRANT_METRICS_URL")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Redis dies in the middle of the recorded part. The run's own rate is the clock, not
    // the wall (setup may take long on a slow machine): about 100 searches a second reach
    // the server (the cache answers the other cached ones), so 350 counted searches are the
    // warm-up and 2 s or more of the recorded part, and 5 s of it remain.
    let started = std::time::Instant::now();
    let report_path = out.join("report.json");
    while searches_counted(server.http_port) < 350 && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(50));
    }
    redis.kill();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(report_path.exists(), "{stdout}\n{stderr}");
    // Client and server time for both operations, in the terminal table.
    assert!(stdout.contains("search/deepcoder"), "{stdout}");
    assert!(stdout.contains("server's own time"), "{stdout}");
    assert!(stdout.contains("client - server"), "{stdout}");
    // Qdrant's own /telemetry over the run, beside the client's searches; the dead node's is
    // named, and the comparison says it was left out and that cache hits never reach the server.
    assert!(
        stdout.contains("/telemetry: grpc /qdrant.Points/Search 0: "),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "node {dead} /telemetry UNREADABLE: at the start: "
        )),
        "{stdout}"
    );
    let comparison = stdout
        .lines()
        .find(|l| l.contains("server /telemetry counted "))
        .unwrap_or_else(|| panic!("no /telemetry comparison in {stdout}"));
    assert!(
        comparison.contains("(1 of 2 nodes' /telemetry unreadable, not counted)")
            && comparison.ends_with(
                "the client's cached_search requests are not counted (the server sees only the cache's misses)"
            ),
        "{comparison}"
    );
    eprintln!("{comparison}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let run = &r["runs"][0];
    let search = run["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op"] == "search")
        .unwrap();
    let server_n = search["server_latency_ms"]["samples"].as_u64().unwrap();
    assert_eq!(server_n, search["ok"].as_u64().unwrap(), "{search}");
    assert!(search["server_latency_ms"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(
        search["overhead_ms"]["p50_ms"].as_f64().unwrap() > 0.0,
        "{search}"
    );
    // The server's /metrics once a second: the live node has a series that counts the run's
    // searches, the dead one is named with its error.
    let nodes = run["server"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{}", run["server"]);
    let live = &nodes[0];
    let seconds = live["seconds"].as_array().unwrap();
    assert!(seconds.len() >= 4, "{live}");
    let counted: u64 = seconds
        .iter()
        .map(|s| s["requests"].as_u64().unwrap())
        .sum();
    assert!(
        counted > 0 && seconds.iter().all(|s| s["points"].as_f64() == Some(1000.0)),
        "{live}"
    );
    let by_server = live["delta"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["endpoint"].as_str().unwrap().contains("Points/Search"))
        .map(|e| e["requests"].as_u64().unwrap())
        .sum::<u64>();
    // The server counted about the searches that reached it in the recorded part (the cache
    // answered the others); the first snapshot races the first recorded request.
    assert!(by_server > 0, "{live}");
    assert!(live["unreadable"].is_null(), "{live}");
    assert_eq!(nodes[1]["url"], dead.as_str());
    assert!(
        nodes[1]["unreadable"].as_str().unwrap().contains(&dead),
        "{}",
        nodes[1]
    );
    assert!(stdout.contains(&format!("node {dead}")) && stdout.contains("UNREADABLE"));
    // The cache under load: hits, its latency, and after Redis died the searches went on
    // (no failed request) while the cache counted its connection errors.
    let cache = &run["cache"]["measurements"]["stats"];
    assert!(cache["hit_rate"].as_f64().unwrap() > 0.0, "{cache}");
    assert!(cache["lookup"]["samples"].as_u64().unwrap() > 0, "{cache}");
    let errors = &cache["errors"];
    assert!(
        errors["connection"].as_u64().unwrap() + errors["timeout"].as_u64().unwrap() > 0,
        "Redis was killed mid-run: {cache}"
    );
    assert_eq!(run["errors"].as_u64(), Some(0), "{}", run["errors_by_kind"]);
    let redis_seconds = run["cache"]["redis_latency"].as_array().unwrap();
    assert!(
        redis_seconds
            .iter()
            .any(|s| s["failed"].as_u64().unwrap() > 0)
            && redis_seconds.iter().any(|s| s["avg_ms"].as_f64().is_some()),
        "{redis_seconds:?}"
    );
    assert!(stdout.contains("cache redis://"), "{stdout}");
    // The server runs on this machine and nothing else watches its host: its process's CPU
    // and memory come from /proc, under their own name beside the generator's.
    let host = &run["host"];
    assert_eq!(host["kind"], "proc", "{host}");
    assert!(host["source"].as_str().unwrap().contains("/proc"), "{host}");
    assert!(host["memory_pct_max"].as_f64().unwrap() > 0.0, "{host}");
    assert!(stdout.contains("server host (/proc"), "{stdout}");
    // The collection the run created is gone.
    let collections = qdrant_perf_testkit::http_body(server.http_port, "/collections");
    assert!(!collections.unwrap_or_default().contains("perf_"));
}

#[test]
fn validate_judges_the_server_hosts_cpu_and_memory_from_prometheus_and_serves_live_figures() {
    use qdrant_perf_testkit::prometheus::{
        PROMTOOL_MISSING, PrivateNodeExporter, PrivatePrometheus, promtool_check,
    };
    let Some(server) = qdrant() else {
        return;
    };
    let Some(exporter) = qdrant_perf_testkit::started(PrivateNodeExporter::start()) else {
        return;
    };
    let started = qdrant_perf_testkit::started(PrivatePrometheus::start(&[exporter.target()]));
    let Some(mut prometheus) = started else {
        return;
    };
    let instance = exporter.target();
    prometheus
        .wait_for_samples(
            &format!(
                "count_over_time(node_memory_MemTotal_bytes{{instance=\"{instance}\"}}[1m]) >= 2"
            ),
            Duration::from_secs(120),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let listen = format!(
        "127.0.0.1:{}",
        qdrant_perf_testkit::free_ports::<1>().unwrap()[0]
    );
    let mut cmd = bin();
    cmd.args([
        "validate",
        "--quick",
        "--quiet",
        "--no-stress",
        "--collections",
        "deepcoder",
        "--points",
        "1000",
        "--queries",
        "100",
        "--duration",
        "3s",
        "--overall-duration",
        "5s",
        "--target",
        &server.grpc_url(),
        "--metrics-url",
        &server.rest_url(),
        "--prometheus",
        &prometheus.url(),
        "--metrics-listen",
        &listen,
    ])
    .arg("--cache-dir")
    .arg(dir.path().join("cache"))
    .arg("--out")
    .arg(&out)
    .env_remove("QDRANT_URL")
    .env_remove("QDRANT_METRICS_URL")
    .env_remove("QDRANT_PERF_PROMETHEUS")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Scrape the live endpoint while the runs go on.
    let started = std::time::Instant::now();
    let mut live = String::new();
    while started.elapsed() < Duration::from_secs(300) {
        let port: u16 = listen.rsplit(':').next().unwrap().parse().unwrap();
        // A scrape after the run's first second: requests counted, server times seen.
        if let Some(body) = qdrant_perf_testkit::http_body(port, "/metrics")
            && body
                .lines()
                .any(|l| l.starts_with("qdrant_perf_requests_total{") && !l.ends_with(" 0"))
            && body.contains("qdrant_perf_server_latency_seconds_count{")
        {
            live = body;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        live.contains("qdrant_perf_latency_seconds{")
            && live.contains("qdrant_perf_server_latency_seconds{"),
        "the live endpoint showed a run with client and server latency:\n{live}\n{stderr}"
    );
    match promtool_check(&live) {
        None => qdrant_perf_testkit::skip(PROMTOOL_MISSING),
        Some(r) => r.unwrap(),
    }
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{stdout}\n{stderr}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    // cpu_usage and memory_usage judged for the server host, from Prometheus.
    let check = |name: &str| {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {}", r["checks"]))
            .clone()
    };
    let (cpu, memory) = (check("cpu_usage"), check("memory_usage"));
    for c in [&cpu, &memory] {
        assert_ne!(c["verdict"], "not_run", "{c}");
        let note = c["note"].as_str().unwrap();
        assert!(
            note.contains(&prometheus.url()) && note.contains(&instance),
            "{note}"
        );
    }
    let overall = r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["label"] == "overall")
        .unwrap();
    let host = &overall["host"];
    assert_eq!(host["kind"], "prometheus", "{host}");
    assert!(!host["queries"].as_array().unwrap().is_empty(), "{host}");
    // The same figures, asked of the same Prometheus with the test's own PromQL over the run's
    // window, agree within 5 percentage points.
    let at = host["evaluated_at_unix_s"].as_f64().unwrap();
    let window = host["window_s"].as_f64().unwrap().round() as u64;
    let cpu_direct = prometheus
        .value_at(
        &format!(
            "100 * (1 - avg(rate(node_cpu_seconds_total{{mode=\"idle\",instance=\"{instance}\"}}[{window}s])))"
        ),
        at,
    )
    .expect("Prometheus answers the CPU query");
    let memory_direct = prometheus
        .value_at(
        &format!(
            "100 * (1 - min_over_time(node_memory_MemAvailable_bytes{{instance=\"{instance}\"}}[{window}s]) / node_memory_MemTotal_bytes{{instance=\"{instance}\"}})"
        ),
        at,
    )
    .expect("Prometheus answers the memory query");
    let cpu_judged = cpu["measured"].as_f64().unwrap();
    let memory_judged = memory["measured"].as_f64().unwrap();
    assert!(
        (cpu_judged - cpu_direct.clamp(0.0, 100.0)).abs() <= 5.0,
        "cpu {cpu_judged} vs {cpu_direct}"
    );
    assert!(
        (memory_judged - memory_direct).abs() <= 5.0,
        "memory {memory_judged} vs {memory_direct}"
    );
    // Client and server percentiles for every operation of every run, and a per-second series
    // of the server in report.json.
    for run in r["runs"].as_array().unwrap() {
        for op in run["operations"].as_array().unwrap() {
            assert!(
                op["server_latency_ms"]["p95_ms"].as_f64().unwrap() > 0.0,
                "{op}"
            );
            assert!(op["latency_ms"]["p95_ms"].as_f64().unwrap() > 0.0, "{op}");
        }
        let seconds = run["server"]["nodes"][0]["seconds"].as_array().unwrap();
        assert!(!seconds.is_empty(), "{}", run["server"]);
    }
    assert!(
        stdout.contains("cpu_usage") && stdout.contains(&instance),
        "{stdout}"
    );
    // Disk and network I/O of the server host: figures (no target in the file), from the same
    // Prometheus, with a per-interval series in report.json and in metrics.prom.
    for name in ["disk_io", "network_io"] {
        let c = check(name);
        assert_eq!(c["verdict"], "figure", "{c}");
        assert!(c["measured"].as_f64().unwrap() >= 0.0, "{c}");
        assert!(
            c["note"].as_str().unwrap().contains(&prometheus.url()),
            "{c}"
        );
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row in\n{stdout}"));
        assert!(line.contains("MB/s") && line.contains("figure"), "{line}");
    }
    // The server's own count of the overall run's searches, from /telemetry, beside the
    // client's (its sample size), on the terminal and in report.json.
    let counted = check("server_search_requests");
    assert_eq!(counted["verdict"], "figure", "{counted}");
    let (server_count, client_count) = (
        counted["measured"].as_f64().unwrap(),
        counted["samples"].as_f64().unwrap(),
    );
    assert!(
        client_count > 0.0 && (server_count - client_count).abs() <= 0.01 * client_count + 5.0,
        "{counted}"
    );
    assert!(
        counted["note"]
            .as_str()
            .unwrap()
            .contains("server /telemetry counted"),
        "{counted}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("server_search_requests")),
        "{stdout}"
    );
    let io = &host["io"];
    assert!(io["disk_written_bytes_per_s"].as_f64().is_some(), "{io}");
    assert!(io["network_receive_bytes_per_s"].as_f64().is_some(), "{io}");
    assert!(io["series"].as_array().unwrap().len() >= 2, "{io}");
    let prom = std::fs::read_to_string(out.join("metrics.prom")).unwrap();
    for family in [
        "qdrant_perf_server_host_disk_written_bytes_per_second{run=\"overall\"}",
        "qdrant_perf_server_host_network_receive_bytes_per_second{run=\"overall\"}",
    ] {
        assert!(prom.contains(family), "{family} not in metrics.prom");
    }
}

#[test]
fn validate_read_only_measures_a_foreign_collection_and_leaves_it_as_it_was() {
    let Some(server) = qdrant() else {
        return;
    };
    let port = server.http_port;
    // A collection the suite did not create, made the way another tool would (REST), under a
    // name of the deployment's config (so its query_load applies) and without the perf_ prefix.
    let name = "deepcoder";
    let (status, body) = http_json(
        port,
        "PUT",
        &format!("/collections/{name}"),
        &serde_json::json!({"vectors": {"size": 768, "distance": "Cosine"}}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let points: Vec<serde_json::Value> = (0..400u64)
        .map(|id| {
            let v: Vec<f32> = (0..768)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect();
            serde_json::json!({"id": id * 1000 + 7, "vector": v})
        })
        .collect();
    let (status, body) = http_json(
        port,
        "PUT",
        &format!("/collections/{name}/points?wait=true"),
        &serde_json::json!({ "points": points }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let state = || -> serde_json::Value {
        let body = qdrant_perf_testkit::http_body(port, &format!("/collections/{name}"))
            .expect("GET /collections/NAME");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["result"].clone()
    };
    let before = state();
    assert_eq!(before["points_count"], 400, "{before}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (code, stdout, stderr) = common::run(
        bin()
            .args([
                "validate",
                "--quick",
                "--no-stress",
                "--read-only",
                name,
                "--queries",
                "50",
                "--duration",
                "2s",
                "--overall-duration",
                "2s",
                "--target",
                &server.grpc_url(),
            ])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .arg("--out")
            .arg(&out)
            .env_remove("QDRANT_URL"),
    );
    assert!(matches!(code, 0 | 1), "exit {code}\n{stdout}\n{stderr}");
    // The terminal shows the collection's state and that nothing was written.
    assert!(
        stderr.contains(&format!("{name}: read-only, 400 points,"))
            && stderr.contains("nothing created, written or dropped"),
        "{stderr}"
    );

    // Untouched: the same points and the same config; no perf_ copy was made.
    let after = state();
    assert_eq!(after["points_count"], before["points_count"], "{after}");
    assert_eq!(after["config"], before["config"], "{after}");
    let list = qdrant_perf_testkit::http_body(port, "/collections").unwrap();
    assert!(!list.contains("perf_"), "{list}");

    // The report has met/missed rows for it, with its state and a measured recall.
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let rows: Vec<&serde_json::Value> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["collection"] == name)
        .collect();
    // (Every row judged, but the server's /telemetry count, a figure without a target.)
    assert!(
        rows.iter().any(|c| c["name"] == "latency_p95")
            && rows
                .iter()
                .all(|c| c["passed"].is_boolean() != (c["verdict"] == "figure")),
        "{rows:#?}"
    );
    // Its gRPC address gives no REST port for /telemetry: the row says what to give.
    assert!(
        rows.iter().any(|c| c["name"] == "server_search_requests"
            && c["measured"].is_null()
            && c["note"].as_str().unwrap().contains("--metrics-url")),
        "{rows:#?}"
    );
    let setup = r["setup"].to_string();
    assert!(setup.contains("read-only, 400 points"), "{setup}");
    let ds = &r["provenance"]["datasets"][0];
    assert_eq!(ds["parameters"]["read_only"], true, "{ds}");
    assert_eq!(ds["parameters"]["points"], 400, "{ds}");
    assert!(ds["parameters"]["status"].is_string(), "{ds}");
    let recall = r["runs"][0]["recall_at_10"]["value"].as_f64();
    assert!(
        recall.is_some_and(|x| x > 0.0 && x <= 1.0),
        "recall against the server's exact search: {}",
        r["runs"][0]
    );
}
