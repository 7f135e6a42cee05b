//! The gRPC and REST stores against a real Qdrant server: `QDRANT_URL` (a running server) or
//! `QDRANT_BIN` (a qdrant executable started here on free loopback ports). With neither, each
//! test prints `skipped: no Qdrant server ...` (and fails under CI: qdrant_perf_testkit).

use std::time::{Duration, Instant};

use qdrant_perf_data::{Dataset, DatasetSpec, GroundTruth, Metric, Vectors, mean_recall};
use qdrant_perf_store::fixture::{self, load_collection};
use qdrant_perf_store::{
    Api, ApiKey, CollectionSpec, Created, GrpcStore, Guard, Query, RestStore, ServerConfig, Store,
    StoreError,
};
use qdrant_perf_testkit::TestServer;
use qdrant_perf_testkit::qdrant::LocalServer;
use serde_json::json;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A collection name no other test (or run) uses.
fn unique(stem: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("perf_test_{stem}_{}_{nanos}", std::process::id())
}

fn grpc_config(server: &TestServer) -> ServerConfig {
    let mut c = ServerConfig::parse(&server.grpc_url(), Some(Api::Grpc)).unwrap();
    c.api_key = std::env::var("QDRANT_API_KEY").ok().map(ApiKey::new);
    c.index_timeout = Duration::from_secs(120);
    c
}

fn rest_config(server: &TestServer) -> ServerConfig {
    let mut c = ServerConfig::parse(&server.rest_url(), Some(Api::Rest)).unwrap();
    c.api_key = std::env::var("QDRANT_API_KEY").ok().map(ApiKey::new);
    c.index_timeout = Duration::from_secs(120);
    c
}

fn small_dataset() -> (Vectors, Vectors, GroundTruth) {
    Dataset::generate(&DatasetSpec::new(64, 2_000).with_queries(50).with_k(10)).unwrap()
}

async fn ids<S: Store>(store: &S, name: &str, queries: &[Query]) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    for q in queries {
        let r = store.search(name, q).await.unwrap();
        out.push(r.hits.iter().map(|h| h.id).collect());
    }
    out
}

#[test]
fn grpc_and_rest_index_search_and_agree() {
    let Some(server) = TestServer::from_env() else {
        return;
    };
    let rt = rt();
    let (points, queries, truth) = small_dataset();
    let name = unique("agree");
    rt.block_on(async {
        let grpc = GrpcStore::connect(&grpc_config(&server), Guard::default())
            .await
            .unwrap();
        let rest = RestStore::connect(&rest_config(&server), Guard::default())
            .await
            .unwrap();
        assert!(
            grpc.server_version().starts_with("1."),
            "{}",
            grpc.server_version()
        );
        assert_eq!(grpc.server_version(), rest.server_version());

        let spec = CollectionSpec::new(&name, 64, Metric::Cosine);
        let loaded = load_collection(&grpc, &spec, &points, 256).await.unwrap();
        assert!(!loaded.reused);
        assert_eq!(loaded.index.points, 2_000);
        assert!(loaded.index.indexed_vectors >= 2_000, "{loaded:?}");
        assert_eq!(rest.count(&name).await.unwrap(), 2_000);

        // Uploading again is skipped: the collection already holds the dataset.
        let again = load_collection(&rest, &spec, &points, 256).await.unwrap();
        assert!(again.reused);

        let qs = fixture::queries(&queries, 10, Some(128));
        let by_grpc = ids(&grpc, &name, &qs).await;
        let by_rest = ids(&rest, &name, &qs).await;
        assert_eq!(
            by_grpc, by_rest,
            "the same queries give the same top-10 over both APIs"
        );
        let recall = mean_recall(by_grpc.iter().map(Vec::as_slice), |i| truth.ids(i), 10);
        assert!(recall > 0.9, "recall@10 {recall}");

        // The server reports its own time, and it is part of what the client measured.
        let started = Instant::now();
        let r = grpc.search(&name, &qs[0]).await.unwrap();
        let client = started.elapsed().as_secs_f64();
        let server_time = r
            .server_seconds
            .expect("gRPC responses carry the server's time");
        assert!(
            server_time > 0.0 && server_time < client,
            "{server_time} vs {client}"
        );
        let b = rest.search_batch(&name, &qs[..5]).await.unwrap();
        assert_eq!(b.results.len(), 5);
        assert_eq!(
            b.results[0].iter().map(|h| h.id).collect::<Vec<_>>(),
            by_grpc[0]
        );
        assert!(b.server_seconds.is_some());

        grpc.drop_owned(&name).await.unwrap();
        assert!(!rest.exists(&name).await.unwrap());
    });
}

