//! openraft 0.10's storage conformance suite against `plog_raft::v010`,
//! and group commit across appends as openraft 0.10's core makes them.

use std::io;
use std::sync::{Arc, Mutex};

use openraft010::entry::RaftEntry;
use openraft010::storage::{
    EntryResponder, IOFlushed, RaftLogReader, RaftLogStorage, RaftSnapshotBuilder,
    RaftStateMachine, Snapshot, SnapshotMeta,
};
use openraft010::testing::log::{StoreBuilder, Suite};
use openraft010::type_config::TypeConfigExt;
use openraft010::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft010::{StorageError, StoredMembership};
use plog_raft::Options;
use plog_raft::v010::PlogLogStore;
use tempfile::TempDir;

openraft010::declare_raft_types!(
    /// The test type config under openraft 0.10 (its default leader id,
    /// vote and entry types; a command is a string, answered by itself).
    pub Config: D = String, R = String
);

/// What the state machine holds; a snapshot is a copy of it.
#[derive(Clone, Debug, Default)]
pub struct Data {
    last_applied: Option<LogIdOf<Config>>,
    last_membership: StoredMembershipOf<Config>,
    /// Normal entries applied.
    applied: u64,
}

/// An in-memory state machine for openraft 0.10 (the suite checks the log
/// store; this only has to be a correct state machine). Clones (its
/// snapshot builders) share it.
#[derive(Clone, Default)]
pub struct MemStateMachine {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    data: Data,
    snapshot: Option<(SnapshotMetaOf<Config>, Data)>,
}

impl MemStateMachine {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }
}

impl RaftSnapshotBuilder<Config> for MemStateMachine {
    type SnapshotData = Data;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<Config, Data>, io::Error> {
        let mut inner = self.inner();
        let meta = SnapshotMeta {
            last_log_id: inner.data.last_applied,
            last_membership: inner.data.last_membership.clone(),
        };
        let data = inner.data.clone();
        inner.snapshot = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: data,
        })
    }
}

impl RaftStateMachine<Config> for MemStateMachine {
    type SnapshotData = Data;
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<Config>>, StoredMembershipOf<Config>), io::Error> {
        let inner = self.inner();
        Ok((inner.data.last_applied, inner.data.last_membership.clone()))
    }

    async fn apply<S>(&mut self, mut entries: S) -> Result<(), io::Error>
    where
        S: futures_util::Stream<Item = Result<EntryResponder<Config>, io::Error>> + Unpin + Send,
    {
        use futures_util::StreamExt;
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id();
            let mut response = String::new();
            {
                let data = &mut self.inner().data;
                data.last_applied = Some(log_id);
                if let Some(membership) = entry.get_membership() {
                    data.last_membership = StoredMembership::new(Some(log_id), membership);
                } else if let openraft010::EntryPayload::Normal(command) = entry.payload {
                    data.applied += 1;
                    response = command;
                }
            }
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<Config>,
        snapshot: Data,
    ) -> Result<(), io::Error> {
        let mut inner = self.inner();
        inner.data = snapshot.clone();
        inner.snapshot = Some((meta.clone(), snapshot));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<Config, Data>>, io::Error> {
        Ok(self.inner().snapshot.clone().map(|(meta, data)| Snapshot {
            meta,
            snapshot: data,
        }))
    }
}

struct Builder {
    options: Options,
}

impl StoreBuilder<Config, PlogLogStore<Config>, MemStateMachine, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, PlogLogStore<Config>, MemStateMachine), StorageError<Config>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = PlogLogStore::open(dir.path(), self.options)
            .map_err(|e| StorageError::write_logs(Config::err_from_error(&e)))?;
        Ok((dir, store, MemStateMachine::default()))
    }
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

/// The suite with default segments and, at the same time (the suite
/// spends most of its ~10 s asleep), with tiny segments: every few entries
/// start a new one, so truncate and purge cross segment boundaries.
#[test]
fn openraft010_suite_default_and_tiny_segments() {
    let tiny = Options {
        segment_bytes: 200,
        ..Options::default()
    };
    let (default, tiny) = run(async {
        tokio::join!(
            Suite::test_all(Builder {
                options: Options::default(),
            }),
            Suite::test_all(Builder { options: tiny }),
        )
    });
    default.unwrap_or_else(|e| panic!("openraft 0.10's suite failed (default segments): {e}"));
    tiny.unwrap_or_else(|e| panic!("openraft 0.10's suite failed (200-byte segments): {e}"));
}

fn entry(index: u64) -> <Config as openraft010::RaftTypeConfig>::Entry {
    RaftEntry::new_normal(
        openraft010::testing::log_id::<Config>(1, 0, index),
        format!("{index:>200}"),
    )
}

