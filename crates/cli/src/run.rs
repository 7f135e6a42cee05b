//! What `load`, `stress`, `validate` and `stream` share to run: the target a run drives
//! ([`AnyTarget`], built by [`build_target`] from [`TargetArgs`]), the read-only guard, the run
//! directory with its interval log ([`run_dir`]) and the one writer of a run's files
//! ([`write_report`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use qdrant_perf_load::config::{CollectionConfig, PerformanceConfig};
use qdrant_perf_load::driver::{self, LoadPlan, Mix, Mode, RunResult, StopSignal, Target};
use qdrant_perf_load::live::LiveServer;
use qdrant_perf_load::monitor::Monitor;
use qdrant_perf_load::setup::{self, DatasetSource, SetupOptions};
use qdrant_perf_load::target::{
    BodySpec, DEFAULT_HTTP_BODY, EndpointSpec, HttpOptions, HttpTarget, NoopTarget, StoreTarget,
};
use qdrant_perf_load::validate;
use qdrant_perf_report::intervals::{Header, IntervalLog};
use qdrant_perf_report::report::{Report, TargetInfo};
use qdrant_perf_store::{SearchDefaults, ServerConfig};

use crate::args::{LOAD_FLAGS, RunArgs, TargetArgs, with_flag};
use crate::setup::{Watch, cache, load_config, server_config};

/// What Ctrl-C prints during `load`, `stress` and `validate`.
pub const CTRL_C_ENDS_THE_RUN: &str = "ending the run early; the report will be marked partial";

/// The three kinds of target.
pub enum Kind {
    Store(
        Arc<StoreTarget<qdrant_perf_store::AnyStore>>,
        Box<setup::ReadyCollections>,
    ),
    Http(Arc<HttpTarget>),
    Noop(Arc<NoopTarget>),
}

/// A target ready to run, with what its runs watch (and the live endpoint, while it lives).
pub struct AnyTarget {
    pub kind: Kind,
    pub monitor: Monitor,
    _live: Option<LiveServer>,
}

