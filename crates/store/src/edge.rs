//! The embedded engine: the real Qdrant engine in-process, through `qdrant-edge`.
//!
//! Each collection is an `EdgeShard` in `<root>/<name>-<index hash>/`. When a collection's index
//! is built, a marker file (`qdrant-perf.json`, written atomically) records its spec and state;
//! a later `create` with the same spec reloads the built shard instead of starting over. This is
//! how a second `cargo bench` skips upload and index build. A directory without the marker is an
//! interrupted build and is started again.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, RwLock};
use std::time::{Duration, Instant};

use qdrant_edge::{
    CreateIndex, DEFAULT_VECTOR_NAME, EdgeConfig, EdgeOptimizersConfig, EdgeShard,
    EdgeVectorParams, FieldIndexOperations, HnswIndexConfig, NamedQuery, PayloadFieldSchema,
    PayloadSchemaType, PointId, PointInsertOperations, PointOperations, PointStruct,
    QuantizationConfig, QuantizationSearchParams, QueryEnum, SearchParams, SearchRequest,
    UpdateOperation, VectorInternal, WithPayloadInterface,
};
use qdrant_perf_data::Metric;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::filter::{Filter, PayloadIndexKind};
use crate::guard::Guard;
use crate::spec::{
    BatchResponse, CollectionSpec, Created, Engine, Footprint, Hit, INDEXING_THRESHOLD_KB,
    IndexState, Point, Query, SearchResponse, expects_index,
};
use crate::store::Store;

const MARKER: &str = "qdrant-perf.json";

/// The embedded Qdrant engine, one shard per collection under a root directory.
///
/// The engine writes to a collection's files until the collection is closed: [`EdgeStore::close`]
/// (or dropping the store) closes every collection first, and only then deletes the root of a
/// scratch store ([`EdgeStore::remove_root_on_close`]). Delete a store's files only after it is
/// closed. A collection whose final flush fails is reported (an error from `close`, a warning
/// from drop), never a panic.
pub struct EdgeStore {
    root: PathBuf,
    guard: Guard,
    collections: RwLock<HashMap<String, Arc<Collection>>>,
    /// The root is this store's private scratch space: delete it once every collection is closed.
    remove_root: bool,
}

struct Collection {
    shard: EdgeShard,
    spec: CollectionSpec,
    dir: PathBuf,
    rss_at_open: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Marker {
    spec: CollectionSpec,
    state: IndexState,
}

fn engine_error(op: &'static str, collection: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine {
        engine: "qdrant-edge",
        op,
        collection: collection.into(),
        message: e.to_string(),
        node: None,
    }
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn distance(metric: Metric) -> qdrant_edge::Distance {
    match metric {
        Metric::Cosine => qdrant_edge::Distance::Cosine,
        Metric::Dot => qdrant_edge::Distance::Dot,
        Metric::Euclid => qdrant_edge::Distance::Euclid,
    }
}

/// The engine's filter, parsed from Qdrant's REST JSON (the same JSON a server receives).
fn edge_filter(filter: &Filter, collection: &str) -> Result<qdrant_edge::Filter> {
    filter.validate()?;
    serde_json::from_value(filter.to_qdrant_json())
        .map_err(|e| engine_error("translate the filter", collection, e))
}

fn schema_type(kind: PayloadIndexKind) -> PayloadSchemaType {
    match kind {
        PayloadIndexKind::Keyword => PayloadSchemaType::Keyword,
        PayloadIndexKind::Integer => PayloadSchemaType::Integer,
        PayloadIndexKind::Float => PayloadSchemaType::Float,
    }
}

fn edge_config(spec: &CollectionSpec) -> Result<EdgeConfig> {
    let quantization: Option<QuantizationConfig> = spec
        .quantization
        .to_qdrant_json()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| engine_error("configure quantization", &spec.name, e))?;
    let vector = EdgeVectorParams {
        size: spec.dim,
        distance: distance(spec.metric),
        on_disk: Some(spec.on_disk),
        multivector_config: None,
        datatype: None,
        quantization_config: quantization,
        hnsw_config: None,
    };
    let hnsw = HnswIndexConfig {
        m: spec.hnsw.m,
        ef_construct: spec.hnsw.ef_construct,
        full_scan_threshold: spec.hnsw.full_scan_threshold,
        max_indexing_threads: 0,
        on_disk: Some(false),
        payload_m: None,
        inline_storage: None,
    };
    // Index every segment, however small: a benchmark of HNSW must search HNSW.
    let optimizers = EdgeOptimizersConfig {
        indexing_threshold: Some(INDEXING_THRESHOLD_KB),
        default_segment_number: spec.segments,
        ..EdgeOptimizersConfig::default()
    };
    Ok(EdgeConfig::builder()
        .vector(DEFAULT_VECTOR_NAME, vector)
        .hnsw_config(hnsw)
        .optimizers(optimizers)
        .build())
}

