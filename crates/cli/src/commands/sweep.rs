//! `qdrant-perf sweep`: an HNSW × quantization grid on one dataset, with the table sorted by
//! recall, the Pareto frontier, JSON and an SVG recall-vs-QPS plot.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use qdrant_perf_data::{Dataset, DatasetCache, DatasetSpec, Distribution, Metric};
use qdrant_perf_plumbing::proc;
use qdrant_perf_store::{AnyStore, DEFAULT_PREFIX};
use qdrant_perf_tune::sweep::{self, Grid, SweepConfig, SweepError, SweepPoint};

use crate::setup::{cache, open_store, private_edge_root, runtime};

use crate::args::*;

/// Runs the grid, prints the table and the Pareto frontier, writes JSON, SVG and HTML.
pub fn run(args: SweepArgs) -> Result<ExitCode> {
    let cache = cache(args.cache_dir.clone())?;
    // --dataset is read and checked first: its dimension, size and metric shape the grid.
    let user = match &args.data.dataset {
        Some(path) => Some(crate::setup::user_dataset(
            path,
            args.data.keep_shipped_truth,
            args.metric.map(|m| (m, "--metric")),
            args.k.max(100),
            &cache,
        )?),
        None => None,
    };
    let (dim, points, metric) = match &user {
        Some(d) => (d.spec.dim, d.points.len(), d.spec.metric),
        None => (args.dim, args.points, args.metric.unwrap_or(Metric::Cosine)),
    };
    let plan = grid(&args)
        .plan(args.k, metric, points)
        .map_err(grid_error_with_flags)?;
    for r in &plan.rejected {
        eprintln!("rejected: {} ({})", r.point, r.reason);
    }
    let (fst, note) =
        sweep::choose_full_scan_threshold(args.full_scan_threshold, points, dim, args.segments);
    let dataset = match user {
        Some(d) => d,
        None => {
            let spec = DatasetSpec::new(args.dim, args.points)
                .with_queries(args.queries)
                .with_k(args.k.max(100))
                .with_seed(args.seed)
                .with_metric(metric)
                .with_distribution(Distribution::from_name(&args.distribution)?);
            Dataset::load_or_generate(&spec, &cache).context("making the dataset")?
        }
    };
    eprintln!("{}", dataset.describe());
    let files = outputs(&args.out, &format!("sweep-{dim}d-{points}"));
    let config = SweepConfig {
        k: args.k,
        full_scan_threshold_kb: fst,
        segments: args.segments,
        threads: args.threads.unwrap_or_else(proc::cores),
        json: files[0].clone(),
        prefix: DEFAULT_PREFIX.into(),
    };
    let stopping = "stopping after the current point; the finished points are kept";
    let report = on_own_store(
        &cache,
        args.url.as_deref(),
        "sweep",
        stopping,
        async |store, stop| {
            if let Some(n) = &note {
                eprintln!("note: {n}");
            }
            eprintln!(
                "sweep: {} builds, {} points on {} (full_scan_threshold {fst} KB, {} segment(s)); \
                 results go to {} after each point",
                plan.builds.len(),
                plan.points(),
                store.engine_version(),
                args.segments,
                config.json.display()
            );
            let progress = |p: &SweepPoint| eprintln!("  {}", describe(p));
            let notes = note.into_iter().collect();
            sweep::run_sweep(store, &dataset, &plan, &config, notes, stop, progress).await
        },
    )?;
    if report.points.is_empty() {
        anyhow::bail!("no point finished; nothing to report");
    }
    report.write_svg(&files[1])?;
    report.write_html(&files[2])?;
    println!("## All points, by recall\n\n{}", report.table());
    println!(
        "## Pareto frontier (best single-thread QPS for each recall)\n\n{}",
        report.frontier_table()
    );
    println!("{}\n", report.legend());
    let mut notes = report.notes.clone();
    if report.points.iter().all(|p| p.recall >= 0.9999) {
        notes.push(
            "recall is 1.0 at every point: this data is too easy to show the trade-off; use \
             --distribution normal or more --points"
                .into(),
        );
    }
    print_end(&notes, report.complete, "points", &files);
    Ok(ExitCode::SUCCESS)
}

fn grid(args: &SweepArgs) -> Grid {
    Grid {
        m: args.m.clone(),
        ef_construct: args.ef_construct.clone(),
        ef: args.ef.clone(),
        quantization: args.quantization.clone(),
        rescore: args.rescore.clone(),
        oversampling: args.oversampling.clone(),
    }
}

/// A finished point, for the progress lines.
fn describe(p: &SweepPoint) -> String {
    format!(
        "{}: recall {:.4}, p50 {:.3} ms, {:.0} QPS (1 thread), {:.0} QPS ({} threads) [{}]",
        sweep::describe_point(&p.build, &p.search),
        p.recall,
        p.latency.p50_ms,
        p.qps_single,
        p.qps_all,
        p.threads,
        p.mode
    )
}

