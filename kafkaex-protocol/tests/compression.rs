//! Codecs: round trips both directions, Kafka's framing quirks, and bounded decompression.

use bytes::{BufMut, Bytes, BytesMut};
use kafkaex_protocol::records::compression::{compress, decompress, Compression};
use kafkaex_protocol::records::{DecodeOptions, Record, RecordBatch};
use kafkaex_protocol::{CompressionError, DecodeError};
use proptest::prelude::*;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

proptest! {
    #[test]
    fn round_trip(data in prop::collection::vec(any::<u8>(), 0..100_000), magic in 0i8..3) {
        for codec in CODECS {
            let c = compress(codec, magic, &data).unwrap();
            prop_assert_eq!(decompress(codec, &c, data.len()).unwrap(), data.clone());
            if !data.is_empty() {
                prop_assert_eq!(
                    decompress(codec, &c, data.len() - 1),
                    Err(CompressionError::TooLarge { limit: data.len() - 1 })
                );
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        for codec in CODECS {
            let _ = decompress(codec, &data, 1 << 16);
        }
    }
}

#[test]
fn codec_ids() {
    for (i, codec) in CODECS.iter().enumerate() {
        assert_eq!(codec.id(), i as u8);
        assert_eq!(Compression::from_id(i as u8), Ok(*codec));
    }
    assert_eq!(
        Compression::from_id(5),
        Err(CompressionError::UnknownCodec(5))
    );
}

#[test]
fn snappy_writes_xerial_framing() {
    let c = compress(Compression::Snappy, 2, &[7u8; 100_000]).unwrap();
    assert_eq!(&c[..16], b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01");
}

/// The bytes of a 100 MB run of zeros, compressed with `codec` by streaming (so the test itself
/// never holds 100 MB).
fn bomb(codec: Compression) -> Vec<u8> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    let mut out = BytesMut::new();
    match codec {
        Compression::Gzip => {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            for _ in 0..100 {
                e.write_all(&zeros).unwrap();
            }
            return e.finish().unwrap();
        }
        Compression::Zstd => {
            use std::io::Write;
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
            for _ in 0..100 {
                e.write_all(&zeros).unwrap();
            }
            return e.finish().unwrap();
        }
        Compression::Lz4 => {
            use std::io::Write;
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            for _ in 0..100 {
                e.write_all(&zeros).unwrap();
            }
            return e.finish().unwrap();
        }
        Compression::Snappy => {
            // xerial framing: many blocks
            let block = compress(Compression::Snappy, 2, &zeros).unwrap();
            out.extend_from_slice(&block);
            for _ in 1..100 {
                out.extend_from_slice(&block[16..]);
            }
        }
        Compression::None => unreachable!(),
    }
    out.to_vec()
}

#[test]
fn decompression_bombs_stop_at_the_cap() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let b = bomb(codec);
        assert!(b.len() < 10 << 20, "{codec}: {}", b.len());
        assert_eq!(
            decompress(codec, &b, 1 << 20),
            Err(CompressionError::TooLarge { limit: 1 << 20 }),
            "{codec}"
        );
    }
}

#[test]
fn bomb_inside_a_batch_is_too_large() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut b = BytesMut::new();
        b.put_i64(0);
        b.put_i32(0);
        b.put_i32(-1);
        b.put_i8(2);
        b.put_u32(0);
        b.put_i16(codec.id() as i16);
        b.put_slice(&[0; 4 + 8 + 8 + 8 + 2 + 4]);
        b.put_i32(1);
        b.extend_from_slice(&bomb(codec));
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let opts = DecodeOptions {
            verify_crc: false,
            max_decompressed_bytes: 1 << 20,
            ..DecodeOptions::default()
        };
        let err = RecordBatch::decode(&mut b.freeze(), &opts).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Compression(CompressionError::TooLarge { limit: 1 << 20 }),
            "{codec}"
        );
    }
}

#[test]
fn snappy_declared_length_is_not_trusted() {
    // A raw snappy block that claims ~4 GiB of output (varint 0xffffffff) and holds nothing.
    let hostile = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    assert!(matches!(
        decompress(Compression::Snappy, &hostile, 1 << 20),
        Err(CompressionError::TooLarge { .. } | CompressionError::Codec { .. })
    ));
    // The same inside xerial framing.
    let mut x = b"\x82SNAPPY\0\0\0\0\x01\0\0\0\x01".to_vec();
    x.extend_from_slice(&(hostile.len() as i32).to_be_bytes());
    x.extend_from_slice(&hostile);
    assert!(matches!(
        decompress(Compression::Snappy, &x, 1 << 20),
        Err(CompressionError::TooLarge { .. } | CompressionError::Codec { .. })
    ));
    // Declared 2 MB, cap 1 MB: refused before decoding.
    let two_mb = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 2 << 20])
        .unwrap();
    assert_eq!(
        decompress(Compression::Snappy, &two_mb, 1 << 20),
        Err(CompressionError::TooLarge { limit: 1 << 20 })
    );
}

#[test]
fn batches_with_large_values_round_trip_through_every_codec() {
    let value = Bytes::from((0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    for codec in CODECS {
        let batch = RecordBatch {
            compression: codec,
            ..RecordBatch::new(vec![Record {
                value: Some(value.clone()),
                ..Record::default()
            }])
        };
        let bytes = batch.to_bytes().unwrap();
        let back = RecordBatch::decode(&mut bytes.clone(), &DecodeOptions::default()).unwrap();
        assert_eq!(back, batch, "{codec}");
    }
}

/// Each error prints its own layer; the cause is reached through `source()`, never printed twice.
#[test]
fn errors_keep_the_codec_error_as_their_source() {
    use std::error::Error as _;
    let err = decompress(Compression::Gzip, b"not gzip at all", 1 << 20).unwrap_err();
    assert!(
        matches!(err, CompressionError::Codec { codec: "gzip", .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "the gzip codec failed");
    let codec = err.source().expect("the codec's own error");
    assert!(!codec.to_string().is_empty());

    let decode = DecodeError::from(err.clone());
    assert_eq!(decode.to_string(), "decompression failed");
    assert_eq!(decode.source().unwrap().to_string(), err.to_string());

    let nested = DecodeError::InvalidUtf8.in_message("FetchResponse", 4);
    assert_eq!(nested.to_string(), "could not decode FetchResponse v4");
    assert_eq!(
        nested.source().unwrap().to_string(),
        DecodeError::InvalidUtf8.to_string()
    );
}
