//! Unit tests with injected write and sync failures (see `faults.rs`).

use std::sync::Arc;

use plog_format::{Status, classify};

use crate::{GroupCommit, SyncPolicy, Writer, WriterOptions};

fn payload(i: u64) -> Vec<u8> {
    format!(r#"{{"i":{i},"pad":"{}"}}"#, "x".repeat(150)).into_bytes()
}

#[test]
fn a_failed_write_is_cut_off_and_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    let mut writer = Writer::create(&path, WriterOptions::default()).unwrap();
    for i in 1..=3 {
        writer.append_raw(i, &payload(i)).unwrap();
    }
    let durable = writer.durable();
    writer.faults.fail_next_write_after(30);
    let err = writer.append_raw(4, &payload(4)).unwrap_err();
    assert_eq!(err.kind(), "write_failed");
    assert_eq!(err.durable(), Some(durable));
    let message = err.to_string();
    assert!(message.contains("indices 4..=4"), "{message}");
    assert!(message.contains("cut off"), "{message}");
    assert!(message.contains("3 record(s) through index 3"), "{message}");
    // The partial record is gone: the file is clean with 3 records.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, durable.len);
    assert_eq!(classify(&bytes).status(), Status::Clean);
    assert!(!writer.is_poisoned());
    assert_eq!(writer.last_index(), Some(3));
    // Appending goes on, at the right offset.
    writer.append_raw(4, &payload(4)).unwrap();
    let report = classify(&std::fs::read(&path).unwrap());
    assert_eq!(report.status(), Status::Clean);
    let indices: Vec<u64> = report.records.iter().map(|r| r.index).collect();
    assert_eq!(indices, [1, 2, 3, 4]);
}

#[test]
fn a_failed_sync_poisons_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    let mut writer = Writer::create(&path, WriterOptions::default()).unwrap();
    writer.append_raw(1, b"one").unwrap();
    writer.faults.fail_next_sync();
    let err = writer.append_raw(2, b"two").unwrap_err();
    assert_eq!(err.kind(), "sync_failed");
    let message = err.to_string();
    assert!(
        message.contains("durable: 1 record(s) through index 1"),
        "{message}"
    );
    assert!(
        message.contains("up to 2 record(s) through index 2"),
        "{message}"
    );
    assert!(writer.is_poisoned());
    // No retry of the sync: every later call is refused.
    let err = writer.append_raw(3, b"three").unwrap_err();
    assert_eq!(err.kind(), "poisoned");
    assert!(err.to_string().contains("fdatasync failed"), "{err}");
    assert_eq!(writer.sync().unwrap_err().kind(), "poisoned");
    drop(writer);
    // Reopening recovers; record 1 is there (record 2 may or may not be).
    let (_writer, report) = Writer::open(&path, WriterOptions::default()).unwrap();
    assert!(report.records >= 1);
}

#[test]
fn manual_policy_write_failure_drops_only_the_unwritten_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    let options = WriterOptions {
        sync: SyncPolicy::Manual,
        ..WriterOptions::default()
    };
    let mut writer = Writer::create(&path, options).unwrap();
    writer.append_raw(1, b"one").unwrap();
    writer.sync().unwrap();
    writer.append_raw(2, b"two").unwrap();
    writer.flush().unwrap(); // written, not durable
    writer.append_raw(3, b"three").unwrap();
    writer.append_raw(4, b"four").unwrap();
    writer.faults.fail_next_write_after(60);
    let err = writer.sync().unwrap_err();
    assert_eq!(err.kind(), "write_failed");
    assert!(
        err.to_string().contains("2 record(s) (indices 3..=4"),
        "{err}"
    );
    assert_eq!(writer.last_index(), Some(2));
    writer.sync().unwrap();
    let report = classify(&std::fs::read(&path).unwrap());
    assert_eq!(report.status(), Status::Clean);
    assert_eq!(report.records.len(), 2);
}

#[test]
fn group_commit_sync_failure_fails_the_batch_and_poisons() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    let log = GroupCommit::create(&path, WriterOptions::default()).unwrap();
    log.append_raw(1, b"one").unwrap();
    log.faults.fail_next_sync();
    let err = log.append_raw(2, b"two").unwrap_err();
    assert_eq!(err.kind(), "sync_failed");
    assert_eq!(err.durable().unwrap().last_index, Some(1));
    assert!(log.is_poisoned());
    assert_eq!(log.append_raw(3, b"three").unwrap_err().kind(), "poisoned");
}

#[test]
fn group_commit_write_failure_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    let log = GroupCommit::create(&path, WriterOptions::default()).unwrap();
    log.append_raw(1, b"one").unwrap();
    let durable = log.durable();
    log.faults.fail_next_write_after(20);
    let err = log.append_raw(2, b"two").unwrap_err();
    assert_eq!(err.kind(), "write_failed");
    assert!(err.to_string().contains("cut off"), "{err}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), durable.len);
    assert_eq!(log.append_raw(3, b"three").unwrap_err().kind(), "poisoned");
}

