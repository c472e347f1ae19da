//! The one thread that writes: appends in batches (one write and one
//! fdatasync per segment per batch), truncates, purges and coalesced state
//! writes, in the order they were asked for.

use std::fs::{File, OpenOptions};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use openraft::RaftTypeConfig;
use openraft::storage::LogFlushed;
use plog_writer::{Writer, WriterOptions};
use std::sync::mpsc::Sender;

use crate::state::sync_dir;
use crate::{RaftLogError, Shared};

/// One record to write.
pub(crate) struct Record {
    /// The first index of its segment (the segment's key and name).
    pub segment: u64,
    pub index: u64,
    pub payload: Arc<Vec<u8>>,
}

/// What the I/O thread is asked to do.
pub(crate) enum Cmd<C: RaftTypeConfig> {
    Append {
        records: Vec<Record>,
        callback: Option<Done<C>>,
    },
    Truncate {
        index: u64,
        done: Sender<Result<(), RaftLogError>>,
    },
    Purge {
        index: u64,
        done: Sender<Result<(), RaftLogError>>,
    },
    /// Persist the state file as it is now (the committed id changed).
    SaveState,
}

/// Who is told when an append is durable.
pub(crate) enum Done<C: RaftTypeConfig> {
    Raft(LogFlushed<C>),
    Fn(Box<dyn FnOnce(std::io::Result<()>) + Send>),
}

impl<C: RaftTypeConfig> Done<C> {
    fn complete(self, result: std::io::Result<()>) {
        match self {
            Done::Raft(callback) => callback.log_io_completed(result),
            Done::Fn(f) => f(result),
        }
    }
}

/// The segment being appended to.
struct Active {
    segment: u64,
    writer: Writer,
}

/// How long a changed committed id may wait before the state file is
/// rewritten (each rewrite costs two fsyncs; openraft reports every commit).
const COMMITTED_DELAY: Duration = Duration::from_millis(50);

pub(crate) fn run<C: RaftTypeConfig>(shared: Arc<Shared<C>>, rx: Receiver<Cmd<C>>) {
    let mut active: Option<Active> = None;
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
                    poison(&shared, &e.to_string());
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                if dirty_since.is_some()
                    && let Err(e) = store_state(&shared)
                {
                    poison(&shared, &e.to_string());
                }
                break;
            }
        };
        match cmd {
            Cmd::Append { records, callback } => {
                // Group commit: take every append already queued.
                let mut all = records;
                let mut callbacks: Vec<Done<C>> = callback.into_iter().collect();
                while let Ok(next) = rx.try_recv() {
                    match next {
                        Cmd::Append { records, callback } => {
                            all.extend(records);
                            callbacks.extend(callback);
                        }
                        Cmd::SaveState => {
                            dirty_since.get_or_insert_with(Instant::now);
                        }
                        other => {
                            held = Some(other);
                            break;
                        }
                    }
                }
                let result = append(&shared, &mut active, &all);
                match result {
                    Ok(()) => {
                        for callback in callbacks {
                            callback.complete(Ok(()));
                        }
                    }
                    Err(e) => {
                        let why = e.to_string();
                        poison(&shared, &why);
                        for callback in callbacks {
                            callback.complete(Err(std::io::Error::other(why.clone())));
                        }
                    }
                }
            }
            Cmd::SaveState => {
                // Written after a short delay, coalesced with every later
                // change (openraft may lose a committed id in a crash: it
                // only re-applies from an older point).
                dirty_since.get_or_insert_with(Instant::now);
            }
            Cmd::Truncate { index, done } => {
                let result = guarded(&shared, |s| truncate(s, &mut active, index));
                let _ = done.send(result);
            }
            Cmd::Purge { index, done } => {
                let result = guarded(&shared, |s| purge(s, &mut active, index));
                let _ = done.send(result);
            }
        }
    }
}

/// Runs `f` unless the store is poisoned; poisons it when `f` fails.
fn guarded<C: RaftTypeConfig>(
    shared: &Shared<C>,
    f: impl FnOnce(&Shared<C>) -> Result<(), RaftLogError>,
) -> Result<(), RaftLogError> {
    if let Some(why) = &shared.log().poisoned {
        return Err(RaftLogError::Poisoned(why.clone()));
    }
    f(shared).inspect_err(|e| poison(shared, &e.to_string()))
}

fn poison<C: RaftTypeConfig>(shared: &Shared<C>, why: &str) {
    let mut log = shared.log();
    if log.poisoned.is_none() {
        log.poisoned = Some(why.to_owned());
    }
}

fn store_state<C: RaftTypeConfig>(shared: &Shared<C>) -> Result<(), RaftLogError> {
    shared.state().persist_all(&shared.dir)
}

