//! The metadata cache, fed hand-built Metadata responses: merging, full and partial refreshes,
//! generations, transient errors, invalidation, leader epochs and hostile values.

use super::{ClusterMetadata, LeaderLookup, RefreshKind, StaleGeneration};
use kafkaex_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkaex_protocol::messages::MetadataResponse;
use kafkaex_protocol::{ErrorCode, Uuid};

fn broker(id: i32) -> MetadataResponseBroker {
    MetadataResponseBroker::default()
        .with_node_id(id)
        .with_host(format!("broker{id}.example"))
        .with_port(9092 + id)
}

fn partition(index: i32, leader: i32, epoch: i32) -> MetadataResponsePartition {
    MetadataResponsePartition::default()
        .with_partition_index(index)
        .with_leader_id(leader)
        .with_leader_epoch(epoch)
        .with_replica_nodes(vec![1, 2, 3])
        .with_isr_nodes(vec![1, 2, 3])
}

fn topic(name: &str, partitions: Vec<MetadataResponsePartition>) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(Some(name.to_owned()))
        .with_topic_id(Uuid([7; 16]))
        .with_partitions(partitions)
}

fn topic_error(name: &str, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(Some(name.to_owned()))
        .with_error_code(code)
}

fn response(topics: Vec<MetadataResponseTopic>) -> MetadataResponse {
    MetadataResponse::default()
        .with_brokers(vec![broker(1), broker(2), broker(3)])
        .with_controller_id(2)
        .with_cluster_id(Some("cluster-a".into()))
        .with_topics(topics)
}

/// Applies `response` as a fresh refresh.
fn refresh(cache: &mut ClusterMetadata, kind: RefreshKind, response: &MetadataResponse) {
    let generation = cache.begin_refresh();
    cache
        .apply(generation, kind, response)
        .expect("fresh generation");
}

fn leader(node_id: i32, epoch: i32) -> LeaderLookup {
    LeaderLookup::Leader {
        node_id,
        leader_epoch: Some(epoch),
    }
}

#[test]
fn full_response_fills_brokers_controller_topics_and_partitions() {
    let mut cache = ClusterMetadata::new();
    let mut internal = topic("__consumer_offsets", vec![partition(0, 3, 1)]);
    internal.is_internal = true;
    let mut p1 = partition(1, 2, 4);
    p1.offline_replicas = vec![3];
    p1.isr_nodes = vec![1, 2];
    let mut resp = response(vec![topic("a", vec![partition(0, 1, 5), p1]), internal]);
    resp.brokers[0].rack = Some("rack-1".into());
    refresh(&mut cache, RefreshKind::Full, &resp);

    assert_eq!(cache.brokers().len(), 3);
    let b1 = cache.broker(1).unwrap();
    assert_eq!(b1.address(), "broker1.example:9093");
    assert_eq!(b1.rack.as_deref(), Some("rack-1"));
    assert_eq!(cache.controller_id(), Some(2));
    assert_eq!(cache.controller().unwrap().node_id, 2);
    assert_eq!(cache.cluster_id(), Some("cluster-a"));
    assert_eq!(cache.partition_count("a"), Some(2));
    assert_eq!(cache.leader("a", 0), leader(1, 5));
    assert_eq!(cache.leader("a", 1), leader(2, 4));
    let p = cache.partition("a", 1).unwrap();
    assert_eq!(p.replicas(), [1, 2, 3]);
    assert_eq!(p.isr(), [1, 2]);
    assert_eq!(p.offline_replicas(), [3]);
    assert_eq!(cache.topic("a").unwrap().topic_id, Uuid([7; 16]));
    assert!(cache.topic("__consumer_offsets").unwrap().is_internal);
    assert!(!cache.topic("a").unwrap().is_internal);
    assert!(cache.topics_needing_refresh().is_empty());
}

