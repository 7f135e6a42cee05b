//! Running a command in a test: its exit code and output, and the argument lists the
//! `qdrant-perf` tests share.

use std::process::{Command, Output};

/// Runs the command; returns its exit code (-1 when a signal ended it), stdout and stderr.
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run the command");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// `validate --quick` at the tests' size, quiet and without the stress step: 500 points and
/// 50 queries a collection, each run and the overall run `duration` long (`"1s"`).
pub fn quick_validate(duration: &str) -> Vec<String> {
    [
        "validate",
        "--quick",
        "--quiet",
        "--no-stress",
        "--points",
        "500",
        "--queries",
        "50",
        "--duration",
        duration,
        "--overall-duration",
        duration,
    ]
    .map(String::from)
    .to_vec()
}
