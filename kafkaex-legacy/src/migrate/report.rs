//! The per-partition report of a run: what each storage held, what was decided, what was
//! written and what reading back found. Serializable (`--json`) and printable as a table.

use std::fmt;

use serde::Serialize;

use super::{Direction, Storage};

/// An offset as one storage holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredOffset {
    /// The committed offset.
    pub offset: i64,
    /// The metadata string committed with it (`None`: none or empty; ZooKeeper storage never
    /// keeps one).
    pub metadata: Option<String>,
}

impl StoredOffset {
    /// `offset` with `metadata`.
    pub fn new(offset: i64, metadata: Option<String>) -> Self {
        Self {
            offset,
            metadata: metadata.filter(|m| !m.is_empty()),
        }
    }
}

impl fmt::Display for StoredOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.metadata {
            Some(m) => write!(f, "{} {m:?}", self.offset),
            None => write!(f, "{}", self.offset),
        }
    }
}

/// What a run does (or would do) with a partition, decided from both storages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Copy the source offset to the target: the target has none, an older one, or the same
    /// offset with other metadata.
    Copy,
    /// The target already holds the source's offset (and metadata, where the target keeps
    /// metadata): nothing to write. A re-run after a partial failure skips what moved.
    Skip,
    /// The target holds a newer (greater) offset than the source: not overwritten without
    /// [`ApplyOptions::force`](super::ApplyOptions::force).
    RefuseNewer,
    /// The target holds a newer offset and `force` is set: the source overwrites it.
    Overwrite,
    /// The source has no offset for the partition: nothing to copy (the target is left as it
    /// is).
    NothingToCopy,
    /// The partition is no longer in the cluster (its topic was deleted): only the Kafka
    /// storage still lists an offset for it. Nothing is written.
    NoSuchPartition,
    /// A storage could not be read for this partition (see the row's error): nothing is
    /// written.
    Unreadable,
}

impl Action {
    /// Whether the action writes to the target.
    pub fn writes(self) -> bool {
        matches!(self, Self::Copy | Self::Overwrite)
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Copy => "copy",
            Self::Skip => "skip (same)",
            Self::RefuseNewer => "refuse (target newer)",
            Self::Overwrite => "overwrite (forced)",
            Self::NothingToCopy => "nothing to copy",
            Self::NoSuchPartition => "no such partition",
            Self::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a partition ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// A dry run: nothing was written.
    Planned,
    /// Read back from the target (at the target's version), it equals the source.
    Verified,
    /// Read back, the target differs from the source.
    Mismatch,
    /// Reading or writing the partition failed (see the row's error).
    Failed,
    /// Written, but reading it back failed: the write most likely happened; run `verify`.
    Unverified,
    /// Not attempted: an earlier commit failed as a whole (the broker went away), so the run
    /// stopped writing. Re-run it.
    NotAttempted,
    /// Not written: the target is newer ([`Action::RefuseNewer`]).
    Refused,
    /// Nothing to copy ([`Action::NothingToCopy`], [`Action::NoSuchPartition`]).
    NothingToCopy,
}

impl Status {
    /// Whether the status is a success: verified, nothing to copy, or a dry run's plan.
    pub fn is_ok(self) -> bool {
        matches!(self, Self::Planned | Self::Verified | Self::NothingToCopy)
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Verified => "verified",
            Self::Mismatch => "MISMATCH",
            Self::Failed => "FAILED",
            Self::Unverified => "UNVERIFIED",
            Self::NotAttempted => "NOT ATTEMPTED",
            Self::Refused => "REFUSED",
            Self::NothingToCopy => "nothing to copy",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One partition of one group.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionReport {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset in ZooKeeper storage (OffsetFetch v0) before the run.
    pub zookeeper: Option<StoredOffset>,
    /// The offset in Kafka storage (OffsetFetch at the Kafka-side version) before the run.
    pub kafka: Option<StoredOffset>,
    /// What was decided.
    pub action: Action,
    /// Whether this run wrote the partition (a commit the broker acknowledged).
    pub written: bool,
    /// The target as read back after the run (apply and verify; `None` in a dry run or when
    /// it holds no offset).
    pub after: Option<StoredOffset>,
    /// Where it ended up.
    pub status: Status,
    /// The error of a failed read or write, or a note (metadata ZooKeeper cannot keep).
    pub detail: Option<String>,
    /// The client's error behind [`Status::Failed`] / [`Status::Unverified`], typed.
    #[serde(skip)]
    pub error: Option<kafkaex_client::Error>,
}

impl PartitionReport {
    /// The source's offset for `direction`.
    pub fn source(&self, direction: Direction) -> Option<&StoredOffset> {
        match direction.source() {
            Storage::ZooKeeper => self.zookeeper.as_ref(),
            Storage::Kafka => self.kafka.as_ref(),
        }
    }

    /// The target's offset before the run, for `direction`.
    pub fn target(&self, direction: Direction) -> Option<&StoredOffset> {
        match direction.target() {
            Storage::ZooKeeper => self.zookeeper.as_ref(),
            Storage::Kafka => self.kafka.as_ref(),
        }
    }
}

/// One group.
#[derive(Clone, Debug, Serialize)]
pub struct GroupReport {
    /// The group id.
    pub group: String,
    /// Its state as DescribeGroups reported it (`Empty`, `Dead` for a group the coordinator
    /// does not know, `Stable`, ...).
    pub state: String,
    /// The member ids of its active members (a dry run lists them; applying refuses such
    /// groups unless allowed).
    pub members: Vec<String>,
    /// Its partitions, by topic and partition.
    pub partitions: Vec<PartitionReport>,
}

/// How many partitions ended in each status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Every partition of every group.
    pub partitions: usize,
    /// Written by this run.
    pub written: usize,
    /// [`Status::Planned`].
    pub planned: usize,
    /// [`Status::Verified`].
    pub verified: usize,
    /// [`Status::Mismatch`].
    pub mismatch: usize,
    /// [`Status::Failed`].
    pub failed: usize,
    /// [`Status::Unverified`].
    pub unverified: usize,
    /// [`Status::NotAttempted`].
    pub not_attempted: usize,
    /// [`Status::Refused`].
    pub refused: usize,
    /// [`Status::NothingToCopy`].
    pub nothing_to_copy: usize,
}

/// What kind of run produced a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Read both storages and decided; wrote nothing.
    DryRun,
    /// Wrote, read back and compared.
    Apply,
    /// Read both storages and compared.
    Verify,
}

/// The result of [`plan`](super::plan), [`apply`](super::apply) or [`verify`](super::verify).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Which way offsets go.
    pub direction: Direction,
    /// The OffsetCommit/OffsetFetch version used on the Kafka side.
    pub kafka_version: i16,
    /// What kind of run it was.
    pub mode: Mode,
    /// Counts per status.
    pub summary: Summary,
    /// Every group, in the order asked.
    pub groups: Vec<GroupReport>,
}

