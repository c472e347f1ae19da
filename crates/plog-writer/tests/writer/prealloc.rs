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
/// Ten acknowledged records and an eleventh of 3,000 bytes written over
/// preallocated zeros, as the file stood while the writer was open; the
/// offset where record 11 starts and where it ends.
fn log_with_a_last_append_over_zeros(dir: &std::path::Path) -> (Vec<u8>, usize, usize) {
    let path = dir.join("live.plog");
    let (mut writer, _) = Writer::open(&path, options(64 * 1024)).unwrap();
    for i in 1..=10 {
        writer.append_raw(i, &payload(i)).unwrap();
    }
    let acknowledged = writer.position().len as usize;
    let last = plog_testdata::k8s_payload(11, 3000);
    writer.append_raw(11, &last).unwrap();
    let live = std::fs::read(&path).unwrap();
    drop(writer);
    let record_end = acknowledged + plog_format::HEADER_LEN + last.len();
    assert!(live[record_end..].iter().all(|&b| b == 0));
    (live, acknowledged, record_end)
}

#[test]
fn a_crash_inside_an_append_over_zeros_drops_the_unacknowledged_record() {
    let dir = crate::scratch_dir();
    let snapshot = dir.path().join("snapshot.plog");
    let (live, acknowledged, record_end) = log_with_a_last_append_over_zeros(dir.path());
    // The 512-byte sector pieces of record 11 (cut at the file's multiples).
    let mut pieces = Vec::new();
    let mut at = acknowledged;
    while at < record_end {
        let next = (at / 512 + 1) * 512;
        pieces.push(at..next.min(record_end));
        at = next.min(record_end);
    }
    assert!(pieces.len() >= 6, "{pieces:?}");
    // A power cut persists whole sectors: the write may stop at any sector
    // boundary, or any one sector after the header's may be missing. A
    // killed process stops its pwrite between pages: every byte from a page
    // boundary on is missing. (All of record 11 missing is a plain
    // zero-filled tail; the header's sector missing while later ones
    // persisted is refused, below.)
    let mut crashes: Vec<Vec<u8>> = Vec::new();
    for piece in &pieces[1..] {
        let mut from_here_on = live.clone();
        from_here_on[piece.start..].fill(0);
        crashes.push(from_here_on);
        let mut only_this = live.clone();
        only_this[piece.clone()].fill(0);
        crashes.push(only_this);
    }
    for page in (acknowledged / 4096 + 1) * 4096..record_end {
        if page % 4096 == 0 {
            let mut bytes = live.clone();
            bytes[page..].fill(0);
            crashes.push(bytes);
        }
    }
    for (case, after_crash) in crashes.iter().enumerate() {
        // What verify reports: the contract's hash mismatch, with its
        // evidence.
        let verdict = classify(after_crash);
        assert_eq!(verdict.status(), Status::Corrupt, "case {case}");
        let corruption = verdict.corruptions[0];
        let plog_format::Corruption::HashMismatch { zeroed_sector, .. } = corruption else {
            panic!("case {case}: {corruption:?}");
        };
        assert!(zeroed_sector.is_some(), "case {case}");
        assert!(
            corruption.to_string().contains("is all zeros"),
            "{corruption}"
        );

        std::fs::write(&snapshot, after_crash).unwrap();
        let (mut writer, report) = Writer::open(&snapshot, WriterOptions::default())
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!(report.dropped_torn_append, Some(corruption), "case {case}");
        assert_eq!(report.repaired, None, "case {case}");
        assert_eq!((report.records, report.last_index), (10, Some(10)));
        assert_eq!(report.len, acknowledged as u64);
        // The log takes record 11 again.
        writer.append_raw(11, b"{}").unwrap();
        drop(writer);
        let reread = classify(&std::fs::read(&snapshot).unwrap());
        assert_eq!(reread.status(), Status::Clean);
        assert_eq!(reread.records.len(), 11);
    }
    // The same loss without preallocation is a missing tail, repaired.
    std::fs::write(&snapshot, &live[..record_end - 1]).unwrap();
    let (_, reopened) = Writer::open(&snapshot, WriterOptions::default()).unwrap();
    assert_eq!(reopened.records, 10);
    assert_eq!(reopened.repaired.unwrap().offset, acknowledged as u64);
}

#[test]
fn damage_a_crash_cannot_explain_is_still_refused() {
    let dir = crate::scratch_dir();
    let snapshot = dir.path().join("snapshot.plog");
    let (live, acknowledged, record_end) = log_with_a_last_append_over_zeros(dir.path());
    let last_sector = ((record_end - 1) / 512) * 512;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // A flipped byte: no sector of record 11 is zero.
    let mut flipped = live.clone();
    flipped[acknowledged + 100] ^= 1;
    cases.push(("a flipped byte", flipped));
    // Zeros that end short of a sector piece: not what a cut write leaves.
    let mut short = live.clone();
    short[last_sector + 1..record_end].fill(0);
    cases.push(("zeros inside the last sector piece only", short));
    // A zeroed sector, but something was written after the record.
    let mut written_after = live.clone();
    written_after[acknowledged + 1024..acknowledged + 1536].fill(0);
    written_after[record_end + 10] = 1;
    cases.push(("bytes after the damaged record", written_after));
    // The header's sector lost while later sectors persisted: the header
    // reads as zeros and the payload after it as damaged records.
    let mut header_lost = live.clone();
    header_lost[acknowledged..(acknowledged / 512 + 1) * 512].fill(0);
    cases.push(("the header's sector alone lost", header_lost));
    // A zeroed sector in a record that is not the last one.
    let mut earlier = live[..record_end].to_vec();
    earlier[acknowledged + 1024..acknowledged + 1536].fill(0);
    plog_format::encode_record_to_vec(12, b"{}", &mut earlier);
    cases.push(("a record after the damaged one", earlier));
    for (name, bytes) in cases {
        std::fs::write(&snapshot, &bytes).unwrap();
        match Writer::open(&snapshot, WriterOptions::default()) {
            Err(plog_writer::WriteError::Corrupt { corruption, .. }) => {
                assert_eq!(corruption.kind(), "hash_mismatch", "{name}");
                assert_eq!(corruption.offset(), acknowledged as u64, "{name}");
            }
            other => panic!("{name}: expected a refused corruption, got {other:?}"),
        }
        // Nothing is cut without being asked.
        assert_eq!(std::fs::read(&snapshot).unwrap(), bytes, "{name}");
    }
}
