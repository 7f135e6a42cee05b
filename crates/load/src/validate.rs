//! `validate`: runs the deployment's checks from performance-tests.yaml, per collection and
//! overall, and judges each against its target; and the stress ramp that finds the knee.
//!
//! The sequence:
//! 1. each selected collection is prepared (dataset, collection built or reused, indexed);
//! 2. per collection, an open-loop run at its `query_load`: mean and p95 latency, whether the
//!    load was sustained (achieved >= 99 % of requested), error rate;
//! 3. an overall open-loop run across all of them at the throughput target (+1 %), each
//!    collection in proportion to its `query_load`: latency, sustained throughput, errors,
//!    availability, CPU and memory;
//! 4. a stress ramp in open loop from 25 % to 150 % of the peak throughput target, stopped at
//!    the first step that misses a latency target, errs or falls behind: the knee is the
//!    highest step that met them, and it is checked against the peak target;
//! 5. checks that need what this run does not have are listed as not run: the cache (no cache
//!    configured), the gateway (no `--gateway`), the scalability target (its vector count).
//!
//! `--quick` shrinks sizes, rates and durations (see [`Scale::quick`]); throughput limits are
//! scaled by the same factor as the rates, and the report says so beside each scaled limit.

use std::sync::Arc;
use std::time::Duration;

use qdrant_perf_data::Metric;
use qdrant_perf_store::HnswParams;

use crate::checks::{Bound, Check};
use crate::config::{PerformanceConfig, Targets};
use crate::driver::{self, LoadError, LoadPlan, Mode, RunResult, StopSignal, Target};
use crate::report::{StressStep, StressSummary};
use crate::setup::{CollectionChoice, Prepared, SetupOptions};
use crate::target::{HttpTarget, StoreCollection, StoreTarget};
use qdrant_perf_store::AnyStore;

/// Sizes, rates and durations of a validate run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Scale {
    /// Points per collection; `None`: each collection's `test_vectors`.
    pub points: Option<usize>,
    pub queries: usize,
    pub per_collection: Duration,
    pub overall: Duration,
    pub warmup: Duration,
    /// Every rate (and throughput limit) is multiplied by this.
    pub rate_scale: f64,
    pub stress_step: Duration,
    pub quick: bool,
}

impl Scale {
    /// `--quick`: 2,000 points and 200 queries per collection, 3 s per collection, 5 s overall,
    /// 1 s warm-up, rates x 0.1, 2 s stress steps.
    pub fn quick() -> Self {
        Self {
            points: Some(2_000),
            queries: 200,
            per_collection: Duration::from_secs(3),
            overall: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            rate_scale: 0.1,
            stress_step: Duration::from_secs(2),
            quick: true,
        }
    }

    /// The file's own sizes: test_vectors points, load_testing.duration per run, the stress ramp
    /// over stress_testing.ramp_up_time in six steps.
    pub fn full(config: &PerformanceConfig) -> Self {
        let p = &config.performance_tests;
        Self {
            points: None,
            queries: 1_000,
            per_collection: Duration::from_secs(p.load_testing.duration),
            overall: Duration::from_secs(p.load_testing.duration),
            warmup: Duration::from_secs(10),
            rate_scale: 1.0,
            stress_step: Duration::from_secs((p.stress_testing.ramp_up_time / 6).max(1)),
            quick: false,
        }
    }

    /// What `--quick` changed, for the report.
    pub fn describe(&self) -> Option<String> {
        self.quick.then(|| {
            format!(
                "--quick: {} points and {} held-out queries per collection (the file says test_vectors), \
                 {:.0} s per collection and {:.0} s overall after {:.0} s warm-up (the file says {}), \
                 every rate and throughput limit x {}, stress steps of {:.0} s. Latency limits are not scaled.",
                self.points.map_or("test_vectors".into(), |p| p.to_string()),
                self.queries,
                self.per_collection.as_secs_f64(),
                self.overall.as_secs_f64(),
                self.warmup.as_secs_f64(),
                "load_testing.duration",
                self.rate_scale,
                self.stress_step.as_secs_f64()
            )
        })
    }
}

