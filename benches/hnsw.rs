//! HNSW parameters on the embedded engine: what m and ef_construct cost to build, and what ef
//! costs and buys at search time.
//!
//! - `hnsw_build/<dim>d/efc<ef_construct>/<m>`: one full build (create, upload, HNSW index) of
//!   `QDRANT_PERF_HNSW_POINTS` vectors (default 5,000, or fewer when `QDRANT_PERF_POINTS` is
//!   smaller) per iteration, into a fresh directory. Few samples: each is a whole build. One
//!   criterion group, m the parameter: criterion draws build time against m, a line per
//!   ef_construct.
//! - `hnsw_search/<dim>d/<ef>`: top-10 search at the deployment's m=16 / ef_construct=100 on
//!   `QDRANT_PERF_POINTS` vectors (the shared dataset), one held-out query per iteration,
//!   cycling through all of them. One group, ef the parameter: criterion draws latency against
//!   ef (no elements/s, which would put every point at one x).
//!
//! After each benchmark the suite prints recall@10 of what it measured (for a build: the built
//! index searched at ef=128), and whether Qdrant walked the graph or scanned; the same figures
//! go to `<criterion dir>/qdrant-perf/hnsw.json` and the summary page `qdrant-perf.html`. Collections have
//! one segment; when it holds fewer vectors than the deployment's full_scan_threshold covers,
//! the threshold is lowered so the graph is walked (and the line says so).
//!
//! Grid (comma-separated): `QDRANT_PERF_HNSW_M` (default 8,16), `QDRANT_PERF_HNSW_EF_CONSTRUCT`
//! (default 100), `QDRANT_PERF_HNSW_EF` (default 16,32,64,128,256); `QDRANT_PERF_HNSW_DIM`
//! (default 768, the deployment's deepcoder). With `QDRANT_PERF_DATASET` both suites run on that
//! dataset (its dimension, its whole train set, Cosine). The embedded engine only: index builds are timed
//! in-process.

mod common;

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group};
use qdrant_perf_data::{Dataset, DatasetSpec, mean_recall};
use qdrant_perf_report::bench::{BenchSetup, QualityRecord, SearchMode};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH};
use qdrant_perf_store::{CollectionSpec, EdgeStore, HnswParams, IndexState, Query};
use qdrant_perf_tune::sweep::{choose_full_scan_threshold, search_mode};

use common::{RT, cache, env_usize, fail, summary};

const K: usize = 10;
/// The deployment's search beam width, used to report the recall of a build.
const RECALL_EF: usize = 128;

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| match s.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => fail(format!(
                    "{name}={v:?}: {s:?} is not a positive whole number (example: {name}=8,16,32)"
                )),
            })
            .collect(),
        _ => default.to_vec(),
    }
}

fn dim() -> usize {
    match common::USER_DATA.as_ref() {
        Some(user) => user.dim(),
        None => env_usize("QDRANT_PERF_HNSW_DIM", 768),
    }
}

/// `points` generated vectors, or with QDRANT_PERF_DATASET the user's whole train set.
fn dataset(points: usize) -> Dataset {
    let d = match common::USER_DATA.as_ref() {
        Some(user) => user
            .dataset(
                Some(&qdrant_perf_data::MetricWanted::new(
                    qdrant_perf_data::Metric::Cosine,
                    "the hnsw suite (Cosine collections)",
                )),
                100,
            )
            .unwrap_or_else(|e| fail(e)),
        None => {
            let spec = DatasetSpec::new(dim(), points).with_queries(common::queries());
            Dataset::load_or_generate(&spec, &cache()).unwrap_or_else(|e| fail(e))
        }
    };
    eprintln!("{}", d.describe());
    d
}

/// The number of points the suite builds: the user dataset's when there is one.
fn points_or(generated: usize) -> usize {
    common::USER_DATA
        .as_ref()
        .map_or(generated, |user| user.len())
}

