//! `BrokerConnection` with TLS and SASL against the `secure` profile
//! (`cargo xtask kafka up secure`): a Kafka 4.x broker with an SSL listener and SASL_SSL
//! listeners for PLAIN and SCRAM-SHA-256/512, its certificate issued by a private CA.

use kafkaex_net::broker::BrokerConnection;
use kafkaex_net::config::NetConfig;
use kafkaex_net::sasl::{SaslConfig, SaslError};
use kafkaex_net::tls::{rustls, TlsConfig, TlsError};
use kafkaex_net::versions::VersionChoice;
use kafkaex_net::NetError;
use kafkaex_protocol::messages::MetadataRequest;
use kafkaex_protocol::{ApiKey, ErrorCode};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile, Brokers};

/// The listeners and credentials of the secure profile.
struct Secure {
    ssl: String,
    sasl_plain: String,
    sasl_scram: String,
    ca_pem: String,
    server_name: String,
    plain: (String, String),
    scram: (String, String),
}

impl Secure {
    async fn get(test: &str) -> Option<Self> {
        let brokers: Brokers = test_brokers(BrokerProfile::Secure, test).await?;
        let var = |key: &str| brokers.require_env(key).to_owned();
        Some(Self {
            ssl: brokers.bootstrap[0].clone(),
            sasl_plain: var("KAFKAEX_SECURE_SASL_PLAIN"),
            sasl_scram: var("KAFKAEX_SECURE_SASL_SCRAM"),
            ca_pem: var("KAFKAEX_SECURE_CA_PEM"),
            server_name: var("KAFKAEX_SECURE_TLS_SERVER_NAME"),
            plain: (
                var("KAFKAEX_SECURE_PLAIN_USERNAME"),
                var("KAFKAEX_SECURE_PLAIN_PASSWORD"),
            ),
            scram: (
                var("KAFKAEX_SECURE_SCRAM_USERNAME"),
                var("KAFKAEX_SECURE_SCRAM_PASSWORD"),
            ),
        })
    }

    /// TLS verified against the profile's CA, with its server name.
    fn tls(&self) -> TlsConfig {
        TlsConfig::new()
            .with_ca_pem_file(&self.ca_pem)
            .with_server_name(&self.server_name)
    }

    fn config(&self) -> NetConfig {
        NetConfig::new()
            .with_client_id("kafkaex-net-secure-test")
            .with_tls(self.tls())
    }
}

/// Connects and checks the connection works with a Metadata request that lists the broker on
/// the port connected to (brokers answer with the listener the request came in on).
async fn connect_and_fetch_metadata(address: &str, config: &NetConfig) -> BrokerConnection {
    let conn = BrokerConnection::connect(address, config)
        .await
        .unwrap_or_else(|e| panic!("connecting to {address}: {e:?}"));
    let kafkaex_net::Response { body: metadata, .. } = conn
        .send(&MetadataRequest::default(), VersionChoice::Newest)
        .await
        .unwrap_or_else(|e| panic!("Metadata from {address}: {e:?}"));
    let port: i32 = address.rsplit_once(':').unwrap().1.parse().unwrap();
    assert!(
        metadata.brokers.iter().any(|b| b.port == port),
        "{address}: {:?}",
        metadata.brokers
    );
    conn
}

fn handshake_cause(err: &NetError) -> &rustls::Error {
    let NetError::Tls { source, .. } = err else {
        panic!("expected a TLS error, got {err:?}");
    };
    match &**source {
        TlsError::Handshake { source, .. } => source,
        other => panic!("expected a handshake failure, got {other:?}"),
    }
}

fn assert_authentication_failed(err: &NetError, address: &str) {
    let NetError::Sasl {
        address: got,
        source,
    } = err
    else {
        panic!("expected a SASL error, got {err:?}");
    };
    assert_eq!(got, address);
    match &**source {
        SaslError::Rejected {
            api: ApiKey::SaslAuthenticate,
            code: ErrorCode::SaslAuthenticationFailed,
            message: Some(message),
        } => assert!(
            message.to_lowercase().contains("authentication failed"),
            "{message}"
        ),
        other => panic!("expected SASL_AUTHENTICATION_FAILED, got {other:?}"),
    }
}

#[tokio::test]
async fn tls_verified_with_the_ca() {
    let Some(secure) = Secure::get("tls_verified_with_the_ca").await else {
        return;
    };
    let conn = connect_and_fetch_metadata(&secure.ssl, &secure.config()).await;
    assert!(conn.authenticated().is_none());
}

/// With no server name override the host is verified; the certificate names 127.0.0.1 too.
#[tokio::test]
async fn tls_verifies_the_ip_address_connected_to() {
    let Some(secure) = Secure::get("tls_verifies_the_ip_address_connected_to").await else {
        return;
    };
    let config = NetConfig::new().with_tls(TlsConfig::new().with_ca_pem_file(&secure.ca_pem));
    connect_and_fetch_metadata(&secure.ssl, &config).await;
}

