//! `merge`: sums the HdrHistogram interval logs of several load generators (each run writes
//! `histograms/<run>.hlog`) into one histogram per tag (`search/mixtral`), so percentiles of a
//! load spread over machines are computed from all samples, never averaged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};

use qdrant_perf_report::intervals::decode_histogram;
use qdrant_perf_report::{LatencySummary, latency_histogram};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is not an HdrHistogram interval log (parse error at byte {offset}); give the .hlog files \
         that qdrant-perf runs write under <run dir>/histograms/",
        path.display()
    )]
    Parse { path: PathBuf, offset: usize },
    #[error("{}: interval {index} does not decode ({reason})", path.display())]
    Histogram {
        path: PathBuf,
        index: usize,
        reason: String,
    },
    #[error("{}: no interval histograms in the file", path.display())]
    Empty { path: PathBuf },
}

/// The merged histogram of one tag.
pub struct Merged {
    pub tag: String,
    pub histogram: Histogram<u64>,
    /// How many intervals (from all files) went into it.
    pub intervals: usize,
    pub files: usize,
}

impl Merged {
    pub fn summary(&self) -> LatencySummary {
        LatencySummary::from_histogram(&self.histogram)
    }
}

/// Reads every log and sums its intervals per tag (intervals without a tag count as `untagged`).
pub fn merge_logs(paths: &[PathBuf]) -> Result<Vec<Merged>, MergeError> {
    let mut by_tag: BTreeMap<String, Merged> = BTreeMap::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|source| MergeError::Read {
            path: path.clone(),
            source,
        })?;
        let mut seen = 0usize;
        let mut tags_in_file = Vec::new();
        for (index, entry) in IntervalLogIterator::new(&bytes).enumerate() {
            let entry = entry.map_err(|e| match e {
                hdrhistogram::serialization::interval_log::LogIteratorError::ParseError {
                    offset,
                } => MergeError::Parse {
                    path: path.clone(),
                    offset,
                },
            })?;
            let LogEntry::Interval(interval) = entry else {
                continue;
            };
            seen += 1;
            let h = decode_histogram(interval.encoded_histogram()).map_err(|reason| {
                MergeError::Histogram {
                    path: path.clone(),
                    index,
                    reason,
                }
            })?;
            let tag = interval
                .tag()
                .map_or("untagged".to_string(), |t| t.as_str().to_string());
            let m = by_tag.entry(tag.clone()).or_insert_with(|| Merged {
                tag: tag.clone(),
                histogram: latency_histogram(),
                intervals: 0,
                files: 0,
            });
            m.histogram.add(&h).map_err(|e| MergeError::Histogram {
                path: path.clone(),
                index,
                reason: format!("{e:?}"),
            })?;
            m.intervals += 1;
            if !tags_in_file.contains(&tag) {
                m.files += 1;
                tags_in_file.push(tag);
            }
        }
        if seen == 0 {
            return Err(MergeError::Empty { path: path.clone() });
        }
    }
    Ok(by_tag.into_values().collect())
}

/// Writes the merged histograms as one interval log (one interval per tag).
pub fn write_merged(path: &Path, merged: &[Merged]) -> std::io::Result<()> {
    let mut log = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment(
                "qdrant-perf merge: the sum of several interval logs, one interval per tag",
            )
            .begin_log_with(&mut log, &mut serializer)?;
        for m in merged {
            writer
                .write_histogram(
                    &m.histogram,
                    Duration::ZERO,
                    Duration::from_secs(1),
                    Tag::new(&m.tag),
                )
                .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        }
    }
    qdrant_perf_plumbing::write_atomic(path, &log)
}

/// The merged figures as a text table.
pub fn table(merged: &[Merged]) -> String {
    let mut s = format!(
        "{:<28} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6}\n",
        "tag", "samples", "mean ms", "p50", "p95", "p99", "p99.9", "max", "files"
    );
    for m in merged {
        let l = m.summary();
        s.push_str(&format!(
            "{:<28} {:>10} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>6}\n",
            m.tag, l.samples, l.mean_ms, l.p50_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms, m.files
        ));
    }
    s
}
