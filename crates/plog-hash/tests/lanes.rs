//! Batches whose inputs cross every lane count (4, 8, 16) at every
//! position: one-chunk inputs of every block count, multi-chunk inputs
//! (chunk counters up to 31 in the lanes, parents level by level) and
//! inputs of more than 32 chunks, on every backend this CPU supports,
//! against `blake3::hash`.

use plog_hash::{Backend, hash_many_with};

/// Deterministic bytes.
fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(0x9E37_79B1).rotate_left(11) as u8 ^ (i >> 10) as u8)
        .collect()
}

/// The lengths the batches are made of: every block count of one chunk
/// (full and partial last blocks), chunk boundaries, trees of 2 to 32
/// chunks with odd node counts at several levels, and one of 33 chunks.
const KINDS: &[usize] = &[
    0,
    1,
    64,
    65,
    200,
    511,
    960,
    1023,
    1024,
    1025,
    2048,
    3 * 1024 + 7,
    5 * 1024,
    7 * 1024 - 1,
    9 * 1024 + 100,
    16 * 1024,
    17 * 1024 + 1,
    31 * 1024 + 5,
    32 * 1024,
    33 * 1024 - 3,
];

#[test]
fn batches_across_lane_boundaries() {
    let buf = data(40 * 1024);
    let backends: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| {
            let ok = b.is_supported();
            if !ok {
                eprintln!("note: skipping backend {b}: this CPU does not support it");
            }
            ok
        })
        .collect();
    for n in [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49] {
        for shift in 0..KINDS.len() {
            // Input i has kind (i * 7 + shift) mod the kind count: over the
            // shifts, every kind sits in every lane position, and neighbours
            // differ.
            let inputs: Vec<&[u8]> = (0..n)
                .map(|i| {
                    let len = KINDS[(i * 7 + shift) % KINDS.len()];
                    let start = (i * 131) % (buf.len() - len + 1);
                    &buf[start..start + len]
                })
                .collect();
            let expected: Vec<[u8; 32]> =
                inputs.iter().map(|i| *blake3::hash(i).as_bytes()).collect();
            for &backend in &backends {
                let mut out = vec![[0u8; 32]; n];
                hash_many_with(backend, &inputs, &mut out).unwrap();
                for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
                    assert_eq!(
                        got,
                        want,
                        "backend {backend}, {n} inputs, shift {shift}, input {i} of length {}",
                        inputs[i].len()
                    );
                }
            }
        }
    }
}

/// `schedule` needs the `std` feature.
#[cfg(feature = "std")]
#[test]
fn schedule_counts_the_steps_the_engine_takes() {
    use plog_hash::{Schedule, schedule};
    let buf = data(4096);
    // Sixteen one-chunk inputs fill sixteen lanes for sixteen steps.
    let full: Vec<&[u8]> = (0..16).map(|_| &buf[..1024]).collect();
    let s = schedule(16, &full);
    assert_eq!(
        s,
        Schedule {
            calls: 1,
            parent_calls: 0,
            steps: 16,
            lane_steps: 256,
            compressions: 256,
        }
    );
    assert_eq!(s.busy(), 1.0);
    // On eight lanes: two calls.
    assert_eq!(schedule(8, &full).calls, 2);
    // A tree of two chunks: both chunks side by side, then its root parent
    // alone in a one-step call.
    let s = schedule(16, &[&buf[..2048]]);
    assert_eq!(
        (s.calls, s.parent_calls, s.steps, s.compressions),
        (2, 1, 17, 33)
    );
    assert_eq!(s.lane_steps, 17 * 16);
    // A lone one-chunk input goes to blake3::hash: no kernel call.
    assert_eq!(schedule(16, &[&buf[..100]]), Schedule::default());
    // Two go to it on sixteen lanes (a step of sixteen costs more than two
    // one-input blocks), not on eight; three run in the lanes.
    let pair: [&[u8]; 2] = [&buf[..100], &buf[..900]];
    assert_eq!(schedule(16, &pair).calls, 0);
    assert_eq!(schedule(8, &pair).calls, 1);
    assert_eq!(
        schedule(16, &[&buf[..100], &buf[..900], &buf[..5]]).calls,
        1
    );
    // Three block counts, sixteen of each: three full calls.
    let mixed: Vec<&[u8]> = (0..48).map(|i| &buf[..64 * (1 + i % 3)]).collect();
    let s = schedule(16, &mixed);
    assert_eq!((s.calls, s.steps, s.compressions), (3, 6, 96));
}
