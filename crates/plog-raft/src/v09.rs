//! The adapter for openraft 0.9 (`storage-v2`, `serde`): [`PlogLogStore`]
//! implements `RaftLogStorage` and [`PlogLogReader`] implements
//! `RaftLogReader` for any `RaftTypeConfig`. Both are re-exported at the
//! crate root, their one public path.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::path::Path;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, LogId, RaftLogId, RaftLogReader, RaftTypeConfig, StorageError};
use openraft::{StorageIOError, Vote};

use crate::append::Done;
use crate::flavor::Flavor;
use crate::reader::{Reader, bounds};
use crate::store::Store;
use crate::{Options, RaftLogError, RecoveryReport, WriteStats};

/// openraft 0.9's types, as the store sees them.
pub(crate) struct V09<C>(PhantomData<fn() -> C>);

impl<C> Clone for V09<C> {
    fn clone(&self) -> Self {
        V09(PhantomData)
    }
}

impl<C> Debug for V09<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("openraft 0.9")
    }
}

impl<C: RaftTypeConfig> Flavor for V09<C> {
    type Entry = C::Entry;
    type LogId = LogId<C::NodeId>;
    type Vote = Vote<C::NodeId>;
    type Flushed = LogFlushed<C>;

    fn log_id(entry: &C::Entry) -> LogId<C::NodeId> {
        entry.get_log_id().clone()
    }

    fn index(id: &LogId<C::NodeId>) -> u64 {
        id.index
    }

    fn leader_after(a: &LogId<C::NodeId>, b: &LogId<C::NodeId>) -> bool {
        a.leader_id > b.leader_id
    }

    fn flushed(callback: LogFlushed<C>, result: std::io::Result<()>) {
        callback.log_io_completed(result);
    }
}

/// The openraft 0.9 log store: a directory of plog v1 segments (see the
/// crate documentation).
///
/// # Group commit under 0.9
///
/// openraft 0.9's core does not let appends overlap:
/// `RaftCore::append_to_log` ("a temp wrapper to make non-blocking
/// append_to_log a blocking"; read in 0.9.25, the 0.9 this workspace's lock
/// resolves, and older than 0.9.0, so engenho-store's 0.9.22 does the same)
/// calls `append` and then awaits the `LogFlushed` callback before it runs
/// its next command. So one Raft node hands this store one append at a
/// time, and each costs its own `fdatasync`; the entries of one append are
/// written with one. Measured (test `one_node09`): a one-node cluster with
/// 32 concurrent clients made 258 appends of one entry each and 258
/// writes, where openraft 0.10's core made about 200 appends written by
/// 17 to 19. A caller outside a Raft engine
/// ([`PlogLogStore::append_with`]) can have appends in flight together and
/// get them written by one `fdatasync`, as openraft 0.10's core does
/// (`v010::PlogLogStore`, feature `openraft-010`).
pub struct PlogLogStore<C: RaftTypeConfig> {
    store: Store<V09<C>>,
}

/// A cloneable reader of a [`PlogLogStore`]'s entries, for openraft's
/// replication tasks.
pub struct PlogLogReader<C: RaftTypeConfig> {
    reader: Reader<V09<C>>,
}

impl<C: RaftTypeConfig> Clone for PlogLogReader<C> {
    fn clone(&self) -> Self {
        PlogLogReader {
            reader: self.reader.clone(),
        }
    }
}

fn write_err<NID: openraft::NodeId>(e: impl ToString) -> StorageError<NID> {
    StorageIOError::write_logs(AnyError::error(e)).into()
}

fn read_err<NID: openraft::NodeId>(e: impl ToString) -> StorageError<NID> {
    StorageIOError::read_logs(AnyError::error(e)).into()
}

