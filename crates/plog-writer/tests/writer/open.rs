// Opening, creating, locking and repairing logs, checked against the corpus
// and plog-format's reference classification.

use std::path::Path;

use plog_format::{MAGIC, Status, classify};
use plog_writer::{
    GroupCommit, LockedLog, RepairOptions, RepairPlan, SyncPolicy, WriteError, Writer,
    WriterOptions, inspect,
};

fn copy_to(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn corpus_files_open_repair_or_refuse_as_classified() {
    let dir = tempfile::tempdir().unwrap();
    for file in plog_testdata::corpus() {
        let path = copy_to(dir.path(), &file.name, &file.bytes);
        let oracle = classify(&file.bytes);
        match Writer::open(&path, WriterOptions::default()) {
            Ok((mut writer, report)) => {
                assert_ne!(oracle.status(), Status::Corrupt, "{}", file.name);
                assert_eq!(
                    report.records as usize,
                    oracle.records.len(),
                    "{}",
                    file.name
                );
                assert_eq!(report.last_index, oracle.last_index(), "{}", file.name);
                assert_eq!(report.repaired, oracle.torn, "{}", file.name);
                let after = std::fs::read(&path).unwrap();
                let expected_len = match oracle.torn {
                    Some(tail) if tail.offset == 0 => MAGIC.len() as u64,
                    Some(tail) => tail.offset,
                    None => file.bytes.len() as u64,
                };
                assert_eq!(report.len, expected_len, "{}", file.name);
                assert_eq!(after.len() as u64, expected_len, "{}", file.name);
                // Everything valid is kept byte for byte.
                let keep = (expected_len as usize).min(file.bytes.len());
                assert_eq!(after[..keep], file.bytes[..keep], "{}", file.name);
                assert_eq!(classify(&after).status(), Status::Clean, "{}", file.name);
                // Appending continues.
                let next = report.last_index.map_or(1, |i| i + 1);
                writer.append_raw(next, b"{\"after\":true}").unwrap();
                drop(writer);
                let reread = classify(&std::fs::read(&path).unwrap());
                assert_eq!(reread.status(), Status::Clean, "{}", file.name);
                assert_eq!(reread.records.len(), oracle.records.len() + 1);
            }
            Err(err) => {
                assert_eq!(oracle.status(), Status::Corrupt, "{}: {err}", file.name);
                assert_eq!(err.kind(), "corrupt", "{}", file.name);
                let first = oracle.corruptions[0];
                let message = err.to_string();
                assert!(
                    message.contains(&format!("offset {}", first.offset())),
                    "{}: {message}",
                    file.name
                );
                if let Some(index) = first.index() {
                    assert!(message.contains(&index.to_string()), "{message}");
                }
                assert!(message.contains("plog repair"), "{message}");
                // Nothing was changed.
                assert_eq!(std::fs::read(&path).unwrap(), file.bytes, "{}", file.name);
            }
        }
    }
}

#[test]
fn create_makes_parents_and_refuses_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c/raft.plog");
    let writer = Writer::create(&path, WriterOptions::default()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), MAGIC);
    assert_eq!(writer.len(), 26);
    assert!(writer.is_empty());
    drop(writer);
    let err = Writer::create(&path, WriterOptions::default()).unwrap_err();
    assert_eq!(err.kind(), "exists");
    let (_, report) = Writer::open(&path, WriterOptions::default()).unwrap();
    assert!(!report.created);
    assert_eq!((report.records, report.len), (0, 26));
}

#[test]
fn open_without_create_if_missing_reports_io() {
    let dir = tempfile::tempdir().unwrap();
    let options = WriterOptions {
        create_if_missing: false,
        ..WriterOptions::default()
    };
    let err = Writer::open(dir.path().join("missing.plog"), options).unwrap_err();
    assert_eq!(err.kind(), "io");
    assert!(!dir.path().join("missing.plog").exists());
}

#[test]
fn a_second_writer_in_this_process_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.plog");
    let (mut first, _) = Writer::open(&path, WriterOptions::default()).unwrap();
    let err = Writer::open(&path, WriterOptions::default()).unwrap_err();
    assert_eq!(err.kind(), "locked");
    assert!(err.to_string().contains("locked"), "{err}");
    assert_eq!(
        plog_writer::GroupCommit::open(&path, WriterOptions::default())
            .unwrap_err()
            .kind(),
        "locked"
    );
    assert_eq!(LockedLog::open(&path).unwrap_err().kind(), "locked");
    // Readers need no lock.
    first.append_raw(1, b"x").unwrap();
    assert_eq!(inspect(&path).unwrap().records, 1);
    drop(first);
    Writer::open(&path, WriterOptions::default()).unwrap();
}

#[test]
fn torn_magic_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    for cut in 0..MAGIC.len() {
        let path = copy_to(dir.path(), &format!("cut{cut}.plog"), &MAGIC[..cut]);
        let (_, report) = Writer::open(&path, WriterOptions::default()).unwrap();
        assert_eq!(report.repaired.map(|t| t.bytes), Some(cut as u64));
        assert_eq!(std::fs::read(&path).unwrap(), MAGIC);
    }
}

