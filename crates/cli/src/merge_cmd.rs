//! `qdrant-perf merge`: sums the HdrHistogram interval logs of several load generators and
//! prints the percentiles of all their samples together.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use qdrant_perf_load::merge;

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Interval logs (`<run dir>/histograms/*.hlog`) from one or more generators.
    #[arg(required = true)]
    pub logs: Vec<PathBuf>,
    /// Also write the merged histograms as one interval log.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn merge(args: MergeArgs) -> Result<ExitCode> {
    let merged = merge::merge_logs(&args.logs)?;
    print!("{}", merge::table(&merged));
    if let Some(out) = &args.out {
        merge::write_merged(out, &merged).with_context(|| format!("writing {}", out.display()))?;
        println!("merged log: {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
