//! Shared setup of the criterion suites: which collections to run, their datasets and built
//! collections (cached on disk), and the lines each suite prints beside criterion's figures.
//!
//! Environment:
//! - `QDRANT_PERF_POINTS`: stored vectors per collection (default 20,000; the deployment tests
//!   with 1,000,000, which needs minutes per collection to build on 2 cores);
//! - `QDRANT_PERF_QUERIES`: held-out queries per dataset (default 1,000);
//! - `QDRANT_PERF_COLLECTIONS`: `dims` (default: one collection per distinct dimension), `all`,
//!   or a comma-separated list of profile names from fixtures/collections.json;
//! - `QDRANT_PERF_CACHE_DIR`: where datasets and built indexes are cached
//!   (default `target/qdrant-perf`).

#![allow(dead_code)] // each bench uses its own part of the fixture

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use qdrant_perf_data::{Dataset, DatasetCache, DatasetSpec, GroundTruth, LoadedFrom, Vectors, mean_recall};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH};
use qdrant_perf_store::{CollectionProfile, EdgeStore, Guard, Profiles, Query, Store};

pub const DEFAULT_POINTS: usize = 20_000;
pub const DEFAULT_QUERIES: usize = 1_000;

/// Reads a positive integer from the environment, or exits with a message naming the variable.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => match v.trim().replace('_', "").parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("error: {name}={v:?} is not a positive whole number (example: {name}={default})");
                std::process::exit(2);
            }
        },
        _ => default,
    }
}

pub fn points() -> usize {
    env_usize("QDRANT_PERF_POINTS", DEFAULT_POINTS)
}

pub fn queries() -> usize {
    env_usize("QDRANT_PERF_QUERIES", DEFAULT_QUERIES)
}

/// `<workspace>/target/qdrant-perf`, or `$CARGO_TARGET_DIR/qdrant-perf`, unless
/// `QDRANT_PERF_CACHE_DIR` says otherwise.
pub fn cache() -> DatasetCache {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    DatasetCache::from_env(target.join("qdrant-perf"))
        .ensure_writable()
        .unwrap_or_else(|e| fail(e))
}

pub fn fail(e: impl std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(2);
}

pub static PROFILES: LazyLock<Profiles> = LazyLock::new(Profiles::bundled);

/// The profiles this run measures (`QDRANT_PERF_COLLECTIONS`).
pub fn selected_profiles() -> Vec<CollectionProfile> {
    let selection = std::env::var("QDRANT_PERF_COLLECTIONS").unwrap_or_else(|_| "dims".into());
    PROFILES
        .select(&selection)
        .unwrap_or_else(|e| fail(format!("QDRANT_PERF_COLLECTIONS: {e}")))
        .into_iter()
        .cloned()
        .collect()
}

/// The dataset of a profile at this run's size.
pub fn dataset_spec(profile: &CollectionProfile) -> DatasetSpec {
    DatasetSpec::new(profile.vector_size, points())
        .with_queries(queries())
        .with_metric(profile.distance)
}

/// A collection of a profile, loaded into the embedded engine and indexed, with its held-out
/// queries and their exact neighbours (the stored points themselves are not kept in memory).
pub struct Prepared {
    pub profile: CollectionProfile,
    pub name: String,
    pub store: EdgeStore,
    pub query_vectors: Vectors,
    pub truth: GroundTruth,
    pub points: usize,
    pub setup: Setup,
}

/// Seconds spent before measuring, by step.
#[derive(Clone, Copy, Debug, Default)]
pub struct Setup {
    pub dataset: f64,
    pub open: f64,
    pub upload: f64,
    pub index: f64,
}

impl Setup {
    pub fn total(&self) -> f64 {
        self.dataset + self.open + self.upload + self.index
    }
}

