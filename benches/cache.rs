//! The deployment's search-result cache (Redis cache-aside, optional in-process tier) in front of
//! the indexed collections, per dimension:
//!
//! - `cache/hit/l2/<dim>`: a search answered by Redis (key hash + GET + decode), cycling through
//!   the held-out queries, all cached beforehand;
//! - `cache/hit/l1/<dim>`: the same answered by the in-process tier (moka) in front of Redis, as
//!   large as fixtures/performance-tests.yaml's `l1_cache_size` (with its `cache_ttl`);
//! - `cache/miss/<dim>`: a search nobody asked before: GET (miss) + the store's search + SET. The
//!   entry is deleted (untimed) before each timed search, so every iteration is a real miss;
//! - `cache/uncached/<dim>`: the store alone on the same queries, the reference.
//!
//! After each dimension, outside criterion's timing, a Zipf stream (10,000 requests over a pool of
//! 1,000 distinct held-out queries, exponent 1.0) and a uniform stream (the worst case) go
//! through a cold cache, and the suite prints the hit rate, the cache latency (the lookup of every
//! request) and whether the deployment's targets (hit rate > 90 %, cache latency < 5 ms) were met.
//!
//! Redis: `REDIS_URL` when set (its password is never printed; the suite writes and deletes only
//! keys under `qperf:v1:`), otherwise a private `redis-server` on a free loopback port, stopped at
//! the end. `QDRANT_PERF_CACHE_REQUESTS` / `QDRANT_PERF_CACHE_POOL` / `QDRANT_PERF_ZIPF` change the
//! stream. Sizes and selection: see `benches/common/mod.rs`.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use qdrant_perf_data::{DEFAULT_ZIPF_EXPONENT, QueryStream, ideal_hit_rate};
use qdrant_perf_load::config::PerformanceConfig;
use qdrant_perf_store::cache::{TARGET_HIT_RATE, TARGET_LATENCY_MS};
use qdrant_perf_store::{AnyStore, CacheConfig, CachedStore, Query, Store};
use qdrant_perf_testkit::redis::TestRedis;

use common::{PROFILES, RT, fail, prepared, prepared_if_any, selected_profiles, summary};

/// Requests of the Zipf and uniform streams, and their pool of distinct queries.
const STREAM_REQUESTS: usize = 10_000;
const STREAM_POOL: usize = 1_000;

/// The Redis of this run, started first thing in `main` and stopped at its end.
static REDIS: OnceLock<Mutex<Option<TestRedis>>> = OnceLock::new();

fn redis_url() -> String {
    REDIS
        .get()
        .expect("main starts Redis before the benches")
        .lock()
        .expect("lock")
        .as_ref()
        .expect("Redis is stopped only at the end")
        .url()
}

/// criterion's test mode (`-- --test`): run everything once, on tiny streams.
fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// The cache as the bundled performance-tests.yaml sets it (`cache_ttl`, `l1_cache_size`: the
/// in-process tier of the `l1` benchmarks), without the in-process tier unless `l1`.
fn cached(store: &AnyStore, l1: bool) -> CachedStore<&AnyStore> {
    let caching = &PerformanceConfig::bundled()
        .performance_tests
        .optimization
        .caching;
    let config = caching
        .apply(CacheConfig::new(redis_url()), None)
        .unwrap_or_else(|e| fail(e));
    let config = if l1 { config } else { config.with_l1_bytes(0) };
    RT.block_on(CachedStore::connect(store, config))
        .unwrap_or_else(|e| fail(e))
}

fn clear(cache: &CachedStore<&AnyStore>, name: &str) {
    RT.block_on(cache.clear_collection(name))
        .unwrap_or_else(|e| fail(format!("cannot clear the cache of {name}: {e}")));
}

fn cache(c: &mut Criterion) {
    let k = PROFILES.search.k;
    let ef = PROFILES.search.hnsw_ef;
    let profiles = selected_profiles();
    let mut group = c.benchmark_group("cache");
    group.throughput(Throughput::Elements(1));
    for profile in &profiles {
        let dim = profile.vector_size;
        // Two selected collections of one dimension get the profile name in their IDs.
        let param = if profiles.iter().filter(|p| p.vector_size == dim).count() > 1 {
            format!("{dim}-{}", profile.name)
        } else {
            dim.to_string()
        };
        let suffix = match common::engine_name() {
            "edge" => String::new(),
            engine => format!("@{engine}"),
        };
        let ran = Cell::new(false);
        for tier in ["l2", "l1"] {
            let id = BenchmarkId::new(format!("hit/{tier}{suffix}"), &param);
            group.bench_function(id, |b| {
                ran.set(true);
                let p = prepared(profile);
                let queries = p.queries(k, Some(ef), false);
                let cache = cached(&p.store, tier == "l1");
                // Fill the cache (and L1), untimed.
                RT.block_on(async {
                    for q in &queries {
                        cache.search(&p.name, q).await.expect("search");
                    }
                });
                let next = Cell::new(0usize);
                let (cache, name) = (&cache, p.name.as_str());
                b.to_async(&*RT).iter(|| {
                    let i = next.get();
                    next.set((i + 1) % queries.len());
                    let query = &queries[i];
                    async move { black_box(cache.search(name, query).await.expect("search")) }
                });
                let s = cache.snapshot();
                let hits = if tier == "l1" { s.hits_l1 } else { s.hits_l2 };
                assert!(
                    hits >= s.requests - queries.len() as u64,
                    "the {tier} benchmark measured misses: {s:?}"
                );
            });
        }

        group.bench_function(BenchmarkId::new(format!("miss{suffix}"), &param), |b| {
            ran.set(true);
            let p = prepared(profile);
            let queries = p.queries(k, Some(ef), false);
            let cache = cached(&p.store, false);
            clear(&cache, &p.name);
            let next = Cell::new(0usize);
            let (cache, name) = (&cache, p.name.as_str());
            b.to_async(&*RT).iter_custom(|iters| {
                let (queries, next) = (&queries, &next);
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let i = next.get();
                        next.set((i + 1) % queries.len());
                        // A search nobody asked before: its entry is gone (untimed).
                        cache
                            .invalidate(name, &queries[i])
                            .await
                            .unwrap_or_else(|e| fail(e));
                        let started = Instant::now();
                        black_box(cache.search(name, &queries[i]).await.expect("search"));
                        total += started.elapsed();
                    }
                    total
                }
            });
            let s = cache.snapshot();
            assert_eq!(s.hits_l2, 0, "the miss benchmark hit the cache: {s:?}");
        });

        group.bench_function(BenchmarkId::new(format!("uncached{suffix}"), &param), |b| {
            ran.set(true);
            let p = prepared(profile);
            let queries = p.queries(k, Some(ef), false);
            let next = Cell::new(0usize);
            let (store, name) = (&p.store, p.name.as_str());
            b.to_async(&*RT).iter(|| {
                let i = next.get();
                next.set((i + 1) % queries.len());
                let query = &queries[i];
                async move { black_box(store.search(name, query).await.expect("search")) }
            });
        });

        if let Some(p) = prepared_if_any(profile).filter(|_| ran.get()) {
            let queries = p.queries(k, Some(ef), false);
            report_streams(&p.store, &p.name, &queries, &format!("{param}{suffix}"));
        }
    }
    group.finish();
}

