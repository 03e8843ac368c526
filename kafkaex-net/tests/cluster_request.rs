//! `Cluster::request` against the test kit's fake cluster: requests built for the version
//! negotiated, what is retried and what is not, what a response's error codes do to the call.

use std::time::Duration;

use bytes::Bytes;
use kafkaex_net::{
    Cluster, ErrorOrigin, ErrorScope, NetConfig, NetError, RetryPolicy, RoutedRequest,
};
use kafkaex_protocol::messages::create_topics_request::CreatableTopic;
use kafkaex_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafkaex_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::{
    CreateTopicsRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest, RequestKind,
};
use kafkaex_protocol::records::{Compression, RecordBatchBuilder};
use kafkaex_protocol::{ApiKey, EncodeError, ErrorCode, Message, Uuid};
use kafkaex_testkit::fake::{Action, FakeCluster, Rule};

/// Fast retries for 2 s: enough for the few retries these tests expect, short for those that
/// retry until the deadline.
fn config() -> NetConfig {
    NetConfig::default()
        .with_request_timeout(Duration::from_millis(500))
        .with_retry(
            RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5))
                .with_deadline(Duration::from_secs(2)),
        )
}

async fn connect(fake: &FakeCluster) -> Cluster {
    Cluster::connect(&fake.bootstrap(), config()).await.unwrap()
}

fn records(producer_id: i64, sequence: i32) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, 0, Compression::None);
    b.producer(producer_id, 0, sequence);
    b.append(0, Some(b"key"), Some(b"value"), &[]).unwrap();
    b.finish().unwrap()
}

/// A topic's id in the fake; the zero id for a topic it does not have.
fn id(fake: &FakeCluster, topic: &str) -> Uuid {
    fake.topic_id(topic).unwrap_or(Uuid::ZERO)
}

/// A Produce naming its topic by name (v0-12) and by id (v13+): each field is ignorable at the
/// versions that lack it, so the request works at every version.
fn produce(topic: &str, topic_id: Uuid, partitions: &[i32], producer_id: i64) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic.to_owned())
            .with_topic_id(topic_id)
            .with_partition_data(
                partitions
                    .iter()
                    .map(|p| {
                        PartitionProduceData::default()
                            .with_index(*p)
                            .with_records(Some(records(producer_id, 0)))
                    })
                    .collect(),
            )])
}

/// An OffsetCommit naming its topic by name (v0-9) and by id (v10+).
fn commit(
    group: &str,
    topic: &str,
    topic_id: Uuid,
    partitions: &[(i32, i64)],
) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(group.to_owned())
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic.to_owned())
            .with_topic_id(topic_id)
            .with_partitions(
                partitions
                    .iter()
                    .map(|(p, offset)| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(*offset)
                    })
                    .collect(),
            )])
}

/// OffsetFetch in the form each version has: batched groups from v8 (topics by id from v10),
/// one group before.
fn offset_fetch<'a>(
    group: &'a str,
    topic: &'a str,
    topic_id: Uuid,
) -> impl Fn(i16) -> OffsetFetchRequest + Sync + 'a {
    move |version| {
        if version >= 8 {
            OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                .with_group_id(group.to_owned())
                .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                    .with_name(topic.to_owned())
                    .with_topic_id(topic_id)
                    .with_partition_indexes(vec![0])]))])
        } else {
            OffsetFetchRequest::default()
                .with_group_id(group.to_owned())
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(topic.to_owned())
                    .with_partition_indexes(vec![0])]))
        }
    }
}

