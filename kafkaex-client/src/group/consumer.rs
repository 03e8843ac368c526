//! The group consumer: a [`Consumer`] whose partitions a consumer group (the classic protocol)
//! assigns, with rebalance events in its stream and offsets committed for the group.
//!
//! ```no_run
//! use kafkaex_client::group::{GroupConsumer, GroupEvent};
//! use kafkaex_client::Client;
//!
//! # async fn example() -> Result<(), kafkaex_client::Error> {
//! let client = Client::builder().bootstrap(["localhost:9092"]).build().await?;
//! let mut consumer = client.group_consumer("billing").subscribe(["orders"]).build()?;
//! while let Some(event) = consumer.next().await {
//!     match event? {
//!         GroupEvent::Records(batch) => {
//!             for record in &batch {
//!                 println!("{}@{}", record.partition, record.offset);
//!             }
//!             consumer.mark(&batch);
//!         }
//!         GroupEvent::Revoking(revoking) => {
//!             consumer.commit_marked().await?; // before the partitions go
//!             revoking.ack();
//!         }
//!         _ => {} // Assigned, Lost (and events of later versions)
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Membership
//!
//! A task of its own joins the group, syncs, and heartbeats every `heartbeat.interval.ms`,
//! whatever the caller does (as Java's heartbeat thread): slow processing never costs the
//! membership, only a rebalance waits for the caller (for at most the rebalance timeout,
//! Java's `max.poll.interval.ms`).
//!
//! - JoinGroup with an empty member id first gets `MEMBER_ID_REQUIRED` and the id to join
//!   with (KIP-394); a static member (`group.instance.id`) joins with its instance id, and
//!   does not leave the group on close, so that a restart within the session timeout gets its
//!   partitions back without a rebalance (KIP-345).
//! - The leader runs the assignor the broker chose among the members' lists, on the
//!   subscriptions in the JoinGroup response, and sends every member's assignment in SyncGroup.
//! - Eager assignors (`range`, `roundrobin`, `sticky`; Java's default list runs `range`,
//!   eager): every owned partition is revoked before rejoining. Cooperative ones
//!   (`cooperative-sticky` alone): only the partitions the new assignment takes away are
//!   revoked, and the member rejoins at once so that they can be handed over in a second
//!   round; a partition is never owned by two members in one generation.
//! - Errors follow the research's table (Java's `AbstractCoordinator`): `REBALANCE_IN_PROGRESS`
//!   rejoins; `ILLEGAL_GENERATION` and `UNKNOWN_MEMBER_ID` lose the partitions (a
//!   [`GroupEvent::Lost`]) and rejoin, the latter with a fresh member id; coordinator moves and
//!   loads back off and rediscover (the connection layer's routing); `FENCED_INSTANCE_ID`,
//!   `GROUP_AUTHORIZATION_FAILED`, `INCONSISTENT_GROUP_PROTOCOL`, `GROUP_MAX_SIZE_REACHED`
//!   and `INVALID_SESSION_TIMEOUT` are fatal: the stream yields the error and ends.
//!
//! # Rebalance events, in the stream
//!
//! [`GroupEvent::Assigned`], [`GroupEvent::Revoking`] and [`GroupEvent::Lost`] come in the same
//! stream as the records, in order: a revocation is seen after the last records of its
//! partitions and before any of their next owner's, and no record of a partition being revoked
//! is returned after it (its buffered records are dropped). The rebalance waits until the
//! [`Revoking`] is acknowledged (or dropped), so the caller can finish and commit first. The
//! stream, not a listener trait, is the primary shape: nothing runs on the membership task,
//! nothing re-enters the consumer, and awaiting a commit before acknowledging is ordinary
//! `async` code (the research's recommendation).
//!
//! # Offsets
//!
//! A partition starts at the group's committed offset, else at `auto.offset.reset`. With
//! auto-commit (on by default, every 5 s as Java) the positions (the last record returned + 1)
//! are committed with their leader epoch on the interval, on revocation and on close; without
//! it, [`GroupConsumer::commit`] commits the positions and [`GroupConsumer::mark`] /
//! [`GroupConsumer::commit_marked`] commit what the caller marked as processed. Commits carry
//! the generation, member id and instance id.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use kafkaex_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafkaex_protocol::messages::leave_group_request::MemberIdentity;
use kafkaex_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafkaex_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, SyncGroupRequest,
};
use kafkaex_protocol::ErrorCode;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;

use super::assignor::{
    default_assignors, rebalance_protocol, Assignor, MemberSubscription, RebalanceProtocol,
};
use super::protocol::{Assignment, Subscription, NO_GENERATION, PROTOCOL_TYPE};
use crate::client::Client;
use crate::consumer::fetcher::sleep_until;
use crate::consumer::{
    Consumer, ConsumerConfig, OffsetReset, PartitionRecords, StartOffset, TopicPartition,
};
use crate::error::{Error, Result};
use crate::offsets::{CommitOffset, CommitOptions, FetchOffsetsOptions, GroupMember};

