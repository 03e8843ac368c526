//! `BrokerConnection` against real brokers of two generations: Kafka 4.x in KRaft mode
//! (`cargo xtask kafka up kraft`) and Kafka 3.9 in ZooKeeper mode (`cargo xtask kafka up zk`).
//!
//! The two announce very different version ranges, and the client must follow each: Kafka 4.0
//! removed the oldest versions of many APIs (KIP-896) and the ZooKeeper-era inter-broker APIs
//! (KIP-500 removed ZooKeeper), while 3.9 still serves all of them. Each test prints the
//! broker's table (run with `--nocapture` to see it).

use std::collections::BTreeSet;

use bytes::Bytes;
use kafkaex_net::broker::BrokerConnection;
use kafkaex_net::config::NetConfig;
use kafkaex_net::raw::connection::{
    Connection, ConnectionConfig, RawRequest, RequestHeaderVersion, ResponseHeaderVersion,
};
use kafkaex_net::versions::{ApiVersionRanges, VersionChoice};
use kafkaex_net::NetError;
use kafkaex_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, LeaderAndIsrRequest, MetadataRequest,
    MetadataResponse, ProduceRequest,
};
use kafkaex_protocol::{ApiKey, Message, VersionRange};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile, Brokers};

fn config() -> NetConfig {
    NetConfig::new().with_client_id("kafkaex-net-broker-test")
}

async fn connect(brokers: &Brokers) -> BrokerConnection {
    let address = &brokers.bootstrap[0];
    BrokerConnection::connect(address, &config())
        .await
        .unwrap_or_else(|e| panic!("connecting to {} broker {address}: {e:?}", brokers.profile))
}

/// Prints the broker's ranges next to this client's.
fn print_table(profile: BrokerProfile, versions: &ApiVersionRanges) {
    println!("{profile}: {} APIs", versions.len());
    println!("  key  api                              broker     client");
    for (key, range) in versions.iter() {
        let (name, ours) = match ApiKey::from_i16(key) {
            Some(api) => {
                let ours = api.valid_versions();
                (api.name(), format!("v{}-v{}", ours.min, ours.max))
            }
            None => ("(unknown to this client)", "-".to_owned()),
        };
        println!(
            "  {key:>3}  {name:<32} v{}-v{:<5} {ours}",
            range.min, range.max
        );
    }
}

fn min_of(versions: &ApiVersionRanges, api: ApiKey) -> i16 {
    versions
        .get(api)
        .unwrap_or_else(|| panic!("broker does not list {api}"))
        .min
}

/// The KIP-896 minima of Kafka 4.0, and the APIs that left with ZooKeeper.
#[tokio::test]
async fn kraft_broker_announces_kafka_4_ranges() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "kraft_broker_announces_kafka_4_ranges",
    )
    .await
    else {
        return;
    };
    let conn = connect(&brokers).await;
    let versions = conn.versions();
    print_table(BrokerProfile::Kraft, versions);

    // KIP-896 (Kafka 4.0) removed these old versions. (Produce is listed from v0, for
    // librdkafka's sake, KAFKA-18659, but v0-v2 are refused: `ApiVersionRanges` corrects the
    // listing, see `kraft_refuses_the_produce_versions_it_lists_from_v0`.)
    for (api, min) in [
        (ApiKey::Produce, 3),
        (ApiKey::Fetch, 4),
        (ApiKey::ListOffsets, 1),
        (ApiKey::OffsetCommit, 2),
        (ApiKey::OffsetFetch, 1),
        (ApiKey::CreateTopics, 2),
        (ApiKey::DeleteTopics, 1),
        (ApiKey::OffsetForLeaderEpoch, 2),
    ] {
        assert_eq!(min_of(versions, api), min, "{api}");
    }
    // Metadata v0 survived.
    assert_eq!(min_of(versions, ApiKey::Metadata), 0);
    // The controller-to-broker APIs of ZooKeeper mode are gone.
    for api in [
        ApiKey::LeaderAndIsr,
        ApiKey::StopReplica,
        ApiKey::UpdateMetadata,
        ApiKey::ControlledShutdown,
    ] {
        assert!(!versions.supports(api), "{api} is ZooKeeper-only");
    }
    // A KRaft broker forwards quorum APIs to its controllers.
    assert!(versions.supports(ApiKey::DescribeQuorum));
    // The newest ApiVersions both speak (the connection asks with v4 at most for now; see
    // `negotiate_versions` in src/broker.rs).
    assert_eq!(
        conn.api_versions_version(),
        ApiVersionsRequest::VERSIONS
            .max
            .min(4)
            .min(versions.get(ApiKey::ApiVersions).unwrap().max)
    );
}