#[test]
fn deletes_over_grpc_and_rest_are_counted_out_and_never_returned() {
    let Some(server) = TestServer::from_env() else {
        return;
    };
    rt().block_on(async {
        let grpc = GrpcStore::connect(&grpc_config(&server), Guard::default())
            .await
            .unwrap();
        let rest = RestStore::connect(&rest_config(&server), Guard::default())
            .await
            .unwrap();
        deletes_apply(&grpc, &unique("deletes_grpc")).await;
        deletes_apply(&rest, &unique("deletes_rest")).await;
    });
}

/// [`qdrant_perf_testkit::store::assert_deletes_apply`] on a new collection, dropped after.
async fn deletes_apply<S: Store>(store: &S, name: &str) {
    store
        .create(&CollectionSpec::new(name, 16, Metric::Euclid))
        .await
        .unwrap();
    qdrant_perf_testkit::store::assert_deletes_apply(store, name, 16).await;
    store.drop_owned(name).await.unwrap();
}

#[test]
fn foreign_collections_are_never_written_or_dropped() {
    let Some(server) = TestServer::from_env() else {
        return;
    };
    let rt = rt();
    let foreign = format!("production_like_{}", std::process::id());
    rt.block_on(async {
        let grpc = GrpcStore::connect(&grpc_config(&server), Guard::default()).await.unwrap();
        let rest_url = rest_config(&server).urls[0].clone();
        // Make a collection the suite did not create, the way another tool would.
        let http = reqwest::Client::new();
        let key = std::env::var("QDRANT_API_KEY").unwrap_or_default();
        let put = |path: String, body: serde_json::Value| {
            http.put(format!("{rest_url}{path}")).header("api-key", &key).json(&body).send()
        };
        put(format!("/collections/{foreign}"), json!({"vectors": {"size": 4, "distance": "Dot"}}))
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        put(
            format!("/collections/{foreign}/points?wait=true"),
            json!({"points": [{"id": 1, "vector": [1, 0, 0, 0]}, {"id": 2, "vector": [0, 1, 0, 0]}]}),
        )
        .await
        .unwrap()
        .error_for_status()
        .unwrap();

        let point = qdrant_perf_store::Point { id: 3, vector: vec![0.0; 4], payload: None };
        for err in [
            grpc.upsert(&foreign, &[point]).await.unwrap_err(),
            grpc.drop_owned(&foreign).await.unwrap_err(),
            grpc.create(&CollectionSpec::new(&foreign, 4, Metric::Dot)).await.unwrap_err(),
        ] {
            assert!(matches!(err, StoreError::NotOwned { .. }), "{err}");
            assert!(err.to_string().contains(&foreign), "{err}");
        }
        // Reading it is fine, and it is untouched.
        assert_eq!(grpc.count(&foreign).await.unwrap(), 2);
        let hits = grpc.search(&foreign, &Query::new(vec![1.0, 0.0, 0.0, 0.0], 1)).await.unwrap();
        assert_eq!(hits.hits[0].id, 1);

        http.delete(format!("{rest_url}/collections/{foreign}"))
            .header("api-key", &key)
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn a_prefixed_collection_with_other_dimensions_is_not_reused() {
    let Some(server) = TestServer::from_env() else {
        return;
    };
    let rt = rt();
    let name = unique("conflict");
    rt.block_on(async {
        for config in [grpc_config(&server), rest_config(&server)] {
            let store = qdrant_perf_store::AnyStore::connect(&config, Guard::default())
                .await
                .unwrap();
            assert_eq!(
                store
                    .create(&CollectionSpec::new(&name, 8, Metric::Cosine))
                    .await
                    .unwrap(),
                if config.api == Api::Grpc {
                    Created::New
                } else {
                    Created::Existing { points: 0 }
                }
            );
            let err = store
                .create(&CollectionSpec::new(&name, 16, Metric::Cosine))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("exists with dimension 8"), "{err}");
            assert!(err.contains("spec says dimension 16"), "{err}");
        }
        let store = qdrant_perf_store::AnyStore::connect(&grpc_config(&server), Guard::default())
            .await
            .unwrap();
        store.drop_owned(&name).await.unwrap();
    });
}

#[test]
fn wrong_dimensions_are_reported_by_the_server() {
    let Some(server) = TestServer::from_env() else {
        return;
    };
    let rt = rt();
    let name = unique("dims");
    rt.block_on(async {
        let grpc = GrpcStore::connect(&grpc_config(&server), Guard::default())
            .await
            .unwrap();
        let rest = RestStore::connect(&rest_config(&server), Guard::default())
            .await
            .unwrap();
        grpc.create(&CollectionSpec::new(&name, 8, Metric::Cosine))
            .await
            .unwrap();
        let bad = qdrant_perf_store::Point {
            id: 1,
            vector: vec![0.5; 7],
            payload: None,
        };
        for err in [
            grpc.upsert(&name, std::slice::from_ref(&bad))
                .await
                .unwrap_err()
                .to_string(),
            rest.upsert(&name, std::slice::from_ref(&bad))
                .await
                .unwrap_err()
                .to_string(),
            rest.search(&name, &Query::new(vec![0.5; 9], 3))
                .await
                .unwrap_err()
                .to_string(),
        ] {
            assert!(
                err.contains(&name) && err.to_lowercase().contains("dimension"),
                "{err}"
            );
        }
        assert!(
            rest.search(&name, &Query::new(vec![0.5; 8], 3))
                .await
                .unwrap()
                .hits
                .is_empty()
        );
        grpc.drop_owned(&name).await.unwrap();
    });
}

#[test]
fn an_unreachable_server_fails_fast_and_names_the_url() {
    // Nothing listens on a port we just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rt = rt();
    for url in [
        format!("grpc://127.0.0.1:{port}"),
        format!("rest+http://127.0.0.1:{port}"),
    ] {
        let config = ServerConfig::parse(&url, None).unwrap();
        let started = Instant::now();
        let err = rt
            .block_on(qdrant_perf_store::AnyStore::connect(
                &config,
                Guard::default(),
            ))
            .err()
            .unwrap();
        assert!(started.elapsed() < config.connect_timeout + Duration::from_secs(2));
        assert!(
            matches!(err, StoreError::Unreachable { .. }),
            "{url}: {err}"
        );
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
    }
}

/// Tests that need a server of their own (an API key, or one to kill) start it from QDRANT_BIN.
fn own_server(api_key: Option<&str>) -> Option<LocalServer> {
    let bin = qdrant_perf_testkit::qdrant_bin()?;
    Some(LocalServer::start(&bin, api_key).unwrap())
}

#[test]
fn a_wrong_api_key_says_authentication_failed_and_never_shows_the_key() {
    let Some(server) = own_server(Some("the-right-key")) else {
        return;
    };
    let rt = rt();
    for url in [server.grpc_url(), server.rest_url()] {
        let config = ServerConfig::parse(&url, None)
            .unwrap()
            .with_api_key(Some(ApiKey::new("a-wrong-key")));
        let err = rt
            .block_on(qdrant_perf_store::AnyStore::connect(
                &config,
                Guard::default(),
            ))
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Auth { .. }), "{url}: {msg}");
        assert!(
            msg.contains("authentication failed") && msg.contains("QDRANT_API_KEY"),
            "{msg}"
        );
        assert!(
            !msg.contains("a-wrong-key") && !msg.contains("the-right-key"),
            "{msg}"
        );

        let config = config.with_api_key(Some(ApiKey::new("the-right-key")));
        let store = rt
            .block_on(qdrant_perf_store::AnyStore::connect(
                &config,
                Guard::default(),
            ))
            .unwrap();
        assert!(store.engine_version().starts_with("qdrant 1."));
    }
    // /telemetry is read with the key too: the right one is let in, a wrong one is named.
    let rest = ServerConfig::parse(&server.rest_url(), None).unwrap();
    for (key, ok) in [("the-right-key", true), ("a-wrong-key", false)] {
        let config = rest.clone().with_api_key(Some(ApiKey::new(key)));
        let telemetry =
            qdrant_perf_store::remote::telemetry::Telemetry::for_config(&config, None).unwrap();
        let read = rt.block_on(telemetry.telemetry_each()).pop().unwrap();
        match read {
            Ok(s) => assert!(ok && !s.responses.is_empty(), "{s:?}"),
            Err(e) => assert!(
                !ok && matches!(e, StoreError::Auth { .. }) && !e.to_string().contains(key),
                "{e}"
            ),
        }
    }
}

