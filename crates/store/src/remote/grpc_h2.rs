//! Unary gRPC calls on a bare HTTP/2 connection per node, for prepared searches
//! ([`super::GrpcStore`]'s `search_prepared`): the request's HEADERS and its one DATA frame
//! (ending the stream) go out together, and the answer is read straight off the stream.
//! tonic's channel puts a `tower` buffer task and hyper's dispatch task between a request and
//! the connection; each is one more task to wake per request, on the client's core, while the
//! server waits.
//!
//! The connection is made on first use, and again after it closed (a node restarted, a
//! runtime that ran it ended). Errors are `tonic::Status`es as tonic would report them:
//! `grpc-status` from the trailers (or the headers of a trailers-only answer), HTTP statuses by
//! gRPC's mapping, and `transport error: ...` when the node could not be reached.

use std::sync::Mutex;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, TE, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use tonic::{Code, Status};

/// One node's connection for unary gRPC calls.
pub(super) struct H2Node {
    /// `host:port` to connect to.
    addr: String,
    /// `scheme://authority`, the request's `:scheme` and `:authority`.
    origin: Uri,
    connect_timeout: Duration,
    request_timeout: Duration,
    /// The request timeout as gRPC's `grpc-timeout` header, so the server gives up too.
    grpc_timeout: HeaderValue,
    sender: Mutex<Option<h2::client::SendRequest<Bytes>>>,
}

/// The stream and connection windows hyper's HTTP/2 client (and so tonic's channel) opens with.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

fn transport(e: impl std::fmt::Display) -> Status {
    Status::unavailable(format!("transport error: {e}"))
}

impl H2Node {
    /// A node at `url` (`http://host:port`); connects on first use.
    pub(super) fn new(
        url: &str,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("not a URL a gRPC channel can use: {e}"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err("a gRPC URL needs a scheme and a host, as in http://127.0.0.1:6334".into());
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let origin = Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| format!("not a URL a gRPC channel can use: {e}"))?;
        // grpc-timeout: at most 8 digits and a unit.
        let millis = request_timeout.as_millis().min(99_999_999);
        Ok(Self {
            addr: if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            },
            origin,
            connect_timeout,
            request_timeout,
            grpc_timeout: HeaderValue::from_str(&format!("{millis}m")).expect("digits and m"),
            sender: Mutex::new(None),
        })
    }

    /// The open connection, or a new one.
    async fn sender(&self, fresh: bool) -> Result<h2::client::SendRequest<Bytes>, Status> {
        if !fresh
            && let Some(s) = self
                .sender
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        {
            return Ok(s);
        }
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect(&self.addr),
        )
        .await
        .map_err(|_| transport(format!("tcp connect error: {} timed out", self.addr)))?
        .map_err(|e| transport(format!("tcp connect error: {}: {e}", self.addr)))?;
        let _ = tcp.set_nodelay(true);
        let (sender, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake::<_, Bytes>(tcp)
            .await
            .map_err(transport)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        *self.sender.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender.clone());
        Ok(sender)
    }

    /// Forgets the connection (it failed); the next call makes a new one.
    fn drop_connection(&self) {
        *self.sender.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Sends one gRPC message (`message`, already framed: see [`frame`]) to `path` and returns
    /// the answer's message, within the request timeout.
    pub(super) async fn unary(
        &self,
        path: &'static str,
        message: Bytes,
        api_key: Option<&HeaderValue>,
    ) -> Result<Bytes, Status> {
        match tokio::time::timeout(self.request_timeout, self.call(path, message, api_key)).await {
            Ok(answer) => answer,
            Err(_) => Err(Status::cancelled(format!(
                "Timeout expired: no answer within {:?}",
                self.request_timeout
            ))),
        }
    }

    async fn call(
        &self,
        path: &'static str,
        message: Bytes,
        api_key: Option<&HeaderValue>,
    ) -> Result<Bytes, Status> {
        // A connection that closed since its last use is found before anything is sent: make a
        // new one, once.
        let mut sender = match self.sender(false).await?.ready().await {
            Ok(s) => s,
            Err(_) => {
                self.drop_connection();
                self.sender(true).await?.ready().await.map_err(|e| {
                    self.drop_connection();
                    transport(e)
                })?
            }
        };
        let mut uri = self.origin.clone().into_parts();
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static(path));
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = Uri::from_parts(uri).expect("origin and path");
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert(TE, HeaderValue::from_static("trailers"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("qdrant-perf/", env!("CARGO_PKG_VERSION"))),
        );
        headers.insert("grpc-timeout", self.grpc_timeout.clone());
        if let Some(key) = api_key {
            headers.insert("api-key", key.clone());
        }
        let failed = |e: h2::Error| {
            if e.is_io() || e.is_go_away() || e.reason().is_none() {
                self.drop_connection();
            }
            match e.reason() {
                Some(h2::Reason::REFUSED_STREAM) => Status::unavailable(e.to_string()),
                Some(h2::Reason::CANCEL) => Status::cancelled(e.to_string()),
                Some(h2::Reason::NO_ERROR | h2::Reason::CONNECT_ERROR) if !e.is_go_away() => {
                    Status::unavailable(e.to_string())
                }
                _ => transport(e),
            }
        };
        let (answer, mut stream) = sender.send_request(request, false).map_err(failed)?;
        stream.send_data(message, true).map_err(failed)?;
        let answer = answer.await.map_err(failed)?;
        let (parts, mut body) = answer.into_parts();
        if let Some(status) = error_in(&parts.headers) {
            return Err(status);
        }
        if parts.status != StatusCode::OK {
            return Err(http_status(parts.status));
        }
        let mut data: Option<Bytes> = None;
        let mut more: Option<BytesMut> = None;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(failed)?;
            let _ = body.flow_control().release_capacity(chunk.len());
            match (&mut data, &mut more) {
                (None, _) => data = Some(chunk),
                (Some(first), None) => {
                    let mut all = BytesMut::with_capacity(first.len() + chunk.len());
                    all.extend_from_slice(first);
                    all.extend_from_slice(&chunk);
                    more = Some(all);
                }
                (Some(_), Some(all)) => all.extend_from_slice(&chunk),
            }
        }
        let trailers = body.trailers().await.map_err(failed)?;
        match trailers
            .as_ref()
            .map(|t| (error_in(t), t.contains_key("grpc-status")))
        {
            Some((Some(status), _)) => return Err(status),
            Some((None, true)) => {}
            _ => {
                return Err(Status::unknown(
                    "protocol error: missing grpc-status trailer, stream was terminated without \
                     a final status",
                ));
            }
        }
        let data = match more {
            Some(all) => all.freeze(),
            None => data.unwrap_or_default(),
        };
        unframe(data)
    }
}

