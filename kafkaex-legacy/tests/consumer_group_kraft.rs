//! ConsumerGroup and GenConsumer against the KRaft broker (Kafka 4): kayrock.md's example with
//! Kafka offset storage (Fetch v4: Kafka 4 has no Fetch v0-v3) resuming at the committed
//! offset; two members sharing four partitions and handing them over; a failing consumer
//! restarted at the last commit while the others flow; version 0 offsets as the typed error.

mod common_group;

use std::collections::BTreeSet;
use std::sync::Arc;

use common_group::{
    committed, create_topic, options, poll, produce, unique, uris, values, worker, Record, Recorder,
};
use kafkaex_legacy::consumer_group::{
    ApiVersions, ConsumerGroup, ConsumerGroupOptions, PartitionStatus,
};
use kafkaex_protocol::ApiKey;
use kafkaex_testkit::provider::BrokerProfile;

const PROFILE: BrokerProfile = BrokerProfile::Kraft;

#[tokio::test]
async fn kayrock_example_commits_to_kafka_and_a_restart_resumes_there() {
    let Some(uris) = uris(
        PROFILE,
        "kayrock_example_commits_to_kafka_and_a_restart_resumes_there",
    )
    .await
    else {
        return;
    };
    let w = worker(&uris, None).await;
    let topic = unique("cg-kayrock");
    let group = unique("cg-kayrock-g");
    create_topic(&w, &topic, 1).await;
    produce(&w, &topic, 0, &values("a", 10)).await;

    let record = Arc::new(Record::default());
    let cg = ConsumerGroup::start_link::<Recorder>(
        ("one".into(), Arc::clone(&record)),
        group.as_str(),
        [topic.as_str()],
        options(&uris, 4),
    )
    .await
    .expect("start_link");
    poll("10 messages consumed", || async {
        record.values().len() == 10
    })
    .await;
    assert_eq!(record.offsets(&topic, 0), (0..10).collect::<Vec<_>>());
    // The async commit (interval 500 ms) stores the next offset in Kafka storage.
    poll("offset 10 committed", || async {
        committed(&w, &group, &topic, 0, 3).await == ("no_error".into(), 10)
    })
    .await;
    cg.stop().await;
    assert!(!cg.active());

    produce(&w, &topic, 0, &values("b", 5)).await;
    let again = Arc::new(Record::default());
    let cg = ConsumerGroup::start_link::<Recorder>(
        ("two".into(), Arc::clone(&again)),
        group.as_str(),
        [topic.as_str()],
        options(&uris, 4),
    )
    .await
    .expect("start_link again");
    poll("5 new messages consumed", || async {
        again.values().len() == 5
    })
    .await;
    // Resumed exactly at the committed offset: nothing of the first run again.
    assert_eq!(again.offsets(&topic, 0), (10..15).collect::<Vec<_>>());
    assert_eq!(again.values(), values("b", 5).into_iter().collect());
    cg.stop().await;
    assert_eq!(
        committed(&w, &group, &topic, 0, 3).await,
        ("no_error".into(), 15)
    );
}

