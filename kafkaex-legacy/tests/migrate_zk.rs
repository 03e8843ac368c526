//! The offset migration tool against a ZooKeeper-mode broker (`zk`: Kafka 3.9): v0 offsets of
//! three groups migrated to Kafka storage and read back at v1, v2 and v3; dry runs change
//! nothing; newer Kafka offsets kept without force; active groups refused; rollback; the
//! `kafkaex` binary's exit codes and JSON.

mod common_migrate;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common_migrate::{
    cli, commit, connect, create_topic, fetch, json_rows, offsets_args, partitions_of, unique,
    Offset, WAIT,
};
use kafkaex_client::group::GroupEvent;
use kafkaex_client::offsets::TopicPartition;
use kafkaex_client::Client;
use kafkaex_legacy::migrate::{
    self, Action, ApplyOptions, Direction, MigrateError, Migration, Mode, Status,
};
use kafkaex_testkit::provider::BrokerProfile;
use tokio::sync::{oneshot, Notify};

/// Offsets for `group`: partition p of the i-th topic at 100 * (i + 1) + 10 * g + p, with a
/// metadata string naming it.
fn offsets_for(
    partitions: &[TopicPartition],
    g: i64,
    group: &str,
) -> BTreeMap<TopicPartition, Offset> {
    partitions
        .iter()
        .enumerate()
        .map(|(i, tp)| {
            let offset = 100 * (i as i64 + 1) + 10 * g + i64::from(tp.partition);
            (tp.clone(), (offset, Some(format!("{group} {tp} ✓"))))
        })
        .collect()
}

/// Both storages of every group: (v0, v3) fetches.
async fn both_storages(
    client: &Client,
    groups: &[String],
    partitions: &[TopicPartition],
) -> Vec<(
    BTreeMap<TopicPartition, Option<Offset>>,
    BTreeMap<TopicPartition, Option<Offset>>,
)> {
    let mut out = Vec::new();
    for g in groups {
        out.push((
            fetch(client, g, partitions, 0).await,
            fetch(client, g, partitions, 3).await,
        ));
    }
    out
}

#[tokio::test]
async fn migrates_three_groups_and_every_kafka_version_reads_the_zookeeper_offsets() {
    let test = "migrates_three_groups_and_every_kafka_version_reads_the_zookeeper_offsets";
    let Some((client, brokers)) = connect(BrokerProfile::Zk, test).await else {
        return;
    };
    let a = unique("mig-a");
    let b = unique("mig-b");
    create_topic(&client, &a, 2).await;
    create_topic(&client, &b, 2).await;
    let partitions = partitions_of(&[&a, &b], 2);
    let groups: Vec<String> = (0..3).map(|i| unique(&format!("mig-g{i}"))).collect();
    for (i, g) in groups.iter().enumerate() {
        commit(&client, g, &offsets_for(&partitions, i as i64, g), 0).await;
    }
    let before = both_storages(&client, &groups, &partitions).await;
    for (i, (zk, kafka)) in before.iter().enumerate() {
        for (tp, (offset, _)) in offsets_for(&partitions, i as i64, &groups[i]) {
            // ZooKeeper storage keeps the offset only: the broker drops a v0 commit's metadata.
            assert_eq!(
                zk[&tp],
                Some((offset, None)),
                "{} {tp} in ZooKeeper",
                groups[i]
            );
            // The v0 offsets are invisible to v1+ (KafkaEx's "offset loss").
            assert_eq!(kafka[&tp], None, "{} {tp} in Kafka", groups[i]);
        }
    }
    let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    let migration = Migration::new(Direction::Migrate, groups.iter().cloned()).topics([&a, &b]);

    // Dry runs (the library's and the binary's) show the copy and change nothing.
    let plan = migrate::plan(&client, &migration, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(plan.mode, Mode::DryRun);
    assert_eq!(plan.summary.partitions, 12, "{}", plan.to_table());
    assert!(plan.is_success());
    for (group, p) in plan.rows() {
        assert_eq!(
            (p.action, p.status, p.written),
            (Action::Copy, Status::Planned, false),
            "{group} {}-{}",
            p.topic,
            p.partition
        );
        assert!(p.zookeeper.is_some() && p.kafka.is_none());
    }
    let dry = cli(offsets_args(
        "migrate",
        &brokers,
        &group_refs,
        &[&a, &b],
        &["--json"],
    ))
    .await;
    assert_eq!(dry.code, 0, "{dry:?}");
    let dry_json = dry.json();
    assert_eq!(dry_json["mode"], "dry_run");
    assert_eq!(json_rows(&dry_json).len(), 12);
    let table = cli(offsets_args("show", &brokers, &group_refs, &[&a, &b], &[])).await;
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("ZOOKEEPER") && table.stdout.contains("copy"));
    assert_eq!(both_storages(&client, &groups, &partitions).await, before);

    // Without a topic list, the partitions come from the cluster's metadata: exactly ours.
    let discovered = migrate::plan(
        &client,
        &Migration::new(Direction::Migrate, [groups[0].clone()]),
        &ApplyOptions::default(),
    )
    .await
    .unwrap();
    let found: Vec<TopicPartition> = discovered
        .rows()
        .map(|(_, p)| TopicPartition::new(p.topic.clone(), p.partition))
        .collect();
    assert_eq!(found, partitions, "{}", discovered.to_table());

    // Migrate with the binary: every partition of every group written and verified.
    let run = cli(offsets_args(
        "migrate",
        &brokers,
        &group_refs,
        &[&a, &b],
        &["--apply", "--json"],
    ))
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["mode"], "apply");
    assert_eq!(report["summary"]["verified"], 12, "{report:#}");
    let rows = json_rows(&report);
    assert_eq!(rows.len(), 12);
    for (key, row) in &rows {
        assert_eq!(row["status"], "verified", "{key:?}: {row}");
        assert_eq!(row["action"], "copy", "{key:?}");
        assert_eq!(row["written"], true, "{key:?}");
        assert_eq!(row["after"], row["zookeeper"], "{key:?}");
    }
    for (i, g) in groups.iter().enumerate() {
        let zk = fetch(&client, g, &partitions, 0).await;
        assert_eq!(zk, before[i].0, "ZooKeeper storage is left as it was");
        for version in [1, 2, 3] {
            assert_eq!(
                fetch(&client, g, &partitions, version).await,
                zk,
                "OffsetFetch v{version} of {g} equals v0 (offsets and metadata)"
            );
        }
    }

    // A re-run changes nothing: every partition is already equal.
    let again = migrate::apply(&client, &migration, &ApplyOptions::default().dry_run(false))
        .await
        .unwrap();
    assert!(again.is_success(), "{}", again.to_table());
    assert!(again.written().is_empty());
    assert!(again
        .rows()
        .all(|(_, p)| p.action == Action::Skip && p.status == Status::Verified));
    let verify = cli(offsets_args(
        "verify",
        &brokers,
        &group_refs,
        &[&a, &b],
        &[],
    ))
    .await;
    assert_eq!(verify.code, 0, "{verify:?}");
    assert!(verify.stdout.contains("verified"));
}