#[test]
fn drop_corrupt_tail_only_drops_a_damaged_final_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = MAGIC.to_vec();
    plog_format::encode_record_to_vec(1, b"one", &mut log);
    let second = log.len() as u64;
    plog_format::encode_record_to_vec(2, b"two", &mut log);
    let last = log.len() - 1;
    log[last] ^= 0x20;
    let path = copy_to(dir.path(), "tail.plog", &log);

    let err = Writer::open(&path, WriterOptions::default()).unwrap_err();
    assert_eq!(err.kind(), "corrupt");
    let mut locked = LockedLog::open(&path).unwrap();
    let plan = locked.plan(RepairOptions::default());
    assert!(matches!(
        plan,
        RepairPlan::Refuse {
            final_record_only: true,
            ..
        }
    ));
    assert_eq!(
        locked.repair(RepairOptions::default()).unwrap_err().kind(),
        "corrupt"
    );
    assert_eq!(std::fs::read(&path).unwrap(), log);
    let plan = locked
        .repair(RepairOptions {
            drop_corrupt_tail: true,
        })
        .unwrap();
    assert_eq!(plan.kind(), "drop_corrupt_tail");
    assert_eq!(std::fs::read(&path).unwrap(), log[..second as usize]);
    drop(locked);
    let (mut writer, report) = Writer::open(&path, WriterOptions::default()).unwrap();
    assert_eq!((report.records, report.last_index), (1, Some(1)));
    writer.append_raw(2, b"two").unwrap();

    // A damaged record in the middle is never dropped.
    let mut log = MAGIC.to_vec();
    plog_format::encode_record_to_vec(1, b"one", &mut log);
    plog_format::encode_record_to_vec(2, b"two", &mut log);
    log[26 + 48] ^= 1;
    let path = copy_to(dir.path(), "mid.plog", &log);
    let mut locked = LockedLog::open(&path).unwrap();
    let options = RepairOptions {
        drop_corrupt_tail: true,
    };
    assert_eq!(locked.plan(options).kind(), "refuse");
    assert_eq!(locked.repair(options).unwrap_err().kind(), "corrupt");
    assert_eq!(std::fs::read(&path).unwrap(), log);
}

#[test]
fn index_order_rejections_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.plog");
    let options = WriterOptions {
        index_order: plog_format::IndexOrder::Contiguous,
        max_payload_len: Some(8),
        ..WriterOptions::default()
    };
    let (mut writer, _) = Writer::open(&path, options).unwrap();
    writer.append_raw(5, b"a").unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    let check = |err: WriteError, kind: &str, words: &str| {
        assert_eq!(err.kind(), kind);
        assert!(err.is_rejection());
        assert!(err.to_string().contains(words), "{err}");
    };
    check(
        writer.append_raw(7, b"b").unwrap_err(),
        "index_order",
        "expects 6 after index 5, found 7",
    );
    check(
        writer.append_raw(5, b"b").unwrap_err(),
        "index_order",
        "found 5",
    );
    check(
        writer.append_raw(6, b"123456789").unwrap_err(),
        "payload_too_large",
        "at most 8 bytes, found 9",
    );
    check(
        writer.append(6, &"123456789").unwrap_err(),
        "payload_too_large",
        "found 11",
    );
    check(
        writer
            .append_batch_raw([(6, &b"x"[..]), (7, b"y"), (9, b"z")])
            .unwrap_err(),
        "index_order",
        "expects 8 after index 7, found 9",
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    writer.append_raw(6, b"b").unwrap();

    let increasing = WriterOptions {
        index_order: plog_format::IndexOrder::Increasing,
        sync: SyncPolicy::Manual,
        ..WriterOptions::default()
    };
    drop(writer);
    let (mut writer, report) = Writer::open(&path, increasing).unwrap();
    assert_eq!(report.last_index, Some(6));
    writer.append_raw(100, b"c").unwrap();
    check(
        writer.append_raw(100, b"d").unwrap_err(),
        "index_order",
        "an index greater than 100",
    );
    writer.close().unwrap();
}

#[test]
fn a_dropped_writer_frees_the_lock_even_while_other_threads_fork() {
    // Between fork and exec, a child process holds a copy of every file
    // descriptor, and a `flock` lock belongs to the open file description,
    // not to one descriptor: closing ours is not enough while a child has
    // not yet exec'ed. Dropping a writer must unlock explicitly.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fork.plog");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let reopen = |round: u64| -> Result<(), plog_writer::WriteError> {
        let (mut writer, _) = Writer::open(&path, WriterOptions::default())?;
        writer.append_raw(round, b"x")?;
        drop(writer);
        let (group, _) = GroupCommit::open(&path, WriterOptions::default())?;
        drop(group);
        drop(LockedLog::open(&path)?);
        Ok(())
    };
    let failure = std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::process::Command::new("true").status();
            }
        });
        let failure = (0..300u64).find_map(|round| reopen(round).err().map(|e| (round, e)));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        failure
    });
    if let Some((round, e)) = failure {
        panic!("round {round}: {e}");
    }
}

/// A named pipe given where a log is expected is refused at once: opened
/// for reading and writing it never ends, and the open-time scan would
/// wait on it forever.
#[test]
fn a_named_pipe_is_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.plog");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let locked = LockedLog::open(&path).err().map(|e| e.to_string());
        let writer = Writer::open(&path, WriterOptions::default())
            .err()
            .map(|e| e.to_string());
        let _ = tx.send((locked, writer));
    });
    let (locked, writer) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("opening a named pipe as a log hung");
    for message in [locked, writer] {
        let message = message.expect("a named pipe opened as a log");
        assert!(
            message.contains("expected a regular file, found a named pipe"),
            "{message}"
        );
    }
}
