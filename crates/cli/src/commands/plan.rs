//! `qdrant-perf plan`: RAM, disk, nodes and shards for a target, per storage option; with
//! `--config`, also the whole deployment on shared nodes at its test size and at
//! `targets.scalability`.

use std::process::ExitCode;

use anyhow::Result;
use qdrant_perf_load::config::PerformanceConfig;
use qdrant_perf_tune::plan::{
    self, CapacityTarget, DeploymentInput, Measured, NodeShape, PlannedCollection,
};

use crate::args::*;

/// Prints the capacity plan (and, with `--config`, the deployment's) as Markdown or JSON.
pub fn run(args: PlanArgs) -> Result<ExitCode> {
    let node = NodeShape {
        ram_bytes: args.node_ram,
        disk_bytes: args.node_disk,
        cores: args.node_cores,
        usable: args.usable,
    };
    // clap's `requires` is not checked against --vectors/--dim (they conflict with --config).
    for (flag, given) in [
        ("--node-price", args.node_price.is_some()),
        ("--split", args.split.is_some()),
        ("--max-nodes", args.max_nodes.is_some()),
    ] {
        if given && args.config.is_none() {
            anyhow::bail!(
                "{flag} sizes the whole deployment: it needs --config FILE (a \
                 performance-tests.yaml)"
            );
        }
    }
    let config = args
        .config
        .as_deref()
        .map(PerformanceConfig::load)
        .transpose()?;
    let targets = match &config {
        Some(config) => targets_from_config(config, &args),
        None => vec![CapacityTarget {
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

/// The whole deployment of the file: its collections, its scalability and throughput targets,
/// the node and the deployment flags.
fn deployment_input(
    config: &PerformanceConfig,
    args: &PlanArgs,
    node: NodeShape,
) -> DeploymentInput {
    let targets = config.targets();
    DeploymentInput {
        collections: collections(config, args),
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

/// The collections of the deployment's performance-tests.yaml (read by the one config reader, so
/// its errors name the key and the line): their vectors, dimension and query load, and the
/// file's HNSW m unless `--m` overrides it.
fn collections(config: &PerformanceConfig, args: &PlanArgs) -> Vec<PlannedCollection> {
    let tests = &config.performance_tests;
    let m = args.m.unwrap_or(tests.optimization.indexing.hnsw_m as u64);
    tests
        .collections
        .0
        .iter()
        .map(|(name, c)| PlannedCollection {
            name: name.clone(),
            vectors: c.test_vectors,
            dim: c.vector_size as u64,
            m,
            query_load: c.query_load,
        })
        .collect()
}

/// One target per collection of the file (see [`collections`]), with the file's p95 latency
/// target and the collection's query load; the flags given override them.
fn targets_from_config(config: &PerformanceConfig, args: &PlanArgs) -> Vec<CapacityTarget> {
    let p95 = args.p95.unwrap_or(config.targets().p95_latency_ms);
    collections(config, args)
        .iter()
        .map(|c| CapacityTarget {
            qps: Some(args.qps.unwrap_or(c.query_load)),
            p95_ms: Some(p95),
            ..c.target(args.replication)
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

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/performance-tests.yaml"
    );

    #[test]
    fn the_deployment_yaml_gives_one_target_per_collection_and_flags_override_it() {
        let path = FIXTURE;
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
        let path = FIXTURE;
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
