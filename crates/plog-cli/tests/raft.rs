//! `plog verify DIR` and `plog dump --raft DIR` on plog-raft directories
//! written through plog-raft's own API, against the real binary.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;

use common::{assert_schema, json_lines, plog, write_log};
use openraft::{BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, Membership};
use plog_raft::{Options, PlogLogStore};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The application's command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Request {
    key: String,
    value: String,
}

openraft::declare_raft_types!(
    /// The type config of these tests.
    Config: D = Request, R = ()
);

/// A value with bytes a terminal must not see raw: an escape sequence
/// (serde_json writes `\u001b`), a newline, and C1 / bidi characters (which
/// serde_json leaves as they are).
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\nline\u{85}\u{202e}gpj";

fn id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 7), index)
}

fn normal(term: u64, index: u64, value: String) -> Entry<Config> {
    Entry {
        log_id: id(term, index),
        payload: EntryPayload::Normal(Request {
            key: format!("k{index}"),
            value,
        }),
    }
}

fn append(store: &mut PlogLogStore<Config>, entries: Vec<Entry<Config>>) {
    let (tx, rx) = mpsc::channel();
    store
        .append_with(entries, move |r| tx.send(r).unwrap())
        .unwrap();
    rx.recv().unwrap().unwrap();
}

/// A log of 40 entries in several segments: 1 blank and 2 membership in
/// term 1, then normal entries 3..=40 in term 2 (entry 5 carries
/// [`HOSTILE`]), written 4 at a time. The store is returned closed.
fn write_raft_dir(dir: &Path, value_len: usize, last: u64) -> Options {
    let options = Options {
        segment_bytes: 900,
        ..Options::default()
    };
    let mut store = PlogLogStore::<Config>::open(dir, options).unwrap();
    let members: BTreeMap<u64, BasicNode> = [(7, BasicNode::default())].into();
    append(
        &mut store,
        vec![
            Entry {
                log_id: id(1, 1),
                payload: EntryPayload::Blank,
            },
            Entry {
                log_id: id(1, 2),
                payload: EntryPayload::Membership(Membership::new(vec![[7].into()], members)),
            },
        ],
    );
    for first in (3..=last).step_by(4) {
        let batch = (first..(first + 4).min(last + 1))
            .map(|i| {
                let value = if i == 5 {
                    HOSTILE.to_string()
                } else {
                    "v".repeat(value_len)
                };
                normal(2, i, value)
            })
            .collect();
        append(&mut store, batch);
    }
    drop(store);
    options
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.len() == 25 && name.ends_with(".plog")
        })
        .collect();
    all.sort();
    all
}

/// The (offset, end) of every record of a segment.
fn records(bytes: &[u8]) -> Vec<(u64, u64)> {
    plog_format::Walker::new(bytes)
        .filter_map(|s| match s {
            plog_format::Step::Record(r) => Some((r.offset(), r.end_offset())),
            _ => None,
        })
        .collect()
}

fn indices(lines: &[Value]) -> Vec<u64> {
    lines.iter().map(|l| l["index"].as_u64().unwrap()).collect()
}

