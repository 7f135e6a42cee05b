//! Checks any engine behind the `Store` trait must pass alike.

use qdrant_perf_store::{Point, Query, Store};

/// Upserts 60 points of `dim` (ids 1..=60, each its own direction), deletes ids 1..=20 and one
/// id never written, and asserts the count is 40 and that a deleted point's own vector, searched
/// exactly, returns neither it nor any other deleted id.
pub async fn assert_deletes_apply<S: Store>(store: &S, name: &str, dim: usize) {
    let vector = |id: u64| -> Vec<f32> {
        (0..dim)
            .map(|j| ((id as usize * 7 + j * 13) % 31) as f32 + 1.0)
            .collect()
    };
    let points: Vec<Point> = (1..=60)
        .map(|id| Point {
            id,
            vector: vector(id),
            payload: None,
        })
        .collect();
    store.upsert(name, &points).await.unwrap();
    let deleted: Vec<u64> = (1..=20).chain([10_000]).collect();
    store.delete(name, &deleted).await.unwrap();
    assert_eq!(
        store.count(name).await.unwrap(),
        40,
        "60 upserted, 20 deleted"
    );
    for id in [1, 10, 20] {
        let hits = store
            .search(name, &Query::new(vector(id), 10).exact())
            .await
            .unwrap()
            .hits;
        assert_eq!(hits.len(), 10, "40 points remain to answer from");
        let back: Vec<u64> = hits.iter().map(|h| h.id).filter(|i| *i <= 20).collect();
        assert!(back.is_empty(), "deleted ids returned: {back:?}");
    }
}
