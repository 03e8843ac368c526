//! The offsets calls of `Admin` against real brokers: commit and fetch round trips with
//! metadata strings and leader epochs for many partitions (standalone, and as a member of a
//! group joined with raw JoinGroup/SyncGroup) at versions by name and by id; list offsets of
//! each kind checked against `kafka-get-offsets`; pinned versions a broker lacks; per-item
//! errors beside successes.

mod common;
mod kafka_tools;

use std::collections::BTreeMap;

use common::{create_topic, unique};
use kafka_tools::KafkaTools;
use kafkaex_client::offsets::{
    CommitOffset, CommitOptions, FetchOffsetsOptions, GroupMember, ListOffsetsOptions, OffsetSpec,
    TopicPartition,
};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Client, Error};
use kafkaex_net::{NetError, Route, VersionChoice};
use kafkaex_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafkaex_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafkaex_protocol::messages::{JoinGroupRequest, SyncGroupRequest};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile, Brokers};

async fn connect(profile: BrokerProfile, test: &str) -> Option<(Client, Brokers)> {
    let brokers = test_brokers(profile, test).await?;
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .client_id("kafkaex-offsets-tests")
        .build()
        .await
        .expect("client");
    Some((client, brokers))
}

/// The typed unsupported-version error inside a client error.
fn unsupported(err: &Error) -> Option<(ApiKey, i16, Option<i16>)> {
    match err {
        Error::Request { source, .. } => match &**source {
            NetError::UnsupportedVersion {
                api, asked, broker, ..
            } => Some((*api, *asked, broker.map(|b| b.max))),
            _ => None,
        },
        _ => None,
    }
}

/// What a round trip commits: partition p of topic a and b, offset 10 * p + 7, a metadata
/// string naming it, leader epoch 0.
fn offsets_for(a: &str, b: &str) -> BTreeMap<TopicPartition, CommitOffset> {
    let mut out = BTreeMap::new();
    for p in 0..4 {
        out.insert(
            TopicPartition::new(a, p),
            CommitOffset::new(10 * i64::from(p) + 7)
                .leader_epoch(0)
                .metadata(format!("meta {a} {p} ✓")),
        );
    }
    for p in 0..2 {
        out.insert(
            TopicPartition::new(b, p),
            CommitOffset::new(100 + i64::from(p)).metadata(""),
        );
    }
    out
}

#[tokio::test]
async fn commit_and_fetch_round_trip_many_partitions_at_each_version() {
    let test = "commit_and_fetch_round_trip_many_partitions_at_each_version";
    let Some((client, brokers)) = connect(BrokerProfile::Kraft, test).await else {
        return;
    };
    let a = unique("offsets-a");
    let b = unique("offsets-b");
    create_topic(&client, &a, 4, 1, &[]).await;
    create_topic(&client, &b, 3, 1, &[]).await;
    let admin = client.admin();
    // v9 names topics, v10 uses ids; OffsetFetch v7 is the single-group form, v8 batches.
    for (commit_v, fetch_v) in [(9, 7), (10, 10), (8, 8), (10, 9)] {
        let group = unique(&format!("g-c{commit_v}-f{fetch_v}"));
        let offsets = offsets_for(&a, &b);
        let committed = admin
            .commit_offsets(
                &group,
                offsets.clone(),
                &CommitOptions::default().version(VersionChoice::Exact(commit_v)),
            )
            .await
            .unwrap();
        assert_eq!(committed.len(), offsets.len());
        for (tp, r) in &committed {
            assert!(r.is_ok(), "commit v{commit_v} {tp}: {r:?}");
        }
        // The partitions committed plus one never committed.
        let mut asked: Vec<TopicPartition> = offsets.keys().cloned().collect();
        asked.push(TopicPartition::new(&b, 2));
        let options = FetchOffsetsOptions::default().version(VersionChoice::Exact(fetch_v));
        let fetched = admin
            .fetch_offsets(&group, Some(&asked), &options)
            .await
            .unwrap();
        assert_eq!(fetched.len(), asked.len());
        for (tp, commit) in &offsets {
            let got = fetched[tp].as_ref().unwrap().as_ref().expect("committed");
            assert_eq!(got.offset, commit.offset, "{tp} at v{fetch_v}");
            let metadata = commit.metadata.clone().filter(|m| !m.is_empty());
            assert_eq!(got.metadata, metadata, "{tp} at v{fetch_v}");
            if fetch_v >= 5 {
                assert_eq!(got.leader_epoch, commit.leader_epoch, "{tp} at v{fetch_v}");
            }
        }
        assert_eq!(
            fetched[&TopicPartition::new(&b, 2)].as_ref().unwrap(),
            &None,
            "never committed"
        );
        // Every partition of the group: exactly what was committed (names resolved from ids
        // at v10).
        let all = admin.fetch_offsets(&group, None, &options).await.unwrap();
        let all: BTreeMap<TopicPartition, i64> = all
            .into_iter()
            .map(|(tp, r)| (tp, r.unwrap().expect("committed").offset))
            .collect();
        let want: BTreeMap<TopicPartition, i64> = offsets
            .iter()
            .map(|(tp, c)| (tp.clone(), c.offset))
            .collect();
        assert_eq!(all, want, "fetch all at v{fetch_v}");
    }
    // Kafka's tool reports the same offsets for the last group committed through Admin.
    let group = unique("g-tool");
    admin
        .alter_group_offsets(&group, offsets_for(&a, &b))
        .await
        .unwrap();
    if let Some(tools) = KafkaTools::find(test, "4.4.0", &brokers.bootstrap) {
        let rows = tools.group_offsets(&group);
        let want: Vec<(String, i32, Option<i64>)> = offsets_for(&a, &b)
            .into_iter()
            .map(|(tp, c)| (tp.topic, tp.partition, Some(c.offset)))
            .collect();
        assert_eq!(rows, want, "kafka-consumer-groups --describe --offsets");
    }
}

