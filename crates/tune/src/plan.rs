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

use qdrant_perf_plumbing::human_bytes;

/// Qdrant's documented multiplier on raw vector bytes.
pub const QDRANT_RULE_FACTOR: f64 = 1.5;

#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
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
        Self::new("float32", true),
        Self::new("float32", false),
        Self::new("int8", true),
        Self::new("int8", false),
        Self::new("binary", true),
        Self::new("binary", false),
    ];

    const fn new(quantization: &'static str, originals_in_ram: bool) -> Self {
        Self {
            quantization,
            originals_in_ram,
        }
    }

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

/// The measured graph bytes per vector scaled from the measurement's m to `m` (links per point
/// grow linearly with m).
pub fn measured_graph_bytes(measured: Option<&Measured>, m: u64) -> Option<f64> {
    measured.map(|x| x.graph_bytes_per_vector * m as f64 / x.m.max(1) as f64)
}

/// Bytes per vector of one copy, (RAM, disk), for `option` at `dim` and `m`: the vector or code
/// bytes the option keeps in RAM (all of them on disk) plus the graph, as measured (scaled to m)
/// when there is a measurement, else from the model. The figures `plan` calls "measured/model".
pub fn bytes_per_vector(
    option: StorageOption,
    dim: u64,
    m: u64,
    measured: Option<&Measured>,
) -> (f64, f64) {
    let graph = measured_graph_bytes(measured, m).unwrap_or_else(|| graph_bytes_per_vector(m));
    (
        option.resident_vector_bytes(dim) as f64 + graph,
        option.disk_vector_bytes(dim) as f64 + graph,
    )
}

/// Bytes per vector of one copy, (RAM, disk), by Qdrant's rule: the bytes the option keeps in RAM
/// × 1.5; disk from the model (the rule says nothing about disk), as `plan`'s "nodes (rule)".
pub fn rule_bytes_per_vector(option: StorageOption, dim: u64, m: u64) -> (f64, f64) {
    (
        option.resident_vector_bytes(dim) as f64 * QDRANT_RULE_FACTOR,
        option.disk_vector_bytes(dim) as f64 + graph_bytes_per_vector(m),
    )
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
    path.iter().try_fold(v, |cur, p| cur.get(p))?.as_f64()
}

impl Measured {
    /// Reads a `qdrant-perf scale` report (its fitted bytes per vector) or a `qdrant-perf sweep`
    /// report (its m=16 float32 point closest to ef 128, else the first float32 point).
    pub fn load(path: &Path) -> Result<Self, CapacityError> {
        let fail = |message: String| CapacityError::Measured {
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
        // The entry read (a scale step, a sweep point) with its m, and the run's size and dim.
        let (entry, m, n, dim, source) = match v.get("kind").and_then(|k| k.as_str()) {
            Some("qdrant-perf scale") => {
                // The largest size measured: its graph files per vector (the graph grows
                // linearly with N; the vector files are exact arithmetic at the target's dim).
                let last = v
                    .get("steps")
                    .and_then(|s| s.as_array())
                    .and_then(|s| s.last())
                    .ok_or("no steps")?;
                let n = num(last, &["points"]).ok_or("no steps[].points")?;
                let source = format!("{source} (scale, graph files at N={n})");
                let m = num(v, &["hnsw", "m"]).ok_or("no hnsw.m")?;
                (last, m, n, num(v, &["dim"]).ok_or("no dim")?, source)
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
                let m = num(pick, &["build", "m"]);
                let source = format!(
                    "{source} (sweep point m={} ef={}, {n} points)",
                    m.unwrap_or(0.0),
                    num(pick, &["search", "ef"]).unwrap_or(0.0)
                );
                (pick, m.unwrap_or(16.0), n, dim, source)
            }
            other => {
                return Err(format!(
                    "kind is {other:?}, expected \"qdrant-perf scale\" or \"qdrant-perf sweep\""
                ));
            }
        };
        let memory = |key| num(entry, &["memory", key]);
        let index = memory("index_bytes")
            .ok_or("no memory.index_bytes (a run on the embedded engine has it)")?;
        let on_disk = memory("disk_bytes").unwrap_or(0.0) - memory("vectors_bytes").unwrap_or(0.0);
        Ok(Measured {
            source,
            dim: dim as u64,
            m: m as u64,
            graph_bytes_per_vector: index / n,
            disk_overhead_per_vector: (on_disk / n).max(0.0),
            qps_all: num(entry, &["qps_all"]),
            cores: num(v, &["provenance", "cores"]).map(|c| c as u64),
            points: Some(n as u64),
            p95_ms: num(entry, &["latency", "p95_ms"]),
        })
    }
}

/// A capacity target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CapacityTarget {
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

impl NodeShape {
    /// The bytes of RAM and disk a plan fills.
    fn usable_bytes(&self) -> (f64, f64) {
        let usable = |bytes: u64| bytes as f64 * self.usable;
        (usable(self.ram_bytes), usable(self.disk_bytes))
    }

