//! Recovery's per-segment work: read a segment into memory, verify it with
//! plog-mmap's event pass (the walk and every hash, across the pool, in file
//! order, up to the first damage), check that its indices are contiguous
//! from the index its name says, and apply the tail rule of
//! `RAFT-SEGMENTS.md` (write marks, plog-format's sector rule) to whatever
//! follows the last valid record.

use std::path::{Path, PathBuf};

use std::ops::ControlFlow;

use plog_format::{
    Corruption, Event, HEADER_LEN, IndexChecker, IndexOrder, Record, TornReason, TornTail,
};
use plog_mmap::{Log, Parallelism};

use crate::state::{STATE_FILE, STATE_TMP};
use crate::{LOCK_FILE, RaftLogError};

/// The file name of the segment whose first record has index `first`.
pub(crate) fn segment_name(first: u64) -> String {
    format!("{first:020}.plog")
}

/// The first index a segment's file name says, or `None` for a name that is
/// not a segment's.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".plog")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments of `dir` in index order, as an open and an inspection
/// both see them. The lock and state files are the store's own; hidden
/// files (an editor's, a backup tool's) and the `lost+found` of a file
/// system mounted on the directory are not the log's and are left alone;
/// anything else, a segment-named entry that is not a file included,
/// refuses ([`RaftLogError::ForeignFile`]).
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, RaftLogError> {
    let mut names = Vec::new();
    let listing =
        std::fs::read_dir(dir).map_err(|e| RaftLogError::io(dir, "list the log directory", e))?;
    for item in listing {
        let item = item.map_err(|e| RaftLogError::io(dir, "list the log directory", e))?;
        let path = item.path();
        let name = item.file_name();
        let name = name.to_str().unwrap_or("");
        if [LOCK_FILE, STATE_FILE, STATE_TMP].contains(&name) {
            continue;
        }
        let file_type = item.file_type().ok();
        let is_file = file_type.is_some_and(|t| t.is_file());
        let is_dir = file_type.is_some_and(|t| t.is_dir());
        match parse_segment_name(name) {
            Some(first) if is_file => names.push((first, path)),
            None if name.starts_with('.') || (name == "lost+found" && is_dir) => {}
            _ => return Err(RaftLogError::ForeignFile { path }),
        }
    }
    names.sort();
    Ok(names)
}

/// How many of the sorted `segments` lie wholly at or below the purged
/// index (the next one starts at or below `purged + 1`): what an
/// interrupted purge left, never read as the log.
pub(crate) fn purged_leftovers(segments: &[(u64, PathBuf)], purged: Option<u64>) -> usize {
    match purged {
        Some(p) => segments
            .windows(2)
            .take_while(|w| w[1].0 <= p.saturating_add(1))
            .count(),
        None => 0,
    }
}

/// The whitespace digits of a write mark, base 3, most significant first.
const MARK_DIGITS: [u8; 3] = [b' ', b'\t', b'\r'];

/// Appends the write mark of a write of `count` records to `out` (the last
/// record's payload): `count` in base 3 as JSON whitespace (space = 0, tab
/// = 1, carriage return = 2), then a line feed. JSON readers skip it.
pub(crate) fn push_mark(count: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 41];
    let mut n = count;
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = MARK_DIGITS[(n % 3) as usize];
        n /= 3;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[k..]);
    out.push(b'\n');
}

/// What a payload's end says about its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Not the last record of a write (the payload does not end in a line
    /// feed).
    None,
    /// The last record of a write of this many records.
    Write(u64),
    /// Ends in a line feed without a valid count before it.
    Bad,
}

/// Reads the write mark at the end of `payload`.
pub(crate) fn read_mark(payload: &[u8]) -> Mark {
    let Some((&b'\n', rest)) = payload.split_last() else {
        return Mark::None;
    };
    let digits = rest
        .iter()
        .rev()
        .take_while(|b| MARK_DIGITS.contains(b))
        .count();
    let digits = &rest[rest.len() - digits..];
    let mut count: u64 = 0;
    for &d in digits {
        let value = MARK_DIGITS.iter().position(|&m| m == d).unwrap_or(0) as u64;
        match count.checked_mul(3).and_then(|c| c.checked_add(value)) {
            Some(c) => count = c,
            None => return Mark::Bad,
        }
    }
    if count == 0 {
        Mark::Bad
    } else {
        Mark::Write(count)
    }
}