/// Everything `validate` needs.
pub struct ValidateOptions {
    pub config: PerformanceConfig,
    /// `all` or names separated by commas.
    pub collections: String,
    pub scale: Scale,
    pub setup: SetupOptions,
    pub stress: bool,
    pub progress: bool,
    /// The API gateway's search endpoint and body template (`--gateway`, `--gateway-body`): its
    /// end-to-end latency is checked with the first selected collection's queries.
    pub gateway: Option<(String, String)>,
    /// The result cache (`--cache`, `REDIS_URL`): its hit rate and lookup latency are checked
    /// with a Zipf stream of the first selected collection's queries.
    pub cache: Option<qdrant_perf_store::CacheConfig>,
}

/// What `validate` measured and judged.
pub struct Validation {
    pub runs: Vec<RunResult>,
    pub checks: Vec<Check>,
    pub stress: Option<StressSummary>,
    pub setup_notes: Vec<String>,
    pub engine: String,
    pub engine_version: String,
    /// Index of the overall run in `runs`.
    pub overall: Option<usize>,
}

fn scaled_note(scale: &Scale) -> Option<String> {
    (scale.rate_scale != 1.0).then(|| format!("limit x {} (--quick)", scale.rate_scale))
}

/// Latency and error checks of one run's queries (of one collection, or all).
fn latency_checks(r: &RunResult, collection: &str, only: Option<&str>, t: &Targets) -> Vec<Check> {
    let lat = match only {
        Some(c) => r.collection_latency(c),
        None => r.latency_ms.clone(),
    };
    let mut out = Vec::new();
    if lat.samples == 0 {
        for (name, limit) in [
            ("latency_mean", t.mean_latency_ms),
            ("latency_p95", t.p95_latency_ms),
        ] {
            out.push(Check::failed_without_value(
                name,
                collection,
                "ms",
                Bound::Below,
                limit,
                "no request succeeded",
            ));
        }
    } else {
        out.push(Check::measured(
            "latency_mean",
            collection,
            lat.mean_ms,
            "ms",
            Bound::Below,
            t.mean_latency_ms,
            lat.samples,
        ));
        out.push(Check::measured(
            "latency_p95",
            collection,
            lat.p95_ms,
            "ms",
            Bound::Below,
            t.p95_latency_ms,
            lat.samples,
        ));
    }
    let total = r.ok + r.errors;
    out.push(Check::measured(
        "error_rate",
        collection,
        r.error_rate,
        "",
        Bound::AtMost,
        t.error_rate,
        total,
    ));
    out
}

fn store_target(
    prepared: &Prepared,
    only: Option<usize>,
    qps: impl Fn(f64) -> f64,
    k: usize,
) -> StoreTarget<qdrant_perf_store::AnyStore> {
    StoreTarget {
        collections: prepared
            .collections
            .iter()
            .enumerate()
            .filter(|(i, _)| only.is_none_or(|o| o == *i))
            .map(|(_, c)| c.with_qps(qps(c.qps)))
            .collect(),
        k,
    }
}

