//! What a producer sends and what it gets back.

use std::sync::Arc;

use bytes::Bytes;
use kafkaex_protocol::records::RecordHeader;

/// A record to produce: a topic, an optional key and value, ordered headers, a timestamp and
/// optionally the partition.
///
/// ```
/// use kafkaex_client::producer::ProducerRecord;
///
/// let record = ProducerRecord::new("payments")
///     .key("order-17")
///     .value(&b"{\"amount\": 12}"[..])
///     .header("trace-id", "4bf92f35")
///     .timestamp(1_700_000_000_000);
/// assert_eq!(record.topic(), "payments");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRecord {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: Option<i32>,
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<RecordHeader>,
    pub(crate) timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic`, with no key, no value and no headers, timestamped when sent. Pass
    /// an `Arc<str>` to share one topic name among many records without copying it.
    pub fn new(topic: impl Into<Arc<str>>) -> Self {
        Self {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// The key (records with a key go to `murmur2(key) % partitions`, as Java's producer puts
    /// them).
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The value (none: a tombstone).
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Appends a header; order is kept, and a key may repeat.
    pub fn header(mut self, key: &str, value: impl Into<Bytes>) -> Self {
        self.headers
            .push(RecordHeader::new(key, Some(value.into())));
        self
    }

    /// Appends a header with no value.
    pub fn header_without_value(mut self, key: &str) -> Self {
        self.headers.push(RecordHeader::new(key, None));
        self
    }

    /// The CreateTime timestamp in ms since the epoch (the time of `send` when not set).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// The partition, overriding the partitioner.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The key.
    pub fn key_bytes(&self) -> Option<&Bytes> {
        self.key.as_ref()
    }

    /// The value.
    pub fn value_bytes(&self) -> Option<&Bytes> {
        self.value.as_ref()
    }

    /// The headers, in order.
    pub fn headers(&self) -> &[RecordHeader] {
        &self.headers
    }

    /// An upper bound of the record's encoded size in a batch (what the producer's buffer
    /// accounts for it).
    pub(crate) fn estimated_size(&self) -> usize {
        // length, attributes, timestamp and offset deltas, key and value lengths, header
        // count: at most 5 + 1 + 10 + 5 + 5 + 5 + 5 bytes; each header's two lengths 10 more.
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.as_ref().map_or(0, Bytes::len) + 10)
            .sum();
        36 + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + headers
    }
}

/// Where a delivered record was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 when the broker reported the batch as a duplicate of one it
    /// already has (`DUPLICATE_SEQUENCE_NUMBER` from brokers before Kafka 1.1), whose offset it
    /// does not say.
    pub offset: i64,
    /// The record's timestamp: its CreateTime, or the broker's time for a topic with
    /// `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
    /// Whether `timestamp` is the broker's LogAppendTime.
    pub log_append_time: bool,
}
