//! The openraft 0.9 adapter: three nodes of [`Eng`] in one process
//! ([`Cluster`]), each on its own log store, behind [`Target`].

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{BasicNode, Entry, LogId, Raft, RaftLogReader, SnapshotPolicy, StorageError, Vote};
use plog_testdata::JournalEntry;

use super::{Adapter, BoxFuture, Target};
use crate::cluster::{Cluster, wait_for};
use crate::engenho::Eng;

/// The Raft configuration of the benchmark's clusters: timeouts generous
/// enough that an fsync stalled on a shared VM does not start an election
/// (heartbeat 100 ms, election 1-2 s), and no snapshots (so no purge runs
/// during a measurement).
pub fn bench_config() -> openraft::Config {
    openraft::Config {
        heartbeat_interval: 100,
        election_timeout_min: 1_000,
        election_timeout_max: 2_000,
        snapshot_policy: SnapshotPolicy::Never,
        ..Default::default()
    }
}

/// What a log store did, counted by [`Counted`].
#[derive(Debug, Default)]
pub struct StoreCounts {
    appends: AtomicU64,
    entries: AtomicU64,
    append_nanos: AtomicU64,
    commits: AtomicU64,
    commit_nanos: AtomicU64,
    votes: AtomicU64,
}

impl StoreCounts {
    /// Counts one `append` of `entries` entries begun at `started`.
    pub(crate) fn appended(&self, entries: u64, started: Instant) {
        self.entries.fetch_add(entries, Ordering::Relaxed);
        self.appends.fetch_add(1, Ordering::Relaxed);
        add_since(&self.append_nanos, started);
    }

    /// Counts one `save_committed` begun at `started`.
    pub(crate) fn committed(&self, started: Instant) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        add_since(&self.commit_nanos, started);
    }

    /// Counts one `save_vote`.
    pub(crate) fn voted(&self) {
        self.votes.fetch_add(1, Ordering::Relaxed);
    }

    /// One line: calls, entries per append, mean time inside `append` (for
    /// a store that flushes in the background, before its flush) and
    /// inside `save_committed`.
    pub fn report(&self) -> String {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mean_us = |nanos: u64, n: u64| nanos as f64 / 1e3 / n.max(1) as f64;
        let (appends, commits) = (load(&self.appends), load(&self.commits));
        format!(
            "{appends} appends of {:.1} entries on average, {:.0} µs in append(); \
             {commits} save_committed, {:.0} µs in each; {} save_vote",
            load(&self.entries) as f64 / appends.max(1) as f64,
            mean_us(load(&self.append_nanos), appends),
            mean_us(load(&self.commit_nanos), commits),
            load(&self.votes),
        )
    }
}

/// A log store that counts what openraft asks of `LS` and how long each
/// call keeps openraft's core waiting; everything else is `LS`'s.
pub struct Counted<LS> {
    inner: LS,
    counts: Arc<StoreCounts>,
}

impl<LS> Counted<LS> {
    /// Wraps `inner`.
    pub fn new(inner: LS) -> Self {
        Self {
            inner,
            counts: Arc::default(),
        }
    }

    /// The counts, shared.
    pub fn counts(&self) -> Arc<StoreCounts> {
        Arc::clone(&self.counts)
    }
}

fn add_since(counter: &AtomicU64, started: Instant) {
    counter.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

impl<LS: RaftLogStorage<Eng>> RaftLogReader<Eng> for Counted<LS> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<Eng>>, StorageError<u64>> {
        self.inner.try_get_log_entries(range).await
    }
}

impl<LS: RaftLogStorage<Eng>> RaftLogStorage<Eng> for Counted<LS> {
    type LogReader = LS::LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<Eng>, StorageError<u64>> {
        self.inner.get_log_state().await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.inner.get_log_reader().await
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.counts.votes.fetch_add(1, Ordering::Relaxed);
        self.inner.save_vote(vote).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        self.inner.read_vote().await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        let started = Instant::now();
        let result = self.inner.save_committed(committed).await;
        self.counts.commits.fetch_add(1, Ordering::Relaxed);
        add_since(&self.counts.commit_nanos, started);
        result
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        self.inner.read_committed().await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<Eng>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<Eng>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<Eng>> = entries.into_iter().collect();
        self.counts
            .entries
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.inner.append(entries, callback).await;
        self.counts.appends.fetch_add(1, Ordering::Relaxed);
        add_since(&self.counts.append_nanos, started);
        result
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.inner.truncate(log_id).await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.inner.purge(log_id).await
    }
}

