//! Blocking HTTP(S) client shared by `opk login` (discovery, token exchange) and `opk verify`
//! (discovery, JWKS).
//!
//! - No async runtime: ureq with rustls (ring).
//! - Trust anchors: the system PEM bundle plus every certificate in `SSL_CERT_FILE`, the way Go
//!   and OpenSSL tools honour that variable, so private OPs with an enterprise CA work.
//! - No redirects (an OP endpoint that redirects is refused rather than followed: SSRF).
//! - Plain `http://` only to loopback hosts ([`check_url`]).
//! - Bodies are capped ([`HttpOptions::max_body`]) and must be JSON objects.
//! - Proxies as Go picks them (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`; loopback never), from
//!   the environment overlaid with [`HttpOptions::env`] (opkssh's `env_vars`).
#![forbid(unsafe_code)]

mod proxy;
mod roots;
mod url;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::url::check_url;

/// One error type for the crate; every message is one line saying what is wrong and what to do.
///
/// Causes from other libraries (I/O, TLS, HTTP, JSON) are said in the message and are not
/// `source()`: the message alone is the complete line `opk verify` logs, and a caller printing
/// the source chain never repeats them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not one opk will contact.
    #[error(
        "refusing URL {url:?}: {reason}; use an https:// URL (plain http is allowed only to localhost, 127.0.0.0/8 or [::1])"
    )]
    BadUrl {
        /// The refused URL.
        url: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The CA file named by `SSL_CERT_FILE` could not be read.
    #[error(
        "cannot read CA file {path} (from SSL_CERT_FILE): {error}; fix the path or unset SSL_CERT_FILE"
    )]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The CA file named by `SSL_CERT_FILE` holds no PEM certificate.
    #[error(
        "CA file {path} (from SSL_CERT_FILE) contains no PEM certificate; point SSL_CERT_FILE at a PEM bundle or unset it"
    )]
    CaFileEmpty {
        /// The file.
        path: PathBuf,
    },
    /// An https URL was requested but no trust anchor is available.
    #[error(
        "no CA certificates for {url}: none of /etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/ca-bundle.pem, /etc/ssl/cert.pem is readable; install ca-certificates or set SSL_CERT_FILE"
    )]
    NoRootCerts {
        /// The URL that needed TLS.
        url: String,
    },
    /// The request timed out.
    #[error("request to {url} timed out ({error}); check that the server is reachable")]
    Timeout {
        /// The URL.
        url: String,
        /// ureq's description of which phase timed out.
        error: Box<ureq::Error>,
    },
    /// The server's TLS certificate was refused.
    #[error("the TLS certificate of {host} {problem}")]
    Tls {
        /// The URL.
        url: String,
        /// Its host (and port), as the user wrote it.
        host: String,
        /// Why the certificate was refused, and what to do.
        problem: TlsProblem,
    },
    /// Connecting, TLS or the HTTP exchange failed.
    #[error(
        "request to {url} failed: {error}; check the network, the URL and the server's certificate"
    )]
    Request {
        /// The URL.
        url: String,
        /// The underlying error.
        error: Box<ureq::Error>,
    },
    /// The server answered with a status other than the one required.
    #[error("{url} answered HTTP {status}, expected 200; check the URL and the server")]
    Status {
        /// The URL.
        url: String,
        /// The status received.
        status: u16,
    },
    /// The response body exceeds [`HttpOptions::max_body`].
    #[error(
        "response from {url} is larger than {limit} bytes; the server is misbehaving or this is not the right URL"
    )]
    BodyTooLarge {
        /// The URL.
        url: String,
        /// The cap that was exceeded.
        limit: usize,
    },
    /// The response body is not JSON.
    #[error("response from {url} is not valid JSON ({error}); check the URL")]
    Json {
        /// The URL.
        url: String,
        /// The parse error.
        error: serde_json::Error,
    },
    /// A proxy variable holds something that is not a proxy URL.
    #[error(
        "proxy setting {value:?} (HTTPS_PROXY or HTTP_PROXY) is not a proxy URL; use http://host:port or unset it"
    )]
    BadProxy {
        /// The value.
        value: String,
    },
    /// The response body is JSON but not an object.
    #[error("response from {url} is JSON but not an object; check the URL")]
    NotObject {
        /// The URL.
        url: String,
    },
}

