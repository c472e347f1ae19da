//! `plog verify s3://...` (issue #24) against real object stores started
//! by the test in its own process, bound to 127.0.0.1, each over a
//! directory (a bucket is a directory, an object a file): S3 (s3s-fs),
//! Google Cloud Storage (`gs://`) and Azure Blob Storage (`az://`, through
//! `--endpoint` and as the emulator): the same JSON (but the path) and exit
//! status as the same bytes verified locally.

#![cfg(feature = "remote")]

mod common;

use common::{json_lines, plog};
use plog_remote::test_server::{
    self, ACCESS_KEY, AZURE_ACCOUNT, AZURE_KEY, GCS_TOKEN, REGION, SECRET_KEY,
};
use serde_json::Value;

/// The variables of every store's environment: unset for each command but
/// those its store sets (a developer's own credentials never reach a
/// test).
const CLOUD_ENV: [&str; 21] = [
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_BASE_URL",
    "GOOGLE_BEARER_TOKEN",
    "GOOGLE_SKIP_SIGNATURE",
    "SERVICE_ACCOUNT",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ENDPOINT",
    "AZURE_STORAGE_USE_EMULATOR",
    "AZURITE_BLOB_STORAGE_URL",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_TOKEN",
    "AZURE_SKIP_SIGNATURE",
];

/// One object store the tests read a directory through: its URLs'
/// scheme, its users' environment, its `--endpoint` if it takes one.
struct Store {
    scheme: &'static str,
    env: Vec<(&'static str, String)>,
    endpoint: Option<String>,
}

impl Store {
    /// S3 (s3s-fs) over `root`, SigV4 keys in `AWS_*`, `--endpoint`.
    fn s3(root: &std::path::Path) -> Store {
        Store::s3_at(test_server::start(root))
    }

    /// S3 at `endpoint` (a server of `test_server`, or a proxy before one).
    fn s3_at(endpoint: String) -> Store {
        Store {
            scheme: "s3",
            env: vec![
                ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
                ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
                ("AWS_REGION", REGION.to_string()),
            ],
            endpoint: Some(endpoint),
        }
    }

    /// Google Cloud Storage over `root`, the token in
    /// `GOOGLE_BEARER_TOKEN`, the emulator's base URL as `--endpoint`.
    fn gcs(root: &std::path::Path) -> Store {
        Store {
            scheme: "gs",
            env: vec![("GOOGLE_BEARER_TOKEN", GCS_TOKEN.to_string())],
            endpoint: Some(test_server::start_gcs(root)),
        }
    }

    /// Azure Blob Storage over `root`, the account and key in
    /// `AZURE_STORAGE_*`, the account's blob service URL as `--endpoint`.
    fn azure(root: &std::path::Path) -> Store {
        Store {
            scheme: "az",
            env: vec![
                ("AZURE_STORAGE_ACCOUNT_NAME", AZURE_ACCOUNT.to_string()),
                ("AZURE_STORAGE_ACCOUNT_KEY", AZURE_KEY.to_string()),
            ],
            endpoint: Some(format!(
                "{}/{AZURE_ACCOUNT}",
                test_server::start_azure(root)
            )),
        }
    }

    /// Azure Blob Storage over `root` as the emulator:
    /// `AZURE_STORAGE_USE_EMULATOR` and `AZURITE_BLOB_STORAGE_URL` (its
    /// well-known account and key), no `--endpoint`.
    fn azurite(root: &std::path::Path) -> Store {
        Store {
            scheme: "az",
            env: vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
                ("AZURITE_BLOB_STORAGE_URL", test_server::start_azure(root)),
            ],
            endpoint: None,
        }
    }

    /// Every store, each over `root`.
    fn all(root: &std::path::Path) -> [Store; 4] {
        [
            Store::s3(root),
            Store::gcs(root),
            Store::azure(root),
            Store::azurite(root),
        ]
    }

