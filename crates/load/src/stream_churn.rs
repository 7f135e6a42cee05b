//! Deletes and updates beside a plain stream's inserts (`stream --delete-rate/--update-rate`).
//!
//! Both touch only the initial points (present from the start, never written by the inserts),
//! each at most once, in a seeded order: deletes walk a permutation of `0..initial` from its
//! front, updates from its back, until they meet. An update gives the point the vector of a row
//! past the inserted ones (`initial + total + j` for the j-th update), so no two present points
//! share a vector. Each batch is due at open-loop times from the stream's start and stops once
//! the inserts are done (or on Ctrl-C).
//!
//! Scoring a stage's search sent at time s (the stage began at S):
//! - a result deleted, or replaced (its score is not its current vector's), by a write
//!   acknowledged before s is **stale**: counted apart and scored as a miss;
//! - a result written by a delete or update acknowledged at or after S and not stale is **in
//!   flight**: left out of the score, and left out of the truth's list too (the stage-start
//!   truth still ranks it), as points inserted during the stage are.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qdrant_perf_data::{GroundTruth, Metric, Vectors};
use qdrant_perf_report::run::ErrorTally;
use qdrant_perf_store::{EncodedQuery, Point, Query, Store};

use crate::driver::{self, Call, OpError, Outcome, StopSignal, Target, TargetCollection};
use crate::lock;
use crate::target::{search_nth, store_error};

/// An id in an answer that is stale (scored as a miss).
pub(crate) const STALE: u64 = u64::MAX;
/// An id in an answer written while the search was in flight (not scored).
pub(crate) const IN_FLIGHT: u64 = u64::MAX - 1;
const NEVER: u64 = u64::MAX;

/// One settled delete or update batch.
#[derive(Clone, Debug)]
pub(crate) struct ChurnSettled {
    pub delete: bool,
    pub ids: Vec<u32>,
    /// Updates: the row each id now has.
    pub rows: Vec<u32>,
    pub at: Instant,
    pub ok: bool,
}

/// What the churn writers and the stages share.
pub(crate) struct ChurnState {
    /// Per id: µs from t0 of the acknowledgement of its delete or update (`NEVER`).
    gone_at: Vec<AtomicU64>,
    deleted: Vec<AtomicBool>,
    /// Per id: the row of its current vector.
    row: Vec<AtomicU32>,
    pub settled: Mutex<Vec<ChurnSettled>>,
    pub errors: Mutex<BTreeMap<String, ErrorTally>>,
    pub t0: Instant,
    /// Initial points the two writers may take: deletes from the front of the order, updates
    /// from its back.
    order: Vec<u32>,
    /// Taken so far: (from the front, from the back).
    taken: Mutex<(usize, usize)>,
    /// Rows for updates: `first_spare..spare_end`.
    first_spare: usize,
    spare_end: usize,
}

/// A permutation of `0..n` seeded by `seed`: `i -> (i * p + seed) mod n`, p coprime with n.
fn permutation(n: usize, seed: u64) -> Vec<u32> {
    if n == 0 {
        return Vec::new();
    }
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let mut p = (n as f64 * 0.618_034) as usize | 1;
    while gcd(p, n) != 1 {
        p += 1;
    }
    let off = (seed % n as u64) as usize;
    (0..n).map(|i| ((i * p + off) % n) as u32).collect()
}

impl ChurnState {
    /// For `ids` points (`initial` of them may be taken), rows `first_spare..spare_end` for
    /// updates.
    pub fn new(
        ids: usize,
        initial: usize,
        first_spare: usize,
        spare_end: usize,
        seed: u64,
        t0: Instant,
    ) -> Self {
        Self {
            gone_at: (0..ids).map(|_| AtomicU64::new(NEVER)).collect(),
            deleted: (0..ids).map(|_| AtomicBool::new(false)).collect(),
            row: (0..ids as u32).map(AtomicU32::new).collect(),
            settled: Mutex::default(),
            errors: Mutex::default(),
            t0,
            order: permutation(initial, seed),
            taken: Mutex::new((0, 0)),
            first_spare,
            spare_end,
        }
    }

