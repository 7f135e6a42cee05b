//! `qdrant-perf scale`: the deployment's workload at growing N, as far as memory allows.

use std::process::ExitCode;

use anyhow::Result;
use qdrant_perf_data::{DatasetSpec, Distribution, Metric, UserData};
use qdrant_perf_plumbing::proc;
use qdrant_perf_store::{DEFAULT_PREFIX, HnswParams};
use qdrant_perf_tune::scale::{self, ScaleConfig};

use super::sweep::{on_own_store, outputs, print_end};
use crate::setup::cache;

use crate::args::*;

impl ScaleArgs {
    pub fn steps(&self) -> Vec<usize> {
        if self.steps.is_empty() {
            return scale::steps_up_to(self.max);
        }
        let mut s = self.steps.clone();
        s.retain(|&n| n <= self.max);
        s.sort_unstable();
        s.dedup();
        s
    }
}

/// Runs the scale steps, prints the table and the fitted growth, writes JSON, SVG and HTML.
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
    let cache = cache(args.cache_dir.clone())?;
    let user = crate::setup::user_data(&args.data, &cache)?;
    let metric = metric(user.as_deref(), args.metric)?;
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
    let files = outputs(&args.out, &format!("scale-{dim}d"));
    let config = ScaleConfig {
        dataset: DatasetSpec::new(dim, steps[0])
            .with_queries(args.queries)
            .with_seed(args.seed)
            .with_metric(metric)
            .with_distribution(Distribution::from_name(&args.distribution)?),
        user,
        steps,
        k: args.k,
        ef: args.ef,
        hnsw: HnswParams {
            m: args.m,
            ef_construct: args.ef_construct,
            full_scan_threshold: args.full_scan_threshold,
        },
        segments: args.segments,
        threads: args.threads.unwrap_or_else(proc::cores),
        json: files[0].clone(),
        prefix: DEFAULT_PREFIX.into(),
        storage: args.storage,
        predict: args.predict,
    };
    let stopping = "stopping after the current size; the finished sizes are kept";
    let report = on_own_store(
        &cache,
        args.url.as_deref(),
        "scale",
        stopping,
        async |store, stop| {
            eprintln!(
                "scale: N = {:?} at {dim} d on {}, storage {}; results go to {} after each step",
                config.steps,
                store.engine_version(),
                args.storage.name(),
                config.json.display()
            );
            let available = &proc::mem_available_bytes;
            scale::run_scale(store, &cache, &config, available, stop, |l| {
                eprintln!("{l}")
            })
            .await
        },
    )?;
    let Some(first) = report.steps.first() else {
        let why = report.skipped.first();
        let why = why.map_or(String::new(), |(n, why)| format!(": N={n} {why}"));
        anyhow::bail!("no size finished{why}");
    };
    report.write_svg(&files[1])?;
    report.write_html(&files[2])?;
    println!("{}", report.table());
    print!("{}", report.growth_text());
    println!(
        "RAM B/vec = bytes of the graph and quantized codes, plus the float32 vectors with ram \
         storage (what Qdrant keeps in RAM) / N; disk B/vec = every file / N; latency over {} \
         held-out queries per size, one at a time; QPS all = {} concurrent tasks.",
        first.queries, first.threads
    );
    for (n, why) in &report.skipped {
        println!("skipped N={n}: {why}");
    }
    print_end(&report.notes, report.complete, "sizes", &files);
    Ok(ExitCode::SUCCESS)
}

/// The distance of the run: the `--dataset`'s, which `--metric` may only repeat (or must give
/// when the files do not say it); without a dataset `--metric`, or Cosine.
fn metric(user: Option<&UserData>, flag: Option<Metric>) -> Result<Metric> {
    let Some(u) = user else {
        return Ok(flag.unwrap_or(Metric::Cosine));
    };
    match (u.metric(), flag) {
        (Some(file), Some(flag)) if file != flag => anyhow::bail!(
            "--dataset {}: the file's distance is {}, but --metric says {}: drop --metric",
            u.path().display(),
            file.name(),
            flag.name()
        ),
        (Some(file), _) => Ok(file),
        (None, Some(flag)) => Ok(flag),
        (None, None) => anyhow::bail!(
            "--dataset {} does not say its metric: pass --metric cosine|dot|euclid",
            u.path().display()
        ),
    }
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
