//! Bounded memory: a consumer with a slow handler over a backlog 16 times its byte bound (512 MiB
//! of records against `max_buffer_bytes` of 32 MiB) reads everything, while the bytes it holds
//! (buffered plus in flight) and the process's peak heap stay under the bound plus a stated
//! margin.
//!
//! Its own test binary: dhat's testing allocator counts every allocation of the process, so
//! "peak heap" is the whole process's (the producer that writes the backlog too: its buffer is
//! kept at 8 MiB so that it does not set the peak).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use common::{create_topic, unique};
use kafkaex_client::consumer::{StartOffset, TopicPartition};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Client, ProducerConfig};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const MIB: usize = 1 << 20;
const LIMIT: usize = 32 * MIB;
/// The per-partition fetch size: the eight partitions could bring 64 MiB, twice the bound, so
/// the bound (not the per-partition size) is what limits the fetches.
const PARTITION_FETCH: usize = 8 * MIB;
/// Beyond the bound (which counts the records the handler holds too): what Kafka may send past
/// a fetch's `max_bytes` (one batch per broker, here at most 1 MiB), the decoded records'
/// vectors, the client's, the allocator's and the runtime's own: 12 MiB (8 measured).
const MARGIN: usize = 12 * MIB;
const VALUE: usize = 64 * 1024;
const RECORDS: usize = 512 * MIB / VALUE;
const PARTITIONS: i32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_over_a_large_backlog_stays_within_its_byte_bound() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "a_slow_consumer_over_a_large_backlog_stays_within_its_byte_bound",
    )
    .await
    else {
        return;
    };
    let _profiler = dhat::Profiler::builder().testing().build();
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .build()
        .await
        .unwrap();
    let topic = unique("consumer-memory");
    create_topic(&client, &topic, PARTITIONS, 1, &[]).await;
    let mut config = ProducerConfig::default();
    config.buffer_memory = 8 * MIB;
    config.batch_size = 512 * 1024;
    let producer = client.producer().config(config).build().await.unwrap();
    let value = Bytes::from(vec![b'v'; VALUE]);
    let mut acks = Vec::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new(topic.clone())
            .partition(i as i32 % PARTITIONS)
            .key(i.to_string())
            .value(value.clone());
        acks.push(producer.send(record).await.unwrap());
        if acks.len() == 256 {
            for a in acks.drain(..) {
                a.await.expect("acknowledged");
            }
        }
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;
    drop(producer);
    let produced_peak = dhat::HeapStats::get().max_bytes;
    assert!(
        produced_peak < LIMIT,
        "the producer's peak ({produced_peak}) would hide the consumer's"
    );

    let mut consumer = client
        .consumer()
        .max_buffer_bytes(LIMIT)
        .max_partition_fetch_bytes(PARTITION_FETCH)
        .build()
        .unwrap();
    consumer
        .assign(
            (0..PARTITIONS).map(|p| (TopicPartition::new(topic.clone(), p), StartOffset::Earliest)),
        )
        .unwrap();
    let mut read = 0usize;
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut held_max = 0usize;
    while read < RECORDS {
        let batch = tokio::time::timeout(Duration::from_secs(120), consumer.next_batch())
            .await
            .expect("in time")
            .expect("open")
            .expect("no error");
        for r in &batch {
            let n = next.entry(r.partition).or_insert(0);
            assert_eq!(r.offset, *n);
            *n += 1;
            assert_eq!(r.value.as_ref().map(Bytes::len), Some(VALUE));
        }
        read += batch.len();
        held_max = held_max.max(consumer.buffered_bytes());
        // The slow handler: the fetcher fills the bound and waits.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let peak = dhat::HeapStats::get().max_bytes;
    eprintln!(
        "backlog {} MiB, bound {} MiB: held at most {:.1} MiB, peak heap {:.1} MiB (producer phase {:.1} MiB)",
        RECORDS * VALUE / MIB,
        LIMIT / MIB,
        held_max as f64 / MIB as f64,
        peak as f64 / MIB as f64,
        produced_peak as f64 / MIB as f64
    );
    assert!(held_max <= LIMIT + 2 * MIB, "held {held_max}");
    assert!(
        held_max > LIMIT / 2,
        "the bound was never approached ({held_max}): not a test of it"
    );
    assert!(
        peak <= LIMIT + MARGIN,
        "peak heap {peak} over {} + {}",
        LIMIT,
        MARGIN
    );
}
