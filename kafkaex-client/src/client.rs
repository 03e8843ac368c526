//! [`Client`]: one connection to a cluster, shared by producers, consumers and admin calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafkaex_net::metadata::ClusterMetadata;
use kafkaex_net::sasl::SaslConfig;
use kafkaex_net::tls::TlsConfig;
use kafkaex_net::{
    ApiVersionRanges, Cluster, NetError, Response, Route, RoutedRequest, VersionChoice,
};
use kafkaex_protocol::{ApiKey, Request};

use crate::admin::Admin;
use crate::config::{ClientConfig, Config};
use crate::error::{Error, RequestContext, Result};
use crate::producer::ProducerBuilder;

/// A client of one Kafka cluster: the bootstrap, the connection pool, the metadata, and what
/// producers and admin calls share. Cheap to clone and share across tasks; clones share
/// everything. It mirrors KafkaEx's `KafkaEx.New.Client`.
///
/// ```no_run
/// use kafkaex_client::Client;
///
/// # async fn example() -> Result<(), kafkaex_client::Error> {
/// let client = Client::builder()
///     .bootstrap(["localhost:9092"])
///     .client_id("billing")
///     .build()
///     .await?;
/// let metadata = client.refresh_metadata(&["payments"]).await?;
/// println!("{} brokers", metadata.brokers().len());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cluster: Cluster,
    config: ClientConfig,
}

impl Client {
    /// A typed builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Connects with `config`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no bootstrap address is given; [`Error::Request`] when no
    /// bootstrap broker answers (it lists what each address did).
    pub async fn connect(config: ClientConfig) -> Result<Self> {
        if config.bootstrap.is_empty() {
            return Err(Error::config(
                "bootstrap.servers",
                "at least one host:port is needed",
            ));
        }
        let cluster = Cluster::connect(&config.bootstrap, config.net.clone())
            .await
            .map_err(|e| Error::request(RequestContext::api(ApiKey::Metadata), e))?;
        Ok(Self {
            inner: Arc::new(Inner { cluster, config }),
        })
    }

    /// Connects with the client section of Java-style settings.
    pub async fn from_config(config: &Config) -> Result<Self> {
        Self::connect(config.client.clone()).await
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The connection layer, for what this API does not cover.
    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// A producer builder with the defaults.
    pub fn producer(&self) -> ProducerBuilder {
        ProducerBuilder::new(self.clone())
    }

    /// A consumer builder with the Java client's defaults (see [`crate::consumer`]).
    pub fn consumer(&self) -> crate::consumer::ConsumerBuilder {
        crate::consumer::ConsumerBuilder::new(self.clone())
    }

    /// A consumer in the consumer group `group_id` (see [`crate::group`]).
    pub fn group_consumer(
        &self,
        group_id: impl Into<String>,
    ) -> crate::group::GroupConsumerBuilder {
        crate::group::GroupConsumerBuilder::new(self.clone(), group_id.into())
    }

    /// Admin and offset calls on this client's cluster (see [`Admin`]).
    pub fn admin(&self) -> Admin {
        Admin::new(self.clone())
    }

    /// A copy of the cached cluster metadata (brokers, controller, the topics used so far).
    pub fn metadata(&self) -> ClusterMetadata {
        self.inner.cluster.metadata()
    }

    /// Refreshes the metadata of `topics` (creating missing ones when
    /// [`ClientConfig::allow_auto_topic_creation`] is set and the broker allows it) and returns
    /// the cache.
    pub async fn refresh_metadata(&self, topics: &[impl AsRef<str>]) -> Result<ClusterMetadata> {
        let topics: Vec<String> = topics.iter().map(|t| t.as_ref().to_owned()).collect();
        self.inner
            .cluster
            .refresh_metadata_with(Some(&topics), self.inner.config.allow_auto_topic_creation)
            .await
            .map_err(|e| Error::request(RequestContext::api(ApiKey::Metadata), e))?;
        Ok(self.metadata())
    }

    /// The version ranges of every broker in the metadata (connecting to those not yet
    /// connected), by node id.
    pub async fn api_versions(&self) -> Result<BTreeMap<i32, ApiVersionRanges>> {
        let nodes: Vec<i32> = self
            .inner
            .cluster
            .with_metadata(|m| m.brokers().keys().copied().collect());
        let mut out = BTreeMap::new();
        for node in nodes {
            let conn = self
                .inner
                .cluster
                .broker_for(Route::Node(node))
                .await
                .map_err(|e| Error::request(RequestContext::api(ApiKey::ApiVersions), e))?;
            out.insert(node, conn.versions().clone());
        }
        Ok(out)
    }

    /// Sends a request that knows its own route (see [`RoutedRequest`]) at the newest version
    /// both sides support, with the cluster's retries; see [`Cluster::request`].
    pub async fn request<R: RoutedRequest>(&self, request: &R) -> Result<Response<R::Response>> {
        self.inner
            .cluster
            .request(request)
            .await
            .map_err(|e| request_error::<R>(e))
    }

    /// [`Client::request`] at the version `choice` selects.
    pub async fn request_at<R: RoutedRequest>(
        &self,
        request: &R,
        choice: VersionChoice,
    ) -> Result<Response<R::Response>> {
        self.inner
            .cluster
            .request_at(request, choice)
            .await
            .map_err(|e| request_error::<R>(e))
    }

    /// The typed escape hatch: any generated request to a route of the caller's choosing, once,
    /// error codes in the response left to the caller.
    pub async fn send<R: Request>(
        &self,
        route: Route,
        request: &R,
        choice: VersionChoice,
    ) -> Result<Response<R::Response>> {
        self.inner
            .cluster
            .send(route, request, choice)
            .await
            .map_err(|e| request_error::<R>(e))
    }
}

/// A request error with its API as context (the connection layer's error names the broker and
/// the version where it knows them).
pub(crate) fn request_error<R: Request>(err: NetError) -> Error {
    Error::request(RequestContext::api(R::API_KEY), err)
}

/// Builds a [`Client`].
#[derive(Clone, Debug, Default)]
pub struct ClientBuilder {
    config: ClientConfig,
}

impl ClientBuilder {
    /// The brokers to bootstrap from (`host:port`).
    pub fn bootstrap<S: AsRef<str>>(mut self, brokers: impl IntoIterator<Item = S>) -> Self {
        self.config.bootstrap = brokers.into_iter().map(|b| b.as_ref().to_owned()).collect();
        self
    }

    /// The client id sent with every request.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.config.net.client_id = id.into();
        self
    }

    /// The longest a new connection may take (TCP, TLS, ApiVersions, SASL).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.net.connect_timeout = timeout;
        self
    }

    /// The longest to wait for one response.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.net.request_timeout = timeout;
        self
    }

    /// TLS to every broker.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.config.net.tls = Some(tls);
        self
    }

    /// SASL on every connection.
    pub fn sasl(mut self, sasl: SaslConfig) -> Self {
        self.config.net.sasl = Some(sasl);
        self
    }

    /// How old metadata may get before it is refreshed.
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.config.net.metadata_max_age = age;
        self
    }

    /// Whether Metadata requests may create missing topics.
    pub fn allow_auto_topic_creation(mut self, allow: bool) -> Self {
        self.config.allow_auto_topic_creation = allow;
        self
    }

    /// Uses `api` at version `max` at most.
    pub fn max_version(mut self, api: ApiKey, max: i16) -> Self {
        self.config.net.max_versions.insert(api, max);
        self
    }

    /// Everything at once (replaces what was set before).
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Connects.
    pub async fn build(self) -> Result<Client> {
        Client::connect(self.config).await
    }
}
