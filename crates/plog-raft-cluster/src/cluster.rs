//! A cluster of openraft 0.9 nodes in one process: the in-memory network,
//! one [`MemStateMachine`] per node, and whatever log store each node is
//! given. Each node runs on its own multi-thread tokio runtime, as each
//! engenho-store node is its own process: a log store that blocks a worker
//! (as engenho-store's fjall store does in `append`) stalls its own node,
//! not the others.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::storage::RaftLogStorage;
use openraft::{BasicNode, Raft};

use crate::BoxError;
use crate::network::Router;
use crate::state::{ClusterConfig, MemStateMachine};

/// A running node.
pub struct Node<C: ClusterConfig> {
    /// Its Raft handle.
    pub raft: Raft<C>,
    /// Its state machine.
    pub sm: MemStateMachine<C>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl<C: ClusterConfig> Drop for Node<C> {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Never blocks (a node may be dropped on an async task): tasks
            // still running end on the runtime's own threads.
            runtime.shutdown_background();
        }
    }
}

/// Nodes connected by one in-memory network.
pub struct Cluster<C: ClusterConfig> {
    router: Router<C>,
    nodes: BTreeMap<u64, Node<C>>,
    workers: usize,
}

impl<C: ClusterConfig> Cluster<C> {
    /// An empty cluster whose nodes will each run on a runtime of
    /// `workers_per_node` worker threads (at least 1).
    pub fn new(workers_per_node: usize) -> Self {
        Self {
            router: Router::default(),
            nodes: BTreeMap::new(),
            workers: workers_per_node.max(1),
        }
    }

    /// Starts node `id` on `store` with a new, empty state machine, and
    /// connects it to the network.
    ///
    /// # Errors
    /// When node `id` is already running, or its runtime or `Raft::new`
    /// fails.
    pub async fn start<LS>(
        &mut self,
        id: u64,
        config: Arc<openraft::Config>,
        store: LS,
    ) -> Result<&Node<C>, BoxError>
    where
        LS: RaftLogStorage<C>,
    {
        if self.nodes.contains_key(&id) {
            return Err(format!("node {id} is already running: stop it before starting it").into());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.workers)
            .thread_name(format!("node{id}"))
            .enable_all()
            .build()?;
        let sm = MemStateMachine::default();
        let (router, machine) = (self.router.clone(), sm.clone());
        // openraft spawns the node's tasks on the runtime `Raft::new` runs
        // on: the node's own.
        let raft = runtime
            .spawn(async move { Raft::new(id, config, router, store, machine).await })
            .await??;
        self.router.connect(id, raft.clone());
        let node = Node {
            raft,
            sm,
            runtime: Some(runtime),
        };
        Ok(self.nodes.entry(id).or_insert(node))
    }

    /// Initializes the cluster on node `leader` with every running node as
    /// a voter, and waits (up to `timeout`) until `leader` leads it.
    ///
    /// # Errors
    /// When `leader` is not running, `initialize` fails, or no leader is
    /// elected in time.
    pub async fn initialize(&self, leader: u64, timeout: Duration) -> Result<(), BoxError> {
        let node = self
            .node(leader)
            .ok_or_else(|| format!("node {leader} is not running (running: {:?})", self.ids()))?;
        let members: BTreeMap<u64, BasicNode> = self
            .nodes
            .keys()
            .map(|&id| (id, BasicNode::default()))
            .collect();
        node.raft.initialize(members).await?;
        let raft = node.raft.clone();
        wait_for(&format!("node {leader} to lead"), timeout, || {
            raft.metrics().borrow().current_leader == Some(leader)
        })
        .await
    }

    /// The network.
    pub fn router(&self) -> &Router<C> {
        &self.router
    }

    /// Node `id`, if it is running.
    pub fn node(&self, id: u64) -> Option<&Node<C>> {
        self.nodes.get(&id)
    }

    /// The ids of the running nodes.
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// Disconnects node `id`, shuts its Raft down and stops its runtime.
    /// openraft drops the node's log store a moment after (on the stopped
    /// runtime's threads).
    ///
    /// # Errors
    /// When `id` is not running, or its Raft task failed.
    pub async fn stop(&mut self, id: u64) -> Result<(), BoxError> {
        self.router.disconnect(id);
        let node = self
            .nodes
            .remove(&id)
            .ok_or_else(|| format!("node {id} is not running (running: {:?})", self.ids()))?;
        node.raft.shutdown().await?;
        drop(node);
        Ok(())
    }

    /// Stops every node.
    ///
    /// # Errors
    /// The first node's failure to stop (the others are stopped anyway).
    pub async fn shutdown(mut self) -> Result<(), BoxError> {
        let mut first = Ok(());
        for id in self.ids() {
            let stopped = self.stop(id).await;
            if first.is_ok() {
                first = stopped;
            }
        }
        first
    }
}

/// Waits until `ok()` holds, checking every 10 ms, for up to `timeout`.
///
/// # Errors
/// When `ok()` still does not hold after `timeout`.
pub async fn wait_for(
    what: &str,
    timeout: Duration,
    mut ok: impl FnMut() -> bool,
) -> Result<(), BoxError> {
    let started = Instant::now();
    while !ok() {
        if started.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}
