//! The "main job" demo: create a topic, produce ten records, fetch them back, commit an offset
//! and read it back, against a real broker, with nothing but `kafkaex-net` and
//! `kafkaex-protocol`.
//!
//! ```text
//! cargo xtask kafka up kraft
//! cargo run -p kafkaex-net --example demo
//! ```
//!
//! The bootstrap list comes from `KAFKAEX_BOOTSTRAP`, else `KAFKAEX_BOOTSTRAP_KRAFT`, else
//! `127.0.0.1:19092` (comma-separated `host:port`). Any mismatch between what was produced and
//! what came back ends the program with a non-zero status. `cargo xtask demo` starts the broker
//! and runs this; `tests/demo_kraft.rs` runs the same [`run`] as a test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafkaex_net::metadata::LeaderLookup;
use kafkaex_net::{Cluster, NetConfig};
use kafkaex_protocol::messages::create_topics_request::CreatableTopic;
use kafkaex_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkaex_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafkaex_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::{
    CreateTopicsRequest, FetchRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest,
};
use kafkaex_protocol::records::{
    decode_records, Compression, DecodeOptions, RecordBatchBuilder, RecordHeader,
};
use kafkaex_protocol::{ErrorCode, Uuid};

/// The error type of the demo: any failure, with a message saying which step and why.
pub type DemoError = Box<dyn std::error::Error + Send + Sync>;

const PARTITIONS: i32 = 3;
const RECORDS: usize = 10;
const HEADER_KEY: &str = "demo-header";
/// How long the demo waits for a condition it polls (leaders, fetched records).
const WAIT: Duration = Duration::from_secs(60);

/// What the demo did, for the caller to print or assert on.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The topic created.
    pub topic: String,
    /// The group whose offset was committed.
    pub group: String,
    /// The leader of partition 0.
    pub leader: i32,
    /// Produce version negotiated.
    pub produce_version: i16,
    /// Fetch version negotiated.
    pub fetch_version: i16,
    /// OffsetCommit version negotiated.
    pub offset_commit_version: i16,
    /// OffsetFetch version negotiated.
    pub offset_fetch_version: i16,
    /// The offset the broker gave the first produced record.
    pub base_offset: i64,
    /// Records fetched back (and checked equal to those produced).
    pub fetched: usize,
    /// The offset OffsetFetch returned after the commit.
    pub committed_offset: i64,
}

/// The bootstrap list from the environment (see the module docs).
pub fn bootstrap_from_env() -> Vec<String> {
    let raw = std::env::var("KAFKAEX_BOOTSTRAP")
        .or_else(|_| std::env::var("KAFKAEX_BOOTSTRAP_KRAFT"))
        .unwrap_or_else(|_| "127.0.0.1:19092".to_owned());
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn fail(message: String) -> DemoError {
    message.into()
}

/// The records the demo produces: `(key, value)`, each with one header.
fn expected_records() -> Vec<(String, String)> {
    (0..RECORDS)
        .map(|i| (format!("key-{i}"), format!("value-{i} from kafkaex")))
        .collect()
}

fn header_value(i: usize) -> Bytes {
    Bytes::from(format!("header-{i}"))
}

/// Runs the whole demo against `bootstrap`, printing one line per step.
pub async fn run(bootstrap: &[String]) -> Result<Summary, DemoError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let suffix = format!("{}-{:x}", std::process::id(), now.as_nanos());
    let topic = format!("kafkaex-demo-{suffix}");
    let group = format!("kafkaex-demo-group-{suffix}");

    let mut retry = NetConfig::default().retry;
    retry.deadline = WAIT;
    let cluster = Cluster::connect(bootstrap, NetConfig::default().with_retry(retry)).await?;
    let metadata = cluster.metadata();
    println!(
        "connected: cluster {} with {} broker(s), controller {:?}",
        metadata.cluster_id().unwrap_or("?"),
        metadata.brokers().len(),
        metadata.controller_id()
    );

    create_topic(&cluster, &topic).await?;
    let leader = wait_for_leaders(&cluster, &topic).await?;
    println!("partition 0 leader: node {leader}");
    // Produce v13+, Fetch v13+, OffsetCommit and OffsetFetch v10+ name topics by id, older
    // versions by name (and Kafka before 2.8 has no ids: the zero id). Each field is ignorable
    // at the versions that lack it, so every request below sets both and works at any version;
    // answers are matched the way their version names topics.
    let topic_id = cluster
        .with_metadata(|m| m.topic(&topic).map(|t| t.topic_id))
        .ok_or_else(|| fail(format!("{topic} is not in the metadata cache")))?;
    let expected = expected_records();
    let (produce_version, base_offset) = produce(
        &cluster,
        &topic,
        topic_id,
        &expected,
        i64::try_from(now.as_millis())?,
    )
    .await?;

    let (fetch_version, fetched) = fetch_all(&cluster, &topic, topic_id, RECORDS).await?;
    check_fetched(&fetched, &expected)?;
    println!(
        "fetched {} records from offset 0 with Fetch v{fetch_version}: keys, values and headers match",
        fetched.len()
    );

    let commit_offset = RECORDS as i64;
    let offset_commit_version = commit(&cluster, &group, &topic, topic_id, commit_offset).await?;
    let (offset_fetch_version, committed_offset) =
        committed(&cluster, &group, &topic, topic_id).await?;
    if committed_offset != commit_offset {
        return Err(fail(format!(
            "OffsetFetch returned offset {committed_offset} for {group}, not {commit_offset}"
        )));
    }
    println!(
        "OffsetFetch v{offset_fetch_version}: group {group} is at offset {committed_offset} on {topic}-0"
    );

    Ok(Summary {
        topic,
        group,
        leader,
        produce_version,
        fetch_version,
        offset_commit_version,
        offset_fetch_version,
        base_offset,
        fetched: fetched.len(),
        committed_offset,
    })
}

