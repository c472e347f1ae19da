// Child processes for the tests that need one: the crash test (killed with
// SIGKILL), a second process holding the lock, and the RLIMIT_FSIZE test (the
// limit is process-wide). The child is this test binary itself, re-executed
// to run only the ignored `child::entry` test with `PLOG_WRITER_CHILD` set.

use std::ffi::OsStr;
use std::io::{BufReader, Write};
use std::process::{Child, ChildStdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use plog_format::IndexOrder;
use plog_writer::{GroupCommit, SyncPolicy, Writer, WriterOptions};

const MODE_VAR: &str = "PLOG_WRITER_CHILD";
const PATH_VAR: &str = "PLOG_WRITER_CHILD_PATH";

/// A child running `mode` on the log at `path`, with stdin and stdout piped.
pub fn spawn(mode: &str, path: &std::path::Path) -> (Child, BufReader<ChildStdout>) {
    plog_testdata::spawn_child(
        "child::entry",
        [(MODE_VAR, OsStr::new(mode)), (PATH_VAR, path.as_os_str())],
        true,
    )
}

pub use plog_testdata::wait_for_line;

/// Not a test: the entry point of the child processes (ignored, so that it
/// only runs when a test re-executes this binary with `--ignored`).
#[test]
#[ignore = "entry point of child processes, run by the tests that need one"]
fn entry() {
    let Ok(mode) = std::env::var(MODE_VAR) else {
        return;
    };
    let path = std::path::PathBuf::from(std::env::var_os(PATH_VAR).unwrap());
    match mode.as_str() {
        "every" | "prealloc" | "batch" | "manual" | "group" => append_loop(&mode, &path),
        "hold_lock" => hold_lock(&path),
        #[cfg(unix)]
        umask if umask.starts_with("umask:") => {
            let mask = u32::from_str_radix(&umask["umask:".len()..], 8).unwrap();
            crate::modes::create_all(mask, &path);
        }
        #[cfg(unix)]
        "fsize" => crate::faults::fsize_child(&path),
        other => panic!("unknown child mode {other}"),
    }
}

fn ack(out: &mut impl Write, index: u64) {
    writeln!(out, "ack {index}").unwrap();
    out.flush().unwrap();
}

/// Appends until killed, printing `ack N` once the append of N returned.
fn append_loop(mode: &str, path: &std::path::Path) {
    let payload = |i: u64| plog_testdata::k8s_payload(i, 120 + (i % 7) as usize * 40);
    let mut out = std::io::stdout().lock();
    if mode == "group" {
        let options = WriterOptions {
            index_order: IndexOrder::Any,
            ..WriterOptions::default()
        };
        let (log, report) = GroupCommit::open(path, options).unwrap();
        let log = Arc::new(log);
        let next = Arc::new(AtomicU64::new(report.last_index.map_or(1, |i| i + 1)));
        writeln!(out, "ready").unwrap();
        out.flush().unwrap();
        drop(out);
        std::thread::scope(|s| {
            for _ in 0..4 {
                let (log, next) = (&log, &next);
                s.spawn(move || {
                    loop {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        log.append_raw(index, &payload(index)).unwrap();
                        ack(&mut std::io::stdout().lock(), index);
                    }
                });
            }
        });
        return;
    }
    let options = WriterOptions {
        index_order: IndexOrder::Contiguous,
        sync: if mode == "manual" {
            SyncPolicy::Manual
        } else {
            SyncPolicy::EveryAppend
        },
        // Small chunks, so that kills land around the growth of the zeros.
        preallocate: (mode == "prealloc").then_some(8 * 1024),
        ..WriterOptions::default()
    };
    let (mut writer, report) = Writer::open(path, options).unwrap();
    let mut next = report.last_index.map_or(1, |i| i + 1);
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let mut round = 0u64;
    loop {
        round += 1;
        match mode {
            "every" => {
                writer.append_raw(next, &payload(next)).unwrap();
                ack(&mut out, next);
                next += 1;
            }
            "batch" | "prealloc" => {
                // Over preallocated zeros, batches of up to 16 KiB: a kill
                // between two pages of one pwrite leaves a record cut there.
                let count = if mode == "prealloc" {
                    1 + round % 80
                } else {
                    1 + round % 17
                };
                let payloads: Vec<Vec<u8>> = (next..next + count).map(payload).collect();
                writer
                    .append_batch_raw((next..).zip(payloads.iter().map(Vec::as_slice)))
                    .unwrap();
                for index in next..next + count {
                    ack(&mut out, index);
                }
                next += count;
            }
            _ => {
                // Manual: many appends, then one sync acknowledges them all.
                let count = 1 + (round * 337) % 4000;
                for index in next..next + count {
                    writer.append_raw(index, &payload(index)).unwrap();
                }
                writer.sync().unwrap();
                for index in next..next + count {
                    ack(&mut out, index);
                }
                next += count;
            }
        }
    }
}

/// Holds the writer lock until stdin closes.
fn hold_lock(path: &std::path::Path) {
    let (_writer, _) = Writer::open(path, WriterOptions::default()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "locked").unwrap();
    out.flush().unwrap();
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).unwrap() > 0 {}
}
