//! The shape of an engenho-store log entry: openraft 0.9's `Entry` and
//! engenho-store's journal entries, mirrored with serde.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// openraft's `LeaderId` (0.9, without `single-term-leader`): the leader's
/// term and node id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderId {
    /// The term.
    pub term: u64,
    /// The leader's node id.
    pub node_id: u64,
}

/// openraft's `LogId`: who appended the entry, and its index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogId {
    /// The leader that appended the entry.
    pub leader_id: LeaderId,
    /// The entry's log index (equal to the record's index field).
    pub index: u64,
}

/// openraft's `BasicNode`: a member's address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicNode {
    /// `host:port` of the member's Raft endpoint.
    pub addr: String,
}

/// openraft's `Membership`: one voter set, or two during a joint change,
/// and every member's node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The voter sets (two while a joint configuration is in effect).
    pub configs: Vec<BTreeSet<u64>>,
    /// Every member (voters and learners) by node id.
    pub nodes: BTreeMap<u64, BasicNode>,
}

/// An openraft entry's payload, externally tagged as openraft serializes
/// it: `"Blank"`, `{"Membership": ...}` or `{"Normal": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryPayload {
    /// The empty entry a new leader appends at the start of its term.
    Blank,
    /// A membership change.
    Membership(Membership),
    /// An application entry: engenho-store's journal entry.
    Normal(JournalEntry),
}

/// Which Kubernetes object a journal entry is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceKey {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
}

/// engenho-store's journal entry, internally tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JournalEntry {
    /// Create or replace an object.
    Put {
        /// The object.
        key: ResourceKey,
        /// The whole object as stored.
        value: Value,
        /// The resource version the write expects to replace (`None`: create).
        expected: Option<u64>,
        /// Who wrote it and why, for the audit trail.
        reason: Option<String>,
    },
    /// Apply a JSON merge patch to an object.
    Patch {
        /// The object.
        key: ResourceKey,
        /// The merge patch.
        patch: Value,
        /// The resource version the patch expects.
        expected: Option<u64>,
        /// Who wrote it and why.
        reason: Option<String>,
    },
    /// Delete an object.
    Delete {
        /// The object.
        key: ResourceKey,
        /// The resource version the delete expects.
        expected: Option<u64>,
        /// Who deleted it and why.
        reason: Option<String>,
    },
}

/// One record of engenho-store's Raft log: an openraft 0.9 `Entry` whose
/// application data is a [`JournalEntry`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngenhoEntry {
    /// The entry's log id.
    pub log_id: LogId,
    /// What the entry carries.
    pub payload: EntryPayload,
}
