//! `PersistentLog`: engenho-store's API, on plog's reader and writer.

use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use plog_format::Corruption;
use plog_mmap::{Log, OpenError, OpenOptions, ReplayError, ReplayOptions};
use plog_writer::{GroupCommit, LockedLog, OpenReport, WriteError, WriterOptions};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error of [`PersistentLog`], with engenho-store's variants and kinds
/// first and plog's additions after them.
///
/// [`PersistentLogError::kind`] is a stable string for telemetry. The first
/// five variants and their kinds are exactly engenho-store's; the others are
/// conditions engenho-store never reported (it crashed, or did not check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersistentLogError {
    /// An I/O error (kind `"io"`). The message names the file and, for a
    /// failed append, what is durable.
    #[error("io: {0}")]
    Io(String),
    /// The file does not start with the v1 magic (kind `"bad_magic"`).
    #[error("bad magic: the file is not an engenho persistent log v1")]
    BadMagic,
    /// A record's payload does not match its BLAKE3 hash (kind
    /// `"hash_mismatch"`).
    #[error("hash mismatch in the record with index {index}")]
    HashMismatch {
        /// The damaged record's index.
        index: u64,
    },
    /// An entry could not be serialized to JSON (kind `"encode"`).
    #[error("encode: {0}")]
    Encode(String),
    /// A valid record's payload is not the JSON of the requested type (kind
    /// `"decode"`).
    #[error("decode: record {index}: {detail}")]
    Decode {
        /// The record's index.
        index: u64,
        /// What the JSON decoder said.
        detail: String,
    },
    /// plog: another writer holds the log's lock (kind `"locked"`).
    /// engenho-store took no lock, so two writers could interleave records.
    #[error("locked: another writer holds {path}'s lock (one writer per file)", path = path.display())]
    Locked {
        /// The log.
        path: PathBuf,
    },
    /// plog: a record's length field is damaged (kind `"damaged_length"`);
    /// engenho-store aborted the process on this. The bytes from `offset` to
    /// `resync_offset` are lost; valid records follow.
    #[error(
        "damaged length field in the record at offset {offset} (index field {index}); \
         valid records resume at offset {resync_offset}"
    )]
    DamagedLength {
        /// Offset of the damaged header.
        offset: u64,
        /// The damaged header's index field.
        index: u64,
        /// Where valid records resume.
        resync_offset: u64,
    },
    /// plog: the file is a log of another format version (kind
    /// `"unsupported_version"`); engenho-store called this `bad_magic`.
    #[error("unsupported format version v{version}: plog reads v1")]
    UnsupportedVersion {
        /// The version in the file's magic.
        version: u32,
    },
    /// plog: appends are refused because the log is corrupt (kind
    /// `"corrupt"`): engenho-store appended behind the damage, which then
    /// stayed in the middle of the log forever. Replay still reports the
    /// damage itself; `plog repair` says how to recover.
    #[error("corrupt log, appends refused: {detail}")]
    Corrupt {
        /// The first corruption, with offset and index.
        detail: String,
    },
}

impl PersistentLogError {
    /// The stable kind: `"io"`, `"bad_magic"`, `"hash_mismatch"`, `"encode"`,
    /// `"decode"` (engenho-store's), and plog's `"locked"`,
    /// `"damaged_length"`, `"unsupported_version"`, `"corrupt"`.
    pub fn kind(&self) -> &'static str {
        match self {
            PersistentLogError::Io(_) => "io",
            PersistentLogError::BadMagic => "bad_magic",
            PersistentLogError::HashMismatch { .. } => "hash_mismatch",
            PersistentLogError::Encode(_) => "encode",
            PersistentLogError::Decode { .. } => "decode",
            PersistentLogError::Locked { .. } => "locked",
            PersistentLogError::DamagedLength { .. } => "damaged_length",
            PersistentLogError::UnsupportedVersion { .. } => "unsupported_version",
            PersistentLogError::Corrupt { .. } => "corrupt",
        }
    }

    fn from_corruption(corruption: &Corruption) -> PersistentLogError {
        match *corruption {
            Corruption::BadMagic { .. } => PersistentLogError::BadMagic,
            Corruption::UnsupportedVersion { version } => {
                PersistentLogError::UnsupportedVersion { version }
            }
            Corruption::HashMismatch { index, .. } => PersistentLogError::HashMismatch { index },
            Corruption::Length {
                offset,
                index,
                resync_offset,
                ..
            } => PersistentLogError::DamagedLength {
                offset,
                index,
                resync_offset,
            },
            // A kind engenho-store's error has no variant for.
            _ => PersistentLogError::Corrupt {
                detail: corruption.to_string(),
            },
        }
    }

    fn from_write(err: WriteError) -> PersistentLogError {
        match err {
            WriteError::Locked { path } => PersistentLogError::Locked { path },
            WriteError::Serialize { .. } => PersistentLogError::Encode(err.to_string()),
            WriteError::Corrupt { corruption, .. } => match *corruption {
                Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. } => {
                    PersistentLogError::from_corruption(&corruption)
                }
                _ => PersistentLogError::Corrupt {
                    detail: corruption.to_string(),
                },
            },
            other => PersistentLogError::Io(other.to_string()),
        }
    }

    fn from_open(err: OpenError) -> PersistentLogError {
        PersistentLogError::Io(err.to_string())
    }

    fn from_replay(err: ReplayError) -> PersistentLogError {
        match err {
            ReplayError::Corrupt(corruption) => PersistentLogError::from_corruption(&corruption),
            ReplayError::Decode {
                offset,
                index,
                source,
            } => PersistentLogError::Decode {
                index,
                detail: format!("at offset {offset}: {source}"),
            },
            // Neither a torn tail (tolerated) nor index order (any) is an
            // error of this replay; a file that changed while it was read
            // is an I/O failure.
            other => PersistentLogError::Io(other.to_string()),
        }
    }
}

