//! `plog verify s3://...` (issue #24) against a real S3 server started by
//! the test in its own process (s3s-fs: a bucket is a directory, an object
//! a file), bound to 127.0.0.1: the same JSON (but the path) and exit
//! status as the same bytes verified locally.

#![cfg(feature = "remote")]

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{json_lines, plog};
use serde_json::Value;

/// An S3 server over `root` on 127.0.0.1 (stopped with the test process);
/// returns its endpoint.
fn start_server(root: &Path) -> String {
    let fs = s3s_fs::FileSystem::new(root).expect("an s3s-fs root");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    // Requests are signed (SigV4) with the keys plog_s3 gives plog.
    builder.set_auth(s3s::auth::SimpleAuth::from_single("plog-test", "plog-test"));
    let service = builder.build().into_shared();
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let http =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
    });
    let addr = rx.recv().expect("the server starts");
    format!("http://{addr}")
}

/// `plog verify` with the environment of an S3-compatible store.
fn plog_s3(endpoint: &str) -> assert_cmd::Command {
    let mut cmd = plog();
    cmd.env("AWS_ACCESS_KEY_ID", "plog-test")
        .env("AWS_SECRET_ACCESS_KEY", "plog-test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .arg("verify")
        .arg("--endpoint")
        .arg(endpoint);
    cmd
}

/// The lines with `path` taken out, and the paths apart.
fn without_paths(lines: Vec<Value>) -> (Vec<Value>, Vec<String>) {
    let mut paths = Vec::new();
    let lines = lines
        .into_iter()
        .map(|mut line| {
            let path = line
                .as_object_mut()
                .unwrap()
                .remove("path")
                .expect("every line names its path");
            paths.push(path.as_str().unwrap().to_string());
            line
        })
        .collect();
    (lines, paths)
}

#[test]
fn the_corpus_verified_remotely_gives_the_local_json_and_status() {
    let root = tempfile::tempdir().unwrap();
    let bucket = root.path().join("corpus");
    std::fs::create_dir(&bucket).unwrap();
    let corpus = plog_testdata::corpus();
    for file in &corpus {
        std::fs::write(bucket.join(&file.name), &file.bytes).unwrap();
    }
    // expected.json is in the bucket too: --glob's default leaves it out,
    // as it does below a directory.
    std::fs::copy(
        plog_testdata::corpus_dir().join("expected.json"),
        bucket.join("expected.json"),
    )
    .unwrap();
    let endpoint = start_server(root.path());

    let local = plog()
        .args(["verify", "--json"])
        .arg(plog_testdata::corpus_dir())
        .output()
        .unwrap();
    let remote = plog_s3(&endpoint)
        .args(["--json", "s3://corpus/"])
        .output()
        .unwrap();
    assert!(
        remote.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
    let (local_lines, local_paths) = without_paths(json_lines(&local.stdout));
    for line in &json_lines(&remote.stdout) {
        common::assert_schema("verify", line);
    }
    let (remote_lines, remote_paths) = without_paths(json_lines(&remote.stdout));
    assert_eq!(local_lines.len(), corpus.len());
    assert_eq!(remote_lines, local_lines);
    assert_eq!(remote.status.code(), local.status.code());
    let expected_paths: Vec<String> = corpus
        .iter()
        .map(|f| format!("s3://corpus/{}", f.name))
        .collect();
    assert_eq!(remote_paths, expected_paths);
    assert!(local_paths.iter().all(|p| !p.starts_with("s3://")));

    // One object by its key: the line of the same file verified locally.
    let remote = plog_s3(&endpoint)
        .args(["--json", "s3://corpus/seed-small.plog"])
        .output()
        .unwrap();
    let local = plog()
        .args(["verify", "--json"])
        .arg(plog_testdata::corpus_dir().join("seed-small.plog"))
        .output()
        .unwrap();
    assert_eq!(remote.status.code(), Some(0));
    assert_eq!(
        without_paths(json_lines(&remote.stdout)).0,
        without_paths(json_lines(&local.stdout)).0
    );
}

#[test]
fn a_damaged_object_and_a_missing_one_are_reported_as_local_files_are() {
    let root = tempfile::tempdir().unwrap();
    let bucket = root.path().join("logs");
    std::fs::create_dir(&bucket).unwrap();
    // A clean log, with one payload byte flipped: a hash mismatch.
    let clean = std::fs::read(common::corpus_path("seed-small.plog")).unwrap();
    let mut damaged = clean.clone();
    let at = damaged.len() - 3;
    damaged[at] ^= 0x40;
    std::fs::write(bucket.join("damaged.plog"), &damaged).unwrap();
    let local_dir = tempfile::tempdir().unwrap();
    std::fs::write(local_dir.path().join("damaged.plog"), &damaged).unwrap();
    let endpoint = start_server(root.path());

    let remote = plog_s3(&endpoint)
        .args(["--json", "s3://logs/damaged.plog"])
        .output()
        .unwrap();
    let local = plog()
        .args(["verify", "--json"])
        .arg(local_dir.path().join("damaged.plog"))
        .output()
        .unwrap();
    assert_eq!(remote.status.code(), Some(1));
    assert_eq!(remote.status.code(), local.status.code());
    let (remote_lines, _) = without_paths(json_lines(&remote.stdout));
    assert_eq!(remote_lines, without_paths(json_lines(&local.stdout)).0);
    assert_eq!(remote_lines[0]["status"], "corrupt");

    // The text line names the URL, as a local file's names its path.
    let text = plog_s3(&endpoint)
        .arg("s3://logs/damaged.plog")
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("s3://logs/damaged.plog: CORRUPT hash_mismatch at offset "),
        "{text}"
    );
    assert!(
        text.ends_with("1 file: 0 clean, 0 torn, 1 corrupt, 0 unreadable\n"),
        "{text}"
    );

    // A missing object: an error object naming the URL, status 2, as for a
    // missing local file.
    let remote = plog_s3(&endpoint)
        .args(["--json", "s3://logs/missing.plog"])
        .output()
        .unwrap();
    let local = plog()
        .args(["verify", "--json"])
        .arg(local_dir.path().join("missing.plog"))
        .output()
        .unwrap();
    assert_eq!(local.status.code(), Some(2));
    assert_eq!(remote.status.code(), local.status.code());
    let lines = json_lines(&remote.stdout);
    assert_eq!(lines.len(), 1);
    common::assert_schema("verify", &lines[0]);
    assert_eq!(lines[0]["path"], "s3://logs/missing.plog");
    let error = lines[0]["error"].as_str().expect("an error object");
    assert!(error.contains("no such object"), "{error}");
    let local_keys: Vec<String> = json_lines(&local.stdout)[0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let remote_keys: Vec<String> = lines[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(remote_keys, local_keys);
}
