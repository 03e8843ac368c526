//! Bytes that agree with an independent implementation: the `kafka-protocol` crate (0.18,
//! generated from Kafka 4.1's specs by other people's generator).
//!
//! For every API and version both support, in both directions (request and response):
//!
//! - random populated messages encoded by us decode in `kafka-protocol`, consuming every byte,
//!   and its encoder gives the same bytes back;
//! - what `kafka-protocol` encodes decodes in ours and re-encodes to the same bytes: its
//!   re-encodings above, and its `Default` message at every version (its own choice of
//!   defaults, not ours).
//!
//! The headers are compared the same way. `KAFKAEX_KP_SEEDS` sets the random messages per case
//! (default 16). Where the two disagree on purpose, [`KNOWN`] says which side the spec proves
//! wrong.

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::{Decodable as _, Encodable as _};
use kafkaex_protocol::messages::testing::{Random, TestRng};
use kafkaex_protocol::messages::{
    decode_request_body, decode_response_body, random_request, random_response, ApiKey,
};
use kafkaex_protocol::Message as _;

fn seeds() -> u64 {
    std::env::var("KAFKAEX_KP_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
}

/// `(API key, version, is request)` cases where the two implementations differ by design, with
/// the reason. Empty: every difference found so far was fixed on the side the spec says is
/// wrong.
const KNOWN: &[(i16, i16, bool, &str)] = &[];

#[derive(Default)]
struct Tally {
    /// `(API, version, request?)` triples compared.
    cases: std::collections::BTreeSet<(i16, i16, bool)>,
    messages: usize,
    /// `kafka-protocol` defaults compared.
    defaults: usize,
    failures: Vec<String>,
    failed: std::collections::BTreeSet<(i16, i16, bool)>,
    /// Versions `kafka-protocol`'s `ApiKey::valid_versions` lists but its message type refuses.
    theirs_refused: std::collections::BTreeSet<String>,
}

impl Tally {
    /// Records the first difference of a case.
    fn fail(&mut self, key: (i16, i16, bool), what: String) {
        if KNOWN.iter().any(|k| (k.0, k.1, k.2) == key) || self.failed.contains(&key) {
            return;
        }
        self.failed.insert(key);
        self.failures.push(what);
    }
}

/// Their bytes for our encoding of a body: decode in `kafka-protocol`, check it consumed
/// everything, re-encode.
fn theirs_reencode(
    api: kafka_protocol::messages::ApiKey,
    request: bool,
    version: i16,
    bytes: &Bytes,
) -> Result<Bytes, String> {
    let mut input = bytes.clone();
    let mut out = BytesMut::new();
    if request {
        let m = kafka_protocol::messages::RequestKind::decode(api, &mut input, version)
            .map_err(|e| format!("kafka-protocol cannot decode it: {e:#}"))?;
        if !input.is_empty() {
            return Err(format!("kafka-protocol left {} bytes", input.len()));
        }
        m.encode(&mut out, version)
            .map_err(|e| format!("kafka-protocol cannot re-encode it: {e:#}"))?;
    } else {
        let m = kafka_protocol::messages::ResponseKind::decode(api, &mut input, version)
            .map_err(|e| format!("kafka-protocol cannot decode it: {e:#}"))?;
        if !input.is_empty() {
            return Err(format!("kafka-protocol left {} bytes", input.len()));
        }
        m.encode(&mut out, version)
            .map_err(|e| format!("kafka-protocol cannot re-encode it: {e:#}"))?;
    }
    Ok(out.freeze())
}

/// Our bytes for their encoding of a body.
fn ours_reencode(api: ApiKey, request: bool, version: i16, bytes: &Bytes) -> Result<Bytes, String> {
    let out = if request {
        decode_request_body(api, version, bytes.clone())
            .map_err(|e| format!("we cannot decode it: {e}"))?
            .to_bytes(version)
    } else {
        decode_response_body(api, version, bytes.clone())
            .map_err(|e| format!("we cannot decode it: {e}"))?
            .to_bytes(version)
    };
    Ok(out
        .map_err(|e| format!("we cannot re-encode it: {e}"))?
        .freeze())
}

/// `kafka-protocol`'s default body of `api` at `version`, encoded by it.
fn theirs_default(
    api: kafka_protocol::messages::ApiKey,
    request: bool,
    version: i16,
) -> Result<Bytes, String> {
    let mut out = BytesMut::new();
    let r = if request {
        theirs_default_request(api).encode(&mut out, version)
    } else {
        theirs_default_response(api).encode(&mut out, version)
    };
    r.map_err(|e| format!("{e:#}"))?;
    Ok(out.freeze())
}

#[test]
fn every_shared_api_and_version_gives_the_same_bytes() {
    let mut t = Tally::default();
    let mut not_theirs = Vec::new();
    for &api in ApiKey::ALL {
        let Ok(kp_api) = kafka_protocol::messages::ApiKey::try_from(api.as_i16()) else {
            not_theirs.push(api.name());
            continue;
        };
        let ours = api.valid_versions();
        let theirs = kp_api.valid_versions();
        for version in ours.min.max(theirs.min)..=ours.max.min(theirs.max) {
            for request in [true, false] {
                let key = (api.as_i16(), version, request);
                let what = |s: &str| {
                    format!(
                        "{}{} v{version}: {s}",
                        api.name(),
                        if request { "Request" } else { "Response" }
                    )
                };
                t.cases.insert(key);
                'seeds: for i in 0..seeds() {
                    let seed = (u64::from(api.as_i16() as u16) << 48)
                        ^ (u64::from(version as u16) << 32)
                        ^ (u64::from(request) << 31)
                        ^ i;
                    let mut rng = TestRng::new(seed);
                    let ours_bytes = if request {
                        random_request(api, version, &mut rng).to_bytes(version)
                    } else {
                        random_response(api, version, &mut rng).to_bytes(version)
                    }
                    .expect("a random message encodes")
                    .freeze();
                    t.messages += 1;
                    match theirs_reencode(kp_api, request, version, &ours_bytes) {
                        Ok(b) if b == ours_bytes => {}
                        Ok(b) => t.fail(
                            key,
                            what(&format!(
                                "seed {seed}: kafka-protocol re-encodes our {} bytes as {} different ones\n    ours   {ours_bytes:02x?}\n    theirs {b:02x?}",
                                ours_bytes.len(),
                                b.len()
                            )),
                        ),
                        Err(e) if e.contains("specified version not supported") => {
                            t.theirs_refused.insert(what("listed by ApiKey, refused by the message type"));
                            t.cases.remove(&key);
                            break 'seeds;
                        }
                        Err(e) => t.fail(key, what(&format!("seed {seed}: {e}\n    ours {ours_bytes:02x?}"))),
                    }
                }
                // Their own defaults, encoded by them, read by us. (Their defaults need not be
                // encodable at every version, e.g. a non-null field the version lacks: nothing
                // to compare then.)
                if let Ok(b) = theirs_default(kp_api, request, version) {
                    t.defaults += 1;
                    match ours_reencode(api, request, version, &b) {
                        Ok(again) if again == b => {}
                        Ok(again) => t.fail(
                            key,
                            what(&format!(
                                "kafka-protocol's default: we re-encode {b:02x?} as {again:02x?}"
                            )),
                        ),
                        Err(e) => t.fail(
                            key,
                            what(&format!("kafka-protocol's default {b:02x?}: {e}")),
                        ),
                    }
                }
            }
        }
    }
    // The headers, at the versions both have.
    for version in 1..=2 {
        for i in 0..seeds() {
            let mut rng = TestRng::new(0x4845_4144 ^ (u64::from(version as u16) << 32) ^ i);
            let ours = kafkaex_protocol::messages::RequestHeader::random(&mut rng, version)
                .to_bytes(version)
                .expect("encodes")
                .freeze();
            let mut input = ours.clone();
            let theirs = kafka_protocol::messages::RequestHeader::decode(&mut input, version)
                .expect("kafka-protocol decodes our request header");
            let mut out = BytesMut::new();
            theirs.encode(&mut out, version).expect("re-encodes");
            assert_eq!(out.freeze(), ours, "RequestHeader v{version}");
        }
    }
    for version in 0..=1 {
        for i in 0..seeds() {
            let mut rng = TestRng::new(0x5245_5350 ^ (u64::from(version as u16) << 32) ^ i);
            let ours = kafkaex_protocol::messages::ResponseHeader::random(&mut rng, version)
                .to_bytes(version)
                .expect("encodes")
                .freeze();
            let mut input = ours.clone();
            let theirs = kafka_protocol::messages::ResponseHeader::decode(&mut input, version)
                .expect("kafka-protocol decodes our response header");
            let mut out = BytesMut::new();
            theirs.encode(&mut out, version).expect("re-encodes");
            assert_eq!(out.freeze(), ours, "ResponseHeader v{version}");
        }
    }
    println!(
        "compared {} (API, version, direction) cases: {} random messages of ours, {} defaults of theirs; {} differ; APIs kafka-protocol 0.18 lacks: {}",
        t.cases.len(),
        t.messages,
        t.defaults,
        t.failed.len(),
        not_theirs.join(", ")
    );
    for r in &t.theirs_refused {
        println!("  kafka-protocol: {r}");
    }
    assert!(
        t.failures.is_empty(),
        "{} differences:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
    // Every API both have, at every version both have: far more than a handful.
    assert!(t.cases.len() > 500, "only {} cases", t.cases.len());
}

/// `kafka-protocol`'s default request body of `api` (its own defaults, not ours).
fn theirs_default_request(
    api: kafka_protocol::messages::ApiKey,
) -> kafka_protocol::messages::RequestKind {
    use kafka_protocol::messages::*;
    match api {
        ApiKey::Produce => RequestKind::Produce(ProduceRequest::default()),
        ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default()),
        ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default()),
        ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default()),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default()),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(OffsetFetchRequest::default()),
        ApiKey::FindCoordinator => RequestKind::FindCoordinator(FindCoordinatorRequest::default()),
        ApiKey::JoinGroup => RequestKind::JoinGroup(JoinGroupRequest::default()),
        ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
        ApiKey::SyncGroup => RequestKind::SyncGroup(SyncGroupRequest::default()),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(DescribeGroupsRequest::default()),
        ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
        ApiKey::SaslHandshake => RequestKind::SaslHandshake(SaslHandshakeRequest::default()),
        ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default()),
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(DeleteTopicsRequest::default()),
        ApiKey::DeleteRecords => RequestKind::DeleteRecords(DeleteRecordsRequest::default()),
        ApiKey::InitProducerId => RequestKind::InitProducerId(InitProducerIdRequest::default()),
        ApiKey::OffsetForLeaderEpoch => {
            RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default())
        }
        ApiKey::AddPartitionsToTxn => {
            RequestKind::AddPartitionsToTxn(AddPartitionsToTxnRequest::default())
        }
        ApiKey::AddOffsetsToTxn => RequestKind::AddOffsetsToTxn(AddOffsetsToTxnRequest::default()),
        ApiKey::EndTxn => RequestKind::EndTxn(EndTxnRequest::default()),
        ApiKey::WriteTxnMarkers => RequestKind::WriteTxnMarkers(WriteTxnMarkersRequest::default()),
        ApiKey::TxnOffsetCommit => RequestKind::TxnOffsetCommit(TxnOffsetCommitRequest::default()),
        ApiKey::DescribeAcls => RequestKind::DescribeAcls(DescribeAclsRequest::default()),
        ApiKey::CreateAcls => RequestKind::CreateAcls(CreateAclsRequest::default()),
        ApiKey::DeleteAcls => RequestKind::DeleteAcls(DeleteAclsRequest::default()),
        ApiKey::DescribeConfigs => RequestKind::DescribeConfigs(DescribeConfigsRequest::default()),
        ApiKey::AlterConfigs => RequestKind::AlterConfigs(AlterConfigsRequest::default()),
        ApiKey::AlterReplicaLogDirs => {
            RequestKind::AlterReplicaLogDirs(AlterReplicaLogDirsRequest::default())
        }
        ApiKey::DescribeLogDirs => RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default()),
        ApiKey::SaslAuthenticate => {
            RequestKind::SaslAuthenticate(SaslAuthenticateRequest::default())
        }
        ApiKey::CreatePartitions => {
            RequestKind::CreatePartitions(CreatePartitionsRequest::default())
        }
        ApiKey::CreateDelegationToken => {
            RequestKind::CreateDelegationToken(CreateDelegationTokenRequest::default())
        }
        ApiKey::RenewDelegationToken => {
            RequestKind::RenewDelegationToken(RenewDelegationTokenRequest::default())
        }
        ApiKey::ExpireDelegationToken => {
            RequestKind::ExpireDelegationToken(ExpireDelegationTokenRequest::default())
        }
        ApiKey::DescribeDelegationToken => {
            RequestKind::DescribeDelegationToken(DescribeDelegationTokenRequest::default())
        }
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(DeleteGroupsRequest::default()),
        ApiKey::ElectLeaders => RequestKind::ElectLeaders(ElectLeadersRequest::default()),
        ApiKey::IncrementalAlterConfigs => {
            RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default())
        }
        ApiKey::AlterPartitionReassignments => {
            RequestKind::AlterPartitionReassignments(AlterPartitionReassignmentsRequest::default())
        }
        ApiKey::ListPartitionReassignments => {
            RequestKind::ListPartitionReassignments(ListPartitionReassignmentsRequest::default())
        }
        ApiKey::OffsetDelete => RequestKind::OffsetDelete(OffsetDeleteRequest::default()),
        ApiKey::DescribeClientQuotas => {
            RequestKind::DescribeClientQuotas(DescribeClientQuotasRequest::default())
        }
        ApiKey::AlterClientQuotas => {
            RequestKind::AlterClientQuotas(AlterClientQuotasRequest::default())
        }
        ApiKey::DescribeUserScramCredentials => {
            RequestKind::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default())
        }
        ApiKey::AlterUserScramCredentials => {
            RequestKind::AlterUserScramCredentials(AlterUserScramCredentialsRequest::default())
        }
        ApiKey::Vote => RequestKind::Vote(VoteRequest::default()),
        ApiKey::BeginQuorumEpoch => {
            RequestKind::BeginQuorumEpoch(BeginQuorumEpochRequest::default())
        }
        ApiKey::EndQuorumEpoch => RequestKind::EndQuorumEpoch(EndQuorumEpochRequest::default()),
        ApiKey::DescribeQuorum => RequestKind::DescribeQuorum(DescribeQuorumRequest::default()),
        ApiKey::AlterPartition => RequestKind::AlterPartition(AlterPartitionRequest::default()),
        ApiKey::UpdateFeatures => RequestKind::UpdateFeatures(UpdateFeaturesRequest::default()),
        ApiKey::Envelope => RequestKind::Envelope(EnvelopeRequest::default()),
        ApiKey::FetchSnapshot => RequestKind::FetchSnapshot(FetchSnapshotRequest::default()),
        ApiKey::DescribeCluster => RequestKind::DescribeCluster(DescribeClusterRequest::default()),
        ApiKey::DescribeProducers => {
            RequestKind::DescribeProducers(DescribeProducersRequest::default())
        }
        ApiKey::BrokerRegistration => {
            RequestKind::BrokerRegistration(BrokerRegistrationRequest::default())
        }
        ApiKey::BrokerHeartbeat => RequestKind::BrokerHeartbeat(BrokerHeartbeatRequest::default()),
        ApiKey::UnregisterBroker => {
            RequestKind::UnregisterBroker(UnregisterBrokerRequest::default())
        }
        ApiKey::DescribeTransactions => {
            RequestKind::DescribeTransactions(DescribeTransactionsRequest::default())
        }
        ApiKey::ListTransactions => {
            RequestKind::ListTransactions(ListTransactionsRequest::default())
        }
        ApiKey::AllocateProducerIds => {
            RequestKind::AllocateProducerIds(AllocateProducerIdsRequest::default())
        }
        ApiKey::ConsumerGroupHeartbeat => {
            RequestKind::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest::default())
        }
        ApiKey::ConsumerGroupDescribe => {
            RequestKind::ConsumerGroupDescribe(ConsumerGroupDescribeRequest::default())
        }
        ApiKey::ControllerRegistration => {
            RequestKind::ControllerRegistration(ControllerRegistrationRequest::default())
        }
        ApiKey::GetTelemetrySubscriptions => {
            RequestKind::GetTelemetrySubscriptions(GetTelemetrySubscriptionsRequest::default())
        }
        ApiKey::PushTelemetry => RequestKind::PushTelemetry(PushTelemetryRequest::default()),
        ApiKey::AssignReplicasToDirs => {
            RequestKind::AssignReplicasToDirs(AssignReplicasToDirsRequest::default())
        }
        ApiKey::ListConfigResources => {
            RequestKind::ListConfigResources(ListConfigResourcesRequest::default())
        }
        ApiKey::DescribeTopicPartitions => {
            RequestKind::DescribeTopicPartitions(DescribeTopicPartitionsRequest::default())
        }
        ApiKey::ShareGroupHeartbeat => {
            RequestKind::ShareGroupHeartbeat(ShareGroupHeartbeatRequest::default())
        }
        ApiKey::ShareGroupDescribe => {
            RequestKind::ShareGroupDescribe(ShareGroupDescribeRequest::default())
        }
        ApiKey::ShareFetch => RequestKind::ShareFetch(ShareFetchRequest::default()),
        ApiKey::ShareAcknowledge => {
            RequestKind::ShareAcknowledge(ShareAcknowledgeRequest::default())
        }
        ApiKey::AddRaftVoter => RequestKind::AddRaftVoter(AddRaftVoterRequest::default()),
        ApiKey::RemoveRaftVoter => RequestKind::RemoveRaftVoter(RemoveRaftVoterRequest::default()),
        ApiKey::UpdateRaftVoter => RequestKind::UpdateRaftVoter(UpdateRaftVoterRequest::default()),
        ApiKey::InitializeShareGroupState => {
            RequestKind::InitializeShareGroupState(InitializeShareGroupStateRequest::default())
        }
        ApiKey::ReadShareGroupState => {
            RequestKind::ReadShareGroupState(ReadShareGroupStateRequest::default())
        }
        ApiKey::WriteShareGroupState => {
            RequestKind::WriteShareGroupState(WriteShareGroupStateRequest::default())
        }
        ApiKey::DeleteShareGroupState => {
            RequestKind::DeleteShareGroupState(DeleteShareGroupStateRequest::default())
        }
        ApiKey::ReadShareGroupStateSummary => {
            RequestKind::ReadShareGroupStateSummary(ReadShareGroupStateSummaryRequest::default())
        }
        ApiKey::DescribeShareGroupOffsets => {
            RequestKind::DescribeShareGroupOffsets(DescribeShareGroupOffsetsRequest::default())
        }
        ApiKey::AlterShareGroupOffsets => {
            RequestKind::AlterShareGroupOffsets(AlterShareGroupOffsetsRequest::default())
        }
        ApiKey::DeleteShareGroupOffsets => {
            RequestKind::DeleteShareGroupOffsets(DeleteShareGroupOffsetsRequest::default())
        }
    }
}

