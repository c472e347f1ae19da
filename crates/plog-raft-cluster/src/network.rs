//! The in-memory network: every RPC is a direct call on the target node's
//! `Raft` handle (no sockets, no serialization); a node that is not in the
//! router is down.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode, Raft};

use crate::state::ClusterConfig;

/// openraft's RPC error for an RPC whose remote error is `E`.
type RpcErr<E = openraft::error::Infallible> = RPCError<u64, BasicNode, RaftError<u64, E>>;

/// Every running node's `Raft` handle, by id; clones share them.
pub struct Router<C: ClusterConfig> {
    nodes: Arc<Mutex<BTreeMap<u64, Raft<C>>>>,
}

impl<C: ClusterConfig> Clone for Router<C> {
    fn clone(&self) -> Self {
        Self {
            nodes: Arc::clone(&self.nodes),
        }
    }
}

impl<C: ClusterConfig> Default for Router<C> {
    fn default() -> Self {
        Self {
            nodes: Arc::default(),
        }
    }
}

impl<C: ClusterConfig> Router<C> {
    fn nodes(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Raft<C>>> {
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Connects node `id`: RPCs to it reach `raft` from now on.
    pub fn connect(&self, id: u64, raft: Raft<C>) {
        self.nodes().insert(id, raft);
    }

    /// Disconnects node `id`: RPCs to it fail as a network error.
    pub fn disconnect(&self, id: u64) -> Option<Raft<C>> {
        self.nodes().remove(&id)
    }

    /// The handle of node `id`, if it is connected.
    pub fn get(&self, id: u64) -> Option<Raft<C>> {
        self.nodes().get(&id).cloned()
    }
}

/// One node's connection to `target`.
pub struct Connection<C: ClusterConfig> {
    router: Router<C>,
    target: u64,
}

impl<C: ClusterConfig> Connection<C> {
    #[allow(clippy::result_large_err)] // openraft's own RPC error type
    fn target<E: std::error::Error>(&self) -> Result<Raft<C>, RpcErr<E>> {
        self.router.get(self.target).ok_or_else(|| {
            RPCError::Network(NetworkError::new(&AnyError::error(format!(
                "node {} is down",
                self.target
            ))))
        })
    }
}

impl<C: ClusterConfig> RaftNetworkFactory<C> for Router<C> {
    type Network = Connection<C>;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Connection<C> {
        Connection {
            router: self.clone(),
            target,
        }
    }
}

impl<C: ClusterConfig> RaftNetwork<C> for Connection<C> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RpcErr> {
        let node = self.target()?;
        node.append_entries(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<C>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RpcErr<InstallSnapshotError>> {
        let node = self.target()?;
        node.install_snapshot(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RpcErr> {
        let node = self.target()?;
        node.vote(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}
