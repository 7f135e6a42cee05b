//! What the binary's end-to-end tests share: running `qdrant-perf` and a stand-in HTTP search
//! endpoint on 127.0.0.1.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

pub const BUNDLED: &str = include_str!("../../../../fixtures/performance-tests.yaml");

/// The API gateway's search endpoint, answering at once.
pub fn gateway() -> String {
    endpoint("/api/v1/vectors/search", Duration::ZERO)
}

/// The bundled config with its nine collections replaced by two tiny ones.
pub fn tiny_config(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let start = BUNDLED.find("  collections:").unwrap();
    let end = BUNDLED.find("  monitoring:").unwrap();
    let text = format!(
        "{}  collections:\n    tiny16:\n      vector_size: 16\n      test_vectors: 1000000\n      query_load: 1000\n    tiny32:\n      vector_size: 32\n      test_vectors: 1000000\n      query_load: 1000\n\n{}",
        &BUNDLED[..start],
        &BUNDLED[end..]
    );
    let path = dir.join("perf.yaml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_qdrant-perf"))
}

/// Runs the command; returns its exit code, stdout and stderr.
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run qdrant-perf");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// An HTTP/1.1 JSON search endpoint on 127.0.0.1 at `path` (keep-alive, one thread per
/// connection) that answers every request after `delay`: 200 with one hit when the body is a
/// filled-in template (a JSON array where `{{vector}}` was), 400 otherwise. Returns its URL.
pub fn endpoint(path: &str, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for sock in listener.incoming().flatten() {
            std::thread::spawn(move || serve(sock, delay));
        }
    });
    url
}

/// The next HTTP/1.1 request on a kept-alive `sock` (`buf` holds what was read past the last
/// one): its head and its body, or `None` when the client closed the connection.
pub fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, String)> {
    let mut chunk = [0u8; 16384];
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
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    while buf.len() < head_end + length {
        match sock.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    buf.drain(..head_end + length);
    Some((head, body))
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files.extend(files_under(&p));
        } else {
            files.push(p);
        }
    }
    files
}

/// True when Debian's redis-server is here; else skips (fails under CI: qdrant_perf_testkit).
pub fn have_redis_server() -> bool {
    let found = std::process::Command::new(qdrant_perf_testkit::redis::redis_server_bin())
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        qdrant_perf_testkit::skip("redis-server not found (apt-get install -y redis-server)");
    }
    found
}

fn serve(mut sock: TcpStream, delay: Duration) {
    let mut buf = Vec::new();
    while let Some((_head, body)) = read_request(&mut sock, &mut buf) {
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let (status, answer) = if body.contains("{{") || !body.contains('[') {
            ("400 Bad Request", "{}")
        } else {
            ("200 OK", r#"{"results":[{"id":1}]}"#)
        };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if sock.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// `method path` with a JSON body on 127.0.0.1:`port` (HTTP/1.0); the status and the body.
pub fn http_json(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        sock,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    sock.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}
