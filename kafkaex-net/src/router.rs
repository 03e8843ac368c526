//! Routing requests to a node, any broker, a partition leader, a coordinator or the controller.
//!
//! A [`Cluster`] is the connection layer's view of a whole Kafka cluster:
//!
//! - **Bootstrap.** [`Cluster::connect`] tries the bootstrap addresses in turn until one answers
//!   a Metadata request; unreachable ones are skipped, and when none answers the error
//!   ([`NetError::NoBrokerAvailable`]) lists each address with its failure.
//! - **Connection pool.** One [`BrokerConnection`] per node id, opened on first use at the
//!   address the metadata gives, shared (requests are pipelined on it) and replaced when it has
//!   closed. Concurrent first uses of a node wait for one connection rather than opening one
//!   each.
//! - **Metadata.** A [`ClusterMetadata`] cache, refreshed on demand
//!   ([`Cluster::refresh_metadata`]), when a lookup finds a partition unknown or invalidated, and
//!   periodically every [`NetConfig::metadata_max_age`] (a background task holding only a weak
//!   reference, so dropping the last `Cluster` clone stops it). Refreshes are serialized: a
//!   burst of lookups for one invalidated partition sends one Metadata request, not one each.
//! - **Routes** ([`Route`]): a node id, any broker, a partition's leader, a group or transaction
//!   coordinator (found with FindCoordinator and cached), or the controller.
//! - **Retries.** [`Cluster::send_with_retry`] retries retriable failures under
//!   [`NetConfig::retry`], invalidating what the failure says is out of date first: the
//!   partition's metadata after `NOT_LEADER_OR_FOLLOWER`, `LEADER_NOT_AVAILABLE`,
//!   `UNKNOWN_TOPIC_OR_PARTITION` or a failed connection to the leader; the coordinator after
//!   `NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE` or `COORDINATOR_LOAD_IN_PROGRESS`; the
//!   controller after `NOT_CONTROLLER`. Closed connections are replaced by the pool on the next
//!   attempt.
//!
//! # Error codes inside responses
//!
//! Kafka puts error codes in per-API places (per partition in Produce and Fetch, per group in
//! OffsetCommit, at the top in FindCoordinator and JoinGroup), and only the caller knows which
//! of them decide whether the request as a whole must be retried. So
//! [`Cluster::send_with_retry`] takes a closure that extracts the error code that matters from
//! a response (`None` or `Some(ErrorCode::None)` for success). A code it returns becomes
//! [`NetError::Kafka`]; a retriable one is retried. To handle some codes yourself (say, per
//! partition of a multi-partition Produce), return `None` for them and read the response.
//!
//! # Tracing
//!
//! Metadata refreshes run in a debug-level `metadata_refresh` span (generation, topics, broker);
//! [`Cluster::send_with_retry`] runs in a `routed_request` span (api, route), in which each
//! retry is logged with its attempt number, wait and error; connects run in `broker_connect`
//! spans and requests in `broker_request` spans ([`crate::broker`]).
//!
//! ```no_run
//! use kafkaex_net::config::NetConfig;
//! use kafkaex_net::router::{Cluster, Route};
//! use kafkaex_net::versions::VersionChoice;
//! use kafkaex_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
//! use kafkaex_protocol::messages::ListOffsetsRequest;
//! use kafkaex_protocol::ErrorCode;
//!
//! # async fn example() -> Result<(), kafkaex_net::NetError> {
//! let cluster = Cluster::connect(&["kafka1:9092", "kafka2:9092"], NetConfig::default()).await?;
//! let request = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
//!     .with_name("events".into())
//!     .with_partitions(vec![ListOffsetsPartition::default()
//!         .with_partition_index(0)
//!         .with_timestamp(-1)])]);
//! let (_version, response) = cluster
//!     .send_with_retry(Route::leader("events", 0), &request, VersionChoice::Newest, |r| {
//!         r.topics
//!             .iter()
//!             .flat_map(|t| &t.partitions)
//!             .map(|p| p.error_code)
//!             .find(|code| !code.is_ok())
//!     })
//!     .await?;
//! println!("latest offset: {}", response.topics[0].partitions[0].offset);
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use kafkaex_protocol::messages::find_coordinator_response::Coordinator;
use kafkaex_protocol::messages::metadata_request::MetadataRequestTopic;
use kafkaex_protocol::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest, MetadataResponse,
};
use kafkaex_protocol::{ApiKey, ErrorCode, Request, Uuid};
use tokio::sync::oneshot;
use tracing::Instrument as _;

use crate::broker::BrokerConnection;
use crate::config::NetConfig;
use crate::error::NetError;
use crate::metadata::{ClusterMetadata, LeaderLookup, MetadataUpdate, RefreshKind};
use crate::retry::retry;
use crate::versions::VersionChoice;

/// Where to send a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// The broker with this node id.
    Node(i32),
    /// Any broker that answers (for Metadata, ApiVersions, DescribeCluster, ...): brokers with
    /// an open connection first, then the others in the metadata, then the bootstrap list.
    Any,
    /// The leader of a partition (Produce, Fetch, ListOffsets, DeleteRecords, ...).
    Leader {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
    },
    /// The coordinator of a consumer group (JoinGroup, OffsetCommit, OffsetFetch, ...).
    GroupCoordinator(String),
    /// The transaction coordinator of a transactional id (InitProducerId, AddPartitionsToTxn,
    /// EndTxn, ...).
    TransactionCoordinator(String),
    /// The controller as the metadata names it (CreateTopics, DeleteTopics, CreatePartitions,
    /// ...). With KRaft, brokers name a random live broker here, which forwards admin requests
    /// to the real controller quorum; this is what Kafka's own clients route to.
    Controller,
}

impl Route {
    /// [`Route::Leader`] of `topic`/`partition`.
    pub fn leader(topic: impl Into<String>, partition: i32) -> Self {
        Self::Leader {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Node(id) => write!(f, "node {id}"),
            Self::Any => f.write_str("any broker"),
            Self::Leader { topic, partition } => write!(f, "leader of {topic}-{partition}"),
            Self::GroupCoordinator(group) => write!(f, "coordinator of group {group:?}"),
            Self::TransactionCoordinator(id) => {
                write!(f, "coordinator of transactional id {id:?}")
            }
            Self::Controller => f.write_str("controller"),
        }
    }
}