    /// `plog COMMAND` with this store's environment (and no other cloud's)
    /// and its `--endpoint`.
    fn plog(&self, command: &str) -> assert_cmd::Command {
        let mut cmd = plog();
        for name in CLOUD_ENV {
            cmd.env_remove(name);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.arg(command);
        if let Some(endpoint) = &self.endpoint {
            cmd.args(["--endpoint", endpoint]);
        }
        cmd
    }

    /// `plog verify` through this store.
    fn verify(&self) -> assert_cmd::Command {
        self.plog("verify")
    }

    /// The URL of `path` (`BUCKET/KEY`) in this store.
    fn url(&self, path: &str) -> String {
        format!("{}://{path}", self.scheme)
    }

    /// What names it in a failed assertion.
    fn name(&self) -> String {
        let how = if self.endpoint.is_some() {
            "--endpoint"
        } else {
            "emulator"
        };
        format!("{}:// ({how})", self.scheme)
    }
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

/// A directory for the test servers holding the bucket `corpus`: every
/// corpus file, and expected.json (which --glob's default leaves out, as
/// it does below a directory).
fn whole_corpus_bucket() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let bucket = root.path().join("corpus");
    std::fs::create_dir(&bucket).unwrap();
    for file in &plog_testdata::corpus() {
        std::fs::write(bucket.join(&file.name), &file.bytes).unwrap();
    }
    std::fs::copy(
        plog_testdata::corpus_dir().join("expected.json"),
        bucket.join("expected.json"),
    )
    .unwrap();
    root
}

/// `plog verify --json URL/corpus/` through `store` gives, line for line,
/// the JSON of `plog verify --json testdata/v1/` but the path (the URL of
/// each object, in the listing's order) and its exit status; one object
/// by its key, the line of the file.
fn assert_corpus_verified_as_locally(store: &Store) {
    let name = store.name();
    let corpus = plog_testdata::corpus();
    let local = plog()
        .args(["verify", "--json"])
        .arg(plog_testdata::corpus_dir())
        .output()
        .unwrap();
    let remote = store
        .verify()
        .args(["--json", &store.url("corpus/")])
        .output()
        .unwrap();
    assert!(
        remote.stderr.is_empty(),
        "{name}: {}",
        String::from_utf8_lossy(&remote.stderr)
    );
    let (local_lines, local_paths) = without_paths(json_lines(&local.stdout));
    for line in &json_lines(&remote.stdout) {
        common::assert_schema("verify", line);
    }
    let (remote_lines, remote_paths) = without_paths(json_lines(&remote.stdout));
    assert_eq!(local_lines.len(), corpus.len());
    assert_eq!(remote_lines, local_lines, "{name}");
    assert_eq!(remote.status.code(), local.status.code(), "{name}");
    let expected_paths: Vec<String> = corpus
        .iter()
        .map(|f| store.url(&format!("corpus/{}", f.name)))
        .collect();
    assert_eq!(remote_paths, expected_paths, "{name}");
    assert!(local_paths.iter().all(|p| !p.contains("://")));

    // One object by its key: the line of the same file verified locally.
    let remote = store
        .verify()
        .args(["--json", &store.url("corpus/seed-small.plog")])
        .output()
        .unwrap();
    let local = plog()
        .args(["verify", "--json"])
        .arg(plog_testdata::corpus_dir().join("seed-small.plog"))
        .output()
        .unwrap();
    assert_eq!(remote.status.code(), Some(0), "{name}");
    assert_eq!(
        without_paths(json_lines(&remote.stdout)).0,
        without_paths(json_lines(&local.stdout)).0,
        "{name}"
    );
}

#[test]
fn the_corpus_verified_remotely_gives_the_local_json_and_status() {
    // Written once, read through every store.
    let root = whole_corpus_bucket();
    for store in Store::all(root.path()) {
        assert_corpus_verified_as_locally(&store);
    }
    // Azure's abfss://CONTAINER/KEY (fsspec's form) names the same blobs.
    let mut abfss = Store::azure(root.path());
    abfss.scheme = "abfss";
    assert_corpus_verified_as_locally(&abfss);
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
    let local = plog()
        .args(["verify", "--json"])
        .arg(local_dir.path().join("damaged.plog"))
        .output()
        .unwrap();
    let local_missing = plog()
        .args(["verify", "--json"])
        .arg(local_dir.path().join("missing.plog"))
        .output()
        .unwrap();
    assert_eq!(local.status.code(), Some(1));
    assert_eq!(local_missing.status.code(), Some(2));

    for store in Store::all(root.path()) {
        let name = store.name();
        let url = store.url("logs/damaged.plog");
        let remote = store.verify().args(["--json", &url]).output().unwrap();
        assert_eq!(remote.status.code(), local.status.code(), "{name}");
        let (remote_lines, _) = without_paths(json_lines(&remote.stdout));
        assert_eq!(
            remote_lines,
            without_paths(json_lines(&local.stdout)).0,
            "{name}"
        );
        assert_eq!(remote_lines[0]["status"], "corrupt", "{name}");

        // The text line names the URL, as a local file's names its path.
        let text = store.verify().arg(&url).output().unwrap();
        assert_eq!(text.status.code(), Some(1), "{name}");
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(
            text.starts_with(&format!("{url}: CORRUPT hash_mismatch at offset ")),
            "{name}: {text}"
        );
        assert!(
            text.ends_with("1 file: 0 clean, 0 torn, 1 corrupt, 0 unreadable\n"),
            "{name}: {text}"
        );

        // A missing object: an error object naming the URL, status 2, as
        // for a missing local file.
        let missing = store.url("logs/missing.plog");
        let remote = store.verify().args(["--json", &missing]).output().unwrap();
        assert_eq!(remote.status.code(), local_missing.status.code(), "{name}");
        let lines = json_lines(&remote.stdout);
        assert_eq!(lines.len(), 1, "{name}");
        common::assert_schema("verify", &lines[0]);
        assert_eq!(lines[0]["path"], missing.as_str(), "{name}");
        let error = lines[0]["error"].as_str().expect("an error object");
        assert!(error.contains("no such object"), "{name}: {error}");
        let local_keys: Vec<String> = json_lines(&local_missing.stdout)[0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let remote_keys: Vec<String> = lines[0].as_object().unwrap().keys().cloned().collect();
        assert_eq!(remote_keys, local_keys, "{name}");
    }
}

#[test]
fn wrong_credentials_and_unknown_schemes_are_error_lines() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("logs")).unwrap();
    std::fs::copy(
        common::corpus_path("seed-small.plog"),
        root.path().join("logs/a.plog"),
    )
    .unwrap();
    // Each store with its users' variables set wrong: a token or a key
    // the server does not take. Refused (401, 403) is no transient error:
    // an error line at once, status 2, never a verdict.
    let mut gcs = Store::gcs(root.path());
    gcs.env = vec![("GOOGLE_BEARER_TOKEN", "not-the-token".to_string())];
    let mut azure = Store::azure(root.path());
    azure.env[1] = (
        "AZURE_STORAGE_ACCOUNT_KEY",
        "bm90IHRoZSBrZXkgb2YgdGhlIGFjY291bnQ=".to_string(),
    );
    for store in [gcs, azure] {
        let name = store.name();
        for url in [store.url("logs/a.plog"), store.url("logs/")] {
            let started = std::time::Instant::now();
            let out = store.verify().args(["--json", &url]).output().unwrap();
            // Not asked again (a minute of backoff): the answer would be
            // the same.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{name} {url}: {:?}",
                started.elapsed()
            );
            assert_eq!(out.status.code(), Some(2), "{name} {url}");
            let lines = json_lines(&out.stdout);
            assert_eq!(lines.len(), 1, "{name} {url}: {lines:?}");
            assert_eq!(lines[0]["path"], url.as_str(), "{name}");
            assert!(lines[0]["error"].is_string(), "{name}: {}", lines[0]);
            common::assert_schema("verify", &lines[0]);
        }
    }

    // --endpoint and the emulator's variable both naming Azure's endpoint:
    // refused, not one of them passed over.
    let mut both = Store::azurite(root.path());
    both.endpoint = Some("http://127.0.0.1:1/devstoreaccount1".to_string());
    // Any truth object_store takes, not only "true".
    both.env[0] = ("AZURE_STORAGE_USE_EMULATOR", "Yes".to_string());
    let (path, error) = refused(both.verify().args(["--json", "az://logs/a.plog"]));
    assert_eq!(path, "az://logs/a.plog");
    assert!(error.contains("AZURE_STORAGE_USE_EMULATOR"), "{error}");

    // No account for az://: the error names the variables that give one.
    let mut unconfigured = Store::azure(root.path());
    unconfigured.env.clear();
    let (path, error) = refused(unconfigured.verify().args(["--json", "az://logs/a.plog"]));
    assert_eq!(path, "az://logs/a.plog");
    assert!(error.contains("AZURE_STORAGE_ACCOUNT_NAME"), "{error}");

    // A URL of a scheme plog does not read: an error naming those it does.
    let (path, error) = refused(plog().args(["verify", "--json", "ftp://host/a.plog"]));
    assert_eq!(path, "ftp://host/a.plog");
    for scheme in plog_remote::SCHEMES {
        assert!(error.contains(scheme), "{error}");
    }
}

