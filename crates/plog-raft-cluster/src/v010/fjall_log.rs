//! The baseline under openraft 0.10: a log store on fjall written exactly
//! as engenho-store's `FjallStore` writes its Raft log, with the same
//! writes as the 0.9 store of [`crate::fjall_log`] (whose helpers it uses):
//!
//! * `append`: each entry's `serde_json::to_vec` `insert`ed under its
//!   big-endian index, one `persist(SyncAll)`, then the callback;
//! * `save_vote`, `save_committed`: `insert`, `persist(SyncAll)`;
//! * `truncate_after`: the keys after the kept log id removed one by one,
//!   `persist(SyncAll)`;
//! * `purge`: every key visited, those up to the index removed one by one,
//!   `last_purged` inserted, `persist(SyncAll)`.
//!
//! As in engenho-store, all of it runs on the caller's task (the fsyncs
//! block the runtime's worker for their duration, deliberately: that is
//! what engenho-store pays).

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use fjall::{Keyspace, PartitionHandle};
use openraft010::RaftTypeConfig;
use openraft010::entry::RaftEntry;
use openraft010::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft010::type_config::alias::{LogIdOf, VoteOf};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::fjall_log::{
    META_COMMITTED, META_LAST_PURGED, META_VOTE, append_as_engenho, meta_get, meta_put,
    open_keyspace, other, persist, remove_through, truncate_from,
};

/// What the store keeps in memory (read back at open).
struct Cached<C: RaftTypeConfig> {
    vote: Option<VoteOf<C>>,
    committed: Option<LogIdOf<C>>,
    last_purged: Option<LogIdOf<C>>,
}

struct Inner<C: RaftTypeConfig> {
    keyspace: Keyspace,
    log: PartitionHandle,
    meta: PartitionHandle,
    cached: Mutex<Cached<C>>,
}

/// An openraft 0.10 log store on fjall, as engenho-store writes its log
/// (see the module documentation); clones share it (and are its log
/// reader).
pub struct FjallLogStore<C: RaftTypeConfig> {
    inner: Arc<Inner<C>>,
}

impl<C: RaftTypeConfig> Clone for FjallLogStore<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> FjallLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
    LogIdOf<C>: Serialize + DeserializeOwned,
    VoteOf<C>: Serialize + DeserializeOwned,
{
    /// Opens (or creates) the keyspace at `dir` and reads the vote, the
    /// committed id and the last purged id back.
    ///
    /// # Errors
    /// When fjall cannot open the keyspace or a partition, or a stored
    /// value is not the JSON it should be.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        let (keyspace, log, meta) = open_keyspace(dir.as_ref())?;
        let cached = Cached {
            vote: meta_get(&meta, META_VOTE)?,
            committed: meta_get(&meta, META_COMMITTED)?,
            last_purged: meta_get(&meta, META_LAST_PURGED)?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                keyspace,
                log,
                meta,
                cached: Mutex::new(cached),
            }),
        })
    }

    /// The `log` partition (to read what the store wrote).
    pub fn log_partition(&self) -> &PartitionHandle {
        &self.inner.log
    }

    fn cached(&self) -> MutexGuard<'_, Cached<C>> {
        self.inner
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn decode(bytes: &[u8]) -> io::Result<C::Entry> {
        serde_json::from_slice(bytes)
            .map_err(|e| other("decode a log entry (expected its JSON)", e))
    }
}

impl<C> RaftLogReader<C> for FjallLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
    LogIdOf<C>: Serialize + DeserializeOwned,
    VoteOf<C>: Serialize + DeserializeOwned,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, io::Error> {
        let be = |bound: Bound<&u64>| bound.map(|i| i.to_be_bytes());
        let keys = (be(range.start_bound()), be(range.end_bound()));
        let mut entries = Vec::new();
        for item in self.inner.log.range(keys) {
            let (_, value) = item.map_err(|e| other("fjall read", e))?;
            entries.push(Self::decode(&value)?);
        }
        Ok(entries)
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, io::Error> {
        Ok(self.cached().vote.clone())
    }
}

impl<C> RaftLogStorage<C> for FjallLogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned,
    LogIdOf<C>: Serialize + DeserializeOwned,
    VoteOf<C>: Serialize + DeserializeOwned,
{
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let last_purged_log_id = self.cached().last_purged.clone();
        let last = self
            .inner
            .log
            .last_key_value()
            .map_err(|e| other("fjall read", e))?;
        let last_log_id = match last {
            Some((_, value)) => Some(Self::decode(&value)?.log_id()),
            None => last_purged_log_id.clone(),
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> Result<(), io::Error> {
        meta_put(&self.inner.meta, META_VOTE, vote)?;
        persist(&self.inner.keyspace)?;
        self.cached().vote = Some(vote.clone());
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        meta_put(&self.inner.meta, META_COMMITTED, &committed)?;
        persist(&self.inner.keyspace)?;
        self.cached().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<C>>, io::Error> {
        Ok(self.cached().committed.clone())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = C::Entry> + Send,
        I::IntoIter: Send,
    {
        append_as_engenho(
            &self.inner.keyspace,
            &self.inner.log,
            entries.into_iter().map(|e| (e.log_id().index, e)),
        )?;
        callback.io_completed(Ok(()));
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogIdOf<C>>) -> Result<(), io::Error> {
        let from = last_log_id.map_or(0, |id| id.index + 1);
        truncate_from(&self.inner.keyspace, &self.inner.log, from)
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), io::Error> {
        remove_through(&self.inner.log, log_id.index)?;
        meta_put(&self.inner.meta, META_LAST_PURGED, &Some(log_id.clone()))?;
        persist(&self.inner.keyspace)?;
        self.cached().last_purged = Some(log_id);
        Ok(())
    }
}
