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
//!    configured), the gateway (no `--gateway`), the scalability target (its vector count) —
//!    which, given a `qdrant-perf scale` measurement (`--measured FILE`), is `extrapolated`
//!    instead, with the extrapolated figures and their back-test errors.
//!
//! `--quick` shrinks sizes, rates and durations (see [`Scale::quick`]); throughput limits are
//! scaled by the same factor as the rates, and the report says so beside each scaled limit.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{CollectionConfig, PerformanceConfig, Targets};
use crate::driver::{self, LoadError, LoadPlan, Mode, RunResult, StopSignal, Target};
use crate::monitor::Monitor;
use crate::setup::{ReadyCollections, SetupOptions};
use crate::target::{HttpTarget, StoreCollection, StoreTarget};
use qdrant_perf_report::checks::{Bound, Check};
use qdrant_perf_report::{HostResources, Resources, StressStep, StressSummary};
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
    /// Closed-loop connections the connection ramp reaches and holds
    /// (stress_testing.max_connections; a tenth with `--quick`).
    pub max_connections: usize,
    /// How long the connection ramp holds `max_connections` (stress_testing.duration; 3 s with
    /// `--quick`).
    pub stress_hold: Duration,
    pub quick: bool,
}

impl Scale {
    /// `--quick`: 2,000 points and 200 queries per collection, 3 s per collection, 5 s overall,
    /// 1 s warm-up, rates and the stress ramp's connections x 0.1, 2 s stress steps, a 3 s hold.
    pub fn quick(config: &PerformanceConfig) -> Self {
        let max = config.performance_tests.stress_testing.max_connections as f64;
        Self {
            points: Some(2_000),
            queries: 200,
            per_collection: Duration::from_secs(3),
            overall: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            rate_scale: 0.1,
            stress_step: Duration::from_secs(2),
            max_connections: (max * 0.1).ceil() as usize,
            stress_hold: Duration::from_secs(3),
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
            max_connections: p.stress_testing.max_connections as usize,
            stress_hold: Duration::from_secs(p.stress_testing.duration),
            quick: false,
        }
    }

