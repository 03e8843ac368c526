//! The rest of the facade on Kafka 4 (`kraft`), at the versions Kafka 4 has: metadata,
//! api_versions, topics, coordinators, offsets by time, `:topic_not_found`, the partitioner,
//! the group membership calls with KafkaEx's "assign" protocol, describe_group, the stream's
//! semantics, and workers (named, default, stopped).

mod common;

use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use futures_core::Stream;
use kafkaex_legacy::protocol::{heartbeat, join_group, leave_group, offset_fetch, sync_group};
use kafkaex_legacy::stream::StreamApiVersions;
use kafkaex_legacy::{
    api_versions, consumer_group, consumer_group_metadata, create_topics, delete_topics,
    describe_group, earliest_offset, fetch, latest_offset, metadata, offset, offset_fetch,
    produce_message, start_link_worker, stop_worker, stream, CallOptions, Error, FetchOptions,
    Found, KafkaVersion, MetadataOptions, OffsetTime, Partitioner, ProduceOptions, Produced,
    StreamOptions, WorkerName, WorkerOptions,
};
use kafkaex_testkit::provider::BrokerProfile;

use common::{topic, unique, uris, worker};

const PROFILE: BrokerProfile = BrokerProfile::Kraft;

async fn produce_values(w: &kafkaex_legacy::Worker, t: &str, partition: i32, values: &[&str]) {
    for v in values {
        common::produce_v3(w, t, partition, v).await;
    }
}

