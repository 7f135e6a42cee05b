//! The HTTP target: one or several endpoints of a JSON HTTP API (the deployment's gateway:
//! health, collections, GraphQL, per-model search routes; Qdrant's own REST API), each with its
//! method, its bodies and its weight, all measured apart (each endpoint is a collection of the
//! run, so the report has a row per endpoint).
//!
//! The request path is kept lean, as wrk's is: every body is rendered before the run (a
//! template's `{{vector}}` once per held-out query), the request's method, URI and headers are
//! prepared once per endpoint, a request clones reference-counted bytes only, and a response is
//! parsed only as far as recall and the server's time need (not at all without a pointer).
//! Plain `http://` endpoints go over connections of the target's own: HTTP/1.1 kept alive and
//! reused, each request's bytes (line, headers, body) prepared before the run and its response
//! parsed in the connection's buffer (the `h1` module), or HTTP/2 with prior knowledge (hyper)
//! multiplexed over one connection; `https://` ones through reqwest (rustls).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
pub use hyper::Method;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use qdrant_perf_data::{GroundTruth, Vectors, recall_at_k};

use crate::driver::{Call, LoadError, OpError, Outcome, Target, TargetCollection, invalid};
use crate::lock;
use crate::target::{error_chain, server_timing_seconds};

mod h1;

/// The `what` of a [`LoadError::Invalid`] about the body template of an [`HttpTarget`].
pub const BODY_TEMPLATE: &str = "body template";
/// The `what` of a [`LoadError::Invalid`] about the URL of an [`HttpTarget`].
pub const ENDPOINT_URL: &str = "endpoint URL";
/// The `what` of a [`LoadError::Invalid`] about a request header.
pub const HEADER: &str = "header";
/// The `what` of a [`LoadError::Invalid`] about an endpoint line.
pub const ENDPOINT: &str = "endpoint";
/// The `what` of a [`LoadError::Invalid`] about a file of request bodies.
pub const BODIES_FILE: &str = "bodies file";
/// The `what` of a [`LoadError::Invalid`] about an HTTP method.
pub const METHOD: &str = "method";

/// Default body: Qdrant's REST search request.
pub const DEFAULT_HTTP_BODY: &str = r#"{"vector": {{vector}}, "limit": {{k}}}"#;

/// What an endpoint sends.
#[derive(Clone, Debug, PartialEq)]
pub enum BodySpec {
    /// No body (a `GET`).
    None,
    /// One body; `{{vector}}` in it is filled in with each held-out query vector (a JSON array:
    /// one rendered body per query, and recall can be measured) and `{{k}}` with k.
    Text(String),
    /// Bodies sent as they are, cycled (the lines of a `--bodies` file).
    Lines(Vec<String>),
}

/// One endpoint of a run: `name` in the report, `weight` its share of the requests.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointSpec {
    pub name: String,
    pub method: Method,
    pub url: String,
    pub body: BodySpec,
    pub weight: f64,
}

impl EndpointSpec {
    /// An endpoint line: `NAME WEIGHT METHOD PATH [BODY]`, fields separated by spaces, the
    /// body being the rest of the line (`@FILE`: one body per line of FILE, cycled). A PATH
    /// starting with `/` goes to the host of `base`; a full `http(s)://` URL is used as it is.
    pub fn parse(line: &str, base: Option<&str>) -> Result<Self, LoadError> {
        let bad = |fix: String| invalid(ENDPOINT, line.trim(), fix);
        let example = "example: 'search 5 POST /api/v1/vectors/search {\"vector\": {{vector}}, \"limit\": {{k}}}' or 'health 1 GET /api/v1/health'";
        let mut rest = line.trim();
        let mut field = || {
            let s = rest.trim_start();
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            let (f, r) = s.split_at(end);
            rest = r;
            (!f.is_empty()).then_some(f)
        };
        let (Some(name), Some(weight), Some(method), Some(path)) =
            (field(), field(), field(), field())
        else {
            return Err(bad(format!(
                "an endpoint is `NAME WEIGHT METHOD PATH [BODY]`; {example}"
            )));
        };
        let weight = match weight.parse::<f64>() {
            Ok(w) if w.is_finite() && w > 0.0 => w,
            _ => {
                return Err(bad(format!(
                    "the weight {weight:?} is not a number > 0; {example}"
                )));
            }
        };
        let method = parse_method(method)?;
        let url = if path.starts_with('/') {
            let base = base.ok_or_else(|| {
                bad("a path needs the host from --http (example: --http http://127.0.0.1:8080), or give a full URL".into())
            })?;
            join(base, path)?
        } else {
            path.to_string()
        };
        let body = rest.trim();
        let body = if body.is_empty() {
            BodySpec::None
        } else if let Some(file) = body.strip_prefix('@') {
            BodySpec::Lines(read_bodies(std::path::Path::new(file))?)
        } else {
            BodySpec::Text(body.to_string())
        };
        Ok(Self {
            name: name.to_string(),
            method,
            url,
            body,
            weight,
        })
    }
}

