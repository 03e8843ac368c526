//! Configs of topics and brokers: describe, and alter incrementally.

use std::collections::BTreeMap;
use std::fmt;

use kafkaex_net::{ErrorScope, VersionChoice};
use kafkaex_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafkaex_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafkaex_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafkaex_protocol::ApiKey;

use super::{item_error, join_all, missing_entry, request_failed, Admin};
use crate::error::Result;

/// A config resource: a topic, a broker (by node id; the empty name is the cluster-wide
/// default), or a broker's loggers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigResource {
    /// A topic's configs.
    Topic(String),
    /// A broker's configs: its node id as a string, or "" for the cluster-wide default.
    Broker(String),
    /// A broker's log4j loggers (node id as a string).
    BrokerLogger(String),
}

impl ConfigResource {
    /// A topic.
    pub fn topic(name: impl Into<String>) -> Self {
        Self::Topic(name.into())
    }

    /// Broker `node_id`.
    pub fn broker(node_id: i32) -> Self {
        Self::Broker(node_id.to_string())
    }

    /// The resource type on the wire.
    pub fn resource_type(&self) -> i8 {
        match self {
            Self::Topic(_) => 2,
            Self::Broker(_) => 4,
            Self::BrokerLogger(_) => 8,
        }
    }

    /// The resource name.
    pub fn name(&self) -> &str {
        match self {
            Self::Topic(n) | Self::Broker(n) | Self::BrokerLogger(n) => n,
        }
    }

    fn from_wire(resource_type: i8, name: &str) -> Option<Self> {
        match resource_type {
            2 => Some(Self::Topic(name.to_owned())),
            4 => Some(Self::Broker(name.to_owned())),
            8 => Some(Self::BrokerLogger(name.to_owned())),
            _ => None,
        }
    }

    fn scope(&self) -> ErrorScope {
        ErrorScope::Resource {
            resource_type: self.resource_type(),
            name: self.name().to_owned(),
        }
    }

    /// Whether requests about it must go to the broker it names (a named broker or its
    /// loggers); topics and the cluster default go to any broker.
    fn is_broker_bound(&self) -> bool {
        match self {
            Self::Topic(_) => false,
            Self::Broker(n) | Self::BrokerLogger(n) => !n.is_empty(),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Topic(n) => write!(f, "topic {n}"),
            Self::Broker(n) if n.is_empty() => f.write_str("the cluster-wide broker default"),
            Self::Broker(n) => write!(f, "broker {n}"),
            Self::BrokerLogger(n) => write!(f, "loggers of broker {n}"),
        }
    }
}

/// Where a config value comes from (DescribeConfigs v1+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigSource {
    /// Set on the topic.
    DynamicTopic,
    /// Set on this broker dynamically.
    DynamicBroker,
    /// Set dynamically as the cluster-wide default.
    DynamicDefaultBroker,
    /// From the broker's properties file.
    StaticBroker,
    /// Kafka's default.
    Default,
    /// A broker logger level.
    DynamicBrokerLogger,
    /// Another value (the broker did not say, or a newer source).
    Other(i8),
}

impl ConfigSource {
    fn from_wire(source: i8) -> Self {
        match source {
            1 => Self::DynamicTopic,
            2 => Self::DynamicBroker,
            3 => Self::DynamicDefaultBroker,
            4 => Self::StaticBroker,
            5 => Self::Default,
            6 => Self::DynamicBrokerLogger,
            other => Self::Other(other),
        }
    }
}

/// One config of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    /// The key.
    pub name: String,
    /// The value (`None` for sensitive values and null ones).
    pub value: Option<String>,
    /// Whether it cannot be changed.
    pub read_only: bool,
    /// Whether the value is sensitive (and hidden).
    pub sensitive: bool,
    /// Where the value comes from.
    pub source: ConfigSource,
}

impl ConfigEntry {
    /// Whether the value is Kafka's default (not set anywhere).
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::Default
    }
}

/// Options of [`Admin::describe_configs`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DescribeConfigsOptions {
    /// Only these keys (empty: all).
    pub keys: Vec<String>,
    /// The DescribeConfigs version.
    pub version: VersionChoice,
}

