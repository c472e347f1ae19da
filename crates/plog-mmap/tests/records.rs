//! `Log::records`, the lazy iterator, against the sequential oracle
//! (`plog_format::Scanner`): on every corpus file, through every way of
//! holding a file (mapped, in memory, read in windows), and across the
//! passes it is made of.

use plog_format::{Event, MAGIC, encode_record_to_vec};
use plog_mmap::{Log, MapPolicy, OpenOptions, ReplayError};
use plog_testdata::corpus;

/// The records an iteration yielded (offset, index, payload), and the kind
/// of the error that ended it.
type Yielded = (Vec<(u64, u64, Vec<u8>)>, Option<&'static str>);

/// What the iterator must yield for `bytes`: the valid records (offset,
/// index, payload) up to the first corruption, then that corruption's kind.
fn expected(bytes: &[u8]) -> Yielded {
    let mut records = Vec::new();
    for event in plog_format::Scanner::new(bytes) {
        match event {
            Event::Record(r) => records.push((r.offset(), r.index(), r.payload().to_vec())),
            Event::Corrupt(corruption) => return (records, Some(corruption.kind())),
            Event::Torn(_) => break,
        }
    }
    (records, None)
}

fn collect(log: &Log) -> Yielded {
    let mut records = Vec::new();
    let mut items = log.records().expect("a file log is iterable");
    for item in items.by_ref() {
        match item {
            Ok(r) => records.push((r.offset(), r.index(), r.payload().to_vec())),
            Err(error) => {
                assert!(items.next().is_none(), "nothing after the error");
                return (records, Some(error.kind()));
            }
        }
    }
    (records, None)
}

fn opened(path: &std::path::Path, map: MapPolicy, min_map_len: u64) -> Log {
    let options = OpenOptions {
        map,
        min_map_len,
        ..OpenOptions::default()
    };
    Log::open_with(path, &options).expect("open the corpus file")
}

#[test]
fn records_agree_with_the_oracle_on_the_corpus() {
    for file in corpus() {
        let want = expected(&file.bytes);
        assert_eq!(
            collect(&Log::from_bytes(file.bytes.clone())),
            want,
            "{}",
            file.name
        );
        for (map, min) in [
            (MapPolicy::Auto, 1),
            (MapPolicy::Never, u64::MAX),
            (MapPolicy::Windowed, 1),
        ] {
            assert_eq!(
                collect(&opened(&file.path, map, min)),
                want,
                "{} {map:?}",
                file.name
            );
        }
    }
}

#[test]
fn records_cross_pass_boundaries_and_stop_at_the_first_corruption() {
    // More records than one pass copies out (16 Ki), then a flipped payload
    // bit, then more records that must not be yielded.
    let mut bytes = MAGIC.to_vec();
    for index in 1..=40_000u64 {
        encode_record_to_vec(index, format!("{{\"n\":{index}}}").as_bytes(), &mut bytes);
    }
    let damaged_at = bytes.len();
    encode_record_to_vec(40_001, b"{\"n\":0}", &mut bytes);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    encode_record_to_vec(40_002, b"{}", &mut bytes);
    let log = Log::from_bytes(bytes.clone());
    let (records, error) = collect(&log);
    assert_eq!(records.len(), 40_000);
    assert!(records.iter().zip(1u64..).all(|(r, i)| r.1 == i));
    assert_eq!(error, Some("hash_mismatch"));
    assert_eq!((records, error), expected(&bytes));
    let mut items = log.records().unwrap();
    let err = items.find_map(Result::err).unwrap();
    assert!(matches!(err, ReplayError::Corrupt(c) if c.offset() == damaged_at as u64));
}

#[test]
fn a_read_once_stream_is_refused_with_a_reason() {
    let log = Log::from_stream(std::io::Cursor::new(MAGIC.to_vec()));
    let error = log.records().unwrap_err();
    assert!(error.to_string().contains("read once"), "{error}");
}