/// `GET`, `POST` or `PUT` (any case).
pub fn parse_method(s: &str) -> Result<Method, LoadError> {
    match s.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        _ => Err(invalid(METHOD, s, "use GET, POST or PUT")),
    }
}

/// A request header from `Name: value`. Its value is marked sensitive, and no error or report
/// ever shows it (an error about a header names only the header).
pub fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), LoadError> {
    let Some((name, value)) = s.split_once(':') else {
        return Err(invalid(
            HEADER,
            "***",
            "a header is `Name: value` (example: --header 'Authorization: Bearer TOKEN')",
        ));
    };
    let shown = format!("{}: ***", name.trim());
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        invalid(
            HEADER,
            &shown,
            "not a valid header name (letters, digits and '-'; example: Authorization)",
        )
    })?;
    let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
        invalid(
            HEADER,
            &shown,
            "the value has characters a header cannot carry (a line break or a control character)",
        )
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// The request bodies of a file: one per non-empty line.
pub fn read_bodies(path: &std::path::Path) -> Result<Vec<String>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        invalid(
            BODIES_FILE,
            path.display(),
            format!("cannot read it ({e}); give a file with one request body per line"),
        )
    })?;
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if lines.is_empty() {
        return Err(invalid(
            BODIES_FILE,
            path.display(),
            "it has no bodies; give one request body per line",
        ));
    }
    Ok(lines)
}

/// `base`'s scheme and host with `path` (and its query).
fn join(base: &str, path: &str) -> Result<String, LoadError> {
    let url = parse_url(base)?;
    let mut joined = url.clone();
    let (p, q) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    joined.set_path(p);
    joined.set_query(q);
    Ok(joined.to_string())
}

/// The host of an endpoint URL (an endpoint's default name); an error when it is not an
/// `http(s)://` URL.
pub fn host_name(url: &str) -> Result<String, LoadError> {
    Ok(parse_url(url)?.host_str().unwrap_or("http").to_string())
}

fn parse_url(url: &str) -> Result<reqwest::Url, LoadError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        invalid(
            ENDPOINT_URL,
            url,
            format!("not a URL ({e}); example: http://127.0.0.1:8080/api/v1/vectors/search"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(
            ENDPOINT_URL,
            url,
            "use an http:// or https:// URL with a host",
        ));
    }
    Ok(parsed)
}

/// How requests are sent, besides what each endpoint says.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Sent with every request (`Authorization: Bearer ...`); values are never shown.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// HTTP/2 with prior knowledge (h2c) on plain `http://` endpoints, instead of HTTP/1.1.
    pub http2: bool,
    /// A request not answered within this is an error of kind `timeout`.
    pub timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            headers: Vec::new(),
            http2: false,
            timeout: Duration::from_secs(30),
        }
    }
}

/// One endpoint, prepared: everything a request needs, built before the run.
struct Endpoint {
    name: String,
    url: String,
    method: Method,
    /// Absolute, for HTTP/2 and reqwest.
    uri: Uri,
    parsed: reqwest::Url,
    /// The headers of an HTTP/2 or reqwest request.
    headers: HeaderMap,
    bodies: Vec<Bytes>,
    /// Over HTTP/1.1 on the target's own connections: each body's whole request, prepared
    /// ([`h1::prepare`]; one request when the endpoint has no body).
    wire: Vec<Bytes>,
    /// Body `i` is held-out query `i` (a `{{vector}}` template): recall applies.
    per_query: bool,
    weight: f64,
    pool: usize,
    next: AtomicU64,
}

