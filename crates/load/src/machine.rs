//! Facts about the machine a result was measured on (for provenance) and how much memory is
//! free before a step that needs a lot of it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// `MemAvailable` of /proc/meminfo in bytes: what the kernel says can be allocated without
/// swapping (free memory plus reclaimable page cache). `None` where /proc is missing.
pub fn mem_available_bytes() -> Option<u64> {
    meminfo_field(
        &std::fs::read_to_string("/proc/meminfo").ok()?,
        "MemAvailable",
    )
}

/// `MemTotal` of /proc/meminfo in bytes.
pub fn mem_total_bytes() -> Option<u64> {
    meminfo_field(&std::fs::read_to_string("/proc/meminfo").ok()?, "MemTotal")
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

/// Logical CPUs this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Suite version and commit, machine (CPU model, cores, memory) and time, for a saved result.
pub fn provenance() -> BTreeMap<String, serde_json::Value> {
    let mut p = BTreeMap::new();
    p.insert("suite_version".into(), env!("CARGO_PKG_VERSION").into());
    if let Some(c) = git_commit() {
        p.insert("git_commit".into(), c.into());
    }
    if let Some(m) = cpu_model() {
        p.insert("cpu".into(), m.into());
    }
    p.insert("cores".into(), cores().into());
    if let Some(t) = mem_total_bytes() {
        p.insert("memory_bytes".into(), t.into());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    p.insert("unix_time".into(), now.into());
    p
}

/// Writes `bytes` to a temporary sibling and renames it into place, so a reader never sees a
/// half-written file (and an interrupted run leaves the previous version).
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        // On disk before it takes the real name, so a crash cannot leave an empty file there.
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
    fn meminfo_fields_are_read_in_bytes() {
        let text = "MemTotal:       24567890 kB\nMemFree:  100 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(meminfo_field(text, "MemAvailable"), Some(2048 * 1024));
        assert_eq!(meminfo_field(text, "MemTotal"), Some(24_567_890 * 1024));
        assert_eq!(meminfo_field(text, "Mem"), None);
        assert_eq!(meminfo_field(text, "SwapTotal"), None);
    }

    #[test]
    fn human_bytes_picks_binary_units() {
        assert_eq!(human_bytes(17.0), "17 B");
        assert_eq!(human_bytes(1536.0), "1.50 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.00 GiB");
    }

    #[test]
    fn atomic_writes_replace_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/r.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
