//! OpenID Connect Discovery: the one implementation, used by `opk verify` (for `jwks_uri`) and by
//! `opk login` (for the OAuth endpoints), so both sides accept exactly the same issuers.

use opk_http::HttpClient;
use serde_json::Value;

use crate::Error;

/// Appended to the issuer to locate its discovery document (OpenID Connect Discovery section 4).
const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// The discovery URL for `issuer`.
///
/// The issuer rule, the same as opkssh's (zitadel `client.Discover`): the URL is the configured
/// issuer with at most one trailing `/` removed, plus `/.well-known/openid-configuration`; the
/// document's `issuer` must then equal the configured issuer byte for byte, so `https://x/` and
/// `https://x` are different issuers that share one discovery URL, and only the one the OP
/// declares is accepted (OpenID Connect Discovery section 4.3; the token's `iss` is compared the
/// same way).
pub fn discovery_url(issuer: &str) -> String {
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    format!("{base}{WELL_KNOWN}")
}

/// Fetches and checks the discovery document of `issuer`.
pub fn discover(client: &HttpClient, issuer: &str) -> Result<Discovery, Error> {
    let url = discovery_url(issuer);
    let doc = client.get_json(&url)?;
    Discovery::from_document(issuer, &url, &doc)
}

/// An endpoint named by a discovery document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `jwks_uri`: the OP's signing keys.
    Jwks,
    /// `authorization_endpoint` (RFC 6749 section 3.1).
    Authorization,
    /// `token_endpoint` (RFC 6749 section 3.2).
    Token,
    /// `device_authorization_endpoint` (RFC 8628 section 4).
    DeviceAuthorization,
    /// `userinfo_endpoint` (OpenID Connect Core section 5.3).
    Userinfo,
}

impl Endpoint {
    /// The discovery document member naming this endpoint (also its `Display`).
    fn field(self) -> &'static str {
        match self {
            Endpoint::Jwks => "jwks_uri",
            Endpoint::Authorization => "authorization_endpoint",
            Endpoint::Token => "token_endpoint",
            Endpoint::DeviceAuthorization => "device_authorization_endpoint",
            Endpoint::Userinfo => "userinfo_endpoint",
        }
    }

    /// OAuth endpoints get our query parameters appended; a fragment would swallow them
    /// (RFC 6749 section 3.1 forbids one).
    fn forbids_fragment(self) -> bool {
        matches!(
            self,
            Endpoint::Authorization | Endpoint::Token | Endpoint::DeviceAuthorization
        )
    }

    const ALL: [Endpoint; 5] = [
        Endpoint::Jwks,
        Endpoint::Authorization,
        Endpoint::Token,
        Endpoint::DeviceAuthorization,
        Endpoint::Userinfo,
    ];
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.field())
    }
}

/// A discovery document whose `issuer` is the configured one.
///
/// Endpoints are kept as found; [`Discovery::endpoint`] checks the one a caller is about to use,
/// so a malformed endpoint that one side never contacts does not fail the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Where the document came from, for error messages.
    url: String,
    endpoints: [Option<String>; 5],
}

