use std::path::PathBuf;

/// What can go wrong talking to a store. Messages name the collection, the input at fault and
/// the fix.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "wrong vector length for collection `{collection}`: {what} has {actual} floats, \
         the collection's dimension is {expected}"
    )]
    WrongDimension {
        collection: String,
        expected: usize,
        actual: usize,
        what: String,
    },

    #[error("unknown collection `{name}`; open collections: {}", list(.known))]
    UnknownCollection { name: String, known: Vec<String> },

    #[error(
        "refusing to {action} collection `{name}`: the suite only writes to and drops collections \
         it created, whose names start with `{prefix}`. Benchmark an existing collection \
         read-only, or use a name that starts with `{prefix}`"
    )]
    NotOwned {
        name: String,
        prefix: String,
        action: &'static str,
    },

    #[error("invalid collection spec: {field} = {value}: {reason}")]
    InvalidSpec {
        field: &'static str,
        value: String,
        reason: String,
    },

    #[error("invalid filter: {reason}")]
    InvalidFilter { reason: String },

    #[error("collection `{collection}` is not fully indexed: {state}")]
    NotIndexed {
        collection: String,
        state: String,
        /// Vectors the pass left indexed (points inserted while it ran are not among them).
        indexed_vectors: usize,
    },

    #[error("{engine} failed to {op} on collection `{collection}`: {message}")]
    Engine {
        engine: &'static str,
        op: &'static str,
        // Boxed strings keep the error (and every error that holds one) small.
        collection: Box<str>,
        message: String,
        /// The server node that answered with the error (its URL), for a Qdrant server.
        node: Option<Box<str>>,
    },

    #[error(
        "cannot reach Qdrant at {url}: {message}. Is the server running there? Check QDRANT_URL \
         (Qdrant answers gRPC on port 6334 and REST on 6333 by default)"
    )]
    Unreachable { url: String, message: String },

    #[error(
        "authentication failed at {url}: the server refused the request's API key; \
         set QDRANT_API_KEY to the server's key"
    )]
    Auth { url: String },

    #[error(
        "collection `{collection}` exists with {found}, but the spec says {wanted}; \
         drop it first (it carries the suite's prefix) or use another prefix"
    )]
    Conflict {
        collection: String,
        found: String,
        wanted: String,
    },

    #[error(
        "collection `{collection}` did not finish indexing within {seconds:.0} s; \
         the last state seen: {state}. If the server is still optimizing, give it longer \
         (--index-timeout); an optimizer that never starts (max_optimization_threads 0, an \
         indexing_threshold never reached) never finishes"
    )]
    IndexTimeout {
        collection: String,
        seconds: f64,
        state: String,
    },

    #[error(
        "the cached index {path} is in use by another process (its write-ahead log is locked); \
         wait for that run to finish, or point QDRANT_PERF_CACHE_DIR elsewhere for this one"
    )]
    InUse { path: PathBuf },

    #[error(
        "the embedded engine could not close collection `{collection}` in {path}: {message}. \
         Its last writes may be lost; close the store before deleting its files"
    )]
    Close {
        collection: String,
        path: PathBuf,
        message: String,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// The error, naming the server node at `url` that answered with it (an engine error that
    /// names none yet; others name their URL already or have none).
    pub fn at_node(mut self, url: &str) -> Self {
        if let StoreError::Engine {
            node: node @ None, ..
        } = &mut self
        {
            *node = Some(url.into());
        }
        self
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
