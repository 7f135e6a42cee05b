//! The live `/metrics` endpoint end to end: a few seconds of known histograms fed in, served
//! over HTTP on 127.0.0.1, read back with reqwest, the figures checked and the text passed
//! through Prometheus's own `promtool check metrics`; and a busy address refused naming it.

mod common;

use std::collections::BTreeMap;
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
        None => println!("{PROMTOOL_MISSING}"),
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
        None => println!("{PROMTOOL_MISSING}"),
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