/// How the log was found at open.
#[derive(Debug)]
enum Appender {
    /// Clean (or repaired): appends go through group commit. (A replay
    /// checks every hash all the same: the lock does not keep another
    /// process from rewriting the file's bytes.)
    Ready(GroupCommit),
    /// Corrupt: the lock is held, appends are refused, replay reports the
    /// damage (as engenho-store's replay did).
    Damaged {
        _lock: LockedLog,
        first_corruption: Corruption,
    },
}

/// engenho-store's persistent log, with its API, on plog underneath.
///
/// * [`PersistentLog::open`] creates the log (and missing parent
///   directories, fsyncing the file and the directory) or opens it: it takes
///   the one-writer lock, walks the file, and cuts a torn tail left by a
///   crash (engenho-store appended behind it instead).
/// * [`PersistentLog::append`] takes `&self`: share the log across threads;
///   concurrent appends are gathered into one write and one `fdatasync`
///   (group commit), and each returns once its own record is durable.
/// * [`PersistentLog::replay`] reads the locked file through plog-mmap and
///   decodes entries in parallel on the rayon pool, in file order; the first
///   problem in file order is returned. Hashes verified at open are not
///   verified again: each byte is hashed once per open and replay.
///   [`PersistentLog::replay_each`] hands entries to a callback one at a
///   time (recovery in bounded memory).
///
/// ```
/// use plog::PersistentLog;
/// # fn main() -> Result<(), plog::PersistentLogError> {
/// let dir = tempfile::tempdir().unwrap();
/// let log = PersistentLog::open(dir.path().join("state/raft.plog"))?;
/// log.append(1, &serde_json::json!({"op": "put", "key": "/pods/a"}))?;
/// log.append(2, &serde_json::json!({"op": "delete", "key": "/pods/a"}))?;
/// let entries: Vec<(u64, serde_json::Value)> = log.replay()?;
/// assert_eq!(entries.len(), 2);
/// assert_eq!(entries[1].1["op"], "delete");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PersistentLog {
    path: PathBuf,
    appender: Appender,
    opened: Option<OpenReport>,
    /// A read handle to the locked file: replays read the bytes the lock
    /// protects, whatever happens to the path.
    reader: File,
}

