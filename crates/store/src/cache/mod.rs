//! Search-result caching in front of any [`Store`]: [`CachedStore`] does cache-aside with Redis
//! (the deployment's L2 tier) and an optional in-process L1 tier, and records what it did.
//!
//! - Key: `qperf:v1:<collection>:<xxh3-128 of every query field>` ([`key`]); value: the hits in a
//!   compact binary form ([`value`]); both documented in their modules.
//! - A search looks in L1, then Redis; on a miss the inner store answers and the result is
//!   written to Redis (`SET key value EX ttl`) and L1. A batch does one `MGET` for its L1 misses,
//!   one inner `search_batch` for what is still missing, and one pipeline of `SET`s.
//! - A cache failure never fails a search: the store answers, the error is counted by kind
//!   ([`CacheStatsSnapshot::errors`]). Every Redis call has a timeout, so a dead or stalled Redis
//!   cannot hang a search, and the connection ([`redis::aio::ConnectionManager`]) reconnects by
//!   itself when Redis comes back. After a connection failure or a timeout the cache stays out of
//!   the way for [`CacheConfig::retry_after`] ([`RETRY_AFTER`] unless set; each request in that
//!   time goes straight to the store and is counted as a failure of the same kind), then tries
//!   Redis again: a lost Redis costs the
//!   searches their cache, not a reconnect delay each.
//! - Writes (`create`, `upsert`, `delete`, `drop_owned`) pass through. Like the deployment's cache, entries
//!   expire by TTL only: an upsert or delete does not invalidate them. `create` and `drop_owned` clear the
//!   collection's entries, since a new collection is new data.
//!

mod key;
mod stats;
mod value;

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::spec::{
    BatchResponse, CollectionSpec, Created, Engine, Footprint, Hit, IndexState, Point, Query,
    SearchResponse,
};
use crate::store::Store;

pub use key::{KEY_PREFIX, cache_key, canonical_bytes, query_hash};
pub use stats::{
    CacheHistograms, CacheOutcome, CacheStats, CacheStatsSnapshot, ErrorCounts, ErrorKind,
    LatencySummary,
};
pub use value::{MAGIC as VALUE_MAGIC, decode as decode_value, encode as encode_value};

/// Where Redis is unless `REDIS_URL` says otherwise.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The deployment's TTL (performance-tests.yaml: caching.cache_ttl).
pub const DEFAULT_TTL_SECONDS: u64 = 3600;

/// How long one Redis operation may take before the cache gives up on it (and the store
/// answers): far above a healthy Redis's sub-millisecond answers, far below a stuck search.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The deployment's cache targets: hit rate above 90 %...
pub const TARGET_HIT_RATE: f64 = 0.90;
/// ...and cache latency below 5 ms.
pub const TARGET_LATENCY_MS: f64 = 5.0;

/// What can go wrong setting up the cache. (Failures during searches are counted, not raised.)
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "cannot reach Redis at {url}: {message}. Is redis-server running there? Check REDIS_URL \
         (default {DEFAULT_REDIS_URL}), or make the cache optional (cache mode `optional`) to \
         measure without it"
    )]
    Unreachable { url: String, message: String },

    #[error(
        "authentication failed at {url}: {message}. Put the server's password in REDIS_URL: \
         redis://:PASSWORD@host:6379 (or redis://USER:PASSWORD@host:6379 for an ACL user)"
    )]
    Auth { url: String, message: String },

    #[error(
        "REDIS_URL {url} is not a Redis URL: {message}; expected redis://[USER:PASSWORD@]HOST:PORT[/DB], \
         e.g. {DEFAULT_REDIS_URL}"
    )]
    InvalidUrl { url: String, message: String },

    #[error(
        "invalid cache TTL {value}: it must be a whole number of seconds > 0 \
         (the deployment uses {DEFAULT_TTL_SECONDS}, performance-tests.yaml caching.cache_ttl)"
    )]
    InvalidTtl { value: String },

    #[error(
        "invalid cache mode `{value}`: use `required` (fail when Redis is down) or `optional` (warn and run uncached)"
    )]
    InvalidMode { value: String },
}

