//! Unit tests with injected write and sync failures (see `faults.rs`).

use std::sync::Arc;

use plog_format::{Status, classify};

use crate::{GroupCommit, SyncPolicy, WriteError, Writer, WriterOptions};

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
    writer.faults().fail_next_write_after(30);
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
    writer.faults().fail_next_sync();
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
    writer.faults().fail_next_write_after(60);
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
    log.faults().fail_next_sync();
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
    log.faults().fail_next_write_after(20);
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
                                log.faults().fail_next_sync();
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
    use crate::scan::{scan_file, scan_path};
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

/// The two policies over the one file writer, driven the same way.
#[allow(clippy::large_enum_variant)] // a handful live at once, in tests
enum Handle {
    Writer(Writer),
    Group(GroupCommit),
}

const POLICIES: [&str; 2] = ["writer", "group_commit"];

impl Handle {
    fn create(policy: &str, path: &std::path::Path, options: WriterOptions) -> Handle {
        match policy {
            "writer" => Handle::Writer(Writer::create(path, options).unwrap()),
            _ => Handle::Group(GroupCommit::create(path, options).unwrap()),
        }
    }

    /// A handle whose log already ends at `position` (a fake: the file only
    /// holds the magic), to reach positions no test could write.
    fn at(policy: &str, path: &std::path::Path, position: crate::LogPosition) -> Handle {
        use crate::file::{Discipline, LogFile, Tail};
        let options = WriterOptions::default();
        let (file, path, _) = crate::open::create_locked(path, &options).unwrap();
        let log = LogFile::new(file, path, options);
        let tail = Tail::new(&options, position);
        match policy {
            "writer" => Handle::Writer(Writer::over(log, tail)),
            _ => Handle::Group(GroupCommit::over(log, tail)),
        }
    }

    fn append_raw(&mut self, index: u64, payload: &[u8]) -> Result<crate::Appended, WriteError> {
        match self {
            Handle::Writer(w) => w.append_raw(index, payload),
            Handle::Group(g) => g.append_raw(index, payload),
        }
    }

    fn append_batch_raw(
        &mut self,
        records: &[(u64, Vec<u8>)],
    ) -> Result<Option<crate::Appended>, WriteError> {
        let records = records.iter().map(|(i, p)| (*i, p.as_slice()));
        match self {
            Handle::Writer(w) => w.append_batch_raw(records),
            Handle::Group(g) => g.append_batch_raw(records),
        }
    }

    fn faults(&self) -> &crate::faults::Faults {
        match self {
            Handle::Writer(w) => w.faults(),
            Handle::Group(g) => g.faults(),
        }
    }

    /// `(durable, position, poisoned)`.
    fn state(&self) -> (crate::LogPosition, crate::LogPosition, bool) {
        match self {
            Handle::Writer(w) => (w.durable(), w.position(), w.is_poisoned()),
            Handle::Group(g) => (g.durable(), g.position(), g.is_poisoned()),
        }
    }
}

/// An error as the caller sees it, the log's directory replaced by `<dir>`
/// (each run has its own).
fn seen(error: &WriteError, dir: &std::path::Path) -> String {
    let message = error
        .to_string()
        .replace(&dir.display().to_string(), "<dir>");
    format!("{}: {message}", error.kind())
}

/// Where the file stands after a failed append.
#[derive(Clone, Copy, Debug)]
enum FileAfter {
    /// Exactly the durable records.
    Durable,
    /// The durable records, then the failed ones whole (written, not synced).
    Written,
    /// The durable records, then this many bytes of the failed write.
    Partial(usize),
}

struct Scenario {
    name: &'static str,
    inject: fn(&crate::faults::Faults),
    /// The failing append: one record, or a batch of three.
    batch: bool,
    kind: &'static str,
    file: FileAfter,
    /// Whether the failure poisons the writer and the group commit handle.
    poisoned: [bool; 2],
}

/// What one policy did in a scenario: everything a caller can observe.
#[derive(Debug, PartialEq)]
struct Outcome {
    error: String,
    error_durable: Option<crate::LogPosition>,
    durable: crate::LogPosition,
    position: crate::LogPosition,
    file: Vec<u8>,
    poisoned: bool,
    /// The next append of the same record, then a reopen (torn tail
    /// repaired, records).
    next: Result<u64, String>,
    reopened: (Option<plog_format::TornTail>, u64),
}

