//! Proxy choice as Go's `net/http` makes it from the environment (`ProxyFromEnvironment`), which
//! is what opkssh's verify honours, including variables set by `env_vars` in its server config:
//! `HTTPS_PROXY`/`https_proxy` for https URLs, `HTTP_PROXY`/`http_proxy` for http, never for
//! `localhost` or a loopback address, and not for hosts `NO_PROXY`/`no_proxy` lists.
//! `ALL_PROXY`, which ureq alone would read, is not used: Go ignores it.

use std::net::IpAddr;

use crate::Error;

/// The proxy settings, read once when a client is built.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyEnv {
    https: Option<ureq::Proxy>,
    http: Option<ureq::Proxy>,
    no_proxy: Vec<NoProxy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NoProxy {
    All,
    Ip(IpAddr, Option<u16>),
    Cidr(IpAddr, u8),
    /// `.suffix` (leading dot kept), whether the bare name matches too, optional port.
    Domain(String, bool, Option<u16>),
}

impl ProxyEnv {
    /// Reads the variables through `lookup` (the process environment with overrides).
    pub(crate) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        // Go's getEnvAny: the first of the names that is set and non-empty.
        let any = |names: [&str; 2]| {
            names
                .into_iter()
                .find_map(|n| lookup(n).filter(|v| !v.is_empty()))
        };
        let proxy = |value: Option<String>| {
            value
                .map(|v| ureq::Proxy::new(&v).map_err(|_| Error::BadProxy { value: v.clone() }))
                .transpose()
        };
        Ok(Self {
            https: proxy(any(["HTTPS_PROXY", "https_proxy"]))?,
            http: proxy(any(["HTTP_PROXY", "http_proxy"]))?,
            no_proxy: any(["NO_PROXY", "no_proxy"])
                .map(|v| parse_no_proxy(&v))
                .unwrap_or_default(),
        })
    }

    /// The proxy for a request to `host:port` over https or http.
    pub(crate) fn for_target(&self, https: bool, host: &str, port: u16) -> Option<ureq::Proxy> {
        let proxy = if https { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        let loopback =
            host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback || self.no_proxy.iter().any(|n| n.matches(host, port)) {
            return None;
        }
        Some(proxy.clone())
    }
}

/// `NO_PROXY` as Go's httpproxy reads it: comma-separated, trimmed, lower-cased entries; `*`;
/// IPs and CIDRs; names matching themselves and their subdomains (a leading `.` or `*.`:
/// subdomains only); an optional `:port`.
fn parse_no_proxy(value: &str) -> Vec<NoProxy> {
    let mut out = Vec::new();
    for entry in value.split(',') {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            continue;
        }
        if entry == "*" {
            return vec![NoProxy::All];
        }
        if let Some((ip, bits)) = entry.split_once('/') {
            if let (Ok(ip), Ok(bits)) = (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
                out.push(NoProxy::Cidr(ip, bits));
            }
            continue;
        }
        if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
            out.push(NoProxy::Ip(ip, None));
            continue;
        }
        let (host, port) = match entry.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, p.parse().ok()),
            _ => (entry.as_str(), None),
        };
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            out.push(NoProxy::Ip(ip, port));
            continue;
        }
        let host = host.strip_prefix('*').unwrap_or(host);
        let (suffix, bare) = match host.strip_prefix('.') {
            Some(_) => (host.to_owned(), false),
            None => (format!(".{host}"), true),
        };
        out.push(NoProxy::Domain(suffix, bare, port));
    }
    out
}

impl NoProxy {
    fn matches(&self, host: &str, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match self {
            Self::All => true,
            Self::Ip(ip, p) => host.parse::<IpAddr>().is_ok_and(|h| h == *ip) && port_ok(p),
            Self::Cidr(net, bits) => host
                .parse::<IpAddr>()
                .is_ok_and(|h| in_cidr(h, *net, *bits)),
            Self::Domain(suffix, bare, p) => {
                (host.ends_with(suffix.as_str()) || (*bare && host == &suffix[1..])) && port_ok(p)
            }
        }
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
        _ => return false,
    };
    if u32::from(bits) > width {
        return false;
    }
    let shift = width - u32::from(bits);
    shift >= 128 || (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxyEnv::from_lookup(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("valid")
    }

    fn via(e: &ProxyEnv, https: bool, host: &str, port: u16) -> Option<String> {
        e.for_target(https, host, port)
            .map(|p| format!("{}:{}", p.host(), p.port()))
    }

    #[test]
    fn scheme_picks_the_variable_and_loopback_is_never_proxied() {
        let e = env(&[
            ("HTTPS_PROXY", "http://sproxy:3128"),
            ("http_proxy", "pproxy:8080"),
            ("ALL_PROXY", "http://all:1"),
        ]);
        assert_eq!(
            via(&e, true, "op.example", 443).as_deref(),
            Some("sproxy:3128")
        );
        assert_eq!(
            via(&e, false, "op.example", 80).as_deref(),
            Some("pproxy:8080")
        );
        for host in ["localhost", "127.0.0.1", "127.9.9.9", "::1"] {
            assert_eq!(via(&e, true, host, 443), None, "{host}");
        }
        // Upper case wins; an empty upper-case value falls through to lower case (Go).
        let e = env(&[("HTTPS_PROXY", ""), ("https_proxy", "http://low:1")]);
        assert_eq!(via(&e, true, "op.example", 443).as_deref(), Some("low:1"));
        // ALL_PROXY alone is not used.
        assert_eq!(
            via(&env(&[("ALL_PROXY", "http://all:1")]), true, "a", 443),
            None
        );
    }

    #[test]
    fn no_proxy_entries_follow_go() {
        let e = env(&[
            ("HTTPS_PROXY", "http://p:1"),
            (
                "NO_PROXY",
                " Corp.Example , .sub.example,*.star.example,10.0.0.0/8,192.0.2.7,api.example:8443",
            ),
        ]);
        for (host, port, proxied) in [
            ("corp.example", 443, false),
            ("a.corp.example", 443, false),
            ("xcorp.example", 443, true),
            ("sub.example", 443, true),
            ("a.sub.example", 443, false),
            ("star.example", 443, true),
            ("a.star.example", 443, false),
            ("10.1.2.3", 443, false),
            ("11.1.2.3", 443, true),
            ("192.0.2.7", 443, false),
            ("api.example", 8443, false),
            ("api.example", 443, true),
            ("op.example", 443, true),
        ] {
            assert_eq!(
                via(&e, true, host, port).is_some(),
                proxied,
                "{host}:{port}"
            );
        }
        let all = env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "x,*")]);
        assert_eq!(via(&all, true, "op.example", 443), None);
    }

    #[test]
    fn a_bad_proxy_value_is_an_error() {
        let r = ProxyEnv::from_lookup(&|n| (n == "HTTPS_PROXY").then(|| "http://[x".to_owned()));
        assert!(matches!(r, Err(Error::BadProxy { .. })), "{r:?}");
    }
}
