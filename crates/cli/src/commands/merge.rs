//! `qdrant-perf merge`: sums the HdrHistogram interval logs of several load generators and
//! prints the percentiles of all their samples together.

use std::process::ExitCode;

use anyhow::{Context, Result};
use qdrant_perf_load::merge;

use crate::args::*;

/// Merges the logs named on the command line and prints the merged percentiles.
pub fn run(args: MergeArgs) -> Result<ExitCode> {
    let merged = merge::merge_logs(&args.logs)?;
    print!("{}", merge::table(&merged));
    if let Some(out) = &args.out {
        merge::write_merged(out, &merged).with_context(|| format!("writing {}", out.display()))?;
        println!("merged log: {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
