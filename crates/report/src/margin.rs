//! Error margins of a run's figures: 95 % confidence intervals by the method of **batch means**.
//!
//! Successive latencies of a load run are correlated (a slow second, a compaction, a GC pause
//! make runs of slow requests), so the textbook interval `s/√n` over single requests is far too
//! narrow. The batch-means method (Law & Kelton, *Simulation Modeling and Analysis*, ch. 9) cuts
//! the recorded part into `k` consecutive batches of whole seconds, computes the figure (mean,
//! p50, p95, p99, throughput) in each batch from the batch's own histogram, and treats the `k`
//! batch values as nearly independent: batches long beside the correlation's reach are. The
//! interval is the whole run's figure `± t(0.975, k−1) · s / √k`, with `s` the standard
//! deviation of the batch values, cut at zero.
//!
//! The batch length comes from the run's planned window: a tenth of it in whole seconds (at
//! least one), so a planned run has ten batches and a longer run longer batches (its interval
//! shrinks as about `1/√duration`). A run without a planned window (stopped by Ctrl-C) uses
//! one-second batches. A last batch shorter than half the others (the drain after the window)
//! joins the one before it. With fewer than [`MIN_BATCHES`] batches there is no interval: the
//! run was too short to say. A latency interval also needs a sample in every batch.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::latency::{LatencySummary, latency_histogram};

/// Fewer batches than this give no interval (`t` explodes and `s` means little).
pub const MIN_BATCHES: usize = 5;

/// Batches a planned run is cut into.
pub const BATCHES: u32 = 10;

/// A 95 % confidence interval of a figure, in the figure's unit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ci {
    pub low: f64,
    pub high: f64,
}

impl Ci {
    /// Half the interval's width: the `± x` shown beside the figure.
    pub fn half_width(&self) -> f64 {
        (self.high - self.low) / 2.0
    }

    /// `value ± half_width` as an interval, cut at zero (no figure here is negative).
    fn around(value: f64, half_width: f64) -> Self {
        Self {
            low: (value - half_width).max(0.0),
            high: value + half_width,
        }
    }
}

/// The intervals of a latency summary's mean and percentiles, with the batches they were
/// estimated from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyCi {
    /// Batches of whole seconds the recorded part was cut into.
    pub batches: u32,
    /// Seconds in each batch (the last may be longer by the run's drain).
    pub batch_s: f64,
    pub mean_ms: Ci,
    pub p50_ms: Ci,
    pub p95_ms: Ci,
    pub p99_ms: Ci,
}

/// Student's t, two-sided 95 % (the 0.975 quantile), for 1 to 30 degrees of freedom; the
/// normal 1.96 beyond.
fn t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => T[df - 1],
        _ => 1.96,
    }
}

/// The half-width of the batch-means interval of `values`: `t · s / √k`.
fn half_width(values: &[f64]) -> f64 {
    let k = values.len();
    let mean = values.iter().sum::<f64>() / k as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
    t_975(k - 1) * (var / k as f64).sqrt()
}

/// One batch's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
struct BatchFigures {
    samples: u64,
    /// Completed operations (for the throughput; may count more than the latency samples).
    ok: u64,
    secs: f64,
    mean_ms: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

struct Batch {
    hist: Histogram<u64>,
    ok: u64,
    secs: f64,
}

impl Batch {
    fn new() -> Self {
        Self {
            hist: latency_histogram(),
            ok: 0,
            secs: 0.0,
        }
    }

    /// Whether an interval has been pushed into it (every interval has a length).
    fn is_started(&self) -> bool {
        self.secs > 0.0
    }

    fn figures(&self) -> BatchFigures {
        let l = LatencySummary::from_histogram(&self.hist);
        BatchFigures {
            samples: l.samples,
            ok: self.ok,
            secs: self.secs,
            mean_ms: l.mean_ms,
            p50_ms: l.p50_ms,
            p95_ms: l.p95_ms,
            p99_ms: l.p99_ms,
        }
    }

    fn absorb(&mut self, other: &Batch) {
        self.hist.add(&other.hist).expect("same bounds");
        self.ok += other.ok;
        self.secs += other.secs;
    }
}

/// Cuts a run's seconds into batches as they come, keeping one or two histograms at a time
/// (the last complete batch waits, in case the run's short tail joins it).
pub struct Batches {
    batch_seconds: u32,
    done: Vec<BatchFigures>,
    waiting: Option<Batch>,
    current: Batch,
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Batches({} s each, {} done)",
            self.batch_seconds,
            self.done.len()
        )
    }
}

impl Batches {
    /// Batches of a tenth of `window` (whole seconds, at least one); one second without one.
    pub fn new(window: Option<Duration>) -> Self {
        let batch_seconds = window.map_or(1, |w| (w.as_secs_f64() / BATCHES as f64).floor() as u32);
        Self {
            batch_seconds: batch_seconds.max(1),
            done: Vec::new(),
            waiting: None,
            current: Batch::new(),
        }
    }

