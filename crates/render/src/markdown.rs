//! summary.md: a [`Report`] as the Markdown summary a person reads (the verdict, the runs,
//! client and server time from the rows of [`crate::rows`], errors, nodes, the stress ramp,
//! resources, the server side, the cache and the setup).

use std::fmt::Write as _;

use qdrant_perf_report::margin::with_margin;
use qdrant_perf_report::{LatencySummary, Report};

use crate::report_html::{cpu_text, target_text};
use crate::rows::op_rows;
use crate::text::{rss_growth_text, step_outcome, verdict_cell};

/// summary.md of `report`: the Markdown summary a person reads.
pub fn markdown(report: &Report) -> String {
    let mut s = String::new();
    head(&mut s, report);
    s.push_str(&crate::stream::markdown(report));
    runs(&mut s, report);
    crate::settle::markdown_section(&mut s, report);
    client_and_server(&mut s, report);
    run_notes(&mut s, report);
    stress_and_resources(&mut s, report);
    server_cache_setup(&mut s, report);
    s
}

/// The title, the target and machine, the quick and rebuilt notes, and the verdict table.
fn head(s: &mut String, report: &Report) {
    let _ = writeln!(
        s,
        "# qdrant-perf {}{}\n",
        report.command,
        if report.partial {
            " (PARTIAL: stopped early, figures cover what was measured)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "Target: {}; {} on {} ({} cores), {}.\n",
        target_text(report),
        report.provenance.suite_version,
        cpu_text(report),
        report.provenance.machine.cores,
        report.provenance.started_at
    );
    if let Some(q) = &report.quick {
        let _ = writeln!(s, "**Quick run:** {q}\n");
    }
    if let Some(r) = &report.rebuilt {
        let _ = writeln!(
            s,
            "**Partial, rebuilt from `{}`:** the run ended without writing its report; {} complete seconds kept, totals and percentiles merged from their histograms; no verdict.\n",
            r.from, r.seconds_kept
        );
        for n in &r.notes {
            let _ = writeln!(s, "- {n}");
        }
        if !r.notes.is_empty() {
            s.push('\n');
        }
    }
    if !report.checks.is_empty() {
        let _ = writeln!(s, "## Verdict\n");
        let _ = writeln!(s, "| check | collection | measured | limit | verdict |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for c in &report.checks {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                c.name,
                c.collection,
                c.measured_text(),
                c.limit_text(),
                verdict_cell(c, "**")
            );
        }
        if let Some(v) = &report.verdict {
            let _ = writeln!(s, "\n{}\n", v.sentence());
        }
    }
}

/// The runs table and its margin note.
fn runs(s: &mut String, report: &Report) {
    let _ = writeln!(s, "## Runs\n");
    let _ = writeln!(
        s,
        "| run | loop | requested | achieved ops/s | ok | errors | mean ms | p50 | p90 | p95 | p99 | p99.9 | max | recall@10 |"
    );
    let _ = writeln!(
        s,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in &report.runs {
        let l = &r.latency_ms;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.3} | {} | {} | {:.3} | {:.3} | {} |",
            r.label,
            match (r.requested_rate, r.concurrency) {
                (Some(_), _) => "open",
                _ => "closed",
            },
            match (r.requested_rate, r.concurrency) {
                (Some(rate), _) => format!("{rate:.0}/s"),
                (_, Some(c)) => format!("{c} workers"),
                _ => "-".into(),
            },
            with_margin(r.throughput_ops_s, r.throughput_ci, 1),
            r.ok,
            r.errors,
            with_margin(l.mean_ms, l.ci.map(|c| c.mean_ms), 3),
            with_margin(l.p50_ms, l.ci.map(|c| c.p50_ms), 3),
            l.p90_ms,
            with_margin(l.p95_ms, l.ci.map(|c| c.p95_ms), 3),
            with_margin(l.p99_ms, l.ci.map(|c| c.p99_ms), 3),
            l.p999_ms,
            l.max_ms,
            r.recall_at_10
                .map_or("-".into(), |x| format!("{:.4} (n={})", x.value, x.samples)),
        );
    }
    if report
        .runs
        .iter()
        .any(|r| r.latency_ms.ci.is_some() || r.throughput_ci.is_some())
    {
        let _ = writeln!(
            s,
            "\n`± x`: the 95 % confidence interval's half-width, by batch means over the run's seconds (docs/report-schema.md, \"Error margins\")."
        );
    }
}

