// Real I/O failures: RLIMIT_FSIZE makes a write fail with EFBIG in the middle
// of a record (in a child process: the limit is process-wide), and a second
// process holding the lock.

use std::io::Write;
use std::path::Path;

use plog_format::{Status, classify};
use plog_writer::{GroupCommit, SyncPolicy, Writer, WriterOptions};

use crate::child;

#[test]
fn a_second_writer_in_another_process_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.plog");
    let (mut child, mut stdout) = child::spawn("hold_lock", &path);
    child::wait_for_line(&mut stdout, "locked");
    let err = Writer::open(&path, WriterOptions::default()).unwrap_err();
    assert_eq!(err.kind(), "locked", "{err}");
    assert_eq!(
        GroupCommit::open(&path, WriterOptions::default())
            .unwrap_err()
            .kind(),
        "locked"
    );
    // Readers need no lock.
    assert_eq!(plog_writer::inspect(&path).unwrap().records, 0);
    // Once the other process ends, the lock is free.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    Writer::open(&path, WriterOptions::default()).unwrap();
}

#[test]
fn writes_failing_with_efbig_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.plog");
    let (mut child, mut stdout) = child::spawn("fsize", &path);
    child::wait_for_line(&mut stdout, "fsize: done");
    assert!(child.wait().unwrap().success());
    // The log the child left behind is clean and holds what it acknowledged.
    let bytes = std::fs::read(&path).unwrap();
    let report = classify(&bytes);
    assert_eq!(report.status(), Status::Clean);
    let (_, open) = Writer::open(&path, WriterOptions::default()).unwrap();
    assert_eq!(open.repaired, None);
}

/// Runs in the child: appends against a file-size limit.
pub fn fsize_child(path: &Path) {
    // SAFETY: `signal` only changes this (child) process's disposition of
    // SIGXFSZ to "ignore", so that exceeding RLIMIT_FSIZE makes the write
    // fail with EFBIG instead of killing the process; no handler runs.
    let previous = unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    assert_ne!(previous, libc::SIG_ERR);

    let payload = |i: u64| plog_testdata::k8s_payload(i, 200);
    let (mut writer, _) = Writer::open(path, WriterOptions::default()).unwrap();
    for index in 1..=10 {
        writer.append_raw(index, &payload(index)).unwrap();
    }
    let durable = writer.durable();
    // Room for 2 more records and part of a third (each is 248 bytes).
    set_file_size_limit(durable.len + 2 * 248 + 100);

    writer.append_raw(11, &payload(11)).unwrap();
    writer.append_raw(12, &payload(12)).unwrap();
    let acked = writer.durable();
    let err = writer.append_raw(13, &payload(13)).unwrap_err();
    assert_eq!(err.kind(), "write_failed", "{err}");
    assert_eq!(
        err.io_error().and_then(|e| e.raw_os_error()),
        Some(libc::EFBIG),
        "{err}"
    );
    assert_eq!(err.durable(), Some(acked));
    let message = err.to_string();
    assert!(message.contains("indices 13..=13"), "{message}");
    assert!(
        message.contains("12 record(s) through index 12"),
        "{message}"
    );
    assert!(message.contains("cut off"), "{message}");
    // The partial record (100 bytes of it reached the file) was cut off.
    assert_eq!(std::fs::metadata(path).unwrap().len(), acked.len);
    assert_clean_with(path, 12);

    // A batch that does not fit: nothing of it stays.
    let payloads: Vec<Vec<u8>> = (13..16).map(payload).collect();
    let err = writer
        .append_batch_raw((13..).zip(payloads.iter().map(Vec::as_slice)))
        .unwrap_err();
    assert_eq!(err.kind(), "write_failed");
    assert!(
        err.to_string().contains("3 record(s) (indices 13..=15"),
        "{err}"
    );
    assert_clean_with(path, 12);

    // The manual policy: a flush that crosses the limit.
    drop(writer);
    let manual = WriterOptions {
        sync: SyncPolicy::Manual,
        ..WriterOptions::default()
    };
    let (mut writer, report) = Writer::open(path, manual).unwrap();
    assert_eq!(report.last_index, Some(12));
    for index in 13..=20 {
        writer.append_raw(index, &payload(index)).unwrap();
    }
    let err = writer.sync().unwrap_err();
    assert_eq!(err.kind(), "write_failed");
    assert_eq!(err.durable().map(|d| d.last_index), Some(Some(12)));
    assert_clean_with(path, 12);
    drop(writer);

    // Group commit: the failed batch is reported and the handle poisoned.
    let (log, _) = GroupCommit::open(path, WriterOptions::default()).unwrap();
    set_file_size_limit(log.durable().len + 248 + 100);
    log.append_raw(13, &payload(13)).unwrap();
    let err = log.append_raw(14, &payload(14)).unwrap_err();
    assert_eq!(err.kind(), "write_failed", "{err}");
    assert_eq!(log.append_raw(15, b"x").unwrap_err().kind(), "poisoned");
    assert_clean_with(path, 13);
    drop(log);

    // With the limit lifted, the same writer goes on where it was.
    let (mut writer, _) = Writer::open(path, WriterOptions::default()).unwrap();
    assert_eq!(
        writer.append_raw(14, &payload(14)).unwrap_err().kind(),
        "write_failed"
    );
    set_file_size_limit(libc::RLIM_INFINITY);
    writer.append_raw(14, &payload(14)).unwrap();
    assert!(!writer.is_poisoned());
    assert_clean_with(path, 14);

    // Preallocation against the limit: growing the zeros fails, the records
    // that fit still go in, the one that does not fails cleanly.
    drop(writer);
    let preallocating = WriterOptions {
        preallocate: Some(1 << 20),
        ..WriterOptions::default()
    };
    let (mut writer, _) = Writer::open(path, preallocating).unwrap();
    set_file_size_limit(writer.len() + 4 * 248 + 100);
    for index in 15..=18 {
        writer.append_raw(index, &payload(index)).unwrap();
    }
    let err = writer.append_raw(19, &payload(19)).unwrap_err();
    assert_eq!(err.kind(), "write_failed", "{err}");
    assert_eq!(err.durable().map(|d| d.last_index), Some(Some(18)));
    assert_eq!(std::fs::metadata(path).unwrap().len(), writer.len());
    drop(writer);
    assert_clean_with(path, 18);

    let mut out = std::io::stdout().lock();
    writeln!(out, "fsize: done").unwrap();
    out.flush().unwrap();
}

fn assert_clean_with(path: &Path, last_index: u64) {
    let report = classify(&std::fs::read(path).unwrap());
    assert_eq!(report.status(), Status::Clean, "{report:?}");
    let indices: Vec<u64> = report.records.iter().map(|r| r.index).collect();
    assert_eq!(indices, (1..=last_index).collect::<Vec<_>>());
}

fn set_file_size_limit(bytes: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` through a valid, exclusive
    // pointer to an initialised value.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit) };
    assert_eq!(got, 0, "getrlimit failed");
    limit.rlim_cur = bytes.min(limit.rlim_max);
    // SAFETY: `setrlimit` reads one `rlimit` through a valid pointer; it only
    // changes this (child) process's soft limit, within the hard limit.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &limit) };
    assert_eq!(set, 0, "setrlimit failed");
}
