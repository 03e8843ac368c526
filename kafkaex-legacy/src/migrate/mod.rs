//! Offset storage migration between ZooKeeper and Kafka: the tool `kayrock.md` promised.
//!
//! KafkaEx's legacy API commits with OffsetCommit **v0** by default, which a ZooKeeper-mode
//! broker (Kafka 0.8.2 to 3.9) stores in ZooKeeper. OffsetFetch v1+ reads only Kafka storage
//! (`__consumer_offsets`): a v0 offset fetched with v1+ is "no offset" (-1, no error), and a
//! v1+ offset fetched with v0 is `UNKNOWN_TOPIC_OR_PARTITION`. Switching a consumer's
//! `api_version` from 0 to 3 without moving its offsets first makes it start over from its
//! reset policy. This module moves them, per group and partition, through `kafkaex-client`:
//!
//! - [`Direction::Migrate`]: ZooKeeper -> Kafka. Read with OffsetFetch v0, written with
//!   OffsetCommit at [`Migration::kafka_version`] (2 by default, at least 2), read back with
//!   OffsetFetch at that version.
//! - [`Direction::Rollback`]: Kafka -> ZooKeeper. Read with OffsetFetch at
//!   `kafka_version` (1+), written with OffsetCommit v0, read back with OffsetFetch v0.
//!   ZooKeeper storage keeps the offset only: the broker drops the metadata string of a v0
//!   commit, so a rolled-back offset loses its metadata (the report notes it).
//!
//! Safety rules, all per partition and shown by a dry run first ([`plan`], or [`apply`] with
//! the default [`ApplyOptions`], whose `dry_run` is true):
//!
//! - A target offset greater than the source's is not overwritten ([`Action::RefuseNewer`])
//!   unless [`ApplyOptions::force`]: a newer target means a consumer already went on from it.
//! - A group with active members (DescribeGroups) is refused as a whole
//!   ([`MigrateError::ActiveMembers`]) unless [`ApplyOptions::allow_active_members`]: its
//!   consumers would commit over the copy. (Kafka itself also refuses a standalone commit to
//!   a group with members, `UNKNOWN_MEMBER_ID`; ZooKeeper storage does not check.)
//! - A partition whose target already equals the source is skipped ([`Action::Skip`]), so a
//!   re-run after a partial failure writes only what is still missing and nothing twice.
//! - Every written partition is read back with the target's version and compared
//!   ([`Status::Verified`] / [`Status::Mismatch`]). When a commit fails as a whole (the
//!   broker went away), the run stops writing and reports the rest as
//!   [`Status::NotAttempted`].
//!
//! Partitions come from the topics' metadata: the topics given ([`Migration::topics`]), or
//! every topic of the cluster. OffsetFetch v0 cannot list a group's partitions (it needs them
//! named, and its null-topics form does not exist), so without a topic list every partition
//! of every (non-internal) topic is asked with v0, and those without a ZooKeeper offset are
//! left out; the Kafka side is listed with OffsetFetch v2+ (all partitions of the group).
//!
//! Against Kafka 4.x (or a KRaft-mode cluster) there is no ZooKeeper storage: every call
//! returns [`MigrateError::NoZooKeeperStorage`], which says so and what to do.
//!
//! ```no_run
//! use kafkaex_client::Client;
//! use kafkaex_legacy::migrate::{self, ApplyOptions, Direction, Migration};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder().bootstrap(["localhost:9092"]).build().await?;
//! let migration = Migration::new(Direction::Migrate, ["billing"]).topics(["payments"]);
//! // A dry run: what each storage holds and what would be done.
//! let plan = migrate::plan(&client, &migration, &ApplyOptions::default()).await?;
//! print!("{}", plan.to_table());
//! // Apply, read back at the target's version, verify.
//! let report = migrate::apply(&client, &migration, &ApplyOptions::default().dry_run(false)).await?;
//! assert!(report.is_success(), "{}", report.to_table());
//! # Ok(()) }
//! ```

