//! Retries of retriable errors with exponential backoff and jitter, within a deadline.
