//! Record batches and legacy message sets: property round trips with every codec, corrupt and
//! hostile input, and a known-answer CRC.

use bytes::{BufMut, Bytes, BytesMut};
use kafkaex_protocol::records::{
    decode_records, Compression, ControlRecordType, DecodeOptions, LegacyMessage, MessageSet,
    Record, RecordBatch, RecordBatchBuilder, RecordHeader, RecordSetEntry, TimestampType,
};
use kafkaex_protocol::{CompressionError, DecodeError};
use proptest::prelude::*;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn opt_bytes() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from))
}

fn header() -> impl Strategy<Value = RecordHeader> {
    ("[a-zé]{0,8}", opt_bytes()).prop_map(|(k, v)| RecordHeader::new(k, v))
}

fn batch() -> impl Strategy<Value = RecordBatch> {
    let record = (
        any::<i8>(),
        0i64..1000,
        -1000i64..1000,
        opt_bytes(),
        opt_bytes(),
        prop::collection::vec(header(), 0..3),
    );
    (
        (
            any::<i64>(),
            any::<i32>(),
            prop::sample::select(CODECS.to_vec()),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            any::<i64>(),
            any::<i16>(),
            any::<i32>(),
            -1i64..2_000_000_000_000,
        ),
        prop::collection::vec(record, 0..12),
        any::<i32>(),
    )
        .prop_map(
            |((base, epoch, codec, lat, txn, ctl, dh), (pid, pe, seq, ts), recs, lod)| {
                let base = base / 4; // room for offset deltas without overflow
                let records: Vec<Record> = recs
                    .into_iter()
                    .map(|(attributes, od, td, key, value, headers)| Record {
                        attributes,
                        offset: base + od,
                        timestamp: ts + td,
                        key,
                        value,
                        headers: headers.into(),
                    })
                    .collect();
                RecordBatch {
                    base_offset: base,
                    partition_leader_epoch: epoch,
                    compression: codec,
                    timestamp_type: if lat {
                        TimestampType::LogAppendTime
                    } else {
                        TimestampType::CreateTime
                    },
                    is_transactional: txn,
                    is_control: ctl,
                    has_delete_horizon: dh,
                    last_offset_delta: lod,
                    base_timestamp: ts,
                    max_timestamp: ts + 5,
                    producer_id: pid,
                    producer_epoch: pe,
                    base_sequence: seq,
                    records,
                }
            },
        )
}

