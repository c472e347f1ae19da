//! Mixes of many short and long inputs, the shapes that make lanes end at
//! different steps: lengths around every block and chunk boundary (0, 1,
//! 63, 64, 65, 1023, 1024, 1025 and multiples of 1024 plus or minus one),
//! an odd one out at every lane position of a 16-lane kernel and past it,
//! and random sequences of them, on every backend this CPU supports,
//! against `blake3::hash`.
//!
//! A kernel that keeps its lanes busy across inputs of different block
//! counts (a lane whose input ends takes the next one) must reset each
//! lane's chaining value, counter and flags on its own; a kernel that runs
//! groups of inputs must pad and flag every lane's last block where it ends.
//! Either way, these batches put a last block, a first block and a chunk
//! boundary in every lane at every step.

use plog_hash::{Backend, hash_many_with};
use proptest::prelude::*;

/// Deterministic bytes, different at every offset of every input.
fn bytes(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            ((i as u32 ^ (seed as u32).wrapping_mul(0x9E37_79B1)).wrapping_mul(0x85EB_CA6B) >> 11)
                as u8
        })
        .collect()
}

fn supported() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| {
            let ok = b.is_supported();
            if !ok {
                eprintln!("note: skipping backend {b}: this CPU does not support it");
            }
            ok
        })
        .collect()
}

/// Every backend's hashes of `inputs` equal `blake3::hash` of each.
fn check(inputs: &[Vec<u8>], what: &str) -> Result<(), String> {
    let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    for backend in supported() {
        let mut out = vec![[0u8; 32]; slices.len()];
        hash_many_with(backend, &slices, &mut out).map_err(|e| e.to_string())?;
        for (i, (got, input)) in out.iter().zip(&slices).enumerate() {
            let want = blake3::hash(input);
            if got != want.as_bytes() {
                return Err(format!(
                    "backend {backend}, {what}: input {i} of {} (length {}) hashed wrong",
                    slices.len(),
                    input.len()
                ));
            }
        }
    }
    Ok(())
}

/// Lengths at block and chunk boundaries.
const EDGES: &[usize] = &[
    0,
    1,
    63,
    64,
    65,
    127,
    128,
    1023,
    1024,
    1025,
    2047,
    2048,
    2049,
    3 * 1024 - 1,
    3 * 1024,
    3 * 1024 + 1,
    5 * 1024 + 64,
];

/// One input of each edge length at lane position `p` (0 to 32) among
/// inputs of a background pattern: long and short neighbours, so that the
/// odd one ends before, with or after the lanes around it, in the first
/// group of lanes and in a later one.
#[test]
fn an_odd_input_at_every_lane_position() {
    const BACKGROUND: &[usize] = &[1024, 64, 1025, 65, 1, 0, 2048, 1023, 63, 960, 3 * 1024];
    for p in 0..=32 {
        for (k, &odd) in EDGES.iter().enumerate() {
            let n = 34 + k % 3;
            let inputs: Vec<Vec<u8>> = (0..n)
                .map(|j| {
                    let len = if j == p {
                        odd
                    } else {
                        BACKGROUND[(j + k) % BACKGROUND.len()]
                    };
                    bytes(len, j * 7 + k)
                })
                .collect();
            if let Err(e) = check(&inputs, &format!("odd length {odd} at position {p}")) {
                panic!("{e}");
            }
        }
    }
}

/// Every pair of edge lengths, alternating, in batches of 17 and 40: the
/// lanes end at two interleaved rhythms, and the last group is partial.
#[test]
fn alternating_pairs_of_edge_lengths() {
    for (a, &x) in EDGES.iter().enumerate() {
        for &y in &EDGES[a..] {
            for n in [17, 40] {
                let inputs: Vec<Vec<u8>> = (0..n)
                    .map(|j| bytes(if j % 2 == 0 { x } else { y }, j))
                    .collect();
                if let Err(e) = check(&inputs, &format!("{n} inputs alternating {x} and {y}")) {
                    panic!("{e}");
                }
            }
        }
    }
}

/// A length: an edge, a multiple of 1024 plus or minus one (trees of 2 to 8
/// chunks with a full or a one-byte last chunk), or any length to 4 KiB.
fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => prop::sample::select(EDGES.to_vec()),
        2 => (1usize..=8, 0usize..=2).prop_map(|(c, d)| (c * 1024 + d).saturating_sub(1)),
        2 => 0usize..=4200,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn random_mixes_of_short_and_long_inputs(
        lengths in prop::collection::vec(length(), 1..=80),
        seed in any::<u16>(),
    ) {
        let inputs: Vec<Vec<u8>> = lengths
            .iter()
            .enumerate()
            .map(|(j, &len)| bytes(len, j + usize::from(seed)))
            .collect();
        let result = check(&inputs, "random mix");
        prop_assert!(result.is_ok(), "{}", result.err().unwrap_or_default());
    }
}