/// The `path` and `error` of the first JSON line `cmd` prints, which must
/// end with status 2 (the object could not be read).
fn refused(cmd: &mut assert_cmd::Command) -> (String, String) {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let lines = json_lines(&out.stdout);
    let field = |key: &str| lines[0][key].as_str().unwrap().to_string();
    (field("path"), field("error"))
}

/// A bucket `name` below `root` of `n` small logs, `obj-NNNN.plog`, every
/// seventh with a payload byte flipped (corrupt) and every eleventh cut
/// short (torn): lines of every kind, in an order only the listing gives.
fn many_objects(root: &std::path::Path, name: &str, n: usize) {
    let bucket = root.join(name);
    std::fs::create_dir_all(&bucket).unwrap();
    for i in 0..n {
        let path = bucket.join(format!("obj-{i:04}.plog"));
        let payload = format!("{{\"object\":{i}}}");
        let records: Vec<(u64, &[u8])> = (0..3).map(|r| (r + 1, payload.as_bytes())).collect();
        common::write_log(&path, &records);
        let mut bytes = std::fs::read(&path).unwrap();
        if i % 7 == 3 {
            let at = bytes.len() - 2;
            bytes[at] ^= 0x01;
        } else if i % 11 == 5 {
            bytes.truncate(bytes.len() - 4);
        }
        std::fs::write(&path, bytes).unwrap();
    }
}

