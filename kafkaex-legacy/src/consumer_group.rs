//! `KafkaEx.ConsumerGroup`: a member of a consumer group that runs one
//! [`GenConsumer`] per assigned partition.
//!
//! ```no_run
//! # use kafkaex_legacy::gen_consumer::{BoxError, CommitMode, GenConsumer};
//! # use kafkaex_legacy::protocol::fetch::Message;
//! # struct MyConsumer;
//! # #[async_trait::async_trait]
//! # impl GenConsumer for MyConsumer {
//! #     type Extra = ();
//! #     async fn init(_: &str, _: i32, _: ()) -> Result<Self, BoxError> { Ok(MyConsumer) }
//! #     async fn handle_message_set(&mut self, _: Vec<Message>) -> Result<CommitMode, BoxError> {
//! #         Ok(CommitMode::AsyncCommit)
//! #     }
//! # }
//! use kafkaex_legacy::consumer_group::{ApiVersions, ConsumerGroup, ConsumerGroupOptions};
//! use kafkaex_legacy::KafkaVersion;
//!
//! # async fn example() -> kafkaex_legacy::Result<()> {
//! // KafkaEx.ConsumerGroup.start_link(MyConsumer, "group", ["topic"],
//! //     api_versions: %{offset_fetch: 3, offset_commit: 3, fetch: 3})
//! let group = ConsumerGroup::start_link::<MyConsumer>(
//!     (),
//!     "group",
//!     ["topic"],
//!     ConsumerGroupOptions {
//!         api_versions: ApiVersions { fetch: 4, offset_fetch: 3, offset_commit: 3 },
//!         kafka_version: Some(KafkaVersion::Kayrock),
//!         uris: Some(vec![("localhost".into(), 9092)]),
//!         ..Default::default()
//!     },
//! )
//! .await?;
//! println!("member {} of generation {}", group.member_id(), group.generation_id());
//! group.stop().await;
//! # Ok(()) }
//! ```
//!
//! # How it works, and what differs from KafkaEx
//!
//! Membership (JoinGroup, SyncGroup, heartbeats, LeaveGroup) is kafkaex-client's
//! [`GroupConsumer`] in membership-only mode
//! ([`GroupConsumerBuilder::membership_only`](kafkaex_client::group::GroupConsumerBuilder::membership_only)),
//! on connections of its own; the partitions it is assigned are consumed by one
//! [`GenConsumer`] task per partition, each fetching with the facade's `fetch` at
//! `api_versions.fetch` exactly (the client's own fetcher negotiates its Fetch version, which
//! would not honour a pinned one) and committing with the facade's `offset_commit`, as each
//! KafkaEx GenConsumer calls `KafkaEx.fetch` and `KafkaEx.offset_commit`. The partition
//! consumers share one worker (KafkaEx started one per consumer).
//!
//! - **The `assign` protocol, byte for byte.** The member joins with protocol type
//!   `consumer` and KafkaEx's one protocol `"assign"`, whose metadata is consumer protocol
//!   version 0: the topics and zero-length user data; as leader it sends version 0 assignments
//!   with zero-length user data, computed by `partition_assignment_callback` (round robin by
//!   default, [`round_robin`]). Elixir KafkaEx members and these can share one group, either
//!   side leading, so a group can be moved from Elixir one member at a time. Like KafkaEx's,
//!   such a group cannot be shared with Java consumers (they list `range`, ...).
//! - The leader assigns the partitions of **its own** topics (as KafkaEx), topic by topic in
//!   the order given to `start_link`, partitions in ascending order; the callback gets the
//!   members sorted by member id (KafkaEx passed the broker's order, which is arbitrary).
//! - JoinGroup/SyncGroup/Heartbeat/LeaveGroup go out at the newest version both sides
//!   support (KafkaEx pinned v0); the new-member handshake of JoinGroup v4+ (KIP-394) is done.
//!   The blobs inside are version 0 whatever the request version.
//! - **Errors rejoin instead of crashing.** A rebalance, `unknown_member_id` (rejoined with a
//!   fresh member id: KafkaEx rejoined with the stale one and crashed), `illegal_generation`,
//!   a coordinator that moved or is loading: the member rejoins. KafkaEx's Manager crashed the
//!   whole group tree on any SyncGroup/JoinGroup error (`one_for_all`, `max_restarts: 0`).
//! - **A failing GenConsumer** (an `Err`, a panic, a failed fetch) is restarted for its
//!   partition, at most `max_restarts` times per `max_seconds`, resuming at the last commit;
//!   the group and the other partitions carry on ([`PartitionStatus`]).
//! - Commits use `api_versions.offset_commit` (KafkaEx's GenConsumer used the `offset_fetch`
//!   entry).
//! - Before a rebalance every consumer stops and commits (as KafkaEx); partitions **lost**
//!   (the member fell out of the generation) are stopped without a commit, which under v0
//!   (ZooKeeper, no generation check) could overwrite the new owner's.
//!
//! # Offset storage
//!
//! As the facade: under `kafka_version: "kayrock"` ([`KafkaVersion::Kayrock`]) the versions in
//! `api_versions` go out exactly; OffsetCommit/OffsetFetch v0 keep offsets in ZooKeeper
//! (brokers up to 3.9), v1+ in Kafka. Kafka 4 has no v0 (nor Fetch v0-v3): the consumers then
//! fail with [`Error::UnsupportedVersion`] ([`PartitionStatus::Failed`],
//! [`ConsumerFailure::error`]). Under KafkaEx's legacy servers (`kafka_version` unset) every
//! version is 0, as in KafkaEx.
//!
//! [`GenConsumer`]: crate::gen_consumer::GenConsumer
//! [`GroupConsumer`]: kafkaex_client::group::GroupConsumer
//! [`ConsumerFailure::error`]: crate::gen_consumer::ConsumerFailure::error

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use kafkaex_client::group::assignor::{Assignor, MemberSubscription};
use kafkaex_client::group::protocol::Assignment;
use kafkaex_client::group::{GroupConsumer, GroupEvent, Membership};
use kafkaex_client::TopicPartition;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{AutoOffsetReset, SslOptions, Uri};
use crate::error::{Error, Result};
use crate::facade::FetchOptions;
use crate::gen_consumer::{
    self, ConsumerSettings, GenConsumer, PartitionConsumer, Running, StopMode,
};
use crate::worker::{
    start_link_worker, ConsumerGroup as WorkerGroup, KafkaVersion, WorkerName, WorkerOptions,
};