/// Opens a node's log store in a new, empty directory.
pub type Open<LS> = fn(&Path) -> io::Result<LS>;

/// openraft 0.9 on the log store `open` makes: three nodes, node 1 the
/// leader, each node's runtime with `workers` threads.
pub struct Openraft09<LS> {
    store: &'static str,
    baseline: bool,
    note: Option<&'static str>,
    open: Open<LS>,
    workers: usize,
}

impl<LS> Openraft09<LS> {
    /// The adapter for the store named `store` (`baseline`: the store the
    /// others are compared with), made by `open`, on nodes whose runtimes
    /// have `workers` threads each.
    pub fn new(store: &'static str, baseline: bool, open: Open<LS>, workers: usize) -> Self {
        Self {
            store,
            baseline,
            note: None,
            open,
            workers,
        }
    }

    /// This adapter as a reference, not a candidate: `note` says what it
    /// is (shown instead of the targets).
    pub fn reference(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
}

/// plog-raft, as a node's log store (default options).
pub fn open_plog(dir: &Path) -> io::Result<plog_raft::PlogLogStore<Eng>> {
    plog_raft::PlogLogStore::open(dir, plog_raft::Options::default())
        .map_err(|e| io::Error::other(format!("plog-raft open {}: {e}", dir.display())))
}

/// fjall as engenho-store writes its log, as a node's log store.
pub fn open_fjall(dir: &Path) -> io::Result<crate::FjallLogStore<Eng>> {
    crate::FjallLogStore::open(dir)
}

/// fjall written as engenho-store writes its log, but with its `append`,
/// `save_committed` and `save_vote` on tokio's blocking pool instead of the
/// caller's task: what moving engenho-store's fsyncs off the runtime alone
/// would change.
pub fn open_fjall_off_runtime(dir: &Path) -> io::Result<crate::FjallLogStore<Eng>> {
    crate::FjallLogStore::open_off_runtime(dir)
}

/// A log in memory (the floor), as a node's log store.
pub fn open_memory(_dir: &Path) -> io::Result<crate::MemLogStore<Eng>> {
    Ok(crate::MemLogStore::default())
}

/// The openraft 0.9 adapters of the benchmark: plog-raft; fjall as
/// engenho-store writes its log (the baseline); two references: the same
/// fjall writes off the runtime, and a log in memory (the floor).
pub fn adapters(workers: usize) -> Vec<Box<dyn Adapter>> {
    vec![
        Box::new(Openraft09::new("plog-raft", false, open_plog, workers)),
        Box::new(Openraft09::new(
            "fjall (as engenho-store)",
            true,
            open_fjall,
            workers,
        )),
        Box::new(
            Openraft09::new(
                "fjall, fsyncs off the runtime",
                false,
                open_fjall_off_runtime,
                workers,
            )
            .reference("diagnostic: engenho-store's writes on spawn_blocking"),
        ),
        Box::new(
            Openraft09::new("memory (no disk)", false, open_memory, workers)
                .reference("a floor: no disk"),
        ),
    ]
}

struct Running {
    cluster: Mutex<Option<Cluster<Eng>>>,
    /// Every node's handle, by id.
    rafts: BTreeMap<u64, Raft<Eng>>,
    /// The node proposals go to: the leader, as far as the clients know.
    leader: AtomicU64,
    /// Proposals sent again to a new leader.
    forwarded: AtomicU64,
    counts: Arc<StoreCounts>,
    rpcs: Arc<crate::network::RpcCounts>,
}

/// Proposes `command` through `client_write` on the node `leader` names
/// (of `rafts`); when that node no longer leads, names the leader it
/// forwards to (counting it in `forwarded`) and proposes there, as
/// engenho-store's clients are forwarded, for up to 30 s.
///
/// # Errors
/// Any other error of `client_write`, or no leader for 30 s.
pub async fn propose_forwarding(
    rafts: &BTreeMap<u64, Raft<Eng>>,
    leader: &AtomicU64,
    forwarded: &AtomicU64,
    command: &JournalEntry,
) -> Result<(), String> {
    const FORWARD_FOR: Duration = Duration::from_secs(30);
    let started = Instant::now();
    loop {
        let id = leader.load(Ordering::Relaxed);
        let raft = rafts
            .get(&id)
            .ok_or_else(|| format!("node {id} is not in the cluster"))?;
        let error = match raft.client_write(command.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let Some(forward) = error.forward_to_leader::<BasicNode>() else {
            return Err(format!("node {id}: {error}"));
        };
        if started.elapsed() > FORWARD_FOR {
            return Err(format!("no leader for {FORWARD_FOR:?}: node {id}: {error}"));
        }
        match forward.leader_id {
            Some(next) if next != id => leader.store(next, Ordering::Relaxed),
            // An election is under way: ask again shortly.
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        forwarded.fetch_add(1, Ordering::Relaxed);
    }
}

impl Target for Running {
    fn propose<'a>(&'a self, command: &'a JournalEntry) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(propose_forwarding(
            &self.rafts,
            &self.leader,
            &self.forwarded,
            command,
        ))
    }

