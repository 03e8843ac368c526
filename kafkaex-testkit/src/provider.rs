//! Where tests and tools find Kafka brokers: environment variables, or testcontainers.
//!
//! Every broker test in this workspace asks a [`BrokerProvider`] for a *profile* (a single KRaft
//! broker, a three-node cluster, a ZooKeeper-mode 3.9 broker, a ZooKeeper-mode 2.5 broker, a
//! broker with TLS and SASL listeners). Two providers exist:
//!
//! - [`EnvBrokerProvider`] (the default): reads the `KAFKAEX_BOOTSTRAP_<PROFILE>` variables that
//!   `cargo xtask kafka up <profile>` prints (and that `cargo xtask test` sets), plus the
//!   profile's extra `KAFKAEX_*` variables (certificates, users, node lists).
//! - `TestcontainersBrokerProvider` (cargo feature `testcontainers`): starts the `apache/kafka`
//!   image with Docker for the `kraft` profile, for CI systems that have Docker but not the
//!   project's xtask. Selected with `KAFKAEX_BROKER_PROVIDER=testcontainers`.
//!
//! Tests call [`test_brokers`], which turns "no broker" into a visible skip (a line on the
//! terminal, not swallowed by the test harness, and a line in `$KAFKAEX_SKIP_LOG` when set so
//! `cargo xtask test` can count skips) unless `KAFKAEX_REQUIRE_BROKERS=1`, which makes a missing
//! broker a failure: CI sets it, so CI never silently skips.
//!
//! ```no_run
//! use kafkaex_testkit::provider::{test_brokers, BrokerProfile};
//!
//! # async fn example() {
//! let Some(brokers) = test_brokers(BrokerProfile::Kraft, "my_test").await else {
//!     return; // skipped: no broker configured
//! };
//! println!("bootstrap: {:?}", brokers.bootstrap);
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use async_trait::async_trait;

/// A kind of local test broker, as started by `cargo xtask kafka up <profile>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BrokerProfile {
    /// One Kafka 4.x broker in KRaft combined mode: the default broker for tests.
    Kraft,
    /// Three Kafka 4.x KRaft brokers, for replication and leader failover tests.
    Cluster,
    /// Kafka 3.9 in ZooKeeper mode, for the old API versions Kafka 4 removed.
    Zk,
    /// Kafka 2.5.1 in ZooKeeper mode (what Elixir KafkaEx's CI ran), for the version ranges
    /// KafkaEx users' brokers answer with (OffsetFetch up to v7, Produce v8, Fetch v11).
    Legacy,
    /// Kafka 4.x with SSL, SASL_SSL/PLAIN and SASL_SSL/SCRAM listeners.
    Secure,
}

impl BrokerProfile {
    /// Every profile.
    pub const ALL: [BrokerProfile; 5] = [
        Self::Kraft,
        Self::Cluster,
        Self::Zk,
        Self::Legacy,
        Self::Secure,
    ];

    /// The profile's name, as `cargo xtask kafka up` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kraft => "kraft",
            Self::Cluster => "cluster",
            Self::Zk => "zk",
            Self::Legacy => "legacy",
            Self::Secure => "secure",
        }
    }

    /// The variable holding the profile's bootstrap list (comma-separated `host:port`). For the
    /// secure profile it is the SSL listener; the SASL listeners are in [`Brokers::env`].
    pub fn bootstrap_var(self) -> &'static str {
        match self {
            Self::Kraft => "KAFKAEX_BOOTSTRAP_KRAFT",
            Self::Cluster => "KAFKAEX_BOOTSTRAP_CLUSTER",
            Self::Zk => "KAFKAEX_BOOTSTRAP_ZK",
            Self::Legacy => "KAFKAEX_BOOTSTRAP_LEGACY",
            Self::Secure => "KAFKAEX_SECURE_SSL",
        }
    }

    /// Whether `var` is one of the profile's extra variables (all are also visible through
    /// [`Brokers::env`]): exact names where a prefix would also match another profile's
    /// (`KAFKAEX_ZOOKEEPER_ZK` and `KAFKAEX_ZOOKEEPER_LEGACY`).
    fn is_extra(self, var: &str) -> bool {
        match self {
            Self::Kraft => false,
            Self::Cluster => var.starts_with("KAFKAEX_CLUSTER_") || var == "KAFKAEX_XTASK",
            Self::Zk => var == "KAFKAEX_ZOOKEEPER_ZK",
            Self::Legacy => var == "KAFKAEX_ZOOKEEPER_LEGACY",
            Self::Secure => var.starts_with("KAFKAEX_SECURE_"),
        }
    }
}

