//! Consumer groups against the KRaft broker: two and three members share a topic's
//! partitions without overlap and cover them all; a member that closes is taken over at once,
//! one dropped without leaving after the session timeout; committed offsets resume after every
//! member restarts; a static member restarting within the session timeout keeps its
//! partitions without a rebalance; cooperative-sticky hands partitions over without a member
//! ever owning one another still owns.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{create_topic, unique, WAIT};
use kafkaex_client::consumer::{OffsetReset, TopicPartition};
use kafkaex_client::group::assignor::CooperativeStickyAssignor;
use kafkaex_client::group::{GroupConsumer, GroupEvent};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};
use tokio::sync::oneshot;

async fn client(test: &str) -> Option<Client> {
    let brokers = test_brokers(BrokerProfile::Kraft, test).await?;
    Some(
        Client::builder()
            .bootstrap(&brokers.bootstrap)
            .build()
            .await
            .expect("client"),
    )
}

/// What a running member has seen.
#[derive(Default)]
struct Seen {
    owned: BTreeSet<TopicPartition>,
    records: Vec<(i32, i64)>,
    revocations: usize,
    assignments: usize,
    errors: Vec<String>,
}

enum Stop {
    Close,
    Drop,
}

/// A member driven by its own task: it acknowledges revocations at once and, with `commit`,
/// commits after every batch.
struct Running {
    seen: Arc<Mutex<Seen>>,
    stop: Option<oneshot::Sender<Stop>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(mut consumer: GroupConsumer, commit: bool) -> Running {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, mut stopped) = oneshot::channel();
        let s = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    how = &mut stopped => {
                        match how {
                            Ok(Stop::Close) => consumer.close().await,
                            _ => drop(consumer),
                        }
                        return;
                    }
                    event = consumer.next() => {
                        let Some(event) = event else { return };
                        match event {
                            Ok(GroupEvent::Records(batch)) => {
                                s.lock().unwrap().records.extend(batch.iter().map(|r| (r.partition, r.offset)));
                                if commit {
                                    consumer.mark(&batch);
                                    if let Err(e) = consumer.commit_marked().await {
                                        s.lock().unwrap().errors.push(format!("commit: {e}"));
                                    }
                                }
                            }
                            Ok(GroupEvent::Assigned(tps)) => {
                                let mut g = s.lock().unwrap();
                                g.assignments += 1;
                                g.owned.extend(tps);
                            }
                            Ok(GroupEvent::Revoking(r)) => {
                                {
                                    let mut g = s.lock().unwrap();
                                    g.revocations += 1;
                                    for tp in &r.partitions {
                                        g.owned.remove(tp);
                                    }
                                }
                                r.ack();
                            }
                            Ok(GroupEvent::Lost(tps)) => {
                                let mut g = s.lock().unwrap();
                                for tp in &tps {
                                    g.owned.remove(tp);
                                }
                            }
                            Ok(_) => {}
                            Err(e) => s.lock().unwrap().errors.push(e.to_string()),
                        }
                    }
                }
            }
        });
        Running {
            seen,
            stop: Some(stop),
            task,
        }
    }

    fn owned(&self) -> BTreeSet<TopicPartition> {
        self.seen.lock().unwrap().owned.clone()
    }

    async fn stop(mut self, how: Stop) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(how);
        }
        let _ = (&mut self.task).await;
    }
}

fn member(
    client: &Client,
    group: &str,
    topic: &str,
) -> kafkaex_client::group::GroupConsumerBuilder {
    client
        .group_consumer(group)
        .subscribe([topic])
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_millis(500))
        .rebalance_timeout(Duration::from_secs(30))
        .auto_offset_reset(OffsetReset::Earliest)
}

