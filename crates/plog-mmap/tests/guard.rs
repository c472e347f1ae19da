//! The `SIGBUS` guard as a process sees it, each case in a child process
//! (the handler and the slot table are process-wide): a `SIGBUS` that is
//! not plog's still kills with signal 7, a full slot table or a replaced
//! handler makes plog read instead of map, the opt-out works, and a sent
//! `SIGBUS` reaches the handler installed before plog's with `errno` kept.

use std::io::Read;
use std::ops::ControlFlow;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use plog_mmap::{Log, OpenOptions, Parallelism, VerifyOptions, guard};
use plog_testdata::{build_log, k8s_payload, spawn_child};

/// Which case the child runs.
const CASE: &str = "PLOG_GUARD_CASE";
/// Where the child writes its files.
const DIR: &str = "PLOG_GUARD_DIR";
/// What the child prints when its case ran to the end.
const DONE: &str = "guard case done";

/// Runs `case` in a child process; its exit status and standard output.
fn run_child(case: &str, envs: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    let dir_text = dir.path().to_str().unwrap().to_string();
    let mut all = vec![(CASE, case), (DIR, dir_text.as_str())];
    all.extend_from_slice(envs);
    let (mut child, mut stdout) = spawn_child("child", all, false);
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    (child.wait().unwrap(), out)
}

fn assert_done(case: &str, envs: &[(&str, &str)]) {
    let (status, out) = run_child(case, envs);
    assert!(
        status.success() && out.contains(DONE),
        "{case}: {status:?}\n{out}"
    );
}

fn assert_killed_by_sigbus(case: &str) {
    let (status, out) = run_child(case, &[]);
    assert_eq!(
        status.signal(),
        Some(libc::SIGBUS),
        "{case}: {status:?}\n{out}"
    );
    assert!(!out.contains("survived"), "{case}: {out}");
}

#[test]
fn a_sigbus_sent_by_kill_still_kills_with_signal_7() {
    assert_killed_by_sigbus("kill");
}

#[test]
fn a_sigbus_raised_by_the_process_still_kills_with_signal_7() {
    assert_killed_by_sigbus("raise");
}

#[test]
fn a_fault_on_a_mapping_that_is_not_plogs_still_kills_with_signal_7() {
    assert_killed_by_sigbus("foreign_fault");
}

#[test]
fn a_full_slot_table_reads_instead_of_mapping() {
    assert_done("full_table", &[]);
}

#[test]
fn a_handler_installed_over_plogs_is_noticed_and_plog_reads() {
    assert_done("replaced", &[]);
}

#[test]
fn the_opt_out_by_call_reads_and_installs_nothing() {
    assert_done("disable", &[]);
}

#[test]
fn the_opt_out_by_environment_reads_and_installs_nothing() {
    assert_done("environment", &[(guard::NO_HANDLER_ENV, "1")]);
    // `0` is not an opt-out.
    assert_done("not_disabled", &[(guard::NO_HANDLER_ENV, "0")]);
}

#[test]
fn a_sent_sigbus_goes_to_the_previous_handler_and_errno_survives() {
    assert_done("errno", &[]);
}

/// A 1 MB log in `dir`.
fn write_log(dir: &Path, name: &str) -> PathBuf {
    let payloads: Vec<Vec<u8>> = (0..3_000).map(|i| k8s_payload(i, 300)).collect();
    let bytes = build_log(payloads.iter().enumerate().map(|(i, p)| (i as u64, &p[..])));
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn mapped_options() -> OpenOptions {
    OpenOptions {
        min_map_len: 1,
        ..OpenOptions::default()
    }
}

/// The record count a verify finds (the same whether mapped or read).
fn records(log: &Log) -> u64 {
    log.verify(&VerifyOptions::default())
        .unwrap()
        .summary
        .records
}

/// Installs a handler of the program's own for SIGBUS (as a JVM or a crash
/// reporter would).
fn install_handler(handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed `sigaction` is valid; the handler has the plain
    // (non-SA_SIGINFO) signature.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// The process's SIGBUS handler now.
fn current_handler() -> usize {
    // SAFETY: a zeroed `sigaction` is a valid out-parameter.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries.
    unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut current) };
    current.sa_sigaction
}

