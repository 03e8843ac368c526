//! KafkaEx's `KafkaEx.Protocol.*` request and response structs, field for field, with
//! KafkaEx's defaults (`Default`). Error codes are [`ErrorAtom`]s: KafkaEx's atom names.
//!
//! | KafkaEx | here |
//! | --- | --- |
//! | `%OffsetCommit.Request{}` | [`offset_commit::Request`] |
//! | `%OffsetFetch.Request{}` | [`offset_fetch::Request`] |
//! | `%Produce.Request{}`, `%Produce.Message{}` | [`produce::Request`], [`produce::Message`] |
//! | `%Fetch.Request{}`, `%Fetch.Response{}`, `%Fetch.Message{}` | [`fetch::Request`], [`fetch::Response`], [`fetch::Message`] |
//! | `%Offset.Request{}`, `%Offset.Response{}` | [`offset::Request`], [`offset::Response`] |
//! | `%Metadata.Response{}` and its brokers, topics, partitions | [`metadata`] |
//! | `%ConsumerMetadata.Response{}` | [`consumer_metadata::Response`] |
//! | `%JoinGroup.Request{}` ... `%LeaveGroup.Response{}` | [`join_group`], [`sync_group`], [`heartbeat`], [`leave_group`] |
//! | `%CreateTopics.TopicRequest{}`, `%DeleteTopics.Request{}` | [`create_topics`], [`delete_topics`] |
//! | `%ApiVersions.Response{}` | [`api_versions::Response`] |
//!
//! Elixir's `nil` is `None` where a field may be nil and has no other default; a field whose
//! KafkaEx default is nil but which every request needs (a topic name) is a plain value,
//! empty by default, and an empty one is a typed error when the request is made.

use crate::error_names::ErrorAtom;

/// `KafkaEx.Protocol.OffsetCommit`.
pub mod offset_commit {
    use super::ErrorAtom;

    /// `%OffsetCommit.Request{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Request {
        /// The group; `None` is the worker's group.
        pub consumer_group: Option<String>,
        /// The topic.
        pub topic: String,
        /// The partition.
        pub partition: i32,
        /// The offset to commit (for `fetch`/`stream`'s convention, the last one consumed).
        pub offset: i64,
        /// Metadata stored with it. `""`.
        pub metadata: String,
        /// The OffsetCommit version: 0 stores in ZooKeeper, 1+ in Kafka. 0.
        pub api_version: i16,
        /// The group generation (v1+). -1.
        pub generation_id: i32,
        /// The member id (v1+). `"kafkaex"`.
        pub member_id: String,
        /// The commit timestamp (v1 only; 0 or less: now). 0.
        pub timestamp: i64,
    }

    impl Default for Request {
        fn default() -> Self {
            Self {
                consumer_group: None,
                topic: String::new(),
                partition: 0,
                offset: 0,
                metadata: String::new(),
                api_version: 0,
                generation_id: -1,
                member_id: "kafkaex".into(),
                timestamp: 0,
            }
        }
    }

    /// A partition of a [`Response`].
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Partition {
        /// The partition.
        pub partition: i32,
        /// Its error (Kayrock names).
        pub error_code: ErrorAtom,
    }

    /// `%OffsetCommit.Response{}` (the Kayrock client's shape: partitions with error codes;
    /// KafkaEx's legacy servers listed only partition numbers).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Response {
        /// The topic.
        pub topic: String,
        /// Its partitions.
        pub partitions: Vec<Partition>,
    }
}

/// `KafkaEx.Protocol.OffsetFetch`.
pub mod offset_fetch {
    use super::ErrorAtom;