#[test]
fn group_commit_failure_with_many_threads_answers_every_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    let log = Arc::new(GroupCommit::create(&path, WriterOptions::default()).unwrap());
    log.append_raw(0, b"zero").unwrap();
    let outcomes: Vec<Vec<Result<u64, &'static str>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u64)
            .map(|t| {
                let log = &log;
                s.spawn(move || {
                    (0..50u64)
                        .map(|i| {
                            let index = 1 + t * 1000 + i;
                            if t == 0 && i == 10 {
                                log.faults.fail_next_sync();
                            }
                            log.append_raw(index, &payload(index))
                                .map(|_| index)
                                .map_err(|e| e.kind())
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<_> = outcomes.into_iter().flatten().collect();
    let failed_syncs = all.iter().filter(|r| **r == Err("sync_failed")).count();
    assert!(failed_syncs >= 1, "the failed batch was reported");
    assert!(
        all.iter()
            .all(|r| matches!(r, Ok(_) | Err("sync_failed") | Err("poisoned")))
    );
    // Every acknowledged record is in the file and verifies.
    let report = classify(&std::fs::read(&path).unwrap());
    assert_eq!(report.status(), Status::Clean);
    let present: std::collections::HashSet<u64> = report.records.iter().map(|r| r.index).collect();
    for index in all.iter().filter_map(|r| r.ok()) {
        assert!(
            present.contains(&index),
            "acknowledged record {index} is missing"
        );
    }
}

#[test]
fn handles_and_errors_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Writer>();
    send_sync::<GroupCommit>();
    send_sync::<crate::LockedLog>();
    send_sync::<crate::WriteError>();
}

#[test]
fn messages_name_offsets_indices_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.plog");
    let mut log = plog_format::MAGIC.to_vec();
    plog_format::encode_record_to_vec(7, b"seven", &mut log);
    plog_format::encode_record_to_vec(8, b"eight", &mut log);
    let last = log.len() - 1;
    log[last] ^= 1;
    std::fs::write(&path, &log).unwrap();
    let err = Writer::open(&path, WriterOptions::default()).unwrap_err();
    let message = err.to_string();
    eprintln!("{message}");
    for words in [
        "corrupt log, refusing to open it and changing nothing",
        "hash mismatch in record 8 at offset 79",
        "plog repair",
        "--drop-corrupt-tail",
    ] {
        assert!(message.contains(words), "{words:?} not in {message}");
    }
}

/// The open-time walk (`scan_file`: plog-mmap, mapped when large, hashed in
/// parallel) against the sequential reference (`scan_log`: the Scanner over
/// the bytes): equal on every corpus file and on large damaged logs that
/// are mapped and cut into many batches, for 1 and 3 threads.
#[test]
fn the_open_walk_equals_the_sequential_scanner() {
    use crate::inspect::{scan_file, scan_path};
    use plog_format::summarize as scan_log;

    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = plog_testdata::corpus()
        .into_iter()
        .map(|file| (file.name, file.bytes))
        .collect();
    // ~2.5 MB of records (mapped: past plog-mmap's 64 KiB threshold), with
    // hash mismatches early and late, a damaged length, and each ending.
    let payloads: Vec<Vec<u8>> = (0..10_000)
        .map(|i| plog_testdata::k8s_payload(i, 200))
        .collect();
    let big = plog_testdata::build_log((1..).zip(payloads.iter().map(Vec::as_slice)));
    let mut damaged = big.clone();
    for at in [1_000, 1_200_000, big.len() - 100] {
        damaged[at] ^= 0x20;
    }
    cases.push(("big-clean".into(), big.clone()));
    cases.push(("big-hash-mismatches".into(), damaged.clone()));
    let mut length = damaged.clone();
    // The length field of the record at the magic's end.
    length[26 + 8 + 5] = 0x7f;
    cases.push(("big-damaged-length".into(), length));
    let mut torn = big.clone();
    torn.truncate(big.len() - 77);
    cases.push(("big-torn".into(), torn));
    let mut zeros = damaged;
    zeros.extend(std::iter::repeat_n(0u8, 300_000));
    cases.push(("big-zero-tail".into(), zeros));

    for (name, bytes) in &cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let expected = scan_log(bytes);
        // The large cases are what they claim to be.
        let torn = expected.torn.map(|tail| tail.reason);
        let first_kind = expected.first_corruption.map(|c| c.kind());
        match name.as_str() {
            "big-clean" => assert_eq!((expected.corruptions, torn), (0, None)),
            "big-hash-mismatches" => assert_eq!((expected.corruptions, torn), (3, None)),
            "big-damaged-length" => assert_eq!(first_kind, Some("length")),
            "big-torn" => assert!(torn.is_some() && expected.corruptions == 0),
            "big-zero-tail" => assert_eq!(torn, Some(plog_format::TornReason::ZeroFill)),
            _ => {}
        }
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let mapped = pool.install(|| scan_file(&file, &path)).unwrap();
            assert_eq!(mapped, expected, "{name}, {threads} thread(s), scan_file");
            let read = pool.install(|| scan_path(&path)).unwrap();
            assert_eq!(read, expected, "{name}, {threads} thread(s), scan_path");
        }
    }
}
