//! The producer's sender: one task that closes batches whose linger has passed, sends one
//! Produce request per broker with a batch of every ready partition that broker leads, and
//! acts on the answers.
//!
//! # Retries
//!
//! A batch that fails with a retriable error (a connection lost, a timeout, `NOT_LEADER_OR_FOLLOWER`,
//! `NOT_ENOUGH_REPLICAS`, ...) goes back to the front of its partition's queue, in the order of
//! its records, and is sent again after a backoff (`retry.backoff.ms` doubling up to
//! `retry.backoff.max.ms`) until the delivery timeout; a retried batch is sent only when nothing
//! else of its partition is in flight, so retries cannot overtake each other. A leader error
//! refreshes the partition's metadata first. Nothing is sent to a partition's new leader while
//! requests to its old leader are in flight. A batch too large for the broker
//! (`MESSAGE_TOO_LARGE`) with more than one record is split in two and retried.
//!
//! # Idempotence (as the Java client does it)
//!
//! With idempotence the producer first gets a producer id and epoch (`InitProducerId`); every
//! batch carries them and the sequence number of its first record, numbered per partition in
//! order. The broker drops a batch it already has (a retry after a lost response), so retries
//! never duplicate; at most 5 batches of a partition are in flight, what the broker remembers.
//!
//! - `DUPLICATE_SEQUENCE_NUMBER` (brokers before 1.1): the batch is in the log; success.
//! - `OUT_OF_ORDER_SEQUENCE_NUMBER`, `UNKNOWN_PRODUCER_ID`: a batch behind a failed one is
//!   retried in order; when the failed batch is the next one the broker expects (the broker lost
//!   our state: retention removed it, or a leader without it took over), the epoch is bumped
//!   (KIP-360: `InitProducerId` with the current id and epoch) once nothing is in flight, every
//!   partition's sequences restart at 0, and the batches are sent again under the new epoch.
//! - A batch that may have been written and then expired (its fate unknown) leaves a gap the
//!   broker cannot see: the epoch is bumped the same way before anything else is sent.
//! - Before any bump, queued batches that may already be in the log under the current epoch (a
//!   lost answer, a timeout) are sent again under their stamp until an answer settles them
//!   (the broker recognises a duplicate), as Java resolves "unresolved sequences": renumbered
//!   under the new epoch they would be written twice.
//! - `INVALID_PRODUCER_EPOCH`, `PRODUCER_FENCED`, authorization failures: fatal; every pending
//!   and later record fails with [`Error::Fatal`].
//! - A broker without `InitProducerId` (Kafka before 0.11) turns idempotence off, with a warning.
//!   One whose `InitProducerId` cannot bump an epoch (before 2.5) gets a new producer id instead.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafkaex_net::metadata::LeaderLookup;
use kafkaex_net::{ErrorScope, NetError, QueuedRequest, Route, VersionChoice};
use kafkaex_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkaex_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse};
use kafkaex_protocol::records::{set_batch_producer, DecodeOptions, RecordBatch};
use kafkaex_protocol::{ApiKey, ErrorCode, Uuid};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use super::delivery::BatchAck;
use super::metrics::Counters;
use super::{lock, ReadyBatch, Shared, TopicQueues};
use crate::config::Acks;
use crate::error::{Error, Persistence, RequestContext};

/// A batch on its way, with where it came from.
struct Flying {
    topic: Arc<TopicQueues>,
    partition: i32,
    batch: ReadyBatch,
}

/// A request's outcome, back from its task.
struct Done {
    node: i32,
    batches: Vec<Flying>,
    result: Result<Option<(i16, ProduceResponse)>, NetError>,
}