    /// What `--quick` changed, for the report.
    pub fn describe(&self) -> Option<String> {
        self.quick.then(|| {
            format!(
                "--quick: {} points and {} held-out queries per collection (the file says test_vectors), \
                 {:.0} s per collection and {:.0} s overall after {:.0} s warm-up (the file says {}), \
                 every rate and throughput limit x {}, stress steps of {:.0} s, the connection ramp to {} \
                 connections held {:.0} s (the file says stress_testing.max_connections and duration). \
                 Latency limits are not scaled.",
                self.points.map_or("test_vectors".into(), |p| p.to_string()),
                self.queries,
                self.per_collection.as_secs_f64(),
                self.overall.as_secs_f64(),
                self.warmup.as_secs_f64(),
                "load_testing.duration",
                self.rate_scale,
                self.stress_step.as_secs_f64(),
                self.max_connections,
                self.stress_hold.as_secs_f64()
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
    /// What to watch on the server during every run (its nodes' `/metrics`); the default
    /// watches nothing.
    pub monitor: Monitor,
    /// A `qdrant-perf scale` measurement (`--measured FILE`): the scalability row is then
    /// `extrapolated` from it instead of `not run`.
    pub measured_scale: Option<ScaleMeasurement>,
}

/// What a `qdrant-perf scale` JSON says about large N: the largest size measured, and each
/// fit's extrapolation with the relative error of its back-test.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleMeasurement {
    pub source: String,
    pub largest_points: u64,
    /// The storage of the fitted steps (`ram`, `disk`, `int8`, `binary`).
    pub storage: String,
    pub dim: u64,
    /// The size the fits were extrapolated to.
    pub predict: u64,
    pub extrapolations: Vec<ScaleExtrapolation>,
}

/// One fit's value at `predict` vectors.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleExtrapolation {
    /// `p50_ms_vs_ln_n`, `p99_ms_vs_ln_n`, `ram_bytes_vs_n`, `disk_bytes_vs_n`,
    /// `build_seconds_vs_n`.
    pub fit: String,
    pub value: f64,
    /// (predicted − measured) / measured at the largest step, fitted on the others; `None`
    /// with fewer than three sizes.
    pub backtest_relative_error: Option<f64>,
}

/// The fits of a scale report, in the order they are reported.
pub const SCALE_FITS: [&str; 5] = [
    "p50_ms_vs_ln_n",
    "p99_ms_vs_ln_n",
    "ram_bytes_vs_n",
    "disk_bytes_vs_n",
    "build_seconds_vs_n",
];

impl ScaleMeasurement {
    /// Reads the JSON `qdrant-perf scale` writes; the error says what is missing.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
        Self::from_json(&v, &path.display().to_string())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn from_json(v: &serde_json::Value, source: &str) -> Result<Self, String> {
        if v["kind"] != "qdrant-perf scale" {
            return Err(format!(
                "kind is {}, expected \"qdrant-perf scale\" (the JSON `qdrant-perf scale` writes)",
                v["kind"]
            ));
        }
        let largest_points = v["steps"]
            .as_array()
            .and_then(|s| s.iter().filter_map(|s| s["points"].as_u64()).max())
            .ok_or("no measured steps")?;
        let growth = &v["growth"];
        let storage = growth["storage"]
            .as_str()
            .ok_or(
                "no growth.storage (written before back-tested fits: rerun `qdrant-perf scale`)",
            )?
            .to_string();
        let mut extrapolations = Vec::new();
        let mut predict = None;
        for fit in SCALE_FITS {
            let x = &growth[fit]["extrapolation"];
            if x.is_null() {
                continue;
            }
            let value = x["value"]
                .as_f64()
                .ok_or_else(|| format!("no growth.{fit}.extrapolation.value"))?;
            predict = predict.or(x["points"].as_u64());
            extrapolations.push(ScaleExtrapolation {
                fit: fit.into(),
                value,
                backtest_relative_error: x["backtest_relative_error"].as_f64(),
            });
        }
        if extrapolations.is_empty() {
            return Err(
                "no fit has an extrapolation (fewer than two sizes of one storage were measured)"
                    .into(),
            );
        }
        Ok(Self {
            source: source.into(),
            largest_points,
            storage,
            dim: v["dim"].as_u64().unwrap_or(0),
            predict: predict.or(v["predict"].as_u64()).unwrap_or(0),
            extrapolations,
        })
    }
}

/// The `scalability` check: `not run` without a scale measurement (a deployment of the target's
/// size is needed to measure it); `extrapolated` with one, its note giving every extrapolated
/// figure and its back-test error.
pub fn scalability_check(
    target_vectors: u64,
    points_used: usize,
    measured: Option<&ScaleMeasurement>,
) -> Check {
    let Some(m) = measured else {
        return Check::not_run(
            "scalability",
            "overall",
            "vectors",
            Bound::AtLeast,
            target_vectors as f64,
            &format!(
                "needs a deployment holding {target_vectors} vectors; this run used \
                 {points_used} per collection (give --measured FILE, a `qdrant-perf scale` JSON, \
                 for an extrapolation)"
            ),
        );
    };
    let figures: Vec<String> = m
        .extrapolations
        .iter()
        .map(|x| {
            let (name, value) = match x.fit.as_str() {
                "p50_ms_vs_ln_n" => ("p50", format!("{:.3} ms", x.value)),
                "p99_ms_vs_ln_n" => ("p99", format!("{:.3} ms", x.value)),
                "ram_bytes_vs_n" => ("RAM", qdrant_perf_plumbing::human_bytes(x.value.max(0.0))),
                "disk_bytes_vs_n" => ("disk", qdrant_perf_plumbing::human_bytes(x.value.max(0.0))),
                "build_seconds_vs_n" => ("build", format!("{:.0} s", x.value)),
                other => (other, format!("{}", x.value)),
            };
            format!(
                "{name} {value} ({})",
                x.backtest_relative_error
                    .map_or("back-test error unknown".into(), |e| format!(
                        "back-test error {:+.1} %",
                        e * 100.0
                    ))
            )
        })
        .collect();
    let mismatch = if m.predict != target_vectors {
        format!(
            "; extrapolated to {} vectors, not the target's {target_vectors}: rerun scale with \
             --predict {target_vectors}",
            m.predict
        )
    } else {
        String::new()
    };
    Check::extrapolated(
        "scalability",
        "overall",
        m.largest_points as f64,
        "vectors",
        Bound::AtLeast,
        target_vectors as f64,
        &format!(
            "extrapolation from {} (measured up to {} vectors at {} d, {} storage) to {} \
             vectors, one machine, not a measurement: {}{mismatch}",
            m.source,
            m.largest_points,
            m.dim,
            m.storage,
            m.predict,
            figures.join(", ")
        ),
    )
}

/// What `validate` measured and judged.
pub struct Validation {
    pub runs: Vec<RunResult>,
    pub checks: Vec<Check>,
    pub stress: Option<StressSummary>,
    pub setup_notes: Vec<String>,
    /// Each collection's dataset (hash and parameters), for the report's provenance.
    pub datasets: Vec<qdrant_perf_report::DatasetInfo>,
    pub engine: String,
    pub engine_version: String,
    /// Index of the overall run in `runs`.
    pub overall: Option<usize>,
}

/// `; limit x 0.1 (--quick)` when `scale` scales the limits, else nothing: the end of a note.
fn scaled_note(scale: &Scale) -> String {
    if scale.rate_scale == 1.0 {
        return String::new();
    }
    format!("; limit x {} (--quick)", scale.rate_scale)
}

/// Latency and error checks of one run's queries: mean and p95 (missed when no request
/// succeeded), then the error rate, last.
pub fn latency_checks(r: &RunResult, collection: &str, t: &Targets) -> Vec<Check> {
    let lat = &r.latency_ms;
    let mut out: Vec<Check> = [
        ("latency_mean", lat.mean_ms, t.mean_latency_ms),
        ("latency_p95", lat.p95_ms, t.p95_latency_ms),
    ]
    .into_iter()
    .map(|(name, value, limit)| {
        let value = (lat.samples > 0).then_some((value, lat.samples));
        let why = "no request succeeded";
        measured_or_failed(name, collection, "ms", Bound::Below, limit, value, why)
    })
    .collect();
    out.push(error_rate_check(r, collection, t));
    out
}

/// The `error_rate` check of run `r`.
fn error_rate_check(r: &RunResult, collection: &str, t: &Targets) -> Check {
    let total = r.ok + r.errors;
    Check::measured(
        "error_rate",
        collection,
        r.error_rate,
        "",
        Bound::AtMost,
        t.error_rate,
        total,
    )
}

/// Check `name` measured at `value` (with its samples), or failed with `why` without a value.
fn measured_or_failed(
    name: &str,
    collection: &str,
    unit: &str,
    bound: Bound,
    limit: f64,
    value: Option<(f64, u64)>,
    why: &str,
) -> Check {
    match value {
        Some((v, samples)) => Check::measured(name, collection, v, unit, bound, limit, samples),
        None => Check::failed_without_value(name, collection, unit, bound, limit, why),
    }
}

/// Runs the whole validation. Ctrl-C (`stop`) ends the current run early and skips the rest;
/// what was measured is still judged. The server collections the run created are dropped
/// whatever happens after they were created: when a step fails, the cleanup runs before its
/// error is returned.
pub async fn validate(opts: &ValidateOptions, stop: &StopSignal) -> Result<Validation, LoadError> {
    let selected = opts.config.select(&opts.collections)?;
    let mut prepared = prepare_selected(opts, &selected).await?;
    let session = Session {
        opts,
        selected: &selected,
        prepared: &prepared,
        t: opts.config.targets(),
        stop,
    };
    let judged = session.judge().await;
    for line in prepared.cleanup().await {
        eprintln!("{line}");
    }
    let judged = judged?;
    Ok(Validation {
        runs: judged.runs,
        checks: judged.checks,
        stress: judged.stress,
        setup_notes: prepared.notes,
        datasets: prepared.datasets,
        engine: prepared.engine,
        engine_version: prepared.engine_version,
        overall: judged.overall,
    })
}

/// Step 1: prepares every selected collection, each at its own point count. When one fails,
/// the collections already prepared are cleaned up before the error is returned.
async fn prepare_selected(
    opts: &ValidateOptions,
    selected: &[(String, CollectionConfig)],
) -> Result<ReadyCollections, LoadError> {
    // --dataset: every selected collection must have its dimension, checked before any work.
    if let Some(user) = &opts.setup.dataset {
        let (run, all) = (opts.config.dims(Some(selected)), opts.config.dims(None));
        crate::setup::check_dataset_dims(user, &run, &all)?;
    }
    let mut all = ReadyCollections::default();
    for (choice, (_, c)) in opts.config.choices(selected).into_iter().zip(selected) {
        let setup = SetupOptions {
            points: points_of(&opts.scale, c),
            queries: opts.scale.queries,
            ..opts.setup.clone()
        };
        match crate::setup::prepare(&[choice], &setup).await {
            Ok(p) => all.absorb(p),
            Err(e) => {
                for line in all.cleanup().await {
                    eprintln!("{line}");
                }
                return Err(e);
            }
        }
    }
    if all.collections.is_empty() {
        return Err(LoadError::NoCollections);
    }
    Ok(all)
}

/// Points of collection `c` in this run.
fn points_of(scale: &Scale, c: &CollectionConfig) -> usize {
    scale.points.unwrap_or(c.test_vectors as usize)
}

/// What the steps measured and judged.
#[derive(Default)]
struct Judged {
    runs: Vec<RunResult>,
    checks: Vec<Check>,
    stress: Option<StressSummary>,
    overall: Option<usize>,
}

/// Everything the steps of one validation share.
struct Session<'a> {
    opts: &'a ValidateOptions,
    selected: &'a [(String, CollectionConfig)],
    prepared: &'a ReadyCollections,
    t: Targets,
    stop: &'a StopSignal,
}

impl Session<'_> {
    /// Steps 2 to 5, in order; a failed step ends the validation with its error.
    async fn judge(&self) -> Result<Judged, LoadError> {
        let mut j = Judged::default();
        self.per_collection(&mut j).await?;
        self.overall(&mut j).await?;
        self.stress(&mut j).await?;
        self.connections(&mut j).await?;
        self.cache(&mut j).await?;
        self.gateway(&mut j).await?;
        j.checks.push(self.scalability());
        Ok(j)
    }

