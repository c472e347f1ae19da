//! Mappings that survive their file shrinking underneath them.
//!
//! When another process truncates a mapped file, the pages past the new end
//! of the file no longer exist: touching one raises `SIGBUS`, whose default
//! action kills the process. A storage tool runs beside log rotation,
//! backups and operators, so plog must turn that into an error, not a crash.
//!
//! # The mechanism, and why this one
//!
//! Each mapping of plog is *registered* here (start and length, in a fixed
//! table of atomics). A process-wide `SIGBUS` handler, installed once,
//! looks the faulting address up in the table:
//!
//! * **inside a registered mapping**: it maps anonymous zero pages over the
//!   vanished part (from the faulting page to the end of the mapping, with
//!   `MAP_FIXED`), marks the mapping *faulted* and returns. The faulting load
//!   runs again and reads zeros; the pass goes on over bytes that are merely
//!   wrong, which every reader of plog already tolerates (nothing trusts a
//!   byte before checking it against the slice bounds). At its end, the pass
//!   asks [`Registration::faulted`] (and the file's length) and reports "the
//!   file changed while it was read" instead of its result.
//! * **anywhere else**: the fault is not plog's. The handler hands it to the
//!   handler that was installed before (Rust's own, which reports stack
//!   overflows), or restores the default action so that the fault kills the
//!   process exactly as it would have without plog.
//!
//! The alternatives were worse: reading in windows instead of mapping costs
//! a copy of every byte (the mapping stays zero-copy this way), and checking
//! the length before each access cannot close the race with a truncation
//! that lands between the check and the load.
//!
//! The handler only loads atomics and calls `mmap`, a system call; it takes
//! no lock and allocates nothing, as a signal handler must. When every slot
//! of the table is taken (more than [`SLOTS`] live mappings), the caller reads
//! the file instead of mapping it. A truncation of the last partial page
//! does not fault at all (the kernel reads zeros past the end of a file
//! inside its last page): that is why a pass also compares the file's
//! length with the mapping's.
//!
//! This module and `source.rs` (the mapping, the release of its pages) hold
//! plog-mmap's `unsafe` code, with a prefetch hint in `walk.rs`.
#![allow(unsafe_code)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The most mappings that can be registered at once.
pub(crate) const SLOTS: usize = 256;

/// One registered mapping. `start == 0` means the slot holds no mapping;
/// `claimed` serialises claiming and freeing the slot between threads (the
/// handler itself only reads `start`, `len` and writes `faulted`).
struct Slot {
    claimed: AtomicBool,
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

impl Slot {
    const fn empty() -> Slot {
        Slot {
            claimed: AtomicBool::new(false),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            faulted: AtomicBool::new(false),
        }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::empty() }; SLOTS];

/// The page size, read once when the handler is installed.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);

/// The `SIGBUS` action that was in place before plog's, to which faults
/// outside plog's mappings are handed. Set once, before the handler can run.
static PREVIOUS: OnceLock<Previous> = OnceLock::new();

/// The page size (known once a mapping is registered).
pub(crate) fn page_size() -> usize {
    PAGE_SIZE.load(Ordering::Relaxed)
}

/// Whether plog's handler is installed (`false` when `sigaction` failed:
/// then nothing is mapped, see [`register`]).
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// The saved action (a plain C struct, copied once and only read after).
struct Previous(libc::sigaction);

// SAFETY: `libc::sigaction` is plain data (a handler address, a signal mask
// and flags); it is written once, before any thread can read it, and never
// changed after, so sharing it between threads is sound.
unsafe impl Sync for Previous {}
// SAFETY: as above: plain data, written once.
unsafe impl Send for Previous {}

/// A mapping registered with the `SIGBUS` handler. Dropping it unregisters
/// the mapping; it must be dropped **before** the mapping is unmapped.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: usize,
}

impl Registration {
    /// Whether a page of the mapping vanished (the file shrank under it)
    /// since it was registered. Its bytes from the first vanished page on
    /// now read as zeros.
    pub(crate) fn faulted(&self) -> bool {
        TABLE[self.slot].faulted.load(Ordering::Acquire)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let slot = &TABLE[self.slot];
        slot.start.store(0, Ordering::Release);
        slot.len.store(0, Ordering::Release);
        slot.faulted.store(false, Ordering::Release);
        slot.claimed.store(false, Ordering::Release);
    }
}

