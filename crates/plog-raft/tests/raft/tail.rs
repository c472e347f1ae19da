//! The tail rule of RAFT-SEGMENTS.md, as a crash matrix on a segment that is
//! written into preallocated zeros:
//!
//! * a power cut inside the last write, at every 512-byte boundary: the
//!   write's sectors up to the boundary reached the disk and the rest are
//!   still zeros, or every sector but the one at the boundary did (out of
//!   order). Every case opens, keeps every acknowledged entry, cuts the torn
//!   write, and appends on;
//! * a zeroed sector inside an acknowledged record of an earlier write:
//!   refused, and nothing changes;
//! * bytes of an older segment in the zeros after the last record, or after
//!   a torn write: never read as entries.

use std::path::{Path, PathBuf};

use openraft::RaftLogReader;
use openraft::storage::RaftLogStorage;
use plog_format::{Step, Walker};
use plog_raft::{Options, PlogLogStore, RaftLogError};

use crate::files::{copy_dir, fill, scratch_dir, segments, snapshot};
use crate::support::Config;

const SECTOR: usize = 512;

fn options() -> Options {
    Options {
        segment_bytes: 1 << 20,
        ..Options::default()
    }
}

/// (offset, end, index) of every valid record of a segment's bytes.
fn records(bytes: &[u8]) -> Vec<(usize, usize, u64)> {
    Walker::new(bytes)
        .filter_map(|s| match s {
            Step::Record(r) if r.hash_matches() => {
                Some((r.offset() as usize, r.end_offset() as usize, r.index()))
            }
            _ => None,
        })
        .collect()
}

/// A store directory whose one segment holds writes of `batches` entries
/// each (the last one is the write the tests tear), as the store left it:
/// records, then the preallocated zeros. Returns the directory, the
/// segment, the byte range of the last write and the last index before it.
fn log_with_writes(batches: &[u64]) -> (tempfile::TempDir, PathBuf, (usize, usize), u64) {
    let dir = scratch_dir();
    let mut store = PlogLogStore::<Config>::open(dir.path(), options()).unwrap();
    let mut next = 1;
    let mut before = (0, 0);
    for (k, &n) in batches.iter().enumerate() {
        if k + 1 == batches.len() {
            let bytes = std::fs::read(&segments(dir.path())[0]).unwrap();
            before = (records(&bytes).last().unwrap().1, next - 1);
        }
        fill(&mut store, next..next + n, 1);
        next += n;
    }
    drop(store);
    let segment = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let end = records(&bytes).last().unwrap().1;
    assert!(
        bytes[end..].iter().all(|&b| b == 0),
        "the segment ends in preallocated zeros"
    );
    // However far the preallocator had got when the store closed, the
    // segment ends in zeros as it does when the preallocator is ahead.
    if bytes.len() < end + 64 * SECTOR {
        bytes.resize(end + 64 * SECTOR, 0);
        std::fs::write(&segment, &bytes).unwrap();
    }
    (dir, segment, (before.0, end), before.1)
}

/// Opens a copy of `dir` whose segment holds `bytes`, checks that it keeps
/// entries `1..=acked` at least, is contiguous, appends on and reopens
/// clean. Returns the last index it kept.
fn opens_and_keeps(dir: &Path, segment: &Path, bytes: &[u8], acked: u64, what: &str) -> u64 {
    let copy = scratch_dir();
    copy_dir(dir, copy.path());
    std::fs::write(copy.path().join(segment.file_name().unwrap()), bytes).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut store = PlogLogStore::<Config>::open(copy.path(), options())
        .unwrap_or_else(|e| panic!("{what}: refused: {e}"));
    let last = rt.block_on(async {
        let last = store
            .get_log_state()
            .await
            .unwrap()
            .last_log_id
            .map_or(0, |l| l.index);
        assert!(
            last >= acked,
            "{what}: last index {last}, acknowledged {acked}"
        );
        let got: Vec<u64> = store
            .try_get_log_entries(1..)
            .await
            .unwrap()
            .iter()
            .map(|e| e.log_id.index)
            .collect();
        assert_eq!(got, (1..=last).collect::<Vec<_>>(), "{what}");
        last
    });
    fill(&mut store, last + 1..last + 3, 2);
    drop(store);
    let reopened = PlogLogStore::<Config>::open(copy.path(), options()).unwrap();
    assert_eq!(reopened.recovery().torn_cut, None, "{what}");
    assert_eq!(
        reopened.recovery().index_range.map(|r| r.1),
        Some(last + 2),
        "{what}"
    );
    drop(reopened);
    // Every file is a clean v1 log again.
    for (path, bytes) in snapshot(copy.path()) {
        assert_eq!(
            plog_format::classify(&bytes).status(),
            plog_format::Status::Clean,
            "{what}: {}",
            path.display()
        );
    }
    last
}

