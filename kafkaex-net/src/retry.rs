//! Retries of retriable errors with exponential backoff and jitter, within a deadline.
//!
//! [`RetryPolicy`] says how long to wait between attempts ([`RetryPolicy::backoff`]) and for how
//! long to keep trying; [`retry`] runs an operation under a policy until it succeeds, fails with
//! an error that is not retriable ([`NetError::is_retriable`]), or the deadline would pass
//! before the next attempt. The error that ends the retries is the one returned: the last real
//! failure, never a generic "deadline exceeded".
//!
//! ```
//! use std::time::Duration;
//! use kafkaex_net::retry::{retry, RetryPolicy};
//! use kafkaex_net::NetError;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let policy = RetryPolicy::default().with_initial_backoff(Duration::from_millis(1));
//! let result = retry(&policy, |attempt| async move {
//!     if attempt < 2 { Err(NetError::PeerClosed) } else { Ok(attempt) }
//! })
//! .await;
//! assert_eq!(result.unwrap(), 2);
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::NetError;

/// How retriable failures are retried: exponential backoff from `initial_backoff` up to
/// `max_backoff`, each wait spread by `jitter`, until `deadline` has passed since the first
/// attempt.
///
/// Out-of-range values are read leniently rather than rejected: a multiplier below 1 (or not a
/// number) counts as 1, a jitter outside 0-1 is clamped into it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The wait before the first retry (100 ms by default).
    pub initial_backoff: Duration,
    /// The longest wait between two attempts (1 s by default).
    pub max_backoff: Duration,
    /// The factor each wait grows by (2.0 by default).
    pub multiplier: f64,
    /// The fraction each wait is randomly spread by, up or down (0.2 by default).
    pub jitter: f64,
    /// How long after the first attempt no more retries start (30 s by default).
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.2,
            deadline: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that makes one attempt and never retries.
    pub fn no_retries() -> Self {
        Self {
            deadline: Duration::ZERO,
            ..Self::default()
        }
    }

    /// Sets the wait before the first retry.
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest wait between two attempts.
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the factor each wait grows by.
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Sets the random spread of each wait (0.2 = up to 20% shorter or longer).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets how long after the first attempt retries may start.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The wait after failed attempt `attempt` (0 for the first) before the next, without
    /// jitter: `initial_backoff * multiplier^attempt`, at most `max_backoff`.
    pub fn base_backoff(&self, attempt: u32) -> Duration {
        let max = self.max_backoff.as_secs_f64();
        let multiplier = if self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let secs = self.initial_backoff.as_secs_f64() * multiplier.powi(exponent);
        clamp_secs(secs, max)
    }

    /// The wait after failed attempt `attempt`, with jitter drawn from `sample` (in 0-1, values
    /// outside are clamped): the [base backoff](RetryPolicy::base_backoff) times
    /// `1 - jitter + 2 * jitter * sample`, at most `max_backoff`. [`RetryPolicy::backoff`] calls
    /// it with a random sample; tests call it with fixed ones.
    pub fn backoff_with_sample(&self, attempt: u32, sample: f64) -> Duration {
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        let sample = if sample.is_nan() {
            0.5
        } else {
            sample.clamp(0.0, 1.0)
        };
        let factor = 1.0 - jitter + 2.0 * jitter * sample;
        let secs = self.base_backoff(attempt).as_secs_f64() * factor;
        clamp_secs(secs, self.max_backoff.as_secs_f64())
    }

    /// The wait after failed attempt `attempt` (0 for the first) before the next: exponential,
    /// spread randomly by up to `jitter` either way (so that clients failing together do not
    /// retry together), never more than `max_backoff`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.backoff_with_sample(attempt, random_unit())
    }
}

/// `secs` as a duration in `0..=max`; not-a-number and overflow give `max`.
fn clamp_secs(secs: f64, max: f64) -> Duration {
    let secs = if secs.is_nan() {
        max
    } else {
        secs.clamp(0.0, max)
    };
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// A number in `[0, 1)` from a xorshift64* generator seeded once from the OS (jitter needs no
/// cryptographic quality, only different values in different processes).
fn random_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut current = STATE.load(Ordering::Relaxed);
    loop {
        let seed = if current == 0 {
            // `| 1`: xorshift's state must never be zero.
            getrandom::u64().unwrap_or(0x9E37_79B9_7F4A_7C15) | 1
        } else {
            current
        };
        let mut x = seed;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        match STATE.compare_exchange_weak(current, x, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => {
                let out = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
                // The top 53 bits, as a fraction of 2^53.
                return (out >> 11) as f64 / (1u64 << 53) as f64;
            }
            Err(actual) => current = actual,
        }
    }
}

/// Runs `operation` until it succeeds, fails with an error that is not
/// [retriable](NetError::is_retriable), or the next attempt would start after the policy's
/// deadline; see [`retry_if`].
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, operation: F) -> Result<T, NetError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, NetError>>,
{
    retry_if(policy, NetError::is_retriable, operation).await
}

/// Runs `operation(attempt)` (attempt 0, 1, ...) until it succeeds or fails with an error for
/// which `is_retriable` is false; after a retriable failure, waits
/// [`RetryPolicy::backoff`]`(attempt)` and tries again, unless that wait would end at or after
/// `policy.deadline` from the first attempt's start: then the failure is returned. It never
/// sleeps past the deadline, and the error returned is always the last one the operation gave.
///
/// The deadline decides when attempts may *start*; an attempt in progress is bounded by its own
/// timeouts (the request timeout), not cut off at the deadline.
///
/// Each retry is logged at `debug` level with the attempt, the wait and the error; the caller's
/// span gives the context.
pub async fn retry_if<T, E, F, Fut, P>(
    policy: &RetryPolicy,
    mut is_retriable: P,
    mut operation: F,
) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    P: FnMut(&E) -> bool,
    E: fmt::Display,
{
    let start = Instant::now();
    let deadline = start.checked_add(policy.deadline);
    let mut attempt: u32 = 0;
    loop {
        let err = match operation(attempt).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        if !is_retriable(&err) {
            tracing::debug!(attempt, error = %err, "not retriable");
            return Err(err);
        }
        let wait = policy.backoff(attempt);
        let now = Instant::now();
        let resume = now.checked_add(wait);
        let in_time = match (resume, deadline) {
            (Some(resume), Some(deadline)) => resume < deadline,
            // A deadline too far in the future to represent: no deadline.
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !in_time {
            tracing::debug!(
                attempt,
                elapsed = ?now.duration_since(start),
                error = %err,
                "giving up: the next attempt would start after the retry deadline"
            );
            return Err(err);
        }
        tracing::debug!(attempt, ?wait, error = %err, "retrying after a retriable error");
        tokio::time::sleep(wait).await;
        attempt = attempt.saturating_add(1);
    }
}
