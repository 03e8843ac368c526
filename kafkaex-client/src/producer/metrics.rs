//! Counters of a producer, read as a [`ProducerMetrics`] snapshot.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// A snapshot of a producer's counters since it was built.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged (or written, at acks=0).
    pub records_sent: u64,
    /// Bytes of record batches acknowledged (as sent, compressed).
    pub bytes_sent: u64,
    /// Batches acknowledged.
    pub batches_sent: u64,
    /// Produce requests sent.
    pub requests: u64,
    /// Batches sent again after a failure.
    pub retries: u64,
    /// Records whose delivery failed.
    pub errors: u64,
    /// Produce requests in flight now.
    pub in_flight_requests: usize,
    /// Bytes of the buffer in use now.
    pub buffer_used: usize,
    /// The buffer's size.
    pub buffer_limit: usize,
    /// Batches waiting to be sent now.
    pub batches_queued: usize,
    /// Mean time from a batch's first record to its acknowledgement.
    pub mean_batch_latency: Duration,
    /// Mean time a batch waited from its first record to its first send (linger, waiting for a
    /// slot in flight, for a producer id).
    pub mean_queue_time: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) records_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) batches_sent: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) in_flight_requests: AtomicUsize,
    pub(crate) batches_queued: AtomicUsize,
    pub(crate) latency_us_total: AtomicU64,
    pub(crate) queue_us_total: AtomicU64,
    pub(crate) first_sends: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, buffer_used: usize, buffer_limit: usize) -> ProducerMetrics {
        let batches = self.batches_sent.load(Ordering::Relaxed);
        let total = self.latency_us_total.load(Ordering::Relaxed);
        ProducerMetrics {
            records_sent: self.records_sent.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            batches_sent: batches,
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            in_flight_requests: self.in_flight_requests.load(Ordering::Relaxed),
            buffer_used,
            buffer_limit,
            batches_queued: self.batches_queued.load(Ordering::Relaxed),
            mean_batch_latency: Duration::from_micros(total.checked_div(batches).unwrap_or(0)),
            mean_queue_time: Duration::from_micros(
                self.queue_us_total
                    .load(Ordering::Relaxed)
                    .checked_div(self.first_sends.load(Ordering::Relaxed))
                    .unwrap_or(0),
            ),
        }
    }
}