impl fmt::Display for BrokerProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Brokers a provider handed out for one profile.
#[derive(Clone)]
pub struct Brokers {
    /// The profile.
    pub profile: BrokerProfile,
    /// `host:port` of each bootstrap broker.
    pub bootstrap: Vec<String>,
    env: BTreeMap<String, String>,
    /// Keeps whatever runs the brokers (a container) alive as long as any clone of this value.
    _keep_alive: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl fmt::Debug for Brokers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values of the secure profile include passwords: show the keys only.
        f.debug_struct("Brokers")
            .field("profile", &self.profile)
            .field("bootstrap", &self.bootstrap)
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Brokers {
    /// Brokers at `bootstrap` with no extra values.
    pub fn new(profile: BrokerProfile, bootstrap: Vec<String>) -> Self {
        Self {
            profile,
            bootstrap,
            env: BTreeMap::new(),
            _keep_alive: None,
        }
    }

    /// An extra value of the profile, e.g. `KAFKAEX_SECURE_CA_PEM` or `KAFKAEX_CLUSTER_NODES`.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(String::as_str)
    }

    /// Like [`Brokers::env`], but a missing value is a panic naming the key: for tests, where a
    /// profile without its documented variables is a broken setup.
    pub fn require_env(&self, key: &str) -> &str {
        self.env(key).unwrap_or_else(|| {
            panic!(
                "the {} brokers were found but {key} is not set; is `cargo xtask kafka up {}` current?",
                self.profile, self.profile
            )
        })
    }
}

/// Errors of a broker provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The provider cannot supply this profile.
    #[error("the {provider} broker provider cannot supply the {profile} profile")]
    Unsupported {
        /// The provider's name.
        provider: &'static str,
        /// The profile asked for.
        profile: BrokerProfile,
    },
    /// A variable is set but its value is unusable.
    #[error("{var}={value:?} is not a comma-separated list of host:port")]
    InvalidVariable {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
    },
    /// `KAFKAEX_BROKER_PROVIDER` names a provider that is unknown or not compiled in.
    #[error("KAFKAEX_BROKER_PROVIDER={0:?} is unknown or not compiled in (known: env{known})", known = if cfg!(feature = "testcontainers") { ", testcontainers" } else { "" })]
    UnknownProvider(String),
    /// Starting the brokers failed.
    #[error("starting {profile} brokers failed: {reason}")]
    Start {
        /// The profile.
        profile: BrokerProfile,
        /// What failed.
        reason: String,
    },
}

/// A source of Kafka brokers for tests and tools.
///
/// Object-safe (`Box<dyn BrokerProvider>`), so the choice of provider is made at run time.
#[async_trait]
pub trait BrokerProvider: Send + Sync + fmt::Debug {
    /// The provider's name, as `KAFKAEX_BROKER_PROVIDER` spells it.
    fn name(&self) -> &'static str;

    /// Brokers for `profile`: `Ok(None)` when this provider has none configured (the caller
    /// decides whether that is a skip or a failure).
    async fn brokers(&self, profile: BrokerProfile) -> Result<Option<Brokers>, ProviderError>;
}

/// Finds brokers through `KAFKAEX_*` environment variables (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct EnvBrokerProvider {
    /// When set, variables are read from here instead of the process environment.
    vars: Option<BTreeMap<String, String>>,
}

