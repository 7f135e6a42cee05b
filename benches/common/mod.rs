//! Shared setup of the criterion suites: which collections to run, their datasets and built
//! collections (cached on disk), and the lines each suite prints beside criterion's figures.
//! The collections are put in place by `qdrant_perf_load::setup::put_in_place`, the one setup
//! path the load runs use too.
//!
//! Environment:
//! - `QDRANT_PERF_POINTS`: stored vectors per collection (default 20,000; the deployment tests
//!   with 1,000,000, which needs minutes per collection to build on 2 cores);
//! - `QDRANT_PERF_QUERIES`: held-out queries per dataset (default 1,000);
//! - `QDRANT_PERF_COLLECTIONS`: `dims` (default: one collection per distinct dimension), `all`,
//!   or a comma-separated list of profile names from fixtures/collections.json;
//! - `QDRANT_PERF_DATASET`: a user's own dataset instead of a generated one (an ann-benchmarks
//!   `.hdf5` file, or a directory of `.npy`, VectorDBBench Parquet or `.fbin`/`.u8bin`/`.i8bin`/
//!   `.fvecs`/`.bvecs` files); only collections of its dimension run (the default selection
//!   keeps those, an explicit QDRANT_PERF_COLLECTIONS of another dimension is an error);
//!   its shipped neighbours are used only when they agree with the exact truth, else the exact
//!   truth is; `QDRANT_PERF_KEEP_SHIPPED_TRUTH=1` keeps them anyway (recall is then against
//!   unverified truth, and the dataset line says so);
//! - `QDRANT_PERF_CACHE_DIR`: where datasets and built indexes are cached
//!   (default `target/qdrant-perf`);
//! - `QDRANT_URL` (+ `QDRANT_API_KEY`): run against a Qdrant server or cluster instead of the
//!   embedded engine (see `qdrant_perf_store::remote` for the URL rule); the suite creates
//!   `perf_<collection>`, waits until it is indexed, measures, and drops it at the end unless
//!   `QDRANT_PERF_KEEP=1`. A `perf_` collection that already holds the dataset is reused and kept.

#![allow(dead_code)] // each bench uses its own part of the fixture

pub mod summary;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use qdrant_perf_data::{
    Dataset, DatasetCache, DatasetSpec, GroundTruth, KEEP_SHIPPED_TRUTH_VAR, LoadedFrom, UserData,
    Vectors, mean_recall,
};
use qdrant_perf_load::resources::process_cpu_seconds;
use qdrant_perf_load::setup::{
    CollectionChoice, DatasetSource, PlacedCollection, SetupSeconds, Stores, put_in_place,
};
use qdrant_perf_load::target::error_chain;
use qdrant_perf_report::bench::{BenchSetup, QualityRecord, SearchMode};
use qdrant_perf_store::fixture;
use qdrant_perf_store::{AnyStore, CollectionProfile, Profiles, Query, ServerConfig, Store};

pub const DEFAULT_POINTS: usize = 20_000;
pub const DEFAULT_QUERIES: usize = 1_000;

/// Reads a positive integer from the environment, or exits with a message naming the variable.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => match v.trim().replace('_', "").parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!(
                    "error: {name}={v:?} is not a positive whole number (example: {name}={default})"
                );
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
    select_profiles("dims")
}

/// The profiles of `QDRANT_PERF_COLLECTIONS` (else of `default`), with `QDRANT_PERF_DATASET`
/// only those of the dataset's dimension: the default selection is narrowed to them, an
/// explicit one that names a collection of another dimension is an error.
pub fn select_profiles(default: &str) -> Vec<CollectionProfile> {
    let explicit = std::env::var("QDRANT_PERF_COLLECTIONS")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let selection = explicit.clone().unwrap_or_else(|| default.into());
    let selected: Vec<CollectionProfile> = PROFILES
        .select(&selection)
        .unwrap_or_else(|e| fail(format!("QDRANT_PERF_COLLECTIONS: {e}")))
        .into_iter()
        .cloned()
        .collect();
    match USER_DATA.as_ref() {
        None => selected,
        Some(user) => fit_profiles(user, selected, explicit.is_some()),
    }
}

