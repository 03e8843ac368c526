//! What each request the client layers use says about itself ([`RoutedRequest`]): its route,
//! read from its own fields; the error codes of its response, with their scope and whether they
//! settle the request as a whole; and whether it is safe to repeat. No broker involved.

use bytes::Bytes;
use kafkaex_net::request::idempotent_api;
use kafkaex_net::{ErrorScope, ResponseError, Route, RoutedRequest, TopicRef};
use kafkaex_protocol::messages::*;
use kafkaex_protocol::records::{Compression, RecordBatchBuilder};
use kafkaex_protocol::{ApiKey, ErrorCode, Uuid};

fn partition(topic: &str, partition: i32) -> ErrorScope {
    ErrorScope::Partition {
        topic: topic.to_owned(),
        partition,
    }
}

fn error(scope: ErrorScope, code: ErrorCode, whole_request: bool) -> ResponseError {
    ResponseError {
        scope,
        code,
        message: None,
        whole_request,
    }
}

/// A one-record batch, from an idempotent producer when `producer_id` is not -1.
fn batch(producer_id: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new(0, 0, Compression::None);
    b.producer(producer_id, 0, 0);
    b.append(0, Some(b"k"), Some(b"v"), &[]).unwrap();
    b.finish().unwrap()
}

fn produce(partitions: &[(&str, i32)], producer_id: i64) -> ProduceRequest {
    let mut topics: Vec<produce_request::TopicProduceData> = Vec::new();
    for (topic, p) in partitions {
        let data = produce_request::PartitionProduceData::default()
            .with_index(*p)
            .with_records(Some(batch(producer_id)));
        match topics.iter_mut().find(|t| t.name == *topic) {
            Some(t) => t.partition_data.push(data),
            None => topics.push(
                produce_request::TopicProduceData::default()
                    .with_name((*topic).to_owned())
                    .with_partition_data(vec![data]),
            ),
        }
    }
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(topics)
}

fn produce_response(results: &[(&str, i32, ErrorCode)]) -> ProduceResponse {
    ProduceResponse::default().with_responses(
        results
            .iter()
            .map(|(t, p, code)| {
                produce_response::TopicProduceResponse::default()
                    .with_name((*t).to_owned())
                    .with_partition_responses(vec![
                        produce_response::PartitionProduceResponse::default()
                            .with_index(*p)
                            .with_error_code(*code),
                    ])
            })
            .collect(),
    )
}

#[test]
fn produce_goes_to_the_leader_of_its_partitions_and_is_idempotent_only_with_a_producer_id() {
    let one = produce(&[("a", 0)], -1);
    assert_eq!(one.route(), Route::leader("a", 0));
    let two = produce(&[("a", 0), ("b", 3)], -1);
    assert_eq!(
        two.route(),
        Route::Leaders(vec![
            (TopicRef::Name("a".into()), 0),
            (TopicRef::Name("b".into()), 3)
        ])
    );
    assert!(
        !one.is_idempotent(),
        "no producer id: a repeat appends twice"
    );
    assert!(produce(&[("a", 0), ("b", 1)], 7).is_idempotent());
    assert!(!ProduceRequest::default().is_idempotent());
    assert!(one.expects_response());
    assert!(!one.clone().with_acks(0).expects_response());
    assert!(one.broker_wait().unwrap() >= std::time::Duration::from_secs(1));

    // The only partition's code settles the request; one of two does not.
    assert_eq!(
        one.errors(&produce_response(&[(
            "a",
            0,
            ErrorCode::NotLeaderOrFollower
        )])),
        vec![error(
            partition("a", 0),
            ErrorCode::NotLeaderOrFollower,
            true
        )]
    );
    assert_eq!(
        two.errors(&produce_response(&[
            ("a", 0, ErrorCode::None),
            ("b", 3, ErrorCode::MessageTooLarge)
        ])),
        vec![error(partition("b", 3), ErrorCode::MessageTooLarge, false)]
    );
    assert!(one
        .errors(&produce_response(&[("a", 0, ErrorCode::None)]))
        .is_empty());
}