/// Client and server time per operation, where the responses said.
fn client_and_server(s: &mut String, report: &Report) {
    if report
        .runs
        .iter()
        .any(|r| r.operations.iter().any(|o| o.server_latency_ms.is_some()))
    {
        let _ = writeln!(
            s,
            "\n### Client and server time\n\nThe server's own time is what each response said (Qdrant's `time`); overhead is client minus server per request (network, gateway, client, and in open loop the wait before the send).\n"
        );
        let _ = writeln!(
            s,
            "| run | operation | n | client p50 / p95 / p99 ms | server p50 / p95 / p99 ms | overhead p50 / p95 / p99 ms |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        let three =
            |l: &LatencySummary| format!("{:.3} / {:.3} / {:.3}", l.p50_ms, l.p95_ms, l.p99_ms);
        for o in op_rows(report) {
            let Some((server, overhead)) = o.server else {
                continue;
            };
            let _ = writeln!(
                s,
                "| {} | {}/{} | {} | {} | {} (n={}) | {} |",
                o.run,
                o.op,
                o.collection,
                o.latency.samples,
                three(o.latency),
                three(server),
                server.samples,
                three(overhead)
            );
        }
    }
}

/// Per run: errors by kind, the nodes, the in-flight cap, a missed rate.
fn run_notes(s: &mut String, report: &Report) {
    for r in &report.runs {
        if !r.errors_by_kind.is_empty() {
            let _ = writeln!(s, "\nErrors in `{}`:\n", r.label);
            for (k, e) in &r.errors_by_kind {
                let _ = writeln!(s, "- {k}: {} (e.g. {})", e.count, e.example);
            }
        }
        if r.shows_nodes() {
            let _ = writeln!(s, "\nNodes in `{}`:\n", r.label);
            let _ = writeln!(s, "| node | answered | errors | lost at | back at |");
            let _ = writeln!(s, "|---|---|---|---|---|");
            for n in &r.nodes {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} |",
                    n.url,
                    n.ok,
                    n.errors_text(),
                    n.lost_at_s.map_or("-".into(), |t| format!("{t:.1} s")),
                    match (n.lost_at_s, n.back_at_s) {
                        (None, _) => "-".to_string(),
                        (Some(_), None) => "not back by the end".to_string(),
                        (Some(_), Some(t)) => format!("{t:.0} s"),
                    }
                );
            }
            for lost in r.lost_nodes().filter_map(|n| n.lost_text()) {
                let _ = writeln!(s, "\n**Node lost**: {lost}.");
            }
        }
        if r.in_flight_cap_hits > 0 {
            let _ = writeln!(
                s,
                "\n`{}`: {} requests not sent because {} were already in flight.",
                r.label, r.in_flight_cap_hits, r.plan.in_flight_cap
            );
        }
        if let (Some(rate), Some(false)) = (r.requested_rate, r.rate_achieved) {
            let _ = writeln!(
                s,
                "\n`{}`: requested {rate:.0} ops/s, achieved {:.1} ops/s: not within 1 %.",
                r.label, r.throughput_ops_s
            );
        }
    }
}

/// The stress ramp and the last run's resources.
fn stress_and_resources(s: &mut String, report: &Report) {
    if let Some(st) = &report.stress {
        let _ = writeln!(s, "\n## Stress ramp\n");
        let _ = writeln!(
            s,
            "| load | achieved ops/s | mean ms | p95 ms | p99 ms | errors | met |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for step in &st.steps {
            let _ = writeln!(
                s,
                "| {:.0} | {:.1} | {:.3} | {:.3} | {:.3} | {} | {} |",
                step.load,
                step.throughput_ops_s,
                step.latency_ms.mean_ms,
                step.latency_ms.p95_ms,
                step.latency_ms.p99_ms,
                step.errors,
                step_outcome(step, "yes", "no")
            );
        }
        let _ = writeln!(
            s,
            "\nKnee: {}; {}.",
            st.knee
                .map_or("none (the first step already missed)".into(), |k| format!(
                    "{k:.0}"
                )),
            st.stopped_because
        );
    }
    if let Some(r) = report.runs.last() {
        let res = &r.resources;
        let _ = writeln!(
            s,
            "\n## Resources ({})\n\nCPU mean {} %, max {} % of {} cores; RSS max {} MB ({} % of memory){}; machine load average {}. Server telemetry: {}.",
            res.scope,
            res.cpu_pct_mean.map_or("-".into(), |v| format!("{v:.1}")),
            res.cpu_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
            res.cores,
            res.rss_bytes_max
                .map_or("-".into(), |v| format!("{:.0}", v as f64 / 1048576.0)),
            res.memory_pct_max.map_or("-".into(), |v| format!("{v:.1}")),
            rss_growth_text(res),
            res.load_average_1m
                .map_or("-".into(), |v| format!("{v:.1}")),
            res.server
        );
    }
}

/// The server side, the cache and the setup notes.
fn server_cache_setup(s: &mut String, report: &Report) {
    if report
        .runs
        .iter()
        .any(|r| r.server.is_some() || r.host.is_some())
    {
        let _ = writeln!(
            s,
            "\n## Server side\n\nEach node's `/metrics`, read once a second during the recorded part (the per-second series are in report.json, `runs[].server`), and its `/telemetry` at both ends of it: the server's own count of search requests beside the client's.\n"
        );
        for r in &report.runs {
            let host = r.host.iter().map(|h| h.describe());
            let server = r.server.iter().flat_map(|side| side.describe());
            for line in host.chain(server).chain(r.telemetry_comparison()) {
                let _ = writeln!(s, "- `{}`: {line}", r.label);
            }
        }
    }
    if report.runs.iter().any(|r| r.cache.is_some()) {
        let _ = writeln!(
            s,
            "\n## Cache\n\nOver the recorded part of each run; Redis's round trip once a second is in report.json (`runs[].cache.redis_latency`).\n"
        );
        for r in &report.runs {
            if let Some(cache) = &r.cache {
                let _ = writeln!(s, "- `{}`: {}", r.label, cache.describe());
            }
        }
    }
    if !report.setup.is_empty() {
        let _ = writeln!(s, "\n## Setup\n");
        for n in &report.setup {
            let _ = writeln!(s, "- {n}");
        }
    }
}
