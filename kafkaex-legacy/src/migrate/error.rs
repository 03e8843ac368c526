//! [`MigrateError`]: why a migration could not run (per-partition failures are rows of the
//! [`Report`](super::Report), not errors).

use kafkaex_protocol::{ApiKey, VersionRange};

use super::Storage;

/// Why a migration, rollback or verification could not run at all.
///
/// Failures of single partitions (a commit refused, a read that failed) do not end a run:
/// they are [`Status::Failed`](super::Status::Failed) rows of the report. These errors are
/// about the run as a whole. Each says what this tool could not do; the client's error, when
/// there is one, is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The brokers have no ZooKeeper offset storage: they do not serve OffsetCommit or
    /// OffsetFetch v0 (Kafka 4.x, or a KRaft-mode cluster), so there is nothing to migrate
    /// from or roll back to here.
    #[error(
        "broker {broker} has no ZooKeeper offset storage: it does not serve {api} v0 \
         (it supports {}). ZooKeeper mode was removed in Kafka 4.0 and KIP-896 removed the \
         v0 offset APIs (OffsetCommit v0-1, OffsetFetch v0); KRaft-mode brokers of 3.x refuse \
         them too. Offsets committed to ZooKeeper must be migrated on the ZooKeeper-mode 3.x \
         cluster before it is upgraded (`kafkaex offsets migrate --apply` there); offsets \
         already in Kafka storage (committed with OffsetCommit v1+) need nothing",
        describe_range(.range)
    )]
    NoZooKeeperStorage {
        /// The broker (`host:port`, or the node id when the address is not known).
        broker: String,
        /// The API whose v0 is missing.
        api: ApiKey,
        /// The broker's versions of it (`None`: it does not list the API).
        range: Option<VersionRange>,
        /// The client's error, when a request found it (not when the broker's ApiVersions
        /// said so before anything was sent).
        #[source]
        source: Option<kafkaex_client::Error>,
    },
    /// Groups have active members: their consumers would overwrite what is copied (or go on
    /// from offsets that are about to change). Stop or drain them first, or pass
    /// [`ApplyOptions::allow_active_members`](super::ApplyOptions::allow_active_members).
    #[error(
        "refusing to change the offsets of groups with active members ({}): stop or drain \
         their consumers first (or allow active members explicitly)",
        describe_active(.groups)
    )]
    ActiveMembers {
        /// Each refused group with its state and member count.
        groups: Vec<ActiveGroup>,
    },
    /// The arguments cannot work (no group, an empty group id, a version out of range).
    #[error("invalid migration arguments: {0}")]
    InvalidArgument(String),
    /// A topic named in the migration is not in the cluster.
    #[error("topic {topic:?} is not in the cluster's metadata")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// The cluster's metadata (its topics and partitions) could not be read.
    #[error("could not read the cluster's topics and partitions")]
    Metadata {
        /// The client's error.
        #[source]
        source: kafkaex_client::Error,
    },
    /// The brokers' API versions could not be read.
    #[error("could not read the brokers' API versions")]
    ApiVersions {
        /// The client's error.
        #[source]
        source: kafkaex_client::Error,
    },
    /// The groups of the cluster could not be listed (for [`Groups::All`](super::Groups::All)).
    #[error("could not list the cluster's groups (broker {node} failed)")]
    ListGroups {
        /// The node id of a broker that could not list its groups.
        node: i32,
        /// The client's error.
        #[source]
        source: kafkaex_client::Error,
    },
    /// A group could not be described (to know whether it has active members).
    #[error("could not describe group {group:?}")]
    DescribeGroup {
        /// The group.
        group: String,
        /// The client's error.
        #[source]
        source: kafkaex_client::Error,
    },
    /// A group's offsets could not be read from a storage as a whole (a group-level error,
    /// not one partition's).
    #[error("could not read the offsets of group {group:?} from {storage} storage")]
    ReadGroup {
        /// The group.
        group: String,
        /// The storage read.
        storage: Storage,
        /// The client's error.
        #[source]
        source: kafkaex_client::Error,
    },
}

/// A group [`MigrateError::ActiveMembers`] refused.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ActiveGroup {
    /// The group id.
    pub group: String,
    /// Its state as DescribeGroups reports it (`Stable`, `PreparingRebalance`, ...).
    pub state: String,
    /// How many members it has.
    pub members: usize,
}

fn describe_range(range: &Option<VersionRange>) -> String {
    match range {
        Some(r) => format!("v{}-v{}", r.min, r.max),
        None => "no version of it".to_owned(),
    }
}

fn describe_active(groups: &[ActiveGroup]) -> String {
    groups
        .iter()
        .map(|g| format!("{:?}: {} member(s), {}", g.group, g.members, g.state))
        .collect::<Vec<_>>()
        .join("; ")
}

impl MigrateError {
    /// A stable name of the variant, for machine-readable output (`--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NoZooKeeperStorage { .. } => "no_zookeeper_storage",
            Self::ActiveMembers { .. } => "active_members",
            Self::InvalidArgument(_) => "invalid_argument",
            Self::UnknownTopic { .. } => "unknown_topic",
            Self::Metadata { .. } => "metadata",
            Self::ApiVersions { .. } => "api_versions",
            Self::ListGroups { .. } => "list_groups",
            Self::DescribeGroup { .. } => "describe_group",
            Self::ReadGroup { .. } => "read_group",
        }
    }
}
