//! Directories plog-raft must refuse to open, changing nothing: a damaged
//! middle segment, a torn middle segment, a missing segment, a foreign file,
//! and segments from another log.

use std::path::Path;

use plog_format::{Record, Step, Walker};
use plog_raft::{Options, PlogLogStore, RaftLogError};

use crate::files::{build, copy_dir, segments, snapshot};
use crate::support::Config;

const SEGMENT_BYTES: u64 = 700;

fn options() -> Options {
    Options {
        segment_bytes: SEGMENT_BYTES,
        ..Options::default()
    }
}

/// Opens `dir`, expecting a refusal, and checks that no file changed.
fn refused(dir: &Path) -> RaftLogError {
    let before = snapshot(dir);
    let err = match PlogLogStore::<Config>::open(dir, options()) {
        Ok(_) => panic!("{}: opened, expected a refusal", dir.display()),
        Err(e) => e,
    };
    assert_eq!(
        snapshot(dir),
        before,
        "a refused open changed the directory: {err}"
    );
    err
}

/// A log of 60 entries in several segments.
fn good_log() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 60, 1, SEGMENT_BYTES, 7);
    assert!(
        segments(dir.path()).len() >= 4,
        "{:?}",
        segments(dir.path())
    );
    // It opens as it is.
    drop(PlogLogStore::<Config>::open(dir.path(), options()).unwrap());
    dir
}

/// The records of a segment file: (offset, index, payload length).
fn records(path: &Path) -> Vec<(u64, u64, u64)> {
    let bytes = std::fs::read(path).unwrap();
    Walker::new(&bytes)
        .filter_map(|s| match s {
            Step::Record(r) => Some((r.offset(), r.index(), r.payload_len())),
            _ => None,
        })
        .collect()
}

#[test]
fn damaged_middle_segment_is_refused_with_segment_offset_and_index() {
    let dir = good_log();
    let middle = segments(dir.path())[1].clone();
    let (offset, index, _) = records(&middle)[1];
    let mut bytes = std::fs::read(&middle).unwrap();
    let at = usize::try_from(offset).unwrap() + 48 + 3;
    bytes[at] ^= 0x20;
    std::fs::write(&middle, &bytes).unwrap();
    assert!(Record::parse_at(&bytes, offset).unwrap().verify().is_err());

    let err = refused(dir.path());
    match &err {
        RaftLogError::Corrupt {
            segment,
            offset: o,
            index: i,
            ..
        } => {
            assert_eq!((segment, *o, *i), (&middle, offset, Some(index)), "{err}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&middle.display().to_string()) && text.contains("hash mismatch"),
        "{text}"
    );
}

#[test]
fn torn_middle_segment_is_refused() {
    let dir = good_log();
    let middle = segments(dir.path())[1].clone();
    let len = std::fs::metadata(&middle).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&middle)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let err = refused(dir.path());
    assert!(
        matches!(&err, RaftLogError::Corrupt { segment, .. } if *segment == middle),
        "{err:?}"
    );
    assert!(err.to_string().contains("not the last"), "{err}");
}

#[test]
fn missing_segment_is_refused() {
    let dir = good_log();
    let all = segments(dir.path());
    std::fs::remove_file(&all[2]).unwrap();
    let err = refused(dir.path());
    let first_missing = records(&all[1]).last().unwrap().1 + 1;
    let after = records(&all[3])[0].1;
    match &err {
        RaftLogError::Gap {
            segment,
            expected,
            found,
            ..
        } => assert_eq!(
            (segment, *expected, *found),
            (&all[3], first_missing, after)
        ),
        other => panic!("expected Gap, got {other:?}"),
    }
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn foreign_files_are_refused() {
    let dir = good_log();
    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, b"hello").unwrap();
    let err = refused(dir.path());
    assert!(
        matches!(&err, RaftLogError::ForeignFile { path } if *path == foreign),
        "{err:?}"
    );
    std::fs::remove_file(&foreign).unwrap();

    // A directory, and a name that is almost a segment's.
    for name in ["sub.plog", "1.plog"] {
        let path = dir.path().join(name);
        if name == "sub.plog" {
            std::fs::create_dir(&path).unwrap();
        } else {
            std::fs::write(&path, plog_format::MAGIC).unwrap();
        }
        let err = refused(dir.path());
        assert!(
            matches!(&err, RaftLogError::ForeignFile { path: p } if *p == path),
            "{err:?}"
        );
        if path.is_dir() {
            std::fs::remove_dir(&path).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
    }
    drop(PlogLogStore::<Config>::open(dir.path(), options()).unwrap());
}

#[test]
fn segment_from_another_log_is_refused() {
    let dir = good_log();
    // Another log with the same indices but later terms: its segments have
    // the same names.
    let other = tempfile::tempdir().unwrap();
    build(other.path(), 60, 7, SEGMENT_BYTES, 7);
    let ours = segments(dir.path());
    let theirs = segments(other.path());
    assert_eq!(ours[1].file_name(), theirs[1].file_name());

    // Same name, swapped in: log ids go backwards at the next segment.
    let swapped = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), swapped.path());
    let target = swapped.path().join(theirs[1].file_name().unwrap());
    std::fs::copy(&theirs[1], &target).unwrap();
    let err = refused(swapped.path());
    assert!(matches!(&err, RaftLogError::BadEntry { .. }), "{err:?}");
    assert!(err.to_string().contains("another log"), "{err}");

    // A segment of a log whose segments start elsewhere: overlap.
    let shifted = tempfile::tempdir().unwrap();
    build(shifted.path(), 60, 1, SEGMENT_BYTES + 300, 5);
    let extra = segments(shifted.path())
        .into_iter()
        .find(|p| !ours.iter().any(|o| o.file_name() == p.file_name()))
        .expect("a segment name that our log does not have");
    let mixed = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), mixed.path());
    std::fs::copy(&extra, mixed.path().join(extra.file_name().unwrap())).unwrap();
    let err = refused(mixed.path());
    assert!(matches!(&err, RaftLogError::Gap { .. }), "{err:?}");
}

/// A record whose hash changes on disk after the open (the payload intact,
/// so it still decodes to the right entry): a store with
/// `Options::verify_reads` refuses to read it and names the entry; a store
/// without it (the default: every record was verified at open) returns the
/// entry, whose structure, index and log id still check.
#[test]
fn verify_reads_catches_a_change_after_open() {
    use openraft::RaftLogReader;
    use std::os::unix::fs::FileExt;

    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 10, 1, 1 << 20, 10);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for verify_reads in [true, false] {
        let options = Options {
            verify_reads,
            ..Options::default()
        };
        let mut store = PlogLogStore::<Config>::open(dir.path(), options).unwrap();
        let segment = segments(dir.path()).remove(0);
        let bytes = std::fs::read(&segment).unwrap();
        let record = Walker::new(&bytes)
            .find_map(|s| match s {
                Step::Record(r) if r.index() == 5 => Some(r.offset()),
                _ => None,
            })
            .unwrap();
        // The first byte of the record's hash (after its index and length).
        let at = record + 16;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap();
        file.write_all_at(&[bytes[at as usize] ^ 1], at).unwrap();
        let read = rt.block_on(store.try_get_log_entries(1..11));
        if verify_reads {
            let err = read.expect_err("a read of a changed record with verify_reads");
            assert!(err.to_string().contains("entry 5"), "{err}");
        } else {
            let entries = read.unwrap();
            let indices: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
            assert_eq!(indices, (1..11).collect::<Vec<_>>());
        }
        file.write_all_at(&[bytes[at as usize]], at).unwrap();
        drop(store);
    }
}
