//! The fake cluster's in-memory model and the default answer to each API it serves.
//!
//! Each handler answers the way Kafka documents, for the part of the API a client test needs:
//! Metadata lists the brokers and the topics with their leaders and epochs, Produce appends
//! record batches to a partition log (assigning offsets, checking idempotent sequences),
//! Fetch reads them back, ListOffsets answers log start and end, FindCoordinator names the
//! coordinator node of a key, OffsetCommit/OffsetFetch store offsets per group, InitProducerId
//! hands out producer ids and epochs. Anything else is answered by closing the connection and
//! is recorded as unhandled, so a test that relies on it fails loudly.
//!
//! Topics are named the way each version names them, as Kafka 4.4 does: by id in Produce v13+,
//! Fetch v13+, OffsetCommit v10+ and OffsetFetch v10+ (answered by id; an id no topic has is
//! `UNKNOWN_TOPIC_ID`), by name before.

use std::collections::{BTreeMap, HashMap};

use bytes::{BufMut, Bytes, BytesMut};
use kafkaex_protocol::messages::api_versions_response::ApiVersion;
use kafkaex_protocol::messages::create_topics_response::CreatableTopicResult;
use kafkaex_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkaex_protocol::messages::find_coordinator_response::Coordinator;
use kafkaex_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafkaex_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkaex_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafkaex_protocol::messages::offset_fetch_request::OffsetFetchRequestTopics;
use kafkaex_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafkaex_protocol::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkaex_protocol::messages::*;
use kafkaex_protocol::{ApiKey, ErrorCode, Uuid, VersionRange};

use super::{Reply, Seen};
use crate::sasl::PlainAuthenticator;

/// APIs whose newest versions in the specs Kafka 4.4 leaves unadvertised (unstable), with the
/// newest version it does advertise.
const UNSTABLE_IN_KAFKA_4_4: [(ApiKey, i16); 1] = [(ApiKey::InitProducerId, 5)];

/// Produce names topics by id from v13, OffsetCommit and OffsetFetch from v10 (KIP-516); Fetch
/// from v13.
const PRODUCE_TOPIC_IDS: i16 = 13;
const FETCH_TOPIC_IDS: i16 = 13;
const OFFSET_COMMIT_TOPIC_IDS: i16 = 10;
const OFFSET_FETCH_TOPIC_IDS: i16 = 10;

/// A record batch as the fake broker stored it: the producer's bytes with the base offset and
/// partition leader epoch the broker assigned written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBatch {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Number of records (the batch's record count).
    pub records: i32,
    /// Offset delta of the last record.
    pub last_offset_delta: i32,
    /// The producer id, -1 for a non-idempotent producer.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// The first sequence number, -1 for a non-idempotent producer.
    pub base_sequence: i32,
    /// Whether the batch is transactional.
    pub transactional: bool,
    /// The batch bytes, as a fetch returns them.
    pub bytes: Bytes,
}

impl StoredBatch {
    /// The offset after the batch's last record.
    pub fn next_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta) + 1
    }
}

/// What the broker keeps per producer and partition to detect duplicates (the last five
/// batches, as Kafka does).
#[derive(Clone, Debug, Default)]
struct ProducerState {
    epoch: i16,
    /// (first sequence, last sequence, base offset) of the last batches, oldest first.
    batches: Vec<(i32, i32, i64)>,
}

/// One partition: leader, epoch, log.
#[derive(Clone, Debug)]
pub(crate) struct PartitionState {
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) log_start: i64,
    pub(crate) log: Vec<StoredBatch>,
    producers: HashMap<i64, ProducerState>,
}

impl PartitionState {
    pub(crate) fn log_end(&self) -> i64 {
        self.log
            .last()
            .map(StoredBatch::next_offset)
            .unwrap_or(self.log_start)
    }
}

/// One topic.
#[derive(Clone, Debug)]
pub(crate) struct TopicState {
    pub(crate) id: Uuid,
    pub(crate) partitions: Vec<PartitionState>,
}

/// A committed offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The offset.
    pub offset: i64,
    /// The leader epoch committed with it (-1 for none).
    pub leader_epoch: i32,
    /// The metadata string.
    pub metadata: Option<String>,
}

/// One fake broker's identity and what it advertises.
#[derive(Clone, Debug)]
pub(crate) struct BrokerState {
    pub(crate) node_id: i32,
    pub(crate) port: u16,
    pub(crate) api_versions: BTreeMap<ApiKey, VersionRange>,
    pub(crate) running: bool,
}

/// Per-connection state the model needs.
#[derive(Debug, Default)]
pub(crate) struct ConnectionState {
    pub(crate) sasl: Option<PlainAuthenticator>,
}

