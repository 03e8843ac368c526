//! Topics and partitions: create, delete, add partitions; describe the cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkaex_net::{ErrorScope, VersionChoice};
use kafkaex_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafkaex_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafkaex_protocol::messages::delete_topics_request::DeleteTopicState;
use kafkaex_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeClusterRequest,
};
use kafkaex_protocol::{ApiKey, Uuid};

use super::{item_error, missing_entry, request_failed, Admin};
use crate::client::request_error;
use crate::error::Result;

/// The default time the controller may take for a topic change.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// A topic to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewTopic {
    /// The name.
    pub name: String,
    /// The partition count; `None`: the broker's `num.partitions` (or the assignment's count).
    pub partitions: Option<i32>,
    /// The replication factor; `None`: the broker's `default.replication.factor`.
    pub replication_factor: Option<i16>,
    /// Replica assignment, partition index to broker ids (the first is the preferred
    /// leader); when set, leave `partitions` and `replication_factor` unset.
    pub assignment: BTreeMap<i32, Vec<i32>>,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic named `name` with the broker's defaults.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// With `count` partitions.
    pub fn partitions(mut self, count: i32) -> Self {
        self.partitions = Some(count);
        self
    }

    /// With replication factor `factor`.
    pub fn replication_factor(mut self, factor: i16) -> Self {
        self.replication_factor = Some(factor);
        self
    }

    /// Partition `partition` on `brokers`.
    pub fn assign(mut self, partition: i32, brokers: impl Into<Vec<i32>>) -> Self {
        self.assignment.insert(partition, brokers.into());
        self
    }

    /// With config `key` = `value`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// Options of [`Admin::create_topics`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CreateTopicsOptions {
    /// Only check that the topics could be created (nothing is created).
    pub validate_only: bool,
    /// How long the controller may take (default 30 s).
    pub timeout: Duration,
    /// The CreateTopics version.
    pub version: VersionChoice,
}

impl Default for CreateTopicsOptions {
    fn default() -> Self {
        Self {
            validate_only: false,
            timeout: DEFAULT_TIMEOUT,
            version: VersionChoice::Newest,
        }
    }
}

impl CreateTopicsOptions {
    /// Sets `validate_only`.
    pub fn validate_only(mut self, validate: bool) -> Self {
        self.validate_only = validate;
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// At `version`.
    pub fn version(mut self, version: VersionChoice) -> Self {
        self.version = version;
        self
    }
}

/// A created topic (or one that would be created, with `validate_only`), as the broker
/// reports it (CreateTopics v5+ reports partitions, replication factor and configs; before,
/// they are -1 and empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicCreated {
    /// The topic id (CreateTopics v7+; [`Uuid::ZERO`] before).
    pub topic_id: Uuid,
    /// The partition count (-1 when not reported).
    pub partitions: i32,
    /// The replication factor (-1 when not reported).
    pub replication_factor: i16,
    /// The topic's configs with their values (`None`: sensitive or null).
    pub configs: BTreeMap<String, Option<String>>,
}

/// Options of [`Admin::delete_topics`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeleteTopicsOptions {
    /// How long the controller may take (default 30 s).
    pub timeout: Duration,
    /// The DeleteTopics version.
    pub version: VersionChoice,
}

impl Default for DeleteTopicsOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            version: VersionChoice::Newest,
        }
    }
}

/// Partitions to add to a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPartitions {
    /// The partition count wanted (more than the topic has).
    pub total: i32,
    /// The brokers of each new partition, in order (empty: the broker chooses).
    pub assignment: Vec<Vec<i32>>,
}

impl NewPartitions {
    /// Up to `total` partitions.
    pub fn increase_to(total: i32) -> Self {
        Self {
            total,
            assignment: Vec::new(),
        }
    }

    /// With the replicas of each new partition.
    pub fn assignment(mut self, assignment: Vec<Vec<i32>>) -> Self {
        self.assignment = assignment;
        self
    }
}

/// Options of [`Admin::create_partitions`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CreatePartitionsOptions {
    /// Only check that the partitions could be added.
    pub validate_only: bool,
    /// How long the controller may take (default 30 s).
    pub timeout: Duration,
    /// The CreatePartitions version.
    pub version: VersionChoice,
}

impl Default for CreatePartitionsOptions {
    fn default() -> Self {
        Self {
            validate_only: false,
            timeout: DEFAULT_TIMEOUT,
            version: VersionChoice::Newest,
        }
    }
}