pub use crate::gen_consumer::{ConsumerFailure, PartitionStatus};

/// `partition_assignment_callback`: `(members, partitions) -> %{member => [{topic, partition}]}`.
/// Members missing from the result get nothing; entries for unknown members are dropped.
pub type PartitionAssignmentCallback =
    Arc<dyn Fn(&[String], &[(String, i32)]) -> BTreeMap<String, Vec<(String, i32)>> + Send + Sync>;

/// `KafkaEx.ConsumerGroup.PartitionAssignment.round_robin/2`: the partitions, in the order
/// given, dealt to the members in turn.
///
/// ```
/// use kafkaex_legacy::consumer_group::round_robin;
///
/// let members = ["member1".to_owned(), "member2".to_owned()];
/// let partitions = [("t".to_owned(), 0), ("t".to_owned(), 1), ("t".to_owned(), 2)];
/// let a = round_robin(&members, &partitions);
/// assert_eq!(a["member1"], [("t".to_owned(), 0), ("t".to_owned(), 2)]);
/// assert_eq!(a["member2"], [("t".to_owned(), 1)]);
/// ```
pub fn round_robin(
    members: &[String],
    partitions: &[(String, i32)],
) -> BTreeMap<String, Vec<(String, i32)>> {
    let mut out: BTreeMap<String, Vec<(String, i32)>> = BTreeMap::new();
    if members.is_empty() {
        return out;
    }
    for (i, tp) in partitions.iter().enumerate() {
        out.entry(members[i % members.len()].clone())
            .or_default()
            .push(tp.clone());
    }
    out
}

/// `api_versions`: the versions of the consumers' Fetch, OffsetFetch and OffsetCommit. All 0
/// by default, as in KafkaEx (ZooKeeper offsets, message format 0); kayrock.md recommends 3 for
/// the offset requests (Kafka storage) and, for Fetch, 3 on brokers before Kafka 4 and 4+ on
/// Kafka 4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiVersions {
    /// The Fetch version.
    pub fetch: i16,
    /// The OffsetFetch version (0: ZooKeeper storage, 1+: Kafka storage).
    pub offset_fetch: i16,
    /// The OffsetCommit version (0: ZooKeeper storage, 1+: Kafka storage).
    pub offset_commit: i16,
}

