//! `qdrant-perf settle`: how the deployment settles after an event (qdrant_perf_load::settle).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use qdrant_perf_data::{Dataset, DatasetSpec, Metric};
use qdrant_perf_load::settle::{
    After, PrivateServer, Restarter, SettleEnv, SettleOptions, can_drop_caches, run_settle,
};
use qdrant_perf_report::intervals::Header;
use qdrant_perf_report::report::{Report, TargetInfo};
use qdrant_perf_report::settle::SettleSection;
use qdrant_perf_store::remote::state::StateReader;
use qdrant_perf_store::remote::telemetry::metrics_urls;
use qdrant_perf_store::{AnyStore, Guard, ServerConfig, Store};

use crate::args::*;
use crate::run::{run_dir, write_report};
use crate::setup::{cache, ctrl_c_stop, load_config, runtime, server_config};

/// The flags of `settle` for the fields the settle options name in their errors.
const SETTLE_FLAGS: &[(&str, &str)] = &[
    ("rate", "--rate"),
    ("points", "--points"),
    ("queries", "--queries"),
    ("settle window", "--settle-window"),
    ("max time", "--max-time"),
    ("batch", "--batch"),
    ("after", "--after"),
    ("prevent unoptimized", "--prevent-unoptimized"),
    ("drop caches", "--drop-caches"),
];

