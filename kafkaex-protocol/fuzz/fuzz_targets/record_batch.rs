//! Record batch (magic 2) decoding, the hottest untrusted path: the `records` of every fetch.
//!
//! Input: byte 0 chooses the options (bit 0: verify CRCs; the decompression cap is always the
//! small `RECORDS_CAP`), the rest is a `records` field. It goes through all three readers:
//!
//! - `decode_records`, which also takes legacy messages and partial trailing batches;
//! - `RecordBatch::decode`, batch after batch; each decoded batch must encode again and decode
//!   back to an equal batch;
//! - `RecordBatchView::decode` with its borrowed record and header iterators, which must yield
//!   exactly the records `RecordBatch::decode` does whenever the latter succeeds.
#![no_main]

use kafkaex_protocol::records::{
    decode_records, DecodeOptions, RecordBatch, RecordBatchView, RecordSetEntry,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((opts, input)) = kafkaex_protocol_fuzz::records_input(data) else {
        return;
    };

    if let Ok(set) = decode_records(input.clone(), &opts) {
        // Whatever `decode_records` accepts as a batch, `RecordBatch::decode` accepts alike.
        let mut rest = input.clone();
        for entry in &set.entries {
            if let RecordSetEntry::Batch(b) = entry {
                while rest.len() > 16 && rest[16] != 2 {
                    // Skip legacy entries: offset, size, then `size` bytes.
                    let size = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
                    bytes::Buf::advance(&mut rest, 12 + size as usize);
                }
                let again = RecordBatch::decode(&mut rest, &opts).expect("decode_records took it");
                assert_eq!(&again, b, "decode_records and RecordBatch::decode disagree");
            }
        }
    }

    let mut buf = input.clone();
    while !buf.is_empty() {
        let Ok(batch) = RecordBatch::decode(&mut buf, &opts) else {
            break;
        };
        check_round_trip(&batch, &opts);
    }

    let mut buf = input;
    while !buf.is_empty() {
        let before = buf.clone();
        let Ok(view) = RecordBatchView::decode(&mut buf, &opts) else {
            break;
        };
        let mut records = Vec::new();
        let mut ok = true;
        for r in view.records() {
            let Ok(r) = r else {
                ok = false;
                break;
            };
            let mut headers = Vec::new();
            for h in r.headers.clone() {
                match h {
                    Ok((k, v)) => headers.push((k.to_owned(), v.map(<[u8]>::to_vec))),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            records.push((r.offset, r.timestamp, r.attributes, r.key, r.value, headers));
        }
        let mut again = before;
        if let Ok(batch) = RecordBatch::decode(&mut again, &opts) {
            assert!(
                ok,
                "RecordBatch::decode succeeds where the view's iterators fail"
            );
            assert_eq!(batch.records.len(), records.len());
            for (a, b) in batch.records.iter().zip(&records) {
                let headers: Vec<_> = a
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.key.as_str().to_owned(),
                            h.value.as_ref().map(|v| v.to_vec()),
                        )
                    })
                    .collect();
                assert_eq!(
                    (
                        a.offset,
                        a.timestamp,
                        a.attributes,
                        a.key.as_deref(),
                        a.value.as_deref(),
                        headers,
                    ),
                    b.clone(),
                    "view and RecordBatch::decode disagree on a record"
                );
            }
            let mut header = batch.clone();
            header.records.clear();
            assert_eq!(view.header(), &header);
            assert_eq!(view.clone().into_batch().as_ref(), Ok(&batch));
        }
        let _ = view.into_batch();
    }
});

/// Encoding a decoded batch and decoding it again gives the same batch. The re-encoded batch
/// has a correct CRC whatever the input's was, and its records section is no larger than the
/// one decoded (the encoder writes canonical varints), so the same cap applies.
fn check_round_trip(batch: &RecordBatch, opts: &DecodeOptions) {
    let bytes = batch
        .to_bytes()
        .unwrap_or_else(|e| panic!("a decoded batch does not encode: {e}"));
    let mut buf = bytes.clone();
    let opts = DecodeOptions {
        verify_crc: true,
        ..*opts
    };
    let again = RecordBatch::decode(&mut buf, &opts)
        .unwrap_or_else(|e| panic!("an encoded batch does not decode: {e}"));
    assert!(buf.is_empty(), "encoded batch has trailing bytes");
    assert_eq!(&again, batch, "batch round trip");
}
