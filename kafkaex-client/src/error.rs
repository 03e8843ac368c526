//! The one error type of the client API.

use std::fmt;
use std::sync::Arc;

use kafkaex_net::{BrokerRef, ErrorScope, NetError};
use kafkaex_protocol::{ApiKey, ErrorCode};

/// Whether a record that failed to be delivered is in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// Certainly not written: the request never reached the broker, or the broker said it did
    /// not write it.
    NotPersisted,
    /// Maybe written: the request reached the broker and no answer came (a timeout, a lost
    /// connection), or the broker said the write may have happened (`REQUEST_TIMED_OUT`).
    PossiblyPersisted,
    /// Written (and acknowledged), though the call reporting it failed afterwards.
    Persisted,
}

impl fmt::Display for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotPersisted => "not persisted",
            Self::PossiblyPersisted => "possibly persisted",
            Self::Persisted => "persisted",
        })
    }
}

/// What a failed request was: API, version, broker, topic and partition, as far as known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestContext {
    /// The API.
    pub api: Option<ApiKey>,
    /// The version it was sent at.
    pub version: Option<i16>,
    /// The broker it was sent to.
    pub broker: Option<BrokerRef>,
    /// The topic it was about.
    pub topic: Option<String>,
    /// The partition it was about.
    pub partition: Option<i32>,
}

impl RequestContext {
    /// A context for a request of `api`.
    pub fn api(api: ApiKey) -> Self {
        Self {
            api: Some(api),
            ..Self::default()
        }
    }

    /// With the topic and partition.
    pub fn with_partition(mut self, topic: impl Into<String>, partition: i32) -> Self {
        self.topic = Some(topic.into());
        self.partition = Some(partition);
        self
    }

    /// With the broker.
    pub fn with_broker(mut self, broker: BrokerRef) -> Self {
        self.broker = Some(broker);
        self
    }

    /// With the version.
    pub fn with_version(mut self, version: i16) -> Self {
        self.version = Some(version);
        self
    }
}

impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.api {
            Some(api) => write!(f, "{api}")?,
            None => f.write_str("request")?,
        }
        if let Some(v) = self.version {
            write!(f, " v{v}")?;
        }
        match (&self.topic, self.partition) {
            (Some(t), Some(p)) => write!(f, " for {t}-{p}")?,
            (Some(t), None) => write!(f, " for {t}")?,
            _ => {}
        }
        if let Some(b) = &self.broker {
            write!(f, " to {b}")?;
        }
        Ok(())
    }
}

