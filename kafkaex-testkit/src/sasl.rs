//! The broker side of SASL/PLAIN: `SaslHandshake` and `SaslAuthenticate` answered like Kafka
//! does (KIP-43, KIP-152).
//!
//! [`PlainAuthenticator`] works on encoded request bodies and returns encoded response bodies,
//! so it serves both the fake cluster (over TCP) and tests that drive a client's SASL exchange
//! directly.

use bytes::Bytes;
use kafkaex_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafkaex_protocol::{ApiKey, DecodeError, EncodeError, ErrorCode, Message};

/// What a [`PlainAuthenticator`] saw: the API, the version and, for `SaslAuthenticate`, the
/// auth bytes.
pub type SaslSeen = (ApiKey, i16, Option<Bytes>);

/// A broker's SASL/PLAIN side with one user.
#[derive(Clone, Debug)]
pub struct PlainAuthenticator {
    /// The mechanisms the broker lists in its handshake response; PLAIN is accepted only if it
    /// is in the list.
    pub enabled: Vec<String>,
    /// The user name PLAIN accepts.
    pub username: String,
    /// The password PLAIN accepts.
    pub password: String,
    /// The session lifetime sent with a successful `SaslAuthenticate` (v1+), in ms; 0 for none.
    pub session_lifetime_ms: i64,
    /// Every request handled, in order.
    pub seen: Vec<SaslSeen>,
    /// Whether the last `SaslAuthenticate` succeeded.
    pub authenticated: bool,
}

/// A failure of the authenticator itself: the client sent something it cannot read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaslServerError {
    /// The request body did not decode.
    #[error("could not decode the SASL request")]
    Decode(#[from] DecodeError),
    /// The response did not encode.
    #[error("could not encode the SASL response")]
    Encode(#[from] EncodeError),
    /// Not a SASL API.
    #[error("{0} is not a SASL request")]
    NotSasl(ApiKey),
}

impl PlainAuthenticator {
    /// PLAIN and SCRAM-SHA-512 enabled, user `alice` with password `secret`.
    pub fn new() -> Self {
        Self::with_user("alice", "secret")
    }

    /// PLAIN and SCRAM-SHA-512 enabled, one user.
    pub fn with_user(username: &str, password: &str) -> Self {
        Self {
            enabled: vec!["PLAIN".to_owned(), "SCRAM-SHA-512".to_owned()],
            username: username.to_owned(),
            password: password.to_owned(),
            session_lifetime_ms: 0,
            seen: Vec::new(),
            authenticated: false,
        }
    }

    /// Answers one SASL request body (`api` at `version`) with the encoded response body.
    pub fn handle(
        &mut self,
        api: ApiKey,
        version: i16,
        body: Bytes,
    ) -> Result<Bytes, SaslServerError> {
        let response = match api {
            ApiKey::SaslHandshake => {
                let request = SaslHandshakeRequest::from_bytes(body, version)?;
                self.seen.push((api, version, None));
                let code = if self.enabled.contains(&request.mechanism) {
                    ErrorCode::None
                } else {
                    ErrorCode::UnsupportedSaslMechanism
                };
                SaslHandshakeResponse::default()
                    .with_error_code(code)
                    .with_mechanisms(self.enabled.clone())
                    .to_bytes(version)?
            }
            ApiKey::SaslAuthenticate => {
                let request = SaslAuthenticateRequest::from_bytes(body, version)?;
                self.seen
                    .push((api, version, Some(request.auth_bytes.clone())));
                let expected = format!("\0{}\0{}", self.username, self.password);
                self.authenticated = request.auth_bytes == expected.as_bytes();
                let response = if self.authenticated {
                    SaslAuthenticateResponse::default()
                        .with_session_lifetime_ms(self.session_lifetime_ms)
                } else {
                    SaslAuthenticateResponse::default()
                        .with_error_code(ErrorCode::SaslAuthenticationFailed)
                        .with_error_message(Some(
                            "Authentication failed: Invalid username or password".to_owned(),
                        ))
                };
                response.to_bytes(version)?
            }
            other => return Err(SaslServerError::NotSasl(other)),
        };
        Ok(response.freeze())
    }
}

impl Default for PlainAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}
