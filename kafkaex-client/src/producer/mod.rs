//! The producer: records into per-partition batches, one Produce request per broker for every
//! ready partition it leads, idempotent by default.
//!
//! # Sending is two stages
//!
//! `producer.send(record).await` waits only for room in the buffer ([`ProducerConfig::buffer_memory`]
//! bytes; back-pressure), appends the record to its partition's batch and returns a
//! [`DeliveryFuture`]. Awaiting that gives the record's partition, offset and timestamp once its
//! batch is acknowledged, or an error whose [`persistence`](crate::Error::persistence) says
//! whether the record is in the log anyway. The first stage is cancel-safe: a `send` dropped
//! before it resolves did not append anything. Dropping a delivery future never cancels the
//! delivery. [`Producer::try_send`] fails at once when the buffer is full;
//! [`Producer::flush`] waits for everything sent so far; [`Producer::close`] delivers or fails
//! everything pending. Nothing is dropped silently: a record is acknowledged, or its future
//! fails.
//!
//! ```no_run
//! use kafkaex_client::producer::ProducerRecord;
//! use kafkaex_client::Client;
//!
//! # async fn example() -> Result<(), kafkaex_client::Error> {
//! let client = Client::builder().bootstrap(["localhost:9092"]).build().await?;
//! let producer = client.producer().build().await?;
//! let delivery = producer
//!     .send(ProducerRecord::new("payments").key("order-17").value("12.00"))
//!     .await?; // room in the buffer
//! let written = delivery.await?; // acknowledged
//! println!("{}-{} at offset {}", written.topic, written.partition, written.offset);
//! producer.close().await;
//! # Ok(()) }
//! ```
//!
//! # How records travel
//!
//! Each partition has one open batch (a [`RecordBatchBuilder`] the record is encoded into on the
//! sending task) and a queue of closed ones. A batch closes when it reaches
//! [`ProducerConfig::batch_size`] bytes, when its [`ProducerConfig::linger`] has passed, on
//! [`Producer::flush`], or when the buffer is full and others wait. One background task (the
//! sender) finds, per broker, the partitions it leads that have a batch to send, and sends one
//! Produce request with one batch of each (up to [`ProducerConfig::max_request_size`]), at most
//! [`ProducerConfig::max_in_flight`] requests in flight per broker. See the sender's module for
//! retries and idempotence.

mod delivery;
mod metrics;
mod partitioner;
mod record;
mod sender;

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafkaex_net::metadata::LeaderLookup;
use kafkaex_protocol::records::{Compression, RecordBatchBuilder};
use rustc_hash::FxHashMap;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

pub use delivery::DeliveryFuture;
pub use metrics::ProducerMetrics;
pub use partitioner::{DefaultPartitioner, PartitionInfo, Partitioner};
pub use record::{ProducerRecord, RecordMetadata};

use crate::client::Client;
use crate::config::{Acks, ProducerConfig};
use crate::error::{Error, Persistence, Result};
use delivery::BatchShared;
use metrics::Counters;

/// Builds a [`Producer`] on a [`Client`].
#[derive(Debug)]
pub struct ProducerBuilder {
    client: Client,
    config: ProducerConfig,
    partitioner: Option<Arc<dyn Partitioner>>,
}

