//! The scalability curve: the same workload (the deployment's index, top-k at its ef) at growing
//! N, reporting latency, recall, build time and bytes per vector (RAM and disk) at each N, the
//! fitted growth (latency vs log N, memory vs N) and an SVG plot.
//!
//! Before each step the free memory (`MemAvailable`) is compared with an estimate of what the
//! step needs with each storage ([`Storage`]): vectors in RAM, vectors on disk (mmap), int8 codes
//! in RAM with the originals on disk (re-scored), binary codes in RAM with the originals on disk
//! (over-sampled and re-scored). With `--storage auto` a step that would not fit with the current
//! storage switches to the next one that does (never back); with a fixed storage, or when none
//! fits, the step is skipped with a note (and so are the larger ones), never started into an
//! out-of-memory kill.
//!
//! Every fit is back-tested: fitted on the steps below the largest one, it predicts the largest,
//! and the relative error of that prediction is reported beside the fit and beside its
//! extrapolation to `predict` vectors (100M by default), which is labelled an extrapolation.
//! The fits use only the steps stored like the largest step: a line through two storages would
//! describe the switch, not the growth.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use qdrant_perf_data::{Dataset, DatasetCache, DatasetSpec, LoadedFrom, Metric};
use qdrant_perf_store::{AnyStore, CollectionSpec, HnswParams, Store};
use serde::{Deserialize, Serialize};

use crate::sweep::{
    MemoryBreakdown, QuantKind, SearchSetting, SweepError, build, choose_full_scan_threshold,
    measure_search, save_json,
};
use qdrant_perf_plumbing::human_bytes;
use qdrant_perf_render::chart;
use qdrant_perf_report::{LatencySummary, Provenance};

/// The default sizes: 10k, 30k, 100k, 300k.
pub const DEFAULT_STEPS: [usize; 4] = [10_000, 30_000, 100_000, 300_000];

/// Memory kept free beside a step's estimate (the OS, the page cache the engine reads through,
/// other processes starting meanwhile).
pub const HEADROOM_BYTES: u64 = 512 << 20;

/// The size every fit is extrapolated to by default: the deployment's `targets.scalability`.
pub const DEFAULT_PREDICT: u64 = 100_000_000;

/// Candidates fetched per result with binary codes before re-scoring with the originals.
pub const BINARY_OVERSAMPLING: f64 = 3.0;

/// Where a step keeps its vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// float32 vectors in RAM (`on_disk: false`), no quantization: the deployment's setting.
    Ram,
    /// float32 vectors memory-mapped from disk (`on_disk: true`), no quantization.
    Disk,
    /// int8 scalar codes in RAM (`always_ram`), originals on disk; results re-scored with them.
    Int8,
    /// Binary codes (one bit per dimension) in RAM, originals on disk; `k ×`
    /// [`BINARY_OVERSAMPLING`] candidates re-scored with the originals.
    Binary,
}

impl Storage {
    /// The order `auto` switches through as N grows: each needs less RAM than the one before.
    pub const AUTO_ORDER: [Storage; 4] =
        [Storage::Ram, Storage::Disk, Storage::Int8, Storage::Binary];

    pub fn name(self) -> &'static str {
        match self {
            Storage::Ram => "ram",
            Storage::Disk => "disk",
            Storage::Int8 => "int8",
            Storage::Binary => "binary",
        }
    }

    /// The collection setting.
    pub fn apply(self, spec: CollectionSpec) -> CollectionSpec {
        let codes = match self {
            Storage::Ram | Storage::Disk => QuantKind::None,
            Storage::Int8 => QuantKind::Int8,
            Storage::Binary => QuantKind::Binary,
        };
        CollectionSpec {
            on_disk: self != Storage::Ram,
            ..spec.with_quantization(codes.quantization())
        }
    }

    /// The search setting: (rescore, oversampling).
    pub fn search_params(self) -> (Option<bool>, Option<f64>) {
        match self {
            Storage::Ram | Storage::Disk => (None, None),
            Storage::Int8 => (Some(true), None),
            Storage::Binary => (Some(true), Some(BINARY_OVERSAMPLING)),
        }
    }

    /// Bytes per vector this storage's engine copy needs resident: the float32 vector for `ram`
    /// and `disk` (for `disk`, as page cache: a step searched from a disk with less cache than its
    /// vectors measures the disk, not the index), the int8 codes (one byte per dimension plus a
    /// 4-byte correction) or the binary codes (one bit per dimension) for the quantized ones.
    pub fn resident_bytes_per_vector(self, dim: usize) -> u64 {
        match self {
            Storage::Ram | Storage::Disk => (dim * 4) as u64,
            Storage::Int8 => dim as u64 + 4,
            Storage::Binary => dim.div_ceil(8) as u64,
        }
    }

    /// Copies of the resident part alive at the peak of a build: two where the appendable
    /// segment and the optimized one both hold it in RAM (`ram`, and the codes of `int8` and
    /// `binary`), one for `disk` (the copies are files; one of them must be cached to search).
    pub fn copies_at_peak(self) -> u64 {
        if self == Storage::Disk { 1 } else { 2 }
    }
}

/// `auto` (switch as needed) or one fixed storage (never switches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageChoice {
    Auto,
    Fixed(Storage),
}

