//! `KafkaEx.GenConsumer`: the consumer of one partition in a
//! [`ConsumerGroup`](crate::consumer_group::ConsumerGroup).
//!
//! A [`GenConsumer`] is an object that owns its state (KafkaEx threads a state term through
//! its callbacks; here the callbacks take `&mut self`):
//!
//! ```no_run
//! use async_trait::async_trait;
//! use kafkaex_legacy::gen_consumer::{BoxError, CommitMode, GenConsumer};
//! use kafkaex_legacy::protocol::fetch::Message;
//!
//! struct Printer {
//!     partition: i32,
//! }
//!
//! #[async_trait]
//! impl GenConsumer for Printer {
//!     type Extra = ();
//!
//!     async fn init(_topic: &str, partition: i32, _extra: ()) -> Result<Self, BoxError> {
//!         Ok(Printer { partition })
//!     }
//!
//!     async fn handle_message_set(
//!         &mut self,
//!         messages: Vec<Message>,
//!     ) -> Result<CommitMode, BoxError> {
//!         for m in &messages {
//!             println!("{}@{}: {:?}", self.partition, m.offset, m.value);
//!         }
//!         Ok(CommitMode::AsyncCommit)
//!     }
//! }
//! ```
//!
//! | KafkaEx | here |
//! | --- | --- |
//! | `init(topic, partition)` / `init(topic, partition, extra_args)` → `{:ok, state}` / `{:stop, reason}` | [`GenConsumer::init`] → `Ok(Self)` / `Err(reason)` (`Extra = ()` for `init/2`) |
//! | `handle_message_set(set, st)` → `{:async_commit, st}` / `{:sync_commit, st}` | [`GenConsumer::handle_message_set`] → [`CommitMode`] |
//! | `handle_call(msg, from, st)` → `{:reply, r, st}` / `{:stop, reason, ...}` | [`GenConsumer::handle_call`] → `Ok(reply)` / `Err(reason)` |
//! | `handle_cast(msg, st)`, `handle_info(msg, st)` → `{:noreply, st}` / `{:stop, reason, st}` | [`GenConsumer::handle_cast`], [`GenConsumer::handle_info`] → `Ok(())` / `Err(reason)` |
//! | `GenConsumer.call(pid, msg)`, `cast(pid, msg)`, `send(pid, msg)` | [`PartitionConsumer::call`], [`PartitionConsumer::cast`], [`PartitionConsumer::info`] |
//!
//! # The loop (as KafkaEx's)
//!
//! 1. `init`, then the committed offset is read (OffsetFetch at `api_versions.offset_fetch`):
//!    the consumer starts exactly there (Kafka's convention: the committed offset is the next
//!    one to consume). Without a committed offset it starts where `auto_offset_reset` says
//!    (`Earliest` or `Latest`; `None` starts at the earliest offset, where KafkaEx started at
//!    0 under v1+ and at the earliest under v0).
//! 2. Fetch (`KafkaEx.fetch` at `api_versions.fetch`, `fetch_options` for wait time and
//!    sizes, no auto-commit). `offset_out_of_range` resets to the earliest or latest offset
//!    per `auto_offset_reset` (`None`: the consumer fails for good, as KafkaEx raised).
//! 3. A non-empty set goes to `handle_message_set`; acked = last offset + 1. An empty set
//!    counts as [`CommitMode::AsyncCommit`].
//! 4. [`CommitMode::SyncCommit`] commits now; [`CommitMode::AsyncCommit`] commits when
//!    `acked - committed >= commit_threshold` or `commit_interval` has passed since the last
//!    commit.
//! 5. A commit is OffsetCommit of acked for the group, with the generation and member id, at
//!    **`api_versions.offset_commit`** (KafkaEx used `api_versions.offset_fetch` here: a bug,
//!    fixed). A failed commit is logged and tried again at the next check, not a crash.
//! 6. On stop (a rebalance, [`ConsumerGroup::stop`](crate::consumer_group::ConsumerGroup::stop))
//!    the acked offset is committed, then [`GenConsumer::terminate`] runs.
//!
//! # Failures (unlike KafkaEx)
//!
//! A consumer whose callback returns `Err` or panics, or whose fetch fails, is restarted for
//! its partition: the acked offset is committed (as KafkaEx's `terminate/2` did), `init` runs
//! again and it resumes at the committed offset. At most `max_restarts` restarts per
//! `max_seconds` (then it stays [`PartitionStatus::Failed`] until the next rebalance gives the
//! partition out again); the group and the other partitions' consumers are not affected (in
//! KafkaEx a failing consumer could take the whole group down). Failures a restart cannot
//! cure (an unsupported version, `offset_out_of_range` with `auto_offset_reset: None`, `init`
//! returning `Err`) are [`PartitionStatus::Failed`] at once.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use kafkaex_protocol::ApiKey;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::AutoOffsetReset;
use crate::error::Error;
use crate::facade::{
    fetch_on, offset_commit_on, offset_fetch_on, offset_on, FetchOptions, Found, OffsetTime,
};
use crate::protocol::{fetch, offset, offset_commit, offset_fetch};
use crate::worker::Worker;