#[tokio::test]
async fn commit_as_a_member_of_a_joined_group() {
    let test = "commit_as_a_member_of_a_joined_group";
    let Some((client, _)) = connect(BrokerProfile::Kraft, test).await else {
        return;
    };
    let topic = unique("offsets-member");
    create_topic(&client, &topic, 2, 1, &[]).await;
    let group = unique("g-member");
    // JoinGroup: the first answer is MEMBER_ID_REQUIRED with the member id to use.
    let join = |member_id: String| {
        JoinGroupRequest::default()
            .with_group_id(group.clone())
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_member_id(member_id)
            .with_protocol_type("kafkaex-test".into())
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name("only".into())
                .with_metadata(bytes::Bytes::from_static(b"m"))])
    };
    let route = Route::GroupCoordinator(group.clone());
    // `send` is one attempt: on a fresh broker the coordinator may not be there yet
    // (__consumer_offsets is created by the first lookup), so poll for it.
    let give_up = tokio::time::Instant::now() + common::WAIT;
    let first = loop {
        match client
            .send(route.clone(), &join(String::new()), VersionChoice::Newest)
            .await
        {
            Ok(first) => break first,
            Err(e) if e.is_retriable() && tokio::time::Instant::now() < give_up => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("JoinGroup: {e}"),
        }
    };
    assert_eq!(first.body.error_code, ErrorCode::MemberIdRequired);
    let member_id = first.body.member_id.clone();
    let joined = client
        .send(
            route.clone(),
            &join(member_id.clone()),
            VersionChoice::Newest,
        )
        .await
        .unwrap();
    assert_eq!(joined.body.error_code, ErrorCode::None);
    let generation = joined.body.generation_id;
    let sync = SyncGroupRequest::default()
        .with_group_id(group.clone())
        .with_generation_id(generation)
        .with_member_id(member_id.clone())
        .with_protocol_type(Some("kafkaex-test".into()))
        .with_protocol_name(Some("only".into()))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(member_id.clone())
            .with_assignment(bytes::Bytes::from_static(b"a"))]);
    client.request(&sync).await.unwrap();

    let admin = client.admin();
    let offsets = [
        (
            TopicPartition::new(&topic, 0),
            CommitOffset::new(5).metadata("m0"),
        ),
        (TopicPartition::new(&topic, 1), CommitOffset::new(6)),
    ];
    let member = GroupMember::new(generation, member_id.clone());
    let ok = admin
        .commit_offsets(
            &group,
            offsets.clone(),
            &CommitOptions::default().member(member),
        )
        .await
        .unwrap();
    assert!(ok.values().all(Result::is_ok), "{ok:?}");
    // A stale generation and a standalone commit are refused for each partition while the
    // group has a member.
    for options in [
        CommitOptions::default().member(GroupMember::new(generation + 7, member_id.clone())),
        CommitOptions::default(),
    ] {
        let refused = admin
            .commit_offsets(&group, offsets.clone(), &options)
            .await
            .unwrap();
        assert_eq!(refused.len(), 2);
        for (tp, r) in &refused {
            let code = r.as_ref().unwrap_err().kafka_code();
            assert!(
                matches!(
                    code,
                    Some(ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId)
                ),
                "{tp}: {r:?}"
            );
        }
    }
    let fetched = admin
        .fetch_offsets(
            &group,
            Some(&[TopicPartition::new(&topic, 0)]),
            &FetchOffsetsOptions::default(),
        )
        .await
        .unwrap();
    let got = fetched[&TopicPartition::new(&topic, 0)]
        .as_ref()
        .unwrap()
        .clone()
        .unwrap();
    assert_eq!((got.offset, got.metadata.as_deref()), (5, Some("m0")));
}

