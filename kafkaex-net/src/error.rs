//! Errors of the connection layer: framing, correlation, timeouts and I/O on one broker
//! connection, negotiation, routing, and Kafka error codes with where they apply.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use kafkaex_protocol::{ApiKey, DecodeError, EncodeError, ErrorCode, Uuid, VersionRange};

use crate::sasl::SaslError;
use crate::tls::TlsError;

/// An error on a broker connection.
///
/// `Clone`, because one failure of a connection is fanned out to every request waiting on it;
/// the I/O error is shared behind an [`Arc`] for that reason.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// Reading from or writing to the connection failed.
    #[error("I/O error on the broker connection")]
    Io(#[source] Arc<io::Error>),
    /// The peer closed the connection between two response frames.
    #[error("the broker closed the connection")]
    PeerClosed,
    /// The peer closed the connection in the middle of a response frame.
    #[error("the broker closed the connection in the middle of a {size}-byte response frame")]
    TruncatedFrame {
        /// The size the frame announced.
        size: usize,
    },
    /// A response frame announced a size above the configured maximum; it was rejected before
    /// any buffer for it was allocated.
    #[error("response frame of {size} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The size the frame announced.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A response frame announced a negative size.
    #[error("response frame announces a negative size ({size})")]
    NegativeFrameSize {
        /// The size read.
        size: i32,
    },
    /// A response carried a correlation id that matches no request in flight: the stream is out
    /// of step with the requests, so nothing read from it afterwards can be trusted.
    #[error("response with correlation id {got} matches no request in flight")]
    CorrelationMismatch {
        /// The correlation id in the response.
        got: i32,
    },
    /// No response arrived within the request's timeout. A response that arrives later is
    /// read and discarded; the connection stays usable.
    #[error(
        "request ({api_key}, api key {}, v{api_version}, {}) timed out after {timeout:?}",
        api_key.as_i16(),
        describe_correlation_id(*.correlation_id)
    )]
    Timeout {
        /// The request's API.
        api_key: ApiKey,
        /// The request's API version.
        api_version: i16,
        /// The correlation id the request was sent with; `None` when the timeout elapsed while
        /// the request still waited for room in the write queue, so it was never sent.
        correlation_id: Option<i32>,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The connection failed or was closed earlier; `cause` says why. The owner should replace
    /// the connection.
    #[error("the broker connection is closed")]
    Closed {
        /// What closed the connection.
        #[source]
        cause: Arc<NetError>,
    },
    /// The connection was closed by its owner ([`Connection::close`](crate::connection::Connection::close)
    /// or dropping it).
    #[error("the connection was closed by the client")]
    ClosedByClient,
    /// A request header or frame could not be encoded (for example a client id longer than an
    /// int16 string allows).
    #[error("could not encode a request frame")]
    Encode(#[from] EncodeError),
    /// A request body could not be encoded at the version chosen for it: `source` names the
    /// message, the field and the version (a field the version cannot carry, say).
    #[error("could not encode the {api} v{version} request")]
    EncodeRequest {
        /// The API of the request.
        api: ApiKey,
        /// The version chosen.
        version: i16,
        /// What could not be encoded.
        #[source]
        source: EncodeError,
    },
    /// A response header could not be decoded (a frame too short for a correlation id, or a
    /// malformed tagged-field section). The connection closes: the peer is not speaking the
    /// protocol the requests assumed.
    #[error("could not decode a response header")]
    Decode(#[from] DecodeError),
    /// A response body could not be decoded at the version its request was sent at. The frame
    /// itself was whole, so the connection stays usable; the broker answered something this
    /// client cannot read.
    #[error("could not decode the {api} v{version} response from broker {address}")]
    DecodeResponse {
        /// The API of the request.
        api: ApiKey,
        /// The version the request was sent at.
        version: i16,
        /// The `host:port` of the broker.
        address: String,
        /// What is wrong with the body.
        #[source]
        source: DecodeError,
    },
    /// The request was written to the broker (or queued to be written) and then no response
    /// came: it timed out or the connection failed, so the broker may have applied it. `cause`
    /// says what failed. A request that is not safe to repeat (a Produce without an idempotent
    /// producer id, most admin requests) is not retried after this.
    #[error("{api} v{version} to broker {address} got no response after it was sent; the broker may have applied it")]
    MaybeApplied {
        /// The API of the request.
        api: ApiKey,
        /// The version it was sent at.
        version: i16,
        /// The `host:port` of the broker.
        address: String,
        /// What failed.
        #[source]
        cause: Arc<NetError>,
    },
    /// A TCP connection to a broker could not be opened (name resolution or connect failed).
    #[error("could not connect to broker {address}")]
    Connect {
        /// The `host:port` dialled.
        address: String,
        /// The I/O error.
        #[source]
        source: Arc<io::Error>,
    },
    /// Opening a connection (TCP, TLS, ApiVersions and SASL) took longer than the connect timeout.
    #[error("connecting to broker {address} timed out after {timeout:?}")]
    ConnectTimeout {
        /// The `host:port` dialled.
        address: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The TLS handshake or TLS configuration failed.
    #[error("TLS with broker {address} failed")]
    Tls {
        /// The `host:port` of the broker.
        address: String,
        /// The TLS error.
        #[source]
        source: Arc<TlsError>,
    },
    /// SASL authentication failed (a wrong password is reported here, with the broker's message).
    #[error("SASL authentication with broker {address} failed")]
    Sasl {
        /// The `host:port` of the broker.
        address: String,
        /// The SASL error.
        #[source]
        source: Arc<SaslError>,
    },
    /// The broker does not support the API version asked for (or no version of the API at all,
    /// when `broker` is `None`).
    #[error(
        "{api} v{asked} is not supported by broker {address} (broker supports {}; this client supports v{}-v{})",
        describe_range(.broker), ours.min, ours.max
    )]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version asked for (for "newest both support", the newest this client supports).
        asked: i16,
        /// The broker's range for the API, `None` when the broker does not list the API.
        broker: Option<VersionRange>,
        /// The range this client implements.
        ours: VersionRange,
        /// The `host:port` of the broker.
        address: String,
    },
    /// A Kafka error code: sent by the broker in a response (`origin` [`ErrorOrigin::Broker`]),
    /// or concluded by the client from what it knows (`origin` [`ErrorOrigin::Client`], e.g.
    /// "the metadata names no controller" as `NOT_CONTROLLER`), for the part of the request
    /// `scope` names.
    #[error("{}", describe_kafka(*.api, *.code, .message, .address, *.origin, .scope))]
    Kafka {
        /// The API whose response carried the error (for a client-made error, the API whose
        /// answer it is derived from: Metadata for a missing leader).
        api: ApiKey,
        /// The error code.
        code: ErrorCode,
        /// The error message the broker sent with it, or the client's explanation.
        message: Option<String>,
        /// The `host:port` of the broker that answered (for a client-made error, the broker
        /// whose metadata it rests on; empty when none).
        address: String,
        /// Who decided this is an error.
        origin: ErrorOrigin,
        /// What the code applies to.
        scope: ErrorScope,
    },
    /// No broker could be reached: every candidate was tried and failed. `tried` holds each
    /// address with its error, in the order tried.
    #[error("no broker could be reached (tried {})", describe_tried(.tried))]
    NoBrokerAvailable {
        /// Each address tried, with its error.
        tried: Vec<(String, Arc<NetError>)>,
    },
    /// A node id that the cluster metadata does not know.
    #[error("broker {node_id} is not in the cluster metadata")]
    UnknownBroker {
        /// The node id.
        node_id: i32,
    },
    /// The caller passed an argument that cannot work (an unparsable bootstrap address, an
    /// empty bootstrap list, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Who produced a [`NetError::Kafka`] code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorOrigin {
    /// The broker sent it in a response.
    Broker,
    /// The client concluded it (from the metadata, or from a response that lacks an entry it
    /// needs); no broker said so in these words.
    Client,
}

