//! Record batches (magic 2), the record format since Kafka 0.11.
//!
//! Layout (big-endian; offsets in bytes):
//!
//! ```text
//!  0 baseOffset int64        27 baseTimestamp int64
//!  8 batchLength int32       35 maxTimestamp int64
//! 12 partitionLeaderEpoch    43 producerId int64
//! 16 magic int8 (= 2)        51 producerEpoch int16
//! 17 crc uint32 (CRC32C)     53 baseSequence int32
//! 21 attributes int16        57 records count int32
//! 23 lastOffsetDelta int32   61 records (compressed as a whole if the codec is not none)
//! ```
//!
//! The CRC covers attributes through the end of the batch; `batchLength` counts from the
//! partition leader epoch to the end.

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::{self, Compression};
use super::wire::{read_nullable, read_varint, read_varlong, varint_len, varlong_len};
use super::wire::{Cursor, SliceWriter};
use super::{DecodeOptions, TimestampType};
use crate::error::{DecodeError, EncodeError};
use crate::primitives::{get_i16, get_i32, get_i64, get_i8, get_u32};

/// Size of the batch header, up to and including the records count.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes before `batchLength`'s count starts (base offset + the length itself).
pub const LOG_OVERHEAD: usize = 12;
const LENGTH_OFFSET: usize = 8;
const MAGIC_OFFSET: usize = 16;
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
/// A record's smallest encoding: length, attributes, timestamp delta, offset delta, key length,
/// value length and header count, one byte each.
const MIN_RECORD_LEN: usize = 7;

/// Attribute bit: timestamps are the broker's log-append time.
const TIMESTAMP_TYPE_BIT: i16 = 0x08;
/// Attribute bit: the batch belongs to a transaction.
const TRANSACTIONAL_BIT: i16 = 0x10;
/// Attribute bit: the batch holds control records (transaction markers).
const CONTROL_BIT: i16 = 0x20;
/// Attribute bit: the base timestamp is the delete horizon (compacted tombstones).
const DELETE_HORIZON_BIT: i16 = 0x40;

/// The UTF-8 key of a record header, stored as [`Bytes`] so decoding does not allocate.
///
/// Decoding validates UTF-8 once and keeps a zero-copy slice of the input; [`HeaderKey::as_str`]
/// (and `Deref<Target = str>`) re-checks the bytes, which for header keys (a few bytes) costs less
/// than the `String` allocation it replaces, and keeps the crate free of `unsafe`.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeaderKey(Bytes);

impl HeaderKey {
    /// A key from UTF-8 bytes; fails if they are not UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<HeaderKey, DecodeError> {
        std::str::from_utf8(&bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        Ok(HeaderKey(bytes))
    }

