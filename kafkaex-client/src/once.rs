//! Single Produce and Fetch requests of one partition, at a version the caller may pin: for
//! tools, tests and the KafkaEx facade (`kafkaex-legacy`), whose request structs carry an
//! `api_version` that decides the wire format.
//!
//! The version decides the records' format, as Kafka's clients and brokers have it:
//!
//! | Produce version | records written | timestamps | headers |
//! | --- | --- | --- | --- |
//! | 0 | message set, magic 0 | no | no |
//! | 1, 2 | message set, magic 1 | yes | no |
//! | 3+ | record batch (magic 2) | yes | yes |
//!
//! (Java's producer writes magic 0 at Produce v1; brokers accept magic 1 there, and KafkaEx
//! users asking for v1 expect its timestamps.) A record with a timestamp or headers at a
//! version that cannot carry them is an [`Error::InvalidArgument`], never dropped silently.
//! A Fetch at v0 and v1 returns magic 0 messages (no timestamps: `-1`), v2 and v3 magic 1,
//! v4+ record batches; the broker converts what its log holds.
//!
//! These are not the producer or the consumer: no batching, no idempotence, no positions. Each
//! call is one request to the partition's leader, with the cluster's routing and retries
//! ([`Cluster::request`](kafkaex_net::Cluster::request)); a pinned version the broker does not
//! support is [`NetError::UnsupportedVersion`] inside [`Error::Request`].
//!
//! ```no_run
//! use kafkaex_client::once::{FetchOnce, OnceRecord, ProduceOnce};
//! use kafkaex_client::Client;
//! use kafkaex_net::VersionChoice;
//!
//! # async fn example() -> Result<(), kafkaex_client::Error> {
//! let client = Client::builder().bootstrap(["localhost:9092"]).build().await?;
//! let produced = client
//!     .produce_once(
//!         &ProduceOnce::new("events", 0, [OnceRecord::value("hello").timestamp(12345)])
//!             .version(VersionChoice::Exact(3)),
//!     )
//!     .await?;
//! let offset = produced.expect("acks=1 answers").base_offset;
//! let fetched = client
//!     .fetch_once(&FetchOnce::new("events", 0, offset).version(VersionChoice::Exact(3)))
//!     .await?;
//! assert_eq!(fetched.records[0].timestamp, 12345);
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafkaex_net::{BrokerRef, ErrorScope, NetError, Route, VersionChoice};
use kafkaex_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::{FetchRequest, ProduceRequest};
use kafkaex_protocol::records::{
    Compression, DecodeOptions, LegacyMessage as Message, MessageSet, Record, RecordBatch,
    RecordHeader, RecordHeaders,
};
use kafkaex_protocol::{ApiKey, ErrorCode, Uuid};

use crate::client::{request_error, Client};
use crate::consumer::records::decode_fetched;
use crate::error::{Error, Result};
use crate::offsets::IsolationLevel;
use crate::ConsumerRecord;

/// One record of a [`ProduceOnce`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OnceRecord {
    /// The key; `None` is null.
    pub key: Option<Bytes>,
    /// The value; `None` is null.
    pub value: Option<Bytes>,
    /// Headers (record batches only: Produce v3+).
    pub headers: Vec<(String, Option<Bytes>)>,
    /// The timestamp in milliseconds; `None` writes -1 (no timestamp: the broker keeps -1 on a
    /// `CreateTime` topic and stamps its own on a `LogAppendTime` one).
    pub timestamp: Option<i64>,
}

impl OnceRecord {
    /// A record with `value` and nothing else.
    pub fn value(value: impl Into<Bytes>) -> Self {
        Self {
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// With `key`.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// With a timestamp.
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// With one more header.
    pub fn header(mut self, key: impl Into<String>, value: Option<Bytes>) -> Self {
        self.headers.push((key.into(), value));
        self
    }
}

/// A Produce request of one partition ([`Client::produce_once`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProduceOnce {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The records, in order.
    pub records: Vec<OnceRecord>,
    /// Acknowledgements asked: 0 (none: nothing is answered), 1 (the leader), -1 (all in-sync
    /// replicas). 1 by default.
    pub acks: i16,
    /// How long the broker may wait for the replicas (`timeout_ms`). 30 s by default.
    pub timeout: Duration,
    /// The codec (zstd only in record batches).
    pub compression: Compression,
    /// The Produce version; newest both sides support by default.
    pub version: VersionChoice,
}

impl ProduceOnce {
    /// `records` to `topic`-`partition`, acks 1, uncompressed, at the newest version.
    pub fn new(
        topic: impl Into<String>,
        partition: i32,
        records: impl IntoIterator<Item = OnceRecord>,
    ) -> Self {
        Self {
            topic: topic.into(),
            partition,
            records: records.into_iter().collect(),
            acks: 1,
            timeout: Duration::from_secs(30),
            compression: Compression::None,
            version: VersionChoice::Newest,
        }
    }

