//! One module per command, each with one `run` (the hidden `hot-path` is `instructions`'
//! `hot_path`).

pub mod compare;
pub mod dataset;
pub mod instructions;
pub mod load;
pub mod merge;
pub mod plan;
pub mod profiles;
pub mod report;
pub mod scale;
pub mod settle;
pub mod stream;
pub mod stress;
pub mod sweep;
pub mod validate;
