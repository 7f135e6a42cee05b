//! Filtered search: latency and recall per selectivity, with and without a payload index.
//!
//! - `filtered/<field kind>/<indexed|unindexed>/<selectivity %>`: top-10 HNSW search (ef=128)
//!   restricted to the points whose payload matches a filter on the `keyword` field (`kw` is any
//!   of a set of values) or the `integer` field (`num <= v`), chosen on the generated payloads so
//!   that 0.1 %, 1 %, 10 %, 50 % or 100 % of the points match. `indexed` has payload indexes on
//!   every field (created before upload); `unindexed` has none. One criterion group per field
//!   kind, the selectivity in percent (`0.1`, `1`, `10`, `50`, `100`) its parameter: criterion
//!   draws latency against selectivity, a line each for indexed and unindexed. One held-out
//!   query per iteration,
//!   cycling through all of them. After each benchmark the suite prints recall@10 against exact
//!   filtered ground truth (the true top-10 among the matching points), the selectivity measured
//!   on the data, and p50/p99 of an untimed pass over the same queries; recall, selectivity and
//!   setup also go to `<criterion dir>/qdrant-perf/filtered.json` and the summary page
//!   `qdrant-perf.html`.
//! - `filtered_ground_truth/<dim>/<unfiltered|10pct>`: the suite's exact ground truth over all
//!   points and over a 10 % filter (1,000 queries, `QDRANT_PERF_GT_POINTS` points, default
//!   10,000); the filtered one gathers the matching points and runs the same GEMM path.
//! - `dataset_generation/<points>/<vectors|payloads>`: generating the points' vectors (768
//!   dimensions) and their payloads, to show what payloads add.
//!
//! Environment (besides `QDRANT_PERF_POINTS`, `QDRANT_PERF_QUERIES`, `QDRANT_URL`, see
//! `benches/common/mod.rs`):
//! - `QDRANT_PERF_FILTER_PROFILE`: the collection profile whose dimension and metric are used
//!   (default `deepcoder`, 768 dimensions);
//! - `QDRANT_PERF_FILTER_FIELDS`: field kinds to filter on, of `keyword`, `integer`, `float`
//!   (default `keyword,integer`);
//! - `QDRANT_PERF_SELECTIVITIES`: fractions in (0, 1] (default `0.001,0.01,0.1,0.5,1`).
//!
//! With `QDRANT_PERF_DATASET` a Parquet directory whose train set has scalar columns, the sweep
//! filters on those columns instead (`filtered/<column>/...`; every filter field
//! unless `QDRANT_PERF_FILTER_FIELDS` names kinds): a set of a keyword column's values, or
//! `column <= v` on a numeric one, chosen as close to each selectivity as the data allows, with
//! the exact truth over the matching rows. Any other dataset gets the generated payloads.
//!
//! With `QDRANT_URL` set the same suite runs on that server (IDs `filtered/<kind>@grpc/...`).

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use hdrhistogram::Histogram;
use qdrant_perf_data::{
    Bound, Dataset, DatasetSpec, FieldKind, GroundTruth, Metric, Part, PayloadSpec, Payloads,
    PointPayloads, Selected, Vectors, check_selectivity, generate, ground_truth,
    ground_truth_filtered, mean_recall,
};
use qdrant_perf_report::bench::{BenchSetup, QualityRecord, Selectivity};
use qdrant_perf_store::fixture::{self, DEFAULT_BATCH};
use qdrant_perf_store::{AnyStore, CollectionProfile, Filter, Guard, Query, Store};

use common::{PROFILES, RT, SERVER, fail, summary};

const K: usize = 10;
const DEFAULT_SELECTIVITIES: [f64; 5] = [0.001, 0.01, 0.1, 0.5, 1.0];

