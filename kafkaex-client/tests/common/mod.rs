//! Helpers shared by the client's broker tests (each test file uses a subset): unique names,
//! topic creation, and a reader that fetches a partition back with raw Fetch requests (the
//! consumer is not part of this crate yet; these reads go through the client's escape hatch).
#![allow(dead_code)]

pub(crate) mod cluster;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafkaex_client::Client;
use kafkaex_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafkaex_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkaex_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafkaex_protocol::messages::{CreateTopicsRequest, FetchRequest, ListOffsetsRequest};
use kafkaex_protocol::records::{decode_records, DecodeOptions, TimestampType};
use kafkaex_protocol::ErrorCode;

/// How long a test polls for a condition (leaders elected, records readable).
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// A name no other test run uses.
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

/// Creates `topic` with `partitions` partitions, replication factor `rf` and `configs`, and
/// waits until every partition has a leader in the client's metadata.
pub(crate) async fn create_topic(
    client: &Client,
    topic: &str,
    partitions: i32,
    rf: i16,
    configs: &[(&str, &str)],
) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic.to_owned())
            .with_num_partitions(partitions)
            .with_replication_factor(rf)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name((*k).to_owned())
                            .with_value(Some((*v).to_owned()))
                    })
                    .collect(),
            )]);
    let response = client.request(&request).await.expect("CreateTopics");
    for t in &response.body.topics {
        assert!(
            t.error_code.is_ok() || t.error_code == ErrorCode::TopicAlreadyExists,
            "creating {topic}: {:?}",
            t.error_code
        );
    }
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let metadata = client.refresh_metadata(&[topic]).await.expect("metadata");
        let ready = metadata.topic(topic).is_some_and(|t| {
            t.partition_count() == partitions as usize
                && t.partitions().iter().all(|p| p.leader.is_some())
        });
        // Leaders in the metadata, and each one answers for its partition (a leader that does
        // not know yet makes an acks=0 write vanish: the broker just closes the connection).
        if ready && leaders_answer(client, topic, partitions).await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{topic}: no leaders after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether ListOffsets for the latest offset of every partition succeeds at its leader (one
/// request per partition: partitions of different leaders cannot share one).
async fn leaders_answer(client: &Client, topic: &str, partitions: i32) -> bool {
    for p in 0..partitions {
        let request = ListOffsetsRequest::default()
            .with_replica_id(-1)
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic.to_owned())
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(p)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(-1)])]);
        if client.request(&request).await.is_err() {
            return false;
        }
    }
    true
}

/// One record as read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Read {
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    pub(crate) timestamp_type: TimestampType,
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<(String, Option<Bytes>)>,
    pub(crate) producer_id: i64,
    pub(crate) base_sequence: i32,
}

/// Reads `partition` of `topic` from offset 0 until `count` records are read (failing after
/// [`WAIT`]), through Fetch requests the client routes to the leader.
pub(crate) async fn read_partition(
    client: &Client,
    topic: &str,
    partition: i32,
    count: usize,
) -> Vec<Read> {
    let topic_id = client
        .metadata()
        .topic(topic)
        .map(|t| t.topic_id)
        .expect("the topic is in the metadata");
    let give_up = tokio::time::Instant::now() + WAIT;
    let mut out = Vec::new();
    let mut next = 0i64;
    while out.len() < count {
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
                    .with_partition(partition)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(next)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(4 << 20)])]);
        let fetched = match client.request(&request).await {
            Ok(f) => f,
            Err(e) if e.is_retriable() && tokio::time::Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(e) => panic!("fetching {topic}-{partition}: {e}"),
        };
        let data = fetched
            .body
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .find(|p| p.partition_index == partition)
            .expect("the response has the partition");
        let set = decode_records(
            data.records.clone().unwrap_or_default(),
            &DecodeOptions::default(),
        )
        .expect("the fetched records decode");
        for batch in set.batches() {
            for r in &batch.records {
                if r.offset < next {
                    continue;
                }
                let timestamp = match batch.timestamp_type {
                    TimestampType::LogAppendTime => batch.max_timestamp,
                    _ => r.timestamp,
                };
                out.push(Read {
                    offset: r.offset,
                    timestamp,
                    timestamp_type: batch.timestamp_type,
                    key: r.key.clone(),
                    value: r.value.clone(),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| (h.key.as_str().to_owned(), h.value.clone()))
                        .collect(),
                    producer_id: batch.producer_id,
                    base_sequence: batch.base_sequence,
                });
                next = r.offset + 1;
            }
        }
        assert!(
            out.len() >= count || tokio::time::Instant::now() < give_up,
            "{topic}-{partition}: read {} of {count} records in {WAIT:?} (high watermark {})",
            out.len(),
            data.high_watermark
        );
    }
    out
}

/// Runs one of the Java interop programs (`interop/java`, built by `cargo xtask interop build`)
/// and returns its stdout; `None`, after saying so loudly, when `KAFKAEX_INTEROP` is unset.
/// Panics when the program fails.
pub(crate) fn java(test: &str, main_class: &str, args: &[String]) -> Option<String> {
    if std::env::var_os("KAFKAEX_INTEROP").is_none() {
        let line = format!(
            "SKIPPED {test}: KAFKAEX_INTEROP is unset, so the Java client was not run \
             (`cargo xtask interop build`, then set KAFKAEX_INTEROP=1)\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        if let Ok(path) = std::env::var("KAFKAEX_SKIP_LOG") {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = std::io::Write::write_all(&mut f, line.as_bytes());
            }
        }
        return None;
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop");
    let jar = out.join("kafkaex-interop.jar");
    assert!(
        jar.exists(),
        "{} is missing: run `cargo xtask interop build` before the tests",
        jar.display()
    );
    let output = std::process::Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{}", jar.display(), out.join("lib/*").display()))
        .arg(format!("io.kafkaex.interop.{main_class}"))
        .args(args)
        .output()
        .expect("running java");
    assert!(
        output.status.success(),
        "{main_class} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).expect("utf-8 output"))
}
