//! The equivalent of `config :kafka_ex, ...`: the application settings every worker starts from
//! ([`Config`]), set from code ([`configure`](crate::configure)) or read from the environment
//! ([`Config::from_env`]).
//!
//! | `config :kafka_ex` key | [`Config`] field | environment variable | default |
//! | --- | --- | --- | --- |
//! | `brokers` | `brokers` | `KAFKA_EX_BROKERS` (`"h:p,h:p"`) | none: a worker without `uris` fails |
//! | `consumer_group` | `consumer_group` | `KAFKA_EX_CONSUMER_GROUP` (`no_consumer_group` disables) | `"kafka_ex"` |
//! | `client_id` | `client_id` | `KAFKA_EX_CLIENT_ID` | `"kafka_ex"` |
//! | `disable_default_worker` | `disable_default_worker` | `KAFKA_EX_DISABLE_DEFAULT_WORKER` | false |
//! | `kafka_version` | `kafka_version` | `KAFKA_EX_KAFKA_VERSION` | `Default` (KafkaEx's `Server0P10AndLater`); `"kayrock"` for the new client's behaviour |
//! | `sync_timeout` | `sync_timeout` | `KAFKA_EX_SYNC_TIMEOUT` (ms) | 1000 ms per request (calls wait at least 5 s) |
//! | `use_ssl` | `use_ssl` | `KAFKA_EX_USE_SSL` | false |
//! | `ssl_options` | `ssl_options` | `KAFKA_EX_SSL_CACERTFILE`, `_CERTFILE`, `_KEYFILE`, `_SERVER_NAME`, `KAFKA_EX_SSL_VERIFY` (`verify_none`/`verify_peer`) | none |
//! | `sasl` | `sasl` | `KAFKA_EX_SASL_MECHANISM` (`plain`, `scram`), `KAFKA_EX_SASL_USERNAME`, `KAFKA_EX_SASL_PASSWORD`, `KAFKA_EX_SASL_ALGO` (`sha256`, `sha512`) | none |
//! | `commit_interval` / `commit_threshold` | same | `KAFKA_EX_COMMIT_INTERVAL` (ms) / `KAFKA_EX_COMMIT_THRESHOLD` | 5000 ms / 100 |
//! | `auto_offset_reset` | same | `KAFKA_EX_AUTO_OFFSET_RESET` (`none`, `earliest`, `latest`) | `none` |
//! | `heartbeat_interval` / `session_timeout` / `session_timeout_padding` | same | `KAFKA_EX_HEARTBEAT_INTERVAL`, `KAFKA_EX_SESSION_TIMEOUT`, `KAFKA_EX_SESSION_TIMEOUT_PADDING` (ms) | 5000 / 30000 / 10000 ms |
//! | `sleep_for_reconnect` | same | `KAFKA_EX_SLEEP_FOR_RECONNECT` (ms) | 400 ms |
//! | `partitioner` | same | `KAFKA_EX_PARTITIONER` (`default`, `legacy`) | `Default` |
//! | `max_restarts` / `max_seconds` | same | `KAFKA_EX_MAX_RESTARTS` / `KAFKA_EX_MAX_SECONDS` | 10 / 60 |
//!
//! Brokers are accepted in every form KafkaEx accepts: a list of `(host, port)`
//! ([`Brokers::List`]), a `"host:port,host:port"` string ([`Brokers::Csv`]; a missing port is
//! an error, as KafkaEx raises), or a function called when a worker starts (KafkaEx's
//! `{m, f, a}` and 0-arity fun: [`Brokers::Dynamic`]). KafkaEx's `snappy_module` and
//! `protocol` keys have no equivalent: the codecs are built in.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::partitioner::Partitioner;
use crate::worker::{ConsumerGroup, KafkaVersion};

/// A `(host, port)` pair.
pub type Uri = (String, u16);

/// Where the brokers are (`brokers`).
#[derive(Clone)]
pub enum Brokers {
    /// `[{"localhost", 9092}]`.
    List(Vec<Uri>),
    /// `"localhost:9092,localhost:9093"`.
    Csv(String),
    /// `{m, f, a}` or a 0-arity function: called when a worker starts.
    Dynamic(Arc<dyn Fn() -> Vec<Uri> + Send + Sync>),
}

impl fmt::Debug for Brokers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Brokers::List(l) => f.debug_tuple("List").field(l).finish(),
            Brokers::Csv(s) => f.debug_tuple("Csv").field(s).finish(),
            Brokers::Dynamic(_) => f.write_str("Dynamic(..)"),
        }
    }
}

