//! One negotiated broker connection: TCP (or TLS), ApiVersions, SASL, typed requests.
//!
//! [`BrokerConnection::connect`] opens a [`Connection`] and gets it ready for requests, in the
//! order the Java client does:
//!
//! 1. TCP (with `TCP_NODELAY`: requests are whole frames already, and Nagle's algorithm would
//!    hold back small ones such as heartbeats);
//! 2. the TLS handshake, when [`NetConfig::tls`] is set;
//! 3. `ApiVersions`, to learn which versions of each API the broker serves (brokers answer it
//!    before authentication, so the SASL versions can be negotiated too);
//! 4. `SaslHandshake` and `SaslAuthenticate`, when [`NetConfig::sasl`] is set.
//!
//! The whole sequence is bounded by [`NetConfig::connect_timeout`].
//!
//! [`BrokerConnection::send`] then sends typed requests at a version chosen against the
//! broker's ranges ([`VersionChoice`]).
//!
//! A `BrokerConnection` is one connection and never reconnects by itself: once it fails, every
//! request on it fails with the cause and [`BrokerConnection::is_closed`] turns true. That is
//! the signal for its owner (the connection pool of a [`Cluster`](crate::Cluster)) to drop it and
//! connect again.
//!
//! ```no_run
//! # async fn example() -> Result<(), kafkaex_net::NetError> {
//! use kafkaex_net::broker::BrokerConnection;
//! use kafkaex_net::config::NetConfig;
//! use kafkaex_net::versions::VersionChoice;
//! use kafkaex_protocol::messages::MetadataRequest;
//!
//! let broker = BrokerConnection::connect("localhost:9092", &NetConfig::default()).await?;
//! let metadata = broker
//!     .send(&MetadataRequest::default(), VersionChoice::Newest)
//!     .await?;
//! println!("Metadata v{}: {} brokers", metadata.version, metadata.body.brokers.len());
//! # Ok(()) }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::Instrument;

use kafkaex_protocol::messages::ApiVersionsRequest;
use kafkaex_protocol::messages::ApiVersionsResponse;
use kafkaex_protocol::{ApiKey, DecodeError, ErrorCode, Message, Request, VersionRange};

use crate::config::NetConfig;
use crate::connection::{CallError, Connection, ConnectionConfig, PendingCall, RawRequest};
use crate::error::NetError;
use crate::request::{BrokerRef, Response};
use crate::sasl::{self, Authenticated, SaslConfig, SaslRequest, SaslVersions};
use crate::versions::{ApiVersionRanges, VersionChoice};

/// The `client_software_name` sent in `ApiVersions` v3+ (KIP-511); brokers show it in metrics.
pub const CLIENT_SOFTWARE_NAME: &str = "kafkaex-rs";

/// The `client_software_version` sent in `ApiVersions` v3+: this crate's version.
pub const CLIENT_SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A connection to one broker, negotiated and (when configured) authenticated: see the
/// [module docs](self).
///
/// Cheap to clone: clones share the connection, and requests from all of them are pipelined on
/// it.
#[derive(Clone)]
pub struct BrokerConnection {
    inner: Arc<Inner>,
}

struct Inner {
    address: String,
    connection: Connection,
    versions: ApiVersionRanges,
    api_versions_version: i16,
    authenticated: Option<Authenticated>,
    client_id: Arc<str>,
    request_timeout: Duration,
}

impl fmt::Debug for BrokerConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConnection")
            .field("address", &self.inner.address)
            .field("connection", &self.inner.connection)
            .field("apis", &self.inner.versions.len())
            .field("authenticated", &self.inner.authenticated)
            .finish()
    }
}