#[tokio::test]
async fn offset_fetch_is_built_for_a_broker_that_has_only_v7() {
    let fake = FakeCluster::builder()
        .topic("t", 1)
        .max_version(ApiKey::OffsetFetch, 7)
        .start()
        .await;
    let cluster = connect(&fake).await;
    let t = id(&fake, "t");
    cluster
        .request(&commit("g", "t", t, &[(0, 42)]))
        .await
        .unwrap();

    let response = cluster
        .request_with(offset_fetch("g", "t", t))
        .await
        .unwrap();
    assert_eq!(response.version, 7);
    let offset = response.body.topics[0].partitions[0].committed_offset;
    assert_eq!(offset, 42);
    let sent = fake
        .requests()
        .into_iter()
        .find(|s| s.api == ApiKey::OffsetFetch)
        .unwrap();
    assert_eq!(sent.version, 7);
    let RequestKind::OffsetFetch(sent) = sent.body else {
        panic!("not an OffsetFetch")
    };
    assert_eq!(sent.group_id, "g");
    assert!(sent.groups.is_empty());

    // The same builder against a broker with every version takes the grouped form.
    // v10 names the topic by id, and the answer is matched by id.
    let modern = FakeCluster::builder().topic("t", 1).start().await;
    let cluster = connect(&modern).await;
    let t = id(&modern, "t");
    let committed = cluster
        .request(&commit("g", "t", t, &[(0, 43)]))
        .await
        .unwrap();
    assert_eq!(committed.version, 10);
    assert_eq!(committed.body.topics[0].topic_id, t);
    let response = cluster
        .request_with(offset_fetch("g", "t", t))
        .await
        .unwrap();
    assert_eq!(response.version, 10);
    assert_eq!(response.version, OffsetFetchRequest::VERSIONS.max);
    let topic = &response.body.groups[0].topics[0];
    assert_eq!((topic.name.as_str(), topic.topic_id), ("", t));
    assert_eq!(topic.partitions[0].committed_offset, 43);
}

#[tokio::test]
async fn a_request_built_for_one_version_only_is_an_encode_error_naming_api_version_and_field() {
    let fake = FakeCluster::builder()
        .topic("t", 1)
        .max_version(ApiKey::OffsetFetch, 7)
        .start()
        .await;
    let cluster = connect(&fake).await;
    // The v8+ form sent as is: v7 has no `Groups`.
    let err = cluster
        .request(&offset_fetch("g", "t", id(&fake, "t"))(8))
        .await
        .unwrap_err();
    let NetError::EncodeRequest {
        api,
        version,
        source,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*api, *version), (ApiKey::OffsetFetch, 7));
    assert!(
        matches!(
            source,
            EncodeError::FieldNotInVersion {
                field: "Groups",
                version: 7,
                ..
            }
        ),
        "{source:?}"
    );
    assert_eq!(
        err.to_string(),
        "could not encode the OffsetFetch v7 request"
    );
    let chain = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        chain.contains("OffsetFetchRequest v7") && chain.contains("Groups"),
        "{chain}"
    );
    assert_eq!(fake.count(ApiKey::OffsetFetch), 0, "nothing was sent");
}

#[tokio::test]
async fn a_builder_whose_route_depends_on_the_version_is_refused() {
    let capped = FakeCluster::builder()
        .topic("t", 1)
        .max_version(ApiKey::OffsetFetch, 7)
        .start()
        .await;
    let cluster = connect(&capped).await;
    let err = cluster
        .request_with(|version| {
            let group = if version >= 8 { "a" } else { "b" };
            OffsetFetchRequest::default().with_group_id(group.to_owned())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::InvalidArgument(_)), "{err:?}");
    assert!(
        err.to_string().contains("may not depend on the version"),
        "{err}"
    );
}

