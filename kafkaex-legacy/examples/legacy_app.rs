//! A program written against the KafkaEx facade, line for line what its Elixir reads like
//! (the Elixir is in the comments). Run it against a broker:
//!
//! ```sh
//! KAFKA_EX_BROKERS=127.0.0.1:19092 KAFKA_EX_KAFKA_VERSION=kayrock \
//!     cargo run -p kafkaex-legacy --example legacy_app
//! ```
//!
//! It creates a topic, produces with a timestamp, fetches with auto-commit into Kafka storage,
//! reads the committed offset back, and streams the topic to its end.

use std::pin::Pin;

use futures_core::Stream;
use kafkaex_legacy::protocol::{create_topics, offset_fetch};
use kafkaex_legacy::stream::StreamApiVersions;
use kafkaex_legacy::{
    CallOptions, Config, FetchOptions, Found, ProduceOptions, Produced, StreamOptions,
};

/// What the program saw.
#[derive(Debug)]
pub struct Outcome {
    /// Offsets returned by produce.
    pub produced: Vec<i64>,
    /// Values fetched.
    pub fetched: Vec<String>,
    /// The committed offset read back.
    pub committed: i64,
    /// Values streamed to the log end.
    pub streamed: Vec<String>,
}

/// The program, on the default worker started from `config`.
pub async fn run(config: Config, topic: &str) -> Result<Outcome, kafkaex_legacy::Error> {
    // config :kafka_ex, brokers: "...", kafka_version: "kayrock"  (KafkaEx.start/2)
    kafkaex_legacy::start(config).await?;

    // KafkaEx.create_topics([%CreateTopics.TopicRequest{topic: topic, num_partitions: 1,
    //   replication_factor: 1}])
    kafkaex_legacy::create_topics(
        vec![create_topics::TopicRequest {
            topic: topic.into(),
            num_partitions: 1,
            replication_factor: 1,
            ..Default::default()
        }],
        CallOptions::default(),
    )
    .await?;

    // {:ok, offset} = KafkaEx.produce(topic, 0, msg, required_acks: 1, timestamp: 12345,
    //   api_version: 3)
    let mut produced = Vec::new();
    for msg in ["hello", "from", "rust"] {
        let result = kafkaex_legacy::produce_message(
            topic,
            Some(0),
            msg,
            ProduceOptions {
                required_acks: 1,
                timestamp: Some(12345),
                api_version: 3,
                ..Default::default()
            },
        )
        .await?;
        if let Produced::Offset(offset) = result {
            produced.push(offset);
        }
    }

    // [response] = KafkaEx.fetch(topic, 0, offset: 0, auto_commit: true,
    //   offset_commit_api_version: 3, api_version: 4)
    let Found::Found(responses) = kafkaex_legacy::fetch(
        topic,
        0,
        FetchOptions {
            offset: Some(0),
            auto_commit: true,
            offset_commit_api_version: 3,
            api_version: 4,
            ..Default::default()
        },
    )
    .await?
    else {
        return Err(kafkaex_legacy::Error::InvalidArgument(format!(
            "{topic}: topic_not_found"
        )));
    };
    let fetched = responses[0].partitions[0]
        .message_set
        .iter()
        .map(|m| String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).into_owned())
        .collect();

    // [resp] = KafkaEx.offset_fetch(:kafka_ex, %OffsetFetch.Request{topic: topic, partition: 0,
    //   api_version: 3})
    let committed = match kafkaex_legacy::offset_fetch(
        kafkaex_legacy::WorkerRef::Default,
        offset_fetch::Request {
            topic: topic.into(),
            partition: 0,
            api_version: 3,
            ..Default::default()
        },
    )
    .await?
    {
        Found::Found(r) => r[0].last_offset(),
        Found::TopicNotFound => -1,
    };

    // KafkaEx.stream(topic, 0, offset: 0, no_wait_at_logend: true, auto_commit: false,
    //   api_versions: %{fetch: 4}) |> Enum.map(& &1.value)
    let mut streamed = Vec::new();
    if let Found::Found(stream) = kafkaex_legacy::stream(
        topic,
        0,
        StreamOptions {
            offset: Some(0),
            no_wait_at_logend: true,
            auto_commit: false,
            api_versions: StreamApiVersions {
                fetch: 4,
                offset_fetch: 3,
                offset_commit: 3,
            },
            ..Default::default()
        },
    )
    .await?
    {
        let mut messages = stream.messages();
        while let Some(m) = std::future::poll_fn(|cx| Pin::new(&mut messages).poll_next(cx)).await {
            let m = m?;
            streamed
                .push(String::from_utf8_lossy(m.value.as_deref().unwrap_or_default()).into_owned());
        }
    }
    kafkaex_legacy::stop_worker(kafkaex_legacy::WorkerRef::Default)?;
    Ok(Outcome {
        produced,
        fetched,
        committed,
        streamed,
    })
}

#[tokio::main]
async fn main() {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("legacy_app: {e}");
            std::process::exit(2);
        }
    };
    let topic = format!("legacy-app-{}", std::process::id());
    match run(config, &topic).await {
        Ok(outcome) => println!("{outcome:#?}"),
        Err(e) => {
            eprintln!("legacy_app: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            std::process::exit(1);
        }
    }
}