/// A callback's error: any error, as KafkaEx's `{:stop, reason}` takes any term.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A message to or a reply from a consumer (`call`, `cast`, `info`): any value, as in
/// Erlang; the receiver downcasts it.
pub type AnyMessage = Box<dyn Any + Send>;

/// What [`GenConsumer::handle_message_set`] asks for (`:async_commit` / `:sync_commit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitMode {
    /// Commit when the threshold or the interval says so.
    AsyncCommit,
    /// Commit now, before the next fetch.
    SyncCommit,
}

/// The reply of the default [`GenConsumer::handle_call`]: KafkaEx's `{:bad_call, msg}`.
#[derive(Debug)]
pub struct BadCall(pub AnyMessage);

/// The consumer of one partition; see the [module documentation](self).
#[async_trait]
pub trait GenConsumer: Send + Sized + 'static {
    /// `extra_consumer_args`, given to every [`GenConsumer::init`] (`()` for KafkaEx's
    /// `init/2`).
    type Extra: Clone + Send + Sync + 'static;

    /// Starts the consumer of `topic`/`partition`. `Err` is `{:stop, reason}`: the partition
    /// is not consumed until the next rebalance.
    async fn init(topic: &str, partition: i32, extra: Self::Extra) -> Result<Self, BoxError>;

    /// Handles the messages of one fetch, in offset order. `Err` (or a panic) restarts the
    /// consumer, which gets these messages again from the last commit.
    async fn handle_message_set(
        &mut self,
        messages: Vec<fetch::Message>,
    ) -> Result<CommitMode, BoxError>;

    /// Answers a [`PartitionConsumer::call`]. `Err` stops (and restarts) the consumer; the
    /// caller gets [`CallError::Stopped`]. By default replies [`BadCall`] with the message.
    async fn handle_call(&mut self, request: AnyMessage) -> Result<AnyMessage, BoxError> {
        Ok(Box::new(BadCall(request)))
    }

    /// Handles a [`PartitionConsumer::cast`]. `Err` stops (and restarts) the consumer. By
    /// default logs and ignores it (KafkaEx raised).
    async fn handle_cast(&mut self, message: AnyMessage) -> Result<(), BoxError> {
        let _ = message;
        tracing::warn!("a GenConsumer without handle_cast got a cast; ignored");
        Ok(())
    }

    /// Handles a [`PartitionConsumer::info`] (any other message). `Err` stops (and restarts)
    /// the consumer. By default logs it, as KafkaEx.
    async fn handle_info(&mut self, message: AnyMessage) -> Result<(), BoxError> {
        let _ = message;
        tracing::info!("a GenConsumer got an unexpected message; ignored");
        Ok(())
    }

    /// Runs when the consumer stops normally (after the acked offset is committed), not after
    /// a failure. Nothing by default.
    async fn terminate(&mut self) {}
}