    /// `%OffsetFetch.Request{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Request {
        /// The group; `None` is the worker's group.
        pub consumer_group: Option<String>,
        /// The topic.
        pub topic: String,
        /// The partition.
        pub partition: i32,
        /// The OffsetFetch version: 0 reads ZooKeeper storage, 1+ Kafka storage. 0.
        pub api_version: i16,
    }

    /// A partition of a [`Response`].
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Partition {
        /// The partition.
        pub partition: i32,
        /// The committed offset, -1 for none.
        pub offset: i64,
        /// The metadata committed with it.
        pub metadata: String,
        /// Its error (Kayrock names).
        pub error_code: ErrorAtom,
    }

    /// `%OffsetFetch.Response{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Response {
        /// The topic.
        pub topic: String,
        /// Its partitions.
        pub partitions: Vec<Partition>,
    }

    impl Response {
        /// `OffsetFetch.Response.last_offset/1`: the first partition's offset, 0 without one.
        pub fn last_offset(&self) -> i64 {
            self.partitions.first().map_or(0, |p| p.offset)
        }
    }
}

/// `KafkaEx.Protocol.Produce`.
pub mod produce {
    use bytes::Bytes;

    use super::ErrorAtom;

    /// A message's codec (`:none`, `:gzip`, `:snappy`; KafkaEx's Kayrock client also knows
    /// lz4 and zstd from Kayrock 1.0, and so do we).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub enum Compression {
        /// `:none`.
        #[default]
        None,
        /// `:gzip`.
        Gzip,
        /// `:snappy`.
        Snappy,
        /// `:lz4`.
        Lz4,
        /// `:zstd` (record batches only: api_version 3+).
        Zstd,
    }

    /// `%Produce.Message{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Message {
        /// The key; `None` is nil.
        pub key: Option<Bytes>,
        /// The value; `None` is nil.
        pub value: Option<Bytes>,
        /// Headers (api_version 3+), `None` is nil.
        pub headers: Option<Vec<(String, Bytes)>>,
        /// The timestamp in ms (api_version 1+; KafkaEx: 3+), `None` is nil.
        pub timestamp: Option<i64>,
    }

    impl Message {
        /// A message with `value` only.
        pub fn value(value: impl Into<Bytes>) -> Self {
            Self {
                value: Some(value.into()),
                ..Self::default()
            }
        }
    }

    /// `%Produce.Request{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Request {
        /// The topic.
        pub topic: String,
        /// The partition; `None` lets the partitioner choose.
        pub partition: Option<i32>,
        /// Acknowledgements: 0 (none, the call returns [`Produced::Ok`](crate::Produced::Ok)),
        /// 1, -1. 0.
        pub required_acks: i16,
        /// How long the broker waits for acknowledgements, in ms. 0.
        pub timeout: i32,
        /// The codec. `:none`.
        pub compression: Compression,
        /// The messages.
        pub messages: Vec<Message>,
        /// The Produce version: 0 writes message format 0, 1-2 format 1 (timestamps), 3+
        /// record batches (timestamps, headers). 0.
        pub api_version: i16,
    }

    /// A partition of a [`Response`].
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Partition {
        /// The partition.
        pub partition: i32,
        /// Its error.
        pub error_code: ErrorAtom,
        /// The base offset.
        pub offset: i64,
    }

    /// `%Produce.Response{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Response {
        /// The topic.
        pub topic: String,
        /// Its partitions.
        pub partitions: Vec<Partition>,
    }
}

/// `KafkaEx.Protocol.Fetch`.
pub mod fetch {
    use bytes::Bytes;

    use super::ErrorAtom;

