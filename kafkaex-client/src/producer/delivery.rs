//! The second stage of a send: [`DeliveryFuture`], resolved when the record's batch is
//! acknowledged or fails.
//!
//! A batch holds one [`BatchShared`]; every record's future holds an `Arc` of it and its index,
//! so a record costs one reference count, not a channel. Dropping a future changes nothing
//! about the delivery.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

use super::record::RecordMetadata;
use crate::error::Error;

/// What the broker answered for a batch.
#[derive(Clone, Debug)]
pub(crate) struct BatchAck {
    /// The offset of the batch's first record (-1 for a duplicate with no offset).
    pub(crate) base_offset: i64,
    /// The broker's LogAppendTime for the batch, -1 for CreateTime topics.
    pub(crate) log_append_time: i64,
}

/// The outcome of the records from index `start` on (up to the next segment): a batch has one
/// segment, a batch the broker found too large and that was split has one per part.
#[derive(Clone, Debug)]
pub(crate) struct Segment {
    pub(crate) start: u32,
    pub(crate) result: Result<BatchAck, Error>,
}

/// The outcome of one batch, shared by the futures of its records.
#[derive(Debug)]
pub(crate) struct BatchShared {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    result: OnceLock<Vec<Segment>>,
    wakers: Mutex<Vec<Waker>>,
}

impl BatchShared {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Arc<Self> {
        Arc::new(Self {
            topic,
            partition,
            result: OnceLock::new(),
            wakers: Mutex::new(Vec::new()),
        })
    }

    /// Sets the outcome of every record (the first call wins) and wakes the waiting futures.
    pub(crate) fn complete(&self, result: Result<BatchAck, Error>) {
        self.complete_segments(vec![Segment { start: 0, result }]);
    }

    /// Sets the outcome per segment (sorted by `start`, the first starting at 0).
    pub(crate) fn complete_segments(&self, mut segments: Vec<Segment>) {
        segments.sort_by_key(|s| s.start);
        if self.result.set(segments).is_ok() {
            let wakers =
                std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
            for waker in wakers {
                waker.wake();
            }
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.result.get().is_some()
    }
}

/// Resolves to where the record was written, or why it was not.
///
/// Dropping it never cancels the delivery: the record is sent (or fails) all the same. The
/// error of a failed delivery is an [`Error::Delivery`] whose
/// [`persistence`](Error::persistence) says whether the record is in the log anyway.
#[derive(Debug)]
#[must_use = "dropping a DeliveryFuture does not cancel the delivery, but its outcome is lost"]
pub struct DeliveryFuture {
    pub(crate) batch: Arc<BatchShared>,
    pub(crate) index: u32,
    pub(crate) timestamp: i64,
}

impl DeliveryFuture {
    fn outcome(&self) -> Option<Result<RecordMetadata, Error>> {
        let segments = self.batch.result.get()?;
        let segment = segments
            .iter()
            .rev()
            .find(|s| s.start <= self.index)
            .or(segments.first())?;
        Some(match &segment.result {
            Ok(ack) => Ok(RecordMetadata {
                topic: Arc::clone(&self.batch.topic),
                partition: self.batch.partition,
                offset: if ack.base_offset < 0 {
                    -1
                } else {
                    ack.base_offset + i64::from(self.index - segment.start)
                },
                timestamp: if ack.log_append_time >= 0 {
                    ack.log_append_time
                } else {
                    self.timestamp
                },
                log_append_time: ack.log_append_time >= 0,
            }),
            Err(e) => Err(e.clone()),
        })
    }

    /// The partition the record was appended to (known before it is delivered).
    pub fn partition(&self) -> i32 {
        self.batch.partition
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.batch.topic
    }

    /// The outcome if the batch is done, without waiting.
    pub fn try_result(&self) -> Option<Result<RecordMetadata, Error>> {
        self.outcome()
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(outcome) = self.outcome() {
            return Poll::Ready(outcome);
        }
        {
            let mut wakers = self
                .batch
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Checked again under the lock: `complete` takes the wakers after setting the
            // result, so a waker pushed now is either taken or not needed.
            if self.batch.result.get().is_none() {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
        }
        match self.outcome() {
            Some(outcome) => Poll::Ready(outcome),
            None => Poll::Pending,
        }
    }
}