#[test]
fn fetch_names_topics_by_id_from_v13_and_has_a_top_level_code() {
    let id = Uuid([9; 16]);
    let by_id = FetchRequest::default().with_topics(vec![fetch_request::FetchTopic::default()
        .with_topic_id(id)
        .with_partitions(vec![
            fetch_request::FetchPartition::default().with_partition(2)
        ])]);
    assert_eq!(by_id.route(), Route::Leaders(vec![(TopicRef::Id(id), 2)]));
    let by_name = FetchRequest::default().with_topics(vec![fetch_request::FetchTopic::default()
        .with_topic("t".into())
        .with_topic_id(id)
        .with_partitions(vec![
            fetch_request::FetchPartition::default().with_partition(0)
        ])]);
    assert_eq!(by_name.route(), Route::leader("t", 0));
    assert!(by_name.is_idempotent());

    let response = FetchResponse::default()
        .with_error_code(ErrorCode::FetchSessionIdNotFound)
        .with_responses(vec![fetch_response::FetchableTopicResponse::default()
            .with_topic_id(id)
            .with_partitions(vec![
                fetch_response::PartitionData::default()
                    .with_partition_index(2)
                    .with_error_code(ErrorCode::OffsetOutOfRange),
                fetch_response::PartitionData::default().with_partition_index(3),
            ])]);
    assert_eq!(
        by_id.errors(&response),
        vec![
            error(
                ErrorScope::Response,
                ErrorCode::FetchSessionIdNotFound,
                true
            ),
            error(
                ErrorScope::PartitionOfTopicId {
                    topic_id: id,
                    partition: 2
                },
                ErrorCode::OffsetOutOfRange,
                false
            ),
        ]
    );
}

#[test]
fn partition_led_requests() {
    let list = ListOffsetsRequest::default().with_topics(vec![
        list_offsets_request::ListOffsetsTopic::default()
            .with_name("t".into())
            .with_partitions(vec![
                list_offsets_request::ListOffsetsPartition::default().with_partition_index(1)
            ]),
    ]);
    assert_eq!(list.route(), Route::leader("t", 1));
    let resp = ListOffsetsResponse::default().with_topics(vec![
        list_offsets_response::ListOffsetsTopicResponse::default()
            .with_name("t".into())
            .with_partitions(vec![
                list_offsets_response::ListOffsetsPartitionResponse::default()
                    .with_partition_index(1)
                    .with_error_code(ErrorCode::FencedLeaderEpoch),
            ]),
    ]);
    assert_eq!(
        list.errors(&resp),
        vec![error(partition("t", 1), ErrorCode::FencedLeaderEpoch, true)]
    );

    let delete = DeleteRecordsRequest::default().with_topics(vec![
        delete_records_request::DeleteRecordsTopic::default()
            .with_name("t".into())
            .with_partitions(vec![
                delete_records_request::DeleteRecordsPartition::default().with_partition_index(4),
            ]),
    ]);
    assert_eq!(delete.route(), Route::leader("t", 4));
    assert!(delete.is_idempotent());
    let resp = DeleteRecordsResponse::default().with_topics(vec![
        delete_records_response::DeleteRecordsTopicResult::default()
            .with_name("t".into())
            .with_partitions(vec![
                delete_records_response::DeleteRecordsPartitionResult::default()
                    .with_partition_index(4)
                    .with_error_code(ErrorCode::OffsetOutOfRange),
            ]),
    ]);
    assert_eq!(
        delete.errors(&resp),
        vec![error(partition("t", 4), ErrorCode::OffsetOutOfRange, true)]
    );

    let epoch = OffsetForLeaderEpochRequest::default().with_topics(vec![
        offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
            .with_topic("t".into())
            .with_partitions(vec![
                offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                    .with_partition(0),
            ]),
    ]);
    assert_eq!(epoch.route(), Route::leader("t", 0));
    let resp = OffsetForLeaderEpochResponse::default().with_topics(vec![
        offset_for_leader_epoch_response::OffsetForLeaderTopicResult::default()
            .with_topic("t".into())
            .with_partitions(vec![
                offset_for_leader_epoch_response::EpochEndOffset::default()
                    .with_partition(0)
                    .with_error_code(ErrorCode::UnknownLeaderEpoch),
            ]),
    ]);
    assert_eq!(
        epoch.errors(&resp),
        vec![error(
            partition("t", 0),
            ErrorCode::UnknownLeaderEpoch,
            true
        )]
    );
}

