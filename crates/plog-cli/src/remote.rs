//! `plog verify s3://BUCKET/KEY` and `s3://BUCKET/PREFIX/` (and `gs://`,
//! `az://`, `http(s)://`, plog-remote's schemes): objects named,
//! listed and read through plog-remote (ranged GETs of bounded size), each
//! walked by the same streaming verifier as `plog verify -`
//! (`Log::from_stream`), so the report of an object is that of the same
//! bytes in a local file. Several objects are verified at once
//! ([`jobs::in_order`]), their lines printed in the listing's order;
//! `--resume` skips those a [`manifest::Manifest`] records clean.

mod jobs;
mod manifest;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::ProgressBar;

use plog_mmap::{Log, Progress, Verdict, VerifyOptions};
use plog_remote::{Bucket, ObjectInfo, ObjectUrl, RemoteError, RemoteOptions};

use crate::error::CliError;
use crate::paths::{DirFilter, ObjectArgs, takes};
use crate::verify::{Emit, Outcome, Resumed};

pub use manifest::Manifest;

/// How `plog verify` reads object URLs (its flags).
pub struct RemoteRun<'a> {
    /// `--endpoint`, `--retries`.
    pub objects: &'a ObjectArgs,
    /// `--jobs`: objects verified at once.
    pub jobs: usize,
    /// `--resume`: the manifest of objects verified clean.
    pub resume: Option<&'a Path>,
    /// `--expect`, as the manifest names it.
    pub expect: Option<&'static str>,
}

/// Verifies the objects `urls` name, `run.jobs` at a time, handing each
/// outcome to `emit` in the listing's order (an object a `--resume`
/// manifest records clean, at the same ETag and size, is not read again:
/// its outcome is [`Outcome::Resumed`]); a progress bar of the objects'
/// bytes on a terminal.
pub fn verify_urls(
    urls: &[String],
    filter: &DirFilter,
    run: &RemoteRun<'_>,
    verify: &VerifyOptions,
    emit: &mut Emit<'_>,
) -> Result<(), CliError> {
    let options = remote_options(run.objects);
    let manifest = run.resume.map(Manifest::open).transpose()?;
    let mut targets = expand(urls, filter, &options);
    if let Some(manifest) = &manifest {
        with_e_tags(&mut targets, run.jobs);
        for target in &mut targets {
            if let RemoteTarget::Object(_, info) = target
                && let Some(entry) = manifest.recorded_clean(
                    &info.url.to_string(),
                    info.e_tag.as_deref(),
                    info.size,
                    run.expect,
                )
            {
                *target = RemoteTarget::Resumed(info.url.to_string(), entry);
            }
        }
    }
    let bar = crate::progress::bytes_bar(targets.iter().map(RemoteTarget::size).sum());
    // Results held for an earlier, slower object: a few per job (each a
    // report, its findings capped; the ranges are gone by then).
    let window = run.jobs.saturating_mul(4);
    jobs::in_order(
        &targets,
        run.jobs,
        window,
        |target| {
            let outcome = self::verify(target, verify, &bar);
            if let (Some(manifest), RemoteTarget::Object(_, info), Outcome::Verified(report)) =
                (&manifest, target, &outcome)
                && report.verdict() == Verdict::Clean
                && report.passes()
                && let Some(etag) = &info.e_tag
            {
                // Recorded as it ends, not as it is printed: a run killed
                // now keeps it.
                manifest.record(&manifest::Entry {
                    url: info.url.to_string(),
                    etag: etag.clone(),
                    size: info.size,
                    records: report.summary.records,
                    expect: run.expect.map(str::to_string),
                })?;
            }
            Ok(outcome)
        },
        |target, outcome: Result<Outcome, CliError>| emit(&target.path(), &outcome?, &bar),
    )?;
    bar.finish_and_clear();
    Ok(())
}

