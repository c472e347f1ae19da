//! `decode_json` against its oracle, `serde_json::from_slice`: the same value
//! or the same error (message, line and column) on any input.

use std::collections::BTreeMap;
use std::fmt::Debug;

use plog_mmap::decode_json;
use proptest::prelude::*;
use serde::Deserialize;

/// Both decoders on `payload`: equal values, or equal error texts.
fn assert_same<'a, T: Deserialize<'a> + PartialEq + Debug>(payload: &'a [u8]) {
    let fast = decode_json::<T>(payload);
    let oracle = serde_json::from_slice::<T>(payload);
    match (fast, oracle) {
        (Ok(fast), Ok(oracle)) => assert_eq!(fast, oracle, "payload {payload:?}"),
        (Err(fast), Err(oracle)) => {
            assert_eq!(fast.to_string(), oracle.to_string(), "payload {payload:?}");
            assert_eq!(fast.classify(), oracle.classify(), "payload {payload:?}");
        }
        (fast, oracle) => {
            panic!("payload {payload:?}: decode_json {fast:?}, from_slice {oracle:?}")
        }
    }
}

#[derive(Deserialize, Debug, PartialEq)]
struct Borrowed<'a> {
    kind: &'a str,
    #[serde(default)]
    replicas: Option<u32>,
    #[serde(borrow, default)]
    labels: BTreeMap<&'a str, &'a str>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Owned {
    kind: String,
    replicas: u64,
    ratio: Option<f64>,
}

/// Checks every target type on one payload.
fn check_all(payload: &[u8]) {
    assert_same::<serde_json::Value>(payload);
    assert_same::<Borrowed<'_>>(payload);
    assert_same::<Owned>(payload);
    assert_same::<String>(payload);
    assert_same::<&str>(payload);
    assert_same::<Vec<u8>>(payload);
    assert_same::<f64>(payload);
    assert_same::<serde::de::IgnoredAny>(payload);
}

/// JSON-like text: fragments of valid JSON, escapes, non-ASCII and broken
/// pieces, so that both success and every kind of failure are common.
fn json_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(br#"{"kind":"Pod""#.to_vec()),
        Just(br#","replicas":3"#.to_vec()),
        Just(br#","ratio":1.5e300"#.to_vec()),
        Just(br#","labels":{"app":"web","tier":"a\"b"}"#.to_vec()),
        Just(b"}".to_vec()),
        Just(b"\"\\u00e9\\ud83d\\ude00\"".to_vec()),
        Just("\"h\u{e9}llo \u{1f600}\"".as_bytes().to_vec()),
        Just(b"\"\xff\xfe\"".to_vec()),
        Just(b"\xc3".to_vec()),
        Just(b"\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"[1,2,".to_vec()),
        Just(b"]".to_vec()),
        Just(b"-0.0e-7".to_vec()),
        Just(b"18446744073709551616".to_vec()),
        Just(b"null".to_vec()),
        Just(b"\"\\x\"".to_vec()),
        Just(b"\"tab\there\"".to_vec()),
        prop::collection::vec(any::<u8>(), 0..4),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn same_as_from_slice_on_json_like_input(payload in json_like()) {
        check_all(&payload);
    }

    #[test]
    fn same_as_from_slice_on_arbitrary_bytes(payload in prop::collection::vec(any::<u8>(), 0..64)) {
        check_all(&payload);
    }
}

#[test]
fn same_as_from_slice_on_chosen_cases() {
    let cases: &[&[u8]] = &[
        b"",
        b"{}",
        br#"{"kind":"Pod","replicas":3,"labels":{"app":"web"}}"#,
        br#"{"kind":"Pod","replicas":3,"ratio":0.1}"#,
        br#"{"kind":"Pod","replicas":3,"extra":1}"#,
        br#"{"kind":"a\nb"}"#,
        b"{\"kind\":\"\xff\"}",
        b"{\"kind\":\"ok\"}\xff",
        b"{\"kind\":\"ok\"}\n\n  x",
        b"\xef\xbb\xbf{}",
        br#""\ud800""#,
        br#"{"kind":"Pod","kind":"Svc"}"#,
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]",
    ];
    for case in cases {
        check_all(case);
    }
}

#[test]
fn borrowed_fields_point_into_the_payload() {
    let payload = br#"{"kind":"Deployment","labels":{"app":"web"}}"#;
    let entry: Borrowed<'_> = decode_json(payload).unwrap();
    let range = payload.as_ptr_range();
    assert!(range.contains(&entry.kind.as_ptr()));
    assert!(range.contains(&entry.labels["app"].as_ptr()));
}
