//! Logs in object storage (`s3://BUCKET/KEY`, and S3-compatible stores
//! through an endpoint), read through the [`object_store`] crate as bounded
//! streams of ranged GETs.
//!
//! One concern lives here: naming, listing and reading objects. What is
//! read is handed on as a [`std::io::Read`] ([`ObjectReader`]) that the
//! caller walks with its own streaming verifier (plog-mmap's
//! `Log::from_stream`), so a remote object is classified by the same code
//! as standard input and a local file: the same records, the same report.
//!
//! Memory is bounded by the ranges in flight: an [`ObjectReader`] holds at
//! most [`RemoteOptions::ranges_in_flight`] ranges of
//! [`RemoteOptions::range_len`] bytes (the one being read included), never
//! the whole object. Each request is retried on transient errors by
//! `object_store`'s [`RetryConfig`] (backoff, bounded count and time).
//!
//! Configuration is `object_store`'s own ([`AmazonS3Builder::from_env`]):
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION` / `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` /
//! `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, instance and container credentials;
//! [`RemoteOptions::endpoint`] names an S3-compatible store (plain `http://`
//! allowed there).

use std::collections::VecDeque;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, GetOptions, GetRange, ObjectStore as _, ObjectStoreExt as _, RetryConfig,
};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// The URL scheme this crate reads (`s3://BUCKET/KEY`).
pub const S3_SCHEME: &str = "s3://";

/// The bytes of one ranged GET by default.
pub const DEFAULT_RANGE_LEN: usize = 8 * 1024 * 1024;

/// The ranges of one object held or requested at once by default.
pub const DEFAULT_RANGES_IN_FLIGHT: usize = 4;

/// Whether `arg` names an object URL this crate reads (`s3://...`), rather
/// than a local path.
pub fn is_url(arg: &str) -> bool {
    arg.starts_with(S3_SCHEME)
}

/// An `s3://BUCKET/KEY` URL, split. A key that is empty or ends in `/` is
/// a prefix: the objects below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectUrl {
    /// The bucket.
    pub bucket: String,
    /// The key, or the prefix (empty: the whole bucket).
    pub key: String,
}

impl ObjectUrl {
    /// Parses `s3://BUCKET/KEY`, `s3://BUCKET/PREFIX/` or `s3://BUCKET`.
    pub fn parse(url: &str) -> Result<ObjectUrl, RemoteError> {
        let rest = url.strip_prefix(S3_SCHEME).ok_or_else(|| {
            RemoteError::Url(format!(
                "expected a URL such as s3://BUCKET/KEY, found {url:?}"
            ))
        })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(RemoteError::Url(format!(
                "expected a bucket name after s3://, found {url:?}"
            )));
        }
        Ok(ObjectUrl {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// Whether the URL names the objects below a prefix (its key is empty
    /// or ends in `/`), not one object.
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// `s3://BUCKET/KEY` for `key` in the same bucket.
    pub fn with_key(&self, key: &str) -> ObjectUrl {
        ObjectUrl {
            bucket: self.bucket.clone(),
            key: key.to_string(),
        }
    }
}

impl std::fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{S3_SCHEME}{}/{}", self.bucket, self.key)
    }
}

/// Why an object could not be named, listed or read.
#[derive(Debug)]
pub enum RemoteError {
    /// The URL is not one this crate reads.
    Url(String),
    /// The store could not be configured (missing region, bad endpoint...).
    Config(String),
    /// The object (or prefix) does not exist.
    NotFound(String),
    /// A request failed (after its retries).
    Request(String),
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteError::Url(what) => write!(f, "{what}"),
            RemoteError::Config(what) => write!(f, "cannot configure the object store: {what}"),
            RemoteError::NotFound(what) => write!(f, "cannot open: no such object ({what})"),
            RemoteError::Request(what) => write!(f, "cannot read: {what}"),
        }
    }
}

impl std::error::Error for RemoteError {}

impl RemoteError {
    fn from_store(err: object_store::Error) -> RemoteError {
        match err {
            object_store::Error::NotFound { path, .. } => RemoteError::NotFound(path),
            other => RemoteError::Request(one_line(&other.to_string())),
        }
    }
}

