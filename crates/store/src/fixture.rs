//! The one way to put a dataset into a store: create the collection, upload in batches with
//! progress, and wait until it is indexed. Benches and the CLI both call [`load_collection`].

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use qdrant_perf_data::{Dataset, PointPayloads, Vectors, progress_bar};

use crate::error::Result;
use crate::spec::{CollectionSpec, Created, IndexState, Point, Query};
use crate::store::Store;

/// Points per upsert request unless told otherwise (Qdrant's clients use 64-256).
pub const DEFAULT_BATCH: usize = 256;

/// Upsert requests outstanding at once during an upload: enough to keep a server's update
/// workers busy while the next batch is serialised and sent.
pub const DEFAULT_IN_FLIGHT: usize = 4;

/// What [`load_collection`] did and how long each step took.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// True when the collection (for the embedded engine: its built index) was reused.
    pub reused: bool,
    /// Creating the collection, or opening the existing one (the embedded engine loads a cached
    /// index from disk here).
    pub open_seconds: f64,
    pub upload_seconds: f64,
    pub index: IndexState,
}

impl Loaded {
    pub fn setup_seconds(&self) -> f64 {
        self.open_seconds + self.upload_seconds + self.index.seconds
    }
}

/// Makes `spec.name` hold exactly `points` (ids 0..n, the dataset's row numbers) and waits until
/// it is indexed. A collection that already holds that many points under the same spec is reused
/// without uploading.
pub async fn load_collection<S: Store>(
    store: &S,
    spec: &CollectionSpec,
    points: &Vectors,
    batch: usize,
) -> Result<Loaded> {
    load_collection_with_payloads(store, spec, points, None, batch).await
}

/// [`load_collection`] of a dataset's points with the payloads that go with them
/// ([`Dataset::point_payloads`]: generated ones, or a user's Parquet scalar columns). When the
/// spec names no payload index, each of the payloads' filter fields gets one of its kind
/// (strings keyword, integers integer, floats float), so filters on them use an index as they
/// would in production.
pub async fn load_dataset<S: Store>(
    store: &S,
    spec: &CollectionSpec,
    dataset: &Dataset,
    batch: usize,
) -> Result<Loaded> {
    let payloads = dataset.point_payloads();
    let mut spec = spec.clone();
    if spec.payload_indexes.is_empty()
        && let Some(p) = &payloads
    {
        spec.payload_indexes = p.fields();
    }
    load_collection_with_payloads(store, &spec, &dataset.points, payloads, batch).await
}

/// [`load_collection`] with each point's payload (row `i` of `payloads` goes with point `i`).
/// The spec's payload indexes are created (by `create`) before the first point is sent.
pub async fn load_collection_with_payloads<S: Store>(
    store: &S,
    spec: &CollectionSpec,
    points: &Vectors,
    payloads: Option<PointPayloads<'_>>,
    batch: usize,
) -> Result<Loaded> {
    if let Some(p) = payloads
        && p.len() != points.len()
    {
        return Err(crate::error::StoreError::InvalidSpec {
            field: "payloads",
            value: p.len().to_string(),
            reason: format!("need one payload per point ({} points)", points.len()),
        });
    }
    // Rejected before anything is created: an index on a field the data does not have, or of
    // another type than the field.
    let fields = payloads.map(|p| p.fields()).unwrap_or_default();
    crate::filter::check_payload_indexes(&spec.payload_indexes, &fields)?;
    let started = Instant::now();
    let created = store.create(spec).await?;
    let open_seconds = started.elapsed().as_secs_f64();
    let reused = created
        == Created::Existing {
            points: points.len(),
        };
    let started = Instant::now();
    let filled = async {
        if !reused {
            upload_inner(
                store,
                &spec.name,
                points,
                payloads,
                batch.max(1),
                DEFAULT_IN_FLIGHT,
            )
            .await?;
        }
        let upload_seconds = started.elapsed().as_secs_f64();
        Ok((upload_seconds, store.wait_indexed(&spec.name).await?))
    };
    let (upload_seconds, index) = match filled.await {
        Ok(done) => done,
        Err(e) => {
            // A collection this call created and could not fill is dropped before the error
            // goes up: nobody else owns it, and half of a dataset is no fixture.
            if created == Created::New
                && let Err(drop_error) = store.drop_owned(&spec.name).await
            {
                eprintln!(
                    "warning: could not drop {} after a failed upload: {drop_error}",
                    spec.name
                );
            }
            return Err(e);
        }
    };
    Ok(Loaded {
        reused,
        open_seconds,
        upload_seconds,
        index,
    })
}

/// Upserts every vector with its row number as id, `batch` points per request, with
/// [`DEFAULT_IN_FLIGHT`] requests outstanding.
pub async fn upload<S: Store>(store: &S, name: &str, points: &Vectors, batch: usize) -> Result<()> {
    upload_with(store, name, points, batch, DEFAULT_IN_FLIGHT).await
}

/// [`upload`] with up to `in_flight` requests outstanding at once. The first error ends the
/// upload (the requests still outstanding are cancelled) and is returned.
pub async fn upload_with<S: Store>(
    store: &S,
    name: &str,
    points: &Vectors,
    batch: usize,
    in_flight: usize,
) -> Result<()> {
    upload_inner(store, name, points, None, batch, in_flight).await
}

async fn upload_inner<S: Store>(
    store: &S,
    name: &str,
    points: &Vectors,
    payloads: Option<PointPayloads<'_>>,
    batch: usize,
    in_flight: usize,
) -> Result<()> {
    type Pending<'a> = Pin<Box<dyn Future<Output = Result<usize>> + Send + 'a>>;
    let batch = batch.max(1);
    let bar = progress_bar(points.len() as u64, &format!("uploading to {name}"));
    let mut pending: Vec<Pending<'_>> = Vec::new();
    let mut next = 0;
    loop {
        while pending.len() < in_flight.max(1) && next < points.len() {
            let end = (next + batch).min(points.len());
            let chunk: Vec<Point> = (next..end)
                .map(|i| Point {
                    id: i as u64,
                    vector: points.row(i).to_vec(),
                    payload: payloads.map(|p| p.to_json(i)),
                })
                .collect();
            next = end;
            pending.push(Box::pin(async move {
                store.upsert(name, &chunk).await.map(|()| chunk.len())
            }));
        }
        if pending.is_empty() {
            break;
        }
        let (i, result) = std::future::poll_fn(|cx| {
            for (i, f) in pending.iter_mut().enumerate() {
                if let Poll::Ready(r) = f.as_mut().poll(cx) {
                    return Poll::Ready((i, r));
                }
            }
            Poll::Pending
        })
        .await;
        drop(pending.swap_remove(i));
        bar.inc(result? as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

/// The held-out queries of a dataset as top-`k` searches with beam width `ef`.
pub fn queries(vectors: &Vectors, k: usize, ef: Option<usize>) -> Vec<Query> {
    vectors
        .rows()
        .map(|v| Query {
            ef,
            ..Query::new(v.to_vec(), k)
        })
        .collect()
}
