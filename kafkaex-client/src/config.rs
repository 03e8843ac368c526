//! Settings: typed, with builders, and loadable from Java-style properties so an existing ops
//! config ports as it is.
//!
//! ```
//! use kafkaex_client::config::{Acks, Config};
//!
//! let config = Config::from_properties(
//!     "bootstrap.servers=kafka1:9092,kafka2:9092\n\
//!      client.id=billing\n\
//!      acks=all\n\
//!      linger.ms=10\n\
//!      compression.type=lz4\n",
//! )
//! .unwrap();
//! assert_eq!(config.client.bootstrap, ["kafka1:9092", "kafka2:9092"]);
//! assert_eq!(config.producer.acks, Acks::All);
//!
//! // Unknown or ill-typed keys are errors naming the key.
//! let err = Config::from_properties("linger.ms=soon").unwrap_err();
//! assert!(err.to_string().contains("linger.ms"));
//! ```

use std::time::Duration;

use kafkaex_net::sasl::SaslConfig;
use kafkaex_net::tls::TlsConfig;
use kafkaex_net::NetConfig;
use kafkaex_protocol::records::Compression;

use crate::error::{Error, Result};

/// How a [`Client`](crate::Client) connects.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `host:port` of one or more brokers to bootstrap from (`bootstrap.servers`).
    pub bootstrap: Vec<String>,
    /// Connection settings: client id, timeouts, TLS, SASL, retries, metadata age.
    pub net: NetConfig,
    /// Whether Metadata requests may create missing topics (`allow.auto.create.topics`,
    /// true by default as in Java; the broker's `auto.create.topics.enable` must allow it too).
    pub allow_auto_topic_creation: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            bootstrap: Vec::new(),
            net: NetConfig::default(),
            allow_auto_topic_creation: true,
        }
    }
}

/// What a Produce waits for before the broker answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Acks {
    /// `acks=0`: no answer at all; a record counts as delivered once written to the socket.
    None,
    /// `acks=1`: the leader wrote it.
    Leader,
    /// `acks=all` (-1): every in-sync replica has it. The default.
    All,
}

impl Acks {
    /// The wire value.
    pub fn as_i16(self) -> i16 {
        match self {
            Self::None => 0,
            Self::Leader => 1,
            Self::All => -1,
        }
    }
}

/// How a [`Producer`](crate::producer::Producer) batches, compresses and delivers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// `acks` (all by default).
    pub acks: Acks,
    /// How long a batch waits for more records before it is sent (`linger.ms`).
    pub linger: Duration,
    /// The size a batch is sent at without waiting for the linger (`batch.size`, bytes).
    pub batch_size: usize,
    /// The codec of every batch (`compression.type`).
    pub compression: Compression,
    /// The codec's level (from `compression.gzip.level`, `compression.lz4.level` or
    /// `compression.zstd.level`, whichever is the codec's; the codec's default when `None`).
    /// Gzip 1-9, lz4 1-17 (liblz4's high-compression encoder; without a level, lz4_flex's fast
    /// one), zstd -131072 to 22; snappy has none.
    pub compression_level: Option<i32>,
    /// Idempotent delivery (`enable.idempotence`, on by default where the brokers support it):
    /// a producer id and per-partition sequence numbers, so retries never duplicate or reorder.
    pub idempotence: bool,
    /// The bytes of records the producer buffers before `send` waits (`buffer.memory`).
    pub buffer_memory: usize,
    /// How long a record may take from `send` to its acknowledgement, retries included
    /// (`delivery.timeout.ms`).
    pub delivery_timeout: Duration,
    /// The first wait before a retry (`retry.backoff.ms`).
    pub retry_backoff: Duration,
    /// The longest wait between retries (`retry.backoff.max.ms`).
    pub retry_backoff_max: Duration,
    /// The largest Produce request (`max.request.size`, bytes); a single record larger than
    /// it is refused at once.
    pub max_request_size: usize,
    /// Produce requests in flight per broker (`max.in.flight.requests.per.connection`; at most
    /// 5 with idempotence, which is what the broker remembers per producer).
    pub max_in_flight: usize,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 256 * 1024,
            compression: Compression::None,
            compression_level: None,
            idempotence: true,
            buffer_memory: 32 * 1024 * 1024,
            delivery_timeout: Duration::from_secs(120),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            max_request_size: 1024 * 1024,
            max_in_flight: 5,
        }
    }
}