/// Why a partition's consumer failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerFailure {
    /// `init` returned `Err`.
    #[error("init failed: {0}")]
    Init(String),
    /// A callback returned `Err`.
    #[error("{callback} failed: {reason}")]
    Callback {
        /// `handle_message_set`, `handle_call`, ...
        callback: &'static str,
        /// The error's message.
        reason: String,
    },
    /// A callback panicked.
    #[error("the consumer panicked: {0}")]
    Panicked(String),
    /// A request failed (fetch, offset fetch or commit, offset lookup).
    #[error("{0}")]
    Kafka(Error),
    /// The topic does not exist (`:topic_not_found`).
    #[error("the topic does not exist")]
    TopicNotFound,
    /// The fetch offset is out of range and `auto_offset_reset` is `None`.
    #[error("offset {0} is out of range and auto_offset_reset is none")]
    OffsetOutOfRange(i64),
    /// More than `max_restarts` restarts within `max_seconds`.
    #[error("restarted {restarts} times within {seconds} s; the last failure: {last}")]
    RestartLimit {
        /// The restarts.
        restarts: u32,
        /// The window.
        seconds: u64,
        /// The last failure.
        last: Box<ConsumerFailure>,
    },
}

impl ConsumerFailure {
    /// Whether a restart cannot cure it.
    fn permanent(&self) -> bool {
        match self {
            ConsumerFailure::Init(_)
            | ConsumerFailure::OffsetOutOfRange(_)
            | ConsumerFailure::RestartLimit { .. } => true,
            ConsumerFailure::Kafka(e) => e.unsupported_version().is_some(),
            _ => false,
        }
    }

    /// The facade error inside, if any (e.g. [`Error::UnsupportedVersion`]).
    pub fn error(&self) -> Option<&Error> {
        match self {
            ConsumerFailure::Kafka(e) => Some(e),
            ConsumerFailure::RestartLimit { last, .. } => last.error(),
            _ => None,
        }
    }
}

/// What a partition's consumer is doing.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PartitionStatus {
    /// Starting (`init`, the offset lookup).
    Starting,
    /// Fetching and handling messages.
    Running,
    /// Restarting after this failure.
    Restarting(ConsumerFailure),
    /// Given up (until the next rebalance assigns the partition again).
    Failed(ConsumerFailure),
    /// Stopped (a rebalance or the group's stop).
    Stopped,
}

/// Why a call, cast or info could not be delivered or answered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// This member has no consumer for the partition (not assigned to it).
    #[error("no consumer for {topic}/{partition} in this member")]
    NoConsumer {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// The consumer stopped (or failed) before answering.
    #[error("the consumer stopped before answering")]
    Stopped,
    /// The reply is not of the type asked for ([`PartitionConsumer::call_as`]).
    #[error("the reply is not a {0}")]
    WrongReply(&'static str),
}

/// What a partition consumer's mailbox holds.
pub(crate) enum Mail {
    Call(AnyMessage, oneshot::Sender<AnyMessage>),
    Cast(AnyMessage),
    Info(AnyMessage),
}

/// How a consumer is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StopMode {
    /// Keep running.
    Run,
    /// Stop; commit the acked offset first unless the partition was lost.
    Stop { commit: bool },
}

/// The settings of a group's partition consumers.
#[derive(Clone, Debug)]
pub(crate) struct ConsumerSettings {
    pub(crate) group: String,
    pub(crate) commit_interval: Duration,
    pub(crate) commit_threshold: u64,
    pub(crate) auto_offset_reset: AutoOffsetReset,
    pub(crate) fetch_options: FetchOptions,
    pub(crate) fetch_version: i16,
    pub(crate) offset_fetch_version: i16,
    pub(crate) offset_commit_version: i16,
    pub(crate) max_restarts: u32,
    pub(crate) max_seconds: u64,
    pub(crate) restart_delay: Duration,
}

/// A handle on the consumer of one partition (KafkaEx's GenConsumer pid). Cheap to clone.
#[derive(Clone)]
pub struct PartitionConsumer {
    topic: String,
    partition: i32,
    mailbox: mpsc::UnboundedSender<Mail>,
    status: Arc<Mutex<PartitionStatus>>,
    restarts: Arc<Mutex<u32>>,
}

impl fmt::Debug for PartitionConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionConsumer")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("status", &self.status())
            .finish()
    }
}