static PREPARED: LazyLock<Mutex<HashMap<String, Arc<Prepared>>>> = LazyLock::new(Default::default);
static SETUP_TOTAL: LazyLock<Mutex<Setup>> = LazyLock::new(Default::default);

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The prepared collection of `profile`, made on first use (so collections that criterion's
/// filter skips are never built) and cached for the rest of the run.
pub fn prepared(profile: &CollectionProfile) -> Arc<Prepared> {
    let mut map = PREPARED.lock().expect("lock");
    if let Some(p) = map.get(&profile.name) {
        return p.clone();
    }
    let p = Arc::new(prepare(profile).unwrap_or_else(|e| fail(e)));
    map.insert(profile.name.clone(), p.clone());
    p
}

/// The prepared collection of `profile` if this run made it (criterion's filter may have
/// skipped it).
pub fn prepared_if_any(profile: &CollectionProfile) -> Option<Arc<Prepared>> {
    PREPARED.lock().expect("lock").get(&profile.name).cloned()
}

fn prepare(profile: &CollectionProfile) -> Result<Prepared, Box<dyn std::error::Error>> {
    let spec = dataset_spec(profile);
    let dataset = Dataset::load_or_generate(&spec, &cache())?;
    eprintln!("{}", dataset.describe());
    let dataset_seconds = match dataset.loaded_from {
        LoadedFrom::Cache { seconds } | LoadedFrom::Generated { seconds } => seconds,
        LoadedFrom::Files => 0.0,
    };
    let guard = Guard::default();
    let name = guard.name_for(&profile.name);
    // Built indexes live beside their dataset, keyed by the index parameters.
    let store = EdgeStore::with_guard(dataset.dir.join("edge"), guard)?;
    let collection = PROFILES.collection_spec(profile, name.clone());
    let loaded = runtime().block_on(fixture::load_collection(
        &store,
        &collection,
        &dataset.points,
        DEFAULT_BATCH,
    ))?;
    let setup = Setup {
        dataset: dataset_seconds,
        open: loaded.open_seconds,
        upload: loaded.upload_seconds,
        index: loaded.index.seconds,
    };
    eprintln!(
        "setup of {name}: dataset {:.2} s ({}), open {:.2} s, upload {:.2} s, index {:.2} s ({}; {} points in {} segments) = {:.2} s",
        setup.dataset,
        match dataset.loaded_from {
            LoadedFrom::Cache { .. } => "from cache",
            _ => "generated",
        },
        setup.open,
        setup.upload,
        setup.index,
        if loaded.reused { "reloaded from disk" } else { "built" },
        loaded.index.indexed_vectors,
        loaded.index.segments,
        setup.total()
    );
    {
        let mut total = SETUP_TOTAL.lock().expect("lock");
        total.dataset += setup.dataset;
        total.open += setup.open;
        total.upload += setup.upload;
        total.index += setup.index;
    }
    Ok(Prepared {
        profile: profile.clone(),
        name,
        store,
        points: dataset.points.len(),
        query_vectors: dataset.queries,
        truth: dataset.truth,
        setup,
    })
}

impl Prepared {
    /// Every held-out query as a search with these parameters.
    pub fn queries(&self, k: usize, ef: Option<usize>, exact: bool) -> Vec<Query> {
        fixture::queries(&self.query_vectors, k, ef)
            .into_iter()
            .map(|q| Query { exact, ..q })
            .collect()
    }

    /// Mean recall@k of `queries` (untimed, one pass over all of them).
    pub fn recall(&self, queries: &[Query], k: usize) -> f64 {
        let rt = runtime();
        let results: Vec<Vec<u64>> = queries
            .iter()
            .map(|q| {
                rt.block_on(self.store.search(&self.name, q))
                    .unwrap_or_else(|e| fail(e))
                    .hits
                    .iter()
                    .map(|h| h.id)
                    .collect()
            })
            .collect();
        mean_recall(results.iter().map(Vec::as_slice), |i| self.truth.ids(i), k)
    }
}

/// Prints the setup time of the whole run (the figure a second, cached run should shrink).
pub fn print_setup_summary() {
    let total = *SETUP_TOTAL.lock().expect("lock");
    if total.total() > 0.0 {
        eprintln!(
            "setup of this run: {:.2} s (datasets {:.2} s, open {:.2} s, upload {:.2} s, index {:.2} s)",
            total.total(),
            total.dataset,
            total.open,
            total.upload,
            total.index
        );
    }
}
