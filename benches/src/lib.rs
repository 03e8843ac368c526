//! Criterion benchmarks for kafkaex-rs; the benchmarks are in `benches/`, the workloads here.
//!
//! The record batch benchmark (`benches/records.rs`) times three things on the same payload:
//!
//! - **kafkaex**: [`kafkaex_protocol::records`], encoding [`RecordBatch`]es into one buffer and
//!   decoding them zero-copy (plus [`RecordBatchBuilder`], which encodes without building records,
//!   and [`RecordBatchView`], which reads records without building them: its own line, see
//!   [`decode_kafkaex_view`]);
//! - **kafka-protocol**: the `kafka-protocol` crate's `RecordBatchEncoder`/`RecordBatchDecoder`,
//!   the best-known generated Rust implementation, as the baseline;
//! - **floor**: what no encoder or decoder can avoid (see [`encode_floor`] and [`decode_floor`]).
//!
//! The workloads live in this library rather than in the benchmark so that
//! [`check_equivalent`] can run as an ordinary test too: the numbers only mean something if both
//! implementations produce and read the same batches.

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records as kp;
use kafkaex_protocol::records::compression::{self, Compression};
use kafkaex_protocol::records::{
    DecodeOptions, HeaderKey, Record, RecordBatch, RecordBatchBuilder, RecordBatchView,
    RecordHeader,
};

/// Bytes in each record key.
pub const KEY_LEN: usize = 10;
/// Bytes in each record value.
pub const VALUE_LEN: usize = 100;
/// The key of each record's one header.
pub const HEADER_KEY: &str = "h";
/// Bytes in each record's header value.
pub const HEADER_VALUE_LEN: usize = 8;
/// Timestamp of the first record; record `i` is `i` milliseconds later.
pub const BASE_TIMESTAMP: i64 = 1_700_000_000_000;
/// The batch sizes benchmarked, in records.
pub const RECORD_COUNTS: [usize; 3] = [1, 100, 1000];
/// The codecs benchmarked, uncompressed first.
pub const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Offset of the records count in a batch (magic 2); the records follow it.
const RECORDS_COUNT_OFFSET: usize = 57;
/// Offset of the attributes in a batch; the CRC covers them to the end.
const ATTRIBUTES_OFFSET: usize = 21;
/// Offset of the stored CRC32C in a batch.
const CRC_OFFSET: usize = 17;

/// The record payloads of one batch: keys, values and header values, one of each per record.
#[derive(Clone, Debug)]
pub struct Payload {
    /// Record keys, [`KEY_LEN`] bytes each (`key-000042`).
    pub keys: Vec<Bytes>,
    /// Record values, [`VALUE_LEN`] bytes each.
    pub values: Vec<Bytes>,
    /// Values of the [`HEADER_KEY`] header, [`HEADER_VALUE_LEN`] bytes each.
    pub header_values: Vec<Bytes>,
}