extern "C" fn exit_3(_: libc::c_int) {
    // SAFETY: `_exit` is async-signal-safe.
    unsafe { libc::_exit(3) };
}

/// The child's entry point: runs the case named by `PLOG_GUARD_CASE`
/// (nothing when it is not set, so `cargo test -- --ignored` passes over
/// it).
#[test]
#[ignore = "the child process of the tests above"]
fn child() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let path = write_log(&dir, "a.plog");
    let expected = records(&Log::from_bytes(std::fs::read(&path).unwrap()));
    match case.as_str() {
        "kill" | "raise" => {
            let log = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(log.is_mapped() && guard::is_active());
            assert_eq!(records(&log), expected);
            // SAFETY: sending a signal to this process; its action is the
            // subject of the test.
            unsafe {
                if case == "kill" {
                    libc::kill(libc::getpid(), libc::SIGBUS);
                } else {
                    libc::raise(libc::SIGBUS);
                }
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
            println!("survived");
        }
        "foreign_fault" => {
            let log = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(log.is_mapped() && guard::is_active());
            // A mapping of the program's own, not registered with plog.
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: the test truncates the file and touches the vanished
            // page on purpose: the process must die of SIGBUS.
            let map = unsafe { memmap2::Mmap::map(&file).unwrap() };
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(0)
                .unwrap();
            let last = map.len() - 1;
            // SAFETY: in bounds of the mapping; the read faults.
            let byte = unsafe { std::ptr::read_volatile(map.as_ptr().add(last)) };
            println!("survived with {byte}");
        }
        "full_table" => {
            let logs: Vec<Log> = (0..guard::SLOTS)
                .map(|_| Log::open_with(&path, &mapped_options()).unwrap())
                .collect();
            assert!(logs.iter().all(Log::is_mapped));
            let read = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(!read.is_mapped(), "the table is full: the file is read");
            assert!(read.in_memory().is_none(), "in windows, not held whole");
            assert_eq!(records(&read), expected);
            drop(logs);
            let mapped = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(mapped.is_mapped(), "slots are free again");
        }
        "replaced" => {
            let log = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(log.is_mapped() && guard::is_active());
            install_handler(exit_3);
            assert!(!guard::is_active());
            let read = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(
                !read.is_mapped(),
                "plog's handler is gone: the file is read"
            );
            assert_eq!(records(&read), expected);
        }
        "disable" | "environment" => {
            let before = current_handler();
            if case == "disable" {
                guard::disable();
            }
            assert!(!guard::is_active());
            let log = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(!log.is_mapped(), "opted out: the file is read");
            assert!(log.in_memory().is_none(), "in windows, not held whole");
            assert_eq!(records(&log), expected);
            let mut events = 0u64;
            let _ = log
                .for_each_event(0, &Parallelism::Current, |_| {
                    events += 1;
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(events, expected);
            assert_eq!(current_handler(), before, "no handler was installed");
        }
        "not_disabled" => {
            let log = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(log.is_mapped() && guard::is_active());
        }
        "errno" => {
            // A handler of the program's, installed before plog's, that
            // changes errno: plog hands it the signal (not a fault on its
            // mappings) and puts errno back as the interrupted code left it.
            static CALLS: AtomicUsize = AtomicUsize::new(0);
            extern "C" fn clobber(_: libc::c_int) {
                CALLS.fetch_add(1, Ordering::SeqCst);
                // SAFETY: this thread's errno.
                unsafe { *libc::__errno_location() = libc::EINTR };
            }
            install_handler(clobber);
            let log = Log::open_with(&path, &mapped_options()).unwrap();
            assert!(log.is_mapped() && guard::is_active());
            // SAFETY: this thread's errno; then a signal to this thread,
            // handled before `raise` returns.
            let errno = unsafe {
                *libc::__errno_location() = 4242;
                libc::raise(libc::SIGBUS);
                *libc::__errno_location()
            };
            assert_eq!(CALLS.load(Ordering::SeqCst), 1, "the previous handler ran");
            assert_eq!(errno, 4242);
            assert!(guard::is_active(), "plog's handler is still installed");
        }
        other => panic!("unknown case {other}"),
    }
    println!("{DONE}");
}
