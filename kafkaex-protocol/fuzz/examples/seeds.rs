//! Writes seed inputs for every fuzz target: valid encodings the fuzzer can mutate from, so it
//! starts deep inside the decoders instead of at their first length check.
//!
//! `cargo xtask fuzz seed` runs this; by hand:
//! `cargo run --manifest-path kafkaex-protocol/fuzz/Cargo.toml --example seeds -- OUT FIXTURES`
//! writes `OUT/<target>/seed-*`, with FIXTURES the directory of golden record sets
//! (`kafkaex-protocol/tests/fixtures/records`: batches and message sets written by the Java
//! client, librdkafka and real brokers).

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kafkaex_protocol::header::{encode_request_kind_frame, encode_response_frame};
use kafkaex_protocol::messages::testing::TestRng;
use kafkaex_protocol::messages::{random_request, random_response};
use kafkaex_protocol::records::compression::{compress, Compression};
use kafkaex_protocol::records::{
    LegacyMessage, MessageSet, Record, RecordBatch, RecordHeader, TimestampType,
};
use kafkaex_protocol::ApiKey;
use kafkaex_protocol_fuzz::{api_prefix, CAPS};

/// Batch header length: the compressed section of a batch starts here.
const BATCH_HEADER_LEN: usize = 61;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out, fixtures] = args.as_slice() else {
        eprintln!("usage: seeds OUT_DIR FIXTURES_DIR");
        std::process::exit(2);
    };
    let out = PathBuf::from(out);
    let fixtures = read_fixtures(Path::new(fixtures));
    let mut total = 0;
    for (target, seeds) in [
        ("response_decode", responses()),
        ("request_decode", requests()),
        ("record_batch", record_batches(&fixtures)),
        ("message_set", message_sets(&fixtures)),
        ("decompress_gzip", compressed(Compression::Gzip, &fixtures)),
        (
            "decompress_snappy",
            compressed(Compression::Snappy, &fixtures),
        ),
        ("decompress_lz4", compressed(Compression::Lz4, &fixtures)),
        ("decompress_zstd", compressed(Compression::Zstd, &fixtures)),
    ] {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {dir:?}: {e}"));
        for (name, bytes) in &seeds {
            let path = dir.join(format!("seed-{name}"));
            std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {path:?}: {e}"));
        }
        println!("{target}: {} seeds", seeds.len());
        total += seeds.len();
    }
    println!("{total} seeds in {}", out.display());
}

/// The `.bin` fixtures by file stem (`2-gzip`, `1-none`, ...).
fn read_fixtures(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {dir:?}: {e}"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let stem = p
                .file_stem()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (stem, std::fs::read(&p).expect("reading a fixture"))
        })
        .collect()
}

/// One random response per API and version, framed as the target reads it.
fn responses() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for &api in ApiKey::ALL {
        let range = api.valid_versions();
        for version in range.min..=range.max {
            let mut rng = TestRng::new(seed_of(api, version));
            let body = random_response(api, version, &mut rng);
            let mut frame = BytesMut::new();
            if encode_response_frame(&mut frame, api, 7, version, &body).is_err() {
                continue;
            }
            let mut input = api_prefix(api, version).to_vec();
            input.extend_from_slice(&frame[4..]);
            seeds.push((format!("{}-v{version}", api.name()), input));
        }
    }
    seeds
}

/// One random request per API and version, framed as the target reads it.
fn requests() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for &api in ApiKey::ALL {
        let range = api.valid_versions();
        for version in range.min..=range.max {
            let mut rng = TestRng::new(seed_of(api, version) ^ 0x5eed);
            let body = random_request(api, version, &mut rng);
            let mut frame = BytesMut::new();
            if encode_request_kind_frame(&mut frame, 7, Some("fuzz"), version, &body).is_err() {
                continue;
            }
            seeds.push((format!("{}-v{version}", api.name()), frame[4..].to_vec()));
        }
    }
    seeds
}

fn seed_of(api: ApiKey, version: i16) -> u64 {
    (u64::from(api.as_i16() as u16) << 16) | u64::from(version as u16)
}

/// Records-target inputs: option byte 1 (verify CRCs) before the records.
fn with_flags(flags: u8, records: &[u8]) -> Vec<u8> {
    let mut v = vec![flags];
    v.extend_from_slice(records);
    v
}

