//! Throughput of exact ground truth, the suite's own heavy compute, in GFLOP/s.
//!
//! `ground_truth/<dim>`: exact top-100 of 1,000 queries over `QDRANT_PERF_GT_POINTS` points
//! (default 10,000). Criterion's "elements" are floating-point operations of the score matrix
//! (2 x points x queries x dim), so its `Gelem/s` reads as GFLOP/s. Compare it with a tuned BLAS
//! sgemm on the same machine: `python3 scripts/sgemm-reference.py`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use qdrant_perf_data::{DatasetSpec, GroundTruth, Metric, Part, generate, ground_truth};

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
        group.bench_with_input(BenchmarkId::from_parameter(dim), &dim, |b, _| {
            b.iter(|| black_box(ground_truth(&base, &queries, K, Metric::Cosine, &|_| {}).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_ground_truth);
criterion_main!(benches);
