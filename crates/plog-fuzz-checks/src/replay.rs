//! The `replay` target: collected and streamed replay of arbitrary
//! payloads, into `serde_json::Value` and into a typed struct, against a
//! sequential decoding of the same records.

use std::fmt::Write as _;
use std::ops::ControlFlow;

use arbitrary::{Arbitrary, Unstructured};
use plog_format::{
    Classification, Corruption, Event, IndexChecker, IndexOrder, MAGIC, RecordSummary,
    Step as WalkStep, TornReason, Walker, encode_record_to_vec,
};
use plog_mmap::{
    Log, Parallelism, RecoveryMode, ReplayError, ReplayOptions, VerifyOptions, VerifyReport,
};
use serde::de::DeserializeOwned;

use crate::differential::{ExpectedReport, expected_report, pool};
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
    /// Trust the hashes (a log verified at open).
    trust_hashes: bool,
}

/// An engenho-store entry decoded into a typed struct (owned strings,
/// optional fields, a renamed field).
#[derive(Debug, serde::Deserialize, PartialEq)]
struct Entry {
    op: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    #[serde(rename = "resourceVersion")]
    resource_version: Option<u64>,
}

/// The events a replay sees, sequentially: the structural walk, records
/// before `from_index` walked over (not hashed, not reported), the others
/// hash-checked unless the replay trusts the hashes.
fn replay_events<'a>(data: &'a [u8], options: &ReplayOptions) -> Vec<Event<'a>> {
    Walker::new(data)
        .filter_map(|step| match step {
            WalkStep::Record(record)
                if options.from_index.is_some_and(|from| record.index() < from) =>
            {
                None
            }
            WalkStep::Record(record) if !options.check_hashes => Some(Event::Record(record)),
            WalkStep::Record(record) => Some(match record.verify() {
                Ok(()) => Event::Record(record),
                Err(corruption) => Event::Corrupt(corruption),
            }),
            WalkStep::Corrupt(corruption) => Some(Event::Corrupt(corruption)),
            WalkStep::Torn(tail) => Some(Event::Torn(tail)),
        })
        .collect()
}