#[test]
fn metadata_errors_are_answers_about_topics_not_failures_of_the_call() {
    let request = MetadataRequest::default();
    assert_eq!(request.route(), Route::Any);
    let resp = MetadataResponse::default().with_topics(vec![
        metadata_response::MetadataResponseTopic::default()
            .with_name(Some("gone".into()))
            .with_error_code(ErrorCode::UnknownTopicOrPartition),
        metadata_response::MetadataResponseTopic::default()
            .with_name(Some("t".into()))
            .with_partitions(vec![metadata_response::MetadataResponsePartition::default(
            )
            .with_partition_index(1)
            .with_error_code(ErrorCode::LeaderNotAvailable)]),
    ]);
    assert_eq!(
        request.errors(&resp),
        vec![
            error(
                ErrorScope::Topic("gone".into()),
                ErrorCode::UnknownTopicOrPartition,
                false
            ),
            error(partition("t", 1), ErrorCode::LeaderNotAvailable, false),
        ]
    );
}

#[test]
fn any_broker_requests() {
    assert_eq!(ApiVersionsRequest::default().route(), Route::Any);
    assert_eq!(
        ApiVersionsRequest::default()
            .errors(&ApiVersionsResponse::default().with_error_code(ErrorCode::UnsupportedVersion)),
        vec![error(
            ErrorScope::Response,
            ErrorCode::UnsupportedVersion,
            true
        )]
    );
    assert_eq!(DescribeClusterRequest::default().route(), Route::Any);
    let resp = DescribeClusterResponse::default()
        .with_error_code(ErrorCode::ClusterAuthorizationFailed)
        .with_error_message(Some("no".into()));
    assert_eq!(
        DescribeClusterRequest::default().errors(&resp),
        vec![ResponseError {
            scope: ErrorScope::Response,
            code: ErrorCode::ClusterAuthorizationFailed,
            message: Some("no".into()),
            whole_request: true,
        }]
    );
    assert_eq!(ListGroupsRequest::default().route(), Route::Any);
    assert_eq!(
        ListGroupsRequest::default().errors(
            &ListGroupsResponse::default().with_error_code(ErrorCode::CoordinatorLoadInProgress)
        ),
        vec![error(
            ErrorScope::Response,
            ErrorCode::CoordinatorLoadInProgress,
            true
        )]
    );
    assert_eq!(ListTransactionsRequest::default().route(), Route::Any);

    let find =
        FindCoordinatorRequest::default().with_coordinator_keys(vec!["g".into(), "h".into()]);
    assert_eq!(find.route(), Route::Any);
    let resp = FindCoordinatorResponse::default().with_coordinators(vec![
        find_coordinator_response::Coordinator::default().with_key("g".into()),
        find_coordinator_response::Coordinator::default()
            .with_key("h".into())
            .with_error_code(ErrorCode::CoordinatorNotAvailable),
    ]);
    assert_eq!(
        find.errors(&resp),
        vec![error(
            ErrorScope::CoordinatorKey("h".into()),
            ErrorCode::CoordinatorNotAvailable,
            false
        )]
    );
    // v0-3: one key, a top-level code.
    let resp =
        FindCoordinatorResponse::default().with_error_code(ErrorCode::GroupAuthorizationFailed);
    assert_eq!(
        FindCoordinatorRequest::default()
            .with_key("g".into())
            .errors(&resp),
        vec![error(
            ErrorScope::Response,
            ErrorCode::GroupAuthorizationFailed,
            true
        )]
    );
}