/// `kafka-protocol`'s default response body of `api`.
fn theirs_default_response(
    api: kafka_protocol::messages::ApiKey,
) -> kafka_protocol::messages::ResponseKind {
    use kafka_protocol::messages::*;
    match api {
        ApiKey::Produce => ResponseKind::Produce(ProduceResponse::default()),
        ApiKey::Fetch => ResponseKind::Fetch(FetchResponse::default()),
        ApiKey::ListOffsets => ResponseKind::ListOffsets(ListOffsetsResponse::default()),
        ApiKey::Metadata => ResponseKind::Metadata(MetadataResponse::default()),
        ApiKey::OffsetCommit => ResponseKind::OffsetCommit(OffsetCommitResponse::default()),
        ApiKey::OffsetFetch => ResponseKind::OffsetFetch(OffsetFetchResponse::default()),
        ApiKey::FindCoordinator => {
            ResponseKind::FindCoordinator(FindCoordinatorResponse::default())
        }
        ApiKey::JoinGroup => ResponseKind::JoinGroup(JoinGroupResponse::default()),
        ApiKey::Heartbeat => ResponseKind::Heartbeat(HeartbeatResponse::default()),
        ApiKey::LeaveGroup => ResponseKind::LeaveGroup(LeaveGroupResponse::default()),
        ApiKey::SyncGroup => ResponseKind::SyncGroup(SyncGroupResponse::default()),
        ApiKey::DescribeGroups => ResponseKind::DescribeGroups(DescribeGroupsResponse::default()),
        ApiKey::ListGroups => ResponseKind::ListGroups(ListGroupsResponse::default()),
        ApiKey::SaslHandshake => ResponseKind::SaslHandshake(SaslHandshakeResponse::default()),
        ApiKey::ApiVersions => ResponseKind::ApiVersions(ApiVersionsResponse::default()),
        ApiKey::CreateTopics => ResponseKind::CreateTopics(CreateTopicsResponse::default()),
        ApiKey::DeleteTopics => ResponseKind::DeleteTopics(DeleteTopicsResponse::default()),
        ApiKey::DeleteRecords => ResponseKind::DeleteRecords(DeleteRecordsResponse::default()),
        ApiKey::InitProducerId => ResponseKind::InitProducerId(InitProducerIdResponse::default()),
        ApiKey::OffsetForLeaderEpoch => {
            ResponseKind::OffsetForLeaderEpoch(OffsetForLeaderEpochResponse::default())
        }
        ApiKey::AddPartitionsToTxn => {
            ResponseKind::AddPartitionsToTxn(AddPartitionsToTxnResponse::default())
        }
        ApiKey::AddOffsetsToTxn => {
            ResponseKind::AddOffsetsToTxn(AddOffsetsToTxnResponse::default())
        }
        ApiKey::EndTxn => ResponseKind::EndTxn(EndTxnResponse::default()),
        ApiKey::WriteTxnMarkers => {
            ResponseKind::WriteTxnMarkers(WriteTxnMarkersResponse::default())
        }
        ApiKey::TxnOffsetCommit => {
            ResponseKind::TxnOffsetCommit(TxnOffsetCommitResponse::default())
        }
        ApiKey::DescribeAcls => ResponseKind::DescribeAcls(DescribeAclsResponse::default()),
        ApiKey::CreateAcls => ResponseKind::CreateAcls(CreateAclsResponse::default()),
        ApiKey::DeleteAcls => ResponseKind::DeleteAcls(DeleteAclsResponse::default()),
        ApiKey::DescribeConfigs => {
            ResponseKind::DescribeConfigs(DescribeConfigsResponse::default())
        }
        ApiKey::AlterConfigs => ResponseKind::AlterConfigs(AlterConfigsResponse::default()),
        ApiKey::AlterReplicaLogDirs => {
            ResponseKind::AlterReplicaLogDirs(AlterReplicaLogDirsResponse::default())
        }
        ApiKey::DescribeLogDirs => {
            ResponseKind::DescribeLogDirs(DescribeLogDirsResponse::default())
        }
        ApiKey::SaslAuthenticate => {
            ResponseKind::SaslAuthenticate(SaslAuthenticateResponse::default())
        }
        ApiKey::CreatePartitions => {
            ResponseKind::CreatePartitions(CreatePartitionsResponse::default())
        }
        ApiKey::CreateDelegationToken => {
            ResponseKind::CreateDelegationToken(CreateDelegationTokenResponse::default())
        }
        ApiKey::RenewDelegationToken => {
            ResponseKind::RenewDelegationToken(RenewDelegationTokenResponse::default())
        }
        ApiKey::ExpireDelegationToken => {
            ResponseKind::ExpireDelegationToken(ExpireDelegationTokenResponse::default())
        }
        ApiKey::DescribeDelegationToken => {
            ResponseKind::DescribeDelegationToken(DescribeDelegationTokenResponse::default())
        }
        ApiKey::DeleteGroups => ResponseKind::DeleteGroups(DeleteGroupsResponse::default()),
        ApiKey::ElectLeaders => ResponseKind::ElectLeaders(ElectLeadersResponse::default()),
        ApiKey::IncrementalAlterConfigs => {
            ResponseKind::IncrementalAlterConfigs(IncrementalAlterConfigsResponse::default())
        }
        ApiKey::AlterPartitionReassignments => {
            ResponseKind::AlterPartitionReassignments(AlterPartitionReassignmentsResponse::default())
        }
        ApiKey::ListPartitionReassignments => {
            ResponseKind::ListPartitionReassignments(ListPartitionReassignmentsResponse::default())
        }
        ApiKey::OffsetDelete => ResponseKind::OffsetDelete(OffsetDeleteResponse::default()),
        ApiKey::DescribeClientQuotas => {
            ResponseKind::DescribeClientQuotas(DescribeClientQuotasResponse::default())
        }
        ApiKey::AlterClientQuotas => {
            ResponseKind::AlterClientQuotas(AlterClientQuotasResponse::default())
        }
        ApiKey::DescribeUserScramCredentials => ResponseKind::DescribeUserScramCredentials(
            DescribeUserScramCredentialsResponse::default(),
        ),
        ApiKey::AlterUserScramCredentials => {
            ResponseKind::AlterUserScramCredentials(AlterUserScramCredentialsResponse::default())
        }
        ApiKey::Vote => ResponseKind::Vote(VoteResponse::default()),
        ApiKey::BeginQuorumEpoch => {
            ResponseKind::BeginQuorumEpoch(BeginQuorumEpochResponse::default())
        }
        ApiKey::EndQuorumEpoch => ResponseKind::EndQuorumEpoch(EndQuorumEpochResponse::default()),
        ApiKey::DescribeQuorum => ResponseKind::DescribeQuorum(DescribeQuorumResponse::default()),
        ApiKey::AlterPartition => ResponseKind::AlterPartition(AlterPartitionResponse::default()),
        ApiKey::UpdateFeatures => ResponseKind::UpdateFeatures(UpdateFeaturesResponse::default()),
        ApiKey::Envelope => ResponseKind::Envelope(EnvelopeResponse::default()),
        ApiKey::FetchSnapshot => ResponseKind::FetchSnapshot(FetchSnapshotResponse::default()),
        ApiKey::DescribeCluster => {
            ResponseKind::DescribeCluster(DescribeClusterResponse::default())
        }
        ApiKey::DescribeProducers => {
            ResponseKind::DescribeProducers(DescribeProducersResponse::default())
        }
        ApiKey::BrokerRegistration => {
            ResponseKind::BrokerRegistration(BrokerRegistrationResponse::default())
        }
        ApiKey::BrokerHeartbeat => {
            ResponseKind::BrokerHeartbeat(BrokerHeartbeatResponse::default())
        }
        ApiKey::UnregisterBroker => {
            ResponseKind::UnregisterBroker(UnregisterBrokerResponse::default())
        }
        ApiKey::DescribeTransactions => {
            ResponseKind::DescribeTransactions(DescribeTransactionsResponse::default())
        }
        ApiKey::ListTransactions => {
            ResponseKind::ListTransactions(ListTransactionsResponse::default())
        }
        ApiKey::AllocateProducerIds => {
            ResponseKind::AllocateProducerIds(AllocateProducerIdsResponse::default())
        }
        ApiKey::ConsumerGroupHeartbeat => {
            ResponseKind::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse::default())
        }
        ApiKey::ConsumerGroupDescribe => {
            ResponseKind::ConsumerGroupDescribe(ConsumerGroupDescribeResponse::default())
        }
        ApiKey::ControllerRegistration => {
            ResponseKind::ControllerRegistration(ControllerRegistrationResponse::default())
        }
        ApiKey::GetTelemetrySubscriptions => {
            ResponseKind::GetTelemetrySubscriptions(GetTelemetrySubscriptionsResponse::default())
        }
        ApiKey::PushTelemetry => ResponseKind::PushTelemetry(PushTelemetryResponse::default()),
        ApiKey::AssignReplicasToDirs => {
            ResponseKind::AssignReplicasToDirs(AssignReplicasToDirsResponse::default())
        }
        ApiKey::ListConfigResources => {
            ResponseKind::ListConfigResources(ListConfigResourcesResponse::default())
        }
        ApiKey::DescribeTopicPartitions => {
            ResponseKind::DescribeTopicPartitions(DescribeTopicPartitionsResponse::default())
        }
        ApiKey::ShareGroupHeartbeat => {
            ResponseKind::ShareGroupHeartbeat(ShareGroupHeartbeatResponse::default())
        }
        ApiKey::ShareGroupDescribe => {
            ResponseKind::ShareGroupDescribe(ShareGroupDescribeResponse::default())
        }
        ApiKey::ShareFetch => ResponseKind::ShareFetch(ShareFetchResponse::default()),
        ApiKey::ShareAcknowledge => {
            ResponseKind::ShareAcknowledge(ShareAcknowledgeResponse::default())
        }
        ApiKey::AddRaftVoter => ResponseKind::AddRaftVoter(AddRaftVoterResponse::default()),
        ApiKey::RemoveRaftVoter => {
            ResponseKind::RemoveRaftVoter(RemoveRaftVoterResponse::default())
        }
        ApiKey::UpdateRaftVoter => {
            ResponseKind::UpdateRaftVoter(UpdateRaftVoterResponse::default())
        }
        ApiKey::InitializeShareGroupState => {
            ResponseKind::InitializeShareGroupState(InitializeShareGroupStateResponse::default())
        }
        ApiKey::ReadShareGroupState => {
            ResponseKind::ReadShareGroupState(ReadShareGroupStateResponse::default())
        }
        ApiKey::WriteShareGroupState => {
            ResponseKind::WriteShareGroupState(WriteShareGroupStateResponse::default())
        }
        ApiKey::DeleteShareGroupState => {
            ResponseKind::DeleteShareGroupState(DeleteShareGroupStateResponse::default())
        }
        ApiKey::ReadShareGroupStateSummary => {
            ResponseKind::ReadShareGroupStateSummary(ReadShareGroupStateSummaryResponse::default())
        }
        ApiKey::DescribeShareGroupOffsets => {
            ResponseKind::DescribeShareGroupOffsets(DescribeShareGroupOffsetsResponse::default())
        }
        ApiKey::AlterShareGroupOffsets => {
            ResponseKind::AlterShareGroupOffsets(AlterShareGroupOffsetsResponse::default())
        }
        ApiKey::DeleteShareGroupOffsets => {
            ResponseKind::DeleteShareGroupOffsets(DeleteShareGroupOffsetsResponse::default())
        }
    }
}

