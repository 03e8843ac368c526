//! The producer's API contract, on the fake broker: flush and close wait for what was sent, a
//! dropped delivery future still delivers, a dropped `send` appends nothing, records too large
//! or aimed at partitions that do not exist fail at once with typed errors, a batch the broker
//! finds too large is split, a user partitioner is used, and the client's escape hatch and
//! version table work.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafkaex_client::producer::{PartitionInfo, Partitioner, ProducerRecord};
use kafkaex_client::{Client, Error, ProducerConfig};
use kafkaex_net::Route;
use kafkaex_protocol::messages::{MetadataRequest, RequestKind};
use kafkaex_protocol::records::{DecodeOptions, RecordBatch};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::fake::{Action, FakeCluster, Rule};

async fn setup(partitions: i32, rules: Vec<Rule>) -> (FakeCluster, Client) {
    let mut b = FakeCluster::builder().topic("t", partitions);
    for r in rules {
        b = b.rule(r);
    }
    let fake = b.start().await;
    let client = Client::builder()
        .bootstrap(fake.bootstrap())
        .build()
        .await
        .unwrap();
    (fake, client)
}

fn values(fake: &FakeCluster, partition: i32) -> Vec<Bytes> {
    fake.log("t", partition)
        .into_iter()
        .flat_map(|b| {
            RecordBatch::decode(&mut b.bytes.clone(), &DecodeOptions::default())
                .unwrap()
                .records
        })
        .map(|r| r.value.unwrap_or_default())
        .collect()
}

fn long_linger() -> ProducerConfig {
    let mut c = ProducerConfig::default();
    // Nothing leaves before its linger unless flushed or closed.
    c.linger = Duration::from_secs(3600);
    c
}

#[tokio::test]
async fn flush_sends_lingering_batches_and_waits_for_them() {
    let (fake, client) = setup(1, vec![]).await;
    let producer = client
        .producer()
        .config(long_linger())
        .build()
        .await
        .unwrap();
    let mut futures = Vec::new();
    for i in 0..10 {
        futures.push(
            producer
                .send(ProducerRecord::new("t").value(format!("{i}")))
                .await
                .unwrap(),
        );
    }
    assert!(futures[0].try_result().is_none(), "lingering");
    producer.flush().await;
    // Every record sent before the flush is resolved when it returns.
    for f in &futures {
        assert!(f.try_result().expect("resolved by flush").is_ok());
    }
    assert_eq!(values(&fake, 0).len(), 10);
    producer.close().await;
}