/// How a [`GroupConsumer`] takes part in its group. Defaults are the Java client's.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GroupConfig {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id`: a static member.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms` (45 s).
    pub session_timeout: Duration,
    /// The rebalance timeout: how long the group waits for a member to rejoin, and how long a
    /// revocation may wait for the caller (`max.poll.interval.ms`, 300 s).
    pub rebalance_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
    /// `enable.auto.commit` with `auto.commit.interval.ms` (5 s); `None`: no auto-commit.
    pub auto_commit_interval: Option<Duration>,
    /// `partition.assignment.strategy` in order of preference (Java's default:
    /// `[range, cooperative-sticky]`).
    pub assignors: Vec<Arc<dyn Assignor>>,
    /// The wait after a failed group request (`retry.backoff.ms`, 100 ms).
    pub retry_backoff: Duration,
}

impl Default for GroupConfig {
    /// The defaults with an empty group id (what [`crate::Config`] holds until `group.id`).
    fn default() -> Self {
        Self::new("")
    }
}

impl GroupConfig {
    /// The defaults for `group_id`.
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            group_instance_id: None,
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
            auto_commit_interval: Some(Duration::from_secs(5)),
            assignors: default_assignors(),
            retry_backoff: Duration::from_millis(100),
        }
    }
}

/// Builds a [`GroupConsumer`]; from [`Client::group_consumer`].
#[derive(Clone, Debug)]
pub struct GroupConsumerBuilder {
    client: Client,
    group: GroupConfig,
    consumer: ConsumerConfig,
    topics: Vec<String>,
    pattern: Option<regex::Regex>,
    membership_only: bool,
}

impl GroupConsumerBuilder {
    pub(crate) fn new(client: Client, group_id: String) -> Self {
        Self {
            client,
            group: GroupConfig::new(group_id),
            consumer: ConsumerConfig::default(),
            topics: Vec::new(),
            pattern: None,
            membership_only: false,
        }
    }

    /// Membership only: the consumer joins, syncs, heartbeats and reports
    /// [`GroupEvent::Assigned`] / [`GroupEvent::Revoking`] / [`GroupEvent::Lost`] as usual, but
    /// looks up no committed offsets and fetches nothing: the caller reads and commits the
    /// assigned partitions itself, at the versions and with the offset storage it chooses (as
    /// KafkaEx's per-partition consumers do). [`GroupEvent::Assigned`] comes after every
    /// successful SyncGroup, also with an empty list. The stream yields no records, and auto-commit,
    /// [`GroupConsumer::commit`] and [`GroupConsumer::commit_marked`] have nothing to commit.
    pub fn membership_only(mut self, only: bool) -> Self {
        self.membership_only = only;
        self
    }

    /// Subscribes to every topic whose whole name matches `pattern` (a regular expression, as
    /// Java's `subscribe(Pattern)`), checked against the cluster's topics at every join and
    /// every metadata max age (`metadata.max.age.ms`): a topic created or deleted later
    /// rejoins the group with the new list. Replaces [`GroupConsumerBuilder::subscribe`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a pattern that is not a valid regular expression.
    pub fn subscribe_pattern(mut self, pattern: &str) -> Result<Self> {
        let anchored = format!("^(?:{pattern})$");
        let re = regex::Regex::new(&anchored)
            .map_err(|e| Error::config("subscribe_pattern", e.to_string()))?;
        self.pattern = Some(re);
        self.topics.clear();
        Ok(self)
    }

    /// The topics to consume.
    pub fn subscribe<S: Into<String>>(mut self, topics: impl IntoIterator<Item = S>) -> Self {
        self.topics = topics.into_iter().map(Into::into).collect();
        self
    }

    /// The group settings (replaces what was set before; an empty `group_id` in them keeps
    /// the one given to [`Client::group_consumer`]), e.g. [`crate::Config::group`] from Java
    /// properties.
    pub fn group_config(mut self, mut config: GroupConfig) -> Self {
        if config.group_id.is_empty() {
            config.group_id = std::mem::take(&mut self.group.group_id);
        }
        self.group = config;
        self
    }

    /// The fetching settings.
    pub fn consumer_config(mut self, config: ConsumerConfig) -> Self {
        self.consumer = config;
        self
    }

    /// `group.instance.id`: a static member.
    pub fn static_id(mut self, id: impl Into<String>) -> Self {
        self.group.group_instance_id = Some(id.into());
        self
    }

    /// `partition.assignment.strategy`.
    pub fn assignors(mut self, assignors: Vec<Arc<dyn Assignor>>) -> Self {
        self.group.assignors = assignors;
        self
    }

