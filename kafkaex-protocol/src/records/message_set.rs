//! Legacy message sets: magic 0 (Kafka 0.8-0.9) and magic 1 (0.10, adds timestamps).
//!
//! A message set is a concatenation of `offset int64, message_size int32, message`, where a
//! message is `crc uint32 (CRC32 IEEE over the rest), magic int8, attributes int8, [timestamp
//! int64 if magic 1], key bytes, value bytes`. A compressed message is a *wrapper* whose value is a
//! compressed message set of the inner messages.
//!
//! Inner offsets differ by magic: magic 0 inner messages carry absolute offsets; magic 1 inner
//! messages carry relative offsets 0..n-1 and the wrapper carries the absolute offset of the
//! *last* inner message (KIP-31), so absolute = wrapper offset - last inner + inner.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::compression::{self, Compression};
use super::{DecodeOptions, TimestampType};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{get_i32, get_i64, get_i8, get_nullable_bytes, get_u32};

/// offset + message size.
const LOG_OVERHEAD: usize = 12;
/// crc + magic + attributes + key length + value length.
const V0_MIN_LEN: usize = 14;
const TIMESTAMP_TYPE_BIT: i8 = 0x08;

/// One legacy message (magic 0 or 1).
///
/// After decoding, compressed wrappers are already expanded: the message set holds the inner
/// messages with absolute offsets and `compression` of the wrapper they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Absolute offset.
    pub offset: i64,
    /// 0 or 1.
    pub magic: i8,
    /// Codec: for a decoded inner message, the codec of its wrapper.
    pub compression: Compression,
    /// Timestamp type (magic 1; always `CreateTime` for magic 0).
    pub timestamp_type: TimestampType,
    /// Timestamp in milliseconds (magic 1); -1 for magic 0.
    pub timestamp: i64,
    /// The key; `None` is null.
    pub key: Option<Bytes>,
    /// The value; `None` is null.
    pub value: Option<Bytes>,
}

impl Default for Message {
    fn default() -> Self {
        Message {
            offset: 0,
            magic: 1,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            timestamp: -1,
            key: None,
            value: None,
        }
    }
}

/// A decoded legacy message set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageSet {
    /// The messages, compressed wrappers expanded, in order.
    pub messages: Vec<Message>,
    /// Whether a partial trailing message was skipped (brokers cut message sets at `max_bytes`).
    pub truncated: bool,
}

fn message_len(magic: i8, key: Option<&[u8]>, value: Option<&[u8]>) -> usize {
    V0_MIN_LEN
        + if magic >= 1 { 8 } else { 0 }
        + key.map_or(0, <[u8]>::len)
        + value.map_or(0, <[u8]>::len)
}

fn put_nullable(buf: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        Some(b) => {
            buf.put_i32(b.len() as i32);
            buf.extend_from_slice(b);
        }
        None => buf.put_i32(-1),
    }
}

