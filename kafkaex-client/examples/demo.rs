//! The README's first command (`cargo xtask demo`) runs this: on `kafkaex-client`'s API alone,
//! create a topic, produce records with keys, headers and timestamps, consume them as a
//! member of a consumer group, commit what was processed, read the group's committed offsets
//! back, and print what happened.
//!
//! ```text
//! cargo xtask kafka up kraft
//! cargo run -p kafkaex-client --example demo [-- BOOTSTRAP]
//! ```
//!
//! The bootstrap list (comma-separated `host:port`) is the first argument, else
//! `KAFKAEX_BOOTSTRAP`, else `KAFKAEX_BOOTSTRAP_KRAFT`, else `127.0.0.1:19092`. Every run uses
//! a topic and a group of its own. Whatever does not match (a record consumed differently
//! from how it was produced, missing or twice; a committed offset other than the one after
//! the last record) is listed after the report and ends the program with a non-zero status.
//! `tests/demo.rs` runs the same [`run`] against the test broker and asserts on its
//! [`Report`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafkaex_client::admin::{CreateTopicsOptions, NewTopic};
use kafkaex_client::consumer::{OffsetReset, TopicPartition};
use kafkaex_client::group::GroupEvent;
use kafkaex_client::offsets::FetchOffsetsOptions;
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;

/// How many partitions the demo's topic has.
pub const PARTITIONS: i32 = 3;
/// How long the demo waits for a step that polls (leaders, the group's records).
pub const WAIT: Duration = Duration::from_secs(60);
/// The keys of the produced records, in order: one record per `(key, event)` pair below.
const KEYS: [&str; 3] = ["alice", "bob", "carol"];
/// What each key does, in order.
const EVENTS: [&str; 3] = ["signed up", "added a book to the cart", "paid"];
/// The header every record carries with its place in the sequence.
const SEQ_HEADER: &str = "seq";
/// The header every record carries naming the program that wrote it.
const SOURCE_HEADER: &str = "source";
const SOURCE: &str = "kafkaex-demo";
/// How far apart the records' timestamps are (they start ten minutes in the past, so that
/// no broker limit on future timestamps applies).
const TIMESTAMP_STEP_MS: i64 = 1_000;

/// A record the demo produced, with where the broker put it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Produced {
    /// The partition (chosen by the default partitioner from the key).
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The CreateTime timestamp set on the record (ms since the epoch).
    pub timestamp: i64,
}

/// A record the group member consumed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumed {
    /// The partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// The key (lossy UTF-8; `None`: null).
    pub key: Option<String>,
    /// The value (lossy UTF-8; `None`: null).
    pub value: Option<String>,
    /// The headers, in order (null values as empty strings).
    pub headers: Vec<(String, String)>,
    /// The timestamp.
    pub timestamp: i64,
    /// What the timestamp means (`CreateTime`, `LogAppendTime`).
    pub timestamp_type: String,
}

/// A rebalance event the member saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rebalance {
    /// Partitions assigned, in a generation of the group.
    Assigned {
        /// The partitions.
        partitions: Vec<i32>,
        /// The generation.
        generation: i32,
    },
    /// Partitions revoked.
    Revoked(Vec<i32>),
    /// Partitions lost.
    Lost(Vec<i32>),
}

/// What the demo did, for `main` to print and the test to assert on.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The bootstrap list used.
    pub bootstrap: Vec<String>,
    /// The topic created.
    pub topic: String,
    /// Its partition count as the broker reported it.
    pub partitions: i32,
    /// Its topic id, as Kafka's tools print it.
    pub topic_id: String,
    /// The records produced, in the order sent.
    pub produced: Vec<Produced>,
    /// The group.
    pub group: String,
    /// The member id the group gave the demo's consumer.
    pub member_id: String,
    /// The rebalance events the member saw.
    pub rebalances: Vec<Rebalance>,
    /// The records consumed, in the order received.
    pub consumed: Vec<Consumed>,
    /// How many batches came (each one marked and committed before the next).
    pub batches: usize,
    /// How many commits were made (one per batch, awaited).
    pub commits: usize,
    /// The group's committed offsets of the topic's partitions, as read back from the
    /// coordinator (OffsetFetch); a partition without one is absent.
    pub committed: BTreeMap<i32, i64>,
}

impl Report {
    /// The committed offset each partition should have: one past its last produced record.
    pub fn expected_commits(&self) -> BTreeMap<i32, i64> {
        let mut out = BTreeMap::new();
        for p in &self.produced {
            let next = out.entry(p.partition).or_insert(0);
            *next = (*next).max(p.offset + 1);
        }
        out
    }

