//! Hand-written checks of the generated messages: golden encodings worked out by hand from the
//! wire format (protocol.txt: int16/int32 big-endian, classic strings with an int16 length,
//! arrays with an int32 count; flexible versions use unsigned-varint "length + 1" prefixes and end
//! every struct with a tagged-field section), version and field errors, unknown tagged fields,
//! and hostile input.

use bytes::{Bytes, BytesMut};
use kafkaex_protocol::header::encode_request_frame;
use kafkaex_protocol::messages::testing::TestRng;
use kafkaex_protocol::messages::{
    api_versions_response, decode_request_body, decode_response_body, fetch_request,
    random_request, random_response, ApiKey, ApiVersionsRequest, ApiVersionsResponse, FetchRequest,
    MetadataRequest, MetadataResponse, ProduceRequest, RequestKind,
};
use kafkaex_protocol::{DecodeError, Encodable, EncodeError, Message, UnknownTaggedFields};

#[test]
fn api_versions_request_v3_golden() {
    let req = ApiVersionsRequest::default()
        .with_client_software_name("kafkaex".into())
        .with_client_software_version("0.1.0".into());
    let body = req.to_bytes(3).unwrap();
    // COMPACT_STRING "kafkaex": varint 7+1, bytes; "0.1.0": varint 5+1, bytes; no tagged fields.
    let mut expected = vec![8];
    expected.extend_from_slice(b"kafkaex");
    expected.push(6);
    expected.extend_from_slice(b"0.1.0");
    expected.push(0);
    assert_eq!(&body[..], &expected[..]);
    assert_eq!(
        ApiVersionsRequest::from_bytes(body.freeze(), 3).unwrap(),
        req
    );

    // The whole frame: size, header v2 (api key 18, version 3, correlation id, client id with
    // its classic int16 length even in header v2, empty tagged fields), then the body.
    let mut frame = BytesMut::new();
    encode_request_frame(&mut frame, 0x0102_0304, Some("cli"), 3, &req).unwrap();
    let mut want = Vec::new();
    let header: &[u8] = &[0, 18, 0, 3, 1, 2, 3, 4, 0, 3, b'c', b'l', b'i', 0];
    want.extend_from_slice(&((header.len() + expected.len()) as i32).to_be_bytes());
    want.extend_from_slice(header);
    want.extend_from_slice(&expected);
    assert_eq!(&frame[..], &want[..]);
}

#[test]
fn api_versions_request_v2_drops_ignorable_fields() {
    // ClientSoftwareName is ignorable: an old version simply does not carry it.
    let req = ApiVersionsRequest::default().with_client_software_name("kafkaex".into());
    assert!(req.to_bytes(2).unwrap().is_empty());
}

#[test]
fn metadata_request_v0_golden() {
    let req = MetadataRequest::default().with_topics(Some(vec![
        kafkaex_protocol::messages::metadata_request::MetadataRequestTopic::default()
            .with_name(Some("foo".into())),
        kafkaex_protocol::messages::metadata_request::MetadataRequestTopic::default()
            .with_name(Some("bar".into())),
    ]));
    let body = req.to_bytes(0).unwrap();
    // ARRAY: int32 count 2; each topic a STRING: int16 length 3 and the bytes.
    let expected: &[u8] = &[0, 0, 0, 2, 0, 3, b'f', b'o', b'o', 0, 3, b'b', b'a', b'r'];
    assert_eq!(&body[..], expected);
    assert_eq!(MetadataRequest::from_bytes(body.freeze(), 0).unwrap(), req);
}

#[test]
fn metadata_request_null_topics_only_from_v1() {
    let all = MetadataRequest::default().with_topics(None);
    // v1+: a null array (-1) means "all topics".
    assert_eq!(&all.to_bytes(1).unwrap()[..], &[0xff, 0xff, 0xff, 0xff]);
    let err = all.to_bytes(0).unwrap_err();
    assert_eq!(
        err,
        EncodeError::NullNotAllowed {
            message: "MetadataRequest",
            field: "Topics",
            version: 0
        }
    );
}

#[test]
fn field_not_in_version_is_an_error_naming_message_and_version() {
    let req = ProduceRequest::default().with_transactional_id(Some("tx".into()));
    let err = req.to_bytes(2).unwrap_err();
    assert_eq!(
        err,
        EncodeError::FieldNotInVersion {
            message: "ProduceRequest",
            field: "TransactionalId",
            version: 2
        }
    );
    assert!(err.to_string().contains("ProduceRequest v2"), "{err}");
    assert!(req.encoded_len(2).is_err());
    assert!(req.to_bytes(3).is_ok());

    // A non-ignorable field in a nested struct, with a non-default value.
    let req = FetchRequest::default()
        .with_topics(vec![fetch_request::FetchTopic::default().with_partitions(
            vec![fetch_request::FetchPartition::default().with_last_fetched_epoch(5)],
        )]);
    assert_eq!(
        req.to_bytes(11).unwrap_err(),
        EncodeError::FieldNotInVersion {
            message: "FetchRequest.FetchPartition",
            field: "LastFetchedEpoch",
            version: 11
        }
    );
    assert!(req.to_bytes(12).is_ok());
    // The spec default (-1) is fine in any version.
    let req = FetchRequest::default().with_topics(vec![fetch_request::FetchTopic::default()
        .with_partitions(vec![fetch_request::FetchPartition::default()])]);
    assert!(req.to_bytes(4).is_ok());

    // Unknown tagged fields cannot be carried by a non-flexible version either.
    let req = ApiVersionsRequest::default()
        .with_unknown_tagged_fields(UnknownTaggedFields::from([(9, Bytes::from_static(b"x"))]));
    assert!(matches!(
        req.to_bytes(2),
        Err(EncodeError::FieldNotInVersion { version: 2, .. })
    ));
}