/// The report a successful replay must return: the classification of the
/// events it saw.
fn replay_report(data: &[u8], options: &ReplayOptions) -> ExpectedReport {
    let mut classification = Classification {
        file_len: data.len() as u64,
        ..Classification::default()
    };
    for event in replay_events(data, options) {
        match event {
            Event::Record(record) => classification.records.push(RecordSummary {
                offset: record.offset(),
                index: record.index(),
                payload_len: record.payload_len(),
            }),
            Event::Corrupt(corruption) => classification.corruptions.push(corruption),
            Event::Torn(tail) => classification.torn = Some(tail),
        }
    }
    expected_report(
        &classification,
        options.verify.index_order,
        options.verify.mode,
    )
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

#[cfg(test)]
fn expected_replay<T: DeserializeOwned>(data: &[u8], options: &ReplayOptions) -> Expected<T> {
    expected_replay_until_error(data, options).1
}

/// The sequential replay: the entries decoded before the first problem, and
/// what the replay must return.
fn expected_replay_until_error<T: DeserializeOwned>(
    data: &[u8],
    options: &ReplayOptions,
) -> (Vec<(u64, T)>, Expected<T>) {
    let mut checker = IndexChecker::new(options.verify.index_order);
    let mut entries = Vec::new();
    let salvage = options.verify.mode == RecoveryMode::Salvage;
    let failure = |kind, offset, index, decode_message| Expected::Failure {
        kind,
        offset,
        index,
        decode_message,
    };
    for event in replay_events(data, options) {
        match event {
            Event::Record(record) => {
                let violation = checker.check(record.offset(), record.index());
                let value = match serde_json::from_slice::<T>(record.payload()) {
                    Ok(value) => value,
                    Err(error) => {
                        let expected = failure(
                            "decode",
                            record.offset(),
                            Some(record.index()),
                            Some(error.to_string()),
                        );
                        return (entries, expected);
                    }
                };
                if let Some(violation) = violation.filter(|_| !salvage) {
                    let expected = failure(
                        violation.kind.as_str(),
                        violation.offset,
                        Some(violation.index),
                        None,
                    );
                    return (entries, expected);
                }
                entries.push((record.index(), value));
            }
            Event::Corrupt(corruption) => {
                let magic = matches!(
                    corruption,
                    Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. }
                );
                if !salvage || magic {
                    let expected = failure(
                        corruption.kind(),
                        corruption.offset(),
                        corruption.index(),
                        None,
                    );
                    return (entries, expected);
                }
            }
            Event::Torn(tail) => {
                if options.verify.mode == RecoveryMode::Strict {
                    let index = match tail.reason {
                        TornReason::PartialPayload { index, .. } => Some(index),
                        _ => None,
                    };
                    return (entries, failure("torn", tail.offset, index, None));
                }
            }
        }
    }
    let all = std::mem::take(&mut entries);
    (Vec::new(), Expected::Entries(all))
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
            if let Some(mut report) = report {
                let mut expected = replay_report(data, options);
                if options.from_index.is_some() {
                    // Records skipped before the start index are not in the
                    // report, so the oracle cannot tell where a lost range
                    // that they follow ends: compare everything else.
                    report.findings.lost.clear();
                    expected.clear_lost();
                }
                expected.check(&report, &format!("{what}: the replay's report"));
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
            assert_eq!(
                error.offset(),
                Some(*offset),
                "{what}: error offset ({message})"
            );
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
/// [`Log::replay`] and [`Log::replay_each`] (streaming), as
/// `serde_json::Value` and as a typed struct, on 1 and 3 threads, in the
/// mode, index order, start index and hash trust the input picks. Panics
/// only when a replay differs from the sequential expectation: the same
/// entries in file order and the same report, or the same first error in
/// file order, with its kind, offset and record index (and for a decode
/// failure, serde_json's message for that payload); a streaming replay
/// must have applied exactly the entries before the error.
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
    let log = Log::from_bytes(log_bytes.clone());
    let data = &log_bytes[..];

    for threads in [1, 3] {
        let options = ReplayOptions {
            verify: VerifyOptions {
                index_order,
                mode,
                parallelism: Parallelism::Pool(pool(threads)),
                ..VerifyOptions::default()
            },
            from_index,
            check_hashes: !input.trust_hashes,
        };
        check_replays::<serde_json::Value>(&log, data, &options, "Value", threads);
        check_replays::<Entry>(&log, data, &options, "Entry", threads);
    }
}

/// [`Log::replay`] and [`Log::replay_each`] as `T`, against the sequential
/// expectation.
fn check_replays<T: DeserializeOwned + Send + PartialEq + std::fmt::Debug>(
    log: &Log,
    data: &[u8],
    options: &ReplayOptions,
    type_name: &str,
    threads: usize,
) {
    let (before_error, expected) = expected_replay_until_error::<T>(data, options);
    let got = log
        .replay::<T>(options)
        .map(|replayed| (replayed.entries, Some(replayed.report)));
    check_outcome(
        &format!("replay::<{type_name}> on {threads} thread(s)"),
        data,
        options,
        got,
        &expected,
    );
    let mut streamed = Vec::new();
    let got = log
        .replay_each::<T, _>(options, |index, value| {
            streamed.push((index, value));
            ControlFlow::Continue(())
        })
        .map(|report| (Vec::<(u64, T)>::new(), Some(report)));
    let failed = got.is_err();
    let got = got.map(|(_, report)| (std::mem::take(&mut streamed), report));
    if failed {
        assert_eq!(
            streamed, before_error,
            "replay_each::<{type_name}> on {threads} thread(s): entries applied before the error"
        );
    }
    check_outcome(
        &format!("replay_each::<{type_name}> on {threads} thread(s)"),
        data,
        options,
        got,
        &expected,
    );
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
    fn salvage_skips_corruption_and_decodes_the_rest() {
        let mut data = MAGIC.to_vec();
        encode_record_to_vec(1, b"1", &mut data);
        encode_record_to_vec(2, b"2", &mut data);
        let last = data.len() - 1;
        data[last] = b'3';
        encode_record_to_vec(3, b"4", &mut data);
        let options = ReplayOptions {
            verify: VerifyOptions {
                mode: RecoveryMode::Salvage,
                ..VerifyOptions::default()
            },
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
            verify: VerifyOptions {
                mode: RecoveryMode::Salvage,
                ..VerifyOptions::default()
            },
            ..ReplayOptions::default()
        };
        let expected = expected_replay::<u64>(data, &options);
        check_outcome(
            "salvage",
            data,
            &options,
            log.replay::<u64>(&options)
                .map(|replayed| (replayed.entries, Some(replayed.report))),
            &expected,
        );
    }
}
