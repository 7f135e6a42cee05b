//! `qdrant-perf settle`: how a deployment settles after an event (a bulk load, a mass delete, a
//! restart, or none), searched open loop at the collection's rate. A [`SettleSection`] holds one
//! [`SettleRun`] per event run (two with `--prevent-unoptimized both`): the searches' figures
//! second by second ([`SettleSecond`]), the server's state polled once a second
//! ([`StatePoll`]), and the figures drawn from them ([`SettleFigures`], by [`SettleRun::figure`]).
//! Every time is in seconds from the start of the event. The driver's own results of the same
//! searches are the report's `runs`.

use serde::{Deserialize, Serialize};

use crate::LatencySummary;
use crate::checks::{Bound, Check};
use crate::run::RecallStat;

/// The settle part of a report.json.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SettleSection {
    pub runs: Vec<SettleRun>,
}

/// One event and the searches after it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SettleRun {
    /// `bulk-load`, `bulk-load, prevent_unoptimized` ...: also the label of its driver run.
    pub label: String,
    /// `bulk-load`, `delete=25%`, `restart` or `none`.
    pub after: String,
    /// The suite's collection (dropped at the end).
    pub collection: String,
    pub points: usize,
    pub dim: usize,
    /// `optimizers_config.prevent_unoptimized` of the collection (`None`: not set, the
    /// server's default; the embedded engine has no such option).
    pub prevent_unoptimized: Option<bool>,
    /// Searches per second asked for (open loop).
    pub rate: f64,
    pub p95_target_ms: f64,
    pub window_s: f64,
    pub max_time_s: f64,
    /// How long the event itself took: the upload until its last batch was acknowledged, the
    /// delete until acknowledged, the restart until the server answered `/readyz`; 0 for none.
    pub event_s: f64,
    /// When the searches began, from the start of the event.
    pub search_start_s: f64,
    /// Where the state comes from (the REST address, or the embedded engine's optimizer passes).
    pub state_source: String,
    /// What the truth of the recall is over.
    pub truth: String,
    pub seconds: Vec<SettleSecond>,
    pub states: Vec<StatePoll>,
    pub figures: SettleFigures,
    /// Why the searches ended: settled, the time limit, Ctrl-C.
    pub stopped_because: String,
    pub notes: Vec<String>,
}

/// One second of the searches (by completion), `t_s` at its end.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SettleSecond {
    pub t_s: f64,
    pub ok: u64,
    pub errors: u64,
    pub ops_s: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Qdrant's own time of the same searches (where the store reports it).
    pub server_p95_ms: Option<f64>,
    pub recall_at_10: Option<f64>,
    /// The optimizer was not yet idle for good at the end of this second.
    pub draining: bool,
}

/// The server's state at one poll (see `qdrant_perf_store::remote::state`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StatePoll {
    pub t_s: f64,
    pub status: Option<String>,
    pub optimizer_status: Option<String>,
    pub points: Option<u64>,
    pub indexed_vectors: Option<u64>,
    pub segments: Option<u64>,
    pub update_queue: Option<u64>,
    pub deferred_points: Option<u64>,
    pub queued_optimizations: Option<u64>,
    pub queued_segments: Option<u64>,
    pub queued_points: Option<u64>,
    /// Optimizations running, their names, and their progress summed (`done` of `total`).
    pub running: Option<u64>,
    pub running_optimizers: Vec<String>,
    pub running_done: Option<u64>,
    pub running_total: Option<u64>,
    /// Nothing queued or running and the collection green (the embedded engine: an optimizer
    /// pass found every vector indexed).
    pub idle: bool,
    pub error: Option<String>,
}

/// The figures of one settle run. Times in seconds from the start of the event.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SettleFigures {
    /// The first successful search after the event began (restart: after the server was asked
    /// to start).
    pub time_to_first_answer_s: Option<f64>,
    /// Until the optimizer was idle for good (idle at that poll and every later one).
    pub drain_s: Option<f64>,
    pub worst_p95_ms: Option<f64>,
    pub worst_p99_ms: Option<f64>,
    /// The end of the second with the worst p95.
    pub worst_second_s: Option<f64>,
    /// From when p95 stayed under the target to the end (start of that stretch), if the
    /// stretch lasted at least the window.
    pub back_under_target_s: Option<f64>,
    /// The optimizer idle and p95 under the target for the window, before the time limit.
    pub settled: bool,
    pub latency_draining: LatencySummary,
    pub latency_after: LatencySummary,
    pub server_latency_draining: Option<LatencySummary>,
    pub server_latency_after: Option<LatencySummary>,
    pub recall_draining: Option<RecallStat>,
    pub recall_after: Option<RecallStat>,
}

/// When the optimizer became idle for good: the time of the first poll from which every poll
/// is idle; `None` when the last poll is not idle (or there is none).
pub fn drain_end(states: &[StatePoll]) -> Option<f64> {
    if !states.last()?.idle {
        return None;
    }
    let first_idle = states.iter().rposition(|s| !s.idle).map_or(0, |i| i + 1);
    Some(states[first_idle].t_s)
}

/// The start of the last stretch of seconds, lasting to the end, in which every second had
/// answers, no failed search and a p95 at most `target`; `None` when that stretch is shorter than `window_s`.
pub fn back_under(seconds: &[SettleSecond], target: f64, window_s: f64) -> Option<f64> {
    let good =
        |s: &SettleSecond| s.ok > 0 && s.errors == 0 && s.p95_ms.is_some_and(|p| p <= target);
    let first_good = seconds.iter().rposition(|s| !good(s)).map_or(0, |i| i + 1);
    let stretch = &seconds[first_good..];
    let start = stretch.first()?.t_s - 1.0;
    let start = start.max(if first_good > 0 {
        seconds[first_good - 1].t_s
    } else {
        start
    });
    (seconds.last()?.t_s - start + 1e-9 >= window_s).then_some(start)
}

