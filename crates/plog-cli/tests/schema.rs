//! One JSON vocabulary: every command run with `--json` over every corpus
//! file and over the error cases prints lines that their schema
//! (docs/schema/, generated from src/model.rs) accepts; an unreadable path
//! gives the same error object, in the same words, in every command; and
//! across the schemas one key has one type and one meaning.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{assert_schema, json_lines, plog, schema};
use serde_json::Value;

const SCHEMAS: [&str; 7] = [
    "verify",
    "dump",
    "dump-raft",
    "stat",
    "repair",
    "append",
    "error",
];

/// The corpus's log files.
fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(plog_testdata::corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "plog"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus is there: {files:?}");
    files
}

/// Runs `plog ARGS` (stdin `input`), checks each stdout line against the
/// schema `name`, and returns the lines.
fn lines(name: &str, args: &[&std::ffi::OsStr], input: &[u8]) -> Vec<Value> {
    let out = plog().args(args).write_stdin(input).output().unwrap();
    let lines = json_lines(&out.stdout);
    for line in &lines {
        assert_schema(name, line);
    }
    lines
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

#[test]
fn every_command_prints_what_its_schema_accepts_on_every_corpus_file() {
    let tmp = tempfile::tempdir().unwrap();
    for file in corpus() {
        let f = file.as_os_str();
        for flags in [
            &["verify", "--json"][..],
            &["verify", "--json", "--strict"],
            &["verify", "--json", "--expect", "contiguous"],
        ] {
            let mut args: Vec<&std::ffi::OsStr> = flags.iter().map(|s| os(s)).collect();
            args.push(f);
            assert_eq!(lines("verify", &args, b"").len(), 1, "{file:?}");
        }
        let verify = &lines("verify", &[os("verify"), os("--json"), f], b"")[0];
        let stat = &lines("stat", &[os("stat"), os("--json"), f], b"")[0];
        // The same concept reads the same in both.
        for key in ["status", "records", "file_len", "torn", "corruption_count"] {
            assert_eq!(verify[key], stat[key], "{key} of {file:?}");
        }
        for flags in [
            &["dump", "--json"][..],
            &["dump", "--json", "--no-verify"],
            &["dump", "--json", "--headers", "--no-verify"],
        ] {
            let mut args: Vec<&std::ffi::OsStr> = flags.iter().map(|s| os(s)).collect();
            args.push(f);
            lines("dump", &args, b"");
        }
        let repaired = &lines(
            "repair",
            &[os("repair"), os("--dry-run"), os("--json"), f],
            b"",
        )[0];
        assert_eq!(repaired["status"], verify["status"], "{file:?}");
        assert_eq!(repaired["file_len"], verify["file_len"], "{file:?}");
        let salvaged = tmp.path().join("salvaged.plog");
        let _ = std::fs::remove_file(&salvaged);
        lines(
            "repair",
            &[
                os("repair"),
                os("--json"),
                os("--salvage"),
                salvaged.as_os_str(),
                f,
            ],
            b"",
        );
        let copy = tmp.path().join("copy.plog");
        std::fs::copy(&file, &copy).unwrap();
        lines(
            "repair",
            &[os("repair"), os("--json"), copy.as_os_str()],
            b"",
        );
        std::fs::copy(&file, &copy).unwrap();
        let appended = lines(
            "append",
            &[
                os("append"),
                os("--json"),
                os("--index"),
                os("1000"),
                copy.as_os_str(),
            ],
            b"{\"a\":1}\n",
        );
        assert_eq!(appended.len(), 1, "{file:?}");
    }
}

#[test]
fn a_path_that_cannot_be_read_gives_the_same_error_object_in_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.plog");
    let m = missing.as_os_str();
    let empty = tmp.path().join("empty-dir");
    std::fs::create_dir(&empty).unwrap();
    let cases: [(&str, Vec<&std::ffi::OsStr>); 8] = [
        ("verify", vec![os("verify"), os("--json"), m]),
        ("dump", vec![os("dump"), os("--json"), m]),
        ("dump-raft", vec![os("dump"), os("--raft"), os("--json"), m]),
        ("stat", vec![os("stat"), os("--json"), m]),
        ("repair", vec![os("repair"), os("--json"), m]),
        (
            "repair",
            vec![os("repair"), os("--dry-run"), os("--json"), m],
        ),
        (
            "repair",
            vec![
                os("repair"),
                os("--json"),
                os("--salvage"),
                os("/dev/null"),
                m,
            ],
        ),
        (
            "append",
            vec![os("append"), os("--json"), empty.as_os_str()],
        ),
    ];
    let mut errors = Vec::new();
    for (name, args) in &cases {
        let out = plog().args(args).write_stdin("{}\n").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let got = json_lines(&out.stdout);
        assert_eq!(got.len(), 1, "one error object for {args:?}");
        assert_schema(name, &got[0]);
        assert_schema("error", &got[0]);
        // The text says the same after `plog: PATH: ` (verify prints it on
        // stdout as its line for the file).
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error = got[0]["error"].as_str().unwrap();
        if *name != "verify" {
            assert!(stderr.contains(error), "{args:?}: {stderr} / {error}");
        }
        errors.push((args.clone(), error.to_string()));
    }
    // One wording for a missing file, whatever the command.
    for (args, error) in &errors[..7] {
        if args.contains(&os("--raft")) {
            continue;
        }
        assert_eq!(error, "cannot open: no such file or directory", "{args:?}");
    }
    // An empty directory: the error object too, not silence.
    let out = plog()
        .args([os("verify"), os("--json"), empty.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let got = json_lines(&out.stdout);
    assert_eq!(got.len(), 1);
    assert_schema("verify", &got[0]);
    assert_schema("error", &got[0]);
    assert_eq!(got[0]["path"], empty.to_str().unwrap());
}

/// The type of a property schema: its `$ref`'s, its `anyOf`'s (or
/// `oneOf`'s) without `null`, an `enum`'s or `const`'s (string), or `type` without `null`; `any` for a
/// value of any type.
fn type_of(prop: &Value, defs: &Value) -> String {
    if let Some(r) = prop.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return type_of(&defs[name], defs);
    }
    if let Some(any) = prop
        .get("anyOf")
        .or_else(|| prop.get("oneOf"))
        .and_then(Value::as_array)
    {
        let mut types: Vec<String> = any
            .iter()
            .filter(|s| s.get("type") != Some(&Value::from("null")))
            .map(|s| type_of(s, defs))
            .collect();
        types.sort();
        types.dedup();
        return types.join("|");
    }
    if prop.get("enum").is_some() || prop.get("const").is_some() {
        return "string".to_string();
    }
    match prop.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter(|t| *t != "null")
            .map(|t| t.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("|"),
        _ => "any".to_string(),
    }
}

#[test]
fn one_key_has_one_type_and_one_meaning_in_every_schema() {
    // key -> (type, where), over every object of every schema.
    let mut seen: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for name in SCHEMAS {
        let schema = schema(name);
        let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
        let mut objects: Vec<(String, &Value)> = vec![(name.to_string(), &schema)];
        if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
            objects.extend(defs.iter().map(|(d, s)| (format!("{name}#{d}"), s)));
        }
        for (at, object) in objects {
            let Some(props) = object.get("properties").and_then(Value::as_object) else {
                continue;
            };
            // A byte count is a range's length, beside its offset; a file's
            // length is `file_len` (or `segments_len`: the sum of a
            // plog-raft log's), nowhere anything else.
            if props.contains_key("bytes") {
                assert!(props.contains_key("offset"), "{at}: bytes without offset");
            }
            for old in ["len", "log_len", "new_len", "kind_str", "corruptions_total"] {
                assert!(!props.contains_key(old), "{at} has the old key {old}");
            }
            for (key, prop) in props {
                seen.entry(key.clone())
                    .or_default()
                    .push((type_of(prop, &defs), at.clone()));
                match key.as_str() {
                    // `status` is the log's status, nothing else.
                    "status" => assert_eq!(prop["$ref"], "#/$defs/Status", "{at}"),
                    "verdict" => assert_eq!(prop["$ref"], "#/$defs/Verdict", "{at}"),
                    // `corruptions` is a list of corruption objects.
                    "corruptions" => {
                        assert_eq!(prop["items"]["$ref"], "#/$defs/Corruption", "{at}")
                    }
                    "error" => assert_eq!(type_of(prop, &defs), "string", "{at}"),
                    _ => {}
                }
            }
        }
        if let Some(status) = defs.get("Status") {
            let values: Vec<&str> = status["enum"]
                .as_array()
                .map(|v| v.iter().map(|s| s.as_str().unwrap()).collect())
                .unwrap_or_else(|| {
                    status["oneOf"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["const"].as_str().unwrap())
                        .collect()
                });
            assert_eq!(values, ["clean", "torn", "corrupt"], "{name}");
        }
        if let Some(torn) = defs.get("Torn") {
            // A torn tail's cause is `reason`, as in plog-format.
            assert!(torn["properties"].get("reason").is_some(), "{name}");
            assert!(torn["properties"].get("kind").is_none(), "{name}");
        }
    }
    for (key, uses) in &seen {
        let types: std::collections::BTreeSet<&String> = uses.iter().map(|(t, _)| t).collect();
        assert_eq!(types.len(), 1, "`{key}` has several types: {uses:?}");
    }
    assert!(seen.len() > 40, "the schemas were read: {:?}", seen.keys());
}

#[test]
fn the_schemas_say_what_the_readme_says() {
    // The vocabulary is documented once: each key of every schema is in
    // the README's JSON section.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let section = readme
        .split("### JSON vocabulary")
        .nth(1)
        .expect("README.md has a `### JSON vocabulary` section");
    let section = section.split("\n## ").next().unwrap();
    for name in SCHEMAS {
        let schema = schema(name);
        let mut objects = vec![&schema];
        if let Some(defs) = schema.get("$defs").and_then(Value::as_object) {
            objects.extend(defs.values());
        }
        for object in objects {
            for key in object
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|p| p.keys())
            {
                assert!(
                    section.contains(&format!("`{key}`")),
                    "README's JSON vocabulary does not name `{key}` ({name}.json)"
                );
            }
        }
    }
}
