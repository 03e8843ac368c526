//! The idempotent producer under faults the fake broker injects: lost responses, connections
//! cut after the write, OUT_OF_ORDER_SEQUENCE_NUMBER and UNKNOWN_PRODUCER_ID. Whatever happens,
//! every acknowledged record is in the log exactly once and in send order per partition, and a
//! failed record says truthfully whether it may be in the log.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Client, Error, Persistence, ProducerConfig};
use kafkaex_protocol::messages::RequestKind;
use kafkaex_protocol::records::{DecodeOptions, RecordBatch};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::fake::{Action, FakeCluster, Rule, Seen};

const TOPIC: &str = "t";
const PARTITIONS: i32 = 3;

async fn fake(rules: Vec<Rule>) -> FakeCluster {
    let mut b = FakeCluster::builder().brokers(2).topic(TOPIC, PARTITIONS);
    for r in rules {
        b = b.rule(r);
    }
    b.start().await
}

async fn client(fake: &FakeCluster) -> Client {
    client_timing_out_after(fake, Duration::from_millis(400)).await
}

/// A client whose requests time out after `request_timeout` (short by default: the tests of
/// lost answers wait that long for each).
async fn client_timing_out_after(fake: &FakeCluster, request_timeout: Duration) -> Client {
    // RUST_LOG=kafkaex_client=debug shows what the producer did.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    Client::builder()
        .bootstrap(fake.bootstrap())
        .request_timeout(request_timeout)
        .build()
        .await
        .expect("client")
}

/// Fast retries, small batches (many batches in flight), the given delivery timeout.
fn config(delivery_timeout: Duration) -> ProducerConfig {
    let mut c = ProducerConfig::default();
    c.retry_backoff = Duration::from_millis(5);
    c.retry_backoff_max = Duration::from_millis(50);
    c.delivery_timeout = delivery_timeout;
    c.batch_size = 2048;
    c.linger = Duration::from_millis(2);
    c
}

/// Every record value in the fake's log of each partition, in offset order.
fn log_values(fake: &FakeCluster) -> HashMap<i32, Vec<Bytes>> {
    let mut out = HashMap::new();
    for p in 0..PARTITIONS {
        let mut values = Vec::new();
        for stored in fake.log(TOPIC, p) {
            let batch = RecordBatch::decode(&mut stored.bytes.clone(), &DecodeOptions::default())
                .expect("stored batches decode");
            values.extend(
                batch
                    .records
                    .into_iter()
                    .map(|r| r.value.unwrap_or_default()),
            );
        }
        out.insert(p, values);
    }
    out
}

/// Sends `n` keyed records and waits for every outcome: (value, partition, result).
async fn send_all(
    client: &Client,
    config: ProducerConfig,
    n: usize,
) -> Vec<(Bytes, i32, Result<i64, Error>)> {
    let producer = client.producer().config(config).build().await.unwrap();
    let mut futures = Vec::new();
    for i in 0..n {
        let value = Bytes::from(format!("value-{i:06}"));
        let record = ProducerRecord::new(TOPIC)
            .key(format!("key-{}", i % 31))
            .value(value.clone());
        futures.push((value, producer.send(record).await.unwrap()));
    }
    let mut out = Vec::new();
    for (value, future) in futures {
        let partition = future.partition();
        out.push((value, partition, future.await.map(|m| m.offset)));
    }
    producer.close().await;
    out
}

/// Every acknowledged record is in its partition's log exactly once, and the acknowledged
/// records of a partition appear in send order. Returns how many were acknowledged.
fn assert_exactly_once_in_order(
    fake: &FakeCluster,
    outcomes: &[(Bytes, i32, Result<i64, Error>)],
) -> usize {
    let log = log_values(fake);
    let mut acked = 0;
    for p in 0..PARTITIONS {
        let values = &log[&p];
        let mut count: HashMap<&Bytes, usize> = HashMap::new();
        for v in values {
            *count.entry(v).or_default() += 1;
        }
        let mut last_position = None;
        for (value, partition, result) in outcomes {
            if *partition != p {
                continue;
            }
            match result {
                Ok(offset) => {
                    acked += 1;
                    assert_eq!(count.get(value), Some(&1), "{value:?} in partition {p}");
                    let position = values.iter().position(|v| v == value).unwrap();
                    // -1: the producer knows the record is in the log, not where (its answer
                    // was lost and the broker no longer remembers it as a duplicate).
                    if *offset != -1 {
                        assert_eq!(*offset, position as i64, "{value:?}: the offset reported");
                    }
                    assert!(
                        last_position < Some(position),
                        "{value:?} is out of send order in partition {p}"
                    );
                    last_position = Some(position);
                }
                Err(e) => {
                    assert!(
                        count.get(value).copied().unwrap_or(0) <= 1,
                        "{value:?} twice"
                    );
                    if e.persistence() == Some(Persistence::NotPersisted) {
                        assert_eq!(count.get(value), None, "{value:?} said not persisted: {e}");
                    }
                }
            }
        }
    }
    acked
}

