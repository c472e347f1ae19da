//! The 32-byte BLAKE3 digest stored in every record header.

use core::fmt;

/// A 32-byte BLAKE3 digest, displayed as 64 lowercase hex digits.
///
/// Used for the hash stored in a header and for the hash computed over a
/// payload, so that a mismatch can name both.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// BLAKE3 of `payload`: what a header must store for it.
    #[inline]
    pub fn of(payload: &[u8]) -> Hash {
        Hash(*blake3::hash(payload).as_bytes())
    }

    /// The raw digest bytes.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for Hash {
    fn from(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_hash_is_blake3_of_empty_string() {
        let mut hex = [0u8; 64];
        let mut out = HexBuf {
            buf: &mut hex,
            len: 0,
        };
        fmt::write(&mut out, format_args!("{}", Hash::of(b""))).unwrap();
        assert_eq!(
            &hex[..],
            b"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    struct HexBuf<'a> {
        buf: &'a mut [u8],
        len: usize,
    }
    impl fmt::Write for HexBuf<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
}
