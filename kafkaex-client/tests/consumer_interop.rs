//! Our consumer reading what the Java client wrote, on the KRaft broker:
//!
//! - transactions of the Java transactional producer (`Transactions`), some committed and some
//!   aborted, one producer alone and two overlapping, with plain records between and inside
//!   them: `read_committed` returns exactly the committed and the plain records,
//!   `read_uncommitted` every data record, neither a control record; the position ends past the
//!   last marker, and every batch's `next_offset` is where the next expected record is at or
//!   after; from every start offset, with fetches of one batch and of everything;
//! - records of many shapes produced by the Java client with each codec (`ProduceCodecs`), and
//!   on a `LogAppendTime` topic, consumed byte for byte: keys, values, headers, timestamps.
//!
//! The Java programs are in `interop/java` (`cargo xtask interop build`); these tests skip
//! loudly without `KAFKAEX_INTEROP`, as CI sets it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use common::{create_topic, java, unique, WAIT};
use kafkaex_client::consumer::{IsolationLevel, StartOffset, TopicPartition};
use kafkaex_client::offsets::ListOffsetsOptions;
use kafkaex_client::{Client, Consumer, ConsumerRecord, OffsetSpec, PartitionRecords};
use kafkaex_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkaex_protocol::messages::FetchRequest;
use kafkaex_protocol::records::{
    decode_records, Compression, ControlRecordType, DecodeOptions, RecordBatch, TimestampType,
};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

async fn setup(test: &str) -> Option<(Client, String)> {
    let brokers = test_brokers(BrokerProfile::Kraft, test).await?;
    if std::env::var_os("KAFKAEX_INTEROP").is_none() {
        // Say so the same way the Java runner does, before creating anything.
        java(test, "Transactions", &[]);
        return None;
    }
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .client_id("kafkaex-consumer-interop")
        .build()
        .await
        .expect("client");
    Some((client, brokers.bootstrap.join(",")))
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn text(b: Option<&bytes::Bytes>) -> String {
    String::from_utf8(b.expect("not null").to_vec()).expect("utf-8")
}

/// The high watermark and, under `read_committed`, the last stable offset of `tp`.
async fn ends(client: &Client, tp: &TopicPartition) -> (i64, i64) {
    let mut out = [0i64; 2];
    for (slot, isolation) in [
        (0, IsolationLevel::ReadUncommitted),
        (1, IsolationLevel::ReadCommitted),
    ] {
        let listed = client
            .admin()
            .list_offsets(
                [(tp.clone(), OffsetSpec::Latest)],
                &ListOffsetsOptions::default().isolation(isolation),
            )
            .await
            .expect("ListOffsets");
        out[slot] = listed[tp].as_ref().expect("the partition's offset").offset;
    }
    (out[0], out[1])
}

/// Every batch of `topic`-0 below `end`, control batches included, by raw Fetch requests
/// (read_uncommitted), as the broker stores them.
async fn raw_batches(client: &Client, topic: &str, end: i64) -> Vec<RecordBatch> {
    let topic_id = client
        .metadata()
        .topic(topic)
        .map(|t| t.topic_id)
        .expect("the topic is in the metadata");
    let give_up = tokio::time::Instant::now() + WAIT;
    let mut out: Vec<RecordBatch> = Vec::new();
    let mut next = 0i64;
    while next < end {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{topic}: raw fetches reached {next} of {end} in {WAIT:?}"
        );
        let request = FetchRequest::default()
            .with_replica_id(-1)
            .with_max_wait_ms(200)
            .with_min_bytes(1)
            .with_max_bytes(8 << 20)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic.to_owned())
                .with_topic_id(topic_id)
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(next)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(4 << 20)])]);
        let fetched = client.request(&request).await.expect("Fetch");
        let data = fetched
            .body
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == 0)
            .expect("the response has the partition");
        assert!(data.error_code.is_ok(), "{topic}: {:?}", data.error_code);
        let set = decode_records(
            data.records.clone().unwrap_or_default(),
            &DecodeOptions::default(),
        )
        .expect("the fetched records decode");
        for batch in set.batches() {
            if batch.last_offset() >= next {
                next = batch.last_offset() + 1;
                out.push(batch.clone());
            }
        }
    }
    out
}