/// Kafka 3.9 in ZooKeeper mode: every version from 0 up, and the inter-broker APIs.
#[tokio::test]
async fn zk_broker_announces_kafka_3_ranges() {
    let Some(brokers) = test_brokers(BrokerProfile::Zk, "zk_broker_announces_kafka_3_ranges").await
    else {
        return;
    };
    let conn = connect(&brokers).await;
    let versions = conn.versions();
    print_table(BrokerProfile::Zk, versions);

    for api in [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Metadata,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
    ] {
        assert_eq!(min_of(versions, api), 0, "{api}");
    }
    for api in [
        ApiKey::LeaderAndIsr,
        ApiKey::StopReplica,
        ApiKey::UpdateMetadata,
        ApiKey::ControlledShutdown,
    ] {
        assert!(versions.supports(api), "a ZooKeeper broker serves {api}");
    }
    // DescribeQuorum is served by KRaft only.
    assert!(!versions.supports(ApiKey::DescribeQuorum));
    assert_eq!(conn.api_versions_version(), 4);
}

/// Kafka 2.5.1 with ZooKeeper (the `legacy` profile, what Elixir KafkaEx's CI ran): the
/// version ranges a KafkaEx user's broker answers with, and the `UNSUPPORTED_VERSION` fallback
/// for real (it knows ApiVersions up to v3, this client asks v4 first).
#[tokio::test]
async fn legacy_broker_announces_kafka_2_5_ranges() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Legacy,
        "legacy_broker_announces_kafka_2_5_ranges",
    )
    .await
    else {
        return;
    };
    let conn = connect(&brokers).await;
    let versions = conn.versions();
    print_table(BrokerProfile::Legacy, versions);
    for (api, max) in [
        (ApiKey::Produce, 8),
        (ApiKey::Fetch, 11),
        (ApiKey::ListOffsets, 5),
        (ApiKey::Metadata, 9),
        (ApiKey::OffsetCommit, 8),
        (ApiKey::OffsetFetch, 7),
        (ApiKey::FindCoordinator, 3),
        (ApiKey::CreateTopics, 5),
        (ApiKey::ApiVersions, 3),
    ] {
        let range = versions
            .get(api)
            .unwrap_or_else(|| panic!("{api} not listed"));
        assert_eq!((range.min, range.max), (0, max), "{api}");
    }
    // Asked at v4 first, answered UNSUPPORTED_VERSION listing v0-v3, asked again at v3.
    assert_eq!(conn.api_versions_version(), 3);
    // A ZooKeeper broker serves the inter-broker APIs; 2.5 predates KRaft's.
    assert!(versions.supports(ApiKey::LeaderAndIsr));
    assert!(!versions.supports(ApiKey::DescribeQuorum));
    assert!(!versions.supports(ApiKey::DescribeCluster));
}

