//! openraft 0.9's own core on plog-raft, the counterpart of
//! `one_node010.rs`: 0.9's core awaits each append's flush before its next
//! append (`RaftCore::append_to_log`), so the I/O thread never finds two
//! appends queued and every append is a write of its own (one
//! `fdatasync`), however many clients write at once.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, BasicNode, Entry, LogId, Raft, RaftLogReader, StorageError, Vote};
use plog_raft::{Options, PlogLogReader, PlogLogStore};

use crate::one_node010::writes_on_disk;
use crate::support::{Config, MemStateMachine, Request, Response};

type Err<E = openraft::error::Infallible> = RPCError<u64, BasicNode, RaftError<u64, E>>;

/// The network of a one-node cluster: there is no peer to reach.
struct NoPeers;

fn no_peer<E: std::error::Error>() -> Err<E> {
    RPCError::Network(NetworkError::new(&AnyError::error(
        "a one-node cluster has no peers",
    )))
}

impl RaftNetworkFactory<Config> for NoPeers {
    type Network = NoPeers;

    async fn new_client(&mut self, _target: u64, _node: &BasicNode) -> NoPeers {
        NoPeers
    }
}

impl RaftNetwork<Config> for NoPeers {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<Config>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, Err> {
        Err(no_peer())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<Config>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, Err<InstallSnapshotError>> {
        Err(no_peer())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, Err> {
        Err(no_peer())
    }
}

/// plog-raft's store, counting the `append` calls openraft's core makes.
struct Counting {
    store: PlogLogStore<Config>,
    appends: Arc<AtomicU64>,
}

impl RaftLogReader<Config> for Counting {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<Config>>, StorageError<u64>> {
        self.store.try_get_log_entries(range).await
    }
}

impl RaftLogStorage<Config> for Counting {
    type LogReader = PlogLogReader<Config>;

    async fn get_log_state(&mut self) -> Result<LogState<Config>, StorageError<u64>> {
        self.store.get_log_state().await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.store.get_log_reader().await
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.store.save_vote(vote).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        self.store.read_vote().await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        self.store.save_committed(committed).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        self.store.read_committed().await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<Config>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<Config>> + Send,
        I::IntoIter: Send,
    {
        self.appends.fetch_add(1, Ordering::Relaxed);
        self.store.append(entries, callback).await
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.store.truncate(log_id).await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.store.purge(log_id).await
    }
}

#[test]
fn one_node_cluster_under_09_writes_each_append_alone() {
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
        let config = openraft::Config {
            heartbeat_interval: 50,
            election_timeout_min: 150,
            election_timeout_max: 300,
            ..Default::default()
        };
        let log_store = Counting {
            store: PlogLogStore::open(dir.path(), Options::default()).unwrap(),
            appends: Arc::clone(&appends),
        };
        let raft = Raft::new(
            1,
            Arc::new(config.validate().unwrap()),
            NoPeers,
            log_store,
            MemStateMachine::default(),
        )
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
                    let key = format!("client {c} round {r}");
                    let request = Request {
                        key,
                        value: "v".into(),
                    };
                    let reply = raft.client_write(request).await.unwrap();
                    assert_eq!(reply.data, Response(None));
                }
            }));
        }
        for client in clients {
            client.await.unwrap();
        }
        raft.shutdown().await.unwrap();
    });
    // The open waits for the core to drop its store and trims the unused
    // preallocated zeros.
    drop(PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap());
    let appends = appends.load(Ordering::Relaxed);
    let writes = writes_on_disk(dir.path());
    assert_eq!(
        writes, appends,
        "openraft 0.9's core made {appends} appends and plog-raft wrote them with {writes} \
         writes: expected one write per append (the core awaits each flush)"
    );
}