/// The options of [`ConsumerGroup::start_link`]; `None` takes the application configuration's
/// value ([`crate::config()`], KafkaEx's app env) and then KafkaEx's default.
#[derive(Clone, Default)]
pub struct ConsumerGroupOptions {
    /// `heartbeat_interval` (5 s).
    pub heartbeat_interval: Option<Duration>,
    /// `session_timeout` (30 s); also the rebalance timeout of the JoinGroup.
    pub session_timeout: Option<Duration>,
    /// `session_timeout_padding` (10 s): [`ConsumerGroup::stop`] waits at most session timeout
    /// + padding for the membership to leave. (KafkaEx's JoinGroup/SyncGroup call timeout; here
    ///   the connection layer lets a JoinGroup take the rebalance timeout.)
    pub session_timeout_padding: Option<Duration>,
    /// `commit_interval` (5 s).
    pub commit_interval: Option<Duration>,
    /// `commit_threshold` (100).
    pub commit_threshold: Option<u64>,
    /// `auto_offset_reset` (`None`).
    pub auto_offset_reset: Option<AutoOffsetReset>,
    /// `fetch_options`: `wait_time`, `min_bytes`, `max_bytes` and `timeout` are used;
    /// `offset`, `worker_name`, `auto_commit` (false) and `api_version` (from `api_versions`)
    /// are the consumer's own.
    pub fetch_options: Option<FetchOptions>,
    /// `api_versions`.
    pub api_versions: ApiVersions,
    /// `partition_assignment_callback`; `None`: [`round_robin`].
    pub partition_assignment_callback: Option<PartitionAssignmentCallback>,
    /// `uris`; `None`: the configuration's brokers.
    pub uris: Option<Vec<Uri>>,
    /// `use_ssl`.
    pub use_ssl: Option<bool>,
    /// `ssl_options`.
    pub ssl_options: Option<SslOptions>,
    /// The `kafka_version` the workers run as; `None`: the configuration's (KafkaEx's
    /// GenConsumers take it from the app env). `api_versions` are sent as given only under
    /// [`KafkaVersion::Kayrock`].
    pub kafka_version: Option<KafkaVersion>,
    /// Restarts of one partition's consumer allowed per `max_seconds` (the configuration's
    /// `max_restarts`, 10).
    pub max_restarts: Option<u32>,
    /// The window of `max_restarts` (the configuration's `max_seconds`, 60).
    pub max_seconds: Option<u64>,
    /// `shutdown`: how long a stopping consumer may take to finish its message set and commit
    /// before it is aborted (5 s).
    pub shutdown: Option<Duration>,
}

impl fmt::Debug for ConsumerGroupOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerGroupOptions")
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("session_timeout", &self.session_timeout)
            .field("session_timeout_padding", &self.session_timeout_padding)
            .field("commit_interval", &self.commit_interval)
            .field("commit_threshold", &self.commit_threshold)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("fetch_options", &self.fetch_options)
            .field("api_versions", &self.api_versions)
            .field(
                "partition_assignment_callback",
                &self.partition_assignment_callback.as_ref().map(|_| "<fn>"),
            )
            .field("uris", &self.uris)
            .field("use_ssl", &self.use_ssl)
            .field("kafka_version", &self.kafka_version)
            .field("max_restarts", &self.max_restarts)
            .field("max_seconds", &self.max_seconds)
            .field("shutdown", &self.shutdown)
            .finish()
    }
}

/// KafkaEx's `"assign"` protocol as an [`Assignor`]: consumer protocol version 0, zero-length
/// user data, the leader's topics dealt by the callback.
pub struct AssignAssignor {
    topics: Vec<String>,
    callback: PartitionAssignmentCallback,
}

impl fmt::Debug for AssignAssignor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssignAssignor")
            .field("topics", &self.topics)
            .finish()
    }
}

impl AssignAssignor {
    /// The assignor of a member subscribed to `topics` (the partitions it assigns as leader),
    /// dealing them with `callback`.
    pub fn new(topics: Vec<String>, callback: PartitionAssignmentCallback) -> Self {
        let mut seen = BTreeSet::new();
        let topics = topics
            .into_iter()
            .filter(|t| seen.insert(t.clone()))
            .collect();
        Self { topics, callback }
    }

