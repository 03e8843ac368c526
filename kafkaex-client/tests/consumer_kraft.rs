//! The consumer against the KRaft broker: every start position kind, seek, pause and resume,
//! offsets out of range under each reset policy, every codec, and a 1,000,000-record topic read
//! completely with a count and checksum equal to what was produced.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::{create_topic, unique, WAIT};
use kafkaex_client::consumer::{OffsetReset, StartOffset, TopicPartition};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Client, Consumer, ConsumerRecord, Error, OffsetSpec, ProducerConfig};
use kafkaex_protocol::records::Compression;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

async fn client(test: &str) -> Option<Client> {
    let brokers = test_brokers(BrokerProfile::Kraft, test).await?;
    Some(
        Client::builder()
            .bootstrap(&brokers.bootstrap)
            .client_id("kafkaex-consumer-tests")
            .build()
            .await
            .expect("client"),
    )
}

/// Produces `n` records to `partition` (value `v-{i}`, key `k-{i}`, timestamp `base + i`).
async fn produce(client: &Client, topic: &str, partition: i32, n: usize, base_ts: i64) {
    produce_with(client, topic, partition, n, base_ts, Compression::None).await;
}

async fn produce_with(
    client: &Client,
    topic: &str,
    partition: i32,
    n: usize,
    base_ts: i64,
    compression: Compression,
) {
    let mut config = ProducerConfig::default();
    config.compression = compression;
    let producer = client.producer().config(config).build().await.unwrap();
    let mut acks = Vec::new();
    for i in 0..n {
        let record = ProducerRecord::new(topic.to_owned())
            .partition(partition)
            .key(format!("k-{i}"))
            .value(format!("v-{i}"))
            .timestamp(base_ts + i as i64)
            .header("i", i.to_string());
        acks.push(producer.send(record).await.unwrap());
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;
}

/// Reads records until `n` arrived (failing after [`WAIT`]).
async fn take(consumer: &mut Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::new();
    let give_up = tokio::time::Instant::now() + WAIT;
    while out.len() < n {
        let next = tokio::time::timeout_at(give_up, consumer.recv()).await;
        match next {
            Ok(Some(Ok(r))) => out.push(r),
            Ok(Some(Err(e))) => panic!("consumer error after {} records: {e}", out.len()),
            Ok(None) => panic!("consumer closed"),
            Err(_) => panic!("{} of {n} records in {WAIT:?}", out.len()),
        }
    }
    out
}

fn value(r: &ConsumerRecord) -> String {
    String::from_utf8(r.value.clone().unwrap_or_default().to_vec()).unwrap()
}

/// The next item, or panics after [`WAIT`].
async fn next_item(consumer: &mut Consumer) -> Result<kafkaex_client::PartitionRecords, Error> {
    tokio::time::timeout(WAIT, consumer.next_batch())
        .await
        .expect("an item in time")
        .expect("not closed")
}

#[tokio::test]
async fn every_start_position_kind() {
    let Some(client) = client("every_start_position_kind").await else {
        return;
    };
    let topic = unique("consumer-starts");
    create_topic(&client, &topic, 1, 1, &[]).await;
    produce(&client, &topic, 0, 100, 1_700_000_000_000).await;
    let tp = TopicPartition::new(topic.clone(), 0);

    for (start, first) in [
        (StartOffset::Earliest, 0),
        (StartOffset::Offset(37), 37),
        (StartOffset::Timestamp(1_700_000_000_050), 50),
    ] {
        let mut consumer = client.consumer().build().unwrap();
        consumer.assign([(tp.clone(), start)]).unwrap();
        let records = take(&mut consumer, 100 - first).await;
        assert_eq!(records[0].offset, first as i64, "{start:?}");
        assert_eq!(value(&records[0]), format!("v-{first}"));
        assert_eq!(
            records[0].key.as_deref(),
            Some(format!("k-{first}").as_bytes())
        );
        assert_eq!(records[0].timestamp, 1_700_000_000_000 + first as i64);
        assert_eq!(
            records[0].header("i").map(|b| b.to_vec()),
            Some(first.to_string().into_bytes())
        );
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets,
            (first as i64..100).collect::<Vec<_>>(),
            "{start:?}: in order"
        );
        assert_eq!(consumer.position(&tp), Some(100));
    }

    // Latest: only what is written afterwards; a timestamp after the last record: the end.
    for start in [
        StartOffset::Latest,
        StartOffset::Timestamp(1_800_000_000_000),
    ] {
        let mut consumer = client.consumer().build().unwrap();
        consumer.assign([(tp.clone(), start)]).unwrap();
        let give_up = tokio::time::Instant::now() + WAIT;
        while consumer.position(&tp).is_none() {
            assert!(tokio::time::Instant::now() < give_up, "no position");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let at = consumer.position(&tp).unwrap();
        assert!(at >= 100, "{start:?}: {at}");
        // (Brokers refuse timestamps more than an hour ahead: now.)
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        produce(&client, &topic, 0, 1, now).await;
        let records = take(&mut consumer, 1).await;
        assert_eq!(records[0].offset, at, "{start:?}");
        assert_eq!(records[0].timestamp, now);
    }
}

#[tokio::test]
async fn seek_pause_and_resume() {
    let Some(client) = client("seek_pause_and_resume").await else {
        return;
    };
    let topic = unique("consumer-seek");
    create_topic(&client, &topic, 2, 1, &[]).await;
    produce(&client, &topic, 0, 50, 0).await;
    produce(&client, &topic, 1, 50, 0).await;
    let p0 = TopicPartition::new(topic.clone(), 0);
    let p1 = TopicPartition::new(topic.clone(), 1);
    let mut consumer = client.consumer().build().unwrap();
    consumer
        .assign([
            (p0.clone(), StartOffset::Earliest),
            (p1.clone(), StartOffset::Earliest),
        ])
        .unwrap();
    let first = take(&mut consumer, 100).await;
    let mut by_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for r in &first {
        by_partition.entry(r.partition).or_default().push(r.offset);
    }
    assert_eq!(by_partition[&0], (0..50).collect::<Vec<_>>());
    assert_eq!(by_partition[&1], (0..50).collect::<Vec<_>>());

    // Seek back: the records come again from there.
    consumer.seek(&p0, StartOffset::Offset(10)).unwrap();
    let again = take(&mut consumer, 40).await;
    assert!(again.iter().all(|r| r.partition == 0));
    assert_eq!(again[0].offset, 10);
    assert_eq!(again.last().unwrap().offset, 49);

    // Paused: nothing of it comes, the other partition goes on; resumed: it comes.
    consumer.pause([&p1]);
    assert_eq!(consumer.paused(), vec![p1.clone()]);
    produce(&client, &topic, 1, 5, 0).await;
    produce(&client, &topic, 0, 5, 0).await;
    let while_paused = take(&mut consumer, 5).await;
    assert!(
        while_paused.iter().all(|r| r.partition == 0),
        "{while_paused:?}"
    );
    // Nothing of the paused partition is waiting either.
    let nothing = tokio::time::timeout(Duration::from_millis(700), consumer.recv()).await;
    assert!(nothing.is_err(), "a paused partition returned {nothing:?}");
    consumer.resume([&p1]);
    let resumed = take(&mut consumer, 5).await;
    assert!(resumed.iter().all(|r| r.partition == 1));
    assert_eq!(resumed[0].offset, 50);

    // Seeking an unassigned partition is an argument error; unassign stops a partition.
    let other = TopicPartition::new(topic.clone(), 9);
    assert!(matches!(
        consumer.seek(&other, StartOffset::Earliest),
        Err(Error::InvalidArgument(_))
    ));
    consumer.unassign([&p0]);
    assert_eq!(consumer.assignment(), vec![p1.clone()]);
    assert!(consumer
        .assign([(p0.clone(), StartOffset::Offset(-1))])
        .is_err());
}

#[tokio::test]
async fn offsets_out_of_range_follow_the_reset_policy() {
    let Some(client) = client("offsets_out_of_range_follow_the_reset_policy").await else {
        return;
    };
    let topic = unique("consumer-range");
    create_topic(&client, &topic, 1, 1, &[]).await;
    produce(&client, &topic, 0, 30, 0).await;
    let tp = TopicPartition::new(topic.clone(), 0);
    // Move the log start to 10.
    let deleted = client
        .admin()
        .delete_records([(tp.clone(), 10)])
        .await
        .expect("delete records");
    let low = deleted
        .get(&tp)
        .expect("a result for the partition")
        .as_ref()
        .expect("records deleted");
    assert_eq!(*low, 10);

    // Earliest: from the log start.
    let mut consumer = client
        .consumer()
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer
        .assign([(tp.clone(), StartOffset::Offset(3))])
        .unwrap();
    let records = take(&mut consumer, 20).await;
    assert_eq!(records[0].offset, 10);

    // Latest: from the end (only new records).
    let mut consumer = client
        .consumer()
        .auto_offset_reset(OffsetReset::Latest)
        .build()
        .unwrap();
    consumer
        .assign([(tp.clone(), StartOffset::Offset(3))])
        .unwrap();
    let give_up = tokio::time::Instant::now() + WAIT;
    while consumer.position(&tp) != Some(30) {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{:?}",
            consumer.position(&tp)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    produce(&client, &topic, 0, 1, 0).await;
    let records = take(&mut consumer, 1).await;
    assert_eq!(records[0].offset, 30);

    // None: a typed error with the log start and the high watermark, both ways out of range;
    // the partition stays stopped until sought.
    let mut consumer = client
        .consumer()
        .auto_offset_reset(OffsetReset::None)
        .build()
        .unwrap();
    for (offset, deleted) in [(3, true), (500, false)] {
        consumer
            .assign([(tp.clone(), StartOffset::Offset(offset))])
            .unwrap();
        match next_item(&mut consumer).await {
            Err(Error::OffsetOutOfRange {
                offset: at,
                log_start_offset,
                high_watermark,
                partition,
                ..
            }) => {
                assert_eq!(
                    (at, log_start_offset, high_watermark, partition),
                    (offset, 10, 31, 0)
                );
                assert_eq!(at < log_start_offset, deleted);
            }
            other => panic!("{other:?}"),
        }
    }
    let nothing = tokio::time::timeout(Duration::from_millis(700), consumer.recv()).await;
    assert!(nothing.is_err(), "a stopped partition returned {nothing:?}");
    consumer.seek(&tp, StartOffset::Offset(29)).unwrap();
    let records = take(&mut consumer, 2).await;
    assert_eq!(records[0].offset, 29);
    // The admin's listed offsets agree.
    let listed = client
        .admin()
        .list_offsets([(tp.clone(), OffsetSpec::Earliest)], &Default::default())
        .await
        .expect("list offsets");
    assert_eq!(listed[&tp].as_ref().unwrap().offset, 10);
}

#[tokio::test]
async fn every_codec_is_consumed() {
    let Some(client) = client("every_codec_is_consumed").await else {
        return;
    };
    let topic = unique("consumer-codecs");
    create_topic(&client, &topic, 1, 1, &[]).await;
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    for c in codecs {
        produce_with(&client, &topic, 0, 200, 0, c).await;
    }
    let mut consumer = client.consumer().build().unwrap();
    consumer
        .assign([(TopicPartition::new(topic.clone(), 0), StartOffset::Earliest)])
        .unwrap();
    let records = take(&mut consumer, 1000).await;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.offset, i as i64);
        assert_eq!(value(r), format!("v-{}", i % 200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_records_are_consumed_completely() {
    let Some(client) = client("a_million_records_are_consumed_completely").await else {
        return;
    };
    const N: u64 = 1_000_000;
    const PARTITIONS: i32 = 4;
    let topic = unique("consumer-million");
    create_topic(&client, &topic, PARTITIONS, 1, &[]).await;
    let mut config = ProducerConfig::default();
    config.compression = Compression::Lz4;
    let producer = client.producer().config(config).build().await.unwrap();
    let mut sent_sum = 0u64;
    let mut acks = Vec::new();
    for i in 0..N {
        let v = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        sent_sum = sent_sum.wrapping_add(v);
        let record = ProducerRecord::new(topic.clone())
            .partition((i % PARTITIONS as u64) as i32)
            .value(Bytes::copy_from_slice(&v.to_be_bytes()));
        acks.push(producer.send(record).await.unwrap());
        if acks.len() == 50_000 {
            for a in acks.drain(..) {
                a.await.expect("acknowledged");
            }
        }
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;

    let mut consumer = client
        .consumer()
        .auto_offset_reset(OffsetReset::None)
        .build()
        .unwrap();
    consumer
        .assign(
            (0..PARTITIONS).map(|p| (TopicPartition::new(topic.clone(), p), StartOffset::Earliest)),
        )
        .unwrap();
    let mut count = 0u64;
    let mut sum = 0u64;
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let give_up = tokio::time::Instant::now() + Duration::from_secs(300);
    while count < N {
        let batch = tokio::time::timeout_at(give_up, consumer.next_batch())
            .await
            .expect("in time")
            .expect("open")
            .expect("no error");
        for r in &batch {
            let expected = next.entry(r.partition).or_insert(0);
            assert_eq!(
                r.offset, *expected,
                "partition {} in order, no gap",
                r.partition
            );
            *expected += 1;
            let bytes: [u8; 8] = r.value.as_deref().unwrap().try_into().unwrap();
            sum = sum.wrapping_add(u64::from_be_bytes(bytes));
            count += 1;
        }
    }
    assert_eq!(count, N);
    assert_eq!(sum, sent_sum, "checksum");
    for p in 0..PARTITIONS {
        assert_eq!(next[&p], (N / PARTITIONS as u64) as i64);
    }
}

#[tokio::test]
async fn a_caller_keeping_its_records_does_not_stall_the_consumer() {
    let Some(client) = client("a_caller_keeping_its_records_does_not_stall_the_consumer").await
    else {
        return;
    };
    let topic = unique("consumer-keep");
    create_topic(&client, &topic, 1, 1, &[]).await;
    let mut config = ProducerConfig::default();
    config.batch_size = 64 * 1024;
    let producer = client.producer().config(config).build().await.unwrap();
    let value = Bytes::from(vec![b'x'; 10_000]);
    let mut acks = Vec::new();
    for _ in 0..500 {
        let record = ProducerRecord::new(topic.clone())
            .partition(0)
            .value(value.clone());
        acks.push(producer.send(record).await.unwrap());
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;
    // 5 MB kept against a 256 KiB bound: the records held count, but do not stop the fetching.
    let mut consumer = client
        .consumer()
        .max_buffer_bytes(256 * 1024)
        .max_partition_fetch_bytes(64 * 1024)
        .build()
        .unwrap();
    consumer
        .assign([(TopicPartition::new(topic.clone(), 0), StartOffset::Earliest)])
        .unwrap();
    let kept = take(&mut consumer, 500).await;
    assert!(
        consumer.buffered_bytes() >= 256 * 1024,
        "the kept records are counted"
    );
    assert_eq!(kept.last().map(|r| r.offset), Some(499));
    drop(kept);
    // Dropped: released.
    let give_up = tokio::time::Instant::now() + WAIT;
    while consumer.buffered_bytes() >= 256 * 1024 {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{}",
            consumer.buffered_bytes()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_record_larger_than_the_partition_fetch_size_still_comes() {
    let Some(client) = client("a_record_larger_than_the_partition_fetch_size_still_comes").await
    else {
        return;
    };
    let topic = unique("consumer-large");
    create_topic(&client, &topic, 1, 1, &[]).await;
    let producer = client.producer().build().await.unwrap();
    let big = Bytes::from(vec![b'L'; 300_000]);
    for v in [
        Bytes::from_static(b"small"),
        big.clone(),
        Bytes::from_static(b"after"),
    ] {
        let record = ProducerRecord::new(topic.clone()).partition(0).value(v);
        producer
            .send(record)
            .await
            .unwrap()
            .await
            .expect("acknowledged");
    }
    producer.close().await;
    // 10 KiB per partition and per fetch: the broker returns the 300 KB batch whole (KIP-74).
    let mut consumer = client
        .consumer()
        .max_partition_fetch_bytes(10 * 1024)
        .fetch_max_bytes(10 * 1024)
        .build()
        .unwrap();
    consumer
        .assign([(TopicPartition::new(topic.clone(), 0), StartOffset::Earliest)])
        .unwrap();
    let records = take(&mut consumer, 3).await;
    assert_eq!(records[1].value.as_ref(), Some(&big));
    assert_eq!(value(&records[2]), "after");
}

#[tokio::test]
async fn a_waiting_fetch_does_not_hold_up_the_clients_other_requests() {
    let Some(client) = client("a_waiting_fetch_does_not_hold_up_the_clients_other_requests").await
    else {
        return;
    };
    let topic = unique("consumer-parked");
    create_topic(&client, &topic, 1, 1, &[]).await;
    let tp = TopicPartition::new(topic.clone(), 0);
    // At the end of an empty partition, each Fetch waits 20 s at the broker.
    let mut consumer = client
        .consumer()
        .fetch_max_wait(Duration::from_secs(20))
        .build()
        .unwrap();
    consumer
        .assign([(tp.clone(), StartOffset::Latest)])
        .unwrap();
    let give_up = tokio::time::Instant::now() + WAIT;
    while consumer.position(&tp).is_none() {
        assert!(tokio::time::Instant::now() < give_up);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await; // the Fetch is parked now
                                                          // The same client's requests to that broker are answered meanwhile, and a record
                                                          // produced through it arrives at once (the consumer's Fetch has its own connection).
    let listed = tokio::time::timeout(
        Duration::from_secs(10),
        client
            .admin()
            .list_offsets([(tp.clone(), OffsetSpec::Latest)], &Default::default()),
    )
    .await
    .expect("not held up for the fetch's 20 s")
    .expect("listed");
    assert_eq!(listed[&tp].as_ref().unwrap().offset, 0);
    let started = tokio::time::Instant::now();
    produce(&client, &topic, 0, 1, 0).await;
    let records = take(&mut consumer, 1).await;
    assert_eq!(records[0].offset, 0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
