//! `qdrant-perf validate`: the deployment's targets from performance-tests.yaml, checked per
//! collection and overall; prints the verdict table and writes the report.
//!
//! Exit codes: 0 every check that ran was met, 1 a check was missed (with `--strict`, also when a
//! check did not run), 2 the validation could not run (bad config, unreachable target...). An
//! `extrapolated` check (scalability with `--measured`) is neither met nor missed: never 1.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use qdrant_perf_load::setup::SetupOptions;
use qdrant_perf_load::validate::{self, Scale, ValidateOptions};
use qdrant_perf_report::checks;
use qdrant_perf_report::report::{Report, TargetInfo};
use qdrant_perf_store::ServerConfig;

use crate::common::{
    MonitorArgs, VALIDATE_FLAGS, cache, ctrl_c_stop, load_config, runtime, server_config, with_flag,
};
use crate::load_cmd::{CTRL_C_ENDS_THE_RUN, parse_duration, positive_usize};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The deployment's performance-tests.yaml (default: the bundled fixtures copy).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Collections to check: `all` or names separated by commas.
    #[arg(long, default_value = "all")]
    pub collections: String,
    /// Validate these collections of the server as they are (names separated by commas, e.g.
    /// `mixtral,phi3`), instead of loading `perf_` copies: queries drawn from the collection,
    /// truth from the server's exact search, nothing created, written or dropped; the
    /// collection's points, indexed vectors and status go into the setup notes and the report.
    /// Each must be a collection of the config (its query_load applies); needs --target URL.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["collections", "dataset"])]
    pub read_only: Vec<String>,
    #[command(flatten)]
    pub data: crate::common::DatasetArgs,
    /// Scale sizes, rates and durations down for CI and laptops (2,000 points, rates x 0.1,
    /// 3 s per collection); the report says what was scaled.
    #[arg(long)]
    pub quick: bool,
    /// `edge` (the embedded engine) or a Qdrant URL (see `load --target`).
    #[arg(long, default_value = "edge", env = "QDRANT_URL")]
    pub target: String,
    /// Points per collection (default: 2,000 with --quick, else each collection's test_vectors).
    #[arg(long, value_parser = positive_usize)]
    pub points: Option<usize>,
    /// Held-out queries per collection.
    #[arg(long, value_parser = positive_usize)]
    pub queries: Option<usize>,
    /// Each collection's run (default: 3 s with --quick, else load_testing.duration).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// The overall run across all collections (default: 5 s with --quick, else
    /// load_testing.duration).
    #[arg(long, value_parser = parse_duration)]
    pub overall_duration: Option<Duration>,
    /// Multiply every rate and throughput limit by this (default 0.1 with --quick, else 1).
    #[arg(long, value_parser = crate::load_cmd::parse_rate)]
    pub rate_scale: Option<f64>,
    /// The API gateway's search endpoint: checks its end-to-end latency (gateway_latency).
    #[arg(long)]
    pub gateway: Option<String>,
    /// Request body for --gateway (`{{vector}}` and `{{k}}` are substituted).
    #[arg(long, default_value = qdrant_perf_load::target::DEFAULT_HTTP_BODY)]
    pub gateway_body: String,
    /// Check the result cache at REDIS_URL (default redis://127.0.0.1:6379): `required` (an
    /// unreachable Redis is an error) or `optional` (a warning; the cache checks do not run).
    #[arg(long, value_parser = parse_cache_mode)]
    pub cache: Option<qdrant_perf_store::CacheMode>,
    /// Seconds a cached result lives (default: the file's optimization.caching.cache_ttl).
    #[arg(long)]
    pub cache_ttl: Option<i64>,
    /// Skip the stress ramp (its check is then listed as not run).
    #[arg(long)]
    pub no_stress: bool,
    /// Count checks that did not run (no cache, no gateway...) as missed.
    #[arg(long)]
    pub strict: bool,
    /// A `qdrant-perf scale` JSON: the scalability row is then `extrapolated` from its
    /// back-tested fits (not `met`; it never makes the exit code 1), with the figures and the
    /// back-test errors in its note. Without it the row is `not run`.
    #[arg(long, value_name = "FILE")]
    pub measured: Option<PathBuf>,
    /// Report directory (default: target/qdrant-perf/runs/<UTC time>-validate/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Dataset and index cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

