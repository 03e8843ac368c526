//! Where a request goes.

use std::fmt;

use kafkaex_protocol::Uuid;

/// Where to send a request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// The broker with this node id.
    Node(i32),
    /// Any broker that answers (for Metadata, ApiVersions, DescribeCluster, ...): brokers with
    /// an open connection first, then the others in the metadata, then the bootstrap list.
    Any,
    /// The leader of a partition (Produce, Fetch, ListOffsets, DeleteRecords, ...).
    Leader {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
    },
    /// The one broker that leads every one of these partitions (a request about several
    /// partitions, such as a Produce to several partitions of one broker). Partitions led by
    /// different brokers are an [`InvalidArgument`](crate::NetError::InvalidArgument): the
    /// request must be split per broker.
    Leaders(Vec<(TopicRef, i32)>),
    /// The coordinator of a consumer group (JoinGroup, OffsetCommit, OffsetFetch, ...).
    GroupCoordinator(String),
    /// The transaction coordinator of a transactional id (InitProducerId, AddPartitionsToTxn,
    /// EndTxn, ...).
    TransactionCoordinator(String),
    /// The controller as the metadata names it (CreateTopics, DeleteTopics, CreatePartitions,
    /// ...). With KRaft, brokers name a random live broker here, which forwards admin requests
    /// to the real controller quorum; this is what Kafka's own clients route to.
    Controller,
}

/// A topic, by name or (for requests of the versions that name topics by id) by id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicRef {
    /// By name.
    Name(String),
    /// By topic id.
    Id(Uuid),
}

impl fmt::Display for TopicRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Id(id) => write!(f, "{id:?}"),
        }
    }
}

impl Route {
    /// [`Route::Leader`] of `topic`/`partition`.
    pub fn leader(topic: impl Into<String>, partition: i32) -> Self {
        Self::Leader {
            topic: topic.into(),
            partition,
        }
    }

    /// The coordinator this route goes to, if it goes to one.
    pub(crate) fn coordinator(&self) -> Option<(CoordinatorType, &str)> {
        match self {
            Self::GroupCoordinator(key) => Some((CoordinatorType::Group, key)),
            Self::TransactionCoordinator(key) => Some((CoordinatorType::Transaction, key)),
            _ => None,
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Node(id) => write!(f, "node {id}"),
            Self::Any => f.write_str("any broker"),
            Self::Leader { topic, partition } => write!(f, "leader of {topic}-{partition}"),
            Self::Leaders(partitions) => {
                f.write_str("leader of ")?;
                for (i, (topic, partition)) in partitions.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{topic}-{partition}")?;
                }
                Ok(())
            }
            Self::GroupCoordinator(group) => write!(f, "coordinator of group {group:?}"),
            Self::TransactionCoordinator(id) => {
                write!(f, "coordinator of transactional id {id:?}")
            }
            Self::Controller => f.write_str("controller"),
        }
    }
}

/// The kind of coordinator FindCoordinator looks up (its `key_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoordinatorType {
    /// A consumer group's coordinator (key type 0).
    Group,
    /// A transactional id's coordinator (key type 1).
    Transaction,
}

impl CoordinatorType {
    /// The FindCoordinator `key_type`.
    pub fn key_type(self) -> i8 {
        match self {
            Self::Group => 0,
            Self::Transaction => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_display_what_they_target() {
        assert_eq!(Route::leader("t", 3).to_string(), "leader of t-3");
        assert_eq!(Route::Node(2).to_string(), "node 2");
        assert_eq!(Route::Controller.to_string(), "controller");
        assert_eq!(
            Route::Leaders(vec![
                (TopicRef::Name("a".into()), 0),
                (TopicRef::Name("b".into()), 1)
            ])
            .to_string(),
            "leader of a-0, b-1"
        );
        assert_eq!(CoordinatorType::Transaction.key_type(), 1);
    }
}