/// Sequence state of one partition.
#[derive(Debug, Default)]
struct PartitionState {
    next_seq: i32,
    /// Ids of this partition's batches in flight.
    in_flight: BTreeSet<u64>,
    in_flight_node: Option<i32>,
    /// The last sequence the broker acknowledged under the current producer id and epoch. The
    /// broker takes a partition's sequences only in order, so every batch numbered up to it is
    /// in the log, whatever its own request said.
    last_acked: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdState {
    /// Idempotence is off (or the brokers do not support it).
    Off,
    /// No producer id yet; one is being asked for.
    Init,
    /// Sending.
    Ready,
    /// The epoch must be bumped once nothing is in flight.
    BumpNeeded,
    /// The bump (or first id) is being asked for.
    Bumping,
}

struct Sender {
    shared: Arc<Shared>,
    in_flight: HashMap<i32, usize>,
    total_in_flight: usize,
    done_tx: mpsc::Sender<Done>,
    done_rx: mpsc::Receiver<Done>,
    partitions: HashMap<(Arc<str>, i32), PartitionState>,
    state: IdState,
    producer_id: i64,
    epoch: i16,
    id_tx: mpsc::Sender<Result<ProducerId, Error>>,
    id_rx: mpsc::Receiver<Result<ProducerId, Error>>,
    refreshing: bool,
    refresh_tx: mpsc::Sender<()>,
    refresh_rx: mpsc::Receiver<()>,
    /// Whether the brokers bump an idempotent producer's epoch (KIP-360, `InitProducerId`
    /// v3+, Kafka 2.5): then the producer bumps it itself; otherwise it asks for a new id.
    can_bump_epoch: bool,
    /// Each broker's writer, which queues its requests in the order the sender made them.
    writers: HashMap<i32, mpsc::Sender<Vec<Flying>>>,
    /// Set when a batch stamped under the current epoch failed.
    sequence_gap: std::cell::Cell<bool>,
}

pub(crate) async fn run(shared: Arc<Shared>) {
    // Bounded by what can be in flight: brokers x max.in.flight requests, and one id request.
    let (done_tx, done_rx) = mpsc::channel(256);
    let (id_tx, id_rx) = mpsc::channel(2);
    let (refresh_tx, refresh_rx) = mpsc::channel(2);
    let state = if shared.config.idempotence {
        IdState::Init
    } else {
        IdState::Off
    };
    let mut sender = Sender {
        shared,
        in_flight: HashMap::new(),
        total_in_flight: 0,
        done_tx,
        done_rx,
        partitions: HashMap::new(),
        state,
        producer_id: -1,
        epoch: -1,
        id_tx,
        id_rx,
        refreshing: false,
        refresh_tx,
        refresh_rx,
        can_bump_epoch: false,
        writers: HashMap::new(),
        sequence_gap: std::cell::Cell::new(false),
    };
    sender.run().await;
}

fn min_instant(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl Sender {
    async fn run(&mut self) {
        if self.state == IdState::Init {
            self.ask_producer_id(false);
        }
        loop {
            let next = self.scan();
            if self.finished() {
                tracing::debug!("producer sender done");
                return;
            }
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.shared.wake.notified() => {}
                Some(done) = self.done_rx.recv() => self.on_done(done),
                Some(id) = self.id_rx.recv() => self.on_producer_id(id),
                Some(()) = self.refresh_rx.recv() => self.refreshing = false,
                _ = sleep => {}
            }
        }
    }

    /// Closed (or abandoned) with nothing left to send or wait for.
    fn finished(&self) -> bool {
        let closing = self.shared.closing.load(Ordering::Relaxed)
            // Only the sender holds the shared state: every producer handle is gone.
            || Arc::strong_count(&self.shared) == 1;
        closing
            && self.total_in_flight == 0
            && self.shared.topics().iter().all(|t| {
                t.partitions.iter().all(|q| {
                    let q = lock(q);
                    q.open.is_none() && q.ready.is_empty()
                })
            })
    }

    fn ask_producer_id(&mut self, bump: bool) {
        if bump && self.can_bump_epoch && self.epoch < i16::MAX - 1 {
            // KIP-360 for a producer without a transactional id: the producer bumps its own
            // epoch, and the broker takes the new epoch with sequence 0 as a fresh start. (The
            // broker answers `InitProducerId` without a transactional id with a new id.)
            let bumped = ProducerId {
                id: self.producer_id,
                epoch: self.epoch + 1,
                can_bump_epoch: true,
            };
            self.on_producer_id(Ok(bumped));
            return;
        }
        self.state = if bump {
            IdState::Bumping
        } else {
            IdState::Init
        };
        self.spawn_init_producer_id(Duration::ZERO);
    }

    /// Asks for a new producer id after `delay`; the answer comes back on `id_rx`.
    fn spawn_init_producer_id(&self, delay: Duration) {
        let client = self.shared.client.clone();
        let tx = self.id_tx.clone();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let result = init_producer_id(&client).await;
            let _ = tx.send(result).await;
        });
    }

    fn on_producer_id(&mut self, result: Result<ProducerId, Error>) {
        match result {
            Ok(ProducerId { id: -1, .. }) => {
                tracing::warn!(
                    "the brokers do not support idempotent producers; idempotence is off"
                );
                self.state = IdState::Off;
            }
            Ok(ProducerId {
                id,
                epoch,
                can_bump_epoch,
            }) => {
                tracing::debug!(producer_id = id, epoch, "producer id");
                self.producer_id = id;
                self.epoch = epoch;
                self.can_bump_epoch = can_bump_epoch;
                self.state = IdState::Ready;
                // A new id or epoch: every partition's sequences start again.
                for state in self.partitions.values_mut() {
                    state.next_seq = 0;
                    state.last_acked = None;
                }
                for topic in self.shared.topics() {
                    for q in &topic.partitions {
                        for batch in lock(q).ready.iter_mut() {
                            batch.stamp = None;
                        }
                    }
                }
            }
            Err(e) if e.is_retriable() => {
                tracing::debug!(error = %e, "InitProducerId failed; retrying");
                self.spawn_init_producer_id(self.shared.config.retry_backoff);
            }
            Err(e) => self.fatal(format!("could not get a producer id: {e}")),
        }
    }

    fn fatal(&mut self, reason: String) {
        tracing::error!(%reason, "the producer cannot go on");
        let error = Error::Fatal { reason };
        let _ = self.shared.fatal.set(error.clone());
        self.state = IdState::Off;
        for topic in self.shared.topics() {
            for q in &topic.partitions {
                let mut q = lock(q);
                let _ = self.shared.close_open(&mut q);
                while let Some(batch) = q.ready.pop_front() {
                    self.shared
                        .counters
                        .batches_queued
                        .fetch_sub(1, Ordering::Relaxed);
                    let persistence = batch.failure_persistence();
                    self.fail(&topic, &batch, persistence, error.clone());
                }
            }
        }
    }

    /// After a numbered batch failed (see `fail`): bump the epoch before more is sent, since
    /// the broker may not have the sequences we spent.
    fn take_sequence_gap(&mut self) {
        if self.sequence_gap.take() && self.state == IdState::Ready {
            tracing::debug!("a numbered batch failed; bumping the producer epoch");
            self.state = IdState::BumpNeeded;
        }
    }

    /// Completes a batch with an error.
    fn fail(
        &self,
        topic: &TopicQueues,
        batch: &ReadyBatch,
        persistence: Persistence,
        source: Error,
    ) {
        let partition = batch.shared.partition;
        Counters::add(&self.shared.counters.errors, u64::from(batch.records));
        if self.current_sequences(batch).is_some() {
            // Its sequences are spent on our side, maybe not on the broker's: a gap only a new
            // epoch closes (see `run`).
            self.sequence_gap.set(true);
        }
        self.shared.complete(
            batch,
            Err(Error::Delivery {
                topic: topic.name.to_string(),
                partition,
                persistence,
                source: Box::new(source),
            }),
        );
    }

    /// The sequence range of a batch stamped under the current id and epoch.
    fn current_sequences(&self, batch: &ReadyBatch) -> Option<(i32, i32)> {
        let (id, epoch, first) = batch.stamp?;
        if (id, epoch) != (self.producer_id, self.epoch) || batch.records == 0 {
            return None;
        }
        Some((first, first.wrapping_add(batch.records as i32 - 1)))
    }

    /// Whether a queued batch may be in the log under the current stamp (see
    /// `ReadyBatch::unresolved`).
    fn has_unresolved(&self, topics: &[Arc<TopicQueues>]) -> bool {
        topics.iter().any(|t| {
            t.partitions.iter().any(|q| {
                lock(q)
                    .ready
                    .iter()
                    .any(|b| b.unresolved && self.current_sequences(b).is_some())
            })
        })
    }

    /// Remembers the last sequence acknowledged for the batch's partition.
    fn note_acked(&mut self, flying: &Flying) {
        let Some((_, last)) = self.current_sequences(&flying.batch) else {
            return;
        };
        let state = self
            .partitions
            .entry((Arc::clone(&flying.topic.name), flying.partition))
            .or_default();
        state.last_acked = Some(state.last_acked.map_or(last, |l| l.max(last)));
    }

    /// Whether a later batch of the partition was acknowledged under the same epoch, which
    /// puts this one in the log.
    fn known_written(&self, flying: &Flying) -> bool {
        let Some((_, last)) = self.current_sequences(&flying.batch) else {
            return false;
        };
        self.partitions
            .get(&(Arc::clone(&flying.topic.name), flying.partition))
            .and_then(|s| s.last_acked)
            .is_some_and(|acked| acked >= last)
    }

    fn succeed(&self, batch: &ReadyBatch, ack: BatchAck) {
        let c = &self.shared.counters;
        Counters::add(&c.records_sent, u64::from(batch.records));
        Counters::add(&c.bytes_sent, batch.bytes.len() as u64);
        Counters::add(&c.batches_sent, 1);
        Counters::add(
            &c.latency_us_total,
            batch.created.elapsed().as_micros() as u64,
        );
        self.shared.complete(batch, Ok(ack));
    }

    /// Closes due batches, expires old ones, and sends what can be sent. Returns when to look
    /// again.
    fn scan(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let mut next: Option<Instant> = None;
        self.take_sequence_gap();
        let topics = self.shared.topics();
        // Before the epoch changes, batches that may be in the log under it are resolved.
        let resolving = self.state == IdState::BumpNeeded && self.has_unresolved(&topics);
        let sending = resolving || matches!(self.state, IdState::Off | IdState::Ready);
        if self.state == IdState::BumpNeeded && self.total_in_flight == 0 && !resolving {
            self.ask_producer_id(true);
        }
        let cluster = self.shared.client.cluster().clone();
        // Partitions with something to send, by leader.
        let mut by_node: BTreeMap<i32, Vec<(Arc<TopicQueues>, i32)>> = BTreeMap::new();
        let mut refresh: BTreeSet<String> = BTreeSet::new();
        let idle = self.total_in_flight == 0;
        cluster.with_metadata(|m| {
            for topic in &topics {
                let mut available = Vec::with_capacity(topic.partitions.len());
                for (index, q) in topic.partitions.iter().enumerate() {
                    let partition = index as i32;
                    let leader = match m.leader(&topic.name, partition) {
                        LeaderLookup::Leader { node_id, .. } => {
                            available.push(partition);
                            Some(node_id)
                        }
                        _ => None,
                    };
                    let mut q = lock(q);
                    if let Some(open) = &q.open {
                        if self.shared.open_due(open, now, idle) {
                            let _ = self.shared.close_open(&mut q);
                        } else {
                            next = min_instant(next, self.shared.open_deadline(open));
                        }
                    }
                    // Expired batches fail; the oldest are at the front.
                    while q
                        .ready
                        .front()
                        .is_some_and(|b| now >= b.created + config.delivery_timeout)
                    {
                        let Some(batch) = q.ready.pop_front() else {
                            break;
                        };
                        self.shared
                            .counters
                            .batches_queued
                            .fetch_sub(1, Ordering::Relaxed);
                        self.fail(
                            topic,
                            &batch,
                            batch.failure_persistence(),
                            Error::DeliveryTimeout {
                                timeout_ms: config.delivery_timeout.as_millis() as u64,
                            },
                        );
                    }
                    let Some(front) = q.ready.front() else {
                        continue;
                    };
                    next = min_instant(next, front.created + config.delivery_timeout);
                    if let Some(at) = front.retry_at.filter(|at| *at > now) {
                        next = min_instant(next, at);
                        continue;
                    }
                    let Some(leader) = leader else {
                        refresh.insert(topic.name.to_string());
                        continue;
                    };
                    if sending {
                        by_node
                            .entry(leader)
                            .or_default()
                            .push((Arc::clone(topic), partition));
                    }
                }
                *topic
                    .available
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = available;
            }
        });
        // A numbered batch that expired above leaves a gap: no batch goes out under the old
        // numbering.
        self.take_sequence_gap();
        if !refresh.is_empty() {
            self.refresh(refresh);
            next = min_instant(next, now + config.retry_backoff);
        }
        for (node, partitions) in by_node {
            self.send_to(node, &partitions);
        }
        next
    }

    fn refresh(&mut self, topics: BTreeSet<String>) {
        if self.refreshing {
            return;
        }
        self.refreshing = true;
        let client = self.shared.client.clone();
        let tx = self.refresh_tx.clone();
        tokio::spawn(async move {
            let topics: Vec<String> = topics.into_iter().collect();
            if let Err(e) = client.refresh_metadata(&topics).await {
                tracing::debug!(error = %e, "metadata refresh for the producer failed");
            }
            let _ = tx.send(()).await;
        });
    }

    /// Builds and sends requests to `node` with a batch of each of `partitions` that may go,
    /// while the node has room for more requests in flight.
    fn send_to(&mut self, node: i32, partitions: &[(Arc<TopicQueues>, i32)]) {
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        // While an id or a new epoch is awaited, nothing goes out (unnumbered); while a bump
        // waits for batches that may be in the log, only those go out, under their stamp.
        let resolving = self.state == IdState::BumpNeeded;
        if !resolving && !matches!(self.state, IdState::Off | IdState::Ready) {
            return;
        }
        let idempotent = resolving || self.state == IdState::Ready;
        loop {
            let flying = self.in_flight.get(&node).copied().unwrap_or(0);
            if flying >= config.max_in_flight {
                return;
            }
            let mut batches: Vec<Flying> = Vec::new();
            let mut size = 0usize;
            for (topic, partition) in partitions {
                let key = (Arc::clone(&topic.name), *partition);
                let state = self.partitions.entry(key).or_default();
                if !state.in_flight.is_empty() && state.in_flight_node != Some(node) {
                    // The leader moved: wait for the old leader's answers first.
                    continue;
                }
                if idempotent && state.in_flight.len() >= 5 {
                    continue;
                }
                let mut q = lock(&topic.partitions[*partition as usize]);
                let Some(front) = q.ready.front() else {
                    continue;
                };
                if resolving
                    && !(front.unresolved
                        && front.stamp.map(|(id, epoch, _)| (id, epoch))
                            == Some((self.producer_id, self.epoch)))
                {
                    continue;
                }
                if front.attempts > 0 && !state.in_flight.is_empty() {
                    // A retry goes alone, so it cannot be overtaken.
                    continue;
                }
                if front.retry_at.is_some_and(|at| at > Instant::now()) {
                    continue;
                }
                if !batches.is_empty() && size + front.bytes.len() > config.max_request_size {
                    continue;
                }
                let Some(mut batch) = q.ready.pop_front() else {
                    continue;
                };
                drop(q);
                self.shared
                    .counters
                    .batches_queued
                    .fetch_sub(1, Ordering::Relaxed);
                if idempotent {
                    let current = (self.producer_id, self.epoch);
                    if batch.stamp.map(|(id, epoch, _)| (id, epoch)) != Some(current) {
                        let seq = state.next_seq;
                        state.next_seq = seq.wrapping_add(batch.records as i32);
                        restamp(&mut batch, self.producer_id, self.epoch, seq);
                    }
                }
                state.in_flight.insert(batch.id);
                state.in_flight_node = Some(node);
                size += batch.bytes.len();
                if batch.attempts > 0 {
                    Counters::add(&self.shared.counters.retries, 1);
                } else {
                    let c = &self.shared.counters;
                    Counters::add(&c.first_sends, 1);
                    Counters::add(
                        &c.queue_us_total,
                        batch.created.elapsed().as_micros() as u64,
                    );
                }
                batch.attempts += 1;
                batches.push(Flying {
                    topic: Arc::clone(topic),
                    partition: *partition,
                    batch,
                });
            }
            if batches.is_empty() {
                return;
            }
            *self.in_flight.entry(node).or_default() += 1;
            self.total_in_flight += 1;
            self.shared
                .counters
                .in_flight_requests
                .fetch_add(1, Ordering::Relaxed);
            Counters::add(&self.shared.counters.requests, 1);
            self.dispatch(node, batches);
        }
    }

    /// Hands a request's batches to the broker's writer (started on first use), which queues
    /// requests on the connection in the order they come: batches of a partition reach the
    /// broker in sequence order.
    fn dispatch(&mut self, node: i32, batches: Vec<Flying>) {
        let writer = self.writers.entry(node).or_insert_with(|| {
            // The sender puts at most max.in.flight requests per broker in flight, so a
            // channel of that size never refuses one.
            let (tx, rx) = mpsc::channel(self.shared.config.max_in_flight + 1);
            tokio::spawn(write_requests(
                self.shared.client.clone(),
                node,
                self.shared.config.acks,
                request_timeout_ms(&self.shared.client),
                rx,
                self.done_tx.clone(),
            ));
            tx
        });
        if let Err(refused) = writer.try_send(batches) {
            let batches = match refused {
                mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b) => b,
            };
            self.writers.remove(&node);
            let error = NetError::from_client(
                ApiKey::Produce,
                ErrorCode::UnknownServerError,
                "the producer's writer for the broker refused the request",
                format!("node {node}"),
                ErrorScope::Response,
            );
            self.on_done(Done {
                node,
                batches,
                result: Err(error),
            });
        }
    }

    fn on_done(&mut self, done: Done) {
        let Done {
            node,
            batches,
            result,
        } = done;
        if let Some(n) = self.in_flight.get_mut(&node) {
            *n = n.saturating_sub(1);
        }
        self.total_in_flight = self.total_in_flight.saturating_sub(1);
        self.shared
            .counters
            .in_flight_requests
            .fetch_sub(1, Ordering::Relaxed);
        for flying in &batches {
            if let Some(state) = self
                .partitions
                .get_mut(&(Arc::clone(&flying.topic.name), flying.partition))
            {
                state.in_flight.remove(&flying.batch.id);
            }
        }
        match result {
            Ok(None) => {
                // acks=0: written; the broker says nothing more.
                for flying in batches {
                    self.succeed(
                        &flying.batch,
                        BatchAck {
                            base_offset: -1,
                            log_append_time: -1,
                        },
                    );
                }
            }
            Ok(Some((version, response))) => {
                for flying in batches {
                    self.on_partition(node, version, &response, flying);
                }
            }
            Err(err) => {
                let cluster = self.shared.client.cluster().clone();
                let maybe = err.may_have_been_applied();
                let retriable = err.is_retriable();
                for mut flying in batches {
                    cluster.invalidate_partition(&flying.topic.name, flying.partition);
                    flying.batch.sent |= maybe;
                    flying.batch.unresolved |= maybe;
                    let context = RequestContext::api(ApiKey::Produce)
                        .with_partition(flying.topic.name.to_string(), flying.partition);
                    let error = Error::request(context, err.clone());
                    if retriable {
                        self.retry(flying, error);
                    } else {
                        let persistence = flying.batch.failure_persistence();
                        self.fail(&flying.topic, &flying.batch, persistence, error);
                    }
                }
            }
        }
        self.shared.wake.notify_one();
    }

    fn on_partition(
        &mut self,
        node: i32,
        version: i16,
        response: &ProduceResponse,
        flying: Flying,
    ) {
        let topic = Arc::clone(&flying.topic);
        let name = &topic.name;
        let topic_id = self
            .shared
            .client
            .cluster()
            .with_metadata(|m| m.topic(name).map(|t| t.topic_id));
        // By name up to v12, by id from v13.
        let found = response
            .responses
            .iter()
            .filter(|t| {
                if t.name.is_empty() && t.topic_id != Uuid::ZERO {
                    Some(t.topic_id) == topic_id
                } else {
                    t.name == **name
                }
            })
            .flat_map(|t| &t.partition_responses)
            .find(|p| p.index == flying.partition);
        let Some(p) = found else {
            let error = Error::request(
                RequestContext::api(ApiKey::Produce)
                    .with_partition(name.to_string(), flying.partition)
                    .with_version(version),
                NetError::from_client(
                    ApiKey::Produce,
                    ErrorCode::UnknownServerError,
                    "the response has no result for this partition",
                    format!("node {node}"),
                    ErrorScope::Partition {
                        topic: name.to_string(),
                        partition: flying.partition,
                    },
                ),
            );
            let mut flying = flying;
            flying.batch.sent = true;
            flying.batch.unresolved = true;
            self.retry(flying, error);
            return;
        };
        let code = p.error_code;
        let partition = flying.partition;
        let broker_error = || Error::Broker {
            code,
            scope: ErrorScope::Partition {
                topic: name.to_string(),
                partition,
            },
            message: p.error_message.clone().filter(|m| !m.is_empty()),
        };
        match code {
            ErrorCode::None => {
                self.note_acked(&flying);
                self.succeed(
                    &flying.batch,
                    BatchAck {
                        base_offset: p.base_offset,
                        log_append_time: p.log_append_time_ms,
                    },
                )
            }
            ErrorCode::DuplicateSequenceNumber => {
                self.note_acked(&flying);
                self.succeed(
                    &flying.batch,
                    BatchAck {
                        base_offset: -1,
                        log_append_time: -1,
                    },
                )
            }
            ErrorCode::OutOfOrderSequenceNumber | ErrorCode::UnknownProducerId
                if self.state != IdState::Off && self.known_written(&flying) =>
            {
                // A later batch was acknowledged, so this one is in the log (its first answer
                // was lost, and the broker no longer remembers it as a duplicate).
                self.succeed(
                    &flying.batch,
                    BatchAck {
                        base_offset: -1,
                        log_append_time: -1,
                    },
                )
            }
            ErrorCode::OutOfOrderSequenceNumber | ErrorCode::UnknownProducerId
                if self.state != IdState::Off =>
            {
                // Either a batch ahead of it failed (it is retried after that one), or the
                // broker lost our state: a new epoch numbers everything afresh.
                let id = flying.batch.id;
                let earlier_queued = lock(&flying.topic.partitions[flying.partition as usize])
                    .ready
                    .front()
                    .is_some_and(|b| b.id < id);
                let earlier_in_flight = self
                    .partitions
                    .get(&(Arc::clone(&flying.topic.name), flying.partition))
                    .and_then(|s| s.in_flight.first().copied())
                    .is_some_and(|first| first < id);
                let ahead_failed = earlier_queued || earlier_in_flight;
                if !ahead_failed && self.state == IdState::Ready {
                    tracing::debug!(topic = %name, partition = flying.partition, %code, "bumping the producer epoch");
                    self.state = IdState::BumpNeeded;
                }
                // The broker does not have it under this stamp.
                let mut flying = flying;
                flying.batch.unresolved = false;
                self.retry(flying, broker_error());
            }
            ErrorCode::InvalidProducerEpoch
            | ErrorCode::ProducerFenced
            | ErrorCode::TransactionalIdAuthorizationFailed
            | ErrorCode::ClusterAuthorizationFailed => {
                let reason = format!("{name}-{}: {code}", flying.partition);
                let batch = flying.batch;
                self.fail(
                    &flying.topic,
                    &batch,
                    Persistence::NotPersisted,
                    broker_error(),
                );
                self.fatal(reason);
            }
            ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge
                if flying.batch.records > 1 =>
            {
                self.split(flying, broker_error());
            }
            code if code.is_retriable() => {
                if matches!(
                    code,
                    ErrorCode::NotLeaderOrFollower
                        | ErrorCode::LeaderNotAvailable
                        | ErrorCode::UnknownTopicOrPartition
                        | ErrorCode::UnknownTopicId
                        | ErrorCode::KafkaStorageError
                        | ErrorCode::FencedLeaderEpoch
                ) {
                    self.shared
                        .client
                        .cluster()
                        .invalidate_partition(name, flying.partition);
                }
                let mut flying = flying;
                // These say the write may have happened.
                let maybe = matches!(
                    code,
                    ErrorCode::RequestTimedOut | ErrorCode::NotEnoughReplicasAfterAppend
                );
                flying.batch.sent |= maybe;
                flying.batch.unresolved |= maybe;
                self.retry(flying, broker_error());
            }
            _ => {
                let persistence = flying.batch.failure_persistence();
                self.fail(&flying.topic, &flying.batch, persistence, broker_error());
            }
        }
    }

    /// Puts a failed batch back in its partition's queue, in order, to be sent after a backoff;
    /// fails it instead when its delivery timeout has passed.
    fn retry(&mut self, flying: Flying, error: Error) {
        let Flying {
            topic,
            partition,
            mut batch,
        } = flying;
        let config = &self.shared.config;
        let now = Instant::now();
        if now >= batch.created + config.delivery_timeout {
            // A numbered batch failing leaves a sequence gap; `fail` notes it.
            self.fail(&topic, &batch, batch.failure_persistence(), error);
            return;
        }
        let exponent = batch.attempts.saturating_sub(1).min(16);
        let backoff = config
            .retry_backoff
            .saturating_mul(1 << exponent)
            .min(config.retry_backoff_max);
        batch.retry_at = Some(now + jitter(backoff));
        tracing::debug!(topic = %topic.name, partition, attempts = batch.attempts, error = %error, "retrying a batch");
        lock(&topic.partitions[partition as usize]).requeue(batch);
        self.shared
            .counters
            .batches_queued
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Splits a batch the broker found too large into two and queues both in its place.
    fn split(&mut self, flying: Flying, error: Error) {
        let Flying {
            topic,
            partition,
            batch,
        } = flying;
        let decoded = RecordBatch::decode(&mut batch.bytes.clone(), &DecodeOptions::default());
        let halves = decoded.ok().and_then(|mut whole| {
            let second = whole.records.split_off(whole.records.len() / 2);
            let mut first = whole.clone();
            let mut rest = whole;
            rest.records = second;
            first.producer_id = -1;
            first.base_sequence = -1;
            rest.producer_id = -1;
            rest.base_sequence = -1;
            first.recompute_bounds();
            rest.recompute_bounds();
            Some((
                first.to_bytes().ok()?,
                rest.to_bytes().ok()?,
                first.records.len() as u32,
            ))
        });
        let Some((first, rest, first_records)) = halves else {
            self.fail(&topic, &batch, Persistence::NotPersisted, error);
            return;
        };
        tracing::debug!(topic = %topic.name, partition, records = batch.records, "splitting a batch the broker found too large");
        // The parts resolve the original batch's futures together (each its own offsets).
        let join = match &batch.join {
            Some(join) => {
                lock(join).pending += 1;
                Arc::clone(join)
            }
            None => Arc::new(std::sync::Mutex::new(super::SplitJoin {
                segments: Vec::new(),
                pending: 2,
                memory: batch.memory,
            })),
        };
        let part = |bytes: Bytes, first_index: u32, records: u32| ReadyBatch {
            id: batch.id,
            bytes,
            shared: Arc::clone(&batch.shared),
            records,
            memory: 0,
            created: batch.created,
            attempts: batch.attempts,
            retry_at: None,
            sent: batch.sent,
            unresolved: false,
            stamp: None,
            first_index,
            join: Some(Arc::clone(&join)),
        };
        let rest_records = batch.records - first_records;
        let mut q = lock(&topic.partitions[partition as usize]);
        q.requeue(part(first, batch.first_index, first_records));
        q.requeue(part(rest, batch.first_index + first_records, rest_records));
        drop(q);
        self.shared
            .counters
            .batches_queued
            .fetch_add(2, Ordering::Relaxed);
        if self.state == IdState::Ready {
            // The parts need sequences of their own: renumber under a new epoch.
            self.state = IdState::BumpNeeded;
        }
    }
}