/// Whether some 512-byte-sector piece of `bytes[from..to]` is all zeros:
/// what a power cut in the middle of the write leaves (plog-format's sector
/// rule, [`plog_format::first_zeroed_piece`]).
pub(crate) fn has_zero_sector(bytes: &[u8], from: u64, to: u64) -> bool {
    let to = to.min(bytes.len() as u64);
    from < to && plog_format::zeroed_sector_in(&bytes[from as usize..to as usize], from).is_some()
}

/// What was cut after a segment's last valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailCut {
    /// Where the cut bytes start: the end of the last valid record.
    pub offset: u64,
    /// How many bytes were cut (to the end of the file).
    pub bytes: u64,
    /// Why the tail is a torn append (the rule that applied).
    pub reason: String,
}

/// One segment as recovery found it.
#[derive(Debug)]
pub(crate) struct ScannedSegment {
    pub path: PathBuf,
    /// The index in the name, which is the first record's index.
    pub first: u64,
    /// The offset of every valid record, in order (indices `first..`).
    pub offsets: Vec<u64>,
    /// The end of the last valid record.
    pub end: u64,
    /// The file's length.
    pub len: u64,
    /// A torn append after the last valid record (the tail rule).
    pub torn: Option<TailCut>,
    /// The payloads of the first and last record (for the entry checks).
    pub first_payload: Option<Vec<u8>>,
    /// See `first_payload`.
    pub last_payload: Option<Vec<u8>>,
}

impl ScannedSegment {
    /// How many valid records the segment holds.
    pub fn records(&self) -> u64 {
        self.offsets.len() as u64
    }
}

/// Reads a segment into memory, as the plog-mmap [`Log`] its scan verifies
/// (bytes of its own: their event pass hashes them where they lie, without
/// the copy a mapping needs).
pub(crate) fn load_segment(path: &Path) -> Result<Log, RaftLogError> {
    let bytes = std::fs::read(path).map_err(|e| RaftLogError::io(path, "read the segment", e))?;
    Ok(Log::from_bytes(bytes))
}

/// The bytes of a segment [loaded](load_segment) into memory.
pub(crate) fn segment_bytes(log: &Log) -> &[u8] {
    // Always `Some`: `load_segment` makes the log from bytes in memory.
    log.in_memory().unwrap_or_default()
}

/// Reads and verifies one segment. Damage is an error unless the tail rule
/// calls it a torn append (which only the caller can judge: only the last
/// segment may be torn).
pub(crate) fn scan_segment(path: &Path, first: u64) -> Result<ScannedSegment, RaftLogError> {
    scan_log(path, first, &load_segment(path)?)
}

/// The first damage found, and the index the log expected there.
struct Failure {
    offset: u64,
    expected: u64,
    detail: String,
}

/// What the scan of a segment gathers from plog-mmap's event pass (the
/// walk, every hash checked across the pool, in file order) up to the first
/// damage: the valid records' offsets, their contiguity from the index in
/// the name, and their write marks.
struct Gather<'p> {
    path: &'p Path,
    /// The index in the name.
    first: u64,
    /// Every valid record's offset, in order.
    offsets: Vec<u64>,
    /// Contiguity, as plog-format checks it.
    indices: IndexChecker,
    /// The end of the last valid record.
    end: u64,
    /// The payload's byte range of the last valid record.
    last_payload: Option<(u64, u64)>,
    first_payload: Option<Vec<u8>>,
    /// The first damage, as the event pass reported it: its lost range and
    /// what it is.
    damage: Option<(u64, u64, String)>,
    v1_torn: Option<TornTail>,
    /// What stopped the pass, when it is refused outright.
    refused: Option<RaftLogError>,
}

