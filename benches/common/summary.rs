//! The suites' quality records beside criterion's output, and the summary page joining them with
//! criterion's estimates (`qdrant_perf_report::bench`, `qdrant_perf_render::bench_summary`). No engine here: the driver and
//! requests suites include this file alone (`#[path = "common/summary.rs"]`).

#![allow(dead_code)] // the driver and requests suites only rewrite the page

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use qdrant_perf_render::bench_summary;
use qdrant_perf_report::bench::{self, QualityRecord};

static RECORDS: LazyLock<Mutex<Vec<QualityRecord>>> = LazyLock::new(Default::default);

/// Keeps `record` for this suite's quality file, written by [`finish`].
pub fn record(record: QualityRecord) {
    RECORDS.lock().expect("lock").push(record);
}

/// criterion's output directory, by criterion's own rule.
pub fn criterion_dir() -> PathBuf {
    bench::criterion_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// The end of a suite (in `--test` mode too): its records to
/// `<criterion dir>/qdrant-perf/<suite>.json`, and `<criterion dir>/qdrant-perf.html` rewritten
/// from every suite's records. Exits 2 when either cannot be written.
pub fn finish(suite: &str) {
    let dir = criterion_dir();
    let records = std::mem::take(&mut *RECORDS.lock().expect("lock"));
    let fail = |e: bench::BenchSummaryError| -> ! {
        eprintln!("error: {e}");
        std::process::exit(2);
    };
    if !records.is_empty() || bench::suite_path(&dir, suite).exists() {
        let (path, replaced) = bench::save_suite(&dir, suite, records).unwrap_or_else(|e| fail(e));
        if let Some(e) = replaced {
            eprintln!("warning: replaced an unreadable quality file: {e}");
        }
        eprintln!("quality records of the {suite} suite: {}", path.display());
    }
    let (page, left_out) = bench_summary::write_summary(&dir).unwrap_or_else(|e| fail(e));
    for e in left_out {
        eprintln!("warning: the summary page leaves out {e}");
    }
    eprintln!("recall beside criterion's times: {}", page.display());
}
