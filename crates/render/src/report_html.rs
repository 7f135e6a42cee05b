//! `report.html`: a run's [`Report`] as one self-contained page (the [`crate::html`] shell, the
//! charts of [`crate::chart`] inline), written by [`Report::write`] beside report.json. A pure
//! rendering of the report and, for the latency spectrum, of the run's histograms: those of the
//! report in memory (a run that just ended, a report rebuilt from its interval log), or, for a
//! report read back from report.json (which holds none), those of the run directory's interval
//! log ([`qdrant_perf_report::intervals::recover`]). What a run does not have (no per-second timeline, no
//! histograms) the page says instead of drawing an empty chart.
//!
//! Every drawn mark carries `data-series` (see [`crate::chart`]), so a test counts the series
//! and points of each chart in the browser's DOM.

use std::fmt::Write as _;
use std::path::Path;

use crate::chart::{self, Axis, Bars, Panel, Series};
use crate::html::{escape, facts_table, page, provenance_rows};
use crate::text::step_outcome;
use qdrant_perf_report::LatencySummary;
use qdrant_perf_report::checks::{Check, Verdict};
use qdrant_perf_report::intervals::{self, INTERVALS_FILE};
use qdrant_perf_report::margin::{Ci, with_margin};
use qdrant_perf_report::report::Report;
use qdrant_perf_report::run::RunResult;

/// The page's name in a run directory.
pub const REPORT_HTML: &str = "report.html";

/// One chart of a page: its caption and, per series, the points drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ChartCounts {
    caption: String,
    series: Vec<(String, usize)>,
}

/// The page of `report`, whose run directory is `dir` (for the interval log's histograms when
/// the report holds none).
pub fn render(report: &Report, dir: &Path) -> String {
    let charts = charts(report, dir);
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>qdrant-perf {}{}</h1>",
        escape(&report.command),
        if report.partial { " (partial)" } else { "" }
    );
    let _ = writeln!(
        b,
        "<p class=\"muted\">{} · {} · {} ({} cores) · {}</p>",
        escape(&target_text(report)),
        escape(&report.provenance.suite_version),
        escape(cpu_text(report)),
        report.provenance.machine.cores,
        escape(&report.provenance.started_at)
    );
    if let Some(q) = &report.quick {
        let _ = writeln!(b, "<p><b>Quick run:</b> {}</p>", escape(q));
    }
    if let Some(r) = &report.rebuilt {
        let _ = writeln!(
            b,
            "<p><b>Partial, rebuilt from <code>{}</code>:</b> the run ended without writing its report; {} complete seconds kept; no verdict.</p>",
            escape(&r.from),
            r.seconds_kept
        );
    }
    verdict_section(&mut b, report);
    b.push_str(&crate::stream::html(report));
    figures_section(&mut b, report);
    crate::settle::html_section(&mut b, report);
    for section in &charts {
        let _ = writeln!(b, "<h2>{}</h2>", escape(&section.heading));
        for note in &section.notes {
            let _ = writeln!(b, "<p class=\"muted\">{}</p>", escape(note));
        }
        for c in &section.charts {
            b.push_str(&c.html);
        }
    }
    provenance_section(&mut b, report);
    page(&format!("qdrant-perf {}", report.command), &b)
}

/// Per chart of `render(report, dir)`, in page order, its caption and each series' points.
#[cfg(test)]
fn expected_charts(report: &Report, dir: &Path) -> Vec<ChartCounts> {
    charts(report, dir)
        .into_iter()
        .flat_map(|s| s.charts)
        .map(|c| c.counts)
        .collect()
}

/// What the run drove: its kind, URL and engine version (`grpc http://h:6334 (qdrant 1.17.1)`).
pub(crate) fn target_text(r: &Report) -> String {
    let mut s = r.target.kind.clone();
    if let Some(u) = &r.target.url {
        let _ = write!(s, " {u}");
    }
    if let Some(v) = &r.target.engine_version {
        let _ = write!(s, " ({v})");
    }
    s
}

/// The machine's CPU model, or `unknown CPU`.
pub(crate) fn cpu_text(r: &Report) -> &str {
    r.provenance
        .machine
        .cpu_model
        .as_deref()
        .unwrap_or("unknown CPU")
}

/// Decimals of a figure in `unit`.
fn decimals(unit: &str) -> usize {
    match unit {
        "ms" => 3,
        "ops/s" => 1,
        "" => 4,
        _ => 2,
    }
}