/// Every section of the settings, as one Java-style properties file holds them.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Config {
    /// Connection settings.
    pub client: ClientConfig,
    /// Producer settings.
    pub producer: ProducerConfig,
    /// Consumer settings.
    pub consumer: crate::consumer::ConsumerConfig,
    /// Consumer group settings (`group.id` and the rest; empty group id when not given).
    pub group: crate::group::GroupConfig,
    /// Java's SASL/TLS keys are read together; these hold them until [`Config::finish`].
    security: Security,
    /// `compression.<codec>.level` per codec, until [`Config::finish`] picks the one of
    /// `compression.type`.
    levels: Vec<(Compression, i32)>,
    /// `enable.auto.commit=false` seen (then `auto.commit.interval.ms` does not turn it on).
    auto_commit_off: bool,
    /// `auto.commit.interval.ms` seen, for an `enable.auto.commit=true` after it.
    auto_commit_every: Option<Duration>,
}

#[derive(Clone, Debug, Default)]
struct Security {
    protocol: Option<String>,
    mechanism: Option<String>,
    username: Option<String>,
    password: Option<String>,
    jaas: Option<String>,
    ca_location: Option<String>,
    certificate_location: Option<String>,
    key_location: Option<String>,
    endpoint_identification: Option<String>,
}

fn parse_ms(key: &str, value: &str) -> Result<Duration> {
    let ms: u64 = value
        .parse()
        .map_err(|_| Error::config(key, format!("{value:?} is not a number of milliseconds")))?;
    Ok(Duration::from_millis(ms))
}

fn parse_usize(key: &str, value: &str) -> Result<usize> {
    value
        .parse()
        .map_err(|_| Error::config(key, format!("{value:?} is not a non-negative integer")))
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::config(
            key,
            format!("{value:?} is neither true nor false"),
        )),
    }
}

/// A codec by its Java name.
pub fn parse_compression(key: &str, value: &str) -> Result<Compression> {
    Ok(match value.to_ascii_lowercase().as_str() {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => {
            return Err(Error::config(
                key,
                format!("{value:?} is not one of none, gzip, snappy, lz4, zstd"),
            ))
        }
    })
}

impl Config {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Settings from the text of a Java `.properties` file: `key=value` (or `key: value`,
    /// `key value`) lines, `#` and `!` comments, `\` line continuations and escapes.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first key that is unknown or whose value is ill-typed, or
    /// a combination that cannot work (SASL without credentials, a TLS key without its
    /// certificate).
    pub fn from_properties(text: &str) -> Result<Self> {
        Self::from_pairs(parse_properties(text))
    }

    /// Settings from `(key, value)` pairs with Java's property names.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let mut config = Self::default();
        for (key, value) in pairs {
            config.set(key.as_ref(), value.as_ref())?;
        }
        config.finish()?;
        Ok(config)
    }