/// `plog verify --json --jobs JOBS URL`: its lines and status, and how
/// long it took.
fn verify_jobs(endpoint: &str, url: &str, jobs: usize) -> (Vec<Value>, Option<i32>, f64) {
    let started = std::time::Instant::now();
    let out = Store::s3_at(endpoint.to_string())
        .verify()
        .args(["--json", "--jobs", &jobs.to_string(), url])
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (json_lines(&out.stdout), out.status.code(), seconds)
}

/// Many objects in flight print the lines one at a time prints, in the
/// listing's order, with the same status.
fn in_flight_matches_one_at_a_time(n: usize) -> (f64, f64) {
    let root = tempfile::tempdir().unwrap();
    many_objects(root.path(), "many", n);
    let endpoint = test_server::start(root.path());
    let (one, one_status, one_seconds) = verify_jobs(&endpoint, "s3://many/", 1);
    let (many, many_status, many_seconds) = verify_jobs(&endpoint, "s3://many/", 16);
    assert_eq!(one.len(), n);
    let paths: Vec<String> = many
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..n)
        .map(|i| format!("s3://many/obj-{i:04}.plog"))
        .collect();
    assert_eq!(paths, expected);
    assert_eq!(many, one);
    assert_eq!(many_status, one_status);
    assert_eq!(many_status, Some(1));
    for (i, line) in many.iter().enumerate() {
        let want = if i % 7 == 3 {
            "corrupt"
        } else if i % 11 == 5 {
            "torn"
        } else {
            "clean"
        };
        assert_eq!(line["status"], want, "object {i}");
    }
    (one_seconds, many_seconds)
}

#[test]
fn a_hundred_objects_in_flight_give_the_lines_of_one_at_a_time() {
    in_flight_matches_one_at_a_time(100);
}

/// The 1,000 small objects, one at a time and 16 in flight; the
/// times go to BENCHMARKS.md (`cargo test -p plog-cli --features remote
/// --release --test remote -- --ignored --nocapture thousand`).
#[test]
#[ignore = "a few seconds in release, longer in debug: run by hand for BENCHMARKS.md"]
fn a_thousand_objects_in_flight_give_the_lines_of_one_at_a_time() {
    let (one, many) = in_flight_matches_one_at_a_time(1000);
    println!(
        "1000 objects: --jobs 1 {one:.3} s, --jobs 16 {many:.3} s: {:.1}x",
        one / many
    );
}

