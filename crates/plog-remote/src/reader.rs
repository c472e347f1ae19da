//! An object's bytes, read in order as bounded ranged GETs.

use std::collections::VecDeque;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore};
use tokio::runtime::Runtime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::bucket::crate_u64;
use crate::error::one_line;

/// A requested range: the bytes it should have, the request, and its
/// share of the bucket's memory limit.
type Pending = (
    Range<u64>,
    JoinHandle<object_store::Result<bytes::Bytes>>,
    OwnedSemaphorePermit,
);

/// An object's bytes, read in order through ranged GETs of bounded size,
/// a few requested ahead ([`Bucket::reader`](crate::Bucket::reader)).
pub struct ObjectReader {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) location: ObjectPath,
    pub(crate) e_tag: Option<String>,
    pub(crate) size: u64,
    /// The start of the next range to request.
    pub(crate) next: u64,
    pub(crate) range_len: u64,
    pub(crate) in_flight: VecDeque<Pending>,
    pub(crate) ranges_in_flight: usize,
    /// The bucket's memory limit, in bytes (shared by its readers).
    pub(crate) budget: Arc<Semaphore>,
    /// What is left of the range being read.
    pub(crate) current: bytes::Bytes,
    /// The bucket's memory limit, in bytes, as given.
    pub(crate) budget_total: usize,
    /// The share of the memory limit `current` holds.
    pub(crate) current_permit: Option<OwnedSemaphorePermit>,
    /// A range failed: the reader ends every read with an error.
    pub(crate) failed: bool,
}

impl ObjectReader {
    /// Requests ranges until `ranges_in_flight` are held or requested (the
    /// one being read counts), the object's end is reached, or (for a range
    /// ahead of the one needed now) the bucket's memory limit is taken.
    fn fill(&mut self) {
        let held = usize::from(!self.current.is_empty());
        while self.in_flight.len() + held < self.ranges_in_flight && self.next < self.size {
            let end = self.next.saturating_add(self.range_len).min(self.size);
            let range = self.next..end;
            let permits = u32::try_from(end - self.next)
                .unwrap_or(u32::MAX)
                .min(self.budget_permits());
            let permit = if held == 0 && self.in_flight.is_empty() {
                // The range the reader needs now: it waits for room (the
                // others' ranges are handed back as they are read; this
                // reader holds none, so nothing waits on it).
                let budget = Arc::clone(&self.budget);
                match self
                    .runtime
                    .block_on(async move { budget.acquire_many_owned(permits).await })
                {
                    Ok(permit) => permit,
                    // Never closed; were it, the range goes unaccounted.
                    Err(_) => return,
                }
            } else {
                match Arc::clone(&self.budget).try_acquire_many_owned(permits) {
                    Ok(permit) => permit,
                    // No room to read ahead now: the next read tries again.
                    Err(_) => return,
                }
            };
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
            self.in_flight.push_back((range, request, permit));
        }
    }

    /// The permits a range may take at most: the whole limit (a range
    /// larger than it takes all of it, not more than there are).
    fn budget_permits(&self) -> u32 {
        u32::try_from(self.budget_total).unwrap_or(u32::MAX).max(1)
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
            let Some((range, request, permit)) = self.in_flight.pop_front() else {
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
            self.current_permit = Some(permit);
            // The next ranges are requested while this one is walked.
            self.fill();
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        if self.current.is_empty() {
            // The range is read: its memory is the others' to take.
            self.current_permit = None;
        }
        Ok(n)
    }
}

impl Drop for ObjectReader {
    fn drop(&mut self) {
        // Ranges requested and no longer wanted (a pass that stopped early).
        for (_, request, _) in self.in_flight.drain(..) {
            request.abort();
        }
    }
}