#[test]
fn verify_checks_a_raft_directory_as_one_log_and_dump_prints_its_entries() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("raft");
    write_raft_dir(&dir, 20, 40);
    let segs = segments(&dir);
    assert!(segs.len() >= 3, "{segs:?}");

    // Text: one line for the log, then the summary.
    let out = plog().arg("verify").arg(&dir).assert().code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(": OK (plog-raft log, 40 entries, index 1..40, "),
        "{text}"
    );
    assert!(lines[1].contains("1 file: 1 clean"), "{text}");

    // JSON: one object in verify's vocabulary, with the log's own fields.
    let out = plog().args(["verify", "--json"]).arg(&dir).assert().code(0);
    let objects = json_lines(&out.get_output().stdout);
    assert_eq!(objects.len(), 1);
    let log = &objects[0];
    assert_schema("verify", log);
    assert_eq!(log["log"], "plog-raft");
    assert_eq!(log["status"], "clean");
    assert_eq!(log["verdict"], "clean");
    assert_eq!(log["entries"], 40);
    assert_eq!(
        (log["first_index"].clone(), log["last_index"].clone()),
        (json!(1), json!(40))
    );
    assert_eq!(log["in_use"], false);
    let listed = log["segments"].as_array().unwrap();
    assert_eq!(listed.len(), segs.len());
    let mut next = 1;
    for (s, path) in listed.iter().zip(&segs) {
        assert_eq!(s["path"], path.to_str().unwrap());
        assert_eq!(s["first_index"], next);
        next = s["last_index"].as_u64().unwrap() + 1;
    }
    assert_eq!(next, 41);

    // The parent directory: the log is one object beside an ordinary log,
    // its segments and state file are not verified one by one.
    write_log(&top.path().join("plain.plog"), &[(1, b"{}")]);
    let out = plog()
        .args(["verify", "--json"])
        .arg(top.path())
        .assert()
        .code(0);
    let objects = json_lines(&out.get_output().stdout);
    let paths: Vec<&str> = objects
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            dir.to_str().unwrap(),
            top.path().join("plain.plog").to_str().unwrap()
        ]
    );
    assert_eq!(objects[1].get("log"), None);
    // A segment named on the command line is still a file.
    let out = plog().args(["verify", "--json"]).arg(&segs[0]).assert();
    let objects = json_lines(&out.get_output().stdout);
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].get("log"), None);

    // --quiet prints nothing for a clean log; a running store is named.
    let out = plog()
        .args(["verify", "--quiet"])
        .arg(&dir)
        .assert()
        .code(0);
    assert!(out.get_output().stdout.is_empty());
    let store = PlogLogStore::<Config>::open(&dir, Options::default()).unwrap();
    let out = plog().args(["verify", "--json"]).arg(&dir).assert().code(0);
    assert_eq!(json_lines(&out.get_output().stdout)[0]["in_use"], true);
    let out = plog().arg("verify").arg(&dir).assert().code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains(", in use by a running store)"), "{text}");
    drop(store);

    // dump --raft --json: every entry, log id, kind and payload.
    let out = plog()
        .args(["dump", "--raft", "--json"])
        .arg(&dir)
        .assert()
        .code(0);
    let entries = json_lines(&out.get_output().stdout);
    assert_eq!(indices(&entries), (1..=40).collect::<Vec<_>>());
    for e in &entries {
        assert_schema("dump-raft", e);
        let index = e["index"].as_u64().unwrap();
        assert_eq!(e["node"], 7);
        let (term, kind) = match index {
            1 => (1, "blank"),
            2 => (1, "membership"),
            _ => (2, "normal"),
        };
        assert_eq!(
            (e["term"].as_u64().unwrap(), e["kind"].as_str().unwrap()),
            (term, kind)
        );
        match kind {
            "blank" => assert_eq!(e["payload"], Value::Null),
            "membership" => assert!(e["payload"]["configs"].is_array(), "{e}"),
            _ => {
                let value = if index == 5 {
                    HOSTILE.to_string()
                } else {
                    "v".repeat(20)
                };
                assert_eq!(
                    e["payload"],
                    json!({"key": format!("k{index}"), "value": value})
                );
            }
        }
    }

    // Text: etcd-dump-logs-like lines, control characters escaped.
    let out = plog().args(["dump", "--raft"]).arg(&dir).assert().code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        !text
            .chars()
            .any(|c| c != '\n' && (c.is_control() || c == '\u{202e}'))
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 40);
    assert_eq!(lines[0], "term=1 node=7 index=1 kind=blank");
    assert!(
        lines[1].starts_with("term=1 node=7 index=2 kind=membership {"),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[4],
        "term=2 node=7 index=5 kind=normal \
         {\"key\":\"k5\",\"value\":\"\\\\u001b]0;pwned\\\\u0007\\\\nline\\u{0085}\\u{202e}gpj\"}"
    );

    // --from / --to / --limit.
    let dump = |args: &[&str]| {
        let out = plog()
            .args(["dump", "--raft", "--json"])
            .args(args)
            .arg(&dir)
            .assert()
            .code(0);
        indices(&json_lines(&out.get_output().stdout))
    };
    assert_eq!(
        dump(&["--from", "5", "--to", "9"]),
        (5..=9).collect::<Vec<_>>()
    );
    assert_eq!(dump(&["--limit", "3"]), [1, 2, 3]);
    assert_eq!(dump(&["--from", "38", "--limit", "10"]), [38, 39, 40]);
    assert_eq!(dump(&["--from", "41"]), Vec::<u64>::new());

    // After a purge: the purged entries still in a segment are not printed.
    let mut store = PlogLogStore::<Config>::open(&dir, Options::default()).unwrap();
    store.purge_to(id(2, 10)).unwrap();
    drop(store);
    assert_eq!(dump(&[]), (11..=40).collect::<Vec<_>>());
    let out = plog().args(["verify", "--json"]).arg(&dir).assert().code(0);
    let log = &json_lines(&out.get_output().stdout)[0];
    assert_schema("verify", log);
    assert_eq!(
        (log["purged_index"].clone(), log["entries"].clone()),
        (json!(10), json!(30))
    );
    assert_eq!(log["state"]["purged"]["index"], 10);
}

