//! SASL `SCRAM-SHA-256` and `SCRAM-SHA-512` (RFC 5802, RFC 7677), as Kafka implements them
//! (KIP-84).
//!
//! Kafka's dialect: no channel binding (the GS2 header is always `n,,`), no authorization id, and
//! no SASLprep: user names and passwords are used as their UTF-8 bytes, exactly as the Java
//! client does, so credentials created with `kafka-configs.sh` match byte for byte.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::{Password, SaslError, SaslSession, SaslStep};

/// The lowest iteration count accepted from a broker: RFC 7677's minimum, and Kafka's.
pub const MIN_ITERATIONS: u32 = 4096;

/// The highest iteration count accepted from a broker. Kafka's own tools cap it at 16384; the
/// margin above that tolerates credentials written by other tools while bounding how much CPU a
/// hostile broker can make the client spend (about a second of SHA-512 PBKDF2).
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// `c=` in client-final: base64 of the GS2 header `n,,` (no channel binding, no authzid).
const CHANNEL_BINDING: &str = "biws";

/// Random bytes in the client nonce (printed as 32 base64 characters).
const NONCE_BYTES: usize = 24;

/// The hash function of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScramMechanism {
    /// `SCRAM-SHA-256`.
    Sha256,
    /// `SCRAM-SHA-512`.
    Sha512,
}

impl ScramMechanism {
    /// The mechanism's name as `SaslHandshake` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// `Hi(password, salt, i)`: PBKDF2 with this mechanism's HMAC, one hash-length block.
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut out = vec![0; Sha256::output_size()];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Self::Sha512 => {
                let mut out = vec![0; Sha512::output_size()];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }

    fn hmac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => keyed::<Hmac<Sha256>>(key, message)
                .finalize()
                .into_bytes()
                .to_vec(),
            Self::Sha512 => keyed::<Hmac<Sha512>>(key, message)
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    /// Whether `HMAC(key, message) == tag`, compared in constant time.
    fn verify_hmac(self, key: &[u8], message: &[u8], tag: &[u8]) -> bool {
        match self {
            Self::Sha256 => keyed::<Hmac<Sha256>>(key, message)
                .verify_slice(tag)
                .is_ok(),
            Self::Sha512 => keyed::<Hmac<Sha512>>(key, message)
                .verify_slice(tag)
                .is_ok(),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

fn keyed<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> M {
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac
}

/// A SCRAM exchange: client-first, then client-final with the proof, then verification of the
/// broker's signature.
pub struct ScramSession {
    mechanism: ScramMechanism,
    username: String,
    password: Password,
    client_nonce: String,
    state: State,
}

enum State {
    Initial,
    ClientFirstSent {
        client_first_bare: String,
    },
    ClientFinalSent {
        server_key: Vec<u8>,
        auth_message: String,
    },
    Finished,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            Self::Initial => "Initial",
            Self::ClientFirstSent { .. } => "ClientFirstSent",
            Self::ClientFinalSent { .. } => "ClientFinalSent",
            Self::Finished => "Finished",
        }
    }
}

impl fmt::Debug for ScramSession {
    // Keys derived from the password are as secret as the password: show neither.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramSession")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("state", &format_args!("{}", self.state.name()))
            .finish_non_exhaustive()
    }
}

impl ScramSession {
    /// Starts an exchange for these credentials with a fresh random client nonce.
    pub fn new(
        mechanism: ScramMechanism,
        username: impl Into<String>,
        password: impl Into<Password>,
    ) -> Result<Self, SaslError> {
        let mut random = [0u8; NONCE_BYTES];
        getrandom::fill(&mut random).map_err(SaslError::Random)?;
        // URL-safe base64 is printable and has no ',' so it needs no escaping in the message.
        let nonce = URL_SAFE_NO_PAD.encode(random);
        Ok(Self::with_client_nonce(
            mechanism, username, password, nonce,
        ))
    }