/// The interval of the figure a check measured, when the report has one for exactly that value.
fn check_ci(report: &Report, c: &Check) -> Option<Ci> {
    let measured = c.measured?;
    let latency = |l: &LatencySummary| {
        let ci = l.ci?;
        let (v, ci) = match c.name.rsplit('_').next()? {
            "mean" => (l.mean_ms, ci.mean_ms),
            "p50" => (l.p50_ms, ci.p50_ms),
            "p95" => (l.p95_ms, ci.p95_ms),
            "p99" => (l.p99_ms, ci.p99_ms),
            _ => return None,
        };
        Some((v, ci))
    };
    let candidates: Vec<(f64, Ci)> = if c.name.starts_with("latency_") {
        if c.collection == "overall" {
            latency(&report.latency_ms).into_iter().collect()
        } else {
            report
                .runs
                .iter()
                .flat_map(|r| &r.operations)
                .filter(|o| o.op.is_query() && o.collection == c.collection)
                .filter_map(|o| latency(&o.latency_ms))
                .collect()
        }
    } else if c.unit == "ops/s" {
        let runs = report
            .runs
            .iter()
            .filter_map(|r| Some((r.throughput_ops_s, r.throughput_ci?)));
        let steps = report
            .stress
            .iter()
            .flat_map(|s| &s.steps)
            .filter_map(|s| Some((s.throughput_ops_s, s.throughput_ci?)));
        report
            .throughput_ci
            .map(|ci| (report.throughput_ops_s, ci))
            .into_iter()
            .chain(runs)
            .chain(steps)
            .collect()
    } else {
        Vec::new()
    };
    candidates
        .into_iter()
        .find(|(v, _)| (v - measured).abs() <= 1e-9 * measured.abs().max(1.0))
        .map(|(_, ci)| ci)
}

fn verdict_section(b: &mut String, report: &Report) {
    let _ = writeln!(b, "<h2>Verdict</h2>");
    if report.checks.is_empty() {
        let _ = writeln!(
            b,
            "<p class=\"muted\">No checks: {}</p>",
            if report.rebuilt.is_some() {
                "the checks are judged when a run ends, and this one did not."
            } else {
                "this run judged no targets."
            }
        );
        return;
    }
    b.push_str("<table id=\"verdict\" class=\"num\"><tr><th>check</th><th>collection</th><th>verdict</th><th>limit</th><th>measured</th><th>samples</th><th>note</th></tr>\n");
    for c in &report.checks {
        let class = match c.verdict {
            Verdict::Passed => "met",
            Verdict::Failed => "missed",
            Verdict::NotRun | Verdict::Extrapolated | Verdict::Figure => "notrun",
        };
        let measured = match c.measured {
            Some(v) => {
                let text = with_margin(v, check_ci(report, c), decimals(&c.unit));
                format!("{text} {}", c.unit).trim_end().to_string()
            }
            None => "-".into(),
        };
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.name),
            escape(&c.collection),
            escape(&c.verdict.to_string()),
            escape(&c.limit_text()),
            escape(&measured),
            c.samples.map_or("-".into(), |s| s.to_string()),
            escape(c.note.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table>\n");
    if let Some(v) = &report.verdict {
        let _ = writeln!(b, "<p>{}</p>", escape(&v.sentence()));
    }
}

fn latency_cells(l: &LatencySummary) -> String {
    let ci = l.ci;
    format!(
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
        with_margin(l.mean_ms, ci.map(|c| c.mean_ms), 3),
        with_margin(l.p50_ms, ci.map(|c| c.p50_ms), 3),
        with_margin(l.p95_ms, ci.map(|c| c.p95_ms), 3),
        with_margin(l.p99_ms, ci.map(|c| c.p99_ms), 3),
        l.samples
    )
}

/// Each run's and operation's figures with their margins (95 % intervals).
fn figures_section(b: &mut String, report: &Report) {
    let _ = writeln!(
        b,
        "<h2>Figures</h2>\n<p class=\"muted\">± is the half-width of the 95 % interval (batch means over the run's seconds); none where the run was too short for one. Latency in ms.</p>"
    );
    b.push_str("<table id=\"figures\" class=\"num\"><tr><th>run</th><th>operation</th><th>collection</th><th>requested</th><th>throughput ops/s</th><th>mean</th><th>p50</th><th>p95</th><th>p99</th><th>samples</th><th>errors</th><th>recall@10</th></tr>\n");
    for r in &report.runs {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>all queries</td><td></td><td>{}</td><td>{}</td>{}<td>{}</td><td>{}</td></tr>",
            escape(&r.label),
            r.requested_rate.map_or("-".into(), |x| format!("{x:.0}/s")),
            with_margin(r.throughput_ops_s, r.throughput_ci, 1),
            latency_cells(&r.latency_ms),
            r.errors,
            r.recall_at_10
                .map_or("-".into(), |x| format!("{:.4}", x.value))
        );
        for o in &r.operations {
            let _ = writeln!(
                b,
                "<tr><td></td><td>{}</td><td>{}</td><td></td><td>{}</td>{}<td>{}</td><td>{}</td></tr>",
                o.op.name(),
                escape(&o.collection),
                with_margin(o.throughput_ops_s, o.throughput_ci, 1),
                latency_cells(&o.latency_ms),
                o.errors,
                o.recall_at_10
                    .map_or("-".into(), |x| format!("{:.4}", x.value))
            );
            if let Some(s) = &o.server_latency_ms {
                let _ = writeln!(
                    b,
                    "<tr><td></td><td class=\"muted\">server time</td><td></td><td></td><td></td>{}<td></td><td></td></tr>",
                    latency_cells(s)
                );
            }
        }
    }
    b.push_str("</table>\n");
    if let Some(st) = &report.stress {
        b.push_str("<h2>Stress ramp</h2>\n<table id=\"ramp\" class=\"num\"><tr><th>step</th><th>throughput ops/s</th><th>mean</th><th>p50</th><th>p95</th><th>p99</th><th>samples</th><th>errors</th><th>targets</th></tr>\n");
        for s in &st.steps {
            let _ = writeln!(
                b,
                "<tr><td>{:.0}</td><td>{}</td>{}<td>{}</td><td class=\"{}\">{}</td></tr>",
                s.load,
                with_margin(s.throughput_ops_s, s.throughput_ci, 1),
                latency_cells(&s.latency_ms),
                s.errors,
                if s.met_targets { "met" } else { "missed" },
                escape(&step_outcome(s, "met", "missed"))
            );
        }
        let _ = writeln!(
            b,
            "</table>\n<p>Knee: <b>{}</b>{}; {}.</p>",
            st.knee.map_or("none".into(), |k| format!("{k:.0}")),
            st.knee_throughput_ops_s
                .map_or(String::new(), |o| format!(" ({o:.1} ops/s achieved)")),
            escape(&st.stopped_because)
        );
    }
}

