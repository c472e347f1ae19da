//! plog-remote through each store it reads, `s3://`, `gs://` and `az://`,
//! against the test servers of each (in the test's process, on 127.0.0.1),
//! all serving one directory: the same ranged reads give back the same
//! bytes, the same listings name the same keys (across pages, a prefix
//! being a prefix of the key's text), a missing object is not found, and
//! each store's credentials come from its users' environment variables.

use plog_remote::test_server::{
    self, ACCESS_KEY, AZURE_ACCOUNT, AZURE_KEY, GCS_TOKEN, REGION, SECRET_KEY, TEST_PAGE,
};
use plog_remote::{Bucket, ObjectUrl, RemoteError, RemoteOptions};
use std::io::Read as _;

/// The bucket of `url`, at `endpoint`, ranges of `range_len`, `in_flight`
/// of them per object.
fn connect(url: &str, endpoint: &str, range_len: usize, in_flight: usize) -> Bucket {
    Bucket::connect_url(
        &ObjectUrl::parse(url).unwrap(),
        &RemoteOptions {
            endpoint: Some(endpoint.to_string()),
            range_len,
            ranges_in_flight: in_flight,
            // A request a loaded machine lets fail is asked again, as in
            // production; the store's answers (404, 412) are not retried,
            // and every byte is still compared.
            max_retries: 2,
            ..RemoteOptions::default()
        },
    )
    .unwrap()
}

/// The object `key`'s bytes, read through `bucket` in pieces of 333.
fn read_all(bucket: &Bucket, key: &str) -> Vec<u8> {
    let info = bucket.head(key).unwrap();
    let mut reader = bucket.reader(&info);
    let mut got = Vec::new();
    let mut piece = [0u8; 333];
    loop {
        let n = reader.read(&mut piece).unwrap();
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&piece[..n]);
    }
}

fn keys(bucket: &Bucket, prefix: &str) -> Vec<String> {
    bucket
        .list(prefix)
        .unwrap()
        .into_iter()
        .map(|info| info.url.key)
        .collect()
}

