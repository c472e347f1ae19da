//! The defects of the new-user report and the features it asked for, each
//! against the real `plog` binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::{assert_schema, corpus_path, json_lines, plog, write_log};
use serde_json::Value;

fn stdout_text(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr_text(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Waits for `child` at most `limit`; kills it and fails if it is still running.
fn wait_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `plog ARGS PATH | head -1`: reads the first line, closes the pipe,
/// runs `then`, and checks that plog ends quietly with status 0 within 20 s.
fn head_1(args: &[&str], path: &std::path::Path, then: impl FnOnce()) -> String {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("plog"))
        .args(args)
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    drop(reader); // `head -1` exits
    then();
    let status = wait_within(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{args:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(stderr.is_empty(), "quietly: {stderr}");
    first
}

// 1. `dump --follow | head -1` ends once the reader is gone.
#[test]
fn dump_follow_ends_with_status_0_when_the_reader_closes_the_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.plog");
    let (mut writer, _) =
        plog_writer::Writer::open(&path, plog_writer::WriterOptions::default()).unwrap();
    for n in 1..=3u64 {
        writer.append_raw(n, br#"{"n":1}"#).unwrap();
    }
    let first = head_1(&["dump", "--follow"], &path, || {
        // The next records' writes meet the closed pipe.
        for n in 4..=6u64 {
            writer.append_raw(n, br#"{"n":1}"#).unwrap();
            std::thread::sleep(Duration::from_millis(150));
        }
    });
    assert!(first.starts_with("index=1 "), "{first}");
}

// 2. No line is dropped silently when indices run out.
#[test]
fn append_fails_on_the_line_that_has_no_index_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ov.plog");
    let out = plog()
        .args(["append", "--index", "18446744073709551614"])
        .arg(&path)
        .write_stdin("{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_text(&out));
    let stderr = stderr_text(&out);
    assert!(
        stderr.contains("line 3") && stderr.contains("u64::MAX"),
        "{stderr}"
    );
    let dump = plog().args(["dump", "--json"]).arg(&path).output().unwrap();
    let indices: Vec<u64> = json_lines(&dump.stdout)
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [u64::MAX - 1, u64::MAX]);
    // Two lines fit exactly: success.
    let path = dir.path().join("fits.plog");
    let out = plog()
        .args(["append", "--index", "18446744073709551614"])
        .arg(&path)
        .write_stdin("{\"x\":1}\n{\"x\":2}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
}

// 3. Text output cannot drive the terminal or forge lines.
#[test]
fn text_dump_escapes_control_bytes_and_non_utf8_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.plog");
    write_log(
        &path,
        &[
            (1, b"line\rOVERWRITE"),
            (2, b"\x1b]0;pwned-title\x07"),
            (3, b"two\nlines"),
            (4, b"\xff\xfe bytes"),
            (5, "caf\u{e9} \\ ok".as_bytes()),
        ],
    );
    let out = plog().arg("dump").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout_text(&out);
    assert!(!text.contains(['\r', '\x1b', '\x07']), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].ends_with(" line\\rOVERWRITE"), "{}", lines[0]);
    assert!(
        lines[1].ends_with(" \\x1b]0;pwned-title\\x07"),
        "{}",
        lines[1]
    );
    assert!(lines[2].ends_with(" two\\nlines"), "{}", lines[2]);
    assert!(lines[3].ends_with(" \\xff\\xfe bytes"), "{}", lines[3]);
    assert!(lines[4].ends_with(" caf\u{e9} \\\\ ok"), "{}", lines[4]);
}

#[cfg(unix)]
#[test]
fn verify_escapes_file_names_so_one_file_cannot_forge_another_line() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let forged = dir
        .path()
        .join("x.plog: OK (5 records, 686 bytes)\nreal.plog");
    std::fs::copy(corpus_path("corrupt-payload.plog"), &forged).unwrap();
    let control = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"t\x1b[2Jitle\xff.plog"));
    std::fs::copy(corpus_path("seed-small.plog"), &control).unwrap();
    let out = plog().arg("verify").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_text(&out);
    assert!(!text.contains('\x1b'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "two files and the summary: {text}");
    // Each file's line starts with the directory: no line is forged.
    let dir_text = dir.path().to_str().unwrap();
    assert!(lines[..2].iter().all(|l| l.starts_with(dir_text)), "{text}");
    assert!(
        lines.iter().any(|l| l.contains("\\nreal.plog: CORRUPT")),
        "{text}"
    );
    assert!(text.contains("t\\x1b[2Jitle\\xff.plog: OK"), "{text}");
    // JSON: the exact bytes of a name that is not UTF-8.
    let out = plog()
        .args(["verify", "--json"])
        .arg(&control)
        .output()
        .unwrap();
    let got = &json_lines(&out.stdout)[0];
    assert_schema("verify", got);
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(got["path_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, control.as_os_str().as_bytes());
    // A UTF-8 name has no path_base64.
    let out = plog()
        .args(["verify", "--json"])
        .arg(&forged)
        .output()
        .unwrap();
    let got = &json_lines(&out.stdout)[0];
    assert_eq!(got["path"], forged.to_str().unwrap());
    assert!(got.get("path_base64").is_none());
}

// 4. `dump --json` is one object per line, whatever the payload's layout.
#[test]
fn dump_json_puts_multiline_json_payloads_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pretty.plog");
    let pretty = b"{\n  \"kind\": \"Pod\",\n  \"spec\": [1,\r\n 2]\n}";
    write_log(
        &path,
        &[
            (1, pretty),
            (2, b"[\n]"),
            (3, b"{}"),
            (4, b"\"a\\nb\""),
            (5, b"\n7\n"),
        ],
    );
    let out = plog().args(["dump", "--json"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout_text(&out);
    assert_eq!(text.lines().count(), 5, "{text}");
    let records = json_lines(&out.stdout);
    for (record, raw) in records
        .iter()
        .zip([&pretty[..], b"[\n]", b"{}", b"\"a\\nb\"", b"\n7\n"])
    {
        assert_schema("dump", record);
        let want: Value = serde_json::from_slice(raw).unwrap();
        assert_eq!(record["payload"], want);
        assert_eq!(record["valid"], true);
    }
    // `head -1 | jq`: the first line alone is a whole object.
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["payload"]["kind"], "Pod");
}

// 5. `--quiet` holds for JSON too.
#[test]
fn verify_json_quiet_prints_only_files_that_are_not_clean() {
    let out = plog()
        .args(["verify", "--json", "-q"])
        .arg(corpus_path("seed-small.plog"))
        .arg(corpus_path("torn-in-payload.plog"))
        .arg(corpus_path("empty.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1, "{}", stdout_text(&out));
    assert_eq!(lines[0]["status"], "torn");
    assert_eq!(lines[0]["torn"]["reason"], "partial_payload");
}

// 6. Progress: by bytes within a file, on a terminal only.
#[test]
fn progress_is_drawn_on_a_terminal_and_never_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.plog");
    let payload = vec![b'7'; 1 << 20];
    let records: Vec<(u64, &[u8])> = (1..=80u64).map(|i| (i, &payload[..])).collect();
    write_log(&path, &records);
    // Not a terminal: stderr stays empty, with --json or without.
    for json in [false, true] {
        let mut cmd = plog();
        cmd.arg("verify");
        if json {
            cmd.arg("--json");
        }
        let out = cmd.arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stderr.is_empty(), "{}", stderr_text(&out));
    }
    // A terminal (script(1) gives the command a pty): the bar counts bytes,
    // with --json too (stdout still holds only the JSON line).
    if StdCommand::new("script").arg("--version").output().is_err() {
        eprintln!("script(1) is missing: the terminal half is skipped");
        return;
    }
    let transcript = dir.path().join("tty.txt");
    let shell = format!(
        "{} verify --json {} 2>&1",
        assert_cmd::cargo::cargo_bin("plog").display(),
        path.display()
    );
    let status = StdCommand::new("script")
        .args(["-qec", &shell])
        .arg(&transcript)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let seen = String::from_utf8_lossy(&std::fs::read(&transcript).unwrap()).into_owned();
    assert!(seen.contains("MiB"), "a byte count is drawn: {seen:?}");
    assert!(seen.contains("\"status\":\"clean\""), "{seen:?}");
}

// 7. `stat`: exactly the missing indices, listed; corruption kinds.
#[test]
fn stat_counts_and_lists_exactly_the_missing_indices_and_names_corruption_kinds() {
    let out = plog()
        .args(["stat", "--json"])
        .arg(corpus_path("noncontiguous.plog")) // indices 1,2,5,4,4
        .output()
        .unwrap();
    let s = &json_lines(&out.stdout)[0];
    assert_schema("stat", s);
    assert_eq!(s["missing_indices"], 1);
    assert_eq!(s["missing_ranges"], serde_json::json!([[3, 3]]));
    let out = plog()
        .arg("stat")
        .arg(corpus_path("noncontiguous.plog"))
        .output()
        .unwrap();
    let text = stdout_text(&out);
    assert!(text.contains("1 index missing: 3"), "{text}");
    assert!(
        text.contains("index          1..5 (first 1 last 4)"),
        "{text}"
    );

    let out = plog()
        .args(["stat", "--json"])
        .arg(corpus_path("corrupt-length-midfile.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let s = &json_lines(&out.stdout)[0];
    assert_schema("stat", s);
    assert_eq!(s["corruptions_by_kind"], serde_json::json!({"length": 1}));
    let out = plog()
        .arg("stat")
        .arg(corpus_path("corrupt-length-midfile.plog"))
        .output()
        .unwrap();
    assert!(stdout_text(&out).contains("corruptions    1 (length 1)"));
}

// 8. Salvage names the index that verify names.
#[test]
fn salvage_names_lost_indices_from_the_damaged_headers_when_no_neighbour_does() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("good.plog");
    let out = plog()
        .arg("repair")
        .arg("--salvage")
        .arg(&out_path)
        .arg(corpus_path("corrupt-last-record.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_text(&out));
    let text = stdout_text(&out);
    assert!(!text.contains("unknown"), "{text}");
    let verify = plog()
        .args(["verify", "--json"])
        .arg(corpus_path("corrupt-last-record.plog"))
        .output()
        .unwrap();
    let index = json_lines(&verify.stdout)[0]["corruptions"][0]["index"]
        .as_u64()
        .unwrap();
    assert!(
        text.contains(&format!("index {index} (from the damaged headers)")),
        "{text}"
    );
    let out = plog()
        .args(["repair", "--json", "--dry-run", "--salvage"])
        .arg(dir.path().join("other.plog"))
        .arg(corpus_path("corrupt-last-record.plog"))
        .output()
        .unwrap();
    let got = &json_lines(&out.stdout)[0];
    assert_schema("repair", got);
    assert_eq!(got["lost"][0]["first_index"], index);
    assert_eq!(got["lost"][0]["last_index"], index);
    assert_eq!(got["lost"][0]["indices_from"], "headers");
}

// 9. Directories, empty selections, empty ranges, `-`, index ranges.
#[test]
fn verify_of_a_directory_takes_only_plog_files_unless_asked() {
    let out = plog()
        .args(["verify", "--json"])
        .arg(plog_testdata::corpus_dir())
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), plog_testdata::corpus().len());
    assert!(
        lines
            .iter()
            .all(|l| l["path"].as_str().unwrap().ends_with(".plog"))
    );
    let out = plog()
        .args(["verify", "--json", "--all"])
        .arg(plog_testdata::corpus_dir())
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    assert!(
        lines
            .iter()
            .any(|l| l["path"].as_str().unwrap().ends_with("expected.json"))
    );
    let out = plog()
        .args(["verify", "--json", "--glob", "seed-*"])
        .arg(plog_testdata::corpus_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_lines(&out.stdout).len(), 2);
}

#[test]
fn nothing_to_do_is_an_error_not_silence() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
    let out = plog().arg("verify").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout_text(&out).is_empty());
    let stderr = stderr_text(&out);
    assert!(
        stderr.contains("no file") && stderr.contains("--all"),
        "{stderr}"
    );
    let out = plog()
        .args(["dump", "--from", "4", "--to", "2"])
        .arg(corpus_path("seed-small.plog"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_text(&out).contains("--from 4 is past --to 2"));
}

#[test]
fn a_dash_reads_standard_input() {
    let bytes = std::fs::read(corpus_path("noncontiguous.plog")).unwrap();
    let out = plog()
        .args(["verify", "--json", "-"])
        .write_stdin(bytes.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let got = &json_lines(&out.stdout)[0];
    assert_eq!(
        (got["path"].as_str(), got["records"].as_u64()),
        (Some("-"), Some(5))
    );
    let out = plog()
        .args(["dump", "--json", "-"])
        .write_stdin(bytes.clone())
        .output()
        .unwrap();
    assert_eq!(json_lines(&out.stdout).len(), 5);
    let out = plog()
        .args(["stat", "--json", "-"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    assert_eq!(json_lines(&out.stdout)[0]["records"], 5);
}

#[test]
fn verify_shows_the_index_range_as_min_to_max_and_json_has_both() {
    let path = corpus_path("noncontiguous.plog"); // indices 1,2,5,4,4
    let out = plog().arg("verify").arg(&path).output().unwrap();
    let text = stdout_text(&out);
    assert!(
        text.contains("OK (5 records, index 1..5, 323 bytes)"),
        "{text}"
    );
    let out = plog()
        .args(["verify", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let got = &json_lines(&out.stdout)[0];
    assert_eq!(
        [
            &got["first_index"],
            &got["last_index"],
            &got["min_index"],
            &got["max_index"]
        ],
        [1, 4, 1, 5]
    );
}

// 10. Parallel runs appending to one file never interleave lines.
#[test]
fn parallel_verify_json_runs_do_not_interleave_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many-corruptions.plog");
    // Every record's hash fails: a JSON line of about 100 KB.
    let mut bytes = plog_format::MAGIC.to_vec();
    for i in 0..1500u64 {
        plog_format::encode_record_to_vec(i, b"{}", &mut bytes);
        *bytes.last_mut().unwrap() ^= 1;
    }
    std::fs::write(&path, bytes).unwrap();
    let out_path = dir.path().join("all.jsonl");
    let children: Vec<std::process::Child> = (0..16)
        .map(|_| {
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&out_path)
                .unwrap();
            StdCommand::new(assert_cmd::cargo::cargo_bin("plog"))
                .args(["verify", "--json"])
                .args([&path, &path, &path, &path])
                .stdout(out)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert_eq!(child.wait().unwrap().code(), Some(1));
    }
    let all = std::fs::read(&out_path).unwrap();
    let lines = json_lines(&all);
    assert_eq!(lines.len(), 64);
    for line in &lines {
        assert_eq!(line["corruptions"].as_array().unwrap().len(), 1500);
    }
}

// 11. The smaller ones.
#[test]
fn append_names_an_empty_line_and_gives_a_fitting_hint_for_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.plog");
    let out = plog()
        .arg("append")
        .arg(&path)
        .write_stdin("{}\n\n{}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_text(&out);
    assert!(
        stderr.contains("line 2: expected one JSON value per line, found an empty line")
            && !stderr.contains("EOF while parsing")
            && stderr.contains("1 record (index 1)"),
        "{stderr}"
    );
    let foreign = dir.path().join("bad-magic.plog");
    std::fs::copy(corpus_path("bad-magic.plog"), &foreign).unwrap();
    let out = plog()
        .arg("append")
        .arg(&foreign)
        .write_stdin("{}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_text(&out);
    assert!(
        stderr.contains("not a plog log") && !stderr.contains("--drop-corrupt-tail"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_worded_alike_everywhere_and_is_an_object_in_json() {
    let missing = "/nonexistent/plog/x.plog";
    let mut messages = Vec::new();
    for sub in ["dump", "stat", "verify", "repair"] {
        let out = plog().args([sub, missing]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let text = format!("{}{}", stdout_text(&out), stderr_text(&out));
        let line = text
            .lines()
            .find(|l| l.contains(missing))
            .unwrap()
            .to_string();
        messages.push(line.split(missing).nth(1).unwrap().to_string());
    }
    for m in &messages {
        assert!(
            m.contains("cannot open: no such file or directory"),
            "{messages:?}"
        );
    }
    let out = plog().args(["stat", "--json", missing]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let got = &json_lines(&out.stdout)[0];
    assert_schema("error", got);
    assert_eq!(got["error"], "cannot open: no such file or directory");
}

#[test]
fn counts_of_one_are_singular() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.plog");
    write_log(&path, &[(1, b"{}")]);
    let out = plog().arg("verify").arg(&path).output().unwrap();
    let text = stdout_text(&out);
    assert!(text.contains("OK (1 record, index 1, 76 bytes)"), "{text}");
    assert!(!text.contains("1 records"), "{text}");
}

// JSON everywhere: repair, append, torn kinds, every output against its schema.
#[test]
fn repair_json_says_what_was_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.plog");
    std::fs::copy(corpus_path("torn-in-payload.plog"), &path).unwrap();
    let out = plog()
        .args(["repair", "--json", "--dry-run"])
        .arg(&path)
        .output()
        .unwrap();
    let got = &json_lines(&out.stdout)[0];
    assert_schema("repair", got);
    assert_eq!(
        (
            got["action"].as_str(),
            got["changed"].as_bool(),
            got["dry_run"].as_bool()
        ),
        (Some("truncate_torn_tail"), Some(false), Some(true))
    );
    assert_eq!(got["cut"], serde_json::json!({"offset": 553, "bytes": 128}));
    assert_eq!(got["torn"]["reason"], "partial_payload");
    let out = plog()
        .args(["repair", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let got = &json_lines(&out.stdout)[0];
    assert_schema("repair", got);
    assert_eq!(got["changed"], true);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 553);
    // Refused: an object all the same, status 1.
    let bad = dir.path().join("c.plog");
    std::fs::copy(corpus_path("corrupt-length-midfile.plog"), &bad).unwrap();
    let out = plog()
        .args(["repair", "--json"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let got = &json_lines(&out.stdout)[0];
    assert_schema("repair", got);
    assert_eq!(
        (got["action"].as_str(), got["new_file_len"].is_null()),
        (Some("refuse"), true)
    );
    // Cannot even try: the error object.
    let out = plog()
        .args(["repair", "--json", "/nonexistent/plog/x.plog"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_schema("error", &json_lines(&out.stdout)[0]);
}

#[test]
fn append_json_reports_records_and_index_range() {
    let dir = tempfile::tempdir().unwrap();
    // A private directory: nothing to warn about on stderr.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let path = dir.path().join("a.plog");
    let out = plog()
        .args(["append", "--json", "--index", "10"])
        .arg(&path)
        .write_stdin("{}\n[1]\n\"x\"\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", stderr_text(&out));
    let got = &json_lines(&out.stdout)[0];
    assert_schema("append", got);
    assert_eq!(
        [&got["records"], &got["first_index"], &got["last_index"]],
        [3, 10, 12]
    );
    assert_eq!(got["file_len"], std::fs::metadata(&path).unwrap().len());
    assert_eq!(got["error"], serde_json::Value::Null);
    let out = plog()
        .args(["append", "--json"])
        .arg(&path)
        .write_stdin("{}\nnope\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let got = &json_lines(&out.stdout)[0];
    assert_schema("append", got);
    assert_eq!(got["records"].as_u64(), Some(1));
    assert!(got["error"].as_str().unwrap().contains("line 2"));
}

// Every command's JSON on every corpus file against its schema: tests/schema.rs.

// dump: --no-verify marks, --headers, --limit.
#[test]
fn dump_no_verify_marks_records_whose_hash_fails() {
    let path = corpus_path("corrupt-payload.plog"); // record 3's hash fails
    let out = plog()
        .args(["dump", "--json", "--no-verify"])
        .arg(&path)
        .output()
        .unwrap();
    let valid: Vec<(u64, bool)> = json_lines(&out.stdout)
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["valid"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        valid,
        [(1, true), (2, true), (3, false), (4, true), (5, true)]
    );
    let out = plog()
        .args(["dump", "--no-verify"])
        .arg(&path)
        .output()
        .unwrap();
    let text = stdout_text(&out);
    let marked: Vec<&str> = text.lines().filter(|l| l.contains("valid=false")).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].starts_with("index=3 "), "{text}");
}

#[test]
fn dump_headers_prints_no_payload_and_limit_stops() {
    let path = corpus_path("seed-k8s-200.plog");
    let out = plog()
        .args([
            "dump",
            "--json",
            "--headers",
            "--from",
            "10",
            "--limit",
            "3",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let records = json_lines(&out.stdout);
    let indices: Vec<u64> = records
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [10, 11, 12]);
    for r in &records {
        assert!(
            r.get("payload").is_none() && r.get("payload_base64").is_none(),
            "{r}"
        );
        assert_eq!(r["hash"].as_str().unwrap().len(), 64);
    }
    let out = plog()
        .args(["dump", "--headers"])
        .arg(&path)
        .output()
        .unwrap();
    let text = stdout_text(&out);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("index=1 offset=26 len=") && first.contains(" hash="),
        "{first}"
    );
    assert_eq!(first.split(' ').count(), 4, "no payload: {first}");
}

// Completions, manual page, help examples.
#[test]
fn completions_for_every_shell_and_a_manual_page() {
    for (shell, needle) in [
        ("bash", "complete"),
        ("zsh", "#compdef plog"),
        ("fish", "complete -c plog"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion"),
    ] {
        let out = plog().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = stdout_text(&out);
        assert!(
            script.contains(needle) && script.contains("verify"),
            "{shell}"
        );
    }
    let out = plog().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = plog().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = stdout_text(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH plog"),
        "{}",
        &page[..200]
    );
    assert!(page.contains("verify"));
}

#[test]
fn every_help_shows_an_example() {
    for sub in [
        None,
        Some("verify"),
        Some("dump"),
        Some("stat"),
        Some("repair"),
        Some("append"),
        Some("completions"),
        Some("man"),
    ] {
        let mut cmd = plog();
        cmd.args(sub).arg("--help");
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let help = stdout_text(&out);
        let example = format!("plog {}", sub.unwrap_or(""));
        assert!(
            help.contains("Examples:") && help.contains(example.trim_end()),
            "{sub:?}: {help}"
        );
    }
}

#[test]
fn a_closed_pipe_ends_dump_quietly_with_status_0() {
    // `plog dump big | head -1`: the rest (far more than a pipe holds)
    // meets a closed pipe.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.plog");
    let payload = [b'7'; 200];
    let records: Vec<(u64, &[u8])> = (1..=5000u64).map(|i| (i, &payload[..])).collect();
    write_log(&path, &records);
    for args in [&["dump"][..], &["dump", "--json"]] {
        let first = head_1(args, &path, || {});
        assert!(first.contains('1'), "{first}");
    }
}

#[test]
fn repair_and_append_refuse_a_dash_for_the_log() {
    for sub in ["repair", "append"] {
        let out = plog()
            .args([sub, "-"])
            .write_stdin("{}\n")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        assert!(stderr_text(&out).contains("found `-`"), "{sub}");
        assert!(!std::path::Path::new("-").exists());
    }
}
