//! Capacity planning: RAM, disk, nodes and shards of a Qdrant cluster for a target (vectors,
//! dimension, QPS, p95), per storage option, from Qdrant's documented sizing rule AND from the
//! bytes per vector this suite measured. This is how the suite speaks about 100M+ vectors on a
//! machine that cannot hold them: every figure says where it comes from.
//!
//! - Qdrant's rule of thumb (documentation, "capacity planning"): `memory = vectors × dim ×
//!   4 bytes × 1.5`, the 1.5 covering the index, metadata and the optimizer's temporary copies.
//!   Applied here to the vectors each option keeps in RAM.
//! - The component model: exact bytes of what each option keeps in RAM and on disk (float32
//!   vectors, int8 codes of `roundup(dim, 16) + 4` bytes, binary codes of one bit per dimension
//!   in 8-byte words) plus the HNSW graph from m (layer 0 holds 2m links of 4 bytes per point,
//!   upper layers about 1/m of that again).
//! - Measured: the same vectors plus the graph and other bytes per vector that a `qdrant-perf
//!   scale` (or `sweep`) run measured on this machine, scaled from its m to the target's.

use std::path::Path;

use serde::Serialize;

use qdrant_perf_report::human_bytes;

/// Qdrant's documented multiplier on raw vector bytes.
pub const QDRANT_RULE_FACTOR: f64 = 1.5;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{field} = {value}: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("reading {path}: {message}; {fix}")]
    Measured {
        path: String,
        message: String,
        fix: &'static str,
    },
}

/// Where a collection's vectors and codes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StorageOption {
    pub quantization: &'static str,
    /// Original float32 vectors in RAM (`on_disk: false`) or memory-mapped from disk.
    pub originals_in_ram: bool,
}

impl StorageOption {
    pub const ALL: [StorageOption; 6] = [
        StorageOption {
            quantization: "float32",
            originals_in_ram: true,
        },
        StorageOption {
            quantization: "float32",
            originals_in_ram: false,
        },
        StorageOption {
            quantization: "int8",
            originals_in_ram: true,
        },
        StorageOption {
            quantization: "int8",
            originals_in_ram: false,
        },
        StorageOption {
            quantization: "binary",
            originals_in_ram: true,
        },
        StorageOption {
            quantization: "binary",
            originals_in_ram: false,
        },
    ];

    pub fn label(&self) -> String {
        match (self.quantization, self.originals_in_ram) {
            ("float32", true) => "float32, vectors in RAM".into(),
            ("float32", false) => "float32, vectors on disk (mmap)".into(),
            (q, true) => format!("{q} in RAM + originals in RAM"),
            (q, false) => format!("{q} in RAM + originals on disk"),
        }
    }

    /// Bytes of the quantized code of one vector (0 for float32).
    pub fn code_bytes(&self, dim: u64) -> u64 {
        match self.quantization {
            "int8" => dim.div_ceil(16) * 16 + 4,
            "binary" => dim.div_ceil(64) * 8,
            _ => 0,
        }
    }

    /// Vector bytes per point kept in RAM: the codes, plus the originals when in RAM.
    pub fn resident_vector_bytes(&self, dim: u64) -> u64 {
        self.code_bytes(dim) + if self.originals_in_ram { dim * 4 } else { 0 }
    }

    /// Vector bytes per point on disk: originals always, codes too.
    pub fn disk_vector_bytes(&self, dim: u64) -> u64 {
        dim * 4 + self.code_bytes(dim)
    }
}

/// Bytes per point of the HNSW graph with `m` links: 2m links of 4 bytes on layer 0, plus the
/// upper layers (a point reaches layer l with probability 1/m^l, each with m links): about
/// 4m/(m-1) bytes more.
pub fn graph_bytes_per_vector(m: u64) -> f64 {
    let m = m.max(2) as f64;
    2.0 * m * 4.0 + 4.0 * m / (m - 1.0)
}