mod error;
mod report;
mod storage;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use kafkaex_client::admin::{DescribeGroupsOptions, ListGroupsOptions};
use kafkaex_client::offsets::TopicPartition;
use kafkaex_client::{Admin, Client};
use kafkaex_protocol::messages::metadata_request::MetadataRequestTopic;
use kafkaex_protocol::messages::MetadataRequest;
use kafkaex_protocol::{ApiKey, ErrorCode};
use serde::Serialize;

pub use self::error::{ActiveGroup, MigrateError};
pub use self::report::{
    Action, GroupReport, Mode, PartitionReport, Report, Status, StoredOffset, Summary,
};
use self::storage::Read;

/// The Kafka-side OffsetCommit/OffsetFetch version used unless [`Migration::kafka_version`]
/// says otherwise: v2, the first without v1's per-partition timestamp.
pub const DEFAULT_KAFKA_VERSION: i16 = 2;

/// The number of partitions committed per OffsetCommit unless
/// [`ApplyOptions::batch_size`] says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// Where offsets are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    /// ZooKeeper (`/consumers/<group>/offsets/<topic>/<partition>`): OffsetCommit and
    /// OffsetFetch v0, on ZooKeeper-mode brokers only.
    ZooKeeper,
    /// Kafka's `__consumer_offsets` topic: OffsetCommit and OffsetFetch v1+.
    Kafka,
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZooKeeper => "ZooKeeper",
            Self::Kafka => "Kafka",
        })
    }
}

/// Which way offsets are copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// ZooKeeper -> Kafka (OffsetFetch v0 -> OffsetCommit v2+).
    Migrate,
    /// Kafka -> ZooKeeper (OffsetFetch v1+ -> OffsetCommit v0), to go back after a migration.
    Rollback,
}

impl Direction {
    /// The storage read from.
    pub fn source(self) -> Storage {
        match self {
            Self::Migrate => Storage::ZooKeeper,
            Self::Rollback => Storage::Kafka,
        }
    }

    /// The storage written to.
    pub fn target(self) -> Storage {
        match self {
            Self::Migrate => Storage::Kafka,
            Self::Rollback => Storage::ZooKeeper,
        }
    }
}

/// Which groups a migration covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Groups {
    /// These group ids.
    Named(Vec<String>),
    /// Every group a broker lists (ListGroups to each broker). Groups of consumers that only
    /// ever committed to ZooKeeper and are not running are unknown to the brokers and not
    /// listed: name those.
    All,
}

/// What to migrate: a direction, groups, topics and the Kafka-side version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Which way.
    pub direction: Direction,
    /// Which groups.
    pub groups: Groups,
    /// Which topics (`None`: every non-internal topic of the cluster).
    pub topics: Option<Vec<String>>,
    /// The OffsetCommit/OffsetFetch version on the Kafka side ([`DEFAULT_KAFKA_VERSION`]):
    /// at least 2 to migrate, at least 1 to roll back.
    pub kafka_version: i16,
}

impl Migration {
    /// `groups` in `direction`, every topic, the default Kafka-side version.
    pub fn new<S: Into<String>>(direction: Direction, groups: impl IntoIterator<Item = S>) -> Self {
        Self {
            direction,
            groups: Groups::Named(groups.into_iter().map(Into::into).collect()),
            topics: None,
            kafka_version: DEFAULT_KAFKA_VERSION,
        }
    }

    /// Every group the brokers list (see [`Groups::All`]).
    pub fn all_groups(direction: Direction) -> Self {
        Self {
            direction,
            groups: Groups::All,
            topics: None,
            kafka_version: DEFAULT_KAFKA_VERSION,
        }
    }

    /// Only these topics (each must exist).
    pub fn topics<S: Into<String>>(mut self, topics: impl IntoIterator<Item = S>) -> Self {
        self.topics = Some(topics.into_iter().map(Into::into).collect());
        self
    }

