//! [`Action::Error`](super::Action::Error): a response shaped like the request with one error
//! code in every place the API reports errors (each partition of a Produce, Fetch, ListOffsets
//! or OffsetCommit, each group of a batched OffsetFetch, each coordinator key of a batched
//! FindCoordinator, each topic of a CreateTopics, the top level of the group and producer APIs).
//! Topics are answered as the request named them: by name, or by id at the versions that use
//! ids (the decoded request holds only the fields of its version, so echoing both is exact).

use kafkaex_protocol::messages::create_topics_response::CreatableTopicResult;
use kafkaex_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkaex_protocol::messages::find_coordinator_response::Coordinator;
use kafkaex_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafkaex_protocol::messages::metadata_response::MetadataResponseTopic;
use kafkaex_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafkaex_protocol::messages::offset_fetch_response::OffsetFetchResponseGroup;
use kafkaex_protocol::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkaex_protocol::messages::*;
use kafkaex_protocol::ErrorCode;

/// The error response for `request` at `version`; `None` for an API this does not know.
pub(crate) fn error_response(
    request: &RequestKind,
    version: i16,
    code: ErrorCode,
) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::Produce(r) => ProduceResponse::default()
            .with_responses(
                r.topic_data
                    .iter()
                    .map(|t| {
                        TopicProduceResponse::default()
                            .with_name(t.name.clone())
                            .with_topic_id(t.topic_id)
                            .with_partition_responses(
                                t.partition_data
                                    .iter()
                                    .map(|p| {
                                        PartitionProduceResponse::default()
                                            .with_index(p.index)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .into(),
        RequestKind::Fetch(r) => FetchResponse::default()
            .with_responses(
                r.topics
                    .iter()
                    .map(|t| {
                        FetchableTopicResponse::default()
                            .with_topic(t.topic.clone())
                            .with_topic_id(t.topic_id)
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        PartitionData::default()
                                            .with_partition_index(p.partition)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .into(),
        RequestKind::ListOffsets(r) => ListOffsetsResponse::default()
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        ListOffsetsTopicResponse::default()
                            .with_name(t.name.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        ListOffsetsPartitionResponse::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .into(),
        RequestKind::OffsetCommit(r) => OffsetCommitResponse::default()
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        OffsetCommitResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_topic_id(t.topic_id)
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        OffsetCommitResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .into(),
        RequestKind::OffsetFetch(r) if version >= 8 => OffsetFetchResponse::default()
            .with_groups(
                r.groups
                    .iter()
                    .map(|g| {
                        OffsetFetchResponseGroup::default()
                            .with_group_id(g.group_id.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            )
            .into(),
        RequestKind::OffsetFetch(_) => OffsetFetchResponse::default().with_error_code(code).into(),
        RequestKind::FindCoordinator(r) if version >= 4 => FindCoordinatorResponse::default()
            .with_coordinators(
                r.coordinator_keys
                    .iter()
                    .map(|key| {
                        Coordinator::default()
                            .with_key(key.clone())
                            .with_error_code(code)
                            .with_node_id(-1)
                            .with_port(-1)
                    })
                    .collect(),
            )
            .into(),
        RequestKind::FindCoordinator(_) => FindCoordinatorResponse::default()
            .with_error_code(code)
            .with_node_id(-1)
            .with_port(-1)
            .into(),
        RequestKind::Metadata(r) => MetadataResponse::default()
            .with_topics(
                r.topics
                    .iter()
                    .flatten()
                    .map(|t| {
                        MetadataResponseTopic::default()
                            .with_name(t.name.clone())
                            .with_topic_id(t.topic_id)
                            .with_error_code(code)
                    })
                    .collect(),
            )
            .into(),
        RequestKind::CreateTopics(r) => CreateTopicsResponse::default()
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        CreatableTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            )
            .into(),
        RequestKind::Heartbeat(_) => HeartbeatResponse::default().with_error_code(code).into(),
        RequestKind::JoinGroup(_) => JoinGroupResponse::default().with_error_code(code).into(),
        RequestKind::SyncGroup(_) => SyncGroupResponse::default().with_error_code(code).into(),
        RequestKind::LeaveGroup(_) => LeaveGroupResponse::default().with_error_code(code).into(),
        RequestKind::InitProducerId(_) => InitProducerIdResponse::default()
            .with_error_code(code)
            .with_producer_id(-1)
            .with_producer_epoch(-1)
            .into(),
        RequestKind::ApiVersions(_) => ApiVersionsResponse::default().with_error_code(code).into(),
        RequestKind::SaslHandshake(_) => SaslHandshakeResponse::default()
            .with_error_code(code)
            .into(),
        RequestKind::SaslAuthenticate(_) => SaslAuthenticateResponse::default()
            .with_error_code(code)
            .into(),
        _ => return None,
    })
}