    fn describe(&self) -> String {
        format!(
            "nodes of {} RAM, {} disk, {} cores, filled to {:.0} %",
            human_bytes(self.ram_bytes as f64),
            human_bytes(self.disk_bytes as f64),
            self.cores,
            self.usable * 100.0
        )
    }
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
    pub target: CapacityTarget,
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
pub fn check(target: &CapacityTarget, node: &NodeShape) -> Result<(), CapacityError> {
    let (field, value, reason) = if target.vectors == 0 {
        ("--vectors", "0".into(), "plan for at least one vector")
    } else if target.dim == 0 || target.dim > 65_536 {
        let reason = "Qdrant accepts dimensions 1 to 65536";
        ("--dim", target.dim.to_string(), reason)
    } else if target.m < 2 {
        ("--m", target.m.to_string(), "HNSW needs m >= 2")
    } else if target.replication == 0 {
        let reason = "every shard needs at least one copy (1 = no replicas)";
        ("--replication", "0".into(), reason)
    } else if node.ram_bytes == 0 || node.disk_bytes == 0 || node.cores == 0 {
        let reason = "a node needs RAM, disk and cores (example: --node-ram 64GiB)";
        ("--node-ram/--node-disk/--node-cores", "0".into(), reason)
    } else if !(node.usable > 0.0 && node.usable <= 1.0) {
        let reason = "a fraction in (0, 1], e.g. 0.8";
        ("--usable", node.usable.to_string(), reason)
    } else {
        return Ok(());
    };
    Err(invalid(field, value, reason))
}

/// The plan for `target` on nodes of `node`'s shape.
pub fn plan(target: &CapacityTarget, node: &NodeShape, measured: Option<&Measured>) -> Plan {
    let n = target.vectors as f64;
    let d = target.dim;
    let r = target.replication;
    let (usable_ram, usable_disk) = node.usable_bytes();
    let graph_model = graph_bytes_per_vector(target.m);
    let mut options = Vec::new();
    for option in StorageOption::ALL {
        let resident = option.resident_vector_bytes(d) as f64;
        let on_disk = option.disk_vector_bytes(d) as f64;
        let ram_rule = n * resident * QDRANT_RULE_FACTOR;
        let ram_model = n * (resident + graph_model);
        let disk_model = n * (on_disk + graph_model);
        let graph_measured = measured_graph_bytes(measured, target.m);
        let ram_measured = graph_measured.map(|g| n * (resident + g));
        // Measured disk: the vector files plus the measured graph. The write-ahead log is left
        // out: Qdrant keeps it bounded (wal_capacity_mb per shard), whatever N is.
        let disk_measured = graph_measured.map(|g| n * (on_disk + g));
        let ram_best = ram_measured.unwrap_or(ram_model);
        let disk_best = disk_measured.unwrap_or(disk_model);
        // Nodes for `copies` copies of `ram` and `disk` bytes.
        let nodes_for = |ram: f64, disk: f64, copies: u64| {
            ceil_div(ram * copies as f64, usable_ram)
                .max(ceil_div(disk * copies as f64, usable_disk))
        };
        let nodes_rule = nodes_for(ram_rule, disk_model, r).max(r);
        let nodes_mem = nodes_for(ram_best, disk_best, r).max(r);
        let shards = nodes_for(ram_best, disk_best, 1);
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
                p95 = m.p95_ms.map(|p| p * cost);
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
        s.push_str(&format!("{}\n\n", self.node.describe()));
        s.push_str("| storage | RAM/copy rule | RAM/copy model | RAM/copy measured | disk/copy | shards | nodes (rule) | nodes (measured/model) | nodes for QPS | p95 est. |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for o in &self.options {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                o.label,
                human_bytes(o.ram_rule_bytes),
                human_bytes(o.ram_model_bytes),
                na(o.ram_measured_bytes.map(human_bytes)),
                human_bytes(o.disk_measured_bytes.unwrap_or(o.disk_model_bytes)),
                o.shards,
                o.nodes_rule,
                o.nodes,
                na(o.nodes_for_qps),
                na(o.p95_estimate_ms.map(|p| format!("{p:.1} ms"))),
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

// ---------------------------------------------------------------------------------------------
// The deployment: every collection together on shared nodes.

/// The most shards the deployment plan gives one collection. Qdrant sets no hard limit, but every
/// shard costs a segment set, a write-ahead log and a fan-out per query; a node that needs more
/// than this many shards per collection is too small for the data, and the plan says so.
pub const MAX_SHARDS_PER_COLLECTION: u64 = 1024;

/// How far from 1 the fractions of `--split` may add up.
pub const SPLIT_TOLERANCE: f64 = 1e-6;

/// Seconds in the month the cost is quoted for (30 days).
pub const SECONDS_PER_MONTH: f64 = 30.0 * 86_400.0;

/// One collection of the deployment at the file's test size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedCollection {
    pub name: String,
    pub vectors: u64,
    pub dim: u64,
    pub m: u64,
    /// Its `query_load`, QPS.
    pub query_load: f64,
}

impl PlannedCollection {
    /// The collection as a capacity target of its own, with `replication` and no QPS or p95.
    pub fn target(&self, replication: u64) -> CapacityTarget {
        CapacityTarget {
            name: self.name.clone(),
            vectors: self.vectors,
            dim: self.dim,
            m: self.m,
            replication,
            qps: None,
            p95_ms: None,
        }
    }
}

/// What a deployment plan is made from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeploymentInput {
    /// In the file's order (ties in the split go to the earlier collection).
    pub collections: Vec<PlannedCollection>,
    /// `targets.scalability`: the vectors the deployment must hold.
    pub scalability_vectors: u64,
    /// `--split name=fraction,...` for the scalability size; `None`: in proportion to the
    /// collections' test vectors. A collection the split leaves out gets no vectors.
    pub split: Option<Vec<(String, f64)>>,
    pub replication: u64,
    pub node: NodeShape,
    /// The most nodes the cluster may have (`--max-nodes`); `None`: as many as the packing needs.
    pub max_nodes: Option<u64>,
    /// `targets.throughput`, ops/s: the rate the cost per million queries is quoted at.
    pub sustained_ops_s: f64,
    /// The peak throughput target, ops/s.
    pub peak_ops_s: f64,
    /// USD per node per month (`--node-price`).
    pub node_price_usd_month: Option<f64>,
}

/// One copy of one shard.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShardCopy {
    pub collection: String,
    pub shard: u64,
    /// 0 .. replication-1.
    pub copy: u64,
    pub vectors: u64,
    pub ram_bytes: f64,
    pub disk_bytes: f64,
}

impl ShardCopy {
    fn same_shard(&self, other: &ShardCopy) -> bool {
        self.collection == other.collection && self.shard == other.shard
    }
}

/// One node of a packing: the copies on it (indices into the packed slice) and what they fill.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeLoad {
    pub copies: Vec<usize>,
    pub ram_bytes: f64,
    pub disk_bytes: f64,
}

/// First-fit decreasing bin packing of shard copies onto nodes of `ram_cap` × `disk_cap` usable
/// bytes: copies sorted by RAM, then disk, largest first (ties keep their order); each goes to the
/// first node it fits on (RAM and disk) that holds no other copy of its shard, else to a new node.
/// A copy larger than a node still gets a node of its own (callers size shards so none is).
pub fn pack_first_fit_decreasing(
    copies: &[ShardCopy],
    ram_cap: f64,
    disk_cap: f64,
) -> Vec<NodeLoad> {
    let mut order: Vec<usize> = (0..copies.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&copies[a], &copies[b]);
        y.ram_bytes
            .total_cmp(&x.ram_bytes)
            .then(y.disk_bytes.total_cmp(&x.disk_bytes))
    });
    let mut nodes: Vec<NodeLoad> = Vec::new();
    for i in order {
        let c = &copies[i];
        let fits = |n: &NodeLoad| {
            n.ram_bytes + c.ram_bytes <= ram_cap
                && n.disk_bytes + c.disk_bytes <= disk_cap
                && !n.copies.iter().any(|&j| copies[j].same_shard(c))
        };
        match nodes.iter_mut().find(|n| fits(n)) {
            Some(n) => {
                n.copies.push(i);
                n.ram_bytes += c.ram_bytes;
                n.disk_bytes += c.disk_bytes;
            }
            None => nodes.push(NodeLoad {
                copies: vec![i],
                ram_bytes: c.ram_bytes,
                disk_bytes: c.disk_bytes,
            }),
        }
    }
    nodes
}

