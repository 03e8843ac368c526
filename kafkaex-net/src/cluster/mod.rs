//! A whole Kafka cluster: bootstrap, a connection pool, metadata and routing, and the one call
//! every layer above makes, [`Cluster::request`].
//!
//! - **Bootstrap.** [`Cluster::connect`] tries the bootstrap addresses until one answers a
//!   Metadata request: a few at a time ([`NetConfig::bootstrap_concurrency`], each started
//!   [`NetConfig::connect_stagger`] after the previous one while none has answered), so a list
//!   of dead addresses does not cost one connect timeout each. Addresses that are unreachable,
//!   silent, or not Kafka brokers at all (an HTTP server, a wrong correlation id, an
//!   unreadable answer) are skipped; when none answers the error
//!   ([`NetError::NoBrokerAvailable`]) lists each address with what it did.
//! - **Connection pool.** One [`BrokerConnection`] per node id, opened on first use at the
//!   address the metadata gives, shared (requests are pipelined on it) and replaced when it has
//!   closed. Concurrent first uses of a node wait for one connection rather than opening one
//!   each. A request that times out closes its connection (as Java's client does), so a frozen
//!   broker or a half-open connection is replaced instead of timing out forever.
//! - **Metadata.** A [`ClusterMetadata`] cache, refreshed on demand
//!   ([`Cluster::refresh_metadata`]), when a lookup finds a partition unknown or invalidated, and
//!   periodically every [`NetConfig::metadata_max_age`] (a background task holding only a weak
//!   reference, so dropping the last `Cluster` clone stops it). Refreshes are serialized: a
//!   burst of lookups for one invalidated partition sends one Metadata request, not one each.
//!   Only the topics a refresh asks for are cached.
//! - **Routes** ([`Route`]): a node id, any broker, the leader of a partition (or of several
//!   partitions one broker leads), a group or transaction coordinator (found with
//!   FindCoordinator and cached), or the controller.
//!
//! # The call: [`Cluster::request`]
//!
//! A request of a [`RoutedRequest`](crate::RoutedRequest) type carries everything the cluster needs: it says where it
//! goes (the group id inside an OffsetCommit *is* its route, so the two cannot disagree), where
//! the error codes of its response are, and whether it may be repeated. [`Cluster::request`]
//! then:
//!
//! 1. resolves the route (refreshing metadata or finding the coordinator as needed);
//! 2. picks the newest version both sides support, up to the request's own limit (a topic
//!    named without its id keeps a Produce at v12, an OffsetCommit at v9: the newer versions
//!    name topics by id only), or the one the caller pins, with [`Cluster::request_at`]; with
//!    [`Cluster::request_with`], builds the request for that version, for requests whose shape
//!    changes between versions (OffsetFetch's grouped form from v8, FindCoordinator's batch
//!    from v4);
//! 3. sends it, with a request timeout stretched to cover what the broker may hold it for on
//!    purpose (a JoinGroup's rebalance timeout, a Fetch's max wait);
//! 4. reads the response's error codes ([`RoutedRequest::errors`](crate::RoutedRequest::errors)) and invalidates what they say
//!    is out of date: the partition's metadata after `NOT_LEADER_OR_FOLLOWER` and its kin, the
//!    topic's after `UNKNOWN_TOPIC_OR_PARTITION`, the coordinator after `NOT_COORDINATOR`,
//!    `COORDINATOR_NOT_AVAILABLE` or `COORDINATOR_LOAD_IN_PROGRESS`, the controller after
//!    `NOT_CONTROLLER`; connection failures invalidate what the route depended on;
//! 5. retries under [`NetConfig::retry`] when the request as a whole failed with a retriable
//!    code, or did not reach the broker; returns [`NetError::Kafka`] (with the code's scope)
//!    for a non-retriable code of the whole request; and otherwise returns the [`Response`],
//!    whose [`Response::errors`] holds the codes of single items of a request about several
//!    (one partition of a Produce to many), which only the caller can act on.
//!
//! **Repeating is only done when it is safe.** A request that may have reached the broker
//! (it timed out after it was written, or the connection failed after the write:
//! [`NetError::MaybeApplied`]; or the broker answered `REQUEST_TIMED_OUT` or
//! `NOT_ENOUGH_REPLICAS_AFTER_APPEND`, which say the write happened) is retried only if it is
//! idempotent ([`RoutedRequest::is_idempotent`](crate::RoutedRequest::is_idempotent)): a Produce from an idempotent producer, reads,
//! commits, heartbeats. Otherwise (a Produce without a producer id, CreateTopics, ...) the call
//! ends with that error, whose [`NetError::may_have_been_applied`] is true, after one attempt.
//!
//! [`Cluster::send`] (one attempt, error codes untouched) and [`Cluster::send_with_retry`]
//! (retries decided by a closure) remain for any generated request.
//!
//! # Tracing
//!
//! Metadata refreshes run in a debug-level `metadata_refresh` span (generation, topics, broker);
//! [`Cluster::request`] and [`Cluster::send_with_retry`] run in a `routed_request` span (api,
//! route), in which each retry is logged with its attempt number, wait and error; connects run
//! in `broker_connect` spans and requests in `broker_request` spans ([`crate::broker`]).
//!
//! ```no_run
//! use kafkaex_net::{Cluster, NetConfig};
//! use kafkaex_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
//! use kafkaex_protocol::messages::ListOffsetsRequest;
//!
//! # async fn example() -> Result<(), kafkaex_net::NetError> {
//! let cluster = Cluster::connect(&["kafka1:9092", "kafka2:9092"], NetConfig::default()).await?;
//! let request = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
//!     .with_name("events".into())
//!     .with_partitions(vec![ListOffsetsPartition::default()
//!         .with_partition_index(0)
//!         .with_timestamp(-1)])]);
//! // Routed to the leader of events-0, at the newest version both sides speak; a
//! // NOT_LEADER_OR_FOLLOWER refreshes the metadata and tries the new leader.
//! let response = cluster.request(&request).await?;
//! println!(
//!     "latest offset: {} (ListOffsets v{} from {})",
//!     response.body.topics[0].partitions[0].offset, response.version, response.broker
//! );
//! # Ok(()) }
//! ```

