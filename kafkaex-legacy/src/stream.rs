//! `KafkaEx.stream/3`: a partition's messages as a lazy sequence (an Elixir `Stream`), here a
//! [`KafkaExStream`] whose [`messages`](KafkaExStream::messages) is a Rust
//! [`Stream`].
//!
//! As in KafkaEx: each enumeration starts again from the stream's original offset; at the end
//! of the log it waits for more (fetching again, each fetch waiting up to `wait_time` at the
//! broker) unless `no_wait_at_logend`, which ends it; a partition error ends it. With
//! `auto_commit`, the offset of the last message consumed is committed (fetch/stream's
//! convention) to the stream's group, or the worker's, with `api_versions.offset_commit`.
//!
//! Unlike KafkaEx 0.x (kafkaex/kafka_ex#586), the commit is of the last message *taken* from
//! the stream, not the last of the batch fetched: it is made before the next fetch, when the
//! stream ends, and when the enumeration is dropped (in a task on the current Tokio runtime;
//! [`KafkaExMessages::commit`] makes it and waits for it). A partition error (an offset out of
//! range) is yielded once as an `Err` before the end, where KafkaEx halted silently.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use crate::error::{Error, Result};
use crate::facade::{fetch_on, offset_commit_on, start_offset, FetchOptions, Found};
use crate::protocol::{fetch, offset_commit};
use crate::worker::{Worker, WorkerRef};

/// `api_versions` of a stream (merged over `fetch: 0, offset_fetch: 0, offset_commit: 0`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamApiVersions {
    /// Fetch.
    pub fetch: i16,
    /// OffsetFetch (the start offset).
    pub offset_fetch: i16,
    /// OffsetCommit (auto-commit).
    pub offset_commit: i16,
}

/// Options of [`stream`], with KafkaEx's defaults.
#[derive(Clone, Debug)]
pub struct StreamOptions {
    /// `worker_name`.
    pub worker_name: WorkerRef,
    /// `offset`: nil, the committed offset + 1 (the earliest without one).
    pub offset: Option<i64>,
    /// `consumer_group`: nil, the worker's.
    pub consumer_group: Option<String>,
    /// `auto_commit`: true.
    pub auto_commit: bool,
    /// `no_wait_at_logend`: false.
    pub no_wait_at_logend: bool,
    /// `wait_time` (ms): 10.
    pub wait_time: i32,
    /// `min_bytes`: 1.
    pub min_bytes: i32,
    /// `max_bytes`: 1_000_000.
    pub max_bytes: i32,
    /// `api_versions`.
    pub api_versions: StreamApiVersions,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            worker_name: WorkerRef::Default,
            offset: None,
            consumer_group: None,
            auto_commit: true,
            no_wait_at_logend: false,
            wait_time: 10,
            min_bytes: 1,
            max_bytes: 1_000_000,
            api_versions: StreamApiVersions::default(),
        }
    }
}

struct Def {
    worker: Worker,
    topic: String,
    partition: i32,
    offset: i64,
    group: Option<String>,
    options: StreamOptions,
}

/// A stream definition (`%KafkaEx.Stream{}`): enumerate it with
/// [`messages`](Self::messages), as often as wanted, each time from the same offset.
#[derive(Clone)]
pub struct KafkaExStream {
    def: Arc<Def>,
}

impl std::fmt::Debug for KafkaExStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaExStream")
            .field("topic", &self.def.topic)
            .field("partition", &self.def.partition)
            .field("offset", &self.def.offset)
            .finish()
    }
}

/// `KafkaEx.stream/3`: the stream of `topic`-`partition` from `offset` (or the committed
/// offset + 1, read now with `api_versions.offset_fetch`).
///
/// # Errors
///
/// As [`fetch`](fn@crate::fetch)(crate::fetch) for the start offset; `Found::TopicNotFound` when the topic does
/// not exist.
pub async fn stream(
    topic: &str,
    partition: i32,
    options: StreamOptions,
) -> Result<Found<KafkaExStream>> {
    let worker = options.worker_name.resolve()?;
    let group = match &options.consumer_group {
        Some(g) => Some(g.clone()),
        None => worker.consumer_group().name().map(str::to_owned),
    };
    if options.auto_commit && group.is_none() {
        return Err(Error::ConsumerGroupRequired("stream with auto_commit"));
    }
    let offset = match options.offset {
        Some(o) => o,
        None => {
            match start_offset(
                &worker,
                group.as_deref(),
                topic,
                partition,
                options.api_versions.offset_fetch,
            )
            .await?
            {
                Found::Found(o) => o,
                Found::TopicNotFound => return Ok(Found::TopicNotFound),
            }
        }
    };
    Ok(Found::Found(KafkaExStream {
        def: Arc::new(Def {
            worker,
            topic: topic.to_owned(),
            partition,
            offset,
            group,
            options,
        }),
    }))
}

impl KafkaExStream {
    /// The offset every enumeration starts from.
    pub fn offset(&self) -> i64 {
        self.def.offset
    }

    /// A new enumeration from the stream's offset.
    pub fn messages(&self) -> KafkaExMessages {
        KafkaExMessages {
            def: Arc::clone(&self.def),
            next_offset: self.def.offset,
            buffer: VecDeque::new(),
            taken: None,
            committed: None,
            pending: None,
            done: false,
        }
    }
}

enum Step {
    Messages(Vec<fetch::Message>),
    Halt,
}

type StepFuture = Pin<Box<dyn Future<Output = (Option<i64>, Result<Step>)> + Send>>;

