//! The live `/metrics` endpoint end to end: a few seconds of known histograms fed in, served
//! over HTTP on 127.0.0.1, read back with reqwest, the figures checked and the text passed
//! through Prometheus's own `promtool check metrics`; a busy address refused naming it; and
//! the Grafana dashboard (dashboards/qdrant-perf.json) using only series that exist.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::{PROMTOOL_MISSING, promtool_check, samples};
use hdrhistogram::Histogram;
use qdrant_perf_load::live::{LiveMetrics, LiveSecond, serve};
use qdrant_perf_report::latency_histogram;

fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
    let mut h = latency_histogram();
    for v in values {
        h.record(v).unwrap();
    }
    h
}

/// An odd error kind: the format's three escapes in one label value.
const ODD_KIND: &str = "said \"no\"\\\nthen hung up";

/// Three seconds of a run over two slots: search/mixtral gets 1..=1000 µs each second (server
/// time half of it), upsert/deepcoder 50 requests of 8 ms each second (no server time).
fn three_seconds() -> Arc<LiveMetrics> {
    let m = Arc::new(LiveMetrics::new(
        "stress-1",
        vec![
            ("search".into(), "mixtral".into()),
            ("upsert".into(), "deepcoder".into()),
        ],
    ));
    let mut kinds = BTreeMap::new();
    for k in 1..=3u64 {
        kinds.insert("timeout".to_string(), k);
        if k >= 2 {
            kinds.insert("http 500".to_string(), 2);
        }
        if k == 3 {
            kinds.insert(ODD_KIND.to_string(), 1);
        }
        m.update(&LiveSecond {
            interval: &[hist(1..=1000), hist(std::iter::repeat_n(8_000, 50))],
            server_interval: &[hist((1..=1000).map(|v: u64| v.div_ceil(2))), hist([])],
            errors_by_kind: &kinds,
            errors_per_slot: &[k, 2 * (k - 1)],
            in_flight: 5,
            elapsed_s: k as f64,
            secs: 1.0,
            requested_rate: Some(1100.0),
        });
    }
    m
}