    /// With a fixed nonce, for the known-answer tests only: a predictable nonce lets an
    /// attacker replay an exchange.
    pub(crate) fn with_client_nonce(
        mechanism: ScramMechanism,
        username: impl Into<String>,
        password: impl Into<Password>,
        client_nonce: String,
    ) -> Self {
        Self {
            mechanism,
            username: username.into(),
            password: password.into(),
            client_nonce,
            state: State::Initial,
        }
    }

    fn malformed(&self, reason: impl Into<String>) -> SaslError {
        SaslError::MalformedServerMessage {
            mechanism: self.mechanism.name(),
            reason: reason.into(),
        }
    }

    fn client_first(&mut self) -> Vec<u8> {
        let client_first_bare = format!(
            "n={},r={}",
            escape_saslname(&self.username),
            self.client_nonce
        );
        let message = format!("n,,{client_first_bare}").into_bytes();
        self.state = State::ClientFirstSent { client_first_bare };
        message
    }

    fn client_final(
        &mut self,
        client_first_bare: &str,
        server_first: &[u8],
    ) -> Result<Vec<u8>, SaslError> {
        let mechanism = self.mechanism.name();
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| self.malformed("server-first-message is not UTF-8"))?;
        let mut attributes = server_first.split(',');

        let nonce = match attributes.next().and_then(|a| a.split_once('=')) {
            Some(("r", nonce)) => nonce,
            Some(("e", error)) => {
                return Err(SaslError::ServerError {
                    mechanism,
                    message: error.to_owned(),
                })
            }
            // RFC 5802: a client that does not understand a mandatory extension must fail.
            Some(("m", _)) => return Err(self.malformed("unsupported mandatory extension (m=)")),
            _ => return Err(self.malformed("server-first-message does not start with r=")),
        };
        if !nonce.starts_with(&self.client_nonce) {
            return Err(SaslError::NonceMismatch { mechanism });
        }

        let salt = match attributes.next().and_then(|a| a.strip_prefix("s=")) {
            Some(salt) => STANDARD
                .decode(salt)
                .map_err(|e| self.malformed(format!("salt is not base64: {e}")))?,
            None => return Err(self.malformed("server-first-message has no s= after r=")),
        };
        if salt.is_empty() {
            return Err(self.malformed("salt is empty"));
        }

        let iterations = match attributes.next().and_then(|a| a.strip_prefix("i=")) {
            Some(count) if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) => count
                .parse::<u32>()
                // All digits, so the only failure is overflow: certainly above the maximum.
                .unwrap_or(u32::MAX),
            Some(_) => return Err(self.malformed("iteration count is not a number")),
            None => return Err(self.malformed("server-first-message has no i= after s=")),
        };
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(SaslError::IterationCount {
                mechanism,
                iterations,
                min: MIN_ITERATIONS,
                max: MAX_ITERATIONS,
            });
        }
        // Any further attributes are optional extensions, which the client may ignore.

        let m = self.mechanism;
        let salted_password =
            m.salted_password(self.password.expose().as_bytes(), &salt, iterations);
        let client_key = m.hmac(&salted_password, b"Client Key");
        let stored_key = m.hash(&client_key);
        let server_key = m.hmac(&salted_password, b"Server Key");

        let without_proof = format!("c={CHANNEL_BINDING},r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let client_signature = m.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(key, signature)| key ^ signature)
            .collect();

        self.state = State::ClientFinalSent {
            server_key,
            auth_message,
        };
        Ok(format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes())
    }

    fn verify_server_final(
        &self,
        server_key: &[u8],
        auth_message: &str,
        server_final: &[u8],
    ) -> Result<(), SaslError> {
        let mechanism = self.mechanism.name();
        let server_final = std::str::from_utf8(server_final)
            .map_err(|_| self.malformed("server-final-message is not UTF-8"))?;
        let first = server_final.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(SaslError::ServerError {
                mechanism,
                message: error.to_owned(),
            });
        }
        let Some(signature) = first.strip_prefix("v=") else {
            return Err(self.malformed("server-final-message has neither v= nor e="));
        };
        let signature = STANDARD
            .decode(signature)
            .map_err(|e| self.malformed(format!("server signature is not base64: {e}")))?;
        if !self
            .mechanism
            .verify_hmac(server_key, auth_message.as_bytes(), &signature)
        {
            return Err(SaslError::ServerSignatureMismatch { mechanism });
        }
        Ok(())
    }
}

