//! Inputs found by the fuzz targets in `kafkaex-protocol/fuzz` (`cargo xtask fuzz`), kept so the
//! behaviour they pinned down stays put. Each decodes the saved bytes and expects a typed error
//! (or, where the input is valid but odd, the documented result).

use bytes::{Bytes, BytesMut};
use kafkaex_protocol::records::compression::{decompress, Compression};
use kafkaex_protocol::records::{decode_records, DecodeOptions, LegacyMessage, MessageSet};
use kafkaex_protocol::{CompressionError, DecodeError};

/// A zstd frame whose header declares 16 bytes of content (single segment, content size 0x10)
/// but whose only block is an empty last raw block. Found by `decompress_zstd`.
const ZSTD_SHORT_FRAME: [u8; 9] = [0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x10, 0x01, 0x00, 0x00];

#[test]
fn zstd_frame_shorter_than_its_declared_size_is_corrupt() {
    for cap in [16, 1 << 20, 64 << 20] {
        match decompress(Compression::Zstd, &ZSTD_SHORT_FRAME, cap) {
            Err(CompressionError::Codec { codec, .. }) => assert_eq!(codec, "zstd"),
            other => panic!("cap {cap}: expected a zstd codec error, got {other:?}"),
        }
    }
}

/// libzstd's streaming decoder checks the declared content size only when the output buffer
/// can hold the whole frame; `decompress` reads through a buffer bounded by the cap, so under a
/// cap smaller than the declared size this corrupt frame used to decode to nothing. Now a
/// declared size above the cap is `TooLarge` before decoding, and output shorter than declared
/// is a codec error: an error under every cap.
#[test]
fn zstd_frame_shorter_than_its_declared_size_is_corrupt_under_any_cap() {
    for cap in [0, 1, 14, 15] {
        match decompress(Compression::Zstd, &ZSTD_SHORT_FRAME, cap) {
            Err(CompressionError::TooLarge { limit }) => assert_eq!(limit, cap),
            other => panic!("cap {cap}: expected TooLarge, got {other:?}"),
        }
    }
}

/// One whole magic 1 message, then the first 17 bytes of another whose magic byte (offset 16)
/// is 0xd9, its size field promising more than is left. Found by `message_set`.
fn message_then_partial_with_bad_magic() -> Bytes {
    let mut buf = BytesMut::new();
    let message = LegacyMessage {
        offset: 0,
        magic: 1,
        timestamp: 1_700_000_000_000,
        key: Some(Bytes::from_static(b"k0")),
        value: Some(Bytes::from_static(b"value-0")),
        ..LegacyMessage::default()
    };
    MessageSet::encode(&[message], 1, Compression::None, &mut buf).expect("encodes");
    buf.extend_from_slice(&1i64.to_be_bytes()); // offset
    buf.extend_from_slice(&0x6ci32.to_be_bytes()); // size: 108 bytes, only 5 follow
    buf.extend_from_slice(&[0x1d, 0xd9, 0x6e, 0xf7]); // crc
    buf.extend_from_slice(&[0xd9]); // magic -39
    buf.freeze()
}

#[test]
fn partial_trailing_message_with_unknown_magic() {
    let input = message_then_partial_with_bad_magic();
    let opts = DecodeOptions::default();
    // decode_records must read the magic to tell a batch from a message, so it refuses it...
    assert_eq!(
        decode_records(input.clone(), &opts),
        Err(DecodeError::UnknownMagic(-39))
    );
    // ...while a message set is legacy by definition: the partial entry is skipped unread,
    // as a broker's cut at max_bytes is.
    let set = MessageSet::decode(input, &opts).expect("the whole message decodes");
    assert_eq!(set.messages.len(), 1);
    assert_eq!(set.messages[0].value.as_deref(), Some(&b"value-0"[..]));
    assert!(set.truncated);
}
