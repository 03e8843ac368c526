//! The producer against older brokers: Kafka 3.9 in ZooKeeper mode (`zk`, Produce v11) and
//! Kafka 2.5 (`legacy`, Produce v8, InitProducerId v3): idempotent delivery with every codec,
//! read back as sent.

mod common;

use common::{create_topic, read_partition, unique};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_protocol::records::Compression;
use kafkaex_protocol::ApiKey;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

async fn produce_and_read_back(profile: BrokerProfile, test: &str, produce_version: i16) {
    let Some(brokers) = test_brokers(profile, test).await else {
        return;
    };
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .build()
        .await
        .unwrap();
    let versions = client.api_versions().await.unwrap();
    let produce_max = versions
        .values()
        .filter_map(|r| r.get(ApiKey::Produce))
        .map(|r| r.max)
        .min();
    assert_eq!(produce_max, Some(produce_version), "{profile}");
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let topic = unique(&format!("client-old-{compression:?}").to_lowercase());
        create_topic(&client, &topic, 1, 1, &[]).await;
        let producer = client
            .producer()
            .compression(compression)
            .build()
            .await
            .unwrap();
        let mut futures = Vec::new();
        for i in 0..300 {
            let r = ProducerRecord::new(topic.clone())
                .key(format!("k{i}"))
                .value(format!("value-{i}"))
                .header("h", format!("{i}"))
                .timestamp(1_650_000_000_000 + i);
            futures.push(producer.send(r).await.unwrap());
        }
        for (i, f) in futures.into_iter().enumerate() {
            let m = f
                .await
                .unwrap_or_else(|e| panic!("{profile} {compression:?}: {e}"));
            assert_eq!(m.offset, i as i64);
        }
        producer.close().await;
        let read = read_partition(&client, &topic, 0, 300).await;
        for (i, r) in read.iter().enumerate() {
            assert_eq!(r.value.as_deref(), Some(format!("value-{i}").as_bytes()));
            assert_eq!(r.timestamp, 1_650_000_000_000 + i as i64);
            assert_eq!(r.headers.len(), 1);
            assert!(r.producer_id >= 0, "{profile}: idempotent batches");
        }
    }
}

#[tokio::test]
async fn the_producer_works_on_kafka_3_9_with_zookeeper() {
    produce_and_read_back(
        BrokerProfile::Zk,
        "the_producer_works_on_kafka_3_9_with_zookeeper",
        11,
    )
    .await;
}

#[tokio::test]
async fn the_producer_works_on_kafka_2_5() {
    produce_and_read_back(BrokerProfile::Legacy, "the_producer_works_on_kafka_2_5", 8).await;
}
