//! Property tests of plog-format against a slow, obvious re-reading of the
//! classification table in FORMAT.md.

use plog_format::{
    Classification, Event, HEADER_LEN, MAGIC, MAGIC_LEN, Scanner, Status, Step, Walker, classify,
    encode_record_to_vec,
};
use proptest::prelude::*;

mod common;
use common::{build, damage, entries};

/// What the naive oracle finds; compared field by field with `classify`.
#[derive(Debug, PartialEq, Eq)]
struct Naive {
    status: &'static str,
    records: Vec<(u64, u64)>,                           // (offset, index)
    corruptions: Vec<(u64, &'static str, Option<u64>)>, // (offset, kind, resync)
    torn: Option<u64>,
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().unwrap())
}

/// A complete record with a matching hash starts at `at`.
fn valid_record_at(data: &[u8], at: usize) -> bool {
    if data.len() < at + HEADER_LEN {
        return false;
    }
    let len = u64_at(data, at + 8) as u128;
    if (at + HEADER_LEN) as u128 + len > data.len() as u128 {
        return false;
    }
    let payload = &data[at + HEADER_LEN..at + HEADER_LEN + len as usize];
    blake3::hash(payload).as_bytes()[..] == data[at + 16..at + 48]
}

/// FORMAT.md's table, read literally, with no attempt at speed.
fn naive_classify(data: &[u8]) -> Naive {
    let mut out = Naive {
        status: "clean",
        records: vec![],
        corruptions: vec![],
        torn: None,
    };
    if data.len() < MAGIC_LEN && MAGIC.starts_with(data) {
        out.torn = Some(0);
        out.status = "torn";
        return out;
    }
    if data.len() < MAGIC_LEN || data[..MAGIC_LEN] != MAGIC {
        let family = b"engenho-persistent-log v";
        let other_version = data.len() >= MAGIC_LEN
            && data.starts_with(family)
            && data[24].is_ascii_digit()
            && data[25] == b'\n';
        let kind = if other_version {
            "unsupported_version"
        } else {
            "bad_magic"
        };
        out.corruptions.push((0, kind, None));
        out.status = "corrupt";
        return out;
    }
    let mut at = MAGIC_LEN;
    while at < data.len() {
        if data[at..].iter().all(|&b| b == 0) {
            out.torn = Some(at as u64);
            break;
        }
        if data.len() - at < HEADER_LEN {
            out.torn = Some(at as u64);
            break;
        }
        let len = u64_at(data, at + 8) as u128;
        if (at + HEADER_LEN) as u128 + len > data.len() as u128 {
            match (at + 1..data.len()).find(|&p| valid_record_at(data, p)) {
                Some(resync) => {
                    out.corruptions
                        .push((at as u64, "length", Some(resync as u64)));
                    at = resync;
                    continue;
                }
                None => {
                    out.torn = Some(at as u64);
                    break;
                }
            }
        }
        if valid_record_at(data, at) {
            out.records.push((at as u64, u64_at(data, at)));
        } else {
            out.corruptions.push((at as u64, "hash_mismatch", None));
        }
        at += HEADER_LEN + len as usize;
    }
    out.status = if !out.corruptions.is_empty() {
        "corrupt"
    } else if out.torn.is_some() {
        "torn"
    } else {
        "clean"
    };
    out
}

fn summarize(c: &Classification) -> Naive {
    Naive {
        status: c.status().as_str(),
        records: c.records.iter().map(|r| (r.offset, r.index)).collect(),
        corruptions: c
            .corruptions
            .iter()
            .map(|x| (x.offset(), x.kind(), x.resync_offset()))
            .collect(),
        torn: c.torn.map(|t| t.offset),
    }
}

