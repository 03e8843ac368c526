//! ConsumerGroup against Kafka 3.9 with ZooKeeper, which still has the versions KafkaEx users
//! run: kayrock.md's example exactly (`fetch: 3`); two members whose Kafka-stored (v3)
//! commits a v0 OffsetFetch does not find; KafkaEx's default `api_versions` (all 0) keeping
//! offsets in ZooKeeper, where a v3 OffsetFetch does not find them.

mod common_group;

use std::sync::Arc;

use common_group::{committed, create_topic, options, poll, produce, unique, uris, values, worker};
use common_group::{Record, Recorder};
use kafkaex_legacy::consumer_group::{ApiVersions, ConsumerGroup, ConsumerGroupOptions};
use kafkaex_legacy::KafkaVersion;
use kafkaex_net::{Route, VersionChoice};
use kafkaex_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafkaex_protocol::messages::OffsetFetchRequest;
use kafkaex_testkit::provider::BrokerProfile;

const PROFILE: BrokerProfile = BrokerProfile::Zk;

/// OffsetFetch v0 (ZooKeeper storage) of one partition, sent once: (error code, offset).
async fn zookeeper_committed(
    w: &kafkaex_legacy::Worker,
    group: &str,
    topic: &str,
    partition: i32,
) -> (i16, i64) {
    let request = OffsetFetchRequest::default()
        .with_group_id(group.to_owned())
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(topic.to_owned())
            .with_partition_indexes(vec![partition])]));
    let response = w
        .client()
        .send(
            Route::GroupCoordinator(group.to_owned()),
            &request,
            VersionChoice::Exact(0),
        )
        .await
        .expect("OffsetFetch v0");
    let p = &response.body.topics[0].partitions[0];
    (p.error_code.code(), p.committed_offset)
}

#[tokio::test]
async fn kayrock_example_with_fetch_3() {
    let Some(uris) = uris(PROFILE, "kayrock_example_with_fetch_3").await else {
        return;
    };
    common_group::scenarios::kayrock_example(&uris, 3).await;
}

#[tokio::test]
async fn two_members_commit_to_kafka_storage_which_v0_does_not_find() {
    let Some(uris) = uris(
        PROFILE,
        "two_members_commit_to_kafka_storage_which_v0_does_not_find",
    )
    .await
    else {
        return;
    };
    let done = common_group::scenarios::two_members(&uris, 3).await;
    // One OffsetFetch v0 per partition, answered as the broker answers it (the facade's
    // `offset_fetch` retries this code until its timeout).
    for p in 0..4 {
        assert_eq!(
            zookeeper_committed(&done.w, &done.group, &done.topic, p).await,
            (3, -1),
            "partition {p}: unknown_topic_or_partition, offset -1"
        );
    }
}

#[tokio::test]
async fn kafkaex_default_versions_keep_offsets_in_zookeeper() {
    let Some(uris) = uris(
        PROFILE,
        "kafkaex_default_versions_keep_offsets_in_zookeeper",
    )
    .await
    else {
        return;
    };
    let w = worker(&uris, None).await;
    let topic = unique("cg-zk0");
    let group = unique("cg-zk0-g");
    create_topic(&w, &topic, 2).await;
    for p in 0..2 {
        produce(&w, &topic, p, &values(&format!("a{p}"), 4)).await;
    }
    // KafkaEx's defaults: api_versions all 0, and the legacy servers (kafka_version unset).
    let opts = |record: &Arc<Record>| {
        let _ = record;
        ConsumerGroupOptions {
            api_versions: ApiVersions::default(),
            kafka_version: Some(KafkaVersion::Default),
            ..options(&uris, 0)
        }
    };
    let record = Arc::new(Record::default());
    let cg = ConsumerGroup::start_link::<Recorder>(
        ("m".into(), Arc::clone(&record)),
        group.as_str(),
        [topic.as_str()],
        opts(&record),
    )
    .await
    .expect("start_link");
    // Nothing in ZooKeeper yet: the consumers start at once (at the earliest offset).
    poll("8 consumed", || async { record.values().len() == 8 }).await;
    cg.stop().await;
    for p in 0..2 {
        assert_eq!(record.offsets(&topic, p), (0..4).collect::<Vec<_>>());
        assert_eq!(
            committed(&w, &group, &topic, p, 0).await,
            ("no_error".into(), 4),
            "ZooKeeper storage, partition {p}"
        );
        assert_eq!(
            committed(&w, &group, &topic, p, 3).await,
            ("no_error".into(), -1),
            "Kafka storage has nothing, partition {p}"
        );
    }
    // A restart reads ZooKeeper again and resumes there.
    for p in 0..2 {
        produce(&w, &topic, p, &values(&format!("b{p}"), 2)).await;
    }
    let again = Arc::new(Record::default());
    let cg = ConsumerGroup::start_link::<Recorder>(
        ("m".into(), Arc::clone(&again)),
        group.as_str(),
        [topic.as_str()],
        opts(&again),
    )
    .await
    .expect("start_link again");
    poll("4 new consumed", || async { again.values().len() == 4 }).await;
    for p in 0..2 {
        assert_eq!(again.offsets(&topic, p), vec![4, 5]);
    }
    cg.stop().await;
}