    /// `%Fetch.Request{}`. `None` fields take [`FetchOptions`](crate::FetchOptions)'
    /// defaults.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Request {
        /// Ignored (the connection layer numbers requests).
        pub correlation_id: Option<i32>,
        /// Ignored (the worker's client id is sent).
        pub client_id: Option<String>,
        /// The topic.
        pub topic: String,
        /// The partition.
        pub partition: i32,
        /// The offset; `None`: the committed offset + 1 (or the earliest).
        pub offset: Option<i64>,
        /// The broker's wait in ms.
        pub wait_time: Option<i32>,
        /// Bytes the broker waits for.
        pub min_bytes: Option<i32>,
        /// Bytes returned at most.
        pub max_bytes: Option<i32>,
        /// Commit the last offset returned.
        pub auto_commit: Option<bool>,
        /// The Fetch version: 0-1 message format 0, 2-3 format 1, 4+ record batches. 0.
        pub api_version: i16,
        /// The OffsetCommit version of the auto-commit. 0.
        pub offset_commit_api_version: i16,
    }

    /// `%Fetch.Message{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Message {
        /// Attributes: 0 (the client's records do not keep their batch's codec bits).
        pub attributes: i8,
        /// Not kept (KafkaEx: the CRC of message-set messages, nil for record batches).
        pub crc: Option<u32>,
        /// The offset.
        pub offset: i64,
        /// The key.
        pub key: Option<Bytes>,
        /// The value.
        pub value: Option<Bytes>,
        /// Headers (record batches), `None` for message sets.
        pub headers: Option<Vec<(String, Option<Bytes>)>>,
        /// The topic.
        pub topic: String,
        /// The partition.
        pub partition: i32,
        /// The timestamp (message format 1 and record batches; -1 when the producer gave
        /// none), `None` for message format 0.
        pub timestamp: Option<i64>,
    }

    /// A partition of a [`Response`].
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Partition {
        /// The partition.
        pub partition: i32,
        /// Its error (KafkaEx's legacy names, as KafkaEx reports fetch errors).
        pub error_code: ErrorAtom,
        /// The high watermark.
        pub hw_mark_offset: i64,
        /// The messages.
        pub message_set: Vec<Message>,
        /// The offset of the last message, or the high watermark when there is none (as
        /// KafkaEx's Kayrock client reports it).
        pub last_offset: Option<i64>,
    }

    /// `%Fetch.Response{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Response {
        /// The topic.
        pub topic: String,
        /// Its partitions.
        pub partitions: Vec<Partition>,
    }

    /// `Fetch.Response.partition_messages/3`: the messages of `partition` of `topic`.
    pub fn partition_messages<'a>(
        responses: &'a [Response],
        topic: &str,
        partition: i32,
    ) -> &'a [Message] {
        responses
            .iter()
            .filter(|r| r.topic == topic)
            .flat_map(|r| &r.partitions)
            .find(|p| p.partition == partition)
            .map_or(&[], |p| p.message_set.as_slice())
    }
}

/// `KafkaEx.Protocol.Offset` (ListOffsets).
pub mod offset {
    use super::ErrorAtom;

    /// `%Offset.Request{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Request {
        /// -1.
        pub replica_id: i32,
        /// The topic.
        pub topic_name: String,
        /// The partition.
        pub partition: i32,
        /// -1 latest, -2 earliest, else a time in ms. -1.
        pub time: i64,
        /// ListOffsets v0 only. 1.
        pub max_number_of_offsets: i32,
    }

    impl Default for Request {
        fn default() -> Self {
            Self {
                replica_id: -1,
                topic_name: String::new(),
                partition: 0,
                time: -1,
                max_number_of_offsets: 1,
            }
        }
    }

    /// A partition of a [`Response`].
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct PartitionOffset {
        /// The partition.
        pub partition: i32,
        /// Its error (Kayrock names).
        pub error_code: ErrorAtom,
        /// The offsets (`[n]`).
        pub offset: Vec<i64>,
    }

    /// `%Offset.Response{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Response {
        /// The topic.
        pub topic: String,
        /// Its partitions.
        pub partition_offsets: Vec<PartitionOffset>,
    }

    /// `Offset.Response.extract_offset/1`: the first offset of the first partition.
    pub fn extract_offset(responses: &[Response]) -> Option<i64> {
        responses
            .first()
            .and_then(|r| r.partition_offsets.first())
            .and_then(|p| p.offset.first().copied())
    }
}

/// `KafkaEx.Protocol.Metadata`.
pub mod metadata {
    use super::ErrorAtom;