/// Jitter of +-20%.
fn jitter(d: Duration) -> Duration {
    let mut bytes = [0u8; 2];
    let r = if getrandom::fill(&mut bytes).is_ok() {
        f64::from(u16::from_ne_bytes(bytes)) / f64::from(u16::MAX)
    } else {
        0.5
    };
    d.mul_f64(0.8 + 0.4 * r)
}

/// Writes the producer id, epoch and sequence into a batch.
fn restamp(batch: &mut ReadyBatch, producer_id: i64, epoch: i16, seq: i32) {
    let mut bytes = std::mem::take(&mut batch.bytes)
        .try_into_mut()
        .unwrap_or_else(|shared| {
            // Only the batch holds its bytes, but a copy keeps this correct if that changes.
            bytes::BytesMut::from(&shared[..])
        });
    if set_batch_producer(&mut bytes, producer_id, epoch, seq).is_ok() {
        batch.stamp = Some((producer_id, epoch, seq));
    }
    batch.bytes = bytes.freeze();
}

/// A producer id and epoch, and whether the brokers let the producer bump the epoch itself.
#[derive(Debug, Clone, Copy)]
struct ProducerId {
    id: i64,
    epoch: i16,
    can_bump_epoch: bool,
}

/// `InitProducerId` without a transactional id: a new producer id at epoch 0. Id -1 when no
/// broker supports the API (Kafka before 0.11).
async fn init_producer_id(client: &crate::Client) -> Result<ProducerId, Error> {
    let cluster = client.cluster();
    let conn = cluster
        .broker_for(Route::Any)
        .await
        .map_err(|e| Error::request(RequestContext::api(ApiKey::InitProducerId), e))?;
    let Some(range) = conn.versions().get(ApiKey::InitProducerId) else {
        return Ok(ProducerId {
            id: -1,
            epoch: -1,
            can_bump_epoch: false,
        });
    };
    let request = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(-1)
        .with_producer_epoch(-1);
    let response = client.request_at(&request, VersionChoice::Newest).await?;
    Ok(ProducerId {
        id: response.body.producer_id,
        epoch: response.body.producer_epoch,
        // KIP-360 (Kafka 2.5, InitProducerId v3): brokers accept a bumped epoch at sequence 0.
        can_bump_epoch: range.max >= 3,
    })
}

