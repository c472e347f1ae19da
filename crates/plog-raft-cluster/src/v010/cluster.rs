//! Three openraft 0.10 nodes in one process for the end-to-end benchmark:
//! an in-memory network (each RPC a direct call on the target's `Raft`
//! handle), each node on its own tokio runtime (as each engenho-store node
//! is its own process), engenho-shaped proposals through `client_write`,
//! and the [`Adapter`] the load driver runs (plog-raft's
//! `plog_raft::v010::PlogLogStore` or [`super::FjallLogStore`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openraft010::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft010::network::RPCOption;
use openraft010::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft010::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft010::type_config::alias::{EntryOf, LogIdOf, SnapshotOf, VoteOf};
use openraft010::{BasicNode, Raft, RaftNetworkFactory, RaftNetworkV2, SnapshotPolicy};
use plog_testdata::JournalEntry;

use super::state::Data;
use super::{Command, EngConfig, EngStateMachine};
use crate::load::openraft09::StoreCounts;
use crate::load::{Adapter, BoxFuture, Target};

/// A node's handle under openraft 0.10.
pub type EngRaft = Raft<EngConfig, EngStateMachine>;

/// The in-memory network: the running nodes by id; clones share them.
#[derive(Clone, Default)]
pub struct Router {
    nodes: Arc<Mutex<BTreeMap<u64, EngRaft>>>,
}

impl Router {
    fn nodes(&self) -> MutexGuard<'_, BTreeMap<u64, EngRaft>> {
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, id: u64) -> Result<EngRaft, Unreachable<EngConfig>> {
        self.nodes()
            .get(&id)
            .cloned()
            .ok_or_else(|| unreachable(format!("node {id} is down")))
    }
}

fn unreachable(why: String) -> Unreachable<EngConfig> {
    Unreachable::new(&io::Error::other(why))
}

/// A connection to one node of the [`Router`].
pub struct Connection {
    router: Router,
    target: u64,
}

impl RaftNetworkFactory<EngConfig> for Router {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> Connection {
        Connection {
            router: self.clone(),
            target,
        }
    }
}