    /// A key from a static string, without copying.
    pub const fn from_static(s: &'static str) -> HeaderKey {
        HeaderKey(Bytes::from_static(s.as_bytes()))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        // Only constructed from valid UTF-8 (checked in `from_utf8`, or from a `str`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl std::ops::Deref for HeaderKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for HeaderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for HeaderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for HeaderKey {
    fn from(s: String) -> HeaderKey {
        HeaderKey(Bytes::from(s))
    }
}

impl From<&str> for HeaderKey {
    fn from(s: &str) -> HeaderKey {
        HeaderKey(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl PartialEq<str> for HeaderKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for HeaderKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// A record header: a UTF-8 key and an optional value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordHeader {
    /// The header key.
    pub key: HeaderKey,
    /// The header value; `None` is a null value.
    pub value: Option<Bytes>,
}

impl RecordHeader {
    /// A header from a key and value.
    pub fn new(key: impl Into<HeaderKey>, value: Option<Bytes>) -> RecordHeader {
        RecordHeader {
            key: key.into(),
            value,
        }
    }
}

/// The headers of a [`Record`], in order: a slice of [`RecordHeader`]s (it dereferences to
/// `[RecordHeader]`) that holds up to one header inline.
///
/// Most records carry no header or one, so decoding a batch allocates nothing per record for
/// them; from the second header on they are kept in a `Vec`. Build one with
/// [`RecordHeaders::push`], or from a `Vec` or array of headers with `into()`, or `collect()` one.
///
/// ```
/// use bytes::Bytes;
/// use kafkaex_protocol::records::{RecordHeader, RecordHeaders};
/// let mut headers = RecordHeaders::new();
/// headers.push(RecordHeader::new("trace", Some(Bytes::from_static(b"abc"))));
/// assert_eq!(headers.len(), 1);
/// assert_eq!(headers[0].key, "trace");
/// let more: RecordHeaders = vec![headers[0].clone(), RecordHeader::new("b", None)].into();
/// assert_eq!(more.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(), ["trace", "b"]);
/// ```
#[derive(Clone, Default)]
pub struct RecordHeaders(HeadersRepr);

/// One header inline, or any number in a `Vec` (an empty `Vec` does not allocate). Two variants
/// rather than three keep it the size of a header: the `Vec` variant fits in the header's niche.
#[derive(Clone)]
enum HeadersRepr {
    One(RecordHeader),
    Many(Vec<RecordHeader>),
}

impl Default for HeadersRepr {
    fn default() -> HeadersRepr {
        HeadersRepr::Many(Vec::new())
    }
}

impl RecordHeaders {
    /// No headers.
    pub const fn new() -> RecordHeaders {
        RecordHeaders(HeadersRepr::Many(Vec::new()))
    }

    /// Appends a header.
    pub fn push(&mut self, header: RecordHeader) {
        match &mut self.0 {
            HeadersRepr::Many(v) if v.is_empty() => {
                self.0 = HeadersRepr::One(header);
            }
            HeadersRepr::Many(v) => v.push(header),
            HeadersRepr::One(_) => {
                if let HeadersRepr::One(first) = std::mem::take(&mut self.0) {
                    self.0 = HeadersRepr::Many(vec![first, header]);
                }
            }
        }
    }

    /// The headers as a slice.
    pub fn as_slice(&self) -> &[RecordHeader] {
        match &self.0 {
            HeadersRepr::One(h) => std::slice::from_ref(h),
            HeadersRepr::Many(v) => v,
        }
    }

    /// The headers as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [RecordHeader] {
        match &mut self.0 {
            HeadersRepr::One(h) => std::slice::from_mut(h),
            HeadersRepr::Many(v) => v,
        }
    }

    /// The headers as a `Vec`.
    pub fn into_vec(self) -> Vec<RecordHeader> {
        match self.0 {
            HeadersRepr::One(h) => vec![h],
            HeadersRepr::Many(v) => v,
        }
    }
}

impl std::ops::Deref for RecordHeaders {
    type Target = [RecordHeader];
    fn deref(&self) -> &[RecordHeader] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for RecordHeaders {
    fn deref_mut(&mut self) -> &mut [RecordHeader] {
        self.as_mut_slice()
    }
}

impl AsRef<[RecordHeader]> for RecordHeaders {
    fn as_ref(&self) -> &[RecordHeader] {
        self.as_slice()
    }
}

impl std::fmt::Debug for RecordHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl PartialEq for RecordHeaders {
    fn eq(&self, other: &RecordHeaders) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for RecordHeaders {}

impl PartialEq<[RecordHeader]> for RecordHeaders {
    fn eq(&self, other: &[RecordHeader]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<RecordHeader>> for RecordHeaders {
    fn eq(&self, other: &Vec<RecordHeader>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl From<Vec<RecordHeader>> for RecordHeaders {
    fn from(mut v: Vec<RecordHeader>) -> RecordHeaders {
        RecordHeaders(match v.len() {
            1 => match v.pop() {
                Some(h) => HeadersRepr::One(h),
                None => HeadersRepr::Many(v),
            },
            _ => HeadersRepr::Many(v),
        })
    }
}

impl<const N: usize> From<[RecordHeader; N]> for RecordHeaders {
    fn from(a: [RecordHeader; N]) -> RecordHeaders {
        a.into_iter().collect()
    }
}

impl From<RecordHeaders> for Vec<RecordHeader> {
    fn from(h: RecordHeaders) -> Vec<RecordHeader> {
        h.into_vec()
    }
}

impl FromIterator<RecordHeader> for RecordHeaders {
    fn from_iter<I: IntoIterator<Item = RecordHeader>>(iter: I) -> RecordHeaders {
        let mut headers = RecordHeaders::new();
        headers.extend(iter);
        headers
    }
}

impl Extend<RecordHeader> for RecordHeaders {
    fn extend<I: IntoIterator<Item = RecordHeader>>(&mut self, iter: I) {
        for h in iter {
            self.push(h);
        }
    }
}

impl IntoIterator for RecordHeaders {
    type Item = RecordHeader;
    type IntoIter = RecordHeadersIntoIter;
    fn into_iter(self) -> RecordHeadersIntoIter {
        RecordHeadersIntoIter(match self.0 {
            HeadersRepr::One(h) => IntoIterRepr::One(Some(h)),
            HeadersRepr::Many(v) => IntoIterRepr::Many(v.into_iter()),
        })
    }
}

impl<'a> IntoIterator for &'a RecordHeaders {
    type Item = &'a RecordHeader;
    type IntoIter = std::slice::Iter<'a, RecordHeader>;
    fn into_iter(self) -> std::slice::Iter<'a, RecordHeader> {
        self.as_slice().iter()
    }
}

impl<'a> IntoIterator for &'a mut RecordHeaders {
    type Item = &'a mut RecordHeader;
    type IntoIter = std::slice::IterMut<'a, RecordHeader>;
    fn into_iter(self) -> std::slice::IterMut<'a, RecordHeader> {
        self.as_mut_slice().iter_mut()
    }
}

/// The owning iterator of [`RecordHeaders`].
#[derive(Debug)]
pub struct RecordHeadersIntoIter(IntoIterRepr);

#[derive(Debug)]
enum IntoIterRepr {
    One(Option<RecordHeader>),
    Many(std::vec::IntoIter<RecordHeader>),
}

impl Iterator for RecordHeadersIntoIter {
    type Item = RecordHeader;

    fn next(&mut self) -> Option<RecordHeader> {
        match &mut self.0 {
            IntoIterRepr::One(h) => h.take(),
            IntoIterRepr::Many(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IntoIterRepr::One(h) => {
                let n = usize::from(h.is_some());
                (n, Some(n))
            }
            IntoIterRepr::Many(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for RecordHeadersIntoIter {}

/// One record of a [`RecordBatch`].
///
/// Offsets and timestamps are absolute; the deltas the wire format stores are computed from
/// (and against) the batch's `base_offset` and `base_timestamp`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Record attributes (unused by Kafka so far; kept for round trips).
    pub attributes: i8,
    /// Absolute offset (batch base offset + offset delta).
    pub offset: i64,
    /// Absolute timestamp in milliseconds (batch base timestamp + timestamp delta). For batches
    /// with [`TimestampType::LogAppendTime`], Kafka readers use the batch's `max_timestamp`.
    pub timestamp: i64,
    /// The key; `None` is a null key.
    pub key: Option<Bytes>,
    /// The value; `None` is a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers, in order (a slice, holding one header without allocating).
    pub headers: RecordHeaders,
}

/// The kind of a control record (the key of a record in a control batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// The transaction was aborted.
    Abort,
    /// The transaction was committed.
    Commit,
    /// A type this crate does not know.
    Unknown(i16),
}

/// A record batch (magic 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordBatch {
    /// Offset of the first record (in batches of a produce request, usually 0).
    pub base_offset: i64,
    /// The partition leader epoch the broker stamped; -1 from producers.
    pub partition_leader_epoch: i32,
    /// Codec of the records section (attribute bits 0-2).
    pub compression: Compression,
    /// Timestamp type (attribute bit 3).
    pub timestamp_type: TimestampType,
    /// Part of a transaction (attribute bit 4).
    pub is_transactional: bool,
    /// Holds control records, i.e. transaction markers (attribute bit 5).
    pub is_control: bool,
    /// `base_timestamp` is the delete horizon of a compacted batch (attribute bit 6).
    pub has_delete_horizon: bool,
    /// Offset delta of the last record; preserved even when compaction removed records.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon), from which deltas count.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (the log-append time for `LogAppendTime` batches).
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// The records.
    pub records: Vec<Record>,
}

impl Default for RecordBatch {
    fn default() -> Self {
        RecordBatch {
            base_offset: 0,
            partition_leader_epoch: -1,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
            is_transactional: false,
            is_control: false,
            has_delete_horizon: false,
            last_offset_delta: 0,
            base_timestamp: -1,
            max_timestamp: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records: Vec::new(),
        }
    }
}

#[inline(always)]
fn opt_len(v: Option<&[u8]>) -> usize {
    match v {
        Some(b) => varint_len(b.len() as i32) + b.len(),
        None => 1,
    }
}

fn check_len(what: &'static str, len: usize) -> Result<(), EncodeError> {
    if len > i32::MAX as usize {
        Err(EncodeError::TooLong { what, len })
    } else {
        Ok(())
    }
}

/// Size of a record's body (everything after its length varint; attributes is the leading 1).
#[inline(always)]
fn record_body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[RecordHeader],
) -> usize {
    let mut n =
        1 + varlong_len(timestamp_delta) + varint_len(offset_delta) + opt_len(key) + opt_len(value);
    n += varint_len(headers.len() as i32);
    for h in headers {
        // `as_bytes`, not `len()` through `Deref<str>`, which would re-check the UTF-8.
        n += opt_len(Some(h.key.as_bytes())) + opt_len(h.value.as_deref());
    }
    n
}

/// Size of a record's body (as [`record_body_len`]), checking every length fits an i32.
#[inline(always)]
fn checked_body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[RecordHeader],
) -> Result<usize, EncodeError> {
    if let Some(k) = key {
        check_len("record key", k.len())?;
    }
    if let Some(v) = value {
        check_len("record value", v.len())?;
    }
    let body = record_body_len(timestamp_delta, offset_delta, key, value, headers);
    check_len("record", body)?;
    Ok(body)
}

/// The most `grow` zero-fills beyond the current record on a guess, unless more has been
/// written already (then it at most doubles the output).
const GROW_AHEAD_MAX: usize = 1 << 20;

/// Zero-fills `buf` past `pos` for a record of `n` bytes and some ahead: if the number of
/// records still to come is known (`rest`), for that many records of that size; if not, the
/// buffer's spare capacity or as many bytes as were `written` so far, whichever is more.
/// Never more ahead than [`GROW_AHEAD_MAX`] or `written`, whichever is more.
#[cold]
fn grow(buf: &mut BytesMut, pos: usize, n: usize, rest: Option<usize>, written: usize) {
    let guess = match rest {
        Some(rest) => n.saturating_mul(rest),
        None => (buf.capacity().saturating_sub(pos + n)).max(written),
    };
    let ahead = guess.min(GROW_AHEAD_MAX.max(written));
    buf.resize(pos + n + ahead, 0);
}

impl Record {
    fn deltas(&self, base_offset: i64, base_timestamp: i64) -> Result<(i32, i64), EncodeError> {
        let od = self.offset.wrapping_sub(base_offset);
        let od = i32::try_from(od).map_err(|_| {
            EncodeError::InvalidRecords("record offset is more than i32::MAX from the base offset")
        })?;
        Ok((od, self.timestamp.wrapping_sub(base_timestamp)))
    }
}

/// Appends one record at `pos` of `buf`, whose bytes from `pos` on are scratch (zero-filled
/// by [`grow`], which this calls when the record does not fit), and returns where it ends.
/// `rest` (records still to come, if known) and `written` (bytes written so far) steer
/// `grow`'s guess.
///
/// The record's length prefix comes before the body, and its size depends on the body's. The
/// body lies between a lower bound (every varint one byte) and an upper bound (every varint at
/// its longest) that cost a few additions; when both bounds need the same prefix size, which is
/// all but always, the body is written behind a prefix of that size and its length filled in
/// afterwards, without computing every varint's size first. Otherwise the exact size is
/// computed.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn put_record(
    buf: &mut BytesMut,
    pos: usize,
    rest: Option<usize>,
    written: usize,
    attributes: i8,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[RecordHeader],
) -> Result<usize, EncodeError> {
    // Lengths of slices in memory: these sums cannot overflow. If the upper bound fits an i32,
    // so does every length; if not, `checked_body_len` says which does not.
    let mut payload = key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
    for h in headers {
        payload += h.key.as_bytes().len() + h.value.as_ref().map_or(0, Bytes::len);
    }
    // attributes, timestamp delta (10 bytes at most), offset delta, key and value lengths and
    // header count; two lengths per header.
    let low = payload + 6 + 2 * headers.len();
    let high = payload + 31 + 10 * headers.len();
    let fast = high <= i32::MAX as usize && length_size(low) == length_size(high);
    let (prefix, most) = if fast {
        (length_size(low), high)
    } else {
        let body = checked_body_len(timestamp_delta, offset_delta, key, value, headers)?;
        (length_size(body), body)
    };
    if buf.len() - pos < prefix + most {
        // Grow only if the exact size does not fit either (the end of a buffer sized exactly).
        let body = if fast {
            exact_body_len(timestamp_delta, offset_delta, key, value, headers)
        } else {
            most
        };
        if buf.len() - pos < prefix + body {
            grow(buf, pos, prefix + body, rest, written);
        }
    }
    let mut w = SliceWriter::new(&mut buf[pos + prefix..]);
    w.u8(attributes as u8);
    w.varlong(timestamp_delta);
    w.varint(offset_delta);
    w.nullable(key);
    w.nullable(value);
    w.len(headers.len());
    for h in headers {
        w.nullable(Some(h.key.as_bytes()));
        w.nullable(h.value.as_deref());
    }
    let body = w.position();
    debug_assert_eq!(length_size(body), prefix);
    SliceWriter::new(&mut buf[pos..pos + prefix]).len(body);
    Ok(pos + prefix + body)
}

/// [`record_body_len`], kept out of [`put_record`]'s fast path.
#[cold]
#[inline(never)]
fn exact_body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[RecordHeader],
) -> usize {
    record_body_len(timestamp_delta, offset_delta, key, value, headers)
}

/// Size of the varint that holds a record length of `len` (at most `i32::MAX`).
#[inline(always)]
fn length_size(len: usize) -> usize {
    varint_len(len as i32)
}

impl RecordBatch {
    /// A batch of `records` with producer fields unset, base offset and timestamp taken from the
    /// first record, and `last_offset_delta`/`max_timestamp` computed from the records.
    pub fn new(records: Vec<Record>) -> RecordBatch {
        let mut batch = RecordBatch {
            records,
            ..RecordBatch::default()
        };
        batch.recompute_bounds();
        batch
    }

