//! Settings of the connection layer: client id, timeouts, TLS, SASL, retries.
//!
//! ```
//! use std::time::Duration;
//! use kafkaex_net::config::NetConfig;
//! use kafkaex_net::sasl::SaslConfig;
//! use kafkaex_net::tls::TlsConfig;
//!
//! let config = NetConfig::new()
//!     .with_client_id("billing")
//!     .with_connect_timeout(Duration::from_secs(5))
//!     .with_tls(TlsConfig::new().with_ca_pem_file("/etc/kafka/ca.pem"))
//!     .with_sasl(SaslConfig::scram_sha512("billing", "secret"));
//! // Debug output never shows the password.
//! assert!(!format!("{config:?}").contains("secret"));
//! ```

use std::time::Duration;

use crate::frame::DEFAULT_MAX_FRAME_SIZE;
use crate::retry::RetryPolicy;
use crate::sasl::SaslConfig;
use crate::tls::TlsConfig;

/// The client id sent in request headers when none is configured.
pub const DEFAULT_CLIENT_ID: &str = "kafkaex";

/// How to connect to brokers and send requests to them.
///
/// `Debug` is safe to log: a SASL password is shown as `***`, and TLS key material only as its
/// length or path.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NetConfig {
    /// The client id sent in every request header (brokers use it in logs, metrics and quotas);
    /// [`DEFAULT_CLIENT_ID`] by default.
    pub client_id: String,
    /// The longest a new connection may take, TCP connect, TLS handshake, ApiVersions and SASL
    /// together (10 s by default).
    pub connect_timeout: Duration,
    /// The longest to wait for the response to one request (30 s by default).
    pub request_timeout: Duration,
    /// The largest response frame accepted (100 MiB by default); a larger one fails the
    /// connection before any buffer for it is allocated.
    pub max_response_size: usize,
    /// TLS to brokers (the `SSL` and `SASL_SSL` security protocols); `None` for plaintext.
    pub tls: Option<TlsConfig>,
    /// SASL authentication on every new connection; `None` for none.
    pub sasl: Option<SaslConfig>,
    /// How retriable failures are retried.
    pub retry: RetryPolicy,
    /// How old cluster metadata may get before it is refreshed even when nothing failed (5 min
    /// by default, like the Java client's `metadata.max.age.ms`).
    pub metadata_max_age: Duration,
    /// How many brokers without a connection (bootstrap addresses, or metadata brokers when no
    /// connection is open) are connected to at once while looking for one that answers (4 by
    /// default).
    pub bootstrap_concurrency: usize,
    /// How long a connect attempt runs alone before the next candidate is tried beside it
    /// (200 ms by default): a healthy first address is the only one dialled, a dead or silent
    /// one costs this much, not a whole connect timeout.
    pub connect_stagger: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_size: DEFAULT_MAX_FRAME_SIZE,
            tls: None,
            sasl: None,
            retry: RetryPolicy::default(),
            metadata_max_age: Duration::from_secs(5 * 60),
            bootstrap_concurrency: 4,
            connect_stagger: Duration::from_millis(200),
        }
    }
}

impl NetConfig {
    /// The defaults: plaintext, no SASL.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the client id.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// Sets the connect timeout (TCP, TLS, ApiVersions and SASL together).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the timeout for one request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the largest response frame accepted.
    pub fn with_max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Connects with TLS.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Authenticates every connection with SASL (over TLS when [`NetConfig::with_tls`] is set
    /// too: `SASL_SSL`; else `SASL_PLAINTEXT`).
    pub fn with_sasl(mut self, sasl: SaslConfig) -> Self {
        self.sasl = Some(sasl);
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the largest age of cluster metadata before a refresh.
    pub fn with_metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = age;
        self
    }

    /// Sets how many unconnected brokers are tried at once (at least 1).
    pub fn with_bootstrap_concurrency(mut self, brokers: usize) -> Self {
        self.bootstrap_concurrency = brokers.max(1);
        self
    }

    /// Sets how long a connect attempt runs alone before the next candidate is tried beside it.
    pub fn with_connect_stagger(mut self, stagger: Duration) -> Self {
        self.connect_stagger = stagger;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let config = NetConfig::default();
        assert_eq!(config.client_id, "kafkaex");
        assert_eq!(config.connect_timeout, Duration::from_secs(10));
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(config.max_response_size, 100 * 1024 * 1024);
        assert_eq!(config.metadata_max_age, Duration::from_secs(300));
        assert_eq!(config.bootstrap_concurrency, 4);
        assert_eq!(config.connect_stagger, Duration::from_millis(200));
        assert!(config.tls.is_none() && config.sasl.is_none());
    }

    #[test]
    fn setters_set() {
        let config = NetConfig::new()
            .with_client_id("c")
            .with_connect_timeout(Duration::from_secs(1))
            .with_request_timeout(Duration::from_secs(2))
            .with_max_response_size(1024)
            .with_metadata_max_age(Duration::from_secs(3))
            .with_tls(TlsConfig::new())
            .with_sasl(SaslConfig::plain("u", "p"));
        assert_eq!(config.client_id, "c");
        assert_eq!(config.connect_timeout, Duration::from_secs(1));
        assert_eq!(config.request_timeout, Duration::from_secs(2));
        assert_eq!(config.max_response_size, 1024);
        assert_eq!(config.metadata_max_age, Duration::from_secs(3));
        assert!(config.tls.is_some() && config.sasl.is_some());
    }

    #[test]
    fn debug_never_shows_passwords_or_key_material() {
        for sasl in [
            SaslConfig::plain("alice", "hunter2-plain"),
            SaslConfig::scram_sha256("alice", "hunter2-256"),
            SaslConfig::scram_sha512("alice", "hunter2-512"),
        ] {
            let config = NetConfig::new()
                .with_tls(
                    TlsConfig::new()
                        .with_client_identity_pem("CERT-PEM-TEXT", "PRIVATE-KEY-PEM-TEXT"),
                )
                .with_sasl(sasl);
            for shown in [format!("{config:?}"), format!("{config:#?}")] {
                assert!(!shown.contains("hunter2"), "{shown}");
                assert!(!shown.contains("PRIVATE-KEY-PEM-TEXT"), "{shown}");
                assert!(shown.contains("alice"), "{shown}");
            }
        }
    }
}
