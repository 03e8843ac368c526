//! The fake cluster itself: every API its model serves answers a request at every version
//! with a response that encodes at that version and decodes back; rules fire as scripted.

use bytes::{Bytes, BytesMut};
use kafkaex_protocol::header::{decode_response_header, encode_request_frame};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::*;
use kafkaex_protocol::records::{Compression, RecordBatchBuilder};
use kafkaex_protocol::{ApiKey, ErrorCode, Message, Request};
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

/// A request that encodes at `version` (fields a version lacks left at their defaults).
fn every_version<R: Request>() -> impl Iterator<Item = i16> {
    R::VERSIONS.min..=R::VERSIONS.max
}

#[tokio::test]
async fn every_served_api_answers_at_every_version() {
    let fake = FakeCluster::builder().topic("t", 2).start().await;
    for v in every_version::<ApiVersionsRequest>() {
        let r = call(&fake, &ApiVersionsRequest::default(), v).await;
        assert!(r.error_code.is_ok(), "v{v}");
        assert!(r.api_keys.len() > 50, "v{v}");
    }
    for v in every_version::<MetadataRequest>() {
        let request =
            MetadataRequest::default().with_topics(if v == 0 { Some(Vec::new()) } else { None });
        let r = call(&fake, &request, v).await;
        assert_eq!(r.brokers.len(), 1, "v{v}");
        assert_eq!(r.topics.len(), 1, "v{v}");
    }
    for v in every_version::<FindCoordinatorRequest>() {
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
    for v in every_version::<ListOffsetsRequest>() {
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
    for v in every_version::<HeartbeatRequest>() {
        let r = call(
            &fake,
            &HeartbeatRequest::default().with_group_id("g".into()),
            v,
        )
        .await;
        assert!(r.error_code.is_ok(), "v{v}");
    }
    for v in every_version::<InitProducerIdRequest>() {
        let request = InitProducerIdRequest::default().with_transactional_id(None);
        let r = call(&fake, &request, v).await;
        assert!(r.producer_id >= 0, "v{v}");
    }
    for v in every_version::<OffsetCommitRequest>() {
        let request = OffsetCommitRequest::default()
            .with_group_id("g".into())
            .with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name("t".into())
                    .with_partitions(vec![
                        offset_commit_request::OffsetCommitRequestPartition::default()
                            .with_committed_offset(i64::from(v)),
                    ]),
            ]);
        let r = call(&fake, &request, v).await;
        assert!(r.topics[0].partitions[0].error_code.is_ok(), "v{v}");
        assert_eq!(fake.committed("g", "t", 0).unwrap().offset, i64::from(v));
    }
    for v in every_version::<OffsetFetchRequest>() {
        let r = if v >= 8 {
            let request = OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id("g".into())
                    .with_topics(None),
            ]);
            let r = call(&fake, &request, v).await;
            r.groups[0].topics[0].partitions[0].committed_offset
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
        assert_eq!(r, i64::from(OffsetCommitRequest::VERSIONS.max), "v{v}");
    }
    for v in every_version::<CreateTopicsRequest>() {
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

fn batch(producer_id: i64, sequence: i32, value: &[u8]) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, 0, Compression::None);
    b.producer(producer_id, 0, sequence);
    b.append(0, None, Some(value), &[]).unwrap();
    b.finish().unwrap()
}

fn produce(batch: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name("t".into())
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch))])])
}

#[tokio::test]
async fn produce_appends_and_fetch_reads_back_at_every_version() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    // Produce v3+ carries record batches (v0-2 message sets, which the fake does not read).
    for v in 3..=ProduceRequest::VERSIONS.max {
        let r = call(&fake, &produce(batch(-1, -1, b"x")), v).await;
        let p = &r.responses[0].partition_responses[0];
        assert!(p.error_code.is_ok(), "v{v}: {p:?}");
        assert_eq!(p.base_offset, i64::from(v - 3), "v{v}");
    }
    let end = fake.log_end("t", 0).unwrap();
    let topic_id = fake.topic_id("t").unwrap();
    for v in 4..=FetchRequest::VERSIONS.max {
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
