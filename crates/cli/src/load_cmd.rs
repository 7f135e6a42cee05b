//! `qdrant-perf load` and `qdrant-perf stress`: one load run (or a ramp of runs) against the
//! embedded engine, a Qdrant server, any JSON HTTP endpoint, or the no-op target.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use qdrant_perf_data::{Dataset, DatasetSpec, Metric};
use qdrant_perf_load::config::PerformanceConfig;
use qdrant_perf_load::driver::{self, LoadPlan, Mix, Mode, RunResult, StopSignal, Target};
use qdrant_perf_load::live::LiveServer;
use qdrant_perf_load::monitor::Monitor;
use qdrant_perf_load::setup::{self, CollectionChoice, SetupOptions};
use qdrant_perf_load::target::{
    BodySpec, DEFAULT_HTTP_BODY, EndpointSpec, HttpOptions, HttpTarget, NoopTarget, StoreTarget,
};
use qdrant_perf_load::validate;
use qdrant_perf_report::checks::{Bound, Check};
use qdrant_perf_report::intervals::{Header, IntervalLog};
use qdrant_perf_report::report::{Report, TargetInfo};
use qdrant_perf_store::{HnswParams, ServerConfig};

use crate::common::{
    LOAD_FLAGS, MonitorArgs, Watch, cache, closed_loop_runtime, ctrl_c_stop, load_config, runtime,
    server_config, with_flag,
};

/// What Ctrl-C prints during `load`, `stress` and `validate`.
pub const CTRL_C_ENDS_THE_RUN: &str = "ending the run early; the report will be marked partial";

/// Where the load goes and on what data.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// `edge` (the embedded engine), a Qdrant URL (`grpc://host:6334`, `rest+http://host:6333`,
    /// `http://host:6334`; `QDRANT_API_KEY` for the key), or `noop` (the driver alone).
    #[arg(long, default_value = "edge", env = "QDRANT_URL")]
    pub target: String,
    /// Any JSON HTTP endpoint instead, e.g. the gateway's `POST /api/v1/vectors/search`
    /// (with --endpoint: the host the endpoints' paths go to).
    #[arg(long)]
    pub http: Option<String>,
    /// HTTP method of --http: GET, POST or PUT.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Request body for --http: `{{vector}}` becomes a held-out query vector (a JSON array,
    /// one rendered body per query) and `{{k}}` the number of results; a body without
    /// `{{vector}}` is sent as it is. Default: Qdrant's search request for POST and PUT, none
    /// for GET.
    #[arg(long, conflicts_with = "bodies")]
    pub body: Option<String>,
    /// Request bodies for --http, one per line of FILE (JSON Lines), sent in turn, cycled.
    #[arg(long, value_name = "FILE")]
    pub bodies: Option<PathBuf>,
    /// A request header for --http, `Name: value` (repeatable), e.g. 'Authorization: Bearer
    /// TOKEN'. Values are never printed nor written to reports.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// One of several endpoints of one run, `NAME WEIGHT METHOD PATH [BODY]` (repeatable):
    /// PATH goes to --http's host (or is a full URL), WEIGHT is its share of the requests,
    /// BODY as --body or `@FILE` as --bodies. Each endpoint is reported apart.
    #[arg(long = "endpoint", value_name = "LINE", conflicts_with_all = ["body", "bodies"])]
    pub endpoint: Vec<String>,
    /// The endpoints in a file, one `NAME WEIGHT METHOD PATH [BODY]` line each (`#` comments).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["body", "bodies"])]
    pub endpoints: Option<PathBuf>,
    /// HTTP/2 with prior knowledge (h2c on http://) for --http, instead of HTTP/1.1 keep-alive.
    #[arg(long)]
    pub http2: bool,
    /// JSON pointer to the result list in --http responses (`/result`), to measure recall.
    #[arg(long)]
    pub ids_pointer: Option<String>,
    /// JSON pointer to the server's own time, in seconds, in --http responses (`/time` for
    /// Qdrant's REST API); without it a `Server-Timing` header is read when the response has
    /// one (its `total`, else its first `dur`).
    #[arg(long)]
    pub server_time_pointer: Option<String>,
    /// Collections of the config (names separated by commas, or `all`), each at its
    /// configured query_load share of the rate.
    #[arg(long, default_value = "deepcoder")]
    pub collections: String,
    /// Measure these collections of the server as they are (names separated by commas, e.g.
    /// `mixtral,phi3`), instead of loading `perf_` copies: queries drawn from the collection,
    /// truth from the server's exact search, nothing created, written or dropped. Each must be
    /// a collection of the config (its query_load applies); needs --target URL.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["collections", "dataset"])]
    pub read_only: Vec<String>,
    /// The deployment's performance-tests.yaml (default: the bundled fixtures copy).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Points per collection.
    #[arg(long, default_value_t = 20_000, value_parser = positive_usize)]
    pub points: usize,
    #[command(flatten)]
    pub data: crate::common::DatasetArgs,
    /// Held-out queries per collection (the run cycles through them).
    #[arg(long, default_value_t = 1_000, value_parser = positive_usize)]
    pub queries: usize,
    /// Dataset and index cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// For `cached_search` in the mix: the Redis result cache at REDIS_URL (default
    /// redis://127.0.0.1:6379) is `required` (unreachable at start: an error) or `optional`
    /// (a warning, and the cached searches run uncached).
    #[arg(long, default_value = "required", value_parser = crate::validate_cmd::parse_cache_mode)]
    pub cache: qdrant_perf_store::CacheMode,
    /// Seconds a cached result lives (default: the file's optimization.caching.cache_ttl).
    #[arg(long)]
    pub cache_ttl: Option<i64>,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

