//! The offset migration tool against Kafka 4.x (`kraft`): there is no ZooKeeper storage (no
//! OffsetCommit/OffsetFetch v0), and the library and the binary say so and what to do.

mod common_migrate;

use common_migrate::{cli, connect, create_topic, offsets_args, unique};
use kafkaex_legacy::migrate::{self, ApplyOptions, Direction, MigrateError, Migration};
use kafkaex_protocol::ApiKey;
use kafkaex_testkit::provider::BrokerProfile;

fn explains(text: &str) {
    for needle in [
        "no ZooKeeper offset storage",
        "ZooKeeper mode was removed in Kafka 4.0",
        "KIP-896",
        "before it is upgraded",
        "need nothing",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}

#[tokio::test]
async fn the_library_explains_there_is_no_zookeeper_storage() {
    let test = "the_library_explains_there_is_no_zookeeper_storage";
    let Some((client, _brokers)) = connect(BrokerProfile::Kraft, test).await else {
        return;
    };
    let topic = unique("mig-kraft");
    create_topic(&client, &topic, 2).await;
    let group = unique("mig-kraft-g");
    for direction in [Direction::Migrate, Direction::Rollback] {
        let migration = Migration::new(direction, [group.clone()]).topics([&topic]);
        let results = [
            migrate::plan(&client, &migration, &ApplyOptions::default()).await,
            migrate::apply(&client, &migration, &ApplyOptions::default().dry_run(false)).await,
            migrate::verify(&client, &migration).await,
        ];
        for result in results {
            let err = result.unwrap_err();
            match &err {
                MigrateError::NoZooKeeperStorage { api, range, .. } => {
                    assert_eq!(*api, ApiKey::OffsetFetch);
                    let range = range.expect("the broker lists OffsetFetch");
                    assert!(range.min >= 1, "{range:?}");
                }
                other => panic!("{direction:?}: {other}"),
            }
            assert_eq!(err.kind(), "no_zookeeper_storage");
            explains(&err.to_string());
        }
    }
}

#[tokio::test]
async fn the_binary_explains_there_is_no_zookeeper_storage_and_exits_non_zero() {
    let test = "the_binary_explains_there_is_no_zookeeper_storage_and_exits_non_zero";
    let Some((_client, brokers)) = connect(BrokerProfile::Kraft, test).await else {
        return;
    };
    let group = unique("mig-kraft-cli");
    for sub in ["show", "migrate", "rollback", "verify"] {
        let extra: &[&str] = match sub {
            "migrate" | "rollback" => &["--apply"],
            _ => &[],
        };
        let run = cli(offsets_args(sub, &brokers, &[&group], &[], extra)).await;
        assert_eq!(run.code, 3, "{sub}: {run:?}");
        explains(&run.stderr);
        assert!(run.stdout.is_empty(), "{sub}: no table: {run:?}");
    }
    let json = cli(offsets_args(
        "migrate",
        &brokers,
        &[&group],
        &[],
        &["--apply", "--json"],
    ))
    .await;
    assert_eq!(json.code, 3, "{json:?}");
    let value = json.json();
    assert_eq!(value["error"]["kind"], "no_zookeeper_storage");
    explains(value["error"]["message"].as_str().unwrap());
}
