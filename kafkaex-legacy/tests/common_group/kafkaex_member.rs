//! A member that speaks to the group coordinator exactly as Elixir KafkaEx 0.15's
//! `ConsumerGroup.Manager` does (JoinGroup/SyncGroup/Heartbeat/LeaveGroup v0 where the broker
//! has them, else its oldest version; protocol type `consumer`, one protocol `assign`), with
//! the subscription and assignment blobs written and read byte by byte as Kayrock's
//! `GroupProtocolMetadata` / `MemberAssignment` are (version 0, zero-length user data), not
//! through kafkaex-client's codec. Real Elixir is not run here.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafkaex_legacy::Worker;
use kafkaex_net::{Route, VersionChoice};
use kafkaex_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafkaex_protocol::messages::leave_group_request::MemberIdentity;
use kafkaex_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafkaex_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use kafkaex_protocol::ApiKey;

/// `[{topic, [partitions]}]`, as KafkaEx packs one member's assignment.
pub(crate) type Packed = Vec<(String, Vec<i32>)>;

/// `%GroupProtocolMetadata{version: 0, topics: topics, user_data: ""}` serialized.
pub(crate) fn subscription_bytes(topics: &[String]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(topics.len() as i32);
    for t in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    }
    b.put_i32(0);
    b.freeze()
}

/// `%MemberAssignment{version: 0, partition_assignments: [...], user_data: ""}` serialized.
pub(crate) fn assignment_bytes(assignments: &[(String, Vec<i32>)]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(assignments.len() as i32);
    for (t, ps) in assignments {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(*p);
        }
    }
    b.put_i32(0);
    b.freeze()
}

/// A MemberAssignment read as Kayrock reads it: (version, [(topic, partitions)], the raw
/// remainder, which Kayrock keeps as user data).
pub(crate) fn read_assignment(blob: &[u8]) -> (i16, Packed, Vec<u8>) {
    let mut b = blob;
    let version = b.get_i16();
    let n = b.get_i32();
    let mut out = Vec::new();
    for _ in 0..n {
        let len = b.get_i16() as usize;
        let topic = String::from_utf8(b[..len].to_vec()).expect("utf8");
        b.advance(len);
        let k = b.get_i32();
        out.push((topic, (0..k).map(|_| b.get_i32()).collect()));
    }
    (version, out, b.to_vec())
}

/// `PartitionAssignment.round_robin/2` as KafkaEx runs it in the Manager: the members in the
/// JoinGroup response's order, the partitions of the leader's topics in order, packed per
/// member as `[{topic, [partitions]}]`.
pub(crate) fn kafkaex_round_robin(
    members: &[String],
    partitions: &[(String, i32)],
) -> Vec<(String, Packed)> {
    let mut out: Vec<(String, Packed)> = members.iter().map(|m| (m.clone(), Vec::new())).collect();
    for (i, (t, p)) in partitions.iter().enumerate() {
        let packed = &mut out[i % members.len()].1;
        match packed.iter_mut().find(|(x, _)| x == t) {
            Some((_, ps)) => ps.push(*p),
            None => packed.push((t.clone(), vec![*p])),
        }
    }
    out
}

/// The emulated Elixir member.
pub(crate) struct KafkaExMember {
    /// Its own client, whose requests may wait as long as KafkaEx's JoinGroup/SyncGroup calls
    /// (session timeout + padding): the broker holds them until the group has rebalanced, and
    /// the escape hatch used for exact v0 requests does not stretch the request timeout. Sent
    /// with the cluster's retries of routing errors (a coordinator not available yet on a
    /// fresh broker); error codes in the body are the test's to read.
    client: kafkaex_client::Client,
    pub(crate) group: String,
    pub(crate) topics: Vec<String>,
    pub(crate) member_id: String,
    pub(crate) generation_id: i32,
    pub(crate) leader_id: String,
    /// The JoinGroup response's members (the leader's only), in its order, with their
    /// subscription blobs.
    pub(crate) members: Vec<(String, Bytes)>,
    /// What the last SyncGroup gave this member.
    pub(crate) assignment: Vec<(String, Vec<i32>)>,
    /// The raw SyncGroup assignment of the last sync.
    pub(crate) assignment_blob: Bytes,
    /// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) versions: 0 where the broker has it.
    pub(crate) versions: (i16, i16, i16, i16),
}

impl KafkaExMember {
    /// A member of `group` for `topics` (not joined yet).
    pub(crate) async fn new(w: Worker, group: &str, topics: &[String]) -> Self {
        let ranges = w.client().api_versions().await.expect("api_versions");
        let r = ranges.values().next().expect("a broker").clone();
        let oldest = |api: ApiKey| r.get(api).expect("the group APIs").min.max(0);
        let versions = (
            oldest(ApiKey::JoinGroup),
            oldest(ApiKey::SyncGroup),
            oldest(ApiKey::Heartbeat),
            oldest(ApiKey::LeaveGroup),
        );
        let mut config = w.client().config().clone();
        config.net.request_timeout = std::time::Duration::from_secs(40);
        let client = kafkaex_client::Client::connect(config)
            .await
            .expect("the member's client");
        Self {
            client,
            group: group.to_owned(),
            topics: topics.to_vec(),
            member_id: String::new(),
            generation_id: -1,
            leader_id: String::new(),
            members: Vec::new(),
            assignment: Vec::new(),
            assignment_blob: Bytes::new(),
            versions,
        }
    }