fn provenance_section(b: &mut String, report: &Report) {
    b.push_str("<h2>Provenance</h2>\n");
    let mut rows = vec![("target".to_string(), target_text(report))];
    rows.extend(provenance_rows(&report.provenance.to_map()));
    rows.extend(
        report
            .setup
            .iter()
            .map(|s| ("setup".to_string(), s.clone())),
    );
    b.push_str(&facts_table("provenance", rows));
}

/// A drawn chart: its HTML and what it holds.
struct Drawn {
    html: String,
    /// Read by the unit tests (what each chart must hold).
    #[cfg_attr(not(test), allow(dead_code))]
    counts: ChartCounts,
}

struct Section {
    heading: String,
    notes: Vec<String>,
    charts: Vec<Drawn>,
}

fn drawn(p: Panel) -> Drawn {
    drawn_with(p, chart::Style::default())
}

/// A per-second rate's chart: its y axis from zero, so a rate that held reads as a level line
/// (not as swings of a fraction of a percent) and a real fall as one.
fn drawn_rate(p: Panel) -> Drawn {
    drawn_with(
        p,
        chart::Style {
            y_from_zero: true,
            ..chart::Style::default()
        },
    )
}

fn drawn_with(p: Panel, style: chart::Style) -> Drawn {
    drawn_or_why(&p.title, p.counts(), chart::html_chart_with(&p, style))
}

fn drawn_bars(b: Bars) -> Drawn {
    drawn_or_why(&b.title, b.counts(), chart::html_bars(&b))
}

/// The chart `caption` holding `series`, or where it could not be drawn (`Err`), why.
fn drawn_or_why(
    caption: &str,
    series: Vec<(String, usize)>,
    html: Result<String, String>,
) -> Drawn {
    let html = html.unwrap_or_else(|e| {
        format!(
            "<p class=\"missed\">chart {} not drawn: {}</p>",
            escape(caption),
            escape(&e)
        )
    });
    let caption = caption.to_string();
    Drawn {
        html,
        counts: ChartCounts { caption, series },
    }
}

fn panel(title: &str, x: &str, y: &str, series: Vec<Series>, xa: Axis, ya: Axis) -> Panel {
    Panel {
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        // A series without points draws nothing: left out (the test counts drawn series).
        series: series
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .collect(),
        x_axis: xa,
        y_axis: ya,
    }
}

/// A panel of `series` on linear axes.
fn linear(title: &str, x: &str, y: &str, series: Vec<Series>) -> Panel {
    panel(title, x, y, series, Axis::Linear, Axis::Linear)
}

fn line(label: &str, points: Vec<(f64, f64)>) -> Series {
    Series {
        label: label.into(),
        points,
        line: true,
    }
}

/// Every chart of the page, by section.
fn charts(report: &Report, dir: &Path) -> Vec<Section> {
    let mut out = vec![timeline(report)];
    if let Some(ramp) = ramp(report) {
        out.push(ramp);
    }
    out.push(spectrum(report, dir));
    if let Some(bars) = per_collection(report) {
        out.push(bars);
    }
    out
}

