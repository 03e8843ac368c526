//! The consumer on the three-node `cluster` (`cargo xtask kafka up cluster`): a topic with
//! replication factor 3 read while the leader of a partition is stopped mid-consume. The
//! consumer follows the new leader: every record comes exactly once, in order, no gap.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::cluster::{leader_other_than, wait_in_sync, xtask_node, Restart};
use common::{create_topic, unique};
use kafkaex_client::consumer::{OffsetReset, StartOffset, TopicPartition};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

const RECORDS: usize = 60_000;
const PARTITIONS: i32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_mid_consume_is_followed_without_gap_or_duplicate() {
    let test = "a_leader_stopped_mid_consume_is_followed_without_gap_or_duplicate";
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
    let topic = unique("consumer-cluster");
    create_topic(
        &client,
        &topic,
        PARTITIONS,
        3,
        &[("min.insync.replicas", "2")],
    )
    .await;
    // acks=all with min.insync.replicas=2: every record is on the replica that takes over.
    let producer = client.producer().build().await.unwrap();
    let mut acks = Vec::new();
    for i in 0..RECORDS {
        let r = ProducerRecord::new(topic.clone())
            .partition(i as i32 % PARTITIONS)
            .value(format!("value-{i:06}"));
        acks.push(producer.send(r).await.unwrap());
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;

    // Small fetches, so that the stop comes while most of the topic is still to be read.
    let mut consumer = client
        .consumer()
        .auto_offset_reset(OffsetReset::None)
        .max_partition_fetch_bytes(16 * 1024)
        .build()
        .unwrap();
    consumer
        .assign(
            (0..PARTITIONS).map(|p| (TopicPartition::new(topic.clone(), p), StartOffset::Earliest)),
        )
        .unwrap();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut read = 0usize;
    let mut restart = Restart {
        xtask: xtask.clone(),
        node: None,
    };
    let mut stopped = None;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(240);
    while read < RECORDS {
        let batch = tokio::time::timeout_at(give_up, consumer.next_batch())
            .await
            .unwrap_or_else(|_| panic!("{read} of {RECORDS} read; next offsets {next:?}"))
            .expect("open")
            .expect("no error");
        for r in &batch {
            let n = next.entry(r.partition).or_insert(0);
            assert_eq!(
                r.offset, *n,
                "partition {}: no gap, no duplicate",
                r.partition
            );
            *n += 1;
            let i = r.offset as usize * PARTITIONS as usize + r.partition as usize;
            assert_eq!(r.value.as_deref(), Some(format!("value-{i:06}").as_bytes()));
        }
        read += batch.len();
        if stopped.is_none() && read >= RECORDS / 5 {
            let leader = leader_other_than(&client, &topic, 0, None).await;
            restart.node = Some(leader);
            xtask_node(&xtask, "stop-node", leader).await;
            stopped = Some((leader, read));
        }
    }
    let (leader, at) = stopped.expect("the leader was stopped");
    assert!(at < RECORDS / 2, "stopped after {at} records");
    for p in 0..PARTITIONS {
        assert_eq!(next[&p], (RECORDS / PARTITIONS as usize) as i64);
    }
    // The stopped node led partition 0 no more while it was down.
    let new_leader = leader_other_than(&client, &topic, 0, Some(leader)).await;
    assert_ne!(new_leader, leader);
    xtask_node(&xtask, "start-node", leader).await;
    restart.node = None;
    wait_in_sync(&client, &topic, leader).await;
}
