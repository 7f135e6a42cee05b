//! The Redis result cache against a real redis-server (a private one per test, started from
//! `redis-server` on a free loopback port) in front of the embedded engine: hits equal the
//! store's results, keys, foreign values, TTL, and the faults: Redis down at start, killed
//! mid-stream and back, a wrong password.

use std::time::Duration;

use qdrant_perf_data::{Dataset, DatasetSpec, Metric};
use qdrant_perf_store::cache::{cache_key, decode_value};
use qdrant_perf_store::fixture::{self, load_collection};
use qdrant_perf_store::{
    CacheConfig, CacheError, CacheMode, CachedStore, CollectionSpec, EdgeStore, Query, Store,
};
use qdrant_perf_testkit::redis::RedisServer;

const NAME: &str = "perf_cache";

/// An embedded-engine collection of 500 16-d points and 60 held-out queries.
struct Fixture {
    store: EdgeStore,
    queries: Vec<Query>,
    // Last: fields drop in order, and the store flushes into its directory when dropped.
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    let (points, queries, _) =
        Dataset::generate(&DatasetSpec::new(16, 500).with_queries(60).with_k(10)).unwrap();
    let spec = CollectionSpec::new(NAME, 16, Metric::Cosine);
    load_collection(&store, &spec, &points, 250).await.unwrap();
    Fixture {
        store,
        queries: fixture::queries(&queries, 10, Some(64)),
        _dir: dir,
    }
}

fn server() -> RedisServer {
    RedisServer::start().unwrap_or_else(|e| panic!("{e}"))
}

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn ids(store: &impl Store, q: &Query) -> Vec<(u64, f32)> {
    store
        .search(NAME, q)
        .await
        .unwrap()
        .hits
        .iter()
        .map(|h| (h.id, h.score))
        .collect()
}

#[tokio::test]
async fn a_hit_returns_what_the_store_returned_and_identical_requests_share_a_key() {
    let f = fixture().await;
    let redis = server();
    let cached = CachedStore::connect(&f.store, CacheConfig::new(redis.url()))
        .await
        .unwrap();
    assert!(cached.is_enabled() && cached.warning().is_none());
    let qs = &f.queries[..20];
    for q in qs {
        let truth = ids(&f.store, q).await;
        assert_eq!(truth.len(), 10);
        assert_eq!(ids(&cached, q).await, truth, "miss");
        assert_eq!(ids(&cached, q).await, truth, "hit");
        // An equal but separately built query is the same request.
        assert_eq!(ids(&cached, &q.clone()).await, truth, "hit");
    }
    let s = cached.snapshot();
    assert_eq!((s.misses, s.hits_l2, s.hits_l1), (20, 40, 0), "{s:?}");
    assert_eq!(s.errors.total(), 0, "{s:?}");
    assert_eq!(s.writes, 20);
    assert!((s.hit_rate - 40.0 / 60.0).abs() < 1e-9);
    // Key + 9 header bytes + 10 hits of 12 bytes.
    let key_len = cache_key(NAME, &qs[0]).len() as f64;
    assert_eq!(s.bytes_per_entry, Some(key_len + 129.0));
    assert_eq!(s.hit_l2.samples, 40);
    assert_eq!(s.miss.samples, 20);
    assert_eq!(s.lookup.samples, 60);

    // Any field that differs is another request: a miss, answered by the store.
    let q = &qs[0];
    let variants = [
        Query { k: 5, ..q.clone() },
        Query {
            ef: Some(32),
            ..q.clone()
        },
        q.clone().exact(),
        {
            let mut v = q.clone();
            v.vector[0] += 1e-3;
            v
        },
    ];
    for v in &variants {
        assert_eq!(ids(&cached, v).await, ids(&f.store, v).await);
    }
    assert_eq!(cached.snapshot().misses, 24, "every variant missed");

    // The entries carry the TTL.
    let mut conn = redis_conn(&redis.url()).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(cache_key(NAME, q))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((3500..=3600).contains(&ttl), "TTL {ttl}");
}

#[tokio::test]
async fn the_l1_tier_answers_before_redis_and_is_counted_apart() {
    let f = fixture().await;
    let redis = server();
    let config = CacheConfig::new(redis.url())
        .with_l1_bytes(1 << 20)
        .with_ttl_secs(120)
        .unwrap();
    let cached = CachedStore::connect(&f.store, config.clone())
        .await
        .unwrap();
    let q = &f.queries[0];
    let truth = ids(&f.store, q).await;
    assert_eq!(ids(&cached, q).await, truth);
    assert_eq!(ids(&cached, q).await, truth);
    let s = cached.snapshot();
    assert_eq!((s.misses, s.hits_l1, s.hits_l2), (1, 1, 0), "{s:?}");
    // A second process (empty L1) finds the entry in Redis, then keeps it in its own L1.
    let other = CachedStore::connect(&f.store, config).await.unwrap();
    assert_eq!(ids(&other, q).await, truth);
    assert_eq!(ids(&other, q).await, truth);
    let s = other.snapshot();
    assert_eq!((s.misses, s.hits_l2, s.hits_l1), (0, 1, 1), "{s:?}");
    let mut conn = redis_conn(&redis.url()).await;
    let ttl: i64 = redis::cmd("TTL")
        .arg(cache_key(NAME, q))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((1..=120).contains(&ttl), "TTL {ttl}");
}