#[tokio::test]
async fn a_newer_kafka_offset_is_kept_without_force_and_overwritten_with_it() {
    let test = "a_newer_kafka_offset_is_kept_without_force_and_overwritten_with_it";
    let Some((client, brokers)) = connect(BrokerProfile::Zk, test).await else {
        return;
    };
    let topic = unique("mig-newer");
    create_topic(&client, &topic, 2).await;
    let group = unique("mig-newer-g");
    let (p0, p1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );
    let zk: BTreeMap<_, _> = [(p0.clone(), (10, None)), (p1.clone(), (10, None))].into();
    commit(&client, &group, &zk, 0).await;
    let kafka: BTreeMap<_, _> = [
        (p0.clone(), (20, Some("newer".to_owned()))),
        (p1.clone(), (5, Some("older".to_owned()))),
    ]
    .into();
    commit(&client, &group, &kafka, 2).await;
    let both = [p0.clone(), p1.clone()];
    let migration = Migration::new(Direction::Migrate, [group.clone()]).topics([&topic]);

    let report = migrate::apply(&client, &migration, &ApplyOptions::default().dry_run(false))
        .await
        .unwrap();
    assert!(!report.is_success());
    let rows: Vec<_> = report.rows().map(|(_, p)| p).collect();
    assert_eq!(
        (rows[0].action, rows[0].status),
        (Action::RefuseNewer, Status::Refused)
    );
    assert!(!rows[0].written);
    assert_eq!(
        (rows[1].action, rows[1].status),
        (Action::Copy, Status::Verified)
    );
    let after = fetch(&client, &group, &both, 2).await;
    assert_eq!(after[&p0], Some((20, Some("newer".to_owned()))), "kept");
    assert_eq!(
        after[&p1],
        Some((10, None)),
        "the older one was copied over"
    );

    // The binary says so with exit code 1, and --force overwrites.
    let refused = cli(offsets_args(
        "migrate",
        &brokers,
        &[&group],
        &[&topic],
        &["--apply"],
    ))
    .await;
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stdout.contains("REFUSED"), "{refused:?}");
    let shown = cli(offsets_args(
        "show",
        &brokers,
        &[&group],
        &[&topic],
        &["--force", "--json"],
    ))
    .await;
    assert_eq!(shown.code, 0, "{shown:?}");
    assert_eq!(
        json_rows(&shown.json())[&(group.clone(), topic.clone(), 0)]["action"],
        "overwrite"
    );
    let forced = cli(offsets_args(
        "migrate",
        &brokers,
        &[&group],
        &[&topic],
        &["--apply", "--force", "--json"],
    ))
    .await;
    assert_eq!(forced.code, 0, "{forced:?}");
    let rows = json_rows(&forced.json());
    let r0 = &rows[&(group.clone(), topic.clone(), 0)];
    assert_eq!(
        (&r0["action"], &r0["status"]),
        (&"overwrite".into(), &"verified".into())
    );
    let r1 = &rows[&(group.clone(), topic.clone(), 1)];
    assert_eq!(
        (&r1["action"], &r1["written"]),
        (&"skip".into(), &false.into())
    );
    let after = fetch(&client, &group, &both, 2).await;
    assert_eq!(after[&p0], Some((10, None)));
}

