//! SASL `PLAIN` (RFC 4616).

use std::fmt;

use super::{Password, SaslError, SaslSession, SaslStep};

pub(super) const MECHANISM: &str = "PLAIN";

/// A `PLAIN` exchange: one message, `authzid NUL authcid NUL password`, with an empty
/// authorization id (Kafka authorizes as the authenticated user).
pub struct PlainSession {
    username: String,
    password: Password,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Initial,
    Sent,
    Finished,
}

impl PlainSession {
    /// Starts an exchange for these credentials.
    pub fn new(username: impl Into<String>, password: impl Into<Password>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            state: State::Initial,
        }
    }
}

impl fmt::Debug for PlainSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainSession")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("state", &self.state)
            .finish()
    }
}

impl SaslSession for PlainSession {
    fn mechanism_name(&self) -> &'static str {
        MECHANISM
    }

    fn step(&mut self, challenge: Option<&[u8]>) -> Result<SaslStep, SaslError> {
        match (self.state, challenge) {
            (State::Initial, None) => {
                // NUL separates the fields, so one inside a field would shift them: the broker
                // would authenticate a different user name than the one configured.
                if self.username.contains('\0') || self.password.expose().contains('\0') {
                    self.state = State::Finished;
                    return Err(SaslError::InvalidCredentials {
                        mechanism: MECHANISM,
                        reason: "user name and password must not contain NUL",
                    });
                }
                let username = self.username.as_bytes();
                let password = self.password.expose().as_bytes();
                let mut message = Vec::with_capacity(2 + username.len() + password.len());
                message.push(0);
                message.extend_from_slice(username);
                message.push(0);
                message.extend_from_slice(password);
                self.state = State::Sent;
                Ok(SaslStep::Send(message))
            }
            // The broker answers PLAIN with empty auth bytes; a failure arrives as the
            // SaslAuthenticate error code, which the driver checks before stepping.
            (State::Sent, Some(_)) => {
                self.state = State::Finished;
                Ok(SaslStep::Done)
            }
            (State::Initial, Some(_)) => Err(SaslError::OutOfOrder {
                mechanism: MECHANISM,
                expected: "no challenge before the first message (the client speaks first)",
            }),
            (State::Sent, None) => Err(SaslError::OutOfOrder {
                mechanism: MECHANISM,
                expected: "the broker's response to the PLAIN message",
            }),
            (State::Finished, _) => Err(SaslError::OutOfOrder {
                mechanism: MECHANISM,
                expected: "no further steps (the exchange is over)",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_nul_separated_credentials_then_finishes() {
        let mut session = PlainSession::new("alice", "pa55 wörd");
        assert_eq!(
            session.step(None).unwrap(),
            SaslStep::Send(b"\0alice\0pa55 w\xc3\xb6rd".to_vec())
        );
        assert_eq!(session.step(Some(b"")).unwrap(), SaslStep::Done);
        assert!(matches!(
            session.step(Some(b"")),
            Err(SaslError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn rejects_nul_in_credentials() {
        let mut session = PlainSession::new("alice\0admin", "x");
        assert!(matches!(
            session.step(None),
            Err(SaslError::InvalidCredentials { .. })
        ));
        let mut session = PlainSession::new("alice", "x\0y");
        assert!(matches!(
            session.step(None),
            Err(SaslError::InvalidCredentials { .. })
        ));
    }

    #[test]
    fn rejects_a_challenge_before_the_first_message() {
        let mut session = PlainSession::new("alice", "x");
        assert!(matches!(
            session.step(Some(b"hello")),
            Err(SaslError::OutOfOrder { .. })
        ));
    }
}
