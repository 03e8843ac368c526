//! # kafkaex-net
//!
//! The connection layer of kafkaex-rs, on tokio:
//!
//! - [`Cluster`] ([`cluster`]): bootstrap, a connection pool by node id, the [`metadata`]
//!   cache, routes to a node, any broker, a partition leader, a group or transaction
//!   coordinator or the controller, and [`Cluster::request`], the call every layer above
//!   makes: a [`RoutedRequest`] says where it goes, where its response's errors are and
//!   whether it may be repeated, and the cluster derives route, version, retries and
//!   invalidation from that;
//! - [`BrokerConnection`] ([`broker`]): TCP or TLS ([`tls`]), ApiVersions negotiation
//!   ([`versions`]), SASL PLAIN / SCRAM ([`sasl`]), and typed requests on one broker;
//! - [`raw`]: the frame level under it (4-byte framing, correlation ids, pipelining,
//!   cancellation-safe requests, per-request timeouts), generic over `AsyncRead + AsyncWrite`.
//!
//! Errors are one [`NetError`] enum; Kafka error codes inside responses are
//! [`kafkaex_protocol::ErrorCode`] with their retriable flags, and a [`NetError::Kafka`] says
//! what part of the request the code was about ([`ErrorScope`]) and whether the broker sent it
//! ([`ErrorOrigin`]).
//!
//! ```no_run
//! use kafkaex_net::{Cluster, NetConfig};
//! use kafkaex_protocol::messages::create_topics_request::CreatableTopic;
//! use kafkaex_protocol::messages::{CreateTopicsRequest, MetadataRequest};
//! use kafkaex_protocol::ErrorCode;
//!
//! # async fn example() -> Result<(), kafkaex_net::NetError> {
//! // Bootstrap past an address that does not answer; the next one does.
//! let cluster = Cluster::connect(&["127.0.0.1:1", "127.0.0.1:19092"], NetConfig::default()).await?;
//! let metadata = cluster.request(&MetadataRequest::default()).await?;
//! println!("Metadata v{}: {} brokers", metadata.version, metadata.body.brokers.len());
//!
//! // Routed to the controller; a one-topic CreateTopics settles on that topic's error code.
//! let create = CreateTopicsRequest::default()
//!     .with_topics(vec![CreatableTopic::default()
//!         .with_name("events".into())
//!         .with_num_partitions(3)
//!         .with_replication_factor(1)])
//!     .with_timeout_ms(30_000);
//! match cluster.request(&create).await {
//!     Ok(_) => println!("created"),
//!     Err(e) if e.kafka_code() == Some(ErrorCode::TopicAlreadyExists) => println!("exists"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```

pub mod broker;
pub mod cluster;
pub mod config;
pub mod error;
pub mod metadata;
pub mod raw;
pub mod request;
pub mod retry;
pub mod sasl;
pub mod tls;
pub mod versions;

pub(crate) use raw::{connection, frame};

/// The Rust examples in ARCHITECTURE.md, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../ARCHITECTURE.md")]
struct ArchitectureDoc;

pub use broker::{BrokerConnection, QueuedRequest};
pub use cluster::{Cluster, CoordinatorType, Route, TopicRef};
pub use config::NetConfig;
pub use error::{ErrorOrigin, ErrorScope, NetError};
pub use metadata::ClusterMetadata;
pub use request::{BrokerRef, Response, ResponseError, RoutedRequest};
pub use retry::RetryPolicy;
pub use versions::{ApiVersionRanges, VersionChoice};
