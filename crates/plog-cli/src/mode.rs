//! `--mode`: the permission bits of the files plog creates (private by
//! default: engenho-store's log carries Kubernetes Secrets).

/// Parses an octal mode such as `600` or `0640` (permission bits only).
///
/// # Errors
/// A message saying what was expected and what was found.
pub fn parse(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 && !digits.is_empty() => Ok(mode),
        _ => Err(format!(
            "expected an octal mode of permission bits from 000 to 777 (e.g. 600 or 0640), \
             found {text:?}"
        )),
    }
}

/// The mode of a directory created to hold a file of `file_mode`: the
/// file's bits, with search (`x`) wherever it may be read (`600` gives
/// `700`, `640` gives `750`).
pub const fn dir_mode_for(file_mode: u32) -> u32 {
    file_mode | ((file_mode & 0o444) >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_as_octal_permission_bits() {
        assert_eq!(parse("600"), Ok(0o600));
        assert_eq!(parse("0640"), Ok(0o640));
        assert_eq!(parse("0o644"), Ok(0o644));
        for bad in ["", "8", "1000", "rw-", "-1", "0o"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(dir_mode_for(0o600), 0o700);
        assert_eq!(dir_mode_for(0o640), 0o750);
        assert_eq!(dir_mode_for(0o644), 0o755);
    }
}