#[test]
fn unknown_topic_or_partition_asks_for_a_refresh() {
    let mut cache = ClusterMetadata::new();
    assert_eq!(
        cache.leader("nope", 0),
        LeaderLookup::Refresh {
            reason: ErrorCode::UnknownTopicOrPartition
        }
    );
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 1, 0)])]),
    );
    assert_eq!(
        cache.leader("a", 9),
        LeaderLookup::Refresh {
            reason: ErrorCode::UnknownTopicOrPartition
        }
    );
}

#[test]
fn partial_refresh_keeps_other_topics() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![
            topic("a", vec![partition(0, 1, 1)]),
            topic("b", vec![partition(0, 2, 1)]),
        ]),
    );
    // Only b, now led by 3.
    let update_b = response(vec![topic("b", vec![partition(0, 3, 2)])]);
    refresh(&mut cache, RefreshKind::Partial, &update_b);
    assert_eq!(cache.leader("a", 0), leader(1, 1));
    assert_eq!(cache.leader("b", 0), leader(3, 2));
    // A new topic merges in.
    refresh(
        &mut cache,
        RefreshKind::Partial,
        &response(vec![topic("c", vec![partition(0, 2, 0)])]),
    );
    let names: Vec<&String> = cache.topics().keys().collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn full_refresh_drops_deleted_topics() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![
            topic("a", vec![partition(0, 1, 1)]),
            topic("b", vec![partition(0, 2, 1)]),
        ]),
    );
    let generation = cache.begin_refresh();
    let update = cache
        .apply(
            generation,
            RefreshKind::Full,
            &response(vec![topic("b", vec![partition(0, 2, 1)])]),
        )
        .unwrap();
    assert_eq!(update.removed_topics, ["a"]);
    assert!(cache.topic("a").is_none());
    assert_eq!(cache.leader("b", 0), leader(2, 1));
}

#[test]
fn unknown_topic_in_a_response_removes_it() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 1, 1)])]),
    );
    let generation = cache.begin_refresh();
    let update = cache
        .apply(
            generation,
            RefreshKind::Partial,
            &response(vec![topic_error("a", ErrorCode::UnknownTopicOrPartition)]),
        )
        .unwrap();
    assert_eq!(update.removed_topics, ["a"]);
    assert!(cache.topic("a").is_none());
    assert!(matches!(cache.leader("a", 0), LeaderLookup::Refresh { .. }));
}

#[test]
fn stale_generation_is_refused_and_changes_nothing() {
    let mut cache = ClusterMetadata::new();
    let older = cache.begin_refresh();
    let newer = cache.begin_refresh();
    assert!(older < newer);
    cache
        .apply(
            newer,
            RefreshKind::Full,
            &response(vec![topic("a", vec![partition(0, 2, 7)])]),
        )
        .unwrap();
    // The earlier request's response arrives late, naming an old leader and another topic.
    let late = response(vec![
        topic("a", vec![partition(0, 1, 7)]),
        topic("x", vec![]),
    ]);
    let err = cache.apply(older, RefreshKind::Full, &late).unwrap_err();
    assert_eq!(
        err,
        StaleGeneration {
            refused: older,
            applied: newer
        }
    );
    assert_eq!(cache.leader("a", 0), leader(2, 7));
    assert!(cache.topic("x").is_none());
    assert_eq!(cache.applied_generation(), Some(newer));
    // The same generation again is not "older": a second response of one refresh applies.
    cache
        .apply(
            newer,
            RefreshKind::Partial,
            &response(vec![topic("x", vec![])]),
        )
        .unwrap();
    assert!(cache.topic("x").is_some());
}

