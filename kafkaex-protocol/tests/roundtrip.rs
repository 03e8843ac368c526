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
    assert_eq!(ApiKey::ALL.len(), 88);
    for &api in ApiKey::ALL {
        assert_eq!(ApiKey::from_i16(api.as_i16()), Some(api));
        let r = api.valid_versions();
        assert!(r.min <= r.max, "{}", api.name());
    }
    assert_eq!(ApiKey::from_i16(-1), None);
    assert_eq!(ApiKey::Produce.as_i16(), 0);
    assert_eq!(ApiKey::ApiVersions.name(), "ApiVersions");
}