/// One enumeration of a [`KafkaExStream`]: a [`Stream`] of messages.
pub struct KafkaExMessages {
    def: Arc<Def>,
    next_offset: i64,
    buffer: VecDeque<fetch::Message>,
    /// The offset of the last message taken.
    taken: Option<i64>,
    /// The offset last committed.
    committed: Option<i64>,
    pending: Option<StepFuture>,
    done: bool,
}

impl std::fmt::Debug for KafkaExMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaExMessages")
            .field("next_offset", &self.next_offset)
            .field("taken", &self.taken)
            .field("committed", &self.committed)
            .finish()
    }
}

async fn commit(def: &Def, offset: i64) -> Result<()> {
    let group = def
        .group
        .clone()
        .ok_or(Error::ConsumerGroupRequired("stream with auto_commit"))?;
    let responses = offset_commit_on(
        &def.worker,
        &offset_commit::Request {
            consumer_group: Some(group),
            topic: def.topic.clone(),
            partition: def.partition,
            offset,
            api_version: def.options.api_versions.offset_commit,
            ..offset_commit::Request::default()
        },
    )
    .await?;
    match responses
        .first()
        .and_then(|r| r.partitions.first())
        .map(|p| p.error_code)
    {
        Some(atom) if !atom.is_ok() => Err(Error::Kafka {
            api: kafkaex_protocol::ApiKey::OffsetCommit,
            atom,
        }),
        _ => Ok(()),
    }
}

/// Commits `to_commit` if set, then fetches at `offset` until there are messages (or the end).
async fn step(def: Arc<Def>, offset: i64, to_commit: Option<i64>) -> (Option<i64>, Result<Step>) {
    let mut committed = None;
    if let Some(o) = to_commit {
        if let Err(e) = commit(&def, o).await {
            return (None, Err(e));
        }
        committed = Some(o);
    }
    let options = FetchOptions {
        offset: Some(offset),
        worker_name: WorkerRef::Worker(def.worker.clone()),
        wait_time: def.options.wait_time,
        min_bytes: def.options.min_bytes,
        max_bytes: def.options.max_bytes,
        auto_commit: false,
        api_version: def.options.api_versions.fetch,
        ..FetchOptions::default()
    };
    loop {
        let fetched = match fetch_on(&def.worker, &def.topic, def.partition, &options).await {
            Ok(Found::Found(r)) => r,
            Ok(Found::TopicNotFound) => return (committed, Ok(Step::Halt)),
            Err(e) => return (committed, Err(e)),
        };
        let Some(p) = fetched.into_iter().flat_map(|r| r.partitions).next() else {
            return (committed, Ok(Step::Halt));
        };
        if !p.error_code.is_ok() {
            return (
                committed,
                Err(Error::Kafka {
                    api: kafkaex_protocol::ApiKey::Fetch,
                    atom: p.error_code,
                }),
            );
        }
        if !p.message_set.is_empty() {
            return (committed, Ok(Step::Messages(p.message_set)));
        }
        if def.options.no_wait_at_logend {
            return (committed, Ok(Step::Halt));
        }
        if def.options.wait_time <= 0 {
            // The broker does not wait: do not spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl KafkaExMessages {
    fn uncommitted(&self) -> Option<i64> {
        if !self.def.options.auto_commit {
            return None;
        }
        self.taken.filter(|t| self.committed.is_none_or(|c| c < *t))
    }

    /// Commits the offset of the last message taken now (with `auto_commit`), and waits for
    /// it.
    ///
    /// # Errors
    ///
    /// The commit's.
    pub async fn commit(&mut self) -> Result<()> {
        if let Some(o) = self.uncommitted() {
            commit(&self.def, o).await?;
            self.committed = Some(o);
        }
        Ok(())
    }
}

impl Stream for KafkaExMessages {
    type Item = Result<fetch::Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(m) = this.buffer.pop_front() {
                this.taken = Some(m.offset);
                return Poll::Ready(Some(Ok(m)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let fut = this.pending.get_or_insert_with(|| {
                Box::pin(step(
                    Arc::clone(&this.def),
                    this.next_offset,
                    this.taken.filter(|t| {
                        this.def.options.auto_commit && this.committed.is_none_or(|c| c < *t)
                    }),
                ))
            });
            let (committed, result) = match fut.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.pending = None;
            if committed.is_some() {
                this.committed = committed;
            }
            match result {
                Ok(Step::Messages(messages)) => {
                    if let Some(last) = messages.last() {
                        this.next_offset = last.offset + 1;
                    }
                    this.buffer.extend(messages);
                }
                Ok(Step::Halt) => {
                    this.done = true;
                    // The last commit is made by a final step with nothing to fetch.
                    if let Some(o) = this.uncommitted() {
                        let def = Arc::clone(&this.def);
                        this.pending = Some(Box::pin(async move {
                            match commit(&def, o).await {
                                Ok(()) => (Some(o), Ok(Step::Halt)),
                                Err(e) => (None, Err(e)),
                            }
                        }));
                        this.done = false;
                    }
                }
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl Drop for KafkaExMessages {
    fn drop(&mut self) {
        let Some(o) = self.uncommitted() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                offset = o,
                "stream dropped outside a Tokio runtime: offset not committed"
            );
            return;
        };
        let def = Arc::clone(&self.def);
        handle.spawn(async move {
            if let Err(e) = commit(&def, o).await {
                tracing::warn!(error = %e, offset = o, "stream's last commit failed");
            }
        });
    }
}
