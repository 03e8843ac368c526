//! Errors of the connection layer: framing, correlation, timeouts and I/O on one broker
//! connection.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use kafkaex_protocol::{ApiKey, DecodeError, EncodeError, ErrorCode, VersionRange};

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
    /// A response carried a Kafka error code for the request as a whole (or the one partition
    /// or group it was about).
    #[error("{api} failed on broker {address}: {code}{}", describe_message(.message))]
    Kafka {
        /// The API whose response carried the error.
        api: ApiKey,
        /// The error code.
        code: ErrorCode,
        /// The error message the broker sent with it, if any.
        message: Option<String>,
        /// The `host:port` of the broker.
        address: String,
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
    /// The error that closed the connection, looking through [`NetError::Closed`]; any other
    /// error is returned as is.
    pub fn root_cause(&self) -> &NetError {
        match self {
            Self::Closed { cause } => cause.root_cause(),
            other => other,
        }
    }

    /// Whether trying again (after a backoff, on a fresh connection or with refreshed metadata)
    /// may succeed, which is what [`crate::retry::retry`] retries on:
    ///
    /// - connection failures: [`NetError::Io`], [`NetError::PeerClosed`],
    ///   [`NetError::TruncatedFrame`], [`NetError::Closed`], [`NetError::Connect`],
    ///   [`NetError::Timeout`], [`NetError::ConnectTimeout`];
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
            Self::Kafka { code, .. } => code.is_retriable(),
            Self::FrameTooLarge { .. }
            | Self::NegativeFrameSize { .. }
            | Self::CorrelationMismatch { .. }
            | Self::ClosedByClient
            | Self::Encode(_)
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

    /// Whether this error means the connection can no longer be used (as opposed to one
    /// request failing: [`NetError::Timeout`], or an encoding error caught before sending).
    pub fn is_connection_failure(&self) -> bool {
        !matches!(
            self,
            Self::Timeout { .. }
                | Self::Encode(_)
                | Self::DecodeResponse { .. }
                | Self::UnsupportedVersion { .. }
                | Self::Kafka { .. }
                | Self::UnknownBroker { .. }
                | Self::InvalidArgument(_)
        )
    }
}
