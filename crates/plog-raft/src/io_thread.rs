//! The one thread that runs the store's commands in the order they were
//! asked for: appends in batches (group commit; the writing itself is
//! [`crate::append`]'s), truncates, purges (their unlinking handed to a
//! background thread), votes and coalesced state writes.

use std::fs::OpenOptions;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::append::{Done, Garbage, Record, Slot, Writer, append, finish, release};
use crate::flavor::Flavor;
use crate::state::sync_dir;
use crate::{RaftLogError, Shared};

/// What the I/O thread is asked to do.
pub(crate) enum Cmd<C: Flavor> {
    Append {
        records: Vec<Record>,
        callback: Option<Done<C>>,
        /// Freed once written (see [`crate::append::release`]).
        garbage: Garbage,
    },
    Truncate {
        index: u64,
        done: Reply,
    },
    /// Persist the purged id, answer, then unlink the wholly purged
    /// segments in the background.
    Purge {
        log_id: C::LogId,
        done: Reply,
    },
    SaveVote {
        vote: C::Vote,
        done: Reply,
    },
    /// Persist the state file as it is now (the committed id changed).
    SaveState,
}

/// Who is told when a command is done.
pub(crate) enum Reply {
    /// A caller blocked on a channel (the synchronous API).
    Blocking(Sender<Result<(), RaftLogError>>),
    /// An awaiting task.
    Async(tokio::sync::oneshot::Sender<Result<(), RaftLogError>>),
}

