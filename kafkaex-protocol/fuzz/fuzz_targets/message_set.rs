//! Legacy message set (magic 0 and 1) decoding, compressed wrappers included: what old brokers,
//! and new brokers down-converting for old fetch versions, send.
//!
//! Input: byte 0 chooses the options (bit 0: verify CRCs; cap `RECORDS_CAP`), the rest is the
//! message set. `MessageSet::decode` and `decode_records` must agree on it; an uncompressed set
//! of one magic must encode back to a set that decodes equal.
#![no_main]

use bytes::BytesMut;
use kafkaex_protocol::records::compression::Compression;
use kafkaex_protocol::records::{decode_records, DecodeOptions, MessageSet, RecordSetEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((opts, input)) = kafkaex_protocol_fuzz::records_input(data) else {
        return;
    };
    let set = MessageSet::decode(input.clone(), &opts);
    let records = decode_records(input, &opts);
    let Ok(set) = set else {
        return;
    };
    // A message set is a records field of legacy entries only, so decode_records reads it the
    // same way (it also accepts batches, which MessageSet::decode refuses by magic). The one
    // allowed difference is a partial trailing entry: decode_records looks at its magic byte
    // (to tell a batch from a message) and refuses an unknown one, MessageSet::decode skips it
    // unread.
    let records = match records {
        Ok(r) => r,
        Err(e) => {
            assert!(
                set.truncated,
                "decode_records refuses what MessageSet::decode takes whole: {e}"
            );
            return;
        }
    };
    let legacy: Vec<_> = records
        .entries
        .into_iter()
        .map(|e| match e {
            RecordSetEntry::Legacy(m) => m,
            RecordSetEntry::Batch(_) => panic!("a batch inside a message set"),
        })
        .collect();
    assert_eq!(
        legacy, set.messages,
        "MessageSet::decode and decode_records disagree"
    );
    assert_eq!(records.truncated, set.truncated);

    let Some(first) = set.messages.first() else {
        return;
    };
    let magic = first.magic;
    if set
        .messages
        .iter()
        .any(|m| m.magic != magic || m.compression != Compression::None)
    {
        return;
    }
    let mut buf = BytesMut::new();
    MessageSet::encode(&set.messages, magic, Compression::None, &mut buf)
        .unwrap_or_else(|e| panic!("decoded messages do not encode: {e}"));
    let opts = DecodeOptions {
        verify_crc: true,
        ..opts
    };
    let again = MessageSet::decode(buf.freeze(), &opts)
        .unwrap_or_else(|e| panic!("encoded messages do not decode: {e}"));
    assert!(!again.truncated);
    assert_eq!(again.messages, set.messages, "message set round trip");
});