#[tokio::test]
async fn a_batch_reads_with_one_mget_and_fills_only_what_was_missing() {
    let f = fixture().await;
    let redis = server();
    let cached = CachedStore::connect(&f.store, CacheConfig::new(redis.url()))
        .await
        .unwrap();
    let qs = &f.queries[..10];
    for q in &qs[..4] {
        cached.search(NAME, q).await.unwrap();
    }
    let truth = f.store.search_batch(NAME, qs).await.unwrap().results;
    let got = cached.search_batch(NAME, qs).await.unwrap().results;
    assert_eq!(got, truth);
    let s = cached.snapshot();
    assert_eq!((s.misses, s.hits_l2), (4 + 6, 4), "{s:?}");
    let again = cached.search_batch(NAME, qs).await.unwrap().results;
    assert_eq!(again, truth);
    assert_eq!(cached.snapshot().hits_l2, 14);
}

#[tokio::test]
async fn a_value_that_is_not_ours_is_a_miss_and_is_overwritten() {
    let f = fixture().await;
    let redis = server();
    let cached = CachedStore::connect(&f.store, CacheConfig::new(redis.url()))
        .await
        .unwrap();
    let q = &f.queries[3];
    let key = cache_key(NAME, q);
    let mut conn = redis_conn(&redis.url()).await;
    for foreign in [
        &b"another program's value"[..],
        b"QPC1\0\x05\0\0\0short",
        b"",
    ] {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(foreign)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(ids(&cached, q).await, ids(&f.store, q).await);
        let stored: Vec<u8> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let hits = decode_value(&stored).expect("overwritten with our value");
        assert_eq!(hits.len(), 10);
    }
    let s = cached.snapshot();
    assert_eq!((s.foreign_values, s.misses, s.hits_l2), (3, 3, 0), "{s:?}");
    assert_eq!(ids(&cached, q).await, ids(&f.store, q).await);
    assert_eq!(cached.snapshot().hits_l2, 1);
}

#[tokio::test]
async fn redis_not_running_is_a_clear_error_or_in_optional_mode_a_warning() {
    let f = fixture().await;
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let err = CachedStore::connect(&f.store, CacheConfig::new(&url))
        .await
        .err()
        .expect("no Redis there");
    assert!(matches!(err, CacheError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&url) && msg.contains("REDIS_URL") && msg.contains("cache mode `optional`"),
        "{msg}"
    );

    let cached = CachedStore::connect(
        &f.store,
        CacheConfig::new(&url).with_mode(CacheMode::Optional),
    )
    .await
    .unwrap();
    assert!(!cached.is_enabled());
    assert!(cached.warning().unwrap().contains(&url));
    for q in &f.queries[..5] {
        assert_eq!(ids(&cached, q).await, ids(&f.store, q).await);
        assert_eq!(ids(&cached, q).await, ids(&f.store, q).await);
    }
    let s = cached.snapshot();
    assert_eq!((s.misses, s.hits_l2, s.hit_rate), (10, 0, 0.0), "{s:?}");
    let m = cached.measurements().await;
    assert!(!m.enabled && m.redis.is_none());
}

