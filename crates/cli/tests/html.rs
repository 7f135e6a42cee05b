//! Every kind of page qdrant-perf writes, opened in a real headless browser (Debian's
//! `/usr/bin/chromium`, driven through the Chrome DevTools Protocol over its websocket): the
//! report.html of a `load`, a `stress` and a `validate` run, sweep's and scale's pages, the
//! comparison of two runs, and `cargo bench`'s summary page (`qdrant-perf.html`) of a set of
//! suite records written through the report crate as the suites write them. Each page must
//! load with no console error or exception and no network request but its own file:// URL, and
//! each chart must have the series and points that the data says it must (counted in the DOM
//! by their `data-series` marks; on the summary page also placed in the records' order); a
//! screenshot of each is kept under the run directory (`screenshots/<name>.png`). Skipped, with
//! a note, where chromium is absent.
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

use common::{bin, quick_validate, run, tiny_config};
use qdrant_perf_render::bench_summary;
use qdrant_perf_render::chart::spectrum_quantiles;
use qdrant_perf_render::report_html::PARTIAL_MIN_S;
use qdrant_perf_report::bench::{
    self, BenchSetup, QualityRecord, SearchMode, Selectivity, SuiteQuality,
};
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
    /// The summary page's suite sections, as [`SECTIONS_JS`] reads them (none on other pages).
    sections: Value,
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

