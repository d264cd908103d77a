//! The crate's single error type.

/// Everything that can go wrong while parsing a provider or logging in.
///
/// Strings that came from the network (OP error codes and descriptions) are already sanitised
/// (control characters replaced, length capped) so they are safe to print on a terminal.
///
/// Errors of opk-http and of the discovery rules (opk-jwks) are wrapped transparently; a variant
/// says its cause in its message or exposes it as `source()`, never both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `--provider` string is malformed.
    #[error(
        "invalid provider ({0}): expected ISSUER,CLIENT_ID[,CLIENT_SECRET[,SCOPES]] with space-separated scopes"
    )]
    InvalidProvider(ProviderProblem),

    /// A Google issuer was given without the (public) client secret Google requires.
    #[error(
        "the Google issuer requires a client secret: pass --provider https://accounts.google.com,CLIENT_ID,CLIENT_SECRET"
    )]
    GoogleNeedsSecret,

    /// The issuer is not https (nor http to a loopback host), or has a query or fragment.
    #[error(
        "issuer {url:?} is not allowed ({reason}): use an https:// URL (http:// is accepted only for localhost, 127.0.0.0/8 or [::1])"
    )]
    IssuerNotAllowed {
        /// The issuer (sanitised).
        url: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// The discovery document is unusable (opk-jwks's rules, the ones `opk verify` applies).
    #[error(transparent)]
    Discovery(#[from] opk_jwks::Error),

    /// `--remote-redirect-uri` (or the config's `remote_redirect_uri`) is not a usable URL.
    #[error(
        "remote redirect URI {uri:?} is not usable ({reason}): give the absolute http(s) URL registered with the OP"
    )]
    RemoteRedirectUri {
        /// The URI (sanitised).
        uri: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// No redirect ports were configured.
    #[error("no loopback redirect ports configured: configure at least one redirect port")]
    NoRedirectPorts,

    /// Every configured loopback port is already taken.
    #[error(
        "all loopback redirect ports {} are in use: close the other login (or the program using those ports) and run again",
        join_ports(.ports)
    )]
    PortsInUse {
        /// The ports that were tried, in order.
        ports: Vec<u16>,
    },

    /// The operating system's random number generator failed.
    #[error("could not get random bytes from the operating system")]
    Random(#[source] getrandom::Error),

    /// The OP redirected back with `error=...` (e.g. the user denied consent).
    #[error("the OpenID provider refused the login: {error}{}: run the login again", fmt_desc(.description))]
    Op {
        /// The OAuth `error` code (sanitised).
        error: String,
        /// The OAuth `error_description`, if any (sanitised).
        description: Option<String>,
    },

    /// The token endpoint answered with a non-200 status.
    #[error(
        "the token endpoint rejected the authorization code (HTTP {status}): {error}{}: run the login again; if it persists check the client ID, secret and redirect URIs registered at the provider", fmt_desc(.description)
    )]
    TokenEndpoint {
        /// The HTTP status code.
        status: u16,
        /// The OAuth `error` code, or "unknown_error" (sanitised).
        error: String,
        /// The OAuth `error_description`, if any (sanitised).
        description: Option<String>,
    },

    /// The token endpoint refused the refresh token (revoked, expired, or never refreshable).
    #[error(
        "the provider refused to refresh the login (HTTP {status}): {error}{}: run opk login again", fmt_desc(.description)
    )]
    RefreshRefused {
        /// The HTTP status code.
        status: u16,
        /// The OAuth `error` code, or "unknown_error" (sanitised).
        error: String,
        /// The OAuth `error_description`, if any (sanitised).
        description: Option<String>,
    },

    /// The token endpoint's 200 response is unusable.
    #[error("the token endpoint response is invalid: {0}")]
    TokenResponse(TokenResponseProblem),

    /// The ID token is not a compact JWT or its payload is unreadable.
    #[error(
        "the ID token returned by the provider is malformed: {0}; the provider is misbehaving or not an OpenID provider"
    )]
    IdToken(IdTokenProblem),

    /// The ID token's `nonce` claim is not the nonce that was sent.
    #[error(
        "the ID token's nonce does not match the one sent in the authorization request: the response may be replayed; run the login again"
    )]
    NonceMismatch,

    /// No usable callback arrived in time.
    #[error(
        "no browser callback within {secs} s: run again, or use --disable-browser-open and open the URL yourself"
    )]
    Timeout {
        /// The timeout that elapsed, in seconds.
        secs: u64,
    },

    /// The device authorization endpoint refused the request.
    #[error(
        "the provider refused the device login (HTTP {status}): {error}{}: check that the client allows the device flow, or log in with the browser", fmt_desc(.description)
    )]
    DeviceEndpoint {
        /// The HTTP status code.
        status: u16,
        /// The OAuth `error` code, or "unknown_error" (sanitised).
        error: String,
        /// The OAuth `error_description`, if any (sanitised).
        description: Option<String>,
    },

    /// The device authorization response lacks or misstates a field.
    #[error("the device authorization response has no usable {0}; the provider is misbehaving")]
    DeviceResponse(&'static str),

    /// The user code expired (or the login timed out) before the user confirmed it.
    #[error("the device code expired before the login was confirmed: run opk login --device again")]
    DeviceExpired,

    /// The device-flow ID token has no nonce, so it cannot commit to the key.
    #[error(
        "the provider's device-flow ID token has no nonce, so it cannot be bound to the new key (opk cannot bind it with a GQ signature yet): log in with the browser instead"
    )]
    DeviceNoNonce,

    /// The loopback listener failed in an unexpected way.
    #[error("loopback redirect listener failed: {0}")]
    Listener(std::io::Error),

    /// The HTTP client (opk-http) failed.
    #[error(transparent)]
    Http(#[from] opk_http::Error),
}