    /// Sets `base_offset`, `base_timestamp`, `last_offset_delta` and `max_timestamp` from the
    /// records (no-op for an empty batch).
    pub fn recompute_bounds(&mut self) {
        if let Some(first) = self.records.first() {
            self.base_offset = first.offset;
            self.base_timestamp = first.timestamp;
            let last = self
                .records
                .iter()
                .map(|r| r.offset)
                .max()
                .unwrap_or(first.offset);
            self.last_offset_delta = last.wrapping_sub(first.offset) as i32;
            self.max_timestamp = self
                .records
                .iter()
                .map(|r| r.timestamp)
                .max()
                .unwrap_or(first.timestamp);
        }
    }

    /// The attributes field as written on the wire.
    pub fn attributes(&self) -> i16 {
        let mut a = i16::from(self.compression.id());
        if self.timestamp_type == TimestampType::LogAppendTime {
            a |= TIMESTAMP_TYPE_BIT;
        }
        if self.is_transactional {
            a |= TRANSACTIONAL_BIT;
        }
        if self.is_control {
            a |= CONTROL_BIT;
        }
        if self.has_delete_horizon {
            a |= DELETE_HORIZON_BIT;
        }
        a
    }

    /// Offset of the last record (`base_offset + last_offset_delta`); the next fetch offset is
    /// one more.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// For a control batch, the type of its marker (from the first control record's key).
    pub fn control_type(&self) -> Option<ControlRecordType> {
        if !self.is_control {
            return None;
        }
        let key = self.records.first()?.key.as_ref()?;
        if key.len() < 4 {
            return None;
        }
        Some(match i16::from_be_bytes([key[2], key[3]]) {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            t => ControlRecordType::Unknown(t),
        })
    }

    /// Exact encoded size of the batch when uncompressed.
    pub fn encoded_len_uncompressed(&self) -> Result<usize, EncodeError> {
        let mut n = BATCH_HEADER_LEN;
        for r in &self.records {
            let (od, td) = r.deltas(self.base_offset, self.base_timestamp)?;
            let body = checked_body_len(td, od, r.key.as_deref(), r.value.as_deref(), &r.headers)?;
            n += varint_len(body as i32) + body;
        }
        Ok(n)
    }

    /// Encodes the batch, appending it to `buf`.
    ///
    /// Uncompressed batches are written in one pass straight into `buf`: each record's size is
    /// computed as it is written, and the batch length and CRC are back-patched. Compressed
    /// batches encode the records into a scratch buffer and compress that straight into `buf`.
    /// On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        check_len("record batch records", self.records.len())?;
        let start = buf.len();
        let r = if self.compression == Compression::None {
            self.put_header(buf);
            self.write_records(buf)
        } else {
            let mut scratch = BytesMut::new();
            self.write_records(&mut scratch).and_then(|()| {
                buf.reserve(BATCH_HEADER_LEN + scratch.len() / 2 + 64);
                self.put_header(buf);
                compression::compress_into(self.compression, 2, &scratch, buf)
                    .map_err(EncodeError::from)
            })
        };
        match r.and_then(|()| finish_batch(buf, start)) {
            Ok(()) => Ok(()),
            Err(e) => {
                buf.truncate(start);
                Err(e)
            }
        }
    }

    /// Appends the records to `buf`, computing each one's size as it goes (one pass).
    ///
    /// The records are written by position into a zero-filled stretch of `buf`, grown ahead of
    /// the writes and cut back at the end. On error, `buf` may hold a partial write.
    fn write_records(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let base = buf.len();
        let mut pos = base;
        let mut rest = self.records.len();
        for r in &self.records {
            let (od, td) = r.deltas(self.base_offset, self.base_timestamp)?;
            rest -= 1;
            pos = put_record(
                buf,
                pos,
                Some(rest),
                pos - base,
                r.attributes,
                td,
                od,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )?;
        }
        buf.truncate(pos);
        Ok(())
    }

    /// Encodes the batch into a new buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut buf = BytesMut::new();
        self.encode(&mut buf)?;
        Ok(buf.freeze())
    }

    fn put_header(&self, buf: &mut BytesMut) {
        buf.extend_from_slice(&self.header_bytes(self.records.len() as i32));
    }

    /// The batch header for `count` records, with the batch length and CRC left zero (they are
    /// back-patched).
    fn header_bytes(&self, count: i32) -> [u8; BATCH_HEADER_LEN] {
        let mut h = [0; BATCH_HEADER_LEN];
        h[0..8].copy_from_slice(&self.base_offset.to_be_bytes());
        // 8..12: batch length
        h[12..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        h[MAGIC_OFFSET] = 2;
        // 17..21: CRC
        h[21..23].copy_from_slice(&self.attributes().to_be_bytes());
        h[23..27].copy_from_slice(&self.last_offset_delta.to_be_bytes());
        h[27..35].copy_from_slice(&self.base_timestamp.to_be_bytes());
        h[35..43].copy_from_slice(&self.max_timestamp.to_be_bytes());
        h[43..51].copy_from_slice(&self.producer_id.to_be_bytes());
        h[51..53].copy_from_slice(&self.producer_epoch.to_be_bytes());
        h[53..57].copy_from_slice(&self.base_sequence.to_be_bytes());
        h[57..61].copy_from_slice(&count.to_be_bytes());
        h
    }

    /// Decodes one batch from the front of `buf`, advancing it past the batch.
    ///
    /// Keys, values and header values are zero-copy slices of `buf` (of the decompressed buffer
    /// for compressed batches). A batch cut short is [`DecodeError::UnexpectedEof`].
    ///
    /// The records' own memory (a [`Record`] each, and a vector for a record's headers from two
    /// on) counts against [`DecodeOptions::max_record_memory`]: a small compressed batch of tiny
    /// records would otherwise make a few kilobytes of input cost gigabytes of `Record`s.
    pub fn decode(buf: &mut Bytes, opts: &DecodeOptions) -> Result<RecordBatch, DecodeError> {
        decode_batch(split_batch(buf)?, opts, &mut RecordBudget::new(opts))
    }
}

/// Splits one whole batch off the front of `buf` (checking its length field), leaving `buf`
/// untouched on error.
pub(crate) fn split_batch(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    if buf.len() < LOG_OVERHEAD {
        return Err(DecodeError::UnexpectedEof {
            needed: LOG_OVERHEAD,
            remaining: buf.len(),
        });
    }
    let len = i32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    if len < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32 {
        return Err(DecodeError::InvalidLength {
            what: "record batch",
            len: i64::from(len),
            remaining: buf.len() - LOG_OVERHEAD,
        });
    }
    let total = LOG_OVERHEAD + len as usize;
    if buf.len() < total {
        return Err(DecodeError::UnexpectedEof {
            needed: total,
            remaining: buf.len(),
        });
    }
    Ok(buf.split_to(total))
}

/// The CRC32C (Castagnoli) of `data`, as record batches carry it.
///
/// By default the `crc32c` crate (the design card's choice: SSE4.2 `crc32` three ways in
/// parallel). With the `crc-fast` feature, `crc-fast` folds with carry-less multiplication
/// (PCLMULQDQ, or VPCLMULQDQ on AVX-512 machines): about twice the speed on a 128 KiB batch,
/// where the CRC was a sixth of encoding or decoding it.
#[cfg(not(feature = "crc-fast"))]
#[inline]
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    ::crc32c::crc32c(data)
}

/// The CRC32C (Castagnoli) of `data`, as record batches carry it (with `crc-fast`).
#[cfg(feature = "crc-fast")]
#[inline]
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, data) as u32
}

