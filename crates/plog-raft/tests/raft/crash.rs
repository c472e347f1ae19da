//! The crash test: a child appends, truncates, purges and saves votes at
//! random and is killed with SIGKILL at random moments. After each kill the
//! directory must reopen and hold every entry whose flush callback fired
//! (unless later truncated or purged), no truncated entry may come back,
//! the purged id never moves backwards, and the vote read back is the last
//! one saved (or the one being saved when the kill landed).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::{Duration, Instant};

use openraft::RaftLogReader;
use openraft::storage::RaftLogStorage;
use plog_raft::{Options, PlogLogStore};

use crate::child::{self, uid_of};
use crate::support::Config;
use plog_testdata::{SplitMix64, wait_for_line};

/// What the parent knows must (or must not) be in the log.
#[derive(Default)]
struct Model {
    /// Acknowledged entries: index -> uid.
    present: BTreeMap<u64, u64>,
    /// Completed truncates: every entry at or after `.0` with a uid below
    /// `.1` is gone for good.
    dead: Vec<(u64, u64)>,
    purged: Option<u64>,
    /// A truncate that started and has not returned: acknowledged entries
    /// at or after it may be gone.
    truncating: Option<u64>,
    voted: u64,
    voting: u64,
}

impl Model {
    fn apply(&mut self, line: &str) {
        let words: Vec<u64> = line
            .split(' ')
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        match (line.split(' ').next(), words.as_slice()) {
            (Some("ack"), &[first, uid, n]) => {
                for k in 0..n {
                    if self.truncating.is_none_or(|t| first + k < t) {
                        self.present.insert(first + k, uid + k);
                    }
                }
            }
            (Some("truncating"), &[t]) => {
                // Until `trunc` says it returned, entries at or after `t`
                // may or may not be there.
                self.present.retain(|&i, _| i < t);
                self.truncating = Some(t);
            }
            (Some("trunc"), &[t, uid]) => {
                // Acks of appends queued before the truncate may be printed
                // after `truncating`.
                self.present.retain(|&i, _| i < t);
                self.dead.push((t, uid));
                self.truncating = None;
            }
            (Some("purging"), _) => {}
            (Some("purged"), &[p]) => {
                self.purged = self.purged.max(Some(p));
                self.present.retain(|&i, _| i > p);
            }
            (Some("voting"), &[v]) => self.voting = v,
            (Some("voted"), &[v]) => self.voted = v,
            _ => {}
        }
    }
}

#[test]
fn sigkill_during_append_truncate_purge_and_vote() {
    const ROUNDS: u64 = 110;
    let seed = plog_testdata::crash_seed("PLOG_RAFT_CRASH_SEED");
    let mut rng = SplitMix64(seed);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut model = Model::default();
    let mut reopened_purged: Option<u64> = None;
    let (mut acks, mut truncs, mut purges, mut torn) = (0, 0, 0, 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    for round in 0..ROUNDS {
        let ctx = format!("round {round}, seed {seed}");
        let (mut child, mut stdout) =
            child::spawn(dir.path(), rng.next_u64() | 1, (round + 1) << 32);
        wait_for_line(&mut stdout, "ready");
        std::thread::sleep(Duration::from_micros(rng.below(60_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        for line in stdout.lines() {
            let line = line.unwrap();
            if std::env::var_os("PLOG_RAFT_CRASH_TRACE").is_some() {
                eprintln!("round {round}: {line}");
            }
            acks += usize::from(line.starts_with("ack "));
            truncs += usize::from(line.starts_with("trunc "));
            purges += usize::from(line.starts_with("purged "));
            model.apply(&line);
        }
        child.wait().unwrap();

        let mut store = PlogLogStore::<Config>::open(
            dir.path(),
            Options {
                segment_bytes: child::SEGMENT_BYTES,
                ..Options::default()
            },
        )
        .unwrap_or_else(|e| panic!("{ctx}: reopen refused: {e}"));
        torn += usize::from(store.recovery().torn_cut.is_some());
        rt.block_on(async {
            let state = store.get_log_state().await.unwrap();
            let purged = state.last_purged_log_id.map(|l| l.index);
            assert!(
                purged >= model.purged,
                "{ctx}: purged id {purged:?} went below {:?}",
                model.purged
            );
            assert!(
                purged >= reopened_purged,
                "{ctx}: purged id {purged:?} moved back from {reopened_purged:?}"
            );
            reopened_purged = purged;
            let vote = store
                .read_vote()
                .await
                .unwrap()
                .map_or(0, |v| v.leader_id.term);
            assert!(
                vote == model.voted || vote == model.voting,
                "{ctx}: vote term {vote}, expected the last saved ({}) or the one being saved ({})",
                model.voted,
                model.voting
            );
            model.voted = vote;
            model.voting = vote;
            let entries = store
                .try_get_log_entries(..)
                .await
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let got: BTreeMap<u64, u64> = entries
                .iter()
                .map(|e| (e.log_id.index, uid_of(e).unwrap()))
                .collect();
            for (index, uid) in model.present.range(purged.map_or(0, |p| p + 1)..) {
                assert_eq!(
                    got.get(index),
                    Some(uid),
                    "{ctx}: acknowledged entry {index} (uid {uid}) is not there"
                );
            }
            for (&index, &uid) in &got {
                for &(t, dead_below) in &model.dead {
                    assert!(
                        index < t || uid >= dead_below,
                        "{ctx}: entry {index} (uid {uid}) came back after a truncate at {t}"
                    );
                }
            }
            // The log is contiguous above the purged id.
            let indices: Vec<u64> = got.keys().copied().collect();
            let first = purged.map_or(1, |p| p + 1);
            assert_eq!(
                indices,
                (first..first + indices.len() as u64).collect::<Vec<_>>(),
                "{ctx}"
            );
            // Entries present but not acknowledged become what later rounds
            // keep (they are durable now).
            model.present = got.into_iter().collect();
            model.truncating = None;
        });
        drop(store);
        // Every file of the directory (segments, state, lock) passes the
        // plain v1 verification, as `plog verify DIR` runs it.
        for item in std::fs::read_dir(dir.path()).unwrap() {
            let path = item.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let status = plog_format::classify(&bytes).status();
            assert_eq!(
                status,
                plog_format::Status::Clean,
                "{ctx}: {}",
                path.display()
            );
        }
    }
    eprintln!(
        "crash test: {ROUNDS} rounds, {acks} acknowledged batches, {truncs} truncates, \
         {purges} purges, {torn} torn tails cut, {:?}",
        started.elapsed()
    );
    assert!(
        acks > 0 && truncs > 0 && purges > 0,
        "the kills landed before any work"
    );
}