#[test]
fn group_requests_go_to_the_coordinator_their_group_id_names() {
    let g = || Route::GroupCoordinator("billing".into());
    let commit = OffsetCommitRequest::default()
        .with_group_id("billing".into())
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name("t".into())
                .with_partitions(vec![
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(0),
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(1),
                ]),
        ]);
    assert_eq!(commit.route(), g());
    assert!(commit.is_idempotent());
    let resp = OffsetCommitResponse::default().with_topics(vec![
        offset_commit_response::OffsetCommitResponseTopic::default()
            .with_name("t".into())
            .with_partitions(vec![
                offset_commit_response::OffsetCommitResponsePartition::default()
                    .with_partition_index(0)
                    .with_error_code(ErrorCode::OffsetMetadataTooLarge),
                offset_commit_response::OffsetCommitResponsePartition::default()
                    .with_partition_index(1),
            ]),
    ]);
    assert_eq!(
        commit.errors(&resp),
        vec![error(
            partition("t", 0),
            ErrorCode::OffsetMetadataTooLarge,
            false
        )]
    );

    // OffsetFetch: the top-level group id up to v7, the first of the batched groups from v8.
    let v7 = OffsetFetchRequest::default().with_group_id("billing".into());
    assert_eq!(v7.route(), g());
    let v8 = OffsetFetchRequest::default().with_groups(vec![
        offset_fetch_request::OffsetFetchRequestGroup::default().with_group_id("billing".into()),
    ]);
    assert_eq!(v8.route(), g());
    let resp = OffsetFetchResponse::default().with_groups(vec![
        offset_fetch_response::OffsetFetchResponseGroup::default()
            .with_group_id("billing".into())
            .with_error_code(ErrorCode::GroupAuthorizationFailed),
    ]);
    assert_eq!(
        v8.errors(&resp),
        vec![error(
            ErrorScope::Group("billing".into()),
            ErrorCode::GroupAuthorizationFailed,
            true
        )]
    );
    assert_eq!(
        v7.errors(&OffsetFetchResponse::default().with_error_code(ErrorCode::NotCoordinator)),
        vec![error(ErrorScope::Response, ErrorCode::NotCoordinator, true)]
    );
    // ZooKeeper storage (v0) answers a partition without a committed offset with
    // UNKNOWN_TOPIC_OR_PARTITION: an answer for the caller, not a reason to retry; other
    // partition codes still are errors.
    let zk = OffsetFetchResponse::default().with_topics(vec![
        offset_fetch_response::OffsetFetchResponseTopic::default()
            .with_name("events".into())
            .with_partitions(vec![
                offset_fetch_response::OffsetFetchResponsePartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(-1)
                    .with_error_code(ErrorCode::UnknownTopicOrPartition),
            ]),
    ]);
    assert_eq!(v7.errors(&zk), vec![]);
    let mut other = zk.clone();
    other.topics[0].partitions[0].error_code = ErrorCode::TopicAuthorizationFailed;
    assert_eq!(
        v7.errors(&other),
        vec![error(
            partition("events", 0),
            ErrorCode::TopicAuthorizationFailed,
            true
        )]
    );

    let join = JoinGroupRequest::default()
        .with_group_id("billing".into())
        .with_rebalance_timeout_ms(300_000)
        .with_session_timeout_ms(45_000);
    assert_eq!(join.route(), g());
    assert!(join.broker_wait().unwrap() > std::time::Duration::from_secs(300));
    // MEMBER_ID_REQUIRED hands the caller the response (its member id); other codes fail.
    assert_eq!(
        join.errors(&JoinGroupResponse::default().with_error_code(ErrorCode::MemberIdRequired)),
        vec![]
    );
    assert_eq!(
        join.errors(&JoinGroupResponse::default().with_error_code(ErrorCode::UnknownMemberId)),
        vec![error(
            ErrorScope::Response,
            ErrorCode::UnknownMemberId,
            true
        )]
    );
    let sync = SyncGroupRequest::default().with_group_id("billing".into());
    assert_eq!(sync.route(), g());
    assert_eq!(
        sync.errors(&SyncGroupResponse::default().with_error_code(ErrorCode::RebalanceInProgress)),
        vec![error(
            ErrorScope::Response,
            ErrorCode::RebalanceInProgress,
            true
        )]
    );
    let heartbeat = HeartbeatRequest::default().with_group_id("billing".into());
    assert_eq!(heartbeat.route(), g());
    assert_eq!(
        heartbeat
            .errors(&HeartbeatResponse::default().with_error_code(ErrorCode::IllegalGeneration)),
        vec![error(
            ErrorScope::Response,
            ErrorCode::IllegalGeneration,
            true
        )]
    );
    let leave = LeaveGroupRequest::default().with_group_id("billing".into());
    assert_eq!(leave.route(), g());
    let resp = LeaveGroupResponse::default().with_members(vec![
        leave_group_response::MemberResponse::default()
            .with_member_id("m-1".into())
            .with_error_code(ErrorCode::UnknownMemberId),
        leave_group_response::MemberResponse::default()
            .with_member_id("m-2".into())
            .with_group_instance_id(Some("pod-2".into())),
    ]);
    assert_eq!(
        leave.errors(&resp),
        vec![error(
            ErrorScope::Member {
                group: "billing".into(),
                member: "m-1".into()
            },
            ErrorCode::UnknownMemberId,
            false
        )]
    );
    let delete_offsets = OffsetDeleteRequest::default().with_group_id("billing".into());
    assert_eq!(delete_offsets.route(), g());
    assert_eq!(
        delete_offsets.errors(
            &OffsetDeleteResponse::default().with_error_code(ErrorCode::GroupSubscribedToTopic)
        ),
        vec![error(
            ErrorScope::Response,
            ErrorCode::GroupSubscribedToTopic,
            true
        )]
    );

    let describe =
        DescribeGroupsRequest::default().with_groups(vec!["billing".into(), "other".into()]);
    assert_eq!(describe.route(), g());
    let resp = DescribeGroupsResponse::default().with_groups(vec![
        describe_groups_response::DescribedGroup::default().with_group_id("billing".into()),
        describe_groups_response::DescribedGroup::default()
            .with_group_id("other".into())
            .with_error_code(ErrorCode::GroupIdNotFound),
    ]);
    assert_eq!(
        describe.errors(&resp),
        vec![error(
            ErrorScope::Group("other".into()),
            ErrorCode::GroupIdNotFound,
            false
        )]
    );
    let delete = DeleteGroupsRequest::default().with_groups_names(vec!["billing".into()]);
    assert_eq!(delete.route(), g());
    assert!(!delete.is_idempotent(), "a repeat says GROUP_ID_NOT_FOUND");
    let resp = DeleteGroupsResponse::default().with_results(vec![
        delete_groups_response::DeletableGroupResult::default()
            .with_group_id("billing".into())
            .with_error_code(ErrorCode::NonEmptyGroup),
    ]);
    assert_eq!(
        delete.errors(&resp),
        vec![error(
            ErrorScope::Group("billing".into()),
            ErrorCode::NonEmptyGroup,
            true
        )]
    );

    let txn_commit = TxnOffsetCommitRequest::default()
        .with_group_id("billing".into())
        .with_transactional_id("tx".into());
    assert_eq!(txn_commit.route(), g());
}