    /// With `acks`.
    pub fn acks(mut self, acks: i16) -> Self {
        self.acks = acks;
        self
    }

    /// With the broker's replication timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// With a codec.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// At `version`.
    pub fn version(mut self, version: VersionChoice) -> Self {
        self.version = version;
        self
    }
}

/// What a Produce answered ([`Client::produce_once`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducedOnce {
    /// The offset of the first record.
    pub base_offset: i64,
    /// The log-append time the broker stamped (`LogAppendTime` topics, Produce v2+), else -1.
    pub log_append_time: i64,
    /// The partition's log start offset (Produce v5+), else -1.
    pub log_start_offset: i64,
    /// The version used.
    pub version: i16,
}

/// A Fetch request of one partition ([`Client::fetch_once`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FetchOnce {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset to read from.
    pub offset: i64,
    /// How long the broker may wait for `min_bytes`. 500 ms by default.
    pub max_wait: Duration,
    /// Bytes the broker waits for. 1 by default.
    pub min_bytes: i32,
    /// Bytes of the partition returned at most (also the response's limit from v3). 1 MiB by
    /// default.
    pub max_bytes: i32,
    /// What a transactional topic shows (v4+; read uncommitted below).
    pub isolation: IsolationLevel,
    /// The Fetch version; newest both sides support by default.
    pub version: VersionChoice,
}

impl FetchOnce {
    /// From `offset` of `topic`-`partition`, at the newest version.
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> Self {
        Self {
            topic: topic.into(),
            partition,
            offset,
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 1024 * 1024,
            isolation: IsolationLevel::ReadUncommitted,
            version: VersionChoice::Newest,
        }
    }

    /// With the broker's wait.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// With `min_bytes`.
    pub fn min_bytes(mut self, bytes: i32) -> Self {
        self.min_bytes = bytes;
        self
    }

    /// With `max_bytes`.
    pub fn max_bytes(mut self, bytes: i32) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// With an isolation level.
    pub fn isolation(mut self, isolation: IsolationLevel) -> Self {
        self.isolation = isolation;
        self
    }

    /// At `version`.
    pub fn version(mut self, version: VersionChoice) -> Self {
        self.version = version;
        self
    }
}

/// What a Fetch of one partition returned ([`Client::fetch_once`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FetchedOnce {
    /// The partition's error code (`None`: no error). The records are empty with one.
    pub error: Option<ErrorCode>,
    /// The high watermark (-1 with some errors).
    pub high_watermark: i64,
    /// The last stable offset (v4+), else -1.
    pub last_stable_offset: i64,
    /// The log start offset (v5+), else -1.
    pub log_start_offset: i64,
    /// The records at or after the offset asked (control records left out).
    pub records: Vec<ConsumerRecord>,
    /// The offset after the last record returned (the offset asked when there is none).
    pub next_offset: i64,
    /// Whether the response held only part of a batch or message (`max_bytes` too small for
    /// the next one): with no records, a larger `max_bytes` is needed to make progress.
    pub truncated: bool,
    /// The version used.
    pub version: i16,
    /// The broker that answered (empty node `-1` when the error came before any answer).
    pub broker: Option<BrokerRef>,
}

/// The magic of the records a Produce version carries.
pub fn produce_magic(version: i16) -> i8 {
    match version {
        0 => 0,
        1 | 2 => 1,
        _ => 2,
    }
}

/// The records field of a Produce at `version`.
fn encode_records(req: &ProduceOnce, version: i16) -> Result<Bytes> {
    let magic = produce_magic(version);
    if magic < 2 {
        if req.records.iter().any(|r| !r.headers.is_empty()) {
            return Err(Error::InvalidArgument(format!(
                "Produce v{version} writes a message set (magic {magic}), which has no headers: headers need v3+"
            )));
        }
        if magic == 0 && req.records.iter().any(|r| r.timestamp.is_some()) {
            return Err(Error::InvalidArgument(
                "Produce v0 writes message format 0, which has no timestamps: timestamps need v1+"
                    .into(),
            ));
        }
        let messages: Vec<Message> = req
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| Message {
                offset: i as i64,
                magic,
                key: r.key.clone(),
                value: r.value.clone(),
                timestamp: if magic == 0 {
                    -1
                } else {
                    r.timestamp.unwrap_or(-1)
                },
                ..Message::default()
            })
            .collect();
        let mut buf = BytesMut::new();
        MessageSet::encode(&messages, magic, req.compression, &mut buf)
            .map_err(|e| Error::InvalidArgument(format!("records cannot be encoded: {e}")))?;
        return Ok(buf.freeze());
    }
    let records = req
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut headers = RecordHeaders::default();
            for (k, v) in &r.headers {
                headers.push(RecordHeader::new(k.as_str(), v.clone()));
            }
            Record {
                offset: i as i64,
                timestamp: r.timestamp.unwrap_or(-1),
                key: r.key.clone(),
                value: r.value.clone(),
                headers,
                ..Record::default()
            }
        })
        .collect();
    let mut batch = RecordBatch::new(records);
    batch.compression = req.compression;
    batch
        .to_bytes()
        .map_err(|e| Error::InvalidArgument(format!("records cannot be encoded: {e}")))
}