#[test]
fn transient_partition_error_is_kept_as_no_leader_and_healed_later() {
    let mut cache = ClusterMetadata::new();
    let electing = partition(0, -1, 3).with_error_code(ErrorCode::LeaderNotAvailable);
    let generation = cache.begin_refresh();
    let update = cache
        .apply(
            generation,
            RefreshKind::Full,
            &response(vec![topic("a", vec![electing, partition(1, 2, 1)])]),
        )
        .unwrap();
    assert_eq!(
        update.errors,
        [("a".to_owned(), Some(0), ErrorCode::LeaderNotAvailable)]
    );
    let p0 = cache.partition("a", 0).expect("the partition is kept");
    assert_eq!(p0.leader, None);
    assert_eq!(p0.error, ErrorCode::LeaderNotAvailable);
    assert_eq!(
        cache.leader("a", 0),
        LeaderLookup::Refresh {
            reason: ErrorCode::LeaderNotAvailable
        }
    );
    // The other partition is usable meanwhile.
    assert_eq!(cache.leader("a", 1), leader(2, 1));
    assert_eq!(cache.topics_needing_refresh(), ["a"]);

    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic(
            "a",
            vec![partition(0, 3, 4), partition(1, 2, 1)],
        )]),
    );
    assert_eq!(cache.leader("a", 0), leader(3, 4));
    assert_eq!(cache.partition("a", 0).unwrap().error, ErrorCode::None);
    assert!(cache.topics_needing_refresh().is_empty());
}

#[test]
fn topic_being_created_is_kept_until_it_has_partitions() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Partial,
        &response(vec![topic_error("new", ErrorCode::LeaderNotAvailable)]),
    );
    assert_eq!(
        cache.topic("new").unwrap().error,
        ErrorCode::LeaderNotAvailable
    );
    assert_eq!(
        cache.leader("new", 0),
        LeaderLookup::Refresh {
            reason: ErrorCode::LeaderNotAvailable
        }
    );
    assert_eq!(cache.topics_needing_refresh(), ["new"]);
    refresh(
        &mut cache,
        RefreshKind::Partial,
        &response(vec![topic("new", vec![partition(0, 1, 0)])]),
    );
    assert_eq!(cache.leader("new", 0), leader(1, 0));
}

#[test]
fn non_retriable_topic_error_is_reported_not_refreshed_forever() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("secret", vec![partition(0, 1, 1)])]),
    );
    refresh(
        &mut cache,
        RefreshKind::Partial,
        &response(vec![topic_error(
            "secret",
            ErrorCode::TopicAuthorizationFailed,
        )]),
    );
    assert_eq!(
        cache.leader("secret", 0),
        LeaderLookup::Error(ErrorCode::TopicAuthorizationFailed)
    );
    assert!(cache.topics_needing_refresh().is_empty());
}

#[test]
fn invalidated_partition_asks_for_refresh_until_a_later_refresh() {
    let mut cache = ClusterMetadata::new();
    let initial = response(vec![topic(
        "a",
        vec![partition(0, 1, 5), partition(1, 2, 5)],
    )]);
    refresh(&mut cache, RefreshKind::Full, &initial);

    // A refresh was begun before the broker said NOT_LEADER_OR_FOLLOWER...
    let early = cache.begin_refresh();
    cache.invalidate_partition("a", 0);
    assert!(cache.partition("a", 0).unwrap().is_invalidated());
    assert_eq!(
        cache.leader("a", 0),
        LeaderLookup::Refresh {
            reason: ErrorCode::NotLeaderOrFollower
        }
    );
    assert_eq!(
        cache.leader("a", 1),
        leader(2, 5),
        "other partitions stay usable"
    );
    assert_eq!(cache.topics_needing_refresh(), ["a"]);
    // ...so its answer (the same old leader and epoch) does not clear the mark.
    cache.apply(early, RefreshKind::Full, &initial).unwrap();
    assert!(matches!(cache.leader("a", 0), LeaderLookup::Refresh { .. }));

    // A refresh begun after the invalidation does, even with the same leader.
    refresh(&mut cache, RefreshKind::Full, &initial);
    assert_eq!(cache.leader("a", 0), leader(1, 5));
}

#[test]
fn an_early_refresh_with_a_newer_epoch_clears_the_invalidation() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 1, 5)])]),
    );
    let early = cache.begin_refresh();
    cache.invalidate_partition("a", 0);
    cache
        .apply(
            early,
            RefreshKind::Full,
            &response(vec![topic("a", vec![partition(0, 3, 6)])]),
        )
        .unwrap();
    assert_eq!(cache.leader("a", 0), leader(3, 6));
}

