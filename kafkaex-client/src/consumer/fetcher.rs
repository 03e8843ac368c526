//! The consumer's fetcher: one task that looks up start positions (ListOffsets), validates
//! positions after leader changes (OffsetForLeaderEpoch), and keeps one Fetch in flight per
//! broker within the byte bound; the caller's side ([`super::Consumer`]) decodes what it
//! buffers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use kafkaex_net::metadata::LeaderLookup;
use kafkaex_net::{BrokerConnection, ErrorScope, NetError, VersionChoice};
use kafkaex_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkaex_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafkaex_protocol::messages::{FetchRequest, FetchResponse, OffsetForLeaderEpochRequest};
use kafkaex_protocol::{ApiKey, ErrorCode, Message, Uuid, VersionRange};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{
    Completed, CompletedData, OffsetReset, Shared, StartOffset, State, Status, TopicPartition,
};
use crate::error::{Error, RequestContext};
use crate::offsets::{ListOffsetsOptions, ListedOffset, OffsetSpec, PartitionResults};

/// A partition whose position is to be looked up: generation, what to look up, position,
/// current leader epoch.
type LookupPart = (TopicPartition, u64, Status, i64, Option<i32>);
/// A partition to validate: generation, the epoch of the last record, the new leader epoch.
type ValidatePart = (TopicPartition, u64, i32, Option<i32>);
/// A partition to fetch: generation, offset, current leader epoch, last fetched epoch, size.
type FetchPart = (TopicPartition, u64, i64, Option<i32>, Option<i32>, usize);

/// What a request task reports back.
enum Event {
    Fetched {
        node: i32,
        parts: Vec<Sent>,
        reserved: usize,
        result: Result<(i16, FetchResponse), NetError>,
        /// The connection used, to be used again.
        conn: Option<BrokerConnection>,
    },
    Looked(Vec<(TopicPartition, u64, Status, Lookup)>),
    Validated(Vec<(TopicPartition, u64, Option<i32>, Validation)>),
    Refreshed,
}

/// A partition in a Fetch in flight.
struct Sent {
    tp: TopicPartition,
    generation: u64,
    offset: i64,
    epoch: Option<i32>,
}

enum Lookup {
    Position {
        offset: i64,
        epoch: Option<i32>,
    },
    /// A timestamp after the last record: start at the end.
    NoneAtTime,
    OutOfRange {
        log_start: i64,
        high_watermark: i64,
    },
    Retry(Error),
    Fatal(Error),
}

enum Validation {
    /// The new leader's log ends the epoch at this offset (and the epoch it is in).
    EndOffset {
        end_offset: i64,
        epoch: i32,
    },
    /// Cannot be validated here (a broker without leader epochs): go on.
    Skip,
    Retry(Error),
}

struct Fetcher {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    /// The consumer's own connection to each broker, for its Fetch requests only: a broker
    /// answers a connection's requests in order, so a Fetch waiting up to `fetch.max.wait.ms`
    /// on the client's shared connection would hold up every other request to that broker
    /// (a producer's, the consumer's own lookups) that long.
    conns: HashMap<i32, BrokerConnection>,
    /// Every request task; dropped with the fetcher, which aborts them.
    tasks: JoinSet<()>,
    busy: HashSet<i32>,
    refreshing: bool,
    last_refresh: Option<Instant>,
    rotate: usize,
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut f = Fetcher {
        shared,
        tx,
        rx,
        conns: HashMap::new(),
        tasks: JoinSet::new(),
        busy: HashSet::new(),
        refreshing: false,
        last_refresh: None,
        rotate: 0,
    };
    loop {
        if f.shared.lock().closed {
            return;
        }
        while f.tasks.try_join_next().is_some() {}
        let next = f.step();
        let shared = Arc::clone(&f.shared);
        tokio::select! {
            event = f.rx.recv() => match event {
                Some(event) => f.on_event(event),
                None => return,
            },
            _ = shared.budget.wake.notified() => {}
            _ = sleep_until(next) => {}
        }
    }
}

/// Sleeps until `at`, or forever without one (a `select!` branch that never fires).
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A partition's leader and leader epoch in the cached metadata: `None` when a refresh may
/// tell, an error code when it will not.
fn leader_of(
    m: &kafkaex_net::metadata::ClusterMetadata,
    tp: &TopicPartition,
) -> Result<Option<(i32, Option<i32>)>, ErrorCode> {
    match m.leader(&tp.topic, tp.partition) {
        LeaderLookup::Leader {
            node_id,
            leader_epoch,
        } => Ok(Some((node_id, leader_epoch))),
        LeaderLookup::Refresh { .. } => Ok(None),
        LeaderLookup::Error(code) => Err(code),
    }
}

