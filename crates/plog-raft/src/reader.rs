//! The reader behind each version's `PlogLogReader`: plans a range under
//! the index lock, then reads, verifies and decodes it on the rayon pool
//! while the caller's task awaits it.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use crate::flavor::Flavor;
use crate::read;
use crate::shared::Shared;

/// A cloneable handle on a store's entries.
pub(crate) struct Reader<C: Flavor> {
    shared: Arc<Shared<C>>,
}

impl<C: Flavor> Clone for Reader<C> {
    fn clone(&self) -> Self {
        Reader {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C: Flavor> Reader<C> {
    pub(crate) fn new(shared: Arc<Shared<C>>) -> Self {
        Reader { shared }
    }

    /// Reads the entries `start..end` (clamped to the log): the plan
    /// under the index lock, then the reads, hashes and decoding on the
    /// rayon pool while the caller's task awaits them.
    pub(crate) async fn read(&self, (start, end): (u64, u64)) -> Result<Vec<C::Entry>, String> {
        let pieces = read::plan(&self.shared.log(), start, end);
        if pieces.is_empty() {
            return Ok(Vec::new());
        }
        let verify = self.shared.options.verify_reads;
        let (tx, rx) = tokio::sync::oneshot::channel();
        rayon::spawn(move || {
            let _ = tx.send(read::load::<C>(&pieces, verify));
        });
        rx.await
            .map_err(|_| "the read was dropped by the rayon pool".to_string())?
    }

    /// The vote last saved.
    pub(crate) fn vote(&self) -> Option<C::Vote> {
        self.shared.state().vote.clone()
    }
}

/// `range` as `(start, end)`, `end` excluded, saturating.
pub(crate) fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&x) => x,
        Bound::Excluded(&x) => x.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&x) => x.saturating_add(1),
        Bound::Excluded(&x) => x,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}
