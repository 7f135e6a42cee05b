//! `qdrant-perf scale`: the deployment's workload at growing N, as far as memory allows.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use qdrant_perf_data::{DatasetSpec, Distribution};
use qdrant_perf_store::{DEFAULT_PREFIX, HnswParams};
use qdrant_perf_sys::proc;
use qdrant_perf_tune::scale::{self, ScaleConfig, StorageChoice};

use crate::common::{self, cache, open_store, private_edge_root, runtime};

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// With --dataset each size N is the dataset's first N train vectors (at most its train
    /// set), searched with its test vectors; exact truth is computed for each N and cached.
    #[command(flatten)]
    pub data: common::DatasetArgs,
    /// cosine (default), dot or euclid; with --dataset, for a file that does not state one.
    #[arg(long, value_parser = crate::sweep_cmd::parse_metric)]
    pub metric: Option<qdrant_perf_data::Metric>,
    #[arg(long, default_value_t = 768, conflicts_with = "dataset")]
    pub dim: usize,
    /// Sizes to measure (default: 10k, 30k, 100k, 300k, then ×√10 steps up to --max).
    #[arg(long, value_delimiter = ',')]
    pub steps: Vec<usize>,
    /// The largest size (steps above it are dropped; up to 1,000,000 as memory allows).
    #[arg(long, default_value_t = 300_000)]
    pub max: usize,
    #[arg(long, default_value_t = 1_000, conflicts_with = "dataset")]
    pub queries: usize,
    /// clustered (default), realistic, normal or uniform (see `sweep --help`).
    #[arg(long, default_value = "clustered", conflicts_with = "dataset")]
    pub distribution: String,
    #[arg(long, default_value_t = 42, conflicts_with = "dataset")]
    pub seed: u64,
    /// The deployment's index: m=16, ef_construct=100.
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    #[arg(long, default_value_t = 100)]
    pub ef_construct: usize,
    /// Search beam width (the deployment's 128).
    #[arg(long, default_value_t = 128)]
    pub ef: usize,
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    #[arg(long, default_value_t = HnswParams::default().full_scan_threshold)]
    pub full_scan_threshold: usize,
    /// Target segments per collection (Qdrant splits above its maximum segment size).
    #[arg(long, default_value_t = 1)]
    pub segments: usize,
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the vectors are kept: auto (vectors in RAM; a step that would not fit in free
    /// memory switches to vectors on disk, then int8 codes in RAM, then binary codes in RAM,
    /// both re-scored from the originals on disk, and never back), or ram, disk, int8 or binary
    /// for every step (a step that does not fit is then skipped).
    #[arg(long, default_value = "auto", value_parser = StorageChoice::from_name)]
    pub storage: StorageChoice,
    /// The size every fit is extrapolated to (the deployment's targets.scalability).
    #[arg(long, default_value_t = scale::DEFAULT_PREDICT)]
    pub predict: u64,
    /// A Qdrant server instead of the embedded engine (memory figures are then unknown).
    #[arg(long, env = "QDRANT_URL")]
    pub url: Option<String>,
    #[arg(long, alias = "out-dir", default_value = "target/qdrant-perf/results")]
    pub out: PathBuf,
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

impl ScaleArgs {
    pub fn steps(&self) -> Vec<usize> {
        if self.steps.is_empty() {
            scale::steps_up_to(self.max)
        } else {
            let mut s: Vec<usize> = self
                .steps
                .iter()
                .copied()
                .filter(|&n| n <= self.max)
                .collect();
            s.sort_unstable();
            s.dedup();
            s
        }
    }
}

pub fn run(args: ScaleArgs) -> Result<ExitCode> {
    let steps = args.steps();
    if steps.is_empty() || steps.iter().any(|&n| n <= args.k) {
        anyhow::bail!(
            "--steps {:?} with --max {}: give sizes above k={} and at most --max (example: --steps 10000,100000)",
            args.steps,
            args.max,
            args.k
        );
    }
    if args.predict == 0 {
        anyhow::bail!("--predict 0: give the size to extrapolate to (default 100000000)");
    }
    if args.ef < args.k {
        anyhow::bail!("--ef {} is below --k {}: use ef >= k", args.ef, args.k);
    }
    let hnsw = HnswParams {
        m: args.m,
        ef_construct: args.ef_construct,
        full_scan_threshold: args.full_scan_threshold,
    };
    let cache = cache(args.cache_dir.clone())?;
    let user = common::user_data(&args.data, &cache)?;
    let metric = match (&user, args.metric) {
        (Some(u), m) => match (u.metric(), m) {
            (Some(file), Some(flag)) if file != flag => anyhow::bail!(
                "--dataset {}: the file's distance is {}, but --metric says {}: drop --metric",
                u.path().display(),
                file.name(),
                flag.name()
            ),
            (Some(file), _) => file,
            (None, Some(flag)) => flag,
            (None, None) => anyhow::bail!(
                "--dataset {} does not say its metric: pass --metric cosine|dot|euclid",
                u.path().display()
            ),
        },
        (None, m) => m.unwrap_or(qdrant_perf_data::Metric::Cosine),
    };
    let dim = user.as_ref().map_or(args.dim, |u| u.dim());
    if let Some(u) = &user
        && let Some(&n) = steps.iter().find(|&&n| n > u.len())
    {
        anyhow::bail!(
            "--steps: size {n} is more than the {} train vectors of --dataset {}: give --max {} or less",
            u.len(),
            u.path().display(),
            u.len()
        );
    }
    let rt = runtime()?;
    let edge_root = private_edge_root(&cache, "scale")?;
    let store = Arc::new(open_store(&rt, args.url.as_deref(), &edge_root)?);
    let stop = common::ctrl_c_stop(
        &rt,
        "stopping after the current size; the finished sizes are kept",
    );
    let stem = format!("scale-{dim}d");
    let json = args.out.join(format!("{stem}.json"));
    let svg = args.out.join(format!("{stem}.svg"));
    let html = args.out.join(format!("{stem}.html"));
    let config = ScaleConfig {
        dataset: DatasetSpec::new(dim, steps[0])
            .with_queries(args.queries)
            .with_seed(args.seed)
            .with_metric(metric)
            .with_distribution(Distribution::from_name(&args.distribution)?),
        user,
        steps: steps.clone(),
        k: args.k,
        ef: args.ef,
        hnsw,
        segments: args.segments,
        threads: args.threads.unwrap_or_else(proc::cores),
        json: json.clone(),
        prefix: DEFAULT_PREFIX.into(),
        storage: args.storage,
        predict: args.predict,
    };
    eprintln!(
        "scale: N = {steps:?} at {} d on {}, storage {}; results go to {} after each step",
        dim,
        store.engine_version(),
        args.storage.name(),
        json.display()
    );
    let result = rt.block_on(scale::run_scale(
        store.clone(),
        &cache,
        &config,
        &proc::mem_available_bytes,
        stop.flag(),
        |line| eprintln!("{line}"),
    ));
    // The store closes its collections and deletes its scratch directory.
    drop(store);
    let report = result?;
    if report.steps.is_empty() {
        anyhow::bail!(
            "no size finished{}",
            report
                .skipped
                .first()
                .map_or(String::new(), |(n, why)| format!(": N={n} {why}"))
        );
    }
    report.write_svg(&svg)?;
    report.write_html(&html)?;
    println!("{}", report.table());
    print!("{}", report.growth_text());
    for (n, why) in &report.skipped {
        println!("skipped N={n}: {why}");
    }
    for n in &report.notes {
        println!("note: {n}");
    }
    println!(
        "RAM B/vec = bytes of the graph and quantized codes, plus the float32 vectors with ram \
         storage (what Qdrant keeps in RAM) / N; disk B/vec = every file / N; latency over {} held-out queries per size, one at a time; QPS all = {} \
         concurrent tasks.",
        report.steps[0].queries, report.steps[0].threads
    );
    if !report.complete {
        println!(
            "interrupted: the finished sizes are kept in {}",
            json.display()
        );
    }
    println!(
        "wrote {}, {} and {}",
        json.display(),
        svg.display(),
        html.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ScaleArgs,
    }

    #[test]
    fn steps_default_to_the_documented_sizes_and_respect_max() {
        let a = Cli::try_parse_from(["scale"]).unwrap().args;
        assert_eq!(a.steps(), vec![10_000, 30_000, 100_000, 300_000]);
        let a = Cli::try_parse_from(["scale", "--max", "1000000"])
            .unwrap()
            .args;
        assert_eq!(a.steps().last(), Some(&1_000_000));
        let a = Cli::try_parse_from([
            "scale",
            "--steps",
            "5000,1000,5000,900000",
            "--max",
            "10000",
        ])
        .unwrap()
        .args;
        assert_eq!(a.steps(), vec![1_000, 5_000]);
        assert_eq!((a.m, a.ef_construct, a.ef), (16, 100, 128));
    }
}
