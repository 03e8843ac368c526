//! The frame level, under [`BrokerConnection`](crate::BrokerConnection): 4-byte size framing
//! ([`frame`]) and one multiplexed connection over any byte stream ([`connection`]), which
//! puts request headers in front of already encoded bodies and hands back response bodies.
//!
//! Nothing here knows API versions, SASL or routing; most code wants
//! [`Cluster`](crate::Cluster) or [`BrokerConnection`](crate::BrokerConnection). This module is
//! public for tools and tests that speak to a broker frame by frame (an ApiVersions probe, a
//! scripted peer over [`tokio::io::duplex`]).

pub mod connection;
pub mod frame;

pub use connection::{Connection, ConnectionConfig, RawRequest};
