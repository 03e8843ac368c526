//! Consumer groups: list, describe, delete; a group's offsets (list, alter, delete); delete
//! records.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use kafkaex_net::metadata::LeaderLookup;
use kafkaex_net::{CoordinatorType, ErrorScope, NetError, Route, VersionChoice};
use kafkaex_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafkaex_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafkaex_protocol::messages::{
    DeleteGroupsRequest, DeleteRecordsRequest, DescribeGroupsRequest, ListGroupsRequest,
    OffsetDeleteRequest,
};
use kafkaex_protocol::{ApiKey, ErrorCode};

use super::{item_error, join_all, missing_entry, request_failed, Admin};
use crate::error::{Error, RequestContext, Result};
use crate::offsets::{
    fail_all, fill_missing, CommitOffset, CommitOptions, CommittedOffset, FetchOffsetsOptions,
    PartitionResults, TopicPartition,
};

/// A group as ListGroups reports it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// The protocol type (`consumer` for consumer groups; empty for groups that only commit
    /// offsets).
    pub protocol_type: String,
    /// The state (`Stable`, `Empty`, ...; ListGroups v4+, else empty).
    pub state: String,
    /// The group type (`classic`, `consumer`, ...; ListGroups v5+, else empty).
    pub group_type: String,
    /// The node id of the broker that listed it (its coordinator).
    pub coordinator: i32,
}

/// What [`Admin::list_groups`] found: the groups of every broker that answered, and the
/// error of each broker that did not.
#[derive(Clone, Debug, Default)]
pub struct GroupListings {
    /// The groups, by group id.
    pub groups: Vec<GroupListing>,
    /// The brokers that could not list theirs, by node id.
    pub errors: BTreeMap<i32, Error>,
}

/// Options of [`Admin::list_groups`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ListGroupsOptions {
    /// Only groups in these states (`Stable`, `Empty`, ...; compared case-insensitively;
    /// empty: all). Needs ListGroups v4+ to know the states: below, nothing matches a filter.
    pub states: Vec<String>,
    /// The ListGroups version.
    pub version: VersionChoice,
}

impl ListGroupsOptions {
    /// Only groups in `states`.
    pub fn states<S: Into<String>>(mut self, states: impl IntoIterator<Item = S>) -> Self {
        self.states = states.into_iter().map(Into::into).collect();
        self
    }
}

/// A member of a described group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMemberDescription {
    /// The member id.
    pub member_id: String,
    /// The group instance id of a static member.
    pub group_instance_id: Option<String>,
    /// The member's client id.
    pub client_id: String,
    /// The member's host.
    pub client_host: String,
    /// The member's protocol metadata (for `consumer` groups, a ConsumerProtocolSubscription).
    pub metadata: Bytes,
    /// The member's assignment (for `consumer` groups, a ConsumerProtocolAssignment).
    pub assignment: Bytes,
}

/// A group as DescribeGroups reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state (`Stable`, `Empty`, `Dead`, ...).
    pub state: String,
    /// The protocol type (`consumer`, ...).
    pub protocol_type: String,
    /// The protocol chosen (the assignor, for consumer groups).
    pub protocol: String,
    /// The members.
    pub members: Vec<GroupMemberDescription>,
    /// The coordinator's node id.
    pub coordinator: i32,
}

/// Options of [`Admin::describe_groups`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DescribeGroupsOptions {
    /// The DescribeGroups version.
    pub version: VersionChoice,
}

impl Admin {
    /// The groups of the cluster: ListGroups to every broker of the metadata, concurrently
    /// (each lists the groups it coordinates). Repeated after it may have reached the broker.
    pub async fn list_groups(&self, options: &ListGroupsOptions) -> Result<GroupListings> {
        let cluster = self.client.cluster();
        let nodes: Vec<i32> = cluster.with_metadata(|m| m.brokers().keys().copied().collect());
        let calls = nodes
            .into_iter()
            .map(|node| async move {
                let request = ListGroupsRequest::default();
                let result = cluster
                    .send_with_retry(Route::Node(node), &request, options.version, |r| {
                        Some(r.error_code)
                    })
                    .await
                    .map_err(|e| Error::request(RequestContext::api(ApiKey::ListGroups), e));
                (node, result)
            })
            .collect();
        let states: BTreeSet<String> = options.states.iter().map(|s| s.to_lowercase()).collect();
        let mut out = GroupListings::default();
        for (node, result) in join_all(calls).await {
            match result {
                Ok(response) => {
                    for g in response.body.groups {
                        if !states.is_empty() && !states.contains(&g.group_state.to_lowercase()) {
                            continue;
                        }
                        out.groups.push(GroupListing {
                            group_id: g.group_id,
                            protocol_type: g.protocol_type,
                            state: g.group_state,
                            group_type: g.group_type,
                            coordinator: node,
                        });
                    }
                }
                Err(err) => {
                    out.errors.insert(node, err);
                }
            }
        }
        out.groups.sort();
        Ok(out)
    }