#[test]
fn power_cut_at_every_sector_boundary_of_the_last_write() {
    // Acknowledged writes of 3, 1 and 4 entries, then a write of 40 entries
    // (several KB, many sectors) that the power cut tears.
    let (dir, segment, (from, to), acked) = log_with_writes(&[3, 1, 4, 40]);
    let full = std::fs::read(&segment).unwrap();
    let first_boundary = from.next_multiple_of(SECTOR);
    let mut cases = 0;
    let mut torn = 0;
    for boundary in (first_boundary..to + SECTOR).step_by(SECTOR) {
        // The sectors before the boundary reached the disk, the rest of
        // the write is still zeros.
        let mut prefix = full.clone();
        prefix[boundary.min(to)..to].fill(0);
        let kept = opens_and_keeps(
            dir.path(),
            &segment,
            &prefix,
            acked,
            &format!("written up to {boundary}"),
        );
        torn += usize::from(kept < acked + 40);
        // Every sector but the one at the boundary reached the disk.
        let mut hole = full.clone();
        let start = boundary.saturating_sub(SECTOR).max(from);
        hole[start..boundary.min(to)].fill(0);
        let kept = opens_and_keeps(
            dir.path(),
            &segment,
            &hole,
            acked,
            &format!("sector ending at {boundary} lost"),
        );
        torn += usize::from(kept < acked + 40);
        cases += 2;
    }
    assert!(cases >= 16, "only {cases} cases: the write is too small");
    assert!(torn >= cases / 2, "only {torn} of {cases} cases were torn");
}

#[test]
fn zeroed_sector_in_an_acknowledged_record_is_refused() {
    let (dir, segment, (from, _), _) = log_with_writes(&[6, 5, 7, 3]);
    let full = std::fs::read(&segment).unwrap();
    let mut cases = 0;
    for (offset, end, index) in records(&full) {
        // Sectors that hold bytes of the last write are the documented
        // window (RAFT-SEGMENTS.md): only the sectors wholly before it.
        if end.next_multiple_of(SECTOR) > from {
            break;
        }
        // Each sector piece of the record (cut at multiples of 512).
        let mut at = offset;
        while at < end {
            let piece_end = (at / SECTOR + 1) * SECTOR;
            let piece_end = piece_end.min(end);
            let mut bytes = full.clone();
            // The whole sector is zeroed, as a lost sector would be.
            let sector = at / SECTOR * SECTOR;
            bytes[sector..sector + SECTOR].fill(0);
            let copy = scratch_dir();
            copy_dir(dir.path(), copy.path());
            let path = copy.path().join(segment.file_name().unwrap());
            std::fs::write(&path, &bytes).unwrap();
            let before = snapshot(copy.path());
            match PlogLogStore::<Config>::open(copy.path(), options()) {
                Ok(store) => panic!(
                    "record {index}: sector at {sector} zeroed: opened with range {:?}",
                    store.recovery().index_range
                ),
                Err(e) => {
                    assert!(
                        matches!(e, RaftLogError::Corrupt { .. } | RaftLogError::Gap { .. }),
                        "record {index}: {e}"
                    );
                    assert_eq!(
                        e.kind(),
                        if matches!(e, RaftLogError::Gap { .. }) {
                            "gap"
                        } else {
                            "corrupt"
                        }
                    );
                }
            }
            assert_eq!(
                snapshot(copy.path()),
                before,
                "record {index}: a refusal changed files"
            );
            cases += 1;
            at = piece_end;
        }
    }
    assert!(cases >= 8, "only {cases} cases");
}

