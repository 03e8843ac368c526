//! Helpers of the facade's broker tests: workers on a profile's brokers, unique names, topics
//! created through the facade and waited for.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafkaex_legacy::protocol::create_topics::{ConfigEntry, TopicRequest};
use kafkaex_legacy::{
    create_topics, metadata, start_link_worker, CallOptions, KafkaVersion, MetadataOptions, Worker,
    WorkerName, WorkerOptions,
};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

/// How long a test polls for a condition.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// A name no other test run uses.
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

/// The `(host, port)` pairs of a profile's bootstrap list.
pub(crate) async fn uris(profile: BrokerProfile, test: &str) -> Option<Vec<(String, u16)>> {
    let brokers = test_brokers(profile, test).await?;
    Some(
        brokers
            .bootstrap
            .iter()
            .map(|b| {
                let (h, p) = b.rsplit_once(':').expect("host:port");
                (h.to_owned(), p.parse().expect("port"))
            })
            .collect(),
    )
}

/// An unregistered worker of `version` on the profile's brokers with `group`.
pub(crate) async fn worker(
    profile: BrokerProfile,
    test: &str,
    version: KafkaVersion,
    group: &str,
) -> Option<Worker> {
    let uris = uris(profile, test).await?;
    let mut options = WorkerOptions::default()
        .uris(uris)
        .consumer_group(group)
        .server_impl(version);
    options.allow_auto_topic_creation = Some(false);
    Some(
        start_link_worker(WorkerName::NoName, options)
            .await
            .expect("worker"),
    )
}

/// Produces `value` to `topic`-`partition` at api_version 3 with acks 1; its offset.
pub(crate) async fn produce_v3(worker: &Worker, topic: &str, partition: i32, value: &str) -> i64 {
    let produced = kafkaex_legacy::produce_message(
        topic,
        Some(partition),
        value.to_owned(),
        kafkaex_legacy::ProduceOptions {
            worker_name: worker.into(),
            required_acks: 1,
            api_version: 3,
            ..Default::default()
        },
    )
    .await
    .expect("produce");
    match produced {
        kafkaex_legacy::Produced::Offset(o) => o,
        other => panic!("acks 1 answers with an offset: {other:?}"),
    }
}