#[test]
fn transaction_requests_go_to_the_coordinator_of_their_transactional_id() {
    let tx = || Route::TransactionCoordinator("tx-1".into());
    assert_eq!(
        InitProducerIdRequest::default()
            .with_transactional_id(Some("tx-1".into()))
            .route(),
        tx()
    );
    // An idempotent producer without a transactional id asks any broker.
    assert_eq!(InitProducerIdRequest::default().route(), Route::Any);
    assert_eq!(
        InitProducerIdRequest::default()
            .errors(&InitProducerIdResponse::default().with_error_code(ErrorCode::ProducerFenced)),
        vec![error(ErrorScope::Response, ErrorCode::ProducerFenced, true)]
    );
    let v3 = AddPartitionsToTxnRequest::default().with_v3_and_below_transactional_id("tx-1".into());
    assert_eq!(v3.route(), tx());
    let v4 = AddPartitionsToTxnRequest::default().with_transactions(vec![
        add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default()
            .with_transactional_id("tx-1".into()),
    ]);
    assert_eq!(v4.route(), tx());
    let resp = AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(vec![
        add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default()
            .with_name("t".into())
            .with_results_by_partition(vec![
                add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default()
                    .with_partition_index(0)
                    .with_partition_error_code(ErrorCode::ConcurrentTransactions),
            ]),
    ]);
    assert_eq!(
        v3.errors(&resp),
        vec![error(
            partition("t", 0),
            ErrorCode::ConcurrentTransactions,
            true
        )]
    );
    let add_offsets = AddOffsetsToTxnRequest::default().with_transactional_id("tx-1".into());
    assert_eq!(add_offsets.route(), tx());
    let end = EndTxnRequest::default().with_transactional_id("tx-1".into());
    assert_eq!(end.route(), tx());
    assert_eq!(
        end.errors(&EndTxnResponse::default().with_error_code(ErrorCode::InvalidTxnState)),
        vec![error(
            ErrorScope::Response,
            ErrorCode::InvalidTxnState,
            true
        )]
    );
    let describe =
        DescribeTransactionsRequest::default().with_transactional_ids(vec!["tx-1".into()]);
    assert_eq!(describe.route(), tx());
    let resp = DescribeTransactionsResponse::default().with_transaction_states(vec![
        describe_transactions_response::TransactionState::default()
            .with_transactional_id("tx-1".into())
            .with_error_code(ErrorCode::TransactionalIdNotFound),
    ]);
    assert_eq!(
        describe.errors(&resp),
        vec![error(
            ErrorScope::Transaction("tx-1".into()),
            ErrorCode::TransactionalIdNotFound,
            true
        )]
    );
}

