//! The one thread that writes: appends in batches (one positioned write
//! and one fdatasync per segment per batch, into the zeros the
//! preallocator keeps ahead), truncates, purges (their unlinking handed to
//! a background thread), votes and coalesced state writes, in the order
//! they were asked for.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use plog_format::Hash;
use std::sync::mpsc::Sender;

use crate::flavor::Flavor;
use crate::prealloc::Prealloc;
use crate::scan::push_mark;

use crate::state::sync_dir;
use crate::{RaftLogError, Shared};

/// One record to write.
pub(crate) struct Record {
    /// The first index of its segment (the segment's key and name).
    pub segment: u64,
    pub index: u64,
    pub payload: Arc<crate::Payload>,
}

/// What the I/O thread is asked to do.
pub(crate) enum Cmd<C: Flavor> {
    Append {
        records: Vec<Record>,
        callback: Option<Done<C>>,
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

/// Who is told when an append is durable.
pub(crate) enum Done<C: Flavor> {
    Raft(C::Flushed),
    Fn(Box<dyn FnOnce(std::io::Result<()>) + Send>),
}

impl<C: Flavor> Done<C> {
    fn complete(self, result: std::io::Result<()>) {
        match self {
            Done::Raft(callback) => C::flushed(callback, result),
            Done::Fn(f) => f(result),
        }
    }
}

/// The segment being appended to.
struct Active {
    segment: u64,
    file: Arc<File>,
    /// Where the next write goes.
    end: u64,
}

/// The I/O thread's own state.
pub(crate) struct Writer {
    active: Option<Active>,
    prealloc: Prealloc,
    /// The bytes of the write being built (kept to reuse its allocation).
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(prealloc: Prealloc) -> Writer {
        Writer {
            active: None,
            prealloc,
            buf: Vec::new(),
        }
    }

    /// Forgets the active segment (it is about to be cut, unlinked, or is
    /// no longer the newest), stopping its preallocation first.
    fn retire(&mut self, segment: Option<u64>) {
        if segment.is_none() || self.active.as_ref().map(|a| a.segment) == segment {
            self.prealloc.detach();
            self.active = None;
        }
    }
}

/// The writer, shared by the I/O thread and a synchronous append that
/// finds the I/O thread idle (it then writes on its own thread: no hand-off
/// to the I/O thread and back, the latency a caller that may block pays
/// with fjall or a plain file).
pub(crate) struct Slot {
    writer: Mutex<Writer>,
    /// Commands sent to the I/O thread and not yet done (their callbacks
    /// called): raised by the store before each send, lowered by the I/O
    /// thread after each command. The store appends with `&mut self`, so
    /// nothing is sent while a caller writes in place.
    queued: AtomicUsize,
}

impl Slot {
    pub(crate) fn new(prealloc: Prealloc) -> Slot {
        Slot {
            writer: Mutex::new(Writer::new(prealloc)),
            queued: AtomicUsize::new(0),
        }
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a command about to be sent.
    pub(crate) fn sent(&self) {
        self.queued.fetch_add(1, Ordering::SeqCst);
    }

    /// Takes back the count of a command that could not be sent.
    pub(crate) fn unsent(&self) {
        self.queued.fetch_sub(1, Ordering::SeqCst);
    }

    /// Writes `records` and calls `callback` on the caller's thread when
    /// every command sent before is done (the I/O thread is idle); gives
    /// them back otherwise, to be queued.
    pub(crate) fn append_in_place<C: Flavor>(
        &self,
        shared: &Shared<C>,
        records: Vec<Record>,
        callback: Done<C>,
    ) -> Option<(Vec<Record>, Done<C>)> {
        let Ok(mut writer) = self.writer.try_lock() else {
            return Some((records, callback));
        };
        if self.queued.load(Ordering::SeqCst) != 0 {
            return Some((records, callback));
        }
        let result = append(shared, &mut writer, &records);
        drop(writer);
        drop(records);
        finish(shared, result, vec![callback]);
        None
    }
}

/// Calls the callbacks of appends that `result` made durable (or not: the
/// store is then poisoned).
fn finish<C: Flavor>(
    shared: &Shared<C>,
    result: Result<(), RaftLogError>,
    callbacks: Vec<Done<C>>,
) {
    match result {
        Ok(()) => {
            for callback in callbacks {
                callback.complete(Ok(()));
            }
        }
        Err(e) => {
            let why = e.to_string();
            poison(shared, &why);
            for callback in callbacks {
                callback.complete(Err(std::io::Error::other(why.clone())));
            }
        }
    }
}

/// The page size the padding of a write rounds to (4 KiB; on a larger
/// page the write still saves reading the block it ends in).
const PAGE: u64 = 4096;

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
                let mut taken = 1;
                while let Ok(next) = rx.try_recv() {
                    match next {
                        Cmd::Append { records, callback } => {
                            taken += 1;
                            all.extend(records);
                            callbacks.extend(callback);
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
                // The records' memory goes back before the callbacks run.
                drop(all);
                finish(&shared, result, callbacks);
                slot.queued.fetch_sub(taken, Ordering::SeqCst);
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
                        Err(_) => poison(&shared, "could not start the unlink thread"),
                    }
                }
            }
            Cmd::SaveVote { vote, done } => {
                done.send(guarded(&shared, |s| {
                    s.state().update(&s.dir, |st| st.vote = Some(vote))
                }));
            }
        }
        slot.queued.fetch_sub(1, Ordering::SeqCst);
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
    f(shared).inspect_err(|e| poison(shared, &e.to_string()))
}

fn poison<C: Flavor>(shared: &Shared<C>, why: &str) {
    let mut log = shared.log();
    if log.poisoned.is_none() {
        log.poisoned = Some(why.to_owned());
    }
}

fn store_state<C: Flavor>(shared: &Shared<C>) -> Result<(), RaftLogError> {
    shared.state().persist_all(&shared.dir)
}

/// Creates segment `first`'s file: the magic, synced with the directory
/// entry. Its records are written into it from offset 26 on.
fn create_segment<C: Flavor>(shared: &Shared<C>, first: u64) -> Result<Arc<File>, RaftLogError> {
    let path = shared.dir.join(crate::scan::segment_name(first));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(shared.options.file_mode)
        .open(&path)
        .map_err(|e| RaftLogError::io(&path, "create the segment", e))?;
    crate::set_mode(&file, &path, shared.options.file_mode)?;
    file.write_all_at(&plog_format::MAGIC, 0)
        .and_then(|()| file.sync_data())
        .map_err(|e| RaftLogError::io(&path, "write the segment's magic", e))?;
    sync_dir(&shared.dir)?;
    Ok(Arc::new(file))
}

/// Appends record `record` (the `k`-th of a write of `count`) to `buf`;
/// the last one of the write carries the write mark (RAFT-SEGMENTS.md),
/// so its hash is computed again.
fn encode(buf: &mut Vec<u8>, record: &Record, last_of: Option<u64>) {
    let json = record.payload.json();
    match last_of {
        None => {
            buf.extend_from_slice(&record.index.to_le_bytes());
            buf.extend_from_slice(&(json.len() as u64).to_le_bytes());
            buf.extend_from_slice(record.payload.hash.as_bytes());
            buf.extend_from_slice(json);
        }
        Some(count) => {
            let header = buf.len();
            buf.extend_from_slice(&record.index.to_le_bytes());
            buf.extend_from_slice(&[0; 40]);
            let payload = buf.len();
            buf.extend_from_slice(json);
            push_mark(count, buf);
            let len = (buf.len() - payload) as u64;
            let hash = Hash::of(&buf[payload..]);
            buf[header + 8..header + 16].copy_from_slice(&len.to_le_bytes());
            buf[header + 16..header + 48].copy_from_slice(hash.as_bytes());
        }
    }
}

/// Writes `records` (in index order, grouped by segment) with one
/// positioned write and one fdatasync per segment: into zeros the
/// preallocator has written ahead, when it is ahead.
fn append<C: Flavor>(
    shared: &Shared<C>,
    writer: &mut Writer,
    records: &[Record],
) -> Result<(), RaftLogError> {
    if let Some(why) = &shared.log().poisoned {
        return Err(RaftLogError::Poisoned(why.clone()));
    }
    for group in records.chunk_by(|a, b| a.segment == b.segment) {
        let segment = group[0].segment;
        if writer.active.as_ref().is_none_or(|a| a.segment != segment) {
            writer.retire(None);
            let file = create_segment(shared, segment)?;
            if let Some(s) = shared.log().segments.get_mut(&segment) {
                s.file = Some(Arc::clone(&file));
            }
            let limit = preallocation_limit(shared.options.segment_bytes);
            let path = shared.dir.join(crate::scan::segment_name(segment));
            writer.prealloc.attach(
                Arc::clone(&file),
                &path,
                plog_format::MAGIC_LEN as u64,
                limit,
            );
            writer.active = Some(Active {
                segment,
                file,
                end: plog_format::MAGIC_LEN as u64,
            });
        }
        let Some(active) = writer.active.as_mut() else {
            unreachable!("the active segment was just set")
        };
        let buf = &mut writer.buf;
        buf.clear();
        let mut offsets = Vec::with_capacity(group.len());
        for (k, record) in group.iter().enumerate() {
            offsets.push(active.end + buf.len() as u64);
            let last = (k + 1 == group.len()).then_some(group.len() as u64);
            encode(buf, record, last);
        }
        let (from, to) = (active.end, active.end + buf.len() as u64);
        let zeroed = writer.prealloc.claim(from, to);
        let overwrite = to <= zeroed;
        // The preallocator's zeros went to the device around the page
        // cache, so the page holding `to` is not cached: a write ending
        // inside it would make the kernel read it from the device first
        // (a read on every append's path). Into preallocated zeros, the
        // write goes on to that page's end with the zeros already there.
        let page_end = to.next_multiple_of(PAGE).min(zeroed);
        if overwrite && page_end > to {
            buf.resize(buf.len() + (page_end - to) as usize, 0);
        }
        let path = || shared.dir.join(crate::scan::segment_name(segment));
        active
            .file
            .write_all_at(buf, from)
            .map_err(|e| RaftLogError::io(path(), "write the records", e))?;
        active
            .file
            .sync_data()
            .map_err(|e| RaftLogError::io(path(), "fdatasync the records", e))?;
        active.end = to;
        let counter = if overwrite {
            &shared.stats.overwrites
        } else {
            &shared.stats.growths
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut log = shared.log();
        if let Some(s) = log.segments.get_mut(&segment) {
            let n = group.len().min(s.pending.len());
            s.pending.drain(..n);
            s.offsets.extend_from_slice(&offsets[..n]);
            s.end = to;
        }
    }
    Ok(())
}

/// How far the preallocator may go in a segment of `segment_bytes`: the
/// last write may start just below `segment_bytes`.
fn preallocation_limit(segment_bytes: u64) -> u64 {
    segment_bytes.saturating_add(segment_bytes.min(4 << 20))
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