/// True for the error Qdrant gives when another process holds a shard's write-ahead log.
fn is_lock_error(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("wouldblock") || m.contains("would block") || m.contains("lock")
}

/// Resident set size of this process, from /proc (Linux); None elsewhere.
fn process_rss() -> Option<u64> {
    qdrant_perf_plumbing::proc::self_sample().map(|s| s.rss_bytes)
}

fn dir_size(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

fn point_id(id: &PointId) -> u64 {
    match id {
        PointId::NumId(n) => *n,
        // The suite only writes numeric ids; a UUID can only come from elsewhere.
        PointId::Uuid(u) => u.as_u64_pair().0,
    }
}

impl EdgeStore {
    /// A store whose collections live under `root` (created if missing), with the default guard.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Self::with_guard(root, Guard::default())
    }

    pub fn with_guard(root: impl Into<PathBuf>, guard: Guard) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io_error(&root, e))?;
        Ok(Self {
            root,
            guard,
            collections: RwLock::new(HashMap::new()),
            remove_root: false,
        })
    }

    /// Makes the root this store's scratch space: [`EdgeStore::close`] (or drop) deletes it and
    /// everything under it, after every collection in it was closed.
    pub fn remove_root_on_close(mut self) -> Self {
        self.remove_root = true;
        self
    }

    /// Closes every collection (the engine flushes each to disk), then deletes the root if it is
    /// scratch space. Returns the first failure; every failure is named.
    pub fn close(mut self) -> Result<()> {
        self.close_all()
    }

    fn close_all(&mut self) -> Result<()> {
        let mut open: Vec<(String, Arc<Collection>)> = match self.collections.get_mut() {
            Ok(map) => map.drain().collect(),
            Err(poisoned) => poisoned.into_inner().drain().collect(),
        };
        open.sort_by(|a, b| a.0.cmp(&b.0));
        let mut first = None;
        for (_, c) in open {
            if let Err(e) = close_collection(c) {
                first.get_or_insert(e);
            }
        }
        if std::mem::take(&mut self.remove_root) {
            match fs::remove_dir_all(&self.root) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    first.get_or_insert(io_error(&self.root, e));
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// The directory a collection of `spec` lives in (its files show what it occupies).
    pub fn collection_dir(&self, spec: &CollectionSpec) -> PathBuf {
        self.dir_for(spec)
    }

    fn dir_for(&self, spec: &CollectionSpec) -> PathBuf {
        self.root
            .join(format!("{}-{}", spec.name, spec.index_hash()))
    }

    fn get(&self, name: &str) -> Result<Arc<Collection>> {
        let map = self.collections.read().expect("collection map lock");
        map.get(name).cloned().ok_or_else(|| {
            let mut known: Vec<String> = map.keys().cloned().collect();
            known.sort();
            StoreError::UnknownCollection {
                name: name.into(),
                known,
            }
        })
    }

    fn check_dim(c: &Collection, actual: usize, what: impl FnOnce() -> String) -> Result<()> {
        if actual != c.spec.dim {
            return Err(StoreError::WrongDimension {
                collection: c.spec.name.clone(),
                expected: c.spec.dim,
                actual,
                what: what(),
            });
        }
        Ok(())
    }

    /// Creates (or reopens) a collection; the synchronous core of [`Store::create`].
    pub fn create_sync(&self, spec: &CollectionSpec) -> Result<Created> {
        self.guard.check(&spec.name, "create")?;
        spec.validate()?;
        if let Some(open) = self.collections.read().expect("lock").get(&spec.name) {
            if open.spec != *spec {
                return Err(StoreError::InvalidSpec {
                    field: "name",
                    value: spec.name.clone(),
                    reason: format!(
                        "a collection of that name is already open with another spec \
                         (dim {}, index {}); drop it first or use another name",
                        open.spec.dim,
                        open.spec.index_hash()
                    ),
                });
            }
            let points = open.shard.info().points_count;
            return Ok(Created::Existing { points });
        }
        let dir = self.dir_for(spec);
        let rss_at_open = process_rss();
        let marker = dir.join(MARKER);
        let (shard, created) = match fs::read(&marker)
            .ok()
            .and_then(|b| serde_json::from_slice::<Marker>(&b).ok())
        {
            Some(m) if m.spec == *spec => match EdgeShard::load(&dir, None) {
                Ok(shard) => {
                    let points = shard.info().points_count;
                    (shard, Created::Existing { points })
                }
                Err(e) if is_lock_error(&e.to_string()) => {
                    // Another process has it open: never delete what someone else is using.
                    return Err(StoreError::InUse { path: dir });
                }
                Err(e) => {
                    eprintln!(
                        "warning: cached index {} could not be loaded ({e}); rebuilding it",
                        dir.display()
                    );
                    fs::remove_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
                    (self.new_shard(spec, &dir)?, Created::New)
                }
            },
            _ => {
                if dir.exists() {
                    // No marker (or a foreign one): an interrupted build of ours. Start again.
                    fs::remove_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
                }
                (self.new_shard(spec, &dir)?, Created::New)
            }
        };
        self.collections.write().expect("lock").insert(
            spec.name.clone(),
            Arc::new(Collection {
                shard,
                spec: spec.clone(),
                dir,
                rss_at_open,
            }),
        );
        Ok(created)
    }

    fn new_shard(&self, spec: &CollectionSpec, dir: &Path) -> Result<EdgeShard> {
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let shard = EdgeShard::new(dir, edge_config(spec)?)
            .map_err(|e| engine_error("create", &spec.name, e))?;
        // Payload indexes before any point: each segment indexes payloads as they arrive, and
        // the optimizer carries the indexed fields into the segments it builds.
        for (field, kind) in &spec.payload_indexes {
            let field_name = field
                .parse()
                .map_err(|_| engine_error("create a payload index", &spec.name, field))?;
            let op = UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(
                CreateIndex {
                    field_name,
                    field_schema: Some(PayloadFieldSchema::FieldType(schema_type(*kind))),
                },
            ));
            shard
                .update(op)
                .map_err(|e| engine_error("create a payload index", &spec.name, e))?;
        }
        Ok(shard)
    }

    /// The payload indexes of an open collection and how many points each covers.
    pub fn payload_index_points(&self, name: &str) -> Result<Vec<(String, usize)>> {
        let c = self.get(name)?;
        let mut out: Vec<(String, usize)> = c
            .shard
            .info()
            .payload_schema
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.points))
            .collect();
        out.sort();
        Ok(out)
    }

    pub fn upsert_sync(&self, name: &str, batch: &[Point]) -> Result<()> {
        self.guard.check(name, "write to")?;
        let c = self.get(name)?;
        for p in batch {
            Self::check_dim(&c, p.vector.len(), || format!("point {}", p.id))?;
        }
        // Any write invalidates a cached build until the next wait_indexed.
        let marker = c.dir.join(MARKER);
        if marker.exists() {
            fs::remove_file(&marker).map_err(|e| io_error(&marker, e))?;
        }
        let points = batch
            .iter()
            .map(|p| {
                let payload = serde_json::Value::Object(p.payload.clone().unwrap_or_default());
                PointStruct::new(p.id, p.vector.clone(), payload).into()
            })
            .collect();
        let op = UpdateOperation::PointOperation(PointOperations::UpsertPoints(
            PointInsertOperations::PointsList(points),
        ));
        c.shard
            .update(op)
            .map_err(|e| engine_error("upsert", name, e))
    }

    pub fn delete_sync(&self, name: &str, ids: &[u64]) -> Result<()> {
        self.guard.check(name, "write to")?;
        let c = self.get(name)?;
        let marker = c.dir.join(MARKER);
        if marker.exists() {
            fs::remove_file(&marker).map_err(|e| io_error(&marker, e))?;
        }
        let op = UpdateOperation::PointOperation(PointOperations::DeletePoints {
            ids: ids.iter().map(|&id| PointId::NumId(id)).collect(),
        });
        c.shard
            .update(op)
            .map_err(|e| engine_error("delete", name, e))
    }

    pub fn wait_indexed_sync(&self, name: &str) -> Result<IndexState> {
        let c = self.get(name)?;
        let started = Instant::now();
        let spinner = qdrant_perf_data::spinner(&format!(
            "building HNSW index of {name} ({} points)",
            c.shard.info().points_count
        ));
        let optimized = c.shard.optimize();
        spinner.finish_and_clear();
        optimized.map_err(|e| engine_error("build the index", name, e))?;
        let info = c.shard.info();
        let state = IndexState {
            points: info.points_count,
            indexed_vectors: info.indexed_vectors_count,
            segments: info.segments_count,
            seconds: started.elapsed().as_secs_f64(),
        };
        if state.indexed_vectors < state.points && expects_index(state.points, c.spec.dim) {
            return Err(StoreError::NotIndexed {
                collection: name.into(),
                state: format!(
                    "{} of {} points indexed in {} segments after optimizing",
                    state.indexed_vectors, state.points, state.segments
                ),
                indexed_vectors: state.indexed_vectors,
            });
        }
        engine_call(|| c.shard.flush())
            .map_err(|message| engine_error("flush the built index", name, message))?;
        let marker = Marker {
            spec: c.spec.clone(),
            state: state.clone(),
        };
        write_atomic(
            &c.dir.join(MARKER),
            &serde_json::to_vec_pretty(&marker).expect("marker serialises"),
        )?;
        Ok(state)
    }

    pub fn search_sync(&self, name: &str, query: &Query) -> Result<Vec<Hit>> {
        let c = self.get(name)?;
        Self::search_in(&c, query)
    }

    fn search_in(c: &Collection, query: &Query) -> Result<Vec<Hit>> {
        Self::check_dim(c, query.vector.len(), || "the query vector".into())?;
        let quantization = (query.rescore.is_some() || query.oversampling.is_some()).then_some(
            QuantizationSearchParams {
                ignore: false,
                rescore: query.rescore,
                oversampling: query.oversampling,
            },
        );
        let request = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery {
                query: VectorInternal::Dense(query.vector.clone()),
                using: None,
            }),
            filter: query
                .filter
                .as_ref()
                .map(|f| edge_filter(f, &c.spec.name))
                .transpose()?,
            params: Some(SearchParams {
                hnsw_ef: query.ef,
                exact: query.exact,
                quantization,
                indexed_only: false,
                acorn: None,
            }),
            limit: query.k,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(query.with_payload)),
            with_vector: None,
            score_threshold: None,
        };
        let points = c
            .shard
            .search(request)
            .map_err(|e| engine_error("search", &c.spec.name, e))?;
        Ok(points
            .into_iter()
            .map(|p| Hit {
                id: point_id(&p.id),
                score: p.score,
                payload: if query.with_payload {
                    p.payload
                        .map(|pl| pl.0.into_iter().collect::<serde_json::Map<_, _>>())
                } else {
                    None
                },
            })
            .collect())
    }

    pub fn count_sync(&self, name: &str) -> Result<usize> {
        let c = self.get(name)?;
        c.shard
            .count(qdrant_edge::CountRequest {
                filter: None,
                exact: true,
            })
            .map_err(|e| engine_error("count", name, e))
    }

    pub fn footprint_sync(&self, name: &str) -> Result<Footprint> {
        let c = self.get(name)?;
        let disk_bytes = dir_size(&c.dir).map_err(|e| io_error(&c.dir, e))?;
        let ram_bytes = match (c.rss_at_open, process_rss()) {
            (Some(before), Some(now)) => Some(now.saturating_sub(before)),
            _ => None,
        };
        Ok(Footprint {
            disk_bytes: Some(disk_bytes),
            ram_bytes,
        })
    }

    pub fn drop_sync(&self, name: &str) -> Result<()> {
        self.guard.check(name, "drop")?;
        let c = self
            .collections
            .write()
            .expect("lock")
            .remove(name)
            .ok_or_else(|| StoreError::UnknownCollection {
                name: name.into(),
                known: Vec::new(),
            })?;
        let dir = c.dir.clone();
        // Close the shard (it flushes) before its files go.
        close_collection(c)?;
        fs::remove_dir_all(&dir).map_err(|e| io_error(&dir, e))
    }
}

