//! The `replay` target: typed and borrowed replay of arbitrary payloads
//! against a sequential decoding of the same records.

use std::borrow::Cow;
use std::fmt::Write as _;

use arbitrary::{Arbitrary, Unstructured};
use plog_format::{
    Corruption, Event, IndexChecker, IndexOrder, MAGIC, Scanner, TornReason, classify,
    encode_record_to_vec,
};
use plog_mmap::{Log, Parallelism, RecoveryMode, ReplayError, ReplayOptions, VerifyReport};
use serde::Deserialize;

use crate::differential::{expected_report, pool};
use crate::generate::{Damage, apply};

/// How a record's index follows the previous one.
#[derive(Arbitrary, Clone, Copy, Debug)]
enum Step {
    Next,
    Same,
    Back,
    Jump(u16),
    Any(u64),
}

/// A payload: arbitrary bytes, or JSON that decodes (or nearly).
#[derive(Arbitrary, Clone, Debug)]
enum Payload {
    Bytes(Vec<u8>),
    Text(String),
    Entry {
        op: String,
        kind: String,
        name: String,
        resource_version: u64,
    },
    Number(i64),
    Null,
}

impl Payload {
    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Payload::Bytes(bytes) => bytes.clone(),
            Payload::Text(text) => text.clone().into_bytes(),
            Payload::Entry {
                op,
                kind,
                name,
                resource_version,
            } => serde_json::to_vec(&serde_json::json!({
                "op": op,
                "kind": kind,
                "name": name,
                "resourceVersion": resource_version,
            }))
            .expect("serializing a json! value cannot fail"),
            Payload::Number(number) => number.to_string().into_bytes(),
            Payload::Null => b"null".to_vec(),
        }
    }
}

/// A replay to check: the records, the damage, the options.
#[derive(Arbitrary, Debug)]
struct ReplayInput {
    first_index: u64,
    records: Vec<(Step, Payload)>,
    damage: Vec<Damage>,
    mode: u8,
    order: u8,
    /// `first_index + n`: replay from there.
    from: Option<u16>,
}

/// An engenho-store entry decoded without copying: `&str` fields borrow
/// from the log (and fail on strings with escapes, which must then be a
/// decode error naming the record).
#[derive(Debug, Deserialize, PartialEq)]
struct BorrowedEntry<'a> {
    op: Option<&'a str>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    name: Option<&'a str>,
    #[serde(rename = "resourceVersion")]
    resource_version: Option<u64>,
}

/// What a replay must return, computed sequentially from FORMAT.md's
/// classification and plog-mmap's documented rules: the first problem in
/// file order that the mode does not accept, else every valid record at or
/// after `from_index`, decoded.
#[derive(Debug)]
enum Expected<T> {
    Entries(Vec<(u64, T)>),
    Failure {
        kind: &'static str,
        offset: u64,
        index: Option<u64>,
        /// serde_json's message, for a decode failure.
        decode_message: Option<String>,
    },
}

fn expected_replay<'a, T: Deserialize<'a>>(data: &'a [u8], options: &ReplayOptions) -> Expected<T> {
    let mut checker = IndexChecker::new(options.index_order);
    let mut entries = Vec::new();
    let salvage = options.mode == RecoveryMode::Salvage;
    for event in Scanner::new(data) {
        match event {
            Event::Record(record) => {
                let violation = checker.check(record.offset(), record.index());
                if options.from_index.is_none_or(|from| record.index() >= from) {
                    match serde_json::from_slice::<T>(record.payload()) {
                        Ok(value) => entries.push((record.index(), value)),
                        Err(error) => {
                            return Expected::Failure {
                                kind: "decode",
                                offset: record.offset(),
                                index: Some(record.index()),
                                decode_message: Some(error.to_string()),
                            };
                        }
                    }
                }
                if let Some(violation) = violation.filter(|_| !salvage) {
                    return Expected::Failure {
                        kind: violation.kind_str(),
                        offset: violation.offset,
                        index: Some(violation.index),
                        decode_message: None,
                    };
                }
            }
            Event::Corrupt(corruption) => {
                let magic = matches!(
                    corruption,
                    Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. }
                );
                if !salvage || magic {
                    return Expected::Failure {
                        kind: corruption.kind(),
                        offset: corruption.offset(),
                        index: corruption.index(),
                        decode_message: None,
                    };
                }
            }
            Event::Torn(tail) => {
                if options.mode == RecoveryMode::Strict {
                    let index = match tail.reason {
                        TornReason::PartialPayload { index, .. } => Some(index),
                        _ => None,
                    };
                    return Expected::Failure {
                        kind: "torn",
                        offset: tail.offset,
                        index,
                        decode_message: None,
                    };
                }
            }
        }
    }
    Expected::Entries(entries)
}