impl BrokerConnection {
    /// Connects to the broker at `address` (`host:port`, or `[ipv6]:port`): TCP, TLS if
    /// configured, ApiVersions, SASL if configured, all within
    /// [`NetConfig::connect_timeout`].
    ///
    /// # Errors
    ///
    /// - [`NetError::InvalidArgument`]: `address` is not `host:port`;
    /// - [`NetError::Connect`]: name resolution or the TCP connect failed;
    /// - [`NetError::ConnectTimeout`]: the whole sequence took too long;
    /// - [`NetError::Tls`]: the TLS configuration or handshake failed (for example a server
    ///   certificate that does not chain to the configured CA);
    /// - [`NetError::Sasl`]: authentication failed; a wrong password gives
    ///   [`SaslError::Rejected`](crate::sasl::SaslError::Rejected) with code
    ///   [`ErrorCode::SaslAuthenticationFailed`] and the broker's message;
    /// - [`NetError::Kafka`], [`NetError::DecodeResponse`]: `ApiVersions` failed or its answer
    ///   is unreadable;
    /// - the connection's own errors when the broker hangs up or sends garbage meanwhile.
    pub async fn connect(address: &str, config: &NetConfig) -> Result<Self, NetError> {
        let (host, port) = split_host_port(address)?;
        let span = tracing::debug_span!("broker_connect", broker = %address);
        let started = Instant::now();
        let result =
            with_connect_timeout(address, config, connect_inner(address, host, port, config))
                .instrument(span.clone())
                .await;
        let latency_us = started.elapsed().as_micros() as u64;
        span.in_scope(|| match &result {
            Ok(broker) => tracing::debug!(
                latency_us,
                apis = broker.inner.versions.len(),
                api_versions_version = broker.inner.api_versions_version,
                "connected"
            ),
            Err(err) => tracing::debug!(latency_us, error = %err, "connect failed"),
        });
        result
    }

