//! The connection pool (one connection per node id) and [`Cluster::try_any`], which finds some
//! broker that answers.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::{lock, read, Cluster, Slot};
use crate::broker::BrokerConnection;
use crate::error::NetError;

/// A broker to try that has no open connection yet.
#[derive(Clone, Debug)]
struct Candidate {
    /// Its place in the order of preference, for the error listing.
    rank: usize,
    /// The node id, for brokers from the metadata (connected through the pool); `None` for
    /// bootstrap addresses (connected on their own: the node id behind them is unknown).
    node_id: Option<i32>,
    address: String,
}

/// Connects to candidates a few at a time: the first at once, each next one when a slot is free
/// and the ones in progress have not answered within the stagger; results come back as they
/// finish. Dropping it aborts the connects still in progress.
struct Connects {
    cluster: Cluster,
    pending: std::vec::IntoIter<Candidate>,
    running: JoinSet<(Candidate, Result<BrokerConnection, NetError>)>,
    bound: usize,
    stagger: Duration,
}

impl Connects {
    fn new(cluster: Cluster, candidates: Vec<Candidate>) -> Self {
        let bound = cluster.inner.config.bootstrap_concurrency.max(1);
        let stagger = cluster.inner.config.connect_stagger;
        Self {
            cluster,
            pending: candidates.into_iter(),
            running: JoinSet::new(),
            bound,
            stagger,
        }
    }

    fn start_next(&mut self) -> bool {
        let Some(candidate) = self.pending.next() else {
            return false;
        };
        let cluster = self.cluster.clone();
        self.running.spawn(async move {
            let result = match candidate.node_id {
                Some(node_id) => cluster.pooled(node_id, &candidate.address).await,
                None => BrokerConnection::connect(&candidate.address, &cluster.inner.config).await,
            };
            (candidate, result)
        });
        true
    }

    /// The next finished connect, or `None` when every candidate is done.
    async fn next(&mut self) -> Option<(Candidate, Result<BrokerConnection, NetError>)> {
        loop {
            if self.running.is_empty() && !self.start_next() {
                return None;
            }
            let more = self.pending.len() > 0 && self.running.len() < self.bound;
            tokio::select! {
                joined = self.running.join_next() => match joined {
                    Some(Ok(done)) => return Some(done),
                    // A connect task cannot panic short of a bug; its candidate is skipped.
                    Some(Err(_)) | None => continue,
                },
                _ = tokio::time::sleep(self.stagger), if more => {
                    self.start_next();
                }
            }
        }
    }
}

impl Cluster {
    /// Runs `f` on a connection to one broker after another until one succeeds, or fails with
    /// an error another broker would repeat: open pooled connections first, then the other
    /// brokers of the metadata, then the bootstrap addresses (those two connected a few at a
    /// time, see [`Connects`]). A broker that does not answer or is not a Kafka broker
    /// ([`NetError::is_broker_specific`]) is skipped, unless `f`'s request may have been
    /// applied there and is not `idempotent`. When every broker fails,
    /// [`NetError::NoBrokerAvailable`] lists each with its error, in order of preference.
    pub(super) async fn try_any<T, F, Fut>(&self, idempotent: bool, mut f: F) -> Result<T, NetError>
    where
        F: FnMut(BrokerConnection, Option<i32>) -> Fut,
        Fut: Future<Output = Result<T, NetError>>,
    {
        let moves_on = |err: &NetError| {
            err.is_broker_specific() && (idempotent || !err.may_have_been_applied())
        };
        let mut tried: Vec<(usize, String, Arc<NetError>)> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut rank = 0;

        for (node_id, conn) in self.open_connections() {
            let address = conn.address().to_owned();
            if !seen.insert(address.clone()) {
                continue;
            }
            rank += 1;
            match f(conn, Some(node_id)).await {
                Ok(value) => return Ok(value),
                Err(err) if moves_on(&err) => tried.push((rank, address, Arc::new(err))),
                Err(err) => return Err(err),
            }
        }

        let mut candidates = Vec::new();
        let brokers: Vec<(i32, String)> = read(&self.inner.metadata)
            .brokers()
            .values()
            .map(|b| (b.node_id, b.address()))
            .collect();
        let bootstrap = self.inner.bootstrap.iter().map(|a| (None, a.clone()));
        for (node_id, address) in brokers
            .into_iter()
            .map(|(id, a)| (Some(id), a))
            .chain(bootstrap)
        {
            if seen.insert(address.clone()) {
                rank += 1;
                candidates.push(Candidate {
                    rank,
                    node_id,
                    address,
                });
            }
        }
        let mut connects = Connects::new(self.clone(), candidates);
        while let Some((candidate, connected)) = connects.next().await {
            let result = match connected {
                Ok(conn) => f(conn, candidate.node_id).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(value) => return Ok(value),
                Err(err) if moves_on(&err) => {
                    tried.push((candidate.rank, candidate.address, Arc::new(err)))
                }
                Err(err) => return Err(err),
            }
        }
        tried.sort_by_key(|(rank, _, _)| *rank);
        Err(NetError::NoBrokerAvailable {
            tried: tried
                .into_iter()
                .map(|(_, address, err)| (address, err))
                .collect(),
        })
    }

    /// The pooled connections that are open now, by node id.
    pub(super) fn open_connections(&self) -> Vec<(i32, BrokerConnection)> {
        let slots: Vec<(i32, Slot)> = lock(&self.inner.pool)
            .iter()
            .map(|(id, slot)| (*id, slot.clone()))
            .collect();
        slots
            .iter()
            .filter_map(|(id, slot)| {
                // A slot that is locked is being connected: skip it rather than wait.
                let guard = slot.try_lock().ok()?;
                guard
                    .as_ref()
                    .filter(|c| !c.is_closed())
                    .map(|c| (*id, c.clone()))
            })
            .collect()
    }

    /// The pooled connection to `node_id`, opened (or replaced, when closed or at another
    /// address) as needed.
    pub(super) async fn pooled(
        &self,
        node_id: i32,
        address: &str,
    ) -> Result<BrokerConnection, NetError> {
        let slot = lock(&self.inner.pool).entry(node_id).or_default().clone();
        let mut guard = slot.lock().await;
        if let Some(conn) = guard.as_ref() {
            if !conn.is_closed() && conn.address() == address {
                return Ok(conn.clone());
            }
        }
        if let Some(old) = guard.take() {
            tracing::debug!(
                node_id,
                old = old.address(),
                new = address,
                closed = old.is_closed(),
                cause = ?old.close_cause().map(|c| c.to_string()),
                "replacing pooled connection"
            );
            old.close();
        }
        let conn = BrokerConnection::connect(address, &self.inner.config).await?;
        *guard = Some(conn.clone());
        Ok(conn)
    }

    /// The number of node ids with an open pooled connection (for tests and diagnostics).
    pub fn open_connection_count(&self) -> usize {
        self.open_connections().len()
    }
}