/// Runs the whole validation. Ctrl-C (`stop`) ends the current run early and skips the rest;
/// what was measured is still judged.
pub async fn validate(opts: &ValidateOptions, stop: &StopSignal) -> Result<Validation, LoadError> {
    let selected = opts
        .config
        .select(&opts.collections)
        .map_err(|e| LoadError::Target(e.to_string()))?;
    let t = opts.config.targets();
    let scale = &opts.scale;
    let ix = &opts.config.performance_tests.optimization.indexing;
    let hnsw = HnswParams {
        m: ix.hnsw_m,
        ef_construct: ix.hnsw_ef_construct,
        full_scan_threshold: ix.full_scan_threshold,
    };
    // Prepare every collection (grouped by size: each at its own point count).
    let mut prepared: Option<Prepared> = None;
    let mut points_used = 0u64;
    for (name, c) in &selected {
        let points = scale.points.unwrap_or(c.test_vectors as usize);
        points_used = points_used.max(points as u64);
        let choice = CollectionChoice {
            name: name.clone(),
            vector_size: c.vector_size,
            metric: Metric::Cosine,
            hnsw,
            qps: c.query_load,
        };
        let setup = SetupOptions {
            points,
            queries: scale.queries,
            ..opts.setup.clone()
        };
        let p = crate::setup::prepare(&[choice], &setup).await?;
        match &mut prepared {
            None => prepared = Some(p),
            Some(all) => all.absorb(p),
        }
    }
    let mut prepared =
        prepared.ok_or_else(|| LoadError::Target("no collections selected".into()))?;
    let k = opts.setup.k;
    let mut runs = Vec::new();
    let mut checks = Vec::new();
    let base_plan = |label: String, mode: Mode, duration: Duration| LoadPlan {
        label,
        mode,
        duration: Some(duration),
        requests: None,
        warmup: scale.warmup,
        mix: driver::Mix::default(),
        in_flight_cap: driver::DEFAULT_IN_FLIGHT_CAP,
        drain_timeout: Duration::from_secs(30),
        progress: opts.progress,
    };
    // 2. Per collection.
    for (i, (name, c)) in selected.iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        let rate = c.query_load * scale.rate_scale;
        let target = Arc::new(store_target(&prepared, Some(i), |q| q, k));
        let plan = base_plan(name.clone(), Mode::Open { rate }, scale.per_collection);
        let r = driver::run(target, &plan, stop).await?;
        checks.extend(latency_checks(&r, name, None, &t));
        let mut q = Check::measured(
            "query_load",
            name,
            r.throughput_ops_s,
            "ops/s",
            Bound::AtLeast,
            rate * 0.99,
            r.ok,
        );
        q.note = Some(match scaled_note(scale) {
            Some(n) => format!("99 % of {rate:.0} requested; {n}"),
            None => format!("99 % of {rate:.0} requested"),
        });
        checks.push(q);
        runs.push(r);
    }
    // 3. Overall.
    let mut overall = None;
    let sustained_limit = t.sustained_ops_s * scale.rate_scale;
    if !stop.is_stopped() {
        let rate = sustained_limit * 1.01;
        let target = Arc::new(store_target(&prepared, None, |q| q, k));
        let plan = base_plan("overall".into(), Mode::Open { rate }, scale.overall);
        let r = driver::run(target, &plan, stop).await?;
        checks.extend(latency_checks(&r, "overall", None, &t));
        let mut c = Check::measured(
            "throughput_sustained",
            "overall",
            r.throughput_ops_s,
            "ops/s",
            Bound::AtLeast,
            sustained_limit,
            r.ok,
        );
        c.note = Some(match scaled_note(scale) {
            Some(n) => format!("driven at {rate:.0}/s; {n}"),
            None => format!("driven at {rate:.0}/s"),
        });
        checks.push(c);
        let total = r.ok + r.errors;
        checks.push(Check::measured(
            "availability",
            "overall",
            if total > 0 {
                r.ok as f64 / total as f64 * 100.0
            } else {
                0.0
            },
            "%",
            Bound::AtLeast,
            t.availability_pct,
            total,
        ));
        let server = opts.setup.server.is_some();
        let res = &r.resources;
        match (server, res.cpu_pct_mean) {
            (false, Some(cpu)) => checks.push(
                Check::measured(
                    "cpu_usage",
                    "overall",
                    cpu,
                    "%",
                    Bound::Below,
                    t.cpu_pct,
                    res.samples,
                )
                .with_note(
                    "mean of this process (engine + driver) over the overall run, % of all cores",
                ),
            ),
            (true, _) => checks.push(Check::not_run(
                "cpu_usage",
                "overall",
                "%",
                Bound::Below,
                t.cpu_pct,
                "server telemetry not collected (client CPU is in the report)",
            )),
            (false, None) => checks.push(Check::not_run(
                "cpu_usage",
                "overall",
                "%",
                Bound::Below,
                t.cpu_pct,
                "/proc not readable on this system",
            )),
        }
        match (server, res.memory_pct_max) {
            (false, Some(m)) => checks.push(
                Check::measured(
                    "memory_usage",
                    "overall",
                    m,
                    "%",
                    Bound::Below,
                    t.memory_pct,
                    res.samples,
                )
                .with_note("highest RSS of this process, % of the machine's memory"),
            ),
            (true, _) => checks.push(Check::not_run(
                "memory_usage",
                "overall",
                "%",
                Bound::Below,
                t.memory_pct,
                "server telemetry not collected",
            )),
            (false, None) => checks.push(Check::not_run(
                "memory_usage",
                "overall",
                "%",
                Bound::Below,
                t.memory_pct,
                "/proc not readable on this system",
            )),
        }
        overall = Some(runs.len());
        runs.push(r);
    }
    // 4. Stress.
    let mut stress = None;
    let peak_limit = t.peak_ops_s * scale.rate_scale;
    if opts.stress && !stop.is_stopped() {
        let loads: Vec<f64> = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
            .iter()
            .map(|f| f * peak_limit)
            .collect();
        let target = Arc::new(store_target(&prepared, None, |q| q, k));
        let plan = base_plan("stress".into(), Mode::Open { rate: 1.0 }, scale.stress_step);
        let (summary, step_runs) = ramp(target, &plan, &loads, &t, stop).await?;
        let knee_ops = summary.knee_throughput_ops_s;
        let samples: u64 = step_runs.iter().map(|r| r.ok).sum();
        let mut c = match knee_ops {
            Some(ops) => Check::measured(
                "throughput_peak",
                "overall",
                ops,
                "ops/s",
                Bound::AtLeast,
                peak_limit,
                samples,
            ),
            None => Check::failed_without_value(
                "throughput_peak",
                "overall",
                "ops/s",
                Bound::AtLeast,
                peak_limit,
                "the first stress step already missed a target",
            ),
        };
        c.note = Some(format!(
            "knee of an open-loop ramp {}{}",
            summary.stopped_because,
            scaled_note(scale).map_or(String::new(), |n| format!("; {n}"))
        ));
        checks.push(c);
        runs.extend(step_runs);
        stress = Some(summary);
    } else if !opts.stress {
        checks.push(Check::not_run(
            "throughput_peak",
            "overall",
            "ops/s",
            Bound::AtLeast,
            peak_limit,
            "stress ramp skipped (--no-stress)",
        ));
    }
    // 5. The result cache, when one is configured; else what this run cannot check.
    let cache_checks = match &opts.cache {
        Some(config) if !stop.is_stopped() => {
            cache_checks(
                &prepared.collections[0],
                config,
                t.cache_hit_rate_pct,
                t.cache_latency_ms,
            )
            .await?
        }
        _ => None,
    };
    match cache_checks {
        Some((hit_rate, latency)) => {
            checks.push(hit_rate);
            checks.push(latency);
        }
        None => {
            let why = if opts.cache.is_some() {
                "the cache was not reachable (--cache optional) or the run was stopped"
            } else {
                "no cache configured (--cache, REDIS_URL)"
            };
            for (name, unit, bound, limit) in [
                ("cache_hit_rate", "%", Bound::Above, t.cache_hit_rate_pct),
                ("cache_latency", "ms", Bound::Below, t.cache_latency_ms),
            ] {
                checks.push(Check::not_run(name, "overall", unit, bound, limit, why));
            }
        }
    }
    match &opts.gateway {
        Some((url, body)) if !stop.is_stopped() => {
            let first = &prepared.collections[0];
            let vectors = qdrant_perf_data::Vectors::new(
                first.queries[0].vector.len(),
                first
                    .queries
                    .iter()
                    .flat_map(|q| q.vector.iter().copied())
                    .collect(),
            )
            .map_err(|e| LoadError::Target(e.to_string()))?;
            let target = HttpTarget::new(url, body, &vectors, k, Duration::from_secs(30))?;
            target.preflight().await?;
            let rate = selected[0].1.query_load * scale.rate_scale;
            let plan = base_plan("gateway".into(), Mode::Open { rate }, scale.per_collection);
            let r = driver::run(Arc::new(target), &plan, stop).await?;
            let c = if r.latency_ms.samples > 0 {
                Check::measured(
                    "gateway_latency",
                    "overall",
                    r.latency_ms.mean_ms,
                    "ms",
                    Bound::Below,
                    t.gateway_latency_ms,
                    r.latency_ms.samples,
                )
                .with_note(format!("mean end to end through {url} at {rate:.0}/s"))
            } else {
                Check::failed_without_value(
                    "gateway_latency",
                    "overall",
                    "ms",
                    Bound::Below,
                    t.gateway_latency_ms,
                    "no request through the gateway succeeded",
                )
            };
            checks.push(c);
            checks.push(Check::measured(
                "error_rate",
                "gateway",
                r.error_rate,
                "",
                Bound::AtMost,
                t.error_rate,
                r.ok + r.errors,
            ));
            runs.push(r);
        }
        _ => checks.push(Check::not_run(
            "gateway_latency",
            "overall",
            "ms",
            Bound::Below,
            t.gateway_latency_ms,
            "no API gateway given (--gateway URL)",
        )),
    }
    checks.push(Check::not_run(
        "scalability",
        "overall",
        "vectors",
        Bound::AtLeast,
        t.scalability_vectors as f64,
        &format!(
            "needs a deployment holding {} vectors; this run used {} per collection",
            t.scalability_vectors, points_used
        ),
    ));
    let setup_notes = prepared.notes.clone();
    let (engine, engine_version) = (prepared.engine.clone(), prepared.engine_version.clone());
    for line in prepared.cleanup().await {
        eprintln!("{line}");
    }
    Ok(Validation {
        runs,
        checks,
        stress,
        setup_notes,
        engine,
        engine_version,
        overall,
    })
}

