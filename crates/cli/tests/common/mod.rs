//! What the binary's end-to-end tests share: running `qdrant-perf` and a stand-in HTTP search
//! endpoint on 127.0.0.1.

#![allow(dead_code, unused_imports)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use qdrant_perf_testkit::cli::{quick_validate, run};
use qdrant_perf_testkit::http::{Answer, StandIn};

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

/// An HTTP/1.1 JSON search endpoint on 127.0.0.1 at `path` that answers every request after
/// `delay`: 200 with one hit when the body is a filled-in template (a JSON array where
/// `{{vector}}` was), 400 otherwise. Returns its URL.
pub fn endpoint(path: &str, delay: Duration) -> String {
    StandIn::start(move |r| {
        std::thread::sleep(delay);
        if r.body.contains("{{") || !r.body.contains('[') {
            Answer::json("400 Bad Request", "{}")
        } else {
            Answer::json("200 OK", r#"{"results":[{"id":1}]}"#)
        }
    })
    .url(path)
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

/// `method path` with a JSON body on 127.0.0.1:`port` (HTTP/1.0); the status and the body.
pub fn http_json(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    qdrant_perf_testkit::http::request(port, method, path, body).expect("an HTTP answer")
}
