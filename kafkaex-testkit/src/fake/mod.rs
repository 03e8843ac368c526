//! A scriptable fake Kafka cluster on 127.0.0.1, for faults a real broker will not produce on
//! demand (see the [crate docs](crate)).
//!
//! [`FakeCluster`] runs one TCP listener per fake broker. Every request is read whole, its
//! header and body decoded with the generated protocol types, recorded as a [`Seen`], and then
//! answered by the first [`Rule`] that matches it, or by the in-memory model when none does.
//! Requests on one connection are handled one at a time, in order, as Kafka does.
//!
//! Rules are how tests inject faults: [`Action::Error`] answers with an error code in every
//! place the API reports errors, [`Action::ApplyThenDisconnect`] applies a request (a Produce
//! is appended) and closes the connection instead of answering, [`Action::Silence`] never
//! answers, [`Action::Delay`] answers late, [`Action::respond`] answers with anything at all,
//! including malformed bytes ([`Reply`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use kafkaex_protocol::{ApiKey, ErrorCode};
//! use kafkaex_testkit::fake::{Action, FakeCluster, Rule};
//!
//! # async fn example() {
//! let cluster = FakeCluster::builder()
//!     .topic("events", 3)
//!     .max_version(ApiKey::OffsetFetch, 7) // a Kafka 2.5-like OffsetFetch range
//!     .start()
//!     .await;
//! cluster.add_rule(Rule::on(ApiKey::Produce).once().then(Action::ApplyThenDisconnect));
//! cluster.add_rule(
//!     Rule::on(ApiKey::Fetch).then(Action::delay(Duration::from_millis(200), Action::Default)),
//! );
//! // ... drive a client against cluster.bootstrap() ...
//! assert_eq!(cluster.count(ApiKey::Produce), 1);
//! # }
//! ```

mod errors;
mod model;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafkaex_protocol::header::{
    decode_request_header, encode_response_frame, ResponseHeaderVersion,
};
use kafkaex_protocol::messages::{decode_request_body, RequestKind, ResponseKind};
use kafkaex_protocol::{ApiKey, ErrorCode, Uuid, VersionRange};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use model::{BrokerState, ConnectionState, Model};
pub use model::{Committed, StoredBatch};

/// The largest request frame the fake accepts (a larger size prefix closes the connection).
const MAX_REQUEST_FRAME: usize = 100 * 1024 * 1024;

/// One request a fake broker received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The node id of the broker that received it.
    pub node_id: i32,
    /// A number for the connection it came on, unique in the cluster.
    pub connection: u64,
    /// The API.
    pub api: ApiKey,
    /// The API version.
    pub version: i16,
    /// The correlation id.
    pub correlation_id: i32,
    /// The client id in the header.
    pub client_id: Option<String>,
    /// The decoded body.
    pub body: RequestKind,
}

/// How a fake broker answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A response body, framed with the response header the API uses at `version` (boxed: a
    /// `ResponseKind` is many times the size of the other variants; build it with
    /// [`Reply::body`]).
    Body {
        /// The version to encode at (normally the request's).
        version: i16,
        /// The body.
        body: Box<ResponseKind>,
    },
    /// An already encoded body, framed with the header the API uses at the request's version.
    RawResponse(Bytes),
    /// These bytes after a bare correlation id (a v0 response header), whatever the API: for
    /// malformed answers.
    RawBody(Bytes),
    /// These bytes written to the socket as they are, unframed.
    RawBytes(Bytes),
    /// No answer; the connection stays open.
    Silence,
    /// The connection is closed.
    Disconnect,
}

impl Reply {
    /// [`Reply::Body`] of `body` at `version`.
    pub fn body(version: i16, body: impl Into<ResponseKind>) -> Reply {
        Reply::Body {
            version,
            body: Box::new(body.into()),
        }
    }
}

type RespondFn = Arc<Mutex<dyn FnMut(&Seen) -> Reply + Send>>;

