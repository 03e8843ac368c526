//! The router against the three-node cluster (`cargo xtask kafka up cluster`): a replicated
//! topic created through the controller route, leaders spread over the nodes and reached by
//! the leader route, and failover when a leader is stopped.

mod common;
use common::{config_with_deadline, list_latest, list_offsets_error, unique};

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use kafkaex_net::cluster::{Cluster, Route};
use kafkaex_net::metadata::LeaderLookup;
use kafkaex_net::versions::VersionChoice;
use kafkaex_protocol::messages::create_topics_request::CreatableTopic;
use kafkaex_protocol::messages::CreateTopicsRequest;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile, Brokers};

const PARTITIONS: i32 = 6;

/// The failover test stops a node; the tests in this file take turns so that none sees a
/// two-node cluster it did not expect.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `KAFKAEX_CLUSTER_NODES` ("1@127.0.0.1:29092,...") as address -> node id.
fn nodes_by_address(brokers: &Brokers) -> BTreeMap<String, i32> {
    brokers
        .require_env("KAFKAEX_CLUSTER_NODES")
        .split(',')
        .map(|entry| {
            let (id, address) = entry
                .split_once('@')
                .unwrap_or_else(|| panic!("bad KAFKAEX_CLUSTER_NODES entry {entry:?}"));
            (address.to_owned(), id.parse().expect("numeric node id"))
        })
        .collect()
}

/// Runs `$KAFKAEX_XTASK kafka <verb> cluster <id>`, off the async runtime's thread.
async fn xtask_node(xtask: &str, verb: &str, node_id: i32) {
    let (xtask, verb) = (xtask.to_owned(), verb.to_owned());
    let status = tokio::task::spawn_blocking(move || {
        Command::new(&xtask)
            .args(["kafka", &verb, "cluster", &node_id.to_string()])
            .status()
    })
    .await
    .expect("xtask thread")
    .expect("run xtask");
    assert!(status.success(), "xtask kafka {node_id} failed: {status}");
}

/// Starts a stopped node again when dropped, also when the test fails: the cluster is shared
/// with other tests. `xtask kafka start-node` returns once the node answers ApiVersions.
struct RestartNode {
    xtask: String,
    node_id: i32,
}

impl Drop for RestartNode {
    fn drop(&mut self) {
        // A second `start-node` finds the process already running and only waits for it to
        // answer: that covers a first call that gave up early (the xtask can mistake a JVM
        // still exec'ing for one that exited).
        let mut last = None;
        for _ in 0..3 {
            let result = Command::new(&self.xtask)
                .args(["kafka", "start-node", "cluster", &self.node_id.to_string()])
                .status();
            match result {
                Ok(status) if status.success() => return,
                other => last = Some(other),
            }
        }
        eprintln!(
            "could not restart cluster node {}: {last:?}; run `cargo xtask kafka start-node cluster {}`",
            self.node_id, self.node_id
        );
    }
}

