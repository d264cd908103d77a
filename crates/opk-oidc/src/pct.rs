//! RFC 3986 percent-encoding (for the authorize URL) and `application/x-www-form-urlencoded`
//! decoding (for the callback query), on the `percent-encoding` crate. The query splitting is
//! ours because it must be strict where `form_urlencoded` is lenient: a malformed escape,
//! invalid UTF-8 or a duplicate name makes the callback a stray, never a guess.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Most query parameters accepted on the callback; a real OP sends about five.
pub(crate) const MAX_QUERY_PARAMS: usize = 64;

/// Everything but RFC 3986 "unreserved" characters is escaped, so the result is safe as a
/// query-parameter name or value whichever delimiters the value contains.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `s` for a query parameter name or value.
pub(crate) fn encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Decodes one form-urlencoded component: `+` is a space, `%XX` a byte; every `%` must start a
/// valid escape and the result must be UTF-8.
pub(crate) fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let escapes_ok = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !escapes_ok {
        return None;
    }
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Parses a query string into name/value pairs; `None` if any component is malformed, there are
/// too many, or a name repeats (a second `state` or `code` is never legitimate and would make
/// "which one counts" ambiguous).
pub(crate) fn parse_query(q: &str) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        if out.len() >= MAX_QUERY_PARAMS {
            return None;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if out.iter().any(|(name, _)| *name == k) {
            return None;
        }
        out.push((k, v));
    }
    Some(out)
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
            assert!(decode(bad).is_none(), "{bad:?} should be rejected");
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
        assert!(parse_query("state=a&state=b").is_none());
        let many: Vec<String> = (0..=MAX_QUERY_PARAMS).map(|i| format!("k{i}=v")).collect();
        assert!(parse_query(&many.join("&")).is_none());
        let ok: Vec<String> = (0..MAX_QUERY_PARAMS).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            parse_query(&ok.join("&")).expect("at cap").len(),
            MAX_QUERY_PARAMS
        );
    }
}
