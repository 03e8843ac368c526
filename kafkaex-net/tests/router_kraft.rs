//! The router against one real KRaft broker (`cargo xtask kafka up kraft`): bootstrap with bad
//! addresses, metadata of auto-created topics, and every route.

mod common;
use common::{config_with_deadline, list_latest, list_offsets_error, unique};

use std::time::Duration;

use kafkaex_net::cluster::{Cluster, CoordinatorType, Route};
use kafkaex_net::config::NetConfig;
use kafkaex_net::metadata::LeaderLookup;
use kafkaex_net::versions::VersionChoice;
use kafkaex_net::NetError;
use kafkaex_protocol::messages::{ApiVersionsRequest, DescribeGroupsRequest, MetadataRequest};
use kafkaex_protocol::ErrorCode;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

/// An address where nothing listens (a port bound and released).
fn closed_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Asks for `topic` with auto-creation until partition 0 has a leader. The broker answers
/// `LEADER_NOT_AVAILABLE` (or `UNKNOWN_TOPIC_OR_PARTITION`) while it creates the topic; the
/// condition is polled, with a short pause between polls, for at most a minute.
async fn wait_for_leader(cluster: &Cluster, topic: &str) -> i32 {
    let topics = [topic.to_owned()];
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        cluster
            .refresh_metadata_with(Some(&topics), true)
            .await
            .expect("metadata refresh");
        let lookup = cluster.with_metadata(|m| m.leader(topic, 0));
        match lookup {
            LeaderLookup::Leader { node_id, .. } => return node_id,
            other => seen.push(other),
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{topic} got no leader; lookups: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn bootstrap_skips_a_bad_host_and_a_dead_port() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "bootstrap_skips_a_bad_host_and_a_dead_port",
    )
    .await
    else {
        return;
    };
    let mut bootstrap = vec!["no-such-host.invalid:9092".to_owned(), closed_address()];
    bootstrap.extend(brokers.bootstrap.iter().cloned());
    let cluster = Cluster::connect(&bootstrap, config_with_deadline(Duration::from_secs(60)))
        .await
        .unwrap();
    let metadata = cluster.metadata();
    assert!(!metadata.brokers().is_empty());
    assert!(metadata.cluster_id().is_some());
    assert!(metadata.controller_id().is_some());
}

#[tokio::test]
async fn all_bad_bootstrap_lists_each_address() {
    let Some(_brokers) =
        test_brokers(BrokerProfile::Kraft, "all_bad_bootstrap_lists_each_address").await
    else {
        return;
    };
    let bad = ["no-such-host.invalid:9092".to_owned(), closed_address()];
    let err = Cluster::connect(&bad, config_with_deadline(Duration::from_secs(60)))
        .await
        .unwrap_err();
    let NetError::NoBrokerAvailable { tried } = &err else {
        panic!("expected NoBrokerAvailable, got {err:?}");
    };
    let addresses: Vec<&str> = tried.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(addresses, [bad[0].as_str(), bad[1].as_str()]);
    for (address, cause) in tried {
        assert!(
            matches!(**cause, NetError::Connect { .. }),
            "{address}: {cause:?}"
        );
    }
    let text = err.to_string();
    assert!(text.contains(&bad[0]) && text.contains(&bad[1]), "{text}");
}

#[tokio::test]
async fn auto_created_topic_gets_a_leader_and_leader_route_reaches_it() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "auto_created_topic_gets_a_leader_and_leader_route_reaches_it",
    )
    .await
    else {
        return;
    };
    let cluster = Cluster::connect(
        &brokers.bootstrap,
        config_with_deadline(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let topic = unique("router-auto");
    let leader = wait_for_leader(&cluster, &topic).await;
    let metadata = cluster.metadata();
    let cached = metadata.topic(&topic).unwrap();
    assert_eq!(cached.error, ErrorCode::None);
    assert_eq!(
        cached.partition_count(),
        3,
        "xtask auto-creates 3 partitions"
    );
    assert_ne!(cached.topic_id, kafkaex_protocol::Uuid::ZERO);

    let conn = cluster.broker_for(Route::leader(&topic, 0)).await.unwrap();
    assert_eq!(conn.address(), metadata.broker(leader).unwrap().address());

    let kafkaex_net::Response { body: response, .. } = cluster
        .send_with_retry(
            Route::leader(&topic, 0),
            &list_latest(&topic, 0),
            VersionChoice::Newest,
            list_offsets_error,
        )
        .await
        .unwrap();
    assert_eq!(
        response.topics[0].partitions[0].offset, 0,
        "a new topic is empty"
    );
}

#[tokio::test]
async fn leader_route_to_a_missing_topic_reports_unknown_topic() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "leader_route_to_a_missing_topic_reports_unknown_topic",
    )
    .await
    else {
        return;
    };
    let cluster = Cluster::connect(&brokers.bootstrap, NetConfig::default())
        .await
        .unwrap();
    // Without auto-creation the topic stays unknown; a single send reports it.
    let topic = unique("router-missing");
    let err = cluster
        .send(
            Route::leader(&topic, 0),
            &list_latest(&topic, 0),
            VersionChoice::Newest,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.kafka_code(),
        Some(ErrorCode::UnknownTopicOrPartition),
        "{err}"
    );
    assert!(err.is_retriable());
    assert!(cluster.metadata().topic(&topic).is_none());
}

