//! The renderings of one report, checked together.

use std::collections::BTreeMap;

use qdrant_perf_report::{LatencySummary, Report, RunResult, TargetInfo};

use qdrant_perf_report::checks::{self, Bound, Check, Verdict};

use super::*;

fn run_with_two_operations() -> RunResult {
    use qdrant_perf_report::run::{ErrorTally, LoadPlan, OpKind, OpStats, Resources};
    let op = |collection: &str, op, ok, errors, p50_ms| OpStats {
        collection: collection.into(),
        op,
        latency_ms: LatencySummary {
            samples: ok,
            mean_ms: p50_ms,
            p50_ms,
            p90_ms: p50_ms * 1.5,
            p95_ms: p50_ms * 2.0,
            p99_ms: p50_ms * 4.0,
            p999_ms: p50_ms * 8.0,
            max_ms: p50_ms * 10.0,
            ci: None,
        },
        ok,
        errors,
        throughput_ops_s: ok as f64 / 10.0,
        throughput_ci: None,
        recall_at_10: None,
        histogram: qdrant_perf_report::latency_histogram(),
        server_latency_ms: None,
        overhead_ms: None,
        server_histogram: qdrant_perf_report::latency_histogram(),
        overhead_histogram: qdrant_perf_report::latency_histogram(),
    };
    let operations = vec![
        op("odd \"name\"\\\n", OpKind::Search, 1000, 3, 2.0),
        op("c2", OpKind::Upsert, 500, 0, 4.0),
    ];
    let mut errors_by_kind = BTreeMap::new();
    errors_by_kind.insert(
        "http 500".to_string(),
        ErrorTally {
            count: 2,
            example: "boom".into(),
        },
    );
    errors_by_kind.insert(
        "timeout".to_string(),
        ErrorTally {
            count: 1,
            example: "late".into(),
        },
    );
    RunResult {
        label: "r1".into(),
        plan: LoadPlan::open(150.0, std::time::Duration::from_secs(10)),
        requested_rate: Some(150.0),
        concurrency: None,
        partial: false,
        elapsed_s: 10.0,
        sent: 1503,
        ok: 1500,
        errors: 3,
        error_rate: 3.0 / 1503.0,
        errors_by_kind,
        nodes: Vec::new(),
        throughput_ops_s: 150.0,
        throughput_ci: None,
        rate_achieved: Some(true),
        latency_ms: operations[0].latency_ms.clone(),
        operations,
        recall_at_10: None,
        send_lag_ms: None,
        max_in_flight: 4,
        in_flight_cap_hits: 0,
        timeline: Vec::new(),
        resources: Resources {
            cpu_pct_mean: Some(42.5),
            rss_bytes_max: Some(123_456_789),
            ..Resources::default()
        },
        server_latency_ms: None,
        overhead_ms: None,
        server: None,
        cache: None,
        host: None,
        interval_log: Vec::new(),
    }
}

