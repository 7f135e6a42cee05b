//! The HTTP target's request path on its own, without a network (the issue's lean request
//! path: what a request costs the load generator beyond the driver):
//!
//! - `requests/http_render_bodies/768`: rendering a `{{vector}}` body template once per
//!   held-out query before a run (1,000 queries of 768 dimensions; elements are bodies);
//! - `requests/http_request/768`: building one prepared HTTP/1.1 request (method, URI, headers
//!   and a reference-counted body: no copy of the 8 KB body);
//! - `requests/http_read_ids/10`: reading the result ids of a Qdrant REST answer of 10 hits with
//!   payloads down the `--ids-pointer` only, beside `requests/http_read_ids_value/10`, the same
//!   read through a whole `serde_json::Value` (what the target did before);
//! - the gRPC path of a search on a Qdrant server: `requests/grpc_build_encode/768`, building
//!   and encoding `SearchPoints` from a query (the vector copied in, as qdrant-client takes it:
//!   what each search cost before), beside `requests/grpc_prepared/768`, writing the query's
//!   prepared message (encoded once before the run) for its collection; and
//!   `requests/grpc_read_hits/10`, decoding a `SearchResponse` of 10 hits.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use prost::Message;
use qdrant_client::qdrant::{PointId, ScoredPoint, SearchResponse};
use qdrant_perf_data::Vectors;
use qdrant_perf_load::target::{DEFAULT_HTTP_BODY, HttpTarget};
use qdrant_perf_store::Query;
use qdrant_perf_store::remote::{GrpcStore, prepare_search, write_prepared};

// The summary page only: this suite links no engine, so not the whole `common`.
#[path = "common/summary.rs"]
mod summary;

const DIM: usize = 768;
const QUERIES: usize = 1_000;

fn queries() -> Vectors {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let data = (0..DIM * QUERIES)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    Vectors::new(DIM, data).expect("DIM x QUERIES floats")
}

/// A Qdrant REST search answer: 10 hits with payloads, and the server's time.
fn answer() -> Vec<u8> {
    let hits: Vec<String> = (0..10)
        .map(|i| {
            format!(
                r#"{{"id":{},"version":3,"score":0.{:04},"payload":{{"model":"deepcoder","text":"chunk {i} of a longer document","tags":["a","b"]}}}}"#,
                1000 + i * 37,
                9000 - i * 11
            )
        })
        .collect();
    format!(
        r#"{{"result":[{}],"status":"ok","time":0.000412}}"#,
        hits.join(",")
    )
    .into_bytes()
}

fn requests(c: &mut Criterion) {
    let q = queries();
    let url = "http://127.0.0.1:8080/api/v1/vectors/search";
    let timeout = Duration::from_secs(30);
    let mut group = c.benchmark_group("requests");
    group.throughput(Throughput::Elements(QUERIES as u64));
    group.bench_function(format!("http_render_bodies/{DIM}"), |b| {
        b.iter(|| HttpTarget::new(url, DEFAULT_HTTP_BODY, black_box(&q), 10, timeout).unwrap())
    });
    let target = HttpTarget::new(url, DEFAULT_HTTP_BODY, &q, 10, timeout).unwrap();
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function(format!("http_request/{DIM}"), |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES;
            target.request(0, black_box(i))
        })
    });
    let truth = qdrant_perf_data::GroundTruth::new(
        10,
        vec![vec![0; 10]; QUERIES],
        vec![vec![0.0; 10]; QUERIES],
    )
    .expect("10 ids per query");
    let with_recall = HttpTarget::new(url, DEFAULT_HTTP_BODY, &q, 10, timeout)
        .unwrap()
        .with_recall("/result", truth)
        .with_server_time_pointer("/time");
    let body = answer();
    let (ids, time) = with_recall.read_response(0, &body);
    assert_eq!(ids.as_ref().map(Vec::len), Some(10), "the answer's 10 ids");
    assert_eq!(time, Some(0.000412));
    group.bench_function("http_read_ids/10", |b| {
        b.iter(|| with_recall.read_response(0, black_box(&body)))
    });
    group.bench_function("http_read_ids_value/10", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(&body)).unwrap();
            let ids: Vec<u64> = v
                .pointer("/result")
                .and_then(|l| l.as_array())
                .map(|l| l.iter().filter_map(|h| h.get("id")?.as_u64()).collect())
                .unwrap_or_default();
            (ids, v.pointer("/time").and_then(|t| t.as_f64()))
        })
    });

    let searches: Vec<Query> = (0..QUERIES)
        .map(|i| Query::new(q.row(i).to_vec(), 10))
        .collect();
    let prepared: Vec<_> = searches.iter().map(prepare_search).collect();
    let mut wire = Vec::with_capacity(8 * 1024);
    group.bench_function(format!("grpc_build_encode/{DIM}"), |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES;
            wire.clear();
            GrpcStore::search_request("perf_deepcoder", black_box(&searches[i]))
                .encode(&mut wire)
                .expect("a Vec grows");
            wire.len()
        })
    });
    group.bench_function(format!("grpc_prepared/{DIM}"), |b| {
        b.iter(|| {
            i = (i + 1) % QUERIES;
            wire.clear();
            write_prepared(
                "perf_deepcoder",
                black_box(prepared[i].as_bytes()),
                &mut wire,
            );
            wire.len()
        })
    });
    let answer = SearchResponse {
        result: (0..10u64)
            .map(|i| ScoredPoint {
                id: Some(PointId::from(1000 + i * 37)),
                score: 0.9 - i as f32 * 0.01,
                version: 3,
                ..Default::default()
            })
            .collect(),
        time: 0.000412,
        usage: None,
    }
    .encode_to_vec();
    group.bench_function("grpc_read_hits/10", |b| {
        b.iter(|| SearchResponse::decode(black_box(answer.as_slice())).expect("a SearchResponse"))
    });
    group.finish();
}

criterion_group!(benches, requests);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary::finish("requests");
}