    /// `session.timeout.ms`.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.group.session_timeout = timeout;
        self
    }

    /// `heartbeat.interval.ms`.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.group.heartbeat_interval = interval;
        self
    }

    /// The rebalance timeout (`max.poll.interval.ms`).
    pub fn rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.group.rebalance_timeout = timeout;
        self
    }

    /// Auto-commit every `interval`, or `None` for none.
    pub fn auto_commit(mut self, interval: Option<Duration>) -> Self {
        self.group.auto_commit_interval = interval;
        self
    }

    /// `auto.offset.reset`: where a partition without a committed offset starts.
    pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.consumer.auto_offset_reset = reset;
        self
    }

    /// Starts the consumer and its membership task.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an empty group id or topic list, no assignor, assignors without a
    /// common rebalance protocol, a heartbeat interval not below the session timeout, or
    /// fetching settings that cannot work.
    pub fn build(self) -> Result<GroupConsumer> {
        let g = &self.group;
        if g.group_id.is_empty() {
            return Err(Error::config("group.id", "must not be empty"));
        }
        if self.pattern.is_none()
            && (self.topics.is_empty() || self.topics.iter().any(String::is_empty))
        {
            return Err(Error::config("subscribe", "at least one topic, none empty"));
        }
        if g.heartbeat_interval >= g.session_timeout {
            return Err(Error::config(
                "heartbeat.interval.ms",
                "must be below session.timeout.ms",
            ));
        }
        let protocol = rebalance_protocol(&g.assignors)
            .map_err(|e| Error::config("partition.assignment.strategy", e.to_string()))?;
        let consumer = self
            .client
            .consumer()
            .config(self.consumer.clone())
            .build()?;
        let mut topics = self.topics;
        topics.sort();
        topics.dedup();
        let shared = Arc::new(GroupShared {
            client: self.client,
            config: self.group,
            reset: self.consumer.auto_offset_reset,
            topics: Mutex::new(topics),
            pattern: self.pattern,
            protocol,
            member: Mutex::new(Member {
                member_id: String::new(),
                generation: NO_GENERATION,
                leader_id: String::new(),
            }),
            membership_only: self.membership_only,
            closing: AtomicBool::new(false),
            close: Notify::new(),
            group_client: tokio::sync::OnceCell::new(),
        });
        let (tx, control) = mpsc::unbounded_channel();
        let task = tokio::spawn(membership(Arc::clone(&shared), tx));
        Ok(GroupConsumer {
            consumer,
            shared,
            control,
            task,
            owned: BTreeSet::new(),
            marked: BTreeMap::new(),
            next_commit: None,
            pending: VecDeque::new(),
            ended: false,
        })
    }
}

/// What the stream of a [`GroupConsumer`] yields.
#[derive(Debug)]
#[non_exhaustive]
pub enum GroupEvent {
    /// Records of one partition, in order.
    Records(PartitionRecords),
    /// These partitions are now this member's (records of them follow).
    Assigned(Vec<TopicPartition>),
    /// These partitions are being taken away: none of their records come after this. Commit
    /// what must be committed, then acknowledge (or drop) it so the rebalance goes on.
    Revoking(Revoking),
    /// These partitions were lost without a chance to commit (the member fell out of the
    /// generation: a session timeout, `ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`); another
    /// member may already own them.
    Lost(Vec<TopicPartition>),
}

/// Partitions being revoked; the rebalance waits for [`Revoking::ack`] or the drop of this.
#[derive(Debug)]
pub struct Revoking {
    /// The partitions.
    pub partitions: Vec<TopicPartition>,
    done: Option<oneshot::Sender<()>>,
}

impl Revoking {
    /// Lets the rebalance go on.
    pub fn ack(self) {
        // Dropping it is what lets the rebalance go on (see `Drop`).
    }
}

impl Drop for Revoking {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

/// What the membership task asks of the consumer side.
enum Control {
    Assign(Vec<(TopicPartition, StartOffset)>),
    Revoke(Vec<TopicPartition>, oneshot::Sender<()>),
    Lost(Vec<TopicPartition>),
    Failed(Error),
    Fatal(Error),
}

#[derive(Debug)]
struct Member {
    member_id: String,
    generation: i32,
    /// The leader of the generation in `generation` (empty before the first).
    leader_id: String,
}

#[derive(Debug)]
struct GroupShared {
    client: Client,
    config: GroupConfig,
    reset: OffsetReset,
    /// The subscription: the topics given, or those the pattern matched at the last check.
    topics: Mutex<Vec<String>>,
    pattern: Option<regex::Regex>,
    protocol: RebalanceProtocol,
    /// Assigned partitions are neither looked up nor fetched (see
    /// [`GroupConsumerBuilder::membership_only`]).
    membership_only: bool,
    member: Mutex<Member>,
    closing: AtomicBool,
    close: Notify,
    /// The membership's own connections: a JoinGroup is held by the coordinator until every
    /// member has joined, and on a connection shared with other members or requests it would
    /// hold up everything behind it (a broker answers a connection's requests in order).
    group_client: tokio::sync::OnceCell<Client>,
}

impl GroupShared {
    fn member(&self) -> MutexGuard<'_, Member> {
        self.member.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The membership's client (connected on first use, with the user's client's settings).
    async fn group_client(&self) -> Result<&Client> {
        self.group_client
            .get_or_try_init(|| Client::connect(self.client.config().clone()))
            .await
    }

