//! The in-memory network: every RPC is a direct call on the target node's
//! `Raft` handle (no sockets, no serialization); a node that is not in the
//! router is down. It counts the `append_entries` RPCs that carry entries
//! and their time ([`RpcCounts`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// What the network carried: the `append_entries` RPCs that carried
/// entries, and how long each took from the leader's call to the
/// follower's answer (the follower appends and flushes before it answers).
#[derive(Debug, Default)]
pub struct RpcCounts {
    appends: AtomicU64,
    entries: AtomicU64,
    nanos: AtomicU64,
}

impl RpcCounts {
    /// `append_entries` RPCs that carried entries.
    pub fn appends(&self) -> u64 {
        self.appends.load(Ordering::Relaxed)
    }

    /// Entries they carried.
    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    /// Their mean time, call to answer.
    pub fn mean(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed) / self.appends().max(1))
    }
}

/// Every running node's `Raft` handle, by id; clones share them.
pub struct Router<C: ClusterConfig> {
    nodes: Arc<Mutex<BTreeMap<u64, Raft<C>>>>,
    counts: Arc<RpcCounts>,
}

impl<C: ClusterConfig> Clone for Router<C> {
    fn clone(&self) -> Self {
        Self {
            nodes: Arc::clone(&self.nodes),
            counts: Arc::clone(&self.counts),
        }
    }
}

impl<C: ClusterConfig> Default for Router<C> {
    fn default() -> Self {
        Self {
            nodes: Arc::default(),
            counts: Arc::default(),
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

    /// What the network carried so far.
    pub fn counts(&self) -> Arc<RpcCounts> {
        Arc::clone(&self.counts)
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
        let entries = rpc.entries.len() as u64;
        let started = Instant::now();
        let answer = node.append_entries(rpc).await;
        if entries > 0 {
            let counts = &self.router.counts;
            counts.appends.fetch_add(1, Ordering::Relaxed);
            counts.entries.fetch_add(entries, Ordering::Relaxed);
            let nanos = started.elapsed().as_nanos() as u64;
            counts.nanos.fetch_add(nanos, Ordering::Relaxed);
        }
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
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
