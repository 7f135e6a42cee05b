//! A server process a test started and owns, the one way the kit runs Qdrant, redis-server,
//! Prometheus and node_exporter: in its own temporary directory, output appended to a log
//! there, ready only when its readiness check passes, killed (and its directory removed) when
//! dropped, also when a test panics.

use std::fs;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a test's server process did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The executable is not installed: the one case a test may skip on (it fails under CI).
    #[error("{what} not found ({message}): {fix}")]
    Missing {
        what: &'static str,
        message: String,
        fix: &'static str,
    },
    #[error("{0}")]
    Failed(String),
}

impl StartError {
    /// True when the executable is missing (a test skips, or fails under CI).
    pub fn is_missing(&self) -> bool {
        matches!(self, StartError::Missing { .. })
    }
}

static STARTED: AtomicU64 = AtomicU64::new(0);

/// A fresh empty directory `qdrant-perf-{what}-{pid}-{n}` under the temporary directory.
fn scratch_dir(what: &str) -> Result<PathBuf, StartError> {
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("qdrant-perf-{what}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)
        .map_err(|e| StartError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// `N` free loopback ports, all held while choosing so that they differ.
pub fn free_ports<const N: usize>() -> Result<[u16; N], StartError> {
    let no_port = |e: std::io::Error| StartError::Failed(format!("no free loopback port: {e}"));
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(no_port)?;
    let mut ports = [0; N];
    for (port, l) in ports.iter_mut().zip(&listeners) {
        *port = l.local_addr().map_err(no_port)?.port();
    }
    Ok(ports)
}

/// How to run one server: what it is, its executable and its arguments and settings.
pub(crate) struct Process {
    /// Its name in messages and in its directory's name.
    what: &'static str,
    /// How to install it, said when the executable is missing.
    fix: &'static str,
    bin: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    /// Linux: the process dies with the thread that started it, even when the test process
    /// exits without dropping it (a panic in a static, `process::exit`). Only for a process
    /// started on the thread that keeps it.
    dies_with_thread: bool,
    /// True once it answers; how long to wait for that.
    ready: Arc<dyn Fn() -> bool + Send + Sync>,
    limit: Duration,
    pub(crate) dir: PathBuf,
    child: Option<Child>,
}

impl Process {
    /// A process in a fresh directory, not started yet ([`start`](Self::start) starts it).
    pub(crate) fn new(
        what: &'static str,
        fix: &'static str,
        bin: PathBuf,
    ) -> Result<Self, StartError> {
        Ok(Self {
            what,
            fix,
            bin,
            args: Vec::new(),
            env: Vec::new(),
            dies_with_thread: false,
            ready: Arc::new(|| true),
            limit: Duration::from_secs(60),
            dir: scratch_dir(what)?,
            child: None,
        })
    }

    /// Starts only when `ready` passes, within `limit`.
    pub(crate) fn ready_when(
        mut self,
        limit: Duration,
        ready: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Self {
        self.ready = Arc::new(ready);
        self.limit = limit;
        self
    }

    /// Dies with the thread that started it (Linux).
    pub(crate) fn dying_with_thread(mut self) -> Self {
        self.dies_with_thread = true;
        self
    }

    /// Starts the process, its output appended to its log, and waits until it is ready.
    pub(crate) fn start(&mut self) -> Result<(), StartError> {
        let cannot_run = |e: std::io::Error| format!("cannot run `{}`: {e}", self.bin.display());
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| StartError::Failed(cannot_run(e)))?;
        let mut command = Command::new(&self.bin);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map_err(|e| StartError::Failed(cannot_run(e)))?,
            )
            .stderr(log);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            if self.dies_with_thread {
                // SAFETY: prctl is async-signal-safe and touches only the child being set up.
                unsafe {
                    command.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
            }
        }
        let child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StartError::Missing {
                what: self.what,
                message: cannot_run(e),
                fix: self.fix,
            },
            _ => StartError::Failed(cannot_run(e)),
        })?;
        self.child = Some(child);
        let ready = self.ready.clone();
        self.wait_until(self.limit, &*ready)
    }

    /// Polls `ready` every 50 ms until it is true, the process exits, or `limit` passes.
    pub(crate) fn wait_until(
        &mut self,
        limit: Duration,
        ready: &dyn Fn() -> bool,
    ) -> Result<(), StartError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if ready() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(StartError::Failed(format!(
                    "{} exited ({status}) before it was ready; its log:\n{}",
                    self.what,
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(StartError::Failed(format!(
            "{} was not ready within {limit:?}; its log:\n{}",
            self.what,
            self.log()
        )))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.what))
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills it now (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// A file in its directory.
    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