    /// The Kafka-side OffsetCommit/OffsetFetch version.
    pub fn kafka_version(mut self, version: i16) -> Self {
        self.kafka_version = version;
        self
    }

    fn validate(&self) -> Result<(), MigrateError> {
        let invalid = |s: String| Err(MigrateError::InvalidArgument(s));
        if let Groups::Named(groups) = &self.groups {
            if groups.is_empty() {
                return invalid("no group named".into());
            }
            if groups.iter().any(String::is_empty) {
                return invalid("an empty group id".into());
            }
        }
        if let Some(topics) = &self.topics {
            if topics.is_empty() {
                return invalid("an empty topic list (leave it out for every topic)".into());
            }
            if topics.iter().any(String::is_empty) {
                return invalid("an empty topic name".into());
            }
        }
        let v = self.kafka_version;
        match self.direction {
            Direction::Migrate if v < 2 => invalid(format!(
                "the Kafka-side version must be 2 or more to migrate (OffsetCommit v{v} {})",
                if v == 0 {
                    "writes to ZooKeeper"
                } else {
                    "carries a commit timestamp that sets the offset's retention"
                }
            )),
            Direction::Rollback if v < 1 => invalid(format!(
                "the Kafka-side version must be 1 or more to roll back (OffsetFetch v{v} reads ZooKeeper)"
            )),
            _ => Ok(()),
        }
    }
}

/// How [`apply`] runs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Only read and decide; write nothing (true by default).
    pub dry_run: bool,
    /// Overwrite a target offset that is newer than the source's.
    pub force: bool,
    /// Go on although groups have active members.
    pub allow_active_members: bool,
    /// Partitions per OffsetCommit ([`DEFAULT_BATCH_SIZE`]; at least 1). The progress
    /// callback runs after each.
    pub batch_size: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            dry_run: true,
            force: false,
            allow_active_members: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl ApplyOptions {
    /// Sets `dry_run` (`false` to write).
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets `force`.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Sets `allow_active_members`.
    pub fn allow_active_members(mut self, allow: bool) -> Self {
        self.allow_active_members = allow;
        self
    }

    /// Sets `batch_size`.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }
}

/// Where [`apply_with_progress`] is, after each OffsetCommit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// The group of the commit.
    pub group: String,
    /// The partitions this commit wrote.
    pub written: Vec<TopicPartition>,
    /// The partitions this commit failed to write.
    pub failed: Vec<TopicPartition>,
    /// Partitions attempted so far, over every group.
    pub done: usize,
    /// Partitions to write in all.
    pub total: usize,
}

/// A dry run: reads both storages of every partition and decides what [`apply`] would do
/// (with `options.force`), writing nothing. Groups with active members are listed in their
/// [`GroupReport::members`], not refused.
pub async fn plan(
    client: &Client,
    migration: &Migration,
    options: &ApplyOptions,
) -> Result<Report, MigrateError> {
    let options = options.clone().dry_run(true);
    apply_with_progress(client, migration, &options, |_| {}).await
}

/// Applies `migration` (a dry run unless `options.dry_run` is false): see
/// [`apply_with_progress`].
pub async fn apply(
    client: &Client,
    migration: &Migration,
    options: &ApplyOptions,
) -> Result<Report, MigrateError> {
    apply_with_progress(client, migration, options, |_| {}).await
}