fn all(topic: &str, n: i32) -> BTreeSet<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// Waits until the members' owned sets are disjoint, non-empty and cover `expected`.
async fn wait_shared(members: &[&Running], expected: &BTreeSet<TopicPartition>, within: Duration) {
    let give_up = tokio::time::Instant::now() + within;
    loop {
        let sets: Vec<BTreeSet<TopicPartition>> = members.iter().map(|m| m.owned()).collect();
        let total: usize = sets.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<TopicPartition> = sets.iter().flatten().cloned().collect();
        if total == expected.len() && union == *expected && sets.iter().all(|s| !s.is_empty()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "not shared within {within:?}: {sets:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn produce(client: &Client, topic: &str, partitions: i32, n: usize) {
    let producer = client.producer().build().await.unwrap();
    let mut acks = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic.to_owned())
            .partition(i as i32 % partitions)
            .value(format!("v-{i}"));
        acks.push(producer.send(r).await.unwrap());
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_share_partitions_and_take_over_when_one_closes() {
    let Some(client) = client("members_share_partitions_and_take_over_when_one_closes").await
    else {
        return;
    };
    let topic = unique("group-share");
    create_topic(&client, &topic, 6, 1, &[]).await;
    let group = unique("g-share");
    let expected = all(&topic, 6);
    let m1 = Running::start(member(&client, &group, &topic).build().unwrap(), false);
    wait_shared(&[&m1], &expected, WAIT).await;
    let m2 = Running::start(member(&client, &group, &topic).build().unwrap(), false);
    wait_shared(&[&m1, &m2], &expected, WAIT).await;
    let m3 = Running::start(member(&client, &group, &topic).build().unwrap(), false);
    wait_shared(&[&m1, &m2, &m3], &expected, WAIT).await;
    // Range over one topic of six partitions: two each.
    assert!([&m1, &m2, &m3].iter().all(|m| m.owned().len() == 2));
    // Closed (LeaveGroup): the others take over well before the 10 s session timeout could.
    let started = tokio::time::Instant::now();
    m3.stop(Stop::Close).await;
    wait_shared(&[&m1, &m2], &expected, Duration::from_secs(8)).await;
    assert!(started.elapsed() < Duration::from_secs(8));
    // Records produced now are consumed, each by one member.
    produce(&client, &topic, 6, 60).await;
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let seen: Vec<(i32, i64)> = [&m1, &m2]
            .iter()
            .flat_map(|m| m.seen.lock().unwrap().records.clone())
            .collect();
        if seen.len() >= 60 {
            let distinct: BTreeSet<(i32, i64)> = seen.iter().copied().collect();
            assert_eq!(distinct.len(), 60, "each record once");
            assert_eq!(seen.len(), 60, "no record twice");
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{} of 60",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for m in [&m1, &m2] {
        assert!(m.seen.lock().unwrap().errors.is_empty());
    }
    m1.stop(Stop::Close).await;
    m2.stop(Stop::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_member_is_evicted_after_the_session_timeout() {
    let Some(client) = client("a_dropped_member_is_evicted_after_the_session_timeout").await else {
        return;
    };
    let topic = unique("group-evict");
    create_topic(&client, &topic, 4, 1, &[]).await;
    let group = unique("g-evict");
    let expected = all(&topic, 4);
    let session = Duration::from_secs(6);
    let m1 = Running::start(
        member(&client, &group, &topic)
            .session_timeout(session)
            .build()
            .unwrap(),
        false,
    );
    let m2 = Running::start(
        member(&client, &group, &topic)
            .session_timeout(session)
            .build()
            .unwrap(),
        false,
    );
    wait_shared(&[&m1, &m2], &expected, WAIT).await;
    let started = tokio::time::Instant::now();
    m2.stop(Stop::Drop).await; // no LeaveGroup
    wait_shared(&[&m1], &expected, WAIT).await;
    // The coordinator cannot have noticed before the session timeout.
    assert!(
        started.elapsed() >= session - Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    m1.stop(Stop::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_resume_after_every_member_restarts() {
    let Some(client) = client("committed_offsets_resume_after_every_member_restarts").await else {
        return;
    };
    let topic = unique("group-resume");
    create_topic(&client, &topic, 3, 1, &[]).await;
    let group = unique("g-resume");
    produce(&client, &topic, 3, 60).await;
    let m1 = Running::start(member(&client, &group, &topic).build().unwrap(), true);
    let m2 = Running::start(member(&client, &group, &topic).build().unwrap(), true);
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let n = m1.seen.lock().unwrap().records.len() + m2.seen.lock().unwrap().records.len();
        if n >= 60 {
            break;
        }
        assert!(tokio::time::Instant::now() < give_up, "{n} of 60");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    m1.stop(Stop::Close).await;
    m2.stop(Stop::Close).await;
    // The group's committed offsets are the log ends.
    let committed = client
        .admin()
        .fetch_offsets(&group, None, &Default::default())
        .await
        .expect("fetch offsets");
    let ends: BTreeMap<i32, i64> = committed
        .iter()
        .filter_map(|(tp, r)| Some((tp.partition, r.as_ref().ok()?.as_ref()?.offset)))
        .collect();
    assert_eq!(ends, (0..3).map(|p| (p, 20)).collect());
    produce(&client, &topic, 3, 30).await;
    let m3 = Running::start(member(&client, &group, &topic).build().unwrap(), true);
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let records = m3.seen.lock().unwrap().records.clone();
        if records.len() >= 30 {
            assert!(records.iter().all(|(_, o)| *o >= 20), "{records:?}");
            assert_eq!(records.len(), 30);
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{} of 30",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    m3.stop(Stop::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_restarting_within_the_session_timeout_keeps_its_partitions() {
    let Some(client) =
        client("a_static_member_restarting_within_the_session_timeout_keeps_its_partitions").await
    else {
        return;
    };
    let topic = unique("group-static");
    create_topic(&client, &topic, 4, 1, &[]).await;
    let group = unique("g-static");
    let expected = all(&topic, 4);
    let a = Running::start(
        member(&client, &group, &topic)
            .static_id("a")
            .session_timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        false,
    );
    let b = Running::start(
        member(&client, &group, &topic)
            .static_id("b")
            .session_timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        false,
    );
    wait_shared(&[&a, &b], &expected, WAIT).await;
    // Let a rebalance that b's join started settle: b's counts from here on.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before_a = a.owned();
    let b_revocations = b.seen.lock().unwrap().revocations;
    let b_assignments = b.seen.lock().unwrap().assignments;
    a.stop(Stop::Close).await; // a static member does not leave
    let a2 = Running::start(
        member(&client, &group, &topic)
            .static_id("a")
            .session_timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        false,
    );
    let give_up = tokio::time::Instant::now() + WAIT;
    while a2.owned() != before_a {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{:?} != {before_a:?}",
            a2.owned()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // No rebalance: b neither lost nor got anything.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(b.seen.lock().unwrap().revocations, b_revocations);
    assert_eq!(b.seen.lock().unwrap().assignments, b_assignments);
    a2.stop(Stop::Close).await;
    b.stop(Stop::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_never_has_a_partition_owned_twice() {
    let Some(client) = client("cooperative_sticky_never_has_a_partition_owned_twice").await else {
        return;
    };
    let topic = unique("group-coop");
    create_topic(&client, &topic, 6, 1, &[]).await;
    let group = unique("g-coop");
    let expected = all(&topic, 6);
    let coop = || {
        member(&client, &group, &topic)
            .assignors(vec![Arc::new(CooperativeStickyAssignor)])
            .build()
            .unwrap()
    };
    let m1 = Running::start(coop(), false);
    wait_shared(&[&m1], &expected, WAIT).await;
    let m2 = Running::start(coop(), false);
    // Sampled all along the hand-off: never a partition in both.
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let (a, b) = (m1.owned(), m2.owned());
        assert!(a.is_disjoint(&b), "owned twice: {a:?} {b:?}");
        if a.len() == 3 && b.len() == 3 {
            break;
        }
        assert!(tokio::time::Instant::now() < give_up, "{a:?} {b:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Cooperative: m1 kept its other three partitions (one revocation of three, no eager
    // revocation of all six).
    assert_eq!(m1.seen.lock().unwrap().revocations, 1);
    m1.stop(Stop::Close).await;
    m2.stop(Stop::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_subscription_follows_topics_created_later() {
    let Some(brokers) = test_brokers(
        BrokerProfile::Kraft,
        "a_pattern_subscription_follows_topics_created_later",
    )
    .await
    else {
        return;
    };
    // Metadata checked every second, so that the new topic is seen soon.
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .metadata_max_age(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    let prefix = unique("grouppat");
    let first = format!("{prefix}-a");
    create_topic(&client, &first, 2, 1, &[]).await;
    let other = unique("unmatched");
    create_topic(&client, &other, 2, 1, &[]).await;
    let group = unique("g-pattern");
    let consumer = client
        .group_consumer(&group)
        .subscribe_pattern(&format!("{prefix}-.*"))
        .unwrap()
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_millis(500))
        .rebalance_timeout(Duration::from_secs(30))
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    let m = Running::start(consumer, false);
    wait_shared(&[&m], &all(&first, 2), WAIT).await;
    let second = format!("{prefix}-b");
    create_topic(&client, &second, 3, 1, &[]).await;
    let expected: BTreeSet<TopicPartition> =
        all(&first, 2).union(&all(&second, 3)).cloned().collect();
    wait_shared(&[&m], &expected, WAIT).await;
    assert!(m.owned().iter().all(|tp| tp.topic != other));
    m.stop(Stop::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_handler_panics_does_not_take_the_group_down() {
    let Some(client) = client("a_member_whose_handler_panics_does_not_take_the_group_down").await
    else {
        return;
    };
    let topic = unique("group-panic");
    create_topic(&client, &topic, 4, 1, &[]).await;
    let group = unique("g-panic");
    let expected = all(&topic, 4);
    let session = Duration::from_secs(6);
    let m1 = Running::start(
        member(&client, &group, &topic)
            .session_timeout(session)
            .build()
            .unwrap(),
        false,
    );
    wait_shared(&[&m1], &expected, WAIT).await;
    // A second member whose handler panics at its first record.
    let mut doomed = member(&client, &group, &topic)
        .session_timeout(session)
        .build()
        .unwrap();
    let handler = tokio::spawn(async move {
        while let Some(event) = doomed.next().await {
            if let Ok(GroupEvent::Records(_)) = event {
                panic!("the handler failed");
            }
        }
    });
    // Records for everyone, until the doomed member has had some (and panicked).
    let give_up = tokio::time::Instant::now() + WAIT;
    while !handler.is_finished() {
        produce(&client, &topic, 4, 8).await;
        assert!(
            tokio::time::Instant::now() < give_up,
            "the handler never ran"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let outcome = handler.await;
    assert!(outcome.is_err_and(|e| e.is_panic()), "the handler panicked");
    // The other member goes on and, after the session timeout, owns everything again.
    wait_shared(&[&m1], &expected, WAIT).await;
    assert!(m1.seen.lock().unwrap().errors.is_empty());
    m1.stop(Stop::Close).await;
}
