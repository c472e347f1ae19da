// Preallocation: zeros ahead of the records while the writer is open (a
// zero-filled torn tail to readers), cut off on a clean close; a crash
// snapshot reopens with every record and the zeros repaired away.

use plog_format::{Status, TornReason, classify};
use plog_writer::{GroupCommit, SyncPolicy, Writer, WriterOptions};

fn options(chunk: u64) -> WriterOptions {
    WriterOptions {
        preallocate: Some(chunk),
        ..WriterOptions::default()
    }
}

fn payload(i: u64) -> Vec<u8> {
    plog_testdata::k8s_payload(i, 100 + (i as usize % 5) * 50)
}

#[test]
fn zeros_ahead_while_open_exact_bytes_after_close() {
    let dir = crate::scratch_dir();
    let path = dir.path().join("pre.plog");
    let snapshot = dir.path().join("snapshot.plog");
    let payloads: Vec<Vec<u8>> = (1..=40).map(payload).collect();
    let expected = plog_testdata::build_log((1..).zip(payloads.iter().map(Vec::as_slice)));
    for sync in [SyncPolicy::EveryAppend, SyncPolicy::Manual] {
        let (mut writer, _) = Writer::open(
            &path,
            WriterOptions {
                sync,
                ..options(1000)
            },
        )
        .unwrap();
        for (i, p) in (1..).zip(&payloads) {
            writer.append_raw(i, p).unwrap();
            if i % 7 == 0 {
                writer.sync().unwrap();
            }
        }
        writer.sync().unwrap();
        // While open: the records, then zeros.
        let live = std::fs::read(&path).unwrap();
        assert!(live.len() > expected.len(), "{sync:?}: no zeros ahead");
        assert_eq!(live[..expected.len()], expected[..]);
        assert!(live[expected.len()..].iter().all(|&b| b == 0));
        let report = crate::read_back(&path);
        assert_eq!(report.records.len(), 40);
        assert_eq!(report.torn.unwrap().reason, TornReason::ZeroFill);
        // A crash now leaves that file: reopening repairs it.
        std::fs::write(&snapshot, &live).unwrap();
        let (_, reopened) = Writer::open(&snapshot, WriterOptions::default()).unwrap();
        assert_eq!(reopened.records, 40);
        let tail = reopened.repaired.unwrap();
        assert_eq!(tail.offset, expected.len() as u64);
        assert_eq!(std::fs::read(&snapshot).unwrap(), expected);
        std::fs::remove_file(&snapshot).unwrap();
        // A clean close leaves exactly what the v1 writer writes.
        if sync == SyncPolicy::Manual {
            writer.close().unwrap();
        } else {
            drop(writer);
        }
        assert_eq!(std::fs::read(&path).unwrap(), expected, "{sync:?}");
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn group_commit_preallocates_and_trims_on_drop() {
    let dir = crate::scratch_dir();
    let path = dir.path().join("group.plog");
    let (log, _) = GroupCommit::open(&path, options(4096)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let log = &log;
            s.spawn(move || {
                for i in 0..25 {
                    log.append_raw(t * 100 + i, &payload(i)).unwrap();
                }
            });
        }
    });
    let durable = log.durable();
    let live = std::fs::read(&path).unwrap();
    assert!(live.len() as u64 > durable.len);
    assert_eq!(classify(&live).records.len(), 100);
    drop(log);
    let closed = std::fs::read(&path).unwrap();
    assert_eq!(closed.len() as u64, durable.len);
    assert_eq!(classify(&closed).status(), Status::Clean);
}

#[test]
fn a_batch_larger_than_the_chunk_is_covered() {
    let dir = crate::scratch_dir();
    let path = dir.path().join("big.plog");
    let (mut writer, _) = Writer::open(&path, options(100)).unwrap();
    let payloads: Vec<Vec<u8>> = (0..50).map(payload).collect();
    writer
        .append_batch_raw((0..).zip(payloads.iter().map(Vec::as_slice)))
        .unwrap();
    let expected = plog_testdata::build_log((0..).zip(payloads.iter().map(Vec::as_slice)));
    let live = std::fs::read(&path).unwrap();
    assert_eq!(live.len(), expected.len() + 100);
    drop(writer);
    assert_eq!(std::fs::read(&path).unwrap(), expected);
}

/// Why preallocation is off by default: a power cut in the middle of an
/// append lands differently. Growing the file (the default), the bytes of
/// a record that did not reach the disk are simply missing: a torn tail
/// that the next open repairs (tests/writer/power.rs). Over preallocated
/// zeros, they read as zeros inside a record whose full length is present,
/// which FORMAT.md classifies as a hash mismatch: corruption, which the next
/// open refuses (it never drops a record with a bad hash on its own) until
/// `plog repair --drop-corrupt-tail` is run.
#[test]
fn a_power_cut_inside_an_append_over_zeros_reads_as_corruption() {
    let dir = crate::scratch_dir();
    let path = dir.path().join("cut.plog");
    let snapshot = dir.path().join("snapshot.plog");
    let (mut writer, _) = Writer::open(&path, options(64 * 1024)).unwrap();
    for i in 1..=10 {
        writer.append_raw(i, &payload(i)).unwrap();
    }
    let acknowledged = writer.position().len as usize;
    let last = payload(11);
    writer.append_raw(11, &last).unwrap();
    let live = std::fs::read(&path).unwrap();
    drop(writer);
    let record_end = acknowledged + plog_format::HEADER_LEN + last.len();
    assert!(live[record_end..].iter().all(|&b| b == 0));
    // Everything of record 11 from `cut` on never reached the disk.
    for cut in acknowledged + plog_format::HEADER_LEN..record_end {
        let mut after_power_loss = live.clone();
        after_power_loss[cut..record_end].fill(0);
        std::fs::write(&snapshot, &after_power_loss).unwrap();
        match Writer::open(&snapshot, WriterOptions::default()) {
            Err(plog_writer::WriteError::Corrupt { corruption, .. }) => {
                assert_eq!(corruption.kind(), "hash_mismatch", "cut at {cut}");
                assert_eq!(corruption.offset(), acknowledged as u64, "cut at {cut}");
                assert_eq!(corruption.index(), Some(11), "cut at {cut}");
            }
            other => panic!("cut at {cut}: expected a refused corruption, got {other:?}"),
        }
        // The file is left as it was: nothing is cut without being asked.
        assert_eq!(std::fs::read(&snapshot).unwrap(), after_power_loss);
    }
    // The same loss without preallocation is a missing tail, repaired.
    std::fs::write(&snapshot, &live[..record_end - 1]).unwrap();
    let (_, reopened) = Writer::open(&snapshot, WriterOptions::default()).unwrap();
    assert_eq!(reopened.records, 10);
    assert_eq!(reopened.repaired.unwrap().offset, acknowledged as u64);
}
