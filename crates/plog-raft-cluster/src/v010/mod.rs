//! The openraft 0.10 side of the harness (feature `openraft-010`): the
//! same state machine logic as the 0.9 side ([`state::MemStateMachine`]
//! applies commands through the 0.9 side's [`crate::ClusterConfig`]), and
//! fjall written as engenho-store writes its log ([`fjall_log`]), beside
//! plog-raft's `plog_raft::v010::PlogLogStore`.

pub mod cluster;
pub mod fjall_log;
pub mod state;

pub use fjall_log::FjallLogStore;
pub use state::{Command, Config010, MemStateMachine};

openraft010::declare_raft_types!(
    /// The key-value type config under openraft 0.10 (the commands and
    /// responses of [`crate::kv`]).
    pub KvConfig: D = Command<crate::kv::Request>, R = crate::kv::Response
);

impl Config010 for KvConfig {
    type Logic = crate::kv::Config;

    fn command(entry: Self::Entry) -> Option<crate::kv::Request> {
        match entry.payload {
            openraft010::EntryPayload::Normal(Command(command)) => Some(command),
            _ => None,
        }
    }
}

openraft010::declare_raft_types!(
    /// engenho-store's shape under openraft 0.10 (the journal entries and
    /// responses of [`crate::engenho`]).
    pub EngConfig: D = Command<plog_testdata::JournalEntry>, R = crate::engenho::Applied
);

impl Config010 for EngConfig {
    type Logic = crate::engenho::Eng;

    fn command(entry: Self::Entry) -> Option<plog_testdata::JournalEntry> {
        match entry.payload {
            openraft010::EntryPayload::Normal(Command(command)) => Some(command),
            _ => None,
        }
    }
}

/// The key-value state machine under openraft 0.10.
pub type KvStateMachine = MemStateMachine<KvConfig>;

/// The engenho object map under openraft 0.10.
pub type EngStateMachine = MemStateMachine<EngConfig>;