/// The error a `grpc-status` header other than 0 (OK) names, if any.
fn error_in(headers: &HeaderMap) -> Option<Status> {
    match headers.get("grpc-status") {
        Some(v) if v.as_bytes() != b"0" => Status::from_header_map(headers),
        _ => None,
    }
}

/// gRPC's mapping of an HTTP status without `grpc-status`
/// (<https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md>).
fn http_status(status: StatusCode) -> Status {
    let code = match status {
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(code, format!("HTTP status {status} without a gRPC status"))
}

/// A gRPC message frame: no compression, the length (4 bytes, big-endian), then what `write`
/// puts (`len` bytes).
pub(super) fn frame(len: usize, write: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut buf = BytesMut::with_capacity(5 + len);
    buf.extend_from_slice(&[0]);
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    write(&mut buf);
    debug_assert_eq!(buf.len(), 5 + len);
    buf.freeze()
}

/// The message of a one-message gRPC body.
fn unframe(mut data: Bytes) -> Result<Bytes, Status> {
    if data.len() < 5 {
        return Err(Status::internal(format!(
            "a gRPC answer of {} bytes, shorter than a message's 5-byte prefix",
            data.len()
        )));
    }
    let compressed = data.get_u8();
    let len = data.get_u32() as usize;
    if compressed != 0 {
        return Err(Status::internal(
            "a compressed gRPC answer, though none was asked for",
        ));
    }
    if data.len() != len {
        return Err(Status::internal(format!(
            "a gRPC message of {} bytes where its prefix says {len}",
            data.len()
        )));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_unframed_to_its_message_and_a_short_or_compressed_one_is_an_error() {
        let framed = frame(3, |b| b.extend_from_slice(b"abc"));
        assert_eq!(&framed[..], b"\0\0\0\0\x03abc");
        assert_eq!(unframe(framed).unwrap(), Bytes::from_static(b"abc"));
        assert_eq!(
            unframe(Bytes::from_static(b"\0\0\0")).unwrap_err().code(),
            Code::Internal
        );
        let truncated = unframe(Bytes::from_static(b"\0\0\0\0\x05abc")).unwrap_err();
        assert!(
            truncated.message().contains("prefix says 5"),
            "{truncated:?}"
        );
        assert_eq!(
            unframe(Bytes::from_static(b"\x01\0\0\0\x01a"))
                .unwrap_err()
                .code(),
            Code::Internal
        );
    }

    #[test]
    fn a_grpc_status_other_than_ok_is_the_error_and_http_statuses_map_as_grpc_says() {
        let mut ok = HeaderMap::new();
        ok.insert("grpc-status", HeaderValue::from_static("0"));
        assert!(error_in(&ok).is_none());
        assert!(error_in(&HeaderMap::new()).is_none());
        let mut missing = HeaderMap::new();
        missing.insert("grpc-status", HeaderValue::from_static("5"));
        missing.insert(
            "grpc-message",
            HeaderValue::from_static("Not%20found: Collection `x` doesn't exist!"),
        );
        let status = error_in(&missing).unwrap();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "Not found: Collection `x` doesn't exist!");
        assert_eq!(
            http_status(StatusCode::UNAUTHORIZED).code(),
            Code::Unauthenticated
        );
        assert_eq!(
            http_status(StatusCode::BAD_GATEWAY).code(),
            Code::Unavailable
        );
        assert_eq!(http_status(StatusCode::IM_A_TEAPOT).code(), Code::Unknown);
    }

    #[test]
    fn a_node_url_gives_the_address_to_dial_and_the_origin_of_its_requests() {
        let t = Duration::from_secs(1);
        let n = H2Node::new("http://127.0.0.1:6334", t, Duration::from_secs(30)).unwrap();
        assert_eq!(n.addr, "127.0.0.1:6334");
        assert_eq!(n.origin.to_string(), "http://127.0.0.1:6334/");
        assert_eq!(n.grpc_timeout, "30000m");
        let v6 = H2Node::new("http://[::1]:6334", t, t).unwrap();
        assert_eq!(v6.addr, "[::1]:6334");
        assert_eq!(
            H2Node::new("http://qdrant", t, t).unwrap().addr,
            "qdrant:80"
        );
        assert!(H2Node::new("127.0.0.1:6334", t, t).is_err());
    }
}