fn spec(
    name: &str,
    m: usize,
    ef_construct: usize,
    points: usize,
) -> (CollectionSpec, Option<String>) {
    let (fst, note) =
        choose_full_scan_threshold(HnswParams::default().full_scan_threshold, points, dim(), 1);
    let spec = CollectionSpec {
        segments: Some(1),
        ..CollectionSpec::new(name, dim(), qdrant_perf_data::Metric::Cosine).with_hnsw(HnswParams {
            m,
            ef_construct,
            full_scan_threshold: fst,
        })
    };
    (spec, note)
}

fn recall(store: &EdgeStore, name: &str, queries: &[Query], d: &Dataset) -> f64 {
    let found: Vec<Vec<u64>> = queries
        .iter()
        .map(|q| {
            store
                .search_sync(name, q)
                .unwrap_or_else(|e| fail(e))
                .iter()
                .map(|h| h.id)
                .collect()
        })
        .collect();
    mean_recall(found.iter().map(Vec::as_slice), |i| d.truth.ids(i), K)
}

fn build(c: &mut Criterion) {
    let points = points_or(env_usize(
        "QDRANT_PERF_HNSW_POINTS",
        5_000.min(common::points()),
    ));
    let d = dataset(points);
    let mut group = c.benchmark_group(format!("hnsw_build/{}d", dim()));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5));
    for m in env_list("QDRANT_PERF_HNSW_M", &[8, 16]) {
        for efc in env_list("QDRANT_PERF_HNSW_EF_CONSTRUCT", &[100]) {
            let (spec, note) = spec("perf_hnsw_build", m, efc, points);
            if let Err(e) = spec.validate() {
                fail(format!("QDRANT_PERF_HNSW_M / _EF_CONSTRUCT: {e}"));
            }
            // The last build, kept to measure its recall. The store owns its scratch directory
            // and deletes it only after the engine closed every collection in it.
            let last: RefCell<Option<(EdgeStore, IndexState)>> = RefCell::new(None);
            let close = |built: Option<(EdgeStore, IndexState)>| {
                if let Some((store, _)) = built {
                    store.close().unwrap_or_else(|e| fail(e));
                }
            };
            let function = format!("efc{efc}");
            let last_seconds = Cell::new(None);
            group.bench_function(BenchmarkId::new(&function, m), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        // The previous build's files go before the next is timed.
                        close(last.borrow_mut().take());
                        let dir = tempfile::Builder::new()
                            .prefix("hnsw-build-")
                            .tempdir_in(cache().root())
                            .unwrap_or_else(|e| fail(e))
                            .keep();
                        let store = EdgeStore::open(dir)
                            .unwrap_or_else(|e| fail(e))
                            .remove_root_on_close();
                        let started = Instant::now();
                        let loaded = RT
                            .block_on(fixture::load_collection(
                                &store,
                                &spec,
                                &d.points,
                                DEFAULT_BATCH,
                            ))
                            .unwrap_or_else(|e| fail(e));
                        let took = started.elapsed();
                        total += took;
                        last_seconds.set(Some(took.as_secs_f64()));
                        *last.borrow_mut() = Some((store, loaded.index));
                    }
                    total
                });
            });
            let built = last.borrow_mut().take();
            if let Some((store, state)) = &built {
                let queries = fixture::queries(&d.queries, K, Some(RECALL_EF));
                let recall = recall(store, &spec.name, &queries, &d);
                let graphs =
                    qdrant_perf_tune::sweep::graph_segments_in(&store.collection_dir(&spec));
                let mode = search_mode(state, dim(), spec.hnsw.full_scan_threshold, graphs);
                let group = format!("hnsw_build/{}d", dim());
                summary::record(
                    QualityRecord::new(&group, Some(&function), Some(&m.to_string()))
                        .with_recall(K, recall, queries.len())
                        .with_mode(mode_of(mode))
                        .with_setup(BenchSetup {
                            points: Some(state.points),
                            dim: Some(dim()),
                            m: Some(m),
                            ef_construct: Some(efc),
                            ef: Some(RECALL_EF),
                            segments: Some(graphs.unwrap_or(state.segments)),
                            build_seconds: last_seconds.get(),
                            ..BenchSetup::default()
                        })
                        .with_engine("qdrant-edge 0.7.2 (embedded)")
                        .with_note(note.clone().unwrap_or_else(|| {
                            "recall of the last build, searched at ef=128".into()
                        })),
                );
                eprintln!(
                    "{group}/{function}/{m}: recall@{K} = {recall:.4} at ef={RECALL_EF} over {} held-out queries; {} points in {} segment(s), search by {mode}{}",
                    queries.len(),
                    state.points,
                    graphs.unwrap_or(state.segments),
                    note.as_deref().map_or(String::new(), |n| format!(" ({n})")),
                );
            }
            close(built);
        }
    }
    group.finish();
}

