//! Regression tests for the faults that scripted misbehaving brokers found (the net-shape
//! issue, section 6): each against the test kit's fake broker or a raw peer on 127.0.0.1.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkaex_net::sasl::SaslConfig;
use kafkaex_net::versions::VersionChoice;
use kafkaex_net::{BrokerConnection, Cluster, NetConfig, NetError, RetryPolicy, Route};
use kafkaex_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::{
    ApiVersionsResponse, DescribeClusterRequest, ListOffsetsRequest, ProduceRequest, RequestKind,
    SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafkaex_protocol::ApiKey;
use kafkaex_testkit::fake::{Action, FakeCluster, Reply, Rule};
use kafkaex_testkit::peers::{closed_address, Behaviour, Peer};

fn fast(request_timeout: Duration) -> NetConfig {
    NetConfig::default()
        .with_request_timeout(request_timeout)
        .with_connect_timeout(Duration::from_secs(2))
        .with_retry(
            RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5))
                .with_deadline(Duration::from_secs(10)),
        )
}

fn list_latest(topic: &str) -> ListOffsetsRequest {
    ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(topic.to_owned())
        .with_partitions(vec![ListOffsetsPartition::default()
            .with_partition_index(0)
            .with_timestamp(-1)])])
}

/// 1. A silent connection is replaced: a request that times out closes its connection (every
/// other request on it fails and leaves the in-flight table), and the next attempt opens a new
/// one.
#[tokio::test]
async fn a_connection_whose_broker_stops_answering_is_closed_and_replaced() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let cluster = Cluster::connect(&fake.bootstrap(), fast(Duration::from_millis(300)))
        .await
        .unwrap();
    let frozen = cluster.broker_for(Route::leader("t", 0)).await.unwrap();
    let accepted = fake.connections_accepted(1);
    fake.add_rule(Rule::on(ApiKey::ListOffsets).once().then(Action::Silence));

    // Idempotent, so retried, on a new connection.
    let response = cluster.request(&list_latest("t")).await.unwrap();
    assert_eq!(response.body.topics[0].partitions[0].offset, 0);
    assert_eq!(fake.count(ApiKey::ListOffsets), 2);
    assert_eq!(
        fake.connections_accepted(1),
        accepted + 1,
        "a new connection"
    );
    assert!(frozen.is_closed());
    assert_eq!(
        frozen.in_flight(),
        0,
        "the abandoned request left the table"
    );
    let cause = frozen.close_cause().unwrap();
    assert!(
        matches!(&*cause, NetError::Closed { cause } if matches!(**cause, NetError::Timeout { .. })),
        "{cause:?}"
    );

    // Other requests in flight on the frozen connection fail at once, not one timeout each.
    let second = cluster.broker_for(Route::leader("t", 0)).await.unwrap();
    fake.add_rule(Rule::on(ApiKey::ListOffsets).times(3).then(Action::Silence));
    let started = Instant::now();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let conn = second.clone();
            tokio::spawn(async move { conn.send(&list_latest("t"), VersionChoice::Newest).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(err.may_have_been_applied(), "{err:?}");
    }
    assert!(second.is_closed());
    assert_eq!(second.in_flight(), 0);
    // One timeout's worth for all three (they were in flight together), not three.
    assert!(
        started.elapsed() < Duration::from_millis(300 * 3),
        "{:?}",
        started.elapsed()
    );
}

