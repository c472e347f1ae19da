//! The real `plog` binary over the corpus and in end-to-end scenarios.

use std::path::Path;

use assert_cmd::Command;
use plog_testdata::corpus;
use serde_json::Value;

fn plog() -> Command {
    Command::cargo_bin("plog").expect("the plog binary is built")
}

/// Each line of `stdout` parsed as one JSON value.
fn json_lines(stdout: &[u8]) -> Vec<Value> {
    std::str::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The `index` of each line of `plog dump --json` output.
fn dump_indices(stdout: &[u8]) -> Vec<u64> {
    json_lines(stdout)
        .iter()
        .map(|record| record["index"].as_u64().unwrap())
        .collect()
}

fn verify_exit_for(status: &str) -> i32 {
    match status {
        "clean" => 0,
        "torn" => 3,
        "corrupt" => 1,
        other => panic!("unknown status {other}"),
    }
}

#[test]
fn verify_json_agrees_with_expected_json_for_every_corpus_file() {
    for file in corpus() {
        for extra in [&[][..], &["--no-mmap"][..], &["--threads", "1"][..]] {
            let output = plog()
                .arg("verify")
                .arg("--json")
                .args(extra)
                .arg(&file.path)
                .output()
                .unwrap();
            let want = &file.expected;
            assert_eq!(
                output.status.code(),
                Some(verify_exit_for(&want.status)),
                "{}: exit status",
                file.name
            );
            let stdout = String::from_utf8(output.stdout).unwrap();
            assert_eq!(
                stdout.lines().count(),
                1,
                "{}: one line: {stdout}",
                file.name
            );
            let got: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(got["path"], file.path.display().to_string());
            assert_eq!(got["status"], want.status, "{}", file.name);
            assert_eq!(got["records"], want.valid_records as u64, "{}", file.name);
            assert_eq!(
                got["first_index"],
                want.indices.first().map_or(Value::Null, |&i| i.into())
            );
            assert_eq!(
                got["last_index"],
                want.indices.last().map_or(Value::Null, |&i| i.into())
            );
            assert_eq!(got["file_len"], want.file_len);
            assert!(got.get("error").is_none(), "{}", file.name);
            match want.torn_offset {
                None => assert_eq!(got["torn"], Value::Null, "{}", file.name),
                Some(offset) => {
                    assert_eq!(got["torn"]["offset"], offset, "{}", file.name);
                    assert_eq!(
                        got["torn"]["bytes"],
                        want.file_len - offset,
                        "{}",
                        file.name
                    );
                }
            }
            let corruptions = got["corruptions"].as_array().unwrap();
            assert_eq!(corruptions.len(), want.corrupt.len(), "{}", file.name);
            assert_eq!(got["corruptions_omitted"], 0, "{}", file.name);
            for (c, w) in corruptions.iter().zip(&want.corrupt) {
                assert_eq!(c["kind"], w.kind.as_str());
                assert_eq!(c["offset"], w.offset);
                if let Some(index) = w.index {
                    assert_eq!(c["index"], index);
                }
                assert_eq!(
                    c["resync_offset"],
                    w.resync_offset.map_or(Value::Null, Value::from)
                );
            }
        }
    }
}

#[test]
fn verify_many_files_prints_in_order_and_exits_with_the_worst_status() {
    let files = corpus();
    let output = plog()
        .args(["verify", "--json", "--threads", "2"])
        .args(files.iter().map(|f| &f.path))
        .arg("/nonexistent/plog/file")
        .output()
        .unwrap();
    // Corruption (1) outranks an unreadable file (2) and torn tails (3).
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<Value> = json_lines(&output.stdout);
    assert_eq!(lines.len(), files.len() + 1);
    for (line, file) in lines.iter().zip(&files) {
        assert_eq!(line["path"], file.path.display().to_string());
        assert_eq!(line["status"], file.expected.status);
    }
    let missing = lines.last().unwrap();
    // The error object: the path and the error, nothing else.
    assert_eq!(missing.as_object().unwrap().len(), 2, "{missing}");
    assert!(
        missing["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("no such file"),
        "{missing}"
    );
}

#[test]
fn verify_exit_statuses_order_unreadable_over_torn() {
    let dir = corpus_path("torn-in-payload.plog");
    let out = plog()
        .args(["verify", "--quiet"])
        .arg(&dir)
        .arg("/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = plog()
        .args(["verify", "--strict"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "--strict: a torn tail counts as corruption"
    );
    let out = plog()
        .arg("verify")
        .arg(corpus_path("seed-small.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "{}: OK (5 records",
            corpus_path("seed-small.plog").display()
        )),
        "{text}"
    );
    assert!(text.contains("1 file: 1 clean"), "{text}");
}

#[test]
fn verify_expect_reports_index_kinds() {
    let path = corpus_path("noncontiguous.plog"); // indices 1,2,5,4,4
    let out = plog()
        .args(["verify", "--json", "--expect", "contiguous"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["corruptions"], Value::Array(Vec::new()));
    assert_eq!(got["status"], "clean");
    assert_eq!(got["verdict"], "rejected");
    let kinds: Vec<(&str, u64, u64)> = got["index_violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap(),
                c["offset"].as_u64().unwrap(),
                c["index"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("index_gap", 146, 5),
            ("index_order", 208, 4),
            ("index_order", 271, 4)
        ]
    );
    let out = plog()
        .args(["verify", "--json", "--expect", "increasing"])
        .arg(&path)
        .output()
        .unwrap();
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["index_violations"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_usage_and_help() {
    let out = plog().arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "missing PATH is bad usage");
    let out = plog()
        .args(["verify", "--threads", "0", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = plog().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in ["verify", "dump", "stat", "repair", "append", "Exit status"] {
        assert!(help.contains(sub), "--help mentions {sub}");
    }
}

#[test]
fn dump_json_embeds_json_payloads_and_base64_otherwise() {
    let out = plog()
        .args(["dump", "--json"])
        .arg(corpus_path("not-json-payload.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = json_lines(&out.stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["index"], 1);
    assert_eq!(lines[0]["offset"], 26);
    assert!(
        lines[0]["payload"].is_object()
            || lines[0]["payload"].is_array()
            || !lines[0]["payload"].is_null()
    );
    assert!(lines[0].get("payload_base64").is_none());
    assert!(lines[1].get("payload").is_none());
    let raw = lines[1]["payload_base64"].as_str().unwrap();
    assert!(!raw.is_empty());
    assert_eq!(
        lines[1]["payload_len"].as_u64().unwrap() as usize,
        base64_len(raw)
    );
    assert_eq!(lines[1]["hash"].as_str().unwrap().len(), 64);
}

fn base64_len(encoded: &str) -> usize {
    let pad = encoded.bytes().rev().take_while(|&b| b == b'=').count();
    encoded.len() / 4 * 3 - pad
}

#[test]
fn dump_filters_by_index_and_reports_corruption() {
    let out = plog()
        .args(["dump", "--json", "--from", "50", "--to", "52"])
        .arg(corpus_path("seed-k8s-200.plog"))
        .output()
        .unwrap();
    let indices: Vec<u64> = dump_indices(&out.stdout);
    assert_eq!(indices, [50, 51, 52]);

    let out = plog()
        .args(["dump", "--json"])
        .arg(corpus_path("corrupt-payload.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let indices: Vec<u64> = dump_indices(&out.stdout);
    assert_eq!(indices, [1, 2, 4, 5], "the damaged record is skipped");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("hash mismatch in record 3 at offset 291"),
        "{stderr}"
    );

    let out = plog()
        .args(["dump", "--json", "--no-verify"])
        .arg(corpus_path("corrupt-payload.plog"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "printed, the damage still counts"
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        5,
        "--no-verify prints it"
    );
}

#[test]
fn stat_reports_order_and_sizes() {
    let out = plog()
        .args(["stat", "--json"])
        .arg(corpus_path("noncontiguous.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["records"], 5);
    // Index 3 is the only one missing (5 and 4 are both present).
    assert_eq!(
        (s["gaps"].as_u64(), s["missing_indices"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (s["repeats"].as_u64(), s["decreases"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (s["min_index"].as_u64(), s["max_index"].as_u64()),
        (Some(1), Some(5))
    );
    assert!(s["payload_len"]["min"].as_u64() <= s["payload_len"]["median"].as_u64());
    assert!(s["verify_seconds"].as_f64().unwrap() >= 0.0);
    let out = plog()
        .arg("stat")
        .arg(corpus_path("torn-in-payload.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("torn tail      128 bytes at offset 553"),
        "{text}"
    );
}

#[test]
fn errors_are_one_line_without_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            vec!["dump".to_string(), "/nonexistent/x.plog".to_string()],
            // One wording for every subcommand (the issue's item 11).
            "cannot open: no such file or directory",
        ),
        (
            vec!["stat".to_string(), dir.path().display().to_string()],
            "directory",
        ),
    ] {
        let out = plog().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("plog: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
}

fn corpus_path(name: &str) -> std::path::PathBuf {
    plog_testdata::corpus_dir().join(name)
}

fn scratch_copy(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::copy(corpus_path(name), &path).unwrap();
    path
}

fn verify_json(path: &Path) -> Value {
    let out = plog()
        .args(["verify", "--json"])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn repair_dry_run_changes_nothing_then_repair_cuts_and_backs_up_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_copy(dir.path(), "torn-in-payload.plog");
    let before = std::fs::read(&path).unwrap();
    let out = plog()
        .args(["repair", "--dry-run"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("would repair")
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "--dry-run changes nothing"
    );

    let backup = dir.path().join("cut.bin");
    let out = plog()
        .arg("repair")
        .arg("--backup")
        .arg(&backup)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = std::fs::read(&path).unwrap();
    assert_eq!(
        after,
        before[..553],
        "cut at the end of the last valid record"
    );
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        before[553..],
        "the cut bytes are saved"
    );
    assert_eq!(verify_json(&path)["status"], "clean");

    // An existing backup file is never overwritten.
    let path = scratch_copy(dir.path(), "zero-tail.plog");
    let out = plog()
        .arg("repair")
        .arg("--backup")
        .arg(&backup)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(corpus_path("zero-tail.plog")).unwrap()
    );
}

#[test]
fn repair_refuses_corruption_before_the_tail_and_salvage_recovers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_copy(dir.path(), "corrupt-length-midfile.plog");
    let before = std::fs::read(&path).unwrap();
    let out = plog().arg("repair").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("refusing") && stderr.contains("--salvage"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let good = dir.path().join("good.plog");
    let out = plog()
        .arg("repair")
        .arg("--salvage")
        .arg(&good)
        .arg("--dry-run")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!good.exists(), "--dry-run writes nothing");
    let out = plog()
        .arg("repair")
        .arg("--salvage")
        .arg(&good)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("lost: bytes 158..291 (133 bytes, 1 corruption), index 2"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "salvage leaves the source alone"
    );
    let report = verify_json(&good);
    assert_eq!(report["status"], "clean");
    assert_eq!(report["records"], 4);
    let out = plog().args(["dump", "--json"]).arg(&good).output().unwrap();
    let indices: Vec<u64> = dump_indices(&out.stdout);
    assert_eq!(indices, [1, 3, 4, 5]);
}

#[test]
fn repair_drops_a_corrupt_final_record_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_copy(dir.path(), "corrupt-last-record.plog");
    let out = plog().arg("repair").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("--drop-corrupt-tail")
    );
    let out = plog()
        .args(["repair", "--drop-corrupt-tail"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report = verify_json(&path);
    assert_eq!(
        (report["status"].as_str(), report["records"].as_u64()),
        (Some("clean"), Some(4))
    );
    assert_eq!(report["file_len"], 553);
}

/// Four records and a fifth of 2,000 bytes whose write over preallocated
/// zeros a crash cut at the sector boundary `cut`, with zeros after: the
/// file, and where the fifth record starts.
fn log_with_a_cut_append(path: &Path) -> (Vec<u8>, u64) {
    let mut bytes = plog_format::MAGIC.to_vec();
    for i in 1..=4 {
        plog_format::encode_record_to_vec(i, &plog_testdata::k8s_payload(i, 300), &mut bytes);
    }
    let fifth = bytes.len() as u64;
    plog_format::encode_record_to_vec(5, &plog_testdata::k8s_payload(5, 2000), &mut bytes);
    bytes.resize(bytes.len() + 4096, 0);
    let cut = (fifth as usize / 512 + 2) * 512;
    bytes[cut..].fill(0);
    std::fs::write(path, &bytes).unwrap();
    (bytes, fifth)
}

#[test]
fn a_final_write_a_crash_cut_over_zeros_is_named_by_verify_and_dropped_by_repair() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.plog");
    let (bytes, fifth) = log_with_a_cut_append(&path);
    let cut = (fifth / 512 + 2) * 512;
    // verify: the contract's hash mismatch, with its zeroed sector.
    let report = verify_json(&path);
    assert_eq!(report["status"], "corrupt");
    let corruption = &report["corruptions"][0];
    assert_eq!(
        (
            &corruption["kind"],
            &corruption["offset"],
            &corruption["zeroed_sector"]
        ),
        (
            &Value::from("hash_mismatch"),
            &Value::from(fifth),
            &Value::from(cut)
        )
    );
    // A dry run says what would be cut and changes nothing.
    let out = plog()
        .args(["repair", "--dry-run", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["action"], "drop_torn_append");
    assert_eq!(plan["new_file_len"], fifth);
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // The repair drops it, without --drop-corrupt-tail.
    let out = plog()
        .args(["repair", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&done["action"], &done["changed"]),
        (&Value::from("drop_torn_append"), &Value::from(true))
    );
    let report = verify_json(&path);
    assert_eq!(
        (report["status"].as_str(), report["records"].as_u64()),
        (Some("clean"), Some(4))
    );
    // `append` drops it on open and says so.
    log_with_a_cut_append(&path);
    let out = plog()
        .args(["append", "--json", "--index", "5"])
        .arg(&path)
        .write_stdin("{\"n\":5}\n")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let appended: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(appended["dropped_on_open"]["offset"], fifth);
    assert_eq!(appended["dropped_on_open"]["zeroed_sector"], cut);
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropped the final record"));
    let report = verify_json(&path);
    assert_eq!(
        (report["status"].as_str(), report["records"].as_u64()),
        (Some("clean"), Some(5))
    );
}

#[test]
fn append_reads_json_lines_and_stops_at_a_bad_line_keeping_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/new.plog");
    let out = plog()
        .arg("append")
        .arg(&path)
        .write_stdin("{\"kind\":\"Pod\",\"name\":\"a\"}\n[1,2]\n\"text\"\n")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = plog()
        .args(["append", "--sync-every", "10"])
        .arg(&path)
        .write_stdin("{\"n\":4}\r\n{\"n\":5}\nthis is not json\n{\"n\":7}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("line 3: not JSON") && stderr.contains("indices 4..5"),
        "{stderr}"
    );
    let out = plog().args(["dump", "--json"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let records: Vec<Value> = json_lines(&out.stdout);
    let got: Vec<(u64, String)> = records
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["payload"].to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (1, r#"{"kind":"Pod","name":"a"}"#.to_string()),
            (2, "[1,2]".to_string()),
            (3, "\"text\"".to_string()),
            (4, r#"{"n":4}"#.to_string()),
            (5, r#"{"n":5}"#.to_string()),
        ]
    );
    // --index sets the first index of the run.
    let out = plog()
        .args(["append", "--index", "100"])
        .arg(&path)
        .write_stdin("{}\n{}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(verify_json(&path)["last_index"], 101);
}

#[test]
fn append_refuses_while_another_writer_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.plog");
    let (_writer, _) =
        plog_writer::Writer::open(&path, plog_writer::WriterOptions::default()).unwrap();
    let out = plog()
        .arg("append")
        .arg(&path)
        .write_stdin("{}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("locked"));
    let out = plog().arg("repair").arg(&path).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "repair needs the writer's lock too"
    );
}

#[test]
fn dump_follow_prints_records_appended_by_a_concurrent_writer() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command as StdCommand, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.plog");
    let (mut writer, _) =
        plog_writer::Writer::open(&path, plog_writer::WriterOptions::default()).unwrap();
    writer.append_raw(1, br#"{"n":1}"#).unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("plog"))
        .args(["dump", "--json", "--follow"])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // A watchdog: if dump --follow stopped printing, the reads below would
    // block forever; kill it after a minute so the test fails instead.
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        let _ = StdCommand::new("kill").args(["-9", &pid]).status();
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut indices = Vec::new();
    indices.push(
        serde_json::from_str::<Value>(&lines.next().unwrap().unwrap()).unwrap()["index"]
            .as_u64()
            .unwrap(),
    );
    for n in 2..=30u64 {
        writer
            .append_raw(n, format!("{{\"n\":{n}}}").as_bytes())
            .unwrap();
        if n % 10 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
    }
    while indices.len() < 30 {
        let line = lines.next().expect("dump --follow keeps printing").unwrap();
        indices.push(
            serde_json::from_str::<Value>(&line).unwrap()["index"]
                .as_u64()
                .unwrap(),
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(indices, (1..=30).collect::<Vec<_>>());
}

#[test]
fn verify_of_a_directory_verifies_a_linked_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    std::fs::copy(corpus_path("seed-small.plog"), &path).unwrap();
    std::os::unix::fs::symlink(&path, dir.path().join("b.plog")).unwrap();
    let out = plog()
        .args(["verify", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["path"], path.to_str().unwrap());
    // `[..]` and `{a,b}` below a directory (globset).
    let out = plog()
        .args(["verify", "--json", "--glob", "{x,[ab]}.plog"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(json_lines(&out.stdout).len(), 1);
}