impl StorageChoice {
    pub fn name(self) -> &'static str {
        match self {
            StorageChoice::Auto => "auto",
            StorageChoice::Fixed(s) => s.name(),
        }
    }

    pub fn from_name(s: &str) -> Result<Self, String> {
        let s = s.trim().to_lowercase();
        let fixed = Storage::AUTO_ORDER.into_iter().find(|f| f.name() == s);
        match fixed {
            Some(f) => Ok(StorageChoice::Fixed(f)),
            None if s == "auto" => Ok(StorageChoice::Auto),
            None => Err(format!(
                "unknown storage {s:?}: expected auto, ram, disk, int8 or binary"
            )),
        }
    }

    /// The storages a run may use, in switching order. Binary codes keep one sign bit per
    /// dimension, which cannot rank by Euclidean distance: `auto` leaves them out there.
    pub fn candidates(self, metric: Metric) -> Vec<Storage> {
        match self {
            StorageChoice::Fixed(s) => vec![s],
            StorageChoice::Auto => Storage::AUTO_ORDER
                .into_iter()
                .filter(|&s| !(s == Storage::Binary && metric == Metric::Euclid))
                .collect(),
        }
    }
}

/// The sizes from `DEFAULT_STEPS` extended by ×√10 steps (1M, 3M, ...) up to `max`.
pub fn steps_up_to(max: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = Vec::new();
    let mut n = DEFAULT_STEPS[0];
    let mut i = 0;
    while n <= max {
        steps.push(n);
        i += 1;
        n = if i % 2 == 1 { n * 3 } else { n / 3 * 10 };
    }
    if steps.last() != Some(&max) && max > 0 {
        steps.push(max);
    }
    steps
}

/// Bytes a step needs at its peak with `storage`: the dataset in this process (points,
/// queries, ground truth: always float32 in RAM), the engine's resident copy
/// ([`Storage::resident_bytes_per_vector`] × N × [`Storage::copies_at_peak`]), the graph
/// (layer 0: 2m links of 4 bytes; upper layers ~1/m of that) twice while it is built, and a
/// fixed headroom.
pub fn estimate_step_bytes(
    points: usize,
    dim: usize,
    queries: usize,
    m: usize,
    storage: Storage,
) -> u64 {
    let vectors = (points * dim * 4) as u64;
    let dataset = vectors + (queries * dim * 4) as u64 + (queries * 100 * 8) as u64;
    let engine = points as u64 * storage.resident_bytes_per_vector(dim) * storage.copies_at_peak();
    let links = points as u64 * (2 * m as u64 * 4 + 4 * m as u64 / m.max(2) as u64) * 2;
    dataset + engine + links + HEADROOM_BYTES
}

/// Whether a step runs, and with which storage.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum StepDecision {
    Run {
        storage: Storage,
        estimate_bytes: u64,
        /// Why the storages before it were passed over (empty when the first fits).
        switched: Option<String>,
    },
    Skip {
        reason: String,
    },
}

/// The first of `candidates` whose estimate fits in `available` bytes (`None`: unknown, the
/// first runs and that is said elsewhere); a skip naming every estimate when none fits.
pub fn decide_step(
    points: usize,
    dim: usize,
    queries: usize,
    m: usize,
    candidates: &[Storage],
    available: Option<u64>,
) -> StepDecision {
    let mut passed = Vec::new();
    for &storage in candidates {
        let needed = estimate_step_bytes(points, dim, queries, m, storage);
        match available {
            Some(avail) if needed > avail => {
                passed.push(format!(
                    "{} needs about {}",
                    storage.name(),
                    human_bytes(needed as f64)
                ));
            }
            _ => {
                return StepDecision::Run {
                    storage,
                    estimate_bytes: needed,
                    switched: (!passed.is_empty()).then(|| {
                        format!(
                            "N={points}: {} (estimates) but only {} is available (MemAvailable): \
                             switched to {} (about {})",
                            passed.join(", "),
                            human_bytes(available.unwrap_or(0) as f64),
                            storage.name(),
                            human_bytes(needed as f64)
                        )
                    }),
                };
            }
        }
    }
    StepDecision::Skip {
        reason: format!(
            "{points} points at {dim} dimensions: {} (estimates) but only {} is available \
             (MemAvailable); skipped rather than risk an out-of-memory kill. Free memory, lower \
             --max{}",
            passed.join(", "),
            human_bytes(available.unwrap_or(0) as f64),
            if candidates.len() < Storage::AUTO_ORDER.len() - 1 {
                " or use --storage auto"
            } else {
                ""
            }
        ),
    }
}

/// A least-squares line `y = intercept + slope × x`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    pub intercept: f64,
    pub slope: f64,
    /// Coefficient of determination (1 = a perfect line).
    pub r2: f64,
    pub samples: usize,
}

impl Fit {
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Least squares over `(x, y)`; `None` with fewer than two distinct x.
pub fn fit_line(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_tot: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let ss_res: f64 = points
        .iter()
        .map(|p| (p.1 - (intercept + slope * p.0)).powi(2))
        .sum();
    Some(Fit {
        intercept,
        slope,
        r2: if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else {
            1.0
        },
        samples: points.len(),
    })
}

/// What a fit's x is: the latency grows with ln N (HNSW visits ~log N nodes), bytes and build
/// time with N.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FitX {
    LnN,
    N,
}

impl FitX {
    pub fn of(self, n: f64) -> f64 {
        match self {
            FitX::LnN => n.ln(),
            FitX::N => n,
        }
    }
}

/// The fit's test: the line fitted on every step but the largest, asked for the largest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// The sizes the line was fitted on.
    pub fitted_on: Vec<usize>,
    /// The size it predicted (the largest measured).
    pub points: usize,
    pub predicted: f64,
    pub measured: f64,
    /// (predicted − measured) / measured: negative when the line under-predicts.
    pub relative_error: f64,
}