    fn now_us(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.t0)
            .as_micros() as u64
    }

    /// Takes up to `n` points for a delete (from the front) or an update (from the back, with
    /// the spare rows they get).
    fn take(&self, n: usize, delete: bool) -> (Vec<u32>, Vec<u32>) {
        let mut taken = lock(&self.taken);
        let (mut ids, mut rows) = (Vec::with_capacity(n), Vec::new());
        for _ in 0..n {
            let (f, b) = *taken;
            if f + b >= self.order.len() {
                break;
            }
            if delete {
                taken.0 += 1;
                ids.push(self.order[f]);
            } else {
                if self.first_spare + b >= self.spare_end {
                    break;
                }
                taken.1 += 1;
                ids.push(self.order[self.order.len() - 1 - b]);
                rows.push((self.first_spare + b) as u32);
            }
        }
        (ids, rows)
    }

    fn settle(&self, s: ChurnSettled) {
        if s.ok {
            let at = s.at.saturating_duration_since(self.t0).as_micros() as u64;
            for (i, &id) in s.ids.iter().enumerate() {
                if s.delete {
                    self.deleted[id as usize].store(true, Ordering::SeqCst);
                } else {
                    self.row[id as usize].store(s.rows[i], Ordering::SeqCst);
                }
                self.gone_at[id as usize].store(at, Ordering::SeqCst);
            }
        }
        lock(&self.settled).push(s);
    }

    /// Changed by a delete or update acknowledged at or after `since_us`.
    fn changed_since(&self, id: u64, since_us: u64) -> bool {
        self.gone_at
            .get(id as usize)
            .map(|a| a.load(Ordering::SeqCst))
            .is_some_and(|at| at != NEVER && at >= since_us)
    }
}

