//! Throughput of exact ground truth, the suite's own heavy compute, in GFLOP/s.
//!
//! `ground_truth/<dim>`: exact top-100 of 1,000 queries over `QDRANT_PERF_GT_POINTS` points
//! (default 10,000). Criterion's "elements" are floating-point operations of the score matrix
//! (2 x points x queries x dim), so its `Gelem/s` reads as GFLOP/s. Compare it with a tuned BLAS
//! sgemm on the same machine: `python3 scripts/sgemm-reference.py`.
//!
//! `incremental_truth/{merge_batch,full_recompute}/768`: what keeping the exact top-10 of
//! 1,000 queries up to date costs per inserted point while a collection grows (`qdrant-perf
//! stream`): merging one batch of 100 new points into the kept heaps of a collection of
//! `QDRANT_PERF_GT_POINTS` points, against recomputing the exact top-10 over all of them after
//! that batch. Both count the batch's 100 points as criterion's elements, so `elem/s` reads as
//! inserted points per second of truth upkeep.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::BatchSize;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use qdrant_perf_report::bench::{BenchSetup, QualityRecord};

use common::summary;
use qdrant_perf_data::{
    DatasetSpec, GroundTruth, IncrementalTruth, Metric, Part, Vectors, generate, ground_truth,
};

const DIMS: [usize; 3] = [768, 1536, 4096];
const QUERIES: usize = 1_000;
const K: usize = 100;

fn bench_ground_truth(c: &mut Criterion) {
    let points = common::env_usize("QDRANT_PERF_GT_POINTS", 10_000);
    let mut group = c.benchmark_group("ground_truth");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for dim in DIMS {
        let spec = DatasetSpec::new(dim, points).with_queries(QUERIES);
        let base = generate(&spec, Part::Points).expect("points");
        let queries = generate(&spec, Part::Queries).expect("queries");
        group.throughput(Throughput::Elements(GroundTruth::flops(
            points, QUERIES, dim,
        )));
        let ran = std::cell::Cell::new(false);
        group.bench_with_input(BenchmarkId::from_parameter(dim), &dim, |b, _| {
            ran.set(true);
            b.iter(|| black_box(ground_truth(&base, &queries, K, Metric::Cosine, &|_| {}).unwrap()))
        });
        if ran.get() {
            summary::record(
                QualityRecord::new("ground_truth", None, Some(&dim.to_string()))
                    .with_setup(BenchSetup {
                        points: Some(points),
                        dim: Some(dim),
                        ..BenchSetup::default()
                    })
                    .with_note(format!("exact top-{K} of {QUERIES} queries (GEMM)")),
            );
        }
    }
    group.finish();
}

/// Points per insert batch of the incremental-truth group (the stream's default batch).
const STREAM_BATCH: usize = 100;

fn bench_incremental_truth(c: &mut Criterion) {
    let points = common::env_usize("QDRANT_PERF_GT_POINTS", 10_000).max(2 * STREAM_BATCH);
    let (dim, k) = (768, 10);
    let spec = DatasetSpec::new(dim, points).with_queries(QUERIES);
    let base = generate(&spec, Part::Points).expect("points");
    let queries = generate(&spec, Part::Queries).expect("queries");
    let before = points - STREAM_BATCH;
    let mut kept = IncrementalTruth::new(queries.clone(), k, Metric::Cosine).expect("truth");
    let ids: Vec<u32> = (0..before as u32).collect();
    kept.merge(&ids, &base.head(before)).expect("merge");
    let batch_ids: Vec<u32> = (before as u32..points as u32).collect();
    let batch = Vectors::new(dim, base.as_slice()[before * dim..].to_vec()).expect("batch");
    let mut group = c.benchmark_group("incremental_truth");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(STREAM_BATCH as u64));
    group.bench_function(BenchmarkId::new("merge_batch", dim), |b| {
        b.iter_batched_ref(
            || kept.clone(),
            |t| t.merge(black_box(&batch_ids), black_box(&batch)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.bench_function(BenchmarkId::new("full_recompute", dim), |b| {
        b.iter(|| black_box(ground_truth(&base, &queries, k, Metric::Cosine, &|_| {}).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench_ground_truth, bench_incremental_truth);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary::finish("groundtruth");
}
