//! What a run watches besides its own requests: each server node's `/metrics`, read once a
//! second from the start of the recorded part and kept as a per-second series aligned with the
//! run's timeline, with what changed over the recorded part (requests per endpoint as the server
//! counted them, memory, vectors, page faults). A node whose metrics cannot be read is named in
//! the report with the error, never skipped in silence.
//!
//! [`driver::run_monitored`](crate::driver::run_monitored) starts a [`Monitor`] at the run's
//! measure start and finishes it when the run ends; a `Monitor` is cheap to clone and is used
//! for every run of a `validate` or a `stress` ramp.

use std::sync::Arc;
use std::time::{Duration, Instant};

use qdrant_perf_report::server::{NodeWatch, ServerSide};
use qdrant_perf_store::remote::telemetry::{MetricsSnapshot, Telemetry, node_delta, server_second};
use tokio::sync::oneshot;

/// What to watch during a run. `Monitor::default()` watches nothing (the embedded engine, an
/// HTTP endpoint, the no-op target).
#[derive(Clone, Default)]
pub struct Monitor {
    telemetry: Option<Arc<Telemetry>>,
    /// Why the server's metrics are not read (e.g. no REST address for a gRPC target).
    not_collected: Option<String>,
    /// The collections (names on the server) the per-second series sums over.
    collections: Vec<String>,
}

impl Monitor {
    /// Reads every node of `telemetry` once a second; series sum over `collections` (all
    /// collections when empty).
    pub fn server(telemetry: Telemetry, collections: Vec<String>) -> Self {
        Self {
            telemetry: Some(Arc::new(telemetry)),
            not_collected: None,
            collections,
        }
    }

    /// A server whose metrics cannot be read, and why: the report says so.
    pub fn not_collected(reason: impl Into<String>) -> Self {
        Self {
            not_collected: Some(reason.into()),
            ..Self::default()
        }
    }

    /// The same monitor, its per-second series summed over `collections` (names on the
    /// server).
    pub fn with_collections(&self, collections: Vec<String>) -> Self {
        Self {
            collections,
            ..self.clone()
        }
    }

    /// True when this monitor reports anything about a server.
    pub fn watches_a_server(&self) -> bool {
        self.telemetry.is_some() || self.not_collected.is_some()
    }

    /// Starts watching at `measure_start` (on the current tokio runtime).
    pub(crate) fn start(&self, measure_start: Instant) -> Watching {
        let (tx, rx) = oneshot::channel();
        let task = self.telemetry.as_ref().map(|t| {
            tokio::spawn(watch(
                t.clone(),
                self.collections.clone(),
                measure_start,
                rx,
            ))
        });
        Watching {
            stop: Some(tx),
            task,
            not_collected: self.not_collected.clone(),
        }
    }
}

/// A monitor at work during one run.
pub(crate) struct Watching {
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<ServerSide>>,
    not_collected: Option<String>,
}

impl Watching {
    /// Takes the last sample and returns what was seen (`None` when nothing was watched).
    pub(crate) async fn finish(mut self) -> Option<ServerSide> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => Some(task.await.unwrap_or_else(|e| ServerSide {
                nodes: Vec::new(),
                not_collected: Some(format!("the metrics reader failed: {e}")),
            })),
            None => self.not_collected.take().map(|reason| ServerSide {
                nodes: Vec::new(),
                not_collected: Some(reason),
            }),
        }
    }
}

/// Per node: the first snapshot, the previous one, and what has been seen.
struct NodeState {
    first: Option<MetricsSnapshot>,
    prev: Option<MetricsSnapshot>,
    watch: NodeWatch,
}

impl NodeState {
    fn take(&mut self, t: f64, snapshot: Result<MetricsSnapshot, String>, collections: &[String]) {
        match snapshot {
            Ok(cur) => {
                if let Some(prev) = &self.prev {
                    self.watch
                        .seconds
                        .push(server_second(t, prev, &cur, collections));
                }
                if self.first.is_none() {
                    self.first = Some(cur.clone());
                }
                self.prev = Some(cur);
            }
            Err(e) => {
                self.watch.failed_samples += 1;
                if self.watch.unreadable.is_none() {
                    self.watch.unreadable = Some(e);
                }
            }
        }
    }
}

async fn watch(
    telemetry: Arc<Telemetry>,
    collections: Vec<String>,
    measure_start: Instant,
    mut stop: oneshot::Receiver<()>,
) -> ServerSide {
    let mut nodes: Vec<NodeState> = telemetry
        .urls()
        .iter()
        .map(|url| NodeState {
            first: None,
            prev: None,
            watch: NodeWatch {
                url: url.clone(),
                ..NodeWatch::default()
            },
        })
        .collect();
    let mut ticks = tokio::time::interval_at(measure_start.into(), Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop, if !stopping => stopping = true,
        }
        let t = Instant::now()
            .saturating_duration_since(measure_start)
            .as_secs_f64();
        let snapshots = telemetry.snapshot_each().await;
        for (node, s) in nodes.iter_mut().zip(snapshots) {
            node.take(t, s.map_err(|e| e.to_string()), &collections);
        }
        if stopping {
            break;
        }
    }
    ServerSide {
        nodes: nodes
            .into_iter()
            .map(|mut n| {
                if let (Some(first), Some(last)) = (&n.first, &n.prev) {
                    n.watch.delta = Some(node_delta(&n.watch.url, first, last));
                }
                n.watch
            })
            .collect(),
        not_collected: None,
    }
}
