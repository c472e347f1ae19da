//! Every length 0..=4096 (and some longer ones), one input per call and
//! all of them in one batch, on every backend this CPU supports, against
//! `blake3::hash`.

use plog_hash::{Backend, hash_many_with};

/// Deterministic bytes (not all equal, so that word order matters).
fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8 ^ (i >> 8) as u8)
        .collect()
}

fn backends() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|&b| {
            let ok = b.is_supported();
            if !ok {
                eprintln!("note: skipping backend {b}: this CPU does not support it");
            }
            ok
        })
        .collect()
}

#[test]
fn every_length_to_4096_in_one_batch() {
    let buf = data(4096);
    let inputs: Vec<&[u8]> = (0..=4096).map(|len| &buf[..len]).collect();
    let expected: Vec<[u8; 32]> = inputs.iter().map(|i| *blake3::hash(i).as_bytes()).collect();
    for backend in backends() {
        let mut out = vec![[0u8; 32]; inputs.len()];
        hash_many_with(backend, &inputs, &mut out).unwrap();
        for (len, (got, want)) in out.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "backend {backend}, length {len}, in one batch");
        }
    }
}

#[test]
fn every_length_to_4096_alone() {
    let buf = data(4096);
    for backend in backends() {
        for len in 0..=4096 {
            let mut out = [[0u8; 32]];
            hash_many_with(backend, &[&buf[..len]], &mut out).unwrap();
            assert_eq!(
                out[0],
                *blake3::hash(&buf[..len]).as_bytes(),
                "backend {backend}, length {len}, alone"
            );
        }
    }
}