    /// The leader's assignment (KafkaEx's `assign_partitions`): every member in `members`
    /// gets an entry; the partitions of the leader's topics known to `metadata`.
    pub fn plan(
        &self,
        metadata: &BTreeMap<String, i32>,
        members: &[String],
    ) -> BTreeMap<String, Assignment> {
        let mut partitions = Vec::new();
        for topic in &self.topics {
            match metadata.get(topic) {
                Some(&n) if n > 0 => partitions.extend((0..n).map(|p| (topic.clone(), p))),
                _ => tracing::warn!(%topic, "no partitions to assign for the topic"),
            }
        }
        let dealt = (self.callback)(members, &partitions);
        let mut out: BTreeMap<String, Assignment> = members
            .iter()
            .map(|m| {
                (
                    m.clone(),
                    Assignment {
                        partitions: Vec::new(),
                        user_data: Some(Bytes::new()),
                    },
                )
            })
            .collect();
        for (member, tps) in dealt {
            let Some(a) = out.get_mut(&member) else {
                tracing::warn!(%member, "the assignment callback named a member not in the group; dropped");
                continue;
            };
            for (topic, p) in tps {
                match a.partitions.iter_mut().find(|(t, _)| *t == topic) {
                    Some((_, ps)) => ps.push(p),
                    None => a.partitions.push((topic, vec![p])),
                }
            }
        }
        out
    }
}

impl Assignor for AssignAssignor {
    fn name(&self) -> &str {
        crate::facade::ASSIGN_PROTOCOL
    }

    fn consumer_protocol_version(&self) -> i16 {
        0
    }

    fn user_data(&self, _: &[String], _: &[(String, i32)], _: i32) -> Option<Bytes> {
        Some(Bytes::new())
    }

    fn assign(
        &self,
        metadata: &BTreeMap<String, i32>,
        members: &BTreeMap<String, MemberSubscription>,
    ) -> kafkaex_client::Result<BTreeMap<String, Assignment>> {
        let ids: Vec<String> = members.keys().cloned().collect();
        Ok(self.plan(metadata, &ids))
    }
}

/// What the query functions read.
struct State {
    assignments: BTreeSet<(String, i32)>,
    consumers: BTreeMap<(String, i32), PartitionConsumer>,
    active: bool,
    failure: Option<Error>,
    stopped: bool,
}

struct Shared {
    group_name: String,
    membership: Membership,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running consumer group member (KafkaEx's ConsumerGroup supervisor pid); see the
/// [module documentation](self).
pub struct ConsumerGroup {
    shared: Arc<Shared>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    stop_wait: Duration,
}

impl fmt::Debug for ConsumerGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerGroup")
            .field("group_name", &self.shared.group_name)
            .field("member_id", &self.member_id())
            .field("generation_id", &self.generation_id())
            .finish()
    }
}