/// Sends deletes (`delete`) or updates of `batch` points at `rate` per second from `t0` until
/// `done` (the inserts finished), Ctrl-C, or no point is left to take.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn churn_writes<S: Store + 'static>(
    store: Arc<S>,
    name: String,
    churn: Arc<ChurnState>,
    points: Arc<Vectors>,
    delete: bool,
    rate: f64,
    batch: usize,
    done: Arc<AtomicBool>,
    stop: StopSignal,
) {
    let sem = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = Vec::new();
    for j in 0.. {
        let due = churn.t0 + Duration::from_secs_f64((j * batch) as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        if stop.is_stopped() || done.load(Ordering::SeqCst) {
            break;
        }
        let (ids, rows) = churn.take(batch, delete);
        if ids.is_empty() {
            break;
        }
        let permit = sem.clone().acquire_owned().await.expect("open");
        let (store, name, churn, points) =
            (store.clone(), name.clone(), churn.clone(), points.clone());
        tasks.push(tokio::spawn(async move {
            let r = if delete {
                let ids: Vec<u64> = ids.iter().map(|&i| u64::from(i)).collect();
                store.delete(&name, &ids).await
            } else {
                let batch: Vec<Point> = ids
                    .iter()
                    .zip(&rows)
                    .map(|(&id, &row)| Point {
                        id: u64::from(id),
                        vector: points.row(row as usize).to_vec(),
                        payload: None,
                    })
                    .collect();
                store.upsert(&name, &batch).await
            };
            let at = Instant::now();
            drop(permit);
            let ok = r.is_ok();
            if let Err(e) = r {
                let e = store_error(e);
                driver::tally(&mut lock(&churn.errors), &e.kind, 1, &e.message);
            }
            churn.settle(ChurnSettled {
                delete,
                ids,
                rows,
                at,
                ok,
            });
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// A stage's searches with churn: stale results caught, in-flight ones left out (see the
/// module's doc), the rest scored like the plain stream's ([`crate::stream::recall_among`]).
pub(crate) struct ChurnStageTarget<S> {
    pub store: Arc<S>,
    pub collection: String,
    pub label: String,
    pub queries: Arc<Vec<Query>>,
    pub prepared: Arc<Vec<EncodedQuery>>,
    pub next_query: AtomicU64,
    pub truth: Arc<GroundTruth>,
    pub covered: Arc<Vec<bool>>,
    pub churn: Arc<ChurnState>,
    pub points: Arc<Vectors>,
    pub metric: Metric,
    /// µs from t0 at which the stage began.
    pub stage_start_us: u64,
    pub k: usize,
    pub stale: AtomicU64,
    pub in_flight: AtomicU64,
}

/// Query `q`'s score of `x` in Qdrant's units.
fn score(metric: Metric, q: &[f32], x: &[f32]) -> f32 {
    match metric {
        Metric::Euclid => q
            .iter()
            .zip(x)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            .sqrt(),
        _ => q.iter().zip(x).map(|(a, b)| a * b).sum(),
    }
}

impl<S: Store + 'static> Target for ChurnStageTarget<S> {
    fn collections(&self) -> Vec<TargetCollection> {
        vec![TargetCollection {
            name: self.label.clone(),
            qps: 1.0,
        }]
    }

    fn works_in_poll(&self) -> bool {
        self.store.engine() == qdrant_perf_store::Engine::Edge
    }

    async fn call(&self, _call: Call) -> Result<Outcome, OpError> {
        let q =
            (self.next_query.fetch_add(1, Ordering::Relaxed) % self.queries.len() as u64) as usize;
        let sent = self.churn.now_us();
        let r = search_nth(
            &*self.store,
            &self.collection,
            &self.queries,
            &self.prepared,
            q,
        )
        .await
        .map_err(store_error)?;
        let (mut stale, mut flight) = (0, 0);
        let ids = r
            .hits
            .iter()
            .map(|h| {
                let id = h.id as usize;
                let at = self
                    .churn
                    .gone_at
                    .get(id)
                    .map_or(NEVER, |a| a.load(Ordering::SeqCst));
                if at == NEVER {
                    return h.id;
                }
                let before_send = at < sent;
                let is_stale = before_send
                    && (self.churn.deleted[id].load(Ordering::SeqCst) || {
                        let row = self.churn.row[id].load(Ordering::SeqCst) as usize;
                        let s = score(self.metric, &self.queries[q].vector, self.points.row(row));
                        (s - h.score).abs() > 1e-3 * s.abs().max(1.0)
                    });
                if is_stale {
                    stale += 1;
                    STALE
                } else if at >= self.stage_start_us {
                    flight += 1;
                    IN_FLIGHT
                } else {
                    h.id
                }
            })
            .collect();
        self.stale.fetch_add(stale, Ordering::Relaxed);
        self.in_flight.fetch_add(flight, Ordering::Relaxed);
        Ok(Outcome::hits(q, ids)
            .with_server_seconds(r.server_seconds)
            .from_node(r.node))
    }

    fn recall(&self, _collection: usize, query: usize, ids: &[u64]) -> Option<f64> {
        if query >= self.truth.len() {
            return None;
        }
        // The truth's list without the points changed since the stage began.
        let truth: Vec<u32> = self
            .truth
            .ids(query)
            .iter()
            .copied()
            .filter(|&t| !self.churn.changed_since(u64::from(t), self.stage_start_us))
            .collect();
        let kept: Vec<u64> = ids[..self.k.min(ids.len())]
            .iter()
            .copied()
            .filter(|&id| {
                id == STALE
                    || (id != IN_FLIGHT && self.covered.get(id as usize).copied().unwrap_or(false))
            })
            .collect();
        (!kept.is_empty()).then(|| qdrant_perf_data::recall_at_k(&kept, &truth, kept.len()))
    }
}

/// A stage's churn figures (`stream --delete-rate/--update-rate`), in the report's stream
/// section.
pub use qdrant_perf_report::stream::StageChurn;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_order_is_a_permutation_and_the_writers_never_meet() {
        for n in [1usize, 7, 100, 1000] {
            let mut p = permutation(n, 42);
            assert_eq!(p, permutation(n, 42), "reproducible");
            p.sort_unstable();
            assert_eq!(p, (0..n as u32).collect::<Vec<_>>());
        }
        let c = ChurnState::new(100, 100, 100, 130, 7, Instant::now());
        let (d, _) = c.take(60, true);
        let (u, rows) = c.take(60, false);
        assert_eq!(rows, (100..130).collect::<Vec<u32>>());
        assert_eq!(d.len(), 60);
        assert_eq!(u.len(), 30, "only 30 spare rows for updates");
        assert!(
            d.iter().all(|x| !u.contains(x)),
            "a point is deleted or updated, not both"
        );
        assert_eq!(c.take(60, true).0.len(), 10, "what is left");
        assert!(c.take(1, true).0.is_empty());
    }
}
