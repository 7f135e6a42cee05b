//! The scalability curve: the same workload (the deployment's index, top-k at its ef) at growing
//! N, reporting latency, recall, build time and bytes per vector (RAM and disk) at each N, the
//! fitted growth (latency vs log N, memory vs N) and an SVG plot.
//!
//! Before each step the free memory (`MemAvailable`) is compared with an estimate of what the
//! step needs; a step that would not fit is skipped with a note (and so are the larger ones),
//! never started into an out-of-memory kill.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use qdrant_perf_data::{Dataset, DatasetCache, DatasetSpec, LoadedFrom};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH};
use qdrant_perf_store::{AnyStore, CollectionSpec, HnswParams, Query, Store};
use serde::Serialize;

use crate::plot;
use crate::sweep::{
    MemoryBreakdown, SweepError, choose_full_scan_threshold, graph_segments, measure_search,
    memory_of, save_json, search_mode,
};
use qdrant_perf_report::{LatencySummary, Provenance, human_bytes, write_atomic};

/// The default sizes: 10k, 30k, 100k, 300k.
pub const DEFAULT_STEPS: [usize; 4] = [10_000, 30_000, 100_000, 300_000];

/// Memory kept free beside a step's estimate (the OS, the page cache the engine reads through,
/// other processes starting meanwhile).
pub const HEADROOM_BYTES: u64 = 512 << 20;

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

/// Bytes a step needs at its peak: the dataset in memory (points, queries, ground truth), the
/// engine's copy of the vectors twice (the appendable segment and the optimized one coexist
/// while the index is built), the graph (layer 0: 2m links of 4 bytes; upper layers ~1/m of
/// that) while it is built, and a fixed headroom.
pub fn estimate_step_bytes(points: usize, dim: usize, queries: usize, m: usize) -> u64 {
    let vectors = (points * dim * 4) as u64;
    let dataset = vectors + (queries * dim * 4) as u64 + (queries * 100 * 8) as u64;
    let links = points as u64 * (2 * m as u64 * 4 + 4 * m as u64 / m.max(2) as u64) * 2;
    dataset + 2 * vectors + links + HEADROOM_BYTES
}

/// Whether a step runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum StepDecision {
    Run,
    Skip { reason: String },
}

/// Runs the step when its estimate fits in `available` bytes (`None`: unknown, run and say so).
pub fn decide_step(
    points: usize,
    dim: usize,
    queries: usize,
    m: usize,
    available: Option<u64>,
) -> StepDecision {
    let needed = estimate_step_bytes(points, dim, queries, m);
    match available {
        Some(avail) if needed > avail => StepDecision::Skip {
            reason: format!(
                "{points} points at {dim} dimensions need about {} (estimate) but only {} is \
                 available (MemAvailable); skipped rather than risk an out-of-memory kill. \
                 Free memory or lower --max",
                human_bytes(needed as f64),
                human_bytes(avail as f64)
            ),
        },
        _ => StepDecision::Run,
    }
}

/// A least-squares line `y = intercept + slope × x`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
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

/// One measured size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleStep {
    pub points: usize,
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
    /// Resident bytes (vectors + quantized + graph) per vector.
    pub ram_bytes_per_vector: Option<f64>,
    pub disk_bytes_per_vector: Option<f64>,
    /// Bytes the step was estimated to need, and MemAvailable before it.
    pub estimate_bytes: u64,
    pub available_bytes: Option<u64>,
}

/// The fitted growth of the curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Growth {
    /// p50 latency (ms) against ln N.
    pub p50_ms_vs_ln_n: Option<Fit>,
    /// p99 latency (ms) against ln N.
    pub p99_ms_vs_ln_n: Option<Fit>,
    /// Resident bytes against N: the slope is bytes per vector, the intercept fixed overhead.
    pub ram_bytes_vs_n: Option<Fit>,
    pub disk_bytes_vs_n: Option<Fit>,
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
}

impl ScaleReport {
    fn refit(&mut self) {
        let ln = |s: &ScaleStep| (s.points as f64).ln();
        let pts = |f: &dyn Fn(&ScaleStep) -> Option<f64>, x: &dyn Fn(&ScaleStep) -> f64| {
            self.steps
                .iter()
                .filter_map(|s| f(s).map(|y| (x(s), y)))
                .collect::<Vec<_>>()
        };
        let n = |s: &ScaleStep| s.points as f64;
        self.growth = Growth {
            p50_ms_vs_ln_n: fit_line(&pts(&|s| Some(s.latency.p50_ms), &ln)),
            p99_ms_vs_ln_n: fit_line(&pts(&|s| Some(s.latency.p99_ms), &ln)),
            ram_bytes_vs_n: fit_line(&pts(
                &|s| s.memory.as_ref().map(|m| m.resident_bytes() as f64),
                &n,
            )),
            disk_bytes_vs_n: fit_line(&pts(
                &|s| s.memory.as_ref().map(|m| m.disk_bytes as f64),
                &n,
            )),
        };
    }