impl ProducerBuilder {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            config: ProducerConfig::default(),
            partitioner: None,
        }
    }

    /// Every setting at once (replaces what was set before).
    pub fn config(mut self, config: ProducerConfig) -> Self {
        self.config = config;
        self
    }

    /// `acks`.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.config.acks = acks;
        self
    }

    /// How long a batch waits for more records.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.config.linger = linger;
        self
    }

    /// The batch size in bytes.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.config.batch_size = bytes;
        self
    }

    /// The codec.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.config.compression = compression;
        self
    }

    /// The codec's level (gzip 1-9, lz4 1-17, zstd -131072 to 22); checked by
    /// [`ProducerBuilder::build`].
    pub fn compression_level(mut self, level: i32) -> Self {
        self.config.compression_level = Some(level);
        self
    }

    /// Idempotent delivery (on by default).
    pub fn idempotence(mut self, enabled: bool) -> Self {
        self.config.idempotence = enabled;
        self
    }

    /// The buffer size in bytes.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.config.buffer_memory = bytes;
        self
    }

    /// The delivery timeout.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.config.delivery_timeout = timeout;
        self
    }

    /// The largest Produce request, in bytes.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.config.max_request_size = bytes;
        self
    }

    /// Requests in flight per broker.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.config.max_in_flight = requests;
        self
    }

    /// A partitioner for records that do not name their partition, instead of Java's default.
    pub fn partitioner(mut self, partitioner: impl Partitioner + 'static) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }

    /// Starts the producer (its sender task).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for settings that cannot work together (idempotence with more than 5
    /// requests in flight or without `acks=all`, a batch larger than a request, an empty
    /// buffer).
    pub async fn build(self) -> Result<Producer> {
        let c = &self.config;
        if c.idempotence && c.max_in_flight > 5 {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                "at most 5 with enable.idempotence (what a broker remembers per producer)",
            ));
        }
        if c.idempotence && c.acks != Acks::All {
            return Err(Error::config(
                "acks",
                "enable.idempotence needs acks=all (or set enable.idempotence=false)",
            ));
        }
        if c.max_in_flight == 0 {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                "must be at least 1",
            ));
        }
        if c.buffer_memory == 0 || c.batch_size == 0 {
            return Err(Error::config(
                "buffer.memory",
                "buffer.memory and batch.size must be positive",
            ));
        }
        if let Some(level) = c.compression_level {
            let fits = kafkaex_protocol::records::compression::level_range(c.compression)
                .is_some_and(|range| range.contains(&level));
            if !fits {
                return Err(Error::config(
                    "compression.level",
                    format!("{:?} has no level {level}", c.compression),
                ));
            }
        }
        if c.buffer_memory > (u32::MAX as usize) {
            return Err(Error::config("buffer.memory", "at most 4 GiB"));
        }
        let shared = Arc::new(Shared {
            client: self.client,
            memory: Semaphore::new(c.buffer_memory),
            config: self.config,
            topics: RwLock::new(FxHashMap::default()),
            wake: Notify::new(),
            closing: AtomicBool::new(false),
            fatal: OnceLock::new(),
            partitioner: self.partitioner,
            counters: Counters::default(),
            incomplete: Mutex::new(BTreeSet::new()),
            next_batch_id: AtomicU64::new(0),
            flush_until: AtomicU64::new(0),
            batch_done: Notify::new(),
        });
        let sender = tokio::spawn(sender::run(Arc::clone(&shared)));
        Ok(Producer {
            inner: Arc::new(ProducerHandle {
                shared,
                sender: Mutex::new(Some(sender)),
            }),
        })
    }
}

/// Sends records to a cluster; see the [module documentation](self). Cheap to clone: clones
/// share the buffer and the sender.
#[derive(Clone, Debug)]
pub struct Producer {
    inner: Arc<ProducerHandle>,
}

