//! Consumer groups (the classic group protocol), as a member that can share a group with Java
//! consumers:
//!
//! - [`protocol`]: the `consumer` protocol type's blobs, `ConsumerProtocolSubscription` (sent in
//!   JoinGroup) and `ConsumerProtocolAssignment` (sent in SyncGroup), each an int16 version and a
//!   body, written at v3 and read at any version;
//! - [`assignor`]: the [`assignor::Assignor`] trait for custom assignors and Java's `range`,
//!   `roundrobin`, `sticky` and `cooperative-sticky` with Java's algorithms and user data, the
//!   rebalance protocol a list of assignors runs, and the broker's choice of assignor.
//!
//! - [`consumer`]: the [`GroupConsumer`]: membership (join, sync, heartbeat, leave), the
//!   leader's assignment, rebalance events in the record stream, committed offsets.

pub mod assignor;
pub mod consumer;
pub mod protocol;

pub use consumer::{
    GroupConfig, GroupConsumer, GroupConsumerBuilder, GroupEvent, Membership, Revoking,
};
