//! Opening a log: a read-only memory map of a regular file, or the bytes read
//! into memory. With `guard.rs`, [`map_file`] and [`release_pages`] hold
//! plog-mmap's `unsafe` code (besides a prefetch hint in `walk.rs`).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{Advice, Mmap, MmapOptions};

use std::ops::ControlFlow;

use crate::batch::Batch;
use crate::guard::{self, Registration};
use crate::read_ahead::Walk;
use crate::stream::{self, PassStream, STREAM_HELD_LIMIT, STREAM_WINDOW, Stream};
use crate::{FileChanged, OpenError, ReadError};

/// Regular files at least this long are memory-mapped by [`MapPolicy::Auto`];
/// shorter ones are read (a `read` of a few pages is cheaper than setting up
/// and tearing down a mapping).
pub const DEFAULT_MIN_MAP_LEN: u64 = 64 * 1024;

/// Mappings at least this long are advised as read sequentially
/// (`madvise(MADV_SEQUENTIAL)`: aggressive read-ahead, pages freed behind).
pub const SEQUENTIAL_ADVICE_MIN_LEN: u64 = 4 * 1024 * 1024;

/// How far a pass with [`OpenOptions::release_behind`] gets between two
/// releases of the pages behind it.
pub const RELEASE_STEP: u64 = 8 * 1024 * 1024;

/// Whether [`Log::open_with`] may memory-map a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MapPolicy {
    /// Map regular files of at least [`OpenOptions::min_map_len`] bytes; read
    /// smaller regular files (and `/proc` files, which report a length of 0)
    /// into memory; read files that are not regular (pipes, `/dev/stdin`,
    /// sockets, devices) once, as a stream, in bounded memory (as
    /// [`Log::from_stream`]). If mapping fails, the file is read instead.
    #[default]
    Auto,
    /// Never map: always read the file into memory. Gives results identical
    /// to [`MapPolicy::Auto`] on every input (tested), at the cost of memory
    /// equal to the file's length. The bytes are then plog's own copy, so
    /// [`Log::in_memory`] hands them out for zero-copy iteration.
    Never,
    /// Never map, never hold the file: each pass reads it through a bounded
    /// window ([`STREAM_WINDOW`](crate::STREAM_WINDOW) bytes), as a stream
    /// is read, with results identical to [`MapPolicy::Auto`] (tested);
    /// memory does not grow with the file. What [`MapPolicy::Auto`] does
    /// with a file it may not map (the process opted out of the `SIGBUS`
    /// guard, or plog's handler is not installed).
    Windowed,
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
    /// For a log read once from start to end (`plog verify`, bulk checks):
    /// each pass drops the pages it has finished with from this process's
    /// page tables as it goes, in steps of [`RELEASE_STEP`]
    /// (`madvise(MADV_DONTNEED)`; the kernel's page cache keeps them, and
    /// the bytes read are the file's as before). The mapping's resident
    /// memory then stays at a few MiB on a file of any length, and the cost
    /// of unmapping its pages (about a tenth of a pass over a file in the
    /// page cache) is paid by the pass's threads along the way instead of by
    /// one thread when the `Log` is dropped. The price: a later pass over
    /// the same `Log` faults the pages in again. Default `false`; no effect
    /// on a log that is read rather than mapped.
    pub release_behind: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            map: MapPolicy::Auto,
            min_map_len: DEFAULT_MIN_MAP_LEN,
            read_limit: None,
            release_behind: false,
        }
    }
}

/// Where a log's bytes live. Private: a safe caller never sees a slice of
/// the mapping (see the crate docs, "Safety of the mapping").
enum Backing {
    Mapped(Mapping),
    Memory(Vec<u8>),
    /// Read once, window by window, by the first pass ([`Log::from_stream`]).
    Stream(Mutex<Stream>),
    /// A regular file that is neither mapped nor held: each pass reads its
    /// first `len` bytes (its length at open) through a bounded window.
    Windowed {
        len: u64,
    },
}

