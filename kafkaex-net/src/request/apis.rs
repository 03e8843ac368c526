//! [`RoutedRequest`] for the requests of the APIs the client layers use: where each goes (read
//! from its own fields), where its response's error codes are, and whether it may be repeated.
//!
//! | API | route | errors |
//! | --- | --- | --- |
//! | Produce, Fetch, ListOffsets, DeleteRecords, OffsetForLeaderEpoch | leader of its partitions | per partition (Fetch also top level) |
//! | Metadata, ApiVersions, DescribeCluster, FindCoordinator, ListGroups, ListTransactions | any broker | per topic and partition / top level / per key |
//! | OffsetCommit, OffsetFetch, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, DeleteGroups, OffsetDelete, ConsumerGroupHeartbeat | coordinator of its group | top level, per group, per partition, per member |
//! | InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, DescribeTransactions | coordinator of its transactional id (InitProducerId without one: any broker) | top level, per partition, per transaction |
//! | TxnOffsetCommit | coordinator of its group | per partition |
//! | CreateTopics, DeleteTopics, CreatePartitions | controller | per topic |
//! | DescribeConfigs, IncrementalAlterConfigs | the broker a broker resource names, else any broker | per resource |
//!
//! Requests that batch groups (DescribeGroups, DeleteGroups, OffsetFetch v8+) or transactional
//! ids (DescribeTransactions) go to the coordinator of the first one: batch only keys that share
//! a coordinator. ListGroups and ListTransactions answer for the broker they reach: ask each
//! broker ([`Route::Node`]) to list the whole cluster.
//!
//! Topics are named by name or by id depending on the version: Produce v13+, Fetch v13+,
//! OffsetCommit and OffsetFetch v10+ and TxnOffsetCommit v6+ carry only the id, older versions
//! only the name (each field is ignorable where it is absent, so a request may set both and
//! work at every version). Routes and error scopes read the id where the name is empty, and a
//! request with a topic whose id is unset goes out at most at the last version by name
//! ([`RoutedRequest::max_version`]).

use std::time::Duration;

use kafkaex_protocol::messages::*;
use kafkaex_protocol::{ErrorCode, Uuid};

use super::{ResponseError, RoutedRequest};
use crate::cluster::{Route, TopicRef};
use crate::error::ErrorScope;

/// How much longer than the time a broker holds a request on purpose the client waits.
const BROKER_WAIT_MARGIN: Duration = Duration::from_secs(5);

/// The route to the leader of `partitions`: [`Route::Leader`] for one named partition, else
/// [`Route::Leaders`].
fn leaders(partitions: Vec<(TopicRef, i32)>) -> Route {
    match <[_; 1]>::try_from(partitions) {
        Ok([(TopicRef::Name(topic), partition)]) => Route::Leader { topic, partition },
        Ok([one]) => Route::Leaders(vec![one]),
        Err(many) => Route::Leaders(many),
    }
}

/// A topic named by name when it has one, else by id.
fn topic_ref(name: &str, id: Uuid) -> TopicRef {
    if name.is_empty() && id != Uuid::ZERO {
        TopicRef::Id(id)
    } else {
        TopicRef::Name(name.to_owned())
    }
}

/// The scope of a partition of a topic named by name or id.
fn partition_scope(name: &str, id: Uuid, partition: i32) -> ErrorScope {
    match topic_ref(name, id) {
        TopicRef::Name(topic) => ErrorScope::Partition { topic, partition },
        TopicRef::Id(topic_id) => ErrorScope::PartitionOfTopicId {
            topic_id,
            partition,
        },
    }
}

/// `last_by_name` when any topic in `ids` lacks its id: the newest version that still names
/// topics by name (see [`RoutedRequest::max_version`]).
fn without_ids_at_most(mut ids: impl Iterator<Item = Uuid>, last_by_name: i16) -> Option<i16> {
    ids.any(|id| id == Uuid::ZERO).then_some(last_by_name)
}

