//! Request and response headers, and request framing.
//!
//! A request on the wire is `size: int32` followed by a request header and the body; a response
//! is `size: int32`, a response header and the body. Which header version goes with which API
//! version is a property of the API ([`ApiKey::request_header_version`],
//! [`ApiKey::response_header_version`]), including two historical exceptions: ControlledShutdown
//! v0 uses request header v0, and ApiVersions responses always use response header v0.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::generated::{ApiKey, RequestHeader, RequestKind, ResponseHeader};
use crate::message::{Decodable, Encodable, Request};

/// Appends a complete request frame to `buf`: the 4-byte size prefix (back-patched once the frame
/// is written), the request header of the version `R` needs at `version`, and the body.
///
/// On error nothing is left in `buf` beyond what it held before.
pub fn encode_request_frame<R: Request>(
    buf: &mut BytesMut,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: &R,
) -> Result<(), EncodeError> {
    encode_frame_of(buf, R::API_KEY, correlation_id, client_id, version, body)
}

/// [`encode_request_frame`] for a body whose type is known only at run time.
pub fn encode_request_kind_frame(
    buf: &mut BytesMut,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: &RequestKind,
) -> Result<(), EncodeError> {
    encode_frame_of(
        buf,
        body.api_key(),
        correlation_id,
        client_id,
        version,
        body,
    )
}

fn encode_frame_of(
    buf: &mut BytesMut,
    api_key: ApiKey,
    correlation_id: i32,
    client_id: Option<&str>,
    version: i16,
    body: &impl Encodable,
) -> Result<(), EncodeError> {
    let header = RequestHeader {
        request_api_key: api_key.as_i16(),
        request_api_version: version,
        correlation_id,
        client_id: client_id.map(str::to_owned),
        ..RequestHeader::default()
    };
    // The body checks its version too, but only after the header is written; checking first
    // keeps the header encoding from running for a request that cannot be sent.
    let body_len = body.encoded_len(version)?;
    let header_version = api_key.request_header_version(version);
    write_frame(buf, |buf| {
        let size = header.encoded_len(header_version)? + body_len;
        put_size(buf, size, "request frame")?;
        header.encode(buf, header_version)?;
        body.encode(buf, version)
    })
}