impl<C: RaftTypeConfig> PlogLogStore<C> {
    /// Opens (creating if missing) the log directory `dir`: takes its lock,
    /// verifies every segment and recovers (see the crate documentation).
    ///
    /// # Errors
    /// [`RaftLogError::Locked`] when another store has the directory; the
    /// other variants for damage, which leave the directory as it is.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Self, RaftLogError> {
        Store::open(dir.as_ref(), options).map(|store| PlogLogStore { store })
    }

    /// What the open found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        self.store.recovery()
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// How the writes went since the store was opened.
    pub fn write_stats(&self) -> WriteStats {
        self.store.write_stats()
    }

    /// Removes entry `index` and every later one, durably (blocking until
    /// done): later segments are unlinked newest first, the directory is
    /// synced, then the segment holding `index` is cut and synced.
    ///
    /// # Errors
    /// An I/O error (which poisons the store).
    pub fn truncate_from(&mut self, index: u64) -> Result<(), RaftLogError> {
        self.store.truncate_from(index)
    }

    /// Purges entries up to `log_id` (inclusive), blocking until the purged
    /// id is durable; whole segments at or below it are then unlinked in
    /// the background. A purge at or below the current purged id does
    /// nothing.
    ///
    /// # Errors
    /// An I/O error.
    pub fn purge_to(&mut self, log_id: LogId<C::NodeId>) -> Result<(), RaftLogError> {
        self.store.purge_to(log_id)
    }

    /// Appends `entries` (they are readable when this returns) and calls
    /// `done` once they are durable (or with the error that stopped them).
    /// This is openraft's `append` with a plain callback, for callers
    /// outside a Raft engine, and it may block: it serializes the entries
    /// on the calling thread (a batch of 128 or more across the rayon pool),
    /// for an append over existing entries waits for the truncate, and
    /// when the I/O thread has nothing queued writes and syncs the entries
    /// itself and calls `done` before returning (no hand-off to the I/O
    /// thread and back); otherwise `done` is called from the I/O thread,
    /// and appends made while a write is in flight are written together by
    /// the next one (group commit).
    ///
    /// An entry at or below the purged id is dropped; an entry at or below
    /// the last index replaces it and everything after it (a truncate
    /// first); an entry past the next index starts a new segment (a reopen
    /// then refuses the gap: openraft never does this).
    ///
    /// # Errors
    /// A batch that is not contiguous, a poisoned store, a stopped I/O
    /// thread, an entry that does not serialize.
    pub fn append_with<I>(
        &mut self,
        entries: I,
        done: impl FnOnce(std::io::Result<()>) + Send + 'static,
    ) -> Result<(), RaftLogError>
    where
        I: IntoIterator<Item = C::Entry>,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        self.store.append_with(entries, Done::Fn(Box::new(done)))
    }

    /// openraft's `append` with a plain callback: as
    /// [`Self::append_with`], but nothing that blocks runs on the caller's
    /// task: a batch of 64 entries or more is serialized (and dropped) on
    /// the rayon pool while the task awaits it, and a truncate is awaited.
    /// `done` is called from the I/O thread once the entries are durable.
    ///
    /// # Errors
    /// As [`Self::append_with`].
    pub async fn append_async<I>(
        &mut self,
        entries: I,
        done: impl FnOnce(std::io::Result<()>) + Send + 'static,
    ) -> Result<(), RaftLogError>
    where
        I: IntoIterator<Item = C::Entry>,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        self.store
            .append_awaiting(entries, Done::Fn(Box::new(done)))
            .await
    }

    fn reader(&self) -> PlogLogReader<C> {
        PlogLogReader {
            reader: self.store.reader(),
        }
    }
}

impl<C: RaftTypeConfig> RaftLogReader<C> for PlogLogReader<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        self.reader.read(bounds(&range)).await.map_err(read_err)
    }
}

impl<C: RaftTypeConfig> RaftLogReader<C> for PlogLogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<C::NodeId>> {
        self.reader().try_get_log_entries(range).await
    }
}

impl<C: RaftTypeConfig> RaftLogStorage<C> for PlogLogStore<C> {
    type LogReader = PlogLogReader<C>;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<C::NodeId>> {
        let (last_purged_log_id, last_log_id) = self.store.log_state();
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.store
            .save_vote(vote.clone())
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_vote(AnyError::new(&e))))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.store.reader().vote())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<C::NodeId>>,
    ) -> Result<(), StorageError<C::NodeId>> {
        self.store.save_committed(committed).map_err(write_err)
    }

    async fn read_committed(
        &mut self,
    ) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        Ok(self.store.read_committed())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        self.store
            .append_awaiting(entries, Done::Raft(callback))
            .await
            .map_err(write_err)
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.store
            .truncate_async(log_id.index)
            .await
            .map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        self.store.purge_async(log_id).await.map_err(write_err)
    }
}