fn run(policy: &str, scenario: &Scenario) -> (Outcome, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    let mut handle = Handle::create(policy, &path, WriterOptions::default());
    let mut durable_log = plog_format::MAGIC.to_vec();
    for i in 1..=3 {
        handle.append_raw(i, &payload(i)).unwrap();
        plog_format::encode_record_to_vec(i, &payload(i), &mut durable_log);
    }
    let failing: Vec<(u64, Vec<u8>)> = (4..if scenario.batch { 7 } else { 5 })
        .map(|i| (i, payload(i)))
        .collect();
    let mut written_log = durable_log.clone();
    for (i, p) in &failing {
        plog_format::encode_record_to_vec(*i, p, &mut written_log);
    }
    (scenario.inject)(handle.faults());
    let error = if scenario.batch {
        handle.append_batch_raw(&failing).map(drop).unwrap_err()
    } else {
        handle.append_raw(4, &failing[0].1).map(drop).unwrap_err()
    };
    let (durable, position, poisoned) = handle.state();
    let file = std::fs::read(&path).unwrap();
    let next = handle
        .append_raw(4, &payload(4))
        .map(|a| a.offset)
        .map_err(|e| seen(&e, dir.path()));
    drop(handle);
    let (_, report) = Writer::open(&path, WriterOptions::default()).unwrap();
    let outcome = Outcome {
        error: seen(&error, dir.path()),
        error_durable: error.durable(),
        durable,
        position,
        file,
        poisoned,
        next,
        reopened: (report.repaired, report.records),
    };
    (outcome, durable_log, written_log)
}

/// Every injected failure, against both policies: the same error (kind and
/// message), the same `durable()` and position, the same file, poisoned
/// alike. The one documented difference: a group commit handle is poisoned
/// by any failed batch, even a write that was cut off cleanly (its waiting
/// appends were checked against the failed records), where a `Writer` goes
/// on.
#[test]
fn both_policies_fail_the_same_way() {
    let scenarios = [
        Scenario {
            name: "write fails, cut off",
            inject: |f| f.fail_next_write_after(30),
            batch: false,
            kind: "write_failed",
            file: FileAfter::Durable,
            poisoned: [false, true],
        },
        Scenario {
            name: "batch write fails, cut off",
            inject: |f| f.fail_next_write_after(300),
            batch: true,
            kind: "write_failed",
            file: FileAfter::Durable,
            poisoned: [false, true],
        },
        Scenario {
            name: "write fails, the cut fails too",
            inject: |f| {
                f.fail_next_write_after(30);
                f.fail_next_cut();
            },
            batch: false,
            kind: "write_failed",
            file: FileAfter::Partial(30),
            poisoned: [true, true],
        },
        Scenario {
            name: "batch write fails, the cut fails too",
            inject: |f| {
                f.fail_next_write_after(300);
                f.fail_next_cut();
            },
            batch: true,
            kind: "write_failed",
            file: FileAfter::Partial(300),
            poisoned: [true, true],
        },
        Scenario {
            name: "sync fails",
            inject: |f| f.fail_next_sync(),
            batch: false,
            kind: "sync_failed",
            file: FileAfter::Written,
            poisoned: [true, true],
        },
        Scenario {
            name: "batch sync fails",
            inject: |f| f.fail_next_sync(),
            batch: true,
            kind: "sync_failed",
            file: FileAfter::Written,
            poisoned: [true, true],
        },
    ];
    for scenario in &scenarios {
        let name = scenario.name;
        let runs = POLICIES.map(|policy| run(policy, scenario));
        for (policy, (outcome, durable_log, written_log)) in POLICIES.iter().zip(&runs) {
            // Against the oracle: the records built by plog-format.
            let durable_len = durable_log.len() as u64;
            assert!(
                outcome.error.starts_with(scenario.kind),
                "{name}, {policy}: {}",
                outcome.error
            );
            assert_eq!(outcome.durable.len, durable_len, "{name}, {policy}");
            assert_eq!(outcome.error_durable, Some(outcome.durable), "{name}");
            let expected_file = match scenario.file {
                FileAfter::Durable => durable_log.clone(),
                FileAfter::Written => written_log.clone(),
                FileAfter::Partial(n) => written_log[..durable_log.len() + n].to_vec(),
            };
            assert!(outcome.file == expected_file, "{name}, {policy}: file");
            let at_file_end = outcome.position.len == expected_file.len() as u64;
            assert!(at_file_end || outcome.poisoned, "{name}, {policy}");
            let poisoned = scenario.poisoned[usize::from(*policy != "writer")];
            assert_eq!(outcome.poisoned, poisoned, "{name}, {policy}");
            if poisoned {
                assert!(
                    outcome
                        .next
                        .as_ref()
                        .is_err_and(|e| e.starts_with("poisoned")),
                    "{name}, {policy}: {:?}",
                    outcome.next
                );
            } else {
                assert_eq!(outcome.next, Ok(durable_len), "{name}, {policy}");
            }
            let torn = matches!(scenario.file, FileAfter::Partial(_));
            assert_eq!(outcome.reopened.0.is_some(), torn, "{name}, {policy}");
        }
        // Against each other.
        let [(writer, ..), (group, ..)] = &runs;
        if scenario.poisoned[0] == scenario.poisoned[1] {
            assert_eq!(writer, group, "{name}");
        } else {
            let failure =
                |o: &Outcome| (o.error.clone(), o.error_durable, o.durable, o.file.clone());
            assert_eq!(failure(writer), failure(group), "{name}");
        }
    }
}

