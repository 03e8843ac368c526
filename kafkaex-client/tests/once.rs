//! `Client::produce_once` / `fetch_once`: one request at a version the caller may pin, its
//! records in the format the version carries. On `kraft` (newest versions, the versions Kafka
//! 4 removed) and on the fake broker (an old broker negotiating message sets). The formats
//! of every old version against a real broker are kafkaex-legacy's `facade_zk` tests.

mod common;

use bytes::Bytes;
use common::{create_topic, unique};
use kafkaex_client::once::{FetchOnce, OnceRecord, ProduceOnce};
use kafkaex_client::{Client, Error};
use kafkaex_net::{NetError, VersionChoice};
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::fake::FakeCluster;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

#[tokio::test]
async fn produce_once_and_fetch_once_on_kraft() {
    let test = "produce_once_and_fetch_once_on_kraft";
    let Some(brokers) = test_brokers(BrokerProfile::Kraft, test).await else {
        return;
    };
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .build()
        .await
        .expect("client");
    let topic = unique("once");
    create_topic(&client, &topic, 1, 1, &[]).await;
    let produced = client
        .produce_once(&ProduceOnce::new(
            topic.clone(),
            0,
            [
                OnceRecord::value("a")
                    .key("k")
                    .timestamp(12345)
                    .header("h", Some(Bytes::from_static(b"x"))),
                OnceRecord::value("b"),
            ],
        ))
        .await
        .expect("produce")
        .expect("acks 1 answers");
    assert_eq!(produced.base_offset, 0);
    assert!(produced.version >= 3);
    let fetched = client
        .fetch_once(&FetchOnce::new(topic.clone(), 0, 0))
        .await
        .expect("fetch");
    assert_eq!(fetched.error, None);
    assert_eq!(fetched.high_watermark, 2);
    assert_eq!(fetched.next_offset, 2);
    let r = &fetched.records;
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].value.as_deref(), Some(&b"a"[..]));
    assert_eq!(r[0].key.as_deref(), Some(&b"k"[..]));
    assert_eq!(r[0].timestamp, 12345);
    assert_eq!(r[0].header("h").map(|v| v.as_ref()), Some(&b"x"[..]));
    assert_eq!(r[1].timestamp, -1, "no timestamp given: -1");
    // From the middle, and past the end: the partition's code, not an Err.
    let middle = client
        .fetch_once(&FetchOnce::new(topic.clone(), 0, 1))
        .await
        .expect("fetch");
    assert_eq!(middle.records.len(), 1);
    let past = client
        .fetch_once(&FetchOnce::new(topic.clone(), 0, 50))
        .await
        .expect("fetch");
    assert_eq!(past.error, Some(ErrorCode::OffsetOutOfRange));
    assert!(past.records.is_empty());
    // Versions Kafka 4 removed: the typed error, nothing written.
    for (api, err) in [
        (
            ApiKey::Produce,
            client
                .produce_once(
                    &ProduceOnce::new(topic.clone(), 0, [OnceRecord::value("old")])
                        .version(VersionChoice::Exact(2)),
                )
                .await
                .unwrap_err(),
        ),
        (
            ApiKey::Fetch,
            client
                .fetch_once(&FetchOnce::new(topic.clone(), 0, 0).version(VersionChoice::Exact(3)))
                .await
                .unwrap_err(),
        ),
    ] {
        let Error::Request { source, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(
            matches!(&**source, NetError::UnsupportedVersion { api: a, asked, .. } if *a == api && *asked <= 3),
            "{source:?}"
        );
    }
    // What a version cannot carry is refused before anything is sent.
    let err = client
        .produce_once(
            &ProduceOnce::new(topic.clone(), 0, [OnceRecord::value("t").timestamp(1)])
                .version(VersionChoice::Exact(0)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let err = client
        .produce_once(&ProduceOnce::new(topic.clone(), 0, []))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    let end = client
        .fetch_once(&FetchOnce::new(topic.clone(), 0, 0))
        .await
        .expect("fetch");
    assert_eq!(end.high_watermark, 2, "nothing more was written");
}

/// An old broker (Produce up to v2): a negotiated message set cannot carry headers, so the
/// call fails with the encoding error before anything is sent. (The fake models record
/// batches only; message sets against a real broker are kafkaex-legacy's `facade_zk` tests.)
#[tokio::test]
async fn a_negotiated_message_set_refuses_headers_before_sending() {
    let fake = FakeCluster::builder()
        .brokers(1)
        .topic("old", 1)
        .max_version(ApiKey::Produce, 2)
        .start()
        .await;
    let client = Client::builder()
        .bootstrap(fake.bootstrap())
        .build()
        .await
        .expect("client");
    let err = client
        .produce_once(&ProduceOnce::new(
            "old",
            0,
            [OnceRecord::value("v").header("h", None)],
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("headers")),
        "{err:?}"
    );
    assert!(
        !fake.requests().iter().any(|r| r.api == ApiKey::Produce),
        "nothing was sent"
    );
}
