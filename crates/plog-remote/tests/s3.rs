//! plog-remote against a real S3 server in the test's process (s3s-fs on
//! 127.0.0.1): ranged reads give back the object's bytes exactly, across
//! many ranges and with several in flight; listing and HEAD name what is
//! there and only that.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::Path;

use plog_remote::{Bucket, RemoteError, RemoteOptions};

/// An S3 server over `root` on 127.0.0.1; returns its endpoint.
fn start_server(root: &Path) -> String {
    let fs = s3s_fs::FileSystem::new(root).expect("an s3s-fs root");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
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
    format!("http://{}", rx.recv().expect("the server starts"))
}

fn connect(endpoint: &str, range_len: usize, ranges_in_flight: usize) -> Bucket {
    Bucket::connect(
        "bucket",
        &RemoteOptions {
            endpoint: Some(endpoint.to_string()),
            range_len,
            ranges_in_flight,
            max_retries: 0,
            ..RemoteOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn ranged_reads_give_back_the_object_exactly() {
    // The keys object_store reads from the environment, as a user's would.
    // SAFETY: this is the only test of this binary and these are its first
    // statements: no other thread of the process runs or reads the
    // environment yet.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "plog-test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "plog-test");
        std::env::set_var("AWS_REGION", "us-east-1");
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
    let endpoint = start_server(root.path());

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

    match bucket.head("dir/missing.bin") {
        Err(RemoteError::NotFound(what)) => assert!(what.contains("missing.bin"), "{what}"),
        other => panic!(
            "expected NotFound, found {other:?}",
            other = other.map(|i| i.size)
        ),
    }
}