    fn topics(&self) -> Vec<String> {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// With a pattern: the cluster's topics it matches now (sorted); whether they changed.
    async fn match_pattern(&self) -> Result<bool> {
        let Some(re) = &self.pattern else {
            return Ok(false);
        };
        let client = self.group_client().await?;
        client
            .cluster()
            .refresh_metadata_with(None, false)
            .await
            .map_err(|e| {
                Error::request(
                    crate::error::RequestContext::api(kafkaex_protocol::ApiKey::Metadata),
                    e,
                )
            })?;
        let mut matched: Vec<String> = client
            .metadata()
            .topics()
            .keys()
            .filter(|t| re.is_match(t))
            .cloned()
            .collect();
        matched.sort();
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if *topics == matched {
            return Ok(false);
        }
        tracing::debug!(group = %self.config.group_id, topics = ?matched, "the pattern matches other topics now");
        *topics = matched;
        Ok(true)
    }

    fn group_member(&self) -> GroupMember {
        let m = self.member();
        GroupMember {
            generation_id: m.generation,
            member_id: m.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        }
    }
}

/// A consumer in a consumer group; see the [module documentation](self).
#[derive(Debug)]
pub struct GroupConsumer {
    consumer: Consumer,
    shared: Arc<GroupShared>,
    control: mpsc::UnboundedReceiver<Control>,
    task: tokio::task::JoinHandle<()>,
    owned: BTreeSet<TopicPartition>,
    marked: BTreeMap<TopicPartition, (i64, Option<i32>)>,
    next_commit: Option<Instant>,
    pending: VecDeque<GroupEvent>,
    ended: bool,
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        // A dropped member does not leave: the group notices at the session timeout.
        self.task.abort();
    }
}

impl GroupConsumer {
    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.shared.config.group_id
    }

    /// The member id (empty before the first join).
    pub fn member_id(&self) -> String {
        self.shared.member().member_id.clone()
    }

    /// The generation of the current assignment (-1 before the first).
    pub fn generation_id(&self) -> i32 {
        self.shared.member().generation
    }

    /// The member id of the generation's leader (empty before the first generation).
    pub fn leader_id(&self) -> String {
        self.shared.member().leader_id.clone()
    }

    /// A handle on the membership, readable from other tasks.
    pub fn membership(&self) -> Membership {
        Membership {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The partitions this member owns now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.owned.iter().cloned().collect()
    }

    /// The consumer underneath (positions, pause and resume).
    pub fn consumer(&mut self) -> &mut Consumer {
        &mut self.consumer
    }

    /// The next event: records, or a change of the assignment. `None` once closed or after a
    /// fatal error (which comes first as `Some(Err(..))`).
    ///
    /// Cancel-safe (it can be a `select!` branch): an event taken is never lost; a call dropped
    /// while an auto-commit (or the commit of a revocation) is awaited skips that commit.
    pub async fn next(&mut self) -> Option<Result<GroupEvent>> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(Ok(e));
            }
            if self.ended {
                return None;
            }
            if let Some(at) = self.next_commit {
                if Instant::now() >= at {
                    self.auto_commit().await;
                }
            } else if let Some(every) = self.shared.config.auto_commit_interval {
                self.next_commit = Some(Instant::now() + every);
            }
            let commit_at = self.next_commit;
            tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(c) => {
                        if let Some(out) = self.on_control(c).await {
                            return Some(out);
                        }
                    }
                    None => return None,
                },
                batch = self.consumer.next_batch() => match batch {
                    Some(Ok(batch)) => return Some(Ok(GroupEvent::Records(batch))),
                    Some(Err(e)) => return Some(Err(e)),
                    None => return None,
                },
                _ = sleep_until(commit_at) => {}
            }
        }
    }

    async fn on_control(&mut self, control: Control) -> Option<Result<GroupEvent>> {
        match control {
            Control::Assign(parts) => {
                let tps: Vec<TopicPartition> = parts.iter().map(|(tp, _)| tp.clone()).collect();
                if !self.shared.membership_only {
                    if let Err(e) = self.consumer.assign(parts) {
                        return Some(Err(e));
                    }
                }
                self.owned.extend(tps.iter().cloned());
                Some(Ok(GroupEvent::Assigned(tps)))
            }
            Control::Revoke(tps, done) => {
                // Cancel-safe: the partitions go and the event is queued before the commit's
                // await, so a `next()` dropped there loses at most that commit.
                let offsets = self
                    .shared
                    .config
                    .auto_commit_interval
                    .map(|_| self.positions(&tps));
                self.drop_partitions(&tps);
                self.pending.push_back(GroupEvent::Revoking(Revoking {
                    partitions: tps,
                    done: Some(done),
                }));
                if let Some(offsets) = offsets {
                    if let Err(e) = self.commit_offsets(offsets).await {
                        tracing::warn!(group = %self.shared.config.group_id, error = %e, "commit on revocation failed");
                    }
                }
                None
            }
            Control::Lost(tps) => {
                self.drop_partitions(&tps);
                Some(Ok(GroupEvent::Lost(tps)))
            }
            Control::Failed(e) => Some(Err(e)),
            Control::Fatal(e) => {
                self.ended = true;
                Some(Err(e))
            }
        }
    }

    fn drop_partitions(&mut self, tps: &[TopicPartition]) {
        self.consumer.unassign(tps.iter());
        for tp in tps {
            self.owned.remove(tp);
            self.marked.remove(tp);
        }
    }

    /// The positions (next offset to read) of `tps`, with the leader epoch of the last record.
    fn positions(&self, tps: &[TopicPartition]) -> Vec<(TopicPartition, CommitOffset)> {
        tps.iter()
            .filter_map(|tp| {
                let offset = self.consumer.position(tp)?;
                Some((
                    tp.clone(),
                    CommitOffset {
                        offset,
                        leader_epoch: self.consumer.last_epoch(tp),
                        metadata: None,
                    },
                ))
            })
            .collect()
    }

    async fn auto_commit(&mut self) {
        if let Some(every) = self.shared.config.auto_commit_interval {
            self.next_commit = Some(Instant::now() + every);
        }
        let owned: Vec<TopicPartition> = self.owned.iter().cloned().collect();
        let offsets = self.positions(&owned);
        if let Err(e) = self.commit_offsets(offsets).await {
            tracing::warn!(group = %self.shared.config.group_id, error = %e, "auto-commit failed");
        }
    }

    async fn commit_offsets(&self, offsets: Vec<(TopicPartition, CommitOffset)>) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let member = self.shared.group_member();
        let results = self
            .shared
            .group_client()
            .await?
            .admin()
            .commit_offsets(
                &self.shared.config.group_id,
                offsets,
                &CommitOptions::default().member(member),
            )
            .await?;
        results
            .into_values()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// Commits the position of every owned partition (the last record returned + 1), as the
    /// group's current member; awaits the coordinator's answer.
    ///
    /// # Errors
    ///
    /// The first partition's error: `REBALANCE_IN_PROGRESS`, `ILLEGAL_GENERATION` or
    /// `UNKNOWN_MEMBER_ID` when the group moved on (the member rejoins by itself), or a
    /// request error.
    pub async fn commit(&mut self) -> Result<()> {
        let owned: Vec<TopicPartition> = self.owned.iter().cloned().collect();
        let offsets = self.positions(&owned);
        self.commit_offsets(offsets).await
    }

    /// Marks a batch as processed: [`GroupConsumer::commit_marked`] commits its
    /// `next_offset`.
    pub fn mark(&mut self, batch: &PartitionRecords) {
        let tp = TopicPartition::new(batch.topic.to_string(), batch.partition);
        if self.owned.contains(&tp) {
            let epoch = batch.records.last().and_then(|r| r.leader_epoch);
            self.marked.insert(tp, (batch.next_offset, epoch));
        }
    }

    /// Commits what was marked since the last commit of marks.
    ///
    /// # Errors
    ///
    /// As [`GroupConsumer::commit`].
    pub async fn commit_marked(&mut self) -> Result<()> {
        let offsets: Vec<(TopicPartition, CommitOffset)> = std::mem::take(&mut self.marked)
            .into_iter()
            .map(|(tp, (offset, leader_epoch))| {
                (
                    tp,
                    CommitOffset {
                        offset,
                        leader_epoch,
                        metadata: None,
                    },
                )
            })
            .collect();
        self.commit_offsets(offsets).await
    }

    /// Leaves the group: commits the positions (with auto-commit), then, for a dynamic member,
    /// sends LeaveGroup so the others take the partitions over at once (a static member keeps
    /// them for a restart within the session timeout).
    pub async fn close(mut self) {
        if self.shared.config.auto_commit_interval.is_some() {
            self.auto_commit().await;
        }
        self.shared.closing.store(true, Ordering::Release);
        self.shared.close.notify_one();
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let give_up = self.shared.config.session_timeout;
        let _ = tokio::time::timeout(give_up, task).await;
    }
}