/// Creates a topic with replication factor 3 through the controller route, then polls the
/// metadata until every partition has a leader.
async fn create_replicated_topic(cluster: &Cluster, topic: &str) {
    let request = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic.to_owned())
            .with_num_partitions(PARTITIONS)
            .with_replication_factor(3)])
        .with_timeout_ms(30_000);
    let kafkaex_net::Response { body: response, .. } = cluster
        .send_with_retry(Route::Controller, &request, VersionChoice::Newest, |r| {
            r.topics.iter().map(|t| t.error_code).find(|c| !c.is_ok())
        })
        .await
        .expect("CreateTopics");
    assert_eq!(response.topics[0].name, topic);
    assert_eq!(response.topics[0].num_partitions, PARTITIONS);
    assert_eq!(response.topics[0].replication_factor, 3);

    let topics = [topic.to_owned()];
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        cluster.refresh_metadata(Some(&topics)).await.unwrap();
        let ready = cluster.with_metadata(|m| {
            m.partition_count(topic) == Some(PARTITIONS as usize)
                && (0..PARTITIONS)
                    .all(|p| matches!(m.leader(topic, p), LeaderLookup::Leader { .. }))
        });
        if ready {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{topic}: not every partition got a leader: {:?}",
            cluster.with_metadata(|m| m.topic(topic).cloned())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn leader_of(cluster: &Cluster, topic: &str, partition: i32) -> i32 {
    match cluster.with_metadata(|m| m.leader(topic, partition)) {
        LeaderLookup::Leader { node_id, .. } => node_id,
        other => panic!("{topic}-{partition} has no leader: {other:?}"),
    }
}

#[tokio::test]
async fn leaders_are_spread_and_leader_routes_reach_them() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Cluster,
        "leaders_are_spread_and_leader_routes_reach_them",
    )
    .await
    else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let nodes = nodes_by_address(&brokers);
    let cluster = Cluster::connect(
        &brokers.bootstrap,
        config_with_deadline(Duration::from_secs(90)),
    )
    .await
    .unwrap();
    assert_eq!(cluster.metadata().brokers().len(), 3);
    let topic = unique("router-spread");
    create_replicated_topic(&cluster, &topic).await;

    let metadata = cluster.metadata();
    let mut leaders = BTreeSet::new();
    for p in 0..PARTITIONS {
        let partition = metadata.partition(&topic, p).unwrap();
        assert_eq!(partition.replicas().len(), 3, "{partition:?}");
        // A new topic's leader can lag behind the metadata that names it and answer
        // NOT_LEADER_OR_FOLLOWER for a moment: retried, with a refresh in between.
        let kafkaex_net::Response { body: response, .. } = cluster
            .send_with_retry(
                Route::leader(&topic, p),
                &list_latest(&topic, p),
                VersionChoice::Newest,
                list_offsets_error,
            )
            .await
            .unwrap();
        // A node that answers ListOffsets without NOT_LEADER_OR_FOLLOWER is the leader...
        assert_eq!(list_offsets_error(&response), None, "{topic}-{p}");
        // ...and the leader route connects to the node the metadata names, as the cluster's
        // own node list identifies it.
        let leader = leader_of(&cluster, &topic, p);
        leaders.insert(leader);
        let conn = cluster.broker_for(Route::leader(&topic, p)).await.unwrap();
        assert_eq!(nodes.get(conn.address()), Some(&leader), "{topic}-{p}");
    }
    assert_eq!(
        leaders.len(),
        3,
        "Kafka spreads the leaders of a new topic over all three nodes: {leaders:?}"
    );
}

#[tokio::test]
async fn a_stopped_leader_fails_over_to_a_new_one() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Cluster,
        "a_stopped_leader_fails_over_to_a_new_one",
    )
    .await
    else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let xtask = brokers.require_env("KAFKAEX_XTASK").to_owned();
    let nodes = nodes_by_address(&brokers);
    let cluster = Cluster::connect(
        &brokers.bootstrap,
        config_with_deadline(Duration::from_secs(90)),
    )
    .await
    .unwrap();
    let topic = unique("router-failover");
    create_replicated_topic(&cluster, &topic).await;

    let old_leader = leader_of(&cluster, &topic, 0);
    let old_epoch = cluster.with_metadata(|m| m.partition(&topic, 0).and_then(|p| p.leader_epoch));
    // Warm the pool: a connection to the old leader is open when it goes away.
    cluster
        .send_with_retry(
            Route::leader(&topic, 0),
            &list_latest(&topic, 0),
            VersionChoice::Newest,
            list_offsets_error,
        )
        .await
        .unwrap();

    let _restart = RestartNode {
        xtask: xtask.clone(),
        node_id: old_leader,
    };
    xtask_node(&xtask, "stop-node", old_leader).await;

    // The cache still names the stopped node: the request fails on it, the partition is
    // invalidated, the metadata refreshed from a live node, and the retry reaches the new
    // leader, which answers without NOT_LEADER_OR_FOLLOWER.
    assert_eq!(leader_of(&cluster, &topic, 0), old_leader);
    let kafkaex_net::Response { body: response, .. } = cluster
        .send_with_retry(
            Route::leader(&topic, 0),
            &list_latest(&topic, 0),
            VersionChoice::Newest,
            list_offsets_error,
        )
        .await
        .expect("ListOffsets after failover");
    assert_eq!(list_offsets_error(&response), None);
    let new_leader = leader_of(&cluster, &topic, 0);
    assert_ne!(new_leader, old_leader);
    let conn = cluster.broker_for(Route::leader(&topic, 0)).await.unwrap();
    assert_eq!(nodes.get(conn.address()), Some(&new_leader));
    assert!(!conn.is_closed());
    // The new leader's epoch is newer than the one cached before.
    let new_epoch = cluster.with_metadata(|m| m.partition(&topic, 0).and_then(|p| p.leader_epoch));
    assert!(new_epoch > old_epoch, "{old_epoch:?} -> {new_epoch:?}");
    // `_restart` starts the node again (and waits until it answers) when dropped.
}