/// The names of `--read-only`, trimmed, without empty ones.
pub fn read_only_names(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// `--read-only` measures collections of a Qdrant server: refused, before any work, for the
/// embedded engine, the no-op target or an HTTP endpoint.
pub fn check_read_only(target: &str, http: bool) -> Result<()> {
    if http || matches!(target, "edge" | "noop") {
        bail!(
            "--read-only measures existing collections of a Qdrant server, not {}: give \
             --target URL (e.g. --target grpc://127.0.0.1:6334)",
            if http { "an --http endpoint" } else { target }
        );
    }
    Ok(())
}

/// Builds the target named by `args`; anything wrong (an unknown collection, an unreachable
/// server or endpoint) is an error here, before the run starts.
pub async fn build_target(
    args: &TargetArgs,
    mix: &Mix,
    quiet: bool,
) -> Result<(AnyTarget, TargetInfo, Vec<String>)> {
    let config = load_config(args.config.as_ref())?;
    let read_only = read_only_names(&args.read_only);
    if !read_only.is_empty() {
        check_read_only(&args.target, args.http.is_some())?;
        if mix.contains(driver::OpKind::Upsert) {
            bail!(
                "--read-only never writes to the collections it measures: drop upsert from --mix \
                 (e.g. --mix search=100)"
            );
        }
    }
    if args.target == "noop" && args.http.is_none() {
        return Ok((
            AnyTarget::new(
                Kind::Noop(Arc::new(NoopTarget)),
                args.monitor.watch(None).await?,
            ),
            TargetInfo {
                kind: "noop".into(),
                url: None,
                engine_version: None,
            },
            Vec::new(),
        ));
    }
    let selected = if read_only.is_empty() {
        config.select(&args.collections)?
    } else {
        config
            .select(&read_only.join(","))
            .map_err(|e| anyhow::anyhow!("--read-only: {e}"))?
    };
    let search = qdrant_perf_store::Profiles::bundled().search;
    if let Some(url) = &args.http {
        let (t, notes) = http_target(args, url, &config, &selected, search.k).await?;
        return Ok((
            AnyTarget::new(Kind::Http(Arc::new(t)), args.monitor.watch(None).await?),
            TargetInfo {
                kind: "http".into(),
                url: Some(url.clone()),
                engine_version: None,
            },
            notes,
        ));
    }
    store_target(args, mix, quiet, &config, &selected, read_only, search).await
}

/// The embedded engine's or a server's target: the collections set up (`load::setup`), the
/// monitor of the server's side, the Redis cache when the mix has cached searches. What this
/// created is dropped again when a later step fails.
async fn store_target(
    args: &TargetArgs,
    mix: &Mix,
    quiet: bool,
    config: &PerformanceConfig,
    selected: &[(String, CollectionConfig)],
    read_only: Vec<String>,
    search: SearchDefaults,
) -> Result<(AnyTarget, TargetInfo, Vec<String>)> {
    let server = server_config(&args.target)?.map(|c| ServerConfig {
        index_timeout: args.monitor.index_timeout,
        ..c
    });
    let choices = config.choices(selected);
    let cache = cache(args.cache_dir.clone())?;
    let dataset = crate::setup::user_data(&args.data, &cache)?;
    let opts = SetupOptions {
        points: args.points,
        queries: args.queries,
        k: search.k,
        ef: search.hnsw_ef,
        server: server.clone(),
        cache,
        writes: mix.contains(driver::OpKind::Upsert),
        quiet,
        read_only,
        dataset,
    };
    let mut prepared = setup::prepare(&choices, &opts)
        .await
        .map_err(|e| with_flag(e, LOAD_FLAGS))?;
    let notes = prepared.notes.clone();
    let info = TargetInfo {
        kind: prepared.engine.clone(),
        url: server.as_ref().map(|s| s.urls.join(",")),
        engine_version: Some(prepared.engine_version.clone()),
    };
    let mut target = StoreTarget::new(
        prepared
            .collections
            .iter()
            .map(|c| c.with_qps(c.qps))
            .collect(),
        search.k,
    );
    let watch = match args.monitor.watch(server.as_ref()).await {
        Ok(w) => w,
        Err(e) => {
            for line in prepared.cleanup().await {
                eprintln!("{line}");
            }
            return Err(e);
        }
    };
    let mut monitor = watch.monitor.with_collections(
        prepared
            .collections
            .iter()
            .map(|c| c.collection.clone())
            .collect(),
    );
    if mix.contains(driver::OpKind::CachedSearch) {
        let cache = match cached_store(&prepared, args, config).await {
            Ok(c) => c,
            Err(e) => {
                for line in prepared.cleanup().await {
                    eprintln!("{line}");
                }
                return Err(e);
            }
        };
        monitor = monitor.with_cache(cache.clone());
        target = target.with_cache(cache);
    }
    Ok((
        AnyTarget::new(
            Kind::Store(Arc::new(target), Box::new(prepared)),
            Watch {
                monitor,
                live: watch.live,
            },
        ),
        info,
        notes,
    ))
}

/// The endpoints of `--http` (one, or those of `--endpoint`/`--endpoints`), their held-out
/// queries when a body has `{{vector}}`, checked with one request each before the run.
async fn http_target(
    args: &TargetArgs,
    url: &str,
    config: &PerformanceConfig,
    selected: &[(String, CollectionConfig)],
    k: usize,
) -> Result<(HttpTarget, Vec<String>)> {
    let flags = |e| with_flag(e, LOAD_FLAGS);
    let mut lines = args.endpoint.clone();
    if let Some(file) = &args.endpoints {
        let text = std::fs::read_to_string(file).with_context(|| {
            format!(
                "--endpoints {}: cannot read it; give a file with one `NAME WEIGHT METHOD PATH [BODY]` line per endpoint",
                file.display()
            )
        })?;
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
        if lines.is_empty() {
            bail!(
                "--endpoints {}: no endpoints in it; give one `NAME WEIGHT METHOD PATH [BODY]` line per endpoint",
                file.display()
            );
        }
    }
    let specs: Vec<EndpointSpec> = if lines.is_empty() {
        let method = qdrant_perf_load::http::parse_method(&args.method).map_err(flags)?;
        let body = match (&args.body, &args.bodies) {
            (_, Some(file)) => {
                BodySpec::Lines(qdrant_perf_load::http::read_bodies(file).map_err(flags)?)
            }
            (Some(b), None) => BodySpec::Text(b.clone()),
            (None, None) if method == qdrant_perf_load::http::Method::GET => BodySpec::None,
            (None, None) => BodySpec::Text(DEFAULT_HTTP_BODY.into()),
        };
        let name = qdrant_perf_load::http::host_name(url).map_err(flags)?;
        vec![EndpointSpec {
            name,
            method,
            url: url.to_string(),
            body,
            weight: 1.0,
        }]
    } else {
        lines
            .iter()
            .map(|l| EndpointSpec::parse(l, Some(url)))
            .collect::<Result<_, _>>()
            .map_err(flags)?
    };
    let headers = args
        .headers
        .iter()
        .map(|h| qdrant_perf_load::http::parse_header(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(flags)?;
    let needs_queries = specs
        .iter()
        .any(|s| matches!(&s.body, BodySpec::Text(t) if t.contains("{{vector}}")));
    let mut notes = Vec::new();
    let dataset = if needs_queries {
        let [(name, c)] = selected else {
            bail!(
                "--http drives one endpoint: give one collection (its dimension shapes the query vectors), e.g. --collections deepcoder"
            );
        };
        let cache = cache(args.cache_dir.clone())?;
        let user = crate::setup::user_data(&args.data, &cache)?;
        if let Some(user) = &user {
            setup::check_dataset_dims(user, &config.dims(Some(selected)), &config.dims(None))
                .map_err(flags)?;
        }
        let source = DatasetSource {
            points: args.points,
            queries: args.queries,
            cache,
            user: user.as_deref(),
            k: k.max(100),
        };
        let dataset = source.dataset(&config.choices(selected)[0]).map_err(|e| {
            anyhow::anyhow!("the query set of {name} (--dataset or generated): {e}")
        })?;
        notes.push(format!(
            "{name}: {} held-out {}-dimensional queries rendered into the bodies of {{{{vector}}}} endpoints",
            dataset.queries.len(),
            c.vector_size
        ));
        Some(dataset)
    } else {
        None
    };
    let opts = HttpOptions {
        headers,
        http2: args.http2,
        timeout: Duration::from_secs(30),
    };
    let mut t = HttpTarget::with_endpoints(specs, dataset.as_ref().map(|d| &d.queries), k, opts)
        .map_err(flags)?;
    if let (Some(p), Some(d)) = (&args.ids_pointer, &dataset) {
        t = t.with_recall(p.clone(), d.truth.clone());
    }
    if let Some(p) = &args.server_time_pointer {
        t = t.with_server_time_pointer(p.clone());
    }
    t.preflight().await?;
    for (name, url) in t.endpoints() {
        notes.push(format!("endpoint {name}: {url}"));
    }
    Ok((t, notes))
}

/// The Redis cache-aside store in front of the prepared collections' store (`REDIS_URL`,
/// `--cache required|optional`, `--cache-ttl`), for `cached_search`.
async fn cached_store(
    prepared: &setup::ReadyCollections,
    args: &TargetArgs,
    config: &PerformanceConfig,
) -> Result<Arc<qdrant_perf_store::CachedStore<Arc<qdrant_perf_store::AnyStore>>>> {
    let store = prepared.collections[0].store.clone();
    if prepared
        .collections
        .iter()
        .any(|c| !Arc::ptr_eq(&c.store, &store))
    {
        bail!(
            "cached_search on the embedded engine runs over one store: give collections of one dimension (e.g. --collections deepcoder), or a Qdrant server with --target"
        );
    }
    let config = crate::setup::cache_config(args.cache, args.cache_ttl, config)?;
    let cache = qdrant_perf_store::CachedStore::connect(store, config)
        .await
        .map_err(|e| with_flag(e, LOAD_FLAGS))?;
    Ok(Arc::new(cache))
}

pub fn plan_for(run: &RunArgs, mode: Mode, label: &str) -> LoadPlan {
    let mut plan = LoadPlan::open(1.0, Duration::from_secs(30));
    plan.label = label.into();
    plan.mode = mode;
    plan.duration = match (run.duration, run.requests) {
        (None, None) => Some(Duration::from_secs(30)),
        (d, _) => d,
    };
    plan.requests = run.requests;
    plan.warmup = run.warmup;
    plan.mix = run.mix.clone();
    plan.progress = !run.quiet;
    plan
}

/// The datasets and index parameters of a store target, into the report's provenance.
pub fn record_setup(report: &mut Report, target: &AnyTarget, config: &PerformanceConfig) {
    if let Kind::Store(_, prepared) = &target.kind {
        report.provenance.datasets = prepared.datasets.clone();
        report.provenance.index = Some(index_parameters(config));
    }
}

/// The HNSW parameters the collections are built with and the search parameters, as data.
pub fn index_parameters(config: &PerformanceConfig) -> serde_json::Value {
    let ix = &config.performance_tests.optimization.indexing;
    let search = qdrant_perf_store::Profiles::bundled().search;
    serde_json::json!({
        "hnsw_m": ix.hnsw_m,
        "hnsw_ef_construct": ix.hnsw_ef_construct,
        "full_scan_threshold": ix.full_scan_threshold,
        "k": search.k,
        "hnsw_ef": search.hnsw_ef,
    })
}

/// Writes a run's directory (report.json, histograms, summary.md, report.html, metrics.prom).
pub fn write_report(report: &Report, dir: &Path) -> Result<()> {
    qdrant_perf_render::write_run(report, dir)
        .with_context(|| format!("writing the report to {}", dir.display()))?;
    Ok(())
}

/// The run directory of `command` (`--out`, or the default under target/qdrant-perf/runs/),
/// made when the target is ready (before the first request) with its interval log, so a run killed before its report is written leaves
/// every completed second there (`qdrant-perf report DIR` rebuilds a report from them). A
/// directory that cannot be written is said as a warning here, and an error when the report is
/// written at the end; the run itself goes on.
pub fn run_dir(command: &str, out: Option<PathBuf>) -> (PathBuf, Option<IntervalLog>) {
    let dir = out.unwrap_or_else(|| Report::default_dir_for(command));
    match IntervalLog::create(&dir) {
        Ok(log) => (dir, Some(log)),
        Err(e) => {
            eprintln!(
                "warning: cannot write the interval log {}: {e}; the run goes on and its report is written at the end",
                dir.join(qdrant_perf_report::intervals::INTERVALS_FILE)
                    .display()
            );
            (dir, None)
        }
    }
}

/// Starts the interval log of a run: its header (from `report`, the run's report without its
/// runs yet), and every run of `target` appending its seconds to it.
pub fn start_intervals(log: Option<&IntervalLog>, target: &mut AnyTarget, report: &Report) {
    if let Some(log) = log {
        log.append_or_warn(&[Header::of(report)]);
        target.monitor = target.monitor.with_intervals(log.clone());
    }
}

impl AnyTarget {
    /// A target of `kind`, watched by `watch`'s monitor (and its live endpoint, kept open while
    /// the target lives).
    fn new(kind: Kind, watch: Watch) -> Self {
        Self {
            kind,
            monitor: watch.monitor,
            _live: watch.live,
        }
    }

    pub async fn run(&self, plan: &LoadPlan, stop: &StopSignal) -> Result<RunResult> {
        let m = &self.monitor;
        match &self.kind {
            Kind::Store(t, _) => driver::run_monitored(t.clone(), plan, stop, m).await,
            Kind::Http(t) => driver::run_monitored(t.clone(), plan, stop, m).await,
            Kind::Noop(t) => driver::run_monitored(t.clone(), plan, stop, m).await,
        }
        .map_err(|e| with_flag(e, LOAD_FLAGS))
    }

    /// A stress ramp over `loads` (see [`validate::ramp`]).
    pub async fn ramp(
        &self,
        plan: &LoadPlan,
        loads: &[f64],
        t: &qdrant_perf_load::config::Targets,
        stop: &StopSignal,
    ) -> Result<(qdrant_perf_report::StressSummary, Vec<RunResult>), driver::LoadError> {
        let m = &self.monitor;
        match &self.kind {
            Kind::Store(tg, _) => validate::ramp(tg.clone(), plan, loads, t, stop, m).await,
            Kind::Http(tg) => validate::ramp(tg.clone(), plan, loads, t, stop, m).await,
            Kind::Noop(tg) => validate::ramp(tg.clone(), plan, loads, t, stop, m).await,
        }
    }

    /// Sum of the collections' configured rates (the default open-loop rate).
    pub fn configured_rate(&self) -> f64 {
        match &self.kind {
            Kind::Store(t, _) => t.collections().iter().map(|c| c.qps).sum(),
            _ => 1000.0,
        }
    }

    pub async fn cleanup(&mut self) {
        if let Kind::Store(_, prepared) = &mut self.kind {
            for line in prepared.cleanup().await {
                eprintln!("{line}");
            }
        }
    }
}
