//! Records: record batches (magic 2), legacy message sets (magic 0 and 1) and their compression.
//!
//! The `records` field of produce and fetch messages is raw bytes; this module gives them
//! structure. [`decode_records`] reads a whole field, which may mix formats (a broker
//! down-converting or holding old segments) and may end in a partial batch (brokers cut the last
//! batch at `max_bytes`); the partial batch is skipped and reported, not an error.
//!
//! Decoding is zero-copy: keys, values and header values (and header keys, see [`HeaderKey`]) are
//! [`Bytes`] slices of the input, or of the decompressed buffer for compressed batches.
//! [`RecordBatchView`] goes further and allocates nothing per record: it checks the batch, then
//! lends out [`RecordRef`]s borrowing from it.
//!
//! Encoding writes into one pre-sized buffer and back-patches lengths and CRCs; use
//! [`RecordBatchBuilder`] to encode without building [`Record`]s at all.

pub mod batch;
pub mod compression;
pub mod message_set;
mod wire;

use bytes::Bytes;

pub use batch::{
    set_batch_producer, ControlRecordType, HeaderKey, HeaderRefs, Record, RecordBatch,
    RecordBatchBuilder, RecordBatchView, RecordHeader, RecordHeaders, RecordHeadersIntoIter,
    RecordRef, RecordRefs,
};
pub use compression::Compression;
pub use message_set::{Message as LegacyMessage, MessageSet};

use crate::error::DecodeError;

/// Where a byte sits in every batch and message: the magic that tells the formats apart.
pub const MAGIC_OFFSET: usize = 16;

/// What a record timestamp means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Set by the producer.
    #[default]
    CreateTime,
    /// Set by the broker when it appended the records.
    LogAppendTime,
}

/// Options for decoding records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Check CRCs (CRC32C for batches, CRC32 for legacy messages). On by default.
    pub verify_crc: bool,
    /// Largest decompressed size accepted for one compressed batch or wrapper message; larger
    /// is [`CompressionError::TooLarge`](crate::CompressionError::TooLarge). 64 MiB by default.
    pub max_decompressed_bytes: usize,
    /// Largest memory the owned records of one decoding call may take ([`RecordBatch::decode`],
    /// [`decode_records`], [`RecordBatchView::into_batch`]): a [`Record`] per record
    /// (`size_of::<Record>()`, whatever its size on the wire) plus the header vectors of records
    /// with two headers or more. Their keys, values and headers share the batch's buffer, which
    /// `max_decompressed_bytes` bounds, so owned decoding holds at most the sum of the two.
    /// Larger is [`DecodeError::RecordMemoryLimit`], refused before decompressing when the
    /// record count alone is too many. 64 MiB by default: about 400 000 records per call, far
    /// above what a producer's batch (1 MiB by default) holds. [`RecordBatchView`] reads
    /// records without materializing them and is not limited by this.
    pub max_record_memory: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            verify_crc: true,
            max_decompressed_bytes: 64 * 1024 * 1024,
            max_record_memory: 64 * 1024 * 1024,
        }
    }
}

/// One entry of a [`RecordSet`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordSetEntry {
    /// A record batch (magic 2).
    Batch(RecordBatch),
    /// A legacy message (magic 0 or 1); compressed wrappers are expanded into their inner
    /// messages, one entry each.
    Legacy(LegacyMessage),
}

/// A decoded `records` field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordSet {
    /// Batches and legacy messages in the order they appeared.
    pub entries: Vec<RecordSetEntry>,
    /// Whether a partial trailing batch or message was skipped. If it is the only thing in the
    /// field, `entries` is empty: the fetch's `max_bytes` was smaller than that batch.
    pub truncated: bool,
}

impl RecordSet {
    /// The record batches, skipping legacy messages.
    pub fn batches(&self) -> impl Iterator<Item = &RecordBatch> {
        self.entries.iter().filter_map(|e| match e {
            RecordSetEntry::Batch(b) => Some(b),
            RecordSetEntry::Legacy(_) => None,
        })
    }

    /// The legacy messages, skipping record batches.
    pub fn legacy_messages(&self) -> impl Iterator<Item = &LegacyMessage> {
        self.entries.iter().filter_map(|e| match e {
            RecordSetEntry::Batch(_) => None,
            RecordSetEntry::Legacy(m) => Some(m),
        })
    }
}

/// Decodes a whole `records` field: a concatenation of record batches and/or legacy messages,
/// told apart by the magic byte at offset 16 of each.
///
/// A partial last batch or message is skipped and sets [`RecordSet::truncated`]. Everything
/// else malformed (a CRC mismatch, a bad length, a decompression bomb) is an error.
pub fn decode_records(mut buf: Bytes, opts: &DecodeOptions) -> Result<RecordSet, DecodeError> {
    let mut set = RecordSet::default();
    let mut legacy = Vec::new();
    // One budget for every batch of the set: a fetch response of many small batches is bounded
    // as one batch is.
    let mut budget = batch::RecordBudget::new(opts);
    while !buf.is_empty() {
        // offset + length + leader epoch/CRC + magic
        if buf.len() <= MAGIC_OFFSET {
            set.truncated = true;
            break;
        }
        match buf[MAGIC_OFFSET] as i8 {
            2 => {
                let len = i32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                if len >= 0 && batch::LOG_OVERHEAD + len as usize > buf.len() {
                    set.truncated = true;
                    break;
                }
                let b = batch::decode_batch(batch::split_batch(&mut buf)?, opts, &mut budget)?;
                set.entries.push(RecordSetEntry::Batch(b));
            }
            0 | 1 => match message_set::split_entry(&mut buf)? {
                Some(entry) => {
                    message_set::decode_entry(entry, opts, &mut legacy, true)?;
                    set.entries
                        .extend(legacy.drain(..).map(RecordSetEntry::Legacy));
                }
                None => {
                    set.truncated = true;
                    break;
                }
            },
            m => return Err(DecodeError::UnknownMagic(m)),
        }
    }
    Ok(set)
}
