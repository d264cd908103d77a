//! Parsing of the command-line forms: `[user@]host[:port]`, `-L`/`-R`/`-D` specs, `-J` lists.

use crate::error::Error;

/// A `-L` or `-R` forward: listen on `bind:port` (local for -L, remote for -R), connect to
/// `host:host_port` (from the server for -L, from here for -R).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// Listen address; `None` for loopback (OpenSSH's default without GatewayPorts).
    pub bind: Option<String>,
    /// Listen port (0: any, for -R the server picks and we print it).
    pub port: u16,
    /// Destination host.
    pub host: String,
    /// Destination port.
    pub host_port: u16,
    /// The spec as given, for messages.
    pub spec: String,
}

/// A `-D` SOCKS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dynamic {
    /// Listen address; `None` for loopback.
    pub bind: Option<String>,
    /// Listen port.
    pub port: u16,
}

/// A `-J` hop: `[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Account, when given.
    pub user: Option<String>,
    /// Host (or an ssh_config alias).
    pub host: String,
    /// Port, when given.
    pub port: Option<u16>,
}

/// Splits on `:` outside `[...]` (IPv6 addresses are written in brackets, as in OpenSSH).
fn split_colons(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

fn unbracket(s: &str) -> String {
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s)
        .to_owned()
}

const LR_SYNTAX: &str = "[bind_address:]port:host:hostport";

/// Parses a `-L` / `-R` spec.
pub fn parse_forward(flag: &'static str, spec: &str) -> Result<Forward, Error> {
    let bad = || Error::ForwardSpec {
        flag,
        spec: spec.to_owned(),
        expected: LR_SYNTAX,
    };
    let parts = split_colons(spec);
    let (bind, port, host, host_port) = match parts.as_slice() {
        [p, h, hp] => (None, p, h, hp),
        [b, p, h, hp] => (
            Some(b.clone()).filter(|b| !b.is_empty() && b != "localhost"),
            p,
            h,
            hp,
        ),
        _ => return Err(bad()),
    };
    let port = port.parse().map_err(|_| bad())?;
    let host_port = host_port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Forward {
        bind: bind.map(|b| unbracket(&b)),
        port,
        host: unbracket(host),
        host_port,
        spec: spec.to_owned(),
    })
}

/// Parses a `-D` spec: `[bind_address:]port`.
pub fn parse_dynamic(spec: &str) -> Result<Dynamic, Error> {
    let bad = || Error::ForwardSpec {
        flag: "-D",
        spec: spec.to_owned(),
        expected: "[bind_address:]port",
    };
    let parts = split_colons(spec);
    let (bind, port) = match parts.as_slice() {
        [p] => (None, p),
        [b, p] => (Some(unbracket(b)).filter(|b| !b.is_empty()), p),
        _ => return Err(bad()),
    };
    Ok(Dynamic {
        bind,
        port: port.parse().map_err(|_| bad())?,
    })
}

/// Parses `[user@]host[:port]` (also `ssh://[user@]host[:port]`, as OpenSSH accepts).
pub fn parse_destination(dest: &str) -> Result<Hop, Error> {
    let bad = || Error::Destination {
        given: dest.to_owned(),
    };
    let s = dest.strip_prefix("ssh://").unwrap_or(dest);
    let (user, rest) = match s.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_owned()).filter(|u| !u.is_empty()), r),
        None => (None, s),
    };
    // A bare IPv6 address has several colons and no port; `[v6]:port` is bracketed.
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        (h.to_owned(), port)
    } else if rest.matches(':').count() == 1 {
        let (h, p) = rest.split_once(':').ok_or_else(bad)?;
        (h.to_owned(), Some(p.parse().map_err(|_| bad())?))
    } else {
        (rest.to_owned(), None)
    };
    if host.is_empty() || host.starts_with('-') {
        return Err(bad());
    }
    Ok(Hop { user, host, port })
}

/// Parses a `-J` / `ProxyJump` list: comma-separated destinations.
pub fn parse_jumps(list: &str) -> Result<Vec<Hop>, Error> {
    list.split(',')
        .filter(|h| !h.trim().is_empty())
        .map(|h| parse_destination(h.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards() {
        let f = parse_forward("-L", "8080:db.internal:5432").expect("3 parts");
        assert_eq!(
            (f.bind, f.port, f.host.as_str(), f.host_port),
            (None, 8080, "db.internal", 5432)
        );
        let f = parse_forward("-L", "[::1]:8080:[fe80::1]:80").expect("v6");
        assert_eq!(
            (f.bind.as_deref(), f.host.as_str()),
            (Some("::1"), "fe80::1")
        );
        let f = parse_forward("-R", "0.0.0.0:0:localhost:22").expect("4 parts");
        assert_eq!((f.bind.as_deref(), f.port), (Some("0.0.0.0"), 0));
        for bad in ["8080", "a:b:c", "1:h:99999", "1::2"] {
            assert!(parse_forward("-L", bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_dynamic("1080").expect("port"),
            Dynamic {
                bind: None,
                port: 1080
            }
        );
        assert_eq!(
            parse_dynamic("127.0.0.2:1080")
                .expect("bind")
                .bind
                .as_deref(),
            Some("127.0.0.2")
        );
        assert!(parse_dynamic("x").is_err());
    }

    #[test]
    fn destinations() {
        let d = parse_destination("alice@host.example:2222").expect("full");
        assert_eq!(
            (d.user.as_deref(), d.host.as_str(), d.port),
            (Some("alice"), "host.example", Some(2222))
        );
        let d = parse_destination("ssh://a@b@[::1]:22").expect("url, @ in user");
        assert_eq!(
            (d.user.as_deref(), d.host.as_str(), d.port),
            (Some("a@b"), "::1", Some(22))
        );
        assert_eq!(parse_destination("fe80::1").expect("v6").host, "fe80::1");
        assert!(parse_destination("-oProxyCommand=x").is_err());
        assert!(parse_destination("h:notaport").is_err());
        let j = parse_jumps("a,u@b:2200").expect("list");
        assert_eq!(j.len(), 2);
        assert_eq!(j[1].port, Some(2200));
    }
}
