//! A consumer group on the three-node `cluster`: the node that coordinates the group is
//! stopped mid-consumption. The group recovers on the new coordinator, no record is lost, and
//! the duplicates (records read again after the last commit before the failover) are counted
//! and bounded by the uncommitted window.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cluster::{wait_in_sync, xtask_node, Restart};
use common::{create_topic, unique};
use kafkaex_client::consumer::OffsetReset;
use kafkaex_client::group::GroupEvent;
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_protocol::messages::FindCoordinatorRequest;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

const RECORDS: usize = 20_000;
const PARTITIONS: i32 = 4;

async fn coordinator(client: &Client, group: &str) -> i32 {
    // v4+ asks for several keys; older versions for one.
    let r = client
        .cluster()
        .request_with(|version| {
            let request = FindCoordinatorRequest::default().with_key_type(0);
            if version >= 4 {
                request.with_coordinator_keys(vec![group.to_owned()])
            } else {
                request.with_key(group.to_owned())
            }
        })
        .await
        .expect("FindCoordinator");
    r.body
        .coordinators
        .first()
        .map_or(r.body.node_id, |c| c.node_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_survives_its_coordinator_stopping() {
    let test = "the_group_survives_its_coordinator_stopping";
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
    let topic = unique("group-failover");
    create_topic(
        &client,
        &topic,
        PARTITIONS,
        3,
        &[("min.insync.replicas", "2")],
    )
    .await;
    let group = unique("g-failover");
    // Two members, each committing after every batch (the uncommitted window: a batch).
    let seen: Arc<Mutex<Vec<(i32, i64)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let mut members = Vec::new();
    for _ in 0..2 {
        let mut consumer = client
            .group_consumer(&group)
            .subscribe([topic.clone()])
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_millis(500))
            .rebalance_timeout(Duration::from_secs(30))
            .auto_offset_reset(OffsetReset::Earliest)
            .auto_commit(None)
            .build()
            .unwrap();
        let seen = Arc::clone(&seen);
        let done = Arc::clone(&done);
        members.push(tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let Ok(Some(event)) =
                    tokio::time::timeout(Duration::from_millis(200), consumer.next()).await
                else {
                    continue;
                };
                match event {
                    Ok(GroupEvent::Records(batch)) => {
                        seen.lock()
                            .unwrap()
                            .extend(batch.iter().map(|r| (r.partition, r.offset)));
                        consumer.mark(&batch);
                        // A commit refused mid-rebalance or mid-failover is retried with the
                        // next batch; what it did not cover is read again (the duplicates).
                        let _ = consumer.commit_marked().await;
                    }
                    Ok(GroupEvent::Revoking(r)) => {
                        let _ = consumer.commit_marked().await;
                        r.ack();
                    }
                    _ => {}
                }
            }
            consumer.close().await;
        }));
    }
    // Records flow while the coordinator stops.
    let producer = client.producer().build().await.unwrap();
    let mut restart = Restart {
        xtask: xtask.clone(),
        node: None,
    };
    let mut stopped = None;
    let mut acks = Vec::new();
    for i in 0..RECORDS {
        let r = ProducerRecord::new(topic.clone())
            .partition(i as i32 % PARTITIONS)
            .value(format!("v-{i}"));
        acks.push(producer.send(r).await.unwrap());
        if i % 1000 == 999 {
            for a in acks.drain(..) {
                a.await.expect("acknowledged");
            }
            tokio::time::sleep(Duration::from_millis(100)).await; // a steady flow
        }
        if i == RECORDS / 4 && stopped.is_none() {
            let node = coordinator(&client, &group).await;
            restart.node = Some(node);
            xtask_node(&xtask, "stop-node", node).await;
            stopped = Some(node);
        }
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let distinct: usize = {
            let s = seen.lock().unwrap();
            let mut per: BTreeMap<(i32, i64), ()> = BTreeMap::new();
            for k in s.iter() {
                per.insert(*k, ());
            }
            per.len()
        };
        if distinct == RECORDS {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{distinct} of {RECORDS} records consumed after the failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done.store(true, Ordering::Relaxed);
    for m in members {
        m.await.expect("member task");
    }
    let all = seen.lock().unwrap().clone();
    let duplicates = all.len() - RECORDS;
    eprintln!("coordinator {stopped:?} stopped: {RECORDS} records, {duplicates} read twice");
    // Bounded by the uncommitted window: at most a few batches per partition.
    assert!(duplicates <= RECORDS / 4, "{duplicates} duplicates");
    let node = stopped.expect("stopped");
    xtask_node(&xtask, "start-node", node).await;
    restart.node = None;
    wait_in_sync(&client, &topic, node).await;
}
