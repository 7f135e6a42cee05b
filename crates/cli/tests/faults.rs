//! Long work and parts that fail: what a run says when nobody watches a terminal, an index
//! that never turns green on a real Qdrant server (`QDRANT_BIN`), Redis lost mid-validate, a
//! full disk, and a load generator killed mid-run (its interval log and `qdrant-perf report`).

mod common;

use std::path::Path;

use common::{bin, files_under, run};
use qdrant_perf_testkit::http_body;
use qdrant_perf_testkit::qdrant::LocalServer;

/// The `progress: ` lines of `stderr`.
fn progress_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect()
}

#[test]
fn long_phases_print_plain_progress_lines_when_stderr_is_not_a_terminal() {
    // stderr is a pipe here, as in a CI log: the bars hide, the plain lines take their place.
    let cache = tempfile::tempdir().unwrap();
    let (code, _out, err) = run(bin()
        .args([
            "load",
            "--collections",
            "deepcoder",
            "--points",
            "5000",
            "--queries",
            "200",
            "--rate",
            "100",
            "--duration",
            "3s",
            "--warmup",
            "0s",
            "--out",
        ])
        .arg(cache.path().join("run"))
        .arg("--cache-dir")
        .arg(cache.path())
        .env("QDRANT_PERF_PROGRESS_SECS", "0.2"));
    // 0 or 1 by the run's verdict (a busy machine may miss the 1 %-of-rate check); 2 would be
    // a failed run.
    assert!(code == 0 || code == 1, "{err}");
    let lines = progress_lines(&err);
    // The index build (a spinner: its message and the time spent) ...
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("progress: building HNSW index of ") && l.contains("elapsed")),
        "no plain line of the index build:\n{err}"
    );
    // ... and the run itself, with the seconds done of the planned window.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/3 s") && l.contains("ops/s") && l.ends_with("elapsed")),
        "no plain line of the run:\n{err}"
    );
    // Bars with a size say done/total, the rate and the time left.
    for l in lines.iter().filter(|l| l.contains(" left, ")) {
        assert!(l.contains('/') && l.contains(" %), "), "{l}");
    }

    // Turned off with 0: none at all.
    let (code, _out, err) = run(bin()
        .args([
            "load",
            "--collections",
            "deepcoder",
            "--points",
            "5000",
            "--queries",
            "200",
            "--rate",
            "100",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--out",
        ])
        .arg(cache.path().join("run2"))
        .arg("--cache-dir")
        .arg(cache.path())
        .env("QDRANT_PERF_PROGRESS_SECS", "0"));
    assert!(code == 0 || code == 1, "{err}");
    assert!(progress_lines(&err).is_empty(), "{err}");
}

#[test]
fn an_index_that_never_turns_green_times_out_naming_the_last_state_and_drops_what_was_created() {
    let Some(qdrant) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    // An optimizer that never runs: the collection stays yellow with nothing indexed.
    let server = LocalServer::start_with_env(
        Path::new(&qdrant),
        &[("QDRANT__STORAGE__OPTIMIZERS__MAX_OPTIMIZATION_THREADS", "0")],
    )
    .expect("QDRANT_BIN is set but the server did not start");
    let out = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let (code, _out, err) = run(bin()
        .args(["load", "--target"])
        .arg(format!("grpc://127.0.0.1:{}", server.grpc_port))
        .arg("--metrics-url")
        .arg(format!("http://127.0.0.1:{}", server.http_port))
        .args([
            "--collections",
            "deepcoder",
            "--points",
            "2000",
            "--queries",
            "50",
            "--rate",
            "10",
            "--duration",
            "1s",
            "--index-timeout",
            "3s",
            "--out",
        ])
        .arg(out.path().join("run"))
        .arg("--cache-dir")
        .arg(out.path()));
    assert_eq!(
        code, 2,
        "a wait that timed out is an error (exit 2):\n{err}"
    );
    assert!(
        err.contains("did not finish indexing within 3 s"),
        "the error says it timed out and after how long:\n{err}"
    );
    assert!(
        err.contains("0 of 2000 vectors indexed") && err.contains("status yellow"),
        "the error names the last state seen:\n{err}"
    );
    assert!(
        err.contains("--index-timeout"),
        "the error names the fix:\n{err}"
    );
    // It gave up at its timeout, not at the 30 min default.
    assert!(started.elapsed().as_secs() < 600, "{:?}", started.elapsed());
    let collections = http_body(server.http_port, "/collections").expect("GET /collections");
    let v: serde_json::Value = serde_json::from_str(&collections).unwrap();
    assert_eq!(
        v["result"]["collections"].as_array().map(Vec::len),
        Some(0),
        "what the run created is dropped: {collections}"
    );
}

