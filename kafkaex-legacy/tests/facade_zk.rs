//! The facade on Kafka 3.9 with ZooKeeper (`zk`), the last brokers with the old versions:
//! kayrock.md's examples at api_version 3, the offset storage matrix (v0 = ZooKeeper, v1+ =
//! Kafka), and every produce format (v0, v1, v2, v3+; none, gzip, snappy) fetched back at v0,
//! v3 and v5 with what each format carries.

mod common;

use bytes::Bytes;
use kafkaex_legacy::protocol::{offset_commit, offset_fetch, produce};
use kafkaex_legacy::{
    fetch, offset_commit, offset_fetch, produce, CallOptions, Error, FetchOptions, Found,
    KafkaVersion, Produced,
};
use kafkaex_testkit::provider::BrokerProfile;

use common::{examples, topic, unique, worker};

#[tokio::test]
async fn kayrock_offset_commit_and_fetch_v3() {
    examples::offset_commit_and_fetch_v3(
        BrokerProfile::Zk,
        "zk kayrock_offset_commit_and_fetch_v3",
    )
    .await;
}

#[tokio::test]
async fn kayrock_fetch_auto_commit_v3() {
    examples::fetch_auto_commit_v3(BrokerProfile::Zk, "zk kayrock_fetch_auto_commit_v3", 3).await;
}

#[tokio::test]
async fn kayrock_produce_timestamp_v3() {
    examples::produce_timestamp_v3(BrokerProfile::Zk, "zk kayrock_produce_timestamp_v3", 3).await;
}

#[tokio::test]
async fn kayrock_log_append_time() {
    examples::log_append_time(BrokerProfile::Zk, "zk kayrock_log_append_time", 3).await;
}

/// `(offset, metadata, error name)` of an offset_fetch at `version`.
async fn fetched(
    w: &kafkaex_legacy::Worker,
    group: &str,
    t: &str,
    version: i16,
) -> (i64, String, String) {
    let Found::Found(r) = offset_fetch(
        w,
        offset_fetch::Request {
            consumer_group: Some(group.to_owned()),
            topic: t.to_owned(),
            partition: 0,
            api_version: version,
        },
    )
    .await
    .expect("offset_fetch") else {
        panic!("topic not found")
    };
    let p = &r[0].partitions[0];
    (p.offset, p.metadata.clone(), p.error_code.to_string())
}

async fn commit(w: &kafkaex_legacy::Worker, group: &str, t: &str, offset: i64, version: i16) {
    let r = offset_commit(
        w,
        offset_commit::Request {
            consumer_group: Some(group.to_owned()),
            topic: t.to_owned(),
            partition: 0,
            offset,
            metadata: format!("v{version}"),
            api_version: version,
            ..Default::default()
        },
    )
    .await
    .expect("offset_commit");
    assert_eq!(
        r[0].partitions[0].error_code, "no_error",
        "commit v{version}"
    );
}

