//! The real `plog` binary reading a file that another process truncates,
//! extends or rewrites at a random moment: no signal, no panic; each command
//! ends in its normal result or in the "changed while it was read" error
//! (exit status 2). The seed is printed on failure; `PLOG_CHANGING_SEED`
//! replays one.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plog_testdata::{build_log, k8s_payload};

/// The commands under test (with `--follow`, the command is stopped after
/// the change: it must still be alive, or have ended on the error).
const COMMANDS: [&[&str]; 6] = [
    &["verify"],
    &["verify", "--json"],
    &["dump", "--json"],
    &["dump", "--no-verify"],
    &["stat"],
    &["dump", "--follow"],
];

#[derive(Clone, Copy, Debug)]
enum Change {
    Truncate,
    Extend,
    Rewrite,
    Replace,
}

const CHANGES: [Change; 4] = [
    Change::Truncate,
    Change::Extend,
    Change::Rewrite,
    Change::Replace,
];

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn change_file(path: &Path, change: Change, len: u64, rng: &mut Rng) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    match change {
        Change::Truncate => file.set_len(rng.below(len)).unwrap(),
        Change::Extend => {
            file.seek(SeekFrom::End(0)).unwrap();
            file.write_all(&vec![0x5a; 1 + rng.below(100_000) as usize])
                .unwrap();
        }
        Change::Rewrite => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(1 << 20));
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            file.seek(SeekFrom::Start(at)).unwrap();
            file.write_all(&bytes).unwrap();
        }
        Change::Replace => {
            file.set_len(0).unwrap();
            let bytes: Vec<u8> = (0..len).map(|i| (i as u8) ^ 0x33).collect();
            file.write_all(&bytes).unwrap();
        }
    }
}

#[test]
fn commands_survive_a_file_changing_underneath() {
    let seed = std::env::var("PLOG_CHANGING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let result = std::panic::catch_unwind(|| trials(seed));
    if let Err(panic) = result {
        eprintln!(
            "commands_survive_a_file_changing_underneath failed with PLOG_CHANGING_SEED={seed}"
        );
        std::panic::resume_unwind(panic);
    }
}

fn trials(seed: u64) {
    let mut rng = Rng(seed);
    let binary = env!("CARGO_BIN_EXE_plog");
    let payloads: Vec<Vec<u8>> = (0..6_000u64).map(|i| k8s_payload(i, 300)).collect();
    let original = build_log(payloads.iter().enumerate().map(|(i, p)| (i as u64, &p[..])));
    let len = original.len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changing.plog");
    // How long each command takes on the unchanged file.
    let took: Vec<Duration> = COMMANDS
        .iter()
        .map(|args| {
            std::fs::write(&path, &original).unwrap();
            if args.contains(&"--follow") {
                return Duration::from_millis(300);
            }
            let start = Instant::now();
            let status = Command::new(binary)
                .args(*args)
                .arg(&path)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(0), "{args:?} on the unchanged file");
            start.elapsed()
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for trial in 0..120 {
        let which = trial % COMMANDS.len();
        let args = COMMANDS[which];
        let change = CHANGES[(trial / COMMANDS.len()) % CHANGES.len()];
        std::fs::write(&path, &original).unwrap();
        let delay = Duration::from_nanos(rng.below(took[which].as_nanos() as u64 + 1));
        let mut child = Command::new(binary)
            .args(args)
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        change_file(&path, change, len, &mut Rng(rng.next()));
        let follow = args.contains(&"--follow");
        if follow {
            // A follower keeps polling: give it time to see the change.
            std::thread::sleep(Duration::from_millis(400));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
            }
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let what = format!(
            "trial {trial}: plog {} with {change:?} after {delay:?}: {:?}, stderr {stderr}",
            args.join(" "),
            output.status
        );
        assert!(!stderr.contains("panicked"), "{what}");
        let code = match output.status.code() {
            Some(code) => code,
            // Only the test's own kill of a follower that is still running.
            None => {
                assert!(
                    follow && output.status.signal() == Some(9),
                    "killed by a signal: {what}"
                );
                -1
            }
        };
        assert!((-1..=3).contains(&code), "{what}");
        let changed = stderr.contains("changed while it was read");
        if changed {
            assert_eq!(code, 2, "{what}");
        }
        if matches!(change, Change::Extend) && !follow {
            // Appended bytes lie past what was opened (the original's
            // result), or were there before the open (a torn tail of junk).
            assert!(code == 0 || code == 3, "{what}");
        }
        let kind = if changed {
            "changed"
        } else if code == -1 {
            "following"
        } else {
            "result"
        };
        *counts.entry((format!("{change:?}"), kind)).or_insert(0) += 1;
    }
    eprintln!("seed {seed}: {counts:?}");
    let changed: u32 = counts
        .iter()
        .filter(|((_, kind), _)| *kind == "changed")
        .map(|(_, n)| n)
        .sum();
    assert!(changed > 0, "no command saw the file change: {counts:?}");
}
