//! Opening a log: a read-only memory map of a regular file, or the bytes read
//! into memory. The only `unsafe` code of plog lives in [`map_file`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap, MmapOptions};

use crate::OpenError;

/// Regular files at least this long are memory-mapped by [`MapPolicy::Auto`];
/// shorter ones are read (a `read` of a few pages is cheaper than setting up
/// and tearing down a mapping).
pub const DEFAULT_MIN_MAP_LEN: u64 = 64 * 1024;

/// Mappings at least this long are advised as read sequentially
/// (`madvise(MADV_SEQUENTIAL)`: aggressive read-ahead, pages freed behind).
pub const SEQUENTIAL_ADVICE_MIN_LEN: u64 = 4 * 1024 * 1024;

/// Whether [`Log::open_with`] may memory-map a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MapPolicy {
    /// Map regular files of at least [`OpenOptions::min_map_len`] bytes; read
    /// everything else (small files, pipes, `/dev/stdin`, `/proc` files) into
    /// memory. If mapping fails, the file is read instead.
    #[default]
    Auto,
    /// Never map: always read the file into memory. Gives results identical
    /// to [`MapPolicy::Auto`] on every input (tested), at the cost of memory
    /// equal to the file's length; use it when another process may truncate
    /// or rewrite the file while it is open (see the crate docs, "Safety of
    /// the mapping").
    Never,
}

/// How [`Log::open_with`] opens a file.
///
/// ```
/// use plog_mmap::{MapPolicy, OpenOptions};
/// let options = OpenOptions { map: MapPolicy::Never, ..OpenOptions::default() };
/// assert_eq!(options.min_map_len, plog_mmap::DEFAULT_MIN_MAP_LEN);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpenOptions {
    /// Whether the file may be memory-mapped.
    pub map: MapPolicy,
    /// Regular files shorter than this are read, not mapped
    /// (default [`DEFAULT_MIN_MAP_LEN`]).
    pub min_map_len: u64,
    /// The most bytes that may be read into memory (files that are read, not
    /// mapped). `None`: no limit. A pipe or device that yields more fails
    /// with [`OpenError::TooLarge`] instead of growing a buffer without end
    /// (`/dev/zero` never ends).
    pub read_limit: Option<u64>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            map: MapPolicy::Auto,
            min_map_len: DEFAULT_MIN_MAP_LEN,
            read_limit: None,
        }
    }
}

/// Where a log's bytes live. Private: a safe caller only ever sees `&[u8]`
/// borrowed from a [`Log`], never the mapping itself.
enum Backing {
    Mapped(Mmap),
    Memory(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(map) => map,
            Backing::Memory(bytes) => bytes,
        }
    }
}

/// A whole log file, memory-mapped or in memory, ready to walk, verify and
/// replay.
///
/// Its bytes are fixed while it lives: appends made to the file after
/// [`Log::open`] are not seen until [`Log::refresh`] (or a new `open`).
///
/// ```
/// use plog_mmap::Log;
/// let mut bytes = plog_format::MAGIC.to_vec();
/// plog_format::encode_record_to_vec(1, br#""hello""#, &mut bytes);
/// let log = Log::from_bytes(bytes);
/// let report = log.verify(&Default::default());
/// assert_eq!((report.records, report.first_index), (1, Some(1)));
/// let entries: Vec<(u64, String)> = log.replay().unwrap();
/// assert_eq!(entries, [(1, "hello".to_string())]);
/// ```
pub struct Log {
    backing: Backing,
    /// The open file, kept for [`Log::refresh`] (regular files only).
    file: Option<File>,
    path: Option<PathBuf>,
    options: OpenOptions,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("path", &self.path)
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

/// What [`Log::refresh`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Refresh {
    /// The log's length before the refresh.
    pub previous_len: u64,
    /// The log's length now.
    pub len: u64,
}

impl Refresh {
    /// Whether the file grew (new bytes to walk from the previous end).
    pub fn grew(&self) -> bool {
        self.len > self.previous_len
    }

    /// Whether the file shrank (it was truncated: offsets seen before past
    /// `len` are gone).
    pub fn shrank(&self) -> bool {
        self.len < self.previous_len
    }
}

impl Log {
    /// Opens a log with the default [`OpenOptions`]: regular files of at least
    /// 64 KiB are memory-mapped, anything else is read into memory.
    ///
    /// # Errors
    /// [`OpenError::Io`] when the file cannot be opened or read.
    ///
    /// # Safety of the mapping
    /// The file must not be truncated or rewritten in place by another
    /// process while the `Log` is alive (appending is fine). See the crate
    /// docs; use [`MapPolicy::Never`] when that cannot be promised.
    pub fn open(path: impl AsRef<Path>) -> Result<Log, OpenError> {
        Log::open_with(path, &OpenOptions::default())
    }