/// kayrock.md's storage rules, as KafkaEx's offset_test.exs asserts them.
#[tokio::test]
async fn offset_storage_matrix() {
    let test = "offset_storage_matrix";
    let Some(w) = worker(BrokerProfile::Zk, test, KafkaVersion::Kayrock, "kafka_ex").await else {
        return;
    };
    let t = unique("storage");
    topic(&w, &t, 1, &[]).await;
    // Commit v0, fetch v0: equal (ZooKeeper, which keeps the offset only: no metadata).
    let g = unique("g-v0v0");
    commit(&w, &g, &t, 10, 0).await;
    assert_eq!(
        fetched(&w, &g, &t, 0).await,
        (10, String::new(), "no_error".into())
    );
    // Commit v0, fetch v1+: not in Kafka storage, offset -1 without an error.
    for v in 1..=3 {
        assert_eq!(
            fetched(&w, &g, &t, v).await.0,
            -1,
            "fetch v{v} after commit v0"
        );
        assert_eq!(fetched(&w, &g, &t, v).await.2, "no_error");
    }
    // Commit v1, fetch v0: not in ZooKeeper.
    let g = unique("g-v1v0");
    commit(&w, &g, &t, 11, 1).await;
    assert_eq!(
        fetched(&w, &g, &t, 0).await,
        (-1, String::new(), "unknown_topic_or_partition".into())
    );
    assert_eq!(fetched(&w, &g, &t, 1).await.0, 11);
    // v2/v2 and v3/v3: equal, metadata kept.
    for v in [2, 3] {
        let g = unique(&format!("g-v{v}"));
        commit(&w, &g, &t, 20 + i64::from(v), v).await;
        assert_eq!(
            fetched(&w, &g, &t, v).await,
            (20 + i64::from(v), format!("v{v}"), "no_error".into())
        );
    }
    // The legacy servers send v0 whatever the struct says: api_version 3 lands in ZooKeeper.
    let Some(legacy) = worker(BrokerProfile::Zk, test, KafkaVersion::Default, "kafka_ex").await
    else {
        return;
    };
    let g = unique("g-legacy");
    commit(&legacy, &g, &t, 33, 3).await;
    assert_eq!(fetched(&w, &g, &t, 0).await.0, 33);
    assert_eq!(fetched(&w, &g, &t, 3).await.0, -1);
}

fn codec_name(c: produce::Compression) -> &'static str {
    match c {
        produce::Compression::None => "none",
        produce::Compression::Gzip => "gzip",
        produce::Compression::Snappy => "snappy",
        _ => "other",
    }
}

