//! The adapter for openraft 0.10 (`=0.10.0-alpha.37`, feature `serde`):
//! [`PlogLogStore`] implements its [`RaftLogStorage`] and
//! [`PlogLogReader`] its [`RaftLogReader`], for any [`RaftTypeConfig`].
//!
//! What 0.10 changed, as this store answers it:
//!
//! * errors are `std::io::Error` (a [`RaftLogError`] inside, as its
//!   source);
//! * the vote is read through the reader (`RaftLogReader::read_vote`);
//! * `truncate_after(Some(id))` keeps `id` and removes every later entry,
//!   `truncate_after(None)` removes them all;
//! * log ids are `LogIdOf<C>` (the committed leader id of the config's
//!   `LeaderId`), the flush callback is `IOFlushed`;
//! * `get_key_log_ids`, `limited_get_log_entries` and the streams keep
//!   openraft's default implementations, which read through
//!   `try_get_log_entries` (binary search for the key log ids);
//! * openraft's `single-threaded` feature is not supported: entries and
//!   callbacks go to the store's I/O thread, so they must be `Send`.
//!
//! # Group commit across appends
//!
//! openraft 0.10's core submits an append and goes on without waiting for
//! its `IOFlushed` callback ("submit IO request, do not wait for the
//! response", `RaftCore::run_append_entries`), so a leader's appends can
//! follow each other while one is being written. `append` here returns once
//! the entries are queued (and readable); the I/O thread, when it starts a
//! write, takes every append queued by then and writes them with one
//! positioned write and one `fdatasync`, then calls their callbacks in the
//! order of the appends. Appends that arrive while a flush is in flight are
//! thus written by the next single `fdatasync`.
//!
//! ```
//! # use openraft010 as openraft; // your crate: openraft = "=0.10.0-alpha.37"
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use openraft::storage::RaftLogStorage;
//! use plog_raft::Options;
//! use plog_raft::v010::PlogLogStore;
//!
//! openraft::declare_raft_types!(pub Config: D = String, R = String);
//!
//! let dir = tempfile::tempdir()?;
//! let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default())?;
//! assert_eq!(store.get_log_state().await?.last_log_id, None);
//! # Ok(()) }
//! ```

use std::fmt::Debug;
use std::io;
use std::marker::PhantomData;
use std::ops::RangeBounds;
use std::path::Path;

use openraft010::RaftTypeConfig;
use openraft010::entry::RaftEntry;
use openraft010::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft010::type_config::alias::{LogIdOf, VoteOf};

use crate::append::Done;
use crate::flavor::Flavor;
use crate::reader::{Reader, bounds};
use crate::store::Store;
use crate::{Options, RaftLogError, RecoveryReport, WriteStats};

/// openraft 0.10's types, as the store sees them.
pub(crate) struct V010<C>(PhantomData<fn() -> C>);

impl<C> Clone for V010<C> {
    fn clone(&self) -> Self {
        V010(PhantomData)
    }
}

impl<C> Debug for V010<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("openraft 0.10")
    }
}

impl<C: RaftTypeConfig> Flavor for V010<C> {
    type Entry = C::Entry;
    type LogId = LogIdOf<C>;
    type Vote = VoteOf<C>;
    type Flushed = IOFlushed<C>;

    fn log_id(entry: &C::Entry) -> LogIdOf<C> {
        entry.log_id()
    }

    fn index(id: &LogIdOf<C>) -> u64 {
        id.index
    }

    fn leader_after(a: &LogIdOf<C>, b: &LogIdOf<C>) -> bool {
        a.leader_id > b.leader_id
    }

    fn flushed(callback: IOFlushed<C>, result: io::Result<()>) {
        callback.io_completed(result);
    }
}

/// The openraft 0.10 log store: a directory of plog v1 segments (see the
/// crate documentation).
pub struct PlogLogStore<C: RaftTypeConfig> {
    store: Store<V010<C>>,
}

/// A cloneable reader of a [`PlogLogStore`]'s entries and vote, for
/// openraft's replication tasks.
pub struct PlogLogReader<C: RaftTypeConfig> {
    reader: Reader<V010<C>>,
}

impl<C: RaftTypeConfig> Clone for PlogLogReader<C> {
    fn clone(&self) -> Self {
        PlogLogReader {
            reader: self.reader.clone(),
        }
    }
}

