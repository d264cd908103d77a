//! The network fetcher: OIDC discovery, then the JWKS.

use std::sync::OnceLock;

use opk_http::{HttpClient, HttpOptions};

use crate::{Error, JwksFetcher, check_jwks_shape};

/// Fetches JWKS over HTTPS via OIDC discovery.
///
/// The [`HttpClient`] (CA bundle parsing, TLS configuration) is built on the first
/// [`fetch`](JwksFetcher::fetch) only, so a verify run served from a warm cache pays nothing.
#[derive(Debug)]
pub struct HttpJwksFetcher {
    opts: HttpOptions,
    client: OnceLock<HttpClient>,
}

impl HttpJwksFetcher {
    /// A fetcher that will use `opts` once it needs a client.
    pub fn new(opts: HttpOptions) -> Self {
        Self {
            opts,
            client: OnceLock::new(),
        }
    }

    /// Whether the HTTP client has been built (i.e. a fetch was attempted).
    pub fn client_built(&self) -> bool {
        self.client.get().is_some()
    }

    /// The HTTP client, built on first use; callers that also talk to the OP (login) share it
    /// rather than parsing the CA bundle twice.
    pub fn client(&self) -> Result<&HttpClient, Error> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let built = HttpClient::new(self.opts.clone())?;
        // A concurrent caller may have won the race; either client is equivalent.
        Ok(self.client.get_or_init(|| built))
    }
}

impl JwksFetcher for HttpJwksFetcher {
    /// GET `<issuer without trailing '/'>/.well-known/openid-configuration`, require its
    /// `issuer` to equal `issuer` byte-exactly, then GET its `jwks_uri`.
    fn fetch(&self, issuer: &str) -> Result<serde_json::Value, Error> {
        let base = issuer.strip_suffix('/').unwrap_or(issuer);
        let url = format!("{base}/.well-known/openid-configuration");
        // Check before building the client: a bad issuer should not cost a CA-bundle parse.
        opk_http::check_url(&url)?;
        let client = self.client()?;
        let doc = client.get_json(&url)?;
        let found = doc
            .get("issuer")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::Discovery {
                url: url.clone(),
                field: "issuer",
            })?;
        if found != issuer {
            return Err(Error::IssuerMismatch {
                url,
                expected: issuer.to_owned(),
                found: found.to_owned(),
            });
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::Discovery {
                url: url.clone(),
                field: "jwks_uri",
            })?;
        let jwks = client.get_json(jwks_uri)?;
        check_jwks_shape(issuer, &jwks)?;
        Ok(jwks)
    }
}