impl Discovery {
    /// Checks a fetched document (from `url`) against the configured `issuer`: the result is
    /// [`Error::IssuerMismatch`] or [`Error::Discovery`], never an HTTP error.
    pub fn from_document(issuer: &str, url: &str, doc: &Value) -> Result<Self, Error> {
        let found = doc
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Discovery {
                url: url.to_owned(),
                field: "issuer",
            })?;
        if found != issuer {
            return Err(Error::IssuerMismatch {
                url: url.to_owned(),
                expected: issuer.to_owned(),
                found: sanitize(found),
            });
        }
        let endpoints = Endpoint::ALL.map(|e| {
            doc.get(e.field())
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        Ok(Self {
            url: url.to_owned(),
            endpoints,
        })
    }

    /// The endpoint `which`: present as a string, a URL opk may contact
    /// ([`opk_http::check_url`]), and without a fragment where that matters. The result is
    /// [`Error::Discovery`] or [`Error::BadEndpoint`], never an HTTP error.
    pub fn endpoint(&self, which: Endpoint) -> Result<&str, Error> {
        let Some(value) = self.endpoints[which as usize].as_deref() else {
            return Err(Error::Discovery {
                url: self.url.clone(),
                field: which.field(),
            });
        };
        let refuse = |reason| Error::BadEndpoint {
            url: self.url.clone(),
            endpoint: which,
            value: sanitize(value),
            reason,
        };
        match opk_http::check_url(value) {
            Err(opk_http::Error::BadUrl { reason, .. }) => return Err(refuse(reason)),
            // check_url only ever returns BadUrl; anything else would be a bug there.
            Err(_) => return Err(refuse("it is not a URL opk may contact")),
            Ok(()) => {}
        }
        if which.forbids_fragment() && value.contains('#') {
            return Err(refuse("an OAuth endpoint has no fragment"));
        }
        Ok(value)
    }
}

/// Longest document-provided text placed into a message.
const MAX_TEXT: usize = 300;

fn sanitize(s: &str) -> String {
    opk_http::sanitize(s, MAX_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_strips_one_trailing_slash() {
        assert_eq!(
            discovery_url("https://x"),
            "https://x/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://x/"),
            "https://x/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://x/realms/r/"),
            "https://x/realms/r/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://x//"),
            "https://x//.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuer_is_compared_byte_exactly() {
        let url = discovery_url("https://x");
        for (configured, declared, ok) in [
            ("https://x", "https://x", true),
            ("https://x/", "https://x/", true),
            ("https://x", "https://x/", false),
            ("https://x/", "https://x", false),
            ("https://x", "https://X", false),
            ("https://x", "https://y", false),
        ] {
            let doc = json!({ "issuer": declared });
            let got = Discovery::from_document(configured, &url, &doc);
            assert_eq!(got.is_ok(), ok, "{configured} vs {declared}: {got:?}");
            if let Err(e) = got {
                assert!(matches!(e, Error::IssuerMismatch { .. }), "{e:?}");
            }
        }
        let err = Discovery::from_document("https://x", &url, &json!({ "issuer": 1 }))
            .expect_err("non-string issuer");
        assert!(matches!(
            err,
            Error::Discovery {
                field: "issuer",
                ..
            }
        ));
    }

    #[test]
    fn endpoints_are_checked_when_used() {
        let doc = json!({
            "issuer": "https://x",
            "jwks_uri": "https://x/keys",
            "authorization_endpoint": "https://x/auth#frag",
            "token_endpoint": "http://evil.example/token",
            "userinfo_endpoint": 7,
        });
        let d = Discovery::from_document("https://x", "u", &doc).expect("issuer matches");
        assert_eq!(d.endpoint(Endpoint::Jwks).ok(), Some("https://x/keys"));
        assert!(matches!(
            d.endpoint(Endpoint::Authorization),
            Err(Error::BadEndpoint {
                endpoint: Endpoint::Authorization,
                ..
            })
        ));
        let e = d
            .endpoint(Endpoint::Token)
            .expect_err("plain http to a remote host");
        assert!(
            matches!(
                e,
                Error::BadEndpoint {
                    endpoint: Endpoint::Token,
                    ..
                }
            ),
            "{e:?}"
        );
        let m = e.to_string();
        assert!(
            m.contains("token_endpoint") && m.contains("evil.example") && m.contains("https://"),
            "{m}"
        );
        for missing in [Endpoint::Userinfo, Endpoint::DeviceAuthorization] {
            assert!(matches!(
                d.endpoint(missing),
                Err(Error::Discovery { field, .. }) if field == missing.field()
            ));
        }
    }

    #[test]
    fn declared_issuer_is_sanitised() {
        let doc = json!({ "issuer": format!("\u{1b}[31m{}", "a".repeat(1000)) });
        let Err(Error::IssuerMismatch { found, .. }) =
            Discovery::from_document("https://x", "u", &doc)
        else {
            panic!("expected a mismatch");
        };
        assert!(found.starts_with("?[31m"));
        assert_eq!(found.chars().count(), MAX_TEXT + 1);
    }
}
