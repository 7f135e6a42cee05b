//! Search latency per collection of the deployment, on an indexed collection.
//!
//! - `search/<collection>/<dim>`: top-10 HNSW search at the deployment's defaults (m=16,
//!   ef_construct=100, hnsw_ef=128), cycling through the held-out queries (never one vector).
//! - `search_exact/<collection>/<dim>`: the same queries by exact full scan, the reference.
//!
//! Throughput is one query per iteration, so criterion's elements/s is single-thread QPS.
//! After each benchmark the suite prints recall@10 of the same queries against exact ground
//! truth, which criterion cannot show. Sizes and selection: see `benches/common/mod.rs`.
//!
//! With `QDRANT_URL` set the same suite runs against that server (IDs `search/<name>@grpc/<dim>`
//! or `@rest`), and the printed line adds Qdrant's own mean time beside the client's.
//!
//! - `search_readonly/<collection>@<engine>/<dim>`: with `QDRANT_PERF_READ_ONLY=mixtral,phi3`
//!   (and `QDRANT_URL`), existing collections of the server, searched without writing a byte:
//!   queries are midpoints of the collection's own points (drawn by the server at random) and
//!   recall is against the server's exact search (see `qdrant_perf_store::readonly`).

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use qdrant_perf_report::bench::{BenchSetup, QualityRecord, SearchMode};
use qdrant_perf_store::readonly::ReadOnlyWorkload;
use qdrant_perf_store::{AnyStore, Guard, Store};

use common::{PROFILES, RT, prepared, prepared_if_any, selected_profiles, summary};

fn bench_search(c: &mut Criterion, group_name: &str, exact: bool) {
    let k = PROFILES.search.k;
    let ef = PROFILES.search.hnsw_ef;
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(1));
    if exact {
        // A full scan of every vector per query: fewer, longer samples.
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(8));
    }
    for profile in selected_profiles() {
        let id = BenchmarkId::new(common::bench_name(&profile), profile.vector_size);
        // Criterion calls the closure only when its filter selects the benchmark.
        let ran = Cell::new(false);
        group.bench_function(id, |b| {
            ran.set(true);
            let p = prepared(&profile);
            let queries = p.queries(k, Some(ef), exact);
            let next = Cell::new(0usize);
            let (store, name) = (&p.store, p.name.as_str());
            b.to_async(&*RT).iter(|| {
                let i = next.get();
                next.set((i + 1) % queries.len());
                let query = &queries[i];
                async move { black_box(store.search(name, query).await.expect("search")) }
            });
        });
        if let Some(p) = prepared_if_any(&profile).filter(|_| ran.get()) {
            let queries = p.queries(k, Some(ef), exact);
            let check = p.check(&queries, k);
            let mut quality = p
                .quality(
                    group_name,
                    &common::bench_name(&profile),
                    &profile.vector_size.to_string(),
                )
                .with_recall(k, check.recall, check.queries);
            if exact {
                quality = quality.with_mode(SearchMode::ExactScan);
            } else {
                quality.setup.ef = Some(ef);
            }
            summary::record(quality);
            eprintln!(
                "{group_name}/{}/{}: {} ({}, ef={ef}, m={}, ef_construct={}, {} points, {})",
                common::bench_name(&profile),
                profile.vector_size,
                check.describe(k),
                if exact { "exact scan" } else { "hnsw" },
                PROFILES.index.hnsw_m,
                PROFILES.index.hnsw_ef_construct,
                p.points,
                p.store.engine_version(),
            );
        }
    }
    group.finish();
}

fn search(c: &mut Criterion) {
    bench_search(c, "search", false);
}

fn search_exact(c: &mut Criterion) {
    bench_search(c, "search_exact", true);
}

/// Existing collections of a server, searched read-only (`QDRANT_PERF_READ_ONLY`).
fn search_read_only(c: &mut Criterion) {
    let Some(names) = std::env::var("QDRANT_PERF_READ_ONLY")
        .ok()
        .filter(|s| !s.trim().is_empty())
    else {
        return;
    };
    let Some(config) = common::SERVER.as_ref() else {
        common::fail(
            "QDRANT_PERF_READ_ONLY measures existing collections of a Qdrant server: \
             set QDRANT_URL as well",
        );
    };
    let (k, ef) = (PROFILES.search.k, PROFILES.search.hnsw_ef);
    // The guard stays on: nothing here writes, and a write would be refused.
    let store = RT
        .block_on(AnyStore::connect(config, Guard::default()))
        .unwrap_or_else(|e| common::fail(e));
    let engine = store.engine().name();
    let mut group = c.benchmark_group("search_readonly");
    group.throughput(Throughput::Elements(1));
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let w = RT
            .block_on(ReadOnlyWorkload::prepare(
                &store,
                name,
                common::queries(),
                k,
                Some(ef),
            ))
            .unwrap_or_else(|e| common::fail(format!("QDRANT_PERF_READ_ONLY={name}: {e}")));
        let ran = Cell::new(false);
        group.bench_function(BenchmarkId::new(format!("{name}@{engine}"), w.dim), |b| {
            ran.set(true);
            let next = Cell::new(0usize);
            let store = &store;
            b.to_async(&*RT).iter(|| {
                let i = next.get();
                next.set((i + 1) % w.queries.len());
                let query = &w.queries[i];
                async move { black_box(store.search(name, query).await.expect("search")) }
            });
        });
        if ran.get() {
            let results: Vec<Vec<u64>> = w
                .queries
                .iter()
                .map(|q| {
                    let r = RT
                        .block_on(store.search(name, q))
                        .unwrap_or_else(|e| common::fail(e));
                    r.hits.iter().map(|h| h.id).collect()
                })
                .collect();
            let recall = w.recall(&results);
            summary::record(
                QualityRecord::new(
                    "search_readonly",
                    Some(&format!("{name}@{engine}")),
                    Some(&w.dim.to_string()),
                )
                .with_recall(k, recall, w.queries.len())
                .with_setup(BenchSetup {
                    points: Some(w.points),
                    dim: Some(w.dim),
                    ef: Some(ef),
                    ..BenchSetup::default()
                })
                .with_engine(store.engine_version())
                .with_note(format!(
                    "read-only: queries drawn from the collection, truth the server's exact \
                     search ({})",
                    w.describe_state()
                )),
            );
            eprintln!(
                "search_readonly/{name}@{engine}/{}: recall@{k} = {:.4} over {} queries drawn from \
                 the collection ({}; {}; truth: the server's exact search; ef={ef}; read-only)",
                w.dim,
                recall,
                w.queries.len(),
                w.describe_state(),
                store.engine_version(),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, search, search_exact, search_read_only);

fn main() {
    benches();
    common::cleanup();
    common::print_setup_summary();
    Criterion::default().configure_from_args().final_summary();
    summary::finish("latency");
}