    pub fn table(&self) -> String {
        let mut s = String::from(
            "|      N | recall | p50 ms | p99 ms |  QPS 1 | QPS all | build s | segs | mode | RAM B/vec | disk B/vec |\n\
             |-------:|-------:|-------:|-------:|-------:|--------:|--------:|-----:|------|----------:|-----------:|\n",
        );
        for st in &self.steps {
            let f = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.0}"));
            s.push_str(&format!(
                "| {:>6} | {:.4} | {:>6.3} | {:>6.3} | {:>6.0} | {:>7.0} | {:>7.1} | {:>4} | {} | {:>9} | {:>10} |\n",
                st.points,
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

    /// The fitted lines in words, with extrapolations labelled as such.
    pub fn growth_text(&self) -> String {
        let mut s = String::new();
        if let Some(f) = self.growth.p50_ms_vs_ln_n {
            s.push_str(&format!(
                "p50 latency ≈ {:.3} + {:.3} × ln N ms (R² {:.2}, {} sizes); extrapolated: {:.2} ms at 1M, {:.2} ms at 100M (one segment's graph; an extrapolation, not a measurement)\n",
                f.intercept,
                f.slope,
                f.r2,
                f.samples,
                f.at(1e6f64.ln()),
                f.at(1e8f64.ln())
            ));
        }
        if let Some(f) = self.growth.p99_ms_vs_ln_n {
            s.push_str(&format!(
                "p99 latency ≈ {:.3} + {:.3} × ln N ms (R² {:.2})\n",
                f.intercept, f.slope, f.r2
            ));
        }
        if let Some(f) = self.growth.ram_bytes_vs_n {
            s.push_str(&format!(
                "RAM (vectors + graph) ≈ {} + {:.0} B × N (R² {:.3}): {:.0} B per vector at {} d, of which {} are the float32 vector\n",
                human_bytes(f.intercept.max(0.0)),
                f.slope,
                f.r2,
                f.slope,
                self.dim,
                self.dim * 4
            ));
        }
        if let Some(f) = self.growth.disk_bytes_vs_n {
            s.push_str(&format!(
                "disk ≈ {} + {:.0} B × N (R² {:.3})\n",
                human_bytes(f.intercept.max(0.0)),
                f.slope,
                f.r2
            ));
        }
        s
    }

    /// Latency and recall vs N (left), bytes per vector vs N (right).
    pub fn write_svg(&self, path: &Path) -> Result<(), SweepError> {
        let series = |label: &str, f: &dyn Fn(&ScaleStep) -> Option<f64>| plot::Series {
            label: label.into(),
            points: self
                .steps
                .iter()
                .filter_map(|s| f(s).map(|y| (s.points as f64, y)))
                .collect(),
            line: true,
        };
        let panels = [
            plot::Panel {
                title: format!(
                    "search latency vs N ({} d, m={}, ef={})",
                    self.dim, self.hnsw.m, self.ef
                ),
                x_label: "stored vectors N (log)".into(),
                y_label: "latency, ms".into(),
                series: vec![
                    series("p50", &|s| Some(s.latency.p50_ms)),
                    series("p99", &|s| Some(s.latency.p99_ms)),
                ],
                x_axis: plot::Axis::Log,
                y_axis: plot::Axis::Linear,
            },
            plot::Panel {
                title: "bytes per vector vs N".into(),
                x_label: "stored vectors N (log)".into(),
                y_label: "bytes per vector".into(),
                series: vec![
                    series("RAM (vectors + graph)", &|s| s.ram_bytes_per_vector),
                    series("disk", &|s| s.disk_bytes_per_vector),
                ],
                x_axis: plot::Axis::Log,
                y_axis: plot::Axis::Linear,
            },
            plot::Panel {
                title: format!("recall@{} vs N", self.k),
                x_label: "stored vectors N (log)".into(),
                y_label: format!("recall@{}", self.k),
                series: vec![series("recall", &|s| Some(s.recall))],
                x_axis: plot::Axis::Log,
                y_axis: plot::Axis::Linear,
            },
        ];
        let svg = plot::figure(&panels).map_err(|message| SweepError::Plot {
            path: path.to_owned(),
            message,
        })?;
        write_atomic(path, svg.as_bytes()).map_err(|source| SweepError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

/// Runs every step that fits in memory, smallest first; after the first step that does not fit,
/// the larger ones are skipped too. `available` reads free memory (MemAvailable) before each step.
#[allow(clippy::too_many_arguments)]
pub async fn run_scale(
    store: Arc<AnyStore>,
    cache: &DatasetCache,
    config: &ScaleConfig,
    available: &dyn Fn() -> Option<u64>,
    stop: &AtomicBool,
    mut progress: impl FnMut(&str),
) -> Result<ScaleReport, SweepError> {
    let mut report = ScaleReport {
        kind: "qdrant-perf scale",
        provenance: Provenance::capture().to_map(),
        engine: store.engine_version(),
        dim: config.dataset.dim,
        distribution: config.dataset.distribution.name().into(),
        metric: config.dataset.metric.name().into(),
        k: config.k,
        ef: config.ef,
        hnsw: config.hnsw,
        notes: Vec::new(),
        skipped: Vec::new(),
        complete: false,
        steps: Vec::new(),
        growth: Growth {
            p50_ms_vs_ln_n: None,
            p99_ms_vs_ln_n: None,
            ram_bytes_vs_n: None,
            disk_bytes_vs_n: None,
        },
    };
    let dim = config.dataset.dim;
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
        let estimate = estimate_step_bytes(n, dim, config.dataset.queries, config.hnsw.m);
        if let StepDecision::Skip { reason } =
            decide_step(n, dim, config.dataset.queries, config.hnsw.m, avail)
        {
            progress(&format!("skipped N={n}: {reason}"));
            report.skipped.push((n, reason));
            out_of_memory = true;
            save_json(&report, &config.json)?;
            continue;
        }
        let spec = DatasetSpec {
            points: n,
            ..config.dataset.clone()
        };
        let dataset = Dataset::load_or_generate(&spec, cache)?;
        let (fst, note) =
            choose_full_scan_threshold(config.hnsw.full_scan_threshold, n, dim, config.segments);
        if let Some(note) = note {
            let note = format!("N={n}: {note}");
            progress(&note);
            report.notes.push(note);
        }
        let name = format!("{}scale_{n}", config.prefix);
        let collection = CollectionSpec {
            segments: Some(config.segments),
            ..CollectionSpec::new(name.clone(), dim, spec.metric).with_hnsw(HnswParams {
                full_scan_threshold: fst,
                ..config.hnsw
            })
        };
        if !matches!(*store, AnyStore::Edge(_)) {
            let _ = store.drop_owned(&name).await;
        }
        progress(&format!(
            "N={n}: dataset {} ({}), building...",
            spec.hash(),
            match dataset.loaded_from {
                LoadedFrom::Cache { .. } => "from cache",
                _ => "generated",
            }
        ));
        let started = Instant::now();
        let loaded =
            fixture::load_collection(&*store, &collection, &dataset.points, DEFAULT_BATCH).await;
        let loaded = match loaded {
            Ok(l) => l,
            Err(e) => {
                let _ = store.drop_owned(&name).await;
                return Err(e.into());
            }
        };
        let build_seconds = started.elapsed().as_secs_f64();
        let memory = memory_of(&store, &collection).await?;
        let graph = graph_segments(&store, &collection);
        let queries: Arc<Vec<Query>> = Arc::new(fixture::queries(
            &dataset.queries,
            config.k,
            Some(config.ef),
        ));
        let m = measure_search(
            &store,
            &name,
            &queries,
            &dataset.truth,
            config.k,
            config.threads,
        )
        .await;
        let dropped = store.drop_owned(&name).await;
        let m = m?;
        dropped?;
        let step = ScaleStep {
            points: n,
            build_seconds,
            index_seconds: loaded.index.seconds,
            segments: graph.unwrap_or(loaded.index.segments),
            mode: search_mode(&loaded.index, dim, fst, graph).into(),
            recall: m.recall,
            latency: m.latency,
            qps_single: m.qps_single,
            qps_all: m.qps_all,
            threads: m.threads,
            queries: m.queries,
            ram_bytes_per_vector: memory
                .as_ref()
                .map(|b| b.resident_bytes() as f64 / n as f64),
            disk_bytes_per_vector: memory.as_ref().map(|b| b.disk_bytes as f64 / n as f64),
            memory,
            estimate_bytes: estimate,
            available_bytes: avail,
        };
        progress(&format!(
            "N={n}: recall {:.4}, p50 {:.3} ms, p99 {:.3} ms, build {:.1} s, {} segment(s), {}",
            step.recall,
            step.latency.p50_ms,
            step.latency.p99_ms,
            step.build_seconds,
            step.segments,
            step.mode
        ));
        report.steps.push(step);
        report.refit();
        save_json(&report, &config.json)?;
    }
    report.complete = !stop.load(Ordering::SeqCst);
    save_json(&report, &config.json)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = estimate_step_bytes(100_000, 768, 1_000, 16);
        assert_eq!(
            e,
            307_200_000 + 3_072_000 + 800_000 + 2 * 307_200_000 + 26_400_000 + (512 << 20)
        );
    }

    #[test]
    fn a_step_that_would_not_fit_is_skipped_with_the_figures() {
        let need = estimate_step_bytes(300_000, 768, 1_000, 16);
        assert_eq!(
            decide_step(300_000, 768, 1_000, 16, Some(need)),
            StepDecision::Run
        );
        assert_eq!(
            decide_step(300_000, 768, 1_000, 16, None),
            StepDecision::Run
        );
        match decide_step(300_000, 768, 1_000, 16, Some(need - 1)) {
            StepDecision::Skip { reason } => {
                assert!(reason.contains("300000 points"), "{reason}");
                assert!(reason.contains("MemAvailable"), "{reason}");
                assert!(reason.contains("--max"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
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
}
