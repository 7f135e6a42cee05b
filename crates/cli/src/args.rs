//! The one place the command line is parsed: [`Opts`] and its [`Command`]s, each command's
//! options, the option groups several commands share ([`TargetArgs`], [`RunArgs`],
//! [`DatasetArgs`], [`MonitorArgs`]), every value parser, and the flags the load library's
//! errors are named by ([`with_flag`]). It depends on no other module of the CLI.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use qdrant_perf_data::Metric;
use qdrant_perf_gate::compare::{DEFAULT_THRESHOLD_PCT, Statistic};
use qdrant_perf_load::driver::{LoadError, Mix};
use qdrant_perf_load::instructions::{self, HotPath};
use qdrant_perf_load::target;
use qdrant_perf_report::PlanError;
use qdrant_perf_store::{CacheError, HnswParams};
use qdrant_perf_tune::plan;
use qdrant_perf_tune::scale::{self, StorageChoice};
use qdrant_perf_tune::sweep::{self, QuantKind};

#[derive(Debug, Parser)]
#[command(
    name = "qdrant-perf",
    version,
    about = "Performance tests and validation for Qdrant deployments"
)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the deployment's collection profiles (fixtures/collections.json, or --profiles FILE).
    Profiles(ProfilesArgs),
    /// Generate (or find in the cache) a dataset with exact ground truth, and say where it is;
    /// with --dataset, read and check your own dataset and its truth (see README "Your own
    /// data").
    Dataset(DatasetCommandArgs),
    /// Compare two criterion baselines (names) or two run reports (.json files); exit 1 on a
    /// regression, 2 on an error. See docs/regression-gate.md.
    Compare(CompareArgs),
    /// Count the instructions of the hot paths that need no server (generator, ground truth,
    /// search on the embedded engine) under valgrind's callgrind; write them as a run report.
    Instructions(InstructionsArgs),
    /// One load run (open loop --rate, or closed loop --concurrency) against the embedded
    /// engine, a Qdrant server, an HTTP endpoint or the no-op target; writes a report.
    Load(LoadArgs),
    /// Ramp the rate (or concurrency) in steps until a target breaks; report the knee.
    Stress(StressArgs),
    /// Check the deployment's targets (performance-tests.yaml) per collection and overall;
    /// print the verdict table. Exit 0 all met, 1 any missed, 2 could not run.
    Validate(ValidateArgs),
    /// Search while the collection grows: inserts at --insert-rate, searches at --rate, per
    /// stage latency and recall against the exact truth of the acknowledged points, freshness.
    Stream(StreamArgs),
    /// How the deployment settles after an event (bulk-load, delete=P%, restart, none): open-loop
    /// search until the optimizer is idle and p95 stays under the target; per second latency,
    /// recall against the points present and the server's optimizer state (docs/settle.md).
    Settle(SettleArgs),
    /// Sum HdrHistogram interval logs of several generators and print their percentiles.
    Merge(MergeArgs),
    /// Print a run's report again from its directory (report.json) and re-render its
    /// summary.md and report.html, or rebuild a partial one from its interval log
    /// (intervals.jsonl) when the run was killed before writing it; with a second directory,
    /// write the comparison of the two runs as a page (DIR_B/compare.html).
    Report(ReportArgs),
    /// Sweep HNSW (m, ef_construct, ef) and quantization on one dataset: recall, latency, QPS,
    /// build time and memory per point, the Pareto frontier, JSON and an SVG plot.
    Sweep(SweepArgs),
    /// The same workload at growing N (as far as free memory allows): latency, recall, build
    /// time, bytes per vector, fitted growth, SVG plot.
    Scale(ScaleArgs),
    /// Capacity plan (RAM, disk, nodes, shards) for a target, per storage option.
    Plan(PlanArgs),
    /// Run one hot path's fixed workload (what `instructions` runs under valgrind).
    #[command(hide = true)]
    HotPath(HotPathArgs),
}

pub fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!(
            "{s:?} is not a percentage >= 0 (example: --threshold 10)"
        )),
    }
}

pub fn parse_hot_path(s: &str) -> Result<HotPath, String> {
    s.parse()
        .map_err(|e: instructions::InstructionsError| e.to_string())
}

/// `--dataset PATH`: a user's own dataset in place of generated vectors.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DatasetArgs {
    /// Your own dataset instead of generated vectors: an ann-benchmarks .hdf5 file, or a
    /// directory with train.npy + test.npy [+ neighbors.npy], train.parquet + test.parquet
    /// [+ neighbors.parquet] (VectorDBBench), or base|train + query|test
    /// .fbin/.u8bin/.i8bin/.fvecs/.bvecs [+ groundtruth|gt|neighbors .ibin/.ivecs]. Its
    /// dimension, size and queries are used; its exact truth is computed and cached, and
    /// shipped neighbours are used only if every query's agree with it (at top-10 and the truth
    /// depth, ties decided by distance). docs/datasets.md: "Your own data".
    #[arg(long, value_name = "PATH")]
    pub dataset: Option<PathBuf>,
    /// Use the --dataset's shipped neighbours even where they disagree with the exact truth
    /// (the report then says its recall is against unverified truth).
    #[arg(long, requires = "dataset")]
    pub keep_shipped_truth: bool,
}

