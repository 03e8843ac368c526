//! The consumer: partitions assigned by the caller, fetched from every broker at once in
//! bounded memory, returned in order per partition.
//!
//! ```no_run
//! use kafkaex_client::consumer::{StartOffset, TopicPartition};
//! use kafkaex_client::Client;
//!
//! # async fn example() -> Result<(), kafkaex_client::Error> {
//! let client = Client::builder().bootstrap(["localhost:9092"]).build().await?;
//! let mut consumer = client.consumer().build()?;
//! consumer.assign([
//!     (TopicPartition::new("orders", 0), StartOffset::Earliest),
//!     (TopicPartition::new("orders", 1), StartOffset::Offset(42)),
//! ])?;
//! while let Some(batch) = consumer.next_batch().await {
//!     let batch = batch?; // one partition's records, in order
//!     for record in &batch {
//!         println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Fetching
//!
//! As the Java client does it: one Fetch request in flight per broker, covering every assigned
//! partition that broker leads which is not paused, has a valid position and has nothing
//! buffered; all brokers in parallel. A partition is fetched again only once the caller has
//! taken what was fetched of it. Memory is bounded in bytes: what is buffered, what the
//! requests in flight may bring back, and the responses whose records the caller still holds
//! (records are slices of the response they came in, which is freed with the last of them)
//! stay within [`ConsumerConfig::max_buffer_bytes`]; a request asks for no more than the room
//! left (`max_bytes`), so a slow caller stops the fetching instead of growing the buffer. When
//! everything counted is records the caller holds, one fetch at a time still goes out, so a
//! caller who keeps records does not stall the consumer. The one overshoot is Kafka's (KIP-74):
//! a broker returns a first batch larger than `max_bytes` whole, so the bound can be passed by
//! one batch (at most the topic's `max.message.bytes`, 1 MiB by default) per broker.
//! Decompressed batches are the caller's memory (each at most
//! [`ConsumerConfig::max_decompressed_bytes`]).
//!
//! Records are decoded when the caller takes them, on the caller's task.
//!
//! # Positions
//!
//! - A start position is an offset, the earliest or latest offset, or the first offset at or
//!   after a timestamp (ListOffsets; a timestamp after the last record starts at the end).
//! - `OFFSET_OUT_OF_RANGE` follows [`ConsumerConfig::auto_offset_reset`]: earliest, latest, or
//!   [`Error::OffsetOutOfRange`] carrying the log start offset and the high watermark.
//! - The current leader epoch goes with every Fetch (KIP-320). When a partition's leader
//!   changes, the position is validated against the new leader (`OffsetForLeaderEpoch` with the
//!   epoch of the last record consumed) before fetching goes on; a log truncated below the
//!   position is [`Error::LogTruncation`] with the divergent offset, or, under an
//!   `earliest`/`latest` reset policy, the position moves back to that offset (as Java does).
//! - Control records are never returned, nor, under `read_committed`, records of aborted
//!   transactions; the position moves over them.

pub(crate) mod fetcher;
pub mod records;

use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use kafkaex_protocol::records::DecodeOptions;
use tokio::sync::Notify;

use crate::client::Client;
use crate::error::{Error, Result};
pub use crate::offsets::{IsolationLevel, TopicPartition};
pub use records::{ConsumerRecord, PartitionRecords};

/// Where a partition's consumption starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartOffset {
    /// At this offset. An offset outside the log follows the reset policy.
    Offset(i64),
    /// At the log start offset.
    Earliest,
    /// At the end: only records written from now on (under `read_committed`, the last stable
    /// offset).
    Latest,
    /// At the first record whose timestamp is at or after this one (milliseconds since the
    /// epoch); at the end when there is none.
    Timestamp(i64),
}

/// What to do when a position is not in the log (`auto.offset.reset`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OffsetReset {
    /// Go to the log start.
    Earliest,
    /// Go to the end (Java's default).
    #[default]
    Latest,
    /// Report [`Error::OffsetOutOfRange`] for the partition, which stops until it is sought.
    None,
}

