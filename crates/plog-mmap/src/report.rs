//! The verification report: plog-format's one model of a file
//! ([`Summary`], judged under a [`RecoveryPolicy`]) plus its bounded lists
//! ([`Findings`]), built by one fold over the events of a pass.

use plog_format::{
    Event, Finding, Findings, Fold, RecoveryPolicy, Status, Summary, ValidRun, Verdict,
};

use crate::VerifyOptions;

/// The result of verifying a whole file: FORMAT.md's classification folded
/// into plog-format's [`Summary`] (counts, first and last findings, index
/// statistics for every order), the bounded [`Findings`] lists (every
/// corruption, index violation and lost range, in file order, up to the
/// options' `list_limit`, counted exactly past it: a hostile file cannot
/// make the report outgrow memory), and the [`RecoveryPolicy`] it is judged by.
///
/// Each offset has one definition, in the summary: `records_end` is the end
/// of the last valid record, `torn.offset` where a torn tail starts (what
/// `plog repair` cuts to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// The one model of the file.
    pub summary: Summary,
    /// The corruptions, index violations (of `policy.index_order`) and lost
    /// ranges, in file order, bounded.
    pub findings: Findings,
    /// The recovery mode and index order the file is judged by.
    pub policy: RecoveryPolicy,
}

impl VerifyReport {
    /// FORMAT.md's status: `corrupt` if there is any corruption, else `torn`
    /// if there is a torn tail, else `clean`. (Index violations are not part
    /// of the format's status; see [`VerifyReport::verdict`].)
    pub fn status(&self) -> Status {
        self.summary.status()
    }

    /// The file judged under the report's policy
    /// ([`Summary::judge`]: the one function that decides).
    pub fn verdict(&self) -> Verdict {
        self.summary.judge(self.policy)
    }

    /// Whether the file is acceptable under the report's policy.
    pub fn passes(&self) -> bool {
        self.verdict().passes()
    }
}

impl VerifyReport {
    /// Sets the file's length, once a stream's is known (it is read to its
    /// end after the report was made).
    pub(crate) fn set_len(&mut self, len: u64) {
        self.summary.file_len = len;
        self.findings.set_file_len(len);
    }
}

/// Folds the events of a pass into a [`VerifyReport`]: the summary and the
/// lists take the same findings.
pub(crate) struct Reporter {
    fold: Fold,
    findings: Findings,
    policy: RecoveryPolicy,
}

impl Reporter {
    pub(crate) fn new(file_len: u64, options: &VerifyOptions) -> Reporter {
        Reporter {
            fold: Fold::new(file_len),
            findings: Findings::new(file_len, options.index_order, options.list_limit),
            policy: options.policy(),
        }
    }

    /// Folds the next event; returns its finding (for [`RecoveryPolicy::reject`]).
    #[inline]
    pub(crate) fn event(&mut self, event: &Event<'_>) -> Finding {
        let finding = self.fold.event(event);
        self.findings.push(&finding);
        finding
    }

    /// Folds a run of valid records at once when none of them breaks the
    /// index order (then nothing in it can be rejected); `false`, changing
    /// nothing, when the caller must feed its records one by one.
    #[inline]
    pub(crate) fn valid_run(&mut self, run: &ValidRun) -> bool {
        if self.findings.valid_run(run) {
            self.fold.valid_run(run);
            true
        } else {
            false
        }
    }

    /// The policy the pass is judged by.
    pub(crate) fn policy(&self) -> RecoveryPolicy {
        self.policy
    }

    pub(crate) fn finish(self) -> VerifyReport {
        VerifyReport {
            summary: self.fold.finish(),
            findings: self.findings.finish(),
            policy: self.policy,
        }
    }
}

/// JSON (or any serde format) of a report, with stable field names and the
/// `kind` strings of plog-format; hashes are lowercase hex; `status`,
/// `verdict` and `passes` are included.
///
/// ```
/// use plog_mmap::{Log, VerifyOptions};
/// let mut bytes = plog_format::MAGIC.to_vec();
/// plog_format::encode_record_to_vec(1, b"{}", &mut bytes);
/// bytes.extend_from_slice(&[0; 10]);
/// let report = Log::from_bytes(bytes).verify(&VerifyOptions::default()).unwrap();
/// let json = serde_json::to_value(&report).unwrap();
/// assert_eq!(json["status"], "torn");
/// assert_eq!(json["torn"]["reason"], "zero_fill");
/// assert_eq!(json["records"], 1);
/// ```
impl serde::Serialize for VerifyReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        json::Report::from(self).serialize(serializer)
    }
}

/// Serde mirrors of the report's plog-format types (which carry no serde
/// derive: plog-format is `no_std` and serde-free).
mod json {
    use plog_format::{Corruption, IndexViolation, LostRange, TornReason, TornTail};
    use serde::Serialize;

    use super::VerifyReport;

