//! Helpers shared by the CLI tests, and the check of a JSON line against
//! its schema.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The real `plog` binary.
pub fn plog() -> Command {
    Command::cargo_bin("plog").expect("the plog binary is built")
}

/// A corpus file's path.
pub fn corpus_path(name: &str) -> PathBuf {
    plog_testdata::corpus_dir().join(name)
}

/// Each line of `stdout` parsed as one JSON value.
pub fn json_lines(stdout: &[u8]) -> Vec<Value> {
    std::str::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON value: {e}: {line}"))
        })
        .collect()
}

/// A log of `records` (index, payload), written byte by byte from the format.
pub fn write_log(path: &Path, records: &[(u64, &[u8])]) {
    let mut bytes = plog_format::MAGIC.to_vec();
    for &(index, payload) in records {
        plog_format::encode_record_to_vec(index, payload, &mut bytes);
    }
    std::fs::write(path, bytes).unwrap();
}

/// The schema docs/schema/NAME.json (generated from src/model.rs).
pub fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/schema")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Panics unless `value` satisfies the schema NAME (docs/schema/NAME.json),
/// as a complete draft 2020-12 validator (the `jsonschema` crate) judges.
pub fn assert_schema(name: &str, value: &Value) {
    let schema = schema(name);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("docs/schema/{name}.json is not a valid schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}.json rejects {value}:\n{}",
        errors.join("\n")
    );
}