/// A member of `group` on `topic`, polled on its own task until dropped; `assigned` is
/// notified once it owns partitions.
struct Member {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    async fn join(client: &Client, group: &str, topic: &str) -> Self {
        let mut consumer = client
            .group_consumer(group)
            .subscribe([topic])
            .auto_commit(None)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_millis(500))
            .build()
            .expect("group consumer");
        let assigned = Arc::new(Notify::new());
        let notify = Arc::clone(&assigned);
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => {
                        consumer.close().await;
                        return;
                    }
                    event = consumer.next() => match event {
                        Some(Ok(GroupEvent::Assigned(tps))) if !tps.is_empty() => notify.notify_one(),
                        Some(_) => {}
                        None => return,
                    },
                }
            }
        });
        tokio::time::timeout(WAIT, assigned.notified())
            .await
            .expect("the member was not assigned partitions in time");
        Self {
            stop: Some(stop),
            task,
        }
    }

    async fn leave(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

#[tokio::test]
async fn a_group_with_active_members_is_refused_unless_allowed() {
    let test = "a_group_with_active_members_is_refused_unless_allowed";
    let Some((client, brokers)) = connect(BrokerProfile::Zk, test).await else {
        return;
    };
    let topic = unique("mig-active");
    create_topic(&client, &topic, 2).await;
    let group = unique("mig-active-g");
    let both = partitions_of(&[&topic], 2);
    // Kafka storage holds offsets (committed while the group was empty), ZooKeeper none.
    let kafka: BTreeMap<_, _> = both.iter().map(|tp| (tp.clone(), (7, None))).collect();
    commit(&client, &group, &kafka, 2).await;
    let member = Member::join(&client, &group, &topic).await;

    for direction in [Direction::Migrate, Direction::Rollback] {
        let migration = Migration::new(direction, [group.clone()]).topics([&topic]);
        let err = migrate::apply(&client, &migration, &ApplyOptions::default().dry_run(false))
            .await
            .unwrap_err();
        match &err {
            MigrateError::ActiveMembers { groups } => {
                assert_eq!(groups.len(), 1);
                assert_eq!(
                    (groups[0].group.as_str(), groups[0].members),
                    (group.as_str(), 1)
                );
            }
            other => panic!("{direction:?}: {other}"),
        }
        // The dry run lists the member instead of refusing.
        let plan = migrate::plan(&client, &migration, &ApplyOptions::default())
            .await
            .unwrap();
        assert_eq!(plan.groups[0].members.len(), 1);
    }
    let refused = cli(offsets_args(
        "rollback",
        &brokers,
        &[&group],
        &[&topic],
        &["--apply", "--json"],
    ))
    .await;
    assert_eq!(refused.code, 3, "{refused:?}");
    assert_eq!(refused.json()["error"]["kind"], "active_members");
    assert!(refused.stderr.contains("active members"), "{refused:?}");
    let zk = fetch(&client, &group, &both, 0).await;
    assert!(zk.values().all(Option::is_none), "nothing written: {zk:?}");

    // Allowed, the rollback writes (ZooKeeper storage does not check membership).
    let migration = Migration::new(Direction::Rollback, [group.clone()]).topics([&topic]);
    let report = migrate::apply(
        &client,
        &migration,
        &ApplyOptions::default()
            .dry_run(false)
            .allow_active_members(true),
    )
    .await
    .unwrap();
    assert!(report.is_success(), "{}", report.to_table());
    assert_eq!(report.written().len(), 2);
    let zk = fetch(&client, &group, &both, 0).await;
    assert!(zk.values().all(|o| *o == Some((7, None))), "{zk:?}");
    member.leave().await;
}

#[tokio::test]
async fn rollback_copies_kafka_offsets_back_to_zookeeper() {
    let test = "rollback_copies_kafka_offsets_back_to_zookeeper";
    let Some((client, brokers)) = connect(BrokerProfile::Zk, test).await else {
        return;
    };
    let a = unique("mig-rb-a");
    let b = unique("mig-rb-b");
    create_topic(&client, &a, 2).await;
    create_topic(&client, &b, 2).await;
    let partitions = partitions_of(&[&a, &b], 2);
    let group = unique("mig-rb-g");
    let offsets = offsets_for(&partitions, 4, &group);
    commit(&client, &group, &offsets, 3).await;
    assert!(fetch(&client, &group, &partitions, 0)
        .await
        .values()
        .all(Option::is_none));

    let run = cli(offsets_args(
        "rollback",
        &brokers,
        &[&group],
        &[&a, &b],
        &["--apply", "--json", "--commit-version", "3"],
    ))
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["direction"], "rollback");
    assert_eq!(report["kafka_version"], 3);
    let rows = json_rows(&report);
    assert_eq!(rows.len(), 4);
    for (key, row) in &rows {
        assert_eq!(row["status"], "verified", "{key:?}: {row}");
        assert_eq!(row["after"]["offset"], row["kafka"]["offset"], "{key:?}");
        let detail = row["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("keeps no metadata"), "{key:?}: {detail}");
    }
    let zk = fetch(&client, &group, &partitions, 0).await;
    for (tp, (offset, _)) in &offsets {
        assert_eq!(
            zk[tp],
            Some((*offset, None)),
            "{tp}: v0 reads the rolled-back offset"
        );
    }
    // Kafka storage is left as it was; verifying the rollback finds every offset equal.
    assert_eq!(
        fetch(&client, &group, &partitions, 3).await,
        offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), Some(o.clone())))
            .collect()
    );
    let verify = migrate::verify(
        &client,
        &Migration::new(Direction::Rollback, [group.clone()])
            .topics([&a, &b])
            .kafka_version(3),
    )
    .await
    .unwrap();
    assert!(verify.is_success(), "{}", verify.to_table());
    assert_eq!(verify.summary.verified, 4);
    // The group has Kafka-stored offsets, so the brokers list it: --all-groups finds it.
    let all = cli(vec![
        "offsets".into(),
        "show".into(),
        "--rollback".into(),
        "--all-groups".into(),
        "--bootstrap".into(),
        brokers.bootstrap.join(","),
        "--topic".into(),
        a.clone(),
        "--json".into(),
    ])
    .await;
    assert_eq!(all.code, 0, "{all:?}");
    let rows = json_rows(&all.json());
    let ours: Vec<_> = rows.iter().filter(|((g, _, _), _)| *g == group).collect();
    assert_eq!(ours.len(), 2, "{rows:?}");
    assert!(ours.iter().all(|(_, r)| r["action"] == "skip"), "{ours:?}");
}