    fn route(&self) -> Route {
        Route::GroupCoordinator(self.group.clone())
    }

    /// Whether this member leads its generation.
    pub(crate) fn is_leader(&self) -> bool {
        self.member_id == self.leader_id
    }

    /// JoinGroup (the Manager's `join/1`, session timeout 10 s): the error code.
    pub(crate) async fn join(&mut self) -> i16 {
        loop {
            let request = JoinGroupRequest::default()
                .with_group_id(self.group.clone())
                .with_session_timeout_ms(10_000)
                .with_rebalance_timeout_ms(10_000)
                .with_member_id(self.member_id.clone())
                .with_protocol_type("consumer".into())
                .with_protocols(vec![JoinGroupRequestProtocol::default()
                    .with_name("assign".into())
                    .with_metadata(subscription_bytes(&self.topics))]);
            let r = self
                .client
                .cluster()
                .send_with_retry(
                    self.route(),
                    &request,
                    VersionChoice::Exact(self.versions.0),
                    // A coordinator still loading or moved (a fresh broker) is retried; the
                    // group's own codes are the test's.
                    |r: &kafkaex_protocol::messages::JoinGroupResponse| {
                        Some(r.error_code).filter(|c| {
                            matches!(
                                c,
                                kafkaex_protocol::ErrorCode::CoordinatorLoadInProgress
                                    | kafkaex_protocol::ErrorCode::CoordinatorNotAvailable
                                    | kafkaex_protocol::ErrorCode::NotCoordinator
                            )
                        })
                    },
                )
                .await
                .expect("JoinGroup")
                .body;
            // MEMBER_ID_REQUIRED only from v4 (brokers without v0-v3): join with the id given.
            if r.error_code.code() == 79 && self.member_id.is_empty() {
                self.member_id = r.member_id;
                continue;
            }
            if r.error_code.is_ok() {
                self.member_id = r.member_id;
                self.generation_id = r.generation_id;
                self.leader_id = r.leader;
                self.members = r
                    .members
                    .into_iter()
                    .map(|m| (m.member_id, m.metadata))
                    .collect();
                assert_eq!(r.protocol_name.as_deref().unwrap_or("assign"), "assign");
            }
            return r.error_code.code();
        }
    }

    /// As leader: KafkaEx's round robin of its topics' partitions (`counts` per topic) over
    /// the members in response order. As follower: empty assignments.
    pub(crate) fn plan(&self, counts: &[(String, i32)]) -> Vec<(String, Bytes)> {
        if !self.is_leader() {
            return Vec::new();
        }
        let partitions: Vec<(String, i32)> = counts
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
            .collect();
        let members: Vec<String> = self.members.iter().map(|(m, _)| m.clone()).collect();
        kafkaex_round_robin(&members, &partitions)
            .into_iter()
            .map(|(m, a)| (m, assignment_bytes(&a)))
            .collect()
    }

    /// SyncGroup with `assignments`: the error code; this member's assignment is read.
    pub(crate) async fn sync(&mut self, assignments: Vec<(String, Bytes)>) -> i16 {
        let request = SyncGroupRequest::default()
            .with_group_id(self.group.clone())
            .with_generation_id(self.generation_id)
            .with_member_id(self.member_id.clone())
            .with_protocol_type(Some("consumer".into()))
            .with_protocol_name(Some("assign".into()))
            .with_assignments(
                assignments
                    .into_iter()
                    .map(|(m, a)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(m)
                            .with_assignment(a)
                    })
                    .collect(),
            );
        let r = self
            .client
            .cluster()
            .send_with_retry(
                self.route(),
                &request,
                VersionChoice::Exact(self.versions.1),
                |_| None,
            )
            .await
            .expect("SyncGroup")
            .body;
        self.assignment_blob = r.assignment.clone();
        self.assignment = if r.assignment.is_empty() {
            Vec::new()
        } else {
            read_assignment(&r.assignment).1
        };
        r.error_code.code()
    }

    /// Heartbeat: the error code (27 `rebalance_in_progress` asks for a rejoin).
    pub(crate) async fn heartbeat(&self) -> i16 {
        let request = HeartbeatRequest::default()
            .with_group_id(self.group.clone())
            .with_generation_id(self.generation_id)
            .with_member_id(self.member_id.clone());
        self.client
            .cluster()
            .send_with_retry(
                self.route(),
                &request,
                VersionChoice::Exact(self.versions.2),
                |_| None,
            )
            .await
            .expect("Heartbeat")
            .body
            .error_code
            .code()
    }

    /// LeaveGroup (the Manager's terminate).
    pub(crate) async fn leave(&self) -> i16 {
        let request = LeaveGroupRequest::default().with_group_id(self.group.clone());
        let request = if self.versions.3 >= 3 {
            request.with_members(vec![
                MemberIdentity::default().with_member_id(self.member_id.clone())
            ])
        } else {
            request.with_member_id(self.member_id.clone())
        };
        self.client
            .cluster()
            .send_with_retry(
                self.route(),
                &request,
                VersionChoice::Exact(self.versions.3),
                |_| None,
            )
            .await
            .expect("LeaveGroup")
            .body
            .error_code
            .code()
    }
}
