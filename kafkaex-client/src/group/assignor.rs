//! Partition assignors: the [`Assignor`] trait, which custom assignors implement, and Java's four
//! under Java's names, algorithms and user data, so that Java consumers can share a group with us
//! whichever side leads:
//!
//! | name | type | rebalance protocols | user data in the subscription |
//! |---|---|---|---|
//! | `range` | [`RangeAssignor`] | eager | none |
//! | `roundrobin` | [`RoundRobinAssignor`] | eager | none |
//! | `sticky` | [`StickyAssignor`] | eager | `previous_assignment [(topic, [int32])], generation int32` |
//! | `cooperative-sticky` | [`CooperativeStickyAssignor`] | cooperative, eager | `generation int32` |
//!
//! A member lists its assignors in JoinGroup in order of preference; the broker picks one that
//! every member lists ([`select_protocol`]); the member it makes leader runs that assignor over
//! everyone's [`Subscription`] and sends each member its [`Assignment`]. The rebalance protocol a
//! member follows is the highest one every assignor of its list supports
//! ([`rebalance_protocol`]), so Java's default list `[range, cooperative-sticky]`
//! ([`default_assignors`]) rebalances eagerly, with `range`.
//!
//! Rack-aware assignment (KIP-881) is not done: the assignors get partition counts, not replica
//! racks, and assign as Java does when no rack matches.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use bytes::{BufMut as _, Bytes, BytesMut};
use kafkaex_protocol::primitives;

use super::protocol::{group, Assignment, Subscription, CONSUMER_PROTOCOL_VERSION, NO_GENERATION};
use crate::{Error, Result};

/// A topic and a partition.
type Tp = (String, i32);

/// How a group moves partitions between members in a rebalance (Java's
/// `ConsumerPartitionAssignor.RebalanceProtocol`); ordered as Java orders them, eager first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before it rejoins.
    Eager,
    /// Members keep their partitions through a rebalance and revoke only those the leader takes
    /// away; a partition moves between members in two rebalances: revoked in the first, assigned
    /// in the second.
    Cooperative,
}

impl RebalanceProtocol {
    /// Java's id of the protocol (0 eager, 1 cooperative).
    pub fn id(self) -> u8 {
        match self {
            Self::Eager => 0,
            Self::Cooperative => 1,
        }
    }
}

/// One member's subscription as the leader sees it: the blob it sent, parsed, and its
/// `group.instance.id`, which the JoinGroup response carries beside the blob.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MemberSubscription {
    /// The member's subscription blob, parsed.
    pub subscription: Subscription,
    /// The member's `group.instance.id`, if it is a static member.
    pub group_instance_id: Option<String>,
}

impl MemberSubscription {
    /// A dynamic member's subscription.
    pub fn new(subscription: Subscription) -> Self {
        Self {
            subscription,
            group_instance_id: None,
        }
    }

    /// With a `group.instance.id` (a static member).
    pub fn with_group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }
}

/// A partition assignor, built in or custom. It is stateless: what a Java assignor remembers
/// between rebalances (its last assignment and generation) is passed to [`Assignor::user_data`].
pub trait Assignor: Send + Sync + fmt::Debug {
    /// The name it is listed under in JoinGroup; every member of a group that uses it must mean
    /// the same algorithm by it.
    fn name(&self) -> &str;

    /// The rebalance protocols it supports (Java's `supportedProtocols`). Eager only by default.
    /// An assignor that lists [`RebalanceProtocol::Cooperative`] must never assign a partition to
    /// one member while another member still owns it.
    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    /// The user data of this member's subscription, given the topics it subscribes to, the
    /// partitions it was last assigned (sorted `(topic, partition)` pairs) and the generation of
    /// that assignment ([`NO_GENERATION`] before its first). None by default.
    fn user_data(
        &self,
        topics: &[String],
        owned: &[(String, i32)],
        generation: i32,
    ) -> Option<Bytes> {
        let _ = (topics, owned, generation);
        None
    }

    /// The version of the consumer protocol blobs written for this assignor: this member's
    /// subscription in JoinGroup and, as leader, every member's assignment in SyncGroup.
    /// [`CONSUMER_PROTOCOL_VERSION`] (3) by default; an assignor that must be read by members
    /// knowing only an older version returns it (KafkaEx's `assign` writes and reads version
    /// 0). Fields the version cannot carry (owned partitions, generation, rack) are left out.
    fn consumer_protocol_version(&self) -> i16 {
        CONSUMER_PROTOCOL_VERSION
    }

    /// Assigns the partitions of the subscribed topics among `members` (by member id), given the
    /// partition count of each topic known to the leader's metadata (topics missing from it are
    /// not assigned). Returns an assignment for every member, possibly empty.
    fn assign(
        &self,
        metadata: &BTreeMap<String, i32>,
        members: &BTreeMap<String, MemberSubscription>,
    ) -> Result<BTreeMap<String, Assignment>>;
}

/// Java's default `partition.assignment.strategy`: `[range, cooperative-sticky]`. Its rebalance
/// protocol ([`rebalance_protocol`]) is eager, and the broker picks `range` when every member
/// lists it first.
pub fn default_assignors() -> Vec<Arc<dyn Assignor>> {
    vec![Arc::new(RangeAssignor), Arc::new(CooperativeStickyAssignor)]
}

/// The built-in assignor of a `partition.assignment.strategy` entry: its name (`range`,
/// `roundrobin`, `sticky`, `cooperative-sticky`) or Java's class name
/// (`org.apache.kafka.clients.consumer.RangeAssignor`, ...).
pub fn assignor_by_name(name: &str) -> Option<Arc<dyn Assignor>> {
    let name = name.trim();
    let class = name.strip_prefix("org.apache.kafka.clients.consumer.");
    Some(match (name, class) {
        ("range", _) | (_, Some("RangeAssignor")) => Arc::new(RangeAssignor),
        ("roundrobin", _) | (_, Some("RoundRobinAssignor")) => Arc::new(RoundRobinAssignor),
        ("sticky", _) | (_, Some("StickyAssignor")) => Arc::new(StickyAssignor),
        ("cooperative-sticky", _) | (_, Some("CooperativeStickyAssignor")) => {
            Arc::new(CooperativeStickyAssignor)
        }
        _ => return None,
    })
}

/// The rebalance protocol a member with these assignors follows: the highest protocol that all
/// of them support (Java's `ConsumerCoordinator`: the first assignor's list, `retainAll` of each
/// other's, then the highest). An error when the list is empty or they have none in common.
pub fn rebalance_protocol(assignors: &[Arc<dyn Assignor>]) -> Result<RebalanceProtocol> {
    let Some((first, rest)) = assignors.split_first() else {
        return Err(Error::InvalidArgument(
            "no partition assignor configured".into(),
        ));
    };
    let mut common: Vec<RebalanceProtocol> = first.supported_protocols().to_vec();
    for a in rest {
        common.retain(|p| a.supported_protocols().contains(p));
    }
    common.into_iter().max().ok_or_else(|| {
        let names: Vec<&str> = assignors.iter().map(|a| a.name()).collect();
        Error::InvalidArgument(format!(
            "partition assignors {names:?} have no rebalance protocol in common"
        ))
    })
}

