//! Naming objects: `s3://BUCKET/KEY`, `gs://BUCKET/KEY`,
//! `az://CONTAINER/KEY` and `http(s)://HOST/PATH` URLs. The schemes this
//! crate reads are listed here and nowhere else ([`SCHEMES`]).

use crate::RemoteError;

/// The URL scheme of S3 and S3-compatible stores (`s3://BUCKET/KEY`).
pub const S3_SCHEME: &str = "s3://";

/// The URL scheme of Google Cloud Storage (`gs://BUCKET/KEY`).
pub const GCS_SCHEME: &str = "gs://";

/// The URL scheme of Azure Blob Storage (`az://CONTAINER/KEY`, as fsspec
/// and object_store name it).
pub const AZURE_SCHEME: &str = "az://";

/// Azure's other schemes, as object_store parses them: `abfs(s)://CONTAINER/KEY`
/// (fsspec's, the same as `az://`), and Hadoop's
/// `abfs(s)://CONTAINER@ACCOUNT.dfs.core.windows.net/KEY`, which names the
/// account too.
pub const AZURE_ABFS_SCHEMES: [&str; 2] = ["abfs://", "abfss://"];

/// Every scheme this crate reads: S3's, Google Cloud Storage's, Azure
/// Blob Storage's, and plain HTTP(S) servers' (GET with ranges; a prefix
/// is listed with WebDAV's PROPFIND).
pub const SCHEMES: [&str; 7] = [
    S3_SCHEME,
    GCS_SCHEME,
    AZURE_SCHEME,
    AZURE_ABFS_SCHEMES[0],
    AZURE_ABFS_SCHEMES[1],
    "http://",
    "https://",
];

/// Whether `arg` names an object URL this crate reads (one of
/// [`SCHEMES`]), rather than a local path.
pub fn is_url(arg: &str) -> bool {
    SCHEMES.iter().any(|scheme| arg.starts_with(scheme))
}

/// An object URL, split: `s3://BUCKET/KEY`, `gs://BUCKET/KEY`,
/// `az://CONTAINER/KEY` (the container stands where the bucket does) or
/// `http(s)://HOST/PATH` (the host does). A key that is empty or ends
/// in `/` is a prefix: the objects below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectUrl {
    /// The scheme, one of [`SCHEMES`].
    pub scheme: &'static str,
    /// The bucket (for `az://`, the container; for `http(s)://`, the host
    /// and port).
    pub bucket: String,
    /// The key, or the prefix (empty: the whole bucket).
    pub key: String,
}

impl ObjectUrl {
    /// Parses `s3://BUCKET/KEY`, `s3://BUCKET/PREFIX/`, `s3://BUCKET`, and
    /// the same with `gs://BUCKET`, `az://CONTAINER`, `http://HOST` or
    /// `https://HOST` for `s3://BUCKET`.
    pub fn parse(url: &str) -> Result<ObjectUrl, RemoteError> {
        let (scheme, rest) = SCHEMES
            .iter()
            .find_map(|scheme| url.strip_prefix(scheme).map(|rest| (*scheme, rest)))
            .ok_or_else(|| {
                RemoteError::Url(format!(
                    "expected an object URL ({}), found {url:?}",
                    SCHEMES.join(", ")
                ))
            })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(RemoteError::Url(format!(
                "expected a bucket (or host) name after {scheme}, found {url:?}"
            )));
        }
        Ok(ObjectUrl {
            scheme,
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// Whether the URL names the objects below a prefix (its key is empty
    /// or ends in `/`), not one object.
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    /// The URL of `key` in the same bucket (or on the same host).
    pub fn with_key(&self, key: &str) -> ObjectUrl {
        ObjectUrl {
            scheme: self.scheme,
            bucket: self.bucket.clone(),
            key: key.to_string(),
        }
    }
}

impl std::fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}/{}", self.scheme, self.bucket, self.key)
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
        assert!(ObjectUrl::parse("ftp://logs/key").is_err());
        assert!(ObjectUrl::parse("gs:///key").is_err());
        let gcs = ObjectUrl::parse("gs://logs/node-1/").unwrap();
        assert_eq!((gcs.scheme, gcs.bucket.as_str()), (GCS_SCHEME, "logs"));
        assert!(gcs.is_prefix());
        let azure = ObjectUrl::parse("az://backups/node-1/raft.plog").unwrap();
        assert_eq!(azure.scheme, AZURE_SCHEME);
        assert_eq!(azure.bucket, "backups");
        assert_eq!(azure.key, "node-1/raft.plog");
        assert_eq!(azure.to_string(), "az://backups/node-1/raft.plog");
        assert!(ObjectUrl::parse("https:///key").is_err());
        let http = ObjectUrl::parse("http://127.0.0.1:9000/logs/raft.plog").unwrap();
        assert_eq!(http.scheme, "http://");
        assert_eq!(http.bucket, "127.0.0.1:9000");
        assert_eq!(http.key, "logs/raft.plog");
        assert_eq!(http.to_string(), "http://127.0.0.1:9000/logs/raft.plog");
        assert_eq!(
            http.with_key("logs/b.plog").to_string(),
            "http://127.0.0.1:9000/logs/b.plog"
        );
        assert!(is_url("s3://b/k"));
        assert!(is_url("https://h/k"));
        assert!(is_url("gs://b/k"));
        assert!(is_url("az://c/k"));
        let hadoop = ObjectUrl::parse("abfss://c@acct.dfs.core.windows.net/d/k").unwrap();
        assert_eq!(hadoop.bucket, "c@acct.dfs.core.windows.net");
        assert_eq!(hadoop.key, "d/k");
        assert_eq!(
            hadoop.to_string(),
            "abfss://c@acct.dfs.core.windows.net/d/k"
        );
        assert!(is_url("abfs://c/k"));
        assert!(!is_url("adl://c/k"));
        assert!(!is_url("./s3:/b"));
        assert!(!is_url("http:/b"));
    }
}