/// The kind of coordinator FindCoordinator looks up (its `key_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoordinatorType {
    /// A consumer group's coordinator (key type 0).
    Group,
    /// A transactional id's coordinator (key type 1).
    Transaction,
}

impl CoordinatorType {
    /// The FindCoordinator `key_type`.
    pub fn key_type(self) -> i8 {
        match self {
            Self::Group => 0,
            Self::Transaction => 1,
        }
    }
}

/// A coordinator found with FindCoordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorInfo {
    /// The coordinator's node id.
    pub node_id: i32,
    /// The `host:port` to connect to.
    pub address: String,
}

/// One pool slot per node id. The async mutex makes concurrent first uses of a node wait for
/// the one connect in progress instead of each opening a connection.
type Slot = Arc<tokio::sync::Mutex<Option<BrokerConnection>>>;

/// A Kafka cluster: bootstrap, connection pool, metadata and routing. See the
/// [module documentation](self).
///
/// Cheap to clone: clones share everything. The background metadata refresh stops when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    config: NetConfig,
    bootstrap: Vec<String>,
    metadata: RwLock<ClusterMetadata>,
    /// The broker that answered the last applied Metadata request, to name in errors derived
    /// from the metadata.
    metadata_source: Mutex<String>,
    /// Serializes refreshes (see the module docs).
    refresh_lock: tokio::sync::Mutex<()>,
    pool: Mutex<BTreeMap<i32, Slot>>,
    coordinators: Mutex<HashMap<(CoordinatorType, String), CoordinatorInfo>>,
    /// Set after `NOT_CONTROLLER` or a failure to reach the controller: refresh before the next
    /// controller lookup.
    controller_stale: AtomicBool,
    /// Dropped with the last `Cluster`, which wakes and ends the periodic refresh task.
    _stop_refresher: oneshot::Sender<()>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metadata = read(&self.inner.metadata);
        f.debug_struct("Cluster")
            .field("bootstrap", &self.inner.bootstrap)
            .field("cluster_id", &metadata.cluster_id())
            .field("brokers", &metadata.brokers().len())
            .field("topics", &metadata.topics().len())
            .field("pooled", &lock(&self.inner.pool).len())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data behind these locks stays consistent even if a holder panicked (every update is
    // a single assignment or map operation), so a poisoned lock is used as is.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Checks that `address` is `host:port` or `[ipv6]:port` with a port in 1-65535.
fn check_address(address: &str) -> Result<(), NetError> {
    crate::broker::split_host_port(address).map(|_| ())
}

/// Whether, after `err` from one broker, another broker may do better: connection failures and
/// timeouts. Errors in the request or the configuration (TLS, SASL, versions) would repeat.
fn try_next_broker(err: &NetError) -> bool {
    err.is_retriable() && err.kafka_code().is_none()
}

fn kafka_error(api: ApiKey, code: ErrorCode, message: String, address: String) -> NetError {
    NetError::Kafka {
        api,
        code,
        message: Some(message),
        address,
    }
}

impl Cluster {
    /// Connects to a cluster: tries the `bootstrap` addresses (`host:port`) in turn until one
    /// answers a Metadata request, and starts the periodic metadata refresh. Must be called
    /// within a tokio runtime.
    ///
    /// # Errors
    ///
    /// - [`NetError::InvalidArgument`]: the list is empty or an address is not `host:port`;
    /// - [`NetError::NoBrokerAvailable`]: no address answered; each is listed with its error;
    /// - a TLS, SASL or version error from the first broker reached, which another broker
    ///   would repeat.
    pub async fn connect(
        bootstrap: &[impl AsRef<str>],
        config: NetConfig,
    ) -> Result<Self, NetError> {
        if bootstrap.is_empty() {
            return Err(NetError::InvalidArgument(
                "the bootstrap list is empty".to_owned(),
            ));
        }
        let mut addresses = Vec::with_capacity(bootstrap.len());
        for address in bootstrap {
            let address = address.as_ref().trim();
            check_address(address)?;
            if !addresses.iter().any(|a| a == address) {
                addresses.push(address.to_owned());
            }
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        let max_age = config.metadata_max_age;
        let cluster = Cluster {
            inner: Arc::new(Inner {
                config,
                bootstrap: addresses,
                metadata: RwLock::new(ClusterMetadata::new()),
                metadata_source: Mutex::new(String::new()),
                refresh_lock: tokio::sync::Mutex::new(()),
                pool: Mutex::new(BTreeMap::new()),
                coordinators: Mutex::new(HashMap::new()),
                controller_stale: AtomicBool::new(false),
                _stop_refresher: stop_tx,
            }),
        };
        // Brokers and controller only; topics are fetched as they are used.
        cluster.refresh(Some(Vec::new()), false).await?;
        spawn_refresher(Arc::downgrade(&cluster.inner), max_age, stop_rx);
        Ok(cluster)
    }

    /// The configuration.
    pub fn config(&self) -> &NetConfig {
        &self.inner.config
    }

    /// The bootstrap addresses, as given (duplicates removed).
    pub fn bootstrap(&self) -> &[String] {
        &self.inner.bootstrap
    }

    /// A copy of the metadata cache.
    pub fn metadata(&self) -> ClusterMetadata {
        read(&self.inner.metadata).clone()
    }

    /// Runs `f` on the metadata cache (without copying it). `f` must not call back into the
    /// cluster.
    pub fn with_metadata<T>(&self, f: impl FnOnce(&ClusterMetadata) -> T) -> T {
        f(&read(&self.inner.metadata))
    }

    /// Refreshes the metadata: of every topic when `topics` is `None` (a full refresh, which
    /// drops deleted topics from the cache), else of the topics named (merged into the cache).
    /// Topics are not auto-created; see [`Cluster::refresh_metadata_with`].
    pub async fn refresh_metadata(&self, topics: Option<&[String]>) -> Result<(), NetError> {
        self.refresh_metadata_with(topics, false).await
    }

    /// [`Cluster::refresh_metadata`], asking the broker to create missing topics when
    /// `allow_auto_topic_creation` is set (Metadata v4+; the broker's `auto.create.topics.enable`
    /// must allow it too). A topic being created is answered with `LEADER_NOT_AVAILABLE` at
    /// first, which the cache keeps as "no leader yet".
    pub async fn refresh_metadata_with(
        &self,
        topics: Option<&[String]>,
        allow_auto_topic_creation: bool,
    ) -> Result<(), NetError> {
        let _guard = self.inner.refresh_lock.lock().await;
        self.refresh(topics.map(<[String]>::to_vec), allow_auto_topic_creation)
            .await
            .map(|_| ())
    }

    /// Marks a partition's metadata as out of date, so that the next lookup of its leader
    /// refreshes it.
    pub fn invalidate_partition(&self, topic: &str, partition: i32) {
        write(&self.inner.metadata).invalidate_partition(topic, partition);
    }

    /// Marks a topic's metadata as out of date.
    pub fn invalidate_topic(&self, topic: &str) {
        write(&self.inner.metadata).invalidate_topic(topic);
    }

    /// Forgets the cached coordinator for `key`, so that the next request to it looks it up
    /// again.
    pub fn invalidate_coordinator(&self, kind: CoordinatorType, key: &str) {
        lock(&self.inner.coordinators).remove(&(kind, key.to_owned()));
    }

    /// The coordinator for `key`, from the cache or found with FindCoordinator (sent to any
    /// broker; v4+ with `coordinator_keys`, older versions with `key`).
    ///
    /// # Errors
    ///
    /// [`NetError::Kafka`] with the FindCoordinator error (`COORDINATOR_NOT_AVAILABLE` while the
    /// coordinator's partition has no leader, e.g. just after the cluster started), or the
    /// errors of [`Route::Any`].
    pub async fn find_coordinator(
        &self,
        kind: CoordinatorType,
        key: &str,
    ) -> Result<CoordinatorInfo, NetError> {
        if let Some(found) = lock(&self.inner.coordinators).get(&(kind, key.to_owned())) {
            return Ok(found.clone());
        }
        let span = tracing::debug_span!("find_coordinator", ?kind, key);
        let found = self
            .try_any(|conn| find_coordinator_on(conn, kind, key))
            .instrument(span)
            .await?;
        // Connect where the metadata says the node is, when it knows the node, so the pool
        // does not alternate between two spellings of one broker's address.
        let address = read(&self.inner.metadata)
            .broker(found.node_id)
            .map(|b| b.address())
            .unwrap_or(found.address);
        let info = CoordinatorInfo {
            node_id: found.node_id,
            address,
        };
        lock(&self.inner.coordinators).insert((kind, key.to_owned()), info.clone());
        Ok(info)
    }

    /// The connection a request on `route` would use now (connecting, refreshing metadata or
    /// finding the coordinator as needed).
    ///
    /// # Errors
    ///
    /// - [`NetError::UnknownBroker`]: [`Route::Node`] with an id the metadata does not list,
    ///   even after a refresh;
    /// - [`NetError::Kafka`] (`api` Metadata): the partition has no known leader after a
    ///   refresh (`UNKNOWN_TOPIC_OR_PARTITION`, `LEADER_NOT_AVAILABLE`: retriable) or its topic
    ///   carries a non-retriable error; no controller is known (`NOT_CONTROLLER`);
    /// - connection errors, and [`NetError::NoBrokerAvailable`] for [`Route::Any`].
    pub async fn broker_for(&self, route: Route) -> Result<BrokerConnection, NetError> {
        if let Route::Any = route {
            return self.try_any(|conn| async move { Ok(conn) }).await;
        }
        let result = self.resolve(&route).await;
        if let Err(err) = &result {
            self.after_failure(&route, err);
        }
        result
    }

    /// Sends `request` on `route` once and returns the version used with the response.
    /// [`Route::Any`] tries brokers in turn while they fail to connect or answer. Error codes
    /// inside the response are not looked at; see [`Cluster::send_with_retry`].
    pub async fn send<R: Request>(
        &self,
        route: Route,
        request: &R,
        choice: VersionChoice,
    ) -> Result<(i16, R::Response), NetError> {
        self.send_once(&route, request, choice)
            .await
            .map(|(version, response, _)| (version, response))
    }

    /// Sends `request` on `route`, retrying retriable failures under [`NetConfig::retry`] (see
    /// the [module documentation](self) for what each failure invalidates first).
    ///
    /// `response_error` extracts the error code that decides the outcome from a response
    /// (`None` or [`ErrorCode::None`] for success). A code it returns is turned into
    /// [`NetError::Kafka`]; a retriable one is retried, any other ends the call at once.
    /// When the retry deadline comes, the last error is returned.
    pub async fn send_with_retry<R, F>(
        &self,
        route: Route,
        request: &R,
        choice: VersionChoice,
        response_error: F,
    ) -> Result<(i16, R::Response), NetError>
    where
        R: Request,
        F: Fn(&R::Response) -> Option<ErrorCode>,
    {
        let span = tracing::debug_span!("routed_request", api = R::API_KEY.name(), route = %route);
        let route = &route;
        let response_error = &response_error;
        retry(&self.inner.config.retry, |attempt| async move {
            let (version, response, address) = self.send_once(route, request, choice).await?;
            match response_error(&response) {
                Some(code) if !code.is_ok() => {
                    let err = NetError::Kafka {
                        api: R::API_KEY,
                        code,
                        message: None,
                        address,
                    };
                    tracing::debug!(attempt, error = %err, "error code in the response");
                    self.after_failure(route, &err);
                    Err(err)
                }
                _ => Ok((version, response)),
            }
        })
        .instrument(span)
        .await
    }

    async fn send_once<R: Request>(
        &self,
        route: &Route,
        request: &R,
        choice: VersionChoice,
    ) -> Result<(i16, R::Response, String), NetError> {
        if let Route::Any = route {
            return self
                .try_any(|conn| async move {
                    let (version, response) = conn.send(request, choice).await?;
                    Ok((version, response, conn.address().to_owned()))
                })
                .await;
        }
        let result = async {
            let conn = self.resolve(route).await?;
            let (version, response) = conn.send(request, choice).await?;
            Ok((version, response, conn.address().to_owned()))
        }
        .await;
        if let Err(err) = &result {
            self.after_failure(route, err);
        }
        result
    }

    /// Invalidates what `err` on `route` says is out of date.
    fn after_failure(&self, route: &Route, err: &NetError) {
        let connection_failed =
            err.is_connection_failure() || matches!(err, NetError::Timeout { .. });
        let code = err.kafka_code();
        match route {
            Route::Leader { topic, partition } => match code {
                Some(ErrorCode::UnknownTopicOrPartition) => self.invalidate_topic(topic),
                Some(
                    ErrorCode::NotLeaderOrFollower
                    | ErrorCode::LeaderNotAvailable
                    | ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownLeaderEpoch
                    | ErrorCode::KafkaStorageError
                    | ErrorCode::ReplicaNotAvailable,
                ) => self.invalidate_partition(topic, *partition),
                None if connection_failed => self.invalidate_partition(topic, *partition),
                _ => {}
            },
            Route::GroupCoordinator(key) | Route::TransactionCoordinator(key) => {
                let kind = if matches!(route, Route::GroupCoordinator(_)) {
                    CoordinatorType::Group
                } else {
                    CoordinatorType::Transaction
                };
                let stale = match code {
                    Some(
                        ErrorCode::NotCoordinator
                        | ErrorCode::CoordinatorNotAvailable
                        | ErrorCode::CoordinatorLoadInProgress,
                    ) => true,
                    None => connection_failed,
                    _ => false,
                };
                if stale {
                    self.invalidate_coordinator(kind, key);
                }
            }
            Route::Controller => {
                if code == Some(ErrorCode::NotController) || (code.is_none() && connection_failed) {
                    self.inner.controller_stale.store(true, Ordering::Relaxed);
                }
            }
            Route::Node(_) | Route::Any => {}
        }
    }

    async fn resolve(&self, route: &Route) -> Result<BrokerConnection, NetError> {
        match route {
            Route::Node(node_id) => self.node(*node_id).await,
            Route::Any => self.try_any(|conn| async move { Ok(conn) }).await,
            Route::Leader { topic, partition } => {
                let node_id = self.leader_node(topic, *partition).await?;
                self.node(node_id).await
            }
            Route::GroupCoordinator(key) => {
                let info = self.find_coordinator(CoordinatorType::Group, key).await?;
                self.pooled(info.node_id, &info.address).await
            }
            Route::TransactionCoordinator(key) => {
                let info = self
                    .find_coordinator(CoordinatorType::Transaction, key)
                    .await?;
                self.pooled(info.node_id, &info.address).await
            }
            Route::Controller => {
                let node_id = self.controller_node().await?;
                self.node(node_id).await
            }
        }
    }

    /// The connection to `node_id` at its metadata address; a node the metadata does not know
    /// gets one brokers-only refresh.
    async fn node(&self, node_id: i32) -> Result<BrokerConnection, NetError> {
        let known = |this: &Self| {
            read(&this.inner.metadata)
                .broker(node_id)
                .map(|b| b.address())
        };
        let address = match known(self) {
            Some(address) => address,
            None => {
                self.refresh_serialized(Some(Vec::new()), |m| m.broker(node_id).is_some())
                    .await?;
                known(self).ok_or(NetError::UnknownBroker { node_id })?
            }
        };
        self.pooled(node_id, &address).await
    }

    async fn leader_node(&self, topic: &str, partition: i32) -> Result<i32, NetError> {
        let lookup = |this: &Self| read(&this.inner.metadata).leader(topic, partition);
        let mut refreshed = false;
        loop {
            match lookup(self) {
                LeaderLookup::Leader { node_id, .. } => return Ok(node_id),
                LeaderLookup::Error(code) => {
                    return Err(kafka_error(
                        ApiKey::Metadata,
                        code,
                        format!("metadata for {topic}-{partition}"),
                        lock(&self.inner.metadata_source).clone(),
                    ))
                }
                LeaderLookup::Refresh { reason } if refreshed => {
                    return Err(kafka_error(
                        ApiKey::Metadata,
                        reason,
                        format!("no leader known for {topic}-{partition}"),
                        lock(&self.inner.metadata_source).clone(),
                    ))
                }
                LeaderLookup::Refresh { .. } => {
                    // Refresh this topic and any others waiting for a refresh, in one request.
                    let mut topics: BTreeSet<String> = read(&self.inner.metadata)
                        .topics_needing_refresh()
                        .into_iter()
                        .collect();
                    topics.insert(topic.to_owned());
                    self.refresh_serialized(Some(topics.into_iter().collect()), |m| {
                        !matches!(m.leader(topic, partition), LeaderLookup::Refresh { .. })
                    })
                    .await?;
                    refreshed = true;
                }
            }
        }
    }

    async fn controller_node(&self) -> Result<i32, NetError> {
        let known = |this: &Self| read(&this.inner.metadata).controller().map(|b| b.node_id);
        if !self.inner.controller_stale.load(Ordering::Relaxed) {
            if let Some(id) = known(self) {
                return Ok(id);
            }
        }
        self.refresh_serialized(Some(Vec::new()), |m| {
            !self.inner.controller_stale.load(Ordering::Relaxed) && m.controller().is_some()
        })
        .await?;
        known(self).ok_or_else(|| {
            kafka_error(
                ApiKey::Metadata,
                ErrorCode::NotController,
                "the metadata names no controller".to_owned(),
                lock(&self.inner.metadata_source).clone(),
            )
        })
    }

    /// Refreshes `topics` unless, once this caller's turn comes, `satisfied` already holds (a
    /// refresh by another caller answered the question meanwhile).
    async fn refresh_serialized(
        &self,
        topics: Option<Vec<String>>,
        satisfied: impl Fn(&ClusterMetadata) -> bool,
    ) -> Result<(), NetError> {
        let _guard = self.inner.refresh_lock.lock().await;
        if satisfied(&read(&self.inner.metadata)) {
            return Ok(());
        }
        self.refresh(topics, false).await.map(|_| ())
    }

    /// Sends one Metadata request to any broker and applies it. The caller holds
    /// `refresh_lock` (or is `connect`, before anyone else can see the cluster).
    async fn refresh(
        &self,
        topics: Option<Vec<String>>,
        allow_auto_topic_creation: bool,
    ) -> Result<Option<MetadataUpdate>, NetError> {
        let generation = write(&self.inner.metadata).begin_refresh();
        let kind = if topics.is_some() {
            RefreshKind::Partial
        } else {
            RefreshKind::Full
        };
        let span = tracing::debug_span!(
            "metadata_refresh",
            generation = generation.get(),
            topics = ?topics,
            broker = tracing::field::Empty,
        );
        let topics = &topics;
        async {
            let (address, response) = self
                .try_any(|conn| metadata_on(conn, topics, allow_auto_topic_creation))
                .await?;
            tracing::Span::current().record("broker", address.as_str());
            let applied = write(&self.inner.metadata).apply(generation, kind, &response);
            match applied {
                Ok(update) => {
                    *lock(&self.inner.metadata_source) = address;
                    // Every Metadata response names the controller afresh.
                    self.inner.controller_stale.store(false, Ordering::Relaxed);
                    tracing::debug!(
                        brokers = response.brokers.len(),
                        topics = response.topics.len(),
                        removed = ?update.removed_topics,
                        errors = ?update.errors,
                        kept_newer_epoch = ?update.kept_newer_epoch,
                        "metadata applied"
                    );
                    Ok(Some(update))
                }
                Err(stale) => {
                    tracing::debug!(%stale, "metadata response refused");
                    Ok(None)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Runs `f` on a connection to one broker after another until one succeeds or fails with
    /// an error another broker would repeat: open pooled connections first, then the other
    /// brokers of the metadata, then the bootstrap addresses. When every broker fails,
    /// [`NetError::NoBrokerAvailable`] lists each with its error.
    async fn try_any<T, F, Fut>(&self, mut f: F) -> Result<T, NetError>
    where
        F: FnMut(BrokerConnection) -> Fut,
        Fut: Future<Output = Result<T, NetError>>,
    {
        let mut tried: Vec<(String, Arc<NetError>)> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();

        for conn in self.open_connections() {
            let address = conn.address().to_owned();
            if !seen.insert(address.clone()) {
                continue;
            }
            match f(conn).await {
                Ok(value) => return Ok(value),
                Err(err) if try_next_broker(&err) => tried.push((address, Arc::new(err))),
                Err(err) => return Err(err),
            }
        }

        let brokers: Vec<(i32, String)> = read(&self.inner.metadata)
            .brokers()
            .values()
            .map(|b| (b.node_id, b.address()))
            .collect();
        for (node_id, address) in brokers {
            if !seen.insert(address.clone()) {
                continue;
            }
            let result = match self.pooled(node_id, &address).await {
                Ok(conn) => f(conn).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(value) => return Ok(value),
                Err(err) if try_next_broker(&err) => tried.push((address, Arc::new(err))),
                Err(err) => return Err(err),
            }
        }

        for address in &self.inner.bootstrap {
            if !seen.insert(address.clone()) {
                continue;
            }
            // Not pooled: the node id behind a bootstrap address is unknown, and the connection
            // closes when dropped.
            let result = match BrokerConnection::connect(address, &self.inner.config).await {
                Ok(conn) => f(conn).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(value) => return Ok(value),
                Err(err) if try_next_broker(&err) => tried.push((address.clone(), Arc::new(err))),
                Err(err) => return Err(err),
            }
        }
        Err(NetError::NoBrokerAvailable { tried })
    }

    /// The pooled connections that are open now, by node id.
    fn open_connections(&self) -> Vec<BrokerConnection> {
        let slots: Vec<Slot> = lock(&self.inner.pool).values().cloned().collect();
        slots
            .iter()
            .filter_map(|slot| {
                // A slot that is locked is being connected: skip it rather than wait.
                let guard = slot.try_lock().ok()?;
                guard.as_ref().filter(|c| !c.is_closed()).cloned()
            })
            .collect()
    }

    /// The pooled connection to `node_id`, opened (or replaced, when closed or at another
    /// address) as needed.
    async fn pooled(&self, node_id: i32, address: &str) -> Result<BrokerConnection, NetError> {
        let slot = lock(&self.inner.pool).entry(node_id).or_default().clone();
        let mut guard = slot.lock().await;
        if let Some(conn) = guard.as_ref() {
            if !conn.is_closed() && conn.address() == address {
                return Ok(conn.clone());
            }
        }
        if let Some(old) = guard.take() {
            tracing::debug!(
                node_id,
                old = old.address(),
                new = address,
                closed = old.is_closed(),
                "replacing pooled connection"
            );
            old.close();
        }
        let conn = BrokerConnection::connect(address, &self.inner.config).await?;
        *guard = Some(conn.clone());
        Ok(conn)
    }

    /// The number of node ids with an open pooled connection (for tests and diagnostics).
    pub fn open_connection_count(&self) -> usize {
        self.open_connections().len()
    }

    /// Refreshes the topics the cache holds (and brokers and controller), as the periodic
    /// refresh does.
    async fn periodic_refresh(&self) -> Result<(), NetError> {
        let _guard = self.inner.refresh_lock.lock().await;
        let topics: Vec<String> = read(&self.inner.metadata)
            .topics()
            .keys()
            .cloned()
            .collect();
        self.refresh(Some(topics), false).await.map(|_| ())
    }
}

/// Sends a Metadata request for `topics` (`None`: all) on `conn`, at the newest version both
/// sides support, shaped for that version.
async fn metadata_on(
    conn: BrokerConnection,
    topics: &Option<Vec<String>>,
    allow_auto_topic_creation: bool,
) -> Result<(String, MetadataResponse), NetError> {
    let version = conn
        .versions()
        .choose_for::<MetadataRequest>(VersionChoice::Newest, conn.address())?;
    let topics = match topics {
        Some(names) => Some(
            names
                .iter()
                .map(|name| {
                    MetadataRequestTopic::default()
                        .with_name(Some(name.clone()))
                        .with_topic_id(Uuid::ZERO)
                })
                .collect(),
        ),
        // v0 cannot say "all topics" with null; an empty list means all there.
        None if version == 0 => Some(Vec::new()),
        None => None,
    };
    let request = MetadataRequest::default()
        .with_topics(topics)
        // Before v4 the broker decides by its own configuration; the field does not exist.
        .with_allow_auto_topic_creation(allow_auto_topic_creation || version < 4);
    let (_, response) = conn.send(&request, VersionChoice::Exact(version)).await?;
    Ok((conn.address().to_owned(), response))
}

/// Sends FindCoordinator for one key on `conn`: v4+ with the `coordinator_keys` batch, older
/// versions with `key`.
async fn find_coordinator_on(
    conn: BrokerConnection,
    kind: CoordinatorType,
    key: &str,
) -> Result<CoordinatorInfo, NetError> {
    let version = conn
        .versions()
        .choose_for::<FindCoordinatorRequest>(VersionChoice::Newest, conn.address())?;
    let mut request = FindCoordinatorRequest::default();
    if version >= 4 {
        request.coordinator_keys = vec![key.to_owned()];
    } else {
        request.key = key.to_owned();
    }
    request.key_type = kind.key_type();
    let (_, response) = conn.send(&request, VersionChoice::Exact(version)).await?;
    let address = conn.address().to_owned();
    coordinator_from(&response, version, key, &address)
}

fn coordinator_from(
    response: &FindCoordinatorResponse,
    version: i16,
    key: &str,
    address: &str,
) -> Result<CoordinatorInfo, NetError> {
    let (code, message, node_id, host, port) = if version >= 4 {
        let Some(Coordinator {
            error_code,
            error_message,
            node_id,
            host,
            port,
            ..
        }) = response.coordinators.iter().find(|c| c.key == key)
        else {
            return Err(kafka_error(
                ApiKey::FindCoordinator,
                ErrorCode::CoordinatorNotAvailable,
                format!("the response has no coordinator for key {key:?}"),
                address.to_owned(),
            ));
        };
        (*error_code, error_message, *node_id, host, *port)
    } else {
        (
            response.error_code,
            &response.error_message,
            response.node_id,
            &response.host,
            response.port,
        )
    };
    let code: ErrorCode = code;
    if !code.is_ok() {
        return Err(NetError::Kafka {
            api: ApiKey::FindCoordinator,
            code,
            message: message.clone(),
            address: address.to_owned(),
        });
    }
    let port = u16::try_from(port).ok().filter(|p| *p != 0);
    match port {
        Some(port) if node_id >= 0 && !host.is_empty() => Ok(CoordinatorInfo {
            node_id,
            address: crate::metadata::BrokerInfo {
                node_id,
                host: host.clone(),
                port,
                rack: None,
            }
            .address(),
        }),
        _ => Err(kafka_error(
            ApiKey::FindCoordinator,
            ErrorCode::CoordinatorNotAvailable,
            format!("unusable coordinator for key {key:?}: node {node_id} at {host}:{port:?}"),
            address.to_owned(),
        )),
    }
}

/// Starts the periodic metadata refresh: every `max_age`, while a `Cluster` is alive. The task
/// holds only `weak` between refreshes and ends when `stop` resolves (its sender is dropped
/// with the last `Cluster`).
fn spawn_refresher(weak: Weak<Inner>, max_age: Duration, mut stop: oneshot::Receiver<()>) {
    if max_age.is_zero() {
        return;
    }
    let Some(first) = tokio::time::Instant::now().checked_add(max_age) else {
        return; // too far in the future to ever happen
    };
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(first, max_age);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = ticker.tick() => {}
            }
            let Some(inner) = weak.upgrade() else { break };
            let cluster = Cluster { inner };
            if let Err(err) = cluster.periodic_refresh().await {
                tracing::warn!(error = %err, "periodic metadata refresh failed");
            }
        }
        tracing::debug!("periodic metadata refresh stopped");
    });
}

#[cfg(test)]
mod tests {
    //! The router against an in-process fake broker (a TCP listener that answers ApiVersions,
    //! Metadata, FindCoordinator, ListOffsets and Heartbeat), for what a real broker cannot
    //! show: how many connections are opened, and which requests a retry sends.

    use super::*;
    use std::sync::atomic::AtomicUsize;

    use bytes::{Bytes, BytesMut};
    use kafkaex_protocol::header::{decode_request_header, encode_response_frame};
    use kafkaex_protocol::messages::api_versions_response::ApiVersion;
    use kafkaex_protocol::messages::list_offsets_response::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };
    use kafkaex_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafkaex_protocol::messages::{
        ApiVersionsRequest, ApiVersionsResponse, HeartbeatRequest, HeartbeatResponse,
        ListOffsetsRequest, ListOffsetsResponse,
    };
    use kafkaex_protocol::{Encodable, Message};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use crate::retry::RetryPolicy;

    /// What the fake broker has seen, and the errors it still has to give.
    #[derive(Default)]
    struct FakeState {
        accepted: AtomicUsize,
        requests: Mutex<BTreeMap<i16, usize>>,
        /// ListOffsets answers NOT_LEADER_OR_FOLLOWER this many more times.
        not_leader: AtomicUsize,
        /// Heartbeat answers NOT_COORDINATOR this many more times.
        not_coordinator: AtomicUsize,
    }

    impl FakeState {
        fn count(&self, api: ApiKey) -> usize {
            lock(&self.requests)
                .get(&api.as_i16())
                .copied()
                .unwrap_or(0)
        }
    }

    struct FakeBroker {
        address: String,
        state: Arc<FakeState>,
    }

    /// Starts a fake broker that advertises itself as node 1, leader of `t-0`.
    async fn fake_broker() -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(FakeState::default());
        let (s, port) = (state.clone(), listener.local_addr().unwrap().port());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                s.accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, s.clone(), port));
            }
        });
        FakeBroker { address, state }
    }

    async fn serve(mut stream: tokio::net::TcpStream, state: Arc<FakeState>, port: u16) {
        loop {
            let Ok(size) = stream.read_i32().await else {
                return;
            };
            let mut frame = vec![0; usize::try_from(size).unwrap()];
            if stream.read_exact(&mut frame).await.is_err() {
                return;
            }
            let mut buf = Bytes::from(frame);
            let (header, api) = decode_request_header(&mut buf).unwrap();
            *lock(&state.requests).entry(api.as_i16()).or_default() += 1;
            let version = header.request_api_version;
            let mut out = BytesMut::new();
            let id = header.correlation_id;
            match api {
                ApiKey::ApiVersions => {
                    let versions = |key: ApiKey, r: kafkaex_protocol::VersionRange| {
                        ApiVersion::default()
                            .with_api_key(key.as_i16())
                            .with_min_version(r.min)
                            .with_max_version(r.max)
                    };
                    let body = ApiVersionsResponse::default().with_api_keys(vec![
                        versions(ApiKey::ApiVersions, ApiVersionsRequest::VERSIONS),
                        versions(ApiKey::Metadata, MetadataRequest::VERSIONS),
                        versions(ApiKey::FindCoordinator, FindCoordinatorRequest::VERSIONS),
                        versions(ApiKey::ListOffsets, ListOffsetsRequest::VERSIONS),
                        versions(ApiKey::Heartbeat, HeartbeatRequest::VERSIONS),
                    ]);
                    encode(&mut out, api, id, version, &body);
                }
                ApiKey::Metadata => {
                    let body = MetadataResponse::default()
                        .with_brokers(vec![MetadataResponseBroker::default()
                            .with_node_id(1)
                            .with_host("127.0.0.1".into())
                            .with_port(i32::from(port))])
                        .with_controller_id(1)
                        .with_topics(vec![MetadataResponseTopic::default()
                            .with_name(Some("t".into()))
                            .with_partitions(vec![MetadataResponsePartition::default()
                                .with_partition_index(0)
                                .with_leader_id(1)
                                .with_leader_epoch(1)])]);
                    encode(&mut out, api, id, version, &body);
                }
                ApiKey::FindCoordinator => {
                    let request = FindCoordinatorRequest::from_bytes(buf, version).unwrap();
                    let mut body = FindCoordinatorResponse::default();
                    if version >= 4 {
                        body.coordinators = request
                            .coordinator_keys
                            .iter()
                            .map(|key| {
                                Coordinator::default()
                                    .with_key(key.clone())
                                    .with_node_id(1)
                                    .with_host("127.0.0.1".into())
                                    .with_port(i32::from(port))
                            })
                            .collect();
                    } else {
                        body = body
                            .with_node_id(1)
                            .with_host("127.0.0.1".into())
                            .with_port(i32::from(port));
                    }
                    encode(&mut out, api, id, version, &body);
                }
                ApiKey::ListOffsets => {
                    let code = if take_one(&state.not_leader) {
                        ErrorCode::NotLeaderOrFollower
                    } else {
                        ErrorCode::None
                    };
                    let body = ListOffsetsResponse::default().with_topics(vec![
                        ListOffsetsTopicResponse::default()
                            .with_name("t".into())
                            .with_partitions(vec![ListOffsetsPartitionResponse::default()
                                .with_error_code(code)
                                .with_offset(42)]),
                    ]);
                    encode(&mut out, api, id, version, &body);
                }
                ApiKey::Heartbeat => {
                    let code = if take_one(&state.not_coordinator) {
                        ErrorCode::NotCoordinator
                    } else {
                        ErrorCode::None
                    };
                    let body = HeartbeatResponse::default().with_error_code(code);
                    encode(&mut out, api, id, version, &body);
                }
                other => panic!("the fake broker does not serve {other:?}"),
            }
            if stream.write_all(&out).await.is_err() {
                return;
            }
        }
    }

    fn take_one(counter: &AtomicUsize) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn encode(out: &mut BytesMut, api: ApiKey, id: i32, version: i16, body: &impl Encodable) {
        encode_response_frame(out, api, id, version, body).unwrap();
    }

    fn fast_retries() -> NetConfig {
        NetConfig::default().with_retry(
            RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5))
                .with_deadline(Duration::from_secs(10)),
        )
    }

    /// An address where nothing listens: a listener bound and dropped.
    async fn closed_address() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    }

    #[tokio::test]
    async fn concurrent_first_uses_of_a_node_open_one_connection() {
        let broker = fake_broker().await;
        let cluster = Cluster::connect(&[&broker.address], NetConfig::default())
            .await
            .unwrap();
        let after_bootstrap = broker.state.accepted.load(Ordering::SeqCst);
        let uses = (0..16).map(|_| {
            let cluster = cluster.clone();
            tokio::spawn(async move { cluster.broker_for(Route::Node(1)).await })
        });
        for handle in uses.collect::<Vec<_>>() {
            handle.await.unwrap().unwrap();
        }
        assert_eq!(
            broker.state.accepted.load(Ordering::SeqCst),
            after_bootstrap + 1
        );
        assert_eq!(cluster.open_connection_count(), 1);
    }

    #[tokio::test]
    async fn a_closed_connection_is_replaced_on_next_use() {
        let broker = fake_broker().await;
        let cluster = Cluster::connect(&[&broker.address], NetConfig::default())
            .await
            .unwrap();
        let first = cluster.broker_for(Route::Node(1)).await.unwrap();
        let accepted = broker.state.accepted.load(Ordering::SeqCst);
        first.close();
        assert!(first.is_closed());
        let second = cluster.broker_for(Route::Node(1)).await.unwrap();
        assert!(!second.is_closed());
        assert_eq!(broker.state.accepted.load(Ordering::SeqCst), accepted + 1);
        // And the open one is reused.
        cluster
            .broker_for(Route::Leader {
                topic: "t".into(),
                partition: 0,
            })
            .await
            .unwrap();
        assert_eq!(broker.state.accepted.load(Ordering::SeqCst), accepted + 1);
    }

    #[tokio::test]
    async fn bootstrap_skips_dead_addresses_and_lists_them_when_all_are_dead() {
        let broker = fake_broker().await;
        let dead = closed_address().await;
        let cluster = Cluster::connect(&[dead.as_str(), &broker.address], NetConfig::default())
            .await
            .unwrap();
        assert_eq!(cluster.metadata().brokers().len(), 1);

        let dead2 = closed_address().await;
        let err = Cluster::connect(&[&dead, &dead2], NetConfig::default())
            .await
            .unwrap_err();
        match &err {
            NetError::NoBrokerAvailable { tried } => {
                let addresses: Vec<&str> = tried.iter().map(|(a, _)| a.as_str()).collect();
                assert_eq!(addresses, [dead.as_str(), dead2.as_str()]);
                assert!(tried
                    .iter()
                    .all(|(_, e)| matches!(**e, NetError::Connect { .. })));
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(&dead) && text.contains(&dead2), "{text}");
    }

    #[tokio::test]
    async fn bad_bootstrap_arguments_are_rejected_before_connecting() {
        let none: [&str; 0] = [];
        for bad in [
            &none[..],
            &["localhost"],
            &["host:0"],
            &["::1:9092"],
            &["ok:1", ""],
        ] {
            let err = Cluster::connect(bad, NetConfig::default())
                .await
                .unwrap_err();
            assert!(
                matches!(err, NetError::InvalidArgument(_)),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn not_leader_invalidates_refreshes_and_retries() {
        let broker = fake_broker().await;
        let cluster = Cluster::connect(&[&broker.address], fast_retries())
            .await
            .unwrap();
        broker.state.not_leader.store(2, Ordering::SeqCst);
        let metadata_before = broker.state.count(ApiKey::Metadata);
        let (_, response) = cluster
            .send_with_retry(
                Route::leader("t", 0),
                &ListOffsetsRequest::default(),
                VersionChoice::Newest,
                |r| {
                    r.topics
                        .iter()
                        .flat_map(|t| &t.partitions)
                        .map(|p| p.error_code)
                        .find(|c| !c.is_ok())
                },
            )
            .await
            .unwrap();
        assert_eq!(response.topics[0].partitions[0].offset, 42);
        assert_eq!(broker.state.count(ApiKey::ListOffsets), 3);
        // The fake broker lists `t` in every Metadata response, so the bootstrap already knew
        // its leader: one refresh after each NOT_LEADER_OR_FOLLOWER.
        assert_eq!(broker.state.count(ApiKey::Metadata) - metadata_before, 2);
    }

    #[tokio::test]
    async fn a_non_retriable_code_ends_the_retries_at_once() {
        let broker = fake_broker().await;
        let cluster = Cluster::connect(&[&broker.address], fast_retries())
            .await
            .unwrap();
        broker.state.not_coordinator.store(1, Ordering::SeqCst);
        let err = cluster
            .send_with_retry(
                Route::Node(1),
                &HeartbeatRequest::default(),
                VersionChoice::Newest,
                |_| Some(ErrorCode::GroupAuthorizationFailed),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kafka_code(), Some(ErrorCode::GroupAuthorizationFailed));
        assert_eq!(broker.state.count(ApiKey::Heartbeat), 1);
    }

    #[tokio::test]
    async fn not_coordinator_finds_the_coordinator_again() {
        let broker = fake_broker().await;
        let cluster = Cluster::connect(&[&broker.address], fast_retries())
            .await
            .unwrap();
        broker.state.not_coordinator.store(2, Ordering::SeqCst);
        let route = Route::GroupCoordinator("g".into());
        cluster
            .send_with_retry(
                route.clone(),
                &HeartbeatRequest::default(),
                VersionChoice::Newest,
                |r| Some(r.error_code),
            )
            .await
            .unwrap();
        assert_eq!(broker.state.count(ApiKey::Heartbeat), 3);
        assert_eq!(broker.state.count(ApiKey::FindCoordinator), 3);
        // Cached now: another request does not look it up again.
        cluster
            .send(route, &HeartbeatRequest::default(), VersionChoice::Newest)
            .await
            .unwrap();
        assert_eq!(broker.state.count(ApiKey::FindCoordinator), 3);
        // Older FindCoordinator versions (single key) work too.
        let info = cluster
            .try_any(|conn| async move {
                let (_, response) = conn
                    .send(
                        &FindCoordinatorRequest::default().with_key("g".into()),
                        VersionChoice::Exact(3),
                    )
                    .await?;
                coordinator_from(&response, 3, "g", conn.address())
            })
            .await
            .unwrap();
        assert_eq!(info.node_id, 1);
    }

    #[tokio::test]
    async fn periodic_refresh_runs_and_holds_no_strong_reference() {
        let broker = fake_broker().await;
        let config = NetConfig::default().with_metadata_max_age(Duration::from_millis(20));
        let cluster = Cluster::connect(&[&broker.address], config).await.unwrap();
        let before = broker.state.count(ApiKey::Metadata);
        // Poll until two periodic refreshes have happened.
        tokio::time::timeout(Duration::from_secs(10), async {
            while broker.state.count(ApiKey::Metadata) < before + 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("periodic refreshes");
        let weak = Arc::downgrade(&cluster.inner);
        // Wait out a refresh in progress (the task holds a strong reference only during one).
        let _guard = cluster.inner.refresh_lock.lock().await;
        drop(_guard);
        drop(cluster);
        tokio::time::timeout(Duration::from_secs(10), async {
            while weak.upgrade().is_some() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the cluster is freed once its last clone is dropped");
    }

    #[test]
    fn routes_display_what_they_target() {
        assert_eq!(Route::leader("t", 3).to_string(), "leader of t-3");
        assert_eq!(Route::Node(2).to_string(), "node 2");
        assert_eq!(Route::Controller.to_string(), "controller");
        assert_eq!(CoordinatorType::Transaction.key_type(), 1);
    }
}