impl DescribeConfigsOptions {
    /// Only `keys`.
    pub fn keys<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.keys = keys.into_iter().map(Into::into).collect();
        self
    }
}

/// One change of [`Admin::incremental_alter_configs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Sets `key` to `value`.
    Set(String, String),
    /// Removes the key (back to its inherited value).
    Delete(String),
    /// Adds `value` to a list-valued key.
    Append(String, String),
    /// Removes `value` from a list-valued key.
    Subtract(String, String),
}

impl AlterConfigOp {
    /// [`AlterConfigOp::Set`].
    pub fn set(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Set(key.into(), value.into())
    }

    /// [`AlterConfigOp::Delete`].
    pub fn delete(key: impl Into<String>) -> Self {
        Self::Delete(key.into())
    }

    fn to_wire(&self) -> AlterableConfig {
        let (name, op, value) = match self {
            Self::Set(k, v) => (k, 0, Some(v.clone())),
            Self::Delete(k) => (k, 1, None),
            Self::Append(k, v) => (k, 2, Some(v.clone())),
            Self::Subtract(k, v) => (k, 3, Some(v.clone())),
        };
        AlterableConfig::default()
            .with_name(name.clone())
            .with_config_operation(op)
            .with_value(value)
    }
}

/// Options of [`Admin::incremental_alter_configs`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct AlterConfigsOptions {
    /// Only check the changes.
    pub validate_only: bool,
    /// The IncrementalAlterConfigs version.
    pub version: VersionChoice,
}

impl AlterConfigsOptions {
    /// Sets `validate_only`.
    pub fn validate_only(mut self, validate: bool) -> Self {
        self.validate_only = validate;
        self
    }
}

/// `resources` in the requests they need: one for those any broker answers, one per named
/// broker.
fn split<T>(resources: Vec<(ConfigResource, T)>) -> Vec<Vec<(ConfigResource, T)>> {
    let mut any = Vec::new();
    let mut by_broker: BTreeMap<String, Vec<(ConfigResource, T)>> = BTreeMap::new();
    for (r, t) in resources {
        if r.is_broker_bound() {
            by_broker
                .entry(r.name().to_owned())
                .or_default()
                .push((r, t));
        } else {
            any.push((r, t));
        }
    }
    let mut out: Vec<_> = by_broker.into_values().collect();
    if !any.is_empty() {
        out.push(any);
    }
    out
}

impl Admin {
    /// The configs of `resources`: one DescribeConfigs for topics (any broker) and one per
    /// named broker (to that broker), concurrently; one result per resource.
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
        options: &DescribeConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<Vec<ConfigEntry>>>> {
        let resources: Vec<(ConfigResource, ())> = resources.into_iter().map(|r| (r, ())).collect();
        let calls = split(resources)
            .into_iter()
            .map(|group| self.describe_configs_once(group, options))
            .collect();
        Ok(join_all(calls).await.into_iter().flatten().collect())
    }

