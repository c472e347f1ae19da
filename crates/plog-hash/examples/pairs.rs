//! The kernels side by side on a shared machine: each backend this CPU
//! supports and the ceiling (one `blake3::Hasher::update` over the same
//! bytes end to end), interleaved run by run over the hash bench's batches
//! (about 256 KiB of 150-300 B, 1 KiB or engenho-sized payloads), the
//! fastest of N runs of each. Interleaving and the minimum make the ratios
//! hold when other processes take the cores now and then, where
//! criterion's medians (`cargo bench -p plog-benches --bench hash`) move.
//!
//! ```text
//! cargo run --release -p plog-hash --example pairs [RUNS]
//! ```

use std::time::Instant;

use plog_hash::{Backend, hash_many_with};

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The hash bench's engenho-like length: quantiles (0, 100 B), (0.5, 1.1
/// KB), (0.9, 3.4 KB), (1, 4.4 KB), linear between.
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

/// Payloads of random bytes until 256 KiB.
fn batch(rng: &mut Rng, len: impl Fn(&mut Rng) -> usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut total = 0;
    while total < 256 * 1024 {
        let l = len(rng);
        total += l;
        out.push((0..l).map(|_| rng.next() as u8).collect());
    }
    out
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let groups = [
        (
            "small",
            batch(&mut rng, |r| 150 + (r.next() % 151) as usize),
        ),
        ("1k", batch(&mut rng, |_| 1024)),
        (
            "engenho",
            batch(&mut rng, |r| {
                engenho_len((r.next() >> 11) as f64 / (1u64 << 53) as f64)
            }),
        ),
    ];
    let backends: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| b.is_supported() && *b != Backend::Portable)
        .collect();
    println!("fastest of {runs} interleaved runs, microseconds per batch");
    for (name, data) in &groups {
        let inputs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let contiguous = inputs.concat();
        let expected: Vec<[u8; 32]> = inputs.iter().map(|i| *blake3::hash(i).as_bytes()).collect();
        let mut out = vec![[0u8; 32]; inputs.len()];
        let mut best = vec![f64::MAX; backends.len() + 1];
        for _ in 0..runs {
            for (k, &backend) in backends.iter().enumerate() {
                let t = Instant::now();
                hash_many_with(backend, &inputs, &mut out).expect("a supported backend");
                best[k] = best[k].min(t.elapsed().as_secs_f64());
                assert_eq!(out, expected, "{backend} differs from blake3::hash");
            }
            let t = Instant::now();
            let mut hasher = blake3::Hasher::new();
            hasher.update(&contiguous);
            std::hint::black_box(hasher.finalize());
            best[backends.len()] = best[backends.len()].min(t.elapsed().as_secs_f64());
        }
        let ceiling = best[backends.len()];
        let mut line = format!("{name:<8} ceiling {:>6.1}", ceiling * 1e6);
        for (k, backend) in backends.iter().enumerate() {
            line += &format!(
                " | {backend} {:>6.1} ({:.2} of ceiling)",
                best[k] * 1e6,
                ceiling / best[k]
            );
        }
        let fastest = best[backends.len() - 1];
        for (k, backend) in backends.iter().enumerate().take(backends.len() - 1) {
            line += &format!(
                " | {} / {backend} {:.2}x",
                backends[backends.len() - 1],
                best[k] / fastest
            );
        }
        println!("{line}");
    }
}
