//! Request and response headers, and request framing.
//!
//! A request on the wire is `size: int32` followed by a request header and the body; a response
//! is `size: int32`, a response header and the body. Which header version goes with which API
//! version is a property of the API ([`ApiKey::request_header_version`],
//! [`ApiKey::response_header_version`]), including two historical exceptions: ControlledShutdown
//! v0 uses request header v0, and ApiVersions responses always use response header v0.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::message::{Decodable, Encodable, Request};
use crate::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader};
use crate::primitives;

/// The request header versions Kafka defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestHeaderVersion {
    /// `api_key: int16, api_version: int16, correlation_id: int32`.
    V0,
    /// v0 plus `client_id: nullable int16 string`.
    V1,
    /// v1 plus a tagged-field section (the client id keeps its classic int16 length).
    V2,
}

impl RequestHeaderVersion {
    /// The version with this number, if Kafka defines it.
    pub fn from_i16(version: i16) -> Option<Self> {
        match version {
            0 => Some(Self::V0),
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            _ => None,
        }
    }

    /// The version number.
    pub fn as_i16(self) -> i16 {
        match self {
            Self::V0 => 0,
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }
}

/// The response header versions Kafka defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResponseHeaderVersion {
    /// `correlation_id: int32`.
    V0,
    /// v0 plus a tagged-field section.
    V1,
}

impl ResponseHeaderVersion {
    /// The version with this number, if Kafka defines it.
    pub fn from_i16(version: i16) -> Option<Self> {
        match version {
            0 => Some(Self::V0),
            1 => Some(Self::V1),
            _ => None,
        }
    }

    /// The version number.
    pub fn as_i16(self) -> i16 {
        match self {
            Self::V0 => 0,
            Self::V1 => 1,
        }
    }
}

/// The offset of the correlation id in a request frame head from [`encode_request_head`]: after
/// the size prefix, the API key and the API version, in every header version.
pub const REQUEST_HEAD_CORRELATION_ID_OFFSET: usize = 8;

/// The start of a request frame, without copying the body: the 4-byte size prefix (counting
/// `body_len` bytes of body that the caller writes after it) and the request header of
/// `header_version`. This is what a connection writes in front of an already encoded body; it
/// writes the same bytes as [`RequestHeader`] would, without building one.
pub fn encode_request_head(
    api_key: ApiKey,
    api_version: i16,
    header_version: RequestHeaderVersion,
    correlation_id: i32,
    client_id: Option<&str>,
    body_len: usize,
) -> Result<BytesMut, EncodeError> {
    let mut header_len = 2 + 2 + 4;
    if header_version >= RequestHeaderVersion::V1 {
        header_len += primitives::nullable_string_len(client_id, false);
    }
    if header_version >= RequestHeaderVersion::V2 {
        header_len += 1;
    }
    let mut head = BytesMut::with_capacity(4 + header_len);
    let size = header_len
        .checked_add(body_len)
        .and_then(|size| i32::try_from(size).ok())
        .ok_or(EncodeError::TooLong {
            what: "request frame",
            len: header_len.saturating_add(body_len),
        })?;
    head.put_i32(size);
    head.put_i16(api_key.as_i16());
    head.put_i16(api_version);
    head.put_i32(correlation_id);
    if header_version >= RequestHeaderVersion::V1 {
        primitives::put_nullable_string(&mut head, client_id, false)?;
    }
    if header_version >= RequestHeaderVersion::V2 {
        // No tagged fields: a count of zero.
        primitives::put_uvarint(&mut head, 0);
    }
    Ok(head)
}

