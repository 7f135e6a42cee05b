//! The deployment's performance-test configuration (`fixtures/performance-tests.yaml`), in its
//! own format: `performance_tests.{targets, load_testing, stress_testing, collections,
//! monitoring, optimization}`.
//!
//! Unknown keys are errors (a typo must not silently drop a target), and every error names the
//! line and the key. The file's targets are the deployment's; the checks `validate` also needs
//! but the file does not give (p95 latency, peak throughput, CPU and memory limits, cache and
//! gateway latency) have documented defaults ([`Targets`]) that optional keys under `targets`
//! override.

use std::fmt;
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// `fixtures/performance-tests.yaml`, compiled in so `validate` works from any directory.
pub const BUNDLED_CONFIG: &str = include_str!("../../../fixtures/performance-tests.yaml");

/// The distance of the file's collections: the file names none, and the deployment's
/// embeddings are compared by cosine (as `fixtures/collections.json` says for each).
pub const COLLECTION_DISTANCE: qdrant_perf_data::Metric = qdrant_perf_data::Metric::Cosine;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerformanceConfig {
    pub performance_tests: PerformanceTests,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerformanceTests {
    pub targets: TargetsSection,
    pub load_testing: LoadTesting,
    pub stress_testing: StressTesting,
    pub collections: Collections,
    pub monitoring: Monitoring,
    pub optimization: Optimization,
}

/// `targets`: the four keys of the deployment's file, plus optional overrides of the defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsSection {
    /// Mean query latency, ms.
    pub query_latency: f64,
    /// Sustained throughput, ops/s.
    pub throughput: f64,
    /// Vectors the deployment must hold.
    pub scalability: u64,
    /// Percent of requests answered.
    pub availability: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_latency_p95: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_throughput: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_usage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_usage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_latency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_latency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadTesting {
    pub tools: Vec<String>,
    /// Seconds.
    pub duration: u64,
    pub connections: u64,
    pub threads: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StressTesting {
    pub max_connections: u64,
    /// Seconds.
    pub duration: u64,
    /// Seconds.
    pub ramp_up_time: u64,
}

/// `collections.<name>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    pub vector_size: usize,
    pub test_vectors: u64,
    /// Queries per second.
    pub query_load: f64,
}

/// The collections in file order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Collections(pub Vec<(String, CollectionConfig)>);

impl<'de> Deserialize<'de> for Collections {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Collections;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of collection name to {vector_size, test_vectors, query_load}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Collections, A::Error> {
                let mut out: Vec<(String, CollectionConfig)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, CollectionConfig>()? {
                    if out.iter().any(|(n, _)| *n == k) {
                        return Err(serde::de::Error::custom(format!(
                            "collection `{k}` appears twice"
                        )));
                    }
                    out.push((k, v));
                }
                Ok(Collections(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    pub metrics: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Optimization {
    pub indexing: Indexing,
    pub caching: Caching,
    pub api_gateway: ApiGateway,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indexing {
    pub hnsw_m: usize,
    pub hnsw_ef_construct: usize,
    pub full_scan_threshold: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caching {
    /// The in-process tier's room (`2GB`, `512MiB`; binary units; `0`: none), which the suite's
    /// cached store is given.
    pub l1_cache_size: String,
    /// Redis' room: the deployment's own Redis setting, recorded.
    pub l2_cache_size: String,
    /// Seconds.
    pub cache_ttl: u64,
}

impl Caching {
    /// `l1_cache_size` in bytes; 0 turns the in-process tier off (checked when the file is read).
    pub fn l1_bytes(&self) -> u64 {
        tier_bytes(&self.l1_cache_size).unwrap_or(0)
    }

    /// `base` (the cache's Redis and mode) as this file sets the cache: its TTL `cache_ttl`
    /// unless `ttl_override` (seconds) is given, its in-process tier `l1_cache_size`. A TTL of
    /// 0 or less is refused.
    pub fn apply(
        &self,
        base: qdrant_perf_store::CacheConfig,
        ttl_override: Option<i64>,
    ) -> Result<qdrant_perf_store::CacheConfig, qdrant_perf_store::cache::CacheError> {
        let ttl = ttl_override.unwrap_or_else(|| i64::try_from(self.cache_ttl).unwrap_or(i64::MAX));
        Ok(base.with_ttl_secs(ttl)?.with_l1_bytes(self.l1_bytes()))
    }
}

/// A cache tier's size: `2GB`, `512MiB` (binary units), or `0` for no such tier.
fn tier_bytes(v: &str) -> Result<u64, String> {
    match v.trim() {
        "0" => Ok(0),
        v => qdrant_perf_plumbing::units::parse_bytes(v),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiGateway {
    pub workers: u64,
    pub max_connections: u64,
    /// Seconds.
    pub keepalive_timeout: u64,
}

/// Every limit `validate` checks, from the file or its documented default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Targets {
    /// Mean query latency, ms (`targets.query_latency`).
    pub mean_latency_ms: f64,
    /// p95 query latency, ms (`targets.query_latency_p95`, default 20).
    pub p95_latency_ms: f64,
    /// Sustained throughput, ops/s (`targets.throughput`).
    pub sustained_ops_s: f64,
    /// Peak throughput, ops/s (`targets.peak_throughput`, default 15,000).
    pub peak_ops_s: f64,
    /// Percent of the machine's CPU (`targets.cpu_usage`, default 80).
    pub cpu_pct: f64,
    /// Percent of the machine's memory (`targets.memory_usage`, default 80).
    pub memory_pct: f64,
    /// Percent of cached searches served from the cache (`targets.cache_hit_rate`, default 90).
    pub cache_hit_rate_pct: f64,
    /// Latency of a cache hit, ms (`targets.cache_latency`, default 5).
    pub cache_latency_ms: f64,
    /// End-to-end latency through the API gateway, ms (`targets.gateway_latency`, default 15).
    pub gateway_latency_ms: f64,
    /// Highest error rate allowed, as a fraction (`targets.error_rate`, default 0).
    pub error_rate: f64,
    /// Percent of requests answered (`targets.availability`).
    pub availability_pct: f64,
    /// Vectors the deployment must hold (`targets.scalability`).
    pub scalability_vectors: u64,
}

pub const DEFAULT_P95_LATENCY_MS: f64 = 20.0;
pub const DEFAULT_PEAK_OPS_S: f64 = 15_000.0;
pub const DEFAULT_CPU_PCT: f64 = 80.0;
pub const DEFAULT_MEMORY_PCT: f64 = 80.0;
pub const DEFAULT_CACHE_HIT_RATE_PCT: f64 = 90.0;
pub const DEFAULT_CACHE_LATENCY_MS: f64 = 5.0;
pub const DEFAULT_GATEWAY_LATENCY_MS: f64 = 15.0;

/// The `monitoring.metrics` names a run collects (report.json and metrics.prom carry them).
pub const COLLECTED_METRICS: &[&str] = &[
    "query_latency_p50",
    "query_latency_p95",
    "query_latency_p99",
    "throughput_qps",
    "error_rate",
    "cpu_usage",
    "memory_usage",
    "disk_io",
    "network_io",
];

impl PerformanceConfig {
    /// The keys of the file that no test of this version reads, with their values: the
    /// deployment's own settings (`api_gateway.*`, Redis' size, the tools it was load tested
    /// with), and the `monitoring.metrics` no run collects (names this version does not know).
    /// A run lists them once at its start ([`Self::recorded_line`]); the report keeps the
    /// whole file.
    pub fn recorded_settings(&self) -> Vec<(&'static str, String)> {
        let t = &self.performance_tests;
        let (c, g) = (&t.optimization.caching, &t.optimization.api_gateway);
        let lt = &t.load_testing;
        let mut keys = vec![
            ("load_testing.tools", lt.tools.join(",")),
            ("load_testing.threads", lt.threads.to_string()),
            (
                "optimization.caching.l2_cache_size",
                c.l2_cache_size.clone(),
            ),
            ("optimization.api_gateway.workers", g.workers.to_string()),
            (
                "optimization.api_gateway.max_connections",
                g.max_connections.to_string(),
            ),
            (
                "optimization.api_gateway.keepalive_timeout",
                g.keepalive_timeout.to_string(),
            ),
        ];
        let uncollected: Vec<&str> = t
            .monitoring
            .metrics
            .iter()
            .map(String::as_str)
            .filter(|m| !COLLECTED_METRICS.contains(m))
            .collect();
        if !uncollected.is_empty() {
            keys.push(("monitoring.metrics (not collected)", uncollected.join(",")));
        }
        keys
    }

    /// One line naming [`Self::recorded_settings`]: what a user who edits those keys sees.
    pub fn recorded_line(&self) -> String {
        let keys: Vec<String> = self
            .recorded_settings()
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        format!(
            "settings recorded, not used by the test: {}",
            keys.join("; ")
        )
    }

    pub fn bundled() -> Self {
        Self::parse(BUNDLED_CONFIG, "fixtures/performance-tests.yaml")
            .expect("the bundled performance-tests.yaml is valid (tested)")
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks the file. Errors name the key and the line.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            source_name: source_name.into(),
            message,
        };
        let config: PerformanceConfig = yaml_serde::from_str(text).map_err(|e| {
            // The YAML parser says "path.to.key: problem at line L column C"; put the line first.
            let message = e.to_string();
            match e.location() {
                Some(l) if !message.contains("at line") => {
                    invalid(format!("line {}: {message}", l.line()))
                }
                _ => invalid(message),
            }
        })?;
        let at = |path: &[&str]| match line_of(text, path) {
            Some(l) => format!("line {l}: performance_tests.{}", path.join(".")),
            None => format!("performance_tests.{}", path.join(".")),
        };
        let t = &config.performance_tests;
        let positive = [
            ("query_latency", Some(t.targets.query_latency)),
            ("throughput", Some(t.targets.throughput)),
            ("query_latency_p95", t.targets.query_latency_p95),
            ("peak_throughput", t.targets.peak_throughput),
            ("cache_latency", t.targets.cache_latency),
            ("gateway_latency", t.targets.gateway_latency),
        ];
        for (key, value) in positive {
            if let Some(v) = value
                && !(v.is_finite() && v > 0.0)
            {
                return Err(invalid(format!(
                    "{} = {v}: must be a positive number",
                    at(&["targets", key])
                )));
            }
        }
        let percents = [
            ("availability", Some(t.targets.availability)),
            ("cpu_usage", t.targets.cpu_usage),
            ("memory_usage", t.targets.memory_usage),
            ("cache_hit_rate", t.targets.cache_hit_rate),
        ];
        for (key, value) in percents {
            if let Some(v) = value
                && !(v > 0.0 && v <= 100.0)
            {
                return Err(invalid(format!(
                    "{} = {v}: a percentage between 0 and 100",
                    at(&["targets", key])
                )));
            }
        }
        if let Some(e) = t.targets.error_rate
            && !(0.0..=1.0).contains(&e)
        {
            return Err(invalid(format!(
                "{} = {e}: a fraction between 0 and 1 (0 = no errors allowed)",
                at(&["targets", "error_rate"])
            )));
        }
        if t.collections.0.is_empty() {
            return Err(invalid(format!("{}: no collections", at(&["collections"]))));
        }
        for (name, c) in &t.collections.0 {
            let name_ok = !name.is_empty()
                && name.chars().all(|ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-'
                });
            if !name_ok {
                return Err(invalid(format!(
                    "{}: use lowercase letters, digits, '_' and '-' in collection names",
                    at(&["collections", name])
                )));
            }
            if c.vector_size == 0 || c.vector_size > qdrant_perf_data::MAX_DIM {
                return Err(invalid(format!(
                    "{} = {}: must be between 1 and {}",
                    at(&["collections", name, "vector_size"]),
                    c.vector_size,
                    qdrant_perf_data::MAX_DIM
                )));
            }
            if c.test_vectors == 0 {
                return Err(invalid(format!(
                    "{} = 0: must be at least 1",
                    at(&["collections", name, "test_vectors"])
                )));
            }
            if !(c.query_load.is_finite() && c.query_load > 0.0) {
                return Err(invalid(format!(
                    "{} = {}: must be a positive number of queries per second",
                    at(&["collections", name, "query_load"]),
                    c.query_load
                )));
            }
        }
        for (key, v) in [
            ("load_testing.duration", t.load_testing.duration),
            ("stress_testing.duration", t.stress_testing.duration),
            (
                "stress_testing.max_connections",
                t.stress_testing.max_connections,
            ),
        ] {
            if v == 0 {
                let path: Vec<&str> = key.split('.').collect();
                return Err(invalid(format!("{} = 0: must be at least 1", at(&path))));
            }
        }
        let c = &t.optimization.caching;
        for (key, v) in [
            ("l1_cache_size", &c.l1_cache_size),
            ("l2_cache_size", &c.l2_cache_size),
        ] {
            if let Err(e) = tier_bytes(v) {
                return Err(invalid(format!(
                    "{}: {e}",
                    at(&["optimization", "caching", key])
                )));
            }
        }
        let ix = &t.optimization.indexing;
        if ix.hnsw_m < 2 || ix.hnsw_ef_construct < 4 {
            return Err(invalid(format!(
                "{}: hnsw_m must be >= 2 and hnsw_ef_construct >= 4 (Qdrant's limits)",
                at(&["optimization", "indexing"])
            )));
        }
        Ok(config)
    }

    /// The index the deployment builds (`optimization.indexing`), as the stores take it.
    pub fn hnsw(&self) -> qdrant_perf_store::HnswParams {
        let ix = &self.performance_tests.optimization.indexing;
        qdrant_perf_store::HnswParams {
            m: ix.hnsw_m,
            ef_construct: ix.hnsw_ef_construct,
            full_scan_threshold: ix.full_scan_threshold,
        }
    }

    /// The `selected` collections as a run sets them up: the file's index, the suite's distance,
    /// each one's query_load.
    pub fn choices(
        &self,
        selected: &[(String, CollectionConfig)],
    ) -> Vec<crate::setup::CollectionChoice> {
        let hnsw = self.hnsw();
        selected
            .iter()
            .map(|(name, c)| crate::setup::CollectionChoice {
                name: name.clone(),
                vector_size: c.vector_size,
                metric: COLLECTION_DISTANCE,
                hnsw,
                qps: c.query_load,
            })
            .collect()
    }

    pub fn targets(&self) -> Targets {
        let t = &self.performance_tests.targets;
        Targets {
            mean_latency_ms: t.query_latency,
            p95_latency_ms: t.query_latency_p95.unwrap_or(DEFAULT_P95_LATENCY_MS),
            sustained_ops_s: t.throughput,
            peak_ops_s: t.peak_throughput.unwrap_or(DEFAULT_PEAK_OPS_S),
            cpu_pct: t.cpu_usage.unwrap_or(DEFAULT_CPU_PCT),
            memory_pct: t.memory_usage.unwrap_or(DEFAULT_MEMORY_PCT),
            cache_hit_rate_pct: t.cache_hit_rate.unwrap_or(DEFAULT_CACHE_HIT_RATE_PCT),
            cache_latency_ms: t.cache_latency.unwrap_or(DEFAULT_CACHE_LATENCY_MS),
            gateway_latency_ms: t.gateway_latency.unwrap_or(DEFAULT_GATEWAY_LATENCY_MS),
            error_rate: t.error_rate.unwrap_or(0.0),
            availability_pct: t.availability,
            scalability_vectors: t.scalability,
        }
    }

    /// The name and dimension of each of `collections` (`None`: every collection of the file).
    pub fn dims(&self, collections: Option<&[(String, CollectionConfig)]>) -> Vec<(String, usize)> {
        let all = collections.unwrap_or(&self.performance_tests.collections.0);
        all.iter()
            .map(|(n, c)| (n.clone(), c.vector_size))
            .collect()
    }

    pub fn collection_names(&self) -> Vec<String> {
        self.performance_tests
            .collections
            .0
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Collections by a selection: `all` or names separated by commas (unknown names are an
    /// error that lists the valid ones).
    pub fn select(&self, selection: &str) -> Result<Vec<(String, CollectionConfig)>, ConfigError> {
        let all = &self.performance_tests.collections.0;
        if matches!(selection.trim(), "" | "all") {
            return Ok(all.clone());
        }
        let mut out = Vec::new();
        for name in selection
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            match all.iter().find(|(n, _)| n == name) {
                Some(c) => out.push(c.clone()),
                None => {
                    return Err(ConfigError::Invalid {
                        source_name: "the collection selection".into(),
                        message: format!(
                            "unknown collection `{name}`; the config has: {}",
                            self.collection_names().join(", ")
                        ),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The 1-based line of a nested key (`["collections", "mixtral", "query_load"]` under
/// `performance_tests`), found by walking the keys in order through the indentation.
fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let mut keys = std::iter::once("performance_tests").chain(path.iter().copied());
    let mut want = keys.next()?;
    let mut min_indent = 0usize;
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if found.is_some() && indent < min_indent {
            return None;
        }
        if indent >= min_indent
            && let Some(rest) = trimmed.strip_prefix(want)
            && rest.trim_start().starts_with(':')
        {
            found = Some(i + 1);
            min_indent = indent + 1;
            match keys.next() {
                Some(k) => want = k,
                None => return found,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_file_is_the_seed_with_nine_collections() {
        let c = PerformanceConfig::bundled();
        let t = c.targets();
        assert_eq!(t.mean_latency_ms, 10.0);
        assert_eq!(t.sustained_ops_s, 10_000.0);
        assert_eq!(t.p95_latency_ms, DEFAULT_P95_LATENCY_MS);
        assert_eq!(t.availability_pct, 99.9);
        assert_eq!(
            c.collection_names(),
            [
                "mixtral",
                "hermes",
                "openchat",
                "phi3",
                "yi34b",
                "deepcoder",
                "imp",
                "deepseek",
                "general"
            ]
        );
        let p = &c.performance_tests;
        assert_eq!(p.stress_testing.max_connections, 5000);
        assert_eq!(p.stress_testing.ramp_up_time, 60);
        assert_eq!(p.optimization.indexing.hnsw_ef_construct, 100);
        assert_eq!(p.monitoring.metrics.len(), 9);
        // The keys no test reads are named with their values, and only the uncollected metrics.
        let line = c.recorded_line();
        for key in [
            "load_testing.tools = wrk,ab,k6",
            "optimization.api_gateway.workers = ",
            "optimization.caching.l2_cache_size = 16GB",
        ] {
            assert!(line.contains(key), "{key:?} not in {line}");
        }
        // Every metric of the seed's file is collected; an unknown one is named.
        assert!(!line.contains("monitoring.metrics"), "{line}");
        assert!(!line.contains("load_testing.connections"), "{line}");
        let gpu = BUNDLED_CONFIG.replace(
            "- \"network_io\"",
            "- \"network_io\"\n      - \"gpu_usage\"",
        );
        let gpu = PerformanceConfig::parse(&gpu, "t.yaml")
            .unwrap()
            .recorded_line();
        assert!(
            gpu.contains("monitoring.metrics (not collected) = gpu_usage"),
            "{gpu}"
        );
        assert_eq!(p.optimization.caching.l1_bytes(), 2 << 30);
        let off = BUNDLED_CONFIG.replace("l1_cache_size: \"2GB\"", "l1_cache_size: \"0\"");
        let off = PerformanceConfig::parse(&off, "t.yaml").unwrap();
        assert_eq!(off.performance_tests.optimization.caching.l1_bytes(), 0);
        // Used by validate's connection ramp, so not listed.
        assert!(!line.contains("stress_testing"), "{line}");
        assert!(!line.contains("query_latency_p95"), "{line}");
        assert_eq!(p.collections.0[3].1.vector_size, 3072);
    }

    #[test]
    fn an_optional_target_key_overrides_its_default() {
        let text = BUNDLED_CONFIG.replace(
            "    query_latency: 10  # ms",
            "    query_latency: 10  # ms\n    query_latency_p95: 12",
        );
        let c = PerformanceConfig::parse(&text, "t.yaml").unwrap();
        assert_eq!(c.targets().p95_latency_ms, 12.0);
    }

    #[test]
    fn bad_files_name_the_line_and_the_key() {
        let cases = [
            (
                BUNDLED_CONFIG.replace(
                    "query_load: 1000  # qps\n      \n    hermes",
                    "query_lod: 1000\n    hermes",
                ),
                "unknown field `query_lod`",
                "performance_tests.collections",
            ),
            (
                BUNDLED_CONFIG.replace("throughput: 10000", "throughput: lots"),
                "invalid type",
                "performance_tests.targets.throughput",
            ),
            (
                BUNDLED_CONFIG.replace("      vector_size: 3072", "      vector_size: 0"),
                "performance_tests.collections.phi3.vector_size = 0",
                "line 38",
            ),
            (
                BUNDLED_CONFIG.replace("l1_cache_size: \"2GB\"", "l1_cache_size: \"2 parsecs\""),
                "unknown unit",
                "performance_tests.optimization.caching.l1_cache_size",
            ),
            (
                BUNDLED_CONFIG.replace("  load_testing:", "  load_testing: [\n"),
                "line",
                "",
            ),
        ];
        for (text, needle, key) in cases {
            let err = PerformanceConfig::parse(&text, "t.yaml")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("t.yaml: "), "{err}");
            assert!(err.contains(needle), "{needle:?} not in {err}");
            assert!(err.contains(key), "{key:?} not in {err}");
            assert!(err.contains("line"), "no line in {err}");
        }
    }

    #[test]
    fn unknown_collections_list_the_valid_ones() {
        let err = PerformanceConfig::bundled()
            .select("mixtral,gpt5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown collection `gpt5`"), "{err}");
        assert!(err.contains("mixtral, hermes"), "{err}");
    }
}
