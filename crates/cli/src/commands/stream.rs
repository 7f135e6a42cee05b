//! `qdrant-perf stream`: search while the collection grows (qdrant_perf_load::stream).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use qdrant_perf_data::{Dataset, DatasetCache, DatasetSpec, Metric};
use qdrant_perf_load::churn::{ChurnOptions, run_runbook as churn_runbook};
use qdrant_perf_load::runbook::Runbook;
use qdrant_perf_load::stream::{StreamLimits, StreamOptions, run_stream, set_checks};
use qdrant_perf_render::checks_table;
use qdrant_perf_store::{AnyStore, Guard, Store as _};

use qdrant_perf_load::config::PerformanceConfig;
use qdrant_perf_load::monitor::Monitor;
use qdrant_perf_report::Report;
use qdrant_perf_report::intervals::Header;
use qdrant_perf_report::report::TargetInfo;
use qdrant_perf_store::ServerConfig;

use crate::setup::{Watch, cache, ctrl_c_stop, load_config, runtime, server_config};

use crate::args::*;

/// The flags of `stream` for the fields the stream options name in their errors.
const STREAM_FLAGS: &[(&str, &str)] = &[
    ("insert rate", "--insert-rate"),
    ("rate", "--rate"),
    ("total", "--total"),
    ("initial", "--initial"),
    ("stage", "--stage"),
    ("batch", "--batch"),
    ("freshness sample", "--freshness-sample"),
    ("queries", "--queries"),
    ("delete rate", "--delete-rate"),
    ("update rate", "--update-rate"),
];

/// Runs the stream test, prints each stage and the freshness, writes the report; exit 1 when
/// a check was missed.
pub fn run(args: StreamArgs) -> Result<ExitCode> {
    if args.runbook.is_some() {
        return run_runbook(args);
    }
    let config = load_config(args.config.as_ref())?;
    let (name, dim) = one_collection(&config, &args.collection)?;
    let search = qdrant_perf_store::Profiles::bundled().search;
    let mut opts = StreamOptions::new(&name, dim);
    opts.metric = Metric::Cosine;
    opts.hnsw = config.hnsw();
    opts.delete_rate = args.delete_rate.unwrap_or(0.0);
    opts.update_rate = args.update_rate.unwrap_or(0.0);
    // Updates take rows past the inserted ones: as many as they can use by default.
    let spare = if opts.update_rate > 0.0 && args.insert_rate > 0.0 {
        ((opts.update_rate * args.total as f64 / args.insert_rate).ceil() as usize)
            .clamp(1, args.initial.max(1))
    } else {
        0
    };
    opts.dataset_points = args.points.unwrap_or(args.initial + args.total + spare);
    opts.initial = args.initial;
    opts.total = args.total;
    opts.batch = args.batch;
    opts.insert_rate = args.insert_rate;
    opts.search_rate = args.rate;
    opts.stage = args.stage;
    opts.queries = args.queries;
    opts.k = search.k;
    opts.ef = search.hnsw_ef;
    opts.freshness_every = args.freshness_sample;
    opts.freshness_timeout = args.freshness_timeout;
    opts.progress = !args.quiet;
    opts.validate().map_err(|e| with_flag(e, STREAM_FLAGS))?;
    if let Some(f) = args.freshness.filter(|f| !(f.is_finite() && *f > 0.0)) {
        anyhow::bail!(
            "--freshness = {f}: a lag limit in milliseconds > 0 (example: --freshness 1000)"
        );
    }
    let server = server_config(&args.target)?;
    let limits = StreamLimits {
        p95_latency_ms: config.targets().p95_latency_ms,
        recall_floor: args.recall_floor,
        freshness_ms: args.freshness,
    };
    let cache = cache(args.cache_dir.clone())?;
    let rt = runtime()?;
    let stop = ctrl_c_stop(
        &rt,
        "ending the stream; the stages measured so far are kept",
    );
    rt.block_on(async {
        let spec = DatasetSpec::new(opts.dim, opts.dataset_points)
            .with_queries(opts.queries)
            .with_metric(opts.metric);
        let run = Started::new(
            &args,
            server.as_ref(),
            &cache,
            (&name, spec),
            serde_json::json!({ "options": &opts }),
        )
        .await?;
        let (mut report, notes) = run_stream(run.store, &opts, &run.dataset, &run.monitor, &stop)
            .await
            .map_err(|e| with_flag(e, STREAM_FLAGS))?;
        if let Some(config) = &server {
            report.target.url = config.urls.first().cloned();
        }
        report.setup = notes;
        set_checks(&mut report, &limits);
        finish(&report, &run.dir)
    })
}

/// The flags of `stream --runbook` for the fields the runbook options name in their errors.
const RUNBOOK_FLAGS: &[(&str, &str)] = &[
    ("insert rate", "--insert-rate"),
    ("delete rate", "--delete-rate"),
    ("update rate", "--update-rate"),
    ("rate", "--rate"),
    ("batch", "--batch"),
    ("search step duration", "--search-step-duration"),
    ("queries", "--queries"),
];