/// Reads what follows the correlation id in a response header of `version` (nothing in v0, a
/// tagged-field section in v1, whose fields are skipped: no response header field is tagged
/// today), leaving `buf` at the body.
pub fn skip_response_header_rest(
    buf: &mut Bytes,
    version: ResponseHeaderVersion,
) -> Result<(), DecodeError> {
    match version {
        ResponseHeaderVersion::V0 => Ok(()),
        ResponseHeaderVersion::V1 => primitives::skip_tagged_fields(buf),
    }
}

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
        let size = header.encoded_len(header_version.as_i16())? + body_len;
        put_size(buf, size, "request frame")?;
        header.encode(buf, header_version.as_i16())?;
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
    ResponseHeader::decode(buf, api_key.response_header_version(version).as_i16())
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
        let size = header.encoded_len(header_version.as_i16())? + body_len;
        put_size(buf, size, "response frame")?;
        header.encode(buf, header_version.as_i16())?;
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
    let header = RequestHeader::decode(buf, api_key.request_header_version(version).as_i16())?;
    Ok((header, api_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::messages::{
        ApiVersionsRequest, ApiVersionsResponse, ControlledShutdownRequest, MetadataRequest,
    };

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
        use RequestHeaderVersion as Req;
        use ResponseHeaderVersion as Resp;
        assert_eq!(ApiKey::Produce.request_header_version(8), Req::V1);
        assert_eq!(ApiKey::Produce.request_header_version(9), Req::V2);
        assert_eq!(
            ApiKey::ControlledShutdown.request_header_version(0),
            Req::V0
        );
        assert_eq!(
            ApiKey::ControlledShutdown.request_header_version(1),
            Req::V1
        );
        assert_eq!(ApiKey::Fetch.response_header_version(12), Resp::V1);
        assert_eq!(ApiKey::Fetch.response_header_version(11), Resp::V0);
        assert_eq!(ApiKey::ApiVersions.response_header_version(4), Resp::V0);
        assert_eq!(ApiKey::ApiVersions.request_header_version(3), Req::V2);
    }

    #[test]
    fn header_version_numbers() {
        for v in 0..3 {
            assert_eq!(RequestHeaderVersion::from_i16(v).unwrap().as_i16(), v);
        }
        assert_eq!(RequestHeaderVersion::from_i16(3), None);
        for v in 0..2 {
            assert_eq!(ResponseHeaderVersion::from_i16(v).unwrap().as_i16(), v);
        }
        assert_eq!(ResponseHeaderVersion::from_i16(2), None);
    }

    #[test]
    fn request_head_matches_the_generated_header() {
        for (version, client_id) in [
            (RequestHeaderVersion::V0, None),
            (RequestHeaderVersion::V1, Some("kafkaex")),
            (RequestHeaderVersion::V1, None),
            (RequestHeaderVersion::V2, Some("kafkaex")),
            (RequestHeaderVersion::V2, None),
        ] {
            let head = encode_request_head(ApiKey::Fetch, 13, version, 77, client_id, 5).unwrap();
            let header = RequestHeader::default()
                .with_request_api_key(ApiKey::Fetch.as_i16())
                .with_request_api_version(13)
                .with_correlation_id(77)
                .with_client_id(client_id.map(str::to_owned));
            let expected = header.to_bytes(version.as_i16()).unwrap();
            assert_eq!(&head[4..], &expected[..], "{version:?}");
            let size = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            assert_eq!(size as usize, expected.len() + 5);
            assert_eq!(
                &head[REQUEST_HEAD_CORRELATION_ID_OFFSET..REQUEST_HEAD_CORRELATION_ID_OFFSET + 4],
                &77i32.to_be_bytes()
            );
        }
        let long = "x".repeat(40_000);
        assert!(matches!(
            encode_request_head(
                ApiKey::Fetch,
                1,
                RequestHeaderVersion::V1,
                0,
                Some(&long),
                0
            ),
            Err(EncodeError::TooLong { .. })
        ));
    }

    #[test]
    fn response_header_rest_skips_tagged_fields() {
        let mut b = Bytes::from_static(&[1, 9, 2, 0xde, 0xad, 0xaa]);
        skip_response_header_rest(&mut b, ResponseHeaderVersion::V1).unwrap();
        assert_eq!(&b[..], &[0xaa]);
        let mut b = Bytes::from_static(&[0xaa]);
        skip_response_header_rest(&mut b, ResponseHeaderVersion::V0).unwrap();
        assert_eq!(&b[..], &[0xaa]);
        let mut b = Bytes::from_static(&[1, 9, 5, 0]);
        assert!(skip_response_header_rest(&mut b, ResponseHeaderVersion::V1).is_err());
    }
}