#[test]
fn admin_requests_go_to_the_controller_or_the_broker_a_resource_names() {
    let create = CreateTopicsRequest::default().with_topics(vec![
        create_topics_request::CreatableTopic::default().with_name("a".into()),
        create_topics_request::CreatableTopic::default().with_name("b".into()),
    ]);
    assert_eq!(create.route(), Route::Controller);
    assert!(
        !create.is_idempotent(),
        "a repeat says TOPIC_ALREADY_EXISTS"
    );
    assert!(create.clone().with_validate_only(true).is_idempotent());
    let resp = CreateTopicsResponse::default().with_topics(vec![
        create_topics_response::CreatableTopicResult::default()
            .with_name("a".into())
            .with_error_code(ErrorCode::TopicAlreadyExists)
            .with_error_message(Some("exists".into())),
        create_topics_response::CreatableTopicResult::default().with_name("b".into()),
    ]);
    assert_eq!(
        create.errors(&resp),
        vec![ResponseError {
            scope: ErrorScope::Topic("a".into()),
            code: ErrorCode::TopicAlreadyExists,
            message: Some("exists".into()),
            whole_request: false,
        }]
    );
    let delete = DeleteTopicsRequest::default().with_topic_names(vec!["a".into()]);
    assert_eq!(delete.route(), Route::Controller);
    assert!(!delete.is_idempotent());
    let id = Uuid([3; 16]);
    let resp = DeleteTopicsResponse::default().with_responses(vec![
        delete_topics_response::DeletableTopicResult::default()
            .with_name(None)
            .with_topic_id(id)
            .with_error_code(ErrorCode::UnknownTopicId),
    ]);
    // A topic that is not there is the answer (a repeat of a delete that went through says
    // so too): nothing to retry.
    assert_eq!(delete.errors(&resp), vec![]);
    let mut by_name = resp.clone();
    by_name.responses[0].name = Some("a".into());
    by_name.responses[0].error_code = ErrorCode::UnknownTopicOrPartition;
    assert_eq!(delete.errors(&by_name), vec![]);
    by_name.responses[0].error_code = ErrorCode::TopicAuthorizationFailed;
    assert_eq!(
        delete.errors(&by_name),
        vec![error(
            ErrorScope::Topic("a".into()),
            ErrorCode::TopicAuthorizationFailed,
            true
        )]
    );
    let partitions = CreatePartitionsRequest::default();
    assert_eq!(partitions.route(), Route::Controller);
    assert!(
        !partitions.is_idempotent(),
        "a repeat says INVALID_PARTITIONS"
    );

    let topic_configs = DescribeConfigsRequest::default().with_resources(vec![
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name("t".into()),
    ]);
    assert_eq!(topic_configs.route(), Route::Any);
    let broker_configs = DescribeConfigsRequest::default().with_resources(vec![
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name("2".into()),
    ]);
    assert_eq!(broker_configs.route(), Route::Node(2));
    let resp = DescribeConfigsResponse::default().with_results(vec![
        describe_configs_response::DescribeConfigsResult::default()
            .with_resource_type(4)
            .with_resource_name("2".into())
            .with_error_code(ErrorCode::InvalidRequest),
    ]);
    assert_eq!(
        broker_configs.errors(&resp),
        vec![error(
            ErrorScope::Resource {
                resource_type: 4,
                name: "2".into()
            },
            ErrorCode::InvalidRequest,
            true
        )]
    );

    let alter = |op: i8| {
        IncrementalAlterConfigsRequest::default().with_resources(vec![
            incremental_alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name("t".into())
                .with_configs(vec![
                    incremental_alter_configs_request::AlterableConfig::default()
                        .with_name("cleanup.policy".into())
                        .with_config_operation(op),
                ]),
        ])
    };
    assert_eq!(alter(0).route(), Route::Any);
    assert!(alter(0).is_idempotent(), "SET");
    assert!(alter(1).is_idempotent(), "DELETE");
    assert!(!alter(2).is_idempotent(), "APPEND adds again");
    assert!(!alter(3).is_idempotent(), "SUBTRACT removes again");
}

#[test]
fn idempotence_by_api() {
    for api in [
        ApiKey::Metadata,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::Heartbeat,
        ApiKey::JoinGroup,
        ApiKey::DescribeGroups,
        ApiKey::InitProducerId,
        ApiKey::EndTxn,
    ] {
        assert!(idempotent_api(api), "{api}");
    }
    for api in [
        ApiKey::Produce,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
        ApiKey::CreatePartitions,
        ApiKey::DeleteGroups,
        ApiKey::IncrementalAlterConfigs,
        ApiKey::AlterConfigs,
        ApiKey::CreateAcls,
    ] {
        assert!(!idempotent_api(api), "{api}");
    }
}

