//! A log read from a stream (standard input, a pipe: `zstdcat LOG | plog
//! verify -`) in bounded memory: through a window of [`STREAM_WINDOW`]
//! bytes, each window walked, hashed and handed on as it arrives, as b3sum
//! hashes standard input, with the same results as a walk of the whole file
//! (tested against it).
//!
//! The walk of a window stops where the next decision needs bytes past it
//! ([`WindowEnd::More`]); the next window starts there. What the whole-file
//! walk decides from bytes far ahead is found without holding them:
//!
//! * a record longer than the window: the window grows to hold it, up to
//!   [`STREAM_HELD_LIMIT`] bytes (a longer one, or a damaged length that
//!   claims more and whose stream goes on past that, ends the pass with
//!   [`ReadError::Stream`] rather than grow without bound);
//! * a run of zeros longer than the window (a zero-filled tail, or zeros
//!   inside the log): counted, not held; at the end of the stream it is
//!   one torn tail, and when a non-zero byte follows, the 48-byte zero
//!   records the whole-file walk finds in it are walked over a static page
//!   of zeros;
//! * a file whose magic is not v1: the rest of the stream is counted so
//!   that the report names the file's length.

use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use plog_format::{HEADER_LEN, Magic, ParseError, Record, WindowEnd, check_magic};

use crate::read_ahead::Walk;
use crate::{FileChanged, ReadError};

/// The bytes of a stream walked at a time.
pub const STREAM_WINDOW: usize = 4 * 1024 * 1024;

/// The most bytes of a stream held at once: a record longer than this (or a
/// damaged length claiming more, in a stream that goes on past it) ends a
/// pass over a stream with [`ReadError::Stream`].
pub const STREAM_HELD_LIMIT: u64 = 64 * 1024 * 1024;

/// Zero records walked per window of [`ZEROS`].
const ZERO_RECORDS: usize = 4096;

/// The bytes of [`ZERO_RECORDS`] all-zero records.
static ZEROS: [u8; ZERO_RECORDS * HEADER_LEN] = [0; ZERO_RECORDS * HEADER_LEN];

/// A stream being read, window by window, by one pass.
pub(crate) struct Stream {
    reader: Box<dyn Read + Send>,
    /// The bytes from `base` on that are held.
    buf: Vec<u8>,
    /// The offset in the stream of `buf[0]`.
    base: u64,
    /// The reader is exhausted.
    eof: bool,
    /// Bytes read past `buf` and dropped (counted, for a file whose magic
    /// is not v1).
    counted: u64,
    /// Zeros read after `base` and dropped (a zero run being counted), before
    /// `buf`.
    skipped: u64,
    /// A pass has begun: a stream is read once.
    started: bool,
    /// See [`STREAM_WINDOW`] (tests make it tiny).
    window: usize,
    /// See [`STREAM_HELD_LIMIT`].
    held_limit: u64,
    /// For a file read in windows: its path and the length it had at open.
    /// Ending before that length means it was truncated while it was read.
    expected: Option<(PathBuf, u64)>,
}

/// The bytes `[at, end)` of a file, read with positioned reads (the file's
/// own offset is left alone, so passes can share the handle).
struct FileRange {
    file: File,
    at: u64,
    end: u64,
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.at)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += crate::len_u64(n);
        Ok(n)
    }
}

/// The stream one pass reads: a log's own stream ([`Log::from_stream`],
/// read once), or a fresh one over a file read in windows.
pub(crate) enum PassStream<'l> {
    Shared(std::sync::MutexGuard<'l, Stream>),
    Own(Box<Stream>),
}

impl std::ops::Deref for PassStream<'_> {
    type Target = Stream;
    fn deref(&self) -> &Stream {
        match self {
            PassStream::Shared(stream) => stream,
            PassStream::Own(stream) => stream,
        }
    }
}

impl std::ops::DerefMut for PassStream<'_> {
    fn deref_mut(&mut self) -> &mut Stream {
        match self {
            PassStream::Shared(stream) => stream,
            PassStream::Own(stream) => stream,
        }
    }
}

/// What the pass over a window said: where its walk stopped, and whether
/// the pass is over (its sink broke).
pub(crate) type WindowPass = (u64, ControlFlow<()>);

