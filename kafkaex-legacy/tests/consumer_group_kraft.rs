//! ConsumerGroup and GenConsumer against the KRaft broker (Kafka 4): kayrock.md's example with
//! Kafka offset storage (Fetch v4: Kafka 4 has no Fetch v0-v3) resuming at the committed
//! offset; two members sharing four partitions and handing them over; a failing consumer
//! restarted at the last commit while the others flow; version 0 offsets as the typed error.

mod common_group;

use std::sync::Arc;

use common_group::{
    committed, create_topic, options, poll, produce, unique, uris, values, worker, Record, Recorder,
};
use kafkaex_legacy::consumer_group::{
    ApiVersions, ConsumerGroup, ConsumerGroupOptions, PartitionStatus,
};
use kafkaex_protocol::messages::leave_group_request::MemberIdentity;
use kafkaex_protocol::messages::LeaveGroupRequest;
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
    common_group::scenarios::kayrock_example(&uris, 4).await;
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
    common_group::scenarios::two_members(&uris, 4).await;
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

#[tokio::test]
async fn a_member_removed_by_the_coordinator_rejoins_and_resumes_at_the_commit() {
    let Some(uris) = uris(
        PROFILE,
        "a_member_removed_by_the_coordinator_rejoins_and_resumes_at_the_commit",
    )
    .await
    else {
        return;
    };
    let w = worker(&uris, None).await;
    let topic = unique("cg-kick");
    let group = unique("cg-kick-g");
    create_topic(&w, &topic, 2).await;
    let record = Arc::new(Record {
        sync: true,
        ..Default::default()
    });
    let cg = ConsumerGroup::start_link::<Recorder>(
        ("m".into(), Arc::clone(&record)),
        group.as_str(),
        [topic.as_str()],
        options(&uris, 4),
    )
    .await
    .expect("start_link");
    poll("active", || async {
        cg.active() && cg.assignments().len() == 2
    })
    .await;
    for p in 0..2 {
        produce(&w, &topic, p, &values(&format!("a{p}"), 3)).await;
    }
    poll("6 consumed", || async { record.values().len() == 6 }).await;
    for p in 0..2 {
        // (A set handled but not yet committed when the member is removed is consumed again:
        // at least once.)
        poll("3 committed", || async {
            committed(&w, &group, &topic, p, 3).await.1 == 3
        })
        .await;
    }
    // The coordinator forgets the member (as after a session timeout): its next heartbeat
    // gets unknown_member_id. KafkaEx rejoined with the stale id and crashed; this member
    // drops its consumers and rejoins with a fresh id.
    let old = cg.member_id();
    // (Not the facade's leave_group, which sets member_id and members together, which no
    // LeaveGroup version encodes.)
    let left = w
        .client()
        .request(
            &LeaveGroupRequest::default()
                .with_group_id(group.clone())
                .with_members(vec![MemberIdentity::default().with_member_id(old.clone())]),
        )
        .await
        .expect("LeaveGroup")
        .body;
    let code = left
        .members
        .first()
        .map_or(left.error_code, |m| m.error_code);
    assert!(code.is_ok(), "{code:?}");
    poll("rejoined with a new member id", || async {
        let id = cg.member_id();
        !id.is_empty() && id != old && cg.active() && cg.assignments().len() == 2
    })
    .await;
    for p in 0..2 {
        produce(&w, &topic, p, &values(&format!("b{p}"), 3)).await;
    }
    poll("12 consumed", || async { record.values().len() == 12 }).await;
    for p in 0..2 {
        assert_eq!(record.offsets(&topic, p), (0..6).collect::<Vec<_>>());
    }
    assert!(cg.failure().is_none());
    cg.stop().await;
}

#[tokio::test]
async fn commit_threshold_commits_without_waiting_for_the_interval() {
    let Some(uris) = uris(
        PROFILE,
        "commit_threshold_commits_without_waiting_for_the_interval",
    )
    .await
    else {
        return;
    };
    let w = worker(&uris, None).await;
    let topic = unique("cg-threshold");
    let group = unique("cg-threshold-g");
    create_topic(&w, &topic, 1).await;
    let record = Arc::new(Record::default());
    let cg = ConsumerGroup::start_link::<Recorder>(
        ("m".into(), Arc::clone(&record)),
        group.as_str(),
        [topic.as_str()],
        ConsumerGroupOptions {
            commit_interval: Some(std::time::Duration::from_secs(3600)),
            commit_threshold: Some(5),
            ..options(&uris, 4)
        },
    )
    .await
    .expect("start_link");
    poll("active", || async { cg.active() }).await;
    produce(&w, &topic, 0, &values("a", 4)).await;
    poll("4 consumed", || async { record.values().len() == 4 }).await;
    // 4 < threshold and the interval is an hour: nothing committed yet.
    assert_eq!(
        committed(&w, &group, &topic, 0, 3).await,
        ("no_error".into(), -1)
    );
    produce(&w, &topic, 0, &values("b", 1)).await;
    poll("the threshold commits offset 5", || async {
        committed(&w, &group, &topic, 0, 3).await == ("no_error".into(), 5)
    })
    .await;
    produce(&w, &topic, 0, &values("c", 2)).await;
    poll("7 consumed", || async { record.values().len() == 7 }).await;
    // Stopping commits what was handled.
    cg.stop().await;
    assert_eq!(
        committed(&w, &group, &topic, 0, 3).await,
        ("no_error".into(), 7)
    );
}