/// Reads both storages, decides per partition, and (unless `options.dry_run`) writes the
/// partitions to copy in commits of `options.batch_size`, calling `on_progress` after each;
/// then reads every partition with a source offset back from the target at the target's
/// version and compares.
///
/// # Errors
///
/// [`MigrateError::NoZooKeeperStorage`] on brokers without v0 storage;
/// [`MigrateError::ActiveMembers`] (before anything is written) when a group has members and
/// `allow_active_members` is not set; [`MigrateError::InvalidArgument`],
/// [`MigrateError::UnknownTopic`], and the errors of reading metadata, groups and whole
/// groups' offsets. Failures of single partitions are report rows.
pub async fn apply_with_progress<F: FnMut(&Progress)>(
    client: &Client,
    migration: &Migration,
    options: &ApplyOptions,
    mut on_progress: F,
) -> Result<Report, MigrateError> {
    if options.batch_size == 0 {
        return Err(MigrateError::InvalidArgument(
            "a batch size of 0 partitions".into(),
        ));
    }
    let mut groups = survey(client, migration, options.force).await?;
    let mode = if options.dry_run {
        Mode::DryRun
    } else {
        Mode::Apply
    };
    if !options.dry_run && !options.allow_active_members {
        let active: Vec<ActiveGroup> = groups
            .iter()
            .filter(|g| !g.members.is_empty())
            .map(|g| ActiveGroup {
                group: g.group.clone(),
                state: g.state.clone(),
                members: g.members.len(),
            })
            .collect();
        if !active.is_empty() {
            return Err(MigrateError::ActiveMembers { groups: active });
        }
    }
    initial_statuses(&mut groups, mode);
    if !options.dry_run {
        write_all(client, migration, options, &mut groups, &mut on_progress).await?;
        read_back(client, migration, &mut groups, Mode::Apply).await?;
    }
    Ok(Report {
        direction: migration.direction,
        kafka_version: migration.kafka_version,
        mode,
        summary: Summary::default(),
        groups,
    }
    .finish())
}

/// Reads both storages and compares them per partition: [`Status::Verified`] where the
/// target equals the source, [`Status::Mismatch`] where not, [`Status::NothingToCopy`] where
/// the source has no offset. Writes nothing.
pub async fn verify(client: &Client, migration: &Migration) -> Result<Report, MigrateError> {
    let mut groups = survey(client, migration, false).await?;
    initial_statuses(&mut groups, Mode::Verify);
    read_back(client, migration, &mut groups, Mode::Verify).await?;
    Ok(Report {
        direction: migration.direction,
        kafka_version: migration.kafka_version,
        mode: Mode::Verify,
        summary: Summary::default(),
        groups,
    }
    .finish())
}

/// The status of each row before anything is written or read back: final for the rows
/// nothing is done with, `NotAttempted` for those still to write or to read back.
fn initial_statuses(groups: &mut [GroupReport], mode: Mode) {
    for p in groups.iter_mut().flat_map(|g| g.partitions.iter_mut()) {
        p.status = match (p.action, mode) {
            (Action::NothingToCopy | Action::NoSuchPartition, _) => Status::NothingToCopy,
            (Action::Unreadable, _) => Status::Failed,
            (_, Mode::DryRun) => Status::Planned,
            (Action::RefuseNewer, Mode::Apply) => Status::Refused,
            _ => Status::NotAttempted,
        };
    }
}

/// Whether `target` already holds `source` in `direction` (ZooKeeper keeps no metadata, so
/// only offsets are compared when it is the target).
fn same(direction: Direction, source: &StoredOffset, target: Option<&StoredOffset>) -> bool {
    match target {
        None => false,
        Some(t) => match direction.target() {
            Storage::ZooKeeper => t.offset == source.offset,
            Storage::Kafka => t == source,
        },
    }
}

/// The action for a partition.
fn decide(
    direction: Direction,
    source: Option<&StoredOffset>,
    target: Option<&StoredOffset>,
    force: bool,
) -> Action {
    let Some(source) = source else {
        return Action::NothingToCopy;
    };
    if same(direction, source, target) {
        return Action::Skip;
    }
    match target {
        Some(t) if t.offset > source.offset => {
            if force {
                Action::Overwrite
            } else {
                Action::RefuseNewer
            }
        }
        _ => Action::Copy,
    }
}

