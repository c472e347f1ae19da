//! Why an object could not be named, listed or read.

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
    pub(crate) fn from_store(err: object_store::Error) -> RemoteError {
        match err {
            object_store::Error::NotFound { path, .. } => RemoteError::NotFound(path),
            other => RemoteError::Request(one_line(&other.to_string())),
        }
    }
}

/// `text` on one line (object_store's messages nest their sources).
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
