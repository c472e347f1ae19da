//! How objects are reached and read.

use std::time::Duration;

/// The bytes of one ranged GET by default.
pub const DEFAULT_RANGE_LEN: usize = 8 * 1024 * 1024;

/// The ranges of one object held or requested at once by default.
pub const DEFAULT_RANGES_IN_FLIGHT: usize = 4;

/// The bytes of ranges held or requested at once by default, across every
/// reader of one [`Bucket`](crate::Bucket).
pub const DEFAULT_MEMORY_LIMIT: usize = 64 * 1024 * 1024;

/// How objects are reached and read.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// Where the store is, when not where its configuration says
    /// ([`Bucket::connect_url`](crate::Bucket::connect_url)): for `s3://`,
    /// the endpoint of an S3-compatible store (`http://127.0.0.1:9000`;
    /// `None`: `AWS_ENDPOINT_URL`, else AWS's); for `gs://`, the base URL of
    /// the XML API (an emulator's; `None`: `GOOGLE_BASE_URL`, else
    /// Google's); for `az://`, the account's blob service URL (`None`:
    /// `AZURE_STORAGE_ENDPOINT`, else `https://ACCOUNT.blob.core.windows.net`).
    /// Not used for `http(s)://`.
    pub endpoint: Option<String>,
    /// The bytes of one ranged GET (at least 1).
    pub range_len: usize,
    /// The ranges of one object held or requested at once (at least 1):
    /// with `range_len`, the memory one object's read takes.
    pub ranges_in_flight: usize,
    /// The bytes of ranges held or requested at once across every reader
    /// of one [`Bucket`](crate::Bucket) (at least 1): however many objects
    /// are read at once, their ranges take no more memory than this. A
    /// reader always gets its next range (waiting for others to hand
    /// theirs back); ranges it would request ahead wait for room.
    pub memory_limit: usize,
    /// Retries of one request on a transient error (0: none).
    pub max_retries: usize,
    /// The longest time a request is retried for.
    pub retry_timeout: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            endpoint: None,
            range_len: DEFAULT_RANGE_LEN,
            ranges_in_flight: DEFAULT_RANGES_IN_FLIGHT,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
        }
    }
}