/// What the suite measured on this machine, read from a scale or sweep JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    pub source: String,
    pub dim: u64,
    pub m: u64,
    /// Graph bytes per vector (RAM).
    pub graph_bytes_per_vector: f64,
    /// Disk bytes per vector beyond the vector files (graph, ids, payload, write-ahead log) as
    /// measured; informational (the WAL part is bounded in a long-running cluster).
    pub disk_overhead_per_vector: f64,
    /// All-core QPS on this machine, its cores, at `points`.
    pub qps_all: Option<f64>,
    pub cores: Option<u64>,
    pub points: Option<u64>,
    pub p95_ms: Option<f64>,
}

fn num(v: &serde_json::Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_f64()
}

impl Measured {
    /// Reads a `qdrant-perf scale` report (its fitted bytes per vector) or a `qdrant-perf sweep`
    /// report (its m=16 float32 point closest to ef 128, else the first float32 point).
    pub fn load(path: &Path) -> Result<Self, PlanError> {
        let fail = |message: String| PlanError::Measured {
            path: path.display().to_string(),
            message,
            fix: "pass the JSON written by `qdrant-perf scale` or `qdrant-perf sweep`",
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
        Self::from_json(&v, &path.display().to_string()).map_err(fail)
    }

    pub fn from_json(v: &serde_json::Value, source: &str) -> Result<Self, String> {
        let cores = num(v, &["provenance", "cores"]).map(|c| c as u64);
        match v.get("kind").and_then(|k| k.as_str()) {
            Some("qdrant-perf scale") => {
                let dim = num(v, &["dim"]).ok_or("no dim")?;
                let m = num(v, &["hnsw", "m"]).ok_or("no hnsw.m")?;
                // The largest size measured: its graph files per vector (the graph grows
                // linearly with N; the vector files are exact arithmetic at the target's dim).
                let last = v
                    .get("steps")
                    .and_then(|s| s.as_array())
                    .and_then(|s| s.last())
                    .ok_or("no steps")?;
                let n = num(last, &["points"]).ok_or("no steps[].points")?;
                let index = num(last, &["memory", "index_bytes"]).ok_or(
                    "no steps[].memory.index_bytes (a scale run on the embedded engine has it)",
                )?;
                let disk = num(last, &["memory", "disk_bytes"]).unwrap_or(0.0);
                let vectors = num(last, &["memory", "vectors_bytes"]).unwrap_or(0.0);
                Ok(Measured {
                    source: format!("{source} (scale, graph files at N={n})"),
                    dim: dim as u64,
                    m: m as u64,
                    graph_bytes_per_vector: index / n,
                    disk_overhead_per_vector: ((disk - vectors) / n).max(0.0),
                    qps_all: num(last, &["qps_all"]),
                    cores,
                    points: Some(n as u64),
                    p95_ms: num(last, &["latency", "p95_ms"]),
                })
            }
            Some("qdrant-perf sweep") => {
                let dim = num(v, &["dataset", "dim"]).ok_or("no dataset.dim")?;
                let n = num(v, &["dataset", "points"]).ok_or("no dataset.points")?;
                let points = v
                    .get("points")
                    .and_then(|p| p.as_array())
                    .ok_or("no points")?;
                let float = |p: &&serde_json::Value| {
                    p.pointer("/build/quantization").and_then(|q| q.as_str()) == Some("none")
                        && p.get("memory").is_some_and(|m| !m.is_null())
                };
                let pick = points
                    .iter()
                    .filter(float)
                    .filter(|p| num(p, &["build", "m"]) == Some(16.0))
                    .min_by_key(|p| (num(p, &["search", "ef"]).unwrap_or(0.0) - 128.0).abs() as u64)
                    .or_else(|| points.iter().find(float))
                    .ok_or("no float32 point with a memory figure")?;
                let index = num(pick, &["memory", "index_bytes"]).ok_or("no memory.index_bytes")?;
                let disk = num(pick, &["memory", "disk_bytes"]).ok_or("no memory.disk_bytes")?;
                let vectors =
                    num(pick, &["memory", "vectors_bytes"]).ok_or("no memory.vectors_bytes")?;
                Ok(Measured {
                    source: format!(
                        "{source} (sweep point m={} ef={}, {n} points)",
                        num(pick, &["build", "m"]).unwrap_or(0.0),
                        num(pick, &["search", "ef"]).unwrap_or(0.0)
                    ),
                    dim: dim as u64,
                    m: num(pick, &["build", "m"]).unwrap_or(16.0) as u64,
                    graph_bytes_per_vector: index / n,
                    disk_overhead_per_vector: (disk - vectors) / n,
                    qps_all: num(pick, &["qps_all"]),
                    cores,
                    points: Some(n as u64),
                    p95_ms: num(pick, &["latency", "p95_ms"]),
                })
            }
            other => Err(format!(
                "kind is {other:?}, expected \"qdrant-perf scale\" or \"qdrant-perf sweep\""
            )),
        }
    }
}

/// A capacity target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub name: String,
    pub vectors: u64,
    pub dim: u64,
    pub m: u64,
    pub replication: u64,
    pub qps: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// The nodes a plan is made of.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NodeShape {
    pub ram_bytes: u64,
    pub disk_bytes: u64,
    pub cores: u64,
    /// Fraction of a node's RAM and disk the plan fills (the rest: OS, page cache, growth).
    pub usable: f64,
}