impl PartitionConsumer {
    /// The topic (`GenConsumer.partition/1`).
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition (`GenConsumer.partition/1`).
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// What it is doing.
    pub fn status(&self) -> PartitionStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How often it was restarted after failures.
    pub fn restarts(&self) -> u32 {
        *self.restarts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `GenConsumer.call/3`: [`GenConsumer::handle_call`]'s reply. Messages wait in the
    /// consumer's mailbox while it handles a message set or restarts.
    ///
    /// # Errors
    ///
    /// [`CallError::Stopped`] when the consumer stops before answering.
    pub async fn call(&self, request: impl Any + Send) -> Result<AnyMessage, CallError> {
        let (tx, rx) = oneshot::channel();
        self.mailbox
            .send(Mail::Call(Box::new(request), tx))
            .map_err(|_| CallError::Stopped)?;
        rx.await.map_err(|_| CallError::Stopped)
    }

    /// [`PartitionConsumer::call`] with the reply downcast to `R`.
    ///
    /// # Errors
    ///
    /// As [`PartitionConsumer::call`]; [`CallError::WrongReply`] for a reply of another type.
    pub async fn call_as<R: Any>(&self, request: impl Any + Send) -> Result<R, CallError> {
        self.call(request)
            .await?
            .downcast::<R>()
            .map(|r| *r)
            .map_err(|_| CallError::WrongReply(std::any::type_name::<R>()))
    }

    /// `GenConsumer.cast/2`.
    ///
    /// # Errors
    ///
    /// [`CallError::Stopped`] when the consumer is gone.
    pub fn cast(&self, message: impl Any + Send) -> Result<(), CallError> {
        self.mailbox
            .send(Mail::Cast(Box::new(message)))
            .map_err(|_| CallError::Stopped)
    }

    /// `send(pid, msg)`: a message for [`GenConsumer::handle_info`].
    ///
    /// # Errors
    ///
    /// [`CallError::Stopped`] when the consumer is gone.
    pub fn info(&self, message: impl Any + Send) -> Result<(), CallError> {
        self.mailbox
            .send(Mail::Info(Box::new(message)))
            .map_err(|_| CallError::Stopped)
    }

    fn set_status(&self, status: PartitionStatus) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }
}

/// A running partition consumer: its handle, how to stop it, its supervisor task.
pub(crate) struct Running {
    pub(crate) handle: PartitionConsumer,
    pub(crate) stop: watch::Sender<StopMode>,
    pub(crate) task: JoinHandle<()>,
}

/// The offsets of one partition, kept outside the consumer so that a panic does not lose
/// them.
#[derive(Clone, Copy, Debug, Default)]
struct Offsets {
    /// The next offset to fetch.
    current: i64,
    /// The offset after the last message handled.
    acked: i64,
    /// The offset last committed.
    committed: i64,
    /// Whether `acked` is known (the start offset was read).
    loaded: bool,
}

/// Everything a consumer run needs.
struct Ctx {
    worker: Worker,
    settings: Arc<ConsumerSettings>,
    topic: String,
    partition: i32,
    generation_id: i32,
    member_id: String,
    offsets: Mutex<Offsets>,
}

