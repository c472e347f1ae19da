//! Benchmarks live in benches/benches/; this library holds what more than
//! one of them (or the benches' examples) uses.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use plog_format::MAGIC;

/// The value of environment variable `name` as a number, or `default` when
/// it is unset or not a number.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A rayon pool of `threads` threads.
///
/// # Panics
/// When the pool cannot be built.
pub fn pool(threads: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("build a rayon pool"),
    )
}

/// engenho-store's replay loop, the baseline: `read_exact` of the magic then
/// of every header field from an unbuffered `File`, a `Vec` per payload,
/// BLAKE3 of each payload compared with the stored hash, and `decode` of
/// each, pushed into a `Vec`, on one thread.
///
/// # Panics
/// On any I/O error but the end of the file, a bad magic or a hash
/// mismatch (benchmark logs are clean).
pub fn naive_read<T>(path: &Path, mut decode: impl FnMut(&[u8]) -> T) -> Vec<(u64, T)> {
    let mut file = File::open(path).expect("open the log");
    let mut magic = [0u8; 26];
    file.read_exact(&mut magic).expect("read the magic");
    assert_eq!(magic, MAGIC);
    let mut out = Vec::new();
    loop {
        let mut index = [0u8; 8];
        if file.read_exact(&mut index).is_err() {
            break;
        }
        let mut len = [0u8; 8];
        file.read_exact(&mut len).expect("read a length");
        let mut hash = [0u8; 32];
        file.read_exact(&mut hash).expect("read a hash");
        let mut payload = vec![0u8; u64::from_le_bytes(len) as usize];
        file.read_exact(&mut payload).expect("read a payload");
        assert_eq!(blake3::hash(&payload).as_bytes(), &hash, "hash mismatch");
        out.push((u64::from_le_bytes(index), decode(&payload)));
    }
    out
}

/// Median time per iteration (ns) of benchmark `group/name`, from the
/// estimates criterion wrote under `out` during this run (the median resists
/// the bursts of a shared machine better than the mean). `None` when the
/// benchmark did not run since `since`: a filtered-out or skipped benchmark
/// keeps an older run's file, whose figure must not be mixed with this
/// run's.
pub fn median_ns(out: &Path, since: SystemTime, group: &str, name: &str) -> Option<f64> {
    let path = out.join(group).join(name).join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// The start of a bench that prints its own table of ratios: criterion
/// configured from the command line and writing under the workspace's
/// `target/criterion` (returned, for [`median_ns`]), and the time the run
/// started (what [`median_ns`] needs to ignore older runs' figures).
pub fn criterion_run() -> (criterion::Criterion, PathBuf, SystemTime) {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion");
    let criterion = criterion::Criterion::default()
        .output_directory(&out)
        .configure_from_args();
    (criterion, out, SystemTime::now())
}

/// Prints one line of a bench's closing table of ratios: `label`, the ratio
/// (`n/a` when a benchmark it needs did not run in this run) and its target.
pub fn print_ratio(label: &str, value: Option<f64>, target: &str) {
    match value {
        Some(v) => println!("{label:<72} {v:>8.2}   (target {target})"),
        None => println!("{label:<72} {:>8}   (target {target})", "n/a"),
    }
}

/// `a / b` when both were measured: how many times faster `b` is.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

/// Streams every entry of the log at `path` from `from_index` (all when
/// `None`) through plog-mmap's `replay_each` on `pool`, decoding each as
/// `T` and dropping it in the callback; returns how many entries it saw.
///
/// # Panics
/// When the log cannot be opened or replayed (benchmark logs are clean).
pub fn stream_replay<T: serde::de::DeserializeOwned + Send>(
    path: &Path,
    pool: &Arc<rayon::ThreadPool>,
    from_index: Option<u64>,
) -> u64 {
    use std::ops::ControlFlow;
    use std::sync::atomic::{AtomicU64, Ordering};

    use plog_mmap::{Log, Parallelism, ReplayOptions, VerifyOptions};

    let seen = AtomicU64::new(0);
    let options = ReplayOptions {
        verify: VerifyOptions {
            parallelism: Parallelism::Pool(pool.clone()),
            ..VerifyOptions::default()
        },
        from_index,
        ..ReplayOptions::default()
    };
    Log::open(path)
        .expect("open the log")
        .replay_each::<T, _>(&options, |_index: u64, entry: T| {
            drop(entry);
            seen.fetch_add(1, Ordering::Relaxed);
            ControlFlow::Continue(())
        })
        .expect("replay the log");
    seen.into_inner()
}