    async fn describe_configs_once(
        &self,
        resources: Vec<(ConfigResource, ())>,
        options: &DescribeConfigsOptions,
    ) -> Vec<(ConfigResource, Result<Vec<ConfigEntry>>)> {
        let keys = (!options.keys.is_empty()).then(|| options.keys.clone());
        let request = DescribeConfigsRequest::default().with_resources(
            resources
                .iter()
                .map(|(r, ())| {
                    DescribeConfigsResource::default()
                        .with_resource_type(r.resource_type())
                        .with_resource_name(r.name().to_owned())
                        .with_configuration_keys(keys.clone())
                })
                .collect(),
        );
        let response = match self.client.request_at(&request, options.version).await {
            Ok(r) => r,
            Err(err) => {
                return resources
                    .into_iter()
                    .map(|(r, ())| {
                        let e = request_failed(ApiKey::DescribeConfigs, &r.scope(), &err);
                        (r, Err(e))
                    })
                    .collect()
            }
        };
        let mut out: BTreeMap<ConfigResource, Result<Vec<ConfigEntry>>> = BTreeMap::new();
        for result in &response.body.results {
            let Some(resource) =
                ConfigResource::from_wire(result.resource_type, &result.resource_name)
            else {
                continue;
            };
            let entry = if result.error_code.is_ok() {
                Ok(result
                    .configs
                    .iter()
                    .map(|c| ConfigEntry {
                        name: c.name.clone(),
                        value: c.value.clone(),
                        read_only: c.read_only,
                        sensitive: c.is_sensitive,
                        source: if response.version == 0 {
                            if c.is_default {
                                ConfigSource::Default
                            } else {
                                ConfigSource::Other(-1)
                            }
                        } else {
                            ConfigSource::from_wire(c.config_source)
                        },
                    })
                    .collect())
            } else {
                Err(item_error(
                    ApiKey::DescribeConfigs,
                    response.version,
                    &response.broker,
                    resource.scope(),
                    result.error_code,
                    result.error_message.clone(),
                ))
            };
            out.insert(resource, entry);
        }
        resources
            .into_iter()
            .map(|(r, ())| {
                let result = out.remove(&r).unwrap_or_else(|| {
                    Err(missing_entry(
                        ApiKey::DescribeConfigs,
                        response.version,
                        &response.broker,
                        r.scope(),
                    ))
                });
                (r, result)
            })
            .collect()
    }

    /// Applies `changes` to each resource's configs (IncrementalAlterConfigs, Kafka 2.3+):
    /// one request for topics, one per named broker, concurrently; one result per resource.
    ///
    /// Repeated after it may have reached the broker only when every operation of its request
    /// is a SET or a DELETE (or `validate_only`): APPEND and SUBTRACT would apply twice.
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
        options: &AlterConfigsOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        let changes: Vec<(ConfigResource, Vec<AlterConfigOp>)> = changes.into_iter().collect();
        let calls = split(changes)
            .into_iter()
            .map(|group| self.alter_configs_once(group, options))
            .collect();
        Ok(join_all(calls).await.into_iter().flatten().collect())
    }

    async fn alter_configs_once(
        &self,
        changes: Vec<(ConfigResource, Vec<AlterConfigOp>)>,
        options: &AlterConfigsOptions,
    ) -> Vec<(ConfigResource, Result<()>)> {
        let request = IncrementalAlterConfigsRequest::default()
            .with_validate_only(options.validate_only)
            .with_resources(
                changes
                    .iter()
                    .map(|(r, ops)| {
                        AlterConfigsResource::default()
                            .with_resource_type(r.resource_type())
                            .with_resource_name(r.name().to_owned())
                            .with_configs(ops.iter().map(AlterConfigOp::to_wire).collect())
                    })
                    .collect(),
            );
        let response = match self.client.request_at(&request, options.version).await {
            Ok(r) => r,
            Err(err) => {
                return changes
                    .into_iter()
                    .map(|(r, _)| {
                        let e = request_failed(ApiKey::IncrementalAlterConfigs, &r.scope(), &err);
                        (r, Err(e))
                    })
                    .collect()
            }
        };
        let mut out: BTreeMap<ConfigResource, Result<()>> = BTreeMap::new();
        for result in &response.body.responses {
            let Some(resource) =
                ConfigResource::from_wire(result.resource_type, &result.resource_name)
            else {
                continue;
            };
            let entry = if result.error_code.is_ok() {
                Ok(())
            } else {
                Err(item_error(
                    ApiKey::IncrementalAlterConfigs,
                    response.version,
                    &response.broker,
                    resource.scope(),
                    result.error_code,
                    result.error_message.clone(),
                ))
            };
            out.insert(resource, entry);
        }
        changes
            .into_iter()
            .map(|(r, _)| {
                let result = out.remove(&r).unwrap_or_else(|| {
                    Err(missing_entry(
                        ApiKey::IncrementalAlterConfigs,
                        response.version,
                        &response.broker,
                        r.scope(),
                    ))
                });
                (r, result)
            })
            .collect()
    }
}
