//! Every kind of page qdrant-perf writes, opened in a real headless browser (Debian's
//! `/usr/bin/chromium`, driven through the Chrome DevTools Protocol over its websocket): the
//! report.html of a `load`, a `stress` and a `validate` run. Each page must load with no console
//! error or exception and no network request but its own file:// URL, and each chart must have
//! the series and points that the run's report.json says it must (counted in the DOM by their
//! `data-series` marks); a screenshot of each is kept under the run directory
//! (`screenshots/<name>.png`). Skipped, with a note, where chromium is absent.
//! `QDRANT_PERF_KEEP_PAGES=1` keeps the run directories and prints where they are.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use common::{bin, run, tiny_config};
use qdrant_perf_report::chart::spectrum_quantiles;
use qdrant_perf_report::report_html::DRAIN_FRAGMENT_S;
use qdrant_perf_tune::sweep::pareto_frontier;

/// A headless chromium of this test: killed (and its profile removed) on every way out.
struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
    ws_url: String,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chromium {
    fn start(exe: &Path) -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(exe)
            .args([
                "--headless=new",
                "--remote-debugging-port=0",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads chromium's stderr to the end (so it never blocks on a full pipe), passing on
        // the DevTools URL.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let mut browser = Chromium {
            child,
            _profile: profile,
            ws_url: String::new(),
        };
        browser.ws_url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium said `DevTools listening on ws://...` on stderr within 60 s");
        browser
    }
}

/// The DevTools Protocol over one websocket (flattened sessions: one per page).
struct Cdp {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    /// Events read while waiting for an answer.
    events: Vec<Value>,
}

impl Cdp {
    fn connect(url: &str) -> Cdp {
        let (ws, _) = tungstenite::connect(url).expect("connect to chromium's DevTools");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        Cdp {
            ws,
            next: 0,
            events: Vec::new(),
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.ws.read().expect("read from chromium") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Close(_) => panic!("chromium closed the DevTools connection"),
                _ => continue,
            }
        }
    }

    /// Sends `method` (to page `session`, or the browser) and returns its result.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .expect("send to chromium");
        loop {
            let v = self.read();
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Waits (60 s at most) for event `method` of `session`.
    fn wait_event(&mut self, session: &str, method: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let seen = |e: &Value| e["method"] == method && e["sessionId"] == session;
        while !self.events.iter().any(seen) {
            assert!(Instant::now() < deadline, "no {method} within 60 s");
            let v = self.read();
            self.events.push(v);
        }
    }
}

/// What a page showed: its charts (caption, then each series' label and points, in page
/// order), and the problems the browser reported.
#[derive(Debug)]
struct Opened {
    charts: Vec<(String, Vec<(String, usize)>)>,
    /// Rows of the comparison table (`table#comparison`), its header left out.
    comparison_rows: usize,
    console_errors: Vec<String>,
    requests: Vec<String>,
}

/// Counts, per `<figure class="chart">`, the circles and bars of each `data-series`.
const COUNT_JS: &str = r#"JSON.stringify([...document.querySelectorAll('figure.chart')].map(f => {
  const m = new Map();
  f.querySelectorAll('[data-series]').forEach(e => {
    const l = e.getAttribute('data-series');
    if (!m.has(l)) m.set(l, 0);
    if (e.tagName === 'circle' || e.tagName === 'rect') m.set(l, m.get(l) + 1);
  });
  return [f.querySelector('figcaption').textContent, [...m.entries()]];
}))"#;

