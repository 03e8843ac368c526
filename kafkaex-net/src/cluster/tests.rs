//! The cluster against the test kit's fake broker, for what a real broker cannot show: how many
//! connections are opened, and which requests a retry sends.

use std::sync::Arc;
use std::time::Duration;

use kafkaex_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafkaex_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafkaex_protocol::messages::{
    FindCoordinatorRequest, HeartbeatRequest, ListOffsetsRequest, ListOffsetsResponse,
};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::fake::{Action, FakeCluster, Reply, Rule};
use kafkaex_testkit::peers::closed_address;

use super::coordinator::{coordinator_from, CoordinatorInfo};
use super::*;
use crate::retry::RetryPolicy;

/// A fake broker that is node 1, leader of `t-0`.
async fn fake_broker() -> FakeCluster {
    FakeCluster::builder().topic("t", 1).start().await
}

fn address(fake: &FakeCluster) -> String {
    fake.address(1)
}

/// ListOffsets answers offset 42 for every partition asked (what the old hand-written fake
/// broker answered), after any rule added before this one.
fn list_offsets_42() -> Rule {
    Rule::on(ApiKey::ListOffsets).then(Action::respond(|seen| {
        let body =
            ListOffsetsResponse::default().with_topics(vec![ListOffsetsTopicResponse::default()
                .with_name("t".into())
                .with_partitions(vec![ListOffsetsPartitionResponse::default().with_offset(42)])]);
        Reply::body(seen.version, body)
    }))
}

fn list_latest_t0() -> ListOffsetsRequest {
    ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name("t".into())
        .with_partitions(vec![ListOffsetsPartition::default()
            .with_partition_index(0)
            .with_timestamp(-1)])])
}

fn fast_retries() -> NetConfig {
    NetConfig::default().with_retry(
        RetryPolicy::default()
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(5))
            .with_deadline(Duration::from_secs(10)),
    )
}

#[tokio::test]
async fn concurrent_first_uses_of_a_node_open_one_connection() {
    let broker = fake_broker().await;
    let cluster = Cluster::connect(&[address(&broker)], NetConfig::default())
        .await
        .unwrap();
    let after_bootstrap = broker.connections_accepted(1);
    let uses = (0..16).map(|_| {
        let cluster = cluster.clone();
        tokio::spawn(async move { cluster.broker_for(Route::Node(1)).await })
    });
    for handle in uses.collect::<Vec<_>>() {
        handle.await.unwrap().unwrap();
    }
    assert_eq!(broker.connections_accepted(1), after_bootstrap + 1);
    assert_eq!(cluster.open_connection_count(), 1);
}

#[tokio::test]
async fn a_closed_connection_is_replaced_on_next_use() {
    let broker = fake_broker().await;
    let cluster = Cluster::connect(&[address(&broker)], NetConfig::default())
        .await
        .unwrap();
    let first = cluster.broker_for(Route::Node(1)).await.unwrap();
    let accepted = broker.connections_accepted(1);
    first.close();
    assert!(first.is_closed());
    let second = cluster.broker_for(Route::Node(1)).await.unwrap();
    assert!(!second.is_closed());
    assert_eq!(broker.connections_accepted(1), accepted + 1);
    // And the open one is reused.
    cluster
        .broker_for(Route::Leader {
            topic: "t".into(),
            partition: 0,
        })
        .await
        .unwrap();
    assert_eq!(broker.connections_accepted(1), accepted + 1);
}

#[tokio::test]
async fn bootstrap_skips_dead_addresses_and_lists_them_when_all_are_dead() {
    let broker = fake_broker().await;
    let dead = closed_address().await;
    let cluster = Cluster::connect(
        &[dead.as_str(), address(&broker).as_str()],
        NetConfig::default(),
    )
    .await
    .unwrap();
    assert_eq!(cluster.metadata().brokers().len(), 1);

    let dead2 = closed_address().await;
    let err = Cluster::connect(&[&dead, &dead2], NetConfig::default())
        .await
        .unwrap_err();
    match &err {
        NetError::NoBrokerAvailable { tried } => {
            let addresses: Vec<&str> = tried.iter().map(|(a, _)| a.as_str()).collect();
            assert_eq!(addresses, [dead.as_str(), dead2.as_str()]);
            assert!(tried
                .iter()
                .all(|(_, e)| matches!(**e, NetError::Connect { .. })));
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&dead) && text.contains(&dead2), "{text}");
}

#[tokio::test]
async fn bad_bootstrap_arguments_are_rejected_before_connecting() {
    let none: [&str; 0] = [];
    for bad in [
        &none[..],
        &["localhost"],
        &["host:0"],
        &["::1:9092"],
        &["ok:1", ""],
    ] {
        let err = Cluster::connect(bad, NetConfig::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, NetError::InvalidArgument(_)),
            "{bad:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn not_leader_invalidates_refreshes_and_retries() {
    let broker = fake_broker().await;
    let cluster = Cluster::connect(&[address(&broker)], fast_retries())
        .await
        .unwrap();
    broker.add_rule(
        Rule::on(ApiKey::ListOffsets)
            .times(2)
            .then(Action::Error(ErrorCode::NotLeaderOrFollower)),
    );
    broker.add_rule(list_offsets_42());
    // Learn t's leader first, as the old fake broker's bootstrap answer did.
    cluster
        .refresh_metadata(Some(&["t".to_owned()]))
        .await
        .unwrap();
    let metadata_before = broker.count(ApiKey::Metadata);
    let response = cluster
        .send_with_retry(
            Route::leader("t", 0),
            &list_latest_t0(),
            VersionChoice::Newest,
            |r| {
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| p.error_code)
                    .find(|c| !c.is_ok())
            },
        )
        .await
        .unwrap();
    assert_eq!(response.body.topics[0].partitions[0].offset, 42);
    assert_eq!(broker.count(ApiKey::ListOffsets), 3);
    // The leader was known, so: one refresh after each NOT_LEADER_OR_FOLLOWER.
    assert_eq!(broker.count(ApiKey::Metadata) - metadata_before, 2);
}

