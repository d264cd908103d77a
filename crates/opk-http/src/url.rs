//! URL admission: which URLs opk is willing to contact at all.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::Error;

/// Longer URLs are not legitimate OIDC endpoints; refuse before doing any work on them.
const MAX_URL_LEN: usize = 4096;

/// Checks that `url` is one opk may contact.
///
/// `https://` URLs are accepted with any well-formed host. Plain `http://` is accepted only when
/// the host is exactly `localhost`, an IPv4 loopback address (127.0.0.0/8, dotted-quad form) or
/// `[::1]`, so that a local test OP works but nothing on the network is fetched in clear text.
/// User info (`user@host`), backslashes, whitespace, control and non-ASCII characters are refused
/// outright: parsers disagree about them, which is what `http://localhost@evil.example` and
/// `http://localhost\@evil.example` tricks rely on.
pub fn check_url(url: &str) -> Result<(), Error> {
    let bad = |reason: &'static str| {
        Err(Error::BadUrl {
            url: url.to_owned(),
            reason,
        })
    };
    if url.len() > MAX_URL_LEN {
        return bad("it is longer than 4096 bytes");
    }
    if url
        .bytes()
        .any(|b| b <= b' ' || b == 0x7f || b == b'\\' || !b.is_ascii())
    {
        return bad("it contains whitespace, control, backslash or non-ASCII characters");
    }
    let (https, rest) = if let Some(rest) = strip_prefix_ci(url, "https://") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ci(url, "http://") {
        (false, rest)
    } else {
        return bad("the scheme is not https");
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return bad("it contains user info (`...@`)");
    }
    let Some((host, port)) = split_host_port(authority) else {
        return bad("the host or port is malformed");
    };
    if let Some(port) = port
        && !valid_port(port)
    {
        return bad("the port is not a number in 1-65535");
    }
    let host_kind = match classify_host(host) {
        Some(kind) => kind,
        None => return bad("the host is empty or malformed"),
    };
    if !https && !host_kind.is_loopback() {
        return bad("plain http is only allowed to a loopback host");
    }
    Ok(())
}

/// The scheme (https or not), host (IPv6 without brackets, lower case) and port of a URL that
/// [`check_url`] accepted.
pub(crate) fn host_port(url: &str) -> Option<(bool, String, u16)> {
    let (https, rest) = match strip_prefix_ci(url, "https://") {
        Some(rest) => (true, rest),
        None => (false, strip_prefix_ci(url, "http://")?),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, port) = split_host_port(&rest[..end])?;
    let port = match port {
        Some(p) => p.parse().ok()?,
        None if https => 443,
        None => 80,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((https, host.to_ascii_lowercase(), port))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `host[:port]` / `[v6][:port]`. `None` when the shape is wrong.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        }
    } else {
        match authority.split_once(':') {
            None => Some((authority, None)),
            // A second ':' means an unbracketed IPv6 literal or garbage; both are refused.
            Some((host, port)) if !port.contains(':') => Some((host, Some(port))),
            Some(_) => None,
        }
    }
}

fn valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p != 0)
}

enum HostKind {
    Name(bool),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl HostKind {
    fn is_loopback(&self) -> bool {
        match self {
            HostKind::Name(localhost) => *localhost,
            HostKind::V4(ip) => ip.is_loopback(),
            HostKind::V6(ip) => ip.is_loopback(),
        }
    }
}

fn classify_host(host: &str) -> Option<HostKind> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        return inner.parse::<Ipv6Addr>().ok().map(HostKind::V6);
    }
    if host.is_empty() || host.len() > 253 {
        return None;
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return None;
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some(HostKind::V4(ip));
    }
    // Only the exact name: `localhost.` or `localhost.evil.example` may resolve anywhere.
    Some(HostKind::Name(host.eq_ignore_ascii_case("localhost")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, bool)] = &[
            ("https://accounts.google.com", true),
            ("https://accounts.google.com/", true),
            (
                "https://login.microsoftonline.com/9188040d/v2.0/.well-known/openid-configuration",
                true,
            ),
            ("HTTPS://accounts.google.com", true),
            ("https://example.com:8443/x?y=1#z", true),
            ("https://[2001:db8::1]:443/jwks", true),
            ("https://10.0.0.1/jwks", true),
            ("http://localhost", true),
            ("http://localhost/", true),
            (
                "http://localhost:8080/.well-known/openid-configuration",
                true,
            ),
            ("http://LocalHost:1", true),
            ("http://127.0.0.1:3000", true),
            ("http://127.1.2.3/x", true),
            ("http://[::1]:9000/jwks", true),
            ("http://[0:0:0:0:0:0:0:1]/", true),
            // H-12 (docs/hazards.md) look-alikes and userinfo tricks
            ("http://localhost.evil.com/", false),
            ("http://localhost.evil.com:80/", false),
            ("http://localhost@evil.com/", false),
            ("http://evil.com@localhost/", false),
            ("http://localhost:80@evil.com/", false),
            ("http://localhost\\@evil.com/", false),
            ("http://127.0.0.1.evil.com/", false),
            ("http://127.0.0.1.nip.io/", false),
            ("http://evil-localhost/", false),
            ("http://localhost./", false),
            ("http://localhostevil.com/", false),
            ("http://127.1/", false),
            ("http://0x7f.0.0.1/", false),
            ("http://2130706433/", false),
            ("http://[::ffff:127.0.0.1]/", false),
            ("http://[::2]/", false),
            ("http://0.0.0.0/", false),
            ("http://10.0.0.1/", false),
            ("http://example.com/", false),
            ("http://local%68ost/", false),
            ("https://user:pass@example.com/", false),
            // malformed
            ("", false),
            ("localhost", false),
            ("ftp://example.com", false),
            ("file:///etc/passwd", false),
            ("https://", false),
            ("https:///path", false),
            ("https://example.com:/", false),
            ("https://example.com:0/", false),
            ("https://example.com:65536/", false),
            ("https://example.com:+443/", false),
            ("https://exa mple.com/", false),
            ("https://example.com/\n", false),
            ("https://exämple.com/", false),
            ("https://2001:db8::1/", false),
            ("https://[2001:db8::1/", false),
            ("https://[2001:db8::1]x/", false),
            ("https://[nothex]/", false),
            ("http:/localhost/", false),
            ("http:localhost", false),
        ];
        for (url, ok) in cases {
            assert_eq!(check_url(url).is_ok(), *ok, "{url:?}");
        }
    }

    #[test]
    fn too_long_is_refused() {
        let url = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&url).is_err());
    }

    #[test]
    fn error_names_url_and_reason() {
        let Err(err) = check_url("http://localhost.evil.com/") else {
            panic!("look-alike accepted");
        };
        let msg = err.to_string();
        assert!(msg.contains("localhost.evil.com"), "{msg}");
        assert!(msg.contains("loopback"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn never_panics_on_odd_input() {
        // Cheap fuzz: every prefix and every single-byte mutation of some seeds.
        let seeds = [
            "http://[::1]:80/x",
            "https://a@b:1/",
            "http://localhost:65535",
        ];
        for seed in seeds {
            for i in 0..=seed.len() {
                if let Some(prefix) = seed.get(..i) {
                    let _ = check_url(prefix);
                }
            }
            for i in 0..seed.len() {
                for b in [b'[', b']', b':', b'@', b'/', b'%', 0u8, 0xffu8] {
                    let mut bytes = seed.as_bytes().to_vec();
                    bytes[i] = b;
                    let s = String::from_utf8_lossy(&bytes);
                    let _ = check_url(&s);
                }
            }
        }
    }
}
