//! `plog_raft::inspect`: a directory checked and listed as one Raft log,
//! read-only.

use std::collections::BTreeMap;
use std::sync::mpsc;

use openraft::{BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, Membership};
use plog_raft::inspect::{EntryKind, check_dir, entries};
use plog_raft::{Options, PlogLogStore, RaftLogError};

use crate::child::make_entry;
use crate::files::{segments, snapshot};
use crate::support::Config;

fn options() -> Options {
    Options {
        segment_bytes: 900,
        ..Options::default()
    }
}

fn append(store: &mut PlogLogStore<Config>, entries: Vec<Entry<Config>>) {
    let (tx, rx) = mpsc::channel();
    store
        .append_with(entries, move |r| tx.send(r).unwrap())
        .unwrap();
    rx.recv().unwrap().unwrap();
}

#[test]
fn a_directory_reads_as_one_log_with_kinds_and_log_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = PlogLogStore::<Config>::open(dir.path(), options()).unwrap();
    let id = |term, index| LogId::new(CommittedLeaderId::new(term, 7), index);
    let members: BTreeMap<u64, BasicNode> = [(7, BasicNode::default())].into();
    append(
        &mut store,
        vec![
            Entry {
                log_id: id(1, 1),
                payload: EntryPayload::Blank,
            },
            Entry {
                log_id: id(1, 2),
                payload: EntryPayload::Membership(Membership::new(vec![[7].into()], members)),
            },
        ],
    );
    for first in (3..=40).step_by(4) {
        append(
            &mut store,
            (first..first + 4).map(|i| make_entry(2, i, i)).collect(),
        );
    }
    store.purge_to(id(2, 10)).unwrap();
    drop(store);

    let before = snapshot(dir.path());
    let check = check_dir(dir.path()).unwrap();
    assert_eq!(snapshot(dir.path()), before, "a check changed files");
    assert!(check.segments.len() >= 3, "{check:?}");
    assert_eq!(check.purged, Some(10));
    assert_eq!(check.range, Some((11, 42)));
    assert_eq!(check.entries, 32);
    assert!(!check.in_use);
    let store = PlogLogStore::<Config>::open(dir.path(), options()).unwrap();
    assert!(check_dir(dir.path()).unwrap().in_use);
    drop(store);

    let all: Vec<_> = entries(dir.path()).unwrap().map(Result::unwrap).collect();
    let live: Vec<u64> = all.iter().filter(|e| !e.purged).map(|e| e.index).collect();
    assert_eq!(live, (11..=42).collect::<Vec<_>>());
    for e in &all {
        let (term, node, kind) = match e.index {
            1 => (1, 7, EntryKind::Blank),
            2 => (1, 7, EntryKind::Membership),
            _ => (2, 0, EntryKind::Normal),
        };
        assert_eq!(
            (e.term, &e.node, e.kind),
            (term, &serde_json::json!(node), kind),
            "entry {}",
            e.index
        );
        if kind == EntryKind::Normal {
            assert_eq!(e.payload["key"], serde_json::json!(e.index.to_string()));
        }
    }
}

#[test]
fn a_check_reports_what_an_open_refuses_and_a_torn_tail_it_would_cut() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        segment_bytes: 4000,
        ..Options::default()
    };
    let mut store = PlogLogStore::<Config>::open(dir.path(), options).unwrap();
    // Records of more than a sector each.
    let big = |i| {
        let mut e = make_entry(1, i, i);
        if let EntryPayload::Normal(r) = &mut e.payload {
            r.value = "x".repeat(700);
        }
        e
    };
    for first in (1..=30).step_by(3) {
        append(&mut store, (first..first + 3).map(big).collect());
    }
    drop(store);
    let all = segments(dir.path());
    // A torn last write: its last record's payload is zeros.
    let last = all.last().unwrap();
    let mut bytes = std::fs::read(last).unwrap();
    let records: Vec<(u64, u64)> = plog_format::Walker::new(&bytes)
        .filter_map(|s| match s {
            plog_format::Step::Record(r) => Some((r.offset(), r.end_offset())),
            _ => None,
        })
        .collect();
    let (o, e) = *records.last().unwrap();
    bytes[o as usize + 48..e as usize].fill(0);
    bytes.resize(bytes.len() + 4096, 0);
    std::fs::write(last, &bytes).unwrap();
    let check = check_dir(dir.path()).unwrap();
    let torn = check
        .segments
        .last()
        .unwrap()
        .torn
        .as_ref()
        .expect("a torn tail");
    assert_eq!(torn.offset, o);
    assert_eq!(check.range.map(|r| r.1), Some(29));
    let listed: Vec<u64> = entries(dir.path())
        .unwrap()
        .map(|e| e.unwrap().index)
        .collect();
    assert_eq!(listed, (1..=29).collect::<Vec<_>>());

    // A middle segment with a flipped payload byte: refused as the open
    // refuses it.
    let middle = &all[1];
    let mut bytes = std::fs::read(middle).unwrap();
    bytes[26 + 48 + 5] ^= 1;
    std::fs::write(middle, &bytes).unwrap();
    let err = check_dir(dir.path()).unwrap_err();
    assert!(matches!(err, RaftLogError::Corrupt { .. }), "{err}");
    let opened = PlogLogStore::<Config>::open(dir.path(), options)
        .err()
        .unwrap();
    assert_eq!(opened.kind(), err.kind());
}