/// The versions that name topics by id (Produce v13, OffsetCommit and OffsetFetch v10,
/// TxnOffsetCommit v6) route and scope by id where the name is absent; the other new versions'
/// error fields (Metadata v13's top-level code, the group messages of DescribeGroups v6 and
/// DeleteGroups v3) are read.
#[test]
fn the_newest_versions_are_read_by_topic_id_and_their_new_error_fields() {
    let id = Uuid([9; 16]);
    let by_id = |partition| ErrorScope::PartitionOfTopicId {
        topic_id: id,
        partition,
    };

    // Produce v13: the request as decoded at v13 (no name), and the response by id.
    let produce = ProduceRequest::default().with_topic_data(vec![
        produce_request::TopicProduceData::default()
            .with_topic_id(id)
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default().with_index(4)
            ]),
    ]);
    assert_eq!(produce.route(), Route::Leaders(vec![(TopicRef::Id(id), 4)]));
    let resp = ProduceResponse::default().with_responses(vec![
        produce_response::TopicProduceResponse::default()
            .with_topic_id(id)
            .with_partition_responses(vec![produce_response::PartitionProduceResponse::default()
                .with_index(4)
                .with_error_code(ErrorCode::UnknownTopicId)]),
    ]);
    assert_eq!(
        produce.errors(&resp),
        vec![error(by_id(4), ErrorCode::UnknownTopicId, true)]
    );
    // Both set (what a caller sends to speak every version): routed by name.
    let both = ProduceRequest::default().with_topic_data(vec![
        produce_request::TopicProduceData::default()
            .with_name("t".into())
            .with_topic_id(id)
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default().with_index(4)
            ]),
    ]);
    assert_eq!(both.route(), Route::leader("t", 4));

    // OffsetCommit v10, OffsetFetch v10, TxnOffsetCommit v6.
    let commit = OffsetCommitRequest::default().with_group_id("g".into());
    let resp = OffsetCommitResponse::default().with_topics(vec![
        offset_commit_response::OffsetCommitResponseTopic::default()
            .with_topic_id(id)
            .with_partitions(vec![
                offset_commit_response::OffsetCommitResponsePartition::default()
                    .with_partition_index(0)
                    .with_error_code(ErrorCode::UnknownTopicId),
                offset_commit_response::OffsetCommitResponsePartition::default()
                    .with_partition_index(1),
            ]),
    ]);
    assert_eq!(
        commit.errors(&resp),
        vec![error(by_id(0), ErrorCode::UnknownTopicId, false)]
    );
    let fetch = OffsetFetchRequest::default().with_groups(vec![
        offset_fetch_request::OffsetFetchRequestGroup::default().with_group_id("g".into()),
    ]);
    let resp = OffsetFetchResponse::default().with_groups(vec![
        offset_fetch_response::OffsetFetchResponseGroup::default()
            .with_group_id("g".into())
            .with_topics(vec![
                offset_fetch_response::OffsetFetchResponseTopics::default()
                    .with_topic_id(id)
                    .with_partitions(vec![
                        offset_fetch_response::OffsetFetchResponsePartitions::default()
                            .with_partition_index(2)
                            .with_error_code(ErrorCode::UnknownTopicId),
                    ]),
            ]),
    ]);
    assert_eq!(
        fetch.errors(&resp),
        vec![error(by_id(2), ErrorCode::UnknownTopicId, true)]
    );
    let txn_commit = TxnOffsetCommitRequest::default().with_group_id("g".into());
    let resp = TxnOffsetCommitResponse::default().with_topics(vec![
        txn_offset_commit_response::TxnOffsetCommitResponseTopic::default()
            .with_topic_id(id)
            .with_partitions(vec![
                txn_offset_commit_response::TxnOffsetCommitResponsePartition::default()
                    .with_partition_index(3)
                    .with_error_code(ErrorCode::UnknownTopicId),
            ]),
    ]);
    assert_eq!(
        txn_commit.errors(&resp),
        vec![error(by_id(3), ErrorCode::UnknownTopicId, true)]
    );

    // Metadata v13's top-level code settles the request; the topics' codes still do not.
    let resp = MetadataResponse::default()
        .with_error_code(ErrorCode::RebootstrapRequired)
        .with_topics(vec![metadata_response::MetadataResponseTopic::default()
            .with_name(Some("gone".into()))
            .with_error_code(ErrorCode::UnknownTopicOrPartition)]);
    assert_eq!(
        MetadataRequest::default().errors(&resp),
        vec![
            error(ErrorScope::Response, ErrorCode::RebootstrapRequired, true),
            error(
                ErrorScope::Topic("gone".into()),
                ErrorCode::UnknownTopicOrPartition,
                false
            ),
        ]
    );

    // DescribeGroups v6 (a group nobody joined is GROUP_ID_NOT_FOUND, KIP-1043) and
    // DeleteGroups v3 carry a message per group.
    let describe = DescribeGroupsRequest::default().with_groups(vec!["g".into()]);
    let resp = DescribeGroupsResponse::default().with_groups(vec![
        describe_groups_response::DescribedGroup::default()
            .with_group_id("g".into())
            .with_group_state("Dead".into())
            .with_error_code(ErrorCode::GroupIdNotFound)
            .with_error_message(Some("Group g not found.".into())),
    ]);
    assert_eq!(
        describe.errors(&resp),
        vec![ResponseError {
            scope: ErrorScope::Group("g".into()),
            code: ErrorCode::GroupIdNotFound,
            message: Some("Group g not found.".into()),
            whole_request: true,
        }]
    );
    let delete = DeleteGroupsRequest::default().with_groups_names(vec!["g".into()]);
    let resp = DeleteGroupsResponse::default().with_results(vec![
        delete_groups_response::DeletableGroupResult::default()
            .with_group_id("g".into())
            .with_error_code(ErrorCode::NonEmptyGroup)
            .with_error_message(Some("The group is not empty.".into())),
    ]);
    assert_eq!(
        delete.errors(&resp)[0].message.as_deref(),
        Some("The group is not empty.")
    );
}

