//! What a request needs to be sent without help: where it goes, where its errors are, whether it
//! is safe to repeat ([`RoutedRequest`]); and what comes back ([`Response`]).
//!
//! [`Cluster::request`](crate::Cluster::request) derives the route, the version, the retries and
//! what to invalidate from these facts, so a call site writes neither a [`Route`] nor an error
//! closure. [`RoutedRequest`] is implemented for every request the client layers use (see
//! [`apis`]); [`Cluster::send`](crate::Cluster::send) and
//! [`Cluster::send_with_retry`](crate::Cluster::send_with_retry) remain for any other generated
//! request.
//!
//! # Errors in a response
//!
//! [`RoutedRequest::errors`] lists every non-zero error code of a response as a
//! [`ResponseError`]: the code, the broker's message, the [`ErrorScope`] it applies to (the
//! whole response, a topic, a partition, a group, a member, ...), and whether it settles the
//! request as a whole ([`ResponseError::whole_request`]): a top-level code, or the code of the
//! only item the request was about (the one partition of a single-partition Produce). Codes of
//! one item among several are for the caller: the response is returned with them.

pub mod apis;

use std::time::Duration;

use kafkaex_protocol::{ApiKey, ErrorCode, Request};

use crate::cluster::Route;
use crate::error::ErrorScope;

/// A broker that answered: its node id when the client knows it (a bootstrap connection does
/// not), and the address the connection was made to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrokerRef {
    /// The node id, when known.
    pub node_id: Option<i32>,
    /// `host:port` as connected.
    pub address: String,
}

impl std::fmt::Display for BrokerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.node_id {
            Some(id) => write!(f, "node {id} ({})", self.address),
            None => f.write_str(&self.address),
        }
    }
}

/// A response with what the call learned on the way.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Response<T> {
    /// The decoded response (for a request the broker does not answer, such as a Produce with
    /// `acks=0`, the default value: nothing came back).
    pub body: T,
    /// The version the request was sent at.
    pub version: i16,
    /// The broker that answered.
    pub broker: BrokerRef,
    /// The error codes in the response that did not end the call: codes of single items of a
    /// request about several (one partition of a multi-partition Produce), for the caller to
    /// act on. Filled by [`Cluster::request`](crate::Cluster::request); always empty from
    /// [`Cluster::send`](crate::Cluster::send) and [`BrokerConnection::send`](crate::BrokerConnection::send),
    /// which do not look at error codes.
    pub errors: Vec<ResponseError>,
}

impl<T> Response<T> {
    pub(crate) fn new(body: T, version: i16, broker: BrokerRef) -> Self {
        Self {
            body,
            version,
            broker,
            errors: Vec::new(),
        }
    }

    /// The body, dropping the rest.
    pub fn into_body(self) -> T {
        self.body
    }
}

/// One non-zero error code in a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseError {
    /// What it applies to.
    pub scope: ErrorScope,
    /// The code.
    pub code: ErrorCode,
    /// The broker's message with it, if any.
    pub message: Option<String>,
    /// Whether it settles the request as a whole: a top-level code, or the code of the only
    /// item the request was about.
    pub whole_request: bool,
}

impl ResponseError {
    /// An error of one item; [`ResponseError::whole_request`] when it is the only item.
    pub fn item(scope: ErrorScope, code: ErrorCode, message: Option<String>, items: usize) -> Self {
        Self {
            scope,
            code,
            message,
            whole_request: items == 1,
        }
    }

    /// A top-level error.
    pub fn top(code: ErrorCode, message: Option<String>) -> Self {
        Self {
            scope: ErrorScope::Response,
            code,
            message,
            whole_request: true,
        }
    }
}

/// The requests a [`Cluster`](crate::Cluster) can send on its own: they say where they go, where
/// the error codes of their responses are, and whether they may be repeated.
///
/// Implemented for the requests of every API the client layers use (see [`apis`]); a crate with
/// another generated request can implement it too.
pub trait RoutedRequest: Request {
    /// Where the request goes, read from its own fields: the leader of its partitions, the
    /// coordinator of its group or transactional id, the controller, or any broker.
    fn route(&self) -> Route;