/// The whole fake cluster's state.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) cluster_id: String,
    pub(crate) brokers: Vec<BrokerState>,
    pub(crate) controller_id: i32,
    pub(crate) topics: BTreeMap<String, TopicState>,
    pub(crate) coordinators: HashMap<String, i32>,
    pub(crate) committed: BTreeMap<(String, String, i32), Committed>,
    pub(crate) auto_create_topics: bool,
    pub(crate) metadata_lists_all: bool,
    pub(crate) default_partitions: i32,
    pub(crate) sasl: Option<(String, String)>,
    next_producer_id: i64,
    next_topic_id: u64,
    /// Requests answered by closing the connection because the model does not serve them.
    pub(crate) unhandled: Vec<(ApiKey, i16)>,
}

impl Model {
    pub(crate) fn new(brokers: Vec<BrokerState>) -> Self {
        let controller_id = brokers.first().map_or(-1, |b| b.node_id);
        Self {
            cluster_id: "kafkaex-fake-cluster".to_owned(),
            brokers,
            controller_id,
            topics: BTreeMap::new(),
            coordinators: HashMap::new(),
            committed: BTreeMap::new(),
            auto_create_topics: false,
            metadata_lists_all: false,
            default_partitions: 1,
            sasl: None,
            next_producer_id: 1000,
            next_topic_id: 1,
            unhandled: Vec::new(),
        }
    }

    /// Every API at every version this crate knows, except the versions Kafka 4.4 knows but
    /// does not advertise because they are not stable yet (InitProducerId v6, KIP-939).
    pub(crate) fn all_api_versions() -> BTreeMap<ApiKey, VersionRange> {
        ApiKey::ALL
            .iter()
            .map(|api| {
                let mut range = api.valid_versions();
                if let Some((_, max)) = UNSTABLE_IN_KAFKA_4_4.iter().find(|(a, _)| a == api) {
                    range.max = range.max.min(*max);
                }
                (*api, range)
            })
            .collect()
    }

    fn running_brokers(&self) -> impl Iterator<Item = &BrokerState> {
        self.brokers.iter().filter(|b| b.running)
    }

    fn broker(&self, node_id: i32) -> Option<&BrokerState> {
        self.brokers.iter().find(|b| b.node_id == node_id)
    }

    /// Creates a topic with `partitions` partitions, leaders spread round robin over the
    /// brokers, epoch 0. Returns false when it exists.
    pub(crate) fn create_topic(&mut self, name: &str, partitions: i32) -> bool {
        if self.topics.contains_key(name) {
            return false;
        }
        let ids: Vec<i32> = self.brokers.iter().map(|b| b.node_id).collect();
        let id = Uuid(
            (0x6b61_666b_6165_7800_0000_0000_0000_0000_u128 | u128::from(self.next_topic_id))
                .to_be_bytes(),
        );
        self.next_topic_id += 1;
        let partitions = (0..partitions.max(0))
            .map(|p| PartitionState {
                leader: ids[p as usize % ids.len().max(1)],
                leader_epoch: 0,
                log_start: 0,
                log: Vec::new(),
                producers: HashMap::new(),
            })
            .collect();
        self.topics
            .insert(name.to_owned(), TopicState { id, partitions });
        true
    }

    pub(crate) fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionState> {
        self.topics
            .get(topic)?
            .partitions
            .get(usize::try_from(partition).ok()?)
    }