impl Drop for EdgeStore {
    fn drop(&mut self) {
        if let Err(e) = self.close_all() {
            eprintln!("warning: {e}");
        }
    }
}

thread_local! {
    /// Set while this thread is in [`engine_call`], so the panic hook stays silent for the
    /// engine's flush failure that it turns into an error.
    static IN_ENGINE_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Closes a collection: waits (up to 10 s) for searches still holding it to finish, then closes
/// its shard.
fn close_collection(mut c: Arc<Collection>) -> Result<()> {
    let started = Instant::now();
    let c = loop {
        match Arc::try_unwrap(c) {
            Ok(c) => break c,
            Err(shared) if started.elapsed() < Duration::from_secs(10) => {
                c = shared;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(shared) => {
                return Err(StoreError::Close {
                    collection: shared.spec.name.clone(),
                    path: shared.dir.clone(),
                    message: "still in use by a search after 10 s; it closes when that ends".into(),
                });
            }
        }
    };
    let Collection {
        shard, spec, dir, ..
    } = c;
    engine_call(move || drop(shard)).map_err(|message| StoreError::Close {
        collection: spec.name,
        path: dir,
        message,
    })
}

/// Runs `f`, which may reach one of qdrant-edge's panicking flushes (`EdgeShard::flush`, and its
/// `Drop`, which flushes), and returns such a panic as its message instead of unwinding through
/// the caller; the panic hook stays silent for it.
fn engine_call<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_ENGINE_CALL.get() {
                previous(info);
            }
        }));
    });
    let outer = IN_ENGINE_CALL.replace(true);
    let done = catch_unwind(AssertUnwindSafe(f));
    IN_ENGINE_CALL.set(outer);
    done.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the engine panicked while flushing".into());
        engine_panic_message(&message)
    })
}