impl Report {
    /// Whether every partition ended well: verified, nothing to copy, or (dry run) planned.
    /// A refused, failed, unverified, not attempted or mismatched partition makes it false.
    pub fn is_success(&self) -> bool {
        self.rows().all(|(_, p)| p.status.is_ok())
    }

    /// Every partition with its group.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &PartitionReport)> + '_ {
        self.groups
            .iter()
            .flat_map(|g| g.partitions.iter().map(move |p| (g.group.as_str(), p)))
    }

    /// The partitions this run wrote, as (group, topic, partition).
    pub fn written(&self) -> Vec<(String, String, i32)> {
        self.rows()
            .filter(|(_, p)| p.written)
            .map(|(g, p)| (g.to_owned(), p.topic.clone(), p.partition))
            .collect()
    }

    pub(crate) fn finish(mut self) -> Self {
        let mut s = Summary::default();
        for (_, p) in self.rows() {
            s.partitions += 1;
            s.written += usize::from(p.written);
            match p.status {
                Status::Planned => s.planned += 1,
                Status::Verified => s.verified += 1,
                Status::Mismatch => s.mismatch += 1,
                Status::Failed => s.failed += 1,
                Status::Unverified => s.unverified += 1,
                Status::NotAttempted => s.not_attempted += 1,
                Status::Refused => s.refused += 1,
                Status::NothingToCopy => s.nothing_to_copy += 1,
            }
        }
        self.summary = s;
        self
    }

    /// The report as a text table: one line per partition (group, topic, partition, the
    /// ZooKeeper offset, the Kafka offset, the action, the target read back, the status, and
    /// the error or note), then the summary.
    pub fn to_table(&self) -> String {
        let header = [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "ZOOKEEPER",
            "KAFKA",
            "ACTION",
            "AFTER",
            "STATUS",
            "DETAIL",
        ];
        let none = || "-".to_owned();
        let mut lines: Vec<[String; 9]> = vec![header.map(str::to_owned)];
        for (group, p) in self.rows() {
            lines.push([
                group.to_owned(),
                p.topic.clone(),
                p.partition.to_string(),
                p.zookeeper.as_ref().map_or_else(none, ToString::to_string),
                p.kafka.as_ref().map_or_else(none, ToString::to_string),
                p.action.to_string(),
                match self.mode {
                    Mode::DryRun => none(),
                    _ => p.after.as_ref().map_or_else(none, ToString::to_string),
                },
                p.status.to_string(),
                p.detail.clone().unwrap_or_default(),
            ]);
        }
        let mut widths = [0usize; 9];
        for line in &lines {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for line in &lines {
            let mut text = String::new();
            for (i, (cell, w)) in line.iter().zip(widths).enumerate() {
                if i + 1 == line.len() {
                    text.push_str(cell);
                } else {
                    let pad = w - cell.chars().count();
                    text.push_str(cell);
                    text.extend(std::iter::repeat_n(' ', pad + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        for g in &self.groups {
            if !g.members.is_empty() {
                out.push_str(&format!(
                    "group {:?} is {} with {} active member(s): applying refuses it unless active members are allowed\n",
                    g.group,
                    g.state,
                    g.members.len()
                ));
            }
        }
        let s = &self.summary;
        let what = match (self.mode, self.direction) {
            (Mode::DryRun, _) => "dry run (nothing written; --apply to write)",
            (Mode::Apply, Direction::Migrate) => "migrated ZooKeeper -> Kafka",
            (Mode::Apply, Direction::Rollback) => "rolled back Kafka -> ZooKeeper",
            (Mode::Verify, _) => "verified",
        };
        out.push_str(&format!(
            "{what}, Kafka side at v{}: {} partition(s), {} written, {} verified, {} planned, \
             {} nothing to copy, {} refused, {} mismatch, {} failed, {} unverified, {} not attempted\n",
            self.kafka_version,
            s.partitions,
            s.written,
            s.verified,
            s.planned,
            s.nothing_to_copy,
            s.refused,
            s.mismatch,
            s.failed,
            s.unverified,
            s.not_attempted,
        ));
        out
    }
}
