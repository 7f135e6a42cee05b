//! Puts the collections of a load run in place, the way the benches do (`benches/common`):
//! dataset from the cache (or generated with exact ground truth), collection created and
//! uploaded through the one fixture, waited on until indexed, then reused by later runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use qdrant_perf_data::{
    Dataset, DatasetCache, DatasetSpec, LoadedFrom, Metric, MetricWanted, UserData,
};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH};
use qdrant_perf_store::readonly::ReadOnlyWorkload;
use qdrant_perf_store::{AnyStore, CollectionSpec, Guard, HnswParams, ServerConfig, Store};

use crate::driver::LoadError;
use crate::target::StoreCollection;

/// A collection to prepare.
#[derive(Clone, Debug)]
pub struct CollectionChoice {
    pub name: String,
    pub vector_size: usize,
    pub metric: Metric,
    pub hnsw: HnswParams,
    /// Queries per second this collection gets in a multi-collection run.
    pub qps: f64,
}

/// Sizes and where to run.
#[derive(Clone, Debug)]
pub struct SetupOptions {
    pub points: usize,
    pub queries: usize,
    /// Top-k of each search (recall is measured at this depth).
    pub k: usize,
    pub ef: usize,
    /// `None`: the embedded engine.
    pub server: Option<ServerConfig>,
    pub cache: DatasetCache,
    /// The run writes (upserts): on the embedded engine the collections are then built in a
    /// scratch directory, so the cached indexes the benches reuse are never changed.
    pub writes: bool,
    pub quiet: bool,
    /// Collections of the server to measure as they are (`--read-only`), by their own name:
    /// queries drawn from the collection, truth from the server's exact search, nothing
    /// created, written or dropped (the guard refuses it anyway: the names lack the prefix).
    pub read_only: Vec<String>,
    /// A user's own dataset (`--dataset`) instead of generated vectors; `points` and `queries`
    /// then do not apply.
    pub dataset: Option<Arc<UserData>>,
}

/// Errors unless every collection has the user dataset's dimension; the message names the
/// dataset's dimension, the collections that differ and the collections of the run's config
/// (`all`) that have it.
pub fn check_dataset_dims(
    user: &UserData,
    run: &[(String, usize)],
    all: &[(String, usize)],
) -> Result<(), LoadError> {
    let dim = user.dim();
    let differ: Vec<String> = run
        .iter()
        .filter(|(_, d)| *d != dim)
        .map(|(n, d)| format!("{n} ({d}d)"))
        .collect();
    if differ.is_empty() {
        return Ok(());
    }
    let fitting: Vec<&str> = all
        .iter()
        .filter(|(_, d)| *d == dim)
        .map(|(n, _)| n.as_str())
        .collect();
    Err(LoadError::Invalid {
        what: "dataset",
        value: user.path().display().to_string(),
        fix: format!(
            "its vectors have dimension {dim}, but collection(s) {} differ; {}",
            differ.join(", "),
            if fitting.is_empty() {
                format!(
                    "no collection of this run has dimension {dim}: use a dataset of the collections' dimension"
                )
            } else {
                format!(
                    "collections of dimension {dim}: {}; run only those (--collections {})",
                    fitting.join(", "),
                    fitting.join(",")
                )
            }
        ),
    })
}

/// Collections ready for a run, and what it took.
pub struct Prepared {
    pub collections: Vec<StoreCollection<AnyStore>>,
    /// `qdrant-edge 0.7.2` or `qdrant 1.17.1`.
    pub engine_version: String,
    /// `edge`, `grpc` or `rest`.
    pub engine: String,
    /// One line per collection: where its data came from and how long each step took.
    pub notes: Vec<String>,
    /// Each collection's dataset (hash and parameters), for the report's provenance.
    pub datasets: Vec<qdrant_perf_report::DatasetInfo>,
    /// Server collections this run created (dropped by [`Prepared::cleanup`]).
    created: Vec<(Arc<AnyStore>, String)>,
}

impl Prepared {
    /// Takes over the collections (and clean-up duties) of another preparation.
    pub fn absorb(&mut self, other: Prepared) {
        let mut other = other;
        self.collections.append(&mut other.collections);
        self.notes.append(&mut other.notes);
        self.datasets.append(&mut other.datasets);
        self.created.append(&mut other.created);
        self.engine = other.engine.clone();
        self.engine_version = other.engine_version.clone();
    }

