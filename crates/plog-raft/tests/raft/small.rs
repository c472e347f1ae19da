//! The small things an openraft user trips on: files that are not the
//! log's, reopening right after a drop, error kinds, permissions.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use plog_raft::{Options, PlogLogStore, RaftLogError};

use crate::files::{build, fill};
use crate::support::Config;

#[test]
fn hidden_files_and_lost_found_do_not_refuse_an_open_but_a_segment_name_does() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 5, 1, 4096, 2);
    std::fs::write(dir.path().join(".editor.swp"), b"x").unwrap();
    std::fs::create_dir(dir.path().join("lost+found")).unwrap();
    std::fs::create_dir(dir.path().join(".snapshots")).unwrap();
    let store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
    assert_eq!(store.recovery().index_range, Some((1, 5)));
    drop(store);
    // Left alone.
    assert!(dir.path().join(".editor.swp").exists());
    // A directory named like a segment, and a stray file, still refuse.
    let seg_dir = dir.path().join("00000000000000000100.plog");
    std::fs::create_dir(&seg_dir).unwrap();
    let err = PlogLogStore::<Config>::open(dir.path(), Options::default())
        .err()
        .unwrap();
    assert_eq!(err.kind(), "foreign_file", "{err}");
    std::fs::remove_dir(&seg_dir).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
    let err = PlogLogStore::<Config>::open(dir.path(), Options::default())
        .err()
        .unwrap();
    assert!(matches!(err, RaftLogError::ForeignFile { .. }), "{err}");
    assert!(err.is_damage());
}

#[test]
fn a_reader_that_outlives_its_store_does_not_hold_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
    fill(&mut store, 1..4, 1);
    // openraft's replication tasks hold readers for a while after the
    // store itself is dropped.
    let mut reader = rt.block_on(openraft::storage::RaftLogStorage::get_log_reader(
        &mut store,
    ));
    rt.block_on(async {
        openraft::storage::RaftLogStorage::save_vote(&mut store, &openraft::Vote::new(3, 1))
            .await
            .unwrap();
    });
    drop(store);
    let reopened = PlogLogStore::<Config>::open(
        dir.path(),
        Options {
            lock_wait: Duration::ZERO,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(reopened.recovery().index_range, Some((1, 3)));
    // The old reader still reads what it saw.
    let entries = rt
        .block_on(openraft::RaftLogReader::try_get_log_entries(
            &mut reader,
            1..4,
        ))
        .unwrap();
    assert_eq!(entries.len(), 3);
}

#[test]
fn an_open_waits_for_a_store_of_this_process_being_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
    fill(&mut store, 1..4, 1);
    let started = Instant::now();
    let dropper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(store);
    });
    // No retry loop: the open waits for the drop.
    let reopened = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(reopened.recovery().index_range, Some((1, 3)));
    dropper.join().unwrap();
    // With no wait, a held directory is Locked at once.
    let err = PlogLogStore::<Config>::open(
        dir.path(),
        Options {
            lock_wait: Duration::ZERO,
            ..Options::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(err.kind(), "locked", "{err}");
    assert!(!err.is_damage());
}

#[test]
fn files_are_private_whatever_the_umask_and_an_open_directory_is_reported() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("log");
    let mut store = PlogLogStore::<Config>::open(&dir, Options::default()).unwrap();
    assert_eq!(store.recovery().exposed, None);
    fill(&mut store, 1..4, 1);
    store
        .purge_to(openraft::LogId::new(
            openraft::CommittedLeaderId::new(1, 0),
            1,
        ))
        .unwrap();
    drop(store);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for item in std::fs::read_dir(&dir).unwrap() {
        let path = item.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = PlogLogStore::<Config>::open(&dir, Options::default()).unwrap();
    assert_eq!(store.recovery().exposed, Some(0o055));
    drop(store);
    // Another mode on request.
    let other = parent.path().join("shared");
    let mut store = PlogLogStore::<Config>::open(
        &other,
        Options {
            file_mode: 0o640,
            ..Options::default()
        },
    )
    .unwrap();
    fill(&mut store, 1..2, 1);
    drop(store);
    let segment = crate::files::segments(&other).pop().unwrap();
    assert_eq!(mode(&segment), 0o640);
}

#[test]
fn appends_land_in_zeros_written_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        segment_bytes: 4 << 20,
        ..Options::default()
    };
    let mut store = PlogLogStore::<Config>::open(dir.path(), options).unwrap();
    fill(&mut store, 1..2, 1);
    // The preallocator gets ahead of the first append in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    let segment = crate::files::segments(dir.path()).pop().unwrap();
    while std::fs::metadata(&segment).unwrap().len() < 256 << 10 {
        assert!(Instant::now() < deadline, "no zeros were written ahead");
        std::thread::sleep(Duration::from_millis(5));
    }
    for i in 2..20 {
        fill(&mut store, i..i + 1, 1);
    }
    let stats = store.write_stats();
    assert_eq!(stats.overwrites + stats.growths, 19, "{stats:?}");
    assert!(stats.overwrites >= 18, "{stats:?}");
    // The file holds the records, then zeros.
    let bytes = std::fs::read(&segment).unwrap();
    let end = plog_format::Walker::new(&bytes)
        .filter_map(|s| match s {
            plog_format::Step::Record(r) => Some(r.end_offset() as usize),
            _ => None,
        })
        .last()
        .unwrap();
    assert!(bytes.len() >= end + (128 << 10));
    assert!(bytes[end..].iter().all(|&b| b == 0));
    drop(store);
    // The open trims them: a clean v1 file again.
    let store = PlogLogStore::<Config>::open(dir.path(), options).unwrap();
    assert!(store.recovery().zeros_trimmed > 0);
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), end as u64);
}