impl Drop for ConsumerGroup {
    fn drop(&mut self) {
        // A group dropped without `stop` ends its tasks; the broker notices at the session
        // timeout.
        if let Some(task) = self
            .task
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl ConsumerGroup {
    /// `KafkaEx.ConsumerGroup.start_link(consumer_module, group_name, topics, opts)`: joins
    /// `group_name` for `topics` and runs a `C` for every partition assigned to this member.
    /// `extra_consumer_args` goes to every [`GenConsumer::init`] (KafkaEx's
    /// `extra_consumer_args` option; the consumer module is the type `C`).
    ///
    /// Returns once the worker is connected; joining happens in the background (poll
    /// [`ConsumerGroup::active`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty group name or topic list, a heartbeat interval
    /// not below the session timeout; [`Error::Config`] for no brokers; the connection error.
    pub async fn start_link<C: GenConsumer>(
        extra_consumer_args: C::Extra,
        group_name: impl Into<String>,
        topics: impl IntoIterator<Item = impl Into<String>>,
        options: ConsumerGroupOptions,
    ) -> Result<ConsumerGroup> {
        let group_name = group_name.into();
        let topics: Vec<String> = topics.into_iter().map(Into::into).collect();
        if group_name.is_empty() {
            return Err(Error::InvalidConsumerGroup);
        }
        if topics.is_empty() || topics.iter().any(String::is_empty) {
            return Err(Error::InvalidArgument(
                "a consumer group needs at least one topic, none empty".into(),
            ));
        }
        let config = crate::config();
        let heartbeat_interval = options
            .heartbeat_interval
            .unwrap_or(config.heartbeat_interval);
        let session_timeout = options.session_timeout.unwrap_or(config.session_timeout);
        let padding = options
            .session_timeout_padding
            .unwrap_or(config.session_timeout_padding);
        let kafka_version = options
            .kafka_version
            .clone()
            .unwrap_or_else(|| config.kafka_version.clone());
        for (what, v) in [
            ("api_versions.fetch", options.api_versions.fetch),
            (
                "api_versions.offset_fetch",
                options.api_versions.offset_fetch,
            ),
            (
                "api_versions.offset_commit",
                options.api_versions.offset_commit,
            ),
        ] {
            if v < 0 {
                return Err(Error::InvalidArgument(format!("{what} {v} is negative")));
            }
        }
        let worker = start_link_worker(
            WorkerName::NoName,
            WorkerOptions {
                uris: options.uris.clone(),
                consumer_group: Some(WorkerGroup::Group(group_name.clone())),
                use_ssl: options.use_ssl,
                ssl_options: options.ssl_options.clone(),
                initial_topics: topics.clone(),
                server_impl: Some(kafka_version),
                ..WorkerOptions::default()
            },
        )
        .await?;
        let callback = options
            .partition_assignment_callback
            .clone()
            .unwrap_or_else(|| Arc::new(round_robin));
        let assignor: Arc<dyn Assignor> = Arc::new(AssignAssignor::new(topics.clone(), callback));
        let membership = worker
            .client()
            .group_consumer(group_name.clone())
            .subscribe(topics.iter().cloned())
            .assignors(vec![assignor])
            .session_timeout(session_timeout)
            .rebalance_timeout(session_timeout)
            .heartbeat_interval(heartbeat_interval)
            .auto_commit(None)
            .membership_only(true)
            .build()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let settings = Arc::new(ConsumerSettings {
            group: group_name.clone(),
            commit_interval: options.commit_interval.unwrap_or(config.commit_interval),
            commit_threshold: options.commit_threshold.unwrap_or(config.commit_threshold),
            auto_offset_reset: options
                .auto_offset_reset
                .unwrap_or(config.auto_offset_reset),
            fetch_options: options.fetch_options.clone().unwrap_or_default(),
            fetch_version: options.api_versions.fetch,
            offset_fetch_version: options.api_versions.offset_fetch,
            offset_commit_version: options.api_versions.offset_commit,
            max_restarts: options.max_restarts.unwrap_or(config.max_restarts),
            max_seconds: options.max_seconds.unwrap_or(config.max_seconds),
            restart_delay: Duration::from_millis(100),
        });
        let shared = Arc::new(Shared {
            group_name,
            membership: membership.membership(),
            state: Mutex::new(State {
                assignments: BTreeSet::new(),
                consumers: BTreeMap::new(),
                active: false,
                failure: None,
                stopped: false,
            }),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let manager = Manager::<C> {
            shared: Arc::clone(&shared),
            worker,
            settings,
            extra: extra_consumer_args,
            running: BTreeMap::new(),
            shutdown: options.shutdown.unwrap_or(Duration::from_secs(5)),
        };
        let task = tokio::spawn(manager.run(membership, stop_rx));
        Ok(ConsumerGroup {
            shared,
            stop: Mutex::new(Some(stop_tx)),
            task: Mutex::new(Some(task)),
            stop_wait: session_timeout + padding,
        })
    }

    /// `group_name/1`.
    pub fn group_name(&self) -> &str {
        &self.shared.group_name
    }

    /// `generation_id/1` (-1 before the first generation).
    pub fn generation_id(&self) -> i32 {
        self.shared.membership.generation_id()
    }

    /// `member_id/1` (empty before the first join).
    pub fn member_id(&self) -> String {
        self.shared.membership.member_id()
    }

    /// `leader_id/1` (empty before the first generation).
    pub fn leader_id(&self) -> String {
        self.shared.membership.leader_id()
    }

    /// `leader?/1`.
    pub fn is_leader(&self) -> bool {
        self.shared.membership.is_leader()
    }

    /// `assignments/1`: this member's partitions in the current generation, sorted.
    pub fn assignments(&self) -> Vec<(String, i32)> {
        self.shared.state().assignments.iter().cloned().collect()
    }

    /// `active?/1`: whether the member is in a generation with its consumers started (false
    /// while rebalancing and after [`ConsumerGroup::stop`]).
    pub fn active(&self) -> bool {
        self.shared.state().active
    }

    /// `partition_consumer_map/1`: the consumer of each assigned partition.
    pub fn partition_consumers(&self) -> BTreeMap<(String, i32), PartitionConsumer> {
        self.shared.state().consumers.clone()
    }

    /// `consumer_pids/1`: the consumers, by partition.
    pub fn consumers(&self) -> Vec<PartitionConsumer> {
        self.shared.state().consumers.values().cloned().collect()
    }

    /// The consumer of `topic`/`partition`, if this member has it.
    pub fn partition_consumer(&self, topic: &str, partition: i32) -> Option<PartitionConsumer> {
        self.shared
            .state()
            .consumers
            .get(&(topic.to_owned(), partition))
            .cloned()
    }

    /// The error that ended the membership (a fatal group error such as
    /// `inconsistent_group_protocol`), if it ended.
    pub fn failure(&self) -> Option<Error> {
        self.shared.state().failure.clone()
    }

    /// Stops the member: every consumer stops and commits, then the member leaves the group
    /// (LeaveGroup), so the others take its partitions over at once.
    pub async fn stop(&self) {
        let tx = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task {
            if tokio::time::timeout(self.stop_wait, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        let mut s = self.shared.state();
        s.active = false;
        s.stopped = true;
    }
}

/// The Manager: turns the membership's events into running consumers.
struct Manager<C: GenConsumer> {
    shared: Arc<Shared>,
    worker: crate::worker::Worker,
    settings: Arc<ConsumerSettings>,
    extra: C::Extra,
    running: BTreeMap<(String, i32), Running>,
    shutdown: Duration,
}

impl<C: GenConsumer> Manager<C> {
    async fn run(mut self, mut membership: GroupConsumer, mut stop: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                _ = &mut stop => break,
                event = membership.next() => match event {
                    Some(Ok(GroupEvent::Assigned(tps))) => self.assigned(tps),
                    Some(Ok(GroupEvent::Revoking(revoking))) => {
                        self.shared.state().active = false;
                        self.stop_consumers(&revoking.partitions, true).await;
                        revoking.ack();
                    }
                    Some(Ok(GroupEvent::Lost(tps))) => {
                        self.shared.state().active = false;
                        self.stop_consumers(&tps, false).await;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(group = %self.shared.group_name, error = %e, "consumer group error");
                        self.shared.state().failure = Some(Error::from_client(e));
                    }
                    None => break,
                },
            }
        }
        let all: Vec<TopicPartition> = self
            .running
            .keys()
            .map(|(t, p)| TopicPartition::new(t.clone(), *p))
            .collect();
        self.stop_consumers(&all, true).await;
        self.shared.state().active = false;
        membership.close().await;
    }

    fn assigned(&mut self, tps: Vec<TopicPartition>) {
        let generation_id = self.shared.membership.generation_id();
        let member_id = self.shared.membership.member_id();
        for tp in tps {
            let key = (tp.topic.clone(), tp.partition);
            if let Some(old) = self.running.remove(&key) {
                let _ = old.stop.send(StopMode::Stop { commit: true });
            }
            let running = gen_consumer::start::<C>(
                self.worker.clone(),
                Arc::clone(&self.settings),
                self.extra.clone(),
                tp.topic.clone(),
                tp.partition,
                generation_id,
                member_id.clone(),
            );
            let mut s = self.shared.state();
            s.assignments.insert(key.clone());
            s.consumers.insert(key.clone(), running.handle.clone());
            drop(s);
            self.running.insert(key, running);
        }
        let mut s = self.shared.state();
        s.active = true;
        s.failure = None;
    }

    /// Stops the consumers of `tps` (committing first when `commit`), waiting up to the
    /// shutdown time for each.
    async fn stop_consumers(&mut self, tps: &[TopicPartition], commit: bool) {
        let mut stopping = Vec::new();
        for tp in tps {
            let key = (tp.topic.clone(), tp.partition);
            {
                let mut s = self.shared.state();
                s.assignments.remove(&key);
                s.consumers.remove(&key);
            }
            if let Some(r) = self.running.remove(&key) {
                let _ = r.stop.send(StopMode::Stop { commit });
                stopping.push(r);
            }
        }
        let shutdown = self.shutdown;
        let waits = stopping.into_iter().map(|mut r| async move {
            if tokio::time::timeout(shutdown, &mut r.task).await.is_err() {
                tracing::warn!(topic = %r.handle.topic(), partition = r.handle.partition(),
                    "GenConsumer did not stop within the shutdown time; aborted");
                r.task.abort();
            }
        });
        join_all(waits).await;
    }
}

/// Awaits every future (the crate has no `futures` dependency).
async fn join_all<F: std::future::Future<Output = ()>>(futures: impl IntoIterator<Item = F>) {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    for f in set {
        f.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> (String, i32) {
        (t.to_owned(), p)
    }

    #[test]
    fn round_robin_is_kafkaex_s() {
        let members = ["member1".to_owned(), "member2".to_owned()];
        let a = round_robin(&members, &[tp("t", 0), tp("t", 1), tp("t", 2)]);
        assert_eq!(a.len(), 2);
        assert_eq!(a["member1"], vec![tp("t", 0), tp("t", 2)]);
        assert_eq!(a["member2"], vec![tp("t", 1)]);
        assert!(round_robin(&[], &[tp("t", 0)]).is_empty());
    }

    #[test]
    fn the_leader_deals_its_own_topics_and_every_member_gets_an_entry() {
        let assignor = AssignAssignor::new(
            vec!["b".into(), "a".into(), "b".into()],
            Arc::new(round_robin),
        );
        let metadata: BTreeMap<String, i32> = [
            ("a".to_owned(), 1),
            ("b".to_owned(), 2),
            ("other".to_owned(), 5),
        ]
        .into();
        let members = ["m1".to_owned(), "m2".to_owned(), "m3".to_owned()];
        let plan = assignor.plan(&metadata, &members);
        // b0 -> m1, b1 -> m2, a0 -> m3: the leader's topics in its order, not the others'.
        assert_eq!(plan["m1"].partitions, vec![("b".to_owned(), vec![0])]);
        assert_eq!(plan["m2"].partitions, vec![("b".to_owned(), vec![1])]);
        assert_eq!(plan["m3"].partitions, vec![("a".to_owned(), vec![0])]);
        let plan = assignor.plan(&metadata, &["x".to_owned()]);
        assert_eq!(
            plan["x"].partitions,
            vec![("b".to_owned(), vec![0, 1]), ("a".to_owned(), vec![0])]
        );
        // The blob is KafkaEx's: version 0, zero-length user data.
        let blob = plan["x"].encode_version(0).unwrap();
        assert_eq!(&blob[..2], &[0, 0]);
        assert_eq!(&blob[blob.len() - 4..], &[0, 0, 0, 0]);
    }

    #[test]
    fn a_callback_naming_strangers_and_skipping_members() {
        let cb: PartitionAssignmentCallback =
            Arc::new(|_members, partitions| [("stranger".to_owned(), partitions.to_vec())].into());
        let assignor = AssignAssignor::new(vec!["t".into()], cb);
        let plan = assignor.plan(&[("t".to_owned(), 2)].into(), &["m".to_owned()]);
        assert_eq!(plan.len(), 1);
        assert!(plan["m"].partitions.is_empty());
        assert_eq!(plan["m"].user_data, Some(Bytes::new()));
    }

    #[test]
    fn the_subscription_is_kafkaex_s() {
        let assignor = AssignAssignor::new(vec!["t".into()], Arc::new(round_robin));
        assert_eq!(assignor.name(), "assign");
        assert_eq!(assignor.consumer_protocol_version(), 0);
        assert_eq!(assignor.user_data(&[], &[], -1), Some(Bytes::new()));
    }

    #[test]
    fn options_debug_hides_the_callback() {
        let o = ConsumerGroupOptions {
            partition_assignment_callback: Some(Arc::new(round_robin)),
            ..Default::default()
        };
        assert!(format!("{o:?}").contains("<fn>"));
    }
}