type Body = Full<Bytes>;

/// The connections to one host of plain-HTTP endpoints.
struct Pool {
    addr: String,
    idle: Mutex<Vec<h1::Conn>>,
    h2: Mutex<Option<hyper::client::conn::http2::SendRequest<Body>>>,
}

enum Transport {
    /// Plain `http://`: connections of the target's own, one pool per host.
    Plain(Vec<Pool>),
    /// Some endpoint is `https://`: reqwest (rustls) for all.
    Tls(reqwest::Client),
}

/// A request that failed before an answer: `kind` is `connect`, `timeout`, `request` or
/// `response body`.
struct Failure {
    kind: &'static str,
    message: String,
}

impl Failure {
    fn new(kind: &'static str, e: &dyn std::error::Error) -> Self {
        Self {
            kind,
            message: error_chain(e),
        }
    }
}

struct Answer {
    status: u16,
    server_timing: Option<f64>,
    body: Bytes,
}

/// Any JSON HTTP endpoint, or several (see the module's documentation).
pub struct HttpTarget {
    endpoints: Vec<Endpoint>,
    transport: Transport,
    timeout: Duration,
    truth: Option<GroundTruth>,
    /// The tokens of the JSON pointer to the result list in a response (`/result`), for
    /// recall.
    ids_tokens: Option<Vec<String>>,
    /// The tokens of the JSON pointer to the server's own time in a response, in seconds
    /// (`/time`: Qdrant's).
    time_tokens: Option<Vec<String>>,
    k: usize,
}

impl HttpTarget {
    /// One endpoint that POSTs `template` with `{{vector}}` filled in per held-out query (and
    /// `{{k}}` with k); the template must contain `{{vector}}`. Named after the URL's host.
    pub fn new(
        url: &str,
        template: &str,
        queries: &Vectors,
        k: usize,
        timeout: Duration,
    ) -> Result<Self, LoadError> {
        if !template.contains("{{vector}}") {
            return Err(invalid(
                BODY_TEMPLATE,
                template,
                "the body template must contain {{vector}} where the query vector goes \
                 (example: '{\"vector\": {{vector}}, \"limit\": {{k}}}')",
            ));
        }
        let name = host_name(url)?;
        Self::with_endpoints(
            vec![EndpointSpec {
                name,
                method: Method::POST,
                url: url.into(),
                body: BodySpec::Text(template.into()),
                weight: 1.0,
            }],
            Some(queries),
            k,
            HttpOptions {
                timeout,
                ..HttpOptions::default()
            },
        )
    }

