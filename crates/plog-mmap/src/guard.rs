//! The `SIGBUS` guard: mappings that survive their file shrinking
//! underneath them, and the process-wide opt-out.
//!
//! When another process truncates a mapped file, the pages past the new end
//! of the file no longer exist: touching one raises `SIGBUS`, whose default
//! action kills the process. A storage tool runs beside log rotation,
//! backups and operators, so plog turns that into an error, not a crash.
//! What a pass then reports, and what is and is not promised about a file
//! changed under a mapping, is written once, in the crate docs ("Safety of
//! the mapping").
//!
//! # The mechanism, and why this one
//!
//! Each mapping of plog is *registered* here (start and length, in a fixed
//! table of atomics). A process-wide `SIGBUS` handler, installed at the
//! first mapping, looks the faulting address up in the table:
//!
//! * **a fault the kernel raised (`si_code` `BUS_ADRERR` or `BUS_OBJERR`)
//!   inside a registered mapping**: it flags the mapping *faulted*, maps
//!   anonymous zero pages over the vanished part (from the faulting page to
//!   the end of the mapping, with `MAP_FIXED`) and returns. The faulting
//!   load runs again and reads zeros; the pass that made it stops at its
//!   next batch (the flag is checked before each batch's
//!   results are used) and reports "the file changed while it was read".
//! * **anything else** — a fault outside plog's mappings, a hardware memory
//!   error (`BUS_MCEERR_*`), a `SIGBUS` sent by `kill`, `sigqueue` or
//!   `raise` (`si_code <= 0`) — is not plog's. It goes to the action that
//!   was in place before plog's: the previous handler is called (and when
//!   it restores the default action, as Rust's own handler does, a signal
//!   that will not recur by itself is raised again); a default action is
//!   restored and the signal raised again (a fault recurs when the handler
//!   returns), so the process dies of `SIGBUS` as it would have without
//!   plog; an ignored asynchronous signal stays ignored.
//!
//! The handler takes one consistent snapshot of each slot: a slot's start
//! and length are written under a per-slot sequence number (odd while being
//! written), read before and after them, so a slot freed and registered
//! again meanwhile is skipped, never paired with another mapping's length.
//! It keeps `errno` as it found it, takes no lock and allocates nothing, as
//! a signal handler must (atomics, `mmap`, `sigaction`, `raise`: all
//! async-signal-safe).
//!
//! # When plog does not map
//!
//! A file is read (in bounded windows where the reading path streams; see
//! the crate docs) instead of mapped when:
//!
//! * the process opted out: [`disable`] was called, or the environment
//!   variable [`NO_HANDLER_ENV`] (`PLOG_NO_SIGBUS_HANDLER`) was set to
//!   anything but `0` or the empty string when plog first looked. Then plog
//!   installs no handler (one installed before stays, for the mappings
//!   made before);
//! * plog's handler is no longer the process's `SIGBUS` action (another
//!   library, a JVM or a crash reporter, installed its own since, or a
//!   foreign signal restored the default): each registration asks the
//!   kernel (`sigaction`) first;
//! * every slot of the table is taken (more than [`SLOTS`] live mappings);
//! * the handler could not be installed.
//!
//! A truncation of the last partial page does not fault at all (the kernel
//! reads zeros past the end of a file inside its last page): that is why a
//! pass also compares the file's length with what it read.
//!
//! The alternatives to the guard were worse: reading in windows instead of
//! mapping costs a copy of every byte (the mapping stays zero-copy this
//! way), and checking the length before each access cannot close the race
//! with a truncation that lands between the check and the load.
//!
//! This module and `source.rs` (the mapping, the release of its pages) hold
//! plog-mmap's `unsafe` code, with a prefetch hint in `walk.rs`.
#![allow(unsafe_code)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

/// The most mappings that can be registered at once; past it, files are
/// read instead of mapped.
pub const SLOTS: usize = 256;

/// The environment variable that opts a process out of plog's `SIGBUS`
/// handler (see [`disable`]): set to anything but `0` or the empty string
/// before plog first maps a file.
pub const NO_HANDLER_ENV: &str = "PLOG_NO_SIGBUS_HANDLER";

/// One registered mapping. `claimed` serialises claiming and freeing the
/// slot between threads; `sequence` (odd while `start` and `len` are being
/// written) lets the handler take a consistent snapshot of both; the
/// handler itself only reads `sequence`, `start` and `len` and writes
/// `faulted`.
struct Slot {
    claimed: AtomicBool,
    sequence: AtomicUsize,
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

impl Slot {
    const fn empty() -> Slot {
        Slot {
            claimed: AtomicBool::new(false),
            sequence: AtomicUsize::new(0),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            faulted: AtomicBool::new(false),
        }
    }