/// Back-patches the length and CRC of the batch that starts at `start` and ends at `buf`'s end.
fn finish_batch(buf: &mut BytesMut, start: usize) -> Result<(), EncodeError> {
    let len = buf.len() - start - LOG_OVERHEAD;
    check_len("record batch", len)?;
    buf[start + LENGTH_OFFSET..start + LENGTH_OFFSET + 4]
        .copy_from_slice(&(len as i32).to_be_bytes());
    let crc = crc32c(&buf[start + ATTRIBUTES_OFFSET..]);
    buf[start + CRC_OFFSET..start + CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Offsets of the producer fields in a batch header.
const PRODUCER_ID_OFFSET: usize = 43;
const PRODUCER_EPOCH_OFFSET: usize = 51;
const BASE_SEQUENCE_OFFSET: usize = 53;

/// Rewrites the producer id, epoch and base sequence of one whole encoded batch (magic 2) and
/// its CRC: what an idempotent producer does when it sends a batch it built before it had a
/// producer id, or again under a bumped epoch.
///
/// # Errors
///
/// [`EncodeError::InvalidRecords`] when `batch` is not one whole magic-2 batch.
pub fn set_batch_producer(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), EncodeError> {
    if batch.len() < BATCH_HEADER_LEN || batch[MAGIC_OFFSET] != 2 {
        return Err(EncodeError::InvalidRecords("not a magic 2 record batch"));
    }
    let length = i32::from_be_bytes([batch[8], batch[9], batch[10], batch[11]]);
    if usize::try_from(length)
        .ok()
        .and_then(|l| l.checked_add(LOG_OVERHEAD))
        != Some(batch.len())
    {
        return Err(EncodeError::InvalidRecords("not exactly one record batch"));
    }
    batch[PRODUCER_ID_OFFSET..PRODUCER_ID_OFFSET + 8].copy_from_slice(&producer_id.to_be_bytes());
    batch[PRODUCER_EPOCH_OFFSET..PRODUCER_EPOCH_OFFSET + 2]
        .copy_from_slice(&producer_epoch.to_be_bytes());
    batch[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4]
        .copy_from_slice(&base_sequence.to_be_bytes());
    let crc = crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Decodes a batch given exactly its bytes, its records charged to `budget`.
pub(crate) fn decode_batch(
    b: Bytes,
    opts: &DecodeOptions,
    budget: &mut RecordBudget,
) -> Result<RecordBatch, DecodeError> {
    let (mut batch, data, count) = decode_header(b, opts, Some(budget))?;
    batch.records = decode_record_list(
        &data,
        count,
        batch.base_offset,
        batch.base_timestamp,
        budget,
    )?;
    Ok(batch)
}

/// What materializing records may still allocate: [`DecodeOptions::max_record_memory`] minus
/// what the records decoded so far (in one call) took.
///
/// Owned records are zero-copy (their bytes stay in the batch's buffer, which the decompression
/// cap bounds), but each `Record` is [`RECORD_SIZE`] bytes however short it is on the wire,
/// where the shortest record takes 7: without a budget, a 6 KB zstd batch of 9 million empty
/// records cost 2.6 GB. The count is charged before decompressing (a batch that cannot fit is
/// refused at once), header vectors as they are made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordBudget {
    remaining: usize,
    limit: usize,
}

/// What one record takes in a [`RecordBatch`] beyond the bytes it shares with the batch.
pub(crate) const RECORD_SIZE: usize = std::mem::size_of::<Record>();

/// What one header of a record with two headers or more takes in its vector.
const HEADER_SIZE: usize = std::mem::size_of::<RecordHeader>();

impl RecordBudget {
    pub(crate) fn new(opts: &DecodeOptions) -> Self {
        RecordBudget {
            remaining: opts.max_record_memory,
            limit: opts.max_record_memory,
        }
    }

    #[cfg(test)]
    fn unlimited() -> Self {
        RecordBudget {
            remaining: usize::MAX,
            limit: usize::MAX,
        }
    }

    /// Whether `count` records fit, without charging them.
    fn check_records(&self, count: usize) -> Result<(), DecodeError> {
        match count.checked_mul(RECORD_SIZE) {
            Some(bytes) if bytes <= self.remaining => Ok(()),
            _ => Err(self.exceeded(count)),
        }
    }

    /// Charges `bytes`, or fails (for a batch of `count` records) when they do not fit.
    #[inline]
    fn charge(&mut self, bytes: usize, count: usize) -> Result<(), DecodeError> {
        match self.remaining.checked_sub(bytes) {
            Some(r) => {
                self.remaining = r;
                Ok(())
            }
            None => Err(self.exceeded(count)),
        }
    }

    #[cold]
    fn exceeded(&self, records: usize) -> DecodeError {
        DecodeError::RecordMemoryLimit {
            records,
            limit: self.limit,
        }
    }
}

/// Checks and decodes a batch's header (given exactly the batch's bytes), returning it with no
/// records, the records section (decompressed if need be) and the record count, checked
/// against the section's size.
///
/// With a `budget` (owned decoding), a count that cannot fit is refused before decompressing.
fn decode_header(
    mut b: Bytes,
    opts: &DecodeOptions,
    budget: Option<&mut RecordBudget>,
) -> Result<(RecordBatch, Bytes, usize), DecodeError> {
    let magic = b[MAGIC_OFFSET] as i8;
    if magic != 2 {
        return Err(DecodeError::UnknownMagic(magic));
    }
    if opts.verify_crc {
        let stored = u32::from_be_bytes([b[17], b[18], b[19], b[20]]);
        let computed = crc32c(&b[ATTRIBUTES_OFFSET..]);
        if stored != computed {
            return Err(DecodeError::CrcMismatch {
                what: "record batch",
                stored,
                computed,
            });
        }
    }
    let base_offset = get_i64(&mut b)?;
    let _len = get_i32(&mut b)?;
    let partition_leader_epoch = get_i32(&mut b)?;
    let _magic = get_i8(&mut b)?;
    let _crc = get_u32(&mut b)?;
    let attributes = get_i16(&mut b)?;
    let last_offset_delta = get_i32(&mut b)?;
    let base_timestamp = get_i64(&mut b)?;
    let max_timestamp = get_i64(&mut b)?;
    let producer_id = get_i64(&mut b)?;
    let producer_epoch = get_i16(&mut b)?;
    let base_sequence = get_i32(&mut b)?;
    let count = get_i32(&mut b)?;
    let compression = Compression::from_attributes(attributes)?;
    // Before decompressing, a count the budget cannot hold ends it (an uncompressed batch's
    // count is checked against its bytes first, the more telling error for a corrupt one).
    if let (Some(budget), Ok(n), true) = (
        budget,
        usize::try_from(count),
        compression != Compression::None,
    ) {
        budget.check_records(n)?;
    }
    let data = if compression == Compression::None {
        b
    } else {
        Bytes::from(compression::decompress(
            compression,
            &b,
            opts.max_decompressed_bytes,
        )?)
    };
    // Every record takes at least MIN_RECORD_LEN bytes, so a count larger than that allows is
    // corrupt; checking first means a hostile count cannot drive the allocation below.
    if count < 0 || count as usize > data.len() / MIN_RECORD_LEN {
        return Err(DecodeError::InvalidLength {
            what: "record count",
            len: i64::from(count),
            remaining: data.len(),
        });
    }
    let batch = RecordBatch {
        base_offset,
        partition_leader_epoch,
        compression,
        timestamp_type: if attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        },
        is_transactional: attributes & TRANSACTIONAL_BIT != 0,
        is_control: attributes & CONTROL_BIT != 0,
        has_delete_horizon: attributes & DELETE_HORIZON_BIT != 0,
        last_offset_delta,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        records: Vec::new(),
    };
    Ok((batch, data, count as usize))
}

/// The most records reserved for before any is parsed (about 600 KB of `Record`s). A batch's
/// record count is checked only against the bytes it holds once decompressed, which a small
/// compressed batch can make 64 MiB; beyond this, the vector grows as records parse.
const RESERVE_RECORDS: usize = 4096;

/// Decodes `count` records filling all of `data`. Keys, values and headers are slices of `data`
/// (one reference-count increment each, no copy); the only allocations are the record vector
/// and, for records with two headers or more, their header vectors.
///
/// The records and header vectors are charged to `budget` (see [`RecordBudget`]).
fn decode_record_list(
    data: &Bytes,
    count: usize,
    base_offset: i64,
    base_timestamp: i64,
    budget: &mut RecordBudget,
) -> Result<Vec<Record>, DecodeError> {
    // The checked decoder, if it is needed, starts from the same budget.
    let start = *budget;
    // The vector never grows past `count` (see below), so charging it whole is exact.
    budget.charge(count.saturating_mul(RECORD_SIZE), count)?;
    let mut pos = 0;
    let mut failed = false;
    let mut records = Vec::with_capacity(count.min(RESERVE_RECORDS));
    while !failed && records.len() < count {
        if records.len() == records.capacity() {
            // Past the first reservation, room doubles as records actually parse: memory
            // follows the records present, not the count a batch declares (a zstd bomb can
            // declare 64 MiB / 7 of them in 2 KiB).
            records.reserve((count - records.len()).min(records.len()));
        }
        let n = (records.capacity() - records.len()).min(count - records.len());
        // `extend` from a counted iterator writes each record straight into the vector (a loop
        // of `push`es builds each one aside and copies it in). After a failure the rest of the
        // chunk are defaults.
        records.extend((0..n).map(|_| {
            if !failed {
                match read_record(
                    data,
                    pos,
                    base_offset,
                    base_timestamp,
                    &mut budget.remaining,
                ) {
                    Some((r, end)) => {
                        pos = end;
                        return r;
                    }
                    None => failed = true,
                }
            }
            Record::default()
        }));
    }
    if failed || pos != data.len() {
        // Something is wrong (the budget too): the checked decoder says what.
        drop(records);
        *budget = start;
        return decode_record_list_checked(data, count, base_offset, base_timestamp, budget);
    }
    Ok(records)
}

/// The fast path of [`decode_record_list`]: decodes the record at `pos` of `data`, returning it
/// and where it ends, or `None` for anything [`decode_record_at`] would reject (which then says
/// why). Accepts exactly what `decode_record_at` accepts, with the same result.
#[inline(always)]
///
/// A record with two headers or more charges its header vector to `budget` (what
/// [`RecordBudget`] has left) before allocating it, and fails when it does not fit.
fn read_record(
    data: &Bytes,
    pos: usize,
    base_offset: i64,
    base_timestamp: i64,
    budget: &mut usize,
) -> Option<(Record, usize)> {
    let prefix = read_record_prefix(data, pos)?;
    let end = prefix.end;
    // Nothing below reads past the record.
    let rec = &data[..end];
    let mut p = prefix.headers_start;
    let headers = match prefix.header_count {
        0 => RecordHeaders::new(),
        1 => RecordHeaders(HeadersRepr::One(read_header(data, rec, &mut p)?)),
        n => {
            *budget = budget.checked_sub(n * HEADER_SIZE)?;
            // Charged, so reserved whole: the budget bounds what a hostile count can reserve.
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(read_header(data, rec, &mut p)?);
            }
            RecordHeaders(HeadersRepr::Many(v))
        }
    };
    if p != end {
        return None;
    }
    let record = Record {
        attributes: prefix.attributes,
        offset: base_offset.wrapping_add(i64::from(prefix.offset_delta)),
        timestamp: base_timestamp.wrapping_add(prefix.timestamp_delta),
        key: prefix.key.map(|r| data.slice(r)),
        value: prefix.value.map(|r| data.slice(r)),
        headers,
    };
    Some((record, end))
}