/// The worst second: its p95 and its end, and the highest p99 of any second, among the whole
/// seconds (`lengths[i]`: how long second `i` lasted): a last second the stop cut to under half
/// a second holds too few searches for its percentiles to mean much (it stays in the table).
pub fn worst_seconds(
    seconds: &[SettleSecond],
    lengths: &[f64],
) -> (Option<(f64, f64)>, Option<f64>) {
    let whole = || {
        seconds
            .iter()
            .zip(lengths)
            .filter(|(_, l)| **l >= 0.5)
            .map(|(s, _)| s)
    };
    let worst = whole()
        .filter_map(|s| Some((s.p95_ms?, s.t_s)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let p99 = whole().filter_map(|s| s.p99_ms).max_by(f64::total_cmp);
    (worst, p99)
}

impl SettleRun {
    /// The checks of this run: p95 after the drain under the target, settled within the time
    /// limit, recall after the drain at least `recall_floor`.
    pub fn checks(&self, recall_floor: f64) -> Vec<Check> {
        let who = format!("{} ({})", self.collection, self.label);
        let f = &self.figures;
        let mut out = Vec::new();
        out.push(if f.latency_after.samples > 0 {
            Check::measured(
                "settle_latency_p95_after_drain",
                &who,
                f.latency_after.p95_ms,
                "ms",
                Bound::AtMost,
                self.p95_target_ms,
                f.latency_after.samples,
            )
        } else {
            Check::failed_without_value(
                "settle_latency_p95_after_drain",
                &who,
                "ms",
                Bound::AtMost,
                self.p95_target_ms,
                "no search answered after the optimizer was idle (it never was, or no answers)",
            )
        });
        out.push(match f.back_under_target_s {
            Some(t) if f.settled => Check::measured(
                "settle_back_under_target_s",
                &who,
                t,
                "s",
                Bound::AtMost,
                self.search_start_s + self.max_time_s,
                self.seconds.len() as u64,
            )
            .with_note(format!(
                "p95 <= {} ms for {} s with the optimizer idle; limit: the searches' start + --max-time",
                self.p95_target_ms, self.window_s
            )),
            _ => Check::failed_without_value(
                "settle_back_under_target_s",
                &who,
                "s",
                Bound::AtMost,
                self.search_start_s + self.max_time_s,
                &format!(
                    "not settled: {}; worst second p95 {}",
                    self.stopped_because,
                    f.worst_p95_ms.map_or("-".into(), |p| format!("{p:.2} ms"))
                ),
            ),
        });
        out.push(match f.recall_after.or(f.recall_draining) {
            Some(r) => Check::measured(
                "settle_recall_at_10",
                &who,
                r.value,
                "",
                Bound::AtLeast,
                recall_floor,
                r.samples,
            )
            .with_note(if f.recall_after.is_some() {
                format!("after the drain; truth: {}", self.truth)
            } else {
                format!("while draining (never idle); truth: {}", self.truth)
            }),
            None => Check::not_run(
                "settle_recall_at_10",
                &who,
                "",
                Bound::AtLeast,
                recall_floor,
                "no search answered",
            ),
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(t: f64, p95: f64) -> SettleSecond {
        SettleSecond {
            t_s: t,
            ok: 10,
            p95_ms: Some(p95),
            ..Default::default()
        }
    }

    #[test]
    fn drain_ends_at_the_first_poll_of_the_last_idle_stretch() {
        let p = |t, idle| StatePoll {
            t_s: t,
            idle,
            ..Default::default()
        };
        assert_eq!(
            drain_end(&[p(0.0, true), p(1.0, false), p(2.0, true), p(3.0, true)]),
            Some(2.0)
        );
        assert_eq!(drain_end(&[p(0.0, true), p(1.0, true)]), Some(0.0));
        assert_eq!(drain_end(&[p(0.0, true), p(1.0, false)]), None);
        assert_eq!(drain_end(&[]), None);
    }

    #[test]
    fn the_worst_second_is_a_whole_one() {
        let mut s = [sec(1.0, 5.0), sec(2.0, 9.0), sec(2.2, 40.0)];
        s[1].p99_ms = Some(12.0);
        s[2].p99_ms = Some(60.0);
        // The last second lasted 0.2 s: left out.
        assert_eq!(
            worst_seconds(&s, &[1.0, 1.0, 0.2]),
            (Some((9.0, 2.0)), Some(12.0))
        );
        // Half a second or more counts.
        assert_eq!(
            worst_seconds(&s, &[1.0, 1.0, 0.5]),
            (Some((40.0, 2.2)), Some(60.0))
        );
        assert_eq!(worst_seconds(&s[2..], &[0.2]), (None, None));
    }

    #[test]
    fn back_under_needs_a_stretch_to_the_end_as_long_as_the_window() {
        let s = [sec(1.0, 50.0), sec(2.0, 5.0), sec(3.0, 5.0), sec(4.0, 5.0)];
        assert_eq!(back_under(&s, 10.0, 3.0), Some(1.0));
        assert_eq!(back_under(&s, 10.0, 4.0), None);
        let bad_end = [sec(1.0, 5.0), sec(2.0, 50.0)];
        assert_eq!(back_under(&bad_end, 10.0, 1.0), None);
        assert_eq!(
            back_under(&[sec(1.0, 5.0), sec(2.0, 5.0)], 10.0, 2.0),
            Some(0.0)
        );
    }
}