/// Polls a stream once without a waker of interest (to see whether it is waiting).
fn poll_once<S: Stream + Unpin>(s: &mut S) -> Poll<Option<S::Item>> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    Pin::new(s).poll_next(&mut cx)
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[tokio::test]
async fn metadata_versions_topics_and_coordinators() {
    let test = "metadata_versions_topics_and_coordinators";
    let group = unique("calls-group");
    let Some(w) = worker(PROFILE, test, KafkaVersion::Kayrock, &group).await else {
        return;
    };
    let t = unique("calls-meta");
    topic(&w, &t, 3, &[]).await;
    // Every topic (topic: nil), and one.
    let all = metadata(MetadataOptions {
        worker_name: (&w).into(),
        ..Default::default()
    })
    .await
    .expect("metadata");
    assert!(!all.brokers.is_empty());
    assert!(all.controller_id.is_some());
    assert!(all.topic_metadatas.iter().any(|m| m.topic == t));
    assert_eq!(all.partitions_for_topic(&t), vec![0, 1, 2]);
    let leader = all.broker_for_topic(&t, 1).expect("a leader");
    assert!(leader.port > 0 && !leader.host.is_empty());
    // A topic that does not exist: its error, with creation off for this worker.
    let missing = unique("calls-missing");
    let one = metadata(MetadataOptions {
        worker_name: (&w).into(),
        topic: Some(missing.clone()),
        timeout: None,
    })
    .await
    .expect("metadata");
    assert_eq!(one.topic_metadatas.len(), 1);
    assert_eq!(
        one.topic_metadatas[0].error_code,
        "unknown_topic_or_partition"
    );
    // :topic_not_found for fetch, offsets and offset_fetch of a topic that is not there.
    assert_eq!(
        latest_offset(&missing, 0, &w).await.expect("latest"),
        Found::TopicNotFound
    );
    assert_eq!(
        fetch(
            &missing,
            0,
            FetchOptions {
                worker_name: (&w).into(),
                offset: Some(0),
                auto_commit: false,
                api_version: 4,
                ..Default::default()
            }
        )
        .await
        .expect("fetch"),
        Found::TopicNotFound
    );
    assert_eq!(
        offset_fetch(
            &w,
            offset_fetch::Request {
                topic: missing.clone(),
                api_version: 3,
                ..Default::default()
            }
        )
        .await
        .expect("offset_fetch"),
        Found::TopicNotFound
    );
    // KafkaEx's fetch never creates the topic, even on a worker that allows auto-creation
    // (the broker here creates topics on Metadata requests that allow it).
    let Some(creating) = common::uris(PROFILE, test).await else {
        return;
    };
    let creating = kafkaex_legacy::start_link_worker(
        WorkerName::NoName,
        WorkerOptions::default()
            .uris(creating)
            .server_impl(KafkaVersion::Kayrock),
    )
    .await
    .expect("worker");
    let never = unique("calls-never-created");
    assert_eq!(
        fetch(
            &never,
            0,
            FetchOptions {
                worker_name: (&creating).into(),
                offset: Some(0),
                auto_commit: false,
                api_version: 4,
                ..Default::default()
            }
        )
        .await
        .expect("fetch"),
        Found::TopicNotFound
    );
    let after = metadata(MetadataOptions {
        worker_name: (&w).into(),
        ..Default::default()
    })
    .await
    .expect("metadata");
    assert!(!after.topic_metadatas.iter().any(|m| m.topic == never));
    // ApiVersions: sorted by key, with Fetch's range.
    let versions = api_versions(CallOptions::worker(&w))
        .await
        .expect("api_versions");
    assert_eq!(versions.error_code, "no_error");
    let keys: Vec<i16> = versions.api_versions.iter().map(|v| v.api_key).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    let fetch_range = versions
        .api_versions
        .iter()
        .find(|v| v.api_key == 1)
        .expect("Fetch");
    assert!(fetch_range.min_version >= 4 && fetch_range.max_version >= 12);
    // The coordinator of a group.
    let c = consumer_group_metadata(&w, &group)
        .await
        .expect("coordinator");
    assert_eq!(c.error_code, "no_error");
    assert!(all.brokers.iter().any(|b| b.node_id == c.coordinator_id
        && b.host == c.coordinator_host
        && b.port == c.coordinator_port));
    assert_eq!(
        consumer_group(&w).expect("group").as_deref(),
        Some(group.as_str())
    );
    // Creating it again: topic_already_exists; deleting: no_error, then unknown.
    let again = create_topics(
        vec![kafkaex_legacy::protocol::create_topics::TopicRequest {
            topic: t.clone(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        CallOptions::worker(&w),
    )
    .await
    .expect("create");
    assert_eq!(again.topic_errors[0].error_code, "topic_already_exists");
    let deleted = delete_topics(vec![t.clone()], CallOptions::worker(&w))
        .await
        .expect("delete");
    assert_eq!(deleted.topic_errors[0].topic_name, t);
    assert_eq!(deleted.topic_errors[0].error_code, "no_error");
    let twice = delete_topics(vec![t.clone()], CallOptions::worker(&w))
        .await
        .expect("delete");
    assert_eq!(
        twice.topic_errors[0].error_code,
        "unknown_topic_or_partition"
    );
}

#[tokio::test]
async fn offsets_by_time_and_the_partitioner() {
    let test = "offsets_by_time_and_the_partitioner";
    let Some(w) = worker(PROFILE, test, KafkaVersion::Kayrock, "kafka_ex").await else {
        return;
    };
    let t = unique("calls-offsets");
    topic(&w, &t, 5, &[]).await;
    // produce/4 with no partition: the default partitioner hashes the key (KafkaEx's murmur2).
    for key in ["key", "key2", ""] {
        let r = produce_message(
            &t,
            None,
            "v",
            ProduceOptions {
                worker_name: (&w).into(),
                key: Some(key.into()),
                required_acks: 1,
                api_version: 3,
                timestamp: Some(1_000),
                ..Default::default()
            },
        )
        .await
        .expect("produce");
        assert!(matches!(r, Produced::Offset(_)));
    }
    let expected = |key: &str| Partitioner::Default.partition_for_key(key.as_bytes(), 5);
    assert_eq!(expected("key"), 1);
    assert_eq!(expected("key2"), 1);
    let mut counts = [0i64; 5];
    for key in ["key", "key2", ""] {
        counts[expected(key) as usize] += 1;
    }
    for (p, count) in counts.iter().enumerate() {
        let latest = latest_offset(&t, p as i32, &w)
            .await
            .expect("latest")
            .found()
            .unwrap();
        assert_eq!(
            latest[0].partition_offsets[0].offset,
            vec![*count],
            "partition {p}"
        );
        assert_eq!(latest[0].partition_offsets[0].error_code, "no_error");
        let earliest = earliest_offset(&t, p as i32, &w)
            .await
            .expect("earliest")
            .found()
            .unwrap();
        assert_eq!(earliest[0].partition_offsets[0].offset, vec![0]);
    }
    // By time: the first offset at or after it; a future time has none (-1).
    let p = expected("key") as usize;
    let past = offset(&t, p as i32, OffsetTime::Millis(0), &w)
        .await
        .expect("offset");
    assert_eq!(
        past.found().unwrap()[0].partition_offsets[0].offset,
        vec![0]
    );
    let future = SystemTime::now() + Duration::from_secs(3600);
    let later = offset(&t, p as i32, OffsetTime::At(future), &w)
        .await
        .expect("offset");
    assert_eq!(
        later.found().unwrap()[0].partition_offsets[0].offset,
        vec![-1]
    );
}

/// join_group / sync_group / heartbeat / leave_group with KafkaEx's "assign" protocol, and
/// describe_group showing it.
#[tokio::test]
async fn group_membership_calls() {
    let test = "group_membership_calls";
    let Some(w) = worker(PROFILE, test, KafkaVersion::Kayrock, "kafka_ex").await else {
        return;
    };
    let t = unique("calls-join");
    topic(&w, &t, 3, &[]).await;
    let group = unique("calls-join-group");
    let joined = kafkaex_legacy::join_group(
        join_group::Request {
            member_id: String::new(),
            group_name: group.clone(),
            topics: vec![t.clone()],
            session_timeout: 10_000,
        },
        CallOptions::worker(&w),
    )
    .await
    .expect("join");
    assert_eq!(joined.error_code, "no_error");
    assert!(joined.is_leader());
    assert_eq!(joined.members, vec![joined.member_id.clone()]);
    let synced = kafkaex_legacy::sync_group(
        sync_group::Request {
            member_id: joined.member_id.clone(),
            group_name: group.clone(),
            generation_id: joined.generation_id,
            assignments: vec![(joined.member_id.clone(), vec![(t.clone(), vec![0, 1, 2])])],
        },
        CallOptions::worker(&w),
    )
    .await
    .expect("sync");
    assert_eq!(synced.error_code, "no_error");
    assert_eq!(synced.assignments, vec![(t.clone(), vec![0, 1, 2])]);
    let beat = kafkaex_legacy::heartbeat(
        heartbeat::Request {
            group_name: group.clone(),
            member_id: joined.member_id.clone(),
            generation_id: joined.generation_id,
        },
        CallOptions::worker(&w),
    )
    .await
    .expect("heartbeat");
    assert_eq!(beat.error_code, "no_error");
    let stale = kafkaex_legacy::heartbeat(
        heartbeat::Request {
            group_name: group.clone(),
            member_id: joined.member_id.clone(),
            generation_id: joined.generation_id + 5,
        },
        CallOptions::worker(&w),
    )
    .await
    .expect("heartbeat");
    assert_eq!(stale.error_code, "illegal_generation");
    let described = describe_group(&group, CallOptions::worker(&w))
        .await
        .expect("describe");
    assert_eq!(described.protocol, "assign");
    assert_eq!(described.protocol_type, "consumer");
    assert_eq!(described.state, "Stable");
    assert_eq!(described.members.len(), 1);
    // KafkaEx's subscription bytes: version 0, the topic, empty user data.
    let mut expected = vec![0u8, 0, 0, 0, 0, 1];
    expected.extend((t.len() as u16).to_be_bytes());
    expected.extend(t.as_bytes());
    expected.extend([0, 0, 0, 0]);
    assert_eq!(
        described.members[0].member_metadata.as_ref(),
        expected.as_slice()
    );
    let left = kafkaex_legacy::leave_group(
        leave_group::Request {
            group_name: group.clone(),
            member_id: joined.member_id.clone(),
        },
        CallOptions::worker(&w),
    )
    .await
    .expect("leave");
    assert_eq!(left.error_code, "no_error");
    let described = describe_group(&group, CallOptions::worker(&w))
        .await
        .expect("describe");
    assert_eq!(described.state, "Empty");
}

/// KafkaEx.stream: lazy, re-enumerable from its offset, halting at the log end only with
/// no_wait_at_logend, committing the last message taken.
#[tokio::test]
async fn stream_semantics() {
    let test = "stream_semantics";
    let group = unique("calls-stream");
    let Some(w) = worker(PROFILE, test, KafkaVersion::Kayrock, &group).await else {
        return;
    };
    let t = unique("calls-stream");
    topic(&w, &t, 1, &[]).await;
    produce_values(&w, &t, 0, &["a", "b", "c", "d", "e"]).await;
    let versions = StreamApiVersions {
        fetch: 4,
        offset_fetch: 3,
        offset_commit: 3,
    };
    let committed = || async {
        offset_fetch(
            &w,
            offset_fetch::Request {
                topic: t.clone(),
                partition: 0,
                api_version: 3,
                ..Default::default()
            },
        )
        .await
        .expect("offset_fetch")
        .found()
        .unwrap()[0]
            .partitions[0]
            .offset
    };
    let s = stream(
        &t,
        0,
        StreamOptions {
            worker_name: (&w).into(),
            offset: Some(1),
            no_wait_at_logend: true,
            api_versions: versions,
            ..Default::default()
        },
    )
    .await
    .expect("stream")
    .found()
    .unwrap();
    // Twice from the same offset.
    for _ in 0..2 {
        let mut messages = s.messages();
        let mut got = Vec::new();
        while let Some(m) = next(&mut messages).await {
            got.push(m.expect("message").value.unwrap());
        }
        assert_eq!(got, ["b", "c", "d", "e"]);
    }
    // The last message consumed is committed (fetch/stream's convention).
    assert_eq!(committed().await, 4);
    // Taking two, then committing: the second's offset, not the batch's last.
    let mut messages = s.messages();
    assert_eq!(next(&mut messages).await.unwrap().unwrap().offset, 1);
    assert_eq!(next(&mut messages).await.unwrap().unwrap().offset, 2);
    messages.commit().await.expect("commit");
    assert_eq!(committed().await, 2);
    drop(messages);
    // Without an offset: committed + 1.
    let resumed = stream(
        &t,
        0,
        StreamOptions {
            worker_name: (&w).into(),
            no_wait_at_logend: true,
            auto_commit: false,
            api_versions: versions,
            ..Default::default()
        },
    )
    .await
    .expect("stream")
    .found()
    .unwrap();
    assert_eq!(resumed.offset(), 3);
    // Without no_wait_at_logend it waits at the end for more.
    let waiting = stream(
        &t,
        0,
        StreamOptions {
            worker_name: (&w).into(),
            offset: Some(5),
            auto_commit: false,
            api_versions: versions,
            ..Default::default()
        },
    )
    .await
    .expect("stream")
    .found()
    .unwrap();
    let mut messages = waiting.messages();
    assert!(poll_once(&mut messages).is_pending());
    produce_values(&w, &t, 0, &["f"]).await;
    let m = tokio::time::timeout(common::WAIT, next(&mut messages))
        .await
        .expect("the stream goes on when a message comes")
        .unwrap()
        .unwrap();
    assert_eq!((m.offset, m.value.as_deref()), (5, Some(&b"f"[..])));
}

#[tokio::test]
async fn workers() {
    let test = "workers";
    let Some(uris) = uris(PROFILE, test).await else {
        return;
    };
    let name = unique("worker");
    let options = || {
        WorkerOptions::default()
            .uris(uris.clone())
            .consumer_group("g1")
    };
    let w = start_link_worker(name.as_str(), options())
        .await
        .expect("start");
    assert_eq!(w.name(), Some(name.as_str()));
    assert!(matches!(
        start_link_worker(name.as_str(), options()).await,
        Err(Error::AlreadyStarted(n)) if n == name
    ));
    // Calls find it by name.
    assert_eq!(
        consumer_group(name.as_str()).unwrap().as_deref(),
        Some("g1")
    );
    stop_worker(name.as_str()).expect("stop");
    assert!(matches!(
        consumer_group(name.as_str()),
        Err(Error::WorkerNotFound(_))
    ));
    assert!(matches!(
        stop_worker(name.as_str()),
        Err(Error::WorkerNotFound(_))
    ));
    // An invalid group is refused before connecting; no consumer group is valid.
    assert!(matches!(
        start_link_worker(WorkerName::NoName, options().consumer_group("")).await,
        Err(Error::InvalidConsumerGroup)
    ));
    let mut none = options();
    none.consumer_group = Some(kafkaex_legacy::ConsumerGroup::NoConsumerGroup);
    let nw = start_link_worker(WorkerName::NoName, none)
        .await
        .expect("no group");
    assert_eq!(consumer_group(&nw).unwrap(), None);
    let err = offset_fetch(
        &nw,
        offset_fetch::Request {
            topic: "t".into(),
            api_version: 3,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ConsumerGroupRequired(_)), "{err:?}");
    // auto_commit without a group is refused before anything is fetched (and lost).
    let err = fetch(
        "t",
        0,
        FetchOptions {
            worker_name: (&nw).into(),
            offset: Some(0),
            api_version: 4,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ConsumerGroupRequired(_)), "{err:?}");
    let err = stream(
        "t",
        0,
        StreamOptions {
            worker_name: (&nw).into(),
            offset: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ConsumerGroupRequired(_)), "{err:?}");
    // The default worker, started by the application's start.
    let mut config = kafkaex_legacy::Config::default();
    config.brokers = Some(kafkaex_legacy::Brokers::List(uris.clone()));
    config.kafka_version = KafkaVersion::Kayrock;
    let default = kafkaex_legacy::start(config)
        .await
        .expect("start")
        .expect("default worker");
    assert_eq!(default.name(), Some("kafka_ex"));
    assert_eq!(
        consumer_group(kafkaex_legacy::WorkerRef::Default)
            .unwrap()
            .as_deref(),
        Some("kafka_ex")
    );
    assert_eq!(*default.kafka_version(), KafkaVersion::Kayrock);
    // Unreachable brokers: the client's connection error, typed.
    let err = start_link_worker(
        WorkerName::NoName,
        WorkerOptions::default().uris([("127.0.0.1", 1)]),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Client(_)), "{err:?}");
}