/// Creates `topic` with `partitions` (and `configs`) through the facade and waits until every
/// partition has a leader.
pub(crate) async fn topic(worker: &Worker, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let response = create_topics(
        vec![TopicRequest {
            topic: topic.to_owned(),
            num_partitions: partitions,
            replication_factor: 1,
            config_entries: configs
                .iter()
                .map(|(k, v)| ConfigEntry {
                    config_name: (*k).to_owned(),
                    config_value: Some((*v).to_owned()),
                })
                .collect(),
            ..TopicRequest::default()
        }],
        CallOptions::worker(worker),
    )
    .await
    .expect("create_topics");
    assert_eq!(response.topic_errors.len(), 1);
    assert!(
        response.topic_errors[0].error_code.is_ok(),
        "{topic}: {}",
        response.topic_errors[0].error_code
    );
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let m = metadata(MetadataOptions {
            worker_name: worker.into(),
            topic: Some(topic.to_owned()),
            timeout: None,
        })
        .await
        .expect("metadata");
        let ready = m.topic_metadatas.iter().any(|t| {
            t.topic == topic
                && t.partition_metadatas.len() == partitions as usize
                && t.partition_metadatas.iter().all(|p| p.leader >= 0)
        });
        if ready {
            // The worker's own metadata must know the leaders too.
            worker
                .client()
                .refresh_metadata(&[topic])
                .await
                .expect("refresh");
            return;
        }
        assert!(tokio::time::Instant::now() < give_up, "{topic}: no leaders");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) mod examples {
    //! kayrock.md's examples, run on a profile.

    use std::time::{SystemTime, UNIX_EPOCH};

    use kafkaex_legacy::protocol::fetch::partition_messages;
    use kafkaex_legacy::protocol::{offset_commit, offset_fetch};
    use kafkaex_legacy::{
        fetch, offset_commit, offset_fetch, produce_message, FetchOptions, Found, KafkaVersion,
        ProduceOptions, Produced,
    };
    use kafkaex_testkit::provider::BrokerProfile;

    use super::{topic, unique, worker};

    // kayrock.md fetches at api_version 3 (message format 1), which Kafka 4 no longer has: the
    // examples run at 3 on `zk` and at 4 (record batches) on `kraft`, where 3 is refused.

    /// "commit offsets using kafka storage" / "fetch an offset stored in kafka".
    pub(crate) async fn offset_commit_and_fetch_v3(profile: BrokerProfile, test: &str) {
        let group = unique("kayrock-group");
        let Some(w) = worker(profile, test, KafkaVersion::Kayrock, &group).await else {
            return;
        };
        let t = unique("kayrock-offsets");
        topic(&w, &t, 1, &[]).await;
        let committed = offset_commit(
            &w,
            offset_commit::Request {
                consumer_group: Some(group.clone()),
                topic: t.clone(),
                partition: 0,
                offset: 42,
                api_version: 3,
                ..Default::default()
            },
        )
        .await
        .expect("offset_commit");
        assert_eq!(committed.len(), 1);
        assert_eq!(committed[0].topic, t);
        assert_eq!(committed[0].partitions[0].partition, 0);
        assert_eq!(committed[0].partitions[0].error_code, "no_error");
        let Found::Found(resp) = offset_fetch(
            &w,
            offset_fetch::Request {
                topic: t.clone(),
                consumer_group: Some(group.clone()),
                partition: 0,
                api_version: 3,
            },
        )
        .await
        .expect("offset_fetch") else {
            panic!("topic not found")
        };
        // [resp] = ...; %OffsetFetch.Response{partitions: [%{offset: offset}]} = resp
        let [resp] = resp.as_slice() else {
            panic!("{resp:?}")
        };
        assert_eq!(resp.partitions[0].offset, 42);
        assert_eq!(resp.last_offset(), 42);
        assert_eq!(resp.partitions[0].error_code, "no_error");
    }

    /// `KafkaEx.fetch(topic, partition, auto_commit: true, offset_commit_api_version: 3)`.
    pub(crate) async fn fetch_auto_commit_v3(
        profile: BrokerProfile,
        test: &str,
        fetch_version: i16,
    ) {
        let group = unique("kayrock-autocommit");
        let Some(w) = worker(profile, test, KafkaVersion::Kayrock, &group).await else {
            return;
        };
        let t = unique("kayrock-autocommit");
        topic(&w, &t, 1, &[]).await;
        for v in ["a", "b", "c"] {
            let p = produce_message(
                &t,
                Some(0),
                v,
                ProduceOptions {
                    worker_name: (&w).into(),
                    required_acks: 1,
                    api_version: 3,
                    ..Default::default()
                },
            )
            .await
            .expect("produce");
            assert!(matches!(p, Produced::Offset(_)), "{p:?}");
        }
        let opts = || FetchOptions {
            worker_name: (&w).into(),
            auto_commit: true,
            offset_commit_api_version: 3,
            api_version: fetch_version,
            ..Default::default()
        };
        // No offset and nothing committed: from the earliest.
        let Found::Found(first) = fetch(&t, 0, opts()).await.expect("fetch") else {
            panic!("topic not found")
        };
        let values: Vec<&[u8]> = partition_messages(&first, &t, 0)
            .iter()
            .map(|m| m.value.as_deref().unwrap())
            .collect();
        assert_eq!(values, [b"a" as &[u8], b"b", b"c"]);
        // The offset of the last message was committed, in Kafka storage.
        let Found::Found(c) = offset_fetch(
            &w,
            offset_fetch::Request {
                topic: t.clone(),
                partition: 0,
                api_version: 3,
                ..Default::default()
            },
        )
        .await
        .expect("offset_fetch") else {
            panic!()
        };
        assert_eq!(c[0].partitions[0].offset, 2);
        // The next fetch resumes at committed + 1: nothing new yet.
        let Found::Found(again) = fetch(&t, 0, opts()).await.expect("fetch") else {
            panic!()
        };
        assert!(partition_messages(&again, &t, 0).is_empty());
        assert_eq!(again[0].partitions[0].hw_mark_offset, 3);
        assert_eq!(again[0].partitions[0].last_offset, Some(3));
        // The empty fetch committed nothing (KafkaEx committed the high watermark).
        let Found::Found(c) = offset_fetch(
            &w,
            offset_fetch::Request {
                topic: t.clone(),
                partition: 0,
                api_version: 3,
                ..Default::default()
            },
        )
        .await
        .expect("offset_fetch") else {
            panic!()
        };
        assert_eq!(c[0].partitions[0].offset, 2);
    }

    /// "To publish a message with a timestamp" and fetch it back at api_version 3.
    pub(crate) async fn produce_timestamp_v3(
        profile: BrokerProfile,
        test: &str,
        fetch_version: i16,
    ) {
        let Some(w) = worker(profile, test, KafkaVersion::Kayrock, "kafka_ex").await else {
            return;
        };
        let t = unique("kayrock-timestamp");
        topic(&w, &t, 1, &[]).await;
        let msg = "hey there";
        let Produced::Offset(offset) = produce_message(
            &t,
            Some(0),
            msg,
            ProduceOptions {
                worker_name: (&w).into(),
                required_acks: 1,
                timestamp: Some(12345),
                api_version: 3,
                ..Default::default()
            },
        )
        .await
        .expect("produce") else {
            panic!("acks 1 returns an offset")
        };
        let Found::Found(responses) = fetch(
            &t,
            0,
            FetchOptions {
                offset: Some(offset),
                auto_commit: false,
                worker_name: (&w).into(),
                api_version: fetch_version,
                ..Default::default()
            },
        )
        .await
        .expect("fetch") else {
            panic!()
        };
        let message = responses[0].partitions[0]
            .message_set
            .last()
            .expect("message");
        assert_eq!(message.value.as_deref(), Some(msg.as_bytes()));
        assert_eq!(message.offset, offset);
        assert_eq!(message.timestamp, Some(12345));
    }

    /// A `LogAppendTime` topic: the broker's timestamps.
    pub(crate) async fn log_append_time(profile: BrokerProfile, test: &str, fetch_version: i16) {
        let Some(w) = worker(profile, test, KafkaVersion::Kayrock, "kafka_ex").await else {
            return;
        };
        let t = unique("kayrock-logappend");
        topic(&w, &t, 1, &[("message.timestamp.type", "LogAppendTime")]).await;
        let now = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64
        };
        let before = now();
        let Produced::Offset(offset) = produce_message(
            &t,
            Some(0),
            "stamped",
            ProduceOptions {
                worker_name: (&w).into(),
                required_acks: 1,
                timestamp: Some(12345),
                api_version: 3,
                ..Default::default()
            },
        )
        .await
        .expect("produce") else {
            panic!()
        };
        let after = now();
        let Found::Found(responses) = fetch(
            &t,
            0,
            FetchOptions {
                offset: Some(offset),
                auto_commit: false,
                worker_name: (&w).into(),
                api_version: fetch_version,
                ..Default::default()
            },
        )
        .await
        .expect("fetch") else {
            panic!()
        };
        let message = responses[0].partitions[0]
            .message_set
            .last()
            .expect("message");
        let ts = message.timestamp.expect("a timestamp");
        assert!(
            ts >= before - 1000 && ts <= after + 1000,
            "log append time {ts} not within [{before}, {after}] (the producer's was 12345)"
        );
    }
}