/// Splits `total` in proportion to integer `weights` by largest remainder: each gets
/// floor(total × w / Σw), and the units left over go one each to the largest remainders, ties to
/// the earlier entry. The parts add up to `total` exactly.
pub fn split_proportional(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|&w| w as u128).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let t = total as u128;
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|&w| (t * w as u128 / sum) as u64)
        .collect();
    let rems: Vec<u128> = weights.iter().map(|&w| t * w as u128 % sum).collect();
    let mut left = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| rems[b].cmp(&rems[a]).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        if weights[i] > 0 {
            parts[i] += 1;
            left -= 1;
        }
    }
    parts
}

/// One collection's shards in one storage option at one size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CollectionShards {
    pub name: String,
    pub vectors: u64,
    pub shards: u64,
    /// One copy of the whole collection.
    pub ram_per_copy_bytes: f64,
    pub disk_per_copy_bytes: f64,
}

/// One storage option at one size: the packing and its totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OptionDeployment {
    pub option: StorageOption,
    pub label: String,
    pub collections: Vec<CollectionShards>,
    /// Shards of all collections (one copy each) and their copies with replication.
    pub shards: u64,
    pub shard_copies: u64,
    /// Nodes the packing of the measured/model bytes fills.
    pub nodes_packed: u64,
    /// Nodes the same packing fills with Qdrant's rule bytes (`None`: a rule shard does not fit
    /// a node even at the maximum shard count).
    pub nodes_rule: Option<u64>,
    /// Nodes whose cores serve the highest rate, when a measurement gives QPS per core.
    pub nodes_for_cores: Option<u64>,
    /// max(nodes_packed, nodes_for_cores): what the cost is for.
    pub nodes: u64,
    /// Data of every copy, and what the nodes provide (nodes × node size).
    pub ram_bytes: f64,
    pub disk_bytes: f64,
    pub ram_provisioned_bytes: f64,
    pub disk_provisioned_bytes: f64,
    /// `nodes` exceeds `--max-nodes`.
    pub over_max_nodes: bool,
    pub monthly_usd: Option<f64>,
    pub usd_per_million_queries: Option<f64>,
    pub copies: Vec<ShardCopy>,
    pub node_loads: Vec<NodeLoad>,
}

/// One size of the deployment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SizePlan {
    /// Where the size comes from: "test_vectors" or "targets.scalability".
    pub source: String,
    pub vectors: u64,
    /// How the vectors were spread over the collections.
    pub split_by: String,
    pub options: Vec<OptionDeployment>,
}

/// The query rates and the cores they need.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Throughput {
    /// Σ query_load of the collections, `targets.throughput`, and the peak target, ops/s.
    pub query_load_sum: f64,
    pub sustained_ops_s: f64,
    pub peak_ops_s: f64,
    /// Measured all-core QPS / measured cores, and where from.
    pub qps_per_core: Option<f64>,
    pub source: Option<String>,
    /// Cores for each of the three rates (rate / QPS per core).
    pub cores_query_load: Option<f64>,
    pub cores_sustained: Option<f64>,
    pub cores_peak: Option<f64>,
    /// Why the cores are n/a.
    pub reason: Option<String>,
}

/// The whole deployment, per size and storage option.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeploymentPlan {
    pub node: NodeShape,
    pub replication: u64,
    pub max_nodes: Option<u64>,
    pub node_price_usd_month: Option<f64>,
    pub throughput: Throughput,
    pub sizes: Vec<SizePlan>,
}

fn invalid(field: &'static str, value: String, reason: impl Into<String>) -> CapacityError {
    CapacityError::Invalid {
        field,
        value,
        reason: reason.into(),
    }
}

/// Validates the deployment's inputs (each error names the flag to fix); returns the vectors per
/// collection at the scalability size.
fn check_deployment(input: &DeploymentInput) -> Result<Vec<u64>, CapacityError> {
    if input.collections.is_empty() {
        return Err(invalid(
            "--config",
            "no collections".into(),
            "the file must list at least one collection",
        ));
    }
    for c in &input.collections {
        check(&c.target(input.replication), &input.node)?;
    }
    if input.max_nodes == Some(0) {
        let reason = "a cluster has at least one node";
        return Err(invalid("--max-nodes", "0".into(), reason));
    }
    if let Some(max) = input.max_nodes
        && input.replication > max
    {
        let r = input.replication;
        return Err(invalid(
            "--replication",
            r.to_string(),
            format!(
                "{r} copies of a shard must sit on {r} different nodes, and --max-nodes allows \
                 {max}: lower --replication or raise --max-nodes"
            ),
        ));
    }
    if let Some(p) = input.node_price_usd_month
        && !(p.is_finite() && p > 0.0)
    {
        return Err(invalid(
            "--node-price",
            p.to_string(),
            "a node's monthly price in USD must be above 0 (example: --node-price 500)",
        ));
    }
    Ok(split_proportional(
        input.scalability_vectors,
        &split_weights(input)?,
    ))
}

/// The collections' weights at the scalability size: their test vectors, or their `--split`
/// fractions (each naming a collection once, from 0 to 1, adding up to 1).
fn split_weights(input: &DeploymentInput) -> Result<Vec<u64>, CapacityError> {
    Ok(match &input.split {
        None => input.collections.iter().map(|c| c.vectors).collect(),
        Some(split) => {
            let names: Vec<&str> = input.collections.iter().map(|c| c.name.as_str()).collect();
            let mut fractions = vec![None; names.len()];
            let known = names.join(", ");
            for (name, f) in split {
                let (value, reason) = match names.iter().position(|n| n == name) {
                    None => (
                        name.clone(),
                        format!("unknown collection `{name}`; the file has: {known}"),
                    ),
                    Some(i) if fractions[i].is_some() => {
                        (name.clone(), format!("`{name}` is given twice"))
                    }
                    Some(_) if !(f.is_finite() && (0.0..=1.0).contains(f)) => (
                        format!("{name}={f}"),
                        "a fraction is a number from 0 to 1".into(),
                    ),
                    Some(i) => {
                        fractions[i] = Some(*f);
                        continue;
                    }
                };
                return Err(invalid("--split", value, reason));
            }
            let sum: f64 = split.iter().map(|(_, f)| f).sum();
            if (sum - 1.0).abs() > SPLIT_TOLERANCE {
                return Err(invalid(
                    "--split",
                    split
                        .iter()
                        .map(|(n, f)| format!("{n}={f}"))
                        .collect::<Vec<_>>()
                        .join(","),
                    format!(
                        "the fractions add up to {sum}, not 1 (within {SPLIT_TOLERANCE:e}); \
                         collections left out get no vectors"
                    ),
                ));
            }
            fractions
                .iter()
                .map(|f| (f.unwrap_or(0.0) * 1e9).round() as u64)
                .collect()
        }
    })
}