/// Keys in the Redis at `port` (`DBSIZE` over RESP), `None` when it does not answer.
fn redis_keys(port: u16) -> Option<u64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .ok()?;
    s.write_all(b"*1\r\n$6\r\nDBSIZE\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let reply = std::str::from_utf8(&buf[..n]).ok()?;
    reply.strip_prefix(':')?.trim().parse().ok()
}

#[test]
fn redis_lost_during_validates_cache_checks_makes_them_missed_with_the_reason() {
    use qdrant_perf_testkit::redis::RedisServer;
    use std::process::Stdio;
    let Some(mut redis) = qdrant_perf_testkit::started(RedisServer::start()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = bin()
        .args([
            "validate",
            "--quick",
            "--no-stress",
            "--quiet",
            "--collections",
            "deepcoder",
            "--queries",
            "1000",
            "--cache",
            "required",
            "--out",
        ])
        .arg(&out)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .env("REDIS_URL", redis.url())
        .env_remove("QDRANT_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The cache checks write their first results to Redis: kill it then, mid-check.
    let started = std::time::Instant::now();
    while redis_keys(redis.port()).unwrap_or(0) == 0
        && started.elapsed() < std::time::Duration::from_secs(600)
    {
        assert!(
            child.try_wait().unwrap().is_none(),
            "validate ended before its cache checks wrote to Redis"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    redis.kill();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a missed check, not a crash:\n{stdout}\n{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let checks = report["checks"].as_array().expect("checks");
    for name in ["cache_hit_rate", "cache_latency"] {
        let c = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check in {checks:?}"));
        assert_eq!(c["verdict"], "failed", "{c}");
        let note = c["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("the cache failed during the check") && note.contains("uncached"),
            "{c}"
        );
        assert!(
            c["measured"].is_number(),
            "the value stays beside the reason: {c}"
        );
    }
    // The searches went on: the latency checks of the collection ran and were judged.
    assert!(
        checks.iter().any(|c| c["name"] == "latency_mean"
            && c["collection"] == "deepcoder"
            && c["measured"].is_number()),
        "{checks:?}"
    );
}

/// A small tmpfs mounted for one test (needs root: `None`, with the reason printed, elsewhere);
/// unmounted when dropped.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self { dir }),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a small tmpfs (run as root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: no mount command: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_filesystem_is_an_error_naming_the_path_and_the_figures_are_still_printed() {
    // Reports: an 8 KB filesystem fills up while the run directory is written.
    let Some(small) = SmallFs::mount("8k") else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let run_dir = small.path().join("run");
    let (code, out, err) = run(bin()
        .args([
            "load",
            "--quiet",
            "--collections",
            "deepcoder",
            "--points",
            "2000",
            "--queries",
            "100",
            "--rate",
            "100",
            "--duration",
            "2s",
            "--out",
        ])
        .arg(&run_dir)
        .arg("--cache-dir")
        .arg(cache.path()));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains(&run_dir.display().to_string()) && err.contains("No space left on device"),
        "the error names the path and the cause:\n{err}"
    );
    assert!(
        err.contains("The filesystem is full") && err.contains("--out"),
        "and the fix:\n{err}"
    );
    // The error line (the interval log's warning, when the log filled the disk first, is
    // another line).
    let error = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line:\n{err}"));
    assert_eq!(
        error.matches("No space left on device").count(),
        1,
        "each cause once:\n{err}"
    );
    // What was measured is on the terminal all the same.
    assert!(
        out.contains("search/deepcoder")
            && out.contains("recall@10")
            && out.contains("latency_p95"),
        "the figures are printed before the report is written:\n{out}"
    );
    // Whatever file is there is whole: the writes are atomic.
    for f in files_under(&run_dir) {
        if f.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&f).unwrap();
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{} is half-written: {e}", f.display()));
        }
    }

    // Datasets: a 2 MB filesystem fills up in the middle of the points file (6 MB).
    let Some(small) = SmallFs::mount("2m") else {
        return;
    };
    let (code, _out, err) = run(bin()
        .args([
            "dataset",
            "--dim",
            "768",
            "--points",
            "2000",
            "--queries",
            "100",
        ])
        .arg("--cache-dir")
        .arg(small.path()));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&small.path().display().to_string())
            && err.contains("No space left on device")
            && err.contains("QDRANT_PERF_CACHE_DIR"),
        "{err}"
    );
    // No half-written dataset is left looking complete (nor at all).
    let left = files_under(small.path());
    assert!(
        left.iter()
            .all(|f| f.file_name().is_none_or(|n| n != "dataset.json")),
        "{left:?}"
    );
    assert!(left.is_empty(), "the partial files are removed: {left:?}");
    // And the next run with room makes it whole.
    let (code, out, err) = run(bin()
        .args([
            "dataset",
            "--dim",
            "768",
            "--points",
            "2000",
            "--queries",
            "100",
        ])
        .arg("--cache-dir")
        .arg(cache.path()));
    assert_eq!(code, 0, "{out}\n{err}");
}