    /// An open-loop plan at `rate` with the run's warm-up and progress settings.
    fn plan(&self, label: &str, rate: f64, duration: Duration) -> LoadPlan {
        LoadPlan {
            label: label.into(),
            warmup: self.opts.scale.warmup,
            progress: self.opts.progress,
            ..LoadPlan::open(rate, duration)
        }
    }

    /// The run's monitor, its series summed over the prepared collections.
    fn monitor(&self) -> Monitor {
        self.opts.monitor.with_collections(
            self.prepared
                .collections
                .iter()
                .map(|c| c.collection.clone())
                .collect(),
        )
    }

    /// The prepared collections (or only the `only`-th) as a target, at their own weights.
    fn target(&self, only: Option<usize>) -> Arc<StoreTarget<AnyStore>> {
        let collections = self
            .prepared
            .collections
            .iter()
            .enumerate()
            .filter(|(i, _)| only.is_none_or(|o| o == *i))
            .map(|(_, c)| c.with_qps(c.qps))
            .collect();
        Arc::new(StoreTarget::new(collections, self.opts.setup.k))
    }

    /// Step 2: each collection on its own at its `query_load`: latency, errors, and whether the
    /// load was sustained (99 % of the rate).
    async fn per_collection(&self, j: &mut Judged) -> Result<(), LoadError> {
        let scale = &self.opts.scale;
        for (i, (name, c)) in self.selected.iter().enumerate() {
            if self.stop.is_stopped() {
                break;
            }
            let rate = c.query_load * scale.rate_scale;
            let plan = self.plan(name, rate, scale.per_collection);
            let r = driver::run_monitored(self.target(Some(i)), &plan, self.stop, &self.monitor())
                .await?;
            j.checks.extend(latency_checks(&r, name, &self.t));
            let mut q = Check::measured(
                "query_load",
                name,
                r.throughput_ops_s,
                "ops/s",
                Bound::AtLeast,
                rate * 0.99,
                r.ok,
            );
            q.note = Some(format!("99 % of {rate:.0} requested{}", scaled_note(scale)));
            j.checks.push(q);
            j.checks.extend(server_count_figure(&r, name));
            j.runs.push(r);
        }
        Ok(())
    }

