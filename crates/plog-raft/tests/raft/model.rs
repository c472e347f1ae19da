//! A model test: random appends, truncates, purges and reopens against the
//! obvious oracle (a map from index to entry, and the purged index).

use std::collections::BTreeMap;

use openraft::RaftLogReader;
use openraft::storage::RaftLogStorage;
use plog_raft::{Options, PlogLogStore};
use proptest::prelude::*;

use crate::child::{make_entry, uid_of};
use crate::files::scratch_dir;
use crate::support::Config;

#[derive(Clone, Debug)]
enum Op {
    /// `append_with`: written on the test's thread when the I/O thread is
    /// idle, queued behind it otherwise.
    Append(u64),
    /// `append_async`, its durability not awaited: the next operations
    /// find it queued or in flight.
    AppendQueued(u64),
    /// Truncate at the n-th present entry (modulo their count).
    Truncate(u64),
    /// Purge up to the n-th present entry (modulo their count).
    Purge(u64),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..20).prop_map(Op::Append),
        3 => (1u64..40).prop_map(Op::AppendQueued),
        2 => any::<u64>().prop_map(Op::Truncate),
        2 => any::<u64>().prop_map(Op::Purge),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_the_oracle(ops in proptest::collection::vec(op(), 1..30), segment_bytes in 200u64..3000) {
        let dir = scratch_dir();
        let options = Options {
            segment_bytes,
            ..Options::default()
        };
        let mut store = PlogLogStore::<Config>::open(dir.path(), options).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        // The oracle: index -> (term, uid), and the purged index.
        let mut oracle: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        let mut purged: Option<(u64, u64)> = None;
        let mut term = 1;
        let mut uid = 0;
        // The order in which appends were made durable (their callbacks
        // ran), by the order they were made in.
        let durable = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut appends = 0u64;
        for op in ops {
            match op {
                Op::Append(n) | Op::AppendQueued(n) => {
                    let next = oracle.keys().next_back().copied().or(purged.map(|p| p.0)).map_or(1, |l| l + 1);
                    let entries: Vec<_> = (0..n).map(|k| make_entry(term, next + k, uid + k)).collect();
                    let (tx, rx) = std::sync::mpsc::channel();
                    let (seen, number) = (std::sync::Arc::clone(&durable), appends);
                    appends += 1;
                    let done = move |r: std::io::Result<()>| {
                        // A queued append's result is checked here: its
                        // receiver is gone.
                        assert!(r.is_ok(), "append {number} failed: {r:?}");
                        seen.lock().unwrap().push(number);
                        let _ = tx.send(r);
                    };
                    if matches!(op, Op::Append(_)) {
                        store.append_with(entries, done).unwrap();
                        rx.recv().unwrap().unwrap();
                    } else {
                        rt.block_on(store.append_async(entries, done)).unwrap();
                    }
                    for k in 0..n {
                        oracle.insert(next + k, (term, uid + k));
                    }
                    uid += n;
                }
                Op::Truncate(k) if !oracle.is_empty() => {
                    let at = *oracle.keys().nth((k % oracle.len() as u64) as usize).unwrap();
                    store.truncate_from(at).unwrap();
                    oracle.retain(|&i, _| i < at);
                    term += 1;
                }
                Op::Purge(k) if !oracle.is_empty() => {
                    let (&at, &(t, _)) = oracle.iter().nth((k % oracle.len() as u64) as usize).unwrap();
                    store.purge_to(openraft::LogId::new(openraft::CommittedLeaderId::new(t, 0), at)).unwrap();
                    oracle.retain(|&i, _| i > at);
                    purged = Some((at, t));
                }
                Op::Reopen => {
                    drop(store);
                    store = PlogLogStore::<Config>::open(dir.path(), options).unwrap();
                }
                _ => {}
            }
            {
                // Callbacks run in the order of the appends, whichever
                // thread wrote them.
                let durable = durable.lock().unwrap();
                prop_assert!(durable.windows(2).all(|w| w[0] < w[1]), "callbacks out of order: {:?}", durable);
            }
            rt.block_on(async {
                let state = store.get_log_state().await.unwrap();
                prop_assert_eq!(state.last_purged_log_id.map(|l| (l.index, l.leader_id.term)), purged);
                let last = oracle.iter().next_back().map(|(&i, &(t, _))| (i, t)).or(purged);
                prop_assert_eq!(state.last_log_id.map(|l| (l.index, l.leader_id.term)), last);
                let got: BTreeMap<u64, (u64, u64)> = store
                    .try_get_log_entries(..)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| (e.log_id.index, (e.log_id.leader_id.term, uid_of(e).unwrap())))
                    .collect();
                prop_assert_eq!(&got, &oracle);
                // A sub-range reads the same entries.
                if let (Some(&a), Some(&b)) = (oracle.keys().next(), oracle.keys().next_back()) {
                    let mid = a + (b - a) / 2;
                    let part = store.try_get_log_entries(mid..=b).await.unwrap();
                    prop_assert_eq!(part.len() as u64, b - mid + 1);
                }
                Ok(())
            })?;
        }
        // Every append was made durable once its store was dropped.
        drop(store);
        prop_assert_eq!(durable.lock().unwrap().len() as u64, appends);
    }
}

/// Many vote changes: the state file is compacted (it stays small) and the
/// last vote saved is the one read back after a reopen.
#[test]
fn state_file_compacts_and_keeps_the_last_vote() {
    let dir = scratch_dir();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let path = dir.path().join(plog_raft::STATE_FILE);
    let mut largest = 0;
    for round in 0..3u64 {
        let mut store = PlogLogStore::<Config>::open(dir.path(), Options::default()).unwrap();
        rt.block_on(async {
            let before = store
                .read_vote()
                .await
                .unwrap()
                .map_or(0, |v| v.leader_id.term);
            assert_eq!(before, round * 500);
            for term in round * 500 + 1..=(round + 1) * 500 {
                store
                    .save_vote(&openraft::Vote::new(term, 1))
                    .await
                    .unwrap();
                largest = largest.max(std::fs::metadata(&path).unwrap().len());
            }
        });
    }
    assert!(largest < 80 << 10, "the state file grew to {largest} bytes");
    let status = plog_format::classify(&std::fs::read(&path).unwrap()).status();
    assert_eq!(status, plog_format::Status::Clean);
}