fn io_err(e: RaftLogError) -> io::Error {
    io::Error::other(e)
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

    /// How the writes went since the store was opened
    /// ([`WriteStats::syncs`] counts the `fdatasync`s of appends).
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
    pub fn purge_to(&mut self, log_id: LogIdOf<C>) -> Result<(), RaftLogError> {
        self.store.purge_to(log_id)
    }

    /// Appends `entries` (readable when this returns) and calls `done` once
    /// they are durable, as the 0.9 store's `append_with` does: it may
    /// block (serializing, a truncate for an append over existing entries,
    /// and, when the I/O thread has nothing queued, the write and sync
    /// themselves on this thread, `done` then being called before it
    /// returns); otherwise `done` is called from the I/O thread. Entries at
    /// or below the purged id are dropped, entries at or below the last
    /// index replace it and what follows.
    ///
    /// # Errors
    /// A batch that is not contiguous, a poisoned store, a stopped I/O
    /// thread, an entry that does not serialize.
    pub fn append_with<I>(
        &mut self,
        entries: I,
        done: impl FnOnce(io::Result<()>) + Send + 'static,
    ) -> Result<(), RaftLogError>
    where
        I: IntoIterator<Item = C::Entry>,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        self.store.append_with(entries, Done::Fn(Box::new(done)))
    }

    /// As [`Self::append_with`], but nothing that blocks runs on the
    /// caller's task (a batch of 64 entries or more is serialized on the
    /// rayon pool, a truncate is awaited).
    ///
    /// # Errors
    /// As [`Self::append_with`].
    pub async fn append_async<I>(
        &mut self,
        entries: I,
        done: impl FnOnce(io::Result<()>) + Send + 'static,
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
    ) -> Result<Vec<C::Entry>, io::Error> {
        self.reader
            .read(bounds(&range))
            .await
            .map_err(io::Error::other)
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, io::Error> {
        Ok(self.reader.vote())
    }
}

impl<C: RaftTypeConfig> RaftLogReader<C> for PlogLogStore<C> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, io::Error> {
        self.reader().try_get_log_entries(range).await
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, io::Error> {
        Ok(self.store.reader().vote())
    }
}

impl<C: RaftTypeConfig> RaftLogStorage<C> for PlogLogStore<C> {
    type LogReader = PlogLogReader<C>;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let (last_purged_log_id, last_log_id) = self.store.log_state();
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> Result<(), io::Error> {
        self.store.save_vote(vote.clone()).await.map_err(io_err)
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        self.store.save_committed(committed).map_err(io_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<C>>, io::Error> {
        Ok(self.store.read_committed())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = C::Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        self.store
            .append_awaiting(entries, Done::Raft(callback))
            .await
            .map_err(io_err)
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index + 1);
        self.store.truncate_async(from).await.map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        self.store.purge_async(log_id).await.map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    openraft010::declare_raft_types!(Config: D = String, R = String);

    /// Appends made back to back, as openraft 0.10's core makes them
    /// (`append` returns once queued), are written by far fewer
    /// `fdatasync`s than appends; each callback runs after an `fdatasync`
    /// that finished after its append was submitted (so one that covers
    /// it), and the callbacks run in the order of the appends.
    #[test]
    fn group_commit_callbacks_follow_their_sync_in_order() {
        const N: usize = 200;
        let dir = tempfile::tempdir().unwrap();
        let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
        let shared = Arc::clone(store.store.shared());
        let syncs = move || shared.stats.snapshot().syncs();
        // (append, syncs done when it was submitted, syncs done when its
        // callback ran), in the order the callbacks ran.
        let seen: Arc<Mutex<Vec<(usize, u64, u64)>>> = Arc::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            for k in 0..N {
                let entry = RaftEntry::new_normal(
                    openraft010::testing::log_id::<Config>(1, 0, k as u64 + 1),
                    format!("{k:>100}"),
                );
                let at_submit = syncs();
                let (seen, syncs) = (Arc::clone(&seen), syncs.clone());
                let done = Done::Fn(Box::new(move |result: io::Result<()>| {
                    result.unwrap();
                    seen.lock().unwrap().push((k, at_submit, syncs()));
                }));
                store
                    .store
                    .append_awaiting(vec![entry], done)
                    .await
                    .unwrap();
            }
        });
        drop(store); // waits for every callback
        let total = syncs();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), N, "every callback ran once");
        for (pos, &(k, at_submit, at_callback)) in seen.iter().enumerate() {
            assert_eq!(k, pos, "callbacks out of order: {:?}", &seen[..=pos]);
            assert!(
                at_callback > at_submit,
                "the callback of append {k} ran with {at_callback} fdatasyncs done, \
                 as many as when it was submitted: before the one that covers it"
            );
        }
        assert!(total >= 1, "no fdatasync for {N} appends");
        assert!(
            total as usize <= N / 4,
            "{N} appends submitted back to back took {total} fdatasyncs: expected group commit"
        );
    }
}
