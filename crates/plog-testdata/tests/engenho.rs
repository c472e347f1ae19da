//! The engenho-shaped dataset: its size distribution, its shape, and the
//! log its writer produces.

use plog_format::{Record, Status, classify};
use plog_testdata::{
    ENGENHO_TERM_SPAN, EngenhoEntry, EntryPayload, JournalEntry, engenho_entry, engenho_payload,
    write_engenho_log,
};
use serde_json::Value;

/// The payload length at quantile `q` of sorted `lens` (nearest rank).
fn quantile(lens: &[usize], q: f64) -> usize {
    let rank = ((lens.len() as f64) * q).ceil() as usize;
    lens[rank.clamp(1, lens.len()) - 1]
}

/// Over 20,000 records the sizes spread as engenho-store's real log does
/// (median ~1.1 KB, p90 ~3.4 KB, max ~4.4 KB, a floor of tiny entries), and
/// every payload is JSON of the typed entry, which serializes back to the
/// same bytes.
#[test]
fn twenty_thousand_records_have_engenho_sizes_and_shape() {
    const RECORDS: u64 = 20_000;
    let mut lens = Vec::new();
    let (mut puts, mut patches, mut deletes) = (0, 0, 0);
    for index in 1..=RECORDS {
        let payload = engenho_payload(1, index);
        let typed: EngenhoEntry = serde_json::from_slice(&payload)
            .unwrap_or_else(|e| panic!("entry {index} is not an EngenhoEntry: {e}"));
        assert_eq!(typed.log_id.index, index);
        assert_eq!(
            serde_json::to_vec(&typed).unwrap(),
            payload,
            "entry {index} does not round-trip"
        );
        if index.is_multiple_of(97) {
            assert_eq!(typed, engenho_entry(1, index));
        }
        let value: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(value["log_id"]["index"], index);
        match &typed.payload {
            EntryPayload::Normal(JournalEntry::Put { .. }) => puts += 1,
            EntryPayload::Normal(JournalEntry::Patch { .. }) => patches += 1,
            EntryPayload::Normal(JournalEntry::Delete { .. }) => deletes += 1,
            _ => {}
        }
        lens.push(payload.len());
    }
    lens.sort_unstable();
    let (min, median, p90, max) = (
        lens[0],
        quantile(&lens, 0.5),
        quantile(&lens, 0.9),
        lens[lens.len() - 1],
    );
    let mean = lens.iter().sum::<usize>() / lens.len();
    eprintln!(
        "engenho seed 1, {RECORDS} records: min {min} p10 {} p25 {} median {median} \
         p75 {} p90 {p90} p99 {} max {max} mean {mean}; puts {puts} patches {patches} \
         deletes {deletes}",
        quantile(&lens, 0.1),
        quantile(&lens, 0.25),
        quantile(&lens, 0.75),
        quantile(&lens, 0.99),
    );
    assert!((900..=1300).contains(&median), "median {median}");
    assert!((2800..=4000).contains(&p90), "p90 {p90}");
    assert!(max <= 6 * 1024, "max {max}");
    assert!(min < 300, "min {min}");
    assert!(puts > 0 && patches > 0 && deletes > 0);
}

/// Each term starts with a Blank entry then a Membership; the term grows by
/// one every `ENGENHO_TERM_SPAN` entries.
#[test]
fn terms_start_with_blank_then_membership() {
    for term in 1..=3 {
        let first = 1 + (term - 1) * ENGENHO_TERM_SPAN;
        let blank = engenho_entry(7, first);
        assert_eq!(blank.log_id.leader_id.term, term);
        assert_eq!(blank.payload, EntryPayload::Blank);
        assert_eq!(engenho_payload(7, first).len(), {
            let text = serde_json::to_string(&blank).unwrap();
            assert!(text.ends_with(r#""payload":"Blank"}"#), "{text}");
            text.len()
        });
        let membership = engenho_entry(7, first + 1);
        let EntryPayload::Membership(m) = &membership.payload else {
            panic!("entry {} is not a membership: {membership:?}", first + 1);
        };
        assert!(!m.configs.is_empty());
        for config in &m.configs {
            assert!(config.iter().all(|id| m.nodes.contains_key(id)));
        }
        let before = engenho_entry(7, first + ENGENHO_TERM_SPAN - 1);
        assert_eq!(before.log_id.leader_id.term, term);
        assert!(matches!(before.payload, EntryPayload::Normal(_)));
    }
}

/// The same seed gives the same entries; another seed gives other ones.
#[test]
fn entries_are_a_function_of_seed_and_index() {
    for index in [3, 99, 12_345] {
        assert_eq!(engenho_payload(5, index), engenho_payload(5, index));
        assert_ne!(engenho_payload(5, index), engenho_payload(6, index));
    }
}

/// The writer produces a clean log whose record `i` holds entry `i`.
#[test]
fn written_log_holds_entries_one_to_n() {
    const RECORDS: u64 = 3_000;
    let mut log = Vec::new();
    let written = write_engenho_log(&mut log, 3, RECORDS).unwrap();
    assert_eq!(written, log.len() as u64);
    let report = classify(&log);
    assert_eq!(report.status(), Status::Clean);
    assert_eq!(report.records.len() as u64, RECORDS);
    for (summary, index) in report.records.iter().zip(1..) {
        assert_eq!(summary.index, index);
        let record = Record::parse_at(&log, summary.offset).unwrap();
        assert!(record.hash_matches());
        assert_eq!(record.payload(), engenho_payload(3, index).as_slice());
    }
}
