//! [`Admin`]: topics, partitions, configs, the cluster, consumer groups, their offsets, and
//! records, from a [`Client`] (`client.admin()`).
//!
//! Every call about several items (topics, partitions, groups, config resources) returns one
//! [`Result`] per item, so one item's error never hides another's outcome and never fails the
//! call as a whole: when a request carrying several items fails (its broker cannot be reached,
//! say), each of its items gets that error. The outer [`Result`] of a call fails only for
//! arguments that cannot work.
//!
//! # Which calls repeat
//!
//! Each call goes through [`kafkaex_net::Cluster::request`], which retries what did not reach
//! the broker (no connection, no leader or coordinator known yet, a retriable code for the
//! whole request) and repeats a request that **may have reached** the broker (a timeout or a
//! connection lost after the write) only when repeating it has the effect of one send:
//!
//! | call | repeated after it may have reached the broker |
//! | --- | --- |
//! | [`Admin::describe_cluster`], [`Admin::describe_configs`], [`Admin::list_groups`], [`Admin::describe_groups`], [`Admin::fetch_offsets`], [`Admin::list_offsets`] | yes (reads) |
//! | [`Admin::commit_offsets`] / [`Admin::alter_group_offsets`], [`Admin::delete_group_offsets`], [`Admin::delete_records`] | yes (the same offsets twice are one change) |
//! | [`Admin::incremental_alter_configs`] | only when every operation is SET or DELETE (or `validate_only`) |
//! | [`Admin::create_topics`], [`Admin::create_partitions`] | only with `validate_only` |
//! | [`Admin::delete_topics`], [`Admin::delete_groups`] | no |
//!
//! A call that is not repeated reports the failure as the item's error, and
//! [`kafkaex_net::NetError::may_have_been_applied`] on its source says the change may have
//! happened anyway.
//!
//! ```no_run
//! use kafkaex_client::admin::{CreateTopicsOptions, NewTopic};
//! use kafkaex_client::Client;
//!
//! # async fn example() -> Result<(), kafkaex_client::Error> {
//! let client = Client::builder().bootstrap(["localhost:9092"]).build().await?;
//! let admin = client.admin();
//! let created = admin
//!     .create_topics(
//!         [NewTopic::new("events").partitions(3).replication_factor(1)],
//!         &CreateTopicsOptions::default(),
//!     )
//!     .await?;
//! for (topic, result) in created {
//!     match result {
//!         Ok(t) => println!("{topic}: created with {} partitions", t.partitions),
//!         Err(e) => println!("{topic}: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```

mod configs;
mod groups;
mod topics;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use kafkaex_net::{BrokerRef, ErrorScope, NetError};
use kafkaex_protocol::{ApiKey, ErrorCode};

use crate::client::Client;
use crate::error::{Error, RequestContext};

pub use configs::{
    AlterConfigOp, AlterConfigsOptions, ConfigEntry, ConfigResource, ConfigSource,
    DescribeConfigsOptions,
};
pub use groups::{
    DescribeGroupsOptions, GroupDescription, GroupListing, GroupMemberDescription,
    ListGroupsOptions,
};
pub use topics::{
    BrokerDescription, ClusterDescription, CreatePartitionsOptions, CreateTopicsOptions,
    DeleteTopicsOptions, NewPartitions, NewTopic, TopicCreated,
};

/// Admin calls on a cluster, from [`Client::admin`]. Cheap to clone (it holds the client).
///
/// See the [module documentation](self) for per-item results and which calls repeat.
#[derive(Clone, Debug)]
pub struct Admin {
    pub(crate) client: Client,
}

impl Admin {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// The client the calls go through.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// The context of a request to `broker` at `version` about `scope`.
pub(crate) fn context(
    api: ApiKey,
    version: Option<i16>,
    broker: Option<&BrokerRef>,
    scope: &ErrorScope,
) -> RequestContext {
    let mut context = RequestContext::api(api);
    context.version = version;
    context.broker = broker.cloned();
    match scope {
        ErrorScope::Partition { topic, partition } => {
            context = context.with_partition(topic.clone(), *partition);
        }
        ErrorScope::Topic(topic) => context.topic = Some(topic.clone()),
        _ => {}
    }
    context
}

/// The error of one item whose code in a response (sent at `version`, answered by `broker`)
/// is `code`.
pub(crate) fn item_error(
    api: ApiKey,
    version: i16,
    broker: &BrokerRef,
    scope: ErrorScope,
    code: ErrorCode,
    message: Option<String>,
) -> Error {
    let message = message.filter(|m| !m.is_empty());
    Error::request(
        context(api, Some(version), Some(broker), &scope),
        NetError::from_broker(api, code, message, broker.address.clone(), scope),
    )
}

/// The error of an item the response has no entry for.
pub(crate) fn missing_entry(
    api: ApiKey,
    version: i16,
    broker: &BrokerRef,
    scope: ErrorScope,
) -> Error {
    Error::request(
        context(api, Some(version), Some(broker), &scope),
        NetError::from_client(
            api,
            ErrorCode::UnknownServerError,
            "the response has no entry for it",
            broker.address.clone(),
            scope,
        ),
    )
}

/// The error of an item whose request failed as a whole (`err`, from a request of `api`).
pub(crate) fn request_failed(api: ApiKey, scope: &ErrorScope, err: &Error) -> Error {
    match err {
        Error::Request { context: c, source } => {
            let mut own = context(api, c.version, c.broker.as_ref(), scope);
            own.api = c.api.or(Some(api));
            Error::Request {
                context: own,
                source: source.clone(),
            }
        }
        other => other.clone(),
    }
}

/// Polls every future to completion, concurrently on the calling task; outputs in input order.
pub(crate) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
