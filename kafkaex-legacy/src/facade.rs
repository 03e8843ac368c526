//! The functions of `KafkaEx` (`lib/kafka_ex.ex`), each on the worker's
//! [`kafkaex_client::Client`]. Re-exported at the crate root: `kafkaex_legacy::fetch` is
//! `KafkaEx.fetch`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafkaex_client::admin::{CreateTopicsOptions, DeleteTopicsOptions, DescribeGroupsOptions};
use kafkaex_client::group::protocol::{Assignment, Subscription};
use kafkaex_client::offsets::{
    CommitOptions, FetchOffsetsOptions, GroupMember, ListOffsetsOptions, OffsetSpec,
};
use kafkaex_client::once::{FetchOnce, ProduceOnce};
use kafkaex_client::{CommitOffset, TopicPartition};
use kafkaex_net::VersionChoice;
use kafkaex_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafkaex_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafkaex_protocol::messages::leave_group_request::MemberIdentity;
use kafkaex_protocol::messages::metadata_request::MetadataRequestTopic;
use kafkaex_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafkaex_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, MetadataRequest, SyncGroupRequest,
};
use kafkaex_protocol::{ApiKey, ErrorCode};

use crate::convert;
use crate::error::{Error, Result};
use crate::error_names::ErrorAtom;
use crate::protocol::{
    api_versions, consumer_metadata, create_topics, delete_topics, fetch, heartbeat, join_group,
    leave_group, metadata, offset, offset_commit, offset_fetch, produce, sync_group,
};
use crate::worker::{KafkaVersion, Worker, WorkerRef};

/// A result that may be KafkaEx's `:topic_not_found`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found<T> {
    /// The responses.
    Found(T),
    /// `:topic_not_found`: the cluster has no such topic.
    TopicNotFound,
}

impl<T> Found<T> {
    /// The responses, `None` for `:topic_not_found`.
    pub fn found(self) -> Option<T> {
        match self {
            Found::Found(t) => Some(t),
            Found::TopicNotFound => None,
        }
    }
}

/// What `produce` returns: `:ok` at acks 0, `{:ok, offset}` otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Produced {
    /// `:ok` (acks 0: nothing was answered).
    Ok,
    /// `{:ok, base_offset}`.
    Offset(i64),
}

/// Options of calls that take only `worker_name` and `timeout`.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// `worker_name`.
    pub worker_name: WorkerRef,
    /// `timeout`: how long the call may take; `None`: KafkaEx's `max(5000, sync_timeout)`.
    pub timeout: Option<Duration>,
}

impl CallOptions {
    /// On `worker`.
    pub fn worker(worker: impl Into<WorkerRef>) -> Self {
        Self {
            worker_name: worker.into(),
            timeout: None,
        }
    }
}

/// The version on the wire: the user's under `kafka_version: "kayrock"`, else 0.
pub(crate) fn wire_version(worker: &Worker, asked: i16) -> Result<i16> {
    if asked < 0 {
        return Err(Error::InvalidArgument(format!(
            "api_version {asked} is negative"
        )));
    }
    Ok(if worker.kafka_version().honours_api_version() {
        asked
    } else {
        0
    })
}

fn call_timeout(timeout: Option<Duration>) -> Duration {
    timeout.unwrap_or_else(|| {
        crate::config().sync_timeout.max(Duration::from_secs(5)) + Duration::from_secs(2)
    })
}

/// Runs `fut` within the call's timeout (KafkaEx's GenServer call timeout).
async fn within<T>(
    timeout: Option<Duration>,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let limit = call_timeout(timeout);
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout(limit)),
    }
}

fn require_topic(topic: &str) -> Result<()> {
    if topic.is_empty() {
        return Err(Error::InvalidArgument("the topic is empty".into()));
    }
    Ok(())
}

/// The error of one item as the worker names it, or the error itself when it is not a Kafka
/// code (an unsupported version, a connection failure).
fn item_atom(worker: &Worker, err: &kafkaex_client::Error) -> Result<ErrorAtom> {
    match Error::from_client(err.clone()) {
        Error::Kafka { atom, .. } => Ok(worker.atom(atom.code())),
        other => Err(other),
    }
}

/// Whether the cluster has `topic` (refreshing its metadata; the worker's
/// `allow_auto_topic_creation` applies, as in KafkaEx's metadata calls).
async fn topic_exists(worker: &Worker, topic: &str) -> Result<bool> {
    if worker.client().metadata().topic(topic).is_some() {
        return Ok(true);
    }
    let m = worker.client().refresh_metadata(&[topic]).await?;
    Ok(m.topic(topic).is_some())
}

