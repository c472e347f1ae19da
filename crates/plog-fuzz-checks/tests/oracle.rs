//! The naive oracle is itself right: it classifies every file of the
//! `testdata/v1` corpus as `expected.json` says (written from engenho-store's
//! own files, independently of plog-format), and the `parse` and
//! `parse_body` targets accept every corpus file, the 1 MiB one included.

use plog_fuzz_checks::oracle::naive_classify;
use plog_testdata::corpus;

#[test]
fn the_naive_oracle_matches_expected_json() {
    for file in corpus() {
        let name = &file.name;
        let want = &file.expected;
        let got = naive_classify(&file.bytes);
        assert_eq!(got.status().as_str(), want.status, "{name}: status");
        assert_eq!(got.file_len, want.file_len, "{name}: file_len");
        let indices: Vec<u64> = got.records.iter().map(|r| r.index).collect();
        let offsets: Vec<u64> = got.records.iter().map(|r| r.offset).collect();
        assert_eq!(indices, want.indices, "{name}: indices");
        assert_eq!(offsets, want.offsets, "{name}: offsets");
        assert_eq!(
            got.torn.map(|t| t.offset),
            want.torn_offset,
            "{name}: torn offset"
        );
        assert_eq!(
            got.corruptions.len(),
            want.corrupt.len(),
            "{name}: corruptions"
        );
        for (found, expected) in got.corruptions.iter().zip(&want.corrupt) {
            assert_eq!(found.kind(), expected.kind, "{name}: corruption kind");
            assert_eq!(found.offset(), expected.offset, "{name}: corruption offset");
            if let Some(index) = expected.index {
                assert_eq!(found.index(), Some(index), "{name}: corruption index");
            }
            assert_eq!(
                found.resync_offset(),
                expected.resync_offset,
                "{name}: resync offset"
            );
        }
    }
}

#[test]
fn the_format_targets_accept_every_corpus_file() {
    for file in corpus() {
        plog_fuzz_checks::parse(&file.bytes);
        if let Some(body) = file.bytes.strip_prefix(&plog_format::MAGIC) {
            plog_fuzz_checks::parse_body(body);
        }
    }
}