/// One storage option's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptionPlan {
    pub option: StorageOption,
    pub label: String,
    /// One copy of the data (before replication).
    pub ram_rule_bytes: f64,
    pub ram_model_bytes: f64,
    pub ram_measured_bytes: Option<f64>,
    pub disk_model_bytes: f64,
    pub disk_measured_bytes: Option<f64>,
    /// Nodes by RAM and disk with replication, from the rule and from measurement (or the model).
    pub nodes_rule: u64,
    pub nodes: u64,
    /// Shards (one copy of each fits in a node's usable RAM); each is replicated.
    pub shards: u64,
    /// Nodes needed for the QPS target (extrapolated from measurement), when both are known.
    pub nodes_for_qps: Option<u64>,
    pub p95_estimate_ms: Option<f64>,
    pub notes: Vec<String>,
}

/// A plan for one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub target: Target,
    pub node: NodeShape,
    pub measured: Option<Measured>,
    pub options: Vec<OptionPlan>,
}

fn ceil_div(a: f64, b: f64) -> u64 {
    if b <= 0.0 {
        return u64::MAX;
    }
    (a / b).ceil().max(1.0) as u64
}

/// Validates a target and a node shape, naming the flag to fix.
pub fn check(target: &Target, node: &NodeShape) -> Result<(), PlanError> {
    let invalid = |field, value: String, reason: &str| PlanError::Invalid {
        field,
        value,
        reason: reason.into(),
    };
    if target.vectors == 0 {
        return Err(invalid(
            "--vectors",
            "0".into(),
            "plan for at least one vector",
        ));
    }
    if target.dim == 0 || target.dim > 65_536 {
        return Err(invalid(
            "--dim",
            target.dim.to_string(),
            "Qdrant accepts dimensions 1 to 65536",
        ));
    }
    if target.m < 2 {
        return Err(invalid("--m", target.m.to_string(), "HNSW needs m >= 2"));
    }
    if target.replication == 0 {
        return Err(invalid(
            "--replication",
            "0".into(),
            "every shard needs at least one copy (1 = no replicas)",
        ));
    }
    if node.ram_bytes == 0 || node.disk_bytes == 0 || node.cores == 0 {
        return Err(invalid(
            "--node-ram/--node-disk/--node-cores",
            "0".into(),
            "a node needs RAM, disk and cores (example: --node-ram 64GiB)",
        ));
    }
    if !(node.usable > 0.0 && node.usable <= 1.0) {
        return Err(invalid(
            "--usable",
            node.usable.to_string(),
            "a fraction in (0, 1], e.g. 0.8",
        ));
    }
    Ok(())
}

