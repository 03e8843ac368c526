//! Workers: KafkaEx's GenServers that hold broker connections, here a handle to a
//! [`kafkaex_client::Client`] plus the worker's settings. `create_worker`,
//! `start_link_worker`, `stop_worker`, named workers (a process registry) and the default
//! worker `:kafka_ex`.
//!
//! A [`Worker`] is cheap to clone (KafkaEx's pid); [`WorkerRef`] is what the `worker_name:`
//! option takes: the default worker, a name, or a worker.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use kafkaex_client::{Client, ClientConfig};
use kafkaex_net::sasl::SaslConfig;
use kafkaex_net::tls::TlsConfig;
use kafkaex_net::NetConfig;

use crate::config::{Config, Sasl, SaslMechanism, SslOptions, Uri};
use crate::error::{Error, Result};
use crate::error_names::ErrorAtom;

/// The name of the default worker (`:kafka_ex`).
pub const DEFAULT_WORKER: &str = "kafka_ex";

/// A worker's consumer group: a non-empty name, or `:no_consumer_group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerGroup {
    /// A group.
    Group(String),
    /// `:no_consumer_group`: calls that need a group fail with
    /// [`Error::ConsumerGroupRequired`].
    NoConsumerGroup,
}

impl ConsumerGroup {
    /// The group's name.
    pub fn name(&self) -> Option<&str> {
        match self {
            ConsumerGroup::Group(g) => Some(g),
            ConsumerGroup::NoConsumerGroup => None,
        }
    }
}

impl From<&str> for ConsumerGroup {
    fn from(s: &str) -> Self {
        ConsumerGroup::Group(s.to_owned())
    }
}

/// `KafkaEx.valid_consumer_group?/1`: `NoConsumerGroup` or a non-empty name.
pub fn valid_consumer_group(group: &ConsumerGroup) -> bool {
    match group {
        ConsumerGroup::Group(g) => !g.is_empty(),
        ConsumerGroup::NoConsumerGroup => true,
    }
}

/// `kafka_version`: which of KafkaEx's servers a worker behaves as.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KafkaVersion {
    /// `"0.8.0"` (`Server0P8P0`): no offset commits, no groups.
    V0_8_0,
    /// `"0.8.2"` (`Server0P8P2`): offsets (v0, ZooKeeper), no groups.
    V0_8_2,
    /// `"0.9.0"` (`Server0P9P0`): groups at v0.
    V0_9_0,
    /// Unset or any other value (`Server0P10AndLater`): version 0 on the wire for every request
    /// whatever its `api_version` says, Metadata v1 where the broker has it. KafkaEx's code
    /// default.
    #[default]
    Default,
    /// `"kayrock"` (`KafkaEx.New.Client`): `api_version` fields are sent exactly as given.
    Kayrock,
}

impl KafkaVersion {
    /// From KafkaEx's string (`"kayrock"`, `"0.8.0"`, ...); anything else is `Default`.
    pub fn parse(s: &str) -> KafkaVersion {
        match s {
            "0.8.0" => KafkaVersion::V0_8_0,
            "0.8.2" => KafkaVersion::V0_8_2,
            "0.9.0" => KafkaVersion::V0_9_0,
            "kayrock" => KafkaVersion::Kayrock,
            _ => KafkaVersion::Default,
        }
    }

    /// KafkaEx's string for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            KafkaVersion::V0_8_0 => "0.8.0",
            KafkaVersion::V0_8_2 => "0.8.2",
            KafkaVersion::V0_9_0 => "0.9.0",
            KafkaVersion::Default => "default",
            KafkaVersion::Kayrock => "kayrock",
        }
    }

    /// Whether the user's `api_version` is sent (Kayrock), or version 0 whatever it says.
    pub fn honours_api_version(&self) -> bool {
        *self == KafkaVersion::Kayrock
    }
}

/// `server_impl` of `start_link_worker`: KafkaEx names a module; here the behaviour.
pub type ServerImpl = KafkaVersion;

