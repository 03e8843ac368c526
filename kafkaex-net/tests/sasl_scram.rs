//! SCRAM exchanges between the public client sessions and a server simulated here from
//! RFC 5802 section 3, written independently of the client's code.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use kafkaex_net::sasl::{SaslConfig, SaslError, SaslSession, SaslStep};
use sha2::{Digest, Sha256, Sha512};

/// The hash-dependent primitives of one SCRAM mechanism.
#[derive(Clone, Copy)]
struct Hashes {
    hmac: fn(&[u8], &[u8]) -> Vec<u8>,
    hash: fn(&[u8]) -> Vec<u8>,
    hi: fn(&[u8], &[u8], u32) -> Vec<u8>,
}

const SHA256: Hashes = Hashes {
    hmac: |key, data| {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    },
    hash: |data| Sha256::digest(data).to_vec(),
    hi: |password, salt, i| pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, i).to_vec(),
};

const SHA512: Hashes = Hashes {
    hmac: |key, data| {
        let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    },
    hash: |data| Sha512::digest(data).to_vec(),
    hi: |password, salt, i| pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, i).to_vec(),
};

/// A broker's stored SCRAM credential (what `kafka-configs.sh --alter --add-config
/// 'SCRAM-SHA-512=[password=...]'` writes): never the password itself.
struct Credential {
    username: String,
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl Credential {
    fn new(hashes: Hashes, username: &str, password: &str) -> Self {
        let salt = b"kafkaex-test-salt".to_vec();
        let iterations = 4096;
        let salted = (hashes.hi)(password.as_bytes(), &salt, iterations);
        let client_key = (hashes.hmac)(&salted, b"Client Key");
        Self {
            username: username.to_owned(),
            stored_key: (hashes.hash)(&client_key),
            server_key: (hashes.hmac)(&salted, b"Server Key"),
            salt,
            iterations,
        }
    }
}

/// The server half of one exchange.
struct ScramServer {
    hashes: Hashes,
    credential: Credential,
    /// Signs the final message with this key instead of the credential's, to play an impostor.
    impostor_server_key: Option<Vec<u8>>,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ScramServer {
    fn new(hashes: Hashes, credential: Credential) -> Self {
        Self {
            hashes,
            credential,
            impostor_server_key: None,
            client_first_bare: String::new(),
            server_first: String::new(),
            nonce: String::new(),
        }
    }

    fn server_first(&mut self, client_first: &[u8]) -> Vec<u8> {
        let client_first = std::str::from_utf8(client_first).unwrap();
        let bare = client_first
            .strip_prefix("n,,")
            .expect("Kafka clients send no channel binding and no authzid");
        let (name, client_nonce) = bare
            .strip_prefix("n=")
            .and_then(|rest| rest.split_once(",r="))
            .expect("n=...,r=...");
        let username = name.replace("=2C", ",").replace("=3D", "=");
        assert_eq!(username, self.credential.username);
        self.client_first_bare = bare.to_owned();
        self.nonce = format!("{client_nonce}%server-part");
        self.server_first = format!(
            "r={},s={},i={}",
            self.nonce,
            STANDARD.encode(&self.credential.salt),
            self.credential.iterations
        );
        self.server_first.clone().into_bytes()
    }

    fn server_final(&self, client_final: &[u8]) -> Vec<u8> {
        let client_final = std::str::from_utf8(client_final).unwrap();
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        assert_eq!(without_proof, format!("c=biws,r={}", self.nonce));
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let h = self.hashes;
        let client_signature = (h.hmac)(&self.credential.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = STANDARD
            .decode(proof)
            .unwrap()
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        if (h.hash)(&client_key) != self.credential.stored_key {
            return b"e=invalid-proof".to_vec();
        }
        let server_key = self
            .impostor_server_key
            .as_deref()
            .unwrap_or(&self.credential.server_key);
        let signature = (h.hmac)(server_key, auth_message.as_bytes());
        format!("v={}", STANDARD.encode(signature)).into_bytes()
    }
}

/// Drives `session` against `server` the way the connection layer drives SaslAuthenticate
/// round trips; returns how many messages the client sent.
fn run(session: &mut dyn SaslSession, server: &mut ScramServer) -> Result<usize, SaslError> {
    let mut challenge: Option<Vec<u8>> = None;
    let mut sent = 0;
    loop {
        match session.step(challenge.as_deref())? {
            SaslStep::Send(message) => {
                sent += 1;
                challenge = Some(match sent {
                    1 => server.server_first(&message),
                    2 => server.server_final(&message),
                    _ => panic!("SCRAM sends two messages"),
                });
            }
            SaslStep::Done => return Ok(sent),
        }
    }
}

#[test]
fn sha512_exchange_succeeds_against_a_simulated_broker() {
    let config = SaslConfig::scram_sha512("alice", "correct horse");
    let mut session = config.start().unwrap();
    assert_eq!(session.mechanism_name(), "SCRAM-SHA-512");
    let mut server = ScramServer::new(SHA512, Credential::new(SHA512, "alice", "correct horse"));
    assert_eq!(run(session.as_mut(), &mut server).unwrap(), 2);
}

#[test]
fn sha256_exchange_succeeds_against_a_simulated_broker() {
    let config = SaslConfig::scram_sha256("alice", "pässwörd");
    let mut session = config.start().unwrap();
    let mut server = ScramServer::new(SHA256, Credential::new(SHA256, "alice", "pässwörd"));
    assert_eq!(run(session.as_mut(), &mut server).unwrap(), 2);
}

#[test]
fn user_names_with_commas_and_equals_signs_round_trip() {
    let name = "CN=alice,OU=kafka";
    let mut session = SaslConfig::scram_sha512(name, "pw").start().unwrap();
    let mut server = ScramServer::new(SHA512, Credential::new(SHA512, name, "pw"));
    run(session.as_mut(), &mut server).unwrap();
}

#[test]
fn wrong_password_is_rejected_by_the_broker() {
    let mut session = SaslConfig::scram_sha512("alice", "wrong").start().unwrap();
    let mut server = ScramServer::new(SHA512, Credential::new(SHA512, "alice", "right"));
    let err = run(session.as_mut(), &mut server).unwrap_err();
    assert!(
        matches!(&err, SaslError::ServerError { message, .. } if message == "invalid-proof"),
        "{err:?}"
    );
}

#[test]
fn a_broker_that_does_not_know_the_credential_is_detected() {
    // The impostor accepts any proof but cannot produce the real server signature.
    let mut session = SaslConfig::scram_sha512("alice", "pw").start().unwrap();
    let mut server = ScramServer::new(SHA512, Credential::new(SHA512, "alice", "pw"));
    server.impostor_server_key = Some(Credential::new(SHA512, "alice", "guess").server_key);
    let err = run(session.as_mut(), &mut server).unwrap_err();
    assert!(
        matches!(
            err,
            SaslError::ServerSignatureMismatch {
                mechanism: "SCRAM-SHA-512"
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "SCRAM-SHA-512 server signature does not verify"
    );
}

#[test]
fn mechanisms_do_not_cross() {
    // A SHA-256 client against a SHA-512 credential fails at the proof.
    let mut session = SaslConfig::scram_sha256("alice", "pw").start().unwrap();
    let mut server = ScramServer::new(SHA512, Credential::new(SHA512, "alice", "pw"));
    assert!(run(session.as_mut(), &mut server).is_err());
}

/// The whole exchange through `sasl::authenticate`, with the simulated server behind
/// SaslHandshake/SaslAuthenticate bodies encoded by the generated protocol types.
#[tokio::test]
async fn sha512_through_kafka_requests() {
    use bytes::Bytes;
    use kafkaex_net::sasl::{authenticate, SaslRequest, SaslVersions};
    use kafkaex_protocol::messages::{
        SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeResponse,
    };
    use kafkaex_protocol::{ApiKey, Message};

    let mut server = ScramServer::new(SHA512, Credential::new(SHA512, "alice", "pw"));
    let mut rounds = 0;
    let mut broker = |request: SaslRequest| {
        let body = match request.api_key {
            ApiKey::SaslHandshake => SaslHandshakeResponse::default().to_bytes(request.version),
            ApiKey::SaslAuthenticate => {
                let auth = SaslAuthenticateRequest::from_bytes(request.body, request.version)
                    .unwrap()
                    .auth_bytes;
                rounds += 1;
                let reply = match rounds {
                    1 => server.server_first(&auth),
                    _ => server.server_final(&auth),
                };
                SaslAuthenticateResponse::default()
                    .with_auth_bytes(Bytes::from(reply))
                    .with_session_lifetime_ms(60_000)
                    .to_bytes(request.version)
            }
            other => panic!("unexpected {other:?}"),
        };
        std::future::ready(Ok::<_, std::io::Error>(body.unwrap().freeze()))
    };
    let versions = SaslVersions {
        handshake: 1,
        authenticate: 2,
    };
    let done = authenticate(
        &SaslConfig::scram_sha512("alice", "pw"),
        versions,
        &mut broker,
    )
    .await
    .unwrap();
    assert_eq!(done.mechanism, "SCRAM-SHA-512");
    assert_eq!(
        done.session_lifetime,
        Some(std::time::Duration::from_secs(60))
    );
    assert_eq!(rounds, 2);
}