/// A topic without its id limits the version (the last one that names topics by name); with
/// every id set, or with no topic at all, any version goes.
#[test]
fn a_topic_without_its_id_limits_the_version() {
    let id = Uuid([9; 16]);
    let produce = |topic_id| {
        ProduceRequest::default()
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name("t".into())
                .with_topic_id(topic_id)])
    };
    assert_eq!(produce(Uuid::ZERO).max_version(), Some(12));
    assert_eq!(produce(id).max_version(), None);
    assert_eq!(ProduceRequest::default().max_version(), None);
    let fetch = |topic_id| {
        FetchRequest::default().with_topics(vec![
            fetch_request::FetchTopic::default().with_topic_id(topic_id)
        ])
    };
    assert_eq!(fetch(Uuid::ZERO).max_version(), Some(12));
    assert_eq!(fetch(id).max_version(), None);
    let commit = |topic_id| {
        OffsetCommitRequest::default().with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name("t".into())
                .with_topic_id(topic_id),
        ])
    };
    assert_eq!(commit(Uuid::ZERO).max_version(), Some(9));
    assert_eq!(commit(id).max_version(), None);
    let offsets = |topics| {
        OffsetFetchRequest::default().with_groups(vec![
            offset_fetch_request::OffsetFetchRequestGroup::default().with_topics(topics),
        ])
    };
    let topic = |topic_id| {
        offset_fetch_request::OffsetFetchRequestTopics::default()
            .with_name("t".into())
            .with_topic_id(topic_id)
    };
    assert_eq!(
        offsets(Some(vec![topic(id), topic(Uuid::ZERO)])).max_version(),
        Some(9)
    );
    assert_eq!(offsets(Some(vec![topic(id)])).max_version(), None);
    // Every committed topic (null): nothing to name.
    assert_eq!(offsets(None).max_version(), None);
    // The single-group form (v0-7) names topics by name only.
    let single = OffsetFetchRequest::default()
        .with_group_id("g".into())
        .with_topics(Some(vec![
            offset_fetch_request::OffsetFetchRequestTopic::default().with_name("t".into()),
        ]));
    assert_eq!(single.max_version(), None);
    let txn = TxnOffsetCommitRequest::default().with_topics(vec![
        txn_offset_commit_request::TxnOffsetCommitRequestTopic::default().with_name("t".into()),
    ]);
    assert_eq!(txn.max_version(), Some(5));
}
