//! Helpers shared by the offset migration tests (each test file uses a subset): brokers from
//! the environment, unique names, topics, v0/v1+ commits and fetches, and the `kafkaex`
//! binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafkaex_client::admin::NewTopic;
use kafkaex_client::offsets::{CommitOffset, CommitOptions, FetchOffsetsOptions, TopicPartition};
use kafkaex_client::Client;
use kafkaex_net::VersionChoice;
use kafkaex_protocol::ErrorCode;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile, Brokers};

/// How long a test polls for a condition (leaders elected, a member assigned).
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// An offset as a fetch returned it: offset and metadata.
pub(crate) type Offset = (i64, Option<String>);

/// A name no other test run uses.
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

/// A client of `profile`'s brokers, or `None` (the test is skipped) when none is configured.
pub(crate) async fn connect(profile: BrokerProfile, test: &str) -> Option<(Client, Brokers)> {
    let brokers = test_brokers(profile, test).await?;
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .client_id("kafkaex-migrate-tests")
        .allow_auto_topic_creation(false)
        .build()
        .await
        .expect("client");
    Some((client, brokers))
}

/// Creates `topic` with `partitions` partitions (replication factor 1) and waits until each
/// has a leader.
pub(crate) async fn create_topic(client: &Client, topic: &str, partitions: i32) {
    let created = client
        .admin()
        .create_topics(
            [NewTopic::new(topic)
                .partitions(partitions)
                .replication_factor(1)],
            &Default::default(),
        )
        .await
        .expect("CreateTopics");
    if let Some(Err(e)) = created.get(topic) {
        assert_eq!(
            e.kafka_code(),
            Some(ErrorCode::TopicAlreadyExists),
            "creating {topic}: {e}"
        );
    }
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let metadata = client.refresh_metadata(&[topic]).await.expect("metadata");
        let ready = metadata.topic(topic).is_some_and(|t| {
            t.partition_count() == partitions as usize
                && t.partitions().iter().all(|p| p.leader.is_some())
        });
        if ready {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "{topic}: no leaders after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Commits `offsets` for `group` at OffsetCommit `version` (0: ZooKeeper), each with its
/// metadata; every partition must succeed.
pub(crate) async fn commit(
    client: &Client,
    group: &str,
    offsets: &BTreeMap<TopicPartition, Offset>,
    version: i16,
) {
    let commits = offsets.iter().map(|(tp, (o, m))| {
        let c = CommitOffset::new(*o);
        (
            tp.clone(),
            match m {
                Some(m) => c.metadata(m.clone()),
                None => c,
            },
        )
    });
    let got = client
        .admin()
        .commit_offsets(
            group,
            commits,
            &CommitOptions::default().version(VersionChoice::Exact(version)),
        )
        .await
        .expect("OffsetCommit");
    for (tp, r) in &got {
        assert!(r.is_ok(), "commit v{version} of {group} {tp}: {r:?}");
    }
    assert_eq!(got.len(), offsets.len());
}

/// `group`'s offsets of `partitions` at OffsetFetch `version`: `None` where there is none
/// (at v0 a partition without a ZooKeeper offset answers `UNKNOWN_TOPIC_OR_PARTITION`).
/// Asks for the partitions two at a time or more: a lone v0 partition without an offset
/// would be retried until the client's deadline.
pub(crate) async fn fetch(
    client: &Client,
    group: &str,
    partitions: &[TopicPartition],
    version: i16,
) -> BTreeMap<TopicPartition, Option<Offset>> {
    assert!(partitions.len() >= 2, "ask for two partitions or more");
    let got = client
        .admin()
        .fetch_offsets(
            group,
            Some(partitions),
            &FetchOffsetsOptions::default().version(VersionChoice::Exact(version)),
        )
        .await
        .expect("OffsetFetch");
    partitions
        .iter()
        .map(|tp| {
            let value = match got.get(tp) {
                Some(Ok(Some(c))) => Some((c.offset, c.metadata.clone())),
                Some(Ok(None)) => None,
                Some(Err(e))
                    if version == 0
                        && e.kafka_code() == Some(ErrorCode::UnknownTopicOrPartition) =>
                {
                    None
                }
                other => panic!("fetch v{version} of {group} {tp}: {other:?}"),
            };
            (tp.clone(), value)
        })
        .collect()
}

/// The partitions of `topics`, `partitions` each.
pub(crate) fn partitions_of(topics: &[&str], partitions: i32) -> Vec<TopicPartition> {
    topics
        .iter()
        .flat_map(|t| (0..partitions).map(move |p| TopicPartition::new(*t, p)))
        .collect()
}

/// What the `kafkaex` binary did.
#[derive(Debug)]
pub(crate) struct CliRun {
    /// Its exit code.
    pub(crate) code: i32,
    /// Its stdout.
    pub(crate) stdout: String,
    /// Its stderr.
    pub(crate) stderr: String,
}

impl CliRun {
    /// Stdout as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// Runs `kafkaex` with `args` (off the async runtime's threads).
pub(crate) async fn cli(args: Vec<String>) -> CliRun {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_kafkaex"))
            .args(&args)
            .output()
            .expect("run kafkaex");
        CliRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("kafkaex thread")
}

/// `kafkaex offsets <sub> --bootstrap .. --group g.. --topic t..` followed by `extra`.
pub(crate) fn offsets_args(
    sub: &str,
    brokers: &Brokers,
    groups: &[&str],
    topics: &[&str],
    extra: &[&str],
) -> Vec<String> {
    let mut args = vec![
        "offsets".to_owned(),
        sub.to_owned(),
        "--bootstrap".to_owned(),
        brokers.bootstrap.join(","),
    ];
    for g in groups {
        args.extend(["--group".to_owned(), (*g).to_owned()]);
    }
    for t in topics {
        args.extend(["--topic".to_owned(), (*t).to_owned()]);
    }
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// The rows of a `--json` report: (group, topic, partition) -> the row.
pub(crate) fn json_rows(
    report: &serde_json::Value,
) -> BTreeMap<(String, String, i64), serde_json::Value> {
    let mut out = BTreeMap::new();
    for g in report["groups"].as_array().expect("groups") {
        let group = g["group"].as_str().expect("group").to_owned();
        for p in g["partitions"].as_array().expect("partitions") {
            let key = (
                group.clone(),
                p["topic"].as_str().expect("topic").to_owned(),
                p["partition"].as_i64().expect("partition"),
            );
            out.insert(key, p.clone());
        }
    }
    out
}
