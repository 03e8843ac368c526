//! SASL authentication mechanisms: PLAIN and SCRAM-SHA-256/512, as Kafka implements them.
//!
//! The mechanisms here are pure state machines that never touch the network: a
//! [`SaslSession`] turns the broker's last response into the next message to send.
//! [`authenticate`] runs one over Kafka's `SaslHandshake` (mechanism selection) and
//! `SaslAuthenticate` (one request per [`SaslStep::Send`]) requests, through any connection that
//! can send a request body and return the response body.
//!
//! ```
//! use kafkaex_net::sasl::{SaslConfig, SaslStep};
//!
//! let config = SaslConfig::plain("alice", "secret");
//! let mut session = config.start()?;
//! assert_eq!(session.mechanism_name(), "PLAIN");
//! // The first step has no challenge: the client speaks first.
//! let SaslStep::Send(first) = session.step(None)? else { unreachable!() };
//! assert_eq!(first, b"\0alice\0secret");
//! // The broker answers PLAIN with an empty SaslAuthenticate response.
//! assert_eq!(session.step(Some(b""))?, SaslStep::Done);
//! # Ok::<(), kafkaex_net::sasl::SaslError>(())
//! ```

use std::fmt;

mod exchange;
mod plain;
mod scram;

/// The largest SCRAM iteration count this client accepts from a broker (more is refused as
/// a way to make the client burn CPU).
pub use scram::MAX_ITERATIONS as SCRAM_MAX_ITERATIONS;

pub use exchange::{authenticate, Authenticated, SaslRequest, SaslVersions};
pub use plain::PlainSession;
pub use scram::{ScramMechanism, ScramSession, MAX_ITERATIONS, MIN_ITERATIONS};

/// A secret (password or token) that never shows itself in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the mechanism that has to send or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Password {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl From<&str> for Password {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which SASL mechanism to authenticate with, and the credentials for it (Kafka's
/// `sasl.mechanism` plus `sasl.jaas.config`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslConfig {
    /// `PLAIN` (RFC 4616): the password is sent as is, so use it only over TLS.
    Plain {
        /// The user name.
        username: String,
        /// The password.
        password: Password,
    },
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677): a salted challenge-response; the password never
    /// crosses the wire and the broker proves it knows the credential too.
    ScramSha256 {
        /// The user name.
        username: String,
        /// The password.
        password: Password,
    },
    /// `SCRAM-SHA-512`: as [`SaslConfig::ScramSha256`] with SHA-512.
    ScramSha512 {
        /// The user name.
        username: String,
        /// The password.
        password: Password,
    },
}

// Written out rather than derived so that no future field can leak a secret by accident: only
// the mechanism and the user name are ever shown.
impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Plain { .. } => "Plain",
            Self::ScramSha256 { .. } => "ScramSha256",
            Self::ScramSha512 { .. } => "ScramSha512",
        };
        f.debug_struct(name)
            .field("username", &self.username())
            .field("password", &format_args!("***"))
            .finish()
    }
}

impl SaslConfig {
    /// `PLAIN` with these credentials.
    pub fn plain(username: impl Into<String>, password: impl Into<Password>) -> Self {
        Self::Plain {
            username: username.into(),
            password: password.into(),
        }
    }

    /// `SCRAM-SHA-256` with these credentials.
    pub fn scram_sha256(username: impl Into<String>, password: impl Into<Password>) -> Self {
        Self::ScramSha256 {
            username: username.into(),
            password: password.into(),
        }
    }

