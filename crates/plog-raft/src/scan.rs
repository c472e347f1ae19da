//! Recovery's per-segment work: read a segment, walk its records, verify
//! every hash (in parallel) and check that its indices are contiguous from
//! the index its name says.

use std::path::{Path, PathBuf};

use plog_format::{Corruption, HEADER_LEN, Record, Step, TornTail, Walker};
use rayon::prelude::*;

use crate::RaftLogError;

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
    /// A torn tail after the last valid record.
    pub torn: Option<TornTail>,
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

/// Reads and verifies one segment. Damage is an error unless it is a torn
/// tail (which only the caller can judge: only the last segment may be torn).
pub(crate) fn scan_segment(path: &Path, first: u64) -> Result<ScannedSegment, RaftLogError> {
    let bytes = std::fs::read(path).map_err(|e| RaftLogError::io(path, "read the segment", e))?;
    scan_bytes(path, first, &bytes)
}

/// [`scan_segment`] on bytes already read.
pub(crate) fn scan_bytes(
    path: &Path,
    first: u64,
    bytes: &[u8],
) -> Result<ScannedSegment, RaftLogError> {
    let mut records: Vec<Record<'_>> = Vec::with_capacity(bytes.len() / 256);
    let mut torn = None;
    for step in Walker::new(bytes) {
        match step {
            Step::Record(record) => records.push(record),
            Step::Corrupt(c) => {
                return Err(RaftLogError::Corrupt {
                    segment: path.to_path_buf(),
                    offset: c.offset(),
                    index: c.index(),
                    detail: c.to_string(),
                });
            }
            Step::Torn(t) => torn = Some(t),
        }
    }
    // Hash every payload across the pool (many side by side in SIMD lanes
    // per task); report the first failure in file order.
    if let Some(bad) = first_hash_mismatch(&records) {
        return Err(RaftLogError::Corrupt {
            segment: path.to_path_buf(),
            offset: bad.offset(),
            index: bad.index(),
            detail: bad.to_string(),
        });
    }
    let mut offsets = Vec::with_capacity(records.len());
    for (n, record) in records.iter().enumerate() {
        let expected = first
            .checked_add(n as u64)
            .ok_or_else(|| RaftLogError::Gap {
                segment: path.to_path_buf(),
                offset: record.offset(),
                expected: u64::MAX,
                found: record.index(),
                detail: "the index runs past u64::MAX",
            })?;
        if record.index() != expected {
            return Err(RaftLogError::Gap {
                segment: path.to_path_buf(),
                offset: record.offset(),
                expected,
                found: record.index(),
                detail: if n == 0 {
                    "a segment's first record must carry the index in its file name"
                } else {
                    "indices inside a segment must be contiguous"
                },
            });
        }
        offsets.push(record.offset());
    }
    let end = records
        .last()
        .map_or(plog_format::MAGIC_LEN as u64, |r| r.end_offset());
    Ok(ScannedSegment {
        path: path.to_path_buf(),
        first,
        offsets,
        end,
        torn,
        first_payload: records.first().map(|r| r.payload().to_vec()),
        last_payload: records.last().map(|r| r.payload().to_vec()),
    })
}

/// Records per rayon task when hashing.
const HASH_CHUNK: usize = 256;

/// The first record of `records` (in order) whose payload does not match its
/// stored hash, hashed across the rayon pool.
pub(crate) fn first_hash_mismatch(records: &[Record<'_>]) -> Option<Corruption> {
    records.par_chunks(HASH_CHUNK).find_map_first(|chunk| {
        plog_mmap::hash_mismatches(chunk)
            .into_iter()
            .next()
            .map(|(_, corruption)| corruption)
    })
}

/// The bytes a record with a `payload_len`-byte payload takes.
pub(crate) fn encoded_len(payload_len: usize) -> u64 {
    (HEADER_LEN + payload_len) as u64
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
}