#[test]
fn responses_cut_part_way_are_read_again_and_a_store_that_always_cuts_is_an_error() {
    let root = whole_corpus_bucket();
    let server = test_server::start(root.path());
    let local = plog()
        .args(["verify", "--json"])
        .arg(plog_testdata::corpus_dir())
        .output()
        .unwrap();
    // Every other connection is cut after 3000 bytes: in the headers of a
    // response, or in its body (large-payload.plog is 1 MiB).
    let flaky = test_server::start_dropping_proxy(&server, 2, 3000);
    let remote = Store::s3_at(flaky.endpoint.clone())
        .verify()
        .args(["--json", "--retries", "8", "s3://corpus/"])
        .output()
        .unwrap();
    assert!(
        flaky.cuts.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the proxy cut no connection"
    );
    assert_eq!(
        without_paths(json_lines(&remote.stdout)).0,
        without_paths(json_lines(&local.stdout)).0,
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
    assert_eq!(remote.status.code(), local.status.code());

    // A store that cuts every response in its headers: an error (status
    // 2) once the retries are spent, never a verdict, never a hang.
    let dead = test_server::start_dropping_proxy(&server, 1, 20);
    let started = std::time::Instant::now();
    let remote = Store::s3_at(dead.endpoint.clone())
        .verify()
        .args(["--json", "--retries", "2", "s3://corpus/seed-small.plog"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(remote.status.code(), Some(2));
    let lines = json_lines(&remote.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["path"], "s3://corpus/seed-small.plog");
    assert!(lines[0]["error"].is_string(), "{}", lines[0]);
    common::assert_schema("verify", &lines[0]);

    // Cut in the body of every response (after the headers): read again
    // from where it stopped until the retries are spent, then an error
    // naming the range, not a torn or corrupt verdict.
    let body_cut = test_server::start_dropping_proxy(&server, 1, 2000);
    let remote = Store::s3_at(body_cut.endpoint.clone())
        .verify()
        .args(["--json", "--retries", "2", "s3://corpus/large-payload.plog"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(remote.status.code(), Some(2));
    let lines = json_lines(&remote.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let error = lines[0]["error"].as_str().expect("an error object");
    assert!(error.contains("bytes 0.."), "{error}");
}

/// The manifest's lines: (url, etag, size).
fn manifest_lines(path: &std::path::Path) -> Vec<Value> {
    json_lines(&std::fs::read(path).unwrap())
}

#[test]
fn a_resumed_run_verifies_only_what_was_not_recorded_clean() {
    let root = tempfile::tempdir().unwrap();
    many_objects(root.path(), "jobs", 30);
    let endpoint = test_server::start(root.path());
    let work = tempfile::tempdir().unwrap();
    let manifest = work.path().join("manifest.jsonl");
    let resume = |extra: &[&str]| {
        Store::s3_at(endpoint.clone())
            .verify()
            .arg("--resume")
            .arg(&manifest)
            .args(extra)
            .arg("s3://jobs/")
            .output()
            .unwrap()
    };

    // The whole run: every clean object recorded, nothing else.
    let (all, status, _) = verify_jobs(&endpoint, "s3://jobs/", 4);
    let first = resume(&["--json"]);
    assert_eq!(first.status.code(), status);
    assert_eq!(json_lines(&first.stdout), all);
    let recorded = manifest_lines(&manifest);
    let clean: Vec<&Value> = all.iter().filter(|l| l["status"] == "clean").collect();
    assert_eq!(recorded.len(), clean.len());
    let mut recorded_urls: Vec<&str> = recorded
        .iter()
        .map(|l| l["url"].as_str().unwrap())
        .collect();
    recorded_urls.sort_unstable();
    let clean_urls: Vec<&str> = clean.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(recorded_urls, clean_urls);
    for line in &recorded {
        assert!(
            line["etag"].as_str().is_some_and(|e| !e.is_empty()),
            "{line}"
        );
        assert!(line["size"].as_u64().is_some_and(|s| s > 0), "{line}");
        assert_eq!(line["expect"], Value::Null);
    }

    // A run killed part-way: its manifest holds the first ten clean
    // objects (and a line cut by the kill). Resumed, it verifies only the
    // others: the damaged ones again, the clean ones not yet recorded.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut kept: String = text.lines().take(10).map(|l| format!("{l}\n")).collect();
    kept.push_str("{\"url\":\"s3://jobs/obj-00");
    std::fs::write(&manifest, kept).unwrap();
    let done: Vec<String> = recorded
        .iter()
        .take(10)
        .map(|l| l["url"].as_str().unwrap().to_string())
        .collect();
    // Every object still has its line, in the listing's order: the ones
    // recorded clean say so and what the manifest holds, the others are
    // the lines of the whole run.
    let resumed = resume(&["--json"]);
    assert_eq!(resumed.status.code(), status);
    let expected: Vec<Value> = all
        .iter()
        .map(|l| {
            if !done.iter().any(|d| l["path"] == d.as_str()) {
                return l.clone();
            }
            let entry = recorded.iter().find(|r| r["url"] == l["path"]).unwrap();
            serde_json::json!({
                "path": l["path"],
                "status": "clean",
                "skipped": "resumed",
                "records": l["records"],
                "file_len": l["file_len"],
                "etag": entry["etag"],
            })
        })
        .collect();
    let lines = json_lines(&resumed.stdout);
    for line in &lines {
        common::assert_schema("verify", line);
    }
    assert_eq!(lines, expected);
    assert_eq!(manifest_lines_whole(&manifest), clean.len());

    // Everything recorded: nothing verified, every object has its line,
    // the summary counts what was not read again.
    let text = resume(&[]);
    assert_eq!(text.status.code(), status);
    let text = String::from_utf8(text.stdout).unwrap();
    let damaged = all.len() - clean.len();
    assert!(!text.contains(": OK"), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.contains(": clean, ")
                && l.contains("(not read again: the --resume manifest records it clean at ETag "))
            .count(),
        clean.len(),
        "{text}"
    );
    assert_eq!(text.lines().count(), all.len() + 1, "{text}");
    assert!(
        text.ends_with(&format!(
            "; {} skipped (recorded clean in the --resume manifest)\n",
            clean.len()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("plog verify: {damaged} files: 0 clean, ")),
        "{text}"
    );

    // An object replaced (a new ETag, the same size): verified again.
    let replaced = root.path().join("jobs/obj-0000.plog");
    let mut bytes = std::fs::read(&replaced).unwrap();
    let at = bytes.len() - 2;
    bytes[at] ^= 0x20;
    std::fs::write(&replaced, &bytes).unwrap();
    let again = resume(&["--json"]);
    let lines = json_lines(&again.stdout);
    assert_eq!(lines[0]["path"], "s3://jobs/obj-0000.plog");
    assert_eq!(lines[0]["status"], "corrupt");
    assert!(lines[0].get("skipped").is_none());
    assert_eq!(lines.len(), all.len());
    let read_again = lines.iter().filter(|l| l.get("skipped").is_none()).count();
    assert_eq!(read_again, damaged + 1);
    // Another --expect: every object verified again under it.
    let expect = resume(&["--json", "--expect", "contiguous"]);
    let lines = json_lines(&expect.stdout);
    assert_eq!(lines.len(), all.len());
    assert!(lines.iter().all(|l| l.get("skipped").is_none()));
}

/// A directory for the test server holding the bucket `corpus` of the
/// corpus files `names`.
fn corpus_bucket(names: &[&str]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let bucket = root.path().join("corpus");
    std::fs::create_dir(&bucket).unwrap();
    for name in names {
        std::fs::copy(common::corpus_path(name), bucket.join(name)).unwrap();
    }
    root
}

/// The manifest's whole lines (a cut line passed over).
fn manifest_lines_whole(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .count()
}

#[test]
fn stat_and_dump_of_an_object_print_what_they_print_of_the_file() {
    let names = [
        "seed-k8s-200.plog",
        "corrupt-payload.plog",
        "torn-in-payload.plog",
    ];
    let root = corpus_bucket(&names);
    for store in Store::all(root.path()) {
        stat_and_dump_through(&store, &names);
    }
}

/// `plog stat` and `plog dump` of the objects `names` of the bucket
/// `corpus` through `store` print what they print of the files.
fn stat_and_dump_through(store: &Store, names: &[&str]) {
    let remote = |args: &[&str], name: &str| {
        store
            .plog(args[0])
            .args(&args[1..])
            .arg(store.url(&format!("corpus/{name}")))
            .output()
            .unwrap()
    };
    let store_name = store.name();
    for &name in names {
        let local_path = common::corpus_path(name);
        for args in [
            &["stat", "--json"][..],
            &["stat"][..],
            &["dump", "--json"][..],
            &["dump"][..],
            &["dump", "--from", "3", "--limit", "2"][..],
        ] {
            let local = plog().args(args).arg(&local_path).output().unwrap();
            let remote = remote(args, name);
            assert_eq!(
                remote.status.code(),
                local.status.code(),
                "{store_name} {args:?} {name}"
            );
            let url = store.url(&format!("corpus/{name}"));
            let local_text = String::from_utf8(local.stdout).unwrap();
            let remote_text = String::from_utf8(remote.stdout).unwrap();
            let local_stderr = String::from_utf8(local.stderr).unwrap();
            let remote_stderr = String::from_utf8(remote.stderr).unwrap();
            let path = local_path.to_str().unwrap();
            if args.contains(&"--json") && args[0] == "stat" {
                // verify_seconds is a time: everything else is the file's.
                let mut l = json_lines(local_text.as_bytes());
                let mut r = json_lines(remote_text.as_bytes());
                for v in l.iter_mut().chain(r.iter_mut()) {
                    v.as_object_mut().unwrap().remove("verify_seconds");
                }
                assert_eq!(r[0]["path"], url.as_str());
                r[0]["path"] = Value::from(path);
                assert_eq!(r, l, "{store_name} {args:?} {name}");
            } else if args[0] == "stat" {
                let strip = |t: &str| {
                    t.lines()
                        .filter(|l| !l.contains("verified in") && !l.contains("/s"))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                assert_eq!(
                    strip(&remote_text.replace(&url, path)),
                    strip(&local_text),
                    "{store_name} {args:?} {name}"
                );
            } else {
                assert_eq!(remote_text, local_text, "{store_name} {args:?} {name}");
            }
            assert_eq!(
                remote_stderr.replace(&url, path),
                local_stderr,
                "{store_name} {args:?} {name}"
            );
        }
    }
    // A missing object: the error of a missing file, status 2.
    let missing = remote(&["stat", "--json"], "missing.plog");
    assert_eq!(missing.status.code(), Some(2), "{store_name}");
    let lines = json_lines(&missing.stdout);
    assert_eq!(lines[0]["path"], store.url("corpus/missing.plog"));
    assert!(
        lines[0]["error"]
            .as_str()
            .unwrap()
            .contains("no such object")
    );
}

#[test]
fn http_urls_are_read_as_s3_urls_are() {
    let names = [
        "seed-k8s-200.plog",
        "corrupt-payload.plog",
        "large-payload.plog",
    ];
    let root = corpus_bucket(&names);
    // A server that answers unsigned GETs: plain HTTP URLs of the objects.
    let endpoint = test_server::start_public(root.path());
    for name in names {
        let url = format!("{endpoint}/corpus/{name}");
        let local = plog()
            .args(["verify", "--json"])
            .arg(common::corpus_path(name))
            .output()
            .unwrap();
        let remote = plog().args(["verify", "--json", &url]).output().unwrap();
        assert_eq!(remote.status.code(), local.status.code(), "{name}");
        let (lines, paths) = without_paths(json_lines(&remote.stdout));
        assert_eq!(lines, without_paths(json_lines(&local.stdout)).0, "{name}");
        assert_eq!(paths, std::slice::from_ref(&url));
        let local = plog()
            .args(["dump", "--json"])
            .arg(common::corpus_path(name))
            .output()
            .unwrap();
        let remote = plog().args(["dump", "--json", &url]).output().unwrap();
        assert_eq!(remote.stdout, local.stdout, "{name}");
        assert_eq!(remote.status.code(), local.status.code(), "{name}");
    }
    let missing = format!("{endpoint}/corpus/missing.plog");
    let remote = plog()
        .args(["verify", "--json", "--retries", "0", &missing])
        .output()
        .unwrap();
    assert_eq!(remote.status.code(), Some(2));
    let lines = json_lines(&remote.stdout);
    assert_eq!(lines[0]["path"], missing.as_str());
    assert!(lines[0]["error"].is_string());
}
