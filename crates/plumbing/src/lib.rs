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
