//! `qdrant-perf load` over the three nodes of a real Qdrant cluster (from `QDRANT_BIN`), one node
//! killed mid-run: the terminal report names the node and the second it was lost, the verdict's
//! all_nodes_served is missed with the node in its note, report.json has the node's figures, and
//! the run exits 1. (crates/load/tests/cluster.rs checks the figures themselves, on a collection
//! with replication 2.)

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::bin;
use qdrant_perf_testkit::http_body;
use qdrant_perf_testkit::qdrant::LocalServer;

/// Searches a node answered itself (its gRPC `/qdrant.Points/Search` responses).
fn searches_counted(port: u16) -> u64 {
    http_body(port, "/metrics")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("grpc_responses_total{") && l.contains("Points/Search"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[test]
fn load_over_a_cluster_with_a_node_killed_mid_run_names_the_node_and_misses_all_nodes_served() {
    let Some(bin_path) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    let mut nodes = LocalServer::start_cluster(std::path::Path::new(&bin_path), 3)
        .expect("QDRANT_BIN is set but the cluster did not form");
    let urls: Vec<String> = nodes.iter().map(LocalServer::grpc_url).collect();
    let victim_url = urls[1].clone();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let child = bin()
        .args([
            "load",
            "--quiet",
            "--target",
            &urls.join(","),
            "--points",
            "1000",
            "--queries",
            "100",
            "--rate",
            "90",
            "--duration",
            "8s",
        ])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&out)
        .env_remove("QDRANT_URL")
        .env_remove("QDRANT_METRICS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The run's own rate is the clock: 60 searches at the first node (a third of 90 a second)
    // are 2 s of the run; the node (not the first, which began the cluster) dies then.
    let started = Instant::now();
    while searches_counted(nodes[0].http_port) < 60 && started.elapsed() < Duration::from_secs(300)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    nodes[1].kill();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("NODE LOST: {victim_url} lost at ")),
        "{stdout}"
    );
    let check = stdout
        .lines()
        .find(|l| l.starts_with("all_nodes_served"))
        .unwrap_or_else(|| panic!("no all_nodes_served check: {stdout}"));
    assert!(check.contains("MISSED"), "{check}");
    assert!(check.contains(&format!("{victim_url} lost at ")), "{check}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let run_nodes = report["runs"][0]["nodes"].as_array().unwrap();
    assert_eq!(run_nodes.len(), 3, "{run_nodes:?}");
    let victim = run_nodes
        .iter()
        .find(|n| n["url"] == victim_url.as_str())
        .unwrap();
    let lost = victim["lost_at_s"].as_f64().unwrap();
    assert!(lost > 0.0 && lost < 8.0, "{victim}");
    assert!(
        victim["errors_by_kind"]["unreachable"].as_u64().unwrap() > 0,
        "{victim}"
    );
    let served = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "all_nodes_served")
        .unwrap();
    assert_eq!(served["verdict"], "failed", "{served}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("**Node lost**: {victim_url} lost at {lost:.1} s")),
        "{summary}"
    );
}