    /// Sets the slot's range (the caller holds `claimed`): the sequence is
    /// odd while it is written, then even again.
    fn write(&self, start: usize, len: usize) {
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.start.store(start, Ordering::Relaxed);
        self.len.store(len, Ordering::Relaxed);
        self.faulted.store(false, Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
    }

    /// The slot's range as one consistent snapshot, `None` when it holds no
    /// mapping or is being written (a slot being registered is not read
    /// yet; one being freed belongs to a log no pass uses any more).
    fn snapshot(&self) -> Option<(usize, usize)> {
        let before = self.sequence.load(Ordering::Acquire);
        let start = self.start.load(Ordering::Relaxed);
        let len = self.len.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let after = self.sequence.load(Ordering::Relaxed);
        (before == after && before.is_multiple_of(2) && start != 0 && len != 0)
            .then_some((start, len))
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::empty() }; SLOTS];

/// The page size, read once when the handler is installed.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);

/// The `SIGBUS` action that was in place before plog's, to which signals
/// that are not plog's are handed. Set once, before the handler can run.
static PREVIOUS: OnceLock<Previous> = OnceLock::new();

/// Whether plog's handler was installed (`false` when `sigaction` failed,
/// or the process had opted out by then).
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Set by [`disable`] (or from [`NO_HANDLER_ENV`] at the first look).
static DISABLED: AtomicBool = AtomicBool::new(false);

/// The page size (known once a mapping is registered).
pub(crate) fn page_size() -> usize {
    PAGE_SIZE.load(Ordering::Relaxed)
}

/// Opts this process out of plog's `SIGBUS` handler: from now on plog
/// installs no handler and maps no file; every log is read instead (see
/// the crate docs, "Opening: map or read"). For a program that embeds plog
/// and owns `SIGBUS` itself (a JVM, a crash reporter), or that does not
/// want a process-wide handler installed by a library. Call it before the
/// first [`Log::open`](crate::Log::open): a handler installed earlier stays
/// in place for the mappings made before (they need it).
///
/// Setting the environment variable [`NO_HANDLER_ENV`]
/// (`PLOG_NO_SIGBUS_HANDLER=1`) has the same effect without a code change.
pub fn disable() {
    DISABLED.store(true, Ordering::Release);
}

/// Whether plog maps files in this process: it did not opt out
/// ([`disable`], [`NO_HANDLER_ENV`]), and its handler is installed (or can
/// be) and is still the process's `SIGBUS` action.
pub fn is_active() -> bool {
    !disabled() && install() && still_installed()
}

/// Whether the process opted out, by [`disable`] or the environment.
fn disabled() -> bool {
    static FROM_ENV: OnceLock<bool> = OnceLock::new();
    let from_env = *FROM_ENV.get_or_init(|| {
        std::env::var_os(NO_HANDLER_ENV).is_some_and(|value| !value.is_empty() && value != "0")
    });
    from_env || DISABLED.load(Ordering::Acquire)
}

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
        slot.write(0, 0);
        slot.claimed.store(false, Ordering::Release);
    }
}

/// Registers the mapping `[start, start + len)` with the `SIGBUS` handler
/// (installing the handler the first time). `None` when the caller must not
/// map: the process opted out, plog's handler is not (or no longer) the
/// process's `SIGBUS` action, or every slot is taken.
pub(crate) fn register(start: usize, len: usize) -> Option<Registration> {
    if start == 0 || len == 0 || !is_active() {
        return None;
    }
    for (index, slot) in TABLE.iter().enumerate() {
        if slot
            .claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            slot.write(start, len);
            return Some(Registration { slot: index });
        }
    }
    None
}

/// The address of plog's handler, as `sigaction` reports it.
fn handler_address() -> usize {
    on_sigbus as *const () as usize
}

/// Whether the process's `SIGBUS` action is still plog's handler: another
/// library may have installed its own since, or a foreign signal restored
/// the default action.
fn still_installed() -> bool {
    // SAFETY: an all-zero `sigaction` is a valid out-parameter.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; `current` is writable.
    let queried = unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut current) };
    queried == 0 && current.sa_sigaction == handler_address()
}

/// Installs the handler once (unless the process opted out first); whether
/// it was installed.
fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        if disabled() {
            return false;
        }
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
        action.sa_sigaction = handler_address();
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

/// Whether `info` is a fault the kernel raised for an access to a page that
/// is gone (a truncated file: `BUS_ADRERR`; `BUS_OBJERR` for an object
/// error), the only `SIGBUS` plog handles. Signals sent by a process
/// (`si_code <= 0`: `kill`, `sigqueue`, `tgkill`) and hardware memory
/// errors (`BUS_MCEERR_*`) are not plog's.
fn is_vanished_page(code: libc::c_int) -> bool {
    code == libc::BUS_ADRERR || code == libc::BUS_OBJERR
}