    pub(crate) fn partition_mut(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Option<&mut PartitionState> {
        self.topics
            .get_mut(topic)?
            .partitions
            .get_mut(usize::try_from(partition).ok()?)
    }

    fn topic_name_by_id(&self, id: Uuid) -> Option<String> {
        self.topics
            .iter()
            .find(|(_, t)| t.id == id)
            .map(|(name, _)| name.clone())
    }

    /// The coordinator node of a group or transactional id: set explicitly, or by a hash of
    /// the key over the running brokers.
    pub(crate) fn coordinator(&self, key: &str) -> Option<i32> {
        if let Some(node) = self.coordinators.get(key) {
            return Some(*node);
        }
        let running: Vec<i32> = self.running_brokers().map(|b| b.node_id).collect();
        if running.is_empty() {
            return None;
        }
        let hash = key
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        Some(running[hash as usize % running.len()])
    }

    /// The default answer to a request received by `node`.
    pub(crate) fn handle(&mut self, node: i32, seen: &Seen, conn: &mut ConnectionState) -> Reply {
        let v = seen.version;
        if !self.brokers.iter().any(|b| b.node_id == node && b.running) {
            // Stopped: its connections are being aborted, but one that already read a request
            // must not act on it (a stopped broker writes nothing).
            return Reply::Disconnect;
        }
        if self.sasl.is_some()
            && !matches!(
                seen.api,
                ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
            )
            && !conn.sasl.as_ref().is_some_and(|s| s.authenticated)
        {
            // Kafka closes a connection that sends requests before authenticating.
            return Reply::Disconnect;
        }
        match &seen.body {
            RequestKind::ApiVersions(_) => self.api_versions(node, v),
            RequestKind::Metadata(r) => Reply::body(v, self.metadata(r, v)),
            RequestKind::FindCoordinator(r) => Reply::body(v, self.find_coordinator(r, v)),
            RequestKind::CreateTopics(r) => Reply::body(v, self.create_topics(r, node)),
            RequestKind::ListOffsets(r) => Reply::body(v, self.list_offsets(node, r, v)),
            RequestKind::Produce(r) => {
                let response = self.produce(node, r, v);
                if r.acks == 0 {
                    // No response at acks=0.
                    Reply::Silence
                } else {
                    Reply::body(v, response)
                }
            }
            RequestKind::Fetch(r) => Reply::body(v, self.fetch(node, r, v)),
            RequestKind::InitProducerId(r) => Reply::body(v, self.init_producer_id(r)),
            RequestKind::OffsetCommit(r) => Reply::body(v, self.offset_commit(node, r, v)),
            RequestKind::OffsetFetch(r) => Reply::body(v, self.offset_fetch(node, r, v)),
            RequestKind::Heartbeat(r) => Reply::body(
                v,
                HeartbeatResponse::default()
                    .with_error_code(self.coordinator_error(node, &r.group_id)),
            ),
            RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_) => {
                self.sasl_step(seen, conn)
            }
            _ => {
                self.unhandled.push((seen.api, v));
                Reply::Disconnect
            }
        }
    }

    fn sasl_step(&mut self, seen: &Seen, conn: &mut ConnectionState) -> Reply {
        let Some((user, password)) = &self.sasl else {
            self.unhandled.push((seen.api, seen.version));
            return Reply::Disconnect;
        };
        let auth = conn
            .sasl
            .get_or_insert_with(|| PlainAuthenticator::with_user(user, password));
        let mut body = BytesMut::new();
        use kafkaex_protocol::Encodable as _;
        if seen.body.encode(&mut body, seen.version).is_err() {
            return Reply::Disconnect;
        }
        match auth.handle(seen.api, seen.version, body.freeze()) {
            Ok(response) => Reply::RawResponse(response),
            Err(_) => Reply::Disconnect,
        }
    }

    fn api_versions(&self, node: i32, version: i16) -> Reply {
        let ranges = self
            .broker(node)
            .map(|b| b.api_versions.clone())
            .unwrap_or_default();
        let max = ranges.get(&ApiKey::ApiVersions).map_or(0, |r| r.max);
        let keys: Vec<ApiVersion> = ranges
            .iter()
            .map(|(api, r)| {
                ApiVersion::default()
                    .with_api_key(api.as_i16())
                    .with_min_version(r.min)
                    .with_max_version(r.max)
            })
            .collect();
        if version > max {
            // What Kafka does with a version it does not know: UNSUPPORTED_VERSION in a v0
            // body, listing its ApiVersions range.
            let listed = ranges
                .get(&ApiKey::ApiVersions)
                .map(|r| {
                    vec![ApiVersion::default()
                        .with_api_key(ApiKey::ApiVersions.as_i16())
                        .with_min_version(r.min)
                        .with_max_version(r.max)]
                })
                .unwrap_or_default();
            return Reply::body(
                0,
                ApiVersionsResponse::default()
                    .with_error_code(ErrorCode::UnsupportedVersion)
                    .with_api_keys(listed),
            );
        }
        Reply::body(version, ApiVersionsResponse::default().with_api_keys(keys))
    }

