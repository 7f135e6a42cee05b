//! Where a result came from: the suite (version, and the git commit it was BUILT from, captured
//! by build.rs, never read from the working directory at run time), the engine, the datasets
//! and index parameters, the machine, and the time.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use qdrant_perf_plumbing::{proc, time};

/// The commit the suite was built from (`git rev-parse HEAD` at build time), when it was built
/// in a git checkout.
pub fn git_commit() -> Option<&'static str> {
    Some(env!("QDRANT_PERF_GIT_COMMIT")).filter(|c| !c.is_empty())
}

/// The suite's version.
pub const SUITE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The machine a result was measured on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: Option<String>,
    /// `linux x86_64`.
    pub os: String,
    /// The kernel release.
    pub kernel: Option<String>,
    pub cpu_model: Option<String>,
    /// Logical CPUs this process may use.
    pub cores: usize,
    pub memory_total_bytes: Option<u64>,
}

impl Machine {
    pub fn capture() -> Self {
        Self {
            hostname: proc::hostname(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            kernel: proc::kernel(),
            cpu_model: proc::cpu_model(),
            cores: proc::cores(),
            memory_total_bytes: proc::mem_total_bytes(),
        }
    }
}

/// One dataset a result was measured on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// The collection it was loaded into (or what it was used for).
    pub collection: String,
    /// The dataset's content hash (its cache key: the same hash, the same vectors).
    pub hash: String,
    /// What it was generated from (dimension, points, queries, distribution, seed, ...).
    pub parameters: serde_json::Value,
}

/// Where and when a result was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub suite_version: String,
    /// The commit the suite was built from; null when built outside a git checkout.
    pub git_commit: Option<String>,
    /// `qdrant-edge`, `qdrant`, `http` or `noop`.
    pub engine: Option<String>,
    /// `0.7.2`, `1.17.1`.
    pub engine_version: Option<String>,
    #[serde(default)]
    pub datasets: Vec<DatasetInfo>,
    /// The index parameters the collections were built with (HNSW m, ef_construct, ...).
    #[serde(default)]
    pub index: Option<serde_json::Value>,
    pub machine: Machine,
    /// UTC, `2026-11-28T03:15:00Z`.
    pub started_at: String,
}

impl Provenance {
    /// The suite, the machine and the time now; engine, datasets and index are the caller's.
    pub fn capture() -> Self {
        Self {
            suite_version: SUITE_VERSION.into(),
            git_commit: git_commit().map(str::to_string),
            engine: None,
            engine_version: None,
            datasets: Vec::new(),
            index: None,
            machine: Machine::capture(),
            started_at: time::utc_iso(SystemTime::now()),
        }
    }

    /// Flat `key: value` facts, for saved results whose provenance is a map (run reports of
    /// metrics, sweeps, scale curves): `suite_version`, `git_commit`, `engine`,
    /// `engine_version`, `index`, `dataset.<collection>`, `cpu`, `cores`, `memory_bytes`,
    /// `kernel`, `hostname`, `os`, `started_at`. Absent facts are left out.
    pub fn to_map(&self) -> BTreeMap<String, serde_json::Value> {
        let mut p = BTreeMap::new();
        let mut put = |k: &str, v: Option<serde_json::Value>| {
            if let Some(v) = v {
                p.insert(k.to_string(), v);
            }
        };
        put("suite_version", Some(self.suite_version.clone().into()));
        put("git_commit", self.git_commit.clone().map(Into::into));
        put("engine", self.engine.clone().map(Into::into));
        put(
            "engine_version",
            self.engine_version.clone().map(Into::into),
        );
        put("index", self.index.clone());
        for d in &self.datasets {
            put(
                &format!("dataset.{}", d.collection),
                Some(serde_json::json!({"hash": d.hash, "parameters": d.parameters})),
            );
        }
        let m = &self.machine;
        put("cpu", m.cpu_model.clone().map(Into::into));
        put("cores", Some(m.cores.into()));
        put("memory_bytes", m.memory_total_bytes.map(Into::into));
        put("kernel", m.kernel.clone().map(Into::into));
        put("hostname", m.hostname.clone().map(Into::into));
        put("os", Some(m.os.clone().into()));
        put("started_at", Some(self.started_at.clone().into()));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_commit(p: &Provenance) -> String {
        p.to_map()["git_commit"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn the_commit_is_the_one_built_from_and_the_machine_is_described() {
        let p = Provenance::capture();
        // The commit git names for this source tree now (none outside a git checkout, e.g. a
        // source tarball), which cargo rebuilt this crate for when HEAD moved.
        let head = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        assert_eq!(p.git_commit, head);
        if let Some(commit) = &p.git_commit {
            assert_eq!(commit.len(), 40, "{commit}");
            assert_eq!(map_commit(&p), commit.as_str());
        }
        assert_eq!(p.suite_version, SUITE_VERSION);
        assert!(p.machine.cores >= 1);
        assert!(p.started_at.ends_with('Z'), "{}", p.started_at);
        let map = p.to_map();
        assert_eq!(map["cores"], p.machine.cores);
        let back: Provenance = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