/// Worker settings (`KafkaEx.worker_setting`); unset fields take the [`Config`]'s value in
/// [`build_worker_options`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// `uris`; `None`: the config's `brokers`.
    pub uris: Option<Vec<Uri>>,
    /// `consumer_group`; `None`: the config's.
    pub consumer_group: Option<ConsumerGroup>,
    /// `metadata_update_interval`: metadata is refreshed at least this often. 30 s.
    pub metadata_update_interval: Option<Duration>,
    /// `consumer_group_update_interval`: accepted, unused (the client finds coordinators when
    /// it needs them). 30 s.
    pub consumer_group_update_interval: Option<Duration>,
    /// `use_ssl`; `None`: the config's.
    pub use_ssl: Option<bool>,
    /// `ssl_options`; `None`: the config's.
    pub ssl_options: Option<SslOptions>,
    /// `auth` (SASL); `None`: the config's `sasl`.
    pub auth: Option<Sasl>,
    /// `initial_topics`: topics whose metadata is loaded at start.
    pub initial_topics: Vec<String>,
    /// `allow_auto_topic_creation`; `None`: true.
    pub allow_auto_topic_creation: Option<bool>,
    /// `server_impl` (`start_link_worker`); `None`: the config's `kafka_version`.
    pub server_impl: Option<ServerImpl>,
}

impl WorkerOptions {
    /// With `uris`.
    pub fn uris<H: Into<String>>(mut self, uris: impl IntoIterator<Item = (H, u16)>) -> Self {
        self.uris = Some(uris.into_iter().map(|(h, p)| (h.into(), p)).collect());
        self
    }

    /// With a consumer group.
    pub fn consumer_group(mut self, group: impl Into<ConsumerGroup>) -> Self {
        self.consumer_group = Some(group.into());
        self
    }

    /// With `server_impl` (`kafka_version`).
    pub fn server_impl(mut self, server: ServerImpl) -> Self {
        self.server_impl = Some(server);
        self
    }

    /// With `initial_topics`.
    pub fn initial_topics<S: Into<String>>(mut self, topics: impl IntoIterator<Item = S>) -> Self {
        self.initial_topics = topics.into_iter().map(Into::into).collect();
        self
    }
}

/// Worker settings merged with the configuration: what a worker runs with.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResolvedWorkerOptions {
    /// The brokers.
    pub uris: Vec<Uri>,
    /// The consumer group.
    pub consumer_group: ConsumerGroup,
    /// Metadata refresh interval.
    pub metadata_update_interval: Duration,
    /// TLS.
    pub use_ssl: bool,
    /// TLS options.
    pub ssl_options: SslOptions,
    /// SASL.
    pub auth: Option<Sasl>,
    /// Topics loaded at start.
    pub initial_topics: Vec<String>,
    /// Auto topic creation.
    pub allow_auto_topic_creation: bool,
    /// The server behaviour.
    pub server_impl: ServerImpl,
    /// The client id.
    pub client_id: String,
    /// Per-request timeout.
    pub sync_timeout: Duration,
}

/// `KafkaEx.build_worker_options/1`: `options` merged over the application configuration.
///
/// # Errors
///
/// [`Error::InvalidConsumerGroup`] for an empty group name; [`Error::Config`] when no brokers
/// are given anywhere or the configured ones cannot be read.
pub fn build_worker_options(options: WorkerOptions) -> Result<ResolvedWorkerOptions> {
    let config = crate::config();
    let consumer_group = options
        .consumer_group
        .unwrap_or_else(|| config.consumer_group.clone());
    if !valid_consumer_group(&consumer_group) {
        return Err(Error::InvalidConsumerGroup);
    }
    let uris = match options.uris {
        Some(u) => u,
        None => match &config.brokers {
            Some(b) => b.resolve()?,
            None => Vec::new(),
        },
    };
    if uris.is_empty() {
        return Err(Error::Config {
            key: "brokers".into(),
            reason: "no brokers: set `uris` or the configuration's `brokers` (KAFKA_EX_BROKERS)"
                .into(),
        });
    }
    let use_ssl = options.use_ssl.unwrap_or(config.use_ssl);
    let ssl_options = options
        .ssl_options
        .unwrap_or_else(|| config.ssl_options.clone());
    if !use_ssl && ssl_options != SslOptions::default() {
        tracing::warn!("ssl_options are ignored: use_ssl is false");
    }
    Ok(ResolvedWorkerOptions {
        uris,
        consumer_group,
        metadata_update_interval: options
            .metadata_update_interval
            .unwrap_or(Duration::from_secs(30)),
        use_ssl,
        ssl_options,
        auth: options.auth.or_else(|| config.sasl.clone()),
        initial_topics: options.initial_topics,
        allow_auto_topic_creation: options.allow_auto_topic_creation.unwrap_or(true),
        server_impl: options
            .server_impl
            .unwrap_or_else(|| config.kafka_version.clone()),
        client_id: config.client_id.clone(),
        sync_timeout: config.sync_timeout,
    })
}