impl Ctx {
    fn offsets(&self) -> Offsets {
        *self.offsets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut Offsets)) {
        f(&mut self.offsets.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Commits `acked` if it is ahead of the last commit; logs a failure.
    async fn commit(&self) -> bool {
        let o = self.offsets();
        if !o.loaded || o.acked <= o.committed {
            return true;
        }
        let request = offset_commit::Request {
            consumer_group: Some(self.settings.group.clone()),
            topic: self.topic.clone(),
            partition: self.partition,
            offset: o.acked,
            api_version: self.settings.offset_commit_version,
            generation_id: self.generation_id,
            member_id: self.member_id.clone(),
            ..offset_commit::Request::default()
        };
        let result = offset_commit_on(&self.worker, &request).await;
        let error = match result {
            Ok(r) => r
                .first()
                .and_then(|r| r.partitions.first())
                .map(|p| p.error_code)
                .filter(|c| !c.is_ok())
                .map(|atom| Error::Kafka {
                    api: ApiKey::OffsetCommit,
                    atom,
                }),
            Err(e) => Some(e),
        };
        match error {
            None => {
                self.update(|x| x.committed = o.acked);
                true
            }
            Some(e) => {
                tracing::warn!(group = %self.settings.group, topic = %self.topic,
                    partition = self.partition, offset = o.acked, error = %e,
                    "GenConsumer commit failed; tried again at the next check");
                false
            }
        }
    }

    /// The offset to start at: the committed one, else per `auto_offset_reset`.
    async fn load_offsets(&self) -> Result<i64, ConsumerFailure> {
        let request = offset_fetch::Request {
            consumer_group: Some(self.settings.group.clone()),
            topic: self.topic.clone(),
            partition: self.partition,
            api_version: self.settings.offset_fetch_version,
        };
        let committed = self.committed_offset(&request).await?;
        if committed >= 0 {
            return Ok(committed);
        }
        let time = match self.settings.auto_offset_reset {
            AutoOffsetReset::Latest => OffsetTime::Latest,
            AutoOffsetReset::Earliest | AutoOffsetReset::None => OffsetTime::Earliest,
        };
        self.list_offset(time).await
    }

    /// The committed offset (the facade's OffsetFetch at `api_versions.offset_fetch`: v0
    /// ZooKeeper storage, v1+ Kafka storage), -1 for none.
    async fn committed_offset(
        &self,
        request: &offset_fetch::Request,
    ) -> Result<i64, ConsumerFailure> {
        let fetched = offset_fetch_on(&self.worker, request)
            .await
            .map_err(ConsumerFailure::Kafka)?;
        let Found::Found(responses) = fetched else {
            return Err(ConsumerFailure::TopicNotFound);
        };
        let p = responses
            .first()
            .and_then(|r| r.partitions.iter().find(|p| p.partition == self.partition));
        Ok(match p {
            Some(p) if p.error_code.is_ok() => p.offset,
            // v0 (ZooKeeper) without a commit: unknown_topic_or_partition.
            Some(p) if p.error_code.code() == UNKNOWN_TOPIC_OR_PARTITION => -1,
            Some(p) => {
                return Err(ConsumerFailure::Kafka(Error::Kafka {
                    api: ApiKey::OffsetFetch,
                    atom: p.error_code,
                }))
            }
            None => -1,
        })
    }

    async fn list_offset(&self, time: OffsetTime) -> Result<i64, ConsumerFailure> {
        match offset_on(&self.worker, &self.topic, self.partition, time)
            .await
            .map_err(ConsumerFailure::Kafka)?
        {
            Found::Found(r) => offset::extract_offset(&r).ok_or_else(|| {
                ConsumerFailure::Kafka(Error::Kafka {
                    api: ApiKey::ListOffsets,
                    atom: r
                        .first()
                        .and_then(|r| r.partition_offsets.first())
                        .map_or(crate::ErrorAtom::kayrock(-1), |p| p.error_code),
                })
            }),
            Found::TopicNotFound => Err(ConsumerFailure::TopicNotFound),
        }
    }
}

const OFFSET_OUT_OF_RANGE: i16 = 1;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// Starts the supervised consumer of `topic`/`partition`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start<C: GenConsumer>(
    worker: Worker,
    settings: Arc<ConsumerSettings>,
    extra: C::Extra,
    topic: String,
    partition: i32,
    generation_id: i32,
    member_id: String,
) -> Running {
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(StopMode::Run);
    let handle = PartitionConsumer {
        topic: topic.clone(),
        partition,
        mailbox: tx,
        status: Arc::new(Mutex::new(PartitionStatus::Starting)),
        restarts: Arc::new(Mutex::new(0)),
    };
    let ctx = Arc::new(Ctx {
        worker,
        settings,
        topic,
        partition,
        generation_id,
        member_id,
        offsets: Mutex::new(Offsets::default()),
    });
    let task = tokio::spawn(supervise::<C>(
        ctx,
        extra,
        Arc::new(tokio::sync::Mutex::new(rx)),
        stop_rx,
        handle.clone(),
    ));
    Running { handle, stop, task }
}

