//! Facts about the machine a result was measured on (for provenance) and how much memory is
//! free before a step that needs a lot of it: the paths this crate's callers know, over
//! qdrant-perf-report's one `/proc` reader, provenance and atomic writer.

use std::collections::BTreeMap;

pub use qdrant_perf_report::proc::{cores, mem_available_bytes, mem_total_bytes, meminfo_field};
pub use qdrant_perf_report::write_atomic;

/// Suite version, the commit the suite was built from, machine (CPU model, cores, memory,
/// kernel) and time, as flat facts for a saved result ([`qdrant_perf_report::Provenance`]).
pub fn provenance() -> BTreeMap<String, serde_json::Value> {
    qdrant_perf_report::Provenance::capture().to_map()
}

/// `1.50 GiB`, `820.0 MiB`, `12.0 KiB`, `17 B`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_picks_binary_units() {
        assert_eq!(human_bytes(17.0), "17 B");
        assert_eq!(human_bytes(1536.0), "1.50 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.00 GiB");
    }
}