/// The plan for `target` on nodes of `node`'s shape.
pub fn plan(target: &Target, node: &NodeShape, measured: Option<&Measured>) -> Plan {
    let n = target.vectors as f64;
    let d = target.dim;
    let r = target.replication;
    let usable_ram = node.ram_bytes as f64 * node.usable;
    let usable_disk = node.disk_bytes as f64 * node.usable;
    let graph_model = graph_bytes_per_vector(target.m);
    let mut options = Vec::new();
    for option in StorageOption::ALL {
        let resident = option.resident_vector_bytes(d) as f64;
        let on_disk = option.disk_vector_bytes(d) as f64;
        let ram_rule = n * resident * QDRANT_RULE_FACTOR;
        let ram_model = n * (resident + graph_model);
        let disk_model = n * (on_disk + graph_model);
        let graph_measured =
            measured.map(|m| m.graph_bytes_per_vector * target.m as f64 / m.m.max(1) as f64);
        let ram_measured = graph_measured.map(|g| n * (resident + g));
        // Measured disk: the vector files plus the measured graph. The write-ahead log is left
        // out: Qdrant keeps it bounded (wal_capacity_mb per shard), whatever N is.
        let disk_measured = graph_measured.map(|g| n * (on_disk + g));
        let ram_best = ram_measured.unwrap_or(ram_model);
        let disk_best = disk_measured.unwrap_or(disk_model);
        let nodes_rule = ceil_div(ram_rule * r as f64, usable_ram)
            .max(ceil_div(disk_model * r as f64, usable_disk))
            .max(r);
        let nodes_mem = ceil_div(ram_best * r as f64, usable_ram)
            .max(ceil_div(disk_best * r as f64, usable_disk))
            .max(r);
        let shards = ceil_div(ram_best, usable_ram).max(ceil_div(disk_best, usable_disk));
        let mut notes = Vec::new();
        if !option.originals_in_ram {
            notes.push(
                "originals read from disk (mmap): needs fast local NVMe; rescoring or a scan \
                 touches them"
                    .to_string(),
            );
        }
        // Throughput and latency, extrapolated from the measured machine: a query visits every
        // shard once; its cost grows with dimension and with ln(points per shard).
        let mut nodes_for_qps = None;
        let mut p95 = None;
        if let Some(m) = measured {
            let points_per_shard = (n / shards as f64).max(2.0);
            if let Some(n0) = m.points.filter(|&p| p > 1) {
                let cost =
                    (d as f64 / m.dim.max(1) as f64) * (points_per_shard.ln() / (n0 as f64).ln());
                if let Some(p) = m.p95_ms {
                    p95 = Some(p * cost);
                }
                if let (Some(qps0), Some(cores0), Some(qps)) = (m.qps_all, m.cores, target.qps) {
                    let per_core = qps0 / cores0.max(1) as f64;
                    nodes_for_qps = Some(ceil_div(
                        qps * shards as f64 * cost,
                        per_core * node.cores as f64,
                    ));
                }
            }
            if option.quantization != "float32" {
                notes.push(
                    "QPS and p95 extrapolated from float32 measurements; quantized search is \
                     usually faster"
                        .into(),
                );
            }
        }
        let nodes = nodes_mem.max(nodes_for_qps.unwrap_or(0));
        options.push(OptionPlan {
            option,
            label: option.label(),
            ram_rule_bytes: ram_rule,
            ram_model_bytes: ram_model,
            ram_measured_bytes: ram_measured,
            disk_model_bytes: disk_model,
            disk_measured_bytes: disk_measured,
            nodes_rule,
            nodes,
            shards,
            nodes_for_qps,
            p95_estimate_ms: p95,
            notes,
        });
    }
    Plan {
        target: target.clone(),
        node: *node,
        measured: measured.cloned(),
        options,
    }
}

