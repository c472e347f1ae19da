//! A connection to one bucket: its objects' lengths, listing, and readers.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::TryStreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt as _, RetryConfig};
use tokio::runtime::Runtime;

use crate::error::one_line;
use crate::reader::ObjectReader;
use crate::{ObjectUrl, RemoteError, RemoteOptions};

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
    store: Arc<dyn ObjectStore>,
    runtime: Arc<Runtime>,
    options: RemoteOptions,
    /// The URL of the bucket (or host): its objects' URLs are made from it.
    base: ObjectUrl,
    /// [`RemoteOptions::memory_limit`], shared by the bucket's readers.
    budget: Arc<tokio::sync::Semaphore>,
}

impl Bucket {
    /// Connects to the S3 bucket `bucket` as
    /// [`AmazonS3Builder::from_env`] and `options` say (no request is made
    /// yet).
    pub fn connect(bucket: &str, options: &RemoteOptions) -> Result<Bucket, RemoteError> {
        Bucket::connect_url(
            &ObjectUrl {
                scheme: crate::S3_SCHEME,
                bucket: bucket.to_string(),
                key: String::new(),
            },
            options,
        )
    }

    /// Connects to the bucket (or container, or HTTP host) of `url`, as
    /// each store's users configure it (no request is made yet):
    ///
    /// - `s3://` as [`connect`](Bucket::connect) does;
    /// - `gs://` as [`GoogleCloudStorageBuilder::from_env`] does
    ///   (`GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_SERVICE_ACCOUNT_KEY`,
    ///   `GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_BEARER_TOKEN`, ..., else
    ///   the application default credentials and the instance's);
    ///   [`RemoteOptions::endpoint`] is the base URL of the XML API
    ///   (`GOOGLE_BASE_URL`; an emulator's, such as fake-gcs-server's);
    /// - `az://` (and `abfs(s)://`, with the container, or Hadoop's
    ///   `CONTAINER@ACCOUNT.dfs.core.windows.net`, where the bucket is) as
    ///   [`MicrosoftAzureBuilder::from_env`] and its `with_url` do
    ///   (`AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`,
    ///   `AZURE_STORAGE_SAS_KEY`, `AZURE_STORAGE_TOKEN`, `AZURE_CLIENT_ID`,
    ///   ..., `AZURE_STORAGE_USE_EMULATOR` with `AZURITE_BLOB_STORAGE_URL`);
    ///   [`RemoteOptions::endpoint`] is the account's blob service URL
    ///   (`AZURE_STORAGE_ENDPOINT`: `https://ACCOUNT.blob.core.windows.net`,
    ///   or an emulator's `http://127.0.0.1:10000/devstoreaccount1`), and
    ///   is refused with `AZURE_STORAGE_USE_EMULATOR`, which names its own;
    /// - `http(s)://HOST` as [`HttpBuilder`] does (plain GETs with ranges,
    ///   no credentials; [`RemoteOptions::endpoint`] is not used).
    ///
    /// An endpoint that starts with `http://` allows plain HTTP.
    pub fn connect_url(url: &ObjectUrl, options: &RemoteOptions) -> Result<Bucket, RemoteError> {
        // The TLS stack is rustls with ring (no C toolchain beyond `cc`, no
        // cmake): its provider is installed once per process. An error
        // means one is installed already, which is as good.
        // (ring's provider is deprecated only for lacking post-quantum key
        // exchange; aws-lc-rs, which has it, is what needs cmake.)
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: options.max_retries,
            retry_timeout: options.retry_timeout,
        };
        let config = |err: object_store::Error| RemoteError::Config(one_line(&err.to_string()));
        // Which variables configure the store, for an error that names
        // only what is missing ("Account must be specified").
        let configured_by = |variables: &'static str| {
            move |err: object_store::Error| {
                RemoteError::Config(format!(
                    "{} (expected {variables})",
                    one_line(&err.to_string())
                ))
            }
        };
        let endpoint = options.endpoint.as_deref();
        let plain_http = endpoint.is_some_and(|e| e.starts_with("http://"));
        let store: Arc<dyn ObjectStore> = match url.scheme {
            crate::S3_SCHEME => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(&url.bucket)
                    .with_retry(retry);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint).with_allow_http(plain_http);
                }
                Arc::new(builder.build().map_err(config)?)
            }
            crate::GCS_SCHEME => {
                let mut builder = GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&url.bucket)
                    .with_retry(retry);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_base_url(endpoint);
                }
                Arc::new(builder.build().map_err(configured_by(
                    "GOOGLE_SERVICE_ACCOUNT, GOOGLE_APPLICATION_CREDENTIALS or the application default credentials",
                ))?)
            }
            azure if azure == crate::AZURE_SCHEME || crate::AZURE_ABFS_SCHEMES.contains(&azure) => {
                // object_store parses the container (and, in Hadoop's
                // `abfss://CONTAINER@ACCOUNT.dfs.core.windows.net`, the
                // account) from the URL, as its users' other tools do.
                let mut builder = MicrosoftAzureBuilder::from_env()
                    .with_url(format!("{azure}{}", url.bucket))
                    .with_retry(retry);
                if let Some(endpoint) = endpoint {
                    // object_store takes the emulator's URL from
                    // AZURITE_BLOB_STORAGE_URL and would pass the endpoint
                    // over in silence.
                    // (Truthy as object_store parses it.)
                    if builder
                        .get_config_value(&AzureConfigKey::UseEmulator)
                        .is_some_and(|v| {
                            matches!(
                                v.to_ascii_lowercase().as_str(),
                                "1" | "true" | "on" | "yes" | "y"
                            )
                        })
                    {
                        return Err(RemoteError::Config(format!(
                            "--endpoint {endpoint} and AZURE_STORAGE_USE_EMULATOR both name the \
                             Azure endpoint: set AZURITE_BLOB_STORAGE_URL for the emulator, or \
                             unset AZURE_STORAGE_USE_EMULATOR to use the endpoint"
                        )));
                    }
                    builder = builder.with_endpoint(endpoint.to_string());
                    if plain_http {
                        builder = builder.with_allow_http(true);
                    }
                }
                Arc::new(builder.build().map_err(configured_by(
                    "AZURE_STORAGE_ACCOUNT_NAME with a credential, or AZURE_STORAGE_USE_EMULATOR",
                ))?)
            }
            http @ ("http://" | "https://") => Arc::new(
                HttpBuilder::new()
                    .with_url(format!("{http}{}", url.bucket))
                    .with_client_options(ClientOptions::new().with_allow_http(http == "http://"))
                    .with_retry(retry)
                    .build()
                    .map_err(config)?,
            ),
            other => {
                return Err(RemoteError::Url(format!(
                    "expected an object URL ({}), found the scheme {other:?}",
                    crate::SCHEMES.join(", ")
                )));
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("plog-remote")
            .enable_all()
            .build()
            .map_err(|err| RemoteError::Config(format!("cannot start the I/O runtime: {err}")))?;
        Ok(Bucket {
            store,
            runtime: Arc::new(runtime),
            options: RemoteOptions {
                range_len: options.range_len.max(1),
                ranges_in_flight: options.ranges_in_flight.max(1),
                memory_limit: options.memory_limit.clamp(1, memory_cap()),
                ..options.clone()
            },
            base: url.with_key(""),
            budget: Arc::new(tokio::sync::Semaphore::new(
                options.memory_limit.clamp(1, memory_cap()),
            )),
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
            url: self.base.with_key(key),
            size: meta.size,
            e_tag: meta.e_tag,
        })
    }

    /// The objects below `prefix` (a key ending in `/`, or empty for the
    /// whole bucket), at every depth, sorted by key. A listing that fails
    /// (a page's body cut part-way included) is asked for again, with
    /// backoff, up to [`RemoteOptions::max_retries`] times.
    pub fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, RemoteError> {
        let store = Arc::clone(&self.store);
        let trimmed = prefix.trim_end_matches('/');
        let location = (!trimmed.is_empty()).then(|| ObjectPath::from(trimmed));
        let max_retries = self.options.max_retries;
        let retry_timeout = self.options.retry_timeout;
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(async move {
                // object_store retries each page's request, not a page whose
                // body is cut part-way: the listing is asked for again, with
                // backoff, as often as a request would be.
                let started = tokio::time::Instant::now();
                let mut backoff = std::time::Duration::from_millis(100);
                let mut retries = 0;
                loop {
                    match store.list(location.as_ref()).try_collect().await {
                        Ok(metas) => return Ok(metas),
                        // The store answered: asking again would get the
                        // same answer.
                        Err(err) if !transient(&err) => return Err(err),
                        Err(err) => {
                            if retries >= max_retries || started.elapsed() + backoff > retry_timeout
                            {
                                return Err(err);
                            }
                            retries += 1;
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(std::time::Duration::from_secs(15));
                        }
                    }
                }
            })
            .map_err(RemoteError::from_store)?;
        let mut found: Vec<ObjectInfo> = metas
            .into_iter()
            .map(|meta| ObjectInfo {
                url: self.base.with_key(meta.location.as_ref()),
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
    ///
    /// The bucket's readers share [`RemoteOptions::memory_limit`]: a range
    /// is room taken until it is read. A reader that needs a range waits
    /// for room, so readers of one bucket read at once must each be read
    /// on a thread of its own (as `plog verify --jobs` does), not
    /// interleaved on one.
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
            budget: Arc::clone(&self.budget),
            budget_total: self.options.memory_limit,
            current: bytes::Bytes::new(),
            current_permit: None,
            failed: false,
        }
    }
}

