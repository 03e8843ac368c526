//! What a consumer hands out, and how a fetched partition's bytes become it: record batches and
//! legacy message sets decoded zero-copy (keys, values and headers are [`Bytes`] ranges of the
//! fetched or decompressed buffer), records before the fetch position dropped, control batches
//! and (under `read_committed`) aborted transactions skipped, and the next position worked out.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use kafkaex_protocol::records::{
    ControlRecordType, DecodeOptions, RecordBatch, RecordHeader, RecordHeaders, TimestampType,
    MAGIC_OFFSET,
};
use kafkaex_protocol::DecodeError;

use crate::offsets::IsolationLevel;

/// One record as a consumer returns it: owned, no lifetimes; key, value and header values are
/// [`Bytes`] ranges of the buffer the record was fetched in, so cloning one is cheap.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp in milliseconds (-1 for magic 0 messages, which have none).
    pub timestamp: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The leader epoch of the batch it was written in (record batches only).
    pub leader_epoch: Option<i32>,
    /// The key; `None` is null.
    pub key: Option<Bytes>,
    /// The value; `None` is null (a tombstone).
    pub value: Option<Bytes>,
    /// The headers, in order.
    pub headers: RecordHeaders,
}

impl ConsumerRecord {
    /// The headers as a slice.
    pub fn headers(&self) -> &[RecordHeader] {
        self.headers.as_slice()
    }

    /// The value of the first header named `key`.
    pub fn header(&self, key: &str) -> Option<&Bytes> {
        self.headers
            .as_slice()
            .iter()
            .find(|h| h.key.as_str() == key)
            .and_then(|h| h.value.as_ref())
    }
}

/// The records of one partition from one fetch, in offset order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionRecords {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The records.
    pub records: Vec<ConsumerRecord>,
    /// The offset the consumer goes on from: after the last record returned or skipped (control
    /// records and aborted transactions leave gaps, so this is not `last offset + 1` of
    /// `records` in general). Commit this to resume after these records.
    pub next_offset: i64,
    /// The partition's high watermark when it was fetched.
    pub high_watermark: i64,
    /// The last stable offset (-1 when the broker did not send one).
    pub last_stable_offset: i64,
    /// The log start offset (-1 when the broker did not send one).
    pub log_start_offset: i64,
}

impl PartitionRecords {
    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// How far the consumer is behind the high watermark after these records.
    pub fn lag(&self) -> i64 {
        (self.high_watermark - self.next_offset).max(0)
    }

    /// Iterates the records.
    pub fn iter(&self) -> std::slice::Iter<'_, ConsumerRecord> {
        self.records.iter()
    }
}

impl IntoIterator for PartitionRecords {
    type Item = ConsumerRecord;
    type IntoIter = std::vec::IntoIter<ConsumerRecord>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.into_iter()
    }
}

impl<'a> IntoIterator for &'a PartitionRecords {
    type Item = &'a ConsumerRecord;
    type IntoIter = std::slice::Iter<'a, ConsumerRecord>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

/// A fetched partition's records field, decoded.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) records: Vec<ConsumerRecord>,
    /// Where the consumer goes on from (the fetch offset when nothing complete came).
    pub(crate) next_offset: i64,
    /// The leader epoch of the last batch read, if any.
    pub(crate) last_epoch: Option<i32>,
    /// The field held only part of a batch: the partition's fetch size is too small for it.
    pub(crate) only_partial: bool,
}

/// What [`decode_partition`] needs besides the bytes.
pub(crate) struct DecodeInput<'a> {
    pub(crate) topic: &'a Arc<str>,
    pub(crate) partition: i32,
    pub(crate) fetch_offset: i64,
    pub(crate) isolation: IsolationLevel,
    /// `(producer_id, first_offset)` of the response's aborted transactions.
    pub(crate) aborted: &'a [(i64, i64)],
    pub(crate) options: &'a DecodeOptions,
}