/// The selectivity in percent, as criterion's parameter: `0.1`, `1`, `50`.
fn percent(selectivity: f64) -> String {
    let pct = selectivity * 100.0;
    let s = format!("{pct:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One payload field the sweep filters on.
struct Target {
    /// The benchmark ID's part: the kind for generated fields, the column name for a user's.
    label: String,
    field: String,
}

/// Everything this run was asked for, checked before any data is made.
struct Plan {
    profile: CollectionProfile,
    targets: Vec<Target>,
    /// True when the targets are the user's dataset's own payload fields.
    source_fields: bool,
    selectivities: Vec<f64>,
}

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        // With QDRANT_PERF_DATASET the default is the first profile of the dataset's dimension.
        let default = common::USER_DATA
            .as_ref()
            .and_then(|u| {
                PROFILES
                    .collections
                    .iter()
                    .find(|p| p.vector_size == u.dim())
            })
            .map_or_else(|| "deepcoder".to_string(), |p| p.name.clone());
        let name = std::env::var("QDRANT_PERF_FILTER_PROFILE").unwrap_or(default);
        let profile = PROFILES
            .select(&name)
            .unwrap_or_else(|e| fail(format!("QDRANT_PERF_FILTER_PROFILE: {e}")))
            .into_iter()
            .next()
            .cloned()
            .unwrap_or_else(|| fail("QDRANT_PERF_FILTER_PROFILE names no profile"));
        let asked = std::env::var("QDRANT_PERF_FILTER_FIELDS").ok();
        let kinds: Vec<FieldKind> = asked
            .as_deref()
            .unwrap_or("keyword,integer")
            .split(',')
            .map(|k| {
                FieldKind::from_name(k.trim())
                    .unwrap_or_else(|e| fail(format!("QDRANT_PERF_FILTER_FIELDS: {e}")))
            })
            .collect();
        // A user's dataset with payload fields of its own (Parquet scalar columns) is filtered
        // on those: every one, or those of the kinds QDRANT_PERF_FILTER_FIELDS names.
        let own = common::USER_DATA
            .as_ref()
            .map(|u| u.payload_fields())
            .unwrap_or_default();
        let source_fields = !own.is_empty();
        let targets: Vec<Target> = if source_fields {
            let kept: Vec<Target> = own
                .iter()
                .filter(|(_, k)| asked.is_none() || kinds.contains(k))
                .map(|(f, _)| Target {
                    label: f.clone(),
                    field: f.clone(),
                })
                .collect();
            if kept.is_empty() {
                fail(format!(
                    "QDRANT_PERF_FILTER_FIELDS: the dataset has no payload field of those kinds; \
                     its fields are {}",
                    own.iter()
                        .map(|(f, k)| format!("{f} ({})", k.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            kept
        } else {
            kinds
                .iter()
                .map(|k| Target {
                    label: k.name().to_string(),
                    field: k.field().to_string(),
                })
                .collect()
        };
        let selectivities = match std::env::var("QDRANT_PERF_SELECTIVITIES") {
            Ok(v) if !v.trim().is_empty() => v
                .split(',')
                .map(|s| {
                    let x: f64 = s.trim().parse().unwrap_or_else(|_| {
                        fail(format!(
                            "QDRANT_PERF_SELECTIVITIES: `{s}` is not a number; give fractions \
                             such as 0.001,0.01,0.1"
                        ))
                    });
                    check_selectivity(x)
                        .unwrap_or_else(|e| fail(format!("QDRANT_PERF_SELECTIVITIES: {e}")));
                    x
                })
                .collect(),
            _ => DEFAULT_SELECTIVITIES.to_vec(),
        };
        Plan {
            profile,
            targets,
            source_fields,
            selectivities,
        }
    })
}

/// One filter of the sweep: its exact matches and the true top-k among them.
struct Case {
    field: String,
    selectivity: f64,
    /// The condition, as `field <= v` or `field in [..]`.
    condition: String,
    measured: f64,
    matches: usize,
    queries: Vec<Query>,
    truth: GroundTruth,
}

struct Collection {
    name: String,
    store: AnyStore,
    created: bool,
    /// Seconds of building the index (or of confirming a cached one).
    index_seconds: f64,
}

struct Setup {
    points: usize,
    indexed: Collection,
    unindexed: Collection,
    cases: Vec<Case>,
}

static SETUP: OnceLock<Setup> = OnceLock::new();

fn setup() -> &'static Setup {
    SETUP.get_or_init(|| make_setup().unwrap_or_else(|e| fail(e)))
}

fn make_setup() -> Result<Setup, Box<dyn std::error::Error>> {
    let plan = plan();
    let profile = &plan.profile;
    let spec = common::dataset_spec(profile).with_payload(PayloadSpec::default());
    // Rejected before any data is made.
    spec.validate()?;
    // QDRANT_PERF_DATASET: the user's vectors with their own payload fields (Parquet scalar
    // columns) when they have any, else with the suite's generated payload fields, so the
    // filters and their exact truth are the same as on generated data.
    let dataset = match common::USER_DATA.as_ref() {
        Some(_) => {
            let mut d = common::dataset_for(profile);
            if !plan.source_fields {
                d.payloads = Some(Payloads::generate(
                    &PayloadSpec::default(),
                    spec.seed,
                    d.points.len(),
                )?);
            }
            d
        }
        None => Dataset::load_or_generate(&spec, &common::cache())?,
    };
    eprintln!("{}", dataset.describe());
    let payloads = dataset.point_payloads().expect("the dataset has payloads");
    // Every field of the payloads is indexed in the indexed collection.
    let indexes = payloads.fields();
    let index_names = indexes
        .iter()
        .map(|(f, k)| format!("{f} ({})", k.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let guard = Guard::default();
    let mut collections = Vec::new();
    for indexed in [true, false] {
        let name = guard.name_for(&format!(
            "filtered_{}_{}",
            profile.name,
            if indexed { "indexed" } else { "unindexed" }
        ));
        let store = match SERVER.as_ref() {
            Some(config) => RT.block_on(AnyStore::connect(config, guard.clone()))?,
            None => AnyStore::edge(dataset.dir.join("edge"), guard.clone())?,
        };
        let mut collection = PROFILES.collection_spec(profile, name.clone());
        if indexed {
            collection.payload_indexes = indexes.clone();
        }
        let loaded = RT.block_on(fixture::load_collection_with_payloads(
            &store,
            &collection,
            &dataset.points,
            Some(payloads),
            DEFAULT_BATCH,
        ))?;
        eprintln!(
            "setup of {name} on {}: open {:.2} s, upload {:.2} s, index {:.2} s ({}; {} points in {} segments; payload indexes: {})",
            store.engine_version(),
            loaded.open_seconds,
            loaded.upload_seconds,
            loaded.index.seconds,
            if loaded.reused { "reused" } else { "built" },
            loaded.index.indexed_vectors,
            loaded.index.segments,
            if indexed {
                index_names.as_str()
            } else {
                "none"
            },
        );
        collections.push(Collection {
            name,
            store,
            created: !loaded.reused,
            index_seconds: loaded.index.seconds,
        });
    }
    let cases = cases(plan, &dataset, payloads)?;
    let unindexed = collections.pop().expect("two collections");
    let indexed = collections.pop().expect("two collections");
    Ok(Setup {
        points: dataset.points.len(),
        indexed,
        unindexed,
        cases,
    })
}

fn cases(
    plan: &Plan,
    dataset: &Dataset,
    payloads: PointPayloads<'_>,
) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let ef = PROFILES.search.hnsw_ef;
    let started = Instant::now();
    let mut out = Vec::new();
    for target in &plan.targets {
        for &selectivity in &plan.selectivities {
            let selected = payloads.select(&target.field, selectivity)?;
            let filter = Filter::from_selected(&selected);
            filter.check_fields(&payloads.fields())?;
            let truth = ground_truth_filtered(
                &dataset.points,
                &dataset.queries,
                K,
                dataset.spec.metric,
                &selected.matching,
                &|_| {},
            )?;
            let queries = fixture::queries(&dataset.queries, K, Some(ef))
                .into_iter()
                .map(|q| q.with_filter(filter.clone()))
                .collect();
            out.push(Case {
                field: target.field.clone(),
                selectivity,
                condition: describe(&selected),
                measured: selected.selectivity,
                matches: selected.matching.len(),
                queries,
                truth,
            });
        }
    }
    eprintln!(
        "exact filtered ground truth of {} filters x {} queries: {:.2} s",
        out.len(),
        dataset.queries.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

/// The condition a case filters on, for the recall line.
fn describe(selected: &Selected) -> String {
    match &selected.bound {
        Bound::KeywordAny(values) if values.len() <= 3 => {
            format!("{} in {values:?}", selected.field)
        }
        Bound::KeywordAny(values) => format!("{} in {} values", selected.field, values.len()),
        Bound::IntegerAtMost(v) => format!("{} <= {v}", selected.field),
        Bound::FloatAtMost(v) => format!("{} <= {v}", selected.field),
    }
}

/// `filtered/<kind>` on the embedded engine, `filtered/<kind>@grpc` on a server (for a user's
/// own payload fields: `filtered/<column>`).
fn group_name(target: &Target) -> String {
    let engine = match common::engine_name() {
        "edge" => String::new(),
        e => format!("@{e}"),
    };
    format!("filtered/{}{engine}", target.label)
}

/// One untimed pass over the case's queries: recall@10, and the line that says it with the
/// selectivity and latency percentiles.
fn check(c: &Collection, case: &Case) -> (f64, String) {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut server = (0.0, 0usize);
    let results: Vec<Vec<u64>> = case
        .queries
        .iter()
        .map(|q| {
            let started = Instant::now();
            let r = RT
                .block_on(c.store.search(&c.name, q))
                .unwrap_or_else(|e| fail(e));
            hist.saturating_record(started.elapsed().as_micros().max(1) as u64);
            if let Some(s) = r.server_seconds {
                server.0 += s;
                server.1 += 1;
            }
            r.hits.iter().map(|h| h.id).collect()
        })
        .collect();
    let recall = mean_recall(results.iter().map(Vec::as_slice), |i| case.truth.ids(i), K);
    let mut s = format!(
        "recall@{K} = {recall:.4}; selectivity {:.3} % measured ({} of {} points match {}; \
         {:.3} % wanted); untimed pass: p50 {:.3} ms, p99 {:.3} ms over {} held-out queries",
        case.measured * 100.0,
        case.matches,
        setup().points,
        case.condition,
        case.selectivity * 100.0,
        hist.value_at_quantile(0.5) as f64 / 1e3,
        hist.value_at_quantile(0.99) as f64 / 1e3,
        hist.len(),
    );
    if server.1 > 0 {
        s.push_str(&format!(
            "; mean server time {:.3} ms",
            server.0 / server.1 as f64 * 1e3
        ));
    }
    (recall, s)
}

fn filtered(c: &mut Criterion) {
    let plan = plan();
    for target in &plan.targets {
        let name = group_name(target);
        let mut group = c.benchmark_group(&name);
        // An unindexed filter at low selectivity costs a payload check per point per query:
        // fewer, shorter samples keep the sweep to minutes. No elements/s: criterion would put
        // every selectivity at one x of its line chart.
        group
            .sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for &selectivity in &plan.selectivities {
            let pct = percent(selectivity);
            for indexed in [true, false] {
                let id = if indexed { "indexed" } else { "unindexed" };
                let ran = Cell::new(false);
                let case = || {
                    let s = setup();
                    let case = s
                        .cases
                        .iter()
                        .find(|c| c.field == target.field && c.selectivity == selectivity)
                        .expect("case");
                    let col = if indexed { &s.indexed } else { &s.unindexed };
                    (s, case, col)
                };
                group.bench_function(BenchmarkId::new(id, &pct), |b| {
                    ran.set(true);
                    let (_, case, col) = case();
                    let next = Cell::new(0usize);
                    let (store, coll) = (&col.store, col.name.as_str());
                    b.to_async(&*RT).iter(|| {
                        let i = next.get();
                        next.set((i + 1) % case.queries.len());
                        let query = &case.queries[i];
                        async move { black_box(store.search(coll, query).await.expect("search")) }
                    });
                });
                if ran.get() {
                    let (s, case, col) = case();
                    let (recall, line) = check(col, case);
                    summary::record(
                        QualityRecord::new(&name, Some(id), Some(&pct))
                            .with_recall(K, recall, case.queries.len())
                            .with_selectivity(Selectivity {
                                wanted: case.selectivity,
                                measured: case.measured,
                                matching: case.matches,
                                condition: case.condition.clone(),
                            })
                            .with_setup(BenchSetup {
                                points: Some(s.points),
                                dim: Some(plan.profile.vector_size),
                                m: Some(PROFILES.index.hnsw_m),
                                ef_construct: Some(PROFILES.index.hnsw_ef_construct),
                                ef: Some(PROFILES.search.hnsw_ef),
                                payload_indexes: Some(indexed),
                                build_seconds: Some(col.index_seconds),
                                ..BenchSetup::default()
                            })
                            .with_engine(col.store.engine_version())
                            .with_note(
                                "HNSW search with a filter: Qdrant's planner may answer a \
                                 selective filter by scanning the matching points",
                            ),
                    );
                    eprintln!("{name}/{id}/{pct}: {line} ({})", col.store.engine_version());
                }
            }
        }
        group.finish();
    }
}

/// Filtered vs unfiltered exact ground truth at 768 dimensions and 10 % selectivity.
fn filtered_ground_truth(c: &mut Criterion) {
    let dim = 768;
    let points = common::env_usize("QDRANT_PERF_GT_POINTS", 10_000);
    let queries = 1_000;
    let spec = DatasetSpec::new(dim, points).with_queries(queries);
    let mut group = c.benchmark_group(format!("filtered_ground_truth/{dim}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    // Built on first use, so a criterion filter that skips this group costs nothing.
    let data: OnceLock<(Vectors, Vectors, Vec<u32>)> = OnceLock::new();
    let data = || {
        data.get_or_init(|| {
            let base = generate(&spec, Part::Points).expect("points");
            let qs = generate(&spec, Part::Queries).expect("queries");
            let payloads =
                Payloads::generate(&PayloadSpec::default(), spec.seed, points).expect("payloads");
            let matching = payloads
                .select(FieldKind::Integer, 0.1)
                .expect("10 %")
                .matching;
            (base, qs, matching)
        })
    };
    group.throughput(Throughput::Elements(points as u64));
    group.bench_function(BenchmarkId::from_parameter("unfiltered"), |b| {
        let (base, qs, _) = data();
        b.iter(|| black_box(ground_truth(base, qs, K, Metric::Cosine, &|_| {}).unwrap()))
    });
    group.bench_function(BenchmarkId::from_parameter("10pct"), |b| {
        let (base, qs, matching) = data();
        b.iter(|| {
            black_box(
                ground_truth_filtered(base, qs, K, Metric::Cosine, matching, &|_| {}).unwrap(),
            )
        })
    });
    group.finish();
}

/// What generating payloads adds to generating the vectors of the same points.
fn dataset_generation(c: &mut Criterion) {
    let points = common::env_usize("QDRANT_PERF_GT_POINTS", 10_000);
    let spec = DatasetSpec::new(768, points).with_queries(1);
    let mut group = c.benchmark_group(format!("dataset_generation/{points}"));
    group
        .sample_size(10)
        .throughput(Throughput::Elements(points as u64));
    group.bench_function("vectors", |b| {
        b.iter(|| black_box(generate(&spec, Part::Points).unwrap()))
    });
    group.bench_function("payloads", |b| {
        b.iter(|| {
            black_box(Payloads::generate(&PayloadSpec::default(), spec.seed, points).unwrap())
        })
    });
    group.finish();
}

/// Drops the server collections this run created, unless `QDRANT_PERF_KEEP=1`.
fn cleanup() {
    let (Some(_), Some(s)) = (SERVER.as_ref(), SETUP.get()) else {
        return;
    };
    let keep = std::env::var("QDRANT_PERF_KEEP").is_ok_and(|v| v == "1");
    for c in [&s.indexed, &s.unindexed].into_iter().filter(|c| c.created) {
        if keep {
            eprintln!("kept {} (QDRANT_PERF_KEEP=1)", c.name);
        } else {
            match RT.block_on(c.store.drop_owned(&c.name)) {
                Ok(()) => eprintln!("dropped {}", c.name),
                Err(e) => eprintln!("warning: could not drop {}: {e}", c.name),
            }
        }
    }
}

criterion_group!(benches, filtered, filtered_ground_truth, dataset_generation);

fn main() {
    // Bad settings are reported before anything is generated or built.
    plan();
    benches();
    cleanup();
    Criterion::default().configure_from_args().final_summary();
    summary::finish("filtered");
}