#[tokio::test]
async fn list_offsets_of_each_kind_match_kafka_get_offsets() {
    let test = "list_offsets_of_each_kind_match_kafka_get_offsets";
    let Some((client, brokers)) = connect(BrokerProfile::Kraft, test).await else {
        return;
    };
    let topic = unique("list-offsets");
    // The records' 2023 timestamps are older than the broker's one-hour retention: without
    // retention.ms=-1, a retention check during the test deletes them (the log start moves to 5
    // and the lookups by timestamp find nothing).
    create_topic(&client, &topic, 2, 1, &[("retention.ms", "-1")]).await;
    // Partition 0: five records whose largest timestamp is at offset 2; partition 1: none.
    let base = 1_700_000_000_000i64;
    let stamps = [base + 100, base + 500, base + 900, base + 300, base + 200];
    let producer = client.producer().build().await.unwrap();
    for ts in stamps {
        producer
            .send(
                ProducerRecord::new(topic.clone())
                    .partition(0)
                    .value("v")
                    .timestamp(ts),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let admin = client.admin();
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);
    let missing = TopicPartition::new(&topic, 9);
    let kinds = [
        (OffsetSpec::Earliest, Some((0, None))),
        (OffsetSpec::Latest, Some((5, None))),
        (
            OffsetSpec::Timestamp(base + 400),
            Some((1, Some(base + 500))),
        ),
        (OffsetSpec::Timestamp(base + 10_000), Some((-1, None))),
        (OffsetSpec::MaxTimestamp, Some((2, Some(base + 900)))),
    ];
    let tools = KafkaTools::find(test, "4.4.0", &brokers.bootstrap);
    for (spec, want) in kinds {
        let listed = admin
            .list_offsets(
                [
                    (p0.clone(), spec),
                    (p1.clone(), spec),
                    (missing.clone(), spec),
                ],
                &ListOffsetsOptions::default(),
            )
            .await
            .unwrap();
        let got = listed[&p0].as_ref().unwrap();
        let (offset, timestamp) = want.unwrap();
        assert_eq!(got.offset, offset, "{spec:?}");
        if let Some(ts) = timestamp {
            assert_eq!(got.timestamp, Some(ts), "{spec:?}");
        }
        let empty = listed[&p1].as_ref().unwrap();
        match spec {
            OffsetSpec::Earliest | OffsetSpec::Latest => assert_eq!(empty.offset, 0),
            _ => assert_eq!(empty.offset, -1, "{spec:?} on an empty partition"),
        }
        // The partition that does not exist is its own error, beside the others.
        let err = listed[&missing].as_ref().unwrap_err();
        assert_eq!(
            err.kafka_code(),
            Some(ErrorCode::UnknownTopicOrPartition),
            "{err}"
        );
        if let Some(tools) = &tools {
            let time = match spec {
                OffsetSpec::Earliest => "-2".to_owned(),
                OffsetSpec::Latest => "-1".to_owned(),
                OffsetSpec::MaxTimestamp => "-3".to_owned(),
                OffsetSpec::Timestamp(t) => t.to_string(),
            };
            let from_tool: BTreeMap<i32, i64> = tools.offsets(&topic, &time).into_iter().collect();
            assert_eq!(
                from_tool.get(&0).copied().unwrap_or(-1),
                offset,
                "kafka-get-offsets --time {time}"
            );
        }
    }
    // Read committed: the same end for non-transactional records.
    let listed = admin
        .list_offsets(
            [(p0.clone(), OffsetSpec::Latest)],
            &ListOffsetsOptions::default()
                .isolation(kafkaex_client::offsets::IsolationLevel::ReadCommitted),
        )
        .await
        .unwrap();
    assert_eq!(listed[&p0].as_ref().unwrap().offset, 5);
    // Max timestamp needs v7: pinned at v6, the partition's error names the version.
    let listed = admin
        .list_offsets(
            [
                (p0.clone(), OffsetSpec::MaxTimestamp),
                (p1.clone(), OffsetSpec::Latest),
            ],
            &ListOffsetsOptions::default().version(VersionChoice::Exact(6)),
        )
        .await
        .unwrap();
    let err = listed[&p0].as_ref().unwrap_err();
    assert_eq!(
        unsupported(err).map(|(api, asked, _)| (api, asked)),
        Some((ApiKey::ListOffsets, 7)),
        "{err}"
    );
    assert_eq!(listed[&p1].as_ref().unwrap().offset, 0);
}

#[tokio::test]
async fn pinned_versions_the_broker_lacks_are_typed_errors() {
    let test = "pinned_versions_the_broker_lacks_are_typed_errors";
    let Some((client, _)) = connect(BrokerProfile::Kraft, test).await else {
        return;
    };
    let topic = unique("pinned");
    create_topic(&client, &topic, 2, 1, &[]).await;
    let admin = client.admin();
    let offsets = [
        (TopicPartition::new(&topic, 0), CommitOffset::new(1)),
        (TopicPartition::new(&topic, 1), CommitOffset::new(2)),
    ];
    let result = admin
        .commit_offsets(
            &unique("g"),
            offsets,
            &CommitOptions::default().version(VersionChoice::Exact(99)),
        )
        .await
        .unwrap();
    assert_eq!(result.len(), 2);
    for (tp, r) in &result {
        let err = r.as_ref().unwrap_err();
        let (api, asked, broker_max) = unsupported(err).unwrap_or_else(|| panic!("{tp}: {err}"));
        assert_eq!((api, asked), (ApiKey::OffsetCommit, 99));
        assert!(broker_max.is_some_and(|m| m >= 9), "{err}");
    }
    let fetched = admin
        .fetch_offsets(
            &unique("g"),
            Some(&[TopicPartition::new(&topic, 0)]),
            &FetchOffsetsOptions::default().version(VersionChoice::Exact(42)),
        )
        .await
        .unwrap();
    let err = fetched[&TopicPartition::new(&topic, 0)]
        .as_ref()
        .unwrap_err();
    assert_eq!(
        unsupported(err).map(|(api, asked, _)| (api, asked)),
        Some((ApiKey::OffsetFetch, 42))
    );
}

#[tokio::test]
async fn zk_3_9_lacks_the_versions_by_topic_id() {
    let test = "zk_3_9_lacks_the_versions_by_topic_id";
    let Some((client, brokers)) = connect(BrokerProfile::Zk, test).await else {
        return;
    };
    let topic = unique("zk-offsets");
    create_topic(&client, &topic, 2, 1, &[]).await;
    let admin = client.admin();
    let group = unique("g-zk");
    let tp = TopicPartition::new(&topic, 1);
    // OffsetCommit v10 (topic ids, Kafka 4.1) is not in 3.9: typed, with the broker's max.
    let pinned = admin
        .commit_offsets(
            &group,
            [(tp.clone(), CommitOffset::new(3))],
            &CommitOptions::default().version(VersionChoice::Exact(10)),
        )
        .await
        .unwrap();
    let err = pinned[&tp].as_ref().unwrap_err();
    assert_eq!(
        unsupported(err),
        Some((ApiKey::OffsetCommit, 10, Some(9))),
        "{err}"
    );
    // Negotiated, the same commit works and reads back.
    let ok = admin
        .commit_offsets(
            &group,
            [(tp.clone(), CommitOffset::new(3).metadata("zk"))],
            &CommitOptions::default(),
        )
        .await
        .unwrap();
    assert!(ok[&tp].is_ok(), "{ok:?}");
    let fetched = admin.list_group_offsets(&group).await.unwrap();
    let got = fetched[&tp].as_ref().unwrap().clone().unwrap();
    assert_eq!((got.offset, got.metadata.as_deref()), (3, Some("zk")));
    let listed = admin
        .list_offsets(
            [(tp.clone(), OffsetSpec::MaxTimestamp)],
            &ListOffsetsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed[&tp].as_ref().unwrap().offset, -1, "empty partition");
    if let Some(tools) = KafkaTools::find(test, "3.9.1", &brokers.bootstrap) {
        assert_eq!(
            tools.group_offsets(&group),
            vec![(topic.clone(), 1, Some(3))]
        );
    }
}
