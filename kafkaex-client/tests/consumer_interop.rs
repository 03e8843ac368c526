//! Our consumer reading what the Java client wrote, on the KRaft broker:
//!
//! - transactions of the Java transactional producer (`Transactions`), some committed and some
//!   aborted, one producer alone and two overlapping, with plain records between and inside
//!   them: `read_committed` returns exactly the committed and the plain records,
//!   `read_uncommitted` every data record, neither a control record; the position ends past the
//!   last marker, and every batch's `next_offset` is where the next expected record is at or
//!   after; from every start offset, with fetches of one batch and of everything;
//! - a transaction left open: `read_committed` stops at the last stable offset (records after
//!   it wait, `read_uncommitted` has them), and goes on over it once the coordinator aborts it;
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
    let bootstrap = brokers.bootstrap.join(",");
    Some((new_client(&bootstrap).await, bootstrap))
}

/// A client of its own. Each consumer gets one, as each Java consumer has its own connections:
/// a consumer's fetch waiting at the end of the log holds the connection it is sent on for up
/// to `fetch_max_wait` (a broker answers one request per connection at a time), and would
/// delay the next consumer's requests, and this test's, behind it.
async fn new_client(bootstrap: &str) -> Client {
    Client::builder()
        .bootstrap(bootstrap.split(','))
        .client_id("kafkaex-consumer-interop")
        .build()
        .await
        .expect("client")
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

/// The high watermark and the last stable offset of `tp`.
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

/// Polls until `tp`'s high watermark and last stable offset are these (failing after
/// [`WAIT`], or at once if the high watermark passes `hwm`).
async fn wait_for_ends(client: &Client, tp: &TopicPartition, hwm: i64, lso: i64) {
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let now = ends(client, tp).await;
        assert!(now.0 <= hwm, "high watermark {} past {hwm}", now.0);
        if now == (hwm, lso) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "after {WAIT:?}: (high watermark, last stable offset) {now:?}, not {:?}",
            (hwm, lso)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// What a read with [`read_to`] should see.
struct Expect<'a> {
    /// The position the read ends at.
    target: i64,
    /// The high watermark every fetch reports.
    hwm: i64,
    /// The last stable offset every fetch reports, when checked.
    lso: Option<i64>,
    /// The offsets to be returned, ascending.
    offsets: &'a [i64],
    /// For messages.
    what: &'a str,
}

/// Takes batches until the consumer's position of `tp` is `expect.target` (failing after
/// [`WAIT`]), checking each batch: its `next_offset` is the consumer's position, everything
/// expected below it has been returned and nothing at or after it.
async fn read_to(
    consumer: &mut Consumer,
    tp: &TopicPartition,
    expect: &Expect<'_>,
) -> Vec<ConsumerRecord> {
    let what = expect.what;
    let give_up = tokio::time::Instant::now() + WAIT;
    let mut out: Vec<ConsumerRecord> = Vec::new();
    while consumer.position(tp) != Some(expect.target) {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{what}: position {:?}, not {}, after {WAIT:?} and {} records",
            consumer.position(tp),
            expect.target,
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
        check_batch(consumer, tp, &batch, expect);
        out.extend(batch.records.iter().cloned());
        let got: Vec<i64> = out.iter().map(|r| r.offset).collect();
        let want: Vec<i64> = expect
            .offsets
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
    out
}

fn check_batch(
    consumer: &Consumer,
    tp: &TopicPartition,
    batch: &PartitionRecords,
    expect: &Expect<'_>,
) {
    let what = expect.what;
    assert!(!batch.is_empty(), "{what}: an empty batch was returned");
    assert_eq!(
        (&*batch.topic, batch.partition),
        (tp.topic.as_str(), tp.partition)
    );
    let last = batch.records.last().map_or(-1, |r| r.offset);
    assert!(
        batch.next_offset > last && batch.next_offset <= expect.target,
        "{what}: next_offset {} after a last record at {last} (target {})",
        batch.next_offset,
        expect.target
    );
    assert_eq!(
        consumer.position(tp),
        Some(batch.next_offset),
        "{what}: the position after taking a batch is its next_offset"
    );
    assert_eq!(batch.high_watermark, expect.hwm, "{what}: high watermark");
    if let Some(lso) = expect.lso {
        assert_eq!(batch.last_stable_offset, lso, "{what}: last stable offset");
    }
    assert_eq!(batch.lag(), expect.hwm - batch.next_offset, "{what}: lag");
}

/// Nothing more comes within a second (a bounded wait for an absence: long enough for the
/// consumer to fetch again, its fetches waiting 500 ms at most).
async fn nothing_more(consumer: &mut Consumer, what: &str) {
    if let Ok(item) = tokio::time::timeout(Duration::from_secs(1), consumer.next_batch()).await {
        panic!("{what}: nothing more was expected, got {item:?}");
    }
}

/// Whether a value was written as a committed, aborted, plain or open-transaction record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Committed,
    Aborted,
    Plain,
    Open,
}

/// What `Transactions` printed: offset -> (kind, value).
fn parse_transactions(out: &str) -> BTreeMap<i64, (Kind, String)> {
    let mut written = BTreeMap::new();
    for line in out.lines() {
        let mut parts = line.splitn(3, ' ');
        let kind = match parts.next() {
            Some("committed") => Kind::Committed,
            Some("aborted") => Kind::Aborted,
            Some("plain") => Kind::Plain,
            Some("open") => Kind::Open,
            other => panic!("Transactions printed {other:?} in {line:?}"),
        };
        let offset: i64 = parts.next().unwrap().parse().unwrap();
        let value = parts.next().unwrap().to_owned();
        assert!(
            written.insert(offset, (kind, value)).is_none(),
            "{line}: offset twice"
        );
    }
    written
}

/// Checks records against what `Transactions` wrote: each one's value and key, no control
/// record (`markers`), no record of a kind `wanted` refuses.
fn check_records(
    records: &[ConsumerRecord],
    written: &BTreeMap<i64, (Kind, String)>,
    markers: &BTreeSet<i64>,
    wanted: impl Fn(Kind) -> bool,
    what: &str,
) {
    for r in records {
        assert!(!markers.contains(&r.offset), "{what}: a control record");
        let (kind, written_value) = &written[&r.offset];
        let value = text(r.value.as_ref());
        assert_eq!(&value, written_value, "{what}: at {}", r.offset);
        assert!(wanted(*kind), "{what}: {kind:?} {value} returned");
        assert_eq!(text(r.key.as_ref()), format!("k-{value}"), "{what}");
        assert!(r.headers().is_empty(), "{what}");
        assert_eq!(r.timestamp_type, TimestampType::CreateTime, "{what}");
        assert!(r.leader_epoch.is_some_and(|e| e >= 0), "{what}");
    }
}

/// Checks the stored batches against what `Transactions` wrote: the gaps between its offsets
/// hold exactly the control batches, `commits` commit markers and `aborts` abort markers; no
/// data batch mixes kinds, and only the plain ones are not transactional.
fn check_raw(
    raw: &[RecordBatch],
    written: &BTreeMap<i64, (Kind, String)>,
    markers: &BTreeSet<i64>,
    commits: usize,
    aborts: usize,
) {
    let mut seen = (0, 0);
    let mut control_offsets = BTreeSet::new();
    for batch in raw {
        let offsets: BTreeSet<i64> = batch.records.iter().map(|r| r.offset).collect();
        if batch.is_control {
            assert!(batch.is_transactional);
            control_offsets.extend(offsets);
            match batch.control_type() {
                Some(ControlRecordType::Commit) => seen.0 += 1,
                Some(ControlRecordType::Abort) => seen.1 += 1,
                other => panic!("a control batch of type {other:?}"),
            }
        } else {
            let kinds: BTreeSet<Kind> = offsets.iter().map(|o| written[o].0).collect();
            assert_eq!(kinds.len(), 1, "a batch mixing {kinds:?}");
            assert_eq!(
                batch.is_transactional,
                written[&batch.base_offset].0 != Kind::Plain
            );
        }
    }
    assert_eq!(&control_offsets, markers);
    assert_eq!(seen, (commits, aborts), "(commit, abort) markers");
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
            bootstrap.clone(),
            topic.clone(),
            ROUNDS.to_string(),
            PER_TXN.to_string(),
            producers.to_string(),
        ],
    )
    .expect("KAFKAEX_INTEROP is set");
    let written = parse_transactions(&out);
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
    wait_for_ends(&client, &tp, end, end).await;

    // The gaps between data offsets are exactly the markers, and the log ends with one.
    let markers: BTreeSet<i64> = (0..end).filter(|o| !written.contains_key(o)).collect();
    assert_eq!(markers.len(), transactions, "{markers:?}");
    assert!(markers.contains(&(end - 1)), "{markers:?}");
    let raw = raw_batches(&client, &topic, end).await;
    check_raw(
        &raw,
        &written,
        &markers,
        committed_txns,
        transactions - committed_txns,
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
        // The log was stable before consuming: every fetch sees the same end.
        let lso = (isolation == IsolationLevel::ReadCommitted).then_some(end);

        // Everything, with the default fetch sizes (one fetch brings it all) and with one
        // batch per fetch (a partition limit of one byte: the broker sends the first batch
        // whole), so aborted transactions span fetches.
        for one_batch in [false, true] {
            let what = format!("{isolation:?}, one batch per fetch: {one_batch}");
            let mut builder = new_client(&bootstrap)
                .await
                .consumer()
                .isolation_level(isolation);
            if one_batch {
                builder = builder.max_partition_fetch_bytes(1);
            }
            let mut consumer = builder.build().unwrap();
            consumer
                .assign([(tp.clone(), StartOffset::Earliest)])
                .unwrap();
            let expect = Expect {
                target: end,
                hwm: end,
                lso,
                offsets: &expected,
                what: &what,
            };
            let records = read_to(&mut consumer, &tp, &expect).await;
            let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, expected, "{what}");
            check_records(&records, &written, &markers, wanted, &what);
            // Nothing more (there is nothing more in the log): no marker turns up late.
            nothing_more(&mut consumer, &what).await;
            assert_eq!(consumer.position(&tp), Some(end), "{what}");
        }

        // From every offset, the markers' and the aborted records' included, one batch per
        // fetch: exactly what is expected at or after it, and the position ends at the end.
        for start in 0..=end {
            let what = format!("{isolation:?} from offset {start}");
            let mut consumer = new_client(&bootstrap)
                .await
                .consumer()
                .isolation_level(isolation)
                .max_partition_fetch_bytes(1)
                .build()
                .unwrap();
            consumer
                .assign([(tp.clone(), StartOffset::Offset(start))])
                .unwrap();
            let from: Vec<i64> = expected.iter().copied().filter(|o| *o >= start).collect();
            let expect = Expect {
                target: end,
                hwm: end,
                lso,
                offsets: &from,
                what: &what,
            };
            let records = read_to(&mut consumer, &tp, &expect).await;
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
async fn read_committed_waits_at_an_open_transaction_until_it_is_aborted() {
    let test = "read_committed_waits_at_an_open_transaction_until_it_is_aborted";
    let Some((client, bootstrap)) = setup(test).await else {
        return;
    };
    const ROUNDS: usize = 2;
    const PER_TXN: usize = 4;
    let topic = unique("consumer-interop-txn-open");
    create_topic(&client, &topic, 1, 1, &[]).await;
    let tp = TopicPartition::new(topic.clone(), 0);
    let out = java(
        test,
        "Transactions",
        &[
            bootstrap.clone(),
            topic.clone(),
            ROUNDS.to_string(),
            PER_TXN.to_string(),
            "1".to_owned(),
            "--leave-open".to_owned(),
        ],
    )
    .expect("KAFKAEX_INTEROP is set");
    let written = parse_transactions(&out);
    let open: Vec<i64> = written
        .iter()
        .filter(|(_, (k, _))| *k == Kind::Open)
        .map(|(o, _)| *o)
        .collect();
    assert_eq!(open.len(), PER_TXN);
    let first_open = open[0];
    let (after, (kind, _)) = written.last_key_value().unwrap();
    assert_eq!(
        *kind,
        Kind::Plain,
        "a plain record after the open transaction"
    );
    assert!(*after > open[PER_TXN - 1]);

    // While it is open: the data and the markers of the ROUNDS ended transactions, and the
    // last stable offset at the open transaction's first record (the coordinator aborts it
    // after its 6 s timeout, at its next check for timed-out transactions, up to 10 s later).
    let open_end = (written.len() + ROUNDS) as i64;
    wait_for_ends(&client, &tp, open_end, first_open).await;

    let committed_only = |k: Kind| matches!(k, Kind::Committed | Kind::Plain);
    let committed: Vec<i64> = written
        .iter()
        .filter(|(_, (k, _))| committed_only(*k))
        .map(|(o, _)| *o)
        .collect();
    let mut read_committed = new_client(&bootstrap)
        .await
        .consumer()
        .isolation_level(IsolationLevel::ReadCommitted)
        .build()
        .unwrap();
    read_committed
        .assign([(tp.clone(), StartOffset::Earliest)])
        .unwrap();
    let below: Vec<i64> = committed
        .iter()
        .copied()
        .filter(|o| *o < first_open)
        .collect();
    let what = "read_committed with the transaction open";
    let expect = Expect {
        target: first_open,
        hwm: open_end,
        lso: Some(first_open),
        offsets: &below,
        what,
    };
    let mut got = read_to(&mut read_committed, &tp, &expect).await;
    // The plain record after the open transaction waits for it.
    nothing_more(&mut read_committed, what).await;
    assert_eq!(read_committed.position(&tp), Some(first_open));

    // read_uncommitted has everything, the open transaction's records and the one after.
    let all: Vec<i64> = written.keys().copied().collect();
    let mut read_uncommitted = new_client(&bootstrap).await.consumer().build().unwrap();
    read_uncommitted
        .assign([(tp.clone(), StartOffset::Earliest)])
        .unwrap();
    let what = "read_uncommitted with the transaction open";
    let expect = Expect {
        target: open_end,
        hwm: open_end,
        lso: None,
        offsets: &all,
        what,
    };
    let records = read_to(&mut read_uncommitted, &tp, &expect).await;
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, all, "{what}");
    drop(read_uncommitted);

    // The coordinator aborts it: one more marker, at the end.
    let end = open_end + 1;
    wait_for_ends(&client, &tp, end, end).await;
    let markers: BTreeSet<i64> = (0..end).filter(|o| !written.contains_key(o)).collect();
    assert_eq!(markers.len(), ROUNDS + 1, "{markers:?}");
    assert!(markers.contains(&(end - 1)), "{markers:?}");
    let raw = raw_batches(&client, &topic, end).await;
    // Rounds 0, 2, ... commit; the others and the open transaction abort.
    check_raw(&raw, &written, &markers, ROUNDS.div_ceil(2), ROUNDS / 2 + 1);

    // The consumer that waited goes on: the plain record, not the open transaction's.
    let what = "read_committed after the abort";
    let rest: Vec<i64> = committed
        .iter()
        .copied()
        .filter(|o| *o >= first_open)
        .collect();
    assert_eq!(rest, [*after]);
    let expect = Expect {
        target: end,
        hwm: end,
        lso: Some(end),
        offsets: &rest,
        what,
    };
    got.extend(read_to(&mut read_committed, &tp, &expect).await);
    let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, committed, "read_committed, all told");
    check_records(&got, &written, &markers, committed_only, "read_committed");
    nothing_more(&mut read_committed, what).await;
    assert_eq!(read_committed.position(&tp), Some(end));
}