/// What a replay returned: the entries and, where the call returns one, the
/// report.
type Outcome<T> = Result<(Vec<(u64, T)>, Option<VerifyReport>), ReplayError>;

/// Checks a replay's result against the sequential expectation.
fn check_outcome<T: PartialEq + std::fmt::Debug>(
    what: &str,
    data: &[u8],
    options: &ReplayOptions,
    got: Outcome<T>,
    expected: &Expected<T>,
) {
    match (got, expected) {
        (Ok((found, report)), Expected::Entries(entries)) => {
            assert_eq!(&found, entries, "{what}: entries differ");
            if let Some(report) = report {
                assert_eq!(
                    report,
                    expected_report(&classify(data), options.index_order, options.mode),
                    "{what}: the replay's report differs"
                );
            }
        }
        (
            Err(error),
            Expected::Failure {
                kind,
                offset,
                index,
                decode_message,
            },
        ) => {
            let mut message = String::new();
            write!(message, "{error}").expect("format to a String");
            assert_eq!(error.kind(), *kind, "{what}: error kind ({message})");
            assert_eq!(error.offset(), *offset, "{what}: error offset ({message})");
            assert_eq!(error.index(), *index, "{what}: error index ({message})");
            if let (ReplayError::Decode { source, .. }, Some(expected)) = (&error, decode_message) {
                assert_eq!(&source.to_string(), expected, "{what}: decode error");
            }
        }
        (Ok((found, _)), Expected::Failure { kind, offset, .. }) => panic!(
            "{what}: expected a {kind} error at offset {offset}, found {} entries",
            found.len()
        ),
        (Err(error), Expected::Entries(entries)) => panic!(
            "{what}: expected {} entries, found the error {error}",
            entries.len()
        ),
    }
}

/// Builds a log from the fuzz input's records (arbitrary bytes, text,
/// numbers and engenho-store-like JSON entries, with indices that follow,
/// repeat, go back or jump), damages it, and replays it with
/// [`Log::replay_with`] (as `serde_json::Value`) and
/// [`Log::replay_borrowed`] (as a struct of `&str` fields borrowing from the
/// log), on 1 and 3 threads, in the mode, index order and start index the
/// input picks. Panics only when a replay differs from the sequential
/// expectation: the same entries in file order and the same report, or the
/// same first error in file order, with its kind, offset and record index
/// (and for a decode failure, serde_json's message for that payload).
///
/// ```
/// plog_fuzz_checks::replay(b"\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00{\"op\":1}");
/// ```
pub fn replay(data: &[u8]) {
    let Ok(input) = ReplayInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (log_bytes, first_index) = build(&input);
    let index_order = match input.order % 3 {
        0 => IndexOrder::Any,
        1 => IndexOrder::Increasing,
        _ => IndexOrder::Contiguous,
    };
    let mode = match input.mode % 3 {
        0 => RecoveryMode::TolerateTorn,
        1 => RecoveryMode::Strict,
        _ => RecoveryMode::Salvage,
    };
    let from_index = input
        .from
        .map(|from| first_index.wrapping_add(u64::from(from)));
    let log = Log::from_bytes(log_bytes);
    let data = log.bytes();

    let owned = expected_replay::<serde_json::Value>(data, &ReplayOptions::default());
    let got = log
        .replay::<serde_json::Value>()
        .map(|entries| (entries, None));
    check_outcome("replay", data, &ReplayOptions::default(), got, &owned);

    for threads in [1, 3] {
        let options = ReplayOptions {
            from_index,
            index_order,
            mode,
            parallelism: Parallelism::Pool(pool(threads)),
            ..ReplayOptions::default()
        };
        let owned = expected_replay::<serde_json::Value>(data, &options);
        let got = log
            .replay_with::<serde_json::Value>(&options)
            .map(|replayed| (replayed.entries, Some(replayed.report)));
        check_outcome(
            &format!("replay_with::<Value> on {threads} thread(s)"),
            data,
            &options,
            got,
            &owned,
        );
        let borrowed = expected_replay::<BorrowedEntry<'_>>(data, &options);
        let got = log
            .replay_borrowed::<BorrowedEntry<'_>>(&options)
            .map(|replayed| (replayed.entries, Some(replayed.report)));
        check_outcome(
            &format!("replay_borrowed::<BorrowedEntry> on {threads} thread(s)"),
            data,
            &options,
            got,
            &borrowed,
        );
    }
}