/// A cache entry's time to live: a positive whole number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u64")]
pub struct Ttl(u64);

impl Ttl {
    /// Refuses 0 and negative values: an entry that never lives, or lives forever by accident.
    pub fn from_secs(secs: i64) -> Result<Self, CacheError> {
        if secs <= 0 {
            return Err(CacheError::InvalidTtl {
                value: secs.to_string(),
            });
        }
        Ok(Self(secs as u64))
    }

    pub fn secs(&self) -> u64 {
        self.0
    }
}

impl Default for Ttl {
    fn default() -> Self {
        Self(DEFAULT_TTL_SECONDS)
    }
}

impl TryFrom<i64> for Ttl {
    type Error = CacheError;
    fn try_from(secs: i64) -> Result<Self, CacheError> {
        Self::from_secs(secs)
    }
}

impl From<Ttl> for u64 {
    fn from(t: Ttl) -> u64 {
        t.0
    }
}

/// What to do when Redis cannot be reached at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// Fail with an error that names the URL (the default: a cache benchmark without a cache
    /// measures nothing).
    #[default]
    Required,
    /// Print a warning and run uncached (every search goes to the store).
    Optional,
}

impl FromStr for CacheMode {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self, CacheError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "required" => Ok(CacheMode::Required),
            "optional" => Ok(CacheMode::Optional),
            _ => Err(CacheError::InvalidMode { value: s.into() }),
        }
    }
}

/// How to reach and use the cache.
#[derive(Clone, PartialEq)]
pub struct CacheConfig {
    /// `redis://[USER:PASSWORD@]HOST:PORT[/DB]`; the password is never printed.
    pub url: String,
    pub ttl: Ttl,
    pub mode: CacheMode,
    /// Bytes of the in-process L1 tier; 0 turns it off (the default: Redis alone).
    pub l1_bytes: u64,
    /// Limit of each Redis operation (and of connecting).
    pub timeout: Duration,
    /// How long after a connection failure or a timeout Redis is left alone (each request in
    /// that time goes straight to the store, counted as a failure of the same kind).
    pub retry_after: Duration,
}

impl fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheConfig")
            .field("url", &redact_url(&self.url))
            .field("ttl", &self.ttl)
            .field("mode", &self.mode)
            .field("l1_bytes", &self.l1_bytes)
            .field("timeout", &self.timeout)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl CacheConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ttl: Ttl::default(),
            mode: CacheMode::Required,
            l1_bytes: 0,
            timeout: DEFAULT_TIMEOUT,
            retry_after: RETRY_AFTER,
        }
    }

    /// `REDIS_URL`, or [`DEFAULT_REDIS_URL`].
    pub fn from_env() -> Self {
        Self::new(
            std::env::var("REDIS_URL")
                .ok()
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_REDIS_URL.into()),
        )
    }

    pub fn with_ttl(mut self, ttl: Ttl) -> Self {
        self.ttl = ttl;
        self
    }

    /// The TTL in seconds; 0 or negative is refused.
    pub fn with_ttl_secs(self, secs: i64) -> Result<Self, CacheError> {
        Ok(self.with_ttl(Ttl::from_secs(secs)?))
    }

    pub fn with_mode(mut self, mode: CacheMode) -> Self {
        self.mode = mode;
        self
    }

    /// Turns on the in-process tier with room for `bytes` (0 turns it off).
    pub fn with_l1_bytes(mut self, bytes: u64) -> Self {
        self.l1_bytes = bytes;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The URL with any user and password replaced by `***`: what messages print.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// `redis://user:secret@host:6379/0` -> `redis://***@host:6379/0`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The password part of a URL's user info, to scrub from messages.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let password = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
    (!password.is_empty()).then(|| password.to_string())
}

/// What the in-process tier keeps: decoded hits and their approximate size.
struct L1Entry {
    hits: Vec<Hit>,
    weight: u32,
}