/// A search prepared once (its protobuf encoded before the run, as `load` does for every
/// held-out query) gets the answer of the search built per request, sends the API key, and
/// works for filtered and tuned queries; a REST store prepares nothing.
#[test]
fn prepared_grpc_searches_answer_as_built_ones_and_send_the_api_key() {
    let Some(server) = own_server(Some("the-right-key")) else {
        return;
    };
    let rt = rt();
    let (points, queries, truth) = small_dataset();
    let name = unique("prepared");
    rt.block_on(async {
        let config = ServerConfig::parse(&server.grpc_url(), Some(Api::Grpc))
            .unwrap()
            .with_api_key(Some(ApiKey::new("the-right-key")));
        let grpc = GrpcStore::connect(&config, Guard::default()).await.unwrap();
        let spec = CollectionSpec::new(&name, 64, Metric::Cosine);
        load_collection(&grpc, &spec, &points, 256).await.unwrap();
        let mut qs = fixture::queries(&queries, 10, Some(128));
        qs[1].with_payload = true;
        qs[2].exact = true;
        let mut prepared_ids = Vec::new();
        for q in &qs {
            let prepared = grpc.prepare(q).expect("a plain http:// server prepares");
            let by_prepared = grpc.search_prepared(&name, q, &prepared).await.unwrap();
            let built = grpc.search(&name, q).await.unwrap();
            assert_eq!(by_prepared.hits, built.hits, "the same answer either way");
            assert!(by_prepared.server_seconds.is_some_and(|t| t > 0.0));
            assert_eq!(
                by_prepared.node.as_deref(),
                Some(server.grpc_url().as_str())
            );
            prepared_ids.push(by_prepared.hits.iter().map(|h| h.id).collect::<Vec<_>>());
        }
        assert!(qs[1].with_payload && prepared_ids[1].len() == 10);
        let recall = mean_recall(prepared_ids.iter().map(Vec::as_slice), |i| truth.ids(i), 10);
        assert!(recall > 0.9, "recall@10 of the prepared searches: {recall}");
        // A search of a collection that is not there fails as the built one does.
        let err = grpc
            .search_prepared("perf_test_no_such", &qs[0], &grpc.prepare(&qs[0]).unwrap())
            .await
            .expect_err("an unknown collection is an error");
        assert!(err.to_string().contains("perf_test_no_such"), "{err}");

        let rest_config = ServerConfig::parse(&server.rest_url(), Some(Api::Rest))
            .unwrap()
            .with_api_key(Some(ApiKey::new("the-right-key")));
        let rest = RestStore::connect(&rest_config, Guard::default())
            .await
            .unwrap();
        assert!(rest.prepare(&qs[0]).is_none());
        grpc.drop_owned(&name).await.unwrap();
    });
}