/// The fewest shards, from the copy's size over the usable node up, such that the largest shard
/// (ceil(vectors / shards) vectors) fits a node's usable RAM and disk; `None` beyond
/// [`MAX_SHARDS_PER_COLLECTION`].
fn shards_for(vectors: u64, per_vector: (f64, f64), cap: (f64, f64)) -> Option<u64> {
    if vectors == 0 {
        return Some(0);
    }
    let n = vectors as f64;
    let mut s = ceil_div(n * per_vector.0, cap.0).max(ceil_div(n * per_vector.1, cap.1));
    while s <= MAX_SHARDS_PER_COLLECTION.min(vectors) {
        let largest = vectors.div_ceil(s) as f64;
        if largest * per_vector.0 <= cap.0 && largest * per_vector.1 <= cap.1 {
            return Some(s);
        }
        s += 1;
    }
    None
}

/// Each collection's shards, and every copy of every shard.
type ShardsAndCopies = (Vec<CollectionShards>, Vec<ShardCopy>);

/// Every copy of every shard of `collections` at `vectors` each, with `per_vector` bytes, or
/// the collection whose shard does not fit (index, bytes per vector).
fn shard_copies(
    collections: &[PlannedCollection],
    vectors: &[u64],
    replication: u64,
    cap: (f64, f64),
    per_vector: impl Fn(&PlannedCollection) -> (f64, f64),
) -> Result<ShardsAndCopies, (usize, (f64, f64))> {
    let mut shards_out = Vec::new();
    let mut copies = Vec::new();
    for (i, (c, &n)) in collections.iter().zip(vectors).enumerate() {
        let pv = per_vector(c);
        let shards = shards_for(n, pv, cap).ok_or((i, pv))?;
        for s in 0..shards {
            // The first n % shards shards hold one vector more.
            let v = n / shards + u64::from(s < n % shards);
            for copy in 0..replication {
                copies.push(ShardCopy {
                    collection: c.name.clone(),
                    shard: s,
                    copy,
                    vectors: v,
                    ram_bytes: v as f64 * pv.0,
                    disk_bytes: v as f64 * pv.1,
                });
            }
        }
        shards_out.push(CollectionShards {
            name: c.name.clone(),
            vectors: n,
            shards,
            ram_per_copy_bytes: n as f64 * pv.0,
            disk_per_copy_bytes: n as f64 * pv.1,
        });
    }
    Ok((shards_out, copies))
}

/// The deployment plan: for the file's test sizes and for `targets.scalability` vectors, every
/// storage option's shards of all collections packed onto shared nodes.
pub fn plan_deployment(
    input: &DeploymentInput,
    measured: Option<&Measured>,
) -> Result<DeploymentPlan, CapacityError> {
    let scaled = check_deployment(input)?;
    let node = input.node;
    let cap = node.usable_bytes();
    let throughput = throughput_of(input, measured);
    let highest = throughput
        .query_load_sum
        .max(input.sustained_ops_s)
        .max(input.peak_ops_s);
    let nodes_for_cores = throughput
        .qps_per_core
        .map(|p| highest / p)
        .map(|c| ceil_div(c, node.cores as f64));
    let test: Vec<u64> = input.collections.iter().map(|c| c.vectors).collect();
    let split_by = match &input.split {
        None => "in proportion to test_vectors (largest remainder)",
        Some(_) => "by --split (largest remainder)",
    };
    let mut sizes = Vec::new();
    for (source, vectors, split_by) in [
        ("test_vectors", test, "each collection as in the file"),
        ("targets.scalability", scaled, split_by),
    ] {
        let options = StorageOption::ALL.into_iter().map(|option| {
            option_deployment(input, measured, option, &vectors, cap, nodes_for_cores)
        });
        sizes.push(SizePlan {
            source: source.into(),
            vectors: vectors.iter().sum(),
            split_by: split_by.into(),
            options: options.collect::<Result<_, _>>()?,
        });
    }
    Ok(DeploymentPlan {
        node,
        replication: input.replication,
        max_nodes: input.max_nodes,
        node_price_usd_month: input.node_price_usd_month,
        throughput,
        sizes,
    })
}

/// The query rates the deployment serves and the cores each needs at the QPS per core
/// `measured` gives (or why there is none).
fn throughput_of(input: &DeploymentInput, measured: Option<&Measured>) -> Throughput {
    let query_load_sum: f64 = input.collections.iter().map(|c| c.query_load).sum();
    let per_core = match measured {
        None => Err(
            "pass --measured FILE (a `qdrant-perf scale` or `sweep` JSON) for the QPS \
                     per core this suite measured"
                .to_string(),
        ),
        Some(m) => match (m.qps_all, m.cores) {
            (Some(q), Some(c)) if q > 0.0 && c > 0 => Ok(q / c as f64),
            _ => Err(format!(
                "{} has no all-core QPS with its core count",
                m.source
            )),
        },
    };
    let cores = |rate: f64| per_core.as_ref().ok().map(|p| rate / p);
    Throughput {
        query_load_sum,
        sustained_ops_s: input.sustained_ops_s,
        peak_ops_s: input.peak_ops_s,
        qps_per_core: per_core.as_ref().ok().copied(),
        source: measured.map(|m| m.source.clone()),
        cores_query_load: cores(query_load_sum),
        cores_sustained: cores(input.sustained_ops_s),
        cores_peak: cores(input.peak_ops_s),
        reason: per_core.as_ref().err().cloned(),
    }
}