impl Stream {
    pub(crate) fn new(reader: Box<dyn Read + Send>, window: usize, held_limit: u64) -> Stream {
        Stream {
            reader,
            buf: Vec::new(),
            base: 0,
            eof: false,
            counted: 0,
            skipped: 0,
            started: false,
            window: window.max(HEADER_LEN * 2),
            held_limit,
            expected: None,
        }
    }

    /// The bytes of `file` from `offset` (0, or a record boundary of a
    /// file whose magic was checked) to `len`, its length at open, read
    /// through `window` bytes.
    pub(crate) fn for_file(
        file: File,
        path: &Path,
        (offset, len): (u64, u64),
        window: usize,
    ) -> Stream {
        let reader = FileRange {
            file,
            at: offset,
            end: len,
        };
        let mut stream = Stream::new(Box::new(reader), window, STREAM_HELD_LIMIT);
        stream.base = offset;
        stream.expected = Some((path.to_path_buf(), len));
        stream
    }

    /// A file read in windows that ended at `read`, short of its length at
    /// open: it was truncated while it was read.
    fn check_length(&self, read: u64) -> Result<(), ReadError> {
        match &self.expected {
            Some((path, len)) if read < *len => Err(ReadError::Changed(FileChanged {
                path: path.clone(),
                read_len: *len,
                len: read,
            })),
            _ => Ok(()),
        }
    }

    pub(crate) fn error(&self, offset: u64, detail: String) -> ReadError {
        ReadError::Stream { offset, detail }
    }

    /// Reads until `target` bytes are held or the stream ends.
    fn fill(&mut self, target: usize) -> Result<(), ReadError> {
        let mut chunk = [0u8; 64 * 1024];
        while self.buf.len() < target && !self.eof {
            let want = (target - self.buf.len()).min(chunk.len());
            match self.reader.read(&mut chunk[..want]) {
                Ok(0) => {
                    self.eof = true;
                    let read = self.base + self.skipped + crate::len_u64(self.buf.len());
                    self.check_length(read)?;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    let at = self.base + crate::len_u64(self.buf.len());
                    return Err(self.error(at, format!("cannot read: {error}")));
                }
            }
        }
        Ok(())
    }

