//! OIDC discovery (the one implementation, shared with `opk login`) + JWKS fetch, and a JWKS
//! cache shared by concurrent `opk verify` processes.
//!
//! `opk verify` runs on every SSH attempt; opkssh fetched discovery and JWKS every time (O-7 in
//! docs/hazards.md).
//! [`JwksCache`] keeps one file per issuer so that a warm cache answers without any network,
//! lock or TLS setup, and [`HttpJwksFetcher`] builds its HTTPS client only when it must fetch.
#![forbid(unsafe_code)]

mod cache;
mod discovery;
mod fetch;
mod file;

pub use cache::{CacheOptions, JwksCache, JwksOutcome, Source};
pub use discovery::{Discovery, Endpoint, discover, discovery_url};
pub use fetch::HttpJwksFetcher;
pub use opk_pktoken::Jwks;

/// One error type for the crate; every message is one line saying what is wrong and what to do.
///
/// Errors of opk-http are wrapped transparently; other causes are said in the message and are
/// not `source()`, so printing the source chain never repeats them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An HTTP request failed (network, TLS, status, size, JSON shape).
    #[error(transparent)]
    Http(#[from] opk_http::Error),
    /// The discovery document names a different issuer than the configured one.
    #[error(
        "OpenID discovery at {url} declares issuer {found:?} but {expected:?} is configured; the issuer must match byte for byte (a trailing '/' matters): configure it exactly as the provider spells it"
    )]
    IssuerMismatch {
        /// The discovery URL.
        url: String,
        /// The configured issuer.
        expected: String,
        /// What the document says (sanitised).
        found: String,
    },
    /// The discovery document lacks a required string member.
    #[error(
        "OpenID discovery document at {url} has no string {field:?}; check that the issuer URL is right"
    )]
    Discovery {
        /// The discovery URL.
        url: String,
        /// The missing member.
        field: &'static str,
    },
    /// An endpoint in the discovery document is not a URL opk will contact.
    #[error(
        "OpenID discovery document at {url} gives {endpoint} {value:?}, which is not allowed ({reason}); the provider must publish https:// endpoints (http:// only on localhost, 127.0.0.0/8 or [::1])"
    )]
    BadEndpoint {
        /// The discovery URL.
        url: String,
        /// Which endpoint.
        endpoint: Endpoint,
        /// The value found (sanitised).
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The JWKS is not an object with a `keys` array.
    #[error("JWKS for issuer {issuer} is invalid: {error}; check the OP's jwks_uri")]
    InvalidJwks {
        /// The issuer.
        issuer: String,
        /// What is wrong (said in the message, so not a `source()`).
        error: opk_pktoken::Error,
    },
    /// This fetcher cannot ask an OP's userinfo endpoint.
    #[error("no userinfo lookup for issuer {issuer} here")]
    NoUserinfo {
        /// The issuer.
        issuer: String,
    },
    /// A fetcher other than [`HttpJwksFetcher`] failed.
    #[error("fetching the JWKS for issuer {issuer} failed: {error}")]
    Fetch {
        /// The issuer.
        issuer: String,
        /// What went wrong (said in the message, so not a `source()`).
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What one fetch learned: the keys, and where the OP answers userinfo requests.
#[derive(Debug, Clone)]
pub struct FetchedKeys {
    /// The JWKS, reduced to the keys opk can verify with.
    pub jwks: Jwks,
    /// The discovery document's `userinfo_endpoint`, if it has one.
    pub userinfo_endpoint: Option<String>,
}

/// Something that can produce the JWKS of an issuer (the network, or a fake in tests).
pub trait JwksFetcher {
    /// Returns the issuer's JWKS, reduced to the keys opk can verify with.
    fn fetch(&self, issuer: &str) -> Result<Jwks, Error>;

    /// [`fetch`](Self::fetch), plus the `userinfo_endpoint` of the same discovery when it names
    /// one. [`JwksCache`] keeps it beside the keys, so a verify of an `openpubkey-act`
    /// certificate does not run discovery again. The default knows no endpoint.
    fn fetch_with_userinfo_endpoint(&self, issuer: &str) -> Result<FetchedKeys, Error> {
        Ok(FetchedKeys {
            jwks: self.fetch(issuer)?,
            userinfo_endpoint: None,
        })
    }

    /// The server config's `env_vars`, which opkssh exports before any network call: a fetcher
    /// that uses the network applies those that steer it (proxy variables, `SSL_CERT_FILE`).
    /// Called before the first fetch; the default ignores them.
    fn set_env(&self, _vars: &[(String, String)]) {}

    /// The issuer's userinfo for `access_token` (the `openpubkey-act` certificate extension):
    /// the JSON object its `userinfo_endpoint` answers; `endpoint` is that URL when the JWKS
    /// cache knows it, else it is discovered. The default has none.
    fn userinfo(
        &self,
        issuer: &str,
        _endpoint: Option<&str>,
        _access_token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        Err(Error::NoUserinfo {
            issuer: issuer.to_owned(),
        })
    }
}

/// Entry points for fuzzers and property tests; not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as a cache file for a fixed issuer; must never panic.
    pub fn fuzz_cache_file(data: &[u8]) {
        let _ = crate::file::parse(data, "https://issuer.example");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use opk_http::testing::assert_causes_said_once;

    #[test]
    fn every_cause_is_said_once() {
        let doc = serde_json::json!({"issuer": "https://x", "jwks_uri": "http://evil.example/k"});
        let url = discovery_url("https://x");
        let discovery = Discovery::from_document("https://x", &url, &doc).expect("issuer matches");
        let errors = [
            Error::Http(opk_http::check_url("ftp://x").expect_err("scheme")),
            Discovery::from_document("https://y", &url, &doc).expect_err("mismatch"),
            Discovery::from_document("https://x", &url, &serde_json::json!({}))
                .expect_err("no issuer"),
            discovery.endpoint(Endpoint::Jwks).expect_err("plain http"),
            discovery.endpoint(Endpoint::Token).expect_err("missing"),
            Error::InvalidJwks {
                issuer: "https://x".into(),
                error: Jwks::from_json(&serde_json::json!([])).expect_err("not an object"),
            },
            Error::Fetch {
                issuer: "https://x".into(),
                error: std::io::Error::other("refused").into(),
            },
        ];
        for e in &errors {
            assert_causes_said_once(e);
        }
    }
}