    /// Everything that does not match: empty when the demo worked.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.produced.len() != KEYS.len() * EVENTS.len() {
            problems.push(format!(
                "produced {} records, meant to produce {}",
                self.produced.len(),
                KEYS.len() * EVENTS.len()
            ));
        }
        // A fresh topic: each partition's records are at offsets 0, 1, 2, ... in send order.
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for p in &self.produced {
            let expected = next.entry(p.partition).or_insert(0);
            if p.offset != *expected {
                problems.push(format!(
                    "{} was written at {}-{}, expected offset {}",
                    p.value, p.partition, p.offset, expected
                ));
            }
            *expected = p.offset + 1;
        }
        let mut consumed: BTreeMap<(i32, i64), Vec<&Consumed>> = BTreeMap::new();
        for c in &self.consumed {
            consumed.entry((c.partition, c.offset)).or_default().push(c);
        }
        for p in &self.produced {
            match consumed.get(&(p.partition, p.offset)).map(Vec::as_slice) {
                None | Some([]) => {
                    problems.push(format!("{}-{} was not consumed", p.partition, p.offset));
                }
                Some([c]) => {
                    if c.key.as_deref() != Some(p.key.as_str()) {
                        problems.push(format!(
                            "{}-{}: key {:?}, produced {:?}",
                            p.partition, p.offset, c.key, p.key
                        ));
                    }
                    if c.value.as_deref() != Some(p.value.as_str()) {
                        problems.push(format!(
                            "{}-{}: value {:?}, produced {:?}",
                            p.partition, p.offset, c.value, p.value
                        ));
                    }
                    if c.headers != p.headers {
                        problems.push(format!(
                            "{}-{}: headers {:?}, produced {:?}",
                            p.partition, p.offset, c.headers, p.headers
                        ));
                    }
                    if c.timestamp != p.timestamp {
                        problems.push(format!(
                            "{}-{}: timestamp {} ({}), produced {}",
                            p.partition, p.offset, c.timestamp, c.timestamp_type, p.timestamp
                        ));
                    }
                }
                Some(many) => problems.push(format!(
                    "{}-{} was consumed {} times",
                    p.partition,
                    p.offset,
                    many.len()
                )),
            }
        }
        for c in &self.consumed {
            if !self
                .produced
                .iter()
                .any(|p| (p.partition, p.offset) == (c.partition, c.offset))
            {
                problems.push(format!(
                    "{}-{} was consumed but not produced by this run",
                    c.partition, c.offset
                ));
            }
        }
        let assigned: Vec<i32> = self
            .rebalances
            .iter()
            .filter_map(|r| match r {
                Rebalance::Assigned { partitions, .. } => Some(partitions.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        for partition in 0..self.partitions {
            if !assigned.contains(&partition) {
                problems.push(format!("partition {partition} was never assigned"));
            }
        }
        let expected = self.expected_commits();
        if self.committed != expected {
            problems.push(format!(
                "committed offsets {:?}, expected {:?} (one past each partition's last record)",
                self.committed, expected
            ));
        }
        problems
    }
}

/// Why the demo stopped.
#[derive(Debug)]
pub enum DemoError {
    /// A client call failed.
    Client {
        /// What the demo was doing.
        step: &'static str,
        /// The client's error.
        source: kafkaex_client::Error,
    },
    /// A step did not finish in time, or went another way than it must.
    Step {
        /// What the demo was doing.
        step: &'static str,
        /// What happened.
        detail: String,
    },
    /// Everything ran, but what came back does not match what was produced.
    Mismatch {
        /// What happened.
        report: Box<Report>,
        /// What does not match ([`Report::problems`]).
        problems: Vec<String>,
    },
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DemoError::Client { step, source } => write!(f, "{step}: {source}"),
            DemoError::Step { step, detail } => write!(f, "{step}: {detail}"),
            DemoError::Mismatch { problems, .. } => {
                write!(
                    f,
                    "{} mismatch(es): {}",
                    problems.len(),
                    problems.join("; ")
                )
            }
        }
    }
}

