//! Real TLS handshakes against a rustls server on 127.0.0.1, with certificates made by `rcgen`
//! in the test, through the public `kafkaex_net::tls` API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafkaex_net::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use kafkaex_net::tls::rustls::server::WebPkiClientVerifier;
use kafkaex_net::tls::rustls::{self, CertificateError, RootCertStore, ServerConfig};
use kafkaex_net::tls::{connect_tls, TlsConfig, TlsError};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A certificate authority made for one test.
struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A leaf certificate for `names`, signed by this CA.
    fn issue(&self, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "kafkaex test");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Leaf { cert, key }
    }

    fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }
}

struct Leaf {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Leaf {
    fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.serialize_der().into())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the server saw of one connection.
type Accepted = Result<Option<Vec<CertificateDer<'static>>>, std::io::Error>;

/// Accepts one TLS connection on 127.0.0.1, answers "ping" with "pong" and reports the client
/// certificates it was shown. With `client_ca`, client certificates from that CA are required.
async fn serve_once(
    server: &Leaf,
    client_ca: Option<&TestCa>,
) -> (SocketAddr, tokio::task::JoinHandle<Accepted>) {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(ca.root_store()), provider())
                .build()
                .unwrap(),
        ),
    };
    let config = builder
        .with_single_cert(vec![server.der()], server.key_der())
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let client_certs = tls.get_ref().1.peer_certificates().map(<[_]>::to_vec);
        let mut ping = [0u8; 4];
        tls.read_exact(&mut ping).await?;
        assert_eq!(&ping, b"ping");
        tls.write_all(b"pong").await?;
        tls.shutdown().await?;
        Ok(client_certs)
    });
    (addr, task)
}

/// Connects with `config` to `host` (the socket always goes to `addr`) and does one ping-pong.
async fn ping(addr: SocketAddr, host: &str, config: &TlsConfig) -> Result<(), TlsError> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = connect_tls(tcp, host, config).await?;
    tls.write_all(b"ping").await.unwrap();
    let mut pong = [0u8; 4];
    tls.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"pong");
    Ok(())
}

async fn with_timeout<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("test timed out")
}

#[tokio::test]
async fn verifies_the_server_against_the_given_ca() {
    let ca = TestCa::new("kafkaex test CA");
    let server = ca.issue(&["127.0.0.1"]);
    let (addr, task) = serve_once(&server, None).await;
    let config = TlsConfig::new().with_ca_pem(ca.pem());
    with_timeout(ping(addr, "127.0.0.1", &config))
        .await
        .unwrap();
    let client_certs = with_timeout(task).await.unwrap().unwrap();
    assert_eq!(client_certs, None, "no client certificate was configured");
}

#[tokio::test]
async fn reads_the_ca_from_a_pem_file() {
    let ca = TestCa::new("kafkaex test CA");
    let server = ca.issue(&["127.0.0.1"]);
    let path = std::env::temp_dir().join(format!("kafkaex-net-test-ca-{}.pem", std::process::id()));
    std::fs::write(&path, ca.pem()).unwrap();
    let (addr, task) = serve_once(&server, None).await;
    let config = TlsConfig::new().with_ca_pem_file(&path);
    let result = with_timeout(ping(addr, "127.0.0.1", &config)).await;
    std::fs::remove_file(&path).unwrap();
    result.unwrap();
    with_timeout(task).await.unwrap().unwrap();
}

#[tokio::test]
async fn rejects_a_server_from_another_ca() {
    let ca = TestCa::new("kafkaex test CA");
    let other_ca = TestCa::new("somebody else's CA");
    let server = ca.issue(&["127.0.0.1"]);
    let (addr, task) = serve_once(&server, None).await;
    let config = TlsConfig::new().with_ca_pem(other_ca.pem());
    let err = with_timeout(ping(addr, "127.0.0.1", &config))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            TlsError::Handshake {
                source: rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                server_name,
            } if server_name == "127.0.0.1"
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "TLS handshake with 127.0.0.1 failed");
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("UnknownIssuer"), "{cause}");
    // The server sees the client's alert.
    assert!(with_timeout(task).await.unwrap().is_err());
}

