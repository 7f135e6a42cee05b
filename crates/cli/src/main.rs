//! `qdrant-perf`: the command-line face of the suite. The binary is thin: it parses options and
//! calls the library crates.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use qdrant_perf_data::{Dataset, DatasetCache, DatasetSpec, Distribution, Metric};
use qdrant_perf_store::Profiles;

#[derive(Debug, Parser)]
#[command(name = "qdrant-perf", version, about = "Performance tests and validation for Qdrant deployments")]
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
    /// Generate (or find in the cache) a dataset with exact ground truth, and say where it is.
    Dataset {
        /// A collection profile whose dimension and distance to use (e.g. deepcoder).
        #[arg(long, conflicts_with = "dim")]
        profile: Option<String>,
        /// Vector dimension, when no profile is given.
        #[arg(long)]
        dim: Option<usize>,
        #[arg(long, default_value_t = 20_000)]
        points: usize,
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
        /// Depth of the exact ground truth per query.
        #[arg(long, default_value_t = 100)]
        k: usize,
        /// clustered (default), normal or uniform.
        #[arg(long, default_value = "clustered")]
        distribution: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Cache directory (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    let opts = Opts::parse();
    match opts.command {
        Command::Profiles { profiles } => {
            let p = match profiles {
                Some(path) => Profiles::load(&path)?,
                None => Profiles::bundled(),
            };
            println!("{:<12} {:>6} {:<8} {:>12} {:>8}", "collection", "dim", "distance", "test vectors", "qps");
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
                p.index.hnsw_m, p.index.hnsw_ef_construct, p.index.full_scan_threshold, p.search.k, p.search.hnsw_ef
            );
        }
        Command::Dataset { profile, dim, points, queries, k, distribution, seed, cache_dir } => {
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
            let cache = match cache_dir {
                Some(dir) => DatasetCache::new(dir),
                None => DatasetCache::from_env("target/qdrant-perf"),
            }
            .ensure_writable()?;
            let dataset = Dataset::load_or_generate(&spec, &cache).context("making the dataset")?;
            println!("{}", dataset.describe());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_options_parse_with_defaults() {
        let o = Opts::try_parse_from(["qdrant-perf", "dataset", "--profile", "phi3"]).unwrap();
        match o.command {
            Command::Dataset { profile, points, queries, k, .. } => {
                assert_eq!(profile.as_deref(), Some("phi3"));
                assert_eq!((points, queries, k), (20_000, 1_000, 100));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn profile_and_dim_together_are_refused() {
        let err = Opts::try_parse_from(["qdrant-perf", "dataset", "--profile", "phi3", "--dim", "8"]).unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }

    #[test]
    fn a_non_numeric_size_is_refused_naming_the_flag() {
        let err = Opts::try_parse_from(["qdrant-perf", "dataset", "--dim", "8", "--points", "lots"]).unwrap_err();
        assert!(err.to_string().contains("--points"), "{err}");
    }
}
