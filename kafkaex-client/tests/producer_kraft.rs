//! The producer against the KRaft broker: every codec (and levels), keys, null keys, headers and
//! timestamps read back as sent; a LogAppendTime topic reports the broker's time; acks 0, 1
//! and all.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{create_topic, read_partition, unique};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Acks, Client};
use kafkaex_protocol::records::{Compression, TimestampType};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

async fn client(test: &str) -> Option<Client> {
    let brokers = test_brokers(BrokerProfile::Kraft, test).await?;
    Some(
        Client::builder()
            .bootstrap(&brokers.bootstrap)
            .client_id("kafkaex-client-tests")
            .build()
            .await
            .expect("client"),
    )
}

/// The record `i` of a test: every fourth with a null key, every third with two headers
/// (one without a value), explicit timestamps on even ones.
fn record(topic: &str, i: usize) -> ProducerRecord {
    let mut r = ProducerRecord::new(topic.to_owned())
        .partition(0)
        .value(format!("value-{i}-{}", "x".repeat(i % 50)));
    if i % 4 != 0 {
        r = r.key(format!("key-{i}"));
    }
    if i % 3 == 0 {
        r = r
            .header("h1", format!("one-{i}"))
            .header_without_value("h2");
    }
    if i % 2 == 0 {
        r = r.timestamp(1_700_000_000_000 + i as i64);
    }
    r
}

#[tokio::test]
async fn every_codec_reads_back_as_sent() {
    let Some(client) = client("every_codec_reads_back_as_sent").await else {
        return;
    };
    for (compression, level) in [
        (Compression::None, None),
        (Compression::Gzip, None),
        (Compression::Gzip, Some(1)),
        (Compression::Snappy, None),
        (Compression::Lz4, None),
        (Compression::Lz4, Some(9)),
        (Compression::Zstd, None),
        (Compression::Zstd, Some(19)),
    ] {
        let topic = unique(&format!("client-codec-{compression:?}").to_lowercase());
        create_topic(&client, &topic, 1, 1, &[]).await;
        let mut builder = client
            .producer()
            .compression(compression)
            .linger(Duration::from_millis(20));
        if let Some(level) = level {
            builder = builder.compression_level(level);
        }
        let producer = builder.build().await.unwrap();
        const N: usize = 500;
        let mut futures = Vec::new();
        let mut sent = Vec::new();
        for i in 0..N {
            let r = record(&topic, i);
            sent.push(r.clone());
            futures.push(producer.send(r).await.unwrap());
        }
        let mut acked = Vec::new();
        for f in futures {
            acked.push(f.await.unwrap());
        }
        producer.close().await;
        // Offsets are 0..N in send order, each reported with its record's timestamp.
        for (i, m) in acked.iter().enumerate() {
            assert_eq!(m.partition, 0);
            assert_eq!(m.offset, i as i64, "{compression:?}");
            assert!(!m.log_append_time);
            if i % 2 == 0 {
                assert_eq!(m.timestamp, 1_700_000_000_000 + i as i64);
            }
        }
        let read = read_partition(&client, &topic, 0, N).await;
        assert_eq!(read.len(), N);
        for (i, (r, s)) in read.iter().zip(&sent).enumerate() {
            assert_eq!(r.offset, i as i64);
            assert_eq!(r.key.as_ref(), s.key_bytes(), "{compression:?} key {i}");
            assert_eq!(
                r.value.as_ref(),
                s.value_bytes(),
                "{compression:?} value {i}"
            );
            let headers: Vec<(String, Option<Bytes>)> = s
                .headers()
                .iter()
                .map(|h| (h.key.as_str().to_owned(), h.value.clone()))
                .collect();
            assert_eq!(r.headers, headers, "{compression:?} headers {i}");
            assert_eq!(
                r.timestamp, acked[i].timestamp,
                "{compression:?} timestamp {i}"
            );
            assert_eq!(r.timestamp_type, TimestampType::CreateTime);
            // Idempotent by default: every batch carries a producer id and a sequence.
            assert!(r.producer_id >= 0, "{compression:?}: no producer id");
            assert!(r.base_sequence >= 0);
        }
    }
}

#[tokio::test]
async fn a_log_append_time_topic_reports_the_brokers_time() {
    let Some(client) = client("a_log_append_time_topic_reports_the_brokers_time").await else {
        return;
    };
    let topic = unique("client-log-append-time");
    create_topic(
        &client,
        &topic,
        1,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let producer = client.producer().build().await.unwrap();
    let before = now_ms();
    let written = producer
        .send(ProducerRecord::new(topic.clone()).value("v").timestamp(42))
        .await
        .unwrap()
        .await
        .unwrap();
    let after = now_ms();
    assert!(written.log_append_time, "{written:?}");
    assert!(
        (before - 5_000..=after + 5_000).contains(&written.timestamp),
        "the broker's time, not the record's 42: {written:?}"
    );
    let read = read_partition(&client, &topic, 0, 1).await;
    assert_eq!(read[0].timestamp_type, TimestampType::LogAppendTime);
    assert_eq!(read[0].timestamp, written.timestamp);
    producer.close().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn acks_zero_one_and_all_deliver() {
    let Some(client) = client("acks_zero_one_and_all_deliver").await else {
        return;
    };
    for acks in [Acks::None, Acks::Leader, Acks::All] {
        let topic = unique(&format!("client-acks-{}", acks.as_i16()).replace('-', "m"));
        create_topic(&client, &topic, 3, 1, &[]).await;
        let producer = client
            .producer()
            .acks(acks)
            .idempotence(acks == Acks::All)
            .build()
            .await
            .unwrap();
        let mut futures = Vec::new();
        for i in 0..300 {
            let r = ProducerRecord::new(topic.clone())
                .key(format!("k{i}"))
                .value(format!("v{i}"));
            futures.push(producer.send(r).await.unwrap());
        }
        let mut per_partition = [0usize; 3];
        for f in futures {
            let m = f.await.unwrap_or_else(|e| panic!("acks {acks:?}: {e}"));
            per_partition[m.partition as usize] += 1;
            if acks == Acks::None {
                assert_eq!(m.offset, -1, "acks=0 learns no offset");
            } else {
                assert!(m.offset >= 0);
            }
        }
        producer.close().await;
        for (p, n) in per_partition.iter().enumerate() {
            let read = read_partition(&client, &topic, p as i32, *n).await;
            assert_eq!(read.len(), *n, "acks {acks:?} partition {p}");
        }
    }
}
