//! # kafkaex-net
//!
//! The connection layer of kafkaex-rs, on tokio:
//!
//! - [`connection`]: one multiplexed connection (4-byte framing, correlation ids, pipelining,
//!   cancellation-safe requests, per-request timeouts, a response size limit checked before
//!   allocating), generic over `AsyncRead + AsyncWrite`;
//! - [`broker`]: a [`BrokerConnection`] = TCP or TLS ([`tls`]), ApiVersions negotiation
//!   ([`versions`]), SASL PLAIN / SCRAM ([`sasl`]), and typed requests;
//! - [`router`]: a [`Cluster`]: bootstrap, a connection pool by node id, the [`metadata`] cache,
//!   routes to a node, any broker, a partition leader, a group or transaction coordinator or the
//!   controller, and retries with backoff ([`retry`]);
//! - [`provider`]: where tests find real brokers (environment variables set by
//!   `cargo xtask kafka up`, or testcontainers behind the `testcontainers` feature).
//!
//! Errors are one [`NetError`] enum; Kafka error codes inside responses are
//! [`kafkaex_protocol::ErrorCode`] with their retriable flags.
//!
//! ```no_run
//! use kafkaex_net::{Cluster, NetConfig, Route, VersionChoice};
//! use kafkaex_protocol::messages::MetadataRequest;
//!
//! # async fn example() -> Result<(), kafkaex_net::NetError> {
//! // Bootstrap past an address that does not answer; the next one does.
//! let cluster = Cluster::connect(&["127.0.0.1:1", "127.0.0.1:19092"], NetConfig::default()).await?;
//! let (version, metadata) = cluster
//!     .send(Route::Any, &MetadataRequest::default(), VersionChoice::Newest)
//!     .await?;
//! println!("Metadata v{version}: {} brokers", metadata.brokers.len());
//! # Ok(())
//! # }
//! ```

pub mod broker;
pub mod config;
pub mod connection;
pub mod error;
pub mod frame;
pub mod metadata;
pub mod provider;
pub mod retry;
pub mod router;
pub mod sasl;
pub mod tls;
pub mod versions;

pub use broker::BrokerConnection;
pub use config::NetConfig;
pub use connection::{Connection, ConnectionConfig, RawRequest};
pub use error::NetError;
pub use metadata::ClusterMetadata;
pub use retry::RetryPolicy;
pub use router::{Cluster, CoordinatorType, Route};
pub use versions::{ApiVersionRanges, VersionChoice};
