//! Text that is safe by construction: control bytes, bidirectional
//! overrides and non-UTF-8 escaped for terminals and line-oriented readers;
//! counted nouns; JSON put on one line. Pure functions of their input.

use std::fmt::Write as _;
use std::path::Path;

/// Escapes `bytes` for a terminal or a line-oriented reader, the way `ls -b`
/// does: printable UTF-8 stays as it is; `\` becomes `\\`; `\n`, `\r`, `\t`
/// become those two-character escapes; other control characters (C0, DEL,
/// C1) and the Unicode bidirectional overrides become `\xNN` or `\u{NNNN}`;
/// bytes that are not UTF-8 become `\xNN`. The result never contains a
/// control character, so one value can neither end a line early nor move
/// the cursor, and it can be decoded back unambiguously.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x80 && c.is_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if c.is_control() || is_bidi_control(c) => {
                    let _ = write!(out, "\\u{{{:04x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// A message for stderr with every control character escaped as in
/// [`escape_bytes`] (backslashes stay as they are: the paths in plog's
/// messages are escaped already): a safety net for text from libraries.
pub fn sanitize_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() || is_bidi_control(c) {
            let mut buf = [0; 4];
            out.push_str(&escape_bytes(c.encode_utf8(&mut buf).as_bytes()));
        } else {
            out.push(c);
        }
    }
    out
}

/// The Unicode characters that reorder text on display (U+202A..U+202E,
/// U+2066..U+2069, U+200E, U+200F): a name holding them can show as another.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A path for text output, escaped with [`escape_bytes`].
pub fn path_text(path: &Path) -> String {
    escape_bytes(path.as_os_str().as_encoded_bytes())
}

/// `n` and the noun, singular for 1: `1 record`, `2 records`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Removes the whitespace outside strings from a valid JSON text, so that a
/// payload written over several lines embeds in one line of output. Only
/// called on text that serde_json accepted: inside strings every control
/// character is escaped, so every raw `\n` and `\r` is insignificant
/// whitespace.
pub fn minify_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_control_character_and_is_reversible() {
        let cases: &[&[u8]] = &[
            b"line\rOVERWRITE",
            b"\x1b]0;pwned-title\x07",
            b"a\nb\\c\t",
            b"\xff\xfeok",
            "caf\u{e9} \u{202e}gpj.exe \u{85}".as_bytes(),
        ];
        for &case in cases {
            let escaped = escape_bytes(case);
            assert!(!escaped.chars().any(char::is_control), "{escaped:?}");
            assert_eq!(unescape(&escaped), case, "{escaped:?}");
        }
        assert_eq!(escape_bytes(b"line\rX"), "line\\rX");
        assert_eq!(escape_bytes(b"\x1b]0;t\x07"), "\\x1b]0;t\\x07");
    }

    /// The slow obvious inverse of `escape_bytes`.
    fn unescape(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            match chars.next() {
                Some('\\') => out.push(b'\\'),
                Some('n') => out.push(b'\n'),
                Some('r') => out.push(b'\r'),
                Some('t') => out.push(b'\t'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    out.push(u8::from_str_radix(&hex, 16).unwrap());
                }
                Some('u') => {
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    let c = char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap();
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                other => panic!("bad escape {other:?}"),
            }
        }
        out
    }

    #[test]
    fn minified_json_is_the_same_value_on_one_line() {
        for json in [
            "{\n  \"a\": \"x\\n y\",\r\n  \"b\": [1, 2 ,\t3]\n}",
            "\"only \\\" a string\"",
            "[ ]",
        ] {
            let small = minify_json(json);
            assert!(!small.contains('\n') && !small.contains('\r'));
            let a: serde_json::Value = serde_json::from_str(json).unwrap();
            let b: serde_json::Value = serde_json::from_str(&small).unwrap();
            assert_eq!(a, b);
        }
    }
}
