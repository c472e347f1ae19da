//! openraft's own storage conformance suite against plog-raft.

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};
use plog_raft::{Options, PlogLogStore};
use tempfile::TempDir;

use crate::support::{Config, MemStateMachine};

struct Builder {
    options: Options,
}

impl StoreBuilder<Config, PlogLogStore<Config>, MemStateMachine, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, PlogLogStore<Config>, MemStateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = PlogLogStore::open(dir.path(), self.options)
            .map_err(|e| openraft::StorageIOError::write_logs(&e))?;
        Ok((dir, store, MemStateMachine::default()))
    }
}

#[test]
fn openraft_suite_default_segments() {
    Suite::test_all(Builder {
        options: Options::default(),
    })
    .unwrap_or_else(|e| panic!("openraft's suite failed: {e}"));
}

/// The same suite with tiny segments: every few entries start a new one,
/// so truncate and purge cross segment boundaries.
#[test]
fn openraft_suite_tiny_segments() {
    Suite::test_all(Builder {
        options: Options {
            segment_bytes: 200,
            ..Options::default()
        },
    })
    .unwrap_or_else(|e| panic!("openraft's suite failed: {e}"));
}
