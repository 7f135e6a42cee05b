//! `qdrant-perf scale`: the deployment's workload at growing N, as far as memory allows.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use qdrant_perf_data::{DatasetSpec, Distribution};
use qdrant_perf_plumbing::proc;
use qdrant_perf_store::{DEFAULT_PREFIX, HnswParams};
use qdrant_perf_tune::scale::{self, ScaleConfig};

use crate::setup::{cache, open_store, private_edge_root, runtime};

use crate::args::*;

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
    let hnsw = HnswParams {
        m: args.m,
        ef_construct: args.ef_construct,
        full_scan_threshold: args.full_scan_threshold,
    };
    let cache = cache(args.cache_dir.clone())?;
    let user = crate::setup::user_data(&args.data, &cache)?;
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
    let stop = crate::setup::ctrl_c_stop(
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
