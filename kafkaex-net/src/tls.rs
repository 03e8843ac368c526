//! TLS to brokers with rustls (the `SSL` and `SASL_SSL` security protocols).
//!
//! A [`TlsConfig`] is plain data (cheap to clone, no I/O until it is used). Building it into a
//! [`BrokerTlsConnector`] reads and parses the PEM files once; the connector then wraps each new
//! broker connection with [`BrokerTlsConnector::connect`]. [`connect_tls`] does both in one call.
//!
//! Server certificates are verified by default against the Mozilla root program (`webpki-roots`),
//! compiled in rather than read from the OS, so a client behaves the same in every container
//! image and needs no CA bundle on disk. Brokers with certificates from a private CA (the common
//! case for Kafka) are configured with [`TlsConfig::with_ca_pem`] or
//! [`TlsConfig::with_ca_pem_file`], which *replace* the web roots, like the Java client's
//! `ssl.truststore.location`.
//!
//! The crypto provider is `ring`, passed explicitly to every `ClientConfig`: a process-wide
//! default provider would be a hidden global that another crate in the same binary could set to
//! something else (or set twice, which panics in rustls).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, WebPkiSupportedAlgorithms};
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, InvalidDnsNameError, PrivateKeyDer, ServerName, UnixTime,
};
use tokio_rustls::rustls::{self as tls, ClientConfig, DigitallySignedStruct, RootCertStore};

/// A TLS-wrapped broker connection, as returned by [`connect_tls`].
pub use tokio_rustls::client::TlsStream;
/// The rustls crate this module is built on, re-exported so callers can match on
/// [`TlsError::Handshake`]'s cause (for example `rustls::Error::InvalidCertificate(..)`).
pub use tokio_rustls::rustls;

/// Where PEM data comes from: a file read when the connector is built, or bytes in memory.
#[derive(Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A file, read by [`TlsConfig::build_connector`].
    File(PathBuf),
    /// PEM text already in memory.
    Bytes(Vec<u8>),
}

impl fmt::Debug for PemSource {
    // Never print the bytes: a `PemSource` may hold a private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Bytes(bytes) => write!(f, "Bytes(<{} bytes>)", bytes.len()),
        }
    }
}

impl PemSource {
    fn load(&self, item: PemItem) -> Result<std::borrow::Cow<'_, [u8]>, TlsError> {
        match self {
            Self::Bytes(bytes) => Ok(bytes.as_slice().into()),
            // Synchronous on purpose: the files are small and read once per connector, not per
            // connection, so a blocking read is cheaper than a spawn_blocking round trip.
            Self::File(path) => {
                std::fs::read(path)
                    .map(Into::into)
                    .map_err(|source| TlsError::ReadPem {
                        item,
                        path: path.clone(),
                        source,
                    })
            }
        }
    }
}

/// Which PEM input an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemItem {
    /// The trusted CA certificates.
    CaCertificates,
    /// The client certificate chain (mTLS).
    ClientCertificate,
    /// The client private key (mTLS).
    ClientKey,
}

impl fmt::Display for PemItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CaCertificates => "CA certificates",
            Self::ClientCertificate => "client certificate",
            Self::ClientKey => "client private key",
        })
    }
}

/// The certificates a server certificate must chain to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustAnchors {
    /// The Mozilla root program, compiled in from `webpki-roots`.
    #[default]
    WebPki,
    /// Only the CA certificates in this PEM input.
    CaPem(PemSource),
}

/// How to set up TLS to brokers.
///
/// ```
/// use kafkaex_net::tls::TlsConfig;
///
/// let config = TlsConfig::new()
///     .with_ca_pem_file("/etc/kafka/ca.pem")
///     .with_client_identity_pem_files("/etc/kafka/client.pem", "/etc/kafka/client.key");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    trust: TrustAnchors,
    client_identity: Option<(PemSource, PemSource)>,
    danger_accept_invalid_certs: bool,
    server_name: Option<String>,
}

