//! `settle`'s part of a report ([`qdrant_perf_report::settle`]): the figures of each event as
//! text (terminal and summary.md), the per-second table (summary.md), and in report.html the
//! per-second p95/p99 timeline with the optimizer's state drawn under it (optimizations queued
//! and running, indexed vs total points).

use std::fmt::Write as _;

use qdrant_perf_report::Report;
use qdrant_perf_report::settle::{SettleRun, StatePoll};

use crate::chart::{self, Axis, Panel, Series};
use crate::html::{escape, markdown_table};

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}{unit}"))
}

fn count(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

/// The figures of one settle run, a few lines (printed after the run, and in summary.md).
pub fn figures_text(r: &SettleRun) -> String {
    let f = &r.figures;
    let recall = |x: Option<qdrant_perf_report::RecallStat>| {
        x.map_or("-".into(), |r| {
            format!("{:.4} (n = {})", r.value, r.samples)
        })
    };
    let mut s = format!(
        "settle {} on {} ({} points x {}): event took {:.2} s, searches from {:.2} s at {} /s; {}\n",
        r.label,
        r.collection,
        r.points,
        r.dim,
        r.event_s,
        r.search_start_s,
        r.rate,
        r.stopped_because
    );
    let _ = writeln!(
        s,
        "  time to first answer {}; drain (optimizer idle for good) {}; worst second p95 {} (at {}), p99 {}; back under {} ms p95 {}",
        opt(f.time_to_first_answer_s, " s"),
        opt(f.drain_s, " s"),
        opt(f.worst_p95_ms, " ms"),
        opt(f.worst_second_s, " s"),
        opt(f.worst_p99_ms, " ms"),
        r.p95_target_ms,
        match f.back_under_target_s {
            Some(t) => format!("from {t:.2} s (and stayed for the {} s window)", r.window_s),
            None => "never for the whole window".into(),
        }
    );
    let _ = writeln!(
        s,
        "  while draining: {}; recall@10 {}",
        f.latency_draining.describe(),
        recall(f.recall_draining)
    );
    let _ = writeln!(
        s,
        "  after:          {}; recall@10 {}",
        f.latency_after.describe(),
        recall(f.recall_after)
    );
    s
}

fn running_text(p: &StatePoll) -> String {
    match (p.running, p.running_done, p.running_total) {
        (None, ..) => "-".into(),
        (Some(0), ..) => "0".into(),
        (Some(n), Some(d), Some(t)) if t > 0 => {
            format!("{n} ({}; {d}/{t})", p.running_optimizers.join(", "))
        }
        (Some(n), ..) => format!("{n} ({})", p.running_optimizers.join(", ")),
    }
}

/// The last state polled at or before `t`.
fn state_at(states: &[StatePoll], t: f64) -> Option<&StatePoll> {
    states.iter().take_while(|p| p.t_s <= t + 1e-9).last()
}

/// The per-second table of one run (Markdown).
pub fn seconds_table(r: &SettleRun) -> String {
    let mut s = String::from(
        "| t s | ok | errors | ops/s | p50 ms | p95 ms | p99 ms | server p95 ms | recall@10 | status | queued opt. | running | points | indexed | segments | update queue |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|\n",
    );
    for x in &r.seconds {
        let st = state_at(&r.states, x.t_s);
        let _ = writeln!(
            s,
            "| {:.1}{} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            x.t_s,
            if x.draining { "" } else { " ✓" },
            x.ok,
            x.errors,
            x.ops_s,
            opt(x.p50_ms, ""),
            opt(x.p95_ms, ""),
            opt(x.p99_ms, ""),
            opt(x.server_p95_ms, ""),
            x.recall_at_10.map_or("-".into(), |v| format!("{v:.4}")),
            st.and_then(|p| p.status.clone())
                .or_else(|| st.and_then(|p| p.error.as_ref().map(|_| "unreadable".to_string())))
                .unwrap_or_else(|| "-".into()),
            count(st.and_then(|p| p.queued_optimizations)),
            st.map_or("-".into(), running_text),
            count(st.and_then(|p| p.points)),
            count(st.and_then(|p| p.indexed_vectors)),
            count(st.and_then(|p| p.segments)),
            count(st.and_then(|p| p.update_queue)),
        );
    }
    s
}

/// summary.md's settle section (nothing for other commands).
pub fn markdown_section(s: &mut String, report: &Report) {
    let Some(settle) = &report.settle else {
        return;
    };
    s.push_str("## Settle\n\n");
    for r in &settle.runs {
        let _ = writeln!(s, "### {}\n", r.label);
        let _ = writeln!(s, "```\n{}```\n", figures_text(r));
        let _ = writeln!(
            s,
            "Times in seconds from the start of the event. Recall truth: {}. State: {}. A ✓ marks a second after the drain (the optimizer idle for good).\n",
            r.truth, r.state_source
        );
        s.push_str(&seconds_table(r));
        s.push('\n');
    }
}

fn line(label: &str, points: Vec<(f64, f64)>) -> Series {
    Series {
        label: label.into(),
        points,
        line: true,
    }
}

fn panel(title: &str, y: &str, series: Vec<Series>) -> Panel {
    Panel {
        title: title.into(),
        x_label: "seconds since the event began".into(),
        y_label: y.into(),
        series: series
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .collect(),
        x_axis: Axis::Linear,
        y_axis: Axis::Linear,
    }
}

fn chart_or_why(p: &Panel) -> String {
    if p.series.is_empty() {
        return format!(
            "<p class=\"muted\">{}: nothing to draw.</p>\n",
            escape(&p.title)
        );
    }
    match chart::html_chart(p) {
        Ok(h) => h,
        Err(e) => format!(
            "<p class=\"muted\">{}: not drawn ({}).</p>\n",
            escape(&p.title),
            escape(&e)
        ),
    }
}

/// report.html's settle section: per run, the figures, the p95/p99 timeline, and under it the
/// optimizer's state on the same time axis.
pub fn html_section(b: &mut String, report: &Report) {
    let Some(settle) = &report.settle else {
        return;
    };
    b.push_str("<h2>Settle</h2>\n");
    for r in &settle.runs {
        let _ = writeln!(b, "<h3>{}</h3>", escape(&r.label));
        let _ = writeln!(b, "<pre>{}</pre>", escape(&figures_text(r)));
        let pts = |f: &dyn Fn(&qdrant_perf_report::settle::SettleSecond) -> Option<f64>| {
            r.seconds
                .iter()
                .filter_map(|s| Some((s.t_s, f(s)?)))
                .collect::<Vec<_>>()
        };
        let target: Vec<(f64, f64)> = match (r.seconds.first(), r.seconds.last()) {
            (Some(a), Some(z)) => vec![(a.t_s, r.p95_target_ms), (z.t_s, r.p95_target_ms)],
            _ => Vec::new(),
        };
        b.push_str(&chart_or_why(&panel(
            &format!("{}: client latency per second", r.label),
            "ms",
            vec![
                line("p95 target", target),
                line("p95 ms", pts(&|s| s.p95_ms)),
                line("p99 ms", pts(&|s| s.p99_ms)),
                line("server p95 ms", pts(&|s| s.server_p95_ms)),
            ],
        )));
        let st = |f: &dyn Fn(&StatePoll) -> Option<u64>| {
            r.states
                .iter()
                .filter_map(|p| Some((p.t_s, f(p)? as f64)))
                .collect::<Vec<_>>()
        };
        b.push_str(&chart_or_why(&panel(
            &format!("{}: optimizations queued and running", r.label),
            "optimizations",
            vec![
                line("queued", st(&|p| p.queued_optimizations)),
                line("running", st(&|p| p.running)),
                line("update queue", st(&|p| p.update_queue)),
            ],
        )));
        b.push_str(&chart_or_why(&panel(
            &format!("{}: indexed vs total points", r.label),
            "points",
            vec![
                line("points", st(&|p| p.points)),
                line("indexed vectors", st(&|p| p.indexed_vectors)),
            ],
        )));
        let _ = writeln!(
            b,
            "<p class=\"muted\">Recall truth: {}. State: {}.</p>",
            escape(&r.truth),
            escape(&r.state_source)
        );
        b.push_str(&markdown_table(&seconds_table(r)));
    }
}