pub fn validate(args: ValidateArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_ref())?;
    let read_only = crate::load_cmd::read_only_names(&args.read_only);
    let collections = if read_only.is_empty() {
        args.collections.clone()
    } else {
        crate::load_cmd::check_read_only(&args.target, false)?;
        read_only.join(",")
    };
    // What the file says that no test reads, once, before the run.
    println!("{}", config.recorded_line());
    // Unknown collections are an error before anything is built.
    config.select(&collections).map_err(|e| {
        if read_only.is_empty() {
            anyhow::Error::from(e)
        } else {
            anyhow::anyhow!("--read-only: {e}")
        }
    })?;
    let measured_scale = match &args.measured {
        Some(path) => Some(validate::ScaleMeasurement::load(path).map_err(|e| {
            anyhow::anyhow!(
                "--measured {e}; pass the JSON `qdrant-perf scale` writes \
                 (target/qdrant-perf/results/scale-<dim>d.json)"
            )
        })?),
        None => None,
    };
    let mut scale = if args.quick {
        Scale::quick()
    } else {
        Scale::full(&config)
    };
    if let Some(p) = args.points {
        scale.points = Some(p);
    }
    if let Some(q) = args.queries {
        scale.queries = q;
    }
    if let Some(d) = args.duration {
        scale.per_collection = d;
    }
    if let Some(d) = args.overall_duration {
        scale.overall = d;
    }
    if let Some(r) = args.rate_scale {
        scale.rate_scale = r;
    }
    let search = qdrant_perf_store::Profiles::bundled().search;
    let server = server_config(&args.target)?.map(|c| ServerConfig {
        index_timeout: args.monitor.index_timeout,
        ..c
    });
    let cache = cache(args.cache_dir.clone())?;
    let opts = ValidateOptions {
        config: config.clone(),
        collections: collections.clone(),
        scale: scale.clone(),
        setup: SetupOptions {
            points: scale.points.unwrap_or(1),
            queries: scale.queries,
            k: search.k,
            ef: search.hnsw_ef,
            server: server.clone(),
            cache: cache.clone(),
            writes: false,
            quiet: args.quiet,
            read_only: read_only.clone(),
            dataset: crate::common::user_data(&args.data, &cache)?,
        },
        stress: !args.no_stress,
        progress: !args.quiet,
        gateway: args.gateway.clone().map(|g| (g, args.gateway_body.clone())),
        cache: match args.cache {
            Some(mode) => Some(
                qdrant_perf_store::CacheConfig::from_env()
                    .with_mode(mode)
                    .with_ttl_secs(crate::common::cache_ttl(args.cache_ttl, &config))?,
            ),
            None => None,
        },
        monitor: Default::default(),
        measured_scale,
    };
    let rt = runtime()?;
    let watch = rt.block_on(args.monitor.watch(server.as_ref()))?;
    let opts = ValidateOptions {
        monitor: watch.monitor,
        ..opts
    };
    let stop = ctrl_c_stop(&rt, CTRL_C_ENDS_THE_RUN);
    let v = rt
        .block_on(validate::validate(&opts, &stop))
        .map_err(|e| with_flag(e, VALIDATE_FLAGS))?;
    let info = TargetInfo {
        kind: v.engine.clone(),
        url: server.map(|s| s.urls.join(",")),
        engine_version: Some(v.engine_version.clone()),
    };
    let mut report = Report::new("validate", info, v.runs, v.overall);
    report.partial |= stop.is_stopped();
    report.quick = scale.describe();
    report.setup = v.setup_notes;
    report.setup.push(config.recorded_line());
    report.provenance.datasets = v.datasets;
    report.provenance.index = Some(crate::load_cmd::index_parameters(&config));
    report.stress = v.stress;
    report.config = serde_json::json!({
        "file": args.config.as_ref().map_or("fixtures/performance-tests.yaml (bundled)".to_string(), |p| p.display().to_string()),
        "performance_tests": config.performance_tests,
        "targets": config.targets(),
        "scale": scale,
        "collections": collections,
        "read_only": read_only,
    });
    report.set_checks(v.checks, args.strict);
    if let Some(q) = &report.quick {
        println!("{q}\n");
    }
    print!("{}", qdrant_perf_render::checks_table(&report.checks));
    let verdict = report.verdict.clone().expect("set above");
    let extrapolated = checks::extrapolated_count(&report.checks);
    println!(
        "\n{} met, {} missed, {} not run{}{}",
        verdict.passed,
        verdict.failed,
        verdict.not_run,
        if extrapolated > 0 {
            format!(", {extrapolated} extrapolated (not measured at the target's size)")
        } else {
            String::new()
        },
        if report.partial {
            " (PARTIAL: stopped early)"
        } else {
            ""
        }
    );
    if let Some(l) = report.runs.last().and_then(|r| r.resources.load_average_1m)
        && l > qdrant_perf_load::resources::cores() as f64
    {
        println!(
            "note: the machine's load average ({l:.1}) exceeded its {} cores: other processes competed for the CPU, so throughput and latency figures are of a busy machine",
            qdrant_perf_load::resources::cores()
        );
    }
    let dir = args.out.clone().unwrap_or_else(|| report.default_dir());
    crate::load_cmd::write_report(&report, &dir)?;
    println!("report: {}", dir.display());
    Ok(ExitCode::from(verdict.exit_code))
}

pub fn parse_cache_mode(s: &str) -> Result<qdrant_perf_store::CacheMode, String> {
    s.parse()
        .map_err(|e: qdrant_perf_store::CacheError| e.to_string())
}
