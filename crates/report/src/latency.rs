//! The one latency summary: figures of an HdrHistogram of microseconds, in milliseconds, with
//! the sample size.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies in microseconds, from 1 µs to 60 s at 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// The figures of a latency histogram, in milliseconds, with the sample size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// 95 % intervals of the mean and percentiles (batch means over the run's seconds; see
    /// [`crate::margin`]); absent when the run was too short for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<crate::margin::LatencyCi>,
}

impl LatencySummary {
    /// The summary of `h` (recorded in microseconds); all zero for an empty histogram.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
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
            ci: None,
        }
    }

    /// `mean 0.210 ms, p50 0.180 ms, p99 0.520 ms, max 1.000 ms (n = 10000)`.
    pub fn describe(&self) -> String {
        if self.samples == 0 {
            return "no samples".into();
        }
        format!(
            "mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (n = {})",
            self.mean_ms, self.p50_ms, self.p99_ms, self.max_ms, self.samples
        )
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

    #[test]
    fn an_empty_histogram_says_so_and_round_trips() {
        let s = LatencySummary::from_histogram(&latency_histogram());
        assert_eq!(s, LatencySummary::default());
        assert_eq!(s.describe(), "no samples");
        let mut h = latency_histogram();
        h.record(1500).unwrap();
        let one = LatencySummary::from_histogram(&h);
        assert!(one.describe().contains("(n = 1)"), "{}", one.describe());
        let back: LatencySummary =
            serde_json::from_str(&serde_json::to_string(&one).unwrap()).unwrap();
        assert_eq!(back, one);
    }
}