impl Brokers {
    /// The `(host, port)` pairs (`Config.brokers/0`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a CSV entry without a valid port.
    pub fn resolve(&self) -> Result<Vec<Uri>> {
        match self {
            Brokers::List(l) => Ok(l.clone()),
            Brokers::Dynamic(f) => Ok(f()),
            Brokers::Csv(s) => parse_csv(s),
        }
    }
}

/// `"h:p,h:p"` as `(host, port)` pairs.
pub fn parse_csv(s: &str) -> Result<Vec<Uri>> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (host, port) = entry.rsplit_once(':').ok_or_else(|| Error::Config {
                key: "brokers".into(),
                reason: format!("{entry:?} has no port (host:port)"),
            })?;
            let port = port.parse::<u16>().map_err(|_| Error::Config {
                key: "brokers".into(),
                reason: format!("{entry:?}: the port is not a number from 0 to 65535"),
            })?;
            if host.is_empty() {
                return Err(Error::Config {
                    key: "brokers".into(),
                    reason: format!("{entry:?} has no host"),
                });
            }
            Ok((host.to_owned(), port))
        })
        .collect()
}

/// `ssl_options`: Erlang's `cacertfile`, `certfile`, `keyfile`, `verify`,
/// `server_name_indication`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SslOptions {
    /// CA certificates (PEM file); the system's web roots without.
    pub cacertfile: Option<String>,
    /// The client certificate (PEM file).
    pub certfile: Option<String>,
    /// The client key (PEM file).
    pub keyfile: Option<String>,
    /// `verify: :verify_none` accepts any certificate (tests only).
    pub verify_none: bool,
    /// `server_name_indication`: the name the certificate is checked against (default: the
    /// host connected to).
    pub server_name_indication: Option<String>,
}

/// The SASL mechanism of [`Sasl`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `:plain`.
    Plain,
    /// `:scram` with `mechanism_opts: %{algo: :sha256}`.
    ScramSha256,
    /// `:scram` with `mechanism_opts: %{algo: :sha512}`.
    ScramSha512,
}

/// `sasl` / the `auth` worker option (KafkaEx 0.15).
#[derive(Clone, PartialEq, Eq)]
pub struct Sasl {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Sasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// GenConsumer's `auto_offset_reset`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutoOffsetReset {
    /// `:none`: an out-of-range offset is an error.
    #[default]
    None,
    /// `:earliest`.
    Earliest,
    /// `:latest`.
    Latest,
}

/// The application settings (`config :kafka_ex`); see the [module documentation](self).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// `brokers`.
    pub brokers: Option<Brokers>,
    /// `consumer_group`.
    pub consumer_group: ConsumerGroup,
    /// `client_id`.
    pub client_id: String,
    /// `disable_default_worker`.
    pub disable_default_worker: bool,
    /// `kafka_version`.
    pub kafka_version: KafkaVersion,
    /// `sync_timeout`: a request's timeout (KafkaEx's New.Client network timeout).
    pub sync_timeout: Duration,
    /// `use_ssl`.
    pub use_ssl: bool,
    /// `ssl_options` (ignored, with a warning, unless `use_ssl`).
    pub ssl_options: SslOptions,
    /// `sasl`.
    pub sasl: Option<Sasl>,
    /// `commit_interval` (GenConsumer).
    pub commit_interval: Duration,
    /// `commit_threshold` (GenConsumer).
    pub commit_threshold: u64,
    /// `auto_offset_reset` (GenConsumer).
    pub auto_offset_reset: AutoOffsetReset,
    /// `heartbeat_interval` (ConsumerGroup).
    pub heartbeat_interval: Duration,
    /// `session_timeout` (ConsumerGroup).
    pub session_timeout: Duration,
    /// `session_timeout_padding` (ConsumerGroup).
    pub session_timeout_padding: Duration,
    /// `sleep_for_reconnect`.
    pub sleep_for_reconnect: Duration,
    /// `partitioner`.
    pub partitioner: Partitioner,
    /// `max_restarts` (of the workers' supervisor; here: of a GenConsumer per `max_seconds`).
    pub max_restarts: u32,
    /// `max_seconds`.
    pub max_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            brokers: None,
            consumer_group: ConsumerGroup::Group("kafka_ex".into()),
            client_id: "kafka_ex".into(),
            disable_default_worker: false,
            kafka_version: KafkaVersion::Default,
            sync_timeout: Duration::from_millis(1000),
            use_ssl: false,
            ssl_options: SslOptions::default(),
            sasl: None,
            commit_interval: Duration::from_millis(5000),
            commit_threshold: 100,
            auto_offset_reset: AutoOffsetReset::None,
            heartbeat_interval: Duration::from_millis(5000),
            session_timeout: Duration::from_millis(30000),
            session_timeout_padding: Duration::from_millis(10000),
            sleep_for_reconnect: Duration::from_millis(400),
            partitioner: Partitioner::Default,
            max_restarts: 10,
            max_seconds: 60,
        }
    }
}