/// Produce at v0, v1, v2, v3 and v5 with none, gzip and snappy; fetch each back at v0, v3 and
/// v5: values and keys always, timestamps where both formats carry them (none at fetch v0;
/// -1 for a record produced without one), headers only from produce v3 and fetch v4+.
#[tokio::test]
async fn produce_and_fetch_format_matrix() {
    let test = "produce_and_fetch_format_matrix";
    let Some(w) = worker(BrokerProfile::Zk, test, KafkaVersion::Kayrock, "kafka_ex").await else {
        return;
    };
    let t = unique("formats");
    topic(&w, &t, 1, &[]).await;
    let codecs = [
        produce::Compression::None,
        produce::Compression::Gzip,
        produce::Compression::Snappy,
    ];
    // (produce version, codec, base offset)
    let mut produced = Vec::new();
    for version in [0i16, 1, 2, 3, 5] {
        for codec in codecs {
            let tag = format!("p{version}-{}", codec_name(codec));
            let with_ts = version >= 1;
            let messages = vec![
                produce::Message {
                    key: Some(Bytes::from(format!("{tag}-k0"))),
                    value: Some(Bytes::from(format!("{tag}-v0"))),
                    headers: (version >= 3)
                        .then(|| vec![("h".to_owned(), Bytes::from(tag.clone()))]),
                    timestamp: with_ts.then_some(1_000 + i64::from(version)),
                },
                // No timestamp: reads back as -1 where timestamps exist.
                produce::Message {
                    key: None,
                    value: Some(Bytes::from(format!("{tag}-v1"))),
                    headers: None,
                    timestamp: None,
                },
            ];
            let r = produce(
                produce::Request {
                    topic: t.clone(),
                    partition: Some(0),
                    required_acks: 1,
                    timeout: 5000,
                    compression: codec,
                    messages,
                    api_version: version,
                },
                CallOptions::worker(&w),
            )
            .await
            .unwrap_or_else(|e| panic!("produce {tag}: {e:?}"));
            let Produced::Offset(base) = r else {
                panic!("{tag}: {r:?}")
            };
            produced.push((version, codec, base, tag));
        }
    }
    for (pv, _codec, base, tag) in &produced {
        for fv in [0i16, 3, 5] {
            let Found::Found(r) = fetch(
                &t,
                0,
                FetchOptions {
                    worker_name: (&w).into(),
                    offset: Some(*base),
                    auto_commit: false,
                    api_version: fv,
                    max_bytes: 1_000_000,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("fetch v{fv} of {tag}: {e:?}")) else {
                panic!()
            };
            let p = &r[0].partitions[0];
            assert_eq!(p.error_code, "no_error", "{tag} at fetch v{fv}");
            let ms: Vec<_> = p
                .message_set
                .iter()
                .filter(|m| m.offset >= *base)
                .take(2)
                .collect();
            assert_eq!(ms.len(), 2, "{tag} at fetch v{fv}: {:?}", p.message_set);
            let what = format!("{tag} fetched at v{fv}");
            assert_eq!(ms[0].offset, *base, "{what}");
            assert_eq!(ms[1].offset, base + 1, "{what}");
            assert_eq!(
                ms[0].value.as_deref(),
                Some(format!("{tag}-v0").as_bytes()),
                "{what}"
            );
            assert_eq!(
                ms[1].value.as_deref(),
                Some(format!("{tag}-v1").as_bytes()),
                "{what}"
            );
            assert_eq!(
                ms[0].key.as_deref(),
                Some(format!("{tag}-k0").as_bytes()),
                "{what}"
            );
            assert_eq!(ms[1].key, None, "{what}");
            // Timestamps: none in format 0; the producer's where it gave one, else -1.
            let (ts0, ts1) = match fv {
                0 => (None, None),
                _ if *pv == 0 => (Some(-1), Some(-1)),
                _ => (Some(1_000 + i64::from(*pv)), Some(-1)),
            };
            assert_eq!(ms[0].timestamp, ts0, "{what}");
            assert_eq!(ms[1].timestamp, ts1, "{what}");
            // Headers: only record batches carry them, both ways.
            match (fv >= 4, *pv >= 3) {
                (true, true) => assert_eq!(
                    ms[0].headers.as_deref(),
                    Some(&[("h".to_owned(), Some(Bytes::from(tag.clone())))][..]),
                    "{what}"
                ),
                (true, false) => assert_eq!(ms[0].headers.as_deref(), Some(&[][..]), "{what}"),
                (false, _) => assert_eq!(ms[0].headers, None, "{what}"),
            }
        }
    }
}

/// A timestamp at produce v0 is refused before anything is sent (KafkaEx's
/// TimestampNotSupportedError), headers below v3 likewise; nothing reaches the log.
#[tokio::test]
async fn what_a_version_cannot_carry_is_a_typed_error() {
    let test = "what_a_version_cannot_carry_is_a_typed_error";
    let Some(w) = worker(BrokerProfile::Zk, test, KafkaVersion::Kayrock, "kafka_ex").await else {
        return;
    };
    let t = unique("cannot-carry");
    topic(&w, &t, 1, &[]).await;
    let request = |version: i16, message: produce::Message| produce::Request {
        topic: t.clone(),
        partition: Some(0),
        required_acks: 1,
        messages: vec![message],
        api_version: version,
        ..Default::default()
    };
    let err = produce(
        request(
            0,
            produce::Message {
                value: Some("v".into()),
                timestamp: Some(5),
                ..Default::default()
            },
        ),
        CallOptions::worker(&w),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::TimestampNotSupported { api_version: 0 }),
        "{err:?}"
    );
    let err = produce(
        request(
            2,
            produce::Message {
                value: Some("v".into()),
                headers: Some(vec![("k".into(), "v".into())]),
                ..Default::default()
            },
        ),
        CallOptions::worker(&w),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::HeadersNotSupported { api_version: 2 }),
        "{err:?}"
    );
    let latest = kafkaex_legacy::latest_offset(&t, 0, &w)
        .await
        .expect("latest");
    assert_eq!(
        kafkaex_legacy::protocol::offset::extract_offset(&latest.found().unwrap()),
        Some(0)
    );
}

