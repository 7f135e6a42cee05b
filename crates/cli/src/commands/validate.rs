//! `qdrant-perf validate`: the deployment's targets from performance-tests.yaml, checked per
//! collection and overall; prints the verdict table and writes the report.
//!
//! Exit codes: 0 every check that ran was met, 1 a check was missed (with `--strict`, also when a
//! check did not run), 2 the validation could not run (bad config, unreachable target...). An
//! `extrapolated` check (scalability with `--measured`) is neither met nor missed: never 1.

use std::process::ExitCode;

use anyhow::Result;
use qdrant_perf_load::config::PerformanceConfig;
use qdrant_perf_load::setup::SetupOptions;
use qdrant_perf_load::validate::{self, Scale, ValidateOptions};
use qdrant_perf_report::checks;
use qdrant_perf_report::report::{Report, TargetInfo};
use qdrant_perf_store::ServerConfig;

use crate::run::CTRL_C_ENDS_THE_RUN;
use crate::setup::{cache, ctrl_c_stop, load_config, runtime, server_config};

use crate::args::*;

/// `qdrant-perf validate`: the deployment's targets checked per collection and overall. Exit 0
/// when every target was met, 1 when one was missed, 2 when the run could not happen.
pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_ref())?;
    let read_only = crate::run::read_only_names(&args.read_only);
    let collections = if read_only.is_empty() {
        args.collections.clone()
    } else {
        crate::run::check_read_only(&args.target, false)?;
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
    let measured_scale = args.measured.as_ref().map(|path| {
        validate::ScaleMeasurement::load(path).map_err(|e| {
            anyhow::anyhow!(
                "--measured {e}; pass the JSON `qdrant-perf scale` writes \
                 (target/qdrant-perf/results/scale-<dim>d.json)"
            )
        })
    });
    let scale = scale_of(&args, &config);
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
            dataset: crate::setup::user_data(&args.data, &cache)?,
        },
        stress: !args.no_stress,
        progress: !args.quiet,
        gateway: args.gateway.clone().map(|g| (g, args.gateway_body.clone())),
        cache: args
            .cache
            .map(|mode| crate::setup::cache_config(mode, args.cache_ttl, &config))
            .transpose()?,
        monitor: Default::default(),
        measured_scale: measured_scale.transpose()?,
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
    report.provenance.index = Some(crate::run::index_parameters(&config));
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
    print_verdict(&report);
    let verdict = report.verdict.clone().expect("set above");
    let dir = args.out.clone().unwrap_or_else(|| report.default_dir());
    crate::run::write_report(&report, &dir)?;
    println!("report: {}", dir.display());
    Ok(ExitCode::from(verdict.exit_code))
}

/// The sizes, durations and rates of the run: the file's, or `--quick`'s, with the flags that
/// override them.
fn scale_of(args: &ValidateArgs, config: &PerformanceConfig) -> Scale {
    let mut scale = if args.quick {
        Scale::quick(config)
    } else {
        Scale::full(config)
    };
    scale.points = args.points.or(scale.points);
    scale.queries = args.queries.unwrap_or(scale.queries);
    scale.per_collection = args.duration.unwrap_or(scale.per_collection);
    scale.overall = args.overall_duration.unwrap_or(scale.overall);
    scale.rate_scale = args.rate_scale.unwrap_or(scale.rate_scale);
    scale
}

/// The verdict table, the tally, and a note when the machine was busy with other work.
fn print_verdict(report: &Report) {
    print!("{}", qdrant_perf_render::checks_table(&report.checks));
    let Some(verdict) = &report.verdict else {
        return;
    };
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
}