/// The client configuration of a worker.
pub(crate) fn client_config(o: &ResolvedWorkerOptions) -> ClientConfig {
    let mut net = NetConfig::default();
    net.client_id = o.client_id.clone();
    net.request_timeout = o.sync_timeout.max(Duration::from_millis(100));
    net.metadata_max_age = o.metadata_update_interval;
    if o.use_ssl {
        let mut tls = TlsConfig::new();
        if let Some(ca) = &o.ssl_options.cacertfile {
            tls = tls.with_ca_pem_file(ca.clone());
        }
        if let Some(name) = &o.ssl_options.server_name_indication {
            tls = tls.with_server_name(name.clone());
        }
        if let (Some(cert), Some(key)) = (&o.ssl_options.certfile, &o.ssl_options.keyfile) {
            tls = tls.with_client_identity_pem_files(cert.clone(), key.clone());
        }
        net.tls = Some(tls.danger_accept_invalid_certs(o.ssl_options.verify_none));
    }
    net.sasl = o.auth.as_ref().map(|a| match a.mechanism {
        SaslMechanism::Plain => SaslConfig::plain(a.username.clone(), a.password.clone()),
        SaslMechanism::ScramSha256 => {
            SaslConfig::scram_sha256(a.username.clone(), a.password.clone())
        }
        SaslMechanism::ScramSha512 => {
            SaslConfig::scram_sha512(a.username.clone(), a.password.clone())
        }
    });
    let mut config = ClientConfig::default();
    config.bootstrap = o.uris.iter().map(|(h, p)| format!("{h}:{p}")).collect();
    config.net = net;
    config.allow_auto_topic_creation = o.allow_auto_topic_creation;
    config
}

struct Inner {
    name: Option<String>,
    client: Client,
    options: ResolvedWorkerOptions,
}

/// A running worker (KafkaEx's pid): its client and settings. Clones share it.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.inner.name)
            .field("uris", &self.inner.options.uris)
            .field("consumer_group", &self.inner.options.consumer_group)
            .field("server_impl", &self.inner.options.server_impl)
            .finish()
    }
}

impl Worker {
    /// Starts a worker without registering it.
    async fn start(name: Option<String>, options: WorkerOptions) -> Result<Worker> {
        let options = build_worker_options(options)?;
        let config = client_config(&options);
        let client = match Client::connect(config).await {
            Ok(c) => c,
            Err(err) => {
                // KafkaEx sleeps `sleep_for_reconnect` before raising "Brokers sockets are
                // not opened"; here the error is returned after the same pause.
                tokio::time::sleep(crate::config().sleep_for_reconnect).await;
                return Err(Error::from_client(err));
            }
        };
        if !options.initial_topics.is_empty() {
            client.refresh_metadata(&options.initial_topics).await?;
        }
        Ok(Worker {
            inner: Arc::new(Inner {
                name,
                client,
                options,
            }),
        })
    }

    /// The worker's client: the new API, for calls the facade does not have.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The worker's settings.
    pub fn options(&self) -> &ResolvedWorkerOptions {
        &self.inner.options
    }

    /// Its registered name.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// Its consumer group (`KafkaEx.consumer_group/1`).
    pub fn consumer_group(&self) -> &ConsumerGroup {
        &self.inner.options.consumer_group
    }

    /// Its server behaviour.
    pub fn kafka_version(&self) -> &KafkaVersion {
        &self.inner.options.server_impl
    }

    /// The group of a call: `given`, else the worker's; `function` names the call for the error.
    pub(crate) fn group_for(&self, given: Option<&str>, function: &'static str) -> Result<String> {
        match given {
            Some(g) if !g.is_empty() => Ok(g.to_owned()),
            Some(_) => Err(Error::InvalidConsumerGroup),
            None => self
                .consumer_group()
                .name()
                .map(str::to_owned)
                .ok_or(Error::ConsumerGroupRequired(function)),
        }
    }

    /// `code` as this worker names it: Kayrock's names under `kafka_version: "kayrock"` (as
    /// KafkaEx's Kayrock client names every error but the fetch partition's), KafkaEx's legacy
    /// names on the legacy servers.
    pub fn atom(&self, code: i16) -> ErrorAtom {
        if self.kafka_version().honours_api_version() {
            ErrorAtom::kayrock(code)
        } else {
            ErrorAtom::legacy(code)
        }
    }