/// The broker's certificate comes from a private CA: the web roots do not trust it.
#[tokio::test]
async fn tls_with_the_web_roots_rejects_the_private_ca() {
    let Some(secure) = Secure::get("tls_with_the_web_roots_rejects_the_private_ca").await else {
        return;
    };
    let config = NetConfig::new().with_tls(TlsConfig::new().with_server_name(&secure.server_name));
    let err = BrokerConnection::connect(&secure.ssl, &config)
        .await
        .unwrap_err();
    assert!(
        matches!(
            handshake_cause(&err),
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&secure.ssl), "{err}");
}

#[tokio::test]
async fn tls_with_a_name_the_certificate_lacks_fails() {
    let Some(secure) = Secure::get("tls_with_a_name_the_certificate_lacks_fails").await else {
        return;
    };
    let config = NetConfig::new().with_tls(
        TlsConfig::new()
            .with_ca_pem_file(&secure.ca_pem)
            .with_server_name("not-the-broker.example.com"),
    );
    let err = BrokerConnection::connect(&secure.ssl, &config)
        .await
        .unwrap_err();
    assert!(
        matches!(handshake_cause(&err), rustls::Error::InvalidCertificate(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn sasl_ssl_plain() {
    let Some(secure) = Secure::get("sasl_ssl_plain").await else {
        return;
    };
    let (user, password) = &secure.plain;
    let config = secure
        .config()
        .with_sasl(SaslConfig::plain(user.as_str(), password.as_str()));
    assert!(!format!("{config:?}").contains(password.as_str()));
    let conn = connect_and_fetch_metadata(&secure.sasl_plain, &config).await;
    assert_eq!(conn.authenticated().unwrap().mechanism, "PLAIN");
    assert!(!format!("{conn:?}").contains(password.as_str()));
}

#[tokio::test]
async fn sasl_ssl_scram_sha_256_and_512() {
    let Some(secure) = Secure::get("sasl_ssl_scram_sha_256_and_512").await else {
        return;
    };
    let (user, password) = &secure.scram;
    for (sasl, mechanism) in [
        (
            SaslConfig::scram_sha256(user.as_str(), password.as_str()),
            "SCRAM-SHA-256",
        ),
        (
            SaslConfig::scram_sha512(user.as_str(), password.as_str()),
            "SCRAM-SHA-512",
        ),
    ] {
        let config = secure.config().with_sasl(sasl);
        assert!(!format!("{config:?}").contains(password.as_str()));
        let conn = connect_and_fetch_metadata(&secure.sasl_scram, &config).await;
        assert_eq!(conn.authenticated().unwrap().mechanism, mechanism);
    }
}

#[tokio::test]
async fn wrong_passwords_fail_with_the_brokers_message() {
    let Some(secure) = Secure::get("wrong_passwords_fail_with_the_brokers_message").await else {
        return;
    };
    let wrong = "definitely-not-the-password";
    for (address, sasl) in [
        (
            &secure.sasl_plain,
            SaslConfig::plain(secure.plain.0.as_str(), wrong),
        ),
        (
            &secure.sasl_scram,
            SaslConfig::scram_sha256(secure.scram.0.as_str(), wrong),
        ),
        (
            &secure.sasl_scram,
            SaslConfig::scram_sha512(secure.scram.0.as_str(), wrong),
        ),
    ] {
        let config = secure.config().with_sasl(sasl);
        let err = BrokerConnection::connect(address, &config)
            .await
            .unwrap_err();
        println!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert_authentication_failed(&err, address);
        for shown in [format!("{err:?}"), format!("{err}"), format!("{config:?}")] {
            assert!(!shown.contains(wrong), "{shown}");
        }
    }
}

/// A SASL mechanism the listener does not enable is named with the ones it does.
#[tokio::test]
async fn a_mechanism_the_listener_does_not_enable() {
    let Some(secure) = Secure::get("a_mechanism_the_listener_does_not_enable").await else {
        return;
    };
    let (user, password) = &secure.scram;
    let config = secure
        .config()
        .with_sasl(SaslConfig::scram_sha512(user.as_str(), password.as_str()));
    let err = BrokerConnection::connect(&secure.sasl_plain, &config)
        .await
        .unwrap_err();
    let NetError::Sasl { source, .. } = &err else {
        panic!("{err:?}");
    };
    match &**source {
        SaslError::UnsupportedMechanism { mechanism, enabled } => {
            assert_eq!(*mechanism, "SCRAM-SHA-512");
            assert!(enabled.iter().any(|m| m == "PLAIN"), "{enabled:?}");
        }
        other => panic!("{other:?}"),
    }
}