fn request_timeout_ms(client: &crate::Client) -> i32 {
    i32::try_from(client.config().net.request_timeout.as_millis()).unwrap_or(i32::MAX)
}

/// A broker's writer: takes the sender's requests in order, queues each on the broker's
/// connection before taking the next, and reports each outcome to the sender.
async fn write_requests(
    client: crate::Client,
    node: i32,
    acks: Acks,
    timeout_ms: i32,
    mut requests: mpsc::Receiver<Vec<Flying>>,
    done: mpsc::Sender<Done>,
) {
    while let Some(batches) = requests.recv().await {
        let records: u32 = batches.iter().map(|f| f.batch.records).sum();
        let bytes: usize = batches.iter().map(|f| f.batch.bytes.len()).sum();
        let span = tracing::debug_span!(
            "produce",
            node,
            batches = batches.len(),
            records,
            bytes,
            acks = acks.as_i16(),
        );
        let queued = queue_produce(&client, node, acks, timeout_ms, &batches)
            .instrument(span.clone())
            .await;
        match queued {
            Ok(Queued::Waiting(queued)) => {
                let done = done.clone();
                tokio::spawn(async move {
                    let result = queued
                        .response()
                        .instrument(span)
                        .await
                        .map(|r| Some((r.version, r.body)));
                    let _ = done
                        .send(Done {
                            node,
                            batches,
                            result,
                        })
                        .await;
                });
            }
            Ok(Queued::Written) => {
                let _ = done
                    .send(Done {
                        node,
                        batches,
                        result: Ok(None),
                    })
                    .await;
            }
            Err(error) => {
                let _ = done
                    .send(Done {
                        node,
                        batches,
                        result: Err(error),
                    })
                    .await;
            }
        }
    }
}

