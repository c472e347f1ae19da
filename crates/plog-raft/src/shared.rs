//! What a store, its I/O thread and its readers share: the directory, the
//! options, the in-memory index, the persisted state and the write
//! counters.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use crate::Options;
use crate::flavor::Flavor;
use crate::index::LogIndex;
use crate::options::Stats;
use crate::state::PersistedState;

/// What the store, its I/O thread and its readers share.
pub(crate) struct Shared<C: Flavor> {
    pub dir: PathBuf,
    pub options: Options,
    pub log: Mutex<LogIndex<C>>,
    pub state: Mutex<PersistedState<C>>,
    pub stats: Stats,
}

impl<C: Flavor> Shared<C> {
    pub(crate) fn log(&self) -> MutexGuard<'_, LogIndex<C>> {
        // A panic while the lock was held (there is none in this crate)
        // leaves a consistent index: every update is a few field writes.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the store poisoned (the first reason stays): every later
    /// command fails with [`crate::RaftLogError::Poisoned`].
    pub(crate) fn poison(&self, why: &str) {
        let mut log = self.log();
        if log.poisoned.is_none() {
            log.poisoned = Some(why.to_owned());
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, PersistedState<C>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
