//! The reference classification: the structural walk plus each record's hash,
//! sequentially, in file order.

use crate::{Event, Walker};

/// The FORMAT.md classification as an iterator: a [`Walker`] whose records
/// are hash-checked one by one.
///
/// This is the simple, sequential reference that every faster reader in plog
/// is tested against.
///
/// ```
/// use plog_format::{encode_record_to_vec, Event, Scanner, MAGIC};
///
/// let mut log = MAGIC.to_vec();
/// encode_record_to_vec(1, b"one", &mut log);
/// encode_record_to_vec(2, b"two", &mut log);
/// let last = log.len() - 1;
/// log[last] ^= 1; // flip a bit of the second payload
///
/// let events: Vec<_> = Scanner::new(&log).collect();
/// assert!(matches!(events[0], Event::Record(r) if r.index() == 1));
/// assert!(matches!(events[1], Event::Corrupt(c) if c.kind() == "hash_mismatch" && c.index() == Some(2)));
/// assert_eq!(events.len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Scanner<'a> {
    walker: Walker<'a>,
}

impl<'a> Scanner<'a> {
    /// Classifies a whole file, starting with its magic.
    pub fn new(data: &'a [u8]) -> Scanner<'a> {
        Scanner {
            walker: Walker::new(data),
        }
    }

    /// Scans the steps of an already positioned walker.
    pub fn from_walker(walker: Walker<'a>) -> Scanner<'a> {
        Scanner { walker }
    }

    /// Where the next event starts (see [`Walker::offset`]).
    pub fn offset(&self) -> u64 {
        self.walker.offset()
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = Event<'a>;

    #[inline]
    fn next(&mut self) -> Option<Event<'a>> {
        self.walker.next().map(Event::from)
    }
}

impl core::iter::FusedIterator for Scanner<'_> {}

#[cfg(feature = "alloc")]
mod collected {
    use alloc::vec::Vec;

    use super::Scanner;
    use crate::Event;
    use crate::{Corruption, Findings, Fold, IndexOrder, Status, TornTail, len_u64};

    /// Where a valid record is and what it holds, without borrowing the input.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct RecordSummary {
        /// Byte offset of the header.
        pub offset: u64,
        /// The entry index.
        pub index: u64,
        /// The payload length.
        pub payload_len: u64,
    }

    /// A whole file's classification (FORMAT.md): every valid record, every
    /// corruption and the torn tail, in file order.
    ///
    /// The sequential oracle's lists; [`summarize`](crate::summarize) gives
    /// the [`Summary`](crate::Summary) of the same events without
    /// allocating.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Classification {
        /// Length of the input in bytes.
        pub file_len: u64,
        /// The valid records.
        pub records: Vec<RecordSummary>,
        /// Every corruption.
        pub corruptions: Vec<Corruption>,
        /// The torn tail, if the file ends in one.
        pub torn: Option<TornTail>,
    }

    impl Classification {
        /// `corrupt` if there is any corruption, else `torn` if there is a
        /// torn tail, else `clean`.
        pub fn status(&self) -> Status {
            Status::from_findings(!self.corruptions.is_empty(), self.torn.is_some())
        }

        /// Index of the first valid record.
        pub fn first_index(&self) -> Option<u64> {
            self.records.first().map(|r| r.index)
        }

        /// Index of the last valid record.
        pub fn last_index(&self) -> Option<u64> {
            self.records.last().map(|r| r.index)
        }
    }

    /// Classifies `data` (a whole file) with [`Scanner`] and collects the
    /// result: the events go through [`Fold`] and [`Findings`] (unbounded),
    /// which give the file length, the torn tail and the corruptions, and
    /// each valid record is listed. Allocates one [`RecordSummary`] per
    /// valid record: this is the oracle, not the fast path (see plog-mmap
    /// for that).
    pub fn classify(data: &[u8]) -> Classification {
        let mut fold = Fold::new(len_u64(data.len()));
        let mut findings = Findings::new(len_u64(data.len()), IndexOrder::Any, usize::MAX);
        let mut records = Vec::new();
        for event in Scanner::new(data) {
            findings.push(&fold.event(&event));
            if let Event::Record(record) = event {
                records.push(RecordSummary {
                    offset: record.offset(),
                    index: record.index(),
                    payload_len: record.payload_len(),
                });
            }
        }
        let summary = fold.finish();
        Classification {
            file_len: summary.file_len,
            records,
            corruptions: findings.finish().corruptions,
            torn: summary.torn,
        }
    }
}

/// The [`Summary`](crate::Summary) of a whole file: the [`Fold`](crate::Fold)
/// of its [`Scanner`] events, sequentially, without allocating (the
/// reference that parallel readers are compared with).
///
/// ```
/// use plog_format::{encode_record_to_vec, summarize, Status, MAGIC};
/// let mut log = MAGIC.to_vec();
/// encode_record_to_vec(1, b"{}", &mut log);
/// let summary = summarize(&log[..log.len() - 1]);
/// assert_eq!((summary.status(), summary.records, summary.records_end), (Status::Torn, 0, 26));
/// ```
pub fn summarize(data: &[u8]) -> crate::Summary {
    let mut fold = crate::Fold::new(crate::len_u64(data.len()));
    for event in Scanner::new(data) {
        fold.event(&event);
    }
    fold.finish()
}

#[cfg(feature = "alloc")]
pub use collected::{Classification, RecordSummary, classify};