    /// Negotiates a connection over a stream the caller opened (a transport of its own, or
    /// [`tokio::io::duplex`] in tests): `ApiVersions`, then SASL if `config.sasl` is set,
    /// within `config.connect_timeout`. `config.tls` is not looked at: wrap the stream in TLS
    /// before. `address` names the broker in errors and logs.
    pub async fn from_stream<IO>(
        stream: IO,
        address: &str,
        config: &NetConfig,
    ) -> Result<Self, NetError>
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let connection = Connection::new(stream, connection_config(address, config));
        with_connect_timeout(address, config, handshake(connection, address, config)).await
    }

    /// Sends `request` at the version `choice` selects against this broker's ranges, and
    /// returns the decoded response with the version used.
    ///
    /// A version the broker does not support fails with [`NetError::UnsupportedVersion`]
    /// before anything is sent, a body that cannot be encoded at it with
    /// [`NetError::EncodeRequest`]. A request that gets no response within the request timeout
    /// closes the connection (as Java's client does: a broker that does not answer one request
    /// in time, or a half-open TCP connection, would not answer the next either), and fails
    /// with [`NetError::MaybeApplied`]: it was written, so the broker may have applied it. Any
    /// other failure after the write is [`NetError::MaybeApplied`] too, with the connection
    /// failure as its cause; a response that cannot be decoded ([`NetError::DecodeResponse`])
    /// leaves the connection usable.
    ///
    /// Error codes inside the response are the caller's to read (and
    /// [`Response::errors`] is empty): this layer does not know which of a response's many
    /// error codes matter; [`Cluster::request`](crate::Cluster::request) does.
    ///
    /// Each call runs in a debug-level `broker_request` span with the fields `api`, `version`,
    /// `broker` and (on completion) `latency_us`; the connection's `kafka_request` span inside
    /// it carries the `correlation_id`.
    pub async fn send<R: Request>(
        &self,
        request: &R,
        choice: VersionChoice,
    ) -> Result<Response<R::Response>, NetError> {
        let version = self
            .inner
            .versions
            .choose_for::<R>(choice, &self.inner.address)?;
        let body = self
            .send_at(request, version, self.inner.request_timeout)
            .await?;
        Ok(Response::new(
            body,
            version,
            BrokerRef {
                node_id: None,
                address: self.inner.address.clone(),
            },
        ))
    }

    /// Sends `request` at exactly `version`, waiting up to `timeout` for the response (see
    /// [`BrokerConnection::send`]).
    pub(crate) async fn send_at<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, NetError> {
        let span = self.request_span(R::API_KEY, version);
        async {
            let started = Instant::now();
            let result = self.call_typed::<R>(request, version, timeout).await;
            record_completion(&span, started, &result);
            result
        }
        .instrument(span.clone())
        .await
    }

    /// Sends a request the broker does not answer (Produce with `acks=0`) and waits until it is
    /// written; returns the version used. A frame that cannot be written within the request
    /// timeout (the broker stopped reading) fails the connection with [`NetError::Timeout`].
    ///
    /// Only for such requests: a response to a request sent this way matches no request in
    /// flight and poisons the connection.
    pub async fn send_no_response<R: Request>(
        &self,
        request: &R,
        choice: VersionChoice,
    ) -> Result<i16, NetError> {
        let version = self
            .inner
            .versions
            .choose_for::<R>(choice, &self.inner.address)?;
        self.send_no_response_at(request, version, self.inner.request_timeout)
            .await
            .map(|()| version)
    }

    /// [`BrokerConnection::send_no_response`] at exactly `version`, within `timeout`.
    pub(crate) async fn send_no_response_at<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<(), NetError> {
        let span = self.request_span(R::API_KEY, version);
        async {
            let started = Instant::now();
            let result = async {
                let body = encode_body(request, version)?;
                let raw = self.raw_request(R::API_KEY, version, body);
                self.inner
                    .connection
                    .send_no_response_within(raw, timeout)
                    .await
            }
            .await;
            record_completion(&span, started, &result);
            result
        }
        .instrument(span.clone())
        .await
    }

    /// The API version ranges the broker announced.
    pub fn versions(&self) -> &ApiVersionRanges {
        &self.inner.versions
    }

    /// The `ApiVersions` version the ranges were obtained with (lower than the newest this
    /// client speaks when the broker rejected that one with `UNSUPPORTED_VERSION`).
    pub fn api_versions_version(&self) -> i16 {
        self.inner.api_versions_version
    }

    /// The SASL authentication done on this connection, if any (with the session lifetime the
    /// broker granted).
    pub fn authenticated(&self) -> Option<&Authenticated> {
        self.inner.authenticated.as_ref()
    }

    /// The `host:port` this connection was made to.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// Whether the connection has failed or was closed: every request on it fails, and its
    /// owner should replace it with a new [`BrokerConnection::connect`].
    pub fn is_closed(&self) -> bool {
        self.inner.connection.is_closed()
    }

    /// How many requests await a response on this connection (for diagnostics and tests).
    pub fn in_flight(&self) -> usize {
        self.inner.connection.in_flight()
    }

    /// Why the connection closed, once it has.
    pub fn close_cause(&self) -> Option<Arc<NetError>> {
        self.inner.connection.close_cause()
    }

    /// Closes the connection (for every clone): requests in flight fail with
    /// [`NetError::ClosedByClient`].
    pub fn close(&self) {
        self.inner.connection.close();
    }

    fn request_span(&self, api: ApiKey, version: i16) -> tracing::Span {
        tracing::debug_span!(
            "broker_request",
            api = api.name(),
            version,
            broker = %self.inner.address,
            latency_us = tracing::field::Empty,
        )
    }

    async fn call_typed<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, NetError> {
        let body = encode_body(request, version)?;
        let raw = self.raw_request(R::API_KEY, version, body);
        let result = self.inner.connection.call_tracked(raw, timeout).await;
        self.decode_outcome::<R>(version, result)
    }

    /// Turns the outcome of a call into the response or the error callers see: a failure
    /// after the write is [`NetError::MaybeApplied`], and a request timeout closes the
    /// connection.
    fn decode_outcome<R: Request>(
        &self,
        version: i16,
        result: Result<Bytes, CallError>,
    ) -> Result<R::Response, NetError> {
        let response = match result {
            Ok(response) => response,
            Err(CallError { error, sent: false }) => return Err(error),
            Err(CallError { error, sent: true }) => {
                if let NetError::Timeout { .. } = error {
                    // The rule (see `send`): a request timeout closes the connection.
                    tracing::debug!(broker = %self.inner.address, error = %error, "closing the connection after a request timeout");
                    self.inner.connection.abort(NetError::Closed {
                        cause: Arc::new(error.clone()),
                    });
                }
                return Err(NetError::MaybeApplied {
                    api: R::API_KEY,
                    version,
                    address: self.inner.address.clone(),
                    cause: Arc::new(error),
                });
            }
        };
        R::Response::from_bytes(response, version).map_err(|source| NetError::DecodeResponse {
            api: R::API_KEY,
            version,
            address: self.inner.address.clone(),
            source,
        })
    }

    /// Queues `request` on the connection and returns once it is queued, without waiting for
    /// the response: [`QueuedRequest::response`] waits for that. Requests are written in the
    /// order their `queue` calls completed, so awaiting one `queue` before starting the next
    /// fixes their order on the wire, which concurrent [`BrokerConnection::send`] calls do not
    /// (an idempotent producer's batches of one partition must arrive in sequence order).
    ///
    /// The request timeout covers the wait for a queue slot and the wait for the response
    /// together; the errors are those of [`BrokerConnection::send`]. Dropped before it
    /// resolves, nothing was queued; a [`QueuedRequest`] dropped unawaited leaves the request
    /// written and its response discarded.
    pub async fn queue<R: Request>(
        &self,
        request: &R,
        choice: VersionChoice,
    ) -> Result<QueuedRequest<R>, NetError> {
        let version = self
            .inner
            .versions
            .choose_for::<R>(choice, &self.inner.address)?;
        let body = encode_body(request, version)?;
        let raw = self.raw_request(R::API_KEY, version, body);
        let span = self.request_span(R::API_KEY, version);
        let started = Instant::now();
        let queued = self
            .inner
            .connection
            .queue_tracked(&raw, self.inner.request_timeout)
            .instrument(span.clone())
            .await;
        match queued {
            Ok(call) => Ok(QueuedRequest {
                connection: self.clone(),
                call,
                version,
                span,
                started,
                _request: PhantomData,
            }),
            Err(failed) => {
                let result = self.decode_outcome::<R>(version, Err(failed)).map(|_| ());
                let Err(error) = result else {
                    unreachable!("a failed call decodes to an error")
                };
                record_completion::<()>(&span, started, &Err(error.clone()));
                Err(error)
            }
        }
    }

    fn raw_request(&self, api: ApiKey, version: i16, body: Bytes) -> RawRequest {
        raw_request(api, version, body, &self.inner.client_id)
    }
}