mod coordinator;
mod invalidate;
mod pool;
mod refresh;
mod request;
mod route;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use kafkaex_protocol::{ApiKey, ErrorCode, Request};
use tokio::sync::oneshot;
use tracing::Instrument as _;

pub use coordinator::CoordinatorInfo;
pub use route::{CoordinatorType, Route, TopicRef};

use crate::broker::BrokerConnection;
use crate::config::NetConfig;
use crate::error::{ErrorScope, NetError};
use crate::metadata::{ClusterMetadata, LeaderLookup};
use crate::request::{idempotent_api, BrokerRef, Response};
use crate::retry::retry_if;
use crate::versions::VersionChoice;

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

impl Cluster {
    /// Connects to a cluster: tries the `bootstrap` addresses (`host:port`) until one answers a
    /// Metadata request (see the [module documentation](self)), and starts the periodic
    /// metadata refresh. Must be called within a tokio runtime.
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
            crate::broker::split_host_port(address)?;
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
        refresh::spawn_refresher(Arc::downgrade(&cluster.inner), max_age, stop_rx);
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

    /// The connection a request on `route` would use now (connecting, refreshing metadata or
    /// finding the coordinator as needed).
    ///
    /// # Errors
    ///
    /// - [`NetError::UnknownBroker`]: [`Route::Node`] with an id the metadata does not list,
    ///   even after a refresh;
    /// - [`NetError::Kafka`] (`api` Metadata, made by the client): the partition has no known
    ///   leader after a refresh (`UNKNOWN_TOPIC_OR_PARTITION`, `LEADER_NOT_AVAILABLE`:
    ///   retriable) or its topic carries a non-retriable error; no controller is known
    ///   (`NOT_CONTROLLER`);
    /// - [`NetError::InvalidArgument`]: [`Route::Leaders`] of partitions led by different
    ///   brokers;
    /// - connection errors, and [`NetError::NoBrokerAvailable`] for [`Route::Any`].
    pub async fn broker_for(&self, route: Route) -> Result<BrokerConnection, NetError> {
        let result = self.resolve(&route).await.map(|(conn, _)| conn);
        if let Err(err) = &result {
            self.after_failure(&route, err);
        }
        result
    }

