//! `qdrant-perf profiles`: the deployment's collection profiles as a table.

use std::process::ExitCode;

use anyhow::Result;
use qdrant_perf_store::Profiles;

use crate::args::ProfilesArgs;

/// Prints each profile's name, dimension, distance, test size and query load, then the index
/// and search defaults.
pub fn run(args: ProfilesArgs) -> Result<ExitCode> {
    let profiles = args.profiles;
    let p = match profiles {
        Some(path) => Profiles::load(&path)?,
        None => Profiles::bundled(),
    };
    println!(
        "{:<12} {:>6} {:<8} {:>12} {:>8}",
        "collection", "dim", "distance", "test vectors", "qps"
    );
    for c in &p.collections {
        println!(
            "{:<12} {:>6} {:<8} {:>12} {:>8}",
            c.name,
            c.vector_size,
            c.distance.qdrant_name(),
            c.test_vectors,
            c.query_load
        );
    }
    println!(
        "index: hnsw m={} ef_construct={} full_scan_threshold={} KB; search: top-{} at ef={}",
        p.index.hnsw_m,
        p.index.hnsw_ef_construct,
        p.index.full_scan_threshold,
        p.search.k,
        p.search.hnsw_ef
    );
    Ok(ExitCode::SUCCESS)
}
