//! `Admin` against the KRaft broker, each call checked against what Kafka's own tools
//! (`kafka-topics`, `kafka-configs`, `kafka-consumer-groups`, `kafka-get-offsets`,
//! `kafka-cluster`) report for the same cluster; per-item errors beside successes.

mod common;
mod kafka_tools;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{create_topic, unique, WAIT};
use kafka_tools::KafkaTools;
use kafkaex_client::admin::{
    AlterConfigOp, AlterConfigsOptions, ConfigResource, ConfigSource, CreatePartitionsOptions,
    CreateTopicsOptions, DeleteTopicsOptions, DescribeConfigsOptions, DescribeGroupsOptions,
    ListGroupsOptions, NewPartitions, NewTopic,
};
use kafkaex_client::offsets::{CommitOffset, ListOffsetsOptions, OffsetSpec, TopicPartition};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_protocol::ErrorCode;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile, Brokers};

async fn connect(test: &str) -> Option<(Client, Brokers)> {
    let brokers = test_brokers(BrokerProfile::Kraft, test).await?;
    let client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .client_id("kafkaex-admin-tests")
        .build()
        .await
        .expect("client");
    Some((client, brokers))
}

/// Polls `check` until it holds, for at most [`WAIT`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < give_up, "{what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn topics_created_extended_and_deleted_as_kafka_topics_reports() {
    let test = "topics_created_extended_and_deleted_as_kafka_topics_reports";
    let Some((client, brokers)) = connect(test).await else {
        return;
    };
    let tools = KafkaTools::find(test, "4.4.0", &brokers.bootstrap);
    let admin = client.admin();
    let existing = unique("admin-existing");
    create_topic(&client, &existing, 1, 1, &[]).await;
    let fresh = unique("admin-fresh");
    let assigned = unique("admin-assigned");
    let created = admin
        .create_topics(
            [
                NewTopic::new(&fresh)
                    .partitions(3)
                    .replication_factor(1)
                    .config("retention.ms", "123456789")
                    .config("cleanup.policy", "compact"),
                NewTopic::new(&existing).partitions(1).replication_factor(1),
                NewTopic::new(&assigned).assign(0, [1]).assign(1, [1]),
            ],
            &CreateTopicsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(created.len(), 3);
    let t = created[&fresh].as_ref().unwrap();
    assert_eq!((t.partitions, t.replication_factor), (3, 1));
    assert_eq!(
        t.configs.get("retention.ms"),
        Some(&Some("123456789".to_owned()))
    );
    assert_ne!(t.topic_id, kafkaex_protocol::Uuid::ZERO);
    assert_eq!(created[&assigned].as_ref().unwrap().partitions, 2);
    let err = created[&existing].as_ref().unwrap_err();
    assert_eq!(
        err.kafka_code(),
        Some(ErrorCode::TopicAlreadyExists),
        "{err}"
    );

    // validate_only creates nothing.
    let dry = unique("admin-dry");
    let validated = admin
        .create_topics(
            [NewTopic::new(&dry).partitions(2)],
            &CreateTopicsOptions::default().validate_only(true),
        )
        .await
        .unwrap();
    assert!(validated[&dry].is_ok(), "{validated:?}");

    if let Some(tools) = &tools {
        let (partitions, rf, configs) = tools.describe_topic(&fresh);
        assert_eq!((partitions, rf), (3, 1));
        assert!(configs.contains(&("retention.ms".into(), "123456789".into())));
        assert!(configs.contains(&("cleanup.policy".into(), "compact".into())));
        assert_eq!(tools.describe_topic(&assigned).0, 2);
        let listed = tools.topics();
        assert!(
            listed.contains(&fresh) && !listed.contains(&dry),
            "{listed:?}"
        );
    }

    // More partitions for one topic, fewer (refused) for another: one result each.
    let grown = admin
        .create_partitions(
            [
                (fresh.clone(), NewPartitions::increase_to(5)),
                (assigned.clone(), NewPartitions::increase_to(1)),
            ],
            &CreatePartitionsOptions::default(),
        )
        .await
        .unwrap();
    assert!(grown[&fresh].is_ok(), "{grown:?}");
    assert_eq!(
        grown[&assigned].as_ref().unwrap_err().kafka_code(),
        Some(ErrorCode::InvalidPartitions)
    );
    if let Some(tools) = &tools {
        assert_eq!(tools.describe_topic(&fresh).0, 5);
    }

    let missing = unique("admin-missing");
    let deleted = admin
        .delete_topics(&[&fresh, &missing], &DeleteTopicsOptions::default())
        .await
        .unwrap();
    assert!(deleted[&fresh].is_ok(), "{deleted:?}");
    assert_eq!(
        deleted[&missing].as_ref().unwrap_err().kafka_code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    if let Some(tools) = &tools {
        eventually("kafka-topics --list still shows the deleted topic", || {
            !tools.topics().contains(&fresh)
        })
        .await;
    }
    admin
        .delete_topics(&[&existing, &assigned], &DeleteTopicsOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn configs_described_and_altered_as_kafka_configs_reports() {
    let test = "configs_described_and_altered_as_kafka_configs_reports";
    let Some((client, brokers)) = connect(test).await else {
        return;
    };
    let tools = KafkaTools::find(test, "4.4.0", &brokers.bootstrap);
    let admin = client.admin();
    let topic = unique("admin-configs");
    create_topic(&client, &topic, 1, 1, &[("cleanup.policy", "compact")]).await;
    let cluster = admin.describe_cluster().await.unwrap();
    let node = cluster.brokers[0].node_id;
    let resource = ConfigResource::topic(&topic);
    let broker = ConfigResource::broker(node);
    let missing = ConfigResource::topic(unique("admin-no-such-topic"));

    let altered = admin
        .incremental_alter_configs(
            [
                (
                    resource.clone(),
                    vec![
                        AlterConfigOp::set("retention.ms", "7200000"),
                        AlterConfigOp::Append("cleanup.policy".into(), "delete".into()),
                    ],
                ),
                (
                    broker.clone(),
                    vec![AlterConfigOp::set(
                        "log.cleaner.io.max.bytes.per.second",
                        "123456789.0",
                    )],
                ),
                (
                    missing.clone(),
                    vec![AlterConfigOp::set("retention.ms", "1")],
                ),
            ],
            &AlterConfigsOptions::default(),
        )
        .await
        .unwrap();
    assert!(altered[&resource].is_ok(), "{altered:?}");
    assert!(altered[&broker].is_ok(), "{altered:?}");
    assert_eq!(
        altered[&missing].as_ref().unwrap_err().kafka_code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );

    let described = admin
        .describe_configs(
            [resource.clone(), broker.clone(), missing.clone()],
            &DescribeConfigsOptions::default(),
        )
        .await
        .unwrap();
    let entries = described[&resource].as_ref().unwrap();
    let get = |name: &str| entries.iter().find(|e| e.name == name).cloned().unwrap();
    assert_eq!(get("retention.ms").value.as_deref(), Some("7200000"));
    assert_eq!(get("retention.ms").source, ConfigSource::DynamicTopic);
    assert_eq!(
        get("cleanup.policy").value.as_deref(),
        Some("compact,delete")
    );
    assert!(get("max.compaction.lag.ms").is_default());
    let broker_entries = described[&broker].as_ref().unwrap();
    let throttle = broker_entries
        .iter()
        .find(|e| e.name == "log.cleaner.io.max.bytes.per.second")
        .unwrap();
    assert_eq!(throttle.source, ConfigSource::DynamicBroker);
    assert_eq!(
        described[&missing].as_ref().unwrap_err().kafka_code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );

    if let Some(tools) = &tools {
        let dynamic = tools.dynamic_configs("topics", &topic);
        assert!(
            dynamic.contains(&("retention.ms".into(), "7200000".into())),
            "{dynamic:?}"
        );
        assert!(
            dynamic.contains(&("cleanup.policy".into(), "compact,delete".into())),
            "{dynamic:?}"
        );
        let on_broker = tools.dynamic_configs("brokers", &node.to_string());
        let value = on_broker
            .iter()
            .find(|(k, _)| k == "log.cleaner.io.max.bytes.per.second")
            .map(|(_, v)| v.parse::<f64>().unwrap());
        assert_eq!(value, Some(123_456_789.0), "{on_broker:?}");
    }

    // SUBTRACT and DELETE undo it; the tool sees them gone.
    let undone = admin
        .incremental_alter_configs(
            [
                (
                    resource.clone(),
                    vec![
                        AlterConfigOp::delete("retention.ms"),
                        AlterConfigOp::Subtract("cleanup.policy".into(), "compact".into()),
                    ],
                ),
                (
                    broker.clone(),
                    vec![AlterConfigOp::delete("log.cleaner.io.max.bytes.per.second")],
                ),
            ],
            &AlterConfigsOptions::default(),
        )
        .await
        .unwrap();
    assert!(undone.values().all(Result::is_ok), "{undone:?}");
    if let Some(tools) = &tools {
        let dynamic = tools.dynamic_configs("topics", &topic);
        assert_eq!(
            dynamic,
            vec![("cleanup.policy".to_owned(), "delete".to_owned())]
        );
        assert!(!tools
            .dynamic_configs("brokers", &node.to_string())
            .iter()
            .any(|(k, _)| k == "log.cleaner.io.max.bytes.per.second"));
    }
}

#[tokio::test]
async fn cluster_described_as_kafka_cluster_reports() {
    let test = "cluster_described_as_kafka_cluster_reports";
    let Some((client, brokers)) = connect(test).await else {
        return;
    };
    let cluster = client.admin().describe_cluster().await.unwrap();
    assert!(!cluster.brokers.is_empty());
    assert!(cluster.controller_id.is_some());
    let bootstrap = &brokers.bootstrap[0];
    assert!(
        cluster
            .brokers
            .iter()
            .any(|b| format!("{}:{}", b.host, b.port) == *bootstrap && !b.fenced),
        "{cluster:?}"
    );
    assert_eq!(
        client.metadata().cluster_id(),
        Some(cluster.cluster_id.as_str())
    );
    if let Some(tools) = KafkaTools::find(test, "4.4.0", &brokers.bootstrap) {
        assert_eq!(tools.cluster_id(), cluster.cluster_id);
    }
}

#[tokio::test]
async fn groups_and_their_offsets_as_kafka_consumer_groups_reports() {
    let test = "groups_and_their_offsets_as_kafka_consumer_groups_reports";
    let Some((client, brokers)) = connect(test).await else {
        return;
    };
    let tools = KafkaTools::find(test, "4.4.0", &brokers.bootstrap);
    let admin = client.admin();
    let topic = unique("admin-groups");
    create_topic(&client, &topic, 3, 1, &[]).await;
    let g1 = unique("admin-g1");
    let g2 = unique("admin-g2");
    let missing = unique("admin-no-group");
    for (group, base) in [(&g1, 10), (&g2, 20)] {
        let set = admin
            .alter_group_offsets(
                group,
                (0..3).map(|p| {
                    (
                        TopicPartition::new(&topic, p),
                        CommitOffset::new(base + i64::from(p)),
                    )
                }),
            )
            .await
            .unwrap();
        assert!(set.values().all(Result::is_ok), "{set:?}");
    }

    let listed = admin
        .list_groups(&ListGroupsOptions::default())
        .await
        .unwrap();
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
    let ids: Vec<&str> = listed.groups.iter().map(|g| g.group_id.as_str()).collect();
    assert!(ids.contains(&g1.as_str()) && ids.contains(&g2.as_str()));
    let empty = admin
        .list_groups(&ListGroupsOptions::default().states(["Empty"]))
        .await
        .unwrap();
    assert!(empty.groups.iter().any(|g| g.group_id == g1));
    let stable = admin
        .list_groups(&ListGroupsOptions::default().states(["Stable"]))
        .await
        .unwrap();
    assert!(!stable.groups.iter().any(|g| g.group_id == g1));
    if let Some(tools) = &tools {
        let from_tool = tools.groups();
        assert!(
            from_tool.contains(&g1) && from_tool.contains(&g2),
            "{from_tool:?}"
        );
    }

    let described = admin
        .describe_groups(&[&g1, &g2, &missing], &DescribeGroupsOptions::default())
        .await
        .unwrap();
    let d1 = described[&g1].as_ref().unwrap();
    assert_eq!(d1.state, "Empty");
    assert!(d1.members.is_empty());
    assert!(described[&g2].is_ok());
    assert_eq!(
        described[&missing].as_ref().unwrap_err().kafka_code(),
        Some(ErrorCode::GroupIdNotFound)
    );

    let offsets = admin.list_group_offsets(&g1).await.unwrap();
    let offsets: Vec<(String, i32, Option<i64>)> = offsets
        .into_iter()
        .map(|(tp, r)| (tp.topic, tp.partition, r.unwrap().map(|c| c.offset)))
        .collect();
    assert_eq!(
        offsets,
        (0..3)
            .map(|p| (topic.clone(), p, Some(10 + i64::from(p))))
            .collect::<Vec<_>>()
    );
    if let Some(tools) = &tools {
        assert_eq!(tools.group_offsets(&g1), offsets);
    }

    // Delete one partition's offset (and one of a partition never committed: no error, as
    // Kafka deletes nothing there).
    let removed = admin
        .delete_group_offsets(&g1, &[TopicPartition::new(&topic, 1)])
        .await
        .unwrap();
    assert!(removed.values().all(Result::is_ok), "{removed:?}");
    let left = admin.list_group_offsets(&g1).await.unwrap();
    assert_eq!(
        left.keys().map(|tp| tp.partition).collect::<Vec<_>>(),
        vec![0, 2]
    );
    if let Some(tools) = &tools {
        let rows = tools.group_offsets(&g1);
        assert_eq!(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            vec![0, 2],
            "{rows:?}"
        );
    }

    let deleted = admin.delete_groups(&[&g1, &missing]).await.unwrap();
    assert!(deleted[&g1].is_ok(), "{deleted:?}");
    assert_eq!(
        deleted[&missing].as_ref().unwrap_err().kafka_code(),
        Some(ErrorCode::GroupIdNotFound)
    );
    if let Some(tools) = &tools {
        let from_tool = tools.groups();
        assert!(
            !from_tool.contains(&g1) && from_tool.contains(&g2),
            "{from_tool:?}"
        );
    }
    admin.delete_groups(&[&g2]).await.unwrap();
}

#[tokio::test]
async fn delete_records_moves_the_log_start_as_kafka_get_offsets_reports() {
    let test = "delete_records_moves_the_log_start_as_kafka_get_offsets_reports";
    let Some((client, brokers)) = connect(test).await else {
        return;
    };
    let admin = client.admin();
    let topic = unique("admin-delete-records");
    create_topic(&client, &topic, 2, 1, &[]).await;
    let producer = client.producer().build().await.unwrap();
    for i in 0..10 {
        for p in 0..2 {
            producer
                .send(
                    ProducerRecord::new(topic.clone())
                        .partition(p)
                        .value(format!("v{i}")),
                )
                .await
                .unwrap()
                .await
                .unwrap();
        }
    }
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);
    let missing = TopicPartition::new(&topic, 7);
    let deleted = admin
        .delete_records([(p0.clone(), 4), (p1.clone(), -1), (missing.clone(), 1)])
        .await
        .unwrap();
    assert_eq!(*deleted[&p0].as_ref().unwrap(), 4);
    assert_eq!(
        *deleted[&p1].as_ref().unwrap(),
        10,
        "-1: up to the high watermark"
    );
    assert_eq!(
        deleted[&missing].as_ref().unwrap_err().kafka_code(),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    let earliest = admin
        .list_offsets(
            [
                (p0.clone(), OffsetSpec::Earliest),
                (p1.clone(), OffsetSpec::Earliest),
            ],
            &ListOffsetsOptions::default(),
        )
        .await
        .unwrap();
    let earliest: BTreeMap<i32, i64> = earliest
        .into_iter()
        .map(|(tp, r)| (tp.partition, r.unwrap().offset))
        .collect();
    assert_eq!(earliest, BTreeMap::from([(0, 4), (1, 10)]));
    if let Some(tools) = KafkaTools::find(test, "4.4.0", &brokers.bootstrap) {
        assert_eq!(tools.offsets(&topic, "-2"), vec![(0, 4), (1, 10)]);
    }
}