impl TlsConfig {
    /// Verifies servers against the web roots, presents no client certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts only the CA certificates in `pem` (one or more `CERTIFICATE` sections).
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.trust = TrustAnchors::CaPem(PemSource::Bytes(pem.into()));
        self
    }

    /// Trusts only the CA certificates in the PEM file at `path`, read when the connector is
    /// built.
    pub fn with_ca_pem_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.trust = TrustAnchors::CaPem(PemSource::File(path.into()));
        self
    }

    /// Presents a client certificate (mTLS): `cert_chain` holds the leaf certificate first, then
    /// any intermediates; `key` holds its private key (PKCS#8, PKCS#1 or SEC1).
    pub fn with_client_identity_pem(
        mut self,
        cert_chain: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_identity = Some((
            PemSource::Bytes(cert_chain.into()),
            PemSource::Bytes(key.into()),
        ));
        self
    }

    /// Like [`TlsConfig::with_client_identity_pem`], reading both files when the connector is
    /// built.
    pub fn with_client_identity_pem_files(
        mut self,
        cert_chain: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_identity = Some((
            PemSource::File(cert_chain.into()),
            PemSource::File(key.into()),
        ));
        self
    }

    /// **Disables server certificate verification** when `accept` is true: any certificate, for
    /// any name, from any issuer, expired or not, is accepted. The handshake is still encrypted
    /// but an active attacker can read and change everything. For tests against throwaway
    /// brokers only; building such a connector logs a warning.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.danger_accept_invalid_certs = accept;
        self
    }

    /// Uses `name` for SNI and certificate verification instead of the host the connection is
    /// made to (for brokers reached through an address their certificate does not name).
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The certificates servers are verified against.
    pub fn trust_anchors(&self) -> &TrustAnchors {
        &self.trust
    }

    /// Whether server certificate verification is disabled.
    pub fn accepts_invalid_certs(&self) -> bool {
        self.danger_accept_invalid_certs
    }

    /// Reads and parses the configured PEM inputs and builds a connector to reuse for every
    /// broker connection.
    pub fn build_connector(&self) -> Result<BrokerTlsConnector, TlsError> {
        let provider = Arc::new(crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;

        let builder = if self.danger_accept_invalid_certs {
            tracing::warn!(
                "TLS server certificate verification is DISABLED (danger_accept_invalid_certs)"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };

        let config = match &self.client_identity {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                let chain = parse_certs(chain, PemItem::ClientCertificate)?;
                let key_pem = key.load(PemItem::ClientKey)?;
                let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
                    pem::Error::NoItemsFound => TlsError::NoPrivateKey,
                    source => TlsError::InvalidPem {
                        item: PemItem::ClientKey,
                        source,
                    },
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(TlsError::InvalidClientIdentity)?
            }
        };

        let server_name = self
            .server_name
            .as_deref()
            .map(parse_server_name)
            .transpose()?;
        Ok(BrokerTlsConnector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    fn root_store(&self) -> Result<RootCertStore, TlsError> {
        match &self.trust {
            TrustAnchors::WebPki => Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
            TrustAnchors::CaPem(source) => {
                let mut store = RootCertStore::empty();
                for cert in parse_certs(source, PemItem::CaCertificates)? {
                    store.add(cert).map_err(TlsError::InvalidCaCertificate)?;
                }
                Ok(store)
            }
        }
    }
}

fn parse_certs(
    source: &PemSource,
    item: PemItem,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = source.load(item)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::InvalidPem { item, source })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates { item });
    }
    Ok(certs)
}

fn parse_server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_owned()).map_err(|source| TlsError::InvalidServerName {
        name: name.to_owned(),
        source,
    })
}

/// A built [`TlsConfig`]: wraps broker connections in TLS. Cheap to clone (the rustls
/// configuration is shared).
#[derive(Clone)]
pub struct BrokerTlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
}

impl fmt::Debug for BrokerTlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerTlsConnector")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl BrokerTlsConnector {
    /// Runs the TLS handshake over `stream`, a fresh connection to `host` (a DNS name or an IP
    /// address; the configured server name override, if any, is used instead).
    pub async fn connect<IO>(&self, stream: IO, host: &str) -> Result<TlsStream<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let server_name = match &self.server_name {
            Some(name) => name.clone(),
            None => parse_server_name(host)?,
        };
        let shown_name = server_name.to_str().into_owned();
        self.inner
            .connect(server_name, stream)
            .await
            .map_err(|err| handshake_error(shown_name, err))
    }

    /// The underlying tokio-rustls connector.
    pub fn as_tokio_rustls(&self) -> &tokio_rustls::TlsConnector {
        &self.inner
    }
}

/// tokio-rustls reports TLS failures as `io::Error`s wrapping a `rustls::Error`; unwrap them so
/// callers can tell "the certificate is bad" from "the peer hung up".
fn handshake_error(server_name: String, err: io::Error) -> TlsError {
    match err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<tls::Error>())
    {
        Some(cause) => TlsError::Handshake {
            server_name,
            source: cause.clone(),
        },
        None => TlsError::HandshakeIo {
            server_name,
            source: err,
        },
    }
}