    fn metadata(&mut self, request: &MetadataRequest, version: i16) -> MetadataResponse {
        let brokers = self
            .running_brokers()
            .map(|b| {
                MetadataResponseBroker::default()
                    .with_node_id(b.node_id)
                    .with_host("127.0.0.1".to_owned())
                    .with_port(i32::from(b.port))
            })
            .collect();
        let wanted: Vec<(Option<String>, Uuid)> = match &request.topics {
            None => self
                .topics
                .keys()
                .map(|n| (Some(n.clone()), Uuid::ZERO))
                .collect(),
            // v0: an empty list means every topic.
            Some(list) if list.is_empty() && version == 0 => self
                .topics
                .keys()
                .map(|n| (Some(n.clone()), Uuid::ZERO))
                .collect(),
            Some(list) => list.iter().map(|t| (t.name.clone(), t.topic_id)).collect(),
        };
        let auto_create =
            self.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
        let mut topics = Vec::new();
        for (name, id) in wanted {
            let name = match name {
                Some(n) if !n.is_empty() => n,
                _ => match self.topic_name_by_id(id) {
                    Some(n) => n,
                    None => {
                        topics.push(
                            MetadataResponseTopic::default()
                                .with_error_code(ErrorCode::UnknownTopicId)
                                .with_name(None)
                                .with_topic_id(id),
                        );
                        continue;
                    }
                },
            };
            if !self.topics.contains_key(&name) {
                if auto_create {
                    let partitions = self.default_partitions;
                    self.create_topic(&name, partitions);
                    // Kafka answers LEADER_NOT_AVAILABLE while it creates the topic.
                    topics.push(
                        MetadataResponseTopic::default()
                            .with_error_code(ErrorCode::LeaderNotAvailable)
                            .with_name(Some(name)),
                    );
                } else {
                    topics.push(
                        MetadataResponseTopic::default()
                            .with_error_code(ErrorCode::UnknownTopicOrPartition)
                            .with_name(Some(name)),
                    );
                }
                continue;
            }
            let topic = &self.topics[&name];
            let partitions = topic
                .partitions
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let running = self.broker(p.leader).is_some_and(|b| b.running);
                    MetadataResponsePartition::default()
                        .with_error_code(if running {
                            ErrorCode::None
                        } else {
                            ErrorCode::LeaderNotAvailable
                        })
                        .with_partition_index(i as i32)
                        .with_leader_id(if running { p.leader } else { -1 })
                        .with_leader_epoch(p.leader_epoch)
                        .with_replica_nodes(vec![p.leader])
                        .with_isr_nodes(if running { vec![p.leader] } else { Vec::new() })
                })
                .collect();
            topics.push(
                MetadataResponseTopic::default()
                    .with_name(Some(name))
                    .with_topic_id(topic.id)
                    .with_partitions(partitions),
            );
        }
        let mut response = MetadataResponse::default()
            .with_brokers(brokers)
            .with_controller_id(self.controller_id)
            .with_topics(topics);
        if version >= 2 {
            response = response.with_cluster_id(Some(self.cluster_id.clone()));
        }
        response
    }

    /// NOT_COORDINATOR when `node` is not the coordinator of `key`.
    fn coordinator_error(&self, node: i32, key: &str) -> ErrorCode {
        if self.coordinator(key) == Some(node) {
            ErrorCode::None
        } else {
            ErrorCode::NotCoordinator
        }
    }

    fn find_coordinator(
        &self,
        request: &FindCoordinatorRequest,
        version: i16,
    ) -> FindCoordinatorResponse {
        let locate = |key: &str| match self.coordinator(key).and_then(|n| self.broker(n)) {
            Some(b) => (
                ErrorCode::None,
                b.node_id,
                "127.0.0.1".to_owned(),
                i32::from(b.port),
            ),
            None => (ErrorCode::CoordinatorNotAvailable, -1, String::new(), -1),
        };
        if version >= 4 {
            let coordinators = request
                .coordinator_keys
                .iter()
                .map(|key| {
                    let (code, node, host, port) = locate(key);
                    Coordinator::default()
                        .with_key(key.clone())
                        .with_error_code(code)
                        .with_node_id(node)
                        .with_host(host)
                        .with_port(port)
                })
                .collect();
            FindCoordinatorResponse::default().with_coordinators(coordinators)
        } else {
            let (code, node, host, port) = locate(&request.key);
            FindCoordinatorResponse::default()
                .with_error_code(code)
                .with_node_id(node)
                .with_host(host)
                .with_port(port)
        }
    }

    fn create_topics(&mut self, request: &CreateTopicsRequest, node: i32) -> CreateTopicsResponse {
        let not_controller = node != self.controller_id;
        let topics = request
            .topics
            .iter()
            .map(|t| {
                let code = if not_controller {
                    ErrorCode::NotController
                } else if t.num_partitions == 0 || t.num_partitions < -1 {
                    ErrorCode::InvalidPartitions
                } else if self.topics.contains_key(&t.name) {
                    ErrorCode::TopicAlreadyExists
                } else {
                    if !request.validate_only {
                        let partitions = if t.num_partitions == -1 {
                            self.default_partitions
                        } else {
                            t.num_partitions
                        };
                        self.create_topic(&t.name, partitions);
                    }
                    ErrorCode::None
                };
                let mut result = CreatableTopicResult::default()
                    .with_name(t.name.clone())
                    .with_error_code(code);
                if let Some(topic) = self.topics.get(&t.name).filter(|_| code.is_ok()) {
                    result = result
                        .with_topic_id(topic.id)
                        .with_num_partitions(topic.partitions.len() as i32)
                        .with_replication_factor(1);
                }
                result
            })
            .collect();
        CreateTopicsResponse::default().with_topics(topics)
    }

    /// NOT_LEADER_OR_FOLLOWER unless `node` leads the partition; UNKNOWN_TOPIC_OR_PARTITION
    /// when there is no such partition.
    fn leader_error(&self, node: i32, topic: &str, partition: i32) -> ErrorCode {
        match self.partition(topic, partition) {
            None => ErrorCode::UnknownTopicOrPartition,
            Some(p) if p.leader != node => ErrorCode::NotLeaderOrFollower,
            Some(_) => ErrorCode::None,
        }
    }

    fn list_offsets(
        &self,
        node: i32,
        request: &ListOffsetsRequest,
        version: i16,
    ) -> ListOffsetsResponse {
        let topics = request
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let code = self.leader_error(node, &t.name, p.partition_index);
                        let mut out = ListOffsetsPartitionResponse::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code);
                        if let (true, Some(state)) =
                            (code.is_ok(), self.partition(&t.name, p.partition_index))
                        {
                            // -2 earliest, -1 latest; a timestamp is answered with the log end
                            // (the fake keeps no time index).
                            let offset = match p.timestamp {
                                -2 => state.log_start,
                                _ => state.log_end(),
                            };
                            // v0 answers a list of offsets; v1+ one offset, v4+ with the epoch.
                            out = match version {
                                0 => out.with_old_style_offsets(vec![offset]),
                                1..=3 => out.with_offset(offset),
                                _ => out
                                    .with_offset(offset)
                                    .with_leader_epoch(state.leader_epoch),
                            };
                        }
                        out
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        ListOffsetsResponse::default().with_topics(topics)
    }

    /// Kafka 4.4's Produce: v13+ names each topic by id (an id no topic has, the zero id
    /// included, is `UNKNOWN_TOPIC_ID` for each of its partitions) and is answered by id; older
    /// versions by name.
    fn produce(&mut self, node: i32, request: &ProduceRequest, version: i16) -> ProduceResponse {
        let by_id = version >= PRODUCE_TOPIC_IDS;
        let mut responses = Vec::new();
        for t in &request.topic_data {
            let name = if by_id {
                self.topic_name_by_id(t.topic_id)
            } else {
                Some(t.name.clone())
            };
            let mut partitions = Vec::new();
            for p in &t.partition_data {
                let mut out = PartitionProduceResponse::default().with_index(p.index);
                let (name, code) = match &name {
                    Some(name) => (name.as_str(), self.leader_error(node, name, p.index)),
                    None => ("", ErrorCode::UnknownTopicId),
                };
                if !code.is_ok() {
                    partitions.push(out.with_error_code(code).with_base_offset(-1));
                    continue;
                }
                let records = p.records.clone().unwrap_or_default();
                match self.append(name, p.index, records) {
                    Ok((base_offset, log_start)) => {
                        out = out
                            .with_base_offset(base_offset)
                            .with_log_start_offset(log_start);
                    }
                    Err(code) => out = out.with_error_code(code).with_base_offset(-1),
                }
                partitions.push(out);
            }
            let topic = if by_id {
                TopicProduceResponse::default().with_topic_id(t.topic_id)
            } else {
                TopicProduceResponse::default().with_name(t.name.clone())
            };
            responses.push(topic.with_partition_responses(partitions));
        }
        ProduceResponse::default().with_responses(responses)
    }

    /// Appends the record batches in `records` to a partition; returns the base offset of the
    /// first and the log start offset, or the error Kafka would give.
    fn append(
        &mut self,
        topic: &str,
        partition: i32,
        records: Bytes,
    ) -> Result<(i64, i64), ErrorCode> {
        let batches = split_batches(&records).ok_or(ErrorCode::CorruptMessage)?;
        if batches.is_empty() {
            return Err(ErrorCode::CorruptMessage);
        }
        let state = self
            .partition_mut(topic, partition)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        let mut first = None;
        for header in batches {
            let base = match idempotence_check(state, &header)? {
                Some(duplicate_base) => duplicate_base,
                None => {
                    let base = state.log_end();
                    let mut bytes = BytesMut::from(&header.bytes[..]);
                    bytes[0..8].copy_from_slice(&base.to_be_bytes());
                    bytes[12..16].copy_from_slice(&state.leader_epoch.to_be_bytes());
                    if header.producer_id >= 0 {
                        let entry = state.producers.entry(header.producer_id).or_default();
                        if entry.epoch != header.producer_epoch {
                            // A new epoch starts the sequences again: the old epoch's batches
                            // are not duplicates of the new one's (Kafka drops them too).
                            entry.batches.clear();
                        }
                        entry.epoch = header.producer_epoch;
                        let last = header.base_sequence.wrapping_add(header.last_offset_delta);
                        entry.batches.push((header.base_sequence, last, base));
                        if entry.batches.len() > 5 {
                            entry.batches.remove(0);
                        }
                    }
                    state.log.push(StoredBatch {
                        base_offset: base,
                        records: header.records,
                        last_offset_delta: header.last_offset_delta,
                        producer_id: header.producer_id,
                        producer_epoch: header.producer_epoch,
                        base_sequence: header.base_sequence,
                        transactional: header.transactional,
                        bytes: bytes.freeze(),
                    });
                    base
                }
            };
            first.get_or_insert(base);
        }
        Ok((first.unwrap_or_default(), state.log_start))
    }

    fn fetch(&self, node: i32, request: &FetchRequest, version: i16) -> FetchResponse {
        let mut responses = Vec::new();
        let mut budget = usize::try_from(request.max_bytes).unwrap_or(0).max(1);
        let by_id = version >= FETCH_TOPIC_IDS;
        for t in &request.topics {
            let name = if by_id {
                self.topic_name_by_id(t.topic_id).unwrap_or_default()
            } else {
                t.topic.clone()
            };
            let mut partitions = Vec::new();
            for p in &t.partitions {
                let mut out = PartitionData::default().with_partition_index(p.partition);
                let code = if by_id && name.is_empty() {
                    ErrorCode::UnknownTopicId
                } else {
                    self.leader_error(node, &name, p.partition)
                };
                let Some(state) = self.partition(&name, p.partition).filter(|_| code.is_ok())
                else {
                    // As Kafka answers a partition it does not read: no offsets, no records.
                    partitions.push(
                        out.with_error_code(code)
                            .with_high_watermark(-1)
                            .with_records(Some(Bytes::new())),
                    );
                    continue;
                };
                out = out
                    .with_high_watermark(state.log_end())
                    .with_last_stable_offset(state.log_end())
                    .with_log_start_offset(state.log_start);
                if p.fetch_offset < state.log_start || p.fetch_offset > state.log_end() {
                    partitions.push(out.with_error_code(ErrorCode::OffsetOutOfRange));
                    continue;
                }
                let limit = usize::try_from(p.partition_max_bytes).unwrap_or(0);
                let mut data = BytesMut::new();
                for batch in state
                    .log
                    .iter()
                    .filter(|b| b.next_offset() > p.fetch_offset)
                {
                    // The first batch goes out whole whatever the limits (as Kafka does).
                    if !data.is_empty()
                        && (data.len() + batch.bytes.len() > limit || batch.bytes.len() > budget)
                    {
                        break;
                    }
                    data.put_slice(&batch.bytes);
                    budget = budget.saturating_sub(batch.bytes.len());
                }
                partitions.push(out.with_records(Some(data.freeze())));
            }
            let topic = if by_id {
                FetchableTopicResponse::default().with_topic_id(t.topic_id)
            } else {
                FetchableTopicResponse::default().with_topic(name)
            };
            responses.push(topic.with_partitions(partitions));
        }
        FetchResponse::default().with_responses(responses)
    }

    fn init_producer_id(&mut self, request: &InitProducerIdRequest) -> InitProducerIdResponse {
        if request.producer_id >= 0 {
            // KIP-360: bump the epoch of a known producer.
            if request.producer_epoch == i16::MAX - 1 {
                let id = self.next_producer_id;
                self.next_producer_id += 1;
                return InitProducerIdResponse::default()
                    .with_producer_id(id)
                    .with_producer_epoch(0);
            }
            return InitProducerIdResponse::default()
                .with_producer_id(request.producer_id)
                .with_producer_epoch(request.producer_epoch + 1);
        }
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        InitProducerIdResponse::default()
            .with_producer_id(id)
            .with_producer_epoch(0)
    }

    /// Kafka 4.4's OffsetCommit: v10+ names each topic by id and is answered by id. As Kafka
    /// does, the topic checks come before the coordinator's: an id no topic has is
    /// `UNKNOWN_TOPIC_ID`, a partition that does not exist `UNKNOWN_TOPIC_OR_PARTITION`, and
    /// only the rest reach the group (`NOT_COORDINATOR` on another broker).
    fn offset_commit(
        &mut self,
        node: i32,
        request: &OffsetCommitRequest,
        version: i16,
    ) -> OffsetCommitResponse {
        let by_id = version >= OFFSET_COMMIT_TOPIC_IDS;
        let group_code = self.coordinator_error(node, &request.group_id);
        let mut topics = Vec::new();
        for t in &request.topics {
            let name = if by_id {
                self.topic_name_by_id(t.topic_id)
            } else {
                Some(t.name.clone())
            };
            let mut partitions = Vec::new();
            for p in &t.partitions {
                let code = match &name {
                    None => ErrorCode::UnknownTopicId,
                    Some(name) if self.partition(name, p.partition_index).is_none() => {
                        ErrorCode::UnknownTopicOrPartition
                    }
                    Some(_) if !group_code.is_ok() => group_code,
                    Some(name) => {
                        self.committed.insert(
                            (request.group_id.clone(), name.clone(), p.partition_index),
                            Committed {
                                offset: p.committed_offset,
                                leader_epoch: p.committed_leader_epoch,
                                metadata: p.committed_metadata.clone(),
                            },
                        );
                        ErrorCode::None
                    }
                };
                partitions.push(
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code),
                );
            }
            let topic = if by_id {
                OffsetCommitResponseTopic::default().with_topic_id(t.topic_id)
            } else {
                OffsetCommitResponseTopic::default().with_name(t.name.clone())
            };
            topics.push(topic.with_partitions(partitions));
        }
        OffsetCommitResponse::default().with_topics(topics)
    }

    fn committed_for(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> (i64, i32, Option<String>) {
        match self
            .committed
            .get(&(group.to_owned(), topic.to_owned(), partition))
        {
            Some(c) => (c.offset, c.leader_epoch, c.metadata.clone()),
            None => (-1, -1, Some(String::new())),
        }
    }

    /// The partitions to answer for a group: those asked for, or every committed one (`None`).
    fn asked_or_committed(
        &self,
        group: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Vec<(String, Vec<i32>)> {
        match topics {
            Some(t) => t,
            None => {
                let mut all: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                for (g, t, p) in self.committed.keys() {
                    if g == group {
                        all.entry(t.clone()).or_default().push(*p);
                    }
                }
                all.into_iter().collect()
            }
        }
    }

    /// The topics of one group's OffsetFetch v8+ answer: those asked for (by name, or from v10
    /// by id, answered by id; an id no topic has is `UNKNOWN_TOPIC_ID` for each of its
    /// partitions, as Kafka 4.4 answers), or every topic the group committed (`None`).
    fn group_offsets(
        &self,
        group: &str,
        asked: Option<&[OffsetFetchRequestTopics]>,
        by_id: bool,
    ) -> Vec<OffsetFetchResponseTopics> {
        let id_of = |name: &str| self.topics.get(name).map_or(Uuid::ZERO, |t| t.id);
        let wanted: Vec<(Option<String>, Uuid, Vec<i32>)> = match asked {
            Some(topics) if by_id => topics
                .iter()
                .map(|t| {
                    let name = self.topic_name_by_id(t.topic_id);
                    (name, t.topic_id, t.partition_indexes.clone())
                })
                .collect(),
            Some(topics) => topics
                .iter()
                .map(|t| {
                    (
                        Some(t.name.clone()),
                        Uuid::ZERO,
                        t.partition_indexes.clone(),
                    )
                })
                .collect(),
            None => self
                .asked_or_committed(group, None)
                .into_iter()
                .map(|(name, partitions)| {
                    let id = id_of(&name);
                    (Some(name), id, partitions)
                })
                .collect(),
        };
        wanted
            .into_iter()
            .map(|(name, id, partitions)| {
                let partitions = partitions
                    .iter()
                    .map(|p| {
                        let out = OffsetFetchResponsePartitions::default().with_partition_index(*p);
                        let Some(name) = &name else {
                            return out
                                .with_committed_offset(-1)
                                .with_committed_leader_epoch(-1)
                                .with_metadata(Some(String::new()))
                                .with_error_code(ErrorCode::UnknownTopicId);
                        };
                        let (offset, epoch, metadata) = self.committed_for(group, name, *p);
                        out.with_committed_offset(offset)
                            .with_committed_leader_epoch(epoch)
                            .with_metadata(metadata)
                    })
                    .collect();
                let topic = if by_id {
                    OffsetFetchResponseTopics::default().with_topic_id(id)
                } else {
                    OffsetFetchResponseTopics::default().with_name(name.unwrap_or_default())
                };
                topic.with_partitions(partitions)
            })
            .collect()
    }

    fn offset_fetch(
        &self,
        node: i32,
        request: &OffsetFetchRequest,
        version: i16,
    ) -> OffsetFetchResponse {
        if version >= 8 {
            let by_id = version >= OFFSET_FETCH_TOPIC_IDS;
            let groups = request
                .groups
                .iter()
                .map(|g| {
                    let code = self.coordinator_error(node, &g.group_id);
                    let topics = if code.is_ok() {
                        self.group_offsets(&g.group_id, g.topics.as_deref(), by_id)
                    } else {
                        Vec::new()
                    };
                    OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(code)
                        .with_topics(topics)
                })
                .collect();
            return OffsetFetchResponse::default().with_groups(groups);
        }
        let code = self.coordinator_error(node, &request.group_id);
        let asked = request.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                .collect()
        });
        let topics = if code.is_ok() {
            self.asked_or_committed(&request.group_id, asked)
                .into_iter()
                .map(|(name, parts)| {
                    let partitions = parts
                        .iter()
                        .map(|p| {
                            let (offset, epoch, metadata) =
                                self.committed_for(&request.group_id, &name, *p);
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(offset)
                                .with_committed_leader_epoch(if version >= 5 { epoch } else { -1 })
                                .with_metadata(metadata)
                        })
                        .collect();
                    OffsetFetchResponseTopic::default()
                        .with_name(name)
                        .with_partitions(partitions)
                })
                .collect()
        } else {
            Vec::new()
        };
        let response = OffsetFetchResponse::default().with_topics(topics);
        if version >= 2 {
            response.with_error_code(code)
        } else {
            response
        }
    }
}

