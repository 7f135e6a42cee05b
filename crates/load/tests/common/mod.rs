//! What the load crate's integration tests share: Prometheus's own checker of the text
//! exposition format (from the library's `monitoring`) and a reader of its samples.

#![allow(dead_code)] // each test file uses its own part

pub use qdrant_perf_testkit::prometheus::{PROMTOOL_MISSING, promtool_check};

/// The samples of a text in the exposition format: series (`name{labels}`, as written) ->
/// value. Comment lines are skipped.
pub fn samples(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("`series value`");
            let value = match value {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number in {l:?}")),
            };
            (series.to_string(), value)
        })
        .collect()
}