/// Collects `(scope, code, message)` of items, marking each as the whole request when there is
/// only one item.
fn items<'a>(
    all: impl Iterator<Item = (ErrorScope, ErrorCode, Option<&'a String>)>,
) -> Vec<ResponseError> {
    let all: Vec<_> = all.collect();
    let n = all.len();
    all.into_iter()
        .filter(|(_, code, _)| !code.is_ok())
        .map(|(scope, code, message)| ResponseError::item(scope, code, text(message), n))
        .collect()
}

/// The top-level error, if any.
fn top(code: ErrorCode, message: Option<&String>) -> Vec<ResponseError> {
    if code.is_ok() {
        Vec::new()
    } else {
        vec![ResponseError::top(code, text(message))]
    }
}

/// A broker's message, `None` for none or an empty one (several specs default it to "").
fn text(message: Option<&String>) -> Option<String> {
    message.filter(|m| !m.is_empty()).cloned()
}

/// The producer id of the first record batch in `records` (magic 2: bytes 43-51), -1 when
/// there is none.
fn batch_producer_id(records: &[u8]) -> i64 {
    records
        .get(43..51)
        .filter(|_| records.get(16) == Some(&2))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(-1, i64::from_be_bytes)
}

impl RoutedRequest for ProduceRequest {
    fn route(&self) -> Route {
        let mut partitions = Vec::new();
        // v13+ names topics by id only; earlier versions by name.
        for t in &self.topic_data {
            for p in &t.partition_data {
                partitions.push((topic_ref(&t.name, t.topic_id), p.index));
            }
        }
        leaders(partitions)
    }

    fn errors(&self, response: &ProduceResponse) -> Vec<ResponseError> {
        items(response.responses.iter().flat_map(|t| {
            t.partition_responses.iter().map(move |p| {
                (
                    partition_scope(&t.name, t.topic_id, p.index),
                    p.error_code,
                    p.error_message.as_ref(),
                )
            })
        }))
    }

    /// Only when every batch comes from an idempotent (or transactional) producer: the broker
    /// then recognises a repeat by its sequence numbers and does not append it twice.
    fn is_idempotent(&self) -> bool {
        let mut any = false;
        for p in self.topic_data.iter().flat_map(|t| &t.partition_data) {
            any = true;
            let records = p.records.as_deref().unwrap_or_default();
            if batch_producer_id(records) < 0 {
                return false;
            }
        }
        any
    }

    fn expects_response(&self) -> bool {
        self.acks != 0
    }

    /// v12 when a topic has no id: v13+ names topics by id only.
    fn max_version(&self) -> Option<i16> {
        without_ids_at_most(self.topic_data.iter().map(|t| t.topic_id), 12)
    }

    fn broker_wait(&self) -> Option<Duration> {
        let ms = u64::try_from(self.timeout_ms).ok()?;
        Some(Duration::from_millis(ms) + BROKER_WAIT_MARGIN)
    }
}

impl RoutedRequest for FetchRequest {
    fn route(&self) -> Route {
        let mut partitions = Vec::new();
        for t in &self.topics {
            for p in &t.partitions {
                partitions.push((topic_ref(&t.topic, t.topic_id), p.partition));
            }
        }
        leaders(partitions)
    }

    fn errors(&self, response: &FetchResponse) -> Vec<ResponseError> {
        let mut errors = top(response.error_code, None);
        errors.extend(items(response.responses.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    partition_scope(&t.topic, t.topic_id, p.partition_index),
                    p.error_code,
                    None,
                )
            })
        })));
        errors
    }

    fn broker_wait(&self) -> Option<Duration> {
        let ms = u64::try_from(self.max_wait_ms).ok()?;
        Some(Duration::from_millis(ms) + BROKER_WAIT_MARGIN)
    }

    /// v12 when a topic has no id: v13+ names topics by id only.
    fn max_version(&self) -> Option<i16> {
        without_ids_at_most(self.topics.iter().map(|t| t.topic_id), 12)
    }
}

impl RoutedRequest for ListOffsetsRequest {
    fn route(&self) -> Route {
        let mut partitions = Vec::new();
        for t in &self.topics {
            for p in &t.partitions {
                partitions.push((TopicRef::Name(t.name.clone()), p.partition_index));
            }
        }
        leaders(partitions)
    }