    /// Lets go of the collections (a scratch store deletes its directory once the last run
    /// holding it is done), and drops the server collections this run created unless
    /// `QDRANT_PERF_KEEP=1`. Returns what it did, for the log.
    pub async fn cleanup(&mut self) -> Vec<String> {
        let mut done = Vec::new();
        self.collections.clear();
        let keep = std::env::var("QDRANT_PERF_KEEP").is_ok_and(|v| v == "1");
        for (store, name) in self.created.drain(..) {
            if keep {
                done.push(format!("kept {name} (QDRANT_PERF_KEEP=1)"));
            } else {
                match store.drop_owned(&name).await {
                    Ok(()) => done.push(format!("dropped {name}")),
                    Err(e) => done.push(format!("warning: could not drop {name}: {e}")),
                }
            }
        }
        done
    }
}

/// Prepares every collection of `choices` (each at `opts.points` points) and returns them with
/// their held-out queries and exact ground truth. When one fails, the server collections this
/// call created before it are dropped before the error is returned.
pub async fn prepare(
    choices: &[CollectionChoice],
    opts: &SetupOptions,
) -> Result<Prepared, LoadError> {
    let guard = Guard::default();
    let server_store = match &opts.server {
        Some(config) => Some(Arc::new(AnyStore::connect(config, guard.clone()).await?)),
        None => None,
    };
    let mut prepared = Prepared {
        collections: Vec::new(),
        engine_version: String::new(),
        engine: String::new(),
        notes: Vec::new(),
        datasets: Vec::new(),
        created: Vec::new(),
    };
    if let Some(user) = &opts.dataset {
        let run: Vec<(String, usize)> = choices
            .iter()
            .map(|c| (c.name.clone(), c.vector_size))
            .collect();
        check_dataset_dims(user, &run, &run)?;
    }
    let mut edge_stores = HashMap::new();
    for choice in choices {
        let one = prepare_one(
            choice,
            opts,
            &guard,
            server_store.as_ref(),
            &mut edge_stores,
            &mut prepared,
        )
        .await;
        if let Err(e) = one {
            for line in prepared.cleanup().await {
                eprintln!("{line}");
            }
            return Err(e);
        }
    }
    Ok(prepared)
}

/// Puts one collection in place and adds it (and, when this run created it on a server, the
/// duty to drop it) to `prepared`.
async fn prepare_one(
    choice: &CollectionChoice,
    opts: &SetupOptions,
    guard: &Guard,
    server_store: Option<&Arc<AnyStore>>,
    edge_stores: &mut HashMap<PathBuf, Arc<AnyStore>>,
    prepared: &mut Prepared,
) -> Result<(), LoadError> {
    if opts.read_only.contains(&choice.name) {
        return prepare_read_only(choice, opts, server_store, prepared).await;
    }
    let as_dataset_error = |source| LoadError::Dataset {
        collection: choice.name.clone(),
        source,
    };
    let dataset = match &opts.dataset {
        Some(user) => {
            let wanted = MetricWanted::new(choice.metric, format!("collection `{}`", choice.name));
            let d = user
                .dataset(Some(&wanted), opts.k.max(100))
                .map_err(as_dataset_error)?;
            d.check_fits(&choice.name, choice.vector_size)
                .map_err(as_dataset_error)?;
            d
        }
        None => {
            let spec = DatasetSpec::new(choice.vector_size, opts.points)
                .with_queries(opts.queries)
                .with_metric(choice.metric);
            Dataset::load_or_generate(&spec, &opts.cache).map_err(as_dataset_error)?
        }
    };
    let spec = dataset.spec.clone();
    if matches!(dataset.loaded_from, LoadedFrom::User(_)) {
        let line = format!("{}: {}", choice.name, dataset.describe());
        if !opts.quiet {
            eprintln!("{line}");
        }
        prepared.notes.push(line);
    }
    let store = match server_store {
        Some(s) => s.clone(),
        None => {
            let root = if opts.writes {
                dataset
                    .dir
                    .join(format!("edge-scratch-{}", std::process::id()))
            } else {
                dataset.dir.join("edge")
            };
            match edge_stores.get(&root) {
                Some(s) => s.clone(),
                None => {
                    let s = Arc::new(if opts.writes {
                        AnyStore::edge_scratch(&root, guard.clone())?
                    } else {
                        AnyStore::edge(&root, guard.clone())?
                    });
                    edge_stores.insert(root, s.clone());
                    s
                }
            }
        }
    };
    prepared.engine_version = store.engine_version();
    prepared.engine = store.engine().name().to_string();
    let name = guard.name_for(&choice.name);
    let collection =
        CollectionSpec::new(name.clone(), choice.vector_size, choice.metric).with_hnsw(choice.hnsw);
    let loaded = fixture::load_dataset(&*store, &collection, &dataset, DEFAULT_BATCH)
        .await
        .map_err(|source| LoadError::Setup {
            collection: name.clone(),
            source,
        })?;
    if !loaded.reused && opts.server.is_some() {
        prepared.created.push((store.clone(), name.clone()));
    }
    let dataset_s = match dataset.loaded_from {
        LoadedFrom::Cache { seconds } | LoadedFrom::Generated { seconds } => seconds,
        LoadedFrom::Files => 0.0,
        LoadedFrom::User(ref u) => u.seconds,
    };
    let note = format!(
        "{name}: {} points x {} dims, {} held-out queries, {}; dataset {:.1} s ({}), collection {} ({:.1} s open, {:.1} s upload, {:.1} s index; {} segments)",
        dataset.points.len(),
        choice.vector_size,
        dataset.queries.len(),
        dataset.describe_hardness(),
        dataset_s,
        match dataset.loaded_from {
            LoadedFrom::Cache { .. } => "cached",
            LoadedFrom::User(_) => "the user's files",
            _ => "generated",
        },
        if loaded.reused { "reused" } else { "built" },
        loaded.open_seconds,
        loaded.upload_seconds,
        loaded.index.seconds,
        loaded.index.segments
    );
    if !opts.quiet {
        eprintln!("{note}");
    }
    prepared.notes.push(note);
    let mut parameters = serde_json::to_value(&spec).unwrap_or_default();
    if let Ok(h) = dataset.hardness() {
        parameters["hardness"] = serde_json::to_value(h).unwrap_or_default();
    }
    prepared.datasets.push(qdrant_perf_report::DatasetInfo {
        collection: choice.name.clone(),
        hash: spec.hash(),
        parameters,
    });
    let queries = fixture::queries(&dataset.queries, opts.k, Some(opts.ef));
    let points = opts.writes.then(|| Arc::new(dataset.points));
    let mut c = StoreCollection::new(
        choice.name.clone(),
        name,
        store,
        queries,
        dataset.truth,
        choice.qps,
    );
    if let Some(p) = points {
        c = c.with_points(p);
    }
    prepared.collections.push(c);
    Ok(())
}

