//! The metadata cache's memory against the size of what it caches (the net-shape issue, 6.5):
//! a bootstrap that asks for no topics caches none, whatever the broker answers, and a full
//! refresh of many topics costs a small multiple of their size on the wire.
//!
//! Its own test binary: it counts every allocation of the process (dhat's testing allocator).

use std::time::Duration;

use kafkaex_net::{Cluster, NetConfig};
use kafkaex_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkaex_protocol::messages::MetadataResponse;
use kafkaex_protocol::{Encodable, Uuid};
use kafkaex_testkit::fake::FakeCluster;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// Enough topics that per-topic costs dominate; the figures were for 100,000 (the
/// ratio is the same, and this keeps the counting allocator's overhead to seconds).
const TOPICS: usize = 20_000;

/// What a broker answers for `TOPICS` single-partition topics `topic-<i>`.
fn big_response() -> MetadataResponse {
    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(1)
            .with_host("127.0.0.1".into())
            .with_port(1)])
        .with_topics(
            (0..TOPICS)
                .map(|i| {
                    MetadataResponseTopic::default()
                        .with_name(Some(format!("topic-{i}")))
                        .with_topic_id(Uuid((i as u128 + 1).to_be_bytes()))
                        .with_partitions(vec![MetadataResponsePartition::default()
                            .with_leader_id(1)
                            .with_leader_epoch(0)
                            .with_replica_nodes(vec![1])
                            .with_isr_nodes(vec![1])])
                })
                .collect(),
        )
}

fn live_bytes() -> usize {
    dhat::HeapStats::get().curr_bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_costs_a_small_multiple_of_its_wire_size() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let wire = big_response().encoded_len(12).unwrap();

    // A broker that answers every Metadata request, even one for no topics, with all of them
    // (as Metadata v0 does for an empty list).
    let fake = FakeCluster::builder()
        .topics("topic-", TOPICS, 1)
        .metadata_lists_all_topics(true)
        .start()
        .await;

    let before = live_bytes();
    let cluster = Cluster::connect(
        &fake.bootstrap(),
        NetConfig::default().with_metadata_max_age(Duration::ZERO),
    )
    .await
    .unwrap();
    let after_bootstrap = live_bytes().saturating_sub(before);
    assert_eq!(
        cluster.metadata().topics().len(),
        0,
        "none asked for, none cached"
    );

    cluster.refresh_metadata(None).await.unwrap();
    let cached = live_bytes().saturating_sub(before);
    assert_eq!(cluster.metadata().topics().len(), TOPICS);
    let per_topic = cached as f64 / TOPICS as f64;
    let wire_per_topic = wire as f64 / TOPICS as f64;
    println!(
        "wire: {wire} bytes ({wire_per_topic:.0} a topic); after bootstrap: {after_bootstrap} bytes; \
         full metadata cached: {cached} bytes ({per_topic:.0} a topic, {:.1}x the wire)",
        per_topic / wire_per_topic
    );
    assert!(
        after_bootstrap < 1 << 20,
        "{after_bootstrap} bytes after a brokers-only bootstrap"
    );
    assert!(
        per_topic < 6.0 * wire_per_topic,
        "{per_topic:.0} bytes a topic cached against {wire_per_topic:.0} on the wire"
    );
}