type L1 = moka::sync::Cache<String, Arc<L1Entry>>;

/// A [`Store`] whose searches go through the cache (see the module docs).
pub struct CachedStore<S> {
    inner: S,
    config: CacheConfig,
    redis: Option<ConnectionManager>,
    l1: Option<L1>,
    stats: Arc<CacheStats>,
    warning: Option<String>,
    password: Option<String>,
    /// Until when Redis is left alone after a connection failure or a timeout (and its kind).
    down: std::sync::Mutex<Option<(Instant, ErrorKind)>>,
}

/// How long the cache leaves a failed Redis alone before trying it again, by default.
pub const RETRY_AFTER: Duration = Duration::from_millis(250);

pub use qdrant_perf_report::cache::{CacheMeasurements, RedisMemory};

fn classify(e: &redis::RedisError) -> ErrorKind {
    if matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
        || matches!(e.kind(), redis::ErrorKind::AuthenticationFailed)
    {
        ErrorKind::Auth
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        ErrorKind::Connection
    } else if matches!(
        e.kind(),
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
    ) {
        ErrorKind::Server
    } else {
        ErrorKind::Other
    }
}

/// An operation failure: its kind and message.
type OpError = (ErrorKind, String);

impl<S: Store> CachedStore<S> {
    /// Connects to Redis (failing with a clear error, or in [`CacheMode::Optional`] warning and
    /// running uncached) and wraps `inner`.
    pub async fn connect(inner: S, config: CacheConfig) -> Result<Self, CacheError> {
        let password = url_password(&config.url);
        let l1 = (config.l1_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(config.l1_bytes)
                .weigher(|_key: &String, entry: &Arc<L1Entry>| entry.weight)
                .time_to_live(Duration::from_secs(config.ttl.secs()))
                .build()
        });
        let mut store = Self {
            inner,
            redis: None,
            l1,
            stats: Arc::new(CacheStats::default()),
            warning: None,
            password,
            config,
            down: std::sync::Mutex::new(None),
        };
        match store.open().await {
            Ok(conn) => store.redis = Some(conn),
            Err(e) => match store.config.mode {
                CacheMode::Required => return Err(e),
                CacheMode::Optional => {
                    let warning = format!(
                        "warning: {e}. Running without the Redis cache (cache mode optional): every \
                         search goes to the store{}",
                        if store.l1.is_some() {
                            " or the in-process tier"
                        } else {
                            ""
                        }
                    );
                    eprintln!("{warning}");
                    store.warning = Some(warning);
                }
            },
        }
        Ok(store)
    }

    fn scrub(&self, message: impl fmt::Display) -> String {
        let message = message.to_string();
        match &self.password {
            Some(p) => message.replace(p.as_str(), "***"),
            None => message,
        }
    }

    async fn open(&self) -> Result<ConnectionManager, CacheError> {
        let url = self.config.redacted_url();
        let client =
            redis::Client::open(self.config.url.as_str()).map_err(|e| CacheError::InvalidUrl {
                url: url.clone(),
                message: self.scrub(e),
            })?;
        let timeout = self.config.timeout.max(Duration::from_millis(50));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // Reconnect quickly when Redis returns; while it is down each request fails fast.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(200));
        let unreachable = |message: String| CacheError::Unreachable {
            url: url.clone(),
            message,
        };
        let failed = |e: redis::RedisError| match classify(&e) {
            ErrorKind::Auth => CacheError::Auth {
                url: url.clone(),
                message: self.scrub(&e),
            },
            _ => unreachable(self.scrub(&e)),
        };
        let mut conn = tokio::time::timeout(
            timeout * 4,
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        .map_err(|_| unreachable(format!("no connection within {:?}", timeout * 4)))?
        .map_err(failed)?;
        // A server with a password accepts a connection without one, then refuses commands.
        let pong =
            tokio::time::timeout(timeout, redis::cmd("PING").query_async::<String>(&mut conn))
                .await
                .map_err(|_| unreachable(format!("no answer to PING within {timeout:?}")))?
                .map_err(|e| match classify(&e) {
                    ErrorKind::Auth => CacheError::Auth {
                        url: url.clone(),
                        message: format!(
                            "the server requires a password and REDIS_URL {} ({})",
                            if self.password.is_some() {
                                "has one it refused"
                            } else {
                                "has none"
                            },
                            self.scrub(&e)
                        ),
                    },
                    _ => unreachable(self.scrub(&e)),
                })?;
        if pong != "PONG" {
            return Err(unreachable(format!("PING answered {pong:?}")));
        }
        Ok(conn)
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// True when Redis was reached at start (false only in optional mode).
    pub fn is_enabled(&self) -> bool {
        self.redis.is_some()
    }

    /// The warning printed when optional mode fell back to running uncached.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Shared counters and histograms (they keep counting while the store is used).
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }

    pub fn snapshot(&self) -> CacheStatsSnapshot {
        self.stats.snapshot()
    }

    /// Empties the in-process tier (Redis keeps its entries).
    pub fn clear_l1(&self) {
        if let Some(l1) = &self.l1 {
            l1.invalidate_all();
        }
    }

    fn down_guard(&self) -> std::sync::MutexGuard<'_, Option<(Instant, ErrorKind)>> {
        self.down.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one Redis operation under the cache's timeout (not at all within
    /// [`CacheConfig::retry_after`] of a connection failure or a timeout).
    async fn timed<T>(
        &self,
        operation: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, OpError> {
        if let Some((until, kind)) = *self.down_guard()
            && Instant::now() < until
        {
            return Err((
                kind,
                format!(
                    "Redis failed less than {:?} ago; not tried",
                    self.config.retry_after
                ),
            ));
        }
        let result = match tokio::time::timeout(self.config.timeout, operation).await {
            Err(_) => Err((
                ErrorKind::Timeout,
                format!("no answer within {:?}", self.config.timeout),
            )),
            Ok(Err(e)) => Err((classify(&e), self.scrub(&e))),
            Ok(Ok(v)) => Ok(v),
        };
        *self.down_guard() = match &result {
            Err((kind @ (ErrorKind::Connection | ErrorKind::Timeout), _)) => {
                Some((Instant::now() + RETRY_AFTER, *kind))
            }
            _ => None,
        };
        result
    }

    /// One PING to Redis on the cache's connection: its round trip as the client sees it (as
    /// `redis-cli --latency` measures). Not counted in the cache's statistics. `None` when the
    /// cache runs without Redis.
    pub async fn ping(&self) -> Option<Result<Duration, String>> {
        let mut c = self.redis.clone()?;
        let started = Instant::now();
        Some(
            self.timed(async { redis::cmd("PING").query_async::<String>(&mut c).await })
                .await
                .map(|_| started.elapsed())
                .map_err(|(_, message)| message),
        )
    }

    /// Deletes the entry of one search from Redis and L1 (the next identical search misses).
    pub async fn invalidate(&self, collection: &str, query: &Query) -> Result<(), String> {
        let key = cache_key(collection, query);
        if let Some(l1) = &self.l1 {
            l1.invalidate(&key);
        }
        let Some(mut c) = self.redis.clone() else {
            return Ok(());
        };
        self.timed(async {
            redis::cmd("UNLINK")
                .arg(&key)
                .query_async::<u64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
        .map_err(|(kind, message)| {
            self.stats.error(kind);
            message
        })
    }

    /// Deletes the suite's entries of `collection` from Redis (SCAN + UNLINK) and L1; the number
    /// of Redis keys deleted. Benches call it to start from a cold cache.
    pub async fn clear_collection(&self, collection: &str) -> Result<u64, String> {
        self.clear_l1();
        let Some(mut c) = self.redis.clone() else {
            return Ok(0);
        };
        let pattern = format!("{KEY_PREFIX}{collection}:*");
        // A whole SCAN of a large keyspace can take longer than one operation's timeout.
        let deleted = tokio::time::timeout(self.config.timeout * 20, async {
            let mut cursor: u64 = 0;
            let mut deleted = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut c)
                    .await?;
                if !keys.is_empty() {
                    let n: u64 = redis::cmd("UNLINK").arg(&keys).query_async(&mut c).await?;
                    deleted += n;
                }
                if next == 0 {
                    return Ok::<u64, redis::RedisError>(deleted);
                }
                cursor = next;
            }
        })
        .await;
        match deleted {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => {
                self.stats.error(classify(&e));
                Err(self.scrub(&e))
            }
            Err(_) => {
                self.stats.error(ErrorKind::Timeout);
                Err("SCAN did not finish in time".into())
            }
        }
    }

    /// Redis's `INFO memory` and `INFO stats` figures, and its key count.
    pub async fn redis_memory(&self) -> Option<Result<RedisMemory, String>> {
        let mut c = self.redis.clone()?;
        let r = self
            .timed(async {
                let memory: String = redis::cmd("INFO").arg("memory").query_async(&mut c).await?;
                let stats: String = redis::cmd("INFO").arg("stats").query_async(&mut c).await?;
                let keys: u64 = redis::cmd("DBSIZE").query_async(&mut c).await?;
                Ok::<_, redis::RedisError>((memory, stats, keys))
            })
            .await;
        Some(match r {
            Ok((memory, stats, keys)) => {
                let field = |text: &str, name: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                        .map(|v| v.trim().to_string())
                };
                let number =
                    |text: &str, name: &str| field(text, name).and_then(|v| v.parse::<u64>().ok());
                number(&memory, "used_memory")
                    .map(|used_memory| RedisMemory {
                        used_memory,
                        used_memory_peak: number(&memory, "used_memory_peak").unwrap_or(0),
                        maxmemory: number(&memory, "maxmemory").unwrap_or(0),
                        maxmemory_policy: field(&memory, "maxmemory_policy").unwrap_or_default(),
                        evicted_keys: number(&stats, "evicted_keys").unwrap_or(0),
                        keys,
                    })
                    .ok_or_else(|| "INFO memory has no used_memory field".to_string())
            }
            Err((kind, message)) => {
                self.stats.error(kind);
                Err(message)
            }
        })
    }

    /// Everything the load and validate commands report about the cache.
    pub async fn measurements(&self) -> CacheMeasurements {
        CacheMeasurements {
            url: self.config.redacted_url(),
            enabled: self.is_enabled(),
            ttl_seconds: self.config.ttl.secs(),
            l1_bytes: self.config.l1_bytes,
            stats: self.stats.snapshot(),
            redis: self.redis_memory().await.and_then(|r| r.ok()),
        }
    }

    fn l1_get(&self, key: &str) -> Option<Vec<Hit>> {
        self.l1.as_ref()?.get(key).map(|e| e.hits.clone())
    }

    fn l1_put(&self, key: String, hits: &[Hit], encoded_len: usize) {
        if let Some(l1) = &self.l1 {
            // Approximate room taken: key, hits in memory, payload bytes, bookkeeping.
            let weight = key.len()
                + std::mem::size_of_val(hits)
                + encoded_len.saturating_sub(9 + 12 * hits.len())
                + 64;
            l1.insert(
                key,
                Arc::new(L1Entry {
                    hits: hits.to_vec(),
                    weight: weight.min(u32::MAX as usize) as u32,
                }),
            );
        }
    }

    /// Writes entries to Redis in one pipeline; counts the error if it fails.
    async fn write(&self, entries: &[(String, Vec<u8>)]) {
        let Some(mut c) = self.redis.clone().filter(|_| !entries.is_empty()) else {
            return;
        };
        let ttl = self.config.ttl.secs();
        let started = Instant::now();
        let mut pipe = redis::pipe();
        for (key, value) in entries {
            pipe.cmd("SET")
                .arg(key)
                .arg(value)
                .arg("EX")
                .arg(ttl)
                .ignore();
        }
        match self.timed(pipe.query_async::<()>(&mut c)).await {
            Ok(()) => {
                let took = started.elapsed();
                for (key, value) in entries {
                    self.stats.write(key.len() + value.len(), took);
                }
            }
            Err((kind, _)) => self.stats.error(kind),
        }
    }
}

