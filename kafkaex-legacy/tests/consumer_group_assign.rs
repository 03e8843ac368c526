//! KafkaEx's `"assign"` protocol: a member that sends exactly what Elixir KafkaEx's
//! ConsumerGroup sends (JoinGroup/SyncGroup/Heartbeat/LeaveGroup v0, hand-written
//! version-0 subscription and assignment bytes; see `common_group/kafkaex_member.rs`) and our
//! ConsumerGroup share one group, first with the Elixir member leading, then with ours. Real
//! Elixir KafkaEx is not run: its bytes are reproduced from kafka_ex 0.15 / Kayrock 0.2.

mod common_group;

use std::collections::BTreeSet;
use std::sync::Arc;

use common_group::kafkaex_member::{read_assignment, subscription_bytes, KafkaExMember};
use common_group::{create_topic, options, poll, produce, unique, uris, worker, Record, Recorder};
use kafkaex_legacy::consumer_group::{round_robin, ConsumerGroup};
use kafkaex_testkit::provider::BrokerProfile;

const REBALANCE_IN_PROGRESS: i16 = 27;

fn set(parts: &[(String, Vec<i32>)]) -> BTreeSet<(String, i32)> {
    parts
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
        .collect()
}

async fn share_a_group_with_kafkaex(uris: &[(String, u16)], fetch: i16, expect_v0: bool) {
    let w = worker(uris, None).await;
    let topic = unique("cg-assign");
    let group = unique("cg-assign-g");
    create_topic(&w, &topic, 4).await;
    let topics = vec![topic.clone()];
    let counts = [(topic.clone(), 4)];
    let all: BTreeSet<(String, i32)> = (0..4).map(|p| (topic.clone(), p)).collect();

    // The Elixir member starts the group alone and leads it.
    let mut elixir = KafkaExMember::new(w.clone(), &group, &topics).await;
    eprintln!(
        "the Elixir member's JoinGroup/SyncGroup/Heartbeat/LeaveGroup versions: {:?}",
        elixir.versions
    );
    if expect_v0 {
        assert_eq!(
            elixir.versions,
            (0, 0, 0, 0),
            "the broker has v0 of the group APIs"
        );
    }
    assert_eq!(elixir.join().await, 0);
    assert!(elixir.is_leader());
    let plan = elixir.plan(&counts);
    assert_eq!(elixir.sync(plan).await, 0);
    assert_eq!(set(&elixir.assignment), all);

    // Ours joins: the group rebalances, the Elixir member rejoins and, still the leader,
    // assigns with KafkaEx's round robin over the members in the broker's order.
    let record = Arc::new(Record::default());
    let ours = ConsumerGroup::start_link::<Recorder>(
        ("ours".into(), Arc::clone(&record)),
        group.as_str(),
        [topic.as_str()],
        options(uris, fetch),
    )
    .await
    .expect("start_link");
    poll("the Elixir member is told to rejoin", || async {
        elixir.heartbeat().await == REBALANCE_IN_PROGRESS
    })
    .await;
    assert_eq!(elixir.join().await, 0);
    assert!(elixir.is_leader(), "the old leader keeps leading");
    assert_eq!(elixir.members.len(), 2);
    let (our_id, our_metadata) = elixir
        .members
        .iter()
        .find(|(m, _)| *m != elixir.member_id)
        .cloned()
        .expect("our member");
    // Our JoinGroup metadata is KafkaEx's, byte for byte.
    assert_eq!(our_metadata, subscription_bytes(&topics));
    let plan = elixir.plan(&counts);
    let ours_by_elixir = plan
        .iter()
        .find(|(m, _)| *m == our_id)
        .map(|(_, a)| set(&read_assignment(a).1))
        .expect("an assignment for ours");
    assert_eq!(elixir.sync(plan).await, 0);
    assert_eq!(ours_by_elixir.len(), 2);
    assert!(set(&elixir.assignment).is_disjoint(&ours_by_elixir));
    poll("ours runs what the Elixir leader gave it", || async {
        elixir.heartbeat().await == 0
            && ours.active()
            && ours.assignments().into_iter().collect::<BTreeSet<_>>() == ours_by_elixir
    })
    .await;
    assert_eq!(ours.member_id(), our_id);
    assert_eq!(ours.leader_id(), elixir.member_id);
    assert!(!ours.is_leader());
    assert_eq!(ours.generation_id(), elixir.generation_id);
    // And consumes exactly those partitions.
    for p in 0..4 {
        produce(&w, &topic, p, &[format!("gen1-{p}")]).await;
    }
    poll("ours consumed its two partitions", || async {
        elixir.heartbeat().await == 0 && record.values().len() == 2
    })
    .await;
    let consumed: BTreeSet<(String, i32)> = record.by_label()["ours"]
        .iter()
        .map(|p| (topic.clone(), *p))
        .collect();
    assert_eq!(consumed, ours_by_elixir);

    // The Elixir member goes (LeaveGroup, as its terminate): ours takes everything, leading.
    assert_eq!(elixir.leave().await, 0);
    poll("ours owns every partition", || async {
        ours.active() && ours.assignments().len() == 4 && ours.is_leader()
    })
    .await;

    // A new Elixir member (a rolling restart) joins as follower: ours leads, with the same
    // round robin, and sends version-0 assignments Kayrock reads.
    let mut elixir = KafkaExMember::new(w.clone(), &group, &topics).await;
    assert_eq!(elixir.join().await, 0);
    assert!(!elixir.is_leader());
    assert_eq!(elixir.leader_id, ours.member_id());
    assert!(elixir.members.is_empty(), "followers get no member list");
    assert_eq!(elixir.sync(Vec::new()).await, 0);
    let (version, parts, rest) = read_assignment(&elixir.assignment_blob);
    assert_eq!(version, 0);
    assert_eq!(rest, [0, 0, 0, 0], "zero-length user data");
    let mut ids = vec![elixir.member_id.clone(), ours.member_id()];
    ids.sort();
    let partitions: Vec<(String, i32)> = all.iter().cloned().collect();
    let expected = round_robin(&ids, &partitions);
    assert_eq!(
        set(&parts),
        expected[&elixir.member_id].iter().cloned().collect(),
        "KafkaEx's round robin over the members sorted by id"
    );
    let ours_expected: BTreeSet<(String, i32)> =
        expected[&ours.member_id()].iter().cloned().collect();
    poll("ours runs its half as leader", || async {
        elixir.heartbeat().await == 0
            && ours.active()
            && ours.is_leader()
            && ours.assignments().into_iter().collect::<BTreeSet<_>>() == ours_expected
    })
    .await;
    assert_eq!(ours.generation_id(), elixir.generation_id);
    assert_eq!(elixir.leave().await, 0);
    ours.stop().await;
}

#[tokio::test]
async fn kraft_a_kafkaex_member_and_ours_each_lead_in_turn() {
    let Some(uris) = uris(
        BrokerProfile::Kraft,
        "kraft_a_kafkaex_member_and_ours_each_lead_in_turn",
    )
    .await
    else {
        return;
    };
    // Kafka 4 still has the group APIs' v0 (KIP-896 left them): KafkaEx's requests exactly.
    share_a_group_with_kafkaex(&uris, 4, true).await;
}

#[tokio::test]
async fn zk_a_kafkaex_member_at_v0_and_ours_each_lead_in_turn() {
    let Some(uris) = uris(
        BrokerProfile::Zk,
        "zk_a_kafkaex_member_at_v0_and_ours_each_lead_in_turn",
    )
    .await
    else {
        return;
    };
    share_a_group_with_kafkaex(&uris, 3, true).await;
}