    fn errors(&self, response: &ListOffsetsResponse) -> Vec<ResponseError> {
        items(response.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    ErrorScope::Partition {
                        topic: t.name.clone(),
                        partition: p.partition_index,
                    },
                    p.error_code,
                    None,
                )
            })
        }))
    }
}

impl RoutedRequest for DeleteRecordsRequest {
    fn route(&self) -> Route {
        let mut partitions = Vec::new();
        for t in &self.topics {
            for p in &t.partitions {
                partitions.push((TopicRef::Name(t.name.clone()), p.partition_index));
            }
        }
        leaders(partitions)
    }

    fn errors(&self, response: &DeleteRecordsResponse) -> Vec<ResponseError> {
        items(response.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    ErrorScope::Partition {
                        topic: t.name.clone(),
                        partition: p.partition_index,
                    },
                    p.error_code,
                    None,
                )
            })
        }))
    }
}

impl RoutedRequest for OffsetForLeaderEpochRequest {
    fn route(&self) -> Route {
        let mut partitions = Vec::new();
        for t in &self.topics {
            for p in &t.partitions {
                partitions.push((TopicRef::Name(t.topic.clone()), p.partition));
            }
        }
        leaders(partitions)
    }

    fn errors(&self, response: &OffsetForLeaderEpochResponse) -> Vec<ResponseError> {
        items(response.topics.iter().flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    ErrorScope::Partition {
                        topic: t.topic.clone(),
                        partition: p.partition,
                    },
                    p.error_code,
                    None,
                )
            })
        }))
    }
}

impl RoutedRequest for MetadataRequest {
    fn route(&self) -> Route {
        Route::Any
    }

    /// The top-level code (v13+: `REBOOTSTRAP_REQUIRED`, KIP-1102), which settles the request;
    /// then per topic and partition, never the whole request: a topic's error is an answer
    /// about that topic (it does not exist, it has no leader yet), not a failure of the call.
    fn errors(&self, response: &MetadataResponse) -> Vec<ResponseError> {
        let mut errors = top(response.error_code, None);
        for t in &response.topics {
            let name = t.name.clone().unwrap_or_default();
            if !t.error_code.is_ok() {
                errors.push(ResponseError {
                    scope: match topic_ref(&name, t.topic_id) {
                        TopicRef::Name(n) => ErrorScope::Topic(n),
                        TopicRef::Id(id) => ErrorScope::TopicId(id),
                    },
                    code: t.error_code,
                    message: None,
                    whole_request: false,
                });
            }
            for p in t.partitions.iter().filter(|p| !p.error_code.is_ok()) {
                errors.push(ResponseError {
                    scope: partition_scope(&name, t.topic_id, p.partition_index),
                    code: p.error_code,
                    message: None,
                    whole_request: false,
                });
            }
        }
        errors
    }
}

impl RoutedRequest for ApiVersionsRequest {
    fn route(&self) -> Route {
        Route::Any
    }

    fn errors(&self, response: &ApiVersionsResponse) -> Vec<ResponseError> {
        top(response.error_code, None)
    }
}

impl RoutedRequest for DescribeClusterRequest {
    fn route(&self) -> Route {
        Route::Any
    }

    fn errors(&self, response: &DescribeClusterResponse) -> Vec<ResponseError> {
        top(response.error_code, response.error_message.as_ref())
    }
}

impl RoutedRequest for FindCoordinatorRequest {
    fn route(&self) -> Route {
        Route::Any
    }

    fn errors(&self, response: &FindCoordinatorResponse) -> Vec<ResponseError> {
        let mut errors = top(response.error_code, response.error_message.as_ref());
        errors.extend(items(response.coordinators.iter().map(|c| {
            (
                ErrorScope::CoordinatorKey(c.key.clone()),
                c.error_code,
                c.error_message.as_ref(),
            )
        })));
        errors
    }
}

impl RoutedRequest for ListGroupsRequest {
    fn route(&self) -> Route {
        Route::Any
    }

    fn errors(&self, response: &ListGroupsResponse) -> Vec<ResponseError> {
        top(response.error_code, None)
    }
}