/// Whether the cluster has `topic`, never creating it (KafkaEx's fetch looks the partition's
/// leader up with auto-creation disabled, whatever the worker's setting).
async fn topic_exists_no_create(worker: &Worker, topic: &str) -> Result<bool> {
    if worker.client().metadata().topic(topic).is_some() {
        return Ok(true);
    }
    let request = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(topic.to_owned()))
        ]))
        .with_allow_auto_topic_creation(false);
    let response = worker.client().request(&request).await?;
    let exists = response
        .body
        .topics
        .iter()
        .any(|t| t.name.as_deref() == Some(topic) && t.error_code.is_ok());
    if exists {
        // Load it into the client's metadata for the fetch's routing.
        worker.client().refresh_metadata(&[topic]).await?;
    }
    Ok(exists)
}

// ---------------------------------------------------------------------------------------------
// produce

/// `KafkaEx.produce/2`: sends a `%Produce.Request{}`. `:ok` at `required_acks` 0, else
/// `{:ok, base_offset}`.
///
/// The partition is the request's, or the configured partitioner's choice among the topic's
/// partitions (whose metadata is loaded, creating the topic where the broker allows it, as
/// KafkaEx does). `api_version` is sent as given under `kafka_version: "kayrock"` (0-2 write
/// message sets, 3+ record batches), 0 otherwise.
///
/// # Errors
///
/// [`Error::TimestampNotSupported`] for a message with a timestamp at version 0,
/// [`Error::HeadersNotSupported`] for headers below 3, [`Error::UnsupportedVersion`],
/// [`Error::Kafka`] with the partition's error (`{:error, atom}`), [`Error::Client`].
pub async fn produce(request: produce::Request, options: CallOptions) -> Result<Produced> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        produce_on(&worker, &request).await
    })
    .await
}

pub(crate) async fn produce_on(worker: &Worker, request: &produce::Request) -> Result<Produced> {
    require_topic(&request.topic)?;
    let version = wire_version(worker, request.api_version)?;
    if version == 0 && request.messages.iter().any(|m| m.timestamp.is_some()) {
        return Err(Error::TimestampNotSupported {
            api_version: request.api_version,
        });
    }
    if version < 3
        && request
            .messages
            .iter()
            .any(|m| m.headers.as_ref().is_some_and(|h| !h.is_empty()))
    {
        return Err(Error::HeadersNotSupported {
            api_version: request.api_version,
        });
    }
    if request.messages.is_empty() {
        return Err(Error::InvalidArgument(
            "a produce request needs at least one message".into(),
        ));
    }
    let partition = match request.partition {
        Some(p) => p,
        None => {
            let client = worker.client();
            let count = match client.metadata().partition_count(&request.topic) {
                Some(c) => c,
                None => client
                    .refresh_metadata(&[&request.topic])
                    .await?
                    .partition_count(&request.topic)
                    .unwrap_or(0),
            };
            let keys: Vec<Option<&[u8]>> =
                request.messages.iter().map(|m| m.key.as_deref()).collect();
            crate::config()
                .partitioner
                .partition(&keys, i32::try_from(count).unwrap_or(i32::MAX))
        }
    };
    let once = ProduceOnce::new(
        request.topic.clone(),
        partition,
        request.messages.iter().map(convert::once_record),
    )
    .acks(request.required_acks)
    .timeout(Duration::from_millis(
        u64::try_from(request.timeout).unwrap_or(0),
    ))
    .compression(request.compression.into())
    .version(VersionChoice::Exact(version));
    match worker.client().produce_once(&once).await {
        Ok(None) => Ok(Produced::Ok),
        Ok(Some(p)) => Ok(Produced::Offset(p.base_offset)),
        // `{:error, atom}`, named as the worker names errors.
        Err(e) => Err(match Error::from_client(e) {
            Error::Kafka { api, atom } => Error::Kafka {
                api,
                atom: worker.atom(atom.code()),
            },
            other => other,
        }),
    }
}

/// Options of [`produce_message`] (`KafkaEx.produce/4`), with KafkaEx's defaults.
#[derive(Clone, Debug)]
pub struct ProduceOptions {
    /// `worker_name`.
    pub worker_name: WorkerRef,
    /// `key`: `""` (not nil: with no partition, the partitioner hashes `""`).
    pub key: Option<Bytes>,
    /// `required_acks`: 0.
    pub required_acks: i16,
    /// `timeout` (the broker's, in ms): 100.
    pub timeout: i32,
    /// `compression`: none.
    pub compression: produce::Compression,
    /// `api_version`: 0.
    pub api_version: i16,
    /// `timestamp`: nil.
    pub timestamp: Option<i64>,
}

impl Default for ProduceOptions {
    fn default() -> Self {
        Self {
            worker_name: WorkerRef::Default,
            key: Some(Bytes::new()),
            required_acks: 0,
            timeout: 100,
            compression: produce::Compression::None,
            api_version: 0,
            timestamp: None,
        }
    }
}

