//! Response decoding for every API at every valid version: what a client reads off the wire
//! from a broker it may not trust.
//!
//! Input: byte 0 picks the API, byte 1 the version (see `pick_api`), then the response header
//! and body exactly as they follow the size prefix. The header is decoded at the version the
//! API needs, the body with `decode_response_body`. A body that decodes must encode again, and
//! that encoding must decode to a value that encodes to the same bytes (compared as bytes, so
//! NaN floats do not count as a difference).
#![no_main]

use kafkaex_protocol::header::decode_response_header;
use kafkaex_protocol::messages::decode_response_body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((api, version, mut buf)) = kafkaex_protocol_fuzz::pick_api(data) else {
        return;
    };
    // The body alone, as if the header had been consumed elsewhere: header and body formats
    // overlap, so this reaches the body decoder with inputs the header would have eaten.
    let _ = decode_response_body(api, version, buf.clone());
    if decode_response_header(api, version, &mut buf).is_err() {
        return;
    }
    let Ok(body) = decode_response_body(api, version, buf) else {
        return;
    };
    let first = body
        .to_bytes(version)
        .unwrap_or_else(|e| panic!("{api} v{version}: decoded response does not encode: {e}"));
    let again = decode_response_body(api, version, first.clone().freeze())
        .unwrap_or_else(|e| panic!("{api} v{version}: re-encoded response does not decode: {e}"));
    let second = again.to_bytes(version).expect("encodes once more");
    assert_eq!(first, second, "{api} v{version}: encoding is not stable");
});