/// The profiles of `selected` that a user dataset can run as; see [`select_profiles`].
fn fit_profiles(
    user: &UserData,
    selected: Vec<CollectionProfile>,
    explicit: bool,
) -> Vec<CollectionProfile> {
    let dim = user.dim();
    let of_dim: Vec<&str> = PROFILES
        .collections
        .iter()
        .filter(|p| p.vector_size == dim)
        .map(|p| p.name.as_str())
        .collect();
    let others: Vec<String> = selected
        .iter()
        .filter(|p| p.vector_size != dim)
        .map(|p| format!("{} ({}d)", p.name, p.vector_size))
        .collect();
    let fitting: Vec<CollectionProfile> = selected
        .into_iter()
        .filter(|p| p.vector_size == dim)
        .collect();
    let have = if of_dim.is_empty() {
        "no bundled collection profile has that dimension".to_string()
    } else {
        format!(
            "collections of that dimension: {}; set QDRANT_PERF_COLLECTIONS={}",
            of_dim.join(", "),
            of_dim.join(",")
        )
    };
    if (explicit && !others.is_empty()) || fitting.is_empty() {
        fail(format!(
            "QDRANT_PERF_DATASET {} has dimension {dim}, but the run selects {}; {have}",
            user.path().display(),
            if others.is_empty() {
                "no collection".to_string()
            } else {
                others.join(", ")
            }
        ));
    }
    fitting
}

/// `QDRANT_PERF_DATASET`, read and checked once (exits with the error when it is bad).
pub static USER_DATA: LazyLock<Option<UserData>> = LazyLock::new(|| {
    let path = std::env::var_os("QDRANT_PERF_DATASET").filter(|p| !p.is_empty())?;
    let keep = match std::env::var(KEEP_SHIPPED_TRUTH_VAR) {
        Err(_) => false,
        Ok(v) => match v.trim() {
            "" | "0" | "false" | "no" => false,
            "1" | "true" | "yes" => true,
            _ => fail(format!(
                "{KEEP_SHIPPED_TRUTH_VAR}={v:?}: set it to 1 to keep QDRANT_PERF_DATASET's \
                 shipped truth where it disagrees with the exact truth, or unset it"
            )),
        },
    };
    let user = UserData::read(Path::new(&path), &cache())
        .unwrap_or_else(|e| fail(format!("QDRANT_PERF_DATASET: {e}")))
        .keep_shipped_truth(keep);
    Some(user)
});

/// Where this run's vectors come from: `QDRANT_PERF_DATASET`, else datasets generated at
/// `QDRANT_PERF_POINTS` / `QDRANT_PERF_QUERIES` through the cache.
pub static SOURCE: LazyLock<DatasetSource<'static>> = LazyLock::new(|| DatasetSource {
    points: points(),
    queries: queries(),
    cache: cache(),
    user: USER_DATA.as_ref(),
    k: PROFILES.search.k,
});

/// A profile as the collection the shared setup puts in place (with the file's index defaults).
pub fn choice_of(profile: &CollectionProfile) -> CollectionChoice {
    CollectionChoice::from_profile(profile, PROFILES.index)
}

/// The dataset a profile runs on: `QDRANT_PERF_DATASET` under the profile's metric (a file
/// that states another is an error naming both), else the generated one at this run's size.
pub fn dataset_for(profile: &CollectionProfile) -> Dataset {
    SOURCE
        .dataset(&choice_of(profile))
        .unwrap_or_else(|e| fail(e))
}

/// The dataset of a profile at this run's size.
pub fn dataset_spec(profile: &CollectionProfile) -> DatasetSpec {
    SOURCE.spec(&choice_of(profile))
}

/// A collection of a profile, loaded into the embedded engine and indexed, with its held-out
/// queries and their exact neighbours (the stored points themselves are not kept in memory).
pub struct BenchCollection {
    pub profile: CollectionProfile,
    pub name: String,
    pub store: Arc<AnyStore>,
    /// True when this run created the collection (so it drops it at the end, on a server).
    pub created: bool,
    pub query_vectors: Vectors,
    pub truth: GroundTruth,
    pub points: usize,
    pub setup: SetupSeconds,
    /// How Qdrant answers an unfiltered approximate search here: through the graph, or by a
    /// plain scan when the segments are below its full_scan_threshold.
    pub mode: SearchMode,
}

static PREPARED: LazyLock<Mutex<HashMap<String, Arc<BenchCollection>>>> =
    LazyLock::new(Default::default);
/// Seconds spent before measuring, by step, over the whole run.
static SETUP_TOTAL: LazyLock<Mutex<SetupSeconds>> = LazyLock::new(Default::default);

/// The one runtime of a bench process: server clients keep background tasks on the runtime that
/// made them, so setup, measurement and clean-up all run on this one.
pub static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
});

/// The server this run measures (`QDRANT_URL`), if any.
pub static SERVER: LazyLock<Option<ServerConfig>> =
    LazyLock::new(|| ServerConfig::from_env(None).unwrap_or_else(|e| fail(e)));