/// `KafkaEx.produce/4`: one message with `value` to `partition` (`None`: the partitioner's
/// choice by the key).
///
/// # Errors
///
/// As [`produce`](fn@crate::produce).
pub async fn produce_message(
    topic: &str,
    partition: Option<i32>,
    value: impl Into<Bytes>,
    options: ProduceOptions,
) -> Result<Produced> {
    let request = produce::Request {
        topic: topic.to_owned(),
        partition,
        required_acks: options.required_acks,
        timeout: options.timeout,
        compression: options.compression,
        messages: vec![produce::Message {
            key: options.key,
            value: Some(value.into()),
            headers: None,
            timestamp: options.timestamp,
        }],
        api_version: options.api_version,
    };
    produce(request, CallOptions::worker(options.worker_name)).await
}

// ---------------------------------------------------------------------------------------------
// fetch

/// Options of [`fetch`](fn@crate::fetch) (`KafkaEx.fetch/3`), with KafkaEx's defaults.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// `offset`: nil, the committed offset + 1 (the earliest without one).
    pub offset: Option<i64>,
    /// `worker_name`.
    pub worker_name: WorkerRef,
    /// `wait_time` (ms): 10.
    pub wait_time: i32,
    /// `min_bytes`: 1.
    pub min_bytes: i32,
    /// `max_bytes`: 1_000_000.
    pub max_bytes: i32,
    /// `auto_commit`: true (commits the offset of the last message returned).
    pub auto_commit: bool,
    /// `api_version` of the Fetch: 0.
    pub api_version: i16,
    /// `offset_commit_api_version`: 0 (ZooKeeper storage).
    pub offset_commit_api_version: i16,
    /// `offset_fetch_api_version`: nil, the same as `offset_commit_api_version`.
    pub offset_fetch_api_version: Option<i16>,
    /// `timeout`.
    pub timeout: Option<Duration>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            offset: None,
            worker_name: WorkerRef::Default,
            wait_time: 10,
            min_bytes: 1,
            max_bytes: 1_000_000,
            auto_commit: true,
            api_version: 0,
            offset_commit_api_version: 0,
            offset_fetch_api_version: None,
            timeout: None,
        }
    }
}

/// `KafkaEx.fetch/3`: one Fetch of `topic`-`partition`. A topic that does not exist is
/// [`Found::TopicNotFound`] and is never created, whatever the worker's
/// `allow_auto_topic_creation` (as KafkaEx's fetch).
///
/// Without `offset`, it starts at the group's committed offset + 1 (fetch/stream's convention:
/// the committed offset is the last one consumed), read with `offset_fetch_api_version`, or at
/// the earliest offset when nothing is committed. With `auto_commit`, it commits the offset of
/// the last message returned with `offset_commit_api_version` to the worker's group; unlike
/// KafkaEx, an empty fetch commits nothing (KafkaEx committed the high watermark, which the next
/// fetch then skipped past).
///
/// # Errors
///
/// [`Error::UnsupportedVersion`], [`Error::ConsumerGroupRequired`] (no offset or
/// auto-commit on a worker without group), [`Error::Client`].
pub async fn fetch(
    topic: &str,
    partition: i32,
    options: FetchOptions,
) -> Result<Found<Vec<fetch::Response>>> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        fetch_on(&worker, topic, partition, &options).await
    })
    .await
}

/// `fetch` with a `%Fetch.Request{}`: its `None` fields take [`FetchOptions`]' defaults.
///
/// # Errors
///
/// As [`fetch`](fn@crate::fetch).
pub async fn fetch_request(
    request: fetch::Request,
    options: CallOptions,
) -> Result<Found<Vec<fetch::Response>>> {
    let d = FetchOptions::default();
    let opts = FetchOptions {
        offset: request.offset,
        worker_name: options.worker_name,
        wait_time: request.wait_time.unwrap_or(d.wait_time),
        min_bytes: request.min_bytes.unwrap_or(d.min_bytes),
        max_bytes: request.max_bytes.unwrap_or(d.max_bytes),
        auto_commit: request.auto_commit.unwrap_or(d.auto_commit),
        api_version: request.api_version,
        offset_commit_api_version: request.offset_commit_api_version,
        offset_fetch_api_version: None,
        timeout: options.timeout,
    };
    fetch(&request.topic, request.partition, opts).await
}

/// The offset `fetch` and `stream` start at without one: committed + 1, or the earliest.
pub(crate) async fn start_offset(
    worker: &Worker,
    group: Option<&str>,
    topic: &str,
    partition: i32,
    offset_fetch_api_version: i16,
) -> Result<Found<i64>> {
    let fetched = offset_fetch_on(
        worker,
        &offset_fetch::Request {
            consumer_group: group.map(str::to_owned),
            topic: topic.to_owned(),
            partition,
            api_version: offset_fetch_api_version,
        },
    )
    .await?;
    let committed = match fetched {
        Found::TopicNotFound => return Ok(Found::TopicNotFound),
        Found::Found(r) => r.first().map_or(-1, |r| {
            r.partitions
                .iter()
                .find(|p| p.partition == partition)
                .map_or(-1, |p| p.offset)
        }),
    };
    if committed >= 0 {
        return Ok(Found::Found(committed + 1));
    }
    match offset_on(worker, topic, partition, OffsetTime::Earliest).await? {
        Found::Found(r) => Ok(Found::Found(offset::extract_offset(&r).unwrap_or(0))),
        Found::TopicNotFound => Ok(Found::TopicNotFound),
    }
}

