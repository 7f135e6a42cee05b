//! The one reader of Linux's `/proc`: a process's CPU time and resident memory, its name,
//! whether it runs, which process listens on a TCP port, the machine's load average, memory,
//! CPU model and kernel. Every function returns `None` where `/proc` (or the field) is missing,
//! so callers on other systems report the figure as absent.

use std::path::Path;

/// CPU time and resident memory of a process at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessSample {
    /// User + system CPU seconds since the process started.
    pub cpu_seconds: f64,
    /// Resident set size in bytes.
    pub rss_bytes: u64,
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads a configuration value.
    let v = unsafe { libc::sysconf(name) };
    (v > 0).then_some(v as u64)
}

/// The kernel's page size (what /proc counts resident memory in).
pub fn page_size() -> u64 {
    sysconf(libc::_SC_PAGESIZE).unwrap_or(4096)
}

/// CPU time and resident memory of the process whose `/proc` directory is `dir`
/// (`/proc/self`, `/proc/1234`), from one read of its `stat` file.
pub fn process_sample(dir: impl AsRef<Path>) -> Option<ProcessSample> {
    let stat = std::fs::read_to_string(dir.as_ref().join("stat")).ok()?;
    parse_stat(
        &stat,
        sysconf(libc::_SC_CLK_TCK).unwrap_or(100),
        page_size(),
    )
}

/// This process's CPU time and resident memory.
pub fn self_sample() -> Option<ProcessSample> {
    process_sample("/proc/self")
}

/// Another process's CPU time and resident memory.
pub fn pid_sample(pid: u32) -> Option<ProcessSample> {
    process_sample(format!("/proc/{pid}"))
}

/// A process's command name (`/proc/<pid>/comm`, at most 15 bytes), e.g. `qdrant`.
pub fn process_name(pid: u32) -> Option<String> {
    read_trimmed(&format!("/proc/{pid}/comm"))
}

/// Parses `/proc/<pid>/stat`: utime and stime (fields 14, 15) in clock ticks, rss (field 24) in
/// pages.
fn parse_stat(stat: &str, ticks_per_s: u64, page: u64) -> Option<ProcessSample> {
    // The command name (field 2) may contain spaces and parentheses: fields after its last `)`
    // start at the state (field 3).
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    let ticks = field(14)? + field(15)?;
    Some(ProcessSample {
        cpu_seconds: ticks as f64 / ticks_per_s as f64,
        rss_bytes: field(24)? * page,
    })
}

/// Cumulative disk and network bytes, as `/proc` or a node_exporter count them (each `None`
/// where the source has no such counter).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IoCounters {
    pub disk_read_bytes: Option<f64>,
    pub disk_written_bytes: Option<f64>,
    /// Summed over every interface but `lo`.
    pub network_receive_bytes: Option<f64>,
    pub network_transmit_bytes: Option<f64>,
    /// Received over `lo`.
    pub loopback_bytes: Option<f64>,
}

/// Disk and network counters of process `pid`: `read_bytes` and `write_bytes` of
/// `/proc/<pid>/io` (what it made the storage layer read and write; needs the same user or
/// root) and the interfaces of `/proc/<pid>/net/dev` (its network namespace's, which are the
/// host's unless it runs in a container).
pub fn pid_io(pid: u32) -> IoCounters {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok();
    let field = |name: &str| {
        io.as_deref()?.lines().find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(':')?
                .trim()
                .parse::<f64>()
                .ok()
        })
    };
    let net = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .ok()
        .map(|t| parse_net_dev(&t))
        .unwrap_or_default();
    IoCounters {
        disk_read_bytes: field("read_bytes"),
        disk_written_bytes: field("write_bytes"),
        ..net
    }
}

/// The network counters of a `/proc/net/dev` text: receive bytes (the first number after
/// `iface:`) and transmit bytes (the ninth), summed over interfaces other than `lo`; `lo`'s
/// receive bytes on their own.
fn parse_net_dev(text: &str) -> IoCounters {
    let (mut rx, mut tx, mut lo, mut any) = (0.0, 0.0, None, false);
    for line in text.lines() {
        let Some((iface, rest)) = line.split_once(':') else {
            continue;
        };
        let f: Vec<f64> = rest
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        if f.len() < 9 {
            continue;
        }
        if iface.trim() == "lo" {
            lo = Some(f[0]);
        } else {
            (rx, tx, any) = (rx + f[0], tx + f[8], true);
        }
    }
    IoCounters {
        network_receive_bytes: any.then_some(rx),
        network_transmit_bytes: any.then_some(tx),
        loopback_bytes: lo,
        ..IoCounters::default()
    }
}

/// The 1-minute load average (/proc/loadavg).
pub fn load_average_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One `Name:  123 kB` field of a /proc/meminfo text, in bytes.
pub fn meminfo_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let mut parts = rest.split_whitespace();
        let value: u64 = parts.next()?.parse().ok()?;
        Some(match parts.next() {
            Some("kB") => value * 1024,
            _ => value,
        })
    })
}

/// `MemTotal` of /proc/meminfo in bytes.
pub fn mem_total_bytes() -> Option<u64> {
    meminfo_field(&std::fs::read_to_string("/proc/meminfo").ok()?, "MemTotal")
}