impl EnvBrokerProvider {
    /// Reads the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the given variables instead of the process environment.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: Some(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    fn all_vars(&self) -> BTreeMap<String, String> {
        match &self.vars {
            Some(v) => v.clone(),
            None => std::env::vars().collect(),
        }
    }

    /// The brokers of `profile`, synchronously.
    pub fn lookup(&self, profile: BrokerProfile) -> Result<Option<Brokers>, ProviderError> {
        let vars = self.all_vars();
        let var = profile.bootstrap_var();
        let Some(value) = vars.get(var).filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        let bootstrap = parse_bootstrap(value).ok_or_else(|| ProviderError::InvalidVariable {
            var: var.to_owned(),
            value: value.clone(),
        })?;
        let env = vars
            .iter()
            .filter(|(k, _)| k.as_str() == var || profile.is_extra(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Some(Brokers {
            profile,
            bootstrap,
            env,
            _keep_alive: None,
        }))
    }
}

#[async_trait]
impl BrokerProvider for EnvBrokerProvider {
    fn name(&self) -> &'static str {
        "env"
    }

    async fn brokers(&self, profile: BrokerProfile) -> Result<Option<Brokers>, ProviderError> {
        self.lookup(profile)
    }
}

/// Parses `host:port[,host:port...]`; `None` when an entry has no port or an empty host.
fn parse_bootstrap(value: &str) -> Option<Vec<String>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            let (host, port) = entry.rsplit_once(':')?;
            (!host.is_empty() && port.parse::<u16>().is_ok()).then(|| entry.to_owned())
        })
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
}

/// The provider `KAFKAEX_BROKER_PROVIDER` selects: `env` (the default) or `testcontainers`
/// (with the cargo feature of that name).
pub fn provider_from_env() -> Result<Box<dyn BrokerProvider>, ProviderError> {
    let choice = std::env::var("KAFKAEX_BROKER_PROVIDER").unwrap_or_default();
    match choice.trim() {
        "" | "env" => Ok(Box::new(EnvBrokerProvider::new())),
        #[cfg(feature = "testcontainers")]
        "testcontainers" => Ok(Box::new(TestcontainersBrokerProvider::new())),
        other => Err(ProviderError::UnknownProvider(other.to_owned())),
    }
}