/// Per `<section class="suite">` of the summary page: its id and suite, its shared-setup lines
/// (text, and whether the table comes after), its charts (caption, then per series each mark:
/// `[cx, cy, 0]` of a circle, `[x, y, height]` of a bar), its rows' ids, its setup cells.
const SECTIONS_JS: &str = r#"JSON.stringify([...document.querySelectorAll('section.suite')].map(s => {
  const table = s.querySelector('table');
  const after = (a, b) => !!a && !!b && !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  return {
    id: s.id,
    suite: s.getAttribute('data-suite'),
    shared: [...s.querySelectorAll('p.shared')].map(p => [p.textContent, after(p, table)]),
    charts: [...s.querySelectorAll('figure.chart')].map(f => {
      const m = new Map();
      f.querySelectorAll('circle[data-series], rect[data-series]').forEach(e => {
        const l = e.getAttribute('data-series');
        if (!m.has(l)) m.set(l, []);
        const n = a => parseFloat(e.getAttribute(a));
        m.get(l).push(e.tagName === 'circle' ? [n('cx'), n('cy'), 0] : [n('x'), n('y'), n('height')]);
      });
      return [f.querySelector('figcaption').textContent, [...m.entries()], after(f, table)];
    }),
    rows: [...s.querySelectorAll('tr[data-id]')].map(tr => tr.getAttribute('data-id')),
    setup_cells: [...s.querySelectorAll('td.setup')].map(td => td.textContent),
  };
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
    let read = cdp.call(
        s,
        "Runtime.evaluate",
        json!({"expression": SECTIONS_JS, "returnByValue": true}),
    );
    let sections: Value =
        serde_json::from_str(read["result"]["value"].as_str().expect("the sections")).unwrap();
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
        sections,
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
    // Each run's seconds, a last one shorter than PARTIAL_MIN_S (the drain after sending
    // stopped) left out: the page draws it neither at its rate nor as a drop.
    let timeline = |r: &Value| {
        let seconds = r["timeline"].as_array().unwrap();
        let mut previous = 0.0;
        let mut kept = Vec::new();
        for (i, s) in seconds.iter().enumerate() {
            let t = s["t"].as_f64().unwrap();
            let last = i + 1 == seconds.len();
            if !(last && t - previous < PARTIAL_MIN_S) {
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
                ("requested ops/s".into(), requested),
                ("achieved ops/s".into(), seconds),
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
    let quick = quick_validate("2s");
    let target = [
        "--target",
        "edge",
        "--config",
        config_arg,
        "--cache-dir",
        cache_arg,
    ];
    let args: Vec<&str> = quick.iter().map(String::as_str).chain(target).collect();
    qdrant_perf(&args, &validate);
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
            .args(["--cache-dir", cache_arg, "--out"])
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

// ---- cargo bench's summary page ------------------------------------------------------------

/// Writes criterion's files of benchmark `id` under `root` as criterion 0.8 does (its
/// `new/benchmark.json`, `new/estimates.json` with `mean` ns, its own page).
fn criterion_benchmark(root: &Path, id: &str, mean: f64) {
    let dir = root.join(id.replace('/', "_"));
    std::fs::create_dir_all(dir.join("new")).unwrap();
    std::fs::create_dir_all(dir.join("report")).unwrap();
    std::fs::write(
        dir.join("new/benchmark.json"),
        json!({"group_id": id, "function_id": null, "value_str": null, "throughput": null,
               "full_id": id, "directory_name": id.replace('/', "_"), "title": id})
        .to_string(),
    )
    .unwrap();
    let est = |p: f64| {
        json!({"confidence_interval": {"confidence_level": 0.95, "lower_bound": p * 0.97,
               "upper_bound": p * 1.03}, "point_estimate": p, "standard_error": p * 0.01})
    };
    std::fs::write(
        dir.join("new/estimates.json"),
        json!({"mean": est(mean), "median": est(mean), "median_abs_dev": est(mean * 0.01),
               "slope": null, "std_dev": est(mean * 0.02)})
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("report/index.html"), "<html></html>").unwrap();
}

/// The records of the latency, throughput, filtered, hnsw and groundtruth suites as the
/// suites record them (benches/*.rs: the same groups, ids, setup and notes), saved through the
/// report crate in an order that is not the page's, and criterion's files of each benchmark
/// (one, the driver's, recorded by no suite). Returns criterion's mean (ns) by id.
fn summary_fixture(root: &Path) -> std::collections::BTreeMap<String, f64> {
    let mut means = std::collections::BTreeMap::new();
    let mut measure = |id: &str, ns: f64| {
        criterion_benchmark(root, id, ns);
        means.insert(id.to_string(), ns);
    };
    let engine = "qdrant-edge 0.7.2 (embedded)";
    let base = |dim: usize| BenchSetup {
        points: Some(2000),
        dim: Some(dim),
        m: Some(16),
        ef_construct: Some(100),
        ..BenchSetup::default()
    };
    let mut latency = Vec::new();
    for (i, (name, dim)) in [("deepcoder", 768), ("imp", 2048), ("mixtral", 4096)]
        .into_iter()
        .enumerate()
    {
        for (group, mode, recall, ns) in [
            (
                "search",
                SearchMode::Hnsw,
                0.99 - 0.02 * i as f64,
                2.5e5 * (1.0 + i as f64),
            ),
            (
                "search_exact",
                SearchMode::ExactScan,
                1.0,
                1.5e6 * (1.0 + 2.0 * i as f64),
            ),
        ] {
            let mut setup = base(dim);
            setup.build_seconds = Some(1.2 + i as f64);
            setup.setup_seconds = Some(3.4 + i as f64);
            if group == "search" {
                setup.ef = Some(128);
            }
            latency.push(
                QualityRecord::new(group, Some(name), Some(&dim.to_string()))
                    .with_mode(mode)
                    .with_setup(setup)
                    .with_engine(engine)
                    .with_recall(10, recall, 200),
            );
            measure(&format!("{group}/{name}/{dim}"), ns);
        }
    }
    let mut throughput = Vec::new();
    for batch in [1usize, 16, 64, 256, 1024] {
        let mut upsert = BenchSetup {
            points: Some(2000),
            dim: Some(768),
            batch: Some(batch),
            ..BenchSetup::default()
        };
        throughput.push(
            QualityRecord::new("upsert", Some("deepcoder"), Some(&batch.to_string()))
                .with_setup(upsert.clone())
                .with_engine(engine)
                .with_note("unindexed collection; points: stored after the run"),
        );
        measure(
            &format!("upsert/deepcoder/{batch}"),
            4e4 * batch as f64 / (1.0 + (batch as f64).ln()),
        );
        upsert.ef = Some(128);
        throughput.push(
            QualityRecord::new("search_batch", Some("deepcoder"), Some(&batch.to_string()))
                .with_setup(BenchSetup {
                    m: Some(16),
                    ef_construct: Some(100),
                    ..upsert
                })
                .with_engine(engine)
                .with_recall(10, 0.985, 200)
                .with_note("recall of every held-out query, in batches of 256"),
        );
        measure(
            &format!("search_batch/deepcoder/{batch}"),
            2.4e5 * batch as f64 / (1.0 + 0.3 * (batch as f64).ln()),
        );
    }
    let mut filtered = Vec::new();
    for kind in ["keyword", "integer"] {
        for (index, indexed) in [("indexed", true), ("unindexed", false)] {
            for pct in ["0.1", "1", "10", "50", "100"] {
                let wanted: f64 = pct.parse::<f64>().unwrap() / 100.0;
                let measured = wanted * 1.02_f64.min(1.0 / wanted);
                filtered.push(
                    QualityRecord::new(&format!("filtered/{kind}"), Some(index), Some(pct))
                        .with_recall(10, if indexed { 0.98 } else { 0.93 }, 200)
                        .with_selectivity(Selectivity {
                            wanted,
                            measured,
                            matching: (measured * 2000.0).round() as usize,
                            condition: format!("{kind} <= {pct}"),
                        })
                        .with_setup(BenchSetup {
                            ef: Some(128),
                            payload_indexes: Some(indexed),
                            build_seconds: Some(2.0),
                            ..base(768)
                        })
                        .with_engine(engine)
                        .with_note(
                            "HNSW search with a filter: Qdrant's planner may answer a \
                             selective filter by scanning the matching points",
                        ),
                );
                // An integer range costs a little more than a keyword match.
                let cost = if kind == "integer" { 1.3 } else { 1.0 };
                let ns = cost
                    * if indexed {
                        2e5 + 1e5 * wanted
                    } else {
                        2e5 + 4e4 / wanted.sqrt()
                    };
                measure(&format!("filtered/{kind}/{index}/{pct}"), ns);
            }
        }
    }
    let mut hnsw = Vec::new();
    for m in [8usize, 16] {
        hnsw.push(
            QualityRecord::new("hnsw_build/768d", Some("efc100"), Some(&m.to_string()))
                .with_recall(10, 0.9 + m as f64 / 200.0, 200)
                .with_mode(SearchMode::Hnsw)
                .with_setup(BenchSetup {
                    m: Some(m),
                    ef: Some(128),
                    segments: Some(1),
                    build_seconds: Some(m as f64 / 10.0),
                    ..base(768)
                })
                .with_engine(engine)
                .with_note("recall of the last build, searched at ef=128"),
        );
        measure(&format!("hnsw_build/768d/efc100/{m}"), 1e8 * m as f64);
    }
    for (ef, recall) in [
        (16usize, 0.81),
        (32, 0.9),
        (64, 0.955),
        (128, 0.985),
        (256, 0.996),
    ] {
        hnsw.push(
            QualityRecord::new("hnsw_search/768d", None, Some(&ef.to_string()))
                .with_recall(10, recall, 200)
                .with_mode(SearchMode::Hnsw)
                .with_setup(BenchSetup {
                    ef: Some(ef),
                    segments: Some(1),
                    build_seconds: Some(1.6),
                    ..base(768)
                })
                .with_engine(engine),
        );
        measure(&format!("hnsw_search/768d/{ef}"), 9e4 + 1.8e3 * ef as f64);
    }
    let groundtruth = [768usize, 4096]
        .into_iter()
        .map(|dim| {
            QualityRecord::new("ground_truth", None, Some(&dim.to_string()))
                .with_setup(BenchSetup {
                    points: Some(2000),
                    dim: Some(dim),
                    ..BenchSetup::default()
                })
                .with_note("exact top-100 of 1000 queries (GEMM)")
        })
        .collect::<Vec<_>>();
    measure("ground_truth/768", 6e7);
    measure("ground_truth/4096", 3.1e8);
    measure("driver/record_latency", 89.0);
    for (suite, records) in [
        ("hnsw", hnsw),
        ("groundtruth", groundtruth),
        ("throughput", throughput),
        ("filtered", filtered),
        ("latency", latency),
    ] {
        bench::save_suite(root, suite, records).unwrap();
    }
    means
}

/// A chart's expected series: label, then each point `(x, y)` in the order drawn.
type Expected = Vec<(String, Vec<(f64, f64)>)>;

/// Series of points as they are gathered: label, then each point's `(order, x, y)`.
type Gathered = Vec<(String, Vec<(f64, f64, f64)>)>;

/// Appends point `p`, `(order, x, y)`, to series `label` of `out`.
fn push_point(out: &mut Gathered, label: String, p: (f64, f64, f64)) {
    match out.iter_mut().find(|(l, _)| *l == label) {
        Some((_, v)) => v.push(p),
        None => out.push((label, vec![p])),
    }
}

/// Each series' points by their order, as drawn.
fn sorted(series: Gathered) -> Expected {
    series
        .into_iter()
        .map(|(l, mut v)| {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            (l, v.into_iter().map(|(_, x, y)| (x, y)).collect())
        })
        .collect()
}

/// What each suite's chart must draw, from its records (as saved) and criterion's means, by
/// the rules docs/bench-summary.md gives: latency, mean ms against the dimension, a line per
/// group; throughput, elements per second (batch / mean) against the batch, a line per group
/// and collection; filtered, mean ms against the measured selectivity in %, a line per kind and
/// index (indexed first); hnsw, the searches' mean ms against their recall, in ef order;
/// another suite, a bar of mean time per benchmark.
fn expected_suite_chart(
    q: &SuiteQuality,
    means: &std::collections::BTreeMap<String, f64>,
) -> Expected {
    let mut out = Vec::new();
    for r in &q.records {
        let ms = means[&r.id] / 1e6;
        let value = || r.value.as_deref().unwrap().parse::<f64>().unwrap();
        match q.suite.as_str() {
            "latency" => push_point(&mut out, r.group.clone(), (value(), value(), ms)),
            "throughput" => {
                let b = value();
                let label = format!("{} {}", r.group, r.function.as_deref().unwrap());
                push_point(&mut out, label, (b, b, b / (ms / 1e3)));
            }
            "filtered" => {
                let kind = r.group.strip_prefix("filtered/").unwrap();
                let label = format!("{kind} {}", r.function.as_deref().unwrap());
                let pct = r.selectivity.as_ref().unwrap().measured * 100.0;
                push_point(&mut out, label, (pct, pct, ms));
            }
            "hnsw" if r.group.starts_with("hnsw_search") => {
                let recall = r.recall.unwrap().value;
                push_point(&mut out, r.group.clone(), (value(), recall, ms));
            }
            "hnsw" => {}
            _ => {
                let i = out.first().map_or(0, |(_, v)| v.len()) as f64;
                push_point(&mut out, "mean time".into(), (i, i, ms));
            }
        }
    }
    if q.suite == "filtered" {
        // Kinds as they came, indexed before unindexed.
        let kinds: Vec<String> = out
            .iter()
            .map(|(l, _)| l.split(' ').next().unwrap().to_string())
            .fold(Vec::new(), |mut k, x| {
                if !k.contains(&x) {
                    k.push(x);
                }
                k
            });
        out.sort_by_key(|(l, _)| {
            let (kind, index) = l.split_once(' ').unwrap();
            (kinds.iter().position(|k| k == kind), index != "indexed")
        });
    }
    sorted(out)
}

/// Checks that `marks` (per series: `[cx, cy, 0]` of circles, `[x, y, height]` of bars) draw
/// `want`: the same series with as many marks, placed as the data orders them: across the
/// whole chart a larger x is further right and a larger y higher (on any monotonic axis,
/// linear or log); a bar's height is in proportion to its value.
fn check_marks(suite: &str, marks: &Value, want: &Expected) {
    let got: Vec<(String, Vec<Vec<f64>>)> = serde_json::from_value(marks.clone()).unwrap();
    let labels = |v: &[(String, Vec<Vec<f64>>)]| -> Vec<(String, usize)> {
        v.iter().map(|(l, m)| (l.clone(), m.len())).collect()
    };
    let want_labels: Vec<(String, usize)> =
        want.iter().map(|(l, p)| (l.clone(), p.len())).collect();
    assert_eq!(labels(&got), want_labels, "{suite}");
    let bars = got.iter().flat_map(|(_, m)| m).any(|m| m[2] > 0.0);
    let pairs: Vec<((f64, f64), &Vec<f64>)> = want
        .iter()
        .zip(&got)
        .flat_map(|((_, p), (_, m))| p.iter().copied().zip(m))
        .collect();
    if bars {
        let top = pairs.iter().map(|(p, _)| p.1).fold(0.0, f64::max);
        let tallest = pairs.iter().map(|(_, m)| m[2]).fold(0.0, f64::max);
        for ((x, y), m) in &pairs {
            let height = y / top * tallest;
            assert!(
                (m[2] - height).abs() <= 1.5,
                "{suite}: bar {x} of {y} is {} px, not {height}",
                m[2]
            );
        }
        return;
    }
    let apart = |a: f64, b: f64| (a - b).abs() > 1e-6 * a.abs().max(b.abs());
    for (i, (p, m)) in pairs.iter().enumerate() {
        for (q, n) in &pairs[i + 1..] {
            if apart(p.0, q.0) {
                assert_eq!(
                    p.0 < q.0,
                    m[0] < n[0],
                    "{suite}: x of {p:?} and {q:?}: {m:?} {n:?}"
                );
            }
            if apart(p.1, q.1) && (m[1] - n[1]).abs() >= 1.0 {
                assert_eq!(
                    p.1 < q.1,
                    m[1] > n[1],
                    "{suite}: y of {p:?} and {q:?}: {m:?} {n:?}"
                );
            }
        }
    }
}

#[test]
fn the_bench_summary_page_orders_its_suites_says_their_setup_once_and_charts_each_from_its_records()
{
    let Some(chromium) = qdrant_perf_testkit::chromium() else {
        return;
    };
    let (_keep, work) = workdir();
    let root = work.join("criterion");
    let means = summary_fixture(&root);
    let (page, problems) = bench_summary::write_summary(&root).unwrap();
    assert!(problems.is_empty(), "{problems:?}");

    let browser = Chromium::start(&chromium);
    let mut cdp = Cdp::connect(&browser.ws_url);
    let shot = work.join("screenshots").join("bench-summary.png");
    let opened = open(&mut cdp, &page, &shot);
    if std::env::var_os("QDRANT_PERF_KEEP_PAGES").is_some() {
        eprintln!("bench summary: {}", shot.display());
    }
    let sections = opened.sections.as_array().unwrap();
    // The README's order, latency first; the benchmarks no suite recorded last.
    let ids: Vec<&str> = sections.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "suite-latency",
            "suite-throughput",
            "suite-filtered",
            "suite-hnsw",
            "suite-groundtruth",
            "unrecorded"
        ]
    );
    for section in &sections[..5] {
        let suite = section["suite"].as_str().unwrap();
        let q = SuiteQuality::load(&bench::suite_path(&root, suite)).unwrap();
        // One row per record, in the records' order.
        let record_ids: Vec<&str> = q.records.iter().map(|r| r.id.as_str()).collect();
        let rows: Vec<&str> = section["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(rows, record_ids, "{suite}");
        // What every record has alike, said once above the table, in no row's setup.
        let shared = section["shared"].as_array().unwrap();
        assert_eq!(shared.len(), 1, "{suite}: {shared:?}");
        let (line, before_table) = (shared[0][0].as_str().unwrap(), shared[0][1] == true);
        assert!(before_table, "{suite}: the shared line is below the table");
        let alike = |f: &dyn Fn(&QualityRecord) -> Option<String>| {
            let first = f(&q.records[0]);
            first.filter(|v| q.records.iter().all(|r| f(r).as_ref() == Some(v)))
        };
        let facts = [
            alike(&|r| r.setup.points.map(|p| format!("{p} points"))),
            alike(&|r| r.setup.dim.map(|d| format!("{d} d"))),
            alike(&|r| r.setup.m.map(|m| format!("m={m}"))),
            alike(&|r| r.setup.ef_construct.map(|e| format!("ef_construct={e}"))),
            alike(&|r| r.engine.clone()),
            alike(&|r| r.note.clone()),
        ];
        let facts: Vec<String> = facts.into_iter().flatten().collect();
        assert!(
            facts.len() >= 2,
            "{suite}: the fixture shares points and more"
        );
        let cells: Vec<&str> = section["setup_cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for fact in &facts {
            assert!(
                line.contains(fact.as_str()),
                "{suite}: {fact} not in {line}"
            );
            assert!(
                cells.iter().all(|c| !c.contains(fact.as_str())),
                "{suite}: {fact} repeated in a row: {cells:?}"
            );
        }
        // One chart, above the table, drawn from the records and criterion's means.
        let charts = section["charts"].as_array().unwrap();
        assert_eq!(charts.len(), 1, "{suite}: {charts:?}");
        assert!(
            charts[0][2] == true,
            "{suite}: the chart is below the table"
        );
        check_marks(suite, &charts[0][1], &expected_suite_chart(&q, &means));
    }
    // Criterion's benchmark no suite recorded: in the last table, with no chart.
    let unrecorded = &sections[5];
    assert_eq!(unrecorded["rows"], json!(["driver/record_latency"]));
    assert_eq!(unrecorded["charts"], json!([]));
    // Every figure of the page is a suite's.
    assert_eq!(opened.charts.len(), 5);
    drop(cdp);
    drop(browser);
}