#[tokio::test]
async fn two_members_share_four_partitions_and_hand_them_over() {
    let Some(uris) = uris(
        PROFILE,
        "two_members_share_four_partitions_and_hand_them_over",
    )
    .await
    else {
        return;
    };
    let w = worker(&uris, None).await;
    let topic = unique("cg-two");
    let group = unique("cg-two-g");
    create_topic(&w, &topic, 4).await;
    let record = Arc::new(Record::default());
    let start = |label: &str| {
        ConsumerGroup::start_link::<Recorder>(
            (label.into(), Arc::clone(&record)),
            group.clone(),
            [topic.clone()],
            options(&uris, 4),
        )
    };
    let a = start("a").await.expect("a");
    let b = start("b").await.expect("b");
    poll("both members share one generation", || async {
        a.active()
            && b.active()
            && a.generation_id() == b.generation_id()
            && a.assignments().len() + b.assignments().len() == 4
    })
    .await;
    let sa: BTreeSet<(String, i32)> = a.assignments().into_iter().collect();
    let sb: BTreeSet<(String, i32)> = b.assignments().into_iter().collect();
    assert!(sa.is_disjoint(&sb), "{sa:?} {sb:?}");
    let all: BTreeSet<(String, i32)> = (0..4).map(|p| (topic.clone(), p)).collect();
    assert_eq!(sa.union(&sb).cloned().collect::<BTreeSet<_>>(), all);
    // Round robin of 4 partitions over 2 members: 2 each.
    assert_eq!((sa.len(), sb.len()), (2, 2));
    assert_eq!(u8::from(a.is_leader()) + u8::from(b.is_leader()), 1);
    assert_eq!(a.leader_id(), b.leader_id());
    let leader = if a.is_leader() { &a } else { &b };
    assert_eq!(leader.leader_id(), leader.member_id());
    assert_ne!(a.member_id(), b.member_id());
    assert_eq!(a.group_name(), group);
    // One consumer per assigned partition, each answering calls for its partition.
    let consumers = a.partition_consumers();
    assert_eq!(consumers.keys().cloned().collect::<BTreeSet<_>>(), sa);
    for ((t, p), c) in &consumers {
        assert_eq!((c.topic(), c.partition()), (t.as_str(), *p));
        assert_eq!(c.call_as::<i32>("partition").await.expect("call"), *p);
    }
    // Produced once both share a generation: each message goes to its partition's owner.
    for p in 0..4 {
        produce(&w, &topic, p, &values(&format!("p{p}"), 5)).await;
    }
    poll("20 messages consumed", || async {
        record.values().len() == 20
    })
    .await;
    let by = record.by_label();
    assert_eq!(
        by["a"],
        sa.iter().map(|(_, p)| *p).collect::<BTreeSet<_>>(),
        "a consumed only its partitions"
    );

    a.stop().await;
    poll("b owns every partition", || async {
        b.active() && b.assignments().len() == 4
    })
    .await;
    assert!(b.is_leader());
    for p in 0..4 {
        produce(&w, &topic, p, &values(&format!("q{p}"), 5)).await;
    }
    poll("40 messages consumed", || async {
        record.values().len() == 40
    })
    .await;
    b.stop().await;
    for p in 0..4 {
        let last = record
            .offsets(&topic, p)
            .into_iter()
            .max()
            .expect("consumed");
        assert_eq!(last, 9);
        assert_eq!(
            committed(&w, &group, &topic, p, 3).await,
            ("no_error".into(), last + 1),
            "partition {p}"
        );
    }
    // Every message once: the hand-over resumed each partition at its commit.
    for p in 0..4 {
        assert_eq!(record.offsets(&topic, p).len(), 10, "partition {p}");
    }
}

