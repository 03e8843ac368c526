//! The producer never blocks its runtime: on a single-threaded runtime, with the fake broker on
//! the same thread, a watchdog task keeps getting scheduled while 100,000 records are sent in a
//! tight loop and delivered. A blocking call or a lock held across an await on the send path
//! would stall the watchdog (or deadlock the test).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_testkit::fake::FakeCluster;

#[test]
fn a_single_threaded_runtime_keeps_running_other_tasks() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let fake = FakeCluster::builder().topic("t", 3).start().await;
        let client = Client::builder()
            .bootstrap(fake.bootstrap())
            .build()
            .await
            .unwrap();
        let producer = client.producer().build().await.unwrap();

        let done = Arc::new(AtomicBool::new(false));
        let longest_gap_us = Arc::new(AtomicU64::new(0));
        let ticks = Arc::new(AtomicU64::new(0));
        let watchdog = tokio::spawn({
            let (done, longest, ticks) = (
                Arc::clone(&done),
                Arc::clone(&longest_gap_us),
                Arc::clone(&ticks),
            );
            async move {
                let mut last = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let now = Instant::now();
                    longest.fetch_max((now - last).as_micros() as u64, Ordering::Relaxed);
                    ticks.fetch_add(1, Ordering::Relaxed);
                    last = now;
                }
            }
        });

        let mut deliveries = Vec::with_capacity(100_000);
        for i in 0..100_000 {
            let record = ProducerRecord::new("t")
                .key(format!("k{}", i % 100))
                .value(format!("value-{i}"));
            deliveries.push(producer.send(record).await.unwrap());
        }
        for d in deliveries {
            d.await.unwrap();
        }
        producer.close().await;
        done.store(true, Ordering::Relaxed);
        watchdog.await.unwrap();
        let longest = Duration::from_micros(longest_gap_us.load(Ordering::Relaxed));
        let ticks = ticks.load(Ordering::Relaxed);
        eprintln!("watchdog: {ticks} ticks, longest gap {longest:?}");
        assert!(ticks > 0, "the watchdog never ran");
        // A tick is 1 ms; gaps here are about 10 ms. A send loop that never yields (sends that
        // always find room, without tokio's cooperative budget) held the thread for about
        // 200 ms; a blocking call, for seconds or forever.
        assert!(
            longest < Duration::from_millis(150),
            "the runtime stalled for {longest:?}"
        );
    });
}
