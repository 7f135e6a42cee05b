//! Test tools of qdrant-perf, used only as a dev-dependency.
//!
//! A test that needs a part this machine may not have (a Qdrant server, redis-server,
//! Prometheus, node_exporter, Chromium) asks for it here. Locally a missing part skips the test
//! with one line saying what is missing and how to get it (`scripts/setup` installs them all).
//! Under CI (`CI=true`, as GitHub Actions and `.ci/run` set it) a missing part fails the test,
//! so CI cannot go green by skipping.
//!
//! The parts themselves: [`qdrant`] (a throwaway Qdrant server or cluster, `TestServer` below),
//! [`redis`] (a private redis-server) and [`prometheus`] (a private Prometheus and
//! node_exporter). Nothing here is in a product crate's public API.

use std::fmt::Display;
use std::path::{Path, PathBuf};

pub mod cli;
pub mod http;
mod process;
pub mod prometheus;
pub mod qdrant;
pub mod redis;
pub mod store;

pub use http::{http_body, http_status};
pub use process::{StartError, free_ports};

use qdrant::LocalServer;

/// True when the environment says this is CI: `CI` is `true` or `1`.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1"))
}

/// A part the test needs is missing: prints `skipped: {why}` and returns, so the caller
/// returns too; under CI it panics with the same words instead.
#[track_caller]
pub fn skip(why: impl Display) {
    if under_ci() {
        panic!(
            "{why}: required under CI (CI=true), where no test may skip; scripts/setup installs \
             the Debian packages, the workflow sets QDRANT_BIN"
        );
    }
    eprintln!("skipped: {why}");
}

/// What a test started, or None after [`skip`] when its executable is missing; any other
/// failure to start panics.
#[track_caller]
pub fn started<T>(result: Result<T, StartError>) -> Option<T> {
    match result {
        Ok(started) => Some(started),
        Err(e) if e.is_missing() => {
            skip(e);
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// `QDRANT_BIN`, the Qdrant server executable the server tests start, or None after [`skip`].
#[track_caller]
pub fn qdrant_bin() -> Option<PathBuf> {
    match std::env::var_os("QDRANT_BIN").filter(|b| !b.is_empty()) {
        Some(bin) => Some(PathBuf::from(bin)),
        None => {
            skip("no Qdrant server: set QDRANT_BIN to a Qdrant executable (the tests start it)");
            None
        }
    }
}

/// The first Chromium or Chrome found: `CHROMIUM` when set, else Debian's `/usr/bin/chromium`,
/// Ubuntu's `chromium-browser`, or Google Chrome (as GitHub's runners carry it); None after
/// [`skip`].
#[track_caller]
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let found = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.exists());
    if found.is_none() {
        skip("no Chromium: apt-get install -y chromium, or set CHROMIUM to a Chrome executable");
    }
    found.map(Path::to_path_buf)
}

/// The server a test file runs against: one it started, or one the user runs.
pub enum TestServer {
    Started(LocalServer),
    External { url: String },
}

impl TestServer {
    /// `QDRANT_URL` (a running server) or else `QDRANT_BIN` (started here); None after [`skip`]
    /// when neither is set. A `QDRANT_BIN` that fails to start is a test failure, not a skip.
    #[track_caller]
    pub fn from_env() -> Option<Self> {
        if let Ok(url) = std::env::var("QDRANT_URL")
            && !url.trim().is_empty()
        {
            return Some(TestServer::External { url });
        }
        let bin = qdrant_bin()?;
        Some(TestServer::Started(
            LocalServer::start(&bin, None).expect("QDRANT_BIN is set but the server did not start"),
        ))
    }

    /// A gRPC URL of the server (for an external server: `QDRANT_URL` as given).
    pub fn grpc_url(&self) -> String {
        match self {
            TestServer::Started(s) => s.grpc_url(),
            TestServer::External { url } => url.clone(),
        }
    }

    /// A REST URL of the server; for an external server, `QDRANT_REST_URL` or, when `QDRANT_URL`
    /// ends in the gRPC port 6334, the same host on 6333.
    pub fn rest_url(&self) -> String {
        match self {
            TestServer::Started(s) => s.rest_url(),
            TestServer::External { url } => std::env::var("QDRANT_REST_URL").unwrap_or_else(|_| {
                let base = url.split("://").nth(1).unwrap_or(url);
                format!("rest+http://{}", base.replace(":6334", ":6333"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Both cases in one test: the environment is the process's, shared by parallel tests.
    #[test]
    fn a_missing_part_skips_locally_and_fails_under_ci() {
        // SAFETY: no other test of this crate reads or writes the environment.
        unsafe { std::env::set_var("CI", "false") };
        assert!(!under_ci());
        skip("a part this test pretends is missing");
        unsafe { std::env::set_var("CI", "true") };
        assert!(under_ci());
        let failed = std::panic::catch_unwind(|| skip("a part this test pretends is missing"));
        let message = *failed.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("required under CI"), "{message}");
        assert!(message.contains("pretends is missing"), "{message}");
    }
}