/// A handle on a [`GroupConsumer`]'s membership ([`GroupConsumer::membership`]): cheap to
/// clone, readable from any task while the consumer runs.
#[derive(Clone, Debug)]
pub struct Membership {
    shared: Arc<GroupShared>,
}

impl Membership {
    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.shared.config.group_id
    }

    /// The member id (empty before the first join).
    pub fn member_id(&self) -> String {
        self.shared.member().member_id.clone()
    }

    /// The generation of the current assignment (-1 before the first).
    pub fn generation_id(&self) -> i32 {
        self.shared.member().generation
    }

    /// The member id of the current generation's leader (empty before the first).
    pub fn leader_id(&self) -> String {
        self.shared.member().leader_id.clone()
    }

    /// Whether this member leads the current generation.
    pub fn is_leader(&self) -> bool {
        let m = self.shared.member();
        !m.leader_id.is_empty() && m.leader_id == m.member_id
    }
}

/// Fatal join errors (the research's table).
fn fatal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::FencedInstanceId
            | ErrorCode::InconsistentGroupProtocol
            | ErrorCode::GroupMaxSizeReached
            | ErrorCode::InvalidSessionTimeout
            | ErrorCode::GroupAuthorizationFailed
            | ErrorCode::UnsupportedVersion
    )
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// How a joined generation ended.
enum Outcome {
    /// Rejoin (a rebalance, or a revocation to hand partitions over).
    Rejoin,
    /// The member fell out of its generation: its partitions are lost.
    Lost { reset_member_id: bool },
    /// Closing.
    Close,
    /// The group fenced this member out for good.
    Fatal(Error),
}

