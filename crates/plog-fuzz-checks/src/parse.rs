//! The `parse` and `parse_body` targets: plog-format's full classification of
//! arbitrary bytes, checked event by event.

use std::fmt::Write as _;

use plog_format::{
    Classification, Corruption, Event, HEADER_LEN, Hash, MAGIC, MAGIC_LEN, Magic, Record,
    RecordSummary, Scanner, Status, Step, TornReason, TornTail, Walker, check_magic, classify,
    encode_record_to_vec,
};

use crate::oracle::naive_classify;

/// Runs arbitrary bytes through plog-format's classification and checks every
/// invariant a reader relies on. Panics only when one is broken.
///
/// * Nothing panics, and the scan ends (it yields at most one event per
///   header-sized step, plus the magic and the tail).
/// * Every yielded record lies inside the input, at the offset it claims, and
///   its payload is the bytes after its header.
/// * Event offsets strictly increase, and the events **tile** the file: each
///   starts where the previous one ended (a record or hash mismatch at its end,
///   a damaged length at its resync offset), from the end of the magic to the
///   end of the file or the torn tail. No byte is silently skipped.
/// * Each valid record's hash matches, and re-encoding it (index, payload)
///   gives back exactly its bytes in the file.
/// * Each corruption and torn tail says true things about the bytes: a hash
///   mismatch's stored and computed hashes, a damaged length's available bytes
///   and resync target (a complete valid record), a zero-filled tail's zeros.
/// * [`classify`] equals a naive, literal implementation of FORMAT.md's table
///   ([`naive_classify`]) and the scan's events.
/// * Resuming a walk at a record boundary ([`Walker::resume_at`]) yields the
///   same steps as the walk that got there.
/// * Every report formats (`Display`) without panicking.
///
/// ```
/// plog_fuzz_checks::parse(b"engenho-persistent-log v1\nnot a record");
/// ```
pub fn parse(data: &[u8]) {
    let events = collect_events(data);
    check_events(data, &events);
    let classification = classify(data);
    assert_eq!(
        classification,
        summarize(data, &events),
        "classify disagrees with the scanner's events"
    );
    assert_eq!(
        classification,
        naive_classify(data),
        "classify disagrees with the literal reading of FORMAT.md"
    );
    check_status(&classification);
    check_resume(data, &events);
}

/// [`parse`] on `body` behind a valid magic, so that every input is spent on
/// records rather than on getting past the first 26 bytes.
///
/// ```
/// plog_fuzz_checks::parse_body(&[0xff; 100]);
/// ```
pub fn parse_body(body: &[u8]) {
    let mut log = Vec::with_capacity(MAGIC_LEN + body.len());
    log.extend_from_slice(&MAGIC);
    log.extend_from_slice(body);
    parse(&log);
}

/// The scanner's events, checking that the scan ends.
fn collect_events(data: &[u8]) -> Vec<Event<'_>> {
    // Every record and corruption advances by at least one byte past the magic
    // (a record by at least a header), plus the magic's event and the tail.
    let bound = data.len() + 2;
    let mut scanner = Scanner::new(data);
    let events: Vec<Event<'_>> = scanner.by_ref().take(bound).collect();
    assert!(
        scanner.next().is_none(),
        "the scan did not end after {bound} events on a {}-byte input",
        data.len()
    );
    events
}

/// Where `inner` starts inside `outer`, or `None` when it is not a sub-slice.
fn position_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start.checked_add(inner.len())? <= outer.len()).then_some(start)
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).expect("an offset inside the input fits in usize")
}