/// One storage option at one size (`vectors` per collection): its shards packed onto nodes of
/// usable `cap` (RAM, disk), the nodes the rule bytes would fill, and the cost.
fn option_deployment(
    input: &DeploymentInput,
    measured: Option<&Measured>,
    option: StorageOption,
    vectors: &[u64],
    cap: (f64, f64),
    nodes_for_cores: Option<u64>,
) -> Result<OptionDeployment, CapacityError> {
    let node = input.node;
    let best = |c: &PlannedCollection| bytes_per_vector(option, c.dim, c.m, measured);
    let (collections, copies) =
        shard_copies(&input.collections, vectors, input.replication, cap, best)
            .map_err(|(i, pv)| shard_too_large(input, option, vectors, cap, i, pv))?;
    let node_loads = pack_first_fit_decreasing(&copies, cap.0, cap.1);
    let nodes_rule = shard_copies(&input.collections, vectors, input.replication, cap, |c| {
        rule_bytes_per_vector(option, c.dim, c.m)
    })
    .ok()
    .map(|(_, rc)| pack_first_fit_decreasing(&rc, cap.0, cap.1).len() as u64);
    let nodes_packed = node_loads.len() as u64;
    let nodes = nodes_packed.max(nodes_for_cores.unwrap_or(0));
    let monthly = input.node_price_usd_month.map(|p| p * nodes as f64);
    let queries_month_m = input.sustained_ops_s * SECONDS_PER_MONTH / 1e6;
    Ok(OptionDeployment {
        option,
        label: option.label(),
        shards: collections.iter().map(|c| c.shards).sum(),
        shard_copies: copies.len() as u64,
        ram_bytes: copies.iter().map(|c| c.ram_bytes).sum(),
        disk_bytes: copies.iter().map(|c| c.disk_bytes).sum(),
        ram_provisioned_bytes: nodes as f64 * node.ram_bytes as f64,
        disk_provisioned_bytes: nodes as f64 * node.disk_bytes as f64,
        collections,
        nodes_packed,
        nodes_rule,
        nodes_for_cores,
        nodes,
        over_max_nodes: input.max_nodes.is_some_and(|m| nodes > m),
        monthly_usd: monthly,
        usd_per_million_queries: monthly
            .filter(|_| queries_month_m > 0.0)
            .map(|c| c / queries_month_m),
        copies,
        node_loads,
    })
}

/// The error for collection `i`, whose shard copy (`pv` bytes per vector) fits no node of usable
/// `cap` even at the maximum shard count: names the node flag to raise.
fn shard_too_large(
    input: &DeploymentInput,
    option: StorageOption,
    vectors: &[u64],
    cap: (f64, f64),
    i: usize,
    pv: (f64, f64),
) -> CapacityError {
    let node = input.node;
    let c = &input.collections[i];
    let n = vectors[i];
    let largest = n.div_ceil(MAX_SHARDS_PER_COLLECTION.min(n)) as f64;
    let (flag, need, have, node_size) = if largest * pv.0 > cap.0 {
        ("--node-ram", largest * pv.0, cap.0, node.ram_bytes)
    } else {
        ("--node-disk", largest * pv.1, cap.1, node.disk_bytes)
    };
    invalid(
        flag,
        human_bytes(node_size as f64),
        format!(
            "one shard copy of `{}` ({}, {} vectors of {} d) needs {} even at the \
             maximum of {MAX_SHARDS_PER_COLLECTION} shards per collection, and a node \
             holds {} ({flag} × --usable {}): use larger nodes ({flag})",
            c.name,
            option.label(),
            group_digits(n),
            c.dim,
            human_bytes(need),
            human_bytes(have),
            node.usable
        ),
    )
}

/// `9000000` -> `9,000,000`.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `v`, or `n/a` when it is unknown.
fn na(v: Option<impl std::fmt::Display>) -> String {
    v.map_or("n/a".into(), |v| v.to_string())
}

fn usd(v: f64, decimals: usize) -> String {
    // Rounded as a whole (a fraction that rounds up to 1 carries), then the digits grouped.
    let s = format!("{v:.decimals$}");
    let (whole, frac) = s.split_at(s.find('.').unwrap_or(s.len()));
    format!("${}{frac}", group_digits(whole.parse().unwrap_or(0)))
}