    /// Opens a log with the given options.
    ///
    /// # Errors
    /// [`OpenError::Io`] when the file cannot be opened or read,
    /// [`OpenError::TooLarge`] when a file that is read yields more than
    /// [`OpenOptions::read_limit`] bytes.
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Log, OpenError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| OpenError::io(path, "open", source))?;
        Log::from_file(file, path, options)
    }

    /// A log over a file that is already open: one that a writer holds
    /// locked, say, so that the bytes inspected are those of the locked file
    /// whatever happens to its path. `path` names it in errors and
    /// [`Log::path`]. A regular file is read from its start whatever the
    /// handle's position; anything else from where it stands.
    ///
    /// The mapping's contract is that of [`Log::open`].
    ///
    /// # Errors
    /// As [`Log::open_with`].
    pub fn from_file(
        file: File,
        path: impl AsRef<Path>,
        options: &OpenOptions,
    ) -> Result<Log, OpenError> {
        let path = path.as_ref();
        let metadata = file
            .metadata()
            .map_err(|source| OpenError::io(path, "stat", source))?;
        if metadata.is_file() {
            let backing = load_regular(&file, metadata.len(), options, path)?;
            Ok(Log {
                backing,
                file: Some(file),
                path: Some(path.to_path_buf()),
                options: *options,
            })
        } else {
            // Pipes, character devices, sockets: read what they yield.
            let bytes = read_limited(&file, options.read_limit, path)?;
            Ok(Log {
                backing: Backing::Memory(bytes),
                file: None,
                path: Some(path.to_path_buf()),
                options: *options,
            })
        }
    }

    /// Reads a whole log from a reader (e.g. standard input) into memory.
    ///
    /// # Errors
    /// [`OpenError::Io`] on a read error, [`OpenError::TooLarge`] past
    /// `read_limit` bytes.
    pub fn read_from(reader: impl Read, read_limit: Option<u64>) -> Result<Log, OpenError> {
        let bytes = read_limited(reader, read_limit, Path::new("-"))?;
        Ok(Log::from_bytes(bytes))
    }

    /// A log over bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Log {
        Log {
            backing: Backing::Memory(bytes),
            file: None,
            path: None,
            options: OpenOptions::default(),
        }
    }

    /// The whole file as it was at open (or at the last [`Log::refresh`]).
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// The file's length in bytes, as seen.
    #[inline]
    pub fn len(&self) -> u64 {
        plog_len(self.bytes())
    }

    /// Whether the file is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// Whether the bytes are a memory map of the file (rather than a copy).
    pub fn is_mapped(&self) -> bool {
        matches!(self.backing, Backing::Mapped(_))
    }

    /// The path the log was opened from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Looks at the file again and makes its current length visible: a file
    /// that grew is re-mapped (or its new bytes are read), one that shrank is
    /// cut. Offsets learned before stay valid up to the new length, so a
    /// follower resumes with `log.walk_from(previous_end)`.
    ///
    /// Logs that are not regular files (pipes, [`Log::from_bytes`]) do not
    /// change: the refresh reports the same length.
    ///
    /// Following a log that is being appended to (`plog dump --follow`):
    ///
    /// ```
    /// use std::io::Write;
    /// use plog_mmap::{Log, Step};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("raft.plog");
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
    /// std::fs::write(&path, &bytes)?;
    ///
    /// let mut log = Log::open(&path)?;
    /// let mut walk = log.walk();
    /// let seen = walk.by_ref().filter(|step| matches!(step, Step::Record(_))).count();
    /// let resume = walk.offset(); // the end of what was read (or of a torn tail)
    /// assert_eq!(seen, 1);
    ///
    /// // A writer appends...
    /// let mut record = Vec::new();
    /// plog_format::encode_record_to_vec(2, b"[]", &mut record);
    /// std::fs::OpenOptions::new().append(true).open(&path)?.write_all(&record)?;
    ///
    /// // ...and the follower sees it after a refresh, from where it stopped.
    /// assert!(log.refresh()?.grew());
    /// let new: Vec<u64> = log
    ///     .walk_from(resume)?
    ///     .filter_map(|step| match step {
    ///         Step::Record(record) => Some(record.index()),
    ///         _ => None,
    ///     })
    ///     .collect();
    /// assert_eq!(new, [2]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`OpenError::Io`] when the file cannot be inspected or read; the log
    /// keeps its previous bytes.
    pub fn refresh(&mut self) -> Result<Refresh, OpenError> {
        let previous_len = self.len();
        let Some(file) = &self.file else {
            return Ok(Refresh {
                previous_len,
                len: previous_len,
            });
        };
        let path = self.path.clone().unwrap_or_default();
        let len = file
            .metadata()
            .map_err(|source| OpenError::io(&path, "stat", source))?
            .len();
        if len == previous_len {
            return Ok(Refresh { previous_len, len });
        }
        let grown_in_memory = matches!(self.backing, Backing::Memory(_))
            && len > previous_len
            && !should_map(len, &self.options);
        if grown_in_memory {
            let mut handle = file;
            handle
                .seek(SeekFrom::Start(previous_len))
                .map_err(|source| OpenError::io(&path, "seek", source))?;
            let mut tail = read_limited(
                file,
                remaining_limit(self.options.read_limit, previous_len),
                &path,
            )?;
            if let Backing::Memory(bytes) = &mut self.backing {
                bytes.append(&mut tail);
            }
        } else {
            self.backing = load_regular(file, len, &self.options, &path)?;
        }
        Ok(Refresh {
            previous_len,
            len: self.len(),
        })
    }
}