#[tokio::test]
async fn a_non_retriable_code_ends_the_retries_at_once() {
    let broker = fake_broker().await;
    let cluster = Cluster::connect(&[address(&broker)], fast_retries())
        .await
        .unwrap();
    broker.add_rule(
        Rule::on(ApiKey::Heartbeat)
            .once()
            .then(Action::Error(ErrorCode::NotCoordinator)),
    );
    let err = cluster
        .send_with_retry(
            Route::Node(1),
            &HeartbeatRequest::default(),
            VersionChoice::Newest,
            |_| Some(ErrorCode::GroupAuthorizationFailed),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kafka_code(), Some(ErrorCode::GroupAuthorizationFailed));
    assert_eq!(broker.count(ApiKey::Heartbeat), 1);
}

#[tokio::test]
async fn not_coordinator_finds_the_coordinator_again() {
    let broker = fake_broker().await;
    let cluster = Cluster::connect(&[address(&broker)], fast_retries())
        .await
        .unwrap();
    broker.add_rule(
        Rule::on(ApiKey::Heartbeat)
            .times(2)
            .then(Action::Error(ErrorCode::NotCoordinator)),
    );
    let route = Route::GroupCoordinator("g".into());
    cluster
        .send_with_retry(
            route.clone(),
            &HeartbeatRequest::default().with_group_id("g".into()),
            VersionChoice::Newest,
            |r| Some(r.error_code),
        )
        .await
        .unwrap();
    assert_eq!(broker.count(ApiKey::Heartbeat), 3);
    assert_eq!(broker.count(ApiKey::FindCoordinator), 3);
    // Cached now: another request does not look it up again.
    cluster
        .send(
            route,
            &HeartbeatRequest::default().with_group_id("g".into()),
            VersionChoice::Newest,
        )
        .await
        .unwrap();
    assert_eq!(broker.count(ApiKey::FindCoordinator), 3);
    // Older FindCoordinator versions (single key) work too.
    let info: CoordinatorInfo = cluster
        .try_any(true, |conn, _| async move {
            let response = conn
                .send(
                    &FindCoordinatorRequest::default().with_key("g".into()),
                    VersionChoice::Exact(3),
                )
                .await?;
            coordinator_from(&response.body, 3, "g", conn.address())
        })
        .await
        .unwrap();
    assert_eq!(info.node_id, 1);
}

#[tokio::test]
async fn periodic_refresh_runs_and_holds_no_strong_reference() {
    let broker = fake_broker().await;
    let config = NetConfig::default().with_metadata_max_age(Duration::from_millis(20));
    let cluster = Cluster::connect(&[address(&broker)], config).await.unwrap();
    let before = broker.count(ApiKey::Metadata);
    // Until two periodic refreshes have happened (polled as requests arrive).
    broker
        .wait_for(|seen| seen.iter().filter(|s| s.api == ApiKey::Metadata).count() >= before + 2)
        .await;
    let weak = Arc::downgrade(&cluster.inner);
    // Wait out a refresh in progress (the task holds a strong reference only during one).
    let _guard = cluster.inner.refresh_lock.lock().await;
    drop(_guard);
    drop(cluster);
    tokio::time::timeout(Duration::from_secs(10), async {
        while weak.upgrade().is_some() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the cluster is freed once its last clone is dropped");
}

/// Metadata v13's top-level code (KIP-1102's `REBOOTSTRAP_REQUIRED`) comes with no metadata
/// (here: no brokers, no topics): the refresh fails with it and the cache keeps what it had.
#[tokio::test]
async fn a_metadata_top_level_code_fails_the_refresh_and_is_not_applied() {
    let broker = fake_broker().await;
    let cluster = Cluster::connect(&[address(&broker)], fast_retries())
        .await
        .unwrap();
    let topics = ["t".to_owned()];
    cluster.refresh_metadata(Some(&topics)).await.unwrap();
    let before = cluster.metadata();
    broker.add_rule(
        Rule::on(ApiKey::Metadata)
            .once()
            .then(Action::respond(|seen| {
                Reply::body(
                    seen.version,
                    kafkaex_protocol::messages::MetadataResponse::default()
                        .with_error_code(ErrorCode::RebootstrapRequired),
                )
            })),
    );
    let err = cluster.refresh_metadata(Some(&topics)).await.unwrap_err();
    assert_eq!(
        err.kafka_code(),
        Some(ErrorCode::RebootstrapRequired),
        "{err:?}"
    );
    assert!(
        matches!(
            &err,
            NetError::Kafka {
                api: ApiKey::Metadata,
                scope: ErrorScope::Response,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(broker.requests().last().map(|s| s.version), Some(13));
    let after = cluster.metadata();
    assert_eq!(after.brokers(), before.brokers());
    assert_eq!(after.topics().len(), 1);
    assert_eq!(after.applied_generation(), before.applied_generation());
    // The next answer without a code is applied as usual.
    cluster.refresh_metadata(Some(&topics)).await.unwrap();
    assert!(cluster.metadata().applied_generation() > before.applied_generation());
}
