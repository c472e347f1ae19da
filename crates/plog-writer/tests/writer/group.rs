// Group commit under real concurrency: every acknowledged record is in the
// file where the writer said it is, and the index order holds across threads.

use std::collections::BTreeSet;
use std::sync::Arc;

use plog_format::{IndexOrder, Record, Status, classify};
use plog_writer::{GroupCommit, WriterOptions};

const THREADS: u64 = 8;

#[test]
fn concurrent_appends_are_all_durable_where_the_writer_said() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.plog");
    let (log, _) = GroupCommit::open(&path, WriterOptions::default()).unwrap();
    let log = Arc::new(log);
    let receipts: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let log = Arc::clone(&log);
                s.spawn(move || {
                    (0..60u64)
                        .map(|i| {
                            let index = t * 1_000 + i;
                            let payload =
                                plog_testdata::k8s_payload(index, 50 + (i as usize % 9) * 30);
                            let appended = if i % 10 == 3 {
                                log.append(index, &serde_json::json!({"t": t, "i": i}))
                                    .unwrap()
                            } else {
                                log.append_raw(index, &payload).unwrap()
                            };
                            // Durable on return: the durable position covers it.
                            assert!(log.durable().len >= appended.end_offset());
                            (index, appended)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let bytes = std::fs::read(&path).unwrap();
    let report = crate::read_back(&path);
    assert_eq!(report.status(), Status::Clean);
    assert_eq!(report.records.len() as u64, THREADS * 60);
    assert_eq!(log.durable().records, THREADS * 60);
    assert_eq!(log.durable().len, bytes.len() as u64);
    for (index, appended) in &receipts {
        let record = Record::parse_at(&bytes, appended.offset).unwrap();
        assert_eq!(record.index(), *index);
        assert_eq!(record.end_offset(), appended.end_offset());
    }
    let offsets: BTreeSet<u64> = receipts.iter().map(|(_, a)| a.offset).collect();
    assert_eq!(
        offsets.len(),
        receipts.len(),
        "two appends got the same offset"
    );
}

#[test]
fn contiguous_order_holds_across_racing_threads() {
    const TOTAL: u64 = 300;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contiguous.plog");
    let options = WriterOptions {
        index_order: IndexOrder::Contiguous,
        ..WriterOptions::default()
    };
    let (log, _) = GroupCommit::open(&path, options).unwrap();
    let rejected: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let log = &log;
                s.spawn(move || {
                    let mut rejected = 0;
                    loop {
                        let next = log.last_index().map_or(1, |i| i + 1);
                        if next > TOTAL {
                            return rejected;
                        }
                        match log.append_raw(next, b"{\"racing\":true}") {
                            Ok(_) => {}
                            Err(e) if e.kind() == "index_order" => rejected += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let report = classify(&std::fs::read(&path).unwrap());
    assert_eq!(report.status(), Status::Clean);
    let indices: Vec<u64> = report.records.iter().map(|r| r.index).collect();
    assert_eq!(indices, (1..=TOTAL).collect::<Vec<_>>());
    eprintln!("{rejected} racing appends were rejected and wrote nothing");
}

#[test]
fn batches_from_many_threads_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batches.plog");
    let (log, _) = GroupCommit::open(&path, WriterOptions::default()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let log = &log;
            s.spawn(move || {
                for b in 0..20u64 {
                    let first = (t * 100 + b) * 10;
                    let payloads: Vec<Vec<u8>> = (0..5)
                        .map(|k| format!("[{t},{b},{k}]").into_bytes())
                        .collect();
                    let appended = log
                        .append_batch_raw((first..).zip(payloads.iter().map(Vec::as_slice)))
                        .unwrap()
                        .unwrap();
                    assert_eq!((appended.records, appended.last_index), (5, first + 4));
                }
            });
        }
    });
    let report = classify(&std::fs::read(&path).unwrap());
    assert_eq!(report.status(), Status::Clean);
    assert_eq!(report.records.len(), 4 * 20 * 5);
    for chunk in report.records.chunks(5) {
        let first = chunk[0].index;
        assert_eq!(first % 10, 0);
        let indices: Vec<u64> = chunk.iter().map(|r| r.index).collect();
        assert_eq!(indices, (first..first + 5).collect::<Vec<_>>());
    }
    assert_eq!(log.append_batch_raw(std::iter::empty()).unwrap(), None);
}

#[test]
fn group_commit_rejections_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reject.plog");
    let options = WriterOptions {
        index_order: IndexOrder::Increasing,
        max_payload_len: Some(4),
        ..WriterOptions::default()
    };
    let (log, _) = GroupCommit::open(&path, options).unwrap();
    log.append_raw(10, b"ok").unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(log.append_raw(9, b"no").unwrap_err().kind(), "index_order");
    assert_eq!(
        log.append_raw(11, b"12345").unwrap_err().kind(),
        "payload_too_large"
    );
    assert_eq!(
        log.append_batch_raw([(11, &b"a"[..]), (11, b"b")])
            .unwrap_err()
            .kind(),
        "index_order"
    );
    assert_eq!(
        log.append(11, &"abcd").unwrap_err().kind(),
        "payload_too_large"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    assert!(!log.is_poisoned());
    log.append_raw(11, b"ok").unwrap();
    assert_eq!(log.last_index(), Some(11));
}
