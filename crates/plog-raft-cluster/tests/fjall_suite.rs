//! The baseline log store is a correct openraft 0.9 log store: openraft's
//! own conformance suite against it.

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};
use plog_raft_cluster::kv::Config;
use plog_raft_cluster::{FjallLogStore, MemStateMachine};
use tempfile::TempDir;

struct Builder;

impl StoreBuilder<Config, FjallLogStore<Config>, MemStateMachine<Config>, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, FjallLogStore<Config>, MemStateMachine<Config>), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = FjallLogStore::open(dir.path())
            .map_err(|e| openraft::StorageIOError::write_logs(&e))?;
        Ok((dir, store, MemStateMachine::default()))
    }
}

#[test]
fn openraft_suite_on_fjall_as_engenho_store_writes_it() {
    Suite::test_all(Builder).unwrap_or_else(|e| panic!("openraft's suite failed: {e}"));
}