    /// Several endpoints, each a collection of the run at its weight. `queries` fill the
    /// `{{vector}}` of templates (needed when a body has one).
    pub fn with_endpoints(
        specs: Vec<EndpointSpec>,
        queries: Option<&Vectors>,
        k: usize,
        opts: HttpOptions,
    ) -> Result<Self, LoadError> {
        if specs.is_empty() {
            return Err(invalid(ENDPOINT, "none", "give at least one endpoint"));
        }
        for (i, s) in specs.iter().enumerate() {
            if specs[..i].iter().any(|o| o.name == s.name) {
                return Err(invalid(
                    ENDPOINT,
                    &s.name,
                    "two endpoints have this name; give each its own",
                ));
            }
        }
        let mut pools: Vec<Pool> = Vec::new();
        let mut endpoints = Vec::with_capacity(specs.len());
        let mut any_tls = false;
        for s in specs {
            let parsed = parse_url(&s.url)?;
            any_tls |= parsed.scheme() == "https";
            let host = parsed.host_str().expect("checked by parse_url");
            let port = parsed.port_or_known_default().unwrap_or(80);
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let pool = match pools.iter().position(|p| p.addr == addr) {
                Some(i) => i,
                None => {
                    pools.push(Pool {
                        addr: addr.clone(),
                        idle: Mutex::new(Vec::new()),
                        h2: Mutex::new(None),
                    });
                    pools.len() - 1
                }
            };
            let (bodies, per_query) = render_bodies(&s, queries, k)?;
            let uri: Uri = parsed
                .as_str()
                .parse()
                .map_err(|e| invalid(ENDPOINT_URL, &s.url, format!("not a URI ({e})")))?;
            let mut headers = HeaderMap::new();
            if !bodies.is_empty() {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            for (name, value) in &opts.headers {
                headers.insert(name.clone(), value.clone());
            }
            let wire = if parsed.scheme() == "http" && !opts.http2 {
                let mut headers_h1 = HeaderMap::new();
                let authority = uri.authority().map_or(addr.as_str(), |a| a.as_str());
                headers_h1.insert(
                    header::HOST,
                    HeaderValue::from_str(authority).expect("a URI's authority is a header value"),
                );
                headers_h1.extend(headers.clone());
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                let prepare = |body: &[u8]| h1::prepare(&s.method, path, &headers_h1, body);
                if bodies.is_empty() {
                    vec![prepare(b"")]
                } else {
                    bodies.iter().map(|b| prepare(b)).collect()
                }
            } else {
                Vec::new()
            };
            endpoints.push(Endpoint {
                name: s.name,
                url: s.url,
                method: s.method,
                uri,
                parsed,
                headers,
                bodies,
                wire,
                per_query,
                weight: s.weight,
                pool,
                next: AtomicU64::new(0),
            });
        }
        if any_tls {
            // reqwest takes every endpoint's requests.
            endpoints.iter_mut().for_each(|e| e.wire.clear());
        }
        let transport = if any_tls {
            let mut b = reqwest::Client::builder()
                .timeout(opts.timeout)
                .connect_timeout(Duration::from_secs(5))
                .pool_max_idle_per_host(4096);
            if opts.http2 {
                b = b.http2_prior_knowledge();
            }
            Transport::Tls(b.build().map_err(LoadError::HttpClient)?)
        } else {
            Transport::Plain(pools)
        };
        Ok(Self {
            endpoints,
            transport,
            timeout: opts.timeout,
            truth: None,
            ids_tokens: None,
            time_tokens: None,
            k,
        })
    }

    /// Computes recall from the ids at `pointer` in each response of a `{{vector}}` endpoint
    /// (an array of ids, or of objects with an `id`), against `truth`.
    pub fn with_recall(mut self, pointer: impl Into<String>, truth: GroundTruth) -> Self {
        self.ids_tokens = Some(pointer::tokens(&pointer.into()));
        self.truth = Some(truth);
        self
    }

    /// Reads the server's own time (seconds) at `pointer` in each response (Qdrant's REST
    /// answers carry it at `/time`). Without it a `Server-Timing` header is read when present.
    pub fn with_server_time_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.time_tokens = Some(pointer::tokens(&pointer.into()));
        self
    }

    /// The first endpoint's URL.
    pub fn url(&self) -> &str {
        &self.endpoints[0].url
    }

    /// The endpoints' names and URLs.
    pub fn endpoints(&self) -> impl Iterator<Item = (&str, &str)> {
        self.endpoints
            .iter()
            .map(|e| (e.name.as_str(), e.url.as_str()))
    }

    /// One request to each endpoint before the run: one that does not answer, or answers with
    /// an error, stops the run before it starts, with its URL in the message.
    pub async fn preflight(&self) -> Result<(), LoadError> {
        for ep in &self.endpoints {
            let a = self
                .send_timed(ep, 0)
                .await
                .map_err(|f| LoadError::Unreachable {
                    url: ep.url.clone(),
                    source: f.message.into(),
                })?;
            if !(200..300).contains(&a.status) {
                return Err(LoadError::Rejected {
                    url: ep.url.clone(),
                    status: a.status,
                    body: String::from_utf8_lossy(&a.body).chars().take(300).collect(),
                });
            }
        }
        Ok(())
    }

    /// [`send`](Self::send), failing with kind `timeout` when not answered within the timeout.
    async fn send_timed(&self, ep: &Endpoint, q: usize) -> Result<Answer, Failure> {
        tokio::time::timeout(self.timeout, self.send(ep, q))
            .await
            .unwrap_or_else(|_| {
                Err(Failure {
                    kind: "timeout",
                    message: format!("no answer within {:.0} s", self.timeout.as_secs_f64()),
                })
            })
    }

