//! The structural walk: magic, headers and lengths, without hashing payloads.

use crate::{
    Corruption, HEADER_LEN, MAGIC_LEN, Magic, ParseError, Record, TornReason, TornTail,
    check_magic, len_u64,
};

/// One step of the structural walk, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A structurally complete record. **Its hash has not been checked**: call
    /// [`Record::verify`] (or use [`Scanner`](crate::Scanner)).
    Record(Record<'a>),
    /// Structural corruption. After [`Corruption::BadMagic`] and
    /// [`Corruption::UnsupportedVersion`] the walk ends; after
    /// [`Corruption::Length`] it resumes at the resync offset.
    Corrupt(Corruption),
    /// A torn tail. Always the last step.
    Torn(TornTail),
}

/// How a window of a stream ends, for [`Walker::window`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowEnd {
    /// More bytes follow the window. The walk stops (returns `None`, with
    /// [`Walker::offset`] where the next window must start) instead of
    /// deciding anything that depends on bytes past the window: a record or
    /// header that does not fit, and, unless `nonzero_follows`, a rest of
    /// the window that is all zeros (a zero-filled tail only if every byte
    /// to the end of the stream is zero).
    More {
        /// A non-zero byte is known to follow the window: zeros at its end
        /// are not a zero-filled tail (they are walked as records).
        nonzero_follows: bool,
    },
    /// The stream ends after the window's bytes and `zeros_after` more
    /// zero bytes (which only a window with no bytes may have: the zeros of
    /// a tail too long to hold, counted rather than kept).
    End {
        /// Zero bytes after the window's bytes, up to the end.
        zeros_after: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Magic,
    Body,
    Done,
}

/// The structural walk over a whole file (FORMAT.md's classification, minus
/// the hash check of each record).
///
/// Yields [`Step`]s in file order and ends after a torn tail, after a bad or
/// unsupported magic, or at a record boundary at the end of the input (a
/// clean end: no `Torn` step). Each step costs O(1) except:
///
/// * the first call, which finds the last non-zero byte of the input (O(1) for
///   a file that does not end in zeros, O(zero tail) otherwise), so that the
///   zero-filled-tail rule costs one comparison per record;
/// * a length that runs past the end of the file, which searches for the next
///   valid record with [`find_resync`], in time proportional to the distance
///   searched.
///
/// ```
/// use plog_format::{encode_record_to_vec, Step, Walker, MAGIC};
///
/// let mut log = MAGIC.to_vec();
/// encode_record_to_vec(1, b"a", &mut log);
/// encode_record_to_vec(2, b"bc", &mut log);
/// let offsets: Vec<u64> = Walker::new(&log)
///     .map(|step| match step {
///         Step::Record(r) => r.offset(),
///         other => panic!("unexpected {other:?}"),
///     })
///     .collect();
/// assert_eq!(offsets, [26, 26 + 49]);
/// ```
#[derive(Clone, Debug)]
pub struct Walker<'a> {
    data: &'a [u8],
    /// The offset in the file of `data[0]` (0 but for a window of a stream).
    base: u64,
    /// Where the next step starts. Invariant: `pos <= data.len()`.
    pos: usize,
    /// One past the last non-zero byte of `data`: from any `pos` at or past
    /// it, every remaining byte is zero.
    nonzero_end: usize,
    state: State,
    /// More bytes follow `data` (a window of a stream that is not its last).
    more: bool,
    /// Zero bytes after `data`, up to the end of the file.
    zeros_after: u64,
}

