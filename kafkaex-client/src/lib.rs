//! # kafkaex-client
//!
//! The new async API of kafkaex-rs (not yet built): producer, consumer, consumer groups, offset
//! management and admin, on top of `kafkaex-net`.