/// The two brokers differ exactly where Kafka says they do.
#[tokio::test]
async fn kraft_and_zk_ranges_differ() {
    let Some(kraft) = test_brokers(BrokerProfile::Kraft, "kraft_and_zk_ranges_differ").await else {
        return;
    };
    let Some(zk) = test_brokers(BrokerProfile::Zk, "kraft_and_zk_ranges_differ").await else {
        return;
    };
    let kraft = connect(&kraft).await;
    let zk = connect(&zk).await;
    let keys = |v: &ApiVersionRanges| v.iter().map(|(k, _)| k).collect::<BTreeSet<i16>>();
    let (kraft_keys, zk_keys) = (keys(kraft.versions()), keys(zk.versions()));
    let only_zk: Vec<_> = zk_keys.difference(&kraft_keys).copied().collect();
    let only_kraft: Vec<_> = kraft_keys.difference(&zk_keys).copied().collect();
    println!("only zk: {only_zk:?}\nonly kraft: {only_kraft:?}");
    assert!(only_zk.contains(&ApiKey::LeaderAndIsr.as_i16()));
    assert!(only_kraft.contains(&ApiKey::DescribeQuorum.as_i16()));
    for api in [ApiKey::Produce, ApiKey::Fetch, ApiKey::OffsetCommit] {
        let (k, z) = (
            kraft.versions().get(api).unwrap(),
            zk.versions().get(api).unwrap(),
        );
        assert!(k.min > z.min, "{api}: kraft {k:?}, zk {z:?}");
    }
}

fn assert_broker_listed(response: &MetadataResponse, bootstrap: &str) {
    let port: i32 = bootstrap.rsplit_once(':').unwrap().1.parse().unwrap();
    assert!(
        response.brokers.iter().any(|b| b.port == port),
        "no broker on port {port} in {:?}",
        response.brokers
    );
}

#[tokio::test]
async fn zk_metadata_at_newest_and_at_v0() {
    let Some(brokers) = test_brokers(BrokerProfile::Zk, "zk_metadata_at_newest_and_at_v0").await
    else {
        return;
    };
    let conn = connect(&brokers).await;
    let broker_max = conn.versions().get(ApiKey::Metadata).unwrap().max;

    let kafkaex_net::Response {
        version,
        body: newest,
        ..
    } = conn
        .send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap();
    assert_eq!(version, MetadataRequest::VERSIONS.max.min(broker_max));
    assert_broker_listed(&newest, &brokers.bootstrap[0]);
    assert!(newest.controller_id >= 0, "{newest:?}");
    assert!(newest.cluster_id.is_some());

    // Metadata v0, which Kafka 0.8 clients sent: `topics` empty means all topics at v0 (null
    // came with v1), and the response has no controller or cluster id.
    let kafkaex_net::Response {
        version, body: v0, ..
    } = conn
        .send(&MetadataRequest::default(), VersionChoice::Exact(0))
        .await
        .unwrap();
    assert_eq!(version, 0);
    assert_broker_listed(&v0, &brokers.bootstrap[0]);
    assert_eq!(v0.controller_id, MetadataResponse::default().controller_id);
    assert_eq!(v0.cluster_id, MetadataResponse::default().cluster_id);
    assert_eq!(v0.brokers.len(), newest.brokers.len());
}

#[tokio::test]
async fn kraft_metadata_at_newest_and_unsupported_exact_versions() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "kraft_metadata_at_newest_and_unsupported_exact_versions",
    )
    .await
    else {
        return;
    };
    let conn = connect(&brokers).await;
    let kafkaex_net::Response {
        version,
        body: metadata,
        ..
    } = conn
        .send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap();
    let broker_max = conn.versions().get(ApiKey::Metadata).unwrap().max;
    assert_eq!(version, MetadataRequest::VERSIONS.max.min(broker_max));
    assert_broker_listed(&metadata, &brokers.bootstrap[0]);

    // Produce v2 is below the broker's minimum (KIP-896): refused before anything is sent.
    let err = conn
        .send(&ProduceRequest::default(), VersionChoice::Exact(2))
        .await
        .unwrap_err();
    match &err {
        NetError::UnsupportedVersion {
            api: ApiKey::Produce,
            asked: 2,
            broker: Some(range),
            address,
            ..
        } => {
            assert_eq!(range.min, 3);
            assert_eq!(address, &brokers.bootstrap[0]);
        }
        other => panic!("{other:?}"),
    }
    println!("{err}");
    // LeaderAndIsr is not served at all.
    let err = conn
        .send(&LeaderAndIsrRequest::default(), VersionChoice::Newest)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NetError::UnsupportedVersion {
                api: ApiKey::LeaderAndIsr,
                broker: None,
                ..
            }
        ),
        "{err:?}"
    );
    // The connection is untouched by the refusals.
    assert!(!conn.is_closed());
    conn.send(&MetadataRequest::default(), VersionChoice::Exact(0))
        .await
        .unwrap();
}

