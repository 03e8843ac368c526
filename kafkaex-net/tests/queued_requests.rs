//! `BrokerConnection::queue`: requests are written in the order they were queued, whatever the
//! order their responses are awaited in, so an idempotent producer's batches arrive in
//! sequence order (the fake broker checks sequences as Kafka does).

use std::time::Duration;

use bytes::Bytes;
use kafkaex_net::{BrokerConnection, NetConfig, NetError, VersionChoice};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::ProduceRequest;
use kafkaex_protocol::records::{Compression, RecordBatchBuilder};
use kafkaex_protocol::{ApiKey, ErrorCode, Uuid};
use kafkaex_testkit::fake::{Action, FakeCluster, Rule};

fn batch(producer_id: i64, sequence: i32) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, 0, Compression::None);
    b.producer(producer_id, 0, sequence);
    b.append(0, Some(b"k"), Some(b"v"), &[]).unwrap();
    b.finish().unwrap()
}

/// A Produce to `topic`-0, by name (v0-12) and by id (v13+).
fn produce(topic: &str, topic_id: Uuid, producer_id: i64, sequence: i32) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic.to_owned())
            .with_topic_id(topic_id)
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(producer_id, sequence)))])])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_requests_are_written_in_queue_order() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let conn = BrokerConnection::connect(&fake.address(fake.node_ids()[0]), &NetConfig::default())
        .await
        .unwrap();
    let topic_id = fake.topic_id("t").unwrap();
    const N: i32 = 40;
    let mut queued = Vec::new();
    for seq in 0..N {
        queued.push(
            conn.queue(&produce("t", topic_id, 7, seq), VersionChoice::Newest)
                .await
                .unwrap(),
        );
    }
    // Awaited from separate tasks, newest first: the order of the awaits does not matter.
    let mut tasks = Vec::new();
    for q in queued.into_iter().rev() {
        tasks.push(tokio::spawn(q.response()));
    }
    for t in tasks {
        let response = t.await.unwrap().unwrap();
        assert_eq!(response.version, 13, "by topic id");
        let code = response.body.responses[0].partition_responses[0].error_code;
        assert_eq!(code, ErrorCode::None);
    }
    let log = fake.log("t", 0);
    let sequences: Vec<i32> = log.iter().map(|b| b.base_sequence).collect();
    assert_eq!(sequences, (0..N).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_queued_request_times_out_like_a_sent_one() {
    let fake = FakeCluster::builder()
        .topic("t", 1)
        .rule(Rule::on(ApiKey::Produce).then(Action::Silence))
        .start()
        .await;
    let config = NetConfig::default().with_request_timeout(Duration::from_millis(200));
    let conn = BrokerConnection::connect(&fake.address(fake.node_ids()[0]), &config)
        .await
        .unwrap();
    let queued = conn
        .queue(
            &produce("t", fake.topic_id("t").unwrap(), 7, 0),
            VersionChoice::Newest,
        )
        .await
        .unwrap();
    assert!(queued.version() >= 3);
    let err = queued.response().await.unwrap_err();
    // Written, then unanswered: it may have been applied, and the connection is closed.
    assert!(matches!(err, NetError::MaybeApplied { .. }), "{err:?}");
    assert!(err.may_have_been_applied());
    assert!(conn.is_closed());
}