/// Ramps the load (open loop: `loads` are rates; closed loop: concurrencies) in steps of
/// `base.duration`, stopping at the first step that misses the mean or p95 latency target, has
/// errors, or (open loop) achieves less than 99 % of its rate. The knee is the last step that
/// met them all.
/// Requests of the cache check: ten per distinct query, popularity by Zipf's law (exponent 1),
/// as a production query stream repeats itself; the hit rate is a property of that workload.
const CACHE_REQUESTS_PER_QUERY: usize = 10;

/// Hit rate and mean lookup latency of the cache in front of `collection`'s store, measured by
/// a Zipf stream over its held-out queries, starting from an empty cache for the collection
/// (only the suite's own keys of that collection are cleared). `None` when the cache is off.
async fn cache_checks(
    collection: &StoreCollection<AnyStore>,
    config: &qdrant_perf_store::CacheConfig,
    hit_rate_limit: f64,
    latency_limit_ms: f64,
) -> Result<Option<(Check, Check)>, LoadError> {
    use qdrant_perf_store::{CachedStore, Store};
    // Required mode: an unreachable Redis is an error naming REDIS_URL; optional: a warning.
    let cached = CachedStore::connect(&*collection.store, config.clone())
        .await
        .map_err(|e| LoadError::Target(e.to_string()))?;
    if !cached.is_enabled() {
        if let Some(w) = cached.warning() {
            eprintln!("warning: {w}");
        }
        return Ok(None);
    }
    let _ = cached.clear_collection(&collection.collection).await;
    let pool = collection.queries.len().min(1_000);
    let stream = qdrant_perf_data::QueryStream::zipf(pool, 1.0)
        .map_err(|e| LoadError::Target(e.to_string()))?;
    let requests = pool * CACHE_REQUESTS_PER_QUERY;
    for i in stream.indices(requests) {
        // A failed search is the store's error, counted by the runs above; the cache's own
        // failures are counted in its statistics.
        let _ = cached
            .search(&collection.collection, &collection.queries[i])
            .await;
    }
    let m = cached.measurements().await;
    let s = &m.stats;
    let note = format!(
        "Zipf(1.0) over {pool} distinct queries of {}, {requests} requests, TTL {} s; {} cache errors",
        collection.name,
        m.ttl_seconds,
        s.errors.total()
    );
    let hit_rate = Check::measured(
        "cache_hit_rate",
        "overall",
        s.hit_rate * 100.0,
        "%",
        Bound::Above,
        hit_rate_limit,
        s.requests,
    )
    .with_note(note.clone());
    let latency = Check::measured(
        "cache_latency",
        "overall",
        s.lookup.mean_ms,
        "ms",
        Bound::Below,
        latency_limit_ms,
        s.lookup.samples,
    )
    .with_note(format!("mean lookup (L1, then Redis); {note}"));
    let _ = cached.clear_collection(&collection.collection).await;
    Ok(Some((hit_rate, latency)))
}

