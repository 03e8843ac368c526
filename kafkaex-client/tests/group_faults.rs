//! The group consumer under errors the fake broker injects, one row of the research's error
//! table each (Java's `AbstractCoordinator`): a one-member group whose JoinGroup and
//! SyncGroup the fake scripts, with the heartbeat answered with each error in turn.
//!
//! - `REBALANCE_IN_PROGRESS`: the member rejoins (eager: revoking first), keeping its id;
//! - `ILLEGAL_GENERATION`: its partitions are lost, it rejoins with the same member id;
//! - `UNKNOWN_MEMBER_ID`: its partitions are lost, it rejoins with an empty member id;
//! - `FENCED_INSTANCE_ID`: fatal, the stream yields the error and ends;
//! - `MEMBER_ID_REQUIRED` on the first join: the member joins again with the id given.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafkaex_client::consumer::OffsetReset;
use kafkaex_client::group::{GroupConsumer, GroupEvent};
use kafkaex_client::Client;
use kafkaex_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafkaex_protocol::messages::{JoinGroupResponse, RequestKind, SyncGroupResponse};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::fake::{Action, FakeCluster, Reply, Rule, Seen};

const TOPIC: &str = "t";
const WAIT: Duration = Duration::from_secs(30);

/// JoinGroup: an empty member id (dynamic) gets MEMBER_ID_REQUIRED and `m-<n>`; otherwise
/// the member is the leader of a new generation of one, with its own subscription.
fn join_rule(generation: Arc<AtomicI32>, ids: Arc<AtomicUsize>) -> Rule {
    Rule::on(ApiKey::JoinGroup).then(Action::respond(move |seen: &Seen| {
        let RequestKind::JoinGroup(r) = &seen.body else {
            return Reply::Disconnect;
        };
        if r.member_id.is_empty() && r.group_instance_id.is_none() {
            let id = format!("m-{}", ids.fetch_add(1, Ordering::Relaxed) + 1);
            return Reply::body(
                seen.version,
                JoinGroupResponse::default()
                    .with_error_code(ErrorCode::MemberIdRequired)
                    .with_member_id(id),
            );
        }
        let member_id = if r.member_id.is_empty() {
            format!("s-{}", ids.fetch_add(1, Ordering::Relaxed) + 1)
        } else {
            r.member_id.clone()
        };
        let protocol = r.protocols.first().cloned().unwrap_or_default();
        let g = generation.fetch_add(1, Ordering::Relaxed) + 1;
        Reply::body(
            seen.version,
            JoinGroupResponse::default()
                .with_generation_id(g)
                .with_protocol_type(Some("consumer".into()))
                .with_protocol_name(Some(protocol.name.clone()))
                .with_leader(member_id.clone())
                .with_member_id(member_id.clone())
                .with_members(vec![JoinGroupResponseMember::default()
                    .with_member_id(member_id)
                    .with_group_instance_id(r.group_instance_id.clone())
                    .with_metadata(protocol.metadata)]),
        )
    }))
}

/// SyncGroup: the leader's own assignment back.
fn sync_rule() -> Rule {
    Rule::on(ApiKey::SyncGroup).then(Action::respond(|seen: &Seen| {
        let RequestKind::SyncGroup(r) = &seen.body else {
            return Reply::Disconnect;
        };
        let mine = r
            .assignments
            .iter()
            .find(|a| a.member_id == r.member_id)
            .map(|a| a.assignment.clone())
            .unwrap_or_default();
        Reply::body(
            seen.version,
            SyncGroupResponse::default()
                .with_protocol_type(Some("consumer".into()))
                .with_protocol_name(r.protocol_name.clone())
                .with_assignment(mine),
        )
    }))
}

/// The JoinGroup requests seen: (member id, instance id).
fn joins(fake: &FakeCluster) -> Vec<String> {
    fake.requests()
        .iter()
        .filter_map(|s| match &s.body {
            RequestKind::JoinGroup(r) => Some(r.member_id.clone()),
            _ => None,
        })
        .collect()
}

