//! `qdrant-perf`: the command-line face of the suite. The binary is thin: it parses options and
//! calls the library crates.

mod common;
mod load_cmd;
mod merge_cmd;
mod report_cmd;
mod stream_cmd;
mod validate_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use qdrant_perf_data::{Dataset, DatasetSpec, Distribution, Metric};
use qdrant_perf_gate::compare::{self, DEFAULT_THRESHOLD_PCT, Statistic};

use crate::common::cache;
use qdrant_perf_load::instructions::{self, HotPath};
use qdrant_perf_store::Profiles;

mod plan_cmd;
mod scale_cmd;
mod sweep_cmd;

#[derive(Debug, Parser)]
#[command(
    name = "qdrant-perf",
    version,
    about = "Performance tests and validation for Qdrant deployments"
)]
struct Opts {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the deployment's collection profiles (fixtures/collections.json, or --profiles FILE).
    Profiles {
        #[arg(long)]
        profiles: Option<PathBuf>,
    },
    /// Generate (or find in the cache) a dataset with exact ground truth, and say where it is;
    /// with --dataset, read and check your own dataset and its truth (see README "Your own
    /// data").
    Dataset {
        #[command(flatten)]
        data: common::DatasetArgs,
        /// With --dataset: the metric of a file that does not state one (cosine, dot, euclid).
        #[arg(long, requires = "dataset", value_parser = sweep_cmd::parse_metric)]
        metric: Option<Metric>,
        /// A collection profile whose dimension and distance to use (e.g. deepcoder).
        #[arg(long, conflicts_with = "dim")]
        profile: Option<String>,
        /// Vector dimension, when no profile is given.
        #[arg(long, conflicts_with = "dataset")]
        dim: Option<usize>,
        #[arg(long, default_value_t = 20_000, conflicts_with = "dataset")]
        points: usize,
        #[arg(long, default_value_t = 1_000, conflicts_with = "dataset")]
        queries: usize,
        /// Depth of the exact ground truth per query.
        #[arg(long, default_value_t = 100)]
        k: usize,
        /// clustered (default), realistic (tuned toward real sentence embeddings' LID and RC),
        /// normal or uniform.
        #[arg(long, default_value = "clustered", conflicts_with = "dataset")]
        distribution: String,
        #[arg(long, default_value_t = 42, conflicts_with = "dataset")]
        seed: u64,
        /// Cache directory (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Compare two criterion baselines (names) or two run reports (.json files); exit 1 on a
    /// regression, 2 on an error. See docs/regression-gate.md.
    Compare {
        /// The reference: a criterion baseline name (`--save-baseline NAME`) or a report file.
        base: String,
        /// The candidate, of the same kind as BASE.
        new: String,
        /// criterion's output directory, where baselines are saved.
        #[arg(long, default_value = "target/criterion")]
        criterion_dir: PathBuf,
        /// A change counts only beyond this many percent (and with separate confidence intervals).
        #[arg(long, default_value_t = DEFAULT_THRESHOLD_PCT, value_parser = parse_threshold)]
        threshold: f64,
        /// criterion estimate to compare: mean, median or typical (slope when both sides have one).
        #[arg(long, default_value = "mean")]
        statistic: Statistic,
        /// Print JSON instead of the Markdown table.
        #[arg(long)]
        json: bool,
        /// Also write the JSON comparison to this file.
        #[arg(long)]
        json_out: Option<PathBuf>,
        /// A second run of the base (taken after NEW): a change counts only when NEW shows it
        /// against both BASE and this one, so drift of a noisy machine between runs is not
        /// mistaken for a change of the code. Same kind as BASE.
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Count the instructions of the hot paths that need no server (generator, ground truth,
    /// search on the embedded engine) under valgrind's callgrind; write them as a run report.
    Instructions {
        /// Where to write the counts (a run report: compare two with `qdrant-perf compare`).
        #[arg(long)]
        out: PathBuf,
        /// Hot paths to count (default: all).
        #[arg(long, value_delimiter = ',', value_parser = parse_hot_path)]
        only: Vec<HotPath>,
        /// Dataset and index cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Where callgrind's own files go.
        #[arg(long, default_value = "target/instructions")]
        callgrind_dir: PathBuf,
    },
    /// One load run (open loop --rate, or closed loop --concurrency) against the embedded
    /// engine, a Qdrant server, an HTTP endpoint or the no-op target; writes a report.
    Load(load_cmd::LoadArgs),
    /// Ramp the rate (or concurrency) in steps until a target breaks; report the knee.
    Stress(load_cmd::StressArgs),
    /// Check the deployment's targets (performance-tests.yaml) per collection and overall;
    /// print the verdict table. Exit 0 all met, 1 any missed, 2 could not run.
    Validate(validate_cmd::ValidateArgs),
    /// Search while the collection grows: inserts at --insert-rate, searches at --rate, per
    /// stage latency and recall against the exact truth of the acknowledged points, freshness.
    Stream(stream_cmd::StreamArgs),
    /// Sum HdrHistogram interval logs of several generators and print their percentiles.
    Merge(merge_cmd::MergeArgs),
    /// Print a run's report again from its directory (report.json) and re-render its
    /// summary.md and report.html, or rebuild a partial one from its interval log
    /// (intervals.jsonl) when the run was killed before writing it; with a second directory,
    /// write the comparison of the two runs as a page (DIR_B/compare.html).
    Report(report_cmd::ReportArgs),
    /// Sweep HNSW (m, ef_construct, ef) and quantization on one dataset: recall, latency, QPS,
    /// build time and memory per point, the Pareto frontier, JSON and an SVG plot.
    Sweep(sweep_cmd::SweepArgs),
    /// The same workload at growing N (as far as free memory allows): latency, recall, build
    /// time, bytes per vector, fitted growth, SVG plot.
    Scale(scale_cmd::ScaleArgs),
    /// Capacity plan (RAM, disk, nodes, shards) for a target, per storage option.
    Plan(plan_cmd::PlanArgs),
    /// Run one hot path's fixed workload (what `instructions` runs under valgrind).
    #[command(hide = true)]
    HotPath {
        #[arg(value_parser = parse_hot_path)]
        path: HotPath,
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

pub(crate) fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!(
            "{s:?} is not a percentage >= 0 (example: --threshold 10)"
        )),
    }
}

fn parse_hot_path(s: &str) -> Result<HotPath, String> {
    s.parse()
        .map_err(|e: instructions::InstructionsError| e.to_string())
}

/// Exit codes: 0 success, 1 a regression (compare), 2 an error.
fn main() -> ExitCode {
    match run(Opts::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes on one line, each cause once (an error whose message already quotes
/// its source is not followed by the source again), with the fix for a full disk.
fn describe(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    let full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
    }) || line.contains("No space left on device");
    if full {
        line.push_str(
            ". The filesystem is full: free space there, or write elsewhere (--out for reports, \
             --cache-dir or QDRANT_PERF_CACHE_DIR for datasets and indexes)",
        );
    }
    line
}

fn run(opts: Opts) -> Result<ExitCode> {
    match opts.command {
        Command::Profiles { profiles } => {
            let p = match profiles {
                Some(path) => Profiles::load(&path)?,
                None => Profiles::bundled(),
            };
            println!(
                "{:<12} {:>6} {:<8} {:>12} {:>8}",
                "collection", "dim", "distance", "test vectors", "qps"
            );
            for c in &p.collections {
                println!(
                    "{:<12} {:>6} {:<8} {:>12} {:>8}",
                    c.name,
                    c.vector_size,
                    c.distance.qdrant_name(),
                    c.test_vectors,
                    c.query_load
                );
            }
            println!(
                "index: hnsw m={} ef_construct={} full_scan_threshold={} KB; search: top-{} at ef={}",
                p.index.hnsw_m,
                p.index.hnsw_ef_construct,
                p.index.full_scan_threshold,
                p.search.k,
                p.search.hnsw_ef
            );
        }
        Command::Dataset {
            data:
                common::DatasetArgs {
                    dataset: Some(path),
                    keep_shipped_truth,
                },
            profile,
            metric,
            k,
            cache_dir,
            ..
        } => {
            let profiles = Profiles::bundled();
            let profile = profile.map(|name| profiles.get(&name)).transpose()?;
            let wanted = match (profile, metric) {
                (Some(p), Some(m)) if p.distance != m => anyhow::bail!(
                    "--metric {} contradicts collection profile `{}` ({}): give one of them",
                    m.name(),
                    p.name,
                    p.distance.name()
                ),
                (Some(p), _) => Some((p.distance, format!("collection profile `{}`", p.name))),
                (None, Some(m)) => Some((m, "--metric".to_string())),
                (None, None) => None,
            };
            let dataset = common::user_dataset(
                &path,
                keep_shipped_truth,
                wanted.as_ref().map(|(m, from)| (*m, from.as_str())),
                k,
                &cache(cache_dir)?,
            )?;
            if let Some(p) = profile {
                dataset.check_fits(&p.name, p.vector_size)?;
            }
            println!("{}", dataset.describe());
        }
        Command::Dataset {
            profile,
            dim,
            points,
            queries,
            k,
            distribution,
            seed,
            cache_dir,
            ..
        } => {
            let (dim, metric) = match (profile, dim) {
                (Some(name), _) => {
                    let profiles = Profiles::bundled();
                    let p = profiles.get(&name)?;
                    (p.vector_size, p.distance)
                }
                (None, Some(dim)) => (dim, Metric::Cosine),
                (None, None) => anyhow::bail!("give --profile NAME or --dim N"),
            };
            let spec = DatasetSpec::new(dim, points)
                .with_queries(queries)
                .with_k(k)
                .with_seed(seed)
                .with_metric(metric)
                .with_distribution(Distribution::from_name(&distribution)?);
            let dataset = Dataset::load_or_generate(&spec, &cache(cache_dir)?)
                .context("making the dataset")?;
            println!("{}", dataset.describe());
        }
        Command::Compare {
            base,
            new,
            criterion_dir,
            threshold,
            statistic,
            json,
            json_out,
            confirm,
        } => {
            let mut comparison =
                compare::compare(&base, &new, &criterion_dir, threshold, statistic)?;
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
                qdrant_perf_sys::write_atomic(&path, (as_json + "\n").as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            comparison.append_to_step_summary()?;
            if comparison.has_regression() {
                eprintln!("regressed: {}", comparison.regressed().join(", "));
                return Ok(ExitCode::from(1));
            }
        }
        Command::Instructions {
            out,
            only,
            cache_dir,
            callgrind_dir,
        } => {
            let paths = if only.is_empty() {
                HotPath::ALL.to_vec()
            } else {
                only
            };
            let cache = cache(cache_dir)?;
            let exe =
                std::env::current_exe().context("finding this executable to run under valgrind")?;
            let report =
                instructions::count_instructions(&exe, &paths, cache.root(), &callgrind_dir)?;
            for m in &report.metrics {
                println!("{:<28} {:>16}", m.name, m.value);
            }
            report
                .save(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("counts written to {}", out.display());
        }
        Command::Load(args) => return load_cmd::load(args),
        Command::Stress(args) => return load_cmd::stress(args),
        Command::Validate(args) => return validate_cmd::validate(args),
        Command::Stream(args) => return stream_cmd::stream(args),
        Command::Merge(args) => return merge_cmd::merge(args),
        Command::Report(args) => return report_cmd::report(args),
        Command::Sweep(args) => return sweep_cmd::run(args),
        Command::Scale(args) => return scale_cmd::run(args),
        Command::Plan(args) => return plan_cmd::run(args),
        Command::HotPath { path, cache_dir } => {
            println!("{}", instructions::run_hot_path(path, &cache(cache_dir)?)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_options_parse_with_defaults() {
        let o = Opts::try_parse_from(["qdrant-perf", "dataset", "--profile", "phi3"]).unwrap();
        match o.command {
            Command::Dataset {
                profile,
                points,
                queries,
                k,
                ..
            } => {
                assert_eq!(profile.as_deref(), Some("phi3"));
                assert_eq!((points, queries, k), (20_000, 1_000, 100));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn profile_and_dim_together_are_refused() {
        let err =
            Opts::try_parse_from(["qdrant-perf", "dataset", "--profile", "phi3", "--dim", "8"])
                .unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }

    #[test]
    fn report_takes_one_run_directory_or_two_with_the_page_options() {
        let o = Opts::try_parse_from(["qdrant-perf", "report", "runs/a"]).unwrap();
        match o.command {
            Command::Report(r) => {
                assert_eq!(r.dir, PathBuf::from("runs/a"));
                assert!(r.dir_b.is_none() && r.out.is_none());
                assert_eq!(r.threshold, 10.0);
            }
            other => panic!("{other:?}"),
        }
        let o = Opts::try_parse_from([
            "qdrant-perf",
            "report",
            "a",
            "b",
            "--out",
            "c.html",
            "--threshold",
            "5",
        ])
        .unwrap();
        match o.command {
            Command::Report(r) => {
                assert_eq!(r.dir_b, Some(PathBuf::from("b")));
                assert_eq!(r.out, Some(PathBuf::from("c.html")));
                assert_eq!(r.threshold, 5.0);
            }
            other => panic!("{other:?}"),
        }
        // The page options belong to a comparison.
        let err = Opts::try_parse_from(["qdrant-perf", "report", "a", "--out", "c.html"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DIR_B"), "{err}");
    }

    #[test]
    fn compare_takes_two_names_with_the_documented_defaults() {
        let o = Opts::try_parse_from(["qdrant-perf", "compare", "base", "head"]).unwrap();
        match o.command {
            Command::Compare {
                base,
                new,
                criterion_dir,
                threshold,
                statistic,
                json,
                json_out,
                confirm,
            } => {
                assert_eq!((base.as_str(), new.as_str()), ("base", "head"));
                assert_eq!(confirm, None);
                assert_eq!(criterion_dir, PathBuf::from("target/criterion"));
                assert_eq!(threshold, 10.0);
                assert_eq!(statistic, Statistic::Mean);
                assert!(!json && json_out.is_none());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn compare_options_parse() {
        let o = Opts::try_parse_from([
            "qdrant-perf",
            "compare",
            "a.json",
            "b.json",
            "--threshold",
            "0.5%",
            "--json",
            "--criterion-dir",
            "/tmp/c",
            "--statistic",
            "typical",
        ])
        .unwrap();
        match o.command {
            Command::Compare {
                threshold,
                json,
                criterion_dir,
                statistic,
                ..
            } => {
                assert_eq!(threshold, 0.5);
                assert!(json);
                assert_eq!(criterion_dir, PathBuf::from("/tmp/c"));
                assert_eq!(statistic, Statistic::Typical);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn compare_refuses_a_negative_threshold_an_unknown_statistic_and_one_argument() {
        let err = Opts::try_parse_from(["qdrant-perf", "compare", "a", "b", "--threshold=-3"])
            .unwrap_err();
        assert!(err.to_string().contains("--threshold"), "{err}");
        let err = Opts::try_parse_from(["qdrant-perf", "compare", "a", "b", "--statistic", "p99"])
            .unwrap_err();
        assert!(err.to_string().contains("mean, median or typical"), "{err}");
        let err = Opts::try_parse_from(["qdrant-perf", "compare", "a"]).unwrap_err();
        assert!(err.to_string().contains("<NEW>"), "{err}");
    }

    #[test]
    fn instructions_takes_a_list_of_hot_paths_and_refuses_unknown_ones() {
        let o = Opts::try_parse_from([
            "qdrant-perf",
            "instructions",
            "--out",
            "c.json",
            "--only",
            "search,generate",
        ])
        .unwrap();
        match o.command {
            Command::Instructions { out, only, .. } => {
                assert_eq!(out, PathBuf::from("c.json"));
                assert_eq!(only, vec![HotPath::Search, HotPath::Generate]);
            }
            other => panic!("{other:?}"),
        }
        let err = Opts::try_parse_from(["qdrant-perf", "hot-path", "gemm"]).unwrap_err();
        assert!(
            err.to_string().contains("generate, ground_truth or search"),
            "{err}"
        );
    }

    #[test]
    fn an_error_names_each_cause_once_and_a_full_disk_says_the_fix() {
        #[derive(Debug)]
        struct Wrapped {
            source: std::io::Error,
        }
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "/mnt/small/points.fbin: {}", self.source)
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.source)
            }
        }
        let io = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let text = io.to_string();
        let e = anyhow::Error::new(Wrapped { source: io }).context("making the dataset");
        let line = describe(&e);
        assert_eq!(line.matches(&text).count(), 1, "{line}");
        assert!(
            line.starts_with("making the dataset: /mnt/small/points.fbin: "),
            "{line}"
        );
        assert!(
            line.contains("The filesystem is full") && line.contains("--cache-dir"),
            "{line}"
        );
        let other = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&other), "outer: inner");
    }

    #[test]
    fn a_non_numeric_size_is_refused_naming_the_flag() {
        let err =
            Opts::try_parse_from(["qdrant-perf", "dataset", "--dim", "8", "--points", "lots"])
                .unwrap_err();
        assert!(err.to_string().contains("--points"), "{err}");
    }
}