/// The stores of this run: one connection to [`SERVER`], or the embedded engine beside each
/// dataset (its built indexes are the on-disk cache).
static STORES: LazyLock<Mutex<Stores>> = LazyLock::new(|| {
    let stores = RT.block_on(Stores::open(SERVER.as_ref(), false));
    Mutex::new(stores.unwrap_or_else(|e| fail(error_chain(&e))))
});

/// `edge`, `grpc` or `rest`: the engine this run measures.
pub fn engine_name() -> &'static str {
    match SERVER.as_ref().map(|c| c.api) {
        None => "edge",
        Some(qdrant_perf_store::Api::Grpc) => "grpc",
        Some(qdrant_perf_store::Api::Rest) => "rest",
    }
}

/// The criterion function name of a collection: the profile name on the embedded engine (the
/// default), `<profile>@grpc` / `<profile>@rest` on a server, so baselines never mix engines.
pub fn bench_name(profile: &CollectionProfile) -> String {
    match engine_name() {
        "edge" => profile.name.clone(),
        engine => format!("{}@{engine}", profile.name),
    }
}

/// The prepared collection of `profile`, made on first use (so collections that criterion's
/// filter skips are never built) and cached for the rest of the run.
pub fn prepared(profile: &CollectionProfile) -> Arc<BenchCollection> {
    let mut map = PREPARED.lock().expect("lock");
    if let Some(p) = map.get(&profile.name) {
        return p.clone();
    }
    let p = Arc::new(prepare(profile).unwrap_or_else(|e| fail(error_chain(&e))));
    map.insert(profile.name.clone(), p.clone());
    p
}

/// The prepared collection of `profile` if this run made it (criterion's filter may have
/// skipped it).
pub fn prepared_if_any(profile: &CollectionProfile) -> Option<Arc<BenchCollection>> {
    PREPARED.lock().expect("lock").get(&profile.name).cloned()
}

/// Puts the collection of `profile` in place (the shared setup), then says how long it took,
/// whether Qdrant will answer by a plain scan, and adds the seconds to the run's total.
fn prepare(
    profile: &CollectionProfile,
) -> Result<BenchCollection, qdrant_perf_load::driver::LoadError> {
    let placed = {
        let mut stores = STORES.lock().expect("lock");
        RT.block_on(put_in_place(
            &choice_of(profile),
            &SOURCE,
            &mut stores,
            |dataset| eprintln!("{}", dataset.describe()),
        ))?
    };
    let PlacedCollection {
        dataset,
        store,
        name,
        spec: collection,
        loaded,
        seconds: setup,
    } = placed;
    eprintln!(
        "setup of {name} on {}: dataset {:.2} s ({}), open {:.2} s, upload {:.2} s, index {:.2} s ({}; {} points in {} segments) = {:.2} s",
        store.engine_version(),
        setup.dataset,
        match dataset.loaded_from {
            LoadedFrom::Cache { .. } => "from cache",
            LoadedFrom::User(_) => "the user's files",
            _ => "generated",
        },
        setup.open,
        setup.upload,
        setup.index,
        if loaded.reused { "reused" } else { "built" },
        loaded.index.indexed_vectors,
        loaded.index.segments,
        setup.total()
    );
    // Qdrant answers an unfiltered search by a plain scan when a segment holds fewer vectors
    // than full_scan_threshold (KB) covers: say so rather than call a scan "hnsw".
    // The engine keeps an empty appendable segment beside the built ones, so count the
    // segments that hold a graph where the files can be seen (the embedded engine).
    let scan_below = PROFILES.index.full_scan_threshold * 1024 / (profile.vector_size * 4);
    let segments = qdrant_perf_tune::sweep::graph_segments(&store, &collection)
        .filter(|&n| n > 0)
        .unwrap_or(loaded.index.segments)
        .max(1);
    let per_segment = loaded.index.points / segments;
    let plain_scan = per_segment < scan_below;
    if plain_scan {
        eprintln!(
            "note: {name} has about {per_segment} points per segment, below Qdrant's \
             full_scan_threshold of {scan_below} points at {} dimensions: Qdrant answers these \
             searches by a plain scan, as it would in production at this size. Raise \
             QDRANT_PERF_POINTS (to {} or more) to measure the HNSW graph.",
            profile.vector_size,
            scan_below * segments * 2
        );
    }
    *SETUP_TOTAL.lock().expect("lock") += setup;
    Ok(BenchCollection {
        profile: profile.clone(),
        name,
        store,
        created: !loaded.reused,
        points: dataset.points.len(),
        query_vectors: dataset.queries,
        truth: dataset.truth,
        setup,
        mode: if plain_scan {
            SearchMode::PlainScan
        } else {
            SearchMode::Hnsw
        },
    })
}