    /// Step 3: all collections together at the throughput target (+1 %): latency, sustained
    /// throughput, availability, CPU and memory.
    async fn overall(&self, j: &mut Judged) -> Result<(), LoadError> {
        if self.stop.is_stopped() {
            return Ok(());
        }
        let scale = &self.opts.scale;
        let sustained_limit = self.t.sustained_ops_s * scale.rate_scale;
        let rate = sustained_limit * 1.01;
        let plan = self.plan("overall", rate, scale.overall);
        let r = driver::run_monitored(self.target(None), &plan, self.stop, &self.monitor()).await?;
        j.checks.extend(latency_checks(&r, "overall", &self.t));
        let mut c = Check::measured(
            "throughput_sustained",
            "overall",
            r.throughput_ops_s,
            "ops/s",
            Bound::AtLeast,
            sustained_limit,
            r.ok,
        );
        c.note = Some(format!("driven at {rate:.0}/s{}", scaled_note(scale)));
        j.checks.push(c);
        let total = r.ok + r.errors;
        j.checks.push(Check::measured(
            "availability",
            "overall",
            if total > 0 {
                r.ok as f64 / total as f64 * 100.0
            } else {
                0.0
            },
            "%",
            Bound::AtLeast,
            self.t.availability_pct,
            total,
        ));
        j.checks.extend(server_count_figure(&r, "overall"));
        let server = self.opts.setup.server.is_some();
        j.checks.extend(resource_checks(
            &r.resources,
            r.host.as_ref(),
            server,
            &self.t,
        ));
        j.checks.extend(io_figures(r.host.as_ref(), server));
        j.overall = Some(j.runs.len());
        j.runs.push(r);
        Ok(())
    }

    /// Step 4: the stress ramp from 25 % to 150 % of the peak target; its knee is checked
    /// against the peak target (listed as not run without `stress`).
    async fn stress(&self, j: &mut Judged) -> Result<(), LoadError> {
        let scale = &self.opts.scale;
        let peak_limit = self.t.peak_ops_s * scale.rate_scale;
        if !self.opts.stress {
            j.checks.push(Check::not_run(
                "throughput_peak",
                "overall",
                "ops/s",
                Bound::AtLeast,
                peak_limit,
                "stress ramp skipped (--no-stress)",
            ));
            return Ok(());
        }
        if self.stop.is_stopped() {
            return Ok(());
        }
        let loads: Vec<f64> = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
            .iter()
            .map(|f| f * peak_limit)
            .collect();
        let plan = self.plan("stress", 1.0, scale.stress_step);
        let (summary, step_runs) = ramp(
            self.target(None),
            &plan,
            &loads,
            &self.t,
            self.stop,
            &self.monitor(),
        )
        .await?;
        let samples: u64 = step_runs.iter().map(|r| r.ok).sum();
        let mut c = measured_or_failed(
            "throughput_peak",
            "overall",
            "ops/s",
            Bound::AtLeast,
            peak_limit,
            summary.knee_throughput_ops_s.map(|ops| (ops, samples)),
            "the first stress step already missed a target",
        );
        c.note = Some(format!(
            "knee of an open-loop ramp {}{}",
            summary.stopped_because,
            scaled_note(scale)
        ));
        j.checks.push(c);
        j.runs.extend(step_runs);
        j.stress = Some(summary);
        Ok(())
    }

    /// Step 4b: the connection ramp: closed loop from a sixth of `max_connections` to all of
    /// them in six steps over ramp_up_time, then held for stress_testing.duration. The hold is
    /// judged on its error rate (the deployment stays up and answers under its most connections);
    /// its latency and throughput are in its note and run (listed as not run without `stress`).
    async fn connections(&self, j: &mut Judged) -> Result<(), LoadError> {
        let scale = &self.opts.scale;
        let max = scale.max_connections.max(1);
        let hold_s = scale.stress_hold.as_secs_f64();
        if !self.opts.stress || self.stop.is_stopped() {
            let why = if self.opts.stress {
                "stopped by Ctrl-C"
            } else {
                "stress ramp skipped (--no-stress)"
            };
            j.checks.push(Check::not_run(
                "stress_error_rate",
                "overall",
                "",
                Bound::AtMost,
                self.t.error_rate,
                why,
            ));
            return Ok(());
        }
        for i in 1..=6 {
            if self.stop.is_stopped() {
                break;
            }
            let workers = (max * i).div_ceil(6);
            let mut plan = self.plan(&format!("connections-{workers}"), 1.0, scale.stress_step);
            plan.mode = Mode::Closed {
                concurrency: workers,
            };
            if i > 1 {
                plan.warmup = Duration::ZERO;
            }
            j.runs.push(
                driver::run_monitored(self.target(None), &plan, self.stop, &self.monitor()).await?,
            );
        }
        let mut plan = self.plan(&format!("connections-hold-{max}"), 1.0, scale.stress_hold);
        plan.mode = Mode::Closed { concurrency: max };
        plan.warmup = Duration::ZERO;
        let hold =
            driver::run_monitored(self.target(None), &plan, self.stop, &self.monitor()).await?;
        let l = &hold.latency_ms;
        let note = format!(
            "closed loop, {max} connections ({} in flight at most) held {hold_s:.0} s after a ramp over {:.0} s: \
             {:.0} ops/s, mean {:.2} ms, p95 {:.2} ms from each send; {:.2} ms a request by Little's law \
             (connections / ops/s: the wait to be sent included){}",
            hold.max_in_flight,
            scale.stress_step.as_secs_f64() * 6.0,
            hold.throughput_ops_s,
            l.mean_ms,
            l.p95_ms,
            max as f64 / hold.throughput_ops_s.max(f64::MIN_POSITIVE) * 1e3,
            if scale.quick {
                "; connections x 0.1 and a 3 s hold (--quick)"
            } else {
                ""
            }
        );
        let total = hold.ok + hold.errors;
        let check = Check::measured(
            "stress_error_rate",
            "overall",
            hold.error_rate,
            "",
            Bound::AtMost,
            self.t.error_rate,
            total,
        );
        j.checks.push(check.with_note(note));
        j.runs.push(hold);
        Ok(())
    }

