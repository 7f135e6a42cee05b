//! The stream-specific part of a report (`qdrant-perf stream`): per stage (a plain stream,
//! `kind: "stages"`) or per step (`stream --runbook`, `kind: "runbook"`) the points present, the
//! writes, recall and stale results; for a plain stream also the freshness of the followed
//! points. Each stage's or step's search figures (latency, server time, errors, timeline,
//! server-side seconds) are the report's `runs`, one per stage or step, labelled alike
//! (`stage 3`, `step 3 delete`), so `compare` matches them by label.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::latency::LatencySummary;
use crate::run::{ErrorTally, RecallStat};

/// `Report.stream`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamSection {
    /// `stages` (a plain stream cut into stages of its inserts) or `runbook` (a
    /// big-ann-benchmarks runbook).
    pub kind: String,
    /// The runbook file, its dataset key, `max_pts`, and the `gt_url` it held (not used).
    pub runbook: Option<serde_json::Value>,
    pub steps: Vec<StreamStep>,
    /// The mean of the search steps' recall@10 (big-ann's score of a runbook).
    pub mean_recall: Option<f64>,
    pub stale_results: u64,
    /// `stages`: the followed points and their lags over the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
    /// `stages`: the failed inserts over the whole run, by kind (empty for a runbook).
    #[serde(default)]
    pub write_errors_by_kind: BTreeMap<String, ErrorTally>,
}

/// The mean of the search steps' recall@10: big-ann-benchmarks' score of a runbook (`None`
/// when no search step was scored).
pub fn mean_search_recall<'a>(steps: impl IntoIterator<Item = &'a StreamStep>) -> Option<f64> {
    let searched: Vec<f64> = steps
        .into_iter()
        .filter(|s| s.operation == "search")
        .filter_map(|s| s.recall_at_10.map(|r| r.value))
        .collect();
    (!searched.is_empty()).then(|| searched.iter().sum::<f64>() / searched.len() as f64)
}

/// One stage or step: its label is that of its run in `Report.runs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStep {
    pub step: usize,
    pub label: String,
    pub operation: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Runbook: points present after the step; stages: points acknowledged when it began.
    pub points_present: usize,
    pub written: usize,
    pub write_rate: f64,
    pub requested_write_rate: Option<f64>,
    pub write_latency_ms: LatencySummary,
    pub write_errors: u64,
    pub write_errors_by_kind: BTreeMap<String, ErrorTally>,
    pub recall_at_10: Option<RecallStat>,
    pub stale_results: u64,
    pub partial: bool,
    /// Stages with --delete-rate or --update-rate: the deletes and updates beside the inserts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<StageChurn>,
    /// Stages: the searchable lag of the points followed during the stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searchable: Option<Lag>,
    /// Stages: the indexed lag of the same points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexed: Option<Lag>,
}

/// A stage's deletes and updates (a plain stream with churn).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageChurn {
    pub deleted: usize,
    pub delete_rate: f64,
    pub updated: usize,
    pub update_rate: f64,
    pub write_errors: u64,
    /// Answers holding a point deleted or replaced away before the search was sent (misses).
    pub stale_results: u64,
    /// Answers holding a point written since the stage began (left out of the score).
    pub in_flight_results: u64,
}

/// The freshness of a plain stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    pub samples: Vec<FreshSample>,
    pub searchable: Lag,
    pub indexed: Lag,
}

/// One followed point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FreshSample {
    pub id: u64,
    /// The stage during which its insert was acknowledged (1-based).
    pub stage: usize,
    /// Seconds from the start of the stream to the acknowledgement.
    pub acked_s: f64,
    /// Points the collection held once it was acknowledged (the indexed count must reach it).
    pub position: usize,
    pub searchable_ms: Option<f64>,
    /// Searches sent for it until it was found (or the timeout).
    pub probes: u64,
    pub indexed_ms: Option<f64>,
}

/// Freshness lags of a set of samples: percentiles over those seen, and how many were not
/// seen within the timeout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lag {
    pub ms: LatencySummary,
    pub not_seen: u64,
}
