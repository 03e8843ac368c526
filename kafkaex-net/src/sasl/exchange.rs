//! Running a [`SaslSession`] over Kafka's `SaslHandshake` and `SaslAuthenticate` requests.
//!
//! This module encodes request bodies and decodes response bodies but leaves framing, request
//! headers and correlation ids to the caller's connection, through a closure: it works with any
//! connection that can send one raw request body and return the response body.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use kafkaex_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafkaex_protocol::{ApiKey, ErrorCode, Message, VersionRange};

use super::{SaslConfig, SaslError, SaslSession, SaslStep};

/// The `SaslHandshake` and `SaslAuthenticate` versions to use with one broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaslVersions {
    /// The `SaslHandshake` version; at least 1.
    pub handshake: i16,
    /// The `SaslAuthenticate` version.
    pub authenticate: i16,
}

impl SaslVersions {
    /// The highest versions both this client and the broker support, from the broker's
    /// `ApiVersions` ranges (`None` when the broker does not list the API).
    ///
    /// `SaslHandshake` v0 is refused: after it the broker expects raw, unframed SASL tokens
    /// instead of `SaslAuthenticate` requests (Kafka before 1.0, KIP-152), which this client does
    /// not speak.
    pub fn negotiate(
        handshake: Option<VersionRange>,
        authenticate: Option<VersionRange>,
    ) -> Result<Self, SaslError> {
        let pick = |api: ApiKey, ours: VersionRange, theirs: Option<VersionRange>| {
            let theirs = theirs.ok_or(SaslError::UnsupportedVersions { api })?;
            let version = ours.max.min(theirs.max);
            if version < ours.min || version < theirs.min {
                return Err(SaslError::UnsupportedVersions { api });
            }
            Ok(version)
        };
        Ok(Self {
            handshake: pick(
                ApiKey::SaslHandshake,
                VersionRange {
                    min: 1,
                    max: SaslHandshakeRequest::VERSIONS.max,
                },
                handshake,
            )?,
            authenticate: pick(
                ApiKey::SaslAuthenticate,
                SaslAuthenticateRequest::VERSIONS,
                authenticate,
            )?,
        })
    }
}

/// One request body for the connection to send: frame it with the request header for
/// `api_key` at `version`, send it, and return the body of the response (after its header).
#[derive(Clone)]
pub struct SaslRequest {
    /// `ApiKey::SaslHandshake` or `ApiKey::SaslAuthenticate`.
    pub api_key: ApiKey,
    /// The version `body` is encoded at.
    pub version: i16,
    /// The encoded request body.
    pub body: Bytes,
}

// The body may hold a password (PLAIN), so Debug shows only its length.
impl fmt::Debug for SaslRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslRequest")
            .field("api_key", &self.api_key)
            .field("version", &self.version)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// A successful authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authenticated {
    /// The mechanism used.
    pub mechanism: &'static str,
    /// How long the broker keeps the session before the client must authenticate again on the
    /// same connection (KIP-368, `connections.max.reauth.ms`); `None` when it does not expire.
    pub session_lifetime: Option<Duration>,
}

