//! Golden record sets: bytes written by real, independent peers, and the Java client reading
//! what we write.
//!
//! - `decodes_*`: every file in `tests/fixtures/records/` (Kafka brokers storing batches from the
//!   Java producer and from librdkafka; see the README there) decodes with
//!   [`kafkaex_protocol::records::decode_records`] to exactly the records that were produced,
//!   and to exactly what the Java client reads from the same bytes (`*.java.txt`).
//! - `encodes_*`: our encoders, fed the same records, write bytes that decode back to them, and
//!   where the format leaves no freedom (no compression) the very bytes Kafka stored.
//! - `java_reads_*`: the Java client (`interop/java`, `Verify`) validates what our encoders write
//!   (CRCs, compression framing, lengths) and reads back exactly what we put in. These need Java
//!   and `cargo xtask interop build`; without `KAFKAEX_INTEROP` set they skip, saying so loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

use bytes::{Bytes, BytesMut};
use kafkaex_protocol::records::{
    decode_records, Compression, DecodeOptions, LegacyMessage, MessageSet, Record, RecordBatch,
    RecordBatchBuilder, RecordHeader, RecordSet, RecordSetEntry, TimestampType,
};

// ---------------------------------------------------------------------------------------------
// The record sets and the canonical dump (the format of interop/java/.../Verify.java).
// ---------------------------------------------------------------------------------------------

/// One record as the Java client reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    offset: i64,
    /// -1 for magic 0, which has no timestamps (Java's `RecordBatch.NO_TIMESTAMP`).
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// First timestamp of the Java record set; record `i` has `BASE_TIMESTAMP + i`.
const BASE_TIMESTAMP: i64 = 1_700_000_000_000;

