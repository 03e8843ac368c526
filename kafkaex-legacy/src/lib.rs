//! # kafkaex-legacy
//!
//! Elixir KafkaEx's legacy API on kafkaex-rs: the functions of `KafkaEx`
//! ([`produce`](fn@crate::produce), [`fetch`](fn@crate::fetch), [`offset_commit`](fn@crate::offset_commit), ...), its `KafkaEx.Protocol.*` request and
//! response structs ([`protocol`]) with their fields and defaults, its workers
//! ([`create_worker`], named workers, the default worker `kafka_ex`), its configuration
//! ([`Config`], `config :kafka_ex`), its error atoms ([`error_names`]) and partitioners. Each
//! call is converted ([`convert`]) to a `kafkaex-client` call and made through the worker's
//! [`kafkaex_client::Client`]: there is no second protocol path.
//!
//! ## Versions: `kafka_version` and `api_version`
//!
//! With `kafka_version: "kayrock"` ([`KafkaVersion::Kayrock`]) the `api_version` of a request
//! is sent exactly as given, never lowered or raised, as `kayrock.md` describes:
//!
//! | API | `api_version` | what it means |
//! | --- | --- | --- |
//! | OffsetCommit / OffsetFetch | 0 | offsets stored in ZooKeeper (brokers up to Kafka 3.9) |
//! | OffsetCommit / OffsetFetch | 1+ (use 3) | offsets stored in Kafka (`__consumer_offsets`) |
//! | Produce | 0 | message format 0: no timestamps (a timestamp is [`Error::TimestampNotSupported`]) |
//! | Produce | 1-2 | message format 1: timestamps |
//! | Produce | 3+ | record batches: timestamps, headers |
//! | Fetch | 0-1 / 2-3 / 4+ | the broker returns format 0 (no timestamp) / format 1 / record batches |
//!
//! With KafkaEx's legacy servers (`kafka_version` unset, `"0.8.0"`, `"0.8.2"`, `"0.9.0"`),
//! every request goes out at version 0 whatever the struct says, and Metadata at v1 (v0 for
//! 0.8 and 0.9), as KafkaEx's `Server0P*` modules do. A version the broker does not support
//! (every v0 on Kafka 4) is [`Error::UnsupportedVersion`] naming the API, the version asked and
//! the broker's range; for offset requests it says that moving from v0 to v1+ changes where
//! offsets live and how to migrate them (`kafkaex offsets migrate`, MIGRATING.md).
//!
//! ## Two offset conventions (as in KafkaEx)
//!
//! | | commits | resumes at |
//! | --- | --- | --- |
//! | [`fetch`](fn@crate::fetch) with `auto_commit`, [`stream()`] | the offset of the last message consumed | committed + 1 |
//! | GenConsumer / ConsumerGroup | the next offset to consume (Kafka's convention) | committed |
//!
//! Mixing them on one group skips one message, as it does in KafkaEx.
//!
//! ## From Elixir
//!
//! | Elixir | Rust |
//! | --- | --- |
//! | `KafkaEx.create_worker(:w, uris: [{"localhost", 9092}])` | `create_worker("w", WorkerOptions::default().uris([("localhost", 9092)])).await?` |
//! | `KafkaEx.produce("t", 0, "v", worker_name: :w, required_acks: 1)` | `produce_message("t", Some(0), "v", ProduceOptions { worker_name: "w".into(), required_acks: 1, ..Default::default() }).await?` |
//! | `KafkaEx.fetch("t", 0, offset: 0, worker_name: :w)` | `fetch("t", 0, FetchOptions { offset: Some(0), worker_name: "w".into(), ..Default::default() }).await?` |
//! | `KafkaEx.offset_commit(:w, %OffsetCommit.Request{...})` | `offset_commit("w", offset_commit::Request { .. }).await?` |
//! | `KafkaEx.latest_offset("t", 0, :w)` | `latest_offset("t", 0, "w").await?` |
//! | `KafkaEx.ConsumerGroup.start_link(MyConsumer, "g", ["t"], api_versions: %{fetch: 3, offset_fetch: 3, offset_commit: 3})` | `consumer_group::ConsumerGroup::start_link::<MyConsumer>((), "g", ["t"], ConsumerGroupOptions { api_versions, ..Default::default() }).await?` |
//! | `:topic_not_found` | [`Found::TopicNotFound`] |
//! | `{:ok, offset}` / `:ok` | [`Produced::Offset`] / [`Produced::Ok`] |
//! | `{:error, :atom}` | `Err(`[`Error::Kafka`]`)`, the atom in [`error_names::ErrorAtom`] |
//!
//! `kafkaex-legacy/examples/legacy_app.rs` is a program written against the facade,
//! `kafkaex-legacy/examples/consumer_group.rs` a ConsumerGroup with a GenConsumer.
//!
//! ## Where this differs from KafkaEx (its bugs, not copied)
//!
//! - **No broker answers** (KafkaEx's `first_available` returned its broker list as the
//!   response data, "Couldn't parse: [%KafkaEx.New.Broker...]", kafkaex/kafka_ex#433): a typed
//!   [`Error::Client`] with the connection error as its source.
//! - **A partition with a transient error in the metadata** (`leader_not_available`, which made
//!   KafkaEx's client crash on refresh, #594): kept, with its error, in [`metadata`]'s answer.
//! - **An empty `fetch` with `auto_commit`** committed the high watermark in KafkaEx (the next
//!   fetch then skipped a message): nothing is committed when nothing was fetched; and without a
//!   consumer group the call fails before fetching rather than after (KafkaEx: MatchError).
//! - **`stream`'s auto-commit** committed the last offset of the batch fetched, past what the
//!   consumer took (#586): here the last message taken ([`stream`](stream::stream)).
//! - **`consumer_group_metadata`** was not implemented by KafkaEx's Kayrock client
//!   (FunctionClauseError); it works here.
//! - **`metadata` with no topic** returned only the topics KafkaEx's client had loaded; here every
//!   topic, as the legacy servers did.
//! - **`offset/4` with a time** accepts any `SystemTime` or ms ([`OffsetTime`]; 0.15 raised on a
//!   `:calendar.datetime()`).
//! - **Group calls** (`join_group`, `sync_group`, `heartbeat`, `leave_group`) use the newest
//!   versions both sides support (KafkaEx pinned v0), with KafkaEx's exact "assign" protocol
//!   bytes, and JoinGroup's `MEMBER_ID_REQUIRED` step (v4+) done inside the call.
//! - **Produce api_version 1-2** carry timestamps (message format 1); KafkaEx refused any
//!   timestamp below 3. Version 0 still refuses one ([`Error::TimestampNotSupported`]).
//! - **Request timeouts** are a typed [`Error::Timeout`] instead of a GenServer exit.

