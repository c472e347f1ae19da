//! Helpers shared by the CLI tests, and the JSON schema checker.
//!
//! The checker is hand-written (no `jsonschema` dependency: it pulls in a
//! large tree): it implements the subset of JSON Schema that
//! docs/schema/*.json uses — `type`, `enum`, `const`, `properties`,
//! `required`, `additionalProperties`, `items`, `minItems`, `maxItems`,
//! `minimum`, and `pattern` for a 64-digit hex hash — and panics on any
//! other keyword, so that a schema cannot silently use more than is checked.

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

/// The schema docs/schema/NAME.json.
pub fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/schema")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Panics unless `value` satisfies the schema NAME (docs/schema/NAME.json).
pub fn assert_schema(name: &str, value: &Value) {
    let schema = schema(name);
    let mut errors = Vec::new();
    check(&schema, value, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "{name}.json rejects {value}:\n{}",
        errors.join("\n")
    );
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        other => panic!("unsupported type {other}"),
    }
}

/// Checks `value` against `schema`, collecting what fails at `at`.
pub fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        panic!("a schema must be an object at {at}");
    };
    for (key, rule) in schema {
        match key.as_str() {
            "$schema" | "$id" | "title" | "description" => {}
            "type" => {
                let names: Vec<&str> = match rule {
                    Value::String(name) => vec![name.as_str()],
                    Value::Array(names) => names.iter().map(|n| n.as_str().unwrap()).collect(),
                    _ => panic!("bad type at {at}"),
                };
                if !names.iter().any(|name| type_matches(name, value)) {
                    errors.push(format!("{at}: expected type {names:?}, found {value}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    errors.push(format!("{at}: expected one of {rule}, found {value}"));
                }
            }
            "const" => {
                if rule != value {
                    errors.push(format!("{at}: expected {rule}, found {value}"));
                }
            }
            "minimum" => {
                if let Some(n) = value.as_f64()
                    && n < rule.as_f64().unwrap()
                {
                    errors.push(format!("{at}: expected at least {rule}, found {value}"));
                }
            }
            "pattern" => {
                assert_eq!(rule, "^[0-9a-f]{64}$", "unsupported pattern at {at}");
                if let Some(s) = value.as_str()
                    && !(s.len() == 64
                        && s.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
                {
                    errors.push(format!("{at}: expected 64 lowercase hex digits, found {s}"));
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule.as_array().unwrap() {
                        if !object.contains_key(name.as_str().unwrap()) {
                            errors.push(format!("{at}: missing required key {name}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (name, sub) in rule.as_object().unwrap() {
                        if let Some(v) = object.get(name) {
                            check(sub, v, &format!("{at}.{name}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let known = schema.get("properties").and_then(Value::as_object);
                    for (name, v) in object {
                        if known.is_some_and(|k| k.contains_key(name)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => {
                                errors.push(format!("{at}: undocumented key {name}"));
                            }
                            Value::Bool(true) => {}
                            sub => check(sub, v, &format!("{at}.{name}"), errors),
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, v) in items.iter().enumerate() {
                        check(rule, v, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let Some(items) = value.as_array() {
                    let n = rule.as_u64().unwrap() as usize;
                    let ok = if key == "minItems" {
                        items.len() >= n
                    } else {
                        items.len() <= n
                    };
                    if !ok {
                        errors.push(format!("{at}: {key} {n}, found {} items", items.len()));
                    }
                }
            }
            other => panic!("the schema checker does not support `{other}` (at {at})"),
        }
    }
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let schema = schema("verify");
    let good = serde_json::json!({
        "path": "a", "status": "clean", "records": 1, "first_index": 1, "last_index": 1,
        "min_index": 1, "max_index": 1, "bytes": 75, "torn": null, "corruptions": [],
        "corruptions_omitted": 0, "error": null
    });
    let mut errors = Vec::new();
    check(&schema, &good, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    for (key, bad) in [
        ("status", serde_json::json!("fine")),
        ("records", serde_json::json!("1")),
        ("torn", serde_json::json!({"offset": 1, "bytes": 2})),
        ("extra", serde_json::json!(1)),
    ] {
        let mut value = good.clone();
        value[key] = bad;
        let mut errors = Vec::new();
        check(&schema, &value, "$", &mut errors);
        assert!(!errors.is_empty(), "{key}");
    }
    let mut value = good.clone();
    value.as_object_mut().unwrap().remove("error");
    let mut errors = Vec::new();
    check(&schema, &value, "$", &mut errors);
    assert!(!errors.is_empty(), "a missing key is caught");
}
