//! Development support for plog-raft (not published): openraft clusters in
//! one process, for plog-raft's example, tests and end-to-end benchmark.
//!
//! * [`state`]: one small in-memory state machine ([`MemStateMachine`]),
//!   generic over the type config through [`ClusterConfig`], with
//!   snapshots, so a lagging node can be brought up to date.
//! * [`kv`]: the key-value type config the tests and the example use
//!   (`Request { key, value }`).
//! * [`engenho`]: engenho-store's shape: engenho journal entries
//!   (Kubernetes objects, plog-testdata's generator) applied to a map of
//!   objects keyed by resource.
//! * [`network`]: the in-memory network (each RPC a direct call on the
//!   target's `Raft` handle).
//! * [`cluster`]: a cluster builder, each node on its own tokio runtime
//!   (as each engenho-store node is its own process) and on whatever log
//!   store it is given.
//! * [`fjall_log`]: the baseline log store, fjall written exactly as
//!   engenho-store's `FjallStore` writes its Raft log.
//! * [`mem_log`]: a log store in memory, the benchmark's floor (what the
//!   cluster costs without a disk).
//! * [`load`]: the end-to-end benchmark's driver, independent of the
//!   openraft version: concurrent clients proposing through one
//!   [`load::Target`], latency percentiles and writes per second, and the
//!   table against the baseline. [`load::openraft09`] is the openraft 0.9
//!   adapter; `v010::cluster` (feature `openraft-010`) the openraft 0.10
//!   one.
//!
//! * `v010` (feature `openraft-010`): the openraft 0.10 side, fjall as
//!   engenho-store writes its log, the same state machine logic, the
//!   three-node cluster and its load adapter under openraft 0.10.
//!
//! Everything else here is openraft 0.9 (what plog-raft and engenho-store use)
//! except [`load`]'s driver and [`engenho::apply_merge_patch`].

pub mod cluster;
pub mod engenho;
pub mod fjall_log;
pub mod kv;
pub mod load;
pub mod mem_log;
pub mod network;
pub mod state;
#[cfg(feature = "openraft-010")]
pub mod v010;

pub use cluster::{Cluster, Node};
pub use fjall_log::FjallLogStore;
pub use mem_log::MemLogStore;
pub use state::{ClusterConfig, Data, MemStateMachine};

/// The error of this crate's setup steps (opening, starting, waiting): a
/// message saying what was expected and what happened.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