pub(crate) async fn fetch_on(
    worker: &Worker,
    topic: &str,
    partition: i32,
    options: &FetchOptions,
) -> Result<Found<Vec<fetch::Response>>> {
    require_topic(topic)?;
    let fetch_version = wire_version(worker, options.api_version)?;
    let commit_version = options.offset_commit_api_version;
    let offset_fetch_version = options.offset_fetch_api_version.unwrap_or(commit_version);
    if options.auto_commit {
        // Before fetching: a commit that cannot be made must not lose the messages fetched.
        worker.group_for(None, "fetch with auto_commit")?;
    }
    if !topic_exists_no_create(worker, topic).await? {
        return Ok(Found::TopicNotFound);
    }
    let offset = match options.offset {
        Some(o) => o,
        None => match start_offset(worker, None, topic, partition, offset_fetch_version).await? {
            Found::Found(o) => o,
            Found::TopicNotFound => return Ok(Found::TopicNotFound),
        },
    };
    let request = FetchOnce::new(topic, partition, offset)
        .max_wait(Duration::from_millis(
            u64::try_from(options.wait_time).unwrap_or(0),
        ))
        .min_bytes(options.min_bytes)
        .max_bytes(options.max_bytes)
        .version(VersionChoice::Exact(fetch_version));
    let fetched = worker.client().fetch_once(&request).await?;
    if fetched.error == Some(ErrorCode::UnknownTopicOrPartition)
        && worker.client().metadata().topic(topic).is_none()
    {
        return Ok(Found::TopicNotFound);
    }
    let response = convert::fetch_response(topic, partition, fetched);
    if options.auto_commit {
        if let Some(last) = response.partitions[0].message_set.last().map(|m| m.offset) {
            offset_commit_on(
                worker,
                &offset_commit::Request {
                    topic: topic.to_owned(),
                    partition,
                    offset: last,
                    api_version: commit_version,
                    ..offset_commit::Request::default()
                },
            )
            .await?;
        }
    }
    Ok(Found::Found(vec![response]))
}

// ---------------------------------------------------------------------------------------------
// offsets

/// `KafkaEx.offset_commit/2`: commits `request.offset` for the request's group (or the
/// worker's). `api_version` 0 stores the offset in ZooKeeper, 1+ in Kafka (kayrock.md); the
/// version is sent as given under `kafka_version: "kayrock"`, 0 otherwise.
///
/// # Errors
///
/// [`Error::UnsupportedVersion`] (with the advice to migrate for v0 on Kafka 4),
/// [`Error::ConsumerGroupRequired`], [`Error::Client`].
pub async fn offset_commit(
    worker: impl Into<WorkerRef>,
    request: offset_commit::Request,
) -> Result<Vec<offset_commit::Response>> {
    let worker = worker.into().resolve()?;
    within(None, offset_commit_on(&worker, &request)).await
}

pub(crate) async fn offset_commit_on(
    worker: &Worker,
    request: &offset_commit::Request,
) -> Result<Vec<offset_commit::Response>> {
    if *worker.kafka_version() == KafkaVersion::V0_8_0 {
        return Err(Error::NotSupported {
            function: "offset_commit",
            kafka_version: worker.kafka_version().as_str().into(),
        });
    }
    require_topic(&request.topic)?;
    let group = worker.group_for(request.consumer_group.as_deref(), "offset_commit")?;
    let version = wire_version(worker, request.api_version)?;
    let tp = TopicPartition::new(request.topic.clone(), request.partition);
    let mut options = CommitOptions::default().version(VersionChoice::Exact(version));
    if version >= 1 {
        options = options.member(GroupMember::new(
            request.generation_id,
            request.member_id.clone(),
        ));
    }
    if version == 1 {
        // v1 carries a commit timestamp: the request's when positive, else now (as KafkaEx).
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        options = options.commit_timestamp(if request.timestamp > 0 {
            request.timestamp
        } else {
            now
        });
    }
    let results = worker
        .client()
        .admin()
        .commit_offsets(
            &group,
            [(
                tp.clone(),
                CommitOffset::new(request.offset).metadata(request.metadata.clone()),
            )],
            &options,
        )
        .await?;
    let error_code = match results.get(&tp) {
        Some(Ok(())) => ErrorAtom::NO_ERROR,
        Some(Err(e)) => item_atom(worker, e)?,
        None => worker.atom(ErrorCode::UnknownServerError.code()),
    };
    Ok(vec![offset_commit::Response {
        topic: request.topic.clone(),
        partitions: vec![offset_commit::Partition {
            partition: request.partition,
            error_code,
        }],
    }])
}