/// Writes `records` (in index order, grouped by segment) with one batch
/// append (one write, one fdatasync) per segment.
fn append<C: RaftTypeConfig>(
    shared: &Shared<C>,
    active: &mut Option<Active>,
    records: &[Record],
) -> Result<(), RaftLogError> {
    if let Some(why) = &shared.log().poisoned {
        return Err(RaftLogError::Poisoned(why.clone()));
    }
    for group in records.chunk_by(|a, b| a.segment == b.segment) {
        let segment = group[0].segment;
        if active.as_ref().is_none_or(|a| a.segment != segment) {
            *active = None;
            let path = shared.dir.join(crate::scan::segment_name(segment));
            let writer = Writer::create(&path, WriterOptions::default())?;
            let file = File::open(&path)
                .map_err(|e| RaftLogError::io(&path, "open the new segment for reading", e))?;
            if let Some(s) = shared.log().segments.get_mut(&segment) {
                s.file = Some(Arc::new(file));
            }
            *active = Some(Active { segment, writer });
        }
        let Some(a) = active.as_mut() else {
            unreachable!("the active segment was just set")
        };
        a.writer
            .append_batch_raw(group.iter().map(|r| (r.index, &r.payload[..])))?;
        let mut log = shared.log();
        if let Some(s) = log.segments.get_mut(&segment) {
            let n = group.len().min(s.pending.len());
            s.pending.drain(..n);
            s.written += n;
        }
    }
    Ok(())
}

/// Removes entry `index` and everything after it, durably.
fn truncate<C: RaftTypeConfig>(
    shared: &Shared<C>,
    active: &mut Option<Active>,
    index: u64,
) -> Result<(), RaftLogError> {
    let mut log = shared.log();
    // Later segments go first, newest first, so that a crash leaves a
    // contiguous prefix; then the directory is synced before the cut.
    let later: Vec<u64> = log.segments.range(index..).map(|(&k, _)| k).rev().collect();
    for first in &later {
        if active.as_ref().is_some_and(|a| a.segment == *first) {
            *active = None;
        }
        if let Some(segment) = log.segments.remove(first) {
            remove_file(&segment.path)?;
        }
    }
    if !later.is_empty() {
        sync_dir(&shared.dir)?;
    }
    if let Some((&first, segment)) = log.segments.range_mut(..index).next_back() {
        let keep = (index - first) as usize;
        if keep < segment.offsets.len() {
            if active.as_ref().is_some_and(|a| a.segment == first) {
                *active = None;
            }
            let new_len = segment.offsets[keep];
            let file = OpenOptions::new()
                .write(true)
                .open(&segment.path)
                .map_err(|e| RaftLogError::io(&segment.path, "open the segment to cut it", e))?;
            file.set_len(new_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| RaftLogError::io(&segment.path, "cut the segment", e))?;
            segment.offsets.truncate(keep);
            segment.written = segment.written.min(keep);
            let pending = keep.saturating_sub(segment.written);
            segment.pending.truncate(pending);
            segment.end = new_len;
        }
        // Never append to a segment that was cut: the next append starts a
        // new one, named by its index.
        segment.sealed = true;
        if active.as_ref().is_some_and(|a| a.segment == first) {
            *active = None;
        }
    }
    // The new last log id: the last entry left, if it is above the purged
    // id.
    let purged_to = log.purged.as_ref().map(|p| p.index);
    let last_left = log
        .segments
        .iter()
        .next_back()
        .and_then(|(&first, s)| (s.offsets.len() as u64).checked_sub(1).map(|n| first + n))
        .filter(|&i| purged_to.is_none_or(|p| i > p));
    log.last = match last_left {
        None => None,
        Some(i) => {
            let pieces = crate::read::plan_unclamped(&log, i, i + 1);
            match crate::read::load::<C>(&pieces, true) {
                Ok(mut entries) => entries
                    .pop()
                    .map(|e| openraft::RaftLogId::get_log_id(&e).clone()),
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

/// Unlinks every segment whose entries are all at or below `index` (the
/// purged id is already durable).
fn purge<C: RaftTypeConfig>(
    shared: &Shared<C>,
    active: &mut Option<Active>,
    index: u64,
) -> Result<(), RaftLogError> {
    let mut log = shared.log();
    let mut removed = false;
    while let Some((&first, segment)) = log.segments.first_key_value() {
        let count = segment.offsets.len() as u64;
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
        if next_first.is_none() && segment.written < segment.offsets.len() {
            // Records still being written cannot be purged: openraft only
            // purges what is applied, hence durable.
            break;
        }
        if active.as_ref().is_some_and(|a| a.segment == first) {
            *active = None;
        }
        if let Some(segment) = log.segments.remove(&first) {
            remove_file(&segment.path)?;
            removed = true;
        }
    }
    if removed {
        sync_dir(&shared.dir)?;
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
