//! What a person reads in a terminal: a [`Report`] as its command printed it
//! ([`terminal_text`]), one run ([`run_text`]), a stress ramp ([`stress_text`]) and the verdict
//! table ([`checks_table`]).

use std::fmt::Write as _;

use qdrant_perf_report::checks::{Check, Verdict};
use qdrant_perf_report::margin::{Ci, with_margin};
use qdrant_perf_report::report::GENERATOR_BUSY_PCT;
use qdrant_perf_report::{LatencySummary, Report, Resources, RunResult, StressStep, StressSummary};

/// What the run's command printed to the terminal: each run's figures (the ramp's steps and
/// knee for `stress`), then the verdict table when there are checks.
pub fn terminal_text(report: &Report) -> String {
    let mut s = String::new();
    if let Some(rebuilt) = &report.rebuilt {
        let _ = writeln!(
            s,
            "PARTIAL: rebuilt from {} ({} complete seconds kept); the run ended without writing its report",
            rebuilt.from, rebuilt.seconds_kept
        );
        for n in &rebuilt.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
    match &report.stress {
        Some(st) => s.push_str(&stress_text(st)),
        None => report.runs.iter().for_each(|r| s.push_str(&run_text(r))),
    }
    if !report.checks.is_empty() {
        s.push_str(&checks_table(&report.checks));
    } else if report.rebuilt.is_some() {
        let _ = writeln!(
            s,
            "no verdict: the checks are judged when a run ends, and this one did not"
        );
    }
    s
}

/// A check's verdict as a table cell, `mark` around the word (`**` in Markdown): "not run:
/// why", "met (note)", "missed".
pub(crate) fn verdict_cell(c: &Check, mark: &str) -> String {
    match (&c.note, c.verdict) {
        (Some(n), Verdict::NotRun) => format!("not run: {n}"),
        (Some(n), v) => format!("{mark}{v}{mark} ({n})"),
        (None, v) => format!("{mark}{v}{mark}"),
    }
}

/// The verdict table as aligned text for a terminal.
pub fn checks_table(checks: &[Check]) -> String {
    let rows: Vec<[String; 5]> = checks
        .iter()
        .map(|c| {
            [
                c.name.clone(),
                c.collection.clone(),
                c.measured_text(),
                c.limit_text(),
                verdict_cell(c, ""),
            ]
        })
        .collect();
    let header = ["check", "collection", "measured", "limit", "verdict"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    widths[4] = 0;
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let _ = write!(s, "{cell:<w$}");
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out
}

/// A stress ramp as `qdrant-perf stress` prints it: one line per step, then the knee.
pub fn stress_text(st: &StressSummary) -> String {
    let mut s = String::new();
    for step in &st.steps {
        let _ = writeln!(
            s,
            "step {:>8.0}: achieved {:>9.1} ops/s, mean {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, errors {} -> {}",
            step.load,
            step.throughput_ops_s,
            step.latency_ms.mean_ms,
            step.latency_ms.p95_ms,
            step.latency_ms.p99_ms,
            step.errors,
            step_outcome(step, "met", "missed")
        );
    }
    let _ = writeln!(
        s,
        "knee: {} ({}); {}",
        st.knee.map_or("none".into(), |k| format!("{k:.0}")),
        st.knee_throughput_ops_s
            .map_or("-".into(), |o| format!("{o:.1} ops/s")),
        st.stopped_because
    );
    s
}

/// Whether a stress step met the targets: `met`, or `missed: why` (in the words given).
pub(crate) fn step_outcome(step: &StressStep, met: &str, missed: &str) -> String {
    if step.met_targets {
        met.to_string()
    } else {
        format!("{missed}: {}", step.why_not.clone().unwrap_or_default())
    }
}

/// One run as text for a terminal: rates, counts, latency per operation, recall, driver lag,
/// resources.
pub fn run_text(r: &RunResult) -> String {
    let mut s = String::new();
    run_counts(&mut s, r);
    run_latency(&mut s, r);
    run_tail(&mut s, r);
    s
}

/// The loop, the rate asked and achieved, the counts and errors, the nodes.
fn run_counts(s: &mut String, r: &RunResult) {
    let mode = match (r.requested_rate, r.concurrency) {
        (Some(rate), _) => format!("open loop at {rate:.0}/s"),
        (_, Some(c)) => format!("closed loop, {c} workers"),
        _ => "-".into(),
    };
    let _ = writeln!(
        s,
        "{}: {mode}, {:.1} s measured{}",
        r.label,
        r.elapsed_s,
        if r.partial {
            " (PARTIAL: stopped early)"
        } else {
            ""
        }
    );
    let achieved = with_margin(r.throughput_ops_s, r.throughput_ci, 1);
    match (r.requested_rate, r.rate_achieved) {
        (Some(rate), Some(true)) => {
            let _ = writeln!(
                s,
                "  requested {rate:.0} ops/s, achieved {achieved} ops/s: within 1 %"
            );
        }
        (Some(rate), _) => {
            let _ = writeln!(
                s,
                "  requested {rate:.0} ops/s, achieved {achieved} ops/s: COULD NOT sustain the requested rate (off by {:.1} %)",
                (r.throughput_ops_s - rate) / rate * 100.0
            );
        }
        _ => {
            let _ = writeln!(s, "  throughput {achieved} ops/s");
        }
    }
    let _ = writeln!(
        s,
        "  sent {}, ok {}, errors {} ({:.3} %)",
        r.sent,
        r.ok,
        r.errors,
        r.error_rate * 100.0
    );
    for (k, e) in &r.errors_by_kind {
        let _ = writeln!(s, "    {k}: {} (e.g. {})", e.count, e.example);
    }
    if r.shows_nodes() {
        for n in &r.nodes {
            let _ = writeln!(
                s,
                "  node {}: answered {}, errors {}",
                n.url,
                n.ok,
                n.errors_text()
            );
        }
        for lost in r.lost_nodes().filter_map(|n| n.lost_text()) {
            let _ = writeln!(s, "  NODE LOST: {lost}");
        }
    }
}

/// The latency table: per operation, client and server, with the 95 % margins.
fn run_latency(s: &mut String, r: &RunResult) {
    let _ = writeln!(
        s,
        "  {:<26} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "latency ms", "n", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    );
    let line = |s: &mut String, name: &str, l: &LatencySummary| {
        let _ = writeln!(
            s,
            "  {:<26} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.3}",
            name, l.samples, l.mean_ms, l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms
        );
        // The 95 % margins, each under its figure.
        if let Some(ci) = &l.ci {
            let pm = |c: Ci| format!("±{:.3}", c.half_width());
            let _ = writeln!(
                s,
                "  {:<26} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
                format!("  ± 95 % ({}×{:.0} s)", ci.batches, ci.batch_s),
                "",
                pm(ci.mean_ms),
                pm(ci.p50_ms),
                "",
                pm(ci.p95_ms),
                pm(ci.p99_ms),
            );
        }
    };
    for o in &r.operations {
        line(s, &format!("{}/{}", o.op, o.collection), &o.latency_ms);
        if let (Some(server), Some(overhead)) = (&o.server_latency_ms, &o.overhead_ms) {
            line(s, "  server's own time", server);
            line(s, "  client - server", overhead);
        }
    }
    if r.operations.len() > 1 {
        line(s, "all queries", &r.latency_ms);
        if let (Some(server), Some(overhead)) = (&r.server_latency_ms, &r.overhead_ms) {
            line(s, "  server's own time", server);
            line(s, "  client - server", overhead);
        }
    }
}

/// Recall, the driver's lag, resources and their warnings, the server side, the cache.
fn run_tail(s: &mut String, r: &RunResult) {
    if let Some(rc) = r.recall_at_10 {
        let _ = writeln!(
            s,
            "  recall@10 {:.4} over {} searches (exact ground truth)",
            rc.value, rc.samples
        );
    }
    if let Some(lag) = &r.send_lag_ms {
        let _ = writeln!(
            s,
            "  driver: sends late by p99 {:.3} ms, max {:.3} ms; at most {} in flight{}",
            lag.p99_ms,
            lag.max_ms,
            r.max_in_flight,
            if r.in_flight_cap_hits > 0 {
                format!("; {} NOT SENT at the in-flight cap", r.in_flight_cap_hits)
            } else {
                String::new()
            }
        );
    }
    let res = &r.resources;
    let _ = writeln!(
        s,
        "  resources ({}): CPU mean {} %, max {} % of {} cores; RSS max {} MB{}; machine load average {}; server: {}",
        res.scope,
        res.cpu_pct_mean.map_or("-".into(), |v| format!("{v:.1}")),
        res.cpu_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
        res.cores,
        res.rss_bytes_max
            .map_or("-".into(), |v| format!("{:.0}", v as f64 / 1048576.0)),
        rss_growth_text(res),
        res.load_average_1m
            .map_or("-".into(), |v| format!("{v:.1}")),
        res.server
    );
    if let Some(l) = res.load_average_1m
        && l > res.cores as f64
    {
        let _ = writeln!(
            s,
            "  note: the machine's load average ({l:.1}) exceeds its {} cores: other processes competed for the CPU during this run",
            res.cores
        );
    }
    if let Some(h) = &r.host {
        let _ = writeln!(s, "  {}", h.describe());
    }
    if let (Some(g), true) = (res.cpu_pct_mean, r.server.is_some() || r.host.is_some())
        && g > GENERATOR_BUSY_PCT
    {
        let _ = writeln!(
            s,
            "  WARNING: the load generator used {g:.0} % of its {} cores: it, not the server, may be the bottleneck",
            res.cores
        );
    }
    for line in r.server.iter().flat_map(|side| side.describe()) {
        let _ = writeln!(s, "  {line}");
    }
    if let Some(line) = r.telemetry_comparison() {
        let _ = writeln!(s, "  {line}");
    }
    if let Some(cache) = &r.cache {
        let _ = writeln!(s, "  {}", cache.describe());
    }
}

/// `, RSS 70 -> 75 MB, growth +0.42 MB/min` when the run was long enough to say.
pub(crate) fn rss_growth_text(res: &Resources) -> String {
    match (
        res.rss_bytes_first,
        res.rss_bytes_last,
        res.rss_growth_mb_per_min,
    ) {
        (Some(a), Some(b), Some(g)) => format!(
            ", RSS {:.0} -> {:.0} MB, growth {g:+.2} MB/min",
            a as f64 / 1048576.0,
            b as f64 / 1048576.0
        ),
        _ => String::new(),
    }
}