fn ms(key: &str, v: &str) -> Result<Duration> {
    v.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| Error::Config {
            key: key.into(),
            reason: format!("{v:?} is not a number of milliseconds"),
        })
}

fn flag(key: &str, v: &str) -> Result<bool> {
    match v.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        other => Err(Error::Config {
            key: key.into(),
            reason: format!("{other:?} is not true or false"),
        }),
    }
}

impl Config {
    /// The defaults overridden by the `KAFKA_EX_*` environment variables of the
    /// [module documentation](self).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the variable whose value cannot be read.
    pub fn from_env() -> Result<Config> {
        Config::from_vars(std::env::vars())
    }

    /// [`Config::from_env`] from given `(name, value)` pairs (other names are ignored).
    ///
    /// # Errors
    ///
    /// As [`Config::from_env`].
    pub fn from_vars<K: AsRef<str>, V: AsRef<str>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Config> {
        let mut c = Config::default();
        let mut sasl: (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = (None, None, None, None);
        for (k, v) in vars {
            let (k, v) = (k.as_ref(), v.as_ref());
            let Some(key) = k.strip_prefix("KAFKA_EX_") else {
                continue;
            };
            match key {
                "BROKERS" => {
                    parse_csv(v)?;
                    c.brokers = Some(Brokers::Csv(v.to_owned()));
                }
                "CONSUMER_GROUP" => {
                    c.consumer_group = match v {
                        "no_consumer_group" => ConsumerGroup::NoConsumerGroup,
                        "" => return Err(Error::InvalidConsumerGroup),
                        g => ConsumerGroup::Group(g.to_owned()),
                    }
                }
                "CLIENT_ID" => c.client_id = v.to_owned(),
                "DISABLE_DEFAULT_WORKER" => c.disable_default_worker = flag(k, v)?,
                "KAFKA_VERSION" => c.kafka_version = KafkaVersion::parse(v),
                "SYNC_TIMEOUT" => c.sync_timeout = ms(k, v)?,
                "USE_SSL" => c.use_ssl = flag(k, v)?,
                "SSL_CACERTFILE" => c.ssl_options.cacertfile = Some(v.to_owned()),
                "SSL_CERTFILE" => c.ssl_options.certfile = Some(v.to_owned()),
                "SSL_KEYFILE" => c.ssl_options.keyfile = Some(v.to_owned()),
                "SSL_SERVER_NAME" => c.ssl_options.server_name_indication = Some(v.to_owned()),
                "SSL_VERIFY" => {
                    c.ssl_options.verify_none = match v {
                        "verify_none" => true,
                        "verify_peer" => false,
                        other => {
                            return Err(Error::Config {
                                key: k.into(),
                                reason: format!("{other:?}: verify_none or verify_peer"),
                            })
                        }
                    }
                }
                "SASL_MECHANISM" => sasl.0 = Some(v.to_owned()),
                "SASL_USERNAME" => sasl.1 = Some(v.to_owned()),
                "SASL_PASSWORD" => sasl.2 = Some(v.to_owned()),
                "SASL_ALGO" => sasl.3 = Some(v.to_owned()),
                "COMMIT_INTERVAL" => c.commit_interval = ms(k, v)?,
                "COMMIT_THRESHOLD" => {
                    c.commit_threshold = v.trim().parse().map_err(|_| Error::Config {
                        key: k.into(),
                        reason: format!("{v:?} is not a count"),
                    })?
                }
                "AUTO_OFFSET_RESET" => {
                    c.auto_offset_reset = match v {
                        "none" => AutoOffsetReset::None,
                        "earliest" => AutoOffsetReset::Earliest,
                        "latest" => AutoOffsetReset::Latest,
                        other => {
                            return Err(Error::Config {
                                key: k.into(),
                                reason: format!("{other:?}: none, earliest or latest"),
                            })
                        }
                    }
                }
                "HEARTBEAT_INTERVAL" => c.heartbeat_interval = ms(k, v)?,
                "SESSION_TIMEOUT" => c.session_timeout = ms(k, v)?,
                "SESSION_TIMEOUT_PADDING" => c.session_timeout_padding = ms(k, v)?,
                "SLEEP_FOR_RECONNECT" => c.sleep_for_reconnect = ms(k, v)?,
                "PARTITIONER" => {
                    c.partitioner = match v {
                        "default" => Partitioner::Default,
                        "legacy" => Partitioner::Legacy,
                        other => {
                            return Err(Error::Config {
                                key: k.into(),
                                reason: format!("{other:?}: default or legacy"),
                            })
                        }
                    }
                }
                "MAX_RESTARTS" | "MAX_SECONDS" => {
                    let n: u64 = v.trim().parse().map_err(|_| Error::Config {
                        key: k.into(),
                        reason: format!("{v:?} is not a count"),
                    })?;
                    if key == "MAX_RESTARTS" {
                        c.max_restarts = u32::try_from(n).unwrap_or(u32::MAX);
                    } else {
                        c.max_seconds = n;
                    }
                }
                _ => {}
            }
        }
        if let (Some(mechanism), Some(username), Some(password)) = (sasl.0, sasl.1, sasl.2) {
            let mechanism = match (mechanism.as_str(), sasl.3.as_deref()) {
                ("plain", _) => SaslMechanism::Plain,
                ("scram", None | Some("sha256")) => SaslMechanism::ScramSha256,
                ("scram", Some("sha512")) => SaslMechanism::ScramSha512,
                (m, a) => {
                    return Err(Error::Config {
                        key: "KAFKA_EX_SASL_MECHANISM".into(),
                        reason: format!(
                            "{m:?} (algo {a:?}): plain, or scram with sha256 or sha512"
                        ),
                    })
                }
            };
            c.sasl = Some(Sasl {
                mechanism,
                username,
                password,
            });
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_in_every_form() {
        assert_eq!(
            parse_csv("a:9092, b:9093").unwrap(),
            vec![("a".to_owned(), 9092), ("b".to_owned(), 9093)]
        );
        assert!(matches!(parse_csv("a"), Err(Error::Config { .. })));
        assert!(matches!(parse_csv("a:x"), Err(Error::Config { .. })));
        let dynamic = Brokers::Dynamic(Arc::new(|| vec![("h".into(), 1)]));
        assert_eq!(dynamic.resolve().unwrap(), vec![("h".to_owned(), 1)]);
        let list = Brokers::List(vec![("l".into(), 2)]);
        assert_eq!(list.resolve().unwrap(), vec![("l".to_owned(), 2)]);
    }

    #[test]
    fn environment_keys() {
        let c = Config::from_vars([
            ("KAFKA_EX_BROKERS", "k1:1,k2:2"),
            ("KAFKA_EX_CONSUMER_GROUP", "no_consumer_group"),
            ("KAFKA_EX_KAFKA_VERSION", "kayrock"),
            ("KAFKA_EX_SYNC_TIMEOUT", "3000"),
            ("KAFKA_EX_SASL_MECHANISM", "scram"),
            ("KAFKA_EX_SASL_USERNAME", "u"),
            ("KAFKA_EX_SASL_PASSWORD", "p"),
            ("KAFKA_EX_SASL_ALGO", "sha512"),
            ("KAFKA_EX_AUTO_OFFSET_RESET", "earliest"),
            ("OTHER", "ignored"),
        ])
        .unwrap();
        assert_eq!(
            c.brokers.unwrap().resolve().unwrap(),
            vec![("k1".to_owned(), 1), ("k2".to_owned(), 2)]
        );
        assert_eq!(c.consumer_group, ConsumerGroup::NoConsumerGroup);
        assert_eq!(c.kafka_version, KafkaVersion::Kayrock);
        assert_eq!(c.sync_timeout, Duration::from_secs(3));
        assert_eq!(c.sasl.unwrap().mechanism, SaslMechanism::ScramSha512);
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
        let d = Config::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!(d.consumer_group, ConsumerGroup::Group("kafka_ex".into()));
        assert_eq!(d.client_id, "kafka_ex");
        assert_eq!(d.kafka_version, KafkaVersion::Default);
        assert_eq!(d.commit_threshold, 100);
        assert!(matches!(
            Config::from_vars([("KAFKA_EX_SYNC_TIMEOUT", "soon")]),
            Err(Error::Config { key, .. }) if key == "KAFKA_EX_SYNC_TIMEOUT"
        ));
        assert!(matches!(
            Config::from_vars([("KAFKA_EX_CONSUMER_GROUP", "")]),
            Err(Error::InvalidConsumerGroup)
        ));
    }
}