/// Takes batches until the consumer's position of `tp` is `end` (failing after [`WAIT`]),
/// checking each batch's `next_offset` against `expected` (the offsets this consumer should
/// return, ascending): everything expected below it has been returned and nothing at or after
/// it, and the consumer's position is it.
async fn read_to(
    consumer: &mut Consumer,
    tp: &TopicPartition,
    end: i64,
    expected: &[i64],
    what: &str,
) -> Vec<ConsumerRecord> {
    let give_up = tokio::time::Instant::now() + WAIT;
    let mut out: Vec<ConsumerRecord> = Vec::new();
    while consumer.position(tp) != Some(end) {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{what}: position {:?}, not {end}, after {WAIT:?} and {} records",
            consumer.position(tp),
            out.len()
        );
        // Polled in slices so the position is looked at between fetches (a fetch of only
        // control records moves it without returning a batch).
        let batch = match tokio::time::timeout(Duration::from_millis(100), consumer.next_batch())
            .await
        {
            Err(_) => continue,
            Ok(None) => panic!("{what}: the consumer closed"),
            Ok(Some(Err(e))) => panic!("{what}: consumer error after {} records: {e}", out.len()),
            Ok(Some(Ok(batch))) => batch,
        };
        check_batch(consumer, tp, &batch, end, expected, &mut out, what);
    }
    out
}

fn check_batch(
    consumer: &Consumer,
    tp: &TopicPartition,
    batch: &PartitionRecords,
    end: i64,
    expected: &[i64],
    out: &mut Vec<ConsumerRecord>,
    what: &str,
) {
    assert!(!batch.is_empty(), "{what}: an empty batch was returned");
    assert_eq!(
        (&*batch.topic, batch.partition),
        (tp.topic.as_str(), tp.partition)
    );
    let last = batch.records.last().map(|r| r.offset).unwrap_or(-1);
    assert!(
        batch.next_offset > last && batch.next_offset <= end,
        "{what}: next_offset {} after a last record at {last} (end {end})",
        batch.next_offset
    );
    assert_eq!(
        consumer.position(tp),
        Some(batch.next_offset),
        "{what}: the position after taking a batch is its next_offset"
    );
    // The log was stable before consuming: every fetch sees the same end.
    assert_eq!(batch.high_watermark, end, "{what}: high watermark");
    assert_eq!(batch.lag(), end - batch.next_offset, "{what}: lag");
    out.extend(batch.records.iter().cloned());
    let got: Vec<i64> = out.iter().map(|r| r.offset).collect();
    let want: Vec<i64> = expected
        .iter()
        .copied()
        .filter(|o| *o < batch.next_offset)
        .collect();
    assert_eq!(
        got, want,
        "{what}: after a batch with next_offset {}, the records returned so far are not \
         exactly those expected below it",
        batch.next_offset
    );
}

/// Whether a value was written as a committed, aborted or plain record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Committed,
    Aborted,
    Plain,
}