impl PersistentLog {
    /// Opens the log at `path`, creating it (with its missing parent
    /// directories) when it does not exist.
    ///
    /// A torn tail (what a crash leaves) is cut to the end of the last valid
    /// record. A corrupt log still opens, so that [`PersistentLog::replay`]
    /// reports the damage as engenho-store's did, but appends to it are
    /// refused ([`PersistentLogError::Corrupt`]).
    ///
    /// # Errors
    /// `bad_magic` / `unsupported_version` for a file that is not a v1 log,
    /// `locked` when another writer holds the log, `io` otherwise.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, PersistentLogError> {
        let path = path.into();
        let options = WriterOptions::default();
        let (locked, first_corruption) = match GroupCommit::open(&path, options) {
            Ok((log, report)) => {
                let reader = log.read_handle().map_err(PersistentLogError::from_write)?;
                return Ok(PersistentLog {
                    path,
                    appender: Appender::Ready(log),
                    opened: Some(report),
                    reader,
                });
            }
            // A corrupt log still opens (below), locked, for replay to
            // report its damage.
            Err(err) if err.kind() == "corrupt" => {
                let locked = LockedLog::open(&path).map_err(PersistentLogError::from_write)?;
                match locked.summary().first_corruption {
                    Some(first_corruption) => (locked, first_corruption),
                    // Repaired by another process between the two opens:
                    // report what this open found.
                    None => return Err(PersistentLogError::from_write(err)),
                }
            }
            Err(err) => return Err(PersistentLogError::from_write(err)),
        };
        let reader = locked
            .read_handle()
            .map_err(PersistentLogError::from_write)?;
        if first_corruption.index().is_none() {
            // Not a v1 log at all: nothing to replay or append.
            return Err(PersistentLogError::from_corruption(&first_corruption));
        }
        Ok(PersistentLog {
            path,
            appender: Appender::Damaged {
                _lock: locked,
                first_corruption,
            },
            opened: None,
            reader,
        })
    }

    /// Appends `entry` (as JSON) at `index`; durable (`fdatasync`) when it
    /// returns. Any index is accepted, as engenho-store did.
    ///
    /// # Errors
    /// `encode` when `entry` cannot be serialized; `corrupt` when the log
    /// was corrupt at open; `io` when the write or sync fails (the message
    /// says what is durable; after a failed sync every later append fails,
    /// rather than trusting a retried sync).
    pub fn append<T: Serialize>(&self, index: u64, entry: &T) -> Result<(), PersistentLogError> {
        match &self.appender {
            Appender::Ready(log) => log
                .append(index, entry)
                .map(|_| ())
                .map_err(PersistentLogError::from_write),
            Appender::Damaged {
                first_corruption, ..
            } => Err(PersistentLogError::Corrupt {
                detail: format!(
                    "{first_corruption}; run `plog repair {}` to see how to recover",
                    self.path.display()
                ),
            }),
        }
    }

    /// Every entry in file order, decoded from JSON.
    ///
    /// The locked file is memory-mapped (read when small) and its entries
    /// are decoded in parallel on the current rayon pool, delivered in file
    /// order. Every record's hash is checked, on every replay, as
    /// engenho-store's reader does: the lock keeps other plog writers out,
    /// not a process that rewrites the file's bytes (a backup restored over
    /// it, a disk that went bad since open), and recovery is exactly when
    /// that must be noticed. The check costs a few percent of decoding. A
    /// torn tail — only possible here while another append is in flight,
    /// since open cut any left by a crash — ends the replay without error,
    /// as engenho-store's did.
    ///
    /// `T: Send` (engenho-store's bound was `DeserializeOwned` alone) lets
    /// entries decode on the pool's threads.
    ///
    /// # Errors
    /// The first problem in file order: `hash_mismatch` (with the record's
    /// index), `damaged_length`, `decode` (with the index), `bad_magic`,
    /// `unsupported_version`, or `io` (also when the file was truncated
    /// while it was read).
    pub fn replay<T: DeserializeOwned + Send>(&self) -> Result<Vec<(u64, T)>, PersistentLogError> {
        let log = self.open_reader()?;
        log.replay(&self.replay_options())
            .map(|replayed| replayed.entries)
            .map_err(PersistentLogError::from_replay)
    }

    /// Streaming recovery: every entry in file order, handed to `apply` one
    /// at a time, in file order, so that memory holds a bounded window of
    /// entries whatever the log's length (engenho-store: apply each entry to
    /// the state, drop it). `apply` runs on the pool's threads, one call at
    /// a time, each on the thread that decoded the entry (see
    /// [`plog_mmap::Log::replay_each`]), hence its `Send` bound. Entries with an index below
    /// `from_index` (covered by a snapshot) are skipped without being
    /// hashed or decoded. Checks and errors as [`PersistentLog::replay`];
    /// on an error, every entry before the problem was applied.
    ///
    /// ```
    /// use plog::PersistentLog;
    /// # fn main() -> Result<(), plog::PersistentLogError> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let log = PersistentLog::open(dir.path().join("raft.plog"))?;
    /// for index in 1..=10 {
    ///     log.append(index, &serde_json::json!({"op": "put", "n": index}))?;
    /// }
    /// let mut sum = 0;
    /// log.replay_each(Some(8), |_index, entry: serde_json::Value| {
    ///     sum += entry["n"].as_u64().unwrap_or(0);
    /// })?;
    /// assert_eq!(sum, 8 + 9 + 10);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`PersistentLog::replay`].
    pub fn replay_each<T: DeserializeOwned + Send>(
        &self,
        from_index: Option<u64>,
        mut apply: impl FnMut(u64, T) + Send,
    ) -> Result<(), PersistentLogError> {
        let log = self.open_reader()?;
        let options = ReplayOptions {
            from_index,
            ..self.replay_options()
        };
        log.replay_each(&options, |index, entry| {
            apply(index, entry);
            ControlFlow::Continue(())
        })
        .map(|_| ())
        .map_err(PersistentLogError::from_replay)
    }

    /// The locked file, mapped (or read when small), for one pass: its
    /// pages are released as the pass goes.
    fn open_reader(&self) -> Result<Log, PersistentLogError> {
        let handle = self
            .reader
            .try_clone()
            .map_err(|e| PersistentLogError::Io(format!("{}: {e}", self.path.display())))?;
        let options = OpenOptions {
            release_behind: true,
            ..OpenOptions::default()
        };
        Log::from_file(handle, &self.path, &options).map_err(PersistentLogError::from_open)
    }

    /// engenho-store's replay rules: a torn tail ends it, any index is
    /// fine, every hash is checked.
    fn replay_options(&self) -> ReplayOptions {
        ReplayOptions {
            check_hashes: true,
            ..ReplayOptions::default()
        }
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// plog: what opening the log found and did (created, torn tail cut,
    /// records, last index); `None` when the log was corrupt at open.
    pub fn open_report(&self) -> Option<&OpenReport> {
        self.opened.as_ref()
    }
}
