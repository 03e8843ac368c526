//! Offsets: commit and fetch a group's committed offsets, list the offsets of partitions
//! (earliest, latest, by timestamp, max timestamp). KafkaExAPI's offset functions, as methods
//! of [`Admin`] (`client.admin()`).
//!
//! Each call negotiates the newest version both sides support unless its options pin one
//! ([`VersionChoice::Exact`]); a pinned version the broker lacks is every item's
//! [`NetError::UnsupportedVersion`] (inside [`Error::Request`]), naming the API, the version
//! asked and the broker's range. Results are per partition.
//!
//! Topics are named by name up to OffsetCommit and OffsetFetch v9 and by id from v10 (Kafka
//! 4.1+): the calls set both, taking ids from the client's metadata (refreshed for topics it
//! does not hold yet), and read responses by either. A topic whose id is unknown keeps the
//! request at v9, as the producer keeps Produce at v12.
//!
//! ```no_run
//! use kafkaex_client::offsets::{CommitOffset, CommitOptions, OffsetSpec, TopicPartition};
//! use kafkaex_client::Client;
//!
//! # async fn example() -> Result<(), kafkaex_client::Error> {
//! let client = Client::builder().bootstrap(["localhost:9092"]).build().await?;
//! let admin = client.admin();
//! let tp = TopicPartition::new("events", 0);
//! let latest = admin
//!     .list_offsets([(tp.clone(), OffsetSpec::Latest)], &Default::default())
//!     .await?;
//! let end = latest[&tp].as_ref().map_err(Clone::clone)?.offset;
//! let committed = admin
//!     .commit_offsets(
//!         "billing",
//!         [(tp.clone(), CommitOffset::new(end).metadata("caught up"))],
//!         &CommitOptions::default(),
//!     )
//!     .await?;
//! assert!(committed[&tp].is_ok());
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kafkaex_net::metadata::LeaderLookup;
use kafkaex_net::{BrokerRef, ErrorScope, NetError, Route, VersionChoice};
use kafkaex_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafkaex_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafkaex_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafkaex_protocol::messages::{
    ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest,
};
use kafkaex_protocol::{ApiKey, ErrorCode, Message as _, Uuid};

use crate::admin::{item_error, join_all, missing_entry, request_failed, Admin};
use crate::client::request_error;
use crate::error::{Error, RequestContext, Result};

/// A partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`-`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }

    fn scope(&self) -> ErrorScope {
        ErrorScope::Partition {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Per-partition results of a call.
pub type PartitionResults<T> = BTreeMap<TopicPartition, Result<T>>;

/// An offset to commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitOffset {
    /// The offset (the next record to read).
    pub offset: i64,
    /// The leader epoch of the record before `offset`, when known (sent from OffsetCommit v6).
    pub leader_epoch: Option<i32>,
    /// A string kept with the offset (`None`: none).
    pub metadata: Option<String>,
}

impl CommitOffset {
    /// `offset`, without leader epoch or metadata.
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            leader_epoch: None,
            metadata: None,
        }
    }

    /// With the leader epoch.
    pub fn leader_epoch(mut self, epoch: i32) -> Self {
        self.leader_epoch = Some(epoch);
        self
    }

    /// With a metadata string.
    pub fn metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}

/// A committed offset, as fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The offset.
    pub offset: i64,
    /// The leader epoch committed with it (OffsetFetch v5+), if any.
    pub leader_epoch: Option<i32>,
    /// The metadata string committed with it (`None` when the broker has none or null).
    pub metadata: Option<String>,
}

/// Who commits: a member of the group (its generation, member id and optional group instance
/// id), or nobody (a standalone commit: generation -1, no member id), as admin tools do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupMember {
    /// The generation id (classic protocol) or member epoch (consumer protocol); -1 standalone.
    pub generation_id: i32,
    /// The member id; empty standalone.
    pub member_id: String,
    /// The static member's group instance id (sent from OffsetCommit v7).
    pub group_instance_id: Option<String>,
}

impl GroupMember {
    /// A member of generation `generation_id` with `member_id`.
    pub fn new(generation_id: i32, member_id: impl Into<String>) -> Self {
        Self {
            generation_id,
            member_id: member_id.into(),
            group_instance_id: None,
        }
    }

    /// With a group instance id (a static member).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }
}