#[test]
fn invalidated_topic_asks_for_refresh() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![
            topic("a", vec![partition(0, 1, 1), partition(1, 1, 1)]),
            topic("b", vec![partition(0, 1, 1)]),
        ]),
    );
    cache.invalidate_topic("a");
    assert!(cache.topic("a").unwrap().is_invalidated());
    assert!(matches!(cache.leader("a", 0), LeaderLookup::Refresh { .. }));
    assert!(matches!(cache.leader("a", 1), LeaderLookup::Refresh { .. }));
    assert_eq!(cache.leader("b", 0), leader(1, 1));
    assert_eq!(cache.topics_needing_refresh(), ["a"]);
    // Invalidating what is not cached is harmless.
    cache.invalidate_topic("zzz");
    cache.invalidate_partition("a", 99);
    cache.invalidate_partition("zzz", 0);

    refresh(
        &mut cache,
        RefreshKind::Partial,
        &response(vec![topic(
            "a",
            vec![partition(0, 2, 2), partition(1, 1, 1)],
        )]),
    );
    assert_eq!(cache.leader("a", 0), leader(2, 2));
    assert!(!cache.topic("a").unwrap().is_invalidated());
}

#[test]
fn leader_epoch_does_not_go_backwards() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic(
            "a",
            vec![partition(0, 2, 8), partition(1, 1, 3)],
        )]),
    );
    // A lagging broker still thinks broker 1 leads partition 0 at epoch 7; partition 1 moved on.
    let generation = cache.begin_refresh();
    let update = cache
        .apply(
            generation,
            RefreshKind::Full,
            &response(vec![topic(
                "a",
                vec![partition(0, 1, 7), partition(1, 3, 4)],
            )]),
        )
        .unwrap();
    assert_eq!(update.kept_newer_epoch, [("a".to_owned(), 0, 8, 7)]);
    assert_eq!(cache.leader("a", 0), leader(2, 8));
    assert_eq!(cache.leader("a", 1), leader(3, 4));
    // The same epoch is accepted (ISR changes do not bump the leader epoch).
    let mut same = partition(0, 2, 8);
    same.isr_nodes = vec![2];
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![same, partition(1, 3, 4)])]),
    );
    assert_eq!(cache.partition("a", 0).unwrap().isr(), [2]);
}

#[test]
fn an_older_epoch_keeps_an_invalidation_so_the_next_lookup_asks_again() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 2, 8)])]),
    );
    cache.invalidate_partition("a", 0);
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 1, 7)])]),
    );
    assert!(matches!(cache.leader("a", 0), LeaderLookup::Refresh { .. }));
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 3, 9)])]),
    );
    assert_eq!(cache.leader("a", 0), leader(3, 9));
}

#[test]
fn recreated_topic_restarts_epochs() {
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 2, 8)])]),
    );
    let recreated = topic("a", vec![partition(0, 1, 0)]).with_topic_id(Uuid([9; 16]));
    refresh(&mut cache, RefreshKind::Full, &response(vec![recreated]));
    assert_eq!(cache.leader("a", 0), leader(1, 0));
    assert_eq!(cache.topic("a").unwrap().topic_id, Uuid([9; 16]));
}

#[test]
fn brokers_without_epochs_are_taken_as_they_come() {
    // Metadata v6 and older carry no leader epoch (-1): nothing to compare, the response wins.
    let mut cache = ClusterMetadata::new();
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 2, -1)])]),
    );
    assert_eq!(
        cache.leader("a", 0),
        LeaderLookup::Leader {
            node_id: 2,
            leader_epoch: None
        }
    );
    refresh(
        &mut cache,
        RefreshKind::Full,
        &response(vec![topic("a", vec![partition(0, 3, -1)])]),
    );
    assert_eq!(
        cache.leader("a", 0),
        LeaderLookup::Leader {
            node_id: 3,
            leader_epoch: None
        }
    );
}

