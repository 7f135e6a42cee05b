//! A run [`Report`] as gate metrics: for every run and every (operation, collection) of it, the
//! latency mean, p50, p95 and p99 (ms, lower is better), the throughput (ops/s, higher is
//! better) and the error rate (lower is better), each with its sample size. Named
//! `<run>/<operation>/<collection>/<figure>`, e.g. `load/search/deepcoder/p95_ms`.
//!
//! The latency figures and the throughput carry the run's 95 % intervals (batch means, see
//! `qdrant_perf_report::margin`) when the run was long enough for them, so a change counts only
//! beyond the threshold with the intervals apart; without them (a short run, a report from
//! before margins) the threshold alone decides. Recall@10 (higher is better) is compared by the
//! threshold alone.

use qdrant_perf_report::Report;
use qdrant_perf_report::margin::{Ci, LatencyCi};

use crate::compare::{Direction, Measurement, RunReport};

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
                let ci = |of: fn(&LatencyCi) -> Ci| l.ci.as_ref().map(of);
                for (figure, value, ci) in [
                    ("mean_ms", l.mean_ms, ci(|c| c.mean_ms)),
                    ("p50_ms", l.p50_ms, ci(|c| c.p50_ms)),
                    ("p95_ms", l.p95_ms, ci(|c| c.p95_ms)),
                    ("p99_ms", l.p99_ms, ci(|c| c.p99_ms)),
                ] {
                    metrics.push(Measurement {
                        name: name(figure),
                        value,
                        unit: "ms".into(),
                        direction: Direction::LowerIsBetter,
                        ci,
                        samples: Some(l.samples),
                    });
                }
            }
            metrics.push(Measurement {
                name: name("throughput_ops_s"),
                value: op.throughput_ops_s,
                unit: "ops/s".into(),
                direction: Direction::HigherIsBetter,
                ci: op.throughput_ci,
                samples: Some(op.ok),
            });
            if let Some(recall) = op.recall_at_10 {
                metrics.push(Measurement {
                    name: name("recall_at_10"),
                    value: recall.value,
                    unit: String::new(),
                    direction: Direction::HigherIsBetter,
                    ci: None,
                    samples: Some(recall.samples),
                });
            }
            metrics.push(Measurement {
                name: name("error_rate"),
                value: qdrant_perf_report::run::error_rate(op.ok, op.errors),
                unit: String::new(),
                direction: Direction::LowerIsBetter,
                ci: None,
                samples: Some(op.ok + op.errors),
            });
        }
    }
    RunReport {
        provenance,
        metrics,
    }
}
