//! Our producer against the Java client, on the KRaft broker:
//!
//! - keyed records land where the Java producer puts them, for topics of 1, 3, 7 and 12
//!   partitions (Java's murmur2 partitioner, key for key);
//! - the Java consumer reads what we wrote byte for byte (keys, values, headers, timestamps),
//!   with every codec (and the lz4 and zstd levels).
//!
//! The Java programs are in `interop/java` (`cargo xtask interop build`); these tests skip
//! loudly without `KAFKAEX_INTEROP`, as CI sets it.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use common::{create_topic, java, unique};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_protocol::records::Compression;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

async fn setup(test: &str) -> Option<(Client, String)> {
    let brokers = test_brokers(BrokerProfile::Kraft, test).await?;
    if std::env::var_os("KAFKAEX_INTEROP").is_none() {
        // Say so the same way the Java runner does, before creating anything.
        java(test, "Partitions", &[]);
        return None;
    }
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .build()
        .await
        .expect("client");
    Some((client, brokers.bootstrap.join(",")))
}

/// Keys of many shapes: short, long, empty, non-ASCII.
fn keys() -> Vec<String> {
    let mut keys: Vec<String> = (0..150).map(|i| format!("key-{i}")).collect();
    keys.extend((0..20).map(|i| format!("order/{}/{}", i * 7919, "x".repeat(i * 5))));
    keys.push(String::new());
    keys.extend(["ключ", "鍵", "clé-ü", "a b c"].map(str::to_owned));
    keys
}

#[tokio::test]
async fn keyed_records_land_where_the_java_producer_puts_them() {
    let test = "keyed_records_land_where_the_java_producer_puts_them";
    let Some((client, bootstrap)) = setup(test).await else {
        return;
    };
    let keys = keys();
    let producer = client.producer().build().await.unwrap();
    for partitions in [1, 3, 7, 12] {
        let java_topic = unique(&format!("client-keys-java-{partitions}"));
        let our_topic = unique(&format!("client-keys-ours-{partitions}"));
        create_topic(&client, &java_topic, partitions, 1, &[]).await;
        create_topic(&client, &our_topic, partitions, 1, &[]).await;
        let mut args = vec![bootstrap.clone(), java_topic.clone()];
        args.extend(keys.iter().cloned());
        let out = java(test, "Partitions", &args).expect("KAFKAEX_INTEROP is set");
        let java_partitions: Vec<i32> = out
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(java_partitions.len(), keys.len());
        let mut futures = Vec::new();
        for key in &keys {
            let r = ProducerRecord::new(our_topic.clone())
                .key(key.clone())
                .value(key.clone());
            futures.push(producer.send(r).await.unwrap());
        }
        let mut used = BTreeMap::new();
        for ((key, future), java_partition) in keys.iter().zip(futures).zip(&java_partitions) {
            let ours = future.await.unwrap().partition;
            assert_eq!(
                ours, *java_partition,
                "key {key:?} with {partitions} partitions: Java put it in {java_partition}, we in {ours}"
            );
            *used.entry(ours).or_insert(0) += 1;
        }
        // The keys spread over every partition (so the comparison covered them all).
        assert_eq!(used.len(), partitions as usize, "{used:?}");
    }
    producer.close().await;
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn hex_or_null(b: Option<&Bytes>) -> String {
    b.map_or_else(|| "null".to_owned(), |b| hex(b))
}

#[tokio::test]
async fn the_java_consumer_reads_what_we_wrote_with_every_codec() {
    let test = "the_java_consumer_reads_what_we_wrote_with_every_codec";
    let Some((client, bootstrap)) = setup(test).await else {
        return;
    };
    for (compression, level) in [
        (Compression::None, None),
        (Compression::Gzip, None),
        (Compression::Snappy, None),
        (Compression::Lz4, None),
        (Compression::Lz4, Some(9)),
        (Compression::Zstd, None),
        (Compression::Zstd, Some(10)),
    ] {
        let topic = unique(&format!("client-java-reads-{compression:?}").to_lowercase());
        create_topic(&client, &topic, 3, 1, &[]).await;
        let mut builder = client
            .producer()
            .compression(compression)
            .linger(Duration::from_millis(10));
        if let Some(level) = level {
            builder = builder.compression_level(level);
        }
        let producer = builder.build().await.unwrap();
        const N: usize = 300;
        let mut sent = Vec::new();
        for i in 0..N {
            let mut r = ProducerRecord::new(topic.clone())
                .value(Bytes::from((0..=(i % 256) as u8).collect::<Vec<u8>>()))
                .timestamp(1_600_000_000_000 + (i as i64) * 3);
            if i % 5 != 0 {
                r = r.key(format!("k{i}"));
            } else {
                r = r.partition((i % 3) as i32);
            }
            if i % 2 == 0 {
                r = r
                    .header("trace", format!("t-{i}"))
                    .header_without_value("flag")
                    .header("trace", Bytes::from_static(b"\x00\xff"));
            }
            if i % 7 == 0 {
                r = ProducerRecord::new(topic.clone())
                    .key(format!("tomb{i}"))
                    .timestamp(1_600_000_000_000);
            }
            let future = producer.send(r.clone()).await.unwrap();
            sent.push((r, future));
        }
        let mut expected = Vec::new();
        for (r, future) in sent {
            let m = future.await.unwrap();
            let mut line = format!(
                "{} {} CreateTime {} {} {}",
                m.partition,
                m.offset,
                m.timestamp,
                hex_or_null(r.key_bytes()),
                hex_or_null(r.value_bytes())
            );
            for h in r.headers() {
                let _ = write!(
                    line,
                    " {}={}",
                    h.key.as_str(),
                    hex_or_null(h.value.as_ref())
                );
            }
            expected.push((m.partition, m.offset, line));
        }
        producer.close().await;
        expected.sort();
        let expected: Vec<String> = expected.into_iter().map(|(_, _, l)| l).collect();
        let out = java(
            test,
            "Consume",
            &[bootstrap.clone(), topic.clone(), N.to_string()],
        )
        .expect("KAFKAEX_INTEROP is set");
        let read: Vec<&str> = out.lines().collect();
        assert_eq!(read.len(), N, "{compression:?}");
        for (got, want) in read.iter().zip(&expected) {
            assert_eq!(got, want, "{compression:?}");
        }
    }
}
