//! The real `plog` binary reading a file that another process truncates,
//! extends or rewrites at a random moment: no signal, no panic; each command
//! ends in its normal result or in the "changed while it was read" error
//! (exit status 2). The seed is printed on failure; `PLOG_TEST_SEED`
//! replays one.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plog_testdata::{FileChange, SplitMix64, build_log, k8s_payload, seeded};

/// The commands under test (with `--follow`, the command is stopped after
/// the change: it must still be alive, or have ended on the error).
/// `repair` takes the writer's lock and walks the log mapped; `append`
/// (with nothing to append) opens the writer, which verifies the whole log.
const COMMANDS: [&[&str]; 8] = [
    &["verify"],
    &["verify", "--json"],
    &["dump", "--json"],
    &["dump", "--no-verify"],
    &["stat"],
    &["dump", "--follow"],
    &["repair"],
    &["append"],
];

#[test]
fn commands_survive_a_file_changing_underneath() {
    seeded("commands_survive_a_file_changing_underneath", trials);
}

fn trials(seed: u64) {
    let mut rng = SplitMix64(seed);
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
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(0), "{args:?} on the unchanged file");
            start.elapsed()
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for trial in 0..128 {
        let which = trial % COMMANDS.len();
        let args = COMMANDS[which];
        let change = FileChange::ALL[(trial / COMMANDS.len()) % FileChange::ALL.len()];
        std::fs::write(&path, &original).unwrap();
        let delay = Duration::from_nanos(rng.below(took[which].as_nanos() as u64 + 1));
        let mut child = Command::new(binary)
            .args(args)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        change
            .apply(&path, len, &mut SplitMix64(rng.next_u64()))
            .unwrap();
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
        if matches!(change, FileChange::Extend) && !follow {
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
