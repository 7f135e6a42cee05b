use std::future::Future;

use crate::error::Result;
use crate::spec::{
    BatchResponse, CollectionSpec, Created, EncodedQuery, Engine, Footprint, IndexState, Point,
    Query, SearchResponse,
};

/// One interface for every engine, so every bench and load test runs unchanged on each.
///
/// Writes (`create`, `upsert`, `delete`, `drop_owned`) go through the store's [`crate::Guard`]: a name
/// without the suite's prefix is refused before anything is sent.
pub trait Store: Send + Sync {
    fn engine(&self) -> Engine;

    /// Creates the collection, or finds an existing one with the same spec.
    fn create(&self, spec: &CollectionSpec) -> impl Future<Output = Result<Created>> + Send;

    /// Inserts or replaces a batch of points.
    fn upsert(&self, name: &str, batch: &[Point]) -> impl Future<Output = Result<()>> + Send;

    /// Deletes the points with these ids (an id not present is no error), acknowledged once
    /// applied (`wait=true` on a server).
    fn delete(&self, name: &str, ids: &[u64]) -> impl Future<Output = Result<()>> + Send;

    /// Returns once every point is searchable through the index (the embedded engine builds it
    /// here; a server is polled until green). No search should be timed before this.
    fn wait_indexed(&self, name: &str) -> impl Future<Output = Result<IndexState>> + Send;

    fn search(
        &self,
        name: &str,
        query: &Query,
    ) -> impl Future<Output = Result<SearchResponse>> + Send;

    /// `query`'s request encoded once, for [`Store::search_prepared`]; `None` for a store
    /// with no wire to encode for (the embedded engine), or none it can prepare for.
    fn prepare(&self, query: &Query) -> Option<EncodedQuery> {
        let _ = query;
        None
    }

    /// [`Store::search`] of `query` sending `prepared` (made from `query` by this store's
    /// [`Store::prepare`]) instead of building the request again. The answer is the same.
    fn search_prepared(
        &self,
        name: &str,
        query: &Query,
        prepared: &EncodedQuery,
    ) -> impl Future<Output = Result<SearchResponse>> + Send {
        let _ = prepared;
        self.search(name, query)
    }

    /// Several searches in one request (for the embedded engine: one call).
    fn search_batch(
        &self,
        name: &str,
        queries: &[Query],
    ) -> impl Future<Output = Result<BatchResponse>> + Send;

    /// Exact number of points.
    fn count(&self, name: &str) -> impl Future<Output = Result<usize>> + Send;

    fn footprint(&self, name: &str) -> impl Future<Output = Result<Footprint>> + Send;

    /// Deletes a collection the suite created (the guard refuses any other).
    fn drop_owned(&self, name: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Forwards every method of [`Store`] to the store behind a pointer.
macro_rules! forward_store {
    ($($generics:tt)*) => {
        $($generics)* {
            fn engine(&self) -> Engine {
                (**self).engine()
            }

            fn create(&self, spec: &CollectionSpec) -> impl Future<Output = Result<Created>> + Send {
                (**self).create(spec)
            }

            fn upsert(&self, name: &str, batch: &[Point]) -> impl Future<Output = Result<()>> + Send {
                (**self).upsert(name, batch)
            }

            fn delete(&self, name: &str, ids: &[u64]) -> impl Future<Output = Result<()>> + Send {
                (**self).delete(name, ids)
            }

            fn wait_indexed(&self, name: &str) -> impl Future<Output = Result<IndexState>> + Send {
                (**self).wait_indexed(name)
            }

            fn search(
                &self,
                name: &str,
                query: &Query,
            ) -> impl Future<Output = Result<SearchResponse>> + Send {
                (**self).search(name, query)
            }

            fn prepare(&self, query: &Query) -> Option<EncodedQuery> {
                (**self).prepare(query)
            }

            fn search_prepared(
                &self,
                name: &str,
                query: &Query,
                prepared: &EncodedQuery,
            ) -> impl Future<Output = Result<SearchResponse>> + Send {
                (**self).search_prepared(name, query, prepared)
            }

            fn search_batch(
                &self,
                name: &str,
                queries: &[Query],
            ) -> impl Future<Output = Result<BatchResponse>> + Send {
                (**self).search_batch(name, queries)
            }

            fn count(&self, name: &str) -> impl Future<Output = Result<usize>> + Send {
                (**self).count(name)
            }

            fn footprint(&self, name: &str) -> impl Future<Output = Result<Footprint>> + Send {
                (**self).footprint(name)
            }

            fn drop_owned(&self, name: &str) -> impl Future<Output = Result<()>> + Send {
                (**self).drop_owned(name)
            }
        }
    };
}

// A shared reference to a store is a store, and so is an `Arc` of one: wrappers such as
// [`crate::CachedStore`] can wrap a store that something else owns or shares.
forward_store!(impl<S: Store + ?Sized> Store for &S);
forward_store!(impl<S: Store + ?Sized> Store for std::sync::Arc<S>);
