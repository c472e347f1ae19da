//! openraft 0.10's own core on `plog_raft::v010`: a one-node cluster takes
//! concurrent client writes, its core calls `append` without waiting for
//! the previous flush, and plog-raft writes those appends with fewer writes
//! (one `fdatasync` each) than appends; after a restart every write is in
//! the log.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::ops::RangeBounds;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openraft010::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft010::network::RPCOption;
use openraft010::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft010::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft010::type_config::alias::{LogIdOf, SnapshotOf, VoteOf};
use openraft010::{BasicNode, Raft, RaftNetworkFactory, RaftNetworkV2};
use plog_format::{Event, Scanner};
use plog_raft::Options;
use plog_raft::v010::{PlogLogReader, PlogLogStore};

use crate::suite010::{Config, Data, MemStateMachine};

/// The network of a one-node cluster: there is no peer to reach.
struct NoPeers;

fn no_peer() -> Unreachable<Config> {
    Unreachable::new(&io::Error::other("a one-node cluster has no peers"))
}

impl RaftNetworkFactory<Config> for NoPeers {
    type Network = NoPeers;

    async fn new_client(&mut self, _target: u64, _node: &BasicNode) -> NoPeers {
        NoPeers
    }
}

impl RaftNetworkV2<Config> for NoPeers {
    type SnapshotData = Data;

    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<Config>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<Config>, RPCError<Config>> {
        Err(no_peer().into())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<Config>,
        _option: RPCOption,
    ) -> Result<VoteResponse<Config>, RPCError<Config>> {
        Err(no_peer().into())
    }

    async fn full_snapshot(
        &mut self,
        _vote: VoteOf<Config>,
        _snapshot: SnapshotOf<Config, Data>,
        _cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<Config>, StreamingError<Config>> {
        Err(no_peer().into())
    }
}

/// plog-raft's store, counting the `append` calls openraft's core makes.
struct Counting {
    store: PlogLogStore<Config>,
    appends: Arc<AtomicU64>,
}

impl RaftLogReader<Config> for Counting {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<<Config as openraft010::RaftTypeConfig>::Entry>, io::Error> {
        self.store.try_get_log_entries(range).await
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<Config>>, io::Error> {
        self.store.read_vote().await
    }
}

impl RaftLogStorage<Config> for Counting {
    type LogReader = PlogLogReader<Config>;

    async fn get_log_state(&mut self) -> Result<LogState<Config>, io::Error> {
        self.store.get_log_state().await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.store.get_log_reader().await
    }

    async fn save_vote(&mut self, vote: &VoteOf<Config>) -> Result<(), io::Error> {
        self.store.save_vote(vote).await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogIdOf<Config>>,
    ) -> Result<(), io::Error> {
        self.store.save_committed(committed).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<Config>>, io::Error> {
        self.store.read_committed().await
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<Config>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = <Config as openraft010::RaftTypeConfig>::Entry> + Send,
        I::IntoIter: Send,
    {
        self.appends.fetch_add(1, Ordering::Relaxed);
        self.store.append(entries, callback).await
    }

    async fn truncate_after(&mut self, last: Option<LogIdOf<Config>>) -> Result<(), io::Error> {
        self.store.truncate_after(last).await
    }

    async fn purge(&mut self, log_id: LogIdOf<Config>) -> Result<(), io::Error> {
        self.store.purge(log_id).await
    }
}

/// The writes in a log directory's segments: each write's last record
/// carries the write mark (its payload ends in a line feed,
/// RAFT-SEGMENTS.md), and each write had one `fdatasync`.
pub fn writes_on_disk(dir: &std::path::Path) -> u64 {
    let mut writes = 0;
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() != 25 || !name.ends_with(".plog") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for event in Scanner::new(&bytes) {
            match event {
                Event::Record(r) if r.payload().ends_with(b"\n") => writes += 1,
                Event::Record(_) => {}
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }
    writes
}

fn config() -> Arc<openraft010::Config> {
    Arc::new(
        openraft010::Config {
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            ..Default::default()
        }
        .validate()
        .unwrap(),
    )
}

#[test]
fn one_node_cluster_group_commits_the_cores_appends() {
    const CLIENTS: usize = 32;
    const ROUNDS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let appends = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
        let log_store = Counting {
            store,
            appends: Arc::clone(&appends),
        };
        let raft = Raft::new(1, config(), NoPeers, log_store, MemStateMachine::default())
            .await
            .unwrap();
        raft.initialize(BTreeMap::from([(1u64, BasicNode::default())]))
            .await
            .unwrap();
        raft.wait(Some(Duration::from_secs(10)))
            .current_leader(1, "node 1 leads")
            .await
            .unwrap();
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            let raft = raft.clone();
            clients.push(tokio::spawn(async move {
                for r in 0..ROUNDS {
                    let command = format!("client {c} round {r}");
                    let reply = raft.client_write(command.clone()).await.unwrap();
                    assert_eq!(reply.response(), &command);
                }
            }));
        }
        for client in clients {
            client.await.unwrap();
        }
        raft.shutdown().await.unwrap();
    });
    // Everything is there after a restart (the open waits for the core to
    // drop its store, and trims the unused preallocated zeros: the
    // segments are plain v1 logs again).
    runtime.block_on(async {
        let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
        let entries = store.try_get_log_entries(..).await.unwrap();
        let normal = entries
            .iter()
            .filter(|e| matches!(e.payload, openraft010::EntryPayload::Normal(_)))
            .count();
        assert_eq!(normal, CLIENTS * ROUNDS);
    });
    let appends = appends.load(Ordering::Relaxed);
    let writes = writes_on_disk(dir.path());
    assert!(writes >= 1);
    // Measured: 200 appends in 17-19 writes on a loaded machine, 24-118
    // appends in 18-89 writes on a quiet one: how many share a write
    // depends on how long a flush takes against how fast the core
    // appends. That some do is the property (0.9's core never lets two
    // share one: `one_node09`).
    assert!(
        writes < appends,
        "openraft 0.10's core made {appends} appends and plog-raft wrote them with {writes} \
         writes: expected appends made while a flush was in flight to share a write"
    );
}
