//! Opt-in checks of the order of record indices.
//!
//! The writer in the field accepts any index, so real files may hold gaps,
//! repeats and decreasing indices; these checks are for callers that expect
//! more (a Raft log is contiguous).

/// What a caller expects of consecutive indices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IndexOrder {
    /// Any index may follow any other (the v1 writer's behaviour).
    #[default]
    Any,
    /// Each index is greater than the previous one.
    Increasing,
    /// Each index is the previous one plus one.
    Contiguous,
}

impl IndexOrder {
    /// Whether `next` may follow `previous` (`None`: `next` is the first index).
    ///
    /// ```
    /// use plog_format::{IndexOrder, IndexViolationKind};
    /// assert_eq!(IndexOrder::Contiguous.admits(Some(4), 5), Ok(()));
    /// assert_eq!(IndexOrder::Contiguous.admits(Some(4), 7), Err(IndexViolationKind::Gap));
    /// assert_eq!(IndexOrder::Increasing.admits(Some(4), 7), Ok(()));
    /// assert_eq!(IndexOrder::Increasing.admits(Some(4), 4), Err(IndexViolationKind::Order));
    /// assert_eq!(IndexOrder::Any.admits(Some(4), 1), Ok(()));
    /// ```
    pub const fn admits(self, previous: Option<u64>, next: u64) -> Result<(), IndexViolationKind> {
        let Some(previous) = previous else {
            return Ok(());
        };
        match self {
            IndexOrder::Any => Ok(()),
            IndexOrder::Increasing if next > previous => Ok(()),
            IndexOrder::Increasing => Err(IndexViolationKind::Order),
            IndexOrder::Contiguous => match previous.checked_add(1) {
                Some(expected) if next == expected => Ok(()),
                Some(expected) if next > expected => Err(IndexViolationKind::Gap),
                _ => Err(IndexViolationKind::Order),
            },
        }
    }

    /// The stable name: `"any"`, `"increasing"`, `"contiguous"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IndexOrder::Any => "any",
            IndexOrder::Increasing => "increasing",
            IndexOrder::Contiguous => "contiguous",
        }
    }
}

/// How an index broke the expected order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IndexViolationKind {
    /// Indices were skipped (contiguous order expected).
    Gap,
    /// The index repeats or goes back.
    Order,
}

impl IndexViolationKind {
    /// The stable kind: `"index_gap"` or `"index_order"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IndexViolationKind::Gap => "index_gap",
            IndexViolationKind::Order => "index_order",
        }
    }
}

/// A valid record whose index breaks the expected order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "record at offset {offset}: expected index {expected} after {previous_index}, found {index}",
    expected = match order {
        IndexOrder::Contiguous => "previous + 1",
        _ => "greater than previous",
    }
)]
pub struct IndexViolation {
    /// Offset of the record's header.
    pub offset: u64,
    /// Its index.
    pub index: u64,
    /// The index of the valid record before it.
    pub previous_index: u64,
    /// The order that was expected.
    pub order: IndexOrder,
    /// How it was broken.
    pub kind: IndexViolationKind,
}

impl IndexViolation {
    /// The same record judged under `order`: `None` when `order` admits it,
    /// else the violation with its `order` field set to `order`.
    ///
    /// A gap breaks only [`IndexOrder::Contiguous`]; a repeat or decrease
    /// ([`IndexViolationKind::Order`]) breaks both `Increasing` and
    /// `Contiguous`; nothing breaks [`IndexOrder::Any`]. (This agrees with
    /// [`IndexOrder::admits`] for every pair of indices.)
    ///
    /// ```
    /// use plog_format::{IndexChecker, IndexOrder};
    /// let mut checker = IndexChecker::new(IndexOrder::Contiguous);
    /// checker.check(26, 1);
    /// let gap = checker.check(80, 5).unwrap();
    /// assert_eq!(gap.under(IndexOrder::Increasing), None);
    /// assert_eq!(gap.under(IndexOrder::Contiguous), Some(gap));
    /// assert_eq!(gap.under(IndexOrder::Any), None);
    /// ```
    pub const fn under(self, order: IndexOrder) -> Option<IndexViolation> {
        let breaks = match order {
            IndexOrder::Any => false,
            IndexOrder::Increasing => matches!(self.kind, IndexViolationKind::Order),
            IndexOrder::Contiguous => true,
        };
        if breaks {
            Some(IndexViolation { order, ..self })
        } else {
            None
        }
    }
}

/// Checks the indices of valid records, fed in file order.
///
/// ```
/// use plog_format::{IndexChecker, IndexOrder};
/// let mut checker = IndexChecker::new(IndexOrder::Contiguous);
/// assert!(checker.check(26, 1).is_none());
/// let gap = checker.check(80, 3).unwrap();
/// assert_eq!((gap.kind.as_str(), gap.previous_index, gap.index), ("index_gap", 1, 3));
/// assert!(checker.check(130, 4).is_none()); // counted from the record before
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct IndexChecker {
    order: IndexOrder,
    previous: Option<u64>,
}

impl IndexChecker {
    /// A checker expecting `order`.
    pub const fn new(order: IndexOrder) -> IndexChecker {
        IndexChecker {
            order,
            previous: None,
        }
    }

    /// Feeds the next valid record; returns the violation, if it is one.
    pub fn check(&mut self, offset: u64, index: u64) -> Option<IndexViolation> {
        let previous = self.previous.replace(index);
        match self.order.admits(previous, index) {
            Ok(()) => None,
            Err(kind) => Some(IndexViolation {
                offset,
                index,
                // `admits` only fails when there is a previous index.
                previous_index: previous.unwrap_or_default(),
                order: self.order,
                kind,
            }),
        }
    }
}