    /// One interval of the run (a second, or the shorter last one): its latency histogram
    /// (µs), the operations completed in it and its length.
    pub fn push(&mut self, hist: &Histogram<u64>, ok: u64, secs: f64) {
        self.current.hist.add(hist).expect("same bounds");
        self.current.ok += ok;
        self.current.secs += secs;
        // Closed by its length, not its count of intervals: the run's last, short interval
        // (the drain) does not make a batch of its own.
        if self.current.secs >= self.batch_seconds as f64 - 0.5 {
            let full = std::mem::replace(&mut self.current, Batch::new());
            if let Some(w) = self.waiting.replace(full) {
                self.done.push(w.figures());
            }
        }
    }

    /// The batches' figures, the run's tail (shorter than half a batch) joined to the batch
    /// before it.
    pub fn finish(mut self) -> Margins {
        let half = self.batch_seconds as f64 / 2.0;
        match self.waiting.take() {
            Some(mut w) if self.current.is_started() && self.current.secs < half => {
                w.absorb(&self.current);
                self.done.push(w.figures());
            }
            Some(w) => {
                self.done.push(w.figures());
                if self.current.is_started() {
                    self.done.push(self.current.figures());
                }
            }
            None if self.current.is_started() => self.done.push(self.current.figures()),
            None => {}
        }
        Margins {
            batch_s: self.batch_seconds as f64,
            batches: self.done,
        }
    }
}

/// The batches of a finished run, from which its intervals come.
#[derive(Clone, Debug, PartialEq)]
pub struct Margins {
    batch_s: f64,
    batches: Vec<BatchFigures>,
}

impl Margins {
    /// The number of batches.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// The intervals of `whole`'s mean and percentiles; `None` with fewer than
    /// [`MIN_BATCHES`] batches or a batch without samples.
    pub fn latency(&self, whole: &LatencySummary) -> Option<LatencyCi> {
        if self.batches.len() < MIN_BATCHES || self.batches.iter().any(|b| b.samples == 0) {
            return None;
        }
        let ci = |value: f64, of: fn(&BatchFigures) -> f64| {
            let values: Vec<f64> = self.batches.iter().map(of).collect();
            Ci::around(value, half_width(&values))
        };
        Some(LatencyCi {
            batches: self.batches.len() as u32,
            batch_s: self.batch_s,
            mean_ms: ci(whole.mean_ms, |b| b.mean_ms),
            p50_ms: ci(whole.p50_ms, |b| b.p50_ms),
            p95_ms: ci(whole.p95_ms, |b| b.p95_ms),
            p99_ms: ci(whole.p99_ms, |b| b.p99_ms),
        })
    }

    /// The interval of the throughput `whole` (ops/s); `None` with fewer than
    /// [`MIN_BATCHES`] batches.
    pub fn throughput(&self, whole: f64) -> Option<Ci> {
        if self.batches.len() < MIN_BATCHES {
            return None;
        }
        let rates: Vec<f64> = self
            .batches
            .iter()
            .map(|b| b.ok as f64 / b.secs.max(1e-9))
            .collect();
        Some(Ci::around(whole, half_width(&rates)))
    }

    /// `latency` with its interval filled in.
    pub fn with_latency_ci(&self, mut whole: LatencySummary) -> LatencySummary {
        whole.ci = self.latency(&whole);
        whole
    }
}