/// The membership task: join, sync, assign, heartbeat, in a loop, until closed or fatal.
async fn membership(shared: Arc<GroupShared>, tx: mpsc::UnboundedSender<Control>) {
    let mut owned: BTreeSet<TopicPartition> = BTreeSet::new();
    let backoff = shared.config.retry_backoff;
    loop {
        if shared.closing.load(Ordering::Acquire) {
            leave(&shared).await;
            return;
        }
        // Eager: everything owned is given up before joining.
        if shared.protocol == RebalanceProtocol::Eager && !owned.is_empty() {
            let all: Vec<TopicPartition> = std::mem::take(&mut owned).into_iter().collect();
            revoke(&shared, &tx, all).await;
        }
        let joined = match join(&shared, &owned).await {
            Ok(j) => j,
            Err(e) => match e.kafka_code() {
                Some(code) if fatal(code) => {
                    let _ = tx.send(Control::Fatal(e));
                    return;
                }
                Some(ErrorCode::UnknownMemberId) => {
                    shared.member().member_id.clear();
                    continue;
                }
                _ => {
                    tracing::debug!(error = %e, "join failed; retrying");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            },
        };
        let assignment = match sync(&shared, &joined).await {
            Ok(a) => a,
            Err(e) => {
                match e.kafka_code() {
                    Some(code) if fatal(code) => {
                        let _ = tx.send(Control::Fatal(e));
                        return;
                    }
                    Some(ErrorCode::UnknownMemberId) => {
                        shared.member().member_id.clear();
                        lose(&tx, &mut owned);
                    }
                    Some(ErrorCode::IllegalGeneration) => lose(&tx, &mut owned),
                    Some(ErrorCode::RebalanceInProgress) => {}
                    _ => tokio::time::sleep(backoff).await,
                }
                continue;
            }
        };
        {
            let mut m = shared.member();
            m.generation = joined.generation_id;
            m.leader_id = joined.response.leader.clone();
        }
        let new: BTreeSet<TopicPartition> = assignment
            .topic_partitions()
            .into_iter()
            .map(|(t, p)| TopicPartition::new(t, p))
            .collect();
        let revoked: Vec<TopicPartition> = owned.difference(&new).cloned().collect();
        if !revoked.is_empty() {
            revoke(&shared, &tx, revoked.clone()).await;
            for tp in &revoked {
                owned.remove(tp);
            }
        }
        let added: Vec<TopicPartition> = new.difference(&owned).cloned().collect();
        // Membership only: every generation's assignment is reported, even an empty one.
        if !added.is_empty() || shared.membership_only {
            let starts = if shared.membership_only {
                Ok(added
                    .iter()
                    .map(|tp| (tp.clone(), StartOffset::Earliest))
                    .collect())
            } else {
                start_offsets(&shared, &added).await
            };
            let starts = match starts {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Control::Failed(e));
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            owned.extend(starts.iter().map(|(tp, _)| tp.clone()));
            let _ = tx.send(Control::Assign(starts));
        }
        if !revoked.is_empty() && shared.protocol == RebalanceProtocol::Cooperative {
            // The second round of a cooperative hand-off: what we gave up goes to its new
            // owner in the next generation.
            continue;
        }
        match heartbeat(&shared, joined.generation_id).await {
            Outcome::Rejoin => {}
            Outcome::Lost { reset_member_id } => {
                if reset_member_id {
                    shared.member().member_id.clear();
                }
                lose(&tx, &mut owned);
            }
            Outcome::Close => {
                leave(&shared).await;
                return;
            }
            Outcome::Fatal(e) => {
                lose(&tx, &mut owned);
                let _ = tx.send(Control::Fatal(e));
                return;
            }
        }
    }
}

fn lose(tx: &mpsc::UnboundedSender<Control>, owned: &mut BTreeSet<TopicPartition>) {
    if !owned.is_empty() {
        let lost: Vec<TopicPartition> = std::mem::take(owned).into_iter().collect();
        let _ = tx.send(Control::Lost(lost));
    }
}

/// Asks the consumer side to revoke `tps` and waits (up to the rebalance timeout) for the
/// caller to acknowledge.
async fn revoke(
    shared: &GroupShared,
    tx: &mpsc::UnboundedSender<Control>,
    tps: Vec<TopicPartition>,
) {
    let (done, wait) = oneshot::channel();
    if tx.send(Control::Revoke(tps, done)).is_err() {
        return;
    }
    let _ = tokio::time::timeout(shared.config.rebalance_timeout, wait).await;
}

/// A JoinGroup answered for this member.
struct Joined {
    generation_id: i32,
    protocol_name: String,
    leader: bool,
    response: JoinGroupResponse,
}

async fn join(shared: &GroupShared, owned: &BTreeSet<TopicPartition>) -> Result<Joined> {
    let config = &shared.config;
    let owned_list: Vec<(String, i32)> = owned
        .iter()
        .map(|tp| (tp.topic.clone(), tp.partition))
        .collect();
    shared.match_pattern().await?;
    let topics = shared.topics();
    loop {
        let (member_id, generation) = {
            let m = shared.member();
            (m.member_id.clone(), m.generation)
        };
        let protocols = join_protocols(
            &config.assignors,
            shared.protocol,
            &topics,
            &owned_list,
            generation,
        )?;
        let request = JoinGroupRequest::default()
            .with_group_id(config.group_id.clone())
            .with_session_timeout_ms(millis(config.session_timeout))
            .with_rebalance_timeout_ms(millis(config.rebalance_timeout))
            .with_member_id(member_id)
            .with_group_instance_id(config.group_instance_id.clone())
            .with_protocol_type(PROTOCOL_TYPE.to_owned())
            .with_protocols(protocols);
        let response = shared.group_client().await?.request(&request).await?.body;
        if response.error_code == ErrorCode::MemberIdRequired {
            // KIP-394: join again with the id the coordinator gave.
            shared.member().member_id = response.member_id.clone();
            continue;
        }
        shared.member().member_id = response.member_id.clone();
        let leader = response.leader == response.member_id;
        return Ok(Joined {
            generation_id: response.generation_id,
            protocol_name: response.protocol_name.clone().unwrap_or_default(),
            leader,
            response,
        });
    }
}

/// The protocols of a JoinGroup: one per assignor, in order, each with this member's
/// subscription at the assignor's consumer protocol version.
fn join_protocols(
    assignors: &[Arc<dyn Assignor>],
    protocol: RebalanceProtocol,
    topics: &[String],
    owned: &[(String, i32)],
    generation: i32,
) -> Result<Vec<JoinGroupRequestProtocol>> {
    let mut protocols = Vec::new();
    for a in assignors {
        let mut sub = Subscription::new(topics.iter().cloned());
        sub.user_data = a.user_data(topics, owned, generation);
        if protocol == RebalanceProtocol::Cooperative || !owned.is_empty() {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (t, p) in owned {
                by_topic.entry(t.clone()).or_default().push(*p);
            }
            sub.owned_partitions = by_topic.into_iter().collect();
        }
        sub.generation_id = generation;
        protocols.push(
            JoinGroupRequestProtocol::default()
                .with_name(a.name().to_owned())
                .with_metadata(sub.encode_version(a.consumer_protocol_version())?),
        );
    }
    Ok(protocols)
}

/// The leader's SyncGroup assignments: the plan's, at the assignor's consumer protocol version.
fn sync_assignments(
    assignor: &dyn Assignor,
    plan: BTreeMap<String, Assignment>,
) -> Result<Vec<SyncGroupRequestAssignment>> {
    let version = assignor.consumer_protocol_version();
    let mut out = Vec::new();
    for (member_id, assignment) in plan {
        out.push(
            SyncGroupRequestAssignment::default()
                .with_member_id(member_id)
                .with_assignment(assignment.encode_version(version)?),
        );
    }
    Ok(out)
}

async fn sync(shared: &GroupShared, joined: &Joined) -> Result<Assignment> {
    let config = &shared.config;
    let assignments = if joined.leader {
        leader_assign(shared, joined).await?
    } else {
        Vec::new()
    };
    let member_id = shared.member().member_id.clone();
    let request = SyncGroupRequest::default()
        .with_group_id(config.group_id.clone())
        .with_generation_id(joined.generation_id)
        .with_member_id(member_id)
        .with_group_instance_id(config.group_instance_id.clone())
        .with_protocol_type(Some(PROTOCOL_TYPE.to_owned()))
        .with_protocol_name(Some(joined.protocol_name.clone()))
        .with_assignments(assignments);
    let response = shared.group_client().await?.request(&request).await?.body;
    if response.assignment.is_empty() {
        return Ok(Assignment::default());
    }
    Ok(Assignment::decode(&response.assignment)?)
}

/// The leader's work: the chosen assignor over every member's subscription.
async fn leader_assign(
    shared: &GroupShared,
    joined: &Joined,
) -> Result<Vec<SyncGroupRequestAssignment>> {
    let assignor = shared
        .config
        .assignors
        .iter()
        .find(|a| a.name() == joined.protocol_name)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the group chose assignor `{}`, which this member does not have",
                joined.protocol_name
            ))
        })?;
    let mut members = BTreeMap::new();
    let mut topics: BTreeSet<String> = BTreeSet::new();
    for m in &joined.response.members {
        let sub = Subscription::decode(&m.metadata)?;
        topics.extend(sub.topics.iter().cloned());
        let mut member = MemberSubscription::new(sub);
        if let Some(id) = m.group_instance_id.clone().filter(|i| !i.is_empty()) {
            member = member.with_group_instance_id(id);
        }
        members.insert(m.member_id.clone(), member);
    }
    let topics: Vec<String> = topics.into_iter().collect();
    let metadata = shared
        .group_client()
        .await?
        .refresh_metadata(&topics)
        .await?;
    let counts: BTreeMap<String, i32> = topics
        .iter()
        .filter_map(|t| Some((t.clone(), metadata.topic(t)?.partition_count() as i32)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let plan = assignor.assign(&counts, &members)?;
    sync_assignments(assignor.as_ref(), plan)
}

/// Where newly assigned partitions start: the group's committed offset, else the reset policy.
async fn start_offsets(
    shared: &GroupShared,
    tps: &[TopicPartition],
) -> Result<Vec<(TopicPartition, StartOffset)>> {
    let committed = shared
        .group_client()
        .await?
        .admin()
        .fetch_offsets(
            &shared.config.group_id,
            Some(tps),
            &FetchOffsetsOptions::default(),
        )
        .await?;
    let mut out = Vec::new();
    for tp in tps {
        let start = match committed.get(tp) {
            Some(Ok(Some(c))) if c.offset >= 0 => StartOffset::Offset(c.offset),
            Some(Err(e)) => return Err(e.clone()),
            _ => match shared.reset {
                OffsetReset::Earliest => StartOffset::Earliest,
                OffsetReset::Latest => StartOffset::Latest,
                OffsetReset::None => {
                    return Err(Error::InvalidArgument(format!(
                        "{tp} has no committed offset in group {} and auto.offset.reset is none",
                        shared.config.group_id
                    )))
                }
            },
        };
        out.push((tp.clone(), start));
    }
    Ok(out)
}

/// Heartbeats until the generation ends.
async fn heartbeat(shared: &GroupShared, generation: i32) -> Outcome {
    let config = &shared.config;
    let check_every = shared.client.config().net.metadata_max_age;
    let mut next_check = Instant::now() + check_every;
    loop {
        if shared.pattern.is_some() && Instant::now() >= next_check {
            next_check = Instant::now() + check_every;
            match shared.match_pattern().await {
                Ok(true) => return Outcome::Rejoin,
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "checking the subscription pattern failed"),
            }
        }
        let closing = shared.close.notified();
        if shared.closing.load(Ordering::Acquire) {
            return Outcome::Close;
        }
        tokio::select! {
            _ = tokio::time::sleep(config.heartbeat_interval) => {}
            _ = closing => return Outcome::Close,
        }
        let member_id = shared.member().member_id.clone();
        let request = HeartbeatRequest::default()
            .with_group_id(config.group_id.clone())
            .with_generation_id(generation)
            .with_member_id(member_id)
            .with_group_instance_id(config.group_instance_id.clone());
        let result = match shared.group_client().await {
            Ok(client) => client.request(&request).await.map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {}
            Err(e) => match e.kafka_code() {
                Some(ErrorCode::RebalanceInProgress) => return Outcome::Rejoin,
                Some(ErrorCode::IllegalGeneration) => {
                    return Outcome::Lost {
                        reset_member_id: false,
                    }
                }
                Some(ErrorCode::UnknownMemberId) => {
                    return Outcome::Lost {
                        reset_member_id: true,
                    }
                }
                Some(ErrorCode::FencedInstanceId) => return Outcome::Fatal(e),
                _ => {
                    tracing::debug!(error = %e, "heartbeat failed; retrying");
                }
            },
        }
    }
}

