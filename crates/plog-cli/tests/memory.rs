//! Bounded memory at any size (issue #20): the real `plog` binary's peak
//! resident memory on an engenho-shaped log and on one ten times larger must
//! not grow with the file, for every command that reads a whole log. A
//! command that read the file into memory (as `repair` and `--salvage`
//! once did) grows by the difference of the sizes and fails here.
//!
//! Peak memory is the child's own `ru_maxrss` (`wait4`), so the other tests
//! running meanwhile do not count.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `plog ARGS` to its end (standard input read from `stdin`, when
/// given); its exit status and peak resident memory in bytes.
fn peak_rss(args: &[&std::ffi::OsStr], stdin: Option<&Path>) -> (i32, u64) {
    let stdin = match stdin {
        Some(path) => Stdio::from(std::fs::File::open(path).unwrap()),
        None => Stdio::null(),
    };
    let child = Command::new(env!("CARGO_BIN_EXE_plog"))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status: libc::c_int = 0;
    // SAFETY: all-zero bytes are a valid `rusage` (integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not waited for yet (`child` is never
    // waited on; dropping it does not wait); `status` and `usage` are
    // valid, writable and live across the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    assert!(libc::WIFEXITED(status), "plog {args:?} died: {status:#x}");
    let kib = u64::try_from(usage.ru_maxrss).unwrap();
    (libc::WEXITSTATUS(status), kib * 1024)
}

/// Peaks of every whole-log command on the engenho-shaped log of `records`
/// records written in `dir`.
fn peaks(dir: &Path, records: u64) -> (u64, Vec<(String, u64)>) {
    // Written and damaged in place, streamed: this process must stay small,
    // because a child's `ru_maxrss` starts from the spawning process's
    // (the child shares its memory until `exec`).
    let log = dir.join(format!("e{records}.plog"));
    let len = plog_testdata::write_engenho_log_file(&log, 1, records).unwrap();
    // One damaged record in the middle, for --salvage.
    let damaged = dir.join(format!("damaged{records}.plog"));
    std::fs::copy(&log, &damaged).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&damaged)
        .unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, len / 2).unwrap();
    file.write_all_at(&[byte[0] ^ 0x55], len / 2).unwrap();
    // A torn tail, for --backup.
    let torn = dir.join(format!("torn{records}.plog"));
    std::fs::copy(&log, &torn).unwrap();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&torn)
        .unwrap();
    std::io::Write::write_all(&mut &file, &[9; 30]).unwrap();
    let backup = dir.join(format!("cut{records}.bin"));
    let salvaged = dir.join(format!("salvaged{records}.plog"));
    let runs: [(&str, Vec<&std::ffi::OsStr>, i32); 7] = [
        ("verify", vec!["verify".as_ref(), log.as_os_str()], 0),
        ("verify -", vec!["verify".as_ref(), "-".as_ref()], 0),
        (
            "dump --json",
            vec!["dump".as_ref(), "--json".as_ref(), log.as_os_str()],
            0,
        ),
        ("stat", vec!["stat".as_ref(), log.as_os_str()], 0),
        (
            "repair --dry-run",
            vec!["repair".as_ref(), "--dry-run".as_ref(), torn.as_os_str()],
            0,
        ),
        (
            "repair --backup",
            vec![
                "repair".as_ref(),
                "--backup".as_ref(),
                backup.as_os_str(),
                torn.as_os_str(),
            ],
            0,
        ),
        (
            "repair --salvage",
            vec![
                "repair".as_ref(),
                "--salvage".as_ref(),
                salvaged.as_os_str(),
                damaged.as_os_str(),
            ],
            0,
        ),
    ];
    let peaks = runs
        .into_iter()
        .map(|(name, args, want)| {
            let stdin = args
                .last()
                .is_some_and(|a| *a == "-")
                .then_some(log.as_path());
            let (code, peak) = peak_rss(&args, stdin);
            assert_eq!(code, want, "plog {name} on {records} records");
            (name.to_string(), peak)
        })
        .collect();
    assert_eq!(std::fs::metadata(&backup).unwrap().len(), 30);
    (len, peaks)
}

#[test]
fn peak_memory_does_not_grow_with_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (small_len, small) = peaks(dir.path(), 10_000);
    let (large_len, large) = peaks(dir.path(), 40_000);
    let grown = large_len - small_len;
    assert!(grown > 40 << 20, "the large log is {large_len} bytes");
    for ((name, small_peak), (_, large_peak)) in small.iter().zip(&large) {
        let growth = large_peak.saturating_sub(*small_peak);
        eprintln!("plog {name}: {small_peak} bytes on {small_len}, {large_peak} on {large_len}");
        // Reading the file into memory would add all of `grown`; mapping it
        // without releasing the pages behind the pass, nearly as much.
        assert!(
            growth < grown / 3,
            "plog {name}: peak memory grew by {growth} bytes ({small_peak} -> {large_peak}) \
             when the log grew by {grown} bytes"
        );
    }
}