/// A registered mapping. The registration is declared first so that it is
/// dropped (unregistered) before the mapping is unmapped.
struct Mapping {
    registration: Registration,
    map: Mmap,
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(mapping) => &mapping.map,
            Backing::Memory(bytes) => bytes,
            Backing::Stream(_) | Backing::Windowed { .. } => &[],
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
/// let report = log.verify(&Default::default()).unwrap();
/// assert_eq!((report.summary.records, report.summary.first_index), (1, Some(1)));
/// let replayed = log.replay::<String>(&Default::default()).unwrap();
/// assert_eq!(replayed.entries, [(1, "hello".to_string())]);
/// ```
pub struct Log {
    backing: Backing,
    /// The open file, kept for [`Log::refresh`] (regular files only).
    file: Option<File>,
    path: Option<PathBuf>,
    options: OpenOptions,
    /// Where the walk of the last pass stopped: how far past the last
    /// batch it used a pass read (the bound of the crate docs, "A pass
    /// stops where the file stopped", which the tests measure with it).
    /// For a stream, the bytes its pass read: its length.
    walked_to: AtomicU64,
    /// The window a file read in windows is read through (tests make it
    /// tiny).
    window: usize,
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
    /// The structural walk of plog's own view of the bytes (see
    /// [`Log::bytes_unchecked`] for who may see them).
    pub(crate) fn walk_data(&self) -> Walk<'_> {
        Walk::new(self.data())
    }

