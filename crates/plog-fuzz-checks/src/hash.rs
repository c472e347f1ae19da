//! The `hash` target: plog-hash's batch hashing against `blake3::hash` of
//! each input, on every backend this CPU supports.

use arbitrary::Unstructured;
use plog_hash::{Backend, hash_many_with, verify_many, verify_many_by};

/// The most inputs in one batch.
const MAX_INPUTS: usize = 64;

/// One input of the batch, as read from the fuzzer's bytes.
fn input(u: &mut Unstructured<'_>, seed: u8) -> arbitrary::Result<Vec<u8>> {
    // Generated inputs repeat a pattern of the seed: cheap lengths of many
    // chunks from a few fuzzer bytes; the patterns differ per input so that
    // swapped lanes would show.
    let pattern = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(seed | 1) ^ (i >> 8) as u8)
            .collect()
    };
    Ok(match u.int_in_range(0u8..=3)? {
        // Raw bytes of the fuzzer (up to a chunk and a bit).
        0 => {
            let len = u.int_in_range(0usize..=1100)?;
            u.bytes(len.min(u.len()))?.to_vec()
        }
        // Near a block or chunk boundary: k * 64 + delta.
        1 => {
            let k = usize::from(u.int_in_range(0u8..=80)?);
            let delta = u.int_in_range(0usize..=2)?;
            pattern((k * 64 + delta).saturating_sub(1))
        }
        // Any length to 64 KiB.
        2 => pattern(usize::from(u.arbitrary::<u16>()?)),
        // Empty.
        _ => Vec::new(),
    })
}

/// Decodes a batch of 1 to 64 inputs from `data` and checks that
/// `hash_many_with` on each supported backend, `verify_many` and
/// `verify_many_by` agree with `blake3::hash` of each input (with some
/// expected hashes made wrong for the verify functions).
pub fn hash(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut inputs = Vec::new();
    let mut wrong = Vec::new();
    while inputs.len() < MAX_INPUTS {
        let seed = inputs.len() as u8;
        let Ok(next) = input(&mut u, seed) else { break };
        inputs.push(next);
        wrong.push(u.arbitrary::<u8>().unwrap_or(0).is_multiple_of(8));
        if u.is_empty() {
            break;
        }
    }
    if inputs.is_empty() {
        inputs.push(Vec::new());
        wrong.push(false);
    }
    let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    let expected: Vec<[u8; 32]> = slices.iter().map(|i| *blake3::hash(i).as_bytes()).collect();
    for backend in Backend::ALL {
        let mut out = vec![[0u8; 32]; slices.len()];
        match hash_many_with(backend, &slices, &mut out) {
            Ok(()) => {}
            Err(err) if !backend.is_supported() => {
                assert_eq!(err, plog_hash::Error::Unsupported(backend));
                continue;
            }
            Err(err) => panic!("backend {backend}: {err}"),
        }
        for (i, (got, want)) in out.iter().zip(&expected).enumerate() {
            assert_eq!(
                got,
                want,
                "backend {backend}: input {i} of {} bytes",
                slices[i].len()
            );
        }
    }
    // Expected hashes with some made wrong: exactly those are reported, with
    // the right hash.
    let stored: Vec<[u8; 32]> = expected
        .iter()
        .zip(&wrong)
        .map(|(hash, &bad)| {
            let mut hash = *hash;
            if bad {
                hash[0] ^= 0x80;
            }
            hash
        })
        .collect();
    let want: Vec<(usize, [u8; 32])> = (0..slices.len())
        .filter(|&i| wrong[i])
        .map(|i| (i, expected[i]))
        .collect();
    let mut found = Vec::new();
    verify_many(&slices, &stored, |i, computed| found.push((i, computed)))
        .expect("one expected hash per input");
    assert_eq!(found, want, "verify_many");
    let items: Vec<(&[u8], &[u8; 32])> = slices.iter().copied().zip(&stored).collect();
    for backend in Backend::ALL.into_iter().filter(|b| b.is_supported()) {
        let mut found = Vec::new();
        verify_many_by(
            backend,
            &items,
            |item| item.0,
            |item| item.1,
            |i, computed| found.push((i, computed)),
        )
        .expect("a supported backend");
        assert_eq!(found, want, "verify_many_by on {backend}");
    }
}