/// A record's fields up to its headers, as the fast paths ([`read_record`] and
/// [`RecordRefs::read`]) read them: ranges are positions in the data the record was read from.
struct RecordPrefix {
    attributes: i8,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<std::ops::Range<usize>>,
    value: Option<std::ops::Range<usize>>,
    header_count: usize,
    /// Where the first header starts.
    headers_start: usize,
    /// Where the record ends (its length prefix says so and `all` holds it).
    end: usize,
}

/// Reads the record at `pos` of `all` up to its headers, `None` for anything the checked
/// decoders reject there. Nothing past the record's end is read, and the header count is
/// bounded by the bytes present (a header takes at least two), so it can size an allocation.
#[inline(always)]
fn read_record_prefix(all: &[u8], pos: usize) -> Option<RecordPrefix> {
    let mut p = pos;
    let len = usize::try_from(read_varint(all, &mut p)?).ok()?;
    if len > all.len() - p {
        return None;
    }
    let end = p + len;
    let rec = &all[..end];
    let attributes = *rec.get(p)? as i8;
    p += 1;
    let timestamp_delta = read_varlong(rec, &mut p)?;
    let offset_delta = read_varint(rec, &mut p)?;
    let key = read_nullable(rec, &mut p)?;
    let value = read_nullable(rec, &mut p)?;
    let header_count = usize::try_from(read_varint(rec, &mut p)?).ok()?;
    if header_count > (end - p) / 2 {
        return None;
    }
    Some(RecordPrefix {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        header_count,
        headers_start: p,
        end,
    })
}

/// A record header at `*p` of `rec` (a record of `data`), as [`decode_header_at`] reads it,
/// `None` where that fails.
#[inline(always)]
fn read_header(data: &Bytes, rec: &[u8], p: &mut usize) -> Option<RecordHeader> {
    let key = read_nullable(rec, p)??;
    let key_bytes = &rec[key.clone()];
    if !key_bytes.is_ascii() && std::str::from_utf8(key_bytes).is_err() {
        return None;
    }
    let value = read_nullable(rec, p)?;
    Some(RecordHeader {
        key: HeaderKey(data.slice(key)),
        value: value.map(|r| data.slice(r)),
    })
}

/// Decodes `count` records filling all of `data` with every check spelled out as an error:
/// what [`decode_record_list`] falls back to when its fast path fails.
#[cold]
fn decode_record_list_checked(
    data: &Bytes,
    count: usize,
    base_offset: i64,
    base_timestamp: i64,
    budget: &mut RecordBudget,
) -> Result<Vec<Record>, DecodeError> {
    budget.charge(count.saturating_mul(RECORD_SIZE), count)?;
    let mut outer = Cursor::new(data);
    let mut records = Vec::with_capacity(count.min(RESERVE_RECORDS));
    for _ in 0..count {
        records.push(decode_record_at(
            &mut outer,
            data,
            base_offset,
            base_timestamp,
            budget,
            count,
        )?);
    }
    if outer.remaining() != 0 {
        return Err(DecodeError::CorruptRecords(
            "bytes left after the last record of a batch",
        ));
    }
    Ok(records)
}

/// Reads a record's length prefix at the cursor and takes the record: the range of its bytes
/// (after the prefix), or a typed error for a negative length or one past the end.
fn take_record(outer: &mut Cursor<'_>) -> Result<std::ops::Range<usize>, DecodeError> {
    let len = outer.varint()?;
    if len < 0 {
        return Err(DecodeError::InvalidLength {
            what: "record",
            len: i64::from(len),
            remaining: outer.remaining(),
        });
    }
    outer.take(len as usize, "record")
}

/// Decodes the record at `outer` (a cursor over `data`), advancing it past the record.
#[inline(always)]
///
/// A record with two headers or more charges its header vector to `budget` (for a batch of
/// `count` records) before allocating it, as [`read_record`] does.
fn decode_record_at(
    outer: &mut Cursor<'_>,
    data: &Bytes,
    base_offset: i64,
    base_timestamp: i64,
    budget: &mut RecordBudget,
    count: usize,
) -> Result<Record, DecodeError> {
    let range = take_record(outer)?;
    // A cursor that cannot read past this record.
    let mut c = Cursor::at(&data[..range.end], range.start);
    let attributes = c.i8()?;
    let timestamp_delta = c.varlong()?;
    let offset_delta = c.varint()?;
    let key = c.nullable("record key")?;
    let value = c.nullable("record value")?;
    let header_count = c.varint()?;
    // A header takes at least two bytes (key length and value length), so this bounds the
    // allocation by the bytes actually present.
    if header_count < 0 || header_count as usize > c.remaining() / 2 {
        return Err(DecodeError::InvalidLength {
            what: "record header count",
            len: i64::from(header_count),
            remaining: c.remaining(),
        });
    }
    let headers = match header_count {
        0 => RecordHeaders::new(),
        1 => RecordHeaders(HeadersRepr::One(decode_header_at(&mut c, data)?)),
        n => {
            let n = n as usize;
            budget.charge(n * HEADER_SIZE, count)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(decode_header_at(&mut c, data)?);
            }
            RecordHeaders(HeadersRepr::Many(v))
        }
    };
    if c.position() != range.end {
        return Err(DecodeError::CorruptRecords(
            "record length does not match its contents",
        ));
    }
    Ok(Record {
        attributes,
        offset: base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp: base_timestamp.wrapping_add(timestamp_delta),
        key: key.map(|r| data.slice(r)),
        value: value.map(|r| data.slice(r)),
        headers,
    })
}