/// Options of [`Admin::commit_offsets`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct CommitOptions {
    /// The member committing; `None`: a standalone commit (generation -1, no member id).
    pub member: Option<GroupMember>,
    /// The OffsetCommit version.
    pub version: VersionChoice,
    /// The commit timestamp of every partition, in ms (OffsetCommit v1 only, which has the
    /// field: the broker expires the offset from it; `None`: -1, the broker's time).
    pub commit_timestamp: Option<i64>,
}

impl CommitOptions {
    /// With a commit timestamp (OffsetCommit v1).
    pub fn commit_timestamp(mut self, ms: i64) -> Self {
        self.commit_timestamp = Some(ms);
        self
    }

    /// Commits as `member`.
    pub fn member(mut self, member: GroupMember) -> Self {
        self.member = Some(member);
        self
    }

    /// At `version`.
    pub fn version(mut self, version: VersionChoice) -> Self {
        self.version = version;
        self
    }
}

/// Options of [`Admin::fetch_offsets`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct FetchOffsetsOptions {
    /// Ask the broker to answer `UNSTABLE_OFFSET_COMMIT` for partitions with pending
    /// transactional commits instead of their last stable offset (OffsetFetch v7+; ignored
    /// below).
    pub require_stable: bool,
    /// The OffsetFetch version.
    pub version: VersionChoice,
}

impl FetchOffsetsOptions {
    /// Sets `require_stable`.
    pub fn require_stable(mut self, require: bool) -> Self {
        self.require_stable = require;
        self
    }

    /// At `version`.
    pub fn version(mut self, version: VersionChoice) -> Self {
        self.version = version;
        self
    }
}

/// Which offset of a partition [`Admin::list_offsets`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (the high watermark; the last stable offset under read_committed).
    Latest,
    /// The first offset whose timestamp is at least this (ms since the epoch); the result is
    /// offset -1 when no record is that late.
    Timestamp(i64),
    /// The offset and timestamp of the record with the largest timestamp (ListOffsets v7+,
    /// Kafka 3.0).
    MaxTimestamp,
}

impl OffsetSpec {
    /// The ListOffsets `timestamp` value.
    fn timestamp(self) -> i64 {
        match self {
            Self::Earliest => -2,
            Self::Latest => -1,
            Self::Timestamp(t) => t,
            Self::MaxTimestamp => -3,
        }
    }

    /// The oldest ListOffsets version that can ask for it.
    fn min_version(self) -> i16 {
        match self {
            Self::MaxTimestamp => 7,
            _ => 0,
        }
    }
}

/// Which records of transactional producers count (`isolation.level`): what a consumer
/// returns, and where [`OffsetSpec::Latest`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// Every data record, committed, aborted or still open, up to the high watermark
    /// (`read_uncommitted`, Java's default).
    #[default]
    ReadUncommitted,
    /// Only records of committed transactions and non-transactional ones, up to the last
    /// stable offset (`read_committed`; ListOffsets v2+, Fetch v4+).
    ReadCommitted,
}

impl IsolationLevel {
    /// The value Fetch and ListOffsets carry.
    pub fn as_i8(self) -> i8 {
        match self {
            Self::ReadUncommitted => 0,
            Self::ReadCommitted => 1,
        }
    }
}

/// Options of [`Admin::list_offsets`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ListOffsetsOptions {
    /// The isolation level.
    pub isolation: IsolationLevel,
    /// The ListOffsets version.
    pub version: VersionChoice,
}

impl ListOffsetsOptions {
    /// Sets the isolation level.
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

/// An offset of a partition, from [`Admin::list_offsets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset (-1: no record matches a timestamp).
    pub offset: i64,
    /// The timestamp of the record found (by timestamp, max timestamp), when the broker says.
    pub timestamp: Option<i64>,
    /// The leader epoch of that offset (ListOffsets v4+), when the broker says.
    pub leader_epoch: Option<i32>,
}

/// How many times [`Admin::list_offsets`] asks again for partitions whose leader moved.
const LIST_OFFSETS_ROUNDS: usize = 3;

fn known(value: i64) -> Option<i64> {
    (value >= 0).then_some(value)
}

fn known_epoch(value: i32) -> Option<i32> {
    (value >= 0).then_some(value)
}