pub mod config;
pub mod consumer_group;
pub mod convert;
pub mod error;
pub mod error_names;
mod facade;
pub mod gen_consumer;
pub mod migrate;
pub mod partitioner;
pub mod protocol;
pub mod stream;
pub mod worker;

use std::sync::Arc;

pub use config::{AutoOffsetReset, Brokers, Config, Sasl, SaslMechanism, SslOptions};
pub use consumer_group::{ApiVersions, ConsumerGroupOptions, PartitionAssignmentCallback};
pub use error::{Error, Result};
pub use error_names::ErrorAtom;
pub use facade::{
    api_versions, consumer_group, consumer_group_metadata, create_topics, delete_topics,
    describe_group, earliest_offset, fetch, fetch_request, heartbeat, join_group, latest_offset,
    leave_group, metadata, offset, offset_commit, offset_fetch, produce, produce_message,
    sync_group, CallOptions, FetchOptions, Found, MetadataOptions, OffsetTime, ProduceOptions,
    Produced, ASSIGN_PROTOCOL,
};
pub use gen_consumer::{CommitMode, GenConsumer, PartitionConsumer};
pub use partitioner::Partitioner;
pub use stream::{stream, KafkaExStream, StreamOptions};
pub use worker::{
    build_worker_options, create_worker, start_link_worker, stop_worker, valid_consumer_group,
    ConsumerGroup, KafkaVersion, ServerImpl, Worker, WorkerName, WorkerOptions, WorkerRef,
    DEFAULT_WORKER,
};

/// The application configuration in effect: the one given to [`configure`] or [`start`], else
/// [`Config::from_env`] (the defaults where the environment cannot be read).
pub fn config() -> Arc<Config> {
    let cell = worker::config_cell();
    if let Some(c) = cell.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        return Arc::clone(c);
    }
    let mut w = cell.write().unwrap_or_else(|p| p.into_inner());
    Arc::clone(w.get_or_insert_with(|| {
        Arc::new(Config::from_env().unwrap_or_else(|err| {
            tracing::warn!(error = %err, "KAFKA_EX_* environment ignored");
            Config::default()
        }))
    }))
}

/// Sets the application configuration (`config :kafka_ex, ...`) for workers started from now
/// on.
pub fn configure(config: Config) {
    *worker::config_cell()
        .write()
        .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(config));
}

/// The application's start (`KafkaEx.start/2`): sets `config` and, unless
/// `disable_default_worker`, starts the default worker `kafka_ex` with it.
///
/// # Errors
///
/// The default worker's ([`create_worker`]).
pub async fn start(config: Config) -> Result<Option<Worker>> {
    let disabled = config.disable_default_worker;
    configure(config);
    if disabled {
        return Ok(None);
    }
    create_worker(DEFAULT_WORKER, WorkerOptions::default())
        .await
        .map(Some)
}
