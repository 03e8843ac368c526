//! The fake broker's idempotence model where it must match Kafka's for producer tests to mean
//! anything: a bumped epoch restarts sequences (the old epoch's batches are no duplicates of
//! the new one's), and a request left unanswered holds back every later answer on its
//! connection, as a broker answering in order does.

use std::time::Duration;

use bytes::Bytes;
use kafkaex_net::{BrokerConnection, NetConfig, VersionChoice};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::ProduceRequest;
use kafkaex_protocol::records::{Compression, RecordBatchBuilder};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::fake::{Action, FakeCluster, Rule};

fn produce(epoch: i16, sequence: i32, value: &'static [u8]) -> ProduceRequest {
    let mut b = RecordBatchBuilder::new(0, 0, Compression::None);
    b.producer(9, epoch, sequence);
    b.append(0, None, Some(value), &[]).unwrap();
    let records: Bytes = b.finish().unwrap();
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name("t".to_owned())
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])])
}

/// Produce v11 names topics by name.
const V: VersionChoice = VersionChoice::Exact(11);

#[tokio::test]
async fn a_bumped_epoch_restarts_sequences_without_false_duplicates() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let conn = BrokerConnection::connect(&fake.address(fake.node_ids()[0]), &NetConfig::default())
        .await
        .unwrap();
    for (epoch, seq, value) in [(0, 0, b"a"), (0, 1, b"b"), (1, 0, b"c"), (1, 1, b"d")] {
        let r = conn.send(&produce(epoch, seq, value), V).await.unwrap();
        assert_eq!(
            r.body.responses[0].partition_responses[0].error_code,
            ErrorCode::None
        );
    }
    // Four appends: epoch 1's sequences 0 and 1 were not taken for epoch 0's.
    let log = fake.log("t", 0);
    let seen: Vec<(i16, i32)> = log
        .iter()
        .map(|b| (b.producer_epoch, b.base_sequence))
        .collect();
    assert_eq!(seen, [(0, 0), (0, 1), (1, 0), (1, 1)]);
    // A repeat within the epoch is still a duplicate.
    let again = conn.send(&produce(1, 1, b"d"), V).await.unwrap();
    assert_eq!(
        again.body.responses[0].partition_responses[0].base_offset,
        3
    );
    assert_eq!(fake.log("t", 0).len(), 4);
}

#[tokio::test]
async fn an_unanswered_request_holds_back_later_answers_on_its_connection() {
    let fake = FakeCluster::builder()
        .topic("t", 1)
        .rule(
            Rule::on(ApiKey::Produce)
                .once()
                .then(Action::ApplyThenSilence),
        )
        .start()
        .await;
    let config = NetConfig::default().with_request_timeout(Duration::from_millis(300));
    let conn = BrokerConnection::connect(&fake.address(fake.node_ids()[0]), &config)
        .await
        .unwrap();
    let first = conn.queue(&produce(0, 0, b"a"), V).await.unwrap();
    let second = conn.queue(&produce(0, 1, b"b"), V).await.unwrap();
    assert!(first.response().await.is_err());
    assert!(
        second.response().await.is_err(),
        "answered after an unanswered request"
    );
    // The first was applied; the second was never read.
    assert_eq!(fake.log("t", 0).len(), 1);
}

#[tokio::test]
async fn a_stopped_broker_acts_on_nothing_more_from_its_open_connections() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let node = fake.node_ids()[0];
    let conn = BrokerConnection::connect(&fake.address(node), &NetConfig::default())
        .await
        .unwrap();
    conn.send(&produce(0, 0, b"a"), V).await.unwrap();
    // Stopping aborts the connection's task asynchronously; a request that reaches it meanwhile
    // is not applied (it used to be, and answered: a "stopped" broker that still wrote).
    fake.stop_broker(node);
    let after = conn.send(&produce(0, 1, b"b"), V).await;
    assert!(after.is_err(), "{after:?}");
    assert_eq!(fake.log("t", 0).len(), 1);
}
