//! The openraft 0.10 baseline log store is a correct openraft 0.10 log
//! store: openraft 0.10's conformance suite against fjall written as
//! engenho-store writes its log.

use openraft010::StorageError;
use openraft010::testing::log::{StoreBuilder, Suite};
use openraft010::type_config::TypeConfigExt;
use plog_raft_cluster::v010::{FjallLogStore, KvConfig, KvStateMachine};
use tempfile::TempDir;

struct Builder;

impl StoreBuilder<KvConfig, FjallLogStore<KvConfig>, KvStateMachine, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, FjallLogStore<KvConfig>, KvStateMachine), StorageError<KvConfig>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = FjallLogStore::open(dir.path())
            .map_err(|e| StorageError::write_logs(KvConfig::err_from_error(&e)))?;
        Ok((dir, store, KvStateMachine::default()))
    }
}

#[test]
fn openraft010_suite_on_fjall_as_engenho_store_writes_it() {
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(Suite::test_all(Builder));
    result.unwrap_or_else(|e| panic!("openraft 0.10's suite failed: {e}"));
}
