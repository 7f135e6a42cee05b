//! Puts collections in place for a run: the one setup path of the load runs and of the criterion
//! suites (`benches/common` calls [`put_in_place`] too). The dataset comes from the cache (or is
//! generated with exact ground truth) or from the user's files; the collection is created under
//! the guard's prefix on the server or in the embedded engine beside its dataset, uploaded
//! through the one fixture, waited on until indexed, and reused by later runs.

use std::collections::HashMap;
use std::ops::AddAssign;
use std::path::PathBuf;
use std::sync::Arc;

use qdrant_perf_data::{
    DataError, Dataset, DatasetCache, DatasetSpec, LoadedFrom, Metric, MetricWanted, UserData,
};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH, Loaded};
use qdrant_perf_store::readonly::ReadOnlyWorkload;
use qdrant_perf_store::{
    AnyStore, CollectionProfile, CollectionSpec, Guard, HnswParams, IndexDefaults, ServerConfig,
    Store,
};

use crate::driver::{LoadError, invalid};
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

impl CollectionChoice {
    /// A collection profile of `fixtures/collections.json`, with the file's index defaults.
    pub fn from_profile(profile: &CollectionProfile, index: IndexDefaults) -> Self {
        Self {
            name: profile.name.clone(),
            vector_size: profile.vector_size,
            metric: profile.distance,
            hnsw: index.into(),
            qps: f64::from(profile.query_load),
        }
    }
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
    Err(invalid(
        "dataset",
        user.path().display(),
        format!(
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
    ))
}

/// Where the vectors of a run's collections come from: a user's own dataset, else datasets
/// generated at a size (and kept in the cache for later runs).
#[derive(Clone, Debug)]
pub struct DatasetSource<'a> {
    /// Stored vectors of a generated dataset.
    pub points: usize,
    /// Held-out queries of a generated dataset.
    pub queries: usize,
    /// Where generated datasets, computed truths and the embedded engine's built indexes are kept.
    pub cache: DatasetCache,
    /// A user's own dataset instead of generated vectors (`points` and `queries` then do not
    /// apply).
    pub user: Option<&'a UserData>,
    /// Top-k of the run's searches: the truth goes at least this deep.
    pub k: usize,
}

impl DatasetSource<'_> {
    /// The generated dataset of `choice`: its dimension and metric at this source's size.
    pub fn spec(&self, choice: &CollectionChoice) -> DatasetSpec {
        DatasetSpec::new(choice.vector_size, self.points)
            .with_queries(self.queries)
            .with_metric(choice.metric)
    }

    /// The dataset of `choice`: the user's, under the collection's metric (a file that states
    /// another is an error naming both) and of its dimension, with truth as deep as a generated
    /// one's (and at least `k`); else the generated one, read from the cache when made before.
    pub fn dataset(&self, choice: &CollectionChoice) -> Result<Dataset, DataError> {
        let spec = self.spec(choice);
        let Some(user) = self.user else {
            return Dataset::load_or_generate(&spec, &self.cache);
        };
        let wanted = MetricWanted::new(choice.metric, format!("collection `{}`", choice.name));
        let dataset = user.dataset(Some(&wanted), spec.k.max(self.k))?;
        dataset.check_fits(&choice.name, choice.vector_size)?;
        Ok(dataset)
    }
}

/// The stores a run puts its collections in, all under one guard: its one connection to the
/// server, or an embedded engine beside each dataset, opened once per directory: `edge/`, where
/// built indexes stay for later runs, or (for a run that writes) a scratch directory deleted
/// when the last collection in it is let go, so the cached indexes are never changed.
pub struct Stores {
    guard: Guard,
    server: Option<Arc<AnyStore>>,
    edge: HashMap<PathBuf, Arc<AnyStore>>,
    scratch: bool,
}

impl Stores {
    /// Connects to `server`; without one, the embedded engine (in scratch directories when
    /// `scratch`) is opened when a dataset first needs it.
    pub async fn open(server: Option<&ServerConfig>, scratch: bool) -> Result<Self, LoadError> {
        let guard = Guard::default();
        let server = match server {
            Some(config) => Some(Arc::new(AnyStore::connect(config, guard.clone()).await?)),
            None => None,
        };
        Ok(Self {
            guard,
            server,
            edge: HashMap::new(),
            scratch,
        })
    }

    /// The store the collection of `dataset` goes in.
    fn for_dataset(&mut self, dataset: &Dataset) -> Result<Arc<AnyStore>, LoadError> {
        if let Some(server) = &self.server {
            return Ok(server.clone());
        }
        let root = if self.scratch {
            dataset
                .dir
                .join(format!("edge-scratch-{}", std::process::id()))
        } else {
            dataset.dir.join("edge")
        };
        if let Some(store) = self.edge.get(&root) {
            return Ok(store.clone());
        }
        let store = Arc::new(if self.scratch {
            AnyStore::edge_scratch(&root, self.guard.clone())?
        } else {
            AnyStore::edge(&root, self.guard.clone())?
        });
        self.edge.insert(root, store.clone());
        Ok(store)
    }
}

