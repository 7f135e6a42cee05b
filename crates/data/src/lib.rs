//! Deterministic vector datasets for qdrant-perf: a seeded, portable generator, exact top-k ground
//! truth, recall, and dataset files in the standard ANN formats.
//!
//! Every measurement in the suite starts here. A [`DatasetSpec`] names everything that changes the
//! data (dimension, size, distribution, metric, seed); the same spec gives the same bytes on every
//! machine, so a dataset is addressed by the hash of its spec and cached on disk under
//! `<cache>/datasets/<hash>/` ([`DatasetCache`]). Ground truth is computed exactly, by blocked
//! matrix products on all cores ([`ground_truth`]), so recall figures mean what they say.
//!
//! This crate knows nothing of Qdrant: it does not upload, index or search. That is the store
//! crate's job.

mod dataset_cache;
mod error;
mod files;
mod formats;
mod generator;
mod groundtruth;
mod hardness;
mod incremental;
mod payload;
mod progress;
mod query_streams;
mod recall;
mod user;
mod vectors;

pub use dataset_cache::{
    Dataset, DatasetCache, LoadedFrom, TruthDisagreement, TruthOrigin, TruthUsed, UserSource,
};
pub use error::{DataError, Result};
pub use files::{
    convert_to_fbin, read_byte_vectors, read_ids, read_vectors, write_ids, write_vectors,
};
pub use formats::{FORMATS_HELP, Format, metric_from_word};
pub use generator::{Distribution, GENERATOR_VERSION, Metric, Part, generate};
pub use groundtruth::{GroundTruth, exact_top_k_naive, ground_truth, ground_truth_filtered};
pub use hardness::{
    HARDNESS_VERSION, Hardness, LID_K, SAMPLE_POINTS as HARDNESS_SAMPLE_POINTS,
    SAMPLE_QUERIES as HARDNESS_SAMPLE_QUERIES, hardness,
};
pub use incremental::IncrementalTruth;
pub use payload::{
    Bound, FLOAT_FIELD, FieldKind, Frequency, INTEGER_FIELD, KEYWORD_FIELD, PAYLOAD_VERSION,
    PayloadSpec, Payloads, PointPayloads, Selected, SourcePayloads, check_selectivity,
    fields as payload_fields,
};
pub use progress::{PROGRESS_SECS_VAR, plain_interval, progress_bar, spinner};
pub use query_streams::{
    DEFAULT_STREAM_SEED, DEFAULT_ZIPF_EXPONENT, Popularity, QueryStream, ideal_hit_rate,
};
pub use recall::{mean_recall, recall_at_k};
pub use user::{KEEP_SHIPPED_TRUTH_VAR, MetricWanted, RECALL_K, TIE_TOLERANCE, UserData};
pub use vectors::{DatasetSpec, MAX_DIM, Vectors};
