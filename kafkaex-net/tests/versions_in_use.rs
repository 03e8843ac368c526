//! Every API the client layers use, through `Cluster::request` against real brokers at the
//! version each negotiates: against Kafka 4.4 (the `kraft` profile) the newest versions this
//! client knows, which name topics by id alone (Produce v13, Fetch v18, OffsetCommit and
//! OffsetFetch v10; plus ListOffsets v11 and Metadata v13 with its top-level code); against
//! Kafka 3.9 (the `zk` profile) the older versions, which name topics by name (but Fetch, by id
//! from v13), built from the same requests with both fields set.

mod common;

use std::time::Duration;

use common::{config_with_deadline, list_latest, unique};
use kafkaex_net::Cluster;
use kafkaex_protocol::messages::create_topics_request::CreatableTopic;
use kafkaex_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkaex_protocol::messages::metadata_request::MetadataRequestTopic;
use kafkaex_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafkaex_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::{
    CreateTopicsRequest, FetchRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest,
    ProduceRequest,
};
use kafkaex_protocol::records::{decode_records, Compression, DecodeOptions, RecordBatchBuilder};
use kafkaex_protocol::{ApiKey, ErrorCode, Uuid};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile, Brokers};

/// The version each API went out at.
#[derive(Debug, Default, PartialEq, Eq)]
struct Negotiated {
    metadata: i16,
    list_offsets: i16,
    produce: i16,
    fetch: i16,
    offset_commit: i16,
    offset_fetch: i16,
}

/// Whether a response's topic is ours: by id at the versions that name topics by id, else by
/// name.
fn ours(by_id: bool, name: &str, id: Uuid, topic: &str, topic_id: Uuid) -> bool {
    if by_id {
        id == topic_id
    } else {
        name == topic
    }
}

