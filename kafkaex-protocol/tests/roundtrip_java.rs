//! Golden bytes written by the Java client's own generated message classes (kafka-clients 3.9.1,
//! `MessageUtil.toByteBuffer(message, version)`), covering what hand-derived goldens cannot
//! vouch for: nullable structs, tagged structs and arrays, nullable arrays, field-level
//! `flexibleVersions` in headers. Each must decode to the expected values and re-encode to the
//! same bytes.
//!
//! The newest versions of Kafka 4.4 (Produce v13, Fetch v18, ListOffsets v11, OffsetCommit v10,
//! OffsetFetch v10, Metadata v13, ApiVersions v5, InitProducerId v6, requests and responses)
//! come from kafka-clients 4.4.0 through `interop/java/messages/GoldenMessages.java`, whose output
//! is `fixtures/messages-kafka-4.4.0.txt`; with `KAFKAEX_INTEROP` set the program is run again
//! and must print the same.

use bytes::Bytes;
use kafkaex_protocol::messages::{
    ApiVersionsRequest, InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse, ProduceResponse,
};
use kafkaex_protocol::messages::{
    ApiVersionsResponse, ConsumerGroupHeartbeatResponse, ConsumerProtocolSubscription,
    CreateTopicsResponse, DescribeTopicPartitionsRequest, FetchRequest, FetchResponse,
    MetadataRequest, ProduceRequest, RequestHeader, UpdateMetadataRequest,
};
use kafkaex_protocol::{ErrorCode, Message, Uuid};

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

/// The Java client's bytes of `name` at `version`, from the committed 4.4.0 fixture.
fn java44(name: &str, version: i16) -> String {
    let text = include_str!("fixtures/messages-kafka-4.4.0.txt");
    text.lines()
        .find_map(|l| {
            let mut w = l.split(' ');
            (w.next() == Some(name) && w.next() == Some(&version.to_string()))
                .then(|| w.next().unwrap_or_default().to_string())
        })
        .unwrap_or_else(|| panic!("{name} v{version} is not in the fixture"))
}

/// The topic id GoldenMessages.java uses.
fn topic() -> Uuid {
    uuid(0x0102_0304_0506_0708, 0x090a_0b0c_0d0e_0f10)
}

#[test]
fn kafka_4_4_produce_v13_by_topic_id() {
    let m: ProduceRequest = java(13, &java44("ProduceRequest", 13));
    assert_eq!(m.transactional_id.as_deref(), Some("tx"));
    assert_eq!((m.acks, m.timeout_ms), (-1, 30000));
    let t = &m.topic_data[0];
    assert_eq!(t.topic_id, topic());
    assert_eq!(t.name, "", "v13 carries no topic name");
    assert_eq!(t.partition_data[0].index, 2);
    assert_eq!(
        t.partition_data[0].records.as_deref(),
        Some(&[1u8, 2, 3, 4, 5][..])
    );

    let m: ProduceResponse = java(13, &java44("ProduceResponse", 13));
    let t = &m.responses[0];
    assert_eq!(t.topic_id, topic());
    let p = &t.partition_responses[0];
    assert_eq!(p.error_code, ErrorCode::from_code(6));
    assert_eq!((p.index, p.base_offset, p.log_start_offset), (2, 100, 7));
    assert_eq!(
        (p.current_leader.leader_id, p.current_leader.leader_epoch),
        (3, 9)
    );
    assert_eq!(m.throttle_time_ms, 5);
    assert_eq!(m.node_endpoints[0].host, "h3");
    assert_eq!(m.node_endpoints[0].rack.as_deref(), Some("r"));
}

#[test]
fn kafka_4_4_fetch_v18_with_the_follower_high_watermark() {
    let m: FetchRequest = java(18, &java44("FetchRequest", 18));
    assert_eq!(
        (m.replica_state.replica_id, m.replica_state.replica_epoch),
        (1, 4)
    );
    assert_eq!(
        (m.max_wait_ms, m.isolation_level, m.rack_id.as_str()),
        (500, 1, "rack-a")
    );
    let p = &m.topics[0].partitions[0];
    assert_eq!(m.topics[0].topic_id, topic());
    assert_eq!(
        (p.partition, p.fetch_offset, p.last_fetched_epoch),
        (2, 42, 8)
    );
    assert_eq!(p.replica_directory_id, uuid(17, 18));
    assert_eq!(p.high_watermark, 40, "the v18 tagged field");

    let m: FetchResponse = java(18, &java44("FetchResponse", 18));
    assert_eq!(m.session_id, 7);
    let p = &m.responses[0].partitions[0];
    assert_eq!(m.responses[0].topic_id, topic());
    assert_eq!((p.partition_index, p.high_watermark), (2, 43));
    let aborted = p
        .aborted_transactions
        .as_ref()
        .expect("aborted transactions");
    assert_eq!((aborted[0].producer_id, aborted[0].first_offset), (11, 12));
    assert_eq!(p.records.as_deref(), Some(&[1u8, 2, 3, 4, 5][..]));
}