impl Payload {
    /// The payload of a batch of `records` records.
    ///
    /// Values are a JSON-ish prefix followed by pseudo-random lowercase letters, so codecs find
    /// some redundancy (as in real payloads) but not the unrealistic all-equal kind.
    pub fn new(records: usize) -> Payload {
        let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            // xorshift64: deterministic, so every run encodes the same bytes.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut keys = Vec::with_capacity(records);
        let mut values = Vec::with_capacity(records);
        let mut header_values = Vec::with_capacity(records);
        for i in 0..records {
            let key = format!("key-{:06}", i % 1_000_000);
            debug_assert_eq!(key.len(), KEY_LEN);
            keys.push(Bytes::from(key));
            let mut value = format!("{{\"id\":{i:08},\"body\":\"").into_bytes();
            while value.len() < VALUE_LEN - 2 {
                value.push(b'a' + (next() % 26) as u8);
            }
            value.extend_from_slice(b"\"}");
            values.push(Bytes::from(value));
            header_values.push(Bytes::copy_from_slice(&next().to_be_bytes()));
        }
        Payload {
            keys,
            values,
            header_values,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the payload has no records.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes of payload: keys, values, header keys and header values. The benchmarks' throughput
    /// is this many bytes per iteration, whatever the codec.
    pub fn payload_bytes(&self) -> usize {
        self.len() * (KEY_LEN + VALUE_LEN + HEADER_KEY.len() + HEADER_VALUE_LEN)
    }

    /// The records as a kafkaex [`RecordBatch`] with `compression` (offsets from 0).
    pub fn kafkaex_batch(&self, compression: Compression) -> RecordBatch {
        let records = (0..self.len())
            .map(|i| Record {
                offset: i as i64,
                timestamp: BASE_TIMESTAMP + i as i64,
                key: Some(self.keys[i].clone()),
                value: Some(self.values[i].clone()),
                headers: [RecordHeader {
                    key: HeaderKey::from_static(HEADER_KEY),
                    value: Some(self.header_values[i].clone()),
                }]
                .into(),
                ..Record::default()
            })
            .collect();
        let mut batch = RecordBatch::new(records);
        batch.compression = compression;
        batch
    }

    /// The records as `kafka-protocol` records, with the same batch fields kafkaex writes.
    pub fn kafka_protocol_records(&self) -> Vec<kp::Record> {
        (0..self.len())
            .map(|i| {
                let mut headers = kafka_protocol::indexmap::IndexMap::new();
                headers.insert(
                    StrBytes::from_static_str(HEADER_KEY),
                    Some(self.header_values[i].clone()),
                );
                kp::Record {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: -1,
                    producer_id: -1,
                    producer_epoch: -1,
                    timestamp_type: kp::TimestampType::Creation,
                    offset: i as i64,
                    // kafka-protocol starts a new batch whenever `offset - sequence` changes, and
                    // writes the first record's sequence as the base sequence; this keeps one
                    // batch with base sequence -1 (no idempotent producer), as kafkaex writes.
                    sequence: i as i32 - 1,
                    timestamp: BASE_TIMESTAMP + i as i64,
                    key: Some(self.keys[i].clone()),
                    value: Some(self.values[i].clone()),
                    headers,
                }
            })
            .collect()
    }
}

/// The `kafka-protocol` codec for a kafkaex codec.
pub fn kafka_protocol_compression(c: Compression) -> kp::Compression {
    match c {
        Compression::None => kp::Compression::None,
        Compression::Gzip => kp::Compression::Gzip,
        Compression::Snappy => kp::Compression::Snappy,
        Compression::Lz4 => kp::Compression::Lz4,
        Compression::Zstd => kp::Compression::Zstd,
    }
}

/// The CRC32C the floors compute: the implementation kafkaex is built with (the `crc32c` crate,
/// or `crc-fast` with this crate's `crc-fast` feature), so that the floors stay floors.
/// kafka-protocol uses the `crc32c` crate.
#[cfg(not(feature = "crc-fast"))]
pub fn crc32c(data: &[u8]) -> u32 {
    ::crc32c::crc32c(data)
}

/// The CRC32C the floors compute, with `crc-fast` (see the other `crc32c`).
#[cfg(feature = "crc-fast")]
pub fn crc32c(data: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, data) as u32
}

/// kafkaex: encodes `batch` into `buf` (cleared first, so its capacity is reused).
pub fn encode_kafkaex(batch: &RecordBatch, buf: &mut BytesMut) {
    buf.clear();
    batch.encode(buf).expect("kafkaex encodes the batch");
}

/// Each record's headers as kafkaex [`RecordHeader`]s, for [`encode_kafkaex_builder`]. Built
/// once outside the timed loop, as the records of the other encoders are.
pub fn kafkaex_headers(payload: &Payload) -> Vec<[RecordHeader; 1]> {
    payload
        .header_values
        .iter()
        .map(|v| {
            [RecordHeader {
                key: HeaderKey::from_static(HEADER_KEY),
                value: Some(v.clone()),
            }]
        })
        .collect()
}

/// kafkaex: encodes the payload with [`RecordBatchBuilder`], straight from the payload slices
/// (what a producer does; no [`Record`]s are built). `headers` are [`kafkaex_headers`]. The
/// builder owns its buffer, so this allocates one per batch.
pub fn encode_kafkaex_builder(
    payload: &Payload,
    headers: &[[RecordHeader; 1]],
    compression: Compression,
) -> Bytes {
    let headers_len = HEADER_KEY.len() + HEADER_VALUE_LEN + 2;
    // Two bytes per length/delta varint is enough here; the builder grows if not.
    let capacity = payload.len() * (KEY_LEN + VALUE_LEN + headers_len + 12);
    let mut b = RecordBatchBuilder::with_capacity(0, BASE_TIMESTAMP, compression, capacity);
    let records = payload.keys.iter().zip(&payload.values).zip(headers);
    for (i, ((key, value), headers)) in records.enumerate() {
        b.append(BASE_TIMESTAMP + i as i64, Some(key), Some(value), headers)
            .expect("kafkaex appends the record");
    }
    b.finish().expect("kafkaex finishes the batch")
}

/// kafka-protocol: encodes `records` into `buf` (cleared first, so its capacity is reused).
pub fn encode_kafka_protocol(records: &[kp::Record], compression: Compression, buf: &mut BytesMut) {
    buf.clear();
    let options = kp::RecordEncodeOptions {
        version: 2,
        compression: kafka_protocol_compression(compression),
    };
    kp::RecordBatchEncoder::encode(buf, records, &options).expect("kafka-protocol encodes");
}

/// Encode floor: copies the payload (keys, values, header keys and values) into `buf`,
/// pre-sized, compresses it into `compressed` with the codec (the same codec implementation and
/// level kafkaex uses) unless uncompressed, and computes the CRC32C of the result.
///
/// No encoder can do less: it must at least move the payload into the output, compress it and
/// checksum it. Everything else an encoder does (varints, the header, back-patching) is overhead.
pub fn encode_floor(
    payload: &Payload,
    codec: Compression,
    buf: &mut BytesMut,
    compressed: &mut BytesMut,
) -> u32 {
    buf.clear();
    buf.reserve(payload.payload_bytes());
    for i in 0..payload.len() {
        buf.extend_from_slice(&payload.keys[i]);
        buf.extend_from_slice(&payload.values[i]);
        buf.extend_from_slice(HEADER_KEY.as_bytes());
        buf.extend_from_slice(&payload.header_values[i]);
    }
    if codec == Compression::None {
        crc32c(buf)
    } else {
        compressed.clear();
        compression::compress_into(codec, 2, buf, compressed).expect("codec compresses");
        crc32c(compressed)
    }
}

/// kafkaex: decodes one batch (CRC checked, zero-copy).
pub fn decode_kafkaex(batch: &Bytes) -> RecordBatch {
    let mut buf = batch.clone();
    RecordBatch::decode(&mut buf, &DecodeOptions::default()).expect("kafkaex decodes the batch")
}

/// kafkaex, lazily: checks one batch (CRC, codec, record count) as [`decode_kafkaex`] does, then
/// walks every record with [`RecordBatchView`], reading each key, value and header (keys checked
/// as UTF-8) as borrowed slices; nothing is materialized. Not the same work as
/// [`decode_kafkaex`] and `kafka-protocol` (which build owned records): the benchmarks report it
/// as its own line.
///
/// Returns the total key, value and header bytes seen, as [`decode_floor`] does.
pub fn decode_kafkaex_view(batch: &Bytes) -> usize {
    let mut buf = batch.clone();
    let view = RecordBatchView::decode(&mut buf, &DecodeOptions::default())
        .expect("kafkaex checks the batch");
    let mut found = 0;
    for r in view.records() {
        let r = r.expect("kafkaex reads the record");
        found += r.key.map_or(0, <[u8]>::len) + r.value.map_or(0, <[u8]>::len);
        for h in r.headers {
            let (k, v) = h.expect("kafkaex reads the header");
            found += k.len() + v.map_or(0, <[u8]>::len);
        }
    }
    found
}

/// kafkaex's consumer: what it does with a fetched partition holding this batch (CRC checked,
/// control and aborted batches filtered) into owned `ConsumerRecord`s whose keys, values and
/// headers are `Bytes` ranges of the batch. The same work as [`decode_kafkaex`] plus the
/// consumer's per-record fields (topic, partition, epoch).
pub fn decode_kafkaex_consumer(batch: &Bytes) -> Vec<kafkaex_client::ConsumerRecord> {
    let topic: std::sync::Arc<str> = std::sync::Arc::from("bench");
    kafkaex_client::consumer::records::decode_fetched(
        &topic,
        0,
        0,
        kafkaex_client::consumer::IsolationLevel::ReadUncommitted,
        &[],
        batch.clone(),
        &DecodeOptions::default(),
    )
    .expect("the consumer decodes the batch")
    .0
}

/// kafka-protocol: decodes one batch (it always checks the CRC).
pub fn decode_kafka_protocol(batch: &Bytes) -> kp::RecordSet {
    let mut buf = batch.clone();
    kp::RecordBatchDecoder::decode(&mut buf).expect("kafka-protocol decodes the batch")
}

/// Decode floor: checks the CRC32C of the batch, decompresses the records (for compressed
/// batches, with the codec kafkaex uses) and walks them: every record's length, attributes,
/// deltas, key, value and headers are located (lengths read, bytes skipped), but nothing is
/// materialized (no `Bytes` handles, no vectors).
///
/// Returns the total key, value and header bytes found, so the walk cannot be optimized away.
///
/// # Panics
///
/// On a batch that is corrupt or cut short.
pub fn decode_floor(batch: &[u8]) -> usize {
    let stored = u32::from_be_bytes(batch[CRC_OFFSET..CRC_OFFSET + 4].try_into().unwrap());
    assert_eq!(stored, crc32c(&batch[ATTRIBUTES_OFFSET..]), "CRC");
    let attributes = i16::from_be_bytes([batch[ATTRIBUTES_OFFSET], batch[ATTRIBUTES_OFFSET + 1]]);
    let count = u32::from_be_bytes(
        batch[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4]
            .try_into()
            .unwrap(),
    ) as usize;
    let section = &batch[RECORDS_COUNT_OFFSET + 4..];
    let codec = Compression::from_attributes(attributes).expect("known codec");
    if codec == Compression::None {
        walk_records(section, count)
    } else {
        let data = compression::decompress(
            codec,
            section,
            DecodeOptions::default().max_decompressed_bytes,
        )
        .expect("decompresses");
        walk_records(&data, count)
    }
}

/// Walks `count` records filling `data`; see [`decode_floor`].
fn walk_records(data: &[u8], count: usize) -> usize {
    let mut pos = 0;
    let mut found = 0;
    for _ in 0..count {
        let len = varint(data, &mut pos) as usize;
        let end = pos + len;
        pos += 1; // attributes
        varint(data, &mut pos); // timestamp delta (a varlong; same encoding)
        varint(data, &mut pos); // offset delta
        found += skip_bytes(data, &mut pos); // key
        found += skip_bytes(data, &mut pos); // value
        let headers = varint(data, &mut pos);
        for _ in 0..headers {
            found += skip_bytes(data, &mut pos); // header key
            found += skip_bytes(data, &mut pos); // header value
        }
        assert_eq!(pos, end, "record length");
    }
    assert_eq!(pos, data.len(), "records fill the batch");
    found
}

/// Reads a zigzag varint (or varlong) at `pos`.
#[inline(always)]
fn varint(data: &[u8], pos: &mut usize) -> i64 {
    // One byte, as most lengths and deltas are: the shortest path (decoders have it too).
    let b = data[*pos];
    if b < 0x80 {
        *pos += 1;
        return i64::from(b >> 1) ^ -i64::from(b & 1);
    }
    let mut raw: u64 = 0;
    let mut shift = 0;
    loop {
        let b = data[*pos];
        *pos += 1;
        raw |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        assert!(shift < 64, "varint too long");
    }
    ((raw >> 1) as i64) ^ -((raw & 1) as i64)
}

/// Skips a varint-length-prefixed nullable byte string at `pos`, returning its length.
fn skip_bytes(data: &[u8], pos: &mut usize) -> usize {
    let len = varint(data, pos);
    if len < 0 {
        return 0;
    }
    *pos += len as usize;
    assert!(*pos <= data.len(), "bytes past the end");
    len as usize
}

/// Checks that kafkaex and kafka-protocol produce equivalent batches of `payload` with `codec`,
/// so the benchmarks compare like with like:
///
/// - each reads the other's encoding back to exactly the payload (offsets, timestamps, keys,
///   values, headers), and kafkaex reads kafka-protocol's encoding to the same [`RecordBatch`]
///   (batch fields included) it encodes itself;
/// - uncompressed, the two encodings (and [`RecordBatchBuilder`]'s) are byte-for-byte equal;
/// - the decode floor walks kafkaex's encoding and finds all the payload.
pub fn check_equivalent(payload: &Payload, codec: Compression) -> Result<(), String> {
    let ours_batch = payload.kafkaex_batch(codec);
    let mut ours = BytesMut::new();
    encode_kafkaex(&ours_batch, &mut ours);
    let ours = ours.freeze();
    let builder = encode_kafkaex_builder(payload, &kafkaex_headers(payload), codec);
    let mut theirs = BytesMut::new();
    encode_kafka_protocol(&payload.kafka_protocol_records(), codec, &mut theirs);
    let theirs = theirs.freeze();

    if codec == Compression::None {
        if ours != theirs {
            return Err(format!("{codec}: kafkaex and kafka-protocol bytes differ"));
        }
        if ours != builder {
            return Err(format!(
                "{codec}: RecordBatch and RecordBatchBuilder bytes differ"
            ));
        }
    }

    for (who, bytes) in [("kafkaex", &ours), ("kafkaex builder", &builder)] {
        let mut buf = bytes.clone();
        let set = kp::RecordBatchDecoder::decode(&mut buf)
            .map_err(|e| format!("{codec}: kafka-protocol cannot read {who}'s batch: {e}"))?;
        if !buf.is_empty() {
            return Err(format!("{codec}: {who}'s batch has trailing bytes"));
        }
        if set.compression != kafka_protocol_compression(codec) {
            return Err(format!("{codec}: kafka-protocol reads {who}'s codec wrong"));
        }
        check_kafka_protocol_records(payload, &set.records)
            .map_err(|e| format!("{codec}: kafka-protocol reading {who}'s batch: {e}"))?;
    }

    let decoded = decode_kafkaex(&theirs);
    if decoded != ours_batch {
        return Err(format!(
            "{codec}: kafkaex reads kafka-protocol's batch differently from the batch it encodes"
        ));
    }
    let decoded = decode_kafkaex(&ours);
    if decoded != ours_batch {
        return Err(format!("{codec}: kafkaex round trip differs"));
    }

    let found = decode_floor(&ours);
    if found != payload.payload_bytes() {
        return Err(format!(
            "{codec}: the decode floor found {found} payload bytes, not {}",
            payload.payload_bytes()
        ));
    }
    let found = decode_kafkaex_view(&ours);
    if found != payload.payload_bytes() {
        return Err(format!(
            "{codec}: the kafkaex view found {found} payload bytes, not {}",
            payload.payload_bytes()
        ));
    }
    Ok(())
}

fn check_kafka_protocol_records(payload: &Payload, records: &[kp::Record]) -> Result<(), String> {
    if records.len() != payload.len() {
        return Err(format!("{} records, not {}", records.len(), payload.len()));
    }
    for (i, r) in records.iter().enumerate() {
        let header = r.headers.get(&StrBytes::from_static_str(HEADER_KEY));
        let ok = r.offset == i as i64
            && r.timestamp == BASE_TIMESTAMP + i as i64
            && r.key.as_ref() == Some(&payload.keys[i])
            && r.value.as_ref() == Some(&payload.values[i])
            && r.headers.len() == 1
            && header == Some(&Some(payload.header_values[i].clone()));
        if !ok {
            return Err(format!("record {i} differs: {r:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_sizes() {
        let p = Payload::new(3);
        assert!(p.keys.iter().all(|k| k.len() == KEY_LEN));
        assert!(p.values.iter().all(|v| v.len() == VALUE_LEN));
        assert!(p.header_values.iter().all(|v| v.len() == HEADER_VALUE_LEN));
        assert_eq!(p.payload_bytes(), 3 * 119);
    }

    #[test]
    fn implementations_are_equivalent() {
        for n in RECORD_COUNTS {
            let payload = Payload::new(n);
            for codec in CODECS {
                check_equivalent(&payload, codec).unwrap();
            }
        }
    }

    #[test]
    fn encode_floor_is_deterministic() {
        let p = Payload::new(10);
        let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
        let crc = encode_floor(&p, Compression::None, &mut a, &mut b);
        assert_eq!(a.len(), p.payload_bytes());
        assert_eq!(crc, encode_floor(&p, Compression::None, &mut a, &mut b));
    }
}