#[test]
fn spec_defaults_are_honoured() {
    let req = MetadataRequest::default();
    assert!(
        req.allow_auto_topic_creation,
        "AllowAutoTopicCreation defaults to true"
    );
    assert_eq!(req.topics, Some(Vec::new()));
    assert_eq!(FetchRequest::default().max_bytes, i32::MAX);
    assert_eq!(
        fetch_request::FetchPartition::default().last_fetched_epoch,
        -1
    );
    assert_eq!(ApiVersionsResponse::default().finalized_features_epoch, -1);
    // AllowAutoTopicCreation = false cannot be said before v4, and is not ignorable.
    let req = MetadataRequest::default().with_allow_auto_topic_creation(false);
    assert!(matches!(
        req.to_bytes(3),
        Err(EncodeError::FieldNotInVersion { .. })
    ));
}

#[test]
fn version_out_of_range_names_the_api() {
    let err = ProduceRequest::default().to_bytes(14).unwrap_err();
    assert_eq!(
        err,
        EncodeError::UnsupportedVersion {
            message: "ProduceRequest",
            version: 14,
            min: 0,
            max: 13
        }
    );
    assert!(err.to_string().contains("ProduceRequest v14"));
    let err = ProduceRequest::from_bytes(Bytes::new(), -1).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::UnsupportedVersion {
            message: "ProduceRequest",
            version: -1,
            ..
        }
    ));
    let err = decode_response_body(ApiKey::Metadata, 99, Bytes::new()).unwrap_err();
    assert!(err.to_string().contains("MetadataResponse v99"), "{err}");
    let err = RequestKind::from(ProduceRequest::default())
        .encoded_len(99)
        .unwrap_err();
    assert!(matches!(
        err,
        EncodeError::UnsupportedVersion {
            message: "ProduceRequest",
            ..
        }
    ));
}

#[test]
fn unknown_tagged_fields_survive_a_round_trip() {
    // ApiVersionsRequest v3: two compact strings, then one tagged field: tag 42, size 3.
    let wire = Bytes::from_static(&[2, b'k', 1, 1, 42, 3, 7, 8, 9]);
    let req = ApiVersionsRequest::from_bytes(wire.clone(), 3).unwrap();
    assert_eq!(req.client_software_name, "k");
    assert_eq!(
        req.unknown_tagged_fields,
        UnknownTaggedFields::from([(42, Bytes::from_static(&[7, 8, 9]))])
    );
    assert_eq!(req.to_bytes(3).unwrap().freeze(), wire);
}

#[test]
fn known_tagged_fields_are_written_only_when_set() {
    let resp = ApiVersionsResponse::default().with_api_keys(vec![
        api_versions_response::ApiVersion::default()
            .with_api_key(18)
            .with_max_version(4),
    ]);
    // error code, compact array (1 + 1) of one entry (key, min, max, no tags), throttle time,
    // and no tagged fields: FinalizedFeaturesEpoch is at its default (-1).
    let plain: &[u8] = &[0, 0, 2, 0, 18, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0];
    assert_eq!(&resp.to_bytes(3).unwrap()[..], plain);

    let resp = resp
        .with_zk_migration_ready(true)
        .with_finalized_features_epoch(7);
    // Tagged fields in tag order: tag 1 (int64, 8 bytes), then tag 3 (bool, 1 byte).
    let mut tagged = plain[..plain.len() - 1].to_vec();
    tagged.extend_from_slice(&[2, 1, 8, 0, 0, 0, 0, 0, 0, 0, 7, 3, 1, 1]);
    let bytes = resp.to_bytes(3).unwrap();
    assert_eq!(&bytes[..], &tagged[..]);
    assert_eq!(
        ApiVersionsResponse::from_bytes(bytes.freeze(), 3).unwrap(),
        resp
    );
}