/// The one validation, against both policies: the same rejection for the
/// same record, checked in the same order (poisoned, index order, payload
/// size, room left in a `u64`), and a rejected record writes nothing.
#[test]
fn both_policies_reject_the_same_records() {
    use plog_format::IndexOrder;
    let options = WriterOptions {
        index_order: IndexOrder::Contiguous,
        max_payload_len: Some(8),
        ..WriterOptions::default()
    };
    // (index, payload length): fine, a gap, too large, both (index first).
    let records = [(2, 8), (4, 1), (3, 9), (5, 9), (3, 0)];
    let mut seen_by = Vec::new();
    for policy in POLICIES {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.plog");
        let mut handle = Handle::create(policy, &path, options);
        handle.append_raw(1, b"one").unwrap();
        let results: Vec<Result<u64, String>> = records
            .iter()
            .map(|&(index, len)| {
                let before = std::fs::metadata(&path).unwrap().len();
                let result = handle.append_raw(index, &vec![b'x'; len]);
                if result.is_err() {
                    assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
                }
                result.map(|a| a.offset).map_err(|e| seen(&e, dir.path()))
            })
            .collect();
        // A batch whose second record breaks the order writes none.
        let batch = handle
            .append_batch_raw(&[(4, b"a".to_vec()), (6, b"b".to_vec())])
            .map(|a| a.map(|a| a.offset))
            .map_err(|e| seen(&e, dir.path()));
        seen_by.push((results, batch, handle.state()));
    }
    let (results, batch, _) = &seen_by[0];
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map_or_else(|e| e.split(':').next().unwrap(), |_| "ok")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ok",
            "index_order",
            "payload_too_large",
            "index_order",
            "ok"
        ]
    );
    assert!(
        batch
            .as_ref()
            .is_err_and(|e| e.contains("record 6 rejected"))
    );
    assert_eq!(seen_by[0], seen_by[1]);

    // The room left before the log's length overflows a u64.
    let near_end = crate::LogPosition {
        len: u64::MAX - 60,
        records: 1,
        last_index: Some(1),
    };
    let rejections = POLICIES.map(|policy| {
        let dir = tempfile::tempdir().unwrap();
        let mut handle = Handle::at(policy, &dir.path().join("a.plog"), near_end);
        let err = handle.append_raw(2, &[b'x'; 13]).unwrap_err();
        seen(&err, dir.path())
    });
    assert_eq!(rejections[0], rejections[1]);
    assert!(
        rejections[0].contains("expected a payload of at most 12 bytes, found 13"),
        "{}",
        rejections[0]
    );
}
