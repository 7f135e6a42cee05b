//! Captures the git commit the suite is built from (`QDRANT_PERF_GIT_COMMIT`, empty outside a
//! git checkout), so a report names the code that measured it, not whatever repository the
//! binary happens to be run from.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn watch(path: &Path) {
    // A path that does not exist would make cargo rerun this script on every build.
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        // HEAD moves on checkout; the ref it points at moves on commit (loose or packed).
        watch(&git_dir.join("HEAD"));
        let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
            .map_or(git_dir.clone(), PathBuf::from);
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch(&git_dir.join(&r));
            watch(&common.join(&r));
        }
        watch(&common.join("packed-refs"));
    }
    println!("cargo:rustc-env=QDRANT_PERF_GIT_COMMIT={commit}");
}