#[test]
fn metrics_prom_follows_the_exposition_format_conventions_and_promtool_accepts_it() {
    let target = TargetInfo {
        kind: "noop".into(),
        url: None,
        engine_version: None,
    };
    // A server host watched over the run: its CPU, memory, disk and network figures.
    let mut run = run_with_two_operations();
    run.host = Some(qdrant_perf_report::HostResources {
        cpu_pct_mean: Some(50.0),
        memory_pct_max: Some(25.0),
        io: qdrant_perf_report::HostIo {
            disk_read_bytes_per_s: Some(1000.0),
            disk_written_bytes_per_s: Some(2000.0),
            network_receive_bytes_per_s: Some(300.0),
            network_transmit_bytes_per_s: Some(400.0),
            ..Default::default()
        },
        ..Default::default()
    });
    let r = Report::new("load", target.clone(), vec![run], None);
    let prom = prometheus(&r);
    // Every family has HELP and TYPE; counters end in _total, nothing is in milliseconds.
    let types: Vec<&str> = prom.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let helps = prom.lines().filter(|l| l.starts_with("# HELP ")).count();
    assert_eq!(types.len(), helps, "{prom}");
    for t in &types {
        let (name, ty) = t["# TYPE ".len()..].split_once(' ').unwrap();
        assert!(name.starts_with("qdrant_perf_"), "{t}");
        assert_eq!(ty == "counter", name.ends_with("_total"), "{t}");
        assert!(!name.contains("_ms") && !name.contains("milli"), "{t}");
    }
    // The figures, in base units, with escaped label values.
    let odd = r#"collection="odd \"name\"\\\n""#;
    for line in [
        format!(r#"qdrant_perf_requests_total{{run="r1",op="search",{odd}}} 1000"#),
        format!(r#"qdrant_perf_errors_total{{run="r1",op="search",{odd}}} 3"#),
        r#"qdrant_perf_requests_total{run="r1",op="upsert",collection="c2"} 500"#.into(),
        r#"qdrant_perf_errors_by_kind_total{run="r1",kind="http 500"} 2"#.into(),
        r#"qdrant_perf_errors_by_kind_total{run="r1",kind="timeout"} 1"#.into(),
        format!(r#"qdrant_perf_query_latency_seconds{{run="r1",{odd},quantile="0.5"}} 0.002"#),
        format!(r#"qdrant_perf_query_latency_seconds{{run="r1",{odd},quantile="0.99"}} 0.008"#),
        format!(r#"qdrant_perf_query_latency_seconds_count{{run="r1",{odd}}} 1000"#),
        format!(r#"qdrant_perf_query_latency_seconds_sum{{run="r1",{odd}}} 2"#),
        r#"qdrant_perf_run_query_latency_seconds{run="r1",quantile="0.95"} 0.004"#.into(),
        r#"qdrant_perf_latency_seconds{run="r1",op="upsert",collection="c2",quantile="0.5"} 0.004"#
            .into(),
        r#"qdrant_perf_latency_seconds_count{run="r1",op="upsert",collection="c2"} 500"#.into(),
        r#"qdrant_perf_run_throughput_ops_per_second{run="r1"} 150"#.into(),
        r#"qdrant_perf_requested_rate_ops_per_second{run="r1"} 150"#.into(),
        r#"qdrant_perf_elapsed_seconds{run="r1"} 10"#.into(),
        r#"qdrant_perf_process_cpu_usage_ratio{run="r1"} 0.425"#.into(),
        r#"qdrant_perf_process_resident_memory_max_bytes{run="r1"} 123456789"#.into(),
        r#"qdrant_perf_server_host_cpu_usage_ratio{run="r1"} 0.5"#.into(),
        r#"qdrant_perf_server_host_memory_usage_max_ratio{run="r1"} 0.25"#.into(),
        r#"qdrant_perf_server_host_disk_read_bytes_per_second{run="r1"} 1000"#.into(),
        r#"qdrant_perf_server_host_disk_written_bytes_per_second{run="r1"} 2000"#.into(),
        r#"qdrant_perf_server_host_network_receive_bytes_per_second{run="r1"} 300"#.into(),
        r#"qdrant_perf_server_host_network_transmit_bytes_per_second{run="r1"} 400"#.into(),
    ] {
        assert!(prom.lines().any(|l| l == line), "{line}\nnot in\n{prom}");
    }
    assert!(
        prom.contains(&format!(
            "qdrant_perf_error_ratio{{run=\"r1\"}} {}",
            3.0 / 1503.0
        )),
        "{prom}"
    );
    // Each summary series has the quantiles of prom::SUMMARY_QUANTILES, in order.
    let quantiles: Vec<String> = prom
        .lines()
        .filter(|l| l.starts_with("qdrant_perf_run_query_latency_seconds{"))
        .map(|l| {
            l.split("quantile=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    let want: Vec<String> = qdrant_perf_plumbing::prom::SUMMARY_QUANTILES
        .iter()
        .map(|q| q.to_string())
        .collect();
    assert_eq!(quantiles, want);
    let empty = prometheus(&Report::new("load", target, Vec::new(), None));
    for text in [&prom, &empty] {
        use qdrant_perf_testkit::prometheus::{PROMTOOL_MISSING, promtool_check};
        match promtool_check(text) {
            None => return qdrant_perf_testkit::skip(PROMTOOL_MISSING),
            Some(checked) => checked.unwrap(),
        }
    }
}

#[test]
fn an_empty_report_round_trips_and_renders() {
    let mut r = Report::new(
        "load",
        TargetInfo {
            kind: "edge".into(),
            url: None,
            engine_version: Some("qdrant-edge 0.7.2".into()),
        },
        Vec::new(),
        None,
    );
    assert_eq!(r.provenance.engine.as_deref(), Some("qdrant-edge"));
    assert_eq!(r.provenance.engine_version.as_deref(), Some("0.7.2"));
    r.set_checks(
        vec![Check::measured(
            "latency_p95",
            "overall",
            25.0,
            "ms",
            checks::Bound::Below,
            20.0,
            10,
        )],
        false,
    );
    let dir = tempfile::tempdir().unwrap();
    let written = write_run(&r, dir.path()).unwrap();
    assert_eq!(written.len(), 4);
    assert!(written.contains(&dir.path().join("report.html")));
    let back = Report::load(dir.path()).unwrap();
    assert_eq!(back.verdict.as_ref().map(|v| v.exit_code), Some(1));
    assert_eq!(back.checks, r.checks);
    assert_eq!(back.provenance, r.provenance);
    assert!(markdown(&back).contains("MISSED"));
    let err = Report::load(&dir.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.json"), "{err}");
}

#[test]
fn a_lost_node_is_named_with_its_second_in_text_markdown_and_json_and_missed_in_the_verdict() {
    use qdrant_perf_report::run::NodeStat;
    let node = |url: &str, ok, errors: u64, lost| NodeStat {
        url: url.into(),
        ok,
        errors,
        errors_by_kind: if errors > 0 {
            [("unreachable".to_string(), errors)].into()
        } else {
            BTreeMap::new()
        },
        lost_at_s: lost,
        back_at_s: None,
    };
    let mut r = run_with_two_operations();
    r.nodes = vec![
        node("http://a:1", 600, 0, None),
        node("http://b:2", 300, 3, Some(4.3)),
        node("http://c:3", 600, 0, None),
    ];
    let text = run_text(&r);
    assert!(
        text.contains("  node http://b:2: answered 300, errors 3 (unreachable 3)"),
        "{text}"
    );
    assert!(
        text.contains("  node http://a:1: answered 600, errors 0"),
        "{text}"
    );
    assert!(
        text.contains("NODE LOST: http://b:2 lost at 4.3 s, not back by the end"),
        "{text}"
    );
    let served = checks::all_nodes_served(&r).unwrap();
    assert_eq!(
        (served.verdict, served.measured, served.samples),
        (Verdict::Failed, Some(1.0), Some(3))
    );
    assert_eq!(
        served.note.as_deref(),
        Some("http://b:2 lost at 4.3 s, not back by the end")
    );
    assert_eq!(
        checks::errors_by_node_note(&r).as_deref(),
        Some("errors by node: http://b:2 3 (unreachable 3)")
    );
    r.nodes[1].back_at_s = Some(9.0);
    let served = checks::all_nodes_served(&r).unwrap();
    assert_eq!(
        served.note.as_deref(),
        Some("http://b:2 lost at 4.3 s, back at 9 s")
    );
    let mut report = Report::new(
        "load",
        TargetInfo {
            kind: "grpc".into(),
            url: None,
            engine_version: None,
        },
        vec![r.clone()],
        None,
    );
    report.set_checks(vec![served], false);
    assert_eq!(report.verdict.as_ref().unwrap().exit_code, 1);
    let md = markdown(&report);
    assert!(
        md.contains("| http://b:2 | 300 | 3 (unreachable 3) | 4.3 s | 9 s |"),
        "{md}"
    );
    assert!(md.contains("| http://a:1 | 600 | 0 | - | - |"), "{md}");
    assert!(
        md.contains("**Node lost**: http://b:2 lost at 4.3 s, back at 9 s."),
        "{md}"
    );
    // JSON: the nodes round-trip; a report.json from before they existed still reads.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["runs"][0]["nodes"][1]["lost_at_s"], 4.3);
    assert!(json["runs"][0]["nodes"][0].get("lost_at_s").is_none());
    let back = Report::from_json(&json.to_string()).unwrap();
    assert_eq!(back.runs[0].nodes, r.nodes);
    let mut old = json.clone();
    old["runs"][0].as_object_mut().unwrap().remove("nodes");
    let back = Report::from_json(&old.to_string()).unwrap();
    assert!(back.runs[0].nodes.is_empty());
    // No node lost: met. One node, or none named: no such check, and no node lines.
    for n in &mut r.nodes {
        n.lost_at_s = None;
    }
    assert_eq!(
        checks::all_nodes_served(&r).unwrap().verdict,
        Verdict::Passed
    );
    r.nodes.truncate(1);
    assert!(checks::all_nodes_served(&r).is_none());
    assert!(!run_text(&r).contains("node http"), "{}", run_text(&r));
    r.nodes.clear();
    assert!(checks::all_nodes_served(&r).is_none());
    assert_eq!(checks::errors_by_node_note(&r), None);
}

#[test]
fn the_table_shows_value_sample_size_limit_and_reason() {
    let t = checks_table(&[
        Check::measured(
            "latency_p95",
            "phi3",
            3.4567,
            "ms",
            Bound::Below,
            20.0,
            1500,
        ),
        Check::not_run(
            "cache_hit_rate",
            "overall",
            "%",
            Bound::Above,
            90.0,
            "no cache configured",
        ),
    ]);
    assert!(t.contains("latency_p95"), "{t}");
    assert!(t.contains("3.46 ms (n=1500)"), "{t}");
    assert!(t.contains("< 20.00 ms"), "{t}");
    assert!(t.contains("not run: no cache configured"), "{t}");
    assert_eq!(qdrant_perf_report::checks::number(15000.0), "15,000");
}

#[test]
fn a_plain_stream_renders_its_stages_freshness_and_optimizer_seconds_in_the_one_table() {
    use qdrant_perf_report::server::{NodeWatch, ServerSecond, ServerSide};
    use qdrant_perf_report::stream::{
        FreshSample, Freshness, Lag, StageChurn, StreamSection, StreamStep,
    };
    let lag = |ms: f64| Lag {
        ms: LatencySummary {
            samples: 3,
            p50_ms: ms,
            p99_ms: ms * 2.0,
            ..LatencySummary::default()
        },
        not_seen: 0,
    };
    let mut runs = Vec::new();
    let mut steps = Vec::new();
    for i in 1..=2 {
        let mut run = run_with_two_operations();
        run.label = format!("stage {i}");
        run.server = Some(ServerSide {
            nodes: vec![NodeWatch {
                seconds: vec![ServerSecond {
                    t: 1.0,
                    running_optimizations: Some(i as f64),
                    update_queue_length: Some(0.0),
                    points: Some(1000.0 * i as f64),
                    ..ServerSecond::default()
                }],
                ..NodeWatch::default()
            }],
            not_collected: None,
        });
        runs.push(run);
        steps.push(StreamStep {
            step: i,
            label: format!("stage {i}"),
            operation: "insert".into(),
            start_s: (i - 1) as f64 * 2.0,
            end_s: i as f64 * 2.0,
            points_present: 1000 * i,
            written: 1000,
            write_rate: 500.0,
            requested_write_rate: Some(500.0),
            partial: i == 2,
            churn: Some(StageChurn {
                deleted: 77,
                ..StageChurn::default()
            }),
            searchable: Some(lag(1.5)),
            indexed: Some(Lag {
                not_seen: 2,
                ..lag(300.0)
            }),
            ..StreamStep::default()
        });
    }
    let mut r = Report::new("stream", TargetInfo::default(), runs, None);
    r.stream = Some(StreamSection {
        kind: "stages".into(),
        steps,
        freshness: Some(Freshness {
            samples: vec![FreshSample {
                id: 4242,
                stage: 1,
                acked_s: 0.5,
                position: 1001,
                searchable_ms: Some(1.5),
                probes: 1,
                indexed_ms: None,
            }],
            searchable: lag(1.5),
            indexed: lag(300.0),
        }),
        ..StreamSection::default()
    });
    let md = markdown::markdown(&r);
    assert!(
        md.contains("## Stages\n\n| stage | points at start | inserted | insert/s | deleted | delete/s | updated | update/s | write errors | searches |"),
        "{md}"
    );
    assert!(
        md.contains("| 2 (partial) | 2000 | 1000 | 500 | 77 |"),
        "{md}"
    );
    assert!(
        md.contains("| 1.50 / 3.00 | 300.00 / 600.00 (2 unseen) |"),
        "{md}"
    );
    assert!(md.contains("Freshness (1 followed points)"), "{md}");
    // The optimizer seconds come from each stage's run, timed from the stream's start.
    assert!(
        md.contains("## Optimizer state per second (server)"),
        "{md}"
    );
    assert!(
        md.contains("| 1.0 | 1 | 0 | 1000 | 4242: 1.5 / not seen |"),
        "{md}"
    );
    assert!(md.contains("| 3.0 | 2 | 0 | 2000 |"), "{md}");
    // report.html shows the same table.
    let html = report_html::render(&r, std::path::Path::new("."));
    assert!(html.contains("<h2>Stages</h2>"), "{html}");
    assert!(html.contains("| 2 (partial) | 2000 | 1000 | 500 | 77 |"));
}