/// Decodes one record header at `c` (a cursor over `data`): its key must be valid UTF-8.
#[inline(always)]
fn decode_header_at(c: &mut Cursor<'_>, data: &Bytes) -> Result<RecordHeader, DecodeError> {
    let key = c
        .nullable("header key")?
        .ok_or(DecodeError::UnexpectedNull { what: "header key" })?;
    std::str::from_utf8(&data[key.clone()]).map_err(|_| DecodeError::InvalidUtf8)?;
    let key = HeaderKey(data.slice(key));
    let value = c.nullable("header value")?.map(|r| data.slice(r));
    Ok(RecordHeader { key, value })
}

/// A record batch whose records stay encoded until iterated: the fastest way to read a batch.
///
/// [`RecordBatch::decode`] materializes every record (a `Bytes` handle, i.e. a reference-count
/// increment, per key, value and header, and a vector per record with two headers or more). A
/// view checks the batch the same way (CRC, codec, bounded decompression, record count) but then
/// hands out [`RecordRef`]s that borrow from it, allocating nothing per record.
#[derive(Clone, Debug)]
pub struct RecordBatchView {
    header: RecordBatch,
    data: Bytes,
    count: usize,
    /// For [`RecordBatchView::into_batch`].
    max_record_memory: usize,
}

impl RecordBatchView {
    /// Decodes one batch's header from the front of `buf`, advancing it past the batch; the
    /// records are parsed by [`RecordBatchView::records`]. Errors as [`RecordBatch::decode`].
    pub fn decode(buf: &mut Bytes, opts: &DecodeOptions) -> Result<RecordBatchView, DecodeError> {
        let batch = split_batch(buf)?;
        let (header, data, count) = decode_header(batch, opts, None)?;
        Ok(RecordBatchView {
            header,
            data,
            count,
            max_record_memory: opts.max_record_memory,
        })
    }

    /// The batch's header fields (its `records` is empty).
    pub fn header(&self) -> &RecordBatch {
        &self.header
    }

    /// The number of records the batch declares.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch declares no records.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Iterates the records. Each item is a record or the error that ends the iteration.
    pub fn records(&self) -> RecordRefs<'_> {
        RecordRefs {
            data: &self.data,
            pos: 0,
            remaining: self.count,
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
        }
    }

    /// Materializes the records into a [`RecordBatch`] (as [`RecordBatch::decode`] does, within
    /// the `max_record_memory` the view was decoded with).
    pub fn into_batch(self) -> Result<RecordBatch, DecodeError> {
        let mut batch = self.header;
        let mut budget = RecordBudget {
            remaining: self.max_record_memory,
            limit: self.max_record_memory,
        };
        batch.records = decode_record_list(
            &self.data,
            self.count,
            batch.base_offset,
            batch.base_timestamp,
            &mut budget,
        )?;
        Ok(batch)
    }
}

/// A record borrowed from a [`RecordBatchView`].
#[derive(Clone, Debug)]
pub struct RecordRef<'a> {
    /// Record attributes.
    pub attributes: i8,
    /// Absolute offset.
    pub offset: i64,
    /// Absolute timestamp in milliseconds.
    pub timestamp: i64,
    /// The key; `None` is null.
    pub key: Option<&'a [u8]>,
    /// The value; `None` is null.
    pub value: Option<&'a [u8]>,
    /// The headers, parsed as iterated.
    pub headers: HeaderRefs<'a>,
}

/// Iterator over the records of a [`RecordBatchView`].
#[derive(Clone, Debug)]
pub struct RecordRefs<'a> {
    data: &'a [u8],
    pos: usize,
    remaining: usize,
    base_offset: i64,
    base_timestamp: i64,
}

impl<'a> RecordRefs<'a> {
    /// The fast path of [`RecordRefs::next`]: the checks of [`RecordRefs::parse_checked`], but a
    /// failure is just `None` (and `parse_checked` then says what is wrong). Moves past the
    /// record.
    #[inline(always)]
    fn read(&mut self) -> Option<RecordRef<'a>> {
        let prefix = read_record_prefix(self.data, self.pos)?;
        let rec = &self.data[..prefix.end];
        let record = RecordRef {
            attributes: prefix.attributes,
            offset: self
                .base_offset
                .wrapping_add(i64::from(prefix.offset_delta)),
            timestamp: self.base_timestamp.wrapping_add(prefix.timestamp_delta),
            key: prefix.key.map(|r| &rec[r]),
            value: prefix.value.map(|r| &rec[r]),
            headers: HeaderRefs {
                data: &rec[prefix.headers_start..],
                remaining: prefix.header_count,
            },
        };
        self.pos = prefix.end;
        Some(record)
    }

    #[cold]
    fn parse_checked(&mut self) -> Result<RecordRef<'a>, DecodeError> {
        let all = self.data;
        let range = take_record(&mut Cursor::at(all, self.pos))?;
        self.pos = range.end;
        let mut c = Cursor::at(&all[..range.end], range.start);
        let attributes = c.i8()?;
        let timestamp_delta = c.varlong()?;
        let offset_delta = c.varint()?;
        let key = c.nullable("record key")?.map(|r| &all[r]);
        let value = c.nullable("record value")?.map(|r| &all[r]);
        let count = c.varint()?;
        if count < 0 || count as usize > c.remaining() / 2 {
            return Err(DecodeError::InvalidLength {
                what: "record header count",
                len: i64::from(count),
                remaining: c.remaining(),
            });
        }
        Ok(RecordRef {
            attributes,
            offset: self.base_offset.wrapping_add(i64::from(offset_delta)),
            timestamp: self.base_timestamp.wrapping_add(timestamp_delta),
            key,
            value,
            headers: HeaderRefs {
                data: &all[c.position()..range.end],
                remaining: count as usize,
            },
        })
    }
}

impl<'a> Iterator for RecordRefs<'a> {
    type Item = Result<RecordRef<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        if let Some(r) = self.read() {
            self.remaining -= 1;
            return Some(Ok(r));
        }
        let r = self.parse_checked();
        // After an error the position is meaningless: end the iteration.
        self.remaining = if r.is_ok() { self.remaining - 1 } else { 0 };
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// Iterator over the headers of a [`RecordRef`]: `(key, value)` pairs, or the error that ends
/// the iteration (a bad length, a key that is not UTF-8).
#[derive(Clone, Debug)]
pub struct HeaderRefs<'a> {
    data: &'a [u8],
    remaining: usize,
}

impl<'a> HeaderRefs<'a> {
    /// The fast path of [`HeaderRefs::next`]: the checks of [`HeaderRefs::parse_checked`], but
    /// a failure is just `None`. Moves past the header.
    #[inline(always)]
    fn read(&mut self) -> Option<(&'a str, Option<&'a [u8]>)> {
        let all = self.data;
        let mut p = 0;
        let key = read_nullable(all, &mut p)??;
        let key = std::str::from_utf8(&all[key]).ok()?;
        let value = read_nullable(all, &mut p)?;
        self.data = &all[p..];
        Some((key, value.map(|r| &all[r])))
    }

    #[cold]
    fn parse_checked(&mut self) -> Result<(&'a str, Option<&'a [u8]>), DecodeError> {
        let all = self.data;
        let mut c = Cursor::new(all);
        let key = c
            .nullable("header key")?
            .ok_or(DecodeError::UnexpectedNull { what: "header key" })?;
        let key = std::str::from_utf8(&all[key]).map_err(|_| DecodeError::InvalidUtf8)?;
        let value = c.nullable("header value")?.map(|r| &all[r]);
        self.data = &all[c.position()..];
        Ok((key, value))
    }
}