/// Why a server certificate was refused, said for a user rather than as rustls names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsProblem {
    /// Not signed by a trusted CA: a private CA, or a self-signed certificate.
    #[error(
        "is not signed by a CA this machine trusts (a private CA or a self-signed certificate): set SSL_CERT_FILE to the CA bundle that signed it"
    )]
    UnknownIssuer,
    /// Valid, but for other names.
    #[error("is not valid for that name: check the URL")]
    NotValidForName,
    /// Past its validity.
    #[error("has expired (or this machine's clock is wrong)")]
    Expired,
    /// Before its validity.
    #[error("is not valid yet: check this machine's clock")]
    NotValidYet,
    /// Revoked by its CA.
    #[error("is revoked: the server needs a new certificate")]
    Revoked,
    /// Any other reason (bad signature, wrong usage, unreadable).
    #[error("was refused: check the server's certificate chain")]
    Other,
}

/// The certificate problem inside a ureq error, if that is what it is: rustls reports it
/// directly or inside the I/O error of the handshake.
pub fn tls_problem(e: &ureq::Error) -> Option<TlsProblem> {
    use rustls::CertificateError as C;
    let rustls_error = match e {
        ureq::Error::Rustls(r) => r,
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    let rustls::Error::InvalidCertificate(cert) = rustls_error else {
        return None;
    };
    Some(match cert {
        // A bad signature means a trusted CA has the issuer's name but did not sign it: for the
        // user the same case as an unknown issuer.
        C::UnknownIssuer | C::BadSignature => TlsProblem::UnknownIssuer,
        C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::NotValidForName,
        C::Expired | C::ExpiredContext { .. } => TlsProblem::Expired,
        C::NotValidYet | C::NotValidYetContext { .. } => TlsProblem::NotValidYet,
        C::Revoked => TlsProblem::Revoked,
        _ => TlsProblem::Other,
    })
}

/// `host[:port]` of an absolute URL, for messages.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    sanitize(authority, 200)
}

/// Timeouts and caps for [`HttpClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Budget for DNS, TCP connect and the TLS handshake.
    pub connect_timeout: Duration,
    /// Budget for one whole request, body included.
    pub total_timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_body: usize,
    /// Variables that take precedence over the process environment for `SSL_CERT_FILE` and the
    /// proxy variables: the `env_vars` of opkssh's server config, which opkssh exports.
    pub env: Vec<(String, String)>,
}

impl HttpOptions {
    /// `name` from [`HttpOptions::env`], else from the process environment.
    fn var(&self, name: &str) -> Option<String> {
        match self.env.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) => Some(v.clone()),
            None => std::env::var(name).ok(),
        }
    }
}

impl Default for HttpOptions {
    /// 5 s to connect, 10 s in total, 1 MiB bodies.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
            env: Vec::new(),
        }
    }
}

