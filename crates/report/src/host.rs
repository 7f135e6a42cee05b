//! The server host's CPU, memory, disk and network I/O over a run, as read from the deployment's monitoring
//! (Prometheus, a node_exporter) or, for a server on this machine, from `/proc` (see
//! qdrant-perf-load's `host` module, which fills it).

use serde::{Deserialize, Serialize};

/// CPU and memory of the machine a server runs on (or of its process, for `kind` `proc`), over
/// a run's window, with where the figures came from and how to get them again.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostResources {
    /// Where the figures come from, for people: e.g.
    /// `prometheus http://127.0.0.1:9090 (instance "127.0.0.1:9100")`,
    /// `node_exporter http://127.0.0.1:9100/metrics`, or
    /// `/proc (qdrant pid 1234 on this machine: the process, not the whole host)`.
    pub source: String,
    /// `prometheus`, `node_exporter`, `proc` or `none` (no source given).
    pub kind: String,
    /// The PromQL the figures come from (kind `prometheus`; empty otherwise), in the order
    /// run and exactly as sent, so a user can run them again: each at `evaluated_at_unix_s`
    /// (the `time` parameter of `/api/v1/query`), except `group by (instance)
    /// (node_cpu_seconds_total)`, run when a figure is missing to list the instances there are
    /// at the time of asking. (Not listed: the polls that wait for the run's last scrape.)
    pub queries: Vec<String>,
    /// The time (Unix seconds) at which every query of `queries` was evaluated: the window's end.
    pub evaluated_at_unix_s: Option<f64>,
    /// Mean CPU use over the window, in percent of all the host's cores (for `proc`: the
    /// process's CPU time in percent of all this machine's cores).
    pub cpu_pct_mean: Option<f64>,
    /// Highest CPU use over one sampling interval (a scrape interval for `prometheus`, the
    /// time between two samples otherwise) in the window, in percent of all cores.
    pub cpu_pct_max: Option<f64>,
    /// Mean memory use over the window: MemTotal - MemAvailable in percent of MemTotal (for
    /// `proc`: the process's resident set size in percent of MemTotal).
    pub memory_pct_mean: Option<f64>,
    /// Highest memory use in the window, same measure as `memory_pct_mean`.
    pub memory_pct_max: Option<f64>,
    /// The host's memory (MemTotal), in bytes.
    pub memory_total_bytes: Option<u64>,
    /// The host's logical CPUs (for `proc`: the CPUs this process may use, which its CPU percent
    /// is divided by).
    pub cores: Option<usize>,
    /// Samples the figures are computed from: Prometheus' samples of the instance in the window,
    /// or the scrapes or `/proc` reads that bracket the window.
    pub samples: u64,
    /// Scrapes or `/proc` reads that failed during the run (counted, not fatal).
    pub failed_samples: u64,
    /// The window the figures cover, in seconds: for `prometheus` the range of the queries
    /// (the run's length in whole seconds, rounded down, at least 1), otherwise the time between the first and last
    /// sample used.
    pub window_s: f64,
    /// Why figures are absent, when they are (None when all were collected).
    pub not_collected: Option<String>,
    /// Disk and network traffic over the same window.
    pub io: HostIo,
}

/// Disk and network traffic of the server host over a run's window, in bytes per second: the
/// means over the window and a series at the sampling interval (one second for node_exporter
/// and `/proc`, the scrape interval for Prometheus).
///
/// Disk: node_exporter's `node_disk_read_bytes_total` / `node_disk_written_bytes_total` summed
/// over the host's disks other than device-mapper and md devices (`dm-*`, `md*`: they stack on
/// the disks, which would count the same bytes twice); for `proc`, the process's
/// `read_bytes` / `write_bytes` of `/proc/<pid>/io` (bytes it made the storage layer fetch or
/// write; page-cache hits are not disk I/O). Network: `node_network_receive_bytes_total` /
/// `node_network_transmit_bytes_total` summed over every interface but `lo`, and `lo` on its
/// own (a client on the same machine talks over it); for `proc`, the same counters of
/// `/proc/<pid>/net/dev` (the interfaces of the process's network namespace: the host's, not
/// the process's own share).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostIo {
    pub disk_read_bytes_per_s: Option<f64>,
    pub disk_written_bytes_per_s: Option<f64>,
    pub network_receive_bytes_per_s: Option<f64>,
    pub network_transmit_bytes_per_s: Option<f64>,
    /// Bytes per second over `lo` (received; on loopback what is sent is received).
    pub loopback_bytes_per_s: Option<f64>,
    pub series: Vec<IoSecond>,
    /// Why disk or network figures are absent (a node_exporter without its `diskstats` or
    /// `netdev` collector, `/proc/<pid>/io` not readable...), None when all were collected.
    pub not_collected: Option<String>,
}