/// LeaveGroup for a dynamic member (a static one stays for its restart).
async fn leave(shared: &GroupShared) {
    if shared.config.group_instance_id.is_some() {
        return;
    }
    let member_id = shared.member().member_id.clone();
    if member_id.is_empty() {
        return;
    }
    let group = shared.config.group_id.clone();
    let Ok(client) = shared.group_client().await else {
        return;
    };
    let result = client
        .cluster()
        .request_with(|version| {
            let request = LeaveGroupRequest::default().with_group_id(group.clone());
            if version >= 3 {
                let reason = (version >= 5).then(|| "the consumer is closing".to_owned());
                request.with_members(vec![MemberIdentity::default()
                    .with_member_id(member_id.clone())
                    .with_reason(reason)])
            } else {
                request.with_member_id(member_id.clone())
            }
        })
        .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "LeaveGroup failed (the session timeout will end the membership)");
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::group::assignor::RangeAssignor;

    /// An assignor speaking consumer protocol version 0 with empty (not null) user data, as
    /// KafkaEx's `assign`.
    #[derive(Debug)]
    struct V0;

    impl Assignor for V0 {
        fn name(&self) -> &str {
            "assign"
        }
        fn consumer_protocol_version(&self) -> i16 {
            0
        }
        fn user_data(&self, _: &[String], _: &[(String, i32)], _: i32) -> Option<Bytes> {
            Some(Bytes::new())
        }
        fn assign(
            &self,
            _: &BTreeMap<String, i32>,
            members: &BTreeMap<String, MemberSubscription>,
        ) -> Result<BTreeMap<String, Assignment>> {
            Ok(members
                .keys()
                .map(|m| (m.clone(), Assignment::default()))
                .collect())
        }
    }

    #[test]
    fn the_subscription_is_written_at_the_assignors_version() {
        let assignors: Vec<Arc<dyn Assignor>> = vec![Arc::new(V0), Arc::new(RangeAssignor)];
        let owned = [("t".to_owned(), 1)];
        let protocols = join_protocols(
            &assignors,
            RebalanceProtocol::Eager,
            &["t".to_owned()],
            &owned,
            4,
        )
        .unwrap();
        // version 0, [topics] = ["t"], user_data = 0 bytes: owned partitions and generation
        // are not in version 0.
        assert_eq!(protocols[0].name, "assign");
        assert_eq!(
            &protocols[0].metadata[..],
            &[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 0][..]
        );
        // The default stays version 3, with what v3 carries.
        assert_eq!(&protocols[1].metadata[..2], &[0, 3][..]);
        let sub = Subscription::decode(&protocols[1].metadata).unwrap();
        assert_eq!(sub.owned(), owned.to_vec());
        assert_eq!(sub.generation_id, 4);
    }

    #[test]
    fn the_leaders_assignments_are_written_at_the_assignors_version() {
        let mut a = Assignment::from_topic_partitions([("t".to_owned(), 0), ("t".to_owned(), 2)]);
        a.user_data = Some(Bytes::new());
        let plan: BTreeMap<String, Assignment> = [("m".to_owned(), a.clone())].into();
        let out = sync_assignments(&V0, plan.clone()).unwrap();
        // version 0, [(topic "t", [0, 2])], user_data = 0 bytes.
        assert_eq!(
            &out[0].assignment[..],
            &[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0][..]
        );
        assert_eq!(Assignment::decode(&out[0].assignment).unwrap(), a);
        let out = sync_assignments(&RangeAssignor, plan).unwrap();
        assert_eq!(&out[0].assignment[..2], &[0, 3][..]);
    }
}
