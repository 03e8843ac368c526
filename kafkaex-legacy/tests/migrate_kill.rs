//! A broker killed in the middle of a migration: the run reports which partitions moved and
//! fails; after a restart a re-run (the `kafkaex` binary) completes with every partition
//! verified and writes only what had not moved.
//!
//! One test in its own binary: it stops a broker. The profile is `KAFKAEX_MIGRATE_KILL_PROFILE`
//! (`zk` by default, or `legacy`: Kafka 2.5.1, for development while other tests use `zk`);
//! the broker is stopped and started with `$KAFKAEX_XTASK kafka stop-node|start-node
//! <profile> 0`, and always started again (a drop guard) however the test ends.

mod common_migrate;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common_migrate::{
    cli, commit, create_topic, fetch, json_rows, offsets_args, partitions_of, unique,
};
use kafkaex_client::config::ClientConfig;
use kafkaex_client::offsets::TopicPartition;
use kafkaex_client::Client;
use kafkaex_legacy::migrate::{self, Action, ApplyOptions, Direction, Migration, Status};
use kafkaex_testkit::provider::{brokers_required, test_brokers, BrokerProfile};

/// The node id of the ZooKeeper-mode profiles' one broker.
const NODE: &str = "0";

/// Stops the broker on request; starts it again when asked or dropped.
struct Broker {
    xtask: String,
    profile: &'static str,
    stopped: bool,
}

impl Broker {
    fn xtask(&self, what: &str) -> bool {
        let status = Command::new(&self.xtask)
            .args(["kafka", what, self.profile, NODE])
            .status();
        matches!(status, Ok(s) if s.success())
    }

    fn stop(&mut self) {
        self.stopped = true;
        assert!(
            self.xtask("stop-node"),
            "xtask kafka stop-node {} {NODE}",
            self.profile
        );
    }

    fn start(&mut self) {
        assert!(
            self.xtask("start-node"),
            "xtask kafka start-node {} {NODE}",
            self.profile
        );
        self.stopped = false;
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.stopped && !self.xtask("start-node") {
            eprintln!(
                "migrate_kill: could not start {} node {NODE} again: run `xtask kafka start-node {} {NODE}`",
                self.profile, self.profile
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_mid_migration_then_a_re_run_completes_it() {
    let test = "a_broker_killed_mid_migration_then_a_re_run_completes_it";
    let (profile, name) = match std::env::var("KAFKAEX_MIGRATE_KILL_PROFILE").as_deref() {
        Ok("legacy") => (BrokerProfile::Legacy, "legacy"),
        Ok("zk") | Err(_) => (BrokerProfile::Zk, "zk"),
        Ok(other) => panic!("KAFKAEX_MIGRATE_KILL_PROFILE={other}: zk or legacy"),
    };
    let Some(brokers) = test_brokers(profile, test).await else {
        return;
    };
    let Ok(xtask) = std::env::var("KAFKAEX_XTASK") else {
        assert!(!brokers_required(), "{test}: KAFKAEX_XTASK is not set");
        eprintln!("SKIPPED {test}: KAFKAEX_XTASK is not set (it stops and starts the broker)");
        return;
    };
    // Short retries: a commit to the stopped broker fails after 5 s, not 30.
    let mut config = ClientConfig::default();
    config.bootstrap = brokers.bootstrap.clone();
    config.allow_auto_topic_creation = false;
    config.net.retry.deadline = Duration::from_secs(5);
    config.net.request_timeout = Duration::from_secs(5);
    config.net.connect_timeout = Duration::from_secs(2);
    let client = Client::connect(config).await.expect("client");

    let topic = unique("mig-kill");
    create_topic(&client, &topic, 6).await;
    let partitions = partitions_of(&[&topic], 6);
    let group = unique("mig-kill-g");
    let offsets: BTreeMap<TopicPartition, (i64, Option<String>)> = partitions
        .iter()
        .map(|tp| (tp.clone(), (1000 + i64::from(tp.partition), None)))
        .collect();
    commit(&client, &group, &offsets, 0).await;

    let mut broker = Broker {
        xtask,
        profile: name,
        stopped: false,
    };
    let migration = Migration::new(Direction::Migrate, [group.clone()]).topics([&topic]);
    let options = ApplyOptions::default().dry_run(false).batch_size(1);
    let mut seen = Vec::new();
    let report = migrate::apply_with_progress(&client, &migration, &options, |p| {
        seen.push((p.done, p.written.clone(), p.failed.clone()));
        if p.done == 3 && !broker.stopped {
            // Deterministic: the fourth commit is sent only after the broker is down.
            tokio::task::block_in_place(|| broker.stop());
        }
    })
    .await
    .expect("the run reports per partition");
    assert!(broker.stopped);
    let rows: Vec<_> = report.rows().map(|(_, p)| p).collect();
    let table = report.to_table();
    assert!(!report.is_success(), "{table}");
    let moved: Vec<i32> = report.written().iter().map(|(_, _, p)| *p).collect();
    assert_eq!(moved, vec![0, 1, 2], "{table}");
    for p in &rows[..3] {
        // Written, but the broker was gone before they could be read back.
        assert_eq!(p.status, Status::Unverified, "{table}");
    }
    assert_eq!(rows[3].status, Status::Failed, "{table}");
    assert!(rows[3].error.is_some() && !rows[3].written, "{table}");
    for p in &rows[4..] {
        assert_eq!(p.status, Status::NotAttempted, "{table}");
    }
    assert_eq!(report.summary.written, 3);
    assert_eq!(
        seen.len(),
        4,
        "three commits, one failure, then it stopped: {seen:?}"
    );
    assert_eq!(seen[3].2, vec![TopicPartition::new(&topic, 3)]);

    broker.start();
    let rerun = cli(offsets_args(
        "migrate",
        &brokers,
        &[&group],
        &[&topic],
        &["--apply", "--json"],
    ))
    .await;
    assert_eq!(rerun.code, 0, "{rerun:?}");
    let json = rerun.json();
    let rows = json_rows(&json);
    assert_eq!(rows.len(), 6);
    for ((_, _, p), row) in &rows {
        assert_eq!(row["status"], "verified", "partition {p}: {row}");
        let moved_before = *p < 3;
        assert_eq!(
            row["written"], !moved_before,
            "partition {p} written once: {row}"
        );
        let action = if moved_before { "skip" } else { "copy" };
        assert_eq!(row["action"], action, "partition {p}: {row}");
    }
    assert_eq!(json["summary"]["written"], 3);
    let kafka = fetch(&client, &group, &partitions, 2).await;
    let expected: BTreeMap<TopicPartition, Option<(i64, Option<String>)>> =
        offsets.into_iter().map(|(tp, o)| (tp, Some(o))).collect();
    assert_eq!(kafka, expected);
    // And a library run now finds nothing to do.
    let again = migrate::apply(&client, &migration, &options).await.unwrap();
    assert!(again.is_success() && again.written().is_empty());
    assert!(again.rows().all(|(_, p)| p.action == Action::Skip));
}
