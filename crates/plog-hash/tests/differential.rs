//! Random batches (1..=64 inputs of mixed lengths, empty ones included, up
//! to 64 KiB) through every backend this CPU supports, and the
//! `verify_many` functions, against `blake3::hash` of each input.

use plog_hash::{
    Backend, Error, default_backend, hash_many, hash_many_with, verify_many, verify_many_by,
};
use proptest::prelude::*;

fn oracle(inputs: &[Vec<u8>]) -> Vec<[u8; 32]> {
    inputs.iter().map(|i| *blake3::hash(i).as_bytes()).collect()
}

fn supported() -> Vec<Backend> {
    let mut found = Vec::new();
    for backend in Backend::ALL {
        if backend.is_supported() {
            found.push(backend);
        } else {
            eprintln!("note: skipping backend {backend}: this CPU does not support it");
        }
    }
    found
}

/// A length: mostly within a few chunks (every block count and chunk
/// boundary is likely), sometimes up to 64 KiB.
fn length() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..=1100,
        3 => 0usize..=4200,
        1 => 0usize..=64 * 1024,
        1 => prop::sample::select(vec![0usize, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 32 * 1024, 32 * 1024 + 1]),
    ]
}

fn batch() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        (length(), any::<u8>()).prop_map(|(len, seed)| {
            (0..len)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 7) as u8)
                .collect()
        }),
        1..=64,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_backend_equals_blake3(inputs in batch()) {
        let expected = oracle(&inputs);
        let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        for backend in supported() {
            let mut out = vec![[0u8; 32]; slices.len()];
            hash_many_with(backend, &slices, &mut out).unwrap();
            for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
                prop_assert_eq!(got, want, "backend {}, input {} of length {}", backend, i, slices[i].len());
            }
        }
        let mut out = vec![[0u8; 32]; slices.len()];
        hash_many(&slices, &mut out).unwrap();
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn verify_reports_exactly_the_mismatches(
        inputs in batch(),
        flips in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut expected = oracle(&inputs);
        let right = expected.clone();
        let mut wrong: Vec<usize> = flips.iter().map(|f| f.index(inputs.len())).collect();
        wrong.sort_unstable();
        wrong.dedup();
        for &i in &wrong {
            expected[i][i % 32] ^= 1;
        }
        let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        let mut found = Vec::new();
        verify_many(&slices, &expected, |i, computed| found.push((i, computed))).unwrap();
        let want: Vec<(usize, [u8; 32])> = wrong.iter().map(|&i| (i, right[i])).collect();
        prop_assert_eq!(&found, &want);
        for backend in supported() {
            let items: Vec<(&[u8], [u8; 32])> = slices.iter().copied().zip(expected.iter().copied()).collect();
            let mut found = Vec::new();
            verify_many_by(backend, &items, |item| item.0, |item| &item.1, |i, c| found.push((i, c))).unwrap();
            prop_assert_eq!(&found, &want, "backend {}", backend);
        }
    }
}

/// More inputs than one window of `verify_many_by` (256) and than the
/// scratch array's trees (128), so that both roll over mid-batch.
#[test]
fn long_batches_roll_over_windows_and_scratch() {
    let inputs: Vec<Vec<u8>> = (0..700usize)
        .map(|i| vec![i as u8; (i * 37) % 3000])
        .collect();
    let expected = oracle(&inputs);
    let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    for backend in supported() {
        let mut out = vec![[0u8; 32]; slices.len()];
        hash_many_with(backend, &slices, &mut out).unwrap();
        assert_eq!(out, expected, "backend {backend}");
        let mut bad = Vec::new();
        verify_many_by(
            backend,
            &slices,
            |s| s,
            |_| &[0u8; 32],
            |i, c| bad.push((i, c)),
        )
        .unwrap();
        let want: Vec<(usize, [u8; 32])> = expected.iter().copied().enumerate().collect();
        assert_eq!(bad, want, "backend {backend}");
    }
}

#[test]
fn empty_batch_and_length_mismatch() {
    let mut none: [[u8; 32]; 0] = [];
    hash_many(&[], &mut none).unwrap();
    let mut out = [[7u8; 32]; 1];
    let err = hash_many(&[b"a", b"b"], &mut out).unwrap_err();
    assert_eq!(
        err,
        Error::LengthMismatch {
            inputs: 2,
            outputs: 1
        }
    );
    assert_eq!(out, [[7u8; 32]], "nothing is written on error");
    assert_eq!(
        err.to_string(),
        "expected one hash per input: 2 inputs, but 1 hashes"
    );
    let err = verify_many(&[b"a"], &[], |_, _| panic!("no call")).unwrap_err();
    assert_eq!(
        err,
        Error::LengthMismatch {
            inputs: 1,
            outputs: 0
        }
    );
}

#[test]
fn unsupported_backends_refuse() {
    for backend in Backend::ALL {
        let mut out = [[0u8; 32]];
        let result = hash_many_with(backend, &[b"x"], &mut out);
        if backend.is_supported() {
            assert_eq!(result, Ok(()));
        } else {
            assert_eq!(result, Err(Error::Unsupported(backend)));
        }
    }
    assert!(default_backend().is_supported());
    assert_eq!(
        Backend::from_name(default_backend().name()),
        Some(default_backend())
    );
    eprintln!(
        "default backend: {}, detected: {}",
        default_backend(),
        plog_hash::detected_backend()
    );
}
