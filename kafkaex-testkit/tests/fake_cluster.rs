//! The fake cluster itself: every API its model serves answers a request at every version
//! with a response that encodes at that version and decodes back; rules fire as scripted.

use bytes::{Bytes, BytesMut};
use kafkaex_protocol::header::{decode_response_header, encode_request_frame};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::*;
use kafkaex_protocol::records::{Compression, RecordBatchBuilder};
use kafkaex_protocol::{ApiKey, ErrorCode, Message, Request, Uuid};
use kafkaex_testkit::fake::{Action, FakeCluster, Rule};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` at `version` on a fresh connection and decodes the answer.
async fn call<R: Request>(fake: &FakeCluster, request: &R, version: i16) -> R::Response {
    let mut stream = TcpStream::connect(fake.address(1)).await.unwrap();
    let mut frame = BytesMut::new();
    encode_request_frame(&mut frame, 7, Some("fake-test"), version, request).unwrap();
    stream.write_all(&frame).await.unwrap();
    let size = stream.read_i32().await.unwrap();
    let mut body = vec![0; usize::try_from(size).unwrap()];
    stream.read_exact(&mut body).await.unwrap();
    let mut body = Bytes::from(body);
    let header = decode_response_header(R::API_KEY, version, &mut body).unwrap();
    assert_eq!(header.correlation_id, 7);
    R::Response::from_bytes(body, version).unwrap_or_else(|e| panic!("{} v{version}: {e}", R::NAME))
}

/// Every version of `R` the fake advertises (requests are built so that they encode at each:
/// fields a version lacks left at their defaults, or ignorable).
async fn every_version<R: Request>(fake: &FakeCluster) -> impl Iterator<Item = i16> {
    let advertised = call(fake, &ApiVersionsRequest::default(), 3).await;
    let range = advertised
        .api_keys
        .iter()
        .find(|k| k.api_key == R::API_KEY.as_i16())
        .unwrap_or_else(|| panic!("the fake does not advertise {}", R::NAME));
    assert!(
        range.max_version <= R::VERSIONS.max,
        "{}: {range:?}",
        R::NAME
    );
    range.min_version..=range.max_version
}

#[tokio::test]
async fn every_served_api_answers_at_every_version() {
    let fake = FakeCluster::builder().topic("t", 2).start().await;
    let topic_id = fake.topic_id("t").unwrap();
    for v in every_version::<ApiVersionsRequest>(&fake).await {
        let r = call(&fake, &ApiVersionsRequest::default(), v).await;
        assert!(r.error_code.is_ok(), "v{v}");
        assert!(r.api_keys.len() > 50, "v{v}");
    }
    for v in every_version::<MetadataRequest>(&fake).await {
        let request =
            MetadataRequest::default().with_topics(if v == 0 { Some(Vec::new()) } else { None });
        let r = call(&fake, &request, v).await;
        assert_eq!(r.brokers.len(), 1, "v{v}");
        assert_eq!(r.topics.len(), 1, "v{v}");
        assert!(r.error_code.is_ok(), "v{v}: the top-level code of v13+");
    }
    for v in every_version::<FindCoordinatorRequest>(&fake).await {
        let request = if v >= 4 {
            FindCoordinatorRequest::default().with_coordinator_keys(vec!["g".into()])
        } else {
            FindCoordinatorRequest::default().with_key("g".into())
        };
        let r = call(&fake, &request, v).await;
        let node = if v >= 4 {
            r.coordinators[0].node_id
        } else {
            r.node_id
        };
        assert_eq!(node, 1, "v{v}");
    }
    for v in every_version::<ListOffsetsRequest>(&fake).await {
        let request = ListOffsetsRequest::default().with_topics(vec![
            list_offsets_request::ListOffsetsTopic::default()
                .with_name("t".into())
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1)
                ]),
        ]);
        let r = call(&fake, &request, v).await;
        assert!(r.topics[0].partitions[0].error_code.is_ok(), "v{v}");
    }
    for v in every_version::<HeartbeatRequest>(&fake).await {
        let r = call(
            &fake,
            &HeartbeatRequest::default().with_group_id("g".into()),
            v,
        )
        .await;
        assert!(r.error_code.is_ok(), "v{v}");
    }
    for v in every_version::<InitProducerIdRequest>(&fake).await {
        let request = InitProducerIdRequest::default().with_transactional_id(None);
        let r = call(&fake, &request, v).await;
        assert!(r.producer_id >= 0, "v{v}");
    }
    for v in every_version::<OffsetCommitRequest>(&fake).await {
        let request = OffsetCommitRequest::default()
            .with_group_id("g".into())
            .with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name("t".into())
                    .with_topic_id(topic_id)
                    .with_partitions(vec![
                        offset_commit_request::OffsetCommitRequestPartition::default()
                            .with_committed_offset(i64::from(v)),
                    ]),
            ]);
        let r = call(&fake, &request, v).await;
        assert!(r.topics[0].partitions[0].error_code.is_ok(), "v{v}");
        // Answered the way the request named the topic: by id from v10, by name before.
        if v >= 10 {
            assert_eq!(
                (r.topics[0].name.as_str(), r.topics[0].topic_id),
                ("", topic_id)
            );
        } else {
            assert_eq!(
                (r.topics[0].name.as_str(), r.topics[0].topic_id),
                ("t", Uuid::ZERO)
            );
        }
        assert_eq!(fake.committed("g", "t", 0).unwrap().offset, i64::from(v));
    }
    let last_commit = i64::from(fake_max(&fake, ApiKey::OffsetCommit).await);
    for v in every_version::<OffsetFetchRequest>(&fake).await {
        let r = if v >= 8 {
            // Every committed topic, then the one topic by name (v8-9) or id (v10+).
            let all = OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id("g".into())
                    .with_topics(None),
            ]);
            let listed = call(&fake, &all, v).await;
            let one = OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id("g".into())
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopics::default()
                            .with_name("t".into())
                            .with_topic_id(topic_id)
                            .with_partition_indexes(vec![0]),
                    ])),
            ]);
            let asked = call(&fake, &one, v).await;
            for r in [&listed, &asked] {
                let t = &r.groups[0].topics[0];
                if v >= 10 {
                    assert_eq!((t.name.as_str(), t.topic_id), ("", topic_id), "v{v}");
                } else {
                    assert_eq!((t.name.as_str(), t.topic_id), ("t", Uuid::ZERO), "v{v}");
                }
                assert!(t.partitions[0].error_code.is_ok(), "v{v}");
            }
            assert_eq!(
                listed.groups[0].topics[0].partitions[0].committed_offset,
                asked.groups[0].topics[0].partitions[0].committed_offset
            );
            asked.groups[0].topics[0].partitions[0].committed_offset
        } else {
            let request = OffsetFetchRequest::default()
                .with_group_id("g".into())
                .with_topics(Some(vec![
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name("t".into())
                        .with_partition_indexes(vec![0]),
                ]));
            let r = call(&fake, &request, v).await;
            r.topics[0].partitions[0].committed_offset
        };
        assert_eq!(r, last_commit, "v{v}");
    }
    for v in every_version::<CreateTopicsRequest>(&fake).await {
        let request = CreateTopicsRequest::default().with_topics(vec![
            create_topics_request::CreatableTopic::default()
                .with_name(format!("created-{v}"))
                .with_num_partitions(1)
                .with_replication_factor(1),
        ]);
        let r = call(&fake, &request, v).await;
        assert!(r.topics[0].error_code.is_ok(), "v{v}");
    }
}

/// The newest version of `api` the fake advertises.
async fn fake_max(fake: &FakeCluster, api: ApiKey) -> i16 {
    call(fake, &ApiVersionsRequest::default(), 3)
        .await
        .api_keys
        .iter()
        .find(|k| k.api_key == api.as_i16())
        .map(|k| k.max_version)
        .unwrap_or_else(|| panic!("the fake does not advertise {api}"))
}

#[tokio::test]
async fn the_fake_advertises_what_kafka_4_4_advertises_of_the_newest_versions() {
    let fake = FakeCluster::builder().start().await;
    for (api, max) in [
        (ApiKey::Produce, 13),
        (ApiKey::Fetch, 18),
        (ApiKey::ListOffsets, 11),
        (ApiKey::Metadata, 13),
        (ApiKey::OffsetCommit, 10),
        (ApiKey::OffsetFetch, 10),
        (ApiKey::ApiVersions, 5),
        // v6 is in the specs but not stable in 4.4: brokers do not advertise it.
        (ApiKey::InitProducerId, 5),
    ] {
        assert_eq!(fake_max(&fake, api).await, max, "{api}");
    }
}

fn batch(producer_id: i64, sequence: i32, value: &[u8]) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, 0, Compression::None);
    b.producer(producer_id, 0, sequence);
    b.append(0, None, Some(value), &[]).unwrap();
    b.finish().unwrap()
}

/// A Produce of `batch` to t-0, naming t by name (v0-12) and by id (v13+): each field is
/// ignorable at the versions that lack it.
fn produce(topic_id: Uuid, batch: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name("t".into())
            .with_topic_id(topic_id)
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch))])])
}

#[tokio::test]
async fn produce_appends_and_fetch_reads_back_at_every_version() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let topic_id = fake.topic_id("t").unwrap();
    // Produce v3+ carries record batches (v0-2 message sets, which the fake does not read).
    for v in 3..=fake_max(&fake, ApiKey::Produce).await {
        let r = call(&fake, &produce(topic_id, batch(-1, -1, b"x")), v).await;
        let t = &r.responses[0];
        let p = &t.partition_responses[0];
        assert!(p.error_code.is_ok(), "v{v}: {p:?}");
        assert_eq!(p.base_offset, i64::from(v - 3), "v{v}");
        if v >= 13 {
            assert_eq!((t.name.as_str(), t.topic_id), ("", topic_id), "v{v}");
        } else {
            assert_eq!((t.name.as_str(), t.topic_id), ("t", Uuid::ZERO), "v{v}");
        }
    }
    let end = fake.log_end("t", 0).unwrap();
    for v in 4..=fake_max(&fake, ApiKey::Fetch).await {
        let request = FetchRequest::default()
            .with_max_bytes(1 << 20)
            .with_topics(vec![fetch_request::FetchTopic::default()
                .with_topic("t".into())
                .with_topic_id(topic_id)
                .with_partitions(vec![fetch_request::FetchPartition::default()
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1 << 20)])]);
        let r = call(&fake, &request, v).await;
        let p = &r.responses[0].partitions[0];
        assert!(p.error_code.is_ok(), "v{v}: {p:?}");
        assert_eq!(p.high_watermark, end, "v{v}");
        let records = kafkaex_protocol::records::decode_records(
            p.records.clone().unwrap(),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(records.batches().count() as i64, end, "v{v}");
    }
}

#[tokio::test]
async fn idempotent_batches_are_deduplicated_and_sequences_checked() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let id = fake.topic_id("t").unwrap();
    let produce = |batch| produce(id, batch);
    let v = ProduceRequest::VERSIONS.max;
    let first = call(&fake, &produce(batch(5, 0, b"a")), v).await;
    assert_eq!(first.responses[0].partition_responses[0].base_offset, 0);
    // The same batch again: answered with the first append's offset, not appended.
    let again = call(&fake, &produce(batch(5, 0, b"a")), v).await;
    assert_eq!(again.responses[0].partition_responses[0].base_offset, 0);
    assert_eq!(fake.log("t", 0).len(), 1);
    // A gap in the sequence.
    let gap = call(&fake, &produce(batch(5, 5, b"c")), v).await;
    assert_eq!(
        gap.responses[0].partition_responses[0].error_code,
        ErrorCode::OutOfOrderSequenceNumber
    );
    // The next one in order.
    let next = call(&fake, &produce(batch(5, 1, b"b")), v).await;
    assert_eq!(next.responses[0].partition_responses[0].base_offset, 1);
    // A producer the partition does not know must start at 0.
    let unknown = call(&fake, &produce(batch(6, 3, b"d")), v).await;
    assert_eq!(
        unknown.responses[0].partition_responses[0].error_code,
        ErrorCode::UnknownProducerId
    );
}

#[tokio::test]
async fn rules_fire_in_order_for_as_many_times_as_scripted() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    fake.add_rule(
        Rule::on(ApiKey::Heartbeat)
            .times(2)
            .then(Action::Error(ErrorCode::RebalanceInProgress)),
    );
    let v = HeartbeatRequest::VERSIONS.max;
    let request = HeartbeatRequest::default().with_group_id("g".into());
    for _ in 0..2 {
        assert_eq!(
            call(&fake, &request, v).await.error_code,
            ErrorCode::RebalanceInProgress
        );
    }
    assert!(call(&fake, &request, v).await.error_code.is_ok());
    assert_eq!(fake.count(ApiKey::Heartbeat), 3);
    // Moving a leader bumps its epoch and the old leader refuses.
    fake.set_leader("t", 0, 1);
    assert_eq!(fake.leader("t", 0), Some((1, 1)));
}

/// What Kafka 4.4 answers a topic id no topic has: `UNKNOWN_TOPIC_ID` for each partition, the
/// id echoed; nothing applied.
#[tokio::test]
async fn a_topic_id_no_topic_has_is_unknown_topic_id_as_kafka_4_4_answers() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let id = fake.topic_id("t").unwrap();
    let unknown = Uuid([7; 16]);

    // Produce v13 carries the id only: an unknown one, or none at all, whatever the name says.
    for sent in [unknown, Uuid::ZERO] {
        let r = call(&fake, &produce(sent, batch(-1, -1, b"x")), 13).await;
        assert_eq!(r.responses[0].topic_id, sent);
        let p = &r.responses[0].partition_responses[0];
        assert_eq!(
            (p.error_code, p.base_offset),
            (ErrorCode::UnknownTopicId, -1)
        );
    }
    assert!(fake.log("t", 0).is_empty());
    // v12 carries the name, and the same request goes through.
    let r = call(&fake, &produce(Uuid::ZERO, batch(-1, -1, b"x")), 12).await;
    assert!(r.responses[0].partition_responses[0].error_code.is_ok());
    assert_eq!(fake.log("t", 0).len(), 1);

    // OffsetCommit v10: every partition of the topic; a partition the topic lacks is
    // UNKNOWN_TOPIC_OR_PARTITION.
    let commit = |topic_id: Uuid, partitions: &[i32]| {
        OffsetCommitRequest::default()
            .with_group_id("g".into())
            .with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_topic_id(topic_id)
                    .with_partitions(
                        partitions
                            .iter()
                            .map(|p| {
                                offset_commit_request::OffsetCommitRequestPartition::default()
                                    .with_partition_index(*p)
                                    .with_committed_offset(1)
                            })
                            .collect(),
                    ),
            ])
    };
    let r = call(&fake, &commit(unknown, &[0, 1]), 10).await;
    assert_eq!(r.topics[0].topic_id, unknown);
    let codes: Vec<ErrorCode> = r.topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        codes,
        [ErrorCode::UnknownTopicId, ErrorCode::UnknownTopicId]
    );
    let r = call(&fake, &commit(id, &[5]), 10).await;
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ErrorCode::UnknownTopicOrPartition
    );
    assert_eq!(fake.committed("g", "t", 0), None);

    // OffsetFetch v10: per partition, with no offset.
    let request = OffsetFetchRequest::default().with_groups(vec![
        offset_fetch_request::OffsetFetchRequestGroup::default()
            .with_group_id("g".into())
            .with_topics(Some(vec![
                offset_fetch_request::OffsetFetchRequestTopics::default()
                    .with_topic_id(unknown)
                    .with_partition_indexes(vec![0]),
            ])),
    ]);
    let r = call(&fake, &request, 10).await;
    assert!(r.groups[0].error_code.is_ok());
    let t = &r.groups[0].topics[0];
    assert_eq!(t.topic_id, unknown);
    assert_eq!(
        (t.partitions[0].error_code, t.partitions[0].committed_offset),
        (ErrorCode::UnknownTopicId, -1)
    );

    // Fetch v18 (and every version since v13).
    let request = FetchRequest::default()
        .with_max_bytes(1 << 20)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic_id(unknown)
            .with_partitions(vec![
                fetch_request::FetchPartition::default().with_partition_max_bytes(1 << 20)
            ])]);
    let r = call(&fake, &request, 18).await;
    assert_eq!(r.responses[0].topic_id, unknown);
    let p = &r.responses[0].partitions[0];
    assert_eq!(
        (p.error_code, p.high_watermark),
        (ErrorCode::UnknownTopicId, -1)
    );
}
