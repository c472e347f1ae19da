//! The structural walk with read-ahead.
//!
//! Walking a log is a chain of dependent loads: the next header's offset is
//! only known once the current header's length is read. On a large file each
//! header is a cache miss (and every few records a TLB miss), so a plain walk
//! waits on memory for most of its time (about 30–40 ns per record on the
//! 2-core CI machine, against 10 ns with read-ahead). [`ReadAhead`] asks for
//! the cache lines a few KiB ahead of the walk, off the dependency chain, so
//! that the headers are in cache when the walk gets there.
//!
//! On x86-64 it asks with a prefetch instruction, which does not wait for
//! the line: a walk that loaded each line instead (as it does elsewhere)
//! stalls on memory for every line it asks for, and `plog verify` of the
//! engenho-shaped dataset ran about 4 % longer that way (session 5,
//! `BENCHMARKS.md`). That instruction is this module's one `unsafe` block.
//!
//! A prefetch of a page the process has not mapped yet is dropped, and a
//! mapped file's pages are mapped on first touch, 16 at a time (the
//! kernel's fault-around). So the read-ahead also loads one byte every
//! 64 KiB, 64 KiB ahead of the walk: the page fault happens there, and the
//! prefetches that follow find their pages mapped (`plog verify` of 1M
//! records of 220 B: 1-3 % less time; of the engenho-shaped log, under 1 %).

use plog_format::{ParseError, Step, Walker};

/// How far ahead of the walk lines are asked for.
const READ_AHEAD: usize = 8 * 1024;
/// How far ahead of the walk, and how often, a byte is loaded so that its
/// pages are mapped before the prefetches reach them (the kernel maps 64
/// KiB around a faulting address by default).
const MAP_AHEAD: usize = 64 * 1024;
/// The most lines asked for per step (a huge record jumps far ahead: only
/// the lines just before the new target are worth asking for).
const MAX_LINES_PER_STEP: usize = 64;
const LINE: usize = 64;

/// Asks for the cache lines ahead of a sequential walk.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadAhead {
    /// Lines before this offset were asked for already.
    touched_to: usize,
    /// The next offset whose byte is loaded to map its pages.
    mapped_to: usize,
    /// The XOR of the bytes loaded, consumed once, so the loads are not
    /// optimised away, and never on the walk's dependency chain.
    sink: u8,
}

impl ReadAhead {
    /// The walk is now at `pos`: map the pages up to `pos + MAP_AHEAD` and
    /// ask for the lines up to `pos + READ_AHEAD`.
    #[inline(always)]
    pub(crate) fn advance(&mut self, data: &[u8], pos: usize) {
        let map_target = pos.saturating_add(MAP_AHEAD).min(data.len());
        // From the walk's position on: what a jump (a resumed walk, a huge
        // record) passed over is not mapped for nothing.
        self.mapped_to = self.mapped_to.max(pos);
        while self.mapped_to < map_target {
            if let Some(&byte) = data.get(self.mapped_to) {
                self.sink ^= byte;
            }
            self.mapped_to = self.mapped_to.saturating_add(MAP_AHEAD);
        }
        let target = pos.saturating_add(READ_AHEAD).min(data.len());
        if self.touched_to >= target {
            return;
        }
        let mut line = self
            .touched_to
            .max(target.saturating_sub(MAX_LINES_PER_STEP * LINE));
        while line < target {
            if let Some(byte) = data.get(line) {
                self.fetch(byte);
            }
            line += LINE;
        }
        self.touched_to = target;
    }

    /// Brings the line holding `byte` towards the cache without waiting
    /// for it.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    #[allow(unsafe_code)]
    fn fetch(&mut self, byte: &u8) {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint: it reads nothing into a register and
        // never faults, whatever the address (here that of a byte borrowed
        // from `data`, so in bounds anyway). It needs SSE, which every
        // x86-64 CPU has.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((byte as *const u8).cast()) }
    }

    /// Brings the line holding `byte` into the cache by loading it (no
    /// prefetch instruction without `unsafe` here).
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn fetch(&mut self, byte: &u8) {
        self.sink ^= *byte;
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
pub(crate) struct Walk<'a> {
    walker: Walker<'a>,
    read_ahead: ReadAhead,
}

impl<'a> Walk<'a> {
    /// Walks a whole file's bytes, starting with its magic.
    pub(crate) fn new(data: &'a [u8]) -> Walk<'a> {
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
    pub(crate) fn resume_at(data: &'a [u8], offset: u64) -> Result<Walk<'a>, ParseError> {
        Ok(Walk {
            walker: Walker::resume_at(data, offset)?,
            read_ahead: ReadAhead::default(),
        })
    }

    /// Walks one window of a stream (see [`Walker::window`]).
    pub(crate) fn window(data: &'a [u8], base: u64, end: plog_format::WindowEnd) -> Walk<'a> {
        Walk {
            walker: Walker::window(data, base, end),
            read_ahead: ReadAhead::default(),
        }
    }

    /// The offset in the file of [`Walk::data`]'s first byte (0 but for a
    /// window of a stream).
    #[inline]
    pub(crate) fn base(&self) -> u64 {
        self.walker.base()
    }

    /// Where the next step starts: after a record, its end; after a damaged
    /// length, the resync offset; after the torn tail, its offset (the end
    /// of the valid data). Resume a later walk here with
    /// [`Walk::resume_at`].
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.walker.offset()
    }

    /// The bytes being walked.
    pub(crate) fn data(&self) -> &'a [u8] {
        self.walker.data()
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = Step<'a>;

    #[inline]
    fn next(&mut self) -> Option<Step<'a>> {
        let step = self.walker.next()?;
        let pos = usize::try_from(self.walker.offset() - self.walker.base()).unwrap_or(usize::MAX);
        self.read_ahead.advance(self.walker.data(), pos);
        Some(step)
    }
}

impl std::iter::FusedIterator for Walk<'_> {}
