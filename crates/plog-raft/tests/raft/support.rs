//! The type config and state machine the tests run openraft with: the
//! workspace's one copy, in plog-raft-cluster (shared with the cluster
//! example and the end-to-end benchmark).
#![allow(unused_imports)]

pub use plog_raft_cluster::kv::{Config, Request, Response};

/// The in-memory key-value state machine (with snapshots).
pub type MemStateMachine = plog_raft_cluster::MemStateMachine<Config>;
