//! Back-pressure: with a 1 MiB buffer and its broker stopped, `send` waits for room once the
//! buffer is full (and `try_send` says it is full), the records fail at the delivery timeout
//! with a typed error saying they were not written, the waiting sends then go on, and the
//! process's heap stays bounded by the buffer however much is sent.
//!
//! Its own test binary: it counts every allocation of the process (dhat's testing allocator).

use std::time::Duration;

use bytes::Bytes;
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Client, Error, Persistence, ProducerConfig};
use kafkaex_testkit::fake::FakeCluster;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const BUFFER: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_waits_then_fails_at_the_delivery_timeout_in_bounded_memory() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let client = Client::builder()
        .bootstrap(fake.bootstrap())
        .request_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let mut config = ProducerConfig::default();
    config.buffer_memory = BUFFER;
    config.batch_size = 64 * 1024;
    config.delivery_timeout = Duration::from_secs(2);
    config.retry_backoff = Duration::from_millis(20);
    config.retry_backoff_max = Duration::from_millis(100);
    let producer = client.producer().config(config).build().await.unwrap();
    // The topic is known and a first record written while the broker is up.
    producer
        .send(ProducerRecord::new("t").value("first"))
        .await
        .unwrap()
        .await
        .unwrap();
    let baseline = dhat::HeapStats::get().curr_bytes;

    fake.stop_broker(fake.node_ids()[0]);
    let value = Bytes::from(vec![b'x'; 1000]);
    let record = || ProducerRecord::new("t").value(value.clone());
    // Fill the buffer: about 1 MiB of 1 KB records.
    let mut deliveries = Vec::new();
    loop {
        match producer.try_send(record()) {
            Ok(d) => deliveries.push(d),
            Err(Error::BufferFull { used, limit }) => {
                assert_eq!(limit, BUFFER);
                assert!(used > BUFFER - 2000, "full at {used}");
                break;
            }
            Err(e) => panic!("try_send: {e}"),
        }
        assert!(deliveries.len() < 2000, "the buffer never filled");
    }
    let buffered = deliveries.len();
    assert!(
        (900..=1100).contains(&buffered),
        "{buffered} records of 1 KB in 1 MiB"
    );
    // A send now waits for room.
    let waiting = tokio::spawn({
        let producer = producer.clone();
        let record = record();
        async move { producer.send(record).await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "send returned with the buffer full");

    // At the delivery timeout every buffered record fails: typed, and not written (the broker
    // was down the whole time).
    for d in deliveries {
        let e = d.await.unwrap_err();
        assert_eq!(e.persistence(), Some(Persistence::NotPersisted), "{e}");
        assert!(
            matches!(&e, Error::Delivery { source, .. } if matches!(**source, Error::DeliveryTimeout { .. } | Error::Request { .. })),
            "{e:?}"
        );
    }
    // The waiting send got its room.
    let late = waiting.await.unwrap().expect("the waiting send went on");

    // Another 5 MB through the 1 MiB buffer with the broker still down: the heap stays
    // within a few buffers of where it was.
    let mut peak = 0;
    let mut pending = std::collections::VecDeque::new();
    pending.push_back(late);
    for _ in 0..5_000 {
        pending.push_back(producer.send(record()).await.unwrap());
        // Keep only the futures of records that can still be buffered (the rest resolved).
        while pending.front().is_some_and(|d| d.try_result().is_some()) {
            pending.pop_front();
        }
        peak = peak.max(dhat::HeapStats::get().curr_bytes);
    }
    let grew = peak.saturating_sub(baseline);
    assert!(
        grew < 6 * BUFFER,
        "the heap grew by {grew} bytes for a {BUFFER}-byte buffer"
    );
    eprintln!("heap growth at most {grew} bytes with a {BUFFER}-byte buffer, 5 MB sent");
    drop(pending);
    producer.close().await;
}
