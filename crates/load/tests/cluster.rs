//! A lost cluster node (issue #22 item 2), against a real 3-node Qdrant cluster started from
//! `QDRANT_BIN`: a collection with 3 shards and replication factor 2 (every node holds shards,
//! every shard is on two nodes), a fixed-rate run over all three node URLs, and one node (not the
//! first, which began the cluster) killed mid-run. The run finishes; the other nodes answer every
//! request sent to them; the errors are the killed node's only, counted by kind and by node, and
//! few (it is left out while it backs off, so it does not take its third of the requests down);
//! the report names the node and the second it was lost (and came back, when restarted); the
//! verdict says the run lost a node.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qdrant_perf_data::{Dataset, DatasetSpec, Metric};
use qdrant_perf_load::driver::{self, LoadPlan, RunResult, StopSignal};
use qdrant_perf_load::target::{StoreCollection, StoreTarget};
use qdrant_perf_render::{markdown, run_text};
use qdrant_perf_report::checks::{self, Bound, Check, Verdict};
use qdrant_perf_report::report::{Report, TargetInfo};
use qdrant_perf_store::fixture::{self, load_collection};
use qdrant_perf_store::{AnyStore, Api, CollectionSpec, Guard, ServerConfig, Store};
use qdrant_perf_testkit::qdrant::LocalServer;

/// One cluster at a time: two would share the 2 cores the kill times are measured on.
static ONE_CLUSTER: Mutex<()> = Mutex::new(());

const RATE: f64 = 100.0;

/// A node killed `kill_at` into the run (and started again `restart_after` later), while the
/// run sends `RATE` requests a second for `seconds` over every node.
struct Fault {
    api: Api,
    victim: usize,
    seconds: u64,
    kill_at: Duration,
    restart_after: Option<Duration>,
}

/// What the run measured, with the victim's URL, and the seconds of the run at which the kill
/// began and ended.
struct Measured {
    result: RunResult,
    victim_url: String,
    killed: (f64, f64),
    other_urls: Vec<String>,
}

fn unique(stem: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("perf_test_{stem}_{}_{nanos}", std::process::id())
}

fn run_with_a_lost_node(fault: Fault) -> Option<Measured> {
    let bin = qdrant_perf_testkit::qdrant_bin()?;
    let _one = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let mut nodes = LocalServer::start_cluster(std::path::Path::new(&bin), 3)
        .expect("QDRANT_BIN is set but the cluster did not form");
    let urls: Vec<String> = nodes
        .iter()
        .map(|n| match fault.api {
            Api::Grpc => n.grpc_url(),
            Api::Rest => n.rest_url(),
        })
        .collect();
    let http_ports: Vec<u16> = nodes.iter().map(|n| n.http_port).collect();
    let mut config = ServerConfig::parse(&urls.join(","), Some(fault.api)).unwrap();
    config.index_timeout = Duration::from_secs(120);
    // The URLs as the store names them (`http://127.0.0.1:port`).
    let node_urls = config.urls.clone();
    let victim_url = node_urls[fault.victim].clone();
    let other_urls: Vec<String> = node_urls
        .iter()
        .filter(|u| **u != victim_url)
        .cloned()
        .collect();
    let (points, queries, truth) =
        Dataset::generate(&DatasetSpec::new(64, 2_000).with_queries(50).with_k(10)).unwrap();
    let name = unique("lost_node");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(
        rt.block_on(AnyStore::connect(&config, Guard::default()))
            .unwrap(),
    );
    let mut spec = CollectionSpec::new(&name, 64, Metric::Cosine);
    spec.shards = Some(3);
    spec.replication = Some(2);
    rt.block_on(load_collection(&*store, &spec, &points, 250))
        .unwrap();
    // Every node holds shards: whichever is killed, each shard keeps a replica elsewhere.
    for port in &http_ports {
        let body = qdrant_perf_testkit::http_body(*port, &format!("/collections/{name}/cluster"))
            .expect("the collection's cluster info");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            !v["result"]["local_shards"].as_array().unwrap().is_empty(),
            "node {port} holds no shard: {v}"
        );
    }

    let target = Arc::new(StoreTarget::new(
        vec![StoreCollection::new(
            "cluster",
            &name,
            store.clone(),
            fixture::queries(&queries, 10, Some(64)),
            truth,
            1.0,
        )],
        10,
    ));
    let mut plan = LoadPlan::open(RATE, Duration::from_secs(fault.seconds));
    plan.label = "lost-node".into();
    plan.drain_timeout = Duration::from_secs(10);
    let mut victim = nodes.remove(fault.victim);
    let started = Instant::now();
    let (kill_at, restart_after) = (fault.kill_at, fault.restart_after);
    let killer = std::thread::spawn(move || {
        std::thread::sleep(kill_at);
        let from = started.elapsed().as_secs_f64();
        victim.kill();
        let to = started.elapsed().as_secs_f64();
        if let Some(after) = restart_after {
            std::thread::sleep(after);
            victim.restart().expect("the killed node starts again");
        }
        (victim, (from, to))
    });
    let result = rt.block_on(driver::run(target, &plan, &StopSignal::new()));
    let (victim, killed) = killer.join().expect("the killer thread");
    // Clean up what the test created (on a panic above, the cluster's storage goes with it).
    rt.block_on(store.drop_owned(&name)).unwrap();
    drop((victim, nodes));
    Some(Measured {
        result: result.expect("the run finishes with a node lost"),
        victim_url,
        killed,
        other_urls,
    })
}