/// The ok count of every closed second of `run` in an interval log (slot lines whose second has
/// its closing `second` line), and how many seconds were closed.
fn closed_seconds(log: &str, run: &str) -> (u64, usize) {
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["run"] == run)
        .collect();
    let closed: Vec<u64> = lines
        .iter()
        .filter(|l| l["type"] == "second")
        .map(|l| l["k"].as_u64().unwrap())
        .collect();
    let ok = lines
        .iter()
        .filter(|l| l["type"] == "slot" && closed.contains(&l["k"].as_u64().unwrap()))
        .map(|l| l["ok"].as_u64().unwrap())
        .sum();
    (ok, closed.len())
}

fn load_args(rate: &str, duration: &str) -> Vec<String> {
    [
        "load",
        "--quiet",
        "--collections",
        "deepcoder",
        "--points",
        "2000",
        "--queries",
        "100",
        "--rate",
        rate,
        "--duration",
        duration,
        "--warmup",
        "0s",
    ]
    .map(String::from)
    .to_vec()
}

/// The figures of a report's terminal text: without its `report:` line (the directory).
fn figures(stdout: &str) -> String {
    stdout
        .lines()
        .filter(|l| !l.starts_with("report: "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_load_killed_mid_run_leaves_every_completed_second_and_report_rebuilds_a_partial_report() {
    let cache = tempfile::tempdir().unwrap();
    let runs = tempfile::tempdir().unwrap();

    // A normal run: `report DIR` prints the figures the run printed, from its report.json.
    let done = runs.path().join("done");
    let (code, out, err) = run(bin()
        .args(load_args("100", "6s"))
        .arg("--out")
        .arg(&done)
        .arg("--cache-dir")
        .arg(cache.path()));
    assert!(code == 0 || code == 1, "{out}\n{err}");
    let log = std::fs::read_to_string(done.join("intervals.jsonl")).unwrap();
    assert!(log.starts_with("{\"type\":\"header\""), "{log}");
    let (code, again, err) = run(bin().arg("report").arg(&done));
    assert_eq!(code, 0, "{again}\n{err}");
    assert_eq!(figures(&again), figures(&out));
    assert!(
        std::fs::read_to_string(done.join("summary.md"))
            .unwrap()
            .contains("## Runs")
    );
    // Its interval log alone holds the same requests and percentiles.
    let json = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
    };
    let only_log = runs.path().join("only-log");
    std::fs::create_dir(&only_log).unwrap();
    std::fs::write(only_log.join("intervals.jsonl"), &log).unwrap();
    let (code, _, err) = run(bin().arg("report").arg(&only_log));
    assert_eq!(code, 0, "{err}");
    let (full, rebuilt) = (json(&done), json(&only_log));
    for figure in ["ok", "errors"] {
        assert_eq!(
            rebuilt["runs"][0][figure], full["runs"][0][figure],
            "{figure}"
        );
    }
    // `ci`: the error margins, from the same batches of seconds (6 s: six batches of 1 s).
    for p in ["samples", "p50_ms", "p99_ms", "max_ms", "ci"] {
        assert_eq!(
            rebuilt["runs"][0]["latency_ms"][p], full["runs"][0]["latency_ms"][p],
            "{p}"
        );
    }
    assert_eq!(full["runs"][0]["latency_ms"]["ci"]["batches"], 6, "{full}");
    let ci = &full["runs"][0]["latency_ms"]["ci"]["p99_ms"];
    let p99 = full["runs"][0]["latency_ms"]["p99_ms"].as_f64().unwrap();
    assert!(
        ci["low"].as_f64().unwrap() <= p99 && p99 <= ci["high"].as_f64().unwrap(),
        "{ci} around {p99}"
    );
    // Shown as `± x` under each figure in the terminal, and beside them in summary.md.
    assert!(out.contains("± 95 % (6×1 s)"), "{out}");
    let summary = std::fs::read_to_string(done.join("summary.md")).unwrap();
    assert!(
        summary.contains(" ± ") && summary.contains("by batch means"),
        "{summary}"
    );
    // `compare` of the run with itself: nothing changed, recall@10 compared by its value alone.
    let (code, table, err) = run(bin().arg("compare").arg(&done).arg(&done));
    assert_eq!(code, 0, "{table}\n{err}");
    let recall = table
        .lines()
        .find(|l| l.starts_with("| load/search/deepcoder/recall_at_10 (higher is better) |"))
        .unwrap_or_else(|| panic!("no recall row:\n{table}"));
    assert!(recall.contains("| exact values | unchanged |"), "{recall}");

    // A 15 s run killed with SIGKILL at its 7th second.
    let killed = runs.path().join("killed");
    let mut child = bin()
        .args(load_args("200", "15s"))
        .arg("--out")
        .arg(&killed)
        .arg("--cache-dir")
        .arg(cache.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log_path = killed.join("intervals.jsonl");
    let waited = std::time::Instant::now();
    // The recorded part begins with the run's line (setup takes as long as the machine needs).
    while !std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("{\"type\":\"run\"")) {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(600),
            "the run never started"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_secs(7));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join("report.json").exists());
    let log = std::fs::read_to_string(&log_path).unwrap();
    let (ok_in_log, seconds_in_log) = closed_seconds(&log, "load");

    let (code, out, err) = run(bin().arg("report").arg(&killed));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.starts_with("PARTIAL: rebuilt from intervals.jsonl"),
        "{out}"
    );
    assert!(
        out.contains("search/deepcoder") && out.contains("(PARTIAL"),
        "{out}"
    );
    let report = json(&killed);
    assert_eq!(report["partial"], true);
    let kept = report["rebuilt"]["seconds_kept"].as_u64().unwrap() as usize;
    println!(
        "SIGKILL at second 7 of a 15 s run at 200/s: {kept} seconds kept, {} requests",
        report["runs"][0]["ok"]
    );
    assert!((4..=8).contains(&kept), "{kept} seconds kept:\n{out}");
    assert_eq!(kept, seconds_in_log);
    let run0 = &report["runs"][0];
    assert_eq!(run0["timeline"].as_array().unwrap().len(), kept);
    assert_eq!(run0["ok"].as_u64().unwrap(), ok_in_log);
    let timeline_ok: u64 = run0["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ok"].as_u64().unwrap())
        .sum();
    assert_eq!(timeline_ok, ok_in_log);
    assert_eq!(run0["latency_ms"]["samples"].as_u64().unwrap(), ok_in_log);
    assert!(ok_in_log > 0);
    let md = std::fs::read_to_string(killed.join("summary.md")).unwrap();
    assert!(
        md.contains("PARTIAL") && md.contains("rebuilt from `intervals.jsonl`"),
        "{md}"
    );
    assert!(killed.join("histograms/load.hlog").is_file());
    // Rendered again, now from the rebuilt report.json: the same figures.
    let (code, again, err) = run(bin().arg("report").arg(&killed));
    assert_eq!(code, 0, "{err}");
    assert_eq!(figures(&again), figures(&out));

    // A directory with neither file.
    let (code, _, err) = run(bin().arg("report").arg(runs.path()));
    assert_eq!(code, 2);
    assert!(
        err.contains("neither report.json nor intervals.jsonl"),
        "{err}"
    );
}