/// The readable part of the engine's panic message: `expect`'s text and the error's description,
/// without the Debug wrapping and the backtrace Qdrant's errors carry when RUST_BACKTRACE is set.
fn engine_panic_message(message: &str) -> String {
    const DESCRIPTION: &str = "description: \"";
    let Some(start) = message.find(DESCRIPTION) else {
        return message.to_string();
    };
    let rest = &message[start + DESCRIPTION.len()..];
    let end = rest
        .find("\", backtrace:")
        .or_else(|| rest.rfind("\" }"))
        .unwrap_or(rest.len());
    let context = message[..start]
        .split(" ServiceError {")
        .next()
        .unwrap_or_default()
        .trim_end_matches([' ', '{']);
    format!("{context} {}", rest[..end].replace("\\\"", "\""))
        .trim()
        .to_string()
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    qdrant_perf_plumbing::write_atomic(path, bytes).map_err(|e| io_error(path, e))
}

impl Store for EdgeStore {
    fn engine(&self) -> Engine {
        Engine::Edge
    }

    async fn create(&self, spec: &CollectionSpec) -> Result<Created> {
        self.create_sync(spec)
    }

    async fn upsert(&self, name: &str, batch: &[Point]) -> Result<()> {
        self.upsert_sync(name, batch)
    }

    async fn delete(&self, name: &str, ids: &[u64]) -> Result<()> {
        self.delete_sync(name, ids)
    }

    async fn wait_indexed(&self, name: &str) -> Result<IndexState> {
        self.wait_indexed_sync(name)
    }

    async fn search(&self, name: &str, query: &Query) -> Result<SearchResponse> {
        Ok(SearchResponse {
            hits: self.search_sync(name, query)?,
            server_seconds: None,
            node: None,
        })
    }

    async fn search_batch(&self, name: &str, queries: &[Query]) -> Result<BatchResponse> {
        let c = self.get(name)?;
        Ok(BatchResponse {
            results: queries
                .iter()
                .map(|q| Self::search_in(&c, q))
                .collect::<Result<_>>()?,
            server_seconds: None,
            node: None,
        })
    }

    async fn count(&self, name: &str) -> Result<usize> {
        self.count_sync(name)
    }

    async fn footprint(&self, name: &str) -> Result<Footprint> {
        self.footprint_sync(name)
    }

    async fn drop_owned(&self, name: &str) -> Result<()> {
        self.drop_sync(name)
    }
}