impl Plan {
    /// The plan as a Markdown table with a legend saying where each figure comes from.
    pub fn to_markdown(&self) -> String {
        let t = &self.target;
        let mut s = format!(
            "### {}: {} vectors × {} d, m={}, replication {}{}{}\n\n",
            t.name,
            t.vectors,
            t.dim,
            t.m,
            t.replication,
            t.qps.map_or(String::new(), |q| format!(", {q:.0} QPS")),
            t.p95_ms
                .map_or(String::new(), |p| format!(", p95 <= {p} ms")),
        );
        s.push_str(&format!(
            "nodes of {} RAM, {} disk, {} cores, filled to {:.0} %\n\n",
            human_bytes(self.node.ram_bytes as f64),
            human_bytes(self.node.disk_bytes as f64),
            self.node.cores,
            self.node.usable * 100.0
        ));
        s.push_str("| storage | RAM/copy rule | RAM/copy model | RAM/copy measured | disk/copy | shards | nodes (rule) | nodes (measured/model) | nodes for QPS | p95 est. |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for o in &self.options {
            let opt = |v: Option<f64>| v.map_or("n/a".to_string(), human_bytes);
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                o.label,
                human_bytes(o.ram_rule_bytes),
                human_bytes(o.ram_model_bytes),
                opt(o.ram_measured_bytes),
                human_bytes(o.disk_measured_bytes.unwrap_or(o.disk_model_bytes)),
                o.shards,
                o.nodes_rule,
                o.nodes,
                o.nodes_for_qps.map_or("n/a".into(), |n| n.to_string()),
                o.p95_estimate_ms
                    .map_or("n/a".into(), |p| format!("{p:.1} ms")),
            ));
        }
        s.push_str(&format!(
            "\n- RAM/copy rule: Qdrant's documented rule, vectors × dim × 4 B × {QDRANT_RULE_FACTOR} \
             (applied to the bytes each option keeps in RAM: float32 {} B, int8 {} B, binary {} B per vector).\n\
             - RAM/copy model: those bytes plus the HNSW graph from m ({:.0} B per vector at m={}: 2m links × 4 B on layer 0 + upper layers).\n",
            t.dim * 4,
            StorageOption::ALL[2].code_bytes(t.dim),
            StorageOption::ALL[4].code_bytes(t.dim),
            graph_bytes_per_vector(t.m),
            t.m
        ));
        match &self.measured {
            Some(m) => s.push_str(&format!(
                "- RAM/copy measured: the same vector bytes plus the graph this suite measured, \
                 {:.0} B per vector at m={} ({:.0} B at m={}), from {}. Disk: vectors + the same \
                 graph bytes (the run also wrote {:.0} B per vector of ids, payload and \
                 write-ahead log, which Qdrant bounds per shard).\n\
                 - nodes: copies × RAM (and disk) / usable node size, at least one node per \
                 replica; nodes (measured/model) also covers the QPS target. QPS and p95 are \
                 extrapolated from {} (dimension ratio × ln(points per shard) ratio): an \
                 estimate to check with `qdrant-perf load` on the real cluster, not a measurement.\n",
                m.graph_bytes_per_vector,
                m.m,
                m.graph_bytes_per_vector * t.m as f64 / m.m.max(1) as f64,
                t.m,
                m.source,
                m.disk_overhead_per_vector,
                m.source
            )),
            None => s.push_str(
                "- RAM/copy measured: n/a (pass --measured FILE with the JSON of `qdrant-perf \
                 scale` or `sweep` to use the bytes per vector and QPS this suite measured); \
                 nodes (measured/model) then uses the model. QPS and p95 need a measurement.\n",
            ),
        }
        s.push_str(
            "- shards: the fewest such that one copy of a shard fits a node; Qdrant places each \
             shard's copies on different nodes. More shards than nodes (e.g. 2×) leave room to \
             rebalance when nodes are added.\n",
        );
        for o in &self.options {
            for n in &o.notes {
                s.push_str(&format!("- {}: {n}\n", o.label));
            }
        }
        s
    }
}

/// Parses `64GiB`, `64G`, `512 MiB`, `1TB`, `1e9` into bytes (binary units for both spellings:
/// memory is sold in GiB).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a size (example: 64GiB, 512MiB, 2TiB)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0f64.powi(2),
        "g" | "gb" | "gib" => 1024.0f64.powi(3),
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        other => {
            return Err(format!(
                "{s:?}: unknown unit {other:?} (use B, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("{s:?} must be a positive size"));
    }
    Ok((value * mult) as u64)
}

/// Parses `100000000`, `100M`, `1.5B`, `100_000_000` into a count.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('m') => (&t[..t.len() - 1], 1e6),
        Some('b') | Some('g') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a count (example: 100000000 or 100M)"))?;
    if !(v.is_finite() && v >= 1.0) {
        return Err(format!("{s:?} must be at least 1"));
    }
    Ok((v * mult).round() as u64)
}