/// The case: a peer that reads a Produce and never answers. One attempt, and an error
/// that says the write may have been applied (it was: the log has the batch).
#[tokio::test]
async fn a_produce_without_producer_id_is_not_retried_after_it_was_sent() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    fake.add_rule(Rule::on(ApiKey::Produce).then(Action::ApplyThenSilence));
    let cluster = connect(&fake).await;
    let request = produce("t", id(&fake, "t"), &[0], -1);
    assert!(!request.is_idempotent());
    let err = cluster.request(&request).await.unwrap_err();
    assert!(err.may_have_been_applied(), "{err:?}");
    let NetError::MaybeApplied { api, cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*api, ApiKey::Produce);
    assert!(matches!(**cause, NetError::Timeout { .. }), "{cause:?}");
    assert!(!err.to_string().is_empty());
    assert_eq!(fake.count(ApiKey::Produce), 1, "exactly one attempt");
    assert_eq!(fake.log("t", 0).len(), 1, "the broker did apply it");

    // A connection cut after the write: the same.
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    fake.add_rule(Rule::on(ApiKey::Produce).then(Action::ApplyThenDisconnect));
    let cluster = connect(&fake).await;
    let err = cluster
        .request(&produce("t", id(&fake, "t"), &[0], -1))
        .await
        .unwrap_err();
    assert!(err.may_have_been_applied(), "{err:?}");
    assert_eq!(fake.count(ApiKey::Produce), 1);
}

#[tokio::test]
async fn an_idempotent_produce_is_retried_and_the_broker_dedupes_it() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    fake.add_rule(
        Rule::on(ApiKey::Produce)
            .once()
            .then(Action::ApplyThenDisconnect),
    );
    let cluster = connect(&fake).await;
    let request = produce("t", id(&fake, "t"), &[0], 1000);
    assert!(request.is_idempotent());
    let response = cluster.request(&request).await.unwrap();
    assert_eq!(fake.count(ApiKey::Produce), 2);
    // The retry carried the same sequence: the broker answered with the first append's offset.
    assert_eq!(
        response.body.responses[0].partition_responses[0].base_offset,
        0
    );
    assert_eq!(fake.log("t", 0).len(), 1, "appended once");
}

#[tokio::test]
async fn request_timed_out_on_a_produce_without_producer_id_is_not_retried() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    fake.add_rule(
        Rule::on(ApiKey::Produce)
            .once()
            .then(Action::Error(ErrorCode::RequestTimedOut)),
    );
    let cluster = connect(&fake).await;
    let err = cluster
        .request(&produce("t", id(&fake, "t"), &[0], -1))
        .await
        .unwrap_err();
    assert_eq!(err.kafka_code(), Some(ErrorCode::RequestTimedOut));
    assert!(err.may_have_been_applied());
    assert_eq!(fake.count(ApiKey::Produce), 1);
}

#[tokio::test]
async fn the_only_partitions_retriable_code_is_retried_one_of_many_is_returned() {
    let fake = FakeCluster::builder().topic("t", 2).start().await;
    let cluster = connect(&fake).await;
    let t = id(&fake, "t");
    // One partition: NOT_LEADER_OR_FOLLOWER means nothing was written; retried after a
    // metadata refresh.
    fake.add_rule(
        Rule::on(ApiKey::Produce)
            .once()
            .then(Action::Error(ErrorCode::NotLeaderOrFollower)),
    );
    let metadata_before = fake.count(ApiKey::Metadata);
    let response = cluster.request(&produce("t", t, &[0], -1)).await.unwrap();
    assert!(response.errors.is_empty());
    assert_eq!(response.version, 13);
    assert_eq!(fake.count(ApiKey::Produce), 2);
    assert!(fake.count(ApiKey::Metadata) > metadata_before);
    assert_eq!(fake.log("t", 0).len(), 1);

    // Two partitions: the codes are the caller's to handle; nothing is repeated.
    fake.add_rule(
        Rule::on(ApiKey::Produce)
            .once()
            .then(Action::Error(ErrorCode::NotLeaderOrFollower)),
    );
    let response = cluster
        .request(&produce("t", t, &[0, 1], -1))
        .await
        .unwrap();
    assert_eq!(fake.count(ApiKey::Produce), 3);
    // Produce v13 answers by topic id: the scopes name the id.
    let scopes: Vec<&ErrorScope> = response.errors.iter().map(|e| &e.scope).collect();
    assert_eq!(
        scopes,
        [
            &ErrorScope::PartitionOfTopicId {
                topic_id: t,
                partition: 0
            },
            &ErrorScope::PartitionOfTopicId {
                topic_id: t,
                partition: 1
            }
        ]
    );
    assert!(response
        .errors
        .iter()
        .all(|e| e.code == ErrorCode::NotLeaderOrFollower && !e.whole_request));
}

