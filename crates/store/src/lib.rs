//! One [`Store`] trait over every engine qdrant-perf measures, the collection profiles of the
//! deployment, and the safety guard.
//!
//! Benches and the CLI create, load, index and search collections only through [`Store`], so a
//! measurement runs unchanged on the embedded engine ([`EdgeStore`], the real Qdrant engine
//! in-process via `qdrant-edge`) and on a Qdrant server or cluster ([`GrpcStore`] on the official
//! `qdrant-client`, [`RestStore`] on Qdrant's HTTP API); [`AnyStore`] picks one at run time. [`fixture`]
//! is the one way to put a dataset into a store and wait until it is indexed. The [`Guard`] makes
//! sure the suite only writes to or drops collections it named itself. [`CachedStore`] puts the
//! deployment's Redis result cache (and an optional in-process tier) in front of any store.
//!
//! This crate does not generate data (that is `qdrant-perf-data`) and does not drive load or
//! judge targets (that is `qdrant-perf-load`).

mod any;
pub mod cache;
mod edge;
mod error;
pub mod filter;
pub mod fixture;
mod guard;
mod profiles;
pub mod readonly;
pub mod remote;
mod spec;
mod store;

pub use any::AnyStore;
pub use cache::{
    CacheConfig, CacheError, CacheMeasurements, CacheMode, CacheStatsSnapshot, CachedStore, Ttl,
};
pub use edge::EdgeStore;
pub use error::{Result, StoreError};
pub use filter::{Condition, Filter, PayloadIndexKind, check_payload_indexes};
pub use guard::{DEFAULT_PREFIX, Guard};
pub use profiles::{
    BUNDLED_PROFILES, CollectionProfile, IndexDefaults, ProfileError, Profiles, SearchDefaults,
};
pub use remote::{Api, ApiKey, GrpcStore, RestStore, Sampled, ServerConfig};
pub use spec::{
    BatchResponse, CollectionSpec, Created, EncodedQuery, Engine, Footprint, Hit, HnswParams,
    INDEXING_THRESHOLD_KB, IndexState, Point, Quantization, Query, SearchResponse, expects_index,
};
pub use store::Store;