fn plog_len(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

fn should_map(len: u64, options: &OpenOptions) -> bool {
    options.map == MapPolicy::Auto && len > 0 && len >= options.min_map_len
}

fn remaining_limit(limit: Option<u64>, used: u64) -> Option<u64> {
    limit.map(|limit| limit.saturating_sub(used))
}

/// Maps a regular file whose length is `len`, or reads it from its start.
fn load_regular(
    file: &File,
    len: u64,
    options: &OpenOptions,
    path: &Path,
) -> Result<Backing, OpenError> {
    if should_map(len, options)
        && let Some(map) = map_file(file, len)
    {
        return Ok(Backing::Mapped(map));
    }
    let mut from_start = file;
    from_start
        .seek(SeekFrom::Start(0))
        .map_err(|source| OpenError::io(path, "seek", source))?;
    Ok(Backing::Memory(read_limited(
        file,
        options.read_limit,
        path,
    )?))
}

/// Reads `reader` to its end (at most `limit` bytes).
fn read_limited(
    mut reader: impl Read,
    limit: Option<u64>,
    path: &Path,
) -> Result<Vec<u8>, OpenError> {
    let mut bytes = Vec::new();
    let read = match limit {
        Some(limit) => (&mut reader)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes),
        None => reader.read_to_end(&mut bytes),
    };
    read.map_err(|source| OpenError::io(path, "read", source))?;
    if let Some(limit) = limit
        && plog_len(&bytes) > limit
    {
        return Err(OpenError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// Maps the first `len` bytes of a regular file read-only, or `None` when
/// the mapping cannot be made (the caller then reads the file instead).
///
/// This is the one `unsafe` operation of plog. It is private to the crate:
/// callers only get `&[u8]` borrows of a [`Log`], whose contract is in the
/// crate docs ("Safety of the mapping").
#[allow(unsafe_code)]
fn map_file(file: &File, len: u64) -> Option<Mmap> {
    let len_usize = usize::try_from(len).ok()?;
    // SAFETY: `Mmap` hands out a `&[u8]` over the page cache of `file`, and
    // Rust assumes the bytes behind a shared reference never change. That
    // holds for plog's logs under this contract, which the crate docs state
    // for every caller of `Log::open`:
    //
    // * The mapping is read-only and private to this crate; it is dropped with
    //   the `Log`, and no `&[u8]` borrowed from it outlives the `Log` (the
    //   borrow checker ties every slice and `Record` to `&Log`).
    // * Its length is fixed here, at open (or at `Log::refresh`). The log is
    //   append-only: bytes appended to the file later lie past `len` and are
    //   not part of the mapping, so they are not seen until a refresh; the
    //   bytes below `len` are never rewritten by a v1 writer (it only
    //   appends, each append after the previous one was fsynced).
    // * If another process nevertheless truncates the file while it is
    //   mapped, reading a page past the new end raises SIGBUS and the process
    //   dies: a crash, not a wrong answer or memory corruption. If it rewrites
    //   bytes in place, readers may see old or new bytes (a torn record, a
    //   hash mismatch), which the format's checks then report; plog never
    //   derives a length, index or allocation from a byte without checking
    //   it against the slice bounds, so changed bytes cannot make it read
    //   out of bounds. No code here relies on two reads of the same byte
    //   agreeing for memory safety.
    // * Callers that cannot rule out truncation use `MapPolicy::Never`, which
    //   reads the file and gives identical results.
    let map = unsafe { MmapOptions::new().len(len_usize).map(file) }.ok()?;
    if len >= SEQUENTIAL_ADVICE_MIN_LEN {
        // Advice only: a kernel that refuses it changes speed, not results.
        let _ = map.advise(Advice::Sequential);
    }
    Some(map)
}
