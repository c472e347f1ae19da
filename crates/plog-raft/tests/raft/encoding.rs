//! The store writes and reads each entry's JSON with sonic-rs (the fast
//! path): it must write what serde_json writes, byte for byte, on
//! engenho-shaped entries (Kubernetes objects: nested maps, escapes,
//! numbers, unicode), and read what serde_json reads, the same entry or an
//! error alike, write marks (trailing whitespace) included.

use std::io::Cursor;

use plog_testdata::{JournalEntry, engenho_payload};

openraft::declare_raft_types!(
    /// engenho-store's shape: journal entries as application data.
    pub Eng: D = JournalEntry, R = ()
);

#[test]
fn sonic_rs_writes_the_bytes_serde_json_writes() {
    for seed in [1, 15] {
        for index in 1..=1500 {
            let json = engenho_payload(seed, index);
            let entry: openraft::Entry<Eng> = serde_json::from_slice(&json).unwrap();
            let fast = sonic_rs::to_vec(&entry).unwrap();
            assert_eq!(
                fast,
                serde_json::to_vec(&entry).unwrap(),
                "seed {seed}, entry {index}: sonic-rs and serde_json differ"
            );
            let back: openraft::Entry<Eng> = serde_json::from_slice(&fast).unwrap();
            assert_eq!(
                back, entry,
                "seed {seed}, entry {index}: does not decode back"
            );
        }
    }
}

#[test]
fn sonic_rs_escapes_what_serde_json_escapes() {
    // Every character below 0x80 and a few beyond, in keys and values.
    let text: String = (0u8..0x80)
        .map(char::from)
        .chain(['é', '€', '𝄞', '\u{2028}', '\u{feff}'])
        .collect();
    let mut object = serde_json::Map::new();
    object.insert(text.clone(), serde_json::Value::String(text.clone()));
    object.insert(
        "n".into(),
        serde_json::json!([0, -1, u64::MAX, i64::MIN, 0.5, 1e300, -2.5e-8]),
    );
    let value = serde_json::Value::Object(object);
    assert_eq!(
        sonic_rs::to_vec(&value).unwrap(),
        serde_json::to_vec(&value).unwrap()
    );
}

#[test]
fn sonic_rs_reads_what_serde_json_reads() {
    for index in 1..=1500 {
        let mut json = engenho_payload(7, index);
        let slow: openraft::Entry<Eng> = serde_json::from_slice(&json).unwrap();
        let fast: openraft::Entry<Eng> = sonic_rs::from_slice(&json).unwrap();
        assert_eq!(fast, slow, "entry {index}");
        // The write mark: JSON whitespace after the entry.
        json.extend_from_slice(b" \t\r \n");
        let marked: openraft::Entry<Eng> = sonic_rs::from_slice(&json).unwrap();
        assert_eq!(marked, slow, "entry {index} with a write mark");
        // Damaged payloads fail in both.
        for cut in [1, json.len() / 2, json.len() - 6] {
            let part = &json[..cut];
            assert!(
                serde_json::from_slice::<openraft::Entry<Eng>>(part).is_err()
                    && sonic_rs::from_slice::<openraft::Entry<Eng>>(part).is_err(),
                "entry {index} cut at {cut}"
            );
        }
        let mut trailing = json.clone();
        trailing.extend_from_slice(b"x");
        assert!(sonic_rs::from_slice::<openraft::Entry<Eng>>(&trailing).is_err());
    }
}