impl RoutedRequest for ListTransactionsRequest {
    fn route(&self) -> Route {
        Route::Any
    }

    fn errors(&self, response: &ListTransactionsResponse) -> Vec<ResponseError> {
        top(response.error_code, None)
    }
}

/// Partition errors of an OffsetCommit-like response, per topic and partition.
/// A topic is named by name, or (OffsetCommit v10+, OffsetFetch v10+) by id.
fn group_partition_errors<'a>(
    topics: impl Iterator<Item = ((&'a str, Uuid), Vec<(i32, ErrorCode)>)>,
) -> Vec<ResponseError> {
    let all: Vec<(ErrorScope, ErrorCode, Option<&String>)> = topics
        .flat_map(|((name, id), partitions)| {
            partitions
                .into_iter()
                .map(move |(partition, code)| (partition_scope(name, id, partition), code, None))
        })
        .collect();
    items(all.into_iter())
}

impl RoutedRequest for OffsetCommitRequest {
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group_id.clone())
    }

    /// v9 when a topic has no id: v10+ names topics by id only.
    fn max_version(&self) -> Option<i16> {
        without_ids_at_most(self.topics.iter().map(|t| t.topic_id), 9)
    }

    fn errors(&self, response: &OffsetCommitResponse) -> Vec<ResponseError> {
        group_partition_errors(response.topics.iter().map(|t| {
            (
                (t.name.as_str(), t.topic_id),
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.error_code))
                    .collect(),
            )
        }))
    }
}

impl RoutedRequest for TxnOffsetCommitRequest {
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group_id.clone())
    }

    /// v5 when a topic has no id: v6+ names topics by id only.
    fn max_version(&self) -> Option<i16> {
        without_ids_at_most(self.topics.iter().map(|t| t.topic_id), 5)
    }

    /// Per partition, by topic name (v0-5) or id (v6+).
    fn errors(&self, response: &TxnOffsetCommitResponse) -> Vec<ResponseError> {
        group_partition_errors(response.topics.iter().map(|t| {
            (
                (t.name.as_str(), t.topic_id),
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.error_code))
                    .collect(),
            )
        }))
    }
}

impl RoutedRequest for OffsetFetchRequest {
    /// The coordinator of `group_id` (v0-7), or of the first group of `groups` (v8+).
    fn route(&self) -> Route {
        match self.groups.first() {
            Some(group) if self.group_id.is_empty() => {
                Route::GroupCoordinator(group.group_id.clone())
            }
            _ => Route::GroupCoordinator(self.group_id.clone()),
        }
    }

    /// v9 when a topic of a group has no id: v10+ names topics by id only (the single-group
    /// form of v0-7 names them by name and is not limited).
    fn max_version(&self) -> Option<i16> {
        let ids = self
            .groups
            .iter()
            .filter_map(|g| g.topics.as_ref())
            .flatten()
            .map(|t| t.topic_id);
        without_ids_at_most(ids, 9)
    }

    fn errors(&self, response: &OffsetFetchResponse) -> Vec<ResponseError> {
        let mut errors = top(response.error_code, None);
        errors.extend(group_partition_errors(response.topics.iter().map(|t| {
            (
                (t.name.as_str(), Uuid::ZERO),
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.error_code))
                    .collect(),
            )
        })));
        let groups = response.groups.len();
        for g in &response.groups {
            if !g.error_code.is_ok() {
                errors.push(ResponseError::item(
                    ErrorScope::Group(g.group_id.clone()),
                    g.error_code,
                    None,
                    groups,
                ));
            }
        }
        let partitions: Vec<(ErrorScope, ErrorCode, Option<&String>)> = response
            .groups
            .iter()
            .flat_map(|g| &g.topics)
            .flat_map(|t| {
                t.partitions.iter().map(move |p| {
                    (
                        partition_scope(&t.name, t.topic_id, p.partition_index),
                        p.error_code,
                        None,
                    )
                })
            })
            .collect();
        errors.extend(items(partitions.into_iter()));
        // A partition's UNKNOWN_TOPIC_OR_PARTITION is an answer, not stale metadata: the
        // request went to the group's coordinator, not to a leader, and the broker says it
        // with it that no offset is stored (ZooKeeper storage, OffsetFetch v0, answers every
        // partition without a committed offset so). Retrying cannot change it: the caller
        // reads it from the body.
        errors.retain(|e| {
            !(e.code == ErrorCode::UnknownTopicOrPartition
                && matches!(
                    e.scope,
                    ErrorScope::Partition { .. } | ErrorScope::PartitionOfTopicId { .. }
                ))
        });
        errors
    }
}