/// `0.52 ± 0.03` style: the value with `decimals`, and its interval's half-width when there is
/// one.
pub fn with_margin(value: f64, ci: Option<Ci>, decimals: usize) -> String {
    match ci {
        Some(ci) => format!(
            "{value:.decimals$} ± {:.decimals$}",
            ci.half_width(),
            decimals = decimals
        ),
        None => format!("{value:.decimals$}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second of `n` latencies around `us` µs, spread ±`spread` µs.
    fn second(n: u64, us: u64, spread: u64) -> Histogram<u64> {
        let mut h = latency_histogram();
        for i in 0..n {
            h.record(us - spread + (i * 2 * spread) / n.max(1)).unwrap();
        }
        h
    }

    fn run(seconds: &[Histogram<u64>], window: Option<Duration>) -> (LatencySummary, Margins) {
        let mut whole = latency_histogram();
        let mut b = Batches::new(window);
        for s in seconds {
            whole.add(s).unwrap();
            b.push(s, s.len(), 1.0);
        }
        (LatencySummary::from_histogram(&whole), b.finish())
    }

    #[test]
    fn a_steady_run_has_a_narrow_interval_around_its_figure() {
        let seconds: Vec<_> = (0..10).map(|_| second(1000, 1000, 100)).collect();
        let (whole, m) = run(&seconds, Some(Duration::from_secs(10)));
        assert_eq!(m.len(), 10);
        let ci = m.latency(&whole).unwrap();
        assert_eq!(ci.batches, 10);
        assert!(ci.p50_ms.low <= whole.p50_ms && whole.p50_ms <= ci.p50_ms.high);
        // Identical seconds: the batches agree, the interval is (nearly) a point.
        assert!(ci.p50_ms.half_width() < 0.001, "{ci:?}");
        let t = m.throughput(1000.0).unwrap();
        assert!(t.half_width() < 1e-9, "{t:?}");
    }

    #[test]
    fn seconds_that_disagree_widen_the_interval_as_t_s_over_root_k() {
        // Alternating 1 ms and 3 ms seconds: batch means 1, 3, 1, 3, ... (k = 10).
        let seconds: Vec<_> = (0..10)
            .map(|i| second(100, if i % 2 == 0 { 1000 } else { 3000 }, 10))
            .collect();
        let (whole, m) = run(&seconds, Some(Duration::from_secs(10)));
        let ci = m.latency(&whole).unwrap();
        // s of 1,3,1,3,... (10 values) = sqrt(10/9); half-width = 2.262 * s / sqrt(10).
        let expected = 2.262 * (10.0f64 / 9.0).sqrt() / 10f64.sqrt();
        assert!(
            (ci.mean_ms.half_width() - expected).abs() < 0.01,
            "{} vs {expected}",
            ci.mean_ms.half_width()
        );
        let mid = (ci.mean_ms.low + ci.mean_ms.high) / 2.0;
        assert!(
            (mid - whole.mean_ms).abs() < 1e-9,
            "centred on the whole run's mean"
        );
    }

    #[test]
    fn a_longer_run_has_longer_batches_and_a_narrower_interval() {
        let noisy = |i: u64| second(200, 1000 + (i * 7919 % 13) * 60, 50);
        let short: Vec<_> = (0..10).map(noisy).collect();
        let long: Vec<_> = (0..60).map(noisy).collect();
        let (ws, ms) = run(&short, Some(Duration::from_secs(10)));
        let (wl, ml) = run(&long, Some(Duration::from_secs(60)));
        assert_eq!((ms.len(), ml.len()), (10, 10));
        let (cs, cl) = (ms.latency(&ws).unwrap(), ml.latency(&wl).unwrap());
        assert_eq!((cs.batch_s, cl.batch_s), (1.0, 6.0));
        assert!(
            cl.mean_ms.half_width() < cs.mean_ms.half_width(),
            "60 s {cl:?} vs 10 s {cs:?}"
        );
    }

    #[test]
    fn the_drain_joins_the_last_batch_and_a_short_run_has_no_interval() {
        let mut b = Batches::new(Some(Duration::from_secs(20)));
        for _ in 0..20 {
            b.push(&second(10, 500, 5), 10, 1.0);
        }
        b.push(&second(1, 500, 0), 1, 0.3); // the drain: 0.3 s, under half a 2 s batch
        let m = b.finish();
        assert_eq!(m.len(), 10);
        assert_eq!(m.batches.last().unwrap().samples, 21);
        // With one-second batches too: a 0.02 s drain without answers joins the last second.
        let mut b = Batches::new(Some(Duration::from_secs(10)));
        for _ in 0..10 {
            b.push(&second(10, 500, 5), 10, 1.0);
        }
        b.push(&latency_histogram(), 0, 0.02);
        let m = b.finish();
        assert_eq!(m.len(), 10);
        assert!(
            m.latency(&LatencySummary::from_histogram(&second(100, 500, 5)))
                .is_some()
        );

        let (whole, m) = run(
            &(0..4).map(|_| second(10, 500, 5)).collect::<Vec<_>>(),
            Some(Duration::from_secs(4)),
        );
        assert_eq!(m.len(), 4);
        assert_eq!(m.latency(&whole), None);
        assert_eq!(m.throughput(10.0), None);
    }

    #[test]
    fn a_batch_without_samples_gives_no_latency_interval_but_a_throughput_one() {
        let mut seconds: Vec<_> = (0..6).map(|_| second(10, 500, 5)).collect();
        seconds[3] = latency_histogram();
        let (whole, m) = run(&seconds, None);
        assert_eq!(m.latency(&whole), None);
        let t = m.throughput(8.3).unwrap();
        assert!(t.half_width() > 1.0, "{t:?}");
        assert_eq!(t.low, (8.3 - t.half_width()).max(0.0));
    }

    #[test]
    fn margins_print_as_plus_minus_and_serialise_as_low_high() {
        let ci = Ci {
            low: 0.5,
            high: 0.56,
        };
        assert_eq!(with_margin(0.53, Some(ci), 2), "0.53 ± 0.03");
        assert_eq!(with_margin(0.53, None, 3), "0.530");
        assert_eq!(
            serde_json::to_string(&ci).unwrap(),
            r#"{"low":0.5,"high":0.56}"#
        );
    }
}