#[derive(Debug)]
struct ProducerHandle {
    shared: Arc<Shared>,
    sender: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// An open batch: records are encoded into it as they are sent.
#[derive(Debug)]
pub(crate) struct OpenBatch {
    id: u64,
    builder: RecordBatchBuilder,
    /// The records capacity the builder was made with.
    capacity: usize,
    shared: Arc<BatchShared>,
    records: u32,
    memory: usize,
    created: Instant,
}

/// A closed batch, waiting to be sent (or sent again).
#[derive(Debug)]
pub(crate) struct ReadyBatch {
    pub(crate) id: u64,
    pub(crate) bytes: Bytes,
    pub(crate) shared: Arc<BatchShared>,
    pub(crate) records: u32,
    pub(crate) memory: usize,
    /// When its first record was sent: the delivery timeout counts from here.
    pub(crate) created: Instant,
    /// Sends so far.
    pub(crate) attempts: u32,
    /// Not before then (a retry's backoff).
    pub(crate) retry_at: Option<Instant>,
    /// Whether it was ever written to a broker (it may be in the log).
    pub(crate) sent: bool,
    /// Whether it may be in the log under its current stamp with no answer since saying
    /// otherwise (a lost response, a timeout). Such a batch is sent again under that stamp,
    /// where the broker recognises a duplicate, before the epoch changes: renumbered under a
    /// new epoch it would be written twice.
    pub(crate) unresolved: bool,
    /// The producer id, epoch and base sequence it carries, for an idempotent producer.
    pub(crate) stamp: Option<(i64, i16, i32)>,
    /// For a part of a batch that was split: where its records start among the original's,
    /// and where the parts' outcomes meet.
    pub(crate) first_index: u32,
    pub(crate) join: Option<Arc<Mutex<SplitJoin>>>,
}

impl ReadyBatch {
    /// What a failure of this batch says about its records: possibly in the log once it was
    /// written, certainly not before.
    pub(crate) fn failure_persistence(&self) -> Persistence {
        if self.sent {
            Persistence::PossiblyPersisted
        } else {
            Persistence::NotPersisted
        }
    }
}

/// The parts of a split batch report here; the original batch completes with the last.
#[derive(Debug)]
pub(crate) struct SplitJoin {
    pub(crate) segments: Vec<delivery::Segment>,
    pub(crate) pending: u32,
    pub(crate) memory: usize,
}

/// One partition's batches.
#[derive(Debug, Default)]
pub(crate) struct PartitionQueue {
    pub(crate) open: Option<OpenBatch>,
    pub(crate) ready: VecDeque<ReadyBatch>,
    /// Bytes of records in this partition's last closed batch, for sizing the next one.
    last_batch: usize,
}

impl PartitionQueue {
    /// Puts a batch back among the ready ones in send order, before later batches: by id, and
    /// the parts of a split batch (which share its id) by where their records start.
    pub(crate) fn requeue(&mut self, batch: ReadyBatch) {
        let key = (batch.id, batch.first_index);
        let at = self
            .ready
            .iter()
            .position(|b| (b.id, b.first_index) > key)
            .unwrap_or(self.ready.len());
        self.ready.insert(at, batch);
    }
}

/// A topic's partitions as the producer knows them.
#[derive(Debug)]
pub(crate) struct TopicQueues {
    pub(crate) name: Arc<str>,
    pub(crate) partitions: Vec<Mutex<PartitionQueue>>,
    /// Partitions with a leader, for the sticky partitioner; refreshed by the sender.
    pub(crate) available: RwLock<Vec<i32>>,
    sticky: DefaultPartitioner,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the producer's handles and its sender share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) config: ProducerConfig,
    /// The buffer, in bytes of records (each record's estimated size).
    pub(crate) memory: Semaphore,
    pub(crate) topics: RwLock<FxHashMap<Arc<str>, Arc<TopicQueues>>>,
    /// Wakes the sender: a batch closed, a batch opened (its linger must be watched), a flush.
    pub(crate) wake: Notify,
    pub(crate) closing: AtomicBool,
    /// Set when the idempotent producer cannot go on; every send fails with it.
    pub(crate) fatal: OnceLock<Error>,
    partitioner: Option<Arc<dyn Partitioner>>,
    pub(crate) counters: Counters,
    /// Ids of batches not yet acknowledged or failed, for `flush`.
    incomplete: Mutex<BTreeSet<u64>>,
    next_batch_id: AtomicU64,
    /// Batches with an id below this close now (a flush).
    pub(crate) flush_until: AtomicU64,
    batch_done: Notify,
}

impl Shared {
    pub(crate) fn topics(&self) -> Vec<Arc<TopicQueues>> {
        self.topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Ends a batch whose futures were resolved: its memory returns to the buffer.
    pub(crate) fn finish_batch(&self, id: u64, memory: usize, shared: &BatchShared) {
        debug_assert!(shared.is_complete());
        self.memory.add_permits(memory);
        lock(&self.incomplete).remove(&id);
        self.batch_done.notify_waiters();
    }

    pub(crate) fn buffer_used(&self) -> usize {
        self.config
            .buffer_memory
            .saturating_sub(self.memory.available_permits())
    }

    /// Whether the buffer is (almost) full, so that sends wait for room.
    pub(crate) fn buffer_exhausted(&self) -> bool {
        self.memory.available_permits() < self.config.batch_size.min(self.config.buffer_memory / 4)
    }

    /// Resolves a (possibly split) batch's futures with `result` and, once every part is in,
    /// returns its memory.
    pub(crate) fn complete(&self, batch: &ReadyBatch, result: Result<delivery::BatchAck, Error>) {
        match &batch.join {
            None => {
                batch.shared.complete(result);
                self.finish_batch(batch.id, batch.memory, &batch.shared);
            }
            Some(join) => {
                let mut join = lock(join);
                join.segments.push(delivery::Segment {
                    start: batch.first_index,
                    result,
                });
                join.pending = join.pending.saturating_sub(1);
                if join.pending == 0 {
                    batch
                        .shared
                        .complete_segments(std::mem::take(&mut join.segments));
                    self.finish_batch(batch.id, join.memory, &batch.shared);
                }
            }
        }
    }

    /// Closes the open batch of `queue` (encoding its header, compressing).
    pub(crate) fn close_open(&self, queue: &mut PartitionQueue) -> Result<()> {
        let Some(open) = queue.open.take() else {
            return Ok(());
        };
        queue.last_batch = open.builder.records_size();
        let capacity = open.capacity;
        let bytes = open
            .builder
            .finish()
            .map(|bytes| {
                // A batch that closed early (linger, flush) with most of its buffer unused
                // would hold that memory, uncounted, until acknowledged: keep a copy of its
                // size instead.
                if bytes.len() < capacity / 2 {
                    Bytes::copy_from_slice(&bytes)
                } else {
                    bytes
                }
            })
            .map_err(|e| Error::InvalidArgument(format!("the batch could not be encoded: {e}")));
        match bytes {
            Ok(bytes) => {
                queue.ready.push_back(ReadyBatch {
                    id: open.id,
                    bytes,
                    shared: open.shared,
                    records: open.records,
                    memory: open.memory,
                    created: open.created,
                    attempts: 0,
                    retry_at: None,
                    sent: false,
                    unresolved: false,
                    stamp: None,
                    first_index: 0,
                    join: None,
                });
                self.counters.batches_queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                open.shared.complete(Err(e.clone()));
                self.finish_batch(open.id, open.memory, &open.shared);
                Err(e)
            }
        }
    }

    /// Whether an open batch is due to close at `now`: its linger passed, a flush or close
    /// asks for it, or the buffer is full while nothing is in flight (`idle`), so that no
    /// acknowledgement is coming to make room and only sending it can. (With requests in
    /// flight, closing batches early would only cut them small.)
    pub(crate) fn open_due(&self, open: &OpenBatch, now: Instant, idle: bool) -> bool {
        open.id < self.flush_until.load(Ordering::Relaxed)
            || now >= open.created + self.config.linger
            || self.closing.load(Ordering::Relaxed)
            || (idle && self.buffer_exhausted())
    }

    /// When an open batch's linger ends.
    pub(crate) fn open_deadline(&self, open: &OpenBatch) -> Instant {
        open.created + self.config.linger
    }
}

/// The smallest buffer a new batch gets.
const MIN_BATCH_CAPACITY: usize = 16 * 1024;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Producer {
    fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    fn check_open(&self) -> Result<()> {
        let shared = self.shared();
        if let Some(fatal) = shared.fatal.get() {
            return Err(fatal.clone());
        }
        if shared.closing.load(Ordering::Relaxed) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn check_size(&self, size: usize) -> Result<()> {
        let c = &self.shared().config;
        // A batch's header and the request around it take some of the request.
        let max_request = c.max_request_size.saturating_sub(256);
        if size > max_request {
            return Err(Error::RecordTooLarge {
                size,
                max: max_request,
                limit: "max.request.size",
            });
        }
        if size > c.buffer_memory {
            return Err(Error::RecordTooLarge {
                size,
                max: c.buffer_memory,
                limit: "buffer.memory",
            });
        }
        Ok(())
    }

    /// Sends `record`: waits for room in the buffer, appends it to its partition's batch, and
    /// returns the future of its delivery. Waits for the topic's metadata on its first use.
    ///
    /// Cancel-safe: dropped before it resolves, it appended nothing.
    ///
    /// # Errors
    ///
    /// [`Error::RecordTooLarge`] at once for a record no request could carry;
    /// [`Error::InvalidArgument`] for a partition the topic does not have;
    /// [`Error::Request`] when the topic's metadata cannot be had (it does not exist and may not
    /// be created); [`Error::Closed`] after [`Producer::close`]; [`Error::Fatal`] once the
    /// idempotent producer was fenced.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        // A loop of sends that always find room would otherwise never yield: on a
        // single-threaded runtime the sender task (and everything else) would starve.
        tokio::task::consume_budget().await;
        self.check_open()?;
        let size = record.estimated_size();
        self.check_size(size)?;
        let topic = self.topic(&record.topic).await?;
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        let memory = &self.shared().memory;
        // Room now (the usual case) without a future; else wait in line.
        match memory.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(_) => memory
                .acquire_many(permits)
                .await
                .map_err(|_| Error::Closed)?
                .forget(),
        }
        self.check_open()
            .inspect_err(|_| self.shared().memory.add_permits(size))?;
        self.append(&topic, record, size)
    }

