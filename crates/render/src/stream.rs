//! The stream section of summary.md and report.html (`stream --runbook`): one row per step with
//! the points present, the writes, the search latency of its run, recall@10 and stale results.

use std::fmt::Write as _;

use qdrant_perf_report::Report;

use crate::html::escape;

/// The step table as Markdown (empty when the report has no stream section).
pub fn markdown(report: &Report) -> String {
    let Some(st) = &report.stream else {
        return String::new();
    };
    let mut s = String::from("## Steps\n\n");
    if let Some(rb) = &st.runbook {
        let _ = writeln!(
            s,
            "Runbook {} ({}, max_pts {}); its gt_url, if any, is not used: each search step's truth is computed exactly.\n",
            rb["file"].as_str().unwrap_or("-"),
            rb["dataset"].as_str().unwrap_or("-"),
            rb["max_pts"]
        );
    }
    s += "| step | points present | written | write/s | write errors | searches | p50 ms | p95 ms | p99 ms | server p95 ms | recall@10 | stale results |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for step in &st.steps {
        let run = report.runs.iter().find(|r| r.label == step.label);
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let _ = writeln!(
            s,
            "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            step.label,
            if step.partial { " (partial)" } else { "" },
            step.points_present,
            step.written,
            step.requested_write_rate
                .map_or("-".to_string(), |_| format!("{:.0}", step.write_rate)),
            step.write_errors,
            run.map_or(0, |r| r.ok),
            f(run.map(|r| r.latency_ms.p50_ms)),
            f(run.map(|r| r.latency_ms.p95_ms)),
            f(run.map(|r| r.latency_ms.p99_ms)),
            f(run.and_then(|r| r.server_latency_ms.as_ref().map(|l| l.p95_ms))),
            step.recall_at_10
                .map_or("-".to_string(), |r| format!("{:.4}", r.value)),
            step.stale_results
        );
    }
    let _ = writeln!(
        s,
        "\nMean recall@10 over the search steps: {}. Stale results (points deleted or replaced away before the search was sent, scored as misses): {}.\n",
        st.mean_recall.map_or("-".into(), |r| format!("{r:.4}")),
        st.stale_results
    );
    s
}

/// The same table in report.html (empty without a stream section).
pub fn html(report: &Report) -> String {
    let md = markdown(report);
    if md.is_empty() {
        return md;
    }
    format!(
        "<h2>Steps</h2>\n<pre>{}</pre>\n",
        escape(md.trim_start_matches("## Steps\n\n"))
    )
}
