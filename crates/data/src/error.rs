use std::path::PathBuf;

/// Everything that can go wrong while making, reading or writing a dataset. Each message names
/// the input at fault and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("invalid dataset spec: {field} = {value}: {reason}")]
    InvalidSpec {
        field: &'static str,
        value: String,
        reason: String,
    },

    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "dataset cache directory {path} is not writable ({source}); \
         point QDRANT_PERF_CACHE_DIR at a writable directory"
    )]
    CacheNotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("vector length mismatch: expected dimension {expected}, got {actual} ({context})")]
    WrongDimension {
        expected: usize,
        actual: usize,
        context: String,
    },
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