/// Record batches both ways with every codec, over records of every shape (null and empty keys
/// and values, zero to three headers with null values, uneven timestamps): what we encode,
/// `kafka-protocol` decodes to the same records, and the reverse; uncompressed, both encoders
/// write the same bytes.
#[test]
fn record_batches_agree_both_ways_with_every_codec() {
    use kafka_protocol::records as kp;
    use kafkaex_protocol::records::compression::Compression;
    use kafkaex_protocol::records::{DecodeOptions, Record, RecordBatch, RecordHeader};

    const BASE: i64 = 1_700_000_000_000;
    let mut rng = TestRng::new(0x7265_636f_7264);
    let maybe = |rng: &mut TestRng| match rng.below(4) {
        0 => None,
        1 => Some(Bytes::new()),
        _ => Some(rng.bytes()),
    };
    let records: Vec<Record> = (0..200)
        .map(|i| Record {
            offset: i,
            // Ascending: where the first record is not the earliest, the two pick different
            // (equally valid) base timestamps, and the bytes differ for that reason alone.
            timestamp: BASE + i * 1000 + rng.below(1000) as i64,
            key: maybe(&mut rng),
            value: maybe(&mut rng),
            headers: (0..rng.below(4))
                .map(|h| RecordHeader::new(format!("h{h}-é"), maybe(&mut rng)))
                .collect(),
            ..Record::default()
        })
        .collect();
    let theirs_records: Vec<kp::Record> = records
        .iter()
        .map(|r| kp::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: kp::TimestampType::Creation,
            offset: r.offset,
            // One batch with base sequence -1 (see kafkaex_benches::Payload).
            sequence: r.offset as i32 - 1,
            timestamp: r.timestamp,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|h| {
                    (
                        kafka_protocol::protocol::StrBytes::from_string(h.key.as_str().to_owned()),
                        h.value.clone(),
                    )
                })
                .collect(),
        })
        .collect();
    let same = |ours: &[Record], theirs: &[kp::Record], what: &str| {
        assert_eq!(ours.len(), theirs.len(), "{what}");
        for (a, b) in ours.iter().zip(theirs) {
            let headers: Vec<(String, Option<Bytes>)> = b
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            let ours_headers: Vec<(String, Option<Bytes>)> = a
                .headers
                .iter()
                .map(|h| (h.key.as_str().to_owned(), h.value.clone()))
                .collect();
            assert_eq!(
                (a.offset, a.timestamp, &a.key, &a.value, ours_headers),
                (b.offset, b.timestamp, &b.key, &b.value, headers),
                "{what}"
            );
        }
    };
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut batch = RecordBatch::new(records.clone());
        batch.compression = codec;
        let ours = batch.to_bytes().expect("we encode");
        let mut buf = ours.clone();
        let set = kp::RecordBatchDecoder::decode(&mut buf).expect("kafka-protocol decodes ours");
        same(
            &batch.records,
            &set.records,
            &format!("ours -> theirs, {codec:?}"),
        );

        let mut theirs = BytesMut::new();
        kp::RecordBatchEncoder::encode(
            &mut theirs,
            &theirs_records,
            &kp::RecordEncodeOptions {
                version: 2,
                compression: kafkaex_benches::kafka_protocol_compression(codec),
            },
        )
        .expect("kafka-protocol encodes");
        let theirs = theirs.freeze();
        let back = RecordBatch::decode(&mut theirs.clone(), &DecodeOptions::default())
            .expect("we decode theirs");
        same(
            &back.records,
            &theirs_records,
            &format!("theirs -> ours, {codec:?}"),
        );
        assert_eq!(back.compression, codec);
        if codec == Compression::None {
            assert!(theirs == ours, "uncompressed batches differ");
        }
    }
}