impl BenchCollection {
    /// Every held-out query as a search with these parameters.
    pub fn queries(&self, k: usize, ef: Option<usize>, exact: bool) -> Vec<Query> {
        fixture::queries(&self.query_vectors, k, ef)
            .into_iter()
            .map(|q| Query { exact, ..q })
            .collect()
    }

    /// The quality record of benchmark `group/function/value` on this collection: its setup
    /// (points, dimension, index parameters, seconds), engine and search mode; the caller adds
    /// what it measured.
    pub fn quality(&self, group: &str, function: &str, value: &str) -> QualityRecord {
        QualityRecord::new(group, Some(function), Some(value))
            .with_mode(self.mode)
            .with_setup(BenchSetup {
                points: Some(self.points),
                dim: Some(self.profile.vector_size),
                m: Some(PROFILES.index.hnsw_m),
                ef_construct: Some(PROFILES.index.hnsw_ef_construct),
                build_seconds: Some(self.setup.index),
                setup_seconds: Some(self.setup.total()),
                ..BenchSetup::default()
            })
            .with_engine(self.store.engine_version())
    }

    /// One untimed pass over `queries`: mean recall@k and, on a server, the mean server time
    /// beside the mean client time (the gap is network, serialisation and client).
    pub fn check(&self, queries: &[Query], k: usize) -> Check {
        let mut server = 0.0;
        let mut server_n = 0usize;
        let cpu_started = process_cpu_seconds();
        let started = std::time::Instant::now();
        let results: Vec<Vec<u64>> = queries
            .iter()
            .map(|q| {
                let r = RT
                    .block_on(self.store.search(&self.name, q))
                    .unwrap_or_else(|e| fail(e));
                if let Some(s) = r.server_seconds {
                    server += s;
                    server_n += 1;
                }
                r.hits.iter().map(|h| h.id).collect()
            })
            .collect();
        let client = started.elapsed().as_secs_f64() / queries.len().max(1) as f64;
        let cpu = match (cpu_started, process_cpu_seconds()) {
            (Some(a), Some(b)) => Some((b - a) / queries.len().max(1) as f64),
            _ => None,
        };
        Check {
            recall: mean_recall(results.iter().map(Vec::as_slice), |i| self.truth.ids(i), k),
            queries: queries.len(),
            client_ms: client * 1e3,
            server_ms: (server_n > 0).then(|| server / server_n as f64 * 1e3),
            cpu_us: cpu.map(|c| c * 1e6),
        }
    }
}

/// What an untimed pass over the queries found.
pub struct Check {
    pub recall: f64,
    pub queries: usize,
    pub client_ms: f64,
    pub server_ms: Option<f64>,
    /// CPU time of this process per query: the engine's and client's work on the embedded
    /// engine, the client's alone against a server (`None` where /proc cannot be read).
    pub cpu_us: Option<f64>,
}

impl Check {
    /// `recall@10 = 0.9870 over 1000 held-out queries` (+ server vs client time on a server).
    pub fn describe(&self, k: usize) -> String {
        let mut s = format!(
            "recall@{k} = {:.4} over {} held-out queries",
            self.recall, self.queries
        );
        let cpu = |label: &str| match self.cpu_us {
            Some(us) => format!("{label} {us:.0} us/query"),
            None => String::new(),
        };
        if let Some(server) = self.server_ms {
            s.push_str(&format!(
                "; mean server time {server:.3} ms vs client {:.3} ms{}",
                self.client_ms,
                cpu("; client CPU")
            ));
        } else {
            s.push_str(&format!("; mean {:.3} ms{}", self.client_ms, cpu(", CPU")));
        }
        s
    }
}

/// Drops the server collections this run created, unless `QDRANT_PERF_KEEP=1`. (Collections of
/// the embedded engine are the on-disk cache and stay.)
pub fn cleanup() {
    if SERVER.is_none() {
        return;
    }
    let keep = std::env::var("QDRANT_PERF_KEEP").is_ok_and(|v| v == "1");
    let prepared: Vec<Arc<BenchCollection>> =
        PREPARED.lock().expect("lock").values().cloned().collect();
    for p in prepared.iter().filter(|p| p.created) {
        if keep {
            eprintln!("kept {} (QDRANT_PERF_KEEP=1)", p.name);
        } else {
            match RT.block_on(p.store.drop_owned(&p.name)) {
                Ok(()) => eprintln!("dropped {}", p.name),
                Err(e) => eprintln!("warning: could not drop {}: {e}", p.name),
            }
        }
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
