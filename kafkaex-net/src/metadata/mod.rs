//! The cluster metadata cache: brokers, controller, topics and partitions, generation-counted.
//!
//! [`ClusterMetadata`] is plain data with no I/O: the [`Cluster`](crate::Cluster) sends the
//! `Metadata` requests and feeds the responses in; everything here can be tested by building
//! [`MetadataResponse`] values by hand.
//!
//! # Generations
//!
//! Metadata requests can overlap (a periodic refresh, a refresh after `NOT_LEADER_OR_FOLLOWER`)
//! and their responses can come back in any order. Each refresh therefore takes a
//! [`Generation`] from `ClusterMetadata::begin_refresh` (crate-private) *before* its request is sent, and
//! `ClusterMetadata::apply` refuses a response whose generation is older than the last one
//! applied: a slow refresh started earlier cannot overwrite what a later one brought.
//!
//! # What a response does to the cache
//!
//! - A [`RefreshKind::Full`] refresh (all topics) replaces the topic set: topics it does not
//!   list are dropped. A [`RefreshKind::Partial`] refresh (some topics) merges: topics it does
//!   not mention stay as they are. Both replace the broker list and the controller, which every
//!   Metadata response carries whole.
//! - A topic answered with `UNKNOWN_TOPIC_OR_PARTITION` is removed.
//! - A topic or partition with a retriable error (`LEADER_NOT_AVAILABLE` while a topic is being
//!   created, a leader of -1 during an election) is kept, marked as having no leader, so that
//!   lookups ask for another refresh; a later response heals it.
//! - A topic with a non-retriable error (`TOPIC_AUTHORIZATION_FAILED`, `INVALID_TOPIC_EXCEPTION`)
//!   is kept with the error, so that lookups report it instead of refreshing forever.
//! - Leader epochs never go backwards: when a lagging broker answers with an older leader epoch
//!   for a partition than the cache holds, the cached partition is kept (as Kafka's Java client
//!   does, `Metadata.updateLatestMetadata`), unless the topic id changed (the topic was deleted
//!   and re-created, so epochs start again).
//! - Hostile values do not panic: negative partition ids and nameless (or empty-named) topics are skipped,
//!   brokers with an empty host or a port outside 1-65535 are skipped, duplicate entries keep
//!   the last one, and a leader that is not in the broker list counts as no leader.
//!
//! # Invalidation
//!
//! [`ClusterMetadata::invalidate_partition`] and [`ClusterMetadata::invalidate_topic`] (after
//! `NOT_LEADER_OR_FOLLOWER`, `UNKNOWN_TOPIC_OR_PARTITION`, or a closed connection to the leader)
//! make the next [`ClusterMetadata::leader`] lookup answer [`LeaderLookup::Refresh`]. Only a
//! refresh begun *after* the invalidation clears the mark (or one bringing a newer leader
//! epoch): a response to a request sent before the broker said "not leader" may well name the
//! old leader again.
//!
//! The cache is filled by the [`Cluster`](crate::Cluster) only; callers read it:
//!
//! ```no_run
//! use kafkaex_net::metadata::LeaderLookup;
//!
//! # fn example(cluster: &kafkaex_net::Cluster) {
//! match cluster.with_metadata(|m| m.leader("events", 0)) {
//!     LeaderLookup::Leader { node_id, leader_epoch } => {
//!         println!("events-0 is led by node {node_id} (epoch {leader_epoch:?})")
//!     }
//!     LeaderLookup::Refresh { reason } => println!("not known yet: {reason}"),
//!     LeaderLookup::Error(code) => println!("events-0: {code}"),
//! }
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kafkaex_protocol::messages::metadata_response::{
    MetadataResponsePartition, MetadataResponseTopic,
};
use kafkaex_protocol::messages::MetadataResponse;
use kafkaex_protocol::{ErrorCode, Uuid};

/// The number of a metadata refresh, taken with `ClusterMetadata::begin_refresh` (crate-private) before the
/// request is sent. Later refreshes have larger numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation(u64);