    fn store_report(&self) -> Option<String> {
        let forwarded = self.forwarded.load(Ordering::Relaxed);
        let leader = self.leader.load(Ordering::Relaxed);
        let rpcs = &self.rpcs;
        Some(format!(
            "{}; {} append_entries RPCs with {:.1} entries on average, {:.0} µs each (the \
             follower's append and flush included); {forwarded} proposals forwarded to a new \
             leader (leader at the end: node {leader})",
            self.counts.report(),
            rpcs.appends(),
            rpcs.entries() as f64 / rpcs.appends().max(1) as f64,
            rpcs.mean().as_secs_f64() * 1e6,
        ))
    }

    fn stop(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let cluster = self
                .cluster
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match cluster {
                Some(cluster) => cluster.shutdown().await.map_err(|e| e.to_string()),
                None => Ok(()),
            }
        })
    }
}

async fn start<LS: RaftLogStorage<Eng>>(
    adapter: &Openraft09<LS>,
    dir: PathBuf,
) -> Result<Arc<dyn Target>, String> {
    let config = Arc::new(bench_config().validate().map_err(|e| e.to_string())?);
    let mut cluster = Cluster::<Eng>::new(adapter.workers);
    let mut counts = None;
    for id in 1..=3 {
        let store = Counted::new(
            (adapter.open)(&dir.join(format!("node{id}"))).map_err(|e| e.to_string())?,
        );
        if id == 1 {
            counts = Some(store.counts());
        }
        cluster
            .start(id, Arc::clone(&config), store)
            .await
            .map_err(|e| format!("start node {id}: {e}"))?;
    }
    cluster
        .initialize(1, Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    let leader = cluster.node(1).ok_or("node 1 is gone")?.raft.clone();
    // Every node has applied the initial membership before clients start.
    let target = leader.metrics().borrow().last_log_index;
    for id in cluster.ids() {
        let raft = cluster.node(id).ok_or("a node is gone")?.raft.clone();
        wait_for(
            &format!("node {id} to apply the membership"),
            Duration::from_secs(30),
            || raft.metrics().borrow().last_applied.map(|l| l.index) >= target,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    let rafts = cluster
        .ids()
        .into_iter()
        .filter_map(|id| Some((id, cluster.node(id)?.raft.clone())))
        .collect();
    drop(leader);
    let rpcs = cluster.router().counts();
    Ok(Arc::new(Running {
        rpcs,
        cluster: Mutex::new(Some(cluster)),
        rafts,
        leader: AtomicU64::new(1),
        forwarded: AtomicU64::new(0),
        counts: counts.ok_or("no node 1")?,
    }))
}

impl<LS: RaftLogStorage<Eng>> Adapter for Openraft09<LS> {
    fn openraft(&self) -> &str {
        "0.9"
    }

    fn store(&self) -> &str {
        self.store
    }

    fn is_baseline(&self) -> bool {
        self.baseline
    }

    fn note(&self) -> Option<&str> {
        self.note
    }

    fn start<'a>(&'a self, dir: &'a Path) -> BoxFuture<'a, Result<Arc<dyn Target>, String>> {
        Box::pin(start(self, dir.to_path_buf()))
    }
}