/// The run's checks as `qdrant-perf load` makes them from its result: the error rate (its note
/// naming where the errors were) and all_nodes_served.
fn verdict_checks(r: &RunResult) -> Vec<Check> {
    let mut error_rate = Check::measured(
        "error_rate",
        "overall",
        r.error_rate,
        "",
        Bound::AtMost,
        0.0,
        r.ok + r.errors,
    );
    if let Some(note) = checks::errors_by_node_note(r) {
        error_rate = error_rate.with_note(note);
    }
    let mut out = vec![error_rate];
    out.extend(checks::all_nodes_served(r));
    out
}

/// What every lost-node run must show, whichever API and whether or not the node came back.
fn assert_lost_node_is_counted_named_and_judged(m: &Measured, api: &str) {
    let r = &m.result;
    let text = run_text(r);
    eprintln!("{text}");
    // The run finished and accounted for every request it sent.
    assert!(!r.partial);
    assert_eq!(r.sent, r.ok + r.errors, "{text}");
    assert_eq!(r.nodes.len(), 3, "{:?}", r.nodes);
    let node = |url: &str| r.nodes.iter().find(|n| n.url == url).unwrap();
    let victim = node(&m.victim_url);
    // The errors are the killed node's only, and counted by kind and by node.
    assert!(r.errors > 0, "{text}");
    assert_eq!(victim.errors, r.errors, "{text}");
    assert_eq!(victim.errors_by_kind.values().sum::<u64>(), victim.errors);
    let unreachable = victim
        .errors_by_kind
        .get("unreachable")
        .copied()
        .unwrap_or(0);
    assert!(unreachable > 0, "{text}");
    assert_eq!(r.errors_by_kind["unreachable"].count, unreachable, "{text}");
    // The other nodes answered every request sent to them, and every answer names its node.
    for url in &m.other_urls {
        let n = node(url);
        assert_eq!((n.errors, n.lost_at_s), (0, None), "{url}: {text}");
        assert!(n.ok > 0, "{url}: {text}");
    }
    assert_eq!(r.nodes.iter().map(|n| n.ok).sum::<u64>(), r.ok, "{text}");
    // Few errors: the lost node is left out while it backs off. Sent to in turn, it would have
    // failed a third of the requests after the kill (over 150 here).
    let after_kill = (r.plan.duration.unwrap().as_secs_f64() - m.killed.1) * RATE;
    assert!(
        (r.errors as f64) < after_kill / 3.0 / 4.0,
        "{} errors of {after_kill:.0} requests after the kill: {text}",
        r.errors
    );
    // The answers stayed right.
    let recall = r.recall_at_10.unwrap();
    assert!(recall.value > 0.9, "{recall:?}");
    // Lost at the kill: its first failure came after the kill began and soon after it ended.
    let lost = victim.lost_at_s.expect("the victim was lost");
    assert!(
        lost >= m.killed.0 - 0.05 && lost <= m.killed.1 + 2.0,
        "lost at {lost} s, killed at {:?}: {text}",
        m.killed
    );
    // The report names the node and the second it was lost, in every rendering.
    let lost_text = format!("{} lost at {lost:.1} s", m.victim_url);
    assert!(text.contains(&format!("NODE LOST: {lost_text}")), "{text}");
    let mut report = Report::new(
        "load",
        TargetInfo {
            kind: api.into(),
            url: Some(m.other_urls.join(",")),
            engine_version: None,
        },
        vec![r.clone()],
        None,
    );
    report.set_checks(verdict_checks(r), false);
    let md = markdown(&report);
    assert!(md.contains(&format!("**Node lost**: {lost_text}")), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    let nodes = json["runs"][0]["nodes"].as_array().unwrap();
    let lost_in_json: Vec<&serde_json::Value> = nodes
        .iter()
        .filter(|n| n["lost_at_s"].is_number())
        .collect();
    assert_eq!(lost_in_json.len(), 1, "{nodes:?}");
    assert_eq!(lost_in_json[0]["url"], m.victim_url.as_str());
    assert_eq!(lost_in_json[0]["lost_at_s"].as_f64(), Some(lost));
    // The verdict: all_nodes_served missed, naming the node and the second; the error rate's
    // note says where the errors were; the run exits 1.
    let served = report
        .checks
        .iter()
        .find(|c| c.name == "all_nodes_served")
        .expect("all_nodes_served");
    assert_eq!(served.verdict, Verdict::Failed, "{served:?}");
    assert!(
        served.note.as_deref().unwrap().contains(&lost_text),
        "{served:?}"
    );
    let errors = report
        .checks
        .iter()
        .find(|c| c.name == "error_rate")
        .unwrap();
    assert!(
        errors.note.as_deref().unwrap().contains(&format!(
            "errors by node: {} {}",
            m.victim_url, victim.errors
        )),
        "{errors:?}"
    );
    assert_eq!(report.verdict.as_ref().unwrap().exit_code, 1);
    let table = qdrant_perf_render::checks_table(&report.checks);
    assert!(table.contains("all_nodes_served"), "{table}");
    assert!(table.contains(&lost_text), "{table}");
}

/// Answers of the `i`th node that was not killed.
fn node_ok(m: &Measured, i: usize) -> u64 {
    let url = &m.other_urls[i];
    m.result.nodes.iter().find(|n| &n.url == url).unwrap().ok
}

#[test]
fn a_node_killed_mid_run_over_grpc_is_counted_named_and_judged_and_the_others_answer_every_query() {
    let Some(m) = run_with_a_lost_node(Fault {
        api: Api::Grpc,
        victim: 1,
        seconds: 8,
        kill_at: Duration::from_millis(2500),
        restart_after: None,
    }) else {
        return;
    };
    assert_lost_node_is_counted_named_and_judged(&m, "grpc");
    let victim = m
        .result
        .nodes
        .iter()
        .find(|n| n.url == m.victim_url)
        .unwrap();
    assert_eq!(victim.back_at_s, None, "{victim:?}");
    // The other two shared the lost node's turns evenly.
    let (a, b) = (node_ok(&m, 0), node_ok(&m, 1));
    assert!(a.abs_diff(b) <= (a + b) / 10, "{a} and {b}");
    // A node that is down only fails to connect.
    assert_eq!(
        victim.errors_by_kind.keys().collect::<Vec<_>>(),
        ["unreachable"],
        "{victim:?}"
    );
    let text = run_text(&m.result);
    assert!(text.contains("not back by the end"), "{text}");
}

#[test]
fn a_node_killed_and_restarted_mid_run_over_rest_is_named_with_when_it_was_lost_and_came_back() {
    let Some(m) = run_with_a_lost_node(Fault {
        api: Api::Rest,
        victim: 2,
        seconds: 12,
        kill_at: Duration::from_millis(2000),
        restart_after: Some(Duration::from_secs(2)),
    }) else {
        return;
    };
    assert_lost_node_is_counted_named_and_judged(&m, "rest");
    let victim = m
        .result
        .nodes
        .iter()
        .find(|n| n.url == m.victim_url)
        .unwrap();
    let (lost, back) = (victim.lost_at_s.unwrap(), victim.back_at_s);
    let back = back.unwrap_or_else(|| panic!("the restarted node never answered: {victim:?}"));
    assert!(back > lost && back < 12.0, "{victim:?}");
    let text = run_text(&m.result);
    assert!(
        text.contains(&format!("lost at {lost:.1} s, back at {back:.0} s")),
        "{text}"
    );
}