impl RoutedRequest for OffsetDeleteRequest {
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group_id.clone())
    }

    fn errors(&self, response: &OffsetDeleteResponse) -> Vec<ResponseError> {
        let mut errors = top(response.error_code, None);
        errors.extend(group_partition_errors(response.topics.iter().map(|t| {
            (
                (t.name.as_str(), Uuid::ZERO),
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.error_code))
                    .collect(),
            )
        })));
        errors
    }
}

impl RoutedRequest for JoinGroupRequest {
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group_id.clone())
    }

    /// `MEMBER_ID_REQUIRED` (KIP-394) is not a failure but the first step of a join: the
    /// response carries the member id to join again with, so the caller gets the response.
    fn errors(&self, response: &JoinGroupResponse) -> Vec<ResponseError> {
        if response.error_code == ErrorCode::MemberIdRequired {
            return Vec::new();
        }
        top(response.error_code, None)
    }

    /// The coordinator holds a JoinGroup until every member has joined, up to the rebalance
    /// timeout.
    fn broker_wait(&self) -> Option<Duration> {
        let ms = u64::try_from(self.rebalance_timeout_ms.max(self.session_timeout_ms)).ok()?;
        Some(Duration::from_millis(ms) + BROKER_WAIT_MARGIN)
    }
}

impl RoutedRequest for SyncGroupRequest {
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group_id.clone())
    }

    fn errors(&self, response: &SyncGroupResponse) -> Vec<ResponseError> {
        top(response.error_code, None)
    }
}

impl RoutedRequest for HeartbeatRequest {
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group_id.clone())
    }

    fn errors(&self, response: &HeartbeatResponse) -> Vec<ResponseError> {
        top(response.error_code, None)
    }
}

impl RoutedRequest for LeaveGroupRequest {
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group_id.clone())
    }

    fn errors(&self, response: &LeaveGroupResponse) -> Vec<ResponseError> {
        let mut errors = top(response.error_code, None);
        let n = response.members.len();
        for m in response.members.iter().filter(|m| !m.error_code.is_ok()) {
            errors.push(ResponseError::item(
                ErrorScope::Member {
                    group: self.group_id.clone(),
                    member: m
                        .group_instance_id
                        .clone()
                        .filter(|id| !id.is_empty())
                        .unwrap_or_else(|| m.member_id.clone()),
                },
                m.error_code,
                None,
                n,
            ));
        }
        errors
    }
}

impl RoutedRequest for ConsumerGroupHeartbeatRequest {
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group_id.clone())
    }

    fn errors(&self, response: &ConsumerGroupHeartbeatResponse) -> Vec<ResponseError> {
        top(response.error_code, response.error_message.as_ref())
    }
}

impl RoutedRequest for DescribeGroupsRequest {
    /// The coordinator of the first group: batch only groups that share one.
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.groups.first().cloned().unwrap_or_default())
    }

    /// Per group, with the broker's message (v6+). From v6 a group that does not exist is
    /// `GROUP_ID_NOT_FOUND` (KIP-1043; before, a "Dead" group without an error).
    fn errors(&self, response: &DescribeGroupsResponse) -> Vec<ResponseError> {
        items(response.groups.iter().map(|g| {
            (
                ErrorScope::Group(g.group_id.clone()),
                g.error_code,
                g.error_message.as_ref(),
            )
        }))
    }
}

impl RoutedRequest for DeleteGroupsRequest {
    /// The coordinator of the first group: batch only groups that share one.
    fn route(&self) -> Route {
        Route::GroupCoordinator(self.groups_names.first().cloned().unwrap_or_default())
    }

