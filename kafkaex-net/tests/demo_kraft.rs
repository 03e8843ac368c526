//! The README's demo (`examples/demo.rs`) as a test against the KRaft broker (Kafka 4.4), so CI
//! runs the same flow a user runs first: create a topic, produce, fetch, commit and read the
//! offset back, each at the newest version (topics by id); and against Kafka 3.9 (the `zk`
//! profile: topics by name but in Fetch) and Kafka 2.5 (the `legacy` profile: no topic ids at
//! all, OffsetFetch v7 names its group at the top), where the same requests go out at older
//! versions.

// One copy of the flow: the example's `run`, included here; its `main` goes unused.
#[allow(unreachable_pub)]
#[path = "../examples/demo.rs"]
mod demo;

use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

#[tokio::test]
async fn demo_produces_fetches_and_commits_against_kraft() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "demo_produces_fetches_and_commits_against_kraft",
    )
    .await
    else {
        return;
    };
    let summary = demo::run(&brokers.bootstrap)
        .await
        .unwrap_or_else(|err| panic!("demo failed: {err}"));
    assert!(summary.topic.starts_with("kafkaex-demo-"), "{summary:?}");
    assert!(
        summary.group.starts_with("kafkaex-demo-group-"),
        "{summary:?}"
    );
    assert_eq!(summary.base_offset, 0, "{summary:?}");
    assert_eq!(summary.fetched, 10, "{summary:?}");
    assert_eq!(summary.committed_offset, 10, "{summary:?}");
    // Kafka 4.4's newest versions, which this client knows too: every topic named by id.
    assert_eq!(summary.produce_version, 13, "{summary:?}");
    assert_eq!(summary.fetch_version, 18, "{summary:?}");
    assert_eq!(summary.offset_commit_version, 10, "{summary:?}");
    assert_eq!(summary.offset_fetch_version, 10, "{summary:?}");
    assert!(summary.leader >= 0, "{summary:?}");
}

#[tokio::test]
async fn demo_produces_fetches_and_commits_against_kafka_3_9() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Zk,
        "demo_produces_fetches_and_commits_against_kafka_3_9",
    )
    .await
    else {
        return;
    };
    let summary = demo::run(&brokers.bootstrap)
        .await
        .unwrap_or_else(|err| panic!("demo failed: {err}"));
    assert_eq!(summary.base_offset, 0, "{summary:?}");
    assert_eq!(summary.fetched, 10, "{summary:?}");
    assert_eq!(summary.committed_offset, 10, "{summary:?}");
    // Kafka 3.9's newest versions: topics by name, but in Fetch (v13+) by id.
    assert_eq!(summary.produce_version, 11, "{summary:?}");
    assert_eq!(summary.fetch_version, 17, "{summary:?}");
    assert_eq!(summary.offset_commit_version, 9, "{summary:?}");
    assert_eq!(summary.offset_fetch_version, 9, "{summary:?}");
}

#[tokio::test]
async fn demo_produces_fetches_and_commits_against_kafka_2_5() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Legacy,
        "demo_produces_fetches_and_commits_against_kafka_2_5",
    )
    .await
    else {
        return;
    };
    let summary = demo::run(&brokers.bootstrap)
        .await
        .unwrap_or_else(|err| panic!("demo failed: {err}"));
    assert_eq!(summary.base_offset, 0, "{summary:?}");
    assert_eq!(summary.fetched, 10, "{summary:?}");
    assert_eq!(summary.committed_offset, 10, "{summary:?}");
    // Kafka 2.5.1's newest versions: the demo negotiated them, and OffsetFetch was built for v7.
    assert_eq!(summary.produce_version, 8, "{summary:?}");
    assert_eq!(summary.fetch_version, 11, "{summary:?}");
    assert_eq!(summary.offset_commit_version, 8, "{summary:?}");
    assert_eq!(summary.offset_fetch_version, 7, "{summary:?}");
}
