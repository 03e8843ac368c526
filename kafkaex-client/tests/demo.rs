//! The README's demo (`examples/demo.rs`, which `cargo xtask demo` runs) as a test against the
//! KRaft broker, so CI runs the flow a user runs first: create a topic, produce keyed records
//! with headers and timestamps, consume them in a consumer group with manual commits, and read
//! the committed offsets back.

// One copy of the flow: the example's `run`, included here; its `main` goes unused.
#[allow(unreachable_pub)]
#[path = "../examples/demo.rs"]
mod demo;

use std::collections::BTreeSet;

use demo::{DemoError, Rebalance};
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};

#[tokio::test]
async fn demo_produces_consumes_in_a_group_and_commits_against_kraft() {
    let test = "demo_produces_consumes_in_a_group_and_commits_against_kraft";
    let Some(brokers) = test_brokers(BrokerProfile::Kraft, test).await else {
        return;
    };
    let suffix = demo::unique_suffix();
    let topic = format!("kafkaex-demo-test-{suffix}");
    let group = format!("kafkaex-demo-test-group-{suffix}");
    let report = match demo::run(&brokers.bootstrap, &topic, &group).await {
        Ok(report) => report,
        Err(DemoError::Mismatch { report, problems }) => {
            panic!("demo mismatches: {problems:#?}\n{report}")
        }
        Err(e) => panic!("demo failed: {e}"),
    };
    // What `main` prints, in the test's output when it fails later.
    println!("{report}");
    assert!(report.problems().is_empty(), "{:?}", report.problems());

    assert_eq!(report.topic, topic);
    assert_eq!(report.partitions, demo::PARTITIONS);
    assert_eq!(report.produced.len(), 9, "{report}");
    assert_eq!(report.consumed.len(), 9, "{report}");

    // The keys spread the records by the default partitioner's hash; a key's records share
    // a partition and keep their order in it.
    for p in &report.produced {
        let same_key: BTreeSet<i32> = report
            .produced
            .iter()
            .filter(|q| q.key == p.key)
            .map(|q| q.partition)
            .collect();
        assert_eq!(
            same_key.len(),
            1,
            "{} on several partitions: {report}",
            p.key
        );
        assert_eq!(p.headers.len(), 2, "{report}");
    }
    let timestamps: Vec<i64> = report.produced.iter().map(|p| p.timestamp).collect();
    assert!(timestamps.windows(2).all(|w| w[0] < w[1]), "{report}");
    for c in &report.consumed {
        assert_eq!(c.timestamp_type, "CreateTime", "{report}");
    }

    // One member: all partitions in one assignment, nothing revoked or lost before close.
    match report.rebalances.as_slice() {
        [Rebalance::Assigned {
            partitions,
            generation,
        }] => {
            assert_eq!(partitions, &[0, 1, 2], "{report}");
            assert!(*generation >= 1, "{report}");
        }
        other => panic!("rebalances {other:?}\n{report}"),
    }
    assert!(!report.member_id.is_empty(), "{report}");
    assert_eq!(report.commits, report.batches, "{report}");

    // Every partition with records committed one past its last record, read back.
    assert_eq!(report.committed, report.expected_commits(), "{report}");
    let committed_total: i64 = report.committed.values().sum();
    assert_eq!(committed_total, 9, "{report}");
}
