//! The payload decoder used by replay: `serde_json`, entered through its
//! `&str` reader whenever the payload is valid UTF-8.

use serde::Deserialize;

/// Decodes a payload as JSON of `T`, with exactly the result of
/// [`serde_json::from_slice`] (the same value, or an error with the same
/// message, line and column), and faster on the payloads replay sees.
///
/// `serde_json`'s byte-slice reader checks the UTF-8 of every string it
/// meets, one call per string. This function checks the whole payload once
/// (`str::from_utf8`, which runs over ASCII in wide steps) and then decodes
/// with `serde_json`'s `&str` reader, which trusts its input and skips the
/// per-string checks; about 15-25 % less time per record on
/// Kubernetes-style entries (BENCHMARKS.md). A payload that is not valid
/// UTF-8 goes to [`serde_json::from_slice`] itself, so its error is the one
/// `serde_json` gives. Borrowed fields (`&'a str`) point into `payload`
/// either way.
///
/// ```
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Entry<'a> { kind: &'a str, replicas: u32 }
///
/// let payload = br#"{"kind":"Deployment","replicas":3}"#;
/// let entry: Entry<'_> = plog_mmap::decode_json(payload).unwrap();
/// assert_eq!(entry, Entry { kind: "Deployment", replicas: 3 });
///
/// // The same error as serde_json::from_slice, position included.
/// let bad = br#"{"kind": 7}"#;
/// assert_eq!(
///     plog_mmap::decode_json::<Entry<'_>>(bad).unwrap_err().to_string(),
///     serde_json::from_slice::<Entry<'_>>(bad).unwrap_err().to_string(),
/// );
/// ```
///
/// # Errors
/// Whatever [`serde_json::from_slice`] returns for `payload`.
#[inline]
pub fn decode_json<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(payload) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(payload),
    }
}
