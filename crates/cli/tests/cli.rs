//! The `qdrant-perf` binary end to end: `validate --quick` on the embedded engine with tiny
//! collections prints the verdict table, writes the report and exits 0/1 as documented; bad input
//! exits 2 with a message naming the problem; `load`, `stress` and `merge` on the no-op target.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BUNDLED: &str = include_str!("../../../fixtures/performance-tests.yaml");

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qdrant-perf"))
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run qdrant-perf");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A tiny HTTP/1.1 JSON server on 127.0.0.1 standing in for the API gateway's search endpoint
/// (keep-alive, one thread per connection). Returns its URL.
fn gateway() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/api/v1/vectors/search",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            std::thread::spawn(move || serve(sock));
        }
    });
    url
}

fn serve(mut sock: TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let (head_end, length) = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (i + 4, length);
            }
            match sock.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        while buf.len() < head_end + length {
            match sock.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        buf.drain(..head_end + length);
        // The body template was filled in: a JSON array where {{vector}} was.
        let (status, answer) = if body.contains("{{") || !body.contains("[") {
            ("400 Bad Request", "{}")
        } else {
            ("200 OK", r#"{"results":[{"id":1}]}"#)
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if sock.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The bundled config with its nine collections replaced by two tiny ones.
fn tiny_config(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let start = BUNDLED.find("  collections:").unwrap();
    let end = BUNDLED.find("  monitoring:").unwrap();
    let text = format!(
        "{}  collections:\n    tiny16:\n      vector_size: 16\n      test_vectors: 1000000\n      query_load: 1000\n    tiny32:\n      vector_size: 32\n      test_vectors: 1000000\n      query_load: 1000\n\n{}",
        &BUNDLED[..start],
        &BUNDLED[end..]
    );
    let path = dir.join("perf.yaml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

fn validate_quick(
    config: &Path,
    cache: &Path,
    out: &Path,
    extra: &[&str],
) -> (i32, String, String) {
    let mut cmd = bin();
    cmd.args([
        "validate",
        "--quick",
        "--quiet",
        "--no-stress",
        "--points",
        "500",
        "--queries",
        "50",
    ])
    .args([
        "--duration",
        "1s",
        "--overall-duration",
        "1s",
        "--target",
        "edge",
    ])
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

#[test]
fn validate_quick_on_edge_prints_the_verdict_table_and_exits_by_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let config = tiny_config(dir.path(), |t| t);
    let out = dir.path().join("run");
    fn row<'a>(stdout: &'a str, check: &str, collection: &str) -> Option<&'a str> {
        stdout.lines().find(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&check) && cells.get(1) == Some(&collection)
        })
    }
    let gateway = gateway();
    let (code, stdout, stderr) = validate_quick(&config, &cache, &out, &["--gateway", &gateway]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        row(&stdout, "gateway_latency", "overall")
            .unwrap()
            .contains(&format!("met (mean end to end through {gateway}")),
        "{stdout}"
    );
    assert!(stdout.contains("--quick: 500 points"), "{stdout}");
    assert!(
        row(&stdout, "latency_mean", "tiny16")
            .unwrap()
            .ends_with("met"),
        "{stdout}"
    );
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
    assert_eq!(json["verdict"]["exit_code"], 0);
    let checks = json["checks"].as_array().unwrap();
    assert!(
        checks.iter().any(|c| c["name"] == "latency_p95"
            && c["collection"] == "tiny16"
            && c["passed"] == true)
    );
    assert!(checks.iter().any(|c| c["name"] == "cache_hit_rate"
        && c["verdict"] == "not_run"
        && c["passed"].is_null()));
    // Four runs: each collection, overall (the headline figures), the gateway.
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[3]["label"], "gateway");
    assert_eq!(json["verdict"]["not_run"], 4);
    assert_eq!(runs[2]["label"], "overall");
    assert_eq!(json["requested_rate"], runs[2]["requested_rate"]);
    assert_eq!(json["throughput_ops_s"], runs[2]["throughput_ops_s"]);
    assert!(json["recall_at_10"]["value"].as_f64().unwrap() > 0.9);
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
        (
            vec!["load", "--collections", "nope"],
            "unknown collection `nope`",
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
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("requested 2000 ops/s"), "{stdout}");
    assert!(stdout.contains("within 1 %"), "{stdout}");
    assert!(stdout.contains("rate_achieved"), "{stdout}");
    let hlog = out.join("histograms/load.hlog");
    let (code, stdout, stderr) = run(bin().arg("merge").arg(&hlog).arg(&hlog));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("search/noop"), "{stdout}");
    assert!(
        stdout.contains("12000"),
        "two logs of 6000 samples: {stdout}"
    );

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
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("knee: 3000"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("stress/report.json")).unwrap())
            .unwrap();
    assert_eq!(json["stress"]["steps"].as_array().unwrap().len(), 3);
    assert_eq!(json["checks"][0]["name"], "throughput_peak");
}

#[test]
fn validate_checks_the_cache_with_a_real_redis_and_fails_clearly_without_one() {
    use qdrant_perf_store::cache::redis_server::RedisServer;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let config = tiny_config(dir.path(), |t| t);
    let redis = RedisServer::start().expect("redis-server (Debian package redis-server)");
    let run_with = |out: &str, url: &str, mode: &str| {
        let mut cmd = bin();
        cmd.args([
            "validate",
            "--quick",
            "--quiet",
            "--no-stress",
            "--points",
            "500",
        ])
        .args([
            "--queries",
            "50",
            "--duration",
            "1s",
            "--overall-duration",
            "1s",
        ])
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
    assert!(code == 0 || code == 1, "{stdout}\n{stderr}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cached/report.json")).unwrap())
            .unwrap();
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
    assert!(code == 0 || code == 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("not run: the cache was not reachable"),
        "{stdout}"
    );
}