impl SaslSession for ScramSession {
    fn mechanism_name(&self) -> &'static str {
        self.mechanism.name()
    }

    fn step(&mut self, challenge: Option<&[u8]>) -> Result<SaslStep, SaslError> {
        let mechanism = self.mechanism.name();
        // Every path leaves the session Finished unless it sets a later state: after an error
        // the exchange cannot be resumed.
        let state = std::mem::replace(&mut self.state, State::Finished);
        match (state, challenge) {
            (State::Initial, None) => Ok(SaslStep::Send(self.client_first())),
            (State::ClientFirstSent { client_first_bare }, Some(server_first)) => self
                .client_final(&client_first_bare, server_first)
                .map(SaslStep::Send),
            (
                State::ClientFinalSent {
                    server_key,
                    auth_message,
                },
                Some(server_final),
            ) => self
                .verify_server_final(&server_key, &auth_message, server_final)
                .map(|()| SaslStep::Done),
            (State::Initial, Some(_)) => Err(SaslError::OutOfOrder {
                mechanism,
                expected: "no challenge before client-first (the client speaks first)",
            }),
            (State::ClientFirstSent { .. } | State::ClientFinalSent { .. }, None) => {
                Err(SaslError::OutOfOrder {
                    mechanism,
                    expected: "the broker's response to the last message",
                })
            }
            (State::Finished, _) => Err(SaslError::OutOfOrder {
                mechanism,
                expected: "no further steps (the exchange is over)",
            }),
        }
    }
}