/// The log the input describes, and its first index.
fn build(input: &ReplayInput) -> (Vec<u8>, u64) {
    let mut log = MAGIC.to_vec();
    let mut starts = Vec::with_capacity(input.records.len());
    let mut index = input.first_index;
    for (position, (step, payload)) in input.records.iter().enumerate() {
        if position > 0 {
            index = match *step {
                Step::Next => index.wrapping_add(1),
                Step::Same => index,
                Step::Back => index.wrapping_sub(1),
                Step::Jump(by) => index.wrapping_add(u64::from(by)),
                Step::Any(any) => any,
            };
        }
        starts.push(log.len());
        encode_record_to_vec(index, &payload.to_bytes(), &mut log);
    }
    for damage in &input.damage {
        apply(&mut log, &starts, damage);
    }
    (log, input.first_index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decode_failure_names_its_record() {
        let mut data = MAGIC.to_vec();
        encode_record_to_vec(7, br#"{"op":"put"}"#, &mut data);
        encode_record_to_vec(8, b"not json", &mut data);
        let expected = expected_replay::<serde_json::Value>(&data, &ReplayOptions::default());
        let second = 26 + 48 + 12;
        assert!(matches!(
            expected,
            Expected::Failure {
                kind: "decode",
                offset,
                index: Some(8),
                ..
            } if offset == second
        ));
    }

    #[test]
    fn an_escaped_string_cannot_be_borrowed() {
        let mut data = MAGIC.to_vec();
        encode_record_to_vec(1, br#"{"op":"a\"b"}"#, &mut data);
        let expected = expected_replay::<BorrowedEntry<'_>>(&data, &ReplayOptions::default());
        assert!(matches!(
            expected,
            Expected::Failure {
                kind: "decode",
                index: Some(1),
                ..
            }
        ));
    }

    #[test]
    fn salvage_skips_corruption_and_decodes_the_rest() {
        let mut data = MAGIC.to_vec();
        encode_record_to_vec(1, b"1", &mut data);
        encode_record_to_vec(2, b"2", &mut data);
        let last = data.len() - 1;
        data[last] = b'3';
        encode_record_to_vec(3, b"4", &mut data);
        let options = ReplayOptions {
            mode: RecoveryMode::Salvage,
            ..ReplayOptions::default()
        };
        let Expected::Entries(entries) = expected_replay::<u64>(&data, &options) else {
            panic!("salvage must not fail on a hash mismatch");
        };
        assert_eq!(entries, [(1, 1), (3, 4)]);
        replay_bytes_check(&data);
    }

    /// The target's checks pass on a hand-built damaged log.
    fn replay_bytes_check(data: &[u8]) {
        let log = Log::from_bytes(data.to_vec());
        let options = ReplayOptions {
            mode: RecoveryMode::Salvage,
            ..ReplayOptions::default()
        };
        let expected = expected_replay::<u64>(log.bytes(), &options);
        check_outcome(
            "salvage",
            log.bytes(),
            &options,
            log.replay_with::<u64>(&options)
                .map(|replayed| (replayed.entries, Some(replayed.report))),
            &expected,
        );
    }
}
