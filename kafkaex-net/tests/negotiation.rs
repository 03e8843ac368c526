//! `BrokerConnection`: connect, ApiVersions negotiation (with the `UNSUPPORTED_VERSION`
//! fallback), version choice, SASL and typed requests, against a scripted broker on
//! 127.0.0.1 that decodes every request with the generated protocol types and answers like
//! Kafka does.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes};
use kafkaex_testkit::fake::{FakeCluster, Reply, Seen};
use tokio::net::TcpListener;

use kafkaex_net::broker::{BrokerConnection, CLIENT_SOFTWARE_NAME, CLIENT_SOFTWARE_VERSION};
use kafkaex_net::config::NetConfig;
use kafkaex_net::sasl::{SaslConfig, SaslError};
use kafkaex_net::versions::VersionChoice;
use kafkaex_net::NetError;
use kafkaex_protocol::messages::api_versions_response::ApiVersion;
use kafkaex_protocol::messages::{
    ApiVersionsResponse, LeaderAndIsrRequest, MetadataRequest, MetadataResponse, ProduceRequest,
    RequestKind, ResponseKind, SaslAuthenticateResponse, SaslHandshakeResponse,
};
use kafkaex_protocol::{ApiKey, ErrorCode, Message, VersionRange};

/// The test kit's fake broker, driven entirely by one handler per test.
struct ScriptedBroker {
    address: String,
    fake: FakeCluster,
}

