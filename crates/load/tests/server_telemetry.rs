//! A run against a real Qdrant server (`QDRANT_URL`, or `QDRANT_BIN` started here) watched by
//! `Monitor::server`: the server's own `/telemetry` count of the run's searches, read at the
//! start of the recorded part and after its end, matches what the client sent, and the run's
//! text shows it beside the client's figure. Without a server the test says `skipped` (and fails
//! under CI: qdrant_perf_testkit).

use std::sync::Arc;
use std::time::Duration;

use qdrant_perf_data::{Dataset, DatasetSpec, Metric};
use qdrant_perf_load::driver::{self, LoadPlan, StopSignal};
use qdrant_perf_load::monitor::Monitor;
use qdrant_perf_load::target::{StoreCollection, StoreTarget};
use qdrant_perf_store::fixture::{self, load_collection};
use qdrant_perf_store::remote::telemetry::Telemetry;
use qdrant_perf_store::{AnyStore, Api, CollectionSpec, Guard, ServerConfig, Store};
use qdrant_perf_testkit::TestServer;

#[test]
fn a_runs_telemetry_counts_the_clients_searches_within_one_at_the_edge() {
    let Some(server) = TestServer::from_env() else {
        return;
    };
    let mut config = ServerConfig::parse(&server.rest_url(), Some(Api::Rest)).unwrap();
    config.index_timeout = Duration::from_secs(120);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("perf_test_run_telemetry_{}_{nanos}", std::process::id());
    let (points, queries, truth) =
        Dataset::generate(&DatasetSpec::new(32, 1_000).with_queries(20).with_k(10)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(
        rt.block_on(AnyStore::connect(&config, Guard::default()))
            .unwrap(),
    );
    rt.block_on(load_collection(
        &*store,
        &CollectionSpec::new(&name, 32, Metric::Cosine),
        &points,
        500,
    ))
    .unwrap();
    let target = Arc::new(StoreTarget::new(
        vec![StoreCollection::new(
            "telemetry",
            &name,
            store.clone(),
            fixture::queries(&queries, 10, Some(32)),
            truth,
            1.0,
        )],
        10,
    ));
    // 100 requests a second, one every 10 ms. The start's /telemetry is read at the first tick
    // of the recorded part and answered a millisecond or so later: a request answered in
    // between counts for the client and not the server. (In closed loop at full speed, about
    // 3,000 searches a second here, that was 4 requests: 5,949 sent, 5,945 counted.) At the
    // end the read comes after the drain, with nothing in flight.
    let mut plan = LoadPlan::open(100.0, Duration::from_secs(2));
    plan.warmup = Duration::from_millis(500);
    plan.label = "telemetry".into();
    let monitor = Monitor::server(
        Telemetry::for_config(&config, None).unwrap(),
        vec![name.clone()],
    );
    let r = rt
        .block_on(driver::run_monitored(
            target,
            &plan,
            &StopSignal::new(),
            &monitor,
        ))
        .unwrap();
    rt.block_on(store.drop_owned(&name)).unwrap();

    let side = r.server.as_ref().expect("the server side was watched");
    let node = &side.nodes[0];
    assert_eq!(node.telemetry_unreadable, None, "{node:?}");
    let (server_searches, mean_ms) = node.telemetry_searches().expect("/telemetry was read");
    let client = r.client_search_requests();
    assert_eq!(client, r.ok + r.errors, "only searches in the mix");
    assert!(client >= 150, "{client} searches in 2 s at 100/s");
    assert!(
        server_searches.abs_diff(client) <= 1,
        "the server counted {server_searches}, the client sent {client}"
    );
    assert!(mean_ms.unwrap() > 0.0, "{node:?}");
    // The server's count is of this window only, not the warm-up's or the loading's.
    let upserts: u64 = node
        .telemetry
        .iter()
        .flatten()
        .filter(|e| e.endpoint.contains("PUT"))
        .map(|e| e.requests)
        .sum();
    assert_eq!(upserts, 0, "{node:?}");

    let text = qdrant_perf_render::run_text(&r);
    let comparison = r.telemetry_comparison().unwrap();
    assert!(
        comparison.starts_with(&format!(
            "server /telemetry counted {server_searches} search requests (mean "
        )) && comparison.contains(&format!("the client sent {client} (ok+errors)")),
        "{comparison}"
    );
    assert!(text.contains(&comparison), "{text}");
    let telemetry_line = text
        .lines()
        .find(|l| {
            l.contains("/telemetry: rest POST /collections/{collection_name}/points/search 200: ")
        })
        .unwrap_or_else(|| panic!("no /telemetry line in {text}"));
    eprintln!("{telemetry_line}\n{comparison}");
}
