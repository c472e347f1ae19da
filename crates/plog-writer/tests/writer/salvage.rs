//! `salvage` (one mapped, parallel pass, records copied as found, its
//! report from the same pass) against the slow oracles: the new log is
//! exactly the valid records of the sequential classification, byte for
//! byte, and the report is exactly what `Log::verify` in salvage mode says
//! of the source, on randomly damaged logs of every size class.

use plog_format::{Event, RecoveryMode, Scanner};
use plog_mmap::{Log, Parallelism, VerifyOptions};
use plog_testdata::{SplitMix64, k8s_payload};
use plog_writer::{SalvageOptions, salvage_with};

/// A log of `records` records (sizes up to a few KiB, a few large ones so
/// that the source is mapped and spans several chunks), then damage.
fn damaged_log(rng: &mut SplitMix64, records: u64) -> Vec<u8> {
    let mut bytes = plog_format::MAGIC.to_vec();
    for index in 1..=records {
        let len = if rng.below(50) == 0 {
            300_000
        } else {
            10 + rng.below(3_000) as usize
        };
        plog_format::encode_record_to_vec(index, &k8s_payload(index, len), &mut bytes);
    }
    for _ in 0..rng.below(6) {
        match rng.below(4) {
            // A bit flip anywhere past the magic (payload, hash, length).
            0 | 1 => {
                let at = 26 + rng.below(bytes.len() as u64 - 26) as usize;
                bytes[at] ^= 1 << rng.below(8);
            }
            // A cut.
            2 => {
                let keep = 26 + rng.below(bytes.len() as u64 - 26) as usize;
                bytes.truncate(keep);
            }
            // A zero-filled tail.
            _ => bytes.extend(std::iter::repeat_n(0, rng.below(500) as usize)),
        }
    }
    bytes
}

#[test]
fn salvage_copies_exactly_the_valid_records_and_reports_what_verify_reports() {
    plog_testdata::seeded("salvage_against_the_oracles", |seed| {
        let mut rng = SplitMix64(seed);
        let dir = tempfile::tempdir().unwrap();
        for case in 0..24 {
            let source = dir.path().join(format!("source{case}.plog"));
            let out = dir.path().join(format!("out/{case}.plog"));
            let records = 1 + rng.below(400);
            let bytes = damaged_log(&mut rng, records);
            std::fs::write(&source, &bytes).unwrap();
            let threads = 1 + rng.below(3) as usize;
            let options = SalvageOptions {
                parallelism: Parallelism::Threads(
                    std::num::NonZeroUsize::new(threads).expect("a thread count above 0"),
                ),
                ..SalvageOptions::default()
            };
            let report = salvage_with(&source, &out, &options).unwrap();

            let mut expected = plog_format::MAGIC.to_vec();
            for event in Scanner::new(&bytes) {
                if let Event::Record(record) = event {
                    let start = record.offset() as usize;
                    expected
                        .extend_from_slice(&bytes[start..start + record.encoded_len() as usize]);
                }
            }
            let got = std::fs::read(&out).unwrap();
            assert!(
                got == expected,
                "seed {seed} case {case}: the new log differs"
            );
            let oracle = plog_format::classify(&bytes);
            assert_eq!(
                report.records,
                oracle.records.len() as u64,
                "seed {seed} case {case}"
            );
            assert_eq!(report.len, expected.len() as u64);
            assert_eq!(report.corruptions, oracle.corruptions.len() as u64);
            assert_eq!(report.torn, oracle.torn);

            let verify = Log::open(&source)
                .unwrap()
                .verify(&VerifyOptions {
                    mode: RecoveryMode::Salvage,
                    ..VerifyOptions::default()
                })
                .unwrap();
            assert_eq!(report.verify, verify, "seed {seed} case {case}: the report");
        }
    });
}

#[test]
fn nothing_is_created_from_a_file_that_is_not_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("not-a-log");
    std::fs::write(&source, vec![b'x'; 100_000]).unwrap();
    let out = dir.path().join("out.plog");
    let err = plog_writer::salvage(&source, &out).unwrap_err();
    assert_eq!(err.kind(), "corrupt");
    assert!(err.to_string().contains("nothing to salvage"), "{err}");
    assert!(!out.exists(), "nothing created");
    // An existing destination is refused before anything is read.
    std::fs::write(&out, b"mine").unwrap();
    let err = plog_writer::salvage(&source, &out).unwrap_err();
    assert_eq!(err.kind(), "exists");
    assert_eq!(std::fs::read(&out).unwrap(), b"mine");
}