/// Gives each object whose listing named no ETag (some S3-compatible
/// stores list none) the ETag its HEAD gives, `jobs` at a time: a
/// manifest records an object at its ETag, and the reader then asks for
/// that version of it. An object whose HEAD fails is left as it is (its
/// read says why).
fn with_e_tags(targets: &mut [RemoteTarget], jobs: usize) {
    let missing: Vec<usize> = (0..targets.len())
        .filter(|&i| matches!(&targets[i], RemoteTarget::Object(_, info) if info.e_tag.is_none()))
        .collect();
    let mut found = Vec::with_capacity(missing.len());
    let heads = jobs::in_order(
        &missing,
        jobs,
        jobs.saturating_mul(4),
        |&i| match &targets[i] {
            RemoteTarget::Object(bucket, info) => bucket.head(&info.url.key).ok(),
            RemoteTarget::Failed(..) | RemoteTarget::Resumed(..) => None,
        },
        |&i, head| {
            found.push((i, head));
            Ok::<bool, std::convert::Infallible>(true)
        },
    );
    let Ok(()) = heads;
    for (i, head) in found {
        if let (RemoteTarget::Object(_, info), Some(head)) = (&mut targets[i], head) {
            *info = head;
        }
    }
}

/// The options of plog-remote the flags give.
fn remote_options(objects: &ObjectArgs) -> RemoteOptions {
    RemoteOptions {
        endpoint: objects.endpoint.clone(),
        max_retries: usize::from(objects.retries),
        ..RemoteOptions::default()
    }
}

/// Opens the object `path` names (`s3://BUCKET/KEY`, ...) as a log read in one
/// pass as its ranges arrive (`Log::from_stream`, as `-` is): what `plog
/// stat` and `plog dump` read.
pub fn open(path: &Path, objects: &ObjectArgs) -> Result<Log, CliError> {
    let text = path.to_string_lossy();
    let url = ObjectUrl::parse(&text).map_err(|err| CliError::at(path, err.to_string()))?;
    if url.is_prefix() {
        return Err(CliError::at(
            path,
            "expected the URL of one object (such as s3://BUCKET/KEY), found a prefix (ending in `/`)",
        ));
    }
    let bucket = Bucket::connect_url(&url, &remote_options(objects))
        .map_err(|err| CliError::at(path, err.to_string()))?;
    let info = bucket
        .head(&url.key)
        .map_err(|err| CliError::at(path, err.to_string()))?;
    Ok(Log::from_stream(bucket.reader(&info)))
}

/// One object to verify, or why a URL yields none.
pub enum RemoteTarget {
    /// An object found, and the bucket it is read from.
    Object(std::sync::Arc<Bucket>, ObjectInfo),
    /// A URL that could not be listed or read: its error.
    Failed(String, String),
    /// An object the `--resume` manifest records clean at the ETag and
    /// length it is listed with: its URL and what was recorded.
    Resumed(String, Resumed),
}

impl RemoteTarget {
    /// The object's length (0 for a URL that failed).
    pub fn size(&self) -> u64 {
        match self {
            RemoteTarget::Object(_, info) => info.size,
            RemoteTarget::Failed(..) | RemoteTarget::Resumed(..) => 0,
        }
    }

    /// The path shown for it: the object's URL.
    pub fn path(&self) -> PathBuf {
        match self {
            RemoteTarget::Object(_, info) => PathBuf::from(info.url.to_string()),
            RemoteTarget::Failed(url, _) | RemoteTarget::Resumed(url, _) => PathBuf::from(url),
        }
    }
}

/// The objects `urls` name, in order: a URL ending in `/` (or a bare
/// bucket) stands for every object below it whose key (below the prefix)
/// `filter` takes, sorted by key; any other URL for one object.
pub fn expand(urls: &[String], filter: &DirFilter, options: &RemoteOptions) -> Vec<RemoteTarget> {
    let mut out = Vec::new();
    let mut buckets: Vec<(ObjectUrl, std::sync::Arc<Bucket>)> = Vec::new();
    for text in urls {
        let failed = |err: RemoteError| RemoteTarget::Failed(text.clone(), err.to_string());
        let url = match ObjectUrl::parse(text) {
            Ok(url) => url,
            Err(err) => {
                out.push(failed(err));
                continue;
            }
        };
        let base = url.with_key("");
        let bucket = match buckets.iter().find(|(known, _)| *known == base) {
            Some((_, bucket)) => std::sync::Arc::clone(bucket),
            None => match Bucket::connect_url(&url, options) {
                Ok(bucket) => {
                    let bucket = std::sync::Arc::new(bucket);
                    buckets.push((base, std::sync::Arc::clone(&bucket)));
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
        RemoteTarget::Resumed(_, resumed) => Outcome::Resumed(resumed.clone()),
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
