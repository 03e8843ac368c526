//! # kafkaex-legacy
//!
//! The KafkaEx-style facade (being built): legacy request/response structs such as
//! `OffsetCommit::Request` with an `api_version` field, converted to `kafkaex-client` calls in one
//! module, with no second protocol path.

pub mod error_names;
pub mod migrate;
pub mod partitioner;