/// Points of a series.
type Points = Vec<(f64, f64)>;

/// A run's last interval ends inside a second (the run ended there): shorter than this, it is
/// left out of the per-second charts, for it holds only the drain (the answers to requests in
/// flight when sending stopped, and the collector's wait to notice the end) and its rate says
/// nothing of the load; at least this long, it is drawn at its true rate, its count over its
/// length.
pub const PARTIAL_MIN_S: f64 = 0.5;

/// The entries of a series of intervals ending at `ends` (seconds since the recorded part
/// began) to draw, by index, each with its length: the time since the entry before (the first
/// one's at most a second: it began with the recorded part, or with the first sample). All of
/// them but a last one shorter than [`PARTIAL_MIN_S`].
pub fn drawn_intervals(ends: &[f64]) -> Vec<(usize, f64)> {
    let mut out = Vec::with_capacity(ends.len());
    let mut previous: Option<f64> = None;
    for (i, &t) in ends.iter().enumerate() {
        let length = match previous {
            Some(p) => t - p,
            None => t.min(1.0),
        };
        previous = Some(t);
        if i + 1 == ends.len() && length < PARTIAL_MIN_S {
            continue;
        }
        out.push((i, length.max(1e-9)));
    }
    out
}

/// The per-second series of the timeline charts, every run's seconds end to end (x in seconds
/// since the first run's recorded part began), rates as counts over each interval's length.
#[derive(Debug, Default)]
struct TimelineSeries {
    achieved: Points,
    requested: Points,
    p50: Points,
    p99: Points,
    errors: Points,
    /// Per node: its URL, requests and errors per second as the server counted them.
    server: Vec<(String, Points, Points)>,
}

fn timeline_series(report: &Report) -> TimelineSeries {
    let mut out = TimelineSeries::default();
    let mut offset = 0.0;
    for r in &report.runs {
        let ends: Vec<f64> = r.timeline.iter().map(|s| s.t).collect();
        for (i, length) in drawn_intervals(&ends) {
            let sec = &r.timeline[i];
            let t = offset + sec.t;
            // The driver's own rate is the second's count over its length.
            out.achieved.push((t, sec.ops_s));
            if let Some(rate) = r.requested_rate {
                out.requested.push((t, rate));
            }
            if let Some(v) = sec.p50_ms {
                out.p50.push((t, v));
            }
            if let Some(v) = sec.p99_ms {
                out.p99.push((t, v));
            }
            out.errors.push((t, sec.errors as f64 / length));
        }
        for node in r.server.iter().flat_map(|sv| &sv.nodes) {
            let i = match out.server.iter().position(|(u, _, _)| *u == node.url) {
                Some(i) => i,
                None => {
                    out.server.push((node.url.clone(), Vec::new(), Vec::new()));
                    out.server.len() - 1
                }
            };
            let ends: Vec<f64> = node.seconds.iter().map(|s| s.t).collect();
            for (k, length) in drawn_intervals(&ends) {
                let sec = &node.seconds[k];
                let t = offset + sec.t;
                out.server[i].1.push((t, sec.requests as f64 / length));
                out.server[i].2.push((t, sec.errors as f64 / length));
            }
        }
        offset += r.timeline.last().map_or(0.0, |l| l.t);
    }
    out
}

/// The runs' seconds end to end (a stress ramp's steps one after another), in seconds since
/// the first run's recorded part began.
fn timeline(report: &Report) -> Section {
    let mut s = Section {
        heading: "Per-second timeline".into(),
        notes: Vec::new(),
        charts: Vec::new(),
    };
    let seconds: usize = report.runs.iter().map(|r| r.timeline.len()).sum();
    if seconds == 0 {
        s.notes.push(format!(
            "No per-second timeline: the run recorded no completed second (nor is there an {INTERVALS_FILE} to rebuild one from)."
        ));
        return s;
    }
    let t = timeline_series(report);
    s.notes.push(format!(
        "Rates are counts over each interval's length. A run's last interval ends inside a second: it is drawn at its count over its length, or left out when shorter than {PARTIAL_MIN_S} s (the drain after sending stopped, whose rate says nothing of the load)."
    ));
    let x = "seconds since the recorded part began";
    // The requested rate first, so the achieved one is drawn over it where they meet (`linear`
    // leaves it out when there is none).
    let rate = vec![
        line("requested ops/s", t.requested),
        line("achieved ops/s", t.achieved),
    ];
    s.charts.push(drawn_rate(linear(
        "achieved vs requested rate",
        x,
        "operations per second",
        rate,
    )));
    s.charts.push(drawn(linear(
        "client latency per second",
        x,
        "ms",
        vec![line("p50 ms", t.p50), line("p99 ms", t.p99)],
    )));
    let mut err = vec![line("errors", t.errors)];
    for (url, _, e) in &t.server {
        err.push(line(&format!("server errors ({url})"), e.clone()));
    }
    s.charts.push(drawn_rate(linear(
        "errors per second",
        x,
        "errors per second",
        err,
    )));
    if t.server.iter().any(|(_, r, _)| !r.is_empty()) {
        s.charts.push(drawn_rate(linear(
            "requests per second as the server counted them",
            x,
            "requests per second",
            t.server
                .iter()
                .map(|(url, r, _)| line(&format!("server requests ({url})"), r.clone()))
                .collect(),
        )));
    } else {
        s.notes.push(
            "No server-side series: the target has no server whose /metrics were read (the embedded engine, an HTTP endpoint, no-op)."
                .into(),
        );
    }
    s
}

