//! The real `plog` binary at the edges (issue #20): `dump` pays for what it
//! prints and has one meaning for its status, `dump --follow` ends when its
//! reader goes away, and what plog creates is private whatever the umask.

mod common;

use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{json_lines, plog, write_log};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A log of records 1..=5 whose record 3's payload is damaged.
fn damaged_log(path: &Path) {
    write_log(
        path,
        &[
            (1, b"{\"a\":1}"),
            (2, b"{\"a\":2}"),
            (3, b"{\"a\":3}"),
            (4, b"{\"a\":4}"),
            (5, b"{\"a\":5}"),
        ],
    );
    let mut bytes = std::fs::read(path).unwrap();
    let record_3_payload = 26 + 2 * (48 + 7) + 48;
    bytes[record_3_payload + 1] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn dump_exits_1_when_a_record_fails_its_hash_printed_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.plog");
    damaged_log(&path);
    for args in [&["dump", "--json"][..], &["dump", "--from", "2", "--json"]] {
        let out = plog().args(args).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: skipped, still 1");
        let indices: Vec<u64> = json_lines(&out.stdout)
            .iter()
            .map(|r| r["index"].as_u64().unwrap())
            .filter(|&i| i >= 2)
            .collect();
        assert_eq!(indices, [2, 4, 5], "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("skipped: hash mismatch"),
            "{args:?}: {stderr}"
        );
    }
    for args in [
        &["dump", "--no-verify", "--json"][..],
        &["dump", "--no-verify", "--from", "3", "--to", "3", "--json"],
    ] {
        let out = plog().args(args).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: printed, still 1");
        let invalid: Vec<u64> = json_lines(&out.stdout)
            .iter()
            .filter(|r| r["valid"] == false)
            .map(|r| r["index"].as_u64().unwrap())
            .collect();
        assert_eq!(invalid, [3], "{args:?}");
    }
}

#[test]
fn dump_does_not_hash_the_records_outside_from_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.plog");
    damaged_log(&path);
    // Record 3 is damaged, but outside the range: walked over by its header,
    // never hashed, so nothing is reported about it.
    for range in [["--from", "4"], ["--to", "2"]] {
        let out = plog().arg("dump").args(range).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{range:?}");
        assert!(
            out.stderr.is_empty(),
            "{range:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // An unordered log: a record past --to may be followed by one in range.
    write_log(&path, &[(5, b"{}"), (9, b"{}"), (1, b"{}"), (7, b"{}")]);
    let out = plog()
        .args(["dump", "--json", "--to", "5"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let indices: Vec<u64> = json_lines(&out.stdout)
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [5, 1]);
}

#[test]
fn dump_follow_ends_quietly_when_its_reader_goes_away_on_an_idle_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idle.plog");
    write_log(&path, &[(1, b"{}"), (2, b"{}")]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_plog"))
        .args(["dump", "--follow"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("index=1 "), "{line}");
    // As `| head -1` does: read one line, then close the pipe. The log
    // stays idle: nothing more is written that could find the pipe closed.
    drop(stdout);
    let closed = Instant::now();
    let status = exit_within(
        &mut child,
        Duration::from_secs(5),
        "dump --follow after its reader closed",
    );
    let took = closed.elapsed();
    assert_eq!(status.code(), Some(0), "quietly, status 0");
    assert!(took < Duration::from_secs(1), "took {took:?} to notice");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.is_empty(), "{stderr}");
}

/// `plog ARGS` run under `umask` (the shell sets it, then becomes plog).
fn plog_under_umask(umask: &str, args: &[&std::ffi::OsStr], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_plog"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn what_the_cli_creates_is_private_whatever_the_umask() {
    for umask in ["0022", "0000"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let log = root.join("x/y/y.plog");
        let out = plog_under_umask(umask, &["append".as_ref(), log.as_os_str()], b"{\"a\":1}\n");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(mode(&log), 0o600, "umask {umask}");
        assert_eq!(mode(&root.join("x")), 0o700, "umask {umask}");
        assert_eq!(mode(&root.join("x/y")), 0o700, "umask {umask}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("warning"),
            "a private log draws no warning"
        );

        // --backup's file and --salvage's log.
        let mut bytes = std::fs::read(&log).unwrap();
        bytes.extend_from_slice(&[7; 20]);
        std::fs::write(&log, &bytes).unwrap();
        let backup = root.join("cut.bin");
        let out = plog_under_umask(
            umask,
            &[
                "repair".as_ref(),
                "--backup".as_ref(),
                backup.as_os_str(),
                log.as_os_str(),
            ],
            b"",
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read(&backup).unwrap(), [7; 20]);
        assert_eq!(mode(&backup), 0o600, "umask {umask}");
        let salvaged = root.join("s/t/salvaged.plog");
        let out = plog_under_umask(
            umask,
            &[
                "repair".as_ref(),
                "--salvage".as_ref(),
                salvaged.as_os_str(),
                log.as_os_str(),
            ],
            b"",
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(mode(&salvaged), 0o600, "umask {umask}");
        assert_eq!(mode(&root.join("s/t")), 0o700, "umask {umask}");

        // A chosen mode is set exactly (the umask would have cut it).
        let shared = root.join("shared/z.plog");
        let out = plog_under_umask(
            umask,
            &[
                "append".as_ref(),
                "--mode".as_ref(),
                "0664".as_ref(),
                shared.as_os_str(),
            ],
            b"{}\n",
        );
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(mode(&shared), 0o664, "umask {umask}");
        assert_eq!(mode(&root.join("shared")), 0o775, "umask {umask}");
    }
}

#[test]
fn append_warns_once_about_a_log_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("open.plog");
    write_log(&log, &[(1, b"{}")]);
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = plog()
        .args(["append"])
        .arg(&log)
        .write_stdin("{}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "warned, not refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("warning").count(), 1, "{stderr}");
    assert!(
        stderr.contains("readable by others") && stderr.contains("0644"),
        "{stderr}"
    );
    assert_eq!(mode(&log), 0o644, "an existing log keeps its mode");
    let bad = plog()
        .args(["append", "--mode", "rw"])
        .arg(&log)
        .write_stdin("{}\n")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected an octal mode"));
}

/// `plog repair` of a named pipe ends at once with the error object (it
/// waited forever in the open-time scan).
#[test]
fn repair_of_a_named_pipe_ends_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.plog");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_plog"))
        .args(["repair", "--json"])
        .arg(&fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_within(
        &mut child,
        Duration::from_secs(10),
        "plog repair of a named pipe",
    );
    assert_eq!(status.code(), Some(2));
    let mut stdout = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines[0]["error"],
        "cannot open: expected a regular file, found a named pipe"
    );
}

/// Waits for `child` to exit, killing it and failing the test when it is
/// still running after `limit`.
fn exit_within(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
