//! Figures as people read them.

/// `1.50 GiB`, `820.00 MiB`, `12.00 KiB`, `17 B` (binary units).
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

/// The scale and unit that show `ns` nanoseconds readably: `(1e-3, "µs")` for 412,000 ns.
pub fn time_unit(ns: f64) -> (f64, &'static str) {
    let v = ns.abs();
    if v >= 1e9 {
        (1e-9, "s")
    } else if v >= 1e6 {
        (1e-6, "ms")
    } else if v >= 1e3 {
        (1e-3, "µs")
    } else {
        (1.0, "ns")
    }
}

/// Parses `64GiB`, `64G`, `512 MiB`, `1TB`, `1e9` into bytes (binary units for both spellings:
/// memory is sold in GiB).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a size (example: 64GiB, 512MiB, 2TiB)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0f64.powi(2),
        "g" | "gb" | "gib" => 1024.0f64.powi(3),
        "t" | "tb" | "tib" => 1024.0f64.powi(4),
        other => {
            return Err(format!(
                "{s:?}: unknown unit {other:?} (use B, KiB, MiB, GiB or TiB)"
            ));
        }
    };
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("{s:?} must be a positive size"));
    }
    Ok((value * mult) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        const GIB: u64 = 1 << 30;
        assert_eq!(parse_bytes("64GiB").unwrap(), 64 * GIB);
        assert_eq!(parse_bytes("64G").unwrap(), 64 * GIB);
        assert_eq!(parse_bytes("2GB").unwrap(), 2 * GIB);
        assert_eq!(parse_bytes("512 MiB").unwrap(), 512 << 20);
        assert!(
            parse_bytes("64 furlongs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_bytes("lots").unwrap_err().contains("example"));
    }

    #[test]
    fn human_bytes_picks_binary_units() {
        assert_eq!(human_bytes(17.0), "17 B");
        assert_eq!(human_bytes(1536.0), "1.50 KiB");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.00 GiB");
    }

    #[test]
    fn time_unit_picks_the_unit_of_the_magnitude() {
        assert_eq!(time_unit(412.0), (1.0, "ns"));
        assert_eq!(time_unit(412_000.0), (1e-3, "µs"));
        assert_eq!(time_unit(2.5e6), (1e-6, "ms"));
        assert_eq!(time_unit(3e9), (1e-9, "s"));
    }
}
