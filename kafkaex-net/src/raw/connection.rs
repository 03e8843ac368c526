//! One multiplexed connection to a broker, at the frame level.
//!
//! A [`Connection`] owns a byte stream (TCP, TLS, or [`tokio::io::duplex`] in tests) and lets
//! many requests be in flight on it at once. It writes the request header itself, assigning a
//! fresh correlation id to each request, and hands back the response body that follows the
//! response header; encoding bodies and decoding responses is the caller's business.
//!
//! Two tasks run per connection:
//!
//! - the **writer** owns the write half and writes whole frames taken from a queue, so a frame
//!   is never cut short by a caller giving up on its request (dropping a [`Connection::call`]
//!   future at any point leaves the stream in step);
//! - the **reader** owns the read half, reads frames, and hands each body to the request with
//!   the frame's correlation id.
//!
//! A request whose caller stopped waiting (timed out, or its future was dropped) stays in flight
//! until its response arrives, which is then read and discarded. A response whose correlation id
//! matches no request in flight means the stream is out of step, so the connection *poisons*
//! itself, as it does on an I/O error, an oversized frame or the peer hanging up: every request
//! in flight fails with the cause, and every later call fails at once with
//! [`NetError::Closed`] carrying it. The owner sees [`Connection::is_closed`] and connects
//! again.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use bytes::Bytes;
//! use kafkaex_net::raw::connection::{Connection, ConnectionConfig, RawRequest};
//! use kafkaex_net::raw::connection::{RequestHeaderVersion, ResponseHeaderVersion};
//! use kafkaex_protocol::ApiKey;
//!
//! let stream = tokio::net::TcpStream::connect("localhost:9092").await?;
//! let connection = Connection::new(stream, ConnectionConfig::new("localhost:9092"));
//! // ApiVersions v3, its body two empty compact strings and no tagged fields. Request header
//! // v2, response header v0: ApiVersions responses keep header v0 so that any client can read
//! // them, whatever version it asked for.
//! let request = RawRequest::new(ApiKey::ApiVersions, 3, Bytes::from_static(&[1, 1, 0]))
//!     .with_header_versions(RequestHeaderVersion::V2, ResponseHeaderVersion::V0)
//!     .with_client_id("kafkaex");
//! let body: Bytes = connection.call(request, Duration::from_secs(30)).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use kafkaex_protocol::header::{self, REQUEST_HEAD_CORRELATION_ID_OFFSET};
use kafkaex_protocol::{primitives, ApiKey};

use crate::error::NetError;
use crate::frame::{self, DEFAULT_MAX_FRAME_SIZE};

pub use kafkaex_protocol::header::{RequestHeaderVersion, ResponseHeaderVersion};

/// A request whose body is already encoded: what [`Connection::call`] needs to frame it, put
/// a header in front of it and find the body of its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRequest {
    /// The API.
    pub api_key: ApiKey,
    /// The API version the body is encoded at.
    pub api_version: i16,
    /// The request header version this API version uses.
    pub request_header_version: RequestHeaderVersion,
    /// The response header version this API version uses.
    pub response_header_version: ResponseHeaderVersion,
    /// The client id sent in request headers v1 and v2 (`None` is sent as a null string).
    pub client_id: Option<Arc<str>>,
    /// The encoded request body.
    pub body: Bytes,
}

impl RawRequest {
    /// A request with header versions v1/v0 (those of every non-flexible API version) and no
    /// client id.
    pub fn new(api_key: ApiKey, api_version: i16, body: Bytes) -> Self {
        Self {
            api_key,
            api_version,
            request_header_version: RequestHeaderVersion::V1,
            response_header_version: ResponseHeaderVersion::V0,
            client_id: None,
            body,
        }
    }

    /// Sets the request and response header versions.
    pub fn with_header_versions(
        mut self,
        request: RequestHeaderVersion,
        response: ResponseHeaderVersion,
    ) -> Self {
        self.request_header_version = request;
        self.response_header_version = response;
        self
    }

