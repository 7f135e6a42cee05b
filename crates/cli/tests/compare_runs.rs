//! `qdrant-perf compare RUN_A RUN_B` on run directories written by `qdrant-perf load` against
//! stand-in HTTP endpoints with a fixed delay: two runs of the same endpoint pass (exit 0), a
//! run against an endpoint 20 % slower fails (exit 1), each confirmed against a third run of the
//! first endpoint (`--confirm`). The delays are long (40 ms and 48 ms)
//! beside this machine's own cost per request, and the threshold 10 %, so the verdict is the
//! delay's, not this machine's speed (a constant 10 ms of overhead per request still leaves the
//! slower endpoint 16 % slower).
//!
//! The same run's report.json is also read back as the one `Report` and must serialise to the
//! same JSON, with every top-level field in docs/report-schema.md.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{bin, endpoint, run};

use qdrant_perf_report::Report;

/// A search endpoint that answers every request after `delay`.
fn slow_endpoint(delay: Duration) -> String {
    endpoint("/search", delay)
}

/// `qdrant-perf load` against `url`, closed loop, into `out`; returns the run directory.
fn load(url: &str, cache: &Path, out: PathBuf) -> PathBuf {
    let (code, stdout, stderr) = run(bin()
        .args([
            "load",
            "--http",
            url,
            "--collections",
            "phi3",
            "--points",
            "100",
            "--queries",
            "20",
            "--concurrency",
            "16",
            "--duration",
            "6s",
            "--warmup",
            "0",
            "--quiet",
            "--cache-dir",
        ])
        .arg(cache)
        .arg("--out")
        .arg(&out));
    // 0 or 1 by the deployment's latency targets; 2 would be a failed run.
    assert!(code == 0 || code == 1, "{stdout}\n{stderr}");
    assert!(out.join("report.json").is_file(), "{stdout}\n{stderr}");
    // 6 s: six one-second batches give every latency figure and the throughput a 95 % interval.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let op = &report["runs"][0]["operations"][0];
    assert_eq!(op["latency_ms"]["ci"]["batches"], 6, "{op}");
    assert!(
        op["throughput_ci"]["low"].as_f64().unwrap() <= op["throughput_ops_s"].as_f64().unwrap()
    );
    out
}

/// `compare A B --confirm C`: a change counts only when B shows it against both A and C, so
/// one run's tail on a busy machine (a p99 is the 16th-slowest of some 1,600 requests here)
/// is not taken for a change of the endpoint.
fn compare(a: &Path, b: &Path, confirm: &Path) -> (i32, String, String) {
    run(bin()
        .arg("compare")
        .arg(a)
        .arg(b)
        .arg("--confirm")
        .arg(confirm)
        .args(["--threshold", "10"]))
}

#[test]
fn compare_passes_two_runs_of_one_endpoint_and_fails_a_slower_one() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let fast = slow_endpoint(Duration::from_millis(40));
    let slow = slow_endpoint(Duration::from_millis(48));
    let a = load(&fast, &cache, dir.path().join("a"));
    let a2 = load(&fast, &cache, dir.path().join("a2"));
    let b = load(&slow, &cache, dir.path().join("b"));
    let a3 = load(&fast, &cache, dir.path().join("a3"));

    let (code, stdout, stderr) = compare(&a, &a2, &a3);
    assert_eq!(code, 0, "same endpoint:\n{stdout}\n{stderr}");
    // One row per figure of (operation, collection): the HTTP target's collection is its host.
    assert!(
        stdout.contains("| load/search/127.0.0.1/p95_ms |"),
        "{stdout}"
    );
    assert!(stdout.contains("0 regressed"), "{stdout}");

    let (code, stdout, stderr) = compare(&a, &b, &a3);
    assert_eq!(code, 1, "20 % slower endpoint:\n{stdout}\n{stderr}");
    for figure in ["mean_ms", "p50_ms", "throughput_ops_s"] {
        let row = stdout
            .lines()
            .find(|l| l.contains(&format!("| load/search/127.0.0.1/{figure} ")))
            .unwrap_or_else(|| panic!("no {figure} row in {stdout}"));
        assert!(row.contains("**regressed**"), "{row}");
        // A regression is significant: beyond the threshold with the intervals apart.
        assert!(row.contains("yes (intervals apart)"), "{row}");
    }
    assert!(stderr.contains("regressed: "), "{stderr}");
    // The endpoints differ, and the comparison says so.
    assert!(stdout.contains("target_url"), "{stdout}");

    // A load run and a stress run are not comparable: exit 2 naming both commands.
    let mut stress_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("report.json")).unwrap()).unwrap();
    stress_json["command"] = "stress".into();
    let stress = dir.path().join("stress.json");
    std::fs::write(&stress, stress_json.to_string()).unwrap();
    let (code, _, stderr) = compare(&a, &stress, &a3);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("qdrant-perf load") && stderr.contains("qdrant-perf stress"),
        "{stderr}"
    );
}

/// The `| `field` |` rows of one `## section` of docs/report-schema.md.
fn documented_fields(section: &str) -> Vec<String> {
    let doc = include_str!("../../../docs/report-schema.md");
    let start = doc
        .find(&format!("\n## {section}\n"))
        .unwrap_or_else(|| panic!("no section {section}"));
    let body = &doc[start + section.len() + 5..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    body.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .flat_map(|l| {
            let cell = &l[..l.find(" |").unwrap_or(l.len())];
            cell.split(", ")
                .map(|f| f.trim_matches('`').trim_end_matches("[]").to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn a_load_report_reads_back_as_the_one_report_and_matches_the_schema_doc() {
    let dir = tempfile::tempdir().unwrap();
    let url = slow_endpoint(Duration::from_millis(1));
    let out = load(&url, &dir.path().join("cache"), dir.path().join("run"));
    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    let written: serde_json::Value = serde_json::from_str(&text).unwrap();
    let report = Report::load(&out).expect("report.json is a Report");
    assert_eq!(report.schema, qdrant_perf_report::SCHEMA);
    assert_eq!(report.command, "load");
    assert!(report.runs[0].ok > 0, "{text}");
    assert_eq!(report.provenance.engine.as_deref(), Some("http"));
    // Nothing is lost or added on the way through the type.
    assert_eq!(serde_json::to_value(&report).unwrap(), written);

    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    for (section, value) in [
        ("Top level", &written),
        ("provenance", &written["provenance"]),
        ("run", &written["runs"][0]),
    ] {
        let mut documented = documented_fields(section);
        documented.sort();
        assert_eq!(documented, keys(value), "docs/report-schema.md, {section}");
    }
}
