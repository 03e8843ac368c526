//! The README's demo (`examples/demo.rs`) as a test against the KRaft broker, so CI runs the
//! same flow a user runs first: create a topic, produce, fetch, commit and read the offset back;
//! and against Kafka 2.5 (the `legacy` profile), where every request is built for older
//! versions (OffsetFetch v7 names its group at the top).

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
    // Kafka 4 serves these versions or newer; the demo must not have fallen back further.
    assert!(summary.produce_version >= 9, "{summary:?}");
    assert!(summary.fetch_version >= 13, "topic ids: {summary:?}");
    assert!(summary.offset_commit_version >= 8, "{summary:?}");
    assert!(summary.offset_fetch_version >= 8, "{summary:?}");
    assert!(summary.leader >= 0, "{summary:?}");
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