/// Runs `Transactions` (ROUNDS rounds of PER_TXN records per transaction, `producers`
/// transactional producers) into a new one-partition topic and checks both isolation levels.
async fn transactions_are_read_at_each_isolation_level(test: &str, producers: usize) {
    let Some((client, bootstrap)) = setup(test).await else {
        return;
    };
    const ROUNDS: usize = 4;
    const PER_TXN: usize = 6;
    let topic = unique(&format!("consumer-interop-txn-{producers}"));
    create_topic(&client, &topic, 1, 1, &[]).await;
    let tp = TopicPartition::new(topic.clone(), 0);
    let out = java(
        test,
        "Transactions",
        &[
            bootstrap,
            topic.clone(),
            ROUNDS.to_string(),
            PER_TXN.to_string(),
            producers.to_string(),
        ],
    )
    .expect("KAFKAEX_INTEROP is set");

    // What the Java producer wrote: offset -> (kind, value).
    let mut written: BTreeMap<i64, (Kind, String)> = BTreeMap::new();
    for line in out.lines() {
        let mut parts = line.splitn(3, ' ');
        let kind = match parts.next() {
            Some("committed") => Kind::Committed,
            Some("aborted") => Kind::Aborted,
            Some("plain") => Kind::Plain,
            other => panic!("Transactions printed {other:?} in {line:?}"),
        };
        let offset: i64 = parts.next().unwrap().parse().unwrap();
        let value = parts.next().unwrap().to_owned();
        assert!(
            written.insert(offset, (kind, value)).is_none(),
            "{line}: offset twice"
        );
    }
    let count = |k: Kind| written.values().filter(|(kind, _)| *kind == k).count();
    let transactions = ROUNDS * producers;
    let committed_txns = (0..ROUNDS)
        .flat_map(|i| (0..producers).map(move |p| (i + p) % 2 == 0))
        .filter(|c| *c)
        .count();
    assert_eq!(count(Kind::Committed), committed_txns * PER_TXN);
    assert_eq!(
        count(Kind::Aborted),
        (transactions - committed_txns) * PER_TXN
    );
    assert_eq!(count(Kind::Plain), 2 * ROUNDS - 1);

    // One control record per transaction: the log ends after data plus markers, once every
    // marker is written (the coordinator writes them after EndTxn returns) and the last
    // stable offset has caught up with the high watermark.
    let end = (written.len() + transactions) as i64;
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let (hwm, lso) = ends(&client, &tp).await;
        assert!(hwm <= end, "high watermark {hwm} past {end}");
        if hwm == end && lso == end {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "after {WAIT:?}: high watermark {hwm}, last stable offset {lso}, expected {end}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The gaps between data offsets are exactly the markers: control batches of the
    // transactional producers, as many commits and aborts as transactions of each.
    let markers: BTreeSet<i64> = (0..end).filter(|o| !written.contains_key(o)).collect();
    assert_eq!(markers.len(), transactions, "{markers:?}");
    let raw = raw_batches(&client, &topic, end).await;
    let mut commits = 0;
    let mut aborts = 0;
    for batch in &raw {
        let offsets: BTreeSet<i64> = batch.records.iter().map(|r| r.offset).collect();
        if batch.is_control {
            assert!(batch.is_transactional);
            assert!(offsets.is_subset(&markers), "{offsets:?} vs {markers:?}");
            match batch.control_type() {
                Some(ControlRecordType::Commit) => commits += 1,
                Some(ControlRecordType::Abort) => aborts += 1,
                other => panic!("a control batch of type {other:?}"),
            }
        } else {
            assert!(offsets.iter().all(|o| written.contains_key(o)));
            let kinds: BTreeSet<_> = offsets
                .iter()
                .map(|o| format!("{:?}", written[o].0))
                .collect();
            assert_eq!(kinds.len(), 1, "a batch mixing {kinds:?}");
            assert_eq!(
                batch.is_transactional,
                written[&batch.base_offset].0 != Kind::Plain
            );
        }
    }
    assert_eq!(
        (commits, aborts),
        (committed_txns, transactions - committed_txns)
    );

    for isolation in [
        IsolationLevel::ReadCommitted,
        IsolationLevel::ReadUncommitted,
    ] {
        let wanted = |k: Kind| isolation == IsolationLevel::ReadUncommitted || k != Kind::Aborted;
        let expected: Vec<i64> = written
            .iter()
            .filter(|(_, (k, _))| wanted(*k))
            .map(|(o, _)| *o)
            .collect();

        // Everything, with the default fetch sizes (one fetch brings it all) and with one
        // batch per fetch (a partition limit of one byte: the broker sends the first batch
        // whole), so aborted transactions span fetches.
        for one_batch in [false, true] {
            let what = format!("{isolation:?}, one batch per fetch: {one_batch}");
            let mut builder = client.consumer().isolation_level(isolation);
            if one_batch {
                builder = builder.max_partition_fetch_bytes(1);
            }
            let mut consumer = builder.build().unwrap();
            consumer
                .assign([(tp.clone(), StartOffset::Earliest)])
                .unwrap();
            let records = read_to(&mut consumer, &tp, end, &expected, &what).await;
            let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, expected, "{what}");
            for r in &records {
                let value = text(r.value.as_ref());
                let (kind, written_value) = &written[&r.offset];
                assert_eq!(&value, written_value, "{what}: at {}", r.offset);
                assert!(wanted(*kind), "{what}: {kind:?} {value} returned");
                assert_eq!(text(r.key.as_ref()), format!("k-{value}"), "{what}");
                assert!(r.headers().is_empty(), "{what}");
                assert_eq!(r.timestamp_type, TimestampType::CreateTime, "{what}");
                assert!(r.leader_epoch.is_some_and(|e| e >= 0), "{what}");
                assert!(!markers.contains(&r.offset), "{what}: a control record");
            }
            // Nothing more comes (there is nothing more in the log): no marker turns up late.
            match tokio::time::timeout(Duration::from_secs(1), consumer.next_batch()).await {
                Err(_) => {}
                Ok(other) => panic!("{what}: after the end, {other:?}"),
            }
            assert_eq!(consumer.position(&tp), Some(end), "{what}");
        }

        // From every offset, the markers' and the aborted records' included, one batch per
        // fetch: exactly what is expected at or after it, and the position ends at the end.
        for start in 0..=end {
            let what = format!("{isolation:?} from offset {start}");
            let mut consumer = client
                .consumer()
                .isolation_level(isolation)
                .max_partition_fetch_bytes(1)
                .build()
                .unwrap();
            consumer
                .assign([(tp.clone(), StartOffset::Offset(start))])
                .unwrap();
            let from: Vec<i64> = expected.iter().copied().filter(|o| *o >= start).collect();
            let records = read_to(&mut consumer, &tp, end, &from, &what).await;
            let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, from, "{what}");
        }
    }
}