    /// Body `q` of endpoint `ep` (none when it has none).
    async fn send(&self, ep: &Endpoint, q: usize) -> Result<Answer, Failure> {
        let body = || ep.bodies.get(q).cloned().unwrap_or_default();
        match &self.transport {
            Transport::Plain(pools) => {
                let pool = &pools[ep.pool];
                if let Some(request) = ep.wire.get(q) {
                    pool.send_h1(request).await
                } else {
                    let mut sender = pool.h2_sender().await?;
                    let req = request(ep, &ep.uri, &ep.headers, body());
                    let resp = sender
                        .send_request(req)
                        .await
                        .map_err(|e| Failure::new("request", &e))?;
                    read(resp).await
                }
            }
            Transport::Tls(client) => {
                let r = client
                    .request(ep.method.clone(), ep.parsed.clone())
                    .headers(ep.headers.clone())
                    .body(body())
                    .send()
                    .await
                    .map_err(|e| {
                        let kind = if e.is_timeout() {
                            "timeout"
                        } else if e.is_connect() {
                            "connect"
                        } else {
                            "request"
                        };
                        Failure::new(kind, &e)
                    })?;
                let status = r.status().as_u16();
                let server_timing = timing(r.headers());
                let body = r
                    .bytes()
                    .await
                    .map_err(|e| Failure::new("response body", &e))?;
                Ok(Answer {
                    status,
                    server_timing,
                    body,
                })
            }
        }
    }

    /// The result ids and the server's time in a response body of endpoint `endpoint`, as far
    /// as the pointers ask: the body is read only down the pointers' paths (no pointer: not at
    /// all), and ids only for a `{{vector}}` endpoint (the others have no ground truth).
    pub fn read_response(&self, endpoint: usize, body: &[u8]) -> (Option<Vec<u64>>, Option<f64>) {
        let ep = &self.endpoints[endpoint];
        let ids = match (&self.ids_tokens, ep.per_query) {
            (Some(t), true) => pointer::read(body, t, pointer::Ids(self.k)),
            _ => None,
        };
        let server = self
            .time_tokens
            .as_ref()
            .and_then(|t| pointer::read(body, t, pointer::Number).flatten());
        (ids, server)
    }

    /// The HTTP/1.1 request the target sends for body `body` of endpoint `endpoint`, as it goes
    /// out (what `benches/requests.rs` measures taking): `None` for an endpoint that goes over
    /// HTTP/2 or TLS (or that has no such body).
    pub fn request(&self, endpoint: usize, body: usize) -> Option<Bytes> {
        self.endpoints[endpoint].wire.get(body).cloned()
    }
}

/// An endpoint's bodies: a `{{vector}}` template rendered once per query, else as given.
fn render_bodies(
    s: &EndpointSpec,
    queries: Option<&Vectors>,
    k: usize,
) -> Result<(Vec<Bytes>, bool), LoadError> {
    Ok(match &s.body {
        BodySpec::None => (Vec::new(), false),
        BodySpec::Lines(lines) => (
            lines.iter().map(|l| Bytes::from(l.clone())).collect(),
            false,
        ),
        BodySpec::Text(t) if t.contains("{{vector}}") => {
            let queries = queries.ok_or_else(|| {
                invalid(
                    BODY_TEMPLATE,
                    t,
                    "{{vector}} needs held-out queries, and none were given",
                )
            })?;
            let t = t.replace("{{k}}", &k.to_string());
            let (before, after) = t.split_once("{{vector}}").expect("checked");
            let mut buf = Vec::new();
            let bodies = queries
                .rows()
                .map(|v| {
                    buf.clear();
                    buf.extend_from_slice(before.as_bytes());
                    serde_json::to_writer(&mut buf, v).expect("floats serialise");
                    // A second {{vector}} gets the same vector.
                    buf.extend_from_slice(after.as_bytes());
                    if after.contains("{{vector}}") {
                        let s = String::from_utf8(buf.clone()).expect("UTF-8 in, UTF-8 out");
                        let vector = serde_json::to_string(v).expect("floats serialise");
                        return Bytes::from(s.replace("{{vector}}", &vector));
                    }
                    Bytes::copy_from_slice(&buf)
                })
                .collect();
            (bodies, true)
        }
        BodySpec::Text(t) => (vec![Bytes::from(t.replace("{{k}}", &k.to_string()))], false),
    })
}

