//! The idempotent producer on the three-node `cluster` (`cargo xtask kafka up cluster`):
//! 200,000 keyed records to a topic with replication factor 3 and min.insync.replicas=2 while
//! the leader of partition 0 is stopped and started again, twice. Then everything is read back:
//! every acknowledged record is in the log exactly once, in send order per partition.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::cluster::{leader_other_than, wait_in_sync, xtask_node, Restart};
use common::{create_topic, read_partition, unique, WAIT};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Client, ProducerConfig};
use kafkaex_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafkaex_protocol::messages::ListOffsetsRequest;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

const RECORDS: usize = 200_000;
const PARTITIONS: i32 = 3;

/// Waits until at least `n` records are acknowledged.
async fn wait_acked(acked: &AtomicUsize, n: usize) {
    let give_up = tokio::time::Instant::now() + WAIT * 2;
    while acked.load(Ordering::Relaxed) < n {
        assert!(
            tokio::time::Instant::now() < give_up,
            "stuck at {} acknowledged",
            acked.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn log_end(client: &Client, topic: &str, partition: i32) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(-1)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic.to_owned())
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_current_leader_epoch(-1)
                .with_timestamp(-1)])]);
    let r = client.request(&request).await.expect("ListOffsets");
    r.body.topics[0].partitions[0].offset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_delivery_survives_two_leader_restarts() {
    let test = "idempotent_delivery_survives_two_leader_restarts";
    let Some(brokers) = test_brokers(BrokerProfile::Cluster, test).await else {
        return;
    };
    let xtask = brokers.require_env("KAFKAEX_XTASK").to_owned();
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .request_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap();
    let topic = unique("client-cluster-idem");
    create_topic(
        &client,
        &topic,
        PARTITIONS,
        3,
        &[("min.insync.replicas", "2")],
    )
    .await;

    let mut config = ProducerConfig::default();
    config.delivery_timeout = Duration::from_secs(180);
    let producer = client.producer().config(config).build().await.unwrap();
    let acked = Arc::new(AtomicUsize::new(0));

    // Sends at about 5,000 records/s, so that the restarts happen while records flow.
    let sender = {
        let producer = producer.clone();
        let topic = topic.clone();
        let acked = Arc::clone(&acked);
        tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(RECORDS);
            let collector = tokio::spawn(async move {
                let mut out = Vec::with_capacity(RECORDS);
                while let Some((i, future)) = rx.recv().await {
                    let future: kafkaex_client::DeliveryFuture = future;
                    let result = future.await;
                    if result.is_ok() {
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    out.push((i, result));
                }
                out
            });
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            for chunk in 0..RECORDS / 50 {
                tick.tick().await;
                for j in 0..50 {
                    let i = chunk * 50 + j;
                    let record = ProducerRecord::new(topic.clone())
                        .key(format!("key-{}", i % 997))
                        .value(format!("value-{i:07}"));
                    let future = producer.send(record).await.expect("send");
                    tx.send((i, future)).await.expect("collector");
                }
            }
            drop(tx);
            collector.await.expect("collector task")
        })
    };

    let mut restart = Restart {
        xtask: xtask.clone(),
        node: None,
    };
    let mut stopped_at = Vec::new();
    for round in 0..2 {
        wait_acked(&acked, 20_000 + round * 60_000).await;
        let leader = leader_other_than(&client, &topic, 0, None).await;
        stopped_at.push((leader, acked.load(Ordering::Relaxed)));
        restart.node = Some(leader);
        xtask_node(&xtask, "stop-node", leader).await;
        // Records keep being acknowledged by the two nodes left (min.insync.replicas=2).
        // (All of them, when the sender finished while the node was stopping.)
        let now = acked.load(Ordering::Relaxed);
        wait_acked(&acked, (now + 10_000).min(RECORDS)).await;
        xtask_node(&xtask, "start-node", leader).await;
        restart.node = None;
        wait_in_sync(&client, &topic, leader).await;
    }

    let outcomes = sender.await.expect("sender task");
    producer.close().await;
    let metrics = producer.metrics();
    assert_eq!(outcomes.len(), RECORDS);
    let failed: Vec<_> = outcomes.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} failed, first: {:?}",
        failed.len(),
        failed.first()
    );

    // Read back every partition: each acknowledged record once, in send order.
    let mut expected: HashMap<i32, Vec<(usize, i64)>> = HashMap::new();
    for (i, r) in &outcomes {
        let m = r.as_ref().unwrap();
        expected
            .entry(m.partition)
            .or_default()
            .push((*i, m.offset));
    }
    let mut counts = Vec::new();
    for p in 0..PARTITIONS {
        let want = expected.remove(&p).unwrap_or_default();
        let end = log_end(&client, &topic, p).await;
        assert_eq!(
            end,
            want.len() as i64,
            "partition {p}: log end vs acknowledged records"
        );
        let read = read_partition(&client, &topic, p, want.len()).await;
        for ((i, offset), r) in want.iter().zip(&read) {
            assert_eq!(
                r.value,
                Some(Bytes::from(format!("value-{i:07}"))),
                "partition {p}"
            );
            if *offset >= 0 {
                assert_eq!(*offset, r.offset);
            }
        }
        counts.push((p, want.len(), read.len()));
    }
    eprintln!(
        "{test}: {RECORDS} sent, all acknowledged; leaders stopped (node, acknowledged before): \
         {stopped_at:?}; per partition (acknowledged, read back): {counts:?}; retries {}, \
         requests {}, batches {}",
        metrics.retries, metrics.requests, metrics.batches_sent
    );
}