#[tokio::test]
async fn read_committed_skips_what_one_java_transactional_producer_aborted() {
    transactions_are_read_at_each_isolation_level(
        "read_committed_skips_what_one_java_transactional_producer_aborted",
        1,
    )
    .await;
}

#[tokio::test]
async fn read_committed_skips_what_two_overlapping_java_transactions_aborted() {
    transactions_are_read_at_each_isolation_level(
        "read_committed_skips_what_two_overlapping_java_transactions_aborted",
        2,
    )
    .await;
}

#[tokio::test]
async fn what_the_java_producer_wrote_with_each_codec_is_consumed_byte_for_byte() {
    let test = "what_the_java_producer_wrote_with_each_codec_is_consumed_byte_for_byte";
    let Some((client, bootstrap)) = setup(test).await else {
        return;
    };
    const COUNT: usize = 200;
    const BATCH: usize = 30;
    for (codec, compression, log_append_time) in [
        ("none", Compression::None, false),
        ("gzip", Compression::Gzip, false),
        ("snappy", Compression::Snappy, false),
        ("lz4", Compression::Lz4, false),
        ("zstd", Compression::Zstd, false),
        ("lz4", Compression::Lz4, true),
        ("zstd", Compression::Zstd, true),
    ] {
        let what = format!("{codec}, LogAppendTime: {log_append_time}");
        let topic = unique(&format!("consumer-interop-{codec}"));
        let configs: &[(&str, &str)] = if log_append_time {
            &[("message.timestamp.type", "LogAppendTime")]
        } else {
            &[]
        };
        create_topic(&client, &topic, 1, 1, configs).await;
        let out = java(
            test,
            "ProduceCodecs",
            &[
                bootstrap.clone(),
                topic.clone(),
                codec.to_owned(),
                COUNT.to_string(),
                BATCH.to_string(),
            ],
        )
        .expect("KAFKAEX_INTEROP is set");
        let expected: Vec<&str> = out.lines().collect();
        assert_eq!(expected.len(), COUNT, "{what}");

        // The broker kept the Java client's batches and codec.
        let raw = raw_batches(&client, &topic, COUNT as i64).await;
        assert_eq!(raw.len(), COUNT.div_ceil(BATCH), "{what}");
        for b in &raw {
            assert_eq!(b.compression, compression, "{what}");
        }

        let tp = TopicPartition::new(topic.clone(), 0);
        let mut consumer = client.consumer().build().unwrap();
        consumer
            .assign([(tp.clone(), StartOffset::Earliest)])
            .unwrap();
        let all: Vec<i64> = (0..COUNT as i64).collect();
        let records = read_to(&mut consumer, &tp, COUNT as i64, &all, &what).await;
        let want_type = if log_append_time {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        };
        for (r, want) in records.iter().zip(&expected) {
            let mut line = format!(
                "{} {} {} {}",
                r.offset,
                r.timestamp,
                r.key.as_deref().map_or_else(|| "null".to_owned(), hex),
                r.value.as_deref().map_or_else(|| "null".to_owned(), hex)
            );
            for h in r.headers() {
                let _ = write!(
                    line,
                    " {}={}",
                    hex(h.key.as_str().as_bytes()),
                    h.value.as_deref().map_or_else(|| "null".to_owned(), hex)
                );
            }
            assert_eq!(&line, want, "{what}: offset {}", r.offset);
            assert_eq!(r.timestamp_type, want_type, "{what}: offset {}", r.offset);
            assert!(r.leader_epoch.is_some_and(|e| e >= 0), "{what}");
        }
    }
}
