//! What the binary's end-to-end tests share: running `qdrant-perf` and a stand-in HTTP search
//! endpoint on 127.0.0.1.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

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

fn serve(mut sock: TcpStream, delay: Duration) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
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
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        while buf.len() < head_end + length {
            match sock.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        buf.drain(..head_end + length);
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