/// Why `ApiVersionRanges` raises a Kafka 4 broker's Produce minimum to v3: the broker lists
/// Produce from v0 (KAFKA-18659) but closes the connection on a v2 request.
#[tokio::test]
async fn kraft_refuses_the_produce_versions_it_lists_from_v0() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "kraft_refuses_the_produce_versions_it_lists_from_v0",
    )
    .await
    else {
        return;
    };
    let address = brokers.bootstrap[0].as_str();
    let connection = Connection::new(
        tokio::net::TcpStream::connect(address).await.unwrap(),
        ConnectionConfig::new(address),
    );
    let call = |request| connection.call(request, std::time::Duration::from_secs(30));

    let body = ApiVersionsRequest::default().to_bytes(0).unwrap().freeze();
    let listed = call(RawRequest::new(ApiKey::ApiVersions, 0, body))
        .await
        .unwrap();
    let listed = ApiVersionsResponse::from_bytes(listed, 0).unwrap();
    let produce = listed
        .api_keys
        .iter()
        .find(|a| a.api_key == ApiKey::Produce.as_i16())
        .unwrap();
    assert_eq!(produce.min_version, 0, "Kafka 4 lists Produce from v0");

    let body = ProduceRequest::default().to_bytes(2).unwrap().freeze();
    let err = call(RawRequest::new(ApiKey::Produce, 2, body))
        .await
        .unwrap_err();
    println!("Produce v2 on Kafka 4: {err:?}");
    assert!(err.is_connection_failure(), "{err:?}");
    assert!(connection.is_closed());
}

/// What the `UNSUPPORTED_VERSION` fallback relies on, checked on both brokers: an ApiVersions
/// request newer than the broker knows is answered with error 35 in a v0 body (after a v0
/// header) that lists the broker's own ApiVersions range.
#[tokio::test]
async fn brokers_answer_a_too_new_api_versions_with_a_v0_body() {
    for profile in [
        BrokerProfile::Kraft,
        BrokerProfile::Zk,
        BrokerProfile::Legacy,
    ] {
        let Some(brokers) = test_brokers(
            profile,
            "brokers_answer_a_too_new_api_versions_with_a_v0_body",
        )
        .await
        else {
            continue;
        };
        let address = &brokers.bootstrap[0];
        let broker_max = connect(&brokers)
            .await
            .versions()
            .get(ApiKey::ApiVersions)
            .unwrap()
            .max;
        let stream = tokio::net::TcpStream::connect(address.as_str())
            .await
            .unwrap();
        let connection = Connection::new(stream, ConnectionConfig::new(address.as_str()));
        // A v4 body sent as a version the broker does not know yet.
        let body: Bytes = ApiVersionsRequest::default()
            .with_client_software_name("kafkaex-rs".to_owned())
            .with_client_software_version("0.0.0".to_owned())
            .to_bytes(4)
            .unwrap()
            .freeze();
        let request = RawRequest::new(ApiKey::ApiVersions, broker_max + 1, body)
            .with_header_versions(RequestHeaderVersion::V2, ResponseHeaderVersion::V0)
            .with_client_id("kafkaex-net-broker-test");
        let response = connection
            .call(request, std::time::Duration::from_secs(30))
            .await
            .unwrap();
        let response = ApiVersionsResponse::from_bytes(response, 0).unwrap();
        println!("{profile}: {response:?}");
        assert_eq!(response.error_code.code(), 35, "{profile}");
        let listed: Vec<_> = response
            .api_keys
            .iter()
            .map(|a| {
                (
                    a.api_key,
                    VersionRange {
                        min: a.min_version,
                        max: a.max_version,
                    },
                )
            })
            .collect();
        assert_eq!(
            listed,
            vec![(
                ApiKey::ApiVersions.as_i16(),
                VersionRange {
                    min: 0,
                    max: broker_max
                }
            )],
            "{profile}"
        );
    }
}