/// `KafkaEx.offset_fetch/2`: the offset committed for the request's group (or the worker's).
/// `api_version` 0 reads ZooKeeper storage, 1+ Kafka storage: an offset committed with the
/// other reads as -1 (`unknown_topic_or_partition` at v0, `no_error` at v1+, as KafkaEx's
/// tests have it).
///
/// # Errors
///
/// As [`offset_commit`](fn@crate::offset_commit).
pub async fn offset_fetch(
    worker: impl Into<WorkerRef>,
    request: offset_fetch::Request,
) -> Result<Found<Vec<offset_fetch::Response>>> {
    let worker = worker.into().resolve()?;
    within(None, offset_fetch_on(&worker, &request)).await
}

pub(crate) async fn offset_fetch_on(
    worker: &Worker,
    request: &offset_fetch::Request,
) -> Result<Found<Vec<offset_fetch::Response>>> {
    if *worker.kafka_version() == KafkaVersion::V0_8_0 {
        return Err(Error::NotSupported {
            function: "offset_fetch",
            kafka_version: worker.kafka_version().as_str().into(),
        });
    }
    require_topic(&request.topic)?;
    let group = worker.group_for(request.consumer_group.as_deref(), "offset_fetch")?;
    let version = wire_version(worker, request.api_version)?;
    if !topic_exists(worker, &request.topic).await? {
        return Ok(Found::TopicNotFound);
    }
    let tp = TopicPartition::new(request.topic.clone(), request.partition);
    let results = worker
        .client()
        .admin()
        .fetch_offsets(
            &group,
            Some(std::slice::from_ref(&tp)),
            &FetchOffsetsOptions::default().version(VersionChoice::Exact(version)),
        )
        .await?;
    let partition = match results.get(&tp) {
        Some(Ok(Some(c))) => offset_fetch::Partition {
            partition: request.partition,
            offset: c.offset,
            metadata: c.metadata.clone().unwrap_or_default(),
            error_code: ErrorAtom::NO_ERROR,
        },
        Some(Ok(None)) | None => offset_fetch::Partition {
            partition: request.partition,
            offset: -1,
            metadata: String::new(),
            error_code: ErrorAtom::NO_ERROR,
        },
        Some(Err(e)) => offset_fetch::Partition {
            partition: request.partition,
            offset: -1,
            metadata: String::new(),
            error_code: item_atom(worker, e)?,
        },
    };
    Ok(Found::Found(vec![offset_fetch::Response {
        topic: request.topic.clone(),
        partitions: vec![partition],
    }]))
}

/// Which offset `offset/4` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetTime {
    /// `:latest`.
    Latest,
    /// `:earliest`.
    Earliest,
    /// A time (KafkaEx's `:calendar.datetime()`): the first offset at or after it.
    At(SystemTime),
    /// A time in ms since the epoch.
    Millis(i64),
}

/// `KafkaEx.latest_offset/3`.
///
/// # Errors
///
/// As [`offset`](fn@crate::offset).
pub async fn latest_offset(
    topic: &str,
    partition: i32,
    worker: impl Into<WorkerRef>,
) -> Result<Found<Vec<offset::Response>>> {
    offset(topic, partition, OffsetTime::Latest, worker).await
}

/// `KafkaEx.earliest_offset/3`.
///
/// # Errors
///
/// As [`offset`](fn@crate::offset).
pub async fn earliest_offset(
    topic: &str,
    partition: i32,
    worker: impl Into<WorkerRef>,
) -> Result<Found<Vec<offset::Response>>> {
    offset(topic, partition, OffsetTime::Earliest, worker).await
}

/// `KafkaEx.offset/4`: `[%Offset.Response{partition_offsets: [%{offset: [n]}]}]`. ListOffsets
/// v1 under `kafka_version: "kayrock"` (as KafkaEx's Kayrock client), v0 otherwise (with
/// `max_number_of_offsets` 1).
///
/// # Errors
///
/// [`Error::UnsupportedVersion`] (v0 on Kafka 4), [`Error::Client`].
pub async fn offset(
    topic: &str,
    partition: i32,
    time: OffsetTime,
    worker: impl Into<WorkerRef>,
) -> Result<Found<Vec<offset::Response>>> {
    let worker = worker.into().resolve()?;
    within(None, offset_on(&worker, topic, partition, time)).await
}

pub(crate) async fn offset_on(
    worker: &Worker,
    topic: &str,
    partition: i32,
    time: OffsetTime,
) -> Result<Found<Vec<offset::Response>>> {
    require_topic(topic)?;
    if !topic_exists(worker, topic).await? {
        return Ok(Found::TopicNotFound);
    }
    let spec = match time {
        OffsetTime::Latest => OffsetSpec::Latest,
        OffsetTime::Earliest => OffsetSpec::Earliest,
        OffsetTime::Millis(ms) => OffsetSpec::Timestamp(ms),
        OffsetTime::At(t) => OffsetSpec::Timestamp(
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        ),
    };
    let version = if worker.kafka_version().honours_api_version() {
        1
    } else {
        0
    };
    let tp = TopicPartition::new(topic, partition);
    let results = worker
        .client()
        .admin()
        .list_offsets(
            [(tp.clone(), spec)],
            &ListOffsetsOptions::default().version(VersionChoice::Exact(version)),
        )
        .await?;
    let (error_code, offsets) = match results.get(&tp) {
        Some(Ok(o)) => (ErrorAtom::NO_ERROR, vec![o.offset]),
        Some(Err(e)) => (item_atom(worker, e)?, Vec::new()),
        None => (
            worker.atom(ErrorCode::UnknownServerError.code()),
            Vec::new(),
        ),
    };
    Ok(Found::Found(vec![offset::Response {
        topic: topic.to_owned(),
        partition_offsets: vec![offset::PartitionOffset {
            partition,
            error_code,
            offset: offsets,
        }],
    }]))
}