#[test]
fn hostile_values_do_not_panic() {
    let mut cache = ClusterMetadata::new();
    let bad_brokers = vec![
        broker(1),
        MetadataResponseBroker::default()
            .with_node_id(4)
            .with_host(String::new())
            .with_port(9092),
        MetadataResponseBroker::default()
            .with_node_id(5)
            .with_host("h".into())
            .with_port(-1),
        MetadataResponseBroker::default()
            .with_node_id(6)
            .with_host("h".into())
            .with_port(70_000),
        MetadataResponseBroker::default()
            .with_node_id(7)
            .with_host("h".into())
            .with_port(0),
        MetadataResponseBroker::default()
            .with_node_id(-3)
            .with_host("::1".into())
            .with_port(1),
        // A duplicate node id: the last one is kept.
        MetadataResponseBroker::default()
            .with_node_id(1)
            .with_host("again".into())
            .with_port(1),
    ];
    let resp = MetadataResponse::default()
        .with_brokers(bad_brokers)
        .with_controller_id(i32::MIN)
        .with_topics(vec![
            topic(
                "a",
                vec![
                    partition(-1, 1, 1),
                    partition(i32::MIN, 1, 1),
                    partition(0, 99, 1), // leader not in the broker list
                    partition(1, 1, i32::MAX),
                    partition(1, 1, 2), // duplicate partition
                    partition(i32::MAX, 1, 1),
                    partition(2, i32::MIN, i32::MIN),
                ],
            ),
            // A nameless topic (Metadata v10+ by id) cannot be keyed by name: skipped.
            MetadataResponseTopic::default()
                .with_name(None)
                .with_partitions(vec![partition(0, 1, 1)]),
            MetadataResponseTopic::default()
                .with_name(Some(String::new()))
                .with_partitions(vec![partition(0, 1, 1)]),
            topic_error("b", ErrorCode::Unknown(i16::MIN)),
            topic_error("c", ErrorCode::Unknown(-1234)).with_partitions(vec![partition(0, 1, 1)]),
        ]);
    for kind in [RefreshKind::Full, RefreshKind::Partial] {
        refresh(&mut cache, kind, &resp);
    }
    assert_eq!(cache.brokers().len(), 2, "only usable brokers are kept");
    assert_eq!(cache.broker(1).unwrap().host, "again");
    assert_eq!(cache.broker(-3).unwrap().address(), "[::1]:1");
    assert_eq!(cache.controller_id(), None);
    assert!(cache.controller().is_none());
    assert_eq!(
        cache.leader("a", 0),
        LeaderLookup::Refresh {
            reason: ErrorCode::LeaderNotAvailable
        }
    );
    assert!(matches!(
        cache.leader("a", -1),
        LeaderLookup::Refresh { .. }
    ));
    assert!(matches!(
        cache.leader("a", 1),
        LeaderLookup::Leader { node_id: 1, .. }
    ));
    assert_eq!(cache.partition("a", 2).unwrap().leader, None);
    assert_eq!(cache.partition_count("a"), Some(4)); // 0, 1, 2 and i32::MAX
    assert!(matches!(
        cache.leader("b", 0),
        LeaderLookup::Error(ErrorCode::Unknown(_))
    ));
    assert!(matches!(
        cache.leader("c", 0),
        LeaderLookup::Error(ErrorCode::Unknown(-1234))
    ));
    assert_eq!(cache.topics().len(), 3);

    // Generations from outside the cache's own counter are refused or accepted without panics.
    let mut other = ClusterMetadata::new();
    let g = other.begin_refresh();
    let _ = other.begin_refresh();
    let g2 = other.begin_refresh();
    cache.apply(g2, RefreshKind::Full, &resp).ok();
    cache.apply(g, RefreshKind::Full, &resp).ok();
    assert!(cache.begin_refresh() > g2);
}