    /// Sets the client id.
    pub fn with_client_id(mut self, client_id: impl Into<Arc<str>>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The request header with the size prefix in front, `correlation_id` in it. The size
    /// counts the body too, which is written after it without being copied.
    fn encode_head(&self, correlation_id: i32) -> Result<BytesMut, NetError> {
        Ok(header::encode_request_head(
            self.api_key,
            self.api_version,
            self.request_header_version,
            correlation_id,
            self.client_id.as_deref(),
            self.body.len(),
        )?)
    }
}

/// How a [`Connection`] behaves.
#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    peer: Arc<str>,
    max_response_size: usize,
    write_queue_capacity: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            peer: Arc::from("unknown peer"),
            max_response_size: DEFAULT_MAX_FRAME_SIZE,
            write_queue_capacity: 64,
        }
    }
}

impl ConnectionConfig {
    /// The defaults, with `peer` as the label in logs (typically `host:port` or a broker id).
    pub fn new(peer: impl Into<Arc<str>>) -> Self {
        Self {
            peer: peer.into(),
            ..Self::default()
        }
    }

    /// Sets the largest response frame accepted ([`DEFAULT_MAX_FRAME_SIZE`] by default); a
    /// larger one fails the connection with [`NetError::FrameTooLarge`].
    pub fn with_max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// Sets how many frames may wait to be written (64 by default, at least 1); callers beyond
    /// that wait their turn.
    pub fn with_write_queue_capacity(mut self, frames: usize) -> Self {
        self.write_queue_capacity = frames.max(1);
        self
    }

    /// The peer label.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The largest response frame accepted.
    pub fn max_response_size(&self) -> usize {
        self.max_response_size
    }

    /// How many frames may wait to be written.
    pub fn write_queue_capacity(&self) -> usize {
        self.write_queue_capacity
    }
}

/// How a request ended: its response body, or the error with whether its frame had been
/// handed to the socket (so the peer may have acted on it).
type Outcome = Result<Bytes, (NetError, bool)>;
type Waiter = oneshot::Sender<Outcome>;

/// A request sent and not yet answered.
#[derive(Debug)]
struct InFlight {
    /// `None` once the caller gave up (timeout); a dropped caller leaves a closed sender. Either
    /// way the entry stays until the response arrives, so that response is recognised and
    /// discarded rather than taken for a stray id; a frame abandoned before the writer reached
    /// it is not written at all, and its entry goes.
    waiter: Option<Waiter>,
    response_header_version: ResponseHeaderVersion,
    /// Whether the writer has started writing the frame.
    written: bool,
}

/// A request that failed, and whether it may have reached the peer: its frame was (at least
/// partly) written before the failure. Requests that fail before that point were never sent.
#[derive(Debug)]
pub(crate) struct CallError {
    pub(crate) error: NetError,
    pub(crate) sent: bool,
}

impl CallError {
    fn unsent(error: NetError) -> Self {
        Self { error, sent: false }
    }
}

#[derive(Debug)]
struct State {
    next_correlation_id: i32,
    in_flight: HashMap<i32, InFlight>,
    closed: Option<Arc<NetError>>,
}

impl State {
    /// The next correlation id, wrapping past `i32::MAX`, skipping ids still in flight.
    fn allocate_correlation_id(&mut self) -> i32 {
        loop {
            let id = self.next_correlation_id;
            self.next_correlation_id = id.wrapping_add(1);
            if !self.in_flight.contains_key(&id) {
                return id;
            }
        }
    }
}