/// openraft 0.10's core calls `append` again without waiting for the
/// previous flush: appends submitted back to back through
/// `RaftLogStorage::append` are written by far fewer `fdatasync`s than
/// appends, every callback says Ok, and every entry is there after a
/// reopen.
#[test]
fn appends_in_flight_share_one_fdatasync() {
    const N: u64 = 256;
    let dir = tempfile::tempdir().expect("a temporary directory");
    run(async {
        let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
        let before = store.write_stats().syncs();
        let mut flushed = Vec::new();
        for index in 1..=N {
            let (tx, rx) = Config::oneshot();
            store
                .append([entry(index)], IOFlushed::signal(tx))
                .await
                .unwrap();
            flushed.push(rx);
        }
        for (k, rx) in flushed.into_iter().enumerate() {
            rx.await
                .unwrap_or_else(|_| panic!("append {k}: the callback was dropped"))
                .unwrap_or_else(|e| panic!("append {k}: {e}"));
        }
        let syncs = store.write_stats().syncs() - before;
        assert!(syncs >= 1, "no fdatasync for {N} appends");
        assert!(
            syncs <= N / 4,
            "{N} appends submitted back to back took {syncs} fdatasyncs: expected group \
             commit (at most {})",
            N / 4
        );
        drop(store);
        let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
        let entries = store.try_get_log_entries(1..=N).await.unwrap();
        assert_eq!(entries.len() as u64, N);
        for (k, e) in entries.iter().enumerate() {
            assert_eq!(e.log_id().index, k as u64 + 1);
        }
    });
}

/// `truncate_after` keeps the log id it is given (0.9's `truncate`
/// removed it), and `None` removes everything.
#[test]
fn truncate_after_keeps_its_log_id() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    run(async {
        let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
        let (tx, rx) = Config::oneshot();
        store
            .append((1..=10).map(entry), IOFlushed::signal(tx))
            .await
            .unwrap();
        rx.await.unwrap().unwrap();
        store
            .truncate_after(Some(openraft010::testing::log_id::<Config>(1, 0, 6)))
            .await
            .unwrap();
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id.map(|l| l.index), Some(6));
        let left = store.try_get_log_entries(0..100).await.unwrap();
        assert_eq!(left.len(), 6);
        store.truncate_after(None).await.unwrap();
        assert_eq!(store.get_log_state().await.unwrap().last_log_id, None);
        assert!(store.try_get_log_entries(0..100).await.unwrap().is_empty());
    });
}

/// A directory written through the 0.9 adapter opens under 0.10 (with
/// openraft's default leader ids the log ids, votes and entries serialize
/// alike), and `inspect` reads what 0.10 wrote: engenho-store can move to
/// 0.10 without rewriting its log.
#[test]
fn a_09_directory_opens_under_010_and_inspects() {
    use openraft::{BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, Membership, Vote};
    use openraft010::storage::RaftLogStorage as _;
    use openraft010::vote::RaftVote;
    use plog_raft::inspect::{EntryKind, entries};

    let dir = tempfile::tempdir().expect("a temporary directory");
    let id = |term, index| LogId::new(CommittedLeaderId::new(term, 7), index);
    run(async {
        use openraft::storage::RaftLogStorage;
        let mut old =
            plog_raft::PlogLogStore::<crate::support::Config>::open(dir.path(), Options::default())
                .unwrap();
        let members: std::collections::BTreeMap<u64, BasicNode> =
            [(7, BasicNode::default())].into();
        let (tx, rx) = std::sync::mpsc::channel();
        old.append_with(
            vec![
                Entry {
                    log_id: id(1, 1),
                    payload: EntryPayload::Blank,
                },
                Entry {
                    log_id: id(1, 2),
                    payload: EntryPayload::Membership(Membership::new(vec![[7].into()], members)),
                },
                Entry {
                    log_id: id(2, 3),
                    payload: EntryPayload::Blank,
                },
            ],
            move |r| tx.send(r).unwrap(),
        )
        .unwrap();
        rx.recv().unwrap().unwrap();
        old.save_vote(&Vote::new_committed(2, 7)).await.unwrap();
        old.save_committed(Some(id(2, 3))).await.unwrap();
    });

    run(async {
        let mut new = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
        let log_id = |term, index| openraft010::testing::log_id::<Config>(term, 7, index);
        let got = new.try_get_log_entries(1..=3).await.unwrap();
        let ids: Vec<_> = got.iter().map(|e| e.log_id()).collect();
        assert_eq!(ids, [log_id(1, 1), log_id(1, 2), log_id(2, 3)]);
        let membership = got[1].get_membership().expect("a membership entry");
        assert_eq!(membership.voter_ids().collect::<Vec<_>>(), [7]);
        let vote = new.read_vote().await.unwrap().expect("the vote");
        assert_eq!(
            vote,
            RaftVote::from_leader_id(
                openraft010::impls::leader_id_adv::LeaderId {
                    term: 2,
                    node_id: 7
                },
                true
            )
        );
        assert_eq!(new.read_committed().await.unwrap(), Some(log_id(2, 3)));
        let (tx, rx) = Config::oneshot();
        let fourth = RaftEntry::new_normal(log_id(2, 4), "after the move".to_string());
        new.append([fourth], IOFlushed::signal(tx)).await.unwrap();
        rx.await.unwrap().unwrap();
    });

    let listed: Vec<_> = entries(dir.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.index, e.term, e.kind)
        })
        .collect();
    assert_eq!(
        listed,
        [
            (1, 1, EntryKind::Blank),
            (2, 1, EntryKind::Membership),
            (3, 2, EntryKind::Blank),
            (4, 2, EntryKind::Normal),
        ]
    );
}
