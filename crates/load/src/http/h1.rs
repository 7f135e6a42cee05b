//! HTTP/1.1 exchanges on connections of the target's own, made as wrk makes them: a request is
//! bytes prepared before the run (request line, headers and body in one buffer, sent with one
//! write), and its response is read into the connection's buffer and parsed there (httparse, the
//! parser hyper uses): the status, the few headers the run reads, and the body by its
//! `Content-Length`, chunked, or to the end of the connection. The exchange runs in the caller's
//! task: no connection task to wake, no channel between the two, no header map per request.

use bytes::{Buf, Bytes, BytesMut};
use hyper::Method;
use hyper::header::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Answer, Failure};
use crate::target::server_timing_seconds;

/// Headers a response may have; more is an error.
const MAX_HEADERS: usize = 64;
/// What one read asks the socket for, at least.
const READ_SIZE: usize = 16 * 1024;

/// The bytes of one HTTP/1.1 request: `METHOD path HTTP/1.1`, `headers` (the `host` among
/// them), `content-length` (for a body, and for any POST or PUT), the blank line and `body`.
pub(super) fn prepare(method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Bytes {
    let mut out = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    out.reserve(256 + body.len());
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || *method != Method::GET {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// One HTTP/1.1 connection and the buffer its responses are read into.
pub(super) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

/// How an exchange failed.
pub(super) enum Failed {
    /// The connection ended (closed or reset) before any of the response arrived: on a
    /// kept-alive connection, the server closed it meanwhile, and the request is worth one more
    /// try on a new connection.
    Unanswered(Failure),
    /// Anything else.
    Other(Failure),
}

impl Failed {
    /// A failure while the body was read (kind `response body`, as for hyper's connections).
    fn in_body(self) -> Self {
        let (Self::Unanswered(f) | Self::Other(f)) = self;
        Self::Other(Failure {
            kind: "response body",
            ..f
        })
    }

    pub(super) fn into_failure(self) -> Failure {
        match self {
            Self::Unanswered(f) | Self::Other(f) => f,
        }
    }
}

/// How a response's body ends.
enum Framing {
    Length(usize),
    Chunked,
    /// At the end of the connection (no length, not chunked).
    Eof,
}

/// What the head of a response says.
struct Head {
    len: usize,
    status: u16,
    framing: Framing,
    keep_alive: bool,
    server_timing: Option<f64>,
}

/// A response that breaks HTTP/1.1 (kind `request`, as when hyper cannot parse a response's
/// head; [`Failed::in_body`] for the body's).
fn protocol(message: impl Into<String>) -> Failed {
    Failed::Other(Failure {
        kind: "request",
        message: message.into(),
    })
}

fn head(r: &httparse::Response<'_, '_>, len: usize) -> Result<Head, Failed> {
    let status = r.code.unwrap_or(0);
    let (mut length, mut chunked, mut close, mut keep_alive_asked) = (None, false, false, false);
    let mut server_timing = None;
    for h in r.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("");
        if h.name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse::<usize>().map_err(|_| {
                protocol(format!(
                    "the response's content-length {value:?} is not a length"
                ))
            })?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive_asked |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("server-timing") && server_timing.is_none() {
            server_timing = server_timing_seconds(value);
        }
    }
    // HTTP/1.0 closes unless asked not to; 1.1 keeps the connection unless told to close.
    let mut keep_alive = !close && (r.version == Some(1) || keep_alive_asked);
    let framing = if status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        keep_alive = false;
        Framing::Eof
    };
    Ok(Head {
        len,
        status,
        framing,
        keep_alive,
        server_timing,
    })
}

impl Conn {
    pub(super) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(READ_SIZE),
        }
    }

    /// Reads more of the response into the buffer; `Ok(0)` at the end of the connection.
    async fn read(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(READ_SIZE);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Reads more, where the response must go on.
    async fn more(&mut self, answered: bool) -> Result<(), Failed> {
        let ended = |e: std::io::Error| {
            let f = Failure {
                kind: "request",
                message: format!("the connection ended before the response did: {e}"),
            };
            if answered {
                Failed::Other(f)
            } else {
                Failed::Unanswered(f)
            }
        };
        match self.read().await {
            Ok(0) => Err(ended(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => Ok(()),
            Err(e) => Err(ended(e)),
        }
    }

    /// Sends `request` (from [`prepare`]) and reads its response. Whether the connection can
    /// take another request is in the answer.
    pub(super) async fn exchange(&mut self, request: &[u8]) -> Result<(Answer, bool), Failed> {
        self.buf.clear();
        if let Err(e) = self.stream.write_all(request).await {
            return Err(Failed::Unanswered(Failure {
                kind: "request",
                message: format!("the request could not be sent: {e}"),
            }));
        }
        let head = loop {
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut r = httparse::Response::new(&mut headers);
                match r.parse(&self.buf) {
                    // An interim answer (100 Continue, 103 Early Hints): the final one follows.
                    Ok(httparse::Status::Complete(n))
                        if r.code.is_some_and(|c| (100..200).contains(&c) && c != 101) =>
                    {
                        self.buf.advance(n);
                        continue;
                    }
                    Ok(httparse::Status::Complete(n)) => break head(&r, n)?,
                    Ok(httparse::Status::Partial) => {}
                    Err(e) => return Err(protocol(format!("not an HTTP/1.1 response: {e}"))),
                }
            }
            let answered = !self.buf.is_empty();
            self.more(answered).await?;
        };
        let body = self.body(&head).await.map_err(Failed::in_body)?;
        Ok((
            Answer {
                status: head.status,
                server_timing: head.server_timing,
                body,
            },
            head.keep_alive,
        ))
    }

    /// The body after `head`, by its framing.
    async fn body(&mut self, head: &Head) -> Result<Bytes, Failed> {
        Ok(match head.framing {
            Framing::Length(n) => {
                while self.buf.len() < head.len + n {
                    self.more(true).await?;
                }
                let mut frame = self.buf.split_to(head.len + n);
                frame.advance(head.len);
                frame.freeze()
            }
            Framing::Chunked => self.chunked(head.len).await?,
            Framing::Eof => {
                loop {
                    match self.read().await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => return Err(protocol(format!("reading the response: {e}"))),
                    }
                }
                self.buf.advance(head.len);
                self.buf.split().freeze()
            }
        })
    }

    /// A chunked body that starts at `pos` of the buffer, and its trailers.
    async fn chunked(&mut self, mut pos: usize) -> Result<Bytes, Failed> {
        let mut body = BytesMut::new();
        loop {
            let step = httparse::parse_chunk_size(&self.buf[pos..]);
            match step {
                Ok(httparse::Status::Complete((n, 0))) => {
                    pos += n;
                    break;
                }
                Ok(httparse::Status::Complete((n, size))) => {
                    let size = usize::try_from(size)
                        .map_err(|_| protocol(format!("a chunk of {size} bytes")))?;
                    let end = pos + n + size + 2;
                    while self.buf.len() < end {
                        self.more(true).await?;
                    }
                    if &self.buf[end - 2..end] != b"\r\n" {
                        return Err(protocol("a chunk of the response does not end in CRLF"));
                    }
                    body.extend_from_slice(&self.buf[pos + n..end - 2]);
                    pos = end;
                }
                Ok(httparse::Status::Partial) => self.more(true).await?,
                Err(_) => return Err(protocol("the response has a chunk size that is not one")),
            }
        }
        // Trailers (none, usually): header lines up to a blank one.
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let step = httparse::parse_headers(&self.buf[pos..], &mut headers).map(|s| match s {
                httparse::Status::Complete((n, _)) => Some(n),
                httparse::Status::Partial => None,
            });
            match step {
                Ok(Some(n)) => {
                    self.buf.advance(pos + n);
                    return Ok(body.freeze());
                }
                Ok(None) => self.more(true).await?,
                Err(e) => return Err(protocol(format!("the response's trailers: {e}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{self, HeaderValue};
    use tokio::net::TcpListener;

    /// A server on 127.0.0.1 that answers each request with the next of `answers` (its bytes,
    /// then whether to close the connection), and reports every request's bytes.
    async fn server(
        answers: Vec<(&'static [u8], bool)>,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            'conns: loop {
                let (mut s, _) = listener.accept().await.unwrap();
                loop {
                    // One request: its head, then its content-length's worth of body.
                    let mut req = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let total = loop {
                        let n = s.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            continue 'conns;
                        }
                        req.extend_from_slice(&chunk[..n]);
                        let mut h = [httparse::EMPTY_HEADER; 16];
                        let mut r = httparse::Request::new(&mut h);
                        if let Ok(httparse::Status::Complete(len)) = r.parse(&req) {
                            let body = r
                                .headers
                                .iter()
                                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                                .map_or(0, |h| {
                                    std::str::from_utf8(h.value).unwrap().parse().unwrap()
                                });
                            break len + body;
                        }
                    };
                    while req.len() < total {
                        let n = s.read(&mut chunk).await.unwrap();
                        req.extend_from_slice(&chunk[..n]);
                    }
                    tx.send(req).unwrap();
                    let (a, close) = answers.next().unwrap_or((b"", true));
                    // In two writes, so a response comes in pieces.
                    let (x, y) = a.split_at(a.len() / 2);
                    s.write_all(x).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    s.write_all(y).await.unwrap();
                    if close {
                        continue 'conns;
                    }
                }
            }
        });
        (addr, rx)
    }

    #[test]
    fn a_prepared_request_is_the_request_line_headers_length_and_body() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let post = prepare(&Method::POST, "/s?x=1", &headers, br#"{"a":1}"#);
        assert_eq!(
            &post[..],
            b"POST /s?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-type: application/json\r\n\
              content-length: 7\r\n\r\n{\"a\":1}"
        );
        let get = prepare(&Method::GET, "/health", &HeaderMap::new(), b"");
        assert_eq!(&get[..], b"GET /health HTTP/1.1\r\n\r\n");
        let put = prepare(&Method::PUT, "/p", &HeaderMap::new(), b"");
        assert_eq!(&put[..], b"PUT /p HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
    }

    #[tokio::test]
    async fn responses_are_read_by_length_chunks_or_to_the_end_and_say_whether_to_keep_the_connection()
     {
        let (addr, mut requests) = server(vec![
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\nserver-timing: total;dur=2.5\r\n\r\nhello", false),
            (b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n6;x=y\r\n, wait\r\n0\r\nx-trailer: 1\r\n\r\n", false),
            (b"HTTP/1.1 204 No Content\r\n\r\n", false),
            (b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok", true),
            (b"HTTP/1.0 200 OK\r\n\r\nto the end", true),
        ])
        .await;
        let mut c = Conn::new(TcpStream::connect(&addr).await.unwrap());
        let req = prepare(&Method::POST, "/s", &HeaderMap::new(), b"{}");
        let (a, keep) = c.exchange(&req).await.ok().unwrap();
        assert_eq!((a.status, &a.body[..], keep), (200, &b"hello"[..], true));
        assert_eq!(a.server_timing, Some(0.0025));
        assert_eq!(requests.recv().await.unwrap(), req.to_vec());
        let (a, keep) = c.exchange(&req).await.ok().unwrap();
        assert_eq!(
            (a.status, &a.body[..], keep),
            (503, &b"busy, wait"[..], true)
        );
        let (a, keep) = c.exchange(&req).await.ok().unwrap();
        assert_eq!((a.status, a.body.len(), keep), (204, 0, true));
        let (a, keep) = c.exchange(&req).await.ok().unwrap();
        assert_eq!((a.status, &a.body[..], keep), (200, &b"ok"[..], false));
        // The server closes after `connection: close`; the next request goes on a new one.
        let mut c = Conn::new(TcpStream::connect(&addr).await.unwrap());
        let (a, keep) = c.exchange(&req).await.ok().unwrap();
        assert_eq!(
            (a.status, &a.body[..], keep),
            (200, &b"to the end"[..], false)
        );
        for _ in 0..4 {
            assert_eq!(requests.recv().await.unwrap(), req.to_vec());
        }
    }

    #[tokio::test]
    async fn a_connection_closed_before_answering_is_unanswered_and_a_broken_response_is_not() {
        let (addr, _requests) = server(vec![
            (b"", true),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", true),
            (b"SMTP ready\r\n\r\n", false),
        ])
        .await;
        let req = prepare(&Method::GET, "/", &HeaderMap::new(), b"");
        let mut c = Conn::new(TcpStream::connect(&addr).await.unwrap());
        assert!(matches!(c.exchange(&req).await, Err(Failed::Unanswered(_))));
        // The server closes mid-body.
        let mut c = Conn::new(TcpStream::connect(&addr).await.unwrap());
        match c.exchange(&req).await {
            Err(Failed::Other(f)) => {
                assert!(f.message.contains("ended before"), "{}", f.message);
                assert_eq!(f.kind, "response body");
            }
            _ => panic!("a short body is an error"),
        }
        let mut c = Conn::new(TcpStream::connect(&addr).await.unwrap());
        match c.exchange(&req).await {
            Err(Failed::Other(f)) => {
                assert!(
                    f.message.contains("not an HTTP/1.1 response"),
                    "{}",
                    f.message
                );
                assert_eq!(f.kind, "request");
            }
            _ => panic!("a response that is not HTTP is an error"),
        }
    }

    #[tokio::test]
    async fn a_kept_alive_connection_the_server_closed_is_retried_once_on_a_new_one() {
        // The server closes each connection after its answer, without saying so (as one whose
        // keep-alive timeout ran out between two requests).
        let ok: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let (addr, mut requests) = server(vec![(ok, true), (ok, true), (b"", true)]).await;
        let pool = super::super::Pool {
            addr,
            idle: std::sync::Mutex::new(Vec::new()),
            h2: std::sync::Mutex::new(None),
        };
        let req = prepare(&Method::GET, "/", &HeaderMap::new(), b"");
        for _ in 0..2 {
            let a = pool.send_h1(&req).await.ok().expect("answered");
            assert_eq!((a.status, &a.body[..]), (200, &b"ok"[..]));
            assert_eq!(
                pool.idle.lock().unwrap().len(),
                1,
                "kept for the next request"
            );
        }
        assert_eq!(requests.recv().await.unwrap(), req.to_vec());
        assert_eq!(requests.recv().await.unwrap(), req.to_vec());
        // Retried once, not more: the new connection is closed unanswered too.
        let err = pool.send_h1(&req).await.err().expect("unanswered twice");
        assert_eq!(err.kind, "request", "{}", err.message);
    }
}
