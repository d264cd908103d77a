//! The principal check opkssh applies to every certificate principal before printing them into
//! the authorized_keys line (hazard H-1 in `docs/hazards.md`).

use crate::Error;

/// Longest principal body, before the optional trailing `$` (regex `{0,127}` plus the first).
const MAX_BODY: usize = 128;

/// Checks `p` against `^[a-zA-Z0-9_][a-zA-Z0-9._+@-]{0,127}\$?$` (Go RE2: `$` is end of text).
///
/// Anything else could inject sshd options or keys into the authorized_keys line (`"`, `,`,
/// spaces, newlines), so callers must deny the whole login on error.
pub fn check_principal(p: &str) -> Result<(), Error> {
    let bytes = p.as_bytes();
    let body = bytes.strip_suffix(b"$").unwrap_or(bytes);
    let ok = match body.split_first() {
        Some((first, rest)) => {
            body.len() <= MAX_BODY
                && (first.is_ascii_alphanumeric() || *first == b'_')
                && rest.iter().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'@' | b'-')
                })
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidPrincipal {
            principal: p.to_owned(),
        })
    }
}
