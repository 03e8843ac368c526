//! Helpers shared by the broker integration tests (each test file uses a subset).
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafkaex_net::config::NetConfig;
use kafkaex_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafkaex_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafkaex_protocol::ErrorCode;

/// A name no other test run uses (topics and groups are never reused across runs).
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:x}", std::process::id())
}

/// A config whose retries give up after `deadline`, with a 5 s connect timeout.
pub(crate) fn config_with_deadline(deadline: Duration) -> NetConfig {
    let mut retry = NetConfig::default().retry;
    retry.deadline = deadline;
    NetConfig::default()
        .with_retry(retry)
        .with_connect_timeout(Duration::from_secs(5))
}

/// ListOffsets for the latest offset (timestamp -1) of one partition.
pub(crate) fn list_latest(topic: &str, partition: i32) -> ListOffsetsRequest {
    ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(topic.to_owned())
        .with_partitions(vec![ListOffsetsPartition::default()
            .with_partition_index(partition)
            .with_timestamp(-1)])])
}

/// The first partition error of a ListOffsets response.
pub(crate) fn list_offsets_error(response: &ListOffsetsResponse) -> Option<ErrorCode> {
    response
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| p.error_code)
        .find(|code| !code.is_ok())
}
