//! The segment scan against an obvious oracle on damaged segments: a plain
//! sequential loop over `plog_format::Scanner` (one thread, every hash in
//! turn) with the tail rule written out byte by byte, for 1 and 3 threads.

use std::path::Path;

use plog_format::{Event, HEADER_LEN, MAGIC, MAGIC_LEN, Record, Scanner, TornReason};
use plog_mmap::Log;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use super::{Mark, push_mark, read_mark, scan_log};
use crate::RaftLogError;

/// The index in the test segments' name.
const FIRST: u64 = 7;

/// (offsets, end, torn (offset, bytes), first and last payload), or the
/// refusal's kind and offset.
type Outcome = Result<
    (
        Vec<u64>,
        u64,
        Option<(u64, u64)>,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    ),
    (&'static str, u64),
>;

fn scanned(bytes: &[u8], threads: usize) -> Outcome {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a test pool");
    let log = Log::from_bytes(bytes.to_vec());
    match pool.install(|| scan_log(Path::new("seg.plog"), FIRST, &log)) {
        Ok(s) => Ok((
            s.offsets,
            s.end,
            s.torn.map(|t| (t.offset, t.bytes)),
            s.first_payload,
            s.last_payload,
        )),
        Err(RaftLogError::Gap { offset, .. }) => Err(("gap", offset)),
        Err(RaftLogError::Corrupt { offset, .. }) => Err(("corrupt", offset)),
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// Whether a piece of `from..to`, cut at every multiple of 512, is all
/// zeros.
fn zero_piece(bytes: &[u8], from: u64, to: u64) -> bool {
    let to = to.min(bytes.len() as u64);
    let mut at = from;
    while at < to {
        let end = ((at / 512 + 1) * 512).min(to);
        if bytes[at as usize..end as usize].iter().all(|&b| b == 0) {
            return true;
        }
        at = end;
    }
    false
}

fn oracle(bytes: &[u8]) -> Outcome {
    let mut offsets: Vec<u64> = Vec::new();
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let mut end = MAGIC_LEN as u64;
    let mut damage = None;
    let mut v1_torn = None;
    for event in Scanner::new(bytes) {
        match event {
            Event::Record(r) => {
                if r.index() != FIRST + offsets.len() as u64 {
                    return Err(("gap", r.offset()));
                }
                match read_mark(r.payload()) {
                    Mark::Bad => return Err(("corrupt", r.offset())),
                    Mark::Write(count) if count > offsets.len() as u64 + 1 => {
                        return Err(("corrupt", r.offset()));
                    }
                    _ => {}
                }
                offsets.push(r.offset());
                payloads.push(r.payload().to_vec());
                end = r.end_offset();
            }
            Event::Corrupt(c) => {
                match c.lost_range() {
                    (from, Some(to)) => damage = Some((from, to, FIRST + offsets.len() as u64)),
                    (from, None) => return Err(("corrupt", from)),
                }
                break;
            }
            Event::Torn(t) => v1_torn = Some(t),
        }
    }
    let len = bytes.len() as u64;
    let torn = if let Some((from, to, expected)) = damage {
        if !zero_piece(bytes, from, to.max(from + HEADER_LEN as u64)) {
            return Err(("corrupt", from));
        }
        let nonzero_end = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1) as u64;
        let mut at = from + 1;
        while at + HEADER_LEN as u64 <= len {
            match Record::parse_at(bytes, at) {
                Ok(r) if r.hash_matches() => {
                    if let Mark::Write(count) = read_mark(r.payload()) {
                        let start = r.index().saturating_sub(count - 1);
                        if start > expected || r.end_offset() < nonzero_end {
                            return Err(("corrupt", from));
                        }
                    }
                    at = r.end_offset();
                }
                _ => at += 1,
            }
        }
        Some((from, len - from))
    } else {
        v1_torn
            .filter(|t| t.reason != TornReason::ZeroFill)
            .map(|t| (t.offset, t.bytes))
    };
    Ok((
        offsets,
        end,
        torn,
        payloads.first().cloned(),
        payloads.last().cloned(),
    ))
}

/// A segment as the store writes it: writes of 1 to 4 records from index
/// [`FIRST`], the last record of each with its write mark, then up to 4 KiB
/// of preallocated zeros.
fn segment() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec((1u64..=4, 0usize..700), 1..12),
        0usize..4096,
    )
        .prop_map(|(writes, zeros)| {
            let mut bytes = MAGIC.to_vec();
            let mut index = FIRST;
            for (n, (count, size)) in writes.into_iter().enumerate() {
                for k in 0..count {
                    let mut payload =
                        format!("{{\"w\":{n},\"p\":\"{}\"}}", "x".repeat(size)).into_bytes();
                    if k + 1 == count {
                        push_mark(count, &mut payload);
                    }
                    plog_format::encode_record_to_vec(index, &payload, &mut bytes);
                    index += 1;
                }
            }
            bytes.resize(bytes.len() + zeros, 0);
            bytes
        })
}

