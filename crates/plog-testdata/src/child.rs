//! Child processes for the crash tests of plog-writer and plog-raft: the
//! test binary itself, re-executed to run only one ignored test (the child's
//! entry point) with environment variables saying what to do, its standard
//! output read back line by line; and the seed of a randomised crash test.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Starts this test binary again, running only the ignored test `entry`
/// (its path in the binary, e.g. `"child::entry"`) on one thread, with
/// `envs` set, standard input piped when `stdin` is true (else empty),
/// standard output piped back and standard error shared.
///
/// # Panics
/// When the binary cannot be found or started (a test helper: the test
/// fails, saying why).
pub fn spawn_child<K, V>(
    entry: &str,
    envs: impl IntoIterator<Item = (K, V)>,
    stdin: bool,
) -> (Child, BufReader<ChildStdout>)
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    let binary = std::env::current_exe().expect("the path of this test binary");
    let mut child = Command::new(binary)
        .args(["--exact", entry, "--ignored", "--nocapture"])
        .args(["--test-threads", "1", "-q"])
        .envs(envs)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child process");
    let stdout = child.stdout.take().expect("the child's piped stdout");
    (child, BufReader::new(stdout))
}

/// Reads the child's lines until one equals `line`.
///
/// # Panics
/// When the child's output ends first, or cannot be read.
pub fn wait_for_line(stdout: &mut BufReader<ChildStdout>, line: &str) {
    let mut buf = String::new();
    loop {
        buf.clear();
        let n = stdout.read_line(&mut buf).expect("read the child's output");
        assert!(n > 0, "the child ended before printing {line:?}");
        if buf.trim_end() == line {
            return;
        }
    }
}

/// The seed of a randomised crash test: the environment variable `replay`
/// when set (to replay a failing run), else one from the clock. Printed to
/// standard error either way, with the variable that replays it.
pub fn crash_seed(replay: &str) -> u64 {
    let seed = crate::changing::seed_from_env_or_clock(replay);
    eprintln!("crash test seed: {seed} (set {replay} to replay)");
    seed
}
