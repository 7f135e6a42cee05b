//! Throughput per batch size, per dimension, in elements/s (criterion's `Throughput::Elements`).
//!
//! - `upsert/<collection>/<batch>`: one upsert request of `batch` points (1, 16, 64, 256, 1024)
//!   per iteration into an unindexed collection of that dimension, cycling through the dataset's
//!   vectors (ids wrap around, so later batches overwrite); elements/s is points written per
//!   second. The collection is made for the run and dropped after. qdrant-edge 0.7.2 never
//!   truncates its write-ahead log (the embedded shard has no `ack`), so every upsert stays on
//!   disk: on the embedded engine the collection is made anew, outside the timed part, each time
//!   [`WAL_BUDGET`] bytes of vectors went into it, and the suite's disk use stays bounded (a full
//!   disk makes the engine die of SIGBUS in its mmapped log, not return an error).
//! - `search_batch/<collection>/<batch>`: one batch request of `batch` top-10 searches (1, 16,
//!   64, 256, 1024) at the deployment's ef=128 per iteration on the indexed collection (shared
//!   with the latency suite), cycling through the held-out queries; elements/s is queries per
//!   second from one client thread. Recall@10 of the batched answers is printed after each.
//!
//! Each group has the batch size as its parameter and elements per batch as its throughput, so
//! criterion draws time and elements/s against the batch size, a line per collection. Recall
//! and setup also go to `<criterion dir>/qdrant-perf/throughput.json` and the summary page
//! `qdrant-perf.html`.
//!
//! Collections: `QDRANT_PERF_COLLECTIONS` as in the latency suite; by default deepcoder (768 d)
//! and mixtral (4096 d), the smallest and largest dimension. With `QDRANT_URL` both groups run
//! against that server (IDs carry `@grpc` / `@rest`).

mod common;

use std::cell::{Cell, RefCell};
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use qdrant_perf_data::mean_recall;
use qdrant_perf_report::bench::{BenchSetup, QualityRecord};
use qdrant_perf_store::{AnyStore, CollectionProfile, CollectionSpec, Guard, Point, Store};

use common::{PROFILES, RT, SERVER, cache, fail, prepared, prepared_if_any, summary};

const BATCHES: [usize; 5] = [1, 16, 64, 256, 1024];
/// Vector bytes written to one embedded collection before it is made anew (see the module doc).
const WAL_BUDGET: usize = 512 << 20;
const DEFAULT_COLLECTIONS: &str = "deepcoder,mixtral";

fn profiles() -> Vec<CollectionProfile> {
    common::select_profiles(DEFAULT_COLLECTIONS)
}

fn upsert(c: &mut Criterion) {
    let mut group = c.benchmark_group("upsert");
    for profile in profiles() {
        let ds = common::dataset_for(&profile);
        let tmp = tempfile::tempdir_in(cache().root()).unwrap_or_else(|e| fail(e));
        let store = match SERVER.as_ref() {
            Some(config) => RT
                .block_on(AnyStore::connect(config, Guard::default()))
                .unwrap_or_else(|e| fail(e)),
            None => AnyStore::edge(tmp.path(), Guard::default()).unwrap_or_else(|e| fail(e)),
        };
        let name = format!("perf_upsert_{}", profile.name);
        let spec = CollectionSpec::new(name.clone(), profile.vector_size, profile.distance);
        let mut created = false;
        let (written, renewed) = (Cell::new(0usize), Cell::new(0usize));
        let ran = RefCell::new(Vec::new());
        for batch in BATCHES {
            group.throughput(Throughput::Elements(batch as u64));
            let id = BenchmarkId::new(common::bench_name(&profile), batch);
            group.bench_function(id, |b| {
                ran.borrow_mut().push(batch);
                if !created {
                    if SERVER.is_some() {
                        let _ = RT.block_on(store.drop_owned(&name));
                    }
                    RT.block_on(store.create(&spec)).unwrap_or_else(|e| fail(e));
                    created = true;
                }
                let next = Cell::new(0usize);
                let n = ds.points.len();
                let batch_bytes = batch * profile.vector_size * size_of::<f32>();
                b.iter_batched(
                    || {
                        if SERVER.is_none() {
                            if written.get() + batch_bytes > WAL_BUDGET {
                                RT.block_on(store.drop_owned(&name))
                                    .and_then(|()| RT.block_on(store.create(&spec)).map(drop))
                                    .unwrap_or_else(|e| fail(e));
                                written.set(0);
                                renewed.set(renewed.get() + 1);
                            }
                            written.set(written.get() + batch_bytes);
                        }
                        let start = next.get();
                        next.set((start + batch) % n);
                        (0..batch)
                            .map(|j| {
                                let i = (start + j) % n;
                                Point {
                                    id: i as u64,
                                    vector: ds.points.row(i).to_vec(),
                                    payload: None,
                                }
                            })
                            .collect::<Vec<Point>>()
                    },
                    |points| RT.block_on(store.upsert(&name, &points)).expect("upsert"),
                    criterion::BatchSize::LargeInput,
                );
            });
        }
        if created {
            let stored = RT.block_on(store.count(&name)).unwrap_or(0);
            for &batch in ran.borrow().iter() {
                summary::record(
                    QualityRecord::new(
                        "upsert",
                        Some(&common::bench_name(&profile)),
                        Some(&batch.to_string()),
                    )
                    .with_setup(BenchSetup {
                        points: Some(stored),
                        dim: Some(profile.vector_size),
                        batch: Some(batch),
                        ..BenchSetup::default()
                    })
                    .with_engine(store.engine_version())
                    .with_note("unindexed collection; points: stored after the run"),
                );
            }
            let renewed = match renewed.get() {
                0 => String::new(),
                r => format!("; made anew {r} times, every {} MiB", WAL_BUDGET >> 20),
            };
            eprintln!(
                "upsert/{}: {stored} points stored after the run ({} d, unindexed collection, \
                 {}{renewed})",
                common::bench_name(&profile),
                profile.vector_size,
                store.engine_version()
            );
            if let Err(e) = RT.block_on(store.drop_owned(&name)) {
                eprintln!("warning: could not drop {name}: {e}");
            }
        }
    }
    group.finish();
}

