//! Everything a person or a tool reads of qdrant-perf's results, drawn from
//! qdrant-perf-report's types: terminal text ([`text`]), the Markdown summary ([`markdown`]),
//! metrics.prom ([`prometheus`]; both read the one table of rows in [`rows`]), report.html
//! ([`report_html`]), the SVG charts ([`chart`]) inside the one page shell ([`html`]), and
//! `cargo bench`'s summary page ([`bench_summary`]). [`files`] writes a run directory.
//!
//! No engine crate depends on this one: the load driver and the stores write results as data,
//! and the CLI (and the benches, for their summary page) render them.

pub mod bench_summary;
pub mod chart;
pub mod compare_page;
pub mod files;
pub mod html;
pub mod markdown;
pub mod prometheus;
pub mod report_html;
pub mod rows;
pub mod settle;
pub mod stream;
pub mod text;

pub use files::{write_pages, write_run};
pub use markdown::markdown;
pub use prometheus::prometheus;
pub use text::{checks_table, run_text, stress_text, terminal_text};

/// The value of `key` in `entries` (keys in the order they first came), added empty at the end
/// when there is none yet.
pub(crate) fn entry<K: PartialEq, V: Default>(entries: &mut Vec<(K, V)>, key: K) -> &mut V {
    let i = match entries.iter().position(|(k, _)| *k == key) {
        Some(i) => i,
        None => {
            entries.push((key, V::default()));
            entries.len() - 1
        }
    };
    &mut entries[i].1
}

#[cfg(test)]
mod tests;
