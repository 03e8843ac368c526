//! Finding group and transaction coordinators with FindCoordinator, and caching them.

use kafkaex_protocol::messages::find_coordinator_response::Coordinator;
use kafkaex_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use kafkaex_protocol::{ApiKey, ErrorCode};
use tracing::Instrument as _;

use super::{lock, read, Cluster, CoordinatorType};
use crate::broker::BrokerConnection;
use crate::error::{ErrorScope, NetError};
use crate::metadata::BrokerInfo;
use crate::versions::VersionChoice;

/// A coordinator found with FindCoordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorInfo {
    /// The coordinator's node id.
    pub node_id: i32,
    /// The `host:port` to connect to.
    pub address: String,
}

impl Cluster {
    /// The coordinator for `key`, from the cache or found with FindCoordinator (sent to any
    /// broker; v4+ with `coordinator_keys`, older versions with `key`).
    ///
    /// # Errors
    ///
    /// [`NetError::Kafka`] with the FindCoordinator error (`COORDINATOR_NOT_AVAILABLE` while the
    /// coordinator's partition has no leader, e.g. just after the cluster started), or the
    /// errors of [`Route::Any`](super::Route::Any).
    pub async fn find_coordinator(
        &self,
        kind: CoordinatorType,
        key: &str,
    ) -> Result<CoordinatorInfo, NetError> {
        if let Some(found) = lock(&self.inner.coordinators).get(&(kind, key.to_owned())) {
            return Ok(found.clone());
        }
        let span = tracing::debug_span!("find_coordinator", ?kind, key);
        let found = self
            .try_any(true, |conn, _| find_coordinator_on(conn, kind, key))
            .instrument(span)
            .await?;
        // Connect where the metadata says the node is, when it knows the node, so the pool
        // does not alternate between two spellings of one broker's address.
        let address = read(&self.inner.metadata)
            .broker(found.node_id)
            .map(|b| b.address())
            .unwrap_or(found.address);
        let info = CoordinatorInfo {
            node_id: found.node_id,
            address,
        };
        lock(&self.inner.coordinators).insert((kind, key.to_owned()), info.clone());
        Ok(info)
    }
}

/// Sends FindCoordinator for one key on `conn`: v4+ with the `coordinator_keys` batch, older
/// versions with `key`.
pub(super) async fn find_coordinator_on(
    conn: BrokerConnection,
    kind: CoordinatorType,
    key: &str,
) -> Result<CoordinatorInfo, NetError> {
    let version = conn
        .versions()
        .choose_for::<FindCoordinatorRequest>(VersionChoice::Newest, conn.address())?;
    let mut request = FindCoordinatorRequest::default().with_key_type(kind.key_type());
    if version >= 4 {
        request = request.with_coordinator_keys(vec![key.to_owned()]);
    } else {
        request = request.with_key(key.to_owned());
    }
    let response = conn.send(&request, VersionChoice::Exact(version)).await?;
    coordinator_from(&response.body, version, key, conn.address())
}

pub(super) fn coordinator_from(
    response: &FindCoordinatorResponse,
    version: i16,
    key: &str,
    address: &str,
) -> Result<CoordinatorInfo, NetError> {
    let scope = || ErrorScope::CoordinatorKey(key.to_owned());
    let (code, message, node_id, host, port) = if version >= 4 {
        let Some(Coordinator {
            error_code,
            error_message,
            node_id,
            host,
            port,
            ..
        }) = response.coordinators.iter().find(|c| c.key == key)
        else {
            return Err(NetError::from_client(
                ApiKey::FindCoordinator,
                ErrorCode::CoordinatorNotAvailable,
                format!("the response has no coordinator for key {key:?}"),
                address,
                scope(),
            ));
        };
        (*error_code, error_message, *node_id, host, *port)
    } else {
        (
            response.error_code,
            &response.error_message,
            response.node_id,
            &response.host,
            response.port,
        )
    };
    if !code.is_ok() {
        return Err(NetError::from_broker(
            ApiKey::FindCoordinator,
            code,
            message.clone(),
            address,
            scope(),
        ));
    }
    let port = u16::try_from(port).ok().filter(|p| *p != 0);
    match port {
        Some(port) if node_id >= 0 && !host.is_empty() => Ok(CoordinatorInfo {
            node_id,
            address: BrokerInfo {
                node_id,
                host: host.clone(),
                port,
                rack: None,
            }
            .address(),
        }),
        _ => Err(NetError::from_client(
            ApiKey::FindCoordinator,
            ErrorCode::CoordinatorNotAvailable,
            format!("unusable coordinator for key {key:?}: node {node_id} at {host}:{port:?}"),
            address,
            scope(),
        )),
    }
}
