//! Observability: each Produce request runs in a `produce` tracing span (broker, batches,
//! records, bytes) around the connection's own request span, and the metrics snapshot counts
//! what happened.
//!
//! Its own test binary: it installs a global subscriber (tracing's per-callsite interest is
//! global, so a scoped subscriber beside other tests' threads could miss events).

use std::sync::Arc;

use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_testkit::fake::FakeCluster;

/// A writer the fmt subscriber appends to.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn produce_requests_are_traced_and_counted() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("kafkaex_client=debug,kafkaex_net=debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let metrics = {
        runtime.block_on(async {
            let fake = FakeCluster::builder().topic("t", 2).start().await;
            let client = Client::builder()
                .bootstrap(fake.bootstrap())
                .build()
                .await
                .unwrap();
            let producer = client.producer().build().await.unwrap();
            let mut deliveries = Vec::new();
            for i in 0..1000 {
                let r = ProducerRecord::new("t").key(format!("k{i}")).value("v");
                deliveries.push(producer.send(r).await.unwrap());
            }
            for d in deliveries {
                d.await.unwrap();
            }
            producer.close().await;
            producer.metrics()
        })
    };
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // Each Produce request runs in a `produce` span naming its broker, batches and records;
    // the connection's request span is inside it.
    let line = log
        .lines()
        .find(|l| l.contains("produce{") && l.contains("broker_request{"))
        .unwrap_or_else(|| panic!("no produce span in:\n{log}"));
    assert!(line.contains("records="), "{line}");
    assert_eq!(metrics.records_sent, 1000, "{metrics:?}");
    assert!(
        metrics.batches_sent >= 2 && metrics.requests >= 1,
        "{metrics:?}"
    );
    assert!(metrics.bytes_sent > 1000, "{metrics:?}");
    assert_eq!((metrics.errors, metrics.retries), (0, 0), "{metrics:?}");
    assert_eq!(
        (
            metrics.in_flight_requests,
            metrics.buffer_used,
            metrics.batches_queued
        ),
        (0, 0, 0)
    );
    assert!(
        metrics.mean_queue_time <= metrics.mean_batch_latency,
        "{metrics:?}"
    );
}