/// The assignor the broker picks for a group whose members list these assignor names, each in its
/// order of preference (the broker's `ClassicGroup.selectProtocol`): among the names every member
/// lists, each member votes for the first of its own list, and the most votes win. `None` when no
/// name is common to all (the broker then rejects the join with `INCONSISTENT_GROUP_PROTOCOL`).
/// The broker breaks a tie in the order of a hash map; this picks the smallest name.
pub fn select_protocol<S: AsRef<str>>(members: &[Vec<S>]) -> Option<String> {
    let (first, rest) = members.split_first()?;
    let candidates: BTreeSet<&str> = first
        .iter()
        .map(AsRef::as_ref)
        .filter(|name| {
            rest.iter()
                .all(|m| m.iter().any(|other| other.as_ref() == *name))
        })
        .collect();
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for m in members {
        if let Some(vote) = m.iter().map(AsRef::as_ref).find(|n| candidates.contains(n)) {
            *votes.entry(vote).or_default() += 1;
        }
    }
    // The first (smallest) name among those with the most votes.
    let mut best: Option<(&str, usize)> = None;
    for (name, n) in votes {
        if best.is_none_or(|(_, most)| n > most) {
            best = Some((name, n));
        }
    }
    best.map(|(name, _)| name.to_owned())
}

/// The partition count of every topic some member subscribes to and the metadata knows with at
/// least one partition (Java's `AbstractPartitionAssignor.assign`).
fn partitions_per_topic<'a>(
    metadata: &'a BTreeMap<String, i32>,
    members: &BTreeMap<String, MemberSubscription>,
) -> BTreeMap<&'a str, i32> {
    let subscribed: BTreeSet<&str> = members
        .values()
        .flat_map(|m| m.subscription.topics.iter().map(String::as_str))
        .collect();
    metadata
        .iter()
        .filter(|(t, &n)| n > 0 && subscribed.contains(t.as_str()))
        .map(|(t, &n)| (t.as_str(), n))
        .collect()
}

/// Java's `MemberInfo` order: static members first, by `group.instance.id`, then dynamic members
/// by member id.
fn member_order(
    (a_id, a): (&String, &MemberSubscription),
    (b_id, b): (&String, &MemberSubscription),
) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a_id.cmp(b_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a_id.cmp(b_id),
    }
}

fn subscribes(m: &MemberSubscription, topic: &str) -> bool {
    m.subscription.topics.iter().any(|t| t == topic)
}

/// Every member's assignment from its `(topic, partition)` pairs (sorted and grouped).
fn finish(
    members: &BTreeMap<String, MemberSubscription>,
    mut assigned: BTreeMap<String, Vec<Tp>>,
) -> BTreeMap<String, Assignment> {
    members
        .keys()
        .map(|id| {
            let partitions = assigned.remove(id).unwrap_or_default();
            (id.clone(), Assignment::from_topic_partitions(partitions))
        })
        .collect()
}

/// `range` (Java's `RangeAssignor`): for each topic, its subscribers in Java's member order
/// (static members first, by `group.instance.id`, then the others by member id) get contiguous
/// ranges of its partitions, the first `partitions % subscribers` of them one more.
/// Topics are assigned independently, so members subscribed to the same topics get the same
/// partition numbers of each (co-partitioning).
#[derive(Clone, Copy, Debug, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        "range"
    }

    fn assign(
        &self,
        metadata: &BTreeMap<String, i32>,
        members: &BTreeMap<String, MemberSubscription>,
    ) -> Result<BTreeMap<String, Assignment>> {
        let mut assigned: BTreeMap<String, Vec<Tp>> = BTreeMap::new();
        for (topic, count) in partitions_per_topic(metadata, members) {
            let mut consumers: Vec<(&String, &MemberSubscription)> = members
                .iter()
                .filter(|(_, m)| subscribes(m, topic))
                .collect();
            if consumers.is_empty() {
                continue;
            }
            consumers.sort_by(|a, b| member_order(*a, *b));
            let n = consumers.len() as i64;
            let (per, extra) = (i64::from(count) / n, i64::from(count) % n);
            let mut next = 0i64;
            for (i, (id, _)) in consumers.into_iter().enumerate() {
                let len = per + i64::from((i as i64) < extra);
                let list = assigned.entry(id.clone()).or_default();
                for p in next..next + len {
                    // p < count, which is an i32.
                    list.push((topic.to_owned(), p as i32));
                }
                next += len;
            }
        }
        Ok(finish(members, assigned))
    }
}

/// `roundrobin` (Java's `RoundRobinAssignor`): the partitions of all subscribed topics, sorted by
/// topic then partition, are dealt to the members in Java's member order (as [`RangeAssignor`]'s)
/// in turn, a member being skipped for partitions of topics it does not subscribe to.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        metadata: &BTreeMap<String, i32>,
        members: &BTreeMap<String, MemberSubscription>,
    ) -> Result<BTreeMap<String, Assignment>> {
        let mut order: Vec<(&String, &MemberSubscription)> = members.iter().collect();
        order.sort_by(|a, b| member_order(*a, *b));
        let mut assigned: BTreeMap<String, Vec<Tp>> = BTreeMap::new();
        let mut next = 0usize;
        for (topic, count) in partitions_per_topic(metadata, members) {
            for p in 0..count {
                // Some member subscribes to `topic` (partitions_per_topic), so this finds it
                // within one turn of the circle.
                let Some(skip) =
                    (0..order.len()).find(|k| subscribes(order[(next + k) % order.len()].1, topic))
                else {
                    break;
                };
                let at = (next + skip) % order.len();
                assigned
                    .entry(order[at].0.clone())
                    .or_default()
                    .push((topic.to_owned(), p));
                next = (at + 1) % order.len();
            }
        }
        Ok(finish(members, assigned))
    }
}

/// `sticky` (Java's `StickyAssignor`), eager: a balanced assignment that keeps as many of each
/// member's previous partitions as balance allows. Each member's previous partitions and their
/// generation travel in its user data (Java's `StickyAssignor` V1 struct,
/// `previous_assignment [(topic string, partitions [int32])], generation int32`), because an eager
/// member revokes everything, so owns nothing, when it rejoins.
///
/// See [`CooperativeStickyAssignor`] for the algorithm.
#[derive(Clone, Copy, Debug, Default)]
pub struct StickyAssignor;

impl Assignor for StickyAssignor {
    fn name(&self) -> &str {
        "sticky"
    }

    /// The V1 struct of `owned` and `generation`; none before the first assignment (no owned
    /// partitions and [`NO_GENERATION`]), as Java sends none before its first.
    fn user_data(
        &self,
        _topics: &[String],
        owned: &[(String, i32)],
        generation: i32,
    ) -> Option<Bytes> {
        if owned.is_empty() && generation < 0 {
            return None;
        }
        Some(sticky_user_data(owned, generation))
    }

    fn assign(
        &self,
        metadata: &BTreeMap<String, i32>,
        members: &BTreeMap<String, MemberSubscription>,
    ) -> Result<BTreeMap<String, Assignment>> {
        let assigned = sticky_assign(metadata, members, RebalanceProtocol::Eager)?;
        Ok(finish(members, assigned))
    }
}