/// Runs `write` and undoes its partial output on error.
fn write_frame(
    buf: &mut BytesMut,
    write: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = buf.len();
    let result = write(buf);
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

fn put_size(buf: &mut BytesMut, size: usize, what: &'static str) -> Result<(), EncodeError> {
    let size = i32::try_from(size).map_err(|_| EncodeError::TooLong { what, len: size })?;
    buf.reserve(4 + size as usize);
    buf.put_i32(size);
    Ok(())
}

/// Decodes the response header at the front of `buf` (the size prefix already removed) for a
/// response of `api_key` at `version`, leaving `buf` at the body.
pub fn decode_response_header(
    api_key: ApiKey,
    version: i16,
    buf: &mut Bytes,
) -> Result<ResponseHeader, DecodeError> {
    ResponseHeader::decode(buf, api_key.response_header_version(version))
}

/// Appends a complete response frame (size prefix, response header, body) to `buf`, as a broker
/// would send it. Used by scripted peers in tests and by fuzzing.
pub fn encode_response_frame(
    buf: &mut BytesMut,
    api_key: ApiKey,
    correlation_id: i32,
    version: i16,
    body: &impl Encodable,
) -> Result<(), EncodeError> {
    let header = ResponseHeader {
        correlation_id,
        ..ResponseHeader::default()
    };
    let body_len = body.encoded_len(version)?;
    let header_version = api_key.response_header_version(version);
    write_frame(buf, |buf| {
        let size = header.encoded_len(header_version)? + body_len;
        put_size(buf, size, "response frame")?;
        header.encode(buf, header_version)?;
        body.encode(buf, version)
    })
}

/// Decodes the request header at the front of `buf` (the size prefix already removed), choosing
/// the header version from the API key and version it starts with, as a broker does. Returns the
/// header and its API key, leaving `buf` at the body.
pub fn decode_request_header(buf: &mut Bytes) -> Result<(RequestHeader, ApiKey), DecodeError> {
    if buf.len() < 4 {
        return Err(DecodeError::UnexpectedEof {
            needed: 4,
            remaining: buf.len(),
        });
    }
    let key = i16::from_be_bytes([buf[0], buf[1]]);
    let version = i16::from_be_bytes([buf[2], buf[3]]);
    let api_key = ApiKey::from_i16(key).ok_or(DecodeError::InvalidValue {
        what: "api key",
        value: i64::from(key),
    })?;
    let header = RequestHeader::decode(buf, api_key.request_header_version(version))?;
    Ok((header, api_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::{
        ApiVersionsRequest, ApiVersionsResponse, ControlledShutdownRequest, MetadataRequest,
    };
    use crate::message::Message;

    #[test]
    fn request_frame_has_size_header_and_body() {
        let mut buf = BytesMut::new();
        let req = MetadataRequest::default();
        encode_request_frame(&mut buf, 7, Some("kx"), 0, &req).unwrap();
        // size, api key 3, version 0, correlation id 7, client id "kx", empty topic array.
        let expected: &[u8] = &[
            0, 0, 0, 16, 0, 3, 0, 0, 0, 0, 0, 7, 0, 2, b'k', b'x', 0, 0, 0, 0,
        ];
        assert_eq!(&buf[..], expected);
    }

    #[test]
    fn flexible_request_uses_header_v2_with_classic_client_id() {
        let mut buf = BytesMut::new();
        let req = ApiVersionsRequest::default();
        encode_request_frame(&mut buf, 1, None, 3, &req).unwrap();
        // Header v2: the client id keeps its int16 length (null = -1), then an empty tagged
        // field section; the body is two empty compact strings and no tagged fields.
        let expected: &[u8] = &[0, 0, 0, 14, 0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0, 1, 1, 0];
        assert_eq!(&buf[..], expected);
    }

    #[test]
    fn controlled_shutdown_v0_uses_header_v0() {
        let mut buf = BytesMut::new();
        let req = ControlledShutdownRequest::default().with_broker_id(5);
        encode_request_frame(&mut buf, 9, Some("ignored"), 0, &req).unwrap();
        let expected: &[u8] = &[0, 0, 0, 12, 0, 7, 0, 0, 0, 0, 0, 9, 0, 0, 0, 5];
        assert_eq!(&buf[..], expected);
        let mut frame = buf.freeze().slice(4..);
        let (header, key) = decode_request_header(&mut frame).unwrap();
        assert_eq!(key, ApiKey::ControlledShutdown);
        assert_eq!(header.correlation_id, 9);
    }

    #[test]
    fn request_kind_frame_matches_the_typed_one() {
        let req = MetadataRequest::default();
        let mut typed = BytesMut::new();
        encode_request_frame(&mut typed, 3, Some("a"), 4, &req).unwrap();
        let mut dynamic = BytesMut::new();
        encode_request_kind_frame(&mut dynamic, 3, Some("a"), 4, &RequestKind::from(req)).unwrap();
        assert_eq!(typed, dynamic);
    }

    #[test]
    fn bad_version_leaves_the_buffer_untouched() {
        let mut buf = BytesMut::from(&b"xy"[..]);
        let err =
            encode_request_frame(&mut buf, 1, None, 99, &MetadataRequest::default()).unwrap_err();
        assert!(matches!(
            err,
            EncodeError::UnsupportedVersion {
                message: "MetadataRequest",
                version: 99,
                ..
            }
        ));
        assert_eq!(&buf[..], b"xy");
    }

    #[test]
    fn api_versions_response_header_is_always_v0() {
        // A flexible (v3) ApiVersions response still has a v0 header: no tagged fields after the
        // correlation id, so the body starts right after it.
        let body = ApiVersionsResponse::default().with_error_code(35);
        let mut buf = BytesMut::new();
        encode_response_frame(&mut buf, ApiKey::ApiVersions, 42, 3, &body).unwrap();
        let mut frame = buf.freeze().slice(4..);
        assert_eq!(&frame[..6], &[0, 0, 0, 42, 0, 35]);
        let header = decode_response_header(ApiKey::ApiVersions, 3, &mut frame).unwrap();
        assert_eq!(header.correlation_id, 42);
        assert_eq!(ApiVersionsResponse::from_bytes(frame, 3).unwrap(), body);
    }

    #[test]
    fn flexible_response_header_has_tagged_fields() {
        let mut b = Bytes::from_static(&[0, 0, 0, 5, 0, 0xaa]);
        let header = decode_response_header(ApiKey::Metadata, 9, &mut b).unwrap();
        assert_eq!(header.correlation_id, 5);
        assert_eq!(&b[..], &[0xaa]);
        let mut b = Bytes::from_static(&[0, 0, 0, 5, 0, 0xaa]);
        decode_response_header(ApiKey::Metadata, 8, &mut b).unwrap();
        assert_eq!(&b[..], &[0, 0xaa]);
    }

    #[test]
    fn header_versions_follow_the_rules() {
        assert_eq!(ApiKey::Produce.request_header_version(8), 1);
        assert_eq!(ApiKey::Produce.request_header_version(9), 2);
        assert_eq!(ApiKey::ControlledShutdown.request_header_version(0), 0);
        assert_eq!(ApiKey::ControlledShutdown.request_header_version(1), 1);
        assert_eq!(ApiKey::Fetch.response_header_version(12), 1);
        assert_eq!(ApiKey::Fetch.response_header_version(11), 0);
        assert_eq!(ApiKey::ApiVersions.response_header_version(4), 0);
        assert_eq!(ApiKey::ApiVersions.request_header_version(3), 2);
    }
}
