//! Every corpus file is classified exactly as `testdata/v1/expected.json` says,
//! and every valid record re-encodes to its exact bytes.

use plog_format::{Classification, Corruption, Event, Record, Scanner, classify, encode_record};
use plog_testdata::{CorpusFile, corpus};

fn check_against_expected(file: &CorpusFile, got: &Classification) {
    let name = &file.name;
    let want = &file.expected;
    assert_eq!(got.status().as_str(), want.status, "{name}: status");
    assert_eq!(got.file_len, want.file_len, "{name}: file_len");
    assert_eq!(
        got.records.len(),
        want.valid_records,
        "{name}: valid record count"
    );
    let indices: Vec<u64> = got.records.iter().map(|r| r.index).collect();
    let offsets: Vec<u64> = got.records.iter().map(|r| r.offset).collect();
    assert_eq!(indices, want.indices, "{name}: indices");
    assert_eq!(offsets, want.offsets, "{name}: offsets");
    assert_eq!(
        got.torn.map(|t| t.offset),
        want.torn_offset,
        "{name}: torn offset"
    );
    if let Some(torn) = got.torn {
        assert_eq!(
            torn.offset + torn.bytes,
            want.file_len,
            "{name}: torn tail runs to EOF"
        );
    }
    assert_eq!(
        got.corruptions.len(),
        want.corrupt.len(),
        "{name}: corruptions {:?}",
        got.corruptions
    );
    for (c, w) in got.corruptions.iter().zip(&want.corrupt) {
        assert_eq!(c.kind(), w.kind, "{name}: corruption kind");
        assert_eq!(c.offset(), w.offset, "{name}: corruption offset");
        if let Some(index) = w.index {
            assert_eq!(c.index(), Some(index), "{name}: corruption index");
        }
        assert_eq!(c.resync_offset(), w.resync_offset, "{name}: resync offset");
    }
}

#[test]
fn every_corpus_file_is_classified_as_expected() {
    for file in corpus() {
        check_against_expected(&file, &classify(&file.bytes));
    }
}

#[test]
fn valid_records_reencode_to_their_exact_bytes() {
    let mut reencoded_any = 0;
    for file in corpus() {
        for event in Scanner::new(&file.bytes) {
            let Event::Record(record) = event else {
                continue;
            };
            let start = record.offset() as usize;
            let end = record.end_offset() as usize;
            let mut buf = vec![0u8; end - start];
            let n = encode_record(record.index(), record.payload(), &mut buf).unwrap();
            assert_eq!(n, buf.len());
            assert_eq!(
                buf,
                file.bytes[start..end],
                "{}: record at {start}",
                file.name
            );
            reencoded_any += 1;
        }
    }
    assert!(reencoded_any > 200);
}

#[test]
fn hash_mismatches_name_both_hashes_and_the_record() {
    let file = corpus()
        .into_iter()
        .find(|f| f.name == "corrupt-payload.plog")
        .unwrap();
    let report = classify(&file.bytes);
    let Corruption::HashMismatch {
        offset,
        index,
        stored,
        computed,
        payload_len,
        zeroed_sector,
    } = report.corruptions[0]
    else {
        panic!("expected a hash mismatch, got {:?}", report.corruptions)
    };
    let record = Record::parse_at(&file.bytes, offset).unwrap();
    assert_eq!((index, payload_len), (3, record.payload_len()));
    // A flipped payload byte, not a write cut over zeros.
    assert_eq!(zeroed_sector, None);
    assert_eq!(stored, record.stored_hash());
    assert_eq!(computed, plog_format::Hash::of(record.payload()));
    let message = report.corruptions[0].to_string();
    assert!(message.contains("record 3 at offset 291"), "{message}");
    assert!(message.contains(&stored.to_string()) && message.contains(&computed.to_string()));
}

#[test]
fn damaged_length_message_says_expected_and_found() {
    let file = corpus()
        .into_iter()
        .find(|f| f.name == "corrupt-length-midfile.plog")
        .unwrap();
    let report = classify(&file.bytes);
    let Corruption::Length {
        offset,
        payload_len,
        available,
        resync_offset,
        ..
    } = report.corruptions[0]
    else {
        panic!("expected a length corruption, got {:?}", report.corruptions)
    };
    assert_eq!((offset, resync_offset), (158, 291));
    assert_eq!(available, file.expected.file_len - offset - 48);
    assert!(payload_len > available);
    let message = report.corruptions[0].to_string();
    assert!(
        message.contains("offset 158") && message.contains("resumes at offset 291"),
        "{message}"
    );
}