impl<'a> Iterator for HeaderRefs<'a> {
    type Item = Result<(&'a str, Option<&'a [u8]>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        if let Some(h) = self.read() {
            self.remaining -= 1;
            return Some(Ok(h));
        }
        let r = self.parse_checked();
        self.remaining = if r.is_ok() { self.remaining - 1 } else { 0 };
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// Builds a record batch by appending records straight into the output buffer, without
/// constructing [`Record`]s.
///
/// ```
/// use kafkaex_protocol::records::{RecordBatchBuilder, compression::Compression};
/// let mut b = RecordBatchBuilder::new(0, 1_700_000_000_000, Compression::None);
/// b.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[]).unwrap();
/// let bytes = b.finish().unwrap();
/// assert_eq!(bytes[16], 2);
/// ```
#[derive(Debug)]
pub struct RecordBatchBuilder {
    header: RecordBatch,
    /// The batch so far, then zero-filled scratch up to its length.
    buf: BytesMut,
    /// Where the records appended so far end in `buf`.
    end: usize,
    count: i32,
    records_start: usize,
    /// The codec's level; `None` for its default.
    level: Option<i32>,
}

impl RecordBatchBuilder {
    /// A builder for a batch whose first record has `base_offset` and whose deltas count from
    /// `base_timestamp`.
    pub fn new(
        base_offset: i64,
        base_timestamp: i64,
        compression: Compression,
    ) -> RecordBatchBuilder {
        RecordBatchBuilder::with_capacity(base_offset, base_timestamp, compression, 0)
    }

    /// Like [`RecordBatchBuilder::new`], reserving `capacity` bytes for the records up front.
    pub fn with_capacity(
        base_offset: i64,
        base_timestamp: i64,
        compression: Compression,
        capacity: usize,
    ) -> RecordBatchBuilder {
        let header = RecordBatch {
            base_offset,
            base_timestamp,
            max_timestamp: base_timestamp,
            compression,
            ..RecordBatch::default()
        };
        let mut buf = BytesMut::with_capacity(BATCH_HEADER_LEN + capacity);
        // Uncompressed records go right after the header; compressed ones are collected from
        // offset 0 and compressed behind the header in `finish`.
        let records_start = if compression == Compression::None {
            buf.put_bytes(0, BATCH_HEADER_LEN);
            BATCH_HEADER_LEN
        } else {
            0
        };
        RecordBatchBuilder {
            header,
            buf,
            end: records_start,
            count: 0,
            records_start,
            level: None,
        }
    }

    /// Sets the compression level (`None`: the codec's default). Checked in
    /// [`RecordBatchBuilder::finish`], which fails with
    /// [`CompressionError::InvalidLevel`](crate::error::CompressionError::InvalidLevel) for a
    /// level the codec does not have.
    pub fn compression_level(&mut self, level: Option<i32>) -> &mut Self {
        self.level = level;
        self
    }

    /// Sets the idempotent/transactional producer fields.
    pub fn producer(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> &mut Self {
        self.header.producer_id = producer_id;
        self.header.producer_epoch = producer_epoch;
        self.header.base_sequence = base_sequence;
        self
    }

    /// Marks the batch transactional.
    pub fn transactional(&mut self, yes: bool) -> &mut Self {
        self.header.is_transactional = yes;
        self
    }

    /// Sets the timestamp type.
    pub fn timestamp_type(&mut self, t: TimestampType) -> &mut Self {
        self.header.timestamp_type = t;
        self
    }

    /// Sets the partition leader epoch (-1 by default).
    pub fn partition_leader_epoch(&mut self, epoch: i32) -> &mut Self {
        self.header.partition_leader_epoch = epoch;
        self
    }

    /// Number of records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of records appended so far (uncompressed).
    pub fn records_size(&self) -> usize {
        self.end - self.records_start
    }

    /// Appends a record with the next offset (`base_offset + len()`).
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[RecordHeader],
    ) -> Result<(), EncodeError> {
        if self.count == i32::MAX {
            return Err(EncodeError::TooLong {
                what: "record batch records",
                len: self.count as usize + 1,
            });
        }
        let td = timestamp.wrapping_sub(self.header.base_timestamp);
        self.end = put_record(
            &mut self.buf,
            self.end,
            None,
            self.end - self.records_start,
            0,
            td,
            self.count,
            key,
            value,
            headers,
        )?;
        self.header.max_timestamp = self.header.max_timestamp.max(timestamp);
        self.header.last_offset_delta = self.count;
        self.count += 1;
        Ok(())
    }

    /// Finishes the batch: writes the header, compresses if asked, back-patches length and CRC.
    pub fn finish(self) -> Result<Bytes, EncodeError> {
        let RecordBatchBuilder {
            mut header,
            mut buf,
            end,
            count,
            level,
            ..
        } = self;
        buf.truncate(end);
        header.records = Vec::new();
        let head = header.header_bytes(count);
        if header.compression == Compression::None {
            buf[..BATCH_HEADER_LEN].copy_from_slice(&head);
            finish_batch(&mut buf, 0)?;
            Ok(buf.freeze())
        } else {
            let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + buf.len() / 2 + 64);
            out.extend_from_slice(&head);
            compression::compress_into_at(header.compression, 2, &buf, &mut out, level)?;
            finish_batch(&mut out, 0)?;
            Ok(out.freeze())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64, value_len: usize, headers: usize) -> Record {
        Record {
            offset,
            timestamp: 1_700_000_000_000 + offset * 3,
            key: (offset % 3 != 0).then(|| Bytes::from(format!("k{offset}"))),
            value: Some(Bytes::from(vec![b'v'; value_len])),
            headers: (0..headers)
                .map(|i| RecordHeader::new(format!("h{i}"), Some(Bytes::from(vec![1; i]))))
                .collect(),
            ..Record::default()
        }
    }

    /// The one-pass encoder grows its output on a guess from the records seen so far; records
    /// that get much larger, or smaller, must still come out exactly as sized.
    #[test]
    fn one_pass_encoding_matches_the_computed_size_whatever_the_record_sizes() {
        let shapes: [&dyn Fn(i64) -> usize; 4] = [
            &|i| 1 + i as usize * 37,
            &|i| 5000 - i as usize * 40,
            &|i| if i % 50 == 49 { 100_000 } else { 3 },
            &|_| 0,
        ];
        for shape in shapes {
            let records = (0..120)
                .map(|i| record(i, shape(i), i as usize % 3))
                .collect();
            let batch = RecordBatch::new(records);
            let mut buf = BytesMut::from(&b"prefix"[..]);
            batch.encode(&mut buf).unwrap();
            assert_eq!(&buf[..6], b"prefix");
            assert_eq!(buf.len() - 6, batch.encoded_len_uncompressed().unwrap());
            let mut bytes = buf.freeze().slice(6..);
            let back = RecordBatch::decode(&mut bytes, &DecodeOptions::default()).unwrap();
            assert_eq!(back, batch);
        }
    }

    /// Records whose bodies straddle the sizes where the length prefix grows (64 and 8192
    /// bytes, zig-zag) take the exact-size path; all must match the exact size computation,
    /// in `RecordBatch::encode` and in the builder.
    #[test]
    fn length_prefixes_are_right_around_their_size_steps() {
        let mut values: Vec<usize> = (0..120).collect();
        values.extend(8100..8250);
        let records: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| record(i as i64, v, i % 3))
            .collect();
        let batch = RecordBatch::new(records);
        let bytes = batch.to_bytes().unwrap();
        assert_eq!(bytes.len(), batch.encoded_len_uncompressed().unwrap());
        let back = RecordBatch::decode(&mut bytes.clone(), &DecodeOptions::default()).unwrap();
        assert_eq!(back, batch);

        let mut b =
            RecordBatchBuilder::new(batch.base_offset, batch.base_timestamp, Compression::None);
        for r in &batch.records {
            b.append(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )
            .unwrap();
        }
        assert_eq!(b.records_size(), bytes.len() - BATCH_HEADER_LEN);
        assert_eq!(b.finish().unwrap(), bytes);
    }

    #[test]
    fn an_encoding_error_leaves_the_buffer_as_it_was() {
        for compression in [Compression::None, Compression::Gzip] {
            let mut records: Vec<Record> = (0..10).map(|i| record(i, 100, 1)).collect();
            // A record too far from the base offset is found only after several were written.
            records[7].offset = i64::from(i32::MAX) + 1;
            let batch = RecordBatch {
                compression,
                ..RecordBatch::new(records)
            };
            let mut buf = BytesMut::from(&b"earlier batches"[..]);
            let err = batch.encode(&mut buf).unwrap_err();
            assert!(matches!(err, EncodeError::InvalidRecords(_)), "{err}");
            assert_eq!(&buf[..], b"earlier batches");
        }
    }

    /// The records section of an uncompressed batch of `records`.
    fn records_section(records: Vec<Record>) -> (Bytes, usize, i64, i64) {
        let batch = RecordBatch::new(records);
        let bytes = batch.to_bytes().unwrap();
        (
            bytes.slice(BATCH_HEADER_LEN..),
            batch.records.len(),
            batch.base_offset,
            batch.base_timestamp,
        )
    }

    /// The fast path must accept exactly what the checked decoder accepts, with the same
    /// records, and fail exactly where it fails, with the same error: compare both on every
    /// single-byte corruption of a section and on random multi-byte ones.
    #[test]
    fn fast_record_decoding_agrees_with_the_checked_decoders_on_corrupt_input() {
        let mut records: Vec<Record> = (0..6)
            .map(|i| record(i, i as usize * 3, i as usize % 4))
            .collect();
        records[2].key = None;
        records[3].value = None;
        records[4].headers.push(RecordHeader::new("é-key", None));
        let (section, count, base_offset, base_timestamp) = records_section(records);
        let check = |data: &Bytes| {
            let fast = decode_record_list(
                data,
                count,
                base_offset,
                base_timestamp,
                &mut RecordBudget::unlimited(),
            );
            let checked = decode_record_list_checked(
                data,
                count,
                base_offset,
                base_timestamp,
                &mut RecordBudget::unlimited(),
            );
            assert_eq!(fast, checked, "{data:?}");
        };
        check(&section);
        let fast_only = |data: &Bytes, count: usize, base_offset, base_timestamp| {
            let mut pos = 0;
            let mut records = Vec::new();
            let mut unlimited = usize::MAX;
            for _ in 0..count {
                let (r, end) = read_record(data, pos, base_offset, base_timestamp, &mut unlimited)?;
                records.push(r);
                pos = end;
            }
            (pos == data.len()).then_some(records)
        };
        // Valid input never falls back to the checked decoder.
        assert_eq!(
            fast_only(&section, count, base_offset, base_timestamp),
            decode_record_list_checked(
                &section,
                count,
                base_offset,
                base_timestamp,
                &mut RecordBudget::unlimited()
            )
            .ok()
        );
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        check_view(&section, count);
        for i in 0..section.len() {
            for v in [
                0x00,
                0x01,
                0x7f,
                0x80,
                0xff,
                section[i] ^ 0x01,
                section[i] ^ 0x80,
            ] {
                let mut b = section.to_vec();
                b[i] = v;
                check_view(&b, count);
                check(&Bytes::from(b));
            }
        }
        for _ in 0..5000 {
            let mut b = section.to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] = next() as u8;
            }
            let cut = b.len() - (next() % 3) as usize;
            b.truncate(cut);
            check_view(&b, count);
            check(&Bytes::from(b));
        }
        // Varints at their longest: a 10-byte timestamp delta and 5-byte offset delta and
        // lengths, as the checked decoder reads them.
        let long = Record {
            offset: i64::from(i32::MAX),
            timestamp: i64::MAX,
            key: Some(Bytes::from(vec![1; 70_000])),
            ..Record::default()
        };
        let (section, count, base_offset, base_timestamp) =
            records_section(vec![Record::default(), long]);
        let fast = fast_only(&section, count, base_offset, base_timestamp);
        assert!(fast.is_some());
        assert_eq!(
            fast,
            decode_record_list_checked(
                &section,
                count,
                base_offset,
                base_timestamp,
                &mut RecordBudget::unlimited()
            )
            .ok()
        );
    }

    /// A record of a view, headers read, as a comparable value.
    type ViewItem<'a> = Result<
        (
            i8,
            i64,
            i64,
            Option<&'a [u8]>,
            Option<&'a [u8]>,
            Vec<HeaderItem<'a>>,
        ),
        DecodeError,
    >;
    type HeaderItem<'a> = Result<(&'a str, Option<&'a [u8]>), DecodeError>;

    /// The view's iterators (fast path, falling back to the checked parsers) must yield what
    /// the checked parsers alone yield, item for item, errors included.
    fn check_view(data: &[u8], count: usize) {
        let refs = RecordRefs {
            data,
            pos: 0,
            remaining: count,
            base_offset: 10,
            base_timestamp: 20,
        };
        let fast: Vec<ViewItem<'_>> = refs
            .clone()
            .map(|r| {
                r.map(|r| {
                    let headers = r.headers.collect();
                    (r.attributes, r.offset, r.timestamp, r.key, r.value, headers)
                })
            })
            .collect();
        let mut checked: Vec<ViewItem<'_>> = Vec::new();
        let mut slow = refs;
        while slow.remaining > 0 {
            match slow.parse_checked() {
                Ok(r) => {
                    slow.remaining -= 1;
                    let mut headers = Vec::new();
                    let mut h = r.headers.clone();
                    while h.remaining > 0 {
                        let x = h.parse_checked();
                        h.remaining = if x.is_ok() { h.remaining - 1 } else { 0 };
                        headers.push(x);
                    }
                    checked.push(Ok((
                        r.attributes,
                        r.offset,
                        r.timestamp,
                        r.key,
                        r.value,
                        headers,
                    )));
                }
                Err(e) => {
                    checked.push(Err(e));
                    break;
                }
            }
        }
        assert_eq!(fast, checked, "{data:?}");
    }

    /// More records than are reserved up front (the vector grows as they parse), and a record
    /// with many headers (reserved whole once charged to the budget), in the fast and the
    /// checked decoder alike.
    #[test]
    fn batches_beyond_the_up_front_reservations_decode_whole() {
        let mut records: Vec<Record> = (0..(RESERVE_RECORDS as i64 * 2 + 5))
            .map(|i| record(i, (i % 7) as usize, (i % 3) as usize))
            .collect();
        records[3].headers = (0..192)
            .map(|i| RecordHeader::new(format!("k{i}"), None))
            .collect();
        for compression in [Compression::None, Compression::Zstd] {
            let batch = RecordBatch {
                compression,
                ..RecordBatch::new(records.clone())
            };
            let bytes = batch.to_bytes().unwrap();
            let back = RecordBatch::decode(&mut bytes.clone(), &DecodeOptions::default());
            assert_eq!(back.as_ref(), Ok(&batch));
            let view = RecordBatchView::decode(&mut bytes.clone(), &DecodeOptions::default());
            assert_eq!(view.unwrap().into_batch(), Ok(batch));
        }
        let (section, count, base_offset, base_timestamp) = records_section(records);
        assert_eq!(
            decode_record_list(
                &section,
                count,
                base_offset,
                base_timestamp,
                &mut RecordBudget::unlimited()
            ),
            decode_record_list_checked(
                &section,
                count,
                base_offset,
                base_timestamp,
                &mut RecordBudget::unlimited()
            )
        );
    }

    /// A compressed batch can declare as many records as its decompressed bytes allow: zeros
    /// declaring 1 MiB / 7 records fail on the first record. (How much is reserved before that is
    /// measured by the fuzz crate's `record_count_prealloc` example, with a counting allocator.)
    #[test]
    fn a_count_declared_over_zeros_is_an_error() {
        let zeros = vec![0u8; 1 << 20];
        let mut b = RecordBatch {
            compression: Compression::Zstd,
            ..RecordBatch::default()
        }
        .to_bytes()
        .unwrap()
        .to_vec();
        b.truncate(BATCH_HEADER_LEN);
        let count = (zeros.len() / MIN_RECORD_LEN) as i32;
        b[BATCH_HEADER_LEN - 4..].copy_from_slice(&count.to_be_bytes());
        let mut buf = BytesMut::from(&b[..]);
        compression::compress_into(Compression::Zstd, 2, &zeros, &mut buf).unwrap();
        finish_batch(&mut buf, 0).unwrap();
        let err = RecordBatch::decode(&mut buf.freeze(), &DecodeOptions::default()).unwrap_err();
        // The first record: a zero length, then no attributes byte.
        assert_eq!(
            err,
            DecodeError::UnexpectedEof {
                needed: 1,
                remaining: 0
            }
        );
    }

    #[test]
    fn crc32c_agrees_with_the_crc32c_crate_at_every_alignment_and_length() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        let data: Vec<u8> = (0..140_000u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for start in 0..16 {
            for len in (0..600).chain([4095, 4096, 4097, 65_536, 131_071, 139_000]) {
                let d = &data[start..start + len];
                assert_eq!(crc32c(d), ::crc32c::crc32c(d), "{start} {len}");
            }
        }
    }

    #[test]
    fn record_headers_hold_one_inline_and_behave_as_a_slice() {
        let h = |k: &str| RecordHeader::new(k, Some(Bytes::copy_from_slice(k.as_bytes())));
        let mut headers = RecordHeaders::new();
        assert!(headers.is_empty());
        assert_eq!(format!("{headers:?}"), "[]");
        let mut expected = Vec::new();
        for k in ["a", "b", "c"] {
            headers.push(h(k));
            expected.push(h(k));
            assert_eq!(headers, expected);
            assert_eq!(headers.as_slice(), expected.as_slice());
            assert_eq!(format!("{headers:?}"), format!("{expected:?}"));
            let collected: RecordHeaders = expected.iter().cloned().collect();
            assert_eq!(collected, headers);
            assert_eq!(RecordHeaders::from(expected.clone()), headers);
            assert_eq!(headers.clone().into_iter().collect::<Vec<_>>(), expected);
            assert_eq!(headers.clone().into_iter().len(), expected.len());
            assert_eq!(Vec::from(headers.clone()), expected);
        }
        headers[1].value = None;
        assert_eq!(headers[1].value, None);
        assert_eq!((&headers).into_iter().count(), 3);
        assert_eq!(RecordHeaders::from([h("x")]).len(), 1);
        assert_eq!(RecordHeaders::from(Vec::new()), RecordHeaders::new());
        // One header and a record without any take no header allocation, and a record is
        // no bigger than a header plus its other fields.
        assert_eq!(
            std::mem::size_of::<RecordHeaders>(),
            std::mem::size_of::<RecordHeader>()
        );
    }
}
