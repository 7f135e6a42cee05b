//! A throwaway Qdrant server for tests: started from an executable (`QDRANT_BIN`) on free
//! loopback ports with its own temporary storage, ready when `/readyz` answers, and killed by its
//! pid when dropped (also when a test panics).

use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::http::{http_body, http_status};
use crate::process::{Process, StartError, free_ports};

/// A Qdrant server process this test run started.
pub struct LocalServer {
    process: Process,
    pub http_port: u16,
    pub grpc_port: u16,
    /// The peer-to-peer port of a cluster node.
    pub p2p_port: Option<u16>,
}

/// Peers a node's `GET /cluster` lists.
fn count_peers(body: &str) -> Option<usize> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(v["result"]["peers"].as_object()?.len())
}

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
        let formed = || http_body(first, "/cluster").and_then(|b| count_peers(&b)) >= Some(nodes);
        cluster[0]
            .process
            .wait_until(Duration::from_secs(60), &formed)
            .map_err(|e| {
                std::io::Error::other(format!("the {nodes}-node Qdrant cluster did not form: {e}"))
            })?;
        Ok(cluster)
    }

    /// One node: standalone (`cluster` None) or node `i` of a cluster whose first node listens
    /// for peers on the given port (None for the first node itself).
    fn start_node(
        bin: &Path,
        api_key: Option<&str>,
        cluster: Option<(usize, Option<u16>)>,
        env: &[(&str, &str)],
    ) -> std::io::Result<Self> {
        let started = || -> Result<Self, StartError> {
            let [http_port, grpc_port, p2p_port] = free_ports()?;
            // REST can answer before the gRPC listener is up: wait for both.
            let ready = move || {
                http_status(http_port, "/readyz") == Some(200)
                    && TcpStream::connect(("127.0.0.1", grpc_port)).is_ok()
            };
            let mut process = Process::new(
                "qdrant",
                "set QDRANT_BIN to a Qdrant executable",
                bin.into(),
            )?
            .ready_when(Duration::from_secs(60), ready);
            let settings = [
                ("SERVICE__HOST", "127.0.0.1".to_string()),
                ("SERVICE__HTTP_PORT", http_port.to_string()),
                ("SERVICE__GRPC_PORT", grpc_port.to_string()),
                ("STORAGE__STORAGE_PATH", process.path("storage")),
                ("STORAGE__SNAPSHOTS_PATH", process.path("snapshots")),
                ("TELEMETRY_DISABLED", "true".to_string()),
                ("LOG_LEVEL", "WARN".to_string()),
            ];
            process.env = settings
                .into_iter()
                .map(|(k, v)| (format!("QDRANT__{k}"), v))
                .chain(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
                .collect();
            if let Some(key) = api_key {
                process
                    .env
                    .push(("QDRANT__SERVICE__API_KEY".into(), key.into()));
            }
            if let Some((_, bootstrap)) = cluster {
                process
                    .env
                    .push(("QDRANT__CLUSTER__ENABLED".into(), "true".into()));
                process
                    .env
                    .push(("QDRANT__CLUSTER__P2P__PORT".into(), p2p_port.to_string()));
                process.args = vec!["--uri".into(), format!("http://127.0.0.1:{p2p_port}")];
                if let Some(port) = bootstrap {
                    process
                        .args
                        .extend(["--bootstrap".into(), format!("http://127.0.0.1:{port}")]);
                }
            }
            process.start()?;
            Ok(Self {
                process,
                http_port,
                grpc_port,
                p2p_port: cluster.map(|_| p2p_port),
            })
        };
        started().map_err(std::io::Error::other)
    }

    /// Starts a killed server again on the same ports with the same storage (a cluster node
    /// rejoins its cluster), and waits until it is ready; a no-op while it runs.
    pub fn restart(&mut self) -> std::io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.process.start().map_err(std::io::Error::other)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    pub fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn rest_url(&self) -> String {
        format!("rest+http://127.0.0.1:{}", self.http_port)
    }

    /// Kills the server now (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }
}