/// `stream --runbook FILE`: reads and validates the whole runbook against the dataset's rows
/// before anything is created, runs it, prints the steps, writes the report; exit 1 when a
/// check was missed.
fn run_runbook(args: StreamArgs) -> Result<ExitCode> {
    let file = args.runbook.clone().expect("checked by the caller");
    let config = load_config(args.config.as_ref())?;
    let (name, dim) = one_collection(&config, &args.collection)?;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("--runbook {}: cannot read it", file.display()))?;
    let source = file.display().to_string();
    let runbook = Runbook::from_yaml(&text, args.runbook_dataset.as_deref(), &source)
        .map_err(|e| anyhow::anyhow!("--runbook: {e}"))?;
    let rows = args.points.unwrap_or_else(|| runbook.rows_needed());
    runbook
        .validate(rows, "--points")
        .map_err(|e| anyhow::anyhow!("--runbook {source}: {e}"))?;
    let search = qdrant_perf_store::Profiles::bundled().search;
    let mut opts = ChurnOptions::new(&name, dim);
    opts.metric = Metric::Cosine;
    opts.hnsw = config.hnsw();
    opts.batch = args.batch;
    opts.insert_rate = args.insert_rate;
    opts.delete_rate = args.delete_rate.unwrap_or(args.insert_rate);
    opts.update_rate = args.update_rate.unwrap_or(args.insert_rate);
    opts.search_rate = args.rate;
    opts.search_step = args.search_step_duration;
    opts.queries = args.queries;
    opts.k = search.k;
    opts.ef = search.hnsw_ef;
    opts.progress = !args.quiet;
    opts.validate().map_err(|e| with_flag(e, RUNBOOK_FLAGS))?;
    let server = server_config(&args.target)?;
    let p95 = config.targets().p95_latency_ms;
    let cache = cache(args.cache_dir.clone())?;
    let rt = runtime()?;
    let stop = ctrl_c_stop(
        &rt,
        "ending the runbook; the steps measured so far are kept",
    );
    rt.block_on(async {
        let spec = DatasetSpec::new(opts.dim, rows)
            .with_queries(opts.queries)
            .with_metric(opts.metric);
        let run = Started::new(
            &args,
            server.as_ref(),
            &cache,
            (&name, spec),
            serde_json::json!({ "runbook": source, "options": &opts }),
        )
        .await?;
        let mut report = churn_runbook(
            run.store,
            &opts,
            &runbook,
            &source,
            &run.dataset,
            &run.monitor,
            &stop,
        )
        .await
        .map_err(|e| with_flag(e, RUNBOOK_FLAGS))?;
        report.target.engine_version = Some(run.version);
        if let Some(config) = &server {
            report.target.url = config.urls.first().cloned();
        }
        report.set_checks(p95, args.recall_floor);
        finish(&report.to_report(), &run.dir)
    })
}

/// The one collection profile a stream grows: its name and dimension.
fn one_collection(config: &PerformanceConfig, collection: &str) -> Result<(String, usize)> {
    let selected = config.select(collection)?;
    let [(name, c)] = selected.as_slice() else {
        anyhow::bail!(
            "--collection {collection}: a stream grows one collection; name one (e.g. --collection deepcoder)"
        );
    };
    Ok((name.to_string(), c.vector_size))
}

/// What a plain stream and a runbook run both start from: the server's monitor, the dataset,
/// the store, and the run directory with its interval log opened before the first stage or
/// step, so a killed run keeps every finished second (`qdrant-perf report DIR` rebuilds from
/// them).
struct Started {
    /// Keeps `--metrics-listen`'s live view up for the run.
    _watch: Watch,
    monitor: Monitor,
    dataset: Dataset,
    store: Arc<AnyStore>,
    version: String,
    dir: PathBuf,
}

impl Started {
    async fn new(
        args: &StreamArgs,
        server: Option<&ServerConfig>,
        cache: &DatasetCache,
        (name, spec): (&str, DatasetSpec),
        options: serde_json::Value,
    ) -> Result<Self> {
        let watch = args.monitor.watch(server).await?;
        let dataset = Dataset::load_or_generate(&spec, cache)
            .with_context(|| format!("the dataset of {name}"))?;
        let edge_root = crate::setup::private_edge_root(cache, "stream")?;
        let store = Arc::new(match server {
            Some(config) => AnyStore::connect(config, Guard::default()).await?,
            None => AnyStore::edge_scratch(&edge_root, Guard::default())?,
        });
        let version = store.engine_version();
        let (dir, log) = crate::run::run_dir("stream", args.out.clone());
        let mut monitor = watch.monitor.clone();
        if let Some(log) = &log {
            let mut head = Report::new(
                "stream",
                TargetInfo {
                    kind: store.engine().name().to_string(),
                    url: server.and_then(|c| c.urls.first().cloned()),
                    engine_version: Some(version.clone()),
                },
                Vec::new(),
                None,
            );
            head.config = options;
            log.append_or_warn(&[Header::of(&head)]);
            monitor = monitor.with_intervals(log.clone());
        }
        Ok(Started {
            _watch: watch,
            monitor,
            dataset,
            store,
            version,
            dir,
        })
    }
}

/// Prints the stages or steps and the checks, writes the report; exit 1 when a check was
/// missed.
fn finish(report: &Report, dir: &Path) -> Result<ExitCode> {
    print!("{}", qdrant_perf_render::stream::markdown(report));
    print!("{}", checks_table(&report.checks));
    crate::run::write_report(report, dir)?;
    println!("report: {}", dir.display());
    Ok(ExitCode::from(
        report.verdict.as_ref().map_or(0, |v| v.exit_code),
    ))
}