impl Gather<'_> {
    /// The index the next valid record must carry.
    fn expected(&self) -> u64 {
        self.first + self.offsets.len() as u64
    }

    fn event(&mut self, event: Event<'_>) -> ControlFlow<()> {
        match event {
            Event::Record(record) => match self.record(&record) {
                Ok(()) => ControlFlow::Continue(()),
                Err(refused) => {
                    self.refused = Some(refused);
                    ControlFlow::Break(())
                }
            },
            Event::Corrupt(corruption) => {
                match corruption_range(&corruption) {
                    Some((from, to, detail)) => self.damage = Some((from, to, detail)),
                    // A bad magic: not a segment at all.
                    None => {
                        self.refused = Some(RaftLogError::Corrupt {
                            segment: self.path.to_path_buf(),
                            offset: corruption.offset(),
                            index: corruption.index(),
                            detail: corruption.to_string(),
                        })
                    }
                }
                ControlFlow::Break(())
            }
            Event::Torn(tail) => {
                self.v1_torn = Some(tail);
                ControlFlow::Continue(())
            }
        }
    }

    /// A valid record (its hash matched): contiguous from the name's index,
    /// with a write mark that counts no more records than the segment holds.
    fn record(&mut self, record: &Record<'_>) -> Result<(), RaftLogError> {
        let expected = self.expected();
        let broken = self
            .indices
            .check(record.offset(), record.index())
            .is_some();
        if broken || (self.offsets.is_empty() && record.index() != self.first) {
            return Err(RaftLogError::Gap {
                segment: self.path.to_path_buf(),
                offset: record.offset(),
                expected,
                found: record.index(),
                detail: if self.offsets.is_empty() {
                    "a segment's first record must carry the index in its file name"
                } else {
                    "indices inside a segment must be contiguous"
                },
            });
        }
        let count = match read_mark(record.payload()) {
            Mark::None => None,
            Mark::Write(count) => Some(count),
            Mark::Bad => Some(0),
        };
        if let Some(count) = count
            && (count == 0 || count > self.offsets.len() as u64 + 1)
        {
            return Err(RaftLogError::Corrupt {
                segment: self.path.to_path_buf(),
                offset: record.offset(),
                index: Some(record.index()),
                detail: format!(
                    "the write mark says the write held {count} records: expected 1 to {} \
                     (the records of this segment so far)",
                    self.offsets.len() + 1
                ),
            });
        }
        if self.offsets.is_empty() {
            self.first_payload = Some(record.payload().to_vec());
        }
        self.offsets.push(record.offset());
        self.end = record.end_offset();
        self.last_payload = Some((record.offset() + HEADER_LEN as u64, record.end_offset()));
        Ok(())
    }
}

/// The bytes a damaged record makes unreadable (`from..to`) and what it is,
/// in plog-raft's words; `None` for a bad magic (the whole file is not a
/// segment).
fn corruption_range(corruption: &Corruption) -> Option<(u64, u64, String)> {
    let (from, to) = corruption.lost_range();
    let detail = match *corruption {
        Corruption::HashMismatch {
            index, payload_len, ..
        } => format!("record {index} ({payload_len} payload bytes): hash mismatch"),
        Corruption::Length {
            index,
            resync_offset,
            ..
        } => format!(
            "record {index}: its length runs past the end of the file (a valid record starts \
             again at offset {resync_offset})"
        ),
        _ => return None,
    };
    Some((from, to.unwrap_or(u64::MAX), detail))
}

/// Verifies one segment [loaded](load_segment) into memory: plog-mmap's
/// event pass (walk, hashes across the pool, first damage) gathered into
/// record offsets, then plog-raft's own tail rule after the first damage.
pub(crate) fn scan_log(path: &Path, first: u64, log: &Log) -> Result<ScannedSegment, RaftLogError> {
    let bytes = segment_bytes(log);
    let mut gather = Gather {
        path,
        first,
        offsets: Vec::with_capacity(bytes.len() / 256),
        indices: IndexChecker::new(IndexOrder::Contiguous),
        end: plog_format::MAGIC_LEN as u64,
        last_payload: None,
        first_payload: None,
        damage: None,
        v1_torn: None,
        refused: None,
    };
    // Why the pass stopped (the first damage, a refusal) is in `gather`.
    let _stopped = log
        .for_each_event(0, &Parallelism::Current, |event| gather.event(event))
        .map_err(|e| RaftLogError::io(path, "verify the segment", std::io::Error::other(e)))?;
    if let Some(refused) = gather.refused {
        return Err(refused);
    }
    let failure = match gather.damage.take() {
        Some((from, to, detail)) => Some(first_failure(
            path,
            bytes,
            from,
            to,
            gather.expected(),
            detail,
        )?),
        None => None,
    };
    let len = bytes.len() as u64;
    // After the first damage the framing cannot be trusted: look for every
    // valid record after it (a record whose hash matches) and judge by the
    // write marks among them.
    if let Some(f) = &failure {
        later_writes(path, bytes, f)?;
    }
    let torn = match (failure, gather.v1_torn) {
        (Some(f), _) => Some(TailCut {
            offset: f.offset,
            bytes: len - f.offset,
            reason: format!(
                "{}: a torn append (the damage holds an all-zero sector and no later \
                 write follows it)",
                f.detail
            ),
        }),
        // A zero-filled tail is the unused preallocation (or nothing at
        // all): no append was cut.
        (None, Some(t)) if t.reason != TornReason::ZeroFill => Some(TailCut {
            offset: t.offset,
            bytes: t.bytes,
            reason: format!("a v1 torn tail ({})", t.reason.as_str()),
        }),
        _ => None,
    };
    let last_payload = gather
        .last_payload
        .and_then(|(from, to)| bytes.get(from as usize..to as usize))
        .map(<[u8]>::to_vec);
    Ok(ScannedSegment {
        path: path.to_path_buf(),
        first,
        offsets: gather.offsets,
        end: gather.end,
        len,
        torn,
        first_payload: gather.first_payload,
        last_payload,
    })
}

