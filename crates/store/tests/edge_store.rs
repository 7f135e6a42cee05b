//! The embedded engine behind the Store trait: real Qdrant indexes, built and searched.

use qdrant_perf_data::{Dataset, DatasetSpec, Metric, Vectors, mean_recall};
use qdrant_perf_store::fixture::{self, load_collection};
use qdrant_perf_store::{
    CollectionSpec, Created, EdgeStore, HnswParams, Point, Quantization, Query, Store, StoreError,
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn dataset(dim: usize, points: usize) -> (Vectors, Vectors, qdrant_perf_data::GroundTruth) {
    Dataset::generate(&DatasetSpec::new(dim, points).with_queries(100).with_k(10)).unwrap()
}

fn recall(
    store: &EdgeStore,
    name: &str,
    queries: &[Query],
    truth: &qdrant_perf_data::GroundTruth,
) -> f64 {
    let results: Vec<Vec<u64>> = queries
        .iter()
        .map(|q| {
            store
                .search_sync(name, q)
                .unwrap()
                .iter()
                .map(|h| h.id)
                .collect()
        })
        .collect();
    mean_recall(results.iter().map(Vec::as_slice), |i| truth.ids(i), 10)
}

#[test]
fn an_indexed_collection_finds_the_true_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    let (points, queries, truth) = dataset(64, 3_000);
    let spec = CollectionSpec::new("perf_recall", 64, Metric::Cosine);
    let loaded = rt()
        .block_on(load_collection(&store, &spec, &points, 500))
        .unwrap();
    assert!(!loaded.reused);
    assert_eq!(loaded.index.points, 3_000);
    assert_eq!(
        loaded.index.indexed_vectors, 3_000,
        "every point is in the HNSW index"
    );
    assert_eq!(store.count_sync("perf_recall").unwrap(), 3_000);

    let hnsw = fixture::queries(&queries, 10, Some(128));
    let r = recall(&store, "perf_recall", &hnsw, &truth);
    assert!(r > 0.9, "hnsw recall@10 {r}");
    let exact: Vec<Query> = hnsw.iter().cloned().map(Query::exact).collect();
    let r = recall(&store, "perf_recall", &exact, &truth);
    assert!(r > 0.995, "exact recall@10 {r}");

    // Scores are Qdrant's cosine similarities, the same as the ground truth's.
    let hits = store.search_sync("perf_recall", &exact[0]).unwrap();
    assert_eq!(hits.len(), 10);
    assert!((hits[0].score - truth.scores(0)[0]).abs() < 1e-4);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));

    let footprint = store.footprint_sync("perf_recall").unwrap();
    assert!(
        footprint.disk_bytes.unwrap() > 3_000 * 64 * 4,
        "vectors alone take 768 KB, got {footprint:?}"
    );
}

#[test]
fn a_built_index_is_reloaded_from_disk_not_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (points, queries, _) = dataset(32, 1_000);
    let spec = CollectionSpec::new("perf_cached", 32, Metric::Cosine);
    let q = Query::new(queries.row(0).to_vec(), 10).with_ef(64);
    let first_hits = {
        let store = EdgeStore::open(dir.path()).unwrap();
        let loaded = rt()
            .block_on(load_collection(&store, &spec, &points, 256))
            .unwrap();
        assert!(!loaded.reused);
        store.search_sync("perf_cached", &q).unwrap()
    };
    let store = EdgeStore::open(dir.path()).unwrap();
    assert_eq!(
        store.create_sync(&spec).unwrap(),
        Created::Existing { points: 1_000 }
    );
    let loaded = rt()
        .block_on(load_collection(&store, &spec, &points, 256))
        .unwrap();
    assert!(loaded.reused);
    assert_eq!(store.search_sync("perf_cached", &q).unwrap(), first_hits);

    // Another index parameter is another cached build.
    let other = spec.clone().with_hnsw(HnswParams {
        m: 8,
        ..HnswParams::default()
    });
    let store = EdgeStore::open(dir.path()).unwrap();
    assert_eq!(store.create_sync(&other).unwrap(), Created::New);
}