#[tokio::test]
async fn coordinator_codes_in_partitions_settle_the_request_and_find_the_coordinator_again() {
    let fake = FakeCluster::builder().topic("t", 2).start().await;
    let cluster = connect(&fake).await;
    fake.add_rule(
        Rule::on(ApiKey::OffsetCommit)
            .once()
            .then(Action::Error(ErrorCode::NotCoordinator)),
    );
    cluster
        .request(&commit("g", "t", id(&fake, "t"), &[(0, 5), (1, 6)]))
        .await
        .unwrap();
    assert_eq!(fake.count(ApiKey::OffsetCommit), 2);
    assert_eq!(fake.count(ApiKey::FindCoordinator), 2);
    assert_eq!(fake.committed("g", "t", 1).unwrap().offset, 6);
}

#[tokio::test]
async fn a_non_retriable_code_of_the_only_topic_ends_the_call_with_its_scope() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let cluster = connect(&fake).await;
    let create = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name("t".into())
            .with_num_partitions(1)
            .with_replication_factor(1)])
        .with_timeout_ms(1000);
    let err = cluster.request(&create).await.unwrap_err();
    let NetError::Kafka {
        api,
        code,
        origin,
        scope,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*api, ApiKey::CreateTopics);
    assert_eq!(*code, ErrorCode::TopicAlreadyExists);
    assert_eq!(*origin, ErrorOrigin::Broker);
    assert_eq!(*scope, ErrorScope::Topic("t".into()));
    assert!(err.to_string().contains("for topic t"), "{err}");
    assert_eq!(fake.count(ApiKey::CreateTopics), 1);
}

#[tokio::test]
async fn an_error_the_client_concludes_says_so() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let cluster = connect(&fake).await;
    let err = cluster
        .request(&produce("missing", Uuid::ZERO, &[0], -1))
        .await
        .unwrap_err();
    let NetError::Kafka {
        api, origin, scope, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*api, ApiKey::Metadata);
    assert_eq!(*origin, ErrorOrigin::Client);
    assert_eq!(
        *scope,
        ErrorScope::Partition {
            topic: "missing".into(),
            partition: 0
        }
    );
    let text = err.to_string();
    assert!(text.contains("no leader known for missing-0"), "{text}");
    assert!(text.contains("taken as"), "{text}");
    assert_eq!(fake.count(ApiKey::Produce), 0);
}

#[tokio::test]
async fn partitions_led_by_different_brokers_must_be_split() {
    let fake = FakeCluster::builder()
        .brokers(2)
        .topic("t", 2)
        .start()
        .await;
    let cluster = connect(&fake).await;
    let t = id(&fake, "t");
    let err = cluster
        .request(&produce("t", t, &[0, 1], -1))
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::InvalidArgument(_)), "{err:?}");
    assert!(
        err.to_string().contains("send one request per broker"),
        "{err}"
    );
    assert_eq!(fake.count(ApiKey::Produce), 0);
    // One broker's partitions go through, and the response names the node.
    let response = cluster.request(&produce("t", t, &[1], -1)).await.unwrap();
    assert_eq!(
        response.broker.node_id,
        Some(fake.leader("t", 1).unwrap().0)
    );
}

