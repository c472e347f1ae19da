//! plog-remote against a real S3 server in the test's process (s3s-fs on
//! 127.0.0.1): ranged reads give back the object's bytes exactly, across
//! many ranges and with several in flight; listing and HEAD name what is
//! there and only that.

use plog_remote::test_server::{self, ACCESS_KEY, REGION, SECRET_KEY};
use plog_remote::{Bucket, RemoteError, RemoteOptions};
use std::io::Read as _;

fn connect(endpoint: &str, range_len: usize, ranges_in_flight: usize) -> Bucket {
    connect_with(
        endpoint,
        &RemoteOptions {
            range_len,
            ranges_in_flight,
            max_retries: 0,
            ..RemoteOptions::default()
        },
    )
}

fn connect_with(endpoint: &str, options: &RemoteOptions) -> Bucket {
    Bucket::connect(
        "bucket",
        &RemoteOptions {
            endpoint: Some(endpoint.to_string()),
            ..options.clone()
        },
    )
    .unwrap()
}

/// The object `key`'s bytes, read through `bucket` in pieces of 333.
fn read_all(bucket: &Bucket, key: &str) -> std::io::Result<Vec<u8>> {
    let info = bucket.head(key).unwrap();
    let mut reader = bucket.reader(&info);
    let mut got = Vec::new();
    let mut piece = [0u8; 333];
    loop {
        let n = reader.read(&mut piece)?;
        if n == 0 {
            return Ok(got);
        }
        got.extend_from_slice(&piece[..n]);
    }
}

#[test]
fn ranged_reads_give_back_the_object_exactly() {
    // The keys object_store reads from the environment, as a user's would.
    // SAFETY: this is the only test of this binary and these are its first
    // statements: no other thread of the process runs or reads the
    // environment yet.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::set_var("AWS_REGION", REGION);
        std::env::remove_var("AWS_ENDPOINT_URL");
        std::env::remove_var("AWS_SESSION_TOKEN");
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("bucket/dir")).unwrap();
    // Bytes that differ at every offset mod 251, so a range out of place
    // or repeated shows.
    let bytes: Vec<u8> = (0..100_003u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.path().join("bucket/dir/big.bin"), &bytes).unwrap();
    std::fs::write(root.path().join("bucket/dir/empty.bin"), b"").unwrap();
    std::fs::write(root.path().join("bucket/top.bin"), b"top").unwrap();
    let endpoint = test_server::start(root.path());

    for (range_len, in_flight) in [(1000, 1), (997, 3), (65_536, 2), (1 << 20, 4)] {
        let bucket = connect(&endpoint, range_len, in_flight);
        let info = bucket.head("dir/big.bin").unwrap();
        assert_eq!(info.size, bytes.len() as u64);
        let mut got = Vec::new();
        // Small reads too: a range is handed on in pieces.
        let mut reader = bucket.reader(&info);
        let mut piece = [0u8; 333];
        loop {
            let n = reader.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
        }
        assert_eq!(got.len(), bytes.len(), "range {range_len} x {in_flight}");
        assert!(
            got == bytes,
            "range {range_len} x {in_flight}: bytes differ"
        );
    }

    let bucket = connect(&endpoint, 1000, 2);
    let empty = bucket.head("dir/empty.bin").unwrap();
    let mut got = Vec::new();
    bucket.reader(&empty).read_to_end(&mut got).unwrap();
    assert!(got.is_empty());

    let keys: Vec<String> = bucket
        .list("dir/")
        .unwrap()
        .into_iter()
        .map(|i| i.url.key)
        .collect();
    assert_eq!(keys, ["dir/big.bin", "dir/empty.bin"]);
    let all: Vec<String> = bucket
        .list("")
        .unwrap()
        .into_iter()
        .map(|i| i.url.key)
        .collect();
    assert_eq!(all, ["dir/big.bin", "dir/empty.bin", "top.bin"]);

    // Objects read at once on threads of their own, under a memory limit
    // of one range to three in flight each: each reader waits its turn
    // for room, none waits forever, every byte is in place.
    for limit in [10_000, 25_000, 1 << 20] {
        let bucket = connect_with(
            &endpoint,
            &RemoteOptions {
                range_len: 10_000,
                ranges_in_flight: 3,
                memory_limit: limit,
                max_retries: 0,
                ..RemoteOptions::default()
            },
        );
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..3)
                .map(|_| scope.spawn(|| read_all(&bucket, "dir/big.bin").unwrap()))
                .collect();
            for reader in readers {
                assert!(
                    reader.join().unwrap() == bytes,
                    "limit {limit}: bytes differ"
                );
            }
        });
    }

    // Through a network that cuts every other connection part-way (in a
    // response's headers or its body): every range read again from where
    // it stopped, the bytes exact.
    let flaky = test_server::start_dropping_proxy(&endpoint, 2, 5000);
    let options = RemoteOptions {
        range_len: 30_000,
        ranges_in_flight: 2,
        max_retries: 10,
        retry_timeout: std::time::Duration::from_secs(60),
        ..RemoteOptions::default()
    };
    let bucket = connect_with(&flaky.endpoint, &options);
    assert!(read_all(&bucket, "dir/big.bin").unwrap() == bytes);
    assert!(flaky.cuts.load(std::sync::atomic::Ordering::SeqCst) > 0);
    // Every connection cut after its headers: a clear error once the
    // retries are spent, not bytes missing or a hang.
    let dead = test_server::start_dropping_proxy(&endpoint, 1, 1500);
    let options = RemoteOptions {
        max_retries: 2,
        ..options
    };
    let bucket = connect_with(&dead.endpoint, &options);
    let started = std::time::Instant::now();
    let err = read_all(&bucket, "dir/big.bin").expect_err("every body is cut");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(err.to_string().starts_with("bytes 0..30000: "), "{err}");

    // A plain HTTP server (no S3): the same bytes by http:// URL, and a
    // range asked for at an ETag the object no longer has is refused (the
    // reader errs rather than mix two versions of an object).
    let files = test_server::start_files(root.path());
    let url = plog_remote::ObjectUrl::parse(&format!("{files}/bucket/dir/big.bin")).unwrap();
    let options = RemoteOptions {
        range_len: 30_000,
        max_retries: 0,
        ..RemoteOptions::default()
    };
    let bucket = Bucket::connect_url(&url, &options).unwrap();
    let info = bucket.head(&url.key).unwrap();
    assert_eq!(info.url, url);
    assert!(info.e_tag.is_some());
    assert!(read_all(&bucket, &url.key).unwrap() == bytes);
    let stale = plog_remote::ObjectInfo {
        e_tag: Some("\"replaced\"".to_string()),
        ..info
    };
    let mut got = Vec::new();
    let err = bucket
        .reader(&stale)
        .read_to_end(&mut got)
        .expect_err("a stale ETag is refused");
    assert!(err.to_string().starts_with("bytes 0..30000: "), "{err}");
    assert!(got.is_empty());

    let bucket = connect(&endpoint, 1000, 2);
    match bucket.head("dir/missing.bin") {
        Err(RemoteError::NotFound(what)) => assert!(what.contains("missing.bin"), "{what}"),
        other => panic!(
            "expected NotFound, found {other:?}",
            other = other.map(|i| i.size)
        ),
    }
}