/// Seconds spent putting a collection (or, added up, a run's collections) in place, by step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SetupSeconds {
    /// Generating the dataset, reading it from the cache or reading the user's files.
    pub dataset: f64,
    /// Creating the collection, or opening the existing one (the embedded engine loads a
    /// cached index here).
    pub open: f64,
    pub upload: f64,
    /// Waiting until the collection is indexed.
    pub index: f64,
}

impl SetupSeconds {
    pub fn total(&self) -> f64 {
        self.dataset + self.open + self.upload + self.index
    }
}

impl AddAssign for SetupSeconds {
    fn add_assign(&mut self, other: Self) {
        self.dataset += other.dataset;
        self.open += other.open;
        self.upload += other.upload;
        self.index += other.index;
    }
}

/// A collection [`put_in_place`]: loaded, indexed, ready to measure.
pub struct PlacedCollection {
    /// Its dataset: the stored points, the held-out queries and their exact truth.
    pub dataset: Dataset,
    pub store: Arc<AnyStore>,
    /// Its name in the store: the guard's prefix and the choice's name (`perf_mixtral`).
    pub name: String,
    /// What it was created with (under `name`).
    pub spec: CollectionSpec,
    /// Whether it was reused, its index state, and the seconds of each step.
    pub loaded: Loaded,
    pub seconds: SetupSeconds,
}

/// Puts the collection of `choice` in place: gets its dataset from `source` (generated through
/// the cache, or the user's files), picks its store from `stores` (the server, or the embedded
/// engine beside the dataset), names it through the guard, loads it with
/// [`fixture::load_dataset`] (a collection that already holds the dataset is reused) and waits
/// until it is indexed. `announce` is called with the dataset as soon as it is ready, before
/// the (long) upload, so the caller can say what it is first.
pub async fn put_in_place(
    choice: &CollectionChoice,
    source: &DatasetSource<'_>,
    stores: &mut Stores,
    announce: impl FnOnce(&Dataset),
) -> Result<PlacedCollection, LoadError> {
    let dataset = source
        .dataset(choice)
        .map_err(|source| LoadError::Dataset {
            collection: choice.name.clone(),
            source,
        })?;
    announce(&dataset);
    let store = stores.for_dataset(&dataset)?;
    let name = stores.guard.name_for(&choice.name);
    let spec =
        CollectionSpec::new(name.clone(), choice.vector_size, choice.metric).with_hnsw(choice.hnsw);
    let loaded = fixture::load_dataset(&*store, &spec, &dataset, DEFAULT_BATCH)
        .await
        .map_err(|e| LoadError::setup(&name, e))?;
    let seconds = SetupSeconds {
        dataset: match &dataset.loaded_from {
            LoadedFrom::Cache { seconds } | LoadedFrom::Generated { seconds } => *seconds,
            LoadedFrom::User(u) => u.seconds,
        },
        open: loaded.open_seconds,
        upload: loaded.upload_seconds,
        index: loaded.index.seconds,
    };
    Ok(PlacedCollection {
        dataset,
        store,
        name,
        spec,
        loaded,
        seconds,
    })
}

/// Collections ready for a run, and what it took.
#[derive(Default)]
pub struct ReadyCollections {
    pub collections: Vec<StoreCollection<AnyStore>>,
    /// `qdrant-edge 0.7.2` or `qdrant 1.17.1`.
    pub engine_version: String,
    /// `edge`, `grpc` or `rest`.
    pub engine: String,
    /// One line per collection: where its data came from and how long each step took.
    pub notes: Vec<String>,
    /// Each collection's dataset (hash and parameters), for the report's provenance.
    pub datasets: Vec<qdrant_perf_report::DatasetInfo>,
    /// Server collections this run created (dropped by [`ReadyCollections::cleanup`]).
    created: Vec<(Arc<AnyStore>, String)>,
}

impl ReadyCollections {
    /// Takes over the collections (and clean-up duties) of another preparation.
    pub fn absorb(&mut self, mut other: ReadyCollections) {
        self.collections.append(&mut other.collections);
        self.notes.append(&mut other.notes);
        self.datasets.append(&mut other.datasets);
        self.created.append(&mut other.created);
        self.engine = other.engine;
        self.engine_version = other.engine_version;
    }

    /// Says `line` on stderr (unless `quiet`) and keeps it in the notes.
    fn note(&mut self, quiet: bool, line: String) {
        if !quiet {
            eprintln!("{line}");
        }
        self.notes.push(line);
    }