impl Error {
    /// True when retrying cannot help: the OP answered and refused the refresh token (a 4xx
    /// answer, e.g. `invalid_grant`). Transport failures and 5xx answers may pass.
    pub fn is_final_refusal(&self) -> bool {
        matches!(self, Error::RefreshRefused { status, .. } if (400..500).contains(status))
    }

    /// True when the OP's discovery document names no device authorization endpoint: the
    /// device flow is not available there (a caller may fall back to the browser).
    pub fn is_no_device_flow(&self) -> bool {
        matches!(
            self,
            Error::Discovery(opk_jwks::Error::Discovery { field, .. })
                if *field == "device_authorization_endpoint"
        )
    }
}

/// What is wrong with a `--provider` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderProblem {
    /// Not 2 to 4 comma-separated fields; the number found.
    #[error("got {0} comma-separated fields, need 2 to 4")]
    FieldCount(usize),
    /// The client ID field is empty.
    #[error("the client ID is empty")]
    EmptyClientId,
}

/// What is wrong with the token endpoint's 200 response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenResponseProblem {
    /// No `id_token`: the `openid` scope was probably not requested.
    #[error("it has no id_token: make sure the scopes include `openid`")]
    NoIdToken,
    /// A token member is present but not a string.
    #[error("`{0}` is not a string")]
    NotAString(&'static str),
}

/// What is wrong with the ID token's shape (its signature is checked later, by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenProblem {
    /// Not three dot-separated segments; the number found.
    #[error("expected 3 dot-separated segments, found {0}")]
    Segments(usize),
    /// Segment `n` (1-based) is empty or not base64url.
    #[error("segment {0} is not base64url")]
    SegmentNotBase64url(usize),
    /// The payload does not decode.
    #[error("the payload is not base64url")]
    PayloadNotBase64url,
    /// The payload is not JSON.
    #[error("the payload is not JSON")]
    PayloadNotJson,
    /// The `nonce` claim is absent.
    #[error("the nonce claim is missing")]
    NoNonce,
    /// The `nonce` claim is not a string.
    #[error("the nonce claim is not a string")]
    NonceNotString,
}

fn join_ports(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    ports.join(", ")
}

/// Renders an optional description as ` (description)`.
fn fmt_desc(d: &Option<String>) -> String {
    match d {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use opk_http::testing::assert_causes_said_once;

    #[test]
    fn every_cause_is_said_once() {
        let jwt = |payload: &str| {
            use base64ct::{Base64UrlUnpadded, Encoding};
            format!(
                "e30.{}.c2ln",
                Base64UrlUnpadded::encode_string(payload.as_bytes())
            )
        };
        let errors = [
            "https://x"
                .parse::<crate::ProviderSpec>()
                .expect_err("one field"),
            "http://x,c"
                .parse::<crate::ProviderSpec>()
                .expect_err("plain http"),
            "https://accounts.google.com,c"
                .parse::<crate::ProviderSpec>()
                .expect_err("secret"),
            Error::Discovery(opk_jwks::Error::Discovery {
                url: "https://x/.well-known/openid-configuration".into(),
                field: "token_endpoint",
            }),
            Error::Http(opk_http::check_url("ftp://x").expect_err("scheme")),
            Error::PortsInUse {
                ports: vec![3000, 10001],
            },
            Error::Random(getrandom::Error::UNSUPPORTED),
            Error::Op {
                error: "access_denied".into(),
                description: Some("no".into()),
            },
            Error::TokenEndpoint {
                status: 400,
                error: "invalid_grant".into(),
                description: None,
            },
            Error::TokenResponse(TokenResponseProblem::NoIdToken),
            crate::flow::check_id_token("a.b", "n").expect_err("segments"),
            crate::flow::check_id_token(&jwt("{}"), "n").expect_err("no nonce"),
            Error::Listener(std::io::Error::other("EMFILE")),
            Error::Timeout { secs: 300 },
            Error::DeviceEndpoint {
                status: 400,
                error: "unauthorized_client".into(),
                description: None,
            },
            Error::DeviceResponse("user_code"),
            Error::DeviceExpired,
            Error::DeviceNoNonce,
            Error::RefreshRefused {
                status: 400,
                error: "invalid_grant".into(),
                description: Some("grant request is invalid".into()),
            },
            crate::flow::check_remote_redirect_uri("h/cb").expect_err("no scheme"),
        ];
        for e in &errors {
            assert_causes_said_once(e);
        }
        // The source is there for callers that walk the chain, and not repeated in the message.
        let random = Error::Random(getrandom::Error::UNSUPPORTED);
        let cause = std::error::Error::source(&random).expect("getrandom's error");
        assert!(!random.to_string().contains(&cause.to_string()));
        assert!(
            errors[5].to_string().contains("3000, 10001"),
            "{}",
            errors[5]
        );
    }

    #[test]
    fn op_error_message_is_one_line_with_description() {
        let e = Error::Op {
            error: "access_denied".into(),
            description: Some("user said no".into()),
        };
        let m = e.to_string();
        assert!(m.contains("access_denied (user said no)"), "{m}");
        assert!(!m.contains('\n'));
        let e = Error::Op {
            error: "access_denied".into(),
            description: None,
        };
        assert!(!e.to_string().contains("()"));
    }
}
