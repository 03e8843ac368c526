//! The facade on Kafka 4 (`kraft`): kayrock.md's examples at api_version 3, and every v0
//! call refused with the typed unsupported-version error and its advice.

mod common;

use kafkaex_legacy::protocol::{offset_commit, offset_fetch, produce};
use kafkaex_legacy::{
    fetch, latest_offset, offset_commit, offset_fetch, produce, produce_message, CallOptions,
    Error, FetchOptions, KafkaVersion, ProduceOptions,
};
use kafkaex_protocol::ApiKey;
use kafkaex_testkit::provider::BrokerProfile;

use common::{examples, topic, unique, worker};

#[tokio::test]
async fn kayrock_offset_commit_and_fetch_v3() {
    examples::offset_commit_and_fetch_v3(
        BrokerProfile::Kraft,
        "kayrock_offset_commit_and_fetch_v3",
    )
    .await;
}

#[tokio::test]
async fn kayrock_fetch_auto_commit_v3() {
    examples::fetch_auto_commit_v3(BrokerProfile::Kraft, "kayrock_fetch_auto_commit_v3", 4).await;
}

#[tokio::test]
async fn kayrock_produce_timestamp_v3() {
    examples::produce_timestamp_v3(BrokerProfile::Kraft, "kayrock_produce_timestamp_v3", 4).await;
}

#[tokio::test]
async fn kayrock_log_append_time() {
    examples::log_append_time(BrokerProfile::Kraft, "kayrock_log_append_time", 4).await;
}

fn assert_unsupported(err: &Error, api: ApiKey, asked: i16, advice: &str) {
    let Error::UnsupportedVersion {
        api: a,
        asked: v,
        broker,
        ..
    } = err
    else {
        panic!("not an unsupported version: {err:?}");
    };
    assert_eq!((*a, *v), (api, asked), "{err}");
    let (min, _max) = broker.expect("the broker's range");
    assert!(min > asked, "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("v{asked}")), "{text}");
    assert!(text.contains(&format!("supports v{min}")), "{text}");
    assert!(text.contains(advice), "{text}");
    assert!(std::error::Error::source(err).is_some());
}

/// Every v0 the legacy defaults send: Kafka 4 has none of them.
#[tokio::test]
async fn v0_calls_are_typed_unsupported_version_errors() {
    let test = "v0_calls_are_typed_unsupported_version_errors";
    let group = unique("v0-group");
    let Some(w) = worker(BrokerProfile::Kraft, test, KafkaVersion::Kayrock, &group).await else {
        return;
    };
    let t = unique("v0-topic");
    topic(&w, &t, 1, &[]).await;
    let err = offset_commit(
        &w,
        offset_commit::Request {
            topic: t.clone(),
            offset: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, ApiKey::OffsetCommit, 0, "kafkaex offsets migrate");
    let err = offset_fetch(
        &w,
        offset_fetch::Request {
            topic: t.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, ApiKey::OffsetFetch, 0, "ZooKeeper");
    let err = produce_message(
        &t,
        Some(0),
        "v",
        ProduceOptions {
            worker_name: (&w).into(),
            required_acks: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, ApiKey::Produce, 0, "api_version 3");
    let err = fetch(
        &t,
        0,
        FetchOptions {
            worker_name: (&w).into(),
            offset: Some(0),
            auto_commit: false,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, ApiKey::Fetch, 0, "record batches");
    // Fetch without an offset first reads the committed offset at v0.
    let err = fetch(
        &t,
        0,
        FetchOptions {
            worker_name: (&w).into(),
            api_version: 4,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, ApiKey::OffsetFetch, 0, "migrate");
    // A version the broker has is sent as given: v4 fetches on Kafka 4.
    let ok = fetch(
        &t,
        0,
        FetchOptions {
            worker_name: (&w).into(),
            offset: Some(0),
            auto_commit: false,
            api_version: 4,
            ..Default::default()
        },
    )
    .await
    .expect("fetch v4");
    assert!(ok.found().is_some());
    // The legacy servers send v0 whatever the struct says: OffsetCommit v3 asked, v0 sent.
    let Some(legacy) = worker(BrokerProfile::Kraft, test, KafkaVersion::Default, &group).await
    else {
        return;
    };
    let err = offset_commit(
        &legacy,
        offset_commit::Request {
            topic: t.clone(),
            offset: 1,
            api_version: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, ApiKey::OffsetCommit, 0, "migrate");
    let err = latest_offset(&t, 0, &legacy).await.unwrap_err();
    assert_unsupported(&err, ApiKey::ListOffsets, 0, "api_version 1");
    let err = produce(
        produce::Request {
            topic: t.clone(),
            partition: Some(0),
            required_acks: 1,
            messages: vec![produce::Message::value("x")],
            api_version: 3,
            ..Default::default()
        },
        CallOptions::worker(&legacy),
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, ApiKey::Produce, 0, "api_version 3");
}