    /// `groups` by coordinator node id (FindCoordinator for each), and the error of each group
    /// whose coordinator could not be found.
    async fn by_coordinator(
        &self,
        groups: &[String],
        api: ApiKey,
    ) -> (BTreeMap<i32, Vec<String>>, BTreeMap<String, Error>) {
        let cluster = self.client.cluster();
        let unique: BTreeSet<&String> = groups.iter().collect();
        let calls = unique
            .into_iter()
            .map(|g| async move {
                (
                    g.clone(),
                    cluster.find_coordinator(CoordinatorType::Group, g).await,
                )
            })
            .collect();
        let mut by_node: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        let mut errors = BTreeMap::new();
        for (group, result) in join_all(calls).await {
            match result {
                Ok(info) => by_node.entry(info.node_id).or_default().push(group),
                Err(err) => {
                    let mut context = RequestContext::api(api);
                    context.topic = None;
                    errors.insert(group, Error::request(context, err));
                }
            }
        }
        (by_node, errors)
    }

    /// Describes `groups`: one DescribeGroups per coordinator, concurrently; one result per
    /// group. From DescribeGroups v6 (Kafka 4.0) a group that does not exist is
    /// `GROUP_ID_NOT_FOUND`; before, it is described in state `Dead`.
    pub async fn describe_groups(
        &self,
        groups: &[impl AsRef<str>],
        options: &DescribeGroupsOptions,
    ) -> Result<BTreeMap<String, Result<GroupDescription>>> {
        let groups: Vec<String> = groups.iter().map(|g| g.as_ref().to_owned()).collect();
        let (by_node, errors) = self.by_coordinator(&groups, ApiKey::DescribeGroups).await;
        let mut out: BTreeMap<String, Result<GroupDescription>> =
            errors.into_iter().map(|(g, e)| (g, Err(e))).collect();
        let calls = by_node
            .into_iter()
            .map(|(node, groups)| async move {
                let request = DescribeGroupsRequest::default().with_groups(groups.clone());
                let result = self.client.request_at(&request, options.version).await;
                (node, groups, result)
            })
            .collect();
        for (node, groups, result) in join_all(calls).await {
            let response = match result {
                Ok(r) => r,
                Err(err) => {
                    for g in groups {
                        let e = request_failed(
                            ApiKey::DescribeGroups,
                            &ErrorScope::Group(g.clone()),
                            &err,
                        );
                        out.insert(g, Err(e));
                    }
                    continue;
                }
            };
            for g in &response.body.groups {
                let result = if g.error_code.is_ok() {
                    Ok(GroupDescription {
                        group_id: g.group_id.clone(),
                        state: g.group_state.clone(),
                        protocol_type: g.protocol_type.clone(),
                        protocol: g.protocol_data.clone(),
                        members: g
                            .members
                            .iter()
                            .map(|m| GroupMemberDescription {
                                member_id: m.member_id.clone(),
                                group_instance_id: m.group_instance_id.clone(),
                                client_id: m.client_id.clone(),
                                client_host: m.client_host.clone(),
                                metadata: m.member_metadata.clone(),
                                assignment: m.member_assignment.clone(),
                            })
                            .collect(),
                        coordinator: response.broker.node_id.unwrap_or(node),
                    })
                } else {
                    Err(item_error(
                        ApiKey::DescribeGroups,
                        response.version,
                        &response.broker,
                        ErrorScope::Group(g.group_id.clone()),
                        g.error_code,
                        g.error_message.clone(),
                    ))
                };
                out.insert(g.group_id.clone(), result);
            }
            for g in groups {
                out.entry(g.clone()).or_insert_with(|| {
                    Err(missing_entry(
                        ApiKey::DescribeGroups,
                        response.version,
                        &response.broker,
                        ErrorScope::Group(g),
                    ))
                });
            }
        }
        Ok(out)
    }

