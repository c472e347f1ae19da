//! The structural walk with read-ahead.
//!
//! Walking a log is a chain of dependent loads: the next header's offset is
//! only known once the current header's length is read. On a large file each
//! header is a cache miss (and every few records a TLB miss), so a plain walk
//! waits on memory for most of its time (about 30–40 ns per record on the
//! 2-core CI machine, against 10 ns with read-ahead). [`ReadAhead`] touches
//! the cache lines a few KiB ahead of the walk, off the dependency chain, so
//! that the headers are in cache when the walk gets there. Touching is a
//! plain bounds-checked read (no `unsafe` prefetch intrinsic is needed).

use plog_format::{ParseError, Step, Walker};

/// How far ahead of the walk lines are touched.
const READ_AHEAD: usize = 4 * 1024;
/// The most lines touched per step (a huge record jumps far ahead: only the
/// lines just before the new target are worth touching).
const MAX_LINES_PER_STEP: usize = 8;
const LINE: usize = 64;

/// Touches the cache lines ahead of a sequential walk.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadAhead {
    /// Lines before this offset were touched already.
    touched_to: usize,
    /// XOR of the bytes touched: consumed once, so the loads are not
    /// optimised away, and never on the walk's dependency chain.
    sink: u8,
}

impl ReadAhead {
    /// The walk is now at `pos`: touch the lines up to `pos + READ_AHEAD`.
    #[inline(always)]
    pub(crate) fn advance(&mut self, data: &[u8], pos: usize) {
        let target = pos.saturating_add(READ_AHEAD).min(data.len());
        if self.touched_to >= target {
            return;
        }
        let mut line = self
            .touched_to
            .max(target.saturating_sub(MAX_LINES_PER_STEP * LINE));
        while line < target {
            if let Some(&byte) = data.get(line) {
                self.sink ^= byte;
            }
            line += LINE;
        }
        self.touched_to = target;
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        std::hint::black_box(self.sink);
    }
}

/// The structural walk of a log ([`plog_format::Walker`]) with read-ahead:
/// records (hashes **not** checked), structural corruptions and the torn
/// tail, in file order, over bytes the caller holds (e.g.
/// [`Log::in_memory`](crate::Log::in_memory)).
#[derive(Clone, Debug)]
pub struct Walk<'a> {
    walker: Walker<'a>,
    read_ahead: ReadAhead,
}

impl<'a> Walk<'a> {
    /// Walks a whole file's bytes, starting with its magic.
    pub fn new(data: &'a [u8]) -> Walk<'a> {
        Walk {
            walker: Walker::new(data),
            read_ahead: ReadAhead::default(),
        }
    }

    /// Walks from `offset`, a record boundary of a file whose magic was
    /// checked before (see [`Walker::resume_at`]).
    ///
    /// # Errors
    /// [`ParseError::OffsetOutOfRange`] when `offset` is past the end.
    pub fn resume_at(data: &'a [u8], offset: u64) -> Result<Walk<'a>, ParseError> {
        Ok(Walk {
            walker: Walker::resume_at(data, offset)?,
            read_ahead: ReadAhead::default(),
        })
    }

    /// Where the next step starts: after a record, its end; after a damaged
    /// length, the resync offset; after the torn tail, its offset (the end
    /// of the valid data). Resume a later walk here with
    /// [`Walk::resume_at`].
    #[inline]
    pub fn offset(&self) -> u64 {
        self.walker.offset()
    }

    /// The bytes being walked.
    pub fn data(&self) -> &'a [u8] {
        self.walker.data()
    }

    /// The underlying plog-format walker (without read-ahead).
    pub fn into_walker(self) -> Walker<'a> {
        self.walker
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = Step<'a>;

    #[inline]
    fn next(&mut self) -> Option<Step<'a>> {
        let step = self.walker.next()?;
        let pos = usize::try_from(self.walker.offset()).unwrap_or(usize::MAX);
        self.read_ahead.advance(self.walker.data(), pos);
        Some(step)
    }
}

impl std::iter::FusedIterator for Walk<'_> {}
