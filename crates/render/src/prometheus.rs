//! A report's figures in the Prometheus text exposition format (metrics.prom), from the rows of
//! [`crate::rows`]: HELP and TYPE on every family, base units (`_seconds`, `_bytes`, ratios),
//! `_total` on counters, label `run` on every series. The families that mean the same as the
//! load generator's live endpoint (qdrant-perf-load's `live`) have its names:
//! `qdrant_perf_requests_total`, `qdrant_perf_errors_total`, `qdrant_perf_errors_by_kind_total`,
//! `qdrant_perf_latency_seconds`, `qdrant_perf_requested_rate_ops_per_second`,
//! `qdrant_perf_elapsed_seconds`. Names and meanings: docs/report-schema.md.

use qdrant_perf_plumbing::prom::{Exposition, MetricType};
use qdrant_perf_report::{LatencySummary, Report};

use crate::rows::{OpRow, RUN_FIGURES, collection_rows, op_rows};

/// metrics.prom of `report`.
pub fn prometheus(report: &Report) -> String {
    let mut e = Exposition::new();
    let ops = op_rows(report);
    e.family(
        "qdrant_perf_query_latency_seconds",
        MetricType::Summary,
        "Latency of one collection's query operations (search, cached_search) over the run's recorded part; quantiles from an HdrHistogram (3 significant digits), _sum is mean x count. monitoring.metrics query_latency_p50/p95/p99 per collection.",
    );
    for c in collection_rows(report) {
        summary(
            &mut e,
            "qdrant_perf_query_latency_seconds",
            &[("run", c.run), ("collection", c.collection)],
            &c.latency,
        );
    }
    e.family(
        "qdrant_perf_run_query_latency_seconds",
        MetricType::Summary,
        "Latency of all query operations of the run together, every collection; quantiles from an HdrHistogram (3 significant digits), _sum is mean x count. monitoring.metrics query_latency_p50/p95/p99 of all collections.",
    );
    for r in &report.runs {
        summary(
            &mut e,
            "qdrant_perf_run_query_latency_seconds",
            &[("run", &r.label)],
            &r.latency_ms,
        );
    }
    e.family(
        "qdrant_perf_latency_seconds",
        MetricType::Summary,
        "Client-side latency of successful requests per operation and collection over the run's recorded part; quantiles from an HdrHistogram (3 significant digits), _sum is mean x count.",
    );
    for o in &ops {
        summary(
            &mut e,
            "qdrant_perf_latency_seconds",
            &op_labels(o),
            o.latency,
        );
    }
    let counters: [OpCounter; 2] = [
        (
            "qdrant_perf_requests_total",
            "Successful requests per operation and collection in the run's recorded part.",
            |o| o.ok,
        ),
        (
            "qdrant_perf_errors_total",
            "Failed requests per operation and collection in the run's recorded part.",
            |o| o.errors,
        ),
    ];
    for (family, help, value) in counters {
        e.family(family, MetricType::Counter, help);
        for o in &ops {
            e.count(family, &op_labels(o), value(o));
        }
    }
    e.family(
        "qdrant_perf_errors_by_kind_total",
        MetricType::Counter,
        "Failed requests of the run by kind of error (http 500, timeout, connect, not sent: in-flight cap, unanswered, ...).",
    );
    for r in &report.runs {
        for (kind, k) in &r.errors_by_kind {
            e.count(
                "qdrant_perf_errors_by_kind_total",
                &[("run", &r.label), ("kind", kind)],
                k.count,
            );
        }
    }
    for figure in &RUN_FIGURES {
        e.family(figure.family, MetricType::Gauge, figure.help);
        for r in &report.runs {
            match (figure.value)(r) {
                Some(v) if figure.integer => e.count(figure.family, &[("run", &r.label)], v as u64),
                Some(v) => e.sample(figure.family, &[("run", &r.label)], v),
                None => {}
            }
        }
    }
    e.finish()
}

/// A per-operation counter family: its name, help text, and the count it reads off a row.
type OpCounter = (&'static str, &'static str, fn(&OpRow) -> u64);

/// The labels of an operation's series: run, op, collection.
fn op_labels<'a>(o: &OpRow<'a>) -> [(&'static str, &'a str); 3] {
    [("run", o.run), ("op", o.op), ("collection", o.collection)]
}

/// One summary series of a [`LatencySummary`] (milliseconds) in seconds: the quantiles
/// [`qdrant_perf_plumbing::prom::SUMMARY_QUANTILES`], `_sum` = mean x samples, `_count` = samples;
/// `NaN` quantiles without samples.
fn summary(e: &mut Exposition, name: &str, labels: &[(&str, &str)], l: &LatencySummary) {
    let s = |ms: f64| {
        if l.samples == 0 {
            f64::NAN
        } else {
            ms / 1000.0
        }
    };
    // The figures of SUMMARY_QUANTILES (a unit test keeps the two in step).
    let quantiles = [
        (0.5, s(l.p50_ms)),
        (0.9, s(l.p90_ms)),
        (0.95, s(l.p95_ms)),
        (0.99, s(l.p99_ms)),
        (0.999, s(l.p999_ms)),
    ];
    e.summary(
        name,
        labels,
        &quantiles,
        l.mean_ms * l.samples as f64 / 1000.0,
        l.samples,
    );
}