/// 2. Bootstrap moves past addresses that are not brokers (refused, an HTTP server, a wrong
/// correlation id, an unreadable ApiVersions answer) to the broker behind them; when none is a
/// broker, the error lists what each address did.
#[tokio::test]
async fn bootstrap_moves_past_peers_that_are_not_kafka_brokers() {
    let refused = [closed_address().await, closed_address().await];
    let http = Peer::start(Behaviour::Http).await;
    let wrong_id = Peer::start(Behaviour::WrongCorrelationId).await;
    let garbage = Peer::start(Behaviour::Body(vec![0xde, 0xad])).await;
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    let bad: Vec<String> = refused
        .iter()
        .cloned()
        .chain([
            http.address().to_owned(),
            wrong_id.address().to_owned(),
            garbage.address().to_owned(),
        ])
        .collect();

    let mut all = bad.clone();
    all.push(fake.address(1));
    let cluster = Cluster::connect(&all, fast(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(cluster.metadata().brokers().len(), 1);

    let err = Cluster::connect(&bad, fast(Duration::from_secs(2)))
        .await
        .unwrap_err();
    let NetError::NoBrokerAvailable { tried } = &err else {
        panic!("{err:?}")
    };
    let addresses: Vec<&str> = tried.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        addresses,
        bad.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let kinds: Vec<&NetError> = tried.iter().map(|(_, e)| e.root_cause()).collect();
    assert!(
        matches!(kinds[0], NetError::Connect { .. }),
        "{:?}",
        kinds[0]
    );
    assert!(
        matches!(kinds[1], NetError::Connect { .. }),
        "{:?}",
        kinds[1]
    );
    // "HTTP" read as a frame size: 1.2 GB, over the limit.
    assert!(
        matches!(kinds[2], NetError::FrameTooLarge { .. }),
        "{:?}",
        kinds[2]
    );
    assert!(
        matches!(kinds[3], NetError::CorrelationMismatch { .. }),
        "{:?}",
        kinds[3]
    );
    assert!(
        matches!(
            kinds[4],
            NetError::DecodeResponse {
                api: ApiKey::ApiVersions,
                ..
            }
        ),
        "{:?}",
        kinds[4]
    );
    let text = err.to_string();
    for address in &bad {
        assert!(text.contains(address.as_str()), "{text}");
    }
}

/// 2. The same for `Route::Any`: a broker that answers garbage is skipped.
#[tokio::test]
async fn route_any_moves_past_a_broker_that_answers_garbage() {
    let fake = FakeCluster::builder().brokers(2).start().await;
    let cluster = Cluster::connect(&fake.bootstrap(), fast(Duration::from_secs(2)))
        .await
        .unwrap();
    fake.add_rule(
        Rule::on(ApiKey::DescribeCluster)
            .on_node(1)
            .then(Action::respond(|_| {
                Reply::RawBody(Bytes::from_static(&[1, 2, 3]))
            })),
    );
    fake.add_rule(
        Rule::on(ApiKey::DescribeCluster).then(Action::respond(|seen| {
            Reply::body(
                seen.version,
                kafkaex_protocol::messages::DescribeClusterResponse::default()
                    .with_cluster_id("fake".into()),
            )
        })),
    );
    let response = cluster
        .request(&DescribeClusterRequest::default())
        .await
        .unwrap();
    assert_eq!(response.broker.node_id, Some(2));
    let asked: Vec<i32> = fake
        .requests()
        .iter()
        .filter(|s| s.api == ApiKey::DescribeCluster)
        .map(|s| s.node_id)
        .collect();
    assert_eq!(asked, [1, 2]);
}

/// 3. `send_no_response` honours the request timeout when the broker stops reading, and the
/// connection then counts as failed.
#[tokio::test]
async fn an_acks_0_produce_to_a_broker_that_stops_reading_times_out() {
    let fake = FakeCluster::builder().topic("t", 1).start().await;
    // The first Produce is read whole; then the broker reads nothing more.
    fake.add_rule(Rule::on(ApiKey::Produce).then(Action::Freeze));
    let conn = BrokerConnection::connect(&fake.address(1), &fast(Duration::from_millis(500)))
        .await
        .unwrap();
    let produce = |size: usize| {
        ProduceRequest::default()
            .with_acks(0)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name("t".into())
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(Bytes::from(vec![0u8; size])))])])
    };
    conn.send_no_response(&produce(100), VersionChoice::Newest)
        .await
        .unwrap();
    fake.wait_for_count(ApiKey::Produce, 1).await;
    // Far more than the socket buffers hold.
    let started = Instant::now();
    let err = conn
        .send_no_response(&produce(64 << 20), VersionChoice::Newest)
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(conn.is_closed());
}