fn legacy(magic: i8) -> impl Strategy<Value = Vec<LegacyMessage>> {
    prop::collection::vec(
        (
            opt_bytes(),
            opt_bytes(),
            0i64..2_000_000_000_000,
            any::<bool>(),
        ),
        1..10,
    )
    .prop_map(move |ms| {
        ms.into_iter()
            .enumerate()
            .map(|(i, (key, value, ts, lat))| LegacyMessage {
                offset: 100 + i as i64,
                magic,
                compression: Compression::None,
                timestamp_type: if lat && magic == 1 {
                    TimestampType::LogAppendTime
                } else {
                    TimestampType::CreateTime
                },
                timestamp: if magic == 1 { ts } else { -1 },
                key,
                value,
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn batch_round_trips(b in batch()) {
        let bytes = b.to_bytes().unwrap();
        if b.compression == Compression::None {
            prop_assert_eq!(bytes.len(), b.encoded_len_uncompressed().unwrap());
        }
        let mut rest = bytes.clone();
        let back = RecordBatch::decode(&mut rest, &DecodeOptions::default()).unwrap();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(&back, &b);
        // and through the records-field decoder, twice in a row
        let mut two = BytesMut::new();
        two.extend_from_slice(&bytes);
        two.extend_from_slice(&bytes);
        let set = decode_records(two.freeze(), &DecodeOptions::default()).unwrap();
        prop_assert!(!set.truncated);
        prop_assert_eq!(set.entries, vec![RecordSetEntry::Batch(b.clone()), RecordSetEntry::Batch(b)]);
    }

    #[test]
    fn builder_matches_batch_encoding(b in batch()) {
        let mut builder = RecordBatchBuilder::new(b.base_offset, b.base_timestamp, b.compression);
        builder.producer(b.producer_id, b.producer_epoch, b.base_sequence).transactional(b.is_transactional);
        let mut expected = RecordBatch { records: Vec::new(), is_control: false, has_delete_horizon: false, timestamp_type: TimestampType::CreateTime, partition_leader_epoch: -1, max_timestamp: b.base_timestamp, last_offset_delta: 0, ..b.clone() };
        for (i, r) in b.records.iter().enumerate() {
            builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers).unwrap();
            expected.records.push(Record { attributes: 0, offset: b.base_offset + i as i64, ..r.clone() });
            expected.max_timestamp = expected.max_timestamp.max(r.timestamp);
            expected.last_offset_delta = i as i32;
        }
        let bytes = builder.finish().unwrap();
        let back = RecordBatch::decode(&mut bytes.clone(), &DecodeOptions::default()).unwrap();
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn message_sets_round_trip(
        (magic, mut msgs) in (0i8..2).prop_flat_map(|m| (Just(m), legacy(m))),
        codec in prop::sample::select(CODECS[..4].to_vec()),
    ) {
        let mut buf = BytesMut::new();
        MessageSet::encode(&msgs, magic, codec, &mut buf).unwrap();
        let set = MessageSet::decode(buf.freeze(), &DecodeOptions::default()).unwrap();
        if codec != Compression::None {
            // inner messages report their wrapper's codec; with LogAppendTime on the wrapper
            // (the last message's type) every inner message takes the wrapper's time
            let max_ts = msgs.iter().map(|m| m.timestamp).max().unwrap();
            let lat = msgs.last().unwrap().timestamp_type == TimestampType::LogAppendTime;
            for m in &mut msgs {
                m.compression = codec;
                if lat {
                    m.timestamp = max_ts;
                    m.timestamp_type = TimestampType::LogAppendTime;
                }
            }
        }
        prop_assert!(!set.truncated);
        prop_assert_eq!(set.messages, msgs);
    }
}

fn sample_batch(codec: Compression) -> RecordBatch {
    let records = (0..10)
        .map(|i| Record {
            offset: 1000 + i,
            timestamp: 1_700_000_000_000 + i,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(vec![b'x'; 100])),
            headers: [RecordHeader::new("h", Some(Bytes::from_static(b"v")))].into(),
            ..Record::default()
        })
        .collect();
    RecordBatch {
        compression: codec,
        ..RecordBatch::new(records)
    }
}

#[test]
fn decoded_values_are_slices_of_the_input() {
    let bytes = sample_batch(Compression::None).to_bytes().unwrap();
    let b = RecordBatch::decode(&mut bytes.clone(), &DecodeOptions::default()).unwrap();
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    for r in &b.records {
        assert!(range.contains(&(r.value.as_ref().unwrap().as_ptr() as usize)));
        assert!(range.contains(&(r.key.as_ref().unwrap().as_ptr() as usize)));
        assert!(range.contains(&(r.headers[0].key.as_bytes().as_ptr() as usize)));
    }
}

#[test]
fn flipped_crc_byte_is_a_crc_mismatch_unless_verification_is_off() {
    for codec in CODECS {
        let mut bytes = BytesMut::from(&sample_batch(codec).to_bytes().unwrap()[..]);
        bytes[18] ^= 0x01;
        let bytes = bytes.freeze();
        let err = decode_records(bytes.clone(), &DecodeOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::CrcMismatch {
                    what: "record batch",
                    ..
                }
            ),
            "{codec}: {err}"
        );
        let off = DecodeOptions {
            verify_crc: false,
            ..DecodeOptions::default()
        };
        let set = decode_records(bytes, &off).unwrap();
        assert_eq!(set.batches().next().unwrap().records.len(), 10);
    }
    // and a flipped payload byte
    let mut bytes = BytesMut::from(&sample_batch(Compression::None).to_bytes().unwrap()[..]);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    assert!(matches!(
        RecordBatch::decode(&mut bytes.freeze(), &DecodeOptions::default()),
        Err(DecodeError::CrcMismatch { .. })
    ));
}

#[test]
fn legacy_crc_mismatch() {
    let msgs = vec![LegacyMessage {
        value: Some(Bytes::from_static(b"v")),
        timestamp: 5,
        ..LegacyMessage::default()
    }];
    let mut buf = BytesMut::new();
    MessageSet::encode(&msgs, 1, Compression::None, &mut buf).unwrap();
    let last = buf.len() - 1;
    buf[last] ^= 1;
    let err = decode_records(buf.clone().freeze(), &DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::CrcMismatch {
                what: "message",
                ..
            }
        ),
        "{err}"
    );
    let off = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    assert_eq!(decode_records(buf.freeze(), &off).unwrap().entries.len(), 1);
}

#[test]
fn truncated_trailing_batch_is_skipped_at_every_cut() {
    let one = sample_batch(Compression::None).to_bytes().unwrap();
    let mut two = BytesMut::new();
    two.extend_from_slice(&one);
    two.extend_from_slice(&sample_batch(Compression::Lz4).to_bytes().unwrap());
    let two = two.freeze();
    for cut in one.len() + 1..two.len() {
        let set = decode_records(two.slice(..cut), &DecodeOptions::default()).unwrap();
        assert!(set.truncated, "cut at {cut}");
        assert_eq!(set.entries.len(), 1, "cut at {cut}");
    }
    // A field holding only part of one batch: nothing decoded, flagged truncated.
    for cut in 1..one.len() {
        let set = decode_records(one.slice(..cut), &DecodeOptions::default()).unwrap();
        assert!(set.truncated && set.entries.is_empty(), "cut at {cut}");
        // Decoding that single batch directly is a typed error.
        let err =
            RecordBatch::decode(&mut one.slice(..cut), &DecodeOptions::default()).unwrap_err();
        assert!(
            matches!(err, DecodeError::UnexpectedEof { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn truncated_trailing_legacy_message_is_skipped() {
    let msgs: Vec<_> = (0..3)
        .map(|i| LegacyMessage {
            offset: i,
            value: Some(Bytes::from_static(b"value")),
            ..LegacyMessage::default()
        })
        .collect();
    let mut buf = BytesMut::new();
    MessageSet::encode(&msgs, 1, Compression::None, &mut buf).unwrap();
    let buf = buf.freeze();
    let set = decode_records(buf.slice(..buf.len() - 3), &DecodeOptions::default()).unwrap();
    assert!(set.truncated);
    assert_eq!(set.entries.len(), 2);
    let set = MessageSet::decode(buf.slice(..buf.len() - 3), &DecodeOptions::default()).unwrap();
    assert!(set.truncated);
    assert_eq!(set.messages.len(), 2);
}

#[test]
fn mixed_magic_stream() {
    let mut buf = BytesMut::new();
    let v0 = vec![LegacyMessage {
        offset: 0,
        magic: 0,
        value: Some(Bytes::from_static(b"a")),
        ..LegacyMessage::default()
    }];
    MessageSet::encode(&v0, 0, Compression::None, &mut buf).unwrap();
    let v1 = vec![
        LegacyMessage {
            offset: 1,
            timestamp: 10,
            value: Some(Bytes::from_static(b"b")),
            ..LegacyMessage::default()
        },
        LegacyMessage {
            offset: 2,
            timestamp: 11,
            value: Some(Bytes::from_static(b"c")),
            ..LegacyMessage::default()
        },
    ];
    MessageSet::encode(&v1, 1, Compression::Gzip, &mut buf).unwrap();
    let mut b = sample_batch(Compression::Snappy);
    b.base_offset = 3;
    for (i, r) in b.records.iter_mut().enumerate() {
        r.offset = 3 + i as i64;
    }
    b.encode(&mut buf).unwrap();
    let set = decode_records(buf.freeze(), &DecodeOptions::default()).unwrap();
    let legacy: Vec<i64> = set.legacy_messages().map(|m| m.offset).collect();
    assert_eq!(legacy, [0, 1, 2]);
    assert_eq!(set.batches().next().unwrap(), &b);
    assert_eq!(set.entries.len(), 4);
}

#[test]
fn v1_inner_offsets_are_relative_and_v0_absolute() {
    let msgs: Vec<_> = (0..3)
        .map(|i| LegacyMessage {
            offset: 50 + i,
            timestamp: i,
            value: Some(Bytes::from_static(b"x")),
            ..LegacyMessage::default()
        })
        .collect();
    for magic in [0i8, 1] {
        let msgs: Vec<_> = msgs
            .iter()
            .cloned()
            .map(|m| LegacyMessage {
                magic,
                timestamp: if magic == 0 { -1 } else { m.timestamp },
                ..m
            })
            .collect();
        let mut buf = BytesMut::new();
        MessageSet::encode(&msgs, magic, Compression::Gzip, &mut buf).unwrap();
        // wrapper offset is the last inner offset
        assert_eq!(i64::from_be_bytes(buf[..8].try_into().unwrap()), 52);
        let value_at = 12 + 4 + 2 + if magic == 1 { 8 } else { 0 } + 4 + 4;
        let inner = kafkaex_protocol::records::compression::decompress(
            Compression::Gzip,
            &buf[value_at..],
            1 << 20,
        )
        .unwrap();
        let first_inner = i64::from_be_bytes(inner[..8].try_into().unwrap());
        assert_eq!(first_inner, if magic == 1 { 0 } else { 50 });
        let got: Vec<i64> = MessageSet::decode(buf.freeze(), &DecodeOptions::default())
            .unwrap()
            .messages
            .iter()
            .map(|m| m.offset)
            .collect();
        assert_eq!(got, [50, 51, 52]);
    }
}

/// Builds a minimal batch header by hand (no encoder code) around `records`.
fn hand_batch(count: i32, records: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i64(0);
    b.put_i32((49 + records.len()) as i32);
    b.put_i32(-1);
    b.put_i8(2);
    b.put_u32(0);
    b.put_i16(0);
    b.put_i32(0);
    b.put_i64(0);
    b.put_i64(0);
    b.put_i64(-1);
    b.put_i16(-1);
    b.put_i32(-1);
    b.put_i32(count);
    b.extend_from_slice(records);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

#[test]
fn crc32c_known_answer() {
    // The CRC-32C check value from the Castagnoli polynomial's definition.
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    // A hand-built batch, per the spec: one record, offset delta 0, timestamp delta 0, null key,
    // value "a", no headers (length 7: attributes, ts delta, offset delta, key -1, value len 1,
    // "a", header count 0).
    let record = [0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, b'a', 0x00];
    let bytes = hand_batch(1, &record).freeze();
    let stored = u32::from_be_bytes(bytes[17..21].try_into().unwrap());
    // Computed independently with a bitwise CRC-32C (poly 0x82F63B78) in Python.
    assert_eq!(stored, 0xdbe9_c876);
    let ours = RecordBatch::decode(&mut bytes.clone(), &DecodeOptions::default()).unwrap();
    assert_eq!(ours.records[0].value.as_deref(), Some(&b"a"[..]));
    assert_eq!(ours.to_bytes().unwrap(), bytes);
}

#[test]
fn hostile_counts_and_lengths_are_typed_errors() {
    let record = [0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, b'a', 0x00];
    let err = RecordBatch::decode(
        &mut hand_batch(i32::MAX, &record).freeze(),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidLength {
                what: "record count",
                ..
            }
        ),
        "{err}"
    );
    let err = RecordBatch::decode(
        &mut hand_batch(-5, &record).freeze(),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, DecodeError::InvalidLength { .. }), "{err}");
    // header count i32::MAX (zig-zag varint 0xfe 0xff 0xff 0xff 0x0f)
    let record = [
        0x16, 0x00, 0x00, 0x00, 0x01, 0x02, b'a', 0xfe, 0xff, 0xff, 0xff, 0x0f,
    ];
    let err = RecordBatch::decode(
        &mut hand_batch(1, &record).freeze(),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidLength {
                what: "record header count",
                ..
            }
        ),
        "{err}"
    );
    // value length i32::MAX
    let record = [
        0x14, 0x00, 0x00, 0x00, 0x01, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x00,
    ];
    let err = RecordBatch::decode(
        &mut hand_batch(1, &record).freeze(),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidLength {
                what: "record value",
                ..
            }
        ),
        "{err}"
    );
    // record length past the batch
    let record = [0x7e, 0, 0, 0, 0, 0, 0, 0];
    let err = RecordBatch::decode(
        &mut hand_batch(1, &record).freeze(),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, DecodeError::InvalidLength { what: "record", .. }),
        "{err}"
    );
    // overlong varint
    let record = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let err = RecordBatch::decode(
        &mut hand_batch(1, &record).freeze(),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err, DecodeError::VarintOverflow);
    // batch length smaller than a header, and negative
    for len in [10, -7, i32::MIN] {
        let mut b = hand_batch(0, &[]);
        b[8..12].copy_from_slice(&i32::to_be_bytes(len));
        assert!(decode_records(b.freeze(), &DecodeOptions::default()).is_err());
    }
    // unknown magic and unknown codec
    let mut b = hand_batch(0, &[]);
    b[16] = 7;
    assert_eq!(
        decode_records(b.freeze(), &DecodeOptions::default()).unwrap_err(),
        DecodeError::UnknownMagic(7)
    );
    let mut b = hand_batch(0, &[]);
    b[22] = 6;
    let err = RecordBatch::decode(
        &mut b.freeze(),
        &DecodeOptions {
            verify_crc: false,
            ..DecodeOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        DecodeError::Compression(CompressionError::UnknownCodec(6))
    );
}

#[test]
fn garbage_never_panics() {
    let good = sample_batch(Compression::Gzip).to_bytes().unwrap();
    let opts = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    for i in 0..good.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = BytesMut::from(&good[..]);
            b[i] ^= x;
            let _ = decode_records(b.freeze(), &opts);
        }
    }
}

#[test]
fn control_batches_are_flagged() {
    // Control record key: version int16 0, type int16 (1 = commit); value: version, coordinator epoch.
    let mut b = RecordBatchBuilder::new(7, 0, Compression::None);
    b.producer(42, 3, -1).transactional(true);
    b.append(0, Some(&[0, 0, 0, 1]), Some(&[0, 0, 0, 0, 0, 5]), &[])
        .unwrap();
    let mut bytes = BytesMut::from(&b.finish().unwrap()[..]);
    // set the control bit and fix the CRC
    bytes[22] |= 0x20;
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    let batch = RecordBatch::decode(&mut bytes.freeze(), &DecodeOptions::default()).unwrap();
    assert!(batch.is_control && batch.is_transactional);
    assert_eq!(batch.control_type(), Some(ControlRecordType::Commit));
    assert_eq!(batch.producer_id, 42);
}

proptest! {
    #[test]
    fn view_reads_what_decode_reads(b in batch()) {
        use kafkaex_protocol::records::RecordBatchView;
        let bytes = b.to_bytes().unwrap();
        let mut rest = bytes.clone();
        let view = RecordBatchView::decode(&mut rest, &DecodeOptions::default()).unwrap();
        prop_assert!(rest.is_empty());
        prop_assert_eq!(view.len(), b.records.len());
        prop_assert_eq!(&view.header().records, &Vec::<Record>::new());
        for (r, expected) in view.records().zip(&b.records) {
            let r = r.unwrap();
            prop_assert_eq!(r.offset, expected.offset);
            prop_assert_eq!(r.timestamp, expected.timestamp);
            prop_assert_eq!(r.attributes, expected.attributes);
            prop_assert_eq!(r.key, expected.key.as_deref());
            prop_assert_eq!(r.value, expected.value.as_deref());
            let headers: Vec<_> = r.headers.map(Result::unwrap).collect();
            let want: Vec<_> = expected.headers.iter().map(|h| (h.key.as_str(), h.value.as_deref())).collect();
            prop_assert_eq!(headers, want);
        }
        prop_assert_eq!(view.records().count(), b.records.len());
        prop_assert_eq!(view.into_batch().unwrap(), b);
    }
}

#[test]
fn view_reports_corrupt_records_as_items() {
    use kafkaex_protocol::records::RecordBatchView;
    // second record's length runs past the section
    let record = [
        0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, b'a', 0x00, 0x7e, 0, 0, 0, 0, 0, 0, 0,
    ];
    let view = RecordBatchView::decode(
        &mut hand_batch(2, &record).freeze(),
        &DecodeOptions::default(),
    )
    .unwrap();
    let items: Vec<_> = view.records().collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert!(matches!(
        items[1],
        Err(DecodeError::InvalidLength { what: "record", .. })
    ));
    assert!(view.into_batch().is_err());
}

#[test]
fn set_batch_producer_restamps_the_producer_fields_and_the_crc() {
    use kafkaex_protocol::records::{set_batch_producer, Compression, RecordBatchBuilder};
    let mut b = RecordBatchBuilder::new(0, 1000, Compression::Lz4);
    b.append(1000, Some(b"k"), Some(b"v"), &[]).unwrap();
    b.append(1001, None, Some(b"w"), &[]).unwrap();
    let mut bytes = b.finish().unwrap().to_vec();
    set_batch_producer(&mut bytes, 77, 3, 41).unwrap();
    let batch = RecordBatch::decode(
        &mut bytes::Bytes::from(bytes.clone()),
        &DecodeOptions::default(),
    )
    .unwrap();
    assert_eq!(
        (batch.producer_id, batch.producer_epoch, batch.base_sequence),
        (77, 3, 41)
    );
    assert_eq!(batch.records.len(), 2);
    // Not one whole batch: refused.
    assert!(set_batch_producer(&mut bytes[..60], 1, 1, 1).is_err());
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes);
    assert!(set_batch_producer(&mut two, 1, 1, 1).is_err());
}