impl CreatePartitionsOptions {
    /// Sets `validate_only`.
    pub fn validate_only(mut self, validate: bool) -> Self {
        self.validate_only = validate;
        self
    }
}

/// A broker, as DescribeCluster lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerDescription {
    /// The node id.
    pub node_id: i32,
    /// The advertised host.
    pub host: String,
    /// The advertised port.
    pub port: i32,
    /// The rack, if any.
    pub rack: Option<String>,
    /// Whether the broker is fenced (DescribeCluster v2+; fenced brokers are listed only then).
    pub fenced: bool,
}

/// What DescribeCluster says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The cluster id.
    pub cluster_id: String,
    /// The controller's node id as brokers see it (with KRaft, a random live broker), if any.
    pub controller_id: Option<i32>,
    /// The brokers, by node id.
    pub brokers: Vec<BrokerDescription>,
}

impl Admin {
    /// Creates `topics` in one CreateTopics to the controller: one result per topic name (a
    /// topic that exists is its `TOPIC_ALREADY_EXISTS` error, beside the others' outcomes).
    ///
    /// Not repeated after it may have reached the broker (unless `validate_only`): a repeat
    /// would answer `TOPIC_ALREADY_EXISTS` for a topic the first attempt created.
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
        options: &CreateTopicsOptions,
    ) -> Result<BTreeMap<String, Result<TopicCreated>>> {
        let topics: Vec<NewTopic> = topics.into_iter().collect();
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(millis(options.timeout))
            .with_validate_only(options.validate_only)
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        CreatableTopic::default()
                            .with_name(t.name.clone())
                            .with_num_partitions(t.partitions.unwrap_or(-1))
                            .with_replication_factor(t.replication_factor.unwrap_or(-1))
                            .with_assignments(
                                t.assignment
                                    .iter()
                                    .map(|(p, brokers)| {
                                        CreatableReplicaAssignment::default()
                                            .with_partition_index(*p)
                                            .with_broker_ids(brokers.clone())
                                    })
                                    .collect(),
                            )
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(k.clone())
                                            .with_value(Some(v.clone()))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let names = topics.iter().map(|t| t.name.clone());
        let response = match self.client.request_at(&request, options.version).await {
            Ok(r) => r,
            Err(err) => return Ok(fail_topics(ApiKey::CreateTopics, names, &err)),
        };
        let mut out = BTreeMap::new();
        for t in &response.body.topics {
            let result = if t.error_code.is_ok() {
                Ok(TopicCreated {
                    topic_id: t.topic_id,
                    partitions: t.num_partitions,
                    replication_factor: t.replication_factor,
                    configs: t
                        .configs
                        .iter()
                        .flatten()
                        .map(|c| (c.name.clone(), c.value.clone()))
                        .collect(),
                })
            } else {
                Err(item_error(
                    ApiKey::CreateTopics,
                    response.version,
                    &response.broker,
                    ErrorScope::Topic(t.name.clone()),
                    t.error_code,
                    t.error_message.clone(),
                ))
            };
            out.insert(t.name.clone(), result);
        }
        for name in names {
            out.entry(name.clone()).or_insert_with(|| {
                Err(missing_entry(
                    ApiKey::CreateTopics,
                    response.version,
                    &response.broker,
                    ErrorScope::Topic(name),
                ))
            });
        }
        if !options.validate_only {
            let created: Vec<&String> = out
                .iter()
                .filter(|(_, r)| r.is_ok())
                .map(|(n, _)| n)
                .collect();
            for name in created {
                self.client.cluster().invalidate_topic(name);
            }
        }
        Ok(out)
    }

    /// Deletes `topics` (by name) in one DeleteTopics to the controller: one result per name.
    ///
    /// Not repeated after it may have reached the broker: a repeat would answer
    /// `UNKNOWN_TOPIC_OR_PARTITION` for a topic the first attempt deleted.
    pub async fn delete_topics(
        &self,
        topics: &[impl AsRef<str>],
        options: &DeleteTopicsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let names: Vec<String> = topics.iter().map(|t| t.as_ref().to_owned()).collect();
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let timeout = millis(options.timeout);
        let build = |version: i16| {
            let request = DeleteTopicsRequest::default().with_timeout_ms(timeout);
            if version >= 6 {
                request.with_topics(
                    names
                        .iter()
                        .map(|n| DeleteTopicState::default().with_name(Some(n.clone())))
                        .collect(),
                )
            } else {
                request.with_topic_names(names.clone())
            }
        };
        let response = match self
            .client
            .cluster()
            .request_with_at(build, options.version)
            .await
        {
            Ok(r) => r,
            Err(err) => {
                let err = request_error::<DeleteTopicsRequest>(err);
                return Ok(fail_topics(ApiKey::DeleteTopics, names.into_iter(), &err));
            }
        };
        let mut out = BTreeMap::new();
        for t in &response.body.responses {
            let name = t.name.clone().unwrap_or_default();
            let result = if t.error_code.is_ok() {
                Ok(())
            } else {
                Err(item_error(
                    ApiKey::DeleteTopics,
                    response.version,
                    &response.broker,
                    ErrorScope::Topic(name.clone()),
                    t.error_code,
                    t.error_message.clone(),
                ))
            };
            out.insert(name, result);
        }
        for name in names {
            self.client.cluster().invalidate_topic(&name);
            out.entry(name.clone()).or_insert_with(|| {
                Err(missing_entry(
                    ApiKey::DeleteTopics,
                    response.version,
                    &response.broker,
                    ErrorScope::Topic(name),
                ))
            });
        }
        Ok(out)
    }

    /// Raises the partition count of topics in one CreatePartitions to the controller: one
    /// result per topic.
    ///
    /// Not repeated after it may have reached the broker (unless `validate_only`): a repeat
    /// would answer `INVALID_PARTITIONS` for a count the first attempt reached.
    pub async fn create_partitions(
        &self,
        topics: impl IntoIterator<Item = (String, NewPartitions)>,
        options: &CreatePartitionsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let topics: BTreeMap<String, NewPartitions> = topics.into_iter().collect();
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(millis(options.timeout))
            .with_validate_only(options.validate_only)
            .with_topics(
                topics
                    .iter()
                    .map(|(name, p)| {
                        let assignments = (!p.assignment.is_empty()).then(|| {
                            p.assignment
                                .iter()
                                .map(|brokers| {
                                    CreatePartitionsAssignment::default()
                                        .with_broker_ids(brokers.clone())
                                })
                                .collect()
                        });
                        CreatePartitionsTopic::default()
                            .with_name(name.clone())
                            .with_count(p.total)
                            .with_assignments(assignments)
                    })
                    .collect(),
            );
        let names = topics.keys().cloned();
        let response = match self.client.request_at(&request, options.version).await {
            Ok(r) => r,
            Err(err) => return Ok(fail_topics(ApiKey::CreatePartitions, names, &err)),
        };
        let mut out = BTreeMap::new();
        for t in &response.body.results {
            let result = if t.error_code.is_ok() {
                Ok(())
            } else {
                Err(item_error(
                    ApiKey::CreatePartitions,
                    response.version,
                    &response.broker,
                    ErrorScope::Topic(t.name.clone()),
                    t.error_code,
                    t.error_message.clone(),
                ))
            };
            out.insert(t.name.clone(), result);
        }
        for name in names {
            if !options.validate_only {
                self.client.cluster().invalidate_topic(&name);
            }
            out.entry(name.clone()).or_insert_with(|| {
                Err(missing_entry(
                    ApiKey::CreatePartitions,
                    response.version,
                    &response.broker,
                    ErrorScope::Topic(name),
                ))
            });
        }
        Ok(out)
    }

    /// The cluster id, the controller and the brokers (DescribeCluster, Kafka 2.8+; fenced
    /// brokers too from v2).
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let build = |version: i16| {
            DescribeClusterRequest::default().with_include_fenced_brokers(version >= 2)
        };
        let response = self
            .client
            .cluster()
            .request_with(build)
            .await
            .map_err(request_error::<DescribeClusterRequest>)?;
        let body = response.body;
        Ok(ClusterDescription {
            cluster_id: body.cluster_id,
            controller_id: (body.controller_id >= 0).then_some(body.controller_id),
            brokers: body
                .brokers
                .into_iter()
                .map(|b| BrokerDescription {
                    node_id: b.broker_id,
                    host: b.host,
                    port: b.port,
                    rack: b.rack,
                    fenced: b.is_fenced,
                })
                .collect(),
        })
    }
}

/// Every topic of `names` failed with `err`.
fn fail_topics<T>(
    api: ApiKey,
    names: impl Iterator<Item = String>,
    err: &crate::Error,
) -> BTreeMap<String, Result<T>> {
    names
        .map(|n| {
            let e = request_failed(api, &ErrorScope::Topic(n.clone()), err);
            (n, Err(e))
        })
        .collect()
}