/// What a run watches on the deployment's side (for `load`, `stress` and `validate`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MonitorArgs {
    /// The server's REST address(es) whose `/metrics` are read once a second during every run
    /// against a server, and `/telemetry` at its two ends, separated by commas for a cluster
    /// (default: the target's own URLs for REST, the same host on port 6333 for gRPC on 6334).
    #[arg(long, env = "QDRANT_METRICS_URL")]
    pub metrics_url: Option<String>,
    /// The deployment's Prometheus (`http://host:9090`): the server host's CPU, memory, disk
    /// and network I/O over each run, by PromQL over node_exporter's series (the queries are in
    /// the report).
    #[arg(long, env = "QDRANT_PERF_PROMETHEUS")]
    pub prometheus: Option<String>,
    /// The `instance` label of the server host's node_exporter in --prometheus (default: the
    /// only instance there).
    #[arg(long, requires = "prometheus")]
    pub server_instance: Option<String>,
    /// The server host's node_exporter (`http://host:9100/metrics`), scraped once a second,
    /// when there is no Prometheus to ask.
    #[arg(long, conflicts_with = "prometheus")]
    pub node_exporter: Option<String>,
    /// Serve the run's live figures (rate, latency percentiles, errors, in flight) in the
    /// Prometheus text format at http://ADDR/metrics while it runs (e.g. 127.0.0.1:9464).
    #[arg(long)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Against a server: how long to wait for each created collection to be indexed (status
    /// green, every vector in the HNSW index) before giving up with the last state seen; what
    /// the run created is dropped either way.
    #[arg(long, value_parser = parse_duration, default_value = "30m")]
    pub index_timeout: std::time::Duration,
}

/// The flags of `load` and `stress` for the fields the load library names in its errors.
pub const LOAD_FLAGS: &[(&str, &str)] = &[
    ("rate", "--rate"),
    ("concurrency", "--concurrency"),
    ("duration", "--duration"),
    ("requests", "--requests"),
    ("mix", "--mix"),
    (target::BODY_TEMPLATE, "--body"),
    (target::ENDPOINT_URL, "--http"),
    (target::HEADER, "--header"),
    (target::ENDPOINT, "--endpoint"),
    (target::BODIES_FILE, "--bodies"),
    (target::METHOD, "--method"),
    ("dataset", "--dataset"),
];

/// The flags of `validate` for the fields the load library names in its errors.
pub const VALIDATE_FLAGS: &[(&str, &str)] = &[
    (target::BODY_TEMPLATE, "--gateway-body"),
    (target::ENDPOINT_URL, "--gateway"),
    ("dataset", "--dataset"),
];

/// A load error as the CLI shows it: where the library names a field of its input
/// (`rate = 0: ...`), the flag that set it is named instead (`--rate = 0: ...`).
pub fn with_flag(e: impl Into<LoadError>, flags: &[(&str, &str)]) -> anyhow::Error {
    let (what, value, fix) = match e.into() {
        LoadError::Invalid { what, value, fix }
        | LoadError::Plan(PlanError::Invalid { what, value, fix }) => (what, value, fix),
        LoadError::Cache(e @ CacheError::Unreachable { .. }) => {
            return anyhow::anyhow!("{e} (flag: --cache optional)");
        }
        other => return other.into(),
    };
    match flags.iter().find(|(field, _)| *field == what) {
        Some((_, flag)) => anyhow::anyhow!("{flag} = {value}: {fix}"),
        None => LoadError::Invalid { what, value, fix }.into(),
    }
}

/// Where the load goes and on what data.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// `edge` (the embedded engine), a Qdrant URL (`grpc://host:6334`, `rest+http://host:6333`,
    /// `http://host:6334`; `QDRANT_API_KEY` for the key), or `noop` (the driver alone).
    #[arg(long, default_value = "edge", env = "QDRANT_URL")]
    pub target: String,
    /// Any JSON HTTP endpoint instead, e.g. the gateway's `POST /api/v1/vectors/search`
    /// (with --endpoint: the host the endpoints' paths go to).
    #[arg(long)]
    pub http: Option<String>,
    /// HTTP method of --http: GET, POST or PUT.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Request body for --http: `{{vector}}` becomes a held-out query vector (a JSON array,
    /// one rendered body per query) and `{{k}}` the number of results; a body without
    /// `{{vector}}` is sent as it is. Default: Qdrant's search request for POST and PUT, none
    /// for GET.
    #[arg(long, conflicts_with = "bodies")]
    pub body: Option<String>,
    /// Request bodies for --http, one per line of FILE (JSON Lines), sent in turn, cycled.
    #[arg(long, value_name = "FILE")]
    pub bodies: Option<PathBuf>,
    /// A request header for --http, `Name: value` (repeatable), e.g. 'Authorization: Bearer
    /// TOKEN'. Values are never printed nor written to reports.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// One of several endpoints of one run, `NAME WEIGHT METHOD PATH [BODY]` (repeatable):
    /// PATH goes to --http's host (or is a full URL), WEIGHT is its share of the requests,
    /// BODY as --body or `@FILE` as --bodies. Each endpoint is reported apart.
    #[arg(long = "endpoint", value_name = "LINE", conflicts_with_all = ["body", "bodies"])]
    pub endpoint: Vec<String>,
    /// The endpoints in a file, one `NAME WEIGHT METHOD PATH [BODY]` line each (`#` comments).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["body", "bodies"])]
    pub endpoints: Option<PathBuf>,
    /// HTTP/2 with prior knowledge (h2c on http://) for --http, instead of HTTP/1.1 keep-alive.
    #[arg(long)]
    pub http2: bool,
    /// JSON pointer to the result list in --http responses (`/result`), to measure recall.
    #[arg(long)]
    pub ids_pointer: Option<String>,
    /// JSON pointer to the server's own time, in seconds, in --http responses (`/time` for
    /// Qdrant's REST API); without it a `Server-Timing` header is read when the response has
    /// one (its `total`, else its first `dur`).
    #[arg(long)]
    pub server_time_pointer: Option<String>,
    /// Collections of the config (names separated by commas, or `all`), each at its
    /// configured query_load share of the rate.
    #[arg(long, default_value = "deepcoder")]
    pub collections: String,
    /// Measure these collections of the server as they are (names separated by commas, e.g.
    /// `mixtral,phi3`), instead of loading `perf_` copies: queries drawn from the collection,
    /// truth from the server's exact search, nothing created, written or dropped. Each must be
    /// a collection of the config (its query_load applies); needs --target URL.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["collections", "dataset"])]
    pub read_only: Vec<String>,
    /// The deployment's performance-tests.yaml (default: the bundled fixtures copy).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Points per collection.
    #[arg(long, default_value_t = 20_000, value_parser = positive_usize)]
    pub points: usize,
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Held-out queries per collection (the run cycles through them).
    #[arg(long, default_value_t = 1_000, value_parser = positive_usize)]
    pub queries: usize,
    /// Dataset and index cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// For `cached_search` in the mix: the Redis result cache at REDIS_URL (default
    /// redis://127.0.0.1:6379) is `required` (unreachable at start: an error) or `optional`
    /// (a warning, and the cached searches run uncached).
    #[arg(long, default_value = "required", value_parser = parse_cache_mode)]
    pub cache: qdrant_perf_store::CacheMode,
    /// Seconds a cached result lives (default: the file's optimization.caching.cache_ttl).
    #[arg(long)]
    pub cache_ttl: Option<i64>,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