    /// Lets go of the collections (a scratch store deletes its directory once the last run
    /// holding it is done), and drops the server collections this run created unless
    /// `QDRANT_PERF_KEEP=1`. Returns what it did, for the log.
    pub async fn cleanup(&mut self) -> Vec<String> {
        let mut done = Vec::new();
        self.collections.clear();
        for (store, name) in self.created.drain(..) {
            done.push(drop_unless_kept(&store, &name).await);
        }
        done
    }
}

/// Drops the collection `name` this run created on `store`, unless `QDRANT_PERF_KEEP=1`;
/// returns what it did, for the log.
pub(crate) async fn drop_unless_kept<S: Store>(store: &S, name: &str) -> String {
    if std::env::var("QDRANT_PERF_KEEP").is_ok_and(|v| v == "1") {
        return format!("kept {name} (QDRANT_PERF_KEEP=1)");
    }
    match store.drop_owned(name).await {
        Ok(()) => format!("dropped {name}"),
        Err(e) => format!("warning: could not drop {name}: {e}"),
    }
}

/// Prepares every collection of `choices` (each at `opts.points` points) and returns them with
/// their held-out queries and exact ground truth. When one fails, the server collections this
/// call created before it are dropped before the error is returned.
pub async fn prepare(
    choices: &[CollectionChoice],
    opts: &SetupOptions,
) -> Result<ReadyCollections, LoadError> {
    let mut stores = Stores::open(opts.server.as_ref(), opts.writes).await?;
    let mut prepared = ReadyCollections::default();
    if let Some(user) = &opts.dataset {
        let run: Vec<(String, usize)> = choices
            .iter()
            .map(|c| (c.name.clone(), c.vector_size))
            .collect();
        check_dataset_dims(user, &run, &run)?;
    }
    for choice in choices {
        if let Err(e) = prepare_one(choice, opts, &mut stores, &mut prepared).await {
            for line in prepared.cleanup().await {
                eprintln!("{line}");
            }
            return Err(e);
        }
    }
    Ok(prepared)
}

/// Puts one collection in place ([`put_in_place`]) and adds it, its notes and provenance (and,
/// when this run created it on a server, the duty to drop it) to `prepared`.
async fn prepare_one(
    choice: &CollectionChoice,
    opts: &SetupOptions,
    stores: &mut Stores,
    prepared: &mut ReadyCollections,
) -> Result<(), LoadError> {
    if opts.read_only.contains(&choice.name) {
        return prepare_read_only(choice, opts, stores.server.as_ref(), prepared).await;
    }
    let source = DatasetSource {
        points: opts.points,
        queries: opts.queries,
        cache: opts.cache.clone(),
        user: opts.dataset.as_deref(),
        k: opts.k,
    };
    let placed = put_in_place(choice, &source, stores, |dataset| {
        if matches!(dataset.loaded_from, LoadedFrom::User(_)) {
            prepared.note(
                opts.quiet,
                format!("{}: {}", choice.name, dataset.describe()),
            );
        }
    })
    .await?;
    let PlacedCollection {
        dataset,
        store,
        name,
        loaded,
        seconds,
        ..
    } = placed;
    prepared.engine_version = store.engine_version();
    prepared.engine = store.engine().name().to_string();
    if !loaded.reused && opts.server.is_some() {
        prepared.created.push((store.clone(), name.clone()));
    }
    let note = format!(
        "{name}: {} points x {} dims, {} held-out queries, {}; dataset {:.1} s ({}), collection {} ({:.1} s open, {:.1} s upload, {:.1} s index; {} segments)",
        dataset.points.len(),
        choice.vector_size,
        dataset.queries.len(),
        dataset.describe_hardness(),
        seconds.dataset,
        match dataset.loaded_from {
            LoadedFrom::Cache { .. } => "cached",
            LoadedFrom::User(_) => "the user's files",
            _ => "generated",
        },
        if loaded.reused { "reused" } else { "built" },
        seconds.open,
        seconds.upload,
        seconds.index,
        loaded.index.segments
    );
    prepared.note(opts.quiet, note);
    let mut parameters = serde_json::to_value(&dataset.spec).unwrap_or_default();
    if let Ok(h) = dataset.hardness() {
        parameters["hardness"] = serde_json::to_value(h).unwrap_or_default();
    }
    prepared.datasets.push(qdrant_perf_report::DatasetInfo {
        collection: choice.name.clone(),
        hash: dataset.spec.hash(),
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
    prepared: &mut ReadyCollections,
) -> Result<(), LoadError> {
    let Some(store) = server_store else {
        return Err(invalid(
            "--read-only",
            &choice.name,
            "read-only runs measure an existing collection of a Qdrant server: give \
             --target URL (e.g. grpc://127.0.0.1:6334)",
        ));
    };
    let w = ReadOnlyWorkload::prepare(store, &choice.name, opts.queries, opts.k, Some(opts.ef))
        .await
        .map_err(|e| LoadError::setup(&choice.name, e))?;
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
    prepared.note(opts.quiet, note);
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