    /// Step 5a: the result cache's hit rate and latency, when a cache is configured; else the
    /// two checks are listed as not run, saying why.
    async fn cache(&self, j: &mut Judged) -> Result<(), LoadError> {
        let measured = match &self.opts.cache {
            Some(config) if !self.stop.is_stopped() => {
                cache_checks(
                    &self.prepared.collections[0],
                    config,
                    self.t.cache_hit_rate_pct,
                    self.t.cache_latency_ms,
                )
                .await?
            }
            _ => None,
        };
        match measured {
            Some((hit_rate, latency)) => {
                j.checks.push(hit_rate);
                j.checks.push(latency);
            }
            None => {
                let why = if self.opts.cache.is_some() {
                    "the cache was not reachable (cache mode optional) or the run was stopped"
                } else {
                    "no cache configured (--cache, REDIS_URL)"
                };
                for (name, unit, bound, limit) in [
                    (
                        "cache_hit_rate",
                        "%",
                        Bound::Above,
                        self.t.cache_hit_rate_pct,
                    ),
                    ("cache_latency", "ms", Bound::Below, self.t.cache_latency_ms),
                ] {
                    j.checks
                        .push(Check::not_run(name, "overall", unit, bound, limit, why));
                }
            }
        }
        Ok(())
    }

    /// Step 5b: the API gateway's end-to-end latency with the first collection's queries, when
    /// a gateway is given (an endpoint that does not answer is an error); else not run.
    async fn gateway(&self, j: &mut Judged) -> Result<(), LoadError> {
        let t = &self.t;
        let Some((url, body)) = self
            .opts
            .gateway
            .as_ref()
            .filter(|_| !self.stop.is_stopped())
        else {
            j.checks.push(Check::not_run(
                "gateway_latency",
                "overall",
                "ms",
                Bound::Below,
                t.gateway_latency_ms,
                "no API gateway given (--gateway URL)",
            ));
            return Ok(());
        };
        let first = &self.prepared.collections[0];
        let vectors = qdrant_perf_data::Vectors::new(
            first.queries[0].vector.len(),
            first
                .queries
                .iter()
                .flat_map(|q| q.vector.iter().copied())
                .collect(),
        )?;
        let target = HttpTarget::new(
            url,
            body,
            &vectors,
            self.opts.setup.k,
            Duration::from_secs(30),
        )?;
        target.preflight().await?;
        let rate = self.selected[0].1.query_load * self.opts.scale.rate_scale;
        let plan = self.plan("gateway", rate, self.opts.scale.per_collection);
        let r = driver::run(Arc::new(target), &plan, self.stop).await?;
        let lat = &r.latency_ms;
        let mut c = measured_or_failed(
            "gateway_latency",
            "overall",
            "ms",
            Bound::Below,
            t.gateway_latency_ms,
            (lat.samples > 0).then_some((lat.mean_ms, lat.samples)),
            "no request through the gateway succeeded",
        );
        if lat.samples > 0 {
            c = c.with_note(format!("mean end to end through {url} at {rate:.0}/s"));
        }
        j.checks.push(c);
        j.checks.push(error_rate_check(&r, "gateway", t));
        j.runs.push(r);
        Ok(())
    }

    /// Step 5c: the scalability target needs a deployment of its size: not run, or
    /// extrapolated from a scale measurement.
    fn scalability(&self) -> Check {
        let points_used = self
            .selected
            .iter()
            .map(|(_, c)| points_of(&self.opts.scale, c))
            .max()
            .unwrap_or(0);
        scalability_check(
            self.t.scalability_vectors,
            points_used,
            self.opts.measured_scale.as_ref(),
        )
    }
}

/// CPU and memory of the overall run: measured for the embedded engine (this process), not run
/// against a server (its telemetry is not collected) or without /proc.
use qdrant_perf_report::report::GENERATOR_BUSY_PCT;

/// The `cpu_usage` and `memory_usage` checks of the overall run. On the embedded engine they
/// judge this process (which is then the engine); against a server, the server host as
/// `host` read it (the deployment's Prometheus, a node_exporter, or `/proc` for a server on this
/// machine), and are not run, with the reason, when nothing was read.
fn resource_checks(
    res: &Resources,
    host: Option<&HostResources>,
    server: bool,
    t: &Targets,
) -> [Check; 2] {
    if !server {
        let unreadable = "/proc not readable on this system";
        return [
            resource_check(
                "cpu_usage",
                res.cpu_pct_mean,
                t.cpu_pct,
                res.samples,
                "mean of this process (engine + driver) over the overall run, % of all cores",
                unreadable,
            ),
            resource_check(
                "memory_usage",
                res.memory_pct_max,
                t.memory_pct,
                res.samples,
                "highest RSS of this process, % of the machine's memory",
                unreadable,
            ),
        ];
    }
    let Some(host) = host else {
        let why = "the server host is not watched: give --prometheus URL (the deployment's \
                   Prometheus with node_exporter's series of the server host) or --node-exporter \
                   URL, or run the server on this machine (/proc)";
        return [
            resource_check("cpu_usage", None, t.cpu_pct, 0, "", why),
            resource_check("memory_usage", None, t.memory_pct, 0, "", why),
        ];
    };
    let why = match &host.not_collected {
        Some(reason) => format!("{}: {reason}", host.source),
        None => format!("{}: no figure", host.source),
    };
    let generator = match res.cpu_pct_mean {
        Some(g) if g > GENERATOR_BUSY_PCT => format!(
            "; WARNING: the load generator used {g:.0} % of its {} cores, so it, not the server, may be the bottleneck",
            res.cores
        ),
        Some(g) => format!(
            "; the load generator used {g:.0} % of its {} cores",
            res.cores
        ),
        None => String::new(),
    };
    [
        resource_check(
            "cpu_usage",
            host.cpu_pct_mean,
            t.cpu_pct,
            host.samples,
            &format!(
                "mean of the server host over the overall run, % of all its cores, from {}{generator}",
                host.source
            ),
            &why,
        ),
        resource_check(
            "memory_usage",
            host.memory_pct_max,
            t.memory_pct,
            host.samples,
            &format!(
                "highest memory in use on the server host over the overall run, % of its memory, from {}",
                host.source
            ),
            &why,
        ),
    ]
}