/// The body of `request` at `version`, or an error naming the API and version (the source
/// names the message and field).
/// A request [queued](BrokerConnection::queue) on a connection, whose response is awaited
/// separately.
#[must_use = "the request is written either way; its response is lost unless awaited"]
pub struct QueuedRequest<R: Request> {
    connection: BrokerConnection,
    call: PendingCall,
    version: i16,
    span: tracing::Span,
    started: Instant,
    _request: PhantomData<fn() -> R>,
}

impl<R: Request> fmt::Debug for QueuedRequest<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuedRequest")
            .field("api", &R::API_KEY)
            .field("version", &self.version)
            .field("broker", &self.connection.inner.address)
            .finish()
    }
}

impl<R: Request> QueuedRequest<R> {
    /// The version the request was encoded at.
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Waits for the response (errors as [`BrokerConnection::send`]).
    pub async fn response(self) -> Result<Response<R::Response>, NetError> {
        let QueuedRequest {
            connection,
            call,
            version,
            span,
            started,
            ..
        } = self;
        async {
            let result = call.wait().await;
            let result = connection.decode_outcome::<R>(version, result);
            record_completion(&span, started, &result);
            result.map(|body| {
                Response::new(
                    body,
                    version,
                    BrokerRef {
                        node_id: None,
                        address: connection.inner.address.clone(),
                    },
                )
            })
        }
        .instrument(span.clone())
        .await
    }
}