/// Refuses flags that do not go together, naming them and the fix, before any work.
fn check_flags(args: &SettleArgs) -> Result<()> {
    let edge = args.target.trim() == "edge" || args.target.trim().is_empty();
    if args.qdrant_bin.is_some() && !edge {
        bail!(
            "--qdrant-bin starts the suite's own server, and --target {} names another: give one of them",
            args.target
        );
    }
    if let Some(bin) = &args.qdrant_bin
        && !bin.is_file()
    {
        bail!(
            "--qdrant-bin {}: no such file; give the path of a Qdrant server executable",
            bin.display()
        );
    }
    let server = args.qdrant_bin.is_some() || !edge;
    if args.after == After::Restart {
        if !server {
            bail!(
                "--after restart: the embedded engine runs in this process and cannot be restarted; give --qdrant-bin PATH (the suite starts its own server and restarts it) or --target URL with --restart-command CMD"
            );
        }
        if args.qdrant_bin.is_none() && args.restart_command.is_none() {
            bail!(
                "--after restart against --target {}: give --restart-command CMD (run with sh -c; it restarts your server), or --qdrant-bin PATH for a server of the suite's own",
                args.target
            );
        }
    } else {
        if args.restart_command.is_some() {
            bail!(
                "--restart-command is for --after restart; leave it out for --after {}",
                args.after.label()
            );
        }
        if args.drop_caches {
            bail!(
                "--drop-caches is for --after restart; leave it out for --after {}",
                args.after.label()
            );
        }
    }
    if args.qdrant_bin.is_some() && args.restart_command.is_some() {
        bail!(
            "--restart-command restarts your server; the suite restarts its own (--qdrant-bin) itself: give one of them"
        );
    }
    if args.prevent_unoptimized.is_some() && !server {
        bail!(
            "--prevent-unoptimized is an option of a Qdrant server's optimizer; the embedded engine has none: give --qdrant-bin PATH or --target URL"
        );
    }
    if args.drop_caches {
        can_drop_caches().map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(())
}

/// Runs the event(s), prints the figures, writes the report; exit 0 met, 1 missed, 2 not run.
pub fn run(args: SettleArgs) -> Result<ExitCode> {
    let config = load_config(args.config.as_ref())?;
    let selected = config.select(&args.collection)?;
    let [(name, c)] = selected.as_slice() else {
        bail!(
            "--collection {}: settle measures one collection; name one (e.g. --collection deepcoder)",
            args.collection
        );
    };
    check_flags(&args)?;
    let search = qdrant_perf_store::Profiles::bundled().search;
    let opts = SettleOptions {
        name: name.clone(),
        dim: c.vector_size,
        metric: Metric::Cosine,
        hnsw: config.hnsw(),
        points: args.points,
        queries: args.queries,
        k: search.k,
        ef: search.hnsw_ef,
        after: args.after,
        rate: args.rate.unwrap_or(c.query_load),
        p95_target_ms: config.targets().p95_latency_ms,
        window: args.settle_window,
        max_time: args.max_time,
        batch: args.batch,
        in_flight: args.in_flight,
        seed: args.seed,
        prevent_unoptimized: None,
        drop_caches: args.drop_caches,
        progress: !args.quiet,
    };
    opts.validate().map_err(|e| with_flag(e, SETTLE_FLAGS))?;
    let policies: Vec<Option<bool>> = match args.prevent_unoptimized {
        None => vec![None],
        Some(Policy::On) => vec![Some(true)],
        Some(Policy::Off) => vec![Some(false)],
        Some(Policy::Both) => vec![Some(false), Some(true)],
    };
    let server = server_config(&args.target)?;
    let cache = cache(args.cache_dir.clone())?;
    let rt = runtime()?;
    let stop = ctrl_c_stop(
        &rt,
        "ending the settle run; the seconds measured so far are kept",
    );
    rt.block_on(async {
        let mut own = match &args.qdrant_bin {
            Some(bin) => Some(
                PrivateServer::start(bin, Duration::from_secs(120))
                    .await
                    .with_context(|| format!("--qdrant-bin {}", bin.display()))?,
            ),
            None => None,
        };
        let (server, rest) = match (&own, server) {
            (Some(s), _) => (
                Some(ServerConfig::parse(&s.grpc_url(), None)?),
                Some(s.rest_url()),
            ),
            (None, Some(config)) => {
                let urls = metrics_urls(&config, args.monitor.metrics_url.as_deref())
                    .map_err(|why| anyhow::anyhow!("the collection's state cannot be read: {why}"))?;
                let rest = urls.first().cloned();
                (Some(config), rest)
            }
            (None, None) => (None, None),
        };
        let mut monitor_args = args.monitor.clone();
        if own.is_some() {
            monitor_args.metrics_url = rest.clone();
        }
        let watch = monitor_args.watch(server.as_ref()).await?;
        let reader = match &rest {
            Some(url) => Some(StateReader::new(
                url,
                server.as_ref().and_then(|s| s.api_key.clone()),
            )?),
            None => None,
        };
        let spec = DatasetSpec::new(opts.dim, opts.points)
            .with_queries(opts.queries)
            .with_metric(opts.metric);
        let dataset = Dataset::load_or_generate(&spec, &cache)
            .with_context(|| format!("the dataset of {name}"))?;
        let edge_root = crate::setup::private_edge_root(&cache, "settle")?;
        let store = Arc::new(match &server {
            Some(config) => AnyStore::connect(config, Guard::default()).await?,
            None => AnyStore::edge_scratch(&edge_root, Guard::default())?,
        });
        let info = TargetInfo {
            kind: store.engine().name().to_string(),
            url: server.as_ref().map(|s| s.urls.join(",")),
            engine_version: Some(store.engine_version()),
        };
        let options = serde_json::json!({
            "after": args.after.label(),
            "collection": name,
            "points": opts.points,
            "dim": opts.dim,
            "queries": opts.queries,
            "rate": opts.rate,
            "p95_target_ms": opts.p95_target_ms,
            "settle_window_s": opts.window.as_secs_f64(),
            "max_time_s": opts.max_time.as_secs_f64(),
            "batch": opts.batch,
            "in_flight": opts.in_flight,
            "seed": opts.seed,
            "prevent_unoptimized": args.prevent_unoptimized.map(|p| format!("{p:?}").to_lowercase()),
            "own_server": args.qdrant_bin.is_some(),
            "restart_command": args.restart_command.is_some(),
            "drop_caches": opts.drop_caches,
            "recall_floor": args.recall_floor,
        });
        let (dir, log) = run_dir("settle", args.out.clone());
        let mut header = Report::new("settle", info.clone(), Vec::new(), None);
        header.config = options.clone();
        let mut monitor = watch.monitor.clone();
        if let Some(log) = &log {
            log.append_or_warn(&[Header::of(&header)]);
            monitor = monitor.with_intervals(log.clone());
        }
        let mut restarter = match (args.after, own.take(), &args.restart_command) {
            (After::Restart, Some(s), _) => Some(Restarter::Own(s)),
            (After::Restart, None, Some(cmd)) => Some(Restarter::Command(cmd.clone())),
            (_, s, _) => {
                own = s;
                None
            }
        };
        let (mut runs, mut settles, mut setup) = (Vec::new(), Vec::new(), Vec::new());
        for policy in policies {
            if stop.is_stopped() {
                break;
            }
            let label = match policy {
                None => args.after.label(),
                Some(on) => format!(
                    "{}, prevent_unoptimized {}",
                    args.after.label(),
                    if on { "on" } else { "off" }
                ),
            };
            let env = SettleEnv {
                store: store.clone(),
                state: reader.clone(),
                restart: restarter.as_mut(),
                monitor: monitor.clone(),
                stop: stop.clone(),
            };
            let o = SettleOptions {
                prevent_unoptimized: policy,
                ..opts.clone()
            };
            let (result, settle) = run_settle(env, &o, &dataset, &label)
                .await
                .map_err(|e| with_flag(e, SETTLE_FLAGS))?;
            print!("{}", qdrant_perf_render::settle::figures_text(&settle));
            setup.extend(settle.notes.iter().cloned());
            runs.push(result);
            settles.push(settle);
        }
        drop(restarter);
        drop(own);
        let mut report = Report::new("settle", info, runs, None);
        report.config = options;
        report.setup = setup;
        let checks = settles
            .iter()
            .flat_map(|s| s.checks(args.recall_floor))
            .collect();
        report.settle = Some(SettleSection { runs: settles });
        report.set_checks(checks, false);
        print!("{}", qdrant_perf_render::checks_table(&report.checks));
        write_report(&report, &dir)?;
        println!("report: {}", dir.display());
        Ok(ExitCode::from(
            report.verdict.as_ref().map_or(0, |v| v.exit_code),
        ))
    })
}
