//! # kafkaex-client
//!
//! The async Kafka client of kafkaex-rs, on `kafkaex-net`:
//!
//! - [`Client`]: one cluster's connections, metadata and version negotiation, built with a
//!   typed builder or from Java-style properties ([`config::Config`]); cheap to clone and share;
//!   the escape hatch [`Client::send`] sends any generated request;
//! - [`producer`]: the producer: two-stage sends with back-pressure, per-partition batches,
//!   one Produce request per broker, idempotence on by default;
//! - [`Admin`] ([`admin`], [`offsets`]): topics, partitions, configs, the cluster, consumer
//!   groups, committed offsets, listed offsets and record deletion, with one result per item;
//! - [`Error`]: the one error type, with request context, the Kafka code and whether a failed
//!   record is in the log.
//!
//! It mirrors KafkaEx's `KafkaEx.New.Client` and `KafkaEx.New.KafkaExAPI`, and goes on to what
//! users of the Java client expect.

pub mod admin;
pub mod client;
pub mod config;
pub mod consumer;
pub mod error;
pub mod group;
pub mod offsets;
pub mod once;
pub mod producer;

pub use admin::Admin;
pub use client::{Client, ClientBuilder};
pub use config::{Acks, ClientConfig, Config, ProducerConfig};
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, PartitionRecords, StartOffset};
pub use error::{Error, Persistence, RequestContext, Result};
pub use offsets::{CommitOffset, CommittedOffset, ListedOffset, OffsetSpec, TopicPartition};
pub use producer::{DeliveryFuture, Producer, ProducerRecord, RecordMetadata};
