//! `qdrant-perf plan`: RAM, disk, nodes and shards for a target, per storage option; with
//! `--config`, also the whole deployment on shared nodes at its test size and at
//! `targets.scalability`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use qdrant_perf_load::config::PerformanceConfig;
use qdrant_perf_tune::plan::{self, CollectionSpec, DeploymentInput, Measured, NodeShape, Target};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Vectors to hold (e.g. 100000000 or 100M).
    #[arg(long, value_parser = plan::parse_count, required_unless_present = "config")]
    pub vectors: Option<u64>,
    /// Vector dimension.
    #[arg(long, required_unless_present = "config")]
    pub dim: Option<u64>,
    /// Queries per second to serve (needs --measured to size for it).
    #[arg(long)]
    pub qps: Option<f64>,
    /// p95 latency target (e.g. 20ms).
    #[arg(long, value_parser = plan::parse_ms)]
    pub p95: Option<f64>,
    /// Plan every collection of a performance-tests.yaml instead (its test_vectors, vector_size,
    /// query_load, query_latency and hnsw_m).
    #[arg(long, conflicts_with_all = ["vectors", "dim"])]
    pub config: Option<PathBuf>,
    /// HNSW links per node (default: the config's hnsw_m, else the deployment's 16).
    #[arg(long)]
    pub m: Option<u64>,
    /// Copies of each shard (1 = no replicas).
    #[arg(long, default_value_t = 2)]
    pub replication: u64,
    #[arg(long, default_value = "64GiB", value_parser = plan::parse_bytes)]
    pub node_ram: u64,
    #[arg(long, default_value = "2TiB", value_parser = plan::parse_bytes)]
    pub node_disk: u64,
    #[arg(long, default_value_t = 16)]
    pub node_cores: u64,
    /// Fraction of a node's RAM and disk to fill.
    #[arg(long, default_value_t = 0.8)]
    pub usable: f64,
    /// A `qdrant-perf scale` or `sweep` JSON: use the bytes per vector and QPS it measured.
    #[arg(long)]
    pub measured: Option<PathBuf>,
    /// With --config: USD per node per month, for the deployment's monthly cost and cost per
    /// million queries.
    #[arg(long, allow_negative_numbers = true)]
    pub node_price: Option<f64>,
    /// With --config: how targets.scalability's vectors are spread, `name=fraction,...` adding up
    /// to 1 (collections left out get none; default: in proportion to test_vectors).
    #[arg(long, value_parser = parse_split)]
    pub split: Option<Split>,
    /// With --config: the most nodes the cluster may have (the replication factor must not
    /// exceed it; a plan needing more is marked). Default: as many as the packing needs.
    #[arg(long)]
    pub max_nodes: Option<u64>,
    /// Print JSON instead of Markdown (with --config: {"plans": [...], "deployment": {...}}).
    #[arg(long)]
    pub json: bool,
}

/// `--split name=fraction,...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Split(pub Vec<(String, f64)>);

fn parse_split(s: &str) -> Result<Split, String> {
    s.split(',')
        .map(|part| {
            let (name, f) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not name=fraction (example: mixtral=0.5)"))?;
            let f: f64 = f
                .trim()
                .parse()
                .map_err(|_| format!("{f:?} in {part:?} is not a number"))?;
            Ok((name.trim().to_string(), f))
        })
        .collect::<Result<_, _>>()
        .map(Split)
}