/// Puts a collection of the server in place as it is: queries drawn from it, truth from the
/// server's exact search, its state (points, indexed vectors, status) in the notes and the
/// provenance. Nothing is created, written or dropped, and it is never in the clean-up list.
async fn prepare_read_only(
    choice: &CollectionChoice,
    opts: &SetupOptions,
    server_store: Option<&Arc<AnyStore>>,
    prepared: &mut Prepared,
) -> Result<(), LoadError> {
    let Some(store) = server_store else {
        return Err(LoadError::Invalid {
            what: "--read-only",
            value: choice.name.clone(),
            fix: "read-only runs measure an existing collection of a Qdrant server: give \
                  --target URL (e.g. grpc://127.0.0.1:6334)"
                .into(),
        });
    };
    let w = ReadOnlyWorkload::prepare(store, &choice.name, opts.queries, opts.k, Some(opts.ef))
        .await
        .map_err(|source| LoadError::Setup {
            collection: choice.name.clone(),
            source,
        })?;
    prepared.engine_version = store.engine_version();
    prepared.engine = store.engine().name().to_string();
    let mismatch = if w.dim != choice.vector_size {
        format!(
            " (the config says {} dims; the collection's own {} are used)",
            choice.vector_size, w.dim
        )
    } else {
        String::new()
    };
    let note = format!(
        "{}: read-only, {}; {} dims{mismatch}, {}; {} queries drawn from the collection, truth \
         from the server's exact search; nothing created, written or dropped",
        choice.name,
        w.describe_state(),
        w.dim,
        w.metric.name(),
        w.queries.len(),
    );
    if !opts.quiet {
        eprintln!("{note}");
    }
    prepared.notes.push(note);
    let mut parameters = w.state_json();
    parameters["read_only"] = serde_json::Value::Bool(true);
    parameters["queries"] = w.queries.len().into();
    prepared.datasets.push(qdrant_perf_report::DatasetInfo {
        collection: choice.name.clone(),
        hash: "read-only".into(),
        parameters,
    });
    prepared.collections.push(StoreCollection::read_only(
        choice.name.clone(),
        store.clone(),
        w,
        choice.qps,
    ));
    Ok(())
}