/// The `SIGBUS` handler (see the module docs). Async-signal-safe: atomics
/// and system calls only; `errno` is restored before it returns.
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: `__errno_location` returns this thread's `errno`, valid for
    // the thread's life; reading it is async-signal-safe.
    let saved_errno = unsafe { *libc::__errno_location() };
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO`
    // handler (and a process can only send one through the kernel).
    let code = unsafe { (*info).si_code };
    if !(is_vanished_page(code) && absorb(info)) {
        forward(signal, info, context, code > 0);
    }
    // SAFETY: as above; restores what the interrupted code saw.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// For a fault inside a registered mapping: flags the mapping, maps zero
/// pages over the rest of it and returns true (the faulting access is then
/// run again and reads zeros). False when the address is not in a mapping
/// of plog's, or the zero pages could not be mapped.
fn absorb(info: *mut libc::siginfo_t) -> bool {
    // SAFETY: for a kernel-raised SIGBUS (the caller checked `si_code`),
    // `si_addr` is the faulting address.
    let address = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for slot in &TABLE {
        let Some((start, len)) = slot.snapshot() else {
            continue;
        };
        if address < start || address - start >= len {
            continue;
        }
        // Flag first: any thread that reads the zero pages mapped below
        // does so after this store (the `mmap` that makes them visible
        // comes after it), so a pass that checks the flag after reading a
        // batch cannot miss a zero it read.
        slot.faulted.store(true, Ordering::SeqCst);
        let first_page = address & !(page - 1);
        let end = start.saturating_add(len);
        let span = end - first_page;
        // SAFETY: `[first_page, end)` lies inside a mapping that plog made
        // and still owns: the snapshot is consistent (the slot's start and
        // length were read under one even sequence number), a mapping is
        // unregistered before it is unmapped, and the faulting access is
        // plog's own read of that live mapping. Replacing its pages with
        // anonymous read-only zero pages (MAP_FIXED) only changes what the
        // mapping's bytes read as. The `Mmap` that owns the range unmaps all
        // of it, replacement included, when it is dropped.
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
        return mapped != libc::MAP_FAILED;
    }
    false
}

/// Hands a signal that is not plog's to the action in place before plog's
/// (see the module docs). `fault`: raised by the kernel for an access
/// (`si_code > 0`), so it recurs when the handler returns; otherwise the
/// signal was sent and happens once.
fn forward(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
    fault: bool,
) {
    let previous = PREVIOUS.get().map(|Previous(previous)| previous);
    let handler = previous.map_or(libc::SIG_DFL, |previous| previous.sa_sigaction);
    if handler == libc::SIG_IGN && !fault {
        // Ignored before plog: ignored still. (The kernel kills a process
        // that ignores a fault anyway, so a fault takes the default path.)
        return;
    }
    if let Some(previous) = previous
        && handler != libc::SIG_DFL
        && handler != libc::SIG_IGN
    {
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous action was installed with SA_SIGINFO, so
            // its handler has this signature; it is called as the kernel
            // would have called it.
            let previous_handler: extern "C" fn(
                libc::c_int,
                *mut libc::siginfo_t,
                *mut libc::c_void,
            ) = unsafe { std::mem::transmute(handler) };
            previous_handler(signal, info, context);
        } else {
            // SAFETY: without SA_SIGINFO the handler takes the signal number
            // only.
            let previous_handler: extern "C" fn(libc::c_int) =
                unsafe { std::mem::transmute(handler) };
            previous_handler(signal);
        }
        // A handler that restored the default action (Rust's own does, for
        // a fault outside a stack guard) counts on the signal recurring: a
        // sent one does not, so it is raised again.
        if !fault && current_action_is_default(signal) {
            // SAFETY: `raise` is async-signal-safe; the signal is blocked
            // while this handler runs and is delivered when it returns.
            unsafe { libc::raise(signal) };
        }
        return;
    }
    // SAFETY: a zeroed `sigaction` with SIG_DFL (0) is the default action.
    let mut default: libc::sigaction = unsafe { std::mem::zeroed() };
    default.sa_sigaction = libc::SIG_DFL;
    // SAFETY: `default` is a valid action; `sigaction` is async-signal-safe.
    unsafe { libc::sigaction(signal, &default, std::ptr::null_mut()) };
    if !fault {
        // SAFETY: as above: delivered, under the default action, when the
        // handler returns. (A fault recurs by itself.)
        unsafe { libc::raise(signal) };
    }
}

/// Whether `signal`'s action is now the default one.
fn current_action_is_default(signal: libc::c_int) -> bool {
    // SAFETY: a zeroed `sigaction` is a valid out-parameter.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; `sigaction` is
    // async-signal-safe.
    let queried = unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) };
    queried == 0 && current.sa_sigaction == libc::SIG_DFL
}
