//! The README's crate map, checked against the `Cargo.toml`s: no crate that runs the engine
//! (data, store, load) and no crate below them depends on the renderings or the test tools,
//! the results model draws nothing, and the test tools are only ever a dev-dependency.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The names under `[dependencies]` of a crate's Cargo.toml (not dev- or build-dependencies).
fn normal_dependencies(manifest: &Path) -> Vec<String> {
    let text =
        std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut in_section = false;
    let mut names = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[dependencies]";
            continue;
        }
        if !in_section || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line
            .split(['=', '.'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        names.push(name);
    }
    names
}

#[test]
fn no_engine_crate_depends_on_render_or_testkit_and_report_draws_nothing() {
    for krate in ["plumbing", "report", "data", "store", "load", "gate"] {
        let manifest = repo().join("crates").join(krate).join("Cargo.toml");
        let deps = normal_dependencies(&manifest);
        assert!(
            deps.iter().any(|d| d == "serde" || d == "libc"),
            "{krate}: no dependencies read from {}: {deps:?}",
            manifest.display()
        );
        for banned in ["qdrant-perf-render", "qdrant-perf-testkit", "plotters"] {
            assert!(
                !deps.iter().any(|d| d == banned),
                "crates/{krate}/Cargo.toml depends on {banned}: the README's crate map says it \
                 must not (render and testkit sit above it)"
            );
        }
    }
    for krate in ["cli", "tune", "render"] {
        let deps = normal_dependencies(&repo().join("crates").join(krate).join("Cargo.toml"));
        assert!(
            !deps.iter().any(|d| d == "qdrant-perf-testkit"),
            "crates/{krate}/Cargo.toml has testkit as a normal dependency: it is dev-only"
        );
    }
    let root = normal_dependencies(&repo().join("Cargo.toml"));
    assert!(
        !root.iter().any(|d| d == "qdrant-perf-testkit"),
        "the root package has testkit as a normal dependency: {root:?}"
    );
}
