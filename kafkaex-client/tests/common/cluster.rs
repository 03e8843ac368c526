//! The three-node `cluster` profile: stopping and starting nodes through xtask, and waiting
//! for leaders and replicas.

use std::process::Command;
use std::time::Duration;

use kafkaex_client::Client;

use super::WAIT;

/// Runs `$KAFKAEX_XTASK kafka <verb> cluster <id>` off the runtime's threads.
pub(crate) async fn xtask_node(xtask: &str, verb: &str, node_id: i32) {
    let (xtask, owned_verb) = (xtask.to_owned(), verb.to_owned());
    let status = tokio::task::spawn_blocking(move || {
        Command::new(&xtask)
            .args(["kafka", &owned_verb, "cluster", &node_id.to_string()])
            .status()
    })
    .await
    .expect("xtask thread")
    .expect("run xtask");
    assert!(status.success(), "xtask kafka {verb} {node_id}: {status}");
}

/// Starts the node again when dropped, also when the test fails (the cluster is shared).
pub(crate) struct Restart {
    pub(crate) xtask: String,
    pub(crate) node: Option<i32>,
}

impl Drop for Restart {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            for _ in 0..3 {
                let ok = Command::new(&self.xtask)
                    .args(["kafka", "start-node", "cluster", &node.to_string()])
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    return;
                }
            }
            eprintln!("could not restart cluster node {node}: `cargo xtask kafka start-node cluster {node}`");
        }
    }
}

/// The leader of `partition` after a metadata refresh, once it is not `not`.
pub(crate) async fn leader_other_than(
    client: &Client,
    topic: &str,
    partition: i32,
    not: Option<i32>,
) -> i32 {
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(m) = client.refresh_metadata(&[topic]).await {
            let leader = m.partition(topic, partition).and_then(|p| p.leader);
            if let Some(l) = leader.filter(|l| Some(*l) != not) {
                return l;
            }
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "no new leader for {topic}-{partition}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `node` is in the ISR of every partition again.
pub(crate) async fn wait_in_sync(client: &Client, topic: &str, node: i32) {
    let give_up = tokio::time::Instant::now() + WAIT * 2;
    loop {
        if let Ok(m) = client.refresh_metadata(&[topic]).await {
            let in_sync = m
                .topic(topic)
                .is_some_and(|t| t.partitions().iter().all(|p| p.isr().contains(&node)));
            if in_sync {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "node {node} did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