#[test]
fn an_interrupted_build_is_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let (points, _, _) = dataset(16, 300);
    let spec = CollectionSpec::new("perf_interrupted", 16, Metric::Cosine);
    {
        let store = EdgeStore::open(dir.path()).unwrap();
        store.create_sync(&spec).unwrap();
        rt().block_on(fixture::upload(&store, "perf_interrupted", &points, 100))
            .unwrap();
        // Never indexed: no completion marker is written.
    }
    let store = EdgeStore::open(dir.path()).unwrap();
    assert_eq!(store.create_sync(&spec).unwrap(), Created::New);
    assert_eq!(store.count_sync("perf_interrupted").unwrap(), 0);
}

#[test]
fn wrong_vector_lengths_are_refused_with_both_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    store
        .create_sync(&CollectionSpec::new("perf_dims", 8, Metric::Cosine))
        .unwrap();
    let bad = Point {
        id: 7,
        vector: vec![0.1; 7],
        payload: None,
    };
    let err = store.upsert_sync("perf_dims", &[bad]).unwrap_err();
    assert!(matches!(
        err,
        StoreError::WrongDimension {
            expected: 8,
            actual: 7,
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("point 7 has 7 floats") && msg.contains("dimension is 8"),
        "{msg}"
    );
    let err = store
        .search_sync("perf_dims", &Query::new(vec![0.5; 9], 3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("the query vector has 9 floats"), "{err}");
    assert_eq!(
        store.count_sync("perf_dims").unwrap(),
        0,
        "nothing was written"
    );
}

#[test]
fn searching_an_empty_collection_returns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    store
        .create_sync(&CollectionSpec::new("perf_empty", 4, Metric::Cosine))
        .unwrap();
    let hits = store
        .search_sync("perf_empty", &Query::new(vec![1.0, 0.0, 0.0, 0.0], 10))
        .unwrap();
    assert!(hits.is_empty());
    let state = store.wait_indexed_sync("perf_empty").unwrap();
    assert_eq!(state.points, 0);
}

#[test]
fn unknown_collections_and_foreign_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    store
        .create_sync(&CollectionSpec::new("perf_a", 4, Metric::Dot))
        .unwrap();
    let err = store
        .search_sync("perf_b", &Query::new(vec![0.0; 4], 1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown collection `perf_b`; open collections: perf_a"),
        "{err}"
    );

    let err = store
        .create_sync(&CollectionSpec::new("mixtral", 4, Metric::Cosine))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("refusing to create collection `mixtral`"),
        "{err}"
    );
    let err = store.drop_sync("mixtral").unwrap_err().to_string();
    assert!(err.contains("refusing to drop"), "{err}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() == 1,
        "only perf_a exists"
    );
}

#[test]
fn payloads_come_back_only_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    store
        .create_sync(&CollectionSpec::new("perf_payload", 2, Metric::Dot))
        .unwrap();
    let payload = serde_json::json!({"lang": "en", "n": 3});
    let point = Point {
        id: 42,
        vector: vec![1.0, 0.5],
        payload: payload.as_object().cloned(),
    };
    store.upsert_sync("perf_payload", &[point]).unwrap();
    store.wait_indexed_sync("perf_payload").unwrap();
    let q = Query::new(vec![1.0, 0.0], 1);
    let hit = &store.search_sync("perf_payload", &q).unwrap()[0];
    assert_eq!((hit.id, hit.payload.as_ref()), (42, None));
    let hit = &store
        .search_sync("perf_payload", &q.with_payload())
        .unwrap()[0];
    assert_eq!(hit.payload.as_ref(), payload.as_object());
    assert_eq!(hit.score, 1.0);
}