    /// Deletes `groups` (empty groups only: a group with members is `NON_EMPTY_GROUP`): one
    /// DeleteGroups per coordinator, concurrently; one result per group.
    ///
    /// Not repeated after it may have reached the broker: a repeat would answer
    /// `GROUP_ID_NOT_FOUND` for a group the first attempt deleted.
    pub async fn delete_groups(
        &self,
        groups: &[impl AsRef<str>],
    ) -> Result<BTreeMap<String, Result<()>>> {
        let groups: Vec<String> = groups.iter().map(|g| g.as_ref().to_owned()).collect();
        let (by_node, errors) = self.by_coordinator(&groups, ApiKey::DeleteGroups).await;
        let mut out: BTreeMap<String, Result<()>> =
            errors.into_iter().map(|(g, e)| (g, Err(e))).collect();
        let calls = by_node
            .into_values()
            .map(|groups| async move {
                let request = DeleteGroupsRequest::default().with_groups_names(groups.clone());
                (groups, self.client.request(&request).await)
            })
            .collect();
        for (groups, result) in join_all(calls).await {
            let response = match result {
                Ok(r) => r,
                Err(err) => {
                    for g in groups {
                        let e = request_failed(
                            ApiKey::DeleteGroups,
                            &ErrorScope::Group(g.clone()),
                            &err,
                        );
                        out.insert(g, Err(e));
                    }
                    continue;
                }
            };
            for g in &response.body.results {
                let result = if g.error_code.is_ok() {
                    Ok(())
                } else {
                    Err(item_error(
                        ApiKey::DeleteGroups,
                        response.version,
                        &response.broker,
                        ErrorScope::Group(g.group_id.clone()),
                        g.error_code,
                        g.error_message.clone(),
                    ))
                };
                out.insert(g.group_id.clone(), result);
            }
            for g in groups {
                out.entry(g.clone()).or_insert_with(|| {
                    Err(missing_entry(
                        ApiKey::DeleteGroups,
                        response.version,
                        &response.broker,
                        ErrorScope::Group(g),
                    ))
                });
            }
        }
        Ok(out)
    }

    /// Every offset `group` has committed ([`Admin::fetch_offsets`] for all partitions).
    pub async fn list_group_offsets(
        &self,
        group: &str,
    ) -> Result<PartitionResults<Option<CommittedOffset>>> {
        self.fetch_offsets(group, None, &FetchOffsetsOptions::default())
            .await
    }

