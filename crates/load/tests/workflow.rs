//! The CI workflow (`.github/workflows/bench.yml`) has the shape the regression gate needs, and
//! every script it runs exists, is executable and parses; it and `.ci/run` install through the
//! one set-up script and run the test command. (actionlint checks the rest: see
//! docs/regression-gate.md.)

use std::path::{Path, PathBuf};

use yaml_serde::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn workflow() -> Value {
    let path = repo().join(".github/workflows/bench.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_serde::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn steps(job: &Value) -> &Vec<Value> {
    job["steps"]
        .as_sequence()
        .expect("a job has a list of steps")
}

fn runs(job: &Value) -> String {
    steps(job)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn job<'a>(w: &'a Value, name: &str) -> &'a Value {
    let j = &w["jobs"][name];
    assert!(j.is_mapping(), "job {name} is missing");
    j
}

#[test]
fn the_workflow_runs_on_pull_requests_pushes_to_main_and_nightly() {
    let w = workflow();
    let on = &w["on"];
    assert!(
        on.get("pull_request").is_some(),
        "on.pull_request is missing"
    );
    let branches = on["push"]["branches"]
        .as_sequence()
        .expect("on.push.branches");
    assert!(branches.iter().any(|b| b == "main"), "{branches:?}");
    let schedule = on["schedule"].as_sequence().expect("on.schedule");
    let cron = schedule[0]["cron"].as_str().expect("a cron line");
    assert_eq!(cron.split_whitespace().count(), 5, "{cron}");
}

#[test]
fn every_job_has_a_runner_and_steps_and_every_needed_job_exists() {
    let w = workflow();
    let jobs = w["jobs"].as_mapping().expect("jobs");
    assert!(!jobs.is_empty());
    for (name, j) in jobs {
        assert!(
            j["runs-on"].as_str().is_some(),
            "job {name:?} has no runs-on"
        );
        assert!(!steps(j).is_empty(), "job {name:?} has no steps");
        for step in steps(j) {
            assert!(
                step.get("run").is_some() != step.get("uses").is_some(),
                "a step of {name:?} needs exactly one of run/uses: {step:?}"
            );
        }
        if let Some(needs) = j["needs"].as_str() {
            assert!(
                jobs.contains_key(needs),
                "job {name:?} needs unknown job {needs:?}"
            );
        }
    }
}

#[test]
fn pull_requests_run_the_tests_then_the_ab_comparison_and_upload_the_reports() {
    let w = workflow();
    assert!(runs(job(&w, "test")).contains("scripts/test"));
    let compare = job(&w, "compare");
    assert_eq!(compare["needs"], "test");
    assert!(compare["if"].as_str().unwrap().contains("pull_request"));
    assert!(runs(compare).contains("scripts/bench-compare"));
    let checkout = steps(compare)
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout"))
        })
        .expect("a checkout step");
    assert_eq!(
        checkout["with"]["fetch-depth"], 0,
        "the merge base needs the full history"
    );
    let upload = steps(compare)
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .expect("an upload step");
    assert_eq!(
        upload["if"], "always()",
        "reports must be uploaded when the gate fails too"
    );
    let paths = upload["with"]["path"].as_str().unwrap();
    assert!(
        paths.contains("target/criterion") && paths.contains("target/bench-compare"),
        "{paths}"
    );
}

#[test]
fn main_and_nightly_save_a_baseline_as_an_artifact() {
    let w = workflow();
    let baseline = job(&w, "baseline");
    let cond = baseline["if"].as_str().unwrap();
    assert!(cond.contains("push") && cond.contains("schedule"), "{cond}");
    assert!(runs(baseline).contains("--save-baseline"));
    assert!(steps(baseline).iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-artifact"))
    }));
}

#[test]
fn every_script_the_workflow_runs_exists_is_executable_and_parses() {
    use std::os::unix::fs::PermissionsExt;
    let w = workflow();
    let mut scripts = Vec::new();
    for (_, j) in w["jobs"].as_mapping().unwrap() {
        for word in runs(j).split(|c: char| c.is_whitespace() || c == '"' || c == '(' || c == ')') {
            if let Some(name) = word.strip_prefix("scripts/") {
                scripts.push(name.to_string());
            }
        }
    }
    scripts.sort();
    scripts.dedup();
    assert!(
        scripts.contains(&"bench-compare".to_string()),
        "{scripts:?}"
    );
    for name in scripts {
        let path = repo().join("scripts").join(&name);
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            meta.permissions().mode() & 0o111 != 0,
            "{} is not executable",
            path.display()
        );
        let syntax = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            syntax.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&syntax.stderr)
        );
    }
}

#[test]
fn the_workflow_and_ci_install_through_setup_and_run_the_test_command() {
    let read = |rel: &str| std::fs::read_to_string(repo().join(rel)).unwrap();
    let w = workflow();
    let ci = read(".ci/run");
    let test = read("scripts/test");
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
    assert!(
        ci.contains("\nscripts/test"),
        ".ci/run runs the test command"
    );
    // Every job installs through scripts/setup, and the tests job has a Qdrant for QDRANT_BIN.
    for (name, j) in w["jobs"].as_mapping().unwrap() {
        assert!(
            runs(j).contains("scripts/setup"),
            "job {name:?} skips scripts/setup"
        );
    }
    assert!(
        runs(job(&w, "test")).contains("QDRANT_BIN="),
        "the tests job sets QDRANT_BIN"
    );
    // Nothing but scripts/setup names the test packages (comments aside).
    let ci: String = ci
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let all_runs: String = w["jobs"].as_mapping().unwrap().values().map(runs).collect();
    for package in ["redis-server", "prometheus", "chromium"] {
        for (name, text) in [("the workflow", &all_runs), (".ci/run", &ci)] {
            assert!(
                !text.contains(package),
                "{name} names {package}; scripts/setup holds the list"
            );
        }
    }
}