    /// Reads (and drops) the rest of the stream; how many bytes it held.
    fn count_rest(&mut self) -> Result<u64, ReadError> {
        let mut rest = 0u64;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => rest = rest.saturating_add(crate::len_u64(n)),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    let at = self.base + crate::len_u64(self.buf.len()) + rest;
                    return Err(self.error(at, format!("cannot read: {error}")));
                }
            }
        }
        self.eof = true;
        self.check_length(self.base + crate::len_u64(self.buf.len()) + rest)?;
        Ok(rest)
    }

    /// Starts the one pass over the stream: reads the first window. For a
    /// file whose magic is not v1 (the walk ends at it), reads the rest to
    /// learn the file's length; `Some(length)` then. A report must be
    /// created knowing it: its lost range ends there.
    /// The offset in the stream of the first byte held (where a pass over
    /// it starts).
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    pub(crate) fn start(&mut self) -> Result<Option<u64>, ReadError> {
        if self.started {
            return Err(self.error(
                0,
                "a stream is read once: an earlier pass over this log read it".to_string(),
            ));
        }
        self.started = true;
        self.fill(self.window)?;
        if self.base > 0 {
            // A walk resumed after the magic.
            return Ok(None);
        }
        match check_magic(&self.buf) {
            Magic::Bad { .. } | Magic::UnsupportedVersion { .. } => {
                self.counted = self.count_rest()?;
                Ok(Some(
                    crate::len_u64(self.buf.len()).saturating_add(self.counted),
                ))
            }
            Magic::V1 | Magic::Torn => Ok(None),
        }
    }

    /// Hands the walk of each window to `pass`, in order, until the stream
    /// ends or `pass` stops; the stream's length (the bytes read, when the
    /// pass stopped early). [`Stream::start`] must have been called.
    pub(crate) fn run(
        &mut self,
        mut pass: impl FnMut(Walk<'_>) -> WindowPass,
    ) -> Result<u64, ReadError> {
        loop {
            self.fill(self.window)?;
            let end = if self.eof {
                WindowEnd::End { zeros_after: 0 }
            } else {
                WindowEnd::More {
                    nonzero_follows: false,
                }
            };
            let held = crate::len_u64(self.buf.len());
            let (stop, flow) = pass(Walk::window(&self.buf, self.base, end));
            if flow.is_break() || self.eof {
                return Ok(self.base + held + self.counted);
            }
            let consumed = usize::try_from(stop.saturating_sub(self.base))
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            if consumed > 0 {
                self.buf.drain(..consumed);
                self.base = stop;
                if self.buf.capacity() > self.window.saturating_mul(2) {
                    self.buf.shrink_to(self.window);
                }
                continue;
            }
            // The window holds nothing the walk could decide on.
            if self.buf.iter().all(|&byte| byte == 0) {
                if let Some(len) = self.zero_run(&mut pass)? {
                    return Ok(len);
                }
                continue;
            }
            // A record longer than the window (or a damaged length).
            let claimed = match Record::parse_prefix(&self.buf, self.base) {
                Err(ParseError::ShortPayload { payload_len, .. }) => {
                    payload_len.saturating_add(HEADER_LEN as u64)
                }
                other => {
                    return Err(self.error(
                        self.base,
                        format!("the walk stopped without a reason: {other:?}"),
                    ));
                }
            };
            if claimed > self.held_limit {
                // Held up to the limit: the stream may end before it, and
                // then the whole-file walk decides over what is held.
                self.fill(usize::try_from(self.held_limit).unwrap_or(usize::MAX))?;
                if !self.eof {
                    return Err(self.error(
                        self.base,
                        format!(
                            "the record there claims {claimed} bytes: expected at most the \
                             {} bytes plog holds of a stream (read the file itself, or a \
                             copy of it, to check it)",
                            self.held_limit
                        ),
                    ));
                }
            } else {
                self.fill(usize::try_from(claimed).unwrap_or(usize::MAX))?;
            }
        }
    }

    /// `buf` holds only zeros and the stream goes on: counts the zero run
    /// without holding it. At the end of the stream it is the torn tail
    /// (`Some(length)`); when a non-zero byte follows, the run's whole
    /// zero records are walked over [`ZEROS`] and `buf` keeps the rest.
    fn zero_run(
        &mut self,
        pass: &mut impl FnMut(Walk<'_>) -> WindowPass,
    ) -> Result<Option<u64>, ReadError> {
        let mut zeros = crate::len_u64(self.buf.len());
        self.buf.clear();
        loop {
            self.skipped = zeros;
            if self.eof {
                self.skipped = 0;
                let _ = pass(Walk::window(
                    &[],
                    self.base,
                    WindowEnd::End { zeros_after: zeros },
                ));
                return Ok(Some(self.base + zeros));
            }
            self.fill(self.window)?;
            let Some(first) = self.buf.iter().position(|&byte| byte != 0) else {
                zeros += crate::len_u64(self.buf.len());
                self.buf.clear();
                continue;
            };
            self.skipped = 0;
            let run = zeros + crate::len_u64(first);
            let header = HEADER_LEN as u64;
            let mut records = run / header;
            while records > 0 {
                let n = records.min(ZERO_RECORDS as u64);
                let bytes = &ZEROS[..usize::try_from(n).unwrap_or(0) * HEADER_LEN];
                let more = WindowEnd::More {
                    nonzero_follows: true,
                };
                let (_, flow) = pass(Walk::window(bytes, self.base, more));
                self.base += n * header;
                records -= n;
                if flow.is_break() {
                    return Ok(Some(self.base));
                }
            }
            let left = usize::try_from(run % header).unwrap_or(0);
            self.buf.drain(..first);
            self.buf.splice(0..0, std::iter::repeat_n(0u8, left));
            return Ok(None);
        }
    }
}

/// Locks a stream; a poisoned lock only means a pass panicked, whose panic
/// reached its caller.
pub(crate) fn lock(stream: &std::sync::Mutex<Stream>) -> std::sync::MutexGuard<'_, Stream> {
    stream
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