/// Step 1: CreateTopics, routed to the controller. A rerun with the same name (or a retried request
/// whose first attempt succeeded) finds the topic there already: that is what we wanted.
async fn create_topic(cluster: &Cluster, topic: &str) -> Result<(), DemoError> {
    let create = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic.to_owned())
            .with_num_partitions(PARTITIONS)
            .with_replication_factor(1)])
        .with_timeout_ms(30_000);
    let outcome = match cluster.request(&create).await {
        Ok(created) => format!("CreateTopics v{}: NONE", created.version),
        Err(e) if e.kafka_code() == Some(ErrorCode::TopicAlreadyExists) => {
            "it exists already".to_owned()
        }
        Err(e) => return Err(e.into()),
    };
    println!("created topic {topic} ({PARTITIONS} partitions) with {outcome}");
    Ok(())
}

/// Whether a response's topic is the demo's: by id at the versions that name topics by id
/// (`by_id`), else by name.
fn is_topic(by_id: bool, name: &str, id: Uuid, topic: &str, topic_id: Uuid) -> bool {
    if by_id {
        id == topic_id
    } else {
        name == topic
    }
}

/// Step 3: ten records with one header each to partition 0, acks=-1, routed to its leader. The
/// topic is named by name (Produce v0-12) and by id (v13+).
async fn produce(
    cluster: &Cluster,
    topic: &str,
    topic_id: Uuid,
    expected: &[(String, String)],
    base_timestamp: i64,
) -> Result<(i16, i64), DemoError> {
    let mut batch = RecordBatchBuilder::new(0, base_timestamp, Compression::None);
    for (i, (key, value)) in expected.iter().enumerate() {
        let header = RecordHeader::new(HEADER_KEY, Some(header_value(i)));
        batch.append(
            base_timestamp,
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            &[header],
        )?;
    }
    let records = batch.finish()?;
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic.to_owned())
            .with_topic_id(topic_id)
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let produced = cluster.request(&produce).await?;
    let by_id = produced.version >= 13;
    let base_offset = produced
        .body
        .responses
        .iter()
        .filter(|t| is_topic(by_id, &t.name, t.topic_id, topic, topic_id))
        .flat_map(|t| &t.partition_responses)
        .find(|p| p.index == 0)
        .map(|p| p.base_offset)
        .ok_or_else(|| {
            fail(format!(
                "the Produce v{} response has no result for {topic}-0",
                produced.version
            ))
        })?;
    if base_offset != 0 {
        return Err(fail(format!(
            "the first record of a new topic got offset {base_offset}, not 0"
        )));
    }
    println!(
        "produced {RECORDS} records to {topic}-0 with Produce v{} (acks=-1): offsets {base_offset}..{}",
        produced.version,
        base_offset + RECORDS as i64 - 1
    );
    Ok((produced.version, base_offset))
}