/// What a [`Rule`] does with a request it matches.
#[derive(Clone)]
#[non_exhaustive]
pub enum Action {
    /// What the model does (the answer to a request no rule matches).
    Default,
    /// A response with this code in every place the API reports errors; the model is not
    /// changed (a Produce is not appended). A Produce at acks=0 gets no answer.
    Error(ErrorCode),
    /// The model applies the request (a Produce is appended) and the connection is closed
    /// without an answer: a response lost after the broker acted on the request.
    ApplyThenDisconnect,
    /// The model applies the request and no answer is ever sent; the connection stays open but
    /// is not read any more (a broker answers a connection's requests in order, so nothing after
    /// an unanswered request is answered either).
    ApplyThenSilence,
    /// Nothing is applied and no answer is ever sent; the connection stays open (a frozen
    /// broker, or a half-open connection).
    Silence,
    /// The connection is closed before anything is applied.
    Disconnect,
    /// Nothing is applied, no answer is sent, and the broker stops reading the connection
    /// (which stays open): the client's writes fill the socket buffers and then block.
    Freeze,
    /// Waits, then does the inner action. Later requests on the connection wait too.
    Delay(Duration, Box<Action>),
    /// Answers with whatever the function returns.
    Respond(RespondFn),
}

impl Action {
    /// [`Action::Delay`].
    pub fn delay(wait: Duration, then: Action) -> Action {
        Action::Delay(wait, Box::new(then))
    }

    /// [`Action::Respond`] with `f`.
    pub fn respond(f: impl FnMut(&Seen) -> Reply + Send + 'static) -> Action {
        Action::Respond(Arc::new(Mutex::new(f)))
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Default => f.write_str("Default"),
            Action::Error(code) => write!(f, "Error({code:?})"),
            Action::ApplyThenDisconnect => f.write_str("ApplyThenDisconnect"),
            Action::ApplyThenSilence => f.write_str("ApplyThenSilence"),
            Action::Silence => f.write_str("Silence"),
            Action::Disconnect => f.write_str("Disconnect"),
            Action::Freeze => f.write_str("Freeze"),
            Action::Delay(d, then) => write!(f, "Delay({d:?}, {then:?})"),
            Action::Respond(_) => f.write_str("Respond(..)"),
        }
    }
}

type Predicate = Arc<dyn Fn(&Seen) -> bool + Send + Sync>;

/// Which requests a scripted action applies to, and how many times.
#[derive(Clone)]
pub struct Rule {
    api: Option<ApiKey>,
    node: Option<i32>,
    when: Option<Predicate>,
    remaining: Option<usize>,
    action: Action,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("api", &self.api)
            .field("node", &self.node)
            .field("when", &self.when.is_some())
            .field("remaining", &self.remaining)
            .field("action", &self.action)
            .finish()
    }
}

impl Rule {
    /// Requests of `api`, on any broker, every time, handled as the model does until
    /// [`Rule::then`] says otherwise.
    pub fn on(api: ApiKey) -> Rule {
        Rule {
            api: Some(api),
            ..Rule::any()
        }
    }

    /// Every request.
    pub fn any() -> Rule {
        Rule {
            api: None,
            node: None,
            when: None,
            remaining: None,
            action: Action::Default,
        }
    }

    /// Only requests received by the broker with this node id.
    pub fn on_node(mut self, node_id: i32) -> Rule {
        self.node = Some(node_id);
        self
    }

    /// Only requests for which `predicate` holds.
    pub fn when(mut self, predicate: impl Fn(&Seen) -> bool + Send + Sync + 'static) -> Rule {
        self.when = Some(Arc::new(predicate));
        self
    }

    /// Only the next `n` matching requests; later ones fall through to the next rule.
    pub fn times(mut self, n: usize) -> Rule {
        self.remaining = Some(n);
        self
    }

    /// [`Rule::times`] 1.
    pub fn once(self) -> Rule {
        self.times(1)
    }