/// How a [`Consumer`] fetches. Defaults are the Java client's.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// The least data a fetch waits for (`fetch.min.bytes`, 1).
    pub fetch_min_bytes: i32,
    /// The most a fetch asks for (`fetch.max.bytes`, 50 MiB).
    pub fetch_max_bytes: usize,
    /// The most a fetch asks for per partition (`max.partition.fetch.bytes`, 1 MiB).
    pub max_partition_fetch_bytes: usize,
    /// How long a broker may hold a fetch waiting for `fetch_min_bytes` (`fetch.max.wait.ms`,
    /// 500 ms). Below the client's request timeout.
    pub fetch_max_wait: Duration,
    /// `auto.offset.reset` (latest).
    pub auto_offset_reset: OffsetReset,
    /// `isolation.level` (read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `check.crcs` (true): check every batch's CRC.
    pub check_crcs: bool,
    /// The bound on fetched bytes held, buffered plus in flight (`fetch.buffer.bytes`, ours;
    /// 64 MiB, librdkafka's `queued.max.messages.kbytes`).
    pub max_buffer_bytes: usize,
    /// The wait before fetching a partition again after an error (`retry.backoff.ms`, 100 ms).
    pub retry_backoff: Duration,
    /// The largest decompressed size of one batch (64 MiB): a bigger one is an error, not an
    /// allocation.
    pub max_decompressed_bytes: usize,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            fetch_max_wait: Duration::from_millis(500),
            auto_offset_reset: OffsetReset::Latest,
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            max_buffer_bytes: 64 * 1024 * 1024,
            retry_backoff: Duration::from_millis(100),
            max_decompressed_bytes: 64 * 1024 * 1024,
        }
    }
}

impl ConsumerConfig {
    fn validate(&self, net: &kafkaex_net::NetConfig) -> Result<()> {
        let request_timeout = net.request_timeout;
        if self.fetch_max_bytes >= net.max_response_size {
            return Err(Error::config(
                "fetch.max.bytes",
                format!(
                    "must be below the largest response the client reads ({} bytes, \
                     receive.message.max.bytes)",
                    net.max_response_size
                ),
            ));
        }
        if self.fetch_max_bytes == 0 || self.fetch_max_bytes > i32::MAX as usize {
            return Err(Error::config(
                "fetch.max.bytes",
                "must be between 1 and 2^31-1",
            ));
        }
        if self.max_partition_fetch_bytes == 0 || self.max_partition_fetch_bytes > i32::MAX as usize
        {
            return Err(Error::config(
                "max.partition.fetch.bytes",
                "must be between 1 and 2^31-1",
            ));
        }
        if self.max_buffer_bytes == 0 {
            return Err(Error::config("fetch.buffer.bytes", "must be at least 1"));
        }
        if self.fetch_min_bytes < 0 {
            return Err(Error::config("fetch.min.bytes", "must not be negative"));
        }
        if self.fetch_max_wait >= request_timeout
            || self.fetch_max_wait.as_millis() > i32::MAX as u128
        {
            return Err(Error::config(
                "fetch.max.wait.ms",
                format!(
                    "must be below the request timeout ({} ms)",
                    request_timeout.as_millis()
                ),
            ));
        }
        Ok(())
    }

    fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            verify_crc: self.check_crcs,
            max_decompressed_bytes: self.max_decompressed_bytes,
            ..DecodeOptions::default()
        }
    }
}

/// Builds a [`Consumer`]; from [`Client::consumer`].
#[derive(Clone, Debug)]
pub struct ConsumerBuilder {
    client: Client,
    config: ConsumerConfig,
}

