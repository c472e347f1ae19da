//! The 26-byte magic at offset 0 and its classification.

use core::fmt;

/// The v1 magic: `"engenho-persistent-log v1\n"`, 26 ASCII bytes.
pub const MAGIC: [u8; MAGIC_LEN] = *b"engenho-persistent-log v1\n";

/// Length of [`MAGIC`]; the first record starts at this offset.
pub const MAGIC_LEN: usize = 26;

/// What every version of the format starts with, before its version number.
pub const MAGIC_FAMILY_PREFIX: &[u8; 24] = b"engenho-persistent-log v";

/// What the start of a file says about its format (the first rows of the
/// classification table in FORMAT.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magic {
    /// The v1 magic: records start at offset [`MAGIC_LEN`].
    V1,
    /// The file is empty, or shorter than 26 bytes and a prefix of the magic:
    /// creation was cut. Status `torn` with 0 records.
    Torn,
    /// The first 26 bytes are another version of the family,
    /// `engenho-persistent-log vN\n` with `N` a digit other than 1. Status
    /// `corrupt`, kind `unsupported_version`. (A longer version number does
    /// not fit the 26 bytes FORMAT.md looks at, so it is `bad_magic`.)
    UnsupportedVersion {
        /// The version number found.
        version: u32,
    },
    /// Anything else, including a short file that is not a prefix of the magic.
    /// Status `corrupt`, kind `bad_magic`.
    Bad {
        /// The first bytes of the file (up to 26).
        found: MagicBytes,
    },
}

/// Checks the start of `data` against the v1 magic.
///
/// ```
/// use plog_format::{check_magic, Magic, MAGIC};
///
/// assert_eq!(check_magic(&MAGIC), Magic::V1);
/// assert_eq!(check_magic(b""), Magic::Torn);
/// assert_eq!(check_magic(b"engenho-pe"), Magic::Torn);
/// assert_eq!(check_magic(b"engenho-persistent-log v2\n"), Magic::UnsupportedVersion { version: 2 });
/// assert!(matches!(check_magic(b"not a log"), Magic::Bad { .. }));
/// ```
pub fn check_magic(data: &[u8]) -> Magic {
    if data.starts_with(&MAGIC) {
        return Magic::V1;
    }
    if data.len() < MAGIC_LEN && MAGIC.starts_with(data) {
        return Magic::Torn;
    }
    if let Some(version) = other_version(data) {
        return Magic::UnsupportedVersion { version };
    }
    Magic::Bad {
        found: MagicBytes::from_prefix(data),
    }
}

/// `Some(N)` when the first 26 bytes are `engenho-persistent-log vN\n` with
/// `N` a decimal digit other than 1 (FORMAT.md: "the first 26 bytes are
/// another `engenho-persistent-log vN\n`").
fn other_version(data: &[u8]) -> Option<u32> {
    let rest = data.strip_prefix(MAGIC_FAMILY_PREFIX.as_slice())?;
    match rest {
        [digit @ b'0'..=b'9', b'\n', ..] if *digit != b'1' => Some(u32::from(digit - b'0')),
        _ => None,
    }
}

/// Up to 26 bytes found where the magic should be, for error messages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MagicBytes {
    bytes: [u8; MAGIC_LEN],
    len: u8,
}

impl MagicBytes {
    /// Copies the first (up to 26) bytes of `data`.
    pub fn from_prefix(data: &[u8]) -> MagicBytes {
        let mut bytes = [0u8; MAGIC_LEN];
        let len = data.len().min(MAGIC_LEN);
        bytes[..len].copy_from_slice(&data[..len]);
        MagicBytes {
            bytes,
            // len <= 26, so it fits in a u8.
            len: len as u8,
        }
    }

    /// The bytes found.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Display for MagicBytes {
    /// Shows the bytes as an escaped byte string, e.g. `"not a plog\n"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &byte in self.as_bytes() {
            write!(f, "{}", core::ascii::escape_default(byte))?;
        }
        f.write_str("\"")
    }
}

impl fmt::Debug for MagicBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MagicBytes({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strict_prefix_of_the_magic_is_torn() {
        for len in 0..MAGIC_LEN {
            assert_eq!(check_magic(&MAGIC[..len]), Magic::Torn, "prefix of {len}");
        }
    }

    #[test]
    fn versions() {
        let v = |s: &[u8]| check_magic(s);
        assert_eq!(
            v(b"engenho-persistent-log v0\n"),
            Magic::UnsupportedVersion { version: 0 }
        );
        assert_eq!(
            v(b"engenho-persistent-log v9\nxx"),
            Magic::UnsupportedVersion { version: 9 }
        );
        // A two-digit version does not fit the 26 bytes the table looks at.
        assert!(matches!(
            v(b"engenho-persistent-log v12\n"),
            Magic::Bad { .. }
        ));
        assert!(matches!(
            v(b"engenho-persistent-log v01\n"),
            Magic::Bad { .. }
        ));
        assert!(matches!(
            v(b"engenho-persistent-log vX\n"),
            Magic::Bad { .. }
        ));
        assert!(matches!(v(b"engenho-persistent-log v2"), Magic::Bad { .. }));
        assert!(matches!(
            v(b"engenho-persistent-log v1\r"),
            Magic::Bad { .. }
        ));
        // A cut in the magic that then has garbage is not a prefix: bad magic.
        assert!(matches!(v(b"engenho-pX"), Magic::Bad { .. }));
    }

    #[test]
    fn magic_bytes_display_escapes() {
        let found = MagicBytes::from_prefix(b"ab\n\x00");
        let mut buf = [0u8; 32];
        let mut w = Buf(&mut buf, 0);
        core::fmt::write(&mut w, format_args!("{found}")).unwrap();
        let len = w.1;
        assert_eq!(&buf[..len], br#""ab\n\x00""#);
    }

    struct Buf<'a>(&'a mut [u8], usize);
    impl fmt::Write for Buf<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
}