/// Whether `KAFKAEX_REQUIRE_BROKERS` asks that missing brokers fail tests instead of skipping.
pub fn brokers_required() -> bool {
    matches!(
        std::env::var("KAFKAEX_REQUIRE_BROKERS").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// Brokers for a test, from the provider `KAFKAEX_BROKER_PROVIDER` selects.
///
/// Returns `None` (after reporting a visible skip) when the profile has no brokers configured;
/// panics instead when `KAFKAEX_REQUIRE_BROKERS=1`, and always when the provider itself fails.
pub async fn test_brokers(profile: BrokerProfile, test: &str) -> Option<Brokers> {
    let provider = match provider_from_env() {
        Ok(p) => p,
        Err(e) => panic!("{test}: {e}"),
    };
    match provider.brokers(profile).await {
        Ok(Some(brokers)) => Some(brokers),
        Ok(None) if brokers_required() => panic!(
            "{test}: KAFKAEX_REQUIRE_BROKERS=1 but no {profile} brokers are configured \
             ({} is unset; `cargo xtask kafka up {profile}` prints it)",
            profile.bootstrap_var()
        ),
        Ok(None) => {
            record_skip(profile, test);
            None
        }
        Err(e) => panic!(
            "{test}: the {} broker provider failed: {e}",
            provider.name()
        ),
    }
}

/// Reports a skipped broker test where it cannot be missed: straight to the terminal (the test
/// harness captures `eprintln!`, not direct writes to stderr) and, when `KAFKAEX_SKIP_LOG` names
/// a file, as one line appended to it.
fn record_skip(profile: BrokerProfile, test: &str) {
    let line = format!(
        "SKIPPED {test}: no {profile} broker ({} unset; run `cargo xtask kafka up {profile}` or `cargo xtask test`)\n",
        profile.bootstrap_var()
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Ok(path) = std::env::var("KAFKAEX_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

#[cfg(feature = "testcontainers")]
pub use self::containers::TestcontainersBrokerProvider;

#[cfg(feature = "testcontainers")]
mod containers {
    use std::collections::HashMap;
    use std::sync::Arc;

    use async_trait::async_trait;
    use testcontainers::runners::AsyncRunner;
    use testcontainers::ImageExt;
    use testcontainers_modules::kafka::apache::{Kafka, KAFKA_PORT};
    use tokio::sync::Mutex;

    use super::{BrokerProfile, BrokerProvider, Brokers, ProviderError};

    /// The `apache/kafka` image tag started for the `kraft` profile (override with
    /// `KAFKAEX_TESTCONTAINERS_IMAGE_TAG`).
    pub(super) const DEFAULT_IMAGE_TAG: &str = "4.1.0";

    /// Starts a single-node KRaft `apache/kafka` container (the JVM image, through the
    /// maintained `testcontainers-modules` definition, which advertises the mapped host port)
    /// per provider for the `kraft` profile; other profiles are [`ProviderError::Unsupported`]:
    /// they need the xtask brokers. The container lives as long as any [`Brokers`] handed out
    /// for it.
    #[derive(Debug, Default)]
    pub struct TestcontainersBrokerProvider {
        started: Mutex<HashMap<BrokerProfile, Brokers>>,
    }

    impl TestcontainersBrokerProvider {
        /// A provider with no containers started yet.
        pub fn new() -> Self {
            Self::default()
        }
    }

    fn start_error(reason: impl std::fmt::Display) -> ProviderError {
        ProviderError::Start {
            profile: BrokerProfile::Kraft,
            reason: reason.to_string(),
        }
    }

    async fn start_kraft() -> Result<Brokers, ProviderError> {
        let tag = std::env::var("KAFKAEX_TESTCONTAINERS_IMAGE_TAG")
            .unwrap_or_else(|_| DEFAULT_IMAGE_TAG.to_owned());
        let container = Kafka::default()
            .with_jvm_image()
            .with_tag(tag)
            .with_env_var("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true")
            .with_env_var("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            .start()
            .await
            .map_err(start_error)?;
        let port = container
            .get_host_port_ipv4(KAFKA_PORT)
            .await
            .map_err(start_error)?;
        let mut brokers = Brokers::new(BrokerProfile::Kraft, vec![format!("127.0.0.1:{port}")]);
        brokers._keep_alive = Some(Arc::new(container));
        Ok(brokers)
    }

    #[async_trait]
    impl BrokerProvider for TestcontainersBrokerProvider {
        fn name(&self) -> &'static str {
            "testcontainers"
        }

        async fn brokers(&self, profile: BrokerProfile) -> Result<Option<Brokers>, ProviderError> {
            if profile != BrokerProfile::Kraft {
                return Err(ProviderError::Unsupported {
                    provider: "testcontainers",
                    profile,
                });
            }
            let mut started = self.started.lock().await;
            if let Some(b) = started.get(&profile) {
                return Ok(Some(b.clone()));
            }
            let brokers = start_kraft().await?;
            started.insert(profile, brokers.clone());
            Ok(Some(brokers))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "testcontainers")]
    #[tokio::test]
    async fn testcontainers_provider_supplies_kraft_or_says_why_not() {
        let p = TestcontainersBrokerProvider::new();
        let err = p.brokers(BrokerProfile::Cluster).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unsupported { .. }), "{err}");
        // With a Docker engine this starts apache/kafka and the broker answers a TCP connect;
        // without one (as on the project's CI machines) it is a typed start error, not a panic.
        match p.brokers(BrokerProfile::Kraft).await {
            Ok(Some(b)) => {
                let addr = &b.bootstrap[0];
                tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .unwrap_or_else(|e| panic!("container broker {addr} does not accept: {e}"));
            }
            Ok(None) => panic!("the testcontainers provider never answers None"),
            Err(e) => {
                assert!(matches!(e, ProviderError::Start { .. }), "{e}");
                eprintln!("testcontainers provider without Docker: {e}");
            }
        }
    }

    #[test]
    fn env_provider_reads_bootstrap_and_the_profiles_extras_only() {
        let p = EnvBrokerProvider::from_vars([
            (
                "KAFKAEX_BOOTSTRAP_CLUSTER",
                "127.0.0.1:29092,127.0.0.1:29093",
            ),
            ("KAFKAEX_CLUSTER_NODES", "1@127.0.0.1:29092"),
            ("KAFKAEX_SECURE_PLAIN_PASSWORD", "alice-secret"),
        ]);
        let b = p.lookup(BrokerProfile::Cluster).unwrap().unwrap();
        assert_eq!(b.bootstrap, ["127.0.0.1:29092", "127.0.0.1:29093"]);
        assert_eq!(b.env("KAFKAEX_CLUSTER_NODES"), Some("1@127.0.0.1:29092"));
        assert_eq!(b.env("KAFKAEX_SECURE_PLAIN_PASSWORD"), None);
        assert!(p.lookup(BrokerProfile::Kraft).unwrap().is_none());
    }

    #[test]
    fn zookeeper_profiles_do_not_take_each_others_variables() {
        let p = EnvBrokerProvider::from_vars([
            ("KAFKAEX_BOOTSTRAP_ZK", "127.0.0.1:39092"),
            ("KAFKAEX_ZOOKEEPER_ZK", "127.0.0.1:32181"),
            ("KAFKAEX_BOOTSTRAP_LEGACY", "127.0.0.1:59092"),
            ("KAFKAEX_ZOOKEEPER_LEGACY", "127.0.0.1:52181"),
        ]);
        let zk = p.lookup(BrokerProfile::Zk).unwrap().unwrap();
        assert_eq!(zk.env("KAFKAEX_ZOOKEEPER_ZK"), Some("127.0.0.1:32181"));
        assert_eq!(zk.env("KAFKAEX_ZOOKEEPER_LEGACY"), None);
        let legacy = p.lookup(BrokerProfile::Legacy).unwrap().unwrap();
        assert_eq!(legacy.bootstrap, ["127.0.0.1:59092"]);
        assert_eq!(
            legacy.env("KAFKAEX_ZOOKEEPER_LEGACY"),
            Some("127.0.0.1:52181")
        );
        assert_eq!(legacy.env("KAFKAEX_ZOOKEEPER_ZK"), None);
    }

    #[test]
    fn secure_values_stay_out_of_debug() {
        let p = EnvBrokerProvider::from_vars([
            ("KAFKAEX_SECURE_SSL", "127.0.0.1:49093"),
            ("KAFKAEX_SECURE_PLAIN_PASSWORD", "alice-secret"),
        ]);
        let b = p.lookup(BrokerProfile::Secure).unwrap().unwrap();
        assert_eq!(b.env("KAFKAEX_SECURE_PLAIN_PASSWORD"), Some("alice-secret"));
        let dbg = format!("{b:?}");
        assert!(!dbg.contains("alice-secret"), "{dbg}");
        assert!(dbg.contains("KAFKAEX_SECURE_PLAIN_PASSWORD"), "{dbg}");
    }

    #[test]
    fn bad_bootstrap_values_are_typed_errors() {
        for bad in ["localhost", "host:notaport", ":9092", ",", "a:1,b"] {
            let p = EnvBrokerProvider::from_vars([("KAFKAEX_BOOTSTRAP_KRAFT", bad)]);
            let err = p.lookup(BrokerProfile::Kraft).unwrap_err();
            assert!(
                matches!(err, ProviderError::InvalidVariable { .. }),
                "{bad}: {err}"
            );
        }
        // Empty means unset.
        let p = EnvBrokerProvider::from_vars([("KAFKAEX_BOOTSTRAP_KRAFT", " ")]);
        assert!(p.lookup(BrokerProfile::Kraft).unwrap().is_none());
    }
}
