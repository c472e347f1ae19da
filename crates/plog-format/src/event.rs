//! A finding of the verified walk ([`Event`]): a step of the structural
//! walk whose record, if any, had its hash checked.

use crate::{Corruption, Record, Step, TornTail};

/// One finding of the full classification, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A valid record: structurally complete and its hash matches.
    Record(Record<'a>),
    /// A corruption (see [`Corruption`]); scanning continues after a damaged
    /// length (at its resync offset) and after a hash mismatch (with the next
    /// record), and ends after a bad or unsupported magic.
    Corrupt(Corruption),
    /// The torn tail; always the last event.
    Torn(TornTail),
}

impl<'a> From<Step<'a>> for Event<'a> {
    /// Verifies a step of the structural walk: a record whose hash matches
    /// stays a record, one whose hash does not becomes
    /// [`Corruption::HashMismatch`]; corruptions and torn tails carry over.
    /// (The one conversion from unverified steps to verified events: it
    /// hashes the payload of a record step, and nothing else.)
    #[inline]
    fn from(step: Step<'a>) -> Event<'a> {
        match step {
            Step::Record(record) => match record.verify() {
                Ok(()) => Event::Record(record),
                Err(corruption) => Event::Corrupt(corruption),
            },
            Step::Corrupt(corruption) => Event::Corrupt(corruption),
            Step::Torn(tail) => Event::Torn(tail),
        }
    }
}
