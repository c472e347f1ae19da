//! Logs in object storage (`s3://BUCKET/KEY`, and S3-compatible stores
//! through an endpoint; `gs://BUCKET/KEY` in Google Cloud Storage;
//! `az://CONTAINER/KEY` in Azure Blob Storage; `http(s)://HOST/PATH` from
//! plain HTTP servers), read through the [`object_store`] crate as bounded
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
//! the whole object, and all the readers of one [`Bucket`] together at
//! most [`RemoteOptions::memory_limit`] bytes, however many objects are
//! read at once. Each request is retried on transient errors by
//! `object_store`'s [`RetryConfig`](object_store::RetryConfig) (backoff,
//! bounded count and time), a response whose body fails part-way included:
//! the rest of its range is asked for again, of the same ETag.
//!
//! Configuration is `object_store`'s own, from each cloud's environment
//! ([`Bucket::connect_url`]): for S3
//! ([`AmazonS3Builder::from_env`](object_store::aws::AmazonS3Builder::from_env))
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION` / `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` /
//! `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, instance and container credentials;
//! for GCS ([`GoogleCloudStorageBuilder::from_env`](object_store::gcp::GoogleCloudStorageBuilder::from_env))
//! `GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_SERVICE_ACCOUNT_KEY`,
//! `GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_BEARER_TOKEN`, application
//! default and instance credentials; for Azure
//! ([`MicrosoftAzureBuilder::from_env`](object_store::azure::MicrosoftAzureBuilder::from_env))
//! `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`,
//! `AZURE_STORAGE_SAS_KEY`, `AZURE_STORAGE_TOKEN`, service principals,
//! managed identity, `AZURE_STORAGE_USE_EMULATOR`.
//! [`RemoteOptions::endpoint`] names where the store is when not there: an
//! S3-compatible store, a GCS emulator's base URL, an Azure account's blob
//! service URL (plain `http://` allowed there).

mod bucket;
mod error;
mod options;
mod reader;
#[cfg(feature = "test-server")]
pub mod test_server;
mod url;

pub use bucket::{Bucket, ObjectInfo};
pub use error::RemoteError;
pub use options::{
    DEFAULT_MEMORY_LIMIT, DEFAULT_RANGE_LEN, DEFAULT_RANGES_IN_FLIGHT, RemoteOptions,
};
pub use reader::ObjectReader;
pub use url::{
    AZURE_ABFS_SCHEMES, AZURE_SCHEME, GCS_SCHEME, ObjectUrl, S3_SCHEME, SCHEMES, is_url,
};