/// Damage as crashes and disks make it (and some they do not): a flipped
/// byte, a zeroed range (a sector lost, or any range), a cut, an index
/// rewritten, one record's last sector piece lost, garbage appended.
fn damaged() -> impl Strategy<Value = Vec<u8>> {
    (segment(), 0u8..7, any::<u64>(), any::<u64>(), 1u8..=255).prop_map(
        |(mut bytes, kind, a, b, byte)| {
            let len = bytes.len() as u64;
            let at = (a % len) as usize;
            match kind {
                0 => {}
                1 => bytes[at] ^= byte,
                2 => {
                    let sector = at / 512 * 512;
                    let end = (sector + 512).min(bytes.len());
                    bytes[sector.max(MAGIC_LEN)..end].fill(0);
                }
                3 => {
                    let end = (at + (b % 2048) as usize).min(bytes.len());
                    bytes[at.max(MAGIC_LEN)..end].fill(0);
                }
                4 => bytes.truncate(at.max(MAGIC_LEN)),
                _ => {
                    let records: Vec<(usize, usize)> = Scanner::new(&bytes)
                        .filter_map(|e| match e {
                            Event::Record(r) => {
                                Some((r.offset() as usize, r.end_offset() as usize))
                            }
                            _ => None,
                        })
                        .collect();
                    let (offset, end) = records[(b % records.len() as u64) as usize];
                    if kind == 5 {
                        // The index field opens the header.
                        bytes[offset..offset + 8].copy_from_slice(&(a % 64).to_le_bytes());
                    } else {
                        // One record's last sector piece lost (power cut
                        // inside a write): torn if in the last write.
                        let piece = ((end - 1) / 512 * 512).max(offset);
                        bytes[piece..end].fill(0);
                    }
                }
            }
            if b % 7 == 0 {
                bytes.extend_from_slice(&a.to_le_bytes());
            }
            bytes
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_scan_equals_a_sequential_oracle(bytes in damaged()) {
        let want = oracle(&bytes);
        for threads in [1, 3] {
            prop_assert_eq!(&scanned(&bytes, threads), &want, "{} threads", threads);
        }
    }
}

/// The damage kinds above reach every outcome: the property is not
/// vacuous.
#[test]
fn the_oracle_sees_every_outcome() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut clean, mut torn, mut gap, mut corrupt) = (0, 0, 0, 0);
    for _ in 0..400 {
        let bytes = damaged().new_tree(&mut runner).expect("a value").current();
        match oracle(&bytes) {
            Ok((_, _, None, _, _)) => clean += 1,
            Ok((_, _, Some(_), _, _)) => torn += 1,
            Err(("gap", _)) => gap += 1,
            Err(_) => corrupt += 1,
        }
    }
    assert!(
        clean > 20 && torn > 20 && gap > 5 && corrupt > 20,
        "clean {clean}, torn {torn}, gap {gap}, corrupt {corrupt}"
    );
}