    /// Sets `group`'s committed offsets (a standalone [`Admin::commit_offsets`]: the group
    /// must have no active members, or the broker answers `UNKNOWN_MEMBER_ID`).
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, CommitOffset)>,
    ) -> Result<PartitionResults<()>> {
        self.commit_offsets(group, offsets, &CommitOptions::default())
            .await
    }

    /// Deletes `group`'s committed offsets of `partitions` (OffsetDelete, Kafka 2.4+): one
    /// result per partition (a partition of a topic the group is subscribed to is
    /// `GROUP_SUBSCRIBED_TO_TOPIC`). Repeated after it may have reached the broker.
    pub async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<PartitionResults<()>> {
        let asked: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        if asked.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut topics: Vec<OffsetDeleteRequestTopic> = Vec::new();
        for tp in &asked {
            let p = OffsetDeleteRequestPartition::default().with_partition_index(tp.partition);
            match topics.last_mut() {
                Some(t) if t.name == tp.topic => t.partitions.push(p),
                _ => topics.push(
                    OffsetDeleteRequestTopic::default()
                        .with_name(tp.topic.clone())
                        .with_partitions(vec![p]),
                ),
            }
        }
        let request = OffsetDeleteRequest::default()
            .with_group_id(group.to_owned())
            .with_topics(topics);
        let response = match self.client.request(&request).await {
            Ok(r) => r,
            Err(err) => return Ok(fail_all(ApiKey::OffsetDelete, asked.iter(), &err)),
        };
        let mut out = BTreeMap::new();
        for t in &response.body.topics {
            for p in &t.partitions {
                let tp = TopicPartition::new(t.name.clone(), p.partition_index);
                if !asked.contains(&tp) {
                    continue;
                }
                let result = if p.error_code.is_ok() {
                    Ok(())
                } else {
                    Err(item_error(
                        ApiKey::OffsetDelete,
                        response.version,
                        &response.broker,
                        ErrorScope::Partition {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                        },
                        p.error_code,
                        None,
                    ))
                };
                out.insert(tp, result);
            }
        }
        fill_missing(
            &mut out,
            asked.iter(),
            ApiKey::OffsetDelete,
            response.version,
            &response.broker,
        );
        Ok(out)
    }

    /// Deletes the records of each partition before its offset (-1: the high watermark), one
    /// DeleteRecords per leader, concurrently: per partition, the new log start offset (low
    /// watermark). Repeated after it may have reached the broker (deleting up to an offset
    /// twice deletes the same records).
    pub async fn delete_records(
        &self,
        before: impl IntoIterator<Item = (TopicPartition, i64)>,
    ) -> Result<PartitionResults<i64>> {
        let before: BTreeMap<TopicPartition, i64> = before.into_iter().collect();
        let topics: BTreeSet<&str> = before.keys().map(|tp| tp.topic.as_str()).collect();
        let topics: Vec<&str> = topics.into_iter().collect();
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        if let Err(err) = self.client.refresh_metadata(&topics).await {
            tracing::debug!(error = %err, "refreshing metadata for DeleteRecords");
        }
        let mut out: PartitionResults<i64> = BTreeMap::new();
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        self.client.cluster().with_metadata(|m| {
            for (tp, offset) in &before {
                match m.leader(&tp.topic, tp.partition) {
                    LeaderLookup::Leader { node_id, .. } => {
                        by_leader
                            .entry(node_id)
                            .or_default()
                            .push((tp.clone(), *offset));
                    }
                    LeaderLookup::Refresh { reason: code } | LeaderLookup::Error(code) => {
                        let err = Error::request(
                            RequestContext::api(ApiKey::DeleteRecords)
                                .with_partition(tp.topic.clone(), tp.partition),
                            NetError::from_client(
                                ApiKey::Metadata,
                                code,
                                "the metadata names no leader for the partition",
                                "",
                                ErrorScope::Partition {
                                    topic: tp.topic.clone(),
                                    partition: tp.partition,
                                },
                            ),
                        );
                        out.insert(tp.clone(), Err(err));
                    }
                }
            }
        });
        let calls = by_leader
            .into_values()
            .map(|items| async move {
                let mut topics: Vec<DeleteRecordsTopic> = Vec::new();
                for (tp, offset) in &items {
                    let p = DeleteRecordsPartition::default()
                        .with_partition_index(tp.partition)
                        .with_offset(*offset);
                    match topics.last_mut() {
                        Some(t) if t.name == tp.topic => t.partitions.push(p),
                        _ => topics.push(
                            DeleteRecordsTopic::default()
                                .with_name(tp.topic.clone())
                                .with_partitions(vec![p]),
                        ),
                    }
                }
                let request = DeleteRecordsRequest::default()
                    .with_timeout_ms(30_000)
                    .with_topics(topics);
                (items, self.client.request(&request).await)
            })
            .collect();
        for (items, result) in join_all(calls).await {
            let keys: Vec<TopicPartition> = items.into_iter().map(|(tp, _)| tp).collect();
            match result {
                Err(err) => out.extend(fail_all(ApiKey::DeleteRecords, keys.iter(), &err)),
                Ok(response) => {
                    let mut got: PartitionResults<i64> = BTreeMap::new();
                    for t in &response.body.topics {
                        for p in &t.partitions {
                            let tp = TopicPartition::new(t.name.clone(), p.partition_index);
                            if !keys.contains(&tp) {
                                continue;
                            }
                            let result = if p.error_code == ErrorCode::None {
                                Ok(p.low_watermark)
                            } else {
                                Err(item_error(
                                    ApiKey::DeleteRecords,
                                    response.version,
                                    &response.broker,
                                    ErrorScope::Partition {
                                        topic: tp.topic.clone(),
                                        partition: tp.partition,
                                    },
                                    p.error_code,
                                    None,
                                ))
                            };
                            got.insert(tp, result);
                        }
                    }
                    fill_missing(
                        &mut got,
                        keys.iter(),
                        ApiKey::DeleteRecords,
                        response.version,
                        &response.broker,
                    );
                    out.extend(got);
                }
            }
        }
        Ok(out)
    }
}
