//! The sector rule: what a write cut by a crash leaves over zeros.
//!
//! A write into preallocated zeros that a crash interrupts leaves each of
//! its 512-byte sectors either written or as it was: zeros. A power cut
//! persists sectors whole (in any order), and a process killed by a signal
//! in the middle of a `pwrite` keeps the pages copied so far and nothing
//! after (the kernel checks for a fatal signal between pages). Either way a
//! record the write held is left with an all-zero sector where its bytes
//! should be. etcd's WAL decoder (`isTornEntry`) reads a torn entry the same
//! way.
//!
//! The format's classification still reads such a final record as a hash
//! mismatch (corruption, never a torn tail): this module only finds the
//! evidence, and the `zeroed_sector` of a
//! [`Corruption::HashMismatch`](crate::Corruption::HashMismatch) carries it
//! to whoever decides (plog-writer's open drops such a final record as an
//! append that was never acknowledged).

use crate::Record;

/// The sector size of the rule: the smallest unit a disk writes whole.
pub const SECTOR: u64 = 512;

/// The first piece of the file range `start..end` that is all zeros, when
/// the range is cut at every multiple of [`SECTOR`] (so its first and last
/// pieces may be shorter than a sector): the piece's offset.
/// `is_zero(from, to)` says whether the file's bytes `from..to` are all
/// zeros; it is only asked about pieces of the range.
///
/// ```
/// use plog_format::first_zeroed_piece;
/// let file = [[1u8; 600].as_slice(), &[0; 500], &[1; 100]].concat();
/// let is_zero = |from: u64, to: u64| file[from as usize..to as usize].iter().all(|&b| b == 0);
/// // 600..1024 is zero, and it is the piece 512..1024 cut at the range's start.
/// assert_eq!(first_zeroed_piece(600, 1200, is_zero), Some(600));
/// // 1024..1100 is zero too, but 1024..1200 is not.
/// assert_eq!(first_zeroed_piece(1024, 1200, is_zero), None);
/// assert_eq!(first_zeroed_piece(0, 600, is_zero), None);
/// ```
pub fn first_zeroed_piece(
    start: u64,
    end: u64,
    mut is_zero: impl FnMut(u64, u64) -> bool,
) -> Option<u64> {
    let mut at = start;
    while at < end {
        let next = (at / SECTOR).saturating_add(1).saturating_mul(SECTOR);
        let piece_end = next.min(end);
        if is_zero(at, piece_end) {
            return Some(at);
        }
        at = piece_end;
    }
    None
}

/// [`first_zeroed_piece`] over `bytes`, which start at file offset `at`:
/// the file offset of the first all-zero sector piece of `bytes`.
///
/// ```
/// use plog_format::zeroed_sector_in;
/// let mut bytes = vec![7u8; 2048];
/// bytes[1024..1536].fill(0);
/// assert_eq!(zeroed_sector_in(&bytes, 0), Some(1024));
/// // The same bytes at file offset 100: no sector of the file is zero.
/// assert_eq!(zeroed_sector_in(&bytes, 100), None);
/// ```
pub fn zeroed_sector_in(bytes: &[u8], at: u64) -> Option<u64> {
    let end = at.saturating_add(crate::len_u64(bytes.len()));
    first_zeroed_piece(at, end, |from, to| {
        // Both lie in at..end, so the differences fit in `bytes`.
        let (from, to) = ((from - at) as usize, (to - at) as usize);
        bytes.get(from..to).is_some_and(all_zero)
    })
}

/// The file offset of the first all-zero sector piece of `record` (header
/// and payload, cut at the file's sector boundaries).
pub(crate) fn zeroed_sector_of(record: &Record<'_>) -> Option<u64> {
    let header: &[u8] = record.header().as_bytes();
    let payload = record.payload();
    let start = record.offset();
    let payload_start = start.saturating_add(crate::len_u64(header.len()));
    first_zeroed_piece(start, record.end_offset(), |from, to| {
        let in_header = from.min(payload_start)..to.min(payload_start);
        let in_payload = from.max(payload_start)..to.max(payload_start);
        let header_part = header
            .get((in_header.start - start) as usize..(in_header.end - start) as usize)
            .is_some_and(all_zero);
        let payload_part = payload
            .get(
                (in_payload.start - payload_start) as usize
                    ..(in_payload.end - payload_start) as usize,
            )
            .is_some_and(all_zero);
        header_part && payload_part
    })
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    /// The obvious oracle: byte by byte.
    fn oracle(bytes: &[u8], at: u64) -> Option<u64> {
        let mut piece_start = at;
        let mut zero = true;
        for (i, &b) in bytes.iter().enumerate() {
            let pos = at + i as u64;
            if pos != piece_start && pos.is_multiple_of(SECTOR) {
                if zero {
                    return Some(piece_start);
                }
                piece_start = pos;
                zero = true;
            }
            zero &= b == 0;
        }
        (zero && !bytes.is_empty()).then_some(piece_start)
    }

    #[test]
    fn slices_and_records_agree_with_the_byte_by_byte_oracle() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for case in 0..400u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 33) as usize % 3000;
            let at = (state >> 7) % 1500;
            let mut payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8 | 1).collect();
            // Zero a run somewhere (or nowhere).
            if len > 0 {
                let from = (state >> 20) as usize % len;
                let run = (state >> 40) as usize % 900;
                let to = (from + run).min(len);
                payload[from..to].fill(0);
            }
            let mut file = vec![0xAB; at as usize];
            crate::encode_record_to_vec(case, &payload, &mut file);
            if case % 5 == 0 {
                // A header zeroed from some point (a cut inside the header).
                let cut = at as usize + (state >> 50) as usize % crate::HEADER_LEN;
                file[cut..at as usize + crate::HEADER_LEN].fill(0);
            }
            let record_bytes = &file[at as usize..];
            let expected = oracle(record_bytes, at);
            assert_eq!(zeroed_sector_in(record_bytes, at), expected, "case {case}");
            // A zeroed header may read as another length: the record is
            // what its header says.
            if let Ok(record) = Record::parse_at(&file, at) {
                let own = &file[at as usize..record.end_offset() as usize];
                assert_eq!(zeroed_sector_of(&record), oracle(own, at), "case {case}");
            }
        }
    }

    #[test]
    fn an_empty_range_has_no_zeroed_piece() {
        assert_eq!(zeroed_sector_in(&[], 512), None);
        assert_eq!(first_zeroed_piece(10, 10, |_, _| true), None);
    }
}
