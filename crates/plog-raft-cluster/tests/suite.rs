//! The baseline log store and the floor are correct openraft 0.9 log
//! stores: openraft's own conformance suite against each.

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};
use plog_raft_cluster::kv::Config;
use plog_raft_cluster::{FjallLogStore, MemLogStore, MemStateMachine};
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

struct MemBuilder;

impl StoreBuilder<Config, MemLogStore<Config>, MemStateMachine<Config>, ()> for MemBuilder {
    async fn build(
        &self,
    ) -> Result<((), MemLogStore<Config>, MemStateMachine<Config>), StorageError<u64>> {
        Ok(((), MemLogStore::default(), MemStateMachine::default()))
    }
}

#[test]
fn openraft_suite_on_the_memory_floor() {
    Suite::test_all(MemBuilder).unwrap_or_else(|e| panic!("openraft's suite failed: {e}"));
}