/// The stress ramp: achieved rate and p99 per step, the knee marked.
fn ramp(report: &Report) -> Option<Section> {
    let st = report.stress.as_ref()?;
    let achieved: Vec<(f64, f64)> = st
        .steps
        .iter()
        .map(|s| (s.load, s.throughput_ops_s))
        .collect();
    let p99: Vec<(f64, f64)> = st
        .steps
        .iter()
        .filter(|s| s.latency_ms.samples > 0)
        .map(|s| (s.load, s.latency_ms.p99_ms))
        .collect();
    let knee_step = st
        .knee
        .and_then(|k| st.steps.iter().find(|s| (s.load - k).abs() < 1e-9));
    let mut rate = vec![line("achieved ops/s", achieved)];
    let mut lat = vec![line("p99 ms", p99)];
    if let Some(k) = knee_step {
        let knee = |point| Series {
            label: "knee".into(),
            points: vec![point],
            line: false,
        };
        rate.push(knee((k.load, k.throughput_ops_s)));
        if k.latency_ms.samples > 0 {
            lat.push(knee((k.load, k.latency_ms.p99_ms)));
        }
    }
    let x = "step: requested rate (open loop) or concurrency (closed loop)";
    let mut notes = Vec::new();
    if knee_step.is_none() {
        notes.push("No knee: no step met the targets.".to_string());
    }
    Some(Section {
        heading: "Stress ramp".into(),
        notes,
        charts: vec![
            drawn(linear(
                "achieved rate per step",
                x,
                "operations per second",
                rate,
            )),
            drawn(linear("p99 per step", x, "ms", lat)),
        ],
    })
}

/// A spectrum series of histogram `h` (µs), in ms.
fn spectrum_series(label: &str, h: &hdrhistogram::Histogram<u64>) -> Series {
    line(
        label,
        chart::spectrum_quantiles(h.len())
            .into_iter()
            .map(|q| (q, h.value_at_quantile(q) as f64 / 1000.0))
            .collect(),
    )
}

/// The latency percentile spectrum: per run, each operation's client time and (where the
/// responses said) server time; for `stress`, one chart with each step's queries.
fn spectrum(report: &Report, dir: &Path) -> Section {
    let mut s = Section {
        heading: "Latency percentile spectrum".into(),
        notes: vec!["x is 1/(1−q) on a log scale (HdrHistogram's picture): each decade to the right is one more nine.".into()],
        charts: Vec::new(),
    };
    let in_memory = report
        .runs
        .iter()
        .any(|r| r.operations.iter().any(|o| !o.histogram.is_empty()));
    let recovered = if in_memory {
        None
    } else {
        let log = dir.join(INTERVALS_FILE);
        match log.is_file().then(|| intervals::recover(&log)) {
            Some(Ok(r)) => Some(r.report.runs),
            Some(Err(e)) => {
                s.notes.push(format!("No spectrum: {e}."));
                return s;
            }
            None => {
                s.notes.push(format!(
                    "No spectrum: report.json holds no histograms and this run directory has no {INTERVALS_FILE} (validate writes none)."
                ));
                return s;
            }
        }
    };
    let source = |r: &RunResult| -> Option<RunResult> {
        match &recovered {
            None => Some(r.clone()),
            Some(runs) => runs.iter().find(|x| x.label == r.label).cloned(),
        }
    };
    let x = "percentile";
    if report.stress.is_some() {
        let series: Vec<Series> = report
            .runs
            .iter()
            .filter_map(|r| source(r).map(|h| spectrum_series(&r.label, &h.query_histogram())))
            .collect();
        s.charts.push(drawn(panel(
            "client latency spectrum per step (all queries)",
            x,
            "ms",
            series,
            Axis::Percentile,
            Axis::Log,
        )));
        return s;
    }
    for r in &report.runs {
        let Some(h) = source(r) else {
            s.notes.push(format!(
                "run {}: not in {INTERVALS_FILE}, no spectrum",
                r.label
            ));
            continue;
        };
        let series = h.operations.iter().flat_map(|o| {
            let name = format!("{} {}", o.op.name(), o.collection);
            [
                spectrum_series(&format!("{name} client"), &o.histogram),
                spectrum_series(&format!("{name} server"), &o.server_histogram),
            ]
        });
        let p = panel(
            &format!("latency spectrum, run {}", r.label),
            x,
            "ms",
            series.collect(),
            Axis::Percentile,
            Axis::Log,
        );
        if p.series.is_empty() {
            s.notes.push(format!(
                "run {}: no successful request, no spectrum",
                r.label
            ));
        } else {
            s.charts.push(drawn(p));
        }
    }
    s
}