    /// Per group, with the broker's message (v3+).
    fn errors(&self, response: &DeleteGroupsResponse) -> Vec<ResponseError> {
        items(response.results.iter().map(|g| {
            (
                ErrorScope::Group(g.group_id.clone()),
                g.error_code,
                g.error_message.as_ref(),
            )
        }))
    }
}

impl RoutedRequest for InitProducerIdRequest {
    /// The coordinator of the transactional id; an idempotent producer without one asks any
    /// broker.
    fn route(&self) -> Route {
        match self.transactional_id.as_deref() {
            Some(id) if !id.is_empty() => Route::TransactionCoordinator(id.to_owned()),
            _ => Route::Any,
        }
    }

    fn errors(&self, response: &InitProducerIdResponse) -> Vec<ResponseError> {
        top(response.error_code, None)
    }
}

impl RoutedRequest for AddPartitionsToTxnRequest {
    /// The coordinator of the transactional id (v0-3), or of the first transaction (v4+).
    fn route(&self) -> Route {
        match self.transactions.first() {
            Some(t) if self.v3_and_below_transactional_id.is_empty() => {
                Route::TransactionCoordinator(t.transactional_id.clone())
            }
            _ => Route::TransactionCoordinator(self.v3_and_below_transactional_id.clone()),
        }
    }

    fn errors(&self, response: &AddPartitionsToTxnResponse) -> Vec<ResponseError> {
        let mut errors = top(response.error_code, None);
        let topics = response.results_by_topic_v3_and_below.iter().chain(
            response
                .results_by_transaction
                .iter()
                .flat_map(|t| &t.topic_results),
        );
        let all: Vec<(ErrorScope, ErrorCode, Option<&String>)> = topics
            .flat_map(|t| {
                t.results_by_partition.iter().map(move |p| {
                    (
                        ErrorScope::Partition {
                            topic: t.name.clone(),
                            partition: p.partition_index,
                        },
                        p.partition_error_code,
                        None,
                    )
                })
            })
            .collect();
        errors.extend(items(all.into_iter()));
        errors
    }
}

impl RoutedRequest for AddOffsetsToTxnRequest {
    fn route(&self) -> Route {
        Route::TransactionCoordinator(self.transactional_id.clone())
    }

    fn errors(&self, response: &AddOffsetsToTxnResponse) -> Vec<ResponseError> {
        top(response.error_code, None)
    }
}

impl RoutedRequest for EndTxnRequest {
    fn route(&self) -> Route {
        Route::TransactionCoordinator(self.transactional_id.clone())
    }

    fn errors(&self, response: &EndTxnResponse) -> Vec<ResponseError> {
        top(response.error_code, None)
    }
}

impl RoutedRequest for DescribeTransactionsRequest {
    /// The coordinator of the first transactional id: batch only ids that share one.
    fn route(&self) -> Route {
        Route::TransactionCoordinator(self.transactional_ids.first().cloned().unwrap_or_default())
    }

    fn errors(&self, response: &DescribeTransactionsResponse) -> Vec<ResponseError> {
        items(response.transaction_states.iter().map(|t| {
            (
                ErrorScope::Transaction(t.transactional_id.clone()),
                t.error_code,
                None,
            )
        }))
    }
}

impl RoutedRequest for CreateTopicsRequest {
    fn route(&self) -> Route {
        Route::Controller
    }

    fn errors(&self, response: &CreateTopicsResponse) -> Vec<ResponseError> {
        items(response.topics.iter().map(|t| {
            (
                ErrorScope::Topic(t.name.clone()),
                t.error_code,
                t.error_message.as_ref(),
            )
        }))
    }

    /// Only a validation: nothing is created.
    fn is_idempotent(&self) -> bool {
        self.validate_only
    }

    fn broker_wait(&self) -> Option<Duration> {
        let ms = u64::try_from(self.timeout_ms).ok()?;
        Some(Duration::from_millis(ms) + BROKER_WAIT_MARGIN)
    }
}

impl RoutedRequest for DeleteTopicsRequest {
    fn route(&self) -> Route {
        Route::Controller
    }