/// `cooperative-sticky` (Java's `CooperativeStickyAssignor`): the sticky algorithm, with the
/// cooperative protocol's two-round hand-off.
///
/// Each member's previous partitions are its subscription's `owned_partitions`, with the
/// subscription's `generation_id` (v2+) or else the generation in its user data (only
/// `generation int32`). When two members claim a partition, the claim of the higher generation
/// wins; claims of the same generation cancel out and the partition is reassigned.
///
/// When every member subscribes to the same topics, the assignment is Java's constrained one:
/// each member keeps its previous partitions up to its quota (`partitions / members`, one more for
/// the first `partitions % members` members to reach it) and the rest go round robin to members
/// under quota, so the counts differ by at most one. Otherwise each member keeps its previous
/// partitions of topics it still subscribes to, the rest go one by one to the least loaded
/// subscriber (topics with the fewest subscribers first), and partitions then move from the most
/// to the least loaded subscriber until no move makes it more even (Java's `isBalanced`); Java's
/// search there, which also weighs past generations' owners, is not reproduced.
///
/// Cooperatively, a partition that a member owned and that the new assignment gives to another
/// member is left out of the assignment: its owner revokes it and rejoins, and the next rebalance
/// assigns it (Java's `adjustAssignment`). No partition is ever owned by two members at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager]
    }

    /// The generation alone, as an int32 (Java's `COOPERATIVE_STICKY_ASSIGNOR_USER_DATA_V0`),
    /// always sent, `-1` before the first assignment.
    fn user_data(
        &self,
        _topics: &[String],
        _owned: &[(String, i32)],
        generation: i32,
    ) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&generation.to_be_bytes()))
    }

    fn assign(
        &self,
        metadata: &BTreeMap<String, i32>,
        members: &BTreeMap<String, MemberSubscription>,
    ) -> Result<BTreeMap<String, Assignment>> {
        let assigned = sticky_assign(metadata, members, RebalanceProtocol::Cooperative)?;
        Ok(finish(members, assigned))
    }
}

/// Java's `StickyAssignor` user data V1: `previous_assignment [(topic, [int32])]`, then
/// `generation int32` (topics sorted; Java writes them in hash order).
fn sticky_user_data(owned: &[(String, i32)], generation: i32) -> Bytes {
    let mut sorted = owned.to_vec();
    sorted.sort();
    sorted.dedup();
    let grouped = group(sorted);
    let mut buf = BytesMut::new();
    // Lengths beyond an int16 topic name or an int32 count cannot come from a real assignment;
    // they are cut rather than wrapped.
    buf.put_i32(i32::try_from(grouped.len()).unwrap_or(i32::MAX));
    for (topic, partitions) in &grouped {
        let name = &topic.as_bytes()[..topic.len().min(i16::MAX as usize)];
        buf.put_i16(name.len() as i16);
        buf.put_slice(name);
        buf.put_i32(i32::try_from(partitions.len()).unwrap_or(i32::MAX));
        for &p in partitions {
            buf.put_i32(p);
        }
    }
    buf.put_i32(generation);
    buf.freeze()
}

/// The previous partitions in a `StickyAssignor` user data and their generation (V1), or without
/// generation (V0); what Java makes of data that parses as neither: nothing, generation `-1`.
fn parse_sticky_user_data(data: &Bytes) -> (Vec<Tp>, Option<i32>) {
    fn previous(buf: &mut Bytes) -> Option<Vec<Tp>> {
        let n = primitives::get_array_len(buf, false).ok()??;
        let mut out = Vec::new();
        for _ in 0..n {
            let topic = primitives::get_string(buf, false).ok()?;
            let k = primitives::get_array_len(buf, false).ok()??;
            for _ in 0..k {
                out.push((topic.clone(), primitives::get_i32(buf).ok()?));
            }
        }
        Some(out)
    }
    let mut v1 = data.clone();
    if let Some(partitions) = previous(&mut v1) {
        if let Ok(generation) = primitives::get_i32(&mut v1) {
            return (partitions, Some(generation));
        }
    }
    match previous(&mut data.clone()) {
        Some(partitions) => (partitions, None),
        None => (Vec::new(), Some(NO_GENERATION)),
    }
}

/// A member's previous partitions and their generation (Java's `memberData`).
fn member_data(m: &MemberSubscription, protocol: RebalanceProtocol) -> (Vec<Tp>, Option<i32>) {
    let s = &m.subscription;
    let generation_field = (s.generation_id >= 0).then_some(s.generation_id);
    match protocol {
        // Java reads only the user data; a member that sends none but owned partitions (not a
        // Java member) is taken at its owned partitions and generation field.
        RebalanceProtocol::Eager => match &s.user_data {
            Some(data) if !data.is_empty() => parse_sticky_user_data(data),
            _ => (s.owned(), generation_field),
        },
        RebalanceProtocol::Cooperative => {
            let generation = match (generation_field, &s.user_data) {
                (Some(g), _) => Some(g),
                (None, None) => None,
                (None, Some(data)) => Some(data.get(..4).map_or(NO_GENERATION, |b| {
                    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
                })),
            };
            (s.owned(), generation)
        }
    }
}

/// The sticky assignment (Java's `AbstractStickyAssignor.assignPartitions`, without racks), and
/// for the cooperative protocol with the partitions still owned by another member left out.
fn sticky_assign(
    metadata: &BTreeMap<String, i32>,
    members: &BTreeMap<String, MemberSubscription>,
    protocol: RebalanceProtocol,
) -> Result<BTreeMap<String, Vec<Tp>>> {
    if members.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ppt = partitions_per_topic(metadata, members);
    let valid = |(t, p): &Tp| ppt.get(t.as_str()).is_some_and(|&n| *p >= 0 && *p < n);

    // Every member's previous partitions, conflicts resolved by generation (Java's
    // `allSubscriptionsEqual`).
    let mut owned: BTreeMap<String, Vec<Tp>> = BTreeMap::new();
    let mut claimed_twice: BTreeSet<Tp> = BTreeSet::new();
    let mut claims: HashMap<Tp, (String, i32)> = HashMap::new();
    for (id, m) in members {
        let (mut partitions, generation) = member_data(m, protocol);
        let generation = generation.unwrap_or(NO_GENERATION);
        partitions.sort();
        partitions.dedup();
        let mut mine = Vec::new();
        for tp in partitions.into_iter().filter(valid) {
            match claims.get(&tp).cloned() {
                None => {
                    claims.insert(tp.clone(), (id.clone(), generation));
                    mine.push(tp);
                }
                Some((other, other_generation)) if other_generation == generation => {
                    claimed_twice.insert(tp.clone());
                    if let Some(list) = owned.get_mut(&other) {
                        list.retain(|x| *x != tp);
                    }
                    claims.insert(tp, (id.clone(), generation));
                }
                Some((other, other_generation)) if generation > other_generation => {
                    if let Some(list) = owned.get_mut(&other) {
                        list.retain(|x| *x != tp);
                    }
                    claims.insert(tp.clone(), (id.clone(), generation));
                    mine.push(tp);
                }
                Some(_) => {}
            }
        }
        owned.insert(id.clone(), mine);
    }

    let topic_sets: BTreeSet<BTreeSet<&str>> = members
        .values()
        .map(|m| m.subscription.topics.iter().map(String::as_str).collect())
        .collect();
    let (mut assignment, transferring) = if topic_sets.len() == 1 {
        constrained_assign(&ppt, owned, &claimed_twice)?
    } else {
        (general_assign(&ppt, owned, members), BTreeMap::new())
    };

    if protocol == RebalanceProtocol::Cooperative {
        // Java's adjustAssignment: what the constrained builder saw changing hands...
        for (tp, to) in &transferring {
            if let Some(list) = assignment.get_mut(to) {
                list.retain(|x| x != tp);
            }
        }
        // ...and, in general, every partition given to one member that another owns
        // (`computePartitionsTransferringOwnership`, here also a check of the above).
        let mut revoked: BTreeSet<Tp> = BTreeSet::new();
        let mut added: Vec<(String, Tp)> = Vec::new();
        for (id, m) in members {
            let raw: BTreeSet<Tp> = m.subscription.owned().into_iter().collect();
            let new = assignment.get(id).map(Vec::as_slice).unwrap_or_default();
            added.extend(
                new.iter()
                    .filter(|tp| !raw.contains(*tp))
                    .map(|tp| (id.clone(), tp.clone())),
            );
            let new: BTreeSet<&Tp> = new.iter().collect();
            revoked.extend(raw.into_iter().filter(|tp| !new.contains(tp)));
        }
        for (id, tp) in added {
            if revoked.contains(&tp) {
                if let Some(list) = assignment.get_mut(&id) {
                    list.retain(|x| *x != tp);
                }
            }
        }
    }
    Ok(assignment)
}

