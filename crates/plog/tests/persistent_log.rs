//! The whole surface of `plog::PersistentLog`, and its behaviour on every
//! corpus file compared with engenho-store's (`engenho_replay` in
//! expected.json).

use std::collections::BTreeMap;
use std::sync::Arc;

use plog::{PersistentLog, PersistentLogError};
use plog_testdata::corpus;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    op: String,
    key: String,
    n: u64,
}

fn entry(n: u64) -> Entry {
    Entry {
        op: "put".into(),
        key: format!("/registry/pods/default/pod-{n}"),
        n,
    }
}

#[test]
fn open_creates_the_log_with_the_magic_and_nested_parents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/c/raft.plog");
    let log = PersistentLog::open(path.clone()).unwrap();
    assert_eq!(log.path(), path);
    assert_eq!(std::fs::read(&path).unwrap(), plog_format::MAGIC);
    let entries: Vec<(u64, Entry)> = log.replay().unwrap();
    assert!(entries.is_empty(), "an empty log replays to nothing");
}

#[test]
fn round_trip_then_reopen_keeps_entries_and_appends_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.plog");
    {
        let log = PersistentLog::open(&path).unwrap();
        for n in 1..=5 {
            log.append(n, &entry(n)).unwrap();
        }
        let got: Vec<(u64, Entry)> = log.replay().unwrap();
        assert_eq!(got, (1..=5).map(|n| (n, entry(n))).collect::<Vec<_>>());
    }
    let log = PersistentLog::open(&path).unwrap();
    assert_eq!(log.open_report().unwrap().last_index, Some(5));
    log.append(6, &entry(6)).unwrap();
    let got: Vec<(u64, Entry)> = log.replay().unwrap();
    assert_eq!(got, (1..=6).map(|n| (n, entry(n))).collect::<Vec<_>>());
    // The bytes are exactly what the v1 format says.
    let report = plog_format::classify(&std::fs::read(&path).unwrap());
    assert_eq!(report.status(), plog::Status::Clean);
    assert_eq!(report.records.len(), 6);
}

#[test]
fn bad_magic_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-log");
    std::fs::write(&path, b"hello, this is certainly not a plog file").unwrap();
    let err = PersistentLog::open(&path).unwrap_err();
    assert_eq!(err, PersistentLogError::BadMagic);
    assert_eq!(err.kind(), "bad_magic");
}

#[test]
fn a_flipped_payload_bit_gives_hash_mismatch_with_the_right_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.plog");
    let log = PersistentLog::open(&path).unwrap();
    for n in 1..=4 {
        log.append(n * 10, &entry(n)).unwrap();
    }
    drop(log);
    let mut bytes = std::fs::read(&path).unwrap();
    let third = plog_format::classify(&bytes).records[2];
    bytes[(third.offset + 48 + 5) as usize] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let log = PersistentLog::open(&path).unwrap();
    let err = log.replay::<Entry>().unwrap_err();
    assert_eq!(err, PersistentLogError::HashMismatch { index: 30 });
    assert_eq!(err.kind(), "hash_mismatch");
    // Appending behind the damage is refused (engenho-store did it).
    let err = log.append(50, &entry(5)).unwrap_err();
    assert_eq!(err.kind(), "corrupt");
    assert!(err.to_string().contains("plog repair"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was changed");
}

/// engenho-store's reader checks every hash on every replay, so a payload
/// rewritten under an open log is reported, not replayed. So does plog's,
/// whether the file is read (small) or mapped (large).
#[test]
fn a_payload_rewritten_under_an_open_log_fails_its_replay_with_hash_mismatch() {
    for filler in [0usize, 200_000] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raft.plog");
        let log = PersistentLog::open(&path).unwrap();
        log.append(1, &entry(1)).unwrap();
        // A second, large record makes the file long enough to be mapped.
        if filler > 0 {
            log.append(2, &"x".repeat(filler)).unwrap();
        }
        let got: Vec<(u64, Value)> = log.replay().unwrap();
        assert_eq!(got.len(), 1 + usize::from(filler > 0));

        let mut bytes = std::fs::read(&path).unwrap();
        let first = plog_format::classify(&bytes).records[0];
        let at = (first.offset + 48 + 2) as usize;
        bytes[at] = if bytes[at] == b'x' { b'y' } else { b'x' };
        std::fs::write(&path, &bytes).unwrap();

        let err = log.replay::<Value>().unwrap_err();
        assert_eq!(
            err,
            PersistentLogError::HashMismatch { index: 1 },
            "{filler}"
        );
        let mut applied = 0;
        let err = log
            .replay_each(None, |_, _: Value| applied += 1)
            .unwrap_err();
        assert_eq!(
            err,
            PersistentLogError::HashMismatch { index: 1 },
            "{filler}"
        );
        assert_eq!(applied, 0, "nothing before the damaged record to apply");
    }
}