/// A Produce request on its way.
enum Queued {
    /// Queued; its response is awaited.
    Waiting(QueuedRequest<ProduceRequest>),
    /// Written at acks=0, which gets no response.
    Written,
}

/// The newest Produce version that names topics (v13 names them by id).
const LAST_PRODUCE_VERSION_BY_NAME: i16 = 12;

/// Builds one Produce request with `batches` and queues it on `node`'s connection (at acks=0,
/// writes it).
async fn queue_produce(
    client: &crate::Client,
    node: i32,
    acks: Acks,
    timeout_ms: i32,
    batches: &[Flying],
) -> Result<Queued, NetError> {
    let cluster = client.cluster();
    let conn = cluster.broker_for(Route::Node(node)).await?;
    let version = conn
        .versions()
        .choose_for::<ProduceRequest>(VersionChoice::Newest, conn.address())?;
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for flying in batches {
        let data = PartitionProduceData::default()
            .with_index(flying.partition)
            .with_records(Some(flying.batch.bytes.clone()));
        match topics.iter_mut().find(|t| t.name == *flying.topic.name) {
            Some(t) => t.partition_data.push(data),
            None => {
                // Produce v13+ names the topic by its id, from the metadata as it is now (a
                // topic deleted and created again has a new one).
                let topic_id = cluster
                    .with_metadata(|m| m.topic(&flying.topic.name).map(|t| t.topic_id))
                    .unwrap_or(Uuid::ZERO);
                topics.push(
                    TopicProduceData::default()
                        .with_name(flying.topic.name.to_string())
                        .with_topic_id(topic_id)
                        .with_partition_data(vec![data]),
                )
            }
        }
    }
    // Without every topic's id, only versions that name topics will do.
    let version = if topics.iter().any(|t| t.topic_id == Uuid::ZERO) {
        version.min(LAST_PRODUCE_VERSION_BY_NAME)
    } else {
        version
    };
    let request = ProduceRequest::default()
        .with_acks(acks.as_i16())
        .with_timeout_ms(timeout_ms)
        .with_topic_data(topics);
    if acks == Acks::None {
        conn.send_no_response(&request, VersionChoice::Exact(version))
            .await?;
        return Ok(Queued::Written);
    }
    Ok(Queued::Waiting(
        conn.queue(&request, VersionChoice::Exact(version)).await?,
    ))
}