/// Per-collection bars (mean / p95 / p99 and throughput) of each run with more than one
/// (operation, collection); none for `stress`, whose steps share theirs.
fn per_collection(report: &Report) -> Option<Section> {
    if report.stress.is_some() {
        return None;
    }
    let runs: Vec<&RunResult> = report
        .runs
        .iter()
        .filter(|r| r.operations.len() > 1)
        .collect();
    if runs.is_empty() {
        return None;
    }
    let mut charts = Vec::new();
    for r in runs {
        let groups: Vec<String> = r
            .operations
            .iter()
            .map(|o| format!("{} {}", o.op.name(), o.collection))
            .collect();
        let figure = |f: fn(&LatencySummary) -> f64| -> Vec<Option<f64>> {
            r.operations
                .iter()
                .map(|o| (o.latency_ms.samples > 0).then(|| f(&o.latency_ms)))
                .collect()
        };
        charts.push(drawn_bars(Bars {
            title: format!("latency per operation and collection, run {}", r.label),
            y_label: "ms".into(),
            groups: groups.clone(),
            series: vec![
                ("mean".into(), figure(|l| l.mean_ms)),
                ("p95".into(), figure(|l| l.p95_ms)),
                ("p99".into(), figure(|l| l.p99_ms)),
            ],
        }));
        charts.push(drawn_bars(Bars {
            title: format!("throughput per operation and collection, run {}", r.label),
            y_label: "operations per second".into(),
            groups,
            series: vec![(
                "ops/s".into(),
                r.operations
                    .iter()
                    .map(|o| Some(o.throughput_ops_s))
                    .collect(),
            )],
        }));
    }
    Some(Section {
        heading: "Per operation and collection".into(),
        notes: Vec::new(),
        charts,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use qdrant_perf_report::checks::Bound;
    use qdrant_perf_report::intervals::{
        Header, INTERVALS_SCHEMA, IntervalLog, Line, RunStart, SlotSecond, TimelineSecond,
        encode_histogram,
    };
    use qdrant_perf_report::latency_histogram;
    use qdrant_perf_report::provenance::Provenance;
    use qdrant_perf_report::report::TargetInfo;
    use qdrant_perf_report::run::{LoadPlan, OpKind, Second};

    /// An interval log in `dir` of one run of `seconds` seconds: searches on `a` (n requests
    /// of 1..=n ms, server time half of it) and upserts on `b`.
    fn log(dir: &Path, seconds: u32, n: u64) {
        let log = IntervalLog::create(dir).unwrap();
        log.append(&[Line::Header(Box::new(Header {
            schema: INTERVALS_SCHEMA.into(),
            command: "load".into(),
            target: TargetInfo {
                kind: "noop".into(),
                url: None,
                engine_version: None,
            },
            quick: None,
            config: serde_json::Value::Null,
            setup: Vec::new(),
            provenance: Provenance::capture(),
        }))])
        .unwrap();
        log.append(&[Line::Run(RunStart {
            run: "main".into(),
            plan: LoadPlan::open(100.0, Duration::from_secs(seconds as u64)),
            start_unix_s: 1.8e9,
        })])
        .unwrap();
        for k in 0..seconds {
            let (mut h, mut server) = (latency_histogram(), latency_histogram());
            for i in 1..=n {
                h.record(i * 1000 + k as u64).unwrap();
                server.record(i * 500).unwrap();
            }
            let slot = |op, collection: &str, server_hist| {
                Line::Slot(SlotSecond {
                    run: "main".into(),
                    k,
                    secs: 1.0,
                    op,
                    collection: collection.into(),
                    ok: n,
                    errors: 0,
                    errors_by_kind: BTreeMap::new(),
                    recall_n: 0,
                    recall_sum: 0.0,
                    hist: Some(encode_histogram(&h)),
                    server_hist,
                    overhead_hist: None,
                })
            };
            log.append(&[
                slot(OpKind::Search, "a", Some(encode_histogram(&server))),
                slot(OpKind::Upsert, "b", None),
                Line::Second(TimelineSecond {
                    run: "main".into(),
                    k,
                    second: Second {
                        t: k as f64 + 1.0,
                        ok: 2 * n,
                        errors: k as u64 % 2,
                        ops_s: 2.0 * n as f64,
                        p50_ms: (k > 0).then_some(n as f64 / 2.0),
                        p99_ms: (k > 0).then_some(n as f64),
                        max_ms: None,
                        cpu_pct: None,
                        rss_mb: None,
                    },
                    in_flight: 0,
                }),
            ])
            .unwrap();
        }
    }

    /// [`log`] in `dir`, and the report rebuilt from it.
    fn logged_report(dir: &Path, seconds: u32, n: u64) -> Report {
        log(dir, seconds, n);
        intervals::recover(&dir.join(INTERVALS_FILE))
            .unwrap()
            .report
    }

    fn counts(c: &[ChartCounts], caption: &str) -> Vec<(String, usize)> {
        c.iter()
            .find(|c| c.caption.starts_with(caption))
            .unwrap_or_else(|| panic!("no chart {caption} in {c:?}"))
            .series
            .clone()
    }

    fn s(label: &str, n: usize) -> (String, usize) {
        (label.to_string(), n)
    }

    #[test]
    fn a_run_page_draws_its_timeline_spectrum_and_bars_from_the_report_and_its_interval_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut report = logged_report(dir.path(), 12, 200);
        // The drain after the last request: an empty entry 0.8 ms long, not drawn.
        let mut drain = report.runs[0].timeline[11].clone();
        (drain.t, drain.ok, drain.errors, drain.ops_s) = (12.0008, 0, 0, 0.0);
        report.runs[0].timeline.push(drain);
        let live = expected_charts(&report, dir.path());
        assert_eq!(
            counts(&live, "achieved vs requested"),
            [s("requested ops/s", 12), s("achieved ops/s", 12)]
        );
        // The first second has no p50/p99: not drawn.
        assert_eq!(
            counts(&live, "client latency per second"),
            [s("p50 ms", 11), s("p99 ms", 11)]
        );
        assert_eq!(counts(&live, "errors per second"), [s("errors", 12)]);
        // 2400 samples: 1/(1-q) up to 10^(13/4) = 1778.
        let q = chart::spectrum_quantiles(2400).len();
        assert_eq!(q, 14);
        assert_eq!(
            counts(&live, "latency spectrum, run main"),
            [
                s("search a client", q),
                s("search a server", q),
                s("upsert b client", q)
            ]
        );
        assert_eq!(
            counts(&live, "latency per operation"),
            [s("mean", 2), s("p95", 2), s("p99", 2)]
        );
        // Read back from report.json (no histograms), the spectrum comes from the log: the same.
        crate::write_run(&report, dir.path()).unwrap();
        let back = Report::load(dir.path()).unwrap();
        assert_eq!(expected_charts(&back, dir.path()), live);
        let html = std::fs::read_to_string(dir.path().join(REPORT_HTML)).unwrap();
        assert!(html.contains("data-series=\"search a server\""));
        assert!(html.contains("No server-side series"), "{html}");
        assert!(html.contains("<table id=\"provenance\">"));
        // Without the log, the page says so instead of drawing an empty spectrum.
        let bare = tempfile::tempdir().unwrap();
        let page = render(&back, bare.path());
        assert!(
            page.contains("No spectrum: report.json holds no histograms"),
            "{page}"
        );
        assert!(!page.contains("latency spectrum, run main"));
    }

    #[test]
    fn the_verdict_table_shows_each_check_with_its_margin_when_the_report_has_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut report = logged_report(dir.path(), 12, 200);
        let l = report.latency_ms.clone();
        let ci = l.ci.expect("12 seconds give an interval");
        report.set_checks(
            vec![
                Check::measured(
                    "latency_p95",
                    "overall",
                    l.p95_ms,
                    "ms",
                    Bound::Below,
                    1.0,
                    l.samples,
                ),
                Check::measured("error_rate", "overall", 0.0, "", Bound::AtMost, 0.01, 10),
                Check::not_run(
                    "recall",
                    "overall",
                    "",
                    Bound::AtLeast,
                    0.9,
                    "no ground truth",
                ),
            ],
            false,
        );
        let page = render(&report, dir.path());
        let margin = with_margin(l.p95_ms, Some(ci.p95_ms), 3);
        assert!(margin.contains('±'));
        assert!(
            page.contains(&format!(
                "<td class=\"missed\">MISSED</td><td>{}</td><td>{margin} ms</td><td>{}</td>",
                escape(&report.checks[0].limit_text()),
                l.samples
            )),
            "{page}"
        );
        assert!(page.contains("<td class=\"met\">met</td>"));
        assert!(page.contains("<td class=\"notrun\">not run</td>"));
        assert!(page.contains("no ground truth"));
        assert!(page.contains("1 met, 1 missed, 1 not run"));
    }

    #[test]
    fn a_runs_last_partial_second_is_drawn_at_its_true_rate_or_left_out_never_as_a_drop() {
        use qdrant_perf_report::server::{NodeWatch, ServerSecond, ServerSide};
        let dir = tempfile::tempdir().unwrap();
        let mut report = logged_report(dir.path(), 12, 200);
        let url = "http://node-1:6333";
        let full = |report: &mut Report| {
            let run = &mut report.runs[0];
            for s in &mut run.timeline {
                (s.ok, s.ops_s, s.errors) = (400, 400.0, 0);
            }
            // The server counted 400 a second; its first sample came with the recorded part.
            let seconds = (1..=12)
                .map(|k| ServerSecond {
                    t: k as f64 + 0.002,
                    requests: 400,
                    ..ServerSecond::default()
                })
                .collect();
            run.server = Some(ServerSide {
                nodes: vec![NodeWatch {
                    url: url.into(),
                    seconds,
                    ..NodeWatch::default()
                }],
                not_collected: None,
            });
        };
        full(&mut report);
        // A 12 s run at 400 ops/s: the drain after it is 20 ms with one answer in it (50 ops/s
        // by its count over its length), and the server's last sample 30 ms after the one
        // before, with no request (a count of 0).
        let run = &mut report.runs[0];
        let mut drain = run.timeline[11].clone();
        (drain.t, drain.ok, drain.errors, drain.ops_s) = (12.02, 1, 0, 50.0);
        run.timeline.push(drain);
        let node = &mut run.server.as_mut().unwrap().nodes[0];
        node.seconds.push(ServerSecond {
            t: 12.032,
            requests: 0,
            ..ServerSecond::default()
        });
        let series = timeline_series(&report);
        assert_eq!(series.achieved.len(), 12);
        assert!(
            series.achieved.iter().all(|p| p.1 == 400.0),
            "{:?}",
            series.achieved
        );
        let server = &series.server[0].1;
        assert_eq!(server.len(), 12, "{server:?}");
        assert!(
            server.iter().all(|p| (p.1 - 400.0).abs() < 1.0),
            "no drop: {server:?}"
        );
        let drawn = expected_charts(&report, dir.path());
        assert_eq!(
            counts(&drawn, "requests per second as the server counted them"),
            [s(&format!("server requests ({url})"), 12)]
        );
        assert_eq!(
            counts(&drawn, "achieved vs requested"),
            [s("requested ops/s", 12), s("achieved ops/s", 12)]
        );
        // A rate that held is a level line on an axis from zero, not swings around 400.
        let page = render(&report, dir.path());
        let from = page
            .find("<figcaption>achieved vs requested rate</figcaption>")
            .unwrap();
        let svg = &page[from..from + page[from..].find("</svg>").unwrap()];
        assert!(svg.contains(">\n0\n</text>"), "{svg}");

        // A run stopped 0.6 s into its last second: that second at its count over its length.
        full(&mut report);
        let run = &mut report.runs[0];
        run.timeline.truncate(12);
        let mut last = run.timeline[11].clone();
        (last.t, last.ok, last.errors, last.ops_s) = (12.6, 240, 3, 400.0);
        run.timeline.push(last);
        let node = &mut run.server.as_mut().unwrap().nodes[0];
        node.seconds.push(ServerSecond {
            t: 12.602,
            requests: 240,
            errors: 6,
            ..ServerSecond::default()
        });
        let series = timeline_series(&report);
        assert_eq!(series.achieved.len(), 13);
        assert_eq!(series.achieved[12], (12.6, 400.0));
        let (t, errors) = series.errors[12];
        assert!(
            (t - 12.6).abs() < 1e-9 && (errors - 5.0).abs() < 1e-6,
            "{errors}"
        );
        let (t, requests) = series.server[0].1[12];
        assert!(
            (t - 12.602).abs() < 1e-9 && (requests - 400.0).abs() < 1e-6,
            "{requests}"
        );
        assert!((series.server[0].2[12].1 - 10.0).abs() < 1e-6);
        assert_eq!(drawn_intervals(&[1.0, 2.0, 2.4]), [(0, 1.0), (1, 1.0)]);
    }

    #[test]
    fn a_timeline_of_no_errors_draws_them_on_zero_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut report = logged_report(dir.path(), 5, 20);
        for s in &mut report.runs[0].timeline {
            s.errors = 0;
        }
        let page = render(&report, dir.path());
        let from = page
            .find("<figcaption>errors per second</figcaption>")
            .unwrap();
        let svg = &page[from..from + page[from..].find("</svg>").unwrap()];
        assert!(svg.contains("\n1.0\n</text>"), "{svg}");
        assert!(!svg.contains("0.001"), "{svg}");
    }
}