#[tokio::test]
async fn rejects_a_server_by_default_whose_ca_is_not_a_web_root() {
    let ca = TestCa::new("kafkaex test CA");
    let server = ca.issue(&["127.0.0.1"]);
    let (addr, _task) = serve_once(&server, None).await;
    let err = with_timeout(ping(addr, "127.0.0.1", &TlsConfig::new()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TlsError::Handshake {
                source: rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn rejects_a_certificate_for_another_name() {
    let ca = TestCa::new("kafkaex test CA");
    let server = ca.issue(&["broker-1.example"]);
    let (addr, _task) = serve_once(&server, None).await;
    let config = TlsConfig::new().with_ca_pem(ca.pem());
    let err = with_timeout(ping(addr, "127.0.0.1", &config))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TlsError::Handshake {
                source: rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_name_override_replaces_the_host() {
    let ca = TestCa::new("kafkaex test CA");
    let server = ca.issue(&["broker-1.example"]);
    let (addr, task) = serve_once(&server, None).await;
    let config = TlsConfig::new()
        .with_ca_pem(ca.pem())
        .with_server_name("broker-1.example");
    with_timeout(ping(addr, "127.0.0.1", &config))
        .await
        .unwrap();
    with_timeout(task).await.unwrap().unwrap();
}

#[tokio::test]
async fn danger_accept_invalid_certs_accepts_anything() {
    let ca = TestCa::new("kafkaex test CA");
    let server = ca.issue(&["broker-1.example"]);
    let (addr, task) = serve_once(&server, None).await;
    // Unknown issuer and the wrong name: both ignored.
    let config = TlsConfig::new().danger_accept_invalid_certs(true);
    assert!(config.accepts_invalid_certs());
    with_timeout(ping(addr, "127.0.0.1", &config))
        .await
        .unwrap();
    with_timeout(task).await.unwrap().unwrap();
}

#[tokio::test]
async fn presents_the_client_certificate_when_configured() {
    let ca = TestCa::new("kafkaex test CA");
    let server = ca.issue(&["127.0.0.1"]);
    let client = ca.issue(&["kafkaex-client"]);
    let (addr, task) = serve_once(&server, Some(&ca)).await;
    let config = TlsConfig::new()
        .with_ca_pem(ca.pem())
        .with_client_identity_pem(client.cert.pem(), client.key.serialize_pem());
    with_timeout(ping(addr, "127.0.0.1", &config))
        .await
        .unwrap();
    let client_certs = with_timeout(task).await.unwrap().unwrap();
    assert_eq!(client_certs, Some(vec![client.der()]));
}

#[tokio::test]
async fn a_server_requiring_client_certificates_rejects_a_client_without_one() {
    let ca = TestCa::new("kafkaex test CA");
    let server = ca.issue(&["127.0.0.1"]);
    let (addr, task) = serve_once(&server, Some(&ca)).await;
    let config = TlsConfig::new().with_ca_pem(ca.pem());
    // With TLS 1.3 the client may finish its side of the handshake before the server decides,
    // so only the server's verdict is deterministic.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let client = with_timeout(connect_tls(tcp, "127.0.0.1", &config)).await;
    let err = with_timeout(task).await.unwrap().unwrap_err();
    let cause = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    assert_eq!(
        cause,
        Some(&rustls::Error::NoCertificatesPresented),
        "{err:?}"
    );
    drop(client);
}

#[test]
fn client_key_pem_without_a_key_is_a_typed_error() {
    let ca = TestCa::new("kafkaex test CA");
    let client = ca.issue(&["kafkaex-client"]);
    let err = TlsConfig::new()
        .with_client_identity_pem(client.cert.pem(), client.cert.pem())
        .build_connector()
        .unwrap_err();
    assert!(matches!(err, TlsError::NoPrivateKey), "{err:?}");
}

#[tokio::test]
async fn a_peer_that_hangs_up_is_an_io_error_not_a_tls_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { drop(listener.accept().await) });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let config = TlsConfig::new();
    let err = with_timeout(connect_tls(tcp, "127.0.0.1", &config))
        .await
        .unwrap_err();
    assert!(matches!(err, TlsError::HandshakeIo { .. }), "{err:?}");
    task.await.unwrap();
}