/// `MemAvailable` of /proc/meminfo in bytes: what the kernel says can be allocated without
/// swapping (free memory plus reclaimable page cache).
pub fn mem_available_bytes() -> Option<u64> {
    meminfo_field(
        &std::fs::read_to_string("/proc/meminfo").ok()?,
        "MemAvailable",
    )
}

/// Logical CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The CPU's model name (/proc/cpuinfo).
pub fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// The kernel release (/proc/sys/kernel/osrelease), e.g. `6.8.0-45-generic`.
pub fn kernel() -> Option<String> {
    read_trimmed("/proc/sys/kernel/osrelease")
}

/// The machine's host name (/proc/sys/kernel/hostname).
pub fn hostname() -> Option<String> {
    read_trimmed("/proc/sys/kernel/hostname")
}

/// True while process `pid` exists.
pub fn is_running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The process with a listening TCP socket on `port` of this machine (IPv4 or IPv6), when
/// `/proc` shows its file descriptors (same user, or root).
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; inode is field 9.
            if f.len() > 9
                && f[3] == "0A"
                && f[1]
                    .rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                    == Some(port)
            {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && inodes.iter().any(|i| target.as_os_str() == i.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn net_dev_sums_interfaces_but_lo_and_io_reads_this_process() {
        let text = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
  eth0: 200 2 0 0 0 0 0 0 300 3 0 0 0 0 0 0
  eth1:  20 1 0 0 0 0 0 0  30 1 0 0 0 0 0 0
";
        let c = parse_net_dev(text);
        assert_eq!(
            (
                c.network_receive_bytes,
                c.network_transmit_bytes,
                c.loopback_bytes
            ),
            (Some(220.0), Some(330.0), Some(1000.0))
        );
        assert_eq!(parse_net_dev("").network_receive_bytes, None);
        // This process: its /proc/<pid>/io and its namespace's interfaces (lo at least).
        let me = pid_io(std::process::id());
        if Path::new("/proc/self/io").exists() {
            assert!(
                me.disk_read_bytes.is_some() && me.disk_written_bytes.is_some(),
                "{me:?}"
            );
            assert!(me.loopback_bytes.is_some(), "{me:?}");
        }
        assert_eq!(pid_io(u32::MAX), IoCounters::default());
    }

    #[test]
    fn this_process_runs_and_is_found_by_its_listening_port() {
        assert!(is_running(std::process::id()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(pid_listening_on(port), Some(std::process::id()));
        drop(listener);
        assert_eq!(pid_listening_on(port), None);
    }

    #[test]
    fn stat_fields_are_read_past_a_command_name_with_spaces() {
        // pid (comm) state ppid ... utime=14 stime=15 ... rss=24
        let mut fields: Vec<String> = (3..=30).map(|n| n.to_string()).collect();
        fields[14 - 3] = "250".into();
        fields[15 - 3] = "50".into();
        fields[24 - 3] = "1000".into();
        let stat = format!("42 (my (odd) proc) {}", fields.join(" "));
        let s = parse_stat(&stat, 100, 16384).unwrap();
        assert_eq!(s.cpu_seconds, 3.0);
        assert_eq!(s.rss_bytes, 1000 * 16384);
        assert_eq!(parse_stat("42 (x) S 1 2", 100, 4096), None);
    }

    #[test]
    fn meminfo_fields_are_read_in_bytes() {
        let text = "MemTotal:       24567890 kB\nMemFree:  100 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(meminfo_field(text, "MemAvailable"), Some(2048 * 1024));
        assert_eq!(meminfo_field(text, "MemTotal"), Some(24_567_890 * 1024));
        assert_eq!(meminfo_field(text, "Mem"), None);
        assert_eq!(meminfo_field(text, "SwapTotal"), None);
    }

    #[test]
    fn this_processes_figures_are_read_on_linux() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let s = self_sample().expect("/proc/self/stat");
        // VmRSS of /proc/self/status is the same figure in kB: the page size is the real one.
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_rss = meminfo_field(&status, "VmRSS").unwrap();
        let diff = s.rss_bytes.abs_diff(vm_rss);
        assert!(
            diff < 64 << 20,
            "stat rss {} vs VmRSS {vm_rss}",
            s.rss_bytes
        );
        assert!(s.rss_bytes > 1 << 20, "{s:?}");
        assert!(mem_total_bytes().expect("MemTotal") > s.rss_bytes);
        assert!(mem_available_bytes().expect("MemAvailable") <= mem_total_bytes().unwrap());
        assert!(load_average_1m().expect("loadavg") >= 0.0);
        assert!(kernel().is_some());
        let name = process_name(std::process::id()).expect("/proc/self/comm");
        let exe = std::env::current_exe().unwrap();
        let exe = exe.file_name().unwrap().to_string_lossy();
        assert!(exe.starts_with(&name), "comm {name:?} of {exe:?}");
        assert_eq!(
            pid_sample(std::process::id()).map(|p| p.rss_bytes > 0),
            Some(true)
        );
        let before = s.cpu_seconds;
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed().as_millis() < 60 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(self_sample().unwrap().cpu_seconds > before);
    }
}
