//! Bare HTTP for the tests: a stand-in server on 127.0.0.1 that answers as a test says (a
//! search endpoint, an API gateway, a server that stalls or fails), and a one-shot HTTP/1.0
//! client for reading a server's own pages.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One request a stand-in got.
pub struct Request {
    /// Its number among all the stand-in got, from 1.
    pub n: u64,
    pub method: String,
    pub path: String,
    /// The request line and the headers, as sent.
    pub head: String,
    pub body: String,
}

impl Request {
    /// True when the request carries the header line `name: value` (name in any case).
    pub fn has_header(&self, name: &str, value: &str) -> bool {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.trim() == value)
    }
}

/// What a stand-in answers: a status (`"200 OK"`), extra header lines (each ending in
/// `\r\n`) and a JSON body.
pub struct Answer {
    pub status: &'static str,
    pub headers: &'static str,
    pub body: String,
}

impl Answer {
    /// A JSON answer with no extra headers.
    pub fn json(status: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: "",
            body: body.into(),
        }
    }
}

/// An HTTP/1.1 server on 127.0.0.1 (keep-alive, one thread per connection) whose answers a
/// test writes; it runs until the test process ends.
pub struct StandIn {
    base: String,
    seen: Arc<AtomicU64>,
}

impl StandIn {
    /// Starts the server; `answer` is called once per request (from many threads at once).
    pub fn start(answer: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let seen = Arc::new(AtomicU64::new(0));
        let (count, answer) = (seen.clone(), Arc::new(answer));
        std::thread::spawn(move || {
            for sock in listener.incoming().flatten() {
                let (count, answer) = (count.clone(), answer.clone());
                std::thread::spawn(move || serve(sock, &count, &*answer));
            }
        });
        Self { base, seen }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests it has got so far.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }
}

/// Answers the requests of one kept-alive connection until the client closes it.
fn serve(mut sock: TcpStream, count: &AtomicU64, answer: &dyn Fn(&Request) -> Answer) {
    let mut buf = Vec::new();
    while let Some((head, body)) = read_request(&mut sock, &mut buf) {
        let mut words = head.split_whitespace();
        let request = Request {
            n: count.fetch_add(1, Ordering::SeqCst) + 1,
            method: words.next().unwrap_or("").to_string(),
            path: words.next().unwrap_or("").to_string(),
            head: head.clone(),
            body,
        };
        let Answer {
            status,
            headers,
            body,
        } = answer(&request);
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n{body}",
            body.len()
        );
        if sock.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The next HTTP/1.1 request on a kept-alive `sock` (`buf` holds what was read past the last
/// one): its head and its body, or `None` when the client closed the connection.
pub fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, String)> {
    let mut chunk = [0u8; 16384];
    let mut read_more = |buf: &mut Vec<u8>| match sock.read(&mut chunk) {
        Ok(0) | Err(_) => None,
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Some(())
        }
    };
    let (head_end, length) = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (i + 4, length);
        }
        read_more(buf)?;
    };
    while buf.len() < head_end + length {
        read_more(buf)?;
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    buf.drain(..head_end + length);
    Some((head, body))
}

/// `method path` on 127.0.0.1:`port` with a bare HTTP/1.0 request (a JSON `body` when not
/// empty): the status code and the body of the answer, however long it takes.
pub fn request(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    exchange(port, method, path, body, None)
}

/// [`request`], giving up on an answer after `read_timeout`.
fn exchange(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    read_timeout: Option<Duration>,
) -> Option<(u16, String)> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .ok()?;
    stream.set_read_timeout(read_timeout).ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.get(9..12)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// How long a readiness or page GET waits for its answer.
const GET_TIMEOUT: Option<Duration> = Some(Duration::from_secs(2));

/// GET `path` on 127.0.0.1:`port` (HTTP/1.0); the status code, if any.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    exchange(port, "GET", path, "", GET_TIMEOUT).map(|(status, _)| status)
}

/// GET `path` on 127.0.0.1:`port` (HTTP/1.0); the body of a 200 answer.
pub fn http_body(port: u16, path: &str) -> Option<String> {
    exchange(port, "GET", path, "", GET_TIMEOUT)
        .and_then(|(status, body)| (status == 200).then_some(body))
}
