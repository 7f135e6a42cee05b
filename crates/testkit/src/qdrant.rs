//! A throwaway Qdrant server for tests: started from an executable (`QDRANT_BIN`) on free
//! loopback ports with its own temporary storage, ready when `/readyz` answers, and killed by its
//! pid when dropped (also when a test panics).

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A Qdrant server process this test run started.
pub struct LocalServer {
    child: Option<Child>,
    dir: PathBuf,
    /// How it was started (executable, `QDRANT__...` settings, arguments), to start it again
    /// after a kill ([`restart`](Self::restart)).
    bin: PathBuf,
    env: Vec<(String, String)>,
    args: Vec<String>,
    pub http_port: u16,
    pub grpc_port: u16,
    /// The peer-to-peer port of a cluster node.
    pub p2p_port: Option<u16>,
}

/// GET `path` on 127.0.0.1:`port` with a bare HTTP/1.0 request; the status code, if any.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// GET `path` on 127.0.0.1:`port` (HTTP/1.0); the body of a 200 answer.
pub fn http_body(port: u16, path: &str) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

/// Peers a node's `GET /cluster` lists.
fn count_peers(body: &str) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(v["result"]["peers"].as_object()?.len())
}

static STARTED: AtomicU64 = AtomicU64::new(0);

impl LocalServer {
    /// Starts `bin` on free loopback ports with a fresh storage directory and waits (up to 60 s)
    /// until it is ready. `api_key` turns on Qdrant's API-key authentication.
    pub fn start(bin: &Path, api_key: Option<&str>) -> std::io::Result<Self> {
        Self::start_node(bin, api_key, None, &[])
    }

    /// [`start`](Self::start) with Qdrant settings of its own as `QDRANT__...` variables (e.g.
    /// `QDRANT__STORAGE__OPTIMIZERS__MAX_OPTIMIZATION_THREADS=0`: an optimizer that never runs).
    pub fn start_with_env(bin: &Path, env: &[(&str, &str)]) -> std::io::Result<Self> {
        Self::start_node(bin, None, None, env)
    }

    /// Starts a Qdrant cluster of `nodes` processes on loopback: the first node begins the
    /// cluster (`--uri`), each other one joins it (`--bootstrap`), all in distributed mode with
    /// their own storage. Returns once every node is ready and the first sees all peers.
    pub fn start_cluster(bin: &Path, nodes: usize) -> std::io::Result<Vec<Self>> {
        let mut cluster: Vec<Self> = Vec::with_capacity(nodes);
        for i in 0..nodes {
            let bootstrap = cluster.first().and_then(|first| first.p2p_port);
            let node = Self::start_node(bin, None, Some((i, bootstrap)), &[])?;
            cluster.push(node);
        }
        let first = cluster[0].http_port;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Some(peers) = http_body(first, "/cluster").and_then(|b| count_peers(&b))
                && peers >= nodes
            {
                return Ok(cluster);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(std::io::Error::other(format!(
            "the {nodes}-node Qdrant cluster did not form within 60 s; first node's log:\n{}",
            cluster[0].log()
        )))
    }

    /// One node: standalone (`cluster` None) or node `i` of a cluster whose first node listens
    /// for peers on the given port (None for the first node itself).
    fn start_node(
        bin: &Path,
        api_key: Option<&str>,
        cluster: Option<(usize, Option<u16>)>,
        env: &[(&str, &str)],
    ) -> std::io::Result<Self> {
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("qdrant-perf-server-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        // Hold all listeners while choosing, so the ports differ.
        let (http, grpc, p2p) = (
            TcpListener::bind("127.0.0.1:0")?,
            TcpListener::bind("127.0.0.1:0")?,
            TcpListener::bind("127.0.0.1:0")?,
        );
        let (http_port, grpc_port, p2p_port) = (
            http.local_addr()?.port(),
            grpc.local_addr()?.port(),
            p2p.local_addr()?.port(),
        );
        drop((http, grpc, p2p));
        let path = |p: &str| dir.join(p).to_string_lossy().into_owned();
        let mut vars: Vec<(String, String)> = [
            ("QDRANT__SERVICE__HOST", "127.0.0.1".to_string()),
            ("QDRANT__SERVICE__HTTP_PORT", http_port.to_string()),
            ("QDRANT__SERVICE__GRPC_PORT", grpc_port.to_string()),
            ("QDRANT__STORAGE__STORAGE_PATH", path("storage")),
            ("QDRANT__STORAGE__SNAPSHOTS_PATH", path("snapshots")),
            ("QDRANT__TELEMETRY_DISABLED", "true".to_string()),
            ("QDRANT__LOG_LEVEL", "WARN".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
        if let Some(key) = api_key {
            vars.push(("QDRANT__SERVICE__API_KEY".into(), key.into()));
        }
        let mut args = Vec::new();
        if let Some((_, bootstrap)) = cluster {
            vars.push(("QDRANT__CLUSTER__ENABLED".into(), "true".into()));
            vars.push(("QDRANT__CLUSTER__P2P__PORT".into(), p2p_port.to_string()));
            args.extend(["--uri".into(), format!("http://127.0.0.1:{p2p_port}")]);
            if let Some(port) = bootstrap {
                args.extend(["--bootstrap".into(), format!("http://127.0.0.1:{port}")]);
            }
        }
        let mut server = Self {
            child: None,
            dir,
            bin: bin.to_path_buf(),
            env: vars,
            args,
            http_port,
            grpc_port,
            p2p_port: cluster.map(|_| p2p_port),
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts the process (on the server's ports, storage and settings) and waits (up to 60 s)
    /// until it is ready. Its output is appended to its log.
    fn spawn(&mut self) -> std::io::Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("qdrant.log"))?;
        let child = Command::new(&self.bin)
            .current_dir(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot start Qdrant from {}: {e}", self.bin.display()),
                )
            })?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(60))
    }

    /// Starts a killed server again on the same ports with the same storage (a cluster node
    /// rejoins its cluster), and waits until it is ready; a no-op while it runs.
    pub fn restart(&mut self) -> std::io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.child = None;
        self.spawn()
    }

    fn wait_ready(&mut self, limit: Duration) -> std::io::Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            // REST can answer before the gRPC listener is up: wait for both.
            if http_status(self.http_port, "/readyz") == Some(200)
                && TcpStream::connect(("127.0.0.1", self.grpc_port)).is_ok()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(std::io::Error::other(format!(
                    "Qdrant exited ({status}) before it was ready; its log:\n{}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(std::io::Error::other(format!(
            "Qdrant was not ready after {limit:?}; its log:\n{}",
            self.log()
        )))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("qdrant.log")).unwrap_or_default()
    }

    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn rest_url(&self) -> String {
        format!("rest+http://127.0.0.1:{}", self.http_port)
    }

    /// Kills the server now (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
