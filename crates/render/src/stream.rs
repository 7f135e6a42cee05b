//! The stream section of summary.md and report.html (`stream`): one row per stage of a plain
//! stream (`kind: "stages"`) or per step of a runbook, with the points present, the writes, the
//! search latency of its run, recall@10 and stale results; a plain stream adds its deletes and
//! updates, its freshness lags and, against a server, the optimizer state per second from the
//! stages' `runs[].server`.

use std::fmt::Write as _;

use qdrant_perf_report::Report;
use qdrant_perf_report::stream::{Lag, StreamSection};

use crate::html::escape;

/// The stage or step table and what goes with it, as Markdown (empty without a stream section).
pub fn markdown(report: &Report) -> String {
    let Some(st) = &report.stream else {
        return String::new();
    };
    let stages = st.kind == "stages";
    let mut s = format!("## {}\n\n", heading(st));
    if let Some(rb) = &st.runbook {
        let _ = writeln!(
            s,
            "Runbook {} ({}, max_pts {}); its gt_url, if any, is not used: each search step's truth is computed exactly.\n",
            rb["file"].as_str().unwrap_or("-"),
            rb["dataset"].as_str().unwrap_or("-"),
            rb["max_pts"]
        );
    }
    s += &table(report, st);
    if stages {
        if st.steps.iter().any(|x| x.churn.is_some()) {
            let _ = writeln!(
                s,
                "\nStale results are answers holding a point deleted or replaced away before the search was sent (scored as misses); in-flight ones were written since the stage began and are left out of the score. Stale results: {}.",
                st.stale_results
            );
        }
        if let Some(f) = &st.freshness {
            let _ = writeln!(
                s,
                "\nSearch latency over all stages: {}.\n\nFreshness ({} followed points): searchable lag {}{}; indexed lag {}{}.",
                report.latency_ms.describe(),
                f.samples.len(),
                f.searchable.ms.describe(),
                unseen(f.searchable.not_seen),
                f.indexed.ms.describe(),
                unseen(f.indexed.not_seen),
            );
        }
        s += &optimizer(report, st);
        s.push('\n');
    } else {
        let _ = writeln!(
            s,
            "\nMean recall@10 over the search steps: {}. Stale results (points deleted or replaced away before the search was sent, scored as misses): {}.\n",
            st.mean_recall.map_or("-".into(), |r| format!("{r:.4}")),
            st.stale_results
        );
    }
    s
}

/// The same in report.html (empty without a stream section).
pub fn html(report: &Report) -> String {
    let Some(st) = &report.stream else {
        return String::new();
    };
    let md = markdown(report);
    let head = heading(st);
    format!(
        "<h2>{head}</h2>\n<pre>{}</pre>\n",
        escape(md.trim_start_matches(&format!("## {head}\n\n")))
    )
}

fn heading(st: &StreamSection) -> &'static str {
    if st.kind == "stages" {
        "Stages"
    } else {
        "Steps"
    }
}

