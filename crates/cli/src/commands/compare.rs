//! `qdrant-perf compare`: two criterion baselines or two run reports, judged benchmark by
//! benchmark (docs/regression-gate.md). Exit 1 on a regression.

use std::process::ExitCode;

use anyhow::{Context, Result};
use qdrant_perf_gate::compare;

use crate::args::CompareArgs;

/// Prints the comparison (Markdown or JSON), writes --json-out, appends GitHub's step summary.
pub fn run(args: CompareArgs) -> Result<ExitCode> {
    let CompareArgs {
        base,
        new,
        criterion_dir,
        threshold,
        statistic,
        json,
        json_out,
        confirm,
    } = args;
    let mut comparison = compare::compare(&base, &new, &criterion_dir, threshold, statistic)?;
    if let Some(again) = confirm {
        let second = compare::compare(&again, &new, &criterion_dir, threshold, statistic)?;
        comparison.confirm_with(&second);
    }
    let as_json = serde_json::to_string_pretty(&comparison)?;
    if json {
        println!("{as_json}");
    } else {
        print!("{}", comparison.to_markdown());
    }
    if let Some(path) = json_out {
        // Atomic: a reader sees the old file or the new one, never half of one.
        qdrant_perf_plumbing::write_atomic(&path, (as_json + "\n").as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    comparison.append_to_step_summary()?;
    if comparison.has_regression() {
        eprintln!("regressed: {}", comparison.regressed().join(", "));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