/// Fails with [`MigrateError::NoZooKeeperStorage`] when a broker's ApiVersions lacks
/// OffsetFetch or OffsetCommit v0.
async fn check_v0_storage(client: &Client) -> Result<(), MigrateError> {
    let versions = client
        .api_versions()
        .await
        .map_err(|source| MigrateError::ApiVersions { source })?;
    let metadata = client.metadata();
    for (node, ranges) in versions {
        for api in [ApiKey::OffsetFetch, ApiKey::OffsetCommit] {
            let range = ranges.get(api);
            if range.is_none_or(|r| r.min > 0) {
                let broker = metadata
                    .broker(node)
                    .map_or_else(|| format!("node {node}"), |b| b.address());
                return Err(MigrateError::NoZooKeeperStorage {
                    broker,
                    api,
                    range,
                    source: None,
                });
            }
        }
    }
    Ok(())
}

/// How long a topic named in a migration may be unknown to the broker before it is an error:
/// a broker that has just started answers `UNKNOWN_TOPIC_OR_PARTITION` until its metadata
/// cache is filled.
const UNKNOWN_TOPIC_WAIT: Duration = Duration::from_secs(10);

/// The partitions of `topics` (every non-internal topic with `None`), by topic, from a
/// Metadata request that never creates a topic; a named topic the broker does not know yet
/// is asked again for up to [`UNKNOWN_TOPIC_WAIT`].
async fn cluster_partitions(
    client: &Client,
    topics: Option<&[String]>,
) -> Result<BTreeMap<String, Vec<i32>>, MigrateError> {
    let give_up = tokio::time::Instant::now() + UNKNOWN_TOPIC_WAIT;
    loop {
        match cluster_partitions_once(client, topics).await {
            Err(MigrateError::UnknownTopic { topic }) if tokio::time::Instant::now() < give_up => {
                tracing::debug!(topic, "not in the metadata yet: asking again");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => return other,
        }
    }
}

async fn cluster_partitions_once(
    client: &Client,
    topics: Option<&[String]>,
) -> Result<BTreeMap<String, Vec<i32>>, MigrateError> {
    let request = MetadataRequest::default()
        .with_topics(topics.map(|ts| {
            ts.iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(t.clone())))
                .collect()
        }))
        .with_allow_auto_topic_creation(false);
    let response = client
        .request(&request)
        .await
        .map_err(|source| MigrateError::Metadata { source })?;
    let mut out = BTreeMap::new();
    for t in response.body.topics {
        let Some(name) = t.name else { continue };
        if topics.is_none() && t.is_internal {
            continue;
        }
        if t.error_code == ErrorCode::UnknownTopicOrPartition || t.partitions.is_empty() {
            continue;
        }
        let mut partitions: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
        partitions.sort_unstable();
        out.insert(name, partitions);
    }
    if let Some(topics) = topics {
        if let Some(missing) = topics.iter().find(|t| !out.contains_key(*t)) {
            return Err(MigrateError::UnknownTopic {
                topic: missing.clone(),
            });
        }
    }
    Ok(out)
}

/// The group ids `groups` names, or every listed group.
async fn group_ids(admin: &Admin, groups: &Groups) -> Result<Vec<String>, MigrateError> {
    match groups {
        Groups::Named(names) => {
            let mut seen = BTreeSet::new();
            Ok(names
                .iter()
                .filter(|g| seen.insert(g.as_str()))
                .cloned()
                .collect())
        }
        Groups::All => {
            let listed = admin
                .list_groups(&ListGroupsOptions::default())
                .await
                .map_err(|source| MigrateError::ListGroups { node: -1, source })?;
            if let Some((node, err)) = listed.errors.into_iter().next() {
                return Err(MigrateError::ListGroups { node, source: err });
            }
            let ids: BTreeSet<String> = listed.groups.into_iter().map(|g| g.group_id).collect();
            Ok(ids.into_iter().collect())
        }
    }
}

