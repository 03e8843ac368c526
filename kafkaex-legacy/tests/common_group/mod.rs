//! Helpers of the ConsumerGroup broker tests: brokers from the environment (a visible SKIPPED
//! without), unique names, topics, producing, a recording GenConsumer, polling.
#![allow(dead_code)]

pub(crate) mod kafkaex_member;
pub(crate) mod scenarios;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kafkaex_legacy::consumer_group::{ApiVersions, ConsumerGroupOptions};
use kafkaex_legacy::gen_consumer::{AnyMessage, BoxError, CommitMode, GenConsumer};
use kafkaex_legacy::protocol::{create_topics, fetch, offset_fetch};
use kafkaex_legacy::{
    CallOptions, FetchOptions, Found, KafkaVersion, ProduceOptions, Worker, WorkerName,
    WorkerOptions,
};

/// How long a test polls for a condition.
pub(crate) const WAIT: Duration = Duration::from_secs(90);

// Names and bootstrap lists: the facade tests' helpers (tests/common).
#[path = "../common/mod.rs"]
mod base;
pub(crate) use base::{unique, uris};

/// A Kayrock worker (api_version sent as given) on `uris`.
pub(crate) async fn worker(uris: &[(String, u16)], group: Option<&str>) -> Worker {
    let mut o = WorkerOptions::default()
        .uris(uris.iter().cloned())
        .server_impl(KafkaVersion::Kayrock);
    if let Some(g) = group {
        o = o.consumer_group(g);
    }
    kafkaex_legacy::start_link_worker(WorkerName::NoName, o)
        .await
        .expect("worker")
}

/// Creates `topic` with `partitions` partitions and waits until every one answers.
pub(crate) async fn create_topic(w: &Worker, topic: &str, partitions: i32) {
    let r = kafkaex_legacy::create_topics(
        vec![create_topics::TopicRequest {
            topic: topic.to_owned(),
            num_partitions: partitions,
            replication_factor: 1,
            ..Default::default()
        }],
        CallOptions::worker(w),
    )
    .await
    .expect("create_topics");
    assert!(
        r.topic_errors.iter().all(|e| e.error_code.is_ok()),
        "{:?}",
        r.topic_errors
    );
    for p in 0..partitions {
        poll(&format!("{topic}/{p} has a leader"), || async move {
            matches!(
                kafkaex_legacy::latest_offset(topic, p, w).await,
                Ok(Found::Found(r)) if r[0].partition_offsets[0].error_code.is_ok()
            )
        })
        .await;
    }
}

/// Produces `values` to `topic`/`partition` (Produce v3, acks 1).
pub(crate) async fn produce(w: &Worker, topic: &str, partition: i32, values: &[String]) {
    for v in values {
        kafkaex_legacy::produce_message(
            topic,
            Some(partition),
            v.clone(),
            ProduceOptions {
                worker_name: w.into(),
                required_acks: 1,
                api_version: 3,
                ..Default::default()
            },
        )
        .await
        .expect("produce");
    }
}

/// The offset committed for `group` at `api_version`: (error name, offset).
pub(crate) async fn committed(
    w: &Worker,
    group: &str,
    topic: &str,
    partition: i32,
    api_version: i16,
) -> (String, i64) {
    let r = kafkaex_legacy::offset_fetch(
        w,
        offset_fetch::Request {
            consumer_group: Some(group.to_owned()),
            topic: topic.to_owned(),
            partition,
            api_version,
        },
    )
    .await
    .expect("offset_fetch");
    let Found::Found(r) = r else {
        panic!("{topic} not found")
    };
    let p = &r[0].partitions[0];
    (p.error_code.to_string(), p.offset)
}

