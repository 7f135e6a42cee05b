//! Callgrind's output files: the instruction total of a run (`totals:` or `summary:` line).

use std::path::{Path, PathBuf};

/// A callgrind file that cannot give a total: each names the file and what to check.
#[derive(Debug, thiserror::Error)]
pub enum CallgrindError {
    #[error("cannot read the callgrind file {}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: no instruction total in callgrind's output (expected a `totals:` or `summary:` line); \
         is valgrind's callgrind tool installed?",
        file.display()
    )]
    NoTotal { file: PathBuf },
    #[error(
        "{}: callgrind counted 0 instructions in {symbol}: the symbol was not found (was the \
         binary built without it, or inlined?)",
        file.display()
    )]
    NothingCounted { file: PathBuf, symbol: String },
}

/// The instruction total of callgrind output `text` (the last `totals:` line, else the last
/// `summary:` line); `None` when there is neither.
pub fn parse_total(text: &str) -> Option<u64> {
    let total = |prefix: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .next_back()
    };
    total("totals:").or_else(|| total("summary:"))
}

/// Reads the instruction total from a callgrind output file; 0 instructions (the toggled
/// `symbol` never ran) is an error too.
pub fn callgrind_total(file: &Path, symbol: &str) -> Result<u64, CallgrindError> {
    let text = std::fs::read_to_string(file).map_err(|source| CallgrindError::Read {
        file: file.to_owned(),
        source,
    })?;
    match parse_total(&text) {
        None => Err(CallgrindError::NoTotal {
            file: file.to_owned(),
        }),
        Some(0) => Err(CallgrindError::NothingCounted {
            file: file.to_owned(),
            symbol: symbol.into(),
        }),
        Some(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callgrind_total_is_read_from_totals_or_summary() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("callgrind.out");
        std::fs::write(
            &f,
            "version: 1\nevents: Ir\nfn=(1) main\n1 5\nsummary: 1234\ntotals: 1234\n",
        )
        .unwrap();
        assert_eq!(callgrind_total(&f, "m").unwrap(), 1234);
        std::fs::write(&f, "events: Ir\nsummary: 99\n").unwrap();
        assert_eq!(callgrind_total(&f, "m").unwrap(), 99);
    }

    #[test]
    fn a_callgrind_file_without_a_total_or_with_zero_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("empty.out");
        std::fs::write(&f, "events: Ir\n").unwrap();
        let err = callgrind_total(&f, "my::measured").unwrap_err().to_string();
        assert!(
            err.contains("empty.out") && err.contains("totals:"),
            "{err}"
        );
        std::fs::write(&f, "events: Ir\ntotals: 0\n").unwrap();
        let err = callgrind_total(&f, "my::measured").unwrap_err().to_string();
        assert!(err.contains("my::measured"), "{err}");
        let err = callgrind_total(&dir.path().join("gone.out"), "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("gone.out"), "{err}");
    }
}