#[test]
fn a_cut_final_record_is_dropped_and_appending_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.plog");
    let log = PersistentLog::open(&path).unwrap();
    for n in 1..=3 {
        log.append(n, &entry(n)).unwrap();
    }
    drop(log);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();

    let log = PersistentLog::open(&path).unwrap();
    let cut = log
        .open_report()
        .unwrap()
        .repaired
        .expect("the torn tail is reported");
    let got: Vec<(u64, Entry)> = log.replay().unwrap();
    assert_eq!(got, vec![(1, entry(1)), (2, entry(2))]);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), cut.offset);
    log.append(3, &entry(33)).unwrap();
    let got: Vec<(u64, Entry)> = log.replay().unwrap();
    assert_eq!(got.last().unwrap(), &(3, entry(33)));
}

#[test]
fn every_kind_string() {
    let dir = tempfile::tempdir().unwrap();
    let mut kinds = BTreeMap::new();
    let mut saw = |err: PersistentLogError| {
        kinds.insert(err.kind(), err.to_string());
    };

    // io: the parent "directory" is a file.
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    saw(PersistentLog::open(dir.path().join("file/raft.plog")).unwrap_err());
    // bad_magic, unsupported_version
    let bad = dir.path().join("bad");
    std::fs::write(&bad, b"garbage garbage garbage garbage").unwrap();
    saw(PersistentLog::open(&bad).unwrap_err());
    let v2 = dir.path().join("v2");
    std::fs::write(&v2, b"engenho-persistent-log v2\n").unwrap();
    saw(PersistentLog::open(&v2).unwrap_err());
    // encode: JSON maps need string keys.
    let path = dir.path().join("log");
    let log = PersistentLog::open(&path).unwrap();
    let mut not_json = BTreeMap::new();
    not_json.insert(vec![1u8], 1u8);
    saw(log.append(1, &not_json).unwrap_err());
    // locked: a second open of the same file.
    saw(PersistentLog::open(&path).unwrap_err());
    // decode: a payload that is not the requested type.
    log.append(1, &"a string, not an Entry").unwrap();
    saw(log.replay::<Entry>().unwrap_err());
    drop(log);
    // hash_mismatch and corrupt (append refused), damaged_length.
    for file in corpus() {
        if file.name == "corrupt-payload.plog" || file.name == "corrupt-length-midfile.plog" {
            let copy = dir.path().join(&file.name);
            std::fs::write(&copy, &file.bytes).unwrap();
            let log = PersistentLog::open(&copy).unwrap();
            saw(log.replay::<Value>().unwrap_err());
            saw(log.append(9, &1).unwrap_err());
        }
    }
    let got: Vec<&str> = kinds.keys().copied().collect();
    assert_eq!(
        got,
        [
            "bad_magic",
            "corrupt",
            "damaged_length",
            "decode",
            "encode",
            "hash_mismatch",
            "io",
            "locked",
            "unsupported_version"
        ]
    );
    assert!(kinds["decode"].contains("record 1"), "{}", kinds["decode"]);
    assert!(
        kinds["damaged_length"].contains("offset 158"),
        "{}",
        kinds["damaged_length"]
    );
}