    pub(crate) fn walk_data_from(&self, offset: u64) -> Result<Walk<'_>, ReadError> {
        Walk::resume_at(self.data(), offset).map_err(ReadError::Offset)
    }

    /// Opens a log with the default [`OpenOptions`]: regular files of at least
    /// 64 KiB are memory-mapped, anything else is read into memory.
    ///
    /// # Errors
    /// [`OpenError::Io`] when the file cannot be opened or read.
    ///
    /// What happens when another process changes a mapped file meanwhile
    /// (appending is fine; a truncation ends a pass with
    /// [`ReadError::Changed`]; an in-place rewrite is outside what the
    /// language promises) is written once, in the crate docs ("Safety of the
    /// mapping").
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
                walked_to: AtomicU64::new(0),
                window: STREAM_WINDOW,
            })
        } else if metadata.is_dir() {
            // A directory is no log: said at open, as a read of it would.
            Err(OpenError::io(
                path,
                "read",
                std::io::Error::from(std::io::ErrorKind::IsADirectory),
            ))
        } else if options.map != MapPolicy::Never {
            // Pipes, character devices, sockets (`/dev/stdin` named by its
            // path): read once, as they arrive, through a bounded window,
            // exactly as standard input is; their length is not known.
            let mut log = Log::from_stream(file);
            log.path = Some(path.to_path_buf());
            log.options = *options;
            Ok(log)
        } else {
            // Never: the caller asked for the bytes in memory.
            let bytes = read_limited(&file, options.read_limit, path)?;
            Ok(Log {
                backing: Backing::Memory(bytes),
                file: None,
                path: Some(path.to_path_buf()),
                options: *options,
                walked_to: AtomicU64::new(0),
                window: STREAM_WINDOW,
            })
        }
    }

    /// Reads a whole log from a reader into memory (its bytes are then
    /// [`Log::in_memory`]). To check a stream of any length in bounded
    /// memory (standard input, `zstdcat LOG |`), use [`Log::from_stream`].
    ///
    /// # Errors
    /// [`OpenError::Io`] on a read error, [`OpenError::TooLarge`] past
    /// `read_limit` bytes.
    pub fn read_from(reader: impl Read, read_limit: Option<u64>) -> Result<Log, OpenError> {
        let bytes = read_limited(reader, read_limit, Path::new("-"))?;
        Ok(Log::from_bytes(bytes))
    }

    /// A log read from a stream (standard input, a pipe) in bounded memory,
    /// by its first pass: [`Log::verify`], [`Log::for_each_event`],
    /// [`Log::for_each_step`] (from offset 0), [`Log::replay`] or
    /// [`Log::replay_each`] read it through a window of
    /// [`STREAM_WINDOW`](crate::STREAM_WINDOW) bytes and give exactly what
    /// they give for the same bytes in a file; memory holds a window and the
    /// pass's batches, whatever the stream's length (a record longer than
    /// the window is held whole, up to
    /// [`STREAM_HELD_LIMIT`](crate::STREAM_HELD_LIMIT)). Nothing is read
    /// until that pass; a second pass fails with [`ReadError::Stream`], and
    /// [`Log::len`] is the length read so far.
    ///
    /// ```
    /// use plog_mmap::{Log, VerifyOptions};
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
    /// let log = Log::from_stream(std::io::Cursor::new(bytes));
    /// let report = log.verify(&VerifyOptions::default()).unwrap();
    /// assert_eq!((report.summary.records, log.len()), (1, 76));
    /// assert!(log.verify(&VerifyOptions::default()).is_err(), "read once");
    /// ```
    pub fn from_stream(reader: impl Read + Send + 'static) -> Log {
        Log::from_stream_tuned(Box::new(reader), STREAM_WINDOW, STREAM_HELD_LIMIT)
    }

    /// [`Log::from_stream`] with its window and limit (tests make them
    /// tiny).
    pub(crate) fn from_stream_tuned(
        reader: Box<dyn Read + Send>,
        window: usize,
        held_limit: u64,
    ) -> Log {
        Log {
            backing: Backing::Stream(Mutex::new(Stream::new(reader, window, held_limit))),
            file: None,
            path: Some(PathBuf::from("-")),
            options: OpenOptions::default(),
            walked_to: AtomicU64::new(0),
            window: STREAM_WINDOW,
        }
    }

    /// Whether the log is a stream read once by its first pass
    /// ([`Log::from_stream`]): a pass over it cannot resume at an offset.
    pub(crate) fn is_read_once(&self) -> bool {
        matches!(self.backing, Backing::Stream(_))
    }

    /// The stream a pass from `offset` reads: that of a log read by
    /// [`Log::from_stream`], or a fresh one over a file read in windows;
    /// `None` for a log whose bytes are mapped or held.
    pub(crate) fn pass_stream(&self, offset: u64) -> Option<Result<PassStream<'_>, ReadError>> {
        match &self.backing {
            Backing::Stream(stream) => Some(Ok(PassStream::Shared(stream::lock(stream)))),
            Backing::Windowed { len } => Some(self.file_stream(offset, *len)),
            Backing::Mapped(_) | Backing::Memory(_) => None,
        }
    }

    fn file_stream(&self, offset: u64, len: u64) -> Result<PassStream<'_>, ReadError> {
        let path = self.path.clone().unwrap_or_default();
        if offset > len {
            return Err(ReadError::Offset(
                plog_format::ParseError::OffsetOutOfRange { offset, len },
            ));
        }
        let file = self
            .file
            .as_ref()
            .map(File::try_clone)
            .transpose()
            .map_err(|error| ReadError::Stream {
                offset,
                detail: format!("cannot open {} again: {error}", path.display()),
            })?
            .ok_or_else(|| ReadError::Stream {
                offset,
                detail: "no file to read".to_string(),
            })?;
        Ok(PassStream::Own(Box::new(Stream::for_file(
            file,
            &path,
            (offset, len),
            self.window,
        ))))
    }

    /// Reads a file read in windows through `window` bytes (tests).
    #[cfg(test)]
    pub(crate) fn with_window(mut self, window: usize) -> Log {
        self.window = window;
        self
    }

    /// A log over bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Log {
        Log {
            backing: Backing::Memory(bytes),
            file: None,
            path: None,
            options: OpenOptions::default(),
            walked_to: AtomicU64::new(0),
            window: STREAM_WINDOW,
        }
    }

    /// The whole file as plog reads it, for plog's own passes. Never handed
    /// to a safe caller when mapped: plog's code does not rely on two reads
    /// of a mapped byte agreeing (see the crate docs).
    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// The bytes, zero-copy, when they are plog's own copy in memory (a log
    /// read rather than mapped: small files, pipes, [`MapPolicy::Never`],
    /// [`Log::from_bytes`]); `None` for a mapped file, whose bytes another
    /// process could change under a safe borrow. Iterate them with
    /// `plog_format::Walker` or `plog_format::Scanner` (or any log with
    /// [`Log::records`]).
    pub fn in_memory(&self) -> Option<&[u8]> {
        match &self.backing {
            Backing::Memory(bytes) => Some(bytes),
            Backing::Mapped(_) | Backing::Stream(_) | Backing::Windowed { .. } => None,
        }
    }

    /// The bytes, zero-copy, whatever the backing.
    ///
    /// # Safety
    /// For a mapped log, the caller promises that no process truncates or
    /// rewrites the file while the returned slice (or anything borrowed from
    /// it) is alive. Rust assumes that the bytes behind a shared reference
    /// never change; if the file changes anyway, a `str` made from these
    /// bytes may stop being UTF-8 and code that read a byte twice may see two
    /// values. (A truncation does not kill the process: the vanished pages
    /// read as zeros, see [`Log::check_unchanged`].) Appending to the file is
    /// fine: appended bytes lie past the mapping. Prefer [`Log::in_memory`],
    /// or the passes of [`Log`], which copy what they hand out.
    // The `unsafe` is the caller's promise above; the body is safe code.
    #[allow(unsafe_code)]
    pub unsafe fn bytes_unchecked(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// Whether the bytes of a mapped log are still those of the file: no
    /// page vanished under the mapping and the file is not shorter than the
    /// mapping. Every pass of [`Log`] checks this before each batch it uses
    /// and at its end, and returns its error instead of a result computed
    /// from changed bytes (the crate docs, "A pass stops where the file
    /// stopped"); callers of [`Log::bytes_unchecked`] call it themselves.
    /// Always `Ok` for a log in memory.
    ///
    /// # Errors
    /// [`ReadError::Changed`] naming the mapped and the current length.
    pub fn check_unchanged(&self) -> Result<(), ReadError> {
        let faulted = match &self.backing {
            Backing::Mapped(mapping) => mapping.registration.faulted(),
            Backing::Windowed { .. } => false,
            Backing::Memory(_) | Backing::Stream(_) => return Ok(()),
        };
        let error = self.changed_error();
        match &error {
            ReadError::Changed(changed) if faulted || changed.len < changed.read_len => Err(error),
            _ => Ok(()),
        }
    }

    /// The error of a pass that found the file's bytes changed under it:
    /// the length read and the file's length now.
    pub(crate) fn changed_error(&self) -> ReadError {
        let len = self
            .file
            .as_ref()
            .and_then(|file| file.metadata().ok())
            .map_or(0, |metadata| metadata.len());
        ReadError::Changed(FileChanged {
            path: self.path.clone().unwrap_or_default(),
            read_len: self.len(),
            len,
        })
    }

    /// Whether the bytes a pass read, up to offset `end`, are still the
    /// file's: no page of the mapping vanished (the guard's flag, one
    /// atomic load) and the file is still at least `end` bytes long (one
    /// `fstat`: a truncation inside the last page raises no fault, the
    /// kernel reads zeros there). Always true for a log in memory.
    ///
    /// Every pass asks before it uses a batch's results (see the crate
    /// docs, "A pass stops where the file stopped"). Bytes read before a
    /// truncation that this check, made after them, does not see were in
    /// the file: a file only shrinks by a truncation, and the check sees
    /// every one that happened before it.
    pub(crate) fn intact_to(&self, end: u64) -> bool {
        let Backing::Mapped(mapping) = &self.backing else {
            return true;
        };
        if mapping.registration.faulted() {
            return false;
        }
        match self.file.as_ref().map(File::metadata) {
            Some(Ok(metadata)) => metadata.len() >= end,
            // A file that can no longer be inspected: the flag above is
            // all there is to go by (the pass's end checks again).
            _ => true,
        }
    }

    /// A pass's sink for the schedulers, in the one place every pass shares:
    ///
    /// 1. before `sink` uses a batch, [`Log::intact_to`] its end: a batch
    ///    read after the file shrank is marked
    ///    [changed](Batch::changed), handed to `sink` so that the pass
    ///    remembers it (a changed batch yields no event, no entry, no
    ///    count), and the pass stops there;
    /// 2. after `sink`, when the log was opened with
    ///    [`OpenOptions::release_behind`], the release of the pages before
    ///    the batch's end (the pass is done with them).
    pub(crate) fn pass_sink<'l, O>(
        &'l self,
        mut sink: impl FnMut(&mut Batch<'l, O>) -> ControlFlow<()>,
    ) -> impl FnMut(&mut Batch<'l, O>) -> ControlFlow<()> {
        let map = match &self.backing {
            Backing::Mapped(mapping) if self.options.release_behind => Some(&mapping.map),
            _ => None,
        };
        let mut release = ReleaseBehind { map, released: 0 };
        move |batch| {
            if !self.intact_to(batch.end) {
                batch.changed = true;
                let _ = sink(batch);
                return ControlFlow::Break(());
            }
            let flow = sink(batch);
            release.reached(batch.end);
            flow
        }
    }

    /// Records where the walk of a pass stopped.
    pub(crate) fn walked(&self, offset: u64) {
        self.walked_to.store(offset, Ordering::Relaxed);
    }

    /// Where the walk of the last pass over this log stopped.
    #[cfg(test)]
    pub(crate) fn last_walk_end(&self) -> u64 {
        self.walked_to.load(Ordering::Relaxed)
    }

    /// The file's length in bytes, as seen (for a stream: the bytes its
    /// pass read, 0 before it).
    #[inline]
    pub fn len(&self) -> u64 {
        match &self.backing {
            Backing::Stream(_) => self.walked_to.load(Ordering::Relaxed),
            Backing::Windowed { len } => *len,
            backing => plog_len(backing.bytes()),
        }
    }

    /// Whether the file is empty (for a stream: nothing was read yet).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the bytes are a memory map of the file (rather than a copy).
    #[inline]
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
    /// use std::ops::ControlFlow;
    /// use plog_mmap::{Event, Log, Parallelism};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("raft.plog");
    /// let mut bytes = plog_format::MAGIC.to_vec();
    /// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
    /// std::fs::write(&path, &bytes)?;
    ///
    /// let mut log = Log::open(&path)?;
    /// let mut resume = 0; // where the next pass starts: the end of the last record seen
    /// let mut seen = Vec::new();
    /// log.for_each_event(resume, &Parallelism::Current, |event| {
    ///     if let Event::Record(record) = event {
    ///         seen.push(record.index());
    ///         resume = record.end_offset();
    ///     }
    ///     ControlFlow::Continue(())
    /// })?;
    /// assert_eq!(seen, [1]);
    ///
    /// // A writer appends...
    /// let mut record = Vec::new();
    /// plog_format::encode_record_to_vec(2, b"[]", &mut record);
    /// std::fs::OpenOptions::new().append(true).open(&path)?.write_all(&record)?;
    ///
    /// // ...and the follower sees it after a refresh, from where it stopped.
    /// assert!(log.refresh()?.grew());
    /// log.for_each_event(resume, &Parallelism::Current, |event| {
    ///     if let Event::Record(record) = event {
    ///         seen.push(record.index());
    ///     }
    ///     ControlFlow::Continue(())
    /// })?;
    /// assert_eq!(seen, [1, 2]);
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
        && let Some(mapping) = map_file(file, len)
    {
        return Ok(Backing::Mapped(mapping));
    }
    if options.map == MapPolicy::Windowed || should_map(len, options) {
        // Not to be held whole, and not mapped (the process opted out of
        // the SIGBUS guard, another handler replaced plog's, the guard's
        // table is full, or the caller asked): read in windows by each pass.
        return Ok(Backing::Windowed { len });
    }
    let mut from_start = file;
    from_start
        .seek(SeekFrom::Start(0))
        .map_err(|source| OpenError::io(path, "seek", source))?;
    let bytes = read_limited(file, options.read_limit, path)?;
    if plog_len(&bytes) < len {
        // Shorter than its length a moment ago: truncated while being read.
        return Err(OpenError::Changed(FileChanged {
            path: path.to_path_buf(),
            read_len: len,
            len: plog_len(&bytes),
        }));
    }
    Ok(Backing::Memory(bytes))
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

/// A pass's progress through a mapping whose pages it releases behind it
/// (see [`OpenOptions::release_behind`]).
struct ReleaseBehind<'l> {
    /// The mapping, when its pages are to be released.
    map: Option<&'l Mmap>,
    /// Pages before this offset were released (a page boundary).
    released: usize,
}

