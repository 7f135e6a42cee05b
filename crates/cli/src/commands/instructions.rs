//! `qdrant-perf instructions`: the instruction counts of the hot paths that need no server,
//! under valgrind's callgrind, written as a run report; and the hidden `hot-path` command that
//! runs one of them (what valgrind runs).

use std::process::ExitCode;

use anyhow::{Context, Result};
use qdrant_perf_load::instructions::{self, HotPath};

use crate::args::{HotPathArgs, InstructionsArgs};
use crate::setup::cache;

/// Counts each hot path under callgrind and writes the counts to --out.
pub fn run(args: InstructionsArgs) -> Result<ExitCode> {
    let InstructionsArgs {
        out,
        only,
        cache_dir,
        callgrind_dir,
    } = args;
    let paths = if only.is_empty() {
        HotPath::ALL.to_vec()
    } else {
        only
    };
    let cache = cache(cache_dir)?;
    let exe = std::env::current_exe().context("finding this executable to run under valgrind")?;
    let report = instructions::count_instructions(&exe, &paths, cache.root(), &callgrind_dir)?;
    for m in &report.metrics {
        println!("{:<28} {:>16}", m.name, m.value);
    }
    report
        .save(&out)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("counts written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs one hot path's fixed workload and prints what it did.
pub fn hot_path(args: HotPathArgs) -> Result<ExitCode> {
    let HotPathArgs { path, cache_dir } = args;
    println!("{}", instructions::run_hot_path(path, &cache(cache_dir)?)?);
    Ok(ExitCode::SUCCESS)
}