#[test]
fn unknown_tagged_fields_are_written_in_ascending_tag_order_after_known_ones() {
    // ApiVersionsResponse v3 knows tags 0-3. Received: known tag 1, unknown 9, known 3,
    // unknown 5 (out of order, as a sloppy peer might send them).
    let plain: &[u8] = &[0, 0, 1, 0, 0, 0, 0, 0];
    let mut wire = plain[..plain.len() - 1].to_vec();
    wire.extend_from_slice(&[
        4, 1, 8, 0, 0, 0, 0, 0, 0, 0, 7, 9, 1, 0xaa, 3, 1, 1, 5, 2, 0xbb, 0xcc,
    ]);
    let resp = ApiVersionsResponse::from_bytes(Bytes::from(wire), 3).unwrap();
    assert_eq!(resp.finalized_features_epoch, 7);
    assert!(resp.zk_migration_ready);
    assert_eq!(
        resp.unknown_tagged_fields,
        UnknownTaggedFields::from([
            (5, Bytes::from_static(&[0xbb, 0xcc])),
            (9, Bytes::from_static(&[0xaa]))
        ])
    );
    // Written back: 1, 3, 5, 9, every tag ascending as KIP-482 requires.
    let mut sorted = plain[..plain.len() - 1].to_vec();
    sorted.extend_from_slice(&[
        4, 1, 8, 0, 0, 0, 0, 0, 0, 0, 7, 3, 1, 1, 5, 2, 0xbb, 0xcc, 9, 1, 0xaa,
    ]);
    let bytes = resp.to_bytes(3).unwrap();
    assert_eq!(&bytes[..], &sorted[..]);
    assert_eq!(resp.encoded_len(3).unwrap(), sorted.len());
}

#[test]
fn an_unknown_tagged_field_may_not_reuse_a_known_tag() {
    let resp = ApiVersionsResponse::default()
        .with_unknown_tagged_fields(UnknownTaggedFields::from([(3, Bytes::from_static(&[1]))]));
    let err = resp.to_bytes(3).unwrap_err();
    assert_eq!(
        err,
        EncodeError::TaggedFieldConflict {
            message: "ApiVersionsResponse",
            tag: 3
        }
    );
    assert!(resp.encoded_len(3).is_err());
    // Not known there, so allowed (and written): tag 3 of a struct without tagged fields.
    let req = ApiVersionsRequest::default()
        .with_unknown_tagged_fields(UnknownTaggedFields::from([(3, Bytes::from_static(&[1]))]));
    assert!(req.to_bytes(3).is_ok());
}

#[test]
fn a_repeated_tag_is_a_decode_error() {
    // ApiVersionsRequest v3 (two empty compact strings), then unknown tag 42 twice.
    let wire = Bytes::from_static(&[1, 1, 2, 42, 1, 7, 42, 1, 8]);
    let err = ApiVersionsRequest::from_bytes(wire, 3).unwrap_err();
    assert!(
        matches!(err.root(), DecodeError::InvalidValue { value: 42, .. }),
        "{err:?}"
    );
}

#[test]
fn hostile_array_length_is_a_typed_error() {
    // MetadataResponse v0 starts with the brokers array: a count of i32::MAX with 4 bytes left.
    let wire = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    let err = decode_response_body(ApiKey::Metadata, 0, wire.clone()).unwrap_err();
    assert!(
        matches!(
            err.root(),
            DecodeError::InvalidLength {
                what: "array",
                len: 2147483647,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        err,
        DecodeError::InMessage {
            message: "MetadataResponse",
            version: 0,
            ..
        }
    ));
    assert!(MetadataResponse::from_bytes(wire, 0).is_err());
    // The same in a flexible version: an unsigned varint far beyond the input.
    let wire = Bytes::from_static(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    let err = decode_response_body(ApiKey::Metadata, 12, wire).unwrap_err();
    assert!(
        matches!(err.root(), DecodeError::InvalidLength { .. }),
        "{err:?}"
    );
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    for &api in ApiKey::ALL {
        let range = api.valid_versions();
        for version in [range.min, range.max] {
            let mut rng = TestRng::new(u64::from(api.as_i16() as u16) + 7);
            let req = random_request(api, version, &mut rng);
            let resp = random_response(api, version, &mut rng);
            let req_bytes = req.to_bytes_at(version);
            let resp_bytes = resp.to_bytes_at(version);
            for cut in 0..req_bytes.len() {
                assert!(decode_request_body(api, version, req_bytes.slice(..cut)).is_err());
            }
            for cut in 0..resp_bytes.len() {
                assert!(decode_response_body(api, version, resp_bytes.slice(..cut)).is_err());
            }
        }
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let err = decode_request_body(ApiKey::ApiVersions, 0, Bytes::from_static(&[0])).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::TrailingBytes {
            message: "ApiVersionsRequest",
            ..
        }
    ));
}

/// Encoding helper for the dispatch enums in these tests.
trait ToBytesAt {
    fn to_bytes_at(&self, version: i16) -> Bytes;
}

impl<T: Encodable> ToBytesAt for T {
    fn to_bytes_at(&self, version: i16) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode(&mut buf, version).unwrap();
        buf.freeze()
    }
}