/// Invariants every classification must satisfy, whatever the input.
fn check_invariants(data: &[u8]) -> Classification {
    let mut last_offset = None;
    for event in Scanner::new(data) {
        let offset = match event {
            Event::Record(record) => {
                assert!(record.hash_matches(), "a yielded record must verify");
                let end = record.end_offset() as usize;
                assert!(end <= data.len(), "record inside the input");
                assert_eq!(
                    &data[record.offset() as usize + HEADER_LEN..end],
                    record.payload()
                );
                record.offset()
            }
            Event::Corrupt(c) => c.offset(),
            Event::Torn(t) => {
                assert_eq!(t.offset + t.bytes, data.len() as u64);
                t.offset
            }
        };
        if let Some(last) = last_offset {
            assert!(
                offset > last,
                "offsets strictly increase: {last} then {offset}"
            );
        }
        last_offset = Some(offset);
    }
    classify(data)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip(entries in entries()) {
        let (log, offsets) = build(&entries);
        let mut seen = Vec::new();
        for event in Scanner::new(&log) {
            match event {
                Event::Record(r) => seen.push((r.offset(), r.index(), r.payload().to_vec())),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        let want: Vec<_> = entries.iter().zip(&offsets).map(|((i, p), o)| (*o, *i, p.clone())).collect();
        prop_assert_eq!(seen, want);
    }

    #[test]
    fn every_cut_is_torn_or_clean_and_keeps_complete_records(entries in entries(), cut_seed in any::<prop::sample::Index>()) {
        let (log, offsets) = build(&entries);
        let cut = cut_seed.index(log.len() + 1);
        let report = check_invariants(&log[..cut]);
        let boundaries: Vec<u64> = offsets.iter().copied().chain([log.len() as u64]).collect();
        let complete = offsets.iter().enumerate()
            .filter(|&(i, _)| boundaries[i + 1] <= cut as u64).count();
        prop_assert!(report.corruptions.is_empty(), "a cut is never corruption: {:?}", report.corruptions);
        prop_assert_eq!(report.records.len(), complete);
        for (got, (index, _)) in report.records.iter().zip(&entries) {
            prop_assert_eq!(got.index, *index);
        }
        let on_boundary = cut >= MAGIC_LEN && (cut == MAGIC_LEN || boundaries.contains(&(cut as u64)));
        prop_assert_eq!(report.status(), if on_boundary { Status::Clean } else { Status::Torn });
        prop_assert_eq!(summarize(&report), naive_classify(&log[..cut]));
    }

    #[test]
    fn flipping_any_byte_never_panics_nor_yields_a_bad_record(entries in entries(), at in any::<prop::sample::Index>(), mask in 1u8..) {
        let (mut log, _) = build(&entries);
        let at = at.index(log.len());
        log[at] ^= mask;
        let report = check_invariants(&log);
        prop_assert_eq!(summarize(&report), naive_classify(&log));
    }

    #[test]
    fn arbitrary_damage_matches_the_naive_oracle(
        entries in entries(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        zero_tail in 0usize..80,
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let (mut log, _) = build(&entries);
        damage(&mut log, &edits, zero_tail, cut);
        let report = check_invariants(&log);
        prop_assert_eq!(summarize(&report), naive_classify(&log));
    }

    #[test]
    fn damaged_length_field_resyncs_to_the_next_record(entries in entries(), victim in any::<prop::sample::Index>(), bad_len in (1u64 << 32)..) {
        prop_assume!(entries.len() >= 2);
        let (mut log, offsets) = build(&entries);
        let victim = victim.index(entries.len() - 1); // not the last record
        let at = offsets[victim] as usize + 8;
        log[at..at + 8].copy_from_slice(&bad_len.to_le_bytes());
        let report = check_invariants(&log);
        prop_assert_eq!(summarize(&report), naive_classify(&log));
        let first = report.corruptions[0];
        prop_assert_eq!(first.kind(), "length");
        prop_assert_eq!(first.offset(), offsets[victim]);
        // The next record is valid, so the resync cannot be later than it.
        prop_assert!(first.resync_offset().unwrap() <= offsets[victim + 1]);
    }

    #[test]
    fn any_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400), with_magic in any::<bool>()) {
        let data = if with_magic { [MAGIC.as_slice(), &data].concat() } else { data };
        let report = check_invariants(&data);
        prop_assert_eq!(summarize(&report), naive_classify(&data));
        // The structural walk never yields a step the scanner does not explain.
        prop_assert_eq!(Walker::new(&data).count(),
            Scanner::new(&data).count());
    }
}

#[test]
fn walker_does_not_hash_but_scanner_does() {
    let (mut log, _) = build(&[(1, b"payload".to_vec())]);
    let last = log.len() - 1;
    log[last] ^= 0x40;
    let steps: Vec<_> = Walker::new(&log).collect();
    assert!(matches!(steps.as_slice(), [Step::Record(r)] if !r.hash_matches()));
    let report = classify(&log);
    assert_eq!(report.corruptions[0].kind(), "hash_mismatch");
}

#[test]
fn huge_zero_run_before_a_nonzero_byte_is_linear() {
    // A hostile file: megabytes of zero headers then one non-zero byte. Each
    // zero header is a 48-byte record with a bad hash; the walk must stay
    // linear (no rescan of the remainder for the zero-tail rule).
    let mut data = MAGIC.to_vec();
    data.extend(std::iter::repeat_n(0u8, 48 * 100_000));
    data.push(1);
    let report = classify(&data);
    assert_eq!(report.corruptions.len(), 100_000);
    assert!(
        report
            .corruptions
            .iter()
            .all(|c| c.kind() == "hash_mismatch")
    );
    assert_eq!(
        report.torn.unwrap().offset,
        (MAGIC_LEN + 48 * 100_000) as u64
    );
}

#[test]
fn damaged_length_before_a_long_zero_tail_is_torn_quickly() {
    // A header whose length runs past EOF followed by megabytes of zeros:
    // the resync search must not hash at every zero offset.
    let mut data = MAGIC.to_vec();
    encode_record_to_vec(1, b"x", &mut data);
    let damaged = data.len();
    encode_record_to_vec(2, b"y", &mut data);
    data[damaged + 8..damaged + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    data.extend(std::iter::repeat_n(0u8, 8 << 20));
    let report = classify(&data);
    assert_eq!(report.status(), Status::Torn);
    assert_eq!(report.torn.unwrap().offset, damaged as u64);
}