/// Step 4: the fetched records must be the produced ones, in order, with their headers.
fn check_fetched(
    fetched: &[FetchedRecord],
    expected: &[(String, String)],
) -> Result<(), DemoError> {
    for (i, ((key, value, headers), (want_key, want_value))) in
        fetched.iter().zip(expected).enumerate()
    {
        let want_headers = vec![(HEADER_KEY.to_owned(), Some(header_value(i)))];
        if key.as_deref() != Some(want_key.as_bytes())
            || value.as_deref() != Some(want_value.as_bytes())
            || *headers != want_headers
        {
            return Err(fail(format!(
                "record {i} differs: fetched key {key:?}, value {value:?}, headers {headers:?}; \
                 produced key {want_key:?}, value {want_value:?}, headers {want_headers:?}"
            )));
        }
    }
    Ok(())
}

/// Step 5: commit `offset` for a group nobody joined: a standalone commit (generation -1, no member
/// id), which Kafka accepts for a group with no members; routed to the group's coordinator. The
/// topic is named by name (OffsetCommit v0-9) and by id (v10+).
async fn commit(
    cluster: &Cluster,
    group: &str,
    topic: &str,
    topic_id: Uuid,
    offset: i64,
) -> Result<i16, DemoError> {
    let commit = OffsetCommitRequest::default()
        .with_group_id(group.to_owned())
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(String::new())
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic.to_owned())
            .with_topic_id(topic_id)
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(-1)])]);
    // The one partition's code settles the call: an error is an Err here.
    let committed = cluster.request(&commit).await?;
    let by_id = committed.version >= 10;
    let answered = committed
        .body
        .topics
        .iter()
        .filter(|t| is_topic(by_id, &t.name, t.topic_id, topic, topic_id))
        .flat_map(|t| &t.partitions)
        .any(|p| p.partition_index == 0 && p.error_code.is_ok());
    if !answered {
        return Err(fail(format!(
            "the OffsetCommit v{} response has no result for {topic}-0: {:?}",
            committed.version, committed.body
        )));
    }
    println!(
        "committed offset {offset} for group {group} with OffsetCommit v{}",
        committed.version
    );
    Ok(committed.version)
}

/// Step 6: read the committed offset back. OffsetFetch v8+ (Kafka 3.0+) batches groups, older
/// versions name one group at the top: the request is built for the version negotiated. Inside
/// the groups, v8-9 name topics by name, v10+ by id.
async fn committed(
    cluster: &Cluster,
    group: &str,
    topic: &str,
    topic_id: Uuid,
) -> Result<(i16, i64), DemoError> {
    let offsets = cluster
        .request_with(|version| {
            if version >= 8 {
                OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id(group.to_owned())
                    .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                        .with_name(topic.to_owned())
                        .with_topic_id(topic_id)
                        .with_partition_indexes(vec![0])]))])
            } else {
                OffsetFetchRequest::default()
                    .with_group_id(group.to_owned())
                    .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                        .with_name(topic.to_owned())
                        .with_partition_indexes(vec![0])]))
            }
        })
        .await?;
    let by_id = offsets.version >= 10;
    let grouped = offsets
        .body
        .groups
        .iter()
        .filter(|g| g.group_id == group)
        .flat_map(|g| &g.topics)
        .filter(|t| is_topic(by_id, &t.name, t.topic_id, topic, topic_id))
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == 0)
        .map(|p| p.committed_offset);
    let single = offsets
        .body
        .topics
        .iter()
        .filter(|t| t.name == topic)
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == 0)
        .map(|p| p.committed_offset);
    let offset = grouped.or(single).ok_or_else(|| {
        fail(format!(
            "OffsetFetch returned nothing for {group} {topic}-0"
        ))
    })?;
    Ok((offsets.version, offset))
}