/// `{:error, atom}` from produce, named as each server names it: Kayrock's
/// `message_too_large`, the legacy servers' `message_size_too_large` (code 10).
#[tokio::test]
async fn produce_errors_are_named_by_the_workers_table() {
    let test = "produce_errors_are_named_by_the_workers_table";
    let Some(kayrock) = worker(BrokerProfile::Zk, test, KafkaVersion::Kayrock, "kafka_ex").await
    else {
        return;
    };
    let Some(legacy) = worker(BrokerProfile::Zk, test, KafkaVersion::Default, "kafka_ex").await
    else {
        return;
    };
    let t = unique("too-large");
    topic(&kayrock, &t, 1, &[("max.message.bytes", "200")]).await;
    let request = || produce::Request {
        topic: t.clone(),
        partition: Some(0),
        required_acks: 1,
        messages: vec![produce::Message::value(vec![b'x'; 2000])],
        api_version: 3,
        ..Default::default()
    };
    for (w, name) in [
        (&kayrock, "message_too_large"),
        (&legacy, "message_size_too_large"),
    ] {
        let err = produce(request(), CallOptions::worker(w))
            .await
            .unwrap_err();
        let Error::Kafka { atom, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(atom.code(), 10);
        assert_eq!(atom, name);
    }
}

/// KafkaEx's legacy servers: version 0 on the wire whatever the struct says (a fetch asked at
/// v3 returns message format 0: no timestamps), Metadata v1 (v0 for 0.8 and 0.9: no
/// controller).
#[tokio::test]
async fn the_legacy_servers_send_version_0() {
    let test = "the_legacy_servers_send_version_0";
    let Some(kayrock) = worker(BrokerProfile::Zk, test, KafkaVersion::Kayrock, "kafka_ex").await
    else {
        return;
    };
    let t = unique("legacy-wire");
    topic(&kayrock, &t, 1, &[]).await;
    let Produced::Offset(base) = produce(
        produce::Request {
            topic: t.clone(),
            partition: Some(0),
            required_acks: 1,
            messages: vec![produce::Message {
                value: Some("stamped".into()),
                timestamp: Some(777),
                ..Default::default()
            }],
            api_version: 3,
            ..Default::default()
        },
        CallOptions::worker(&kayrock),
    )
    .await
    .expect("produce") else {
        panic!()
    };
    for (version, controller) in [(KafkaVersion::Default, true), (KafkaVersion::V0_9_0, false)] {
        let Some(w) = worker(BrokerProfile::Zk, test, version.clone(), "kafka_ex").await else {
            return;
        };
        let Found::Found(r) = fetch(
            &t,
            0,
            FetchOptions {
                worker_name: (&w).into(),
                offset: Some(base),
                auto_commit: false,
                api_version: 3,
                ..Default::default()
            },
        )
        .await
        .expect("fetch") else {
            panic!()
        };
        let m = &r[0].partitions[0].message_set[0];
        assert_eq!(m.value.as_deref(), Some(&b"stamped"[..]));
        assert_eq!(m.timestamp, None, "{version:?}: fetched at v0, format 0");
        let meta = kafkaex_legacy::metadata(kafkaex_legacy::MetadataOptions {
            worker_name: (&w).into(),
            topic: Some(t.clone()),
            timeout: None,
        })
        .await
        .expect("metadata");
        assert_eq!(meta.controller_id.is_some(), controller, "{version:?}");
        assert_eq!(meta.topic_metadatas[0].is_internal.is_some(), controller);
    }
    // The same fetch under kayrock is v3: format 1, with the timestamp.
    let Found::Found(r) = fetch(
        &t,
        0,
        FetchOptions {
            worker_name: (&kayrock).into(),
            offset: Some(base),
            auto_commit: false,
            api_version: 3,
            ..Default::default()
        },
    )
    .await
    .expect("fetch") else {
        panic!()
    };
    assert_eq!(r[0].partitions[0].message_set[0].timestamp, Some(777));
}
