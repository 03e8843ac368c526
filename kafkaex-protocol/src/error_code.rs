//! Kafka error codes (skeleton: the full table is being filled in; the API below is fixed).

use std::fmt;

/// A Kafka error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No error.
    None,
    /// The requested offset is not within the range of offsets maintained by the server.
    OffsetOutOfRange,
    /// This server does not host this topic-partition.
    UnknownTopicOrPartition,
    /// There is no leader for this topic-partition as we are in the middle of a leadership election.
    LeaderNotAvailable,
    /// For requests intended only for the leader, this error indicates that the broker is not the current leader.
    NotLeaderOrFollower,
    /// The request timed out.
    RequestTimedOut,
    /// The coordinator is loading and hence can't process requests.
    CoordinatorLoadInProgress,
    /// The coordinator is not available.
    CoordinatorNotAvailable,
    /// This is not the correct coordinator.
    NotCoordinator,
    /// The version of API is not supported.
    UnsupportedVersion,
    /// SASL Authentication failed.
    SaslAuthenticationFailed,
    /// A code this crate does not know.
    Unknown(i16),
}

impl ErrorCode {
    /// The code for `code` (codes this crate does not know become [`ErrorCode::Unknown`]).
    pub fn from_code(code: i16) -> Self {
        match code {
            0 => Self::None,
            1 => Self::OffsetOutOfRange,
            3 => Self::UnknownTopicOrPartition,
            5 => Self::LeaderNotAvailable,
            6 => Self::NotLeaderOrFollower,
            7 => Self::RequestTimedOut,
            14 => Self::CoordinatorLoadInProgress,
            15 => Self::CoordinatorNotAvailable,
            16 => Self::NotCoordinator,
            35 => Self::UnsupportedVersion,
            58 => Self::SaslAuthenticationFailed,
            other => Self::Unknown(other),
        }
    }

    /// The numeric code.
    pub fn code(self) -> i16 {
        match self {
            Self::None => 0,
            Self::OffsetOutOfRange => 1,
            Self::UnknownTopicOrPartition => 3,
            Self::LeaderNotAvailable => 5,
            Self::NotLeaderOrFollower => 6,
            Self::RequestTimedOut => 7,
            Self::CoordinatorLoadInProgress => 14,
            Self::CoordinatorNotAvailable => 15,
            Self::NotCoordinator => 16,
            Self::UnsupportedVersion => 35,
            Self::SaslAuthenticationFailed => 58,
            Self::Unknown(c) => c,
        }
    }

    /// Whether this is code 0.
    pub fn is_ok(self) -> bool {
        self == Self::None
    }

    /// Whether Kafka marks this error retriable.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            Self::UnknownTopicOrPartition
                | Self::LeaderNotAvailable
                | Self::NotLeaderOrFollower
                | Self::RequestTimedOut
                | Self::CoordinatorLoadInProgress
                | Self::CoordinatorNotAvailable
                | Self::NotCoordinator
        )
    }

    /// Kafka's name for the code, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub fn name(self) -> &'static str {
        "UNKNOWN"
    }

    /// `Ok(())` for [`ErrorCode::None`], `Err(self)` otherwise.
    pub fn into_result(self) -> Result<(), ErrorCode> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        Self::from_code(code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

impl std::error::Error for ErrorCode {}
