// Property test: random sequences of appends, batches, syncs, flushes and
// reopens under random options, against a model (the list of accepted
// records, rebuilt with plog-testdata's `build_log`).

use plog_format::{IndexOrder, Status, classify};
use plog_writer::{MANUAL_FLUSH_BYTES, SyncPolicy, Writer, WriterOptions};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum IndexPick {
    Next,
    Same,
    Skip,
    Absolute(u64),
}

#[derive(Clone, Debug)]
enum Op {
    Append(IndexPick, Vec<u8>),
    Json(IndexPick, u32),
    Batch(Vec<(IndexPick, Vec<u8>)>),
    Big(IndexPick),
    Flush,
    Sync,
    Reopen,
}

fn pick() -> impl Strategy<Value = IndexPick> {
    prop_oneof![
        6 => Just(IndexPick::Next),
        1 => Just(IndexPick::Same),
        1 => Just(IndexPick::Skip),
        1 => (0u64..20).prop_map(IndexPick::Absolute),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let payload = prop::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        8 => (pick(), payload.clone()).prop_map(|(p, b)| Op::Append(p, b)),
        2 => (pick(), any::<u32>()).prop_map(|(p, n)| Op::Json(p, n)),
        2 => prop::collection::vec((pick(), payload), 0..6).prop_map(Op::Batch),
        1 => pick().prop_map(Op::Big),
        1 => Just(Op::Flush),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
    ]
}

fn options() -> impl Strategy<Value = WriterOptions> {
    (
        prop_oneof![Just(SyncPolicy::EveryAppend), Just(SyncPolicy::Manual)],
        prop_oneof![
            Just(IndexOrder::Any),
            Just(IndexOrder::Increasing),
            Just(IndexOrder::Contiguous)
        ],
        prop_oneof![Just(None), Just(Some(30u64)), Just(Some(1u64 << 20))],
        prop_oneof![Just(None), Just(Some(64u64)), Just(Some(4096u64))],
    )
        .prop_map(
            |(sync, index_order, max_payload_len, preallocate)| WriterOptions {
                sync,
                index_order,
                max_payload_len,
                create_if_missing: true,
                preallocate,
                ..WriterOptions::default()
            },
        )
}

fn resolve(pick: &IndexPick, last: Option<u64>) -> u64 {
    match (pick, last) {
        (IndexPick::Next, Some(l)) => l + 1,
        (IndexPick::Same, Some(l)) => l,
        (IndexPick::Skip, Some(l)) => l + 2,
        (IndexPick::Absolute(i), _) => *i,
        (_, None) => 1,
    }
}

/// Whether the model accepts `(index, len)` after `last`.
fn admits(options: &WriterOptions, last: Option<u64>, index: u64, len: usize) -> bool {
    options.index_order.admits(last, index).is_ok()
        && options.max_payload_len.is_none_or(|max| len as u64 <= max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_file_always_holds_exactly_the_accepted_records(
        options in options(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let dir = crate::scratch_dir();
        let path = dir.path().join("model.plog");
        let (mut writer, _) = Writer::open(&path, options).unwrap();
        let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
        let last = |model: &Vec<(u64, Vec<u8>)>| model.last().map(|r| r.0);
        for op in &ops {
            match op {
                Op::Append(p, payload) => {
                    let index = resolve(p, last(&model));
                    let ok = admits(&options, last(&model), index, payload.len());
                    let result = writer.append_raw(index, payload);
                    prop_assert_eq!(result.is_ok(), ok, "{:?}", result);
                    if ok {
                        model.push((index, payload.clone()));
                    } else {
                        prop_assert!(result.unwrap_err().is_rejection());
                    }
                }
                Op::Json(p, n) => {
                    let index = resolve(p, last(&model));
                    let value = serde_json::json!({ "n": n });
                    let payload = serde_json::to_vec(&value).unwrap();
                    let ok = admits(&options, last(&model), index, payload.len());
                    prop_assert_eq!(writer.append(index, &value).is_ok(), ok);
                    if ok {
                        model.push((index, payload));
                    }
                }
                Op::Big(p) => {
                    let index = resolve(p, last(&model));
                    let payload = vec![b'x'; MANUAL_FLUSH_BYTES + 100];
                    let ok = admits(&options, last(&model), index, payload.len());
                    prop_assert_eq!(writer.append_raw(index, &payload).is_ok(), ok);
                    if ok {
                        model.push((index, payload));
                    }
                }
                Op::Batch(records) => {
                    let mut previous = last(&model);
                    let mut resolved = Vec::new();
                    let mut ok = true;
                    for (p, payload) in records {
                        let index = resolve(p, previous);
                        ok &= admits(&options, previous, index, payload.len());
                        previous = Some(index);
                        resolved.push((index, payload.clone()));
                    }
                    let result = writer
                        .append_batch_raw(resolved.iter().map(|(i, p)| (*i, p.as_slice())));
                    prop_assert_eq!(result.is_ok(), ok, "{:?}", result);
                    if ok {
                        prop_assert_eq!(result.unwrap().map(|a| a.records), (!resolved.is_empty()).then_some(resolved.len() as u64));
                        model.extend(resolved);
                    }
                }
                Op::Flush => writer.flush().unwrap(),
                Op::Sync => {
                    let durable = writer.sync().unwrap();
                    prop_assert_eq!(durable.records, model.len() as u64);
                }
                Op::Reopen => {
                    drop(writer);
                    let (reopened, report) = Writer::open(&path, options).unwrap();
                    prop_assert_eq!(report.records, model.len() as u64);
                    prop_assert_eq!(report.last_index, last(&model));
                    // Preallocated zeros are cut on drop; nothing else is torn.
                    prop_assert_eq!(report.repaired, None);
                    writer = reopened;
                }
            }
            prop_assert_eq!(writer.last_index(), last(&model));
            if options.sync == SyncPolicy::EveryAppend {
                prop_assert_eq!(writer.durable(), writer.position());
            }
        }
        let durable = writer.close().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let expected = plog_testdata::build_log(model.iter().map(|(i, p)| (*i, p.as_slice())));
        prop_assert_eq!(durable.len, expected.len() as u64);
        prop_assert!(bytes == expected, "the file differs from the model");
        prop_assert_eq!(classify(&bytes).status(), Status::Clean);
    }
}