pub fn run(args: PlanArgs) -> Result<ExitCode> {
    let node = NodeShape {
        ram_bytes: args.node_ram,
        disk_bytes: args.node_disk,
        cores: args.node_cores,
        usable: args.usable,
    };
    // clap's `requires` is not checked against --vectors/--dim (they conflict with --config).
    if args.config.is_none() {
        for (flag, given) in [
            ("--node-price", args.node_price.is_some()),
            ("--split", args.split.is_some()),
            ("--max-nodes", args.max_nodes.is_some()),
        ] {
            if given {
                anyhow::bail!(
                    "{flag} sizes the whole deployment: it needs --config FILE (a \
                     performance-tests.yaml)"
                );
            }
        }
    }
    let config = args
        .config
        .as_deref()
        .map(PerformanceConfig::load)
        .transpose()?;
    let targets = match &config {
        Some(config) => targets_from_config(config, &args),
        None => vec![Target {
            name: "target".into(),
            vectors: args.vectors.expect("clap requires --vectors"),
            dim: args.dim.expect("clap requires --dim"),
            m: args.m.unwrap_or(16),
            replication: args.replication,
            qps: args.qps,
            p95_ms: args.p95,
        }],
    };
    let measured = args.measured.as_deref().map(Measured::load).transpose()?;
    let mut plans = Vec::new();
    for t in &targets {
        plan::check(t, &node)?;
        plans.push(plan::plan(t, &node, measured.as_ref()));
    }
    let deployment = config
        .as_ref()
        .map(|c| plan::plan_deployment(&deployment_input(c, &args, node), measured.as_ref()))
        .transpose()?;
    if args.json {
        let json = match &deployment {
            Some(d) => serde_json::json!({"plans": plans, "deployment": d}),
            None => serde_json::to_value(&plans)?,
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for p in &plans {
            println!("{}", p.to_markdown());
        }
        if let Some(d) = &deployment {
            println!("{}", d.to_markdown());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The whole deployment of the file: its collections (m as for the per-collection tables), its
/// scalability and throughput targets, the node and the deployment flags.
fn deployment_input(
    config: &PerformanceConfig,
    args: &PlanArgs,
    node: NodeShape,
) -> DeploymentInput {
    let targets = config.targets();
    let m = args
        .m
        .unwrap_or(config.performance_tests.optimization.indexing.hnsw_m as u64);
    DeploymentInput {
        collections: config
            .performance_tests
            .collections
            .0
            .iter()
            .map(|(name, c)| CollectionSpec {
                name: name.clone(),
                vectors: c.test_vectors,
                dim: c.vector_size as u64,
                m,
                query_load: c.query_load,
            })
            .collect(),
        scalability_vectors: targets.scalability_vectors,
        split: args.split.clone().map(|s| s.0),
        replication: args.replication,
        node,
        max_nodes: args.max_nodes,
        sustained_ops_s: targets.sustained_ops_s,
        peak_ops_s: targets.peak_ops_s,
        node_price_usd_month: args.node_price,
    }
}

/// One target per collection of the deployment's performance-tests.yaml (read by the one config
/// reader, so its errors name the key and the line): its vectors, dimension and query load, the
/// file's HNSW m and p95 latency target; the flags given override them.
fn targets_from_config(config: &PerformanceConfig, args: &PlanArgs) -> Vec<Target> {
    let tests = &config.performance_tests;
    let m = tests.optimization.indexing.hnsw_m as u64;
    let p95 = config.targets().p95_latency_ms;
    tests
        .collections
        .0
        .iter()
        .map(|(name, c)| Target {
            name: name.clone(),
            vectors: c.test_vectors,
            dim: c.vector_size as u64,
            m: args.m.unwrap_or(m),
            replication: args.replication,
            qps: Some(args.qps.unwrap_or(c.query_load)),
            p95_ms: Some(args.p95.unwrap_or(p95)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: PlanArgs,
    }

    #[test]
    fn the_deployment_yaml_gives_one_target_per_collection_and_flags_override_it() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/performance-tests.yaml"
        );
        let config = PerformanceConfig::load(path.as_ref()).unwrap();
        let args = Cli::try_parse_from(["plan", "--config", path])
            .unwrap()
            .args;
        let targets = targets_from_config(&config, &args);
        assert_eq!(targets.len(), 9);
        let mixtral = targets.iter().find(|t| t.name == "mixtral").unwrap();
        assert_eq!(
            (mixtral.dim, mixtral.vectors, mixtral.m, mixtral.replication),
            (4096, 1_000_000, 16, 2)
        );
        assert_eq!((mixtral.qps, mixtral.p95_ms), (Some(1000.0), Some(20.0)));
        let deepcoder = targets.iter().find(|t| t.name == "deepcoder").unwrap();
        assert_eq!(deepcoder.dim, 768);

        let args = Cli::try_parse_from(["plan", "--config", path, "--m", "32", "--p95", "5ms"])
            .unwrap()
            .args;
        let targets = targets_from_config(&config, &args);
        assert!(targets.iter().all(|t| t.m == 32 && t.p95_ms == Some(5.0)));
    }

    #[test]
    fn the_issue_example_parses_with_units() {
        let a = Cli::try_parse_from([
            "plan",
            "--vectors",
            "100M",
            "--dim",
            "4096",
            "--qps",
            "10000",
            "--p95",
            "20ms",
            "--node-ram",
            "128GiB",
        ])
        .unwrap()
        .args;
        assert_eq!(a.vectors, Some(100_000_000));
        assert_eq!(a.dim, Some(4096));
        assert_eq!(a.p95, Some(20.0));
        assert_eq!(a.node_ram, 128 << 30);
        assert_eq!((a.replication, a.node_cores, a.usable), (2, 16, 0.8));
    }

    #[test]
    fn the_deployment_comes_from_the_file_and_the_flags() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/performance-tests.yaml"
        );
        let config = PerformanceConfig::load(path.as_ref()).unwrap();
        let args = Cli::try_parse_from([
            "plan",
            "--config",
            path,
            "--node-price",
            "500",
            "--split",
            "mixtral=0.5, general = 0.5",
            "--max-nodes",
            "100",
        ])
        .unwrap()
        .args;
        let node = NodeShape {
            ram_bytes: args.node_ram,
            disk_bytes: args.node_disk,
            cores: args.node_cores,
            usable: args.usable,
        };
        let d = deployment_input(&config, &args, node);
        assert_eq!(d.collections.len(), 9);
        assert_eq!(
            d.collections.iter().map(|c| c.vectors).sum::<u64>(),
            9_000_000
        );
        assert_eq!(d.scalability_vectors, 100_000_000);
        // targets.throughput and the documented peak default.
        assert_eq!((d.sustained_ops_s, d.peak_ops_s), (10_000.0, 15_000.0));
        assert_eq!((d.replication, d.max_nodes), (2, Some(100)));
        assert_eq!(d.node_price_usd_month, Some(500.0));
        assert_eq!(
            d.split,
            Some(vec![("mixtral".into(), 0.5), ("general".into(), 0.5)])
        );
        let err =
            Cli::try_parse_from(["plan", "--config", path, "--split", "mixtral"]).unwrap_err();
        assert!(err.to_string().contains("--split"), "{err}");
        assert!(err.to_string().contains("name=fraction"), "{err}");
        let err =
            Cli::try_parse_from(["plan", "--config", path, "--split", "mixtral=half"]).unwrap_err();
        assert!(err.to_string().contains("not a number"), "{err}");
        // A negative price parses (and the plan refuses it, naming --node-price).
        assert!(Cli::try_parse_from(["plan", "--config", path, "--node-price", "-1"]).is_ok());
    }

    #[test]
    fn a_target_or_a_config_is_required_but_not_both() {
        let err = Cli::try_parse_from(["plan", "--dim", "8"]).unwrap_err();
        assert!(err.to_string().contains("--vectors"), "{err}");
        let err = Cli::try_parse_from(["plan", "--config", "p.yaml", "--dim", "8"]).unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
        assert!(Cli::try_parse_from(["plan", "--config", "p.yaml"]).is_ok());
        let err =
            Cli::try_parse_from(["plan", "--vectors", "1", "--dim", "8", "--node-ram", "lots"])
                .unwrap_err();
        assert!(err.to_string().contains("--node-ram"), "{err}");
    }
}