/// Where in a request (and its response) an error code applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorScope {
    /// The request as a whole (a top-level error code).
    Response,
    /// One topic.
    Topic(String),
    /// One topic named by its id.
    TopicId(Uuid),
    /// One partition.
    Partition {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
    },
    /// One partition of a topic named by its id.
    PartitionOfTopicId {
        /// The topic id.
        topic_id: Uuid,
        /// The partition index.
        partition: i32,
    },
    /// One consumer group.
    Group(String),
    /// One member of a group.
    Member {
        /// The group.
        group: String,
        /// The member id (or group instance id, for static members).
        member: String,
    },
    /// One transactional id.
    Transaction(String),
    /// One key of a batched FindCoordinator.
    CoordinatorKey(String),
    /// One config resource (DescribeConfigs, IncrementalAlterConfigs): its type and name.
    Resource {
        /// The resource type (2 topic, 4 broker, 8 broker logger, ...).
        resource_type: i8,
        /// The resource name.
        name: String,
    },
}

impl fmt::Display for ErrorScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Response => f.write_str("the request"),
            Self::Topic(t) => write!(f, "topic {t}"),
            Self::TopicId(id) => write!(f, "topic id {id:?}"),
            Self::Partition { topic, partition } => write!(f, "{topic}-{partition}"),
            Self::PartitionOfTopicId {
                topic_id,
                partition,
            } => write!(f, "partition {partition} of topic id {topic_id:?}"),
            Self::Group(g) => write!(f, "group {g:?}"),
            Self::Member { group, member } => write!(f, "member {member:?} of group {group:?}"),
            Self::Transaction(t) => write!(f, "transactional id {t:?}"),
            Self::CoordinatorKey(k) => write!(f, "coordinator key {k:?}"),
            Self::Resource {
                resource_type,
                name,
            } => write!(f, "resource {name:?} (type {resource_type})"),
        }
    }
}