/// An error of the client API.
///
/// Each says what failed in its own words; the cause (a connection error, a broker's error
/// code) is in [`std::error::Error::source`]. [`Error::kafka_code`] gives the Kafka code when
/// there is one, [`Error::is_retriable`] whether trying again may help, and
/// [`Error::persistence`] whether a record that failed to be delivered is in the log.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is missing, unknown, or has a value of the wrong type.
    #[error("configuration {key}: {reason}")]
    Config {
        /// The setting (a builder method name or a Java-style property key).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A call was given something that cannot work (an empty topic name, a partition out of
    /// range).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A request to the cluster failed; `source` says how.
    #[error("{context} failed")]
    Request {
        /// What the request was.
        context: RequestContext,
        /// The connection layer's error.
        #[source]
        source: Arc<NetError>,
    },
    /// A record is larger than a request may carry, or than the producer's buffer holds.
    #[error("the record is {size} bytes, more than the {max} bytes allowed ({limit})")]
    RecordTooLarge {
        /// The record's encoded size.
        size: usize,
        /// The limit.
        max: usize,
        /// Which limit (`max.request.size`, `buffer.memory`).
        limit: &'static str,
    },
    /// `try_send` found the producer's buffer full.
    #[error("the producer's buffer is full ({used} of {limit} bytes in use)")]
    BufferFull {
        /// Bytes in use.
        used: usize,
        /// The buffer's size.
        limit: usize,
    },
    /// A record could not be delivered: `source` says why, [`Error::persistence`] whether it
    /// is in the log anyway.
    #[error("record to {topic}-{partition} not delivered ({persistence})")]
    Delivery {
        /// The topic.
        topic: String,
        /// The partition (-1 when it was never chosen).
        partition: i32,
        /// Whether the record is in the log.
        persistence: Persistence,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// The delivery timeout passed before the record was acknowledged.
    #[error("not acknowledged within the delivery timeout of {timeout_ms} ms")]
    DeliveryTimeout {
        /// The timeout.
        timeout_ms: u64,
    },
    /// The broker answered with an error code for a partition; the record was not written.
    #[error("the broker refused the batch: {code}")]
    Broker {
        /// The code.
        code: ErrorCode,
        /// Where it applied.
        scope: ErrorScope,
        /// The broker's message.
        message: Option<String>,
    },
    /// The idempotent producer cannot go on: its producer id was fenced, or a sequence error
    /// could not be resolved by bumping the epoch. Every later send fails with it.
    #[error("the producer is no longer usable: {reason}")]
    Fatal {
        /// Why.
        reason: String,
    },
    /// The producer (or consumer) was closed.
    #[error("closed")]
    Closed,
    /// A consumer's position is outside the partition's log and the reset policy is `none`;
    /// the partition stops until sought. `offset < log_start_offset` means the records were
    /// deleted (retention), `offset > high_watermark` that they were never written.
    #[error("offset {offset} of {topic}-{partition} is out of range (log start {log_start_offset}, high watermark {high_watermark})")]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The position that is not in the log.
        offset: i64,
        /// The log start offset.
        log_start_offset: i64,
        /// The high watermark.
        high_watermark: i64,
    },
    /// A new leader's log ends before the consumer's position: records the consumer read were
    /// truncated away (an unclean leader election). The partition stops until sought.
    #[error("the log of {topic}-{partition} was truncated below the position {offset} (diverging at {divergent_offset:?})")]
    LogTruncation {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The consumer's position.
        offset: i64,
        /// Where the logs diverge (the first offset that may differ), when the leader knows.
        divergent_offset: Option<i64>,
    },
    /// Fetched records could not be decoded (a CRC mismatch, a malformed batch, a batch that
    /// decompresses larger than allowed); the partition stops at `offset` until sought.
    #[error("the records of {topic}-{partition} fetched at offset {offset} are corrupt")]
    CorruptRecords {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The fetch position: no record from here on was returned.
        offset: i64,
        /// What is wrong with them.
        #[source]
        source: kafkaex_protocol::DecodeError,
    },
}

impl Error {
    /// A request failure with its context.
    pub fn request(context: RequestContext, source: NetError) -> Self {
        Self::Request {
            context,
            source: Arc::new(source),
        }
    }

    /// A configuration error naming the setting.
    pub fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The Kafka error code behind this error, if any.
    pub fn kafka_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Request { source, .. } => source.kafka_code(),
            Self::Broker { code, .. } => Some(*code),
            Self::Delivery { source, .. } => source.kafka_code(),
            Self::OffsetOutOfRange { .. } => Some(ErrorCode::OffsetOutOfRange),
            _ => None,
        }
    }

    /// Whether trying the same thing again may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Request { source, .. } => source.is_retriable(),
            Self::Broker { code, .. } => code.is_retriable(),
            Self::BufferFull { .. } | Self::DeliveryTimeout { .. } => true,
            Self::Delivery { source, .. } => source.is_retriable(),
            Self::Config { .. }
            | Self::InvalidArgument(_)
            | Self::RecordTooLarge { .. }
            | Self::Fatal { .. }
            | Self::Closed
            | Self::OffsetOutOfRange { .. }
            | Self::LogTruncation { .. }
            | Self::CorruptRecords { .. } => false,
        }
    }

    /// For a delivery failure, whether the record is in the log.
    pub fn persistence(&self) -> Option<Persistence> {
        match self {
            Self::Delivery { persistence, .. } => Some(*persistence),
            _ => None,
        }
    }

    /// The context of a failed request, when the error is one.
    pub fn context(&self) -> Option<&RequestContext> {
        match self {
            Self::Request { context, .. } => Some(context),
            Self::Delivery { source, .. } => source.context(),
            _ => None,
        }
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