    /// What to do with a matching request.
    pub fn then(mut self, action: Action) -> Rule {
        self.action = action;
        self
    }

    fn matches(&self, seen: &Seen) -> bool {
        self.remaining != Some(0)
            && self.api.is_none_or(|api| api == seen.api)
            && self.node.is_none_or(|node| node == seen.node_id)
            && self.when.as_ref().is_none_or(|f| f(seen))
    }
}

/// A handle on an added rule, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RuleId(u64);

/// Builds a [`FakeCluster`].
#[derive(Debug)]
pub struct FakeClusterBuilder {
    brokers: usize,
    first_node_id: i32,
    topics: Vec<(String, i32)>,
    versions: Vec<(Option<i32>, ApiKey, Option<VersionRange>)>,
    auto_create_topics: bool,
    metadata_lists_all: bool,
    sasl: Option<(String, String)>,
    rules: Vec<Rule>,
}

impl FakeClusterBuilder {
    /// The number of brokers (1 by default), with node ids from 1 (see
    /// [`FakeClusterBuilder::first_node_id`]).
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n.max(1);
        self
    }

    /// The node id of the first broker; the others follow.
    pub fn first_node_id(mut self, id: i32) -> Self {
        self.first_node_id = id;
        self
    }

    /// A topic that exists from the start, its partitions' leaders spread over the brokers.
    pub fn topic(mut self, name: &str, partitions: i32) -> Self {
        self.topics.push((name.to_owned(), partitions));
        self
    }

    /// Many topics at once: `{prefix}{i}` for `i` in `0..count`, each with `partitions`.
    pub fn topics(mut self, prefix: &str, count: usize, partitions: i32) -> Self {
        self.topics
            .extend((0..count).map(|i| (format!("{prefix}{i}"), partitions)));
        self
    }

    /// Every broker advertises `api` only up to `max` (from the lowest version this crate
    /// knows), as an older Kafka would.
    pub fn max_version(mut self, api: ApiKey, max: i16) -> Self {
        let min = api.valid_versions().min;
        self.versions
            .push((None, api, Some(VersionRange { min, max })));
        self
    }

    /// Every broker advertises exactly this range for `api` (`None`: not at all).
    pub fn api_range(mut self, api: ApiKey, range: Option<VersionRange>) -> Self {
        self.versions.push((None, api, range));
        self
    }

    /// One broker advertises this range for `api` (`None`: not at all).
    pub fn node_api_range(
        mut self,
        node_id: i32,
        api: ApiKey,
        range: Option<VersionRange>,
    ) -> Self {
        self.versions.push((Some(node_id), api, range));
        self
    }

    /// Metadata requests that allow it create unknown topics (with one partition), as
    /// `auto.create.topics.enable` does.
    pub fn auto_create_topics(mut self, enabled: bool) -> Self {
        self.auto_create_topics = enabled;
        self
    }

    /// Metadata requests are answered with every topic, whatever they ask for (as Metadata v0
    /// does for an empty list, and as a misbehaving broker might at any version).
    pub fn metadata_lists_all_topics(mut self, yes: bool) -> Self {
        self.metadata_lists_all = yes;
        self
    }

    /// Brokers require SASL/PLAIN with this user before any request but ApiVersions and SASL.
    pub fn sasl_plain(mut self, username: &str, password: &str) -> Self {
        self.sasl = Some((username.to_owned(), password.to_owned()));
        self
    }

    /// A rule in place from the first request on.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Binds the listeners and starts serving.
    ///
    /// # Panics
    ///
    /// When a port on 127.0.0.1 cannot be bound, or outside a tokio runtime.
    pub async fn start(self) -> FakeCluster {
        let mut listeners = Vec::new();
        let mut brokers = Vec::new();
        for i in 0..self.brokers {
            let node_id = self.first_node_id + i as i32;
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("binding 127.0.0.1:0");
            let port = listener.local_addr().expect("local address").port();
            let mut api_versions = Model::all_api_versions();
            for (node, api, range) in &self.versions {
                if node.is_none_or(|n| n == node_id) {
                    match range {
                        Some(r) => api_versions.insert(*api, *r),
                        None => api_versions.remove(api),
                    };
                }
            }
            brokers.push(BrokerState {
                node_id,
                port,
                api_versions,
                running: true,
            });
            listeners.push((node_id, listener));
        }
        let mut model = Model::new(brokers);
        model.auto_create_topics = self.auto_create_topics;
        model.metadata_lists_all = self.metadata_lists_all;
        model.sasl = self.sasl;
        for (name, partitions) in &self.topics {
            model.create_topic(name, *partitions);
        }
        let (changed, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                model,
                rules: Vec::new(),
                next_rule: 0,
                seen: Vec::new(),
                accepted: BTreeMap::new(),
                next_connection: 0,
            }),
            changed,
            tasks: Mutex::new(BTreeMap::new()),
        });
        let cluster = FakeCluster { shared };
        for rule in self.rules {
            cluster.add_rule(rule);
        }
        for (node_id, listener) in listeners {
            cluster.serve(node_id, listener);
        }
        cluster
    }
}

