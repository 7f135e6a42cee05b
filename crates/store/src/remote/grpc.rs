//! A Qdrant server over gRPC, through the official `qdrant-client` (prepared searches on a bare
//! HTTP/2 connection per node: [`super::grpc_h2`]).

use std::time::Duration;

use qdrant_client::qdrant::{
    BinaryQuantizationBuilder, CollectionStatus, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType,
    HnswConfigDiffBuilder, OptimizersConfigDiffBuilder, PointId, PointStruct, PointsIdsList,
    QuantizationSearchParamsBuilder, ScalarQuantizationBuilder, ScoredPoint,
    SearchBatchPointsBuilder, SearchParamsBuilder, SearchPoints, SearchPointsBuilder,
    UpsertPointsBuilder, VectorParamsBuilder, point_id::PointIdOptions,
};
use qdrant_client::{Payload, Qdrant, QdrantError};

use super::grpc_h2::{self, H2Node};
use super::{
    ApiKey, Nodes, Sampled, Seen, ServerConfig, note_server_version, redact, unnamed_only,
    unsupported_distance, wait_until_indexed,
};
use crate::error::{Result, StoreError};
use crate::guard::Guard;
use crate::spec::{
    BatchResponse, CollectionSpec, Created, EncodedQuery, Engine, Footprint, Hit, IndexState,
    Point, Quantization, Query, SearchResponse,
};
use crate::store::Store;

/// The qdrant-client minor version this suite is built with (see the workspace Cargo.toml).
pub const CLIENT_VERSION: &str = "1.20";

/// A Qdrant server (or the nodes of a cluster, used in turn, a node that cannot be reached left
/// out while it backs off: see [`super::Nodes`]) over gRPC.
pub struct GrpcStore {
    clients: Vec<Qdrant>,
    /// One bare HTTP/2 connection per node for prepared searches ([`Store::search_prepared`]);
    /// empty when a node is reached over TLS (those searches then go through `clients`).
    channels: Vec<H2Node>,
    /// The API key as the `api-key` header, parsed once (sensitive: never indexed by HPACK).
    key_header: Option<http::HeaderValue>,
    nodes: Nodes,
    api_key: Option<ApiKey>,
    guard: Guard,
    index_timeout: Duration,
    version: String,
}

fn distance(spec: &CollectionSpec) -> Distance {
    match spec.metric {
        qdrant_perf_data::Metric::Cosine => Distance::Cosine,
        qdrant_perf_data::Metric::Dot => Distance::Dot,
        qdrant_perf_data::Metric::Euclid => Distance::Euclid,
    }
}

/// Dimension and distance of a collection's (single, unnamed) vectors; (0, unknown) otherwise.
fn vector_params(info: &qdrant_client::qdrant::CollectionInfo) -> (usize, Distance) {
    match info
        .config
        .as_ref()
        .and_then(|c| c.params.as_ref())
        .and_then(|p| p.vectors_config.as_ref())
        .and_then(|v| v.config.as_ref())
    {
        Some(qdrant_client::qdrant::vectors_config::Config::Params(p)) => (
            p.size as usize,
            Distance::try_from(p.distance).unwrap_or(Distance::UnknownDistance),
        ),
        _ => (0, Distance::UnknownDistance),
    }
}

fn point_id(id: Option<&PointId>) -> u64 {
    match id.and_then(|p| p.point_id_options.as_ref()) {
        Some(PointIdOptions::Num(n)) => *n,
        // The suite writes numeric ids only.
        _ => u64::MAX,
    }
}

fn to_hits(points: Vec<ScoredPoint>, with_payload: bool) -> Vec<Hit> {
    points
        .into_iter()
        .map(|p| Hit {
            id: point_id(p.id.as_ref()),
            score: p.score,
            payload: with_payload.then(|| {
                serde_json::Map::<String, serde_json::Value>::from(Payload::from(p.payload))
            }),
        })
        .collect()
}

