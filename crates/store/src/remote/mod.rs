//! Qdrant servers: where they are, how to reach them, and what they say about themselves.
//!
//! `QDRANT_URL` picks the store by its scheme (several URLs, comma separated, spread the load over
//! the nodes of a cluster):
//!
//! | URL | store |
//! |---|---|
//! | `grpc://host:6334`, `grpcs://host:6334` | gRPC (`qdrant-client`), TLS for `grpcs` |
//! | `rest+http://host:6333`, `rest+https://host:6333` | REST (Qdrant's HTTP API) |
//! | `http(s)://host:6333` | REST: 6333 is Qdrant's REST port |
//! | `http(s)://host:<any other port>` | gRPC (the default client; Qdrant's gRPC port is 6334) |
//!
//! An explicit API choice (`--api rest|grpc`) overrides the rule. `QDRANT_API_KEY` is sent with
//! every request and never printed: [`ApiKey`]'s `Debug` and `Display` show `***`.

mod grpc;
mod grpc_h2;
mod rest;
pub mod state;
pub mod telemetry;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use grpc::{GrpcStore, prepare_search, write_prepared};
pub use rest::RestStore;

use crate::error::{Result, StoreError};
use crate::spec::{IndexState, expects_index};

/// What one look at a server collection's info showed.
pub(crate) struct Seen {
    pub status: String,
    pub points: usize,
    pub indexed: usize,
    pub segments: usize,
    pub dim: usize,
    pub optimizer: String,
}

