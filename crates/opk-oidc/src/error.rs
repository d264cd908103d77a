//! The crate's single error type.

/// Everything that can go wrong while parsing a provider or logging in.
///
/// Strings that came from the network (OP error codes and descriptions) are already sanitised
/// (control characters replaced, length capped) so they are safe to print on a terminal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `--provider` string is malformed.
    #[error(
        "invalid provider {0}: expected ISSUER,CLIENT_ID[,CLIENT_SECRET[,SCOPES]] with space-separated scopes"
    )]
    InvalidProvider(String),

    /// A Google issuer was given without the (public) client secret Google requires.
    #[error(
        "the Google issuer requires a client secret: pass --provider https://accounts.google.com,CLIENT_ID,CLIENT_SECRET"
    )]
    GoogleNeedsSecret,

    /// A URL (issuer or endpoint) is not https and not http to a loopback host.
    #[error(
        "{what} {url:?} is not allowed ({reason}): use an https:// URL (http:// is accepted only for localhost, 127.0.0.0/8 or [::1])"
    )]
    UrlNotAllowed {
        /// Which URL this is, e.g. "issuer" or "token_endpoint".
        what: &'static str,
        /// The offending URL (sanitised).
        url: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// The discovery document is unusable (opk-jwks's rules, the ones `opk verify` applies).
    #[error(transparent)]
    Discovery(#[from] opk_jwks::Error),

    /// No redirect ports were configured.
    #[error("no loopback redirect ports configured: configure at least one redirect port")]
    NoRedirectPorts,

    /// Every configured loopback port is already taken.
    #[error(
        "all loopback redirect ports {ports} are in use: close the other login (or the program using those ports) and run again"
    )]
    PortsInUse {
        /// The ports that were tried, comma-separated.
        ports: String,
    },

    /// The operating system's random number generator failed.
    #[error("could not get random bytes from the operating system: {0}")]
    Random(String),

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

    /// The token endpoint's 200 response is unusable.
    #[error("the token endpoint response is invalid: {0}")]
    TokenResponse(String),

    /// The ID token is not a compact JWT or its payload is unreadable.
    #[error(
        "the ID token returned by the provider is malformed: {0}; the provider is misbehaving or not an OpenID provider"
    )]
    IdToken(String),

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

    /// The loopback listener failed in an unexpected way.
    #[error("loopback redirect listener failed: {0}")]
    Listener(std::io::Error),

    /// A malformed HTTP request reached the loopback listener (internal to the serve loop and
    /// the fuzzing hook; never returned by `login_with_browser`).
    #[error("bad HTTP request on the loopback listener: {0}")]
    BadRequest(&'static str),

    /// The HTTP client (opk-http) failed.
    #[error(transparent)]
    Http(#[from] opk_http::Error),
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