/// One sampling interval of [`HostIo`], in bytes per second over the interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IoSecond {
    /// Seconds from the window's start to the interval's end.
    pub t: f64,
    pub disk_read: Option<f64>,
    pub disk_written: Option<f64>,
    pub network_receive: Option<f64>,
    pub network_transmit: Option<f64>,
    pub loopback: Option<f64>,
}

impl HostIo {
    /// Disk read + written, bytes per second (the `disk_io` figure); None when either is absent.
    pub fn disk_bytes_per_s(&self) -> Option<f64> {
        Some(self.disk_read_bytes_per_s? + self.disk_written_bytes_per_s?)
    }

    /// Network received + transmitted over every interface but `lo`, bytes per second (the
    /// `network_io` figure); None when either is absent.
    pub fn network_bytes_per_s(&self) -> Option<f64> {
        Some(self.network_receive_bytes_per_s? + self.network_transmit_bytes_per_s?)
    }

    /// One line: disk and network in MB/s (10^6 bytes), or why not.
    pub fn describe(&self) -> String {
        let mb = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2}", v / 1e6));
        let mut line = format!(
            "disk read {} MB/s, written {} MB/s; network in {} MB/s, out {} MB/s (loopback {} MB/s); {} intervals",
            mb(self.disk_read_bytes_per_s),
            mb(self.disk_written_bytes_per_s),
            mb(self.network_receive_bytes_per_s),
            mb(self.network_transmit_bytes_per_s),
            mb(self.loopback_bytes_per_s),
            self.series.len()
        );
        if let Some(why) = &self.not_collected {
            line.push_str(&format!("; not collected: {why}"));
        }
        line
    }
}

impl HostResources {
    /// No host figures, for the reason given (kind `none`).
    pub fn none(reason: impl Into<String>) -> Self {
        Self {
            source: "none".into(),
            kind: "none".into(),
            not_collected: Some(reason.into()),
            ..Self::default()
        }
    }

    /// One line for the terminal and the summary: the figures and their source, or why not.
    pub fn describe(&self) -> String {
        let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        match &self.not_collected {
            Some(why) if self.cpu_pct_mean.is_none() && self.memory_pct_max.is_none() => {
                format!("server host: not collected ({}: {why})", self.source)
            }
            _ => {
                format!(
                    "server host ({}): CPU mean {} %, max {} % of {} cores; memory mean {} %, max {} %; {} samples over {:.0} s",
                    self.source,
                    pct(self.cpu_pct_mean),
                    pct(self.cpu_pct_max),
                    self.cores.map_or("?".into(), |c| c.to_string()),
                    pct(self.memory_pct_mean),
                    pct(self.memory_pct_max),
                    self.samples,
                    self.window_s
                ) + "; "
                    + &self.io.describe()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_resources_round_trip_and_old_json_without_new_fields_reads() {
        let r = HostResources {
            source: "prometheus http://127.0.0.1:9090 (instance \"127.0.0.1:9100\")".into(),
            kind: "prometheus".into(),
            queries: vec!["count(node_cpu_seconds_total{mode=\"idle\"})".into()],
            evaluated_at_unix_s: Some(1.7e9),
            cpu_pct_mean: Some(51.5),
            cpu_pct_max: Some(60.25),
            memory_pct_mean: Some(12.5),
            memory_pct_max: Some(13.0),
            memory_total_bytes: Some(24 << 30),
            cores: Some(2),
            samples: 5,
            failed_samples: 0,
            window_s: 4.0,
            not_collected: None,
            io: HostIo {
                disk_read_bytes_per_s: Some(1e6),
                disk_written_bytes_per_s: Some(2.5e6),
                network_receive_bytes_per_s: Some(3e6),
                network_transmit_bytes_per_s: None,
                series: vec![IoSecond {
                    t: 1.0,
                    disk_read: Some(1e6),
                    ..IoSecond::default()
                }],
                ..HostIo::default()
            },
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<HostResources>(&text).unwrap(), r);
        let partial: HostResources =
            serde_json::from_str(r#"{"kind":"none","not_collected":"no source"}"#).unwrap();
        assert_eq!(partial.kind, "none");
        assert_eq!(partial.samples, 0);
        assert_eq!(partial.io, HostIo::default());
        assert_eq!(r.io.disk_bytes_per_s(), Some(3.5e6));
        assert_eq!(r.io.network_bytes_per_s(), None, "transmit is absent");
        assert!(
            r.describe()
                .ends_with("disk read 1.00 MB/s, written 2.50 MB/s; network in 3.00 MB/s, out - MB/s (loopback - MB/s); 1 intervals"),
            "{}",
            r.describe()
        );
        let none = HostResources::none("no --prometheus given");
        assert_eq!(none.not_collected.as_deref(), Some("no --prometheus given"));
        assert_eq!(none.cpu_pct_mean, None);
    }
}
