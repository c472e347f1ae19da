//! The preallocator: a background thread that keeps written, synced zeros
//! ahead of the active segment's write offset, so that appends overwrite
//! blocks the file already owns (their `fdatasync` then writes the data
//! alone, with no size or extent change to commit).
//!
//! It only ever extends a file with zeros past every byte the I/O thread
//! has written or announced (`claim`), and the I/O thread waits for an
//! extension in flight before it writes into that extension's range, so
//! the two never write the same bytes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// The least and the most zeros kept ahead of the write offset; in between,
/// twice what the segment holds (a segment written in small appends keeps a
/// small preallocation, one written in large batches a large one).
const AHEAD_MIN: u64 = 256 << 10;
const AHEAD_MAX: u64 = 16 << 20;
/// Zeros per `pwrite`.
const CHUNK: usize = 1 << 20;

#[derive(Default)]
struct State {
    /// The active segment's file, while there is one.
    file: Option<Arc<File>>,
    /// The same file opened for direct I/O (Linux, where the file system
    /// takes it): the zeros then go to the device without dirtying the
    /// page cache, so an append's `fdatasync` never has to write them back.
    direct: Option<Arc<File>>,
    /// Bumped by every attach and detach.
    generation: u64,
    /// Where the segment's records start (its magic's end).
    start: u64,
    /// Every byte below this is data written or about to be written by
    /// the I/O thread.
    claimed: u64,
    /// The end of the synced zeros (or of the file, when larger).
    zeroed: u64,
    /// The preallocation stops here.
    limit: u64,
    /// An extension in flight: its byte range.
    busy: Option<(u64, u64)>,
    stop: bool,
    /// Extensions that failed (the next append then grows the file).
    failures: u64,
}

struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The preallocator of one store.
pub(crate) struct Prealloc {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl Prealloc {
    /// Starts the thread.
    pub(crate) fn start() -> std::io::Result<Prealloc> {
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let thread_inner = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("plog-raft-prealloc".into())
            .spawn(move || run(&thread_inner))?;
        Ok(Prealloc {
            inner,
            thread: Some(thread),
        })
    }

    /// Makes `file` (whose data ends at `end`) the file to keep zeros
    /// ahead in, up to `limit` bytes.
    pub(crate) fn attach(&self, file: Arc<File>, path: &std::path::Path, end: u64, limit: u64) {
        let direct = open_direct(path).map(Arc::new);
        let mut state = self.detach_locked();
        state.file = Some(file);
        state.direct = direct;
        state.start = end;
        state.claimed = end;
        state.zeroed = end;
        state.limit = limit;
        drop(state);
        self.inner.wake.notify_all();
    }

    /// Stops preallocating in the current file, waiting for an extension in
    /// flight (the file may be cut or unlinked after this).
    pub(crate) fn detach(&self) {
        drop(self.detach_locked());
    }

    fn detach_locked(&self) -> MutexGuard<'_, State> {
        let mut state = self.inner.lock();
        while state.busy.is_some() {
            state = self
                .inner
                .wake
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        state.file = None;
        state.direct = None;
        state.generation += 1;
        state
    }

    /// Announces a write of `from..to` in the attached file, waiting for an
    /// extension in flight that overlaps it; returns where the synced zeros
    /// end (the write is an overwrite when `to` is at or below it; the
    /// zeros between `to` and that end are never written by this thread).
    pub(crate) fn claim(&self, from: u64, to: u64) -> u64 {
        let mut state = self.inner.lock();
        while state.busy.is_some_and(|(a, b)| a < to && from < b) {
            state = self
                .inner
                .wake
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        state.claimed = state.claimed.max(to);
        let zeroed = if state.file.is_some() {
            state.zeroed
        } else {
            0
        };
        // Wake the thread only when it has work: a wake-up per append
        // would cost the appends' CPU on a small machine.
        let wake = want(&state).is_some();
        drop(state);
        if wake {
            self.inner.wake.notify_all();
        }
        zeroed
    }
}

impl Drop for Prealloc {
    fn drop(&mut self) {
        {
            let mut state = self.inner.lock();
            state.stop = true;
        }
        self.inner.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Direct I/O wants buffers, offsets and lengths aligned to the logical
/// block size; 4 KiB covers the devices in use.
const ALIGN: u64 = 4096;

#[cfg(target_os = "linux")]
fn open_direct(path: &std::path::Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_: &std::path::Path) -> Option<File> {
    None
}

fn run(inner: &Inner) {
    // A zero buffer aligned for direct I/O (a slice of a larger one).
    let raw = vec![0u8; CHUNK + ALIGN as usize];
    let skip = raw.as_ptr().align_offset(ALIGN as usize);
    let zeros = &raw[skip..skip + CHUNK];
    let mut state = inner.lock();
    loop {
        if state.stop {
            return;
        }
        let direct = state.direct.clone();
        let Some((file, from, to)) = want(&state) else {
            state = inner.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            continue;
        };
        let generation = state.generation;
        state.busy = Some((from, to));
        drop(state);
        let result = extend(&file, direct.as_deref(), zeros, from, to);
        state = inner.lock();
        state.busy = None;
        if state.generation == generation {
            match result {
                Ok(()) => state.zeroed = to,
                Err(_) => {
                    // The appends grow the file instead; try again later
                    // from the new end.
                    state.failures += 1;
                    state.zeroed = state.zeroed.max(state.claimed);
                    state.file = None;
                }
            }
        }
        inner.wake.notify_all();
    }
}

/// The extension the thread should make now, if any: once less than half
/// the wanted zeros are left ahead of the claimed bytes.
fn want(state: &State) -> Option<(Arc<File>, u64, u64)> {
    let file = state.file.as_ref()?;
    if state.busy.is_some() {
        return None;
    }
    let used = state.claimed.saturating_sub(state.start);
    let ahead = (used * 2).clamp(AHEAD_MIN, AHEAD_MAX);
    let from = state.zeroed.max(state.claimed);
    let to = ((state.claimed + ahead) / ALIGN * ALIGN).min(state.limit);
    (state.zeroed < state.claimed + ahead / 2 && to > from).then(|| (Arc::clone(file), from, to))
}

/// Writes zeros at `from..to` and syncs them (and the new size): the
/// aligned middle with direct I/O when `direct` is given (falling back to
/// buffered writes if the file system refuses), the unaligned ends
/// buffered.
fn extend(
    file: &File,
    direct: Option<&File>,
    zeros: &[u8],
    from: u64,
    to: u64,
) -> std::io::Result<()> {
    let buffered = |a: u64, b: u64| -> std::io::Result<()> {
        let mut at = a;
        while at < b {
            let n = ((b - at) as usize).min(zeros.len());
            file.write_all_at(&zeros[..n], at)?;
            at += n as u64;
        }
        Ok(())
    };
    let head = from.next_multiple_of(ALIGN).min(to);
    let body = (to / ALIGN * ALIGN).max(head);
    buffered(from, head)?;
    let mut at = head;
    if let Some(direct) = direct {
        while at < body {
            let n = ((body - at) as usize).min(zeros.len());
            match direct.write_all_at(&zeros[..n], at) {
                Ok(()) => at += n as u64,
                // Direct I/O refused here: the rest goes buffered.
                Err(_) => break,
            }
        }
    }
    buffered(at, to)?;
    file.sync_data()
}
