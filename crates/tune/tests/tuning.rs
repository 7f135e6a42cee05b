//! Whole flows of the tuning experiments on the real embedded engine, at tiny sizes: a sweep of
//! two grid points, a sweep interrupted after its first point, and a scale run whose second step
//! does not fit in the (injected) free memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use qdrant_perf_data::{Dataset, DatasetCache, DatasetSpec, Distribution, Metric};
use qdrant_perf_store::{AnyStore, Guard, HnswParams};
use qdrant_perf_tune::scale::{self, ScaleConfig, Storage, StorageChoice};
use qdrant_perf_tune::sweep::{self, Grid, QuantKind, SweepConfig};

const DIM: usize = 64;

fn dataset(cache: &DatasetCache, points: usize) -> Dataset {
    let spec = DatasetSpec::new(DIM, points)
        .with_queries(100)
        .with_distribution(Distribution::Normal)
        .with_metric(Metric::Cosine);
    Dataset::load_or_generate(&spec, cache).unwrap()
}

fn config(dir: &std::path::Path, fst: usize) -> SweepConfig {
    SweepConfig {
        k: 10,
        full_scan_threshold_kb: fst,
        segments: 1,
        threads: 2,
        json: dir.join("out/sweep.json"),
        prefix: "perf_".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_sweep_writes_json_and_svg_with_recall_rising_with_ef() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path().join("cache"));
    let ds = dataset(&cache, 2_000);
    let grid = Grid {
        m: vec![8],
        ef_construct: vec![32],
        ef: vec![10, 100],
        quantization: vec![QuantKind::None],
        rescore: vec![true],
        oversampling: vec![1.0],
    };
    let plan = grid.plan(10, Metric::Cosine, ds.points.len()).unwrap();
    assert_eq!(plan.points(), 2);
    // 2,000 points of 64 d are below the deployment's threshold (20,000 KB = 80,000 vectors):
    // the sweep lowers it so Qdrant walks the graph, and says so.
    let (fst, note) = sweep::choose_full_scan_threshold(20_000, 2_000, DIM, 1);
    assert_eq!(fst, sweep::LOWEST_FULL_SCAN_THRESHOLD_KB);
    assert!(note.unwrap().contains("80000 vectors"));
    let cfg = config(dir.path(), sweep::LOWEST_FULL_SCAN_THRESHOLD_KB);
    let store = Arc::new(AnyStore::edge(dir.path().join("edge"), Guard::default()).unwrap());
    let stop = AtomicBool::new(false);
    let report = sweep::run_sweep(store, &ds, &plan, &cfg, vec![], &stop, |_| {})
        .await
        .unwrap();
    assert!(report.complete);
    assert_eq!(report.points.len(), 2);
    for p in &report.points {
        // Some true neighbours are found at any ef (ids mapped wrongly would find none).
        assert!(p.recall > 0.0 && p.recall <= 1.0, "{p:?}");
        assert_eq!(p.mode, "hnsw");
        assert_eq!(p.queries, 100);
        assert!(p.latency.samples == 100 && p.latency.p99_ms >= p.latency.p50_ms);
        assert!(p.qps_single > 0.0 && p.qps_all > 0.0);
        let mem = p.memory.as_ref().expect("edge reports memory");
        assert!(mem.vectors_bytes >= (2_000 * DIM * 4) as u64, "{mem:?}");
        assert!(mem.index_bytes > 0, "{mem:?}");
    }
    // Normal data at m=8/ef_construct=32: ef=10 misses neighbours that ef=100 finds.
    let (low, high) = (report.points[0].recall, report.points[1].recall);
    assert!(
        high > low,
        "recall at ef=100 {high} should beat ef=10 {low}"
    );
    // The JSON on disk is the report.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg.json).unwrap()).unwrap();
    assert_eq!(json["complete"], true);
    // The dataset's description carries its hardness (normal data: LID high, RC near 1).
    let h = &json["dataset_hardness"];
    assert_eq!(h["k"], 20, "{h}");
    assert!(h["lid_mean"].as_f64().unwrap() > 5.0, "{h}");
    assert!(h["rc_mean"].as_f64().unwrap() > 1.0, "{h}");
    assert!(
        report.legend().contains("LID@20 mean"),
        "{}",
        report.legend()
    );
    assert_eq!(json["points"].as_array().unwrap().len(), 2);
    // (as JSON text: equal to the last digit serde_json writes)
    assert!((json["points"][1]["recall"].as_f64().unwrap() - high).abs() < 1e-12);
    assert!(high > 0.5, "ef=100 finds most neighbours: {high}");
    // The collections were dropped.
    assert_eq!(
        std::fs::read_dir(dir.path().join("edge")).unwrap().count(),
        0
    );
    // The plot is an SVG with one mark per point (+ frontier and legend marks).
    let svg_path = dir.path().join("out/sweep.svg");
    report.write_svg(&svg_path).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(
        doc.descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count()
            >= 2
    );
    // The table lists the points by recall, best first.
    let table = report.table();
    let first_row = table.lines().nth(2).unwrap();
    assert!(first_row.contains(&format!("{high:.4}")), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_sweep_keeps_the_points_it_finished() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path().join("cache"));
    let ds = dataset(&cache, 1_000);
    let grid = Grid {
        m: vec![8, 16],
        ef_construct: vec![32],
        ef: vec![10, 20],
        quantization: vec![QuantKind::None],
        rescore: vec![true],
        oversampling: vec![1.0],
    };
    let plan = grid.plan(10, Metric::Cosine, ds.points.len()).unwrap();
    assert_eq!(plan.points(), 4);
    let cfg = config(dir.path(), sweep::LOWEST_FULL_SCAN_THRESHOLD_KB);
    let store = Arc::new(AnyStore::edge(dir.path().join("edge"), Guard::default()).unwrap());
    let stop = AtomicBool::new(false);
    // What Ctrl-C does: set the flag while a point is being measured.
    let report = sweep::run_sweep(store, &ds, &plan, &cfg, vec![], &stop, |_| {
        stop.store(true, Ordering::SeqCst)
    })
    .await
    .unwrap();
    assert!(!report.complete);
    assert_eq!(report.points.len(), 1);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg.json).unwrap()).unwrap();
    assert_eq!(json["complete"], false);
    assert_eq!(json["points"].as_array().unwrap().len(), 1);
    assert_eq!(
        std::fs::read_dir(dir.path().join("edge")).unwrap().count(),
        0,
        "the collection being measured is dropped on the way out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_step_that_would_not_fit_is_skipped_and_so_are_larger_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path().join("cache"));
    let store = Arc::new(AnyStore::edge(dir.path().join("edge"), Guard::default()).unwrap());
    let steps = vec![1_000, 2_000, 4_000];
    let config = ScaleConfig {
        dataset: DatasetSpec::new(DIM, 1_000)
            .with_queries(100)
            .with_distribution(Distribution::Normal),
        steps: steps.clone(),
        k: 10,
        ef: 64,
        hnsw: HnswParams {
            m: 8,
            ef_construct: 32,
            full_scan_threshold: 20_000,
        },
        segments: 1,
        threads: 2,
        json: dir.path().join("scale.json"),
        prefix: "perf_".into(),
        storage: StorageChoice::Fixed(Storage::Ram),
        user: None,
        predict: 100_000_000,
    };
    // Enough for the first step only with vectors in RAM (a fixed storage never switches, though
    // the second step would fit on disk).
    let first = scale::estimate_step_bytes(1_000, DIM, 100, 8, Storage::Ram);
    let second = scale::estimate_step_bytes(2_000, DIM, 100, 8, Storage::Ram);
    assert!(second > first);
    assert!(
        scale::estimate_step_bytes(2_000, DIM, 100, 8, Storage::Disk)
            <= first + (second - first) / 2
    );
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let available = || {
        calls.fetch_add(1, Ordering::SeqCst);
        Some(first + (second - first) / 2)
    };
    let stop = AtomicBool::new(false);
    let report = scale::run_scale(store, &cache, &config, &available, &stop, |_| {})
        .await
        .unwrap();
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.steps[0].points, 1_000);
    assert_eq!(report.steps[0].storage, Storage::Ram);
    let recall = report.steps[0].recall;
    assert!(recall > 0.5 && recall <= 1.0, "{recall}");
    // 20,000 KB covers 80,000 vectors of 64 d: lowered so the graph is walked, and noted.
    assert_eq!(report.steps[0].mode, "hnsw");
    assert!(
        report.notes.iter().any(|n| n.contains("lowered")),
        "{:?}",
        report.notes
    );
    let skipped: Vec<usize> = report.skipped.iter().map(|s| s.0).collect();
    assert_eq!(skipped, vec![2_000, 4_000]);
    assert!(
        report.skipped[0].1.contains("MemAvailable"),
        "{:?}",
        report.skipped
    );
    // Free memory is read before each step that might run, not after the first skip.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(report.steps[0].ram_bytes_per_vector.unwrap() >= (DIM * 4) as f64);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config.json).unwrap()).unwrap();
    assert_eq!(json["steps"].as_array().unwrap().len(), 1);
    assert_eq!(json["skipped"].as_array().unwrap().len(), 2);
    let svg_path = dir.path().join("scale.svg");
    report.write_svg(&svg_path).unwrap();
    roxmltree::Document::parse(&std::fs::read_to_string(&svg_path).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_storage_switches_as_free_memory_runs_short_and_labels_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let cache = DatasetCache::new(dir.path().join("cache"));
    let store = Arc::new(AnyStore::edge(dir.path().join("edge"), Guard::default()).unwrap());
    let steps = vec![1_000, 2_000, 4_000, 8_000];
    let hnsw = HnswParams {
        m: 8,
        ef_construct: 32,
        full_scan_threshold: 20_000,
    };
    let config = ScaleConfig {
        dataset: DatasetSpec::new(DIM, 1_000)
            .with_queries(100)
            .with_distribution(Distribution::from_name("clustered").unwrap()),
        steps: steps.clone(),
        k: 10,
        ef: 64,
        hnsw,
        segments: 1,
        threads: 2,
        json: dir.path().join("scale.json"),
        prefix: "perf_".into(),
        storage: StorageChoice::Auto,
        user: None,
        predict: 1_000_000,
    };
    let est = |n, s| scale::estimate_step_bytes(n, DIM, 100, 8, s);
    // A fake MemAvailable: RAM fits at 1k; at 2k only int8 codes (ram and disk do not); at 4k
    // only binary codes; at 8k plenty again, yet the run does not switch back.
    let free = [
        est(1_000, Storage::Ram),
        est(2_000, Storage::Int8),
        est(4_000, Storage::Binary),
        u64::MAX,
    ];
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let available = || Some(free[calls.fetch_add(1, Ordering::SeqCst).min(3)]);
    let stop = AtomicBool::new(false);
    let report = scale::run_scale(store, &cache, &config, &available, &stop, |_| {})
        .await
        .unwrap();
    let storages: Vec<Storage> = report.steps.iter().map(|s| s.storage).collect();
    assert_eq!(
        storages,
        vec![
            Storage::Ram,
            Storage::Int8,
            Storage::Binary,
            Storage::Binary
        ]
    );
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let switches: Vec<&String> = report
        .notes
        .iter()
        .filter(|n| n.contains("switched to"))
        .collect();
    assert_eq!(switches.len(), 2, "{:?}", report.notes);
    assert!(switches[0].starts_with("N=2000") && switches[0].contains("switched to int8"));
    assert!(switches[1].starts_with("N=4000") && switches[1].contains("switched to binary"));
    for s in &report.steps {
        // Recall against exact truth at every size, whatever the storage.
        assert!(s.recall > 0.3 && s.recall <= 1.0, "{s:?}");
        let mem = s.memory.as_ref().unwrap();
        assert_eq!(mem.quantized_bytes > 0, s.storage != Storage::Ram, "{s:?}");
    }
    // int8 and binary keep the codes and the graph in RAM, not the float32 vectors.
    let ram = |i: usize| report.steps[i].ram_bytes_per_vector.unwrap();
    assert!(ram(0) >= (DIM * 4) as f64, "{}", ram(0));
    assert!(ram(1) < (DIM * 4) as f64, "{}", ram(1));
    assert!(ram(2) < ram(1), "{} {}", ram(2), ram(1));
    assert_eq!(report.steps[2].rescore, Some(true));
    assert_eq!(
        report.steps[2].oversampling,
        Some(scale::BINARY_OVERSAMPLING)
    );
    // Only the binary steps are fitted; two sizes give lines but no back-test.
    assert_eq!(report.growth.storage, Some(Storage::Binary));
    assert_eq!(report.growth.steps_fitted, vec![4_000, 8_000]);
    let p50 = report.growth.p50_ms_vs_ln_n.as_ref().unwrap();
    assert_eq!(p50.fit.samples, 2);
    assert!(p50.backtest.is_none());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config.json).unwrap()).unwrap();
    assert_eq!(json["storage"], "auto");
    assert_eq!(json["steps"][1]["storage"], "int8");
    assert_eq!(json["growth"]["storage"], "binary");
    assert_eq!(
        json["growth"]["p50_ms_vs_ln_n"]["extrapolation"]["label"],
        "extrapolation"
    );
    assert_eq!(
        json["growth"]["p50_ms_vs_ln_n"]["extrapolation"]["points"],
        1_000_000
    );
    let table = report.table();
    assert!(
        table.contains("| int8    |") && table.contains("| binary  |"),
        "{table}"
    );
    let svg_path = dir.path().join("scale.svg");
    report.write_svg(&svg_path).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
    assert!(
        svg.contains("p50 (int8)") && svg.contains("p50 (ram)"),
        "labelled by storage"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("edge")).unwrap().count(),
        0,
        "every step's collection is dropped"
    );
}