    /// Every non-zero error code in `response`, with what it applies to.
    fn errors(&self, response: &Self::Response) -> Vec<ResponseError>;

    /// Whether sending the request twice has the effect of sending it once, so that it may be
    /// repeated after it may have reached the broker (a timeout, a connection lost after the
    /// write). The default is [`idempotent_api`] for the API.
    fn is_idempotent(&self) -> bool {
        idempotent_api(Self::API_KEY)
    }

    /// Whether the broker answers it (a Produce with `acks=0` is not answered).
    fn expects_response(&self) -> bool {
        true
    }

    /// How long the broker may hold the request on purpose before answering (a JoinGroup waits
    /// up to the rebalance timeout): the request timeout is stretched to cover it.
    fn broker_wait(&self) -> Option<Duration> {
        None
    }

    /// The newest version the request can be sent at, when its own fields rule out newer ones:
    /// a topic named without its id cannot go out at the versions that name topics by id only
    /// (Produce v13+, Fetch v13+, OffsetCommit and OffsetFetch v10+, TxnOffsetCommit v6+),
    /// where the broker would answer `UNKNOWN_TOPIC_ID`. [`Cluster::request`](crate::Cluster::request)
    /// negotiates at most this version, as Java's client does; a version asked for exactly
    /// ([`VersionChoice::Exact`](crate::VersionChoice::Exact)) is sent as asked. `None`: any
    /// version of the type.
    fn max_version(&self) -> Option<i16> {
        None
    }
}

/// Whether requests of `api` are safe to repeat as such: reads, heartbeats, commits of the same
/// offsets, joins and leaves (which the group protocol expects to be retried). Not safe:
/// Produce (without an idempotent producer id a repeat appends twice; [`RoutedRequest`] for
/// Produce looks at the batches), the admin writes whose second attempt answers differently
/// from the first (CreateTopics says `TOPIC_ALREADY_EXISTS`, DeleteTopics
/// `UNKNOWN_TOPIC_OR_PARTITION`, CreatePartitions `INVALID_PARTITIONS`, DeleteGroups
/// `GROUP_ID_NOT_FOUND`), IncrementalAlterConfigs (`APPEND` and `SUBTRACT` add and remove
/// again; [`RoutedRequest`] looks at the operations), AlterConfigs, and anything else this
/// client does not know to be safe.
pub fn idempotent_api(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::Metadata
            | ApiKey::ApiVersions
            | ApiKey::Fetch
            | ApiKey::ListOffsets
            | ApiKey::OffsetFetch
            | ApiKey::OffsetCommit
            | ApiKey::FindCoordinator
            | ApiKey::JoinGroup
            | ApiKey::SyncGroup
            | ApiKey::Heartbeat
            | ApiKey::LeaveGroup
            | ApiKey::DescribeGroups
            | ApiKey::ListGroups
            | ApiKey::DescribeConfigs
            | ApiKey::DescribeCluster
            | ApiKey::DescribeLogDirs
            | ApiKey::DescribeAcls
            | ApiKey::DescribeClientQuotas
            | ApiKey::DescribeUserScramCredentials
            | ApiKey::DescribeProducers
            | ApiKey::DescribeTransactions
            | ApiKey::ListTransactions
            | ApiKey::ListPartitionReassignments
            | ApiKey::DeleteRecords
            | ApiKey::OffsetDelete
            | ApiKey::OffsetForLeaderEpoch
            | ApiKey::InitProducerId
            | ApiKey::AddPartitionsToTxn
            | ApiKey::AddOffsetsToTxn
            | ApiKey::TxnOffsetCommit
            | ApiKey::EndTxn
            | ApiKey::ConsumerGroupDescribe
            | ApiKey::SaslHandshake
            | ApiKey::SaslAuthenticate
    )
}