impl Fetcher {
    /// Starts whatever can start; returns when to look again.
    fn step(&mut self) -> Option<Instant> {
        let now = Instant::now();
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let cluster = shared.client.cluster().clone();
        let mut next: Option<Instant> = None;
        let mut refresh: Vec<String> = Vec::new();
        let mut lookups: BTreeMap<i32, Vec<LookupPart>> = BTreeMap::new();
        let mut validations: BTreeMap<i32, Vec<ValidatePart>> = BTreeMap::new();
        let mut fetches: BTreeMap<i32, Vec<FetchPart>> = BTreeMap::new();
        let mut failed: Vec<(TopicPartition, ErrorCode)> = Vec::new();
        // Brokers leading a partition whose data waits for the caller, and brokers with a
        // fetchable partition that is not at its high watermark.
        let mut buffered_at: HashSet<i32> = HashSet::new();
        let mut behind: HashSet<i32> = HashSet::new();
        let mut state = shared.lock();
        cluster.with_metadata(|m| {
            for (tp, part) in state.partitions.iter_mut() {
                if let Some(at) = part.retry_at {
                    if at > now {
                        next = Some(next.map_or(at, |n: Instant| n.min(at)));
                        continue;
                    }
                    part.retry_at = None;
                }
                let wants = matches!(
                    part.status,
                    Status::Reset(_) | Status::ReportOutOfRange | Status::Validate | Status::Ready
                );
                if part.buffered {
                    // (A paused partition's data waits for a resume, not for the caller.)
                    if !part.paused {
                        if let Ok(Some((node, _))) = leader_of(m, tp) {
                            buffered_at.insert(node);
                        }
                    }
                    continue;
                }
                if !wants || part.in_flight {
                    continue;
                }
                let (node, epoch) = match leader_of(m, tp) {
                    Ok(Some(found)) => found,
                    Ok(None) => {
                        if !refresh.contains(&tp.topic) {
                            refresh.push(tp.topic.clone());
                        }
                        continue;
                    }
                    Err(code) => {
                        // Refreshing will not help (TOPIC_AUTHORIZATION_FAILED, ...).
                        failed.push((tp.clone(), code));
                        continue;
                    }
                };
                match part.status {
                    Status::Reset(_) | Status::ReportOutOfRange => {
                        lookups.entry(node).or_default().push((
                            tp.clone(),
                            part.generation,
                            part.status,
                            part.position,
                            epoch,
                        ));
                        part.status = Status::Looking;
                    }
                    Status::Validate => {
                        if let Some(last) = part.last_epoch {
                            validations.entry(node).or_default().push((
                                tp.clone(),
                                part.generation,
                                last,
                                epoch,
                            ));
                            part.status = Status::Looking;
                        } else {
                            part.status = Status::Ready;
                            part.fetch_epoch = epoch;
                        }
                    }
                    Status::Ready => {
                        if part.paused || self.busy.contains(&node) {
                            continue;
                        }
                        // A new leader epoch: check the position against the new leader first.
                        if let (Some(was), Some(now_epoch), Some(last)) =
                            (part.fetch_epoch, epoch, part.last_epoch)
                        {
                            if now_epoch != was {
                                validations.entry(node).or_default().push((
                                    tp.clone(),
                                    part.generation,
                                    last,
                                    epoch,
                                ));
                                part.status = Status::Looking;
                                continue;
                            }
                        }
                        let size = part.fetch_size.unwrap_or(config.max_partition_fetch_bytes);
                        if part.high_watermark < 0 || part.position < part.high_watermark {
                            behind.insert(node);
                        }
                        fetches.entry(node).or_default().push((
                            tp.clone(),
                            part.generation,
                            part.position,
                            epoch,
                            part.last_epoch,
                            size,
                        ));
                    }
                    Status::Looking | Status::Failed => {}
                }
            }
        });
        for (tp, code) in failed {
            let State {
                partitions, ready, ..
            } = &mut *state;
            if let Some(part) = partitions.get_mut(&tp) {
                let err = Error::request(
                    RequestContext::api(ApiKey::Metadata)
                        .with_partition(tp.topic.clone(), tp.partition),
                    NetError::from_broker(
                        ApiKey::Metadata,
                        code,
                        None,
                        "metadata".to_owned(),
                        ErrorScope::Partition {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                        },
                    ),
                );
                push_error(ready, part, &tp, err);
                state.wake_consumer();
            }
        }
        // One fetch per idle broker, within the byte bound.
        let mut requests = Vec::new();
        let mut idle =
            self.busy.is_empty() && !state.partitions.values().any(|p| p.buffered || p.in_flight);
        for (node, mut parts) in fetches {
            if buffered_at.contains(&node) && !behind.contains(&node) {
                // Only partitions at their end, which the broker would hold for up to
                // fetch.max.wait.ms while the buffered ones are taken and want fetching: wait
                // for those instead and fetch everything together.
                continue;
            }
            let mut room = config.max_buffer_bytes.saturating_sub(shared.budget.used());
            if room == 0 && idle {
                // All that is counted is records the caller holds: one fetch still goes.
                room = config.max_partition_fetch_bytes;
            }
            if room == 0 {
                break;
            }
            idle = false;
            // Fairness: start at a different partition each time.
            self.rotate = self.rotate.wrapping_add(1);
            let shift = self.rotate % parts.len();
            parts.rotate_left(shift);
            let max_bytes = config.fetch_max_bytes.min(room);
            let most: usize = parts.iter().map(|p| p.5.min(max_bytes)).sum();
            let reserved = most.min(max_bytes);
            shared.budget.add(reserved);
            for p in &parts {
                if let Some(s) = state.partitions.get_mut(&p.0) {
                    s.in_flight = true;
                    if s.fetch_epoch.is_none() {
                        s.fetch_epoch = p.3;
                    }
                }
            }
            self.busy.insert(node);
            requests.push((node, parts, max_bytes, reserved));
        }
        drop(state);
        for (node, parts, max_bytes, reserved) in requests {
            self.spawn_fetch(node, parts, max_bytes, reserved);
        }
        for (_, parts) in lookups {
            self.spawn_lookup(parts);
        }
        for (_, parts) in validations {
            self.spawn_validation(parts);
        }
        if !refresh.is_empty() && !self.refreshing {
            let due = self
                .last_refresh
                .map_or(now, |at| at + config.retry_backoff);
            if due <= now {
                self.refreshing = true;
                self.last_refresh = Some(now);
                let client = shared.client.clone();
                let tx = self.tx.clone();
                self.tasks.spawn(async move {
                    if let Err(e) = client.refresh_metadata(&refresh).await {
                        tracing::debug!(error = %e, "consumer metadata refresh failed");
                    }
                    let _ = tx.send(Event::Refreshed);
                });
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        next
    }

    fn spawn_fetch(&mut self, node: i32, parts: Vec<FetchPart>, max_bytes: usize, reserved: usize) {
        let shared = Arc::clone(&self.shared);
        let tx = self.tx.clone();
        let cached = self.conns.get(&node).filter(|c| !c.is_closed()).cloned();
        let address = shared
            .client
            .cluster()
            .with_metadata(|m| m.broker(node).map(|b| b.address()));
        self.tasks.spawn(async move {
            let cluster = shared.client.cluster().clone();
            let config = &shared.config;
            let ids: Vec<Uuid> = cluster.with_metadata(|m| {
                parts
                    .iter()
                    .map(|p| m.topic(&p.0.topic).map_or(Uuid::ZERO, |t| t.topic_id))
                    .collect()
            });
            let mut used = None;
            let result = async {
                let conn = match cached {
                    Some(conn) => conn,
                    None => {
                        let address = address.ok_or_else(|| {
                            NetError::InvalidArgument(format!(
                                "broker {node} is not in the metadata"
                            ))
                        })?;
                        BrokerConnection::connect(&address, &shared.client.config().net).await?
                    }
                };
                used = Some(conn.clone());
                // v13+ names topics by id only.
                let max = if ids.contains(&Uuid::ZERO) {
                    12.min(FetchRequest::VERSIONS.max)
                } else {
                    FetchRequest::VERSIONS.max
                };
                let version = conn.versions().choose(
                    ApiKey::Fetch,
                    VersionRange {
                        min: FetchRequest::VERSIONS.min,
                        max,
                    },
                    VersionChoice::Newest,
                    conn.address(),
                )?;
                let mut topics: Vec<FetchTopic> = Vec::new();
                for (p, id) in parts.iter().zip(&ids) {
                    let partition = FetchPartition::default()
                        .with_partition(p.0.partition)
                        .with_current_leader_epoch(p.3.unwrap_or(-1))
                        .with_fetch_offset(p.2)
                        .with_last_fetched_epoch(if version >= 12 { p.4.unwrap_or(-1) } else { -1 })
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(p.5.min(max_bytes) as i32);
                    match topics.last_mut() {
                        Some(t) if t.topic == p.0.topic => t.partitions.push(partition),
                        _ => topics.push(
                            FetchTopic::default()
                                .with_topic(p.0.topic.clone())
                                .with_topic_id(*id)
                                .with_partitions(vec![partition]),
                        ),
                    }
                }
                let request = FetchRequest::default()
                    .with_max_wait_ms(config.fetch_max_wait.as_millis() as i32)
                    .with_min_bytes(config.fetch_min_bytes)
                    .with_max_bytes(max_bytes as i32)
                    .with_isolation_level(config.isolation_level.as_i8())
                    .with_session_id(0)
                    .with_session_epoch(-1)
                    .with_topics(topics);
                let response = conn.send(&request, VersionChoice::Exact(version)).await?;
                Ok((version, response.body))
            }
            .await;
            let parts = parts
                .into_iter()
                .map(|p| Sent {
                    tp: p.0,
                    generation: p.1,
                    offset: p.2,
                    epoch: p.3,
                })
                .collect();
            let _ = tx.send(Event::Fetched {
                node,
                parts,
                reserved,
                result,
                conn: used,
            });
        });
    }

    fn spawn_lookup(&mut self, parts: Vec<LookupPart>) {
        let shared = Arc::clone(&self.shared);
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let admin = shared.client.admin();
            let options = ListOffsetsOptions::default().isolation(shared.config.isolation_level);
            // Out-of-range reports need both ends; everything else one lookup each.
            let spec = |status: Status| match status {
                Status::Reset(StartOffset::Latest) => OffsetSpec::Latest,
                Status::Reset(StartOffset::Timestamp(t)) => OffsetSpec::Timestamp(t),
                _ => OffsetSpec::Earliest,
            };
            let first = admin
                .list_offsets(parts.iter().map(|p| (p.0.clone(), spec(p.2))), &options)
                .await;
            let reports: Vec<TopicPartition> = parts
                .iter()
                .filter(|p| p.2 == Status::ReportOutOfRange)
                .map(|p| p.0.clone())
                .collect();
            let second = if reports.is_empty() {
                Ok(BTreeMap::new())
            } else {
                admin
                    .list_offsets(
                        reports.into_iter().map(|tp| (tp, OffsetSpec::Latest)),
                        &options,
                    )
                    .await
            };
            let get = |results: &Result<PartitionResults<ListedOffset>, Error>,
                       tp: &TopicPartition| match results {
                Err(e) => Err(e.clone()),
                Ok(map) => map.get(tp).cloned().unwrap_or_else(|| Err(missing(tp))),
            };
            let mut out = Vec::new();
            for p in &parts {
                let lookup = match (p.2, get(&first, &p.0)) {
                    (_, Err(e)) => classify(e),
                    (Status::ReportOutOfRange, Ok(start)) => match get(&second, &p.0) {
                        Ok(end) => Lookup::OutOfRange {
                            log_start: start.offset,
                            high_watermark: end.offset,
                        },
                        Err(e) => classify(e),
                    },
                    (_, Ok(found)) if found.offset < 0 => Lookup::NoneAtTime,
                    (_, Ok(found)) => Lookup::Position {
                        offset: found.offset,
                        epoch: found.leader_epoch,
                    },
                };
                out.push((p.0.clone(), p.1, p.2, lookup));
            }
            let _ = tx.send(Event::Looked(out));
        });
    }