#[derive(Debug)]
struct Shared {
    peer: Arc<str>,
    state: Mutex<State>,
    /// Set to `true` once the connection is closed, to stop the reader and writer tasks.
    shutdown: watch::Sender<bool>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // The lock is never held across a panic-prone call, but a poisoned lock must not turn
        // one failure into a panic in every caller.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn closed_error(cause: &Arc<NetError>) -> NetError {
        NetError::Closed {
            cause: Arc::clone(cause),
        }
    }

    /// The error for a caller arriving after the connection closed.
    fn current_closed_error(&self) -> NetError {
        match &self.state().closed {
            Some(cause) => Self::closed_error(cause),
            // Only reachable if a task ended without closing the connection, which they do not.
            None => NetError::Closed {
                cause: Arc::new(NetError::ClosedByClient),
            },
        }
    }

    /// Allocates a correlation id and, when `waiter` is given, registers it as in flight.
    fn register(&self, waiter: Option<(Waiter, ResponseHeaderVersion)>) -> Result<i32, NetError> {
        let mut state = self.state();
        if let Some(cause) = &state.closed {
            return Err(Self::closed_error(cause));
        }
        let id = state.allocate_correlation_id();
        if let Some((waiter, response_header_version)) = waiter {
            state.in_flight.insert(
                id,
                InFlight {
                    waiter: Some(waiter),
                    response_header_version,
                    written: false,
                },
            );
        }
        Ok(id)
    }

    /// The caller of request `id` stopped waiting: keep the id in flight so its response is
    /// still recognised, with no one to hand it to. Returns whether its frame was written; one
    /// that was not never will be (the writer skips it).
    fn abandon(&self, id: i32) -> bool {
        match self.state().in_flight.get_mut(&id) {
            Some(entry) => {
                entry.waiter = None;
                entry.written
            }
            // Answered or failed meanwhile: it was written.
            None => true,
        }
    }

    /// Called by the writer before writing the frame of request `id`: whether to write it.
    /// A frame whose caller gave up before it was written is dropped, with its entry.
    fn start_writing(&self, id: i32) -> bool {
        let mut state = self.state();
        match state.in_flight.get_mut(&id) {
            Some(entry) if entry.waiter.is_none() && !entry.written => {
                state.in_flight.remove(&id);
                false
            }
            Some(entry) => {
                entry.written = true;
                true
            }
            // Failed meanwhile: the connection is closing.
            None => false,
        }
    }

    /// Closes the connection for `cause` (the first cause wins): fails every request in
    /// flight with it and stops both tasks.
    fn fail(&self, cause: NetError) {
        let (cause, in_flight) = {
            let mut state = self.state();
            if state.closed.is_some() {
                return;
            }
            let cause = Arc::new(cause);
            state.closed = Some(Arc::clone(&cause));
            (cause, std::mem::take(&mut state.in_flight))
        };
        tracing::debug!(peer = %self.peer, error = %cause, in_flight = in_flight.len(), "connection closed");
        for entry in in_flight.into_values() {
            if let Some(waiter) = entry.waiter {
                let _ = waiter.send(Err((NetError::clone(&cause), entry.written)));
            }
        }
        self.shutdown.send_replace(true);
    }

    /// Hands a response frame to the request it answers. An error means the stream can no
    /// longer be trusted.
    fn dispatch(&self, frame: BytesMut) -> Result<(), NetError> {
        let mut frame = frame.freeze();
        let correlation_id = primitives::get_i32(&mut frame)?;
        let Some(entry) = self.state().in_flight.remove(&correlation_id) else {
            return Err(NetError::CorrelationMismatch {
                got: correlation_id,
            });
        };
        let header = header::skip_response_header_rest(&mut frame, entry.response_header_version)
            .map_err(NetError::from);
        match (header, entry.waiter) {
            (Ok(()), Some(waiter)) => {
                if waiter.send(Ok(frame)).is_err() {
                    tracing::trace!(peer = %self.peer, correlation_id, "discarded the response to a dropped request");
                }
                Ok(())
            }
            (Ok(()), None) => {
                tracing::debug!(peer = %self.peer, correlation_id, "discarded the late response to a timed-out request");
                Ok(())
            }
            (Err(err), waiter) => {
                if let Some(waiter) = waiter {
                    let _ = waiter.send(Err((err.clone(), true)));
                }
                Err(err)
            }
        }
    }
}