#[test]
fn a_collection_whose_upload_fails_is_dropped_by_the_call_that_created_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    // 4-float points for an 8-dimension collection: created, then the first batch is refused.
    let (points, _, _) = dataset(4, 50);
    let spec = CollectionSpec::new("perf_half", 8, Metric::Cosine);
    let err = rt()
        .block_on(load_collection(&store, &spec, &points, 16))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::WrongDimension { expected: 8, .. }),
        "{err:?}"
    );
    assert!(
        store.count_sync("perf_half").is_err(),
        "the half-made collection is gone"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // And the next attempt starts from nothing.
    let created = rt().block_on(store.create(&spec)).unwrap();
    assert_eq!(created, Created::New);
}

#[test]
fn dropping_removes_the_collection_and_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    let (points, _, _) = dataset(8, 200);
    let spec = CollectionSpec::new("perf_drop", 8, Metric::Cosine);
    rt().block_on(load_collection(&store, &spec, &points, 64))
        .unwrap();
    rt().block_on(store.drop_owned("perf_drop")).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(store.count_sync("perf_drop").is_err());
}

/// Why the throughput suite makes its upsert collection anew every 512 MiB: qdrant-edge 0.7.2
/// keeps every update in its write-ahead log (the embedded shard never truncates it), so
/// overwriting the same points again and again grows the collection's files by what was written.
#[test]
fn the_embedded_engine_keeps_every_upsert_in_its_write_ahead_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    let (dim, n, rounds) = (1024, 200, 100);
    let (points, _, _) = dataset(dim, n);
    let spec = CollectionSpec::new("perf_wal", dim, Metric::Cosine);
    rt().block_on(store.create(&spec)).unwrap();
    let batch: Vec<Point> = (0..n)
        .map(|i| Point {
            id: i as u64,
            vector: points.row(i).to_vec(),
            payload: None,
        })
        .collect();
    let disk = || {
        store
            .footprint_sync("perf_wal")
            .unwrap()
            .disk_bytes
            .unwrap()
    };
    store.upsert_sync("perf_wal", &batch).unwrap();
    let first = disk();
    for _ in 1..rounds {
        store.upsert_sync("perf_wal", &batch).unwrap();
    }
    assert_eq!(store.count_sync("perf_wal").unwrap(), n);
    let written = ((rounds - 1) * n * dim * 4) as u64;
    let grown = disk().saturating_sub(first);
    assert!(
        grown >= written * 3 / 4,
        "{n} points overwritten {rounds} times: the files grew by {grown} bytes of the \
         {written} written (from {first}); if qdrant-edge now truncates its log, the throughput \
         suite's WAL_BUDGET can go"
    );
}

#[test]
fn quantized_collections_search_with_rescoring() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    let (points, queries, truth) = dataset(128, 2_000);
    for (name, quantization, floor) in [
        (
            "perf_int8",
            Quantization::Scalar {
                quantile: Some(0.99),
                always_ram: true,
            },
            0.85,
        ),
        (
            "perf_binary",
            Quantization::Binary { always_ram: true },
            0.6,
        ),
    ] {
        let spec = CollectionSpec::new(name, 128, Metric::Cosine).with_quantization(quantization);
        rt().block_on(load_collection(&store, &spec, &points, 500))
            .unwrap();
        let qs: Vec<Query> = fixture::queries(&queries, 10, Some(128))
            .into_iter()
            .map(|q| Query {
                rescore: Some(true),
                oversampling: Some(3.0),
                ..q
            })
            .collect();
        let r = recall(&store, name, &qs, &truth);
        assert!(r > floor, "{name}: recall@10 {r}");
    }
}

#[test]
fn an_upload_with_several_batches_in_flight_stores_every_point_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    let (points, _, _) = dataset(8, 1_001);
    store
        .create_sync(&CollectionSpec::new("perf_inflight", 8, Metric::Cosine))
        .unwrap();
    rt().block_on(fixture::upload_with(&store, "perf_inflight", &points, 7, 3))
        .unwrap();
    assert_eq!(store.count_sync("perf_inflight").unwrap(), 1_001);
    // Every row went in under its own id: each point finds itself first by exact search.
    for i in [0usize, 500, 1_000] {
        let q = Query::new(points.row(i).to_vec(), 1).exact();
        assert_eq!(
            store.search_sync("perf_inflight", &q).unwrap()[0].id,
            i as u64
        );
    }
    let err = rt()
        .block_on(fixture::upload_with(&store, "perf_missing", &points, 7, 3))
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownCollection { .. }), "{err}");
}

