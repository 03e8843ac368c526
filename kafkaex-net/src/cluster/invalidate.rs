//! What a failure says is out of date, and forgetting it: a partition's leader, a topic, a
//! coordinator, the controller.

use std::sync::atomic::Ordering;

use kafkaex_protocol::ErrorCode;

use super::{Cluster, CoordinatorType, Route, TopicRef};
use crate::error::{ErrorScope, NetError};
use crate::request::ResponseError;

/// Codes that mean the partition's leader is not where the metadata says.
fn stale_leader(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotLeaderOrFollower
            | ErrorCode::LeaderNotAvailable
            | ErrorCode::FencedLeaderEpoch
            | ErrorCode::UnknownLeaderEpoch
            | ErrorCode::KafkaStorageError
            | ErrorCode::ReplicaNotAvailable
    )
}

/// Codes that mean the request reached a broker that is not (or not yet) the coordinator.
pub(super) fn stale_coordinator(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::CoordinatorLoadInProgress
    )
}

impl Cluster {
    /// Invalidates what `err` on `route` says is out of date.
    pub(super) fn after_failure(&self, route: &Route, err: &NetError) {
        let connection_failed =
            err.is_connection_failure() || matches!(err.root_cause(), NetError::Timeout { .. });
        match err {
            NetError::Kafka { code, scope, .. } => self.after_code(route, scope, *code),
            _ if connection_failed => self.after_connection_failure(route),
            _ => {}
        }
    }

    /// Invalidates what the error codes of a response say is out of date.
    pub(super) fn after_errors(&self, route: &Route, errors: &[ResponseError]) {
        for e in errors {
            self.after_code(route, &e.scope, e.code);
        }
    }

    fn after_connection_failure(&self, route: &Route) {
        match route {
            Route::Leader { topic, partition } => self.invalidate_partition(topic, *partition),
            Route::Leaders(partitions) => {
                for (topic, partition) in partitions {
                    self.invalidate_partition_ref(topic, *partition);
                }
            }
            Route::GroupCoordinator(key) => {
                self.invalidate_coordinator(CoordinatorType::Group, key)
            }
            Route::TransactionCoordinator(key) => {
                self.invalidate_coordinator(CoordinatorType::Transaction, key)
            }
            Route::Controller => self.inner.controller_stale.store(true, Ordering::Relaxed),
            Route::Node(_) | Route::Any => {}
        }
    }

    fn after_code(&self, route: &Route, scope: &ErrorScope, code: ErrorCode) {
        if stale_coordinator(code) {
            if let Some((kind, key)) = route.coordinator() {
                self.invalidate_coordinator(kind, key);
            }
            return;
        }
        if code == ErrorCode::NotController {
            self.inner.controller_stale.store(true, Ordering::Relaxed);
            return;
        }
        let unknown_topic = matches!(
            code,
            ErrorCode::UnknownTopicOrPartition | ErrorCode::UnknownTopicId
        );
        if !unknown_topic && !stale_leader(code) {
            return;
        }
        match scope {
            ErrorScope::Partition { topic, partition } if unknown_topic => {
                let _ = partition;
                self.invalidate_topic(topic);
            }
            ErrorScope::Partition { topic, partition } => {
                self.invalidate_partition(topic, *partition)
            }
            ErrorScope::PartitionOfTopicId {
                topic_id,
                partition,
            } => {
                let name = self.with_metadata(|m| m.topic_by_id(*topic_id).map(str::to_owned));
                if let Some(topic) = name {
                    if unknown_topic {
                        self.invalidate_topic(&topic);
                    } else {
                        self.invalidate_partition(&topic, *partition);
                    }
                }
            }
            ErrorScope::Topic(topic) => self.invalidate_topic(topic),
            ErrorScope::TopicId(topic_id) => {
                let name = self.with_metadata(|m| m.topic_by_id(*topic_id).map(str::to_owned));
                if let Some(topic) = name {
                    self.invalidate_topic(&topic);
                }
            }
            // A whole-request code on a leader route: the route's partitions.
            ErrorScope::Response => match route {
                Route::Leader { topic, partition } => self.invalidate_partition(topic, *partition),
                Route::Leaders(partitions) => {
                    for (topic, partition) in partitions {
                        self.invalidate_partition_ref(topic, *partition);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn invalidate_partition_ref(&self, topic: &TopicRef, partition: i32) {
        let name = match topic {
            TopicRef::Name(name) => Some(name.clone()),
            TopicRef::Id(id) => self.with_metadata(|m| m.topic_by_id(*id).map(str::to_owned)),
        };
        if let Some(name) = name {
            self.invalidate_partition(&name, partition);
        }
    }
}