impl<S: Store> Store for CachedStore<S> {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }

    async fn create(&self, spec: &CollectionSpec) -> Result<Created> {
        let created = self.inner.create(spec).await?;
        let _ = self.clear_collection(&spec.name).await;
        Ok(created)
    }

    async fn upsert(&self, name: &str, batch: &[Point]) -> Result<()> {
        self.inner.upsert(name, batch).await
    }

    async fn delete(&self, name: &str, ids: &[u64]) -> Result<()> {
        self.inner.delete(name, ids).await
    }

    async fn wait_indexed(&self, name: &str) -> Result<IndexState> {
        self.inner.wait_indexed(name).await
    }

    async fn search(&self, name: &str, query: &Query) -> Result<SearchResponse> {
        let started = Instant::now();
        let key = cache_key(name, query);
        if let Some(hits) = self.l1_get(&key) {
            let took = started.elapsed();
            self.stats.lookup(took);
            self.stats.request(CacheOutcome::HitL1, took);
            return Ok(SearchResponse {
                hits,
                server_seconds: None,
                node: None,
            });
        }
        let mut redis_answered = true;
        let looked_up = match self.redis.clone() {
            Some(mut c) => Some(
                self.timed(async {
                    redis::cmd("GET")
                        .arg(&key)
                        .query_async::<Option<Vec<u8>>>(&mut c)
                        .await
                })
                .await,
            ),
            None => None,
        };
        match looked_up {
            Some(Ok(Some(bytes))) => match value::decode(&bytes) {
                Ok(hits) => {
                    self.stats.lookup(started.elapsed());
                    self.l1_put(key, &hits, bytes.len());
                    self.stats.request(CacheOutcome::HitL2, started.elapsed());
                    return Ok(SearchResponse {
                        hits,
                        server_seconds: None,
                        node: None,
                    });
                }
                Err(_) => self.stats.foreign(),
            },
            Some(Ok(None)) => {}
            Some(Err((kind, _))) => {
                self.stats.error(kind);
                // The write would most likely fail too and cost another timeout.
                redis_answered = false;
            }
            None => {}
        }
        self.stats.lookup(started.elapsed());
        let response = self.inner.search(name, query).await?;
        let bytes = value::encode(&response.hits);
        self.l1_put(key.clone(), &response.hits, bytes.len());
        if redis_answered {
            self.write(&[(key, bytes)]).await;
        }
        self.stats.request(CacheOutcome::Miss, started.elapsed());
        Ok(response)
    }

    async fn search_batch(&self, name: &str, queries: &[Query]) -> Result<BatchResponse> {
        let started = Instant::now();
        let keys: Vec<String> = queries.iter().map(|q| cache_key(name, q)).collect();
        let mut results: Vec<Option<Vec<Hit>>> = keys.iter().map(|k| self.l1_get(k)).collect();
        let mut outcomes: Vec<CacheOutcome> = results
            .iter()
            .map(|r| {
                if r.is_some() {
                    CacheOutcome::HitL1
                } else {
                    CacheOutcome::Miss
                }
            })
            .collect();
        let wanted: Vec<usize> = (0..queries.len())
            .filter(|&i| results[i].is_none())
            .collect();
        let mut redis_answered = true;
        if !wanted.is_empty() {
            let wanted_keys: Vec<&String> = wanted.iter().map(|&i| &keys[i]).collect();
            let looked_up = match self.redis.clone() {
                Some(mut c) => Some(
                    self.timed(async {
                        redis::cmd("MGET")
                            .arg(&wanted_keys)
                            .query_async::<Vec<Option<Vec<u8>>>>(&mut c)
                            .await
                    })
                    .await,
                ),
                None => None,
            };
            match looked_up {
                Some(Ok(values)) => {
                    for (&i, v) in wanted.iter().zip(values) {
                        let Some(bytes) = v else { continue };
                        match value::decode(&bytes) {
                            Ok(hits) => {
                                self.l1_put(keys[i].clone(), &hits, bytes.len());
                                results[i] = Some(hits);
                                outcomes[i] = CacheOutcome::HitL2;
                            }
                            Err(_) => self.stats.foreign(),
                        }
                    }
                }
                Some(Err((kind, _))) => {
                    self.stats.error(kind);
                    redis_answered = false;
                }
                None => {}
            }
        }
        let lookup = started.elapsed();
        for _ in queries {
            self.stats.lookup(lookup);
        }
        let missing: Vec<usize> = (0..queries.len())
            .filter(|&i| results[i].is_none())
            .collect();
        let (mut server_seconds, mut node) = (None, None);
        if !missing.is_empty() {
            let miss_queries: Vec<Query> = missing.iter().map(|&i| queries[i].clone()).collect();
            let response = self.inner.search_batch(name, &miss_queries).await?;
            server_seconds = response.server_seconds;
            node = response.node;
            let mut entries = Vec::with_capacity(missing.len());
            for (&i, hits) in missing.iter().zip(response.results) {
                let bytes = value::encode(&hits);
                self.l1_put(keys[i].clone(), &hits, bytes.len());
                entries.push((keys[i].clone(), bytes));
                results[i] = Some(hits);
            }
            if redis_answered {
                self.write(&entries).await;
            }
        }
        let took = started.elapsed();
        for o in &outcomes {
            self.stats.request(*o, took);
        }
        Ok(BatchResponse {
            results: results.into_iter().map(Option::unwrap_or_default).collect(),
            server_seconds,
            node,
        })
    }

    async fn count(&self, name: &str) -> Result<usize> {
        self.inner.count(name).await
    }

    async fn footprint(&self, name: &str) -> Result<Footprint> {
        self.inner.footprint(name).await
    }

    async fn drop_owned(&self, name: &str) -> Result<()> {
        self.inner.drop_owned(name).await?;
        let _ = self.clear_collection(name).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_and_passwords_found() {
        assert_eq!(
            redact_url("redis://user:s3cret@10.0.0.1:6379/2"),
            "redis://***@10.0.0.1:6379/2"
        );
        assert_eq!(redact_url("redis://:s3cret@h:1"), "redis://***@h:1");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(
            url_password("redis://user:s3cret@h:1/0").as_deref(),
            Some("s3cret")
        );
        assert_eq!(url_password("redis://:pw@h:1").as_deref(), Some("pw"));
        assert_eq!(url_password("redis://h:1"), None);
        let config = CacheConfig::new("redis://:s3cret@h:1");
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn ttl_must_be_positive() {
        for bad in [0, -1, -3600] {
            let err = Ttl::from_secs(bad).unwrap_err().to_string();
            assert!(
                err.contains(&bad.to_string()) && err.contains("> 0") && err.contains("3600"),
                "{err}"
            );
        }
        assert_eq!(Ttl::from_secs(60).unwrap().secs(), 60);
        assert!(serde_json::from_str::<Ttl>("-5").is_err());
        assert_eq!(Ttl::default().secs(), 3600);
        assert!(
            CacheConfig::new(DEFAULT_REDIS_URL)
                .with_ttl_secs(0)
                .is_err()
        );
    }

    #[test]
    fn modes_parse_and_bad_ones_name_the_choices() {
        assert_eq!(
            "optional".parse::<CacheMode>().unwrap(),
            CacheMode::Optional
        );
        assert_eq!(
            "Required".parse::<CacheMode>().unwrap(),
            CacheMode::Required
        );
        let err = "maybe".parse::<CacheMode>().unwrap_err().to_string();
        assert!(
            err.contains("required") && err.contains("optional"),
            "{err}"
        );
    }
}
