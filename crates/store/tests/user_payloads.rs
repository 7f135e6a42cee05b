//! A user's own payloads (a VectorDBBench Parquet train set's scalar columns, written by pyarrow:
//! fixtures/datasets/deepcoder-768-filtered-parquet) uploaded with the points by the one upload
//! path ([`fixture::load_dataset`]), indexed by kind, and filtered on in the embedded engine
//! with the exact filtered truth of the data crate.

use std::path::{Path, PathBuf};

use qdrant_perf_data::{
    Dataset, DatasetCache, FieldKind, Metric, MetricWanted, ground_truth_filtered,
};
use qdrant_perf_store::fixture;
use qdrant_perf_store::{CollectionSpec, EdgeStore, Filter, Query};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/datasets")
        .join(rel)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn parquet_scalar_columns_are_uploaded_indexed_and_filtered_on_exactly() {
    let cache_dir = tempfile::tempdir().unwrap();
    let d = Dataset::open(
        &fixture("deepcoder-768-filtered-parquet"),
        Some(&MetricWanted::new(Metric::Cosine, "the test")),
        10,
        &DatasetCache::new(cache_dir.path()),
    )
    .unwrap();
    let source = d.source_payloads.as_ref().expect("the train set's columns");
    // Strings are keyword fields, int64 integer, float64 (with nulls) float; booleans are
    // uploaded but are no filter field.
    assert_eq!(
        source.fields(),
        [
            ("category".to_string(), FieldKind::Keyword),
            ("year".to_string(), FieldKind::Integer),
            ("score".to_string(), FieldKind::Float),
        ]
    );
    assert!(source.row(0)["score"].is_null() && source.row(1)["active"].is_boolean());

    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(dir.path()).unwrap();
    let spec = CollectionSpec::new("perf_user_payloads", 768, Metric::Cosine);
    let loaded = rt()
        .block_on(fixture::load_dataset(&store, &spec, &d, 32))
        .unwrap();
    assert_eq!(loaded.index.points, 100);
    // One payload index per filter field; the float index covers the 95 points with a score.
    assert_eq!(
        store.payload_index_points("perf_user_payloads").unwrap(),
        [
            ("category".to_string(), 100),
            ("score".to_string(), 95),
            ("year".to_string(), 100),
        ]
    );

    // Every point carries its row's payload, as read from the file.
    for q in 0..d.queries.len() {
        let query = Query::new(d.queries.row(q).to_vec(), 100)
            .exact()
            .with_payload();
        let hits = store.search_sync("perf_user_payloads", &query).unwrap();
        assert_eq!(hits.len(), 100);
        for h in &hits {
            assert_eq!(h.payload.as_ref().unwrap(), source.row(h.id as usize));
        }
    }

    // Selective filters on each kind: the engine's top-10 (through the HNSW search path) is
    // exactly the exact truth among the points the condition matches.
    for (field, selectivity) in [("category", 0.05), ("year", 0.2), ("score", 0.15)] {
        let selected = source.select(field, selectivity).unwrap();
        let filter = Filter::from_selected(&selected);
        // The matches counted by the data crate are the points the filter accepts.
        let counted: Vec<u32> = (0..100)
            .filter(|&i| filter.matches(source.row(i)))
            .map(|i| i as u32)
            .collect();
        assert_eq!(counted, selected.matching, "{field}");
        assert!(
            (3..=30).contains(&selected.matching.len()),
            "{field}: {} matches",
            selected.matching.len()
        );
        let truth = ground_truth_filtered(
            &d.points,
            &d.queries,
            10,
            Metric::Cosine,
            &selected.matching,
            &|_| {},
        )
        .unwrap();
        for q in 0..d.queries.len() {
            let query = Query::new(d.queries.row(q).to_vec(), 10)
                .with_ef(128)
                .with_filter(filter.clone());
            let ids: Vec<u32> = store
                .search_sync("perf_user_payloads", &query)
                .unwrap()
                .iter()
                .map(|h| h.id as u32)
                .collect();
            assert_eq!(ids, truth.ids(q), "{field} <= {selectivity}, query {q}");
        }
    }
    store.close().unwrap();
}
