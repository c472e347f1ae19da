//! `plog verify s3://BUCKET/KEY` and `s3://BUCKET/PREFIX/`: objects named,
//! listed and read through plog-remote (ranged GETs of bounded size), each
//! walked by the same streaming verifier as `plog verify -`
//! (`Log::from_stream`), so the report of an object is that of the same
//! bytes in a local file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::ProgressBar;

use plog_mmap::{Log, Progress, VerifyOptions};
use plog_remote::{Bucket, ObjectInfo, ObjectUrl, RemoteError, RemoteOptions};

use crate::paths::{DirFilter, takes};
use crate::verify::Outcome;

/// One object to verify, or why a URL yields none.
pub enum RemoteTarget {
    /// An object found, and the bucket it is read from.
    Object(std::sync::Arc<Bucket>, ObjectInfo),
    /// A URL that could not be listed or read: its error.
    Failed(String, String),
}

impl RemoteTarget {
    /// The object's length (0 for a URL that failed).
    pub fn size(&self) -> u64 {
        match self {
            RemoteTarget::Object(_, info) => info.size,
            RemoteTarget::Failed(..) => 0,
        }
    }

    /// The path shown for it: the object's URL.
    pub fn path(&self) -> PathBuf {
        match self {
            RemoteTarget::Object(_, info) => PathBuf::from(info.url.to_string()),
            RemoteTarget::Failed(url, _) => PathBuf::from(url),
        }
    }
}

/// The objects `urls` name, in order: a URL ending in `/` (or a bare
/// bucket) stands for every object below it whose key (below the prefix)
/// `filter` takes, sorted by key; any other URL for one object.
pub fn expand(urls: &[String], filter: &DirFilter, options: &RemoteOptions) -> Vec<RemoteTarget> {
    let mut out = Vec::new();
    let mut buckets: Vec<(String, std::sync::Arc<Bucket>)> = Vec::new();
    for text in urls {
        let failed = |err: RemoteError| RemoteTarget::Failed(text.clone(), err.to_string());
        let url = match ObjectUrl::parse(text) {
            Ok(url) => url,
            Err(err) => {
                out.push(failed(err));
                continue;
            }
        };
        let bucket = match buckets.iter().find(|(name, _)| *name == url.bucket) {
            Some((_, bucket)) => std::sync::Arc::clone(bucket),
            None => match Bucket::connect(&url.bucket, options) {
                Ok(bucket) => {
                    let bucket = std::sync::Arc::new(bucket);
                    buckets.push((url.bucket.clone(), std::sync::Arc::clone(&bucket)));
                    bucket
                }
                Err(err) => {
                    out.push(failed(err));
                    continue;
                }
            },
        };
        if url.is_prefix() {
            match bucket.list(&url.key) {
                Ok(found) => {
                    let before = out.len();
                    out.extend(
                        found
                            .into_iter()
                            .filter(|info| {
                                let relative = info.url.key.strip_prefix(&url.key);
                                takes(filter, relative.unwrap_or(&info.url.key))
                            })
                            .map(|info| RemoteTarget::Object(std::sync::Arc::clone(&bucket), info)),
                    );
                    if out.len() == before {
                        out.push(RemoteTarget::Failed(
                            text.clone(),
                            "no object below the prefix matches --glob (--all takes every object)"
                                .to_string(),
                        ));
                    }
                }
                Err(err) => out.push(failed(err)),
            }
        } else {
            match bucket.head(&url.key) {
                Ok(info) => out.push(RemoteTarget::Object(bucket, info)),
                Err(err) => out.push(failed(err)),
            }
        }
    }
    out
}

/// Verifies one object: its bytes, as they arrive, through the streaming
/// verifier of `plog verify -`, counting its bytes on `bar`.
pub fn verify(target: &RemoteTarget, verify: &VerifyOptions, bar: &ProgressBar) -> Outcome {
    match target {
        RemoteTarget::Failed(_, err) => Outcome::Failed(err.clone()),
        RemoteTarget::Object(bucket, info) => {
            let log = Log::from_stream(bucket.reader(info));
            let bar = bar.clone();
            let shown = AtomicU64::new(0);
            let options = VerifyOptions {
                progress: Some(Progress::new(move |at| {
                    let before = shown.fetch_max(at, Ordering::Relaxed);
                    bar.inc(at.saturating_sub(before));
                })),
                ..verify.clone()
            };
            match log.verify(&options) {
                Ok(report) => Outcome::Verified(Box::new(report)),
                Err(err) => Outcome::Failed(crate::paths::read_error(&err)),
            }
        }
    }
}