#[test]
fn damage_is_corrupt_and_a_torn_append_is_torn() {
    // A damaged durable record in a middle segment: exit 1, nothing dumped.
    let dir = tempfile::tempdir().unwrap();
    write_raft_dir(dir.path(), 20, 40);
    let segs = segments(dir.path());
    let mut bytes = std::fs::read(&segs[1]).unwrap();
    let (offset, _) = records(&bytes)[1];
    bytes[offset as usize + 48 + 5] ^= 1;
    std::fs::write(&segs[1], &bytes).unwrap();
    let out = plog()
        .args(["verify", "--json"])
        .arg(dir.path())
        .assert()
        .code(1);
    let log = &json_lines(&out.get_output().stdout)[0];
    assert_schema("verify", log);
    assert_eq!(log["status"], "corrupt");
    assert_eq!(log["problem"]["kind"], "corrupt");
    assert_eq!(log["problem"]["segment"], segs[1].to_str().unwrap());
    assert_eq!(log["problem"]["offset"], offset);
    let out = plog().arg("verify").arg(dir.path()).assert().code(1);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains(": CORRUPT "), "{text}");
    let out = plog()
        .args(["dump", "--raft"])
        .arg(dir.path())
        .assert()
        .code(1);
    assert!(out.get_output().stdout.is_empty());

    // A torn last write (records of more than a sector each, the last
    // record's payload zeros, preallocated zeros after it): exit 3, 1 with
    // --strict; dump prints the entries before it and exits 3.
    let dir = tempfile::tempdir().unwrap();
    write_raft_dir(dir.path(), 700, 30);
    let last = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    let (offset, end) = *records(&bytes).last().unwrap();
    bytes[offset as usize + 48..end as usize].fill(0);
    bytes.resize(bytes.len() + 4096, 0);
    std::fs::write(&last, &bytes).unwrap();
    let out = plog()
        .args(["verify", "--json"])
        .arg(dir.path())
        .assert()
        .code(3);
    let log = &json_lines(&out.get_output().stdout)[0];
    assert_schema("verify", log);
    assert_eq!(log["status"], "torn");
    assert_eq!(log["verdict"], "torn_tolerated");
    assert_eq!(log["torn"]["offset"], offset);
    assert_eq!(log["torn"]["segment"], last.to_str().unwrap());
    assert_eq!(log["last_index"], 29);
    plog()
        .args(["verify", "--strict"])
        .arg(dir.path())
        .assert()
        .code(1);
    let out = plog().arg("verify").arg(dir.path()).assert().code(3);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains(": TORN at "), "{text}");
    let out = plog()
        .args(["dump", "--raft", "--json"])
        .arg(dir.path())
        .assert()
        .code(3);
    assert_eq!(
        indices(&json_lines(&out.get_output().stdout)),
        (1..=29).collect::<Vec<_>>()
    );

    // A missing middle segment: a gap, with the index expected and found.
    let dir = tempfile::tempdir().unwrap();
    write_raft_dir(dir.path(), 20, 40);
    let segs = segments(dir.path());
    let first_of = |p: &Path| -> u64 { p.file_stem().unwrap().to_str().unwrap().parse().unwrap() };
    std::fs::remove_file(&segs[2]).unwrap();
    let out = plog()
        .args(["verify", "--json"])
        .arg(dir.path())
        .assert()
        .code(1);
    let log = &json_lines(&out.get_output().stdout)[0];
    assert_schema("verify", log);
    assert_eq!(log["problem"]["kind"], "gap");
    assert_eq!(log["problem"]["expected"], first_of(&segs[2]));
    assert_eq!(log["problem"]["found"], first_of(&segs[3]));
    assert_eq!(log["problem"]["segment"], segs[3].to_str().unwrap());

    // Not a plog-raft directory, or no directory at all: exit 2.
    plog()
        .args(["dump", "--raft"])
        .arg(dir.path().join("none"))
        .assert()
        .code(2);
}

#[test]
fn a_closed_pipe_ends_dump_raft_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // About 400 KiB of text: more than a pipe holds.
    write_raft_dir(dir.path(), 4000, 100);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_plog"))
        .args(["dump", "--raft"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with("term=1 node=7 index=1 kind=blank"),
        "{first}"
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
