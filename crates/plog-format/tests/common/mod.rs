//! Generators shared by the property tests: logs built with the v1 writer's
//! encoding, then damaged.

#![allow(dead_code)] // each test binary uses part of this module

use plog_format::{MAGIC, encode_record_to_vec};
use proptest::prelude::*;

/// A record as the tests generate it.
pub type Entry = (u64, Vec<u8>);

/// The log holding `entries`, and the offset of each record.
pub fn build(entries: &[Entry]) -> (Vec<u8>, Vec<u64>) {
    let mut log = MAGIC.to_vec();
    let mut offsets = Vec::new();
    for (index, payload) in entries {
        offsets.push(log.len() as u64);
        encode_record_to_vec(*index, payload, &mut log);
    }
    (log, offsets)
}

/// A payload: random bytes, zeros or JSON-like text.
pub fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..80),
        1 => proptest::collection::vec(Just(0u8), 0..60),
        1 => "[a-z{}\":,]{0,120}".prop_map(String::into_bytes),
    ]
}

/// Up to 11 records with arbitrary indices.
pub fn entries() -> impl Strategy<Value = Vec<Entry>> {
    proptest::collection::vec((any::<u64>(), payload()), 0..12)
}

/// How the next index follows the previous one.
#[derive(Clone, Copy, Debug)]
enum Next {
    Successor,
    Gap(u64),
    Repeat,
    Back(u64),
    Max,
    Zero,
    Any(u64),
}

/// A sequence of `len` indices with successors, gaps, repeats, decreases,
/// `u64::MAX` and 0 (all arithmetic wrapping).
pub fn indices(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u64>> {
    let next = prop_oneof![
        6 => Just(Next::Successor),
        2 => (1u64..5).prop_map(Next::Gap),
        1 => (1u64..u64::MAX).prop_map(Next::Gap),
        2 => Just(Next::Repeat),
        2 => (1u64..5).prop_map(Next::Back),
        1 => Just(Next::Max),
        1 => Just(Next::Zero),
        1 => any::<u64>().prop_map(Next::Any),
    ];
    (
        prop_oneof![Just(0u64), Just(1), Just(u64::MAX - 1), any::<u64>()],
        proptest::collection::vec(next, len),
    )
        .prop_map(|(start, steps)| {
            let mut index = start;
            steps
                .into_iter()
                .map(|step| {
                    let current = index;
                    index = match step {
                        Next::Successor => index.wrapping_add(1),
                        Next::Gap(k) => index.wrapping_add(1).wrapping_add(k),
                        Next::Repeat => index,
                        Next::Back(k) => index.wrapping_sub(k),
                        Next::Max => u64::MAX,
                        Next::Zero => 0,
                        Next::Any(i) => i,
                    };
                    current
                })
                .collect()
        })
}

/// Overwrites the bytes at `edits`, appends `zero_tail` zero bytes, then
/// cuts the log at `cut` (each position taken modulo the length).
pub fn damage(
    log: &mut Vec<u8>,
    edits: &[(prop::sample::Index, u8)],
    zero_tail: usize,
    cut: Option<prop::sample::Index>,
) {
    for (at, byte) in edits {
        let at = at.index(log.len());
        log[at] = *byte;
    }
    log.extend(std::iter::repeat_n(0, zero_tail));
    if let Some(cut) = cut {
        log.truncate(cut.index(log.len() + 1));
    }
}

/// A log of records with `indices()` whose bytes were then damaged: a few
/// bytes overwritten, a zero-filled tail, a cut, or another magic.
pub fn damaged_log() -> impl Strategy<Value = Vec<u8>> {
    (
        indices(0..14).prop_flat_map(|indices| {
            let n = indices.len();
            (Just(indices), proptest::collection::vec(payload(), n..=n))
        }),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        prop_oneof![3 => Just(0usize), 1 => 1usize..80],
        proptest::option::weighted(0.3, any::<prop::sample::Index>()),
        prop_oneof![
            12 => Just(None),
            1 => Just(Some(&b"engenho-persistent-log v2\n"[..])),
            1 => Just(Some(&b"something else entirely..."[..])),
        ],
    )
        .prop_map(|((indices, payloads), edits, zero_tail, cut, magic)| {
            let entries: Vec<Entry> = indices.into_iter().zip(payloads).collect();
            let (mut log, _) = build(&entries);
            damage(&mut log, &edits, zero_tail, cut);
            if let Some(magic) = magic {
                let n = magic.len().min(log.len());
                log[..n].copy_from_slice(&magic[..n]);
            }
            log
        })
}
