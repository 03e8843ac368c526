//! The one place where KafkaEx's structs become kafkaex-client's types and back. Every facade
//! call goes through these conversions and then through the client: there is no second
//! protocol path.

use bytes::Bytes;
use kafkaex_client::admin::{GroupDescription, NewTopic};
use kafkaex_client::group::protocol::Assignment;
use kafkaex_client::once::{FetchedOnce, OnceRecord};
use kafkaex_client::ConsumerRecord;
use kafkaex_protocol::messages::MetadataResponse;
use kafkaex_protocol::records::Compression;

use crate::error_names::ErrorAtom;
use crate::protocol::{create_topics, fetch, metadata, produce, sync_group};

impl From<produce::Compression> for Compression {
    fn from(c: produce::Compression) -> Self {
        match c {
            produce::Compression::None => Compression::None,
            produce::Compression::Gzip => Compression::Gzip,
            produce::Compression::Snappy => Compression::Snappy,
            produce::Compression::Lz4 => Compression::Lz4,
            produce::Compression::Zstd => Compression::Zstd,
        }
    }
}

impl From<Compression> for produce::Compression {
    fn from(c: Compression) -> Self {
        match c {
            Compression::None => produce::Compression::None,
            Compression::Gzip => produce::Compression::Gzip,
            Compression::Snappy => produce::Compression::Snappy,
            Compression::Lz4 => produce::Compression::Lz4,
            Compression::Zstd => produce::Compression::Zstd,
        }
    }
}

/// `%Produce.Message{}` as the client's record (a nil timestamp is none: -1 on the wire).
pub(crate) fn once_record(m: &produce::Message) -> OnceRecord {
    let mut r = OnceRecord::default();
    r.key = m.key.clone();
    r.value = m.value.clone();
    r.timestamp = m.timestamp;
    r.headers = m
        .headers
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    r
}

impl From<&produce::Message> for OnceRecord {
    fn from(m: &produce::Message) -> Self {
        once_record(m)
    }
}

/// A fetched record as `%Fetch.Message{}`: `timestamp` nil for message format 0 (which has
/// none), headers nil for message sets.
pub(crate) fn fetch_message(r: ConsumerRecord, record_batches: bool) -> fetch::Message {
    let headers = record_batches.then(|| {
        r.headers()
            .iter()
            .map(|h| (h.key.as_str().to_owned(), h.value.clone()))
            .collect()
    });
    fetch::Message {
        attributes: 0,
        crc: None,
        offset: r.offset,
        key: r.key,
        value: r.value,
        headers,
        topic: r.topic.to_string(),
        partition: r.partition,
        timestamp: Some(r.timestamp),
    }
}

/// A fetched partition as `%Fetch.Response{}`, its error named with KafkaEx's legacy table
/// (as KafkaEx's Kayrock client reports fetch errors).
pub(crate) fn fetch_response(topic: &str, partition: i32, f: FetchedOnce) -> fetch::Response {
    // Fetch v0-1 returns message format 0 (no timestamp), v4+ record batches (headers).
    let format0 = (0..=1).contains(&f.version);
    let batches = f.version >= 4;
    let message_set: Vec<fetch::Message> = f
        .records
        .into_iter()
        .map(|r| {
            let mut m = fetch_message(r, batches);
            if format0 {
                m.timestamp = None;
            }
            m
        })
        .collect();
    let last_offset = message_set
        .last()
        .map(|m| m.offset)
        .or(Some(f.high_watermark));
    fetch::Response {
        topic: topic.to_owned(),
        partitions: vec![fetch::Partition {
            partition,
            error_code: ErrorAtom::legacy(f.error.map_or(0, |c| c.code())),
            hw_mark_offset: f.high_watermark,
            message_set,
            last_offset,
        }],
    }
}

impl From<&create_topics::TopicRequest> for NewTopic {
    fn from(r: &create_topics::TopicRequest) -> Self {
        new_topic(r)
    }
}

