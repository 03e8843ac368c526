//! Kafka error codes (placeholder).

/// A Kafka error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No error.
    None,
    /// A code this crate does not know.
    Unknown(i16),
}