impl ConsumerBuilder {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            config: ConsumerConfig::default(),
        }
    }

    /// Everything at once (replaces what was set before).
    pub fn config(mut self, config: ConsumerConfig) -> Self {
        self.config = config;
        self
    }

    /// `fetch.min.bytes`.
    pub fn fetch_min_bytes(mut self, bytes: i32) -> Self {
        self.config.fetch_min_bytes = bytes;
        self
    }

    /// `fetch.max.bytes`.
    pub fn fetch_max_bytes(mut self, bytes: usize) -> Self {
        self.config.fetch_max_bytes = bytes;
        self
    }

    /// `max.partition.fetch.bytes`.
    pub fn max_partition_fetch_bytes(mut self, bytes: usize) -> Self {
        self.config.max_partition_fetch_bytes = bytes;
        self
    }

    /// `fetch.max.wait.ms`.
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.config.fetch_max_wait = wait;
        self
    }

    /// `auto.offset.reset`.
    pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.config.auto_offset_reset = reset;
        self
    }

    /// `isolation.level`.
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.config.isolation_level = level;
        self
    }

    /// The bound on fetched bytes held (buffered plus in flight).
    pub fn max_buffer_bytes(mut self, bytes: usize) -> Self {
        self.config.max_buffer_bytes = bytes;
        self
    }

    /// Starts the consumer (its fetcher task runs on the current Tokio runtime) with nothing
    /// assigned.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for settings that cannot work.
    pub fn build(self) -> Result<Consumer> {
        self.config.validate(&self.client.config().net)?;
        let shared = Arc::new(Shared {
            client: self.client,
            decode: self.config.decode_options(),
            config: self.config,
            state: Mutex::new(State::default()),
            budget: Arc::new(Budget::default()),
        });
        let task = tokio::spawn(fetcher::run(Arc::clone(&shared)));
        Ok(Consumer {
            shared,
            task,
            current: VecDeque::new(),
        })
    }
}

/// A fetch's data for one partition, waiting for the caller.
#[derive(Debug)]
pub(crate) struct Completed {
    pub(crate) key: TopicPartition,
    /// The partition's generation when it was fetched: a seek since makes it stale.
    pub(crate) generation: u64,
    pub(crate) fetch_offset: i64,
    pub(crate) data: CompletedData,
}

/// The count of fetched bytes held (buffered, in flight, or in records the caller still
/// has), and the fetcher's wake-up; shared with the buffers it counts.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub(crate) used: AtomicUsize,
    /// Wakes the fetcher: an assignment, a seek, a resume, bytes released.
    pub(crate) wake: Notify,
}

impl Budget {
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    pub(crate) fn add(&self, n: usize) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    pub(crate) fn sub(&self, n: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(n))
            });
    }
}

/// Keeps a Fetch response's bytes counted while any record fetched in it is alive: the
/// records of every partition of a response share its buffer, which is freed with the last of
/// them. Dropping it releases the bytes and wakes the fetcher.
#[derive(Debug)]
struct FrameGuard {
    bytes: usize,
    budget: Arc<Budget>,
}

impl Drop for FrameGuard {
    fn drop(&mut self) {
        self.budget.sub(self.bytes);
        self.budget.wake.notify_one();
    }
}

/// A partition's records, holding the response's guard.
struct Guarded {
    data: Bytes,
    _guard: Arc<FrameGuard>,
}

impl AsRef<[u8]> for Guarded {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

/// Counts a response's partitions' records (`parts`) against the budget until the last
/// `Bytes` taken from any of them is dropped.
pub(crate) fn guard_frame(parts: Vec<Bytes>, budget: &Arc<Budget>) -> Vec<Bytes> {
    let bytes = parts.iter().map(Bytes::len).sum();
    budget.add(bytes);
    let guard = Arc::new(FrameGuard {
        bytes,
        budget: Arc::clone(budget),
    });
    parts
        .into_iter()
        .map(|data| {
            Bytes::from_owner(Guarded {
                data,
                _guard: Arc::clone(&guard),
            })
        })
        .collect()
}

#[derive(Debug)]
pub(crate) enum CompletedData {
    Records {
        records: Bytes,
        high_watermark: i64,
        last_stable_offset: i64,
        log_start_offset: i64,
        aborted: Vec<(i64, i64)>,
    },
    Error(Error),
}

/// Where a partition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// A start position to look up (ListOffsets).
    Reset(StartOffset),
    /// The log start and high watermark to look up, for [`Error::OffsetOutOfRange`].
    ReportOutOfRange,
    /// A lookup is in flight.
    Looking,
    /// The position is to be checked against the new leader (OffsetForLeaderEpoch).
    Validate,
    /// Fetchable.
    Ready,
    /// Stopped by an error the caller was given; a seek starts it again.
    Failed,
}