impl<'a> Walker<'a> {
    /// Walks a whole file, starting with its magic.
    pub fn new(data: &'a [u8]) -> Walker<'a> {
        Walker {
            data,
            base: 0,
            pos: 0,
            nonzero_end: nonzero_end(data),
            state: State::Magic,
            more: false,
            zeros_after: 0,
        }
    }

    /// Walks one window of a stream read in bounded memory: `data` holds
    /// the stream's bytes from offset `base` (a record boundary, or 0 to
    /// start with the magic), and `end` says what follows it. Every step
    /// is the one a walk of the whole file gives there, with the file's
    /// offsets; a window that is not the last stops where the next decision
    /// needs bytes past it (see [`WindowEnd::More`]), and the next window
    /// starts at [`Walker::offset`].
    ///
    /// ```
    /// use plog_format::{encode_record_to_vec, Step, Walker, WindowEnd, MAGIC};
    /// let mut log = MAGIC.to_vec();
    /// encode_record_to_vec(1, b"a", &mut log);
    /// encode_record_to_vec(2, b"bc", &mut log);
    /// // The first 100 bytes: the magic, record 1, part of record 2.
    /// let more = WindowEnd::More { nonzero_follows: false };
    /// let mut first = Walker::window(&log[..100], 0, more);
    /// assert!(matches!(first.next(), Some(Step::Record(r)) if r.index() == 1));
    /// assert_eq!((first.next(), first.offset()), (None, 75));
    /// let end = WindowEnd::End { zeros_after: 0 };
    /// let mut rest = Walker::window(&log[75..], 75, end);
    /// assert!(matches!(rest.next(), Some(Step::Record(r)) if r.offset() == 75));
    /// assert_eq!(rest.next(), None);
    /// ```
    pub fn window(data: &'a [u8], base: u64, end: WindowEnd) -> Walker<'a> {
        let (more, nonzero_follows, zeros_after) = match end {
            WindowEnd::More { nonzero_follows } => (true, nonzero_follows, 0),
            WindowEnd::End { zeros_after } => (false, false, zeros_after),
        };
        Walker {
            data,
            base,
            pos: 0,
            nonzero_end: if nonzero_follows {
                usize::MAX
            } else {
                nonzero_end(data)
            },
            state: if base == 0 { State::Magic } else { State::Body },
            more,
            zeros_after,
        }
    }

    /// The offset in the file of the walked bytes' first byte (0 but for a
    /// [window](Walker::window)).
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Walks from `offset`, which must be a record boundary of a file whose
    /// magic was already checked (e.g. the end of the records seen by an
    /// earlier walk of a file that has grown since).
    ///
    /// # Errors
    /// [`ParseError::OffsetOutOfRange`] when `offset` is past the end of `data`.
    pub fn resume_at(data: &'a [u8], offset: u64) -> Result<Walker<'a>, ParseError> {
        let pos = usize::try_from(offset)
            .ok()
            .filter(|&pos| pos <= data.len())
            .ok_or(ParseError::OffsetOutOfRange {
                offset,
                len: len_u64(data.len()),
            })?;
        Ok(Walker {
            data,
            base: 0,
            pos,
            nonzero_end: nonzero_end(data),
            state: State::Body,
            more: false,
            zeros_after: 0,
        })
    }

    /// The input being walked.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Where the next step starts: after a record, the end of that record;
    /// after a damaged length, the resync offset; after a torn tail, the torn
    /// offset (the end of the valid data).
    pub fn offset(&self) -> u64 {
        self.base.saturating_add(len_u64(self.pos))
    }

    /// A window that is not the last stops here: the rest needs bytes past
    /// it.
    fn need_more(&mut self) -> Option<Step<'a>> {
        self.state = State::Done;
        None
    }

    fn finish(&mut self, step: Step<'a>) -> Option<Step<'a>> {
        self.state = State::Done;
        Some(step)
    }

    fn torn_here(&mut self, reason: TornReason) -> Option<Step<'a>> {
        let tail = TornTail {
            offset: self.offset(),
            bytes: len_u64(self.data.len().saturating_sub(self.pos))
                .saturating_add(self.zeros_after),
            reason,
        };
        self.finish(Step::Torn(tail))
    }

    fn magic_step(&mut self) -> Option<Step<'a>> {
        match check_magic(self.data) {
            Magic::V1 => {
                self.pos = MAGIC_LEN;
                self.state = State::Body;
                self.body_step()
            }
            Magic::Torn if self.more => self.need_more(),
            Magic::Torn => self.torn_here(TornReason::Magic),
            Magic::UnsupportedVersion { version } => {
                self.finish(Step::Corrupt(Corruption::UnsupportedVersion { version }))
            }
            Magic::Bad { found } => self.finish(Step::Corrupt(Corruption::BadMagic { found })),
        }
    }

    #[inline]
    fn body_step(&mut self) -> Option<Step<'a>> {
        let pos = self.pos;
        let rest = self.data.get(pos..).unwrap_or_default();
        if rest.is_empty() && self.zeros_after == 0 {
            self.state = State::Done;
            return None;
        }
        if pos >= self.nonzero_end {
            if self.more {
                return self.need_more();
            }
            return self.torn_here(TornReason::ZeroFill);
        }
        match Record::parse_prefix(rest, self.offset()) {
            Ok(record) => {
                // Cannot overflow: the record lies inside `data`.
                self.pos = pos + HEADER_LEN + record.payload().len();
                Some(Step::Record(record))
            }
            Err(_) if self.more => self.need_more(),
            Err(ParseError::ShortPayload {
                index,
                payload_len,
                found,
                ..
            }) => self.length_past_end(index, payload_len, found),
            Err(ParseError::ShortHeader { .. } | ParseError::OffsetOutOfRange { .. }) => {
                self.torn_here(TornReason::PartialHeader)
            }
        }
    }