/// `text` on one line (object_store's messages nest their sources).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How objects are reached and read.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// The endpoint of an S3-compatible store (`http://127.0.0.1:9000`);
    /// `None`: the environment's (`AWS_ENDPOINT_URL`), else AWS's.
    pub endpoint: Option<String>,
    /// The bytes of one ranged GET (at least 1).
    pub range_len: usize,
    /// The ranges of one object held or requested at once (at least 1):
    /// with `range_len`, the memory one object's read takes.
    pub ranges_in_flight: usize,
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
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
        }
    }
}

/// One object found: its URL and its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's URL.
    pub url: ObjectUrl,
    /// Its length in bytes.
    pub size: u64,
    /// Its ETag, when the store gives one.
    pub e_tag: Option<String>,
}

/// A connection to one bucket, with the runtime its requests run on.
pub struct Bucket {
    store: Arc<AmazonS3>,
    runtime: Arc<Runtime>,
    options: RemoteOptions,
    bucket: String,
}

impl Bucket {
    /// Connects to `bucket` as [`AmazonS3Builder::from_env`] and `options`
    /// say (no request is made yet).
    pub fn connect(bucket: &str, options: &RemoteOptions) -> Result<Bucket, RemoteError> {
        // The TLS stack is rustls with ring (no C toolchain beyond `cc`, no
        // cmake): its provider is installed once per process. An error
        // means one is installed already, which is as good.
        // (ring's provider is deprecated only for lacking post-quantum key
        // exchange; aws-lc-rs, which has it, is what needs cmake.)
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: options.max_retries,
                retry_timeout: options.retry_timeout,
            });
        if let Some(endpoint) = &options.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|err| RemoteError::Config(one_line(&err.to_string())))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("plog-remote")
            .enable_all()
            .build()
            .map_err(|err| RemoteError::Config(format!("cannot start the I/O runtime: {err}")))?;
        Ok(Bucket {
            store: Arc::new(store),
            runtime: Arc::new(runtime),
            options: RemoteOptions {
                range_len: options.range_len.max(1),
                ranges_in_flight: options.ranges_in_flight.max(1),
                ..options.clone()
            },
            bucket: bucket.to_string(),
        })
    }

    /// The object `key`'s length and ETag (a HEAD request).
    pub fn head(&self, key: &str) -> Result<ObjectInfo, RemoteError> {
        let store = Arc::clone(&self.store);
        let location = ObjectPath::from(key);
        let meta = self
            .runtime
            .block_on(async move { store.head(&location).await })
            .map_err(RemoteError::from_store)?;
        Ok(ObjectInfo {
            url: ObjectUrl {
                bucket: self.bucket.clone(),
                key: key.to_string(),
            },
            size: meta.size,
            e_tag: meta.e_tag,
        })
    }

    /// The objects below `prefix` (a key ending in `/`, or empty for the
    /// whole bucket), at every depth, sorted by key.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, RemoteError> {
        let store = Arc::clone(&self.store);
        let trimmed = prefix.trim_end_matches('/');
        let location = (!trimmed.is_empty()).then(|| ObjectPath::from(trimmed));
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(async move { store.list(location.as_ref()).try_collect().await })
            .map_err(RemoteError::from_store)?;
        let mut found: Vec<ObjectInfo> = metas
            .into_iter()
            .map(|meta| ObjectInfo {
                url: ObjectUrl {
                    bucket: self.bucket.clone(),
                    key: meta.location.to_string(),
                },
                size: meta.size,
                e_tag: meta.e_tag,
            })
            .collect();
        found.sort_by(|a, b| a.url.key.cmp(&b.url.key));
        Ok(found)
    }

    /// A reader of `object`'s bytes, fetched as ranged GETs of
    /// [`RemoteOptions::range_len`] bytes, [`RemoteOptions::ranges_in_flight`]
    /// at a time, each asking for the ETag the object had when listed (a
    /// store that honours `If-Match` refuses a range of an object replaced
    /// since, rather than mix two versions).
    pub fn reader(&self, object: &ObjectInfo) -> ObjectReader {
        ObjectReader {
            store: Arc::clone(&self.store),
            runtime: Arc::clone(&self.runtime),
            location: ObjectPath::from(object.url.key.as_str()),
            e_tag: object.e_tag.clone(),
            size: object.size,
            next: 0,
            range_len: crate_u64(self.options.range_len),
            in_flight: VecDeque::new(),
            ranges_in_flight: self.options.ranges_in_flight,
            current: bytes::Bytes::new(),
            failed: false,
        }
    }
}