/// Runs a tuning experiment (sweep, scale) on a store of its own, `url`'s server or the embedded
/// engine in a private directory under the cache for `kind`, with Ctrl-C stopping it between
/// points (`stopping` says so). The store is closed (its collections, its scratch directory)
/// when `work` ends.
pub(crate) fn on_own_store<R>(
    cache: &DatasetCache,
    url: Option<&str>,
    kind: &str,
    stopping: &'static str,
    work: impl AsyncFnOnce(Arc<AnyStore>, &AtomicBool) -> Result<R, SweepError>,
) -> Result<R> {
    let rt = runtime()?;
    let store = open_store(&rt, url, &private_edge_root(cache, kind)?)?;
    let stop = crate::setup::ctrl_c_stop(&rt, stopping);
    Ok(rt.block_on(work(Arc::new(store), stop.flag()))?)
}

/// A tuning experiment's files: `OUT/STEM.json` (written after every point), `.svg` and `.html`.
pub(crate) fn outputs(out: &Path, stem: &str) -> [PathBuf; 3] {
    ["json", "svg", "html"].map(|ext| out.join(format!("{stem}.{ext}")))
}

/// The end of a tuning experiment's output: its notes, whether it was interrupted (the finished
/// `unit` are kept in the JSON) and the files it wrote.
pub(crate) fn print_end(notes: &[String], complete: bool, unit: &str, files: &[PathBuf; 3]) {
    for n in notes {
        println!("note: {n}");
    }
    let [json, svg, html] = files.each_ref().map(|f| f.display());
    if !complete {
        println!("interrupted: the finished {unit} are kept in {json}");
    }
    println!("wrote {json}, {svg} and {html}");
}

/// The grid's problems with each field named by its flag (`ef_construct` is `--ef-construct`).
fn grid_error_with_flags(e: SweepError) -> anyhow::Error {
    let SweepError::Grid { problems } = e else {
        return e.into();
    };
    let lines: Vec<String> = problems
        .iter()
        .map(|p| {
            let flag = format!("--{}", p.field.replace('_', "-"));
            if p.value.is_empty() {
                format!("{flag} is empty: {}", p.reason)
            } else {
                format!("{flag} {}: {}", p.value, p.reason)
            }
        })
        .collect();
    anyhow::anyhow!(
        "the grid has problems:\n  - {}\nfix the flags named above (example: --m 8,16,32 --ef 16,32,64,128)",
        lines.join("\n  - ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use qdrant_perf_tune::sweep::QuantKind;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: SweepArgs,
    }

    #[test]
    fn the_default_grid_is_the_documented_one() {
        let a = Cli::try_parse_from(["sweep"]).unwrap().args;
        assert_eq!((a.dim, a.points, a.queries, a.k), (768, 20_000, 1_000, 10));
        assert_eq!(a.m, vec![8, 16, 32]);
        assert_eq!(a.ef_construct, vec![100]);
        assert_eq!(a.ef, vec![10, 20, 40, 80, 160, 320]);
        assert_eq!(
            a.quantization,
            vec![QuantKind::None, QuantKind::Int8, QuantKind::Binary]
        );
        assert_eq!(a.oversampling, vec![1.0, 3.0]);
        assert_eq!((a.full_scan_threshold, a.segments), (20_000, 1));
    }

    #[test]
    fn grid_problems_name_the_flags() {
        let a = Cli::try_parse_from(["sweep", "--m", "1,16", "--ef-construct", "2"])
            .unwrap()
            .args;
        let grid = Grid {
            oversampling: vec![],
            ..grid(&a)
        };
        let e = grid
            .plan(a.k, a.metric.unwrap_or(Metric::Cosine), a.points)
            .unwrap_err();
        let msg = grid_error_with_flags(e).to_string();
        for needle in [
            "--m 1: ",
            "--ef-construct 2: Qdrant requires",
            "--oversampling is empty",
        ] {
            assert!(msg.contains(needle), "{needle} not in {msg}");
        }
        assert!(!msg.contains("--m 16"), "{msg}");
    }

    #[test]
    fn lists_parse_and_unknown_values_name_the_flag() {
        let a = Cli::try_parse_from(["sweep", "--m", "4,64", "--quantization", "binary,int8"])
            .unwrap()
            .args;
        assert_eq!(a.m, vec![4, 64]);
        assert_eq!(a.quantization, vec![QuantKind::Binary, QuantKind::Int8]);
        let err = Cli::try_parse_from(["sweep", "--quantization", "pq"]).unwrap_err();
        assert!(err.to_string().contains("none, int8 or binary"), "{err}");
        let err = Cli::try_parse_from(["sweep", "--metric", "manhattan"]).unwrap_err();
        assert!(err.to_string().contains("cosine, dot or euclid"), "{err}");
        let err = Cli::try_parse_from(["sweep", "--ef", "ten"]).unwrap_err();
        assert!(err.to_string().contains("--ef"), "{err}");
    }
}