    /// `%Metadata.Broker{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Broker {
        /// -1.
        pub node_id: i32,
        /// `""`.
        pub host: String,
        /// 0.
        pub port: i32,
        /// Whether it is the controller (Metadata v1+), `None` below.
        pub is_controller: Option<bool>,
    }

    impl Default for Broker {
        fn default() -> Self {
            Self {
                node_id: -1,
                host: String::new(),
                port: 0,
                is_controller: None,
            }
        }
    }

    /// `%Metadata.PartitionMetadata{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct PartitionMetadata {
        /// `no_error`.
        pub error_code: ErrorAtom,
        /// The partition.
        pub partition_id: i32,
        /// The leader, -1 for none.
        pub leader: i32,
        /// The replicas.
        pub replicas: Vec<i32>,
        /// The in-sync replicas.
        pub isrs: Vec<i32>,
    }

    impl Default for PartitionMetadata {
        fn default() -> Self {
            Self {
                error_code: ErrorAtom::NO_ERROR,
                partition_id: 0,
                leader: -1,
                replicas: Vec::new(),
                isrs: Vec::new(),
            }
        }
    }

    /// `%Metadata.TopicMetadata{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TopicMetadata {
        /// `no_error`.
        pub error_code: ErrorAtom,
        /// The topic.
        pub topic: String,
        /// Internal (Metadata v1+), `None` below.
        pub is_internal: Option<bool>,
        /// Its partitions.
        pub partition_metadatas: Vec<PartitionMetadata>,
    }

    impl Default for TopicMetadata {
        fn default() -> Self {
            Self {
                error_code: ErrorAtom::NO_ERROR,
                topic: String::new(),
                is_internal: None,
                partition_metadatas: Vec::new(),
            }
        }
    }

    /// `%Metadata.Response{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Response {
        /// The brokers.
        pub brokers: Vec<Broker>,
        /// The topics.
        pub topic_metadatas: Vec<TopicMetadata>,
        /// The controller (Metadata v1+), `None` below.
        pub controller_id: Option<i32>,
    }

    impl Response {
        /// `Metadata.Response.partitions_for_topic/2`: the partition ids of `topic`, sorted.
        pub fn partitions_for_topic(&self, topic: &str) -> Vec<i32> {
            let mut ids: Vec<i32> = self
                .topic_metadatas
                .iter()
                .filter(|t| t.topic == topic)
                .flat_map(|t| t.partition_metadatas.iter().map(|p| p.partition_id))
                .collect();
            ids.sort_unstable();
            ids
        }

        /// `Metadata.Response.broker_for_topic/4`: the leader of `partition` of `topic`.
        pub fn broker_for_topic(&self, topic: &str, partition: i32) -> Option<&Broker> {
            let leader = self
                .topic_metadatas
                .iter()
                .find(|t| t.topic == topic)?
                .partition_metadatas
                .iter()
                .find(|p| p.partition_id == partition)?
                .leader;
            self.brokers.iter().find(|b| b.node_id == leader)
        }
    }
}

/// `KafkaEx.Protocol.ConsumerMetadata` (FindCoordinator).
pub mod consumer_metadata {
    use super::ErrorAtom;

    /// `%ConsumerMetadata.Response{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Response {
        /// 0.
        pub coordinator_id: i32,
        /// `""`.
        pub coordinator_host: String,
        /// 0.
        pub coordinator_port: i32,
        /// `no_error`.
        pub error_code: ErrorAtom,
    }

    impl Default for Response {
        fn default() -> Self {
            Self {
                coordinator_id: 0,
                coordinator_host: String::new(),
                coordinator_port: 0,
                error_code: ErrorAtom::NO_ERROR,
            }
        }
    }
}

/// `KafkaEx.Protocol.JoinGroup`.
pub mod join_group {
    use super::ErrorAtom;

    /// `%JoinGroup.Request{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Request {
        /// The member id, `""` to join as a new member.
        pub member_id: String,
        /// The group.
        pub group_name: String,
        /// The topics subscribed.
        pub topics: Vec<String>,
        /// The session timeout in ms (also the rebalance timeout, which KafkaEx does not send).
        pub session_timeout: i32,
    }

    /// `%JoinGroup.Response{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Response {
        /// The error.
        pub error_code: ErrorAtom,
        /// The generation. 0.
        pub generation_id: i32,
        /// The leader's member id.
        pub leader_id: String,
        /// This member's id.
        pub member_id: String,
        /// The members' ids (the leader's response only).
        pub members: Vec<String>,
    }

    impl Default for Response {
        fn default() -> Self {
            Self {
                error_code: ErrorAtom::NO_ERROR,
                generation_id: 0,
                leader_id: String::new(),
                member_id: String::new(),
                members: Vec::new(),
            }
        }
    }

    impl Response {
        /// `JoinGroup.Response.leader?/1`.
        pub fn is_leader(&self) -> bool {
            !self.member_id.is_empty() && self.member_id == self.leader_id
        }
    }
}

