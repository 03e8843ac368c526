//! The consumer under faults the fake broker injects: a leader change (validated with
//! OffsetForLeaderEpoch, then followed without a gap or a duplicate), a truncated log (reported
//! with the divergent offset, or followed back to it under a reset policy, whether the new
//! leader says so in OffsetForLeaderEpoch or in the Fetch itself), leader errors, and corrupt
//! bytes from the broker (a typed error, never a panic).

use std::time::Duration;

use bytes::Bytes;
use kafkaex_client::consumer::{OffsetReset, StartOffset, TopicPartition};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Client, Consumer, ConsumerRecord, Error, PartitionRecords};
use kafkaex_protocol::messages::fetch_response::{
    EpochEndOffset as DivergingEpoch, FetchableTopicResponse, PartitionData,
};
use kafkaex_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafkaex_protocol::messages::{FetchResponse, OffsetForLeaderEpochResponse, RequestKind};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::fake::{Action, FakeCluster, Reply, Rule, Seen};

const TOPIC: &str = "t";
const WAIT: Duration = Duration::from_secs(30);

async fn fake(rules: Vec<Rule>) -> FakeCluster {
    let mut b = FakeCluster::builder().brokers(2).topic(TOPIC, 1);
    for r in rules {
        b = b.rule(r);
    }
    b.start().await
}

async fn client(fake: &FakeCluster, fetch_max: Option<i16>) -> Client {
    let mut b = Client::builder()
        .bootstrap(fake.bootstrap())
        .request_timeout(Duration::from_secs(5))
        .metadata_max_age(Duration::from_millis(200));
    if let Some(v) = fetch_max {
        b = b.max_version(ApiKey::Fetch, v);
    }
    b.build().await.expect("client")
}

/// Writes values `from..to` to the partition.
async fn produce(client: &Client, from: usize, to: usize) {
    let producer = client.producer().build().await.unwrap();
    let mut acks = Vec::new();
    for i in from..to {
        let r = ProducerRecord::new(TOPIC)
            .partition(0)
            .value(format!("v-{i}"));
        acks.push(producer.send(r).await.unwrap());
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;
}

async fn consumer(client: &Client, reset: OffsetReset) -> Consumer {
    let mut c = client
        .consumer()
        .auto_offset_reset(reset)
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    c.assign([(TopicPartition::new(TOPIC, 0), StartOffset::Earliest)])
        .unwrap();
    c
}

async fn take(c: &mut Consumer, n: usize) -> Vec<ConsumerRecord> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(WAIT, c.recv()).await {
            Ok(Some(Ok(r))) => out.push(r),
            other => panic!("after {} records: {other:?}", out.len()),
        }
    }
    out
}

async fn next(c: &mut Consumer) -> Result<PartitionRecords, Error> {
    tokio::time::timeout(WAIT, c.next_batch())
        .await
        .expect("in time")
        .expect("open")
}

fn offsets(records: &[ConsumerRecord]) -> Vec<i64> {
    records.iter().map(|r| r.offset).collect()
}

/// Answers OffsetForLeaderEpoch with `end_offset` in `epoch` for the partition.
fn epoch_end(end_offset: i64, epoch: i32) -> Rule {
    Rule::on(ApiKey::OffsetForLeaderEpoch).then(Action::respond(move |seen: &Seen| {
        let RequestKind::OffsetForLeaderEpoch(r) = &seen.body else {
            return Reply::Disconnect;
        };
        let topics = r
            .topics
            .iter()
            .map(|t| {
                OffsetForLeaderTopicResult::default()
                    .with_topic(t.topic.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                EpochEndOffset::default()
                                    .with_partition(p.partition)
                                    .with_leader_epoch(epoch)
                                    .with_end_offset(end_offset)
                            })
                            .collect(),
                    )
            })
            .collect();
        Reply::body(
            seen.version,
            OffsetForLeaderEpochResponse::default().with_topics(topics),
        )
    }))
}

