//! Checks `fuzz/plog.dict`: it parses as a libFuzzer dictionary, no entry is
//! longer than libFuzzer accepts, and the entries that claim to be format
//! values (the magic, the empty hash, whole records) are exactly that.

use std::path::Path;

use plog_format::{Hash, MAGIC, Record};

/// libFuzzer ignores dictionary entries longer than this.
const MAX_ENTRY_LEN: usize = 64;

/// Decodes a libFuzzer dictionary: `name="value"` lines with `\\`, `\"` and
/// `\xNN` escapes; `#` comments and blank lines.
fn parse_dictionary(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, quoted) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: expected name=\"value\"", number + 1));
        let inner = quoted
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("line {}: value is not quoted", number + 1));
        let mut value = Vec::new();
        let mut bytes = inner.bytes();
        while let Some(byte) = bytes.next() {
            if byte != b'\\' {
                value.push(byte);
                continue;
            }
            match bytes.next() {
                Some(b'\\') => value.push(b'\\'),
                Some(b'"') => value.push(b'"'),
                Some(b'x') => {
                    let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                    let parsed = u8::from_str_radix(&hex, 16)
                        .unwrap_or_else(|_| panic!("line {}: bad escape \\x{hex}", number + 1));
                    value.push(parsed);
                }
                other => panic!("line {}: unknown escape {other:?}", number + 1),
            }
        }
        entries.push((name.to_owned(), value));
    }
    entries
}

#[test]
fn the_dictionary_holds_true_format_values() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/plog.dict");
    let text = std::fs::read_to_string(&path).expect("read fuzz/plog.dict");
    let entries = parse_dictionary(&text);
    let get = |name: &str| {
        entries
            .iter()
            .find(|(entry, _)| entry == name)
            .map(|(_, value)| value.as_slice())
            .unwrap_or_else(|| panic!("the dictionary has no {name}"))
    };
    for (name, value) in &entries {
        assert!(
            !value.is_empty() && value.len() <= MAX_ENTRY_LEN,
            "{name} is {} bytes; libFuzzer takes 1 to {MAX_ENTRY_LEN}",
            value.len()
        );
    }
    assert_eq!(get("magic_v1"), MAGIC);
    assert_eq!(get("hash_empty"), Hash::of(b"").as_bytes());
    let records: Vec<_> = entries
        .iter()
        .filter(|(name, _)| name.starts_with("record_"))
        .collect();
    assert!(records.len() >= 3);
    for (name, bytes) in records {
        let record = Record::parse_at(bytes, 0)
            .unwrap_or_else(|err| panic!("{name} is not a record: {err}"));
        assert!(record.hash_matches(), "{name}'s hash does not match");
        assert_eq!(
            record.encoded_len(),
            bytes.len() as u64,
            "{name} has trailing bytes"
        );
    }
}
