//! scp operands: `[user@]host:path`, `[user@][v6addr]:path`, `scp://[user@]host[:port][/path]`,
//! or a local path (no `:` before the first `/`; a leading `:` is part of a local name), as
//! OpenSSH scp's `colon()` decides.

use std::path::PathBuf;

/// The remote side of an operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// `user@`, if given.
    pub user: Option<String>,
    /// Host or ssh_config alias (IPv6 without brackets).
    pub host: String,
    /// From `scp://host:port/`.
    pub port: Option<u16>,
    /// The path after the colon (may be empty: the remote home).
    pub path: String,
}

/// A source or destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A local path.
    Local(PathBuf),
    /// A path on a host.
    Remote(Remote),
}

/// Classifies one argument.
pub fn parse_operand(arg: &str) -> Operand {
    if let Some(rest) = arg.strip_prefix("scp://") {
        if let Some(r) = parse_uri(rest) {
            return Operand::Remote(r);
        }
        return Operand::Local(PathBuf::from(arg));
    }
    let Some(colon) = find_colon(arg) else {
        return Operand::Local(PathBuf::from(arg));
    };
    let (hostpart, path) = (&arg[..colon], &arg[colon + 1..]);
    let (user, host) = match hostpart.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_owned()), h),
        None => (None, hostpart),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Operand::Remote(Remote {
        user,
        host: host.to_owned(),
        port: None,
        path: path.to_owned(),
    })
}

fn find_colon(arg: &str) -> Option<usize> {
    if arg.starts_with(':') {
        return None;
    }
    let b = arg.as_bytes();
    let mut bracket = b.first() == Some(&b'[');
    for (i, &c) in b.iter().enumerate() {
        if c == b'@' && b.get(i + 1) == Some(&b'[') {
            bracket = true;
        }
        if c == b']' && b.get(i + 1) == Some(&b':') && bracket {
            return Some(i + 1);
        }
        if c == b':' && !bracket {
            return Some(i);
        }
        if c == b'/' {
            return None;
        }
    }
    None
}

fn parse_uri(rest: &str) -> Option<Remote> {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (user, hp) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_owned()), h),
        None => (None, authority),
    };
    let (host, port) = if let Some(r) = hp.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match hp.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hp, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p > 0)?),
        None => None,
    };
    Some(Remote {
        user,
        host: host.to_owned(),
        port,
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(user: Option<&str>, host: &str, port: Option<u16>, path: &str) -> Operand {
        Operand::Remote(Remote {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    #[test]
    fn operands_like_openssh_scp() {
        let local = |s: &str| Operand::Local(PathBuf::from(s));
        for (arg, want) in [
            ("file", local("file")),
            ("./a:b", local("./a:b")),
            (":odd", local(":odd")),
            ("dir/x:y", local("dir/x:y")),
            ("host:", remote(None, "host", None, "")),
            ("host:a b/ü", remote(None, "host", None, "a b/ü")),
            ("u@host:~/x", remote(Some("u"), "host", None, "~/x")),
            ("a@b@host:x", remote(Some("a@b"), "host", None, "x")),
            ("[::1]:/tmp", remote(None, "::1", None, "/tmp")),
            ("u@[::1]:x", remote(Some("u"), "::1", None, "x")),
            (
                "scp://u@h:2222/dir/f",
                remote(Some("u"), "h", Some(2222), "dir/f"),
            ),
            ("scp://h", remote(None, "h", None, "")),
            ("scp://[::1]:22/x", remote(None, "::1", Some(22), "x")),
            ("scp://h:0/x", local("scp://h:0/x")),
        ] {
            assert_eq!(parse_operand(arg), want, "{arg}");
        }
    }
}