/// `server_search_requests` of a run against a server: the search requests the server's own
/// `/telemetry` counted over the run (a figure), the client's count as its sample size and the
/// comparison in its note; not collected, with the reason, when no node's `/telemetry` was read.
/// `None` for a run without a server.
fn server_count_figure(r: &RunResult, collection: &str) -> Option<Check> {
    let side = r.server.as_ref()?;
    let name = "server_search_requests";
    Some(
        match (side.telemetry_searches(), r.telemetry_comparison()) {
            (Some((server, _, _)), Some(note)) => Check::figure(
                name,
                collection,
                Some(server as f64),
                "requests",
                r.client_search_requests(),
                &note,
            ),
            _ => {
                let why = side
                    .nodes
                    .iter()
                    .find_map(|n| n.telemetry_unreadable.as_deref())
                    .or(side.not_collected.as_deref())
                    .unwrap_or("no node's /telemetry was read");
                Check::figure(name, collection, None, "requests", 0, why)
            }
        },
    )
}

/// The `disk_io` and `network_io` figures of the overall run (`monitoring.metrics`; no target in
/// the configuration, so figures, not verdicts): the server host's disk read + written and
/// network received + transmitted (every interface but lo), in MB/s, from the same source as
/// `cpu_usage`; not collected, with the reason, on the embedded engine or an unwatched host.
fn io_figures(host: Option<&HostResources>, server: bool) -> [Check; 2] {
    let why = match host {
        _ if !server => "the embedded engine has no server host: disk and network I/O are read \
                         from a server's host (--prometheus, --node-exporter, or /proc for a \
                         server on this machine)"
            .to_string(),
        None => "the server host is not watched: give --prometheus URL or --node-exporter URL, \
                 or run the server on this machine (/proc)"
            .to_string(),
        Some(h) => {
            h.io.not_collected
                .clone()
                .or(h.not_collected.clone())
                .map_or_else(|| h.source.clone(), |why| format!("{}: {why}", h.source))
        }
    };
    let Some(h) = host.filter(|_| server) else {
        return ["disk_io", "network_io"]
            .map(|name| Check::figure(name, "overall", None, "MB/s", 0, &why));
    };
    let (io, source) = (&h.io, &h.source);
    let mb = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}", v / 1e6));
    let peak = |f: fn(&qdrant_perf_report::IoSecond) -> Option<f64>| {
        mb(io.series.iter().filter_map(f).reduce(f64::max))
    };
    let figure = |name, value: Option<f64>, note: String| match value {
        Some(v) => Check::figure(
            name,
            "overall",
            Some(v / 1e6),
            "MB/s",
            io.series.len() as u64,
            &note,
        ),
        None => Check::figure(name, "overall", None, "MB/s", 0, &why),
    };
    [
        figure(
            "disk_io",
            io.disk_bytes_per_s(),
            format!(
                "read {} + written {} MB/s, mean over the overall run (busiest interval: read {}, \
                 written {} MB/s), from {source}",
                mb(io.disk_read_bytes_per_s),
                mb(io.disk_written_bytes_per_s),
                peak(|s| s.disk_read),
                peak(|s| s.disk_written),
            ),
        ),
        figure(
            "network_io",
            io.network_bytes_per_s(),
            format!(
                "in {} + out {} MB/s over every interface but lo, mean over the overall run \
                 (loopback {} MB/s), from {source}",
                mb(io.network_receive_bytes_per_s),
                mb(io.network_transmit_bytes_per_s),
                mb(io.loopback_bytes_per_s),
            ),
        ),
    ]
}

/// One resource check: measured against `limit`, or not run with `why_not`.
fn resource_check(
    name: &str,
    measured: Option<f64>,
    limit: f64,
    samples: u64,
    measured_note: &str,
    why_not: &str,
) -> Check {
    match measured {
        Some(v) => Check::measured(name, "overall", v, "%", Bound::Below, limit, samples)
            .with_note(measured_note),
        None => Check::not_run(name, "overall", "%", Bound::Below, limit, why_not),
    }
}

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
    let cached = CachedStore::connect(&*collection.store, config.clone()).await?;
    if !cached.is_enabled() {
        if let Some(w) = cached.warning() {
            eprintln!("warning: {w}");
        }
        return Ok(None);
    }
    let _ = cached.clear_collection(&collection.collection).await;
    let pool = collection.queries.len().min(1_000);
    let stream = qdrant_perf_data::QueryStream::zipf(pool, 1.0)?;
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
        "Zipf(1.0) over {pool} distinct queries of {}, {requests} requests, TTL {} s, {}; {} cache errors",
        collection.name,
        m.ttl_seconds,
        match m.l1_bytes {
            0 => "no in-process tier".to_string(),
            b => format!(
                "in-process tier {}",
                qdrant_perf_plumbing::human_bytes(b as f64)
            ),
        },
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
    // Redis lost (or failing) during the check: the searches went on uncached, and what the
    // figures say is not the cache's steady state. Missed, with the reason, never a silent pass
    // (an in-process L1 tier alone can still show a high hit rate).
    let e = &s.errors;
    if e.total() > 0 {
        let why = format!(
            "the cache failed during the check: {} of {} lookups or writes failed \
             (connection {}, timeout {}, auth {}, server {}, other {}); those searches went on \
             uncached against the store. Is Redis at {} up?",
            e.total(),
            s.requests,
            e.connection,
            e.timeout,
            e.auth,
            e.server,
            e.other,
            config.redacted_url()
        );
        return Ok(Some((
            hit_rate.missed_because(why.clone()),
            latency.missed_because(why),
        )));
    }
    Ok(Some((hit_rate, latency)))
}