fn encode_body<R: Request>(request: &R, version: i16) -> Result<Bytes, NetError> {
    request
        .to_bytes(version)
        .map(bytes::BytesMut::freeze)
        .map_err(|source| NetError::EncodeRequest {
            api: R::API_KEY,
            version,
            source,
        })
}

fn connection_config(address: &str, config: &NetConfig) -> ConnectionConfig {
    ConnectionConfig::new(address).with_max_response_size(config.max_response_size)
}

/// Runs the connect sequence `connect` within the connect timeout.
async fn with_connect_timeout(
    address: &str,
    config: &NetConfig,
    connect: impl std::future::Future<Output = Result<BrokerConnection, NetError>>,
) -> Result<BrokerConnection, NetError> {
    tokio::time::timeout(config.connect_timeout, connect)
        .await
        .unwrap_or_else(|_elapsed| {
            Err(NetError::ConnectTimeout {
                address: address.to_owned(),
                timeout: config.connect_timeout,
            })
        })
}

fn record_completion<T>(span: &tracing::Span, started: Instant, result: &Result<T, NetError>) {
    let latency_us = started.elapsed().as_micros() as u64;
    span.record("latency_us", latency_us);
    match result {
        Ok(_) => tracing::debug!(latency_us, "request done"),
        Err(err) => tracing::debug!(latency_us, error = %err, "request failed"),
    }
}

/// A raw request for `api` at `version` with the header versions that version uses.
fn raw_request(api: ApiKey, version: i16, body: Bytes, client_id: &Arc<str>) -> RawRequest {
    RawRequest::new(api, version, body)
        .with_header_versions(
            api.request_header_version(version),
            api.response_header_version(version),
        )
        .with_client_id(Arc::clone(client_id))
}