/// Parses `20ms`, `20`, `0.02s` into milliseconds.
pub fn parse_ms(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v * mult),
        _ => Err(format!("{s:?} is not a duration (example: 20ms)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn target() -> Target {
        Target {
            name: "t".into(),
            vectors: 100_000_000,
            dim: 4096,
            m: 16,
            replication: 2,
            qps: None,
            p95_ms: None,
        }
    }

    fn node() -> NodeShape {
        NodeShape {
            ram_bytes: 64 * GIB,
            disk_bytes: 2048 * GIB,
            cores: 16,
            usable: 0.8,
        }
    }

    #[test]
    fn vector_and_code_sizes_match_hand_computation() {
        let f32_ram = StorageOption::ALL[0];
        assert_eq!(f32_ram.resident_vector_bytes(4096), 16_384);
        assert_eq!(StorageOption::ALL[1].resident_vector_bytes(4096), 0);
        assert_eq!(StorageOption::ALL[1].disk_vector_bytes(4096), 16_384);
        // int8: 4096 codes + a 4-byte correction; 770 d rounds up to 784.
        assert_eq!(StorageOption::ALL[3].code_bytes(4096), 4100);
        assert_eq!(StorageOption::ALL[3].code_bytes(770), 788);
        assert_eq!(
            StorageOption::ALL[2].resident_vector_bytes(4096),
            16_384 + 4100
        );
        // binary: 4096 bits = 512 B; 768 bits = 96 B; 100 bits round up to two 8-byte words.
        assert_eq!(StorageOption::ALL[5].code_bytes(4096), 512);
        assert_eq!(StorageOption::ALL[5].code_bytes(768), 96);
        assert_eq!(StorageOption::ALL[5].code_bytes(100), 16);
        assert_eq!(StorageOption::ALL[5].disk_vector_bytes(4096), 16_384 + 512);
        // graph at m=16: 2·16·4 = 128 on layer 0, + 4·16/15 = 4.27 above.
        assert!((graph_bytes_per_vector(16) - (128.0 + 64.0 / 15.0)).abs() < 1e-9);
    }

    #[test]
    fn the_rule_and_the_model_for_100m_by_4096() {
        let p = plan(&target(), &node(), None);
        let f32_ram = &p.options[0];
        // Rule: 1e8 × 4096 × 4 × 1.5 = 2.4576e12 B per copy.
        assert_eq!(f32_ram.ram_rule_bytes, 2.4576e12);
        // Model: 1e8 × (16384 + 132.27) B.
        assert!((f32_ram.ram_model_bytes - 1e8 * (16_384.0 + 128.0 + 64.0 / 15.0)).abs() < 1.0);
        // Nodes by the rule: 2 copies × 2.4576e12 / (64 GiB × 0.8 = 54,975,581,388.8) = 89.4 -> 90.
        assert_eq!(f32_ram.nodes_rule, 90);
        // Model: 2 × 1.6516e12 / 5.4976e10 = 60.09 -> 61 nodes; 31 shards of one copy.
        assert_eq!(f32_ram.nodes, 61);
        assert_eq!(f32_ram.shards, 31);
        // Binary with originals on disk: RAM = 1e8 × (512 + 132.27) = 64.4 GB per copy:
        // 2 copies / 54.98 GB = 2.34 -> 3 nodes by RAM, but disk: 1e8 × (16384 + 512 + 132.27)
        // = 1.7028e12 B per copy, 2 copies / (2 TiB × 0.8 = 1.759e12) = 1.94 -> 2. So 3 nodes.
        let bin_disk = &p.options[5];
        assert_eq!(bin_disk.nodes, 3);
        assert_eq!(bin_disk.shards, 2);
        // Rule for binary on disk: 1e8 × 512 × 1.5 = 7.68e10 B per copy.
        assert_eq!(bin_disk.ram_rule_bytes, 7.68e10);
        assert!(p.to_markdown().contains("float32, vectors in RAM"));
    }

    #[test]
    fn measured_bytes_replace_the_graph_model_and_qps_is_extrapolated() {
        let measured = Measured {
            source: "scale.json".into(),
            dim: 768,
            m: 16,
            graph_bytes_per_vector: 200.0,
            disk_overhead_per_vector: 250.0,
            qps_all: Some(2000.0),
            cores: Some(2),
            points: Some(300_000),
            p95_ms: Some(2.0),
        };
        let t = Target {
            m: 32,
            qps: Some(10_000.0),
            p95_ms: Some(20.0),
            ..target()
        };
        let p = plan(&t, &node(), Some(&measured));
        let o = &p.options[0];
        // Graph scales with m: 200 × 32/16 = 400 B per vector.
        assert_eq!(o.ram_measured_bytes, Some(1e8 * (16_384.0 + 400.0)));
        // Per core 1000 QPS at 768 d / 300k points. Per shard: 1e8/shards points.
        let shards = o.shards as f64;
        let cost = (4096.0 / 768.0) * ((1e8 / shards).ln() / 300_000f64.ln());
        let expected = (10_000.0 * shards * cost / (1000.0 * 16.0)).ceil() as u64;
        assert_eq!(o.nodes_for_qps, Some(expected));
        assert!((o.p95_estimate_ms.unwrap() - 2.0 * cost).abs() < 1e-9);
        assert!(o.nodes >= expected);
    }

    #[test]
    fn sizes_counts_and_durations_parse_with_units() {
        assert_eq!(parse_bytes("64GiB").unwrap(), 64 * GIB);
        assert_eq!(parse_bytes("64G").unwrap(), 64 * GIB);
        assert_eq!(parse_bytes("512 MiB").unwrap(), 512 << 20);
        assert!(
            parse_bytes("64 furlongs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_bytes("lots").unwrap_err().contains("example"));
        assert_eq!(parse_count("100000000").unwrap(), 100_000_000);
        assert_eq!(parse_count("100M").unwrap(), 100_000_000);
        assert_eq!(parse_count("1.5B").unwrap(), 1_500_000_000);
        assert!(parse_count("0").is_err());
        assert_eq!(parse_ms("20ms").unwrap(), 20.0);
        assert_eq!(parse_ms("0.5s").unwrap(), 500.0);
        assert!(parse_ms("-1ms").is_err());
    }

    #[test]
    fn bad_targets_name_the_flag() {
        let err = check(
            &Target {
                replication: 0,
                ..target()
            },
            &node(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--replication"), "{err}");
        let err = check(&Target { dim: 0, ..target() }, &node())
            .unwrap_err()
            .to_string();
        assert!(err.contains("--dim"), "{err}");
        let err = check(
            &target(),
            &NodeShape {
                usable: 1.5,
                ..node()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--usable"), "{err}");
    }

    #[test]
    fn measured_figures_are_read_from_a_scale_report() {
        let v = serde_json::json!({
            "kind": "qdrant-perf scale", "dim": 768, "hnsw": {"m": 16},
            "provenance": {"cores": 2},
            "steps": [
                {"points": 10000, "memory": {"index_bytes": 1.0}},
                {"points": 300000, "qps_all": 1500.0, "latency": {"p95_ms": 1.5},
                 "memory": {"index_bytes": 13_200_000.0, "vectors_bytes": 921_600_000.0,
                            "disk_bytes": 1_221_600_000.0}}]
        });
        let m = Measured::from_json(&v, "s.json").unwrap();
        assert_eq!(m.graph_bytes_per_vector, 44.0);
        assert_eq!(m.disk_overhead_per_vector, 1000.0);
        assert_eq!(
            (m.points, m.cores, m.qps_all),
            (Some(300_000), Some(2), Some(1500.0))
        );
        let err = Measured::from_json(&serde_json::json!({"kind": "other"}), "x").unwrap_err();
        assert!(err.contains("expected"), "{err}");
    }
}