fn describe_kafka(
    api: ApiKey,
    code: ErrorCode,
    message: &Option<String>,
    address: &str,
    origin: ErrorOrigin,
    scope: &ErrorScope,
) -> String {
    let on = match scope {
        ErrorScope::Response => String::new(),
        scope => format!(" for {scope}"),
    };
    match origin {
        ErrorOrigin::Broker => format!(
            "{api} failed{on} on broker {address}: {code}{}",
            describe_message(message)
        ),
        ErrorOrigin::Client => {
            let source = if address.is_empty() {
                String::new()
            } else {
                format!(", from what broker {address} answered")
            };
            let why = message.as_deref().unwrap_or("the client cannot go on");
            format!("{api}{on}: {why} (taken as {}{source})", code.name())
        }
    }
}

fn describe_range(range: &Option<VersionRange>) -> String {
    match range {
        Some(r) => format!("v{}-v{}", r.min, r.max),
        None => "no version of it".to_owned(),
    }
}

fn describe_message(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(" ({m})"),
        _ => String::new(),
    }
}

fn describe_tried(tried: &[(String, Arc<NetError>)]) -> String {
    if tried.is_empty() {
        return "none".to_owned();
    }
    tried
        .iter()
        .map(|(address, err)| format!("{address}: {err}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe_correlation_id(id: Option<i32>) -> String {
    match id {
        Some(id) => format!("correlation id {id}"),
        None => "never sent".to_owned(),
    }
}

impl From<io::Error> for NetError {
    fn from(err: io::Error) -> Self {
        Self::Io(Arc::new(err))
    }
}

impl NetError {
    /// A [`NetError::Kafka`] the broker sent.
    pub fn from_broker(
        api: ApiKey,
        code: ErrorCode,
        message: Option<String>,
        address: impl Into<String>,
        scope: ErrorScope,
    ) -> Self {
        Self::Kafka {
            api,
            code,
            message,
            address: address.into(),
            origin: ErrorOrigin::Broker,
            scope,
        }
    }

    /// A [`NetError::Kafka`] the client concluded, with its explanation.
    pub fn from_client(
        api: ApiKey,
        code: ErrorCode,
        why: impl Into<String>,
        address: impl Into<String>,
        scope: ErrorScope,
    ) -> Self {
        Self::Kafka {
            api,
            code,
            message: Some(why.into()),
            address: address.into(),
            origin: ErrorOrigin::Client,
            scope,
        }
    }

    /// The error that closed the connection, looking through [`NetError::Closed`] and
    /// [`NetError::MaybeApplied`]; any other error is returned as is.
    pub fn root_cause(&self) -> &NetError {
        match self {
            Self::Closed { cause } | Self::MaybeApplied { cause, .. } => cause.root_cause(),
            other => other,
        }
    }

    /// Whether trying again (after a backoff, on a fresh connection or with refreshed metadata)
    /// may succeed, which is what [`crate::retry::retry`] retries on:
    ///
    /// - connection failures: [`NetError::Io`], [`NetError::PeerClosed`],
    ///   [`NetError::TruncatedFrame`], [`NetError::Closed`], [`NetError::Connect`],
    ///   [`NetError::Timeout`], [`NetError::ConnectTimeout`];
    /// - [`NetError::MaybeApplied`] when its cause is (whether a request that may have been
    ///   applied is *worth* repeating is the caller's call: see
    ///   [`NetError::may_have_been_applied`]);
    /// - [`NetError::Kafka`] with a code Kafka marks retriable (`NOT_LEADER_OR_FOLLOWER`,
    ///   `NOT_COORDINATOR`, `LEADER_NOT_AVAILABLE`, ...);
    /// - [`NetError::NoBrokerAvailable`] (brokers may come back).
    ///
    /// Not retriable: SASL and TLS failures, unsupported versions, encoding and decoding errors,
    /// a frame too large or out of step, invalid arguments, an unknown node id, a connection
    /// closed by the client, and non-retriable Kafka codes.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Io(_)
            | Self::PeerClosed
            | Self::TruncatedFrame { .. }
            | Self::Closed { .. }
            | Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::ConnectTimeout { .. }
            | Self::NoBrokerAvailable { .. } => true,
            Self::MaybeApplied { cause, .. } => cause.is_retriable(),
            Self::Kafka { code, .. } => code.is_retriable(),
            Self::FrameTooLarge { .. }
            | Self::NegativeFrameSize { .. }
            | Self::CorrelationMismatch { .. }
            | Self::ClosedByClient
            | Self::Encode(_)
            | Self::EncodeRequest { .. }
            | Self::Decode(_)
            | Self::DecodeResponse { .. }
            | Self::Tls { .. }
            | Self::Sasl { .. }
            | Self::UnsupportedVersion { .. }
            | Self::UnknownBroker { .. }
            | Self::InvalidArgument(_) => false,
        }
    }

    /// The Kafka error code, for [`NetError::Kafka`].
    pub fn kafka_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Kafka { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the request may have reached the broker and been applied although no success
    /// was seen: [`NetError::MaybeApplied`], or a Kafka code that says the write happened but
    /// its outcome is unknown (`REQUEST_TIMED_OUT`, `NOT_ENOUGH_REPLICAS_AFTER_APPEND`).
    pub fn may_have_been_applied(&self) -> bool {
        match self {
            Self::MaybeApplied { .. } => true,
            Self::Kafka { code, .. } => code_may_have_applied(*code),
            _ => false,
        }
    }

    /// Whether this error means the connection can no longer be used (as opposed to one
    /// request failing: [`NetError::Timeout`], an encoding error caught before sending, a
    /// response that could not be decoded, an error code).
    pub fn is_connection_failure(&self) -> bool {
        match self {
            Self::Io(_)
            | Self::PeerClosed
            | Self::TruncatedFrame { .. }
            | Self::FrameTooLarge { .. }
            | Self::NegativeFrameSize { .. }
            | Self::CorrelationMismatch { .. }
            | Self::Closed { .. }
            | Self::ClosedByClient
            | Self::Decode(_)
            | Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::Tls { .. }
            | Self::Sasl { .. }
            | Self::NoBrokerAvailable { .. } => true,
            Self::MaybeApplied { cause, .. } => cause.is_connection_failure(),
            Self::Timeout { .. }
            | Self::Encode(_)
            | Self::EncodeRequest { .. }
            | Self::DecodeResponse { .. }
            | Self::UnsupportedVersion { .. }
            | Self::Kafka { .. }
            | Self::UnknownBroker { .. }
            | Self::InvalidArgument(_) => false,
        }
    }

    /// Whether, after this error from one broker, another broker may do better: the peer did
    /// not answer, or is not a Kafka broker at all (it answered with something that is not a
    /// Kafka frame, a wrong correlation id, or a body that does not decode). Errors in the
    /// request or the configuration (TLS, SASL, versions, arguments) and Kafka error codes
    /// would repeat.
    pub fn is_broker_specific(&self) -> bool {
        match self {
            Self::Io(_)
            | Self::PeerClosed
            | Self::TruncatedFrame { .. }
            | Self::FrameTooLarge { .. }
            | Self::NegativeFrameSize { .. }
            | Self::CorrelationMismatch { .. }
            | Self::Closed { .. }
            | Self::Decode(_)
            | Self::DecodeResponse { .. }
            | Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::ConnectTimeout { .. }
            | Self::NoBrokerAvailable { .. }
            | Self::MaybeApplied { .. } => true,
            Self::ClosedByClient
            | Self::Encode(_)
            | Self::EncodeRequest { .. }
            | Self::Tls { .. }
            | Self::Sasl { .. }
            | Self::UnsupportedVersion { .. }
            | Self::Kafka { .. }
            | Self::UnknownBroker { .. }
            | Self::InvalidArgument(_) => false,
        }
    }
}

/// Codes with which a broker says it wrote the request but cannot confirm the outcome.
pub(crate) fn code_may_have_applied(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::RequestTimedOut | ErrorCode::NotEnoughReplicasAfterAppend
    )
}
