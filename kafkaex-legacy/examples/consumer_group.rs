//! A KafkaEx ConsumerGroup program in Rust: kayrock.md's example (Kafka offset storage,
//! record batches), printing every message and committing asynchronously.
//!
//! ```text
//! cargo run -p kafkaex-legacy --example consumer_group -- localhost:9092 my-group my-topic 60
//! ```
//!
//! The Elixir it replaces:
//!
//! ```elixir
//! defmodule Printer do
//!   use KafkaEx.GenConsumer
//!   def handle_message_set(messages, state) do
//!     for m <- messages, do: IO.puts("#{m.offset}: #{m.value}")
//!     {:async_commit, state}
//!   end
//! end
//! KafkaEx.ConsumerGroup.start_link(Printer, "my-group", ["my-topic"],
//!   api_versions: %{offset_fetch: 3, offset_commit: 3, fetch: 3})
//! ```

use async_trait::async_trait;
use kafkaex_legacy::consumer_group::{ApiVersions, ConsumerGroup, ConsumerGroupOptions};
use kafkaex_legacy::gen_consumer::{BoxError, CommitMode, GenConsumer};
use kafkaex_legacy::protocol::fetch::Message;
use kafkaex_legacy::KafkaVersion;

struct Printer {
    topic: String,
    partition: i32,
}

#[async_trait]
impl GenConsumer for Printer {
    type Extra = ();

    async fn init(topic: &str, partition: i32, _extra: ()) -> Result<Self, BoxError> {
        Ok(Printer {
            topic: topic.to_owned(),
            partition,
        })
    }

    async fn handle_message_set(&mut self, messages: Vec<Message>) -> Result<CommitMode, BoxError> {
        for m in &messages {
            let value = String::from_utf8_lossy(m.value.as_deref().unwrap_or_default());
            println!("{}/{}@{}: {value}", self.topic, self.partition, m.offset);
        }
        Ok(CommitMode::AsyncCommit)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let broker = args.next().unwrap_or_else(|| "localhost:9092".into());
    let group = args.next().unwrap_or_else(|| "kafkaex-rs-example".into());
    let topic = args.next().unwrap_or_else(|| "kafkaex-rs-example".into());
    let seconds: u64 = args.next().map_or(Ok(60), |s| s.parse())?;
    let (host, port) = broker.rsplit_once(':').ok_or("the broker is host:port")?;
    let cg = ConsumerGroup::start_link::<Printer>(
        (),
        group,
        [topic],
        ConsumerGroupOptions {
            // Fetch v3 on brokers before Kafka 4; Kafka 4 needs 4 or more.
            api_versions: ApiVersions {
                fetch: 4,
                offset_fetch: 3,
                offset_commit: 3,
            },
            kafka_version: Some(KafkaVersion::Kayrock),
            uris: Some(vec![(host.to_owned(), port.parse()?)]),
            ..Default::default()
        },
    )
    .await?;
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    cg.stop().await;
    Ok(())
}
