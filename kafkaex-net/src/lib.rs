//! # kafkaex-net
//!
//! The connection layer of kafkaex-rs (work in progress): tokio connections with 4-byte framing
//! and pipelined requests, ApiVersions negotiation, cluster metadata, routing to partition
//! leaders, group/transaction coordinators and the controller, TLS and SASL.

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