/// Opens `page` in a new tab, reads its charts, screenshots it to `shot`, closes the tab.
fn open(cdp: &mut Cdp, page: &Path, shot: &Path) -> Opened {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let target = cdp.call(None, "Target.createTarget", json!({"url": "about:blank"}));
    let target_id = target["targetId"].as_str().unwrap().to_string();
    let attached = cdp.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": target_id, "flatten": true}),
    );
    let session = attached["sessionId"].as_str().unwrap().to_string();
    let s = Some(session.as_str());
    for domain in ["Runtime", "Log", "Network", "Page"] {
        cdp.call(s, &format!("{domain}.enable"), json!({}));
    }
    cdp.call(
        s,
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    cdp.events.clear();
    cdp.call(s, "Page.navigate", json!({ "url": url }));
    cdp.wait_event(&session, "Page.loadEventFired");
    let counted = cdp.call(
        s,
        "Runtime.evaluate",
        json!({"expression": COUNT_JS, "returnByValue": true}),
    );
    let charts: Vec<(String, Vec<(String, usize)>)> =
        serde_json::from_str(counted["result"]["value"].as_str().expect("the counts")).unwrap();
    let rows = cdp.call(
        s,
        "Runtime.evaluate",
        json!({"expression": "document.querySelectorAll('#comparison tr').length", "returnByValue": true}),
    );
    let comparison_rows = n(&rows["result"]["value"]).saturating_sub(1);
    let metrics = cdp.call(s, "Page.getLayoutMetrics", json!({}));
    let height = metrics["cssContentSize"]["height"].as_f64().unwrap().ceil();
    let png = cdp.call(
        s,
        "Page.captureScreenshot",
        json!({"format": "png", "captureBeyondViewport": true,
               "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}}),
    );
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(png["data"].as_str().unwrap())
        .unwrap();
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    std::fs::write(shot, &bytes).unwrap();
    // A last round trip, so every event of the page is in.
    cdp.call(s, "Runtime.evaluate", json!({"expression": "1"}));
    let mine: Vec<&Value> = cdp
        .events
        .iter()
        .filter(|e| e["sessionId"] == session.as_str())
        .collect();
    let mut console_errors = Vec::new();
    let mut requests = Vec::new();
    for e in mine {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.exceptionThrown" => console_errors.push(p["exceptionDetails"].to_string()),
            "Runtime.consoleAPICalled"
                if matches!(p["type"].as_str(), Some("error" | "assert")) =>
            {
                console_errors.push(p["args"].to_string())
            }
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                console_errors.push(p["entry"]["text"].to_string())
            }
            "Network.requestWillBeSent" => {
                requests.push(p["request"]["url"].as_str().unwrap_or("").to_string())
            }
            _ => {}
        }
    }
    cdp.call(None, "Target.closeTarget", json!({ "targetId": target_id }));
    let opened = Opened {
        charts,
        comparison_rows,
        console_errors,
        requests,
    };
    assert!(
        opened.console_errors.is_empty(),
        "{}: {opened:?}",
        page.display()
    );
    assert!(
        opened.requests.iter().all(|r| *r == url),
        "{}: a request other than the page itself: {:?}",
        page.display(),
        opened.requests
    );
    assert!(
        std::fs::read(shot).unwrap().starts_with(b"\x89PNG"),
        "{}",
        shot.display()
    );
    opened
}

type Charts = Vec<(String, Vec<(String, usize)>)>;

/// Keeps the series with points (a series without any draws no mark).
fn chart(caption: &str, series: Vec<(String, usize)>) -> (String, Vec<(String, usize)>) {
    (
        caption.to_string(),
        series.into_iter().filter(|(_, n)| *n > 0).collect(),
    )
}

fn n(v: &Value) -> usize {
    v.as_u64().unwrap_or(0) as usize
}