fn request(ep: &Endpoint, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Request<Body> {
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = ep.method.clone();
    *req.uri_mut() = uri.clone();
    *req.headers_mut() = headers.clone();
    req
}

fn timing(headers: &HeaderMap) -> Option<f64> {
    headers
        .get("server-timing")
        .and_then(|h| h.to_str().ok())
        .and_then(server_timing_seconds)
}

async fn read(resp: Response<hyper::body::Incoming>) -> Result<Answer, Failure> {
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| Failure::new("response body", &e))?
        .to_bytes();
    Ok(Answer {
        status: parts.status.as_u16(),
        server_timing: timing(&parts.headers),
        body,
    })
}

impl Pool {
    /// A new TCP connection to the host (for either protocol).
    async fn connect(&self) -> Result<tokio::net::TcpStream, Failure> {
        let stream = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(|e| Failure::new("connect", &e))?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Sends a prepared HTTP/1.1 request on an idle connection, or a new one.
    async fn send_h1(&self, request: &[u8]) -> Result<Answer, Failure> {
        let idle = lock(&self.idle).pop();
        let (mut conn, reused) = match idle {
            Some(c) => (c, true),
            None => (h1::Conn::new(self.connect().await?), false),
        };
        let (answer, keep) = match conn.exchange(request).await {
            Ok(a) => a,
            // A kept-alive connection the server closed meanwhile: once more on a new one.
            Err(h1::Failed::Unanswered(_)) if reused => {
                conn = h1::Conn::new(self.connect().await?);
                conn.exchange(request)
                    .await
                    .map_err(h1::Failed::into_failure)?
            }
            Err(e) => return Err(e.into_failure()),
        };
        if keep {
            lock(&self.idle).push(conn);
        }
        Ok(answer)
    }

    /// The HTTP/2 connection every request of this host shares (made on first use, and again
    /// when it closed).
    async fn h2_sender(&self) -> Result<hyper::client::conn::http2::SendRequest<Body>, Failure> {
        {
            let h2 = lock(&self.h2);
            if let Some(s) = h2.as_ref().filter(|s| !s.is_closed()) {
                return Ok(s.clone());
            }
        }
        let io = TokioIo::new(self.connect().await?);
        let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| Failure::new("connect", &e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut h2 = lock(&self.h2);
        match h2.as_ref().filter(|s| !s.is_closed()) {
            Some(s) => Ok(s.clone()),
            None => {
                *h2 = Some(sender.clone());
                Ok(sender)
            }
        }
    }
}

impl Target for HttpTarget {
    fn collections(&self) -> Vec<TargetCollection> {
        self.endpoints
            .iter()
            .map(|e| TargetCollection {
                name: e.name.clone(),
                qps: e.weight,
            })
            .collect()
    }

    async fn call(&self, call: Call) -> Result<Outcome, OpError> {
        let ep = &self.endpoints[call.collection];
        let n = ep.bodies.len().max(1) as u64;
        let q = (ep.next.fetch_add(1, Ordering::Relaxed) % n) as usize;
        let answer = self
            .send_timed(ep, q)
            .await
            .map_err(|f| OpError::new(f.kind, f.message))?;
        if !(200..300).contains(&answer.status) {
            let body = &answer.body;
            return Err(OpError::new(
                format!("http {}", answer.status),
                String::from_utf8_lossy(&body[..body.len().min(200)]),
            ));
        }
        let (ids, in_body) = self.read_response(call.collection, &answer.body);
        let outcome = match ids {
            Some(ids) => Outcome::hits(q, ids),
            None => Outcome::DONE,
        };
        Ok(outcome.with_server_seconds(in_body.or(answer.server_timing)))
    }

    fn recall(&self, _collection: usize, query: usize, ids: &[u64]) -> Option<f64> {
        let truth = self.truth.as_ref()?;
        (query < truth.len()).then(|| recall_at_k(ids, truth.ids(query), self.k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_lines_parse_and_bad_ones_name_the_fix() {
        let e = EndpointSpec::parse(
            r#"gql 2.5 post /graphql?x=1 {"query": "{ health }"}"#,
            Some("http://127.0.0.1:8080/api/v1/vectors/search"),
        )
        .unwrap();
        assert_eq!(e.name, "gql");
        assert_eq!(e.weight, 2.5);
        assert_eq!(e.method, Method::POST);
        assert_eq!(e.url, "http://127.0.0.1:8080/graphql?x=1");
        assert_eq!(e.body, BodySpec::Text(r#"{"query": "{ health }"}"#.into()));
        let h = EndpointSpec::parse("health 1 GET http://10.0.0.1:9000/h", None).unwrap();
        assert_eq!(
            (h.url.as_str(), &h.body),
            ("http://10.0.0.1:9000/h", &BodySpec::None)
        );
        for (line, needle) in [
            ("health 1 GET", "NAME WEIGHT METHOD PATH"),
            ("health 0 GET /h", "not a number > 0"),
            ("health 1 DELETE /h", "GET, POST or PUT"),
            ("health 1 GET /h", "--http"),
        ] {
            let base = (!needle.contains("--http")).then_some("http://127.0.0.1:1");
            let err = EndpointSpec::parse(line, base).unwrap_err().to_string();
            assert!(err.contains(needle), "{line}: {err}");
        }
    }

    #[test]
    fn a_headers_value_never_shows_in_its_errors() {
        let (name, value) = parse_header("Authorization: Bearer s3cr3t").unwrap();
        assert_eq!(name, header::AUTHORIZATION);
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("s3cr3t"));
        let err = parse_header("Author ization: Bearer s3cr3t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Author ization: ***") && !err.contains("s3cr3t"),
            "{err}"
        );
        let err = parse_header("Bearer-s3cr3t").unwrap_err().to_string();
        assert!(
            err.contains("Name: value") && !err.contains("s3cr3t"),
            "{err}"
        );
    }

    #[test]
    fn responses_are_read_down_the_pointer_only() {
        let body = br#"{"time": 0.002, "status": "ok", "result": [{"score": 0.9, "payload": {"id": 99}, "id": 7}, 8, {"id": "x"}, -1, {"id": 3}], "more": [1, {"a": [2]}]}"#;
        let read_ids = |p: &str| pointer::read(body, &pointer::tokens(p), pointer::Ids(10));
        assert_eq!(read_ids("/result"), Some(vec![7, 8, 3]));
        assert_eq!(read_ids("/status"), None);
        assert_eq!(read_ids("/missing"), None);
        assert_eq!(read_ids("/more/1/a"), Some(vec![2]));
        let number = |p: &str| pointer::read(body, &pointer::tokens(p), pointer::Number).flatten();
        assert_eq!(number("/time"), Some(0.002));
        assert_eq!(number("/result/1"), Some(8.0));
        assert_eq!(number("/status"), None);
        assert_eq!(number("/result/9"), None);
        assert_eq!(
            pointer::read(b"not json", &pointer::tokens("/time"), pointer::Number),
            None
        );
        let escaped = br#"{"a/b": {"~c": 5}}"#;
        let t = pointer::tokens("/a~1b/~0c");
        assert_eq!(
            pointer::read(escaped, &t, pointer::Number).flatten(),
            Some(5.0)
        );
    }

    #[test]
    fn templates_render_once_per_query_and_fixed_bodies_as_given() {
        let q = Vectors::new(2, vec![0.5, -1.0, 2.0, 0.25]).unwrap();
        let spec = |body: &str| EndpointSpec {
            name: "s".into(),
            method: Method::POST,
            url: "http://127.0.0.1:1/s".into(),
            body: BodySpec::Text(body.into()),
            weight: 1.0,
        };
        let (b, per_query) = render_bodies(
            &spec(r#"{"v": {{vector}}, "k": {{k}}, "w": {{vector}}}"#),
            Some(&q),
            7,
        )
        .unwrap();
        assert!(per_query);
        assert_eq!(b[0], r#"{"v": [0.5,-1.0], "k": 7, "w": [0.5,-1.0]}"#);
        assert_eq!(b[1], r#"{"v": [2.0,0.25], "k": 7, "w": [2.0,0.25]}"#);
        let (b, per_query) = render_bodies(&spec(r#"{"k": {{k}}}"#), None, 3).unwrap();
        assert_eq!(
            (b.len(), per_query, &b[0][..]),
            (1, false, &br#"{"k": 3}"#[..])
        );
        assert!(render_bodies(&spec("{{vector}}"), None, 3).is_err());
    }
}

/// Reading a response only as far as a JSON pointer: objects' other members and arrays' other
/// elements are skipped unparsed (no `serde_json::Value` is built), and the value at the pointer
/// is read by `leaf`. A value of another type than a step or a leaf expects (a number where the
/// pointer goes on, a string where [`Number`] is) is serde's type error, which [`read`] takes as
/// `None`, as it does a pointer that is not there.
mod pointer {
    use std::fmt;

    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// A JSON pointer's reference tokens (`/a~1b/0` -> `a/b`, `0`).
    pub fn tokens(pointer: &str) -> Vec<String> {
        if pointer.is_empty() {
            return Vec::new();
        }
        pointer
            .strip_prefix('/')
            .unwrap_or(pointer)
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    }

    /// The value at `tokens` in `body`, read by `leaf` (`None`: not there, or not what `leaf`
    /// reads, or the body is not JSON).
    pub fn read<'de, L: DeserializeSeed<'de>>(
        body: &'de [u8],
        tokens: &[String],
        leaf: L,
    ) -> Option<L::Value> {
        let mut de = serde_json::Deserializer::from_slice(body);
        Walk { tokens, leaf }.deserialize(&mut de).ok().flatten()
    }

    struct Walk<'a, L> {
        tokens: &'a [String],
        leaf: L,
    }

    impl<'de, L: DeserializeSeed<'de>> DeserializeSeed<'de> for Walk<'_, L> {
        type Value = Option<L::Value>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            match self.tokens.split_first() {
                None => self.leaf.deserialize(d).map(Some),
                Some((token, rest)) => d.deserialize_any(Step {
                    token,
                    rest,
                    leaf: self.leaf,
                }),
            }
        }
    }

    struct Step<'a, L> {
        token: &'a str,
        rest: &'a [String],
        leaf: L,
    }

    /// Whether a map key equals the token, without allocating when the key has no escapes.
    struct KeyIs<'a>(&'a str);

    impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for KeyIs<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a key")
        }
        fn visit_str<E>(self, v: &str) -> Result<bool, E> {
            Ok(v == self.0)
        }
    }

    impl<'de, L: DeserializeSeed<'de>> Visitor<'de> for Step<'_, L> {
        type Value = Option<L::Value>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object or array")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut leaf, mut found) = (Some(self.leaf), None);
            while let Some(hit) = map.next_key_seed(KeyIs(self.token))? {
                match (hit, leaf.take()) {
                    (true, Some(l)) => {
                        found = map.next_value_seed(Walk {
                            tokens: self.rest,
                            leaf: l,
                        })?
                    }
                    (_, l) => {
                        leaf = l;
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(found)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            if let Ok(index) = self.token.parse::<usize>() {
                let mut present = true;
                for _ in 0..index {
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        present = false;
                        break;
                    }
                }
                if present {
                    found = seq
                        .next_element_seed(Walk {
                            tokens: self.rest,
                            leaf: self.leaf,
                        })?
                        .flatten();
                }
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(found)
        }
    }

    /// A list of result ids: each element an id, or an object with an `id` (other elements
    /// and members skipped).
    pub struct Ids(pub usize);

    impl<'de> DeserializeSeed<'de> for Ids {
        type Value = Vec<u64>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u64>, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Ids {
        type Value = Vec<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of ids or of objects with an id")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
            let mut ids = Vec::with_capacity(self.0);
            while let Some(id) = seq.next_element_seed(Id)? {
                ids.extend(id);
            }
            Ok(ids)
        }
    }

    struct Id;

    impl<'de> DeserializeSeed<'de> for Id {
        type Value = Option<u64>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Id {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an id or an object with an id")
        }
        fn visit_u64<E>(self, v: u64) -> Result<Option<u64>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Option<u64>, E> {
            Ok(u64::try_from(v).ok())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
            let mut id = None;
            while let Some(is_id) = map.next_key_seed(KeyIs("id"))? {
                if is_id && id.is_none() {
                    id = map.next_value_seed(Id)?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(id)
        }
    }

    /// A number (seconds); anything else is a type error (`None` from [`read`]).
    pub struct Number;

    impl<'de> DeserializeSeed<'de> for Number {
        type Value = Option<f64>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<f64>, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Number {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number")
        }
        fn visit_f64<E>(self, v: f64) -> Result<Option<f64>, E> {
            Ok(Some(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Option<f64>, E> {
            Ok(Some(v as f64))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Option<f64>, E> {
            Ok(Some(v as f64))
        }
    }
}
