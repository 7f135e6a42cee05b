//! `qdrant-perf stress`: a ramp of load runs until a target breaks; the knee.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use qdrant_perf_load::driver::Mode;
use qdrant_perf_report::checks::{Bound, Check};
use qdrant_perf_report::report::Report;

use crate::args::*;
use crate::run::*;
use crate::setup::*;

/// `qdrant-perf stress`: ramps the rate (or concurrency) in steps until a target breaks or
/// errors appear, and reports the knee. Exit 0 when the knee reaches the peak throughput target
/// (closed loop: when some step met the targets), 1 otherwise.
pub fn run(args: StressArgs) -> Result<ExitCode> {
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