/// The fields of a record batch header the broker looks at, read from the wire layout
/// (`docs/implementation.txt`), with the batch's bytes.
struct BatchHeader {
    last_offset_delta: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    records: i32,
    transactional: bool,
    bytes: Bytes,
}

/// Splits a records field into magic-2 batches; `None` when it is not a sequence of whole
/// magic-2 batches.
fn split_batches(records: &Bytes) -> Option<Vec<BatchHeader>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < records.len() {
        let rest = &records[at..];
        if rest.len() < 61 {
            return None;
        }
        let length = i32::from_be_bytes(rest[8..12].try_into().ok()?);
        let total = 12usize.checked_add(usize::try_from(length).ok()?)?;
        if total > rest.len() || total < 61 || rest[16] != 2 {
            return None;
        }
        let attributes = i16::from_be_bytes(rest[21..23].try_into().ok()?);
        out.push(BatchHeader {
            last_offset_delta: i32::from_be_bytes(rest[23..27].try_into().ok()?),
            producer_id: i64::from_be_bytes(rest[43..51].try_into().ok()?),
            producer_epoch: i16::from_be_bytes(rest[51..53].try_into().ok()?),
            base_sequence: i32::from_be_bytes(rest[53..57].try_into().ok()?),
            records: i32::from_be_bytes(rest[57..61].try_into().ok()?),
            transactional: attributes & 0x10 != 0,
            bytes: records.slice(at..at + total),
        });
        at += total;
    }
    Some(out)
}

