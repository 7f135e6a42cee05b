//! `qdrant-perf report DIR`: prints a run's report again from its directory and rewrites its
//! Markdown summary and report.html. With report.json, from it; with only the interval log (the run was killed
//! before it wrote its report), a report rebuilt from every completed second, marked partial,
//! written beside the log (report.json, summary.md, report.html, metrics.prom, histograms/).
//! With two run directories, the comparison of `qdrant-perf compare` as a page.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use qdrant_perf_report::Report;
use qdrant_perf_report::intervals::{self, INTERVALS_FILE};

use crate::args::*;

/// `qdrant-perf report DIR_A DIR_B`: the comparison page, written atomically.
fn comparison(a: &Path, b: &Path, out: Option<PathBuf>, threshold: f64) -> Result<ExitCode> {
    let text = |p: &Path| p.to_string_lossy().into_owned();
    let c = qdrant_perf_gate::compare::compare_saved(&text(a), &text(b), threshold)?;
    let out = out.unwrap_or_else(|| b.join("compare.html"));
    qdrant_perf_plumbing::write_atomic(
        &out,
        qdrant_perf_render::compare_page::comparison_page(&c).as_bytes(),
    )
    .with_context(|| format!("writing {}", out.display()))?;
    print!("{}", c.to_markdown());
    println!("page: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// When `path` was last written.
fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Exit 0 when the report (or the comparison) was rendered, 2 when there is none to render.
pub fn run(args: ReportArgs) -> Result<ExitCode> {
    if let Some(b) = &args.dir_b {
        return comparison(&args.dir, b, args.out.clone(), args.threshold);
    }
    let dir = &args.dir;
    if !dir.is_dir() {
        bail!(
            "{}: no such directory; give the directory of a run (the `report:` line of `qdrant-perf load`, `stress` or `validate` names it)",
            dir.display()
        );
    }
    let json = dir.join("report.json");
    let log = dir.join(INTERVALS_FILE);
    // A report.json older than the interval log is an earlier run's into the same directory.
    let json_is_this_runs = match (modified(&json), modified(&log)) {
        (Some(j), Some(l)) => j >= l,
        (Some(_), None) => true,
        _ => false,
    };
    if json_is_this_runs {
        let report = Report::load(dir)?;
        print!("{}", qdrant_perf_render::terminal_text(&report));
        qdrant_perf_render::write_pages(&report, dir).with_context(|| {
            format!("rewriting summary.md and report.html in {}", dir.display())
        })?;
        println!("report: {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    if !log.is_file() {
        bail!(
            "{} holds neither report.json nor {INTERVALS_FILE}: give the directory of a `load` or `stress` run (the `report:` line of the run names it)",
            dir.display()
        );
    }
    if json.exists() {
        eprintln!(
            "note: {} is older than {INTERVALS_FILE} (an earlier run's): the report is rebuilt from the log",
            json.display()
        );
    }
    let recovered = intervals::recover(&log)?;
    print!("{}", qdrant_perf_render::terminal_text(&recovered.report));
    crate::run::write_report(&recovered.report, dir)?;
    println!("report: {}", dir.display());
    Ok(ExitCode::SUCCESS)
}