#[test]
fn bytes_of_an_older_segment_are_never_read_as_entries() {
    // Two segments: the first one's records are the "older" bytes.
    let dir = scratch_dir();
    let small = Options {
        segment_bytes: 900,
        ..Options::default()
    };
    let mut store = PlogLogStore::<Config>::open(dir.path(), small).unwrap();
    for first in (1..=24).step_by(2) {
        fill(&mut store, first..first + 2, 1);
    }
    drop(store);
    let all = segments(dir.path());
    assert!(all.len() >= 3, "{all:?}");
    let old = std::fs::read(&all[0]).unwrap();
    let old_records = &old[26..records(&old).last().unwrap().1];
    let last = all.last().unwrap();
    let mut bytes = std::fs::read(last).unwrap();
    bytes.resize(bytes.len().max(8 * 1024), 0);
    let end = records(&bytes).last().unwrap().1;
    let expected_last = records(&bytes).last().unwrap().2;

    // Right after the last record: refused (they do not continue the log).
    let mut planted = bytes.clone();
    planted[end..end + old_records.len()].copy_from_slice(old_records);
    let copy = scratch_dir();
    copy_dir(dir.path(), copy.path());
    std::fs::write(copy.path().join(last.file_name().unwrap()), &planted).unwrap();
    let err = PlogLogStore::<Config>::open(copy.path(), small).err();
    assert!(
        matches!(err, Some(RaftLogError::Gap { .. })),
        "older records after the last one: {err:?}"
    );

    // After a torn record (a zeroed sector in a record of the last write,
    // which is followed by the older bytes): the torn write is cut, and the
    // older records with it.
    let mut planted = bytes.clone();
    let (o, e, _) = *records(&bytes).last().unwrap();
    planted[o + 48..e].fill(0);
    planted[e..e + old_records.len()].copy_from_slice(old_records);
    let copy = scratch_dir();
    copy_dir(dir.path(), copy.path());
    std::fs::write(copy.path().join(last.file_name().unwrap()), &planted).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match PlogLogStore::<Config>::open(copy.path(), small) {
        Err(e) => assert!(e.is_damage(), "{e}"),
        Ok(mut store) => rt.block_on(async {
            let entries = store.try_get_log_entries(1..).await.unwrap();
            let indices: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
            assert_eq!(indices, (1..expected_last).collect::<Vec<_>>());
        }),
    }
}

#[test]
fn any_subset_of_the_last_writes_sectors_lost_is_a_torn_append() {
    // A power cut may persist any subset of an interrupted write's sectors
    // (the device reorders them): every such outcome opens, keeps the
    // acknowledged entries, and is cut back to a contiguous log.
    let (dir, segment, (from, to), acked) = log_with_writes(&[2, 5, 1, 30]);
    let full = std::fs::read(&segment).unwrap();
    let sectors: Vec<usize> = (from / SECTOR * SECTOR..to).step_by(SECTOR).collect();
    let mut rng = plog_testdata::SplitMix64(plog_testdata::crash_seed("PLOG_RAFT_TAIL_SEED"));
    for case in 0..60 {
        let mut bytes = full.clone();
        for &sector in &sectors {
            if rng.below(3) == 0 {
                // Lost: the write's part of the sector is still zeros (the
                // part before `from` was written by an earlier write).
                let a = sector.max(from);
                let b = (sector + SECTOR).min(to);
                bytes[a..b].fill(0);
            }
        }
        opens_and_keeps(dir.path(), &segment, &bytes, acked, &format!("case {case}"));
    }
}