pub async fn ramp<T: Target>(
    target: Arc<T>,
    base: &LoadPlan,
    loads: &[f64],
    t: &Targets,
    stop: &StopSignal,
) -> Result<(StressSummary, Vec<RunResult>), LoadError> {
    let mut steps = Vec::new();
    let mut runs = Vec::new();
    let mut knee = None;
    let mut knee_ops = None;
    let mut stopped_because = format!(
        "every step up to {:.0} met the targets",
        loads.last().copied().unwrap_or(0.0)
    );
    for &load in loads {
        if stop.is_stopped() {
            stopped_because = "stopped by Ctrl-C".into();
            break;
        }
        let mut plan = base.clone();
        let open = matches!(base.mode, Mode::Open { .. });
        plan.mode = if open {
            Mode::Open { rate: load }
        } else {
            Mode::Closed {
                concurrency: load.round().max(1.0) as usize,
            }
        };
        plan.label = format!("{}-{load:.0}", base.label);
        let r = driver::run(target.clone(), &plan, stop).await?;
        let l = &r.latency_ms;
        let mut why = Vec::new();
        if r.errors > 0 {
            why.push(format!("{} errors", r.errors));
        }
        if l.samples == 0 {
            why.push("no request succeeded".into());
        } else {
            if l.mean_ms >= t.mean_latency_ms {
                why.push(format!(
                    "mean {:.2} ms >= {} ms",
                    l.mean_ms, t.mean_latency_ms
                ));
            }
            if l.p95_ms >= t.p95_latency_ms {
                why.push(format!("p95 {:.2} ms >= {} ms", l.p95_ms, t.p95_latency_ms));
            }
        }
        if open && r.throughput_ops_s < load * 0.99 {
            why.push(format!(
                "achieved {:.0} of {load:.0} ops/s",
                r.throughput_ops_s
            ));
        }
        let met = why.is_empty();
        steps.push(StressStep {
            load,
            throughput_ops_s: r.throughput_ops_s,
            latency_ms: l.clone(),
            errors: r.errors,
            met_targets: met,
            why_not: (!met).then(|| why.join(", ")),
        });
        runs.push(r);
        if !met {
            stopped_because = format!("stopped at {load:.0}: {}", why.join(", "));
            break;
        }
        knee = Some(load);
        knee_ops = Some(steps.last().expect("pushed").throughput_ops_s);
    }
    Ok((
        StressSummary {
            steps,
            knee,
            knee_throughput_ops_s: knee_ops,
            stopped_because,
        },
        runs,
    ))
}
