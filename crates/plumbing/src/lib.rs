//! The plumbing every qdrant-perf crate shares, and nothing else: the one `/proc` reader
//! ([`proc`]: process CPU and RSS, load average, memory, cores), the one atomic file writer
//! ([`write_atomic`]), UTC timestamps ([`time`]), figures as people read them ([`units`]) and the
//! Prometheus text exposition writer ([`prom`]) that metrics.prom and the load generator's live
//! endpoint both use. It depends on no other qdrant-perf crate.

pub mod proc;
pub mod prom;
pub mod time;
pub mod units;
pub mod write;

pub use units::human_bytes;
pub use write::write_atomic;

/// An error and its causes on one line, `outer: cause: its cause`, leaving out a cause whose
/// words the line already holds (reqwest and hyper repeat theirs).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}
