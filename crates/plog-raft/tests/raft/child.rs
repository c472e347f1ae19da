//! The child process of the crash test: this test binary re-executed to run
//! only the ignored `child::entry` test with `PLOG_RAFT_CHILD` set. It opens
//! a store, then appends, truncates, purges and saves votes at random until
//! it is killed, printing what became durable:
//!
//! * `ack FIRST UID N`: entries FIRST..FIRST+N (uids UID..UID+N) are durable
//!   (printed by the flush callback);
//! * `truncating T` / `trunc T UID`: a truncate at T started / returned
//!   (every entry at or after T with a uid below UID is gone for good);
//! * `purging P` / `purged P`;
//! * `voting V` / `voted V` (the vote's term).

use std::ffi::OsString;
use std::io::{BufReader, Write};
use std::process::{Child, ChildStdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::storage::RaftLogStorage;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader, Vote};
use plog_raft::{Options, PlogLogStore};
use plog_testdata::SplitMix64;

use crate::support::{Config, Request};

const MODE_VAR: &str = "PLOG_RAFT_CHILD";
const DIR_VAR: &str = "PLOG_RAFT_CHILD_DIR";
const SEED_VAR: &str = "PLOG_RAFT_CHILD_SEED";
const UID_VAR: &str = "PLOG_RAFT_CHILD_UID";

/// The segment size of the crash test: small, so that truncate and purge
/// cross and remove segments all the time.
pub const SEGMENT_BYTES: u64 = 2048;

/// A child running the random operations on `dir`.
pub fn spawn(dir: &std::path::Path, seed: u64, uid_base: u64) -> (Child, BufReader<ChildStdout>) {
    plog_testdata::spawn_child(
        "child::entry",
        [
            (MODE_VAR, OsString::from("ops")),
            (DIR_VAR, dir.as_os_str().to_owned()),
            (SEED_VAR, seed.to_string().into()),
            (UID_VAR, uid_base.to_string().into()),
        ],
        false,
    )
}

/// The entry the crash test writes: its uid is the key.
pub fn make_entry(term: u64, index: u64, uid: u64) -> Entry<Config> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 0), index),
        payload: EntryPayload::Normal(Request {
            key: uid.to_string(),
            value: "v".repeat((uid % 50) as usize),
        }),
    }
}

/// The uid an entry of the crash test carries (None for other entries).
pub fn uid_of(entry: &Entry<Config>) -> Option<u64> {
    match &entry.payload {
        EntryPayload::Normal(r) => r.key.parse().ok(),
        _ => None,
    }
}

fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    out.write_fmt(line).unwrap();
    out.write_all(b"\n").unwrap();
    out.flush().unwrap();
}

/// Not a test: the entry point of the child processes (ignored, so that it
/// only runs when the crash test re-executes this binary with `--ignored`).
#[test]
#[ignore = "entry point of child processes, run by the crash test"]
fn entry() {
    let Ok(mode) = std::env::var(MODE_VAR) else {
        return;
    };
    assert_eq!(mode, "ops");
    let dir = std::path::PathBuf::from(std::env::var_os(DIR_VAR).unwrap());
    let mut rng = SplitMix64(std::env::var(SEED_VAR).unwrap().parse().unwrap());
    let mut uid: u64 = std::env::var(UID_VAR).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let options = Options {
            segment_bytes: SEGMENT_BYTES,
            ..Options::default()
        };
        let mut store = PlogLogStore::<Config>::open(&dir, options).unwrap();
        let state = store.get_log_state().await.unwrap();
        let vote = store.read_vote().await.unwrap();
        let mut purged = state.last_purged_log_id.map(|l| l.index);
        let mut last = state.last_log_id.map(|l| l.index);
        let mut term = state
            .last_log_id
            .map_or(0, |l| l.leader_id.term)
            .max(vote.map_or(0, |v| v.leader_id.term))
            + 1;
        // The highest index known durable (acknowledged), shared with the
        // flush callbacks.
        let durable = Arc::new(AtomicU64::new(last.map_or(0, |l| l + 1)));
        say(format_args!("ready"));
        loop {
            let op = rng.below(100);
            let next = last.map_or(purged.map_or(1, |p| p + 1), |l| l + 1);
            if op < 82 {
                let n = 1 + rng.below(16);
                let first_uid = uid;
                let entries: Vec<_> = (0..n)
                    .map(|k| make_entry(term, next + k, uid + k))
                    .collect();
                uid += n;
                let durable = Arc::clone(&durable);
                store
                    .append_with(entries, move |result| {
                        if result.is_ok() {
                            durable.fetch_max(next + n, Ordering::SeqCst);
                            say(format_args!("ack {next} {first_uid} {n}"));
                        }
                    })
                    .unwrap();
                last = Some(next + n - 1);
            } else if op < 90 {
                let low = purged.map_or(1, |p| p + 1);
                let Some(high) = last.filter(|&l| l >= low) else {
                    continue;
                };
                let t = low + rng.below(high - low + 1);
                say(format_args!("truncating {t}"));
                store.truncate_from(t).unwrap();
                say(format_args!("trunc {t} {uid}"));
                last = if t > low { Some(t - 1) } else { None };
                durable.fetch_min(t, Ordering::SeqCst);
                term += 1;
            } else if op < 95 {
                let low = purged.map_or(1, |p| p + 1);
                let high = durable.load(Ordering::SeqCst).saturating_sub(1);
                if high < low {
                    continue;
                }
                let p = low + rng.below(high - low + 1);
                let got = store.try_get_log_entries(p..p + 1).await.unwrap();
                let Some(e) = got.first() else { continue };
                say(format_args!("purging {p}"));
                store.purge_to(e.log_id).unwrap();
                say(format_args!("purged {p}"));
                purged = Some(p);
                if last.is_some_and(|l| l <= p) {
                    last = None;
                }
            } else {
                term += 1;
                say(format_args!("voting {term}"));
                store.save_vote(&Vote::new(term, 0)).await.unwrap();
                say(format_args!("voted {term}"));
            }
        }
    });
}
