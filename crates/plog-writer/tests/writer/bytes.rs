// Byte identity: re-appending the index and payload of every valid record of
// the corpus files (written by engenho-store's own writer) gives the same
// bytes, through every append path.

use std::sync::Arc;

use plog_format::{Event, MAGIC, Scanner, Status};
use plog_writer::{GroupCommit, SyncPolicy, Writer, WriterOptions};

/// The valid records of `bytes`, and the bytes they occupy in the file.
fn valid_records(bytes: &[u8]) -> (Vec<(u64, Vec<u8>)>, Vec<u8>) {
    let mut records = Vec::new();
    let mut expected = MAGIC.to_vec();
    for event in Scanner::new(bytes) {
        if let Event::Record(record) = event {
            records.push((record.index(), record.payload().to_vec()));
            expected
                .extend_from_slice(&bytes[record.offset() as usize..record.end_offset() as usize]);
        }
    }
    (records, expected)
}

#[test]
fn re_appending_the_corpus_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut clean_files = 0;
    for (n, file) in plog_testdata::corpus().into_iter().enumerate() {
        let (records, expected) = valid_records(&file.bytes);
        if file.expected.status == Status::Clean.as_str() {
            assert_eq!(expected, file.bytes, "{}", file.name);
            clean_files += 1;
        }
        let name = |path: &str| dir.path().join(format!("{n}-{path}.plog"));

        // One durable append per record.
        let mut writer = Writer::create(name("every"), WriterOptions::default()).unwrap();
        for (index, payload) in &records {
            writer.append_raw(*index, payload).unwrap();
        }
        drop(writer);
        assert_eq!(
            std::fs::read(name("every")).unwrap(),
            expected,
            "{}",
            file.name
        );

        // One batch.
        let mut writer = Writer::create(name("batch"), WriterOptions::default()).unwrap();
        writer
            .append_batch_raw(records.iter().map(|(i, p)| (*i, p.as_slice())))
            .unwrap();
        drop(writer);
        assert_eq!(
            std::fs::read(name("batch")).unwrap(),
            expected,
            "{}",
            file.name
        );

        // Manual policy.
        let manual = WriterOptions {
            sync: SyncPolicy::Manual,
            ..WriterOptions::default()
        };
        let mut writer = Writer::create(name("manual"), manual).unwrap();
        for (index, payload) in &records {
            writer.append_raw(*index, payload).unwrap();
        }
        writer.close().unwrap();
        assert_eq!(
            std::fs::read(name("manual")).unwrap(),
            expected,
            "{}",
            file.name
        );

        // Group commit, one thread (order matters here).
        let log = Arc::new(GroupCommit::create(name("group"), WriterOptions::default()).unwrap());
        for (index, payload) in &records {
            log.append_raw(*index, payload).unwrap();
        }
        drop(log);
        assert_eq!(
            std::fs::read(name("group")).unwrap(),
            expected,
            "{}",
            file.name
        );

        // Payloads that are JSON written by serde_json re-serialize to the
        // same bytes through `append`.
        let json: Vec<(u64, serde_json::Value)> = records
            .iter()
            .filter_map(|(i, p)| Some((*i, serde_json::from_slice(p).ok()?)))
            .collect();
        if json.len() == records.len() && !records.is_empty() {
            let mut writer = Writer::create(name("serde"), WriterOptions::default()).unwrap();
            for (index, value) in &json {
                writer.append(*index, value).unwrap();
            }
            drop(writer);
            let reserialized = std::fs::read(name("serde")).unwrap();
            // Key order may differ (serde_json::Value sorts keys); the
            // indices and JSON values may not.
            let (again, _) = valid_records(&reserialized);
            let again: Vec<(u64, serde_json::Value)> = again
                .iter()
                .map(|(i, p)| (*i, serde_json::from_slice(p).unwrap()))
                .collect();
            assert_eq!(again, json, "{}", file.name);
        }
    }
    assert!(clean_files >= 5, "{clean_files} clean corpus files");
}

#[test]
fn serde_append_writes_what_serde_json_to_vec_writes() {
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        op: &'a str,
        kind: &'a str,
        replicas: u32,
        labels: std::collections::BTreeMap<&'a str, &'a str>,
    }
    let entry = Entry {
        op: "put",
        kind: "Deployment",
        replicas: 3,
        labels: [("app", "web"), ("tier", "ü")].into_iter().collect(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("serde.plog");
    let mut writer = Writer::create(&path, WriterOptions::default()).unwrap();
    writer.append(42, &entry).unwrap();
    writer.append_batch([(43, &entry), (44, &entry)]).unwrap();
    drop(writer);
    let payload = serde_json::to_vec(&entry).unwrap();
    let expected = plog_testdata::build_log([
        (42, payload.as_slice()),
        (43, payload.as_slice()),
        (44, payload.as_slice()),
    ]);
    assert_eq!(std::fs::read(&path).unwrap(), expected);
}
