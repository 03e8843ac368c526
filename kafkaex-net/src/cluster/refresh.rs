//! Metadata refreshes: on demand, serialized, and periodic.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use kafkaex_protocol::messages::metadata_request::MetadataRequestTopic;
use kafkaex_protocol::messages::{MetadataRequest, MetadataResponse};
use kafkaex_protocol::{ApiKey, Uuid};
use tokio::sync::oneshot;
use tracing::Instrument as _;

use super::{lock, read, write, Cluster, Inner};
use crate::broker::BrokerConnection;
use crate::error::{ErrorScope, NetError};
use crate::metadata::{ClusterMetadata, MetadataUpdate, RefreshKind};
use crate::versions::VersionChoice;

impl Cluster {
    /// Refreshes the metadata: of every topic when `topics` is `None` (a full refresh, which
    /// drops deleted topics from the cache), else of the topics named (merged into the cache).
    /// Topics are not auto-created; see [`Cluster::refresh_metadata_with`].
    pub async fn refresh_metadata(&self, topics: Option<&[String]>) -> Result<(), NetError> {
        self.refresh_metadata_with(topics, false).await
    }

    /// [`Cluster::refresh_metadata`], asking the broker to create missing topics when
    /// `allow_auto_topic_creation` is set (Metadata v4+; the broker's `auto.create.topics.enable`
    /// must allow it too). A topic being created is answered with `LEADER_NOT_AVAILABLE` at
    /// first, which the cache keeps as "no leader yet".
    pub async fn refresh_metadata_with(
        &self,
        topics: Option<&[String]>,
        allow_auto_topic_creation: bool,
    ) -> Result<(), NetError> {
        let _guard = self.inner.refresh_lock.lock().await;
        self.refresh(topics.map(<[String]>::to_vec), allow_auto_topic_creation)
            .await
            .map(|_| ())
    }

    /// Refreshes `topics` unless, once this caller's turn comes, `satisfied` already holds (a
    /// refresh by another caller answered the question meanwhile).
    pub(super) async fn refresh_serialized(
        &self,
        topics: Option<Vec<String>>,
        satisfied: impl Fn(&ClusterMetadata) -> bool,
    ) -> Result<(), NetError> {
        let _guard = self.inner.refresh_lock.lock().await;
        if satisfied(&read(&self.inner.metadata)) {
            return Ok(());
        }
        self.refresh(topics, false).await.map(|_| ())
    }

    /// Sends one Metadata request to any broker and applies it, keeping only the topics asked
    /// for (a broker that answers more, as Metadata v0 does for an empty list, does not fill
    /// the cache with them). The caller holds `refresh_lock` (or is `connect`, before anyone
    /// else can see the cluster).
    pub(super) async fn refresh(
        &self,
        topics: Option<Vec<String>>,
        allow_auto_topic_creation: bool,
    ) -> Result<Option<MetadataUpdate>, NetError> {
        let generation = write(&self.inner.metadata).begin_refresh();
        let kind = if topics.is_some() {
            RefreshKind::Partial
        } else {
            RefreshKind::Full
        };
        let span = tracing::debug_span!(
            "metadata_refresh",
            generation = generation.get(),
            topics = ?topics,
            broker = tracing::field::Empty,
        );
        let topics = &topics;
        async {
            let (address, mut response) = self
                .try_any(true, |conn, _| {
                    metadata_on(conn, topics, allow_auto_topic_creation)
                })
                .await?;
            tracing::Span::current().record("broker", address.as_str());
            if let Some(asked) = topics {
                let asked: BTreeSet<&str> = asked.iter().map(String::as_str).collect();
                let before = response.topics.len();
                response
                    .topics
                    .retain(|t| t.name.as_deref().is_some_and(|n| asked.contains(n)));
                if response.topics.len() < before {
                    tracing::debug!(
                        dropped = before - response.topics.len(),
                        "the broker answered topics that were not asked for; not cached"
                    );
                }
            }
            let applied = write(&self.inner.metadata).apply(generation, kind, &response);
            match applied {
                Ok(update) => {
                    *lock(&self.inner.metadata_source) = address;
                    // Every Metadata response names the controller afresh.
                    self.inner.controller_stale.store(false, Ordering::Relaxed);
                    tracing::debug!(
                        brokers = response.brokers.len(),
                        topics = response.topics.len(),
                        removed = ?update.removed_topics,
                        errors = ?update.errors,
                        kept_newer_epoch = ?update.kept_newer_epoch,
                        "metadata applied"
                    );
                    Ok(Some(update))
                }
                Err(stale) => {
                    tracing::debug!(%stale, "metadata response refused");
                    Ok(None)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Refreshes the topics the cache holds (and brokers and controller), as the periodic
    /// refresh does.
    async fn periodic_refresh(&self) -> Result<(), NetError> {
        let _guard = self.inner.refresh_lock.lock().await;
        let topics: Vec<String> = read(&self.inner.metadata)
            .topics()
            .keys()
            .cloned()
            .collect();
        self.refresh(Some(topics), false).await.map(|_| ())
    }
}

/// Sends a Metadata request for `topics` (`None`: all) on `conn`, at the newest version both
/// sides support, shaped for that version.
async fn metadata_on(
    conn: BrokerConnection,
    topics: &Option<Vec<String>>,
    allow_auto_topic_creation: bool,
) -> Result<(String, MetadataResponse), NetError> {
    let version = conn
        .versions()
        .choose_for::<MetadataRequest>(VersionChoice::Newest, conn.address())?;
    let topics = match topics {
        Some(names) => Some(
            names
                .iter()
                .map(|name| {
                    MetadataRequestTopic::default()
                        .with_name(Some(name.clone()))
                        .with_topic_id(Uuid::ZERO)
                })
                .collect(),
        ),
        // v0 cannot say "all topics" with null; an empty list means all there.
        None if version == 0 => Some(Vec::new()),
        None => None,
    };
    let request = MetadataRequest::default()
        .with_topics(topics)
        // Before v4 the broker decides by its own configuration; the field does not exist.
        .with_allow_auto_topic_creation(allow_auto_topic_creation || version < 4);
    let response = conn.send(&request, VersionChoice::Exact(version)).await?;
    // v13+ (KIP-1102): a top-level code says there is no metadata to apply (its broker list
    // may be empty); `REBOOTSTRAP_REQUIRED` asks for a new bootstrap, which this layer does not
    // do yet: the refresh fails with the code and the cache keeps what it had.
    let code = response.body.error_code;
    if !code.is_ok() {
        return Err(NetError::from_broker(
            ApiKey::Metadata,
            code,
            None,
            conn.address(),
            ErrorScope::Response,
        ));
    }
    Ok((conn.address().to_owned(), response.body))
}

/// Starts the periodic metadata refresh: every `max_age`, while a `Cluster` is alive. The task
/// holds only `weak` between refreshes and ends when `stop` resolves (its sender is dropped
/// with the last `Cluster`).
pub(super) fn spawn_refresher(
    weak: Weak<Inner>,
    max_age: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    if max_age.is_zero() {
        return;
    }
    let Some(first) = tokio::time::Instant::now().checked_add(max_age) else {
        return; // too far in the future to ever happen
    };
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(first, max_age);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = ticker.tick() => {}
            }
            let Some(inner) = weak.upgrade() else { break };
            let cluster = Cluster { inner };
            if let Err(err) = cluster.periodic_refresh().await {
                tracing::warn!(error = %err, "periodic metadata refresh failed");
            }
        }
        tracing::debug!("periodic metadata refresh stopped");
    });
}