/// EncodedQuery searches go on an HTTP/2 connection of their own: while the server is down (killed)
/// they fail as unreachable, and once it is back the next search opens a new connection and
/// answers as before, with the key.
#[test]
fn prepared_grpc_searches_reconnect_after_the_server_restarts() {
    let Some(mut server) = own_server(Some("the-right-key")) else {
        return;
    };
    let rt = rt();
    let (points, queries, _) = small_dataset();
    let name = unique("reconnect");
    let config = ServerConfig::parse(&server.grpc_url(), Some(Api::Grpc))
        .unwrap()
        .with_api_key(Some(ApiKey::new("the-right-key")));
    let q = &fixture::queries(&queries, 10, Some(128))[0];
    let (grpc, before) = rt.block_on(async {
        let grpc = GrpcStore::connect(&config, Guard::default()).await.unwrap();
        let spec = CollectionSpec::new(&name, 64, Metric::Cosine);
        load_collection(&grpc, &spec, &points, 256).await.unwrap();
        let before = grpc
            .search_prepared(&name, q, &grpc.prepare(q).unwrap())
            .await
            .unwrap();
        (grpc, before)
    });
    assert_eq!(before.hits.len(), 10);
    server.kill();
    let down = rt
        .block_on(grpc.search_prepared(&name, q, &grpc.prepare(q).unwrap()))
        .expect_err("a killed server does not answer");
    assert!(matches!(down, StoreError::Unreachable { .. }), "{down}");
    server.restart().unwrap();
    rt.block_on(async {
        // The collection and its points survive the restart (Qdrant's storage is on disk); the
        // first searches may meet it still loading.
        let mut answer = None;
        for _ in 0..100 {
            match grpc
                .search_prepared(&name, q, &grpc.prepare(q).unwrap())
                .await
            {
                Ok(a) => {
                    answer = Some(a);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let after = answer.expect("prepared searches answer again after the restart");
        assert_eq!(after.hits, before.hits, "the same answer after the restart");

        grpc.drop_owned(&name).await.unwrap();
    });
}

#[test]
fn a_server_killed_mid_upload_ends_the_upload_with_an_error() {
    let Some(mut server) = own_server(None) else {
        return;
    };
    let rt = rt();
    let (points, _, _) = Dataset::generate(&DatasetSpec::new(256, 20_000).with_queries(1)).unwrap();
    let config = ServerConfig::parse(&server.grpc_url(), None).unwrap();
    let name = unique("killed");
    rt.block_on(async {
        let store = GrpcStore::connect(&config, Guard::default()).await.unwrap();
        store
            .create(&CollectionSpec::new(&name, 256, Metric::Cosine))
            .await
            .unwrap();
        let upload = fixture::upload(&store, &name, &points, 64);
        let kill = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            server.kill();
        };
        let (result, ()) = tokio::join!(upload, kill);
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Unreachable { .. } | StoreError::Engine { .. }
            ),
            "{err}"
        );
    });
    assert!(!server.is_running());
}