#[test]
fn every_store_reads_and_lists_the_same_objects() {
    // Each store's configuration from its users' environment.
    // SAFETY: this is the only test of this binary and these are its first
    // statements: no other thread of the process runs or reads the
    // environment yet.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        std::env::set_var("AWS_REGION", REGION);
        std::env::remove_var("AWS_ENDPOINT_URL");
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::set_var("GOOGLE_BEARER_TOKEN", GCS_TOKEN);
        for name in [
            "GOOGLE_SERVICE_ACCOUNT",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_BASE_URL",
            "SERVICE_ACCOUNT",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var("AZURE_STORAGE_ACCOUNT_NAME", AZURE_ACCOUNT);
        std::env::set_var("AZURE_STORAGE_ACCOUNT_KEY", AZURE_KEY);
        for name in [
            "AZURE_STORAGE_USE_EMULATOR",
            "AZURE_STORAGE_ENDPOINT",
            "AZURE_STORAGE_SAS_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_STORAGE_TOKEN",
            "AZURE_SKIP_SIGNATURE",
            "GOOGLE_SKIP_SIGNATURE",
        ] {
            std::env::remove_var(name);
        }
    }
    let root = tempfile::tempdir().unwrap();
    let bucket = root.path().join("bucket");
    std::fs::create_dir_all(bucket.join("dir")).unwrap();
    std::fs::create_dir_all(bucket.join("page")).unwrap();
    std::fs::create_dir_all(bucket.join("pager")).unwrap();
    // Bytes that differ at every offset mod 251, so a range out of place
    // or repeated shows.
    let bytes: Vec<u8> = (0..100_003u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(bucket.join("dir/big.bin"), &bytes).unwrap();
    std::fs::write(bucket.join("dir/empty.bin"), b"").unwrap();
    std::fs::write(bucket.join("top.bin"), b"top").unwrap();
    // More objects below one prefix than a page of the GCS and Azure
    // servers holds, and a key that starts like the prefix but is not
    // below it.
    let paged = 2 * TEST_PAGE + 5;
    for i in 0..paged {
        std::fs::write(bucket.join(format!("page/obj-{i:02}")), [i as u8]).unwrap();
    }
    std::fs::write(bucket.join("pager/not-below.bin"), b"x").unwrap();

    let s3 = test_server::start(root.path());
    let gcs = test_server::start_gcs(root.path());
    let azure = format!("{}/{AZURE_ACCOUNT}", test_server::start_azure(root.path()));
    for (scheme, endpoint) in [("s3", &s3), ("gs", &gcs), ("az", &azure)] {
        let url = format!("{scheme}://bucket/");
        for (range_len, in_flight) in [(1000, 1), (997, 3), (65_536, 2), (1 << 20, 4)] {
            let store = connect(&url, endpoint, range_len, in_flight);
            let got = read_all(&store, "dir/big.bin");
            assert_eq!(got.len(), bytes.len(), "{scheme} {range_len} x {in_flight}");
            assert!(
                got == bytes,
                "{scheme} {range_len} x {in_flight}: bytes differ"
            );
        }
        let store = connect(&url, endpoint, 1000, 2);
        let info = store.head("dir/big.bin").unwrap();
        assert_eq!(info.size, bytes.len() as u64, "{scheme}");
        assert_eq!(
            info.url.to_string(),
            format!("{scheme}://bucket/dir/big.bin")
        );
        assert!(info.e_tag.is_some_and(|e| !e.is_empty()), "{scheme}");
        assert!(read_all(&store, "dir/empty.bin").is_empty(), "{scheme}");

        assert_eq!(
            keys(&store, "dir/"),
            ["dir/big.bin", "dir/empty.bin"],
            "{scheme}"
        );
        let expected: Vec<String> = (0..paged).map(|i| format!("page/obj-{i:02}")).collect();
        assert_eq!(keys(&store, "page/"), expected, "{scheme}");
        let listed = store.list("").unwrap();
        assert_eq!(listed.len(), paged + 4, "{scheme}");
        assert!(listed.iter().all(|i| i.e_tag.is_some()), "{scheme}");
        let top = listed.iter().find(|i| i.url.key == "top.bin").unwrap();
        assert_eq!(top.size, 3, "{scheme}");
        // The ETag a listing gives is the one a read asks for (If-Match):
        // the object is read, not refused.
        let mut got = Vec::new();
        store.reader(top).read_to_end(&mut got).unwrap();
        assert_eq!(got, b"top", "{scheme}");

        match store.head("dir/missing.bin") {
            Err(RemoteError::NotFound(_)) => {}
            other => panic!("{scheme}: expected NotFound, found {other:?}"),
        }
        let missing = connect(&format!("{scheme}://no-such-bucket/"), endpoint, 1000, 1);
        assert!(missing.list("").is_err(), "{scheme}");
    }

    // Azure's other forms of the same container, as object_store parses
    // them: fsspec's abfs(s)://CONTAINER, Hadoop's
    // abfss://CONTAINER@ACCOUNT.dfs.core.windows.net (the account then
    // from the URL).
    for url in [
        "abfs://bucket/".to_string(),
        format!("abfss://bucket@{AZURE_ACCOUNT}.dfs.core.windows.net/"),
    ] {
        let store = connect(&url, &azure, 65_536, 2);
        assert_eq!(
            keys(&store, "dir/"),
            ["dir/big.bin", "dir/empty.bin"],
            "{url}"
        );
        assert!(read_all(&store, "dir/big.bin") == bytes, "{url}");
        let top = store.head("top.bin").unwrap();
        assert_eq!(top.url.to_string(), format!("{url}top.bin"));
    }

    // An object replaced after it was listed: its ranges are refused
    // (If-Match), not mixed with the new version's.
    for (scheme, endpoint) in [("s3", &s3), ("gs", &gcs), ("az", &azure)] {
        let store = connect(&format!("{scheme}://bucket/"), endpoint, 1000, 1);
        let info = store.head("dir/big.bin").unwrap();
        let mut reader = store.reader(&info);
        let mut first = [0u8; 10];
        reader.read_exact(&mut first).unwrap();
        std::fs::write(bucket.join("dir/big.bin"), vec![7u8; bytes.len()]).unwrap();
        // Past the first range: a range asked for after the change.
        let mut rest = Vec::new();
        let err = reader.read_to_end(&mut rest).unwrap_err();
        assert!(err.to_string().contains("bytes "), "{scheme}: {err}");
        std::fs::write(bucket.join("dir/big.bin"), &bytes).unwrap();
    }
}