impl Reply {
    fn send(self, result: Result<(), RaftLogError>) {
        match self {
            Reply::Blocking(tx) => {
                let _ = tx.send(result);
            }
            Reply::Async(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

/// How long a changed committed id may wait before the state file is
/// rewritten (each rewrite costs two fsyncs; openraft reports every commit).
const COMMITTED_DELAY: Duration = Duration::from_millis(50);

pub(crate) fn run<C: Flavor>(shared: Arc<Shared<C>>, rx: Receiver<Cmd<C>>, slot: Arc<Slot>) {
    let mut janitors: Vec<std::thread::JoinHandle<()>> = Vec::new();
    let mut held: Option<Cmd<C>> = None;
    // When the committed id changed without being written yet.
    let mut dirty_since: Option<Instant> = None;
    loop {
        let next = match held.take() {
            Some(cmd) => Ok(cmd),
            None => match dirty_since {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(since) => rx.recv_timeout(COMMITTED_DELAY.saturating_sub(since.elapsed())),
            },
        };
        let cmd = match next {
            Ok(cmd) => cmd,
            Err(RecvTimeoutError::Timeout) => {
                dirty_since = None;
                if let Err(e) = store_state(&shared) {
                    shared.poison(&e.to_string());
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                if dirty_since.is_some()
                    && let Err(e) = store_state(&shared)
                {
                    shared.poison(&e.to_string());
                }
                break;
            }
        };
        match cmd {
            Cmd::Append {
                records,
                callback,
                mut garbage,
            } => {
                // Group commit: take every append already queued.
                let mut all = records;
                let mut callbacks: Vec<Done<C>> = callback.into_iter().collect();
                let mut taken = 1;
                while let Ok(next) = rx.try_recv() {
                    match next {
                        Cmd::Append {
                            records,
                            callback,
                            garbage: more,
                        } => {
                            taken += 1;
                            all.extend(records);
                            callbacks.extend(callback);
                            garbage.extend(more);
                        }
                        Cmd::SaveState => {
                            taken += 1;
                            dirty_since.get_or_insert_with(Instant::now);
                        }
                        other => {
                            held = Some(other);
                            break;
                        }
                    }
                }
                let result = append(&shared, &mut slot.writer(), &all);
                // Freed off this thread (see `release`), before the callbacks run.
                release(all, garbage);
                finish(&shared, result, callbacks);
                slot.done(taken);
                continue;
            }
            Cmd::SaveState => {
                // Written after a short delay, coalesced with every later
                // change (openraft may lose a committed id in a crash: it
                // only re-applies from an older point).
                dirty_since.get_or_insert_with(Instant::now);
            }
            Cmd::Truncate { index, done } => {
                done.send(guarded(&shared, |s| truncate(s, &mut slot.writer(), index)));
            }
            Cmd::Purge { log_id, done } => {
                let mut unlink = Vec::new();
                done.send(guarded(&shared, |s| {
                    purge(s, &mut slot.writer(), log_id, &mut unlink)
                }));
                if !unlink.is_empty() {
                    janitors.retain(|j| !j.is_finished());
                    let dir = shared.dir.clone();
                    // Unlinking a large file takes a while: off the path
                    // of the purge and of the appends after it. A crash
                    // before it is done leaves segments wholly at or below
                    // the durable purged id, which the next open removes.
                    match std::thread::Builder::new()
                        .name("plog-raft-unlink".into())
                        .spawn(move || unlink_all(&dir, &unlink))
                    {
                        Ok(j) => janitors.push(j),
                        Err(_) => shared.poison("could not start the unlink thread"),
                    }
                }
            }
            Cmd::SaveVote { vote, done } => {
                done.send(guarded(&shared, |s| {
                    s.state().update(&s.dir, |st| st.vote = Some(vote))
                }));
            }
        }
        slot.done(1);
    }
    slot.writer().retire(None);
    // A store reopened after this one is dropped finds every unlink done.
    for janitor in janitors {
        let _ = janitor.join();
    }
}

/// Unlinks `paths` (segments already out of the index) and syncs `dir`.
fn unlink_all(dir: &std::path::Path, paths: &[std::path::PathBuf]) {
    for path in paths {
        let _ = remove_file(path);
    }
    let _ = sync_dir(dir);
}

/// Runs `f` unless the store is poisoned; poisons it when `f` fails.
fn guarded<C: Flavor>(
    shared: &Shared<C>,
    f: impl FnOnce(&Shared<C>) -> Result<(), RaftLogError>,
) -> Result<(), RaftLogError> {
    if let Some(why) = &shared.log().poisoned {
        return Err(RaftLogError::Poisoned(why.clone()));
    }
    f(shared).inspect_err(|e| shared.poison(&e.to_string()))
}

fn store_state<C: Flavor>(shared: &Shared<C>) -> Result<(), RaftLogError> {
    shared.state().persist_all(&shared.dir)
}

/// Removes entry `index` and everything after it, durably.
fn truncate<C: Flavor>(
    shared: &Shared<C>,
    writer: &mut Writer,
    index: u64,
) -> Result<(), RaftLogError> {
    let mut log = shared.log();
    // Later segments go first, newest first, so that a crash leaves a
    // contiguous prefix; then the directory is synced before the cut.
    let later: Vec<u64> = log.segments.range(index..).map(|(&k, _)| k).rev().collect();
    for first in &later {
        writer.retire(Some(*first));
        if let Some(segment) = log.segments.remove(first) {
            remove_file(&segment.path)?;
        }
    }
    if !later.is_empty() {
        sync_dir(&shared.dir)?;
    }
    if let Some((&first, segment)) = log.segments.range_mut(..index).next_back() {
        // Every append queued before this truncate is written: nothing is
        // pending.
        let keep = (index - first) as usize;
        writer.retire(Some(first));
        if keep < segment.offsets.len() {
            let new_len = segment.offsets[keep];
            let file = OpenOptions::new()
                .write(true)
                .open(&segment.path)
                .map_err(|e| RaftLogError::io(&segment.path, "open the segment to cut it", e))?;
            file.set_len(new_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| RaftLogError::io(&segment.path, "cut the segment", e))?;
            segment.offsets.truncate(keep);
            segment.end = new_len;
        }
        segment
            .pending
            .truncate(keep.saturating_sub(segment.offsets.len()));
        segment.planned_end = segment.end;
        // Never append to a segment that was cut: the next append starts a
        // new one, named by its index.
        segment.sealed = true;
    }
    // The new last log id: the last entry left, if it is above the purged
    // id.
    let purged_to = log.purged_index();
    let last_left = log
        .segments
        .iter()
        .next_back()
        .and_then(|(&first, s)| (s.count() as u64).checked_sub(1).map(|n| first + n))
        .filter(|&i| purged_to.is_none_or(|p| i > p));
    log.last = match last_left {
        None => None,
        Some(i) => {
            let pieces = crate::read::plan_unclamped(&log, i, i + 1);
            match crate::read::load::<C>(&pieces, true) {
                Ok(mut entries) => entries.pop().map(|e| C::log_id(&e)),
                Err(e) => {
                    return Err(RaftLogError::Misuse(format!(
                        "read the new last entry: {e}"
                    )));
                }
            }
        }
    };
    Ok(())
}

/// Persists the purged id `log_id` (nothing when it is not above the
/// current one), then takes every segment whose entries are all at or
/// below it out of the index; their paths go to `unlink`.
fn purge<C: Flavor>(
    shared: &Shared<C>,
    writer: &mut Writer,
    log_id: C::LogId,
    unlink: &mut Vec<std::path::PathBuf>,
) -> Result<(), RaftLogError> {
    let index = C::index(&log_id);
    {
        let mut state = shared.state();
        if state.purged.as_ref().is_some_and(|p| C::index(p) >= index) {
            return Ok(());
        }
        state.update(&shared.dir, |s| s.purged = Some(log_id.clone()))?;
    }
    let mut log = shared.log();
    if log.last_index().is_some_and(|l| l <= index) {
        log.last = None;
    }
    log.purged = Some(log_id);
    while let Some((&first, segment)) = log.segments.first_key_value() {
        let count = segment.count() as u64;
        // A segment is wholly purged when the next one starts at or below
        // index + 1, or (the last one) when its records end at or below it.
        let next_first = log.segments.range(first + 1..).next().map(|(&k, _)| k);
        let wholly = match next_first {
            Some(next) => next <= index + 1,
            None => count == 0 || first + count - 1 <= index,
        };
        if !wholly {
            break;
        }
        if next_first.is_none() && !segment.pending.is_empty() {
            // Records still being written cannot be purged: openraft only
            // purges what is applied, hence durable.
            break;
        }
        writer.retire(Some(first));
        if let Some(segment) = log.segments.remove(&first) {
            unlink.push(segment.path);
        }
    }
    Ok(())
}

fn remove_file(path: &std::path::Path) -> Result<(), RaftLogError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RaftLogError::io(path, "remove the segment", e)),
    }
}
