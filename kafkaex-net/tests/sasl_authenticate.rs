//! `sasl::authenticate` against a scripted broker that decodes the request bodies with the
//! generated protocol types and answers like Kafka does.

use std::future::{ready, Ready};
use std::io;
use std::time::Duration;

use bytes::Bytes;
use kafkaex_net::sasl::{authenticate, SaslConfig, SaslError, SaslRequest, SaslVersions};
use kafkaex_protocol::{ApiKey, ErrorCode, VersionRange};
use kafkaex_testkit::sasl::PlainAuthenticator;

/// The broker side of SASL/PLAIN from the test kit (user `alice`, password `secret`), answering
/// the exchange directly (no socket).
type PlainBroker = PlainAuthenticator;

/// Hands a request to the broker, as the connection would.
trait Serve {
    fn serve(&mut self, request: SaslRequest) -> Ready<Result<Bytes, io::Error>>;
}

impl Serve for PlainBroker {
    fn serve(&mut self, request: SaslRequest) -> Ready<Result<Bytes, io::Error>> {
        let SaslRequest {
            api_key,
            version,
            body,
        } = request;
        ready(
            PlainAuthenticator::handle(self, api_key, version, body)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        )
    }
}

const LATEST: SaslVersions = SaslVersions {
    handshake: 1,
    authenticate: 2,
};

#[tokio::test]
async fn plain_handshakes_then_authenticates_once() {
    let mut broker = PlainBroker::new();
    let config = SaslConfig::plain("alice", "secret");
    let done = authenticate(&config, LATEST, |request| broker.serve(request))
        .await
        .unwrap();
    assert_eq!(done.mechanism, "PLAIN");
    assert_eq!(done.session_lifetime, None);
    assert_eq!(
        broker.seen,
        vec![
            (ApiKey::SaslHandshake, 1, None),
            (
                ApiKey::SaslAuthenticate,
                2,
                Some(Bytes::from_static(b"\0alice\0secret"))
            ),
        ]
    );
}

#[tokio::test]
async fn reports_the_session_lifetime_for_reauthentication() {
    let mut broker = PlainBroker::new();
    broker.session_lifetime_ms = 3_600_000;
    let config = SaslConfig::plain("alice", "secret");
    let versions = SaslVersions {
        handshake: 1,
        authenticate: 1,
    };
    let done = authenticate(&config, versions, |request| broker.serve(request))
        .await
        .unwrap();
    assert_eq!(done.session_lifetime, Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn works_with_the_oldest_framed_versions() {
    // SaslAuthenticate v0 has no session lifetime.
    let mut broker = PlainBroker::new();
    broker.session_lifetime_ms = 3_600_000;
    let config = SaslConfig::plain("alice", "secret");
    let versions = SaslVersions {
        handshake: 1,
        authenticate: 0,
    };
    let done = authenticate(&config, versions, |request| broker.serve(request))
        .await
        .unwrap();
    assert_eq!(done.session_lifetime, None);
}

#[tokio::test]
async fn wrong_password_is_a_typed_rejection_with_the_broker_message() {
    let mut broker = PlainBroker::new();
    let config = SaslConfig::plain("alice", "wrong");
    let err = authenticate(&config, LATEST, |request| broker.serve(request))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            SaslError::Rejected { api: ApiKey::SaslAuthenticate, code: ErrorCode::SaslAuthenticationFailed, message: Some(m) }
                if m.contains("Invalid username or password")
        ),
        "{err:?}"
    );
    // The text names the API and the code readably, with the broker's message; what a caller
    // acts on is the typed variant and code above.
    let text = err.to_string();
    assert!(
        text.starts_with("the broker rejected SaslAuthenticate with SASL_AUTHENTICATION_FAILED")
            && text.ends_with("Authentication failed: Invalid username or password"),
        "{text}"
    );
}

#[tokio::test]
async fn a_mechanism_the_broker_does_not_enable_lists_the_enabled_ones() {
    let mut broker = PlainBroker::new();
    let config = SaslConfig::scram_sha256("alice", "secret");
    let err = authenticate(&config, LATEST, |request| broker.serve(request))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            SaslError::UnsupportedMechanism { mechanism: "SCRAM-SHA-256", enabled }
                if enabled == &["PLAIN", "SCRAM-SHA-512"]
        ),
        "{err:?}"
    );
    // Nothing was sent after the failed handshake.
    assert_eq!(broker.seen.len(), 1);
}

#[tokio::test]
async fn transport_errors_keep_their_cause() {
    let config = SaslConfig::plain("alice", "secret");
    let err = authenticate(&config, LATEST, |_| {
        ready(Err::<Bytes, _>(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "broker went away",
        )))
    })
    .await
    .unwrap_err();
    assert!(matches!(err, SaslError::Transport(_)), "{err:?}");
    let cause = std::error::Error::source(&err).unwrap();
    assert_eq!(cause.to_string(), "broker went away");
}

#[tokio::test]
async fn garbage_responses_are_decode_errors() {
    let config = SaslConfig::plain("alice", "secret");
    let err = authenticate(&config, LATEST, |_| {
        ready(Ok::<_, io::Error>(Bytes::from_static(b"\x00")))
    })
    .await
    .unwrap_err();
    assert!(matches!(err, SaslError::Decode(_)), "{err:?}");
}

#[tokio::test]
async fn handshake_v0_is_refused() {
    let config = SaslConfig::plain("alice", "secret");
    let versions = SaslVersions {
        handshake: 0,
        authenticate: 0,
    };
    let err = authenticate(&config, versions, |_| -> Ready<Result<Bytes, io::Error>> {
        panic!("nothing may be sent")
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            SaslError::UnsupportedVersions {
                api: ApiKey::SaslHandshake
            }
        ),
        "{err:?}"
    );
}

#[test]
fn negotiates_the_highest_common_versions() {
    let range = |min, max| Some(VersionRange { min, max });
    assert_eq!(
        SaslVersions::negotiate(range(0, 1), range(0, 2)).unwrap(),
        LATEST
    );
    // A future broker: capped at what this client knows.
    assert_eq!(
        SaslVersions::negotiate(range(0, 7), range(0, 9)).unwrap(),
        LATEST
    );
    // Kafka 1.x: SaslAuthenticate v0 only.
    assert_eq!(
        SaslVersions::negotiate(range(0, 1), range(0, 0)).unwrap(),
        SaslVersions {
            handshake: 1,
            authenticate: 0
        }
    );
    // Kafka 0.10: only the unframed v0 handshake.
    assert!(matches!(
        SaslVersions::negotiate(range(0, 0), None),
        Err(SaslError::UnsupportedVersions {
            api: ApiKey::SaslHandshake
        })
    ));
    assert!(matches!(
        SaslVersions::negotiate(range(0, 1), None),
        Err(SaslError::UnsupportedVersions {
            api: ApiKey::SaslAuthenticate
        })
    ));
    // A broker that has dropped every version this client knows.
    assert!(matches!(
        SaslVersions::negotiate(range(0, 1), range(3, 4)),
        Err(SaslError::UnsupportedVersions {
            api: ApiKey::SaslAuthenticate
        })
    ));
}

#[test]
fn request_debug_never_prints_the_body() {
    let request = SaslRequest {
        api_key: ApiKey::SaslAuthenticate,
        version: 2,
        body: Bytes::from_static(b"\0alice\0secret"),
    };
    let shown = format!("{request:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("<13 bytes>"), "{shown}");
}
