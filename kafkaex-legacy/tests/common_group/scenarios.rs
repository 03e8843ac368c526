//! The scenarios the KRaft and ZooKeeper test files both run, at the Fetch version each broker
//! has (Kafka 4 has no Fetch v0-v3).

use std::collections::BTreeSet;
use std::sync::Arc;

use kafkaex_legacy::consumer_group::ConsumerGroup;

use super::{
    committed, create_topic, options, poll, produce, unique, values, worker, Record, Recorder,
};

/// kayrock.md's example (`api_versions: %{offset_fetch: 3, offset_commit: 3, fetch: fetch}`):
/// consumes, commits the next offset to Kafka storage, and a restarted group resumes exactly
/// there.
pub(crate) async fn kayrock_example(uris: &[(String, u16)], fetch: i16) {
    let w = worker(uris, None).await;
    let topic = unique("cg-kayrock");
    let group = unique("cg-kayrock-g");
    create_topic(&w, &topic, 1).await;
    produce(&w, &topic, 0, &values("a", 10)).await;

    let record = Arc::new(Record::default());
    let cg = ConsumerGroup::start_link::<Recorder>(
        ("one".into(), Arc::clone(&record)),
        group.as_str(),
        [topic.as_str()],
        options(uris, fetch),
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
        options(uris, fetch),
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

/// What [`two_members`] leaves behind: the group, its topic, every message consumed.
pub(crate) struct TwoMembers {
    pub(crate) w: kafkaex_legacy::Worker,
    pub(crate) group: String,
    pub(crate) topic: String,
}

/// Two members share a 4-partition topic: disjoint assignments covering it, one leader, each
/// consuming only its partitions; stopping one hands everything to the other; after shutdown
/// every partition's committed offset (v3) is the last consumed + 1.
pub(crate) async fn two_members(uris: &[(String, u16)], fetch: i16) -> TwoMembers {
    let w = worker(uris, None).await;
    let topic = unique("cg-two");
    let group = unique("cg-two-g");
    create_topic(&w, &topic, 4).await;
    let record = Arc::new(Record::default());
    let start = |label: &str| {
        ConsumerGroup::start_link::<Recorder>(
            (label.into(), Arc::clone(&record)),
            group.clone(),
            [topic.clone()],
            options(uris, fetch),
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
    TwoMembers { w, group, topic }
}
