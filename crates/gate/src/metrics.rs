//! A run [`Report`] as gate metrics: for every run and every (operation, collection) of it, the
//! latency mean, p50, p95 and p99 (ms, lower is better), the throughput (ops/s, higher is
//! better) and the error rate (lower is better), each with its sample size. Named
//! `<run>/<operation>/<collection>/<figure>`, e.g. `load/search/deepcoder/p95_ms`.
//!
//! The figures carry no confidence interval (a report keeps percentiles, not their spread), so
//! the threshold alone decides a change.

use qdrant_perf_report::Report;

use crate::compare::{Direction, Metric, RunReport};

/// The metrics of every operation of every run in `report`, with its provenance (and target)
/// as flat facts.
pub fn report_metrics(report: &Report) -> RunReport {
    let mut provenance = report.provenance.to_map();
    provenance.insert("command".into(), report.command.clone().into());
    provenance.insert("target".into(), report.target.kind.clone().into());
    if let Some(url) = &report.target.url {
        provenance.insert("target_url".into(), url.clone().into());
    }
    let mut metrics = Vec::new();
    for run in &report.runs {
        for op in &run.operations {
            let name = |figure: &str| format!("{}/{}/{}/{figure}", run.label, op.op, op.collection);
            let l = &op.latency_ms;
            if l.samples > 0 {
                for (figure, value) in [
                    ("mean_ms", l.mean_ms),
                    ("p50_ms", l.p50_ms),
                    ("p95_ms", l.p95_ms),
                    ("p99_ms", l.p99_ms),
                ] {
                    metrics.push(Metric {
                        name: name(figure),
                        value,
                        unit: "ms".into(),
                        direction: Direction::LowerIsBetter,
                        ci: None,
                        samples: Some(l.samples),
                    });
                }
            }
            metrics.push(Metric {
                name: name("throughput_ops_s"),
                value: op.throughput_ops_s,
                unit: "ops/s".into(),
                direction: Direction::HigherIsBetter,
                ci: None,
                samples: Some(op.ok),
            });
            let requests = op.ok + op.errors;
            metrics.push(Metric {
                name: name("error_rate"),
                value: if requests == 0 {
                    0.0
                } else {
                    op.errors as f64 / requests as f64
                },
                unit: String::new(),
                direction: Direction::LowerIsBetter,
                ci: None,
                samples: Some(requests),
            });
        }
    }
    RunReport {
        provenance,
        metrics,
    }
}
