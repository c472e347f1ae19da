//! The seam between the store and an openraft version: what the store
//! needs of openraft's types, and nothing else.
//!
//! The store (segments, the I/O thread, recovery, the index, the state
//! file, reads) is written once against [`Flavor`]; each openraft version
//! has a small adapter module (`v09`, `v010`) with a marker type that
//! implements it and the public store and reader types that implement that
//! version's `RaftLogStorage` and `RaftLogReader`.

use std::fmt::{Debug, Display};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// An openraft version's entry, log id, vote and flush callback, as the
/// store sees them.
pub(crate) trait Flavor: Clone + Debug + Send + Sync + 'static {
    /// A log entry (serde_json is what a record's payload holds).
    type Entry: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// A log id: a leader and an index.
    type LogId: Clone
        + Debug
        + Display
        + PartialEq
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;
    /// A vote (only stored and given back).
    type Vote: Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    /// What openraft's `append` hands over to be told when its entries are
    /// durable.
    type Flushed: Send + 'static;

    /// The log id of `entry`.
    fn log_id(entry: &Self::Entry) -> Self::LogId;
    /// The index of `id`.
    fn index(id: &Self::LogId) -> u64;
    /// Whether `a` was proposed by a later leader than `b` (along a log,
    /// leaders never go backwards).
    fn leader_after(a: &Self::LogId, b: &Self::LogId) -> bool;
    /// Tells openraft that the entries of one `append` are durable (or
    /// why not).
    fn flushed(callback: Self::Flushed, result: std::io::Result<()>);
}
