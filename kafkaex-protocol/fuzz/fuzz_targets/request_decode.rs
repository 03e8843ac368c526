//! Request decoding, as a broker (or a scripted test peer) would do it: the header says which
//! API and version follow. Not the client's job in production, but the same generated code as
//! the responses, so it is fuzzed too.
//!
//! Input: the request header and body exactly as they follow the size prefix. Versions outside
//! the API's range must be refused with an error, not decoded.
#![no_main]

use bytes::Bytes;
use kafkaex_protocol::header::decode_request_header;
use kafkaex_protocol::messages::decode_request_body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = Bytes::copy_from_slice(data);
    let Ok((header, api)) = decode_request_header(&mut buf) else {
        return;
    };
    let version = header.request_api_version;
    let decoded = decode_request_body(api, version, buf);
    let Ok(body) = decoded else {
        return;
    };
    assert!(
        api.valid_versions().contains(version),
        "{api} v{version} decoded although the version is not valid"
    );
    let first = body
        .to_bytes(version)
        .unwrap_or_else(|e| panic!("{api} v{version}: decoded request does not encode: {e}"));
    let again = decode_request_body(api, version, first.clone().freeze())
        .unwrap_or_else(|e| panic!("{api} v{version}: re-encoded request does not decode: {e}"));
    let second = again.to_bytes(version).expect("encodes once more");
    assert_eq!(first, second, "{api} v{version}: encoding is not stable");
});
