//! `qdrant-perf stream` end to end: on the embedded engine, against a real Qdrant server
//! (`QDRANT_BIN`), and every bad input refused with exit 2 before any work.

mod common;

use std::path::Path;

use common::{bin, run};
use qdrant_perf_testkit::qdrant::LocalServer;

/// Sizes of the end-to-end runs: `QDRANT_PERF_STREAM=5000,15000` for the 5,000 ->
/// 20,000 (the default is smaller so scripts/test stays short).
fn sizes() -> (usize, usize) {
    std::env::var("QDRANT_PERF_STREAM")
        .ok()
        .and_then(|v| {
            let (a, b) = v.split_once(',')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .unwrap_or((1_000, 3_000))
}

fn stream_args(cache: &Path, out: &Path, initial: usize, total: usize) -> Vec<String> {
    [
        "stream",
        "--collection",
        "deepcoder",
        "--initial",
        &initial.to_string(),
        "--total",
        &total.to_string(),
        "--insert-rate",
        "1000",
        "--batch",
        "100",
        "--rate",
        "50",
        "--queries",
        "200",
        "--stage",
        "0.25",
        "--freshness-sample",
        "2",
        "--freshness-timeout",
        "60s",
        "--quiet",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The fields documented in one `## section` of docs/report-schema.md.
/// `--target` and `--metrics-url` of `server`.
fn server_args(server: &LocalServer) -> [String; 4] {
    [
        "--target".into(),
        format!("grpc://127.0.0.1:{}", server.grpc_port),
        "--metrics-url".into(),
        server.rest_url(),
    ]
}

/// The embedded engine's scratch collections under `cache` are gone.
fn assert_no_scratch_left(cache: &Path) {
    let left: Vec<_> = std::fs::read_dir(cache.join("stream-edge"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.iter()
            .all(|p| std::fs::read_dir(p).map_or(true, |mut d| d.next().is_none())),
        "scratch left behind: {left:?}"
    );
}

fn documented(section: &str) -> std::collections::BTreeSet<String> {
    let doc = include_str!("../../../docs/report-schema.md");
    let start = doc
        .find(&format!("\n## {section}\n"))
        .unwrap_or_else(|| panic!("section {section}"));
    let body = &doc[start + section.len() + 5..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    body.lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            l.split('|')
                .nth(1)
                .unwrap()
                .split(',')
                .map(|f| f.trim().trim_matches('`').to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// What every finished stream report must show, on any engine.
fn check_report(out: &Path, initial: usize, total: usize) -> serde_json::Value {
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    // The suite's one report model, as a runbook run writes it.
    assert_eq!(r["schema"], "qdrant-perf.report/2");
    assert_eq!(r["command"], "stream");
    assert_eq!(r["partial"], false);
    let st = &r["stream"];
    assert_eq!(st["kind"], "stages");
    let stages = st["steps"].as_array().unwrap();
    assert_eq!(stages.len(), 4, "--stage 0.25: four stages");
    // One run per stage, labelled alike (compare matches runs by label).
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), stages.len());
    // The truth of stage 1 is the initial points; each later stage starts from more.
    assert_eq!(stages[0]["points_present"], initial as u64);
    let mut last = 0;
    let mut inserted = 0;
    for (i, (s, run)) in stages.iter().zip(runs).enumerate() {
        assert_eq!(s["label"], format!("stage {}", i + 1));
        assert_eq!(run["label"], s["label"]);
        let at = s["points_present"].as_u64().unwrap();
        assert!(at >= last, "points at start grow: {at} after {last}");
        last = at;
        inserted += s["written"].as_u64().unwrap();
        assert!(run["ok"].as_u64().unwrap() > 0, "{run}");
        let recall = s["recall_at_10"]["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&recall));
        assert_eq!(
            s["recall_at_10"]["samples"], run["ok"],
            "every answered search scored"
        );
    }
    assert!(
        last > initial as u64,
        "later stages see the inserted points"
    );
    assert_eq!(
        inserted, total as u64,
        "every insert acknowledged in some stage"
    );
    // Freshness: followed points were returned by a search (searchable lag) and covered by
    // the indexed count.
    let fresh = &st["freshness"];
    let samples = fresh["samples"].as_array().unwrap();
    let expected = (total / 100).div_ceil(2);
    assert_eq!(
        samples.len(),
        expected,
        "the first point of every 2nd batch"
    );
    for s in samples {
        assert!(s["probes"].as_u64().unwrap() >= 1);
    }
    assert!(fresh["searchable"]["ms"]["samples"].as_u64().unwrap() > 0);
    assert!(fresh["indexed"]["ms"]["samples"].as_u64().unwrap() > 0);
    let checks = r["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "latency_p95_during_ingest" && c["limit"] == 20.0)
    );
    assert_eq!(
        checks
            .iter()
            .filter(|c| c["name"] == "recall_at_10")
            .count(),
        4,
        "one recall check per stage"
    );
    assert_eq!(documented("stream"), keys(st), "docs/report-schema.md");
    // `churn` is documented and present only with --delete-rate or --update-rate.
    let mut step = documented("stream: step");
    step.remove("churn");
    assert_eq!(step, keys(&stages[0]), "docs/report-schema.md");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("| stage | points at start |"), "{md}");
    assert!(md.contains("Freshness ("), "{md}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h2>Stages</h2>"), "report.html");
    assert!(out.join("metrics.prom").is_file());
    assert!(out.join("intervals.jsonl").is_file());
    r
}

#[test]
fn a_stream_on_the_embedded_engine_reports_each_stage_and_freshness() {
    let dir = tempfile::tempdir().unwrap();
    let (initial, total) = sizes();
    let out = dir.path().join("run");
    let (code, stdout, stderr) =
        run(bin().args(stream_args(&dir.path().join("cache"), &out, initial, total)));
    assert!(code == 0 || code == 1, "exit {code}\n{stdout}\n{stderr}");
    assert!(stdout.contains("| stage | points at start |"), "{stdout}");
    assert!(stdout.contains("report: "), "{stdout}");
    let r = check_report(&out, initial, total);
    assert_eq!(r["target"]["kind"], "edge");
    // The embedded engine has no server time.
    assert!(r["runs"][0]["server_latency_ms"].is_null());
    // compare reads two stream reports, matching the stages' runs by label.
    let (code, stdout, stderr) =
        run(bin().args(["compare", out.to_str().unwrap(), out.to_str().unwrap()]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("stage 1") && stdout.contains("stage 4"),
        "{stdout}"
    );
    // The run's scratch collection is gone.
    assert_no_scratch_left(&dir.path().join("cache"));
}

#[test]
fn a_stream_against_a_qdrant_server_has_server_time_and_drops_its_collection() {
    let Some(qdrant) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    let server = LocalServer::start(Path::new(&qdrant), None).expect("the server starts");
    let dir = tempfile::tempdir().unwrap();
    let (initial, total) = sizes();
    let out = dir.path().join("run");
    let mut args = stream_args(&dir.path().join("cache"), &out, initial, total);
    args.extend(server_args(&server));
    let (code, stdout, stderr) = run(bin().args(&args));
    assert!(code == 0 || code == 1, "exit {code}\n{stdout}\n{stderr}");
    let r = check_report(&out, initial, total);
    assert_eq!(r["target"]["kind"], "grpc");
    for s in r["runs"].as_array().unwrap() {
        assert!(
            s["server_latency_ms"]["samples"].as_u64().unwrap() > 0,
            "Qdrant's own time per search: {s}"
        );
        assert!(s["server"]["nodes"][0]["seconds"].is_array(), "{s}");
    }
    let collections = qdrant_perf_testkit::http_body(server.http_port, "/collections").unwrap();
    assert!(
        !collections.contains("perf_stream_"),
        "the stream's collection was dropped: {collections}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_fix_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cases: &[(&[&str], &str)] = &[
        (&["--insert-rate", "0"], "--insert-rate = 0"),
        (&["--total", "0"], "--total = 0: insert at least one point"),
        (
            &["--initial", "30000", "--points", "20000"],
            "the dataset has 20000 points",
        ),
        (
            &["--initial", "5000", "--total", "20000", "--points", "20000"],
            "the dataset has 20000 points and 5000 are the initial ones, so at most 15000",
        ),
        (&["--stage", "0"], "--stage = 0"),
        (&["--stage", "1.5"], "(0, 1]"),
        (&["--stage=-0.1"], "--stage = -0.1"),
        (&["--recall-floor", "0"], "--recall-floor"),
    ];
    for (extra, expected) in cases {
        let (code, stdout, stderr) = run(bin()
            .args(["stream", "--quiet", "--cache-dir", cache.to_str().unwrap()])
            .args(*extra));
        assert_eq!(code, 2, "{extra:?}: {stdout}{stderr}");
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(
            !cache.join("datasets").exists(),
            "{extra:?}: refused before generating any data"
        );
    }
}

#[test]
fn ctrl_c_keeps_the_stages_measured_and_drops_the_collection() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cache = dir.path().join("cache");
    let mut args = stream_args(&cache, &out, 1_000, 20_000);
    // 20,000 points at 1,000/s: 20 s of stream, cut after the first stages.
    let at = args.iter().position(|a| a == "--stage").unwrap();
    args[at + 1] = "0.05".into();
    let child = bin()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the stream runs (the setup line is printed before the first stage; --quiet
    // hides it, so wait for the scratch collection and then a few seconds of stream).
    let started = std::time::Instant::now();
    let edge = cache.join("stream-edge");
    while !edge.exists() && started.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(8));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    assert!(stderr.contains("Ctrl-C: ending the stream"), "{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["partial"], true);
    let stages = r["stream"]["steps"].as_array().unwrap();
    assert_eq!(r["runs"].as_array().unwrap().len(), stages.len());
    // The interval log, opened before the first stage, keeps the finished seconds.
    assert!(out.join("intervals.jsonl").is_file());
    assert!(
        !stages.is_empty() && stages.len() < 20,
        "some stages, not all: {}",
        stages.len()
    );
    assert_eq!(
        stages.last().unwrap()["partial"],
        true,
        "the stage Ctrl-C cut short"
    );
    assert!(
        r["setup"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .unwrap()
            .starts_with("dropped perf_stream_deepcoder_")),
        "{}",
        r["setup"]
    );
}

/// insert, search, delete half, search, replace, search: 2,000 points of 32 dims present at
/// most, rows 0..2,500.
const HAND_RUNBOOK: &str = "
hand-2k:
  max_pts: 2000
  gt_url: \"https://example.org/ignored\"
  1: {operation: insert, start: 0, end: 2000}
  2: {operation: search}
  3: {operation: delete, start: 0, end: 1000}
  4: {operation: search}
  5: {operation: replace, tags_start: 1000, tags_end: 1500, ids_start: 2000, ids_end: 2500}
  6: {operation: search}
";

fn runbook_args(dir: &Path, runbook: &str) -> Vec<String> {
    let config = common::tiny_config(dir, |t| t);
    let file = dir.join("runbook.yaml");
    std::fs::write(&file, runbook).unwrap();
    [
        "stream",
        "--config",
        config.to_str().unwrap(),
        "--collection",
        "tiny32",
        "--runbook",
        file.to_str().unwrap(),
        "--insert-rate",
        "4000",
        "--delete-rate",
        "4000",
        "--update-rate",
        "4000",
        "--batch",
        "100",
        "--rate",
        "100",
        "--queries",
        "100",
        "--search-step-duration",
        "2s",
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

/// What every finished run of the hand-made runbook must show: the suite's report model with one
/// run per step, the points present per step, every search step scored at least `floor` over
/// every answer, no stale result.
fn check_runbook_report(dir: &Path, floor: f64) -> serde_json::Value {
    let run_dir = dir.join("run");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(r["schema"], "qdrant-perf.report/2");
    assert_eq!(r["command"], "stream");
    assert_eq!(r["partial"], false);
    for f in [
        "summary.md",
        "report.html",
        "metrics.prom",
        "intervals.jsonl",
    ] {
        assert!(run_dir.join(f).exists(), "{f} written");
    }
    let st = &r["stream"];
    assert_eq!(st["kind"], "runbook");
    assert_eq!(st["runbook"]["dataset"], "hand-2k");
    assert_eq!(
        st["runbook"]["gt_url_ignored"],
        "https://example.org/ignored"
    );
    let steps = st["steps"].as_array().unwrap();
    let labels: Vec<&str> = steps.iter().map(|s| s["label"].as_str().unwrap()).collect();
    let expected = [
        "step 1 insert",
        "step 2 search",
        "step 3 delete",
        "step 4 search",
        "step 5 replace",
        "step 6 search",
    ];
    assert_eq!(labels, expected);
    // One run per step, labelled alike (compare matches runs by label).
    let runs = r["runs"].as_array().unwrap();
    let run_labels: Vec<&str> = runs.iter().map(|x| x["label"].as_str().unwrap()).collect();
    assert_eq!(run_labels, expected);
    let present: Vec<u64> = steps
        .iter()
        .map(|s| s["points_present"].as_u64().unwrap())
        .collect();
    assert_eq!(present, [2000, 2000, 1000, 1000, 1000, 1000]);
    let written: Vec<u64> = steps
        .iter()
        .map(|s| s["written"].as_u64().unwrap())
        .collect();
    assert_eq!(written, [2000, 0, 1000, 0, 500, 0]);
    let mut recalls = Vec::new();
    for (s, run) in steps.iter().zip(runs) {
        assert_eq!(s["write_errors"], 0, "{s}");
        assert_eq!(s["stale_results"], 0, "{s}");
        if s["operation"] == "search" {
            let rec = s["recall_at_10"]["value"].as_f64().unwrap();
            assert!(rec >= floor, "{}: recall {rec}", s["label"]);
            assert_eq!(s["recall_at_10"]["samples"], run["ok"]);
            assert_eq!(run["recall_at_10"], s["recall_at_10"]);
            assert!(run["ok"].as_u64().unwrap() > 0);
            recalls.push(rec);
        } else {
            assert!(s["recall_at_10"].is_null(), "write steps are not scored");
            assert!(s["write_rate"].as_f64().unwrap() > 0.0);
        }
    }
    let mean = recalls.iter().sum::<f64>() / recalls.len() as f64;
    assert!((st["mean_recall"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert!((r["recall_at_10"]["value"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert_eq!(st["stale_results"], 0);
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "stale_results")
    );
    let md = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(md.contains("| step 4 search | 1000 |"), "{md}");
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(
        html.contains("step 4 search"),
        "the step table in report.html"
    );
    r
}

#[test]
fn a_runbook_on_the_embedded_engine_scores_each_search_step() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(bin().args(runbook_args(dir.path(), HAND_RUNBOOK)));
    assert!(code == 0 || code == 1, "exit {code}\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("Mean recall@10 over the search steps"),
        "{stdout}"
    );
    // No index is built on the embedded engine at this size: its search is exact.
    let r = check_runbook_report(dir.path(), 0.99);
    assert_eq!(r["target"]["kind"], "edge");
    // compare reads two stream reports, matching the steps' runs by label.
    let run_dir = dir.path().join("run");
    let (code, stdout, stderr) = run(bin().args([
        "compare",
        run_dir.to_str().unwrap(),
        run_dir.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("step 4 search"), "{stdout}");
    assert!(
        r["setup"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .unwrap()
            .starts_with("dropped perf_churn_tiny32_")),
        "{}",
        r["setup"]
    );
    assert_no_scratch_left(&dir.path().join("cache"));
    // The interval log alone (as a killed run leaves it) gives the steps back: `report DIR`
    // rebuilds the runs and the `stream` section with each step's row and the mean recall.
    let only_log = dir.path().join("only-log");
    std::fs::create_dir(&only_log).unwrap();
    std::fs::copy(
        run_dir.join("intervals.jsonl"),
        only_log.join("intervals.jsonl"),
    )
    .unwrap();
    let (code, stdout, stderr) = run(bin().arg("report").arg(&only_log));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let back: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(only_log.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(back["partial"], true);
    assert_eq!(back["stream"]["kind"], "runbook");
    assert_eq!(back["stream"]["steps"], r["stream"]["steps"]);
    assert_eq!(back["stream"]["mean_recall"], r["stream"]["mean_recall"]);
    assert_eq!(
        back["runs"].as_array().map(Vec::len),
        r["runs"].as_array().map(Vec::len)
    );
}

#[test]
fn a_runbook_against_a_qdrant_server_scores_each_search_step_and_drops_its_collection() {
    let Some(qdrant) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    let server = LocalServer::start(Path::new(&qdrant), None).expect("the server starts");
    let dir = tempfile::tempdir().unwrap();
    let mut args = runbook_args(dir.path(), HAND_RUNBOOK);
    args.extend(server_args(&server));
    let (code, stdout, stderr) = run(bin().args(&args));
    assert!(code == 0 || code == 1, "exit {code}\n{stdout}\n{stderr}");
    let r = check_runbook_report(dir.path(), 0.9);
    assert_eq!(r["target"]["kind"], "grpc");
    for s in r["runs"].as_array().unwrap() {
        if s["ok"].as_u64().unwrap() > 0 {
            assert!(
                s["server_latency_ms"]["samples"].as_u64().unwrap() > 0,
                "Qdrant's own time per search: {s}"
            );
        }
    }
    let collections = qdrant_perf_testkit::http_body(server.http_port, "/collections").unwrap();
    assert!(
        !collections.contains("perf_churn_"),
        "the runbook's collection was dropped: {collections}"
    );
}

#[test]
fn bad_runbooks_exit_2_naming_the_step_and_the_key_before_any_work() {
    let head = "bad:\n  max_pts: 2000\n  1: {operation: insert, start: 0, end: 1000}\n";
    let cases: Vec<(String, &[&str])> = vec![
        (
            "bad:\n  1: {operation: insert, start: 0, end: 1000}\n".into(),
            &["key max_pts is missing"],
        ),
        (
            format!("{head}  2: {{operation: upsert, start: 0, end: 10}}\n"),
            &["step 2", "operation", "unknown"],
        ),
        (
            format!("{head}  2: {{operation: delete, start: 0}}\n"),
            &["step 2", "key end is missing"],
        ),
        (
            format!(
                "{head}  2: {{operation: replace, tags_start: 0, tags_end: 10, ids_start: 0}}\n"
            ),
            &["step 2", "key ids_end is missing"],
        ),
        (
            format!("{head}  2: {{operation: insert, start: 500, end: 600}}\n"),
            &["step 2 (insert), key start", "tag 500 is already present"],
        ),
        (
            format!("{head}  2: {{operation: delete, start: 900, end: 1100}}\n"),
            &["step 2 (delete), key start", "tag 1000 is not present"],
        ),
        (
            format!(
                "{head}  2: {{operation: replace, tags_start: 1500, tags_end: 1600, ids_start: 0, ids_end: 100}}\n"
            ),
            &[
                "step 2 (replace), key tags_start",
                "tag 1500 is not present",
            ],
        ),
        (
            format!("{head}  2: {{operation: insert, start: 1000, end: 2500}}\n"),
            &["step 2 (insert), key max_pts", "2500 points present"],
        ),
        (
            format!(
                "{head}  2: {{operation: replace, tags_start: 0, tags_end: 10, ids_start: 0, ids_end: 20}}\n"
            ),
            &["step 2 (replace)", "differ in length"],
        ),
    ];
    for (i, (text, wanted)) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let (code, stdout, stderr) = run(bin().args(runbook_args(dir.path(), text)));
        assert_eq!(code, 2, "case {i}: {stdout}{stderr}");
        for w in *wanted {
            assert!(stderr.contains(w), "case {i}: wanted {w:?} in {stderr}");
        }
        assert!(
            !dir.path().join("cache").join("datasets").exists()
                && !dir.path().join("cache").join("stream-edge").exists(),
            "case {i}: refused before any data or collection"
        );
    }
    // A row past the dataset: --points smaller than the runbook reads.
    let dir = tempfile::tempdir().unwrap();
    let mut args = runbook_args(dir.path(), HAND_RUNBOOK);
    args.extend(["--points".into(), "2200".into()]);
    let (code, _, stderr) = run(bin().args(&args));
    assert_eq!(code, 2, "{stderr}");
    for w in [
        "step 5 (replace), key ids_end",
        "past the dataset's 2200 rows",
        "--points",
    ] {
        assert!(stderr.contains(w), "wanted {w:?} in {stderr}");
    }
    // big-ann's file holds several datasets: the error lists them.
    let simple = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/runbooks/simple_runbook.yaml"
    );
    let mut args = runbook_args(dir.path(), HAND_RUNBOOK);
    let at = args.iter().position(|a| a == "--runbook").unwrap();
    args[at + 1] = simple.into();
    let (code, _, stderr) = run(bin().args(&args));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("random-xs") && stderr.contains("--runbook-dataset"),
        "{stderr}"
    );
}

/// Deletes and updates beside the inserts: each stage reports them, no answer holds a point
/// deleted or replaced away before it was sent, the recall stays that of an exact-ish search,
/// and the same seed deletes the same points.
#[test]
fn a_stream_with_deletes_and_updates_reports_them_per_stage_without_stale_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = stream_args(&dir.path().join("cache"), &out, 1_000, 3_000);
    args.extend(
        ["--delete-rate", "200", "--update-rate", "200"]
            .iter()
            .map(|s| s.to_string()),
    );
    let (code, stdout, stderr) = run(bin().args(&args));
    assert!(code == 0 || code == 1, "exit {code}\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("| stage | points at start | inserted | insert/s | deleted | delete/s | updated | update/s |"),
        "{stdout}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let stages = r["stream"]["steps"].as_array().unwrap();
    let (mut deleted, mut updated) = (0, 0);
    for s in stages {
        let c = &s["churn"];
        assert_eq!(c["stale_results"], 0, "{s}");
        assert_eq!(c["write_errors"], 0, "{s}");
        deleted += c["deleted"].as_u64().unwrap();
        updated += c["updated"].as_u64().unwrap();
        let recall = s["recall_at_10"]["value"].as_f64().unwrap();
        assert!(recall >= 0.8, "{}: recall {recall}", s["label"]);
    }
    assert!(
        deleted > 0 && updated > 0,
        "{deleted} deleted, {updated} updated"
    );
    // Deleted points leave the indexed count; the followed points are still reached.
    let indexed = &r["stream"]["freshness"]["indexed"];
    assert_eq!(indexed["not_seen"], 0, "{indexed}");
    let note = r["setup"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .find(|l| l.starts_with("churn: "))
        .unwrap_or_else(|| panic!("{}", r["setup"]))
        .to_string();
    assert!(note.contains("seed 42"), "{note}");
    assert!(
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "stale_results" && c["verdict"] == "passed"),
        "{}",
        r["checks"]
    );
    assert!(
        r["setup"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().starts_with("dropped perf_stream_")),
    );
}

/// Ctrl-C during a runbook's long insert step: the steps measured so far are written (the last
/// one partial), the later ones are not run, and the collection is dropped.
#[test]
fn ctrl_c_during_a_runbook_keeps_the_steps_measured_and_drops_the_collection() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = "
slow:
  max_pts: 20000
  1: {operation: insert, start: 0, end: 1000}
  2: {operation: search}
  3: {operation: insert, start: 1000, end: 20000}
  4: {operation: search}
";
    let mut args = runbook_args(dir.path(), runbook);
    // Step 3 alone takes 19 s at 1,000 points/s.
    let at = args.iter().position(|a| a == "--insert-rate").unwrap();
    args[at + 1] = "1000".into();
    let child = bin()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let edge = dir.path().join("cache").join("stream-edge");
    while !edge.exists() && started.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Step 1 (1 s) and step 2 (2 s) done, step 3 under way.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    assert!(stderr.contains("Ctrl-C: ending the runbook"), "{stderr}");
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run").join("report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["partial"], true);
    let steps = r["stream"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "steps 1-3 measured, step 4 not run");
    assert_eq!(steps[2]["partial"], true);
    let written = steps[2]["written"].as_u64().unwrap();
    assert!(
        written > 0 && written < 19_000,
        "step 3 cut short: {written}"
    );
    assert_eq!(steps[2]["points_present"], 1000 + written);
    assert!(
        r["setup"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .unwrap()
            .starts_with("dropped perf_churn_tiny32_")),
        "{}",
        r["setup"]
    );
}