/// 4. SCRAM's key derivation (PBKDF2 at the largest iteration count accepted) runs off the
/// runtime: on a current-thread runtime other tasks keep running while it computes, and a
/// connect timeout shorter than the derivation ends the connect at the timeout.
#[tokio::test]
async fn scram_key_derivation_does_not_block_the_runtime() {
    let fake = FakeCluster::scripted(|seen| match &seen.body {
        RequestKind::ApiVersions(_) => Reply::body(
            seen.version,
            ApiVersionsResponse::default().with_api_keys(
                [
                    ApiKey::ApiVersions,
                    ApiKey::SaslHandshake,
                    ApiKey::SaslAuthenticate,
                ]
                .iter()
                .map(|api| {
                    kafkaex_protocol::messages::api_versions_response::ApiVersion::default()
                        .with_api_key(api.as_i16())
                        .with_min_version(api.valid_versions().min)
                        .with_max_version(api.valid_versions().max)
                })
                .collect(),
            ),
        ),
        RequestKind::SaslHandshake(_) => Reply::body(
            seen.version,
            SaslHandshakeResponse::default().with_mechanisms(vec!["SCRAM-SHA-512".into()]),
        ),
        RequestKind::SaslAuthenticate(request) => {
            // client-first: "n,,n=<user>,r=<nonce>"; answer with the most iterations a client
            // accepts.
            let first = String::from_utf8_lossy(&request.auth_bytes).into_owned();
            let nonce = first.rsplit_once("r=").map(|(_, n)| n).unwrap_or_default();
            let server_first = format!(
                "r={nonce}server,s=a2Fma2FleC1zYWx0,i={}",
                kafkaex_net::sasl::SCRAM_MAX_ITERATIONS
            );
            Reply::body(
                seen.version,
                SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(server_first)),
            )
        }
        _ => Reply::Silence,
    })
    .await;
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = tokio::spawn({
        let ticks = Arc::clone(&ticks);
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let config = NetConfig::default()
        .with_connect_timeout(Duration::from_millis(300))
        .with_sasl(SaslConfig::scram_sha512("alice", "secret"));
    let started = Instant::now();
    let before = ticks.load(Ordering::Relaxed);
    let err = BrokerConnection::connect(&fake.address(1), &config)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    let during = ticks.load(Ordering::Relaxed) - before;
    ticker.abort();
    assert!(matches!(err, NetError::ConnectTimeout { .. }), "{err:?}");
    // The runtime ran the ticker (about 30 ticks in 300 ms; none if PBKDF2 held the thread).
    assert!(during >= 5, "only {during} ticks in {elapsed:?}");
    // Returned at the timeout, not when the derivation finished.
    assert!(elapsed < Duration::from_millis(300 + 400), "{elapsed:?}");
}

/// 6. Bootstrap dials a few addresses at once, so silent addresses do not cost one connect
/// timeout each.
#[tokio::test]
async fn bootstrap_past_silent_addresses_does_not_wait_one_timeout_each() {
    let mut silent = Vec::new();
    for _ in 0..6 {
        silent.push(Peer::start(Behaviour::Silent).await);
    }
    let fake = FakeCluster::start().await;
    let mut bootstrap: Vec<String> = silent.iter().map(|p| p.address().to_owned()).collect();
    bootstrap.push(fake.address(1));
    let connect_timeout = Duration::from_secs(1);
    let config = fast(Duration::from_secs(2)).with_connect_timeout(connect_timeout);
    let started = Instant::now();
    let cluster = Cluster::connect(&bootstrap, config).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(cluster.metadata().brokers().len(), 1);
    // One after another would be six connect timeouts.
    assert!(elapsed < connect_timeout * 3, "{elapsed:?}");
    assert!(silent.iter().all(|p| p.accepted() <= 1));
}
