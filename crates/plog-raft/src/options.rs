//! What a user chooses when opening a store, and what it reports about its
//! writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a store lays out its segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// A new segment is started once the current one holds at least this
    /// many bytes (default 64 MiB). Purge works in whole segments, and
    /// recovery verifies segments in parallel.
    pub segment_bytes: u64,
    /// Whether `try_get_log_entries` checks every record's BLAKE3 hash
    /// again (default `true`). Every record a store holds was verified once
    /// already (at open, or written from memory by this store), but the
    /// bytes are read again from the file, where another program or the
    /// medium may have changed them since: a replicated log must not serve
    /// an entry that is not the one made durable. Reads always check each
    /// record's structure, that its index is the one asked for, and that
    /// its payload decodes to an entry of that index; the hashing costs
    /// about 3 % of decoding an engenho-sized entry. `false` skips it.
    pub verify_reads: bool,
    /// The permission bits of the segments and the state file (default
    /// `0o600`: only the owner reads the log), set whatever the umask.
    pub file_mode: u32,
    /// The permission bits of a log directory the store creates (default
    /// `0o700`; subject to the umask, as `mkdir` is).
    pub dir_mode: u32,
    /// How long an open waits for another store of this process that holds
    /// the same directory to be dropped (default 5 s; openraft drops its
    /// log store a moment after `Raft::shutdown` returns). A store of
    /// another process is [`RaftLogError::Locked`](crate::RaftLogError::Locked)
    /// at once.
    pub lock_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_bytes: 64 << 20,
            verify_reads: true,
            file_mode: 0o600,
            dir_mode: 0o700,
            lock_wait: Duration::from_secs(5),
        }
    }
}

/// How the store's writes went, since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Writes (one `pwrite` and one `fdatasync` each) that landed in zeros
    /// the preallocator had already written and synced: the data alone is
    /// flushed.
    pub overwrites: u64,
    /// Writes that extended the file (the preallocator was not ahead; the
    /// flush also commits the new size).
    pub growths: u64,
}

impl WriteStats {
    /// Every `fdatasync` of appended records: one per write of a group
    /// commit, whichever kind.
    pub fn syncs(&self) -> u64 {
        self.overwrites + self.growths
    }
}

/// The counters behind [`WriteStats`], bumped by the I/O thread.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub overwrites: AtomicU64,
    pub growths: AtomicU64,
}

impl Stats {
    /// What the counters say now.
    pub(crate) fn snapshot(&self) -> WriteStats {
        WriteStats {
            overwrites: self.overwrites.load(Ordering::Relaxed),
            growths: self.growths.load(Ordering::Relaxed),
        }
    }
}