fn sample_records() -> Vec<Record> {
    (0..5)
        .map(|i| Record {
            attributes: 0,
            offset: 100 + i,
            timestamp: 1_700_000_000_000 + i * 3,
            key: (i % 2 == 0).then(|| Bytes::from(format!("key-{i}"))),
            value: (i != 3).then(|| Bytes::from(format!("value-{i}").repeat(i as usize + 1))),
            headers: (0..i % 3)
                .map(|h| RecordHeader::new(format!("h{h}"), (h == 0).then(|| Bytes::from("v"))))
                .collect(),
        })
        .collect()
}

fn record_batches(fixtures: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<_> = fixtures
        .iter()
        .map(|(name, bytes)| (format!("fixture-{name}"), with_flags(1, bytes)))
        .collect();
    let mut all = Vec::new();
    for codec in CODECS {
        let mut batch = RecordBatch::new(sample_records());
        batch.compression = codec;
        batch.producer_id = 42;
        batch.producer_epoch = 1;
        batch.base_sequence = 9;
        batch.is_transactional = codec == Compression::Gzip;
        if codec == Compression::Lz4 {
            batch.timestamp_type = TimestampType::LogAppendTime;
        }
        let bytes = batch.to_bytes().expect("encoding a seed batch");
        seeds.push((format!("batch-{codec}"), with_flags(1, &bytes)));
        all.extend_from_slice(&bytes);
    }
    // A control batch (a commit marker) and an empty batch.
    let mut control = RecordBatch::new(vec![Record {
        key: Some(Bytes::from_static(&[0, 0, 0, 1])),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 5])),
        ..Record::default()
    }]);
    control.is_control = true;
    control.is_transactional = true;
    let control = control.to_bytes().expect("encoding a control batch");
    seeds.push(("batch-control".into(), with_flags(1, &control)));
    let empty = RecordBatch::default()
        .to_bytes()
        .expect("encoding an empty batch");
    seeds.push(("batch-empty".into(), with_flags(0, &empty)));
    // Several batches back to back, then a cut-off one, as a fetch returns them.
    all.extend_from_slice(&control[..control.len() - 7]);
    seeds.push(("batches-truncated".into(), with_flags(1, &all)));
    seeds
}

fn message_sets(fixtures: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<_> = fixtures
        .iter()
        .filter(|(name, _)| !name.starts_with("2-"))
        .map(|(name, bytes)| (format!("fixture-{name}"), with_flags(1, bytes)))
        .collect();
    let messages: Vec<LegacyMessage> = sample_records()
        .into_iter()
        .map(|r| LegacyMessage {
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            ..LegacyMessage::default()
        })
        .collect();
    for magic in [0, 1] {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            let mut buf = BytesMut::new();
            MessageSet::encode(&messages, magic, codec, &mut buf).expect("encoding a seed set");
            seeds.push((format!("magic{magic}-{codec}"), with_flags(1, &buf)));
        }
    }
    seeds
}

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Decompression inputs: cap selector byte, then the compressed bytes. Our own output for a few
/// shapes of data, both LZ4 header checksums, and the compressed sections of the fixture batches
/// (the Java client's xerial snappy and librdkafka's raw snappy among them).
fn compressed(codec: Compression, fixtures: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let full_cap = (CAPS.len() - 1) as u8;
    let samples: [(&str, Vec<u8>); 4] = [
        ("empty", Vec::new()),
        ("text", b"kafka kafka kafka, fuzz the decoders".to_vec()),
        ("repetitive", b"0123456789abcdef".repeat(8192)),
        (
            "noise",
            (0u32..5000)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
    ];
    let mut seeds = Vec::new();
    for (name, data) in &samples {
        for magic in [0i8, 1] {
            if magic == 0 && codec != Compression::Lz4 {
                continue;
            }
            let c = compress(codec, magic, data).expect("compressing a seed");
            let mut input = vec![full_cap];
            input.extend_from_slice(&c);
            seeds.push((format!("{name}-magic{magic}"), input.clone()));
            // The same input under a small cap: exercises the TooLarge path.
            input[0] = 3;
            seeds.push((format!("{name}-magic{magic}-small-cap"), input));
        }
    }
    let prefix = format!("2-{}", codec.name());
    for (name, bytes) in fixtures {
        if name.starts_with(&prefix) && bytes.len() > BATCH_HEADER_LEN {
            let mut input = vec![full_cap];
            input.extend_from_slice(&bytes[BATCH_HEADER_LEN..]);
            seeds.push((format!("fixture-{name}"), input));
        }
    }
    seeds
}
