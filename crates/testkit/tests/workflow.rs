//! The GitHub workflow and the project's CI script call scripts of this repository: every one
//! they name exists and is executable, every repository file they name exists, and both run the
//! one set-up script and the test command.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `scripts/NAME`, `.ci/NAME` and `docs/NAME` the text names.
fn named_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["scripts/", ".ci/", "docs/"] {
        let mut rest = text;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
                .unwrap_or(tail.len());
            // A word of its own (not `target/scripts/...`), without a sentence's last dot.
            if !before.is_some_and(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
                found.push(tail[..end].trim_end_matches('.').to_string());
            }
            rest = &tail[end.max(1)..];
        }
    }
    found
}

#[test]
fn every_script_and_file_the_workflow_and_ci_name_is_there_and_runnable() {
    for file in [".github/workflows/bench.yml", ".ci/run", "scripts/test"] {
        let text = fs::read_to_string(repo().join(file)).unwrap();
        let named = named_paths(&text);
        assert!(!named.is_empty(), "{file} names no script");
        for rel in named {
            let path = repo().join(&rel);
            assert!(
                path.exists(),
                "{file} names {rel}, which is not in the repository"
            );
            if !rel.starts_with("docs/") {
                let mode = fs::metadata(&path).unwrap().permissions().mode();
                assert!(
                    mode & 0o111 != 0,
                    "{file} runs {rel}, which is not executable"
                );
            }
        }
    }
}

#[test]
fn the_workflow_and_ci_install_through_setup_and_run_the_test_command() {
    let workflow = fs::read_to_string(repo().join(".github/workflows/bench.yml")).unwrap();
    let ci = fs::read_to_string(repo().join(".ci/run")).unwrap();
    let test = fs::read_to_string(repo().join("scripts/test")).unwrap();
    // The test command runs the set-up first and the dependency check last.
    let setup = test
        .find("\nscripts/setup")
        .expect("scripts/test runs scripts/setup");
    let cargo = test
        .find("\ncargo bench")
        .expect("scripts/test runs cargo bench");
    assert!(setup < cargo, "scripts/setup runs before the build");
    assert!(
        test.contains("\nscripts/check-deps"),
        "scripts/test checks the dependencies"
    );
    // CI and the workflow call it, and nothing else installs the test packages.
    assert!(
        ci.contains("\nscripts/test"),
        ".ci/run runs the test command"
    );
    assert!(
        workflow.contains("run: scripts/test"),
        "the workflow runs the test command"
    );
    assert!(
        workflow.contains("scripts/setup"),
        "the workflow installs through scripts/setup"
    );
    for package in ["redis-server", "prometheus", "chromium"] {
        for (name, text) in [("the workflow", &workflow), (".ci/run", &ci)] {
            assert!(
                !text.contains(&format!("install -y {package}")),
                "{name} installs {package} itself; scripts/setup holds the list"
            );
        }
    }
    // The server tests get a real Qdrant executable in the workflow.
    assert!(
        workflow.contains("QDRANT_BIN="),
        "the workflow sets QDRANT_BIN"
    );
}

#[test]
fn named_paths_are_whole_words() {
    let text = "run: scripts/test --x; see docs/a.md. target/scripts/not sudo -E scripts/setup\n";
    assert_eq!(
        named_paths(text),
        ["scripts/test", "scripts/setup", "docs/a.md"]
    );
}