impl DeploymentPlan {
    /// The deployment section: the load and its cores, then per size a row per storage option.
    pub fn to_markdown(&self) -> String {
        let t = &self.throughput;
        let mut s = String::from("## Deployment: all collections on shared nodes\n\n");
        s.push_str(&format!(
            "{}; replication {}{}{}\n\n",
            self.node.describe(),
            self.replication,
            self.max_nodes
                .map_or(String::new(), |m| format!("; at most {m} nodes")),
            self.node_price_usd_month.map_or(String::new(), |p| format!(
                "; {} per node per month",
                usd(p, 2)
            )),
        ));
        s.push_str(&format!(
            "load: Σ query_load {:.0} QPS; targets.throughput {:.0} QPS sustained; peak {:.0} QPS\n",
            t.query_load_sum, t.sustained_ops_s, t.peak_ops_s
        ));
        match (t.qps_per_core, &t.reason) {
            (Some(pc), _) => s.push_str(&format!(
                "cores needed (rate / {pc:.0} QPS per core measured in {}): {:.1} for Σ \
                 query_load, {:.1} sustained, {:.1} peak; the per-core rate is the measured \
                 one, not extrapolated to these dimensions and sizes\n\n",
                t.source.as_deref().unwrap_or("the measurement"),
                t.cores_query_load.unwrap_or(0.0),
                t.cores_sustained.unwrap_or(0.0),
                t.cores_peak.unwrap_or(0.0),
            )),
            (None, reason) => s.push_str(&format!(
                "cores needed: n/a ({})\n\n",
                reason.as_deref().unwrap_or("no measurement")
            )),
        }
        for size in &self.sizes {
            s.push_str(&format!(
                "### {} vectors ({}, {})\n\n",
                group_digits(size.vectors),
                size.source,
                size.split_by
            ));
            if size.source != "test_vectors"
                && let Some(o) = size.options.first()
            {
                s.push_str(&format!(
                    "per collection: {}\n\n",
                    o.collections
                        .iter()
                        .map(|c| format!("{} {}", c.name, group_digits(c.vectors)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            s.push_str(
                "| storage | shards | copies | nodes | nodes (rule) | nodes for cores | RAM used / provisioned | disk used / provisioned | $/month | $/M queries |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            );
            for o in &size.options {
                s.push_str(&format!(
                    "| {} | {} | {} | {}{} | {} | {} | {} / {} | {} / {} | {} | {} |\n",
                    o.label,
                    o.shards,
                    o.shard_copies,
                    o.nodes,
                    if o.over_max_nodes {
                        " (over --max-nodes)"
                    } else {
                        ""
                    },
                    na(o.nodes_rule),
                    na(o.nodes_for_cores),
                    human_bytes(o.ram_bytes),
                    human_bytes(o.ram_provisioned_bytes),
                    human_bytes(o.disk_bytes),
                    human_bytes(o.disk_provisioned_bytes),
                    na(o.monthly_usd.map(|v| usd(v, 2))),
                    na(o.usd_per_million_queries.map(|v| usd(v, 4))),
                ));
            }
            s.push('\n');
        }
        s.push_str(&format!(
            "- shards: per collection the fewest (at most {MAX_SHARDS_PER_COLLECTION}) such that \
             its largest shard's copy fits a node's usable RAM and disk; bytes per vector as in \
             the tables above (measured/model: vectors or codes the option keeps in RAM + the \
             graph); each shard has {} copies.\n\
             - nodes: every copy packed first-fit decreasing (by RAM, then disk) onto shared \
             nodes, never two copies of one shard on a node; with a measurement, at least the \
             nodes whose cores serve the highest rate. nodes (rule): the same packing with \
             Qdrant's rule (RAM = resident vector bytes × {QDRANT_RULE_FACTOR}).\n\
             - RAM and disk used: all copies; provisioned: nodes × node size.\n\
             - $/month: nodes × --node-price; $/M queries: that over the queries of a month at \
             targets.throughput ({:.0} QPS × 30 × 86400 s = {} million).\n",
            self.replication,
            t.sustained_ops_s,
            group_digits((t.sustained_ops_s * SECONDS_PER_MONTH / 1e6).round() as u64),
        ));
        s
    }
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

    fn target() -> CapacityTarget {
        CapacityTarget {
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
        let t = CapacityTarget {
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
    fn counts_and_durations_parse_with_units() {
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
            &CapacityTarget {
                replication: 0,
                ..target()
            },
            &node(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--replication"), "{err}");
        let err = check(&CapacityTarget { dim: 0, ..target() }, &node())
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

    // ----- the deployment plan, against hand-computed cases -----

    /// Two synthetic collections at m=2, whose graph is 2·2·4 + 4·2/(2-1) = 24 B per vector:
    /// A: 244 d, float32 976 B + 24 = 1000 B per vector (RAM and disk, vectors in RAM);
    /// B: 119 d, 476 B + 24 = 500 B per vector.
    fn two_collections() -> DeploymentInput {
        DeploymentInput {
            collections: vec![
                PlannedCollection {
                    name: "a".into(),
                    vectors: 25_000,
                    dim: 244,
                    m: 2,
                    query_load: 300.0,
                },
                PlannedCollection {
                    name: "b".into(),
                    vectors: 10_000,
                    dim: 119,
                    m: 2,
                    query_load: 200.0,
                },
            ],
            scalability_vectors: 70_000,
            split: None,
            replication: 2,
            // Usable: 20,000,000 × 0.5 = 10,000,000 B RAM, 500,000,000 B disk.
            node: NodeShape {
                ram_bytes: 20_000_000,
                disk_bytes: 1_000_000_000,
                cores: 1,
                usable: 0.5,
            },
            max_nodes: None,
            sustained_ops_s: 10_000.0,
            peak_ops_s: 15_000.0,
            node_price_usd_month: Some(500.0),
        }
    }

    fn copy(collection: &str, shard: u64, c: u64, ram: f64, disk: f64) -> ShardCopy {
        ShardCopy {
            collection: collection.into(),
            shard,
            copy: c,
            vectors: 1,
            ram_bytes: ram,
            disk_bytes: disk,
        }
    }

    #[test]
    fn two_collections_pack_onto_shared_nodes_as_computed_by_hand() {
        let p = plan_deployment(&two_collections(), None).unwrap();
        let test = &p.sizes[0];
        assert_eq!(test.vectors, 35_000);
        let o = &test.options[0]; // float32, vectors in RAM
        // A: 25,000 × 1000 B = 25,000,000 B per copy / 10,000,000 -> 3 shards of 8,334, 8,333
        // and 8,333 vectors (8,334,000 B, 8,333,000 B, 8,333,000 B). B: 5,000,000 B -> 1 shard.
        assert_eq!(
            o.collections.iter().map(|c| c.shards).collect::<Vec<_>>(),
            [3, 1]
        );
        let a0: Vec<f64> = o
            .copies
            .iter()
            .filter(|c| c.collection == "a")
            .map(|c| c.ram_bytes)
            .collect();
        assert_eq!(
            a0,
            [
                8_334_000.0,
                8_334_000.0,
                8_333_000.0,
                8_333_000.0,
                8_333_000.0,
                8_333_000.0
            ]
        );
        // 8 copies. Every A copy (> 5 MB) takes a node of its own: 6 nodes with 1,666,000 or
        // 1,667,000 B free, too little for B's 5,000,000. B's first copy opens node 7; its second
        // would fit there (10,000,000 exactly) but may not share a node with its twin: node 8.
        assert_eq!(o.shard_copies, 8);
        assert_eq!(o.nodes_packed, 8);
        assert_eq!(o.nodes, 8);
        assert!(o.node_loads[6..].iter().all(|n| n.copies.len() == 1));
        // Totals: 2 × (25,000,000 + 5,000,000) B of RAM and of disk; 8 × 20,000,000 provisioned.
        assert_eq!(o.ram_bytes, 60_000_000.0);
        assert_eq!(o.disk_bytes, 60_000_000.0);
        assert_eq!(o.ram_provisioned_bytes, 160_000_000.0);
        // $500 × 8 = $4,000 a month; 10,000 QPS × 2,592,000 s = 25,920 million queries:
        // 4000 / 25920 = $0.154321 per million.
        assert_eq!(o.monthly_usd, Some(4000.0));
        assert!((o.usd_per_million_queries.unwrap() - 0.154_320_987_654).abs() < 1e-9);
        // The rule: A 976 × 1.5 = 1464 B per vector, 36,600,000 B -> 4 shards of 6,250 vectors
        // (9,150,000 B); B 714 × 10,000 = 7,140,000 B -> 1 shard. 8 A copies fill 8 nodes
        // (850,000 B free each), B's 2 copies need 2 more: 10.
        assert_eq!(o.nodes_rule, Some(10));
        // Vectors on disk: RAM 24 B per vector (A 600,000 B, B 240,000 B), disk 1000 / 500 B:
        // one shard each; A's copies on nodes 1 and 2, B's beside them: 2 nodes.
        let d = &test.options[1];
        assert_eq!((d.shards, d.nodes), (2, 2));
        assert_eq!(d.ram_bytes, 2.0 * (600_000.0 + 240_000.0));
        assert_eq!(d.disk_bytes, 60_000_000.0);
        // No measurement: no cores.
        assert_eq!(o.nodes_for_cores, None);
        assert!(
            p.throughput
                .reason
                .as_deref()
                .unwrap()
                .contains("--measured")
        );
        assert_eq!(p.throughput.query_load_sum, 500.0);

        // At the scalability size, 70,000 vectors by test_vectors (25:10): A 50,000, B 20,000.
        // A: 50,000,000 B -> 5 shards of exactly 10,000,000 B (a full node: it fits); B:
        // 10,000,000 B -> 1 shard, also a full node. 12 copies, 12 nodes, $6,000.
        let big = &p.sizes[1].options[0];
        assert_eq!(
            big.collections
                .iter()
                .map(|c| c.vectors)
                .collect::<Vec<_>>(),
            [50_000, 20_000]
        );
        assert_eq!((big.shards, big.shard_copies, big.nodes), (6, 12, 12));
        assert_eq!(big.monthly_usd, Some(6000.0));
        let md = p.to_markdown();
        assert!(md.contains("### 35,000 vectors"), "{md}");
        assert!(md.contains("### 70,000 vectors"), "{md}");
        assert!(md.contains("$4,000.00 | $0.1543 |"), "{md}");
    }

    #[test]
    fn measured_qps_per_core_gives_the_cores_and_can_set_the_node_count() {
        // Same graph bytes as the model at m=2 (24 B), 2000 QPS on 2 cores = 1000 QPS per core.
        let measured = Measured {
            source: "scale.json".into(),
            dim: 244,
            m: 2,
            graph_bytes_per_vector: 24.0,
            disk_overhead_per_vector: 0.0,
            qps_all: Some(2000.0),
            cores: Some(2),
            points: Some(10_000),
            p95_ms: Some(1.0),
        };
        let p = plan_deployment(&two_collections(), Some(&measured)).unwrap();
        let t = &p.throughput;
        // 500 / 1000 = 0.5 cores, 10,000 / 1000 = 10, 15,000 / 1000 = 15.
        assert_eq!(
            (t.cores_query_load, t.cores_sustained, t.cores_peak),
            (Some(0.5), Some(10.0), Some(15.0))
        );
        let o = &p.sizes[0].options[0];
        // 15 cores on 1-core nodes: 15 nodes > the 8 the packing needs. $7,500 / 25,920 M.
        assert_eq!(
            (o.nodes_packed, o.nodes_for_cores, o.nodes),
            (8, Some(15), 15)
        );
        assert_eq!(o.monthly_usd, Some(7500.0));
        assert!((o.usd_per_million_queries.unwrap() - 0.289_351_851_852).abs() < 1e-9);
    }

    #[test]
    fn first_fit_decreasing_and_replicas_on_distinct_nodes() {
        // Five distinct shards of RAM 3, 6, 2, 5, 4 on nodes of 10: sorted 6, 5, 4, 3, 2;
        // 6 -> n1; 5 -> n2 (n1 would hold 11); 4 -> n1 (10); 3 -> n2 (8); 2 -> n2 (10).
        let items: Vec<ShardCopy> = [3.0, 6.0, 2.0, 5.0, 4.0]
            .iter()
            .enumerate()
            .map(|(i, &r)| copy("x", i as u64, 0, r, 0.0))
            .collect();
        let nodes = pack_first_fit_decreasing(&items, 10.0, 10.0);
        let ram = |n: &NodeLoad| {
            n.copies
                .iter()
                .map(|&i| items[i].ram_bytes)
                .collect::<Vec<_>>()
        };
        assert_eq!(nodes.len(), 2);
        assert_eq!(ram(&nodes[0]), [6.0, 4.0]);
        assert_eq!(ram(&nodes[1]), [5.0, 3.0, 2.0]);
        // Disk binds too: RAM fits but disk 6 + 6 > 10 opens a second node.
        let items = [copy("x", 0, 0, 1.0, 6.0), copy("x", 1, 0, 1.0, 6.0)];
        assert_eq!(pack_first_fit_decreasing(&items, 10.0, 10.0).len(), 2);
        // Two copies of one shard of 5 on nodes of 10 would fit one node, but may not share it.
        let items = [copy("x", 0, 0, 5.0, 0.0), copy("x", 0, 1, 5.0, 0.0)];
        assert_eq!(pack_first_fit_decreasing(&items, 10.0, 10.0).len(), 2);
        // With a second shard's two copies: x0 + y0 on n1, x0' + y0' on n2.
        let items = [
            copy("x", 0, 0, 5.0, 0.0),
            copy("x", 0, 1, 5.0, 0.0),
            copy("y", 0, 0, 5.0, 0.0),
            copy("y", 0, 1, 5.0, 0.0),
        ];
        let nodes = pack_first_fit_decreasing(&items, 10.0, 10.0);
        assert_eq!(nodes.len(), 2);
        for n in &nodes {
            assert_eq!(n.copies.len(), 2);
            assert_ne!(items[n.copies[0]].collection, items[n.copies[1]].collection);
        }
    }

    /// The bundled file's nine collections, in its order (test vectors and query load as in
    /// the deployment's performance-tests.yaml).
    fn bundled_nine() -> DeploymentInput {
        DeploymentInput {
            collections: qdrant_perf_store::Profiles::bundled()
                .collections
                .iter()
                .map(|c| PlannedCollection {
                    name: c.name.clone(),
                    vectors: 1_000_000,
                    dim: c.vector_size as u64,
                    m: 16,
                    query_load: 1000.0,
                })
                .collect(),
            scalability_vectors: 100_000_000,
            split: None,
            replication: 2,
            node: node(),
            max_nodes: None,
            sustained_ops_s: 10_000.0,
            peak_ops_s: 15_000.0,
            node_price_usd_month: Some(500.0),
        }
    }

    #[test]
    fn the_100m_split_by_largest_remainder() {
        // 100,000,000 × 1/9 = 11,111,111.1 each: 9 × 11,111,111 = 99,999,999, every remainder
        // equal, so the one vector left goes to the first collection, mixtral.
        let parts = split_proportional(100_000_000, &[1_000_000; 9]);
        assert_eq!(parts[0], 11_111_112);
        assert!(parts[1..].iter().all(|&p| p == 11_111_111));
        assert_eq!(parts.iter().sum::<u64>(), 100_000_000);
        // 10 by 1:2:3 = 1.67, 3.33, 5: floors 1, 3, 5; the one left to the largest remainder.
        assert_eq!(split_proportional(10, &[1, 2, 3]), [2, 3, 5]);
        assert_eq!(split_proportional(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(split_proportional(10, &[0, 1]), [0, 10]);
        // --split: half to mixtral, a quarter each to deepcoder and general, none to the rest.
        let input = DeploymentInput {
            split: Some(vec![
                ("mixtral".into(), 0.5),
                ("deepcoder".into(), 0.25),
                ("general".into(), 0.25),
            ]),
            ..bundled_nine()
        };
        let p = plan_deployment(&input, None).unwrap();
        let v: Vec<u64> = p.sizes[1].options[0]
            .collections
            .iter()
            .map(|c| c.vectors)
            .collect();
        assert_eq!(v, [50_000_000, 0, 0, 0, 0, 25_000_000, 0, 0, 25_000_000]);
    }

    #[test]
    fn the_bundled_nine_at_9m_and_100m_by_hand() {
        // Per vector at m=16 (graph 128 + 64/15 = 132.27 B), float32 in RAM, in GB (1e9 B) per
        // 1M vectors: 4096 d 16.516, 3072 d 12.420, 2048 d 8.324, 1536 d 6.276, 768 d 3.204.
        // A node holds 64 GiB × 0.8 = 54.976 GB.
        let p = plan_deployment(&bundled_nine(), None).unwrap();
        // 9M: every collection one shard (largest 16.5 GB), 18 copies. First-fit decreasing:
        // the ten 4096-d copies: 3 on n1 (49.55), 3 on n2, 2 on n3 and 2 on n4 (33.03 each, as
        // twins may not share); 12.42 on n3 and n4 (45.45), 8.32 on n3 and n4 (53.77); 6.28
        // fits nowhere (n1 49.55 + 6.28 = 55.83 > 54.98): n5 and n6; 3.20 on n1 and n2 (52.75).
        let o = &p.sizes[0].options[0];
        assert_eq!((o.shards, o.shard_copies, o.nodes), (9, 18, 6));
        // RAM: 2 × 1e6 × (5 × 16516.27 + 12420.27 + 8324.27 + 6276.27 + 3204.27) = 225.61 GB.
        let ram = 2.0 * 1e6 * (5.0 * 16_384.0 + 12_288.0 + 8192.0 + 6144.0 + 3072.0)
            + 18.0 * 1e6 * (128.0 + 64.0 / 15.0);
        assert!((o.ram_bytes - ram).abs() < 1.0);
        assert!((225.6e9..225.7e9).contains(&o.ram_bytes));
        // $500 × 6 = $3,000; / 25,920 M queries = $0.11574.
        assert_eq!(o.monthly_usd, Some(3000.0));
        assert!((o.usd_per_million_queries.unwrap() - 3000.0 / 25_920.0).abs() < 1e-12);
        // 100M: ~11.11M each. Per copy: 4096 d 183.5 GB / 54.98 = 3.34 -> 4 shards; 3072 d
        // 138.0 GB -> 3; 2048 d 92.5 GB -> 2; 1536 d 69.7 GB -> 2; 768 d 35.6 GB -> 1:
        // 5 × 4 + 3 + 2 + 2 + 1 = 28 shards. Every shard is over half a node (smallest: 1536 d
        // 5,555,556 × 6276.27 = 34.9 GB), so no two copies share one: 56 copies, 56 nodes.
        let o = &p.sizes[1].options[0];
        assert_eq!(
            o.collections.iter().map(|c| c.shards).collect::<Vec<_>>(),
            [4, 4, 4, 3, 4, 1, 2, 4, 2]
        );
        assert_eq!((o.shards, o.shard_copies, o.nodes), (28, 56, 56));
        assert_eq!(o.monthly_usd, Some(28_000.0));
        assert!((o.usd_per_million_queries.unwrap() - 1.080_246_9).abs() < 1e-6);
    }

    #[test]
    fn bad_deployment_inputs_name_the_flag_and_the_fix() {
        let err = |input: DeploymentInput| plan_deployment(&input, None).unwrap_err().to_string();
        let split = |s: &[(&str, f64)]| Some(s.iter().map(|&(n, f)| (n.to_string(), f)).collect());
        let e = err(DeploymentInput {
            split: split(&[("mixtral", 0.5), ("hermes", 0.4)]),
            ..bundled_nine()
        });
        assert_eq!(
            e,
            "--split = mixtral=0.5,hermes=0.4: the fractions add up to 0.9, not 1 (within \
             1e-6); collections left out get no vectors"
        );
        // Within 1e-6 is fine.
        assert!(
            plan_deployment(
                &DeploymentInput {
                    split: split(&[("mixtral", 0.5), ("hermes", 0.500_000_5)]),
                    ..bundled_nine()
                },
                None
            )
            .is_ok()
        );
        let e = err(DeploymentInput {
            split: split(&[("mixtral", 0.5), ("nope", 0.5)]),
            ..bundled_nine()
        });
        assert!(
            e.starts_with(
                "--split = nope: unknown collection `nope`; the file has: mixtral, hermes"
            ),
            "{e}"
        );
        let e = err(DeploymentInput {
            split: split(&[("mixtral", 0.5), ("mixtral", 0.5)]),
            ..bundled_nine()
        });
        assert!(e.contains("`mixtral` is given twice"), "{e}");
        let e = err(DeploymentInput {
            split: split(&[("mixtral", 1.5), ("hermes", -0.5)]),
            ..bundled_nine()
        });
        assert!(
            e.contains("--split = mixtral=1.5: a fraction is a number from 0 to 1"),
            "{e}"
        );
        for price in [0.0, -5.0] {
            let e = err(DeploymentInput {
                node_price_usd_month: Some(price),
                ..bundled_nine()
            });
            assert!(e.starts_with(&format!("--node-price = {price}: ")), "{e}");
            assert!(e.contains("above 0"), "{e}");
        }
        // A 10 MiB node (8 MiB usable): one 4096-d vector needs 16,516 B, so 1,000,000 vectors
        // over the maximum 1024 shards is 977 per shard, 977 × 16516.27 = 15.39 MiB > 8 MiB.
        let e = err(DeploymentInput {
            node: NodeShape {
                ram_bytes: 10 << 20,
                ..node()
            },
            ..bundled_nine()
        });
        assert_eq!(
            e,
            "--node-ram = 10.00 MiB: one shard copy of `mixtral` (float32, vectors in RAM, \
             1,000,000 vectors of 4096 d) needs 15.39 MiB even at the maximum of 1024 shards per \
             collection, and a node holds 8.00 MiB (--node-ram × --usable 0.8): use larger nodes \
             (--node-ram)"
        );
        // Disk the same way (RAM is ample; a 10 MiB disk).
        let e = err(DeploymentInput {
            node: NodeShape {
                disk_bytes: 10 << 20,
                ..node()
            },
            ..bundled_nine()
        });
        assert!(
            e.starts_with("--node-disk = 10.00 MiB: one shard copy of `mixtral`"),
            "{e}"
        );
        // Replication beyond the nodes the plan may use.
        let e = err(DeploymentInput {
            replication: 3,
            max_nodes: Some(2),
            ..bundled_nine()
        });
        assert_eq!(
            e,
            "--replication = 3: 3 copies of a shard must sit on 3 different nodes, and \
             --max-nodes allows 2: lower --replication or raise --max-nodes"
        );
        let e = err(DeploymentInput {
            max_nodes: Some(0),
            ..bundled_nine()
        });
        assert!(e.starts_with("--max-nodes = 0"), "{e}");
        // A plan over --max-nodes is marked, not refused.
        let p = plan_deployment(
            &DeploymentInput {
                max_nodes: Some(10),
                ..bundled_nine()
            },
            None,
        )
        .unwrap();
        assert!(p.sizes[1].options[0].over_max_nodes);
        assert!(!p.sizes[0].options[1].over_max_nodes);
        assert!(p.to_markdown().contains("56 (over --max-nodes)"));
    }
}
