//! Compression levels: each codec's level changes what it writes (higher levels compress
//! text better), every level reads back the same records, and a level the codec does not have
//! is a typed error, not a panic or a silent default.

use bytes::Bytes;
use kafkaex_protocol::error::{CompressionError, EncodeError};
use kafkaex_protocol::records::compression::level_range;
use kafkaex_protocol::records::{Compression, DecodeOptions, RecordBatch, RecordBatchBuilder};

fn batch(codec: Compression, level: Option<i32>) -> Result<Bytes, EncodeError> {
    let mut b = RecordBatchBuilder::new(0, 1_700_000_000_000, codec);
    b.compression_level(level);
    for i in 0..2000 {
        let value = format!(
            "record {i}: the quick brown fox jumps over the lazy dog {}",
            i % 17
        );
        b.append(
            1_700_000_000_000 + i,
            Some(format!("k{i}").as_bytes()),
            Some(value.as_bytes()),
            &[],
        )?;
    }
    b.finish()
}

fn values(bytes: &Bytes) -> Vec<Option<Bytes>> {
    let decoded = RecordBatch::decode(&mut bytes.clone(), &DecodeOptions::default()).unwrap();
    decoded.records.into_iter().map(|r| r.value).collect()
}

#[test]
fn levels_trade_size_and_read_back_the_same() {
    let reference = values(&batch(Compression::None, None).unwrap());
    for (codec, low, high) in [
        (Compression::Gzip, 1, 9),
        (Compression::Zstd, -5, 19),
        (Compression::Lz4, 1, 12),
    ] {
        let fast = batch(codec, Some(low)).unwrap();
        let small = batch(codec, Some(high)).unwrap();
        let default = batch(codec, None).unwrap();
        assert!(
            small.len() < fast.len(),
            "{codec:?}: level {high} wrote {} bytes, level {low} {}",
            small.len(),
            fast.len()
        );
        for b in [&fast, &small, &default] {
            assert_eq!(values(b), reference, "{codec:?}");
        }
    }
}

#[test]
fn a_level_the_codec_does_not_have_is_a_typed_error() {
    for (codec, level) in [
        (Compression::Gzip, 0),
        (Compression::Gzip, 10),
        (Compression::Zstd, 23),
        (Compression::Snappy, 1),
        (Compression::Lz4, 0),
        (Compression::Lz4, 18),
    ] {
        let err = batch(codec, Some(level)).unwrap_err();
        assert!(
            matches!(
                err,
                EncodeError::Compression(CompressionError::InvalidLevel { codec: c, level: l })
                    if c == codec && l == level
            ),
            "{codec:?} {level}: {err:?}"
        );
    }
    assert_eq!(level_range(Compression::Gzip), Some(1..=9));
    assert_eq!(level_range(Compression::Lz4), Some(1..=17));
    assert_eq!(level_range(Compression::Snappy), None);
}
