//! What a run can see of the machine's resources: this process's CPU time and resident memory,
//! read from `/proc/self` once a second during a run (Linux; elsewhere the figures are absent).
//!
//! On the embedded engine this process *is* the database, so these are the engine's figures (plus
//! the driver's, which is small: see `benches/driver.rs`). Against a server they are the client's
//! only; the server's own CPU and memory are not collected yet and reports say so.

use std::time::Instant;

use qdrant_perf_plumbing::proc;
pub use qdrant_perf_plumbing::proc::{cores, load_average_1m};
pub use qdrant_perf_report::run::Resources;

/// CPU seconds (user + system, all threads) this process has used, from the kernel's clock of
/// the process (CLOCK_PROCESS_CPUTIME_ID, to the nanosecond: fine enough for the CPU time of one
/// query), else from /proc/self/stat (in clock ticks, usually 10 ms).
pub fn process_cpu_seconds() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } == 0 {
        return Some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9);
    }
    proc::self_sample().map(|s| s.cpu_seconds)
}

/// Samples CPU and RSS once per call and keeps the run's mean and maxima.
pub struct ProcessSampler {
    last: Option<(Instant, f64)>,
    first: Option<(Instant, f64)>,
    cpu_max: Option<f64>,
    rss_max: Option<u64>,
    samples: u64,
    cores: usize,
    /// (seconds since the reset, RSS) of every sample, for the growth per minute.
    rss_series: Vec<(f64, u64)>,
    started: Instant,
}

impl Default for ProcessSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessSampler {
    pub fn new() -> Self {
        let mut s = Self {
            last: None,
            first: None,
            cpu_max: None,
            rss_max: None,
            samples: 0,
            cores: cores(),
            rss_series: Vec::new(),
            started: Instant::now(),
        };
        s.reset();
        s
    }

    /// Starts the measurement from now.
    pub fn reset(&mut self) {
        // The reader `sample` uses (CPU and RSS from one read), so differences are of one clock.
        let now = proc::self_sample().map(|s| (Instant::now(), s.cpu_seconds));
        self.last = now;
        self.first = now;
        self.cpu_max = None;
        self.rss_max = None;
        self.samples = 0;
        self.rss_series.clear();
        self.started = Instant::now();
    }

    /// CPU % of the machine since the previous sample, and the current RSS.
    pub fn sample(&mut self) -> (Option<f64>, Option<u64>) {
        let sample = proc::self_sample();
        let now = sample.map(|s| (Instant::now(), s.cpu_seconds));
        let cpu = match (self.last, now) {
            (Some((t0, c0)), Some((t1, c1))) => {
                let wall = t1.duration_since(t0).as_secs_f64();
                (wall > 0.0).then(|| (c1 - c0) / wall / self.cores as f64 * 100.0)
            }
            _ => None,
        };
        self.last = now;
        let rss = sample.map(|s| s.rss_bytes);
        if let Some(c) = cpu {
            self.cpu_max = Some(self.cpu_max.map_or(c, |m: f64| m.max(c)));
        }
        if let Some(r) = rss {
            self.rss_max = Some(self.rss_max.map_or(r, |m: u64| m.max(r)));
            self.rss_series
                .push((self.started.elapsed().as_secs_f64(), r));
        }
        self.samples += 1;
        (cpu, rss)
    }

    pub fn summary(&self) -> Resources {
        let cpu_mean = match (self.first, self.last) {
            (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => {
                Some((c1 - c0) / t1.duration_since(t0).as_secs_f64() / self.cores as f64 * 100.0)
            }
            _ => None,
        };
        let total = proc::mem_total_bytes();
        Resources {
            scope: "this process".into(),
            cpu_pct_mean: cpu_mean,
            cpu_pct_max: self.cpu_max,
            rss_bytes_max: self.rss_max,
            rss_bytes_first: self.rss_series.first().map(|s| s.1),
            rss_bytes_last: self.rss_series.last().map(|s| s.1),
            rss_growth_mb_per_min: qdrant_perf_report::run::rss_growth_mb_per_min(&self.rss_series),
            memory_total_bytes: total,
            memory_pct_max: match (self.rss_max, total) {
                (Some(r), Some(t)) if t > 0 => Some(r as f64 / t as f64 * 100.0),
                _ => None,
            },
            cores: self.cores,
            samples: self.samples,
            load_average_1m: load_average_1m(),
            server: "not collected".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_seconds_of_this_process_are_finer_than_a_clock_tick() {
        if !cfg!(target_os = "linux") {
            return;
        }
        // The smallest step between two readings (other test threads burn CPU meanwhile, so
        // one step alone may be large); /proc/self/stat steps by whole ticks (10 ms at 100 Hz).
        let mut smallest = f64::INFINITY;
        let mut last = process_cpu_seconds().expect("cpu seconds");
        for _ in 0..100_000 {
            let now = process_cpu_seconds().unwrap();
            if now > last {
                smallest = smallest.min(now - last);
            }
            last = now;
        }
        assert!(smallest < 0.001, "smallest step {smallest} s");
    }

    #[test]
    fn a_sampler_sees_this_process_burn_cpu_and_hold_memory() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let mut sampler = ProcessSampler::new();
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed().as_millis() < 60 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let (cpu, rss) = sampler.sample();
        assert!(cpu.expect("cpu %") > 0.0);
        assert!(rss.expect("rss") > 1 << 20);
        let r = sampler.summary();
        assert_eq!(r.samples, 1);
        assert!(r.cpu_pct_mean.unwrap() > 0.0, "{r:?}");
        assert!(
            r.memory_pct_max.unwrap() > 0.0 && r.memory_pct_max.unwrap() < 100.0,
            "{r:?}"
        );
    }
}
