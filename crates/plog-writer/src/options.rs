//! How a writer opens a log and when it syncs.

use core::fmt;

use plog_format::IndexOrder;

/// When a [`Writer`](crate::Writer) makes appends durable.
///
/// [`GroupCommit`](crate::GroupCommit) ignores this: every append through it is
/// durable when it returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// Every append (and every batch) is written in one `write` and made
    /// durable with `fdatasync` before the call returns. The default.
    #[default]
    EveryAppend,
    /// Appends are encoded into an in-memory buffer and written to the OS
    /// when the buffer passes [`MANUAL_FLUSH_BYTES`](crate::MANUAL_FLUSH_BYTES)
    /// or on [`Writer::flush`](crate::Writer::flush); nothing is durable
    /// until [`Writer::sync`](crate::Writer::sync) (or
    /// [`Writer::close`](crate::Writer::close)) returns.
    Manual,
}

impl SyncPolicy {
    /// The stable name: `"every_append"` or `"manual"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SyncPolicy::EveryAppend => "every_append",
            SyncPolicy::Manual => "manual",
        }
    }
}

/// How to open (or create) a log for writing.
///
/// ```
/// use plog_writer::{SyncPolicy, WriterOptions};
/// use plog_format::IndexOrder;
///
/// let options = WriterOptions {
///     index_order: IndexOrder::Contiguous,
///     max_payload_len: Some(1 << 20),
///     ..WriterOptions::default()
/// };
/// assert_eq!(options.sync, SyncPolicy::EveryAppend);
/// assert!(options.create_if_missing);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WriterOptions {
    /// When appends become durable (default: every append).
    pub sync: SyncPolicy,
    /// Which indices an append may carry, compared with the last record of
    /// the log (default: any, like engenho-store). A rejected append writes
    /// nothing. Records already in the file are never rejected; their
    /// violations are counted in the [`OpenReport`](crate::OpenReport).
    pub index_order: IndexOrder,
    /// The largest payload an append may carry, in bytes (default: no limit).
    pub max_payload_len: Option<u64>,
    /// Create the log (and its missing parent directories) when the file
    /// does not exist (default: true).
    pub create_if_missing: bool,
    /// Preallocate: grow the file in zero-filled chunks of this many bytes
    /// ahead of the records (default: off). Suggested: 1 MiB to 64 MiB.
    ///
    /// An append that grows a file makes `fdatasync` commit the file
    /// system's journal (the new length is metadata); an append that
    /// overwrites blocks already allocated and written does not, which
    /// makes a durable single append markedly faster (see BENCHMARKS.md).
    /// This is what etcd's and PostgreSQL's write-ahead logs do.
    ///
    /// The price: while the writer is open, and after a crash, the file
    /// ends in zeros — FORMAT.md's zero-filled torn tail. plog's readers
    /// read every record and report the tail as torn; the next open for
    /// writing (or `plog repair`) truncates it. A clean close (drop,
    /// [`Writer::close`](crate::Writer::close)) truncates it and syncs, so
    /// the file is exactly what the v1 writer in the field would write;
    /// engenho-store's own replay, which rejects trailing zeros, can read it
    /// again only after such a close or a repair.
    ///
    /// A power cut in the middle of an append also lands differently.
    /// Growing the file, the bytes of the record that did not reach the disk
    /// are missing: a torn tail, repaired by the next open. Over
    /// preallocated zeros they read as zeroed sectors inside a record whose
    /// full length is present, which FORMAT.md classifies as a hash
    /// mismatch (`plog verify` reports it as corruption, naming the zeroed
    /// sector). The record was never acknowledged, so the next open drops
    /// it ([`OpenReport::dropped_torn_append`](crate::OpenReport::dropped_torn_append)),
    /// as does `plog repair`. A process killed in the middle of an append
    /// leaves the same: the kernel stops a `pwrite` between pages.
    ///
    /// Truncating the zeros at close shrinks the file: a plog-mmap reader
    /// that mapped it meanwhile (`Log::open` maps the length it finds) ends
    /// its pass with the changed-file error rather than a result, and opens
    /// it again (plog-mmap's "Safety of the mapping" is the one statement
    /// of what a mapping may see).
    pub preallocate: Option<u64>,
    /// The permission bits of a log this writer creates (default
    /// [`DEFAULT_FILE_MODE`], `0o600`: only the owner reads it; a log of
    /// engenho-store carries Kubernetes Secrets). Set exactly, whatever the
    /// process's umask. An existing log keeps its mode; the
    /// [`OpenReport::exposure`](crate::OpenReport::exposure) says when
    /// others can read it. Ignored where there are no Unix permissions.
    pub file_mode: u32,
    /// The permission bits of each missing parent directory this writer
    /// creates (default [`DEFAULT_DIR_MODE`], `0o700`), set exactly,
    /// whatever the umask. Existing directories are left as they are.
    pub dir_mode: u32,
}

/// The default mode of a log plog creates: read and write for the owner
/// only (as etcd creates its WAL files).
pub const DEFAULT_FILE_MODE: u32 = 0o600;

/// The default mode of a directory plog creates: the owner only (as etcd
/// creates its data directory).
pub const DEFAULT_DIR_MODE: u32 = 0o700;

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions {
            sync: SyncPolicy::EveryAppend,
            index_order: IndexOrder::Any,
            max_payload_len: None,
            create_if_missing: true,
            preallocate: None,
            file_mode: DEFAULT_FILE_MODE,
            dir_mode: DEFAULT_DIR_MODE,
        }
    }
}

/// A point in a log: its length in bytes, how many records lie before it and
/// the index of the last of them.
///
/// Errors use it to say exactly what is durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LogPosition {
    /// Bytes from the start of the file (the magic included).
    pub len: u64,
    /// Valid records before `len`.
    pub records: u64,
    /// The index of the last of them.
    pub last_index: Option<u64>,
}

impl LogPosition {
    /// The position after one more record of `encoded_len` bytes.
    pub(crate) fn advanced(self, index: u64, encoded_len: u64) -> LogPosition {
        LogPosition {
            len: self.len.saturating_add(encoded_len),
            records: self.records.saturating_add(1),
            last_index: Some(index),
        }
    }
}

impl fmt::Display for LogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last_index {
            Some(last) => write!(
                f,
                "{} record(s) through index {last}, {} bytes",
                self.records, self.len
            ),
            None => write!(f, "no records, {} bytes", self.len),
        }
    }
}

/// Where an accepted append went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Appended {
    /// Byte offset of the (first) record's header.
    pub offset: u64,
    /// Records appended (1 for a single append).
    pub records: u64,
    /// Index of the last record appended.
    pub last_index: u64,
    /// Bytes appended (headers and payloads).
    pub bytes: u64,
}

impl Appended {
    /// Offset just past the appended records.
    pub fn end_offset(&self) -> u64 {
        self.offset.saturating_add(self.bytes)
    }
}