#[tokio::test]
async fn dropped_delivery_futures_still_deliver_and_close_waits() {
    let (fake, client) = setup(1, vec![]).await;
    let producer = client
        .producer()
        .config(long_linger())
        .build()
        .await
        .unwrap();
    for i in 0..25 {
        // The future is dropped at once.
        drop(
            producer
                .send(ProducerRecord::new("t").value(format!("{i}")))
                .await
                .unwrap(),
        );
    }
    producer.close().await;
    assert_eq!(values(&fake, 0).len(), 25, "close delivered them");
    let after = producer.send(ProducerRecord::new("t").value("late")).await;
    assert!(matches!(after, Err(Error::Closed)), "{after:?}");
    assert!(matches!(
        producer.try_send(ProducerRecord::new("t")),
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn a_send_dropped_while_waiting_for_room_appends_nothing() {
    let (fake, client) = setup(1, vec![]).await;
    let mut config = long_linger();
    config.buffer_memory = 4096;
    config.batch_size = 1024;
    let producer = client.producer().config(config).build().await.unwrap();
    // Stop the broker so nothing frees the buffer, then fill it.
    fake.stop_broker(fake.node_ids()[0]);
    let big = Bytes::from(vec![b'x'; 900]);
    let mut kept = Vec::new();
    while let Ok(f) = producer.try_send(ProducerRecord::new("t").value(big.clone())) {
        kept.push(f);
    }
    let used = producer.metrics().buffer_used;
    // A send that has to wait, dropped before it resolves.
    let waited = tokio::time::timeout(
        Duration::from_millis(50),
        producer.send(ProducerRecord::new("t").value("never")),
    )
    .await;
    assert!(waited.is_err(), "the send should have waited for room");
    assert_eq!(
        producer.metrics().buffer_used,
        used,
        "the dropped send holds nothing"
    );
    fake.start_broker(fake.node_ids()[0]).await;
    producer.flush().await;
    let log = values(&fake, 0);
    assert_eq!(
        log.len(),
        kept.len(),
        "only the records sent are in the log"
    );
    assert!(log.iter().all(|v| v == &big));
    producer.close().await;
}

#[tokio::test]
async fn bad_records_fail_at_once_with_typed_errors() {
    let (_fake, client) = setup(2, vec![]).await;
    let mut config = ProducerConfig::default();
    config.max_request_size = 10_000;
    let producer = client.producer().config(config).build().await.unwrap();
    let huge = ProducerRecord::new("t").value(vec![0u8; 20_000]);
    match producer.send(huge).await {
        Err(Error::RecordTooLarge { size, limit, .. }) => {
            assert!(size > 20_000);
            assert_eq!(limit, "max.request.size");
        }
        other => panic!("{other:?}"),
    }
    let wrong = ProducerRecord::new("t").partition(7).value("v");
    assert!(matches!(
        producer.send(wrong).await,
        Err(Error::InvalidArgument(_))
    ));
    // The buffer holds nothing for them.
    assert_eq!(producer.metrics().buffer_used, 0);
    // Settings that cannot work are refused when the producer is built.
    let mut bad = ProducerConfig::default();
    bad.max_in_flight = 6;
    assert!(matches!(
        client.producer().config(bad).build().await,
        Err(Error::Config { .. })
    ));
    let bad = client
        .producer()
        .compression(kafkaex_protocol::records::Compression::Gzip)
        .compression_level(12);
    assert!(matches!(bad.build().await, Err(Error::Config { .. })));
    producer.close().await;
}

#[tokio::test]
async fn a_batch_the_broker_finds_too_large_is_split_and_every_record_keeps_its_offset() {
    // The first request with data is refused as too large; its parts go through.
    let (fake, client) = setup(
        1,
        vec![Rule::on(ApiKey::Produce)
            .when(|seen| matches!(&seen.body, RequestKind::Produce(r) if !r.topic_data.is_empty()))
            .once()
            .then(Action::Error(ErrorCode::MessageTooLarge))],
    )
    .await;
    let producer = client
        .producer()
        .config(long_linger())
        .build()
        .await
        .unwrap();
    let mut futures = Vec::new();
    for i in 0..100 {
        futures.push(
            producer
                .send(ProducerRecord::new("t").value(format!("v{i}")))
                .await
                .unwrap(),
        );
    }
    producer.flush().await;
    for (i, f) in futures.into_iter().enumerate() {
        let m = f.await.unwrap();
        assert_eq!(m.offset, i as i64);
    }
    let log = values(&fake, 0);
    let expected: Vec<Bytes> = (0..100).map(|i| Bytes::from(format!("v{i}"))).collect();
    assert_eq!(log, expected);
    assert!(
        fake.log("t", 0).len() >= 2,
        "split into at least two batches"
    );
    producer.close().await;
}

/// Everything to the last partition; counts its calls.
#[derive(Debug, Default)]
struct Last(AtomicUsize);

impl Partitioner for Last {
    fn partition(&self, _: &str, _: Option<&[u8]>, _: usize, info: PartitionInfo<'_>) -> i32 {
        self.0.fetch_add(1, Ordering::Relaxed);
        info.count - 1
    }
}

#[tokio::test]
async fn a_user_partitioner_places_records_without_a_partition() {
    let (fake, client) = setup(4, vec![]).await;
    let partitioner = Arc::new(Last::default());
    #[derive(Debug)]
    struct Shared(Arc<Last>);
    impl Partitioner for Shared {
        fn partition(&self, t: &str, k: Option<&[u8]>, s: usize, i: PartitionInfo<'_>) -> i32 {
            self.0.partition(t, k, s, i)
        }
    }
    let producer = client
        .producer()
        .partitioner(Shared(Arc::clone(&partitioner)))
        .build()
        .await
        .unwrap();
    for i in 0..20 {
        let m = producer
            .send(ProducerRecord::new("t").key(format!("k{i}")).value("v"))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(m.partition, 3);
    }
    // An explicit partition bypasses it.
    let m = producer
        .send(ProducerRecord::new("t").partition(1).value("v"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.partition, 1);
    assert_eq!(partitioner.0.load(Ordering::Relaxed), 20);
    assert_eq!(values(&fake, 3).len(), 20);
    producer.close().await;
}

#[tokio::test]
async fn the_escape_hatch_and_the_version_table() {
    let (fake, client) = setup(1, vec![]).await;
    let versions = client.api_versions().await.unwrap();
    assert_eq!(versions.len(), fake.node_ids().len());
    for ranges in versions.values() {
        assert!(ranges.get(ApiKey::Produce).is_some());
    }
    let node = fake.node_ids()[0];
    let response = client
        .send(
            Route::Node(node),
            &MetadataRequest::default().with_topics(None),
            kafkaex_net::VersionChoice::Newest,
        )
        .await
        .unwrap();
    assert!(response
        .body
        .topics
        .iter()
        .any(|t| t.name.as_deref() == Some("t")));
    // A clone shares the connections and the metadata.
    let clone = client.clone();
    assert!(clone.metadata().topic("t").is_some() || clone.refresh_metadata(&["t"]).await.is_ok());
}
