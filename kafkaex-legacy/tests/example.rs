//! `examples/legacy_app.rs` (a program written against the facade) against the KRaft broker.

#[allow(unreachable_pub, dead_code)]
#[path = "../examples/legacy_app.rs"]
mod legacy_app;

use kafkaex_legacy::{Brokers, Config, KafkaVersion};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

#[tokio::test]
async fn the_legacy_program_produces_fetches_commits_and_streams() {
    let test = "the_legacy_program_produces_fetches_commits_and_streams";
    let Some(brokers) = test_brokers(BrokerProfile::Kraft, test).await else {
        return;
    };
    let mut config = Config::default();
    config.brokers = Some(Brokers::Csv(brokers.bootstrap.join(",")));
    config.kafka_version = KafkaVersion::Kayrock;
    let topic = format!("legacy-app-test-{}", std::process::id());
    let outcome = legacy_app::run(config, &topic).await.expect("the program");
    assert_eq!(outcome.produced, vec![0, 1, 2]);
    assert_eq!(outcome.fetched, ["hello", "from", "rust"]);
    // fetch/stream's convention: the last message consumed.
    assert_eq!(outcome.committed, 2);
    assert_eq!(outcome.streamed, ["hello", "from", "rust"]);
}