/// A fit's value far beyond the measured sizes: an extrapolation, not a measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extrapolation {
    /// Always "extrapolation".
    pub label: String,
    pub points: u64,
    pub value: f64,
    /// The back-test's relative error (`None` with fewer than three sizes).
    pub backtest_relative_error: Option<f64>,
}

/// A fit over every step of one storage, its back-test and its extrapolation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckedFit {
    #[serde(flatten)]
    pub fit: Fit,
    pub x: FitX,
    pub backtest: Option<Backtest>,
    pub extrapolation: Extrapolation,
}

/// Fits `y` against `x(N)` over `samples` (N, y), back-tests it when there are three sizes or
/// more, and extrapolates it to `predict`. `None` with fewer than two distinct sizes.
pub fn checked_fit(samples: &[(usize, f64)], x: FitX, predict: u64) -> Option<CheckedFit> {
    let mut samples = samples.to_vec();
    samples.sort_by_key(|s| s.0);
    let line = |s: &[(usize, f64)]| {
        fit_line(
            &s.iter()
                .map(|&(n, y)| (x.of(n as f64), y))
                .collect::<Vec<_>>(),
        )
    };
    let fit = line(&samples)?;
    let backtest = match samples.split_last() {
        Some((&(n, measured), rest)) if rest.len() >= 2 => line(rest).and_then(|f| {
            let predicted = f.at(x.of(n as f64));
            (measured != 0.0).then(|| Backtest {
                fitted_on: rest.iter().map(|s| s.0).collect(),
                points: n,
                predicted,
                measured,
                relative_error: (predicted - measured) / measured,
            })
        }),
        _ => None,
    };
    Some(CheckedFit {
        fit,
        x,
        extrapolation: Extrapolation {
            label: "extrapolation".into(),
            points: predict,
            value: fit.at(x.of(predict as f64)),
            backtest_relative_error: backtest.as_ref().map(|b| b.relative_error),
        },
        backtest,
    })
}

/// One measured size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleStep {
    pub points: usize,
    /// The step's dataset's LID and RC (see [`qdrant_perf_data::Hardness`]).
    pub hardness: Option<qdrant_perf_data::Hardness>,
    /// Where the vectors were kept.
    pub storage: Storage,
    /// The search's quantization setting (with int8 and binary codes).
    pub rescore: Option<bool>,
    pub oversampling: Option<f64>,
    pub build_seconds: f64,
    pub index_seconds: f64,
    pub segments: usize,
    pub mode: String,
    pub recall: f64,
    pub latency: LatencySummary,
    pub qps_single: f64,
    pub qps_all: f64,
    pub threads: usize,
    pub queries: usize,
    pub memory: Option<MemoryBreakdown>,
    /// Bytes the storage keeps in RAM per vector: the graph and the quantized codes, plus the
    /// float32 vectors with `ram` storage (with the others they are files on disk).
    pub ram_bytes_per_vector: Option<f64>,
    /// Every file of the collection per vector.
    pub disk_bytes_per_vector: Option<f64>,
    /// Bytes the step was estimated to need with its storage, and MemAvailable before it.
    pub estimate_bytes: u64,
    pub available_bytes: Option<u64>,
}

/// Resident bytes of a built collection with `storage` (see [`ScaleStep::ram_bytes_per_vector`]).
pub fn ram_bytes(memory: &MemoryBreakdown, storage: Storage) -> u64 {
    memory.index_bytes
        + memory.quantized_bytes
        + if storage == Storage::Ram {
            memory.vectors_bytes
        } else {
            0
        }
}

/// The fitted growth of the curve, over the steps stored like the largest one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Growth {
    /// The storage of the steps fitted (that of the largest measured step).
    pub storage: Option<Storage>,
    /// The sizes fitted; steps with another storage are measured but not fitted.
    pub steps_fitted: Vec<usize>,
    /// p50 latency (ms) against ln N.
    pub p50_ms_vs_ln_n: Option<CheckedFit>,
    /// p99 latency (ms) against ln N.
    pub p99_ms_vs_ln_n: Option<CheckedFit>,
    /// Resident bytes against N: the slope is bytes per vector, the intercept fixed overhead.
    pub ram_bytes_vs_n: Option<CheckedFit>,
    pub disk_bytes_vs_n: Option<CheckedFit>,
    /// Upload plus index build, seconds, against N.
    pub build_seconds_vs_n: Option<CheckedFit>,
}

