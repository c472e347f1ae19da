//! Batch hashing benchmarks (plog-hash), each beside its baseline in the
//! same run, on one thread.
//!
//! ```text
//! cargo bench -p plog-benches --bench hash
//! ```
//!
//! Each group hashes one batch of payloads (about 256 KiB, the size of one
//! of plog-mmap's verification batches, or 1 MiB for the 64 KiB payloads):
//!
//! * `small`: 150-300 B payloads (uniform lengths);
//! * `1k`: 1 KiB payloads (exactly one chunk each);
//! * `engenho`: 100 B to 4.4 KB, median ~1.1 KB, p90 ~3.4 KB (the payload
//!   sizes of engenho-store logs);
//! * `64k`: 64 KiB payloads.
//!
//! In each group:
//!
//! * `blake3_loop` — the baseline: `blake3::hash` of each payload;
//! * `ceiling` — the physical limit: one `blake3::Hasher::update` over all
//!   the payloads' bytes laid end to end in one buffer (one thread). blake3
//!   then compresses 16 chunks side by side (AVX-512) or 8 (AVX2) with its
//!   own kernel, every block full and every lane busy: the fastest a kernel
//!   as wide as blake3's can go per byte on this CPU, so `ceiling` over
//!   `blake3_loop` is the best ratio any such kernel can reach on these
//!   bytes. (The ceiling also
//!   compresses the 255 parent nodes of one 256-chunk tree beside its
//!   4,096 chunk blocks, 6 % more blocks than 256 separate 1 KiB inputs
//!   need: on those, `hash_many` can pass it by up to that much.)
//! * `hash_many` — `plog_hash::hash_many` on the default backend (printed at
//!   the start; `PLOG_HASH_BACKEND` forces one);
//! * `hash_many_<backend>` — the same forced onto each other supported
//!   backend;
//! * `verify_many` — `plog_hash::verify_many` against the right hashes;
//! * for `engenho`, `split_blake3_long` — the other design for multi-chunk
//!   inputs: `hash_many` over the payloads of at most 1 KiB, `blake3::hash`
//!   for the longer ones.
//!
//! At the end the run prints the ratios (baseline time over `hash_many`
//! time) from the medians of criterion's estimates of this run, then, for
//! each group, the times of the loop, `hash_many` and the ceiling, the
//! ceiling's own ratio to the loop (the most a kernel as wide as blake3's
//! could reach) and `hash_many`'s fraction of the ceiling's speed, and last
//! the default backend's speed over each other backend's (`hash_many_avx2`
//! time over `hash_many` time: how much faster AVX-512 is than AVX2 on the
//! same machine, in the same run).
#![allow(missing_docs)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput};
use plog_benches::{median_ns, print_ratio, ratio};
use plog_hash::{Backend, default_backend, hash_many, hash_many_with, verify_many};

/// A deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Payloads of the given lengths, of random bytes.
fn payloads(lengths: impl Iterator<Item = usize>, rng: &mut Rng) -> Vec<Vec<u8>> {
    lengths
        .map(|len| (0..len).map(|_| rng.next() as u8).collect())
        .collect()
}

/// Engenho-like payload length: the quantile function through (0, 100 B),
/// (0.5, 1.1 KB), (0.9, 3.4 KB), (1, 4.4 KB), linear between.
fn engenho_len(u: f64) -> usize {
    let points = [(0.0, 100.0), (0.5, 1100.0), (0.9, 3400.0), (1.0, 4400.0)];
    for pair in points.windows(2) {
        let ((u0, l0), (u1, l1)) = (pair[0], pair[1]);
        if u <= u1 {
            return (l0 + (u - u0) / (u1 - u0) * (l1 - l0)) as usize;
        }
    }
    4400
}

/// Payloads until `total` bytes.
fn batch(total: usize, mut len: impl FnMut(&mut Rng) -> usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut lengths = Vec::new();
    let mut sum = 0;
    while sum < total {
        let l = len(rng);
        sum += l;
        lengths.push(l);
    }
    payloads(lengths.into_iter(), rng)
}