    fn spawn_validation(&mut self, parts: Vec<ValidatePart>) {
        let shared = Arc::clone(&self.shared);
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let mut topics: Vec<OffsetForLeaderTopic> = Vec::new();
            for p in &parts {
                let partition = OffsetForLeaderPartition::default()
                    .with_partition(p.0.partition)
                    .with_current_leader_epoch(p.3.unwrap_or(-1))
                    .with_leader_epoch(p.2);
                match topics.last_mut() {
                    Some(t) if t.topic == p.0.topic => t.partitions.push(partition),
                    _ => topics.push(
                        OffsetForLeaderTopic::default()
                            .with_topic(p.0.topic.clone())
                            .with_partitions(vec![partition]),
                    ),
                }
            }
            let request = OffsetForLeaderEpochRequest::default()
                .with_replica_id(-1)
                .with_topics(topics);
            let response = shared.client.request(&request).await;
            let out = parts
                .iter()
                .map(|p| {
                    let v = match &response {
                        Err(e) if e.kafka_code().is_none() && !e.is_retriable() => {
                            // Unsupported here (a broker without the API or the version).
                            tracing::debug!(error = %e, "position not validated");
                            Validation::Skip
                        }
                        Err(e) => Validation::Retry(e.clone()),
                        Ok(r) => r
                            .body
                            .topics
                            .iter()
                            .filter(|t| t.topic == p.0.topic)
                            .flat_map(|t| &t.partitions)
                            .find(|x| x.partition == p.0.partition)
                            .map_or_else(
                                || Validation::Retry(missing(&p.0)),
                                |x| match x.error_code {
                                    ErrorCode::None => Validation::EndOffset {
                                        end_offset: x.end_offset,
                                        epoch: x.leader_epoch,
                                    },
                                    code if code.is_retriable() => {
                                        Validation::Retry(partition_error(&p.0, code))
                                    }
                                    _ => Validation::Skip,
                                },
                            ),
                    };
                    (p.0.clone(), p.1, p.3, v)
                })
                .collect();
            let _ = tx.send(Event::Validated(out));
        });
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Fetched {
                node,
                parts,
                reserved,
                result,
                conn,
            } => {
                match conn {
                    Some(c) if !c.is_closed() && result.is_ok() => {
                        self.conns.insert(node, c);
                    }
                    _ => {
                        self.conns.remove(&node);
                    }
                }
                self.on_fetched(node, parts, reserved, result)
            }
            Event::Looked(results) => self.on_looked(results),
            Event::Validated(results) => self.on_validated(results),
            Event::Refreshed => self.refreshing = false,
        }
    }

    fn on_fetched(
        &mut self,
        node: i32,
        parts: Vec<Sent>,
        reserved: usize,
        result: Result<(i16, FetchResponse), NetError>,
    ) {
        self.busy.remove(&node);
        let shared = Arc::clone(&self.shared);
        let config = &shared.config;
        let cluster = shared.client.cluster().clone();
        let backoff = Instant::now() + config.retry_backoff;
        let mut guard = shared.lock();
        let state = &mut *guard;
        shared.budget.sub(reserved);
        let (version, response) = match result {
            Ok(r) => r,
            Err(err) => {
                tracing::debug!(node, error = %err, "fetch failed");
                for s in &parts {
                    if let Some(p) = state.partitions.get_mut(&s.tp) {
                        p.in_flight = false;
                        p.retry_at = Some(backoff);
                    }
                    cluster.invalidate_partition(&s.tp.topic, s.tp.partition);
                }
                return;
            }
        };
        let names: BTreeMap<Uuid, String> = cluster.with_metadata(|m| {
            response
                .responses
                .iter()
                .filter(|t| t.topic.is_empty() && t.topic_id != Uuid::ZERO)
                .filter_map(|t| {
                    m.topic_by_id(t.topic_id)
                        .map(|n| (t.topic_id, n.to_owned()))
                })
                .collect()
        });
        let mut woke = false;
        let mut kept: Vec<Completed> = Vec::new();
        for s in parts {
            let data = response
                .responses
                .iter()
                .filter(|t| {
                    if t.topic.is_empty() {
                        names.get(&t.topic_id).is_some_and(|n| *n == s.tp.topic)
                    } else {
                        t.topic == s.tp.topic
                    }
                })
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition_index == s.tp.partition);
            let Some(part) = state.partitions.get_mut(&s.tp) else {
                continue;
            };
            part.in_flight = false;
            if part.generation != s.generation || part.position != s.offset {
                // Sought while in flight: stale.
                continue;
            }
            let Some(data) = data else {
                continue;
            };
            let code = if response.error_code.is_ok() {
                data.error_code
            } else {
                response.error_code
            };
            match code {
                ErrorCode::None => {
                    part.fetch_epoch = s.epoch.or(part.fetch_epoch);
                    part.high_watermark = data.high_watermark;
                    let diverging = data.diverging_epoch.epoch;
                    if version >= 12 && diverging >= 0 && data.diverging_epoch.end_offset >= 0 {
                        // KIP-320 in the fetch itself: the log diverged from what we read.
                        let end = data.diverging_epoch.end_offset;
                        let err = truncation(part, &s.tp, end, diverging, config.auto_offset_reset);
                        if let Some(err) = err {
                            push_error(&mut state.ready, part, &s.tp, err);
                            woke = true;
                        }
                        continue;
                    }
                    let records = data.records.clone().unwrap_or_default();
                    if records.is_empty() {
                        continue;
                    }
                    let aborted = data
                        .aborted_transactions
                        .iter()
                        .flatten()
                        .map(|a| (a.producer_id, a.first_offset))
                        .collect();
                    part.buffered = true;
                    let completed = Completed {
                        key: s.tp,
                        generation: s.generation,
                        fetch_offset: s.offset,
                        data: CompletedData::Records {
                            records,
                            high_watermark: data.high_watermark,
                            last_stable_offset: data.last_stable_offset,
                            log_start_offset: data.log_start_offset,
                            aborted,
                        },
                    };
                    kept.push(completed);
                }
                ErrorCode::OffsetOutOfRange => {
                    tracing::debug!(tp = %s.tp, offset = s.offset, "offset out of range");
                    part.status = match config.auto_offset_reset {
                        OffsetReset::Earliest => Status::Reset(StartOffset::Earliest),
                        OffsetReset::Latest => Status::Reset(StartOffset::Latest),
                        OffsetReset::None => Status::ReportOutOfRange,
                    };
                }
                ErrorCode::UnknownLeaderEpoch | ErrorCode::OffsetNotAvailable => {
                    // The broker is behind: try again.
                    part.retry_at = Some(backoff);
                }
                code if code.is_retriable()
                    || matches!(
                        code,
                        ErrorCode::UnknownTopicOrPartition | ErrorCode::UnknownTopicId
                    ) =>
                {
                    // A leader change (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, ...): the
                    // metadata says where to go next.
                    part.retry_at = Some(backoff);
                    cluster.invalidate_partition(&s.tp.topic, s.tp.partition);
                }
                code => {
                    let err = Error::request(
                        RequestContext::api(ApiKey::Fetch)
                            .with_partition(s.tp.topic.clone(), s.tp.partition)
                            .with_version(version),
                        NetError::from_broker(
                            ApiKey::Fetch,
                            code,
                            None,
                            format!("node {node}"),
                            ErrorScope::Partition {
                                topic: s.tp.topic.clone(),
                                partition: s.tp.partition,
                            },
                        ),
                    );
                    push_error(&mut state.ready, part, &s.tp, err);
                    woke = true;
                }
            }
        }
        if !kept.is_empty() {
            // Counted until the last record of the response is dropped.
            let records: Vec<bytes::Bytes> = kept
                .iter_mut()
                .map(|c| match &mut c.data {
                    CompletedData::Records { records, .. } => std::mem::take(records),
                    CompletedData::Error(_) => bytes::Bytes::new(),
                })
                .collect();
            let guarded = super::guard_frame(records, &shared.budget);
            for (mut c, bytes) in kept.into_iter().zip(guarded) {
                if let CompletedData::Records { records, .. } = &mut c.data {
                    *records = bytes;
                }
                state.ready.push_back(c);
            }
            woke = true;
        }
        if woke {
            state.wake_consumer();
        }
    }

    fn on_looked(&mut self, results: Vec<(TopicPartition, u64, Status, Lookup)>) {
        let shared = Arc::clone(&self.shared);
        let backoff = Instant::now() + shared.config.retry_backoff;
        let cluster = shared.client.cluster().clone();
        let mut guard = shared.lock();
        let state = &mut *guard;
        let mut woke = false;
        for (tp, generation, asked, lookup) in results {
            let Some(part) = state.partitions.get_mut(&tp) else {
                continue;
            };
            if part.generation != generation || part.status != Status::Looking {
                continue;
            }
            match lookup {
                Lookup::Position { offset, epoch } => {
                    part.position = offset;
                    part.last_epoch = epoch;
                    part.fetch_epoch = None;
                    part.status = Status::Ready;
                }
                Lookup::NoneAtTime => part.status = Status::Reset(StartOffset::Latest),
                Lookup::OutOfRange {
                    log_start,
                    high_watermark,
                } => {
                    let err = Error::OffsetOutOfRange {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        offset: part.position,
                        log_start_offset: log_start,
                        high_watermark,
                    };
                    push_error(&mut state.ready, part, &tp, err);
                    woke = true;
                }
                Lookup::Retry(e) => {
                    tracing::debug!(%tp, error = %e, "offset lookup failed; retrying");
                    cluster.invalidate_partition(&tp.topic, tp.partition);
                    part.retry_at = Some(backoff);
                    part.status = asked;
                }
                Lookup::Fatal(e) => {
                    push_error(&mut state.ready, part, &tp, e);
                    woke = true;
                }
            }
        }
        if woke {
            state.wake_consumer();
        }
    }

    fn on_validated(&mut self, results: Vec<(TopicPartition, u64, Option<i32>, Validation)>) {
        let shared = Arc::clone(&self.shared);
        let reset = shared.config.auto_offset_reset;
        let backoff = Instant::now() + shared.config.retry_backoff;
        let cluster = shared.client.cluster().clone();
        let mut guard = shared.lock();
        let state = &mut *guard;
        let mut woke = false;
        for (tp, generation, new_epoch, v) in results {
            let Some(part) = state.partitions.get_mut(&tp) else {
                continue;
            };
            if part.generation != generation || part.status != Status::Looking {
                continue;
            }
            match v {
                Validation::Skip => {
                    part.status = Status::Ready;
                    part.fetch_epoch = new_epoch;
                }
                Validation::Retry(e) => {
                    tracing::debug!(%tp, error = %e, "position validation failed; retrying");
                    cluster.invalidate_partition(&tp.topic, tp.partition);
                    part.status = Status::Validate;
                    part.retry_at = Some(backoff);
                }
                Validation::EndOffset { end_offset, epoch } => {
                    part.fetch_epoch = new_epoch;
                    if end_offset < 0 || epoch < 0 || end_offset < part.position {
                        let end = end_offset.max(-1);
                        if let Some(err) = truncation(part, &tp, end, epoch, reset) {
                            push_error(&mut state.ready, part, &tp, err);
                            woke = true;
                        }
                    } else {
                        part.status = Status::Ready;
                    }
                }
            }
        }
        if woke {
            state.wake_consumer();
        }
    }
}

