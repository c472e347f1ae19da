//! Judging a walk: how a damaged file is treated ([`RecoveryMode`]), the
//! one rule that judges each finding ([`RecoveryPolicy::reject`]), and what
//! a whole file comes to under it ([`Verdict`], [`Problem`]).
//!
//! Everything here is `no_std` and allocation-free. What is judged comes from
//! the fold (`fold.rs`): each [`Finding`] and the [`Summary`].

use core::fmt;

use crate::{
    Corruption, Finding, IndexOrder, IndexStats, IndexViolation, Summary, TornReason, TornTail,
};

/// How a damaged file is treated (chosen by the caller).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// A torn tail is what a crash leaves and is tolerated (dropped, and
    /// reported); any corruption or index violation is an error. What
    /// engenho-store does with a torn tail, and the default.
    #[default]
    TolerateTorn,
    /// A torn tail is an error too: the file must be clean (and its indices
    /// in the expected order).
    Strict,
    /// Corrupt records are skipped: every valid record is kept and the
    /// losses are reported (see [`Findings::lost`](crate::Findings::lost)).
    /// A file whose magic is bad or of another version holds nothing to
    /// salvage and is still an error.
    Salvage,
}

impl RecoveryMode {
    /// The stable name: `"tolerate_torn"`, `"strict"` or `"salvage"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RecoveryMode::TolerateTorn => "tolerate_torn",
            RecoveryMode::Strict => "strict",
            RecoveryMode::Salvage => "salvage",
        }
    }
}

/// What a caller accepts: a recovery mode and the order indices must follow.
///
/// [`RecoveryPolicy::reject`] is the one rule that decides acceptance, finding by
/// finding; [`Summary::judge`] applies the same rule to a whole file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RecoveryPolicy {
    /// How damage is treated (default: tolerate a torn tail).
    pub mode: RecoveryMode,
    /// The order that valid records' indices must follow (default: any).
    pub index_order: IndexOrder,
}

impl RecoveryPolicy {
    /// A policy of `mode` expecting `index_order`.
    pub const fn new(mode: RecoveryMode, index_order: IndexOrder) -> RecoveryPolicy {
        RecoveryPolicy { mode, index_order }
    }

    /// Whether `finding` makes the file unacceptable, and why:
    ///
    /// * a corruption rejects, except in [`RecoveryMode::Salvage`] where
    ///   only a bad or unsupported magic does;
    /// * a valid record rejects when its index breaks `index_order`
    ///   ([`IndexViolation::under`]), except in `Salvage`;
    /// * a torn tail rejects only in [`RecoveryMode::Strict`].
    ///
    /// A streaming consumer (a replay) stops at the first finding this
    /// rejects; [`Summary::judge`] returns the same problem for the whole
    /// file.
    ///
    /// ```
    /// use plog_format::{Finding, IndexOrder, RecoveryPolicy, RecoveryMode};
    /// let strict = RecoveryPolicy::new(RecoveryMode::Strict, IndexOrder::Any);
    /// let record = Finding::Record { offset: 26, index: 1, violation: None };
    /// assert_eq!(strict.reject(&record), None);
    /// ```
    #[inline]
    pub fn reject(&self, finding: &Finding) -> Option<Problem> {
        match (*finding, self.mode) {
            (Finding::Record { .. }, RecoveryMode::Salvage) => None,
            (Finding::Record { violation, .. }, _) => {
                violation?.under(self.index_order).map(Problem::Index)
            }
            (Finding::Corrupt(corruption), RecoveryMode::Salvage) if !corruption.is_magic() => None,
            (Finding::Corrupt(corruption), _) => Some(Problem::Corrupt(corruption)),
            (Finding::Torn(tail), RecoveryMode::Strict) => Some(Problem::Torn(tail)),
            (Finding::Torn(_), _) => None,
        }
    }

    /// The first index violation of `stats` that [`RecoveryPolicy::reject`]
    /// rejects, in file order (e.g. for the [`IndexStats`] that
    /// [`Fold::valid_run`](crate::Fold::valid_run) returns for a run).
    pub fn reject_indices(&self, stats: &IndexStats) -> Option<Problem> {
        let reject = |violation: Option<IndexViolation>| {
            violation.and_then(|v| self.reject(&Finding::from(v)))
        };
        earliest(reject(stats.first_gap), reject(stats.first_order))
    }
}