/// `n` as a u64 (usize is at most 64 bits on every target plog builds for).
fn crate_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A requested range: the bytes it should have, and the request.
type Pending = (Range<u64>, JoinHandle<object_store::Result<bytes::Bytes>>);

/// An object's bytes, read in order through ranged GETs of bounded size,
/// a few requested ahead ([`Bucket::reader`]).
pub struct ObjectReader {
    store: Arc<AmazonS3>,
    runtime: Arc<Runtime>,
    location: ObjectPath,
    e_tag: Option<String>,
    size: u64,
    /// The start of the next range to request.
    next: u64,
    range_len: u64,
    in_flight: VecDeque<Pending>,
    ranges_in_flight: usize,
    /// What is left of the range being read.
    current: bytes::Bytes,
    /// A range failed: the reader ends every read with an error.
    failed: bool,
}

impl ObjectReader {
    /// Requests ranges until `ranges_in_flight` are held or requested (the
    /// one being read counts) or the object's end is reached.
    fn fill(&mut self) {
        let held = usize::from(!self.current.is_empty());
        while self.in_flight.len() + held < self.ranges_in_flight && self.next < self.size {
            let end = self.next.saturating_add(self.range_len).min(self.size);
            let range = self.next..end;
            self.next = end;
            let store = Arc::clone(&self.store);
            let location = self.location.clone();
            let options = GetOptions {
                range: Some(GetRange::Bounded(range.clone())),
                if_match: self.e_tag.clone(),
                ..GetOptions::default()
            };
            let request = self.runtime.spawn(async move {
                let result = store.get_opts(&location, options).await?;
                result.bytes().await
            });
            self.in_flight.push_back((range, request));
        }
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failed {
            return Err(std::io::Error::other("an earlier range could not be read"));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.is_empty() {
            self.fill();
            let Some((range, request)) = self.in_flight.pop_front() else {
                return Ok(0);
            };
            let got = match self.runtime.block_on(request) {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(err)) => {
                    self.failed = true;
                    return Err(std::io::Error::other(format!(
                        "bytes {}..{}: {}",
                        range.start,
                        range.end,
                        one_line(&err.to_string())
                    )));
                }
                Err(err) => {
                    self.failed = true;
                    return Err(std::io::Error::other(format!(
                        "bytes {}..{}: the request ended: {err}",
                        range.start, range.end
                    )));
                }
            };
            if crate_u64(got.len()) != range.end - range.start {
                self.failed = true;
                return Err(std::io::Error::other(format!(
                    "bytes {}..{}: expected {} bytes, found {} (the object changed while it was read?)",
                    range.start,
                    range.end,
                    range.end - range.start,
                    got.len()
                )));
            }
            self.current = got;
            // The next ranges are requested while this one is walked.
            self.fill();
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        // Ranges requested and no longer wanted (a pass that stopped early).
        for (_, request) in self.in_flight.drain(..) {
            request.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_key() {
        let url = ObjectUrl::parse("s3://logs/node-1/raft.plog").unwrap();
        assert_eq!(url.bucket, "logs");
        assert_eq!(url.key, "node-1/raft.plog");
        assert!(!url.is_prefix());
        assert_eq!(url.to_string(), "s3://logs/node-1/raft.plog");
        assert!(ObjectUrl::parse("s3://logs/node-1/").unwrap().is_prefix());
        let bucket = ObjectUrl::parse("s3://logs").unwrap();
        assert!(bucket.is_prefix());
        assert_eq!(bucket.key, "");
        assert!(ObjectUrl::parse("s3:///key").is_err());
        assert!(ObjectUrl::parse("gs://logs/key").is_err());
        assert!(is_url("s3://b/k"));
        assert!(!is_url("./s3:/b"));
    }
}