const CODECS: [(&str, Compression); 5] = [
    ("none", Compression::None),
    ("gzip", Compression::Gzip),
    ("snappy", Compression::Snappy),
    ("lz4", Compression::Lz4),
    ("zstd", Compression::Zstd),
];

#[tokio::test]
async fn what_the_java_producer_wrote_with_each_codec_is_consumed_byte_for_byte() {
    java_records_are_consumed_byte_for_byte(
        "what_the_java_producer_wrote_with_each_codec_is_consumed_byte_for_byte",
        false,
    )
    .await;
}

/// On a `LogAppendTime` topic a record's timestamp is its batch's `max_timestamp`, the time the
/// broker appended it (Java's `DefaultRecordBatch` gives every record that), not the producer's
/// timestamp, which the broker leaves in the record.
#[tokio::test]
async fn log_append_time_records_carry_the_brokers_timestamp() {
    java_records_are_consumed_byte_for_byte(
        "log_append_time_records_carry_the_brokers_timestamp",
        true,
    )
    .await;
}

/// Runs `ProduceCodecs` with each codec into a new one-partition topic (`LogAppendTime` or
/// not) and reads it back with our consumer, comparing every record with the Java program's
/// line for it.
async fn java_records_are_consumed_byte_for_byte(test: &str, log_append_time: bool) {
    let Some((client, bootstrap)) = setup(test).await else {
        return;
    };
    const COUNT: usize = 200;
    const BATCH: usize = 30;
    let want_type = if log_append_time {
        TimestampType::LogAppendTime
    } else {
        TimestampType::CreateTime
    };
    for (codec, compression) in CODECS {
        let what = format!("{codec}, {want_type:?}");
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
        let java_timestamps: Vec<i64> = expected
            .iter()
            .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
            .collect();
        for b in &raw {
            assert_eq!(b.compression, compression, "{what}");
            assert_eq!(b.timestamp_type, want_type, "{what}");
            if log_append_time {
                // What Java reports for each record is its batch's max_timestamp.
                for r in &b.records {
                    assert_eq!(
                        java_timestamps[r.offset as usize], b.max_timestamp,
                        "{what}"
                    );
                }
            }
        }

        let tp = TopicPartition::new(topic.clone(), 0);
        let mut consumer = new_client(&bootstrap).await.consumer().build().unwrap();
        consumer
            .assign([(tp.clone(), StartOffset::Earliest)])
            .unwrap();
        let all: Vec<i64> = (0..COUNT as i64).collect();
        let expect = Expect {
            target: COUNT as i64,
            hwm: COUNT as i64,
            lso: None,
            offsets: &all,
            what: &what,
        };
        let records = read_to(&mut consumer, &tp, &expect).await;
        for (r, want) in records.iter().zip(&expected) {
            assert_eq!(r.timestamp_type, want_type, "{what}: offset {}", r.offset);
            assert_eq!(
                r.timestamp, java_timestamps[r.offset as usize],
                "{what}: offset {}: the timestamp",
                r.offset
            );
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
            assert!(r.leader_epoch.is_some_and(|e| e >= 0), "{what}");
        }
    }
}