/// The earlier of two problems by offset (file order).
fn earliest(a: Option<Problem>, b: Option<Problem>) -> Option<Problem> {
    match (a, b) {
        (Some(a), Some(b)) if b.offset() < a.offset() => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

impl Summary {
    /// The first finding that `policy` rejects, in file order: what a
    /// replay streaming the same events through [`RecoveryPolicy::reject`] stops
    /// at.
    pub fn first_rejection(&self, policy: RecoveryPolicy) -> Option<Problem> {
        let corrupt = self
            .first_corruption
            .and_then(|c| policy.reject(&Finding::Corrupt(c)));
        let torn = self.torn.and_then(|t| policy.reject(&Finding::Torn(t)));
        earliest(
            earliest(corrupt, policy.reject_indices(&self.indices)),
            torn,
        )
    }

    /// Whether the file is acceptable under `policy`, and how:
    ///
    /// * [`Verdict::Rejected`] with the first finding that
    ///   [`RecoveryPolicy::reject`] rejects, in file order;
    /// * otherwise, in [`RecoveryMode::Salvage`]: [`Verdict::Salvaged`] when
    ///   anything was lost (a corruption), broke `index_order` or was torn,
    ///   else [`Verdict::Clean`];
    /// * otherwise: [`Verdict::TornTolerated`] when there is a torn tail,
    ///   else [`Verdict::Clean`].
    ///
    /// ```
    /// use plog_format::{encode_record_to_vec, Fold, IndexOrder, RecoveryPolicy, RecoveryMode, Scanner, Verdict, MAGIC};
    /// let mut log = MAGIC.to_vec();
    /// encode_record_to_vec(1, b"{}", &mut log);
    /// encode_record_to_vec(3, b"{}", &mut log);
    /// log.extend_from_slice(&[7; 5]); // a torn header
    /// let mut fold = Fold::new(log.len() as u64);
    /// Scanner::new(&log).for_each(|event| { fold.event(&event); });
    /// let summary = fold.finish();
    /// assert!(matches!(summary.judge(RecoveryPolicy::default()), Verdict::TornTolerated(t) if t.offset == 26 + 2 * 50));
    /// let contiguous = RecoveryPolicy::new(RecoveryMode::TolerateTorn, IndexOrder::Contiguous);
    /// let Verdict::Rejected(problem) = summary.judge(contiguous) else { panic!() };
    /// assert_eq!((problem.kind(), problem.offset(), problem.index()), ("index_gap", 76, Some(3)));
    /// assert_eq!(summary.judge(RecoveryPolicy::new(RecoveryMode::Salvage, IndexOrder::Any)), Verdict::Salvaged);
    /// ```
    pub fn judge(&self, policy: RecoveryPolicy) -> Verdict {
        if let Some(problem) = self.first_rejection(policy) {
            return Verdict::Rejected(problem);
        }
        match (policy.mode, self.torn) {
            (RecoveryMode::Salvage, torn) => {
                let lossy = self.corruptions > 0
                    || self.indices.violations(policy.index_order) > 0
                    || torn.is_some();
                if lossy {
                    Verdict::Salvaged
                } else {
                    Verdict::Clean
                }
            }
            (_, Some(tail)) => Verdict::TornTolerated(tail),
            (_, None) => Verdict::Clean,
        }
    }
}

/// Whether a file is acceptable under a [`RecoveryPolicy`] ([`Summary::judge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Nothing to tolerate: no corruption, no torn tail, no index violation
    /// under the policy's order.
    Clean,
    /// Acceptable: the file ends in this torn tail, which is dropped
    /// (not in [`RecoveryMode::Strict`], where it is rejected, nor in
    /// `Salvage`, where it makes the file [`Verdict::Salvaged`]).
    TornTolerated(TornTail),
    /// [`RecoveryMode::Salvage`] only: acceptable, but something was lost
    /// (a corruption), broke the policy's index order, or was torn (a torn
    /// magic too: the file holds no record); every valid record is kept.
    Salvaged,
    /// Not acceptable: the first finding the policy rejects, in file order.
    Rejected(Problem),
}

impl Verdict {
    /// Whether the file is acceptable (anything but [`Verdict::Rejected`]).
    pub const fn passes(&self) -> bool {
        !matches!(self, Verdict::Rejected(_))
    }

    /// The stable name: `"clean"`, `"torn_tolerated"`, `"salvaged"` or
    /// `"rejected"`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::TornTolerated(_) => "torn_tolerated",
            Verdict::Salvaged => "salvaged",
            Verdict::Rejected(_) => "rejected",
        }
    }

    /// Why the file is rejected, if it is.
    pub const fn problem(&self) -> Option<Problem> {
        match self {
            Verdict::Rejected(problem) => Some(*problem),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Clean => f.write_str("clean"),
            Verdict::TornTolerated(tail) => write!(f, "{tail} (tolerated)"),
            Verdict::Salvaged => f.write_str("salvaged: damaged parts skipped"),
            Verdict::Rejected(problem) => write!(f, "rejected: {problem}"),
        }
    }
}

/// The finding that makes a file unacceptable under a [`RecoveryPolicy`].
///
/// Displayed with its offset and, where there is one, the record's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A corruption (any, or in `Salvage` mode only a bad or unsupported
    /// magic).
    #[error("{0}")]
    Corrupt(Corruption),
    /// A torn tail ([`RecoveryMode::Strict`] only).
    #[error("{0} (a torn tail is an error in strict mode)")]
    Torn(TornTail),
    /// A valid record whose index breaks the policy's order (`order` is the
    /// policy's).
    #[error("{0}")]
    Index(IndexViolation),
}

impl Problem {
    /// The stable kind: a [`Corruption::kind`], `"torn"`, or an
    /// [`IndexViolationKind::as_str`](crate::IndexViolationKind::as_str).
    pub const fn kind(&self) -> &'static str {
        match self {
            Problem::Corrupt(corruption) => corruption.kind(),
            Problem::Torn(_) => "torn",
            Problem::Index(violation) => violation.kind.as_str(),
        }
    }

    /// Where the problem is in the file (0 for the magic).
    pub const fn offset(&self) -> u64 {
        match self {
            Problem::Corrupt(corruption) => corruption.offset(),
            Problem::Torn(tail) => tail.offset,
            Problem::Index(violation) => violation.offset,
        }
    }

    /// The index of the record concerned, where there is one (the damaged
    /// header's index field, the cut record's, or the misordered record's).
    pub const fn index(&self) -> Option<u64> {
        match self {
            Problem::Corrupt(corruption) => corruption.index(),
            Problem::Torn(TornTail {
                reason: TornReason::PartialPayload { index, .. },
                ..
            }) => Some(*index),
            Problem::Torn(_) => None,
            Problem::Index(violation) => Some(violation.index),
        }
    }
}