/// `%CreateTopics.TopicRequest{}` as the client's topic (-1: the broker's default).
pub(crate) fn new_topic(r: &create_topics::TopicRequest) -> NewTopic {
    let mut t = NewTopic::new(r.topic.clone());
    if r.replica_assignment.is_empty() {
        if r.num_partitions > 0 {
            t = t.partitions(r.num_partitions);
        }
        if r.replication_factor > 0 {
            t = t.replication_factor(r.replication_factor);
        }
    }
    for a in &r.replica_assignment {
        t = t.assign(a.partition, a.replicas.clone());
    }
    for c in &r.config_entries {
        if let Some(v) = &c.config_value {
            t = t.config(c.config_name.clone(), v.clone());
        }
    }
    t
}

/// A Metadata response as `%Metadata.Response{}`, error codes named by `names`.
pub(crate) fn metadata_response(
    body: &MetadataResponse,
    version: i16,
    names: fn(i16) -> ErrorAtom,
) -> metadata::Response {
    let v1 = version >= 1;
    let controller = v1.then_some(body.controller_id);
    metadata::Response {
        brokers: body
            .brokers
            .iter()
            .map(|b| metadata::Broker {
                node_id: b.node_id,
                host: b.host.clone(),
                port: b.port,
                is_controller: controller.map(|c| c == b.node_id),
            })
            .collect(),
        topic_metadatas: body
            .topics
            .iter()
            .map(|t| metadata::TopicMetadata {
                error_code: names(t.error_code.code()),
                topic: t.name.clone().unwrap_or_default(),
                is_internal: v1.then_some(t.is_internal),
                partition_metadatas: t
                    .partitions
                    .iter()
                    .map(|p| metadata::PartitionMetadata {
                        error_code: names(p.error_code.code()),
                        partition_id: p.partition_index,
                        leader: p.leader_id,
                        replicas: p.replica_nodes.clone(),
                        isrs: p.isr_nodes.clone(),
                    })
                    .collect(),
            })
            .collect(),
        controller_id: controller,
    }
}

/// An assignment as `[{topic, [partition]}]`, topics in first-seen order.
pub(crate) fn topic_partitions(a: &Assignment) -> sync_group::TopicPartitions {
    let mut out: sync_group::TopicPartitions = Vec::new();
    for (t, p) in a.topic_partitions() {
        match out.iter_mut().find(|(name, _)| *name == t) {
            Some((_, ps)) => ps.push(p),
            None => out.push((t, vec![p])),
        }
    }
    out
}

/// A member of a [`ConsumerGroupDescription`] (`%KafkaEx.New.Structs.ConsumerGroup.Member{}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupMember {
    /// The member id.
    pub member_id: String,
    /// Its client id.
    pub client_id: String,
    /// Its host.
    pub client_host: String,
    /// Its protocol metadata (the subscription).
    pub member_metadata: Bytes,
    /// Its assignment.
    pub member_assignment: Bytes,
}

/// `describe_group`'s result (`%KafkaEx.New.Structs.ConsumerGroup{}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupDescription {
    /// The group.
    pub group_id: String,
    /// Its state (`Stable`, `Empty`, `Dead`, ...).
    pub state: String,
    /// Its protocol type (`consumer`).
    pub protocol_type: String,
    /// The protocol chosen (`assign` for KafkaEx groups).
    pub protocol: String,
    /// The members.
    pub members: Vec<ConsumerGroupMember>,
}

impl From<GroupDescription> for ConsumerGroupDescription {
    fn from(d: GroupDescription) -> Self {
        Self {
            group_id: d.group_id,
            state: d.state,
            protocol_type: d.protocol_type,
            protocol: d.protocol,
            members: d
                .members
                .into_iter()
                .map(|m| ConsumerGroupMember {
                    member_id: m.member_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    member_metadata: m.metadata,
                    member_assignment: m.assignment,
                })
                .collect(),
        }
    }
}