/// Writes one message (with its offset and size prefix).
#[allow(clippy::too_many_arguments)]
fn put_message(
    buf: &mut BytesMut,
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), EncodeError> {
    let len = message_len(magic, key, value);
    if len > i32::MAX as usize {
        return Err(EncodeError::TooLong {
            what: "message",
            len,
        });
    }
    buf.reserve(LOG_OVERHEAD + len);
    buf.put_i64(offset);
    buf.put_i32(len as i32);
    let crc_at = buf.len();
    buf.put_u32(0);
    buf.put_i8(magic);
    buf.put_i8(attributes);
    if magic >= 1 {
        buf.put_i64(timestamp);
    }
    put_nullable(buf, key);
    put_nullable(buf, value);
    let crc = crc32fast::hash(&buf[crc_at + 4..]);
    buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

impl MessageSet {
    /// Encodes `messages` as a message set of the given `magic` (0 or 1), appending to `buf`.
    ///
    /// Uncompressed, each message is written with its own offset, timestamp and timestamp type.
    /// Compressed, the messages become the inner messages of one wrapper: for magic 1 with
    /// relative offsets 0..n-1 and the wrapper at the last message's offset and the largest
    /// timestamp; for magic 0 with their absolute offsets.
    pub fn encode(
        messages: &[Message],
        magic: i8,
        compression: Compression,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        if !(0..=1).contains(&magic) {
            return Err(EncodeError::InvalidRecords(
                "legacy message sets have magic 0 or 1",
            ));
        }
        if compression == Compression::Zstd {
            return Err(EncodeError::InvalidRecords(
                "zstd needs record batches (magic 2)",
            ));
        }
        let ts_bit = |m: &Message| {
            if magic >= 1 && m.timestamp_type == TimestampType::LogAppendTime {
                TIMESTAMP_TYPE_BIT
            } else {
                0
            }
        };
        if compression == Compression::None {
            for m in messages {
                put_message(
                    buf,
                    m.offset,
                    magic,
                    ts_bit(m),
                    m.timestamp,
                    m.key.as_deref(),
                    m.value.as_deref(),
                )?;
            }
            return Ok(());
        }
        let Some(last) = messages.last() else {
            return Err(EncodeError::InvalidRecords(
                "a compressed message set needs at least one message",
            ));
        };
        let mut inner = BytesMut::new();
        for (i, m) in messages.iter().enumerate() {
            let offset = if magic >= 1 { i as i64 } else { m.offset };
            put_message(
                &mut inner,
                offset,
                magic,
                ts_bit(m),
                m.timestamp,
                m.key.as_deref(),
                m.value.as_deref(),
            )?;
        }
        let compressed = compression::compress(compression, magic, &inner)?;
        let timestamp = messages.iter().map(|m| m.timestamp).max().unwrap_or(-1);
        let attributes = compression.id() as i8 | ts_bit(last);
        put_message(
            buf,
            last.offset,
            magic,
            attributes,
            timestamp,
            None,
            Some(&compressed),
        )
    }

    /// Decodes a whole message set, expanding compressed wrappers. A partial trailing message
    /// is skipped and flagged in [`MessageSet::truncated`].
    pub fn decode(mut buf: Bytes, opts: &DecodeOptions) -> Result<MessageSet, DecodeError> {
        let mut set = MessageSet::default();
        while !buf.is_empty() {
            match split_entry(&mut buf)? {
                Some(entry) => decode_entry(entry, opts, &mut set.messages, true)?,
                None => {
                    set.truncated = true;
                    break;
                }
            }
        }
        Ok(set)
    }
}

/// Splits one `offset, size, message` entry off `buf`; `None` if `buf` holds only part of it.
pub(crate) fn split_entry(buf: &mut Bytes) -> Result<Option<Bytes>, DecodeError> {
    if buf.len() < LOG_OVERHEAD {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if size < V0_MIN_LEN as i32 {
        return Err(DecodeError::InvalidLength {
            what: "message",
            len: i64::from(size),
            remaining: buf.len() - LOG_OVERHEAD,
        });
    }
    if buf.len() - LOG_OVERHEAD < size as usize {
        return Ok(None);
    }
    Ok(Some(buf.split_to(LOG_OVERHEAD + size as usize)))
}

/// Decodes one entry (exactly its bytes), pushing it, or its inner messages if it is a
/// compressed wrapper, onto `out`. `outer` is false inside a wrapper, where nesting is refused.
pub(crate) fn decode_entry(
    mut e: Bytes,
    opts: &DecodeOptions,
    out: &mut Vec<Message>,
    outer: bool,
) -> Result<(), DecodeError> {
    let offset = get_i64(&mut e)?;
    let _size = get_i32(&mut e)?;
    let stored = get_u32(&mut e)?;
    if opts.verify_crc {
        let computed = crc32fast::hash(&e);
        if computed != stored {
            return Err(DecodeError::CrcMismatch {
                what: "message",
                stored,
                computed,
            });
        }
    }
    let magic = get_i8(&mut e)?;
    if !(0..=1).contains(&magic) {
        return Err(DecodeError::UnknownMagic(magic));
    }
    let attributes = get_i8(&mut e)?;
    let timestamp = if magic >= 1 { get_i64(&mut e)? } else { -1 };
    let timestamp_type = if magic >= 1 && attributes & TIMESTAMP_TYPE_BIT != 0 {
        TimestampType::LogAppendTime
    } else {
        TimestampType::CreateTime
    };
    let key = get_nullable_bytes(&mut e, false)?;
    let value = get_nullable_bytes(&mut e, false)?;
    if e.has_remaining() {
        return Err(DecodeError::CorruptRecords(
            "bytes left after a message's value",
        ));
    }
    let compression = Compression::from_attributes(i16::from(attributes as u8))?;
    if compression == Compression::None {
        out.push(Message {
            offset,
            magic,
            compression,
            timestamp_type,
            timestamp,
            key,
            value,
        });
        return Ok(());
    }
    if !outer {
        return Err(DecodeError::CorruptRecords("nested compressed message"));
    }
    let value = value.ok_or(DecodeError::CorruptRecords(
        "compressed message with a null value",
    ))?;
    let mut inner = Bytes::from(compression::decompress(
        compression,
        &value,
        opts.max_decompressed_bytes,
    )?);
    let first = out.len();
    while !inner.is_empty() {
        let entry = split_entry(&mut inner)?.ok_or(DecodeError::CorruptRecords(
            "truncated message inside a compressed wrapper",
        ))?;
        decode_entry(entry, opts, out, false)?;
    }
    let inner_msgs = &mut out[first..];
    let Some(last_inner) = inner_msgs.last().map(|m| m.offset) else {
        return Ok(());
    };
    for m in inner_msgs.iter_mut() {
        if m.magic != magic {
            return Err(DecodeError::CorruptRecords(
                "inner message magic differs from its wrapper's",
            ));
        }
        if magic >= 1 {
            m.offset = offset.wrapping_sub(last_inner).wrapping_add(m.offset);
            if timestamp_type == TimestampType::LogAppendTime {
                // The broker stamped only the wrapper; its time applies to every inner message.
                m.timestamp = timestamp;
                m.timestamp_type = TimestampType::LogAppendTime;
            }
        }
        m.compression = compression;
    }
    Ok(())
}