/// Splits `host:port` (or `[ipv6]:port`, port 1-65535), rejecting anything else.
pub(crate) fn split_host_port(address: &str) -> Result<(&str, u16), NetError> {
    let invalid = |why: &str| {
        NetError::InvalidArgument(format!(
            "broker address {address:?} is not host:port ({why})"
        ))
    };
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("no closing bracket"))?;
        let port = after.strip_prefix(':').ok_or_else(|| invalid("no port"))?;
        (host, port)
    } else {
        let (host, port) = address.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
        if host.contains(':') {
            return Err(invalid("an IPv6 address must be in brackets"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(invalid("empty host"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid("bad port")),
        Ok(port) => Ok((host, port)),
    }
}

async fn connect_inner(
    address: &str,
    host: &str,
    port: u16,
    config: &NetConfig,
) -> Result<BrokerConnection, NetError> {
    let connect_error = |source| NetError::Connect {
        address: address.to_owned(),
        source: Arc::new(source),
    };
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(connect_error)?;
    tcp.set_nodelay(true).map_err(connect_error)?;
    let connection_config = connection_config(address, config);
    let connection = match &config.tls {
        None => Connection::new(tcp, connection_config),
        Some(tls) => {
            let tls_error = |source| NetError::Tls {
                address: address.to_owned(),
                source: Arc::new(source),
            };
            // Built per connection: it reads the PEM inputs, which are small, and a connection
            // is made rarely next to the requests sent on it.
            let connector = tls.build_connector().map_err(tls_error)?;
            let stream = connector.connect(tcp, host).await.map_err(tls_error)?;
            Connection::new(stream, connection_config)
        }
    };
    handshake(connection, address, config).await
}

/// ApiVersions, then SASL if configured, on a fresh connection.
async fn handshake(
    connection: Connection,
    address: &str,
    config: &NetConfig,
) -> Result<BrokerConnection, NetError> {
    let client_id: Arc<str> = Arc::from(config.client_id.as_str());
    let (api_versions_version, mut versions) =
        negotiate_versions(&connection, &client_id, address).await?;
    versions.apply_caps(&config.max_versions);
    let authenticated = match &config.sasl {
        None => None,
        Some(sasl) => Some(authenticate(&connection, sasl, &versions, &client_id, address).await?),
    };
    Ok(BrokerConnection {
        inner: Arc::new(Inner {
            address: address.to_owned(),
            connection,
            versions,
            api_versions_version,
            authenticated,
            client_id,
            request_timeout: config.request_timeout,
        }),
    })
}

/// The calls made while connecting have no timeout of their own: the connect timeout around the
/// whole sequence bounds them (and cancelling a call is safe).
const NO_CALL_TIMEOUT: Duration = Duration::MAX;

/// Asks for the broker's version ranges with the newest `ApiVersions` this client speaks. A
/// broker that does not know that version answers `UNSUPPORTED_VERSION` in a v0 body, listing
/// its own `ApiVersions` range since Kafka 2.4; like the Java client, ask once more at the
/// newest version both support, or at v0 when the broker listed none.
async fn negotiate_versions(
    connection: &Connection,
    client_id: &Arc<str>,
    address: &str,
) -> Result<(i16, ApiVersionRanges), NetError> {
    // ApiVersions v5 (Kafka 4.4, KIP-1242) adds cluster and node id checks and the
    // REBOOTSTRAP_REQUIRED error, which this layer does not handle yet: ask with v4 at most, as
    // before the protocol crate learned v5.
    let ours = VersionRange {
        max: ApiVersionsRequest::VERSIONS.max.min(4),
        ..ApiVersionsRequest::VERSIONS
    };
    let mut version = ours.max;
    loop {
        let response = api_versions_round_trip(connection, client_id, address, version).await?;
        match response.error_code {
            ErrorCode::None => return Ok((version, ApiVersionRanges::from_response(&response))),
            ErrorCode::UnsupportedVersion if version > ours.min => {
                let broker_max = response
                    .api_keys
                    .iter()
                    .find(|api| api.api_key == ApiKey::ApiVersions.as_i16())
                    .map(|api| api.max_version);
                let next = match broker_max {
                    // Lower than what was sent, or the exchange could go round forever.
                    Some(max) if max < version && max >= ours.min => max,
                    _ => ours.min,
                };
                tracing::debug!(
                    rejected = version,
                    broker_max,
                    retry_with = next,
                    "broker does not support this ApiVersions version"
                );
                version = next;
            }
            code => {
                return Err(NetError::from_broker(
                    ApiKey::ApiVersions,
                    code,
                    None,
                    address,
                    crate::error::ErrorScope::Response,
                ))
            }
        }
    }
}

async fn api_versions_round_trip(
    connection: &Connection,
    client_id: &Arc<str>,
    address: &str,
    version: i16,
) -> Result<ApiVersionsResponse, NetError> {
    // Ignorable fields: dropped silently below v3.
    let request = ApiVersionsRequest::default()
        .with_client_software_name(CLIENT_SOFTWARE_NAME.to_owned())
        .with_client_software_version(CLIENT_SOFTWARE_VERSION.to_owned());
    let raw = raw_request(
        ApiKey::ApiVersions,
        version,
        request.to_bytes(version)?.freeze(),
        client_id,
    );
    let body = connection.call(raw, NO_CALL_TIMEOUT).await?;
    decode_api_versions(body, version).map_err(|source| NetError::DecodeResponse {
        api: ApiKey::ApiVersions,
        version,
        address: address.to_owned(),
        source,
    })
}

/// Decodes an `ApiVersions` response to a request sent at `version`. `UNSUPPORTED_VERSION`
/// comes in a v0 body whatever version was asked (the broker cannot encode a version it does
/// not know), so the error code, the first field in every version, is read first.
fn decode_api_versions(body: Bytes, version: i16) -> Result<ApiVersionsResponse, DecodeError> {
    let error_code = body
        .get(..2)
        .map(|code| i16::from_be_bytes([code[0], code[1]]));
    let version = match error_code.map(ErrorCode::from_code) {
        Some(ErrorCode::UnsupportedVersion) => 0,
        _ => version,
    };
    ApiVersionsResponse::from_bytes(body, version)
}

async fn authenticate(
    connection: &Connection,
    config: &SaslConfig,
    versions: &ApiVersionRanges,
    client_id: &Arc<str>,
    address: &str,
) -> Result<Authenticated, NetError> {
    let sasl_error = |source| NetError::Sasl {
        address: address.to_owned(),
        source: Arc::new(source),
    };
    let sasl_versions = SaslVersions::negotiate(
        versions.get(ApiKey::SaslHandshake),
        versions.get(ApiKey::SaslAuthenticate),
    )
    .map_err(sasl_error)?;
    let send = move |request: SaslRequest| {
        let raw = raw_request(request.api_key, request.version, request.body, client_id);
        connection.call(raw, NO_CALL_TIMEOUT)
    };
    let done = sasl::authenticate(config, sasl_versions, send)
        .await
        .map_err(sasl_error)?;
    tracing::debug!(
        mechanism = done.mechanism,
        session_lifetime = ?done.session_lifetime,
        "authenticated"
    );
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("localhost:9092").unwrap(),
            ("localhost", 9092)
        );
        assert_eq!(split_host_port("10.0.0.1:1").unwrap(), ("10.0.0.1", 1));
        assert_eq!(split_host_port("[::1]:9092").unwrap(), ("::1", 9092));
        for bad in [
            "localhost",
            "localhost:",
            ":9092",
            "host:99999",
            "host:-1",
            "host:0",
            "::1:9092",
            "[::1]9092",
            "[::1",
            "[]:9092",
            "",
        ] {
            let err = split_host_port(bad).unwrap_err();
            assert!(
                matches!(err, NetError::InvalidArgument(_)),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn header_versions_follow_the_api() {
        use kafkaex_protocol::header::{RequestHeaderVersion, ResponseHeaderVersion};
        let id: Arc<str> = Arc::from("c");
        let raw = raw_request(ApiKey::ApiVersions, 4, Bytes::new(), &id);
        assert_eq!(raw.request_header_version, RequestHeaderVersion::V2);
        // ApiVersions answers with header v0 at every version.
        assert_eq!(raw.response_header_version, ResponseHeaderVersion::V0);
        let raw = raw_request(ApiKey::Metadata, 9, Bytes::new(), &id);
        assert_eq!(raw.request_header_version, RequestHeaderVersion::V2);
        assert_eq!(raw.response_header_version, ResponseHeaderVersion::V1);
        let raw = raw_request(ApiKey::Metadata, 8, Bytes::new(), &id);
        assert_eq!(raw.request_header_version, RequestHeaderVersion::V1);
        assert_eq!(raw.response_header_version, ResponseHeaderVersion::V0);
        let raw = raw_request(ApiKey::ControlledShutdown, 0, Bytes::new(), &id);
        assert_eq!(raw.request_header_version, RequestHeaderVersion::V0);
        assert_eq!(raw.client_id.as_deref(), Some("c"));
    }

    #[test]
    fn unsupported_version_bodies_are_read_as_v0() {
        let v0 = ApiVersionsResponse::default()
            .with_error_code(ErrorCode::UnsupportedVersion)
            .to_bytes(0)
            .unwrap()
            .freeze();
        let decoded = decode_api_versions(v0, 4).unwrap();
        assert_eq!(decoded.error_code, ErrorCode::UnsupportedVersion);
        assert!(decode_api_versions(Bytes::from_static(&[0]), 4).is_err());
        assert!(decode_api_versions(Bytes::new(), 0).is_err());
    }
}