fn search_batch(c: &mut Criterion) {
    let k = PROFILES.search.k;
    let ef = PROFILES.search.hnsw_ef;
    let mut group = c.benchmark_group("search_batch");
    for profile in profiles() {
        let ran = RefCell::new(Vec::new());
        for batch in BATCHES {
            group.throughput(Throughput::Elements(batch as u64));
            let id = BenchmarkId::new(common::bench_name(&profile), batch);
            group.bench_function(id, |b| {
                ran.borrow_mut().push(batch);
                let p = prepared(&profile);
                let queries = p.queries(k, Some(ef), false);
                let next = Cell::new(0usize);
                let (store, name) = (&p.store, p.name.as_str());
                b.iter(|| {
                    let start = next.get();
                    next.set((start + batch) % queries.len());
                    let window: Vec<_> = (0..batch)
                        .map(|j| queries[(start + j) % queries.len()].clone())
                        .collect();
                    black_box(
                        RT.block_on(store.search_batch(name, &window))
                            .expect("search"),
                    )
                });
            });
        }
        if let Some(p) = prepared_if_any(&profile).filter(|_| !ran.borrow().is_empty()) {
            let queries = p.queries(k, Some(ef), false);
            let mut found: Vec<Vec<u64>> = Vec::new();
            for chunk in queries.chunks(256) {
                let r = RT
                    .block_on(p.store.search_batch(&p.name, chunk))
                    .unwrap_or_else(|e| fail(e));
                found.extend(
                    r.results
                        .into_iter()
                        .map(|hits| hits.into_iter().map(|h| h.id).collect()),
                );
            }
            let recall = mean_recall(found.iter().map(Vec::as_slice), |i| p.truth.ids(i), k);
            for &batch in ran.borrow().iter() {
                let mut quality = p
                    .quality(
                        "search_batch",
                        &common::bench_name(&profile),
                        &batch.to_string(),
                    )
                    .with_recall(k, recall, queries.len())
                    .with_note("recall of every held-out query, in batches of 256");
                quality.setup.ef = Some(ef);
                quality.setup.batch = Some(batch);
                summary::record(quality);
            }
            eprintln!(
                "search_batch/{}: recall@{k} = {recall:.4} over {} held-out queries in batches \
                 (ef={ef}, {} points, {})",
                common::bench_name(&profile),
                queries.len(),
                p.points,
                p.store.engine_version()
            );
        }
    }
    group.finish();
}

criterion_group!(benches, upsert, search_batch);

fn main() {
    benches();
    common::cleanup();
    common::print_setup_summary();
    Criterion::default().configure_from_args().final_summary();
    summary::finish("throughput");
}
