//! Remote verification's throughput against the same server's plain
//! whole-object download, in the same run (issue #24: ≥ 0.8x, peak memory
//! ≤ 128 MiB).
//!
//! ```text
//! cargo build --release -p plog-cli --features remote
//! cargo build --release -p plog-testdata --example make_engenho
//! ./target/release/examples/make_engenho /dev/shm/bench/big/e.plog 600000 1
//! cargo run --release -p plog-remote --features test-server --example remote_throughput -- \
//!     /dev/shm/bench big/e.plog ./target/release/plog
//! ```
//!
//! The server is `test_server::start_files` over ROOT (ranged GETs cost
//! their range), in this process. The download is object_store's `get` of
//! the whole object, its bytes counted and dropped; the verification is
//! `plog verify --json http://.../KEY` run under `/usr/bin/time` for its
//! peak RSS. Download, verify, download: the two downloads bracket it.

use std::process::{Command, ExitCode};
use std::time::Instant;

use futures::StreamExt as _;
use object_store::http::HttpBuilder;
use object_store::{ClientOptions, ObjectStoreExt as _};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, key, plog] = args.as_slice() else {
        eprintln!("usage: remote_throughput ROOT KEY PLOG_BINARY");
        return ExitCode::from(2);
    };
    let endpoint = plog_remote::test_server::start_files(std::path::Path::new(root));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = HttpBuilder::new()
        .with_url(&endpoint)
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .build()
        .expect("an HTTP store");
    let location = object_store::path::Path::from(key.as_str());
    let download = || {
        let started = Instant::now();
        let bytes = runtime.block_on(async {
            let mut stream = store.get(&location).await.expect("a GET").into_stream();
            let mut bytes = 0u64;
            while let Some(chunk) = stream.next().await {
                bytes += chunk.expect("a chunk").len() as u64;
            }
            bytes
        });
        (bytes, started.elapsed().as_secs_f64())
    };
    let cpu_at_start = own_cpu_seconds();
    let (size, before) = download();
    let download_cpu = own_cpu_seconds() - cpu_at_start;
    let url = format!("{endpoint}/{key}");
    let started = Instant::now();
    let server_cpu_at_start = own_cpu_seconds();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%U %S %M"])
        .arg(plog)
        .args(["verify", "--json", &url])
        .output()
        .expect("plog runs under /usr/bin/time");
    let verify = started.elapsed().as_secs_f64();
    let server_cpu = own_cpu_seconds() - server_cpu_at_start;
    let (_, after) = download();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let times: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    let (plog_cpu, peak_kib) = match times.as_slice() {
        [user, system, peak] => (user + system, *peak as u64),
        _ => (0.0, 0),
    };
    let mb = size as f64 / 1e6;
    let download_best = before.min(after);
    println!("object: {url}, {size} bytes");
    println!("{}", String::from_utf8_lossy(&out.stdout).trim_end());
    println!(
        "download (object_store get): {before:.2} s, {after:.2} s: {:.0} MB/s (best)",
        mb / download_best
    );
    println!(
        "plog verify: {verify:.2} s: {:.0} MB/s, {:.2}x the download; peak RSS {:.1} MiB; status {:?}",
        mb / verify,
        download_best / verify,
        peak_kib as f64 / 1024.0,
        out.status.code()
    );
    // Server, download and verification share this machine's cores: the
    // verification can take no less wall time than its CPU (plog's and the
    // server's) spread over every core, nor less than the download.
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let verify_cpu = plog_cpu + server_cpu;
    let least = download_best.max(verify_cpu / cores);
    println!(
        "CPU: download {download_cpu:.2} s (client and server, {:.2} of {cores} cores); \
         verify {verify_cpu:.2} s (plog {plog_cpu:.2} s, server {server_cpu:.2} s); \
         on {cores} cores the verification cannot beat {least:.2} s: at most {:.2}x the download",
        download_cpu / download_best,
        download_best / least
    );
    ExitCode::SUCCESS
}

/// CPU seconds (user and system) this process has used so far: the
/// server's threads and the download's.
fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name's closing parenthesis: utime and
    // stime are the 12th and 13th, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
