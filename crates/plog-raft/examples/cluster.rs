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

use kv::{Config, MemStateMachine, Request};

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
    // openraft drops the previous incarnation's store a moment after
    // `shutdown` returns: the open waits for it (Options::lock_wait).
    let started = Instant::now();
    let mut store = PlogLogStore::<Config>::open(&path, Options::default())?;
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
    // What an operator's tool sees (`plog verify DIR`, `plog dump --raft
    // DIR`): each directory checked as one log, read-only, and its first
    // entries with their log ids and kinds.
    for id in 1..=3 {
        let path = dir.join(format!("node{id}"));
        let check = plog_raft::inspect::check_dir(&path)?;
        println!(
            "{}: one log of {} entries {:?}, purged up to {:?}, {} segment(s), torn: {}",
            path.display(),
            check.entries,
            check.range,
            check.purged,
            check.segments.len(),
            check.segments.iter().any(|s| s.torn.is_some()),
        );
    }
    for entry in plog_raft::inspect::entries(&dir.join("node3"))?.take(3) {
        let entry = entry?;
        println!(
            "  node3 entry {} term {} leader {} {}: {}",
            entry.index,
            entry.term,
            entry.node,
            entry.kind.as_str(),
            entry.payload
        );
    }
    Ok(())
}

/// The example's own small state machine: a key-value map in memory, with
/// snapshots (the serde_json of the map) so that a lagging node can be
/// brought up to date.
mod kv {
    use std::collections::BTreeMap;
    use std::io::Cursor;
    use std::sync::{Arc, Mutex};

    use openraft::storage::{RaftStateMachine, Snapshot};
    use openraft::{
        BasicNode, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError,
        StorageIOError, StoredMembership,
    };
    use serde::{Deserialize, Serialize};

    /// A command: set `key` to `value`.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Request {
        pub key: String,
        pub value: String,
    }

    /// The previous value of the key.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Response(pub Option<String>);

    openraft::declare_raft_types!(
        /// The test type config: `Entry<Config>`, u64 node ids, `BasicNode`.
        pub Config: D = Request, R = Response
    );

    /// What the state machine holds (and what a snapshot carries).
    #[derive(Clone, Debug, Default, Serialize, Deserialize)]
    pub struct Data {
        pub last_applied: Option<LogId<u64>>,
        pub last_membership: StoredMembership<u64, BasicNode>,
        pub kv: BTreeMap<String, String>,
    }

    #[derive(Default)]
    struct Inner {
        data: Data,
        snapshot: Option<(SnapshotMeta<u64, BasicNode>, Vec<u8>)>,
        built: u64,
    }

    /// An in-memory key-value state machine; clones share it.
    #[derive(Clone, Default)]
    pub struct MemStateMachine {
        inner: Arc<Mutex<Inner>>,
    }

    impl MemStateMachine {
        /// A copy of the data.
        pub fn data(&self) -> Data {
            self.inner.lock().unwrap().data.clone()
        }

        /// The current snapshot's metadata.
        pub fn snapshot_meta(&self) -> Option<SnapshotMeta<u64, BasicNode>> {
            self.inner
                .lock()
                .unwrap()
                .snapshot
                .as_ref()
                .map(|s| s.0.clone())
        }
    }

    impl RaftSnapshotBuilder<Config> for MemStateMachine {
        async fn build_snapshot(&mut self) -> Result<Snapshot<Config>, StorageError<u64>> {
            let mut inner = self.inner.lock().unwrap();
            let bytes = serde_json::to_vec(&inner.data)
                .map_err(|e| StorageIOError::read_state_machine(&e))?;
            inner.built += 1;
            let meta = SnapshotMeta {
                last_log_id: inner.data.last_applied,
                last_membership: inner.data.last_membership.clone(),
                snapshot_id: format!(
                    "{}-{}",
                    inner.data.last_applied.map_or(0, |l| l.index),
                    inner.built
                ),
            };
            inner.snapshot = Some((meta.clone(), bytes.clone()));
            Ok(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(bytes)),
            })
        }
    }

    impl RaftStateMachine<Config> for MemStateMachine {
        type SnapshotBuilder = MemStateMachine;

        async fn applied_state(
            &mut self,
        ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>>
        {
            let inner = self.inner.lock().unwrap();
            Ok((inner.data.last_applied, inner.data.last_membership.clone()))
        }

        async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<u64>>
        where
            I: IntoIterator<Item = openraft::Entry<Config>> + Send,
            I::IntoIter: Send,
        {
            let mut inner = self.inner.lock().unwrap();
            let mut out = Vec::new();
            for entry in entries {
                inner.data.last_applied = Some(entry.log_id);
                match entry.payload {
                    EntryPayload::Blank => out.push(Response(None)),
                    EntryPayload::Normal(req) => {
                        let old = inner.data.kv.insert(req.key, req.value);
                        out.push(Response(old));
                    }
                    EntryPayload::Membership(m) => {
                        inner.data.last_membership = StoredMembership::new(Some(entry.log_id), m);
                        out.push(Response(None));
                    }
                }
            }
            Ok(out)
        }

        async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
            self.clone()
        }

        async fn begin_receiving_snapshot(
            &mut self,
        ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
            Ok(Box::new(Cursor::new(Vec::new())))
        }

        async fn install_snapshot(
            &mut self,
            meta: &SnapshotMeta<u64, BasicNode>,
            snapshot: Box<Cursor<Vec<u8>>>,
        ) -> Result<(), StorageError<u64>> {
            let bytes = snapshot.into_inner();
            let data: Data = serde_json::from_slice(&bytes)
                .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
            let mut inner = self.inner.lock().unwrap();
            inner.data = data;
            inner.snapshot = Some((meta.clone(), bytes));
            Ok(())
        }

        async fn get_current_snapshot(
            &mut self,
        ) -> Result<Option<Snapshot<Config>>, StorageError<u64>> {
            let inner = self.inner.lock().unwrap();
            Ok(inner.snapshot.as_ref().map(|(meta, bytes)| Snapshot {
                meta: meta.clone(),
                snapshot: Box::new(Cursor::new(bytes.clone())),
            }))
        }
    }
}