/// Registers the mapping `[start, start + len)` with the `SIGBUS` handler
/// (installing the handler the first time). `None` when the handler could
/// not be installed or every slot is taken: the caller must then not map.
pub(crate) fn register(start: usize, len: usize) -> Option<Registration> {
    if start == 0 || len == 0 || !install() {
        return None;
    }
    for (index, slot) in TABLE.iter().enumerate() {
        if slot
            .claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            slot.faulted.store(false, Ordering::Release);
            slot.len.store(len, Ordering::Release);
            // Last: the handler matches a slot only once `start` is set.
            slot.start.store(start, Ordering::Release);
            return Some(Registration { slot: index });
        }
    }
    None
}

/// Installs the handler once; whether it is installed.
fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        // SAFETY: `sysconf` has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if let Ok(page) = usize::try_from(page)
            && page.is_power_of_two()
        {
            PAGE_SIZE.store(page, Ordering::Relaxed);
        }
        // SAFETY: an all-zero `sigaction` is a valid value of the C struct
        // (no handler, empty mask, no flags); it is filled in below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `sa_mask` is a valid, writable `sigset_t`.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: as above, a zeroed `sigaction` is a valid out-parameter.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // Record the action in place before ours is installed: our handler
        // reads `PREVIOUS` and must find it set. Query first, then install.
        // SAFETY: a null new action only queries; `previous` is writable.
        if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) } != 0 {
            return false;
        }
        if PREVIOUS.set(Previous(previous)).is_err() {
            return false;
        }
        // SAFETY: `action` is fully initialised and its handler has the
        // `SA_SIGINFO` signature; the old action is not needed (saved above;
        // nothing else in plog changes SIGBUS's action in between).
        unsafe { libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) == 0 }
    })
}

/// The `SIGBUS` handler (see the module docs). Async-signal-safe: atomics
/// and system calls only.
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO`
    // handler; for SIGBUS, `si_addr` is the faulting address.
    let address = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for slot in &TABLE {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        if start == 0 || address < start || address - start >= len {
            continue;
        }
        let first_page = address & !(page - 1);
        let end = start.saturating_add(len);
        let span = end - first_page;
        // SAFETY: `[first_page, end)` lies inside a mapping that plog made
        // and still owns (it is registered, and a mapping is unregistered
        // before it is unmapped); replacing its pages with anonymous
        // read-only zero pages (MAP_FIXED) only changes what the mapping's
        // bytes read as. The `Mmap` that owns the range unmaps all of it,
        // replacement included, when it is dropped.
        let mapped = unsafe {
            libc::mmap(
                first_page as *mut libc::c_void,
                span,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return;
        }
        break;
    }
    forward(signal, info, context);
}

/// Hands a fault that plog cannot absorb to the previous action, or restores
/// the default action so that the fault, raised again when the handler
/// returns, ends the process as it would have without plog.
fn forward(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    if let Some(Previous(previous)) = PREVIOUS.get() {
        let handler = previous.sa_sigaction;
        if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous action was installed with
                // SA_SIGINFO, so its handler has this signature; it is
                // called as the kernel would have called it.
                let previous_handler: extern "C" fn(
                    libc::c_int,
                    *mut libc::siginfo_t,
                    *mut libc::c_void,
                ) = unsafe { std::mem::transmute(handler) };
                previous_handler(signal, info, context);
            } else {
                // SAFETY: without SA_SIGINFO the handler takes the signal
                // number only.
                let previous_handler: extern "C" fn(libc::c_int) =
                    unsafe { std::mem::transmute(handler) };
                previous_handler(signal);
            }
            return;
        }
    }
    // SAFETY: a zeroed `sigaction` with SIG_DFL (0) is the default action.
    let mut default: libc::sigaction = unsafe { std::mem::zeroed() };
    default.sa_sigaction = libc::SIG_DFL;
    // SAFETY: `default` is a valid action; restoring SIG_DFL is
    // async-signal-safe (`sigaction` is on POSIX's list).
    unsafe { libc::sigaction(signal, &default, std::ptr::null_mut()) };
}
