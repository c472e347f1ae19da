//! The ceiling of `plog verify` against `b3sum` on one log, on one thread:
//! what each part of a verification costs next to BLAKE3 over the same
//! bytes end to end (what `b3sum` runs), in the same process and the same
//! rounds, the file read into memory once.
//!
//! - `b3sum kernel`: one `blake3::Hasher::update` over the whole file (the
//!   crate's own AVX-512/AVX2 assembly, what `b3sum` spends 80 % of its CPU
//!   in);
//! - `walk`: plog's structural walk (`plog_format::Walker`), the records
//!   pushed into batches of 256 KiB of payload as plog-mmap cuts them, no
//!   hashing;
//! - `lanes`: the hashes of those batches' records checked by plog-hash
//!   (`hash_mismatches_into`, the lanes of the default backend), the walk
//!   done beforehand;
//! - `walk + lanes`: each batch walked then hashed at once, the least one
//!   thread of `plog verify` can do;
//! - `walk, read-ahead` and `walk r-a + lanes`: the same with plog-mmap's
//!   read-ahead (every line asked for 8 KiB ahead of the walk);
//! - `walk r-a in lanes, N`: the next batch walked (with read-ahead) in N
//!   slices between N slices of the current batch's lanes, so that the
//!   walk's stream overlaps the compressions;
//! - `b3sum kernel, in cache` and `lanes, in cache`: the same over the
//!   first four batches (about 1 MiB), again and again, so that memory
//!   plays no part: the kernels alone;
//! - `one by one`: `blake3::hash` of each payload (engenho-store's way);
//! - last, the two "in cache" parts again as the fastest of many single
//!   passes (a fraction of a millisecond each, alternating): the figure
//!   least moved by other work on a shared machine.
//!
//! Each figure is the fastest of the rounds; the order of the parts turns
//! every round. Also prints the compressions each way needs: plog's format
//! hashes every payload as its own BLAKE3 input (a partial last block per
//! payload, a tree per payload over 1 KiB), `b3sum` the file as one input.
//!
//! ```text
//! cargo run --release -p plog-testdata --example make_engenho -- /tmp/e.plog 200000
//! cargo run --release -p plog-benches --example verify_ceiling -- /tmp/e.plog [ROUNDS]
//! ```
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use plog_format::{Record, Step, Walker};

/// plog-mmap's batch size (`BATCH_COST`) and per-record cost (`RECORD_COST`).
const BATCH_COST: usize = 256 * 1024;
const RECORD_COST: usize = 128;
/// Batches hashed again and again for the figures "in cache" (about 1 MiB:
/// within this machine's L2 cache), and how many times.
const HOT_BATCHES: usize = 4;
const HOT_REPEAT: usize = 64;

/// Cuts the walk into batches as plog-mmap's `cut_batch` does, handing
/// each batch's records to `batch`.
fn walk_batches<'a>(bytes: &'a [u8], batch: impl FnMut(&[Record<'a>])) -> usize {
    cut_batches(Walker::new(bytes), batch)
}

/// [`walk_batches`] with plog-mmap's read-ahead: every cache line asked for
/// 8 KiB ahead of the walk (`read_ahead.rs`), so that the walk's loads hit
/// the cache and the file streams from memory ahead of it.
fn walk_batches_read_ahead<'a>(bytes: &'a [u8], batch: impl FnMut(&[Record<'a>])) -> usize {
    let mut walker = Walker::new(bytes);
    let mut asked_to = 0usize;
    let steps = std::iter::from_fn(move || {
        let step = walker.next()?;
        let target = (walker.offset() as usize + READ_AHEAD).min(bytes.len());
        let mut line = asked_to.max(target.saturating_sub(64 * 64));
        while line < target {
            prefetch(&bytes[line]);
            line += 64;
        }
        asked_to = asked_to.max(target);
        Some(step)
    });
    cut_batches(steps, batch)
}

const READ_AHEAD: usize = 8 * 1024;

#[allow(unsafe_code)]
fn prefetch(byte: &u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that reads nothing into a register and
    // never faults; the address is a borrowed byte's anyway. SSE is part
    // of x86-64.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            (byte as *const u8).cast(),
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    black_box(*byte);
}

/// The walk with read-ahead interleaved with the lanes on one thread: while
/// batch k is hashed, in `parts` slices, batch k + 1 is walked a slice of
/// its cost after each, so that the walk's stream from memory overlaps the
/// compressions instead of coming before them.
fn walk_interleaved<'a>(
    bytes: &'a [u8],
    parts: usize,
    mismatches: &mut Vec<(usize, plog_format::Corruption)>,
) -> usize {
    let mut walker = Walker::new(bytes);
    let mut asked_to = 0usize;
    let mut steps = std::iter::from_fn(move || {
        let step = walker.next()?;
        let target = (walker.offset() as usize + READ_AHEAD).min(bytes.len());
        let mut line = asked_to.max(target.saturating_sub(64 * 64));
        while line < target {
            prefetch(&bytes[line]);
            line += 64;
        }
        asked_to = asked_to.max(target);
        Some(step)
    });
    // Walks into `into` until its cost reaches `to`; false at the end.
    let mut walk_to = |into: &mut Vec<Record<'a>>, cost: &mut usize, to: usize| -> bool {
        while *cost < to {
            match steps.next() {
                Some(Step::Record(record)) => {
                    *cost += RECORD_COST + record.payload().len();
                    into.push(record);
                }
                Some(_) => *cost += RECORD_COST,
                None => return false,
            }
        }
        true
    };
    let mut current = Vec::with_capacity(4096);
    let mut next = Vec::with_capacity(4096);
    let mut cost = 0;
    let mut more = walk_to(&mut current, &mut cost, BATCH_COST);
    let mut count = 0;
    while !current.is_empty() {
        cost = 0;
        let n = current.len();
        for p in 0..parts {
            plog_hash::hash_mismatches_into(
                &current[p * n / parts..(p + 1) * n / parts],
                mismatches,
            );
            if more {
                more = walk_to(&mut next, &mut cost, (p + 1) * BATCH_COST / parts);
            }
        }
        count += n;
        std::mem::swap(&mut current, &mut next);
        next.clear();
    }
    count
}