/// Runs the Zipf and uniform streams through a cold cache and prints what they measured.
fn report_streams(store: &AnyStore, name: &str, queries: &[Query], label: &str) {
    let (requests, pool) = if test_mode() {
        (500, 50)
    } else {
        (
            common::env_usize("QDRANT_PERF_CACHE_REQUESTS", STREAM_REQUESTS),
            common::env_usize("QDRANT_PERF_CACHE_POOL", STREAM_POOL),
        )
    };
    let pool = pool.min(queries.len());
    let exponent = match std::env::var("QDRANT_PERF_ZIPF") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<f64>().unwrap_or_else(|_| {
            fail(format!(
                "QDRANT_PERF_ZIPF={v:?} is not a number (example: QDRANT_PERF_ZIPF=1.0)"
            ))
        }),
        _ => DEFAULT_ZIPF_EXPONENT,
    };
    let zipf = QueryStream::zipf(pool, exponent).unwrap_or_else(|e| fail(e));
    let uniform = QueryStream::uniform(pool).unwrap_or_else(|e| fail(e));
    for stream in [zipf, uniform] {
        let cache = cached(store, false);
        clear(&cache, name);
        let indices = stream.indices(requests);
        RT.block_on(async {
            for &i in &indices {
                cache.search(name, &queries[i]).await.expect("search");
            }
        });
        let m = RT.block_on(cache.measurements());
        let s = &m.stats;
        let kind = stream.popularity().name();
        eprintln!(
            "cache/{kind}/{label}: hit rate {:.3} over {} requests (pool of {pool} distinct \
             held-out queries; an ideal cache would reach {:.3}); cache latency {}; hits {}; \
             misses (search + write) {}; errors {}; {} bytes per entry; Redis used_memory {}",
            s.hit_rate,
            s.requests,
            ideal_hit_rate(&indices),
            s.lookup.describe(),
            s.hit_l2.describe(),
            s.miss.describe(),
            s.errors.total(),
            s.bytes_per_entry.map_or("-".into(), |b| format!("{b:.0}")),
            m.redis.as_ref().map_or("unknown".into(), |r| format!(
                "{:.1} MB",
                r.used_memory as f64 / 1e6
            )),
        );
        if matches!(
            stream.popularity(),
            qdrant_perf_data::Popularity::Zipf { .. }
        ) {
            let latency_ms = s.lookup.mean_ms;
            let verdict = |met: bool| if met { "met" } else { "MISSED" };
            eprintln!(
                "cache/{kind}/{label}: targets: hit rate {:.1} % > {:.0} %: {}; mean cache \
                 latency {latency_ms:.3} ms < {TARGET_LATENCY_MS} ms: {}",
                s.hit_rate * 100.0,
                TARGET_HIT_RATE * 100.0,
                verdict(s.hit_rate > TARGET_HIT_RATE),
                verdict(latency_ms < TARGET_LATENCY_MS),
            );
        }
        clear(&cache, name);
    }
}

criterion_group!(benches, cache);

fn main() {
    // Redis first, before any dataset is built: on a machine without redis-server (and no
    // REDIS_URL) the suite says what to install and skips, so the other suites of `cargo bench`
    // still run; a Redis that is there but will not start is an error.
    match TestRedis::from_env() {
        Ok(redis) => {
            eprintln!("cache suite: Redis is the {}", redis.describe());
            REDIS.get_or_init(|| Mutex::new(Some(redis)));
        }
        // Under CI (CI=true) a missing redis-server fails the suite instead: CI installs it.
        Err(e) if e.is_missing() => {
            return qdrant_perf_testkit::skip(format_args!("cache suite: {e}"));
        }
        Err(e) => fail(e),
    }
    benches();
    common::cleanup();
    // A private redis-server stops here (an external one is left alone).
    if let Some(redis) = REDIS.get() {
        drop(redis.lock().expect("lock").take());
    }
    common::print_setup_summary();
    Criterion::default().configure_from_args().final_summary();
    summary::finish("cache");
}