    #[derive(Serialize)]
    pub(super) struct Report {
        status: &'static str,
        verdict: &'static str,
        passes: bool,
        mode: &'static str,
        file_len: u64,
        records: u64,
        payload_bytes: u64,
        first_index: Option<u64>,
        last_index: Option<u64>,
        records_end: u64,
        torn: Option<Torn>,
        corruption_count: u64,
        corruptions: Vec<Damage>,
        index_order: &'static str,
        index_violation_count: u64,
        index_violations: Vec<Violation>,
        indices: Indices,
        lost: Vec<Lost>,
        omitted: Omitted,
    }

    #[derive(Serialize)]
    struct Indices {
        gaps: u64,
        indices_skipped: u64,
        repeats: u64,
        decreases: u64,
    }

    #[derive(Serialize)]
    struct Omitted {
        corruptions: u64,
        index_violations: u64,
        lost: u64,
    }

    impl From<&VerifyReport> for Report {
        fn from(r: &VerifyReport) -> Self {
            let s = &r.summary;
            let f = &r.findings;
            Report {
                status: r.status().as_str(),
                verdict: r.verdict().as_str(),
                passes: r.passes(),
                mode: r.policy.mode.as_str(),
                file_len: s.file_len,
                records: s.records,
                payload_bytes: s.payload_bytes,
                first_index: s.first_index,
                last_index: s.last_index,
                records_end: s.records_end,
                torn: s.torn.map(Torn::from),
                corruption_count: s.corruptions,
                corruptions: f.corruptions.iter().map(Damage::from).collect(),
                index_order: r.policy.index_order.as_str(),
                index_violation_count: s.indices.violations(r.policy.index_order),
                index_violations: f.index_violations.iter().map(Violation::from).collect(),
                indices: Indices {
                    gaps: s.indices.gaps,
                    indices_skipped: s.indices.indices_skipped,
                    repeats: s.indices.repeats,
                    decreases: s.indices.decreases,
                },
                lost: f.lost.iter().map(Lost::from).collect(),
                omitted: Omitted {
                    corruptions: f.omitted.corruptions,
                    index_violations: f.omitted.index_violations,
                    lost: f.omitted.lost,
                },
            }
        }
    }

    #[derive(Serialize)]
    struct Torn {
        offset: u64,
        bytes: u64,
        reason: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload_len: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        available: Option<u64>,
    }

    impl From<TornTail> for Torn {
        fn from(t: TornTail) -> Self {
            let (index, payload_len, available) = match t.reason {
                TornReason::PartialPayload {
                    index,
                    payload_len,
                    available,
                } => (Some(index), Some(payload_len), Some(available)),
                _ => (None, None, None),
            };
            Torn {
                offset: t.offset,
                bytes: t.bytes,
                reason: t.reason.as_str(),
                index,
                payload_len,
                available,
            }
        }
    }

    #[derive(Serialize, Default)]
    struct Damage {
        kind: &'static str,
        offset: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payload_len: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        available: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resync_offset: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stored: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        computed: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        zeroed_sector: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        found: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
        message: String,
    }

    impl From<&Corruption> for Damage {
        fn from(c: &Corruption) -> Self {
            let base = Damage {
                kind: c.kind(),
                offset: c.offset(),
                index: c.index(),
                resync_offset: c.resync_offset(),
                message: c.to_string(),
                ..Damage::default()
            };
            match *c {
                Corruption::BadMagic { found } => Damage {
                    found: Some(found.to_string()),
                    ..base
                },
                Corruption::UnsupportedVersion { version } => Damage {
                    version: Some(version),
                    ..base
                },
                Corruption::Length {
                    payload_len,
                    available,
                    ..
                } => Damage {
                    payload_len: Some(payload_len),
                    available: Some(available),
                    ..base
                },
                Corruption::HashMismatch {
                    payload_len,
                    stored,
                    computed,
                    zeroed_sector,
                    ..
                } => Damage {
                    payload_len: Some(payload_len),
                    stored: Some(stored.to_string()),
                    computed: Some(computed.to_string()),
                    zeroed_sector,
                    ..base
                },
                // A kind this report does not detail: its kind, offset and
                // message still say what it is.
                _ => base,
            }
        }
    }

    #[derive(Serialize)]
    struct Violation {
        kind: &'static str,
        offset: u64,
        index: u64,
        previous_index: u64,
    }

    impl From<&IndexViolation> for Violation {
        fn from(v: &IndexViolation) -> Self {
            Violation {
                kind: v.kind.as_str(),
                offset: v.offset,
                index: v.index,
                previous_index: v.previous_index,
            }
        }
    }

    #[derive(Serialize)]
    struct Lost {
        offset: u64,
        end: u64,
        bytes: u64,
        corruptions: u64,
        previous_index: Option<u64>,
        next_index: Option<u64>,
        lost_indices: Option<(u64, u64)>,
    }

    impl From<&LostRange> for Lost {
        fn from(l: &LostRange) -> Self {
            Lost {
                offset: l.offset,
                end: l.end,
                bytes: l.bytes(),
                corruptions: l.corruptions,
                previous_index: l.previous_index,
                next_index: l.next_index,
                lost_indices: l.lost_indices(),
            }
        }
    }
}