/// The one table of a stream section: a row per stage or step. Stages name their columns by
/// the inserts and add the deletes and updates (with churn) and the freshness lags.
pub fn table(report: &Report, st: &StreamSection) -> String {
    let stages = st.kind == "stages";
    let churn = stages && st.steps.iter().any(|x| x.churn.is_some());
    let mut head: Vec<&str> = if stages {
        vec!["stage", "points at start", "inserted", "insert/s"]
    } else {
        vec!["step", "points present", "written", "write/s"]
    };
    if churn {
        head.extend(["deleted", "delete/s", "updated", "update/s"]);
    }
    head.extend([
        "write errors",
        "searches",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "server p95 ms",
        "recall@10",
        "stale results",
    ]);
    if stages {
        head.extend(["searchable p50/p99 ms", "indexed p50/p99 ms"]);
    }
    let mut s = format!("| {} |\n|---|", head.join(" | "));
    s += &"---:|".repeat(head.len() - 1);
    s.push('\n');
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    for step in &st.steps {
        let run = report.runs.iter().find(|r| r.label == step.label);
        let mut row = vec![
            format!(
                "{}{}",
                if stages {
                    step.step.to_string()
                } else {
                    step.label.clone()
                },
                if step.partial { " (partial)" } else { "" }
            ),
            step.points_present.to_string(),
            step.written.to_string(),
            step.requested_write_rate
                .map_or("-".to_string(), |_| format!("{:.0}", step.write_rate)),
        ];
        if churn {
            let c = step.churn.clone().unwrap_or_default();
            row.extend([
                c.deleted.to_string(),
                format!("{:.0}", c.delete_rate),
                c.updated.to_string(),
                format!("{:.0}", c.update_rate),
            ]);
        }
        row.extend([
            (step.write_errors + step.churn.as_ref().map_or(0, |c| c.write_errors)).to_string(),
            run.map_or(0, |r| r.ok).to_string(),
            f(run.map(|r| r.latency_ms.p50_ms)),
            f(run.map(|r| r.latency_ms.p95_ms)),
            f(run.map(|r| r.latency_ms.p99_ms)),
            f(run.and_then(|r| r.server_latency_ms.as_ref().map(|l| l.p95_ms))),
            step.recall_at_10
                .map_or("-".to_string(), |r| format!("{:.4}", r.value)),
            step.stale_results.to_string(),
        ]);
        if stages {
            row.push(lag(step.searchable.as_ref()));
            row.push(lag(step.indexed.as_ref()));
        }
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s
}

fn lag(l: Option<&Lag>) -> String {
    let f = |v: f64| format!("{v:.2}");
    match l.map(|l| (l, l.ms.samples, l.not_seen)) {
        None | Some((_, 0, 0)) => "-".to_string(),
        Some((l, _, 0)) => format!("{} / {}", f(l.ms.p50_ms), f(l.ms.p99_ms)),
        Some((l, _, n)) => format!("{} / {} ({n} unseen)", f(l.ms.p50_ms), f(l.ms.p99_ms)),
    }
}

fn unseen(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} not seen within the timeout")
    }
}

/// The first server node's seconds over all stages (their runs' `server`), timed from the
/// stream's start, with the followed points acknowledged in the second before each.
fn optimizer(report: &Report, st: &StreamSection) -> String {
    let seconds: Vec<_> = st
        .steps
        .iter()
        .filter_map(|step| {
            let run = report.runs.iter().find(|r| r.label == step.label)?;
            Some((step.start_s, run.server.as_ref()?.nodes.first()?))
        })
        .flat_map(|(start, node)| node.seconds.iter().map(move |sec| (start + sec.t, sec)))
        .collect();
    if seconds.is_empty() {
        return String::new();
    }
    let samples = st.freshness.as_ref().map_or(&[][..], |f| &f.samples[..]);
    let mut s = String::from(
        "\n## Optimizer state per second (server)\n\nEach second of the first node's /metrics, with the points followed for freshness whose insert was acknowledged in the second before it (searchable lag / indexed lag, ms).\n\n| t s | running optimizations | update queue | points | followed points acked (searchable / indexed ms) |\n|---:|---:|---:|---:|---|\n",
    );
    let mut from = 0.0;
    for (t, sec) in seconds {
        let o = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
        let ms = |v: Option<f64>| v.map_or("not seen".into(), |v| format!("{v:.1}"));
        let acked: Vec<String> = samples
            .iter()
            .filter(|x| x.acked_s >= from && x.acked_s < t)
            .map(|x| format!("{}: {} / {}", x.id, ms(x.searchable_ms), ms(x.indexed_ms)))
            .collect();
        from = t;
        let _ = writeln!(
            s,
            "| {t:.1} | {} | {} | {} | {} |",
            o(sec.running_optimizations),
            o(sec.update_queue_length),
            o(sec.points),
            acked.join(", ")
        );
    }
    s
}