/// The trust anchors [`HttpClient::new`] uses (the first readable system bundle plus every
/// certificate in `SSL_CERT_FILE`), for callers that make their own TLS connections: the
/// OpenZiti controller of `opk zssh --oidcOnly`, which has no identity file to name its CA.
pub fn trust_anchors() -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, Error> {
    let system: Vec<&Path> = roots::SYSTEM_BUNDLES.iter().map(Path::new).collect();
    let extra = std::env::var_os("SSL_CERT_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    roots::load_roots(&system, extra.as_deref())
}

/// A blocking JSON-over-HTTPS client. Cheap to share by reference; connections are pooled.
#[derive(Debug)]
pub struct HttpClient {
    agent: ureq::Agent,
    max_body: usize,
    /// No trust anchor at all: https requests fail with a clear error instead of an opaque
    /// "unknown issuer" from rustls.
    no_roots: bool,
    proxy: proxy::ProxyEnv,
}

impl HttpClient {
    /// Builds a client whose trust anchors are the first readable system bundle plus every
    /// certificate in the PEM file named by `SSL_CERT_FILE` (if set).
    ///
    /// Fails only if `SSL_CERT_FILE` is set but unreadable or holds no certificate.
    pub fn new(opts: HttpOptions) -> Result<Self, Error> {
        let system: Vec<&Path> = roots::SYSTEM_BUNDLES.iter().map(Path::new).collect();
        let extra = opts
            .var("SSL_CERT_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Self::with_roots(opts, &system, extra.as_deref())
    }

    /// Like [`HttpClient::new`] with explicit bundle paths instead of the system list and the
    /// environment; for tests and for callers with their own trust configuration.
    pub fn with_roots(
        opts: HttpOptions,
        system_bundles: &[&Path],
        extra_ca_file: Option<&Path>,
    ) -> Result<Self, Error> {
        let proxy = proxy::ProxyEnv::from_lookup(&|name| opts.var(name))?;
        let certs = roots::load_roots(system_bundles, extra_ca_file)?;
        let no_roots = certs.is_empty();
        let certs: Vec<ureq::tls::Certificate<'static>> = certs
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            // Non-2xx bodies carry OAuth error JSON; we look at the status ourselves.
            .http_status_as_error(false)
            // Never follow: a redirect could point discovery at an internal host (SSRF).
            .max_redirects(0)
            .max_redirects_will_error(false)
            // Chosen per request (proxy.rs), as Go does, rather than ureq's reading of the env.
            .proxy(None)
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_global(Some(opts.total_timeout))
            .user_agent(concat!("opk/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .build();
        Ok(Self {
            agent: ureq::Agent::new_with_config(config),
            max_body: opts.max_body,
            no_roots,
            proxy,
        })
    }

    /// GETs `url`, which must answer 200 with a JSON object of at most `max_body` bytes.
    pub fn get_json(&self, url: &str) -> Result<serde_json::Value, Error> {
        self.get(url, None)
    }

    /// [`HttpClient::get_json`] with `Authorization: Bearer <access_token>` (OIDC userinfo).
    pub fn get_json_bearer(
        &self,
        url: &str,
        access_token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        match self.get(url, Some(access_token))? {
            serde_json::Value::Object(map) => Ok(map),
            _ => Err(Error::NotObject {
                url: url.to_owned(),
            }),
        }
    }

    fn get(&self, url: &str, bearer: Option<&str>) -> Result<serde_json::Value, Error> {
        self.admit(url)?;
        let mut req = self.agent.get(url);
        if let Some(token) = bearer {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = req
            .config()
            .proxy(self.proxy_for(url))
            .build()
            .call()
            .map_err(|e| request_error(url, e))?;
        let (status, body) = self.read_json(url, resp)?;
        if status != 200 {
            return Err(Error::Status {
                url: url.to_owned(),
                status,
            });
        }
        body
    }

    /// POSTs `form` as `application/x-www-form-urlencoded` and returns the status with the JSON
    /// object body, whatever the status: OAuth token endpoints report errors as 400 + JSON.
    /// A non-JSON body is an error only for 2xx; otherwise it is [`Error::Status`].
    pub fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, serde_json::Value), Error> {
        self.admit(url)?;
        let resp = self
            .agent
            .post(url)
            .config()
            .proxy(self.proxy_for(url))
            .build()
            .send_form(form.iter().copied())
            .map_err(|e| request_error(url, e))?;
        let (status, body) = self.read_json(url, resp)?;
        match body {
            Ok(value) => Ok((status, value)),
            // A gateway's HTML 502 page is better reported as "HTTP 502" than as bad JSON.
            Err(Error::Json { .. } | Error::NotObject { .. }) if !(200..300).contains(&status) => {
                Err(Error::Status {
                    url: url.to_owned(),
                    status,
                })
            }
            Err(e) => Err(e),
        }
    }

    fn proxy_for(&self, url: &str) -> Option<ureq::Proxy> {
        let (https, host, port) = url::host_port(url)?;
        self.proxy.for_target(https, &host, port)
    }

    fn admit(&self, url: &str) -> Result<(), Error> {
        check_url(url)?;
        let https = url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        if https && self.no_roots {
            return Err(Error::NoRootCerts {
                url: url.to_owned(),
            });
        }
        Ok(())
    }

    /// Reads the capped body; the outer error is transport/size, the inner one JSON shape.
    #[allow(clippy::type_complexity)]
    fn read_json(
        &self,
        url: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<(u16, Result<serde_json::Value, Error>), Error> {
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(self.max_body as u64)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => Error::BodyTooLarge {
                    url: url.to_owned(),
                    limit: self.max_body,
                },
                e => request_error(url, e),
            })?;
        Ok((status, parse_object(url, &bytes)))
    }
}

/// Makes text that came from the network safe for a terminal and a one-line message: control
/// characters become `?` (no escape-sequence injection) and the length is capped at `max_chars`
/// (an ellipsis marks the cut).
pub fn sanitize(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max_chars)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// Test support for the error tests of opk-http, opk-jwks and opk-oidc (feature `testing`).
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing {
    /// Joins `e` and its sources with ": ", as the CLI prints them, and panics if a cause's text
    /// was already said or the result is not one line.
    pub fn assert_causes_said_once(e: &(dyn std::error::Error + 'static)) {
        let mut line = e.to_string();
        let mut next = e.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            assert!(!line.contains(&text), "{text:?} repeated in {line:?}");
            line = format!("{line}: {text}");
            next = cause.source();
        }
        assert!(!line.contains('\n'), "{line:?}");
    }
}

fn parse_object(url: &str, bytes: &[u8]) -> Result<serde_json::Value, Error> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| Error::Json {
        url: url.to_owned(),
        error,
    })?;
    if !value.is_object() {
        return Err(Error::NotObject {
            url: url.to_owned(),
        });
    }
    Ok(value)
}

fn request_error(url: &str, e: ureq::Error) -> Error {
    if let Some(problem) = tls_problem(&e) {
        return Error::Tls {
            url: url.to_owned(),
            host: url_host(url),
            problem,
        };
    }
    match e {
        ureq::Error::Timeout(_) => Error::Timeout {
            url: url.to_owned(),
            error: Box::new(e),
        },
        e => Error::Request {
            url: url.to_owned(),
            error: Box::new(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::assert_causes_said_once;

    #[test]
    fn every_cause_is_said_once() {
        let url = "https://op.example/x";
        let io = || std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let errors = [
            check_url("http://op.example/").expect_err("plain http"),
            roots::load_roots(&[], Some(Path::new("/nonexistent/ca.pem"))).expect_err("missing"),
            Error::CaFileEmpty { path: "/x".into() },
            Error::NoRootCerts { url: url.into() },
            request_error(url, ureq::Error::Timeout(ureq::Timeout::Global)),
            request_error(url, ureq::Error::Io(io())),
            request_error(url, ureq::Error::HostNotFound),
            Error::Status {
                url: url.into(),
                status: 503,
            },
            Error::BodyTooLarge {
                url: url.into(),
                limit: 1,
            },
            parse_object(url, b"{").expect_err("truncated"),
            parse_object(url, b"[]").expect_err("array"),
        ];
        for e in &errors {
            assert_causes_said_once(e);
        }
        let msg = errors[5].to_string();
        assert!(
            msg.contains("refused") && msg.contains("check the network"),
            "{msg}"
        );
    }

    #[test]
    fn sanitize_replaces_controls_and_caps() {
        assert_eq!(sanitize("a\x1b[31mb\nc", 100), "a?[31mb?c");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(sanitize("abc", 3), "abc");
        assert_eq!(sanitize("éé", 1), "é…");
    }
}