/// Reads everything a run needs: the v0 storage check, the partitions, each group's state
/// and both storages of each of its partitions, with the decided actions (status `Planned`).
async fn survey(
    client: &Client,
    migration: &Migration,
    force: bool,
) -> Result<Vec<GroupReport>, MigrateError> {
    migration.validate()?;
    check_v0_storage(client).await?;
    let admin = client.admin();
    let topics = cluster_partitions(client, migration.topics.as_deref()).await?;
    let all: Vec<TopicPartition> = topics
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| TopicPartition::new(t.clone(), *p)))
        .collect();
    let exists: BTreeSet<&TopicPartition> = all.iter().collect();
    let ids = group_ids(&admin, &migration.groups).await?;
    let described = if ids.is_empty() {
        BTreeMap::new()
    } else {
        admin
            .describe_groups(&ids, &DescribeGroupsOptions::default())
            .await
            .map_err(|source| MigrateError::DescribeGroup {
                group: ids.join(","),
                source,
            })?
    };
    let version = migration.kafka_version;
    let mut out = Vec::new();
    for group in ids {
        let (state, members) = match described.get(&group) {
            Some(Ok(d)) => (
                d.state.clone(),
                d.members.iter().map(|m| m.member_id.clone()).collect(),
            ),
            Some(Err(e)) => {
                return Err(MigrateError::DescribeGroup {
                    group,
                    source: e.clone(),
                })
            }
            None => (String::new(), Vec::new()),
        };
        let (zookeeper, kafka) = if migration.topics.is_some() {
            (
                storage::read_zookeeper(&admin, &group, &all).await?,
                storage::read_kafka(&admin, &group, Some(&all), version).await?,
            )
        } else {
            let mut zookeeper = storage::read_zookeeper(&admin, &group, &all).await?;
            zookeeper.retain(|_, r| !matches!(r, Ok(None)));
            let kafka = if version >= 2 {
                storage::read_kafka(&admin, &group, None, version).await?
            } else {
                storage::read_kafka(&admin, &group, Some(&all), version).await?
            };
            (zookeeper, kafka)
        };
        let mut keys: BTreeSet<TopicPartition> = zookeeper.keys().cloned().collect();
        keys.extend(
            kafka
                .iter()
                .filter(|(_, r)| !matches!(r, Ok(None)))
                .map(|(tp, _)| tp.clone()),
        );
        if migration.topics.is_some() {
            keys.extend(all.iter().cloned());
        }
        let mut partitions = Vec::new();
        for tp in keys {
            let zk = zookeeper.get(&tp).cloned().unwrap_or(Ok(None));
            let kf = kafka.get(&tp).cloned().unwrap_or(Ok(None));
            partitions.push(row(
                migration.direction,
                force,
                exists.contains(&tp),
                tp,
                zk,
                kf,
            ));
        }
        out.push(GroupReport {
            group,
            state,
            members,
            partitions,
        });
    }
    Ok(out)
}

/// One partition's row from what each storage gave.
fn row(
    direction: Direction,
    force: bool,
    exists: bool,
    tp: TopicPartition,
    zookeeper: Read,
    kafka: Read,
) -> PartitionReport {
    let mut errors = Vec::new();
    let mut error = None;
    let mut take = |storage: Storage, r: Read| match r {
        Ok(o) => o,
        Err(e) => {
            errors.push(format!("reading {storage} storage: {}", chain(&e)));
            error.get_or_insert(e);
            None
        }
    };
    let zookeeper = take(Storage::ZooKeeper, zookeeper);
    let kafka = take(Storage::Kafka, kafka);
    let (source, target) = match direction {
        Direction::Migrate => (zookeeper.as_ref(), kafka.as_ref()),
        Direction::Rollback => (kafka.as_ref(), zookeeper.as_ref()),
    };
    let (action, detail) = if !errors.is_empty() {
        (Action::Unreadable, Some(errors.join("; ")))
    } else if !exists {
        (
            Action::NoSuchPartition,
            Some("the partition is not in the cluster's metadata (topic deleted?)".to_owned()),
        )
    } else {
        let action = decide(direction, source, target, force);
        let note = match (direction, source) {
            (
                Direction::Rollback,
                Some(StoredOffset {
                    metadata: Some(m), ..
                }),
            ) if action.writes() => Some(format!(
                "ZooKeeper storage keeps no metadata: {m:?} is dropped"
            )),
            _ => None,
        };
        (action, note)
    };
    PartitionReport {
        topic: tp.topic,
        partition: tp.partition,
        zookeeper,
        kafka,
        action,
        written: false,
        after: None,
        status: Status::Planned,
        detail,
        error,
    }
}

