//! The one table of a report's rows that the Markdown summary ([`crate::markdown`]) and
//! metrics.prom ([`crate::prometheus`]) both read: per run, its figures; per operation, its
//! client, server and overhead latency; per collection, its query latency. Each rendering
//! formats these rows; neither walks the report on its own.

use qdrant_perf_report::{LatencySummary, Report, RunResult};

/// One operation of one run (`search` on `mixtral`, ...).
pub struct OpRow<'a> {
    pub run: &'a str,
    pub op: &'static str,
    pub collection: &'a str,
    pub latency: &'a LatencySummary,
    pub ok: u64,
    pub errors: u64,
    /// The server's own time and client minus server, when the responses said.
    pub server: Option<(&'a LatencySummary, &'a LatencySummary)>,
}

/// The query latency of one collection in one run (its search operations together).
pub struct CollectionRow<'a> {
    pub run: &'a str,
    pub collection: &'a str,
    pub latency: LatencySummary,
}

/// A per-run figure: its metrics.prom family, help text, and how to read it off a run.
pub struct RunFigure {
    pub family: &'static str,
    pub help: &'static str,
    /// A counter-like integer (printed without a decimal point) rather than a gauge.
    pub integer: bool,
    pub value: fn(&RunResult) -> Option<f64>,
}

/// The per-run figures of metrics.prom, in order.
pub const RUN_FIGURES: [RunFigure; 12] = [
    RunFigure {
        family: "qdrant_perf_run_throughput_ops_per_second",
        help: "Completed operations per second over the run: successful requests / elapsed seconds (monitoring.metrics throughput_qps).",
        integer: false,
        value: |r| Some(r.throughput_ops_s),
    },
    RunFigure {
        family: "qdrant_perf_requested_rate_ops_per_second",
        help: "Open loop: the request rate asked for (closed-loop runs have none).",
        integer: false,
        value: |r| r.requested_rate,
    },
    RunFigure {
        family: "qdrant_perf_error_ratio",
        help: "Failed operations as a fraction of all operations of the run (monitoring.metrics error_rate).",
        integer: false,
        value: |r| Some(r.error_rate),
    },
    RunFigure {
        family: "qdrant_perf_elapsed_seconds",
        help: "Seconds measured: from the first recorded request's due time (or start) to the last completion.",
        integer: false,
        value: |r| Some(r.elapsed_s),
    },
    RunFigure {
        family: "qdrant_perf_process_cpu_usage_ratio",
        help: "Mean CPU use of this process over the run as a fraction of the whole machine (all cores; 1 = every core busy): the embedded engine and driver, or against a server the client only (monitoring.metrics cpu_usage, there in percent).",
        integer: false,
        value: |r| r.resources.cpu_pct_mean.map(|v| v / 100.0),
    },
    RunFigure {
        family: "qdrant_perf_process_resident_memory_max_bytes",
        help: "Highest resident memory of this process seen during the run (monitoring.metrics memory_usage).",
        integer: true,
        value: |r| r.resources.rss_bytes_max.map(|v| v as f64),
    },
    RunFigure {
        family: "qdrant_perf_server_host_cpu_usage_ratio",
        help: "Against a server: mean CPU use of the server host over the run as a fraction of all its cores, from its Prometheus, node_exporter or /proc (report.json runs[].host.source says which) (monitoring.metrics cpu_usage).",
        integer: false,
        value: |r| r.host.as_ref()?.cpu_pct_mean.map(|v| v / 100.0),
    },
    RunFigure {
        family: "qdrant_perf_server_host_memory_usage_max_ratio",
        help: "Against a server: highest memory in use on the server host over the run (MemTotal - MemAvailable, or the server process's RSS for /proc) as a fraction of MemTotal (monitoring.metrics memory_usage).",
        integer: false,
        value: |r| r.host.as_ref()?.memory_pct_max.map(|v| v / 100.0),
    },
    RunFigure {
        family: "qdrant_perf_server_host_disk_read_bytes_per_second",
        help: "Against a server: bytes read from the server host's disks per second, mean over the run (node_exporter's node_disk_read_bytes_total over the disks, or the server process's /proc/<pid>/io) (monitoring.metrics disk_io).",
        integer: false,
        value: |r| r.host.as_ref()?.io.disk_read_bytes_per_s,
    },
    RunFigure {
        family: "qdrant_perf_server_host_disk_written_bytes_per_second",
        help: "Against a server: bytes written to the server host's disks per second, mean over the run (monitoring.metrics disk_io).",
        integer: false,
        value: |r| r.host.as_ref()?.io.disk_written_bytes_per_s,
    },
    RunFigure {
        family: "qdrant_perf_server_host_network_receive_bytes_per_second",
        help: "Against a server: bytes the server host received per second over every interface but lo, mean over the run (monitoring.metrics network_io).",
        integer: false,
        value: |r| r.host.as_ref()?.io.network_receive_bytes_per_s,
    },
    RunFigure {
        family: "qdrant_perf_server_host_network_transmit_bytes_per_second",
        help: "Against a server: bytes the server host sent per second over every interface but lo, mean over the run (monitoring.metrics network_io).",
        integer: false,
        value: |r| r.host.as_ref()?.io.network_transmit_bytes_per_s,
    },
];

/// Every operation of every run, in the report's order.
pub fn op_rows(report: &Report) -> Vec<OpRow<'_>> {
    report
        .runs
        .iter()
        .flat_map(|r| {
            r.operations.iter().map(move |o| OpRow {
                run: &r.label,
                op: o.op.name(),
                collection: &o.collection,
                latency: &o.latency_ms,
                ok: o.ok,
                errors: o.errors,
                server: o.server_latency_ms.as_ref().zip(o.overhead_ms.as_ref()),
            })
        })
        .collect()
}

/// Each run's query latency per collection, each collection once per run, in the order its
/// first query operation appears.
pub fn collection_rows(report: &Report) -> Vec<CollectionRow<'_>> {
    let mut rows = Vec::new();
    for r in &report.runs {
        let mut seen: Vec<&str> = Vec::new();
        for o in r.operations.iter().filter(|o| o.op.is_query()) {
            if seen.contains(&o.collection.as_str()) {
                continue;
            }
            seen.push(&o.collection);
            rows.push(CollectionRow {
                run: &r.label,
                collection: &o.collection,
                latency: r.collection_latency(&o.collection),
            });
        }
    }
    rows
}