/// The charts report.html must have, from report.json: the timeline (every run's seconds end
/// to end), the stress ramp, the spectrum, the per-collection bars.
fn expected(report: &Value) -> Charts {
    let runs = report["runs"].as_array().unwrap();
    // Each run's seconds, its empty drain fragment at the end left out (the page draws none).
    let timeline = |r: &Value| {
        let mut previous = 0.0;
        let mut kept = Vec::new();
        for s in r["timeline"].as_array().unwrap() {
            let t = s["t"].as_f64().unwrap();
            let empty = n(&s["ok"]) + n(&s["errors"]) == 0;
            if !(t - previous < DRAIN_FRAGMENT_S && empty) {
                kept.push(s.clone());
            }
            previous = t;
        }
        kept
    };
    let seconds: usize = runs.iter().map(|r| timeline(r).len()).sum();
    let with = |key: &str| -> usize {
        runs.iter()
            .flat_map(timeline)
            .filter(|s| !s[key].is_null())
            .count()
    };
    let requested: usize = runs
        .iter()
        .filter(|r| !r["requested_rate"].is_null())
        .map(|r| timeline(r).len())
        .sum();
    let mut out = vec![
        chart(
            "achieved vs requested rate",
            vec![
                ("achieved ops/s".into(), seconds),
                ("requested ops/s".into(), requested),
            ],
        ),
        chart(
            "client latency per second",
            vec![
                ("p50 ms".into(), with("p50_ms")),
                ("p99 ms".into(), with("p99_ms")),
            ],
        ),
        chart("errors per second", vec![("errors".into(), seconds)]),
    ];
    let stress = &report["stress"];
    if !stress.is_null() {
        let steps = stress["steps"].as_array().unwrap();
        let knee = stress["knee"].as_f64();
        let knee_step = steps.iter().find(|s| s["load"].as_f64() == knee);
        let sampled = |s: &Value| n(&s["latency_ms"]["samples"]) > 0;
        out.push(chart(
            "achieved rate per step",
            vec![
                ("achieved ops/s".into(), steps.len()),
                ("knee".into(), knee_step.map_or(0, |_| 1)),
            ],
        ));
        out.push(chart(
            "p99 per step",
            vec![
                ("p99 ms".into(), steps.iter().filter(|s| sampled(s)).count()),
                (
                    "knee".into(),
                    knee_step.filter(|s| sampled(s)).map_or(0, |_| 1),
                ),
            ],
        ));
        out.push(chart(
            "client latency spectrum per step (all queries)",
            runs.iter()
                .map(|r| {
                    let queries: u64 = r["operations"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|o| o["op"] != "upsert")
                        .map(|o| o["latency_ms"]["samples"].as_u64().unwrap())
                        .sum();
                    (
                        r["label"].as_str().unwrap().to_string(),
                        spectrum_quantiles(queries).len(),
                    )
                })
                .collect(),
        ));
        return out;
    }
    let ops = |r: &Value| r["operations"].as_array().unwrap().clone();
    let name = |o: &Value| {
        format!(
            "{} {}",
            o["op"].as_str().unwrap(),
            o["collection"].as_str().unwrap()
        )
    };
    for r in runs {
        let mut series = Vec::new();
        for o in ops(r) {
            let samples = |key: &str| o[key]["samples"].as_u64().unwrap_or(0);
            series.push((
                format!("{} client", name(&o)),
                spectrum_quantiles(samples("latency_ms")).len(),
            ));
            series.push((
                format!("{} server", name(&o)),
                spectrum_quantiles(samples("server_latency_ms")).len(),
            ));
        }
        let c = chart(
            &format!("latency spectrum, run {}", r["label"].as_str().unwrap()),
            series,
        );
        if !c.1.is_empty() {
            out.push(c);
        }
    }
    for r in runs.iter().filter(|r| ops(r).len() > 1) {
        let label = r["label"].as_str().unwrap();
        let sampled = ops(r)
            .iter()
            .filter(|o| n(&o["latency_ms"]["samples"]) > 0)
            .count();
        out.push(chart(
            &format!("latency per operation and collection, run {label}"),
            vec![
                ("mean".into(), sampled),
                ("p95".into(), sampled),
                ("p99".into(), sampled),
            ],
        ));
        out.push(chart(
            &format!("throughput per operation and collection, run {label}"),
            vec![("ops/s".into(), ops(r).len())],
        ));
    }
    out
}

/// The series of sweep's page, from its JSON: the points of each quantization, the frontier.
fn expected_sweep(json: &Value) -> Vec<Vec<(String, usize)>> {
    let points = json["points"].as_array().unwrap();
    let mut series = Vec::new();
    for q in ["none", "int8", "binary"] {
        let n = points
            .iter()
            .filter(|p| p["build"]["quantization"] == q)
            .count();
        series.push((format!("quantization {q}"), n));
    }
    let pairs: Vec<(f64, f64)> = points
        .iter()
        .map(|p| {
            (
                p["recall"].as_f64().unwrap(),
                p["qps_single"].as_f64().unwrap(),
            )
        })
        .collect();
    series.push(("Pareto frontier".into(), pareto_frontier(&pairs).len()));
    vec![chart("", series).1]
}