/// How long and how hard.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Test duration (recorded part): `10s`, `500ms`, `2m`, or seconds.
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Warm-up before recording (requests run but are not recorded).
    #[arg(long, value_parser = parse_duration_or_zero, default_value = "2s", allow_hyphen_values = true)]
    pub warmup: Duration,
    /// Stop after this many recorded requests (with --duration: whichever comes first).
    #[arg(long, value_parser = positive_u64, allow_hyphen_values = true)]
    pub requests: Option<u64>,
    /// Operation mix, relative weights: search, search_batch, upsert, cached_search (searches
    /// through the Redis cache, see --cache).
    #[arg(long, default_value = "search=100", value_parser = parse_mix)]
    pub mix: Mix,
    /// Report directory (default: target/qdrant-perf/runs/<UTC time>-<command>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Open loop: requests per second, due at fixed times, latency from the due time
    /// (default: the collections' query_load from the config).
    #[arg(long, value_parser = parse_rate, conflicts_with = "concurrency", allow_hyphen_values = true)]
    pub rate: Option<f64>,
    /// Closed loop: this many workers back to back.
    #[arg(long, value_parser = positive_usize, allow_hyphen_values = true)]
    pub concurrency: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct StressArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// First step's rate (open loop), requests per second.
    #[arg(long, value_parser = parse_rate, default_value = "1000")]
    pub from: f64,
    /// Last step's rate (default: 1.5 x the peak throughput target).
    #[arg(long, value_parser = parse_rate)]
    pub to: Option<f64>,
    /// Number of steps from --from to --to.
    #[arg(long, default_value_t = 8, value_parser = positive_usize)]
    pub steps: usize,
    /// Ramp concurrency (closed loop) instead of rate: from 1 worker to this many
    /// (the seed's stress_testing.max_connections is 5000).
    #[arg(long, value_parser = positive_usize)]
    pub concurrency_to: Option<usize>,
    /// Each step's duration (default: stress_testing.ramp_up_time / steps, at least 2 s).
    #[arg(long, value_parser = parse_duration)]
    pub step_duration: Option<Duration>,
}

pub fn positive_usize(s: &str) -> Result<usize, String> {
    match s.replace('_', "").parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number > 0")),
    }
}

fn positive_u64(s: &str) -> Result<u64, String> {
    positive_usize(s).map(|n| n as u64)
}

pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.replace('_', "").trim_end_matches("/s").parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a rate > 0 in requests per second (example: --rate 2000)"
        )),
    }
}

fn parse_mix(s: &str) -> Result<Mix, String> {
    s.parse()
        .map_err(|e| format!("{:#}", with_flag(e, LOAD_FLAGS)))
}

