//! `qdrant-perf`: the command-line face of the suite. The binary is thin: [`args`] parses,
//! each module of [`commands`] runs one command, and main only dispatches.
//!
//! Modules depend one way: `commands` -> `run` (what the load commands share to run a target)
//! -> `setup` (cache, runtime, Ctrl-C, stores, the configuration) -> `args`.

mod args;
mod commands;
mod run;
mod setup;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Command, Opts};

/// Exit codes: 0 success, 1 a regression (compare), 2 an error.
fn main() -> ExitCode {
    match dispatch(Opts::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes on one line, each cause once (an error whose message already quotes
/// its source is not followed by the source again), with the fix for a full disk.
fn describe(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    let full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
    }) || line.contains("No space left on device");
    if full {
        line.push_str(
            ". The filesystem is full: free space there, or write elsewhere (--out for reports, \
             --cache-dir or QDRANT_PERF_CACHE_DIR for datasets and indexes)",
        );
    }
    line
}

/// Runs the command `opts` names.
fn dispatch(opts: Opts) -> anyhow::Result<ExitCode> {
    use commands::*;
    match opts.command {
        Command::Profiles(args) => profiles::run(args),
        Command::Dataset(args) => dataset::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Instructions(args) => instructions::run(args),
        Command::HotPath(args) => instructions::hot_path(args),
        Command::Load(args) => load::run(args),
        Command::Stress(args) => stress::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Settle(args) => settle::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Report(args) => report::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Scale(args) => scale::run(args),
        Command::Plan(args) => plan::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_names_each_cause_once_and_a_full_disk_says_the_fix() {
        #[derive(Debug)]
        struct Wrapped {
            source: std::io::Error,
        }
        impl std::fmt::Display for Wrapped {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "/mnt/small/points.fbin: {}", self.source)
            }
        }
        impl std::error::Error for Wrapped {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.source)
            }
        }
        let io = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let text = io.to_string();
        let e = anyhow::Error::new(Wrapped { source: io }).context("making the dataset");
        let line = describe(&e);
        assert_eq!(line.matches(&text).count(), 1, "{line}");
        assert!(
            line.starts_with("making the dataset: /mnt/small/points.fbin: "),
            "{line}"
        );
        assert!(
            line.contains("The filesystem is full") && line.contains("--cache-dir"),
            "{line}"
        );
        let other = anyhow::anyhow!("inner").context("outer");
        assert_eq!(describe(&other), "outer: inner");
    }
}