/// What the consumer does with a fetched partition's `records` field, for benchmarks and tools:
/// the records at or after `fetch_offset` (control records skipped, and under
/// [`IsolationLevel::ReadCommitted`] the batches of `aborted` transactions, given as
/// `(producer_id, first_offset)`), with the offset to go on from. A partial trailing batch is
/// left out.
///
/// # Errors
///
/// The protocol layer's decoding errors (CRC, malformed or oversized batches).
pub fn decode_fetched(
    topic: &Arc<str>,
    partition: i32,
    fetch_offset: i64,
    isolation: IsolationLevel,
    aborted: &[(i64, i64)],
    records: Bytes,
    options: &DecodeOptions,
) -> Result<(Vec<ConsumerRecord>, i64), DecodeError> {
    let d = decode_partition(
        records,
        &DecodeInput {
            topic,
            partition,
            fetch_offset,
            isolation,
            aborted,
            options,
        },
    )?;
    Ok((d.records, d.next_offset))
}

/// Decodes a fetched partition's `records` field into what the consumer returns.
///
/// Errors are the protocol layer's (a CRC mismatch, a malformed batch, a decompression bomb);
/// the records before the bad batch are not returned either, so the caller can report the
/// offset of the first record not returned.
pub(crate) fn decode_partition(
    mut buf: Bytes,
    input: &DecodeInput<'_>,
) -> Result<Decoded, DecodeError> {
    let mut out = Decoded {
        records: Vec::new(),
        next_offset: input.fetch_offset,
        last_epoch: None,
        only_partial: false,
    };
    let committed_only = input.isolation == IsolationLevel::ReadCommitted;
    // Aborted transactions by first offset, smallest first; producers whose aborted
    // transaction has started by the current batch.
    let mut pending: BinaryHeap<Reverse<(i64, i64)>> = if committed_only {
        input
            .aborted
            .iter()
            .map(|&(pid, first)| Reverse((first, pid)))
            .collect()
    } else {
        BinaryHeap::new()
    };
    let mut aborted_producers: HashSet<i64> = HashSet::new();
    let mut complete = 0usize;
    while !buf.is_empty() {
        if buf.len() <= MAGIC_OFFSET {
            break;
        }
        match buf[MAGIC_OFFSET] as i8 {
            2 => {
                let len = i32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                if len >= 0 && 12 + len as usize > buf.len() {
                    // A partial trailing batch: the broker cut it at the fetch size.
                    break;
                }
                let batch = RecordBatch::decode(&mut buf, input.options)?;
                complete += 1;
                let last = batch.last_offset();
                if committed_only && batch.producer_id >= 0 {
                    while pending
                        .peek()
                        .is_some_and(|Reverse((first, _))| *first <= last)
                    {
                        if let Some(Reverse((_, pid))) = pending.pop() {
                            aborted_producers.insert(pid);
                        }
                    }
                    if batch.is_control {
                        if batch.control_type() == Some(ControlRecordType::Abort) {
                            aborted_producers.remove(&batch.producer_id);
                        }
                    } else if batch.is_transactional
                        && aborted_producers.contains(&batch.producer_id)
                    {
                        out.next_offset = out.next_offset.max(last + 1);
                        continue;
                    }
                }
                if last < input.fetch_offset {
                    // A batch wholly before the position (brokers send the batch holding it).
                    continue;
                }
                out.next_offset = out.next_offset.max(last + 1);
                out.last_epoch = Some(batch.partition_leader_epoch).filter(|e| *e >= 0);
                if batch.is_control {
                    continue;
                }
                let epoch = out.last_epoch;
                let timestamp_type = batch.timestamp_type;
                // LogAppendTime: every record has the broker's time, the batch's max timestamp
                // (the records keep the producer's), as Java reads it.
                let append_time =
                    (timestamp_type == TimestampType::LogAppendTime).then_some(batch.max_timestamp);
                out.records.reserve(batch.records.len());
                for r in batch.records {
                    if r.offset < input.fetch_offset {
                        continue;
                    }
                    out.records.push(ConsumerRecord {
                        topic: Arc::clone(input.topic),
                        partition: input.partition,
                        offset: r.offset,
                        timestamp: append_time.unwrap_or(r.timestamp),
                        timestamp_type,
                        leader_epoch: epoch,
                        key: r.key,
                        value: r.value,
                        headers: r.headers,
                    });
                }
            }
            0 | 1 => {
                // Legacy message sets (magic 0/1), from old brokers or old segments: the
                // protocol layer expands compressed wrappers and stops at a partial message.
                let set = kafkaex_protocol::records::decode_records(buf.clone(), input.options)?;
                let mut any = false;
                for entry in set.entries {
                    any = true;
                    match entry {
                        kafkaex_protocol::records::RecordSetEntry::Legacy(m) => {
                            if m.offset < input.fetch_offset {
                                continue;
                            }
                            out.next_offset = out.next_offset.max(m.offset + 1);
                            out.records.push(ConsumerRecord {
                                topic: Arc::clone(input.topic),
                                partition: input.partition,
                                offset: m.offset,
                                timestamp: m.timestamp,
                                timestamp_type: m.timestamp_type,
                                leader_epoch: None,
                                key: m.key,
                                value: m.value,
                                headers: RecordHeaders::default(),
                            });
                        }
                        kafkaex_protocol::records::RecordSetEntry::Batch(b) => {
                            // A field mixing formats: later batches after legacy messages.
                            let last = b.last_offset();
                            if last < input.fetch_offset || b.is_control {
                                out.next_offset = out.next_offset.max(last + 1);
                                continue;
                            }
                            out.next_offset = out.next_offset.max(last + 1);
                            let epoch = Some(b.partition_leader_epoch).filter(|e| *e >= 0);
                            out.last_epoch = epoch;
                            let append_time = (b.timestamp_type == TimestampType::LogAppendTime)
                                .then_some(b.max_timestamp);
                            for r in b.records {
                                if r.offset < input.fetch_offset {
                                    continue;
                                }
                                out.records.push(ConsumerRecord {
                                    topic: Arc::clone(input.topic),
                                    partition: input.partition,
                                    offset: r.offset,
                                    timestamp: append_time.unwrap_or(r.timestamp),
                                    timestamp_type: b.timestamp_type,
                                    leader_epoch: epoch,
                                    key: r.key,
                                    value: r.value,
                                    headers: r.headers,
                                });
                            }
                        }
                    }
                }
                if any {
                    complete += 1;
                }
                if set.truncated && !any {
                    out.only_partial = complete == 0;
                }
                return Ok(out);
            }
            m => return Err(DecodeError::UnknownMagic(m)),
        }
    }
    out.only_partial = complete == 0 && !buf.is_empty();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkaex_protocol::records::{Compression, Record};

    fn batch(base: i64, values: &[&str], pid: i64, transactional: bool) -> RecordBatch {
        let mut b = RecordBatch::new(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Record {
                    offset: base + i as i64,
                    timestamp: 1000 + i as i64,
                    value: Some(Bytes::from(v.to_string())),
                    ..Record::default()
                })
                .collect(),
        );
        b.base_offset = base;
        b.producer_id = pid;
        b.producer_epoch = if pid >= 0 { 0 } else { -1 };
        b.base_sequence = if pid >= 0 { 0 } else { -1 };
        b.is_transactional = transactional;
        b.partition_leader_epoch = 3;
        b.compression = Compression::None;
        b.recompute_bounds();
        b
    }

    fn marker(offset: i64, pid: i64, abort: bool) -> RecordBatch {
        let mut key = bytes::BytesMut::new();
        key.extend_from_slice(&0i16.to_be_bytes());
        key.extend_from_slice(&(if abort { 0i16 } else { 1i16 }).to_be_bytes());
        let r = Record {
            offset,
            key: Some(key.freeze()),
            value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
            ..Record::default()
        };
        let mut b = RecordBatch::new(vec![r]);
        b.base_offset = offset;
        b.producer_id = pid;
        b.producer_epoch = 0;
        b.is_transactional = true;
        b.is_control = true;
        b.recompute_bounds();
        b
    }

    fn field(batches: &[RecordBatch]) -> Bytes {
        let mut out = bytes::BytesMut::new();
        for b in batches {
            b.encode(&mut out).unwrap();
        }
        out.freeze()
    }

    fn run(
        bytes: Bytes,
        fetch_offset: i64,
        isolation: IsolationLevel,
        aborted: &[(i64, i64)],
    ) -> Decoded {
        let topic: Arc<str> = Arc::from("t");
        decode_partition(
            bytes,
            &DecodeInput {
                topic: &topic,
                partition: 0,
                fetch_offset,
                isolation,
                aborted,
                options: &DecodeOptions::default(),
            },
        )
        .unwrap()
    }

    fn values(d: &Decoded) -> Vec<String> {
        d.records
            .iter()
            .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn log_append_time_records_carry_the_brokers_time() {
        let mut b = batch(0, &["a", "b"], -1, false);
        b.timestamp_type = TimestampType::LogAppendTime;
        b.max_timestamp = 1_800_000_000_000;
        let d = run(field(&[b]), 0, IsolationLevel::ReadUncommitted, &[]);
        assert!(d.records.iter().all(|r| r.timestamp == 1_800_000_000_000
            && r.timestamp_type == TimestampType::LogAppendTime));
    }

    #[test]
    fn records_before_the_position_are_dropped() {
        let bytes = field(&[batch(10, &["a", "b", "c"], -1, false)]);
        let d = run(bytes, 11, IsolationLevel::ReadUncommitted, &[]);
        assert_eq!(values(&d), ["b", "c"]);
        assert_eq!(d.next_offset, 13);
        assert_eq!(d.last_epoch, Some(3));
        assert_eq!(d.records[0].offset, 11);
    }

    #[test]
    fn aborted_transactions_are_skipped_under_read_committed_only() {
        // Producer 7 aborts offsets 0-1 (marker at 2); producer 8 commits 3-4 (marker at 5);
        // a plain record at 6.
        let bytes = field(&[
            batch(0, &["x1", "x2"], 7, true),
            marker(2, 7, true),
            batch(3, &["c1", "c2"], 8, true),
            marker(5, 8, false),
            batch(6, &["plain"], -1, false),
        ]);
        let committed = run(bytes.clone(), 0, IsolationLevel::ReadCommitted, &[(7, 0)]);
        assert_eq!(values(&committed), ["c1", "c2", "plain"]);
        assert_eq!(committed.next_offset, 7);
        let all = run(bytes, 0, IsolationLevel::ReadUncommitted, &[(7, 0)]);
        assert_eq!(values(&all), ["x1", "x2", "c1", "c2", "plain"]);
        assert_eq!(all.next_offset, 7);
    }

    #[test]
    fn a_producer_aborting_twice_is_skipped_both_times_and_not_between() {
        let bytes = field(&[
            batch(0, &["a1"], 7, true),
            marker(1, 7, true),
            batch(2, &["ok"], 7, true),
            marker(3, 7, false),
            batch(4, &["a2"], 7, true),
            marker(5, 7, true),
        ]);
        let d = run(bytes, 0, IsolationLevel::ReadCommitted, &[(7, 0), (7, 4)]);
        assert_eq!(values(&d), ["ok"]);
        assert_eq!(d.next_offset, 6);
    }

    #[test]
    fn a_trailing_partial_batch_is_left_for_the_next_fetch() {
        let whole = field(&[
            batch(0, &["a", "b"], -1, false),
            batch(2, &["c"], -1, false),
        ]);
        let cut = whole.slice(..whole.len() - 5);
        let d = run(cut.clone(), 0, IsolationLevel::ReadUncommitted, &[]);
        assert_eq!(values(&d), ["a", "b"]);
        assert_eq!(d.next_offset, 2);
        assert!(!d.only_partial);
        // Only a partial batch: nothing, and the fetch size is too small.
        let only = run(cut.slice(..20), 0, IsolationLevel::ReadUncommitted, &[]);
        assert!(only.records.is_empty());
        assert!(only.only_partial);
        assert_eq!(only.next_offset, 0);
    }

    #[test]
    fn a_corrupt_batch_is_an_error_not_a_panic() {
        let good = field(&[batch(0, &["a", "b"], -1, false)]);
        let mut bad = good.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let topic: Arc<str> = Arc::from("t");
        let result = decode_partition(
            Bytes::from(bad),
            &DecodeInput {
                topic: &topic,
                partition: 0,
                fetch_offset: 0,
                isolation: IsolationLevel::ReadUncommitted,
                aborted: &[],
                options: &DecodeOptions::default(),
            },
        );
        assert!(result.is_err());
        // Arbitrary bytes: an error or nothing, never a panic.
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..100u8)
                .map(|i| i.wrapping_mul(n).wrapping_add(n))
                .collect();
            let _ = decode_partition(
                Bytes::from(junk),
                &DecodeInput {
                    topic: &topic,
                    partition: 0,
                    fetch_offset: 0,
                    isolation: IsolationLevel::ReadCommitted,
                    aborted: &[(1, 0)],
                    options: &DecodeOptions::default(),
                },
            );
        }
    }

    /// One `record ...` line of the fixtures' Java listing: offset, timestamp, key, value.
    fn java_record(line: &str) -> (i64, i64, Option<String>, Option<String>) {
        let field = |name: &str| -> Option<String> {
            let at = line.find(&format!(" {name}="))? + name.len() + 2;
            let rest = &line[at..];
            if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"')?;
                Some(quoted[..end].to_owned())
            } else {
                Some(rest.split(' ').next()?.to_owned())
            }
        };
        let num = |name: &str| field(name).and_then(|v| v.parse().ok()).unwrap_or(-1);
        let text = |name: &str| field(name).filter(|v| v != "null");
        (num("offset"), num("timestamp"), text("key"), text("value"))
    }

    #[test]
    fn java_written_record_sets_of_every_magic_and_codec_are_read_as_java_lists_them() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../kafkaex-protocol/tests/fixtures/records");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("bin") {
                continue;
            }
            let listing = path.with_extension("java.txt");
            let Ok(listing) = std::fs::read_to_string(&listing) else {
                continue;
            };
            let expected: Vec<_> = listing
                .lines()
                .filter(|l| l.starts_with("record "))
                .map(java_record)
                .collect();
            let bytes = Bytes::from(std::fs::read(&path).unwrap());
            for from in [0, 2] {
                let d = run(bytes.clone(), from, IsolationLevel::ReadUncommitted, &[]);
                let got: Vec<_> = d
                    .records
                    .iter()
                    .map(|r| {
                        let text = |b: &Option<Bytes>| {
                            b.as_ref().map(|b| String::from_utf8(b.to_vec()).unwrap())
                        };
                        (r.offset, r.timestamp, text(&r.key), text(&r.value))
                    })
                    .collect();
                let want: Vec<_> = expected.iter().filter(|e| e.0 >= from).cloned().collect();
                assert_eq!(got, want, "{} from {from}", path.display());
                assert_eq!(d.next_offset, expected.last().unwrap().0 + 1);
            }
            checked += 1;
        }
        assert!(
            checked >= 15,
            "only {checked} fixtures found in {}",
            dir.display()
        );
    }
}