impl Generation {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Whether a Metadata response answers a request for all topics or for some.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshKind {
    /// The request asked for every topic (`topics: null`): the response replaces the topic set.
    Full,
    /// The request named some topics: the response is merged, other topics are kept.
    Partial,
}

/// A response that `ClusterMetadata::apply` refused because a later refresh was already
/// applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("metadata refresh {refused} is older than refresh {applied}, which was already applied")]
pub struct StaleGeneration {
    /// The generation of the refused response.
    pub refused: Generation,
    /// The generation last applied.
    pub applied: Generation,
}

/// What applying a response changed, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataUpdate {
    /// Topics that left the cache: answered `UNKNOWN_TOPIC_OR_PARTITION`, or missing from a full
    /// refresh.
    pub removed_topics: Vec<String>,
    /// Partitions for which the response carried an older leader epoch than the cache, and whose
    /// cached state was therefore kept: (topic, partition, cached epoch, response epoch).
    pub kept_newer_epoch: Vec<(String, i32, i32, i32)>,
    /// Topics or partitions the response marked with an error: (topic, partition or `None` for
    /// the topic, error).
    pub errors: Vec<(String, Option<i32>, ErrorCode)>,
}

/// A broker of the cluster, as the metadata lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The broker's node id.
    pub node_id: i32,
    /// The advertised host.
    pub host: String,
    /// The advertised port (1-65535; brokers with other ports are not kept).
    pub port: u16,
    /// The rack, if the broker has one.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, with an IPv6 host in brackets, as [`crate::broker::BrokerConnection::connect`]
    /// takes it.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
///
/// Kept compact (one allocation for its three node lists), because a cluster may have
/// hundreds of thousands of partitions and the cache holds each one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// The partition index.
    pub partition: i32,
    /// The leader's node id; `None` when the response said -1 (no leader, e.g. during an
    /// election).
    pub leader: Option<i32>,
    /// The leader epoch; `None` when the broker did not send one (Metadata v6 and older) or sent
    /// -1.
    pub leader_epoch: Option<i32>,
    /// The error the last response carried for the partition ([`ErrorCode::None`] if none).
    pub error: ErrorCode,
    /// The replicas, then the in-sync replicas, then the offline replicas.
    nodes: Box<[i32]>,
    /// Where the in-sync replicas and the offline replicas start in `nodes`.
    isr_at: u32,
    offline_at: u32,
    /// Set by an invalidation: the counter value at that moment; a refresh with an equal or
    /// larger generation clears it.
    invalidated_at: Option<u64>,
}

impl PartitionMetadata {
    /// Whether the partition was invalidated and has not been refreshed since.
    pub fn is_invalidated(&self) -> bool {
        self.invalidated_at.is_some()
    }

    /// The replicas' node ids.
    pub fn replicas(&self) -> &[i32] {
        self.nodes.get(..self.isr_at as usize).unwrap_or_default()
    }

    /// The in-sync replicas' node ids.
    pub fn isr(&self) -> &[i32] {
        self.nodes
            .get(self.isr_at as usize..self.offline_at as usize)
            .unwrap_or_default()
    }

    /// The offline replicas' node ids.
    pub fn offline_replicas(&self) -> &[i32] {
        self.nodes
            .get(self.offline_at as usize..)
            .unwrap_or_default()
    }
}

/// One topic and its partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic id ([`Uuid::ZERO`] when the broker does not send one, Metadata v9 and older).
    pub topic_id: Uuid,
    /// Whether the topic is internal (`__consumer_offsets`, `__transaction_state`).
    pub is_internal: bool,
    /// The error the last response carried for the topic ([`ErrorCode::None`] if none).
    pub error: ErrorCode,
    /// The partitions, by index.
    partitions: Vec<PartitionMetadata>,
    /// Set by [`ClusterMetadata::invalidate_topic`], like [`PartitionMetadata`]'s mark.
    invalidated_at: Option<u64>,
}

impl TopicMetadata {
    /// Whether the topic was invalidated and has not been refreshed since.
    pub fn is_invalidated(&self) -> bool {
        self.invalidated_at.is_some()
    }

    /// The number of partitions the cache knows for the topic.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// The partitions, in index order.
    pub fn partitions(&self) -> &[PartitionMetadata] {
        &self.partitions
    }

    /// One partition.
    pub fn partition(&self, index: i32) -> Option<&PartitionMetadata> {
        self.partitions
            .binary_search_by_key(&index, |p| p.partition)
            .ok()
            .map(|at| &self.partitions[at])
    }

    fn partition_mut(&mut self, index: i32) -> Option<&mut PartitionMetadata> {
        self.partitions
            .binary_search_by_key(&index, |p| p.partition)
            .ok()
            .map(|at| &mut self.partitions[at])
    }
}