#[tokio::test]
async fn a_failing_consumer_is_restarted_at_the_last_commit_and_the_others_flow() {
    let Some(uris) = uris(
        PROFILE,
        "a_failing_consumer_is_restarted_at_the_last_commit_and_the_others_flow",
    )
    .await
    else {
        return;
    };
    let w = worker(&uris, None).await;
    let topic = unique("cg-fail");
    let group = unique("cg-fail-g");
    create_topic(&w, &topic, 3).await;
    let record = Arc::new(Record {
        sync: true,
        ..Default::default()
    });
    for p in 0..3 {
        produce(&w, &topic, p, &values(&format!("first{p}"), 5)).await;
    }
    let cg = ConsumerGroup::start_link::<Recorder>(
        ("m".into(), Arc::clone(&record)),
        group.as_str(),
        [topic.as_str()],
        options(&uris, 4),
    )
    .await
    .expect("start_link");
    poll("15 consumed", || async { record.values().len() == 15 }).await;
    for p in 0..3 {
        poll("committed 5", || async {
            committed(&w, &group, &topic, p, 3).await.1 == 5
        })
        .await;
    }
    // Partition 0 fails (Err) and partition 1 panics on the first message of their next set.
    record.fail_once.lock().unwrap().insert("boom0".into());
    record.panic_once.lock().unwrap().insert("boom1".into());
    for p in 0..2 {
        let mut next = vec![format!("boom{p}")];
        next.extend(values(&format!("second{p}"), 4));
        produce(&w, &topic, p, &next).await;
    }
    produce(&w, &topic, 2, &values("second2", 5)).await;
    poll("everything consumed after the restarts", || async {
        record.values().len() == 30 - 2 + 2
    })
    .await;
    for p in 0..3 {
        // Each offset exactly once: the restarted consumers resumed at their commit (5).
        assert_eq!(
            record.offsets(&topic, p),
            (0..10).collect::<Vec<_>>(),
            "partition {p}"
        );
    }
    let consumers = cg.partition_consumers();
    assert_eq!(consumers[&(topic.clone(), 0)].restarts(), 1);
    assert_eq!(consumers[&(topic.clone(), 1)].restarts(), 1);
    assert_eq!(consumers[&(topic.clone(), 2)].restarts(), 0);
    let inits = record.inits.lock().unwrap().clone();
    assert_eq!(inits[&(topic.clone(), 0)], 2);
    assert_eq!(inits[&(topic.clone(), 1)], 2);
    assert_eq!(inits[&(topic.clone(), 2)], 1);
    for c in consumers.values() {
        assert!(matches!(c.status(), PartitionStatus::Running), "{c:?}");
    }
    // The group never noticed.
    assert!(cg.active());
    assert!(cg.failure().is_none());
    cg.stop().await;
    for p in 0..3 {
        assert_eq!(committed(&w, &group, &topic, p, 3).await.1, 10);
    }
}

#[tokio::test]
async fn old_versions_on_kafka_4_are_the_typed_unsupported_version_error() {
    let Some(uris) = uris(
        PROFILE,
        "old_versions_on_kafka_4_are_the_typed_unsupported_version_error",
    )
    .await
    else {
        return;
    };
    let w = worker(&uris, None).await;
    let topic = unique("cg-v0");
    create_topic(&w, &topic, 1).await;
    produce(&w, &topic, 0, &values("v", 1)).await;
    for (versions, api, asked) in [
        // KafkaEx's defaults: ZooKeeper offsets, which Kafka 4 removed.
        (ApiVersions::default(), ApiKey::OffsetFetch, 0),
        // kayrock.md's fetch: 3, gone from Kafka 4.
        (
            ApiVersions {
                fetch: 3,
                offset_fetch: 3,
                offset_commit: 3,
            },
            ApiKey::Fetch,
            3,
        ),
    ] {
        let record = Arc::new(Record::default());
        let cg = ConsumerGroup::start_link::<Recorder>(
            ("m".into(), Arc::clone(&record)),
            unique("cg-v0-g"),
            [topic.as_str()],
            ConsumerGroupOptions {
                api_versions: versions,
                ..options(&uris, 0)
            },
        )
        .await
        .expect("start_link");
        poll("the consumer failed", || async {
            cg.consumers()
                .iter()
                .any(|c| matches!(c.status(), PartitionStatus::Failed(_)))
        })
        .await;
        let c = cg.partition_consumer(&topic, 0).expect("consumer");
        let PartitionStatus::Failed(failure) = c.status() else {
            unreachable!()
        };
        let error = failure.error().expect("a facade error");
        assert_eq!(error.unsupported_version(), Some((api, asked)), "{error}");
        // Not restarted in vain, and the group itself is fine.
        assert_eq!(c.restarts(), 0);
        assert!(cg.active());
        assert!(record.values().is_empty());
        cg.stop().await;
    }
}
