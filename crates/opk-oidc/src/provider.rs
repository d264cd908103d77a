//! The `--provider ISSUER,CLIENT_ID[,SECRET[,SCOPES]]` value and the URL rules it must obey.

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::error::ProviderProblem;
use opk_http::sanitize;

/// Scopes used when a `--provider` string names none (opkssh's default for `--provider`).
pub(crate) const DEFAULT_SCOPES: &[&str] = &["openid", "email"];

/// Google's issuer; Google requires a client secret even for installed apps (H-9 in
/// docs/hazards.md).
pub(crate) const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// An OpenID provider as given on the command line.
///
/// `Debug` redacts the client secret so that it never ends up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSpec {
    /// The issuer URL, byte-exact as the OP spells it in its discovery document.
    pub issuer: String,
    /// The OAuth client ID.
    pub client_id: String,
    /// The client secret, if the OP requires one (Google does).
    pub client_secret: Option<String>,
    /// Scopes to request, e.g. `["openid", "email"]`.
    pub scopes: Vec<String>,
}

impl fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSpec")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl ProviderSpec {
    /// Checks the invariants `FromStr` enforces; useful for specs built from a config file.
    pub fn validate(&self) -> Result<(), Error> {
        let refuse = |reason| Error::IssuerNotAllowed {
            url: sanitize(&self.issuer, 200),
            reason,
        };
        match opk_http::check_url(&self.issuer) {
            Err(opk_http::Error::BadUrl { reason, .. }) => return Err(refuse(reason)),
            Err(other) => return Err(Error::Http(other)),
            Ok(()) => {}
        }
        // OIDC Core: the issuer has no query or fragment.
        if self.issuer.contains(['?', '#']) {
            return Err(refuse("an issuer has no query or fragment"));
        }
        if self.client_id.is_empty() {
            return Err(Error::InvalidProvider(ProviderProblem::EmptyClientId));
        }
        if is_google(&self.issuer) && self.client_secret.as_deref().unwrap_or("").is_empty() {
            return Err(Error::GoogleNeedsSecret);
        }
        Ok(())
    }
}

/// True for Google's issuer, tolerating a trailing slash and host case so the secret rule cannot be
/// side-stepped by spelling.
fn is_google(issuer: &str) -> bool {
    issuer
        .trim_end_matches('/')
        .eq_ignore_ascii_case(GOOGLE_ISSUER)
}

impl FromStr for ProviderSpec {
    type Err = Error;

    /// Parses `ISSUER,CLIENT_ID[,CLIENT_SECRET[,SCOPES]]` (opkssh `--provider` syntax: no escaping,
    /// scopes space-separated, empty secret means none, empty scopes means the default).
    fn from_str(s: &str) -> Result<Self, Error> {
        let fields: Vec<&str> = s.split(',').collect();
        if fields.len() < 2 || fields.len() > 4 {
            return Err(Error::InvalidProvider(ProviderProblem::FieldCount(
                fields.len(),
            )));
        }
        let client_secret = fields
            .get(2)
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned());
        let mut scopes: Vec<String> = fields
            .get(3)
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if scopes.is_empty() {
            scopes = DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        }
        let spec = ProviderSpec {
            issuer: fields[0].to_owned(),
            client_id: fields[1].to_owned(),
            client_secret,
            scopes,
        };
        spec.validate()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ProviderSpec, Error> {
        s.parse()
    }

    #[test]
    fn defaults() {
        let p = parse("https://op.example.com,my-client").expect("valid");
        assert_eq!(p.issuer, "https://op.example.com");
        assert_eq!(p.client_id, "my-client");
        assert_eq!(p.client_secret, None);
        assert_eq!(p.scopes, vec!["openid", "email"]);
    }

    #[test]
    fn secret_and_scopes() {
        let p = parse("https://op.example.com/realms/x,cid,s3cret,openid profile  groups")
            .expect("valid");
        assert_eq!(p.client_secret.as_deref(), Some("s3cret"));
        assert_eq!(p.scopes, vec!["openid", "profile", "groups"]);
        let p = parse("https://op.example.com,cid,,openid").expect("empty secret");
        assert_eq!(p.client_secret, None);
        assert_eq!(p.scopes, vec!["openid"]);
        let p = parse("https://op.example.com,cid,sec,").expect("empty scopes");
        assert_eq!(p.scopes, vec!["openid", "email"]);
    }

    #[test]
    fn field_count() {
        assert!(matches!(
            parse("https://op.example.com"),
            Err(Error::InvalidProvider(_))
        ));
        assert!(matches!(parse(""), Err(Error::InvalidProvider(_))));
        assert!(matches!(
            parse("https://op.example.com,a,b,c,d"),
            Err(Error::InvalidProvider(_))
        ));
    }

    #[test]
    fn empty_client_id() {
        assert!(matches!(
            parse("https://op.example.com,"),
            Err(Error::InvalidProvider(_))
        ));
        assert!(matches!(
            parse("https://op.example.com,,secret"),
            Err(Error::InvalidProvider(_))
        ));
    }

    #[test]
    fn google_requires_secret() {
        for s in [
            "https://accounts.google.com,cid",
            "https://accounts.google.com,cid,",
            "https://accounts.google.com/,cid",
            "https://ACCOUNTS.google.com,cid",
        ] {
            assert!(matches!(parse(s), Err(Error::GoogleNeedsSecret)), "{s}");
        }
        let p = parse("https://accounts.google.com,cid,GOCSPX-x").expect("with secret");
        assert_eq!(p.client_secret.as_deref(), Some("GOCSPX-x"));
        // H-9 (docs/hazards.md): other issuers never need (or get) a secret.
        assert_eq!(
            parse("https://gitlab.com,cid")
                .expect("gitlab")
                .client_secret,
            None
        );
    }

    #[test]
    fn issuer_url_rules() {
        for ok in [
            "http://localhost:8080,c",
            "http://127.0.0.1:9999/realms/a,c",
            "http://[::1]:1,c",
            "http://LOCALHOST,c",
            "https://op.example.com:8443/x,c",
        ] {
            parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://op.example.com,c",
            "http://localhost.evil.com,c",
            "http://localhost.evil.com:3000,c",
            "http://127.0.0.1.evil.com,c",
            "http://localhost@evil.com,c",
            "https://user@op.example.com,c",
            "http://[::1].evil,c",
            "http://[::2]:80,c",
            "ftp://op.example.com,c",
            "op.example.com,c",
            "https://,c",
            "https://op.example.com:99999,c",
            "https://op.example.com:,c",
            "https://op.example.com:8x,c",
            "https://op.example.com/a b,c",
            "https://op.example.com?x=1,c",
            "https://op.example.com#f,c",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::IssuerNotAllowed { .. })),
                "{bad} should be rejected: {:?}",
                parse(bad)
            );
        }
    }

    #[test]
    fn debug_redacts_secret() {
        let p = parse("https://accounts.google.com,cid,GOCSPX-topsecret").expect("valid");
        let d = format!("{p:?}");
        assert!(!d.contains("topsecret"), "{d}");
        assert!(d.contains("redacted"));
    }
}
