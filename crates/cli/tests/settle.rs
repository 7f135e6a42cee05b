//! `qdrant-perf settle` end to end: after a delete and after a restart against a real Qdrant
//! server (`QDRANT_BIN`), after a bulk load on the embedded engine, and bad input refused with
//! exit 2 before any work. Nothing here asserts a time: the verdict may be met or missed (exit 0
//! or 1) on a slow machine; what is asserted is what the report holds.

mod common;

use std::path::Path;

use common::{bin, http_json, run, tiny_config};
use qdrant_perf_testkit::qdrant::LocalServer;

/// A config whose `tiny32` collection has 64 dimensions.
fn config(dir: &Path) -> std::path::PathBuf {
    tiny_config(dir, |t| t.replace("vector_size: 32", "vector_size: 64"))
}

fn settle_args(dir: &Path, after: &str, points: usize) -> Vec<String> {
    let cfg = config(dir);
    [
        "settle",
        "--after",
        after,
        "--collection",
        "tiny32",
        "--config",
        cfg.to_str().unwrap(),
        "--points",
        &points.to_string(),
        "--queries",
        "100",
        "--rate",
        "40",
        "--settle-window",
        "2s",
        "--max-time",
        "60s",
        "--quiet",
        "--cache-dir",
        dir.join("cache").to_str().unwrap(),
        "--out",
        dir.join("run").to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn report(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("run/report.json")).expect("report.json");
    serde_json::from_str(&text).unwrap()
}

/// The one settle run of a report, checked for what every run has: seconds with answers, the
/// state series, and the report's files.
fn one_run(dir: &Path, code: i32, stdout: &str, stderr: &str) -> serde_json::Value {
    assert!(
        code == 0 || code == 1,
        "ran (met or missed): {code}\n{stdout}\n{stderr}"
    );
    let r = report(dir);
    assert_eq!(r["command"], "settle");
    let runs = r["settle"]["runs"].as_array().expect("settle.runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(r["runs"].as_array().unwrap().len(), 1, "the driver's run");
    let run = runs[0].clone();
    let seconds = run["seconds"].as_array().unwrap();
    assert!(!seconds.is_empty(), "per-second series");
    assert!(
        seconds
            .iter()
            .map(|s| s["ok"].as_u64().unwrap())
            .sum::<u64>()
            > 0
    );
    assert!(
        !run["states"].as_array().unwrap().is_empty(),
        "state series"
    );
    for f in [
        "summary.md",
        "report.html",
        "metrics.prom",
        "intervals.jsonl",
    ] {
        assert!(dir.join("run").join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(dir.join("run/summary.md")).unwrap();
    assert!(md.contains("## Settle") && md.contains("| t s |"), "{md}");
    let html = std::fs::read_to_string(dir.join("run/report.html")).unwrap();
    assert!(html.contains("indexed vs total points"), "the state chart");
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "settle_latency_p95_after_drain")
    );
    run
}

/// The collections on the server whose name has the suite's settle prefix.
fn settle_collections(http_port: u16) -> Vec<String> {
    let (status, body) = http_json(http_port, "GET", "/collections", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["result"]["collections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .filter(|n| n.starts_with("perf_settle_"))
        .map(String::from)
        .collect()
}

fn recall(run: &serde_json::Value) -> f64 {
    let f = &run["figures"];
    let r = if f["recall_after"].is_null() {
        &f["recall_draining"]
    } else {
        &f["recall_after"]
    };
    r["value"].as_f64().expect("recall measured")
}

#[test]
fn after_a_delete_the_state_is_polled_recall_is_over_the_points_left_and_the_collection_is_dropped()
{
    let Some(bin_path) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    let server = LocalServer::start(&bin_path, None).expect("QDRANT_BIN starts");
    let dir = tempfile::tempdir().unwrap();
    let mut args = settle_args(dir.path(), "delete=25%", 3_000);
    args.extend([
        "--target".into(),
        server.grpc_url().replace("http://", "grpc://"),
        "--metrics-url".into(),
        format!("http://127.0.0.1:{}", server.http_port),
    ]);
    let (code, out, err) = run(bin().args(&args).env_remove("QDRANT_URL"));
    let run = one_run(dir.path(), code, &out, &err);
    assert_eq!(run["after"], "delete=25%");
    // The server's state, with the optimizations route's summary read.
    let states = run["states"].as_array().unwrap();
    assert!(
        states
            .iter()
            .any(|s| s["queued_optimizations"].is_u64() && s["running"].is_u64()),
        "the optimizations summary was read: {states:?}"
    );
    let last = states.last().unwrap();
    assert_eq!(last["points"], 2250, "25 % of 3,000 deleted: {last}");
    assert!(last["segments"].is_u64() && last["status"].is_string());
    // The truth is over the 2,250 points left. At 3,000 points the server searches exactly
    // (below the full-scan threshold), so recall is 1.0 against that truth; against the
    // dataset's truth (with deleted ids as true neighbours) it would be near 0.75.
    assert!(
        run["truth"].as_str().unwrap().contains("2250 points left"),
        "{}",
        run["truth"]
    );
    assert!(recall(&run) > 0.95, "recall {}", recall(&run));
    assert!(settle_collections(server.http_port).is_empty(), "dropped");
}

#[test]
fn after_a_restart_of_its_own_server_the_first_answer_is_timed_and_everything_is_cleaned_up() {
    let Some(bin_path) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut args = settle_args(dir.path(), "restart", 3_000);
    args.extend(["--qdrant-bin".into(), bin_path.to_str().unwrap().into()]);
    let (code, out, err) = run(bin().args(&args).env_remove("QDRANT_URL"));
    let run = one_run(dir.path(), code, &out, &err);
    let first = run["figures"]["time_to_first_answer_s"]
        .as_f64()
        .expect("time to first answer");
    assert!(first > 0.0);
    assert!(
        run["event_s"].as_f64().unwrap() > 0.0,
        "ready after the start"
    );
    let states = run["states"].as_array().unwrap();
    assert!(
        states.iter().any(|s| s["queued_optimizations"].is_u64()),
        "the optimizations summary was read after the restart: {states:?}"
    );
    let r = report(dir.path());
    let setup: Vec<&str> = r["setup"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        setup.iter().any(|s| s.starts_with("dropped perf_settle_")),
        "the collection dropped after the restart: {setup:?}"
    );
    assert!(recall(&run) > 0.95);
    // The suite's server is gone with its storage.
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.starts_with(&format!("qdrant-perf-settle-{}-", std::process::id()))
            })
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn after_a_restart_by_the_users_command_the_server_answers_again_and_the_collection_is_dropped() {
    let Some(bin_path) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let [http, grpc] = qdrant_perf_testkit::free_ports().unwrap();
    let home = dir.path().join("qdrant");
    std::fs::create_dir_all(&home).unwrap();
    let pid = home.join("pid");
    // A server of "the user's", started and restarted by shell commands alone.
    let start = format!(
        "cd {home} && QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT={http} \
         QDRANT__SERVICE__GRPC_PORT={grpc} QDRANT__STORAGE__STORAGE_PATH={home}/storage \
         QDRANT__STORAGE__SNAPSHOTS_PATH={home}/snapshots QDRANT__TELEMETRY_DISABLED=true \
         QDRANT__LOG_LEVEL=WARN nohup {bin} >/dev/null 2>&1 & echo $! > {pid}",
        home = home.display(),
        bin = bin_path.display(),
        pid = pid.display()
    );
    let stop = format!(
        "kill $(cat {pid}); while kill -0 $(cat {pid}) 2>/dev/null; do sleep 0.05; done",
        pid = pid.display()
    );
    let status = std::process::Command::new("sh")
        .args(["-c", &start])
        .status()
        .unwrap();
    assert!(status.success());
    let ready = (0..600).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        qdrant_perf_testkit::http::http_status(http, "/readyz") == Some(200)
    });
    assert!(ready, "the server started");
    let mut args = settle_args(dir.path(), "restart", 3_000);
    args.extend([
        "--target".into(),
        format!("grpc://127.0.0.1:{grpc}"),
        "--metrics-url".into(),
        format!("http://127.0.0.1:{http}"),
        "--restart-command".into(),
        format!("{stop}; {start}"),
    ]);
    let (code, out, err) = run(bin().args(&args).env_remove("QDRANT_URL"));
    let result = std::panic::catch_unwind(|| {
        let run = one_run(dir.path(), code, &out, &err);
        assert!(
            run["figures"]["time_to_first_answer_s"].as_f64().is_some(),
            "time to first answer"
        );
        assert!(
            run["states"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["queued_optimizations"].is_u64())
        );
        assert!(recall(&run) > 0.95);
        assert!(settle_collections(http).is_empty(), "dropped");
    });
    let _ = std::process::Command::new("sh")
        .args(["-c", &stop])
        .status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn after_a_bulk_load_on_the_embedded_engine_its_optimizer_passes_are_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let args = settle_args(dir.path(), "bulk-load", 3_000);
    let (code, out, err) = run(bin().args(&args).env_remove("QDRANT_URL"));
    let run = one_run(dir.path(), code, &out, &err);
    let states = run["states"].as_array().unwrap();
    let last = states.last().unwrap();
    assert_eq!(last["points"], 3000, "{last}");
    assert_eq!(
        last["indexed_vectors"], 3000,
        "indexed by the passes: {last}"
    );
    assert!(last["idle"].as_bool().unwrap());
    assert!(
        run["state_source"]
            .as_str()
            .unwrap()
            .contains("embedded engine")
    );
    assert!(recall(&run) > 0.9);
}

#[test]
fn bad_input_is_refused_before_any_work_with_the_flag_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["--after", "delete=150%"], &["--after", "below 100 %"]),
        (vec!["--after", "reboot"], &["--after", "bulk-load"]),
        (
            vec!["--after", "restart"],
            &["--after restart", "--qdrant-bin"],
        ),
        (
            vec!["--after", "restart", "--target", "grpc://127.0.0.1:1"],
            &["--restart-command"],
        ),
        (
            vec!["--after", "bulk-load", "--prevent-unoptimized"],
            &["--prevent-unoptimized", "embedded engine"],
        ),
        (
            vec!["--after", "none", "--drop-caches"],
            &["--drop-caches", "--after restart"],
        ),
        (
            vec![
                "--after",
                "none",
                "--settle-window",
                "20s",
                "--max-time",
                "10s",
            ],
            &["--max-time"],
        ),
        (
            vec!["--after", "restart", "--qdrant-bin", "/nonexistent/qdrant"],
            &["--qdrant-bin", "no such file"],
        ),
    ];
    for (extra, words) in cases {
        let out = dir.path().join("never");
        let mut args = vec![
            "settle",
            "--quiet",
            "--cache-dir",
            dir.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra.iter());
        let (code, _, err) = run(bin().args(&args).env_remove("QDRANT_URL"));
        assert_eq!(code, 2, "{extra:?}: {err}");
        for w in words {
            assert!(err.contains(w), "{extra:?}: {w:?} not in {err}");
        }
        assert!(!out.exists(), "{extra:?}: no work done");
    }
}