    /// Sends `request` on `route` once, at the version `choice` selects. [`Route::Any`] tries
    /// brokers in turn while they fail to connect or answer. Error codes inside the response
    /// are not looked at (so [`Response::errors`] is empty); see [`Cluster::request`].
    pub async fn send<R: Request>(
        &self,
        route: Route,
        request: &R,
        choice: VersionChoice,
    ) -> Result<Response<R::Response>, NetError> {
        let idempotent = idempotent_api(R::API_KEY);
        self.send_once(&route, request, choice, idempotent).await
    }

    /// Sends `request` on `route`, retrying retriable failures under [`NetConfig::retry`] (see
    /// the [module documentation](self) for what each failure invalidates first).
    ///
    /// `response_error` extracts the error code that decides the outcome from a response
    /// (`None` or [`ErrorCode::None`] for success). A code it returns is turned into
    /// [`NetError::Kafka`]; a retriable one is retried, any other ends the call at once.
    /// A failure after the request may have reached the broker is retried only for the APIs
    /// [`idempotent_api`] names (this call cannot see inside the request: a Produce is never
    /// repeated; use [`Cluster::request`]). When the retry deadline comes, the last error is
    /// returned.
    pub async fn send_with_retry<R, F>(
        &self,
        route: Route,
        request: &R,
        choice: VersionChoice,
        response_error: F,
    ) -> Result<Response<R::Response>, NetError>
    where
        R: Request,
        F: Fn(&R::Response) -> Option<ErrorCode>,
    {
        let span = tracing::debug_span!("routed_request", api = R::API_KEY.name(), route = %route);
        let route = &route;
        let response_error = &response_error;
        let idempotent = idempotent_api(R::API_KEY);
        retry_if(
            &self.inner.config.retry,
            |err: &NetError| retry_allowed(err, idempotent),
            |attempt| async move {
                let response = self.send_once(route, request, choice, idempotent).await?;
                match response_error(&response.body) {
                    Some(code) if !code.is_ok() => {
                        let err = NetError::from_broker(
                            R::API_KEY,
                            code,
                            None,
                            response.broker.address.clone(),
                            ErrorScope::Response,
                        );
                        tracing::debug!(attempt, error = %err, "error code in the response");
                        self.after_failure(route, &err);
                        Err(err)
                    }
                    _ => Ok(response),
                }
            },
        )
        .instrument(span)
        .await
    }

    /// One attempt of a request with no [`RoutedRequest`](crate::RoutedRequest) facts: on a connection to `route`,
    /// at the version `choice` selects.
    async fn send_once<R: Request>(
        &self,
        route: &Route,
        request: &R,
        choice: VersionChoice,
        idempotent: bool,
    ) -> Result<Response<R::Response>, NetError> {
        if let Route::Any = route {
            return self
                .try_any(idempotent, |conn, node_id| async move {
                    let mut response = conn.send(request, choice).await?;
                    response.broker.node_id = node_id;
                    Ok(response)
                })
                .await;
        }
        let result = async {
            let (conn, node_id) = self.resolve(route).await?;
            let mut response = conn.send(request, choice).await?;
            response.broker.node_id = node_id;
            Ok(response)
        }
        .await;
        if let Err(err) = &result {
            self.after_failure(route, err);
        }
        result
    }