/// RFC 5802's `saslname`: ',' and '=' would end or confuse the attribute, so they are escaped.
fn escape_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(step: SaslStep) -> String {
        match step {
            SaslStep::Send(bytes) => String::from_utf8(bytes).unwrap(),
            SaslStep::Done => panic!("expected a message, got Done"),
        }
    }

    const RFC7677_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    fn rfc7677_session() -> ScramSession {
        ScramSession::with_client_nonce(
            ScramMechanism::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".to_owned(),
        )
    }

    /// RFC 7677 section 3, byte for byte.
    #[test]
    fn rfc7677_sha256_known_answer() {
        let mut session = rfc7677_session();
        assert_eq!(
            send(session.step(None).unwrap()),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        assert_eq!(
            send(session.step(Some(RFC7677_SERVER_FIRST.as_bytes())).unwrap()),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            session
                .step(Some(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
                .unwrap(),
            SaslStep::Done
        );
        assert!(matches!(
            session.step(Some(b"")),
            Err(SaslError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn rfc7677_with_a_wrong_server_signature_fails() {
        let mut session = rfc7677_session();
        session.step(None).unwrap();
        session.step(Some(RFC7677_SERVER_FIRST.as_bytes())).unwrap();
        // The right signature with its first byte changed.
        let err = session
            .step(Some(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
            .unwrap_err();
        assert!(
            matches!(err, SaslError::ServerSignatureMismatch { .. }),
            "{err:?}"
        );
        // A truncated signature is a mismatch too, not a panic.
        let mut session = rfc7677_session();
        session.step(None).unwrap();
        session.step(Some(RFC7677_SERVER_FIRST.as_bytes())).unwrap();
        let err = session.step(Some(b"v=6rriTRBi23WpRR/w")).unwrap_err();
        assert!(
            matches!(err, SaslError::ServerSignatureMismatch { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn user_names_are_escaped() {
        assert_eq!(escape_saslname("a,b=c"), "a=2Cb=3Dc");
        let mut session =
            ScramSession::with_client_nonce(ScramMechanism::Sha512, "=,", "p", "N".to_owned());
        assert_eq!(send(session.step(None).unwrap()), "n,,n==3D=2C,r=N");
    }

    fn after_server_first(server_first: &str) -> Result<SaslStep, SaslError> {
        let mut session = rfc7677_session();
        session.step(None).unwrap();
        session.step(Some(server_first.as_bytes()))
    }

    #[test]
    fn nonce_must_extend_the_client_nonce() {
        let err =
            after_server_first("r=somebodyElse123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").unwrap_err();
        assert!(matches!(err, SaslError::NonceMismatch { .. }), "{err:?}");
    }

    #[test]
    fn iteration_counts_are_bounded() {
        for i in ["4095", "1", "0", "1000001", "99999999999999999999"] {
            let err = after_server_first(&format!(
                "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={i}"
            ))
            .unwrap_err();
            assert!(
                matches!(err, SaslError::IterationCount { .. }),
                "{i}: {err:?}"
            );
        }
        let err =
            after_server_first("r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001")
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SCRAM-SHA-256 iteration count 1000001 outside the accepted 4096..=1000000"
        );
    }

    #[test]
    fn malformed_server_first_messages_are_typed_errors() {
        for message in [
            "",
            "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOxyz",
            "r=rOprNGfwEbeRWgbNEkqOxyz,s=***,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOxyz,s=,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-4096",
            "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
            "m=must-understand,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        ] {
            let err = after_server_first(message).unwrap_err();
            assert!(
                matches!(err, SaslError::MalformedServerMessage { .. }),
                "{message:?}: {err:?}"
            );
        }
        let mut session = rfc7677_session();
        session.step(None).unwrap();
        let err = session.step(Some(&[0xff, 0xfe])).unwrap_err();
        assert!(
            matches!(err, SaslError::MalformedServerMessage { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn extensions_after_the_iteration_count_are_ignored() {
        let step = after_server_first(&format!("{RFC7677_SERVER_FIRST},x=ext")).unwrap();
        assert!(matches!(step, SaslStep::Send(_)));
    }

    #[test]
    fn server_errors_are_reported() {
        let err = after_server_first("e=unknown-user").unwrap_err();
        assert!(
            matches!(&err, SaslError::ServerError { message, .. } if message == "unknown-user"),
            "{err:?}"
        );

        let mut session = rfc7677_session();
        session.step(None).unwrap();
        session.step(Some(RFC7677_SERVER_FIRST.as_bytes())).unwrap();
        let err = session.step(Some(b"e=invalid-proof")).unwrap_err();
        assert!(
            matches!(&err, SaslError::ServerError { message, .. } if message == "invalid-proof"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the broker rejected the SCRAM-SHA-256 exchange: invalid-proof"
        );
    }

    #[test]
    fn a_failed_session_cannot_be_resumed() {
        let mut session = rfc7677_session();
        session.step(None).unwrap();
        session.step(Some(b"e=other-error")).unwrap_err();
        let err = session
            .step(Some(RFC7677_SERVER_FIRST.as_bytes()))
            .unwrap_err();
        assert!(matches!(err, SaslError::OutOfOrder { .. }), "{err:?}");
    }

    #[test]
    fn steps_out_of_order_are_errors() {
        let mut session = rfc7677_session();
        assert!(matches!(
            session.step(Some(b"r=x")),
            Err(SaslError::OutOfOrder { .. })
        ));
        let mut session = rfc7677_session();
        session.step(None).unwrap();
        assert!(matches!(
            session.step(None),
            Err(SaslError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn fresh_nonces_are_random_and_safe_to_embed() {
        let a = ScramSession::new(ScramMechanism::Sha256, "u", "p").unwrap();
        let b = ScramSession::new(ScramMechanism::Sha256, "u", "p").unwrap();
        assert_ne!(a.client_nonce, b.client_nonce);
        assert_eq!(a.client_nonce.len(), 32);
        assert!(a
            .client_nonce
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
