//! `qdrant-perf dataset`: generate (or find in the cache) a dataset with exact ground truth, or
//! read and check a user's own (`--dataset`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use qdrant_perf_data::{Dataset, DatasetSpec, Distribution, Metric};
use qdrant_perf_store::Profiles;

use crate::args::DatasetCommandArgs;
use crate::setup::{self, cache};

/// Says where the dataset is and what it holds.
pub fn run(args: DatasetCommandArgs) -> Result<ExitCode> {
    match args.data.dataset.clone() {
        Some(path) => users(&path, args),
        None => generated(args),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// `--dataset PATH`: reads and checks the user's files against the profile or --metric.
fn users(path: &Path, args: DatasetCommandArgs) -> Result<()> {
    let DatasetCommandArgs {
        data,
        profile,
        metric,
        k,
        cache_dir,
        ..
    } = args;
    let keep_shipped_truth = data.keep_shipped_truth;
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
    let dataset = setup::user_dataset(
        path,
        keep_shipped_truth,
        wanted.as_ref().map(|(m, from)| (*m, from.as_str())),
        k,
        &cache(cache_dir)?,
    )?;
    if let Some(p) = profile {
        dataset.check_fits(&p.name, p.vector_size)?;
    }
    println!("{}", dataset.describe());
    Ok(())
}

/// A generated dataset of a profile's (or --dim's) size, from the cache when it is there.
fn generated(args: DatasetCommandArgs) -> Result<()> {
    let DatasetCommandArgs {
        profile,
        dim,
        points,
        queries,
        k,
        distribution,
        seed,
        cache_dir,
        ..
    } = args;
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
    let dataset =
        Dataset::load_or_generate(&spec, &cache(cache_dir)?).context("making the dataset")?;
    println!("{}", dataset.describe());
    Ok(())
}
