//! Recovery's per-segment work: read a segment, walk its records, verify
//! every hash (in parallel), check that its indices are contiguous from the
//! index its name says, and apply the tail rule of `RAFT-SEGMENTS.md` to
//! whatever follows the last valid record.

use std::path::{Path, PathBuf};

use plog_format::{HEADER_LEN, Record, Step, TornReason, Walker};
use rayon::prelude::*;

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

/// Reads and verifies one segment. Damage is an error unless the tail rule
/// calls it a torn append (which only the caller can judge: only the last
/// segment may be torn).
pub(crate) fn scan_segment(path: &Path, first: u64) -> Result<ScannedSegment, RaftLogError> {
    let bytes = std::fs::read(path).map_err(|e| RaftLogError::io(path, "read the segment", e))?;
    scan_bytes(path, first, &bytes)
}

/// A structural item of a segment, in file order.
enum Item<'a> {
    Record(Record<'a>),
    /// A damaged length (FORMAT.md): bytes `offset..resync` are unreadable.
    Length {
        offset: u64,
        index: u64,
        resync: u64,
    },
    /// The walk ended in a v1 torn tail.
    Torn(plog_format::TornTail),
}

/// The first damage found, and the index the log expected there.
struct Failure {
    offset: u64,
    expected: u64,
    detail: String,
}

/// [`scan_segment`] on bytes already read.
pub(crate) fn scan_bytes(
    path: &Path,
    first: u64,
    bytes: &[u8],
) -> Result<ScannedSegment, RaftLogError> {
    let corrupt = |offset: u64, index: Option<u64>, detail: String| RaftLogError::Corrupt {
        segment: path.to_path_buf(),
        offset,
        index,
        detail,
    };
    let mut items: Vec<Item<'_>> = Vec::with_capacity(bytes.len() / 256);
    for step in Walker::new(bytes) {
        match step {
            Step::Record(record) => items.push(Item::Record(record)),
            Step::Corrupt(c) => match c.resync_offset() {
                Some(resync) => items.push(Item::Length {
                    offset: c.offset(),
                    index: c.index().unwrap_or(0),
                    resync,
                }),
                // A bad magic: not a segment at all.
                None => return Err(corrupt(c.offset(), c.index(), c.to_string())),
            },
            Step::Torn(t) => items.push(Item::Torn(t)),
        }
    }
    // Hash every payload across the pool (many side by side in SIMD lanes
    // per task).
    let records: Vec<Record<'_>> = items
        .iter()
        .filter_map(|i| match i {
            Item::Record(r) => Some(*r),
            _ => None,
        })
        .collect();
    let mut bad = hash_mismatches(&records).into_iter().peekable();
    let nonzero_end = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |last| last as u64 + 1);
    let len = bytes.len() as u64;

    let mut offsets: Vec<u64> = Vec::with_capacity(records.len());
    let mut end = plog_format::MAGIC_LEN as u64;
    let mut first_valid: Option<Record<'_>> = None;
    let mut last_valid: Option<Record<'_>> = None;
    let mut failure: Option<Failure> = None;
    let mut v1_torn: Option<plog_format::TornTail> = None;
    let mut position = 0usize; // in `records`
    for item in &items {
        let expected = first + offsets.len() as u64;
        match item {
            Item::Record(record) => {
                let mismatch = bad.next_if_eq(&position).is_some();
                position += 1;
                if mismatch {
                    failure = Some(first_failure(
                        path,
                        bytes,
                        record.offset(),
                        record.end_offset(),
                        expected,
                        format!(
                            "record {} ({} payload bytes): hash mismatch",
                            record.index(),
                            record.payload().len()
                        ),
                    )?);
                    break;
                }
                if record.index() != expected {
                    return Err(RaftLogError::Gap {
                        segment: path.to_path_buf(),
                        offset: record.offset(),
                        expected,
                        found: record.index(),
                        detail: if offsets.is_empty() {
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
                    && (count == 0 || count > offsets.len() as u64 + 1)
                {
                    return Err(corrupt(
                        record.offset(),
                        Some(record.index()),
                        format!(
                            "the write mark says the write held {count} records: expected 1 \
                             to {} (the records of this segment so far)",
                            offsets.len() + 1
                        ),
                    ));
                }
                offsets.push(record.offset());
                end = record.end_offset();
                first_valid.get_or_insert(*record);
                last_valid = Some(*record);
            }
            Item::Length {
                offset,
                index,
                resync,
            } => {
                let detail = format!(
                    "record {index}: its length runs past the end of the file (a valid record \
                     starts again at offset {resync})"
                );
                failure = Some(first_failure(
                    path, bytes, *offset, *resync, expected, detail,
                )?);
                break;
            }
            Item::Torn(t) => v1_torn = Some(*t),
        }
    }
    // After the first damage the framing cannot be trusted: look for every
    // valid record after it (a record whose hash matches) and judge by the
    // write marks among them.
    if let Some(f) = &failure {
        let mut from = f.offset as usize + 1;
        while let Some(at) = plog_format::find_resync(bytes, from) {
            let Ok(record) = Record::parse_at(bytes, at as u64) else {
                break;
            };
            if let Mark::Write(count) = read_mark(record.payload()) {
                let start = record.index().saturating_sub(count - 1);
                if start > f.expected || record.end_offset() < nonzero_end {
                    return Err(corrupt(
                        f.offset,
                        Some(f.expected),
                        format!(
                            "{}, and a later write ({} ending at record {} at offset {}) \
                             was made after it: expected damage only in the last write \
                             (a damaged record that was already durable is refused, not \
                             cut)",
                            f.detail,
                            if start > f.expected {
                                "whose first record comes after it,"
                            } else {
                                "followed by more bytes,"
                            },
                            record.index(),
                            record.offset()
                        ),
                    ));
                }
            }
            from = record.end_offset() as usize;
        }
    }
    let torn = match (failure, v1_torn) {
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
    Ok(ScannedSegment {
        path: path.to_path_buf(),
        first,
        offsets,
        end,
        len,
        torn,
        first_payload: first_valid.map(|r| r.payload().to_vec()),
        last_payload: last_valid.map(|r| r.payload().to_vec()),
    })
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

/// Records per rayon task when hashing.
const HASH_CHUNK: usize = 256;

/// The positions (in `records`) of every record whose payload does not
/// match its stored hash, in order, hashed across the rayon pool.
pub(crate) fn hash_mismatches(records: &[Record<'_>]) -> Vec<usize> {
    records
        .par_chunks(HASH_CHUNK)
        .enumerate()
        .flat_map_iter(|(k, chunk)| {
            plog_hash::hash_mismatches(chunk)
                .into_iter()
                .map(move |(n, _)| k * HASH_CHUNK + n)
        })
        .collect()
}

/// The first record of `records` (in order) whose payload does not match its
/// stored hash, hashed across the rayon pool.
pub(crate) fn first_hash_mismatch(records: &[Record<'_>]) -> Option<plog_format::Corruption> {
    records.par_chunks(HASH_CHUNK).find_map_first(|chunk| {
        plog_hash::hash_mismatches(chunk)
            .into_iter()
            .next()
            .map(|(_, corruption)| corruption)
    })
}

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