/// Authenticates a fresh connection with `config`: `SaslHandshake` to select the mechanism,
/// then one `SaslAuthenticate` round trip per mechanism step.
///
/// `send` sends one request body and returns the response body; its errors are returned as
/// [`SaslError::Transport`]. Any error leaves the connection in an unknown state: close it.
///
/// ```no_run
/// # async fn example(send_raw: impl Fn(kafkaex_protocol::ApiKey, i16, bytes::Bytes)
/// #     -> std::future::Ready<Result<bytes::Bytes, std::io::Error>>) -> Result<(), kafkaex_net::sasl::SaslError> {
/// use kafkaex_net::sasl::{authenticate, SaslConfig, SaslVersions};
///
/// let config = SaslConfig::scram_sha512("alice", "secret");
/// // From the broker's ApiVersions response.
/// let versions = SaslVersions { handshake: 1, authenticate: 2 };
/// let done = authenticate(&config, versions, |request| {
///     send_raw(request.api_key, request.version, request.body)
/// })
/// .await?;
/// println!("authenticated with {}", done.mechanism);
/// # Ok(()) }
/// ```
pub async fn authenticate<F, Fut, E>(
    config: &SaslConfig,
    versions: SaslVersions,
    mut send: F,
) -> Result<Authenticated, SaslError>
where
    F: FnMut(SaslRequest) -> Fut,
    Fut: Future<Output = Result<Bytes, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mechanism = config.mechanism_name();
    if versions.handshake < 1 {
        return Err(SaslError::UnsupportedVersions {
            api: ApiKey::SaslHandshake,
        });
    }

    let handshake = SaslHandshakeRequest::default().with_mechanism(mechanism.to_owned());
    let response: SaslHandshakeResponse = round_trip(
        &mut send,
        ApiKey::SaslHandshake,
        versions.handshake,
        &handshake,
    )
    .await?;
    match response.error_code {
        ErrorCode::None => {}
        ErrorCode::UnsupportedSaslMechanism => {
            return Err(SaslError::UnsupportedMechanism {
                mechanism,
                enabled: response.mechanisms,
            })
        }
        code => {
            return Err(SaslError::Rejected {
                api: ApiKey::SaslHandshake,
                code,
                message: None,
            })
        }
    }

    let mut session = config.start()?;
    let mut challenge: Option<Bytes> = None;
    let mut session_lifetime_ms = 0;
    loop {
        let (back, step) = step_off_runtime(session, challenge.take()).await?;
        session = back;
        let auth_bytes = match step {
            SaslStep::Send(bytes) => Bytes::from(bytes),
            SaslStep::Done => {
                return Ok(Authenticated {
                    mechanism,
                    session_lifetime: u64::try_from(session_lifetime_ms)
                        .ok()
                        .filter(|&ms| ms > 0)
                        .map(Duration::from_millis),
                })
            }
        };
        let request = SaslAuthenticateRequest::default().with_auth_bytes(auth_bytes);
        let response: SaslAuthenticateResponse = round_trip(
            &mut send,
            ApiKey::SaslAuthenticate,
            versions.authenticate,
            &request,
        )
        .await?;
        if !response.error_code.is_ok() {
            return Err(SaslError::Rejected {
                api: ApiKey::SaslAuthenticate,
                code: response.error_code,
                message: response.error_message,
            });
        }
        session_lifetime_ms = response.session_lifetime_ms;
        challenge = Some(response.auth_bytes);
    }
}

/// Runs one step of the mechanism on tokio's blocking pool: a SCRAM step derives the salted
/// password with PBKDF2, which at the iteration counts a broker may ask for takes up to a
/// second of CPU, and must neither stall the runtime's other tasks nor outlast a connect
/// timeout (an abandoned step finishes on its thread and is dropped).
async fn step_off_runtime(
    mut session: Box<dyn SaslSession>,
    challenge: Option<Bytes>,
) -> Result<(Box<dyn SaslSession>, SaslStep), SaslError> {
    let mechanism = session.mechanism_name();
    let (session, step) = tokio::task::spawn_blocking(move || {
        let step = session.step(challenge.as_deref());
        (session, step)
    })
    .await
    .map_err(|_| SaslError::StepAborted { mechanism })?;
    Ok((session, step?))
}

async fn round_trip<F, Fut, E, Req, Resp>(
    send: &mut F,
    api_key: ApiKey,
    version: i16,
    request: &Req,
) -> Result<Resp, SaslError>
where
    F: FnMut(SaslRequest) -> Fut,
    Fut: Future<Output = Result<Bytes, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
    Req: Message,
    Resp: Message,
{
    let body = request
        .to_bytes(version)
        .map_err(SaslError::Encode)?
        .freeze();
    let response = send(SaslRequest {
        api_key,
        version,
        body,
    })
    .await
    .map_err(|e| SaslError::Transport(e.into()))?;
    Resp::from_bytes(response, version).map_err(SaslError::Decode)
}