/// The answer of [`ClusterMetadata::leader`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderLookup {
    /// The partition's leader is known and in the broker list.
    Leader {
        /// The leader's node id.
        node_id: i32,
        /// The leader epoch, when the broker sent one.
        leader_epoch: Option<i32>,
    },
    /// The cache cannot say: the topic or partition is not cached, was invalidated, or has no
    /// leader (or one missing from the broker list). Refresh the topic and look again. `reason`
    /// is the Kafka error this amounts to (`UNKNOWN_TOPIC_OR_PARTITION`,
    /// `LEADER_NOT_AVAILABLE`, `NOT_LEADER_OR_FOLLOWER` for an invalidation), so that a caller
    /// who runs out of time can report it.
    Refresh {
        /// Why the leader is unknown.
        reason: ErrorCode,
    },
    /// The last response carried a non-retriable error for the topic or partition (for example
    /// `TOPIC_AUTHORIZATION_FAILED`): refreshing will not help.
    Error(ErrorCode),
}

/// The cluster metadata cache. See the [module documentation](self).
#[derive(Clone, Debug, Default)]
pub struct ClusterMetadata {
    brokers: BTreeMap<i32, BrokerInfo>,
    controller_id: Option<i32>,
    cluster_id: Option<String>,
    topics: BTreeMap<String, TopicMetadata>,
    /// The next generation `ClusterMetadata::begin_refresh` (crate-private) hands out.
    next_generation: u64,
    /// The generation of the last applied response.
    applied: Option<Generation>,
}

impl ClusterMetadata {
    /// An empty cache: no brokers, no topics, nothing applied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a refresh: call it *before* sending the Metadata request, and pass the generation
    /// to `ClusterMetadata::apply` with the response.
    pub(crate) fn begin_refresh(&mut self) -> Generation {
        let generation = Generation(self.next_generation);
        self.next_generation = self.next_generation.saturating_add(1);
        generation
    }

    /// The generation of the last applied response, `None` before the first.
    pub fn applied_generation(&self) -> Option<Generation> {
        self.applied
    }

