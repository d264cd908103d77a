//! OIDC discovery (the one implementation, shared with `opk login`) + JWKS fetch, and a JWKS
//! cache shared by concurrent `opk verify` processes.
//!
//! `opk verify` runs on every SSH attempt; opkssh fetched discovery and JWKS every time (O-7).
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

/// One error type for the crate; every message is one line saying what is wrong and what to do.
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
    #[error("JWKS for issuer {issuer} is invalid: {reason}; check the OP's jwks_uri")]
    InvalidJwks {
        /// The issuer.
        issuer: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A fetcher other than [`HttpJwksFetcher`] failed.
    #[error("fetching the JWKS for issuer {issuer} failed: {message}")]
    Fetch {
        /// The issuer.
        issuer: String,
        /// What went wrong and what to do.
        message: String,
    },
}

/// Something that can produce the JWKS of an issuer (the network, or a fake in tests).
pub trait JwksFetcher {
    /// Returns the issuer's JWKS document (a JSON object with a `keys` array).
    fn fetch(&self, issuer: &str) -> Result<serde_json::Value, Error>;
}

/// Checks the JWKS shape: an object whose `keys` is an array.
pub(crate) fn check_jwks_shape(issuer: &str, jwks: &serde_json::Value) -> Result<(), Error> {
    let bad = |reason| {
        Err(Error::InvalidJwks {
            issuer: issuer.to_owned(),
            reason,
        })
    };
    match jwks.get("keys") {
        _ if !jwks.is_object() => bad("it is not a JSON object"),
        Some(serde_json::Value::Array(_)) => Ok(()),
        Some(_) => bad("\"keys\" is not an array"),
        None => bad("it has no \"keys\" member"),
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
