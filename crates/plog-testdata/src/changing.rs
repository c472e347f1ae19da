//! Changing a file underneath a reader, for the tests that check that no
//! reader of plog crashes when a file is truncated, extended or rewritten
//! while it reads it.

use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::SplitMix64;

/// What happens to the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileChange {
    /// `truncate -s N` to a random shorter length.
    Truncate,
    /// Up to 100,000 bytes appended (a live writer).
    Extend,
    /// Random bytes written over a random range (up to 1 MiB), the length
    /// unchanged.
    Rewrite,
    /// Cut to zero, then the same length of other bytes written (what `cp`
    /// over the file does).
    Replace,
}

impl FileChange {
    /// Every kind of change.
    pub const ALL: [FileChange; 4] = [
        FileChange::Truncate,
        FileChange::Extend,
        FileChange::Rewrite,
        FileChange::Replace,
    ];

    /// Applies the change to the file at `path`, whose length is `len`,
    /// drawing offsets and bytes from `rng`.
    ///
    /// # Errors
    /// When the file cannot be opened or written.
    pub fn apply(self, path: &Path, len: u64, rng: &mut SplitMix64) -> io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        match self {
            FileChange::Truncate => file.set_len(rng.below(len)),
            FileChange::Extend => {
                file.seek(SeekFrom::End(0))?;
                file.write_all(&vec![0x5a; 1 + rng.below(100_000) as usize])
            }
            FileChange::Rewrite => {
                let at = rng.below(len);
                let n = 1 + rng.below(len.saturating_sub(at).min(1 << 20));
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                file.seek(SeekFrom::Start(at))?;
                file.write_all(&bytes)
            }
            FileChange::Replace => {
                file.set_len(0)?;
                let bytes: Vec<u8> = (0..len).map(|i| (i as u8) ^ 0x33).collect();
                file.write_all(&bytes)
            }
        }
    }
}

/// Runs a randomized test with its seed: `PLOG_TEST_SEED` when set (to
/// replay a failure), else the clock. On failure the seed is printed, named
/// after `test`, and the panic goes on.
pub fn seeded(test: &str, run: impl FnOnce(u64) + std::panic::UnwindSafe) {
    let seed = seed_from_env_or_clock("PLOG_TEST_SEED");
    if let Err(panic) = std::panic::catch_unwind(|| run(seed)) {
        eprintln!("{test} failed with PLOG_TEST_SEED={seed}");
        std::panic::resume_unwind(panic);
    }
}

/// The seed of a randomised test: the environment variable `replay` when it
/// holds a number (to replay a failing run), else the clock's nanoseconds.
pub(crate) fn seed_from_env_or_clock(replay: &str) -> u64 {
    std::env::var(replay)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// Runs `pass` on this thread while another thread applies `change` to the
/// file at `path` (of length `len`) once `delay` has passed, drawing its
/// offsets and bytes from a generator seeded with `seed`. Returns the pass's
/// result and how long the pass ran after the change (after its start, when
/// it ended first).
///
/// # Panics
/// When the change cannot be applied (the test's own file is gone).
pub fn race_with_change<R>(
    path: &Path,
    len: u64,
    change: FileChange,
    delay: Duration,
    seed: u64,
    pass: impl FnOnce() -> R,
) -> (R, Duration) {
    let start = Instant::now();
    let got = std::thread::scope(|scope| {
        scope.spawn(move || {
            std::thread::sleep(delay);
            change
                .apply(path, len, &mut SplitMix64(seed))
                .expect("apply the change to the test's file");
        });
        pass()
    });
    (got, start.elapsed().saturating_sub(delay))
}

/// The number in the environment variable `name`, or `default` when it is
/// unset or not a number (the scale of the production-scale trials).
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
