//! The in-memory index of a log: its segments (where each durable record
//! is, which records are still queued) and the last and purged log ids.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use crate::flavor::Flavor;

/// An entry's JSON and its BLAKE3 hash, computed by the caller's
/// thread. The JSON lives in a buffer shared with the entries serialized
/// beside it: one allocation per batch (or per part of one) instead of one
/// of a kilobyte or more per entry, which glibc's malloc pays for dearly
/// right after a batch of entry trees was freed.
#[derive(Debug)]
pub(crate) struct Payload {
    pub buf: Arc<Vec<u8>>,
    pub range: std::ops::Range<usize>,
    pub hash: plog_format::Hash,
}

impl Payload {
    /// The entry's JSON.
    pub(crate) fn json(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }
}

/// One segment in the in-memory index.
#[derive(Debug)]
pub(crate) struct Segment {
    pub path: PathBuf,
    /// A read handle, once the file exists.
    pub file: Option<Arc<File>>,
    /// The offset of each durable record (indices `first..first +
    /// offsets.len()`).
    pub offsets: Vec<u64>,
    /// The end of the durable records.
    pub end: u64,
    /// The records queued after them (the next indices), until they are
    /// durable.
    pub pending: VecDeque<Arc<Payload>>,
    /// Where the segment will end once the queued records are written
    /// (the write marks aside): decides when a new segment starts.
    pub planned_end: u64,
    /// Found at open or cut by a truncate: never appended to again.
    pub sealed: bool,
}

impl Segment {
    /// A segment this store is about to create at `path`: nothing written.
    pub(crate) fn new(path: PathBuf) -> Segment {
        Segment {
            path,
            file: None,
            offsets: Vec::new(),
            end: plog_format::MAGIC_LEN as u64,
            pending: VecDeque::new(),
            planned_end: plog_format::MAGIC_LEN as u64,
            sealed: false,
        }
    }

    /// Records held, durable or queued.
    pub(crate) fn count(&self) -> usize {
        self.offsets.len() + self.pending.len()
    }
}

/// The index of the log: segments by first index, and the log ids.
#[derive(Debug)]
pub(crate) struct LogIndex<F: Flavor> {
    pub segments: BTreeMap<u64, Segment>,
    /// The last entry present above `purged`.
    pub last: Option<F::LogId>,
    pub purged: Option<F::LogId>,
    /// Set by a failed write: every later write is refused.
    pub poisoned: Option<String>,
}

impl<F: Flavor> LogIndex<F> {
    /// The index the next append must carry, if any is determined.
    pub(crate) fn next_index(&self) -> Option<u64> {
        self.last
            .as_ref()
            .or(self.purged.as_ref())
            .map(|id| F::index(id) + 1)
    }

    /// The index of the last purged entry, if any.
    pub(crate) fn purged_index(&self) -> Option<u64> {
        self.purged.as_ref().map(F::index)
    }

    /// The index of the last entry, if any.
    pub(crate) fn last_index(&self) -> Option<u64> {
        self.last.as_ref().map(F::index)
    }
}