impl ScriptedBroker {
    /// Listens on 127.0.0.1 and serves every connection with `handler` (shared, in order).
    async fn start(handler: impl FnMut(&Seen) -> Reply + Send + 'static) -> Self {
        let fake = FakeCluster::scripted(handler).await;
        Self {
            address: fake.address(1),
            fake,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.fake.requests()
    }

    fn seen_apis(&self) -> Vec<(ApiKey, i16)> {
        self.fake.apis()
    }

    /// Waits until the broker has received `n` requests.
    async fn wait_for_requests(&self, n: usize) {
        self.fake.wait_for(|seen| seen.len() >= n).await;
    }
}

/// Answers with `message` encoded at `version`, with the response header that version of the
/// API uses.
fn body(version: i16, message: impl Into<ResponseKind>) -> Reply {
    Reply::body(version, message)
}

fn api(key: ApiKey, min: i16, max: i16) -> ApiVersion {
    ApiVersion::default()
        .with_api_key(key.as_i16())
        .with_min_version(min)
        .with_max_version(max)
}

/// The ranges of a Kafka 4-like broker, trimmed to what these tests use.
fn kafka4_apis() -> Vec<ApiVersion> {
    vec![
        api(ApiKey::Produce, 3, 12),
        api(ApiKey::Metadata, 0, 9),
        api(ApiKey::ApiVersions, 0, 4),
        api(ApiKey::SaslHandshake, 0, 1),
        api(ApiKey::SaslAuthenticate, 0, 1),
    ]
}

fn api_versions_ok(version: i16, apis: Vec<ApiVersion>) -> Reply {
    body(version, ApiVersionsResponse::default().with_api_keys(apis))
}

/// A broker that answers ApiVersions with `apis` and Metadata with one broker (node 7), and
/// never answers anything else.
fn standard_handler(apis: Vec<ApiVersion>) -> impl FnMut(&Seen) -> Reply + Send {
    move |seen| match seen.api {
        ApiKey::ApiVersions => api_versions_ok(seen.version, apis.clone()),
        ApiKey::Metadata => body(
            seen.version,
            MetadataResponse::default().with_controller_id(if seen.version >= 1 { 7 } else { -1 }),
        ),
        _ => Reply::Silence,
    }
}

fn config() -> NetConfig {
    NetConfig::new()
        .with_client_id("negotiation-test")
        .with_connect_timeout(Duration::from_secs(30))
        .with_request_timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn connect_negotiates_and_newest_is_the_lower_maximum() {
    let broker = ScriptedBroker::start(standard_handler(kafka4_apis())).await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    assert_eq!(conn.address(), broker.address);
    assert!(!conn.is_closed());
    assert_eq!(conn.api_versions_version(), 4);
    assert_eq!(
        conn.versions().get(ApiKey::Metadata),
        Some(VersionRange { min: 0, max: 9 })
    );

    // ApiVersions v4 with the KIP-511 client software name and version, and our client id.
    let first = &broker.seen()[0];
    assert_eq!((first.api, first.version), (ApiKey::ApiVersions, 4));
    assert_eq!(first.client_id.as_deref(), Some("negotiation-test"));
    match &first.body {
        RequestKind::ApiVersions(request) => {
            assert_eq!(request.client_software_name, CLIENT_SOFTWARE_NAME);
            assert_eq!(request.client_software_version, CLIENT_SOFTWARE_VERSION);
        }
        other => panic!("{other:?}"),
    }

    // Newest: min(our max 13, broker max 9) = 9, so a flexible request header and response
    // header v1; the response decodes.
    let kafkaex_net::Response {
        version,
        body: response,
        ..
    } = conn
        .send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap();
    assert_eq!(version, 9);
    assert_eq!(response.controller_id, 7);
    // An exact version inside both ranges is used as is (v0: non-flexible headers).
    let kafkaex_net::Response {
        version,
        body: response,
        ..
    } = conn
        .send(&MetadataRequest::default(), VersionChoice::Exact(0))
        .await
        .unwrap();
    assert_eq!(version, 0);
    assert_eq!(response.controller_id, -1);
    assert_eq!(
        broker.seen_apis(),
        vec![
            (ApiKey::ApiVersions, 4),
            (ApiKey::Metadata, 9),
            (ApiKey::Metadata, 0)
        ]
    );
}

#[tokio::test]
async fn exact_version_outside_the_broker_range_fails_before_sending() {
    let broker = ScriptedBroker::start(standard_handler(kafka4_apis())).await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    let err = conn
        .send(&ProduceRequest::default(), VersionChoice::Exact(2))
        .await
        .unwrap_err();
    match &err {
        NetError::UnsupportedVersion {
            api,
            asked,
            broker: range,
            address,
            ..
        } => {
            assert_eq!(*api, ApiKey::Produce);
            assert_eq!(*asked, 2);
            assert_eq!(*range, Some(VersionRange { min: 3, max: 12 }));
            assert_eq!(address, &broker.address);
        }
        other => panic!("{other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.starts_with("Produce v2 is not supported"), "{shown}");
    assert!(shown.contains("broker supports v3-v12"), "{shown}");
    // Nothing was sent, and the connection is fine.
    assert!(!conn.is_closed());
    conn.send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap();
    assert_eq!(
        broker.seen_apis(),
        vec![(ApiKey::ApiVersions, 4), (ApiKey::Metadata, 9)]
    );
}

#[tokio::test]
async fn an_api_the_broker_does_not_list_is_unsupported_with_no_range() {
    let broker = ScriptedBroker::start(standard_handler(kafka4_apis())).await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    for choice in [VersionChoice::Newest, VersionChoice::Exact(1)] {
        let err = conn
            .send(&LeaderAndIsrRequest::default(), choice)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                NetError::UnsupportedVersion {
                    api: ApiKey::LeaderAndIsr,
                    broker: None,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("no version of it"), "{err}");
    }
    assert_eq!(broker.seen().len(), 1);
}

/// A Kafka 2.4+ broker whose newest ApiVersions is v2: newer versions are answered with
/// `UNSUPPORTED_VERSION` in a v0 body that lists the broker's ApiVersions range.
#[tokio::test]
async fn unsupported_api_versions_version_retries_at_the_broker_maximum() {
    let broker = ScriptedBroker::start(|seen: &Seen| {
        assert_eq!(seen.api, ApiKey::ApiVersions);
        if seen.version > 2 {
            body(
                0,
                ApiVersionsResponse::default()
                    .with_error_code(35)
                    .with_api_keys(vec![api(ApiKey::ApiVersions, 0, 2)]),
            )
        } else {
            api_versions_ok(
                seen.version,
                vec![api(ApiKey::ApiVersions, 0, 2), api(ApiKey::Metadata, 0, 8)],
            )
        }
    })
    .await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    assert_eq!(conn.api_versions_version(), 2);
    assert_eq!(
        conn.versions().get(ApiKey::Metadata),
        Some(VersionRange { min: 0, max: 8 })
    );
    assert_eq!(
        broker.seen_apis(),
        vec![(ApiKey::ApiVersions, 4), (ApiKey::ApiVersions, 2)]
    );
}

/// An older broker lists nothing with its `UNSUPPORTED_VERSION`: retry at v0.
#[tokio::test]
async fn unsupported_api_versions_version_with_no_listing_retries_at_v0() {
    let broker = ScriptedBroker::start(|seen: &Seen| match seen.api {
        ApiKey::ApiVersions if seen.version > 0 => {
            body(0, ApiVersionsResponse::default().with_error_code(35))
        }
        ApiKey::ApiVersions => api_versions_ok(0, vec![api(ApiKey::Metadata, 0, 5)]),
        _ => body(seen.version, MetadataResponse::default()),
    })
    .await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    assert_eq!(conn.api_versions_version(), 0);
    assert_eq!(
        broker.seen_apis(),
        vec![(ApiKey::ApiVersions, 4), (ApiKey::ApiVersions, 0)]
    );
    let kafkaex_net::Response { version, .. } = conn
        .send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap();
    assert_eq!(version, 5);
}

/// A broker that rejects every version, even v0, and claims a range including what was sent:
/// the client stops after v0 with a typed error instead of asking forever.
#[tokio::test]
async fn api_versions_rejected_at_every_version_is_a_kafka_error() {
    let broker = ScriptedBroker::start(|_: &Seen| {
        body(
            0,
            ApiVersionsResponse::default()
                .with_error_code(35)
                .with_api_keys(vec![api(ApiKey::ApiVersions, 0, 4)]),
        )
    })
    .await;
    let err = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            NetError::Kafka { api: ApiKey::ApiVersions, code, address, .. }
                if *code == ErrorCode::from_code(35) && *address == broker.address
        ),
        "{err:?}"
    );
    assert_eq!(
        broker.seen_apis(),
        vec![(ApiKey::ApiVersions, 4), (ApiKey::ApiVersions, 0)]
    );
}

#[tokio::test]
async fn api_versions_error_code_is_a_kafka_error() {
    let broker = ScriptedBroker::start(|seen: &Seen| {
        body(
            seen.version,
            ApiVersionsResponse::default().with_error_code(ErrorCode::InvalidRequest),
        )
    })
    .await;
    let err = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, NetError::Kafka { api: ApiKey::ApiVersions, code, .. } if code.code() == 42),
        "{err:?}"
    );
    assert_eq!(broker.seen().len(), 1);
}