/// `KafkaEx.Protocol.SyncGroup`.
pub mod sync_group {
    use super::ErrorAtom;

    /// A member's assignment: `{topic, [partition]}` pairs.
    pub type TopicPartitions = Vec<(String, Vec<i32>)>;

    /// `%SyncGroup.Request{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Request {
        /// The member id.
        pub member_id: String,
        /// The group.
        pub group_name: String,
        /// The generation.
        pub generation_id: i32,
        /// The leader's assignments: `{member_id, [{topic, [partition]}]}`; empty from
        /// followers.
        pub assignments: Vec<(String, TopicPartitions)>,
    }

    /// `%SyncGroup.Response{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Response {
        /// The error.
        pub error_code: ErrorAtom,
        /// This member's assignment, topics in the order they were sent.
        pub assignments: TopicPartitions,
    }

    impl Default for Response {
        fn default() -> Self {
            Self {
                error_code: ErrorAtom::NO_ERROR,
                assignments: Vec::new(),
            }
        }
    }
}

/// `KafkaEx.Protocol.Heartbeat`.
pub mod heartbeat {
    use super::ErrorAtom;

    /// `%Heartbeat.Request{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Request {
        /// The group.
        pub group_name: String,
        /// The member id.
        pub member_id: String,
        /// The generation.
        pub generation_id: i32,
    }

    /// `%Heartbeat.Response{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Response {
        /// The error.
        pub error_code: ErrorAtom,
    }
}

/// `KafkaEx.Protocol.LeaveGroup`.
pub mod leave_group {
    use super::ErrorAtom;

    /// `%LeaveGroup.Request{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Request {
        /// The group.
        pub group_name: String,
        /// The member id.
        pub member_id: String,
    }

    /// `%LeaveGroup.Response{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Response {
        /// The error.
        pub error_code: ErrorAtom,
    }
}

/// `KafkaEx.Protocol.CreateTopics`.
pub mod create_topics {
    use super::ErrorAtom;

    /// `%CreateTopics.ReplicaAssignment{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct ReplicaAssignment {
        /// The partition.
        pub partition: i32,
        /// Its replicas.
        pub replicas: Vec<i32>,
    }

    /// `%CreateTopics.ConfigEntry{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct ConfigEntry {
        /// The config key.
        pub config_name: String,
        /// Its value; `None` is nil.
        pub config_value: Option<String>,
    }

    /// `%CreateTopics.TopicRequest{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TopicRequest {
        /// The topic.
        pub topic: String,
        /// Partitions, -1 for the broker's default. -1.
        pub num_partitions: i32,
        /// Replication factor, -1 for the broker's default. -1.
        pub replication_factor: i16,
        /// Explicit replica placement.
        pub replica_assignment: Vec<ReplicaAssignment>,
        /// Topic configs.
        pub config_entries: Vec<ConfigEntry>,
    }

    impl Default for TopicRequest {
        fn default() -> Self {
            Self {
                topic: String::new(),
                num_partitions: -1,
                replication_factor: -1,
                replica_assignment: Vec::new(),
                config_entries: Vec::new(),
            }
        }
    }

    /// `%CreateTopics.TopicError{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TopicError {
        /// The topic.
        pub topic_name: String,
        /// Its error (Kayrock names).
        pub error_code: ErrorAtom,
    }

    /// `%CreateTopics.Response{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Response {
        /// One per topic asked.
        pub topic_errors: Vec<TopicError>,
    }
}

/// `KafkaEx.Protocol.DeleteTopics`.
pub mod delete_topics {
    pub use super::create_topics::TopicError;