struct State {
    model: Model,
    rules: Vec<(RuleId, Rule)>,
    next_rule: u64,
    seen: Vec<Seen>,
    accepted: BTreeMap<i32, usize>,
    next_connection: u64,
}

struct Shared {
    state: Mutex<State>,
    /// Bumped after every request recorded and every model change a test may wait for.
    changed: watch::Sender<u64>,
    /// Each running broker's accept loop; aborting one closes its listener and, through the
    /// `JoinSet` it owns, every connection it accepted.
    tasks: Mutex<BTreeMap<i32, JoinHandle<()>>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// A running fake cluster; see the [module docs](self). Dropping it stops every broker.
pub struct FakeCluster {
    shared: Arc<Shared>,
}

impl fmt::Debug for FakeCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeCluster")
            .field("bootstrap", &self.bootstrap())
            .field("requests", &self.shared.state().seen.len())
            .finish()
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        let tasks = std::mem::take(
            &mut *self
                .shared
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for task in tasks.into_values() {
            task.abort();
        }
    }
}

impl FakeCluster {
    /// A builder: one broker, no topics, every API at every version this crate knows.
    pub fn builder() -> FakeClusterBuilder {
        FakeClusterBuilder {
            brokers: 1,
            first_node_id: 1,
            topics: Vec::new(),
            versions: Vec::new(),
            auto_create_topics: false,
            metadata_lists_all: false,
            sasl: None,
            rules: Vec::new(),
        }
    }

    /// One broker with nothing configured.
    pub async fn start() -> FakeCluster {
        Self::builder().start().await
    }

    /// A cluster whose only behaviour is `handler` (every request goes to it): for tests that
    /// script a broker's every answer, such as version negotiation.
    pub async fn scripted(handler: impl FnMut(&Seen) -> Reply + Send + 'static) -> FakeCluster {
        Self::builder()
            .rule(Rule::any().then(Action::respond(handler)))
            .start()
            .await
    }

    /// `127.0.0.1:<port>` of every broker, in node id order.
    pub fn bootstrap(&self) -> Vec<String> {
        self.shared
            .state()
            .model
            .brokers
            .iter()
            .map(|b| format!("127.0.0.1:{}", b.port))
            .collect()
    }

    /// `127.0.0.1:<port>` of one broker.
    ///
    /// # Panics
    ///
    /// For a node id the cluster does not have.
    pub fn address(&self, node_id: i32) -> String {
        let state = self.shared.state();
        let broker = state
            .model
            .brokers
            .iter()
            .find(|b| b.node_id == node_id)
            .unwrap_or_else(|| panic!("the fake cluster has no node {node_id}"));
        format!("127.0.0.1:{}", broker.port)
    }