/// Whether a listing that failed with `err` may succeed if asked for
/// again: when the connection failed (a page's body cut part-way
/// included), which object_store reports as an [`HttpError`](object_store::client::HttpError)
/// among the error's sources. Not when the store answered: a missing
/// bucket, credentials refused (401, 403), a request it does not serve
/// would get the same answer again, and an answer object_store deems
/// transient (5xx, 429) it has retried already.
fn transient(err: &object_store::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = source {
        if err.is::<object_store::client::HttpError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// The largest memory limit: what one semaphore counts (and what a range's
/// `u32` count of permits can take whole).
fn memory_cap() -> usize {
    tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize)
}

/// `n` as a u64 (usize is at most 64 bits on every target plog builds for).
pub(crate) fn crate_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::client::{HttpError, HttpErrorKind};

    #[test]
    fn only_failed_connections_are_transient() {
        // A page's body cut part-way: object_store's list error wraps the
        // HttpError of the read.
        let cut = object_store::Error::Generic {
            store: "GCS",
            source: Box::new(HttpError::new(
                HttpErrorKind::Interrupted,
                std::io::Error::other("connection reset"),
            )),
        };
        assert!(transient(&cut));
        // The store's answers: the same if asked again.
        let refused = object_store::Error::Generic {
            store: "GCS",
            source: "Server returned non-2xx status code: 401 Unauthorized".into(),
        };
        assert!(!transient(&refused));
        let missing = object_store::Error::NotFound {
            path: "bucket".to_string(),
            source: "404".into(),
        };
        assert!(!transient(&missing));
    }
}
