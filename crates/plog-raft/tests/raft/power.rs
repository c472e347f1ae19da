//! Power loss: the bytes written after the last flushed entry may reach the
//! disk in part. Cut the last segment at every byte past the last flushed
//! entry; every cut must reopen, keep every flushed entry, and take appends.

use std::path::Path;

use openraft::RaftLogReader;
use openraft::storage::RaftLogStorage;
use plog_raft::{Options, PlogLogStore};

use crate::files::{build, copy_dir, fill, scratch_dir, segments};
use crate::support::Config;

fn check_every_cut(dir: &Path, flushed: u64, segment_bytes: u64) {
    let options = Options {
        segment_bytes,
        ..Options::default()
    };
    let last = segments(dir).pop().unwrap();
    let full = std::fs::read(&last).unwrap();
    // Where the last flushed entry ends in the last segment (0 when the
    // segment holds only unflushed entries: its creation may be cut too).
    let mut flushed_end = 0u64;
    for step in plog_format::Walker::new(&full) {
        if let plog_format::Step::Record(r) = step
            && r.index() <= flushed
        {
            flushed_end = r.end_offset();
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The segment ends in the zeros the preallocator wrote ahead: a cut
    // anywhere in them is the same as a cut at their start.
    let data_end = full.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1) as u64;
    let mut cuts = 0;
    for cut in flushed_end..=(data_end + 64).min(full.len() as u64) {
        let copy = scratch_dir();
        copy_dir(dir, copy.path());
        let name = last.file_name().unwrap();
        std::fs::write(copy.path().join(name), &full[..cut as usize]).unwrap();
        let mut store = PlogLogStore::<Config>::open(copy.path(), options)
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        rt.block_on(async {
            let state = store.get_log_state().await.unwrap();
            let got = state.last_log_id.map_or(0, |l| l.index);
            assert!(
                got >= flushed,
                "cut at {cut}: last index {got}, flushed {flushed}"
            );
            let entries = store.try_get_log_entries(1..).await.unwrap();
            let indices: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
            assert_eq!(indices, (1..=got).collect::<Vec<_>>(), "cut at {cut}");
        });
        cuts += 1;
        // Appends continue where the log ends, and the result reopens.
        let next = rt
            .block_on(store.get_log_state())
            .unwrap()
            .last_log_id
            .map_or(1, |l| l.index + 1);
        fill(&mut store, next..next + 2, 2);
        drop(store);
        let reopened = PlogLogStore::<Config>::open(copy.path(), options).unwrap();
        assert_eq!(reopened.recovery().torn_cut, None, "cut at {cut}");
        assert_eq!(reopened.recovery().index_range.map(|r| r.1), Some(next + 1));
    }
    assert!(cuts > 100, "only {cuts} cuts");
}

#[test]
fn cut_inside_the_last_segment() {
    let dir = tempfile::tempdir().unwrap();
    // 30 flushed entries, then 6 more whose bytes a power loss may cut,
    // all in one big last segment.
    build(dir.path(), 30, 1, 4096, 4);
    let mut store = PlogLogStore::<Config>::open(
        dir.path(),
        Options {
            segment_bytes: 1 << 20,
            ..Options::default()
        },
    )
    .unwrap();
    fill(&mut store, 31..37, 1);
    drop(store);
    check_every_cut(dir.path(), 30, 1 << 20);
}

#[test]
fn cut_a_new_last_segment_from_its_first_byte() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 30, 1, 600, 4);
    // The unflushed entries start a segment of their own (every open starts
    // a new segment), whose creation a power loss may cut as well.
    let mut store = PlogLogStore::<Config>::open(
        dir.path(),
        Options {
            segment_bytes: 600,
            ..Options::default()
        },
    )
    .unwrap();
    fill(&mut store, 31..36, 1);
    drop(store);
    check_every_cut(dir.path(), 30, 600);
}