    /// Applies a Metadata response taken with `generation` (see the
    /// [module documentation](self) for what it changes).
    ///
    /// Fails with [`StaleGeneration`], changing nothing, when a response of a later generation
    /// was already applied.
    pub(crate) fn apply(
        &mut self,
        generation: Generation,
        kind: RefreshKind,
        response: &MetadataResponse,
    ) -> Result<MetadataUpdate, StaleGeneration> {
        if let Some(applied) = self.applied {
            if generation < applied {
                return Err(StaleGeneration {
                    refused: generation,
                    applied,
                });
            }
        }
        // A generation this cache never handed out (a caller's mistake, or a second cache):
        // keep later `begin_refresh` calls after it so the ordering stays meaningful.
        if generation.0 >= self.next_generation {
            self.next_generation = generation.0.saturating_add(1);
        }
        self.applied = Some(generation);

        self.brokers = response
            .brokers
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok().filter(|p| *p != 0)?;
                if b.host.is_empty() {
                    return None;
                }
                Some((
                    b.node_id,
                    BrokerInfo {
                        node_id: b.node_id,
                        host: b.host.clone(),
                        port,
                        rack: b.rack.clone(),
                    },
                ))
            })
            .collect();
        self.controller_id = (response.controller_id >= 0).then_some(response.controller_id);
        if response.cluster_id.is_some() {
            self.cluster_id = response.cluster_id.clone();
        }

        let mut update = MetadataUpdate::default();
        let mut seen = BTreeSet::new();
        for topic in &response.topics {
            let Some(name) = topic.name.as_deref().filter(|n| !n.is_empty()) else {
                continue;
            };
            seen.insert(name.to_owned());
            self.apply_topic(generation, name, topic, &mut update);
        }
        if kind == RefreshKind::Full {
            let gone: Vec<String> = self
                .topics
                .keys()
                .filter(|name| !seen.contains(*name))
                .cloned()
                .collect();
            for name in gone {
                self.topics.remove(&name);
                update.removed_topics.push(name);
            }
        }
        Ok(update)
    }

    fn apply_topic(
        &mut self,
        generation: Generation,
        name: &str,
        topic: &MetadataResponseTopic,
        update: &mut MetadataUpdate,
    ) {
        let error = topic.error_code;
        if !error.is_ok() {
            update.errors.push((name.to_owned(), None, error));
        }
        if error == ErrorCode::UnknownTopicOrPartition {
            if self.topics.remove(name).is_some() {
                update.removed_topics.push(name.to_owned());
            }
            return;
        }
        if !error.is_ok() && topic.partitions.is_empty() {
            // A topic-level error without partitions: auto-creation in progress
            // (LEADER_NOT_AVAILABLE), or a non-retriable error such as an authorization failure.
            let entry = self
                .topics
                .entry(name.to_owned())
                .or_insert_with(|| TopicMetadata {
                    topic_id: topic.topic_id,
                    is_internal: topic.is_internal,
                    error,
                    partitions: Vec::new(),
                    invalidated_at: None,
                });
            entry.error = error;
            if !error.is_retriable() {
                // Nothing cached for it can be used any more.
                entry.partitions.clear();
            }
            if clears(entry.invalidated_at, generation) {
                entry.invalidated_at = None;
            }
            return;
        }

        let previous = self.topics.remove(name);
        // A topic-level invalidation survives a refresh begun before it.
        let topic_mark = previous
            .as_ref()
            .and_then(|p| p.invalidated_at)
            .filter(|mark| !clears(Some(*mark), generation));
        let same_topic = match &previous {
            Some(p) => {
                p.topic_id == Uuid::ZERO
                    || topic.topic_id == Uuid::ZERO
                    || p.topic_id == topic.topic_id
            }
            None => true,
        };
        let mut old_partitions: BTreeMap<i32, PartitionMetadata> = match previous {
            Some(p) if same_topic => p.partitions.into_iter().map(|p| (p.partition, p)).collect(),
            _ => BTreeMap::new(),
        };
        let mut partitions: Vec<PartitionMetadata> = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            if p.partition_index < 0 {
                continue;
            }
            let fresh = partition_from(p);
            if !fresh.error.is_ok() {
                update
                    .errors
                    .push((name.to_owned(), Some(fresh.partition), fresh.error));
            }
            let kept = match old_partitions.remove(&p.partition_index) {
                Some(old) => merge_partition(old, fresh, generation, name, update),
                None => fresh,
            };
            partitions.push(kept);
        }
        // Sorted by index, duplicates keeping the last, as a map would.
        partitions.reverse();
        partitions.sort_by_key(|p| p.partition);
        partitions.dedup_by_key(|p| p.partition);
        partitions.shrink_to_fit();
        self.topics.insert(
            name.to_owned(),
            TopicMetadata {
                topic_id: topic.topic_id,
                is_internal: topic.is_internal,
                error,
                partitions,
                invalidated_at: topic_mark,
            },
        );
    }

    /// The brokers, by node id.
    pub fn brokers(&self) -> &BTreeMap<i32, BrokerInfo> {
        &self.brokers
    }

    /// One broker.
    pub fn broker(&self, node_id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&node_id)
    }

    /// The controller's node id as the last response gave it (`None` for -1). KRaft brokers
    /// report a random live broker here, to which admin requests are sent; that is what Kafka's
    /// clients route "controller" requests to.
    pub fn controller_id(&self) -> Option<i32> {
        self.controller_id
    }

    /// The controller's broker, when its id is in the broker list.
    pub fn controller(&self) -> Option<&BrokerInfo> {
        self.controller_id.and_then(|id| self.brokers.get(&id))
    }

    /// The cluster id, once a response (Metadata v2+) carried one.
    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    /// The cached topics, by name.
    pub fn topics(&self) -> &BTreeMap<String, TopicMetadata> {
        &self.topics
    }

    /// One cached topic.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name)
    }

    /// One cached partition.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMetadata> {
        self.topics.get(topic)?.partition(partition)
    }

    /// The name of the cached topic with this id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&str> {
        if id == Uuid::ZERO {
            return None;
        }
        self.topics
            .iter()
            .find(|(_, t)| t.topic_id == id)
            .map(|(name, _)| name.as_str())
    }

    /// The leader of `topic`/`partition`, or why the cache cannot name it.
    pub fn leader(&self, topic: &str, partition: i32) -> LeaderLookup {
        let Some(t) = self.topics.get(topic) else {
            return LeaderLookup::Refresh {
                reason: ErrorCode::UnknownTopicOrPartition,
            };
        };
        if !t.error.is_ok() && !t.error.is_retriable() {
            return LeaderLookup::Error(t.error);
        }
        if t.invalidated_at.is_some() {
            return LeaderLookup::Refresh {
                reason: ErrorCode::NotLeaderOrFollower,
            };
        }
        let Some(p) = t.partition(partition) else {
            return LeaderLookup::Refresh {
                reason: if t.error.is_ok() {
                    ErrorCode::UnknownTopicOrPartition
                } else {
                    t.error
                },
            };
        };
        if !p.error.is_ok() && !p.error.is_retriable() {
            return LeaderLookup::Error(p.error);
        }
        if p.invalidated_at.is_some() {
            return LeaderLookup::Refresh {
                reason: ErrorCode::NotLeaderOrFollower,
            };
        }
        match p.leader {
            Some(node_id) if self.brokers.contains_key(&node_id) => LeaderLookup::Leader {
                node_id,
                leader_epoch: p.leader_epoch,
            },
            _ => LeaderLookup::Refresh {
                reason: ErrorCode::LeaderNotAvailable,
            },
        }
    }

    /// The number of partitions cached for `topic`.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics.get(topic).map(TopicMetadata::partition_count)
    }

    /// Marks one partition as needing a refresh (after `NOT_LEADER_OR_FOLLOWER`, or a failed
    /// connection to its leader). A partition not in the cache needs no mark.
    pub fn invalidate_partition(&mut self, topic: &str, partition: i32) {
        let mark = self.next_generation;
        if let Some(p) = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.partition_mut(partition))
        {
            p.invalidated_at = Some(mark);
        }
    }

    /// Marks a whole topic as needing a refresh (after `UNKNOWN_TOPIC_OR_PARTITION`).
    pub fn invalidate_topic(&mut self, topic: &str) {
        let mark = self.next_generation;
        if let Some(t) = self.topics.get_mut(topic) {
            t.invalidated_at = Some(mark);
        }
    }

    /// The topics a refresh should ask for: those invalidated, with an invalidated partition, or
    /// with a partition or topic that has no usable leader.
    pub fn topics_needing_refresh(&self) -> Vec<String> {
        self.topics
            .iter()
            .filter(|(_, t)| {
                t.invalidated_at.is_some()
                    || (!t.error.is_ok() && t.error.is_retriable())
                    || t.partitions.iter().any(|p| {
                        p.invalidated_at.is_some()
                            || p.leader.is_none_or(|l| !self.brokers.contains_key(&l))
                    })
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Whether a refresh of `generation` clears an invalidation made when the counter stood at
/// `mark`: only a refresh begun at or after the invalidation does.
fn clears(mark: Option<u64>, generation: Generation) -> bool {
    mark.is_some_and(|m| generation.0 >= m)
}

fn partition_from(p: &MetadataResponsePartition) -> PartitionMetadata {
    let mut nodes =
        Vec::with_capacity(p.replica_nodes.len() + p.isr_nodes.len() + p.offline_replicas.len());
    nodes.extend_from_slice(&p.replica_nodes);
    let isr_at = nodes.len();
    nodes.extend_from_slice(&p.isr_nodes);
    let offline_at = nodes.len();
    nodes.extend_from_slice(&p.offline_replicas);
    // The lists come from a decoded frame of at most `max_response_size` bytes, four bytes a
    // node id: far below u32::MAX entries.
    PartitionMetadata {
        partition: p.partition_index,
        leader: (p.leader_id >= 0).then_some(p.leader_id),
        leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
        error: p.error_code,
        nodes: nodes.into_boxed_slice(),
        isr_at: u32::try_from(isr_at).unwrap_or(u32::MAX),
        offline_at: u32::try_from(offline_at).unwrap_or(u32::MAX),
        invalidated_at: None,
    }
}

/// The partition to keep when a response brings `fresh` for a cached `old`.
fn merge_partition(
    old: PartitionMetadata,
    mut fresh: PartitionMetadata,
    generation: Generation,
    topic: &str,
    update: &mut MetadataUpdate,
) -> PartitionMetadata {
    match (old.leader_epoch, fresh.leader_epoch) {
        (Some(cached), Some(answered)) if answered < cached => {
            // A lagging broker: keep what we know, including any invalidation, so that the next
            // lookup asks again (hopefully of a broker that has caught up).
            update
                .kept_newer_epoch
                .push((topic.to_owned(), old.partition, cached, answered));
            old
        }
        (Some(cached), Some(answered)) if answered > cached => fresh,
        _ => {
            // Same epoch, or no epochs to compare (old brokers): take the response, but keep an
            // invalidation that this refresh began too early to answer.
            if !clears(old.invalidated_at, generation) {
                fresh.invalidated_at = old.invalidated_at;
            }
            fresh
        }
    }
}

#[cfg(test)]
mod tests;