    /// [`Producer::send`] without waiting: fails with [`Error::BufferFull`] when the buffer has
    /// no room, and with [`Error::InvalidArgument`] when the topic's metadata is not cached yet
    /// (a background refresh is started; try again).
    pub fn try_send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        self.check_open()?;
        let size = record.estimated_size();
        self.check_size(size)?;
        let topic = match self.cached_topic(&record.topic) {
            Some(t) => t,
            None => {
                let producer = self.clone();
                let name = Arc::clone(&record.topic);
                tokio::spawn(async move {
                    let _ = producer.topic(&name).await;
                });
                return Err(Error::InvalidArgument(format!(
                    "the metadata of {} is not known yet",
                    record.topic
                )));
            }
        };
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        match self.shared().memory.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(_) => {
                return Err(Error::BufferFull {
                    used: self.shared().buffer_used(),
                    limit: self.shared().config.buffer_memory,
                })
            }
        }
        self.append(&topic, record, size)
    }

    /// Sends every record in order; one future per record.
    pub async fn send_all(
        &self,
        records: impl IntoIterator<Item = ProducerRecord>,
    ) -> Result<Vec<DeliveryFuture>> {
        let mut out = Vec::new();
        for record in records {
            out.push(self.send(record).await?);
        }
        Ok(out)
    }

    /// Waits until every record sent before the call is acknowledged or failed (closing open
    /// batches without their linger).
    pub async fn flush(&self) {
        let shared = self.shared();
        let upto = shared.next_batch_id.load(Ordering::Relaxed);
        shared.flush_until.fetch_max(upto, Ordering::Relaxed);
        shared.wake.notify_one();
        loop {
            let notified = shared.batch_done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pending = lock(&shared.incomplete)
                .first()
                .is_some_and(|first| *first < upto);
            if !pending {
                return;
            }
            notified.await;
        }
    }

    /// Stops accepting records, delivers (or fails) everything pending within the delivery
    /// timeout, and ends the sender. Later sends fail with [`Error::Closed`].
    pub async fn close(&self) {
        let shared = self.shared();
        shared.closing.store(true, Ordering::Relaxed);
        shared.wake.notify_one();
        self.flush().await;
        let sender = lock(&self.inner.sender).take();
        if let Some(sender) = sender {
            shared.wake.notify_one();
            let _ = sender.await;
        }
    }

    /// A snapshot of the producer's counters.
    pub fn metrics(&self) -> ProducerMetrics {
        let shared = self.shared();
        shared
            .counters
            .snapshot(shared.buffer_used(), shared.config.buffer_memory)
    }

    /// The settings.
    pub fn config(&self) -> &ProducerConfig {
        &self.shared().config
    }

    fn cached_topic(&self, name: &str) -> Option<Arc<TopicQueues>> {
        self.shared()
            .topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The topic's queues, learning its partitions from the metadata on first use (creating
    /// it when the client allows and the broker agrees).
    async fn topic(&self, name: &Arc<str>) -> Result<Arc<TopicQueues>> {
        if let Some(t) = self.cached_topic(name) {
            return Ok(t);
        }
        let shared = self.shared();
        let client = &shared.client;
        let deadline = Instant::now() + shared.config.delivery_timeout.min(Duration::from_secs(60));
        let mut backoff = Duration::from_millis(10);
        loop {
            let known = client.cluster().with_metadata(|m| {
                let topic = m.topic(name)?;
                let count = topic.partition_count();
                (count > 0).then_some(count)
            });
            if let Some(count) = known {
                let queues = Arc::new(TopicQueues {
                    name: Arc::clone(name),
                    partitions: (0..count)
                        .map(|_| Mutex::new(PartitionQueue::default()))
                        .collect(),
                    available: RwLock::new((0..count as i32).collect()),
                    sticky: DefaultPartitioner::new(shared.config.batch_size),
                });
                let mut topics = shared
                    .topics
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                let entry = topics.entry(Arc::clone(name)).or_insert(queues);
                return Ok(Arc::clone(entry));
            }
            let refreshed = client.refresh_metadata(&[name.as_ref()]).await;
            let lookup = client.cluster().with_metadata(|m| m.leader(name, 0));
            if let LeaderLookup::Error(code) = lookup {
                return Err(Error::Broker {
                    code,
                    scope: kafkaex_net::ErrorScope::Topic(name.to_string()),
                    message: Some("the topic's metadata carries this error".into()),
                });
            }
            if Instant::now() >= deadline {
                return Err(match refreshed {
                    Err(e) => e,
                    Ok(_) => Error::InvalidArgument(format!(
                        "topic {name} has no partitions in the metadata (it does not exist, and \
                         is not auto-created)"
                    )),
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
    }

    /// Appends `record` (whose `size` bytes of buffer are held) to its partition's open batch.
    fn append(
        &self,
        topic: &TopicQueues,
        record: ProducerRecord,
        size: usize,
    ) -> Result<DeliveryFuture> {
        let shared = self.shared();
        let count = topic.partitions.len() as i32;
        let partition = match record.partition {
            Some(p) if (0..count).contains(&p) => p,
            Some(p) => {
                shared.memory.add_permits(size);
                return Err(Error::InvalidArgument(format!(
                    "{} has {count} partitions, not partition {p}",
                    topic.name
                )));
            }
            None => {
                let available = topic
                    .available
                    .read()
                    .unwrap_or_else(PoisonError::into_inner);
                let info = PartitionInfo {
                    count,
                    available: &available,
                };
                let key = record.key.as_deref();
                let p = match &shared.partitioner {
                    Some(custom) => custom.partition(&topic.name, key, size, info),
                    None => topic.sticky.partition(&topic.name, key, size, info),
                };
                if !(0..count).contains(&p) {
                    drop(available);
                    shared.memory.add_permits(size);
                    return Err(Error::InvalidArgument(format!(
                        "the partitioner chose partition {p} of {}, which has {count}",
                        topic.name
                    )));
                }
                p
            }
        };
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let config = &shared.config;
        let mut queue = lock(&topic.partitions[partition as usize]);
        let full = queue.open.as_ref().is_some_and(|open| {
            open.records > 0 && open.builder.records_size() + size > config.batch_size
        });
        let mut closed = false;
        if full {
            // An encoding failure of the old batch fails its own records, not this one.
            let _ = shared.close_open(&mut queue);
            closed = true;
        }
        let opened = queue.open.is_none();
        if opened {
            let id = shared.next_batch_id.fetch_add(1, Ordering::Relaxed);
            lock(&shared.incomplete).insert(id);
            // Sized by the partition's last batch: a busy partition's batch is allocated
            // whole (its records never exceed batch.size, so it never grows), a quiet one's
            // small.
            let capacity = (queue.last_batch.saturating_mul(2))
                .clamp(
                    MIN_BATCH_CAPACITY,
                    config.batch_size.max(MIN_BATCH_CAPACITY),
                )
                .max(size);
            let mut builder =
                RecordBatchBuilder::with_capacity(0, timestamp, config.compression, capacity);
            builder.compression_level(config.compression_level);
            queue.open = Some(OpenBatch {
                id,
                builder,
                capacity,
                shared: BatchShared::new(Arc::clone(&topic.name), partition),
                records: 0,
                memory: 0,
                created: Instant::now(),
            });
        }
        let Some(open) = queue.open.as_mut() else {
            unreachable!("an open batch was just ensured")
        };
        if let Err(e) = open.builder.append(
            timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        ) {
            drop(queue);
            shared.memory.add_permits(size);
            return Err(Error::InvalidArgument(format!(
                "the record cannot be encoded: {e}"
            )));
        }
        let future = DeliveryFuture {
            batch: Arc::clone(&open.shared),
            index: open.records,
            timestamp,
        };
        open.records += 1;
        open.memory += size;
        if open.builder.records_size() >= config.batch_size {
            let _ = shared.close_open(&mut queue);
            closed = true;
        }
        drop(queue);
        if closed || opened {
            shared.wake.notify_one();
        }
        Ok(future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(id: u64, first_index: u32) -> ReadyBatch {
        ReadyBatch {
            id,
            bytes: Bytes::new(),
            shared: BatchShared::new(Arc::from("t"), 0),
            records: 1,
            memory: 0,
            created: Instant::now(),
            attempts: 1,
            retry_at: None,
            sent: false,
            unresolved: false,
            stamp: None,
            first_index,
            join: None,
        }
    }

    #[test]
    fn requeued_parts_of_a_split_batch_keep_their_order() {
        let mut q = PartitionQueue::default();
        // The rest of a split batch 7 is queued, then batch 9; the first part comes back.
        q.requeue(batch(9, 0));
        q.requeue(batch(7, 50));
        q.requeue(batch(7, 0));
        q.requeue(batch(3, 0));
        let order: Vec<(u64, u32)> = q.ready.iter().map(|b| (b.id, b.first_index)).collect();
        assert_eq!(order, vec![(3, 0), (7, 0), (7, 50), (9, 0)]);
    }
}