impl Admin {
    /// The topic ids of `topics` from the metadata, refreshing it for those it lacks
    /// ([`Uuid::ZERO`] where still unknown: the request then stays at a version by name).
    async fn topic_ids(&self, topics: &BTreeSet<&str>) -> BTreeMap<String, Uuid> {
        let lookup = |admin: &Admin| {
            admin.client.cluster().with_metadata(|m| {
                topics
                    .iter()
                    .map(|t| {
                        let id = m.topic(t).map_or(Uuid::ZERO, |t| t.topic_id);
                        ((*t).to_owned(), id)
                    })
                    .collect::<BTreeMap<_, _>>()
            })
        };
        let ids = lookup(self);
        let missing: Vec<&str> = ids
            .iter()
            .filter(|(_, id)| **id == Uuid::ZERO)
            .map(|(t, _)| t.as_str())
            .collect();
        if missing.is_empty() {
            return ids;
        }
        if let Err(err) = self.client.refresh_metadata(&missing).await {
            tracing::debug!(error = %err, "no topic ids: the offsets request stays at v9");
        }
        lookup(self)
    }

    /// Commits `offsets` for `group` in one OffsetCommit to its coordinator: standalone
    /// (generation -1, no member id) unless [`CommitOptions::member`] names a member. With a
    /// [`GroupMember::group_instance_id`], the broker must support OffsetCommit v7 (an older
    /// version cannot carry it: each partition's error says so).
    ///
    /// Repeated after it may have reached the broker (committing the same offsets twice is
    /// one commit).
    pub async fn commit_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, CommitOffset)>,
        options: &CommitOptions,
    ) -> Result<PartitionResults<()>> {
        let offsets: BTreeMap<TopicPartition, CommitOffset> = offsets.into_iter().collect();
        if offsets.is_empty() {
            return Ok(BTreeMap::new());
        }
        let topics: BTreeSet<&str> = offsets.keys().map(|tp| tp.topic.as_str()).collect();
        let ids = self.topic_ids(&topics).await;
        let mut request_topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for (tp, commit) in &offsets {
            let partition = OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(commit.offset)
                .with_committed_leader_epoch(commit.leader_epoch.unwrap_or(-1))
                .with_committed_metadata(commit.metadata.clone())
                .with_commit_timestamp(options.commit_timestamp.unwrap_or(-1));
            match request_topics.last_mut() {
                Some(t) if t.name == tp.topic => t.partitions.push(partition),
                _ => request_topics.push(
                    OffsetCommitRequestTopic::default()
                        .with_name(tp.topic.clone())
                        .with_topic_id(ids.get(&tp.topic).copied().unwrap_or(Uuid::ZERO))
                        .with_partitions(vec![partition]),
                ),
            }
        }
        let member = options.member.clone().unwrap_or(GroupMember {
            generation_id: -1,
            ..GroupMember::default()
        });
        let request = OffsetCommitRequest::default()
            .with_group_id(group.to_owned())
            .with_generation_id_or_member_epoch(member.generation_id)
            .with_member_id(member.member_id)
            .with_group_instance_id(member.group_instance_id)
            .with_topics(request_topics);
        let response = match self.client.request_at(&request, options.version).await {
            Ok(r) => r,
            Err(err) => return Ok(fail_all(ApiKey::OffsetCommit, offsets.keys(), &err)),
        };
        let by_id: BTreeMap<Uuid, &String> = ids
            .iter()
            .filter(|(_, id)| **id != Uuid::ZERO)
            .map(|(t, id)| (*id, t))
            .collect();
        let mut out = BTreeMap::new();
        for t in &response.body.topics {
            let name = if t.name.is_empty() {
                match by_id.get(&t.topic_id) {
                    Some(name) => (*name).clone(),
                    None => continue,
                }
            } else {
                t.name.clone()
            };
            for p in &t.partitions {
                let tp = TopicPartition::new(name.clone(), p.partition_index);
                if !offsets.contains_key(&tp) {
                    continue;
                }
                let result = if p.error_code.is_ok() {
                    Ok(())
                } else {
                    Err(item_error(
                        ApiKey::OffsetCommit,
                        response.version,
                        &response.broker,
                        tp.scope(),
                        p.error_code,
                        None,
                    ))
                };
                out.insert(tp, result);
            }
        }
        fill_missing(
            &mut out,
            offsets.keys(),
            ApiKey::OffsetCommit,
            response.version,
            &response.broker,
        );
        Ok(out)
    }

    /// The offsets `group` committed for `partitions` (`None`: every partition it has
    /// committed), from its coordinator. A partition without a committed offset is `Ok(None)`.
    ///
    /// With `None`, the map holds what the broker lists; at OffsetFetch v10 it names topics by
    /// id only, and the names come from a Metadata request for every topic. A group-level
    /// error (the group is being loaded, an authorization failure) is every partition's
    /// error; with `None` it is the error of a placeholder entry for partition -1 of topic "".
    pub async fn fetch_offsets(
        &self,
        group: &str,
        partitions: Option<&[TopicPartition]>,
        options: &FetchOffsetsOptions,
    ) -> Result<PartitionResults<Option<CommittedOffset>>> {
        let asked: Option<BTreeSet<TopicPartition>> =
            partitions.map(|p| p.iter().cloned().collect());
        let whole_group = TopicPartition::new(String::new(), -1);
        let placeholder = [whole_group.clone()];
        let keys = || -> Vec<TopicPartition> {
            match &asked {
                Some(a) => a.iter().cloned().collect(),
                None => placeholder.to_vec(),
            }
        };
        if asked.as_ref().is_some_and(BTreeSet::is_empty) {
            return Ok(BTreeMap::new());
        }
        let ids = match &asked {
            Some(a) => {
                let topics: BTreeSet<&str> = a.iter().map(|tp| tp.topic.as_str()).collect();
                self.topic_ids(&topics).await
            }
            None => BTreeMap::new(),
        };
        // By topic, partitions in order.
        let by_topic: BTreeMap<&str, Vec<i32>> =
            asked
                .iter()
                .flatten()
                .fold(BTreeMap::new(), |mut m: BTreeMap<&str, Vec<i32>>, tp| {
                    m.entry(tp.topic.as_str()).or_default().push(tp.partition);
                    m
                });
        let require_stable = options.require_stable;
        let build = |version: i16| {
            let all = asked.is_none();
            if version >= 8 {
                let topics = (!all).then(|| {
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopics::default()
                                .with_name((*t).to_owned())
                                .with_topic_id(ids.get(*t).copied().unwrap_or(Uuid::ZERO))
                                .with_partition_indexes(ps.clone())
                        })
                        .collect()
                });
                OffsetFetchRequest::default()
                    .with_groups(vec![OffsetFetchRequestGroup::default()
                        .with_group_id(group.to_owned())
                        .with_topics(topics)])
                    .with_require_stable(require_stable)
            } else {
                let topics = (!all).then(|| {
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopic::default()
                                .with_name((*t).to_owned())
                                .with_partition_indexes(ps.clone())
                        })
                        .collect()
                });
                OffsetFetchRequest::default()
                    .with_group_id(group.to_owned())
                    .with_topics(topics)
                    .with_require_stable(require_stable && version >= 7)
            }
        };
        let response = match self
            .client
            .cluster()
            .request_with_at(build, options.version)
            .await
        {
            Ok(r) => r,
            Err(err) => {
                let err = request_error::<OffsetFetchRequest>(err);
                return Ok(fail_all(ApiKey::OffsetFetch, keys().iter(), &err));
            }
        };
        let version = response.version;
        let broker = &response.broker;
        // (topic name or "", topic id, partition entries), for both response shapes.
        type Entry = (i32, i64, i32, Option<String>, ErrorCode);
        let mut topics: Vec<(String, Uuid, Vec<Entry>)> = Vec::new();
        let mut group_error = None;
        if version >= 8 {
            for g in response.body.groups.iter().filter(|g| g.group_id == group) {
                if !g.error_code.is_ok() {
                    group_error = Some(g.error_code);
                }
                for t in &g.topics {
                    topics.push((
                        t.name.clone(),
                        t.topic_id,
                        t.partitions
                            .iter()
                            .map(|p| {
                                (
                                    p.partition_index,
                                    p.committed_offset,
                                    p.committed_leader_epoch,
                                    p.metadata.clone(),
                                    p.error_code,
                                )
                            })
                            .collect(),
                    ));
                }
            }
        } else {
            if !response.body.error_code.is_ok() {
                group_error = Some(response.body.error_code);
            }
            for t in &response.body.topics {
                topics.push((
                    t.name.clone(),
                    Uuid::ZERO,
                    t.partitions
                        .iter()
                        .map(|p| {
                            (
                                p.partition_index,
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.metadata.clone(),
                                p.error_code,
                            )
                        })
                        .collect(),
                ));
            }
        }
        if let Some(code) = group_error {
            let mut out = BTreeMap::new();
            for tp in keys() {
                let scope = if tp == whole_group {
                    ErrorScope::Group(group.to_owned())
                } else {
                    tp.scope()
                };
                let err = item_error(ApiKey::OffsetFetch, version, broker, scope, code, None);
                out.insert(tp, Err(err));
            }
            return Ok(out);
        }
        let mut names: BTreeMap<Uuid, String> = ids
            .iter()
            .filter(|(_, id)| **id != Uuid::ZERO)
            .map(|(t, id)| (*id, t.clone()))
            .collect();
        let unnamed: Vec<Uuid> = topics
            .iter()
            .filter(|(name, id, _)| name.is_empty() && !names.contains_key(id))
            .map(|(_, id, _)| *id)
            .collect();
        if !unnamed.is_empty() {
            names.extend(self.topic_names(&unnamed).await);
        }
        let mut out = BTreeMap::new();
        for (name, id, partitions) in topics {
            let name = if name.is_empty() {
                match names.get(&id) {
                    Some(n) => n.clone(),
                    None => {
                        tracing::warn!(topic_id = ?id, group, "a committed offset of a topic whose name no broker knows (deleted?)");
                        continue;
                    }
                }
            } else {
                name
            };
            for (partition, offset, epoch, metadata, code) in partitions {
                let tp = TopicPartition::new(name.clone(), partition);
                if asked.as_ref().is_some_and(|a| !a.contains(&tp)) {
                    continue;
                }
                let result = if code.is_ok() {
                    Ok((offset >= 0).then(|| CommittedOffset {
                        offset,
                        leader_epoch: known_epoch(epoch),
                        metadata: metadata.filter(|m| !m.is_empty()),
                    }))
                } else {
                    Err(item_error(
                        ApiKey::OffsetFetch,
                        version,
                        broker,
                        tp.scope(),
                        code,
                        None,
                    ))
                };
                out.insert(tp, result);
            }
        }
        if let Some(asked) = &asked {
            fill_missing(&mut out, asked.iter(), ApiKey::OffsetFetch, version, broker);
        }
        Ok(out)
    }

    /// The names of topics by id, from a Metadata request for every topic (the cache holds
    /// only the topics asked for).
    async fn topic_names(&self, ids: &[Uuid]) -> BTreeMap<Uuid, String> {
        let request = MetadataRequest::default().with_topics(None);
        match self.client.request(&request).await {
            Ok(response) => response
                .body
                .topics
                .iter()
                .filter(|t| ids.contains(&t.topic_id))
                .filter_map(|t| t.name.clone().map(|n| (t.topic_id, n)))
                .collect(),
            Err(err) => {
                tracing::warn!(error = %err, "could not name the topics of committed offsets");
                BTreeMap::new()
            }
        }
    }

    /// The offsets of several groups at once, each from its own coordinator (the calls run
    /// concurrently): per group, [`Admin::fetch_offsets`]'s result, or the error that kept the
    /// group from being asked.
    pub async fn fetch_offsets_of_groups(
        &self,
        groups: &BTreeMap<String, Option<Vec<TopicPartition>>>,
        options: &FetchOffsetsOptions,
    ) -> BTreeMap<String, Result<PartitionResults<Option<CommittedOffset>>>> {
        let calls = groups
            .iter()
            .map(|(group, partitions)| async move {
                let result = self
                    .fetch_offsets(group, partitions.as_deref(), options)
                    .await;
                (group.clone(), result)
            })
            .collect();
        join_all(calls).await.into_iter().collect()
    }

    /// The offsets `partitions` ask for, in one ListOffsets per partition leader, sent to every
    /// leader at once. Partitions whose leader moved (or was not known yet) are asked again,
    /// up to three rounds, after the metadata is refreshed.
    ///
    /// [`OffsetSpec::MaxTimestamp`] needs ListOffsets v7 (Kafka 3.0): on an older broker it is
    /// that partition's [`NetError::UnsupportedVersion`]. Repeated after it may have reached
    /// the broker (a read).
    pub async fn list_offsets(
        &self,
        partitions: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
        options: &ListOffsetsOptions,
    ) -> Result<PartitionResults<ListedOffset>> {
        let mut pending: BTreeMap<TopicPartition, OffsetSpec> = partitions.into_iter().collect();
        let mut out: PartitionResults<ListedOffset> = BTreeMap::new();
        for round in 0..LIST_OFFSETS_ROUNDS {
            if pending.is_empty() {
                break;
            }
            let last = round + 1 == LIST_OFFSETS_ROUNDS;
            let topics: BTreeSet<String> = pending.keys().map(|tp| tp.topic.clone()).collect();
            let topics: Vec<String> = topics.into_iter().collect();
            let missing = self.client.cluster().with_metadata(|m| {
                round > 0
                    || pending.keys().any(|tp| {
                        !matches!(
                            m.leader(&tp.topic, tp.partition),
                            LeaderLookup::Leader { .. }
                        )
                    })
            });
            if missing {
                if let Err(err) = self.client.refresh_metadata(&topics).await {
                    tracing::debug!(error = %err, "refreshing metadata for ListOffsets");
                }
            }
            // By leader; partitions without one fail (or wait for the next round).
            let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, OffsetSpec)>> = BTreeMap::new();
            let mut retry: BTreeMap<TopicPartition, OffsetSpec> = BTreeMap::new();
            self.client.cluster().with_metadata(|m| {
                for (tp, spec) in &pending {
                    match m.leader(&tp.topic, tp.partition) {
                        LeaderLookup::Leader { node_id, .. } => {
                            by_leader
                                .entry(node_id)
                                .or_default()
                                .push((tp.clone(), *spec));
                        }
                        LeaderLookup::Refresh { reason } if !last => {
                            let _ = reason;
                            retry.insert(tp.clone(), *spec);
                        }
                        LeaderLookup::Refresh { reason: code } | LeaderLookup::Error(code) => {
                            let err = Error::request(
                                RequestContext::api(ApiKey::ListOffsets)
                                    .with_partition(tp.topic.clone(), tp.partition),
                                NetError::from_client(
                                    ApiKey::Metadata,
                                    code,
                                    "the metadata names no leader for the partition",
                                    "",
                                    tp.scope(),
                                ),
                            );
                            out.insert(tp.clone(), Err(err));
                        }
                    }
                }
            });
            let calls = by_leader
                .into_iter()
                .map(|(node, items)| self.list_offsets_on(node, items, options))
                .collect();
            for results in join_all(calls).await {
                for (tp, spec, result) in results {
                    match result {
                        Err(err) if !last && retriable_leader_error(&err) => {
                            retry.insert(tp, spec);
                        }
                        result => {
                            out.insert(tp, result);
                        }
                    }
                }
            }
            pending = retry;
        }
        Ok(out)
    }

    /// One ListOffsets to `node` about `items`.
    async fn list_offsets_on(
        &self,
        node: i32,
        items: Vec<(TopicPartition, OffsetSpec)>,
        options: &ListOffsetsOptions,
    ) -> Vec<(TopicPartition, OffsetSpec, Result<ListedOffset>)> {
        let fail = |items: Vec<(TopicPartition, OffsetSpec)>, err: &Error| {
            items
                .into_iter()
                .map(|(tp, spec)| {
                    let e = request_failed(ApiKey::ListOffsets, &tp.scope(), err);
                    (tp, spec, Err(e))
                })
                .collect::<Vec<_>>()
        };
        let conn = match self.client.cluster().broker_for(Route::Node(node)).await {
            Ok(c) => c,
            Err(err) => return fail(items, &request_error::<ListOffsetsRequest>(err)),
        };
        let version = match conn
            .versions()
            .choose_for::<ListOffsetsRequest>(options.version, conn.address())
        {
            Ok(v) => v,
            Err(err) => return fail(items, &request_error::<ListOffsetsRequest>(err)),
        };
        let mut out = Vec::new();
        let mut send: Vec<(TopicPartition, OffsetSpec)> = Vec::new();
        for (tp, spec) in items {
            if version < spec.min_version() {
                let err = NetError::UnsupportedVersion {
                    api: ApiKey::ListOffsets,
                    asked: spec.min_version(),
                    broker: conn.versions().get(ApiKey::ListOffsets),
                    ours: ListOffsetsRequest::VERSIONS,
                    address: conn.address().to_owned(),
                };
                let err = Error::request(
                    RequestContext::api(ApiKey::ListOffsets)
                        .with_partition(tp.topic.clone(), tp.partition),
                    err,
                );
                out.push((tp, spec, Err(err)));
            } else {
                send.push((tp, spec));
            }
        }
        if send.is_empty() {
            return out;
        }
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for (tp, spec) in &send {
            let partition = ListOffsetsPartition::default()
                .with_partition_index(tp.partition)
                .with_current_leader_epoch(-1)
                .with_timestamp(spec.timestamp())
                .with_max_num_offsets(1);
            match topics.last_mut() {
                Some(t) if t.name == tp.topic => t.partitions.push(partition),
                _ => topics.push(
                    ListOffsetsTopic::default()
                        .with_name(tp.topic.clone())
                        .with_partitions(vec![partition]),
                ),
            }
        }
        let isolation = options.isolation.as_i8();
        let request = ListOffsetsRequest::default()
            .with_replica_id(-1)
            .with_isolation_level(isolation)
            .with_topics(topics);
        let response = match self
            .client
            .request_at(&request, VersionChoice::Exact(version))
            .await
        {
            Ok(r) => r,
            Err(err) => {
                out.extend(fail(send, &err));
                return out;
            }
        };
        let version = response.version;
        for (tp, spec) in send {
            let found = response
                .body
                .topics
                .iter()
                .filter(|t| t.name == tp.topic)
                .flat_map(|t| &t.partitions)
                .find(|p| p.partition_index == tp.partition);
            let result = match found {
                None => Err(missing_entry(
                    ApiKey::ListOffsets,
                    version,
                    &response.broker,
                    tp.scope(),
                )),
                Some(p) if !p.error_code.is_ok() => Err(item_error(
                    ApiKey::ListOffsets,
                    version,
                    &response.broker,
                    tp.scope(),
                    p.error_code,
                    None,
                )),
                Some(p) if version == 0 => Ok(ListedOffset {
                    offset: p.old_style_offsets.first().copied().unwrap_or(-1),
                    timestamp: None,
                    leader_epoch: None,
                }),
                Some(p) => Ok(ListedOffset {
                    offset: p.offset,
                    timestamp: known(p.timestamp),
                    leader_epoch: known_epoch(p.leader_epoch),
                }),
            };
            out.push((tp, spec, result));
        }
        out
    }
}