async fn setup(code: ErrorCode, static_id: Option<&str>) -> (FakeCluster, GroupConsumer) {
    let generation = Arc::new(AtomicI32::new(0));
    let ids = Arc::new(AtomicUsize::new(0));
    // The third heartbeat of the first generation fails with `code`, once.
    let beats = AtomicUsize::new(0);
    let fake = FakeCluster::builder()
        .topic(TOPIC, 2)
        .rule(join_rule(generation, ids))
        .rule(sync_rule())
        .rule(
            Rule::on(ApiKey::Heartbeat)
                .when(move |_| beats.fetch_add(1, Ordering::Relaxed) == 2)
                .then(Action::Error(code)),
        )
        .start()
        .await;
    let client = Client::builder()
        .bootstrap(fake.bootstrap())
        .build()
        .await
        .unwrap();
    let mut b = client
        .group_consumer("g")
        .subscribe([TOPIC])
        .heartbeat_interval(Duration::from_millis(100))
        .session_timeout(Duration::from_secs(10))
        .auto_offset_reset(OffsetReset::Earliest)
        .auto_commit(None);
    if let Some(id) = static_id {
        b = b.static_id(id);
    }
    (fake, b.build().unwrap())
}

/// The events until `stop` says so (or fails after [`WAIT`]); revocations acknowledged.
async fn events_until(
    consumer: &mut GroupConsumer,
    mut stop: impl FnMut(&[String]) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let give_up = tokio::time::Instant::now() + WAIT;
    while !stop(&out) {
        let next = tokio::time::timeout_at(give_up, consumer.next())
            .await
            .unwrap_or_else(|_| panic!("events so far: {out:?}"));
        let line = match next {
            None => "end".to_owned(),
            Some(Ok(GroupEvent::Assigned(tps))) => format!("assigned {}", tps.len()),
            Some(Ok(GroupEvent::Revoking(r))) => {
                let n = r.partitions.len();
                r.ack();
                format!("revoking {n}")
            }
            Some(Ok(GroupEvent::Lost(tps))) => format!("lost {}", tps.len()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => format!("error {:?}", e.kafka_code()),
        };
        let end = line == "end";
        out.push(line);
        if end {
            break;
        }
    }
    out
}

fn count(events: &[String], what: &str) -> usize {
    events.iter().filter(|e| e.as_str() == what).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_id_required_then_rebalance_in_progress_rejoins_keeping_the_id() {
    let (fake, mut c) = setup(ErrorCode::RebalanceInProgress, None).await;
    let events = events_until(&mut c, |e| count(e, "assigned 2") == 2).await;
    // Eager (range): everything revoked before the rejoin, then assigned again.
    assert_eq!(events, ["assigned 2", "revoking 2", "assigned 2"]);
    let joins = joins(&fake);
    assert_eq!(joins[0], "", "the first join has no member id");
    assert_eq!(joins[1], "m-1", "then the id MEMBER_ID_REQUIRED gave");
    assert_eq!(joins[2], "m-1", "a rebalance keeps it");
    assert_eq!(c.member_id(), "m-1");
    assert_eq!(c.generation_id(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_generation_loses_the_partitions_and_rejoins_with_the_same_id() {
    let (fake, mut c) = setup(ErrorCode::IllegalGeneration, None).await;
    let events = events_until(&mut c, |e| count(e, "assigned 2") == 2).await;
    assert_eq!(events, ["assigned 2", "lost 2", "assigned 2"]);
    assert_eq!(joins(&fake)[2], "m-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_member_id_loses_the_partitions_and_rejoins_afresh() {
    let (fake, mut c) = setup(ErrorCode::UnknownMemberId, None).await;
    let events = events_until(&mut c, |e| count(e, "assigned 2") == 2).await;
    assert_eq!(events, ["assigned 2", "lost 2", "assigned 2"]);
    let joins = joins(&fake);
    assert_eq!(joins[2], "", "a fresh member id is asked for");
    assert_eq!(c.member_id(), "m-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_instance_id_is_fatal() {
    let (_fake, mut c) = setup(ErrorCode::FencedInstanceId, Some("pod-1")).await;
    let events = events_until(&mut c, |e| e.last().is_some_and(|l| l == "end")).await;
    assert_eq!(
        events,
        [
            "assigned 2",
            "lost 2",
            "error Some(FencedInstanceId)",
            "end"
        ]
    );
}

/// A group whose JoinGroup, SyncGroup and heartbeats the fake scripts, with `extra` rules
/// first.
async fn group_with(extra: Vec<Rule>) -> (FakeCluster, GroupConsumer) {
    let mut b = FakeCluster::builder().topic(TOPIC, 2);
    for r in extra {
        b = b.rule(r);
    }
    let fake = b
        .rule(join_rule(Arc::default(), Arc::default()))
        .rule(sync_rule())
        .start()
        .await;
    let client = Client::builder()
        .bootstrap(fake.bootstrap())
        .build()
        .await
        .unwrap();
    let c = client
        .group_consumer("g")
        .subscribe([TOPIC])
        .heartbeat_interval(Duration::from_millis(100))
        .session_timeout(Duration::from_secs(10))
        .auto_offset_reset(OffsetReset::Earliest)
        .auto_commit(None)
        .build()
        .unwrap();
    (fake, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loading_coordinator_is_waited_for_and_a_moved_one_rediscovered() {
    let (fake, mut c) = group_with(vec![
        Rule::on(ApiKey::JoinGroup)
            .times(2)
            .then(Action::Error(ErrorCode::CoordinatorLoadInProgress)),
        Rule::on(ApiKey::Heartbeat)
            .once()
            .then(Action::Error(ErrorCode::NotCoordinator)),
    ])
    .await;
    let events = events_until(&mut c, |e| count(e, "assigned 2") == 1).await;
    assert_eq!(events, ["assigned 2"]);
    // The heartbeat that met NOT_COORDINATOR sent the client back to FindCoordinator, and
    // heartbeats went on in the same generation (no rejoin, nothing lost).
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let seen = fake.requests();
        let finds = seen
            .iter()
            .filter(|s| s.api == ApiKey::FindCoordinator)
            .count();
        let beats = seen.iter().filter(|s| s.api == ApiKey::Heartbeat).count();
        if finds >= 2 && beats >= 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{finds} finds, {beats} heartbeats"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Two joins refused while the coordinator loaded, one for the member id, one that joined.
    assert_eq!(joins(&fake), ["", "", "", "m-1"]);
    assert_eq!(c.generation_id(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_of_an_old_generation_is_a_typed_error() {
    let (_fake, mut c) = group_with(vec![
        Rule::on(ApiKey::OffsetCommit).then(Action::Error(ErrorCode::IllegalGeneration))
    ])
    .await;
    events_until(&mut c, |e| count(e, "assigned 2") == 1).await;
    // Positions known (the earliest offsets looked up): there is something to commit.
    let tps = c.assignment();
    let give_up = tokio::time::Instant::now() + WAIT;
    while tps.iter().any(|tp| c.consumer().position(tp).is_none()) {
        assert!(tokio::time::Instant::now() < give_up);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = c.commit().await.expect_err("refused");
    assert_eq!(
        err.kafka_code(),
        Some(ErrorCode::IllegalGeneration),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_errors_that_cannot_be_mended_are_fatal() {
    for code in [
        ErrorCode::InconsistentGroupProtocol,
        ErrorCode::GroupAuthorizationFailed,
        ErrorCode::InvalidSessionTimeout,
        ErrorCode::GroupMaxSizeReached,
    ] {
        let (_fake, mut c) =
            group_with(vec![Rule::on(ApiKey::JoinGroup).then(Action::Error(code))]).await;
        let events = events_until(&mut c, |e| e.last().is_some_and(|l| l == "end")).await;
        assert_eq!(events, [format!("error Some({code:?})"), "end".to_owned()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_during_a_rebalance_is_a_typed_error_and_the_member_goes_on() {
    let (_fake, mut c) = group_with(vec![Rule::on(ApiKey::OffsetCommit)
        .once()
        .then(Action::Error(ErrorCode::RebalanceInProgress))])
    .await;
    events_until(&mut c, |e| count(e, "assigned 2") == 1).await;
    let tps = c.assignment();
    let give_up = tokio::time::Instant::now() + WAIT;
    while tps.iter().any(|tp| c.consumer().position(tp).is_none()) {
        assert!(tokio::time::Instant::now() < give_up);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = c.commit().await.expect_err("refused once");
    assert_eq!(
        err.kafka_code(),
        Some(ErrorCode::RebalanceInProgress),
        "{err}"
    );
    // The generation is kept; the next commit goes through.
    assert_eq!(c.generation_id(), 1);
    c.commit().await.expect("committed");
}