/// Creates a topic, then Metadata, ListOffsets, Produce (one record), Fetch, ListOffsets,
/// OffsetCommit and OffsetFetch for it, each checked. With `id_only`, the requests that can
/// name a topic by id leave its name empty (so they only work at versions that carry the id);
/// otherwise they set both name and id.
async fn every_api(brokers: &Brokers, id_only: bool) -> Negotiated {
    let cluster = Cluster::connect(
        &brokers.bootstrap,
        config_with_deadline(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let topic = unique("versions");
    let group = unique("versions-group");
    let mut negotiated = Negotiated::default();

    let create = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic.clone())
            .with_num_partitions(1)
            .with_replication_factor(1)])
        .with_timeout_ms(30_000);
    cluster.request(&create).await.unwrap();

    // Routed to the leader of topic-0: retried (metadata refreshed) until the new topic has one.
    let listed = cluster.request(&list_latest(&topic, 0)).await.unwrap();
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
    assert_eq!(listed.body.topics[0].partitions[0].offset, 0);
    negotiated.list_offsets = listed.version;

    let metadata = cluster
        .request(
            &MetadataRequest::default()
                .with_topics(Some(vec![
                    MetadataRequestTopic::default().with_name(Some(topic.clone()))
                ]))
                .with_allow_auto_topic_creation(false),
        )
        .await
        .unwrap();
    negotiated.metadata = metadata.version;
    assert!(metadata.errors.is_empty(), "{:?}", metadata.errors);
    assert_eq!(metadata.body.error_code, ErrorCode::None);
    let described = &metadata.body.topics[0];
    assert_eq!(described.name.as_deref(), Some(topic.as_str()));
    assert_eq!(described.partitions.len(), 1);
    let topic_id = described.topic_id;
    assert_ne!(topic_id, Uuid::ZERO, "Kafka 2.8+ gives every topic an id");
    assert_eq!(
        cluster.with_metadata(|m| m.topic(&topic).map(|t| t.topic_id)),
        Some(topic_id)
    );
    let name = if id_only {
        String::new()
    } else {
        topic.clone()
    };

    let mut batch = RecordBatchBuilder::new(0, 0, Compression::None);
    batch
        .append(0, Some(b"key"), Some(b"versions"), &[])
        .unwrap();
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name.clone())
            .with_topic_id(topic_id)
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch.finish().unwrap()))])]);
    let produced = cluster.request(&produce).await.unwrap();
    negotiated.produce = produced.version;
    let by_id = produced.version >= 13;
    let answer = produced
        .body
        .responses
        .iter()
        .find(|t| ours(by_id, &t.name, t.topic_id, &topic, topic_id))
        .unwrap_or_else(|| panic!("{:?}", produced.body));
    let p = &answer.partition_responses[0];
    assert_eq!(
        (p.index, p.error_code, p.base_offset),
        (0, ErrorCode::None, 0)
    );

    let fetch = FetchRequest::default()
        .with_replica_id(-1)
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name.clone())
            .with_topic_id(topic_id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(0)
                .with_last_fetched_epoch(-1)
                .with_partition_max_bytes(1 << 20)])]);
    let fetched = cluster.request(&fetch).await.unwrap();
    negotiated.fetch = fetched.version;
    let by_id = fetched.version >= 13;
    let answer = fetched
        .body
        .responses
        .iter()
        .find(|t| ours(by_id, &t.topic, t.topic_id, &topic, topic_id))
        .unwrap_or_else(|| panic!("{:?}", fetched.body));
    let p = &answer.partitions[0];
    assert_eq!((p.error_code, p.high_watermark), (ErrorCode::None, 1));
    let records = decode_records(p.records.clone().unwrap(), &DecodeOptions::default()).unwrap();
    let values: Vec<_> = records
        .batches()
        .flat_map(|b| &b.records)
        .map(|r| r.value.clone())
        .collect();
    assert_eq!(values, [Some(bytes::Bytes::from_static(b"versions"))]);

    let listed = cluster.request(&list_latest(&topic, 0)).await.unwrap();
    assert_eq!(listed.body.topics[0].partitions[0].offset, 1);

    let commit = OffsetCommitRequest::default()
        .with_group_id(group.clone())
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name.clone())
            .with_topic_id(topic_id)
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(1)])]);
    let committed = cluster.request(&commit).await.unwrap();
    negotiated.offset_commit = committed.version;
    let by_id = committed.version >= 10;
    let answer = committed
        .body
        .topics
        .iter()
        .find(|t| ours(by_id, &t.name, t.topic_id, &topic, topic_id))
        .unwrap_or_else(|| panic!("{:?}", committed.body));
    assert_eq!(answer.partitions[0].error_code, ErrorCode::None);

    // The grouped form (v8+, Kafka 3.0+), which both profiles speak.
    let fetch_offsets =
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(group.clone())
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(name.clone())
                .with_topic_id(topic_id)
                .with_partition_indexes(vec![0])]))]);
    let offsets = cluster.request(&fetch_offsets).await.unwrap();
    negotiated.offset_fetch = offsets.version;
    let by_id = offsets.version >= 10;
    let answer = offsets.body.groups[0]
        .topics
        .iter()
        .find(|t| ours(by_id, &t.name, t.topic_id, &topic, topic_id))
        .unwrap_or_else(|| panic!("{:?}", offsets.body));
    let p = &answer.partitions[0];
    assert_eq!((p.error_code, p.committed_offset), (ErrorCode::None, 1));

    // The broker's ranges agree with what went out: the newest both sides know.
    let conn = cluster
        .broker_for(kafkaex_net::Route::leader(topic.as_str(), 0))
        .await
        .unwrap();
    for (api, version) in [
        (ApiKey::Metadata, negotiated.metadata),
        (ApiKey::ListOffsets, negotiated.list_offsets),
        (ApiKey::Produce, negotiated.produce),
        (ApiKey::Fetch, negotiated.fetch),
        (ApiKey::OffsetCommit, negotiated.offset_commit),
        (ApiKey::OffsetFetch, negotiated.offset_fetch),
    ] {
        let broker = conn.versions().get(api).unwrap().max;
        assert_eq!(version, broker.min(api.valid_versions().max), "{api}");
    }
    negotiated
}

#[tokio::test]
async fn kafka_4_4_serves_the_newest_versions_by_topic_id() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "kafka_4_4_serves_the_newest_versions_by_topic_id",
    )
    .await
    else {
        return;
    };
    // Topic names left empty wherever a topic id can stand for them.
    let negotiated = every_api(&brokers, true).await;
    assert_eq!(
        negotiated,
        Negotiated {
            metadata: 13,
            list_offsets: 11,
            produce: 13,
            fetch: 18,
            offset_commit: 10,
            offset_fetch: 10,
        }
    );
}

#[tokio::test]
async fn kafka_3_9_serves_the_older_versions_by_name() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Zk,
        "kafka_3_9_serves_the_older_versions_by_name",
    )
    .await
    else {
        return;
    };
    // Names and ids both set: the same requests a client sends to any broker.
    let negotiated = every_api(&brokers, false).await;
    assert_eq!(
        negotiated,
        Negotiated {
            metadata: 12,
            list_offsets: 9,
            produce: 11,
            fetch: 17,
            offset_commit: 9,
            offset_fetch: 9,
        }
    );
}