/// `10s`, `500ms`, `2m`, `1h` or plain seconds; must be > 0.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration_or_zero(s)?;
    if d.is_zero() {
        return Err(format!(
            "{s:?}: a duration must be longer than 0 (example: 10s)"
        ));
    }
    Ok(d)
}

pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let factor = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?}; use ms, s, m or h (example: 30s)"
            ));
        }
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v * factor)),
        _ => Err(format!(
            "{s:?} is not a duration >= 0 (example: 30s, 500ms, 2m)"
        )),
    }
}

/// The three kinds of target.
pub enum Kind {
    Store(
        Arc<StoreTarget<qdrant_perf_store::AnyStore>>,
        Box<setup::Prepared>,
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

impl AnyTarget {
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
    let target_of = |kind: Kind, watch: Watch| AnyTarget {
        kind,
        monitor: watch.monitor,
        _live: watch.live,
    };
    if args.target == "noop" && args.http.is_none() {
        return Ok((
            target_of(
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
    let ix = &config.performance_tests.optimization.indexing;
    let hnsw = HnswParams {
        m: ix.hnsw_m,
        ef_construct: ix.hnsw_ef_construct,
        full_scan_threshold: ix.full_scan_threshold,
    };
    let search = qdrant_perf_store::Profiles::bundled().search;
    if let Some(url) = &args.http {
        let all: Vec<(String, usize)> = config
            .performance_tests
            .collections
            .0
            .iter()
            .map(|(n, c)| (n.clone(), c.vector_size))
            .collect();
        let (t, notes) = http_target(args, url, &selected, &all, search.k).await?;
        return Ok((
            target_of(Kind::Http(Arc::new(t)), args.monitor.watch(None).await?),
            TargetInfo {
                kind: "http".into(),
                url: Some(url.clone()),
                engine_version: None,
            },
            notes,
        ));
    }
    let server = server_config(&args.target)?.map(|c| ServerConfig {
        index_timeout: args.monitor.index_timeout,
        ..c
    });
    let choices: Vec<CollectionChoice> = selected
        .iter()
        .map(|(name, c)| CollectionChoice {
            name: name.clone(),
            vector_size: c.vector_size,
            metric: Metric::Cosine,
            hnsw,
            qps: c.query_load,
        })
        .collect();
    let cache = cache(args.cache_dir.clone())?;
    let dataset = crate::common::user_data(&args.data, &cache)?;
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
        let cache = match cached_store(&prepared, args, &config).await {
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
        target_of(
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
    selected: &[(String, qdrant_perf_load::config::CollectionConfig)],
    all: &[(String, usize)],
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
        if selected.len() != 1 {
            bail!(
                "--http drives one endpoint: give one collection (its dimension shapes the query vectors), e.g. --collections deepcoder"
            );
        }
        let (name, c) = &selected[0];
        let cache = cache(args.cache_dir.clone())?;
        let dataset = match crate::common::user_data(&args.data, &cache)? {
            Some(user) => {
                qdrant_perf_load::setup::check_dataset_dims(
                    &user,
                    &[(name.clone(), c.vector_size)],
                    all,
                )
                .map_err(|e| with_flag(e, LOAD_FLAGS))?;
                let wanted = qdrant_perf_data::MetricWanted::new(
                    Metric::Cosine,
                    format!("collection `{name}`"),
                );
                user.dataset(Some(&wanted), k.max(100))
                    .map_err(|e| anyhow::anyhow!("--dataset: {e}"))?
            }
            None => {
                let spec = DatasetSpec::new(c.vector_size, args.points)
                    .with_queries(args.queries)
                    .with_metric(Metric::Cosine);
                Dataset::load_or_generate(&spec, &cache)
                    .with_context(|| format!("making the query set of {name}"))?
            }
        };
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
    prepared: &setup::Prepared,
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
    let config = qdrant_perf_store::CacheConfig::from_env()
        .with_mode(args.cache)
        .with_ttl_secs(crate::common::cache_ttl(args.cache_ttl, config))?;
    let cache = qdrant_perf_store::CachedStore::connect(store, config)
        .await
        .map_err(|e| with_flag(e, LOAD_FLAGS))?;
    Ok(Arc::new(cache))
}

fn plan_for(run: &RunArgs, mode: Mode, label: &str) -> LoadPlan {
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
fn record_setup(report: &mut Report, target: &AnyTarget, config: &PerformanceConfig) {
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
fn run_dir(command: &str, out: Option<PathBuf>) -> (PathBuf, Option<IntervalLog>) {
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
fn start_intervals(log: Option<&IntervalLog>, target: &mut AnyTarget, report: &Report) {
    if let Some(log) = log {
        log.append_or_warn(&[Header::of(report)]);
        target.monitor = target.monitor.with_intervals(log.clone());
    }
}

/// `qdrant-perf load`. Exit 0 when the run met its checks (rate achieved, no errors, latency
/// targets), 1 when it missed one, 2 when it could not run.
pub fn load(args: LoadArgs) -> Result<ExitCode> {
    let rt = match args.concurrency {
        Some(workers) => closed_loop_runtime(workers)?,
        None => runtime()?,
    };
    let stop = ctrl_c_stop(&rt, CTRL_C_ENDS_THE_RUN);
    rt.block_on(async {
        let config = load_config(args.target.config.as_ref())?;
        let (mut target, info, notes) =
            build_target(&args.target, &args.run.mix, args.run.quiet).await?;
        let (dir, log) = run_dir("load", args.run.out.clone());
        let mode = match (args.rate, args.concurrency) {
            (_, Some(c)) => Mode::Closed { concurrency: c },
            (Some(r), None) => Mode::Open { rate: r },
            (None, None) => Mode::Open {
                rate: target.configured_rate(),
            },
        };
        let plan = plan_for(&args.run, mode, "load");
        let t = config.targets();
        let describe = |report: &mut Report, target: &AnyTarget| {
            record_setup(report, target, &config);
            report.setup = notes.clone();
            report.config = serde_json::json!({
                "plan": &plan,
                "collections": args.target.collections,
                "read_only": args.target.read_only,
                "points": args.target.points,
                "queries": args.target.queries,
                "targets": t,
            });
        };
        let mut header = Report::new("load", info.clone(), Vec::new(), None);
        describe(&mut header, &target);
        start_intervals(log.as_ref(), &mut target, &header);
        let result = target.run(&plan, &stop).await;
        target.cleanup().await;
        let result = result?;
        print!("{}", qdrant_perf_render::run_text(&result));
        let mut checks = Vec::new();
        if let (Some(rate), false) = (result.requested_rate, result.partial) {
            checks.push(
                Check::measured(
                    "rate_achieved",
                    "overall",
                    result.throughput_ops_s,
                    "ops/s",
                    Bound::AtLeast,
                    rate * 0.99,
                    result.ok,
                )
                .with_note(format!("99 % of {rate:.0} requested")),
            );
        }
        let error_rate = Check::measured(
            "error_rate",
            "overall",
            result.error_rate,
            "",
            Bound::AtMost,
            t.error_rate,
            result.ok + result.errors,
        );
        // Where the errors were, and a lost node judged on its own (not averaged away).
        checks.push(
            match qdrant_perf_report::checks::errors_by_node_note(&result) {
                Some(note) => error_rate.with_note(note),
                None => error_rate,
            },
        );
        checks.extend(qdrant_perf_report::checks::all_nodes_served(&result));
        if result.latency_ms.samples > 0 {
            checks.push(Check::measured(
                "latency_mean",
                "overall",
                result.latency_ms.mean_ms,
                "ms",
                Bound::Below,
                t.mean_latency_ms,
                result.latency_ms.samples,
            ));
            checks.push(Check::measured(
                "latency_p95",
                "overall",
                result.latency_ms.p95_ms,
                "ms",
                Bound::Below,
                t.p95_latency_ms,
                result.latency_ms.samples,
            ));
        }
        let mut report = Report::new("load", info, vec![result], None);
        describe(&mut report, &target);
        report.set_checks(checks, false);
        print!("{}", qdrant_perf_render::checks_table(&report.checks));
        write_report(&report, &dir)?;
        println!("report: {}", dir.display());
        Ok(ExitCode::from(
            report.verdict.as_ref().map_or(0, |v| v.exit_code),
        ))
    })
}

/// `qdrant-perf stress`: ramps the rate (or concurrency) in steps until a target breaks or
/// errors appear, and reports the knee. Exit 0 when the knee reaches the peak throughput target
/// (closed loop: when some step met the targets), 1 otherwise.
pub fn stress(args: StressArgs) -> Result<ExitCode> {
    let rt = runtime()?;
    let stop = ctrl_c_stop(&rt, CTRL_C_ENDS_THE_RUN);
    rt.block_on(async {
        let config = load_config(args.target.config.as_ref())?;
        let t = config.targets();
        let steps = args.steps.max(1);
        let (loads, mode): (Vec<f64>, Mode) = match args.concurrency_to {
            Some(max) => {
                let loads = (1..=steps)
                    .map(|i| ((max as f64) * i as f64 / steps as f64).round().max(1.0))
                    .collect();
                (loads, Mode::Closed { concurrency: 1 })
            }
            None => {
                let to = args.to.unwrap_or(t.peak_ops_s * 1.5);
                if to < args.from {
                    bail!("--to {to} is below --from {}: the ramp goes up", args.from);
                }
                let loads = (0..steps)
                    .map(|i| {
                        if steps == 1 {
                            to
                        } else {
                            args.from + (to - args.from) * i as f64 / (steps - 1) as f64
                        }
                    })
                    .collect();
                (loads, Mode::Open { rate: args.from })
            }
        };
        let step_duration = args.step_duration.unwrap_or_else(|| {
            Duration::from_secs((config.performance_tests.stress_testing.ramp_up_time / steps as u64).max(2))
        });
        let (mut target, info, notes) = build_target(&args.target, &args.run.mix, args.run.quiet).await?;
        let (dir, log) = run_dir("stress", args.run.out.clone());
        let mut plan = plan_for(&args.run, mode, "stress");
        plan.duration = Some(step_duration);
        plan.requests = None;
        let describe = |report: &mut Report, target: &AnyTarget| {
            record_setup(report, target, &config);
            report.setup = notes.clone();
            report.config = serde_json::json!({"loads": loads, "step_duration_s": step_duration.as_secs_f64(), "targets": t});
        };
        let mut header = Report::new("stress", info.clone(), Vec::new(), None);
        describe(&mut header, &target);
        start_intervals(log.as_ref(), &mut target, &header);
        let result = target.ramp(&plan, &loads, &t, &stop).await;
        target.cleanup().await;
        let (summary, runs) = result.map_err(|e| with_flag(e, LOAD_FLAGS))?;
        print!("{}", qdrant_perf_render::stress_text(&summary));
        let samples = runs.iter().map(|r| r.ok).sum();
        let check = match (summary.knee_throughput_ops_s, args.concurrency_to) {
            (Some(ops), None) => Check::measured("throughput_peak", "overall", ops, "ops/s", Bound::AtLeast, t.peak_ops_s, samples),
            (Some(ops), Some(_)) => Check::measured("throughput_peak", "overall", ops, "ops/s", Bound::AtLeast, t.peak_ops_s, samples)
                .with_note("closed-loop ramp"),
            (None, _) => Check::failed_without_value("throughput_peak", "overall", "ops/s", Bound::AtLeast, t.peak_ops_s, "the first step already missed a target"),
        };
        let mut report = Report::new("stress", info, runs, None);
        describe(&mut report, &target);
        report.stress = Some(summary);
        report.set_checks(vec![check], false);
        print!("{}", qdrant_perf_render::checks_table(&report.checks));
        write_report(&report, &dir)?;
        println!("report: {}", dir.display());
        Ok(ExitCode::from(report.verdict.as_ref().map_or(0, |v| v.exit_code)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_zero_and_negatives() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("0s").unwrap_err().contains("longer than 0"));
        assert!(
            parse_duration("-5s")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_duration("5 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert_eq!(parse_duration_or_zero("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rates_must_be_positive() {
        assert_eq!(parse_rate("2000").unwrap(), 2000.0);
        assert_eq!(parse_rate("10_000/s").unwrap(), 10_000.0);
        for bad in ["0", "-10", "fast", "inf"] {
            assert!(parse_rate(bad).unwrap_err().contains("rate > 0"), "{bad}");
        }
    }
}
