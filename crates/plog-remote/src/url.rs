//! Naming objects: `s3://BUCKET/KEY` URLs.

use crate::RemoteError;

/// The URL scheme this crate reads (`s3://BUCKET/KEY`).
pub const S3_SCHEME: &str = "s3://";

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