/// The OffsetForLeaderEpoch requests seen: (current leader epoch, epoch asked about).
fn validations(fake: &FakeCluster) -> Vec<(i32, i32)> {
    fake.requests()
        .iter()
        .filter_map(|s| match &s.body {
            RequestKind::OffsetForLeaderEpoch(r) => Some(
                r.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .map(|p| (p.current_leader_epoch, p.leader_epoch))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Moves the partition's leadership to the other broker.
fn move_leader(fake: &FakeCluster) {
    let (leader, _) = fake.leader(TOPIC, 0).unwrap();
    let other = fake.node_ids().into_iter().find(|n| *n != leader).unwrap();
    fake.set_leader(TOPIC, 0, other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_change_is_validated_and_followed_without_gap_or_duplicate() {
    let fake = fake(vec![epoch_end(50, 0)]).await;
    let client = client(&fake, None).await;
    produce(&client, 0, 50).await;
    let mut c = consumer(&client, OffsetReset::None).await;
    let first = take(&mut c, 50).await;
    assert_eq!(offsets(&first), (0..50).collect::<Vec<_>>());
    assert!(first.iter().all(|r| r.leader_epoch == Some(0)));
    move_leader(&fake);
    produce(&client, 50, 100).await;
    let rest = take(&mut c, 50).await;
    assert_eq!(offsets(&rest), (50..100).collect::<Vec<_>>());
    assert_eq!(
        String::from_utf8(rest[0].value.clone().unwrap().to_vec()).unwrap(),
        "v-50"
    );
    // The position was checked against the new leader (epoch 1) for the epoch last read (0).
    assert!(
        validations(&fake).contains(&(1, 0)),
        "{:?}",
        validations(&fake)
    );
    // Every Fetch carried the leader epoch the client knew.
    let epochs: Vec<i32> = fake
        .requests()
        .iter()
        .filter_map(|s| match &s.body {
            RequestKind::Fetch(f) => f
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.current_leader_epoch)
                .next(),
            _ => None,
        })
        .collect();
    assert!(epochs.contains(&0) && epochs.contains(&1), "{epochs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_log_is_reported_with_the_divergent_offset() {
    let fake = fake(vec![epoch_end(30, 0)]).await;
    let client = client(&fake, None).await;
    produce(&client, 0, 50).await;
    let mut c = consumer(&client, OffsetReset::None).await;
    take(&mut c, 50).await;
    move_leader(&fake);
    match next(&mut c).await {
        Err(Error::LogTruncation {
            offset,
            divergent_offset,
            partition,
            ..
        }) => assert_eq!((offset, divergent_offset, partition), (50, Some(30), 0)),
        other => panic!("{other:?}"),
    }
    // Stopped until sought.
    let nothing = tokio::time::timeout(Duration::from_millis(500), c.recv()).await;
    assert!(nothing.is_err(), "{nothing:?}");
    c.seek(&TopicPartition::new(TOPIC, 0), StartOffset::Offset(30))
        .unwrap();
    let again = take(&mut c, 20).await;
    assert_eq!(again[0].offset, 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_reset_policy_a_truncation_goes_back_to_the_divergent_offset() {
    let fake = fake(vec![epoch_end(30, 0)]).await;
    let client = client(&fake, None).await;
    produce(&client, 0, 50).await;
    let mut c = consumer(&client, OffsetReset::Earliest).await;
    take(&mut c, 50).await;
    move_leader(&fake);
    // The fake's log still holds 30..50: they come again from 30, not from the log start.
    let again = take(&mut c, 20).await;
    assert_eq!(offsets(&again), (30..50).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diverging_epoch_in_the_fetch_is_a_truncation() {
    // Fetch v12 (by name): the third fetch that asks from offset 50 says the log diverged at 40.
    let n = std::sync::atomic::AtomicUsize::new(0);
    let rule = Rule::on(ApiKey::Fetch)
        .when(move |seen: &Seen| {
            let RequestKind::Fetch(f) = &seen.body else {
                return false;
            };
            let at_50 = f
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .any(|p| p.fetch_offset == 50 && p.last_fetched_epoch == 0);
            at_50 && n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0
        })
        .then(Action::respond(|seen: &Seen| {
            let partition = PartitionData::default()
                .with_partition_index(0)
                .with_high_watermark(40)
                .with_last_stable_offset(40)
                .with_log_start_offset(0)
                .with_diverging_epoch(DivergingEpoch::default().with_epoch(0).with_end_offset(40))
                .with_records(Some(Bytes::new()));
            Reply::body(
                seen.version,
                FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                    .with_topic(TOPIC.to_owned())
                    .with_partitions(vec![partition])]),
            )
        }));
    let fake = fake(vec![rule]).await;
    let client = client(&fake, Some(12)).await;
    produce(&client, 0, 50).await;
    let mut c = consumer(&client, OffsetReset::None).await;
    take(&mut c, 50).await;
    match next(&mut c).await {
        Err(Error::LogTruncation {
            offset,
            divergent_offset,
            ..
        }) => assert_eq!((offset, divergent_offset), (50, Some(40))),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_errors_are_retried_without_gap_or_duplicate() {
    let fake = fake(vec![
        Rule::on(ApiKey::Fetch)
            .times(3)
            .then(Action::Error(ErrorCode::NotLeaderOrFollower)),
        Rule::on(ApiKey::Fetch).once().then(Action::Disconnect),
        Rule::on(ApiKey::Fetch)
            .once()
            .then(Action::Error(ErrorCode::UnknownLeaderEpoch)),
    ])
    .await;
    let client = client(&fake, None).await;
    produce(&client, 0, 40).await;
    let mut c = consumer(&client, OffsetReset::None).await;
    let records = take(&mut c, 40).await;
    assert_eq!(offsets(&records), (0..40).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_records_from_the_broker_are_a_typed_error() {
    // The first fetch answers garbage that claims to be a record batch (magic 2, a bad CRC).
    let rule = Rule::on(ApiKey::Fetch)
        .once()
        .then(Action::respond(|seen: &Seen| {
            let mut junk = vec![0u8; 80];
            junk[11] = 68; // batch length: the rest of the bytes
            junk[16] = 2; // magic
            for (i, b) in junk.iter_mut().enumerate().skip(17) {
                *b = (i * 37) as u8;
            }
            let partition = PartitionData::default()
                .with_partition_index(0)
                .with_high_watermark(10)
                .with_last_stable_offset(10)
                .with_log_start_offset(0)
                .with_records(Some(Bytes::from(junk)));
            Reply::body(
                seen.version,
                FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                    .with_topic(TOPIC.to_owned())
                    .with_partitions(vec![partition])]),
            )
        }));
    let fake = fake(vec![rule]).await;
    let client = client(&fake, Some(12)).await;
    produce(&client, 0, 10).await;
    let mut c = consumer(&client, OffsetReset::None).await;
    match next(&mut c).await {
        Err(e @ Error::CorruptRecords { offset: 0, .. }) => {
            assert!(std::error::Error::source(&e).is_some(), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing lost: sought again, the real records come.
    c.seek(&TopicPartition::new(TOPIC, 0), StartOffset::Offset(0))
        .unwrap();
    let records = take(&mut c, 10).await;
    assert_eq!(offsets(&records), (0..10).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_topic_is_a_typed_error_not_a_wait() {
    let names_topic = |seen: &Seen| match &seen.body {
        RequestKind::Metadata(m) => m
            .topics
            .iter()
            .flatten()
            .any(|t| t.name.as_deref() == Some(TOPIC)),
        _ => false,
    };
    let fake = fake(vec![Rule::on(ApiKey::Metadata)
        .when(names_topic)
        .then(Action::Error(ErrorCode::TopicAuthorizationFailed))])
    .await;
    let client = client(&fake, None).await;
    let mut c = consumer(&client, OffsetReset::None).await;
    match next(&mut c).await {
        Err(e) => assert_eq!(
            e.kafka_code(),
            Some(ErrorCode::TopicAuthorizationFailed),
            "{e}"
        ),
        Ok(batch) => panic!("{batch:?}"),
    }
}