#[tokio::test]
async fn searches_survive_redis_dying_and_the_cache_recovers_when_it_returns() {
    let f = fixture().await;
    let mut redis = server();
    let cached = CachedStore::connect(
        &f.store,
        CacheConfig::new(redis.url()).with_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    for q in &f.queries[..10] {
        cached.search(NAME, q).await.unwrap();
        cached.search(NAME, q).await.unwrap();
    }
    assert_eq!(cached.snapshot().hits_l2, 10);

    redis.kill();
    for q in &f.queries[..20] {
        assert_eq!(
            ids(&cached, q).await,
            ids(&f.store, q).await,
            "store answers"
        );
    }
    let s = cached.snapshot();
    assert!(s.errors.total() > 0, "errors counted: {s:?}");
    assert_eq!(s.hits_l2, 10, "nothing came from a dead Redis");
    assert_eq!(s.misses, 10 + 20);

    redis.restart().unwrap();
    // The connection comes back by itself; the restarted Redis is empty (no persistence), so a
    // query misses once and then hits.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let q = &f.queries[30];
    loop {
        assert_eq!(ids(&cached, q).await, ids(&f.store, q).await);
        if cached.snapshot().hits_l2 > 10 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no hit 20 s after Redis came back: {:?}",
            cached.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let errors_after = cached.snapshot().errors.total();
    for q in &f.queries[40..50] {
        cached.search(NAME, q).await.unwrap();
        cached.search(NAME, q).await.unwrap();
    }
    let s = cached.snapshot();
    assert_eq!(s.errors.total(), errors_after, "healthy again: {s:?}");
    assert!(s.hits_l2 >= 21, "{s:?}");
}

/// Entries in the Redis at `url` (`DBSIZE`): a search that reached Redis and missed wrote one.
async fn entries(url: &str) -> u64 {
    redis::cmd("DBSIZE")
        .query_async(&mut redis_conn(url).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn after_a_connection_failure_redis_is_left_alone_for_the_retry_window_then_tried_again() {
    let f = fixture().await;
    let mut redis = server();
    let url = redis.url();
    // A window far longer than the test: nothing inside it may reach Redis.
    let long = CachedStore::connect(
        &f.store,
        CacheConfig::new(&url).with_retry_after(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    // A short one: once it has passed, Redis is tried again.
    let short = CachedStore::connect(
        &f.store,
        CacheConfig::new(&url).with_retry_after(Duration::from_millis(100)),
    )
    .await
    .unwrap();
    let [q0, q1, q2, q3] = [0, 1, 2, 3].map(|i| &f.queries[i]);
    long.search(NAME, q0).await.unwrap();
    assert_eq!(entries(&url).await, 1, "a healthy Redis is used");

    redis.kill();
    for cached in [&long, &short] {
        assert_eq!(ids(cached, q1).await, ids(&f.store, q1).await);
        assert!(
            cached.snapshot().errors.total() > 0,
            "the failure is counted"
        );
    }
    redis.restart().unwrap();
    assert_eq!(entries(&url).await, 0, "the restarted Redis is empty");

    // Within the window: answered by the store, counted as a failure, and Redis never asked.
    let before = long.snapshot().errors.total();
    for q in [q1, q2, q3] {
        assert_eq!(ids(&long, q).await, ids(&f.store, q).await);
    }
    let s = long.snapshot();
    assert_eq!(s.errors.total(), before + 3, "each request counted: {s:?}");
    assert_eq!(
        entries(&url).await,
        0,
        "Redis was not reached within the window"
    );

    // After the window: Redis is tried again, and the connection comes back by itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while entries(&url).await == 0 {
        assert_eq!(ids(&short, q2).await, ids(&f.store, q2).await);
        assert!(
            std::time::Instant::now() < deadline,
            "Redis not tried again 20 s after the window: {:?}",
            short.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(
        long.snapshot().errors.total(),
        before + 3,
        "the long window still holds"
    );
}

#[tokio::test]
async fn a_wrong_password_says_authentication_failed_without_showing_it() {
    let f = fixture().await;
    let redis = RedisServer::start_with_password("right-horse-battery").unwrap();
    let port = redis.port();
    for url in [
        format!("redis://:wrong-staple@127.0.0.1:{port}"),
        format!("redis://default:wrong-staple@127.0.0.1:{port}"),
        format!("redis://127.0.0.1:{port}"),
    ] {
        let err = CachedStore::connect(&f.store, CacheConfig::new(&url))
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} was accepted"));
        let msg = err.to_string();
        assert!(matches!(err, CacheError::Auth { .. }), "{url}: {msg}");
        assert!(msg.contains("authentication failed"), "{msg}");
        assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
        assert!(
            !msg.contains("wrong-staple") && !msg.contains("right-horse"),
            "a password in: {msg}"
        );
        assert!(!format!("{err:?}").contains("wrong-staple"));
    }
    let cached = CachedStore::connect(&f.store, CacheConfig::new(redis.url()))
        .await
        .unwrap();
    let q = &f.queries[0];
    cached.search(NAME, q).await.unwrap();
    cached.search(NAME, q).await.unwrap();
    assert_eq!(cached.snapshot().hits_l2, 1);
    let m = cached.measurements().await;
    assert!(!serde_json::to_string(&m).unwrap().contains("right-horse"));
    assert!(m.url.contains("***@127.0.0.1"), "{}", m.url);
}

#[tokio::test]
async fn measurements_report_redis_memory_and_entry_size() {
    let f = fixture().await;
    let redis = server();
    let cached = CachedStore::connect(&f.store, CacheConfig::new(redis.url()))
        .await
        .unwrap();
    let before = cached.measurements().await.redis.unwrap();
    for q in &f.queries {
        cached.search(NAME, q).await.unwrap();
    }
    let m = cached.measurements().await;
    let r = m.redis.as_ref().unwrap();
    assert_eq!(r.keys, 60);
    assert!(r.used_memory > before.used_memory, "{before:?} -> {r:?}");
    assert_eq!(m.stats.writes, 60);
    assert!(m.stats.bytes_per_entry.unwrap() > 129.0);
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["stats"]["misses"], 60);
    assert_eq!(json["ttl_seconds"], 3600);

    // Clearing a collection deletes exactly its entries.
    assert_eq!(cached.clear_collection(NAME).await.unwrap(), 60);
    assert_eq!(cached.measurements().await.redis.unwrap().keys, 0);
}