impl GrpcStore {
    /// Connects to every node, checks that each answers (within the connect timeout) and records
    /// the server version once. Creates nothing.
    pub async fn connect(config: &ServerConfig, guard: Guard) -> Result<Self> {
        let mut clients = Vec::new();
        let mut version = String::new();
        for url in &config.urls {
            let client = Qdrant::from_url(url)
                .api_key(config.api_key.as_ref().map(|k| k.expose().to_string()))
                .connect_timeout(config.connect_timeout)
                .timeout(config.request_timeout)
                // The suite checks the version itself, once, and records it.
                .skip_compatibility_check()
                .build()
                .map_err(|e| classify(e, url, config.api_key.as_ref(), "connect", ""))?;
            let health = client
                .health_check()
                .await
                .map_err(|e| classify(e, url, config.api_key.as_ref(), "connect", ""))?;
            version = health.version;
            // The health check answers without the key: make an authenticated call too.
            client
                .list_collections()
                .await
                .map_err(|e| classify(e, url, config.api_key.as_ref(), "connect", ""))?;
            clients.push(client);
        }
        note_server_version(CLIENT_VERSION, &version);
        let channels = prepared_channels(config)?;
        let key_header = match &config.api_key {
            Some(k) => {
                let printable = k.expose().bytes().all(|b| (0x20..0x7f).contains(&b));
                let mut v = http::HeaderValue::from_str(k.expose())
                    .ok()
                    .filter(|_| printable)
                    .ok_or_else(|| StoreError::Engine {
                        engine: "qdrant grpc",
                        op: "connect",
                        collection: "".into(),
                        message:
                            "the API key is not a valid gRPC header value (printable ASCII only)"
                                .into(),
                        node: None,
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(Self {
            clients,
            channels,
            key_header,
            nodes: Nodes::new(&config.urls),
            api_key: config.api_key.clone(),
            guard,
            index_timeout: config.index_timeout,
            version,
        })
    }

    pub fn server_version(&self) -> &str {
        &self.version
    }

    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    fn pick(&self) -> (usize, &Qdrant) {
        let i = self.nodes.pick();
        (i, &self.clients[i])
    }

    /// An error of a call to `node`, naming the node; one that could not reach it leaves the
    /// node out for its back-off.
    fn err(
        &self,
        node: usize,
        op: &'static str,
        collection: &str,
    ) -> impl Fn(QdrantError) -> StoreError {
        move |e| {
            let e = classify(
                e,
                self.nodes.url(node),
                self.api_key.as_ref(),
                op,
                collection,
            );
            if matches!(e, StoreError::Unreachable { .. }) {
                self.nodes.failed(node);
            }
            e
        }
    }

    async fn info(&self, name: &str) -> Result<qdrant_client::qdrant::CollectionInfo> {
        let (i, c) = self.pick();
        Ok(c.collection_info(name)
            .await
            .map_err(self.err(i, "read info", name))?
            .result
            .unwrap_or_default())
    }

    /// True when the collection exists (read-only; any name).
    pub async fn exists(&self, name: &str) -> Result<bool> {
        let (i, c) = self.pick();
        c.collection_exists(name)
            .await
            .map_err(self.err(i, "check existence", name))
    }

    /// Creates the spec's payload indexes and waits until each is built.
    async fn create_payload_indexes(&self, spec: &CollectionSpec) -> Result<()> {
        for (field, kind) in &spec.payload_indexes {
            let field_type = match kind {
                crate::filter::PayloadIndexKind::Keyword => FieldType::Keyword,
                crate::filter::PayloadIndexKind::Integer => FieldType::Integer,
                crate::filter::PayloadIndexKind::Float => FieldType::Float,
            };
            let (i, c) = self.pick();
            c.create_field_index(
                CreateFieldIndexCollectionBuilder::new(&spec.name, field, field_type).wait(true),
            )
            .await
            .map_err(self.err(i, "create a payload index", &spec.name))?;
        }
        Ok(())
    }

    /// The `SearchPoints` of `q` on collection `name`, built as qdrant-client takes it (the
    /// vector copied in).
    pub fn search_request(name: &str, q: &Query) -> SearchPoints {
        let mut params = SearchParamsBuilder::default().exact(q.exact);
        if let Some(ef) = q.ef {
            params = params.hnsw_ef(ef as u64);
        }
        if q.rescore.is_some() || q.oversampling.is_some() {
            let mut qp = QuantizationSearchParamsBuilder::default();
            if let Some(r) = q.rescore {
                qp = qp.rescore(r);
            }
            if let Some(o) = q.oversampling {
                qp = qp.oversampling(o);
            }
            params = params.quantization(qp);
        }
        let mut request = SearchPointsBuilder::new(name, q.vector.clone(), q.k as u64)
            .params(params)
            .with_payload(q.with_payload);
        if let Some(f) = &q.filter {
            request = request.filter(f.to_grpc());
        }
        request.build()
    }
}

/// Turns a client error into one that says what to do, without the API key.
fn classify(
    e: QdrantError,
    url: &str,
    key: Option<&ApiKey>,
    op: &'static str,
    collection: &str,
) -> StoreError {
    if let QdrantError::ResponseError { status } = &e {
        use tonic::Code;
        match status.code() {
            Code::Unauthenticated | Code::PermissionDenied => {
                return StoreError::Auth { url: url.into() };
            }
            Code::Unavailable | Code::DeadlineExceeded if op == "connect" => {
                return StoreError::Unreachable {
                    url: url.into(),
                    message: redact(status.message(), key),
                };
            }
            _ => {}
        }
    }
    // "timed out" means the server was not reached only when the status is a transport
    // failure's (tonic's Unavailable or Unknown, a call cancelled or out of time, or no status):
    // a search that timed out inside Qdrant comes back as its own Internal answer saying
    // "Timeout error ... timed out". (qdrant-client also reports a failed connect as Internal,
    // but its text names the transport error.)
    let answered = matches!(&e, QdrantError::ResponseError { status } if !matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Cancelled
            | tonic::Code::DeadlineExceeded
    ));
    let message = redact(&e, key);
    let lower = message.to_lowercase();
    if lower.contains("transport error")
        || lower.contains("connection refused")
        || lower.contains("connection reset")
        || lower.contains("broken pipe")
        || lower.contains("tcp connect error")
        || lower.contains("failed to connect")
        || (!answered && lower.contains("timed out"))
    {
        return StoreError::Unreachable {
            url: url.into(),
            message,
        };
    }
    StoreError::Engine {
        engine: "qdrant grpc",
        op,
        collection: collection.into(),
        message,
        node: Some(url.into()),
    }
}

/// gRPC's path of `Points.Search` (qdrant's points_service.proto).
const SEARCH_PATH: &str = "/qdrant.Points/Search";

/// A bare HTTP/2 connection per node for prepared searches, with qdrant-client's timeouts; none
/// when a node is reached over TLS.
fn prepared_channels(config: &ServerConfig) -> Result<Vec<H2Node>> {
    if config.urls.iter().any(|u| !u.starts_with("http://")) {
        return Ok(Vec::new());
    }
    config
        .urls
        .iter()
        .map(|url| {
            H2Node::new(url, config.connect_timeout, config.request_timeout).map_err(|message| {
                StoreError::Unreachable {
                    url: url.clone(),
                    message,
                }
            })
        })
        .collect()
}

/// A query's `SearchPoints` less its collection name, encoded once: what
/// [`GrpcStore::prepare`] keeps and [`write_prepared`] completes per request.
pub fn prepare_search(query: &Query) -> EncodedQuery {
    use prost::Message;
    EncodedQuery {
        wire: GrpcStore::search_request("", query).encode_to_vec().into(),
    }
}

/// Writes the `SearchPoints` of a prepared search for `collection` into `dst`: its field 1
/// (the name), then the prepared fields as they are — a copy, no encoding.
pub fn write_prepared(collection: &str, prepared: &[u8], dst: &mut impl bytes::BufMut) {
    // Field 1, wire type 2 (length-delimited).
    dst.put_u8(0x0A);
    prost::encoding::encode_varint(collection.len() as u64, dst);
    dst.put_slice(collection.as_bytes());
    dst.put_slice(prepared);
}

impl GrpcStore {
    /// Node `i`'s answer to a search, with the server's own time; the node counts as serving.
    fn answered(
        &self,
        i: usize,
        response: qdrant_client::qdrant::SearchResponse,
        with_payload: bool,
    ) -> SearchResponse {
        self.nodes.served(i);
        SearchResponse {
            hits: to_hits(response.result, with_payload),
            server_seconds: Some(response.time),
            node: Some(self.nodes.url(i).clone()),
        }
    }

    /// One prepared search on node `i`'s connection: the message written once into its gRPC
    /// frame ([`write_prepared`]), the answer decoded as qdrant-client would.
    async fn send_prepared(
        &self,
        i: usize,
        name: &str,
        prepared: &EncodedQuery,
    ) -> std::result::Result<qdrant_client::qdrant::SearchResponse, QdrantError> {
        use prost::Message;
        let wire = &prepared.wire;
        let len =
            1 + prost::encoding::encoded_len_varint(name.len() as u64) + name.len() + wire.len();
        let message = grpc_h2::frame(len, |buf| write_prepared(name, wire, buf));
        let answer = self.channels[i]
            .unary(SEARCH_PATH, message, self.key_header.as_ref())
            .await?;
        qdrant_client::qdrant::SearchResponse::decode(answer).map_err(|e| {
            QdrantError::from(tonic::Status::internal(format!(
                "undecodable SearchResponse: {e}"
            )))
        })
    }
}

impl Store for GrpcStore {
    fn engine(&self) -> Engine {
        Engine::Grpc
    }

    async fn create(&self, spec: &CollectionSpec) -> Result<Created> {
        self.guard.check(&spec.name, "create")?;
        spec.validate()?;
        let name = spec.name.as_str();
        if self.exists(name).await? {
            let info = self.info(name).await?;
            let (dim, found) = vector_params(&info);
            spec.check_found(dim, found.as_str_name())?;
            // Indexes the spec asks for that are missing are added (an existing one is kept).
            self.create_payload_indexes(spec).await?;
            return Ok(Created::Existing {
                points: info.points_count.unwrap_or(0) as usize,
            });
        }
        let mut vectors =
            VectorParamsBuilder::new(spec.dim as u64, distance(spec)).on_disk(spec.on_disk);
        match spec.quantization {
            Quantization::None => {}
            Quantization::Scalar {
                quantile,
                always_ram,
            } => {
                let mut q = ScalarQuantizationBuilder::default()
                    .r#type(qdrant_client::qdrant::QuantizationType::Int8.into())
                    .always_ram(always_ram);
                if let Some(quantile) = quantile {
                    q = q.quantile(quantile);
                }
                vectors = vectors.quantization_config(q);
            }
            Quantization::Binary { always_ram } => {
                vectors = vectors.quantization_config(BinaryQuantizationBuilder::new(always_ram));
            }
        }
        let mut optimizers = OptimizersConfigDiffBuilder::default()
            .indexing_threshold(crate::spec::INDEXING_THRESHOLD_KB as u64);
        if let Some(n) = spec.segments {
            optimizers = optimizers.default_segment_number(n as u64);
        }
        let mut create = CreateCollectionBuilder::new(name)
            .vectors_config(vectors)
            .hnsw_config(
                HnswConfigDiffBuilder::default()
                    .m(spec.hnsw.m as u64)
                    .ef_construct(spec.hnsw.ef_construct as u64)
                    .full_scan_threshold(spec.hnsw.full_scan_threshold as u64),
            )
            .optimizers_config(optimizers);
        if let Some(n) = spec.shards {
            create = create.shard_number(n);
        }
        if let Some(n) = spec.replication {
            create = create.replication_factor(n);
        }
        let (i, c) = self.pick();
        c.create_collection(create)
            .await
            .map_err(self.err(i, "create", name))?;
        self.create_payload_indexes(spec).await?;
        Ok(Created::New)
    }

    async fn upsert(&self, name: &str, batch: &[Point]) -> Result<()> {
        self.guard.check(name, "write to")?;
        let points: Vec<PointStruct> = batch
            .iter()
            .map(|p| {
                let payload = p.payload.clone().map(Payload::from).unwrap_or_default();
                PointStruct::new(p.id, p.vector.clone(), payload)
            })
            .collect();
        let (i, c) = self.pick();
        c.upsert_points(UpsertPointsBuilder::new(name, points).wait(true))
            .await
            .map_err(self.err(i, "upsert", name))?;
        self.nodes.served(i);
        Ok(())
    }

    async fn delete(&self, name: &str, ids: &[u64]) -> Result<()> {
        self.guard.check(name, "write to")?;
        let ids = PointsIdsList {
            ids: ids.iter().map(|&id| PointId::from(id)).collect(),
        };
        let (i, c) = self.pick();
        c.delete_points(DeletePointsBuilder::new(name).points(ids).wait(true))
            .await
            .map_err(self.err(i, "delete", name))?;
        self.nodes.served(i);
        Ok(())
    }

    async fn wait_indexed(&self, name: &str) -> Result<IndexState> {
        wait_until_indexed(name, self.index_timeout, || async {
            let info = self.info(name).await?;
            Ok(Seen {
                status: CollectionStatus::try_from(info.status)
                    .map(|s| s.as_str_name().to_lowercase())
                    .unwrap_or_else(|_| "unknown".into()),
                points: info.points_count.unwrap_or(0) as usize,
                indexed: info.indexed_vectors_count.unwrap_or(0) as usize,
                segments: info.segments_count as usize,
                dim: vector_params(&info).0,
                optimizer: match &info.optimizer_status {
                    Some(s) if s.ok => "ok".into(),
                    Some(s) => format!("error: {}", s.error),
                    None => "unknown".into(),
                },
            })
        })
        .await
    }

    async fn search(&self, name: &str, query: &Query) -> Result<SearchResponse> {
        if let Some(f) = &query.filter {
            f.validate()?;
        }
        let (i, c) = self.pick();
        let response = c
            .search_points(Self::search_request(name, query))
            .await
            .map_err(self.err(i, "search", name))?;
        Ok(self.answered(i, response, query.with_payload))
    }

    /// The query's `SearchPoints` less its collection name, encoded once (prost); none over
    /// TLS.
    fn prepare(&self, query: &Query) -> Option<EncodedQuery> {
        if self.channels.is_empty() || query.filter.as_ref().is_some_and(|f| f.validate().is_err())
        {
            return None;
        }
        Some(prepare_search(query))
    }

    async fn search_prepared(
        &self,
        name: &str,
        query: &Query,
        prepared: &EncodedQuery,
    ) -> Result<SearchResponse> {
        let (i, _) = self.pick();
        let response = self
            .send_prepared(i, name, prepared)
            .await
            .map_err(self.err(i, "search", name))?;
        Ok(self.answered(i, response, query.with_payload))
    }

    async fn search_batch(&self, name: &str, queries: &[Query]) -> Result<BatchResponse> {
        for f in queries.iter().filter_map(|q| q.filter.as_ref()) {
            f.validate()?;
        }
        let requests: Vec<SearchPoints> = queries
            .iter()
            .map(|q| Self::search_request(name, q))
            .collect();
        let (i, c) = self.pick();
        let response = c
            .search_batch_points(SearchBatchPointsBuilder::new(name, requests))
            .await
            .map_err(self.err(i, "search a batch", name))?;
        self.nodes.served(i);
        Ok(BatchResponse {
            node: Some(self.nodes.url(i).clone()),
            results: response
                .result
                .into_iter()
                .zip(queries)
                .map(|(r, q)| to_hits(r.result, q.with_payload))
                .collect(),
            server_seconds: Some(response.time),
        })
    }

    async fn count(&self, name: &str) -> Result<usize> {
        let (i, c) = self.pick();
        let response = c
            .count(CountPointsBuilder::new(name).exact(true))
            .await
            .map_err(self.err(i, "count", name))?;
        Ok(response.result.map_or(0, |r| r.count as usize))
    }

    async fn footprint(&self, _name: &str) -> Result<Footprint> {
        Ok(Footprint::UNKNOWN)
    }

    async fn drop_owned(&self, name: &str) -> Result<()> {
        self.guard.check(name, "drop")?;
        let (i, c) = self.pick();
        c.delete_collection(name)
            .await
            .map_err(self.err(i, "drop", name))?;
        Ok(())
    }
}

impl GrpcStore {
    /// Read-only: up to `n` of the collection's own points, drawn at random by the server
    /// (Qdrant's `sample: random` query), with the collection's dimension, distance and size.
    /// Works on any collection; writes nothing.
    pub async fn sample_vectors(&self, name: &str, n: usize) -> Result<Sampled> {
        use qdrant_client::qdrant::vector_output::Vector;
        use qdrant_client::qdrant::{QueryPointsBuilder, Sample};
        let info = self.info(name).await?;
        let (dim, metric) = match vector_params(&info) {
            (0, _) => return Err(unnamed_only(name)),
            (dim, Distance::Cosine) => (dim, qdrant_perf_data::Metric::Cosine),
            (dim, Distance::Dot) => (dim, qdrant_perf_data::Metric::Dot),
            (dim, Distance::Euclid) => (dim, qdrant_perf_data::Metric::Euclid),
            (_, other) => return Err(unsupported_distance(name, other.as_str_name())),
        };
        let (i, c) = self.pick();
        let response = c
            .query(
                QueryPointsBuilder::new(name)
                    .query(qdrant_client::qdrant::Query::new_sample(Sample::Random))
                    .limit(n as u64)
                    .with_vectors(true)
                    .with_payload(false),
            )
            .await
            .map_err(self.err(i, "sample points", name))?;
        let vectors = response
            .result
            .into_iter()
            .filter_map(|p| match p.vectors?.get_vector()? {
                Vector::Dense(d) => Some(d.data),
                _ => None,
            })
            .collect();
        Ok(Sampled {
            dim,
            metric,
            points: info.points_count.unwrap_or(0) as usize,
            indexed_vectors: info.indexed_vectors_count.unwrap_or(0) as usize,
            status: CollectionStatus::try_from(info.status)
                .map(|s| s.as_str_name().to_lowercase())
                .unwrap_or_else(|_| "unknown".into()),
            vectors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::filter::Filter;
    use prost::Message;

    /// A search that timed out inside the server is its answer, not "unreachable"; a
    /// transport failure, whatever its status, is.
    #[test]
    fn only_a_transport_failure_is_unreachable() {
        let kind = |status: tonic::Status| match classify(
            QdrantError::from(status),
            "http://127.0.0.1:6334",
            None,
            "search",
            "c",
        ) {
            StoreError::Unreachable { .. } => "unreachable",
            StoreError::Engine { .. } => "engine",
            other => panic!("{other}"),
        };
        assert_eq!(
            kind(tonic::Status::internal(
                "Service internal error: 1 of 1 read operations failed:\n  Timeout error: Operation 'search' timed out after 60 seconds"
            )),
            "engine"
        );
        // qdrant-client's failed connect is an Internal status naming the transport error.
        assert_eq!(
            kind(tonic::Status::internal(
                "Failed to connect to http://127.0.0.1:6334/: tonic::transport::Error(Transport, ConnectError(\"tcp connect error\"))"
            )),
            "unreachable"
        );
        assert_eq!(
            kind(tonic::Status::unavailable(
                "transport error: tcp connect error: 127.0.0.1:6334: Connection refused"
            )),
            "unreachable"
        );
        assert_eq!(
            kind(tonic::Status::deadline_exceeded("request timed out")),
            "unreachable"
        );
    }

    /// A prepared search completed with a collection's name is, field for field, the message
    /// qdrant-client would have built from the query.
    #[test]
    fn a_prepared_search_is_the_message_qdrant_client_builds() {
        let vector: Vec<f32> = (0..768).map(|i| (i as f32 * 0.37).sin()).collect();
        let plain = Query::new(vector.clone(), 10);
        let mut tuned = Query::new(vector, 10).with_ef(128).with_filter(
            Filter::keyword("model", "deepcoder").and(Filter::integer_range(
                "year",
                Some(2020),
                None,
            )),
        );
        tuned.with_payload = true;
        tuned.rescore = Some(true);
        tuned.oversampling = Some(2.0);
        for (q, name) in [
            (&plain, "perf_deepcoder"),
            (&tuned, &"x".repeat(300) as &str),
        ] {
            let prepared = prepare_search(q);
            let mut wire = Vec::new();
            write_prepared(name, prepared.as_bytes(), &mut wire);
            let sent = SearchPoints::decode(wire.as_slice()).expect("a SearchPoints");
            assert_eq!(sent, GrpcStore::search_request(name, q));
            assert_eq!(sent.collection_name, name);
            assert_eq!(sent.vector.len(), 768);
        }
    }
}