    /// A topic that does not exist (`UNKNOWN_TOPIC_OR_PARTITION`, `UNKNOWN_TOPIC_ID`) is the
    /// controller's answer, not stale metadata: retrying cannot change it, and the caller reads
    /// it from the body.
    fn errors(&self, response: &DeleteTopicsResponse) -> Vec<ResponseError> {
        items(
            response
                .responses
                .iter()
                .filter(|t| {
                    !matches!(
                        t.error_code,
                        ErrorCode::UnknownTopicOrPartition | ErrorCode::UnknownTopicId
                    )
                })
                .map(|t| {
                    let scope = match topic_ref(t.name.as_deref().unwrap_or_default(), t.topic_id) {
                        TopicRef::Name(n) => ErrorScope::Topic(n),
                        TopicRef::Id(id) => ErrorScope::TopicId(id),
                    };
                    (scope, t.error_code, t.error_message.as_ref())
                }),
        )
    }

    fn broker_wait(&self) -> Option<Duration> {
        let ms = u64::try_from(self.timeout_ms).ok()?;
        Some(Duration::from_millis(ms) + BROKER_WAIT_MARGIN)
    }
}

impl RoutedRequest for CreatePartitionsRequest {
    fn route(&self) -> Route {
        Route::Controller
    }

    fn errors(&self, response: &CreatePartitionsResponse) -> Vec<ResponseError> {
        items(response.results.iter().map(|t| {
            (
                ErrorScope::Topic(t.name.clone()),
                t.error_code,
                t.error_message.as_ref(),
            )
        }))
    }

    fn is_idempotent(&self) -> bool {
        self.validate_only
    }

    fn broker_wait(&self) -> Option<Duration> {
        let ms = u64::try_from(self.timeout_ms).ok()?;
        Some(Duration::from_millis(ms) + BROKER_WAIT_MARGIN)
    }
}

/// Config resource types whose requests must go to the broker they name.
const BROKER_RESOURCE: i8 = 4;
const BROKER_LOGGER_RESOURCE: i8 = 8;

/// The broker named by the first broker resource, or any broker.
fn config_route<'a>(resources: impl Iterator<Item = (i8, &'a str)>) -> Route {
    resources
        .filter(|(t, _)| *t == BROKER_RESOURCE || *t == BROKER_LOGGER_RESOURCE)
        .find_map(|(_, name)| name.parse().ok())
        .map_or(Route::Any, Route::Node)
}

impl RoutedRequest for DescribeConfigsRequest {
    /// The broker a broker (or broker logger) resource names; topic resources: any broker.
    fn route(&self) -> Route {
        config_route(
            self.resources
                .iter()
                .map(|r| (r.resource_type, r.resource_name.as_str())),
        )
    }

    fn errors(&self, response: &DescribeConfigsResponse) -> Vec<ResponseError> {
        items(response.results.iter().map(|r| {
            (
                ErrorScope::Resource {
                    resource_type: r.resource_type,
                    name: r.resource_name.clone(),
                },
                r.error_code,
                r.error_message.as_ref(),
            )
        }))
    }
}

/// `config_operation` values of IncrementalAlterConfigs: SET 0, DELETE 1, APPEND 2, SUBTRACT 3.
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

impl RoutedRequest for IncrementalAlterConfigsRequest {
    /// The broker a broker (or broker logger) resource names; topic resources: any broker.
    fn route(&self) -> Route {
        config_route(
            self.resources
                .iter()
                .map(|r| (r.resource_type, r.resource_name.as_str())),
        )
    }

    fn errors(&self, response: &IncrementalAlterConfigsResponse) -> Vec<ResponseError> {
        items(response.responses.iter().map(|r| {
            (
                ErrorScope::Resource {
                    resource_type: r.resource_type,
                    name: r.resource_name.clone(),
                },
                r.error_code,
                r.error_message.as_ref(),
            )
        }))
    }

    /// SET and DELETE are idempotent; APPEND and SUBTRACT are not (a repeat appends twice).
    fn is_idempotent(&self) -> bool {
        self.validate_only
            || self
                .resources
                .iter()
                .flat_map(|r| &r.configs)
                .all(|c| c.config_operation != APPEND && c.config_operation != SUBTRACT)
    }
}