impl ReleaseBehind<'_> {
    /// The pass is done with every byte before `offset`: once that is
    /// [`RELEASE_STEP`] past the last release, the whole pages in between
    /// leave the page tables. (The page holding `offset` stays: bytes after
    /// it are still to be read.)
    fn reached(&mut self, offset: u64) {
        let Some(map) = self.map else {
            return;
        };
        let page = guard::page_size();
        let done = usize::try_from(offset).unwrap_or(usize::MAX).min(map.len());
        let end = done - done % page;
        if end.saturating_sub(self.released) < RELEASE_STEP as usize {
            return;
        }
        release_pages(map, self.released, end - self.released);
        self.released = end;
    }
}

/// Drops `len` bytes of `map` from `offset` (whole pages) from the page
/// tables; the next read of them faults them in again from the page cache.
#[allow(unsafe_code)]
fn release_pages(map: &Mmap, offset: usize, len: usize) {
    // SAFETY: `MADV_DONTNEED` is unsafe in general because, on a private or
    // anonymous mapping, it replaces modified pages with zeros or the file's
    // bytes. This mapping is a shared, read-only mapping of a file
    // (`map_file`): it holds no page of its own, and a released page reads,
    // when touched again, the file's bytes from the page cache, exactly what
    // it read before (a file changed meanwhile is the case `map_file`
    // already covers; a page past a truncation raises SIGBUS, which the
    // guard turns into zeros and a "changed" error, as for any page). Pages
    // that the guard replaced with anonymous zero pages read zeros again.
    // The range is inside the mapping (`offset + len <= map.len()`, checked
    // by memmap2 too). Advice only: an error changes memory use, not what
    // is read, so it is ignored.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len) };
}