    /// The header at the current position claims more payload bytes than
    /// `available`: a damaged length when a valid record starts later,
    /// else a torn tail (FORMAT.md). Off the hot path.
    #[cold]
    #[inline(never)]
    fn length_past_end(
        &mut self,
        index: u64,
        payload_len: u64,
        available: u64,
    ) -> Option<Step<'a>> {
        let pos = self.pos;
        match find_resync_before(self.data, pos + 1, self.nonzero_end) {
            Some(resync) => {
                let offset = self.offset();
                self.pos = resync;
                Some(Step::Corrupt(Corruption::Length {
                    offset,
                    index,
                    payload_len,
                    available,
                    resync_offset: self.offset(),
                }))
            }
            None => self.torn_here(TornReason::PartialPayload {
                index,
                payload_len,
                available,
            }),
        }
    }
}

impl<'a> Iterator for Walker<'a> {
    type Item = Step<'a>;

    #[inline]
    fn next(&mut self) -> Option<Step<'a>> {
        match self.state {
            State::Body => self.body_step(),
            State::Magic => self.magic_step(),
            State::Done => None,
        }
    }
}

impl core::iter::FusedIterator for Walker<'_> {}

/// One past the last non-zero byte of `data` (0 when all bytes are zero).
fn nonzero_end(data: &[u8]) -> usize {
    data.iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last + 1)
}

/// BLAKE3 of the empty string: the hash every zero-length payload must carry.
const EMPTY_PAYLOAD_HASH: [u8; 32] = [
    0xaf, 0x13, 0x49, 0xb9, 0xf5, 0xf9, 0xa1, 0xa6, 0xa0, 0x40, 0x4d, 0xea, 0x36, 0xdc, 0xc9, 0x49,
    0x9b, 0xcb, 0x25, 0xc9, 0xad, 0xc1, 0x12, 0xb7, 0xcc, 0x9a, 0x93, 0xca, 0xe4, 0x1f, 0x32, 0x62,
];

/// The first offset at or after `from` where a complete record whose hash
/// matches starts, or `None` when there is none before the end of `data`.
///
/// This is the resync rule of FORMAT.md for a damaged length field. Each
/// candidate offset costs O(1) when its length field does not fit in the
/// rest of the file (true for almost every offset inside JSON text, whose
/// bytes read as huge lengths), and a hash of the claimed payload otherwise;
/// the search stops at the first match, so its cost is proportional to the
/// distance to the next valid record, not to the file. (A hostile file can
/// make many candidates' lengths fit, each costing a hash of its claimed
/// payload; that is bounded, and never allocates.)
///
/// ```
/// use plog_format::{encode_record_to_vec, find_resync};
/// let mut data = b"garbage".to_vec();
/// encode_record_to_vec(5, b"payload", &mut data);
/// assert_eq!(find_resync(&data, 0), Some(7));
/// assert_eq!(find_resync(&data, 8), None);
/// ```
pub fn find_resync(data: &[u8], from: usize) -> Option<usize> {
    find_resync_before(data, from, nonzero_end(data))
}

/// [`find_resync`] knowing that bytes from `nonzero_end` on are all zero. A
/// record cannot start there: its header would claim an empty payload with
/// an all-zero hash, and BLAKE3 of the empty string is not zero.
fn find_resync_before(data: &[u8], from: usize, nonzero_end: usize) -> Option<usize> {
    let last_start = data.len().checked_sub(HEADER_LEN)?.min(nonzero_end);
    let mut candidate = from;
    while candidate <= last_start {
        let rest = data.get(candidate..).unwrap_or_default();
        if let Ok(record) = Record::parse_prefix(rest, len_u64(candidate)) {
            let matches = if record.payload().is_empty() {
                record.header().hash == EMPTY_PAYLOAD_HASH
            } else {
                record.hash_matches()
            };
            if matches {
                return Some(candidate);
            }
        }
        candidate += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_hash_constant_is_blake3_of_nothing() {
        assert_eq!(&EMPTY_PAYLOAD_HASH, blake3::hash(b"").as_bytes());
    }

    #[test]
    fn resume_past_the_end_is_an_error() {
        let data = [0u8; 10];
        assert!(Walker::resume_at(&data, 10).is_ok());
        assert_eq!(
            Walker::resume_at(&data, 11).unwrap_err(),
            ParseError::OffsetOutOfRange {
                offset: 11,
                len: 10
            }
        );
        assert!(Walker::resume_at(&data, u64::MAX).is_err());
    }
}