/// Kafka's duplicate and sequence checks for an idempotent batch: `Ok(Some(base))` for a
/// duplicate of a batch already in the log (answered with that batch's offset, as Kafka does),
/// `Ok(None)` to append, or the error.
fn idempotence_check(
    state: &PartitionState,
    batch: &BatchHeader,
) -> Result<Option<i64>, ErrorCode> {
    if batch.producer_id < 0 {
        return Ok(None);
    }
    let Some(producer) = state.producers.get(&batch.producer_id) else {
        // A producer the partition does not know must start at sequence 0.
        return if batch.base_sequence == 0 {
            Ok(None)
        } else {
            Err(ErrorCode::UnknownProducerId)
        };
    };
    if batch.producer_epoch < producer.epoch {
        return Err(ErrorCode::InvalidProducerEpoch);
    }
    if batch.producer_epoch > producer.epoch {
        // A bumped epoch restarts the sequence.
        return if batch.base_sequence == 0 {
            Ok(None)
        } else {
            Err(ErrorCode::OutOfOrderSequenceNumber)
        };
    }
    if let Some((_, _, base)) = producer
        .batches
        .iter()
        .find(|(first, _, _)| *first == batch.base_sequence)
    {
        return Ok(Some(*base));
    }
    let expected = producer
        .batches
        .last()
        .map_or(0, |(_, last, _)| last.wrapping_add(1));
    if batch.base_sequence == expected {
        Ok(None)
    } else {
        Err(ErrorCode::OutOfOrderSequenceNumber)
    }
}
