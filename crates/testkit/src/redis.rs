//! A throwaway `redis-server` for tests and benches: started on a free loopback port with no
//! persistence (`--save "" --appendonly no`) in its own temporary directory, ready when it
//! answers PING, and killed when dropped (also when a test panics). Or a running Redis given by
//! `REDIS_URL`.
//!
//! The executable is `REDIS_SERVER_BIN` or `redis-server` on the PATH (Debian package
//! `redis-server`: `apt-get install -y redis-server`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::process::{Process, StartError, free_ports};

/// A `redis-server` process this run started.
pub struct RedisServer {
    process: Process,
    port: u16,
    password: Option<String>,
}

/// The executable to start: `REDIS_SERVER_BIN` or `redis-server`.
fn redis_server_bin() -> PathBuf {
    std::env::var_os("REDIS_SERVER_BIN")
        .filter(|b| !b.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// Sends PING on a fresh TCP connection; true when Redis answers (PONG, or NOAUTH when it wants
/// a password: either way it is up).
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && (&reply == b"+PONG\r\n" || &reply == b"-NOAUTH")
}

impl RedisServer {
    /// Starts a private server on a free loopback port; ready when it answers PING (up to 20 s).
    pub fn start() -> Result<Self, StartError> {
        Self::start_with(None)
    }

    /// Starts a private server that requires `password` (`--requirepass`).
    pub fn start_with_password(password: &str) -> Result<Self, StartError> {
        Self::start_with(Some(password.to_string()))
    }

    fn start_with(password: Option<String>) -> Result<Self, StartError> {
        let [port] = free_ports()?;
        let mut process = Process::new(
            "redis-server",
            "the cache tests and benches start a private one. Install it with `apt-get install \
             -y redis-server` (Debian package redis-server), set REDIS_SERVER_BIN to its path, \
             or set REDIS_URL to a running Redis",
            redis_server_bin(),
        )?
        .ready_when(Duration::from_secs(20), move || answers_ping(port))
        .dying_with_thread();
        // No persistence; the log goes to standard output, which the kit keeps.
        process.args = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no", "--logfile", ""])
            .map(String::from)
            .collect();
        process
            .args
            .extend(["--dir".into(), process.dir.display().to_string()]);
        if let Some(p) = &password {
            process.args.extend(["--requirepass".into(), p.clone()]);
        }
        process.start()?;
        Ok(Self {
            process,
            port,
            password,
        })
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, with the password when the server has one.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server now (SIGKILL), as a crash would. Its data is gone (no persistence).
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]).
    pub fn restart(&mut self) -> Result<(), StartError> {
        self.process.kill();
        self.process.start()
    }

    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }
}

/// The Redis a test or bench runs against: `REDIS_URL` when set (a running Redis), otherwise a
/// private server started here.
pub enum TestRedis {
    Started(RedisServer),
    External { url: String },
}

impl TestRedis {
    pub fn from_env() -> Result<Self, StartError> {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(TestRedis::External { url }),
            _ => Ok(TestRedis::Started(RedisServer::start()?)),
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestRedis::Started(s) => s.url(),
            TestRedis::External { url } => url.clone(),
        }
    }

    /// `private redis-server on 127.0.0.1:<port>` or the redacted `REDIS_URL`.
    pub fn describe(&self) -> String {
        match self {
            TestRedis::Started(s) => format!("private redis-server on 127.0.0.1:{}", s.port()),
            TestRedis::External { url } => {
                format!("REDIS_URL {}", qdrant_perf_store::cache::redact_url(url))
            }
        }
    }
}