    /// `%DeleteTopics.Request{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Request {
        /// The topics.
        pub topics: Vec<String>,
        /// The broker's timeout in ms.
        pub timeout: i32,
    }

    /// `%DeleteTopics.Response{}`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Response {
        /// One per topic asked.
        pub topic_errors: Vec<TopicError>,
    }
}

/// `KafkaEx.Protocol.ApiVersions`.
pub mod api_versions {
    use super::ErrorAtom;

    /// `%ApiVersions.ApiVersion{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct ApiVersion {
        /// The API key.
        pub api_key: i16,
        /// The broker's lowest version.
        pub min_version: i16,
        /// The broker's highest version.
        pub max_version: i16,
    }

    /// `%ApiVersions.Response{}`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Response {
        /// `no_error`.
        pub error_code: ErrorAtom,
        /// By API key.
        pub api_versions: Vec<ApiVersion>,
        /// 0.
        pub throttle_time_ms: i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults of LEGACY_API.md section 1.3, field by field.
    #[test]
    fn defaults_are_kafkaex_defaults() {
        let c = offset_commit::Request::default();
        assert_eq!(
            (
                c.metadata.as_str(),
                c.api_version,
                c.generation_id,
                c.member_id.as_str(),
                c.timestamp
            ),
            ("", 0, -1, "kafkaex", 0)
        );
        assert_eq!(c.consumer_group, None);
        let f = offset_fetch::Request::default();
        assert_eq!((f.consumer_group, f.api_version), (None, 0));
        let p = produce::Request::default();
        assert_eq!(
            (
                p.partition,
                p.required_acks,
                p.timeout,
                p.compression,
                p.api_version
            ),
            (None, 0, 0, produce::Compression::None, 0)
        );
        let m = produce::Message::default();
        assert_eq!(
            (m.key, m.value, m.headers, m.timestamp),
            (None, None, None, None)
        );
        let r = fetch::Request::default();
        assert_eq!(
            (
                r.offset,
                r.auto_commit,
                r.api_version,
                r.offset_commit_api_version
            ),
            (None, None, 0, 0)
        );
        let fm = fetch::Message::default();
        assert_eq!((fm.attributes, fm.crc, fm.timestamp), (0, None, None));
        let o = offset::Request::default();
        assert_eq!((o.replica_id, o.time, o.max_number_of_offsets), (-1, -1, 1));
        let b = metadata::Broker::default();
        assert_eq!((b.node_id, b.host.as_str(), b.port), (-1, "", 0));
        let pm = metadata::PartitionMetadata::default();
        assert_eq!((pm.error_code, pm.leader), (ErrorAtom::NO_ERROR, -1));
        let cm = consumer_metadata::Response::default();
        assert_eq!((cm.coordinator_id, cm.coordinator_port), (0, 0));
        let j = join_group::Response::default();
        assert_eq!(j.generation_id, 0);
        assert!(!j.is_leader());
        let t = create_topics::TopicRequest::default();
        assert_eq!((t.num_partitions, t.replication_factor), (-1, -1));
    }

    #[test]
    fn helpers() {
        let r = offset_fetch::Response::default();
        assert_eq!(r.last_offset(), 0);
        assert_eq!(offset::extract_offset(&[]), None);
        let m = metadata::Response {
            brokers: vec![metadata::Broker {
                node_id: 2,
                host: "h".into(),
                port: 9,
                is_controller: None,
            }],
            topic_metadatas: vec![metadata::TopicMetadata {
                topic: "t".into(),
                partition_metadatas: vec![
                    metadata::PartitionMetadata {
                        partition_id: 1,
                        leader: 2,
                        ..Default::default()
                    },
                    metadata::PartitionMetadata::default(),
                ],
                ..Default::default()
            }],
            controller_id: None,
        };
        assert_eq!(m.partitions_for_topic("t"), vec![0, 1]);
        assert_eq!(m.broker_for_topic("t", 1).map(|b| b.port), Some(9));
        assert!(m.broker_for_topic("t", 0).is_none());
        assert!(fetch::partition_messages(&[], "t", 0).is_empty());
    }
}
