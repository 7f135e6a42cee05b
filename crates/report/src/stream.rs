//! The stream-specific part of a report (`qdrant-perf stream --runbook`): per step the points
//! present, the writes, recall and stale results. Each step's search figures (latency, server
//! time, errors, timeline) are the report's `runs`, one per step, labelled alike
//! (`step 3 delete`), so `compare` matches them by label.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::latency::LatencySummary;
use crate::run::{ErrorTally, RecallStat};

/// `Report.stream`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamSection {
    /// `runbook` (a big-ann-benchmarks runbook).
    pub kind: String,
    /// The runbook file, its dataset key, `max_pts`, and the `gt_url` it held (not used).
    pub runbook: Option<serde_json::Value>,
    pub steps: Vec<StreamStep>,
    /// The mean of the search steps' recall@10 (big-ann's score of a runbook).
    pub mean_recall: Option<f64>,
    pub stale_results: u64,
}

/// One step: its label is that of its run in `Report.runs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStep {
    pub step: usize,
    pub label: String,
    pub operation: String,
    pub start_s: f64,
    pub end_s: f64,
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
}