/// Aborts a task when dropped (an aborted supervisor takes its consumer run with it).
struct AbortOnDrop(JoinHandle<Result<(), ConsumerFailure>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the consumer, restarting it after failures within the restart limit.
async fn supervise<C: GenConsumer>(
    ctx: Arc<Ctx>,
    extra: C::Extra,
    mailbox: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Mail>>>,
    mut stop: watch::Receiver<StopMode>,
    handle: PartitionConsumer,
) {
    let settings = Arc::clone(&ctx.settings);
    let mut restarts: VecDeque<Instant> = VecDeque::new();
    loop {
        handle.set_status(PartitionStatus::Starting);
        let mut run = AbortOnDrop(tokio::spawn(run::<C>(
            Arc::clone(&ctx),
            extra.clone(),
            Arc::clone(&mailbox),
            stop.clone(),
            handle.clone(),
        )));
        let failure = match (&mut run.0).await {
            Ok(Ok(())) => {
                handle.set_status(PartitionStatus::Stopped);
                return;
            }
            Ok(Err(f)) => f,
            Err(join) if join.is_panic() => {
                let payload = join.into_panic();
                let text = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(a non-string panic)".to_owned());
                ConsumerFailure::Panicked(text)
            }
            Err(_) => {
                handle.set_status(PartitionStatus::Stopped);
                return;
            }
        };
        tracing::warn!(group = %settings.group, topic = %ctx.topic, partition = ctx.partition,
            error = %failure, "GenConsumer failed");
        // As KafkaEx's terminate/2: what was handled is committed before the restart.
        let mode = mode(&stop);
        if mode != (StopMode::Stop { commit: false }) {
            ctx.commit().await;
        }
        if mode != StopMode::Run {
            handle.set_status(PartitionStatus::Stopped);
            return;
        }
        if failure.permanent() {
            handle.set_status(PartitionStatus::Failed(failure));
            return;
        }
        let now = Instant::now();
        let window = Duration::from_secs(settings.max_seconds);
        while restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            restarts.pop_front();
        }
        if restarts.len() >= settings.max_restarts as usize {
            handle.set_status(PartitionStatus::Failed(ConsumerFailure::RestartLimit {
                restarts: settings.max_restarts,
                seconds: settings.max_seconds,
                last: Box::new(failure),
            }));
            return;
        }
        restarts.push_back(now);
        *handle
            .restarts
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        handle.set_status(PartitionStatus::Restarting(failure));
        tokio::select! {
            _ = tokio::time::sleep(settings.restart_delay) => {}
            _ = stopped(&mut stop) => {
                handle.set_status(PartitionStatus::Stopped);
                return;
            }
        }
    }
}

/// Resolves once the consumer is asked to stop (or its group is gone).
/// A dropped sender (the group is gone) stops the consumer too.
async fn stopped(stop: &mut watch::Receiver<StopMode>) {
    let _ = stop.wait_for(|m| *m != StopMode::Run).await;
}

/// The stop mode now; a dropped sender (the group is gone) is a stop with commit.
fn mode(stop: &watch::Receiver<StopMode>) -> StopMode {
    let m = *stop.borrow();
    if m == StopMode::Run && stop.has_changed().is_err() {
        return StopMode::Stop { commit: true };
    }
    m
}

fn callback(callback: &'static str, e: BoxError) -> ConsumerFailure {
    ConsumerFailure::Callback {
        callback,
        reason: e.to_string(),
    }
}

