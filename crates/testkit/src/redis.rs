//! A throwaway `redis-server` for tests and benches: started on a free loopback port with no
//! persistence (`--save "" --appendonly no`) in its own temporary directory, ready when it
//! answers PING, and killed when dropped (also when a test panics). Or a running Redis given by
//! `REDIS_URL`.
//!
//! The executable is `REDIS_SERVER_BIN` or `redis-server` on the PATH (Debian package
//! `redis-server`: `apt-get install -y redis-server`).

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Starting the private redis-server failed: it is not installed, or it did not come up.
#[derive(Debug, thiserror::Error)]
pub enum RedisServerError {
    #[error(
        "redis-server not found ({message}): the cache tests and benches start a private one. \
         Install it with `apt-get install -y redis-server` (Debian package redis-server), \
         set REDIS_SERVER_BIN to its path, or set REDIS_URL to a running Redis"
    )]
    ServerMissing { message: String },

    #[error("redis-server did not start: {message}")]
    ServerStart { message: String },
}

impl RedisServerError {
    /// True when redis-server is not installed (a test skips, or fails under CI).
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::ServerMissing { .. })
    }
}

static STARTED: AtomicU64 = AtomicU64::new(0);

/// A `redis-server` process this run started.
pub struct RedisServer {
    child: Option<Child>,
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    password: Option<String>,
}

/// The executable to start: `REDIS_SERVER_BIN` or `redis-server`.
pub fn redis_server_bin() -> PathBuf {
    std::env::var_os("REDIS_SERVER_BIN")
        .filter(|b| !b.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// Sends PING on a fresh TCP connection; true when Redis answers (PONG, or NOAUTH when it wants
/// a password: either way it is up).
pub fn answers_ping(port: u16) -> bool {
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
    /// Starts a private server on a free loopback port.
    pub fn start() -> Result<Self, RedisServerError> {
        Self::start_with(None)
    }

    /// Starts a private server that requires `password` (`--requirepass`).
    pub fn start_with_password(password: &str) -> Result<Self, RedisServerError> {
        Self::start_with(Some(password.to_string()))
    }

    fn start_with(password: Option<String>) -> Result<Self, RedisServerError> {
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("qdrant-perf-redis-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| RedisServerError::ServerStart {
            message: format!("cannot create {}: {e}", dir.display()),
        })?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| RedisServerError::ServerStart {
                message: format!("no free loopback port: {e}"),
            })?
            .port();
        let mut server = Self {
            child: None,
            dir,
            bin: redis_server_bin(),
            port,
            password,
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<(), RedisServerError> {
        let mut command = Command::new(&self.bin);
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = &self.password {
            command.args(["--requirepass", p]);
        }
        // Linux: the server dies with the thread that started it, even when the test or bench
        // process exits without dropping it (a panic in a static, `process::exit`).
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl is async-signal-safe and touches only the child being set up.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RedisServerError::ServerMissing {
                    message: format!("cannot run `{}`: {e}", self.bin.display()),
                }
            } else {
                RedisServerError::ServerStart {
                    message: format!("cannot run `{}`: {e}", self.bin.display()),
                }
            }
        })?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(20))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), RedisServerError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if answers_ping(self.port) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(RedisServerError::ServerStart {
                    message: format!(
                        "redis-server exited ({status}) before it answered PING; its log:\n{}",
                        self.log()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(RedisServerError::ServerStart {
            message: format!(
                "redis-server did not answer PING on port {} within {limit:?}; its log:\n{}",
                self.port,
                self.log()
            ),
        })
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
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
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]).
    pub fn restart(&mut self) -> Result<(), RedisServerError> {
        self.kill();
        self.spawn()
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The Redis a test or bench runs against: `REDIS_URL` when set (a running Redis), otherwise a
/// private server started here.
pub enum TestRedis {
    Started(RedisServer),
    External { url: String },
}

impl TestRedis {
    pub fn from_env() -> Result<Self, RedisServerError> {
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