/// Ramps the load (open loop: `loads` are rates; closed loop: concurrencies) in steps of
/// `base.duration`, stopping at the first step that misses the mean or p95 latency target, has
/// errors, or (open loop) achieves less than 99 % of its rate. The knee is the last step that
/// met them all.
pub async fn ramp<T: Target>(
    target: Arc<T>,
    base: &LoadPlan,
    loads: &[f64],
    t: &Targets,
    stop: &StopSignal,
    monitor: &Monitor,
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
        let r = driver::run_monitored(target.clone(), &plan, stop, monitor).await?;
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
            throughput_ci: r.throughput_ci,
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

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_perf_report::checks::{Verdict, exit_code};

    fn measured() -> Resources {
        Resources {
            cpu_pct_mean: Some(91.0),
            memory_pct_max: Some(12.5),
            samples: 7,
            cores: 2,
            ..Resources::default()
        }
    }

    fn scale_json() -> serde_json::Value {
        // The shape `qdrant-perf scale` writes (fields validate does not read left out).
        serde_json::json!({
            "kind": "qdrant-perf scale",
            "dim": 768,
            "predict": 100_000_000u64,
            "steps": [{"points": 10_000}, {"points": 1_000_000}, {"points": 100_000}],
            "growth": {
                "storage": "ram",
                "p50_ms_vs_ln_n": {"extrapolation": {"label": "extrapolation",
                    "points": 100_000_000u64, "value": 2.5, "backtest_relative_error": -0.125}},
                "p99_ms_vs_ln_n": null,
                "ram_bytes_vs_n": {"extrapolation": {"label": "extrapolation",
                    "points": 100_000_000u64, "value": 343_597_383_680.0,
                    "backtest_relative_error": 0.01}},
                "build_seconds_vs_n": {"extrapolation": {"label": "extrapolation",
                    "points": 100_000_000u64, "value": 90_000.0,
                    "backtest_relative_error": null}}
            }
        })
    }

    #[test]
    fn the_connection_ramp_follows_the_files_stress_keys_and_quick_scales_it_down() {
        let text = crate::config::BUNDLED_CONFIG
            .replace("max_connections: 5000", "max_connections: 200")
            .replace("duration: 600", "duration: 20")
            .replace("ramp_up_time: 60", "ramp_up_time: 12");
        let config = PerformanceConfig::parse(&text, "t.yaml").unwrap();
        let full = Scale::full(&config);
        assert_eq!(full.max_connections, 200);
        assert_eq!(full.stress_hold, Duration::from_secs(20));
        assert_eq!(full.stress_step, Duration::from_secs(2));
        let quick = Scale::quick(&config);
        assert_eq!(quick.max_connections, 20);
        assert_eq!(quick.stress_hold, Duration::from_secs(3));
        let said = quick.describe().unwrap();
        assert!(
            said.contains("connection ramp to 20 connections held 3 s"),
            "{said}"
        );
        let bundled = Scale::quick(&PerformanceConfig::bundled());
        assert_eq!(bundled.max_connections, 500);
    }

    #[test]
    fn scalability_is_not_run_without_a_measurement_and_extrapolated_with_one() {
        let c = scalability_check(100_000_000, 2_000, None);
        assert_eq!(c.verdict, Verdict::NotRun);
        assert!(
            c.note
                .as_ref()
                .unwrap()
                .contains("holding 100000000 vectors; this run used 2000"),
            "{c:?}"
        );
        assert!(
            c.note.as_ref().unwrap().contains("--measured FILE"),
            "{c:?}"
        );

        let m = ScaleMeasurement::from_json(&scale_json(), "scale-768d.json").unwrap();
        assert_eq!(m.largest_points, 1_000_000);
        assert_eq!(
            (m.storage.as_str(), m.dim, m.predict),
            ("ram", 768, 100_000_000)
        );
        let fits: Vec<&str> = m.extrapolations.iter().map(|x| x.fit.as_str()).collect();
        assert_eq!(
            fits,
            ["p50_ms_vs_ln_n", "ram_bytes_vs_n", "build_seconds_vs_n"]
        );
        let c = scalability_check(100_000_000, 2_000, Some(&m));
        assert_eq!(c.verdict, Verdict::Extrapolated);
        assert_eq!(c.passed, None);
        assert_eq!(c.measured, Some(1_000_000.0));
        assert_eq!(c.limit, 100_000_000.0);
        let note = c.note.unwrap();
        for needle in [
            "extrapolation from scale-768d.json (measured up to 1000000 vectors at 768 d, ram storage) to 100000000 vectors",
            "not a measurement",
            "p50 2.500 ms (back-test error -12.5 %)",
            "RAM 320.00 GiB (back-test error +1.0 %)",
            "build 90000 s (back-test error unknown)",
        ] {
            assert!(note.contains(needle), "{needle:?} not in {note}");
        }
        assert!(!note.contains("rerun scale"), "{note}");
        // Extrapolated to another size than the target: said, with the fix.
        let note = scalability_check(50_000_000, 2_000, Some(&m)).note.unwrap();
        assert!(
            note.contains("not the target's 50000000: rerun scale with --predict 50000000"),
            "{note}"
        );
    }

    #[test]
    fn a_json_that_is_not_a_back_tested_scale_report_is_refused_with_the_reason() {
        let err =
            ScaleMeasurement::from_json(&serde_json::json!({"kind": "qdrant-perf sweep"}), "x")
                .unwrap_err();
        assert!(err.contains("expected \"qdrant-perf scale\""), "{err}");
        let mut old = scale_json();
        old["growth"] = serde_json::json!({"p50_ms_vs_ln_n": {"slope": 1.0}});
        let err = ScaleMeasurement::from_json(&old, "x").unwrap_err();
        assert!(err.contains("rerun `qdrant-perf scale`"), "{err}");
        let mut none = scale_json();
        none["steps"] = serde_json::json!([]);
        assert!(
            ScaleMeasurement::from_json(&none, "x")
                .unwrap_err()
                .contains("no measured steps")
        );
        let mut one = scale_json();
        one["growth"] = serde_json::json!({"storage": "ram"});
        assert!(
            ScaleMeasurement::from_json(&one, "x")
                .unwrap_err()
                .contains("fewer than two sizes")
        );
    }

    #[test]
    fn against_a_server_cpu_and_memory_judge_the_server_host_or_say_why_not() {
        let t = PerformanceConfig::bundled().targets();
        // Nothing watched the host: not run, saying how to watch it.
        let [cpu, memory] = resource_checks(&measured(), None, true, &t);
        for (c, name) in [(&cpu, "cpu_usage"), (&memory, "memory_usage")] {
            assert_eq!(c.name, name);
            assert_eq!(c.verdict, Verdict::NotRun, "{c:?}");
            assert_eq!(c.measured, None, "{c:?}");
            let note = c.note.as_deref().unwrap_or_default();
            assert!(
                note.contains("--prometheus") && note.contains("--node-exporter"),
                "{c:?}"
            );
        }
        // The host's figures are judged, with their source; the client's 91 % is not the
        // server's, but it is named as a warning.
        let host = HostResources {
            source: "prometheus http://p:9090 (instance \"h:9100\")".into(),
            kind: "prometheus".into(),
            cpu_pct_mean: Some(42.0),
            memory_pct_max: Some(85.0),
            samples: 12,
            ..HostResources::default()
        };
        let [cpu, memory] = resource_checks(&measured(), Some(&host), true, &t);
        assert_eq!((cpu.measured, cpu.verdict), (Some(42.0), Verdict::Passed));
        assert_eq!(
            (memory.measured, memory.verdict),
            (Some(85.0), Verdict::Failed)
        );
        assert_eq!(cpu.samples, Some(12));
        let note = cpu.note.as_deref().unwrap();
        assert!(note.contains("prometheus http://p:9090"), "{note}");
        assert!(
            note.contains("WARNING: the load generator used 91 %"),
            "{note}"
        );
        // A source that answered nothing: not run with its reason.
        let empty = HostResources {
            not_collected: Some("fewer than 2 samples".into()),
            cpu_pct_mean: None,
            memory_pct_max: None,
            ..host
        };
        let [cpu, _] = resource_checks(&measured(), Some(&empty), true, &t);
        assert_eq!(cpu.verdict, Verdict::NotRun);
        assert!(
            cpu.note
                .as_deref()
                .unwrap()
                .contains("fewer than 2 samples")
        );
    }

    #[test]
    fn on_the_embedded_engine_cpu_and_memory_are_judged_or_not_run_without_proc() {
        let t = PerformanceConfig::bundled().targets();
        let [cpu, memory] = resource_checks(&measured(), None, false, &t);
        assert_eq!((cpu.measured, cpu.limit), (Some(91.0), t.cpu_pct));
        assert_eq!(cpu.verdict, Verdict::Failed, "91 % is above {}", t.cpu_pct);
        assert_eq!(cpu.samples, Some(7));
        assert_eq!(memory.measured, Some(12.5));
        assert_eq!(memory.verdict, Verdict::Passed);
        assert!(
            memory.note.as_deref().unwrap().contains("RSS"),
            "{memory:?}"
        );
        let [cpu, _] = resource_checks(&Resources::default(), None, false, &t);
        assert_eq!(cpu.verdict, Verdict::NotRun);
        assert_eq!(
            cpu.note.as_deref(),
            Some("/proc not readable on this system")
        );
    }

    #[test]
    fn disk_and_network_io_are_figures_of_the_server_host_or_say_why_not() {
        use qdrant_perf_report::{HostIo, IoSecond};
        let [disk, net] = io_figures(None, false);
        for c in [&disk, &net] {
            assert_eq!((c.verdict, c.measured), (Verdict::Figure, None));
            assert!(
                c.note.as_deref().unwrap().contains("embedded engine"),
                "{c:?}"
            );
        }
        assert_eq!(
            (disk.name.as_str(), net.name.as_str()),
            ("disk_io", "network_io")
        );
        let [disk, _] = io_figures(None, true);
        assert!(disk.note.unwrap().contains("--node-exporter"));
        let host = HostResources {
            source: "node_exporter http://127.0.0.1:9100/metrics".into(),
            io: HostIo {
                disk_read_bytes_per_s: Some(1e6),
                disk_written_bytes_per_s: Some(3e6),
                network_receive_bytes_per_s: Some(2e6),
                network_transmit_bytes_per_s: Some(5e5),
                loopback_bytes_per_s: None,
                series: vec![
                    IoSecond {
                        t: 1.0,
                        disk_written: Some(5e6),
                        ..IoSecond::default()
                    },
                    IoSecond {
                        t: 2.0,
                        disk_written: Some(1e6),
                        ..IoSecond::default()
                    },
                ],
                not_collected: None,
            },
            ..HostResources::default()
        };
        let [disk, net] = io_figures(Some(&host), true);
        assert_eq!((disk.measured, disk.samples), (Some(4.0), Some(2)));
        assert_eq!(net.measured, Some(2.5));
        let note = disk.note.unwrap();
        assert!(
            note.contains("read 1.00 + written 3.00 MB/s") && note.contains("written 5.00 MB/s"),
            "{note}"
        );
        assert!(net.note.as_deref().unwrap().contains("loopback - MB/s"));
        // A host whose node_exporter has no disk counters: the reason, with the source.
        let bare = HostResources {
            io: HostIo {
                not_collected: Some("no disk read counters".into()),
                ..HostIo::default()
            },
            ..host
        };
        let [disk, _] = io_figures(Some(&bare), true);
        assert_eq!(disk.measured, None);
        assert_eq!(
            disk.note.as_deref(),
            Some("node_exporter http://127.0.0.1:9100/metrics: no disk read counters")
        );
        assert_eq!(exit_code(&[disk, net], true), 0);
    }
}