/// Cuts `steps` into batches as plog-mmap's `cut_batch` does.
fn cut_batches<'a>(
    steps: impl Iterator<Item = Step<'a>>,
    mut batch: impl FnMut(&[Record<'a>]),
) -> usize {
    let mut records: Vec<Record<'a>> = Vec::with_capacity(4096);
    let mut cost = 0usize;
    let mut count = 0;
    for step in steps {
        if let Step::Record(record) = step {
            cost += RECORD_COST + record.payload().len();
            records.push(record);
            count += 1;
        }
        if cost >= BATCH_COST {
            batch(&records);
            records.clear();
            cost = 0;
        }
    }
    if !records.is_empty() {
        batch(&records);
    }
    count
}

/// BLAKE3's compressions for one input of `len` bytes: one per started
/// block of each 1 KiB chunk (at least one), plus a parent per chunk but one.
fn compressions(len: usize) -> usize {
    let chunks = len.div_ceil(1024).max(1);
    let full = len / 1024;
    let rest = len % 1024;
    let mut blocks = full * 16;
    if rest > 0 || len == 0 {
        blocks += rest.div_ceil(64).max(1);
    }
    blocks + chunks - 1
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: verify_ceiling LOG [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args
        .next()
        .and_then(|r| r.to_str()?.parse().ok())
        .unwrap_or(7);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        eprintln!(
            "verify_ceiling: cannot read {}: {e}",
            path.to_string_lossy()
        );
        std::process::exit(2);
    });
    println!(
        "backend {}, {} bytes, CPU {}",
        plog_hash::default_backend(),
        bytes.len(),
        cpu_model()
    );

    // The batches, walked once, for the lanes alone.
    let mut batches: Vec<Vec<Record<'_>>> = Vec::new();
    let records = walk_batches(&bytes, |batch| batches.push(batch.to_vec()));
    let payload: usize = batches.iter().flatten().map(|r| r.payload().len()).sum();
    let plog_compressions: usize = batches
        .iter()
        .flatten()
        .map(|r| compressions(r.payload().len()))
        .sum();
    println!(
        "{records} records in {} batches, {payload} payload bytes ({} a record)",
        batches.len(),
        payload / records.max(1)
    );
    println!(
        "compressions: plog (each payload its own input) {plog_compressions} = {:.2} a record; \
         b3sum (the file as one input) {} ({:.3} of plog's)",
        plog_compressions as f64 / records.max(1) as f64,
        compressions(bytes.len()),
        compressions(bytes.len()) as f64 / plog_compressions as f64
    );

    // The first batches (about 1 MiB of the file), for the lanes against
    // the b3sum kernel with every byte in the caches.
    let hot = &batches[..batches.len().min(HOT_BATCHES)];
    let hot_bytes = match (
        hot.first().and_then(|b| b.first()),
        hot.last().and_then(|b| b.last()),
    ) {
        (Some(first), Some(last)) => bytes
            .get(first.offset() as usize..last.end_offset() as usize)
            .unwrap_or_default(),
        _ => &[],
    };

    type Part<'p> = (&'static str, Box<dyn Fn() -> usize + 'p>);
    let parts: Vec<Part<'_>> = vec![
        (
            "b3sum kernel",
            Box::new(|| {
                let mut hasher = blake3::Hasher::new();
                hasher.update(&bytes);
                usize::from(hasher.finalize().as_bytes()[0])
            }),
        ),
        (
            "walk",
            Box::new(|| {
                walk_batches(&bytes, |batch| {
                    black_box(batch.len());
                })
            }),
        ),
        (
            "walk, read-ahead",
            Box::new(|| {
                walk_batches_read_ahead(&bytes, |batch| {
                    black_box(batch.len());
                })
            }),
        ),
        (
            "lanes",
            Box::new(|| {
                let mut mismatches = Vec::new();
                for batch in &batches {
                    plog_hash::hash_mismatches_into(batch, &mut mismatches);
                }
                mismatches.len()
            }),
        ),
        (
            "walk + lanes",
            Box::new(|| {
                let mut mismatches = Vec::new();
                walk_batches(&bytes, |batch| {
                    plog_hash::hash_mismatches_into(batch, &mut mismatches)
                });
                mismatches.len()
            }),
        ),
        (
            "walk r-a + lanes",
            Box::new(|| {
                let mut mismatches = Vec::new();
                walk_batches_read_ahead(&bytes, |batch| {
                    plog_hash::hash_mismatches_into(batch, &mut mismatches)
                });
                mismatches.len()
            }),
        ),
        (
            "walk r-a in lanes, 4",
            Box::new(|| {
                let mut mismatches = Vec::new();
                walk_interleaved(&bytes, 4, &mut mismatches);
                mismatches.len()
            }),
        ),
        (
            "walk r-a in lanes, 16",
            Box::new(|| {
                let mut mismatches = Vec::new();
                walk_interleaved(&bytes, 16, &mut mismatches);
                mismatches.len()
            }),
        ),
        (
            "b3sum kernel, in cache",
            Box::new(|| {
                let mut x = 0;
                for _ in 0..HOT_REPEAT {
                    let mut hasher = blake3::Hasher::new();
                    hasher.update(hot_bytes);
                    x ^= usize::from(hasher.finalize().as_bytes()[0]);
                }
                x
            }),
        ),
        (
            "lanes, in cache",
            Box::new(|| {
                let mut mismatches = Vec::new();
                for _ in 0..HOT_REPEAT {
                    for batch in hot {
                        plog_hash::hash_mismatches_into(batch, &mut mismatches);
                    }
                }
                mismatches.len()
            }),
        ),
        (
            "one by one",
            Box::new(|| {
                batches
                    .iter()
                    .flatten()
                    .filter(|r| r.verify().is_err())
                    .count()
            }),
        ),
    ];
    let mut best = vec![Duration::MAX; parts.len()];
    for round in 0..rounds {
        for k in 0..parts.len() {
            let i = (k + round) % parts.len();
            let start = Instant::now();
            black_box(parts[i].1());
            best[i] = best[i].min(start.elapsed());
        }
    }
    let base = best[0].as_secs_f64();
    println!(
        "fastest of {rounds} rounds, one thread (\"in cache\": the first {} bytes, {HOT_REPEAT} times, \
         against the b3sum kernel over them):",
        hot_bytes.len()
    );
    for ((name, _), time) in parts.iter().zip(&best) {
        if name.ends_with("in cache") {
            let hot_base = parts
                .iter()
                .zip(&best)
                .find(|((name, _), _)| *name == "b3sum kernel, in cache")
                .map_or(f64::NAN, |(_, time)| time.as_secs_f64());
            println!(
                "  {name:<22} {:>9.1} ms  {:>5.2} of the b3sum kernel in cache",
                time.as_secs_f64() * 1e3,
                time.as_secs_f64() / hot_base
            );
            continue;
        }
        println!(
            "  {name:<22} {:>9.1} ms  {:>5.2} of the b3sum kernel  {:>6.2} GB/s of file",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() / base,
            bytes.len() as f64 / time.as_secs_f64() / 1e9
        );
    }
    let passes = HOT_REPEAT * rounds * 4;
    let (kernel, lanes) = hot_single_passes(hot, hot_bytes, passes);
    println!(
        "in cache, fastest single pass of {passes}: b3sum kernel {:.1} us, lanes {:.1} us: \
         lanes {:.3} of the b3sum kernel in cache",
        kernel * 1e6,
        lanes * 1e6,
        lanes / kernel
    );
}

/// The lanes against the b3sum kernel over the same first batches (about
/// 1 MiB, in the caches), each timed in single passes, alternately, and the
/// fastest pass of each kept: a pass takes a fraction of a millisecond, so
/// that most passes run without being interrupted by other work on a shared
/// machine (the figures "in cache" above time 64 passes at once, which
/// other processes often interrupt).
fn hot_single_passes(hot: &[Vec<Record<'_>>], hot_bytes: &[u8], passes: usize) -> (f64, f64) {
    let mut kernel = f64::MAX;
    let mut lanes = f64::MAX;
    let mut mismatches = Vec::new();
    for _ in 0..passes {
        let start = Instant::now();
        let mut hasher = blake3::Hasher::new();
        hasher.update(hot_bytes);
        black_box(hasher.finalize());
        kernel = kernel.min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for batch in hot {
            plog_hash::hash_mismatches_into(batch, &mut mismatches);
        }
        lanes = lanes.min(start.elapsed().as_secs_f64());
        black_box(mismatches.len());
    }
    (kernel, lanes)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
