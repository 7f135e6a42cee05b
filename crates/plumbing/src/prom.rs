//! Writing the Prometheus text exposition format (version 0.0.4), by its conventions: every
//! family gets `# HELP` and `# TYPE`, label values are escaped (backslash, double quote,
//! newline), and values print as Prometheus reads them (`+Inf`, `-Inf`, `NaN`).
//!
//! The run directory's metrics.prom (qdrant-perf-render's `prometheus`) and the load generator's
//! live `/metrics` endpoint (qdrant-perf-load's `live`) both write through this, so their
//! families look alike and share names where they mean the same thing. Naming (base units,
//! `_total` on counters) is up to the caller; `promtool check metrics` (testkit's
//! `promtool_check`) is the test of both.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The `Content-Type` of a response carrying this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The quantiles of every latency summary qdrant-perf exposes (live and in metrics.prom).
pub const SUMMARY_QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];

/// A family's `# TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Summary,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Summary => "summary",
        }
    }
}

/// A label value as the format writes it inside double quotes: `\` -> `\\`, `"` -> `\"`,
/// newline -> `\n`.
pub fn escape_label_value(v: &str) -> Cow<'_, str> {
    if !v.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(v);
    }
    let mut s = String::with_capacity(v.len() + 2);
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    Cow::Owned(s)
}

/// HELP text as the format writes it: `\` -> `\\`, newline -> `\n`.
pub fn escape_help(v: &str) -> Cow<'_, str> {
    if !v.contains(['\\', '\n']) {
        return Cow::Borrowed(v);
    }
    Cow::Owned(v.replace('\\', "\\\\").replace('\n', "\\n"))
}

/// A sample value as Prometheus parses it (Rust prints infinity as `inf`).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

/// Text in the exposition format, family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines. Write its samples next.
    pub fn family(&mut self, name: &str, ty: MetricType, help: &str) {
        let _ = writeln!(
            self.out,
            "# HELP {name} {}\n# TYPE {name} {}",
            escape_help(help),
            ty.as_str()
        );
    }

    /// One sample: `name{label="value",...} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.series(name, labels);
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    /// One sample with an integer value (a count), written exactly.
    pub fn count(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.series(name, labels);
        let _ = writeln!(self.out, " {value}");
    }

    /// The samples of one summary series: `name{..., quantile="q"}` for each `(q, value)`,
    /// then `name_sum` and `name_count`. Give `NaN` quantiles when there are no observations
    /// (the convention of Prometheus's client libraries).
    pub fn summary(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        quantiles: &[(f64, f64)],
        sum: f64,
        count: u64,
    ) {
        for &(q, v) in quantiles {
            let q = q.to_string();
            let mut with_q: Vec<(&str, &str)> = labels.to_vec();
            with_q.push(("quantile", &q));
            self.sample(name, &with_q, v);
        }
        self.sample(&format!("{name}_sum"), labels, sum);
        self.count(&format!("{name}_count"), labels, count);
    }

    /// A comment line (`# text`) that is neither HELP nor TYPE.
    pub fn comment(&mut self, text: &str) {
        let _ = writeln!(self.out, "# {}", text.replace('\n', " "));
    }

    pub fn finish(self) -> String {
        self.out
    }

    fn series(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label_value(v));
            }
            self.out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped_and_values_read_as_prometheus_reads_them() {
        assert_eq!(escape_label_value("plain"), "plain");
        assert_eq!(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(0.0001), "0.0001");
        assert_eq!(format_value(2.0), "2");
        let mut e = Exposition::new();
        e.family("x_seconds", MetricType::Summary, "X.");
        e.summary("x_seconds", &[("run", "r\"1")], &[(0.5, 0.25)], 1.5, 3);
        assert_eq!(
            e.finish(),
            "# HELP x_seconds X.\n# TYPE x_seconds summary\n\
             x_seconds{run=\"r\\\"1\",quantile=\"0.5\"} 0.25\n\
             x_seconds_sum{run=\"r\\\"1\"} 1.5\nx_seconds_count{run=\"r\\\"1\"} 3\n"
        );
    }
}