impl RaftNetworkV2<EngConfig> for Connection {
    type SnapshotData = Data<EngConfig>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<EngConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<EngConfig>, RPCError<EngConfig>> {
        let node = self.router.get(self.target)?;
        node.append_entries(rpc)
            .await
            .map_err(|e| unreachable(format!("node {}: {e}", self.target)).into())
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<EngConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<EngConfig>, RPCError<EngConfig>> {
        let node = self.router.get(self.target)?;
        node.vote(rpc)
            .await
            .map_err(|e| unreachable(format!("node {}: {e}", self.target)).into())
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<EngConfig>,
        snapshot: SnapshotOf<EngConfig, Data<EngConfig>>,
        _cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<EngConfig>, StreamingError<EngConfig>> {
        let node = self.router.get(self.target)?;
        node.install_full_snapshot(vote, snapshot)
            .await
            .map_err(|e| unreachable(format!("node {}: {e}", self.target)).into())
    }
}

/// A log store that counts the calls openraft 0.10's core makes (what the
/// 0.9 side's `load::openraft09::Counted` counts), for the store report.
pub struct Counted<LS> {
    inner: LS,
    counts: Arc<StoreCounts>,
}

impl<LS: RaftLogStorage<EngConfig>> RaftLogStorage<EngConfig> for Counted<LS> {
    type LogReader = LS::LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<EngConfig>, io::Error> {
        self.inner.get_log_state().await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.inner.get_log_reader().await
    }

    async fn save_vote(&mut self, vote: &VoteOf<EngConfig>) -> Result<(), io::Error> {
        self.counts.voted();
        self.inner.save_vote(vote).await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogIdOf<EngConfig>>,
    ) -> Result<(), io::Error> {
        let started = Instant::now();
        let result = self.inner.save_committed(committed).await;
        self.counts.committed(started);
        result
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<EngConfig>>, io::Error> {
        self.inner.read_committed().await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<EngConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = EntryOf<EngConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<EntryOf<EngConfig>> = entries.into_iter().collect();
        let n = entries.len() as u64;
        let started = Instant::now();
        let result = self.inner.append(entries, callback).await;
        self.counts.appended(n, started);
        result
    }

    async fn truncate_after(
        &mut self,
        last_log_id: Option<LogIdOf<EngConfig>>,
    ) -> Result<(), io::Error> {
        self.inner.truncate_after(last_log_id).await
    }

    async fn purge(&mut self, log_id: LogIdOf<EngConfig>) -> Result<(), io::Error> {
        self.inner.purge(log_id).await
    }
}

/// The openraft 0.10 configuration of the benchmark (that of the 0.9 side:
/// elections only when a leader fails, no snapshots during a run).
pub fn bench_config() -> openraft010::Config {
    openraft010::Config {
        heartbeat_interval: 100,
        election_timeout_min: 1_000,
        election_timeout_max: 2_000,
        snapshot_policy: SnapshotPolicy::Never,
        ..Default::default()
    }
}

/// Opens a node's log store in its directory.
pub type Open<LS> = fn(&Path) -> io::Result<LS>;

/// Opens plog-raft's openraft 0.10 store with default options.
///
/// # Errors
/// When plog-raft cannot open the directory.
pub fn open_plog(dir: &Path) -> io::Result<plog_raft::v010::PlogLogStore<EngConfig>> {
    plog_raft::v010::PlogLogStore::open(dir, plog_raft::Options::default())
        .map_err(|e| io::Error::other(format!("plog-raft open {}: {e}", dir.display())))
}

/// Opens fjall as engenho-store writes its log, under openraft 0.10.
///
/// # Errors
/// As [`super::FjallLogStore::open`].
pub fn open_fjall(dir: &Path) -> io::Result<super::FjallLogStore<EngConfig>> {
    super::FjallLogStore::open(dir)
}

/// The load driver's adapter for a three-node openraft 0.10 cluster on the
/// log store `open` makes.
pub struct Openraft010<LS> {
    store: &'static str,
    baseline: bool,
    open: Open<LS>,
    workers: usize,
}

impl<LS> Openraft010<LS> {
    /// An adapter named `store` (the baseline when `baseline`), each node on
    /// a runtime of `workers` threads.
    pub fn new(store: &'static str, baseline: bool, open: Open<LS>, workers: usize) -> Self {
        Self {
            store,
            baseline,
            open,
            workers,
        }
    }
}

/// The openraft 0.10 adapters of the benchmark: plog-raft and the fjall
/// baseline.
pub fn adapters(workers: usize) -> Vec<Box<dyn Adapter>> {
    vec![
        Box::new(Openraft010::new("plog-raft", false, open_plog, workers)),
        Box::new(Openraft010::new(
            "fjall (as engenho-store)",
            true,
            open_fjall,
            workers,
        )),
    ]
}

struct Running {
    rafts: BTreeMap<u64, EngRaft>,
    runtimes: Mutex<Vec<tokio::runtime::Runtime>>,
    leader: AtomicU64,
    forwarded: AtomicU64,
    counts: Arc<StoreCounts>,
}

impl Running {
    async fn propose(&self, command: &JournalEntry) -> Result<(), String> {
        const FORWARD_FOR: Duration = Duration::from_secs(30);
        let started = Instant::now();
        loop {
            let id = self.leader.load(Ordering::Relaxed);
            let raft = self
                .rafts
                .get(&id)
                .ok_or_else(|| format!("node {id} is not in the cluster"))?;
            let error = match raft.client_write(Command(command.clone())).await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let Some(forward) = error.forward_to_leader() else {
                return Err(format!("node {id}: {error}"));
            };
            if started.elapsed() > FORWARD_FOR {
                return Err(format!("no leader for {FORWARD_FOR:?}: node {id}: {error}"));
            }
            match forward.leader_id {
                Some(next) if next != id => self.leader.store(next, Ordering::Relaxed),
                // An election is under way: ask again shortly.
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            self.forwarded.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Target for Running {
    fn propose<'a>(&'a self, command: &'a JournalEntry) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(Running::propose(self, command))
    }

    fn store_report(&self) -> Option<String> {
        Some(format!(
            "{}; {} proposals forwarded to a new leader (leader at the end: node {})",
            self.counts.report(),
            self.forwarded.load(Ordering::Relaxed),
            self.leader.load(Ordering::Relaxed)
        ))
    }

    fn stop(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut first = Ok(());
            for (id, raft) in &self.rafts {
                if let Err(e) = raft.shutdown().await
                    && first.is_ok()
                {
                    first = Err(format!("shut node {id} down: {e}"));
                }
            }
            let runtimes = std::mem::take(
                &mut *self
                    .runtimes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            for runtime in runtimes {
                runtime.shutdown_background();
            }
            first
        })
    }
}

async fn start<LS: RaftLogStorage<EngConfig>>(
    adapter: &Openraft010<LS>,
    dir: PathBuf,
) -> Result<Arc<dyn Target>, String> {
    let config = Arc::new(bench_config().validate().map_err(|e| e.to_string())?);
    let router = Router::default();
    let mut rafts = BTreeMap::new();
    let mut runtimes = Vec::new();
    let counts = Arc::new(StoreCounts::default());
    for id in 1..=3u64 {
        let store = Counted {
            inner: (adapter.open)(&dir.join(format!("node{id}"))).map_err(|e| e.to_string())?,
            // Node 1's calls are counted (the first leader's, as on 0.9).
            counts: if id == 1 {
                Arc::clone(&counts)
            } else {
                Arc::default()
            },
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(adapter.workers.max(1))
            .thread_name(format!("node{id}"))
            .enable_all()
            .build()
            .map_err(|e| format!("node {id}'s runtime: {e}"))?;
        let (network, config) = (router.clone(), Arc::clone(&config));
        let raft = runtime
            .spawn(async move {
                Raft::new(id, config, network, store, EngStateMachine::default()).await
            })
            .await
            .map_err(|e| format!("start node {id}: {e}"))?
            .map_err(|e| format!("start node {id}: {e}"))?;
        router.nodes().insert(id, raft.clone());
        rafts.insert(id, raft);
        runtimes.push(runtime);
    }
    let running = Running {
        rafts,
        runtimes: Mutex::new(runtimes),
        leader: AtomicU64::new(1),
        forwarded: AtomicU64::new(0),
        counts,
    };
    let members: BTreeMap<u64, BasicNode> = (1..=3).map(|id| (id, BasicNode::default())).collect();
    let leader = running.rafts.get(&1).ok_or("no node 1")?.clone();
    leader
        .initialize(members)
        .await
        .map_err(|e| format!("initialize: {e}"))?;
    const WAIT: Option<Duration> = Some(Duration::from_secs(30));
    let metrics = leader
        .wait(WAIT)
        .current_leader(1, "node 1 to lead")
        .await
        .map_err(|e| e.to_string())?;
    // Every node has applied the initial membership before clients start.
    let target = metrics.last_log_index;
    for (id, raft) in &running.rafts {
        raft.wait(WAIT)
            .applied_index_at_least(target, format!("node {id} to apply the membership"))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(Arc::new(running))
}

impl<LS: RaftLogStorage<EngConfig>> Adapter for Openraft010<LS> {
    fn openraft(&self) -> &str {
        "0.10"
    }

    fn store(&self) -> &str {
        self.store
    }

    fn is_baseline(&self) -> bool {
        self.baseline
    }

    fn start<'a>(&'a self, dir: &'a Path) -> BoxFuture<'a, Result<Arc<dyn Target>, String>> {
        Box::pin(start(self, dir.to_path_buf()))
    }
}