/// The record set `Produce.java` writes (fixtures README): keys `k0`..`k4` with record 1's null,
/// values `value-0`..`value-4` with record 2's null, header `h=v` on record 0 (magic 2 only),
/// timestamps `BASE_TIMESTAMP + i` (none in magic 0).
fn java_record_set(magic: i8) -> Vec<Rec> {
    (0..5)
        .map(|i| Rec {
            offset: i,
            timestamp: if magic == 0 { -1 } else { BASE_TIMESTAMP + i },
            key: (i != 1).then(|| format!("k{i}").into_bytes()),
            value: (i != 2).then(|| format!("value-{i}").into_bytes()),
            headers: if i == 0 && magic == 2 {
                vec![("h".to_string(), Some(b"v".to_vec()))]
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// The record set kcat wrote (fixtures README): the same keys and values, header `h=v` on every
/// record, and one producer-clock timestamp for all five.
fn librdkafka_record_set(timestamp: i64) -> Vec<Rec> {
    java_record_set(2)
        .into_iter()
        .map(|r| Rec {
            timestamp,
            headers: vec![("h".to_string(), Some(b"v".to_vec()))],
            ..r
        })
        .collect()
}

/// `"..."` with printable ASCII as is (`"` and `\` backslash-escaped), other bytes as `\xNN`;
/// `null` for None. Mirrors `Verify.quote`.
fn quote(bytes: Option<&[u8]>) -> String {
    let Some(bytes) = bytes else {
        return "null".to_string();
    };
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(b as char);
            }
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// The `record ...` line `Verify.java` prints for `r`.
fn record_line(r: &Rec) -> String {
    let headers: Vec<String> = r
        .headers
        .iter()
        .map(|(k, v)| format!("{}={}", quote(Some(k.as_bytes())), quote(v.as_deref())))
        .collect();
    format!(
        "record offset={} timestamp={} key={} value={} headers=[{}]",
        r.offset,
        r.timestamp,
        quote(r.key.as_deref()),
        quote(r.value.as_deref()),
        headers.join(",")
    )
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(format!("{name}.bin"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The Java client's dump of fixture `name` (`name.java.txt`, written by `xtask interop capture`).
fn java_dump(name: &str) -> String {
    let path = fixtures_dir().join(format!("{name}.java.txt"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Only the `record ...` lines of a dump.
fn record_lines(dump: &str) -> Vec<String> {
    dump.lines()
        .filter(|l| l.starts_with("record "))
        .map(str::to_owned)
        .collect()
}

/// A dump without its closing line's byte count (which depends on the compressor's output).
fn without_byte_count(dump: &str) -> String {
    dump.lines()
        .map(|l| match l.find(" bytes=") {
            Some(i) if l.starts_with("end ") => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Running the Java client's Verify.
// ---------------------------------------------------------------------------------------------

/// Runs `Verify` on `bytes` and returns its dump, or `None` (after saying so, loudly) when
/// `KAFKAEX_INTEROP` is unset.
///
/// Needs `cargo xtask interop build` to have built `target/interop/` first (CI does).
fn java_verify(name: &str, bytes: &[u8]) -> Option<String> {
    if std::env::var_os("KAFKAEX_INTEROP").is_none() {
        eprintln!(
            "\n*** SKIPPED {name}: KAFKAEX_INTEROP is unset, so the Java client was not asked to \
             verify our encoding. Run `cargo xtask interop build` and set KAFKAEX_INTEROP=1. ***\n"
        );
        return None;
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop");
    let jar = out.join("kafkaex-interop.jar");
    assert!(
        jar.exists(),
        "{} is missing: run `cargo xtask interop build` before the tests",
        jar.display()
    );
    let file =
        std::env::temp_dir().join(format!("kafkaex-golden-{}-{name}.bin", std::process::id()));
    std::fs::write(&file, bytes).expect("writing the temp file");
    let output = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{}", jar.display(), out.join("lib/*").display()))
        .arg("io.kafkaex.interop.Verify")
        .arg(&file)
        .output()
        .expect("running java");
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "the Java client rejected our {name} encoding:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).expect("the dump is ASCII"))
}

// ---------------------------------------------------------------------------------------------
// Our types to and from the record sets.
// ---------------------------------------------------------------------------------------------

fn codec_named(name: &str) -> Compression {
    match name {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => panic!("unknown codec {other}"),
    }
}

fn decode(bytes: &[u8]) -> RecordSet {
    decode_records(Bytes::copy_from_slice(bytes), &DecodeOptions::default())
        .unwrap_or_else(|e| panic!("decode_records failed: {e}"))
}

fn rec_of_record(r: &Record) -> Rec {
    Rec {
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key.as_ref().map(|b| b.to_vec()),
        value: r.value.as_ref().map(|b| b.to_vec()),
        headers: r
            .headers
            .iter()
            .map(|h| {
                (
                    h.key.as_str().to_owned(),
                    h.value.as_ref().map(|v| v.to_vec()),
                )
            })
            .collect(),
    }
}

fn rec_of_message(m: &LegacyMessage) -> Rec {
    Rec {
        offset: m.offset,
        timestamp: m.timestamp,
        key: m.key.as_ref().map(|b| b.to_vec()),
        value: m.value.as_ref().map(|b| b.to_vec()),
        headers: Vec::new(),
    }
}

/// Every record of a decoded set, batches and legacy messages alike, in order.
fn recs(set: &RecordSet) -> Vec<Rec> {
    set.entries
        .iter()
        .flat_map(|e| match e {
            RecordSetEntry::Batch(b) => b.records.iter().map(rec_of_record).collect::<Vec<_>>(),
            RecordSetEntry::Legacy(m) => vec![rec_of_message(m)],
        })
        .collect()
}

fn timestamp_type_name(t: TimestampType) -> &'static str {
    match t {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

/// The `batch ...` line `Verify.java` prints for a record batch.
fn batch_line(b: &RecordBatch) -> String {
    format!(
        "batch magic=2 codec={} base_offset={} last_offset={} timestamp_type={} producer_id={} \
         producer_epoch={} base_sequence={} transactional={} control={}",
        b.compression.name(),
        b.base_offset,
        b.last_offset(),
        timestamp_type_name(b.timestamp_type),
        b.producer_id,
        b.producer_epoch,
        b.base_sequence,
        b.is_transactional,
        b.is_control
    )
}

/// The Java client's dump of one record batch holding `records` (without the `end` line).
fn batch_dump(b: &RecordBatch, records: &[Rec]) -> String {
    let mut s = batch_line(b);
    s.push('\n');
    for r in records {
        s.push_str(&record_line(r));
        s.push('\n');
    }
    s
}

fn record_of(r: &Rec) -> Record {
    Record {
        attributes: 0,
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key.clone().map(Bytes::from),
        value: r.value.clone().map(Bytes::from),
        headers: headers_of(r).into(),
    }
}

fn headers_of(r: &Rec) -> Vec<RecordHeader> {
    r.headers
        .iter()
        .map(|(k, v)| RecordHeader::new(k.as_str(), v.clone().map(Bytes::from)))
        .collect()
}

fn message_of(r: &Rec, magic: i8) -> LegacyMessage {
    LegacyMessage {
        offset: r.offset,
        magic,
        compression: Compression::None,
        timestamp_type: TimestampType::CreateTime,
        timestamp: r.timestamp,
        key: r.key.clone().map(Bytes::from),
        value: r.value.clone().map(Bytes::from),
    }
}

/// `records` as a magic 2 batch with our [`RecordBatch`] encoder.
fn encode_batch(records: &[Rec], codec: Compression) -> Bytes {
    let mut batch = RecordBatch::new(records.iter().map(record_of).collect());
    batch.compression = codec;
    batch.to_bytes().expect("encoding a record batch")
}

/// `records` (offsets from 0, in order) as a magic 2 batch with our [`RecordBatchBuilder`].
fn encode_with_builder(records: &[Rec], codec: Compression) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, records[0].timestamp, codec);
    for r in records {
        b.append(
            r.timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            &headers_of(r),
        )
        .expect("appending a record");
    }
    b.finish().expect("finishing a record batch")
}

/// `records` as a magic 0/1 message set with our [`MessageSet`] encoder.
fn encode_message_set(records: &[Rec], magic: i8, codec: Compression) -> Bytes {
    let messages: Vec<LegacyMessage> = records.iter().map(|r| message_of(r, magic)).collect();
    let mut buf = BytesMut::new();
    MessageSet::encode(&messages, magic, codec, &mut buf).expect("encoding a message set");
    buf.freeze()
}

/// The Java record set in format `magic` with `codec`, by our encoder.
fn encode_java_record_set(magic: i8, codec: Compression) -> Bytes {
    let records = java_record_set(magic);
    if magic == 2 {
        encode_batch(&records, codec)
    } else {
        encode_message_set(&records, magic, codec)
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding the golden files.
// ---------------------------------------------------------------------------------------------

/// Decodes fixture `{magic}-{codec}` (the Java producer's record set, stored by a broker) and
/// checks every field we can see against what was produced and what Java reads.
fn check_java_fixture(magic: i8, codec_name: &str) {
    let name = format!("{magic}-{codec_name}");
    let codec = codec_named(codec_name);
    let bytes = fixture(&name);
    assert_eq!(bytes[16] as i8, magic, "{name}: magic byte");
    let set = decode(&bytes);
    assert!(!set.truncated, "{name}: nothing may be cut off");
    let expected = java_record_set(magic);
    assert_eq!(recs(&set), expected, "{name}: records");

    if magic == 2 {
        assert_eq!(set.entries.len(), 1, "{name}: one batch");
        let RecordSetEntry::Batch(b) = &set.entries[0] else {
            panic!("{name}: expected a record batch, got {:?}", set.entries[0]);
        };
        assert_eq!(b.base_offset, 0, "{name}: base offset");
        // Stamped by the broker (the producer sends -1); the KRaft broker's first epoch is 0.
        assert_eq!(
            b.partition_leader_epoch, 0,
            "{name}: partition leader epoch"
        );
        assert_eq!(b.compression, codec, "{name}: codec");
        assert_eq!(b.timestamp_type, TimestampType::CreateTime, "{name}");
        assert!(
            !b.is_transactional && !b.is_control && !b.has_delete_horizon,
            "{name}"
        );
        assert_eq!(b.last_offset_delta, 4, "{name}: last offset delta");
        assert_eq!(b.base_timestamp, BASE_TIMESTAMP, "{name}: base timestamp");
        assert_eq!(b.max_timestamp, BASE_TIMESTAMP + 4, "{name}: max timestamp");
        assert_eq!(
            (b.producer_id, b.producer_epoch, b.base_sequence),
            (-1, -1, -1),
            "{name}: no idempotent producer"
        );
        assert!(
            b.records.iter().all(|r| r.attributes == 0),
            "{name}: record attributes"
        );
        let mut ours = batch_dump(b, &expected);
        ours.push_str(&format!("end batches=1 records=5 bytes={}\n", bytes.len()));
        assert_eq!(
            ours,
            java_dump(&name),
            "{name}: ours vs the Java client's reading"
        );
    } else {
        assert_eq!(set.entries.len(), 5, "{name}: five messages");
        for e in &set.entries {
            let RecordSetEntry::Legacy(m) = e else {
                panic!("{name}: expected legacy messages, got {e:?}");
            };
            assert_eq!(m.magic, magic, "{name}: inner magic");
            // For a compressed set, the codec of the wrapper the message came out of.
            assert_eq!(m.compression, codec, "{name}: codec");
            assert_eq!(m.timestamp_type, TimestampType::CreateTime, "{name}");
        }
        let ours: Vec<String> = expected.iter().map(record_line).collect();
        assert_eq!(
            ours,
            record_lines(&java_dump(&name)),
            "{name}: ours vs the Java client's reading"
        );
    }
}

/// Decodes fixture `2-{codec}-librdkafka` (kcat's record set; all five records carry the
/// producer clock `timestamp` it was captured at).
fn check_librdkafka_fixture(codec_name: &str, timestamp: i64) {
    let name = format!("2-{codec_name}-librdkafka");
    let bytes = fixture(&name);
    let set = decode(&bytes);
    assert!(!set.truncated, "{name}");
    let expected = librdkafka_record_set(timestamp);
    assert_eq!(recs(&set), expected, "{name}: records");
    assert_eq!(set.entries.len(), 1, "{name}: one batch");
    let RecordSetEntry::Batch(b) = &set.entries[0] else {
        panic!("{name}: expected a record batch");
    };
    assert_eq!(b.compression, codec_named(codec_name), "{name}: codec");
    assert_eq!((b.base_offset, b.last_offset_delta), (0, 4), "{name}");
    assert_eq!(
        (b.base_timestamp, b.max_timestamp),
        (timestamp, timestamp),
        "{name}"
    );
    assert_eq!(
        (b.producer_id, b.producer_epoch, b.base_sequence),
        (-1, -1, -1),
        "{name}"
    );
    let mut ours = batch_dump(b, &expected);
    ours.push_str(&format!("end batches=1 records=5 bytes={}\n", bytes.len()));
    assert_eq!(
        ours,
        java_dump(&name),
        "{name}: ours vs the Java client's reading"
    );
}

macro_rules! golden_decode_tests {
    ($($test:ident: $magic:expr, $codec:expr;)*) => {$(
        #[test]
        fn $test() {
            check_java_fixture($magic, $codec);
        }
    )*};
}

golden_decode_tests! {
    decodes_magic2_none_from_kafka: 2, "none";
    decodes_magic2_gzip_from_kafka: 2, "gzip";
    decodes_magic2_snappy_from_kafka: 2, "snappy";
    decodes_magic2_lz4_from_kafka: 2, "lz4";
    decodes_magic2_zstd_from_kafka: 2, "zstd";
    decodes_magic1_none_from_kafka: 1, "none";
    decodes_magic1_gzip_from_kafka: 1, "gzip";
    decodes_magic1_snappy_from_kafka: 1, "snappy";
    decodes_magic1_lz4_from_kafka: 1, "lz4";
    decodes_magic0_none_from_kafka: 0, "none";
    decodes_magic0_gzip_from_kafka: 0, "gzip";
    decodes_magic0_snappy_from_kafka: 0, "snappy";
    // Kafka's broken LZ4 frame-descriptor checksum (KAFKA-3160), kept for magic 0.
    decodes_magic0_lz4_from_kafka: 0, "lz4";
}

#[test]
fn decodes_magic2_none_from_librdkafka() {
    check_librdkafka_fixture("none", 1_795_724_333_192);
}

#[test]
fn decodes_magic2_gzip_from_librdkafka() {
    check_librdkafka_fixture("gzip", 1_795_724_335_103);
}

/// librdkafka writes one raw snappy block, not the xerial framing the Java client writes.
#[test]
fn decodes_magic2_raw_snappy_from_librdkafka() {
    check_librdkafka_fixture("snappy", 1_795_724_337_094);
}

#[test]
fn decodes_magic2_lz4_from_librdkafka() {
    check_librdkafka_fixture("lz4", 1_795_724_338_842);
}

#[test]
fn decodes_magic2_zstd_from_librdkafka() {
    check_librdkafka_fixture("zstd", 1_795_724_340_862);
}

/// A Fetch v0 answered by down-conversion ends in the broker's truncated "overflow" batch: the
/// records are those of `0-gzip.bin` and the tail is a partial entry to skip, not an error.
#[test]
fn decodes_fetch_v0_down_conversion_with_overflow_tail() {
    let bytes = fixture("0-gzip-fetch-v0");
    assert_eq!(&bytes[..131], &fixture("0-gzip")[..]);
    assert_eq!(&bytes[131..], &[0xff; 8]);
    let set = decode(&bytes);
    assert!(set.truncated, "the overflow tail is a partial entry");
    assert_eq!(recs(&set), java_record_set(0));
    assert!(set
        .legacy_messages()
        .all(|m| m.magic == 0 && m.compression == Compression::Gzip));
}

// ---------------------------------------------------------------------------------------------
// Our encoders against the golden files (no Java needed).
// ---------------------------------------------------------------------------------------------

/// Uncompressed formats leave the encoder no freedom: our bytes must be Kafka's bytes.
#[test]
fn encodes_uncompressed_legacy_message_sets_byte_for_byte_like_kafka() {
    for magic in [0, 1] {
        let ours = encode_java_record_set(magic, Compression::None);
        assert_eq!(
            &ours[..],
            &fixture(&format!("{magic}-none"))[..],
            "magic {magic}"
        );
    }
}

/// The uncompressed magic 2 batch, with the leader epoch the broker stamped (0), is byte for byte
/// the one Kafka stored, with either encoder.
#[test]
fn encodes_uncompressed_record_batch_byte_for_byte_like_kafka() {
    let golden = fixture("2-none");
    let records = java_record_set(2);
    let mut batch = RecordBatch::new(records.iter().map(record_of).collect());
    batch.partition_leader_epoch = 0;
    assert_eq!(&batch.to_bytes().unwrap()[..], &golden[..], "RecordBatch");

    let mut b = RecordBatchBuilder::new(0, BASE_TIMESTAMP, Compression::None);
    b.partition_leader_epoch(0);
    for r in &records {
        b.append(
            r.timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            &headers_of(r),
        )
        .unwrap();
    }
    assert_eq!(&b.finish().unwrap()[..], &golden[..], "RecordBatchBuilder");
}

/// Decoding a golden batch and encoding it again gives back Kafka's bytes when nothing is
/// compressed (compressors may legitimately differ byte-wise, so only the records are compared
/// there).
#[test]
fn re_encodes_decoded_golden_batches() {
    for name in [
        "2-none",
        "2-gzip",
        "2-snappy",
        "2-lz4",
        "2-zstd",
        "2-none-librdkafka",
        "2-gzip-librdkafka",
        "2-snappy-librdkafka",
        "2-lz4-librdkafka",
        "2-zstd-librdkafka",
    ] {
        let golden = fixture(name);
        let set = decode(&golden);
        let RecordSetEntry::Batch(b) = &set.entries[0] else {
            panic!("{name}: a batch");
        };
        let again = b.to_bytes().unwrap();
        if b.compression == Compression::None {
            assert_eq!(&again[..], &golden[..], "{name}");
        }
        assert_eq!(recs(&decode(&again)), recs(&set), "{name}");
    }
}

#[test]
fn encodes_every_magic_and_codec_back_to_the_same_records() {
    for (magic, codecs) in [
        (2, &["none", "gzip", "snappy", "lz4", "zstd"][..]),
        (1, &["none", "gzip", "snappy", "lz4"][..]),
        (0, &["none", "gzip", "snappy", "lz4"][..]),
    ] {
        for &codec in codecs {
            let ours = encode_java_record_set(magic, codec_named(codec));
            assert_eq!(ours[16] as i8, magic, "{magic}-{codec}");
            let set = decode(&ours);
            assert!(!set.truncated);
            assert_eq!(recs(&set), java_record_set(magic), "{magic}-{codec}");
        }
        if magic == 2 {
            for &codec in codecs {
                let ours = encode_with_builder(&java_record_set(2), codec_named(codec));
                assert_eq!(recs(&decode(&ours)), java_record_set(2), "builder {codec}");
            }
        }
    }
}

/// Kafka allows zstd only in record batches.
#[test]
fn refuses_zstd_in_legacy_message_sets() {
    for magic in [0, 1] {
        let messages = vec![message_of(&java_record_set(magic)[0], magic)];
        let mut buf = BytesMut::new();
        assert!(MessageSet::encode(&messages, magic, Compression::Zstd, &mut buf).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// The Java client reading what we encode.
// ---------------------------------------------------------------------------------------------

/// Our encoding of the Java record set with `magic`/`codec`, as the Java client reads it, must
/// equal the Java client's reading of the bytes Kafka stored for the same records (minus the
/// byte count: compressors differ).
fn check_java_reads_ours(magic: i8, codec: &str, ours: &[u8], what: &str) {
    let name = format!("{magic}-{codec}-{what}");
    let Some(dump) = java_verify(&name, ours) else {
        return;
    };
    let golden = java_dump(&format!("{magic}-{codec}"));
    assert_eq!(
        without_byte_count(&dump),
        without_byte_count(&golden),
        "{name}: the Java client's reading of our bytes vs of Kafka's"
    );
    assert!(
        dump.ends_with(&format!(" bytes={}\n", ours.len())),
        "{name}: {dump}"
    );
}

macro_rules! java_reads_tests {
    ($($test:ident: $magic:expr, $codec:expr;)*) => {$(
        #[test]
        fn $test() {
            let codec = codec_named($codec);
            check_java_reads_ours($magic, $codec, &encode_java_record_set($magic, codec), "ours");
            if $magic == 2 {
                check_java_reads_ours(
                    2,
                    $codec,
                    &encode_with_builder(&java_record_set(2), codec),
                    "builder",
                );
            }
        }
    )*};
}

java_reads_tests! {
    java_reads_our_magic2_none: 2, "none";
    java_reads_our_magic2_gzip: 2, "gzip";
    java_reads_our_magic2_snappy: 2, "snappy";
    java_reads_our_magic2_lz4: 2, "lz4";
    java_reads_our_magic2_zstd: 2, "zstd";
    java_reads_our_magic1_none: 1, "none";
    java_reads_our_magic1_gzip: 1, "gzip";
    java_reads_our_magic1_snappy: 1, "snappy";
    java_reads_our_magic1_lz4: 1, "lz4";
    java_reads_our_magic0_none: 0, "none";
    java_reads_our_magic0_gzip: 0, "gzip";
    java_reads_our_magic0_snappy: 0, "snappy";
    java_reads_our_magic0_lz4: 0, "lz4";
}

/// Records the golden set does not have: binary and empty keys/values, several headers with a
/// null and an empty value, a timestamp before the base (negative delta), a large base offset,
/// and producer/transaction fields, in a batch per codec.
#[test]
fn java_reads_our_unusual_batches() {
    let records = vec![
        Rec {
            offset: 1_000_000_007,
            timestamp: BASE_TIMESTAMP,
            key: Some(Vec::new()),
            value: Some(vec![0x00, 0xff, b'"', b'\\', 0x7f, b'\n']),
            headers: vec![
                ("a".into(), None),
                ("b".into(), Some(Vec::new())),
                ("é".into(), Some(vec![1, 2, 3])),
            ],
        },
        Rec {
            offset: 1_000_000_008,
            timestamp: BASE_TIMESTAMP - 86_400_000,
            key: None,
            value: None,
            headers: Vec::new(),
        },
        Rec {
            offset: 1_000_000_009,
            timestamp: BASE_TIMESTAMP + 1,
            key: Some(vec![b'x'; 300]),
            value: Some((0..=255).collect()),
            headers: vec![("h".into(), Some(b"v".to_vec()))],
        },
    ];
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let mut batch = RecordBatch::new(records.iter().map(record_of).collect());
        batch.compression = codec_named(codec);
        batch.producer_id = 4242;
        batch.producer_epoch = 7;
        batch.base_sequence = 100;
        batch.is_transactional = true;
        let bytes = batch.to_bytes().unwrap();
        assert_eq!(
            recs(&decode(&bytes)),
            records,
            "{codec}: our own round trip"
        );
        let Some(dump) = java_verify(&format!("unusual-{codec}"), &bytes) else {
            return;
        };
        let mut expected = batch_dump(&batch, &records);
        expected.push_str(&format!("end batches=1 records=3 bytes={}\n", bytes.len()));
        assert_eq!(dump, expected, "{codec}");
    }
}

/// Readers of magic 0 from before KIP-57 (Kafka 0.8/0.9 clients) check the LZ4 frame-descriptor
/// checksum the historical, wrong way (over the frame magic too, KAFKA-3160); newer ones accept
/// either only for magic 0. Our wrapper's LZ4 frame header must be Kafka's, byte for byte: the
/// broken checksum for magic 0, the correct one for magic 1.
#[test]
fn encodes_kafkas_lz4_frame_header_per_magic() {
    // offset, size, crc, magic, attributes, [timestamp], key length (-1), value length.
    for (magic, frame_at) in [(0i8, 26usize), (1, 34)] {
        let golden = fixture(&format!("{magic}-lz4"));
        let ours = encode_java_record_set(magic, Compression::Lz4);
        assert_eq!(&golden[frame_at..frame_at + 4], &[0x04, 0x22, 0x4d, 0x18]);
        assert_eq!(
            &ours[frame_at..frame_at + 7],
            &golden[frame_at..frame_at + 7],
            "magic {magic}: LZ4 frame magic, FLG, BD and header checksum"
        );
    }
}