/// Produce v13 names topics by id only: a request with no name is routed by its id (looked up
/// in the metadata, refreshed once when the id is not there) and answered by id; an id no topic
/// has is the client's UNKNOWN_TOPIC_ID, and nothing is sent.
#[tokio::test]
async fn a_produce_by_topic_id_alone_is_routed_by_id() {
    let fake = FakeCluster::builder()
        .brokers(2)
        .topic("t", 2)
        .start()
        .await;
    let cluster = connect(&fake).await;
    let t = id(&fake, "t");
    let response = cluster.request(&produce("", t, &[1], -1)).await.unwrap();
    assert_eq!(response.version, 13);
    assert_eq!(
        response.broker.node_id,
        Some(fake.leader("t", 1).unwrap().0)
    );
    assert_eq!(response.body.responses[0].topic_id, t);
    assert_eq!(fake.log("t", 1).len(), 1);

    let unknown = Uuid([7; 16]);
    let err = cluster
        .request(&produce("", unknown, &[0], -1))
        .await
        .unwrap_err();
    let NetError::Kafka {
        api,
        code,
        origin,
        scope,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*api, *code, *origin),
        (
            ApiKey::Metadata,
            ErrorCode::UnknownTopicId,
            ErrorOrigin::Client
        )
    );
    assert_eq!(*scope, ErrorScope::TopicId(unknown));
    assert_eq!(fake.count(ApiKey::Produce), 1);
}

/// A broker that answers a topic id with UNKNOWN_TOPIC_ID (here: scripted once, as after the
/// topic was recreated) makes the client refresh that topic and try again.
#[tokio::test]
async fn unknown_topic_id_from_the_broker_refreshes_the_topic_and_retries() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let cluster = connect(&fake).await;
    let t = id(&fake, "t");
    cluster
        .refresh_metadata(Some(&["t".to_owned()]))
        .await
        .unwrap();
    let metadata_before = fake.count(ApiKey::Metadata);
    fake.add_rule(
        Rule::on(ApiKey::Produce)
            .once()
            .then(Action::Error(ErrorCode::UnknownTopicId)),
    );
    let response = cluster.request(&produce("t", t, &[0], -1)).await.unwrap();
    assert!(response.errors.is_empty());
    assert_eq!(fake.count(ApiKey::Produce), 2);
    assert!(fake.count(ApiKey::Metadata) > metadata_before);
    assert_eq!(fake.log("t", 0).len(), 1);
}

/// A request that names a topic without its id cannot go out at the versions that carry only
/// the id: `Cluster::request` negotiates the last version by name instead (Produce v12,
/// OffsetCommit and OffsetFetch v9), as Java's client does; with the id, the newest.
#[tokio::test]
async fn a_topic_without_its_id_keeps_the_request_at_the_last_version_by_name() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let cluster = connect(&fake).await;
    let t = id(&fake, "t");
    for (topic_id, version) in [(Uuid::ZERO, 12), (t, 13)] {
        let produced = cluster
            .request(&produce("t", topic_id, &[0], -1))
            .await
            .unwrap();
        assert_eq!(produced.version, version);
        assert!(produced.body.responses[0].partition_responses[0]
            .error_code
            .is_ok());
    }
    assert_eq!(fake.log("t", 0).len(), 2);
    for (topic_id, version) in [(Uuid::ZERO, 9), (t, 10)] {
        let committed = cluster
            .request(&commit("g", "t", topic_id, &[(0, i64::from(version))]))
            .await
            .unwrap();
        assert_eq!(committed.version, version);
        let fetched = cluster
            .request_with(offset_fetch("g", "t", topic_id))
            .await
            .unwrap();
        assert_eq!(fetched.version, version);
        let partition = &fetched.body.groups[0].topics[0].partitions[0];
        assert_eq!(partition.committed_offset, i64::from(version));
    }
    // What went out: every request at the version negotiated, none at a version by id without
    // the id.
    let sent: Vec<(ApiKey, i16)> = fake
        .apis()
        .into_iter()
        .filter(|(api, _)| {
            matches!(
                api,
                ApiKey::Produce | ApiKey::OffsetCommit | ApiKey::OffsetFetch
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            (ApiKey::Produce, 12),
            (ApiKey::Produce, 13),
            (ApiKey::OffsetCommit, 9),
            (ApiKey::OffsetFetch, 9),
            (ApiKey::OffsetCommit, 10),
            (ApiKey::OffsetFetch, 10),
        ]
    );
}
