//! `qdrant-perf load`: one load run against the embedded engine, a Qdrant server, any JSON
//! HTTP endpoint, or the no-op target.

use std::process::ExitCode;

use anyhow::Result;
use qdrant_perf_load::driver::Mode;
use qdrant_perf_report::checks::{Bound, Check};
use qdrant_perf_report::report::Report;

use crate::args::*;
use crate::run::*;
use crate::setup::*;

/// `qdrant-perf load`. Exit 0 when the run met its checks (rate achieved, no errors, latency
/// targets), 1 when it missed one, 2 when it could not run.
pub fn run(args: LoadArgs) -> Result<ExitCode> {
    let config = load_config(args.target.config.as_ref())?;
    // `--concurrency` without a number: the file's closed-loop connection count.
    let concurrency = args.concurrency.map(|n| {
        n.unwrap_or_else(|| {
            let c = config.performance_tests.load_testing.connections as usize;
            eprintln!("closed loop: {c} connections (load_testing.connections)");
            c
        })
    });
    let rt = match concurrency {
        Some(workers) => closed_loop_runtime(workers)?,
        None => runtime()?,
    };
    let stop = ctrl_c_stop(&rt, CTRL_C_ENDS_THE_RUN);
    rt.block_on(async {
        let (mut target, info, notes) =
            build_target(&args.target, &args.run.mix, args.run.quiet).await?;
        let (dir, log) = run_dir("load", args.run.out.clone());
        let mode = match (args.rate, concurrency) {
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
        // Mean and p95 latency (missed when no request succeeded), then the error rate with
        // where the errors were; a lost node is judged on its own (not averaged away).
        let mut judged = qdrant_perf_load::validate::latency_checks(&result, "overall", &t);
        if let (Some(note), Some(errors)) = (
            qdrant_perf_report::checks::errors_by_node_note(&result),
            judged.last_mut(),
        ) {
            errors.note = Some(note);
        }
        checks.extend(judged);
        checks.extend(qdrant_perf_report::checks::all_nodes_served(&result));
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