    /// Whether two handles are the same worker.
    pub fn same(&self, other: &Worker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The `worker_name:` option: the default worker, a registered name, or a worker.
#[derive(Clone, Debug, Default)]
pub enum WorkerRef {
    /// `:kafka_ex`.
    #[default]
    Default,
    /// A registered name.
    Name(String),
    /// A worker (a pid).
    Worker(Worker),
}

impl From<&str> for WorkerRef {
    fn from(s: &str) -> Self {
        WorkerRef::Name(s.to_owned())
    }
}

impl From<String> for WorkerRef {
    fn from(s: String) -> Self {
        WorkerRef::Name(s)
    }
}

impl From<Worker> for WorkerRef {
    fn from(w: Worker) -> Self {
        WorkerRef::Worker(w)
    }
}

impl From<&Worker> for WorkerRef {
    fn from(w: &Worker) -> Self {
        WorkerRef::Worker(w.clone())
    }
}

impl WorkerRef {
    /// The worker it names.
    ///
    /// # Errors
    ///
    /// [`Error::WorkerNotFound`] for a name nobody registered.
    pub fn resolve(&self) -> Result<Worker> {
        match self {
            WorkerRef::Worker(w) => Ok(w.clone()),
            WorkerRef::Default => lookup(DEFAULT_WORKER),
            WorkerRef::Name(n) => lookup(n),
        }
    }
}

/// A worker's name in `create_worker`: a name, or `:no_name` (not registered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerName {
    /// Registered under this name.
    Name(String),
    /// `:no_name`.
    NoName,
}

impl From<&str> for WorkerName {
    fn from(s: &str) -> Self {
        WorkerName::Name(s.to_owned())
    }
}

fn registry() -> &'static Mutex<HashMap<String, Worker>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Worker>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn lookup(name: &str) -> Result<Worker> {
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(name)
        .cloned()
        .ok_or_else(|| Error::WorkerNotFound(name.to_owned()))
}

async fn start_registered(name: WorkerName, options: WorkerOptions) -> Result<Worker> {
    let name = match name {
        WorkerName::NoName => return Worker::start(None, options).await,
        WorkerName::Name(n) => n,
    };
    if lookup(&name).is_ok() {
        return Err(Error::AlreadyStarted(name));
    }
    let worker = Worker::start(Some(name.clone()), options).await?;
    let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
    if reg.contains_key(&name) {
        return Err(Error::AlreadyStarted(name));
    }
    reg.insert(name, worker.clone());
    Ok(worker)
}

/// `KafkaEx.create_worker/2`: starts a worker with `options` (its `server_impl` ignored: the
/// configuration's `kafka_version` decides, as in KafkaEx) and registers it under `name`.
///
/// # Errors
///
/// [`Error::AlreadyStarted`], [`Error::InvalidConsumerGroup`], [`Error::Config`], or the
/// client's connection error.
pub async fn create_worker(name: impl Into<WorkerName>, options: WorkerOptions) -> Result<Worker> {
    let options = WorkerOptions {
        server_impl: None,
        ..options
    };
    start_registered(name.into(), options).await
}

/// `KafkaEx.start_link_worker/2`: as [`create_worker`], with `server_impl` honoured
/// (`server_impl: KafkaEx.New.Client` is [`KafkaVersion::Kayrock`]).
///
/// # Errors
///
/// As [`create_worker`].
pub async fn start_link_worker(
    name: impl Into<WorkerName>,
    options: WorkerOptions,
) -> Result<Worker> {
    start_registered(name.into(), options).await
}

/// `KafkaEx.stop_worker/1`: unregisters a worker; its connections close when the last handle
/// is dropped.
///
/// # Errors
///
/// [`Error::WorkerNotFound`] when no such worker is registered.
pub fn stop_worker(worker: impl Into<WorkerRef>) -> Result<()> {
    let mut reg = registry().lock().unwrap_or_else(|p| p.into_inner());
    let key = match worker.into() {
        WorkerRef::Default => Some(DEFAULT_WORKER.to_owned()),
        WorkerRef::Name(n) => reg.contains_key(&n).then_some(n),
        WorkerRef::Worker(w) => reg.iter().find(|(_, v)| v.same(&w)).map(|(k, _)| k.clone()),
    };
    match key.and_then(|k| reg.remove(&k).map(|_| k)) {
        Some(_) => Ok(()),
        None => Err(Error::WorkerNotFound("(worker)".into())),
    }
}

/// The application configuration, replaceable by [`configure`](crate::configure).
pub(crate) fn config_cell() -> &'static RwLock<Option<Arc<Config>>> {
    static CONFIG: OnceLock<RwLock<Option<Arc<Config>>>> = OnceLock::new();
    CONFIG.get_or_init(|| RwLock::new(None))
}
