//! Workers with `use_ssl`, `ssl_options` and `auth` (SASL PLAIN, SCRAM) against the `secure`
//! profile (TLS listeners, certificates of a private CA): produce and fetch through each, and a
//! wrong password refused with a typed error.

use kafkaex_legacy::protocol::create_topics::TopicRequest;
use kafkaex_legacy::{
    create_topics, fetch, start_link_worker, CallOptions, Error, FetchOptions, Found, KafkaVersion,
    Sasl, SaslMechanism, SslOptions, Worker, WorkerName, WorkerOptions,
};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

mod common;

fn uri(address: &str) -> (String, u16) {
    let (h, p) = address.rsplit_once(':').expect("host:port");
    (h.to_owned(), p.parse().expect("port"))
}

async fn worker(address: &str, ssl: SslOptions, auth: Option<Sasl>) -> Result<Worker, Error> {
    let mut options = WorkerOptions::default()
        .uris([uri(address)])
        .server_impl(KafkaVersion::Kayrock);
    options.use_ssl = Some(true);
    options.ssl_options = Some(ssl);
    options.auth = auth;
    start_link_worker(WorkerName::NoName, options).await
}

async fn round_trip(w: &Worker, topic: &str) {
    let created = create_topics(
        vec![TopicRequest {
            topic: topic.to_owned(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        CallOptions::worker(w),
    )
    .await
    .expect("create_topics");
    assert_eq!(created.topic_errors[0].error_code, "no_error");
    let offset = common::produce_v3(w, topic, 0, "secret").await;
    let Found::Found(r) = fetch(
        topic,
        0,
        FetchOptions {
            worker_name: w.into(),
            offset: Some(offset),
            auto_commit: false,
            api_version: 4,
            ..Default::default()
        },
    )
    .await
    .expect("fetch") else {
        panic!("topic not found")
    };
    assert_eq!(
        r[0].partitions[0].message_set[0].value.as_deref(),
        Some(&b"secret"[..])
    );
}

#[tokio::test]
async fn tls_and_sasl_workers_produce_and_fetch() {
    let test = "tls_and_sasl_workers_produce_and_fetch";
    let Some(brokers) = test_brokers(BrokerProfile::Secure, test).await else {
        return;
    };
    let var = |k: &str| brokers.require_env(k).to_owned();
    let ssl = SslOptions {
        cacertfile: Some(var("KAFKAEX_SECURE_CA_PEM")),
        server_name_indication: Some(var("KAFKAEX_SECURE_TLS_SERVER_NAME")),
        ..Default::default()
    };
    let suffix = format!("{}-{:x}", std::process::id(), rand_suffix());
    // TLS only.
    let w = worker(&brokers.bootstrap[0], ssl.clone(), None)
        .await
        .expect("TLS worker");
    round_trip(&w, &format!("legacy-tls-{suffix}")).await;
    // SASL_SSL with PLAIN and with SCRAM-SHA-512.
    let plain = Sasl {
        mechanism: SaslMechanism::Plain,
        username: var("KAFKAEX_SECURE_PLAIN_USERNAME"),
        password: var("KAFKAEX_SECURE_PLAIN_PASSWORD"),
    };
    let w = worker(&var("KAFKAEX_SECURE_SASL_PLAIN"), ssl.clone(), Some(plain))
        .await
        .expect("PLAIN worker");
    round_trip(&w, &format!("legacy-plain-{suffix}")).await;
    let scram = Sasl {
        mechanism: SaslMechanism::ScramSha512,
        username: var("KAFKAEX_SECURE_SCRAM_USERNAME"),
        password: var("KAFKAEX_SECURE_SCRAM_PASSWORD"),
    };
    let w = worker(
        &var("KAFKAEX_SECURE_SASL_SCRAM"),
        ssl.clone(),
        Some(scram.clone()),
    )
    .await
    .expect("SCRAM worker");
    round_trip(&w, &format!("legacy-scram-{suffix}")).await;
    // A wrong password: the client's authentication error, typed, no worker.
    let wrong = Sasl {
        password: "not-the-password".into(),
        ..scram
    };
    let err = worker(&var("KAFKAEX_SECURE_SASL_SCRAM"), ssl, Some(wrong))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Client(_)), "{err:?}");
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