fn assignor_bug(what: &str) -> Error {
    Error::InvalidArgument(format!("sticky assignor: {what}"))
}

/// Java's `ConstrainedAssignmentBuilder` (every member subscribes to the same topics), without
/// racks. Returns the assignment and the partitions it gives to a member other than the one that
/// had them (Java's `partitionsTransferringOwnership`).
#[allow(clippy::type_complexity)]
fn constrained_assign(
    ppt: &BTreeMap<&str, i32>,
    owned: BTreeMap<String, Vec<Tp>>,
    claimed_twice: &BTreeSet<Tp>,
) -> Result<(BTreeMap<String, Vec<Tp>>, BTreeMap<Tp, String>)> {
    let members = owned.len();
    let total: usize = ppt.values().map(|&n| n as usize).sum();
    let min_quota = total / members;
    let max_quota = total.div_ceil(members);
    let expected_over = total % members;
    let mut current_over = 0usize;

    let mut assignment: BTreeMap<String, Vec<Tp>> = BTreeMap::new();
    let mut assigned: BTreeSet<Tp> = BTreeSet::new();
    let mut maybe_revoked: HashMap<Tp, String> = HashMap::new();
    let mut under: Vec<String> = Vec::new();
    let mut exactly: VecDeque<String> = VecDeque::new();

    // 1. Each member keeps its previous partitions up to its quota.
    for (id, mut partitions) in owned {
        partitions.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        partitions.retain(|tp| !claimed_twice.contains(tp));
        let keep = if partitions.len() < min_quota {
            under.push(id.clone());
            partitions.len()
        } else if partitions.len() >= max_quota && current_over < expected_over {
            current_over += 1;
            if current_over == expected_over {
                exactly.clear();
            }
            max_quota
        } else {
            if current_over < expected_over {
                exactly.push_back(id.clone());
            }
            min_quota
        };
        for tp in partitions.split_off(keep) {
            maybe_revoked.insert(tp, id.clone());
        }
        assigned.extend(partitions.iter().cloned());
        assignment.insert(id, partitions);
    }

    // 2. The rest go round robin to the members under quota, then to those at exactly the
    //    minimum while some may still have one more.
    let unassigned: Vec<Tp> = ppt
        .iter()
        .flat_map(|(&t, &n)| (0..n).map(move |p| (t.to_owned(), p)))
        .filter(|tp| !assigned.contains(tp))
        .collect();
    under.sort();
    exactly.make_contiguous().sort();
    let mut transferring: BTreeMap<Tp, String> = BTreeMap::new();
    // The position of Java's iterator over `under`: the next member it returns.
    let mut at = 0usize;
    for tp in unassigned {
        let (consumer, from_under) = if at < under.len() {
            at += 1;
            (under[at - 1].clone(), true)
        } else if under.is_empty() {
            match exactly.pop_front() {
                Some(c) => (c, false),
                None => return Err(assignor_bug("no more unfilled members to assign to")),
            }
        } else {
            at = 1;
            (under[0].clone(), true)
        };
        let list = assignment.entry(consumer.clone()).or_default();
        list.push(tp.clone());
        let count = list.len();
        if maybe_revoked.get(&tp).is_some_and(|prev| *prev != consumer)
            || claimed_twice.contains(&tp)
        {
            transferring.insert(tp, consumer.clone());
        }
        if count == min_quota && from_under {
            at -= 1;
            under.remove(at);
            exactly.push_back(consumer);
        } else if count == max_quota {
            current_over += 1;
        }
    }

    // 3. Java's checks that every member reached its quota.
    if !under.is_empty() {
        if current_over != expected_over {
            return Err(assignor_bug(
                "fewer members than expected have more than the minimum quota",
            ));
        }
        if under
            .iter()
            .any(|id| assignment.get(id).map_or(0, Vec::len) != min_quota)
        {
            return Err(assignor_bug("a member did not reach the minimum quota"));
        }
    }
    Ok((assignment, transferring))
}