/// Makes a collection the suite did not create, the way another tool would: `n` points of
/// `dim` dimensions through the REST API. Returns a closure-free handle for clean-up.
async fn foreign_collection(rest_url: &str, name: &str, points: &Vectors) {
    let http = reqwest::Client::new();
    let key = std::env::var("QDRANT_API_KEY").unwrap_or_default();
    http.put(format!("{rest_url}/collections/{name}"))
        .header("api-key", &key)
        .json(&json!({"vectors": {"size": points.dim(), "distance": "Cosine"}}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let body: Vec<serde_json::Value> = (0..points.len())
        .map(|i| json!({"id": i, "vector": points.row(i)}))
        .collect();
    http.put(format!("{rest_url}/collections/{name}/points?wait=true"))
        .header("api-key", &key)
        .json(&json!({ "points": body }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
}

async fn delete_foreign(rest_url: &str, name: &str) {
    let key = std::env::var("QDRANT_API_KEY").unwrap_or_default();
    reqwest::Client::new()
        .delete(format!("{rest_url}/collections/{name}"))
        .header("api-key", &key)
        .send()
        .await
        .unwrap();
}

#[test]
fn read_only_runs_sample_a_foreign_collection_and_judge_recall_against_exact_search() {
    use qdrant_perf_store::AnyStore;
    use qdrant_perf_store::readonly::ReadOnlyWorkload;
    let Some(server) = TestServer::from_env() else {
        return;
    };
    let rt = rt();
    let foreign = format!("readonly_like_{}", std::process::id());
    let (points, _, _) = small_dataset();
    let rest_url = rest_config(&server).urls[0].clone();
    rt.block_on(async {
        foreign_collection(&rest_url, &foreign, &points).await;
        for config in [grpc_config(&server), rest_config(&server)] {
            let store = AnyStore::connect(&config, Guard::default()).await.unwrap();
            let w = ReadOnlyWorkload::prepare(&store, &foreign, 40, 10, Some(64))
                .await
                .unwrap();
            assert_eq!((w.dim, w.points, w.queries.len()), (64, 2_000, 40));
            assert!(
                ["green", "yellow", "grey"].contains(&w.status.as_str()),
                "{}",
                w.status
            );
            assert!(
                w.describe_state().starts_with("2000 points, "),
                "{}",
                w.describe_state()
            );
            assert!(
                w.truth.iter().all(|t| t.len() == 10),
                "exact top-10 for each query"
            );
            // Queries are midpoints of the collection's own points, never a stored point: the
            // exact nearest neighbour is not at distance zero.
            let first = store
                .search(
                    &foreign,
                    &Query::new(w.queries[0].vector.clone(), 1).exact(),
                )
                .await
                .unwrap();
            assert!(first.hits[0].score < 0.9999, "{:?}", first.hits[0]);
            let mut results = Vec::new();
            for q in &w.queries {
                results.push(
                    store
                        .search(&foreign, q)
                        .await
                        .unwrap()
                        .hits
                        .iter()
                        .map(|h| h.id)
                        .collect(),
                );
            }
            let recall = w.recall(&results);
            assert!(recall > 0.8 && recall <= 1.0, "{recall}");
            // Against the wrong answers, recall falls: the figure measures something.
            let shifted: Vec<Vec<u64>> = results
                .iter()
                .map(|r| r.iter().map(|id| (id + 1) % 2_000).collect())
                .collect();
            assert!(w.recall(&shifted) < recall / 2.0);
            // Nothing was written: same points, and the guard still refuses writes.
            assert_eq!(store.count(&foreign).await.unwrap(), 2_000);
            assert!(matches!(
                store.drop_owned(&foreign).await.unwrap_err(),
                StoreError::NotOwned { .. }
            ));
        }
        let store = AnyStore::connect(&grpc_config(&server), Guard::default())
            .await
            .unwrap();
        let missing = ReadOnlyWorkload::prepare(&store, "no_such_collection", 5, 10, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("no_such_collection"), "{missing}");
        delete_foreign(&rest_url, &foreign).await;
    });
}

#[test]
fn server_telemetry_counts_the_run_and_finds_a_local_server_process() {
    use qdrant_perf_store::remote::telemetry::{LocalProcess, Telemetry};
    let Some(server) = TestServer::from_env() else {
        return;
    };
    let rt = rt();
    let (points, queries, _) = small_dataset();
    let name = unique("telemetry");
    let config = rest_config(&server);
    rt.block_on(async {
        let rest = RestStore::connect(&config, Guard::default()).await.unwrap();
        load_collection(
            &rest,
            &CollectionSpec::new(&name, 64, Metric::Cosine),
            &points,
            500,
        )
        .await
        .unwrap();
        let telemetry = Telemetry::for_config(&config, None).unwrap();
        let before = telemetry.snapshot().await.unwrap();
        let qs = fixture::queries(&queries, 10, Some(64));
        for q in &qs {
            rest.search(&name, q).await.unwrap();
        }
        let after = telemetry.snapshot().await.unwrap();
        let delta = &telemetry.deltas(&before, &after)[0];
        // The server counted exactly the searches this run sent (snapshots read /metrics, not
        // a search endpoint).
        assert_eq!(
            delta.requests_matching("/points/search"),
            qs.len() as u64,
            "{delta:?}"
        );
        let search = delta
            .endpoints
            .iter()
            .find(|e| e.endpoint.contains("/points/search"))
            .unwrap();
        assert!(
            search.mean_ms.unwrap() > 0.0 && search.p95_at_most_ms.is_some(),
            "{search:?}"
        );
        assert!(delta.vectors_after.unwrap() >= 2_000.0, "{delta:?}");
        assert!(
            delta.version.as_deref().unwrap_or("").starts_with("1."),
            "{delta:?}"
        );
        rest.drop_owned(&name).await.unwrap();
    });
    if let TestServer::Started(local) = &server {
        let process = LocalProcess::for_url(&config.urls[0]).expect("the test server's process");
        let s = process.sample().unwrap();
        assert!(s.cpu_seconds > 0.0 && s.rss_bytes > 10 << 20, "{s:?}");
        assert_ne!(process.pid, std::process::id());
        let _ = local;
    }
}

#[test]
fn server_telemetry_endpoint_counts_exactly_the_searches_sent_over_rest_and_grpc() {
    use qdrant_perf_report::server::is_search_endpoint;
    use qdrant_perf_store::remote::telemetry::{Telemetry, telemetry_delta};
    let Some(server) = TestServer::from_env() else {
        return;
    };
    let rt = rt();
    let (points, queries, _) = small_dataset();
    let name = unique("telemetry_endpoint");
    let config = rest_config(&server);
    rt.block_on(async {
        let rest = RestStore::connect(&config, Guard::default()).await.unwrap();
        let grpc = GrpcStore::connect(&grpc_config(&server), Guard::default())
            .await
            .unwrap();
        load_collection(
            &rest,
            &CollectionSpec::new(&name, 64, Metric::Cosine),
            &points,
            500,
        )
        .await
        .unwrap();
        let telemetry = Telemetry::for_config(&config, None).unwrap();
        // /metrics read in between, as a run does once a second: not a search, and left out.
        let before = telemetry.telemetry_each().await.pop().unwrap().unwrap();
        telemetry.snapshot().await.unwrap();
        let qs = fixture::queries(&queries, 10, Some(64));
        for q in &qs[..13] {
            rest.search(&name, q).await.unwrap();
        }
        for q in &qs[..7] {
            grpc.search(&name, q).await.unwrap();
        }
        telemetry.snapshot().await.unwrap();
        let after = telemetry.telemetry_each().await.pop().unwrap().unwrap();
        let delta = telemetry_delta(&before, &after);
        let searches = |api: &str| -> Vec<_> {
            delta
                .iter()
                .filter(|e| e.api == api && is_search_endpoint(&e.endpoint))
                .collect()
        };
        let (rest_searches, grpc_searches) = (searches("rest"), searches("grpc"));
        assert_eq!(rest_searches.len(), 1, "{delta:?}");
        assert_eq!(
            (
                rest_searches[0].endpoint.as_str(),
                rest_searches[0].status.as_str(),
                rest_searches[0].requests
            ),
            (
                "POST /collections/{collection_name}/points/search",
                "200",
                13
            ),
            "{delta:?}"
        );
        assert_eq!(grpc_searches.len(), 1, "{delta:?}");
        assert_eq!(
            (
                grpc_searches[0].endpoint.as_str(),
                grpc_searches[0].status.as_str(),
                grpc_searches[0].requests
            ),
            ("/qdrant.Points/Search", "0", 7),
            "{delta:?}"
        );
        for e in rest_searches.iter().chain(&grpc_searches) {
            assert!(e.mean_ms.unwrap() > 0.0, "{e:?}");
        }
        // The suite's own GET /metrics and GET /telemetry are not reported.
        assert!(
            delta
                .iter()
                .all(|e| !e.endpoint.contains("/metrics") && !e.endpoint.contains("/telemetry")),
            "{delta:?}"
        );
        rest.drop_owned(&name).await.unwrap();
    });
}

#[test]
fn a_three_node_cluster_spreads_searches_over_its_nodes_and_answers_alike_on_each() {
    use qdrant_perf_store::remote::telemetry::Telemetry;
    // A cluster is started here (an external QDRANT_URL is one server, not three).
    let Some(bin) = qdrant_perf_testkit::qdrant_bin() else {
        return;
    };
    let nodes = LocalServer::start_cluster(std::path::Path::new(&bin), 3)
        .expect("QDRANT_BIN is set but the cluster did not form");
    let grpc_urls: Vec<String> = nodes.iter().map(LocalServer::grpc_url).collect();
    let rest_urls: Vec<String> = nodes
        .iter()
        .map(|n| format!("http://127.0.0.1:{}", n.http_port))
        .collect();
    let mut config = ServerConfig::parse(&grpc_urls.join(","), Some(Api::Grpc)).unwrap();
    config.index_timeout = Duration::from_secs(120);
    assert_eq!(config.urls.len(), 3);
    let (points, queries, truth) = small_dataset();
    let name = unique("cluster");
    let rt = rt();
    rt.block_on(async {
        let grpc = GrpcStore::connect(&config, Guard::default()).await.unwrap();
        let mut spec = CollectionSpec::new(&name, 64, Metric::Cosine);
        spec.shards = Some(3);
        spec.replication = Some(2);
        load_collection(&grpc, &spec, &points, 250).await.unwrap();

        // Three shards, two replicas each, spread over the peers.
        let cluster: serde_json::Value =
            reqwest::get(format!("{}/collections/{name}/cluster", rest_urls[0]))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let r = &cluster["result"];
        let replicas = r["local_shards"].as_array().unwrap().len()
            + r["remote_shards"].as_array().unwrap().len();
        assert_eq!(
            (r["shard_count"].as_u64(), replicas),
            (Some(3), 6),
            "{cluster}"
        );

        let telemetry = Telemetry::new(rest_urls.clone(), None).unwrap();
        let before = telemetry.snapshot().await.unwrap();
        // Every query three times: the store sends them to the nodes in turn.
        let qs = fixture::queries(&queries, 10, Some(64));
        let mut per_query = Vec::new();
        for q in &qs {
            let mut answers = Vec::new();
            for _ in 0..3 {
                answers.push(
                    grpc.search(&name, q)
                        .await
                        .unwrap()
                        .hits
                        .iter()
                        .map(|h| h.id)
                        .collect::<Vec<u64>>(),
                );
            }
            assert!(
                answers.windows(2).all(|w| w[0] == w[1]),
                "nodes disagree: {answers:?}"
            );
            per_query.push(answers.swap_remove(0));
        }
        let after = telemetry.snapshot().await.unwrap();
        let recall = mean_recall(per_query.iter().map(Vec::as_slice), |i| truth.ids(i), 10);
        assert!(recall > 0.9, "{recall}");
        // Each node answered a third of the searches itself.
        for delta in telemetry.deltas(&before, &after) {
            assert_eq!(
                delta.requests_matching("/qdrant.Points/Search"),
                qs.len() as u64,
                "{delta:?}"
            );
        }
        assert_eq!(grpc.count(&name).await.unwrap(), 2_000);
        grpc.drop_owned(&name).await.unwrap();
    });
}
