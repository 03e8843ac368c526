//! # kafkaex-testkit
//!
//! Test infrastructure shared by every crate of kafkaex-rs (`publish = false`):
//!
//! - [`provider`]: where tests find **real** brokers: the `KAFKAEX_*` variables that
//!   `cargo xtask kafka up <profile>` prints, or a testcontainers provider (feature
//!   `testcontainers`), and the skip-or-fail rule of broker tests ([`provider::test_brokers`]).
//! - [`fake`]: a scriptable fake Kafka cluster on 127.0.0.1 ([`fake::FakeCluster`]) for what a
//!   real broker will not do on demand: answer a chosen error code, lose a response after
//!   applying the request, drop the connection, stall, answer garbage. It keeps a small
//!   in-memory model (brokers, topics with partition logs, leaders and epochs, coordinators,
//!   committed offsets, producer ids and sequences), so clients can be driven end to end, and it
//!   records every request it receives. Modelled on franz-go's `kfake` and librdkafka's mock
//!   cluster. It is never a substitute for the real broker: every behaviour a test relies on
//!   from it is one Kafka documents.
//! - [`peers`]: raw TCP peers that are not Kafka brokers at all (an HTTP server, a peer that
//!   sends a wrong correlation id or garbage), for bootstrap and routing tests.
//! - [`sasl`]: the broker side of SASL/PLAIN (handshake and authenticate), used by the fake
//!   cluster and by exchange-level tests.
//!
//! ```no_run
//! use kafkaex_protocol::{ApiKey, ErrorCode};
//! use kafkaex_testkit::fake::{Action, FakeCluster, Rule};
//!
//! # async fn example() {
//! let cluster = FakeCluster::builder().brokers(3).topic("events", 6).start().await;
//! // The next two Produce requests to node 2 fail with NOT_LEADER_OR_FOLLOWER.
//! cluster.add_rule(
//!     Rule::on(ApiKey::Produce)
//!         .on_node(2)
//!         .times(2)
//!         .then(Action::Error(ErrorCode::NotLeaderOrFollower)),
//! );
//! println!("bootstrap: {:?}", cluster.bootstrap());
//! # }
//! ```

pub mod fake;
pub mod peers;
pub mod provider;
pub mod sasl;