#[tokio::test]
async fn malformed_api_versions_responses_are_typed_errors() {
    let bodies: Vec<Bytes> = vec![
        // Nothing at all.
        Bytes::new(),
        // An error code and then half a compact array length.
        Bytes::from_static(&[0, 0, 0x80]),
        // An array claiming far more entries than the bytes hold.
        Bytes::from_static(&[0, 0, 0xff, 0xff, 0xff, 0x7f]),
        // A whole v4 body plus trailing garbage.
        {
            let mut body = ApiVersionsResponse::default().to_bytes(4).unwrap();
            body.put_slice(b"junk");
            body.freeze()
        },
    ];
    for body in bodies {
        let reply = body.clone();
        let broker = ScriptedBroker::start(move |_: &Seen| Reply::RawBody(reply.clone())).await;
        let err = BrokerConnection::connect(&broker.address, &config())
            .await
            .unwrap_err();
        match &err {
            NetError::DecodeResponse {
                api: ApiKey::ApiVersions,
                version: 4,
                address,
                ..
            } => assert_eq!(address, &broker.address),
            other => panic!("{body:?}: {other:?}"),
        }
        assert!(std::error::Error::source(&err).is_some());
    }
}

#[tokio::test]
async fn malformed_ranges_are_dropped() {
    let broker = ScriptedBroker::start(standard_handler(vec![
        api(ApiKey::ApiVersions, 0, 4),
        api(ApiKey::Metadata, 9, 2),
    ]))
    .await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    assert!(!conn.versions().supports(ApiKey::Metadata));
    let err = conn
        .send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::UnsupportedVersion { broker: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_malformed_response_body_fails_the_request_not_the_connection() {
    let broker = ScriptedBroker::start(|seen: &Seen| match seen.api {
        ApiKey::ApiVersions => api_versions_ok(seen.version, kafka4_apis()),
        // Metadata v0: brokers array length 1, then nothing.
        _ if seen.version == 0 => Reply::RawBody(Bytes::from_static(&[0, 0, 0, 1])),
        _ => body(seen.version, MetadataResponse::default()),
    })
    .await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    let err = conn
        .send(&MetadataRequest::default(), VersionChoice::Exact(0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NetError::DecodeResponse {
                api: ApiKey::Metadata,
                version: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_connection_failure());
    assert!(!conn.is_closed());
    conn.send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap();
}

#[tokio::test]
async fn connect_to_a_closed_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = BrokerConnection::connect(&address, &config())
        .await
        .unwrap_err();
    match &err {
        NetError::Connect { address: a, source } => {
            assert_eq!(a, &address);
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&address), "{err}");
}

#[tokio::test]
async fn bad_addresses_are_invalid_arguments() {
    for address in ["localhost", "localhost:port", "::1:9092"] {
        let err = BrokerConnection::connect(address, &config())
            .await
            .unwrap_err();
        assert!(matches!(err, NetError::InvalidArgument(_)), "{err:?}");
    }
}

/// The connect timeout covers the ApiVersions exchange, not just TCP: a broker that accepts the
/// connection and reads the request but never answers makes `connect` fail with
/// `ConnectTimeout`.
#[tokio::test]
async fn a_broker_that_never_answers_is_a_connect_timeout() {
    let broker = ScriptedBroker::start(|_: &Seen| Reply::Silence).await;
    let timeout = Duration::from_millis(300);
    let err = BrokerConnection::connect(&broker.address, &config().with_connect_timeout(timeout))
        .await
        .unwrap_err();
    match &err {
        NetError::ConnectTimeout {
            address,
            timeout: t,
        } => {
            assert_eq!(address, &broker.address);
            assert_eq!(*t, timeout);
        }
        other => panic!("{other:?}"),
    }
    broker.wait_for_requests(1).await;
    assert_eq!(broker.seen_apis(), vec![(ApiKey::ApiVersions, 4)]);
}

/// SASL/PLAIN with the versions negotiated from the broker's ranges (SaslAuthenticate v1, the
/// broker's maximum), and a wrong password surfacing the broker's message.
#[tokio::test]
async fn sasl_plain_over_the_negotiated_versions() {
    let handler =
        |seen: &Seen| match &seen.body {
            RequestKind::ApiVersions(_) => api_versions_ok(seen.version, kafka4_apis()),
            RequestKind::SaslHandshake(request) => body(
                seen.version,
                SaslHandshakeResponse::default()
                    .with_error_code(if request.mechanism == "PLAIN" { 0 } else { 33 })
                    .with_mechanisms(vec!["PLAIN".to_owned()]),
            ),
            RequestKind::SaslAuthenticate(request) => {
                let ok = &request.auth_bytes[..] == b"\0alice\0right-password";
                body(
                    seen.version,
                    SaslAuthenticateResponse::default()
                        .with_error_code(if ok { 0 } else { 58 })
                        .with_error_message((!ok).then(|| {
                            "Authentication failed: Invalid username or password".to_owned()
                        }))
                        .with_session_lifetime_ms(if ok { 60_000 } else { 0 }),
                )
            }
            RequestKind::Metadata(_) => body(seen.version, MetadataResponse::default()),
            _ => Reply::Silence,
        };
    let broker = ScriptedBroker::start(handler).await;

    let good = config().with_sasl(SaslConfig::plain("alice", "right-password"));
    let conn = BrokerConnection::connect(&broker.address, &good)
        .await
        .unwrap();
    let authenticated = conn.authenticated().unwrap();
    assert_eq!(authenticated.mechanism, "PLAIN");
    assert_eq!(
        authenticated.session_lifetime,
        Some(Duration::from_secs(60))
    );
    conn.send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap();
    assert_eq!(
        broker.seen_apis(),
        vec![
            (ApiKey::ApiVersions, 4),
            (ApiKey::SaslHandshake, 1),
            (ApiKey::SaslAuthenticate, 1),
            (ApiKey::Metadata, 9),
        ]
    );
    assert!(!format!("{conn:?}").contains("right-password"));

    let bad = config().with_sasl(SaslConfig::plain("alice", "wrong-password"));
    let err = BrokerConnection::connect(&broker.address, &bad)
        .await
        .unwrap_err();
    let NetError::Sasl { address, source } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(address, &broker.address);
    match &**source {
        SaslError::Rejected {
            api: ApiKey::SaslAuthenticate,
            code: ErrorCode::SaslAuthenticationFailed,
            message: Some(message),
        } => assert!(message.contains("Authentication failed"), "{message}"),
        other => panic!("{other:?}"),
    }
    for shown in [format!("{err:?}"), format!("{err}"), format!("{bad:?}")] {
        assert!(!shown.contains("wrong-password"), "{shown}");
    }
}

#[tokio::test]
async fn sasl_against_a_broker_without_sasl_apis_fails_typed() {
    let broker =
        ScriptedBroker::start(standard_handler(vec![api(ApiKey::ApiVersions, 0, 4)])).await;
    let err = BrokerConnection::connect(
        &broker.address,
        &config().with_sasl(SaslConfig::scram_sha256("alice", "pw")),
    )
    .await
    .unwrap_err();
    let NetError::Sasl { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(
            **source,
            SaslError::UnsupportedVersions {
                api: ApiKey::SaslHandshake
            }
        ),
        "{source:?}"
    );
}

#[tokio::test]
async fn send_no_response_writes_and_waits_for_nothing() {
    let broker = ScriptedBroker::start(standard_handler(kafka4_apis())).await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    let request = ProduceRequest::default().with_acks(0);
    let version = conn
        .send_no_response(&request, VersionChoice::Newest)
        .await
        .unwrap();
    // The broker lists v3-v12.
    let newest = ProduceRequest::VERSIONS.max.min(12);
    assert_eq!(version, newest);
    broker.wait_for_requests(2).await;
    let produce = &broker.seen()[1];
    assert_eq!((produce.api, produce.version), (ApiKey::Produce, newest));
    assert!(matches!(&produce.body, RequestKind::Produce(p) if p.acks == 0));
    // The connection goes on.
    conn.send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_broker_hanging_up_closes_the_connection_for_every_clone() {
    let broker = ScriptedBroker::start(standard_handler(kafka4_apis())).await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    let clone = conn.clone();
    conn.close();
    assert!(clone.is_closed());
    let err = clone
        .send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::Closed { .. }), "{err:?}");
    assert!(err.is_connection_failure());
}

mod capture {
    //! A minimal `tracing` subscriber that keeps every span's name, fields and parent.

    use super::*;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Debug, Clone)]
    pub(super) struct SpanRecord {
        pub(super) name: &'static str,
        pub(super) fields: BTreeMap<String, String>,
        pub(super) parent: Option<u64>,
    }

    #[derive(Default, Clone)]
    pub(super) struct Capture {
        pub(super) spans: Arc<Mutex<HashMap<u64, SpanRecord>>>,
        next_id: Arc<AtomicU64>,
        stack: Arc<Mutex<Vec<u64>>>,
    }

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            let parent = if let Some(parent) = attrs.parent() {
                Some(parent.into_u64())
            } else if attrs.is_contextual() {
                self.stack.lock().unwrap().last().copied()
            } else {
                None
            };
            self.spans.lock().unwrap().insert(
                id,
                SpanRecord {
                    name: attrs.metadata().name(),
                    fields,
                    parent,
                },
            );
            Id::from_u64(id)
        }
        fn record(&self, span: &Id, values: &Record<'_>) {
            if let Some(record) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
                values.record(&mut Fields(&mut record.fields));
            }
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, span: &Id) {
            self.stack.lock().unwrap().push(span.into_u64());
        }
        fn exit(&self, _: &Id) {
            self.stack.lock().unwrap().pop();
        }
    }
}