/// The series of scale's page, from its JSON: per chart, each figure per storage.
fn expected_scale(json: &Value) -> Vec<Vec<(String, usize)>> {
    let steps = json["steps"].as_array().unwrap();
    let mut storages: Vec<&str> = Vec::new();
    for s in steps {
        let name = s["storage"].as_str().unwrap();
        if !storages.contains(&name) {
            storages.push(name);
        }
    }
    let per = |label: &str, has: &dyn Fn(&Value) -> bool| -> Vec<(String, usize)> {
        storages
            .iter()
            .map(|st| {
                let n = steps
                    .iter()
                    .filter(|s| s["storage"] == *st && has(s))
                    .count();
                (format!("{label} ({st})"), n)
            })
            .collect()
    };
    let always = |_: &Value| true;
    let some = |key: &'static str| move |s: &Value| !s[key].is_null();
    [
        [per("p50", &always), per("p99", &always)].concat(),
        [
            per("RAM", &some("ram_bytes_per_vector")),
            per("disk", &some("disk_bytes_per_vector")),
        ]
        .concat(),
        per("recall", &always),
        per("build", &always),
    ]
    .into_iter()
    .map(|series| chart("", series).1)
    .collect()
}

fn report_json(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// Runs `qdrant-perf ARGS --out DIR`; asserts it exited by its checks (0 or 1).
fn qdrant_perf(args: &[&str], out: &Path) {
    let (code, stdout, stderr) = run(bin()
        .args(args)
        .arg("--out")
        .arg(out)
        .env_remove("QDRANT_URL"));
    assert!(code == 0 || code == 1, "{args:?}: {stdout}\n{stderr}");
    assert!(
        out.join("report.html").is_file(),
        "{args:?}: {stdout}\n{stderr}"
    );
}

/// Where the run directories go: a temporary directory, or one kept (and named) with
/// `QDRANT_PERF_KEEP_PAGES=1`.
fn workdir() -> (Option<tempfile::TempDir>, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os("QDRANT_PERF_KEEP_PAGES").is_some_and(|v| v == "1") {
        let path = dir.keep();
        eprintln!(
            "QDRANT_PERF_KEEP_PAGES=1: the run directories stay in {}",
            path.display()
        );
        (None, path)
    } else {
        let path = dir.path().to_path_buf();
        (Some(dir), path)
    }
}

#[test]
fn every_report_page_loads_offline_without_errors_and_draws_what_its_report_holds() {
    let Some(chromium) = qdrant_perf_testkit::chromium() else {
        return;
    };
    let (_keep, work) = workdir();
    let config = tiny_config(&work, |t| t);
    let config_arg = config.to_str().unwrap();
    let cache = work.join("cache");
    let cache_arg = cache.to_str().unwrap();
    // Two collections and two operations on the embedded engine: bars, and a spectrum each.
    let load = work.join("load");
    qdrant_perf(
        &[
            "load",
            "--target",
            "edge",
            "--config",
            config_arg,
            "--collections",
            "tiny16,tiny32",
            "--points",
            "500",
            "--queries",
            "50",
            "--cache-dir",
            cache_arg,
            "--rate",
            "200",
            "--mix",
            "search=80,upsert=20",
            "--duration",
            "6s",
            "--warmup",
            "0",
            "--quiet",
        ],
        &load,
    );
    let stress = work.join("stress");
    qdrant_perf(
        &[
            "stress",
            "--target",
            "noop",
            "--from",
            "200",
            "--to",
            "600",
            "--steps",
            "3",
            "--step-duration",
            "2s",
            "--warmup",
            "0",
            "--quiet",
            "--config",
            config_arg,
        ],
        &stress,
    );
    let validate = work.join("validate");
    qdrant_perf(
        &[
            "validate",
            "--quick",
            "--quiet",
            "--no-stress",
            "--points",
            "500",
            "--queries",
            "50",
            "--duration",
            "2s",
            "--overall-duration",
            "2s",
            "--target",
            "edge",
            "--config",
            config_arg,
            "--cache-dir",
            cache_arg,
        ],
        &validate,
    );
    // sweep and scale on the embedded engine, tiny: their pages beside their JSON and SVG.
    let results = work.join("results");
    let tuning = |args: &[&str]| {
        let (code, stdout, stderr) = run(bin()
            .args(args)
            .args([
                "--dim",
                "16",
                "--queries",
                "50",
                "--m",
                "8",
                "--ef-construct",
                "32",
            ])
            .args(["--cache-dir", cache_arg, "--out-dir"])
            .arg(&results)
            .env_remove("QDRANT_URL"));
        assert_eq!(code, 0, "{args:?}: {stdout}\n{stderr}");
    };
    tuning(&[
        "sweep",
        "--points",
        "1000",
        "--ef",
        "10,20",
        "--quantization",
        "none,int8",
        "--threads",
        "1",
    ]);
    tuning(&["scale", "--steps", "1000,2000", "--ef", "32"]);
    // `qdrant-perf report DIR` renders the same page again from report.json (the spectrum from
    // the interval log).
    let before = std::fs::read_to_string(load.join("report.html")).unwrap();
    std::fs::remove_file(load.join("report.html")).unwrap();
    let (code, stdout, stderr) = run(bin().arg("report").arg(&load));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let after = std::fs::read_to_string(load.join("report.html")).unwrap();
    assert_eq!(
        after.matches("data-series=").count(),
        before.matches("data-series=").count()
    );

    let browser = Chromium::start(&chromium);
    let mut cdp = Cdp::connect(&browser.ws_url);
    for (name, dir) in [
        ("load", &load),
        ("stress", &stress),
        ("validate", &validate),
    ] {
        let opened = open(
            &mut cdp,
            &dir.join("report.html"),
            &dir.join("screenshots").join(format!("{name}.png")),
        );
        let want = expected(&report_json(dir));
        assert_eq!(opened.charts, want, "{name}");
        assert!(!want.is_empty());
        if std::env::var_os("QDRANT_PERF_KEEP_PAGES").is_some() {
            eprintln!(
                "{name}: {}",
                dir.join("screenshots")
                    .join(format!("{name}.png"))
                    .display()
            );
        }
    }
    for (stem, want) in [
        (
            "sweep-16d-1000",
            expected_sweep as fn(&Value) -> Vec<Vec<(String, usize)>>,
        ),
        ("scale-16d", expected_scale),
    ] {
        let json: Value =
            serde_json::from_slice(&std::fs::read(results.join(format!("{stem}.json"))).unwrap())
                .unwrap();
        let opened = open(
            &mut cdp,
            &results.join(format!("{stem}.html")),
            &results.join("screenshots").join(format!("{stem}.png")),
        );
        let series: Vec<Vec<(String, usize)>> = opened.charts.into_iter().map(|(_, s)| s).collect();
        assert_eq!(series, want(&json), "{stem}");
    }
    // The comparison page of two runs: the rows `compare --json` gives.
    let page = work.join("compare.html");
    let (code, stdout, stderr) = run(bin()
        .arg("report")
        .arg(&load)
        .arg(&load)
        .arg("--out")
        .arg(&page));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (code, json, stderr) = run(bin().arg("compare").arg(&load).arg(&load).arg("--json"));
    assert_eq!(code, 0, "{stderr}");
    let rows = serde_json::from_str::<Value>(&json).unwrap()["rows"]
        .as_array()
        .unwrap()
        .len();
    let opened = open(
        &mut cdp,
        &page,
        &work.join("screenshots").join("compare.png"),
    );
    assert!(rows > 0);
    assert_eq!(opened.comparison_rows, rows);
    assert!(opened.charts.is_empty());
    drop(cdp);
    drop(browser);
}
