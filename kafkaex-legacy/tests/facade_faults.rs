//! What a broker does wrong, from a scriptable fake broker (faults a real broker will not
//! produce on demand): a partition with a transient error in the metadata (which crashed
//! KafkaEx's client), malformed and corrupt Fetch responses, a commit the coordinator refuses.
//! Each is a typed answer or error, never a panic.

use bytes::Bytes;
use kafkaex_legacy::protocol::offset_commit;
use kafkaex_legacy::{
    fetch, metadata, offset_commit, start_link_worker, Error, FetchOptions, KafkaVersion,
    MetadataOptions, WorkerName, WorkerOptions,
};
use kafkaex_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkaex_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkaex_protocol::messages::{FetchResponse, MetadataResponse};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::fake::{Action, FakeCluster, Reply, Rule, Seen};

const TOPIC: &str = "faults";

async fn fake(rules: Vec<Rule>) -> FakeCluster {
    let mut b = FakeCluster::builder().brokers(1).topic(TOPIC, 2);
    for r in rules {
        b = b.rule(r);
    }
    b.start().await
}

async fn worker(fake: &FakeCluster) -> kafkaex_legacy::Worker {
    let uris: Vec<(String, u16)> = fake
        .bootstrap()
        .iter()
        .map(|b| {
            let (h, p) = b.rsplit_once(':').unwrap();
            (h.to_owned(), p.parse().unwrap())
        })
        .collect();
    let mut options = WorkerOptions::default()
        .uris(uris)
        .consumer_group("g")
        .server_impl(KafkaVersion::Kayrock);
    options.allow_auto_topic_creation = Some(false);
    start_link_worker(WorkerName::NoName, options)
        .await
        .expect("worker")
}

/// KafkaEx's client crashed refreshing metadata with a partition reported with
/// `leader_not_available` (kafkaex/kafka_ex#594): here it is part of the answer.
#[tokio::test]
async fn a_partition_with_a_transient_error_is_reported_not_fatal() {
    let fake = fake(vec![]).await;
    let w = worker(&fake).await;
    let address = fake.address(fake.node_ids()[0]);
    let (host, port) = address.rsplit_once(':').unwrap();
    let (host, port) = (host.to_owned(), port.parse::<i32>().unwrap());
    let node = fake.node_ids()[0];
    fake.add_rule(
        Rule::on(ApiKey::Metadata).then(Action::respond(move |seen: &Seen| {
            Reply::body(
                seen.version,
                MetadataResponse::default()
                    .with_brokers(vec![MetadataResponseBroker::default()
                        .with_node_id(node)
                        .with_host(host.clone())
                        .with_port(port)])
                    .with_controller_id(node)
                    .with_topics(vec![MetadataResponseTopic::default()
                        .with_name(Some(TOPIC.into()))
                        .with_partitions(vec![
                            MetadataResponsePartition::default()
                                .with_partition_index(0)
                                .with_leader_id(node)
                                .with_replica_nodes(vec![node])
                                .with_isr_nodes(vec![node]),
                            MetadataResponsePartition::default()
                                .with_error_code(ErrorCode::LeaderNotAvailable)
                                .with_partition_index(1)
                                .with_leader_id(-1)
                                .with_replica_nodes(vec![node]),
                        ])]),
            )
        })),
    );
    let m = metadata(MetadataOptions {
        worker_name: (&w).into(),
        topic: Some(TOPIC.into()),
        timeout: None,
    })
    .await
    .expect("metadata");
    let t = &m.topic_metadatas[0];
    assert_eq!(t.error_code, "no_error");
    assert_eq!(t.partition_metadatas.len(), 2);
    assert_eq!(t.partition_metadatas[1].error_code, "leader_not_available");
    assert_eq!(t.partition_metadatas[1].leader, -1);
    assert_eq!(m.partitions_for_topic(TOPIC), vec![0, 1]);
}

/// A Fetch answered with garbage, and one whose records fail their CRC: typed errors.
#[tokio::test]
async fn malformed_and_corrupt_fetch_responses_are_typed_errors() {
    let fake = fake(vec![Rule::on(ApiKey::Fetch).once().then(Action::respond(
        |_: &Seen| Reply::RawBody(Bytes::from_static(&[0xff, 0xff, 0xff, 0x7f, 1, 2])),
    ))])
    .await;
    let w = worker(&fake).await;
    let options = || FetchOptions {
        worker_name: (&w).into(),
        offset: Some(0),
        auto_commit: false,
        api_version: 4,
        ..Default::default()
    };
    let err = fetch(TOPIC, 0, options()).await.unwrap_err();
    assert!(matches!(err, Error::Client(_)), "{err:?}");
    // A record batch with a broken CRC.
    let mut batch =
        kafkaex_protocol::records::RecordBatch::new(vec![kafkaex_protocol::records::Record {
            value: Some(Bytes::from_static(b"v")),
            ..Default::default()
        }])
        .to_bytes()
        .unwrap()
        .to_vec();
    let last = batch.len() - 1;
    batch[last] ^= 0xff;
    let batch = Bytes::from(batch);
    fake.add_rule(
        Rule::on(ApiKey::Fetch)
            .once()
            .then(Action::respond(move |seen: &Seen| {
                Reply::body(
                    seen.version,
                    FetchResponse::default().with_responses(vec![FetchableTopicResponse::default(
                    )
                    .with_topic(TOPIC.to_owned())
                    .with_partitions(vec![PartitionData::default()
                        .with_partition_index(0)
                        .with_high_watermark(1)
                        .with_records(Some(batch.clone()))])]),
                )
            })),
    );
    let err = fetch(TOPIC, 0, options()).await.unwrap_err();
    let Error::Client(inner) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(
            **inner,
            kafkaex_client::Error::CorruptRecords { offset: 0, .. }
        ),
        "{inner:?}"
    );
}

/// A coordinator refusing a commit: the partition's error, named, in the response.
#[tokio::test]
async fn a_refused_commit_is_the_partitions_error_code() {
    let fake = fake(vec![
        Rule::on(ApiKey::OffsetCommit).then(Action::Error(ErrorCode::OffsetMetadataTooLarge))
    ])
    .await;
    let w = worker(&fake).await;
    let r = offset_commit(
        &w,
        offset_commit::Request {
            topic: TOPIC.into(),
            offset: 5,
            api_version: 3,
            ..Default::default()
        },
    )
    .await
    .expect("offset_commit");
    assert_eq!(r[0].partitions[0].error_code, "offset_metadata_too_large");
}