/// An error with its causes, `: `-separated.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Writes every partition whose action writes, in batches; stops after a batch that failed
/// as a whole (what is left stays [`Status::NotAttempted`]).
async fn write_all<F: FnMut(&Progress)>(
    client: &Client,
    migration: &Migration,
    options: &ApplyOptions,
    groups: &mut [GroupReport],
    on_progress: &mut F,
) -> Result<(), MigrateError> {
    let admin = client.admin();
    let direction = migration.direction;
    let total = groups
        .iter()
        .flat_map(|g| &g.partitions)
        .filter(|p| p.action.writes())
        .count();
    let mut done = 0;
    for g in groups.iter_mut() {
        let todo: Vec<usize> = (0..g.partitions.len())
            .filter(|i| g.partitions[*i].action.writes())
            .collect();
        for batch in todo.chunks(options.batch_size) {
            let offsets: Vec<(TopicPartition, StoredOffset)> = batch
                .iter()
                .filter_map(|i| {
                    let p = &g.partitions[*i];
                    p.source(direction)
                        .map(|s| (TopicPartition::new(p.topic.clone(), p.partition), s.clone()))
                })
                .collect();
            let results = storage::write(
                &admin,
                &g.group,
                direction.target(),
                migration.kafka_version,
                &offsets,
            )
            .await?;
            let mut progress = Progress {
                group: g.group.clone(),
                written: Vec::new(),
                failed: Vec::new(),
                done: 0,
                total,
            };
            for i in batch {
                let p = &mut g.partitions[*i];
                let tp = TopicPartition::new(p.topic.clone(), p.partition);
                match results.get(&tp) {
                    Some(Ok(())) => {
                        p.written = true;
                        progress.written.push(tp);
                    }
                    Some(Err(e)) => {
                        p.status = Status::Failed;
                        p.detail = Some(format!("writing: {}", chain(e)));
                        p.error = Some(e.clone());
                        progress.failed.push(tp);
                    }
                    None => {}
                }
            }
            done += batch.len();
            progress.done = done;
            let stop = progress.written.is_empty() && !progress.failed.is_empty();
            on_progress(&progress);
            if stop {
                tracing::warn!(group = %g.group, "a commit failed as a whole: stopping");
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Reads the target of every partition with a source offset back and sets the statuses:
/// after [`apply`] (`Mode::Apply`: only rows that are still to be judged) or for
/// [`verify`].
async fn read_back(
    client: &Client,
    migration: &Migration,
    groups: &mut [GroupReport],
    mode: Mode,
) -> Result<(), MigrateError> {
    let admin = client.admin();
    let direction = migration.direction;
    for g in groups.iter_mut() {
        let judge = |p: &PartitionReport| match mode {
            Mode::Verify => !matches!(
                p.action,
                Action::NothingToCopy | Action::NoSuchPartition | Action::Unreadable
            ),
            _ => p.written || (p.action == Action::Skip && p.status == Status::NotAttempted),
        };
        let ask: Vec<TopicPartition> = g
            .partitions
            .iter()
            .filter(|p| judge(p))
            .map(|p| TopicPartition::new(p.topic.clone(), p.partition))
            .collect();
        if ask.is_empty() {
            continue;
        }
        let read = match direction.target() {
            Storage::ZooKeeper => storage::read_zookeeper(&admin, &g.group, &ask).await,
            Storage::Kafka => {
                storage::read_kafka(&admin, &g.group, Some(&ask), migration.kafka_version).await
            }
        };
        let read = match read {
            Ok(r) => r,
            Err(MigrateError::ReadGroup { source, .. }) => ask
                .iter()
                .map(|tp| (tp.clone(), Err(source.clone())))
                .collect(),
            Err(e) => return Err(e),
        };
        for p in g.partitions.iter_mut().filter(|p| judge(p)) {
            let tp = TopicPartition::new(p.topic.clone(), p.partition);
            match read.get(&tp).cloned().unwrap_or(Ok(None)) {
                Ok(after) => {
                    let ok = p
                        .source(direction)
                        .is_some_and(|s| same(direction, s, after.as_ref()));
                    p.after = after;
                    p.status = if ok {
                        Status::Verified
                    } else {
                        Status::Mismatch
                    };
                }
                Err(e) => {
                    p.status = if p.written {
                        Status::Unverified
                    } else {
                        Status::Failed
                    };
                    let text = format!("reading back: {}", chain(&e));
                    p.detail = Some(match p.detail.take() {
                        Some(d) => format!("{d}; {text}"),
                        None => text,
                    });
                    p.error = Some(e);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: i64, metadata: Option<&str>) -> StoredOffset {
        StoredOffset::new(offset, metadata.map(str::to_owned))
    }

    #[test]
    fn actions_follow_the_safety_rules() {
        let m = Direction::Migrate;
        let src = at(10, None);
        assert_eq!(decide(m, None, Some(&src), false), Action::NothingToCopy);
        assert_eq!(decide(m, Some(&src), None, false), Action::Copy);
        assert_eq!(
            decide(m, Some(&src), Some(&at(9, None)), false),
            Action::Copy
        );
        assert_eq!(
            decide(m, Some(&src), Some(&at(10, None)), false),
            Action::Skip
        );
        // Kafka keeps metadata: the same offset with other metadata is copied.
        assert_eq!(
            decide(m, Some(&src), Some(&at(10, Some("x"))), false),
            Action::Copy
        );
        assert_eq!(
            decide(m, Some(&src), Some(&at(11, None)), false),
            Action::RefuseNewer
        );
        assert_eq!(
            decide(m, Some(&src), Some(&at(11, None)), true),
            Action::Overwrite
        );
        // ZooKeeper keeps none: only the offsets are compared on a rollback.
        let r = Direction::Rollback;
        let with_meta = at(10, Some("m"));
        assert_eq!(
            decide(r, Some(&with_meta), Some(&at(10, None)), false),
            Action::Skip
        );
        assert_eq!(
            decide(r, Some(&with_meta), Some(&at(12, None)), false),
            Action::RefuseNewer
        );
    }

    #[test]
    fn empty_metadata_is_none() {
        assert_eq!(at(1, Some("")), at(1, None));
    }

    #[test]
    fn arguments_are_checked() {
        let bad = [
            Migration::new::<String>(Direction::Migrate, []),
            Migration::new(Direction::Migrate, [""]),
            Migration::new(Direction::Migrate, ["g"]).topics::<String>([]),
            Migration::new(Direction::Migrate, ["g"]).kafka_version(1),
            Migration::new(Direction::Rollback, ["g"]).kafka_version(0),
        ];
        for m in bad {
            assert!(
                matches!(m.validate(), Err(MigrateError::InvalidArgument(_))),
                "{m:?}"
            );
        }
        assert!(Migration::new(Direction::Rollback, ["g"])
            .kafka_version(1)
            .validate()
            .is_ok());
        assert!(Migration::all_groups(Direction::Migrate).validate().is_ok());
    }
}