/// How long and how hard.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Test duration (recorded part): `10s`, `500ms`, `2m`, or seconds.
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Warm-up before recording (requests run but are not recorded).
    #[arg(long, value_parser = parse_duration_or_zero, default_value = "2s", allow_hyphen_values = true)]
    pub warmup: Duration,
    /// Stop after this many recorded requests (with --duration: whichever comes first).
    #[arg(long, value_parser = positive_u64, allow_hyphen_values = true)]
    pub requests: Option<u64>,
    /// Operation mix, relative weights: search, search_batch, upsert, cached_search (searches
    /// through the Redis cache, see --cache).
    #[arg(long, default_value = "search=100", value_parser = parse_mix)]
    pub mix: Mix,
    /// Report directory (default: target/qdrant-perf/runs/<UTC time>-<command>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Open loop: requests per second, due at fixed times, latency from the due time
    /// (default: the collections' query_load from the config).
    #[arg(long, value_parser = parse_rate, conflicts_with = "concurrency", allow_hyphen_values = true)]
    pub rate: Option<f64>,
    /// Closed loop: this many workers back to back, each with its own connection; without a
    /// number, the config's load_testing.connections (1000 in the seed's file).
    #[arg(long, value_parser = positive_usize, num_args = 0..=1, value_name = "N")]
    pub concurrency: Option<Option<usize>>,
}

#[derive(Debug, clap::Args)]
pub struct StressArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// First step's rate (open loop), requests per second.
    #[arg(long, value_parser = parse_rate, default_value = "1000")]
    pub from: f64,
    /// Last step's rate (default: 1.5 x the peak throughput target).
    #[arg(long, value_parser = parse_rate)]
    pub to: Option<f64>,
    /// Number of steps from --from to --to.
    #[arg(long, default_value_t = 8, value_parser = positive_usize)]
    pub steps: usize,
    /// Ramp concurrency (closed loop) instead of rate: from 1 worker to this many
    /// (the seed's stress_testing.max_connections is 5000).
    #[arg(long, value_parser = positive_usize)]
    pub concurrency_to: Option<usize>,
    /// Each step's duration (default: stress_testing.ramp_up_time / steps, at least 2 s).
    #[arg(long, value_parser = parse_duration)]
    pub step_duration: Option<Duration>,
}

pub fn positive_usize(s: &str) -> Result<usize, String> {
    match s.replace('_', "").parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number > 0")),
    }
}

pub fn positive_u64(s: &str) -> Result<u64, String> {
    positive_usize(s).map(|n| n as u64)
}

pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.replace('_', "").trim_end_matches("/s").parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a rate > 0 in requests per second (example: --rate 2000)"
        )),
    }
}

/// `--recall-floor`: a fraction in (0, 1].
pub fn parse_recall_floor(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(format!(
            "{s:?}: recall is a fraction in (0, 1] (example: --recall-floor 0.9)"
        )),
    }
}

pub fn parse_mix(s: &str) -> Result<Mix, String> {
    s.parse()
        .map_err(|e| format!("{:#}", with_flag(e, LOAD_FLAGS)))
}

/// `10s`, `500ms`, `2m`, `1h` or plain seconds; must be > 0.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration_or_zero(s)?;
    if d.is_zero() {
        return Err(format!(
            "{s:?}: a duration must be longer than 0 (example: 10s)"
        ));
    }
    Ok(d)
}

pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let factor = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?}; use ms, s, m or h (example: 30s)"
            ));
        }
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v * factor)),
        _ => Err(format!(
            "{s:?} is not a duration >= 0 (example: 30s, 500ms, 2m)"
        )),
    }
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The deployment's performance-tests.yaml (default: the bundled fixtures copy).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Collections to check: `all` or names separated by commas.
    #[arg(long, default_value = "all")]
    pub collections: String,
    /// Validate these collections of the server as they are (names separated by commas, e.g.
    /// `mixtral,phi3`), instead of loading `perf_` copies: queries drawn from the collection,
    /// truth from the server's exact search, nothing created, written or dropped; the
    /// collection's points, indexed vectors and status go into the setup notes and the report.
    /// Each must be a collection of the config (its query_load applies); needs --target URL.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["collections", "dataset"])]
    pub read_only: Vec<String>,
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Scale sizes, rates and durations down for CI and laptops (2,000 points, rates and the
    /// stress connections x 0.1, 3 s per collection, a 3 s stress hold); the report says what
    /// was scaled.
    #[arg(long)]
    pub quick: bool,
    /// `edge` (the embedded engine) or a Qdrant URL (see `load --target`).
    #[arg(long, default_value = "edge", env = "QDRANT_URL")]
    pub target: String,
    /// Points per collection (default: 2,000 with --quick, else each collection's test_vectors).
    #[arg(long, value_parser = positive_usize)]
    pub points: Option<usize>,
    /// Held-out queries per collection.
    #[arg(long, value_parser = positive_usize)]
    pub queries: Option<usize>,
    /// Each collection's run (default: 3 s with --quick, else load_testing.duration).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// The overall run across all collections (default: 5 s with --quick, else
    /// load_testing.duration).
    #[arg(long, value_parser = parse_duration)]
    pub overall_duration: Option<Duration>,
    /// Multiply every rate and throughput limit by this (default 0.1 with --quick, else 1).
    #[arg(long, value_parser = parse_rate)]
    pub rate_scale: Option<f64>,
    /// The API gateway's search endpoint: checks its end-to-end latency (gateway_latency).
    #[arg(long)]
    pub gateway: Option<String>,
    /// Request body for --gateway (`{{vector}}` and `{{k}}` are substituted).
    #[arg(long, default_value = qdrant_perf_load::target::DEFAULT_HTTP_BODY)]
    pub gateway_body: String,
    /// Check the result cache at REDIS_URL (default redis://127.0.0.1:6379): `required` (an
    /// unreachable Redis is an error) or `optional` (a warning; the cache checks do not run).
    #[arg(long, value_parser = parse_cache_mode)]
    pub cache: Option<qdrant_perf_store::CacheMode>,
    /// Seconds a cached result lives (default: the file's optimization.caching.cache_ttl).
    #[arg(long)]
    pub cache_ttl: Option<i64>,
    /// Skip the stress ramp and the connection ramp (their checks are then listed as not run).
    #[arg(long)]
    pub no_stress: bool,
    /// Count checks that did not run (no cache, no gateway...) as missed.
    #[arg(long)]
    pub strict: bool,
    /// A `qdrant-perf scale` JSON: the scalability row is then `extrapolated` from its
    /// back-tested fits (not `met`; it never makes the exit code 1), with the figures and the
    /// back-test errors in its note. Without it the row is `not run`.
    #[arg(long, value_name = "FILE")]
    pub measured: Option<PathBuf>,
    /// Report directory (default: target/qdrant-perf/runs/<UTC time>-validate/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Dataset and index cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

pub fn parse_cache_mode(s: &str) -> Result<qdrant_perf_store::CacheMode, String> {
    s.parse()
        .map_err(|e: qdrant_perf_store::CacheError| e.to_string())
}

#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    /// `edge` (the embedded engine) or a Qdrant URL (`grpc://127.0.0.1:6334`;
    /// `QDRANT_API_KEY` for the key).
    #[arg(long, default_value = "edge", env = "QDRANT_URL")]
    pub target: String,
    /// The collection profile of the config (its dimension), e.g. deepcoder (768).
    #[arg(long, default_value = "deepcoder")]
    pub collection: String,
    /// The deployment's performance-tests.yaml (default: the bundled fixtures copy): the
    /// latency target and the HNSW parameters.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Points indexed before the stream starts.
    #[arg(long, default_value_t = 5_000)]
    pub initial: usize,
    /// New points inserted during the stream.
    #[arg(long, default_value_t = 15_000)]
    pub total: usize,
    /// Points of the generated dataset (default: initial + total).
    #[arg(long)]
    pub points: Option<usize>,
    /// Points inserted per second (open loop, in batches).
    #[arg(long, default_value_t = 1_000.0)]
    pub insert_rate: f64,
    /// Points per insert request.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Searches per second (open loop).
    #[arg(long, default_value = "100", value_parser = parse_rate)]
    pub rate: f64,
    /// A stage is this fraction of the inserts, in (0, 1].
    #[arg(long, default_value_t = 0.1)]
    pub stage: f64,
    /// Held-out queries (the searches cycle through them; recall is against each one's
    /// exact top-10 of the acknowledged points).
    #[arg(long, default_value_t = 1_000, value_parser = positive_usize)]
    pub queries: usize,
    /// Follow the first point of every N-th batch for freshness.
    #[arg(long, default_value_t = 5)]
    pub freshness_sample: usize,
    /// Check: searchable-lag p99 at most this many milliseconds.
    #[arg(long)]
    pub freshness: Option<f64>,
    /// A followed point not returned (or not indexed) this long after its ack counts as not
    /// seen.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub freshness_timeout: Duration,
    /// Check: recall@10 of every stage at least this.
    #[arg(long, default_value_t = 0.9, value_parser = parse_recall_floor)]
    pub recall_floor: f64,
    /// Points deleted per second (open loop, in batches of --batch). With --runbook: the rate
    /// of its delete steps (default: --insert-rate); without: deletes of present points
    /// (chosen by a seeded generator) beside the inserts.
    #[arg(long)]
    pub delete_rate: Option<f64>,
    /// Points whose vector is replaced per second (open loop, in batches of --batch). With
    /// --runbook: the rate of its replace steps (default: --insert-rate); without: present
    /// points given another row's vector (seeded) beside the inserts.
    #[arg(long)]
    pub update_rate: Option<f64>,
    /// Run a big-ann-benchmarks streaming runbook (their YAML as is: max_pts, steps of
    /// insert/delete/replace/search; gt_url is ignored) instead of the plain stream: the
    /// collection starts empty, the writes go at the rates above, searches run at --rate
    /// throughout, and each search step is scored (docs/stream.md). --initial, --total,
    /// --stage and the freshness flags do not apply.
    #[arg(long, value_name = "FILE")]
    pub runbook: Option<PathBuf>,
    /// The runbook's dataset key to run (the file maps dataset names to runbooks; needed
    /// when it has more than one).
    #[arg(long, value_name = "NAME", requires = "runbook")]
    pub runbook_dataset: Option<String>,
    /// How long each `search` step of a runbook searches (at --rate).
    #[arg(long, default_value = "5s", value_parser = parse_duration, requires = "runbook")]
    pub search_step_duration: Duration,
    /// Dataset cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Run directory (default: target/qdrant-perf/runs/<UTC time>-stream).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

/// `--prevent-unoptimized [on|off|both]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    On,
    Off,
    /// The event twice, off then on, into one report.
    Both,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SettleArgs {
    /// The event: `bulk-load` (upload --points as fast as the server takes them, no waiting for
    /// the index), `delete=P%` (load, index, then delete P % of the points), `restart` (load,
    /// index, restart the server), or `none` (the control).
    #[arg(long, value_name = "EVENT", value_parser = parse_after)]
    pub after: qdrant_perf_load::settle::After,
    /// `edge` (the embedded engine) or a Qdrant URL (`grpc://127.0.0.1:6334`;
    /// `QDRANT_API_KEY` for the key).
    #[arg(long, default_value = "edge", env = "QDRANT_URL")]
    pub target: String,
    /// Start the suite's own Qdrant server from this executable (free loopback ports, a
    /// temporary storage directory, stopped at the end) and settle on it; needed for
    /// `--after restart` unless --restart-command restarts yours. Not read from QDRANT_BIN.
    #[arg(long, value_name = "PATH")]
    pub qdrant_bin: Option<PathBuf>,
    /// `--after restart` of the server at --target: a command (run with `sh -c`) that
    /// restarts it; the searches begin when it is started.
    #[arg(long, value_name = "CMD")]
    pub restart_command: Option<String>,
    /// `--after restart`: `sync` and drop the page cache before the start, so it is cold
    /// (root only).
    #[arg(long)]
    pub drop_caches: bool,
    /// Set the collection's `optimizers_config.prevent_unoptimized` (Qdrant 1.17): `on`
    /// (the default when given alone), `off`, or `both` (the event twice, off then on, in one
    /// report).
    #[arg(long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "on")]
    pub prevent_unoptimized: Option<Policy>,
    /// The collection profile of the config (its dimension and query_load), e.g. deepcoder.
    #[arg(long, default_value = "deepcoder")]
    pub collection: String,
    /// The deployment's performance-tests.yaml (default: the bundled fixtures copy): the p95
    /// target, the rate and the HNSW parameters.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Points of the collection (generated).
    #[arg(long, default_value_t = 20_000, value_parser = positive_usize)]
    pub points: usize,
    /// Held-out queries (the searches cycle through them).
    #[arg(long, default_value_t = 1_000, value_parser = positive_usize)]
    pub queries: usize,
    /// Searches per second, open loop (default: the collection's query_load).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Settled when the optimizer is idle and p95 has stayed under the target this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub settle_window: Duration,
    /// Stop searching this long after the searches began, settled or not.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub max_time: Duration,
    /// Points per upsert request (bulk-load, and the untimed load before the other events).
    #[arg(long, default_value_t = 256, value_parser = positive_usize)]
    pub batch: usize,
    /// Upsert requests in flight during a bulk load.
    #[arg(long, default_value_t = 4, value_parser = positive_usize)]
    pub in_flight: usize,
    /// Seed of the ids a delete picks.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Check: recall@10 after the drain at least this.
    #[arg(long, default_value_t = 0.9, value_parser = parse_recall_floor)]
    pub recall_floor: f64,
    /// Dataset cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Run directory (default: target/qdrant-perf/runs/<UTC time>-settle).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

pub fn parse_after(s: &str) -> Result<qdrant_perf_load::settle::After, String> {
    s.parse()
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Interval logs (`<run dir>/histograms/*.hlog`) from one or more generators.
    #[arg(required = true)]
    pub logs: Vec<PathBuf>,
    /// Also write the merged histograms as one interval log.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run directory of `load`, `stress` or `validate` (the `report:` line of the run names
    /// it).
    pub dir: PathBuf,
    /// A second run directory of the same command: renders the comparison of DIR with it
    /// (the rows of `qdrant-perf compare DIR DIR_B`) as a page instead, exit 0 either way
    /// (`compare` is the gate that exits 1 on a regression).
    #[arg(value_name = "DIR_B")]
    pub dir_b: Option<PathBuf>,
    /// Where the comparison page goes (default: DIR_B/compare.html).
    #[arg(long, requires = "dir_b")]
    pub out: Option<PathBuf>,
    /// Smallest change that counts, percent (as `compare --threshold`).
    #[arg(
        long,
        requires = "dir_b",
        default_value_t = qdrant_perf_gate::DEFAULT_THRESHOLD_PCT,
        value_parser = parse_threshold
    )]
    pub threshold: f64,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Vector dimension.
    #[arg(long, default_value_t = 768, conflicts_with = "dataset")]
    pub dim: usize,
    /// Stored vectors.
    #[arg(long, default_value_t = 20_000, conflicts_with = "dataset")]
    pub points: usize,
    /// Held-out queries (each point is measured over all of them).
    #[arg(long, default_value_t = 1_000, conflicts_with = "dataset")]
    pub queries: usize,
    /// clustered (default: like real embeddings), realistic (tuned toward real sentence
    /// embeddings' LID and RC: harder than clustered), normal (hardest for HNSW) or uniform.
    #[arg(long, default_value = "clustered", conflicts_with = "dataset")]
    pub distribution: String,
    /// cosine (default), dot or euclid. With --dataset: the metric of a file that does not
    /// state one (an HDF5 file's `distance` attribute wins; a contradiction is an error).
    #[arg(long, value_parser = parse_metric)]
    pub metric: Option<Metric>,
    #[arg(long, default_value_t = 42, conflicts_with = "dataset")]
    pub seed: u64,
    /// HNSW links per node.
    #[arg(long, value_delimiter = ',', default_value = "8,16,32")]
    pub m: Vec<usize>,
    /// HNSW build beam width.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    pub ef_construct: Vec<usize>,
    /// Search beam width (>= k).
    #[arg(long, value_delimiter = ',', default_value = "10,20,40,80,160,320")]
    pub ef: Vec<usize>,
    /// none, int8, binary.
    #[arg(long, value_delimiter = ',', default_value = "none,int8,binary", value_parser = QuantKind::from_name)]
    pub quantization: Vec<QuantKind>,
    /// Re-score quantized candidates with the original vectors (quantized points only).
    #[arg(long, value_delimiter = ',', default_value = "true")]
    pub rescore: Vec<bool>,
    /// Quantized candidates fetched per result before re-scoring (quantized points only).
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub oversampling: Vec<f64>,
    /// Results per query (recall@k).
    #[arg(long, default_value_t = sweep::DEFAULT_K)]
    pub k: usize,
    /// Qdrant's full_scan_threshold in KB (the deployment's 20000). When the segments are
    /// smaller than it covers, the sweep lowers it so Qdrant walks the graph, and says so.
    #[arg(long, default_value_t = HnswParams::default().full_scan_threshold)]
    pub full_scan_threshold: usize,
    /// Segments per collection (one: every point in one graph).
    #[arg(long, default_value_t = 1)]
    pub segments: usize,
    /// Concurrent searches for the all-core QPS (default: the CPU count).
    #[arg(long)]
    pub threads: Option<usize>,
    /// A Qdrant server or cluster instead of the embedded engine (creates perf_sweep_*
    /// collections and drops them after); the key comes from QDRANT_API_KEY.
    #[arg(long, env = "QDRANT_URL")]
    pub url: Option<String>,
    /// Where the JSON and SVG go.
    #[arg(long, alias = "out-dir", default_value = "target/qdrant-perf/results")]
    pub out: PathBuf,
    /// Dataset cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

pub fn parse_metric(s: &str) -> Result<Metric, String> {
    qdrant_perf_data::metric_from_word(s)
        .ok_or_else(|| format!("unknown metric {s:?}: expected cosine, dot or euclid"))
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// With --dataset each size N is the dataset's first N train vectors (at most its train
    /// set), searched with its test vectors; exact truth is computed for each N and cached.
    #[command(flatten)]
    pub data: DatasetArgs,
    /// cosine (default), dot or euclid; with --dataset, for a file that does not state one.
    #[arg(long, value_parser = parse_metric)]
    pub metric: Option<qdrant_perf_data::Metric>,
    #[arg(long, default_value_t = 768, conflicts_with = "dataset")]
    pub dim: usize,
    /// Sizes to measure (default: 10k, 30k, 100k, 300k, then ×√10 steps up to --max).
    #[arg(long, value_delimiter = ',')]
    pub steps: Vec<usize>,
    /// The largest size (steps above it are dropped; up to 1,000,000 as memory allows).
    #[arg(long, default_value_t = 300_000)]
    pub max: usize,
    #[arg(long, default_value_t = 1_000, conflicts_with = "dataset")]
    pub queries: usize,
    /// clustered (default), realistic, normal or uniform (see `sweep --help`).
    #[arg(long, default_value = "clustered", conflicts_with = "dataset")]
    pub distribution: String,
    #[arg(long, default_value_t = 42, conflicts_with = "dataset")]
    pub seed: u64,
    /// The deployment's index: m=16, ef_construct=100.
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    #[arg(long, default_value_t = 100)]
    pub ef_construct: usize,
    /// Search beam width (the deployment's 128).
    #[arg(long, default_value_t = 128)]
    pub ef: usize,
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    #[arg(long, default_value_t = HnswParams::default().full_scan_threshold)]
    pub full_scan_threshold: usize,
    /// Target segments per collection (Qdrant splits above its maximum segment size).
    #[arg(long, default_value_t = 1)]
    pub segments: usize,
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the vectors are kept: auto (vectors in RAM; a step that would not fit in free
    /// memory switches to vectors on disk, then int8 codes in RAM, then binary codes in RAM,
    /// both re-scored from the originals on disk, and never back), or ram, disk, int8 or binary
    /// for every step (a step that does not fit is then skipped).
    #[arg(long, default_value = "auto", value_parser = StorageChoice::from_name)]
    pub storage: StorageChoice,
    /// The size every fit is extrapolated to (the deployment's targets.scalability).
    #[arg(long, default_value_t = scale::DEFAULT_PREDICT)]
    pub predict: u64,
    /// A Qdrant server instead of the embedded engine (memory figures are then unknown).
    #[arg(long, env = "QDRANT_URL")]
    pub url: Option<String>,
    #[arg(long, alias = "out-dir", default_value = "target/qdrant-perf/results")]
    pub out: PathBuf,
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Vectors to hold (e.g. 100000000 or 100M).
    #[arg(long, value_parser = plan::parse_count, required_unless_present = "config")]
    pub vectors: Option<u64>,
    /// Vector dimension.
    #[arg(long, required_unless_present = "config")]
    pub dim: Option<u64>,
    /// Queries per second to serve (needs --measured to size for it).
    #[arg(long)]
    pub qps: Option<f64>,
    /// p95 latency target (e.g. 20ms).
    #[arg(long, value_parser = plan::parse_ms)]
    pub p95: Option<f64>,
    /// Plan every collection of a performance-tests.yaml instead (its test_vectors, vector_size,
    /// query_load, query_latency and hnsw_m).
    #[arg(long, conflicts_with_all = ["vectors", "dim"])]
    pub config: Option<PathBuf>,
    /// HNSW links per node (default: the config's hnsw_m, else the deployment's 16).
    #[arg(long)]
    pub m: Option<u64>,
    /// Copies of each shard (1 = no replicas).
    #[arg(long, default_value_t = 2)]
    pub replication: u64,
    #[arg(long, default_value = "64GiB", value_parser = qdrant_perf_plumbing::units::parse_bytes)]
    pub node_ram: u64,
    #[arg(long, default_value = "2TiB", value_parser = qdrant_perf_plumbing::units::parse_bytes)]
    pub node_disk: u64,
    #[arg(long, default_value_t = 16)]
    pub node_cores: u64,
    /// Fraction of a node's RAM and disk to fill.
    #[arg(long, default_value_t = 0.8)]
    pub usable: f64,
    /// A `qdrant-perf scale` or `sweep` JSON: use the bytes per vector and QPS it measured.
    #[arg(long)]
    pub measured: Option<PathBuf>,
    /// With --config: USD per node per month, for the deployment's monthly cost and cost per
    /// million queries.
    #[arg(long, allow_negative_numbers = true)]
    pub node_price: Option<f64>,
    /// With --config: how targets.scalability's vectors are spread, `name=fraction,...` adding up
    /// to 1 (collections left out get none; default: in proportion to test_vectors).
    #[arg(long, value_parser = parse_split)]
    pub split: Option<Split>,
    /// With --config: the most nodes the cluster may have (the replication factor must not
    /// exceed it; a plan needing more is marked). Default: as many as the packing needs.
    #[arg(long)]
    pub max_nodes: Option<u64>,
    /// Print JSON instead of Markdown (with --config: {"plans": [...], "deployment": {...}}).
    #[arg(long)]
    pub json: bool,
}

/// `--split name=fraction,...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Split(pub Vec<(String, f64)>);

pub fn parse_split(s: &str) -> Result<Split, String> {
    s.split(',')
        .map(|part| {
            let (name, f) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not name=fraction (example: mixtral=0.5)"))?;
            let f: f64 = f
                .trim()
                .parse()
                .map_err(|_| format!("{f:?} in {part:?} is not a number"))?;
            Ok((name.trim().to_string(), f))
        })
        .collect::<Result<_, _>>()
        .map(Split)
}

/// The options of `qdrant-perf profiles`.
#[derive(Debug, clap::Args)]
pub struct ProfilesArgs {
    #[arg(long)]
    pub profiles: Option<PathBuf>,
}

/// The options of `qdrant-perf dataset`.
#[derive(Debug, clap::Args)]
pub struct DatasetCommandArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// With --dataset: the metric of a file that does not state one (cosine, dot, euclid).
    #[arg(long, requires = "dataset", value_parser = parse_metric)]
    pub metric: Option<Metric>,
    /// A collection profile whose dimension and distance to use (e.g. deepcoder).
    #[arg(long, conflicts_with = "dim")]
    pub profile: Option<String>,
    /// Vector dimension, when no profile is given.
    #[arg(long, conflicts_with = "dataset")]
    pub dim: Option<usize>,
    #[arg(long, default_value_t = 20_000, conflicts_with = "dataset")]
    pub points: usize,
    #[arg(long, default_value_t = 1_000, conflicts_with = "dataset")]
    pub queries: usize,
    /// Depth of the exact ground truth per query.
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// clustered (default), realistic (tuned toward real sentence embeddings' LID and RC),
    /// normal or uniform.
    #[arg(long, default_value = "clustered", conflicts_with = "dataset")]
    pub distribution: String,
    #[arg(long, default_value_t = 42, conflicts_with = "dataset")]
    pub seed: u64,
    /// Cache directory (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

/// The options of `qdrant-perf compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The reference: a criterion baseline name (`--save-baseline NAME`) or a report file.
    pub base: String,
    /// The candidate, of the same kind as BASE.
    pub new: String,
    /// criterion's output directory, where baselines are saved.
    #[arg(long, default_value = "target/criterion")]
    pub criterion_dir: PathBuf,
    /// A change counts only beyond this many percent (and with separate confidence intervals).
    #[arg(long, default_value_t = DEFAULT_THRESHOLD_PCT, value_parser = parse_threshold)]
    pub threshold: f64,
    /// criterion estimate to compare: mean, median or typical (slope when both sides have one).
    #[arg(long, default_value = "mean")]
    pub statistic: Statistic,
    /// Print JSON instead of the Markdown table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON comparison to this file.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// A second run of the base (taken after NEW): a change counts only when NEW shows it
    /// against both BASE and this one, so drift of a noisy machine between runs is not
    /// mistaken for a change of the code. Same kind as BASE.
    #[arg(long)]
    pub confirm: Option<String>,
}

/// The options of `qdrant-perf instructions`.
#[derive(Debug, clap::Args)]
pub struct InstructionsArgs {
    /// Where to write the counts (a run report: compare two with `qdrant-perf compare`).
    #[arg(long)]
    pub out: PathBuf,
    /// Hot paths to count (default: all).
    #[arg(long, value_delimiter = ',', value_parser = parse_hot_path)]
    pub only: Vec<HotPath>,
    /// Dataset and index cache (default: $QDRANT_PERF_CACHE_DIR or ./target/qdrant-perf).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Where callgrind's own files go.
    #[arg(long, default_value = "target/instructions")]
    pub callgrind_dir: PathBuf,
}

/// The options of `qdrant-perf hot-path`.
#[derive(Debug, clap::Args)]
pub struct HotPathArgs {
    #[arg(value_parser = parse_hot_path)]
    pub path: HotPath,
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_options_parse_with_defaults() {
        let o = Opts::try_parse_from(["qdrant-perf", "dataset", "--profile", "phi3"]).unwrap();
        match o.command {
            Command::Dataset(d) => {
                assert_eq!(d.profile.as_deref(), Some("phi3"));
                assert_eq!((d.points, d.queries, d.k), (20_000, 1_000, 100));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn profile_and_dim_together_are_refused() {
        let err =
            Opts::try_parse_from(["qdrant-perf", "dataset", "--profile", "phi3", "--dim", "8"])
                .unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }

    #[test]
    fn report_takes_one_run_directory_or_two_with_the_page_options() {
        let o = Opts::try_parse_from(["qdrant-perf", "report", "runs/a"]).unwrap();
        match o.command {
            Command::Report(r) => {
                assert_eq!(r.dir, PathBuf::from("runs/a"));
                assert!(r.dir_b.is_none() && r.out.is_none());
                assert_eq!(r.threshold, 10.0);
            }
            other => panic!("{other:?}"),
        }
        let o = Opts::try_parse_from([
            "qdrant-perf",
            "report",
            "a",
            "b",
            "--out",
            "c.html",
            "--threshold",
            "5",
        ])
        .unwrap();
        match o.command {
            Command::Report(r) => {
                assert_eq!(r.dir_b, Some(PathBuf::from("b")));
                assert_eq!(r.out, Some(PathBuf::from("c.html")));
                assert_eq!(r.threshold, 5.0);
            }
            other => panic!("{other:?}"),
        }
        // The page options belong to a comparison.
        let err = Opts::try_parse_from(["qdrant-perf", "report", "a", "--out", "c.html"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DIR_B"), "{err}");
    }

    #[test]
    fn compare_takes_two_names_with_the_documented_defaults() {
        let o = Opts::try_parse_from(["qdrant-perf", "compare", "base", "head"]).unwrap();
        match o.command {
            Command::Compare(c) => {
                assert_eq!((c.base.as_str(), c.new.as_str()), ("base", "head"));
                assert_eq!(c.confirm, None);
                assert_eq!(c.criterion_dir, PathBuf::from("target/criterion"));
                assert_eq!(c.threshold, 10.0);
                assert_eq!(c.statistic, Statistic::Mean);
                assert!(!c.json && c.json_out.is_none());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn compare_options_parse() {
        let o = Opts::try_parse_from([
            "qdrant-perf",
            "compare",
            "a.json",
            "b.json",
            "--threshold",
            "0.5%",
            "--json",
            "--criterion-dir",
            "/tmp/c",
            "--statistic",
            "typical",
        ])
        .unwrap();
        match o.command {
            Command::Compare(c) => {
                assert_eq!(c.threshold, 0.5);
                assert!(c.json);
                assert_eq!(c.criterion_dir, PathBuf::from("/tmp/c"));
                assert_eq!(c.statistic, Statistic::Typical);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn compare_refuses_a_negative_threshold_an_unknown_statistic_and_one_argument() {
        let err = Opts::try_parse_from(["qdrant-perf", "compare", "a", "b", "--threshold=-3"])
            .unwrap_err();
        assert!(err.to_string().contains("--threshold"), "{err}");
        let err = Opts::try_parse_from(["qdrant-perf", "compare", "a", "b", "--statistic", "p99"])
            .unwrap_err();
        assert!(err.to_string().contains("mean, median or typical"), "{err}");
        let err = Opts::try_parse_from(["qdrant-perf", "compare", "a"]).unwrap_err();
        assert!(err.to_string().contains("<NEW>"), "{err}");
    }

    #[test]
    fn instructions_takes_a_list_of_hot_paths_and_refuses_unknown_ones() {
        let o = Opts::try_parse_from([
            "qdrant-perf",
            "instructions",
            "--out",
            "c.json",
            "--only",
            "search,generate",
        ])
        .unwrap();
        match o.command {
            Command::Instructions(i) => {
                assert_eq!(i.out, PathBuf::from("c.json"));
                assert_eq!(i.only, vec![HotPath::Search, HotPath::Generate]);
            }
            other => panic!("{other:?}"),
        }
        let err = Opts::try_parse_from(["qdrant-perf", "hot-path", "gemm"]).unwrap_err();
        assert!(
            err.to_string().contains("generate, ground_truth or search"),
            "{err}"
        );
    }

    #[test]
    fn a_non_numeric_size_is_refused_naming_the_flag() {
        let err =
            Opts::try_parse_from(["qdrant-perf", "dataset", "--dim", "8", "--points", "lots"])
                .unwrap_err();
        assert!(err.to_string().contains("--points"), "{err}");
    }

    #[test]
    fn durations_parse_with_units_and_refuse_zero_and_negatives() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("0s").unwrap_err().contains("longer than 0"));
        assert!(
            parse_duration("-5s")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_duration("5 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert_eq!(parse_duration_or_zero("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rates_must_be_positive() {
        assert_eq!(parse_rate("2000").unwrap(), 2000.0);
        assert_eq!(parse_rate("10_000/s").unwrap(), 10_000.0);
        for bad in ["0", "-10", "fast", "inf"] {
            assert!(parse_rate(bad).unwrap_err().contains("rate > 0"), "{bad}");
        }
    }
}