#[derive(Debug)]
pub(crate) struct PartState {
    pub(crate) topic: Arc<str>,
    pub(crate) position: i64,
    /// The leader epoch of the last record consumed (or of the position's lookup).
    pub(crate) last_epoch: Option<i32>,
    /// The leader epoch the partition was last fetched under.
    pub(crate) fetch_epoch: Option<i32>,
    pub(crate) status: Status,
    pub(crate) generation: u64,
    pub(crate) paused: bool,
    pub(crate) in_flight: bool,
    pub(crate) buffered: bool,
    /// Not before then (a backoff after an error).
    pub(crate) retry_at: Option<tokio::time::Instant>,
    /// A larger partition fetch size, after a fetch brought only part of a batch (brokers
    /// before KIP-74, Kafka 0.10.1, cut batches at the partition's `max_bytes`).
    pub(crate) fetch_size: Option<usize>,
    /// The high watermark the last fetch saw (-1 before one).
    pub(crate) high_watermark: i64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) partitions: BTreeMap<TopicPartition, PartState>,
    pub(crate) ready: VecDeque<Completed>,
    pub(crate) waker: Option<Waker>,
    pub(crate) closed: bool,
    pub(crate) next_generation: u64,
}

impl State {
    fn wake_consumer(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) config: ConsumerConfig,
    pub(crate) decode: DecodeOptions,
    pub(crate) state: Mutex<State>,
    pub(crate) budget: Arc<Budget>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A consumer of assigned partitions; see the [module documentation](self). Records come from
/// [`Consumer::next_batch`] (one partition's records at a time) or [`Consumer::recv`] (one
/// record at a time), or the consumer as a [`futures_core::Stream`] of batches.
///
/// Dropping it stops its fetching.
#[derive(Debug)]
pub struct Consumer {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    /// The rest of the batch [`Consumer::recv`] is handing out.
    current: VecDeque<ConsumerRecord>,
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.task.abort();
    }
}

impl Consumer {
    /// Assigns partitions, each with its start position (a partition already assigned moves to
    /// the new position). Other assigned partitions are kept.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty topic name or a negative partition, and for a
    /// negative offset or timestamp.
    pub fn assign(
        &mut self,
        partitions: impl IntoIterator<Item = (TopicPartition, StartOffset)>,
    ) -> Result<()> {
        let partitions: Vec<(TopicPartition, StartOffset)> = partitions.into_iter().collect();
        for (tp, start) in &partitions {
            check_partition(tp)?;
            check_start(tp, *start)?;
        }
        let mut state = self.shared.lock();
        for (tp, start) in partitions.iter().cloned() {
            state.next_generation += 1;
            let generation = state.next_generation;
            let topic: Arc<str> = Arc::from(tp.topic.as_str());
            let (position, status) = initial(start);
            let part = state.partitions.entry(tp).or_insert_with(|| PartState {
                topic,
                position,
                last_epoch: None,
                fetch_epoch: None,
                status,
                generation,
                paused: false,
                in_flight: false,
                buffered: false,
                retry_at: None,
                fetch_size: None,
                high_watermark: -1,
            });
            part.position = position;
            part.status = status;
            part.generation = generation;
            part.last_epoch = None;
            part.retry_at = None;
        }
        drop_stale(&mut state);
        drop(state);
        self.current.retain(|r| {
            !partitions
                .iter()
                .any(|(tp, _)| *r.topic == *tp.topic && r.partition == tp.partition)
        });
        self.shared.budget.wake.notify_one();
        Ok(())
    }