#[test]
fn a_cached_index_open_elsewhere_is_reported_in_use_not_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (points, _, _) = dataset(16, 400);
    let spec = CollectionSpec::new("perf_shared", 16, Metric::Cosine);
    let first = EdgeStore::open(dir.path()).unwrap();
    rt().block_on(load_collection(&first, &spec, &points, 100))
        .unwrap();
    // A second store (as a second process would) while the first still holds the shard open.
    let second = EdgeStore::open(dir.path()).unwrap();
    let err = second.create_sync(&spec).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    // The first still has every point: nothing was deleted.
    assert_eq!(first.count_sync("perf_shared").unwrap(), 400);
    drop(first);
    assert_eq!(
        second.create_sync(&spec).unwrap(),
        Created::Existing { points: 400 }
    );
}

#[test]
fn a_store_whose_files_were_deleted_reports_it_on_close_instead_of_panicking() {
    let (points, _, _) = dataset(32, 500);
    let spec = CollectionSpec::new("perf_gone", 32, Metric::Cosine);
    for explicit in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let store = EdgeStore::open(dir.path()).unwrap();
        rt().block_on(load_collection(&store, &spec, &points, 100))
            .unwrap();
        let collection_dir = store.collection_dir(&spec);
        // The mistake this guards against: the files go while the engine still has them open.
        std::fs::remove_dir_all(dir.path()).unwrap();
        if explicit {
            match store.close() {
                Err(StoreError::Close {
                    collection,
                    path,
                    message,
                }) => {
                    assert_eq!(collection, "perf_gone");
                    assert_eq!(path, collection_dir);
                    // The engine's own words, without its Debug wrapping or a backtrace.
                    assert!(message.contains("No such file or directory"), "{message}");
                    assert!(!message.contains("backtrace"), "{message}");
                }
                other => panic!("expected a close error naming the collection, got {other:?}"),
            }
        } else {
            // Dropping prints a warning; the process (this test) goes on.
            drop(store);
        }
    }
}

#[test]
fn a_scratch_store_deletes_its_directory_only_after_closing_its_collections() {
    let (points, queries, truth) = dataset(32, 1_000);
    let spec = CollectionSpec::new("perf_scratch", 32, Metric::Cosine);
    let parent = tempfile::tempdir().unwrap();
    for explicit in [true, false] {
        let root = parent.path().join(format!("scratch-{explicit}"));
        let store = EdgeStore::open(&root).unwrap().remove_root_on_close();
        let loaded = rt()
            .block_on(load_collection(&store, &spec, &points, 250))
            .unwrap();
        assert_eq!(loaded.index.points, 1_000);
        let r = recall(
            &store,
            "perf_scratch",
            &fixture::queries(&queries, 10, Some(64)),
            &truth,
        );
        assert!(r > 0.9, "recall@10 {r}");
        assert!(root.exists());
        if explicit {
            store.close().unwrap();
        } else {
            drop(store);
        }
        assert!(!root.exists(), "{} is left behind", root.display());
    }
    // A store that is not scratch space keeps its files for the next run.
    let root = parent.path().join("kept");
    let store = EdgeStore::open(&root).unwrap();
    rt().block_on(load_collection(&store, &spec, &points, 250))
        .unwrap();
    store.close().unwrap();
    assert!(
        root.join(format!("perf_scratch-{}", spec.index_hash()))
            .exists()
    );
}

#[test]
fn deleted_points_are_counted_out_and_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    let spec = CollectionSpec::new("perf_deletes", 16, Metric::Euclid);
    rt().block_on(async {
        store.create(&spec).await.unwrap();
        qdrant_perf_testkit::store::assert_deletes_apply(&store, "perf_deletes", 16).await;
    });
}
