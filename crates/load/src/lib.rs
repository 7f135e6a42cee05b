//! Load drivers, latency histograms, targets and reports for qdrant-perf.
//!
//! Criterion answers "how fast is one operation"; this crate answers the deployment's questions
//! about sustained load. Latencies are recorded into HdrHistograms (bounded memory, 3 significant
//! digits), never into a sorted `Vec`, and every figure is reported beside its sample size.
//!
//! - [`driver`]: the open-loop (no coordinated omission) and closed-loop load driver over a
//!   [`driver::Target`]; [`target`] has the targets (any `Store`, an HTTP endpoint, a no-op);
//!   [`setup`] puts the collections in place the way the benches do.
//! - [`config`]: the deployment's performance-tests.yaml; [`checks`]: targets as data and the
//!   verdicts; [`validate`]: the per-collection and overall checks and the stress ramp.
//! - [`report`]: report.json, summary.md, metrics.prom and interval logs; [`merge`] sums the
//!   interval logs of several generators; [`resources`]: this process's CPU and memory.
//!
//! It does not create datasets or talk to Qdrant itself: that is the data and store crates.
//!
//! [`compare`] is the regression gate: two criterion baselines or two saved run reports, judged
//! benchmark by benchmark with a threshold and the confidence intervals. [`instructions`] counts
//! the instructions of the hot paths that need no server (under valgrind's callgrind), the
//! noise-free figure the tight gate uses.
//!
//! The tuning experiments (sweep, scale, plan) are `qdrant-perf-tune`.

pub mod checks;
pub mod compare;
pub mod config;
pub mod driver;
pub mod instructions;
pub mod machine;
pub mod merge;
pub mod report;
pub mod resources;
pub mod setup;
pub mod target;
pub mod validate;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies in microseconds, from 1 µs to 60 s at 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// The figures of a latency histogram, in milliseconds, with the sample size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            samples: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram_within_its_precision() {
        let mut h = latency_histogram();
        for us in 1..=10_000u64 {
            h.record(us).unwrap();
        }
        let s = LatencySummary::from_histogram(&h);
        assert_eq!(s.samples, 10_000);
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 0.001;
        assert!(close(s.p50_ms, 5.0), "{s:?}");
        assert!(close(s.p95_ms, 9.5), "{s:?}");
        assert!(close(s.p99_ms, 9.9), "{s:?}");
        assert!(close(s.max_ms, 10.0), "{s:?}");
        assert!(close(s.mean_ms, 5.0005), "{s:?}");
    }

    #[test]
    fn a_stall_shows_in_the_tail_not_in_the_median() {
        let mut h = latency_histogram();
        h.record_n(1_000, 990).unwrap();
        h.record_n(2_000_000, 10).unwrap();
        let s = LatencySummary::from_histogram(&h);
        assert!((s.p50_ms - 1.0).abs() < 0.01, "{s:?}");
        assert!(s.p999_ms > 1_990.0, "{s:?}");
    }
}
