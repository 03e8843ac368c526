//! The consumer and legacy message sets, against real brokers:
//!
//! - Kafka 3.9 (`zk`) with Fetch pinned at v0 and v2: the broker down-converts its magic 2 log
//!   to magic 0 and magic 1 message sets (Fetch v0-v1 carry magic 0, v2-v3 magic 1);
//! - Kafka 2.5 (`legacy`) with topics whose `message.format.version` is 0.9.0 or 0.10.2: the log
//!   itself holds magic 0 or 1 messages, compressed wrappers included, and a new Fetch returns
//!   them as stored.
//!
//! Every record comes back with its key and value; magic 1 and 2 keep the timestamps, magic 0
//! has none (-1).

mod common;

use common::{create_topic, unique, WAIT};
use kafkaex_client::consumer::{StartOffset, TopicPartition};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Acks, Client, ConsumerRecord, ProducerConfig};
use kafkaex_protocol::records::Compression;
use kafkaex_protocol::ApiKey;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

const N: usize = 60;
const BASE_TS: i64 = 1_700_000_000_000;

async fn connect(bootstrap: &[String], fetch_max: Option<i16>) -> Client {
    let mut b = Client::builder().bootstrap(bootstrap);
    if let Some(v) = fetch_max {
        b = b.max_version(ApiKey::Fetch, v);
    }
    b.build().await.expect("client")
}

/// Writes `N` records (every fifth with a null key) with `compression`, without idempotence
/// (old message formats have no producer ids).
async fn produce(client: &Client, topic: &str, compression: Compression) {
    let mut config = ProducerConfig::default();
    config.idempotence = false;
    config.acks = Acks::Leader;
    config.compression = compression;
    let producer = client.producer().config(config).build().await.unwrap();
    let mut acks = Vec::new();
    for i in 0..N {
        let mut r = ProducerRecord::new(topic.to_owned())
            .partition(0)
            .value(format!("value-{i}"))
            .timestamp(BASE_TS + i as i64);
        if i % 5 != 0 {
            r = r.key(format!("key-{i}"));
        }
        acks.push(producer.send(r).await.unwrap());
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;
}

async fn consume_all(client: &Client, topic: &str, from: i64) -> Vec<ConsumerRecord> {
    let mut consumer = client.consumer().build().unwrap();
    consumer
        .assign([(TopicPartition::new(topic, 0), StartOffset::Offset(from))])
        .unwrap();
    let mut out = Vec::new();
    while out.len() < N - from as usize {
        let r = tokio::time::timeout(WAIT, consumer.recv())
            .await
            .expect("records in time")
            .expect("open")
            .expect("no error");
        out.push(r);
    }
    out
}

fn check(records: &[ConsumerRecord], from: i64, timestamps: bool, what: &str) {
    for (r, i) in records.iter().zip(from as usize..) {
        assert_eq!(r.offset, i as i64, "{what}");
        assert_eq!(
            r.value.as_deref(),
            Some(format!("value-{i}").as_bytes()),
            "{what}"
        );
        let key = (i % 5 != 0).then(|| format!("key-{i}"));
        assert_eq!(
            r.key.as_deref(),
            key.as_deref().map(str::as_bytes),
            "{what}"
        );
        let ts = if timestamps { BASE_TS + i as i64 } else { -1 };
        assert_eq!(r.timestamp, ts, "{what}: timestamp");
    }
}

#[tokio::test]
async fn down_converted_message_sets_from_kafka_3_9() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Zk,
        "down_converted_message_sets_from_kafka_3_9",
    )
    .await
    else {
        return;
    };
    let client = connect(&brokers.bootstrap, None).await;
    for compression in [Compression::None, Compression::Gzip, Compression::Lz4] {
        let topic = unique("consumer-downconvert");
        create_topic(&client, &topic, 1, 1, &[]).await;
        produce(&client, &topic, compression).await;
        // Fetch v0: magic 0 (no timestamps); v2: magic 1; the newest: magic 2.
        for (fetch, timestamps) in [(Some(0), false), (Some(2), true), (None, true)] {
            let reader = connect(&brokers.bootstrap, fetch).await;
            for from in [0, 7] {
                let records = consume_all(&reader, &topic, from).await;
                let what = format!("{compression:?} Fetch {fetch:?} from {from}");
                check(&records, from, timestamps, &what);
                // Only record batches (magic 2) carry a leader epoch.
                let batches = fetch.is_none();
                assert!(
                    records.iter().all(|r| r.leader_epoch.is_some() == batches),
                    "{what}"
                );
            }
        }
    }
}

#[tokio::test]
async fn stored_magic_0_and_1_logs_from_kafka_2_5() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Legacy,
        "stored_magic_0_and_1_logs_from_kafka_2_5",
    )
    .await
    else {
        return;
    };
    let client = connect(&brokers.bootstrap, None).await;
    for (format, timestamps) in [("0.9.0", false), ("0.10.2", true)] {
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            let topic = unique("consumer-oldformat");
            create_topic(&client, &topic, 1, 1, &[("message.format.version", format)]).await;
            produce(&client, &topic, compression).await;
            for from in [0, 13] {
                let records = consume_all(&client, &topic, from).await;
                check(
                    &records,
                    from,
                    timestamps,
                    &format!("format {format}, {compression:?}, from {from}"),
                );
                assert!(
                    records.iter().all(|r| r.leader_epoch.is_none()),
                    "legacy messages have no epoch"
                );
            }
        }
    }
}