#[tokio::test]
async fn the_binary_rejects_bad_arguments() {
    // No broker needed: these fail before connecting.
    let no_group = cli(vec![
        "offsets".into(),
        "migrate".into(),
        "--bootstrap".into(),
        "127.0.0.1:1".into(),
    ])
    .await;
    assert_eq!(no_group.code, 2, "{no_group:?}");
    let both = cli(vec![
        "offsets".into(),
        "show".into(),
        "--group".into(),
        "g".into(),
        "--all-groups".into(),
    ])
    .await;
    assert_eq!(both.code, 2, "{both:?}");
    let no_brokers = cli(vec![
        "offsets".into(),
        "show".into(),
        "--group".into(),
        "g".into(),
    ])
    .await;
    assert_eq!(no_brokers.code, 2, "{no_brokers:?}");
    assert!(no_brokers.stderr.contains("--bootstrap"), "{no_brokers:?}");
    let bad_config = cli(vec![
        "offsets".into(),
        "show".into(),
        "--group".into(),
        "g".into(),
        "--command-config".into(),
        "/nonexistent/kafkaex.properties".into(),
    ])
    .await;
    assert_eq!(bad_config.code, 2, "{bad_config:?}");
}

#[tokio::test]
async fn a_migration_below_kafka_version_2_is_refused_before_anything_is_read() {
    let test = "a_migration_below_kafka_version_2_is_refused_before_anything_is_read";
    let Some((client, _brokers)) = connect(BrokerProfile::Zk, test).await else {
        return;
    };
    let migration = Migration::new(Direction::Migrate, ["g"]).kafka_version(1);
    let err = migrate::plan(&client, &migration, &ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, MigrateError::InvalidArgument(_)), "{err}");
    let err = migrate::apply(
        &client,
        &Migration::new(Direction::Migrate, ["g"]),
        &ApplyOptions::default().batch_size(0),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MigrateError::InvalidArgument(_)), "{err}");
    let err = migrate::plan(
        &client,
        &Migration::new(Direction::Migrate, ["g"]).topics([unique("no-such-topic")]),
        &ApplyOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MigrateError::UnknownTopic { .. }), "{err}");
}