    /// `SCRAM-SHA-512` with these credentials.
    pub fn scram_sha512(username: impl Into<String>, password: impl Into<Password>) -> Self {
        Self::ScramSha512 {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The mechanism's name as Kafka's `SaslHandshake` request spells it, e.g. `SCRAM-SHA-256`.
    pub fn mechanism_name(&self) -> &'static str {
        match self {
            Self::Plain { .. } => plain::MECHANISM,
            Self::ScramSha256 { .. } => ScramMechanism::Sha256.name(),
            Self::ScramSha512 { .. } => ScramMechanism::Sha512.name(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        match self {
            Self::Plain { username, .. }
            | Self::ScramSha256 { username, .. }
            | Self::ScramSha512 { username, .. } => username,
        }
    }

    /// Starts one authentication exchange (one per connection; sessions are not reusable).
    pub fn start(&self) -> Result<Box<dyn SaslSession>, SaslError> {
        Ok(match self {
            Self::Plain { username, password } => {
                Box::new(PlainSession::new(username, password.clone()))
            }
            Self::ScramSha256 { username, password } => Box::new(ScramSession::new(
                ScramMechanism::Sha256,
                username,
                password.clone(),
            )?),
            Self::ScramSha512 { username, password } => Box::new(ScramSession::new(
                ScramMechanism::Sha512,
                username,
                password.clone(),
            )?),
        })
    }
}

/// What the client does next in a SASL exchange.
#[derive(Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send these bytes as the `auth_bytes` of a `SaslAuthenticate` request, then pass the
    /// response's `auth_bytes` to the next [`SaslSession::step`].
    Send(Vec<u8>),
    /// The exchange is complete and the broker has been verified as far as the mechanism can:
    /// the connection is authenticated.
    Done,
}

// The bytes may hold a password (PLAIN), so Debug shows only their length.
impl fmt::Debug for SaslStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Send(bytes) => write!(f, "Send(<{} bytes>)", bytes.len()),
            Self::Done => f.write_str("Done"),
        }
    }
}

/// One client-side SASL exchange, driven by the connection layer.
///
/// The driver calls `step(None)` first (Kafka's SASL mechanisms all start with the client),
/// sends every [`SaslStep::Send`] in a `SaslAuthenticate` request and passes each response's
/// `auth_bytes` to the next `step(Some(..))`, until [`SaslStep::Done`]. Any error ends the
/// exchange; the connection must then be closed.
pub trait SaslSession: Send + fmt::Debug {
    /// The mechanism's name as `SaslHandshake` spells it.
    fn mechanism_name(&self) -> &'static str;

    /// Advances the exchange with the broker's last response (`None` for the first step).
    fn step(&mut self, challenge: Option<&[u8]>) -> Result<SaslStep, SaslError>;
}