    /// The connection for `route`, with the node id when it is known.
    async fn resolve(&self, route: &Route) -> Result<(BrokerConnection, Option<i32>), NetError> {
        match route {
            Route::Node(node_id) => Ok((self.node(*node_id).await?, Some(*node_id))),
            Route::Any => {
                self.try_any(true, |conn, node| async move { Ok((conn, node)) })
                    .await
            }
            Route::Leader { topic, partition } => {
                let node_id = self
                    .leader_node(&TopicRef::Name(topic.clone()), *partition)
                    .await?;
                Ok((self.node(node_id).await?, Some(node_id)))
            }
            Route::Leaders(partitions) => {
                let node_id = self.leaders_node(partitions).await?;
                Ok((self.node(node_id).await?, Some(node_id)))
            }
            Route::GroupCoordinator(key) => {
                let info = self.find_coordinator(CoordinatorType::Group, key).await?;
                let conn = self.pooled(info.node_id, &info.address).await?;
                Ok((conn, Some(info.node_id)))
            }
            Route::TransactionCoordinator(key) => {
                let info = self
                    .find_coordinator(CoordinatorType::Transaction, key)
                    .await?;
                let conn = self.pooled(info.node_id, &info.address).await?;
                Ok((conn, Some(info.node_id)))
            }
            Route::Controller => {
                let node_id = self.controller_node().await?;
                Ok((self.node(node_id).await?, Some(node_id)))
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

    /// The name of a topic, looking a topic id up in the metadata (refreshing all topics once
    /// when it is not there: Metadata requests by id need v12+).
    async fn topic_name(&self, topic: &TopicRef) -> Result<String, NetError> {
        let id = match topic {
            TopicRef::Name(name) => return Ok(name.clone()),
            TopicRef::Id(id) => *id,
        };
        let lookup = |this: &Self| {
            read(&this.inner.metadata)
                .topic_by_id(id)
                .map(str::to_owned)
        };
        if let Some(name) = lookup(self) {
            return Ok(name);
        }
        self.refresh_serialized(None, |m| m.topic_by_id(id).is_some())
            .await?;
        lookup(self).ok_or_else(|| {
            NetError::from_client(
                ApiKey::Metadata,
                ErrorCode::UnknownTopicId,
                format!("no topic has id {id:?}"),
                lock(&self.inner.metadata_source).clone(),
                ErrorScope::TopicId(id),
            )
        })
    }

    async fn leader_node(&self, topic: &TopicRef, partition: i32) -> Result<i32, NetError> {
        let topic = &self.topic_name(topic).await?;
        let lookup = |this: &Self| read(&this.inner.metadata).leader(topic, partition);
        let scope = || ErrorScope::Partition {
            topic: topic.clone(),
            partition,
        };
        let mut refreshed = false;
        loop {
            match lookup(self) {
                LeaderLookup::Leader { node_id, .. } => return Ok(node_id),
                LeaderLookup::Error(code) => {
                    return Err(NetError::from_client(
                        ApiKey::Metadata,
                        code,
                        format!("the metadata for {topic}-{partition} carries this error"),
                        lock(&self.inner.metadata_source).clone(),
                        scope(),
                    ))
                }
                LeaderLookup::Refresh { reason } if refreshed => {
                    return Err(NetError::from_client(
                        ApiKey::Metadata,
                        reason,
                        format!("no leader known for {topic}-{partition}"),
                        lock(&self.inner.metadata_source).clone(),
                        scope(),
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

    /// The one node that leads every partition of `partitions`.
    async fn leaders_node(&self, partitions: &[(TopicRef, i32)]) -> Result<i32, NetError> {
        let mut leaders: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        for (topic, partition) in partitions {
            let node = self.leader_node(topic, *partition).await?;
            leaders
                .entry(node)
                .or_default()
                .push(format!("{topic}-{partition}"));
        }
        match leaders.len() {
            0 => Err(NetError::InvalidArgument(
                "the request names no partition to route it by".to_owned(),
            )),
            1 => Ok(*leaders.keys().next().unwrap_or(&-1)),
            _ => Err(NetError::InvalidArgument(format!(
                "the request's partitions are led by different brokers ({}): send one request per broker",
                leaders
                    .iter()
                    .map(|(node, parts)| format!("node {node}: {}", parts.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))),
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
            NetError::from_client(
                ApiKey::Metadata,
                ErrorCode::NotController,
                "the metadata names no controller",
                lock(&self.inner.metadata_source).clone(),
                ErrorScope::Response,
            )
        })
    }
}

/// Whether a failed attempt may be tried again: it is retriable, and either safe to repeat or
/// known not to have reached the broker.
pub(crate) fn retry_allowed(err: &NetError, idempotent: bool) -> bool {
    err.is_retriable() && (idempotent || !err.may_have_been_applied())
}

/// The broker a connection reached, for [`Response::broker`].
pub(crate) fn broker_ref(conn: &BrokerConnection, node_id: Option<i32>) -> BrokerRef {
    BrokerRef {
        node_id,
        address: conn.address().to_owned(),
    }
}