fn search(c: &mut Criterion) {
    let points = points_or(common::points());
    let d = dataset(points);
    let defaults = HnswParams::default();
    let (spec, note) = spec(
        "perf_hnsw_search",
        defaults.m,
        defaults.ef_construct,
        points,
    );
    // Built once and cached beside the dataset, keyed by its index parameters.
    let store = EdgeStore::open(d.dir.join("edge")).unwrap_or_else(|e| fail(e));
    let mut built: Option<IndexState> = None;
    let group_name = format!("hnsw_search/{}d", dim());
    let mut group = c.benchmark_group(&group_name);
    for ef in env_list("QDRANT_PERF_HNSW_EF", &[16, 32, 64, 128, 256]) {
        if ef < K {
            fail(format!(
                "QDRANT_PERF_HNSW_EF: ef={ef} is below k={K}; use ef >= {K}"
            ));
        }
        let queries = fixture::queries(&d.queries, K, Some(ef));
        let ran = Cell::new(false);
        group.bench_function(BenchmarkId::from_parameter(ef), |b| {
            ran.set(true);
            if built.is_none() {
                let loaded = RT
                    .block_on(fixture::load_collection(
                        &store,
                        &spec,
                        &d.points,
                        DEFAULT_BATCH,
                    ))
                    .unwrap_or_else(|e| fail(e));
                built = Some(loaded.index);
            }
            let next = Cell::new(0usize);
            b.iter(|| {
                let i = next.get();
                next.set((i + 1) % queries.len());
                black_box(store.search_sync(&spec.name, &queries[i]).expect("search"))
            });
        });
        if let Some(state) = built.as_ref().filter(|_| ran.get()) {
            let recall = recall(&store, &spec.name, &queries, &d);
            let graphs = qdrant_perf_tune::sweep::graph_segments_in(&store.collection_dir(&spec));
            let mode = search_mode(state, dim(), spec.hnsw.full_scan_threshold, graphs);
            let mut quality = QualityRecord::new(&group_name, None, Some(&ef.to_string()))
                .with_recall(K, recall, queries.len())
                .with_mode(mode_of(mode))
                .with_setup(BenchSetup {
                    points: Some(state.points),
                    dim: Some(dim()),
                    m: Some(spec.hnsw.m),
                    ef_construct: Some(spec.hnsw.ef_construct),
                    ef: Some(ef),
                    segments: Some(graphs.unwrap_or(state.segments)),
                    build_seconds: Some(state.seconds),
                    ..BenchSetup::default()
                })
                .with_engine("qdrant-edge 0.7.2 (embedded)");
            if let Some(n) = &note {
                quality = quality.with_note(n.clone());
            }
            summary::record(quality);
            eprintln!(
                "{group_name}/{ef}: recall@{K} = {recall:.4} over {} held-out queries (m={}, ef_construct={}, {} points, {} segment(s), search by {mode}){}",
                queries.len(),
                spec.hnsw.m,
                spec.hnsw.ef_construct,
                state.points,
                graphs.unwrap_or(state.segments),
                note.as_deref().map_or(String::new(), |n| format!("; {n}")),
            );
        }
    }
    group.finish();
    store.close().unwrap_or_else(|e| fail(e));
}

/// `search_mode`'s answer as the quality record's mode.
fn mode_of(mode: &str) -> SearchMode {
    if mode == "hnsw" {
        SearchMode::Hnsw
    } else {
        SearchMode::PlainScan
    }
}

criterion_group!(benches, build, search);

fn main() {
    if std::env::var_os("QDRANT_URL").is_some() {
        eprintln!(
            "note: the hnsw suite times index builds in-process: it runs on the embedded engine even with QDRANT_URL set"
        );
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary::finish("hnsw");
}