/// Checks the events one by one and their tiling of the file.
fn check_events(data: &[u8], events: &[Event<'_>]) {
    let len = data.len() as u64;
    let magic = check_magic(data);
    // Where the next event must start.
    let mut cursor: u64 = if magic == Magic::V1 {
        MAGIC_LEN as u64
    } else {
        0
    };
    let mut previous_offset: Option<u64> = None;
    let mut ended = false;
    for (position, event) in events.iter().enumerate() {
        assert!(!ended, "event {position} after the last one: {event:?}");
        let offset = match event {
            Event::Record(record) => record.offset(),
            Event::Corrupt(corruption) => corruption.offset(),
            Event::Torn(tail) => tail.offset,
        };
        if let Some(previous) = previous_offset {
            assert!(
                offset > previous,
                "event offsets must strictly increase: {previous} then {offset} ({event:?})"
            );
        }
        previous_offset = Some(offset);
        match event {
            Event::Record(record) => {
                assert_eq!(magic, Magic::V1, "a record in a file without the v1 magic");
                assert_eq!(
                    offset, cursor,
                    "record does not start where the last event ended"
                );
                check_valid_record(data, record);
                cursor = record.end_offset();
            }
            Event::Corrupt(corruption) => {
                check_corruption(data, corruption, cursor, position);
                ended = corruption.resync_offset().is_none()
                    && !matches!(corruption, Corruption::HashMismatch { .. });
                match corruption {
                    Corruption::Length { resync_offset, .. } => cursor = *resync_offset,
                    Corruption::HashMismatch { .. } => {
                        cursor = corruption
                            .lost_range()
                            .1
                            .expect("a hash mismatch's record lies inside the file");
                    }
                    Corruption::BadMagic { .. } | Corruption::UnsupportedVersion { .. } => {}
                    other => panic!("a corruption this oracle does not define: {other:?}"),
                }
            }
            Event::Torn(tail) => {
                assert_eq!(
                    offset, cursor,
                    "torn tail does not start where the last event ended"
                );
                check_torn(data, tail);
                cursor = len;
                ended = true;
            }
        }
        assert!(cursor <= len, "event ends past the input: {event:?}");
    }
    if magic == Magic::V1 {
        assert_eq!(
            cursor, len,
            "the events account for the bytes up to {cursor} of {len}"
        );
    } else {
        assert_eq!(events.len(), 1, "a file without the v1 magic has one event");
    }
}

fn check_valid_record(data: &[u8], record: &Record<'_>) {
    let start = to_usize(record.offset());
    let end = to_usize(record.end_offset());
    let bytes = data.get(start..end).unwrap_or_else(|| {
        panic!(
            "record {start}..{end} lies outside the {}-byte input",
            data.len()
        )
    });
    assert_eq!(
        position_in(data, record.payload()),
        Some(start + HEADER_LEN),
        "the payload is not the bytes after the header"
    );
    assert_eq!(record.header().as_bytes(), &bytes[..HEADER_LEN]);
    assert_eq!(record.payload_len(), record.payload().len() as u64);
    assert_eq!(record.encoded_len(), (end - start) as u64);
    assert!(
        record.hash_matches(),
        "a valid record's hash does not match"
    );
    assert_eq!(record.verify(), Ok(()));
    assert_eq!(record.stored_hash(), Hash::of(record.payload()));
    let mut encoded = Vec::with_capacity(bytes.len());
    encode_record_to_vec(record.index(), record.payload(), &mut encoded);
    assert_eq!(encoded, bytes, "re-encoding the record changed its bytes");
    assert_eq!(Record::parse_at(data, record.offset()).as_ref(), Ok(record));
}

fn check_corruption(data: &[u8], corruption: &Corruption, cursor: u64, position: usize) {
    let len = data.len() as u64;
    let mut text = String::new();
    write!(text, "{corruption}").expect("formatting to a String");
    assert!(!text.is_empty());
    assert!(matches!(
        corruption.kind(),
        "bad_magic" | "unsupported_version" | "length" | "hash_mismatch"
    ));
    match *corruption {
        Corruption::BadMagic { found } => {
            assert_eq!(position, 0, "a magic corruption is the first event");
            assert_eq!(found.as_bytes(), &data[..data.len().min(MAGIC_LEN)]);
            assert!(!data.starts_with(&MAGIC));
        }
        Corruption::UnsupportedVersion { version } => {
            assert_eq!(position, 0, "a magic corruption is the first event");
            assert_ne!(version, 1);
            assert!(data.starts_with(format!("engenho-persistent-log v{version}\n").as_bytes()));
        }
        Corruption::Length {
            offset,
            index,
            payload_len,
            available,
            resync_offset,
        } => {
            assert_eq!(
                offset, cursor,
                "damaged length not where the last event ended"
            );
            let header = header_fields(data, offset);
            assert_eq!((index, payload_len), (header.0, header.1));
            assert_eq!(available, len - offset - HEADER_LEN as u64);
            assert!(
                payload_len > available,
                "a damaged length that fits: {corruption:?}"
            );
            assert!(resync_offset > offset && resync_offset < len);
            let resynced = Record::parse_at(data, resync_offset)
                .expect("the resync offset holds a complete record");
            assert!(
                resynced.hash_matches(),
                "the resync record's hash does not match"
            );
            assert_eq!(corruption.lost_range(), (offset, Some(resync_offset)));
        }
        Corruption::HashMismatch {
            offset,
            index,
            payload_len,
            stored,
            computed,
            zeroed_sector,
        } => {
            assert_eq!(
                offset, cursor,
                "hash mismatch not where the last event ended"
            );
            let record = Record::parse_at(data, offset)
                .expect("a hash mismatch is a structurally complete record");
            assert_eq!(
                zeroed_sector,
                crate::oracle::zeroed_sector(data, to_usize(offset), to_usize(record.end_offset())),
                "the zeroed sector of a hash mismatch"
            );
            assert_eq!((index, payload_len), (record.index(), record.payload_len()));
            assert_eq!(stored, record.stored_hash());
            assert_eq!(computed, Hash::of(record.payload()));
            assert_ne!(stored, computed);
            assert_eq!(record.verify(), Err(*corruption));
            assert_eq!(corruption.lost_range(), (offset, Some(record.end_offset())));
        }
        other => panic!("a corruption this oracle does not define: {other:?}"),
    }
}

/// `(index, payload_len)` of the 48 bytes at `offset`.
fn header_fields(data: &[u8], offset: u64) -> (u64, u64) {
    let start = to_usize(offset);
    let header = plog_format::RecordHeader::from_prefix(&data[start..])
        .expect("a header lies at a corruption's offset");
    (header.index(), header.payload_len())
}

fn check_torn(data: &[u8], tail: &TornTail) {
    let len = data.len() as u64;
    let mut text = String::new();
    write!(text, "{tail}").expect("formatting to a String");
    assert_eq!(tail.offset + tail.bytes, len, "a torn tail runs to the end");
    let rest = &data[to_usize(tail.offset)..];
    let all_zero = rest.iter().all(|&byte| byte == 0);
    match tail.reason {
        TornReason::Magic => {
            assert_eq!(tail.offset, 0);
            assert!(data.len() < MAGIC_LEN && MAGIC.starts_with(data));
        }
        TornReason::ZeroFill => {
            assert!(
                tail.bytes > 0 && all_zero,
                "a zero-filled tail that is not zeros"
            );
        }
        TornReason::PartialHeader => {
            assert!(!all_zero, "a zero tail reported as a partial header");
            assert!(tail.bytes > 0 && tail.bytes < HEADER_LEN as u64);
        }
        TornReason::PartialPayload {
            index,
            payload_len,
            available,
        } => {
            assert!(!all_zero, "a zero tail reported as a partial payload");
            assert!(tail.bytes >= HEADER_LEN as u64);
            assert_eq!((index, payload_len), header_fields(data, tail.offset));
            assert_eq!(available, tail.bytes - HEADER_LEN as u64);
            assert!(payload_len > available);
        }
        other => panic!("a torn tail this oracle does not define: {other:?}"),
    }
}

/// The classification the events describe, built independently of `classify`.
fn summarize(data: &[u8], events: &[Event<'_>]) -> Classification {
    let mut out = Classification {
        file_len: data.len() as u64,
        ..Classification::default()
    };
    for event in events {
        match event {
            Event::Record(record) => out.records.push(RecordSummary {
                offset: record.offset(),
                index: record.index(),
                payload_len: record.payload_len(),
            }),
            Event::Corrupt(corruption) => out.corruptions.push(*corruption),
            Event::Torn(tail) => out.torn = Some(*tail),
        }
    }
    out
}

fn check_status(classification: &Classification) {
    let expected = if !classification.corruptions.is_empty() {
        Status::Corrupt
    } else if classification.torn.is_some() {
        Status::Torn
    } else {
        Status::Clean
    };
    assert_eq!(classification.status(), expected);
    assert_eq!(
        classification.first_index(),
        classification.records.first().map(|r| r.index)
    );
}

/// Resuming the walk at a record boundary gives the steps the full walk gave
/// from there. Checked at the first and the last boundary after a record.
fn check_resume(data: &[u8], events: &[Event<'_>]) {
    let steps: Vec<Step<'_>> = Walker::new(data).collect();
    let boundaries: Vec<(usize, u64)> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| match step {
            Step::Record(record) => Some((i + 1, record.end_offset())),
            Step::Corrupt(Corruption::HashMismatch { .. }) => {
                unreachable!("the walker does not hash records")
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        steps.len(),
        events.len(),
        "the walk and the scan differ in length"
    );
    let chosen = [boundaries.first(), boundaries.last()];
    for &(next_step, offset) in chosen.into_iter().flatten() {
        let resumed: Vec<Step<'_>> = Walker::resume_at(data, offset)
            .expect("a record boundary lies inside the input")
            .collect();
        assert_eq!(
            resumed,
            steps[next_step..],
            "resuming at offset {offset} changed the walk"
        );
    }
    // Past the end is an error, not a panic.
    assert!(Walker::resume_at(data, data.len() as u64 + 1).is_err());
}

#[cfg(test)]
mod tests {
    //! The checks can fail: each test hands them a report that lies about the
    //! bytes and expects the matching invariant to catch it.

    use plog_format::{Corruption, Event, MAGIC, Record, Scanner, encode_record_to_vec};

    use super::check_events;

    fn log_of(payloads: &[&[u8]]) -> Vec<u8> {
        let mut log = MAGIC.to_vec();
        for (index, payload) in payloads.iter().enumerate() {
            encode_record_to_vec(index as u64 + 1, payload, &mut log);
        }
        log
    }

    #[test]
    fn true_events_pass() {
        let log = log_of(&[b"one", b"two", b"three"]);
        let events: Vec<_> = Scanner::new(&log).collect();
        check_events(&log, &events);
    }

    #[test]
    #[should_panic(expected = "account for the bytes")]
    fn a_dropped_last_record_is_caught() {
        let log = log_of(&[b"one", b"two", b"three"]);
        let mut events: Vec<_> = Scanner::new(&log).collect();
        events.pop();
        check_events(&log, &events);
    }

    #[test]
    #[should_panic(expected = "does not start where the last event ended")]
    fn a_skipped_record_is_caught() {
        let log = log_of(&[b"one", b"two", b"three"]);
        let mut events: Vec<_> = Scanner::new(&log).collect();
        events.remove(1);
        check_events(&log, &events);
    }

    #[test]
    #[should_panic(expected = "strictly increase")]
    fn a_repeated_record_is_caught() {
        let log = log_of(&[b"one", b"two"]);
        let mut events: Vec<_> = Scanner::new(&log).collect();
        events.insert(1, events[0]);
        check_events(&log, &events);
    }

    #[test]
    #[should_panic(expected = "hash")]
    fn a_damaged_record_reported_valid_is_caught() {
        let mut log = log_of(&[b"one", b"two"]);
        let last = log.len() - 1;
        log[last] ^= 1;
        // The second record's payload no longer matches its hash; claim both
        // records are valid anyway.
        let first = Record::parse_at(&log, 26).unwrap();
        let second = Record::parse_at(&log, first.end_offset()).unwrap();
        check_events(&log, &[Event::Record(first), Event::Record(second)]);
    }

    #[test]
    #[should_panic(expected = "a damaged length that fits")]
    fn a_false_length_corruption_is_caught() {
        let log = log_of(&[b"one", b"two"]);
        let events = [Event::Corrupt(Corruption::Length {
            offset: 26,
            index: 1,
            payload_len: 3,
            available: (log.len() - 26 - 48) as u64,
            resync_offset: 26 + 48 + 3,
        })];
        check_events(&log, &events);
    }
}