/// Maps the first `len` bytes of a regular file read-only and registers the
/// mapping with the `SIGBUS` guard, or `None` when the mapping cannot be
/// made or registered (the caller then reads the file instead).
///
/// Private to the crate: no slice of the mapping reaches a safe caller (the
/// crate docs, "Safety of the mapping").
#[allow(unsafe_code)]
fn map_file(file: &File, len: u64) -> Option<Mapping> {
    let len_usize = usize::try_from(len).ok()?;
    // SAFETY: `Mmap` hands out a `&[u8]` over the page cache of `file`, and
    // Rust assumes that the bytes behind a shared reference never change;
    // another process can change them anyway. The contract under which this
    // is acceptable, and what plog does to contain a change, is the crate
    // docs' "Safety of the mapping"; in short: the mapping is read-only,
    // private to this crate and dropped with the `Log` (no slice of it
    // reaches safe code; what plog hands out is a private copy, re-parsed
    // and hashed after the copy); its length is fixed here, so appends are
    // not seen; a vanished page is absorbed by the `guard` registration made
    // below (the mapping is not used unless it succeeds), and every pass
    // checks the guard's flag and the file's length before it uses a
    // batch; no code relies on two reads of a mapped byte agreeing (lengths
    // are checked against the slice's fixed bounds where used, a `str` is
    // never made from mapped bytes), so a rewrite gives a wrong
    // classification, never an out-of-bounds access or an invalid `str`.
    let map = unsafe { MmapOptions::new().len(len_usize).map(file) }.ok()?;
    let registration = guard::register(map.as_ptr() as usize, map.len())?;
    if len >= SEQUENTIAL_ADVICE_MIN_LEN {
        // Advice only: a kernel that refuses it changes speed, not results.
        let _ = map.advise(Advice::Sequential);
    }
    Some(Mapping { registration, map })
}
