//! The write path of appends, shared by the I/O thread and an append made
//! in place on the caller's thread (the [`Slot`]): the active segment and
//! its preallocation, each write's records encoded with the write mark of
//! `RAFT-SEGMENTS.md`, one positioned write and one fdatasync per segment
//! per write, into the zeros the preallocator keeps ahead.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use plog_format::Hash;

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

/// What an append leaves to free: the caller's entries, once serialized (a
/// tree of small allocations each, costing about as much to free as to
/// serialize). Never freed on the thread that drops it: see [`release`]
/// for when; dropped on any other path (an error, a refused batch), it
/// goes to the rayon pool all the same, so an async caller's task never
/// frees it.
#[derive(Default)]
pub(crate) struct Garbage(Vec<Box<dyn Send>>);

impl Garbage {
    /// `entries` as garbage when freeing them is worth a trip to the pool
    /// (at least `min` of them); dropped on the spot otherwise.
    pub(crate) fn of<T: Send + 'static>(entries: Vec<T>, min: usize) -> Garbage {
        if entries.len() >= min {
            Garbage(vec![Box::new(entries)])
        } else {
            Garbage::default()
        }
    }

    /// Takes `other`'s garbage too (appends written by one fdatasync).
    pub(crate) fn extend(&mut self, mut other: Garbage) {
        self.0.append(&mut other.0);
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let garbage = std::mem::take(&mut self.0);
            rayon::spawn(move || drop(garbage));
        }
    }
}

/// Frees a written batch: its records (the serialized payloads, one large
/// buffer per part) and `garbage`. With garbage, on the rayon pool, in one
/// job: on the writer's thread the frees cost as much as the write's CPU
/// (glibc consolidates the entries' thousands of freed nodes when a large
/// buffer is freed after them), and freed on the pool while the writer
/// still works, they meet its allocations in the allocator's locks. So the
/// frees wait until the batch is durable, then leave the append's path;
/// the large buffers go last, so that the pool's thread, not the next
/// append, pays for that consolidation.
pub(crate) fn release(records: Vec<Record>, mut garbage: Garbage) {
    if garbage.0.is_empty() {
        drop(records);
    } else {
        // Dropped last by the garbage's own trip to the pool.
        garbage.0.push(Box::new(records));
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

/// The state of the write path: the segment being appended to, its
/// preallocator and the write buffer (used by whoever holds the [`Slot`]).
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
    pub(crate) fn retire(&mut self, segment: Option<u64>) {
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

    pub(crate) fn writer(&self) -> MutexGuard<'_, Writer> {
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

    /// Counts `n` commands done by the I/O thread (their callbacks called).
    pub(crate) fn done(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::SeqCst);
    }

    /// Writes `records` and calls `callback` on the caller's thread when
    /// every command sent before is done (the I/O thread is idle), then
    /// [`release`]s them with `garbage`; gives them back otherwise, to be
    /// queued.
    pub(crate) fn append_in_place<C: Flavor>(
        &self,
        shared: &Shared<C>,
        records: Vec<Record>,
        callback: Done<C>,
        garbage: Garbage,
    ) -> Option<(Vec<Record>, Done<C>, Garbage)> {
        let Ok(mut writer) = self.writer.try_lock() else {
            return Some((records, callback, garbage));
        };
        if self.queued.load(Ordering::SeqCst) != 0 {
            return Some((records, callback, garbage));
        }
        let result = append(shared, &mut writer, &records);
        drop(writer);
        release(records, garbage);
        finish(shared, result, vec![callback]);
        None
    }
}

/// Calls the callbacks of appends that `result` made durable (or not: the
/// store is then poisoned).
pub(crate) fn finish<C: Flavor>(
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
            shared.poison(&why);
            for callback in callbacks {
                callback.complete(Err(std::io::Error::other(why.clone())));
            }
        }
    }
}

/// The page size the padding of a write rounds to (4 KiB; on a larger
/// page the write still saves reading the block it ends in).
const PAGE: u64 = 4096;

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
pub(crate) fn append<C: Flavor>(
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
