//! The network fetcher: OIDC discovery, then the JWKS.

use std::sync::OnceLock;

use opk_http::{HttpClient, HttpOptions};

use crate::{Endpoint, Error, FetchedKeys, Jwks, JwksFetcher};

/// Fetches JWKS over HTTPS via OIDC discovery.
///
/// The [`HttpClient`] (CA bundle parsing, TLS configuration) is built on the first
/// [`fetch`](JwksFetcher::fetch) only, so a verify run served from a warm cache pays nothing.
#[derive(Debug)]
pub struct HttpJwksFetcher {
    opts: HttpOptions,
    env: OnceLock<Vec<(String, String)>>,
    client: OnceLock<HttpClient>,
}

impl HttpJwksFetcher {
    /// A fetcher that will use `opts` once it needs a client.
    pub fn new(opts: HttpOptions) -> Self {
        Self {
            opts,
            env: OnceLock::new(),
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
        let mut opts = self.opts.clone();
        opts.env
            .extend(self.env.get().into_iter().flatten().cloned());
        let built = HttpClient::new(opts)?;
        // A concurrent caller may have won the race; either client is equivalent.
        Ok(self.client.get_or_init(|| built))
    }
}

impl JwksFetcher for HttpJwksFetcher {
    /// OIDC discovery ([`crate::discover`]: the issuer must match byte-exactly), then GET its
    /// `jwks_uri`.
    /// Kept for the client, which is built on the first fetch; a second call is ignored.
    fn set_env(&self, vars: &[(String, String)]) {
        let _ = self.env.set(vars.to_vec());
    }

    /// GET `endpoint` with the token; without one, discovery first.
    fn userinfo(
        &self,
        issuer: &str,
        endpoint: Option<&str>,
        access_token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let discovered;
        let endpoint = match endpoint {
            Some(url) => url,
            None => {
                opk_http::check_url(&crate::discovery_url(issuer))?;
                discovered = crate::discover(self.client()?, issuer)?;
                discovered.endpoint(Endpoint::Userinfo)?
            }
        };
        // A cached endpoint obeys the same rule as a discovered one: https, or http on loopback.
        opk_http::check_url(endpoint)?;
        Ok(self.client()?.get_json_bearer(endpoint, access_token)?)
    }

    fn fetch(&self, issuer: &str) -> Result<Jwks, Error> {
        Ok(self.fetch_with_userinfo_endpoint(issuer)?.jwks)
    }

    fn fetch_with_userinfo_endpoint(&self, issuer: &str) -> Result<FetchedKeys, Error> {
        // Check before building the client: a bad issuer should not cost a CA-bundle parse.
        opk_http::check_url(&crate::discovery_url(issuer))?;
        let client = self.client()?;
        let discovery = crate::discover(client, issuer)?;
        let jwks = client.get_json(discovery.endpoint(Endpoint::Jwks)?)?;
        let jwks = Jwks::from_json(&jwks).map_err(|error| Error::InvalidJwks {
            issuer: issuer.to_owned(),
            error,
        })?;
        Ok(FetchedKeys {
            jwks,
            userinfo_endpoint: discovery
                .endpoint(Endpoint::Userinfo)
                .ok()
                .map(str::to_owned),
        })
    }
}