/// Refreshes the topic's metadata until every partition has a leader; returns partition 0's.
async fn wait_for_leaders(cluster: &Cluster, topic: &str) -> Result<i32, DemoError> {
    let topics = [topic.to_owned()];
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        cluster.refresh_metadata(Some(&topics)).await?;
        let lookups: Vec<LeaderLookup> =
            cluster.with_metadata(|m| (0..PARTITIONS).map(|p| m.leader(topic, p)).collect());
        let leaders: Vec<i32> = lookups
            .iter()
            .filter_map(|l| match l {
                LeaderLookup::Leader { node_id, .. } => Some(*node_id),
                _ => None,
            })
            .collect();
        if leaders.len() == PARTITIONS as usize {
            return Ok(leaders[0]);
        }
        if let Some(LeaderLookup::Error(code)) =
            lookups.iter().find(|l| matches!(l, LeaderLookup::Error(_)))
        {
            return Err(fail(format!("{topic}: {code}")));
        }
        if tokio::time::Instant::now() >= give_up {
            return Err(fail(format!(
                "{topic} has no leader for every partition after {WAIT:?}: {lookups:?}"
            )));
        }
        // A short pause between polls, not a wait for the condition itself.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fetched record: key, value, headers as `(key, value)`.
type FetchedRecord = (Option<Bytes>, Option<Bytes>, Vec<(String, Option<Bytes>)>);

/// Fetches partition 0 of `topic` from offset 0 until `count` records have come back. The
/// topic is named by name (Fetch v0-12) and by id (v13+).
async fn fetch_all(
    cluster: &Cluster,
    topic: &str,
    topic_id: Uuid,
    count: usize,
) -> Result<(i16, Vec<FetchedRecord>), DemoError> {
    let give_up = tokio::time::Instant::now() + WAIT;
    let mut records = Vec::new();
    let mut next_offset = 0i64;
    let mut version = 0;
    while records.len() < count {
        let request = FetchRequest::default()
            .with_replica_id(-1)
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(1024 * 1024)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(topic.to_owned())
                .with_topic_id(topic_id)
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(next_offset)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(1024 * 1024)])]);
        // Routed to the leader of the one partition it names; a top-level or partition error
        // code ends the call (retriable ones after a retry).
        let fetched = cluster.request(&request).await?;
        version = fetched.version;
        let by_id = version >= 13;
        let partition = fetched
            .body
            .responses
            .iter()
            .filter(|t| is_topic(by_id, &t.topic, t.topic_id, topic, topic_id))
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == 0)
            .ok_or_else(|| {
                fail(format!(
                    "the Fetch v{version} response has no data for {topic}-0"
                ))
            })?;
        let bytes = partition.records.clone().unwrap_or_default();
        let set = decode_records(bytes, &DecodeOptions::default())?;
        for batch in set.batches() {
            for record in &batch.records {
                // A fetch may start at the batch's base offset, before the one asked for.
                if record.offset < next_offset {
                    continue;
                }
                if record.offset != next_offset {
                    return Err(fail(format!(
                        "expected offset {next_offset}, fetched {}",
                        record.offset
                    )));
                }
                let headers = record
                    .headers
                    .iter()
                    .map(|h| (h.key.as_str().to_owned(), h.value.clone()))
                    .collect();
                records.push((record.key.clone(), record.value.clone(), headers));
                next_offset += 1;
            }
        }
        if records.len() < count && tokio::time::Instant::now() >= give_up {
            return Err(fail(format!(
                "fetched only {} of {count} records after {WAIT:?} (high watermark {})",
                records.len(),
                partition.high_watermark
            )));
        }
    }
    if records.len() != count {
        return Err(fail(format!(
            "fetched {} records, produced {count}",
            records.len()
        )));
    }
    Ok((version, records))
}

// The test `tests/demo_kraft.rs` includes this file for `run`; its `main` is unused there.
#[allow(dead_code)]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    let bootstrap = bootstrap_from_env();
    println!("kafkaex demo: bootstrap {}", bootstrap.join(","));
    match run(&bootstrap).await {
        Ok(summary) => {
            println!(
                "demo ok: topic {}, leader node {}, Produce v{}, Fetch v{}, OffsetCommit v{}, OffsetFetch v{}, {} records, committed offset {}",
                summary.topic,
                summary.leader,
                summary.produce_version,
                summary.fetch_version,
                summary.offset_commit_version,
                summary.offset_fetch_version,
                summary.fetched,
                summary.committed_offset
            );
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("demo failed: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