// ---------------------------------------------------------------------------------------------
// metadata, coordinators, topics, versions

/// Options of [`metadata`](fn@crate::metadata).
#[derive(Clone, Debug, Default)]
pub struct MetadataOptions {
    /// `worker_name`.
    pub worker_name: WorkerRef,
    /// `topic`: `""` or `None` for every topic.
    pub topic: Option<String>,
    /// `timeout`.
    pub timeout: Option<Duration>,
}

/// `KafkaEx.metadata/1`: the brokers and the topic's (or every topic's) metadata. Metadata v1
/// (v0 for `kafka_version` 0.8 and 0.9) on KafkaEx's legacy servers; under `"kayrock"` the
/// newest version both sides support. Every topic really is every topic (KafkaEx's Kayrock
/// client returned only the topics it had loaded).
///
/// # Errors
///
/// [`Error::Client`].
pub async fn metadata(options: MetadataOptions) -> Result<metadata::Response> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        let topic = options.topic.as_deref().filter(|t| !t.is_empty());
        let (choice, names): (VersionChoice, fn(i16) -> ErrorAtom) = match worker.kafka_version() {
            KafkaVersion::Kayrock => (VersionChoice::Newest, ErrorAtom::kayrock),
            KafkaVersion::Default => (VersionChoice::Exact(1), ErrorAtom::legacy),
            _ => (VersionChoice::Exact(0), ErrorAtom::legacy),
        };
        let allow = worker.options().allow_auto_topic_creation;
        let topics = topic.map(|t| vec![MetadataRequestTopic::default().with_name(Some(t.into()))]);
        let client = worker.client();
        let response = client
            .cluster()
            .request_with_at(
                |version| {
                    let request = MetadataRequest::default();
                    match (&topics, version) {
                        // v0 asks for every topic with an empty list, v1+ with null.
                        (None, 0) => request.with_topics(Some(Vec::new())),
                        (None, _) => request.with_topics(None),
                        (Some(t), v) => request
                            .with_topics(Some(t.clone()))
                            .with_allow_auto_topic_creation(v < 4 || allow),
                    }
                },
                choice,
            )
            .await
            .map_err(|e| crate::error::net(ApiKey::Metadata, e))?;
        Ok(convert::metadata_response(
            &response.body,
            response.version,
            names,
        ))
    })
    .await
}

/// `KafkaEx.consumer_group_metadata/2`: the coordinator of `group` (FindCoordinator). KafkaEx's
/// Kayrock client did not implement it (a FunctionClauseError); here it works on every
/// `kafka_version`.
///
/// # Errors
///
/// [`Error::Client`].
pub async fn consumer_group_metadata(
    worker: impl Into<WorkerRef>,
    group: &str,
) -> Result<consumer_metadata::Response> {
    let worker = worker.into().resolve()?;
    within(None, async {
        let response = worker
            .client()
            .cluster()
            .request_with(|version| {
                if version >= 4 {
                    FindCoordinatorRequest::default()
                        .with_key_type(0)
                        .with_coordinator_keys(vec![group.to_owned()])
                } else {
                    FindCoordinatorRequest::default()
                        .with_key(group.to_owned())
                        .with_key_type(0)
                }
            })
            .await
            .map_err(|e| crate::error::net(ApiKey::FindCoordinator, e))?;
        let body = response.body;
        Ok(match body.coordinators.first() {
            Some(c) => consumer_metadata::Response {
                coordinator_id: c.node_id,
                coordinator_host: c.host.clone(),
                coordinator_port: c.port,
                error_code: worker.atom(c.error_code.code()),
            },
            None => consumer_metadata::Response {
                coordinator_id: body.node_id,
                coordinator_host: body.host.clone(),
                coordinator_port: body.port,
                error_code: worker.atom(body.error_code.code()),
            },
        })
    })
    .await
}

/// `KafkaEx.consumer_group/1`: the worker's consumer group (`None`: `:no_consumer_group`).
///
/// # Errors
///
/// [`Error::WorkerNotFound`].
pub fn consumer_group(worker: impl Into<WorkerRef>) -> Result<Option<String>> {
    Ok(worker
        .into()
        .resolve()?
        .consumer_group()
        .name()
        .map(str::to_owned))
}