/// Whether a partition's error says its leader moved or is not known yet: worth another
/// round after a metadata refresh.
fn retriable_leader_error(err: &Error) -> bool {
    match err {
        Error::Request { source, .. } => match source.kafka_code() {
            Some(code) => matches!(
                code,
                ErrorCode::NotLeaderOrFollower
                    | ErrorCode::LeaderNotAvailable
                    | ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownLeaderEpoch
                    | ErrorCode::OffsetNotAvailable
            ),
            // The partitions of one request no longer share a leader, or the connection failed.
            None => {
                matches!(source.root_cause(), NetError::InvalidArgument(_))
                    || (source.is_retriable() && !source.may_have_been_applied())
            }
        },
        _ => false,
    }
}

/// Every one of `keys` failed with `err`.
pub(crate) fn fail_all<'a, T>(
    api: ApiKey,
    keys: impl Iterator<Item = &'a TopicPartition>,
    err: &Error,
) -> PartitionResults<T> {
    keys.map(|tp| {
        let scope = if tp.partition < 0 && tp.topic.is_empty() {
            ErrorScope::Response
        } else {
            tp.scope()
        };
        (tp.clone(), Err(request_failed(api, &scope, err)))
    })
    .collect()
}

/// An error for each of `keys` the response did not answer.
pub(crate) fn fill_missing<'a, T>(
    out: &mut PartitionResults<T>,
    keys: impl Iterator<Item = &'a TopicPartition>,
    api: ApiKey,
    version: i16,
    broker: &BrokerRef,
) {
    for tp in keys {
        if !out.contains_key(tp) {
            out.insert(
                tp.clone(),
                Err(missing_entry(api, version, broker, tp.scope())),
            );
        }
    }
}