fn is_produce_with_data(seen: &Seen) -> bool {
    matches!(&seen.body, RequestKind::Produce(r) if !r.topic_data.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_responses_do_not_duplicate() {
    let fake = fake(vec![Rule::on(ApiKey::Produce)
        .when(is_produce_with_data)
        .times(4)
        .then(Action::ApplyThenDisconnect)])
    .await;
    let client = client(&fake).await;
    let outcomes = send_all(&client, config(Duration::from_secs(30)), 3000).await;
    for (v, _, r) in &outcomes {
        assert!(r.is_ok(), "{v:?}: {:?}", r.as_ref().err());
    }
    assert_eq!(assert_exactly_once_in_order(&fake, &outcomes), 3000);
    // At the newest Produce version, which names topics by id.
    let newest = fake
        .requests()
        .iter()
        .filter(|s| s.api == ApiKey::Produce)
        .map(|s| s.version)
        .max();
    assert_eq!(newest, Some(13));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_after_the_write_does_not_duplicate() {
    // Applied, then no answer: the request times out and its connection is closed.
    let fake = fake(vec![Rule::on(ApiKey::Produce)
        .when(is_produce_with_data)
        .times(3)
        .then(Action::ApplyThenSilence)])
    .await;
    let client = client(&fake).await;
    let outcomes = send_all(&client, config(Duration::from_secs(30)), 3000).await;
    for (v, _, r) in &outcomes {
        assert!(r.is_ok(), "{v:?}: {:?}", r.as_ref().err());
    }
    assert_eq!(assert_exactly_once_in_order(&fake, &outcomes), 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_bump_waits_for_batches_that_may_be_in_the_log() {
    // Partition 0's first request is applied and never answered, while partition 1 (on the
    // other broker) has a batch split (MESSAGE_TOO_LARGE), which needs a new epoch. Partition
    // 0's batches time out with their fate unknown: renumbered under the new epoch they would
    // be written twice, so they go again under their first stamp (the broker sees the
    // duplicate) before the epoch is bumped.
    let probe = fake(Vec::new()).await;
    let (a, _) = probe.leader(TOPIC, 0).expect("partition 0");
    let (b, _) = probe.leader(TOPIC, 1).expect("partition 1");
    drop(probe);
    assert_ne!(a, b, "the fake spreads leaders over its two brokers");
    let fake = fake(vec![
        Rule::on(ApiKey::Produce)
            .on_node(a)
            .when(is_produce_with_data)
            .once()
            .then(Action::ApplyThenSilence),
        Rule::on(ApiKey::Produce)
            .on_node(b)
            .when(is_produce_with_data)
            .once()
            .then(Action::Error(ErrorCode::MessageTooLarge)),
    ])
    .await;
    let client = client(&fake).await;
    let producer = client
        .producer()
        .config(config(Duration::from_secs(30)))
        .build()
        .await
        .unwrap();
    let mut futures = Vec::new();
    for i in 0..400 {
        let value = Bytes::from(format!("value-{i:06}"));
        let partition = i % 2;
        let record = ProducerRecord::new(TOPIC)
            .partition(partition)
            .value(value.clone());
        futures.push((value, partition, producer.send(record).await.unwrap()));
    }
    let mut outcomes = Vec::new();
    for (value, partition, future) in futures {
        outcomes.push((value, partition, future.await.map(|m| m.offset)));
    }
    producer.close().await;
    for (v, _, r) in &outcomes {
        assert!(r.is_ok(), "{v:?}: {:?}", r.as_ref().err());
    }
    assert_eq!(assert_exactly_once_in_order(&fake, &outcomes), 400);
    // The split did bump the epoch.
    let epochs: std::collections::BTreeSet<i16> = (0..2)
        .flat_map(|p| fake.log(TOPIC, p))
        .map(|b| b.producer_epoch)
        .collect();
    assert!(epochs.len() >= 2, "{epochs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_sequence_errors_are_resolved_in_order() {
    for code in [
        ErrorCode::OutOfOrderSequenceNumber,
        ErrorCode::UnknownProducerId,
    ] {
        // The third and the tenth request with data fail (not applied) with the code; others
        // in flight behind them then meet real sequence gaps in the model.
        let n = std::sync::atomic::AtomicUsize::new(0);
        let fake = fake(vec![Rule::on(ApiKey::Produce)
            .when(move |seen| {
                if !is_produce_with_data(seen) {
                    return false;
                }
                let n = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                n == 3 || n == 10
            })
            .then(Action::Error(code))])
        .await;
        // Nothing here goes unanswered: a long timeout, so that a slow machine does not time
        // requests out, which would put the failed batch behind a retried one (then it is
        // retried in order without a bump, also correct, but not what this test is about).
        let client = client_timing_out_after(&fake, Duration::from_secs(10)).await;
        let outcomes = send_all(&client, config(Duration::from_secs(30)), 3000).await;
        for (v, _, r) in &outcomes {
            assert!(r.is_ok(), "{code:?}: {v:?}: {:?}", r.as_ref().err());
        }
        assert_eq!(
            assert_exactly_once_in_order(&fake, &outcomes),
            3000,
            "{code:?}"
        );
        // Both injections happened (the recovery above was tested). Whether it took a new
        // epoch depends on the interleaving: a failed batch that is the next the broker expects
        // bumps it; one behind another failure (a loaded machine reorders the answers of the
        // two brokers) is retried in order without, as Java does; both are exactly-once.
        let with_data = fake
            .requests()
            .iter()
            .filter(|s| is_produce_with_data(s))
            .count();
        assert!(with_data >= 10, "{code:?}: {with_data} requests");
    }
}

#[tokio::test]
async fn a_refused_batch_is_not_persisted_and_a_silent_one_possibly() {
    // Refused outright: not written.
    let fake1 = fake(vec![Rule::on(ApiKey::Produce)
        .when(is_produce_with_data)
        .then(Action::Error(ErrorCode::TopicAuthorizationFailed))])
    .await;
    let client1 = client(&fake1).await;
    let outcomes = send_all(&client1, config(Duration::from_secs(5)), 20).await;
    for (_, _, r) in &outcomes {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.persistence(), Some(Persistence::NotPersisted), "{e}");
        assert_eq!(
            e.kafka_code(),
            Some(ErrorCode::TopicAuthorizationFailed),
            "{e}"
        );
    }
    assert_exactly_once_in_order(&fake1, &outcomes);

    // Written, then never answered until the delivery timeout: possibly persisted (and it is).
    let fake2 = fake(vec![Rule::on(ApiKey::Produce)
        .when(is_produce_with_data)
        .then(Action::ApplyThenSilence)])
    .await;
    let client2 = client(&fake2).await;
    let outcomes = send_all(&client2, config(Duration::from_secs(2)), 20).await;
    for (_, _, r) in &outcomes {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.persistence(), Some(Persistence::PossiblyPersisted), "{e}");
    }
    assert_exactly_once_in_order(&fake2, &outcomes);
    let written: usize = log_values(&fake2).values().map(Vec::len).sum();
    assert_eq!(
        written, 20,
        "the fake applied every batch it never answered"
    );
}

/// The base sequence of the first batch of a Produce request.
fn first_sequence(seen: &Seen) -> Option<i32> {
    let RequestKind::Produce(r) = &seen.body else {
        return None;
    };
    let records = r
        .topic_data
        .first()?
        .partition_data
        .first()?
        .records
        .as_ref()?;
    let b = records.get(53..57)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_goes_to_a_new_leader_before_the_old_one_answers() {
    let fake = FakeCluster::builder()
        .brokers(2)
        .topic(TOPIC, 1)
        .start()
        .await;
    let old = fake.leader(TOPIC, 0).unwrap().0;
    let new = fake.node_ids().into_iter().find(|n| *n != old).unwrap();
    // The old leader never answers the first batch (but answers what comes after it on the
    // connection, such as the metadata refresh below); the request times out and the batch is
    // retried.
    fake.add_rule(
        Rule::on(ApiKey::Produce)
            .on_node(old)
            .when(is_produce_with_data)
            .once()
            .then(Action::Silence),
    );
    let client = client(&fake).await;
    let producer = client
        .producer()
        .config(config(Duration::from_secs(30)))
        .build()
        .await
        .unwrap();
    let first = producer
        .send(ProducerRecord::new(TOPIC).partition(0).value("first"))
        .await
        .unwrap();
    fake.wait_for(|seen| {
        seen.iter()
            .any(|s| s.node_id == old && is_produce_with_data(s))
    })
    .await;
    // While that request is in flight, leadership moves and the producer learns of it.
    fake.set_leader(TOPIC, 0, new);
    client.refresh_metadata(&[TOPIC]).await.unwrap();
    let second = producer
        .send(ProducerRecord::new(TOPIC).partition(0).value("second"))
        .await
        .unwrap();
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!((first.offset, second.offset), (0, 1), "in send order");
    // The new leader's first Produce carried the first batch (sequence 0, retried after the
    // old leader's NOT_LEADER_OR_FOLLOWER), not the second one sent past it.
    let to_new: Vec<i32> = fake
        .requests()
        .iter()
        .filter(|s| s.node_id == new && is_produce_with_data(s))
        .filter_map(first_sequence)
        .collect();
    assert_eq!(to_new.first(), Some(&0), "{to_new:?}");
    producer.close().await;
}