impl Growth {
    /// Fits every figure over the steps with the largest step's storage.
    pub fn of(steps: &[ScaleStep], predict: u64) -> Self {
        let storage = steps.iter().max_by_key(|s| s.points).map(|s| s.storage);
        let fitted: Vec<&ScaleStep> = steps
            .iter()
            .filter(|s| Some(s.storage) == storage)
            .collect();
        let fit = |y: &dyn Fn(&ScaleStep) -> Option<f64>, x: FitX| {
            let samples: Vec<(usize, f64)> = fitted
                .iter()
                .filter_map(|s| y(s).map(|v| (s.points, v)))
                .collect();
            checked_fit(&samples, x, predict)
        };
        Growth {
            storage,
            steps_fitted: fitted.iter().map(|s| s.points).collect(),
            p50_ms_vs_ln_n: fit(&|s| Some(s.latency.p50_ms), FitX::LnN),
            p99_ms_vs_ln_n: fit(&|s| Some(s.latency.p99_ms), FitX::LnN),
            ram_bytes_vs_n: fit(
                &|s| s.memory.as_ref().map(|m| ram_bytes(m, s.storage) as f64),
                FitX::N,
            ),
            disk_bytes_vs_n: fit(&|s| s.memory.as_ref().map(|m| m.disk_bytes as f64), FitX::N),
            build_seconds_vs_n: fit(&|s| Some(s.build_seconds), FitX::N),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ScaleReport {
    pub kind: &'static str,
    pub provenance: std::collections::BTreeMap<String, serde_json::Value>,
    pub engine: String,
    pub dim: usize,
    pub distribution: String,
    pub metric: String,
    pub k: usize,
    pub ef: usize,
    pub hnsw: HnswParams,
    /// `--storage`: `auto`, or the one storage every step used.
    pub storage: &'static str,
    /// The size every fit is extrapolated to.
    pub predict: u64,
    pub notes: Vec<String>,
    pub skipped: Vec<(usize, String)>,
    pub complete: bool,
    pub steps: Vec<ScaleStep>,
    pub growth: Growth,
}

/// What to measure at each size.
pub struct ScaleConfig {
    /// Dataset template; `points` is replaced by each step's N.
    pub dataset: DatasetSpec,
    pub steps: Vec<usize>,
    pub k: usize,
    pub ef: usize,
    pub hnsw: HnswParams,
    pub segments: usize,
    pub threads: usize,
    pub json: PathBuf,
    pub prefix: String,
    pub storage: StorageChoice,
    /// The size the fits are extrapolated to (`targets.scalability`: 100M).
    pub predict: u64,
    /// A user's own dataset (`--dataset`): each step N runs on its first N train vectors and
    /// their test vectors (exact truth for that N, computed and cached), instead of `dataset`.
    pub user: Option<std::sync::Arc<qdrant_perf_data::UserData>>,
}

fn pct(e: f64) -> String {
    format!("{:+.1} %", e * 100.0)
}

fn count(n: f64) -> String {
    if n >= 1e6 && (n / 1e6).fract() == 0.0 {
        format!("{}M", n / 1e6)
    } else if n >= 1e3 && (n / 1e3).fract() == 0.0 {
        format!("{}k", n / 1e3)
    } else {
        format!("{n}")
    }
}

impl ScaleReport {
    pub fn table(&self) -> String {
        let mut s = String::from(
            "|      N | storage | recall | p50 ms | p99 ms |  QPS 1 | QPS all | build s | segs | mode | RAM B/vec | disk B/vec |\n\
             |-------:|---------|-------:|-------:|-------:|-------:|--------:|--------:|-----:|------|----------:|-----------:|\n",
        );
        for st in &self.steps {
            let f = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.0}"));
            s.push_str(&format!(
                "| {:>6} | {:<7} | {:.4} | {:>6.3} | {:>6.3} | {:>6.0} | {:>7.0} | {:>7.1} | {:>4} | {} | {:>9} | {:>10} |\n",
                st.points,
                st.storage.name(),
                st.recall,
                st.latency.p50_ms,
                st.latency.p99_ms,
                st.qps_single,
                st.qps_all,
                st.build_seconds,
                st.segments,
                st.mode,
                f(st.ram_bytes_per_vector),
                f(st.disk_bytes_per_vector),
            ));
        }
        s
    }

    /// The fitted lines in words: each with its back-test and its extrapolation, labelled so.
    pub fn growth_text(&self) -> String {
        let g = &self.growth;
        let Some(storage) = g.storage else {
            return String::new();
        };
        let sizes: Vec<String> = g.steps_fitted.iter().map(|&n| count(n as f64)).collect();
        let mut s = format!(
            "fits over the {} steps with {} storage (N = {}){}\n",
            g.steps_fitted.len(),
            storage.name(),
            sizes.join(", "),
            if g.steps_fitted.len() < self.steps.len() {
                "; steps with other storage are measured above but not fitted"
            } else {
                ""
            }
        );
        let at = count(self.predict as f64);
        let line = |s: &mut String, name, f: &Option<CheckedFit>, show: &dyn Fn(f64) -> String| {
            let Some(f) = f else {
                return;
            };
            let x = match f.x {
                FitX::LnN => "ln N",
                FitX::N => "N",
            };
            s.push_str(&format!(
                "{name} ≈ {} + {} × {x} (R² {:.3}, {} sizes)",
                show(f.fit.intercept),
                show(f.fit.slope),
                f.fit.r2,
                f.fit.samples
            ));
            match &f.backtest {
                Some(b) => s.push_str(&format!(
                    "; back-test: fitted on N ≤ {}, predicts {} at N = {}, measured {}: error {}",
                    count(*b.fitted_on.last().unwrap_or(&0) as f64),
                    show(b.predicted),
                    count(b.points as f64),
                    show(b.measured),
                    pct(b.relative_error)
                )),
                None => s.push_str("; back-test: n/a (needs three sizes)"),
            }
            s.push_str(&format!(
                "; extrapolation to N = {at}: {} ({})\n",
                show(f.extrapolation.value),
                f.extrapolation.backtest_relative_error.map_or(
                    "back-test error unknown".into(),
                    |e| format!("back-test error {}", pct(e))
                )
            ));
        };
        let ms = |v: f64| format!("{v:.3} ms");
        let bytes = |v: f64| {
            if v.abs() >= 1e4 {
                human_bytes(v.max(0.0))
            } else {
                format!("{v:.0} B")
            }
        };
        let secs = |v: f64| {
            if v.abs() >= 0.01 {
                format!("{v:.1} s")
            } else {
                format!("{:.3} ms", v * 1e3)
            }
        };
        line(&mut s, "p50 latency", &g.p50_ms_vs_ln_n, &ms);
        line(&mut s, "p99 latency", &g.p99_ms_vs_ln_n, &ms);
        line(&mut s, "RAM", &g.ram_bytes_vs_n, &bytes);
        line(&mut s, "disk", &g.disk_bytes_vs_n, &bytes);
        line(&mut s, "build time", &g.build_seconds_vs_n, &secs);
        s.push_str(&format!(
            "(extrapolations to N = {at} are not measurements: one machine, one segment's graph; \
             the back-test error is how far the same line missed the largest measured step)\n"
        ));
        s
    }

    /// Latency and recall vs N (left), bytes per vector vs N (right), one series per storage.
    fn panels(&self) -> [chart::Panel; 4] {
        let mut storages: Vec<Storage> = Vec::new();
        for s in &self.steps {
            if !storages.contains(&s.storage) {
                storages.push(s.storage);
            }
        }
        let series = |label: &str, f: &dyn Fn(&ScaleStep) -> Option<f64>| -> Vec<chart::Series> {
            storages
                .iter()
                .map(|&storage| chart::Series {
                    label: format!("{label} ({})", storage.name()),
                    points: self
                        .steps
                        .iter()
                        .filter(|s| s.storage == storage)
                        .filter_map(|s| f(s).map(|y| (s.points as f64, y)))
                        .collect(),
                    line: true,
                })
                .collect()
        };
        let panel = |title: String, y_label: &str, series: Vec<chart::Series>| chart::Panel {
            title,
            x_label: "stored vectors N (log)".into(),
            y_label: y_label.into(),
            series,
            x_axis: chart::Axis::Log,
            y_axis: chart::Axis::Linear,
        };
        [
            panel(
                format!(
                    "search latency vs N ({} d, m={}, ef={})",
                    self.dim, self.hnsw.m, self.ef
                ),
                "latency, ms",
                [
                    series("p50", &|s| Some(s.latency.p50_ms)),
                    series("p99", &|s| Some(s.latency.p99_ms)),
                ]
                .concat(),
            ),
            panel(
                "bytes per vector vs N".into(),
                "bytes per vector",
                [
                    series("RAM", &|s| s.ram_bytes_per_vector),
                    series("disk", &|s| s.disk_bytes_per_vector),
                ]
                .concat(),
            ),
            panel(
                format!("recall@{} vs N", self.k),
                &format!("recall@{}", self.k),
                series("recall", &|s| Some(s.recall)),
            ),
            panel(
                "build time vs N".into(),
                "upload + index, s",
                series("build", &|s| Some(s.build_seconds)),
            ),
        ]
    }

    pub fn write_svg(&self, path: &Path) -> Result<(), SweepError> {
        crate::sweep::write_svg(path, &self.panels())
    }

    /// The curve as a self-contained page: the four charts, the steps, the fitted growth, the
    /// notes and the provenance.
    pub fn write_html(&self, path: &Path) -> Result<(), SweepError> {
        let tables = [("Steps", self.table())];
        let mut notes = self.notes.clone();
        notes.extend(self.growth_text().lines().map(str::to_string));
        crate::sweep::results_page(
            path,
            "qdrant-perf scale",
            &format!(
                "search latency, memory, recall and build time as the collection grows: {} d, {}, {}, m={}, ef={}, k={}; fits extrapolated to {}.",
                self.dim,
                self.distribution,
                self.metric,
                self.hnsw.m,
                self.ef,
                self.k,
                self.predict
            ),
            &self.panels(),
            &tables,
            &notes,
            &self.provenance,
        )
    }
}

/// Runs every step that fits in memory, smallest first, with the first storage (from the
/// current one on) whose estimate fits; after the first step that fits with none, the larger ones
/// are skipped too. `available` reads free memory (MemAvailable) before each step.
pub async fn run_scale(
    store: Arc<AnyStore>,
    cache: &DatasetCache,
    config: &ScaleConfig,
    available: &dyn Fn() -> Option<u64>,
    stop: &AtomicBool,
    mut progress: impl FnMut(&str),
) -> Result<ScaleReport, SweepError> {
    let mut report = empty_report(&store, config);
    let dim = config.dataset.dim;
    let candidates = config.storage.candidates(config.dataset.metric);
    // Index into `candidates` of the storage in use: a later step never switches back.
    let mut current = 0;
    let mut out_of_memory = false;
    for &n in &config.steps {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if out_of_memory {
            report.skipped.push((
                n,
                "a smaller step did not fit in free memory; larger ones are skipped".into(),
            ));
            continue;
        }
        let avail = available();
        let (storage, estimate) = match decide_step(
            n,
            dim,
            config.dataset.queries,
            config.hnsw.m,
            &candidates[current..],
            avail,
        ) {
            StepDecision::Skip { reason } => {
                progress(&format!("skipped N={n}: {reason}"));
                report.skipped.push((n, reason));
                out_of_memory = true;
                save_json(&report, &config.json)?;
                continue;
            }
            StepDecision::Run {
                storage,
                estimate_bytes,
                switched,
            } => {
                if let Some(note) = switched {
                    progress(&note);
                    report.notes.push(note);
                }
                current = candidates
                    .iter()
                    .position(|&c| c == storage)
                    .unwrap_or(current);
                (storage, estimate_bytes)
            }
        };
        let planned = (n, storage, estimate, avail);
        let step = run_step(
            &store,
            cache,
            config,
            planned,
            &mut report.notes,
            &mut progress,
        )
        .await?;
        progress(&format!(
            "N={n}: {} storage, recall {:.4}, p50 {:.3} ms, p99 {:.3} ms, build {:.1} s, {} segment(s), {}",
            step.storage.name(),
            step.recall,
            step.latency.p50_ms,
            step.latency.p99_ms,
            step.build_seconds,
            step.segments,
            step.mode
        ));
        report.steps.push(step);
        report.growth = Growth::of(&report.steps, report.predict);
        save_json(&report, &config.json)?;
    }
    report.complete = !stop.load(Ordering::SeqCst);
    save_json(&report, &config.json)?;
    Ok(report)
}

/// The report before any step: `config`'s workload on `store`'s engine.
fn empty_report(store: &AnyStore, config: &ScaleConfig) -> ScaleReport {
    ScaleReport {
        kind: "qdrant-perf scale",
        provenance: Provenance::capture().to_map(),
        engine: store.engine_version(),
        dim: config.dataset.dim,
        distribution: config.dataset.distribution.name().into(),
        metric: config.dataset.metric.name().into(),
        k: config.k,
        ef: config.ef,
        hnsw: config.hnsw,
        storage: config.storage.name(),
        predict: config.predict,
        notes: Vec::new(),
        skipped: Vec::new(),
        complete: false,
        steps: Vec::new(),
        growth: Growth::of(&[], config.predict),
    }
}

/// One step of `n` points with `storage`, which `decide_step` estimated at `estimate_bytes` with
/// `available_bytes` free: builds its collection of the step's dataset (the first `n` of the
/// user's files, or the template's from the cache or generated), measures its search and drops
/// it.
async fn run_step(
    store: &Arc<AnyStore>,
    cache: &DatasetCache,
    config: &ScaleConfig,
    (n, storage, estimate_bytes, available_bytes): (usize, Storage, u64, Option<u64>),
    notes: &mut Vec<String>,
    progress: &mut impl FnMut(&str),
) -> Result<ScaleStep, SweepError> {
    let spec = DatasetSpec {
        points: n,
        ..config.dataset.clone()
    };
    let dataset = match &config.user {
        Some(user) => {
            let wanted = qdrant_perf_data::MetricWanted::new(spec.metric, "the scale run");
            user.head_dataset(Some(&wanted), spec.k, n)?
        }
        None => Dataset::load_or_generate(&spec, cache)?,
    };
    let dim = spec.dim;
    let (fst, note) =
        choose_full_scan_threshold(config.hnsw.full_scan_threshold, n, dim, config.segments);
    if let Some(note) = note {
        let note = format!("N={n}: {note}");
        progress(&note);
        notes.push(note);
    }
    let hnsw = HnswParams {
        full_scan_threshold: fst,
        ..config.hnsw
    };
    let collection = storage.apply(CollectionSpec {
        segments: Some(config.segments),
        ..CollectionSpec::new(format!("{}scale_{n}", config.prefix), dim, spec.metric)
            .with_hnsw(hnsw)
    });
    progress(&format!(
        "N={n}: dataset {} ({}; {}), building with {} storage...",
        dataset.spec.hash(),
        dataset.describe_hardness(),
        match dataset.loaded_from {
            LoadedFrom::Cache { .. } => "from cache",
            LoadedFrom::User(_) => "the user's files",
            _ => "generated",
        },
        storage.name()
    ));
    let built = build(store, &collection, &dataset).await?;
    let (rescore, oversampling) = storage.search_params();
    let search = SearchSetting {
        ef: config.ef,
        rescore,
        oversampling,
    };
    let name = &collection.name;
    let m = measure_search(store, name, &dataset, search, config.k, config.threads).await?;
    store.drop_owned(name).await?;
    let memory = built.memory;
    Ok(ScaleStep {
        points: n,
        hardness: dataset.hardness().ok(),
        storage,
        rescore,
        oversampling,
        build_seconds: built.seconds,
        index_seconds: built.index_seconds,
        segments: built.segments,
        mode: built.mode.into(),
        recall: m.recall,
        latency: m.latency,
        qps_single: m.qps_single,
        qps_all: m.qps_all,
        threads: m.threads,
        queries: m.queries,
        ram_bytes_per_vector: memory
            .as_ref()
            .map(|b| ram_bytes(b, storage) as f64 / n as f64),
        disk_bytes_per_vector: memory.as_ref().map(|b| b.disk_bytes as f64 / n as f64),
        memory,
        estimate_bytes,
        available_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_perf_store::Quantization;

    #[test]
    fn steps_grow_by_about_square_root_of_ten() {
        assert_eq!(steps_up_to(300_000), DEFAULT_STEPS.to_vec());
        assert_eq!(
            steps_up_to(1_000_000),
            vec![10_000, 30_000, 100_000, 300_000, 1_000_000]
        );
        assert_eq!(steps_up_to(50_000), vec![10_000, 30_000, 50_000]);
    }

    #[test]
    fn the_estimate_counts_the_dataset_two_engine_copies_and_the_graph() {
        // 100k × 768 d: vectors 307,200,000 B; queries 1,000 × 768 × 4 = 3,072,000 B; truth
        // 800,000 B; links 100k × (128 + 4) × 2 = 26,400,000 B; headroom 512 MiB.
        let fixed = 307_200_000 + 3_072_000 + 800_000 + 26_400_000 + (512 << 20);
        let e = |s| estimate_step_bytes(100_000, 768, 1_000, 16, s);
        assert_eq!(e(Storage::Ram), fixed + 2 * 307_200_000);
        // On disk: one cached copy of the float vectors.
        assert_eq!(e(Storage::Disk), fixed + 307_200_000);
        // int8: 768 + 4 bytes per vector, twice while built.
        assert_eq!(e(Storage::Int8), fixed + 2 * 100_000 * 772);
        // binary: 96 bytes per vector, twice.
        assert_eq!(e(Storage::Binary), fixed + 2 * 100_000 * 96);
        // Each storage of the switching order needs less than the one before.
        for w in Storage::AUTO_ORDER.windows(2) {
            assert!(e(w[0]) > e(w[1]), "{w:?}");
        }
    }

    #[test]
    fn a_step_that_would_not_fit_is_skipped_with_the_figures() {
        let ram = [Storage::Ram];
        let need = estimate_step_bytes(300_000, 768, 1_000, 16, Storage::Ram);
        assert!(matches!(
            decide_step(300_000, 768, 1_000, 16, &ram, Some(need)),
            StepDecision::Run {
                storage: Storage::Ram,
                switched: None,
                ..
            }
        ));
        assert!(matches!(
            decide_step(300_000, 768, 1_000, 16, &ram, None),
            StepDecision::Run {
                storage: Storage::Ram,
                ..
            }
        ));
        match decide_step(300_000, 768, 1_000, 16, &ram, Some(need - 1)) {
            StepDecision::Skip { reason } => {
                assert!(reason.contains("300000 points"), "{reason}");
                assert!(reason.contains("MemAvailable"), "{reason}");
                assert!(reason.contains("--max"), "{reason}");
                assert!(reason.contains("--storage auto"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn auto_switches_to_the_first_storage_that_fits() {
        let all = StorageChoice::Auto.candidates(Metric::Cosine);
        assert_eq!(all, Storage::AUTO_ORDER.to_vec());
        let e = |s| estimate_step_bytes(300_000, 768, 1_000, 16, s);
        // Just enough for int8: ram and disk are passed over, with their estimates.
        match decide_step(300_000, 768, 1_000, 16, &all, Some(e(Storage::Int8))) {
            StepDecision::Run {
                storage,
                estimate_bytes,
                switched: Some(note),
            } => {
                assert_eq!(storage, Storage::Int8);
                assert_eq!(estimate_bytes, e(Storage::Int8));
                assert!(note.contains("ram needs about"), "{note}");
                assert!(note.contains("disk needs about"), "{note}");
                assert!(note.contains("switched to int8"), "{note}");
            }
            other => panic!("{other:?}"),
        }
        match decide_step(300_000, 768, 1_000, 16, &all, Some(e(Storage::Binary) - 1)) {
            StepDecision::Skip { reason } => {
                assert!(reason.contains("binary needs about"), "{reason}");
                assert!(!reason.contains("--storage auto"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // Binary codes cannot rank by Euclidean distance.
        assert_eq!(
            StorageChoice::Auto.candidates(Metric::Euclid),
            vec![Storage::Ram, Storage::Disk, Storage::Int8]
        );
        assert_eq!(
            StorageChoice::from_name("INT8")
                .unwrap()
                .candidates(Metric::Euclid),
            vec![Storage::Int8]
        );
        let err = StorageChoice::from_name("ssd").unwrap_err();
        assert!(err.contains("auto, ram, disk, int8 or binary"), "{err}");
    }

    #[test]
    fn each_storage_sets_the_collection_and_the_search() {
        let base = CollectionSpec::new("perf_x", 8, Metric::Cosine);
        let ram = Storage::Ram.apply(base.clone());
        assert!(!ram.on_disk);
        assert_eq!(ram.quantization, Quantization::None);
        let disk = Storage::Disk.apply(base.clone());
        assert!(disk.on_disk);
        assert_eq!(disk.quantization, Quantization::None);
        let int8 = Storage::Int8.apply(base.clone());
        assert!(int8.on_disk);
        assert_eq!(int8.quantization.name(), "int8");
        let binary = Storage::Binary.apply(base);
        assert!(binary.on_disk);
        assert_eq!(
            binary.quantization,
            Quantization::Binary { always_ram: true }
        );
        assert_eq!(Storage::Ram.search_params(), (None, None));
        assert_eq!(Storage::Int8.search_params(), (Some(true), None));
        assert_eq!(Storage::Binary.search_params(), (Some(true), Some(3.0)));
        let memory = MemoryBreakdown {
            vectors_bytes: 1000,
            quantized_bytes: 250,
            index_bytes: 100,
            other_bytes: 7,
            disk_bytes: 1357,
            rss_growth_bytes: None,
        };
        assert_eq!(ram_bytes(&memory, Storage::Ram), 1350);
        assert_eq!(ram_bytes(&memory, Storage::Int8), 350);
    }

    #[test]
    fn least_squares_recovers_a_line_and_its_fit() {
        let pts: Vec<(f64, f64)> = (1..=5).map(|x| (x as f64, 2.0 + 3.0 * x as f64)).collect();
        let f = fit_line(&pts).unwrap();
        assert!((f.slope - 3.0).abs() < 1e-12 && (f.intercept - 2.0).abs() < 1e-12);
        assert!((f.r2 - 1.0).abs() < 1e-12);
        // y = x with one outlier: slope from the hand computation, mean x 2, mean y 5/3.
        let f = fit_line(&[(1.0, 1.0), (2.0, 2.0), (3.0, 2.0)]).unwrap();
        assert!((f.slope - 0.5).abs() < 1e-12, "{f:?}");
        assert!((f.intercept - (5.0 / 3.0 - 1.0)).abs() < 1e-12, "{f:?}");
        assert!(fit_line(&[(1.0, 1.0)]).is_none());
        assert!(fit_line(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    #[test]
    fn the_back_test_of_a_line_in_n_is_the_hand_computed_miss() {
        // Fitted on (1, 1), (2, 2), (3, 2): y = 2/3 + 0.5 x; at N = 4 it predicts 8/3, the
        // measured 4: error (8/3 − 4) / 4 = −1/3. Given out of order: sorted by N first.
        let f = checked_fit(&[(3, 2.0), (1, 1.0), (4, 4.0), (2, 2.0)], FitX::N, 10).unwrap();
        let b = f.backtest.as_ref().unwrap();
        assert_eq!(b.fitted_on, vec![1, 2, 3]);
        assert_eq!(b.points, 4);
        assert!((b.predicted - 8.0 / 3.0).abs() < 1e-12, "{b:?}");
        assert_eq!(b.measured, 4.0);
        assert!((b.relative_error + 1.0 / 3.0).abs() < 1e-12, "{b:?}");
        // The extrapolation uses all four: mean x 2.5, mean y 2.25, Sxy = 4.5, Sxx = 5:
        // slope 0.9, intercept 0; at N = 10: 9.
        assert!(
            (f.fit.slope - 0.9).abs() < 1e-12 && f.fit.intercept.abs() < 1e-12,
            "{f:?}"
        );
        assert_eq!(f.extrapolation.label, "extrapolation");
        assert_eq!(f.extrapolation.points, 10);
        assert!((f.extrapolation.value - 9.0).abs() < 1e-12, "{f:?}");
        assert_eq!(
            f.extrapolation.backtest_relative_error,
            Some(b.relative_error)
        );
    }

    #[test]
    fn the_back_test_of_a_line_in_ln_n_is_the_hand_computed_miss() {
        // y = log10 N on 10, 100, 1000: the line predicts 4 at 10,000; measured 5: −20 %.
        let samples = [(10, 1.0), (100, 2.0), (1_000, 3.0), (10_000, 5.0)];
        let f = checked_fit(&samples, FitX::LnN, 100_000_000).unwrap();
        let b = f.backtest.as_ref().unwrap();
        assert!((b.predicted - 4.0).abs() < 1e-9, "{b:?}");
        assert!((b.relative_error + 0.2).abs() < 1e-9, "{b:?}");
        // All four, in log10 N = 1..4: mean 2.5, mean y 2.75, Sxy 6.5, Sxx 5: 1.3 per decade,
        // intercept 2.75 − 3.25 = −0.5; at 10^8: −0.5 + 1.3 × 8 = 9.9.
        assert!((f.extrapolation.value - 9.9).abs() < 1e-9, "{f:?}");
        assert!((f.fit.slope - 1.3 / 10f64.ln()).abs() < 1e-12, "{f:?}");
        // Two sizes: a line but no back-test; one size: nothing.
        let two = checked_fit(&samples[..2], FitX::LnN, 1_000).unwrap();
        assert!(two.backtest.is_none());
        assert_eq!(two.extrapolation.backtest_relative_error, None);
        assert!((two.extrapolation.value - 3.0).abs() < 1e-9);
        assert!(checked_fit(&samples[..1], FitX::LnN, 1_000).is_none());
    }

    fn step(points: usize, storage: Storage, p50: f64) -> ScaleStep {
        ScaleStep {
            points,
            hardness: None,
            storage,
            rescore: None,
            oversampling: None,
            build_seconds: points as f64 / 1000.0,
            index_seconds: 0.0,
            segments: 1,
            mode: "hnsw".into(),
            recall: 0.99,
            latency: LatencySummary {
                p50_ms: p50,
                p99_ms: 2.0 * p50,
                ..Default::default()
            },
            qps_single: 0.0,
            qps_all: 0.0,
            threads: 2,
            queries: 100,
            memory: None,
            ram_bytes_per_vector: None,
            disk_bytes_per_vector: None,
            estimate_bytes: 0,
            available_bytes: None,
        }
    }

    #[test]
    fn fits_use_only_the_steps_stored_like_the_largest() {
        // Two ram steps, then three int8 steps: the fits see only the int8 ones.
        let steps = vec![
            step(10, Storage::Ram, 100.0),
            step(100, Storage::Ram, 100.0),
            step(1_000, Storage::Int8, 1.0),
            step(10_000, Storage::Int8, 2.0),
            step(100_000, Storage::Int8, 3.0),
        ];
        let g = Growth::of(&steps, 1_000_000);
        assert_eq!(g.storage, Some(Storage::Int8));
        assert_eq!(g.steps_fitted, vec![1_000, 10_000, 100_000]);
        let p50 = g.p50_ms_vs_ln_n.unwrap();
        assert_eq!(p50.fit.samples, 3);
        // 1, 2, 3 per decade from 10^3: exactly 4 at 10^6, and the back-test predicts 3.
        assert!((p50.extrapolation.value - 4.0).abs() < 1e-9, "{p50:?}");
        assert!(p50.backtest.unwrap().relative_error.abs() < 1e-9);
        let build = g.build_seconds_vs_n.unwrap();
        assert!(
            (build.extrapolation.value - 1_000.0).abs() < 1e-6,
            "{build:?}"
        );
        // No memory figures (a server): no memory fits.
        assert!(g.ram_bytes_vs_n.is_none() && g.disk_bytes_vs_n.is_none());
        assert_eq!(Growth::of(&[], 1).storage, None);
    }
}