impl std::error::Error for DemoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DemoError::Client { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Attaches the step to a client error.
trait During<T> {
    fn during(self, step: &'static str) -> Result<T, DemoError>;
}

impl<T> During<T> for Result<T, kafkaex_client::Error> {
    fn during(self, step: &'static str) -> Result<T, DemoError> {
        self.map_err(|source| DemoError::Client { step, source })
    }
}

/// The bootstrap list: the first argument, else the environment (see the module docs).
pub fn bootstrap_from_args_or_env() -> Vec<String> {
    let raw = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("KAFKAEX_BOOTSTRAP").ok())
        .or_else(|| std::env::var("KAFKAEX_BOOTSTRAP_KRAFT").ok())
        .unwrap_or_else(|| "127.0.0.1:19092".to_owned());
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A suffix no other run uses: the time in ms and the process id.
pub fn unique_suffix() -> String {
    format!("{:x}-{}", now_ms(), std::process::id())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The records to produce: every key's events in turn, each with its sequence number and
/// source as headers and a timestamp one step after the previous one's.
fn records(topic: &str, first_timestamp: i64) -> Vec<(ProducerRecord, Produced)> {
    let mut out = Vec::new();
    for (i, event) in EVENTS.iter().enumerate() {
        for (j, key) in KEYS.iter().enumerate() {
            let seq = i * KEYS.len() + j;
            let value = format!("{key} {event}");
            let timestamp = first_timestamp + TIMESTAMP_STEP_MS * seq as i64;
            let headers = vec![
                (SEQ_HEADER.to_owned(), seq.to_string()),
                (SOURCE_HEADER.to_owned(), SOURCE.to_owned()),
            ];
            let mut record = ProducerRecord::new(topic.to_owned())
                .key(key.to_string())
                .value(value.clone())
                .timestamp(timestamp);
            for (k, v) in &headers {
                record = record.header(k, v.clone());
            }
            let produced = Produced {
                partition: -1,
                offset: -1,
                key: key.to_string(),
                value,
                headers,
                timestamp,
            };
            out.push((record, produced));
        }
    }
    out
}

/// Runs the demo against `bootstrap` with a new `topic` and `group`, printing a line as each
/// step starts. Returns the report when everything matched; [`DemoError::Mismatch`] carries
/// it (and what did not match) otherwise.
pub async fn run(bootstrap: &[String], topic: &str, group: &str) -> Result<Report, DemoError> {
    let mut report = Report {
        bootstrap: bootstrap.to_vec(),
        topic: topic.to_owned(),
        group: group.to_owned(),
        ..Report::default()
    };
    let client = Client::builder()
        .bootstrap(bootstrap)
        .client_id("kafkaex-demo")
        .build()
        .await
        .during("connecting")?;

    // 1. The topic.
    step(&format!("creating topic {topic} ({PARTITIONS} partitions)"));
    let created = client
        .admin()
        .create_topics(
            [NewTopic::new(topic)
                .partitions(PARTITIONS)
                .replication_factor(1)],
            &CreateTopicsOptions::default(),
        )
        .await
        .during("creating the topic")?;
    let created = match created.into_values().next() {
        Some(result) => result.during("creating the topic")?,
        None => {
            return Err(DemoError::Step {
                step: "creating the topic",
                detail: "the broker answered for no topic".into(),
            })
        }
    };
    report.partitions = if created.partitions > 0 {
        created.partitions
    } else {
        PARTITIONS
    };
    report.topic_id = topic_id_text(&created.topic_id.0);
    wait_for_leaders(&client, topic, report.partitions).await?;

    // 2. The records: all sent, then each acknowledgement awaited (partition and offset).
    let to_send = records(topic, now_ms() - 10 * 60 * 1_000);
    step(&format!(
        "producing {} records with keys, headers and timestamps",
        to_send.len()
    ));
    let producer = client
        .producer()
        .build()
        .await
        .during("starting the producer")?;
    let mut pending = Vec::new();
    for (record, produced) in to_send {
        let ack = producer.send(record).await.during("producing")?;
        pending.push((ack, produced));
    }
    for (ack, mut produced) in pending {
        let written = ack.await.during("awaiting a produce acknowledgement")?;
        produced.partition = written.partition;
        produced.offset = written.offset;
        report.produced.push(produced);
    }
    producer.close().await;

    // 3. The group: consume until every record produced has come, marking and committing
    // each batch as processed.
    step(&format!(
        "consuming as group {group} (earliest, manual commits)"
    ));
    consume(&client, &mut report).await?;

    // 4. The committed offsets, read back from the group's coordinator.
    step("reading the group's committed offsets back");
    let offsets = client
        .admin()
        .fetch_offsets(group, None, &FetchOffsetsOptions::default())
        .await
        .during("fetching the committed offsets")?;
    for (tp, committed) in offsets {
        let committed = committed.during("fetching the committed offsets")?;
        if tp.topic == topic {
            if let Some(c) = committed {
                report.committed.insert(tp.partition, c.offset);
            }
        }
    }

    let problems = report.problems();
    if problems.is_empty() {
        Ok(report)
    } else {
        Err(DemoError::Mismatch {
            report: Box::new(report),
            problems,
        })
    }
}

fn step(what: &str) {
    println!("--> {what}");
}

/// Waits until each of the topic's partitions has a leader in the client's metadata.
async fn wait_for_leaders(client: &Client, topic: &str, partitions: i32) -> Result<(), DemoError> {
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let metadata = client
            .refresh_metadata(&[topic])
            .await
            .during("waiting for the topic's leaders")?;
        let ready = metadata.topic(topic).is_some_and(|t| {
            usize::try_from(partitions).is_ok_and(|n| t.partition_count() == n)
                && t.partitions().iter().all(|p| p.leader.is_some())
        });
        if ready {
            return Ok(());
        }
        if tokio::time::Instant::now() >= give_up {
            return Err(DemoError::Step {
                step: "waiting for the topic's leaders",
                detail: format!("{topic} has no leader for every partition after {WAIT:?}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Consumes the topic as a member of the report's group until every produced record came,
/// then leaves the group.
async fn consume(client: &Client, report: &mut Report) -> Result<(), DemoError> {
    let mut member = client
        .group_consumer(report.group.clone())
        .subscribe([report.topic.clone()])
        .auto_offset_reset(OffsetReset::Earliest)
        .auto_commit(None)
        .build()
        .during("starting the group consumer")?;
    let expected = report.expected_commits();
    let mut reached: BTreeMap<i32, i64> = BTreeMap::new();
    let give_up = tokio::time::Instant::now() + WAIT;
    let outcome = loop {
        if reached == expected {
            break Ok(());
        }
        let event = match tokio::time::timeout_at(give_up, member.next()).await {
            Ok(Some(Ok(event))) => event,
            Ok(Some(Err(e))) => {
                break Err(DemoError::Client {
                    step: "consuming",
                    source: e,
                })
            }
            Ok(None) => {
                break Err(DemoError::Step {
                    step: "consuming",
                    detail: "the group consumer's stream ended".into(),
                })
            }
            Err(_) => {
                break Err(DemoError::Step {
                    step: "consuming",
                    detail: format!(
                        "{} of {} records after {WAIT:?}",
                        report.consumed.len(),
                        report.produced.len()
                    ),
                })
            }
        };
        match event {
            GroupEvent::Assigned(tps) => {
                report.member_id = member.member_id();
                report.rebalances.push(Rebalance::Assigned {
                    partitions: partitions_of(&tps),
                    generation: member.generation_id(),
                });
            }
            GroupEvent::Records(batch) => {
                report.batches += 1;
                for r in &batch {
                    report.consumed.push(Consumed {
                        partition: r.partition,
                        offset: r.offset,
                        key: r.key.as_deref().map(lossy),
                        value: r.value.as_deref().map(lossy),
                        headers: r
                            .headers()
                            .iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    h.value.as_deref().map(lossy).unwrap_or_default(),
                                )
                            })
                            .collect(),
                        timestamp: r.timestamp,
                        timestamp_type: format!("{:?}", r.timestamp_type),
                    });
                }
                reached.insert(batch.partition, batch.next_offset);
                member.mark(&batch);
                if let Err(e) = member.commit_marked().await {
                    break Err(DemoError::Client {
                        step: "committing",
                        source: e,
                    });
                }
                report.commits += 1;
            }
            GroupEvent::Revoking(revoking) => {
                // Nothing is left to commit (each batch was committed as it came).
                report
                    .rebalances
                    .push(Rebalance::Revoked(partitions_of(&revoking.partitions)));
                revoking.ack();
            }
            GroupEvent::Lost(tps) => {
                report.rebalances.push(Rebalance::Lost(partitions_of(&tps)));
            }
            // A kind of event this demo does not know (the enum is non-exhaustive).
            _ => {}
        }
    };
    // Leave the group either way, so that the broker forgets the member at once.
    member.close().await;
    outcome
}

fn partitions_of(tps: &[TopicPartition]) -> Vec<i32> {
    let mut out: Vec<i32> = tps.iter().map(|tp| tp.partition).collect();
    out.sort_unstable();
    out
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ms` since the epoch as `YYYY-MM-DD hh:mm:ss.mmm` UTC (civil-from-days, Howard Hinnant's
/// algorithm).
fn utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000
    )
}

/// A topic id as Kafka's tools print it: URL-safe base64 without padding.
fn topic_id_text(id: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in id.chunks(3) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn headers_text(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "bootstrap: {}", self.bootstrap.join(","))?;
        writeln!(
            f,
            "topic:     {} ({} partitions, id {})",
            self.topic, self.partitions, self.topic_id
        )?;
        writeln!(f)?;
        writeln!(f, "produced {} records:", self.produced.len())?;
        writeln!(
            f,
            "  {:>4} {:>6}  {:<7} {:<23}  {:<30} value",
            "part", "offset", "key", "timestamp (UTC)", "headers"
        )?;
        for p in &self.produced {
            writeln!(
                f,
                "  {:>4} {:>6}  {:<7} {:<23}  {:<30} {:?}",
                p.partition,
                p.offset,
                p.key,
                utc(p.timestamp),
                headers_text(&p.headers),
                p.value
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "group {} (member {}):",
            self.group,
            if self.member_id.is_empty() {
                "-"
            } else {
                &self.member_id
            }
        )?;
        for r in &self.rebalances {
            match r {
                Rebalance::Assigned {
                    partitions,
                    generation,
                } => writeln!(
                    f,
                    "  assigned partitions {partitions:?} in generation {generation}"
                )?,
                Rebalance::Revoked(partitions) => {
                    writeln!(f, "  revoked partitions {partitions:?}")?
                }
                Rebalance::Lost(partitions) => writeln!(f, "  lost partitions {partitions:?}")?,
            }
        }
        writeln!(
            f,
            "  consumed {} records in {} batches, marking and committing each batch ({} commits):",
            self.consumed.len(),
            self.batches,
            self.commits
        )?;
        writeln!(
            f,
            "  {:>4} {:>6}  {:<7} {:<23}  {:<30} value",
            "part", "offset", "key", "timestamp (UTC)", "headers"
        )?;
        for c in &self.consumed {
            writeln!(
                f,
                "  {:>4} {:>6}  {:<7} {:<23}  {:<30} {:?}",
                c.partition,
                c.offset,
                c.key.as_deref().unwrap_or("(null)"),
                format!("{} {}", utc(c.timestamp), short_type(&c.timestamp_type)).trim_end(),
                headers_text(&c.headers),
                c.value.as_deref().unwrap_or("(null)")
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "committed offsets of {} (read back with OffsetFetch):",
            self.group
        )?;
        let expected = self.expected_commits();
        for partition in 0..self.partitions {
            let committed = self.committed.get(&partition);
            let wanted = expected.get(&partition);
            let verdict = if committed == wanted {
                "ok"
            } else {
                "MISMATCH"
            };
            let committed = committed.map_or("none".to_owned(), i64::to_string);
            let records = match wanted {
                Some(next) => format!("its records end at offset {}", next - 1),
                None => "it has no records".to_owned(),
            };
            writeln!(
                f,
                "  partition {partition}: {committed:<6} ({records}) {verdict}"
            )?;
        }
        Ok(())
    }
}

/// Nothing for `CreateTime` (the demo sets every timestamp), `(append)` for the broker's
/// `LogAppendTime`.
fn short_type(kind: &str) -> &'static str {
    match kind {
        "CreateTime" => "",
        "LogAppendTime" => "(append)",
        _ => "(?)",
    }
}

// `tests/demo.rs` includes this file for `run`; `main` is unused there.
#[allow(dead_code)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    let bootstrap = bootstrap_from_args_or_env();
    let suffix = unique_suffix();
    let topic = format!("kafkaex-demo-{suffix}");
    let group = format!("kafkaex-demo-group-{suffix}");
    println!("kafkaex-client demo: bootstrap {}", bootstrap.join(","));
    match run(&bootstrap, &topic, &group).await {
        Ok(report) => {
            println!("\n{report}");
            println!(
                "demo ok: {} records produced, consumed once each by group {} and committed",
                report.produced.len(),
                report.group
            );
            std::process::ExitCode::SUCCESS
        }
        Err(DemoError::Mismatch { report, problems }) => {
            println!("\n{report}");
            eprintln!("demo FAILED: what came back does not match:");
            for p in &problems {
                eprintln!("  - {p}");
            }
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("demo FAILED: {e}");
            // The causes, each once (a step's message already ends with its source's).
            let mut said = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !said.ends_with(&text) {
                    eprintln!("  caused by: {text}");
                }
                said = text;
                cause = c.source();
            }
            std::process::ExitCode::FAILURE
        }
    }
}
