//! Golden bytes written by the Java client's own generated message classes (kafka-clients 3.9.1,
//! `MessageUtil.toByteBuffer(message, version)`), covering what hand-derived goldens cannot
//! vouch for: nullable structs, tagged structs and arrays, nullable arrays, field-level
//! `flexibleVersions` in headers. Each must decode to the expected values and re-encode to the
//! same bytes.

use bytes::Bytes;
use kafkaex_protocol::messages::{
    ApiVersionsResponse, ConsumerGroupHeartbeatResponse, ConsumerProtocolSubscription,
    CreateTopicsResponse, DescribeTopicPartitionsRequest, FetchRequest, FetchResponse,
    MetadataRequest, ProduceRequest, RequestHeader, UpdateMetadataRequest,
};
use kafkaex_protocol::{Message, Uuid};

fn hex(s: &str) -> Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

/// Decodes `wire` as `M` at `version`, checks that encoding gives the same bytes back, and
/// returns the value for field checks.
fn java<M: Message>(version: i16, wire: &str) -> M {
    let bytes = hex(wire);
    let m = M::from_bytes(bytes.clone(), version)
        .unwrap_or_else(|e| panic!("{} v{version}: {e}", M::NAME));
    assert_eq!(
        m.to_bytes(version).unwrap().freeze(),
        bytes,
        "{} v{version} re-encoding differs from Java's",
        M::NAME
    );
    m
}

fn uuid(hi: u64, lo: u64) -> Uuid {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    Uuid(b)
}

#[test]
fn nullable_struct_null_and_present() {
    let m: ConsumerGroupHeartbeatResponse = java(0, "00000000000000026d0000000000000000ff00");
    assert_eq!(m.member_id.as_deref(), Some("m"));
    assert_eq!(m.assignment, None);

    let m: ConsumerGroupHeartbeatResponse = java(
        0,
        "00000000000000026d0000000500000bb8010200000000000000010000000000000002030000000000000003000000",
    );
    let a = m.assignment.expect("assignment present");
    assert_eq!(a.topic_partitions[0].topic_id, uuid(1, 2));
    assert_eq!(a.topic_partitions[0].partitions, vec![0, 3]);
}

#[test]
fn tagged_structs_in_fetch_response() {
    let m: FetchResponse = java(13, "000000000000000000090200000000000000030000000000000004020000000100000000000000000064ffffffffffffffffffffffffffffffff01ffffffff0002000d0000000400000000000000320001090000000200000007000000");
    let p = &m.responses[0].partitions[0];
    assert_eq!(m.responses[0].topic_id, uuid(3, 4));
    assert_eq!((p.partition_index, p.high_watermark), (1, 100));
    assert_eq!(
        (p.diverging_epoch.epoch, p.diverging_epoch.end_offset),
        (4, 50)
    );
    assert_eq!(
        (p.current_leader.leader_id, p.current_leader.leader_epoch),
        (2, 7)
    );
    assert_eq!(p.records, None);
}

#[test]
fn tagged_struct_and_nullable_tagged_string_in_fetch_request() {
    let m: FetchRequest = java(
        15,
        "000001f4000000017fffffff0000000000ffffffff0101010200020263010d00000001000000000000000200",
    );
    assert_eq!(m.cluster_id.as_deref(), Some("c"));
    assert_eq!(
        (m.replica_state.replica_id, m.replica_state.replica_epoch),
        (1, 2)
    );
}

#[test]
fn null_topics_and_cursor() {
    let m: MetadataRequest = java(12, "00000000");
    assert_eq!(m.topics, None);
    assert!(!m.allow_auto_topic_creation);
    let m: DescribeTopicPartitionsRequest = java(0, "02027400000007d0010274000000020000");
    let c = m.cursor.expect("cursor present");
    assert_eq!((c.topic_name.as_str(), c.partition_index), ("t", 2));
    assert_eq!(m.response_partition_limit, 2000);
}

#[test]
fn tagged_arrays_and_scalars_in_api_versions_response() {
    let m: ApiVersionsResponse = java(
        3,
        "0000020012000000040000000001020008020266000100020001080000000000000003",
    );
    assert_eq!(m.api_keys[0].api_key, 18);
    assert_eq!(m.supported_features[0].name, "f");
    assert_eq!(m.finalized_features_epoch, 3);
}

#[test]
fn headers_and_odds_and_ends() {
    let h: RequestHeader = java(2, "0003000c0000000700026b7800");
    assert_eq!(h.client_id.as_deref(), Some("kx"));
    let m: UpdateMetadataRequest = java(8, "000000010000000000ffffffffffffffff010101000102");
    assert_eq!(m.r#type, 2);
    let m: ProduceRequest = java(9, "00ffff000003e80100");
    assert_eq!(m.transactional_id, None);
    let m: ConsumerProtocolSubscription =
        java(3, "00000002000161000162ffffffff0000000000000004000172");
    assert_eq!(m.topics, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(m.rack_id.as_deref(), Some("r"));
    let m: CreateTopicsResponse = java(5, "00000000020274000001ffffffffffff00010002000500");
    assert_eq!(m.topics[0].topic_config_error_code.code(), 5);
    assert_eq!(m.topics[0].configs, None);
}
