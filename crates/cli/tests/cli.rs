//! The `qdrant-perf` binary end to end: `validate --quick` on the embedded engine with tiny
//! collections prints the verdict table, writes the report and exits 0/1 as documented; bad input
//! exits 2 with a message naming the problem; `load`, `stress` and `merge` on the no-op target.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{bin, files_under, gateway, http_json, quick_validate, run, tiny_config};
use qdrant_perf_testkit::http::{Answer, StandIn};

fn validate_quick(
    config: &Path,
    cache: &Path,
    out: &Path,
    extra: &[&str],
) -> (i32, String, String) {
    let mut cmd = bin();
    cmd.args(quick_validate("1s"))
        .args(["--target", "edge"])
        .arg("--config")
        .arg(config)
        .arg("--cache-dir")
        .arg(cache)
        .arg("--out")
        .arg(out)
        .args(extra)
        .env_remove("QDRANT_URL");
    run(&mut cmd)
}

/// The counts of the verdict line `N met, M missed, K not run` that `validate` prints.
fn verdicts(stdout: &str) -> (u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.contains(" met, ") && l.contains(" not run"))
        .unwrap_or_else(|| panic!("no verdict line in\n{stdout}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    (n[0], n[1], n[2])
}

/// The exit code a table of checks calls for: 1 when a row says MISSED, else 0.
fn code_of_table(stdout: &str) -> i32 {
    i32::from(stdout.lines().any(|l| l.contains("MISSED")))
}

#[test]
fn validate_quick_on_edge_prints_the_verdict_table_and_exits_by_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // A key no test reads: changed here, it is named with its new value.
    let config = tiny_config(dir.path(), |t| t.replace("workers: ", "workers: 17 #"));
    let out = dir.path().join("run");
    fn row<'a>(stdout: &'a str, check: &str, collection: &str) -> Option<&'a str> {
        stdout.lines().find(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&check) && cells.get(1) == Some(&collection)
        })
    }
    let gateway = gateway();
    let (code, stdout, stderr) = validate_quick(&config, &cache, &out, &["--gateway", &gateway]);
    // Whether this machine meets the latency and throughput targets is not the test's business;
    // that the exit code follows the printed verdicts is.
    let (met, missed, not_run) = verdicts(&stdout);
    assert_eq!(code, i32::from(missed > 0), "{stdout}\n{stderr}");
    assert_eq!(code, code_of_table(&stdout), "{stdout}");
    // The stress knee and the connection ramp (--no-stress), the two cache checks, scalability.
    assert_eq!(not_run, 5, "{stdout}");
    assert!(
        row(&stdout, "gateway_latency", "overall")
            .unwrap()
            .contains(&format!("(mean end to end through {gateway}")),
        "{stdout}"
    );
    assert!(stdout.contains("--quick: 500 points"), "{stdout}");
    let recorded = stdout
        .lines()
        .find(|l| l.starts_with("settings recorded, not used by the test: "))
        .unwrap_or_else(|| panic!("no recorded-settings line in\n{stdout}"));
    assert!(
        recorded.contains("optimization.api_gateway.workers = 17;"),
        "{recorded}"
    );
    // A row per check and collection, each with its limit and a verdict.
    for collection in ["tiny16", "tiny32"] {
        for (check, limit) in [
            ("latency_mean", "< 10.00 ms"),
            ("latency_p95", "< 20.00 ms"),
            ("error_rate", "<= 0"),
            ("query_load", ">= 99"),
        ] {
            let r = row(&stdout, check, collection)
                .unwrap_or_else(|| panic!("no {check} row of {collection} in\n{stdout}"));
            assert!(r.contains(limit), "{limit:?} not in {r}");
            assert!(r.contains("met") || r.contains("MISSED"), "{r}");
        }
    }
    assert!(
        row(&stdout, "latency_p95", "tiny32")
            .unwrap()
            .contains("< 20.00 ms"),
        "{stdout}"
    );
    assert!(
        row(&stdout, "query_load", "tiny32")
            .unwrap()
            .contains("limit x 0.1 (--quick)"),
        "{stdout}"
    );
    for needle in [
        "check",
        "query_load",
        "throughput_sustained",
        "availability",
        "cpu_usage",
        "memory_usage",
        "not run: no cache configured",
        "not run: stress ramp skipped",
        "not run: needs a deployment holding 100000000 vectors",
        "met",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["command"], "validate");
    assert!(json["quick"].as_str().unwrap().contains("x 0.1"));
    assert_eq!(json["verdict"]["exit_code"], code);
    assert_eq!(json["verdict"]["passed"], met);
    assert_eq!(json["verdict"]["failed"], missed);
    let checks = json["checks"].as_array().unwrap();
    let p95 = checks
        .iter()
        .find(|c| c["name"] == "latency_p95" && c["collection"] == "tiny16")
        .unwrap();
    assert_eq!(
        p95["passed"],
        p95["measured"].as_f64().unwrap() < 20.0,
        "{p95}"
    );
    assert!(checks.iter().any(|c| c["name"] == "cache_hit_rate"
        && c["verdict"] == "not_run"
        && c["passed"].is_null()));
    // Four runs: each collection, overall (the headline figures), the gateway.
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[3]["label"], "gateway");
    assert_eq!(json["verdict"]["not_run"], 5);
    assert_eq!(runs[2]["label"], "overall");
    assert_eq!(json["requested_rate"], runs[2]["requested_rate"]);
    assert_eq!(json["throughput_ops_s"], runs[2]["throughput_ops_s"]);
    assert!(json["recall_at_10"]["value"].as_f64().unwrap() > 0.9);
    // Where the figures came from: each collection's dataset and the index it was built with.
    let datasets = json["provenance"]["datasets"].as_array().unwrap();
    let names: Vec<&str> = datasets
        .iter()
        .map(|d| d["collection"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tiny16", "tiny32"], "{datasets:?}");
    assert!(
        datasets.iter().all(|d| d["hash"].is_string()),
        "{datasets:?}"
    );
    assert_eq!(
        json["provenance"]["index"]["hnsw_m"], 16,
        "{}",
        json["provenance"]
    );
    for f in [
        "summary.md",
        "metrics.prom",
        "histograms/tiny16.hlog",
        "histograms/overall.hlog",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }

    // --strict: the checks that did not run count as missed.
    let (code, stdout, _) =
        validate_quick(&config, &cache, &dir.path().join("strict"), &["--strict"]);
    assert_eq!(code, 1, "{stdout}");

    // A target the machine cannot meet is reported as missed, with its numbers: exit 1.
    let strict_config = tiny_config(dir.path(), |t| {
        t.replace("query_latency: 10", "query_latency: 0.0001")
    });
    let (code, stdout, stderr) = validate_quick(
        &strict_config,
        &cache,
        &dir.path().join("miss"),
        &["--collections", "tiny16"],
    );
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("MISSED"), "{stdout}");
    assert!(
        !stdout.contains("tiny32"),
        "only the selected collection runs: {stdout}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), |t| t);
    // Unknown collection: listed with the valid ones, before anything is built.
    let (code, _, stderr) = run(bin()
        .args([
            "validate",
            "--quick",
            "--collections",
            "tiny16,nope",
            "--config",
        ])
        .arg(&config));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown collection `nope`"), "{stderr}");
    assert!(stderr.contains("tiny16, tiny32"), "{stderr}");
    // Bad YAML: the line and the key.
    let bad = tiny_config(dir.path(), |t| {
        t.replace("      vector_size: 32", "      vector_sise: 32")
    });
    let (code, _, stderr) = run(bin().args(["validate", "--quick", "--config"]).arg(&bad));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown field `vector_sise`"), "{stderr}");
    assert!(stderr.contains("line"), "{stderr}");
    assert!(stderr.contains("collections"), "{stderr}");
    // Zero or negative rate and duration, an unknown operation.
    for (args, needle) in [
        (vec!["load", "--target", "noop", "--rate", "0"], "--rate"),
        (vec!["load", "--target", "noop", "--rate", "-5"], "--rate"),
        (
            vec!["load", "--target", "noop", "--duration", "0s"],
            "longer than 0",
        ),
        (
            vec!["load", "--target", "noop", "--duration", "-1s"],
            "--duration",
        ),
        (
            vec!["load", "--target", "noop", "--mix", "search=1,delete=1"],
            "unknown operation `delete`",
        ),
        // The library names the plan's field; the CLI names the flag.
        (
            vec!["load", "--target", "noop", "--mix", "search=0"],
            "--mix = \"search=0\": the weights add up to 0",
        ),
        (
            vec!["load", "--collections", "nope"],
            "unknown collection `nope`",
        ),
        // --read-only: a server's collections, never written; refused before any work.
        (
            vec!["load", "--read-only", "deepcoder"],
            "--read-only measures existing collections of a Qdrant server, not edge",
        ),
        (
            vec![
                "validate",
                "--quick",
                "--read-only",
                "deepcoder",
                "--target",
                "noop",
            ],
            "give --target URL",
        ),
        (
            vec![
                "load",
                "--read-only",
                "deepcoder",
                "--target",
                "grpc://127.0.0.1:1",
                "--mix",
                "search=50,upsert=50",
            ],
            "drop upsert from --mix",
        ),
        (
            vec![
                "validate",
                "--read-only",
                "nope",
                "--target",
                "grpc://127.0.0.1:1",
            ],
            "--read-only: ",
        ),
        (
            vec!["load", "--read-only", "deepcoder", "--collections", "phi3"],
            "cannot be used with",
        ),
    ] {
        let (code, _, stderr) = run(bin().args(&args).env_remove("QDRANT_URL"));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
    // An endpoint that does not answer: an error before the run, with its URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/api/v1/vectors/search");
    let (code, _, stderr) = run(bin()
        .args([
            "load",
            "--http",
            &url,
            "--points",
            "100",
            "--queries",
            "10",
            "--cache-dir",
        ])
        .arg(dir.path().join("cache")));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&url) && stderr.contains("cannot reach"),
        "{stderr}"
    );
    // A Qdrant server that does not answer, likewise.
    let (code, _, stderr) = run(bin().args([
        "load",
        "--target",
        &format!("grpc://127.0.0.1:{port}"),
        "--points",
        "100",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}

#[test]
fn load_stress_and_merge_on_the_noop_target() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("load");
    let (code, stdout, stderr) = run(bin()
        .args([
            "load",
            "--target",
            "noop",
            "--rate",
            "2000",
            "--duration",
            "3s",
            "--warmup",
            "0",
            "--quiet",
            "--out",
        ])
        .arg(&out));
    // Whether this machine sustains 2,000/s is not the test's business: that the run says
    // what it achieved, and exits by its checks, is.
    assert_eq!(code, code_of_table(&stdout), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("requested 2000 ops/s, achieved"),
        "{stdout}"
    );
    assert!(
        stdout.contains("within 1 %") || stdout.contains("COULD NOT sustain"),
        "{stdout}"
    );
    assert!(stdout.contains("rate_achieved"), "{stdout}");
    let hlog = out.join("histograms/load.hlog");
    let (code, stdout, stderr) = run(bin().arg("merge").arg(&hlog).arg(&hlog));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("search/noop"), "{stdout}");
    assert!(
        stdout.contains("12000"),
        "two logs of 6000 samples: {stdout}"
    );

    // `--concurrency` without a number: the file's load_testing.connections workers.
    let seven = tiny_config(dir.path(), |t| {
        t.replace("connections: 1000", "connections: 7")
    });
    let (code, stdout, stderr) = run(bin()
        .args([
            "load",
            "--target",
            "noop",
            "--concurrency",
            "--duration",
            "1s",
            "--warmup",
            "0",
            "--quiet",
            "--config",
        ])
        .arg(&seven)
        .arg("--out")
        .arg(dir.path().join("closed")));
    assert_eq!(code, code_of_table(&stdout), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("closed loop: 7 connections (load_testing.connections)"),
        "{stderr}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("closed/report.json")).unwrap())
            .unwrap();
    assert_eq!(json["runs"][0]["concurrency"], 7, "{stdout}");

    let config = tiny_config(dir.path(), |t| {
        t.replace(
            "query_latency: 10",
            "query_latency: 10\n    peak_throughput: 2000",
        )
    });
    let (code, stdout, stderr) = run(bin()
        .args([
            "stress",
            "--target",
            "noop",
            "--from",
            "1000",
            "--to",
            "3000",
            "--steps",
            "3",
            "--step-duration",
            "2s",
            "--warmup",
            "0",
            "--quiet",
            "--config",
        ])
        .arg(&config)
        .arg("--out")
        .arg(dir.path().join("stress")));
    assert_eq!(code, code_of_table(&stdout), "{stdout}\n{stderr}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("stress/report.json")).unwrap())
            .unwrap();
    assert_eq!(json["verdict"]["exit_code"], code);
    // The ramp runs 1000, 2000, 3000 until a step misses; the knee is the last step that met
    // the targets, and the peak check (2,000/s) is judged on its throughput.
    let steps = json["stress"]["steps"].as_array().unwrap();
    let loads: Vec<f64> = steps.iter().map(|s| s["load"].as_f64().unwrap()).collect();
    assert_eq!(loads, [1000.0, 2000.0, 3000.0][..steps.len()], "{stdout}");
    let met: Vec<bool> = steps
        .iter()
        .map(|s| s["met_targets"].as_bool().unwrap())
        .collect();
    let first_miss = met.iter().position(|m| !m);
    assert_eq!(
        first_miss.map_or(steps.len(), |i| i + 1),
        steps.len(),
        "the ramp stops at the first missed step: {met:?}"
    );
    let knee = first_miss.unwrap_or(steps.len()).checked_sub(1);
    assert_eq!(
        json["stress"]["knee"].as_f64(),
        knee.map(|i| loads[i]),
        "{stdout}"
    );
    let knee_text = knee.map_or("none".to_string(), |i| format!("{:.0}", loads[i]));
    assert!(stdout.contains(&format!("knee: {knee_text}")), "{stdout}");
    let check = &json["checks"][0];
    assert_eq!(check["name"], "throughput_peak");
    let expected = knee.is_some_and(|i| steps[i]["throughput_ops_s"].as_f64().unwrap() >= 2000.0);
    assert_eq!(
        check["passed"].as_bool().unwrap_or(false),
        expected,
        "{check}"
    );
}

#[test]
fn validates_stress_ramp_reaches_the_files_max_connections_and_holds() {
    let dir = tempfile::tempdir().unwrap();
    // --quick takes a tenth of the file's max_connections: 3 here.
    let config = tiny_config(dir.path(), |t| {
        t.replace("max_connections: 5000", "max_connections: 30")
    });
    let out = dir.path().join("run");
    let args: Vec<String> = quick_validate("1s")
        .into_iter()
        .filter(|a| a != "--no-stress")
        .collect();
    let (code, stdout, stderr) = run(bin()
        .args(&args)
        .args(["--target", "edge", "--collections", "tiny16"])
        .arg("--config")
        .arg(&config)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&out)
        .env_remove("QDRANT_URL"));
    assert!(code == 0 || code == 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("the connection ramp to 3 connections held 3 s"),
        "{stdout}"
    );
    let recorded = stdout
        .lines()
        .find(|l| l.starts_with("settings recorded, not used by the test: "))
        .unwrap();
    assert!(!recorded.contains("stress_testing"), "{recorded}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let runs = json["runs"].as_array().unwrap();
    let steps: Vec<(&str, u64)> = runs
        .iter()
        .filter(|r| r["label"].as_str().unwrap().starts_with("connections-"))
        .map(|r| {
            (
                r["label"].as_str().unwrap(),
                r["concurrency"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("connections-1", 1),
            ("connections-1", 1),
            ("connections-2", 2),
            ("connections-2", 2),
            ("connections-3", 3),
            ("connections-3", 3),
            ("connections-hold-3", 3),
        ],
        "{steps:?}"
    );
    let hold = runs.last().unwrap();
    assert!(hold["elapsed_s"].as_f64().unwrap() >= 2.9, "{hold}");
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "stress_error_rate")
        .unwrap();
    assert_eq!(
        check["samples"],
        hold["ok"].as_u64().unwrap() + hold["errors"].as_u64().unwrap()
    );
    assert!(check["samples"].as_u64().unwrap() > 0, "{check}");
    let note = check["note"].as_str().unwrap();
    assert!(
        note.contains("3 connections")
            && note.contains("held 3 s")
            && note.contains("by Little's law"),
        "{note}"
    );
}

#[test]
fn validate_checks_the_cache_with_a_real_redis_and_fails_clearly_without_one() {
    use qdrant_perf_testkit::redis::RedisServer;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // The file's cache_ttl is the cache's TTL (no --cache-ttl given).
    let config = tiny_config(dir.path(), |t| {
        t.replace("cache_ttl: 3600", "cache_ttl: 60")
            .replace("l1_cache_size: \"2GB\"", "l1_cache_size: \"64MB\"")
    });
    let redis = RedisServer::start().expect("redis-server (Debian package redis-server)");
    let run_with = |out: &str, url: &str, mode: &str| {
        let mut cmd = bin();
        cmd.args(quick_validate("1s"))
            .args([
                "--target",
                "edge",
                "--collections",
                "tiny16",
                "--cache",
                mode,
            ])
            .arg("--config")
            .arg(&config)
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--out")
            .arg(dir.path().join(out))
            .env("REDIS_URL", url)
            .env_remove("QDRANT_URL");
        run(&mut cmd)
    };
    let (code, stdout, stderr) = run_with("cached", &redis.url(), "required");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cached/report.json")).unwrap())
            .unwrap_or_else(|e| panic!("no report ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(json["verdict"]["exit_code"], code, "{stdout}\n{stderr}");
    assert_eq!(code, code_of_table(&stdout), "{stdout}");
    let check = |name: &str| {
        json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    // Zipf(1.0) over 50 distinct queries, 500 requests, from an empty cache: every query's
    // first request misses, the rest hit. So exactly the repeats hit, whatever the machine.
    let hit = check("cache_hit_rate");
    assert_eq!(hit["samples"], 500, "{hit}");
    assert!(hit.to_string().contains("TTL 60 s"), "{hit}");
    // ... and its l1_cache_size the in-process tier's room.
    assert!(
        hit.to_string().contains("in-process tier 64.00 MiB"),
        "{hit}"
    );
    let measured = hit["measured"].as_f64().unwrap();
    assert!(measured > 80.0 && measured < 100.0, "{hit}");
    assert_eq!(hit["passed"], measured > 90.0, "{hit}");
    let latency = check("cache_latency");
    assert_eq!(latency["samples"], 500, "{latency}");
    assert!(latency["measured"].as_f64().unwrap() > 0.0, "{latency}");

    // Redis not there: required is an error naming REDIS_URL; optional runs without the checks.
    let dead = format!("redis://127.0.0.1:{}", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    let (code, stdout, stderr) = run_with("dead", &dead, "required");
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&dead) || stderr.contains("REDIS_URL"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run_with("optional", &dead, "optional");
    assert_eq!(code, code_of_table(&stdout), "{stdout}\n{stderr}");
    assert!(stderr.contains("warning"), "{stderr}");
    assert!(
        stdout.contains("not run: the cache was not reachable"),
        "{stdout}"
    );
}

/// The names of the server's collections.
fn collections_on(port: u16) -> Vec<String> {
    let body = qdrant_perf_testkit::http_body(port, "/collections").unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["result"]["collections"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_validation_failing_after_setup_drops_the_collections_it_created_on_the_server() {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let Some(qdrant) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    let server = qdrant_perf_testkit::qdrant::LocalServer::start(Path::new(&qdrant), None)
        .expect("QDRANT_BIN is set but the server did not start");
    let port = server.http_port;
    // Someone else's collection (no perf_ prefix): the run must leave it alone.
    let (status, body) = http_json(
        port,
        "PUT",
        "/collections/foreign_kept",
        r#"{"vectors": {"size": 4, "distance": "Cosine"}}"#,
    );
    assert_eq!(status, 200, "{body}");
    // Watch the server's collection list while the run goes on.
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, done) = (seen.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                seen.lock().unwrap().extend(collections_on(port));
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    // A gateway nobody listens on: checked after the collections were set up and measured.
    let dead = format!(
        "http://127.0.0.1:{}/api/v1/vectors/search",
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(dir.path(), |t| t);
    let mut cmd = bin();
    cmd.args(quick_validate("1s"))
        .args([
            "--target",
            &server.grpc_url(),
            "--gateway",
            &dead,
            "--config",
        ])
        .arg(&config)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(dir.path().join("run"))
        .env_remove("QDRANT_URL")
        .env_remove("QDRANT_PERF_KEEP");
    let (code, stdout, stderr) = run(&mut cmd);
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&dead) && stderr.contains("cannot reach"),
        "{stderr}"
    );
    let seen = seen.lock().unwrap().clone();
    for name in ["perf_tiny16", "perf_tiny32"] {
        assert!(
            seen.contains(name),
            "{name} was on the server during the run: {seen:?}"
        );
        assert!(stderr.contains(&format!("dropped {name}")), "{stderr}");
    }
    let after = collections_on(port);
    assert!(
        !after.iter().any(|n| n.starts_with("perf_")),
        "the run's collections are gone: {after:?}"
    );
    assert!(after.iter().any(|n| n == "foreign_kept"), "{after:?}");
}

#[test]
fn plan_of_the_bundled_file_prints_the_deployment_at_9m_and_100m() {
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/performance-tests.yaml"
    );
    let (code, stdout, stderr) =
        run(bin().args(["plan", "--config", config, "--node-price", "500"]));
    assert_eq!(code, 0, "{stderr}");
    let deployment = &stdout[stdout
        .find("## Deployment: all collections on shared nodes")
        .unwrap_or_else(|| panic!("no deployment section in {stdout}"))..];
    // After the nine per-collection tables.
    assert!(stdout.find("### mixtral").unwrap() < stdout.find("## Deployment").unwrap());
    for needle in [
        "$500.00 per node per month",
        "load: Σ query_load 9000 QPS; targets.throughput 10000 QPS sustained; peak 15000 QPS",
        "cores needed: n/a (pass --measured FILE",
        "### 9,000,000 vectors (test_vectors",
        "### 100,000,000 vectors (targets.scalability, in proportion to test_vectors",
        "mixtral 11,111,112, hermes 11,111,111",
        "| storage | shards | copies | nodes | nodes (rule) | nodes for cores | RAM used / provisioned | disk used / provisioned | $/month | $/M queries |",
        // Hand-checked in the tune unit tests: 6 nodes at 9M, 56 at 100M (float32 in RAM).
        "| float32, vectors in RAM | 9 | 18 | 6 | 8 | n/a | 210.12 GiB / 384.00 GiB | 210.12 GiB / 12.00 TiB | $3,000.00 | $0.1157 |",
        "| float32, vectors in RAM | 28 | 56 | 56 | 70 | n/a | 2.28 TiB / 3.50 TiB | 2.28 TiB / 112.00 TiB | $28,000.00 | $1.0802 |",
        "25,920 million",
    ] {
        assert!(
            deployment.contains(needle),
            "{needle:?} not in {deployment}"
        );
    }
    // JSON carries the same plan.
    let (code, stdout, stderr) = run(bin().args(["plan", "--config", config, "--json"]));
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["plans"].as_array().unwrap().len(), 9);
    assert_eq!(v["deployment"]["sizes"][1]["vectors"], 100_000_000);
    assert_eq!(v["deployment"]["sizes"][1]["options"][0]["nodes"], 56);

    // Bad input: exit 2, naming the flag.
    for (args, needle) in [
        (
            vec!["--split", "mixtral=0.5,hermes=0.4"],
            "--split = mixtral=0.5,hermes=0.4: the fractions add up to 0.9, not 1",
        ),
        (
            vec!["--split", "mixtral=0.5,nope=0.5"],
            "--split = nope: unknown collection `nope`",
        ),
        (vec!["--split", "mixtral"], "--split"),
        (vec!["--node-price", "0"], "--node-price = 0"),
        (vec!["--node-ram", "10MiB"], "--node-ram = 10.00 MiB"),
        (
            vec!["--replication", "3", "--max-nodes", "2"],
            "--replication = 3",
        ),
    ] {
        let (code, _, stderr) = run(bin().args(["plan", "--config", config]).args(&args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
    // The deployment flags need --config.
    let (code, _, stderr) =
        run(bin().args(["plan", "--vectors", "1M", "--dim", "8", "--split", "a=1"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--config"), "{stderr}");
}

#[test]
fn a_scale_json_feeds_plan_and_validate_and_its_fits_are_back_tested() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let results = dir.path().join("results");
    let scale = |extra: &[&str]| {
        run(bin()
            .args([
                "scale",
                "--dim",
                "16",
                "--queries",
                "50",
                "--m",
                "8",
                "--ef-construct",
                "32",
                "--ef",
                "32",
            ])
            .args(extra)
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--out")
            .arg(&results)
            .env_remove("QDRANT_URL"))
    };
    let (code, stdout, stderr) = scale(&["--steps", "1000,2000,4000"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for needle in [
        "| storage |",
        "|   4000 | ram     |",
        "fits over the 3 steps with ram storage (N = 1k, 2k, 4k)",
        "p50 latency ≈ ",
        "back-test: fitted on N ≤ 2k, predicts ",
        "at N = 4k, measured ",
        "; extrapolation to N = 100M: ",
        "build time ≈ ",
        "(extrapolations to N = 100M are not measurements",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
    let json_path = results.join("scale-16d.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json["storage"], "auto");
    assert_eq!(json["predict"], 100_000_000);
    for fit in [
        "p50_ms_vs_ln_n",
        "p99_ms_vs_ln_n",
        "ram_bytes_vs_n",
        "disk_bytes_vs_n",
        "build_seconds_vs_n",
    ] {
        let f = &json["growth"][fit];
        assert_eq!(f["backtest"]["points"], 4000, "{fit}: {f}");
        assert_eq!(
            f["backtest"]["fitted_on"],
            serde_json::json!([1000, 2000]),
            "{fit}"
        );
        let (p, m) = (
            f["backtest"]["predicted"].as_f64().unwrap(),
            f["backtest"]["measured"].as_f64().unwrap(),
        );
        let e = f["backtest"]["relative_error"].as_f64().unwrap();
        assert!((e - (p - m) / m).abs() < 1e-9, "{fit}: {f}");
        assert_eq!(f["extrapolation"]["label"], "extrapolation");
        assert_eq!(f["extrapolation"]["backtest_relative_error"], e, "{fit}");
    }

    // plan reads it: the deployment's cores come from its measured QPS.
    let bundled = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/performance-tests.yaml"
    );
    let (code, stdout, stderr) = run(bin()
        .args(["plan", "--config", bundled, "--measured"])
        .arg(&json_path));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("## Deployment: all collections on shared nodes"),
        "{stdout}"
    );
    assert!(stdout.contains("### 100,000,000 vectors"), "{stdout}");
    assert!(
        stdout.contains("(scale, graph files at N=4000)"),
        "{stdout}"
    );
    assert!(!stdout.contains("cores needed: n/a"), "{stdout}");

    // validate: the scalability row is extrapolated from it, with the figures and errors; the
    // exit code still follows the missed checks only.
    let config = tiny_config(dir.path(), |t| t);
    let measured = json_path.to_str().unwrap();
    let out = dir.path().join("run");
    let (code, stdout, stderr) =
        validate_quick(&config, &cache, &out, &["--measured", measured, "--strict"]);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("scalability"))
        .unwrap_or_else(|| panic!("no scalability row in\n{stdout}"));
    for needle in [
        "4,000 vectors",
        ">= 100,000,000 vectors",
        "extrapolated (extrapolation from",
        "(measured up to 4000 vectors at 16 d, ram storage) to 100000000 vectors",
        "p50 ",
        "back-test error ",
    ] {
        assert!(row.contains(needle), "{needle:?} not in {row}");
    }
    assert!(stdout.contains(", 1 extrapolated"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "scalability")
        .unwrap();
    assert_eq!(check["verdict"], "extrapolated");
    assert!(check["passed"].is_null());
    assert_eq!(check["measured"], 4000.0);
    // Under --strict the checks that did not run (cache, gateway...) still make it 1; the
    // extrapolated row is not among them.
    let (_, missed, not_run) = verdicts(&stdout);
    assert_eq!(
        code,
        i32::from(missed > 0 || not_run > 0),
        "{stdout}\n{stderr}"
    );
    assert!(
        std::fs::read_to_string(out.join("summary.md"))
            .unwrap()
            .contains("**extrapolated** (extrapolation from")
    );

    // A fixed storage labels every step with it.
    let (code, stdout, stderr) = scale(&["--steps", "1000,2000", "--storage", "int8"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("|   1000 | int8    |") && stdout.contains("|   2000 | int8    |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("back-test: n/a (needs three sizes)"),
        "{stdout}"
    );

    // Bad input: exit 2 before any work, naming the flag and the fix.
    let sweep_json = dir.path().join("not-scale.json");
    std::fs::write(&sweep_json, r#"{"kind": "qdrant-perf sweep"}"#).unwrap();
    for (args, needle) in [
        (
            vec![
                "validate",
                "--quick",
                "--measured",
                "/nonexistent/scale.json",
            ],
            "--measured /nonexistent/scale.json",
        ),
        (
            vec![
                "validate",
                "--quick",
                "--measured",
                sweep_json.to_str().unwrap(),
            ],
            "expected \"qdrant-perf scale\"",
        ),
        (
            vec!["scale", "--storage", "ssd"],
            "expected auto, ram, disk, int8 or binary",
        ),
        (vec!["scale", "--predict", "0"], "--predict 0"),
    ] {
        let (code, _, stderr) = run(bin().args(&args).env_remove("QDRANT_URL"));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
}

/// A stand-in for the deployment's API gateway on 127.0.0.1 (keep-alive, a thread per
/// connection): `GET /api/v1/health`, `GET /api/v1/collections`, `POST /api/v1/vectors/search`
/// (a body with a vector) and `POST /graphql` (a body with a query), each answering 401 unless
/// the request carries `authorization: Bearer <token>`, 404 for anything else. Returns its base
/// URL and the requests it answered, as "METHOD PATH STATUS" lines.
fn gateway_with_token(
    token: &'static str,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let gateway = StandIn::start(move |r| {
        let authorized = r.has_header("authorization", &format!("Bearer {token}"));
        let (status, answer) = match (authorized, r.method.as_str(), r.path.as_str()) {
            (false, _, _) => ("401 Unauthorized", r#"{"error":"unauthorized"}"#),
            (true, "GET", "/api/v1/health") => ("200 OK", r#"{"status":"ok"}"#),
            (true, "GET", "/api/v1/collections") => ("200 OK", r#"{"collections":["deepcoder"]}"#),
            (true, "POST", "/api/v1/vectors/search") if r.body.contains("[") => {
                ("200 OK", r#"{"results":[{"id":1}]}"#)
            }
            (true, "POST", "/graphql") if r.body.contains("\"query\"") => {
                ("200 OK", r#"{"data":{"health":"ok"}}"#)
            }
            _ => ("404 Not Found", "{}"),
        };
        log.lock()
            .unwrap()
            .push(format!("{} {} {}", r.method, r.path, &status[..3]));
        Answer::json(status, answer)
    });
    (gateway.base().to_string(), seen)
}

#[test]
fn a_mixed_run_over_four_gateway_endpoints_reports_each_apart_and_never_shows_the_token() {
    const TOKEN: &str = "s3cr3t-token-4f1e";
    let (base, seen) = gateway_with_token(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let bodies = dir.path().join("graphql.jsonl");
    std::fs::write(
        &bodies,
        "{\"query\": \"{ health }\"}\n\n{\"query\": \"{ collections { name } }\"}\n",
    )
    .unwrap();
    let endpoints = dir.path().join("endpoints.txt");
    std::fs::write(
        &endpoints,
        format!(
            "# the gateway's checks\nsearch 2 POST /api/v1/vectors/search {{\"vector\": {{{{vector}}}}, \"limit\": {{{{k}}}}}}\ngraphql 1 POST /graphql @{}\n",
            bodies.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("run");
    let (code, stdout, stderr) = run(bin()
        .args([
            "load",
            "--http",
            &base,
            "--header",
            &format!("Authorization: Bearer {TOKEN}"),
            "--endpoint",
            "health 1 GET /api/v1/health",
            "--endpoint",
            "collections 1 get /api/v1/collections",
            "--endpoints",
        ])
        .arg(&endpoints)
        .args([
            "--ids-pointer",
            "/results",
            "--concurrency",
            "4",
            "--duration",
            "1s",
            "--warmup",
            "0",
            "--points",
            "200",
            "--queries",
            "10",
            "--quiet",
            "--cache-dir",
        ])
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(&out));
    assert_eq!(code, code_of_table(&stdout), "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let run0 = &report["runs"][0];
    assert_eq!(run0["errors"], 0, "{stdout}");
    let ops = run0["operations"].as_array().unwrap();
    let ok = |name: &str| {
        let o = ops
            .iter()
            .find(|o| o["collection"] == name)
            .unwrap_or_else(|| panic!("no row for {name}: {stdout}"));
        assert!(stdout.contains(&format!("search/{name} ")), "{stdout}");
        o["ok"].as_u64().unwrap()
    };
    let (health, collections, search, graphql) =
        (ok("health"), ok("collections"), ok("search"), ok("graphql"));
    assert_eq!(ops.len(), 4, "{stdout}");
    assert!(health > 10 && collections > 10 && graphql > 10, "{stdout}");
    // Weights 1:1:2:1: search gets twice the share of each other endpoint.
    let ratio = search as f64 / health as f64;
    assert!(
        (1.6..2.4).contains(&ratio),
        "search {search} health {health}"
    );
    // Recall only where the body carried a held-out query.
    let recall =
        |name: &str| &ops.iter().find(|o| o["collection"] == name).unwrap()["recall_at_10"];
    assert!(recall("search").is_object(), "{}", recall("search"));
    assert!(recall("health").is_null());
    // The gateway saw every endpoint, each request authorized (the header went with all).
    let seen = seen.lock().unwrap().clone();
    for line in [
        "GET /api/v1/health 200",
        "GET /api/v1/collections 200",
        "POST /api/v1/vectors/search 200",
        "POST /graphql 200",
    ] {
        assert!(
            seen.iter().any(|s| s == line),
            "{line} not in {:?}",
            &seen[..5]
        );
    }
    assert!(
        seen.iter().all(|s| s.ends_with(" 200")),
        "{:?}",
        seen.iter().find(|s| !s.ends_with(" 200"))
    );
    // The token: nowhere in the output or the run directory.
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    let files = files_under(&out);
    assert!(files.len() >= 2, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token is in {}",
            f.display()
        );
    }
    // A header the CLI refuses is an error (exit 2) that does not show its value either.
    let (code, _, stderr) = run(bin().args([
        "load",
        "--http",
        &base,
        "--method",
        "GET",
        "--header",
        &format!("Authorization Bearer {TOKEN}"),
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--header") && !stderr.contains(TOKEN),
        "{stderr}"
    );
    // Without the token the gateway says 401, and the run does not start.
    let (code, _, stderr) = run(bin().args([
        "load",
        "--http",
        &format!("{base}/api/v1/health"),
        "--method",
        "GET",
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("HTTP 401"), "{stderr}");
}

fn dataset_fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/datasets")
        .join(rel)
}

#[test]
fn sweep_runs_end_to_end_on_a_parquet_dataset_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut cmd = bin();
    cmd.args(["sweep", "--dataset"])
        .arg(dataset_fixture("deepcoder-768-parquet"))
        .args([
            "--metric",
            "cosine",
            "--m",
            "8",
            "--ef-construct",
            "16",
            "--ef",
            "10,20",
            "--quantization",
            "none",
            "--threads",
            "1",
            "--url",
            "edge",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"));
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    // The dataset's own shape: 48 train vectors of 768 dimensions (mapped from the .fbin the
    // Parquet train set was converted to), its 6 test vectors, and
    // (no neighbours shipped) the exact truth computed and cached.
    assert!(
        stderr.contains("VectorDBBench Parquet, 48 train x 768d mapped, 6 test"),
        "{stderr}"
    );
    assert!(
        stderr.contains("exact truth computed and cached"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("sweep-768d-48.json")).expect("the sweep JSON"),
    )
    .unwrap();
    let points = json["points"].as_array().expect("points");
    assert_eq!(points.len(), 2, "{json}");
    for p in points {
        let recall = p["recall"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&recall) && recall > 0.5, "{p}");
    }
    assert!(stdout.contains("Pareto frontier"), "{stdout}");
}

#[test]
fn a_dataset_of_another_dimension_than_the_collections_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let h5 = dataset_fixture("deepcoder-768.hdf5");
    // validate's default: all nine collections; only deepcoder has 768 dimensions.
    let mut cmd = bin();
    cmd.args(["validate", "--quick", "--no-stress", "--dataset"])
        .arg(&h5)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .arg("--out")
        .arg(dir.path().join("report.json"));
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("--dataset"), "{stderr}");
    assert!(stderr.contains("dimension 768"), "{stderr}");
    assert!(stderr.contains("mixtral (4096d)"), "{stderr}");
    assert!(
        stderr.contains("collections of dimension 768: deepcoder"),
        "{stderr}"
    );
    assert!(!dir.path().join("report.json").exists());
    // load as one collection of another dimension: both dimensions named.
    let mut cmd = bin();
    cmd.args([
        "load",
        "--collections",
        "general",
        "--duration",
        "1s",
        "--dataset",
    ])
    .arg(&h5)
    .arg("--cache-dir")
    .arg(dir.path().join("cache"));
    let (code, _, stderr) = run(&mut cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("dimension 768") && stderr.contains("general (1536d)"),
        "{stderr}"
    );
    // A bad file: named, with the fix, exit 2.
    let mut cmd = bin();
    cmd.args(["dataset", "--dataset"])
        .arg(dataset_fixture("bad/nan"))
        .args(["--metric", "cosine", "--cache-dir"])
        .arg(dir.path().join("cache"));
    let (code, _, stderr) = run(&mut cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bad/nan/train.npy") && stderr.contains("train row 3"),
        "{stderr}"
    );
    // The dataset command on a good file prints the truth check.
    let mut cmd = bin();
    cmd.args(["dataset", "--profile", "deepcoder", "--dataset"])
        .arg(&h5)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"));
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("all 6 queries agree with the exact top-10 within ties"),
        "{stdout}"
    );
    // A file whose shipped top-10 is wrong for 2 of its 20 queries: the exact truth is used,
    // unless --keep-shipped-truth keeps the file's (then its recall is against unverified truth).
    for (keep, says) in [
        (false, "using the exact truth"),
        (true, "recall is against unverified truth"),
    ] {
        let mut cmd = bin();
        cmd.args(["dataset", "--metric", "cosine", "--dataset"])
            .arg(dataset_fixture("wrong-truth.hdf5"))
            .arg("--cache-dir")
            .arg(dir.path().join("cache"));
        if keep {
            cmd.arg("--keep-shipped-truth");
        }
        let (code, stdout, stderr) = run(&mut cmd);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.contains("2 of 20 queries (10.0%) disagree") && stdout.contains(says),
            "{stdout}"
        );
    }
}

#[test]
fn scale_runs_each_size_on_the_head_of_a_dataset_and_refuses_sizes_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let h5 = dataset_fixture("deepcoder-768.hdf5");
    let mut cmd = bin();
    cmd.args(["scale", "--dataset"])
        .arg(&h5)
        .args(["--steps", "20,30,48", "--max", "48", "--url", "edge"])
        .arg("--out")
        .arg(&out)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"));
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("the user's files"), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scale-768d.json")).unwrap()).unwrap();
    let steps: Vec<u64> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["points"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [20, 30, 48], "{json}");
    assert_eq!(json["metric"], "cosine", "{json}");
    // More than the 48 train vectors: refused before any work.
    let mut cmd = bin();
    cmd.args(["scale", "--dataset"])
        .arg(&h5)
        .args(["--steps", "20,100", "--max", "100", "--url", "edge"])
        .arg("--cache-dir")
        .arg(dir.path().join("cache"));
    let (code, _, stderr) = run(&mut cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("size 100 is more than the 48 train vectors"),
        "{stderr}"
    );
}