fn bench_group(c: &mut Criterion, name: &str, data: &[Vec<u8>]) {
    let inputs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let bytes: usize = inputs.iter().map(|i| i.len()).sum();
    let expected: Vec<[u8; 32]> = inputs.iter().map(|i| *blake3::hash(i).as_bytes()).collect();
    eprintln!(
        "group {name}: {} payloads, {bytes} bytes, median {} B",
        inputs.len(),
        {
            let mut lens: Vec<usize> = inputs.iter().map(|i| i.len()).collect();
            lens.sort_unstable();
            lens[lens.len() / 2]
        }
    );

    let mut group = c.benchmark_group(format!("hash_{name}"));
    group.throughput(Throughput::Bytes(bytes as u64));
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));

    group.bench_function("blake3_loop", |b| {
        let mut out = vec![[0u8; 32]; inputs.len()];
        b.iter(|| {
            for (o, i) in out.iter_mut().zip(&inputs) {
                *o = *blake3::hash(i).as_bytes();
            }
            std::hint::black_box(&out);
        })
    });
    let contiguous: Vec<u8> = inputs.concat();
    group.bench_function("ceiling", |b| {
        b.iter(|| {
            let mut hasher = blake3::Hasher::new();
            hasher.update(&contiguous);
            std::hint::black_box(hasher.finalize());
        })
    });
    let mut out = vec![[0u8; 32]; inputs.len()];
    hash_many(&inputs, &mut out).unwrap();
    assert_eq!(out, expected, "hash_many differs from blake3::hash");
    group.bench_function("hash_many", |b| {
        b.iter(|| {
            hash_many(&inputs, &mut out).unwrap();
            std::hint::black_box(&out);
        })
    });
    for backend in Backend::ALL {
        if !backend.is_supported() || backend == default_backend() {
            continue;
        }
        hash_many_with(backend, &inputs, &mut out).unwrap();
        assert_eq!(out, expected, "{backend} differs from blake3::hash");
        group.bench_function(format!("hash_many_{backend}"), |b| {
            b.iter(|| {
                hash_many_with(backend, &inputs, &mut out).unwrap();
                std::hint::black_box(&out);
            })
        });
    }
    group.bench_function("verify_many", |b| {
        b.iter(|| {
            let mut bad = 0usize;
            verify_many(&inputs, &expected, |_, _| bad += 1).unwrap();
            assert_eq!(bad, 0);
        })
    });
    if name == "engenho" {
        let (short, long): (Vec<&[u8]>, Vec<&[u8]>) = inputs.iter().partition(|i| i.len() <= 1024);
        let mut short_out = vec![[0u8; 32]; short.len()];
        let mut long_out = vec![[0u8; 32]; long.len()];
        group.bench_function("split_blake3_long", |b| {
            b.iter(|| {
                hash_many(&short, &mut short_out).unwrap();
                for (o, i) in long_out.iter_mut().zip(&long) {
                    *o = *blake3::hash(i).as_bytes();
                }
                std::hint::black_box((&short_out, &long_out));
            })
        });
    }
    group.finish();
}

fn report_ratios(out: &Path, since: SystemTime) {
    println!(
        "\n== plog-hash: blake3::hash loop time / batch time (higher is better), backend {} ==",
        default_backend()
    );
    let targets = [
        ("small", ">= 3"),
        ("1k", ">= 5"),
        ("engenho", "-"),
        ("64k", "-"),
    ];
    let mut names = vec!["hash_many".to_string(), "verify_many".to_string()];
    names.extend(
        Backend::ALL
            .into_iter()
            .filter(|b| b.is_supported() && *b != default_backend())
            .map(|b| format!("hash_many_{b}")),
    );
    names.push("split_blake3_long".to_string());
    for (group, target) in targets {
        let g = format!("hash_{group}");
        let base = median_ns(out, since, &g, "blake3_loop");
        for name in &names {
            let Some(t) = median_ns(out, since, &g, name) else {
                continue;
            };
            let target = if name == "hash_many" { target } else { "-" };
            print_ratio(&format!("{g} {name} (x)"), ratio(base, Some(t)), target);
        }
    }
    println!(
        "\n== the ceiling: one blake3::Hasher::update over the same bytes end to end (one thread) =="
    );
    println!(
        "{:<14} {:>10} {:>10} {:>10} {:>12} {:>12} {:>16}",
        "group", "loop us", "many us", "ceil us", "many/loop", "ceil/loop", "many of ceiling"
    );
    let us = |t: Option<f64>| t.map_or("n/a".to_string(), |t| format!("{:.1}", t / 1e3));
    let shown =
        |r: Option<f64>, unit: &str| r.map_or("n/a".to_string(), |r| format!("{r:.2}{unit}"));
    for (group, _) in targets {
        let g = format!("hash_{group}");
        let base = median_ns(out, since, &g, "blake3_loop");
        let many = median_ns(out, since, &g, "hash_many");
        let ceiling = median_ns(out, since, &g, "ceiling");
        println!(
            "{g:<14} {:>10} {:>10} {:>10} {:>12} {:>12} {:>16}",
            us(base),
            us(many),
            us(ceiling),
            shown(ratio(base, many), "x"),
            shown(ratio(base, ceiling), "x"),
            shown(ratio(ceiling, many), ""),
        );
    }
    println!(
        "\n== the default backend ({}) against the others: their time / its time (same run) ==",
        default_backend()
    );
    for (group, _) in targets {
        let g = format!("hash_{group}");
        let many = median_ns(out, since, &g, "hash_many");
        for backend in Backend::ALL {
            if !backend.is_supported() || backend == default_backend() {
                continue;
            }
            let other = median_ns(out, since, &g, &format!("hash_many_{backend}"));
            let target = if backend == Backend::Avx2 && default_backend() == Backend::Avx512 {
                ">= 1.6"
            } else {
                "-"
            };
            print_ratio(
                &format!("{g} {} vs {backend} (x)", default_backend()),
                ratio(other, many),
                target,
            );
        }
    }
}

fn main() {
    let (mut c, out, since) = plog_benches::criterion_run();
    eprintln!(
        "plog-hash backend: {} (detected {})",
        default_backend(),
        plog_hash::detected_backend()
    );
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let small = batch(256 * 1024, |r| 150 + (r.next() % 151) as usize, &mut rng);
    let one_k = batch(256 * 1024, |_| 1024, &mut rng);
    let engenho = batch(256 * 1024, |r| engenho_len(r.unit()), &mut rng);
    let big = batch(1024 * 1024, |_| 64 * 1024, &mut rng);
    bench_group(&mut c, "small", &small);
    bench_group(&mut c, "1k", &one_k);
    bench_group(&mut c, "engenho", &engenho);
    bench_group(&mut c, "64k", &big);
    c.final_summary();
    report_ratios(&out, since);
}