/// The tail rule after the first damage `f`: a later write (a record with
/// a write mark) whose first record comes after the damage, or that more
/// bytes follow, proves the damage durable: refused, not cut.
fn later_writes(path: &Path, bytes: &[u8], f: &Failure) -> Result<(), RaftLogError> {
    let nonzero_end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last as u64 + 1);
    let mut from = f.offset as usize + 1;
    while let Some(at) = plog_format::find_resync(bytes, from) {
        let Ok(record) = Record::parse_at(bytes, at as u64) else {
            break;
        };
        if let Mark::Write(count) = read_mark(record.payload()) {
            let start = record.index().saturating_sub(count - 1);
            if start > f.expected || record.end_offset() < nonzero_end {
                return Err(RaftLogError::Corrupt {
                    segment: path.to_path_buf(),
                    offset: f.offset,
                    index: Some(f.expected),
                    detail: format!(
                        "{}, and a later write ({} ending at record {} at offset {}) was made \
                         after it: expected damage only in the last write (a damaged record \
                         that was already durable is refused, not cut)",
                        f.detail,
                        if start > f.expected {
                            "whose first record comes after it,"
                        } else {
                            "followed by more bytes,"
                        },
                        record.index(),
                        record.offset()
                    ),
                });
            }
        }
        from = record.end_offset() as usize;
    }
    Ok(())
}

/// The first damaged bytes of a segment, `from..to`: the start of a torn
/// append if a zeroed sector explains them, else corruption.
fn first_failure(
    path: &Path,
    bytes: &[u8],
    from: u64,
    to: u64,
    expected: u64,
    detail: String,
) -> Result<Failure, RaftLogError> {
    let to = to.max(from + HEADER_LEN as u64);
    if !has_zero_sector(bytes, from, to) {
        return Err(RaftLogError::Corrupt {
            segment: path.to_path_buf(),
            offset: from,
            index: Some(expected),
            detail: format!(
                "{detail}, and none of its 512-byte sectors is all zeros: expected a torn \
                 append (a power cut leaves unwritten sectors zero), found other damage"
            ),
        });
    }
    Ok(Failure {
        offset: from,
        expected,
        detail,
    })
}

#[cfg(test)]
#[path = "scan_oracle.rs"]
mod oracle;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for first in [0, 1, 42, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_name(first)), Some(first));
        }
        for bad in [
            "1.plog",
            "0000000000000000000a.plog",
            "00000000000000000001.log",
            "",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn marks_round_trip_and_stay_json() {
        for count in [1u64, 2, 3, 4, 8, 9, 63, 64, 1024, 65_535, u64::MAX] {
            let mut payload = b"{\"a\":1}".to_vec();
            push_mark(count, &mut payload);
            assert_eq!(read_mark(&payload), Mark::Write(count), "{count}");
            let value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            assert_eq!(value["a"], 1);
        }
        assert_eq!(read_mark(b"{\"a\":1}"), Mark::None);
        assert_eq!(read_mark(b"{}\n"), Mark::Bad);
        assert_eq!(read_mark(b"{} \n"), Mark::Bad);
        assert_eq!(read_mark(b"\n"), Mark::Bad);
        // 3^41 > u64::MAX: an overlong count is bad, not a wrap.
        let mut long = b"{}".to_vec();
        long.extend(std::iter::repeat_n(b'\r', 41));
        long.push(b'\n');
        assert_eq!(read_mark(&long), Mark::Bad);
    }

    #[test]
    fn zero_sectors_are_cut_at_sector_boundaries() {
        let mut bytes = vec![1u8; 2048];
        assert!(!has_zero_sector(&bytes, 0, 2048));
        // A zeroed piece that does not cover a sector piece of the range
        // is no evidence.
        bytes[600..1000].fill(0);
        assert!(!has_zero_sector(&bytes, 0, 2048));
        // The range's own piece of a sector counts (etcd's chunks).
        assert!(has_zero_sector(&bytes, 600, 1000));
        assert!(!has_zero_sector(&bytes, 600, 2048));
        bytes[1024..1536].fill(0);
        assert!(has_zero_sector(&bytes, 0, 2048));
        assert!(!has_zero_sector(&bytes, 0, 1024));
        // Past the end of the bytes counts as nothing.
        assert!(!has_zero_sector(&bytes, 1536, 4096));
    }
}