/// `KafkaEx.create_topics/2`: one `topic_errors` entry per topic (`no_error`,
/// `topic_already_exists`, ...). The timeout is the controller's (default: `sync_timeout`).
///
/// # Errors
///
/// [`Error::Client`] when the request failed as a whole.
pub async fn create_topics(
    requests: Vec<create_topics::TopicRequest>,
    options: CallOptions,
) -> Result<create_topics::Response> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        let mut opts = CreateTopicsOptions::default();
        opts.timeout = options.timeout.unwrap_or(crate::config().sync_timeout);
        let names: Vec<String> = requests.iter().map(|r| r.topic.clone()).collect();
        let results = worker
            .client()
            .admin()
            .create_topics(requests.iter().map(convert::new_topic), &opts)
            .await?;
        let mut topic_errors = Vec::new();
        for name in names {
            let error_code = match results.get(&name) {
                Some(Ok(_)) => ErrorAtom::NO_ERROR,
                Some(Err(e)) => item_atom(&worker, e)?,
                None => worker.atom(ErrorCode::UnknownServerError.code()),
            };
            topic_errors.push(create_topics::TopicError {
                topic_name: name,
                error_code,
            });
        }
        Ok(create_topics::Response { topic_errors })
    })
    .await
}

/// `KafkaEx.delete_topics/2`: one `topic_errors` entry per topic.
///
/// # Errors
///
/// [`Error::Client`] when the request failed as a whole.
pub async fn delete_topics(
    topics: Vec<String>,
    options: CallOptions,
) -> Result<delete_topics::Response> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        let mut opts = DeleteTopicsOptions::default();
        opts.timeout = options.timeout.unwrap_or(crate::config().sync_timeout);
        let results = worker
            .client()
            .admin()
            .delete_topics(&topics, &opts)
            .await?;
        let mut topic_errors = Vec::new();
        for name in topics {
            let error_code = match results.get(&name) {
                Some(Ok(())) => ErrorAtom::NO_ERROR,
                Some(Err(e)) => item_atom(&worker, e)?,
                None => worker.atom(ErrorCode::UnknownServerError.code()),
            };
            topic_errors.push(delete_topics::TopicError {
                topic_name: name,
                error_code,
            });
        }
        Ok(delete_topics::Response { topic_errors })
    })
    .await
}

/// `KafkaEx.api_versions/1`: the version ranges of a broker (the one with the lowest node
/// id), sorted by API key.
///
/// # Errors
///
/// [`Error::Client`].
pub async fn api_versions(options: CallOptions) -> Result<api_versions::Response> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        let all = worker.client().api_versions().await?;
        let ranges = all.into_iter().next().map(|(_, r)| r).unwrap_or_default();
        Ok(api_versions::Response {
            error_code: ErrorAtom::NO_ERROR,
            api_versions: ranges
                .iter()
                .map(|(key, r)| api_versions::ApiVersion {
                    api_key: key,
                    min_version: r.min,
                    max_version: r.max,
                })
                .collect(),
            throttle_time_ms: 0,
        })
    })
    .await
}

/// `KafkaEx.describe_group/2` (0.14+): the group's state, protocol and members.
///
/// # Errors
///
/// [`Error::Kafka`] with the group's error, [`Error::Client`].
pub async fn describe_group(
    group: &str,
    options: CallOptions,
) -> Result<convert::ConsumerGroupDescription> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        let results = worker
            .client()
            .admin()
            .describe_groups(&[group], &DescribeGroupsOptions::default())
            .await?;
        match results.get(group) {
            Some(Ok(d)) => Ok(convert::ConsumerGroupDescription::from(d.clone())),
            Some(Err(e)) => Err(Error::from_client(e.clone())),
            None => Err(Error::Kafka {
                api: ApiKey::DescribeGroups,
                atom: worker.atom(ErrorCode::UnknownServerError.code()),
            }),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// group membership

/// The protocol name KafkaEx's consumer groups join with.
pub const ASSIGN_PROTOCOL: &str = "assign";

/// `KafkaEx.join_group/2`: JoinGroup with protocol type `consumer` and KafkaEx's one protocol
/// `"assign"` (subscription version 0, empty user data), rebalance timeout = session timeout.
/// The newest JoinGroup version both sides support (KafkaEx pins v0); from v4 the broker
/// first asks a new member to come back with the id it assigns (`MEMBER_ID_REQUIRED`), which
/// is done here, so the response is the join's.
///
/// # Errors
///
/// [`Error::Client`] when the request failed; a group error is the response's `error_code`.
pub async fn join_group(
    request: join_group::Request,
    options: CallOptions,
) -> Result<join_group::Response> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        // KafkaEx's GroupProtocolMetadata: version 0, the topics, empty (not null) user data.
        let mut subscription = Subscription::new(request.topics.iter().cloned());
        subscription.user_data = Some(Bytes::new());
        let metadata = subscription
            .encode_version(0)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let mut member_id = request.member_id.clone();
        for _ in 0..2 {
            let req = JoinGroupRequest::default()
                .with_group_id(request.group_name.clone())
                .with_session_timeout_ms(request.session_timeout)
                .with_rebalance_timeout_ms(request.session_timeout)
                .with_member_id(member_id.clone())
                .with_protocol_type("consumer".into())
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name(ASSIGN_PROTOCOL.into())
                    .with_metadata(metadata.clone())]);
            let response = worker.client().request(&req).await?;
            let body = response.body;
            if body.error_code == ErrorCode::MemberIdRequired && member_id.is_empty() {
                member_id = body.member_id.clone();
                continue;
            }
            return Ok(join_group::Response {
                error_code: worker.atom(body.error_code.code()),
                generation_id: body.generation_id,
                leader_id: body.leader,
                member_id: body.member_id,
                members: body.members.into_iter().map(|m| m.member_id).collect(),
            });
        }
        Err(Error::Kafka {
            api: ApiKey::JoinGroup,
            atom: worker.atom(ErrorCode::MemberIdRequired.code()),
        })
    })
    .await
}

