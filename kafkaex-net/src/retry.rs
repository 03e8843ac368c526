//! Retries of retriable errors with exponential backoff and jitter, within a deadline.

use std::time::Duration;

/// How retriable failures are retried: exponential backoff from `initial_backoff` up to
/// `max_backoff`, each wait spread by `jitter`, until `deadline` has passed since the first
/// attempt.
#[derive(Clone, Debug)]
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