    /// Sets one property by its Java name. Security keys (`security.protocol`,
    /// `sasl.*`, `ssl.*`) take effect in [`Config::finish`], which [`Config::from_pairs`]
    /// calls.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let value = value.trim();
        let c = &mut self.client;
        let p = &mut self.producer;
        let k = &mut self.consumer;
        let g = &mut self.group;
        let s = &mut self.security;
        match key.trim() {
            "bootstrap.servers" => {
                c.bootstrap = value
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned)
                    .collect();
                if c.bootstrap.is_empty() {
                    return Err(Error::config(key, "no host:port given"));
                }
            }
            "client.id" => c.net.client_id = value.to_owned(),
            "request.timeout.ms" => c.net.request_timeout = parse_ms(key, value)?,
            "socket.connection.setup.timeout.ms" => c.net.connect_timeout = parse_ms(key, value)?,
            "metadata.max.age.ms" => c.net.metadata_max_age = parse_ms(key, value)?,
            "allow.auto.create.topics" => c.allow_auto_topic_creation = parse_bool(key, value)?,
            "message.max.bytes" | "receive.message.max.bytes" | "fetch.max.response.size" => {
                c.net.max_response_size = parse_usize(key, value)?
            }
            "retry.backoff.ms" => {
                p.retry_backoff = parse_ms(key, value)?;
                k.retry_backoff = p.retry_backoff;
                c.net.retry.initial_backoff = p.retry_backoff;
            }
            "retry.backoff.max.ms" => {
                p.retry_backoff_max = parse_ms(key, value)?;
                c.net.retry.max_backoff = p.retry_backoff_max;
            }
            "acks" => {
                p.acks = match value {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => {
                        return Err(Error::config(
                            key,
                            format!("{value:?} is not 0, 1, all or -1"),
                        ))
                    }
                }
            }
            "linger.ms" => p.linger = parse_ms(key, value)?,
            "batch.size" => p.batch_size = parse_usize(key, value)?,
            "compression.type" => p.compression = parse_compression(key, value)?,
            "compression.gzip.level" | "compression.lz4.level" | "compression.zstd.level" => {
                let codec = parse_compression(key, key.split('.').nth(1).unwrap_or_default())?;
                let level: i32 = value.parse().map_err(|_| {
                    Error::config(key, format!("{value:?} is not an integer level"))
                })?;
                let Some(range) = kafkaex_protocol::records::compression::level_range(codec) else {
                    return Err(Error::config(key, "the codec has no levels"));
                };
                if !range.contains(&level) {
                    return Err(Error::config(
                        key,
                        format!("{level} is outside {}..={}", range.start(), range.end()),
                    ));
                }
                self.levels.retain(|(c, _)| *c != codec);
                self.levels.push((codec, level));
            }
            "enable.idempotence" => p.idempotence = parse_bool(key, value)?,
            "buffer.memory" => p.buffer_memory = parse_usize(key, value)?,
            "delivery.timeout.ms" => p.delivery_timeout = parse_ms(key, value)?,
            "max.request.size" => p.max_request_size = parse_usize(key, value)?,
            "max.in.flight.requests.per.connection" => p.max_in_flight = parse_usize(key, value)?,
            "retries" => {
                // Retries are bounded by the delivery timeout, as in Java; 0 turns them off.
                let retries = parse_usize(key, value)?;
                if retries == 0 {
                    c.net.retry = kafkaex_net::RetryPolicy::no_retries();
                }
            }
            "fetch.min.bytes" => {
                k.fetch_min_bytes = i32::try_from(parse_usize(key, value)?)
                    .map_err(|_| Error::config(key, "must fit in 32 bits"))?
            }
            "fetch.max.bytes" => k.fetch_max_bytes = parse_usize(key, value)?,
            "max.partition.fetch.bytes" => k.max_partition_fetch_bytes = parse_usize(key, value)?,
            "fetch.max.wait.ms" => k.fetch_max_wait = parse_ms(key, value)?,
            "fetch.buffer.bytes" | "queued.max.messages.kbytes" => {
                let n = parse_usize(key, value)?;
                k.max_buffer_bytes = if key.trim() == "queued.max.messages.kbytes" {
                    n.saturating_mul(1024)
                } else {
                    n
                };
            }
            "check.crcs" => k.check_crcs = parse_bool(key, value)?,
            "group.id" => g.group_id = value.to_owned(),
            "group.instance.id" => g.group_instance_id = Some(value.to_owned()),
            "session.timeout.ms" => g.session_timeout = parse_ms(key, value)?,
            "heartbeat.interval.ms" => g.heartbeat_interval = parse_ms(key, value)?,
            "max.poll.interval.ms" => g.rebalance_timeout = parse_ms(key, value)?,
            "enable.auto.commit" => {
                let on = parse_bool(key, value)?;
                g.auto_commit_interval = match (on, g.auto_commit_interval) {
                    (false, _) => None,
                    (true, Some(every)) => Some(every),
                    (true, None) => Some(self.auto_commit_every.unwrap_or(Duration::from_secs(5))),
                };
                self.auto_commit_off = !on;
            }
            "auto.commit.interval.ms" => {
                let every = parse_ms(key, value)?;
                if !self.auto_commit_off {
                    g.auto_commit_interval = Some(every);
                }
                self.auto_commit_every = Some(every);
            }
            "partition.assignment.strategy" => {
                let mut list = Vec::new();
                for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    match crate::group::assignor::assignor_by_name(name) {
                        Some(a) => list.push(a),
                        None => {
                            return Err(Error::config(
                                key,
                                format!(
                                    "`{name}`: range, roundrobin, sticky or cooperative-sticky"
                                ),
                            ))
                        }
                    }
                }
                if list.is_empty() {
                    return Err(Error::config(key, "no assignor"));
                }
                g.assignors = list;
            }
            "auto.offset.reset" => {
                use crate::consumer::OffsetReset;
                k.auto_offset_reset = match value {
                    "earliest" | "smallest" | "beginning" => OffsetReset::Earliest,
                    "latest" | "largest" | "end" => OffsetReset::Latest,
                    "none" | "error" => OffsetReset::None,
                    _ => {
                        return Err(Error::config(
                            key,
                            format!("`{value}`: earliest, latest or none"),
                        ))
                    }
                }
            }
            "isolation.level" => {
                use crate::offsets::IsolationLevel;
                k.isolation_level = match value {
                    "read_uncommitted" => IsolationLevel::ReadUncommitted,
                    "read_committed" => IsolationLevel::ReadCommitted,
                    _ => {
                        return Err(Error::config(
                            key,
                            format!("`{value}`: read_uncommitted or read_committed"),
                        ))
                    }
                }
            }
            "security.protocol" => s.protocol = Some(value.to_ascii_uppercase()),
            "sasl.mechanism" | "sasl.mechanisms" => s.mechanism = Some(value.to_ascii_uppercase()),
            "sasl.username" => s.username = Some(value.to_owned()),
            "sasl.password" => s.password = Some(value.to_owned()),
            "sasl.jaas.config" => s.jaas = Some(value.to_owned()),
            "ssl.ca.location" => s.ca_location = Some(value.to_owned()),
            "ssl.certificate.location" => s.certificate_location = Some(value.to_owned()),
            "ssl.key.location" => s.key_location = Some(value.to_owned()),
            "ssl.endpoint.identification.algorithm" => {
                s.endpoint_identification = Some(value.to_ascii_lowercase())
            }
            "ssl.truststore.location" | "ssl.keystore.location" => {
                return Err(Error::config(
                    key,
                    "Java key stores are not read; give PEM files with ssl.ca.location \
                     (and ssl.certificate.location / ssl.key.location)",
                ))
            }
            "transactional.id" => {
                return Err(Error::config(key, "transactions are not supported yet"))
            }
            other => return Err(Error::config(other, "unknown property")),
        }
        Ok(())
    }

    /// Applies the security keys and compression levels read so far.
    pub fn finish(&mut self) -> Result<()> {
        let codec = self.producer.compression;
        if let Some((_, level)) = self.levels.iter().find(|(c, _)| *c == codec) {
            self.producer.compression_level = Some(*level);
        }
        let s = std::mem::take(&mut self.security);
        let protocol = s.protocol.as_deref().unwrap_or("PLAINTEXT");
        let (tls, sasl) = match protocol {
            "PLAINTEXT" => (false, false),
            "SSL" => (true, false),
            "SASL_PLAINTEXT" => (false, true),
            "SASL_SSL" => (true, true),
            other => {
                return Err(Error::config(
                    "security.protocol",
                    format!("{other:?} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
                ))
            }
        };
        if tls {
            let mut config = TlsConfig::new();
            if let Some(ca) = &s.ca_location {
                config = config.with_ca_pem_file(ca);
            }
            match (&s.certificate_location, &s.key_location) {
                (Some(cert), Some(key)) => {
                    config = config.with_client_identity_pem_files(cert, key);
                }
                (None, None) => {}
                (Some(_), None) => {
                    return Err(Error::config(
                        "ssl.key.location",
                        "ssl.certificate.location needs it",
                    ))
                }
                (None, Some(_)) => {
                    return Err(Error::config(
                        "ssl.certificate.location",
                        "ssl.key.location needs it",
                    ))
                }
            }
            if s.endpoint_identification.as_deref() == Some("") {
                return Err(Error::config(
                    "ssl.endpoint.identification.algorithm",
                    "turning host name verification off is not supported",
                ));
            }
            self.client.net.tls = Some(config);
        } else if s.ca_location.is_some() || s.certificate_location.is_some() {
            return Err(Error::config(
                "security.protocol",
                format!("ssl.* settings given but the protocol is {protocol}"),
            ));
        }
        if sasl {
            let (username, password) = match (&s.username, &s.password, &s.jaas) {
                (Some(u), Some(p), _) => (u.clone(), p.clone()),
                (_, _, Some(jaas)) => parse_jaas(jaas)?,
                _ => {
                    return Err(Error::config(
                        "sasl.username",
                        "SASL needs sasl.username and sasl.password, or sasl.jaas.config",
                    ))
                }
            };
            let mechanism = s.mechanism.as_deref().unwrap_or("GSSAPI");
            self.client.net.sasl = Some(match mechanism {
                "PLAIN" => SaslConfig::plain(username, password),
                "SCRAM-SHA-256" => SaslConfig::scram_sha256(username, password),
                "SCRAM-SHA-512" => SaslConfig::scram_sha512(username, password),
                other => {
                    return Err(Error::config(
                        "sasl.mechanism",
                        format!("{other:?} is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
                    ))
                }
            });
        } else if s.mechanism.is_some() || s.username.is_some() || s.jaas.is_some() {
            return Err(Error::config(
                "security.protocol",
                format!("sasl.* settings given but the protocol is {protocol}"),
            ));
        }
        Ok(())
    }
}

/// `username` and `password` from a JAAS line such as
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`.
fn parse_jaas(jaas: &str) -> Result<(String, String)> {
    let value = |name: &str| -> Option<String> {
        let start = jaas.find(&format!("{name}="))? + name.len() + 1;
        let rest = &jaas[start..];
        match rest.strip_prefix('"') {
            Some(quoted) => quoted.find('"').map(|end| quoted[..end].to_owned()),
            None => Some(
                rest.split(|c: char| c.is_whitespace() || c == ';')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        }
    };
    match (value("username"), value("password")) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err(Error::config(
            "sasl.jaas.config",
            "no username=\"...\" password=\"...\" in it",
        )),
    }
}

/// The `(key, value)` pairs of a Java `.properties` text.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        // Leading blanks go, on first lines and continuation lines alike.
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        // An odd number of trailing backslashes continues the line.
        let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        out.push(split_property(&logical));
        logical.clear();
    }
    if !logical.is_empty() {
        out.push(split_property(&logical));
    }
    out
}

fn split_property(line: &str) -> (String, String) {
    let mut key = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    key.push(unescape(next));
                }
            }
            '=' | ':' => break,
            c if c.is_whitespace() => {
                // `key value`, or `key = value`: skip to the value.
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if chars.peek().is_some_and(|c| *c == '=' || *c == ':') {
                    chars.next();
                }
                break;
            }
            c => key.push(c),
        }
    }
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                value.push(unescape(next));
            }
        } else {
            value.push(c);
        }
    }
    (key, value)
}

fn unescape(c: char) -> char {
    match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'f' => '\u{c}',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_text_forms() {
        let pairs = parse_properties(
            "# comment\n! also\n  a=1\nb : 2\nc 3\nd = multi \\\n    line\ne=x\\=y\n\nf=\n",
        );
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into()),
                ("d".into(), "multi line".into()),
                ("e".into(), "x=y".into()),
                ("f".into(), String::new()),
            ]
        );
    }

    #[test]
    fn an_ops_config_ports_as_is() {
        let config = Config::from_properties(
            "bootstrap.servers=a:9092, b:9093\n\
             client.id=billing\n\
             acks=1\n\
             linger.ms=20\n\
             batch.size=65536\n\
             compression.type=zstd\n\
             enable.idempotence=false\n\
             buffer.memory=1048576\n\
             delivery.timeout.ms=30000\n\
             request.timeout.ms=5000\n\
             max.in.flight.requests.per.connection=1\n\
             security.protocol=SASL_SSL\n\
             sasl.mechanism=SCRAM-SHA-512\n\
             sasl.username=alice\n\
             sasl.password=secret\n\
             ssl.ca.location=/etc/kafka/ca.pem\n",
        )
        .unwrap();
        assert_eq!(config.client.bootstrap, ["a:9092", "b:9093"]);
        assert_eq!(config.client.net.client_id, "billing");
        assert_eq!(config.producer.acks, Acks::Leader);
        assert_eq!(config.producer.linger, Duration::from_millis(20));
        assert_eq!(config.producer.batch_size, 65536);
        assert_eq!(config.producer.compression, Compression::Zstd);
        assert!(!config.producer.idempotence);
        assert_eq!(config.producer.buffer_memory, 1 << 20);
        assert_eq!(config.producer.delivery_timeout, Duration::from_secs(30));
        assert_eq!(config.client.net.request_timeout, Duration::from_secs(5));
        assert_eq!(config.producer.max_in_flight, 1);
        assert!(config.client.net.tls.is_some());
        let sasl = format!("{:?}", config.client.net.sasl);
        assert!(sasl.contains("alice") && !sasl.contains("secret"), "{sasl}");
    }

    #[test]
    fn jaas_credentials_are_read() {
        let config = Config::from_pairs([
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="p w";"#,
            ),
        ])
        .unwrap();
        assert!(format!("{:?}", config.client.net.sasl).contains("bob"));
        assert!(config.client.net.tls.is_none());
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            ("linger.ms=soon", "linger.ms"),
            ("acks=2", "acks"),
            ("enable.idempotence=yes", "enable.idempotence"),
            ("compression.type=brotli", "compression.type"),
            ("key.serializer=org.apache.kafka.common.serialization.StringSerializer", "key.serializer"),
            ("security.protocol=SASL_SSL", "sasl.username"),
            ("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=GSSAPI\nsasl.username=a\nsasl.password=b", "sasl.mechanism"),
            ("sasl.mechanism=PLAIN", "security.protocol"),
            ("security.protocol=SSL\nssl.truststore.location=/x.jks", "ssl.truststore.location"),
            ("bootstrap.servers= , ", "bootstrap.servers"),
            ("compression.gzip.level=10", "compression.gzip.level"),
            ("compression.zstd.level=fast", "compression.zstd.level"),
            ("compression.lz4.level=18", "compression.lz4.level"),
        ] {
            let err = Config::from_properties(text).unwrap_err();
            match &err {
                Error::Config { key: k, .. } => assert_eq!(k, key, "{text}: {err}"),
                other => panic!("{text}: {other:?}"),
            }
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn the_level_of_the_chosen_codec_applies() {
        let config = Config::from_properties(
            "compression.gzip.level=9\ncompression.type=zstd\ncompression.zstd.level=-3\n",
        )
        .unwrap();
        assert_eq!(config.producer.compression, Compression::Zstd);
        assert_eq!(config.producer.compression_level, Some(-3));
        let config =
            Config::from_properties("compression.type=snappy\ncompression.gzip.level=1\n").unwrap();
        assert_eq!(
            config.producer.compression_level, None,
            "gzip's level is not snappy's"
        );
    }

    #[test]
    fn consumer_keys_are_read() {
        use crate::consumer::OffsetReset;
        use crate::offsets::IsolationLevel;
        let c = Config::from_properties(
            "bootstrap.servers=a:9092\n\
             fetch.min.bytes=1024\n\
             fetch.max.bytes=1048576\n\
             max.partition.fetch.bytes=65536\n\
             fetch.max.wait.ms=250\n\
             auto.offset.reset=earliest\n\
             isolation.level=read_committed\n\
             check.crcs=false\n\
             fetch.buffer.bytes=8388608\n",
        )
        .unwrap();
        let k = &c.consumer;
        assert_eq!(k.fetch_min_bytes, 1024);
        assert_eq!(k.fetch_max_bytes, 1 << 20);
        assert_eq!(k.max_partition_fetch_bytes, 65536);
        assert_eq!(k.fetch_max_wait, Duration::from_millis(250));
        assert_eq!(k.auto_offset_reset, OffsetReset::Earliest);
        assert_eq!(k.isolation_level, IsolationLevel::ReadCommitted);
        assert!(!k.check_crcs);
        assert_eq!(k.max_buffer_bytes, 8 << 20);
        let err = Config::from_pairs([("auto.offset.reset", "sometimes")]).unwrap_err();
        assert!(err.to_string().contains("auto.offset.reset"), "{err}");
    }

    #[test]
    fn group_keys_are_read() {
        let c = Config::from_properties(
            "group.id=billing\n\
             group.instance.id=pod-7\n\
             session.timeout.ms=30000\n\
             heartbeat.interval.ms=1000\n\
             max.poll.interval.ms=60000\n\
             auto.commit.interval.ms=2000\n\
             partition.assignment.strategy=org.apache.kafka.clients.consumer.CooperativeStickyAssignor\n",
        )
        .unwrap();
        let g = &c.group;
        assert_eq!(g.group_id, "billing");
        assert_eq!(g.group_instance_id.as_deref(), Some("pod-7"));
        assert_eq!(g.session_timeout, Duration::from_secs(30));
        assert_eq!(g.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(g.rebalance_timeout, Duration::from_secs(60));
        assert_eq!(g.auto_commit_interval, Some(Duration::from_secs(2)));
        let names: Vec<&str> = g.assignors.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["cooperative-sticky"]);
        // Off stays off whatever the order of the keys.
        for text in [
            "enable.auto.commit=false\nauto.commit.interval.ms=100\n",
            "auto.commit.interval.ms=100\nenable.auto.commit=false\n",
        ] {
            assert_eq!(
                Config::from_properties(text)
                    .unwrap()
                    .group
                    .auto_commit_interval,
                None
            );
        }
        let on = Config::from_properties("auto.commit.interval.ms=100\nenable.auto.commit=true\n")
            .unwrap();
        assert_eq!(
            on.group.auto_commit_interval,
            Some(Duration::from_millis(100))
        );
        assert!(Config::from_pairs([("partition.assignment.strategy", "bogus")]).is_err());
    }
}