/// A frame queued for the writer task: the size prefix and header, then the body (kept apart so
/// a large body is written without being copied).
#[derive(Debug)]
struct OutgoingFrame {
    /// The correlation id of a request that awaits a response (`None` for one that gets none).
    correlation_id: Option<i32>,
    head: Bytes,
    body: Bytes,
    /// Told once the frame is flushed (or failed), for requests with no response.
    written: Option<oneshot::Sender<Result<(), NetError>>>,
}

/// A multiplexed connection to one broker: see the [module docs](self).
///
/// Share it behind an [`Arc`]; every method takes `&self`. Dropping the last handle closes the
/// stream once the frames already queued are written.
pub struct Connection {
    shared: Arc<Shared>,
    frames: mpsc::Sender<OutgoingFrame>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state();
        f.debug_struct("Connection")
            .field("peer", &self.shared.peer)
            .field("in_flight", &state.in_flight.len())
            .field("closed", &state.closed)
            .finish()
    }
}

impl Connection {
    /// Starts a connection over `stream`, spawning its reader and writer tasks.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub fn new<IO>(stream: IO, config: ConnectionConfig) -> Self
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        let (frames, queue) = mpsc::channel(config.write_queue_capacity);
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            peer: Arc::clone(&config.peer),
            state: Mutex::new(State {
                next_correlation_id: 0,
                in_flight: HashMap::new(),
                closed: None,
            }),
            shutdown,
        });
        tokio::spawn(read_loop(
            Arc::clone(&shared),
            BufReader::new(read),
            config.max_response_size,
        ));
        tokio::spawn(write_loop(
            Arc::clone(&shared),
            BufWriter::new(write),
            queue,
        ));
        Self { shared, frames }
    }

    /// Sends `request` and waits up to `timeout` for its response; returns the response body
    /// after the response header, a zero-copy slice of the frame.
    ///
    /// The timeout covers the whole call, including any wait for room in the write queue. A
    /// request that times out before the writer reached it is not written at all.
    ///
    /// Cancellation-safe: dropping the future at any point leaves the connection usable (the
    /// request is either never sent or sent whole, and its response is discarded).
    pub async fn call(&self, request: RawRequest, timeout: Duration) -> Result<Bytes, NetError> {
        self.call_tracked(request, timeout)
            .await
            .map_err(|failed| failed.error)
    }

    /// [`Connection::call`], saying on failure whether the request may have reached the peer.
    pub(crate) async fn call_tracked(
        &self,
        request: RawRequest,
        timeout: Duration,
    ) -> Result<Bytes, CallError> {
        self.queue_tracked(&request, timeout).await?.wait().await
    }

    /// Queues `request` for writing and returns the handle of its response, without waiting
    /// for it. Requests are written in the order their `queue_tracked` calls completed, so a
    /// caller that awaits one before queuing the next fixes the order on the wire (what an
    /// idempotent producer's batches need). The timeout covers the wait for a queue slot and
    /// the wait for the response together.
    ///
    /// Dropped before it resolves, nothing was queued; the [`PendingCall`] dropped unawaited
    /// leaves the request written and its response discarded.
    pub(crate) async fn queue_tracked(
        &self,
        request: &RawRequest,
        timeout: Duration,
    ) -> Result<PendingCall, CallError> {
        let span = tracing::debug_span!(
            "kafka_request",
            peer = %self.shared.peer,
            api_key = request.api_key.as_i16(),
            api_version = request.api_version,
            correlation_id = tracing::field::Empty,
        );
        let started = Instant::now();
        // `None` for a timeout too far away to express: no timeout at all.
        let deadline = started.checked_add(timeout);
        let (waiter, response) = oneshot::channel();
        let enqueued = self.enqueue(
            request,
            Some((waiter, request.response_header_version)),
            None,
        );
        let correlation_id = match deadline {
            None => enqueued.instrument(span.clone()).await,
            Some(deadline) => tokio::time::timeout_at(deadline, enqueued.instrument(span.clone()))
                .await
                .unwrap_or(Err(NetError::Timeout {
                    api_key: request.api_key,
                    api_version: request.api_version,
                    correlation_id: None,
                    timeout,
                })),
        };
        let correlation_id = match correlation_id {
            Ok(id) => id,
            Err(err) => {
                span.in_scope(|| tracing::debug!(error = %err, "request not sent"));
                return Err(CallError::unsent(err));
            }
        };
        span.record("correlation_id", correlation_id);
        Ok(PendingCall {
            shared: Arc::clone(&self.shared),
            response,
            api_key: request.api_key,
            api_version: request.api_version,
            correlation_id,
            started,
            deadline,
            timeout,
            span,
        })
    }

    /// Sends a request that gets no response (Produce with `acks=0`), and waits until it is
    /// written and flushed. No correlation id is kept for it: a response to it would poison the
    /// connection.
    ///
    /// Dropping the future after the first poll still writes the whole frame. There is no
    /// timeout: a peer that stops reading blocks it; see
    /// [`Connection::send_no_response_within`].
    pub async fn send_no_response(&self, request: RawRequest) -> Result<(), NetError> {
        self.send_no_response_within(request, Duration::MAX).await
    }

    /// [`Connection::send_no_response`] bounded by `timeout`. A frame that cannot be written in
    /// time (the peer stopped reading and the socket buffers are full) fails the whole
    /// connection with [`NetError::Timeout`]: a frame cut short cannot be taken back, so nothing
    /// after it could be trusted.
    pub async fn send_no_response_within(
        &self,
        request: RawRequest,
        timeout: Duration,
    ) -> Result<(), NetError> {
        let span = tracing::debug_span!(
            "kafka_request",
            peer = %self.shared.peer,
            api_key = request.api_key.as_i16(),
            api_version = request.api_version,
            correlation_id = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let deadline = started.checked_add(timeout);
            let (written, done) = oneshot::channel();
            let timed_out = |correlation_id| NetError::Timeout {
                api_key: request.api_key,
                api_version: request.api_version,
                correlation_id,
                timeout,
            };
            let enqueued = self.enqueue(&request, None, Some(written));
            let correlation_id = match deadline {
                None => enqueued.await?,
                Some(deadline) => match tokio::time::timeout_at(deadline, enqueued).await {
                    Ok(id) => id?,
                    Err(_) => return Err(timed_out(None)),
                },
            };
            tracing::Span::current().record("correlation_id", correlation_id);
            let outcome = match deadline {
                None => done.await.ok(),
                Some(deadline) => match tokio::time::timeout_at(deadline, done).await {
                    Ok(outcome) => outcome.ok(),
                    Err(_) => {
                        let err = timed_out(Some(correlation_id));
                        self.shared.fail(err.clone());
                        return Err(err);
                    }
                },
            };
            let result = match outcome {
                Some(result) => result,
                None => Err(self.shared.current_closed_error()),
            };
            let latency_us = started.elapsed().as_micros() as u64;
            match &result {
                Ok(()) => tracing::debug!(latency_us, "sent with no response expected"),
                Err(err) => tracing::debug!(latency_us, error = %err, "send failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    /// Fails the connection with `cause` (the first cause wins): every request in flight fails
    /// with it, later calls with [`NetError::Closed`] carrying it.
    pub(crate) fn abort(&self, cause: NetError) {
        self.shared.fail(cause);
    }

    /// Whether the connection is closed (failed, closed by the peer, or [closed](Self::close));
    /// every call on it fails with [`NetError::Closed`].
    pub fn is_closed(&self) -> bool {
        self.shared.state().closed.is_some()
    }

    /// Why the connection closed, once it has.
    pub fn close_cause(&self) -> Option<Arc<NetError>> {
        self.shared.state().closed.clone()
    }

    /// How many requests await a response (including abandoned ones whose response has not
    /// arrived yet).
    pub fn in_flight(&self) -> usize {
        self.shared.state().in_flight.len()
    }

    /// The peer label given in the [`ConnectionConfig`].
    pub fn peer(&self) -> &str {
        &self.shared.peer
    }

    /// Closes the connection: requests in flight fail with [`NetError::ClosedByClient`], frames
    /// not yet written are dropped, and the stream is closed.
    pub fn close(&self) {
        self.shared.fail(NetError::ClosedByClient);
    }

    /// Queues the frame for `request` and returns its correlation id.
    ///
    /// Everything after the queue slot is reserved is synchronous, so a caller dropped here
    /// either registered and queued the request, or did neither.
    async fn enqueue(
        &self,
        request: &RawRequest,
        waiter: Option<(Waiter, ResponseHeaderVersion)>,
        written: Option<oneshot::Sender<Result<(), NetError>>>,
    ) -> Result<i32, NetError> {
        // Fail fast when closed, rather than after waiting for a queue slot.
        if let Some(cause) = &self.shared.state().closed {
            return Err(Shared::closed_error(cause));
        }
        // Encode before registering, so an unencodable request is never in flight; the id is
        // patched in below.
        let mut head = request.encode_head(0)?;
        let permit = match self.frames.reserve().await {
            Ok(permit) => permit,
            Err(_) => return Err(self.shared.current_closed_error()),
        };
        let awaits_response = waiter.is_some();
        let correlation_id = self.shared.register(waiter)?;
        // The correlation id follows the size prefix, api key and api version in every header
        // version.
        head[REQUEST_HEAD_CORRELATION_ID_OFFSET..REQUEST_HEAD_CORRELATION_ID_OFFSET + 4]
            .copy_from_slice(&correlation_id.to_be_bytes());
        permit.send(OutgoingFrame {
            correlation_id: awaits_response.then_some(correlation_id),
            head: head.freeze(),
            body: request.body.clone(),
            written,
        });
        Ok(correlation_id)
    }
}

/// A request queued by [`Connection::queue_tracked`]; [`PendingCall::wait`] gives its response.
#[derive(Debug)]
pub(crate) struct PendingCall {
    shared: Arc<Shared>,
    response: oneshot::Receiver<Outcome>,
    api_key: ApiKey,
    api_version: i16,
    correlation_id: i32,
    started: Instant,
    deadline: Option<Instant>,
    timeout: Duration,
    span: tracing::Span,
}

impl PendingCall {
    /// Waits for the response, until the deadline the call was queued with.
    pub(crate) async fn wait(mut self) -> Result<Bytes, CallError> {
        let span = self.span.clone();
        async move {
            let result = self.wait_inner().await;
            let latency_us = self.started.elapsed().as_micros() as u64;
            match &result {
                Ok(body) => tracing::debug!(latency_us, response_len = body.len(), "response"),
                Err(failed) => {
                    tracing::debug!(latency_us, error = %failed.error, sent = failed.sent, "request failed")
                }
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn wait_inner(&mut self) -> Result<Bytes, CallError> {
        let shared = Arc::clone(&self.shared);
        let outcome = |received: Result<Outcome, oneshot::error::RecvError>| match received {
            Ok(Ok(body)) => Ok(body),
            Ok(Err((error, sent))) => Err(CallError { error, sent }),
            // Only if the entry vanished unanswered, which the tasks do not do: assume the
            // worst about whether it was sent.
            Err(_) => Err(CallError {
                error: shared.current_closed_error(),
                sent: true,
            }),
        };
        let Some(deadline) = self.deadline else {
            return outcome((&mut self.response).await);
        };
        match tokio::time::timeout_at(deadline, &mut self.response).await {
            Ok(received) => outcome(received),
            Err(_elapsed) => {
                let written = shared.abandon(self.correlation_id);
                // The response may have been handed over between the timer firing and
                // `abandon` taking the lock; then it is not late after all.
                if let Ok(received) = self.response.try_recv() {
                    return outcome(Ok(received));
                }
                Err(CallError {
                    error: NetError::Timeout {
                        api_key: self.api_key,
                        api_version: self.api_version,
                        correlation_id: written.then_some(self.correlation_id),
                        timeout: self.timeout,
                    },
                    sent: written,
                })
            }
        }
    }
}

async fn read_loop<R>(shared: Arc<Shared>, mut reader: R, max_response_size: usize)
where
    R: AsyncRead + Unpin,
{
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let frame = tokio::select! {
            biased;
            _ = shutdown.wait_for(|closed| *closed) => return,
            frame = frame::read_frame(&mut reader, max_response_size) => frame,
        };
        let result = match frame {
            Ok(Some(frame)) => shared.dispatch(frame),
            Ok(None) => Err(NetError::PeerClosed),
            Err(err) => Err(err),
        };
        if let Err(err) = result {
            shared.fail(err);
            return;
        }
    }
}

async fn write_loop<W>(shared: Arc<Shared>, mut writer: W, mut queue: mpsc::Receiver<OutgoingFrame>)
where
    W: AsyncWrite + Unpin,
{
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let frame = tokio::select! {
            biased;
            _ = shutdown.wait_for(|closed| *closed) => return,
            frame = queue.recv() => frame,
        };
        let Some(frame) = frame else {
            // Every `Connection` handle is gone and the queue is drained: close the stream
            // (unless something else closes the connection first), then stop the reader.
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|closed| *closed) => {}
                _ = writer.shutdown() => {}
            }
            shared.fail(NetError::ClosedByClient);
            return;
        };
        if let Some(id) = frame.correlation_id {
            if !shared.start_writing(id) {
                tracing::debug!(peer = %shared.peer, correlation_id = id, "dropped the frame of a request that timed out before it was written");
                continue;
            }
        }
        // Flush when nothing else is queued (later frames would share the flush) or when a
        // caller waits to hear the frame is out.
        let flush = queue.is_empty() || frame.written.is_some();
        let result = tokio::select! {
            biased;
            // Abandoning a half-written frame is fine here: the connection is closed.
            _ = shutdown.wait_for(|closed| *closed) => return,
            result = write_one(&mut writer, &frame, flush) => result,
        };
        if let Some(written) = frame.written {
            let _ = written.send(result.clone());
        }
        if let Err(err) = result {
            shared.fail(err);
            return;
        }
    }
}

async fn write_one<W>(writer: &mut W, frame: &OutgoingFrame, flush: bool) -> Result<(), NetError>
where
    W: AsyncWrite + Unpin,
{
    writer.write_all(&frame.head).await?;
    writer.write_all(&frame.body).await?;
    if flush {
        writer.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_wrap_and_skip_ids_in_flight() {
        let mut state = State {
            next_correlation_id: i32::MAX,
            in_flight: HashMap::new(),
            closed: None,
        };
        state.in_flight.insert(
            i32::MIN,
            InFlight {
                waiter: None,
                response_header_version: ResponseHeaderVersion::V0,
                written: true,
            },
        );
        assert_eq!(state.allocate_correlation_id(), i32::MAX);
        assert_eq!(state.allocate_correlation_id(), i32::MIN + 1);
    }

    #[test]
    fn client_id_too_long_is_an_encode_error() {
        let request =
            RawRequest::new(ApiKey::Metadata, 1, Bytes::new()).with_client_id("x".repeat(40_000));
        let err = request.encode_head(0).unwrap_err();
        assert!(matches!(err, NetError::Encode(_)), "{err:?}");
    }
}