#[test]
fn kafka_4_4_newest_offsets_metadata_api_versions_and_init_producer_id() {
    let m: ListOffsetsRequest = java(11, &java44("ListOffsetsRequest", 11));
    assert_eq!(
        (m.replica_id, m.isolation_level, m.timeout_ms),
        (-1, 1, 1000)
    );
    assert_eq!(m.topics[0].partitions[0].timestamp, -6);
    let m: ListOffsetsResponse = java(11, &java44("ListOffsetsResponse", 11));
    let p = &m.topics[0].partitions[0];
    assert_eq!((p.offset, p.leader_epoch), (17, 3));

    let m: OffsetCommitRequest = java(10, &java44("OffsetCommitRequest", 10));
    assert_eq!(
        (m.group_id.as_str(), m.generation_id_or_member_epoch),
        ("g", 5)
    );
    assert_eq!(m.topics[0].topic_id, topic());
    assert_eq!(m.topics[0].name, "", "v10 carries no topic name");
    let p = &m.topics[0].partitions[0];
    assert_eq!(
        (p.committed_offset, p.committed_metadata.as_deref()),
        (99, Some("md"))
    );
    let m: OffsetCommitResponse = java(10, &java44("OffsetCommitResponse", 10));
    assert_eq!(m.topics[0].topic_id, topic());
    assert_eq!(
        m.topics[0].partitions[0].error_code,
        ErrorCode::from_code(100)
    );

    let m: OffsetFetchRequest = java(10, &java44("OffsetFetchRequest", 10));
    let g = &m.groups[0];
    assert_eq!((g.member_id.as_deref(), g.member_epoch), (Some("m"), 5));
    assert_eq!(g.topics.as_ref().expect("topics")[0].topic_id, topic());
    assert!(m.require_stable);
    let m: OffsetFetchResponse = java(10, &java44("OffsetFetchResponse", 10));
    let t = &m.groups[0].topics[0];
    assert_eq!(t.topic_id, topic());
    assert_eq!(t.partitions[0].committed_offset, 99);

    let m: MetadataRequest = java(13, &java44("MetadataRequest", 13));
    assert!(!m.allow_auto_topic_creation);
    let m: MetadataResponse = java(13, &java44("MetadataResponse", 13));
    assert_eq!(
        m.error_code,
        ErrorCode::from_code(0),
        "the v13 top-level error code"
    );
    assert_eq!(m.topics[0].topic_id, topic());
    assert_eq!(m.brokers[0].port, 9092);

    let m: ApiVersionsRequest = java(5, &java44("ApiVersionsRequest", 5));
    assert_eq!((m.cluster_id.as_deref(), m.node_id), (Some("c"), 1));
    let m: ApiVersionsResponse = java(5, &java44("ApiVersionsResponse", 5));
    assert_eq!(m.api_keys[0].max_version, 13);
    assert_eq!(m.finalized_features_epoch, 3);

    let m: InitProducerIdRequest = java(6, &java44("InitProducerIdRequest", 6));
    assert!(m.enable2_pc && m.keep_prepared_txn);
    let m: InitProducerIdResponse = java(6, &java44("InitProducerIdResponse", 6));
    assert_eq!(
        (m.ongoing_txn_producer_id, m.ongoing_txn_producer_epoch),
        (999, 0)
    );
}

/// The committed fixture is what the Java client prints today (needs `KAFKAEX_INTEROP`, Java
/// and the kafka-clients jar that `cargo xtask codegen` resolves into `target/kafka-specs/`).
#[test]
fn kafka_4_4_fixture_matches_the_java_client() {
    if std::env::var_os("KAFKAEX_INTEROP").is_none() {
        eprintln!(
            "\n*** SKIPPED kafka_4_4_fixture_matches_the_java_client: KAFKAEX_INTEROP is unset, \
             so GoldenMessages.java was not run. (The committed fixture was still decoded.) ***\n"
        );
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let jar = root.join("target/kafka-specs/kafka-clients-4.4.0.jar");
    assert!(
        jar.exists(),
        "{} is missing: run `cargo xtask codegen --check` (or `cargo xtask interop build`)",
        jar.display()
    );
    let output = std::process::Command::new("java")
        .arg("-cp")
        .arg(&jar)
        .arg(root.join("interop/java/messages/GoldenMessages.java"))
        .output()
        .expect("running java");
    assert!(
        output.status.success(),
        "GoldenMessages failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        include_str!("fixtures/messages-kafka-4.4.0.txt")
    );
}