/// Within HdrHistogram's precision at 3 significant digits (and 1 µs).
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= want.abs() * 0.001 + 1e-6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_serves_the_runs_figures_and_promtool_accepts_them() {
    let metrics = three_seconds();
    let server = serve("127.0.0.1:0".parse().unwrap(), metrics.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = resp.text().await.unwrap();
    assert_eq!(body, metrics.render());
    let s = samples(&body);
    let get = |series: &str| -> f64 {
        *s.get(series)
            .unwrap_or_else(|| panic!("{series} not in\n{body}"))
    };
    let search = r#"run="stress-1",op="search",collection="mixtral""#;
    let upsert = r#"run="stress-1",op="upsert",collection="deepcoder""#;
    // Counters: cumulative over the three seconds.
    assert_eq!(
        get(&format!("qdrant_perf_requests_total{{{search}}}")),
        3000.0
    );
    assert_eq!(
        get(&format!("qdrant_perf_requests_total{{{upsert}}}")),
        150.0
    );
    assert_eq!(get(&format!("qdrant_perf_errors_total{{{search}}}")), 3.0);
    assert_eq!(get(&format!("qdrant_perf_errors_total{{{upsert}}}")), 4.0);
    assert_eq!(
        get(r#"qdrant_perf_errors_by_kind_total{run="stress-1",kind="timeout"}"#),
        3.0
    );
    assert_eq!(
        get(r#"qdrant_perf_errors_by_kind_total{run="stress-1",kind="http 500"}"#),
        2.0
    );
    assert_eq!(
        get(
            r#"qdrant_perf_errors_by_kind_total{run="stress-1",kind="said \"no\"\\\nthen hung up"}"#
        ),
        1.0
    );
    // Gauges: the last second.
    assert_eq!(get(r#"qdrant_perf_in_flight{run="stress-1"}"#), 5.0);
    assert_eq!(get(r#"qdrant_perf_elapsed_seconds{run="stress-1"}"#), 3.0);
    assert_eq!(
        get(r#"qdrant_perf_requested_rate_ops_per_second{run="stress-1"}"#),
        1100.0
    );
    assert_eq!(
        get(&format!(
            "qdrant_perf_throughput_ops_per_second{{{search}}}"
        )),
        1000.0
    );
    assert_eq!(
        get(&format!(
            "qdrant_perf_throughput_ops_per_second{{{upsert}}}"
        )),
        50.0
    );
    // Client latency, in seconds: 1..=1000 µs three times over.
    for (q, want_us) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
        let got = get(&format!(
            "qdrant_perf_latency_seconds{{{search},quantile=\"{q}\"}}"
        ));
        assert!(close(got, want_us / 1e6), "p{q}: {got} s");
        let got = get(&format!(
            "qdrant_perf_latency_seconds{{{upsert},quantile=\"{q}\"}}"
        ));
        assert!(close(got, 0.008), "upsert p{q}: {got} s");
    }
    assert_eq!(
        get(&format!("qdrant_perf_latency_seconds_count{{{search}}}")),
        3000.0
    );
    let sum = get(&format!("qdrant_perf_latency_seconds_sum{{{search}}}"));
    assert!(close(sum, 3.0 * 500_500.0 / 1e6), "sum {sum}");
    // Server time: only the slot that has it.
    let p50 = get(&format!(
        "qdrant_perf_server_latency_seconds{{{search},quantile=\"0.5\"}}"
    ));
    assert!(close(p50, 250e-6), "server p50 {p50}");
    assert_eq!(
        get(&format!(
            "qdrant_perf_server_latency_seconds_count{{{search}}}"
        )),
        3000.0
    );
    assert!(
        !body.contains(&format!(
            "qdrant_perf_server_latency_seconds_count{{{upsert}}}"
        )),
        "{body}"
    );
    // Every family has HELP and TYPE.
    let families: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(
        families.len(),
        body.lines().filter(|l| l.starts_with("# HELP ")).count()
    );
    assert!(families.contains(&"qdrant_perf_latency_seconds summary"));
    assert!(families.contains(&"qdrant_perf_requests_total counter"));
    // Other paths and methods.
    let resp = client.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = client
        .post(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    // Prometheus's own checker, lint included.
    match promtool_check(&body) {
        None => qdrant_perf_testkit::skip(PROMTOOL_MISSING),
        Some(result) => result.unwrap(),
    }
    // Shut down: the port no longer answers.
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_first_second_the_text_is_valid_too() {
    let m = LiveMetrics::new("idle", vec![("search".into(), "mixtral".into())]);
    let text = m.render();
    assert!(
        text.contains(
            r#"qdrant_perf_requests_total{run="idle",op="search",collection="mixtral"} 0"#
        ),
        "{text}"
    );
    match promtool_check(&text) {
        None => qdrant_perf_testkit::skip(PROMTOOL_MISSING),
        Some(result) => result.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_in_use_is_refused_naming_it_and_the_fix_and_dropping_frees_it() {
    let metrics = Arc::new(LiveMetrics::new("x", Vec::new()));
    let first = serve("127.0.0.1:0".parse().unwrap(), metrics.clone())
        .await
        .unwrap();
    let addr = first.local_addr();
    let err = match serve(addr, metrics.clone()).await {
        Ok(_) => panic!("a second server bound {addr}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        err,
        format!(
            "cannot listen on {addr}: address in use; choose another with --metrics-listen (or stop the process that holds it)"
        )
    );
    // Dropping the server frees the address (the listener closes when its task next runs).
    drop(first);
    let mut again = None;
    for _ in 0..100 {
        if let Ok(s) = serve(addr, metrics.clone()).await {
            again = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        again.is_some(),
        "{addr} still busy after the server was dropped"
    );
}

/// Every metric name Qdrant 1.17.1 exposes on `/metrics`, read from a real 1.17.1 server
/// (`curl 127.0.0.1:6333/metrics` after a REST upsert and query and a gRPC search, so the
/// per-endpoint families have samples), including the histograms' `_bucket`, `_sum` and
/// `_count` series.
const QDRANT_1_17_1_METRICS: &[&str] = &[
    "app_info",
    "app_status_recovery_mode",
    "collections_total",
    "collections_vector_total",
    "collection_vectors",
    "collection_indexed_only_excluded_points",
    "collection_active_replicas_min",
    "collection_active_replicas_max",
    "collection_running_optimizations",
    "collection_points",
    "collection_dead_replicas",
    "snapshot_creation_running",
    "snapshot_recovery_running",
    "snapshot_created_total",
    "collection_shard_transfer_incoming",
    "collection_shard_transfer_outgoing",
    "collection_update_queue_length",
    "collection_update_queue_deferred_points",
    "cluster_enabled",
    "rest_responses_total",
    "rest_responses_avg_duration_seconds",
    "rest_responses_min_duration_seconds",
    "rest_responses_max_duration_seconds",
    "rest_responses_duration_seconds_bucket",
    "rest_responses_duration_seconds_sum",
    "rest_responses_duration_seconds_count",
    "grpc_responses_total",
    "grpc_responses_avg_duration_seconds",
    "grpc_responses_min_duration_seconds",
    "grpc_responses_max_duration_seconds",
    "grpc_responses_duration_seconds_bucket",
    "grpc_responses_duration_seconds_sum",
    "grpc_responses_duration_seconds_count",
    "collection_hardware_metric_cpu",
    "collection_hardware_metric_payload_io_read",
    "collection_hardware_metric_payload_index_io_read",
    "collection_hardware_metric_payload_index_io_write",
    "collection_hardware_metric_payload_io_write",
    "collection_hardware_metric_vector_io_read",
    "collection_hardware_metric_vector_io_write",
    "memory_active_bytes",
    "memory_allocated_bytes",
    "memory_metadata_bytes",
    "memory_resident_bytes",
    "memory_retained_bytes",
    "process_threads",
    "process_open_mmaps",
    "system_max_mmaps",
    "process_open_fds",
    "process_max_fds",
    "process_minor_page_faults_total",
    "process_major_page_faults_total",
];

/// The metric names a PromQL expression reads: identifiers outside strings, label matchers,
/// ranges and grouping clauses that are not functions, aggregations or keywords.
fn metric_names(expr: &str) -> Vec<String> {
    // Blank out "strings", {label matchers} and [ranges].
    let mut plain = String::with_capacity(expr.len());
    let (mut quote, mut brace, mut bracket) = (false, 0, 0);
    let mut escaped = false;
    for c in expr.chars() {
        if quote {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => quote = false,
                _ => escaped = false,
            }
            plain.push(' ');
            continue;
        }
        match c {
            '"' => quote = true,
            '{' => brace += 1,
            '}' => brace -= 1,
            '[' => bracket += 1,
            ']' => bracket -= 1,
            _ if brace > 0 || bracket > 0 => {}
            c => {
                plain.push(c);
                continue;
            }
        }
        plain.push(' ');
    }
    // Tokens: identifiers and single punctuation characters.
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = plain.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let mut id = c.to_string();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' || n == ':' {
                    id.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(id);
        } else if c.is_ascii_digit() || c == '.' {
            // A number (0.99, 1e3): skip its digits and letters.
            while chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == '.')
            {
                chars.next();
            }
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    let grouping = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let keywords = ["and", "or", "unless", "bool", "offset"];
    let mut names = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let next_is_paren = tokens.get(i + 1).is_some_and(|n| n == "(");
        // `sum by (le) (...)`: an aggregation with its grouping first.
        let aggregation = tokens
            .get(i + 1)
            .is_some_and(|n| n == "by" || n == "without");
        let is_ident = t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':');
        if is_ident && grouping.contains(&t.as_str()) && next_is_paren {
            // Skip the label list.
            while i < tokens.len() && tokens[i] != ")" {
                i += 1;
            }
        } else if is_ident && !next_is_paren && !aggregation && !keywords.contains(&t.as_str()) {
            names.push(t.clone());
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_read_from_promql() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le, endpoint) (rate(grpc_responses_duration_seconds_bucket{job="q", x=~"a|b{c}"}[$__rate_interval])))"#
        ),
        ["grpc_responses_duration_seconds_bucket"]
    );
    assert_eq!(
        metric_names("sum(rate(a_total[5m])) / sum without (x) (b) or c offset 5m"),
        ["a_total", "b", "c"]
    );
}

fn dashboard() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dashboards/qdrant-perf.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every `expr` string anywhere in the JSON.
fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn the_dashboard_reads_only_series_the_generator_or_qdrant_expose() {
    let d = dashboard();
    // The names the live endpoint renders (with server times and a requested rate, so every
    // family has samples).
    let text = three_seconds().render();
    let live: BTreeSet<String> = samples(&text)
        .keys()
        .map(|s| s.split('{').next().unwrap().to_string())
        .collect();
    let qdrant: BTreeSet<&str> = QDRANT_1_17_1_METRICS.iter().copied().collect();
    let mut all = Vec::new();
    exprs(&d["panels"], &mut all);
    assert!(all.len() >= 10, "{all:?}");
    let mut used = BTreeSet::new();
    for e in &all {
        let names = metric_names(e);
        assert!(!names.is_empty(), "no metric in {e}");
        for n in names {
            assert!(
                live.contains(&n) || qdrant.contains(n.as_str()),
                "{n} (in {e}) is neither rendered by the live endpoint nor one of Qdrant 1.17.1's metrics"
            );
            used.insert(n);
        }
    }
    // What the dashboard is for: the generator's series beside Qdrant's.
    for n in [
        "qdrant_perf_throughput_ops_per_second",
        "qdrant_perf_requested_rate_ops_per_second",
        "qdrant_perf_latency_seconds",
        "qdrant_perf_server_latency_seconds",
        "qdrant_perf_errors_by_kind_total",
        "qdrant_perf_in_flight",
        "rest_responses_total",
        "grpc_responses_total",
        "grpc_responses_duration_seconds_bucket",
        "memory_resident_bytes",
        "collection_running_optimizations",
        "collection_update_queue_length",
    ] {
        assert!(used.contains(n), "the dashboard does not show {n}");
    }
    // One datasource, the import input ${DS_PROMETHEUS}, on every panel and query.
    assert_eq!(d["__inputs"][0]["name"], "DS_PROMETHEUS");
    for p in d["panels"].as_array().unwrap() {
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{}", p["title"]);
        }
    }
    // The run variable lists the runs the generator exposes.
    let vars = d["templating"]["list"].as_array().unwrap();
    let run = vars.iter().find(|v| v["name"] == "run").unwrap();
    assert!(
        run["definition"]
            .as_str()
            .unwrap()
            .starts_with("label_values(qdrant_perf_elapsed_seconds"),
        "{run}"
    );
    // Every expression is valid PromQL: promtool parses them as recording rules, with the
    // dashboard's variables given values.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in all.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "1m")
            .replace("$generator_job", "qdrant-perf")
            .replace("$qdrant_job", "qdrant")
            .replace("$run", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, &rules).unwrap();
    match std::process::Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            qdrant_perf_testkit::skip(PROMTOOL_MISSING)
        }
        Err(e) => panic!("cannot run promtool: {e}"),
        Ok(out) => assert!(
            out.status.success(),
            "promtool check rules: {}\n{}{}\n{rules}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn the_example_scrape_config_has_the_jobs_the_dashboard_expects() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dashboards/prometheus.yml"
    );
    let config: serde_json::Value =
        yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let jobs: Vec<&str> = config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_name"].as_str().unwrap())
        .collect();
    let d = dashboard();
    let vars = d["templating"]["list"].as_array().unwrap();
    for var in ["generator_job", "qdrant_job"] {
        let v = vars.iter().find(|v| v["name"] == var).unwrap();
        let default = v["query"].as_str().unwrap();
        assert_eq!(v["current"]["value"], default, "{var}");
        assert!(jobs.contains(&default), "{var} = {default}, jobs {jobs:?}");
    }
    match std::process::Command::new("promtool")
        .args(["check", "config", path])
        .output()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            qdrant_perf_testkit::skip(PROMTOOL_MISSING)
        }
        Err(e) => panic!("cannot run promtool: {e}"),
        Ok(out) => assert!(
            out.status.success(),
            "promtool check config: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