/// The partition's error, from a request settled by it (the code of its only partition).
fn partition_code(err: &NetError, topic: &str, id: Uuid, partition: i32) -> Option<ErrorCode> {
    match err {
        NetError::Kafka {
            code,
            scope:
                ErrorScope::Partition {
                    topic: t,
                    partition: p,
                },
            ..
        } if t == topic && *p == partition => Some(*code),
        NetError::Kafka {
            code,
            scope:
                ErrorScope::PartitionOfTopicId {
                    topic_id,
                    partition: p,
                },
            ..
        } if id != Uuid::ZERO && *topic_id == id && *p == partition => Some(*code),
        _ => None,
    }
}

impl Client {
    /// Sends one Produce of `request`'s records to the partition's leader. `Ok(None)` at acks
    /// 0 (nothing is answered).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for records the version's format cannot carry (see the
    /// [module documentation](self)); [`Error::Broker`] with the partition's error code;
    /// [`Error::Request`] when the request failed (an unsupported pinned version is
    /// [`NetError::UnsupportedVersion`] there).
    pub async fn produce_once(&self, request: &ProduceOnce) -> Result<Option<ProducedOnce>> {
        if request.records.is_empty() {
            return Err(Error::InvalidArgument(
                "a Produce request needs at least one record".into(),
            ));
        }
        let topic_id = self
            .cluster()
            .with_metadata(|m| m.topic(&request.topic).map(|t| t.topic_id))
            .unwrap_or(Uuid::ZERO);
        // The records' format depends on the version: learn it from the leader's versions
        // first (a negotiated message set cannot carry headers: refused before sending).
        // Without the topic's id, Produce stays at v12 (v13+ names topics by id).
        let version = match request.version {
            VersionChoice::Exact(v) => v,
            VersionChoice::Newest => {
                let conn = self
                    .cluster()
                    .broker_for(Route::Leader {
                        topic: request.topic.clone(),
                        partition: request.partition,
                    })
                    .await
                    .map_err(request_error::<ProduceRequest>)?;
                let newest = conn
                    .versions()
                    .choose_for::<ProduceRequest>(VersionChoice::Newest, conn.address())
                    .map_err(request_error::<ProduceRequest>)?;
                if topic_id == Uuid::ZERO {
                    newest.min(12)
                } else {
                    newest
                }
            }
        };
        let records = encode_records(request, version)?;
        let timeout_ms = i32::try_from(request.timeout.as_millis()).unwrap_or(i32::MAX);
        let produce = ProduceRequest::default()
            .with_acks(request.acks)
            .with_timeout_ms(timeout_ms)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(request.topic.clone())
                .with_topic_id(topic_id)
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(request.partition)
                    .with_records(Some(records))])]);
        let result = self
            .cluster()
            .request_at(&produce, VersionChoice::Exact(version))
            .await;
        let response = match result {
            Ok(r) => r,
            Err(err) => {
                return Err(
                    match partition_code(&err, &request.topic, topic_id, request.partition) {
                        Some(code) => Error::Broker {
                            code,
                            scope: ErrorScope::Partition {
                                topic: request.topic.clone(),
                                partition: request.partition,
                            },
                            message: None,
                        },
                        None => request_error::<ProduceRequest>(err),
                    },
                )
            }
        };
        if request.acks == 0 {
            return Ok(None);
        }
        let p = response
            .body
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .find(|p| p.index == request.partition)
            .ok_or_else(|| {
                Error::request(
                    crate::RequestContext::api(ApiKey::Produce),
                    NetError::InvalidArgument(format!(
                        "the Produce response has no entry for {}-{}",
                        request.topic, request.partition
                    )),
                )
            })?;
        if !p.error_code.is_ok() {
            return Err(Error::Broker {
                code: p.error_code,
                scope: ErrorScope::Partition {
                    topic: request.topic.clone(),
                    partition: request.partition,
                },
                message: p.error_message.clone(),
            });
        }
        Ok(Some(ProducedOnce {
            base_offset: p.base_offset,
            log_append_time: p.log_append_time_ms,
            log_start_offset: p.log_start_offset,
            version: response.version,
        }))
    }

    /// Sends one Fetch of `request`'s partition to its leader and decodes what it returns. A
    /// partition error code (an offset out of range, a deleted topic) is
    /// [`FetchedOnce::error`], not an `Err`.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] when the request failed (an unsupported pinned version is
    /// [`NetError::UnsupportedVersion`] there); [`Error::CorruptRecords`] when the records
    /// cannot be decoded.
    pub async fn fetch_once(&self, request: &FetchOnce) -> Result<FetchedOnce> {
        let topic_id = self
            .cluster()
            .with_metadata(|m| m.topic(&request.topic).map(|t| t.topic_id))
            .unwrap_or(Uuid::ZERO);
        let wait_ms = i32::try_from(request.max_wait.as_millis()).unwrap_or(i32::MAX);
        let build = |version: i16| {
            let mut partition = FetchPartition::default()
                .with_partition(request.partition)
                .with_fetch_offset(request.offset)
                .with_partition_max_bytes(request.max_bytes);
            if version >= 5 {
                partition = partition.with_log_start_offset(-1);
            }
            let mut fetch = FetchRequest::default()
                .with_max_wait_ms(wait_ms)
                .with_min_bytes(request.min_bytes)
                .with_topics(vec![FetchTopic::default()
                    .with_topic(request.topic.clone())
                    .with_topic_id(topic_id)
                    .with_partitions(vec![partition])]);
            if version >= 3 {
                fetch = fetch.with_max_bytes(request.max_bytes);
            }
            if version >= 4 {
                fetch = fetch.with_isolation_level(request.isolation.as_i8());
            }
            if version >= 7 {
                fetch = fetch.with_session_id(0).with_session_epoch(-1);
            }
            fetch
        };
        let response = match self.cluster().request_with_at(build, request.version).await {
            Ok(r) => r,
            Err(err) => {
                return match partition_code(&err, &request.topic, topic_id, request.partition) {
                    Some(code) => Ok(FetchedOnce {
                        error: Some(code),
                        high_watermark: -1,
                        last_stable_offset: -1,
                        log_start_offset: -1,
                        records: Vec::new(),
                        next_offset: request.offset,
                        truncated: false,
                        version: match request.version {
                            VersionChoice::Exact(v) => v,
                            _ => -1,
                        },
                        broker: None,
                    }),
                    None => Err(request_error::<FetchRequest>(err)),
                };
            }
        };
        let version = response.version;
        let broker = Some(response.broker.clone());
        let topic_matches =
            |name: &str, id: Uuid| name == request.topic || (id != Uuid::ZERO && id == topic_id);
        let p = response
            .body
            .responses
            .into_iter()
            .filter(|t| topic_matches(&t.topic, t.topic_id))
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == request.partition)
            .ok_or_else(|| {
                Error::request(
                    crate::RequestContext::api(ApiKey::Fetch),
                    NetError::InvalidArgument(format!(
                        "the Fetch response has no entry for {}-{}",
                        request.topic, request.partition
                    )),
                )
            })?;
        if !p.error_code.is_ok() {
            return Ok(FetchedOnce {
                error: Some(p.error_code),
                high_watermark: p.high_watermark,
                last_stable_offset: p.last_stable_offset,
                log_start_offset: p.log_start_offset,
                records: Vec::new(),
                next_offset: request.offset,
                truncated: false,
                version,
                broker,
            });
        }
        let aborted: Vec<(i64, i64)> = p
            .aborted_transactions
            .iter()
            .flatten()
            .map(|a| (a.producer_id, a.first_offset))
            .collect();
        let records = p.records.clone().unwrap_or_default();
        let raw_len = records.len();
        let topic: Arc<str> = Arc::from(request.topic.as_str());
        let (records, next_offset) = decode_fetched(
            &topic,
            request.partition,
            request.offset,
            request.isolation,
            &aborted,
            records,
            &DecodeOptions::default(),
        )
        .map_err(|source| Error::CorruptRecords {
            topic: request.topic.clone(),
            partition: request.partition,
            offset: request.offset,
            source,
        })?;
        Ok(FetchedOnce {
            error: None,
            high_watermark: p.high_watermark,
            last_stable_offset: p.last_stable_offset,
            log_start_offset: p.log_start_offset,
            truncated: records.is_empty() && raw_len > 0 && next_offset == request.offset,
            records,
            next_offset,
            version,
            broker,
        })
    }
}