/// One run of the consumer: init, load offsets, the fetch loop, until stopped or failed.
async fn run<C: GenConsumer>(
    ctx: Arc<Ctx>,
    extra: C::Extra,
    mailbox: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Mail>>>,
    mut stop: watch::Receiver<StopMode>,
    handle: PartitionConsumer,
) -> Result<(), ConsumerFailure> {
    let mut mailbox = mailbox.lock().await;
    let mut consumer = C::init(&ctx.topic, ctx.partition, extra)
        .await
        .map_err(|e| ConsumerFailure::Init(e.to_string()))?;
    let start = ctx.load_offsets().await?;
    ctx.update(|o| {
        *o = Offsets {
            current: start,
            acked: start,
            committed: start,
            loaded: true,
        }
    });
    handle.set_status(PartitionStatus::Running);
    let settings = Arc::clone(&ctx.settings);
    let mut last_commit = Instant::now();
    let mut backoff = Duration::from_millis(100);
    loop {
        if mode(&stop) != StopMode::Run {
            break;
        }
        let current = ctx.offsets().current;
        let options = FetchOptions {
            offset: Some(current),
            auto_commit: false,
            api_version: settings.fetch_version,
            ..settings.fetch_options.clone()
        };
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            mail = mailbox.recv() => {
                let Some(mail) = mail else { break };
                match mail {
                    Mail::Call(request, reply) => {
                        let answer = consumer.handle_call(request).await.map_err(|e| callback("handle_call", e))?;
                        let _ = reply.send(answer);
                    }
                    Mail::Cast(m) => consumer.handle_cast(m).await.map_err(|e| callback("handle_cast", e))?,
                    Mail::Info(m) => consumer.handle_info(m).await.map_err(|e| callback("handle_info", e))?,
                }
            }
            fetched = fetch_on(&ctx.worker, &ctx.topic, ctx.partition, &options) => {
                let responses = match fetched {
                    Ok(Found::Found(r)) => r,
                    Ok(Found::TopicNotFound) => return Err(ConsumerFailure::TopicNotFound),
                    Err(Error::Client(e)) if e.is_retriable() => {
                        tracing::debug!(topic = %ctx.topic, partition = ctx.partition, error = %e, "fetch failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                    Err(e) => return Err(ConsumerFailure::Kafka(e)),
                };
                backoff = Duration::from_millis(100);
                let Some(p) = responses
                    .into_iter()
                    .flat_map(|r| r.partitions)
                    .find(|p| p.partition == ctx.partition)
                else {
                    continue;
                };
                if p.error_code.code() == OFFSET_OUT_OF_RANGE {
                    let time = match settings.auto_offset_reset {
                        AutoOffsetReset::Earliest => OffsetTime::Earliest,
                        AutoOffsetReset::Latest => OffsetTime::Latest,
                        AutoOffsetReset::None => return Err(ConsumerFailure::OffsetOutOfRange(current)),
                    };
                    let reset = ctx.list_offset(time).await?;
                    tracing::info!(topic = %ctx.topic, partition = ctx.partition, from = current, to = reset, "offset out of range; reset");
                    ctx.update(|o| {
                        o.current = reset;
                        o.acked = reset;
                    });
                    continue;
                }
                if !p.error_code.is_ok() {
                    return Err(ConsumerFailure::Kafka(Error::Kafka {
                        api: ApiKey::Fetch,
                        atom: p.error_code,
                    }));
                }
                let messages: Vec<fetch::Message> = p
                    .message_set
                    .into_iter()
                    .filter(|m| m.offset >= current)
                    .collect();
                let mode = match messages.last().map(|m| m.offset) {
                    None => CommitMode::AsyncCommit,
                    Some(last) => {
                        let mode = consumer
                            .handle_message_set(messages)
                            .await
                            .map_err(|e| callback("handle_message_set", e))?;
                        ctx.update(|o| {
                            o.acked = last + 1;
                            o.current = last + 1;
                        });
                        mode
                    }
                };
                let o = ctx.offsets();
                let due = match mode {
                    CommitMode::SyncCommit => true,
                    CommitMode::AsyncCommit => {
                        let behind = u64::try_from(o.acked - o.committed).unwrap_or(0);
                        (behind > 0 && behind >= settings.commit_threshold)
                            || last_commit.elapsed() >= settings.commit_interval
                    }
                };
                if due && o.acked > o.committed {
                    ctx.commit().await;
                    last_commit = Instant::now();
                } else if due {
                    last_commit = Instant::now();
                }
            }
        }
    }
    if mode(&stop) != (StopMode::Stop { commit: false }) {
        ctx.commit().await;
    }
    consumer.terminate().await;
    Ok(())
}