/// The general case (members subscribe to different topics): keep what each member had of the
/// topics it still subscribes to, give the rest to the least loaded subscriber, then move
/// partitions from more to less loaded subscribers while one has two more than another that could
/// take it.
fn general_assign(
    ppt: &BTreeMap<&str, i32>,
    owned: BTreeMap<String, Vec<Tp>>,
    members: &BTreeMap<String, MemberSubscription>,
) -> BTreeMap<String, Vec<Tp>> {
    let subscribers: BTreeMap<&str, Vec<&String>> = ppt
        .keys()
        .map(|&t| {
            let subs = members
                .iter()
                .filter(|(_, m)| subscribes(m, t))
                .map(|(id, _)| id)
                .collect();
            (t, subs)
        })
        .collect();
    let may_own = |id: &String, topic: &str| {
        subscribers
            .get(topic)
            .is_some_and(|subs| subs.contains(&id))
    };

    let mut assignment: BTreeMap<String, Vec<Tp>> =
        members.keys().map(|id| (id.clone(), Vec::new())).collect();
    let mut owner: HashMap<Tp, String> = HashMap::new();
    for (id, partitions) in owned {
        for tp in partitions {
            if may_own(&id, &tp.0) {
                owner.insert(tp.clone(), id.clone());
                assignment.entry(id.clone()).or_default().push(tp);
            }
        }
    }

    // Topics with the fewest subscribers first, as Java's TopicComparator.
    let mut topics: Vec<&str> = subscribers
        .iter()
        .filter(|(_, subs)| !subs.is_empty())
        .map(|(&t, _)| t)
        .collect();
    topics.sort_by(|a, b| {
        subscribers[a]
            .len()
            .cmp(&subscribers[b].len())
            .then_with(|| a.cmp(b))
    });
    let load = |a: &BTreeMap<String, Vec<Tp>>, id: &String| a.get(id).map_or(0, Vec::len);
    for &topic in &topics {
        for p in 0..ppt[topic] {
            let tp = (topic.to_owned(), p);
            if owner.contains_key(&tp) {
                continue;
            }
            let Some(to) = subscribers[topic]
                .iter()
                .min_by(|a, b| {
                    load(&assignment, a)
                        .cmp(&load(&assignment, b))
                        .then_with(|| a.cmp(b))
                })
                .map(|id| (*id).clone())
            else {
                continue;
            };
            owner.insert(tp.clone(), to.clone());
            assignment.entry(to).or_default().push(tp);
        }
    }

    // Balance: each move takes a partition from a member with at least two more than the one
    // that gets it, which lowers the sum of squared loads, so this ends.
    loop {
        let mut by_load: Vec<&String> = members.keys().collect();
        by_load.sort_by_key(|id| load(&assignment, id));
        let mut best: Option<(Tp, String, String)> = None;
        'to: for to in by_load {
            let to_load = load(&assignment, to);
            // The most loaded member holding a partition `to` could take.
            let mut from: Option<(&String, usize, &Tp)> = None;
            for (id, list) in &assignment {
                if id == to || list.len() < to_load + 2 {
                    continue;
                }
                if from.is_some_and(|(_, n, _)| n >= list.len()) {
                    continue;
                }
                if let Some(tp) = list.iter().find(|tp| may_own(to, &tp.0)) {
                    from = Some((id, list.len(), tp));
                }
            }
            if let Some((id, _, tp)) = from {
                best = Some((tp.clone(), id.clone(), to.clone()));
                break 'to;
            }
        }
        let Some((tp, from, to)) = best else { break };
        if let Some(list) = assignment.get_mut(&from) {
            list.retain(|x| *x != tp);
        }
        assignment.entry(to).or_default().push(tp);
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn metadata(topics: &[(&str, i32)]) -> BTreeMap<String, i32> {
        topics.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn member(topics: &[&str]) -> MemberSubscription {
        MemberSubscription::new(Subscription::new(topics.iter().copied()))
    }

    /// `{member: "t7-0, t7-1, ..."}` in Java's `TopicPartition` notation, partitions sorted.
    fn render(result: &BTreeMap<String, Assignment>) -> BTreeMap<String, String> {
        result
            .iter()
            .map(|(id, a)| {
                let list: Vec<String> = a
                    .topic_partitions()
                    .iter()
                    .map(|(t, p)| format!("{t}-{p}"))
                    .collect();
                (id.clone(), list.join(", "))
            })
            .collect()
    }

    fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    // The expected assignments below are what kafka-clients 4.4.0's own RangeAssignor and
    // RoundRobinAssignor returned (`assign(partitionsPerTopic, subscriptions)`, printed by a
    // throwaway Java program against target/kafka-dist/4.4.0/lib), sorted here per member.

    fn dynamic_members() -> BTreeMap<String, MemberSubscription> {
        [
            ("c-b", member(&["t7", "t3"])),
            ("c-a", member(&["t7", "t3"])),
            ("c-c", member(&["t7"])),
        ]
        .into_iter()
        .map(|(id, m)| (id.to_owned(), m))
        .collect()
    }

    fn static_members() -> BTreeMap<String, MemberSubscription> {
        [
            (
                "m-1",
                member(&["t7", "t3"]).with_group_instance_id("z-instance"),
            ),
            (
                "m-2",
                member(&["t7", "t3"]).with_group_instance_id("y-instance"),
            ),
            ("m-0", member(&["t7", "t3"])),
        ]
        .into_iter()
        .map(|(id, m)| (id.to_owned(), m))
        .collect()
    }

    #[test]
    fn range_equals_javas() {
        let md = metadata(&[("t7", 7), ("t3", 3), ("unsubscribed", 4)]);
        // Java: {c-a=[t7-0, t7-1, t7-2, t3-0, t3-1], c-b=[t7-3, t7-4, t3-2], c-c=[t7-5, t7-6]}
        assert_eq!(
            render(&RangeAssignor.assign(&md, &dynamic_members()).unwrap()),
            expect(&[
                ("c-a", "t3-0, t3-1, t7-0, t7-1, t7-2"),
                ("c-b", "t3-2, t7-3, t7-4"),
                ("c-c", "t7-5, t7-6"),
            ])
        );
        // Static members first, by group.instance.id, then dynamic ones by member id.
        // Java: {m-0=[t7-5, t7-6, t3-2], m-1=[t7-3, t7-4, t3-1], m-2=[t7-0, t7-1, t7-2, t3-0]}
        assert_eq!(
            render(&RangeAssignor.assign(&md, &static_members()).unwrap()),
            expect(&[
                ("m-0", "t3-2, t7-5, t7-6"),
                ("m-1", "t3-1, t7-3, t7-4"),
                ("m-2", "t3-0, t7-0, t7-1, t7-2"),
            ])
        );
    }

    #[test]
    fn roundrobin_equals_javas() {
        let md = metadata(&[("t7", 7), ("t3", 3)]);
        // Java: {c-a=[t3-0, t3-2, t7-2, t7-5], c-b=[t3-1, t7-0, t7-3, t7-6], c-c=[t7-1, t7-4]}
        assert_eq!(
            render(&RoundRobinAssignor.assign(&md, &dynamic_members()).unwrap()),
            expect(&[
                ("c-a", "t3-0, t3-2, t7-2, t7-5"),
                ("c-b", "t3-1, t7-0, t7-3, t7-6"),
                ("c-c", "t7-1, t7-4"),
            ])
        );
        // Java: {m-0=[t3-2, t7-2, t7-5], m-1=[t3-1, t7-1, t7-4], m-2=[t3-0, t7-0, t7-3, t7-6]}
        assert_eq!(
            render(&RoundRobinAssignor.assign(&md, &static_members()).unwrap()),
            expect(&[
                ("m-0", "t3-2, t7-2, t7-5"),
                ("m-1", "t3-1, t7-1, t7-4"),
                ("m-2", "t3-0, t7-0, t7-3, t7-6"),
            ])
        );
    }

    #[test]
    fn topics_missing_from_metadata_and_members_with_nothing() {
        let md = metadata(&[("t", 1), ("empty", 0)]);
        let members: BTreeMap<String, MemberSubscription> = [
            ("a".to_owned(), member(&["t", "missing", "empty"])),
            ("b".to_owned(), member(&["t"])),
        ]
        .into();
        for a in all_assignors() {
            let result = a.assign(&md, &members).unwrap();
            assert_eq!(result.len(), 2, "{}", a.name());
            let all: Vec<Tp> = result.values().flat_map(|x| x.topic_partitions()).collect();
            assert_eq!(all, vec![("t".to_owned(), 0)], "{}", a.name());
        }
        for a in all_assignors() {
            assert!(a.assign(&md, &BTreeMap::new()).unwrap().is_empty());
        }
    }

    fn all_assignors() -> Vec<Arc<dyn Assignor>> {
        ["range", "roundrobin", "sticky", "cooperative-sticky"]
            .into_iter()
            .map(|n| assignor_by_name(n).unwrap())
            .collect()
    }

    #[test]
    fn names_and_class_names() {
        for (name, class) in [
            ("range", "RangeAssignor"),
            ("roundrobin", "RoundRobinAssignor"),
            ("sticky", "StickyAssignor"),
            ("cooperative-sticky", "CooperativeStickyAssignor"),
        ] {
            assert_eq!(assignor_by_name(name).unwrap().name(), name);
            let class = format!("org.apache.kafka.clients.consumer.{class}");
            assert_eq!(assignor_by_name(&class).unwrap().name(), name);
        }
        assert!(assignor_by_name("uniform").is_none());
    }

    #[derive(Debug)]
    struct CooperativeOnly;

    impl Assignor for CooperativeOnly {
        fn name(&self) -> &str {
            "mine"
        }
        fn supported_protocols(&self) -> &[RebalanceProtocol] {
            &[RebalanceProtocol::Cooperative]
        }
        fn assign(
            &self,
            _: &BTreeMap<String, i32>,
            members: &BTreeMap<String, MemberSubscription>,
        ) -> Result<BTreeMap<String, Assignment>> {
            Ok(members
                .keys()
                .map(|id| (id.clone(), Assignment::default()))
                .collect())
        }
    }

    #[test]
    fn the_rebalance_protocol_of_a_list_of_assignors() {
        // Java's default list rebalances eagerly (range supports only eager).
        let default = default_assignors();
        let names: Vec<&str> = default.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["range", "cooperative-sticky"]);
        assert_eq!(
            rebalance_protocol(&default).unwrap(),
            RebalanceProtocol::Eager
        );
        let coop: Vec<Arc<dyn Assignor>> = vec![Arc::new(CooperativeStickyAssignor)];
        assert_eq!(
            rebalance_protocol(&coop).unwrap(),
            RebalanceProtocol::Cooperative
        );
        let eager: Vec<Arc<dyn Assignor>> =
            vec![Arc::new(StickyAssignor), Arc::new(RoundRobinAssignor)];
        assert_eq!(
            rebalance_protocol(&eager).unwrap(),
            RebalanceProtocol::Eager
        );
        let mixed: Vec<Arc<dyn Assignor>> = vec![
            Arc::new(CooperativeOnly),
            Arc::new(CooperativeStickyAssignor),
        ];
        assert_eq!(
            rebalance_protocol(&mixed).unwrap(),
            RebalanceProtocol::Cooperative
        );
        let none: Vec<Arc<dyn Assignor>> = vec![Arc::new(CooperativeOnly), Arc::new(RangeAssignor)];
        assert!(matches!(
            rebalance_protocol(&none),
            Err(Error::InvalidArgument(_))
        ));
        assert!(rebalance_protocol(&[]).is_err());
        assert_eq!(RebalanceProtocol::Eager.id(), 0);
        assert_eq!(RebalanceProtocol::Cooperative.id(), 1);
    }

    #[test]
    fn the_broker_picks_the_most_preferred_common_protocol() {
        let default = vec!["range", "cooperative-sticky"];
        assert_eq!(
            select_protocol(&[default.clone(), default.clone()]).as_deref(),
            Some("range")
        );
        // Only cooperative-sticky is common; everyone votes for it.
        assert_eq!(
            select_protocol(&[default.clone(), vec!["cooperative-sticky"]]).as_deref(),
            Some("cooperative-sticky")
        );
        // Two prefer roundrobin, one range: roundrobin.
        let rr = vec!["roundrobin", "range"];
        assert_eq!(
            select_protocol(&[rr.clone(), vec!["range", "roundrobin"], rr]).as_deref(),
            Some("roundrobin")
        );
        // A name only some list is not a candidate, even if preferred.
        assert_eq!(
            select_protocol(&[vec!["sticky", "range"], vec!["range"]]).as_deref(),
            Some("range")
        );
        assert_eq!(select_protocol(&[vec!["range"], vec!["sticky"]]), None);
        assert_eq!(select_protocol::<&str>(&[]), None);
    }

    #[test]
    fn user_data_equals_javas() {
        // From kafka-clients 4.4.0: StickyAssignor.serializeTopicPartitionAssignment(
        //   new MemberData([t1-0, t1-1], Optional.of(7))), and CooperativeStickyAssignor's
        // subscriptionUserData before any assignment and after onAssignment at generation 9.
        // StickyAssignor.subscriptionUserData is null before any assignment.
        let owned = vec![("t1".to_owned(), 1), ("t1".to_owned(), 0)];
        let topics = vec!["t1".to_owned()];
        let sticky = StickyAssignor.user_data(&topics, &owned, 7).unwrap();
        assert_eq!(
            to_hex(&sticky),
            "000000010002743100000002000000000000000100000007"
        );
        assert_eq!(StickyAssignor.user_data(&topics, &[], NO_GENERATION), None);
        let coop = CooperativeStickyAssignor;
        assert_eq!(
            to_hex(&coop.user_data(&topics, &[], NO_GENERATION).unwrap()),
            "ffffffff"
        );
        assert_eq!(
            to_hex(&coop.user_data(&topics, &owned, 9).unwrap()),
            "00000009"
        );
        assert_eq!(RangeAssignor.user_data(&topics, &owned, 9), None);
        assert_eq!(RoundRobinAssignor.user_data(&topics, &owned, 9), None);

        let sorted = vec![("t1".to_owned(), 0), ("t1".to_owned(), 1)];
        assert_eq!(parse_sticky_user_data(&sticky), (sorted.clone(), Some(7)));
        // V0 (no generation), as pre-2.3 Java members send it.
        let v0 = Bytes::copy_from_slice(&sticky[..sticky.len() - 4]);
        assert_eq!(parse_sticky_user_data(&v0), (sorted, None));
        // Garbage: nothing, generation -1 (Java's fallback).
        for garbage in [&[0xff, 0xff, 0xff, 0xfe][..], &[0, 0, 0, 9, 0], &[1]] {
            assert_eq!(
                parse_sticky_user_data(&Bytes::copy_from_slice(garbage)),
                (Vec::new(), Some(NO_GENERATION))
            );
        }
    }

    #[test]
    fn cooperative_generation_comes_from_the_field_then_the_user_data() {
        let owned = vec![("t".to_owned(), 0)];
        let mut s = Subscription::new(["t"]);
        s.owned_partitions = group(owned.clone());
        s.user_data = Some(Bytes::from_static(&[0, 0, 0, 4]));
        let m = MemberSubscription::new(s.clone());
        // No generation field (a v1 subscription): the user data's.
        assert_eq!(
            member_data(&m, RebalanceProtocol::Cooperative),
            (owned.clone(), Some(4))
        );
        // The v2+ field wins.
        s.generation_id = 6;
        let m = MemberSubscription::new(s.clone());
        assert_eq!(
            member_data(&m, RebalanceProtocol::Cooperative),
            (owned.clone(), Some(6))
        );
        // Unparsable user data: -1; none: none.
        s.generation_id = NO_GENERATION;
        s.user_data = Some(Bytes::from_static(&[1]));
        let m = MemberSubscription::new(s.clone());
        assert_eq!(
            member_data(&m, RebalanceProtocol::Cooperative),
            (owned.clone(), Some(-1))
        );
        s.user_data = None;
        let m = MemberSubscription::new(s);
        assert_eq!(
            member_data(&m, RebalanceProtocol::Cooperative),
            (owned, None)
        );
    }

    /// A subscription as a member following `protocol` sends it with `assignor`: cooperatively
    /// with its owned partitions; eagerly owning nothing (it revoked everything), its previous
    /// partitions in the user data.
    fn subscription(
        assignor: &dyn Assignor,
        topics: &[String],
        owned: &[Tp],
        generation: i32,
    ) -> MemberSubscription {
        let mut owned = owned.to_vec();
        owned.sort();
        let mut s = Subscription::new(topics.iter().cloned());
        s.user_data = assignor.user_data(topics, &owned, generation);
        if assignor
            .supported_protocols()
            .contains(&RebalanceProtocol::Cooperative)
        {
            s.owned_partitions = group(owned);
        }
        s.generation_id = generation;
        MemberSubscription::new(s)
    }

    fn flat(result: &BTreeMap<String, Assignment>) -> BTreeMap<String, Vec<Tp>> {
        result
            .iter()
            .map(|(id, a)| (id.clone(), a.topic_partitions()))
            .collect()
    }

    #[test]
    fn cooperative_hands_a_partition_over_in_two_rebalances() {
        let md = metadata(&[("t", 6)]);
        let topics = vec!["t".to_owned()];
        let all: Vec<Tp> = (0..6).map(|p| ("t".to_owned(), p)).collect();
        let a = CooperativeStickyAssignor;
        // Generation 1: "a" owns everything; "b" joins.
        let members: BTreeMap<String, MemberSubscription> = [
            ("a".to_owned(), subscription(&a, &topics, &all, 1)),
            (
                "b".to_owned(),
                subscription(&a, &topics, &[], NO_GENERATION),
            ),
        ]
        .into();
        let first = flat(&a.assign(&md, &members).unwrap());
        // "a" keeps 0-2; 3-5 are revoked from "a" but not yet given to "b".
        assert_eq!(first["a"], all[..3].to_vec());
        assert_eq!(first["b"], Vec::<Tp>::new());
        // Generation 2, after "a" revoked 3-5: "b" gets them.
        let members: BTreeMap<String, MemberSubscription> = [
            ("a".to_owned(), subscription(&a, &topics, &first["a"], 2)),
            ("b".to_owned(), subscription(&a, &topics, &first["b"], 2)),
        ]
        .into();
        let second = flat(&a.assign(&md, &members).unwrap());
        assert_eq!(second["a"], all[..3].to_vec());
        assert_eq!(second["b"], all[3..].to_vec());

        // Eager sticky moves them at once (everyone revoked everything already).
        let s = StickyAssignor;
        let members: BTreeMap<String, MemberSubscription> = [
            ("a".to_owned(), subscription(&s, &topics, &all, 1)),
            (
                "b".to_owned(),
                subscription(&s, &topics, &[], NO_GENERATION),
            ),
        ]
        .into();
        let eager = flat(&s.assign(&md, &members).unwrap());
        assert_eq!(eager["a"], all[..3].to_vec());
        assert_eq!(eager["b"], all[3..].to_vec());
    }

    #[test]
    fn conflicting_claims_go_to_the_highest_generation() {
        let md = metadata(&[("t", 2)]);
        let topics = vec!["t".to_owned()];
        let t = |p| ("t".to_owned(), p);
        for a in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
            // "b" claims t-0 from an older generation than "a": "a" keeps it, "b" gets t-1.
            let members: BTreeMap<String, MemberSubscription> = [
                ("a".to_owned(), subscription(a, &topics, &[t(0)], 5)),
                ("b".to_owned(), subscription(a, &topics, &[t(0), t(1)], 4)),
            ]
            .into();
            let r = flat(&a.assign(&md, &members).unwrap());
            assert_eq!(r["a"], vec![t(0)], "{}", a.name());
            // (Cooperatively "b" keeps t-1 and revokes its stale claim to t-0.)
            assert_eq!(r["b"], vec![t(1)], "{}", a.name());
            // The reverse order of member ids changes nothing.
            let members: BTreeMap<String, MemberSubscription> = [
                ("z".to_owned(), subscription(a, &topics, &[t(0)], 5)),
                ("b".to_owned(), subscription(a, &topics, &[t(0), t(1)], 4)),
            ]
            .into();
            let r = flat(&a.assign(&md, &members).unwrap());
            assert_eq!(r["z"], vec![t(0)], "{}", a.name());
        }
        // Two claims of one generation cancel out: the partition is reassigned, and
        // cooperatively held back for a round (neither may take it from the other).
        let a = CooperativeStickyAssignor;
        let members: BTreeMap<String, MemberSubscription> = [
            ("a".to_owned(), subscription(&a, &topics, &[t(0)], 5)),
            ("b".to_owned(), subscription(&a, &topics, &[t(0), t(1)], 5)),
        ]
        .into();
        let r = flat(&a.assign(&md, &members).unwrap());
        assert!(!r.values().any(|l| l.contains(&t(0))), "{r:?}");
        assert_eq!(r["b"], vec![t(1)]);
    }

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Every partition of a subscribed topic is assigned exactly once, to a subscriber.
    fn check_complete(
        md: &BTreeMap<String, i32>,
        subs: &BTreeMap<String, Vec<String>>,
        result: &BTreeMap<String, Vec<Tp>>,
    ) {
        let mut seen: BTreeMap<&Tp, &String> = BTreeMap::new();
        for (id, list) in result {
            for tp in list {
                assert!(
                    subs[id].contains(&tp.0),
                    "{id} got {tp:?} unsubscribed: {result:?}"
                );
                if let Some(other) = seen.insert(tp, id) {
                    panic!("{tp:?} assigned to {other} and {id}");
                }
            }
        }
        for (topic, &n) in md {
            if subs.values().any(|t| t.contains(topic)) {
                for p in 0..n {
                    assert!(
                        seen.contains_key(&(topic.clone(), p)),
                        "{topic}-{p} unassigned: {result:?}"
                    );
                }
            }
        }
    }

    /// Java's `isBalanced`: no member could take a partition of its topics from a member with
    /// two or more partitions more.
    fn check_balanced(subs: &BTreeMap<String, Vec<String>>, result: &BTreeMap<String, Vec<Tp>>) {
        for (id, list) in result {
            for (other, other_list) in result {
                if other_list.len() > list.len() + 1 {
                    assert!(
                        !other_list.iter().any(|tp| subs[id].contains(&tp.0)),
                        "{id} ({}) could take from {other} ({}): {result:?}",
                        list.len(),
                        other_list.len()
                    );
                }
            }
        }
    }

    /// Random groups through random joins and leaves, each rebalance checked: complete, balanced,
    /// sticky, and for cooperative-sticky no partition moved directly between two members.
    fn simulate(assignor: &dyn Assignor, same_topics: bool, seeds: u64) -> usize {
        let cooperative = assignor
            .supported_protocols()
            .contains(&RebalanceProtocol::Cooperative);
        let mut second_rounds = 0;
        for seed in 1..=seeds {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let topic_count = 1 + rng.below(4);
            let md: BTreeMap<String, i32> = (0..topic_count)
                .map(|i| (format!("topic-{i}"), 1 + rng.below(12) as i32))
                .collect();
            let all_topics: Vec<String> = md.keys().cloned().collect();
            let pick_topics = |rng: &mut Rng| -> Vec<String> {
                if same_topics {
                    return all_topics.clone();
                }
                let mut t: Vec<String> = all_topics
                    .iter()
                    .filter(|_| rng.below(2) == 0)
                    .cloned()
                    .collect();
                if t.is_empty() {
                    t.push(all_topics[rng.below(all_topics.len())].clone());
                }
                t
            };
            let mut subs: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut next_id = 0;
            for _ in 0..1 + rng.below(5) {
                subs.insert(format!("member-{next_id}"), pick_topics(&mut rng));
                next_id += 1;
            }
            let mut owned: BTreeMap<String, Vec<Tp>> = BTreeMap::new();
            let mut generation = NO_GENERATION;
            for _step in 0..8 {
                match rng.below(3) {
                    0 => {
                        subs.insert(format!("member-{next_id}"), pick_topics(&mut rng));
                        next_id += 1;
                    }
                    1 if subs.len() > 1 => {
                        let gone = subs.keys().nth(rng.below(subs.len())).cloned().unwrap();
                        subs.remove(&gone);
                        owned.remove(&gone);
                    }
                    _ => {}
                }
                let total: usize = md
                    .iter()
                    .filter(|(t, _)| subs.values().any(|s| s.contains(t)))
                    .map(|(_, &n)| n as usize)
                    .sum();
                let min_quota = total / subs.len();
                // Rebalances until nothing is held back (one for eager, at most two in the
                // cooperative constrained case).
                for round in 0.. {
                    assert!(round < 6, "seed {seed}: no convergence");
                    let members: BTreeMap<String, MemberSubscription> = subs
                        .iter()
                        .map(|(id, topics)| {
                            let mine = owned.get(id).cloned().unwrap_or_default();
                            (
                                id.clone(),
                                subscription(assignor, topics, &mine, generation),
                            )
                        })
                        .collect();
                    let result = flat(&assignor.assign(&md, &members).unwrap());
                    generation += 1;
                    // Never owned by two: nothing another member owns is given to a member.
                    if cooperative {
                        for (id, list) in &result {
                            for tp in list {
                                for (other, theirs) in &owned {
                                    assert!(
                                        other == id || !theirs.contains(tp),
                                        "seed {seed}: {tp:?} moved from {other} to {id} directly"
                                    );
                                }
                            }
                        }
                    }
                    // Sticky: with equal subscriptions, everyone keeps its previous partitions
                    // up to the minimum quota.
                    if same_topics && round == 0 {
                        for (id, list) in &result {
                            let prev = owned.get(id).map(Vec::as_slice).unwrap_or_default();
                            let kept = prev.iter().filter(|tp| list.contains(tp)).count();
                            assert!(
                                kept >= prev.len().min(min_quota),
                                "seed {seed}: {id} kept {kept} of {prev:?} (quota {min_quota}): {result:?}"
                            );
                        }
                    }
                    let held_back = result.values().map(Vec::len).sum::<usize>() < total;
                    assert!(
                        cooperative || !held_back,
                        "seed {seed}: eager left partitions out"
                    );
                    assert!(
                        !(same_topics && round >= 1 && held_back),
                        "seed {seed}: a second cooperative rebalance still held partitions back"
                    );
                    if round > 0 {
                        second_rounds += 1;
                    }
                    owned = result.clone();
                    if !held_back {
                        check_complete(&md, &subs, &result);
                        check_balanced(&subs, &result);
                        if same_topics {
                            let max = result.values().map(Vec::len).max().unwrap_or(0);
                            let min = result.values().map(Vec::len).min().unwrap_or(0);
                            assert!(max - min <= 1, "seed {seed}: {result:?}");
                        }
                        break;
                    }
                }
            }
        }
        second_rounds
    }

    #[test]
    fn sticky_is_complete_balanced_and_sticky() {
        assert_eq!(simulate(&StickyAssignor, true, 300), 0);
        assert_eq!(simulate(&StickyAssignor, false, 300), 0);
    }

    #[test]
    fn cooperative_sticky_never_moves_a_partition_directly() {
        // The hand-off's second rebalance happened (partitions were held back), many times.
        let same = simulate(&CooperativeStickyAssignor, true, 300);
        let different = simulate(&CooperativeStickyAssignor, false, 300);
        assert!(same > 100 && different > 100, "{same} {different}");
    }

    #[test]
    fn range_and_roundrobin_are_complete() {
        for a in [&RangeAssignor as &dyn Assignor, &RoundRobinAssignor] {
            let mut rng = Rng(7);
            for _ in 0..300 {
                let md: BTreeMap<String, i32> = (0..1 + rng.below(4))
                    .map(|i| (format!("t{i}"), rng.below(10) as i32))
                    .collect();
                let topics: Vec<String> = md.keys().cloned().collect();
                let subs: BTreeMap<String, Vec<String>> = (0..1 + rng.below(6))
                    .map(|i| {
                        let t = topics
                            .iter()
                            .filter(|_| rng.below(3) > 0)
                            .cloned()
                            .collect();
                        (format!("m{i}"), t)
                    })
                    .collect();
                let members = subs
                    .iter()
                    .map(|(id, t)| {
                        (
                            id.clone(),
                            MemberSubscription::new(Subscription::new(t.clone())),
                        )
                    })
                    .collect();
                let result = flat(&a.assign(&md, &members).unwrap());
                check_complete(&md, &subs, &result);
            }
        }
    }

    #[test]
    fn malformed_claims_are_ignored() {
        // Owned partitions beyond the topic's count, negative, or of unknown topics.
        let md = metadata(&[("t", 2)]);
        let a = CooperativeStickyAssignor;
        let topics = vec!["t".to_owned()];
        let bogus = vec![
            ("t".to_owned(), 7),
            ("t".to_owned(), -1),
            ("x".to_owned(), 0),
        ];
        let members: BTreeMap<String, MemberSubscription> = [
            ("a".to_owned(), subscription(&a, &topics, &bogus, 3)),
            ("b".to_owned(), subscription(&a, &topics, &[], 3)),
        ]
        .into();
        let r = flat(&a.assign(&md, &members).unwrap());
        let subs = [("a".to_owned(), topics.clone()), ("b".to_owned(), topics)].into();
        check_complete(&md, &subs, &r);
        // Garbage sticky user data is treated as no previous assignment.
        let mut s = Subscription::new(["t"]);
        s.user_data = Some(Bytes::from_static(&[0xff, 0, 1]));
        let members: BTreeMap<String, MemberSubscription> =
            [("a".to_owned(), MemberSubscription::new(s))].into();
        let r = flat(&StickyAssignor.assign(&md, &members).unwrap());
        assert_eq!(r["a"].len(), 2);
    }
}