#[test]
fn many_threads_append_through_one_shared_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raft.plog");
    let log = Arc::new(PersistentLog::open(&path).unwrap());
    let threads = 8u64;
    let per_thread = 50u64;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let n = t * per_thread + i;
                    log.append(n, &entry(n)).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let mut got: Vec<(u64, Entry)> = log.replay().unwrap();
    assert_eq!(got.len() as u64, threads * per_thread);
    // Each thread's own appends stay in its order.
    for t in 0..threads {
        let mine: Vec<u64> = got
            .iter()
            .map(|(i, _)| *i)
            .filter(|i| i / per_thread == t)
            .collect();
        assert_eq!(
            mine,
            (t * per_thread..(t + 1) * per_thread).collect::<Vec<_>>()
        );
    }
    got.sort_by_key(|(i, _)| *i);
    assert_eq!(
        got,
        (0..threads * per_thread)
            .map(|n| (n, entry(n)))
            .collect::<Vec<_>>()
    );
}

/// What plog's `PersistentLog` gives on each corpus file, compared with what
/// engenho-store's replay did. The differences are the ones the README's
/// "Moving from engenho-store" table lists.
#[test]
fn corpus_behaviour_against_engenho_store() {
    let dir = tempfile::tempdir().unwrap();
    for file in corpus() {
        let path = dir.path().join(&file.name);
        std::fs::write(&path, &file.bytes).unwrap();
        let outcome = PersistentLog::open(&path).and_then(|log| {
            log.replay::<Value>()
                .map(|entries| (entries.len(), log.open_report().and_then(|r| r.repaired)))
        });
        let want = &file.expected;
        let engenho = want.engenho_replay.as_str();
        match (&outcome, want.status.as_str()) {
            (Ok((records, repaired)), "clean") => {
                assert_eq!(
                    engenho, "ok",
                    "{}: clean files replay as engenho-store did",
                    file.name
                );
                assert_eq!(*records, want.valid_records, "{}", file.name);
                assert!(repaired.is_none());
            }
            (Ok((records, repaired)), "torn") => {
                // engenho-store: ok (stopped silently), io (cut magic),
                // hash_mismatch (zero tail) or a crash (huge length). plog
                // cuts the torn tail at open and replays every valid record.
                assert_eq!(*records, want.valid_records, "{}", file.name);
                let tail = repaired.expect("the cut tail is reported");
                assert_eq!(Some(tail.offset), want.torn_offset, "{}", file.name);
                let now = std::fs::read(&path).unwrap();
                let kept = want.torn_offset.unwrap().max(26) as usize;
                assert_eq!(
                    now.len(),
                    kept,
                    "{}: cut to the last valid record",
                    file.name
                );
            }
            (Err(err), "clean") => {
                // Valid records whose payload is not the JSON asked for.
                assert_eq!((err.kind(), engenho), ("decode", "decode"), "{}", file.name);
            }
            (Err(err), "corrupt") => {
                let first = &want.corrupt[0];
                let expected_kind = match first.kind.as_str() {
                    "length" => "damaged_length",
                    other => other,
                };
                assert_eq!(err.kind(), expected_kind, "{}", file.name);
                if let Some(index) = first.index {
                    assert_eq!(
                        err,
                        &PersistentLogError::HashMismatch { index },
                        "{}",
                        file.name
                    );
                }
                if engenho.starts_with("crash") {
                    assert_eq!(
                        first.kind, "length",
                        "{}: engenho-store aborted here",
                        file.name
                    );
                } else if first.kind == "unsupported_version" {
                    assert_eq!(engenho, "bad_magic", "{}", file.name);
                } else {
                    assert_eq!(engenho, expected_kind, "{}", file.name);
                }
            }
            (outcome, status) => panic!("{}: {status} file gave {outcome:?}", file.name),
        }
    }
}