/// Builds a connector from `config` and runs the TLS handshake over `stream`, a fresh
/// connection to `host`. To make many connections, build a [`BrokerTlsConnector`] once with
/// [`TlsConfig::build_connector`] instead.
pub async fn connect_tls<IO>(
    stream: IO,
    host: &str,
    config: &TlsConfig,
) -> Result<TlsStream<IO>, TlsError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    config.build_connector()?.connect(stream, host).await
}

/// Errors setting up TLS or running the handshake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("could not read the {item} PEM file {path:?}")]
    ReadPem {
        /// Which input.
        item: PemItem,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// PEM text is malformed.
    #[error("malformed PEM in the {item}")]
    InvalidPem {
        /// Which input.
        item: PemItem,
        /// What is wrong with it.
        #[source]
        source: pem::Error,
    },
    /// A PEM input that must hold certificates holds none.
    #[error("no CERTIFICATE sections in the {item} PEM")]
    NoCertificates {
        /// Which input.
        item: PemItem,
    },
    /// The client key PEM holds no private key.
    #[error("no private key in the client key PEM")]
    NoPrivateKey,
    /// A CA certificate could not be used as a trust anchor.
    #[error("CA certificate rejected")]
    InvalidCaCertificate(#[source] tls::Error),
    /// The client certificate and key could not be used together.
    #[error("client certificate or key rejected")]
    InvalidClientIdentity(#[source] tls::Error),
    /// rustls rejected the configuration itself.
    #[error("TLS configuration rejected")]
    Config(#[source] tls::Error),
    /// The host (or server name override) is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {name:?}")]
    InvalidServerName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        #[source]
        source: InvalidDnsNameError,
    },
    /// The TLS handshake failed: bad certificate, alert from the peer, no common cipher...
    #[error("TLS handshake with {server_name} failed")]
    Handshake {
        /// The name the server was verified against.
        server_name: String,
        /// The TLS failure, e.g. `rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)`.
        #[source]
        source: tls::Error,
    },
    /// The connection failed during the TLS handshake.
    #[error("I/O error during the TLS handshake with {server_name}")]
    HandshakeIo {
        /// The name the server was verified against.
        server_name: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// The verifier behind [`TlsConfig::danger_accept_invalid_certs`]: trusts any certificate but
/// still checks the handshake signatures, so the session is at least bound to the certificate
/// the server presented.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tls::Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tls::Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<tls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_verifies_against_web_roots() {
        let config = TlsConfig::new();
        assert_eq!(config.trust_anchors(), &TrustAnchors::WebPki);
        assert!(!config.accepts_invalid_certs());
        config.build_connector().unwrap();
    }

    #[test]
    fn ca_pem_without_certificates_is_a_typed_error() {
        let err = TlsConfig::new()
            .with_ca_pem("just some text\n")
            .build_connector()
            .unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::NoCertificates {
                    item: PemItem::CaCertificates
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn malformed_pem_is_a_typed_error() {
        let pem = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
        let err = TlsConfig::new()
            .with_ca_pem(pem)
            .build_connector()
            .unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::InvalidPem {
                    item: PemItem::CaCertificates,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn certificate_that_is_not_x509_is_rejected() {
        // Valid PEM and base64, but the DER inside is not a certificate.
        let pem = "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n";
        let err = TlsConfig::new()
            .with_ca_pem(pem)
            .build_connector()
            .unwrap_err();
        assert!(matches!(err, TlsError::InvalidCaCertificate(_)), "{err:?}");
    }

    #[test]
    fn missing_file_names_the_file() {
        let err = TlsConfig::new()
            .with_ca_pem_file("/nonexistent/kafkaex-ca.pem")
            .build_connector()
            .unwrap_err();
        assert!(matches!(err, TlsError::ReadPem { .. }), "{err:?}");
        assert!(
            err.to_string().contains("/nonexistent/kafkaex-ca.pem"),
            "{err}"
        );
    }

    #[test]
    fn invalid_server_name_override_is_a_typed_error() {
        let err = TlsConfig::new()
            .with_server_name("not a host name!")
            .build_connector()
            .unwrap_err();
        assert!(matches!(err, TlsError::InvalidServerName { .. }), "{err:?}");
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let config = TlsConfig::new().with_client_identity_pem("CERT", "SECRET-KEY-MATERIAL");
        let shown = format!("{config:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<19 bytes>"), "{shown}");
    }
}
