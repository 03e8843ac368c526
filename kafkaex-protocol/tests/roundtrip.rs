//! Property round trips: every request and response of every API at every valid version, plus
//! the headers and the consumer-group protocol data, from seeded random values:
//! random value -> encode (length must equal `encoded_len`) -> decode -> equal -> re-encode to
//! the same bytes.
//!
//! `KAFKAEX_ROUNDTRIP_SEEDS` sets the number of seeds per message and version (default 24).
//! A failure prints the API, version and seed; `TestRng::new(seed)` reproduces it.

use bytes::{Bytes, BytesMut};
use kafkaex_protocol::messages::testing::{Random, TestRng};
use kafkaex_protocol::messages::{
    decode_request_body, decode_response_body, random_request, random_response, ApiKey,
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, RequestHeader, ResponseHeader,
};
use kafkaex_protocol::{Encodable, Message};

fn seeds() -> u64 {
    std::env::var("KAFKAEX_ROUNDTRIP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24)
}

/// A seed that differs per API, version and iteration, so each case explores different values.
fn seed_for(api: i16, version: i16, i: u64) -> u64 {
    (u64::from(api as u16) << 48) ^ (u64::from(version as u16) << 32) ^ i
}

/// Encodes `value`, checks the length, decodes with `decode`, and checks equality and stable
/// re-encoding.
fn check<T: Encodable + PartialEq + std::fmt::Debug>(
    value: &T,
    version: i16,
    decode: impl Fn(Bytes) -> Result<T, kafkaex_protocol::DecodeError>,
) -> Result<(), String> {
    let len = value
        .encoded_len(version)
        .map_err(|e| format!("encoded_len: {e}"))?;
    let mut buf = BytesMut::new();
    value
        .encode(&mut buf, version)
        .map_err(|e| format!("encode: {e}"))?;
    if buf.len() != len {
        return Err(format!(
            "encoded {} bytes but encoded_len said {len}",
            buf.len()
        ));
    }
    let bytes = buf.freeze();
    let decoded = decode(bytes.clone()).map_err(|e| format!("decode: {e} (bytes {bytes:02x?})"))?;
    if &decoded != value {
        return Err(format!(
            "decoded value differs:\n  sent {value:?}\n  got  {decoded:?}"
        ));
    }
    let mut again = BytesMut::new();
    decoded
        .encode(&mut again, version)
        .map_err(|e| format!("re-encode: {e}"))?;
    if again.freeze() != bytes {
        return Err("re-encoding gave different bytes".into());
    }
    Ok(())
}

fn report(failures: Vec<String>, cases: usize) {
    assert!(
        failures.is_empty(),
        "{} of {cases} round trips failed; first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_request_round_trips_at_every_version() {
    let (mut failures, mut cases) = (Vec::new(), 0);
    for &api in ApiKey::ALL {
        let range = api.valid_versions();
        for version in range.min..=range.max {
            for i in 0..seeds() {
                let seed = seed_for(api.as_i16(), version, i);
                let msg = random_request(api, version, &mut TestRng::new(seed));
                assert_eq!(msg.api_key(), api);
                cases += 1;
                if let Err(e) = check(&msg, version, |b| decode_request_body(api, version, b)) {
                    failures.push(format!("{}Request v{version} seed {seed}: {e}", api.name()));
                }
            }
        }
    }
    report(failures, cases);
}

#[test]
fn every_response_round_trips_at_every_version() {
    let (mut failures, mut cases) = (Vec::new(), 0);
    for &api in ApiKey::ALL {
        let range = api.valid_versions();
        for version in range.min..=range.max {
            for i in 0..seeds() {
                let seed = seed_for(api.as_i16(), version, i) ^ (1 << 63);
                let msg = random_response(api, version, &mut TestRng::new(seed));
                cases += 1;
                if let Err(e) = check(&msg, version, |b| decode_response_body(api, version, b)) {
                    failures.push(format!(
                        "{}Response v{version} seed {seed}: {e}",
                        api.name()
                    ));
                }
            }
        }
    }
    report(failures, cases);
}

fn round_trip_message<M: Message + Random>(failures: &mut Vec<String>, cases: &mut usize) {
    for version in M::VERSIONS.min..=M::VERSIONS.max {
        for i in 0..seeds() {
            let seed = seed_for(-1, version, i);
            let msg = M::random(&mut TestRng::new(seed), version);
            *cases += 1;
            if let Err(e) = check(&msg, version, |b| M::from_bytes(b, version)) {
                failures.push(format!("{} v{version} seed {seed}: {e}", M::NAME));
            }
        }
    }
}

#[test]
fn headers_and_consumer_protocol_round_trip() {
    let (mut failures, mut cases) = (Vec::new(), 0);
    round_trip_message::<RequestHeader>(&mut failures, &mut cases);
    round_trip_message::<ResponseHeader>(&mut failures, &mut cases);
    round_trip_message::<ConsumerProtocolSubscription>(&mut failures, &mut cases);
    round_trip_message::<ConsumerProtocolAssignment>(&mut failures, &mut cases);
    report(failures, cases);
}

#[test]
fn api_keys_are_consistent() {
    // The 3.9-era specs' 88 APIs, plus the 7 that Kafka 4.4 adds; ListConfigResources takes over
    // ListClientMetricsResources' key.
    assert_eq!(ApiKey::ALL.len(), 95);
    for &api in ApiKey::ALL {
        assert_eq!(ApiKey::from_i16(api.as_i16()), Some(api));
        let r = api.valid_versions();
        assert!(r.min <= r.max, "{}", api.name());
    }
    assert_eq!(ApiKey::from_i16(-1), None);
    assert_eq!(ApiKey::Produce.as_i16(), 0);
    assert_eq!(ApiKey::ApiVersions.name(), "ApiVersions");
}

/// Every version from the 3.9-era specs' v0 up to Kafka 4.4's newest (the union of the specs).
#[test]
fn versions_span_both_spec_generations() {
    use kafkaex_protocol::VersionRange;
    for (api, max) in [
        (ApiKey::Produce, 13),
        (ApiKey::Fetch, 18),
        (ApiKey::ListOffsets, 11),
        (ApiKey::OffsetCommit, 10),
        (ApiKey::OffsetFetch, 10),
        (ApiKey::Metadata, 13),
        (ApiKey::ApiVersions, 5),
        (ApiKey::InitProducerId, 6),
        // Removed in Kafka 4 (stubs with no versions there), kept from the old specs.
        (ApiKey::LeaderAndIsr, 7),
        (ApiKey::ControlledShutdown, 3),
    ] {
        assert_eq!(api.valid_versions(), VersionRange { min: 0, max }, "{api}");
    }
    for (key, name, range) in [
        (90, "DescribeShareGroupOffsets", (0, 1)),
        (91, "AlterShareGroupOffsets", (0, 0)),
        (92, "DeleteShareGroupOffsets", (0, 0)),
        (88, "StreamsGroupHeartbeat", (0, 1)),
        (89, "StreamsGroupDescribe", (0, 1)),
        (74, "ListConfigResources", (0, 1)),
        (93, "StreamsGroupTopologyDescriptionUpdate", (0, 0)),
        (94, "UnregisterController", (0, 0)),
    ] {
        let api = ApiKey::from_i16(key).unwrap_or_else(|| panic!("no API key {key}"));
        assert_eq!(api.name(), name);
        assert_eq!(
            api.valid_versions(),
            VersionRange {
                min: range.0,
                max: range.1
            },
            "{name}"
        );
    }
    // The old name of key 74 stays usable.
    assert_eq!(
        ApiKey::ListClientMetricsResources,
        ApiKey::ListConfigResources
    );
    let _: kafkaex_protocol::messages::ListClientMetricsResourcesRequest =
        kafkaex_protocol::messages::ListConfigResourcesRequest::default();
    // ShareFetch v0 was unstable in the old specs and is gone from Kafka 4.4's: not generated.
    assert_eq!(ApiKey::ShareFetch.valid_versions().min, 1);
}

/// ReadShareGroupStateSummary v0 was unstable in the 3.9-era specs, whose response lacked the
/// `LeaderEpoch` that Kafka 4.1+ brokers send; the merged specs take Kafka 4.4's shape for it, so
/// a broker's v0 response is read field by field (bytes laid out by hand from the 4.4 spec).
#[test]
fn read_share_group_state_summary_v0_has_the_released_shape() {
    use kafkaex_protocol::messages::read_share_group_state_summary_response::{
        PartitionResult, ReadStateSummaryResult,
    };
    use kafkaex_protocol::messages::ReadShareGroupStateSummaryResponse;
    let mut wire = vec![0x02]; // results: compact array of 1
    wire.extend_from_slice(&[7; 16]); // topic id
    wire.push(0x02); // partitions: 1
    wire.extend_from_slice(&3i32.to_be_bytes()); // partition
    wire.extend_from_slice(&0i16.to_be_bytes()); // error code
    wire.push(0x00); // error message: null
    wire.extend_from_slice(&5i32.to_be_bytes()); // state epoch
    wire.extend_from_slice(&9i32.to_be_bytes()); // leader epoch
    wire.extend_from_slice(&42i64.to_be_bytes()); // start offset
    wire.extend_from_slice(&[0, 0, 0]); // tagged fields: partition, result, response
    let m = ReadShareGroupStateSummaryResponse::from_bytes(wire.clone().into(), 0).unwrap();
    let p = &m.results[0].partitions[0];
    assert_eq!((p.state_epoch, p.leader_epoch, p.start_offset), (5, 9, 42));
    let again = ReadShareGroupStateSummaryResponse::default().with_results(vec![
        ReadStateSummaryResult::default()
            .with_topic_id(kafkaex_protocol::Uuid([7; 16]))
            .with_partitions(vec![PartitionResult::default()
                .with_partition(3)
                .with_state_epoch(5)
                .with_leader_epoch(9)
                .with_start_offset(42)]),
    ]);
    assert_eq!(again.to_bytes(0).unwrap().as_ref(), &wire[..]);
}