/// Errors from SASL mechanisms.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The session was stepped in an order its mechanism does not allow.
    #[error("{mechanism} exchange driven out of order: expected {expected}")]
    OutOfOrder {
        /// The mechanism.
        mechanism: &'static str,
        /// What the session expected instead.
        expected: &'static str,
    },
    /// The credentials cannot be expressed in this mechanism.
    #[error("{mechanism} cannot carry these credentials: {reason}")]
    InvalidCredentials {
        /// The mechanism.
        mechanism: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A message from the broker does not follow the mechanism's grammar.
    #[error("malformed {mechanism} message from the broker: {reason}")]
    MalformedServerMessage {
        /// The mechanism.
        mechanism: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The broker's nonce does not extend the client's: a replayed or foreign exchange.
    #[error("{mechanism} server nonce does not start with the client nonce")]
    NonceMismatch {
        /// The mechanism.
        mechanism: &'static str,
    },
    /// The broker asked for an iteration count outside the accepted range: too few weakens the
    /// salted password, too many lets a hostile broker burn the client's CPU.
    #[error("{mechanism} iteration count {iterations} outside the accepted {min}..={max}")]
    IterationCount {
        /// The mechanism.
        mechanism: &'static str,
        /// The count the broker asked for.
        iterations: u32,
        /// The lowest accepted count.
        min: u32,
        /// The highest accepted count.
        max: u32,
    },
    /// The broker ended the exchange with an error (SCRAM's `e=` attribute).
    #[error("the broker rejected the {mechanism} exchange: {message}")]
    ServerError {
        /// The mechanism.
        mechanism: &'static str,
        /// The broker's error value, e.g. `invalid-proof`.
        message: String,
    },
    /// The broker's final signature is wrong: it does not know the credential, so it is not the
    /// broker it claims to be (or the exchange was tampered with).
    #[error("{mechanism} server signature does not verify")]
    ServerSignatureMismatch {
        /// The mechanism.
        mechanism: &'static str,
    },
    /// The operating system's random number generator failed while making a nonce.
    #[error("could not generate a SASL nonce")]
    Random(#[source] getrandom::Error),
    /// The broker does not enable the configured mechanism (`UNSUPPORTED_SASL_MECHANISM`).
    #[error("the broker does not enable SASL mechanism {mechanism} (enabled: {enabled:?})")]
    UnsupportedMechanism {
        /// The configured mechanism.
        mechanism: &'static str,
        /// The mechanisms the broker listed.
        enabled: Vec<String>,
    },
    /// The broker answered a SASL request with an error code; for `SaslAuthenticate` usually
    /// [`ErrorCode::SaslAuthenticationFailed`](kafkaex_protocol::ErrorCode::SaslAuthenticationFailed):
    /// wrong credentials, unknown user. Displayed with the code's name, e.g. "the broker
    /// rejected SaslAuthenticate with SASL_AUTHENTICATION_FAILED (58): Authentication failed:
    /// Invalid username or password"; match on `code`, not on the text.
    #[error("the broker rejected {api} with {} ({}){}", code.name(), code.code(), describe(.message))]
    Rejected {
        /// `SaslHandshake` or `SaslAuthenticate`.
        api: kafkaex_protocol::ApiKey,
        /// The Kafka error code.
        code: kafkaex_protocol::ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// The broker supports no version of a SASL API this client can use.
    #[error("the broker supports no usable {api} version")]
    UnsupportedVersions {
        /// `SaslHandshake` or `SaslAuthenticate`.
        api: kafkaex_protocol::ApiKey,
    },
    /// A SASL request could not be encoded.
    #[error("could not encode a SASL request")]
    Encode(#[source] kafkaex_protocol::EncodeError),
    /// A SASL response could not be decoded.
    #[error("could not decode a SASL response")]
    Decode(#[source] kafkaex_protocol::DecodeError),
    /// A mechanism step, run off the async runtime, did not complete (its thread panicked).
    #[error("the {mechanism} step did not complete")]
    StepAborted {
        /// The mechanism.
        mechanism: &'static str,
    },
    /// The connection failed to send a SASL request or to receive its response.
    #[error("SASL request failed in transport")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn describe(message: &Option<String>) -> String {
    match message {
        Some(message) => format!(": {message}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_redacts_itself() {
        let password = Password::new("hunter2");
        assert_eq!(format!("{password:?}"), "***");
        assert_eq!(format!("{password}"), "***");
        assert_eq!(password.expose(), "hunter2");
    }

    #[test]
    fn config_debug_never_prints_passwords() {
        for config in [
            SaslConfig::plain("alice", "hunter2"),
            SaslConfig::scram_sha256("alice", "hunter2"),
            SaslConfig::scram_sha512("alice", "hunter2"),
        ] {
            let shown = format!("{config:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("alice") && shown.contains("***"), "{shown}");
            let pretty = format!("{config:#?}");
            assert!(!pretty.contains("hunter2"), "{pretty}");
        }
        assert_eq!(
            format!("{:?}", SaslConfig::scram_sha512("alice", "hunter2")),
            r#"ScramSha512 { username: "alice", password: *** }"#
        );
    }

    #[test]
    fn sessions_and_steps_never_print_passwords() {
        for config in [
            SaslConfig::plain("alice", "hunter2"),
            SaslConfig::scram_sha256("alice", "hunter2"),
        ] {
            let mut session = config.start().unwrap();
            let step = session.step(None).unwrap();
            for shown in [format!("{session:?}"), format!("{step:?}")] {
                assert!(!shown.contains("hunter2"), "{shown}");
            }
        }
    }

    #[test]
    fn mechanism_names_match_kafka() {
        assert_eq!(SaslConfig::plain("u", "p").mechanism_name(), "PLAIN");
        assert_eq!(
            SaslConfig::scram_sha256("u", "p").mechanism_name(),
            "SCRAM-SHA-256"
        );
        assert_eq!(
            SaslConfig::scram_sha512("u", "p").mechanism_name(),
            "SCRAM-SHA-512"
        );
        for config in [
            SaslConfig::plain("u", "p"),
            SaslConfig::scram_sha256("u", "p"),
            SaslConfig::scram_sha512("u", "p"),
        ] {
            assert_eq!(
                config.start().unwrap().mechanism_name(),
                config.mechanism_name()
            );
        }
    }
}