    /// The node ids.
    pub fn node_ids(&self) -> Vec<i32> {
        self.shared
            .state()
            .model
            .brokers
            .iter()
            .map(|b| b.node_id)
            .collect()
    }

    // ---- scripting ----------------------------------------------------------------------

    /// Adds a rule after the existing ones (the first matching rule wins).
    pub fn add_rule(&self, rule: Rule) -> RuleId {
        let mut state = self.shared.state();
        let id = RuleId(state.next_rule);
        state.next_rule += 1;
        state.rules.push((id, rule));
        id
    }

    /// Removes a rule.
    pub fn remove_rule(&self, id: RuleId) {
        self.shared.state().rules.retain(|(r, _)| *r != id);
    }

    /// Removes every rule.
    pub fn clear_rules(&self) {
        self.shared.state().rules.clear();
    }

    // ---- the model ----------------------------------------------------------------------

    /// Creates a topic (false if it exists).
    pub fn create_topic(&self, name: &str, partitions: i32) -> bool {
        let created = self.shared.state().model.create_topic(name, partitions);
        self.shared.bump();
        created
    }

    /// A topic's id.
    pub fn topic_id(&self, name: &str) -> Option<Uuid> {
        self.shared.state().model.topics.get(name).map(|t| t.id)
    }

    /// Moves a partition's leadership to `node_id`, bumping its leader epoch; the old leader
    /// answers `NOT_LEADER_OR_FOLLOWER` from now on.
    ///
    /// # Panics
    ///
    /// For a partition the cluster does not have.
    pub fn set_leader(&self, topic: &str, partition: i32, node_id: i32) {
        {
            let mut state = self.shared.state();
            let p = state
                .model
                .partition_mut(topic, partition)
                .unwrap_or_else(|| panic!("the fake cluster has no {topic}-{partition}"));
            p.leader = node_id;
            p.leader_epoch += 1;
        }
        self.shared.bump();
    }