#[tokio::test]
async fn any_node_and_controller_routes() {
    let Some(brokers) = test_brokers(BrokerProfile::Kraft, "any_node_and_controller_routes").await
    else {
        return;
    };
    let cluster = Cluster::connect(&brokers.bootstrap, NetConfig::default())
        .await
        .unwrap();
    let metadata = cluster.metadata();

    // ApiVersions v3+ must name the client software, or the broker answers INVALID_REQUEST.
    let api_versions = ApiVersionsRequest::default()
        .with_client_software_name("kafkaex-router-test".into())
        .with_client_software_version("0.1".into());
    let kafkaex_net::Response {
        version,
        body: response,
        ..
    } = cluster
        .send(Route::Any, &api_versions, VersionChoice::Newest)
        .await
        .unwrap();
    assert!(version >= 3);
    assert_eq!(response.error_code, ErrorCode::None);

    for (node_id, broker) in metadata.brokers() {
        let conn = cluster.broker_for(Route::Node(*node_id)).await.unwrap();
        assert_eq!(conn.address(), broker.address());
        let kafkaex_net::Response { body: answer, .. } = cluster
            .send(
                Route::Node(*node_id),
                &MetadataRequest::default(),
                VersionChoice::Newest,
            )
            .await
            .unwrap();
        assert!(answer.brokers.iter().any(|b| b.node_id == *node_id));
    }
    let unknown = cluster.broker_for(Route::Node(987_654)).await.unwrap_err();
    assert!(
        matches!(unknown, NetError::UnknownBroker { node_id: 987_654 }),
        "{unknown:?}"
    );

    let controller = metadata.controller().expect("a controller id");
    let conn = cluster.broker_for(Route::Controller).await.unwrap();
    assert_eq!(conn.address(), controller.address());
    let kafkaex_net::Response { body: answer, .. } = cluster
        .send(
            Route::Controller,
            &MetadataRequest::default(),
            VersionChoice::Newest,
        )
        .await
        .unwrap();
    assert_eq!(answer.controller_id, controller.node_id);
    // One connection per node, reused across routes.
    assert_eq!(cluster.open_connection_count(), metadata.brokers().len());
}

#[tokio::test]
async fn group_and_transaction_coordinators_are_found_and_cached() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "group_and_transaction_coordinators_are_found_and_cached",
    )
    .await
    else {
        return;
    };
    let cluster = Cluster::connect(
        &brokers.bootstrap,
        config_with_deadline(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let group = unique("router-group");
    // The first FindCoordinator on a fresh broker may answer COORDINATOR_NOT_AVAILABLE while
    // __consumer_offsets is created: send_with_retry rides that out. A group nobody joined is
    // "Dead", and from DescribeGroups v6 (Kafka 4, KIP-1043) also GROUP_ID_NOT_FOUND: that is
    // the answer, not a failure.
    let kafkaex_net::Response {
        body: response,
        version,
        ..
    } = cluster
        .send_with_retry(
            Route::GroupCoordinator(group.clone()),
            &DescribeGroupsRequest::default().with_groups(vec![group.clone()]),
            VersionChoice::Newest,
            |r| {
                r.groups
                    .iter()
                    .map(|g| g.error_code)
                    .find(|c| !c.is_ok() && *c != ErrorCode::GroupIdNotFound)
            },
        )
        .await
        .unwrap();
    assert_eq!(version, 6, "Kafka 4.4's newest DescribeGroups");
    let described = &response.groups[0];
    assert_eq!(described.group_id, group);
    assert_eq!(described.group_state, "Dead", "a group nobody joined");
    assert_eq!(described.error_code, ErrorCode::GroupIdNotFound);
    assert!(
        described
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains(&group)),
        "{described:?}"
    );

    let info = cluster
        .find_coordinator(CoordinatorType::Group, &group)
        .await
        .unwrap();
    let broker = cluster.with_metadata(|m| m.broker(info.node_id).cloned());
    assert_eq!(
        info.address,
        broker.expect("coordinator is a known broker").address()
    );
    let conn = cluster
        .broker_for(Route::GroupCoordinator(group.clone()))
        .await
        .unwrap();
    assert_eq!(conn.address(), info.address);

    // The transaction coordinator, with retries for COORDINATOR_NOT_AVAILABLE while
    // __transaction_state is created.
    let txn = unique("router-txn");
    let policy = cluster.config().retry.clone();
    let found = kafkaex_net::retry::retry(&policy, |_| {
        cluster.find_coordinator(CoordinatorType::Transaction, &txn)
    })
    .await
    .unwrap();
    assert!(cluster.with_metadata(|m| m.broker(found.node_id).is_some()));
    let conn = cluster
        .broker_for(Route::TransactionCoordinator(txn.clone()))
        .await
        .unwrap();
    assert_eq!(conn.address(), found.address);

    cluster.invalidate_coordinator(CoordinatorType::Group, &group);
    let again = cluster
        .find_coordinator(CoordinatorType::Group, &group)
        .await
        .unwrap();
    assert_eq!(again, info);
}