/// Every request runs in a `broker_request` span naming the API, version and broker, with the
/// latency recorded on completion; the connection's span (which carries the correlation id) is
/// inside it.
#[tokio::test]
async fn each_request_has_a_span_with_api_version_broker_correlation_id_and_latency() {
    let capture = capture::Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let broker = ScriptedBroker::start(standard_handler(kafka4_apis())).await;
    let conn = BrokerConnection::connect(&broker.address, &config())
        .await
        .unwrap();
    conn.send(&MetadataRequest::default(), VersionChoice::Exact(3))
        .await
        .unwrap();

    let spans = capture.spans.lock().unwrap().clone();
    let (request_id, request) = spans
        .iter()
        .find(|(_, s)| s.name == "broker_request")
        .expect("a broker_request span");
    assert_eq!(request.fields["api"], "Metadata");
    assert_eq!(request.fields["version"], "3");
    assert_eq!(request.fields["broker"], broker.address);
    assert!(request.fields.contains_key("latency_us"), "{request:?}");
    let inner = spans
        .values()
        .find(|s| s.name == "kafka_request" && s.parent == Some(*request_id))
        .expect("the connection's span inside the request span");
    assert_eq!(inner.fields["api_key"], "3");
    assert_eq!(inner.fields["api_version"], "3");
    // The connection records the correlation id on that span through `Span::current()`, which
    // real subscribers (tracing-subscriber's registry) answer and this minimal one does not.
    // The connect sequence has its own span.
    assert!(spans
        .values()
        .any(|s| s.name == "broker_connect" && s.fields["broker"] == broker.address));
}