/// `KafkaEx.sync_group/2`: the leader's assignments (consumer protocol version 0, empty user
/// data, as KafkaEx writes them) in, this member's out.
///
/// # Errors
///
/// [`Error::Client`] when the request failed.
pub async fn sync_group(
    request: sync_group::Request,
    options: CallOptions,
) -> Result<sync_group::Response> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        let mut assignments = Vec::new();
        for (member, topics) in &request.assignments {
            // KafkaEx's MemberAssignment: version 0, empty (not null) user data.
            let mut assignment = Assignment::from_topic_partitions(
                topics
                    .iter()
                    .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p))),
            );
            assignment.user_data = Some(Bytes::new());
            let blob = assignment
                .encode_version(0)
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
            assignments.push(
                SyncGroupRequestAssignment::default()
                    .with_member_id(member.clone())
                    .with_assignment(blob),
            );
        }
        let req = SyncGroupRequest::default()
            .with_group_id(request.group_name.clone())
            .with_generation_id(request.generation_id)
            .with_member_id(request.member_id.clone())
            .with_protocol_type(Some("consumer".into()))
            .with_protocol_name(Some(ASSIGN_PROTOCOL.into()))
            .with_assignments(assignments);
        let body = worker.client().request(&req).await?.body;
        let assignments = if body.assignment.is_empty() {
            Vec::new()
        } else {
            convert::topic_partitions(
                &Assignment::decode(&body.assignment)
                    .map_err(|e| Error::InvalidArgument(format!("the assignment: {e}")))?,
            )
        };
        Ok(sync_group::Response {
            error_code: worker.atom(body.error_code.code()),
            assignments,
        })
    })
    .await
}

/// `KafkaEx.heartbeat/2`.
///
/// # Errors
///
/// [`Error::Client`] when the request failed; a group error is the response's `error_code`.
pub async fn heartbeat(
    request: heartbeat::Request,
    options: CallOptions,
) -> Result<heartbeat::Response> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        let req = HeartbeatRequest::default()
            .with_group_id(request.group_name.clone())
            .with_generation_id(request.generation_id)
            .with_member_id(request.member_id.clone());
        let error_code = match worker.client().request(&req).await {
            Ok(r) => r.body.error_code,
            Err(e) => match e.kafka_code() {
                Some(code) => code,
                None => return Err(Error::from_client(e)),
            },
        };
        Ok(heartbeat::Response {
            error_code: worker.atom(error_code.code()),
        })
    })
    .await
}

/// `KafkaEx.leave_group/2`.
///
/// # Errors
///
/// [`Error::Client`] when the request failed; a group error is the response's `error_code`.
pub async fn leave_group(
    request: leave_group::Request,
    options: CallOptions,
) -> Result<leave_group::Response> {
    within(options.timeout, async {
        let worker = options.worker_name.resolve()?;
        // v0-2 name the member in `member_id`, v3+ in `members`.
        let build = |version: i16| {
            let req = LeaveGroupRequest::default().with_group_id(request.group_name.clone());
            if version >= 3 {
                req.with_members(vec![
                    MemberIdentity::default().with_member_id(request.member_id.clone())
                ])
            } else {
                req.with_member_id(request.member_id.clone())
            }
        };
        let result = worker
            .client()
            .cluster()
            .request_with(build)
            .await
            .map_err(|e| {
                kafkaex_client::Error::request(
                    kafkaex_client::RequestContext::api(ApiKey::LeaveGroup),
                    e,
                )
            });
        let error_code = match result {
            Ok(r) => r
                .body
                .members
                .first()
                .map(|m| m.error_code)
                .filter(|c| !c.is_ok())
                .unwrap_or(r.body.error_code),
            Err(e) => match e.kafka_code() {
                Some(code) => code,
                None => return Err(Error::from_client(e)),
            },
        };
        Ok(leave_group::Response {
            error_code: worker.atom(error_code.code()),
        })
    })
    .await
}