/// The log was truncated below the position (the new leader's log ends the epoch at `end`, -1
/// when it does not know it): under a reset policy the position moves back there (or to the
/// policy's end when unknown); without one, the error to report.
fn truncation(
    part: &mut super::PartState,
    tp: &TopicPartition,
    end: i64,
    epoch: i32,
    reset: OffsetReset,
) -> Option<Error> {
    tracing::info!(%tp, position = part.position, divergent = end, "log truncation detected");
    match reset {
        OffsetReset::None => Some(Error::LogTruncation {
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset: part.position,
            divergent_offset: (end >= 0).then_some(end),
        }),
        policy if end < 0 => {
            part.status = Status::Reset(if policy == OffsetReset::Earliest {
                StartOffset::Earliest
            } else {
                StartOffset::Latest
            });
            None
        }
        _ => {
            part.position = end;
            part.last_epoch = (epoch >= 0).then_some(epoch);
            part.status = Status::Ready;
            None
        }
    }
}

fn push_error(
    ready: &mut std::collections::VecDeque<Completed>,
    part: &mut super::PartState,
    tp: &TopicPartition,
    err: Error,
) {
    part.buffered = true;
    part.status = Status::Failed;
    ready.push_back(Completed {
        key: tp.clone(),
        generation: part.generation,
        fetch_offset: part.position,
        data: CompletedData::Error(err),
    });
}

fn missing(tp: &TopicPartition) -> Error {
    partition_error(tp, ErrorCode::UnknownServerError)
}

fn partition_error(tp: &TopicPartition, code: ErrorCode) -> Error {
    Error::Broker {
        code,
        scope: ErrorScope::Partition {
            topic: tp.topic.clone(),
            partition: tp.partition,
        },
        message: None,
    }
}

fn classify(e: Error) -> Lookup {
    if e.is_retriable()
        || matches!(
            e.kafka_code(),
            Some(ErrorCode::UnknownTopicOrPartition | ErrorCode::UnknownTopicId)
        )
    {
        Lookup::Retry(e)
    } else {
        Lookup::Fatal(e)
    }
}
