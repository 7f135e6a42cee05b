//! A run directory's files: the report's own (report.json, histograms, by
//! qdrant-perf-report's `Report::save`) and the pages rendered from it (summary.md,
//! report.html, metrics.prom), each written atomically.

use std::path::{Path, PathBuf};

use qdrant_perf_report::report::write_files;
use qdrant_perf_report::{Report, ReportError};

use crate::report_html::{self, REPORT_HTML};

/// Writes report.json and the histograms ([`Report::save`]), then summary.md, report.html and
/// metrics.prom; returns the files written.
pub fn write_run(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = report.save(dir)?;
    written.extend(write_pages(report, dir)?);
    written.extend(write_files(vec![(
        dir.join("metrics.prom"),
        crate::prometheus(report).into_bytes(),
    )])?);
    Ok(written)
}

/// Rewrites summary.md and report.html from `report` (what `qdrant-perf report DIR` does for a
/// run that has its report.json); returns the files written.
pub fn write_pages(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    write_files(vec![
        (dir.join("summary.md"), crate::markdown(report).into_bytes()),
        (
            dir.join(REPORT_HTML),
            report_html::render(report, dir).into_bytes(),
        ),
    ])
}