    /// A partition's leader and leader epoch.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
        self.shared
            .state()
            .model
            .partition(topic, partition)
            .map(|p| (p.leader, p.leader_epoch))
    }

    /// Makes `node_id` the coordinator of a group or transactional id.
    pub fn set_coordinator(&self, key: &str, node_id: i32) {
        self.shared
            .state()
            .model
            .coordinators
            .insert(key.to_owned(), node_id);
    }

    /// The node the model names as coordinator of `key`.
    pub fn coordinator(&self, key: &str) -> Option<i32> {
        self.shared.state().model.coordinator(key)
    }

    /// The batches in a partition's log.
    pub fn log(&self, topic: &str, partition: i32) -> Vec<StoredBatch> {
        self.shared
            .state()
            .model
            .partition(topic, partition)
            .map(|p| p.log.clone())
            .unwrap_or_default()
    }

    /// A partition's log end offset (the next offset to be written).
    pub fn log_end(&self, topic: &str, partition: i32) -> Option<i64> {
        self.shared
            .state()
            .model
            .partition(topic, partition)
            .map(model::PartitionState::log_end)
    }

    /// Moves a partition's log start, dropping the batches wholly before it (as
    /// DeleteRecords or retention does).
    pub fn set_log_start(&self, topic: &str, partition: i32, offset: i64) {
        let mut state = self.shared.state();
        if let Some(p) = state.model.partition_mut(topic, partition) {
            p.log.retain(|b| b.next_offset() > offset);
            p.log_start = offset;
        }
    }

    /// The offset a group committed for a partition.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<Committed> {
        self.shared
            .state()
            .model
            .committed
            .get(&(group.to_owned(), topic.to_owned(), partition))
            .cloned()
    }

    /// Requests the model does not serve (answered by closing the connection).
    pub fn unhandled(&self) -> Vec<(ApiKey, i16)> {
        self.shared.state().model.unhandled.clone()
    }

    // ---- observation --------------------------------------------------------------------

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.shared.state().seen.clone()
    }

    /// `(api, version)` of every request received so far.
    pub fn apis(&self) -> Vec<(ApiKey, i16)> {
        self.shared
            .state()
            .seen
            .iter()
            .map(|s| (s.api, s.version))
            .collect()
    }

    /// How many requests of `api` were received.
    pub fn count(&self, api: ApiKey) -> usize {
        self.shared
            .state()
            .seen
            .iter()
            .filter(|s| s.api == api)
            .count()
    }

    /// How many connections the broker `node_id` accepted.
    pub fn connections_accepted(&self, node_id: i32) -> usize {
        self.shared
            .state()
            .accepted
            .get(&node_id)
            .copied()
            .unwrap_or(0)
    }

    /// Waits until `condition` holds for the requests received (polled after each one).
    ///
    /// # Panics
    ///
    /// When it does not hold within 30 seconds.
    pub async fn wait_for(&self, mut condition: impl FnMut(&[Seen]) -> bool) {
        let mut changed = self.shared.changed.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if condition(&self.shared.state().seen) {
                    return;
                }
                if changed.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "the fake cluster's requests never met the condition"
        );
    }

    /// Waits until `n` requests of `api` were received.
    pub async fn wait_for_count(&self, api: ApiKey, n: usize) {
        self.wait_for(|seen| seen.iter().filter(|s| s.api == api).count() >= n)
            .await;
    }

    // ---- brokers going away and coming back ---------------------------------------------

    /// Stops a broker: its listener and every connection to it close; the metadata the others
    /// answer shows its partitions without a leader.
    pub fn stop_broker(&self, node_id: i32) {
        let task = self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&node_id);
        if let Some(task) = task {
            task.abort();
        }
        let mut state = self.shared.state();
        if let Some(b) = state
            .model
            .brokers
            .iter_mut()
            .find(|b| b.node_id == node_id)
        {
            b.running = false;
        }
    }

    /// Starts a stopped broker again on its port.
    ///
    /// # Panics
    ///
    /// When the port cannot be bound again.
    pub async fn start_broker(&self, node_id: i32) {
        let port = {
            let state = self.shared.state();
            state
                .model
                .brokers
                .iter()
                .find(|b| b.node_id == node_id)
                .map(|b| b.port)
                .unwrap_or_else(|| panic!("the fake cluster has no node {node_id}"))
        };
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("rebinding 127.0.0.1:{port}: {e}"));
        {
            let mut state = self.shared.state();
            if let Some(b) = state
                .model
                .brokers
                .iter_mut()
                .find(|b| b.node_id == node_id)
            {
                b.running = true;
            }
        }
        self.serve(node_id, listener);
    }

    /// Closes every connection a broker accepted, keeping it listening.
    pub async fn disconnect_all(&self, node_id: i32) {
        self.stop_broker(node_id);
        self.start_broker(node_id).await;
    }

    fn serve(&self, node_id: i32, listener: TcpListener) {
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let connection = {
                    let mut state = shared.state();
                    *state.accepted.entry(node_id).or_default() += 1;
                    state.next_connection += 1;
                    state.next_connection
                };
                shared.bump();
                let _ = stream.set_nodelay(true);
                connections.spawn(serve_connection(
                    Arc::clone(&shared),
                    node_id,
                    connection,
                    stream,
                ));
            }
        });
        self.shared
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(node_id, task);
    }
}

