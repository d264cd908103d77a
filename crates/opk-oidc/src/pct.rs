//! RFC 3986 percent-encoding (for the authorize URL) and
//! `application/x-www-form-urlencoded` decoding (for the callback query).

use crate::Error;

/// Most query parameters accepted on the callback; a real OP sends about five.
pub(crate) const MAX_QUERY_PARAMS: usize = 64;

/// Percent-encodes everything except RFC 3986 "unreserved" characters, so the result is safe as a
/// query-parameter name or value regardless of which delimiters the value contains.
pub(crate) fn encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes one form-urlencoded component: `+` is a space, `%XX` a byte; the result must be UTF-8.
pub(crate) fn decode(s: &str) -> Result<String, Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_val);
                let lo = bytes.get(i + 2).copied().and_then(hex_val);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(Error::BadRequest("invalid percent-escape in query")),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::BadRequest("query is not UTF-8"))
}

/// Parses a query string into name/value pairs. Duplicate names are rejected: a second `state` or
/// `code` is never legitimate and would make "which one counts" ambiguous.
pub(crate) fn parse_query(q: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        if out.len() >= MAX_QUERY_PARAMS {
            return Err(Error::BadRequest("too many query parameters"));
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = decode(k)?;
        let v = decode(v)?;
        if out.iter().any(|(name, _)| *name == k) {
            return Err(Error::BadRequest("duplicate query parameter"));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// Looks up a parameter by name in a parsed query.
pub(crate) fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_keeps_unreserved_only() {
        assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(encode("openid email"), "openid%20email");
        assert_eq!(
            encode("http://localhost:3000/login-callback"),
            "http%3A%2F%2Flocalhost%3A3000%2Flogin-callback"
        );
        assert_eq!(encode("a&b=c+d?e#f%"), "a%26b%3Dc%2Bd%3Fe%23f%25");
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn decode_roundtrips_encode() {
        for s in [
            "",
            "plain",
            "with space",
            "a&b=c+d?e#f%",
            "ünïcødé ✓",
            "\u{0}\u{7f}",
        ] {
            assert_eq!(decode(&encode(s)).expect("roundtrip"), s);
        }
        assert_eq!(decode("a+b%2Bc").expect("plus"), "a b+c");
    }

    #[test]
    fn decode_rejects_bad_escapes() {
        for bad in ["%", "%4", "%G0", "%0g", "abc%", "%ff", "%C3"] {
            assert!(decode(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn parse_query_cases() {
        let p = parse_query("code=abc&state=x%2By&&empty=&flag").expect("parse");
        assert_eq!(get(&p, "code"), Some("abc"));
        assert_eq!(get(&p, "state"), Some("x+y"));
        assert_eq!(get(&p, "empty"), Some(""));
        assert_eq!(get(&p, "flag"), Some(""));
        assert_eq!(get(&p, "missing"), None);
        assert!(parse_query("state=a&state=b").is_err());
        let many: Vec<String> = (0..=MAX_QUERY_PARAMS).map(|i| format!("k{i}=v")).collect();
        assert!(parse_query(&many.join("&")).is_err());
        let ok: Vec<String> = (0..MAX_QUERY_PARAMS).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            parse_query(&ok.join("&")).expect("at cap").len(),
            MAX_QUERY_PARAMS
        );
    }
}