/// Polls `cond` every 100 ms until it holds; panics after [`WAIT`].
pub(crate) async fn poll<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "not within {WAIT:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Options for a test group: Kafka storage (v3), short intervals, a 500 ms fetch wait.
pub(crate) fn options(uris: &[(String, u16)], fetch_version: i16) -> ConsumerGroupOptions {
    ConsumerGroupOptions {
        api_versions: ApiVersions {
            fetch: fetch_version,
            offset_fetch: 3,
            offset_commit: 3,
        },
        kafka_version: Some(KafkaVersion::Kayrock),
        uris: Some(uris.to_vec()),
        heartbeat_interval: Some(Duration::from_millis(500)),
        session_timeout: Some(Duration::from_secs(10)),
        commit_interval: Some(Duration::from_millis(500)),
        auto_offset_reset: Some(kafkaex_legacy::AutoOffsetReset::Earliest),
        fetch_options: Some(FetchOptions {
            wait_time: 200,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One message handled: (consumer label, topic, partition, offset, value).
pub(crate) type Seen = (String, String, i32, i64, String);

/// What the recording consumers saw, shared by all of them.
#[derive(Default)]
pub(crate) struct Record {
    /// Every message handled, in order: (consumer label, topic, partition, offset, value).
    pub(crate) seen: Mutex<Vec<Seen>>,
    /// Values whose first delivery fails (`Err` from handle_message_set).
    pub(crate) fail_once: Mutex<BTreeSet<String>>,
    /// Values whose first delivery panics.
    pub(crate) panic_once: Mutex<BTreeSet<String>>,
    /// Partitions whose consumers were started (topic, partition), with a count.
    pub(crate) inits: Mutex<BTreeMap<(String, i32), usize>>,
    /// Commit mode to return.
    pub(crate) sync: bool,
}

impl Record {
    /// The offsets seen for `topic`/`partition`, in order.
    pub(crate) fn offsets(&self, topic: &str, partition: i32) -> Vec<i64> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, t, p, _, _)| t == topic && *p == partition)
            .map(|(_, _, _, o, _)| *o)
            .collect()
    }

    /// The distinct values seen.
    pub(crate) fn values(&self) -> BTreeSet<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, _, _, v)| v.clone())
            .collect()
    }

    /// (label, partition) pairs seen.
    pub(crate) fn by_label(&self) -> BTreeMap<String, BTreeSet<i32>> {
        let mut out: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
        for (l, _, p, _, _) in self.seen.lock().unwrap().iter() {
            out.entry(l.clone()).or_default().insert(*p);
        }
        out
    }
}

/// A GenConsumer that records what it handles.
pub(crate) struct Recorder {
    label: String,
    topic: String,
    partition: i32,
    record: Arc<Record>,
}

/// `(label, record)`: the label tells the members of one test apart.
pub(crate) type RecorderArgs = (String, Arc<Record>);

#[async_trait]
impl GenConsumer for Recorder {
    type Extra = RecorderArgs;

    async fn init(topic: &str, partition: i32, extra: RecorderArgs) -> Result<Self, BoxError> {
        *extra
            .1
            .inits
            .lock()
            .unwrap()
            .entry((topic.to_owned(), partition))
            .or_default() += 1;
        Ok(Recorder {
            label: extra.0,
            topic: topic.to_owned(),
            partition,
            record: extra.1,
        })
    }

    async fn handle_message_set(
        &mut self,
        messages: Vec<fetch::Message>,
    ) -> Result<CommitMode, BoxError> {
        for m in &messages {
            let v = String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).into_owned();
            if self.record.fail_once.lock().unwrap().remove(&v) {
                return Err(format!("failing on {v}").into());
            }
            if self.record.panic_once.lock().unwrap().remove(&v) {
                panic!("panicking on {v}");
            }
            assert_eq!(
                (m.topic.as_str(), m.partition),
                (self.topic.as_str(), self.partition)
            );
            self.record.seen.lock().unwrap().push((
                self.label.clone(),
                self.topic.clone(),
                self.partition,
                m.offset,
                v,
            ));
        }
        Ok(if self.record.sync {
            CommitMode::SyncCommit
        } else {
            CommitMode::AsyncCommit
        })
    }

    async fn handle_call(&mut self, request: AnyMessage) -> Result<AnyMessage, BoxError> {
        match request.downcast::<&'static str>() {
            Ok(q) if *q == "partition" => Ok(Box::new(self.partition)),
            Ok(_) | Err(_) => Err("unknown call".into()),
        }
    }
}

/// `n` values `"{prefix}-{i}"`.
pub(crate) fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}