/// Reads, records and answers the requests of one connection, one at a time.
async fn serve_connection(
    shared: Arc<Shared>,
    node_id: i32,
    connection: u64,
    mut stream: TcpStream,
) {
    let mut conn = ConnectionState::default();
    loop {
        let Ok(size) = stream.read_i32().await else {
            return;
        };
        let Some(size) = usize::try_from(size)
            .ok()
            .filter(|s| *s <= MAX_REQUEST_FRAME)
        else {
            return;
        };
        let mut frame = vec![0; size];
        if stream.read_exact(&mut frame).await.is_err() {
            return;
        }
        let mut frame = Bytes::from(frame);
        let Ok((header, api)) = decode_request_header(&mut frame) else {
            return;
        };
        let version = header.request_api_version;
        let Ok(body) = decode_request_body(api, version, frame) else {
            return;
        };
        let seen = Seen {
            node_id,
            connection,
            api,
            version,
            correlation_id: header.correlation_id,
            client_id: header.client_id.clone(),
            body,
        };
        let action = {
            let mut state = shared.state();
            state.seen.push(seen.clone());
            let rule = state
                .rules
                .iter_mut()
                .map(|(_, rule)| rule)
                .find(|rule| rule.matches(&seen));
            match rule {
                Some(rule) => {
                    if let Some(n) = &mut rule.remaining {
                        *n -= 1;
                    }
                    rule.action.clone()
                }
                None => Action::Default,
            }
        };
        shared.bump();
        let reply = execute(&shared, node_id, action, &seen, &mut conn).await;
        shared.bump();
        let Some(out) = frame_reply(reply, &seen) else {
            return;
        };
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

async fn execute(
    shared: &Shared,
    node_id: i32,
    mut action: Action,
    seen: &Seen,
    conn: &mut ConnectionState,
) -> Reply {
    loop {
        return match action {
            Action::Delay(wait, then) => {
                tokio::time::sleep(wait).await;
                action = *then;
                continue;
            }
            Action::Default => shared.state().model.handle(node_id, seen, conn),
            Action::Error(code) => {
                if matches!(&seen.body, RequestKind::Produce(p) if p.acks == 0) {
                    Reply::Silence
                } else {
                    match errors::error_response(&seen.body, seen.version, code) {
                        Some(body) => Reply::body(seen.version, body),
                        None => Reply::Disconnect,
                    }
                }
            }
            Action::ApplyThenDisconnect => {
                let _ = shared.state().model.handle(node_id, seen, conn);
                Reply::Disconnect
            }
            Action::ApplyThenSilence => {
                let _ = shared.state().model.handle(node_id, seen, conn);
                // A broker answers a connection's requests in order, so one that never answers
                // this request answers (and reads) nothing after it on the connection either.
                std::future::pending::<()>().await;
                Reply::Disconnect
            }
            Action::Silence => Reply::Silence,
            Action::Disconnect => Reply::Disconnect,
            Action::Freeze => {
                // Until the broker is stopped (the task is aborted) or the cluster dropped.
                std::future::pending::<()>().await;
                Reply::Disconnect
            }
            Action::Respond(f) => (f.lock().unwrap_or_else(PoisonError::into_inner))(seen),
        };
    }
}

/// The bytes to write for `reply`; `None` to close the connection.
fn frame_reply(reply: Reply, seen: &Seen) -> Option<BytesMut> {
    let mut out = BytesMut::new();
    match reply {
        Reply::Body { version, body } => {
            if encode_response_frame(&mut out, seen.api, seen.correlation_id, version, &*body)
                .is_err()
            {
                // A scripted body that cannot be encoded at that version is a broken test.
                panic!("the fake broker could not encode {body:?} at v{version}");
            }
        }
        Reply::RawResponse(body) => {
            let tags = seen.api.response_header_version(seen.version) == ResponseHeaderVersion::V1;
            let size = 4 + usize::from(tags) + body.len();
            out.put_i32(i32::try_from(size).ok()?);
            out.put_i32(seen.correlation_id);
            if tags {
                out.put_u8(0);
            }
            out.put_slice(&body);
        }
        Reply::RawBody(body) => {
            out.put_i32(i32::try_from(4 + body.len()).ok()?);
            out.put_i32(seen.correlation_id);
            out.put_slice(&body);
        }
        Reply::RawBytes(bytes) => out.put_slice(&bytes),
        Reply::Silence => {}
        Reply::Disconnect => return None,
    }
    Some(out)
}