/// Polls `read` until the collection is green with every vector indexed (or too small to get
/// an index), showing the state on a spinner; after `timeout`, an error naming the last state.
pub(crate) async fn wait_until_indexed<F, Fut>(
    name: &str,
    timeout: Duration,
    mut read: F,
) -> Result<IndexState>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Seen>>,
{
    let started = Instant::now();
    let spinner = qdrant_perf_data::spinner(&format!("waiting for {name} to be indexed"));
    loop {
        let seen = read().await?;
        let state = format!(
            "status {}, {} of {} vectors indexed, optimizer {}",
            seen.status, seen.indexed, seen.points, seen.optimizer
        );
        spinner.set_message(format!("waiting for {name}: {state}"));
        if seen.status == "green"
            && (seen.indexed >= seen.points || !expects_index(seen.points, seen.dim))
        {
            spinner.finish_and_clear();
            return Ok(IndexState {
                points: seen.points,
                indexed_vectors: seen.indexed,
                segments: seen.segments,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        if started.elapsed() > timeout {
            spinner.finish_and_clear();
            return Err(StoreError::IndexTimeout {
                collection: name.into(),
                seconds: timeout.as_secs_f64(),
                state,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How long a node that could not be reached is left out before one request tries it again:
/// the first back-off; each failure in a row doubles it, up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// The longest back-off of a node that keeps failing.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The nodes of a cluster, used in turn. A node that could not be reached (connection refused,
/// reset or timed out) is skipped while it backs off ([`BACKOFF_FIRST`], doubling to
/// [`BACKOFF_MAX`]); then one request tries it again, and its first answer puts it back in turn.
/// So the load goes on at full rate on the other nodes, and a node that is down costs one failed
/// request per back-off. With one node, or when every node is backing off, requests go to the
/// nodes in turn as usual.
pub(crate) struct Nodes {
    urls: Vec<Arc<str>>,
    next: AtomicUsize,
    base: Instant,
    /// Per node: nanoseconds after `base` until which it is skipped; 0 while it is up.
    skip_until: Vec<AtomicU64>,
    /// Per node: connection failures in a row.
    failures: Vec<AtomicU32>,
}

impl Nodes {
    pub(crate) fn new(urls: &[String]) -> Self {
        Self {
            urls: urls.iter().map(|u| Arc::from(u.as_str())).collect(),
            next: AtomicUsize::new(0),
            base: Instant::now(),
            skip_until: urls.iter().map(|_| AtomicU64::new(0)).collect(),
            failures: urls.iter().map(|_| AtomicU32::new(0)).collect(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.urls.len()
    }

    /// The node's URL, shared (it goes with every answer into the run's per-node figures).
    pub(crate) fn url(&self, node: usize) -> &Arc<str> {
        &self.urls[node]
    }

    fn now_ns(&self) -> u64 {
        // Never 0, which means "up".
        self.base.elapsed().as_nanos() as u64 + 1
    }

    /// The node the next request goes to: the next in turn that is up, or whose back-off is
    /// over (this request then is the one that tries it again). A node left out gives its turn
    /// to the next turn, so the others share its requests evenly.
    pub(crate) fn pick(&self) -> usize {
        let n = self.urls.len();
        if n == 1 {
            return 0;
        }
        let mut now = None;
        let mut i = 0;
        for _ in 0..n {
            i = self.next.fetch_add(1, Ordering::Relaxed) % n;
            let until = self.skip_until[i].load(Ordering::Acquire);
            if until == 0 {
                return i;
            }
            let now = *now.get_or_insert_with(|| self.now_ns());
            // Claim the retry, so requests sent meanwhile still skip the node.
            if until <= now
                && self.skip_until[i]
                    .compare_exchange(
                        until,
                        now + self.backoff(i).as_nanos() as u64,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                return i;
            }
        }
        // Concurrent picks took the other turns: the first node that is up, else this one.
        (1..n)
            .map(|k| (i + k) % n)
            .find(|&j| self.skip_until[j].load(Ordering::Acquire) == 0)
            .unwrap_or(i)
    }

    fn backoff(&self, node: usize) -> Duration {
        let failures = self.failures[node].load(Ordering::Relaxed).clamp(1, 16);
        BACKOFF_FIRST
            .saturating_mul(1 << (failures - 1))
            .min(BACKOFF_MAX)
    }

    /// The node could not be reached: skip it until its back-off is over.
    pub(crate) fn failed(&self, node: usize) {
        self.failures[node].fetch_add(1, Ordering::Relaxed);
        let until = self.now_ns() + self.backoff(node).as_nanos() as u64;
        self.skip_until[node].store(until, Ordering::Release);
    }

    /// The node answered: it is up (a no-op, one load, while it was).
    pub(crate) fn served(&self, node: usize) {
        if self.skip_until[node].load(Ordering::Relaxed) != 0 {
            self.failures[node].store(0, Ordering::Relaxed);
            self.skip_until[node].store(0, Ordering::Release);
        }
    }
}

/// A random sample of a collection's own points, for read-only runs.
#[derive(Clone, Debug)]
pub struct Sampled {
    pub dim: usize,
    pub metric: qdrant_perf_data::Metric,
    /// Points in the collection.
    pub points: usize,
    /// Vectors in the collection's HNSW index, and its status (`green`, `yellow`...), as the
    /// server reported them: a read-only run times the collection as it is, so says how it is.
    pub indexed_vectors: usize,
    pub status: String,
    pub vectors: Vec<Vec<f32>>,
}

pub(crate) fn unnamed_only(name: &str) -> StoreError {
    StoreError::InvalidSpec {
        field: "read-only collection",
        value: name.into(),
        reason: "it has named (or no dense) vectors; read-only runs use a collection's single \
                 unnamed dense vector"
            .into(),
    }
}

pub(crate) fn unsupported_distance(name: &str, distance: &str) -> StoreError {
    StoreError::InvalidSpec {
        field: "read-only collection",
        value: name.into(),
        reason: format!("distance {distance} is not one the suite measures (Cosine, Dot, Euclid)"),
    }
}

/// Which of Qdrant's APIs a store speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Grpc,
    Rest,
}

impl Api {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "grpc" => Ok(Api::Grpc),
            "rest" => Ok(Api::Rest),
            other => Err(StoreError::InvalidSpec {
                field: "api",
                value: other.into(),
                reason: "expected grpc or rest".into(),
            }),
        }
    }
}

/// An API key that never shows itself in logs, errors or reports.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach a Qdrant server or cluster.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub api: Api,
    /// Base URLs as the chosen client wants them (`http(s)://host:port`), one per node.
    pub urls: Vec<String>,
    pub api_key: Option<ApiKey>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// How long `wait_indexed` polls before giving up.
    pub index_timeout: Duration,
}

impl ServerConfig {
    /// Parses one URL or several separated by commas, by the rule in the module docs. All the
    /// URLs of a cluster must pick the same API.
    pub fn parse(urls: &str, api: Option<Api>) -> Result<Self> {
        let mut picked: Vec<(Api, String)> = Vec::new();
        for raw in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            picked.push(parse_one(raw, api)?);
        }
        let Some(first) = picked.first().map(|p| p.0) else {
            return Err(StoreError::InvalidSpec {
                field: "QDRANT_URL",
                value: format!("{urls:?}"),
                reason: "no URL given; example: http://127.0.0.1:6334".into(),
            });
        };
        if picked.iter().any(|p| p.0 != first) {
            return Err(StoreError::InvalidSpec {
                field: "QDRANT_URL",
                value: urls.into(),
                reason:
                    "the URLs pick different APIs (gRPC and REST); use one scheme for all nodes"
                        .into(),
            });
        }
        Ok(Self {
            api: first,
            urls: picked.into_iter().map(|p| p.1).collect(),
            api_key: None,
            // Short, so a request to a node that is down (no answer at all) fails fast.
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(60),
            index_timeout: Duration::from_secs(1800),
        })
    }

    /// `QDRANT_URL` and `QDRANT_API_KEY` from the environment; `None` when `QDRANT_URL` is unset.
    pub fn from_env(api: Option<Api>) -> Result<Option<Self>> {
        let Ok(urls) = std::env::var("QDRANT_URL") else {
            return Ok(None);
        };
        if urls.trim().is_empty() {
            return Ok(None);
        }
        let mut config = Self::parse(&urls, api)?;
        config.api_key = std::env::var("QDRANT_API_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .map(ApiKey::new);
        Ok(Some(config))
    }

    pub fn with_api_key(mut self, key: Option<ApiKey>) -> Self {
        self.api_key = key;
        self
    }
}

fn parse_one(raw: &str, api: Option<Api>) -> Result<(Api, String)> {
    let bad = |reason: &str| StoreError::InvalidSpec {
        field: "QDRANT_URL",
        value: raw.into(),
        reason: reason.into(),
    };
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| bad("expected scheme://host:port, e.g. http://127.0.0.1:6334"))?;
    let (by_scheme, http_scheme) = match scheme {
        "grpc" => (Some(Api::Grpc), "http"),
        "grpcs" => (Some(Api::Grpc), "https"),
        "rest+http" => (Some(Api::Rest), "http"),
        "rest+https" => (Some(Api::Rest), "https"),
        "http" => (None, "http"),
        "https" => (None, "https"),
        _ => {
            return Err(bad(
                "unknown scheme; use grpc://, grpcs://, http(s):// or rest+http(s)://",
            ));
        }
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(bad("expected only host:port after the scheme"));
    }
    let port = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let api = api.or(by_scheme).unwrap_or(if port == Some(6333) {
        Api::Rest
    } else {
        Api::Grpc
    });
    Ok((api, format!("{http_scheme}://{authority}")))
}

/// Formats an error from a client library so it never contains the API key.
pub(crate) fn redact(message: impl fmt::Display, key: Option<&ApiKey>) -> String {
    let message = message.to_string();
    match key {
        Some(k) if !k.0.is_empty() => message.replace(&k.0, "***"),
        _ => message,
    }
}

/// Warns once per process when the server's version is far from the client's; Qdrant's clients
/// support servers within one minor version, and the suite records the server version in every
/// result either way.
pub(crate) fn note_server_version(client: &str, server: &str) {
    use std::sync::Mutex;
    static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let minor = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.').map(|x| x.parse::<u64>().ok());
        Some((it.next()??, it.next()??))
    };
    let (Some(c), Some(s)) = (minor(client), minor(server)) else {
        return;
    };
    if c.0 != s.0 || c.1.abs_diff(s.1) > 1 {
        let mut warned = WARNED.lock().expect("lock");
        if !warned.iter().any(|w| w == server) {
            warned.push(server.to_string());
            eprintln!(
                "note: Qdrant server {server} with client {client}: the suite uses only calls both \
                 support (tested against 1.17); the server version is recorded in the results"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(url: &str) -> (Api, Vec<String>) {
        let c = ServerConfig::parse(url, None).unwrap();
        (c.api, c.urls)
    }

    #[test]
    fn the_scheme_and_port_pick_the_api() {
        assert_eq!(
            pick("grpc://h:6334"),
            (Api::Grpc, vec!["http://h:6334".into()])
        );
        assert_eq!(
            pick("grpcs://h:6334"),
            (Api::Grpc, vec!["https://h:6334".into()])
        );
        assert_eq!(
            pick("http://127.0.0.1:6334"),
            (Api::Grpc, vec!["http://127.0.0.1:6334".into()])
        );
        assert_eq!(
            pick("http://127.0.0.1:6333"),
            (Api::Rest, vec!["http://127.0.0.1:6333".into()])
        );
        assert_eq!(
            pick("rest+https://h:443/"),
            (Api::Rest, vec!["https://h:443".into()])
        );
        let c = ServerConfig::parse("http://h:6334", Some(Api::Rest)).unwrap();
        assert_eq!(c.api, Api::Rest, "an explicit --api wins");
    }

    #[test]
    fn several_urls_make_a_cluster_of_one_api() {
        let (api, urls) = pick("grpc://a:6334, grpc://b:6334,grpc://c:6334");
        assert_eq!(api, Api::Grpc);
        assert_eq!(urls.len(), 3);
        let err = ServerConfig::parse("grpc://a:1,rest+http://b:2", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("different APIs"), "{err}");
    }

    #[test]
    fn malformed_urls_say_what_is_expected() {
        for (url, needle) in [
            ("127.0.0.1:6334", "expected scheme://host:port"),
            ("ftp://h:1", "unknown scheme"),
            ("http://h:1/collections", "only host:port"),
            ("", "no URL given"),
        ] {
            let err = ServerConfig::parse(url, None).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
        }
    }

    #[test]
    fn a_node_that_failed_is_skipped_until_its_back_off_is_over_then_tried_once() {
        let urls: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let nodes = Nodes::new(&urls);
        let turn: Vec<usize> = (0..6).map(|_| nodes.pick()).collect();
        assert_eq!(turn, [0, 1, 2, 0, 1, 2]);
        nodes.failed(1);
        // While node 1 backs off, the others share its turns.
        let turn: Vec<usize> = (0..6).map(|_| nodes.pick()).collect();
        assert_eq!(turn, [0, 2, 0, 2, 0, 2]);
        std::thread::sleep(BACKOFF_FIRST + Duration::from_millis(50));
        // The back-off is over: one request tries node 1; the others keep skipping it.
        let turn: Vec<usize> = (0..6).map(|_| nodes.pick()).collect();
        assert_eq!(turn.iter().filter(|&&i| i == 1).count(), 1, "{turn:?}");
        // It failed again: the back-off doubles.
        nodes.failed(1);
        assert_eq!(nodes.backoff(1), BACKOFF_FIRST * 2);
        for _ in 0..20 {
            nodes.failed(1);
        }
        assert_eq!(nodes.backoff(1), BACKOFF_MAX);
        // Its first answer puts it back in turn.
        nodes.served(1);
        let turn: Vec<usize> = (0..3).map(|_| nodes.pick()).collect();
        assert!(turn.contains(&1), "{turn:?}");
        // With every node backing off, requests go round as usual.
        for i in 0..3 {
            nodes.failed(i);
        }
        let turn: Vec<usize> = (0..3).map(|_| nodes.pick()).collect();
        assert_eq!(turn.len(), 3);
        let one = Nodes::new(&urls[..1]);
        one.failed(0);
        assert_eq!(one.pick(), 0, "a single server is always tried");
    }

    #[test]
    fn the_api_key_never_prints() {
        let key = ApiKey::new("s3cret-key");
        assert_eq!(format!("{key} {key:?}"), "*** ApiKey(***)");
        let config = ServerConfig::parse("grpc://h:1", None)
            .unwrap()
            .with_api_key(Some(key.clone()));
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(
            redact("bad header api-key: s3cret-key", Some(&key)),
            "bad header api-key: ***"
        );
    }
}