    /// Stops consuming these partitions (what was fetched of them is dropped).
    pub fn unassign<'a>(&mut self, partitions: impl IntoIterator<Item = &'a TopicPartition>) {
        let mut state = self.shared.lock();
        for tp in partitions {
            state.partitions.remove(tp);
            self.current
                .retain(|r| !(*r.topic == *tp.topic && r.partition == tp.partition));
        }
        drop_stale(&mut state);
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.shared.lock().partitions.keys().cloned().collect()
    }

    /// Moves an assigned partition to `start`: records fetched from the old position are
    /// dropped, and a partition stopped by an error starts again.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the partition is not assigned or the position is
    /// negative.
    pub fn seek(&mut self, tp: &TopicPartition, start: StartOffset) -> Result<()> {
        check_start(tp, start)?;
        let mut state = self.shared.lock();
        state.next_generation += 1;
        let generation = state.next_generation;
        let Some(part) = state.partitions.get_mut(tp) else {
            return Err(Error::InvalidArgument(format!("{tp} is not assigned")));
        };
        let (position, status) = initial(start);
        part.position = position;
        part.status = status;
        part.generation = generation;
        part.last_epoch = None;
        part.retry_at = None;
        drop_stale(&mut state);
        drop(state);
        self.current
            .retain(|r| !(*r.topic == *tp.topic && r.partition == tp.partition));
        self.shared.budget.wake.notify_one();
        Ok(())
    }

    /// Stops fetching and returning these partitions until [`Consumer::resume`]; what is
    /// buffered of them is kept for then.
    pub fn pause<'a>(&self, partitions: impl IntoIterator<Item = &'a TopicPartition>) {
        let mut state = self.shared.lock();
        for tp in partitions {
            if let Some(p) = state.partitions.get_mut(tp) {
                p.paused = true;
            }
        }
    }

    /// Fetches and returns these partitions again.
    pub fn resume<'a>(&self, partitions: impl IntoIterator<Item = &'a TopicPartition>) {
        let mut state = self.shared.lock();
        for tp in partitions {
            if let Some(p) = state.partitions.get_mut(tp) {
                p.paused = false;
            }
        }
        state.wake_consumer();
        drop(state);
        self.shared.budget.wake.notify_one();
    }

    /// The paused partitions.
    pub fn paused(&self) -> Vec<TopicPartition> {
        let state = self.shared.lock();
        state
            .partitions
            .iter()
            .filter(|(_, p)| p.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The offset of the next record to be returned of an assigned partition, once known
    /// (a start position still being looked up has none). Records handed out in a batch
    /// count as returned.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        let state = self.shared.lock();
        let part = state.partitions.get(tp)?;
        match part.status {
            Status::Reset(_) | Status::Looking if part.position < 0 => None,
            _ => Some(part.position),
        }
    }

    /// The leader epoch of the last record returned of an assigned partition (what a commit
    /// of its position carries), when known.
    pub fn last_epoch(&self, tp: &TopicPartition) -> Option<i32> {
        self.shared.lock().partitions.get(tp)?.last_epoch
    }

    /// The fetched bytes counted against [`ConsumerConfig::max_buffer_bytes`]: buffered, what
    /// the fetches in flight may bring, and the responses whose records the caller still holds.
    pub fn buffered_bytes(&self) -> usize {
        self.shared.budget.used()
    }

    /// The next partition's records, in order per partition; an `Err` for a partition that
    /// stopped (an offset out of range under [`OffsetReset::None`], a truncated log, corrupt
    /// records, an authorization failure), which it stays until sought. `None` once closed.
    /// Waits while nothing is buffered.
    pub async fn next_batch(&mut self) -> Option<Result<PartitionRecords>> {
        poll_fn(|cx| self.poll_batch(cx)).await
    }

    /// The next record; see [`Consumer::next_batch`].
    pub async fn recv(&mut self) -> Option<Result<ConsumerRecord>> {
        loop {
            if let Some(r) = self.current.pop_front() {
                return Some(Ok(r));
            }
            match self.next_batch().await? {
                Ok(batch) => self.current.extend(batch.records),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Polls for the next batch (what [`Consumer::next_batch`] awaits).
    pub fn poll_batch(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<PartitionRecords>>> {
        loop {
            let mut state = self.shared.lock();
            if state.closed {
                return Poll::Ready(None);
            }
            let at = state.ready.iter().position(|c| {
                state
                    .partitions
                    .get(&c.key)
                    .is_some_and(|p| !p.paused && p.generation == c.generation)
            });
            let Some(at) = at else {
                state.waker = Some(cx.waker().clone());
                return Poll::Pending;
            };
            let Some(completed) = state.ready.remove(at) else {
                continue;
            };
            let topic = state
                .partitions
                .get(&completed.key)
                .map(|p| Arc::clone(&p.topic))
                .unwrap_or_else(|| Arc::from(completed.key.topic.as_str()));
            drop(state);
            // Decoding happens here, on the caller's task, without the lock.
            let outcome = self.take(topic, &completed);
            let mut state = self.shared.lock();
            let current = state
                .partitions
                .get_mut(&completed.key)
                .filter(|p| p.generation == completed.generation);
            let Some(part) = current else {
                // Sought or unassigned meanwhile.
                drop(state);
                self.shared.budget.wake.notify_one();
                continue;
            };
            part.buffered = false;
            let result = match outcome {
                Taken::Records(batch, last_epoch) => {
                    part.position = batch.next_offset;
                    if last_epoch.is_some() {
                        part.last_epoch = last_epoch;
                    }
                    if batch.records.is_empty() {
                        // Only control records or aborted transactions: nothing to return.
                        drop(state);
                        self.shared.budget.wake.notify_one();
                        continue;
                    }
                    Ok(batch)
                }
                Taken::TooSmall => {
                    let now = part
                        .fetch_size
                        .unwrap_or(self.shared.config.max_partition_fetch_bytes);
                    let max = self.shared.config.fetch_max_bytes;
                    if now >= max {
                        part.status = Status::Failed;
                        Err(Error::RecordTooLarge {
                            size: now.saturating_add(1),
                            max,
                            limit: "fetch.max.bytes",
                        })
                    } else {
                        part.fetch_size = Some(now.saturating_mul(2).min(max));
                        drop(state);
                        self.shared.budget.wake.notify_one();
                        continue;
                    }
                }
                Taken::Failed(e) => {
                    part.status = Status::Failed;
                    Err(e)
                }
            };
            drop(state);
            self.shared.budget.wake.notify_one();
            return Poll::Ready(Some(result));
        }
    }

    fn take(&self, topic: Arc<str>, completed: &Completed) -> Taken {
        match &completed.data {
            CompletedData::Error(e) => Taken::Failed(e.clone()),
            CompletedData::Records {
                records,
                high_watermark,
                last_stable_offset,
                log_start_offset,
                aborted,
            } => {
                let input = records::DecodeInput {
                    topic: &topic,
                    partition: completed.key.partition,
                    fetch_offset: completed.fetch_offset,
                    isolation: self.shared.config.isolation_level,
                    aborted,
                    options: &self.shared.decode,
                };
                match records::decode_partition(records.clone(), &input) {
                    Ok(d) if d.only_partial => Taken::TooSmall,
                    Ok(d) => Taken::Records(
                        PartitionRecords {
                            topic,
                            partition: completed.key.partition,
                            records: d.records,
                            next_offset: d.next_offset,
                            high_watermark: *high_watermark,
                            last_stable_offset: *last_stable_offset,
                            log_start_offset: *log_start_offset,
                        },
                        d.last_epoch,
                    ),
                    Err(source) => Taken::Failed(Error::CorruptRecords {
                        topic: completed.key.topic.clone(),
                        partition: completed.key.partition,
                        offset: completed.fetch_offset,
                        source,
                    }),
                }
            }
        }
    }

    /// Stops fetching; later calls of [`Consumer::next_batch`] return `None`.
    pub async fn close(mut self) {
        self.shared.lock().closed = true;
        self.shared.budget.wake.notify_one();
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }
}

enum Taken {
    Records(PartitionRecords, Option<i32>),
    TooSmall,
    Failed(Error),
}

impl futures_core::Stream for Consumer {
    type Item = Result<PartitionRecords>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_batch(cx)
    }
}

fn initial(start: StartOffset) -> (i64, Status) {
    match start {
        StartOffset::Offset(o) => (o, Status::Ready),
        other => (-1, Status::Reset(other)),
    }
}

fn check_partition(tp: &TopicPartition) -> Result<()> {
    if tp.topic.is_empty() {
        return Err(Error::InvalidArgument("an empty topic name".into()));
    }
    if tp.partition < 0 {
        return Err(Error::InvalidArgument(format!(
            "{tp}: a negative partition"
        )));
    }
    Ok(())
}

fn check_start(tp: &TopicPartition, start: StartOffset) -> Result<()> {
    match start {
        StartOffset::Offset(o) if o < 0 => Err(Error::InvalidArgument(format!(
            "{tp}: a negative offset ({o})"
        ))),
        StartOffset::Timestamp(t) if t < 0 => Err(Error::InvalidArgument(format!(
            "{tp}: a negative timestamp ({t})"
        ))),
        _ => Ok(()),
    }
}

/// Drops buffered fetches of partitions that were sought or unassigned (their bytes are
/// released as their buffers go).
fn drop_stale(state: &mut State) {
    let State {
        partitions, ready, ..
    } = state;
    ready.retain(|c| {
        partitions
            .get(&c.key)
            .is_some_and(|p| p.generation == c.generation)
    });
    for (tp, p) in partitions.iter_mut() {
        p.buffered = ready.iter().any(|c| &c.key == tp);
    }
}
