//! A three-node openraft cluster in one process on plog-raft log stores
//! (in-memory network and state machines, real log directories).
//!
//! It writes 10,000 commands, stops node 3 half-way, writes on while the
//! leader snapshots and purges its log, restarts node 3 from its directory
//! and shows it catching up: its own log replayed, then the leader's
//! snapshot, then the log after the snapshot.
//!
//! ```sh
//! cargo run --release -p plog-raft --example cluster [DIR]
//! ```
//!
//! The state machines live in memory: node 3 rebuilds its state from its
//! own log at restart (its snapshot policy is `Never`, so it keeps its whole
//! log), while nodes 1 and 2 snapshot every 2,000 entries and purge.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::storage::RaftLogStorage;
use openraft::{AnyError, BasicNode, Raft, SnapshotPolicy};
use plog_raft::{Options, PlogLogStore};

#[path = "../tests/raft/support.rs"]
mod support;
use support::{Config, MemStateMachine, Request};

type Node = Raft<Config>;
type Err<E = openraft::error::Infallible> = RPCError<u64, BasicNode, RaftError<u64, E>>;

/// The in-memory network: every node's `Raft` handle, by id.
#[derive(Clone, Default)]
struct Router {
    nodes: Arc<Mutex<BTreeMap<u64, Node>>>,
}

struct Connection {
    router: Router,
    target: u64,
}

impl Connection {
    #[allow(clippy::result_large_err)] // openraft's own RPC error type
    fn target<E: std::error::Error>(
        &self,
    ) -> Result<Node, RPCError<u64, BasicNode, RaftError<u64, E>>> {
        let nodes = self.router.nodes.lock().unwrap();
        nodes.get(&self.target).cloned().ok_or_else(|| {
            RPCError::Network(NetworkError::new(&AnyError::error(format!(
                "node {} is down",
                self.target
            ))))
        })
    }
}

impl RaftNetworkFactory<Config> for Router {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Connection {
        Connection {
            router: self.clone(),
            target,
        }
    }
}

impl RaftNetwork<Config> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<Config>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, Err> {
        let node = self.target()?;
        node.append_entries(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<Config>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, Err<InstallSnapshotError>> {
        let node = self.target()?;
        node.install_snapshot(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, Err> {
        let node = self.target()?;
        node.vote(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

struct Running {
    raft: Node,
    sm: MemStateMachine,
}

async fn start(
    id: u64,
    dir: &std::path::Path,
    router: &Router,
) -> Result<Running, Box<dyn std::error::Error>> {
    let config = openraft::Config {
        // Generous: fsync on a shared VM can stall for a while.
        heartbeat_interval: 200,
        election_timeout_min: 2_000,
        election_timeout_max: 4_000,
        snapshot_policy: if id == 3 {
            SnapshotPolicy::Never
        } else {
            SnapshotPolicy::LogsSinceLast(2_000)
        },
        max_in_snapshot_log_to_keep: 500,
        purge_batch_size: 1,
        ..Default::default()
    };
    let config = Arc::new(config.validate()?);
    let path = dir.join(format!("node{id}"));
    // The previous incarnation's store may take a moment to release its lock.
    let started = Instant::now();
    let mut store = loop {
        match PlogLogStore::<Config>::open(&path, Options::default()) {
            Err(plog_raft::RaftLogError::Locked { .. })
                if started.elapsed() < Duration::from_secs(5) =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => break other?,
        }
    };
    let open_time = started.elapsed();
    let report = store.recovery().clone();
    let state = store.get_log_state().await?;
    let vote = store.read_vote().await?;
    let committed = store.read_committed().await?;
    println!(
        "node {id}: opened {} in {open_time:.2?}: {} segment(s), {} record(s), indices {:?}, \
         torn tail cut: {}, purged {:?}, last {:?}, vote {:?}, committed {:?}",
        path.display(),
        report.segments,
        report.records,
        report.index_range,
        report.torn_cut.is_some(),
        state.last_purged_log_id.map(|l| l.index),
        state.last_log_id.map(|l| l.index),
        vote.map(|v| v.leader_id.term),
        committed.map(|l| l.index),
    );
    let sm = MemStateMachine::default();
    let raft = Raft::new(id, config, router.clone(), store, sm.clone()).await?;
    router.nodes.lock().unwrap().insert(id, raft.clone());
    Ok(Running { raft, sm })
}

async fn wait_for(
    what: &str,
    mut ok: impl FnMut() -> bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    while !ok() {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Writes commands `range` through the leader, 256 at a time in flight.
async fn write(
    leader: &Node,
    range: std::ops::Range<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in range {
        let leader = leader.clone();
        tasks.spawn(async move {
            leader
                .client_write(Request {
                    key: format!("key-{i:05}"),
                    value: format!("value-{i}"),
                })
                .await
                .map(|_| ())
        });
        if tasks.len() >= 256
            && let Some(done) = tasks.join_next().await
        {
            done??;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keep = std::env::args_os().nth(1).map(std::path::PathBuf::from);
    let temp = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| temp.path().to_path_buf());
    let router = Router::default();
    let mut nodes = BTreeMap::new();
    for id in 1..=3 {
        nodes.insert(id, start(id, &dir, &router).await?);
    }
    let members: BTreeMap<u64, BasicNode> = (1..=3).map(|id| (id, BasicNode::default())).collect();
    nodes[&1].raft.initialize(members).await?;
    let leader = nodes[&1].raft.clone();
    wait_for("a leader", || {
        leader.metrics().borrow().current_leader == Some(1)
    })
    .await?;

    let started = Instant::now();
    write(&leader, 0..5_000).await?;
    println!("wrote 5,000 commands in {:.2?}", started.elapsed());

    println!("stopping node 3");
    let node3 = nodes.remove(&3).ok_or("node 3")?;
    router.nodes.lock().unwrap().remove(&3);
    node3.raft.shutdown().await?;
    drop(node3);

    let started = Instant::now();
    write(&leader, 5_000..10_000).await?;
    let m = leader.metrics().borrow().clone();
    println!(
        "wrote 5,000 more in {:.2?}; leader: last log {:?}, snapshot {:?}, purged {:?}",
        started.elapsed(),
        m.last_log_index,
        m.snapshot.map(|l| l.index),
        m.purged.map(|l| l.index)
    );

    println!("restarting node 3 from its directory");
    let started = Instant::now();
    let node3 = start(3, &dir, &router).await?;
    let target = leader.metrics().borrow().last_log_index;
    let raft3 = node3.raft.clone();
    wait_for("node 3 to catch up", || {
        raft3.metrics().borrow().last_applied.map(|l| l.index) >= target
    })
    .await?;
    let m3 = raft3.metrics().borrow().clone();
    let installed = node3.sm.snapshot_meta();
    let data3 = node3.sm.data();
    let data1 = nodes[&1].sm.data();
    println!(
        "node 3 caught up in {:.2?}: applied {:?}, snapshot installed from the leader: {:?}, \
         its log now {:?}..={:?}; {} keys, equal to the leader's: {}",
        started.elapsed(),
        m3.last_applied.map(|l| l.index),
        installed.map(|m| m.last_log_id.map(|l| l.index)),
        m3.purged.map(|l| l.index + 1),
        m3.last_log_index,
        data3.kv.len(),
        data3.kv == data1.kv,
    );
    if data3.kv != data1.kv || data3.kv.len() != 10_000 {
        return Err("node 3 does not hold the 10,000 commands".into());
    }
    for node in nodes.values().chain([&node3]) {
        node.raft.shutdown().await?;
    }
    Ok(())
}
